//! Seeded chaos runs of the store, through the same entry point as the CLI
//! (`kubesim_sim::run::run`): three members, the workload, a nemesis, then every checker.
//!
//! `cargo test` runs a few short seeds; `.ci/run` runs 50 through the CLI. Replay a failing
//! seed with the command the failure prints, or `KUBESIM_SEED=<seed> cargo test -p
//! kubesim-sim --test chaos`.

use std::time::Duration;

use kubesim_sim::nemesis::Scenario;
use kubesim_sim::run::{RunConfig, run};
use kubesim_sim::seed_from_env;

fn short(seed: u64, scenario: Scenario) -> RunConfig {
    let mut config = RunConfig::new(seed, scenario);
    config.fault_phase = Duration::from_secs(15);
    config
}

fn assert_passes(config: &RunConfig) {
    let report = run(config);
    println!("{}", report.summary());
    assert!(report.passed(), "{report}");
    let (calls, _) = report.call_counts();
    assert!(calls > 100, "too few calls to mean anything: {calls}");
    assert!(
        !report.history.watchers.is_empty() && report.history.members.len() == 3,
        "the run did not record watchers and three members' states"
    );
}

#[test]
fn mixed_faults() {
    assert_passes(&short(seed_from_env(1), Scenario::Mixed));
}

#[test]
fn crashes_and_power_cuts() {
    assert_passes(&short(seed_from_env(2), Scenario::Crashes));
}

#[test]
fn partitions() {
    assert_passes(&short(seed_from_env(3), Scenario::Partitions));
}

#[test]
fn member_removed_and_added_back() {
    let config = short(seed_from_env(4), Scenario::Membership);
    let report = run(&config);
    println!("{}", report.summary());
    assert!(report.passed(), "{report}");
    assert!(
        report
            .history
            .faults
            .iter()
            .any(|f| f.what.starts_with("added") && f.what.contains("back")),
        "no member was removed and added back: {:?}",
        report.history.faults
    );
}

/// Runs `kubesim-sim run --seed <seed>` in a fresh process and returns its report line.
fn cli_run(seed: u64) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kubesim-sim"))
        .args(["run", "--seed", &seed.to_string(), "--duration", "15s"])
        .output()
        .expect("kubesim-sim runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "seed {seed} failed:\n{stdout}");
    stdout
        .lines()
        .find(|l| l.starts_with("seed "))
        .unwrap_or_default()
        .to_owned()
}

/// The trace hash in a report line.
fn trace_of(line: &str) -> &str {
    line.split_whitespace()
        .skip_while(|w| *w != "trace")
        .nth(1)
        .unwrap_or_default()
}

/// What the replay command promises: the same seed, run again in a fresh process, gives
/// the same trace (the hash covers every call with its times and outcome, every fault,
/// every watch response and the members' final state).
#[test]
fn same_seed_same_trace() {
    let seed = seed_from_env(5);
    let first = cli_run(seed);
    let second = cli_run(seed);
    println!("{first}");
    assert!(!trace_of(&first).is_empty(), "no trace hash in {first:?}");
    assert_eq!(trace_of(&first), trace_of(&second), "{first}\n{second}");
    let other = cli_run(seed + 1);
    assert_ne!(trace_of(&first), trace_of(&other), "two seeds, one trace");
}
