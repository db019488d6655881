//! [`Consensus`]: one member's openraft instance and everything around it, behind an API that
//! names no openraft type. The handle decides *where* an operation runs (here or on the
//! leader); this file runs it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kubesim_net::Env;
use openraft::async_runtime::WatchReceiver;
use openraft::errors::{ClientWriteError, InitializeError, LinearizableReadError, RaftError};
use openraft::{ChangeMembers, Config, ReadPolicy, SnapshotPolicy};
use tokio::time::Instant;

use super::log_store::LogStore;
use super::network::{NetworkFactory, PeerChannels, Rpc, call};
use super::responder::TimedResponder;
use super::state_machine::{SNAPSHOT_DB, SmShared, StateMachine};
use super::{
    Db, LeaderReply, LeaderRequest, MemberNode, PeerError, Raft, Runtime, StoreRequest, TypeConfig,
    Written,
};
use crate::config::Timing;
use crate::error::StoreError;
use crate::lessor::Lessor;
use crate::members::MemberView;
use crate::metrics::{LeaderTracker, ProposalTimer, RaftView, StoreMetrics};
use crate::planted::PlantedBug;

/// etcd promotes a learner only once it has 90% of the leader's log.
const LEARNER_READY_PERCENT: u64 = 90;

/// Log entries kept after a snapshot for followers that lag a little (etcd keeps 5000).
const MAX_LOG_KEPT_AFTER_SNAPSHOT: u64 = 5000;

/// What [`Consensus::start`] needs besides the `Env`.
#[derive(Debug, Clone)]
pub(crate) struct RaftSettings {
    pub id: u64,
    /// `--initial-cluster-token`, also openraft's cluster name (shows in its logs).
    pub cluster_token: String,
    pub timing: Timing,
    /// Test-only: the known bug planted in the log store or the state machine, if any.
    pub planted_bug: PlantedBug,
    /// This member's metrics: the log store, the state machine and each write report here.
    pub metrics: Arc<StoreMetrics>,
}

/// This member's Raft state as `Maintenance.Status` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RaftStatus {
    pub leader: Option<u64>,
    pub term: u64,
    pub commit_index: u64,
    pub last_log_index: u64,
    pub applied_index: u64,
    pub is_learner: bool,
}

pub(crate) struct Consensus {
    id: u64,
    raft: Raft,
    /// The state machine's data (MVCC, member table) and its apply watches.
    shared: Arc<SmShared>,
    /// Channels to peers, for calls to the leader.
    channels: PeerChannels,
    /// Lease expiry timers; only meaningful while this member leads.
    lessor: Arc<Lessor>,
    timing: Timing,
    /// Where proposals, commits and applies are counted and timed.
    metrics: Arc<StoreMetrics>,
    /// Fire when the log and snapshot databases are closed: the same data dir can only be
    /// opened again once openraft's last task has let go of them.
    closed: std::sync::Mutex<Vec<tokio::sync::oneshot::Receiver<()>>>,
}

/// How long shutdown waits for openraft's tasks to close the databases.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

fn raft_config(settings: &RaftSettings) -> Result<Config, StoreError> {
    let t = &settings.timing;
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if t.snapshot_count == 0 {
        return Err(StoreError::InvalidArgument(
            "--snapshot-count must be at least 1".into(),
        ));
    }
    let config = Config {
        cluster_name: settings.cluster_token.clone(),
        heartbeat_interval: ms(t.heartbeat_interval),
        election_timeout_min: ms(t.election_timeout),
        election_timeout_max: ms(t.election_timeout).saturating_mul(2),
        install_snapshot_timeout: ms(snapshot_timeout(t)),
        snapshot_policy: SnapshotPolicy::LogsSinceLast(t.snapshot_count),
        max_in_snapshot_log_to_keep: t.snapshot_count.min(MAX_LOG_KEPT_AFTER_SNAPSHOT),
        purge_batch_size: 1,
        // A leader that restarts must win a new election, not resume its old term from the
        // persisted vote. A resumed leader keeps its old term's blank entry as the ReadIndex
        // floor and starts from the commit index on its disk, which lags the last write it
        // acknowledged (the log store does not sync `committed`, and the state machine is
        // rebuilt by replaying up to it): its first reads would be stale. A new term appends
        // a new blank entry, and no read is answered below it (RELIABILITY.md 1 and 6).
        enable_leader_restore: Some(false),
        // The log store returns from `append` before the sync (log_store.rs): replicate at
        // once, so the leader's own sync overlaps with its followers'.
        broadcast_submitted_on_append: Some(true),
        ..Config::default()
    };
    config
        .validate()
        .map_err(|e| StoreError::InvalidArgument(format!("raft timing: {e}")))
}

