//! Store clusters on the real tokio network (127.0.0.1) with data in temp dirs: election,
//! replication, forwarding, failover, restart, snapshots, learners, and no-quorum behaviour.
//! Every wait is bounded.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kubesim_mvcc::{Command, CommandResponse};
use kubesim_net::{Env, MemDisk};
use kubesim_proto::etcdserverpb::{PutRequest, RangeRequest};
use kubesim_store::{
    InitialClusterState, InitialMember, StoreConfig, StoreError, StoreHandle, StoreNode, Timing,
};
use tempfile::TempDir;
use tokio::time::Instant;

mod common;
use common::free_port;

fn timing(snapshot_count: u64) -> Timing {
    Timing {
        heartbeat_interval: Duration::from_millis(50),
        election_timeout: Duration::from_millis(300),
        snapshot_count,
        request_timeout: Duration::from_secs(3),
        peer_rpc_timeout: Duration::from_millis(500),
    }
}

/// One member's identity and data dir; survives restarts of its node.
struct Member {
    name: String,
    dir: TempDir,
    peer_port: u16,
    client_port: u16,
    /// A simulated disk instead of files under `dir`, for tests that cut the power: the
    /// same disk is handed to every incarnation of the member.
    crash_disk: Option<MemDisk>,
    node: Option<StoreNode>,
}

impl Member {
    fn new(name: &str) -> Member {
        Member {
            name: name.to_owned(),
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
            peer_port: free_port(),
            client_port: free_port(),
            crash_disk: None,
            node: None,
        }
    }

    fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    fn config(
        &self,
        initial: &[InitialMember],
        state: InitialClusterState,
        t: Timing,
    ) -> StoreConfig {
        let client_url = format!("http://127.0.0.1:{}", self.client_port);
        let mut config = StoreConfig::new(
            &self.name,
            &client_url,
            &self.peer_url(),
            initial.to_vec(),
            "test-cluster",
        );
        config.initial_cluster_state = state;
        config.timing = t;
        config
    }

    async fn start(
        &mut self,
        initial: &[InitialMember],
        state: InitialClusterState,
        t: Timing,
    ) -> Result<()> {
        let mut env = Env::production(self.dir.path());
        if let Some(disk) = &self.crash_disk {
            env.disk = Arc::new(disk.clone());
        }
        let node = StoreNode::start(env, self.config(initial, state, t)).await?;
        self.node = Some(node);
        Ok(())
    }

    /// kill -9: the disk keeps only what was synced, then the process goes away (what the
    /// dying node still writes is ignored by the disk).
    async fn crash(&mut self) {
        if let Some(disk) = &self.crash_disk {
            disk.power_cut();
        }
        self.stop().await;
    }

    async fn stop(&mut self) {
        if let Some(node) = self.node.take() {
            node.shutdown().await;
        }
    }

    fn handle(&self) -> &StoreHandle {
        match &self.node {
            Some(node) => &node.handle,
            None => panic!("member {} is not running", self.name),
        }
    }
}

struct Cluster {
    members: Vec<Member>,
    initial: Vec<InitialMember>,
    timing: Timing,
}

impl Cluster {
    async fn start(size: usize, t: Timing) -> Result<Cluster> {
        let members = (1..=size).map(|i| Member::new(&format!("m{i}"))).collect();
        Cluster::start_members(members, t).await
    }

    /// Like `start`, but every member keeps its data on a [`MemDisk`] that `Member::crash`
    /// can cut the power of.
    async fn start_crashable(size: usize, t: Timing) -> Result<Cluster> {
        let members = (1..=size)
            .map(|i| Member {
                crash_disk: Some(MemDisk::new()),
                ..Member::new(&format!("m{i}"))
            })
            .collect();
        Cluster::start_members(members, t).await
    }

