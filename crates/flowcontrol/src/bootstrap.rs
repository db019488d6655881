//! kube's bootstrap APF objects (`k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap`,
//! `default.go`), as kube-apiserver 1.33 (the version kubesim serves) ships them: the
//! mandatory `exempt` and `catch-all` levels and schemas, which the controller supplies when
//! the store lacks them, and the suggested ones kube-apiserver creates on start (`system`,
//! `node-high`, `leader-election`, `workload-high`, `workload-low`, `global-default` and the
//! schemas that lead to them). 1.33 still has `workload-leader-election` and
//! `endpoint-controller` for leader election on endpoints and configmaps; 1.34 drops both.
//!
//! Objects carry kube's autoupdate annotation and no uid or resourceVersion: the API
//! server's create fills those in. Fields are written as Go's encoder writes them (an
//! `omitempty` field that is empty or false is left out), so `kubectl get -o yaml` reads
//! like kube's.

use kubesim_api::user::{
    ALL_AUTHENTICATED, ALL_SERVICE_ACCOUNTS_GROUP, ALL_UNAUTHENTICATED, NODES_GROUP,
    SYSTEM_PRIVILEGED_GROUP,
};
use serde_json::{Map, Value, json};

use crate::config::{CATCH_ALL, EXEMPT};

/// kube's `AutoUpdateAnnotationKey`: `"true"` lets kube-apiserver rewrite the object's spec
/// to its own on start.
pub const AUTOUPDATE_ANNOTATION: &str = "apf.kubernetes.io/autoupdate-spec";

const API_VERSION: &str = "flowcontrol.apiserver.k8s.io/v1";
/// kube's `user.KubeControllerManager` and `user.KubeScheduler`.
const KUBE_CONTROLLER_MANAGER: &str = "system:kube-controller-manager";
const KUBE_SCHEDULER: &str = "system:kube-scheduler";
/// `metav1.NamespaceSystem`.
const KUBE_SYSTEM: &str = "kube-system";
/// kube's `VerbAll`, `APIGroupAll`, `ResourceAll`, `NonResourceAll`, `NameAll`,
/// `NamespaceEvery`: all spelled `*`.
const ALL: &str = "*";
const COORDINATION_GROUP: &str = "coordination.k8s.io";
const CORE_GROUP: &str = "";
/// Verbs of leader election by lock object.
const LOCK_VERBS: &[&str] = &["get", "create", "update"];

/// The mandatory objects, as the JSON the API server stores: `(flow_schemas, levels)`, in
/// kube's order.
pub fn mandatory() -> (Vec<Value>, Vec<Value>) {
    let flow_schemas = vec![
        flow_schema(
            EXEMPT,
            EXEMPT,
            1,
            None,
            everything(groups(&[SYSTEM_PRIVILEGED_GROUP])),
        ),
        flow_schema(
            CATCH_ALL,
            CATCH_ALL,
            10_000,
            Some("ByUser"),
            everything(groups(&[ALL_UNAUTHENTICATED, ALL_AUTHENTICATED])),
        ),
    ];
    let levels = vec![
        limited_level(CATCH_ALL, 5, 0, None),
        priority_level(
            EXEMPT,
            json!({
                "type": "Exempt",
                "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0},
            }),
        ),
    ];
    (flow_schemas, levels)
}

/// The suggested objects, as the JSON the API server stores: `(flow_schemas, levels)`, in
/// kube's order.
pub fn suggested() -> (Vec<Value>, Vec<Value>) {
    (suggested_flow_schemas(), suggested_levels())
}

/// `(queues, handSize, queueLengthLimit)`.
type Queuing = (u32, u32, u32);

fn suggested_levels() -> Vec<Value> {
    vec![
        // Kubelets and kube-proxy: the cluster's self-maintenance.
        limited_level("system", 30, 33, Some((64, 6, 50))),
        // Node heartbeats, apart from `system` so that nodes stay healthy under pod churn.
        limited_level("node-high", 40, 25, Some((64, 6, 50))),
        limited_level("leader-election", 10, 0, Some((16, 4, 50))),
        // Controllers and the scheduler.
        limited_level("workload-high", 40, 50, Some((128, 6, 50))),
        // Other service accounts.
        limited_level("workload-low", 100, 90, Some((128, 6, 50))),
        // Everything else that is authenticated or anonymous.
        limited_level("global-default", 20, 50, Some((128, 6, 50))),
    ]
}

