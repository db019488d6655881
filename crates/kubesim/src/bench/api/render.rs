//! What `bench api` prints: a table with one line per measured row (percentiles from
//! [`report::Summary`], the same nearest-rank figures `bench kv` prints), then the errors and
//! the targets of issue 4; or, with `--json`, one JSON object per row.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::cpu::PerRequest;
use crate::bench::report::{Outcome, Summary};

/// The row-name column's width when every name fits (the usual rows: `api-create`, `store-put`).
const NAME_WIDTH: usize = 15;

/// Issue 4's targets.
pub const TARGET_CREATE_RATIO: f64 = 0.60;
pub const TARGET_LIST_CACHE_MS: f64 = 200.0;
pub const TARGET_WATCH_P99_MS: f64 = 100.0;

/// One measured line: a kind of request and everything it recorded.
#[derive(Debug, Clone)]
pub struct Row {
    /// `api-create`, `store-put`, `list-cache`, ...: stable, for scripts.
    pub name: &'static str,
    pub outcome: Outcome,
    /// Row-specific figures (items per list, missed events, ...), in JSON and in the notes.
    pub extra: Vec<(&'static str, Value)>,
    /// CPU per request of the server (with `--server-pid`) and of the benchmark.
    pub cpu: PerRequest,
}

impl Row {
    pub fn new(name: &'static str, outcome: Outcome, cpu: PerRequest) -> Row {
        Row {
            name,
            outcome,
            extra: Vec::new(),
            cpu,
        }
    }
}

/// A run's report.
#[derive(Debug, Clone)]
pub struct Report {
    pub op: &'static str,
    pub server: String,
    pub namespace: String,
    /// Who sent the measured requests: `admin`, or `--user`.
    pub user: String,
    pub conns: usize,
    pub clients: usize,
    pub total: u64,
    pub rows: Vec<Row>,
    /// Lines after the table: the targets, and what else a reader must know.
    pub notes: Vec<String>,
}

/// The human-readable report.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "api {}: {} clients over {} HTTP/2 conn(s) to {}, namespace {}, user {}, total {}",
        report.op,
        report.clients,
        report.conns,
        report.server,
        report.namespace,
        report.user,
        report.total
    );
    // As wide as the longest row name (`store-txn-stored` is wider than the usual 15).
    let name = report
        .rows
        .iter()
        .map(|row| row.name.len())
        .fold(NAME_WIDTH, usize::max);
    let _ = writeln!(
        out,
        "{:<name$} {:>8} {:>6} {:>9} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10}",
        "row",
        "ok",
        "failed",
        "total s",
        "req/s",
        "avg ms",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "server us",
        "bench us"
    );
    for row in &report.rows {
        let s = Summary::of(&row.outcome);
        let _ = writeln!(
            out,
            "{:<name$} {:>8} {:>6} {:>9.3} {:>10.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>10} {:>10}",
            row.name,
            s.requests_ok,
            s.requests_failed,
            s.total_s,
            s.requests_per_s,
            s.latency_ms_avg,
            s.latency_ms_p50,
            s.latency_ms_p90,
            s.latency_ms_p99,
            s.latency_ms_max,
            cpu_cell(row.cpu.server_us),
            cpu_cell(row.cpu.client_us)
        );
    }
    for row in &report.rows {
        for (error, count) in &row.outcome.errors {
            let _ = writeln!(out, "{} error x{count}: {error}", row.name);
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "{note}");
    }
    let _ = writeln!(
        out,
        "server us, bench us: CPU time per request (server with --server-pid; - when unknown)"
    );
    out
}

fn cpu_cell(us: Option<f64>) -> String {
    us.map_or_else(|| "-".to_string(), |us| format!("{us:.0}"))
}

/// One JSON object per row, each on one line, for scripts.
pub fn json_lines(report: &Report) -> String {
    let mut out = String::new();
    for row in &report.rows {
        let _ = writeln!(out, "{}", row_json(report, row));
    }
    out
}

fn row_json(report: &Report, row: &Row) -> Value {
    let s = Summary::of(&row.outcome);
    let mut object = Map::new();
    let mut put = |key: &str, value: Value| {
        object.insert(key.to_string(), value);
    };
    put("op", json!(report.op));
    put("row", json!(row.name));
    put("server", json!(report.server));
    put("namespace", json!(report.namespace));
    put("user", json!(report.user));
    put("conns", json!(report.conns));
    put("clients", json!(report.clients));
    put("total", json!(report.total));
    put("requests_ok", json!(s.requests_ok));
    put("requests_failed", json!(s.requests_failed));
    put("total_s", json!(round3(s.total_s)));
    put("requests_per_s", json!(round3(s.requests_per_s)));
    put("latency_ms_avg", json!(round3(s.latency_ms_avg)));
    put("latency_ms_p50", json!(round3(s.latency_ms_p50)));
    put("latency_ms_p90", json!(round3(s.latency_ms_p90)));
    put("latency_ms_p99", json!(round3(s.latency_ms_p99)));
    put("latency_ms_max", json!(round3(s.latency_ms_max)));
    put(
        "server_cpu_us_per_request",
        json!(row.cpu.server_us.map(round3)),
    );
    put(
        "client_cpu_us_per_request",
        json!(row.cpu.client_us.map(round3)),
    );
    for (key, value) in &row.extra {
        put(key, value.clone());
    }
    put("errors", json!(row.outcome.errors));
    Value::Object(object)
}

