//! The checkers catch real bugs. Each test plants one known bug in every member (the store's
//! test-only `planted-bugs` switch), runs seeds until a checker reports it, and fails if
//! none does within the stated number of seeds. The same seed without the bug must pass:
//! what was caught is the bug, not noise.
//!
//! These keep the checkers honest as the code changes: a checker that goes blind fails here.

use std::time::Duration;

use kubesim_sim::check::Property;
use kubesim_sim::nemesis::Scenario;
use kubesim_sim::run::{RunConfig, run};
use kubesim_store::PlantedBug;

/// Runs seeds 1..=`within` with `bug` planted until a run fails with one of `properties`.
/// Returns the seed that found it.
fn found_within(bug: PlantedBug, scenario: Scenario, within: u64, properties: &[Property]) -> u64 {
    for seed in 1..=within {
        let mut config = RunConfig::new(seed, scenario);
        config.fault_phase = Duration::from_secs(20);
        config.planted_bug = bug;
        let report = run(&config);
        println!("{}", report.summary());
        if report.passed() {
            continue;
        }
        // In a debug build openraft's own debug assertions may see the damage first and
        // stop the member (a panic in the simulated host); that counts as found too. In a
        // release build (the CLI, and `.ci/run`'s planted-bug runs) the checkers must.
        let asserted = cfg!(debug_assertions)
            && report
                .error
                .as_deref()
                .is_some_and(|e| e.contains("panicked"));
        assert!(
            asserted
                || report
                    .violations
                    .iter()
                    .any(|v| properties.contains(&v.property)),
            "{} was caught, but not as {properties:?}:\n{report}",
            bug.name()
        );
        println!("{report}");
        config.planted_bug = PlantedBug::None;
        let clean = run(&config);
        assert!(
            clean.passed(),
            "seed {seed} fails without the bug too:\n{clean}"
        );
        return seed;
    }
    panic!("{} not found within {within} seeds", bug.name());
}

#[test]
fn ack_before_fsync() {
    found_within(
        PlantedBug::AckBeforeFsync,
        Scenario::Crashes,
        4,
        &[
            Property::Durability,
            Property::Linearizable,
            Property::Revisions,
        ],
    );
}

#[test]
fn local_linearizable_read() {
    found_within(
        PlantedBug::LocalLinearizableRead,
        Scenario::Partitions,
        4,
        &[Property::Linearizable, Property::NoStaleRead],
    );
}

#[test]
fn drop_watch_event() {
    found_within(
        PlantedBug::DropWatchEvent,
        Scenario::Mixed,
        2,
        &[Property::Watch],
    );
}

#[test]
fn reuse_revision_after_restart() {
    found_within(
        PlantedBug::ReuseRevisionAfterRestart,
        Scenario::Crashes,
        4,
        &[
            Property::Revisions,
            Property::SameState,
            Property::Durability,
        ],
    );
}
