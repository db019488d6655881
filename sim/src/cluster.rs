//! [`Cluster`]: a turmoil simulation of a kubesim store cluster, and the faults a test may
//! inject into it.
//!
//! Hosts `store-1` .. `store-N` each run one `kubesim_store::StoreNode` (peer port 2380,
//! client port 2379). Tests add client hosts with [`Cluster::client`]; a client asks for a
//! crash or a restart through a [`Faults`] handle, and [`Cluster::run`] applies it between two
//! simulation steps (turmoil only lets the driver, not a host, crash or bounce a host).
//! Partitions need no help: a client calls `turmoil::partition` / `turmoil::repair` itself.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context as _, anyhow, bail};
use kubesim_net::{Env, MemDisk, SeededEntropy};
use kubesim_store::{
    InitialClusterState, InitialMember, PlantedBug, StoreConfig, StoreHandle, StoreNode, Timing,
};

use crate::clock::{DEFAULT_EPOCH, SimClock};
use crate::network::TurmoilNetwork;

/// Port of the etcd v3 API on every member.
pub const CLIENT_PORT: u16 = 2379;
/// Port of the Raft peer protocol on every member.
pub const PEER_PORT: u16 = 2380;

/// Everything that shapes one simulated run. The seed decides all the rest that is random.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The run's seed: turmoil's network randomness, the tokio runtimes (with
    /// `--cfg tokio_unstable`) and each member's entropy derive from it.
    pub seed: u64,
    /// How many store members (`store-1` .. `store-N`).
    pub members: usize,
    /// Simulated time after which an unfinished run fails.
    pub simulation_duration: Duration,
    /// Real time after which an unfinished run fails: simulated code that spins without
    /// letting simulated time pass would otherwise hang the test.
    pub wall_limit: Duration,
    /// Simulated time per step: the resolution of timers and message delivery.
    pub tick: Duration,
    /// Bounds of the one-way latency of every message.
    pub min_message_latency: Duration,
    pub max_message_latency: Duration,
    /// Wall clock at the start of the run (time since the Unix epoch).
    pub epoch: Duration,
    /// Raft and request timing of every member.
    pub timing: Timing,
    /// A known bug to plant in every member (test-only; see `kubesim_store::PlantedBug`).
    pub planted_bug: PlantedBug,
}

impl ClusterConfig {
    pub fn new(seed: u64) -> Self {
        ClusterConfig {
            seed,
            members: 3,
            simulation_duration: Duration::from_secs(120),
            wall_limit: Duration::from_secs(300),
            tick: Duration::from_millis(1),
            min_message_latency: Duration::from_millis(1),
            max_message_latency: Duration::from_millis(20),
            epoch: DEFAULT_EPOCH,
            timing: Timing::default(),
            planted_bug: PlantedBug::None,
        }
    }
}

/// A fault that only the simulation driver can apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The member's process dies: its software stops, its peers see its connections close,
    /// and its disk keeps only what was synced.
    Crash(String),
    /// The member's machine loses power: as `Crash`, but its peers see nothing (no FIN) and
    /// the packets in flight to and from it are lost, so only their timeouts tell them.
    /// Lifts any explicit partition of that member.
    PowerCut(String),
    /// The member starts again on its disk (after a crash, or in place of the running one).
    Bounce(String),
    /// The member is stopped (as `Crash`) and its disk replaced by an empty one; its next
    /// start joins the existing cluster (`--initial-cluster-state existing`), as an operator
    /// does after `member remove` and `member add`.
    Wipe(String),
    /// Messages between `a` and `b` (both ways) take from the run's minimum latency up to
    /// `max`, exponentially distributed (turmoil's curve).
    LinkLatency { a: String, b: String, max: Duration },
    /// The shape of every link's latency distribution: turmoil's exponential lambda (higher
    /// means most messages near the minimum).
    LatencyCurve(f64),
    /// Each message between `a` and `b` breaks the link with probability `rate`: the
    /// messages in flight are lost and the link stays down until it repairs at random.
    LinkLoss { a: String, b: String, rate: f64 },
    /// A host that is not a member (added with [`Cluster::host`]: the API server, a
    /// webhook) dies: its tasks stop, its peers see its connections close.
    CrashHost(String),
    /// A host that is not a member starts again (after a crash, or in place of the running
    /// one, which dies first).
    BounceHost(String),
}

/// Where clients leave faults for the driver. Clonable into any client future.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Faults asked for and not yet applied, oldest first.
    pending: Rc<RefCell<VecDeque<Fault>>>,
}

impl Faults {
    /// Asks for `fault`; it takes effect before the next simulation step.
    pub fn inject(&self, fault: Fault) {
        self.pending.borrow_mut().push_back(fault);
    }

    fn take(&self) -> Option<Fault> {
        self.pending.borrow_mut().pop_front()
    }
}

