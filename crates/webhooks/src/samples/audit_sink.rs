//! `audit-sink`: allows every request, and records each pod CREATE it is sent (namespace,
//! name, the pod's uid, the review's uid, the user, the time) in a bounded ring of the latest
//! [`DEFAULT_CAPACITY`] records, logging a line for each.
//!
//! The pod's `uid` is empty when the webhook is called as a mutating one (kube assigns it
//! after mutating admission); as a validating one it is the stored pod's. `name` is the
//! object's, or the request's, so a `generateName` pod shows its generated name when kube has
//! made one.
//!
//! It is also an audit webhook (kube-apiserver's `--audit-webhook-config-file`, kubesim's
//! `kubesim_audit::backend::webhook`): `POST /audit` ([`AUDIT_PATH`]) takes an
//! `audit.k8s.io/v1 EventList` as `application/json`, records each event in the same ring,
//! logs a line per list, and answers `200 {"received": <events>}` at once. A body that is not
//! a v1 EventList is a 400 that says why, another media type a 415, a body over
//! [`MAX_EVENT_LIST_BYTES`] (16 MiB: kube's batches of 400 events with request and response
//! bodies can be several MiB) a 413. The knobs (`--latency`, `--fail-rate`) do not apply.
//!
//! `GET /records` ([`RECORDS_PATH`]) answers the ring as JSON, oldest first, both kinds of
//! record told apart by `kind`:
//!
//! ```json
//! {"items": [
//!   {"kind": "PodCreate", "time": "...", "namespace": "...", "name": "...", "uid": "...",
//!    "requestUid": "...", "user": "..."},
//!   {"kind": "AuditEvent", "time": "...", "batch": 1, "auditID": "...", "stage":
//!    "ResponseComplete", "level": "Metadata", "verb": "create", "requestURI": "...",
//!    "user": "...", "objectRef": {...}, "responseCode": 201, "annotations": {...}}],
//!  "dropped": <records pushed out of the ring>}
//! ```
//!
//! `batch` numbers the EventLists received since the start (1 for the first), so a reader can
//! see how the events were batched. Audit events come by the hundred and push pod records out
//! of the ring as fast; a test that wants both reads them before the next batch.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use kubesim_admission::webhook::review::{AdmissionRequest, AdmissionResponse};
use kubesim_audit::event::{API_VERSION, Event, EventList, ObjectReference};
use kubesim_audit::{Level, Stage};
use kubesim_net::Clock;
use serde::Serialize;
use serde_json::Value;

pub const NAME: &str = "audit-sink";
/// The path of the records, answered to `GET`.
pub const RECORDS_PATH: &str = "/records";
/// Where audit EventLists are POSTed.
pub const AUDIT_PATH: &str = "/audit";
/// The largest EventList body read.
pub const MAX_EVENT_LIST_BYTES: usize = 16 * 1024 * 1024;
/// How many records the ring keeps.
pub const DEFAULT_CAPACITY: usize = 1024;

/// One entry of the ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind")]
pub enum Record {
    PodCreate(PodCreate),
    /// Boxed: an audit event is twice a pod create's size, and most records are events.
    AuditEvent(Box<AuditEventRecord>),
}

/// One pod CREATE, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodCreate {
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

