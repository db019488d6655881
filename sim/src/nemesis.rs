//! The nemesis: the simulated host that breaks the cluster during the fault phase, heals
//! everything afterwards, and then checks liveness and collects each member's state.
//!
//! Faults are chosen by the seed, one at a time: apply, hold for a while, undo, pause. The
//! scenario decides which faults are on the menu. Every fault is recorded with its time, so
//! a violation's excerpt can show what the cluster was going through.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use kubesim_proto::etcdserverpb::cluster_client::ClusterClient;
use kubesim_proto::etcdserverpb::kv_client::KvClient;
use kubesim_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use kubesim_proto::etcdserverpb::{
    HashKvRequest, MemberAddRequest, MemberListRequest, MemberRemoveRequest, PutRequest,
    StatusRequest,
};

use kubesim_proto::mvccpb::Event;

use crate::client::member_channel;
use crate::cluster::{Cluster, Fault, Faults, Members, PEER_PORT};
use crate::history::{self, Liveness, MemberState, Op, Outcome, Recorder};
use crate::rng::SimRng;
use crate::workload::Phase;

/// Which faults a run may inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Every fault below.
    Mixed,
    /// Partitions of every shape, and holds.
    Partitions,
    /// Crashes, power cuts (one member or all at once), restarts and slow disks.
    Crashes,
    /// Latency distributions and message loss.
    Network,
    /// Members removed and added back, with crashes.
    Membership,
    /// No faults: the baseline.
    Calm,
}