/// A simulated store cluster.
pub struct Cluster {
    /// The turmoil simulation that runs every host.
    sim: turmoil::Sim<'static>,
    config: ClusterConfig,
    /// Each member's disk and running handle, by host name. Kept here, outside the host
    /// closures, so that a disk outlives a crash and a restart sees what was synced before.
    members: Members,
    /// Faults asked for by clients.
    faults: Faults,
    /// Host names of the clients, to cut links to them in a power cut.
    clients: Vec<String>,
}

impl Cluster {
    /// A cluster of `config.members` members, not yet running.
    pub fn new(config: ClusterConfig) -> Self {
        let sim = build_sim(&config);
        let mut cluster = Cluster {
            sim,
            config,
            members: Members::default(),
            faults: Faults::default(),
            clients: Vec::new(),
        };
        for index in 1..=cluster.config.members {
            cluster.add_member(index);
        }
        cluster
    }

    /// Host names of the members, in order.
    pub fn member_names(&self) -> Vec<String> {
        (1..=self.config.members).map(member_name).collect()
    }

    /// Simulated time since the start of the run.
    pub fn elapsed(&self) -> Duration {
        self.sim.elapsed()
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// The members' disks and running handles, for the nemesis and the final checks.
    pub fn members(&self) -> Members {
        self.members.clone()
    }

    /// The handle through which clients ask for crashes and restarts.
    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }

    /// Adds a client host running `client`. The run ends when every client has finished;
    /// a client that returns an error fails the run.
    pub fn client<F>(&mut self, name: &str, client: F)
    where
        F: Future<Output = anyhow::Result<()>> + 'static,
    {
        self.clients.push(name.to_owned());
        self.sim.client(name, async move {
            client.await.map_err(|e| format!("{e:#}"))?;
            Ok(())
        });
    }

    /// Adds a server host that is not a store member (the API server, a webhook): turmoil
    /// calls `start` at the first step and again after each [`Fault::BounceHost`]. Unlike a
    /// client, the run does not wait for it to finish.
    pub fn host<F, Fut>(&mut self, name: &str, start: F)
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = anyhow::Result<()>> + 'static,
    {
        self.clients.push(name.to_owned());
        self.sim.host(name, move || {
            let server = start();
            async move {
                server.await.map_err(|e| format!("{e:#}"))?;
                Ok(())
            }
        });
    }

    /// Runs until every client has finished, applying requested faults between steps.
    /// Fails if a host fails, or if the run outlasts its simulated or wall-clock bound.
    pub fn run(&mut self) -> anyhow::Result<()> {
        // Real time, on purpose: this bounds how long the test may take on the machine.
        let started = std::time::Instant::now();
        loop {
            while let Some(fault) = self.faults.take() {
                self.apply(fault)?;
            }
            let finished = self
                .sim
                .step()
                .map_err(|e| anyhow!("{e}"))
                .with_context(|| self.failure_context())?;
            if finished {
                return Ok(());
            }
            if started.elapsed() > self.config.wall_limit {
                bail!(
                    "still running after {:?} of wall time ({:?} simulated); {}",
                    self.config.wall_limit,
                    self.sim.elapsed(),
                    self.failure_context()
                );
            }
        }
    }

    /// Kills member `name`: what it did not sync is lost, its software stops, and its peers
    /// see its connections close.
    pub fn crash(&mut self, name: &str) -> anyhow::Result<()> {
        let disk = self.disk(name)?;
        // The cut comes first: turmoil's crash runs destructors, and a database dropped
        // after the cut can no longer write the disk.
        disk.power_cut();
        self.members.set_handle(name, None);
        self.members.set_stopped(name, true);
        self.sim.crash(name);
        Ok(())
    }

    /// Cuts the power of member `name`: as [`Cluster::crash`], but nothing it would send as
    /// it dies (FINs, last writes) reaches anyone, and what was in flight is lost.
    pub fn power_cut(&mut self, name: &str) -> anyhow::Result<()> {
        let others: Vec<String> = self.hosts().filter(|h| h != name).collect();
        for other in &others {
            self.sim.partition(name, other.as_str());
        }
        self.crash(name)?;
        for other in &others {
            self.sim.repair(name, other.as_str());
        }
        Ok(())
    }

    /// Starts member `name` again on the disk it had.
    pub fn bounce(&mut self, name: &str) -> anyhow::Result<()> {
        let disk = self.disk(name)?;
        if self.sim.is_host_running(name) {
            // The running incarnation dies first, as in `crash`.
            disk.power_cut();
        }
        self.members.set_handle(name, None);
        self.members.set_stopped(name, false);
        self.sim.bounce(name);
        Ok(())
    }

