//! FlowSchemas and PriorityLevelConfigurations (`flowcontrol.apiserver.k8s.io/v1`) as the
//! controller uses them, parsed from the objects in the store.
//!
//! CONTRACT (the lead's skeleton; the config helper fills in the parsing and the limits):
//! the types below are what `matching`, `queueset` and `controller` use.

use std::collections::BTreeMap;

use serde_json::Value;

/// One FlowSchema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSchema {
    pub name: String,
    pub uid: String,
    /// Lower matches first; ties by name. 1..=10000 (kube's validation).
    pub matching_precedence: i32,
    /// `spec.priorityLevelConfiguration.name`.
    pub priority_level: String,
    pub distinguisher: Option<Distinguisher>,
    pub rules: Vec<PolicyRulesWithSubjects>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distinguisher {
    ByUser,
    ByNamespace,
}

/// `spec.rules[]`: a request matches when one subject and one rule match it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyRulesWithSubjects {
    pub subjects: Vec<Subject>,
    pub resource_rules: Vec<ResourcePolicyRule>,
    pub non_resource_rules: Vec<NonResourcePolicyRule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `kind: User`, `user.name` (`*` for all).
    User(String),
    /// `kind: Group`, `group.name` (`*` for all).
    Group(String),
    /// `kind: ServiceAccount`, `serviceAccount.{namespace,name}` (`name: *` for all of a
    /// namespace).
    ServiceAccount { namespace: String, name: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourcePolicyRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub cluster_scope: bool,
    pub namespaces: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NonResourcePolicyRule {
    pub verbs: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

/// One PriorityLevelConfiguration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityLevel {
    pub name: String,
    pub uid: String,
    pub kind: LevelKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LevelKind {
    /// Never queued or limited (`type: Exempt`).
    Exempt,
    /// `type: Limited`.
    Limited {
        nominal_concurrency_shares: u32,
        lendable_percent: u32,
        limit_response: LimitResponse,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitResponse {
    /// Over the limit: 429 at once.
    Reject,
    /// Over the limit: wait in one of `queues` queues (a flow's hand of `hand_size`), each
    /// at most `queue_length_limit` long.
    Queue {
        queues: u32,
        hand_size: u32,
        queue_length_limit: u32,
    },
}

/// The whole configuration: schemas in matching order (precedence, then name), levels by
/// name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub flow_schemas: Vec<FlowSchema>,
    pub levels: BTreeMap<String, PriorityLevel>,
}

impl Config {
    /// Parses the stored objects (as JSON). Objects that do not parse are skipped and named
    /// in the returned problems; kube's mandatory `exempt` and `catch-all` objects are
    /// added when the store lacks them, so a request always has somewhere to go.
    pub fn from_objects(flow_schemas: &[Value], levels: &[Value]) -> (Config, Vec<String>) {
        let _ = (flow_schemas, levels);
        (Config::default(), Vec::new())
    }

    /// Each limited level's nominal concurrency limit (seats) out of the server's:
    /// `ceil(server * shares / sum of all levels' shares)` (kube's `NominalCL`).
    pub fn concurrency_limits(&self, server_concurrency_limit: u32) -> BTreeMap<String, u32> {
        let _ = server_concurrency_limit;
        BTreeMap::new()
    }
}
