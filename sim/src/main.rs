//! `kubesim-sim`: seeded chaos runs of the store from the command line.
//!
//! ```text
//! cargo run -p kubesim-sim --release -- run --seed 7
//! cargo run -p kubesim-sim --release -- run --seeds 1..50 --scenario mixed --duration 30s
//! cargo run -p kubesim-sim --release -- run --pipeline --seeds 0..50
//! ```
//!
//! `experiment <name>` (or `--config FILE`) runs a sweep of simulated runs (each point and
//! seed in a child process, `--jobs` at once) and writes its tables and plots:
//!
//! ```text
//! cargo run -p kubesim-sim --release -- experiment webhook-timeout
//! cargo run -p kubesim-sim --release -- experiment --print-config webhook-timeout > my.yaml
//! cargo run -p kubesim-sim --release -- experiment --config my.yaml --seeds 5 --jobs 2
//! ```
//!
//! `--pipeline` runs the whole pipeline (API server, webhooks, clients, the store) instead of
//! the store alone, with its own faults and properties 9 to 12 (`kubesim_sim::pipeline`).
//!
//! For each seed: pass or FAIL and the trace hash. On failure: the violated property, the
//! excerpt of the history that shows it, and the one command that replays it. The exit
//! status is 1 if any seed failed.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use kubesim_sim::experiment::{self, Point, Progress, Samples, Sweep};
use kubesim_sim::nemesis::Scenario;
use kubesim_sim::pipeline::PipelineConfig;
use kubesim_sim::run::{RunConfig, RunReport, run};

use kubesim_admission::planted::PlantedBug as AdmissionBug;
use kubesim_store::PlantedBug;

#[derive(Parser)]
#[command(
    name = "kubesim-sim",
    about = "Seeded, reproducible chaos runs of the kubesim store"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one seed or a range of seeds and check every invariant.
    Run(RunArgs),
    /// Run an experiment (a sweep of simulated runs) and write its tables and plots.
    Experiment(ExperimentArgs),
}

#[derive(Args)]
struct ExperimentArgs {
    /// A built-in experiment: webhook-timeout, failure-policy-outage, store-partition,
    /// chained-webhooks, authz-webhook-vs-inprocess.
    #[arg(required_unless_present = "config", conflicts_with = "config")]
    name: Option<String>,
    /// A sweep file (YAML; `--print-config <name>` shows one to start from).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where the reports go (default: target/experiments/<name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seeds per point, instead of the sweep's `seeds_per_point`.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    seeds: Option<u32>,
    /// Print the sweep file and exit.
    #[arg(long)]
    print_config: bool,
    /// Runs at once, each in its own process.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    jobs: u32,
    /// Run against real `kubesim` processes in real time instead of the simulation
    /// (`--kubesim-bin`; one run at a time).
    #[arg(long, requires = "kubesim_bin")]
    real: bool,
    /// The `kubesim` binary `--real` starts.
    #[arg(long)]
    kubesim_bin: Option<PathBuf>,
    /// Run point `--point` with `--seed` here and print its samples (internal).
    #[arg(long, hide = true, requires_all = ["point", "seed"])]
    child: bool,
    #[arg(long, hide = true)]
    point: Option<usize>,
    #[arg(long, hide = true)]
    seed: Option<u64>,
}

#[derive(Args)]
struct RunArgs {
    /// One seed.
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// A range of seeds, `A..B` (B excluded) or `A..=B`.
    #[arg(long, value_parser = parse_seeds)]
    seeds: Option<Range<u64>>,
    /// Which faults: mixed, partitions, crashes, network, membership, calm.
    #[arg(long, default_value = "mixed")]
    scenario: Scenario,
    /// Length of the fault phase in simulated time (`30s`, `2m`).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Plant a known bug (test-only; needs the `planted-bugs` feature, on by default in
    /// this binary): ack-before-fsync, local-linearizable-read, drop-watch-event,
    /// reuse-revision-after-restart (the store); with `--pipeline`, fail-open-on-timeout
    /// (admission) and authz-fail-open (authorization).
    #[arg(long, value_parser = parse_bug)]
    plant: Option<Plant>,
    /// Print the whole history of failing seeds, not only the excerpt.
    #[arg(long)]
    verbose: bool,
    /// Print every fault the nemesis injected, pass or fail.
    #[arg(long)]
    faults: bool,
    /// Run the whole pipeline (API server, admission webhooks, clients with certificates,
    /// watchers, the store) and check properties 9-12; `--scenario` does not apply.
    #[arg(long)]
    pipeline: bool,
    /// Run the seed here and end with a `#stats` line for the parent (internal).
    #[arg(long, hide = true)]
    child: bool,
}