    /// Stops member `name` and gives it an empty disk; it joins the existing cluster when it
    /// next starts.
    pub fn wipe(&mut self, name: &str) -> anyhow::Result<()> {
        self.crash(name)?;
        self.members.wipe(name);
        Ok(())
    }

    fn apply(&mut self, fault: Fault) -> anyhow::Result<()> {
        tracing::info!(?fault, elapsed = ?self.sim.elapsed(), "injecting fault");
        match fault {
            Fault::Crash(name) => self.crash(&name),
            Fault::PowerCut(name) => self.power_cut(&name),
            Fault::Bounce(name) => self.bounce(&name),
            Fault::Wipe(name) => self.wipe(&name),
            Fault::LinkLatency { a, b, max } => {
                self.sim
                    .set_link_max_message_latency(a.as_str(), b.as_str(), max);
                Ok(())
            }
            Fault::LatencyCurve(lambda) => {
                if !(lambda.is_finite() && lambda > 0.0) {
                    bail!("latency curve {lambda} must be positive");
                }
                self.sim.set_message_latency_curve(lambda);
                Ok(())
            }
            Fault::LinkLoss { a, b, rate } => {
                if !(0.0..=1.0).contains(&rate) {
                    bail!("loss rate {rate} must be within 0..=1");
                }
                self.sim.set_link_fail_rate(a.as_str(), b.as_str(), rate);
                Ok(())
            }
            Fault::CrashHost(name) => {
                self.sim.crash(name.as_str());
                Ok(())
            }
            Fault::BounceHost(name) => {
                self.sim.bounce(name.as_str());
                Ok(())
            }
        }
    }

    /// Every host: members and clients.
    fn hosts(&self) -> impl Iterator<Item = String> + '_ {
        self.member_names()
            .into_iter()
            .chain(self.clients.iter().cloned())
    }

    fn disk(&self, name: &str) -> anyhow::Result<MemDisk> {
        self.members
            .disk(name)
            .ok_or_else(|| anyhow!("{name:?} is not a member of this cluster"))
    }

    fn failure_context(&self) -> String {
        format!(
            "seed {} (replay: KUBESIM_SEED={} cargo test -p kubesim-sim)",
            self.config.seed, self.config.seed
        )
    }

    fn add_member(&mut self, index: usize) {
        let name = member_name(index);
        self.members.add(&name);
        let members = self.members.clone();
        let store_config = store_config(&self.config, index);
        let seed = self.config.seed;
        let epoch = self.config.epoch;
        // Counts the incarnations of this member, so a restarted member draws fresh IDs
        // rather than replaying the ones it handed out before the crash.
        let incarnation = Cell::new(0u64);
        self.sim.host(name.clone(), move || {
            let (disk, join_existing) = members.slot(&name);
            let mut store_config = store_config.clone();
            if join_existing {
                store_config.initial_cluster_state = InitialClusterState::Existing;
            }
            let env = Env {
                net: Arc::new(TurmoilNetwork),
                clock: Arc::new(SimClock::new(epoch)),
                entropy: Arc::new(SeededEntropy::from_seed(member_seed(
                    seed,
                    index,
                    incarnation.replace(incarnation.get() + 1),
                ))),
                disk: Arc::new(disk),
            };
            run_member(env, store_config, members.clone(), name.clone())
        });
    }
}

/// One member as the driver keeps it: its disk, whether its next start joins an existing
/// cluster, and the handle of its running incarnation.
struct MemberSlot {
    disk: MemDisk,
    join_existing: bool,
    handle: Option<StoreHandle>,
    /// Crashed (or wiped) and not started again yet.
    stopped: bool,
}

/// Every member's slot, shared by the driver, the host closures and the nemesis. The
/// handles let the nemesis find the leader and the final checks read each member's state
/// directly; clients only ever use the network.
#[derive(Clone, Default)]
pub struct Members {
    slots: Rc<RefCell<BTreeMap<String, MemberSlot>>>,
}

impl Members {
    fn add(&self, name: &str) {
        let slot = MemberSlot {
            disk: MemDisk::new(),
            join_existing: false,
            handle: None,
            stopped: false,
        };
        self.slots.borrow_mut().insert(name.to_owned(), slot);
    }

    /// The disk and the join mode for the next start of `name`.
    fn slot(&self, name: &str) -> (MemDisk, bool) {
        let slots = self.slots.borrow();
        match slots.get(name) {
            Some(slot) => (slot.disk.clone(), slot.join_existing),
            // Every host is added with its slot; an unknown name is a harness bug, and a
            // fresh disk makes it visible as a member that lost its data.
            None => (MemDisk::new(), false),
        }
    }

    fn set_stopped(&self, name: &str, stopped: bool) {
        if let Some(slot) = self.slots.borrow_mut().get_mut(name) {
            slot.stopped = stopped;
        }
    }

