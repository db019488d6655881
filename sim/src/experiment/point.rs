//! One sweep point ([`Point`]: the parameters of one simulated run, minus the seed) and what a
//! run of it hands back ([`Samples`]: one [`RequestRecord`] per request).
//!
//! Every parameter has a text form that the sweep files use and the reports print, so a row
//! of a table can be pasted back into a config: `lognormal 200ms 800ms`, `follower 10s 20s`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Runs one point with one seed. The experiment framework knows nothing else of how: the
/// simulated pipeline (`crate::pipeline`) provides the real one, tests a double.
pub type PointRunner<'a> = dyn Fn(&Point, u64) -> Result<Samples, String> + 'a;

/// The parameters of one run. Defaults (`Point::default()`) are a small, healthy cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// How long each admission webhook takes to answer (before the timeout cuts it).
    pub webhook_latency: LatencyDist,
    /// The webhooks' `timeoutSeconds` (Kubernetes allows 1 to 30).
    pub timeout_seconds: u32,
    /// The webhooks' `failurePolicy`.
    pub failure_policy: FailurePolicy,
    /// How many admission webhooks match a pod create.
    pub webhooks: u32,
    /// Mutating webhooks run one after another; validating ones in parallel.
    pub webhook_kind: WebhookKind,
    /// A window in which every webhook is down (connection refused).
    pub webhook_outage: Option<Window>,
    /// Who answers SubjectAccessReviews: RBAC in process, or an authorization webhook.
    pub authorization: Authorization,
    /// How long the authorization webhook takes, when there is one.
    pub authz_webhook_latency: LatencyDist,
    /// One-way latency added to every link to and between the store members.
    pub store_latency: Duration,
    /// A store member cut off from the rest for a while.
    pub partition: Partition,
    /// Concurrent clients creating pods.
    pub clients: u32,
    /// How each client sends: one request at a time (closed loop), or on a schedule.
    pub load: Load,
    /// A paced client's bound on its requests still waiting for an answer: a send that
    /// finds this many outstanding is skipped (and counted), so a slow server cannot grow
    /// the client's queue without end. Unused in the closed loop (always one).
    pub max_in_flight: u32,
    /// How long the clients run (simulated time).
    pub duration: Duration,
}

impl Default for Point {
    fn default() -> Self {
        Point {
            webhook_latency: LatencyDist::Fixed(Duration::from_millis(5)),
            timeout_seconds: 10,
            failure_policy: FailurePolicy::Fail,
            webhooks: 1,
            webhook_kind: WebhookKind::Validating,
            webhook_outage: None,
            authorization: Authorization::InProcess,
            authz_webhook_latency: LatencyDist::Fixed(Duration::from_millis(5)),
            store_latency: Duration::from_millis(1),
            partition: Partition::None,
            clients: 4,
            load: Load::Closed,
            max_in_flight: 8,
            duration: Duration::from_secs(30),
        }
    }
}

/// How a client sends its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// The next request as soon as the last one is answered, as a controller's work queue
    /// or `kubectl apply` in a loop does. The request rate follows the server: a server
    /// that fails fast gets many more requests.
    Closed,
    /// `per_second` requests a second on a fixed schedule whatever the answers (open
    /// loop), as independent users or a fleet of nodes do; at most `max_in_flight`
    /// outstanding (see [`Point::max_in_flight`]).
    Paced { per_second: u32 },
}

impl fmt::Display for Load {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Load::Closed => f.write_str("closed"),
            Load::Paced { per_second } => per_second.fmt(f),
        }
    }
}

/// A latency distribution, by the quantiles people quote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatencyDist {
    /// Always the same.
    Fixed(Duration),
    /// Log-normal with this median and 99th percentile (`p99 >= p50 > 0`).
    LogNormal { p50: Duration, p99: Duration },
}

impl LatencyDist {
    /// The 99th percentile, for plotting a distribution on one axis.
    pub fn p99(&self) -> Duration {
        match *self {
            LatencyDist::Fixed(d) => d,
            LatencyDist::LogNormal { p99, .. } => p99,
        }
    }

    /// The log-normal's (mu, sigma) in log-milliseconds, for a runner that samples it:
    /// mu = ln(p50), sigma = (ln(p99) - ln(p50)) / z(0.99). `None` for a fixed latency.
    pub fn lognormal_params_ms(&self) -> Option<(f64, f64)> {
        // z of the standard normal's 99th percentile.
        const Z_99: f64 = 2.326_347_874;
        match *self {
            LatencyDist::Fixed(_) => None,
            LatencyDist::LogNormal { p50, p99 } => {
                let mu = ms_f64(p50).ln();
                Some((mu, (ms_f64(p99).ln() - mu) / Z_99))
            }
        }
    }
}

impl fmt::Display for LatencyDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LatencyDist::Fixed(d) => write!(f, "fixed {}", DurationText(*d)),
            LatencyDist::LogNormal { p50, p99 } => {
                write!(f, "lognormal {} {}", DurationText(*p50), DurationText(*p99))
            }
        }
    }
}

