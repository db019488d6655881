//! The MVCC store. (Stub with the agreed signatures: the MVCC helper fills this in.)

use kubesim_proto::etcdserverpb::{RangeRequest, RangeResponse};
use kubesim_proto::mvccpb::Event;
use serde::{Deserialize, Serialize};

use crate::lease::Lease;
use crate::{Applied, Command, MvccError};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mvcc {}

impl Mvcc {
    pub fn new() -> Self {
        Mvcc {}
    }

    /// The newest revision (1 for an empty store, as etcd).
    pub fn current_revision(&self) -> i64 {
        todo!()
    }

    /// The revision of the last compaction (0 if never compacted).
    pub fn compact_revision(&self) -> i64 {
        todo!()
    }

    /// Applies one committed command. Deterministic: same state + same command = same result.
    pub fn apply(&mut self, _cmd: &Command) -> Applied {
        todo!()
    }

    /// Serves a Range at `req.revision` (or the newest if <= 0).
    pub fn range(&self, _req: &RangeRequest) -> Result<RangeResponse, MvccError> {
        todo!()
    }

    /// Events with revision >= `start_revision` on keys in [key, range_end) (etcd range
    /// semantics), in revision order, at most `limit` events but never splitting a revision.
    pub fn events_since(
        &self,
        _start_revision: i64,
        _key: &[u8],
        _range_end: &[u8],
        _limit: usize,
    ) -> Result<Vec<Event>, MvccError> {
        todo!()
    }

    /// etcd's HashKV: (hash, compact_revision, hash_revision) over all revisions up to
    /// `revision` (0 = newest).
    pub fn hash_kv(&self, _revision: i64) -> Result<(u32, i64, i64), MvccError> {
        todo!()
    }

    pub fn lease(&self, _id: i64) -> Option<&Lease> {
        todo!()
    }

    pub fn leases(&self) -> impl Iterator<Item = &Lease> {
        std::iter::empty()
    }

    /// Rough bytes held (keys + values across history), for Maintenance.Status dbSizeInUse.
    pub fn size_bytes(&self) -> u64 {
        todo!()
    }
}
