//! The experiment framework (`kubesim_sim::experiment`) end to end, with a test double for
//! the simulated pipeline: [`fake_runner`] computes every request from the point's parameters
//! and the seed, so each number in the reports is known in advance. Its numbers say nothing
//! about kubesim; they check the sweep, the aggregation and the files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kubesim_sim::experiment::builtin::{BUILTIN, builtin, builtin_yaml};
use kubesim_sim::experiment::point::{FailurePolicy, LatencyDist, Load, WebhookKind};
use kubesim_sim::experiment::{
    Outcome, Point, Progress, RequestRecord, Samples, parse_sweep, run_experiment,
};

/// Requests per closed-loop client per run.
const REQUESTS_PER_CLIENT: u32 = 25;

/// A deterministic stand-in for a pipeline run. Request `i` of a run: each webhook takes its
/// latency distribution's p50, or its p99 for every tenth request (so p90 and p99 see it);
/// mutating webhooks add up, validating ones take the longest; a webhook slower than
/// `timeoutSeconds` is cut off (a timeout under Fail, skipped under Ignore); a request
/// started in the outage window fails with 500 under Fail; every 20th request (from the seed)
/// is denied with 403. A paced point makes `rate` requests a second per client instead of
/// [`REQUESTS_PER_CLIENT`].
fn fake_runner(point: &Point, seed: u64) -> Result<Samples, String> {
    let per_client = match point.load {
        Load::Closed => REQUESTS_PER_CLIENT,
        Load::Paced { per_second } => per_second * point.duration.as_secs() as u32,
    };
    let count = (point.clients * per_client).max(1);
    let spacing = point.duration / count;
    let requests = (0..count)
        .map(|i| fake_request(point, seed, i, spacing * i))
        .collect();
    Ok(Samples { requests })
}

fn fake_request(point: &Point, seed: u64, i: u32, start: Duration) -> RequestRecord {
    let webhook = match point.webhook_latency {
        LatencyDist::Fixed(d) => d,
        LatencyDist::LogNormal { p50, p99 } => {
            if i % 10 == 9 {
                p99
            } else {
                p50
            }
        }
    };
    let timeout = Duration::from_secs(point.timeout_seconds.into());
    let timed_out = webhook > timeout && point.webhooks > 0;
    let per_call = webhook.min(timeout);
    let admission = match point.webhook_kind {
        WebhookKind::Mutating => per_call * point.webhooks,
        WebhookKind::Validating if point.webhooks > 0 => per_call,
        WebhookKind::Validating => Duration::ZERO,
    };
    let in_outage = point
        .webhook_outage
        .is_some_and(|w| w.start <= start && start < w.end());
    let fail = point.failure_policy == FailurePolicy::Fail;
    let outcome = if in_outage && fail {
        Outcome::Error { code: Some(500) }
    } else if timed_out && fail {
        Outcome::Timeout
    } else if (u64::from(i) + seed).is_multiple_of(20) {
        Outcome::Denied { code: 403 }
    } else {
        Outcome::Ok
    };
    let mut stages = BTreeMap::from([
        ("authentication".to_string(), Duration::from_micros(100)),
        ("authorization".to_string(), Duration::from_micros(200)),
        ("admission".to_string(), admission),
    ]);
    for w in 0..point.webhooks {
        stages.insert(format!("admission.webhook-{w}"), per_call);
    }
    let storage = point.store_latency * 2;
    if outcome == Outcome::Ok {
        stages.insert("storage".to_string(), storage);
    }
    // `admission.<webhook>` lies inside `admission`: not counted twice.
    let latency = stages
        .iter()
        .filter(|(name, _)| !name.starts_with("admission."))
        .map(|(_, d)| *d)
        .sum();
    RequestRecord {
        start,
        latency,
        stages,
        outcome,
    }
}

/// A fresh directory under cargo's scratch space for integration tests.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("experiment-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

const SMALL: &str = "
name: small
description: Two timeouts by two policies.
seeds_per_point: 2
first_seed: 10
base:
  webhook_latency: lognormal 200ms 1500ms
  clients: 2
  duration: 10s
  webhooks: 1
