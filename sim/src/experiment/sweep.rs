//! A [`Sweep`]: a base [`Point`], the axes that vary (each a [`Param`] and its values), how
//! many seeds per point, and which plots to draw. [`Sweep::points`] expands it to the
//! cartesian product, the first axis varying slowest, so the table reads like nested loops.

use std::fmt;
use std::time::Duration;

use super::point::{
    Authorization, DurationText, FailurePolicy, LatencyDist, Load, Partition, Point, WebhookKind,
    Window,
};

/// Bounds on a sweep, so a typo in a config cannot ask for a week of simulation.
pub const MAX_SEEDS_PER_POINT: u32 = 1_000;
/// Points times seeds.
pub const MAX_RUNS: usize = 100_000;
/// The highest `rate` a paced client takes (requests per second).
pub const MAX_RATE_PER_SECOND: u32 = 10_000;
/// The highest `max_in_flight`.
pub const MAX_IN_FLIGHT: u32 = 1_000;

/// An experiment: what to vary and what to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// Names the output directory (`target/experiments/<name>/`).
    pub name: String,
    /// What question the sweep answers, printed at the top of the Markdown report.
    pub description: String,
    /// The values of every parameter no axis sets.
    pub base: Point,
    pub axes: Vec<Axis>,
    pub seeds_per_point: u32,
    /// Seeds are `first_seed..first_seed + seeds_per_point`, the same for every point, so
    /// points differ by their parameters only.
    pub first_seed: u64,
    pub plots: Vec<PlotSpec>,
}

/// One parameter and the values it takes, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub param: Param,
    pub values: Vec<Value>,
}

/// A parameter of [`Point`] that an axis can vary; the names are the config file's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Param {
    WebhookLatency,
    TimeoutSeconds,
    FailurePolicy,
    Webhooks,
    WebhookKind,
    WebhookOutage,
    Authorization,
    AuthzWebhookLatency,
    StoreLatency,
    Partition,
    Clients,
    Rate,
    MaxInFlight,
    Duration,
}

/// One value of a parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Latency(LatencyDist),
    Count(u32),
    Policy(FailurePolicy),
    Kind(WebhookKind),
    Outage(Option<Window>),
    Authz(Authorization),
    Duration(Duration),
    Partition(Partition),
    Load(Load),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Latency(l) => l.fmt(f),
            Value::Count(n) => n.fmt(f),
            Value::Policy(p) => p.fmt(f),
            Value::Kind(k) => k.fmt(f),
            Value::Outage(None) => f.write_str("none"),
            Value::Outage(Some(w)) => w.fmt(f),
            Value::Authz(a) => a.fmt(f),
            Value::Duration(d) => DurationText(*d).fmt(f),
            Value::Partition(p) => p.fmt(f),
            Value::Load(l) => l.fmt(f),
        }
    }
}

impl Param {
    pub const ALL: [Param; 14] = [
        Param::WebhookLatency,
        Param::TimeoutSeconds,
        Param::FailurePolicy,
        Param::Webhooks,
        Param::WebhookKind,
        Param::WebhookOutage,
        Param::Authorization,
        Param::AuthzWebhookLatency,
        Param::StoreLatency,
        Param::Partition,
        Param::Clients,
        Param::Rate,
        Param::MaxInFlight,
        Param::Duration,
    ];

