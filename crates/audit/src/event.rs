//! The `audit.k8s.io/v1` Event, as kube-apiserver writes it (`k8s.io/apiserver/pkg/apis/audit/v1`).

use std::collections::BTreeMap;

use kubesim_api::user::UserInfo;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const API_VERSION: &str = "audit.k8s.io/v1";

/// How much of a request is recorded, least first (so levels compare with `<`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    None,
    Metadata,
    Request,
    RequestResponse,
}

/// The stage of the request an event was made at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stage {
    /// As soon as the audit stage sees the request, before any work on it.
    RequestReceived,
    /// When the response headers are sent and before the body, for long-running requests
    /// (watch) only.
    ResponseStarted,
    /// When the response is complete.
    ResponseComplete,
    /// When the handler panicked.
    Panic,
}

/// kube's `audit.ObjectReference`: what the request is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subresource: String,
}

/// One audit event. Field order and names are kube's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub kind: String,
    pub api_version: String,
    pub level: Level,
    #[serde(rename = "auditID")]
    pub audit_id: String,
    pub stage: Stage,
    #[serde(rename = "requestURI")]
    pub request_uri: String,
    pub verb: String,
    pub user: UserInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonated_user: Option<UserInfo>,
    #[serde(default, rename = "sourceIPs", skip_serializing_if = "Vec::is_empty")]
    pub source_ips: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ref: Option<ObjectReference>,
    /// A `meta/v1` Status: `{metadata: {}, code}` for a success, with `status`, `message`
    /// and `reason` for a failure (kube's ResponseStatus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<Value>,
    /// The request body as the API server decoded it (level Request and up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object: Option<Value>,
    /// The response body (level RequestResponse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_object: Option<Value>,
    /// RFC 3339 with microseconds (metav1.MicroTime).
    pub request_received_timestamp: String,
    pub stage_timestamp: String,
    /// `authorization.k8s.io/decision`, `authorization.k8s.io/reason`, admission webhooks'
    /// audit annotations (`<webhook name>/<key>`), ...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Event {
    /// An event at `level` and `stage` with kube's kind and apiVersion and nothing else set.
    pub fn new(level: Level, stage: Stage, audit_id: &str) -> Event {
        Event {
            kind: "Event".to_string(),
            api_version: API_VERSION.to_string(),
            level,
            audit_id: audit_id.to_string(),
            stage,
            request_uri: String::new(),
            verb: String::new(),
            user: UserInfo::default(),
            impersonated_user: None,
            source_ips: Vec::new(),
            user_agent: String::new(),
            object_ref: None,
            response_status: None,
            request_object: None,
            response_object: None,
            request_received_timestamp: String::new(),
            stage_timestamp: String::new(),
            annotations: BTreeMap::new(),
        }
    }
}

/// What the webhook backend POSTs: `{"kind":"EventList","apiVersion":"audit.k8s.io/v1",
/// "metadata":{},"items":[...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventList {
    pub kind: String,
    pub api_version: String,
    #[serde(default)]
    pub metadata: Value,
    pub items: Vec<Event>,
}

impl EventList {
    pub fn new(items: Vec<Event>) -> EventList {
        EventList {
            kind: "EventList".to_string(),
            api_version: API_VERSION.to_string(),
            metadata: Value::Object(Default::default()),
            items,
        }
    }
}