axes:
  timeout_seconds: [1, 2]
  failure_policy: [Fail, Ignore]
plots:
  - { x: timeout_seconds, y: e2e.p99_ms }
  - { x: timeout_seconds, y: failure_rate }
";

#[test]
fn builtins_parse_and_are_small() {
    let mut names = Vec::new();
    for (name, _) in BUILTIN {
        let sweep = builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(sweep.name, name);
        assert!(!sweep.description.is_empty(), "{name}");
        assert!(!sweep.plots.is_empty(), "{name}");
        let points = sweep.points();
        let simulated: Duration =
            points.iter().map(|p| p.point.duration).sum::<Duration>() * sweep.seeds_per_point;
        assert!(points.len() <= 18, "{name}: {} points", points.len());
        assert!(
            simulated <= Duration::from_secs(3_600),
            "{name}: {simulated:?}"
        );
        assert!(builtin_yaml(name).is_some());
        names.push(name);
    }
    assert_eq!(
        names,
        [
            "webhook-timeout",
            "failure-policy-outage",
            "store-partition",
            "chained-webhooks",
            "authz-webhook-vs-inprocess"
        ]
    );
    let err = builtin("nope").expect_err("unknown name");
    assert!(err.contains("webhook-timeout"), "{err}");
}

#[test]
fn config_sets_base_axes_and_seeds() {
    let sweep = parse_sweep(SMALL).expect("parses");
    assert_eq!(sweep.seeds_per_point, 2);
    assert_eq!(sweep.seeds().collect::<Vec<_>>(), [10, 11]);
    let points = sweep.points();
    assert_eq!(points.len(), 4);
    assert_eq!(points[0].point.clients, 2);
    assert_eq!(points[0].point.duration, Duration::from_secs(10));
    assert_eq!(
        points[0].point.webhook_latency,
        LatencyDist::LogNormal {
            p50: Duration::from_millis(200),
            p99: Duration::from_millis(1500)
        }
    );
    assert_eq!(points[1].point.timeout_seconds, 1);
    assert_eq!(points[1].point.failure_policy, FailurePolicy::Ignore);
    assert_eq!(points[2].point.timeout_seconds, 2);
    // Defaults: seeds 3 from 1, no plots.
    let minimal = parse_sweep("name: m\naxes:\n  clients: [1, 2]\n").expect("parses");
    assert_eq!(minimal.seeds().collect::<Vec<_>>(), [1, 2, 3]);
    assert!(minimal.plots.is_empty());
}

#[test]
fn rate_paces_the_clients_and_closed_is_the_default() {
    let paced = parse_sweep("name: p\nbase:\n  rate: 20\n  max_in_flight: 3\n").expect("parses");
    assert_eq!(paced.base.load, Load::Paced { per_second: 20 });
    assert_eq!(paced.base.max_in_flight, 3);
    let default = parse_sweep("name: d\n").expect("parses");
    assert_eq!(default.base.load, Load::Closed);
    let axis = parse_sweep("name: a\naxes:\n  rate: [closed, 5]\n").expect("parses");
    let loads: Vec<Load> = axis.points().iter().map(|p| p.point.load).collect();
    assert_eq!(loads, [Load::Closed, Load::Paced { per_second: 5 }]);
    for (text, says) in [
        ("name: x\nbase:\n  rate: 0\n", "base.rate"),
        (
            "name: x\nbase:\n  rate: fast\n",
            "`closed` or requests per second",
        ),
        ("name: x\nbase:\n  max_in_flight: 0\n", "base.max_in_flight"),
    ] {
        let err = parse_sweep(text).expect_err(text);
        assert!(err.contains(says), "{text}: {err}");
    }
}