    /// The config file's key.
    pub fn name(self) -> &'static str {
        match self {
            Param::WebhookLatency => "webhook_latency",
            Param::TimeoutSeconds => "timeout_seconds",
            Param::FailurePolicy => "failure_policy",
            Param::Webhooks => "webhooks",
            Param::WebhookKind => "webhook_kind",
            Param::WebhookOutage => "webhook_outage",
            Param::Authorization => "authorization",
            Param::AuthzWebhookLatency => "authz_webhook_latency",
            Param::StoreLatency => "store_latency",
            Param::Partition => "partition",
            Param::Clients => "clients",
            Param::Rate => "rate",
            Param::MaxInFlight => "max_in_flight",
            Param::Duration => "duration",
        }
    }

    pub fn from_name(name: &str) -> Option<Param> {
        Param::ALL.into_iter().find(|p| p.name() == name)
    }

    /// An axis title for plots, with its unit.
    pub fn title(self) -> &'static str {
        match self {
            Param::WebhookLatency => "webhook latency p99 (ms)",
            Param::TimeoutSeconds => "webhook timeoutSeconds (s)",
            Param::FailurePolicy => "failurePolicy",
            Param::Webhooks => "webhooks (count)",
            Param::WebhookKind => "webhook kind",
            Param::WebhookOutage => "webhook outage start (s)",
            Param::Authorization => "authorization",
            Param::AuthzWebhookLatency => "authorization webhook latency p99 (ms)",
            Param::StoreLatency => "store link latency (ms)",
            Param::Partition => "partition",
            Param::Clients => "concurrent clients",
            Param::Rate => "requests per second per client",
            Param::MaxInFlight => "max requests in flight per client",
            Param::Duration => "run duration (s)",
        }
    }

    /// What a value looks like, for error messages.
    pub fn syntax(self) -> &'static str {
        match self {
            Param::WebhookLatency | Param::AuthzWebhookLatency => {
                "`fixed <duration>` or `lognormal <p50> <p99>`"
            }
            Param::TimeoutSeconds => "an integer from 1 to 30",
            Param::FailurePolicy => "`Fail` or `Ignore`",
            Param::Webhooks => "an integer from 0 to 50",
            Param::WebhookKind => "`mutating` or `validating`",
            Param::WebhookOutage => "`none` or `<start> <duration>`",
            Param::Authorization => "`inprocess` or `webhook`",
            Param::StoreLatency => "a duration such as `5ms`, up to 10s",
            Param::Partition => {
                "`none`, `follower <start> <duration>` or `leader <start> <duration>`"
            }
            Param::Clients => "an integer from 1 to 10000",
            Param::Rate => "`closed` or requests per second per client, from 1 to 10000",
            Param::MaxInFlight => "an integer from 1 to 1000",
            Param::Duration => "a duration such as `30s`, from 1ms to 1h",
        }
    }

    /// Parses one value of this parameter from the config's text.
    pub fn parse(self, text: &str) -> Result<Value, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let value = match self {
            Param::WebhookLatency | Param::AuthzWebhookLatency => parse_latency(&words)?,
            Param::TimeoutSeconds => Value::Count(parse_count(text, 1, 30)?),
            Param::Webhooks => Value::Count(parse_count(text, 0, 50)?),
            Param::Clients => Value::Count(parse_count(text, 1, 10_000)?),
            Param::Rate => match text.trim() {
                "closed" => Value::Load(Load::Closed),
                n => Value::Load(Load::Paced {
                    per_second: parse_count(n, 1, MAX_RATE_PER_SECOND)?,
                }),
            },
            Param::MaxInFlight => Value::Count(parse_count(text, 1, MAX_IN_FLIGHT)?),
            Param::FailurePolicy => match text.trim() {
                "Fail" => Value::Policy(FailurePolicy::Fail),
                "Ignore" => Value::Policy(FailurePolicy::Ignore),
                other => return Err(format!("`{other}` is not a failurePolicy")),
            },
            Param::WebhookKind => match text.trim() {
                "mutating" => Value::Kind(WebhookKind::Mutating),
                "validating" => Value::Kind(WebhookKind::Validating),
                other => return Err(format!("`{other}` is not a webhook kind")),
            },
            Param::Authorization => match text.trim() {
                "inprocess" => Value::Authz(Authorization::InProcess),
                "webhook" => Value::Authz(Authorization::Webhook),
                other => return Err(format!("`{other}` is not an authorizer")),
            },
            Param::WebhookOutage => match words.as_slice() {
                ["none"] => Value::Outage(None),
                [start, duration] => Value::Outage(Some(parse_window(start, duration)?)),
                _ => return Err(format!("`{text}` is not an outage window")),
            },
            Param::Partition => parse_partition(&words)?,
            Param::StoreLatency => Value::Duration(parse_bounded_duration(text, 0, 10_000)?),
            Param::Duration => Value::Duration(parse_bounded_duration(text, 1, 3_600_000)?),
        };
        Ok(value)
    }

    /// Sets this parameter of `point`. A value of another parameter's type is ignored (the
    /// parser only makes values of the right type; [`Sweep::validate`] checks sweeps built in
    /// code).
    pub fn apply(self, point: &mut Point, value: &Value) {
        match (self, *value) {
            (Param::WebhookLatency, Value::Latency(l)) => point.webhook_latency = l,
            (Param::AuthzWebhookLatency, Value::Latency(l)) => point.authz_webhook_latency = l,
            (Param::TimeoutSeconds, Value::Count(n)) => point.timeout_seconds = n,
            (Param::Webhooks, Value::Count(n)) => point.webhooks = n,
            (Param::Clients, Value::Count(n)) => point.clients = n,
            (Param::Rate, Value::Load(l)) => point.load = l,
            (Param::MaxInFlight, Value::Count(n)) => point.max_in_flight = n,
            (Param::FailurePolicy, Value::Policy(p)) => point.failure_policy = p,
            (Param::WebhookKind, Value::Kind(k)) => point.webhook_kind = k,
            (Param::Authorization, Value::Authz(a)) => point.authorization = a,
            (Param::WebhookOutage, Value::Outage(w)) => point.webhook_outage = w,
            (Param::Partition, Value::Partition(p)) => point.partition = p,
            (Param::StoreLatency, Value::Duration(d)) => point.store_latency = d,
            (Param::Duration, Value::Duration(d)) => point.duration = d,
            // A value of another parameter's type: `Sweep::validate` refuses those.
            _ => {}
        }
    }

    /// This parameter's value in `point`.
    pub fn value_of(self, point: &Point) -> Value {
        match self {
            Param::WebhookLatency => Value::Latency(point.webhook_latency),
            Param::AuthzWebhookLatency => Value::Latency(point.authz_webhook_latency),
            Param::TimeoutSeconds => Value::Count(point.timeout_seconds),
            Param::Webhooks => Value::Count(point.webhooks),
            Param::Clients => Value::Count(point.clients),
            Param::Rate => Value::Load(point.load),
            Param::MaxInFlight => Value::Count(point.max_in_flight),
            Param::FailurePolicy => Value::Policy(point.failure_policy),
            Param::WebhookKind => Value::Kind(point.webhook_kind),
            Param::Authorization => Value::Authz(point.authorization),
            Param::WebhookOutage => Value::Outage(point.webhook_outage),
            Param::Partition => Value::Partition(point.partition),
            Param::StoreLatency => Value::Duration(point.store_latency),
            Param::Duration => Value::Duration(point.duration),
        }
    }

    /// Where a value sits on a numeric plot axis, in the unit of [`Param::title`]; `None` for
    /// parameters without an order (policies, kinds), which plots lay out in config order.
    pub fn numeric(self, value: &Value) -> Option<f64> {
        use super::point::ms_f64;
        match *value {
            Value::Latency(l) => Some(ms_f64(l.p99())),
            Value::Count(n) => Some(f64::from(n)),
            Value::Duration(d) if self == Param::StoreLatency => Some(ms_f64(d)),
            Value::Duration(d) => Some(d.as_secs_f64()),
            Value::Outage(Some(w)) => Some(w.start.as_secs_f64()),
            Value::Load(Load::Paced { per_second }) => Some(f64::from(per_second)),
            _ => None,
        }
    }
}