    async fn start_members(members: Vec<Member>, t: Timing) -> Result<Cluster> {
        let size = members.len();
        let initial = members
            .iter()
            .map(|m| InitialMember {
                name: m.name.clone(),
                peer_url: m.peer_url(),
            })
            .collect();
        let mut cluster = Cluster {
            members,
            initial,
            timing: t,
        };
        for i in 0..size {
            cluster.start_member(i).await?;
        }
        Ok(cluster)
    }

    async fn start_member(&mut self, i: usize) -> Result<()> {
        let (initial, t) = (self.initial.clone(), self.timing);
        self.members[i]
            .start(&initial, InitialClusterState::New, t)
            .await
    }

    fn running(&self) -> impl Iterator<Item = (usize, &Member)> {
        self.members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.node.is_some())
    }

    /// The index of the member every running member agrees leads.
    async fn wait_leader(&self) -> Result<usize> {
        eventually(Duration::from_secs(10), || async {
            let leaders: Vec<u64> = self
                .running()
                .map(|(_, m)| m.handle().status().leader)
                .collect();
            let leader = leaders[0];
            if leader == 0 || leaders.iter().any(|l| *l != leader) {
                bail!("no agreed leader yet: {leaders:x?}");
            }
            self.running()
                .find(|(_, m)| m.handle().member_id() == leader)
                .map(|(i, _)| i)
                .context("the leader is not a running member")
        })
        .await
    }

    fn follower(&self, leader: usize) -> usize {
        self.running()
            .map(|(i, _)| i)
            .find(|i| *i != leader)
            .unwrap_or_else(|| panic!("no follower"))
    }

    async fn stop_all(&mut self) {
        for m in &mut self.members {
            m.stop().await;
        }
    }
}

