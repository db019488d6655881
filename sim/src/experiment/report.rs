//! The tables: `results.md` for people, `results.csv` for spreadsheets and scripts (one row
//! per point in both), and `over-time.csv` (one row per point and time bucket). Numbers are
//! printed with fixed precision, so the same results give the same bytes.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::point::Load;
use super::stats::{Latencies, Outcomes};
use super::sweep::{Param, PlotSpec, Rate};
use super::{PointResult, Report};

/// The Markdown report: the question, the fixed parameters, then one table row per point
/// and a second table of per-stage latencies.
pub fn markdown(report: &Report) -> String {
    let sweep = &report.sweep;
    let mut out = String::new();
    let _ = writeln!(out, "# Experiment `{}`\n", sweep.name);
    if !sweep.description.is_empty() {
        let _ = writeln!(out, "{}\n", sweep.description.trim());
    }
    let axes: Vec<&str> = sweep.axes.iter().map(|a| a.param.name()).collect();
    let seeds_last = sweep
        .first_seed
        .wrapping_add(u64::from(sweep.seeds_per_point).saturating_sub(1));
    let _ = writeln!(
        out,
        "{} points ({}), {} seeds each ({}..={}).\n",
        report.points.len(),
        if axes.is_empty() {
            "no axes".to_string()
        } else {
            axes.join(" x ")
        },
        sweep.seeds_per_point,
        sweep.first_seed,
        seeds_last,
    );
    let fixed: Vec<String> = Param::ALL
        .iter()
        .filter(|p| !sweep.axes.iter().any(|a| a.param == **p))
        .map(|p| format!("{}=`{}`", p.name(), p.value_of(&sweep.base)))
        .collect();
    let _ = writeln!(out, "Fixed: {}.\n", fixed.join(", "));
    let _ = writeln!(
        out,
        "Latencies in ms, nearest-rank percentiles over every request of every seed, whatever \
         its outcome. Rates in % of requests; `not ok` counts the other outcomes by HTTP code.\n"
    );
    if paced(report) {
        let _ = writeln!(
            out,
            "Paced clients send on a schedule; `skipped %` are the sends due while \
             `max_in_flight` requests were outstanding (never sent, not in the latencies).\n"
        );
    }
    summary_table(&mut out, report, &axes);
    stage_table(&mut out, report);
    failed_runs(&mut out, report);
    out
}

/// Whether any point's clients are paced: only then has the summary a `skipped %` column.
fn paced(report: &Report) -> bool {
    report
        .points
        .iter()
        .any(|r| matches!(r.point.point.load, Load::Paced { .. }))
}

fn summary_table(out: &mut String, report: &Report, axes: &[&str]) {
    let paced = paced(report);
    let mut header = vec!["#"];
    header.extend(axes);
    header.extend([
        "runs",
        "requests",
        "p50",
        "p90",
        "p99",
        "ok %",
        "denied %",
        "timeout %",
        "error %",
    ]);
    if paced {
        header.push("skipped %");
    }
    header.push("not ok");
    table_header(out, &header, axes.len() + 1);
    for result in &report.points {
        let o = &result.stats.outcomes;
        let e2e = &result.stats.e2e;
        let mut row = labels(report, result);
        row.extend([
            runs_text(report, result),
            o.total().to_string(),
            format!("{:.3}", e2e.p50_ms),
            format!("{:.3}", e2e.p90_ms),
            format!("{:.3}", e2e.p99_ms),
            percent(o, Rate::Success),
            percent(o, Rate::Denial),
            percent(o, Rate::Timeout),
            percent(o, Rate::Error),
        ]);
        if paced {
            row.push(percent(o, Rate::Skipped));
        }
        row.push(o.codes_text());
        table_row(out, &row);
    }
    out.push('\n');
}

fn stage_table(out: &mut String, report: &Report) {
    let stages = stage_names(report);
    if stages.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Latency per stage (ms: p50 / p90 / p99)\n");
    let mut header = vec!["#"];
    header.extend(stages.iter().map(String::as_str));
    table_header(out, &header, 1);
    for result in &report.points {
        let mut row = vec![result.point.index.to_string()];
        row.extend(stages.iter().map(|s| match result.stats.stages.get(s) {
            Some(l) => format!("{:.3} / {:.3} / {:.3}", l.p50_ms, l.p90_ms, l.p99_ms),
            None => "-".to_string(),
        }));
        table_row(out, &row);
    }
    out.push('\n');
}

fn failed_runs(out: &mut String, report: &Report) {
    let failed: Vec<String> = report
        .points
        .iter()
        .flat_map(|r| {
            r.runs_failed
                .iter()
                .map(|(seed, e)| format!("- point {}, seed {seed}: {}", r.point.index, one_line(e)))
        })
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "## Failed runs\n\n{}\n", failed.join("\n"));
    }
}