/// One point of an expanded sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// Its row in the reports, from 0.
    pub index: usize,
    pub point: Point,
    /// For each axis, in the sweep's order, the index of this point's value.
    pub coords: Vec<usize>,
}

impl Sweep {
    /// The cartesian product of the axes over the base point; a sweep without axes has one
    /// point, the base.
    pub fn points(&self) -> Vec<SweepPoint> {
        let total: usize = self.axes.iter().map(|a| a.values.len()).product();
        (0..total)
            .map(|index| {
                let coords = self.coords_of(index);
                let mut point = self.base.clone();
                for (axis, &i) in self.axes.iter().zip(&coords) {
                    axis.param.apply(&mut point, &axis.values[i]);
                }
                SweepPoint {
                    index,
                    point,
                    coords,
                }
            })
            .collect()
    }

    /// Mixed-radix digits of `index`, the last axis varying fastest.
    fn coords_of(&self, mut index: usize) -> Vec<usize> {
        let mut coords = vec![0; self.axes.len()];
        for (slot, axis) in coords.iter_mut().zip(&self.axes).rev() {
            let radix = axis.values.len().max(1);
            *slot = index % radix;
            index /= radix;
        }
        coords
    }

    /// The seeds every point runs with.
    pub fn seeds(&self) -> impl Iterator<Item = u64> + use<> {
        let first = self.first_seed;
        (0..u64::from(self.seeds_per_point)).map(move |i| first.wrapping_add(i))
    }

    /// The text of each axis' value at `coords`, as (parameter name, value).
    pub fn labels(&self, coords: &[usize]) -> Vec<(&'static str, String)> {
        self.axes
            .iter()
            .zip(coords)
            .map(|(axis, &i)| (axis.param.name(), axis.values[i].to_string()))
            .collect()
    }

