//! `kubesim-sim`: seeded chaos runs of the store from the command line.
//!
//! ```text
//! cargo run -p kubesim-sim --release -- run --seed 7
//! cargo run -p kubesim-sim --release -- run --seeds 1..50 --scenario mixed --duration 30s
//! cargo run -p kubesim-sim --release -- run --pipeline --seeds 0..50
//! ```
//!
//! `--pipeline` runs the whole pipeline (API server, webhooks, clients, the store) instead of
//! the store alone, with its own faults and properties 9 to 12 (`kubesim_sim::pipeline`).
//!
//! For each seed: pass or FAIL and the trace hash. On failure: the violated property, the
//! excerpt of the history that shows it, and the one command that replays it. The exit
//! status is 1 if any seed failed.

use std::ops::Range;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
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
    /// (admission).
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
    let Cli {
        command: Command::Run(args),
    } = Cli::parse();
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
