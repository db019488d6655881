//! The knobs that make a sample slow or broken on purpose ([`Knobs`]), and the seeded draw
//! of each call's fate from them ([`Faults::draw`]): how long to wait, and whether and how to
//! fail. Only review calls draw (both transports); `/healthz`, `/records` and the audit-sink's
//! `POST /audit` never fail.
//!
//! Failure modes (`--timeout-behaviour`), what a failing call does after its delay:
//!
//! | mode | HTTPS (AdmissionReview) | gRPC |
//! |---|---|---|
//! | `error` (default) | HTTP 500, a plain-text body | status `Internal` |
//! | `hang` | never answers: waits until the client gives up (closes its stream or connection), the server stops, or [`crate::Limits::hang_limit`] passes, then drops the connection | the same |
//! | `close` | drops the connection (TCP closed, no TLS close_notify, no response) | the same (every stream on it) |
//! | `garbage` | 200 `application/json` whose body is not an AdmissionReview | 200 `application/grpc`, status OK, a message that is not protobuf |
//! | `wrong-uid` | a valid answer whose `response.uid` is another, random uid | the same |

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::latency::Latency;

/// How a failing call fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FailureMode {
    #[default]
    Error,
    Hang,
    Close,
    Garbage,
    WrongUid,
}

impl FailureMode {
    pub const ALL: [FailureMode; 5] = [
        FailureMode::Error,
        FailureMode::Hang,
        FailureMode::Close,
        FailureMode::Garbage,
        FailureMode::WrongUid,
    ];

    /// As `--timeout-behaviour` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureMode::Error => "error",
            FailureMode::Hang => "hang",
            FailureMode::Close => "close",
            FailureMode::Garbage => "garbage",
            FailureMode::WrongUid => "wrong-uid",
        }
    }
}

impl fmt::Display for FailureMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FailureMode {
    type Err = String;

    fn from_str(text: &str) -> Result<FailureMode, String> {
        FailureMode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == text.trim())
            .ok_or_else(|| format!("{text:?} is not one of error, hang, close, garbage, wrong-uid"))
    }
}

/// `--fail-rate`: a fraction from 0 to 1.
pub fn parse_fail_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number from 0 to 1"))?;
    check_fail_rate(rate).map(|()| rate)
}

fn check_fail_rate(rate: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&rate) {
        Ok(())
    } else {
        Err(format!("{rate} is not a number from 0 to 1"))
    }
}

/// What makes a sample slow or broken, common to every sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Knobs {
    /// The delay before each answer (`--latency`).
    pub latency: Latency,
    /// The fraction of review calls that fail (`--fail-rate`), 0 to 1.
    pub fail_rate: f64,
    /// How they fail (`--timeout-behaviour`).
    pub failure_mode: FailureMode,
    /// The seed of every delay and failure (`--seed`): the same seed and the same sequence of
    /// calls give the same fates.
    pub seed: u64,
}

impl Default for Knobs {
    /// A well-behaved webhook: no delay, no failures.
    fn default() -> Self {
        Knobs {
            latency: Latency::default(),
            fail_rate: 0.0,
            failure_mode: FailureMode::default(),
            seed: 0,
        }
    }
}

impl Knobs {
    pub fn validate(&self) -> Result<(), String> {
        check_fail_rate(self.fail_rate).map_err(|e| format!("fail rate: {e}"))
    }
}

/// One call's fate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fate {
    /// Waited before anything else.
    pub delay: Duration,
    /// `None`: answer normally.
    pub failure: Option<FailureMode>,
}

/// The knobs with their seeded RNG; one per server, shared by its connections.
#[derive(Debug)]
pub struct Faults {
    knobs: Knobs,
    rng: Mutex<StdRng>,
}

impl Faults {
    pub fn new(knobs: Knobs) -> Faults {
        Faults {
            rng: Mutex::new(StdRng::seed_from_u64(knobs.seed)),
            knobs,
        }
    }

    /// The next call's fate. Every call draws its delay and then its failure, so the
    /// sequence of fates depends only on the seed and the knobs.
    pub fn draw(&self) -> Fate {
        let mut rng = self.rng();
        let delay = self.knobs.latency.sample(&mut *rng);
        let fails = rng.random::<f64>() < self.knobs.fail_rate;
        Fate {
            delay,
            failure: fails.then_some(self.knobs.failure_mode),
        }
    }