/// Retries `f` until it succeeds or `limit` passes (then returns its last error).
async fn eventually<T, F, Fut>(limit: Duration, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => return Err(e.context("gave up waiting")),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn put(key: &str, value: &str) -> Command {
    Command::Put(PutRequest {
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
        ..Default::default()
    })
}

/// The value of `key` in this member's applied state (a serializable read).
/// Enough writes for `timing(10)` to take several snapshots and purge the log.
const KEYS_PAST_A_SNAPSHOT: usize = 60;

/// Writes `k0..k{count}` = "v" through `handle`, one acknowledged put at a time.
async fn write_keys(handle: &StoreHandle, count: usize) -> Result<()> {
    for i in 0..count {
        handle.propose(put(&format!("k{i}"), "v")).await?;
    }
    Ok(())
}

fn get(handle: &StoreHandle, key: &str) -> Option<Vec<u8>> {
    let req = RangeRequest {
        key: key.as_bytes().to_vec(),
        ..Default::default()
    };
    handle
        .with_mvcc(|m| m.range(&req))
        .ok()
        .and_then(|resp| resp.kvs.into_iter().next())
        .map(|kv| kv.value)
}

fn current_revision(handle: &StoreHandle) -> i64 {
    handle.with_mvcc(|m| m.current_revision())
}

/// Bounds a whole test: a hang fails instead of blocking the suite.
async fn bounded<T>(limit: Duration, test: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(limit, test)
        .await
        .context("test timed out")?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_member_elects_and_applies() -> Result<()> {
    bounded(Duration::from_secs(30), async {
        let mut cluster = Cluster::start(1, timing(1000)).await?;
        cluster.wait_leader().await?;
        let h = cluster.members[0].handle().clone();
        let proposed = h.propose(put("a", "1")).await?;
        assert!(matches!(proposed.response, CommandResponse::Put(_)));
        assert_eq!(
            proposed.revision, 2,
            "an empty store is at revision 1; one put makes 2"
        );
        assert_eq!(get(&h, "a").as_deref(), Some(b"1".as_slice()));
        h.read_barrier().await?;
        let members = h.member_list().await?;
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].id, h.member_id());
        cluster.stop_all().await;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_replicate_and_a_follower_write_is_readable_there() -> Result<()> {
    bounded(Duration::from_secs(40), async {
        let mut cluster = Cluster::start(3, timing(1000)).await?;
        let leader = cluster.wait_leader().await?;
        let follower = cluster.follower(leader);
        let f = cluster.members[follower].handle().clone();
        let proposed = f.propose(put("k", "via-follower")).await?;
        // Applied on the follower before propose returned: no waiting here.
        assert_eq!(get(&f, "k").as_deref(), Some(b"via-follower".as_slice()));
        assert_eq!(current_revision(&f), proposed.revision);
        for (_, m) in cluster.running() {
            m.handle().read_barrier().await?;
            assert_eq!(
                get(m.handle(), "k").as_deref(),
                Some(b"via-follower".as_slice())
            );
            assert_eq!(current_revision(m.handle()), proposed.revision);
        }
        // Every member published its name and client URL.
        let members = eventually(Duration::from_secs(5), || async {
            let list = f.member_list().await?;
            if list
                .iter()
                .any(|m| m.name.is_empty() || m.client_ur_ls.is_empty())
            {
                bail!("not all members published: {list:?}");
            }
            Ok(list)
        })
        .await?;
        assert_eq!(members.len(), 3);
        assert!(members.iter().all(|m| !m.is_learner));
        cluster.stop_all().await;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_loss_elects_a_new_leader_and_keeps_acknowledged_writes() -> Result<()> {
    bounded(Duration::from_secs(40), async {
        let mut cluster = Cluster::start(3, timing(1000)).await?;
        let leader = cluster.wait_leader().await?;
        let old_leader_id = cluster.members[leader].handle().member_id();
        for i in 0..20 {
            cluster.members[leader]
                .handle()
                .propose(put(&format!("k{i}"), "v"))
                .await?;
        }
        cluster.members[leader].stop().await;
        let new_leader = cluster.wait_leader().await?;
        assert_ne!(
            cluster.members[new_leader].handle().member_id(),
            old_leader_id
        );
        let survivor = cluster.follower(new_leader);
        // A write through the follower succeeds with the new leader.
        cluster.members[survivor]
            .handle()
            .propose(put("after", "failover"))
            .await?;
        for (_, m) in cluster.running() {
            m.handle().read_barrier().await?;
            for i in 0..20 {
                assert_eq!(
                    get(m.handle(), &format!("k{i}")).as_deref(),
                    Some(b"v".as_slice())
                );
            }
            assert_eq!(
                get(m.handle(), "after").as_deref(),
                Some(b"failover".as_slice())
            );
        }
        cluster.stop_all().await;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_restart_from_the_data_dirs_keeps_everything() -> Result<()> {
    bounded(Duration::from_secs(40), async {
        let mut cluster = Cluster::start(3, timing(1000)).await?;
        let leader = cluster.wait_leader().await?;
        let mut revision = 0;
        for i in 0..10 {
            revision = cluster.members[leader]
                .handle()
                .propose(put(&format!("k{i}"), "v"))
                .await?
                .revision;
        }
        cluster.stop_all().await;
        for i in 0..3 {
            cluster.start_member(i).await?;
        }
        cluster.wait_leader().await?;
        for (_, m) in cluster.running() {
            m.handle().read_barrier().await?;
            assert_eq!(
                current_revision(m.handle()),
                revision,
                "the revision never goes back"
            );
            for i in 0..10 {
                assert_eq!(
                    get(m.handle(), &format!("k{i}")).as_deref(),
                    Some(b"v".as_slice())
                );
            }
        }
        let next = cluster.members[0].handle().propose(put("new", "v")).await?;
        assert_eq!(next.revision, revision + 1);
        cluster.stop_all().await;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_purge_the_log_and_a_restarted_member_restores_from_one() -> Result<()> {
    bounded(Duration::from_secs(40), async {
        let mut cluster = Cluster::start(3, timing(10)).await?;
        let leader = cluster.wait_leader().await?;
        write_keys(cluster.members[leader].handle(), KEYS_PAST_A_SNAPSHOT).await?;
        let follower = cluster.follower(leader);
        let progress = eventually(Duration::from_secs(5), || async {
            let p = cluster.members[follower].handle().raft_progress();
            if p.snapshot_index < 40 || p.purged_index == 0 {
                bail!("no snapshot/purge yet: {p:?}");
            }
            Ok(p)
        })
        .await?;
        assert!(progress.purged_index < progress.snapshot_index);
        cluster.members[follower].stop().await;
        cluster.start_member(follower).await?;
        let h = cluster.members[follower].handle().clone();
        h.read_barrier().await?;
        assert!(h.raft_progress().snapshot_index >= progress.snapshot_index);
        for i in 0..KEYS_PAST_A_SNAPSHOT {
            assert_eq!(
                get(&h, &format!("k{i}")).as_deref(),
                Some(b"v".as_slice()),
                "k{i}"
            );
        }
        cluster.stop_all().await;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_catches_up_by_snapshot_and_is_promoted() -> Result<()> {
    bounded(Duration::from_secs(60), async {
        let mut cluster = Cluster::start(3, timing(10)).await?;
        let leader = cluster.wait_leader().await?;
        write_keys(cluster.members[leader].handle(), KEYS_PAST_A_SNAPSHOT).await?;
        let newcomer = Member::new("m4");
        let follower = cluster.follower(leader);
        let f = cluster.members[follower].handle().clone();
        // Added through a follower: forwarded to the leader.
        let (added, list) = f.member_add(vec![newcomer.peer_url()], true).await?;
        assert!(added.is_learner);
        assert_eq!(list.len(), 4);
        assert!(matches!(
            f.member_promote(added.id).await,
            Err(StoreError::LearnerNotReady)
        ));

        cluster.initial.push(InitialMember {
            name: newcomer.name.clone(),
            peer_url: newcomer.peer_url(),
        });
        cluster.members.push(newcomer);
        let (initial, t) = (cluster.initial.clone(), cluster.timing);
        cluster.members[3]
            .start(&initial, InitialClusterState::Existing, t)
            .await?;
        let learner = cluster.members[3].handle().clone();
        assert_eq!(
            learner.member_id(),
            added.id,
            "both sides compute the same member ID"
        );
        eventually(Duration::from_secs(10), || async {
            if get(&learner, "k59").is_none() {
                bail!("learner not caught up: {:?}", learner.raft_progress());
            }
            Ok(())
        })
        .await?;
        assert!(learner.status().is_learner);
        assert!(
            learner.raft_progress().snapshot_index > 0,
            "caught up by snapshot"
        );

        let members = eventually(Duration::from_secs(10), || async {
            Ok(f.member_promote(added.id).await?)
        })
        .await?;
        assert!(members.iter().all(|m| !m.is_learner), "{members:?}");
        eventually(Duration::from_secs(5), || async {
            if learner.status().is_learner {
                bail!("still a learner");
            }
            Ok(())
        })
        .await?;
        learner.propose(put("from-new-voter", "v")).await?;
        assert!(matches!(
            f.member_promote(added.id).await,
            Err(StoreError::MemberNotLearner)
        ));
        assert!(matches!(
            f.member_remove(12345).await,
            Err(StoreError::MemberNotFound)
        ));
        cluster.stop_all().await;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_quorum_a_proposal_fails_within_the_request_timeout() -> Result<()> {
    bounded(Duration::from_secs(40), async {
        let t = timing(1000);
        let mut cluster = Cluster::start(3, t).await?;
        let leader = cluster.wait_leader().await?;
        for i in 0..3 {
            if i != leader {
                cluster.members[i].stop().await;
            }
        }
        let started = Instant::now();
        let result = cluster.members[leader]
            .handle()
            .propose(put("lost", "v"))
            .await;
        let took = started.elapsed();
        assert!(
            result.is_err(),
            "a write without a quorum must fail: {result:?}"
        );
        assert!(
            matches!(result, Err(StoreError::Timeout | StoreError::NoLeader)),
            "{result:?}"
        );
        assert!(
            took <= t.request_timeout + Duration::from_millis(500),
            "took {took:?}"
        );
        let read = cluster.members[leader].handle().read_barrier().await;
        assert!(
            read.is_err(),
            "a linearizable read without a quorum must fail"
        );
        cluster.stop_all().await;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_expires_leases_and_followers_reach_it_for_keep_alive() -> Result<()> {
    bounded(Duration::from_secs(40), async {
        let mut cluster = Cluster::start(3, timing(1000)).await?;
        let leader = cluster.wait_leader().await?;
        let f = cluster.members[cluster.follower(leader)].handle().clone();
        let (kept, expiring) = (f.new_lease_id(), f.new_lease_id());
        for id in [kept, expiring] {
            f.propose(Command::LeaseGrant { id, ttl_seconds: 2 })
                .await?;
        }
        for (key, lease) in [("kept", kept), ("expiring", expiring)] {
            f.propose(Command::Put(PutRequest {
                key: key.into(),
                value: b"v".to_vec(),
                lease,
                ..Default::default()
            }))
            .await?;
        }
        let (remaining, granted) = f.lease_time_to_live(kept).await?;
        assert_eq!(granted, 2);
        assert!((0..=2).contains(&remaining), "remaining {remaining}");
        assert!(matches!(
            f.lease_time_to_live(999).await,
            Err(StoreError::Mvcc(
                kubesim_mvcc::MvccError::LeaseNotFound { .. }
            ))
        ));
        // Keep one lease alive through the follower for longer than its TTL.
        let until = Instant::now() + Duration::from_millis(3500);
        while Instant::now() < until {
            assert_eq!(f.lease_keep_alive(kept).await?, 2);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        for (_, m) in cluster.running() {
            let h = m.handle();
            eventually(Duration::from_secs(3), || async {
                h.read_barrier().await?;
                if get(h, "expiring").is_some() {
                    bail!("the expired lease's key is still there");
                }
                Ok(())
            })
            .await?;
            assert!(
                get(h, "kept").is_some(),
                "a kept-alive lease must not expire"
            );
            assert!(h.with_mvcc(|m| m.lease(expiring).is_none()));
        }
        cluster.stop_all().await;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_leaves_the_list_and_the_rest_keep_writing() -> Result<()> {
    bounded(Duration::from_secs(40), async {
        let mut cluster = Cluster::start(3, timing(1000)).await?;
        let leader = cluster.wait_leader().await?;
        let follower = cluster.follower(leader);
        let removed_id = cluster.members[follower].handle().member_id();
        let l = cluster.members[leader].handle().clone();
        // A write first: it commits the new leader's first entry, and with it the initial
        // membership. Until then openraft refuses any change ("already undergoing a
        // configuration change"), as etcd's raft drops a conf change before its leader has
        // committed in its term; a loaded machine elects slowly enough to hit that window.
        l.propose(put("before-remove", "v")).await?;
        let members = l.member_remove(removed_id).await?;
        assert_eq!(members.len(), 2);
        assert!(members.iter().all(|m| m.id != removed_id));
        cluster.members[follower].stop().await;
        // Two voters left, both up: a quorum.
        l.propose(put("after-remove", "v")).await?;
        let other = cluster.follower(leader);
        cluster.members[other].handle().read_barrier().await?;
        assert!(get(cluster.members[other].handle(), "after-remove").is_some());
        cluster.stop_all().await;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voter_added_directly_joins_and_catches_up() -> Result<()> {
    bounded(Duration::from_secs(40), async {
        let mut cluster = Cluster::start(3, timing(1000)).await?;
        let leader = cluster.wait_leader().await?;
        let l = cluster.members[leader].handle().clone();
        l.propose(put("before", "v")).await?;
        let newcomer = Member::new("m4");
        let (added, list) = l.member_add(vec![newcomer.peer_url()], false).await?;
        assert!(!added.is_learner);
        assert_eq!(list.iter().filter(|m| !m.is_learner).count(), 4);
        // Four voters, three up: still a quorum.
        l.propose(put("while-joining", "v")).await?;
        cluster.initial.push(InitialMember {
            name: newcomer.name.clone(),
            peer_url: newcomer.peer_url(),
        });
        cluster.members.push(newcomer);
        let (initial, t) = (cluster.initial.clone(), cluster.timing);
        cluster.members[3]
            .start(&initial, InitialClusterState::Existing, t)
            .await?;
        let joined = cluster.members[3].handle().clone();
        joined.propose(put("from-joined", "v")).await?;
        for key in ["before", "while-joining", "from-joined"] {
            assert!(get(&joined, key).is_some(), "{key}");
        }
        assert!(!joined.status().is_learner);
        cluster.stop_all().await;
        Ok(())
    })
    .await
}

/// Linearizable reads on `handle` for `window`, starting at once: every read that gets past
/// the read barrier must see at least `acknowledged`. Returns how many reads succeeded, or
/// the first stale one.
async fn read_linearizably_for(
    handle: StoreHandle,
    acknowledged: i64,
    window: Duration,
) -> Result<usize> {
    let until = Instant::now() + window;
    let mut served = 0;
    while Instant::now() < until {
        match handle.read_barrier().await {
            Ok(()) => {
                let seen = current_revision(&handle);
                if seen < acknowledged {
                    bail!(
                        "member {:x}: a linearizable read at revision {seen} after revision \
                         {acknowledged} was acknowledged (leader {:x}, term {})",
                        handle.member_id(),
                        handle.status().leader,
                        handle.raft_term()
                    );
                }
                served += 1;
            }
            // No leader yet (an election after the restart): not an answer, so not stale.
            Err(StoreError::NoLeader | StoreError::Timeout) => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(served)
}

/// Properties 1 and 6: after every member is killed at once (power cut: only synced data
/// survives) and restarted, a linearizable read on any member, from the first one on, sees
/// every write acknowledged before the crash. The old leader is restarted last, right after
/// its followers, as a fast `kill -9` + restart of a whole cluster does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linearizable_reads_right_after_every_member_crashed_are_not_stale() -> Result<()> {
    bounded(Duration::from_secs(90), async {
        let mut cluster = Cluster::start_crashable(3, timing(1000)).await?;
        for round in 0..5 {
            let leader = cluster.wait_leader().await?;
            let mut last = None;
            for i in 0..5 {
                let key = format!("r{round}-k{i}");
                last = Some(
                    cluster.members[leader]
                        .handle()
                        .propose(put(&key, "v"))
                        .await?,
                );
            }
            let last = last.context("no write")?;
            let acknowledged = last.revision;
            for m in &mut cluster.members {
                m.crash().await;
            }
            let mut order: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
            order.push(leader);
            for i in order {
                cluster.start_member(i).await?;
            }
            let readers: Vec<_> = cluster
                .running()
                .map(|(_, m)| {
                    let h = m.handle().clone();
                    tokio::spawn(read_linearizably_for(
                        h,
                        acknowledged,
                        Duration::from_millis(1500),
                    ))
                })
                .collect();
            for reader in readers {
                let served = reader.await.context("reader panicked")?.with_context(|| {
                    format!(
                        "round {round}: last write acknowledged in term {}",
                        last.raft_term
                    )
                })?;
                assert!(served > 0, "round {round}: no read was served in time");
            }
        }
        cluster.stop_all().await;
        Ok(())
    })
    .await
}
