//! From one answer to one [`RequestRecord`]'s stages and outcome: the API server's
//! `Server-Timing` header (asked for with `x-kubesim-trace: 1`) read into the stages the
//! reports know, and the status code (or the client's give-up) into an [`Outcome`].
//!
//! The header has one entry per stage of the chain (`authentication`, `authorization`,
//! `handler`, `total`), per admission plugin or webhook (`admission.<name>`, a webhook's name
//! being a DNS name with dots, a built-in plugin's having none) and per store operation
//! (`etcd.<op>`). The server gives no entry for admission as a whole, so it is derived here
//! ([`admission_wall_time`]).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::experiment::point::{Outcome, WebhookKind};

/// The stage names of the reports.
pub const AUTHENTICATION: &str = "authentication";
pub const AUTHORIZATION: &str = "authorization";
pub const ADMISSION: &str = "admission";
pub const STORAGE: &str = "storage";

/// Bound on the entries read from one header (the server caps its own at 256).
const MAX_ENTRIES: usize = 512;

/// The `name;dur=<ms>` entries of a `Server-Timing` header, in order; malformed ones are
/// skipped.
pub fn entries(server_timing: &str) -> Vec<(String, Duration)> {
    server_timing
        .split(',')
        .take(MAX_ENTRIES)
        .filter_map(|entry| {
            let (name, dur) = entry.trim().split_once(";dur=")?;
            let ms: f64 = dur.trim().parse().ok()?;
            let took = Duration::try_from_secs_f64(ms / 1000.0).ok()?;
            Some((name.trim().to_owned(), took))
        })
        .collect()
}

/// The report's stages of one answer: `authentication`, `authorization`, `admission` and
/// `admission.<webhook>` when admission ran, `storage` (the sum of `etcd.*`) when the store
/// was asked.
pub fn stages(server_timing: &str, kind: WebhookKind) -> BTreeMap<String, Duration> {
    let mut stages = BTreeMap::new();
    let mut storage: Option<Duration> = None;
    let mut plugins: Option<Duration> = None;
    let mut webhooks: BTreeMap<String, Duration> = BTreeMap::new();
    for (name, took) in entries(server_timing) {
        if name == AUTHENTICATION || name == AUTHORIZATION {
            add(&mut stages, &name, took);
        } else if name.starts_with("etcd.") {
            storage = Some(storage.unwrap_or_default().saturating_add(took));
        } else if let Some(step) = name.strip_prefix("admission.") {
            if step.contains('.') {
                // A mutating webhook reinvoked shows twice: its time is the sum.
                add(&mut webhooks, step, took);
            } else {
                plugins = Some(plugins.unwrap_or_default().saturating_add(took));
            }
        }
    }
    if let Some(storage) = storage {
        stages.insert(STORAGE.to_owned(), storage);
    }
    if plugins.is_some() || !webhooks.is_empty() {
        let whole = admission_wall_time(plugins.unwrap_or_default(), &webhooks, kind);
        stages.insert(ADMISSION.to_owned(), whole);
    }
    for (webhook, took) in webhooks {
        stages.insert(format!("{ADMISSION}.{webhook}"), took);
    }
    stages
}

/// Admission's wall time: the built-in plugins run one after another (their sum), then the
/// webhooks: mutating ones one after another (the sum), validating ones all at once (the
/// longest; a sum would count the same wall time once per webhook). The gaps between steps
/// are in-process work of microseconds, left out.
pub fn admission_wall_time(
    plugins: Duration,
    webhooks: &BTreeMap<String, Duration>,
    kind: WebhookKind,
) -> Duration {
    let calls = webhooks.values().copied();
    let webhooks = match kind {
        WebhookKind::Mutating => calls.fold(Duration::ZERO, Duration::saturating_add),
        WebhookKind::Validating => calls.max().unwrap_or_default(),
    };
    plugins.saturating_add(webhooks)
}

fn add(map: &mut BTreeMap<String, Duration>, name: &str, took: Duration) {
    let slot = map.entry(name.to_owned()).or_default();
    *slot = slot.saturating_add(took);
}

/// The outcome of an HTTP answer: 2xx Ok; 401, 403 (authorization, a webhook's denial) and
/// 422 Denied; 504 (the server's request timeout) Timeout; anything else Error.
pub fn outcome(code: u16) -> Outcome {
    match code {
        200..=299 => Outcome::Ok,
        401 | 403 | 422 => Outcome::Denied { code },
        504 => Outcome::Timeout,
        _ => Outcome::Error { code: Some(code) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "authentication;dur=0.200, authorization;dur=0.050, \
        admission.PodSecurity;dur=0.010, admission.w1.experiment.kubesim.io;dur=300.000, \
        admission.w2.experiment.kubesim.io;dur=500.000, etcd.get;dur=2.000, \
        etcd.create;dur=3.000, handler;dur=510.000, total;dur=511.000";

    fn ms(d: Option<&Duration>) -> f64 {
        d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    }

    #[test]
    fn validating_webhooks_count_once_mutating_ones_add_up() {
        let validating = stages(HEADER, WebhookKind::Validating);
        assert!((ms(validating.get("admission")) - 500.010).abs() < 1e-6);
        assert!((ms(validating.get("storage")) - 5.0).abs() < 1e-9);
        assert!((ms(validating.get("authorization")) - 0.05).abs() < 1e-9);
        assert!((ms(validating.get("admission.w1.experiment.kubesim.io")) - 300.0).abs() < 1e-9);
        assert!(!validating.contains_key("admission.PodSecurity"));
        let mutating = stages(HEADER, WebhookKind::Mutating);
        assert!((ms(mutating.get("admission")) - 800.010).abs() < 1e-6);
    }

    #[test]
    fn absent_stages_stay_absent() {
        let only_auth = stages(
            "authentication;dur=1, total;dur=2, bogus",
            WebhookKind::Mutating,
        );
        assert_eq!(only_auth.keys().collect::<Vec<_>>(), vec!["authentication"]);
    }

    #[test]
    fn outcomes_by_code() {
        assert_eq!(outcome(201), Outcome::Ok);
        assert_eq!(outcome(403), Outcome::Denied { code: 403 });
        assert_eq!(outcome(504), Outcome::Timeout);
        assert_eq!(outcome(500), Outcome::Error { code: Some(500) });
    }
}
