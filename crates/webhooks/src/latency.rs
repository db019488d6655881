//! `--latency`: how long a sample waits before answering each review, as a distribution drawn
//! from the seeded RNG.
//!
//! | spelling | delay |
//! |---|---|
//! | `0`, `150ms`, `1s` | always that (a Go duration: `h`, `m`, `s`, `ms`, `us`, `ns`, combinable: `1s500ms`) |
//! | `uniform:50ms..200ms` | uniform between the two, both included |
//! | `exp:100ms` | exponential with that mean |
//! | `lognormal:p50=100ms,p99=800ms` | log-normal with that median and 99th percentile |
//!
//! Every duration, and every drawn delay, is at most [`MAX_LATENCY`]: a long tail is cut
//! there rather than holding a connection for hours.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;

/// The longest delay, given or drawn.
pub const MAX_LATENCY: Duration = Duration::from_secs(300);

/// The standard normal's 99th percentile: a log-normal's `p99 = p50 · e^(σ·Z99)`.
const Z99: f64 = 2.326_347_874_040_840_8;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    Fixed(Duration),
    Uniform { low: Duration, high: Duration },
    Exponential { mean: Duration },
    LogNormal { p50: Duration, p99: Duration },
}

impl Default for Latency {
    fn default() -> Self {
        Latency::Fixed(Duration::ZERO)
    }
}

impl Latency {
    /// One delay.
    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        match *self {
            Latency::Fixed(delay) => delay,
            Latency::Uniform { low, high } => {
                Duration::from_nanos(rng.random_range(nanos(low)..=nanos(high)))
            }
            Latency::Exponential { mean } => {
                // 1 - u is in (0, 1], so its logarithm is finite.
                let u: f64 = rng.random();
                capped_secs(-mean.as_secs_f64() * (1.0 - u).ln())
            }
            Latency::LogNormal { p50, p99 } => {
                let sigma = (p99.as_secs_f64() / p50.as_secs_f64()).ln() / Z99;
                capped_secs(p50.as_secs_f64() * (sigma * standard_normal(rng)).exp())
            }
        }
    }
}

/// A draw from N(0, 1) by Box-Muller (rand's distributions crate is not in the tree).
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Seconds as a delay, at most [`MAX_LATENCY`].
fn capped_secs(secs: f64) -> Duration {
    if !secs.is_finite() {
        return MAX_LATENCY;
    }
    Duration::try_from_secs_f64(secs.max(0.0))
        .unwrap_or(MAX_LATENCY)
        .min(MAX_LATENCY)
}

impl FromStr for Latency {
    type Err = String;

    fn from_str(text: &str) -> Result<Latency, String> {
        let text = text.trim();
        let latency = if let Some(range) = text.strip_prefix("uniform:") {
            let (low, high) = range
                .split_once("..")
                .ok_or_else(|| format!("{text:?}: expected uniform:<min>..<max>"))?;
            let (low, high) = (duration(low)?, duration(high)?);
            if low > high {
                return Err(format!("{text:?}: the minimum is above the maximum"));
            }
            Latency::Uniform { low, high }
        } else if let Some(mean) = text.strip_prefix("exp:") {
            Latency::Exponential {
                mean: duration(mean)?,
            }
        } else if let Some(quantiles) = text.strip_prefix("lognormal:") {
            log_normal(text, quantiles)?
        } else {
            Latency::Fixed(duration(text)?)
        };
        Ok(latency)
    }
}

/// `p50=<d>,p99=<d>`, in that order.
fn log_normal(text: &str, quantiles: &str) -> Result<Latency, String> {
    let expected = || format!("{text:?}: expected lognormal:p50=<duration>,p99=<duration>");
    let (p50, p99) = quantiles.split_once(',').ok_or_else(expected)?;
    let p50 = p50.trim().strip_prefix("p50=").ok_or_else(expected)?;
    let p99 = p99.trim().strip_prefix("p99=").ok_or_else(expected)?;
    let (p50, p99) = (duration(p50)?, duration(p99)?);
    if p50.is_zero() {
        return Err(format!("{text:?}: the median must be above 0"));
    }
    if p99 < p50 {
        return Err(format!("{text:?}: p99 is below p50"));
    }
    Ok(Latency::LogNormal { p50, p99 })
}

/// A Go duration or `0`, at most [`MAX_LATENCY`].
fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = match text {
        "0" => Duration::ZERO,
        _ => kubesim_api::time::parse_go_duration(text)
            .ok_or_else(|| format!("{text:?} is not a duration (such as 0, 150ms, 2s or 1m30s)"))?,
    };
    if duration > MAX_LATENCY {
        return Err(format!("{text:?} is above the maximum of 5m0s"));
    }
    Ok(duration)
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |duration: &Duration| go_duration(*duration);
        match self {
            Latency::Fixed(delay) => write!(f, "{}", d(delay)),
            Latency::Uniform { low, high } => write!(f, "uniform:{}..{}", d(low), d(high)),
            Latency::Exponential { mean } => write!(f, "exp:{}", d(mean)),
            Latency::LogNormal { p50, p99 } => {
                write!(f, "lognormal:p50={},p99={}", d(p50), d(p99))
            }
        }
    }
}

