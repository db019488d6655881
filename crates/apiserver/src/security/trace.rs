//! The decision path of recent requests, keyed by the `Audit-Id` each response carries: which
//! authenticator made which identity of the credential, who the request acted as after
//! impersonation, and which authorizer (and which rule or binding) allowed or refused it.
//!
//! Bounded: the newest [`DEFAULT_CAPACITY`] requests. The same facts go to a `debug` log line
//! per request; `GET /debug/kubesim/trace/<audit-id>` answers one as JSON. The observability
//! issue builds its request traces on this.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kubesim_api::user::UserInfo;
use serde::Serialize;

/// Requests kept.
pub const DEFAULT_CAPACITY: usize = 1024;

/// One request's way through authentication and authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestTrace {
    pub audit_id: String,
    pub verb: String,
    pub path: String,
    /// `x509`, `serviceaccount`, `oidc`, …; empty when authentication refused the request.
    pub authenticator: String,
    /// What the authenticator checked, or why it refused (never a credential).
    pub authentication: String,
    /// The authenticated user; `None` on a 401.
    pub user: Option<Arc<UserInfo>>,
    /// The user the request acted as, when it impersonated someone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impersonated: Option<Arc<UserInfo>>,
    /// `Allow`, `Deny`, `NoOpinion`, or empty when the request did not get that far.
    pub decision: String,
    /// The authorizer that decided (`RBAC`, `Webhook`, …).
    pub authorizer: String,
    /// The rule, binding or policy line that decided.
    pub decided_by: String,
    /// kube's reason, as a 403 shows it.
    pub reason: String,
    /// An authorizer's failure (the authz service down or slow), which makes a refusal a 500.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// The FlowSchema and priority level API Priority and Fairness put the request in.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub flow_schema: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub priority_level: String,
    /// Each admission plugin and webhook the write met, in order, with what it did and how
    /// long it took.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub admission: Vec<AdmissionStep>,
}

/// One admission plugin's or webhook's part in a write (`kubesim_admission::Step`). Kept
/// as the write recorded it (every write records its steps, few traces are ever read), and
/// formatted when a trace is served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionStep {
    pub name: String,
    pub phase: &'static str,
    pub outcome: String,
    /// Milliseconds, to the microsecond, on the wire.
    #[serde(rename = "durationMs", serialize_with = "milliseconds")]
    pub duration: Duration,
}

/// A duration as `"1.234"` milliseconds.
fn milliseconds<S: serde::Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_args!("{:.3}", duration.as_secs_f64() * 1000.0))
}

impl From<kubesim_admission::Step> for AdmissionStep {
    fn from(step: kubesim_admission::Step) -> AdmissionStep {
        AdmissionStep {
            name: step.name,
            phase: step.phase,
            outcome: step.outcome,
            duration: step.duration,
        }
    }
}

impl RequestTrace {
    /// A request's trace before authentication.
    pub fn new(audit_id: &str, info: &kubesim_api::RequestInfo) -> RequestTrace {
        RequestTrace {
            audit_id: audit_id.to_string(),
            verb: info.verb.clone(),
            path: info.path.clone(),
            authenticator: String::new(),
            authentication: String::new(),
            user: None,
            impersonated: None,
            decision: String::new(),
            authorizer: String::new(),
            decided_by: String::new(),
            reason: String::new(),
            error: String::new(),
            flow_schema: String::new(),
            priority_level: String::new(),
            admission: Vec::new(),
        }
    }

    /// The authorizer chain's answer (for the request, or the impersonation check that
    /// refused it).
    pub fn record_decision(&mut self, decision: &kubesim_authz::Decision) {
        self.decision = format!("{:?}", decision.kind);
        self.authorizer = decision.authorizer.clone();
        self.decided_by = decision.decided_by.clone();
        self.reason = decision.reason.clone();
        self.error = decision.error.clone();
    }
}

/// The newest traces, oldest first.
#[derive(Debug)]
pub struct TraceLog {
    capacity: usize,
    traces: Mutex<VecDeque<RequestTrace>>,
}

impl TraceLog {
    pub fn new(capacity: usize) -> TraceLog {
        TraceLog {
            capacity: capacity.max(1),
            traces: Mutex::new(VecDeque::new()),
        }
    }

    /// Records a request's trace, dropping the oldest past the capacity.
    pub fn record(&self, trace: RequestTrace) {
        let mut traces = self.traces.lock().unwrap_or_else(PoisonError::into_inner);
        if traces.len() >= self.capacity {
            traces.pop_front();
        }
        traces.push_back(trace);
    }

    /// Adds a write's admission steps to its request's trace (recorded by the chain before
    /// the write ran).
    pub fn add_admission(&self, audit_id: &str, steps: Vec<kubesim_admission::Step>) {
        if steps.is_empty() {
            return;
        }
        let mut traces = self.traces.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(trace) = traces.iter_mut().rev().find(|t| t.audit_id == audit_id) {
            trace
                .admission
                .extend(steps.into_iter().map(AdmissionStep::from));
        }
    }

    /// The trace of the request with this `Audit-Id`, while it is among the newest.
    pub fn get(&self, audit_id: &str) -> Option<RequestTrace> {
        let traces = self.traces.lock().unwrap_or_else(PoisonError::into_inner);
        traces
            .iter()
            .rev()
            .find(|t| t.audit_id == audit_id)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(id: &str) -> RequestTrace {
        RequestTrace {
            audit_id: id.to_string(),
            verb: "get".into(),
            path: "/api/v1/pods".into(),
            authenticator: "x509".into(),
            authentication: String::new(),
            user: None,
            impersonated: None,
            decision: "Allow".into(),
            authorizer: "RBAC".into(),
            decided_by: String::new(),
            reason: String::new(),
            error: String::new(),
            flow_schema: String::new(),
            priority_level: String::new(),
            admission: Vec::new(),
        }
    }

    #[test]
    fn keeps_the_newest_within_capacity() {
        let log = TraceLog::new(2);
        log.record(trace("a"));
        log.record(trace("b"));
        log.record(trace("c"));
        assert_eq!(log.get("a"), None);
        assert_eq!(log.get("b").map(|t| t.audit_id), Some("b".to_string()));
        assert_eq!(log.get("c").map(|t| t.audit_id), Some("c".to_string()));
    }
}
