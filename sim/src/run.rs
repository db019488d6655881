//! One seeded chaos run of the store: three members, the workload, the nemesis, then every
//! checker over the history. [`run`] is what the CLI, the tests and CI call.

use std::fmt;
use std::time::{Duration, Instant};

use kubesim_store::{PlantedBug, Timing};

use crate::check::{self, Violation};
use crate::cluster::{Cluster, ClusterConfig};
use crate::history::{History, Recorder};
use crate::nemesis::{NEMESIS, Nemesis, NemesisConfig, Scenario};
use crate::trace::hash_lines;
use crate::workload::{Client, Phase, Watching, WorkloadConfig};

/// Everything that shapes a run. The seed decides the rest.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub seed: u64,
    pub scenario: Scenario,
    /// Length of the fault phase (simulated).
    pub fault_phase: Duration,
    pub workload: WorkloadConfig,
    /// A known bug to plant (test-only), to show that the checkers find it.
    pub planted_bug: PlantedBug,
}

impl RunConfig {
    pub fn new(seed: u64, scenario: Scenario) -> Self {
        RunConfig {
            seed,
            scenario,
            fault_phase: Duration::from_secs(30),
            workload: WorkloadConfig::default(),
            planted_bug: PlantedBug::None,
        }
    }

    /// The one command that replays this run.
    pub fn replay_command(&self) -> String {
        let mut command = format!(
            "cargo run -p kubesim-sim --release -- run --seed {} --scenario {} --duration {}s",
            self.seed,
            self.scenario,
            self.fault_phase.as_secs()
        );
        if self.planted_bug != PlantedBug::None {
            command.push_str(&format!(" --plant {}", self.planted_bug.name()));
        }
        command
    }
}

/// What a run found.
pub struct RunReport {
    pub config: RunConfig,
    /// FNV-1a over the rendered history: equal for two runs of one seed.
    pub trace_hash: u64,
    pub violations: Vec<Violation>,
    /// The harness itself failed (a host returned an error, the run overran its bounds).
    pub error: Option<String>,
    pub history: History,
    /// Simulated time the run covered.
    pub simulated: Duration,
    /// Real time it took.
    pub wall: Duration,
}

impl RunReport {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.violations.is_empty()
    }

    /// Calls made, and how many ended unknown.
    pub fn call_counts(&self) -> (usize, usize) {
        let unknown = self.history.calls.iter().filter(|c| c.is_unknown()).count();
        (self.history.calls.len(), unknown)
    }

    /// Simulated seconds per wall-clock second.
    pub fn speed(&self) -> f64 {
        self.simulated.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }

    /// One line: seed, verdict, trace hash, size.
    pub fn summary(&self) -> String {
        let (calls, unknown) = self.call_counts();
        let verdict = if self.passed() { "pass" } else { "FAIL" };
        format!(
            "seed {:>6} {:<10} {verdict}  trace {:016x}  {calls} calls ({unknown} unknown), {} faults, {} watch sessions, {:.0}s simulated in {:.1}s ({:.0}x), {}",
            self.config.seed,
            self.config.scenario.name(),
            self.trace_hash,
            self.history.faults.len(),
            self.history
                .watchers
                .iter()
                .map(|w| w.sessions.len())
                .sum::<usize>(),
            self.simulated.as_secs_f64(),
            self.wall.as_secs_f64(),
            self.speed(),
            self.recovery(),
        )
    }

    /// How long after healing every member took a write, as liveness measured it.
    fn recovery(&self) -> String {
        let slowest = self.history.liveness.as_ref().and_then(|l| {
            l.write_after
                .values()
                .try_fold(Duration::ZERO, |max, took| took.map(|t| t.max(max)))
        });
        match slowest {
            Some(t) => format!("writes everywhere {:.1}s after healing", t.as_secs_f64()),
            None => "no write everywhere after healing".to_owned(),
        }
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        if let Some(error) = &self.error {
            writeln!(f, "  harness error: {error}")?;
        }
        for violation in &self.violations {
            write!(f, "  {violation}")?;
        }
        if !self.passed() {
            writeln!(f, "  replay: {}", self.config.replay_command())?;
        }
        Ok(())
    }
}

/// Raft timing for the simulation: etcd's defaults, but snapshots every few hundred
/// entries so that restarts and slow followers go through snapshot install.
fn sim_timing() -> Timing {
    Timing {
        snapshot_count: 500,
        ..Timing::default()
    }
}

