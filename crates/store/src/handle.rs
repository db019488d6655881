//! [`StoreHandle`]: what the etcd services (and later the API server in-process) call.
//!
//! THE CONTRACT between `raft/` (which implements it) and `etcd/` (which uses it). The raft
//! side owns this file; the signatures below were agreed up front.
//!
//! The handle decides *where* an operation runs: leader-only operations (writes, membership,
//! lease keep-alive) run here if this member leads, else they are forwarded to the leader over
//! the peer protocol. Every call is bounded by `Timing::request_timeout`. A call that found
//! no leader or reached a leader that is gone is retried while time remains; a write whose
//! fate is unknown (the leader changed under it) is never retried, so it cannot apply twice.

use std::sync::Arc;

use kubesim_mvcc::{Command, CommandResponse, Mvcc};
use kubesim_proto::etcdserverpb::Member;
use tokio::time::Instant;

use crate::config::{Limits, host_port};
use crate::error::StoreError;
use crate::lessor::Lessor;
use crate::members::{MemberView, member_id};
use crate::raft::{LeaderReply, LeaderRequest, MemberNode, PeerError, StoreRequest, Written};

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

/// Where this member's Raft log stands: for tests and diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RaftProgress {
    /// Index of the newest entry in the log.
    pub last_log_index: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    /// Index covered by the newest snapshot (0 if none).
    pub snapshot_index: u64,
    /// Entries up to this index were purged from the log (0 if none).
    pub purged_index: u64,
}

/// A cheap, clonable handle to one running store member.
#[derive(Clone)]
pub struct StoreHandle {
    pub(crate) inner: Arc<crate::node::NodeInner>,
}

impl StoreHandle {
    pub fn member_id(&self) -> u64 {
        self.inner.id
    }

    pub fn cluster_id(&self) -> u64 {
        self.inner.cluster_id
    }