/// Three decimals: microseconds in milliseconds, what the table shows and more is noise.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

/// API creates per second over raw puts per second, `None` if the puts did nothing.
pub fn create_ratio(api: &Outcome, store: &Outcome) -> Option<f64> {
    let store_per_s = Summary::of(store).requests_per_s;
    (store_per_s > 0.0).then(|| Summary::of(api).requests_per_s / store_per_s)
}

pub fn create_note(ratio: Option<f64>) -> String {
    match ratio {
        Some(ratio) => format!(
            "API creates / raw store puts: {ratio:.2} (target >= {TARGET_CREATE_RATIO:.2}: {})",
            verdict(ratio >= TARGET_CREATE_RATIO)
        ),
        None => "API creates / raw store puts: no raw put succeeded".to_string(),
    }
}

/// The bound the store sets: its create Txns of the stored pods (what the API server writes
/// for each create: the pod with defaults and managedFields, put only if the key is new) over
/// raw puts of the request bodies. An API server that cost nothing would reach this ratio,
/// and no more.
pub fn store_bound_note(ratio: Option<f64>) -> String {
    match ratio {
        Some(ratio) => format!(
            "store create Txns of the stored pods / raw store puts: {ratio:.2} \
             (what creates would reach if the API server cost nothing)"
        ),
        None => "store create Txns of the stored pods / raw store puts: no raw put succeeded"
            .to_string(),
    }
}

/// The cache list target holds for every list (p99 of a handful is the slowest).
pub fn list_note(cache: &Outcome, items: Option<usize>) -> String {
    let s = Summary::of(cache);
    let met =
        s.requests_ok > 0 && s.requests_failed == 0 && s.latency_ms_p99 < TARGET_LIST_CACHE_MS;
    format!(
        "list of {} pods from the watch cache: p50 {:.1} ms, p99 {:.1} ms (target < {TARGET_LIST_CACHE_MS:.0} ms: {})",
        items.map_or_else(|| "?".to_string(), |n| n.to_string()),
        s.latency_ms_p50,
        s.latency_ms_p99,
        verdict(met)
    )
}