fn parse_seeds(s: &str) -> Result<Range<u64>, String> {
    let bad = || format!("{s:?} is not a seed range like 1..50 or 1..=50");
    let (from, to, inclusive) = match s.split_once("..=") {
        Some((a, b)) => (a, b, true),
        None => {
            let (a, b) = s.split_once("..").ok_or_else(bad)?;
            (a, b, false)
        }
    };
    let from: u64 = from.trim().parse().map_err(|_| bad())?;
    let to: u64 = to.trim().parse().map_err(|_| bad())?;
    let to = if inclusive { to.saturating_add(1) } else { to };
    if from >= to {
        return Err(format!("{s:?} holds no seed"));
    }
    Ok(from..to)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration like 30s or 2m");
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        _ => return Err(bad()),
    };
    if seconds == 0 || seconds > 3600 {
        return Err(format!("{s:?}: the fault phase must be 1s to 1h"));
    }
    Ok(Duration::from_secs(seconds))
}

/// A bug to plant: in the store, or in the admission chain (`--pipeline`).
#[derive(Debug, Clone, Copy)]
enum Plant {
    Store(PlantedBug),
    Admission(AdmissionBug),
}

impl Plant {
    fn name(self) -> &'static str {
        match self {
            Plant::Store(bug) => bug.name(),
            Plant::Admission(bug) => bug.name(),
        }
    }
}

fn parse_bug(s: &str) -> Result<Plant, String> {
    let store = PlantedBug::from_name(s)
        .filter(|bug| *bug != PlantedBug::None)
        .map(Plant::Store);
    let admission = AdmissionBug::from_name(s)
        .filter(|bug| *bug != AdmissionBug::None)
        .map(Plant::Admission);
    store.or(admission).ok_or_else(|| {
        let store = PlantedBug::ALL.iter().map(|b| b.name());
        let admission = AdmissionBug::ALL.iter().map(|b| b.name());
        let names: Vec<&str> = store.chain(admission).collect();
        format!("unknown bug {s:?}; one of {}", names.join(", "))
    })
}