/// One audit event, as recorded: the fields that say who did what and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventRecord {
    /// When its EventList arrived, as [`PodCreate::time`].
    pub time: String,
    /// The EventList it came in: 1 for the first received since the start.
    pub batch: u64,
    #[serde(rename = "auditID")]
    pub audit_id: String,
    pub stage: Stage,
    pub level: Level,
    pub verb: String,
    #[serde(rename = "requestURI")]
    pub request_uri: String,
    /// `user.username`.
    pub user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_ref: Option<ObjectReference>,
    /// `responseStatus.code`, when the event has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_code: Option<i64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl AuditEventRecord {
    fn of(event: Event, time: &str, batch: u64) -> AuditEventRecord {
        let response_code = event
            .response_status
            .as_ref()
            .and_then(|status| status.get("code"))
            .and_then(Value::as_i64);
        AuditEventRecord {
            time: time.to_string(),
            batch,
            audit_id: event.audit_id,
            stage: event.stage,
            level: event.level,
            verb: event.verb,
            request_uri: event.request_uri,
            user: event.user.username,
            object_ref: event.object_ref,
            response_code,
            annotations: event.annotations,
        }
    }
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
    /// EventLists received since the start.
    event_lists: u64,
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
                event_lists: 0,
            })),
            clock,
        }
    }

    pub fn review(&self, request: &AdmissionRequest) -> AdmissionResponse {
        if request.operation == "CREATE"
            && let Some(pod) = super::pod(request)
        {
            let record = self.record(request, pod);
            tracing::info!(
                namespace = %record.namespace,
                name = %record.name,
                uid = %record.uid,
                user = %record.user,
                time = %record.time,
                "audit-sink: pod created"
            );
            self.lock().push(Record::PodCreate(record));
        }
        super::allow(request)
    }

    /// Records the events of a POSTed EventList and returns how many there were, or says
    /// why the body is not an `audit.k8s.io/v1` EventList.
    pub fn receive_event_list(&self, body: &[u8]) -> Result<usize, String> {
        let list = decode_event_list(body)?;
        let time = kubesim_api::time::format_micro_time(self.clock.now_since_epoch());
        let count = list.items.len();
        let mut ring = self.lock();
        ring.event_lists += 1;
        let batch = ring.event_lists;
        for event in list.items {
            let record = AuditEventRecord::of(event, &time, batch);
            ring.push(Record::AuditEvent(Box::new(record)));
        }
        drop(ring);
        tracing::info!(batch, events = count, %time, "audit-sink: audit events received");
        Ok(count)
    }

    /// The ring, oldest first.
    pub fn records(&self) -> RecordList {
        let ring = self.lock();
        RecordList {
            items: ring.records.iter().cloned().collect(),
            dropped: ring.dropped,
        }
    }

    fn record(&self, request: &AdmissionRequest, pod: &Value) -> PodCreate {
        let field = |pointer: &str| pod.pointer(pointer).and_then(Value::as_str).unwrap_or("");
        let name = match field("/metadata/name") {
            "" => request.name.as_str(),
            name => name,
        };
        PodCreate {
            time: kubesim_api::time::format_micro_time(self.clock.now_since_epoch()),
            namespace: super::namespace_of(request, pod).to_string(),
            name: name.to_string(),
            uid: field("/metadata/uid").to_string(),
            request_uid: request.uid.clone(),
            user: request.user_info.username.clone(),
        }
    }

    /// The ring; a poisoned lock means a panic mid-push, and the ring is still a valid ring.
    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Ring {
    fn push(&mut self, record: Record) {
        if self.records.len() >= self.capacity {
            self.records.pop_front();
            self.dropped += 1;
        }
        self.records.push_back(record);
    }
}