/// A duration as the flag takes it back: in the largest unit that keeps it whole.
fn go_duration(duration: Duration) -> String {
    let ns = duration.as_nanos();
    match ns {
        0 => "0".to_string(),
        _ if ns.is_multiple_of(1_000_000_000) => format!("{}s", ns / 1_000_000_000),
        _ if ns.is_multiple_of(1_000_000) => format!("{}ms", ns / 1_000_000),
        _ if ns.is_multiple_of(1_000) => format!("{}us", ns / 1_000),
        _ => format!("{ns}ns"),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn every_spelling_parses() {
        let cases = [
            ("0", Latency::Fixed(Duration::ZERO)),
            ("150ms", Latency::Fixed(ms(150))),
            ("1s500ms", Latency::Fixed(ms(1500))),
            (
                "uniform:50ms..200ms",
                Latency::Uniform {
                    low: ms(50),
                    high: ms(200),
                },
            ),
            ("exp:100ms", Latency::Exponential { mean: ms(100) }),
            (
                "lognormal:p50=100ms,p99=800ms",
                Latency::LogNormal {
                    p50: ms(100),
                    p99: ms(800),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<Latency>(), Ok(expected), "{text}");
        }
    }

    #[test]
    fn bad_spellings_say_why() {
        let cases = [
            (
                "slow",
                r#""slow" is not a duration (such as 0, 150ms, 2s or 1m30s)"#,
            ),
            (
                "",
                r#""" is not a duration (such as 0, 150ms, 2s or 1m30s)"#,
            ),
            (
                "150",
                r#""150" is not a duration (such as 0, 150ms, 2s or 1m30s)"#,
            ),
            ("6m", r#""6m" is above the maximum of 5m0s"#),
            (
                "uniform:200ms",
                r#""uniform:200ms": expected uniform:<min>..<max>"#,
            ),
            (
                "uniform:200ms..50ms",
                r#""uniform:200ms..50ms": the minimum is above the maximum"#,
            ),
            (
                "lognormal:p99=1s,p50=1s",
                r#""lognormal:p99=1s,p50=1s": expected lognormal:p50=<duration>,p99=<duration>"#,
            ),
            (
                "lognormal:p50=1s,p99=10ms",
                r#""lognormal:p50=1s,p99=10ms": p99 is below p50"#,
            ),
            (
                "lognormal:p50=0,p99=10ms",
                r#""lognormal:p50=0,p99=10ms": the median must be above 0"#,
            ),
        ];
        for (text, message) in cases {
            assert_eq!(text.parse::<Latency>(), Err(message.to_string()), "{text}");
        }
    }

    #[test]
    fn display_parses_back() {
        let cases = [
            "0",
            "150ms",
            "2s",
            "1s500ms",
            "1500us",
            "7ns",
            "uniform:50ms..200ms",
            "exp:100ms",
            "lognormal:p50=100ms,p99=800ms",
        ];
        for text in cases {
            let latency: Latency = text.parse().unwrap();
            assert_eq!(
                latency.to_string().parse::<Latency>(),
                Ok(latency),
                "{text}"
            );
        }
        assert_eq!(Latency::Fixed(ms(1500)).to_string(), "1500ms");
    }

    /// The drawn delays have the distribution's shape: bounds, mean, quantiles, within the
    /// slack of 20 000 draws.
    #[test]
    fn draws_follow_the_distribution() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut draw = |latency: &str| -> Vec<f64> {
            let latency: Latency = latency.parse().unwrap();
            let mut xs: Vec<f64> = (0..20_000)
                .map(|_| latency.sample(&mut rng).as_secs_f64() * 1000.0)
                .collect();
            xs.sort_by(f64::total_cmp);
            xs
        };
        let fixed = draw("150ms");
        assert!(fixed.iter().all(|&x| x == 150.0));

        let uniform = draw("uniform:50ms..200ms");
        assert!(uniform[0] >= 50.0 && uniform[19_999] <= 200.0);
        assert!((uniform[10_000] - 125.0).abs() < 5.0, "{}", uniform[10_000]);

        let exp = draw("exp:100ms");
        let mean = exp.iter().sum::<f64>() / 20_000.0;
        assert!((mean - 100.0).abs() < 5.0, "mean {mean}");

        let lognormal = draw("lognormal:p50=100ms,p99=800ms");
        assert!(
            (lognormal[10_000] - 100.0).abs() < 5.0,
            "p50 {}",
            lognormal[10_000]
        );
        assert!(
            (lognormal[19_800] - 800.0).abs() < 100.0,
            "p99 {}",
            lognormal[19_800]
        );
    }

    #[test]
    fn the_same_seed_draws_the_same_delays() {
        let latency: Latency = "exp:100ms".parse().unwrap();
        let draws = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..5).map(|_| latency.sample(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draws(1), draws(1));
        assert_ne!(draws(1), draws(2));
    }

    #[test]
    fn long_tails_are_cut_at_the_maximum() {
        let latency = Latency::LogNormal {
            p50: MAX_LATENCY,
            p99: MAX_LATENCY,
        };
        let mut rng = StdRng::seed_from_u64(1);
        assert!((0..100).all(|_| latency.sample(&mut rng) <= MAX_LATENCY));
        assert_eq!(capped_secs(f64::INFINITY), MAX_LATENCY);
        assert_eq!(capped_secs(1e12), MAX_LATENCY);
    }
}