#[test]
fn bad_configs_are_errors_that_say_why() {
    let cases = [
        (
            "name: x\naxes:\n  webhook_speed: [1ms]\n",
            "unknown parameter `webhook_speed`",
        ),
        ("name: x\naxes:\n  clients: []\n", "axis clients: no values"),
        ("name: x\naxes:\n  clients: 4\n", "expected a list"),
        ("name: x\nbase:\n  duration: 10 seconds\n", "base.duration"),
        (
            "name: x\naxes:\n  store_latency: [5 ms]\n",
            "axes.store_latency",
        ),
        (
            "name: x\naxes:\n  failure_policy: [Fail, fail]\n",
            "`fail` is not a failurePolicy",
        ),
        ("name: x\naxes:\n  timeout_seconds: [0]\n", "from 1 to 30"),
        (
            "name: x\naxes:\n  webhook_latency: [lognormal 2s 1s]\n",
            "p50 <= p99",
        ),
        (
            "name: x\naxes:\n  partition: [leader 10s]\n",
            "not a partition",
        ),
        ("name: x\nseeds_per_point: 0\n", "seeds_per_point"),
        ("name: x\nseeds_per_point: -1\n", "seeds_per_point"),
        ("name: ../x\n", "name"),
        ("name: x\ncolour: red\n", "unknown field `colour`"),
        ("axes:\n  clients: [1]\n", "missing field `name`"),
        (
            "name: x\nplots:\n  - { x: clients, y: e2e.p99_ms }\n",
            "not an axis",
        ),
        (
            "name: x\naxes:\n  clients: [1]\nplots:\n  - { x: clients, y: p95 }\n",
            "metric",
        ),
        (
            "name: x\nplots:\n  - { over_time: error_rate, bucket: 0s }\n",
            "bucket",
        ),
        ("name: x\nplots:\n  - { x: clients }\n", "expected"),
        ("name: x\naxes:\n  clients: [[1]]\n", "not a value"),
        (
            "name: x\nseeds_per_point: 1000\naxes:\n  clients: [1,2,3,4,5,6,7,8,9,10,11]\n  timeout_seconds: [1,2,3,4,5,6,7,8,9,10]\n",
            "more than",
        ),
    ];
    for (text, expected) in cases {
        match parse_sweep(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => assert!(
                e.contains(expected),
                "{text}\n=> {e}\n(expected {expected:?})"
            ),
        }
    }
    // Not YAML, or not a mapping: errors, never a panic.
    for text in [
        "",
        "[",
        ":::",
        "- 1\n- 2\n",
        "\u{0}\u{1}",
        "name: [1, 2]",
        "&a [*a]",
    ] {
        assert!(parse_sweep(text).is_err(), "{text:?} accepted");
    }
}

#[test]
fn reports_hold_the_known_numbers() {
    let sweep = parse_sweep(SMALL).expect("parses");
    let dir = scratch("known-numbers");
    let report = run_experiment(&sweep, &fake_runner, &dir, Progress::Off).expect("runs");
    assert_eq!(report.points.len(), 4);

    // Point 0: timeout 1 s, Fail. The webhook takes 200 ms, but 1500 ms (cut off at 1 s, a
    // timeout) for one request in ten: 10% timeouts, and p99 = 1 s + authn + authz.
    let p0 = &report.points[0].stats;
    assert_eq!(p0.outcomes.total(), 2 * 2 * REQUESTS_PER_CLIENT as u64);
    assert_eq!(p0.outcomes.timeout, 10);
    assert_eq!(format!("{:.3}", p0.e2e.p99_ms), "1000.300");
    assert_eq!(p0.stages["admission"].p50_ms, 200.0);
    // Point 1: the same under Ignore: no timeouts.
    assert_eq!(report.points[1].stats.outcomes.timeout, 0);
    // Point 2: timeout 2 s: the 1.5 s calls finish.
    let p2 = &report.points[2].stats;
    assert_eq!(p2.outcomes.timeout, 0);
    assert_eq!(p2.stages["admission"].p99_ms, 1500.0);

    let md = read(&dir, "results.md");
    assert!(md.starts_with("# Experiment `small`\n\nTwo timeouts by two policies.\n"));
    assert!(md.contains("4 points (timeout_seconds x failure_policy), 2 seeds each (10..=11)"));
    assert!(md.contains("| # | timeout_seconds | failure_policy | runs | requests | p50 | p90 |"));
    // Denials, (i + seed) % 20 == 0 for i < 50: i = 10 and 30 for seed 10; for seed 11,
    // i = 9, 29 and 49 are the slow tenth, timeouts first. 88 ok at 202.3 ms (with storage).
    assert!(
        md.contains("clients=`2`, rate=`closed`, max_in_flight=`8`, duration=`10s`."),
        "{md}"
    );
    // Closed-loop clients: no `skipped %` column.
    assert!(!md.contains("skipped"), "{md}");
    assert!(
        md.contains("| 0 | 1 | Fail | 2/2 | 100 | 202.300 | 202.300 | 1000.300 | 88.00 | 2.00 | 10.00 | 0.00 | 403x2 timeoutx10 |"),
        "{md}"
    );
    assert!(md.contains("## Latency per stage (ms: p50 / p90 / p99)"));
    assert!(md.contains(
        "| # | admission | admission.webhook-0 | authentication | authorization | storage |"
    ));

    let csv = read(&dir, "results.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with(
        "point,timeout_seconds,failure_policy,runs_ok,runs_failed,requests,e2e_p50_ms,"
    ));
    assert!(lines[0].ends_with(",storage.p50_ms,storage.p90_ms,storage.p99_ms"));
    assert!(
        lines[1].starts_with("0,1,Fail,2,0,100,202.300,202.300,1000.300,0.880000,0.020000,0.100000,0.000000,0.000000,403x2 timeoutx10,"),
        "{}",
        lines[1]
    );
    assert!(
        !dir.join("over-time.csv").exists(),
        "no over-time plot asked for"
    );
}

