//! The experiments of issue 8, as sweep files compiled in: data a user can print, copy and
//! change (`config`'s format), not code. Each is small enough to run in minutes of real time
//! on two cores: a simulated request costs some milliseconds of CPU (a TLS handshake per
//! connection), so the sizes (clients, seconds, seeds) keep each experiment near 50 000
//! requests in all. `failure-policy-outage` paces its clients (`rate`): closed-loop clients
//! would send a request every few milliseconds while a Fail webhook's refusals come back at
//! once, and take over 20 minutes.

use super::config::parse_sweep;
use super::sweep::Sweep;

/// Name and sweep file of each built-in experiment.
pub const BUILTIN: [(&str, &str); 5] = [
    ("webhook-timeout", WEBHOOK_TIMEOUT),
    ("failure-policy-outage", FAILURE_POLICY_OUTAGE),
    ("store-partition", STORE_PARTITION),
    ("chained-webhooks", CHAINED_WEBHOOKS),
    ("authz-webhook-vs-inprocess", AUTHZ_WEBHOOK_VS_INPROCESS),
];

/// The built-in experiment `name`, or an error listing the known names.
pub fn builtin(name: &str) -> Result<Sweep, String> {
    let text = builtin_yaml(name).ok_or_else(|| {
        let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        format!("no experiment `{name}` (built in: {})", names.join(", "))
    })?;
    parse_sweep(text)
}

/// The sweep file of the built-in experiment `name`, to print or start a custom one from.
pub fn builtin_yaml(name: &str) -> Option<&'static str> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

const WEBHOOK_TIMEOUT: &str = "\
name: webhook-timeout
description: >
  A slow validating admission webhook in front of pod creation: end-to-end latency and
  failures as its latency distribution meets its timeoutSeconds, under failurePolicy Fail
  (a call cut off by the timeout fails the request) and Ignore (the call is skipped).
seeds_per_point: 3
base:
  webhooks: 1
  webhook_kind: validating
  clients: 4
  duration: 30s
axes:
  webhook_latency: [lognormal 100ms 400ms, lognormal 200ms 800ms, lognormal 500ms 2s]
  timeout_seconds: [1, 2, 5]
  failure_policy: [Fail, Ignore]
plots:
  - { x: timeout_seconds, y: e2e.p99_ms }
  - { x: timeout_seconds, y: failure_rate }
  - { x: timeout_seconds, y: admission.p99_ms }
";

const FAILURE_POLICY_OUTAGE: &str = "\
name: failure-policy-outage
description: >
  The only webhook is down (connection refused, as when its Service has no ready endpoint)
  for 30 s in the middle of a 90 s run: under failurePolicy Fail every pod create fails
  while it is down; under Ignore they go through unchecked. Paced clients (a fixed rate
  each, whatever the answers), so a fast failure does not turn into a flood of retries.
  Failure rate and latency over time, per second.
seeds_per_point: 3
base:
  webhooks: 1
  webhook_kind: validating
  webhook_latency: lognormal 10ms 40ms
  timeout_seconds: 2
  webhook_outage: 30s 30s
  clients: 4
  rate: 10
  max_in_flight: 4
  duration: 90s
axes:
  failure_policy: [Fail, Ignore]
plots:
  - { over_time: failure_rate, bucket: 1s }
  - { over_time: e2e.p99_ms, bucket: 1s }
";

const STORE_PARTITION: &str = "\
name: store-partition
description: >
  Pod writes while one store member is cut off for 15 s: a follower (the quorum holds) or
  the leader (an election, then the new leader), at two store link latencies. No webhooks.
seeds_per_point: 2
base:
  webhooks: 0
  clients: 1
  duration: 40s
axes:
  partition: [none, follower 10s 15s, leader 10s 15s]
  store_latency: [1ms, 10ms]
plots:
  - { over_time: e2e.p99_ms, bucket: 2s }
  - { over_time: failure_rate, bucket: 2s }
  - { x: store_latency, y: storage.p99_ms }
";

const CHAINED_WEBHOOKS: &str = "\
name: chained-webhooks
description: >
  1 to 10 webhooks on pod creation: mutating ones are called one after another, validating
  ones in parallel, so latency should add up for the first and not for the second.
seeds_per_point: 2
base:
  webhook_latency: lognormal 10ms 50ms
  timeout_seconds: 10
  failure_policy: Fail
  clients: 2
  duration: 20s
axes:
  webhook_kind: [mutating, validating]
  webhooks: [1, 2, 4, 8, 10]
plots:
  - { x: webhooks, y: e2e.p50_ms }
  - { x: webhooks, y: e2e.p99_ms }
  - { x: webhooks, y: admission.p99_ms }
";

const AUTHZ_WEBHOOK_VS_INPROCESS: &str = "\
name: authz-webhook-vs-inprocess
description: >
  RBAC in the API server's process against an authorization webhook (a SubjectAccessReview
  per request), as the number of concurrent clients grows. No admission webhooks.
seeds_per_point: 2
base:
  webhooks: 0
  authz_webhook_latency: lognormal 5ms 50ms
  duration: 10s
axes:
  authorization: [inprocess, webhook]
  clients: [1, 2, 4]
plots:
  - { x: clients, y: e2e.p99_ms }
  - { x: clients, y: authorization.p99_ms }
";
