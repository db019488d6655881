//! What a benchmark run measured, and its two renderings: a compact table for people and one
//! JSON object for scripts (`--json`). Percentiles are computed here from every recorded
//! latency, so nothing is sampled or bucketed away.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The raw outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The latency of every request that succeeded, in completion order per client.
    pub latencies: Vec<Duration>,
    /// Failed requests by gRPC code and message, in a stable order for the report.
    pub errors: BTreeMap<String, u64>,
    /// Wall time from the first request sent to the last answer received.
    pub elapsed: Duration,
}

impl Outcome {
    /// Folds one client's results into the run's.
    pub fn merge(&mut self, other: Outcome) {
        self.latencies.extend(other.latencies);
        for (error, count) in other.errors {
            *self.errors.entry(error).or_default() += count;
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// The numbers a benchmark reports, in etcd benchmark's spirit; units last in names.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub requests_ok: u64,
    pub requests_failed: u64,
    pub total_s: f64,
    /// Successful requests per second, as etcd's benchmark counts them.
    pub requests_per_s: f64,
    pub latency_ms_avg: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p90: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
}

impl Summary {
    pub fn of(outcome: &Outcome) -> Summary {
        let mut sorted = outcome.latencies.clone();
        sorted.sort_unstable();
        let ms = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let total_s = outcome.elapsed.as_secs_f64();
        let count = sorted.len() as f64;
        let sum: Duration = sorted.iter().sum();
        Summary {
            requests_ok: sorted.len() as u64,
            requests_failed: outcome.error_count(),
            total_s,
            requests_per_s: if total_s > 0.0 { count / total_s } else { 0.0 },
            latency_ms_avg: if count > 0.0 {
                ms(Some(sum)) / count
            } else {
                0.0
            },
            latency_ms_p50: ms(percentile(&sorted, 50.0)),
            latency_ms_p90: ms(percentile(&sorted, 90.0)),
            latency_ms_p99: ms(percentile(&sorted, 99.0)),
            latency_ms_max: ms(sorted.last().copied()),
        }
    }
}

/// The nearest-rank percentile of sorted latencies: the smallest value that at least `p`% of
/// them do not exceed. `None` when nothing succeeded.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    Some(sorted[index])
}

/// Describes the run in the report's first line and in the JSON (`op`, `clients`, ...).
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// `put` or `range`.
    pub op: &'static str,
    /// Extra words about the operation, e.g. `consistency=l`.
    pub detail: String,
    pub endpoints: Vec<String>,
    pub conns: usize,
    pub clients: usize,
}

/// The human-readable report.
pub fn table(info: &RunInfo, outcome: &Outcome) -> String {
    let s = Summary::of(outcome);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "kv {} {}: {} ok, {} failed; {} clients over {} conns to {}",
        info.op,
        info.detail,
        s.requests_ok,
        s.requests_failed,
        info.clients,
        info.conns,
        info.endpoints.join(",")
    );
    let _ = writeln!(
        out,
        "{:>9} {:>11} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "total s", "requests/s", "avg ms", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    let _ = writeln!(
        out,
        "{:>9.3} {:>11.1} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
        s.total_s,
        s.requests_per_s,
        s.latency_ms_avg,
        s.latency_ms_p50,
        s.latency_ms_p90,
        s.latency_ms_p99,
        s.latency_ms_max
    );
    for (error, count) in &outcome.errors {
        let _ = writeln!(out, "error x{count}: {error}");
    }
    out
}

/// One JSON object on one line, for scripts.
pub fn json(info: &RunInfo, outcome: &Outcome) -> String {
    let s = Summary::of(outcome);
    let endpoints: Vec<String> = info.endpoints.iter().map(|e| json_string(e)).collect();
    let errors: Vec<String> = outcome
        .errors
        .iter()
        .map(|(error, count)| format!("{}:{count}", json_string(error)))
        .collect();
    format!(
        concat!(
            "{{\"op\":{},\"detail\":{},\"endpoints\":[{}],\"conns\":{},\"clients\":{},",
            "\"requests_ok\":{},\"requests_failed\":{},\"total_s\":{:.6},\"requests_per_s\":{:.3},",
            "\"latency_ms_avg\":{:.3},\"latency_ms_p50\":{:.3},\"latency_ms_p90\":{:.3},",
            "\"latency_ms_p99\":{:.3},\"latency_ms_max\":{:.3},\"errors\":{{{}}}}}"
        ),
        json_string(info.op),
        json_string(&info.detail),
        endpoints.join(","),
        info.conns,
        info.clients,
        s.requests_ok,
        s.requests_failed,
        s.total_s,
        s.requests_per_s,
        s.latency_ms_avg,
        s.latency_ms_p50,
        s.latency_ms_p90,
        s.latency_ms_p99,
        s.latency_ms_max,
        errors.join(",")
    )
}