fn suggested_flow_schemas() -> Vec<Value> {
    let controllers = || users(&[KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER]);
    vec![
        flow_schema(
            "system-nodes",
            "system",
            500,
            Some("ByUser"),
            everything(groups(&[NODES_GROUP])),
        ),
        flow_schema(
            "system-node-high",
            "node-high",
            400,
            Some("ByUser"),
            rules(
                groups(&[NODES_GROUP]),
                vec![
                    resource_rule(&[ALL], CORE_GROUP, &["nodes", "nodes/status"], true),
                    resource_rule(&[ALL], COORDINATION_GROUP, &["leases"], false),
                ],
                vec![],
            ),
        ),
        // Probes are exempt: a busy server must still answer its liveness checks.
        flow_schema(
            "probes",
            EXEMPT,
            2,
            None,
            rules(
                groups(&[ALL_UNAUTHENTICATED, ALL_AUTHENTICATED]),
                vec![],
                vec![non_resource_rule(
                    &["get"],
                    &["/healthz", "/readyz", "/livez"],
                )],
            ),
        ),
        flow_schema(
            "system-leader-election",
            "leader-election",
            100,
            Some("ByUser"),
            rules(
                [controllers(), kube_system_service_accounts(&[ALL])].concat(),
                vec![resource_rule(
                    LOCK_VERBS,
                    COORDINATION_GROUP,
                    &["leases"],
                    false,
                )],
                vec![],
            ),
        ),
        flow_schema(
            "workload-leader-election",
            "leader-election",
            200,
            Some("ByUser"),
            rules(
                kube_system_service_accounts(&[ALL]),
                vec![
                    resource_rule(LOCK_VERBS, CORE_GROUP, &["endpoints", "configmaps"], false),
                    resource_rule(LOCK_VERBS, COORDINATION_GROUP, &["leases"], false),
                ],
                vec![],
            ),
        ),
        // Ahead of `workload-leader-election`, which would otherwise take the endpoints
        // controllers' writes for leader election.
        flow_schema(
            "endpoint-controller",
            "workload-high",
            150,
            Some("ByUser"),
            rules(
                [
                    users(&[KUBE_CONTROLLER_MANAGER]),
                    kube_system_service_accounts(&[
                        "endpoint-controller",
                        "endpointslicemirroring-controller",
                    ]),
                ]
                .concat(),
                vec![resource_rule(LOCK_VERBS, CORE_GROUP, &["endpoints"], false)],
                vec![],
            ),
        ),
        flow_schema(
            "kube-controller-manager",
            "workload-high",
            800,
            Some("ByNamespace"),
            everything(users(&[KUBE_CONTROLLER_MANAGER])),
        ),
        flow_schema(
            "kube-scheduler",
            "workload-high",
            800,
            Some("ByNamespace"),
            everything(users(&[KUBE_SCHEDULER])),
        ),
        flow_schema(
            "kube-system-service-accounts",
            "workload-high",
            900,
            Some("ByNamespace"),
            everything(kube_system_service_accounts(&[ALL])),
        ),
        flow_schema(
            "service-accounts",
            "workload-low",
            9000,
            Some("ByUser"),
            everything(groups(&[ALL_SERVICE_ACCOUNTS_GROUP])),
        ),
        flow_schema(
            "global-default",
            "global-default",
            9900,
            Some("ByUser"),
            everything(groups(&[ALL_UNAUTHENTICATED, ALL_AUTHENTICATED])),
        ),
    ]
}

/// `metadata` of a bootstrap object: its name and the autoupdate annotation.
fn metadata(name: &str) -> Value {
    json!({"name": name, "annotations": {AUTOUPDATE_ANNOTATION: "true"}})
}

fn priority_level(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "PriorityLevelConfiguration",
        "metadata": metadata(name),
        "spec": spec,
    })
}

/// A limited level that queues (`Some(queuing)`) or rejects (`None`) over its limit.
fn limited_level(
    name: &str,
    shares: u32,
    lendable_percent: u32,
    queuing: Option<Queuing>,
) -> Value {
    let limit_response = match queuing {
        Some((queues, hand_size, queue_length_limit)) => json!({
            "type": "Queue",
            "queuing": {
                "queues": queues,
                "handSize": hand_size,
                "queueLengthLimit": queue_length_limit,
            },
        }),
        None => json!({"type": "Reject"}),
    };
    priority_level(
        name,
        json!({
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": shares,
                "limitResponse": limit_response,
                "lendablePercent": lendable_percent,
            },
        }),
    )
}