    /// Checks what the parser cannot see value by value.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "name `{}`: use letters, digits, `-` and `_` (it names a directory)",
                self.name
            ));
        }
        if !(1..=MAX_SEEDS_PER_POINT).contains(&self.seeds_per_point) {
            return Err(format!(
                "seeds_per_point: {} is not from 1 to {MAX_SEEDS_PER_POINT}",
                self.seeds_per_point
            ));
        }
        let mut points: usize = 1;
        for (i, axis) in self.axes.iter().enumerate() {
            if axis.values.is_empty() {
                return Err(format!("axis {}: no values", axis.param.name()));
            }
            for value in &axis.values {
                let mut point = self.base.clone();
                axis.param.apply(&mut point, value);
                if axis.param.value_of(&point) != *value {
                    return Err(format!(
                        "axis {}: {value:?} is not one of its values",
                        axis.param.name()
                    ));
                }
            }
            if self.axes[..i].iter().any(|a| a.param == axis.param) {
                return Err(format!("axis {}: given twice", axis.param.name()));
            }
            points = points.saturating_mul(axis.values.len());
        }
        let runs = points.saturating_mul(self.seeds_per_point as usize);
        if runs > MAX_RUNS {
            return Err(format!(
                "{points} points x {} seeds = {runs} runs, more than {MAX_RUNS}",
                self.seeds_per_point
            ));
        }
        for plot in &self.plots {
            if let PlotSpec::Lines { x, .. } = plot
                && !self.axes.iter().any(|a| a.param == *x)
            {
                return Err(format!("plot: x `{}` is not an axis", x.name()));
            }
        }
        Ok(())
    }
}

/// A plot to draw from the results.
#[derive(Debug, Clone, PartialEq)]
pub enum PlotSpec {
    /// `y` against axis `x`, one line per combination of the other axes' values.
    Lines { x: Param, y: Metric },
    /// `y` over the run's time in buckets (by request start), one line per point.
    OverTime { y: Metric, bucket: Duration },
}

/// A number a report gives per point (or per time bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric {
    /// A latency percentile in ms, end to end (`stage: None`) or of one stage.
    Latency { stage: Option<String>, q: Quantile },
    /// A share of the requests, from 0 to 1.
    Rate(Rate),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantile {
    P50,
    P90,
    P99,
}

impl Quantile {
    pub fn percent(self) -> f64 {
        match self {
            Quantile::P50 => 50.0,
            Quantile::P90 => 90.0,
            Quantile::P99 => 99.0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Quantile::P50 => "p50",
            Quantile::P90 => "p90",
            Quantile::P99 => "p99",
        }
    }
}

/// Shares of requests by outcome; `Failure` is timeouts and errors together (not denials,
/// which are a webhook doing its job, nor skips, which are the client's own bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    Success,
    Denial,
    Timeout,
    Error,
    Failure,
    Skipped,
}

impl Rate {
    pub fn name(self) -> &'static str {
        match self {
            Rate::Success => "success_rate",
            Rate::Denial => "denial_rate",
            Rate::Timeout => "timeout_rate",
            Rate::Error => "error_rate",
            Rate::Failure => "failure_rate",
            Rate::Skipped => "skipped_rate",
        }
    }
}

impl Metric {
    /// `e2e.p99_ms`, `admission.p50_ms`, `admission.webhook-1.p90_ms`, or a rate's name.
    pub fn parse(text: &str) -> Result<Metric, String> {
        let rates = [
            Rate::Success,
            Rate::Denial,
            Rate::Timeout,
            Rate::Error,
            Rate::Failure,
            Rate::Skipped,
        ];
        if let Some(rate) = rates.into_iter().find(|r| r.name() == text) {
            return Ok(Metric::Rate(rate));
        }
        let bad = || {
            format!(
                "metric `{text}`: expected `<stage>.p50_ms` (p90, p99; stage `e2e` for end to \
                 end) or one of success_rate, denial_rate, timeout_rate, error_rate, failure_rate, \
                 skipped_rate"
            )
        };
        let (stage, q) = text.rsplit_once('.').ok_or_else(bad)?;
        let q = match q {
            "p50_ms" => Quantile::P50,
            "p90_ms" => Quantile::P90,
            "p99_ms" => Quantile::P99,
            _ => return Err(bad()),
        };
        if stage.is_empty() {
            return Err(bad());
        }
        let stage = (stage != "e2e").then(|| stage.to_string());
        Ok(Metric::Latency { stage, q })
    }

