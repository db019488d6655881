//! What an answer says, as pure functions: its `Server-Timing` header turned into a
//! [`RequestRecord`]'s stages, and its status code into an [`Outcome`].
//!
//! The API server's header (`crates/apiserver/src/context.rs`, `Timings::server_timing`)
//! lists `name;dur=<ms>` entries: each chain stage (`authentication`, `authorization`, ...),
//! each admission plugin and webhook (`admission.<name>`), each store call (`etcd.<op>`) and
//! `total`. The stages reported are the ones the simulated runner reports too:
//! `authentication`, `authorization`, `admission`, `admission.<webhook>` and `storage` (the
//! store calls summed).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::experiment::point::{Outcome, WebhookKind};

/// The `(name, duration)` entries of a `Server-Timing` header, in order; entries that are
/// not `name;dur=<non-negative ms>` are skipped.
pub fn parse_server_timing(header: &str) -> Vec<(String, Duration)> {
    header
        .split(',')
        .filter_map(|entry| {
            let mut params = entry.trim().split(';');
            let name = params.next()?.trim();
            let ms: f64 = params
                .find_map(|p| p.trim().strip_prefix("dur="))?
                .trim()
                .parse()
                .ok()?;
            let valid = !name.is_empty() && ms.is_finite() && ms >= 0.0;
            valid.then(|| (name.to_string(), Duration::from_secs_f64(ms / 1000.0)))
        })
        .collect()
}

/// The stages of one request from its `Server-Timing` entries. `webhooks` are the names of
/// the point's webhooks, `kind` how they are called.
///
/// `admission` is the header's own `admission` entry when it has one. Without it, it is
/// rebuilt from the steps: the built-in plugins one after another (summed), and the
/// webhooks summed when mutating (called in turn) or their longest when validating (called
/// all at once).
pub fn stages(
    entries: &[(String, Duration)],
    webhooks: &[String],
    kind: WebhookKind,
) -> BTreeMap<String, Duration> {
    let mut stages = BTreeMap::new();
    let mut storage: Option<Duration> = None;
    let mut plugins = Duration::ZERO;
    let mut webhook_calls: Vec<Duration> = Vec::new();
    let mut any_admission = false;
    for (name, duration) in entries {
        if matches!(
            name.as_str(),
            "authentication" | "authorization" | "admission"
        ) {
            *stages.entry(name.clone()).or_insert(Duration::ZERO) += *duration;
        } else if name.starts_with("etcd.") {
            *storage.get_or_insert(Duration::ZERO) += *duration;
        } else if let Some(step) = name.strip_prefix("admission.") {
            any_admission = true;
            if webhooks.iter().any(|w| w == step) {
                *stages.entry(name.clone()).or_insert(Duration::ZERO) += *duration;
                webhook_calls.push(*duration);
            } else {
                plugins += *duration;
            }
        }
    }
    if let Some(storage) = storage {
        stages.insert("storage".to_string(), storage);
    }
    if any_admission && !stages.contains_key("admission") {
        let calls = match kind {
            WebhookKind::Mutating => webhook_calls.iter().sum(),
            WebhookKind::Validating => webhook_calls.iter().max().copied().unwrap_or_default(),
        };
        stages.insert("admission".to_string(), plugins + calls);
    }
    stages
}

/// How an answer ends a request: 2xx is `Ok`; 401, 403 and 422 and a webhook's denial
/// (whatever code it chose) are `Denied`; 504 (the server's request timeout) is `Timeout`;
/// anything else an `Error`.
pub fn outcome(code: u16, body: &[u8]) -> Outcome {
    match code {
        200..=299 => Outcome::Ok,
        401 | 403 | 422 => Outcome::Denied { code },
        504 => Outcome::Timeout,
        _ if webhook_denied(body) => Outcome::Denied { code },
        _ => Outcome::Error { code: Some(code) },
    }
}

