//! [`StorageError`] and its one conversion from etcd's gRPC errors. etcd's client libraries
//! recognise errors by code *and* message (etcd's `api/v3rpc/rpctypes`); kubesim's store
//! answers with the same strings (`crates/store/src/error.rs`), so one mapping serves both.

use tonic::{Code, Status};

/// etcd's message for a read below the compact revision (gRPC `OutOfRange`).
const COMPACTED: &str = "mvcc: required revision has been compacted";
/// etcd's message for a request over `--max-request-bytes` (gRPC `InvalidArgument`).
const TOO_LARGE: &str = "request is too large";
/// tonic's message for a message over a server's decoding limit (kubesim's store answers a
/// request far over `--max-request-bytes` with it, where etcd's grpc-go answers
/// ResourceExhausted).
const TONIC_TOO_LARGE: &str = "message length too large";

/// kube-apiserver's message for a list at a compacted resourceVersion.
pub const EXPIRED: &str = "The resourceVersion for the provided list is too old.";
/// kube-apiserver's message for a compacted continue token (with a fresh token at the latest
/// revision in [`StorageError::Expired::continue_key`]).
pub const INCONSISTENT_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";
/// kube-apiserver's message for a watch from a compacted resourceVersion.
pub const WATCH_EXPIRED: &str = "too old resource version";

/// What a storage call can fail with. Each doc line names the HTTP status the API server
/// answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// 404 NotFound: the key does not exist.
    #[error("key not found")]
    NotFound,
    /// 409 AlreadyExists: create of a key that exists.
    #[error("key already exists")]
    AlreadyExists,
    /// 409 Conflict: the precondition's revision is not the key's mod_revision.
    #[error("revision conflict: the current revision is {current_revision}")]
    Conflict { current_revision: i64 },
    /// 410 Gone (Expired): the revision asked for was compacted. `continue_key` is set for a
    /// compacted continue token: kube-apiserver's token for the rest of the list at the
    /// latest revision (`rv: -1`), sent back in the Status' `metadata.continue`.
    #[error("{message}")]
    Expired {
        message: String,
        continue_key: Option<String>,
    },
    /// 413 RequestEntityTooLarge: etcd refused the request's size.
    #[error("request is too large")]
    TooLarge,
    /// 400 BadRequest: an invalid continue token or argument (etcd's `InvalidArgument`).
    #[error("{0}")]
    InvalidArgument(String),
    /// 503 ServiceUnavailable, or 504 Timeout when etcd timed out: no leader, a lost
    /// connection, a watch stream that broke, a revision in the future.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// 500 InternalError: a response etcd should never send.
    #[error("storage internal error: {0}")]
    Internal(String),
}

impl StorageError {
    /// The error for a list or watch at a compacted revision.
    pub(crate) fn expired(message: &str) -> StorageError {
        StorageError::Expired {
            message: message.to_owned(),
            continue_key: None,
        }
    }

    /// Whether etcd said the revision asked for was compacted.
    pub(crate) fn is_compacted(status: &Status) -> bool {
        status.code() == Code::OutOfRange && status.message().contains(COMPACTED)
    }
}

impl From<Status> for StorageError {
    fn from(status: Status) -> StorageError {
        let message = status.message().to_owned();
        match status.code() {
            _ if StorageError::is_compacted(&status) => StorageError::expired(EXPIRED),
            // ResourceExhausted: gRPC's own message size limit, on either side.
            Code::InvalidArgument if message.contains(TOO_LARGE) => StorageError::TooLarge,
            _ if message.contains(TONIC_TOO_LARGE) => StorageError::TooLarge,
            Code::ResourceExhausted => StorageError::TooLarge,
            Code::InvalidArgument => StorageError::InvalidArgument(message),
            // OutOfRange that is not compaction: a future revision, which kube-apiserver
            // answers with a retryable 504.
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unknown => StorageError::Unavailable(message),
            _ => StorageError::Internal(format!("{:?}: {message}", status.code())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_errors_map_to_storage_errors() {
        let compacted = Status::out_of_range(format!("etcdserver: {COMPACTED}"));
        assert_eq!(
            StorageError::from(compacted),
            StorageError::expired(EXPIRED)
        );
        let large = Status::invalid_argument("etcdserver: request is too large");
        assert_eq!(StorageError::from(large), StorageError::TooLarge);
        let tonic_limit = Status::out_of_range(
            "Error, decoded message length too large: found 2501231 bytes, the limit is: 2097152 bytes",
        );
        assert_eq!(StorageError::from(tonic_limit), StorageError::TooLarge);
        let no_leader = Status::unavailable("etcdserver: no leader");
        assert_eq!(
            StorageError::from(no_leader),
            StorageError::Unavailable("etcdserver: no leader".into())
        );
        let future =
            Status::out_of_range("etcdserver: mvcc: required revision is a future revision");
        assert!(matches!(
            StorageError::from(future),
            StorageError::Unavailable(_)
        ));
    }
}