    /// The axis title, with its unit.
    pub fn title(&self) -> String {
        match self {
            Metric::Latency { stage: None, q } => format!("end-to-end latency {} (ms)", q.name()),
            Metric::Latency { stage: Some(s), q } => format!("{s} latency {} (ms)", q.name()),
            Metric::Rate(r) => format!("{} (% of requests)", r.name().replace('_', " ")),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Latency { stage, q } => {
                write!(f, "{}.{}_ms", stage.as_deref().unwrap_or("e2e"), q.name())
            }
            Metric::Rate(r) => f.write_str(r.name()),
        }
    }
}

fn parse_count(text: &str, min: u32, max: u32) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("`{text}` is not an integer from {min} to {max}")),
    }
}

/// `250ms`, `2s`, `1.5s`, `500us`, `1m`: a non-negative number and a unit.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("duration `{text}` has no unit (us, ms, s or m)"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("duration `{text}`: `{number}` is not a number"))?;
    let scale = match unit {
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        _ => {
            return Err(format!(
                "duration `{text}`: unit `{unit}` is not us, ms, s or m"
            ));
        }
    };
    Duration::try_from_secs_f64(number * scale)
        .map_err(|_| format!("duration `{text}` is out of range"))
}

fn parse_bounded_duration(text: &str, min_ms: u64, max_ms: u64) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    let (min, max) = (Duration::from_millis(min_ms), Duration::from_millis(max_ms));
    if d < min || d > max {
        return Err(format!(
            "duration `{text}` is not from {} to {}",
            DurationText(min),
            DurationText(max)
        ));
    }
    Ok(d)
}

fn parse_latency(words: &[&str]) -> Result<Value, String> {
    let ten_minutes = 600_000;
    match words {
        ["fixed", d] => Ok(Value::Latency(LatencyDist::Fixed(parse_bounded_duration(
            d,
            0,
            ten_minutes,
        )?))),
        ["lognormal", p50, p99] => {
            let p50 = parse_bounded_duration(p50, 0, ten_minutes)?;
            let p99 = parse_bounded_duration(p99, 0, ten_minutes)?;
            if p50.is_zero() || p99 < p50 {
                return Err(format!(
                    "lognormal needs 0 < p50 <= p99, not p50 {} and p99 {}",
                    DurationText(p50),
                    DurationText(p99)
                ));
            }
            Ok(Value::Latency(LatencyDist::LogNormal { p50, p99 }))
        }
        _ => Err(format!("`{}` is not a latency", words.join(" "))),
    }
}

fn parse_window(start: &str, duration: &str) -> Result<Window, String> {
    let hour = 3_600_000;
    Ok(Window {
        start: parse_bounded_duration(start, 0, hour)?,
        duration: parse_bounded_duration(duration, 1, hour)?,
    })
}