/// A whole snapshot travels in one message; give it the client request budget.
fn snapshot_timeout(t: &Timing) -> Duration {
    t.request_timeout.max(t.peer_rpc_timeout)
}

fn fatal<E: std::fmt::Display>(e: E) -> PeerError {
    tracing::error!(error = %e, "raft stopped");
    PeerError::Stopped
}

fn write_error(err: RaftError<TypeConfig, ClientWriteError<TypeConfig>>) -> PeerError {
    match err {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => PeerError::NotLeader {
            leader: f.leader_id,
        },
        RaftError::APIError(ClientWriteError::LogEntryDiscarded(_)) => PeerError::LeaderChanged,
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            PeerError::InvalidArgument(e.to_string())
        }
        RaftError::APIError(e @ ClientWriteError::PreconditionFailed(_)) => {
            PeerError::Internal(e.to_string())
        }
        RaftError::Fatal(e) => fatal(e),
    }
}

impl Consensus {
    /// Opens the log and the snapshot database and starts openraft (not yet part of a cluster).
    pub(crate) async fn start(
        env: &Env,
        settings: RaftSettings,
        lessor: Arc<Lessor>,
    ) -> Result<Consensus, StoreError> {
        let open = |name: &str| {
            env.disk
                .open_database(name)
                .map(Db::new)
                .map_err(|e| StoreError::Internal(format!("opening {name}: {e}")))
        };
        let disk_err = |e: std::io::Error| StoreError::Internal(format!("disk: {e}"));
        let (sm_db, sm_closed) = open(SNAPSHOT_DB)?;
        let planted_bug = settings.planted_bug;
        let metrics = settings.metrics.clone();
        let (log, log_closed) =
            LogStore::open(env.disk.clone(), planted_bug, metrics.wal_fsync()).map_err(disk_err)?;
        let backend_commit = metrics.backend_commit();
        let (sm, shared) = StateMachine::open(sm_db, planted_bug, log.held_a_log(), backend_commit)
            .map_err(disk_err)?;
        let config = Arc::new(raft_config(&settings)?);
        let timing = settings.timing;
        let channels = PeerChannels::new(
            env.net.clone(),
            timing.peer_rpc_timeout,
            snapshot_timeout(&timing),
        );
        let network = NetworkFactory::new(
            channels.clone(),
            timing.peer_rpc_timeout,
            snapshot_timeout(&timing),
        );
        // openraft draws election timeouts from this task-local seed; see raft/mod.rs.
        let seed = env.entropy.next_u64();
        let raft = Runtime::scope(seed, Raft::new(settings.id, config, network, log, sm))
            .await
            .map_err(|e| StoreError::Internal(format!("starting raft: {e}")))?;
        Ok(Consensus {
            id: settings.id,
            raft,
            shared,
            channels,
            lessor,
            timing,
            metrics,
            closed: std::sync::Mutex::new(vec![log_closed, sm_closed]),
        })
    }

    pub(crate) fn raft(&self) -> &Raft {
        &self.raft
    }

    pub(crate) fn shared(&self) -> &SmShared {
        &self.shared
    }

    pub(crate) fn lessor(&self) -> &Lessor {
        &self.lessor
    }

    /// Handler timeout of the peer server: a forwarded write may take a whole request budget.
    pub(crate) fn peer_server_timeout(&self) -> Duration {
        snapshot_timeout(&self.timing) + self.timing.peer_rpc_timeout
    }

    /// Bootstraps a new cluster. Safe on every initial member and after a restart: a member
    /// that already has a log keeps it.
    pub(crate) async fn initialize(
        &self,
        members: BTreeMap<u64, MemberNode>,
    ) -> Result<(), StoreError> {
        match self.raft.initialize(members).await {
            Ok(()) | Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(RaftError::APIError(e)) => Err(StoreError::InvalidArgument(e.to_string())),
            Err(RaftError::Fatal(e)) => Err(StoreError::from(fatal(e))),
        }
    }

