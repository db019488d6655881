//! The plots: one [`Chart`] per [`PlotSpec`], drawn by plotters twice, as SVG (for the web
//! and diffs) and PNG (for anything that shows images).
//!
//! Text is laid out and drawn with DejaVu Sans, embedded (`sim/assets/`, a 23 KB subset; its
//! licence beside it) and registered with plotters' `ab_glyph` backend: a machine without
//! fonts (a fresh container, CI) draws the same PNG, and no font search (fontconfig) is
//! linked. The SVG names the family `sans-serif` and leaves the drawing to the viewer.
//!
//! Each chart keeps its legend in a column of its own on the right, so no line hides under
//! it, whatever the data. An over-time chart shades the points' fault windows (a webhook
//! outage, a store partition) and names them, so the reader sees when the fault was on.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::Report;
use super::point::{DurationText, Partition};
use super::sweep::{Metric, Param, PlotSpec};

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");
/// The family name charts ask for; the embedded font is registered under it.
const FAMILY: &str = "sans-serif";
const SIZE: (u32, u32) = (1280, 720);
/// Width of the legend column.
const LEGEND_PX: u32 = 440;
/// Longer series names are cut, to fit the legend column.
const MAX_NAME_CHARS: usize = 60;
/// Tableau 10: distinguishable, and readable on white.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// What one plot shows, independent of how it is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The files' name without extension.
    pub file_stem: String,
    pub title: String,
    pub x_title: String,
    pub y_title: String,
    /// For a parameter without an order: the names of x = 0, 1, 2...
    pub x_categories: Option<Vec<String>>,
    pub series: Vec<Series>,
    /// Spans of x to shade, with a label: the fault windows of an over-time chart.
    pub spans: Vec<Span>,
}

/// A shaded span of the x axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub from: f64,
    pub to: f64,
    pub label: String,
}

/// One line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// In x order.
    pub points: Vec<(f64, f64)>,
}

/// The charts the sweep asks for, from the results.
pub fn charts(report: &Report) -> Vec<Chart> {
    let mut stems = Vec::new();
    let mut charts = Vec::new();
    for (i, spec) in report.sweep.plots.iter().enumerate() {
        let mut chart = match spec {
            PlotSpec::Lines { x, y } => lines(report, *x, y),
            PlotSpec::OverTime { y, bucket } => over_time(report, i, y, *bucket),
        };
        // Two plots of the same thing still get two files.
        if stems.contains(&chart.file_stem) {
            chart.file_stem = format!("{}-{}", chart.file_stem, i + 1);
        }
        stems.push(chart.file_stem.clone());
        charts.push(chart);
    }
    charts
}

/// A metric's value as plotted: rates in percent.
fn plotted(metric: &Metric, value: f64) -> f64 {
    match metric {
        Metric::Rate(_) => value * 100.0,
        Metric::Latency { .. } => value,
    }
}

