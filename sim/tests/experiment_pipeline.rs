//! The simulated point runner (`kubesim_sim::pipeline::experiment::run_point`) end to end:
//! a seed repeats exactly (through the binary's child mode, as the CLI runs it), a webhook
//! slower than its timeoutSeconds fails pod creates under Fail and is skipped under Ignore,
//! the stages the reports plot are there, and paced clients keep their rate while a Fail
//! webhook's refusals come back at once.
//!
//! Each run is a few seconds of simulated time with few clients, to stay within about a
//! minute in a debug build.

use std::time::Duration;

use kubesim_sim::experiment::point::{FailurePolicy, LatencyDist, Load, WebhookKind, Window};
use kubesim_sim::experiment::{Outcome, Point, Samples};
use kubesim_sim::pipeline::experiment::{run_point, webhook_name, wire};

/// 5 s, 2 clients, one validating webhook answering in 20 ms.
fn tiny() -> Point {
    Point {
        webhook_latency: LatencyDist::Fixed(Duration::from_millis(20)),
        timeout_seconds: 10,
        failure_policy: FailurePolicy::Fail,
        webhooks: 1,
        webhook_kind: WebhookKind::Validating,
        clients: 2,
        duration: Duration::from_secs(5),
        ..Point::default()
    }
}

/// The same tiny point as a sweep file, for the binary's child mode.
const TINY_SWEEP: &str = "\
name: tiny
seeds_per_point: 1
base:
  webhooks: 1
  webhook_kind: validating
  webhook_latency: fixed 20ms
  timeout_seconds: 10
  failure_policy: Fail
  clients: 2
  duration: 5s
";

/// Runs point 0 of `sweep_file` with `seed` in a fresh process, as `experiment` does.
fn run_child(sweep_file: &std::path::Path, seed: u64) -> Samples {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kubesim-sim"))
        .arg("experiment")
        .arg("--config")
        .arg(sweep_file)
        .args(["--child", "--point", "0", "--seed", &seed.to_string()])
        .output()
        .expect("running the binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("#samples "))
        .unwrap_or_else(|| panic!("no samples: {stdout}"));
    wire::decode(line).expect("decoding the samples")
}

#[test]
fn the_same_seed_gives_the_same_samples() {
    let dir = std::env::temp_dir().join(format!("kubesim-experiment-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tiny.yaml");
    std::fs::write(&file, TINY_SWEEP).unwrap();
    let first = run_child(&file, 7);
    let second = run_child(&file, 7);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        first.requests.len() > 20,
        "{} requests",
        first.requests.len()
    );
    assert!(first.requests.iter().all(|r| r.outcome == Outcome::Ok));
    assert_eq!(first, second);
}

#[test]
fn stages_are_measured() {
    let samples = run_point(&tiny(), 3).expect("the run");
    let webhook = format!("admission.{}", webhook_name(1));
    for record in &samples.requests {
        assert_eq!(record.outcome, Outcome::Ok, "{record:?}");
        for stage in ["authentication", "authorization", "admission", "storage"] {
            assert!(record.stages.contains_key(stage), "{stage} in {record:?}");
        }
        // The webhook answers in 20 ms, plus a millisecond each way.
        let call = record.stages[&webhook];
        assert!(
            call >= Duration::from_millis(20) && call < Duration::from_millis(40),
            "{call:?}"
        );
        assert!(record.stages["admission"] >= call);
        assert!(record.latency >= record.stages["admission"]);
        assert!(record.start < Duration::from_secs(5));
    }
}

/// A webhook that always takes 3 s behind timeoutSeconds 1.
fn slow_webhook(policy: FailurePolicy) -> Point {
    Point {
        webhook_latency: LatencyDist::Fixed(Duration::from_secs(3)),
        timeout_seconds: 1,
        failure_policy: policy,
        ..tiny()
    }
}

#[test]
fn a_webhook_past_its_timeout_fails_creates_under_fail() {
    let samples = run_point(&slow_webhook(FailurePolicy::Fail), 5).expect("the run");
    assert!(samples.requests.len() >= 4, "{samples:?}");
    for record in &samples.requests {
        assert!(
            matches!(record.outcome, Outcome::Error { .. } | Outcome::Timeout),
            "{record:?}"
        );
        // Cut off by the 1 s timeout, not waited for the 3 s.
        let admission = record.stages["admission"];
        assert!(
            admission >= Duration::from_millis(990) && admission < Duration::from_millis(1100),
            "{admission:?}"
        );
        assert!(record.latency < Duration::from_millis(1500), "{record:?}");
    }
}

#[test]
fn a_webhook_past_its_timeout_is_skipped_under_ignore() {
    let samples = run_point(&slow_webhook(FailurePolicy::Ignore), 5).expect("the run");
    assert!(samples.requests.len() >= 4, "{samples:?}");
    for record in &samples.requests {
        assert_eq!(record.outcome, Outcome::Ok, "{record:?}");
        assert!(record.stages["admission"] < Duration::from_millis(1100));
        assert!(record.stages.contains_key("storage"));
    }
}

/// Two clients at 20 requests a second for 8 s; the webhook down (connection refused) from
/// 2 s to 6 s under Fail.
fn paced_outage() -> Point {
    Point {
        load: Load::Paced { per_second: 20 },
        max_in_flight: 4,
        webhook_outage: Some(Window {
            start: Duration::from_secs(2),
            duration: Duration::from_secs(4),
        }),
        duration: Duration::from_secs(8),
        ..tiny()
    }
}

#[test]
fn paced_clients_keep_their_rate_while_the_webhook_is_down() {
    let point = paced_outage();
    let samples = run_point(&point, 9).expect("the run");
    let outage = 2.0..6.0;
    let in_outage: Vec<_> = samples
        .requests
        .iter()
        .filter(|r| outage.contains(&r.start.as_secs_f64()))
        .collect();
    // rate x clients x seconds = 20 x 2 x 4: a closed-loop client would make a request per
    // few milliseconds of refusals instead, thousands of them.
    assert!(
        (155..=165).contains(&in_outage.len()),
        "{} requests in the outage",
        in_outage.len()
    );
    assert!(
        (315..=325).contains(&samples.requests.len()),
        "{} requests in all",
        samples.requests.len()
    );
    // The outage was real: (nearly) every create in it failed, fast, and none was skipped.
    let failed = in_outage
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Error { .. }))
        .count();
    assert!(
        failed * 100 >= in_outage.len() * 95,
        "{failed} failed of {}",
        in_outage.len()
    );
    assert!(
        samples
            .requests
            .iter()
            .all(|r| r.outcome != Outcome::Skipped)
    );
    let before = samples
        .requests
        .iter()
        .filter(|r| r.start.as_secs_f64() < 1.9);
    assert!(before.clone().count() > 60);
    assert!(before.into_iter().all(|r| r.outcome == Outcome::Ok));
}
