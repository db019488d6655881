//! Experiments: quantitative answers ("with a webhook whose p99 is 800 ms and timeout 1 s,
//! what happens to pod creation latency and errors?") from sweeps of simulated runs.
//!
//! The framework does not know how a point runs: [`run_experiment`] takes a
//! [`PointRunner`] (the simulated pipeline in the binary, a double in tests), runs every point
//! of the sweep with every seed, aggregates, and writes the reports. The same sweep and the
//! same runner give byte-identical files.
//!
//! Map of the module, in the order a run uses it:
//! - [`point`]: [`Point`], the parameters of one run, and [`Samples`], what it measured
//!   (one [`RequestRecord`] per request: start, latency, per-stage latencies, outcome).
//! - [`sweep`]: [`Sweep`], its axes ([`sweep::Param`] and values), the cartesian product,
//!   the plots asked for ([`sweep::PlotSpec`]) and the metrics they show.
//! - [`config`]: the YAML sweep file, read into a [`Sweep`] with clear errors.
//! - [`builtin`]: the five experiments of issue 8, as sweep files compiled in.
//! - [`pace`]: paced (open-loop) clients, on a schedule with a bound on requests in flight,
//!   for both runners.
//! - [`stats`]: nearest-rank percentiles, outcome rates, time buckets.
//! - [`report`]: `results.md`, `results.csv` and `over-time.csv`.
//! - [`plot`]: the plots, as SVG and PNG, drawn with an embedded font.
//! - [`progress`]: a progress line on stderr when it is a terminal.
//! - [`real`]: a [`PointRunner`] that runs each point against real `kubesim` processes in
//!   real time, to set beside the simulated numbers.

pub mod builtin;
pub mod config;
pub mod pace;
pub mod plot;
pub mod point;
pub mod progress;
pub mod real;
pub mod report;
pub mod stats;
pub mod sweep;

use std::path::{Path, PathBuf};

pub use config::{load_sweep, parse_sweep};
pub use point::{Outcome, Point, PointRunner, RequestRecord, Samples};
pub use progress::Progress;
pub use sweep::{Sweep, SweepPoint};

use stats::{Bucket, Stats};
use sweep::PlotSpec;

/// What one point gave over all its seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct PointResult {
    pub point: SweepPoint,
    /// Over the requests of every seed whose run succeeded.
    pub stats: Stats,
    /// Seeds whose run returned an error, with the error.
    pub runs_failed: Vec<(u64, String)>,
    /// For each of the sweep's plots, in order: the time buckets of an over-time plot, empty
    /// for the others.
    pub over_time: Vec<Vec<Bucket>>,
}

/// A finished experiment: the results, and the files written.
#[derive(Debug, Clone)]
pub struct Report {
    pub sweep: Sweep,
    pub points: Vec<PointResult>,
    /// Every file written, in the order written.
    pub files: Vec<PathBuf>,
}

/// Where an experiment's files go unless told otherwise, from the workspace root.
pub fn default_out_dir(name: &str) -> PathBuf {
    Path::new("target").join("experiments").join(name)
}

/// Runs every point of `sweep` with each of its seeds through `runner`, then writes
/// `results.md`, `results.csv`, `over-time.csv` (when an over-time plot is asked for) and each
/// plot as `.svg` and `.png` into `out_dir` (created if missing).
///
/// A run that fails (`Err` from the runner) is recorded in the report and the point is
/// aggregated over the other seeds; only I/O and drawing failures end the experiment.
pub fn run_experiment(
    sweep: &Sweep,
    runner: &PointRunner<'_>,
    out_dir: &Path,
    progress: Progress,
) -> Result<Report, String> {
    sweep.validate()?;
    let points = sweep.points();
    let seeds: Vec<u64> = sweep.seeds().collect();
    let mut bar = progress.start(&sweep.name, points.len() * seeds.len());
    let mut results = Vec::with_capacity(points.len());
    for point in points {
        results.push(run_point(sweep, point, &seeds, runner, &mut bar));
    }
    bar.finish();
    let mut report = Report {
        sweep: sweep.clone(),
        points: results,
        files: Vec::new(),
    };
    report.files = write_files(&report, out_dir)?;
    Ok(report)
}

fn run_point(
    sweep: &Sweep,
    point: SweepPoint,
    seeds: &[u64],
    runner: &PointRunner<'_>,
    bar: &mut progress::Bar,
) -> PointResult {
    let mut records = Vec::new();
    let mut runs_failed = Vec::new();
    for &seed in seeds {
        bar.step(point.index, seed);
        match runner(&point.point, seed) {
            Ok(samples) => records.extend(samples.requests),
            Err(e) => runs_failed.push((seed, e)),
        }
    }
    let over_time = sweep
        .plots
        .iter()
        .map(|plot| match plot {
            PlotSpec::OverTime { bucket, .. } => stats::over_time(&records, *bucket),
            PlotSpec::Lines { .. } => Vec::new(),
        })
        .collect();
    PointResult {
        stats: Stats::of(&records),
        point,
        runs_failed,
        over_time,
    }
}

fn write_files(report: &Report, out_dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let mut files = Vec::new();
    let mut write = |name: &str, text: String| -> Result<(), String> {
        let path = out_dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        files.push(path);
        Ok(())
    };
    write("results.md", report::markdown(report))?;
    write("results.csv", report::csv(report))?;
    if let Some(text) = report::over_time_csv(report) {
        write("over-time.csv", text)?;
    }
    for chart in plot::charts(report) {
        files.extend(plot::write(&chart, out_dir)?);
    }
    Ok(files)
}