/// The EventList of a body: JSON, `kind: EventList`, `apiVersion: audit.k8s.io/v1`.
pub fn decode_event_list(body: &[u8]) -> Result<EventList, String> {
    let list: EventList = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not an audit.k8s.io/v1 EventList: {e}"))?;
    if list.api_version != API_VERSION || list.kind != "EventList" {
        return Err(format!(
            "expected {API_VERSION}, Kind=EventList, got {}, Kind={}",
            list.api_version, list.kind
        ));
    }
    Ok(list)
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
                items: vec![Record::PodCreate(PodCreate {
                    time: "2023-11-14T22:13:20.250000Z".into(),
                    namespace: "team-a".into(),
                    name: "web".into(),
                    uid: "uid-web".into(),
                    request_uid: "705ab4f5-6393-11e8-b7cc-42010a800002".into(),
                    user: "alice".into(),
                })],
                dropped: 0,
            }
        );
        assert_eq!(
            serde_json::to_value(sink.records()).unwrap()["items"][0],
            json!({"kind": "PodCreate", "time": "2023-11-14T22:13:20.250000Z",
                   "namespace": "team-a", "name": "web", "uid": "uid-web",
                   "requestUid": "705ab4f5-6393-11e8-b7cc-42010a800002", "user": "alice"})
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
        let names: Vec<&str> = records.items.iter().map(name).collect();
        assert_eq!((names, records.dropped), (vec!["b", "c"], 1));
    }

    fn name(record: &Record) -> &str {
        match record {
            Record::PodCreate(create) => &create.name,
            Record::AuditEvent(event) => &event.audit_id,
        }
    }

    fn event_list(ids: &[&str]) -> Vec<u8> {
        let items: Vec<Value> = ids
            .iter()
            .map(|id| {
                json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
                       "auditID": id, "stage": "ResponseComplete",
                       "requestURI": "/api/v1/namespaces/team-a/pods", "verb": "create",
                       "user": {"username": "alice", "groups": ["system:authenticated"]},
                       "objectRef": {"resource": "pods", "namespace": "team-a", "name": "web",
                                     "apiVersion": "v1"},
                       "responseStatus": {"metadata": {}, "code": 201},
                       "requestReceivedTimestamp": "2023-11-14T22:13:20.000000Z",
                       "stageTimestamp": "2023-11-14T22:13:20.100000Z",
                       "annotations": {"authorization.k8s.io/decision": "allow"}})
            })
            .collect();
        json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {},
               "items": items})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn audit_events_are_recorded_with_their_batch() {
        let sink = sink(8);
        sink.review(&create("web"));
        assert_eq!(sink.receive_event_list(&event_list(&["a1", "a2"])), Ok(2));
        assert_eq!(sink.receive_event_list(&event_list(&["a3"])), Ok(1));
        assert_eq!(sink.receive_event_list(&event_list(&[])), Ok(0));
        let records = sink.records();
        let names: Vec<&str> = records.items.iter().map(name).collect();
        assert_eq!(names, ["web", "a1", "a2", "a3"]);
        let Record::AuditEvent(first) = &records.items[1] else {
            panic!("not an audit event: {:?}", records.items[1]);
        };
        assert_eq!(
            (first.batch, first.stage, first.level, first.response_code),
            (1, Stage::ResponseComplete, Level::Metadata, Some(201))
        );
        let json = serde_json::to_value(&records).unwrap();
        assert_eq!(
            json["items"][3],
            json!({"kind": "AuditEvent", "time": "2023-11-14T22:13:20.250000Z", "batch": 2,
                   "auditID": "a3", "stage": "ResponseComplete", "level": "Metadata",
                   "verb": "create", "requestURI": "/api/v1/namespaces/team-a/pods",
                   "user": "alice",
                   "objectRef": {"resource": "pods", "namespace": "team-a", "name": "web",
                                 "apiVersion": "v1"},
                   "responseCode": 201,
                   "annotations": {"authorization.k8s.io/decision": "allow"}})
        );
    }

    #[test]
    fn audit_events_share_the_ring_with_pod_creates() {
        let sink = sink(2);
        sink.review(&create("web"));
        sink.receive_event_list(&event_list(&["a1", "a2"])).unwrap();
        let records = sink.records();
        let names: Vec<&str> = records.items.iter().map(name).collect();
        assert_eq!((names, records.dropped), (vec!["a1", "a2"], 1));
    }

    #[test]
    fn only_v1_event_lists_are_taken() {
        let sink = sink(8);
        let error = sink.receive_event_list(b"{").unwrap_err();
        assert!(
            error.starts_with("the body is not an audit.k8s.io/v1 EventList: "),
            "{error}"
        );
        let v1beta1 = String::from_utf8(event_list(&["a1"]))
            .unwrap()
            .replace("audit.k8s.io/v1\"", "audit.k8s.io/v1beta1\"");
        assert_eq!(
            sink.receive_event_list(v1beta1.as_bytes()),
            Err("expected audit.k8s.io/v1, Kind=EventList, got audit.k8s.io/v1beta1, Kind=EventList".into())
        );
        let no_stage = String::from_utf8(event_list(&["a1"]))
            .unwrap()
            .replace("\"stage\":\"ResponseComplete\",", "");
        assert!(sink.receive_event_list(no_stage.as_bytes()).is_err());
        assert_eq!(
            sink.records().items,
            [],
            "nothing of a bad list is recorded"
        );
    }

    #[test]
    fn clones_share_the_ring() {
        let sink = sink(4);
        sink.clone().review(&create("web"));
        assert_eq!(sink.records().items.len(), 1);
    }
}