/// kube's message for a webhook's `allowed: false`: `admission webhook "<name>" denied the
/// request: ...`.
fn webhook_denied(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|status| {
            status
                .get("message")
                .and_then(serde_json::Value::as_str)
                .map(|m| m.starts_with("admission webhook ") && m.contains(" denied the request"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(ms: f64) -> Duration {
        Duration::from_secs_f64(ms / 1000.0)
    }

    /// A pod create's header as the API server writes it, two validating webhooks.
    const HEADER: &str = "authentication;dur=0.200, audit;dur=0.010, impersonation;dur=0.001, \
        priorityandfairness;dur=0.050, authorization;dur=0.100, \
        admission.NamespaceLifecycle;dur=0.020, admission.PodSecurity;dur=0.080, \
        admission.w-0.experiment.kubesim.io;dur=1001.500, \
        admission.w-1.experiment.kubesim.io;dur=300.000, etcd.txn;dur=2.500, \
        etcd.get;dur=0.500, handler;dur=1005.000, total;dur=1006.000";

    fn webhooks() -> Vec<String> {
        vec![
            "w-0.experiment.kubesim.io".to_string(),
            "w-1.experiment.kubesim.io".to_string(),
        ]
    }

    #[test]
    fn server_timing_entries_parse_and_junk_is_skipped() {
        let entries = parse_server_timing("a;dur=1.5, b;desc=x;dur=2, c, d;dur=-1, e;dur=x");
        assert_eq!(
            entries,
            vec![("a".to_string(), ms(1.5)), ("b".to_string(), ms(2.0))]
        );
        assert_eq!(parse_server_timing(""), vec![]);
    }

    #[test]
    fn validating_webhooks_count_once_the_longest() {
        let stages = stages(
            &parse_server_timing(HEADER),
            &webhooks(),
            WebhookKind::Validating,
        );
        let expected: BTreeMap<String, Duration> = [
            ("authentication", ms(0.2)),
            ("authorization", ms(0.1)),
            ("admission", ms(0.02) + ms(0.08) + ms(1001.5)),
            ("admission.w-0.experiment.kubesim.io", ms(1001.5)),
            ("admission.w-1.experiment.kubesim.io", ms(300.0)),
            ("storage", ms(2.5) + ms(0.5)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(stages, expected);
    }

    #[test]
    fn mutating_webhooks_add_up_and_the_servers_admission_entry_wins() {
        let entries = parse_server_timing(HEADER);
        let mutating = stages(&entries, &webhooks(), WebhookKind::Mutating);
        assert_eq!(
            mutating["admission"],
            ms(0.02) + ms(0.08) + ms(1001.5) + ms(300.0)
        );
        let mut with_total = entries.clone();
        with_total.push(("admission".to_string(), ms(1302.0)));
        let stages = stages(&with_total, &webhooks(), WebhookKind::Mutating);
        assert_eq!(stages["admission"], ms(1302.0));
    }

    #[test]
    fn a_request_stopped_before_admission_has_no_admission_stage() {
        let stages = stages(
            &parse_server_timing("authentication;dur=0.1, total;dur=0.2"),
            &webhooks(),
            WebhookKind::Validating,
        );
        assert_eq!(stages.keys().collect::<Vec<_>>(), ["authentication"]);
    }

    #[test]
    fn outcomes_by_code_and_webhook_denial() {
        assert_eq!(outcome(201, b""), Outcome::Ok);
        assert_eq!(outcome(403, b""), Outcome::Denied { code: 403 });
        assert_eq!(outcome(422, b""), Outcome::Denied { code: 422 });
        assert_eq!(outcome(504, b""), Outcome::Timeout);
        let failed = br#"{"kind":"Status","message":"failed calling webhook \"w\": timeout"}"#;
        assert_eq!(outcome(500, failed), Outcome::Error { code: Some(500) });
        let denied =
            br#"{"kind":"Status","message":"admission webhook \"w\" denied the request: no"}"#;
        assert_eq!(outcome(400, denied), Outcome::Denied { code: 400 });
        assert_eq!(
            outcome(429, b"not json"),
            Outcome::Error { code: Some(429) }
        );
    }
}