fn parse_partition(words: &[&str]) -> Result<Value, String> {
    let partition = match words {
        ["none"] => Partition::None,
        ["follower", start, duration] => Partition::Follower(parse_window(start, duration)?),
        ["leader", start, duration] => Partition::Leader(parse_window(start, duration)?),
        _ => return Err(format!("`{}` is not a partition", words.join(" "))),
    };
    Ok(Value::Partition(partition))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("800ms"), Ok(ms(800)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        for bad in ["", "5", "ms", "5h", "-1s", "1..2s", "1e400s", "NaNs"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn values_print_as_they_parse() {
        let texts = [
            (Param::WebhookLatency, "lognormal 200ms 800ms"),
            (Param::WebhookLatency, "fixed 1500us"),
            (Param::TimeoutSeconds, "30"),
            (Param::FailurePolicy, "Ignore"),
            (Param::WebhookKind, "mutating"),
            (Param::WebhookOutage, "30s 30s"),
            (Param::WebhookOutage, "none"),
            (Param::Authorization, "webhook"),
            (Param::Partition, "leader 10s 20s"),
            (Param::Partition, "none"),
            (Param::StoreLatency, "5ms"),
            (Param::Duration, "1m"),
            (Param::Rate, "20"),
            (Param::Rate, "closed"),
            (Param::MaxInFlight, "4"),
        ];
        for (param, text) in texts {
            let value = param.parse(text).expect(text);
            let again = param.parse(&value.to_string()).expect(text);
            assert_eq!(value, again, "{text}");
            // Applying and reading back gives the same value.
            let mut point = Point::default();
            param.apply(&mut point, &value);
            assert_eq!(param.value_of(&point), value);
        }
        assert_eq!(
            Param::Duration.parse("1m").map(|v| v.to_string()),
            Ok("60s".into())
        );
    }

    #[test]
    fn bad_values() {
        let bad = [
            (Param::TimeoutSeconds, "0"),
            (Param::TimeoutSeconds, "31"),
            (Param::TimeoutSeconds, "1.5"),
            (Param::Webhooks, "-1"),
            (Param::Clients, "0"),
            (Param::FailurePolicy, "fail"),
            (Param::WebhookLatency, "lognormal 800ms 200ms"),
            (Param::WebhookLatency, "lognormal 0ms 2ms"),
            (Param::WebhookLatency, "normal 1ms"),
            (Param::WebhookLatency, "fixed"),
            (Param::Partition, "follower 10s"),
            (Param::Partition, "candidate 1s 1s"),
            (Param::WebhookOutage, "10s 0s"),
            (Param::StoreLatency, "11s"),
            (Param::Duration, "0s"),
            (Param::Rate, "0"),
            (Param::Rate, "2.5"),
            (Param::Rate, "open"),
            (Param::MaxInFlight, "0"),
        ];
        for (param, text) in bad {
            assert!(
                param.parse(text).is_err(),
                "{} accepted {text:?}",
                param.name()
            );
        }
    }

    #[test]
    fn cartesian_product_last_axis_fastest() {
        let sweep = Sweep {
            name: "t".into(),
            description: String::new(),
            base: Point::default(),
            axes: vec![
                Axis {
                    param: Param::TimeoutSeconds,
                    values: vec![Value::Count(1), Value::Count(2), Value::Count(5)],
                },
                Axis {
                    param: Param::FailurePolicy,
                    values: vec![
                        Value::Policy(FailurePolicy::Fail),
                        Value::Policy(FailurePolicy::Ignore),
                    ],
                },
            ],
            seeds_per_point: 2,
            first_seed: 7,
            plots: Vec::new(),
        };
        let points = sweep.points();
        let got: Vec<(u32, FailurePolicy)> = points
            .iter()
            .map(|p| (p.point.timeout_seconds, p.point.failure_policy))
            .collect();
        use FailurePolicy::{Fail, Ignore};
        assert_eq!(
            got,
            [
                (1, Fail),
                (1, Ignore),
                (2, Fail),
                (2, Ignore),
                (5, Fail),
                (5, Ignore)
            ]
        );
        assert_eq!(points[3].coords, [1, 1]);
        assert_eq!(points[3].index, 3);
        // Everything else comes from the base.
        assert!(
            points
                .iter()
                .all(|p| p.point.clients == Point::default().clients)
        );
        assert_eq!(sweep.seeds().collect::<Vec<_>>(), [7, 8]);
        assert_eq!(
            sweep.labels(&points[5].coords),
            [
                ("timeout_seconds", "5".to_string()),
                ("failure_policy", "Ignore".into())
            ]
        );
        let mut mistyped = sweep.clone();
        mistyped.axes[0]
            .values
            .push(Value::Policy(FailurePolicy::Fail));
        assert!(
            mistyped
                .validate()
                .is_err_and(|e| e.contains("timeout_seconds"))
        );
        let no_axes = Sweep {
            axes: Vec::new(),
            ..sweep
        };
        assert_eq!(no_axes.points().len(), 1);
    }

    #[test]
    fn metrics() {
        assert_eq!(
            Metric::parse("e2e.p99_ms"),
            Ok(Metric::Latency {
                stage: None,
                q: Quantile::P99
            })
        );
        assert_eq!(
            Metric::parse("admission.webhook-1.p50_ms"),
            Ok(Metric::Latency {
                stage: Some("admission.webhook-1".into()),
                q: Quantile::P50
            })
        );
        assert_eq!(
            Metric::parse("failure_rate"),
            Ok(Metric::Rate(Rate::Failure))
        );
        for bad in ["p99_ms", ".p99_ms", "e2e.p95_ms", "errors", ""] {
            assert!(Metric::parse(bad).is_err(), "{bad:?} parsed");
        }
        for text in ["e2e.p90_ms", "storage.p99_ms", "timeout_rate"] {
            assert_eq!(Metric::parse(text).map(|m| m.to_string()), Ok(text.into()));
        }
    }
}