    pub(crate) async fn is_initialized(&self) -> Result<bool, StoreError> {
        self.raft
            .is_initialized()
            .await
            .map_err(|e| StoreError::from(fatal(e)))
    }

    pub(crate) fn leader(&self) -> Option<u64> {
        self.raft.metrics().borrow_watched().current_leader
    }

    pub(crate) fn is_leader(&self) -> bool {
        self.raft.is_leader()
    }

    /// The leader as this member knows it, waiting for one until `deadline`.
    pub(crate) async fn wait_for_leader(&self, deadline: Instant) -> Option<u64> {
        let mut metrics = self.raft.metrics();
        loop {
            if let Some(leader) = metrics.borrow_watched().current_leader {
                return Some(leader);
            }
            match tokio::time::timeout_at(deadline, metrics.changed()).await {
                Ok(Ok(())) => continue,
                // Timed out, or Raft stopped.
                _ => return None,
            }
        }
    }

    /// Waits (unbounded: the caller bounds it) until this member has applied `index`.
    pub(crate) async fn wait_applied(&self, index: u64) -> Result<(), PeerError> {
        let mut applied = self.shared.subscribe_applied();
        applied
            .wait_for(|a| *a >= index)
            .await
            .map(|_| ())
            .map_err(|_| PeerError::Stopped)
    }

    pub(crate) fn status(&self) -> RaftStatus {
        let metrics = self.raft.metrics();
        let m = metrics.borrow_watched();
        let membership = m.membership_config.membership();
        RaftStatus {
            leader: m.current_leader,
            term: m.current_term,
            commit_index: m.local_committed.map(|id| id.index).unwrap_or(0),
            last_log_index: m.last_log_index.unwrap_or(0),
            applied_index: m.last_applied.map(|id| id.index).unwrap_or(0),
            is_learner: membership.get_node(&self.id).is_some()
                && !membership.voter_ids().any(|v| v == self.id),
        }
    }

    pub(crate) fn progress(&self) -> crate::handle::RaftProgress {
        let metrics = self.raft.metrics();
        let m = metrics.borrow_watched();
        let index = |id: Option<super::LogId>| id.map(|id| id.index).unwrap_or(0);
        crate::handle::RaftProgress {
            last_log_index: m.last_log_index.unwrap_or(0),
            commit_index: index(m.local_committed),
            applied_index: index(m.last_applied),
            snapshot_index: index(m.snapshot),
            purged_index: index(m.purged),
        }
    }

    /// `member list` as of this member's applied state.
    pub(crate) fn member_views(&self) -> Vec<MemberView> {
        let data = self.shared.read();
        let membership = data.last_membership.membership();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        membership
            .nodes()
            .map(|(id, node)| {
                let published = data.members.get(id);
                MemberView {
                    id: *id,
                    name: published
                        .map(|p| p.name.clone())
                        .unwrap_or_else(|| node.name.clone()),
                    peer_urls: node.peer_urls.clone(),
                    client_urls: published
                        .map(|p| p.client_urls.clone())
                        .unwrap_or_else(|| node.client_urls.clone()),
                    is_learner: !voters.contains(id),
                }
            })
            .collect()
    }

    /// Sends `req` to the leader `leader` over the peer protocol.
    pub(crate) async fn forward(
        &self,
        leader: u64,
        req: &LeaderRequest,
    ) -> Result<LeaderReply, PeerError> {
        let rpc = match req {
            LeaderRequest::LeaseKeepAlive { .. } | LeaderRequest::LeaseTimeToLive { .. } => {
                Rpc::Lease
            }
            _ => Rpc::Forward,
        };
        let mut client = self.leader_client(leader)?;
        call::<_, Result<LeaderReply, PeerError>>(
            &mut client,
            rpc,
            req,
            self.timing.request_timeout,
        )
        .await?
    }

    /// Asks the leader `leader` for a read index.
    pub(crate) async fn read_index_remote(&self, leader: u64) -> Result<u64, PeerError> {
        let mut client = self.leader_client(leader)?;
        call::<_, Result<u64, PeerError>>(
            &mut client,
            Rpc::ReadIndex,
            &(),
            self.timing.request_timeout,
        )
        .await?
    }