fn lines(report: &Report, x: Param, y: &Metric) -> Chart {
    let sweep = &report.sweep;
    let x_axis = sweep.axes.iter().position(|a| a.param == x);
    let categorical =
        x_axis.is_some_and(|i| sweep.axes[i].values.iter().any(|v| x.numeric(v).is_none()));
    let mut series: Vec<Series> = Vec::new();
    for result in &report.points {
        let (Some(axis), Some(value)) = (x_axis, result.stats.metric(y)) else {
            continue;
        };
        let coord = result.point.coords[axis];
        let x_value = &sweep.axes[axis].values[coord];
        let x_pos = match x.numeric(x_value) {
            Some(n) if !categorical => n,
            _ => coord as f64,
        };
        let name = series_name(report, &result.point.coords, Some(axis), y);
        let at = match series.iter().position(|s| s.name == name) {
            Some(at) => at,
            None => {
                series.push(Series {
                    name,
                    points: Vec::new(),
                });
                series.len() - 1
            }
        };
        series[at].points.push((x_pos, plotted(y, value)));
    }
    for s in &mut series {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    Chart {
        file_stem: file_stem(&format!("{y}-vs-{}", x.name())),
        title: format!("{}: {} vs {}", sweep.name, y.title(), x.title()),
        x_title: x.title().to_string(),
        y_title: y.title(),
        x_categories: categorical.then(|| {
            x_axis.map_or_else(Vec::new, |i| {
                sweep.axes[i].values.iter().map(|v| v.to_string()).collect()
            })
        }),
        series,
        spans: Vec::new(),
    }
}

fn over_time(report: &Report, plot: usize, y: &Metric, bucket: std::time::Duration) -> Chart {
    let series = report
        .points
        .iter()
        .map(|result| Series {
            name: series_name(report, &result.point.coords, None, y),
            points: result
                .over_time
                .get(plot)
                .into_iter()
                .flatten()
                .filter_map(|b| {
                    let value = b.stats.metric(y)?;
                    Some((b.start.as_secs_f64(), plotted(y, value)))
                })
                .collect(),
        })
        .collect();
    Chart {
        file_stem: file_stem(&format!("{y}-over-time")),
        title: format!(
            "{}: {} over time ({} buckets)",
            report.sweep.name,
            y.title(),
            DurationText(bucket)
        ),
        x_title: "request start (s of simulated time)".to_string(),
        y_title: y.title(),
        x_categories: None,
        series,
        spans: fault_spans(report),
    }
}

/// Every point's webhook outage and partition window, once each, in time order.
fn fault_spans(report: &Report) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    for result in &report.points {
        let point = &result.point.point;
        let outage = point
            .webhook_outage
            .filter(|_| point.webhooks > 0)
            .map(|w| (w, "webhook down"));
        let partition = match point.partition {
            Partition::None => None,
            Partition::Follower(w) => Some((w, "follower cut off")),
            Partition::Leader(w) => Some((w, "leader cut off")),
        };
        for (window, what) in outage.into_iter().chain(partition) {
            let span = Span {
                from: window.start.as_secs_f64(),
                to: window.end().as_secs_f64(),
                label: format!(
                    " {what} {}-{} s",
                    format_number(window.start.as_secs_f64()),
                    format_number(window.end().as_secs_f64())
                ),
            };
            if !spans.contains(&span) {
                spans.push(span);
            }
        }
    }
    spans.sort_by(|a, b| a.from.total_cmp(&b.from));
    spans
}

/// `param=value, ...` for every axis but `skip`; the metric's name when nothing is left.
fn series_name(report: &Report, coords: &[usize], skip: Option<usize>, y: &Metric) -> String {
    let parts: Vec<String> = report
        .sweep
        .labels(coords)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != skip)
        .map(|(_, (param, value))| format!("{param}={value}"))
        .collect();
    if parts.is_empty() {
        y.to_string()
    } else {
        parts.join(", ")
    }
}

/// Letters, digits, `-` and `_` only: stage names come from the runner.
fn file_stem(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Draws `chart` as `<stem>.svg` and `<stem>.png` in `dir`; returns both paths.
pub fn write(chart: &Chart, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let svg_path = dir.join(format!("{}.svg", chart.file_stem));
    let png_path = dir.join(format!("{}.png", chart.file_stem));
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |e: std::io::Error| format!("{path}: {e}")
    };
    std::fs::write(&svg_path, svg(chart)?).map_err(io(&svg_path))?;
    std::fs::write(&png_path, png(chart)?).map_err(io(&png_path))?;
    Ok(vec![svg_path, png_path])
}

/// The chart as an SVG document.
pub fn svg(chart: &Chart) -> Result<String, String> {
    register_font()?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        draw(&root, chart)?;
        root.present().map_err(|e| format!("svg: {e}"))?;
    }
    Ok(text)
}

/// The chart as a PNG file's bytes: plotters draws RGB pixels, `png` encodes them.
pub fn png(chart: &Chart) -> Result<Vec<u8>, String> {
    register_font()?;
    let (w, h) = SIZE;
    let mut pixels = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
        draw(&root, chart)?;
        root.present().map_err(|e| format!("png: {e}"))?;
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| format!("png: {e}"))?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| format!("png: {e}"))?;
    writer.finish().map_err(|e| format!("png: {e}"))?;
    Ok(bytes)
}

