//! The lease table. (Stub: the MVCC helper fills this in.)

use serde::{Deserialize, Serialize};

/// One granted lease as every member records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub id: i64,
    /// The TTL granted, in seconds.
    pub ttl_seconds: i64,
    /// Keys attached to the lease, sorted.
    pub keys: std::collections::BTreeSet<Vec<u8>>,
}