    fn leader_client(
        &self,
        leader: u64,
    ) -> Result<
        kubesim_proto::raftpb::raft_peer_client::RaftPeerClient<kubesim_net::network::UnaryChannel>,
        PeerError,
    > {
        let node = {
            let metrics = self.raft.metrics();
            let m = metrics.borrow_watched();
            m.membership_config.membership().get_node(&leader).cloned()
        };
        let node = node.ok_or(PeerError::NotLeader { leader: None })?;
        self.channels.client(&node).map_err(PeerError::Unreachable)
    }

    /// ReadIndex on this member as the leader: the log index a linearizable read must wait
    /// for. Confirms leadership with a quorum first.
    pub(crate) async fn read_index_local(&self) -> Result<u64, PeerError> {
        match self.raft.get_read_linearizer(ReadPolicy::ReadIndex).await {
            Ok(linearizer) => Ok(linearizer.read_log_id().index()),
            Err(RaftError::APIError(LinearizableReadError::ForwardToLeader(f))) => {
                Err(PeerError::NotLeader {
                    leader: f.leader_id,
                })
            }
            Err(RaftError::APIError(LinearizableReadError::QuorumNotEnough(_))) => {
                Err(PeerError::Timeout)
            }
            Err(RaftError::Fatal(e)) => Err(fatal(e)),
        }
    }

    /// Runs a leader-only operation on this member. `NotLeader` if it is not the leader.
    pub(crate) async fn execute_on_leader(
        &self,
        req: LeaderRequest,
    ) -> Result<LeaderReply, PeerError> {
        match req {
            LeaderRequest::Write(req) => self.write(req).await.map(LeaderReply::Written),
            LeaderRequest::AddMember {
                id,
                node,
                is_learner,
            } => self.add_member(id, node, is_learner).await,
            LeaderRequest::PromoteMember { id } => self.promote_member(id).await,
            LeaderRequest::RemoveMember { id } => self.remove_member(id).await,
            LeaderRequest::LeaseKeepAlive { id } => {
                let granted = self.lease_ttl(id).await?;
                self.lessor.renew(id, granted, Instant::now());
                Ok(LeaderReply::Lease {
                    remaining: granted,
                    granted,
                })
            }
            LeaderRequest::LeaseTimeToLive { id } => {
                let granted = self.lease_ttl(id).await?;
                let remaining = self.lessor.remaining_seconds(id, granted, Instant::now());
                Ok(LeaderReply::Lease { remaining, granted })
            }
        }
    }

    /// `Raft::client_write`, with a responder that times the proposal to its commit and to
    /// its apply, and the proposal counted pending until it is answered (or given up).
    async fn write(&self, req: StoreRequest) -> Result<Written, PeerError> {
        let pending = self.metrics.proposal();
        let (responder, completion) =
            TimedResponder::new(ProposalTimer::start(self.metrics.clone()));
        self.raft
            .client_write_ff(req, Some(responder))
            .await
            .map_err(fatal)?;
        // The responder is dropped unanswered only when Raft stops.
        let result = completion.await.map_err(fatal)?;
        let resp = result.map_err(|e| write_error(RaftError::APIError(e)))?;
        pending.succeeded();
        Ok(Written {
            index: resp.log_id.index,
            term: resp.log_id.leader_id.term,
            response: resp.data,
        })
    }

    /// The granted TTL of lease `id`, as the leader knows it. A lease granted by a previous
    /// leader may not be applied here yet: catch up once before saying it does not exist.
    async fn lease_ttl(&self, id: i64) -> Result<i64, PeerError> {
        if !self.raft.is_leader() {
            return Err(PeerError::NotLeader {
                leader: self.leader(),
            });
        }
        let lookup = || self.shared.read().mvcc.lease(id).map(|l| l.ttl_seconds);
        if let Some(ttl) = lookup() {
            return Ok(ttl);
        }
        let index = self.read_index_local().await?;
        self.wait_applied(index).await?;
        lookup().ok_or(PeerError::Mvcc(kubesim_mvcc::MvccError::LeaseNotFound {
            id,
        }))
    }