#[test]
fn plots_are_written_as_svg_and_png() {
    let sweep = parse_sweep(SMALL).expect("parses");
    let dir = scratch("plots");
    let report = run_experiment(&sweep, &fake_runner, &dir, Progress::Off).expect("runs");
    let names: Vec<String> = report
        .files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        names,
        [
            "results.md",
            "results.csv",
            "e2e-p99_ms-vs-timeout_seconds.svg",
            "e2e-p99_ms-vs-timeout_seconds.png",
            "failure_rate-vs-timeout_seconds.svg",
            "failure_rate-vs-timeout_seconds.png",
        ]
    );
    let svg = read(&dir, "e2e-p99_ms-vs-timeout_seconds.svg");
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    for text in [
        "failure_policy=Fail",
        "failure_policy=Ignore",
        "webhook timeoutSeconds (s)",
        "end-to-end latency p99 (ms)",
        "small: end-to-end latency p99 (ms) vs webhook timeoutSeconds (s)",
    ] {
        assert!(svg.contains(text), "svg lacks {text:?}");
    }
    // Two lines of two points each, a marker per point.
    assert_eq!(svg.matches("<circle").count(), 4, "{svg}");
    let png = std::fs::read(dir.join("e2e-p99_ms-vs-timeout_seconds.png")).expect("png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 10_000, "png of {} bytes", png.len());
}

#[test]
fn outage_over_time() {
    let sweep = builtin("failure-policy-outage").expect("built in");
    assert!(matches!(sweep.base.load, Load::Paced { .. }));
    let dir = scratch("outage");
    let report = run_experiment(&sweep, &fake_runner, &dir, Progress::Off).expect("runs");
    let csv = read(&dir, "over-time.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    assert_eq!(
        header[..4],
        ["point", "failure_policy", "bucket_start_s", "requests"]
    );
    let column = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (error_rate, skipped_rate) = (column("error_rate"), column("skipped_rate"));
    // 1 s buckets over 90 s, per point. Under Fail the buckets inside 30 s..60 s are all
    // errors and the others have none; under Ignore none has any.
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2 * 90, "{csv}");
    for row in rows {
        let cells: Vec<&str> = row.split(',').collect();
        let start: f64 = cells[2].parse().expect("bucket start");
        let expected = if cells[1] == "Fail" && (30.0..60.0).contains(&start) {
            "1.000000"
        } else {
            "0.000000"
        };
        assert_eq!(cells[error_rate], expected, "{row}");
        assert_eq!(cells[skipped_rate], "0.000000", "{row}");
    }
    let svg = read(&dir, "failure_rate-over-time.svg");
    assert!(svg.contains("request start (s of simulated time)"));
    assert!(svg.contains("failure_policy=Ignore"));
    // The outage is shaded and named.
    assert!(svg.contains("webhook down 30-60 s"), "no outage label");
    assert!(dir.join("e2e-p99_ms-over-time.png").exists());
    assert_eq!(report.files.len(), 3 + 2 * 2);
    // The summary has a column for the paced clients' skipped sends.
    let md = read(&dir, "results.md");
    assert!(md.contains("| skipped % |"), "{md}");
}