/// A FlowSchema with one `rules` entry (every bootstrap schema has one).
fn flow_schema(
    name: &str,
    level: &str,
    matching_precedence: u32,
    distinguisher: Option<&str>,
    rule: Value,
) -> Value {
    let mut spec = Map::new();
    spec.insert("priorityLevelConfiguration".into(), json!({"name": level}));
    spec.insert("matchingPrecedence".into(), json!(matching_precedence));
    if let Some(method) = distinguisher {
        spec.insert("distinguisherMethod".into(), json!({"type": method}));
    }
    spec.insert("rules".into(), json!([rule]));
    json!({
        "apiVersion": API_VERSION,
        "kind": "FlowSchema",
        "metadata": metadata(name),
        "spec": spec,
    })
}

/// One `PolicyRulesWithSubjects`; empty rule lists are left out, as Go's `omitempty` does.
fn rules(
    subjects: Vec<Value>,
    resource_rules: Vec<Value>,
    non_resource_rules: Vec<Value>,
) -> Value {
    let mut rule = Map::new();
    rule.insert("subjects".into(), Value::Array(subjects));
    if !resource_rules.is_empty() {
        rule.insert("resourceRules".into(), Value::Array(resource_rules));
    }
    if !non_resource_rules.is_empty() {
        rule.insert("nonResourceRules".into(), Value::Array(non_resource_rules));
    }
    Value::Object(rule)
}

/// Every request of these subjects: every resource, namespaced or not, and every URL.
fn everything(subjects: Vec<Value>) -> Value {
    rules(
        subjects,
        vec![resource_rule(&[ALL], ALL, &[ALL], true)],
        vec![non_resource_rule(&[ALL], &[ALL])],
    )
}

/// A resource rule in every namespace (the only kind kube's bootstrap has), and in cluster
/// scope too when `cluster_scope`.
fn resource_rule(
    verbs: &[&str],
    api_group: &str,
    resources: &[&str],
    cluster_scope: bool,
) -> Value {
    let mut rule = Map::new();
    rule.insert("verbs".into(), json!(verbs));
    rule.insert("apiGroups".into(), json!([api_group]));
    rule.insert("resources".into(), json!(resources));
    if cluster_scope {
        rule.insert("clusterScope".into(), Value::Bool(true));
    }
    rule.insert("namespaces".into(), json!([ALL]));
    Value::Object(rule)
}

fn non_resource_rule(verbs: &[&str], urls: &[&str]) -> Value {
    json!({"verbs": verbs, "nonResourceURLs": urls})
}

fn groups(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|name| json!({"kind": "Group", "group": {"name": name}}))
        .collect()
}

fn users(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|name| json!({"kind": "User", "user": {"name": name}}))
        .collect()
}

