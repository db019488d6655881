//! A request's trace as `tracing` spans, and kube's slow-request line (docs/tracing.md).
//!
//! Map of the file:
//! - [`TARGET`]: the one target of every span and line here, admission's included, so one
//!   `RUST_LOG` directive (`kubesim_apiserver::trace=debug`) or one OpenTelemetry layer
//!   filter takes a whole request.
//! - [`request_span`] (INFO): one per request, with its `Audit-Id`, verb, resource, path,
//!   user (once authenticated) and code (at the end); [`stage_span`] (DEBUG): one per stage
//!   of the chain, by the filter names kube's `apiserver_request_filter_duration_seconds`
//!   uses; admission's spans (`admission`, a `plugin` per plugin, one per webhook call) come
//!   from `kubesim_admission`, [`storage_call`] adds one per store request.
//! - [`SlowRequestLog`]: kube's `utiltrace` "Trace[...]" line, one INFO line with each
//!   stage's duration for a request slower than `--trace-slow-threshold`.
//! - [`in_request`]: the task-local that tells the store's observer whose request a call
//!   belongs to ([`storage_call`]).
//!
//! Cost: the spans are `tracing`'s, free when nothing listens (a disabled span is
//! `Span::none()`, decided from each callsite's cached interest). `kubesim`'s default log
//! filter sets [`TARGET`] to `warn`, so by default no span is built and no stage timings
//! are kept for the slow-request line either ([`SlowRequestLog::enabled`]).

use std::future::Future;
use std::time::Duration;

use tracing::Span;
use tracing::field::Empty;

use crate::context::Timings;

/// The target of the request spans and the slow-request line: admission's spans use the
/// same (`kubesim_admission::TRACE_TARGET`).
pub const TARGET: &str = kubesim_admission::TRACE_TARGET;

/// kube's `utiltrace` threshold for writes (`LogIfLong(500 * time.Millisecond)`).
pub const DEFAULT_SLOW_THRESHOLD: Duration = Duration::from_millis(500);

/// The request's span; its fields `verb`, `resource`, `user` and `code` are recorded as the
/// chain learns them.
pub fn request_span(audit_id: &str, method: &str, path: &str) -> Span {
    tracing::info_span!(
        target: TARGET,
        "request",
        audit_id,
        method,
        path,
        verb = Empty,
        resource = Empty,
        user = Empty,
        code = Empty,
    )
}

/// One stage of the chain, named as the chain's timers name it (kube's filter names).
/// Each name is a callsite of its own: a span's name is static.
pub fn stage_span(filter: &'static str) -> Span {
    match filter {
        "authentication" => tracing::debug_span!(target: TARGET, "authentication"),
        "audit" => tracing::debug_span!(target: TARGET, "audit"),
        "impersonation" => tracing::debug_span!(target: TARGET, "impersonation"),
        "priorityandfairness" => tracing::debug_span!(target: TARGET, "priorityandfairness"),
        "authorization" => tracing::debug_span!(target: TARGET, "authorization"),
        "handler" => tracing::debug_span!(target: TARGET, "handler"),
        other => tracing::debug_span!(target: TARGET, "stage", filter = other),
    }
}

tokio::task_local! {
    /// Set while a request is served: its stage timings, when kept.
    static REQUEST: Option<Timings>;
}

/// Runs `future` as the request whose timings are `timings`: the store's calls made in it
/// join its trace ([`storage_call`]).
pub fn in_request<F: Future>(
    timings: Option<Timings>,
    future: F,
) -> impl Future<Output = F::Output> {
    REQUEST.scope(timings, future)
}

/// A store request just made (the storage client's observer calls this with its
/// duration): inside a request, a `storage` span under the current stage and an
/// `etcd.<operation>` entry in the request's timings. The client reports a call when it
/// ends (`crates/storage` times it), so the span is recorded then, with the call's duration
/// as its `elapsed_ms` field. Outside a request (the watch caches' lists) nothing.
pub fn storage_call(operation: &'static str, resource: &str, elapsed: Duration) {
    let Ok(timings) = REQUEST.try_with(Clone::clone) else {
        return;
    };
    if let Some(timings) = timings {
        timings.add(&format!("etcd.{operation}"), elapsed);
    }
    let span = tracing::debug_span!(
        target: TARGET,
        "storage",
        operation,
        resource,
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
    );
    drop(span.entered());
}

/// kube's `utiltrace.LogIfLong`: a request slower than the threshold gets one line with
/// each stage's duration and its `Audit-Id`.
#[derive(Debug, Clone, Copy)]
pub struct SlowRequestLog {
    /// `--trace-slow-threshold`: 0 logs every request.
    pub threshold: Duration,
}

/// What the slow-request line says about a request besides its timings.
#[derive(Debug, Clone, Copy)]
pub struct Finished<'a> {
    pub audit_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub verb: &'a str,
    pub user: &'a str,
    pub code: u16,
    pub total: Duration,
}

impl SlowRequestLog {
    /// Whether anyone would see the line: only then are a request's timings kept for it.
    pub fn enabled(&self) -> bool {
        tracing::enabled!(target: TARGET, tracing::Level::INFO)
    }

    /// Logs the request when it took at least the threshold.
    pub fn finish(&self, request: &Finished<'_>, timings: &Timings) {
        if request.total < self.threshold {
            return;
        }
        tracing::info!(
            target: TARGET,
            audit_id = request.audit_id,
            code = request.code,
            total_ms = request.total.as_secs_f64() * 1000.0,
            "{}",
            slow_line(request, timings)
        );
    }
}

/// `Trace[<Audit-Id>]: "POST /api/v1/..." verb:create,user:alice,code:201 (total time:
/// 612.345ms): authentication 0.213ms, audit 0.004ms, ...`: kube's trace header and its
/// steps, on one line.
pub fn slow_line(request: &Finished<'_>, timings: &Timings) -> String {
    let stages = timings
        .entries()
        .iter()
        .map(|(name, elapsed)| format!("{name} {:.3}ms", elapsed.as_secs_f64() * 1000.0))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "Trace[{}]: \"{} {}\" verb:{},user:{},code:{} (total time: {:.3}ms): {stages}",
        request.audit_id,
        request.method,
        request.path,
        request.verb,
        request.user,
        request.code,
        request.total.as_secs_f64() * 1000.0,
    )
}

#[cfg(test)]
#[path = "trace_tests.rs"]
mod tests;