    fn leader_membership(&self) -> Result<(BTreeSet<u64>, BTreeMap<u64, MemberNode>), PeerError> {
        if !self.raft.is_leader() {
            return Err(PeerError::NotLeader {
                leader: self.leader(),
            });
        }
        let metrics = self.raft.metrics();
        let m = metrics.borrow_watched();
        let membership = m.membership_config.membership();
        let voters = membership.voter_ids().collect();
        let nodes = membership
            .nodes()
            .map(|(id, node)| (*id, node.clone()))
            .collect();
        Ok((voters, nodes))
    }

    async fn add_member(
        &self,
        id: u64,
        node: MemberNode,
        is_learner: bool,
    ) -> Result<LeaderReply, PeerError> {
        let (_, nodes) = self.leader_membership()?;
        let taken = nodes.iter().any(|(existing, n)| {
            *existing == id || n.peer_urls.iter().any(|u| node.peer_urls.contains(u))
        });
        if taken {
            return Err(PeerError::PeerUrlExists);
        }
        let mut resp = self
            .raft
            .add_learner(id, node, false)
            .await
            .map_err(write_error)?;
        if !is_learner {
            resp = self
                .raft
                .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
                .await
                .map_err(write_error)?;
        }
        Ok(LeaderReply::MembershipChanged {
            index: resp.log_id.index,
        })
    }

    async fn promote_member(&self, id: u64) -> Result<LeaderReply, PeerError> {
        let (voters, nodes) = self.leader_membership()?;
        if !nodes.contains_key(&id) {
            return Err(PeerError::MemberNotFound);
        }
        if voters.contains(&id) {
            return Err(PeerError::MemberNotLearner);
        }
        if !self.learner_ready(id) {
            return Err(PeerError::LearnerNotReady);
        }
        let resp = self
            .raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map_err(write_error)?;
        Ok(LeaderReply::MembershipChanged {
            index: resp.log_id.index,
        })
    }

    /// etcd's rule: the learner's matched log index is at least 90% of the leader's.
    fn learner_ready(&self, id: u64) -> bool {
        let metrics = self.raft.metrics();
        let m = metrics.borrow_watched();
        let leader_index = m.last_log_index.unwrap_or(0);
        let matched = m
            .replication
            .as_ref()
            .and_then(|r| r.get(&id).cloned().flatten())
            .map(|log_id| log_id.index)
            .unwrap_or(0);
        matched.saturating_mul(100) >= leader_index.saturating_mul(LEARNER_READY_PERCENT)
    }

    async fn remove_member(&self, id: u64) -> Result<LeaderReply, PeerError> {
        let (voters, nodes) = self.leader_membership()?;
        if !nodes.contains_key(&id) {
            return Err(PeerError::MemberNotFound);
        }
        let change = if voters.contains(&id) {
            if voters.len() == 1 {
                return Err(PeerError::NotEnoughStartedMembers);
            }
            ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        } else {
            ChangeMembers::RemoveNodes(BTreeSet::from([id]))
        };
        let resp = self
            .raft
            .change_membership(change, false)
            .await
            .map_err(write_error)?;
        Ok(LeaderReply::MembershipChanged {
            index: resp.log_id.index,
        })
    }

    /// Keeps the Raft gauges of this member's metrics in step with openraft's own metrics,
    /// waking only when they change, until Raft stops or `stop` turns true.
    pub(crate) async fn report_metrics(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut watched = self.raft.metrics();
        let mut tracker = LeaderTracker::default();
        loop {
            let view = {
                let m = watched.borrow_watched();
                let index = |id: Option<super::LogId>| id.map(|id| id.index).unwrap_or(0);
                RaftView {
                    leader: m.current_leader,
                    is_leader: m.current_leader == Some(self.id),
                    term: m.current_term,
                    committed: index(m.local_committed),
                    applied: index(m.last_applied),
                }
            };
            self.metrics.observe_raft(&view, &mut tracker);
            tokio::select! {
                biased;
                _ = stop.wait_for(|stop| *stop) => return,
                changed = watched.changed() => if changed.is_err() {
                    return;
                },
            }
        }
    }

    /// Stops openraft (and with it the log store and the state machine).
    pub(crate) async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
        let closed = std::mem::take(&mut *self.closed.lock().unwrap_or_else(|e| e.into_inner()));
        let all_closed = futures::future::join_all(closed);
        if tokio::time::timeout(CLOSE_TIMEOUT, all_closed)
            .await
            .is_err()
        {
            tracing::warn!("raft tasks still hold the databases after shutdown");
        }
    }
}