    /// The current Raft term as this member knows it.
    pub fn raft_term(&self) -> u64 {
        self.inner.consensus.status().term
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// A fresh lease ID from the seeded entropy (positive, never 0).
    pub fn new_lease_id(&self) -> i64 {
        let id = (self.inner.env.entropy.next_u64() >> 1) as i64;
        id.max(1)
    }

    /// Proposes `cmd` through Raft (forwarding to the leader if this member is not it), and
    /// returns once the command is applied on *this* member, so a read here sees it.
    /// Bounded by `Timing::request_timeout`: `NoLeader`/`Timeout` rather than hanging.
    /// An MVCC error every member reached (lease not found, ...) comes back as
    /// `StoreError::Mvcc`.
    pub async fn propose(&self, cmd: Command) -> Result<Proposed, StoreError> {
        let written = self.propose_request(StoreRequest::Command(cmd)).await?;
        let response = written
            .response
            .result
            .ok_or_else(|| StoreError::Internal("a command was applied without a result".into()))?;
        Ok(Proposed {
            response: response?,
            revision: written.response.revision,
            raft_term: written.term,
        })
    }

    /// Proposes any log entry; returns once it is applied here.
    pub(crate) async fn propose_request(&self, req: StoreRequest) -> Result<Written, StoreError> {
        let deadline = self.deadline();
        let written = match self.on_leader(LeaderRequest::Write(req), deadline).await? {
            LeaderReply::Written(written) => written,
            other => return Err(unexpected(other)),
        };
        self.wait_applied(written.index, deadline).await?;
        Ok(written)
    }

    /// Linearizable read barrier (ReadIndex): returns once this member has applied everything
    /// committed before the call. Bounded like `propose`.
    pub async fn read_barrier(&self) -> Result<(), StoreError> {
        let deadline = self.deadline();
        let index = match self.retry_until(deadline, &LeaderCall::ReadIndex).await? {
            Attempt::ReadIndex(index) => index,
            Attempt::Reply(other) => return Err(unexpected(other)),
        };
        self.wait_applied(index, deadline).await
    }

    /// Runs `f` on this member's MVCC state (a local, serializable read).
    pub fn with_mvcc<R>(&self, f: impl FnOnce(&Mvcc) -> R) -> R {
        f(&self.inner.consensus.shared().read().mvcc)
    }

    /// The revision applied on this member; changes every time a command that changed the
    /// store is applied. Watchers wait on it, then read `Mvcc::events_since`.
    pub fn subscribe_revision(&self) -> tokio::sync::watch::Receiver<i64> {
        self.inner.consensus.shared().subscribe_revision()
    }

    /// Renews a lease on the leader. Returns the TTL granted, or `LeaseNotFound`.
    pub async fn lease_keep_alive(&self, id: i64) -> Result<i64, StoreError> {
        match self
            .on_leader(LeaderRequest::LeaseKeepAlive { id }, self.deadline())
            .await?
        {
            LeaderReply::Lease { granted, .. } => Ok(granted),
            other => Err(unexpected(other)),
        }
    }

    /// (remaining TTL seconds, granted TTL seconds) as the leader sees it; `LeaseNotFound`.
    pub async fn lease_time_to_live(&self, id: i64) -> Result<(i64, i64), StoreError> {
        match self
            .on_leader(LeaderRequest::LeaseTimeToLive { id }, self.deadline())
            .await?
        {
            LeaderReply::Lease { remaining, granted } => Ok((remaining, granted)),
            other => Err(unexpected(other)),
        }
    }

    pub async fn member_list(&self) -> Result<Vec<Member>, StoreError> {
        Ok(self.member_views().into_iter().map(Member::from).collect())
    }

    fn member_views(&self) -> Vec<MemberView> {
        self.inner.consensus.member_views()
    }

    /// Adds a member (as a learner if asked). Returns (the new member, all members).
    pub async fn member_add(
        &self,
        peer_urls: Vec<String>,
        is_learner: bool,
    ) -> Result<(Member, Vec<Member>), StoreError> {
        if peer_urls.is_empty() {
            return Err(StoreError::InvalidArgument(
                "member peer URLs are not provided".into(),
            ));
        }
        for url in &peer_urls {
            host_port(url).map_err(StoreError::InvalidArgument)?;
        }
        let id = member_id(&peer_urls, &self.inner.cluster_token);
        let node = MemberNode {
            name: String::new(),
            peer_urls: peer_urls.clone(),
            client_urls: Vec::new(),
        };
        let added = MemberView {
            id,
            name: String::new(),
            peer_urls,
            client_urls: Vec::new(),
            is_learner,
        };
        let members = self
            .change_membership(LeaderRequest::AddMember {
                id,
                node,
                is_learner,
            })
            .await?;
        Ok((added.into(), members))
    }

    pub async fn member_remove(&self, id: u64) -> Result<Vec<Member>, StoreError> {
        self.change_membership(LeaderRequest::RemoveMember { id })
            .await
    }

    pub async fn member_promote(&self, id: u64) -> Result<Vec<Member>, StoreError> {
        self.change_membership(LeaderRequest::PromoteMember { id })
            .await
    }

    /// Runs a membership change on the leader, then waits until it is applied here (unless it
    /// removed this member, which then may never hear of the commit).
    async fn change_membership(&self, req: LeaderRequest) -> Result<Vec<Member>, StoreError> {
        let removes_self = req == LeaderRequest::RemoveMember { id: self.inner.id };
        let deadline = self.deadline();
        let index = match self.on_leader(req, deadline).await? {
            LeaderReply::MembershipChanged { index } => index,
            other => return Err(unexpected(other)),
        };
        if !removes_self {
            self.wait_applied(index, deadline).await?;
        }
        self.member_list().await
    }

    pub fn status(&self) -> MemberStatus {
        let raft = self.inner.consensus.status();
        let disk = &self.inner.env.disk;
        let db_size =
            crate::raft::log_size_on_disk(&**disk) + disk.size_bytes(crate::raft::SNAPSHOT_DB);
        let in_use = self.with_mvcc(|m| m.size_bytes());
        MemberStatus {
            leader: raft.leader.unwrap_or(0),
            raft_index: raft.commit_index,
            raft_term: raft.term,
            raft_applied_index: raft.applied_index,
            db_size: i64::try_from(db_size).unwrap_or(i64::MAX),
            db_size_in_use: i64::try_from(in_use).unwrap_or(i64::MAX),
            is_learner: raft.is_learner,
        }
    }

    /// Where this member's log stands (snapshot and purge points included).
    pub fn raft_progress(&self) -> RaftProgress {
        self.inner.consensus.progress()
    }

    /// Whether this member currently believes it is the leader.
    pub fn is_leader(&self) -> bool {
        self.inner.consensus.is_leader()
    }

    pub(crate) fn lessor(&self) -> &Lessor {
        self.inner.consensus.lessor()
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.inner.timing.request_timeout
    }

    async fn wait_applied(&self, index: u64, deadline: Instant) -> Result<(), StoreError> {
        tokio::time::timeout_at(deadline, self.inner.consensus.wait_applied(index))
            .await
            .map_err(|_| StoreError::Timeout)?
            .map_err(StoreError::from)
    }

    /// Runs `req` on the leader: here if this member leads, else over the peer protocol.
    async fn on_leader(
        &self,
        req: LeaderRequest,
        deadline: Instant,
    ) -> Result<LeaderReply, StoreError> {
        match self
            .retry_until(deadline, &LeaderCall::Request(req))
            .await?
        {
            Attempt::Reply(reply) => Ok(reply),
            Attempt::ReadIndex(_) => Err(StoreError::Internal("unexpected read index".into())),
        }
    }

    /// One try of `call` against `leader`.
    async fn attempt(&self, leader: u64, call: &LeaderCall) -> Result<Attempt, PeerError> {
        let consensus = &self.inner.consensus;
        let here = leader == self.inner.id;
        match call {
            LeaderCall::ReadIndex if here => {
                consensus.read_index_local().await.map(Attempt::ReadIndex)
            }
            LeaderCall::ReadIndex => consensus
                .read_index_remote(leader)
                .await
                .map(Attempt::ReadIndex),
            LeaderCall::Request(req) if here => consensus
                .execute_on_leader(req.clone())
                .await
                .map(Attempt::Reply),
            LeaderCall::Request(req) => consensus.forward(leader, req).await.map(Attempt::Reply),
        }
    }

    /// Runs `call` on the current leader until it succeeds, fails for good, or `deadline`
    /// passes. Retried: no leader known yet, "not the leader" and a leader that could not be
    /// connected to — in each the request was not carried out — and, for a read index, any
    /// failure. A write whose outcome is unknown is never retried here (it could apply
    /// twice; the simulation's linearizability checker caught exactly that).
    async fn retry_until(
        &self,
        deadline: Instant,
        call: &LeaderCall,
    ) -> Result<Attempt, StoreError> {
        let consensus = &self.inner.consensus;
        let pause = self.inner.timing.heartbeat_interval;
        let mut last_error = StoreError::NoLeader;
        loop {
            let Some(leader) = consensus.wait_for_leader(deadline).await else {
                return Err(last_error);
            };
            match tokio::time::timeout_at(deadline, self.attempt(leader, call)).await {
                Err(_) => return Err(StoreError::Timeout),
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e @ (PeerError::NotLeader { .. } | PeerError::Unreachable(_)))) => {
                    last_error = StoreError::from(e);
                }
                // A read index asks for nothing to be done: whatever became of the last
                // try, asking again is safe.
                Ok(Err(e @ PeerError::Timeout)) if matches!(call, LeaderCall::ReadIndex) => {
                    last_error = StoreError::from(e);
                }
                Ok(Err(e)) => return Err(e.into()),
            }
            let wake = (Instant::now() + pause).min(deadline);
            tokio::time::sleep_until(wake).await;
            if Instant::now() >= deadline {
                return Err(last_error);
            }
        }
    }
}

/// What [`StoreHandle::retry_until`] runs on the leader.
enum LeaderCall {
    ReadIndex,
    Request(LeaderRequest),
}

/// The leader's answer to a [`LeaderCall`].
enum Attempt {
    ReadIndex(u64),
    Reply(LeaderReply),
}

fn unexpected(reply: LeaderReply) -> StoreError {
    StoreError::Internal(format!("unexpected reply from the leader: {reply:?}"))
}
