//! The real runner (`kubesim_sim::experiment::real`) against real `kubesim` processes: a
//! webhook slower than its `timeoutSeconds` is cut off at the timeout, which fails every pod
//! create under `failurePolicy: Fail` and lets every one through under `Ignore`; a webhook
//! outage fails the creates under `Fail` while it lasts, and only then.
//!
//! Needs a built binary: `cargo build -p kubesim`, then
//! `KUBESIM_BIN=$PWD/target/debug/kubesim cargo test -p kubesim-sim --test experiment_real`.
//! Without `KUBESIM_BIN` each test prints why and passes without running anything.
//!
//! `webhook_timeout_real_sweep` (ignored: about four minutes of real time) runs the
//! webhook-timeout comparison and writes `target/experiments/webhook-timeout-compare-real/`.

use std::path::PathBuf;
use std::time::Duration;

use kubesim_sim::experiment::point::{FailurePolicy, LatencyDist, WebhookKind, Window};
use kubesim_sim::experiment::real::real_runner;
use kubesim_sim::experiment::{Outcome, Point, Progress, Samples, parse_sweep, run_experiment};

/// The binary from `KUBESIM_BIN`, or `None` after printing why the test does nothing.
fn kubesim_bin(test: &str) -> Option<PathBuf> {
    match std::env::var_os("KUBESIM_BIN") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            eprintln!(
                "{test}: skipped: set KUBESIM_BIN to a built kubesim \
                 (cargo build -p kubesim; KUBESIM_BIN=$PWD/target/debug/kubesim)"
            );
            None
        }
    }
}

/// One validating webhook that always takes 2 s, cut off by timeoutSeconds 1.
fn slow_webhook(policy: FailurePolicy) -> Point {
    Point {
        webhook_latency: LatencyDist::Fixed(Duration::from_secs(2)),
        timeout_seconds: 1,
        failure_policy: policy,
        webhooks: 1,
        webhook_kind: WebhookKind::Validating,
        clients: 4,
        duration: Duration::from_secs(5),
        ..Point::default()
    }
}

const WEBHOOK_STAGE: &str = "admission.w1.experiment.kubesim.io";

/// Every request reached the webhook and was cut off at about 1 s, not its 2 s.
fn assert_cut_off_at_the_timeout(samples: &Samples) {
    // 4 clients for 5 s at about 1 s a request.
    assert!(
        samples.requests.len() >= 8,
        "{} requests",
        samples.requests.len()
    );
    for request in &samples.requests {
        for stage in ["admission", WEBHOOK_STAGE] {
            let took = request.stages.get(stage).copied();
            assert!(
                took.is_some_and(
                    |d| d >= Duration::from_millis(950) && d < Duration::from_millis(1500)
                ),
                "{stage} took {took:?} (want about 1 s): {request:?}"
            );
        }
        assert!(request.stages.contains_key("authentication"), "{request:?}");
        assert!(request.stages.contains_key("authorization"), "{request:?}");
        assert!(request.latency < Duration::from_millis(1900), "{request:?}");
    }
}

#[test]
fn a_webhook_over_its_timeout_fails_creates_under_fail_and_not_under_ignore() {
    let Some(bin) = kubesim_bin("a_webhook_over_its_timeout...") else {
        return;
    };
    let runner = real_runner(bin).expect("the kubesim binary runs");

    let failed = runner(&slow_webhook(FailurePolicy::Fail), 1).expect("the Fail point runs");
    assert_cut_off_at_the_timeout(&failed);
    for request in &failed.requests {
        // kube's answer to a webhook call that failed under Fail: 500 InternalError.
        assert_eq!(
            request.outcome,
            Outcome::Error { code: Some(500) },
            "{request:?}"
        );
        assert!(!request.stages.contains_key("storage"), "{request:?}");
    }

    let ignored = runner(&slow_webhook(FailurePolicy::Ignore), 1).expect("the Ignore point runs");
    assert_cut_off_at_the_timeout(&ignored);
    for request in &ignored.requests {
        assert_eq!(request.outcome, Outcome::Ok, "{request:?}");
        assert!(request.stages.contains_key("storage"), "{request:?}");
    }
}

#[test]
fn a_webhook_outage_fails_creates_under_fail_while_the_webhook_is_down() {
    let Some(bin) = kubesim_bin("a_webhook_outage...") else {
        return;
    };
    let runner = real_runner(bin).expect("the kubesim binary runs");
    let point = Point {
        webhook_latency: LatencyDist::Fixed(Duration::from_millis(10)),
        timeout_seconds: 2,
        failure_policy: FailurePolicy::Fail,
        webhooks: 1,
        webhook_outage: Some(Window {
            start: Duration::from_secs(2),
            duration: Duration::from_secs(2),
        }),
        clients: 4,
        duration: Duration::from_secs(7),
        ..Point::default()
    };
    let samples = runner(&point, 1).expect("the outage point runs");
    // Margins of half a second around the window: a request's webhook call comes a little
    // after its start, and the restarted webhook needs a moment to listen.
    let (mut before, mut during, mut after) = (0, 0, 0);
    for request in &samples.requests {
        let start = request.start.as_secs_f64();
        if start < 1.5 {
            before += 1;
            assert_eq!(request.outcome, Outcome::Ok, "{request:?}");
        } else if (2.5..3.5).contains(&start) {
            during += 1;
            // Connection refused under Fail: kube's 500.
            assert_eq!(
                request.outcome,
                Outcome::Error { code: Some(500) },
                "{request:?}"
            );
        } else if start > 5.0 && request.outcome == Outcome::Ok {
            after += 1;
        }
    }
    assert!(
        before > 0 && during > 0 && after > 0,
        "{before} {during} {after}"
    );
}

#[test]
fn points_with_faults_it_cannot_stage_are_refused_before_starting_anything() {
    let Some(bin) = kubesim_bin("points_with_faults...") else {
        return;
    };
    let runner = real_runner(bin).expect("the kubesim binary runs");
    let point = Point {
        store_latency: Duration::from_millis(20),
        ..Point::default()
    };
    let error = runner(&point, 1).expect_err("store latency is not staged");
    assert!(
        error.starts_with("not supported against real processes: store_latency"),
        "{error}"
    );
}

/// The comparison sweep of docs/experiments.md, also run simulated.
const WEBHOOK_TIMEOUT_REAL: &str = include_str!("../experiments/webhook-timeout-compare.yaml");

#[test]
#[ignore = "about four minutes of real time; run with --ignored and KUBESIM_BIN"]
fn webhook_timeout_real_sweep() {
    let Some(bin) = kubesim_bin("webhook_timeout_real_sweep") else {
        return;
    };
    let runner = real_runner(bin).expect("the kubesim binary runs");
    let sweep = parse_sweep(WEBHOOK_TIMEOUT_REAL).expect("the sweep parses");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target/experiments/webhook-timeout-compare-real");
    let report = run_experiment(&sweep, &runner, &out, Progress::auto()).expect("written");
    for point in &report.points {
        assert!(point.runs_failed.is_empty(), "{:?}", point.runs_failed);
    }
    println!("{}", out.join("results.md").display());
}