/// The CSV: one row per point; per-stage columns for every stage any point saw, empty where
/// a point's requests never reached it. Rates are shares from 0 to 1.
pub fn csv(report: &Report) -> String {
    let stages = stage_names(report);
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(report.sweep.axes.iter().map(|a| a.param.name().to_string()));
    header.extend(
        [
            "runs_ok",
            "runs_failed",
            "requests",
            "e2e_p50_ms",
            "e2e_p90_ms",
            "e2e_p99_ms",
            "success_rate",
            "denial_rate",
            "timeout_rate",
            "error_rate",
            "skipped_rate",
            "not_ok_by_code",
        ]
        .map(String::from),
    );
    for stage in &stages {
        header.extend(["p50_ms", "p90_ms", "p99_ms"].map(|q| format!("{stage}.{q}")));
    }
    let mut out = csv_line(&header);
    for result in &report.points {
        let o = &result.stats.outcomes;
        let mut row = labels(report, result);
        let failed = result.runs_failed.len();
        row.extend([
            (report.sweep.seeds_per_point as usize)
                .saturating_sub(failed)
                .to_string(),
            failed.to_string(),
            o.total().to_string(),
        ]);
        row.extend(latency_cells(Some(&result.stats.e2e)));
        row.extend(RATE_COLUMNS.map(|r| format!("{:.6}", o.rate(r))));
        row.push(o.codes_text());
        for stage in &stages {
            row.extend(latency_cells(result.stats.stages.get(stage)));
        }
        out.push_str(&csv_line(&row));
    }
    out
}

/// The rates both CSVs give, in their column order.
const RATE_COLUMNS: [Rate; 5] = [
    Rate::Success,
    Rate::Denial,
    Rate::Timeout,
    Rate::Error,
    Rate::Skipped,
];

/// One row per point and time bucket, for the first over-time plot's bucket width; `None`
/// when the sweep asks for no over-time plot.
pub fn over_time_csv(report: &Report) -> Option<String> {
    let plot = report
        .sweep
        .plots
        .iter()
        .position(|p| matches!(p, PlotSpec::OverTime { .. }))?;
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(report.sweep.axes.iter().map(|a| a.param.name().to_string()));
    header.extend(
        [
            "bucket_start_s",
            "requests",
            "e2e_p50_ms",
            "e2e_p90_ms",
            "e2e_p99_ms",
            "success_rate",
            "denial_rate",
            "timeout_rate",
            "error_rate",
            "skipped_rate",
        ]
        .map(String::from),
    );
    let mut out = csv_line(&header);
    for result in &report.points {
        let labels = labels(report, result);
        for bucket in result.over_time.get(plot).into_iter().flatten() {
            let o = &bucket.stats.outcomes;
            let mut row = labels.clone();
            row.push(format!("{:.3}", bucket.start.as_secs_f64()));
            row.push(o.total().to_string());
            row.extend(latency_cells((o.total() > 0).then_some(&bucket.stats.e2e)));
            row.extend(RATE_COLUMNS.map(|r| format!("{:.6}", o.rate(r))));
            out.push_str(&csv_line(&row));
        }
    }
    Some(out)
}

/// Every stage name any point's requests reached, in name order.
fn stage_names(report: &Report) -> Vec<String> {
    let names: BTreeSet<&String> = report
        .points
        .iter()
        .flat_map(|r| r.stats.stages.keys())
        .collect();
    names.into_iter().cloned().collect()
}

/// The point's number, then its value on each axis.
fn labels(report: &Report, result: &PointResult) -> Vec<String> {
    let mut row = vec![result.point.index.to_string()];
    row.extend(
        report
            .sweep
            .labels(&result.point.coords)
            .into_iter()
            .map(|(_, v)| v),
    );
    row
}

fn runs_text(report: &Report, result: &PointResult) -> String {
    let seeds = report.sweep.seeds_per_point as usize;
    format!("{}/{seeds}", seeds.saturating_sub(result.runs_failed.len()))
}

fn percent(outcomes: &Outcomes, rate: Rate) -> String {
    format!("{:.2}", outcomes.rate(rate) * 100.0)
}

fn latency_cells(l: Option<&Latencies>) -> [String; 3] {
    match l {
        Some(l) => [l.p50_ms, l.p90_ms, l.p99_ms].map(|v| format!("{v:.3}")),
        None => Default::default(),
    }
}

/// A header and its alignment row; the first `left` columns are left-aligned labels, the
/// numbers right-aligned.
fn table_header(out: &mut String, header: &[&str], left: usize) {
    let cells: Vec<String> = header.iter().map(|h| md_cell(h)).collect();
    let _ = writeln!(out, "| {} |", cells.join(" | "));
    let align: Vec<&str> = (0..header.len())
        .map(|i| if i < left { "---" } else { "---:" })
        .collect();
    let _ = writeln!(out, "|{}|", align.join("|"));
}

fn table_row(out: &mut String, row: &[String]) {
    let cells: Vec<String> = row.iter().map(|c| md_cell(c)).collect();
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

/// A table cell: a runner's text may hold `|` or line breaks.
fn md_cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// RFC 4180: quote a field holding a comma, a quote or a line break.
fn csv_line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect();
    format!("{}\n", quoted.join(","))
}
