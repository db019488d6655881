//! The sweep file: YAML (the workspace's `yaml_serde`), read into a [`Sweep`]. Every mistake
//! is an error that names the key and says what would do; nothing in a file can panic.
//!
//! ```yaml
//! name: my-webhook
//! description: Does an 800 ms p99 webhook with a 1 s timeout hurt pod creation?
//! seeds_per_point: 3        # default 3
//! first_seed: 1             # default 1
//! base:                     # parameters no axis varies (defaults: Point::default())
//!   clients: 8
//!   rate: 20                # requests/s per client on a schedule; `closed` (the default):
//!                           # each client sends its next request when the last is answered
//!   max_in_flight: 8        # a paced client's bound on outstanding requests (default 8)
//!   duration: 60s
//! axes:                     # the cartesian product, the first axis varying slowest
//!   webhook_latency: [lognormal 200ms 800ms, fixed 50ms]
//!   timeout_seconds: [1, 2, 5]
//!   failure_policy: [Fail, Ignore]
//! plots:
//!   - { x: timeout_seconds, y: e2e.p99_ms }     # one line per other axes' combination
//!   - { over_time: failure_rate, bucket: 2s }   # one line per point
//! ```

use serde::Deserialize;
use yaml_serde::{Mapping, Value as Yaml};

use super::point::Point;
use super::sweep::{Axis, Metric, Param, PlotSpec, Sweep, parse_duration};

/// The largest sweep file read, so a wrong path to a huge file fails fast.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSweep {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "default_seeds")]
    seeds_per_point: u32,
    #[serde(default = "default_first_seed")]
    first_seed: u64,
    #[serde(default)]
    base: Mapping,
    #[serde(default)]
    axes: Mapping,
    #[serde(default)]
    plots: Vec<RawPlot>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlot {
    x: Option<String>,
    y: Option<String>,
    over_time: Option<String>,
    bucket: Option<String>,
}

fn default_seeds() -> u32 {
    3
}

fn default_first_seed() -> u64 {
    1
}

/// Reads a sweep from YAML text.
pub fn parse_sweep(text: &str) -> Result<Sweep, String> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(format!(
            "sweep file is {} bytes, more than {MAX_CONFIG_BYTES}",
            text.len()
        ));
    }
    let raw: RawSweep = yaml_serde::from_str(text).map_err(|e| format!("sweep file: {e}"))?;
    let sweep = Sweep {
        base: base_point(&raw.base)?,
        axes: axes(&raw.axes)?,
        plots: raw
            .plots
            .iter()
            .enumerate()
            .map(|(i, p)| plot(p).map_err(|e| format!("plots[{i}]: {e}")))
            .collect::<Result<_, _>>()?,
        name: raw.name,
        description: raw.description,
        seeds_per_point: raw.seeds_per_point,
        first_seed: raw.first_seed,
    };
    sweep.validate()?;
    Ok(sweep)
}

/// Reads a sweep file from disk.
pub fn load_sweep(path: &std::path::Path) -> Result<Sweep, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8", path.display()))?;
    parse_sweep(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn param_of(key: &Yaml, section: &str) -> Result<Param, String> {
    let name = key
        .as_str()
        .ok_or_else(|| format!("{section}: key {key:?} is not a parameter name"))?;
    Param::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = Param::ALL.iter().map(|p| p.name()).collect();
        format!(
            "{section}: unknown parameter `{name}` (known: {})",
            known.join(", ")
        )
    })
}

fn base_point(base: &Mapping) -> Result<Point, String> {
    let mut point = Point::default();
    for (key, value) in base {
        let param = param_of(key, "base")?;
        let value = parse_value(param, value).map_err(|e| format!("base.{}: {e}", param.name()))?;
        param.apply(&mut point, &value);
    }
    Ok(point)
}

fn axes(axes: &Mapping) -> Result<Vec<Axis>, String> {
    let mut out = Vec::with_capacity(axes.len());
    for (key, values) in axes {
        let param = param_of(key, "axes")?;
        let at = |e: String| format!("axes.{}: {e}", param.name());
        let values = match values {
            Yaml::Sequence(values) => values,
            // One value is a fixed parameter; say so rather than guess.
            _ => {
                return Err(at(
                    "expected a list of values (use `base:` for one value)".into()
                ));
            }
        };
        let values = values
            .iter()
            .map(|v| parse_value(param, v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(at)?;
        out.push(Axis { param, values });
    }
    Ok(out)
}

/// A scalar's text, parsed as a value of `param`.
fn parse_value(param: Param, value: &Yaml) -> Result<super::sweep::Value, String> {
    let text = match value {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Null => "none".to_string(),
        other => {
            return Err(format!(
                "{other:?} is not a value; expected {}",
                param.syntax()
            ));
        }
    };
    param
        .parse(&text)
        .map_err(|e| format!("{e}; expected {}", param.syntax()))
}

fn plot(raw: &RawPlot) -> Result<PlotSpec, String> {
    match (&raw.x, &raw.y, &raw.over_time) {
        (Some(x), Some(y), None) if raw.bucket.is_none() => Ok(PlotSpec::Lines {
            x: Param::from_name(x).ok_or_else(|| format!("x: unknown parameter `{x}`"))?,
            y: Metric::parse(y)?,
        }),
        (None, None, Some(y)) => {
            let bucket = match &raw.bucket {
                Some(b) => parse_duration(b)?,
                None => std::time::Duration::from_secs(1),
            };
            if bucket.is_zero() {
                return Err("bucket must be longer than 0".into());
            }
            Ok(PlotSpec::OverTime {
                y: Metric::parse(y)?,
                bucket,
            })
        }
        _ => Err("expected `{ x: <axis>, y: <metric> }` or `{ over_time: <metric>, bucket: <duration> }`".into()),
    }
}
