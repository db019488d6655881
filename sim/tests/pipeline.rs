//! The whole pipeline under simulation (`kubesim-sim run --pipeline`): clients with
//! certificates → API server (authentication, authorization through the authz host,
//! admission webhooks) → the 3-member store, with faults, checked against properties 9 to 12. Each seed runs in a fresh process
//! through the CLI, exactly as its replay command would.

mod common;

use common::cli;

/// `--pipeline` with a seed and a short fault phase.
fn pipeline(seed: u64, duration: &str, extra: &[&str]) -> (bool, String) {
    let seed = seed.to_string();
    let args = ["--pipeline", "--seed", &seed, "--duration", duration];
    cli(&[&args[..], extra].concat())
}

/// The trace hash of the report line.
fn trace(out: &str) -> Option<&str> {
    let line = out.lines().find(|l| l.contains(" pipeline "))?;
    line.split("trace ").nth(1)?.split_whitespace().next()
}

#[test]
fn seeds_pass_every_api_property() {
    for seed in 1..=3 {
        let (passed, out) = pipeline(seed, "15s", &[]);
        assert!(passed, "seed {seed} failed:\n{out}");
        // The run did something: answers, successful writes, watch events, faults.
        assert!(out.contains(" 2xx, "), "{out}");
        assert!(!out.contains(" 0 watch sessions"), "{out}");
        assert!(!out.contains(" 0 faults"), "{out}");
        // The API server timed the webhook calls (Server-Timing), so property 11 judged them.
        assert!(!out.contains(" 0 webhook calls"), "{out}");
    }
}

#[test]
fn one_seed_one_trace() {
    let (_, first) = pipeline(4, "15s", &[]);
    let (_, second) = pipeline(4, "15s", &[]);
    let hash = trace(&first);
    assert!(hash.is_some(), "no trace hash in:\n{first}");
    assert_eq!(
        hash,
        trace(&second),
        "same seed, different trace:\n{first}\n{second}"
    );
}

/// A Fail webhook that lets a timed-out call through (planted in the admission chain) stores
/// privileged pods the webhook refuses: property 10 must say so within a few seeds, and the
/// seed that caught it must pass without the bug. Only some seeds make the Fail webhook
/// slower than its timeout while privileged pods are created, and any change to the code
/// under simulation moves which (1, 2, 3, 8, 18 and 28 of 1-40 at cc28243; 18, 22 and 23
/// of 17-24 a few sessions earlier, only 18 later), so the search goes over 32 seeds: a
/// seed that passes costs about two seconds. `.ci/run` loops over the same seeds.
#[test]
fn fail_open_on_timeout_is_caught() {
    for seed in 1..=32 {
        let (passed, out) = pipeline(seed, "30s", &["--plant", "fail-open-on-timeout"]);
        if passed {
            continue;
        }
        assert!(
            out.contains("property 10:"),
            "the planted bug was caught, but not as property 10:\n{out}"
        );
        let (clean, out) = pipeline(seed, "30s", &[]);
        assert!(clean, "seed {seed} fails without the bug too:\n{out}");
        return;
    }
    panic!("fail-open-on-timeout not found within 32 seeds");
}

/// How many 410s the run's watchers followed with a relist (the nemesis's last record,
/// shown by `--faults`).
fn relists_after_410(out: &str) -> Option<u64> {
    let line = out
        .lines()
        .find(|l| l.contains("watch sessions ended 410: "))?;
    line.split("followed by a relist: ")
        .nth(1)?
        .trim_end_matches(')')
        .parse()
        .ok()
}

/// Seeds searched for a 30 s run that sends watchers 410. Which seeds do moves with every
/// change to the code under simulation (10, 11, 15, 16, 17 and 19 of 1-20 once; 8, 13, 19,
/// 31 and 37 of 1-40 at e667887), so the search goes over 32; a seed that passes without one
/// costs about two seconds.
const SEEDS_FOR_410: std::ops::RangeInclusive<u64> = 1..=32;

/// Property 12's 410 path is taken, not only allowed: the nemesis compacts the store behind
/// the API server's watch cache, the cache relists and tells its watchers 410, they relist,
/// and the seed still passes every property.
#[test]
fn a_compaction_behind_the_watch_cache_sends_410_and_watchers_relist() {
    for seed in SEEDS_FOR_410 {
        let (passed, out) = pipeline(seed, "30s", &["--faults"]);
        assert!(passed, "seed {seed} failed:\n{out}");
        if relists_after_410(&out).is_some_and(|n| n > 0) {
            assert!(out.contains("fault: compact at "), "no compaction:\n{out}");
            return;
        }
    }
    panic!("no watcher was told 410 and relisted in seeds {SEEDS_FOR_410:?}");
}

/// How many answers were refusals because the authz call failed (the report line).
fn authz_failed(out: &str) -> Option<u64> {
    let line = out.lines().find(|l| l.contains(" pipeline "))?;
    line.split(" 2xx, ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Seeds whose 20 s runs inject every kind of authz fault between them (`--seeds 1..9
/// --duration 20s --faults`): 4 a crashed and then a slow one, 5 a partition.
const SEEDS_WITH_AUTHZ_FAULTS: [u64; 2] = [4, 5];

/// The authz faults fire and bite, and the seeds still pass: requests are refused (500,
/// naming the failed authz call) while the authz service is slow past its timeout, dead or
/// cut off, and never allowed for it.
#[test]
fn authz_faults_refuse_and_the_seeds_pass() {
    let mut kinds = std::collections::BTreeSet::new();
    let mut refused = 0;
    for seed in SEEDS_WITH_AUTHZ_FAULTS {
        let (passed, out) = pipeline(seed, "20s", &["--faults"]);
        assert!(passed, "seed {seed} failed:\n{out}");
        for kind in ["SlowAuthz", "DeadAuthz", "PartitionAuthz"] {
            if out.contains(&format!("fault: inject {kind}")) {
                kinds.insert(kind);
            }
        }
        refused += authz_failed(&out).unwrap_or(0);
    }
    assert_eq!(kinds.len(), 3, "authz faults injected: {kinds:?}");
    assert!(
        refused > 0,
        "no request was refused for a failed authz call"
    );
}

/// An API server that takes a failed authz call as Allow (planted) lets mallory, whom
/// nothing allows, write while the authz service is down: property 10 must say so within a
/// few seeds, and the seed that caught it must pass without the bug. Seeds 1, 5 and 8 of
/// 1-8 catch it with today's fault menu.
#[test]
fn authz_fail_open_is_caught() {
    for seed in 1..=8 {
        let (passed, out) = pipeline(seed, "20s", &["--plant", "authz-fail-open"]);
        if passed {
            continue;
        }
        assert!(
            out.contains("property 10:") && out.contains("mallory, whom nothing allows"),
            "the planted bug was caught, but not as property 10 on mallory's calls:\n{out}"
        );
        let (clean, out) = pipeline(seed, "20s", &[]);
        assert!(clean, "seed {seed} fails without the bug too:\n{out}");
        return;
    }
    panic!("authz-fail-open not found within 8 seeds");
}