/// The watch targets: p99 delivery, and no watcher missing anything.
pub fn watch_notes(
    deliveries: &Outcome,
    watchers: usize,
    opened: usize,
    writes_acked: u64,
    missed: u64,
    watchers_incomplete: u64,
) -> Vec<String> {
    let s = Summary::of(deliveries);
    let expected = watchers as u64 * writes_acked;
    vec![
        format!(
            "delivery to {watchers} watchers: p50 {:.1} ms, p99 {:.1} ms (target p99 < {TARGET_WATCH_P99_MS:.0} ms: {})",
            s.latency_ms_p50,
            s.latency_ms_p99,
            verdict(s.requests_ok > 0 && s.latency_ms_p99 < TARGET_WATCH_P99_MS)
        ),
        format!(
            "every watcher got every event: {} ({} of {expected} deliveries received; {opened} of {watchers} watches opened; {missed} missed by {watchers_incomplete} watchers)",
            verdict(opened == watchers && missed == 0 && s.requests_ok == expected),
            s.requests_ok,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn outcome(latencies_ms: &[u64], elapsed_ms: u64) -> Outcome {
        Outcome {
            latencies: latencies_ms
                .iter()
                .map(|&ms| Duration::from_millis(ms))
                .collect(),
            elapsed: Duration::from_millis(elapsed_ms),
            ..Outcome::default()
        }
    }

    fn report() -> Report {
        let mut api = outcome(&[1, 2, 3, 4], 1000);
        api.errors.insert("409 AlreadyExists".into(), 2);
        let cpu = PerRequest {
            server_us: Some(812.4),
            client_us: None,
        };
        let mut api_row = Row::new("api-create", api, cpu);
        api_row.extra.push(("ratio_to_store_put", json!(0.5)));
        Report {
            op: "create",
            server: "https://127.0.0.1:6443".into(),
            namespace: "bench".into(),
            user: "jane".into(),
            conns: 1,
            clients: 16,
            total: 4,
            rows: vec![
                api_row,
                Row::new(
                    "store-put",
                    outcome(&[1, 1, 1, 1], 500),
                    PerRequest::default(),
                ),
            ],
            notes: vec!["a note".into()],
        }
    }

    #[test]
    fn table_lines() {
        let text = table(&report());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "api create: 16 clients over 1 HTTP/2 conn(s) to https://127.0.0.1:6443, namespace bench, user jane, total 4"
        );
        assert!(
            lines[1].starts_with("row                   ok failed   total s"),
            "{text}"
        );
        assert_eq!(
            lines[2],
            "api-create             4      2     1.000        4.0     2.50     2.00     4.00     4.00     4.00        812          -"
        );
        assert!(lines[1].ends_with("max ms  server us   bench us"), "{text}");
        assert!(lines[3].ends_with("          -          -"), "{text}");
        assert!(
            lines[3].starts_with("store-put              4      0     0.500        8.0"),
            "{text}"
        );
        assert_eq!(lines[4], "api-create error x2: 409 AlreadyExists");
        assert_eq!(lines[5], "a note");
        assert!(lines[6].starts_with("server us, bench us: CPU time per request"));
        assert_eq!(lines.len(), 7);
    }

    #[test]
    fn a_long_row_name_widens_the_first_column_for_every_line() {
        let mut report = report();
        report.rows.push(Row::new(
            "store-txn-stored",
            outcome(&[1, 1, 1, 1], 500),
            PerRequest::default(),
        ));
        let text = table(&report);
        let lines: Vec<&str> = text.lines().skip(1).take(4).collect();
        // Where the header's `ok` ends, every row's count of 4 ends too.
        let ok_end = lines[0].find(" ok ").expect("an ok column") + 3;
        assert_eq!(ok_end, "store-txn-stored".len() + 9, "{text}");
        for row in &lines[1..] {
            assert_eq!(&row[ok_end - 2..=ok_end], " 4 ", "{text}");
        }
        assert!(
            lines[3].starts_with("store-txn-stored        4      0"),
            "{text}"
        );
    }

    #[test]
    fn json_is_one_object_per_row() {
        let text = json_lines(&report());
        let rows: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            json!({
                "op": "create", "row": "api-create", "server": "https://127.0.0.1:6443",
                "namespace": "bench", "user": "jane", "conns": 1, "clients": 16, "total": 4,
                "requests_ok": 4, "requests_failed": 2, "total_s": 1.0, "requests_per_s": 4.0,
                "latency_ms_avg": 2.5, "latency_ms_p50": 2.0, "latency_ms_p90": 4.0,
                "latency_ms_p99": 4.0, "latency_ms_max": 4.0,
                "server_cpu_us_per_request": 812.4, "client_cpu_us_per_request": null,
                "ratio_to_store_put": 0.5,
                "errors": {"409 AlreadyExists": 2},
            })
        );
        assert!(
            text.lines()
                .next()
                .unwrap()
                .starts_with("{\"op\":\"create\",\"row\":\"api-create\"")
        );
        assert_eq!(rows[1]["row"], "store-put");
        assert_eq!(rows[1]["errors"], json!({}));
    }

    #[test]
    fn create_ratio_and_its_verdict() {
        let api = outcome(&[1; 6], 1000);
        let store = outcome(&[1; 10], 1000);
        let ratio = create_ratio(&api, &store);
        assert_eq!(ratio, Some(0.6));
        assert_eq!(
            create_note(ratio),
            "API creates / raw store puts: 0.60 (target >= 0.60: met)"
        );
        assert_eq!(
            create_note(Some(0.59)),
            "API creates / raw store puts: 0.59 (target >= 0.60: NOT met)"
        );
        assert_eq!(create_ratio(&api, &Outcome::default()), None);
        assert_eq!(
            store_bound_note(Some(0.587)),
            "store create Txns of the stored pods / raw store puts: 0.59 \
             (what creates would reach if the API server cost nothing)"
        );
        assert!(store_bound_note(None).ends_with("no raw put succeeded"));
    }

    #[test]
    fn list_verdict_uses_p99() {
        assert_eq!(
            list_note(&outcome(&[100, 150, 199], 500), Some(10_000)),
            "list of 10000 pods from the watch cache: p50 150.0 ms, p99 199.0 ms (target < 200 ms: met)"
        );
        assert!(list_note(&outcome(&[100, 150, 200], 500), None).ends_with("NOT met)"));
        assert!(list_note(&Outcome::default(), None).ends_with("NOT met)"));
    }

    #[test]
    fn watch_verdicts() {
        let deliveries = outcome(&[1, 2, 3, 99], 1000);
        assert_eq!(
            watch_notes(&deliveries, 2, 2, 2, 0, 0),
            [
                "delivery to 2 watchers: p50 2.0 ms, p99 99.0 ms (target p99 < 100 ms: met)",
                "every watcher got every event: met (4 of 4 deliveries received; 2 of 2 watches opened; 0 missed by 0 watchers)",
            ]
        );
        let notes = watch_notes(&outcome(&[1, 2, 150], 1000), 2, 2, 2, 1, 1);
        assert!(notes[0].ends_with("NOT met)"), "{}", notes[0]);
        assert!(notes[1].starts_with("every watcher got every event: NOT met (3 of 4"));
    }
}