fn main() -> ExitCode {
    init_logging();
    let args = match Cli::parse().command {
        Command::Run(args) => args,
        Command::Experiment(args) => return experiment_main(&args),
    };
    let seeds = match (args.seed, args.seeds.clone()) {
        (Some(seed), _) => seed..seed + 1,
        (None, Some(range)) => range,
        (None, None) => 1..2,
    };
    if args.child {
        return run_here(&args, seeds.start);
    }
    let started = Instant::now();
    let mut failed = Vec::new();
    let mut simulated = Duration::ZERO;
    let count = seeds.end - seeds.start;
    for seed in seeds {
        match run_in_child(&args, seed) {
            Ok((passed, seconds)) => {
                simulated += seconds;
                if !passed {
                    failed.push(seed);
                }
            }
            Err(e) => {
                println!("seed {seed:>6} FAIL  could not run: {e}");
                failed.push(seed);
            }
        }
    }
    let wall = started.elapsed();
    println!(
        "{count} seeds, {} failed{}; {:.0}s simulated in {:.1}s ({:.0}x)",
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" ({failed:?})")
        },
        simulated.as_secs_f64(),
        wall.as_secs_f64(),
        simulated.as_secs_f64() / wall.as_secs_f64().max(1e-9),
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs one seed in this process and prints its report, then a `#stats` line.
fn run_here(args: &RunArgs, seed: u64) -> ExitCode {
    if args.pipeline {
        return run_pipeline_here(args, seed);
    }
    let mut config = RunConfig::new(seed, args.scenario);
    config.fault_phase = args.duration;
    config.planted_bug = match args.plant {
        Some(Plant::Store(bug)) => bug,
        Some(Plant::Admission(bug)) => {
            println!("--plant {}: only with --pipeline", bug.name());
            return ExitCode::FAILURE;
        }
        None => PlantedBug::None,
    };
    let report = run(&config);
    print_report(&report, args.verbose);
    if args.faults && !args.verbose {
        for fault in &report.history.faults {
            println!("    {:.3}s fault: {}", fault.at.as_secs_f64(), fault.what);
        }
    }
    println!("#stats {}", report.simulated.as_secs_f64());
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// [`run_here`] for `--pipeline`.
fn run_pipeline_here(args: &RunArgs, seed: u64) -> ExitCode {
    let mut config = PipelineConfig::new(seed);
    config.fault_phase = args.duration;
    config.planted_bug = match args.plant {
        Some(Plant::Admission(bug)) => bug,
        Some(Plant::Store(bug)) => {
            println!("--plant {}: not with --pipeline", bug.name());
            return ExitCode::FAILURE;
        }
        None => AdmissionBug::None,
    };
    let report = kubesim_sim::pipeline::run(&config);
    print!("{report}");
    let show = (args.verbose && !report.passed()) || args.faults;
    if show {
        for fault in &report.history.faults {
            println!("    {:.3}s fault: {}", fault.at.as_secs_f64(), fault.what);
        }
    }
    if args.verbose && !report.passed() {
        for line in kubesim_sim::pipeline::history::trace_lines(&report.history) {
            println!("    {line}");
        }
    }
    println!("#stats {}", report.simulated.as_secs_f64());
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs one seed in a fresh process of this binary and passes its report through.
///
/// Why a process per seed: a second run in the same process does not always repeat what
/// the same seed does in a fresh one (tokio numbers tasks process-wide, and the order in
/// which a crashed host's tasks are dropped follows those numbers; ARCHITECTURE.md).
/// A fresh process per seed makes every seed's result exactly what its replay command
/// gives. Returns whether it passed and the simulated time it covered.
fn run_in_child(args: &RunArgs, seed: u64) -> std::io::Result<(bool, Duration)> {
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .arg("run")
        .arg("--child")
        .args(["--seed", &seed.to_string()])
        .args(["--scenario", args.scenario.name()])
        .args(["--duration", &format!("{}s", args.duration.as_secs())]);
    if let Some(bug) = args.plant {
        command.args(["--plant", bug.name()]);
    }
    if args.verbose {
        command.arg("--verbose");
    }
    if args.faults {
        command.arg("--faults");
    }
    if args.pipeline {
        command.arg("--pipeline");
    }
    let output = command.stderr(std::process::Stdio::inherit()).output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut simulated = Duration::ZERO;
    for line in stdout.lines() {
        match line.strip_prefix("#stats ") {
            Some(seconds) => {
                simulated = Duration::from_secs_f64(seconds.trim().parse().unwrap_or(0.0));
            }
            None => println!("{line}"),
        }
    }
    if !output.status.success() && !stdout.contains("FAIL") {
        // Died without a report (a panic, a signal): say so.
        println!("seed {seed:>6} FAIL  the run died: {}", output.status);
    }
    Ok((output.status.success(), simulated))
}

fn print_report(report: &RunReport, verbose: bool) {
    print!("{report}");
    if verbose && !report.passed() {
        println!("  history:");
        for fault in &report.history.faults {
            println!("    {:.3}s fault: {}", fault.at.as_secs_f64(), fault.what);
        }
        for call in &report.history.calls {
            println!("    {call}");
        }
    }
}

/// Logs go to stderr, quiet by default (`RUST_LOG` to see more): the store's own warnings
/// under faults are expected and would drown the report.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error,openraft=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Bound on what a child prints: its samples line, at most `wire::MAX_RECORDS` records of a
/// few hundred bytes.
const MAX_CHILD_OUTPUT: usize = 1 << 30;

/// `kubesim-sim experiment`.
fn experiment_main(args: &ExperimentArgs) -> ExitCode {
    if args.print_config {
        return print_config(args);
    }
    let mut sweep = match load_sweep(args) {
        Ok(sweep) => sweep,
        Err(e) => {
            eprintln!("experiment: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.child {
        return experiment_child(&sweep, args.point.unwrap_or(0), args.seed.unwrap_or(0));
    }
    if let Some(seeds) = args.seeds {
        sweep.seeds_per_point = seeds;
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| experiment::default_out_dir(&sweep.name));
    let started = Instant::now();
    let result = if args.real {
        run_real(&sweep, args, &out)
    } else {
        run_simulated(&sweep, args, &out)
    };
    match result {
        Ok(report) => {
            summarize(&report, started.elapsed());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("experiment {}: {e}", sweep.name);
            ExitCode::FAILURE
        }
    }
}

fn load_sweep(args: &ExperimentArgs) -> Result<Sweep, String> {
    match (&args.name, &args.config) {
        (_, Some(path)) => experiment::load_sweep(path),
        (Some(name), None) => experiment::builtin::builtin(name),
        (None, None) => Err("name a built-in experiment or give --config FILE".into()),
    }
}

fn print_config(args: &ExperimentArgs) -> ExitCode {
    let text = match (&args.name, &args.config) {
        (_, Some(path)) => {
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
        }
        (Some(name), None) => experiment::builtin::builtin_yaml(name)
            .map(str::to_owned)
            .ok_or_else(|| {
                let names: Vec<&str> = experiment::builtin::BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect();
                format!("no experiment `{name}` (built in: {})", names.join(", "))
            }),
        (None, None) => Err("name a built-in experiment or give --config FILE".into()),
    };
    match text {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("experiment: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One (point, seed) in this process: `#samples <json>` or `#error <message>` on stdout.
fn experiment_child(sweep: &Sweep, index: usize, seed: u64) -> ExitCode {
    let points = sweep.points();
    let result = match points.get(index) {
        Some(point) => kubesim_sim::pipeline::experiment::run_point(&point.point, seed),
        None => Err(format!("no point {index} (the sweep has {})", points.len())),
    };
    match result {
        Ok(samples) => {
            println!(
                "#samples {}",
                kubesim_sim::pipeline::experiment::wire::encode(&samples)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            // One line: the parent reads line by line.
            println!("#error {}", e.replace('\n', " / "));
            ExitCode::FAILURE
        }
    }
}

/// The runs of a sweep, handed out to worker threads in the order the framework asks for
/// them, and their results as they come.
struct Pool {
    state: Mutex<PoolState>,
    changed: Condvar,
}

#[derive(Default)]
struct PoolState {
    queue: VecDeque<(usize, u64)>,
    results: HashMap<(usize, u64), Result<Samples, String>>,
    cancelled: bool,
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A worker: runs children until the queue is empty or the experiment is over.
    fn work(&self, child: &dyn Fn(usize, u64) -> Result<Samples, String>) {
        loop {
            let job = {
                let mut state = self.lock();
                if state.cancelled {
                    return;
                }
                state.queue.pop_front()
            };
            let Some((index, seed)) = job else { return };
            let result = child(index, seed);
            self.lock().results.insert((index, seed), result);
            self.changed.notify_all();
        }
    }

    /// Waits for the result of (`index`, `seed`).
    fn take(&self, index: usize, seed: u64) -> Result<Samples, String> {
        let mut state = self.lock();
        loop {
            if let Some(result) = state.results.remove(&(index, seed)) {
                return result;
            }
            let queued = state.queue.contains(&(index, seed));
            if !queued && state.cancelled {
                return Err("cancelled".into());
            }
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn cancel(&self) {
        self.lock().cancelled = true;
        self.changed.notify_all();
    }
}

/// Every (point, seed) in a child process, `--jobs` at once, fed to the framework in its
/// order.
fn run_simulated(
    sweep: &Sweep,
    args: &ExperimentArgs,
    out: &std::path::Path,
) -> Result<experiment::Report, String> {
    sweep.validate()?;
    let points = sweep.points();
    let seeds: Vec<u64> = sweep.seeds().collect();
    let pool = Pool {
        state: Mutex::new(PoolState {
            queue: points
                .iter()
                .flat_map(|p| seeds.iter().map(move |s| (p.index, *s)))
                .collect(),
            ..PoolState::default()
        }),
        changed: Condvar::new(),
    };
    let child = |index: usize, seed: u64| run_experiment_child(args, index, seed);
    std::thread::scope(|scope| {
        for _ in 0..args.jobs {
            scope.spawn(|| pool.work(&child));
        }
        let runner = |point: &Point, seed: u64| -> Result<Samples, String> {
            let index = points
                .iter()
                .position(|p| &p.point == point)
                .ok_or("a point that is not in the sweep")?;
            pool.take(index, seed)
        };
        let report = experiment::run_experiment(sweep, &runner, out, Progress::auto());
        pool.cancel();
        report
    })
}

/// Runs (`index`, `seed`) in a fresh process of this binary: a turmoil run repeats exactly
/// only in a fresh process (see [`run_in_child`]).
fn run_experiment_child(args: &ExperimentArgs, index: usize, seed: u64) -> Result<Samples, String> {
    use std::io::Read as _;
    let exe = std::env::current_exe().map_err(|e| format!("this binary: {e}"))?;
    let mut command = std::process::Command::new(exe);
    command.arg("experiment");
    match (&args.config, &args.name) {
        (Some(path), _) => command.arg("--config").arg(path),
        (None, Some(name)) => command.arg(name),
        (None, None) => return Err("no experiment".into()),
    };
    command
        .arg("--child")
        .args(["--point", &index.to_string(), "--seed", &seed.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut process = command
        .spawn()
        .map_err(|e| format!("starting a child: {e}"))?;
    let mut stdout = Vec::new();
    let read = match process.stdout.take() {
        Some(out) => out.take(MAX_CHILD_OUTPUT as u64).read_to_end(&mut stdout),
        None => Ok(0),
    };
    let status = process
        .wait()
        .map_err(|e| format!("waiting for a child: {e}"))?;
    read.map_err(|e| format!("reading a child: {e}"))?;
    let stdout = String::from_utf8_lossy(&stdout);
    for line in stdout.lines() {
        if let Some(json) = line.strip_prefix("#samples ") {
            return kubesim_sim::pipeline::experiment::wire::decode(json);
        }
        if let Some(error) = line.strip_prefix("#error ") {
            return Err(error.to_owned());
        }
    }
    Err(format!("the run died without a result: {status}"))
}

/// `--real`: one run at a time against real processes.
fn run_real(
    sweep: &Sweep,
    args: &ExperimentArgs,
    out: &std::path::Path,
) -> Result<experiment::Report, String> {
    let bin = args
        .kubesim_bin
        .clone()
        .ok_or("--real needs --kubesim-bin PATH")?;
    let runner = experiment::real::real_runner(bin)?;
    experiment::run_experiment(sweep, &runner, out, Progress::auto())
}

fn summarize(report: &experiment::Report, wall: Duration) {
    let failed: Vec<String> = report
        .points
        .iter()
        .flat_map(|p| {
            p.runs_failed
                .iter()
                .map(move |(seed, e)| format!("  point {} seed {seed}: {e}", p.point.index))
        })
        .collect();
    println!(
        "experiment {}: {} points, {} runs failed, {:.1}s",
        report.sweep.name,
        report.points.len(),
        failed.len(),
        wall.as_secs_f64()
    );
    for line in failed {
        println!("{line}");
    }
    for file in &report.files {
        println!("  {}", file.display());
    }
}