#[test]
fn failed_runs_are_reported_and_the_rest_aggregated() {
    let sweep = parse_sweep(SMALL).expect("parses");
    let dir = scratch("failed-runs");
    let flaky = |point: &Point, seed: u64| {
        if seed == 11 && point.failure_policy == FailurePolicy::Ignore {
            Err("simulation stalled | at 3s\nsecond line".to_string())
        } else {
            fake_runner(point, seed)
        }
    };
    let report = run_experiment(&sweep, &flaky, &dir, Progress::Off).expect("runs");
    assert_eq!(report.points[1].runs_failed.len(), 1);
    assert_eq!(report.points[1].stats.outcomes.total(), 50);
    let md = read(&dir, "results.md");
    assert!(md.contains("| 1 | 1 | Ignore | 1/2 | 50 |"), "{md}");
    assert!(md.contains("## Failed runs\n\n- point 1, seed 11: simulation stalled | at 3s second line\n- point 3, seed 11:"));
    let csv = read(&dir, "results.csv");
    assert!(
        csv.lines()
            .nth(2)
            .is_some_and(|l| l.starts_with("1,1,Ignore,1,1,50,"))
    );
}

#[test]
fn same_sweep_same_bytes() {
    let sweep = builtin("chained-webhooks").expect("built in");
    let (a, b) = (scratch("determinism-a"), scratch("determinism-b"));
    let first = run_experiment(&sweep, &fake_runner, &a, Progress::Off).expect("runs");
    // The second runner hands back the same requests in reverse order: order must not matter.
    let reversed = |point: &Point, seed: u64| {
        fake_runner(point, seed).map(|mut s| {
            s.requests.reverse();
            s
        })
    };
    let second = run_experiment(&sweep, &reversed, &b, Progress::Off).expect("runs");
    assert_eq!(first.files.len(), second.files.len());
    assert!(first.files.len() >= 2 + 3 * 2);
    for (fa, fb) in first.files.iter().zip(&second.files) {
        assert_eq!(fa.file_name(), fb.file_name());
        let (ba, bb) = (std::fs::read(fa).expect("a"), std::fs::read(fb).expect("b"));
        assert!(ba == bb, "{} differs", fa.display());
    }
    // Sequential mutating webhooks add up; validating ones do not (the built-in sweeps 1, 2,
    // 4, 8 and 10 webhooks of each kind).
    let md = read(&a, "results.md");
    assert!(md.contains("| 3 | mutating | 8 |"), "{md}");
    assert!(md.contains("| 8 | validating | 8 |"), "{md}");
    let mutating_8 = &first.points[3].stats.stages["admission"];
    let mutating_10 = &first.points[4].stats.stages["admission"];
    let validating_8 = &first.points[8].stats.stages["admission"];
    assert_eq!(mutating_8.p50_ms, 80.0);
    assert_eq!(mutating_10.p50_ms, 100.0);
    assert_eq!(validating_8.p50_ms, 10.0);
}

#[test]
fn a_parameter_without_order_is_laid_out_in_config_order() {
    let text = "
name: categories
seeds_per_point: 1
axes:
  partition: [none, follower 2s 2s, leader 2s 2s]
  clients: [1, 3]
plots:
  - { x: partition, y: e2e.p50_ms }
";
    let sweep = parse_sweep(text).expect("parses");
    let dir = scratch("categories");
    // Progress on stderr (not a terminal here): drawn all the same, and harmless.
    run_experiment(&sweep, &fake_runner, &dir, Progress::Stderr).expect("runs");
    let svg = read(&dir, "e2e-p50_ms-vs-partition.svg");
    for text in [
        "none",
        "follower 2s 2s",
        "leader 2s 2s",
        "clients=1",
        "clients=3",
    ] {
        assert!(svg.contains(text), "svg lacks {text:?}");
    }
    assert_eq!(svg.matches("<circle").count(), 6);
}