    /// Names of the members that were stopped and not started again.
    pub fn stopped(&self) -> Vec<String> {
        let slots = self.slots.borrow();
        slots
            .iter()
            .filter(|(_, slot)| slot.stopped)
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn set_handle(&self, name: &str, handle: Option<StoreHandle>) {
        if let Some(slot) = self.slots.borrow_mut().get_mut(name) {
            slot.handle = handle;
        }
    }

    fn wipe(&self, name: &str) {
        if let Some(slot) = self.slots.borrow_mut().get_mut(name) {
            slot.disk = MemDisk::new();
            slot.join_existing = true;
        }
    }

    /// The disk of `name` (shared with the running member: a setting applies at once).
    pub fn disk(&self, name: &str) -> Option<MemDisk> {
        self.slots.borrow().get(name).map(|slot| slot.disk.clone())
    }

    /// The running incarnation of `name`, if it is up.
    pub fn handle(&self, name: &str) -> Option<StoreHandle> {
        self.slots.borrow().get(name)?.handle.clone()
    }

    /// Names of the members that are up.
    pub fn running(&self) -> Vec<String> {
        let slots = self.slots.borrow();
        slots
            .iter()
            .filter(|(_, slot)| slot.handle.is_some())
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// A member that is up and believes it leads. During a partition two may; the first
    /// by name is returned.
    pub fn leader(&self) -> Option<String> {
        let slots = self.slots.borrow();
        slots
            .iter()
            .find(|(_, slot)| slot.handle.as_ref().is_some_and(StoreHandle::is_leader))
            .map(|(name, _)| name.clone())
    }
}

/// One incarnation of a member: starts it and keeps it running until turmoil crashes or
/// bounces the host (the node's tasks live on the host's runtime, which turmoil stops
/// ticking once this future returns).
async fn run_member(
    env: Env,
    config: StoreConfig,
    members: Members,
    name: String,
) -> turmoil::Result {
    let node = StoreNode::start(env, config).await?;
    members.set_handle(&name, Some(node.handle.clone()));
    std::future::pending::<()>().await;
    drop(node);
    Ok(())
}

fn build_sim(config: &ClusterConfig) -> turmoil::Sim<'static> {
    turmoil::Builder::new()
        .rng_seed(config.seed)
        .epoch(UNIX_EPOCH + config.epoch)
        .simulation_duration(config.simulation_duration)
        .tick_duration(config.tick)
        .min_message_latency(config.min_message_latency)
        .max_message_latency(config.max_message_latency)
        // A burst of reconnects must not overflow a listener's accept queue: turmoil panics
        // where a real kernel would drop the SYN.
        .tcp_capacity(4096)
        .build()
}

/// `store-N`, the host name of member N (1-based).
pub fn member_name(index: usize) -> String {
    format!("store-{index}")
}

/// Seed of the entropy of member `index` in its `incarnation`-th start (0 first).
pub fn member_seed(seed: u64, index: usize, incarnation: u64) -> u64 {
    seed ^ index as u64 ^ incarnation.rotate_left(32)
}

fn store_config(config: &ClusterConfig, index: usize) -> StoreConfig {
    let name = member_name(index);
    let client_url = format!("http://{name}:{CLIENT_PORT}");
    let peer_url = format!("http://{name}:{PEER_PORT}");
    let initial_cluster = (1..=config.members)
        .map(|i| InitialMember {
            name: member_name(i),
            peer_url: format!("http://{}:{PEER_PORT}", member_name(i)),
        })
        .collect();
    let mut store = StoreConfig::new(
        &name,
        &client_url,
        &peer_url,
        initial_cluster,
        "kubesim-sim",
    );
    store.timing = config.timing;
    store.planted_bug = config.planted_bug;
    store
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_seeds_differ_by_member_and_incarnation() {
        let seeds = [
            member_seed(7, 1, 0),
            member_seed(7, 2, 0),
            member_seed(7, 1, 1),
            member_seed(8, 1, 0),
        ];
        for (i, a) in seeds.iter().enumerate() {
            for b in &seeds[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(member_seed(7, 1, 0), 7 ^ 1, "first start uses seed ^ index");
    }

    #[test]
    fn store_config_names_every_member() {
        let config = store_config(&ClusterConfig::new(1), 2);
        assert_eq!(config.name, "store-2");
        assert_eq!(config.listen_client_urls, ["http://store-2:2379"]);
        assert_eq!(config.initial_advertise_peer_urls, ["http://store-2:2380"]);
        let peers: Vec<_> = config
            .initial_cluster
            .iter()
            .map(|m| m.peer_url.as_str())
            .collect();
        assert_eq!(
            peers,
            [
                "http://store-1:2380",
                "http://store-2:2380",
                "http://store-3:2380"
            ]
        );
    }
}