    /// A uid for `wrong-uid` answers: random (seeded), in the form kube's uids take, and never
    /// `request_uid`.
    pub fn wrong_uid(&self, request_uid: &str) -> String {
        let (high, low) = {
            let mut rng = self.rng();
            (rng.random::<u64>(), rng.random::<u64>())
        };
        let uid = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xffff,
            high & 0xfff,
            0x8000 | ((low >> 48) & 0x3fff),
            low & 0xffff_ffff_ffff
        );
        if uid == request_uid {
            format!("{uid}-wrong")
        } else {
            uid
        }
    }

    fn rng(&self) -> std::sync::MutexGuard<'_, StdRng> {
        // A poisoned lock means a panic mid-draw; the generator's state is still valid.
        self.rng.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knobs(fail_rate: f64, failure_mode: FailureMode, seed: u64) -> Knobs {
        Knobs {
            fail_rate,
            failure_mode,
            seed,
            ..Knobs::default()
        }
    }

    #[test]
    fn failure_modes_parse_and_print() {
        for mode in FailureMode::ALL {
            assert_eq!(mode.to_string().parse::<FailureMode>(), Ok(mode));
        }
        assert_eq!("wrong-uid".parse(), Ok(FailureMode::WrongUid));
        assert_eq!(
            "timeout".parse::<FailureMode>(),
            Err(r#""timeout" is not one of error, hang, close, garbage, wrong-uid"#.to_string())
        );
    }

    #[test]
    fn fail_rates_are_fractions() {
        assert_eq!(parse_fail_rate("0"), Ok(0.0));
        assert_eq!(parse_fail_rate("0.25"), Ok(0.25));
        assert_eq!(parse_fail_rate("1"), Ok(1.0));
        assert_eq!(
            parse_fail_rate("1.5"),
            Err("1.5 is not a number from 0 to 1".to_string())
        );
        assert_eq!(
            parse_fail_rate("-0.1"),
            Err("-0.1 is not a number from 0 to 1".to_string())
        );
        assert_eq!(
            parse_fail_rate("NaN"),
            Err("NaN is not a number from 0 to 1".to_string())
        );
        assert_eq!(
            parse_fail_rate("half"),
            Err(r#""half" is not a number from 0 to 1"#.to_string())
        );
        assert!(knobs(2.0, FailureMode::Error, 0).validate().is_err());
    }

    #[test]
    fn rates_of_zero_and_one_never_and_always_fail() {
        let never = Faults::new(knobs(0.0, FailureMode::Hang, 1));
        assert!((0..1000).all(|_| never.draw().failure.is_none()));
        let always = Faults::new(knobs(1.0, FailureMode::Close, 1));
        assert!((0..1000).all(|_| always.draw().failure == Some(FailureMode::Close)));
    }

    #[test]
    fn the_rate_is_the_fraction_that_fails() {
        let faults = Faults::new(knobs(0.3, FailureMode::Garbage, 42));
        let failed = (0..10_000)
            .filter(|_| faults.draw().failure == Some(FailureMode::Garbage))
            .count();
        assert!((2_800..3_200).contains(&failed), "{failed} of 10000");
    }

    #[test]
    fn the_seed_decides_every_fate() {
        let fates = |seed| {
            let faults = Faults::new(Knobs {
                latency: "uniform:0..100ms".parse().unwrap(),
                ..knobs(0.5, FailureMode::Error, seed)
            });
            (0..20).map(|_| faults.draw()).collect::<Vec<_>>()
        };
        assert_eq!(fates(9), fates(9));
        assert_ne!(fates(9), fates(10));
    }

    #[test]
    fn wrong_uids_look_like_uids_and_differ() {
        let faults = Faults::new(Knobs::default());
        let request_uid = "705ab4f5-6393-11e8-b7cc-42010a800002";
        let uid = faults.wrong_uid(request_uid);
        assert_ne!(uid, request_uid);
        let groups: Vec<usize> = uid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{uid}");
        assert_ne!(faults.wrong_uid(request_uid), uid, "a fresh one each time");
    }
}