/// A JSON string literal. Error messages come from servers, so anything may be in them.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: impl IntoIterator<Item = u64>) -> Vec<Duration> {
        values.into_iter().map(Duration::from_millis).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted = ms(1..=100);
        assert_eq!(percentile(&sorted, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&sorted, 90.0), Some(Duration::from_millis(90)));
        assert_eq!(percentile(&sorted, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&sorted, 100.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&sorted, 0.0), Some(Duration::from_millis(1)));
        assert_eq!(percentile(&ms([7]), 99.0), Some(Duration::from_millis(7)));
        assert_eq!(
            percentile(&ms([1, 2, 3]), 50.0),
            Some(Duration::from_millis(2))
        );
        assert_eq!(
            percentile(&ms([1, 2, 3, 4]), 50.0),
            Some(Duration::from_millis(2))
        );
        assert_eq!(
            percentile(&ms([1, 2, 3, 4]), 51.0),
            Some(Duration::from_millis(3))
        );
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn summary_of_unsorted_latencies() {
        let mut outcome = Outcome {
            latencies: ms([40, 10, 30, 20]),
            elapsed: Duration::from_secs(2),
            ..Outcome::default()
        };
        outcome.errors.insert("Unavailable: no leader".into(), 2);
        let s = Summary::of(&outcome);
        assert_eq!(s.requests_ok, 4);
        assert_eq!(s.requests_failed, 2);
        assert_eq!(s.requests_per_s, 2.0);
        assert!((s.latency_ms_avg - 25.0).abs() < 1e-9);
        assert!((s.latency_ms_p50 - 20.0).abs() < 1e-9);
        assert!((s.latency_ms_max - 40.0).abs() < 1e-9);
    }

    #[test]
    fn merge_adds_errors_and_latencies() {
        let mut a = Outcome {
            latencies: ms([1]),
            ..Outcome::default()
        };
        a.errors.insert("x".into(), 1);
        let mut b = Outcome {
            latencies: ms([2, 3]),
            ..Outcome::default()
        };
        b.errors.insert("x".into(), 2);
        b.errors.insert("y".into(), 1);
        a.merge(b);
        assert_eq!(a.latencies.len(), 3);
        assert_eq!(a.errors["x"], 3);
        assert_eq!(a.error_count(), 4);
    }

    #[test]
    fn nothing_succeeded_reports_zeros() {
        let s = Summary::of(&Outcome::default());
        assert_eq!(s.requests_ok, 0);
        assert_eq!(s.latency_ms_p99, 0.0);
        assert_eq!(s.requests_per_s, 0.0);
    }

    #[test]
    fn json_is_one_escaped_object() {
        let info = RunInfo {
            op: "put",
            detail: "key-size=8".into(),
            endpoints: vec!["127.0.0.1:2379".into()],
            conns: 1,
            clients: 2,
        };
        let mut outcome = Outcome {
            latencies: ms([1, 2]),
            elapsed: Duration::from_secs(1),
            ..Outcome::default()
        };
        outcome.errors.insert("Unknown: \"bad\"\n".into(), 1);
        let text = json(&info, &outcome);
        assert!(!text.contains('\n'));
        assert!(
            text.starts_with("{\"op\":\"put\",\"detail\":\"key-size=8\""),
            "{text}"
        );
        assert!(
            text.contains("\"clients\":2,\"requests_ok\":2,\"requests_failed\":1"),
            "{text}"
        );
        assert!(text.contains("\"latency_ms_p50\":1.000"), "{text}");
        assert!(
            text.ends_with("\"errors\":{\"Unknown: \\\"bad\\\"\\n\":1}}"),
            "{text}"
        );
    }

    #[test]
    fn table_has_header_numbers_and_errors() {
        let info = RunInfo {
            op: "range",
            detail: "consistency=s".into(),
            endpoints: vec!["a:1".into(), "b:2".into()],
            conns: 2,
            clients: 4,
        };
        let mut outcome = Outcome {
            latencies: ms([5]),
            elapsed: Duration::from_millis(500),
            ..Outcome::default()
        };
        outcome.errors.insert("Unavailable: no leader".into(), 3);
        let text = table(&info, &outcome);
        assert!(
            text.starts_with(
                "kv range consistency=s: 1 ok, 3 failed; 4 clients over 2 conns to a:1,b:2\n"
            ),
            "{text}"
        );
        assert!(text.contains("requests/s"));
        assert!(text.contains("    0.500         2.0    5.000"), "{text}");
        assert!(
            text.ends_with("error x3: Unavailable: no leader\n"),
            "{text}"
        );
    }
}