impl Scenario {
    pub const ALL: [Scenario; 6] = [
        Scenario::Mixed,
        Scenario::Partitions,
        Scenario::Crashes,
        Scenario::Network,
        Scenario::Membership,
        Scenario::Calm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Mixed => "mixed",
            Scenario::Partitions => "partitions",
            Scenario::Crashes => "crashes",
            Scenario::Network => "network",
            Scenario::Membership => "membership",
            Scenario::Calm => "calm",
        }
    }

    /// The faults on the menu, with their weights.
    fn menu(self) -> &'static [(FaultKind, u32)] {
        use FaultKind::*;
        match self {
            Scenario::Mixed => &[
                (Isolate, 3),
                (IsolateLeader, 3),
                (SplitFromMembers, 3),
                (OneWay, 2),
                (Hold, 2),
                (Latency, 3),
                (Loss, 1),
                (Crash, 2),
                (PowerCut, 3),
                (PowerCutAll, 2),
                (SlowDisk, 2),
                (RemoveAndAddBack, 1),
            ],
            Scenario::Partitions => &[
                (Isolate, 3),
                (IsolateLeader, 4),
                (SplitFromMembers, 3),
                (OneWay, 3),
                (Hold, 2),
            ],
            Scenario::Crashes => &[(Crash, 3), (PowerCut, 4), (PowerCutAll, 3), (SlowDisk, 2)],
            Scenario::Network => &[(Latency, 3), (Loss, 2), (Hold, 1)],
            Scenario::Membership => &[(RemoveAndAddBack, 3), (PowerCut, 1), (Crash, 1)],
            Scenario::Calm => &[],
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .into_iter()
            .find(|scenario| scenario.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
                format!("unknown scenario {s:?}; one of {}", names.join(", "))
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FaultKind {
    /// One member cut off from every other host (members and clients).
    Isolate,
    /// The current leader cut off from every other host.
    IsolateLeader,
    /// One member cut off from the other members only (a 2/1 split; clients reach all).
    SplitFromMembers,
    /// Messages from one member to another are dropped; the other way works.
    OneWay,
    /// Messages between one member and the others are held, then released all at once.
    Hold,
    /// Every link between members gets its own latency bound and the curve changes.
    Latency,
    /// Links between one member and the others break at random.
    Loss,
    /// One member's process dies; it restarts later.
    Crash,
    /// One member loses power (unsynced writes lost, no goodbye); it restarts later.
    PowerCut,
    /// Every member loses power at once; they all restart later.
    PowerCutAll,
    /// One member's disk syncs become slow.
    SlowDisk,
    /// One member is removed (`member remove`), wiped, added back (`member add`) and
    /// started again, joining the existing cluster.
    RemoveAndAddBack,
}

/// How the nemesis behaves.
#[derive(Debug, Clone)]
pub struct NemesisConfig {
    pub scenario: Scenario,
    /// Length of the fault phase.
    pub fault_phase: Duration,
    /// After healing, the time within which a leader must be elected and every member must
    /// take a write.
    pub liveness_bound: Duration,
    /// Every link's latency bound when healthy (restored when healing).
    pub max_message_latency: Duration,
    /// Bound on waiting for clients to finish and for members to catch up.
    pub settle_bound: Duration,
}

/// The nemesis host's state.
pub struct Nemesis {
    config: NemesisConfig,
    members: Vec<String>,
    /// Every host, members first: partitions cut a member from all of them.
    hosts: Vec<String>,
    cluster: Members,
    faults: Faults,
    recorder: Recorder,
    phase: Phase,
    rng: SimRng,
    /// Members removed and not yet added back.
    removed: Vec<String>,
}

/// What undoes a fault.
enum Undo {
    Nothing,
    /// Repair every link (after partitions) and release every hold.
    Links,
    /// Restart these members.
    Restart(Vec<String>),
    /// Restore latency bounds and the curve.
    Latency,
    /// Stop the loss on these links.
    Loss(Vec<(String, String)>),
    /// Make this member's disk fast again.
    FastDisk(String),
    /// Add this member back and start it.
    AddBack(String),
}

/// Name of the nemesis host.
pub const NEMESIS: &str = "nemesis";

/// turmoil's default latency curve (exponential lambda).
const DEFAULT_LATENCY_CURVE: f64 = 5.0;

/// How often the mixed scenario lays a second fault over the first.
const COMPOUND_CHANCE: f64 = 0.3;

/// Tries at reading the member list while healing (500 ms apart at least).
const MEMBERSHIP_ATTEMPTS: usize = 40;

/// Per-call timeout of the nemesis' own API calls.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

impl Nemesis {
    /// A nemesis for `cluster`: its members, its driver's fault queue and its registry.
    /// `hosts` lists every host (partitions cut a member off from all of them).
    pub fn new(
        config: NemesisConfig,
        cluster: &Cluster,
        hosts: Vec<String>,
        recorder: Recorder,
        phase: Phase,
    ) -> Self {
        Nemesis {
            config,
            members: cluster.member_names(),
            hosts,
            cluster: cluster.members(),
            faults: cluster.faults(),
            recorder,
            phase,
            rng: SimRng::new(cluster.config().seed, 1),
            removed: Vec::new(),
        }
    }

    /// The fault phase, healing, the liveness check, and the collection of every member's
    /// state for the checkers.
    pub async fn run(mut self) -> anyhow::Result<()> {
        self.fault_phase().await;
        self.phase.stop();
        self.heal().await;
        self.recorder.healed();
        self.wait_for_workload().await;
        let liveness = self.check_liveness().await;
        self.recorder.liveness(liveness);
        self.collect().await;
        Ok(())
    }

    async fn fault_phase(&mut self) {
        let menu = self.config.scenario.menu();
        let end = history::now() + self.config.fault_phase;
        // Let the cluster elect its first leader and the workload start.
        tokio::time::sleep(self.rng.millis(1000, 3000)).await;
        while history::now() < end {
            if menu.is_empty() {
                tokio::time::sleep(end - history::now()).await;
                break;
            }
            let weights: Vec<u32> = menu.iter().map(|(_, w)| *w).collect();
            let first = menu[self.rng.weighted(&weights)].0;
            let mut undos = vec![self.apply(first).await];
            // Now and then a second fault on top of the first (a partition during a slow
            // disk, a crash of the member that was just isolated): faults come together.
            if self.config.scenario == Scenario::Mixed && self.rng.chance(COMPOUND_CHANCE) {
                tokio::time::sleep(self.rng.millis(0, 1000)).await;
                let second = menu[self.rng.weighted(&weights)].0;
                undos.push(self.apply(second).await);
            }
            let hold = self.rng.millis(300, 5000);
            tokio::time::sleep(hold.min(end.saturating_sub(history::now()))).await;
            for undo in undos.into_iter().rev() {
                self.undo(undo).await;
            }
            tokio::time::sleep(self.rng.millis(200, 2000)).await;
        }
    }

    fn pick_member(&mut self) -> String {
        self.rng.pick(&self.members).cloned().unwrap_or_default()
    }

    /// The other hosts of `member`: every host, or only the members.
    fn others(&self, member: &str, only_members: bool) -> Vec<String> {
        let pool = if only_members {
            &self.members
        } else {
            &self.hosts
        };
        pool.iter().filter(|h| *h != member).cloned().collect()
    }

    fn cut_off(&self, member: &str, only_members: bool) {
        for other in self.others(member, only_members) {
            turmoil::partition(member, other.as_str());
        }
    }

    async fn apply(&mut self, kind: FaultKind) -> Undo {
        match kind {
            FaultKind::Isolate => {
                let member = self.pick_member();
                self.recorder.fault(format!("isolate {member}"));
                self.cut_off(&member, false);
                Undo::Links
            }
            FaultKind::IsolateLeader => {
                let Some(leader) = self.cluster.leader() else {
                    self.recorder.fault("isolate the leader: there is none");
                    return Undo::Nothing;
                };
                self.recorder.fault(format!("isolate the leader {leader}"));
                self.cut_off(&leader, false);
                Undo::Links
            }
            FaultKind::SplitFromMembers => {
                let member = self.pick_member();
                self.recorder
                    .fault(format!("split {member} from the other members"));
                self.cut_off(&member, true);
                Undo::Links
            }
            FaultKind::OneWay => {
                let from = self.pick_member();
                let others = self.others(&from, true);
                let to = self.rng.pick(&others).cloned().unwrap_or_default();
                self.recorder.fault(format!("drop messages {from} -> {to}"));
                turmoil::partition_oneway(from.as_str(), to.as_str());
                Undo::Links
            }
            FaultKind::Hold => {
                let member = self.pick_member();
                self.recorder.fault(format!(
                    "hold messages between {member} and the other members"
                ));
                for other in self.others(&member, true) {
                    turmoil::hold(member.as_str(), other.as_str());
                }
                Undo::Links
            }
            FaultKind::Latency => {
                let lambda = [0.5, 1.0, 2.0, 5.0][self.rng.below(4) as usize];
                let mut links = Vec::new();
                for (i, a) in self.members.iter().enumerate() {
                    for b in &self.members[i + 1..] {
                        let max = self.rng.millis(5, 400);
                        links.push(format!("{a}-{b} <= {max:?}"));
                        self.faults.inject(Fault::LinkLatency {
                            a: a.clone(),
                            b: b.clone(),
                            max,
                        });
                    }
                }
                self.faults.inject(Fault::LatencyCurve(lambda));
                self.recorder.fault(format!(
                    "latency: {} (exponential, lambda {lambda})",
                    links.join(", ")
                ));
                Undo::Latency
            }
            FaultKind::Loss => {
                let member = self.pick_member();
                let rate = [0.001, 0.005, 0.02][self.rng.below(3) as usize];
                let links: Vec<(String, String)> = self
                    .others(&member, true)
                    .into_iter()
                    .map(|other| (member.clone(), other))
                    .collect();
                for (a, b) in &links {
                    self.faults.inject(Fault::LinkLoss {
                        a: a.clone(),
                        b: b.clone(),
                        rate,
                    });
                }
                self.recorder.fault(format!(
                    "message loss {rate} between {member} and its peers"
                ));
                Undo::Loss(links)
            }
            FaultKind::Crash => {
                let member = self.pick_member();
                self.recorder.fault(format!("crash {member}"));
                self.faults.inject(Fault::Crash(member.clone()));
                Undo::Restart(vec![member])
            }
            FaultKind::PowerCut => {
                let member = self.pick_member();
                self.recorder.fault(format!("power cut {member}"));
                self.faults.inject(Fault::PowerCut(member.clone()));
                Undo::Restart(vec![member])
            }
            FaultKind::PowerCutAll => {
                self.recorder.fault("power cut every member");
                for member in &self.members {
                    self.faults.inject(Fault::PowerCut(member.clone()));
                }
                Undo::Restart(self.members.clone())
            }
            FaultKind::SlowDisk => {
                let member = self.pick_member();
                let delay = self.rng.millis(5, 300);
                self.recorder
                    .fault(format!("slow disk on {member}: {delay:?} per sync"));
                if let Some(disk) = self.cluster.disk(&member) {
                    disk.set_sync_delay(delay);
                }
                Undo::FastDisk(member)
            }
            FaultKind::RemoveAndAddBack => self.remove_member().await,
        }
    }

    async fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Nothing => {}
            Undo::Links => {
                self.recorder.fault("repair every link");
                self.repair_links();
            }
            Undo::Restart(names) => {
                self.recorder.fault(format!("restart {}", names.join(", ")));
                for name in names {
                    self.faults.inject(Fault::Bounce(name));
                }
            }
            Undo::Latency => {
                self.recorder.fault("latency back to normal");
                self.reset_latency();
            }
            Undo::Loss(links) => {
                self.recorder.fault("message loss stops");
                for (a, b) in links {
                    self.faults.inject(Fault::LinkLoss { a, b, rate: 0.0 });
                }
            }
            Undo::FastDisk(member) => {
                self.recorder.fault(format!("disk of {member} fast again"));
                if let Some(disk) = self.cluster.disk(&member) {
                    disk.set_sync_delay(Duration::ZERO);
                }
            }
            Undo::AddBack(member) => self.add_back(&member).await,
        }
    }

    fn repair_links(&self) {
        for (i, a) in self.hosts.iter().enumerate() {
            for b in &self.hosts[i + 1..] {
                // Release also repairs, and lets held messages go.
                turmoil::release(a.as_str(), b.as_str());
                turmoil::repair(a.as_str(), b.as_str());
            }
        }
    }

    fn reset_latency(&self) {
        for (i, a) in self.members.iter().enumerate() {
            for b in &self.members[i + 1..] {
                self.faults.inject(Fault::LinkLatency {
                    a: a.clone(),
                    b: b.clone(),
                    max: self.config.max_message_latency,
                });
            }
        }
        self.faults
            .inject(Fault::LatencyCurve(DEFAULT_LATENCY_CURVE));
    }

    /// Heals everything: links, latency, loss, disks, stopped members, removed members.
    async fn heal(&mut self) {
        self.recorder
            .fault("heal: repair links, restore latency, restart members");
        self.repair_links();
        self.reset_latency();
        for (i, a) in self.members.iter().enumerate() {
            for b in &self.members[i + 1..] {
                self.faults.inject(Fault::LinkLoss {
                    a: a.clone(),
                    b: b.clone(),
                    rate: 0.0,
                });
            }
        }
        for member in self.members.clone() {
            if let Some(disk) = self.cluster.disk(&member) {
                disk.set_sync_delay(Duration::ZERO);
            }
        }
        for member in std::mem::take(&mut self.removed) {
            self.add_back(&member).await;
        }
        // Give the driver a step to apply what was injected, then start what is down.
        tokio::time::sleep(Duration::from_millis(1)).await;
        for member in self.cluster.stopped() {
            self.faults.inject(Fault::Bounce(member));
        }
        self.restore_membership().await;
    }

    /// Makes sure every member is in the member list again. A `member remove` whose answer
    /// was lost may still have been applied; such a member is wiped and added back.
    async fn restore_membership(&mut self) {
        for member in self.members.clone() {
            for _ in 0..MEMBERSHIP_ATTEMPTS {
                let Some(via) = self.other_running(&member) else {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                };
                match self.member_id(&via, &member).await {
                    Ok(Some(_)) => break,
                    Ok(None) => {
                        self.recorder
                            .fault(format!("{member} is not a member after all: wipe it"));
                        self.faults.inject(Fault::Wipe(member.clone()));
                        self.add_back(&member).await;
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
        }
    }

    async fn wait_for_workload(&self) {
        let deadline = history::now() + self.config.settle_bound;
        while self.phase.running() > 0 && history::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Nemesis {
    /// `member remove` of a random member through another, then wipe it.
    async fn remove_member(&mut self) -> Undo {
        let member = self.pick_member();
        let Some(via) = self.other_running(&member) else {
            self.recorder
                .fault(format!("remove {member}: no other member is up"));
            return Undo::Nothing;
        };
        let Ok(Some(id)) = self.member_id(&via, &member).await else {
            self.recorder
                .fault(format!("remove {member}: member list via {via} failed"));
            return Undo::Nothing;
        };
        let mut cluster = match member_channel(&via) {
            Ok(channel) => ClusterClient::new(channel),
            Err(_) => return Undo::Nothing,
        };
        let request = MemberRemoveRequest { id };
        let removed = tokio::time::timeout(CALL_TIMEOUT * 4, cluster.member_remove(request)).await;
        // An unanswered removal may still happen: ask again who is a member.
        let gone = match removed {
            Ok(Ok(_)) => true,
            _ => matches!(self.member_id(&via, &member).await, Ok(None)),
        };
        if !gone {
            self.recorder
                .fault(format!("remove {member} via {via}: not removed"));
            return Undo::Nothing;
        }
        self.recorder.fault(format!(
            "removed {member} (member {id:x}) via {via}; wipe it"
        ));
        self.faults.inject(Fault::Wipe(member.clone()));
        self.removed.push(member.clone());
        Undo::AddBack(member)
    }

    /// Starts `member` on its empty disk, then `member add`s its peer URL (retried until the
    /// member list shows it, or the settle bound passes).
    async fn add_back(&mut self, member: &str) {
        self.removed.retain(|m| m != member);
        // Started first. etcd's runbook adds, then starts; but with one voter left, adding a
        // second makes the quorum two and the change cannot commit until the new member
        // answers. A kubesim member started with `existing` simply waits to be added.
        self.recorder
            .fault(format!("start {member} (joins the existing cluster)"));
        self.faults.inject(Fault::Bounce(member.to_owned()));
        let peer_url = format!("http://{member}:{PEER_PORT}");
        let deadline = history::now() + self.config.settle_bound;
        let mut last_error = String::from("no other member was up");
        while history::now() < deadline {
            let Some(via) = self.other_running(member) else {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            };
            if let Ok(Some(_)) = self.member_id(&via, member).await {
                break;
            }
            let request = MemberAddRequest {
                peer_ur_ls: vec![peer_url.clone()],
                is_learner: false,
            };
            let added = match member_channel(&via) {
                Ok(channel) => {
                    let mut cluster = ClusterClient::new(channel);
                    tokio::time::timeout(CALL_TIMEOUT * 4, cluster.member_add(request)).await
                }
                Err(e) => {
                    last_error = format!("{e:#}");
                    continue;
                }
            };
            match added {
                Ok(Ok(_)) => {
                    self.recorder
                        .fault(format!("added {member} back via {via}"));
                    break;
                }
                Ok(Err(status)) => last_error = format!("via {via}: {status}"),
                Err(_) => last_error = format!("via {via}: timed out"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if history::now() >= deadline {
            self.recorder
                .fault(format!("could not add {member} back: {last_error}"));
        }
    }

    /// A running member other than `member`, chosen at random.
    fn other_running(&mut self, member: &str) -> Option<String> {
        let running: Vec<String> = self
            .cluster
            .running()
            .into_iter()
            .filter(|m| m != member)
            .collect();
        self.rng.pick(&running).cloned()
    }

    /// `member`'s ID in the member list, read linearizably through `via` (a lagging member's
    /// own view could still show a member just removed). `Err` if the list could not be read.
    async fn member_id(&self, via: &str, member: &str) -> Result<Option<u64>, String> {
        let peer_url = format!("http://{member}:{PEER_PORT}");
        let channel = member_channel(via).map_err(|e| format!("{e:#}"))?;
        let request = MemberListRequest { linearizable: true };
        let list = tokio::time::timeout(
            CALL_TIMEOUT,
            ClusterClient::new(channel).member_list(request),
        )
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|status| status.to_string())?
        .into_inner();
        Ok(list
            .members
            .iter()
            .find(|m| m.peer_ur_ls.contains(&peer_url))
            .map(|m| m.id))
    }

    /// After healing: time to an agreed leader, and to a write through every member.
    async fn check_liveness(&mut self) -> Liveness {
        let start = history::now();
        let bound = self.config.liveness_bound;
        let deadline = start + bound;
        let mut leader_after = None;
        while history::now() < deadline {
            if self.agreed_leader().await.is_some() {
                leader_after = Some(history::now() - start);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut write_after = std::collections::BTreeMap::new();
        for member in self.members.clone() {
            let mut took = None;
            let mut n = 0;
            while history::now() < deadline {
                n += 1;
                if self.liveness_put(&member, n).await {
                    took = Some(history::now() - start);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            write_after.insert(member, took);
        }
        Liveness {
            leader_after,
            write_after,
            bound,
        }
    }

    /// The leader every member names, when they all name the same one.
    async fn agreed_leader(&self) -> Option<u64> {
        let mut leaders = Vec::new();
        for member in &self.members {
            let mut maintenance = MaintenanceClient::new(member_channel(member).ok()?);
            let status = tokio::time::timeout(CALL_TIMEOUT, maintenance.status(StatusRequest {}))
                .await
                .ok()?
                .ok()?
                .into_inner();
            leaders.push(status.leader);
        }
        let first = *leaders.first()?;
        (first != 0 && leaders.iter().all(|l| *l == first)).then_some(first)
    }

    /// One recorded put through `member` (a liveness probe is a client call like any other).
    async fn liveness_put(&mut self, member: &str, attempt: u64) -> bool {
        let op = Op::Put {
            key: format!("liveness/{member}"),
            value: format!("{NEMESIS}-{member}-{attempt}"),
            lease: 0,
        };
        let Ok(channel) = member_channel(member) else {
            return false;
        };
        let id = self.recorder.invoke(NEMESIS, member, op.clone());
        let request = PutRequest {
            key: format!("liveness/{member}").into_bytes(),
            value: format!("{NEMESIS}-{member}-{attempt}").into_bytes(),
            ..Default::default()
        };
        let outcome =
            match tokio::time::timeout(CALL_TIMEOUT, KvClient::new(channel).put(request)).await {
                Ok(Ok(r)) => Outcome::Put {
                    revision: r.get_ref().header.as_ref().map_or(0, |h| h.revision),
                },
                Ok(Err(status)) => {
                    Outcome::Unknown(format!("{:?}: {}", status.code(), status.message()))
                }
                Err(_) => Outcome::Unknown("timed out".to_owned()),
            };
        let ok = matches!(outcome, Outcome::Put { .. });
        self.recorder.complete(id, outcome);
        ok
    }

    /// Waits until every member is up, every lease has expired (an expiry is a write) and
    /// all have applied the same revision; then reads each member's history straight from
    /// its store, all in one instant, and takes HashKV through the API at that revision.
    async fn collect(&mut self) {
        let deadline = history::now() + self.config.settle_bound;
        let mut states = None;
        while history::now() < deadline {
            states = self.settled_states();
            if states.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let Some(states) = states else {
            // Left for the hashes checker to report: no common revision.
            for member in self.members.clone() {
                if let Some(handle) = self.cluster.handle(&member) {
                    let state = handle.with_mvcc(|mvcc| member_state(mvcc, None));
                    self.recorder.member_state(&member, state);
                }
            }
            return;
        };
        let revision = states.first().map_or(0, |(_, s)| s.current_revision);
        self.recorder.hash_revision(revision);
        for (member, mut state) in states {
            state.hash = self.hash_kv(&member, revision).await;
            self.recorder.member_state(&member, state);
        }
    }

    /// Every member's state, if all are up, lease-free and at one revision.
    fn settled_states(&self) -> Option<Vec<(String, MemberState)>> {
        let mut states = Vec::new();
        for member in &self.members {
            let handle = self.cluster.handle(member)?;
            let state = handle.with_mvcc(|mvcc| {
                (mvcc.leases().next().is_none()).then(|| member_state(mvcc, None))
            })?;
            states.push((member.clone(), state));
        }
        let first = states.first()?.1.current_revision;
        states
            .iter()
            .all(|(_, s)| s.current_revision == first)
            .then_some(states)
    }

    async fn hash_kv(&self, member: &str, revision: i64) -> Option<(u32, i64)> {
        if revision <= 0 {
            return None;
        }
        let mut maintenance = MaintenanceClient::new(member_channel(member).ok()?);
        let response = tokio::time::timeout(
            CALL_TIMEOUT,
            maintenance.hash_kv(HashKvRequest { revision }),
        )
        .await
        .ok()?
        .ok()?
        .into_inner();
        Some((response.hash, response.compact_revision))
    }
}

/// A member's history and revisions, read from its MVCC store.
fn member_state(mvcc: &kubesim_mvcc::Mvcc, hash: Option<(u32, i64)>) -> MemberState {
    let compact_revision = mvcc.compact_revision();
    // The keys live at the compaction come first, as puts at their own (older) revisions:
    // without them a key not written since would look absent to the checkers.
    let mut events = live_at_compaction(mvcc, compact_revision);
    events.extend(
        mvcc.events_since(compact_revision + 1, &[0], &[0], usize::MAX)
            .unwrap_or_default(),
    );
    MemberState {
        current_revision: mvcc.current_revision(),
        compact_revision,
        events,
        hash,
    }
}

/// Every key live at `compact_revision`, as a put event at its mod_revision, in revision
/// order. Empty if nothing was compacted.
fn live_at_compaction(mvcc: &kubesim_mvcc::Mvcc, compact_revision: i64) -> Vec<Event> {
    if compact_revision <= 1 {
        return Vec::new();
    }
    let request = kubesim_proto::etcdserverpb::RangeRequest {
        key: vec![0],
        range_end: vec![0],
        revision: compact_revision,
        ..Default::default()
    };
    let Ok(response) = mvcc.range(&request) else {
        return Vec::new();
    };
    let mut events: Vec<Event> = response
        .kvs
        .into_iter()
        .map(|kv| Event {
            r#type: 0,
            kv: Some(kv),
            prev_kv: None,
        })
        .collect();
    events.sort_by_key(|e| e.kv.as_ref().map(|kv| (kv.mod_revision, kv.key.clone())));
    events
}
