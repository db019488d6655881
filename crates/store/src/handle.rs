//! [`StoreHandle`]: what the etcd services (and later the API server in-process) call.
//!
//! THE CONTRACT between `raft/` (which implements it) and `etcd/` (which uses it). The raft
//! side owns this file; the signatures below were agreed up front.

use std::sync::Arc;

use kubesim_mvcc::{Command, CommandResponse, Mvcc};
use kubesim_proto::etcdserverpb::Member;

use crate::config::Limits;
use crate::error::StoreError;

/// The result of a proposal once it is applied on this member.
#[derive(Debug, Clone)]
pub struct Proposed {
    pub response: CommandResponse,
    /// The store revision after the command.
    pub revision: i64,
    /// The Raft term in which it was committed.
    pub raft_term: u64,
}

/// What Maintenance.Status reports about this member.
#[derive(Debug, Clone, Default)]
pub struct MemberStatus {
    /// The member ID this member believes is the leader; 0 if none.
    pub leader: u64,
    pub raft_index: u64,
    pub raft_term: u64,
    pub raft_applied_index: u64,
    pub db_size: i64,
    pub db_size_in_use: i64,
    pub is_learner: bool,
}

/// A cheap, clonable handle to one running store member.
#[derive(Clone)]
pub struct StoreHandle {
    pub(crate) inner: Arc<crate::node::NodeInner>,
}

impl StoreHandle {
    pub fn member_id(&self) -> u64 {
        todo!()
    }

    pub fn cluster_id(&self) -> u64 {
        todo!()
    }

    /// The current Raft term as this member knows it.
    pub fn raft_term(&self) -> u64 {
        todo!()
    }

    pub fn limits(&self) -> &Limits {
        todo!()
    }

    /// A fresh lease ID from the seeded entropy (positive, never 0).
    pub fn new_lease_id(&self) -> i64 {
        todo!()
    }

    /// Proposes `cmd` through Raft (forwarding to the leader if this member is not it), and
    /// returns once the command is applied on *this* member, so a read here sees it.
    /// Bounded by `Timing::request_timeout`: `NoLeader`/`Timeout` rather than hanging.
    /// An MVCC error every member reached (lease not found, ...) comes back as
    /// `StoreError::Mvcc`.
    pub async fn propose(&self, _cmd: Command) -> Result<Proposed, StoreError> {
        todo!()
    }

    /// Linearizable read barrier (ReadIndex): returns once this member has applied everything
    /// committed before the call. Bounded like `propose`.
    pub async fn read_barrier(&self) -> Result<(), StoreError> {
        todo!()
    }

    /// Runs `f` on this member's MVCC state (a local, serializable read).
    pub fn with_mvcc<R>(&self, _f: impl FnOnce(&Mvcc) -> R) -> R {
        todo!()
    }

    /// The revision applied on this member; changes every time a command that changed the
    /// store is applied. Watchers wait on it, then read `Mvcc::events_since`.
    pub fn subscribe_revision(&self) -> tokio::sync::watch::Receiver<i64> {
        todo!()
    }

    /// Renews a lease on the leader. Returns the TTL granted, or `LeaseNotFound`.
    pub async fn lease_keep_alive(&self, _id: i64) -> Result<i64, StoreError> {
        todo!()
    }

    /// (remaining TTL seconds, granted TTL seconds) as the leader sees it; `LeaseNotFound`.
    pub async fn lease_time_to_live(&self, _id: i64) -> Result<(i64, i64), StoreError> {
        todo!()
    }

    pub async fn member_list(&self) -> Result<Vec<Member>, StoreError> {
        todo!()
    }

    /// Adds a member (as a learner if asked). Returns (the new member, all members).
    pub async fn member_add(
        &self,
        _peer_urls: Vec<String>,
        _is_learner: bool,
    ) -> Result<(Member, Vec<Member>), StoreError> {
        todo!()
    }

    pub async fn member_remove(&self, _id: u64) -> Result<Vec<Member>, StoreError> {
        todo!()
    }

    pub async fn member_promote(&self, _id: u64) -> Result<Vec<Member>, StoreError> {
        todo!()
    }

    pub fn status(&self) -> MemberStatus {
        todo!()
    }
}
