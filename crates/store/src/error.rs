//! The store's errors, and their one conversion to the wire: `impl From<StoreError> for
//! tonic::Status`. Messages are etcd's own strings (etcd's `api/v3rpc/rpctypes`): etcd client
//! libraries recognise errors by code *and* message, so they must match byte for byte.

use kubesim_mvcc::MvccError;
use tonic::{Code, Status};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Mvcc(#[from] MvccError),
    #[error("etcdserver: no leader")]
    NoLeader,
    #[error("etcdserver: request timed out")]
    Timeout,
    #[error("etcdserver: leader changed")]
    LeaderChanged,
    #[error("etcdserver: request is too large")]
    RequestTooLarge,
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    #[error("etcdserver: member not found")]
    MemberNotFound,
    #[error("etcdserver: Peer URLs already exists")]
    PeerUrlExists,
    #[error("etcdserver: can only promote a learner member")]
    MemberNotLearner,
    #[error("etcdserver: can only promote a learner member which is in sync with leader")]
    LearnerNotReady,
    #[error("etcdserver: re-configuration failed due to not enough started members")]
    NotEnoughStartedMembers,
    #[error("etcdserver: {0}")]
    InvalidArgument(String),
    #[error("etcdserver: {0}")]
    Unsupported(String),
    #[error("etcdserver: server stopped")]
    Stopped,
    /// A bug or a disk failure: logged in full, answered as Internal.
    #[error("etcdserver: internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for Status {
    fn from(err: StoreError) -> Status {
        let code = match &err {
            StoreError::Mvcc(e) => return mvcc_status(e),
            StoreError::NoLeader
            | StoreError::Timeout
            | StoreError::LeaderChanged
            | StoreError::Stopped => Code::Unavailable,
            StoreError::RequestTooLarge
            | StoreError::TooManyOps
            | StoreError::EmptyKey
            | StoreError::InvalidArgument(_) => Code::InvalidArgument,
            StoreError::LeaseTtlTooLarge => Code::OutOfRange,
            StoreError::MemberNotFound => Code::NotFound,
            StoreError::PeerUrlExists
            | StoreError::MemberNotLearner
            | StoreError::LearnerNotReady
            | StoreError::NotEnoughStartedMembers => Code::FailedPrecondition,
            StoreError::Unsupported(_) => Code::Unimplemented,
            StoreError::Internal(_) => Code::Internal,
        };
        Status::new(code, err.to_string())
    }
}

fn mvcc_status(err: &MvccError) -> Status {
    match err {
        MvccError::Compacted { .. } => {
            Status::out_of_range("etcdserver: mvcc: required revision has been compacted")
        }
        MvccError::FutureRevision => {
            Status::out_of_range("etcdserver: mvcc: required revision is a future revision")
        }
        MvccError::LeaseNotFound { .. } => {
            Status::not_found("etcdserver: requested lease not found")
        }
        MvccError::LeaseExists { .. } => {
            Status::failed_precondition("etcdserver: lease already exists")
        }
        MvccError::KeyNotFound => Status::invalid_argument("etcdserver: key not found"),
        MvccError::DuplicateKey => {
            Status::invalid_argument("etcdserver: duplicate key given in txn request")
        }
        MvccError::InvalidArgument(msg) => Status::invalid_argument(format!("etcdserver: {msg}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacted_is_etcds_exact_error() {
        let s = Status::from(StoreError::Mvcc(MvccError::Compacted {
            compact_revision: 3,
        }));
        assert_eq!(s.code(), Code::OutOfRange);
        assert_eq!(
            s.message(),
            "etcdserver: mvcc: required revision has been compacted"
        );
    }

    #[test]
    fn no_leader_is_unavailable() {
        let s = Status::from(StoreError::NoLeader);
        assert_eq!(s.code(), Code::Unavailable);
        assert_eq!(s.message(), "etcdserver: no leader");
    }
}