/// A webhook's `failurePolicy`, spelled as in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    Fail,
    Ignore,
}

impl fmt::Display for FailurePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailurePolicy::Fail => "Fail",
            FailurePolicy::Ignore => "Ignore",
        })
    }
}

/// Which admission phase the webhooks are in, which decides how they are called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookKind {
    /// MutatingAdmissionWebhook: sequential, each sees the previous one's patch.
    Mutating,
    /// ValidatingAdmissionWebhook: all at once.
    Validating,
}

impl fmt::Display for WebhookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WebhookKind::Mutating => "mutating",
            WebhookKind::Validating => "validating",
        })
    }
}

/// The authorizer in front of admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization {
    /// RBAC in the API server's process.
    InProcess,
    /// A SubjectAccessReview webhook (`--authorization-webhook-config-file`).
    Webhook,
}

impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Authorization::InProcess => "inprocess",
            Authorization::Webhook => "webhook",
        })
    }
}

/// A span of simulated time, from the clients' start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Duration,
    pub duration: Duration,
}

impl Window {
    pub fn end(&self) -> Duration {
        self.start.saturating_add(self.duration)
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            DurationText(self.start),
            DurationText(self.duration)
        )
    }
}

/// A store member cut off from the other members and from the API server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    None,
    /// One follower, chosen when the window opens.
    Follower(Window),
    /// The leader at the moment the window opens.
    Leader(Window),
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Partition::None => f.write_str("none"),
            Partition::Follower(w) => write!(f, "follower {w}"),
            Partition::Leader(w) => write!(f, "leader {w}"),
        }
    }
}

/// What a run measured: every request the clients made, in any order (the framework sorts).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    pub requests: Vec<RequestRecord>,
}

/// One request as the client and the API server saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// When the client sent it, from the clients' start (simulated time).
    pub start: Duration,
    /// From sending to the answer (or to giving up), as the client saw it.
    pub latency: Duration,
    /// Time in each stage the request reached, by the API server's names: `authentication`,
    /// `authorization`, `admission`, `admission.<webhook name>`, `storage`.
    pub stages: BTreeMap<String, Duration>,
    pub outcome: Outcome,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// 2xx.
    Ok,
    /// Refused on purpose: 401, 403 (authorization, a webhook's `allowed: false`), 422.
    Denied { code: u16 },
    /// The client gave up, or the server answered 504 (its `--request-timeout`).
    Timeout,
    /// Any other failure; `code` is `None` when no HTTP answer came (connection reset).
    Error { code: Option<u16> },
    /// Never sent: a paced client's turn came while `max_in_flight` of its requests were
    /// still outstanding. Takes no time; counted beside the others, so the outcomes add up
    /// to the requests the schedule asked for.
    Skipped,
}

impl Outcome {
    /// The short key the reports count errors by: `403`, `timeout`, `500`, `no-answer`,
    /// `skipped`.
    pub fn key(&self) -> String {
        match self {
            Outcome::Ok => "ok".into(),
            Outcome::Skipped => "skipped".into(),
            Outcome::Denied { code } | Outcome::Error { code: Some(code) } => code.to_string(),
            Outcome::Timeout => "timeout".into(),
            Outcome::Error { code: None } => "no-answer".into(),
        }
    }
}

/// A duration in the sweep files' spelling: `800ms`, `2s`, `1500us`.
pub struct DurationText(pub Duration);

impl fmt::Display for DurationText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_nanos() == 0 {
            write!(f, "{}s", d.as_secs())
        } else if d.as_nanos().is_multiple_of(1_000_000) {
            write!(f, "{}ms", d.as_millis())
        } else {
            write!(f, "{}us", d.as_micros())
        }
    }
}

/// Milliseconds as a float, the unit of every latency in the reports.
pub fn ms_f64(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lognormal_parameters_from_quantiles() {
        let fixed = LatencyDist::Fixed(Duration::from_millis(5));
        assert_eq!(fixed.lognormal_params_ms(), None);
        let dist = LatencyDist::LogNormal {
            p50: Duration::from_millis(200),
            p99: Duration::from_millis(800),
        };
        let (mu, sigma) = dist.lognormal_params_ms().expect("lognormal");
        assert!((mu.exp() - 200.0).abs() < 1e-9);
        // exp(mu + z99 * sigma) is the p99 again.
        assert!(((mu + 2.326_347_874 * sigma).exp() - 800.0).abs() < 1e-6);
        assert_eq!(dist.p99(), Duration::from_millis(800));
    }

    #[test]
    fn outcome_keys() {
        assert_eq!(Outcome::Denied { code: 403 }.key(), "403");
        assert_eq!(Outcome::Error { code: Some(500) }.key(), "500");
        assert_eq!(Outcome::Error { code: None }.key(), "no-answer");
        assert_eq!(Outcome::Timeout.key(), "timeout");
        assert_eq!(Outcome::Skipped.key(), "skipped");
    }
}