/// Runs one seed and checks it.
///
/// Run in a fresh process for exact replay (as the CLI does): a second run in the same
/// process may follow a different schedule (ARCHITECTURE.md, "Each seed runs in a fresh
/// process").
pub fn run(config: &RunConfig) -> RunReport {
    let started = Instant::now();
    let mut cluster_config = ClusterConfig::new(config.seed);
    cluster_config.timing = sim_timing();
    cluster_config.planted_bug = config.planted_bug;
    // Fault phase, then at most: clients finishing, liveness, catching up and collecting.
    cluster_config.simulation_duration = config.fault_phase + Duration::from_secs(240);
    cluster_config.wall_limit = Duration::from_secs(600);
    let max_message_latency = cluster_config.max_message_latency;
    let mut cluster = Cluster::new(cluster_config);

    let recorder = Recorder::new();
    let phase = Phase::default();
    let members = cluster.member_names();
    let error = add_hosts(&mut cluster, config, &recorder, &phase, &members)
        .and_then(|()| {
            let mut hosts = members.clone();
            hosts.extend(client_names(&config.workload));
            hosts.push(NEMESIS.to_owned());
            let nemesis = Nemesis::new(
                NemesisConfig {
                    scenario: config.scenario,
                    fault_phase: config.fault_phase,
                    liveness_bound: Duration::from_secs(30),
                    max_message_latency,
                    settle_bound: Duration::from_secs(60),
                },
                &cluster,
                hosts,
                recorder.clone(),
                phase.clone(),
            );
            cluster.client(NEMESIS, nemesis.run());
            run_catching_panics(&mut cluster)
        })
        .err()
        .map(|e| format!("{e:#}"));
    let simulated = cluster.elapsed();
    // A panicked simulation may panic again as its hosts are torn down.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(cluster)));

    let history = recorder.history();
    let violations = check::check_all(&history);
    RunReport {
        config: config.clone(),
        trace_hash: trace_hash(&history),
        violations,
        error,
        history,
        simulated,
        wall: started.elapsed(),
    }
}

/// Runs the simulation; a panic anywhere in it (a host's task, an assertion in the code
/// under test) becomes a failed run with its message rather than the end of the process.
pub(crate) fn run_catching_panics(cluster: &mut Cluster) -> anyhow::Result<()> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cluster.run())) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic without a message".to_owned());
            anyhow::bail!("the simulation panicked: {message}")
        }
    }
}

fn client_names(workload: &WorkloadConfig) -> Vec<String> {
    let clients = (1..=workload.clients).map(|i| format!("client-{i}"));
    let watchers = (1..=workload.watchers).map(|i| format!("watcher-{i}"));
    clients.chain(watchers).collect()
}

fn add_hosts(
    cluster: &mut Cluster,
    config: &RunConfig,
    recorder: &Recorder,
    phase: &Phase,
    members: &[String],
) -> anyhow::Result<()> {
    for index in 1..=config.workload.clients as u64 {
        // Built inside the host: a channel needs the host's runtime.
        let (members, recorder, phase) = (members.to_vec(), recorder.clone(), phase.clone());
        let (workload, seed) = (config.workload.clone(), config.seed);
        cluster.client(&format!("client-{index}"), async move {
            Client::new(index, &members, recorder, phase, workload, seed)?
                .run()
                .await
        });
    }
    for index in 1..=config.workload.watchers as u64 {
        let watcher = Watching::new(index, members, recorder.clone(), phase.clone(), config.seed);
        cluster.client(&format!("watcher-{index}"), watcher.run());
    }
    Ok(())
}

/// FNV-1a over the history as text: calls with times and outcomes, faults, watch
/// responses, and the members' final revisions and hashes.
pub fn trace_hash(history: &History) -> u64 {
    let calls = history.calls.iter().map(ToString::to_string);
    let faults = history
        .faults
        .iter()
        .map(|f| format!("{:.3}s {}", f.at.as_secs_f64(), f.what));
    let watches = history.watchers.iter().flat_map(|w| {
        w.sessions.iter().flat_map(move |s| {
            let opened = format!(
                "{} via {} from {} at {:.3}s, ended: {}",
                w.client,
                s.member,
                s.start_revision,
                s.opened.as_secs_f64(),
                s.ended
            );
            let responses = s.responses.iter().map(|r| {
                let revisions: Vec<String> = r
                    .events
                    .iter()
                    .map(|e| {
                        let kv = e.kv.as_ref();
                        format!(
                            "{}:{}",
                            kv.map_or(0, |kv| kv.mod_revision),
                            kv.map_or_else(String::new, |kv| String::from_utf8_lossy(&kv.key)
                                .into_owned())
                        )
                    })
                    .collect();
                format!(
                    "  {:.3}s header {} [{}]",
                    r.at.as_secs_f64(),
                    r.header_revision,
                    revisions.join(" ")
                )
            });
            std::iter::once(opened).chain(responses)
        })
    });
    let members = history.members.iter().map(|(name, state)| {
        format!(
            "{name}: revision {} compacted {} hash {:?}",
            state.current_revision, state.compact_revision, state.hash
        )
    });
    hash_lines(calls.chain(faults).chain(watches).chain(members))
}
