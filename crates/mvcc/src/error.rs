//! Errors of the MVCC model. Each maps to one etcd gRPC error at the service edge.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum MvccError {
    /// etcd: `mvcc: required revision has been compacted` (OutOfRange).
    #[error("mvcc: required revision has been compacted")]
    Compacted { compact_revision: i64 },
    /// etcd: `mvcc: required revision is a future revision` (OutOfRange).
    #[error("mvcc: required revision is a future revision")]
    FutureRevision,
    /// etcd: `lease not found` (NotFound).
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound { id: i64 },
    /// etcd: `lease already exists` (FailedPrecondition).
    #[error("etcdserver: lease already exists")]
    LeaseExists { id: i64 },
    /// etcd: ignore_value / ignore_lease on a missing key (InvalidArgument).
    #[error("etcdserver: key not found")]
    KeyNotFound,
    /// etcd: `duplicate key given in txn request` (InvalidArgument).
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    /// etcd: empty key, bad TTL and so on (InvalidArgument).
    #[error("etcdserver: {0}")]
    InvalidArgument(String),
}