fn kube_system_service_accounts(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|name| {
            json!({
                "kind": "ServiceAccount",
                "serviceAccount": {"namespace": KUBE_SYSTEM, "name": name},
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Distinguisher, LevelKind, LimitResponse, Subject};

    fn all_objects() -> (Vec<Value>, Vec<Value>) {
        let (mut schemas, mut levels) = mandatory();
        let (suggested_schemas, suggested_levels) = suggested();
        schemas.extend(suggested_schemas);
        levels.extend(suggested_levels);
        (schemas, levels)
    }

    #[test]
    fn every_object_parses_without_problems() {
        let (schemas, levels) = all_objects();
        let (config, problems) = Config::from_objects(&schemas, &levels);
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(config.flow_schemas.len(), 13);
        assert_eq!(config.levels.len(), 8);
    }

    #[test]
    fn objects_are_stored_form_with_autoupdate_and_no_server_fields() {
        let (schemas, levels) = all_objects();
        for object in schemas.iter().chain(&levels) {
            assert_eq!(object["apiVersion"], API_VERSION);
            assert_eq!(
                object["metadata"]["annotations"][AUTOUPDATE_ANNOTATION],
                "true"
            );
            assert!(object["metadata"].get("uid").is_none(), "{object}");
            assert!(
                object["metadata"].get("resourceVersion").is_none(),
                "{object}"
            );
        }
        assert!(schemas.iter().all(|s| s["kind"] == "FlowSchema"));
        assert!(
            levels
                .iter()
                .all(|l| l["kind"] == "PriorityLevelConfiguration")
        );
    }

    #[test]
    fn mandatory_objects_are_kubes() {
        let (schemas, levels) = mandatory();
        let (config, _) = Config::from_objects(&schemas, &levels);
        let catch_all = config.levels.get(CATCH_ALL).map(|l| l.kind.clone());
        assert_eq!(
            catch_all,
            Some(LevelKind::Limited {
                nominal_concurrency_shares: 5,
                lendable_percent: 0,
                limit_response: LimitResponse::Reject,
            })
        );
        assert_eq!(
            config.levels.get(EXEMPT).map(|l| l.kind.clone()),
            Some(LevelKind::Exempt)
        );
        let exempt = &config.flow_schemas[0];
        assert_eq!(
            (exempt.name.as_str(), exempt.matching_precedence),
            (EXEMPT, 1)
        );
        assert_eq!(exempt.distinguisher, None);
        assert_eq!(
            exempt.rules[0].subjects,
            vec![Subject::Group("system:masters".into())]
        );
        let catch_all = &config.flow_schemas[1];
        assert_eq!(
            (catch_all.name.as_str(), catch_all.matching_precedence),
            (CATCH_ALL, 10_000)
        );
        assert_eq!(catch_all.distinguisher, Some(Distinguisher::ByUser));
        assert!(catch_all.rules[0].resource_rules[0].cluster_scope);
    }

    #[test]
    fn suggested_schemas_have_kubes_precedence_and_levels() {
        let (schemas, levels) = all_objects();
        let (config, _) = Config::from_objects(&schemas, &levels);
        let order: Vec<(&str, i32, &str)> = config
            .flow_schemas
            .iter()
            .map(|fs| {
                (
                    fs.name.as_str(),
                    fs.matching_precedence,
                    fs.priority_level.as_str(),
                )
            })
            .collect();
        assert_eq!(
            order,
            vec![
                ("exempt", 1, "exempt"),
                ("probes", 2, "exempt"),
                ("system-leader-election", 100, "leader-election"),
                ("endpoint-controller", 150, "workload-high"),
                ("workload-leader-election", 200, "leader-election"),
                ("system-node-high", 400, "node-high"),
                ("system-nodes", 500, "system"),
                ("kube-controller-manager", 800, "workload-high"),
                ("kube-scheduler", 800, "workload-high"),
                ("kube-system-service-accounts", 900, "workload-high"),
                ("service-accounts", 9000, "workload-low"),
                ("global-default", 9900, "global-default"),
                ("catch-all", 10_000, "catch-all"),
            ]
        );
    }

    #[test]
    fn suggested_levels_have_kubes_queuing() {
        let (schemas, levels) = all_objects();
        let (config, _) = Config::from_objects(&schemas, &levels);
        let queuing = |name: &str| match config.levels.get(name).map(|l| &l.kind) {
            Some(LevelKind::Limited {
                nominal_concurrency_shares,
                lendable_percent,
                limit_response:
                    LimitResponse::Queue {
                        queues,
                        hand_size,
                        queue_length_limit,
                    },
            }) => Some((
                *nominal_concurrency_shares,
                *lendable_percent,
                *queues,
                *hand_size,
                *queue_length_limit,
            )),
            _ => None,
        };
        assert_eq!(queuing("system"), Some((30, 33, 64, 6, 50)));
        assert_eq!(queuing("node-high"), Some((40, 25, 64, 6, 50)));
        assert_eq!(queuing("leader-election"), Some((10, 0, 16, 4, 50)));
        assert_eq!(queuing("workload-high"), Some((40, 50, 128, 6, 50)));
        assert_eq!(queuing("workload-low"), Some((100, 90, 128, 6, 50)));
        assert_eq!(queuing("global-default"), Some((20, 50, 128, 6, 50)));
    }

    #[test]
    fn omitempty_fields_are_left_out() {
        let (schemas, _) = suggested();
        let probes = schemas.iter().find(|s| s["metadata"]["name"] == "probes");
        let rule = probes.map(|p| &p["spec"]["rules"][0]);
        assert!(rule.is_some_and(|r| r.get("resourceRules").is_none()));
        assert!(probes.is_some_and(|p| p["spec"].get("distinguisherMethod").is_none()));
        let node_high = schemas
            .iter()
            .find(|s| s["metadata"]["name"] == "system-node-high");
        let leases = node_high.map(|n| &n["spec"]["rules"][0]["resourceRules"][1]);
        assert!(leases.is_some_and(|l| l.get("clusterScope").is_none()));
    }
}