/// Registers the embedded font, once per process.
fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
                .map_err(|_| "the embedded font does not parse".to_string())
        })
        .clone()
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("drawing {}: {e}", chart.file_stem);
    root.fill(&WHITE).map_err(err)?;
    let (plot_area, legend_area) = root.split_horizontally(SIZE.0 - LEGEND_PX);
    let (x_range, y_range) = ranges(chart);
    let mut cartesian = ChartBuilder::on(&plot_area)
        .caption(&chart.title, (FAMILY, 20))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range, y_range)
        .map_err(err)?;
    let categories = chart.x_categories.clone().unwrap_or_default();
    let x_format = |x: &f64| x_label(*x, &categories);
    let mut mesh = cartesian.configure_mesh();
    mesh.x_desc(&chart.x_title)
        .y_desc(&chart.y_title)
        .axis_desc_style((FAMILY, 16))
        .label_style((FAMILY, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .x_label_formatter(&x_format)
        .y_label_formatter(&|y| format_number(*y));
    if !categories.is_empty() {
        mesh.x_labels(categories.len() * 2 + 1);
    }
    mesh.draw().map_err(err)?;
    shade_spans(&mut cartesian, chart).map_err(err)?;
    for (i, series) in chart.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let points = series.points.iter().copied();
        cartesian
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(err)?;
        // A marker per measured point; the shape tells apart series that share a colour.
        if (i / PALETTE.len()).is_multiple_of(2) {
            cartesian
                .draw_series(points.map(|p| Circle::new(p, 4, color.filled())))
                .map_err(err)?;
        } else {
            cartesian
                .draw_series(points.map(|p| TriangleMarker::new(p, 6, color.filled())))
                .map_err(err)?;
        }
    }
    legend(&legend_area, chart).map_err(err)
}

/// Each span as a translucent grey band over the whole height (the grid shows through), its
/// label at the top, one row lower for each span so overlapping labels stay apart.
fn shade_spans<DB: DrawingBackend>(
    cartesian: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    chart: &Chart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let y = cartesian.y_range();
    let band = RGBAColor(0, 0, 0, 0.10);
    for (i, span) in chart.spans.iter().enumerate() {
        cartesian.draw_series(std::iter::once(Rectangle::new(
            [(span.from, y.start), (span.to, y.end)],
            band.filled(),
        )))?;
        let row = y.end - (y.end - y.start) * (0.03 + 0.05 * i as f64);
        cartesian.draw_series(std::iter::once(Text::new(
            span.label.clone(),
            (span.from, row),
            (FAMILY, 15).into_font().color(&RGBColor(60, 60, 60)),
        )))?;
    }
    Ok(())
}

/// The legend column: a swatch and the name of each series, top to bottom.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    area.draw(&Text::new("legend", (10, 40), (FAMILY, 16)))?;
    let row_px = 22;
    let rows = (SIZE.1 as i32 - 80) / row_px;
    for (i, series) in chart.series.iter().enumerate() {
        let y = 70 + i as i32 * row_px;
        if i as i32 >= rows - 1 && chart.series.len() as i32 > rows {
            let more = chart.series.len() - i;
            area.draw(&Text::new(
                format!("… and {more} more"),
                (10, y),
                (FAMILY, 13),
            ))?;
            break;
        }
        let color = PALETTE[i % PALETTE.len()];
        area.draw(&PathElement::new(
            vec![(10, y + 7), (40, y + 7)],
            color.stroke_width(3),
        ))?;
        area.draw(&Text::new(short_name(&series.name), (48, y), (FAMILY, 13)))?;
    }
    if chart.series.is_empty() {
        area.draw(&Text::new("no data", (10, 70), (FAMILY, 13)))?;
    }
    Ok(())
}

fn short_name(name: &str) -> String {
    if name.chars().count() <= MAX_NAME_CHARS {
        return name.to_string();
    }
    let cut: String = name.chars().take(MAX_NAME_CHARS - 1).collect();
    format!("{cut}…")
}

/// The x label at `x`: a category's name at whole positions (none between them), else the
/// number.
fn x_label(x: f64, categories: &[String]) -> String {
    if categories.is_empty() {
        return format_number(x);
    }
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    categories.get(i as usize).cloned().unwrap_or_default()
}

fn format_number(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        let text = format!("{x:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The data's extent, padded: y from 0 (latencies and rates are never negative) to 10% above
/// the highest value.
fn ranges(chart: &Chart) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
    let all = || chart.series.iter().flat_map(|s| s.points.iter());
    let (mut x_min, mut x_max) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
        (lo.min(p.0), hi.max(p.0))
    });
    if let Some(categories) = &chart.x_categories {
        (x_min, x_max) = (0.0, categories.len().saturating_sub(1) as f64);
    }
    if !x_min.is_finite() || !x_max.is_finite() {
        (x_min, x_max) = (0.0, 1.0);
    }
    let x_pad = if x_max > x_min {
        (x_max - x_min) * 0.05
    } else {
        0.5
    };
    let y_max = all().map(|p| p.1).fold(0.0_f64, f64::max);
    let y_max = if y_max.is_finite() && y_max > 0.0 {
        y_max * 1.1
    } else {
        1.0
    };
    ((x_min - x_pad)..(x_max + x_pad), 0.0..y_max)
}
