//! `audit-sink`: allows every request, and records each pod CREATE it is sent (namespace,
//! name, the pod's uid, the review's uid, the user, the time) in a bounded ring of the latest
//! [`DEFAULT_CAPACITY`] records, logging a line for each. `GET /records` answers the ring as
//! JSON, oldest first: `{"items": [{"time": "...", "namespace": ..., "name": ..., "uid": ...,
//! "requestUid": ..., "user": ...}], "dropped": <records pushed out of the ring>}`.
//!
//! The pod's `uid` is empty when the webhook is called as a mutating one (kube assigns it
//! after mutating admission); as a validating one it is the stored pod's. `name` is the
//! object's, or the request's, so a `generateName` pod shows its generated name when kube has
//! made one.
//!
//! Audit events: a later issue has the API server's audit webhook backend POST
//! `audit.k8s.io/v1 EventList`s here too. They belong in this ring as a second kind of
//! [`Record`] entry, reached by a route of their own in `crate::server::routes` (next to
//! [`RECORDS_PATH`]), before the catch-all AdmissionReview POST.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use kubesim_admission::webhook::review::{AdmissionRequest, AdmissionResponse};
use kubesim_net::Clock;
use serde::Serialize;
use serde_json::Value;

pub const NAME: &str = "audit-sink";
/// The path of the records, answered to `GET`.
pub const RECORDS_PATH: &str = "/records";
/// How many records the ring keeps.
pub const DEFAULT_CAPACITY: usize = 1024;

/// One pod CREATE, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// When the review arrived, RFC 3339 in UTC with microseconds (metav1.MicroTime).
    pub time: String,
    pub namespace: String,
    pub name: String,
    /// The pod's `metadata.uid` (empty before kube assigns one).
    pub uid: String,
    /// The AdmissionReview's `request.uid`.
    pub request_uid: String,
    /// `userInfo.username`.
    pub user: String,
}

/// What `GET /records` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordList {
    /// Oldest first.
    pub items: Vec<Record>,
    /// Records pushed out of the full ring since the start.
    pub dropped: u64,
}

/// The sink; clones share one ring, so a test or the simulation can keep one and read what
/// the running webhook recorded.
#[derive(Clone)]
pub struct AuditSink {
    ring: Arc<Mutex<Ring>>,
    /// Where record times come from (the seam: simulated time under turmoil).
    clock: Arc<dyn Clock>,
}

struct Ring {
    records: VecDeque<Record>,
    capacity: usize,
    dropped: u64,
}

impl std::fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSink").finish_non_exhaustive()
    }
}

impl AuditSink {
    /// A sink keeping the latest `capacity` records (at least one).
    pub fn new(capacity: usize, clock: Arc<dyn Clock>) -> AuditSink {
        let capacity = capacity.max(1);
        AuditSink {
            ring: Arc::new(Mutex::new(Ring {
                records: VecDeque::with_capacity(capacity),
                capacity,
                dropped: 0,
            })),
            clock,
        }
    }

    pub fn review(&self, request: &AdmissionRequest) -> AdmissionResponse {
        if request.operation == "CREATE"
            && let Some(pod) = super::pod(request)
        {
            self.push(self.record(request, pod));
        }
        super::allow(request)
    }

    /// The ring, oldest first.
    pub fn records(&self) -> RecordList {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        RecordList {
            items: ring.records.iter().cloned().collect(),
            dropped: ring.dropped,
        }
    }

    fn record(&self, request: &AdmissionRequest, pod: &Value) -> Record {
        let field = |pointer: &str| pod.pointer(pointer).and_then(Value::as_str).unwrap_or("");
        let name = match field("/metadata/name") {
            "" => request.name.as_str(),
            name => name,
        };
        Record {
            time: micro_time(self.clock.now_since_epoch()),
            namespace: super::namespace_of(request, pod).to_string(),
            name: name.to_string(),
            uid: field("/metadata/uid").to_string(),
            request_uid: request.uid.clone(),
            user: request.user_info.username.clone(),
        }
    }

    fn push(&self, record: Record) {
        tracing::info!(
            namespace = %record.namespace,
            name = %record.name,
            uid = %record.uid,
            user = %record.user,
            time = %record.time,
            "audit-sink: pod created"
        );
        // A poisoned lock means a panic mid-push; the ring is still a valid ring.
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.records.len() >= ring.capacity {
            ring.records.pop_front();
            ring.dropped += 1;
        }
        ring.records.push_back(record);
    }
}

/// `2026-11-29T07:06:58.123456Z`.
fn micro_time(since_epoch: std::time::Duration) -> String {
    let secs = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
    let seconds = kubesim_api::time::format_rfc3339(secs);
    let whole = seconds.trim_end_matches('Z');
    format!("{whole}.{:06}Z", since_epoch.subsec_micros())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::super::test_support::pod_create;
    use super::*;

    struct FixedClock(Duration);

    impl Clock for FixedClock {
        fn now_since_epoch(&self) -> Duration {
            self.0
        }
    }

    fn sink(capacity: usize) -> AuditSink {
        AuditSink::new(
            capacity,
            Arc::new(FixedClock(Duration::from_micros(1_700_000_000_250_000))),
        )
    }

    fn create(name: &str) -> AdmissionRequest {
        pod_create(
            "team-a",
            json!({"metadata": {"name": name, "uid": format!("uid-{name}")}}),
        )
    }

    #[test]
    fn pod_creates_are_recorded_and_allowed() {
        let sink = sink(8);
        let response = sink.review(&create("web"));
        assert!(response.allowed);
        assert_eq!(response.patch, None);
        assert_eq!(
            sink.records(),
            RecordList {
                items: vec![Record {
                    time: "2023-11-14T22:13:20.250000Z".into(),
                    namespace: "team-a".into(),
                    name: "web".into(),
                    uid: "uid-web".into(),
                    request_uid: "705ab4f5-6393-11e8-b7cc-42010a800002".into(),
                    user: "alice".into(),
                }],
                dropped: 0,
            }
        );
        assert_eq!(
            serde_json::to_value(sink.records()).unwrap()["items"][0]["requestUid"],
            "705ab4f5-6393-11e8-b7cc-42010a800002"
        );
    }

    #[test]
    fn other_operations_and_kinds_are_allowed_unrecorded() {
        let sink = sink(8);
        let mut update = create("web");
        update.operation = "UPDATE".into();
        let mut config_map = create("web");
        config_map.kind.kind = "ConfigMap".into();
        assert!(sink.review(&update).allowed);
        assert!(sink.review(&config_map).allowed);
        assert_eq!(sink.records().items, []);
    }

    #[test]
    fn the_ring_keeps_the_latest() {
        let sink = sink(2);
        for name in ["a", "b", "c"] {
            sink.review(&create(name));
        }
        let records = sink.records();
        let names: Vec<&str> = records.items.iter().map(|r| r.name.as_str()).collect();
        assert_eq!((names, records.dropped), (vec!["b", "c"], 1));
    }

    #[test]
    fn clones_share_the_ring() {
        let sink = sink(4);
        sink.clone().review(&create("web"));
        assert_eq!(sink.records().items.len(), 1);
    }
}
