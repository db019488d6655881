//! FlowSchemas and PriorityLevelConfigurations through the public entry points, after
//! defaulting, as the registry runs them: kube-apiserver's own bootstrap objects pass; each
//! rule fails with kube's field path and message, in kube's order.

use serde_json::{Value, json};

use crate::defaults::apply_defaults;
use crate::kind_validation::{generation_changed, validate_create, validate_update};
use crate::resources::{Resource, by_kind};
use crate::status::{GroupKind, Status};

const GROUP: &str = "flowcontrol.apiserver.k8s.io";
const SUBDOMAIN_MSG: &str = r"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn resource(kind: &str) -> &'static Resource {
    by_kind(GROUP, "v1", kind).expect("served")
}

fn create(kind: &str, mut object: Value) -> Vec<String> {
    let r = resource(kind);
    apply_defaults(r, &mut object);
    validate_create(r, &object)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn update(kind: &str, mut object: Value, mut old: Value) -> Vec<String> {
    let r = resource(kind);
    apply_defaults(r, &mut object);
    apply_defaults(r, &mut old);
    validate_update(r, &object, &old)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn none() -> Vec<String> {
    Vec::new()
}

fn schema(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
           "metadata": {"name": name}, "spec": spec})
}

fn level(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
           "metadata": {"name": name}, "spec": spec})
}

/// A schema for `global-default` with one rule.
fn with_rule(rule: Value) -> Value {
    schema(
        "fs",
        json!({"priorityLevelConfiguration": {"name": "global-default"}, "rules": [rule]}),
    )
}

fn everything() -> Value {
    json!({
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                           "clusterScope": true, "namespaces": ["*"]}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
    })
}

fn group(name: &str) -> Value {
    json!({"kind": "Group", "group": {"name": name}})
}

/// A rule for `subjects` matching every request.
fn rule_for(subjects: Value) -> Value {
    let mut rule = everything();
    rule["subjects"] = subjects;
    rule
}

/// A `Limited` level with `queuing` under a `Queue` response.
fn queued(queuing: Value) -> Value {
    level(
        "queued",
        json!({"type": "Limited", "limited": {"limitResponse": {"type": "Queue", "queuing": queuing}}}),
    )
}

// ---------------------------------------------------------------------------------------------
// kube-apiserver's bootstrap configuration

/// The mandatory and a few suggested FlowSchemas, as kube-apiserver 1.33 creates them.
fn bootstrap_flow_schemas() -> Vec<Value> {
    let kube_system_accounts = json!([{"kind": "ServiceAccount", "serviceAccount": {"namespace": "kube-system", "name": "*"}}]);
    vec![
        schema(
            "exempt",
            json!({"priorityLevelConfiguration": {"name": "exempt"}, "matchingPrecedence": 1,
                   "rules": [rule_for(json!([group("system:masters")]))]}),
        ),
        schema(
            "catch-all",
            json!({"priorityLevelConfiguration": {"name": "catch-all"}, "matchingPrecedence": 10000,
                   "distinguisherMethod": {"type": "ByUser"},
                   "rules": [rule_for(json!([group("system:unauthenticated"),
                                             group("system:authenticated")]))]}),
        ),
        schema(
            "probes",
            json!({"priorityLevelConfiguration": {"name": "exempt"}, "matchingPrecedence": 2,
                   "rules": [{"subjects": [group("system:unauthenticated"), group("system:authenticated")],
                              "nonResourceRules": [{"verbs": ["get"],
                                                    "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}]}]}),
        ),
        schema(
            "system-node-high",
            json!({"priorityLevelConfiguration": {"name": "node-high"}, "matchingPrecedence": 400,
                   "distinguisherMethod": {"type": "ByUser"},
                   "rules": [{"subjects": [group("system:nodes")],
                              "resourceRules": [
                                  {"verbs": ["*"], "apiGroups": [""], "resources": ["nodes", "nodes/status"],
                                   "clusterScope": true, "namespaces": ["*"]},
                                  {"verbs": ["*"], "apiGroups": ["coordination.k8s.io"],
                                   "resources": ["leases"], "namespaces": ["*"]}]}]}),
        ),
        schema(
            "system-leader-election",
            json!({"priorityLevelConfiguration": {"name": "leader-election"}, "matchingPrecedence": 100,
                   "distinguisherMethod": {"type": "ByUser"},
                   "rules": [{"subjects": [
                                  {"kind": "User", "user": {"name": "system:kube-controller-manager"}},
                                  {"kind": "User", "user": {"name": "system:kube-scheduler"}},
                                  kube_system_accounts[0].clone()],
                              "resourceRules": [
                                  {"verbs": ["get", "create", "update"], "apiGroups": [""],
                                   "resources": ["endpoints", "configmaps"], "namespaces": ["kube-system"]},
                                  {"verbs": ["get", "create", "update"], "apiGroups": ["coordination.k8s.io"],
                                   "resources": ["leases"], "namespaces": ["*"]}]}]}),
        ),
        schema(
            "kube-system-service-accounts",
            json!({"priorityLevelConfiguration": {"name": "workload-high"}, "matchingPrecedence": 900,
                   "distinguisherMethod": {"type": "ByNamespace"},
                   "rules": [rule_for(kube_system_accounts)]}),
        ),
    ]
}

/// The mandatory and a few suggested priority levels, as kube-apiserver 1.33 creates them.
fn bootstrap_priority_levels() -> Vec<Value> {
    let limited = |shares: i64, lendable: i64, queues: i64, hand: i64| {
        json!({"type": "Limited", "limited": {
            "nominalConcurrencyShares": shares, "lendablePercent": lendable,
            "limitResponse": {"type": "Queue",
                              "queuing": {"queues": queues, "handSize": hand, "queueLengthLimit": 50}}}})
    };
    vec![
        level(
            "exempt",
            json!({"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}),
        ),
        level(
            "catch-all",
            json!({"type": "Limited", "limited": {"nominalConcurrencyShares": 5, "lendablePercent": 0,
                                                  "limitResponse": {"type": "Reject"}}}),
        ),
        level("system", limited(30, 33, 64, 6)),
        level("leader-election", limited(10, 0, 16, 4)),
        level("workload-high", limited(40, 50, 128, 6)),
        level("workload-low", limited(100, 90, 128, 6)),
        level("global-default", limited(20, 50, 128, 6)),
    ]
}

#[test]
fn kube_apiservers_bootstrap_objects_pass_create_and_update() {
    for object in bootstrap_flow_schemas() {
        assert_eq!(create("FlowSchema", object.clone()), none(), "{object}");
        assert_eq!(
            update("FlowSchema", object.clone(), object.clone()),
            none(),
            "{object}"
        );
    }
    for object in bootstrap_priority_levels() {
        assert_eq!(
            create("PriorityLevelConfiguration", object.clone()),
            none(),
            "{object}"
        );
        assert_eq!(
            update("PriorityLevelConfiguration", object.clone(), object.clone()),
            none(),
            "{object}"
        );
    }
}

#[test]
fn defaults_make_short_objects_valid() {
    // No precedence (1000), no queuing numbers, no shares (30): all defaulted.
    assert_eq!(
        create(
            "FlowSchema",
            with_rule(rule_for(json!([group("system:authenticated")])))
        ),
        none()
    );
    assert_eq!(
        create("PriorityLevelConfiguration", queued(json!({}))),
        none()
    );
    // The mandatory exempt level as `kubectl apply` of a bare manifest sends it.
    assert_eq!(
        create(
            "PriorityLevelConfiguration",
            level("exempt", json!({"type": "Exempt"}))
        ),
        none()
    );
}

// ---------------------------------------------------------------------------------------------
// FlowSchemas

#[test]
fn names_precedence_and_priority_level() {
    let spec = json!({"priorityLevelConfiguration": {"name": "Bad_Level"}, "matchingPrecedence": 10001,
                      "rules": []});
    assert_eq!(
        create("FlowSchema", schema("Not.Valid", spec)),
        [
            format!(r#"metadata.name: Invalid value: "Not.Valid": {SUBDOMAIN_MSG}"#),
            "spec.matchingPrecedence: Invalid value: 10001: must not be greater than 10000"
                .to_string(),
            format!(
                r#"spec.priorityLevelConfiguration.name: Invalid value: "Bad_Level": {SUBDOMAIN_MSG}"#
            ),
        ]
    );
    let spec = json!({"priorityLevelConfiguration": {}, "matchingPrecedence": -1});
    assert_eq!(
        create("FlowSchema", schema("fs", spec)),
        [
            "spec.matchingPrecedence: Invalid value: -1: must be a positive value",
            "spec.priorityLevelConfiguration.name: Required value: must reference a priority level",
        ]
    );
    let spec = json!({"priorityLevelConfiguration": {"name": "exempt"}, "matchingPrecedence": 1});
    assert_eq!(
        create("FlowSchema", schema("not-exempt", spec)),
        [
            "spec.matchingPrecedence: Invalid value: 1: only the schema named 'exempt' may have matchingPrecedence 1"
        ]
    );
    let missing = json!({"metadata": {"name": "fs"}});
    assert_eq!(
        create("FlowSchema", missing),
        ["spec.priorityLevelConfiguration.name: Required value: must reference a priority level"]
    );
}

#[test]
fn distinguisher_method_is_by_user_or_by_namespace() {
    let spec = json!({"priorityLevelConfiguration": {"name": "p"},
                      "distinguisherMethod": {"type": "ByTenant"}});
    assert_eq!(
        create("FlowSchema", schema("fs", spec)),
        [
            r#"spec.distinguisherMethod.type: Unsupported value: {"type":"ByTenant"}: supported values: "ByNamespace", "ByUser""#
        ]
    );
    let spec = json!({"priorityLevelConfiguration": {"name": "p"}, "distinguisherMethod": null});
    assert_eq!(create("FlowSchema", schema("fs", spec)), none());
}

#[test]
fn subjects_need_their_kinds_member_and_no_other() {
    let subjects = json!([
        {"kind": "User"},
        {"kind": "User", "user": {"name": ""}, "group": {"name": "g"}},
        {"kind": "Group", "group": {"name": "g"}, "user": {"name": "u"}, "serviceAccount": {"name": "a"}},
        {"kind": "ServiceAccount", "serviceAccount": {"name": "Bad_Name", "namespace": "Bad.NS"}},
        {"kind": "ServiceAccount", "serviceAccount": {}},
        {"kind": "ServiceAccount"},
        {"kind": "Robot"},
        {"kind": "Group"},
    ]);
    let s = "spec.rules[0].subjects";
    assert_eq!(
        create("FlowSchema", with_rule(rule_for(subjects))),
        [
            format!("{s}[0].user: Required value: user is required when subject kind is 'User'"),
            format!("{s}[1].user.name: Required value"),
            format!("{s}[1].group: Forbidden: group is forbidden when subject kind is not 'Group'"),
            format!(
                "{s}[2].serviceAccount: Forbidden: serviceAccount is forbidden when subject kind is not 'ServiceAccount'"
            ),
            format!("{s}[2].user: Forbidden: user is forbidden when subject kind is not 'User'"),
            format!(r#"{s}[3].serviceAccount.name: Invalid value: "Bad_Name": {SUBDOMAIN_MSG}"#),
            format!(r#"{s}[3].serviceAccount.namespace: Invalid value: "Bad.NS": {LABEL_MSG}"#),
            format!("{s}[4].serviceAccount.name: Required value"),
            format!(
                "{s}[4].serviceAccount.namespace: Required value: must specify namespace for service account"
            ),
            format!(
                "{s}[5].serviceAccount: Required value: serviceAccount is required when subject kind is 'ServiceAccount'"
            ),
            format!(
                r#"{s}[6].kind: Unsupported value: "Robot": supported values: "Group", "ServiceAccount", "User""#
            ),
            format!("{s}[7].group: Required value: group is required when subject kind is 'Group'"),
        ]
    );
    let empty = json!({"subjects": [], "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]});
    assert_eq!(
        create("FlowSchema", with_rule(empty)),
        ["spec.rules[0].subjects: Required value: subjects must contain at least one value"]
    );
    let no_rules = json!({"subjects": [group("g")]});
    assert_eq!(
        create("FlowSchema", with_rule(no_rules)),
        [
            "spec.rules[0]: Required value: at least one of resourceRules and nonResourceRules has to be non-empty"
        ]
    );
}

#[test]
fn resource_rules_need_non_empty_lists_with_a_lone_wildcard() {
    let rule = json!({"subjects": [group("g")], "resourceRules": [
        {},
        {"verbs": ["get", "*"], "apiGroups": ["", "*"], "resources": ["*", "pods"],
         "namespaces": ["default", "*"]},
        {"verbs": ["get", "escalate"], "apiGroups": ["*"], "resources": ["*"],
         "namespaces": ["ok", "Not_OK"]},
        {"verbs": ["list"], "apiGroups": ["*"], "resources": ["pods"], "clusterScope": true},
    ]});
    let r = "spec.rules[0].resourceRules";
    assert_eq!(
        create("FlowSchema", with_rule(rule)),
        [
            format!("{r}[0].verbs: Required value: verbs must contain at least one value"),
            format!(
                "{r}[0].apiGroups: Required value: resource rules must supply at least one api group"
            ),
            format!(
                "{r}[0].resources: Required value: resource rules must supply at least one resource"
            ),
            format!(
                "{r}[0].namespaces: Required value: resource rules that are not cluster scoped must supply at least one namespace"
            ),
            format!(
                r#"{r}[1].verbs: Invalid value: ["get","*"]: if '*' is present, must not specify other verbs"#
            ),
            format!(
                r#"{r}[1].apiGroups: Invalid value: ["","*"]: if '*' is present, must not specify other api groups"#
            ),
            format!(
                r#"{r}[1].resources: Invalid value: ["*","pods"]: if '*' is present, must not specify other resources"#
            ),
            format!(
                r#"{r}[1].namespaces: Invalid value: ["default","*"]: if '*' is present, must not specify other namespaces"#
            ),
            format!(
                r#"{r}[2].verbs: Unsupported value: ["get","escalate"]: supported values: "create", "delete", "deletecollection", "get", "list", "patch", "proxy", "update", "watch""#
            ),
            format!(
                r#"{r}[2].namespaces[1]: Invalid value: "Not_OK": each member of this list must be '*' or a DNS-1123 label; {LABEL_MSG}"#
            ),
        ]
    );
}

#[test]
fn non_resource_urls_are_absolute_paths_with_a_suffix_wildcard() {
    let rule = json!({"subjects": [group("g")], "nonResourceRules": [
        {"verbs": [], "nonResourceURLs": []},
        {"verbs": ["*"], "nonResourceURLs": ["*", "/healthz"]},
        {"verbs": ["get"], "nonResourceURLs": [
            "/", "/healthz/*", "", "healthz", "/a b", "/a//b", "/hea*", "/a/*/b/*", "/ok"]},
    ]});
    let n = "spec.rules[0].nonResourceRules";
    assert_eq!(
        create("FlowSchema", with_rule(rule)),
        [
            format!("{n}[0].verbs: Required value: verbs must contain at least one value"),
            format!(
                "{n}[0].nonResourceURLs: Required value: nonResourceURLs must contain at least one value"
            ),
            format!(
                r#"{n}[1].nonResourceURLs: Invalid value: ["*","/healthz"]: if '*' is present, must not specify other non-resource URLs"#
            ),
            format!(r#"{n}[2].nonResourceURLs[2]: Invalid value: "": must not be empty"#),
            format!(
                r#"{n}[2].nonResourceURLs[3]: Invalid value: "healthz": must start with slash"#
            ),
            format!(
                r#"{n}[2].nonResourceURLs[4]: Invalid value: "/a b": must not contain white-space"#
            ),
            format!(
                r#"{n}[2].nonResourceURLs[5]: Invalid value: "/a//b": must not contain double slash"#
            ),
            format!(
                r#"{n}[2].nonResourceURLs[6]: Invalid value: "/hea*": wildcard can only do suffix matching"#
            ),
            format!(
                r#"{n}[2].nonResourceURLs[7]: Invalid value: "/a/*/b/*": wildcard can only do suffix matching"#
            ),
        ]
    );
}

#[test]
fn mandatory_flow_schemas_keep_their_spec() {
    let mut exempt = bootstrap_flow_schemas().remove(0);
    exempt["spec"]["rules"][0]["subjects"] = json!([group("admins")]);
    let errors = create("FlowSchema", exempt);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(r#"spec: Invalid value: {"matchingPrecedence":1,"#)
            && errors[0].ends_with(": spec of 'exempt' must equal the fixed value"),
        "{errors:?}"
    );
    let mut catch_all = bootstrap_flow_schemas().remove(1);
    catch_all["spec"]["distinguisherMethod"] = json!({"type": "ByNamespace"});
    let errors = create("FlowSchema", catch_all);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].ends_with("spec of 'catch-all' must equal the fixed value"),
        "{errors:?}"
    );
    // Zero values are as good as absent (`Semantic.DeepEqual`).
    let mut spelled_out = bootstrap_flow_schemas().remove(0);
    spelled_out["spec"]["rules"][0]["subjects"][0]["user"] = Value::Null;
    spelled_out["spec"]["distinguisherMethod"] = Value::Null;
    assert_eq!(create("FlowSchema", spelled_out), none());
}

#[test]
fn status_conditions_need_a_unique_type() {
    let mut object = with_rule(rule_for(json!([group("g")])));
    object["status"] = json!({"conditions": [
        {"type": "Dangling", "status": "False"}, {"type": "Dangling", "status": "True"},
        {"status": "True"}]});
    assert_eq!(
        create("FlowSchema", object),
        [
            r#"status.conditions[1].type: Duplicate value: "Dangling""#,
            "status.conditions[2].type: Required value: must not be empty",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// PriorityLevelConfigurations

#[test]
fn type_matches_the_name_and_its_member() {
    assert_eq!(
        create(
            "PriorityLevelConfiguration",
            level("mine", json!({"type": "Exempt"}))
        ),
        [
            r#"spec.type: Invalid value: "Exempt": type must be 'Exempt' if and only if name is 'exempt'"#
        ]
    );
    let both = json!({"type": "Limited", "exempt": {},
                      "limited": {"limitResponse": {"type": "Reject"}}});
    assert_eq!(
        create("PriorityLevelConfiguration", level("mine", both)),
        ["spec.exempt: Forbidden: must be nil if the type is Limited"]
    );
    let exempt_with_limited =
        json!({"type": "Exempt", "limited": {"limitResponse": {"type": "Reject"}}});
    assert_eq!(
        create(
            "PriorityLevelConfiguration",
            level("exempt", exempt_with_limited)
        ),
        [
            "spec.limited: Forbidden: must be nil if the type is not Limited",
            // The mandatory exempt level may not gain a `limited` either.
            r#"spec: Invalid value: {"limited":{"lendablePercent":0,"limitResponse":{"type":"Reject"},"nominalConcurrencyShares":30},"type":"Exempt"}: spec of 'exempt' except the 'spec.exempt' field must equal the fixed value"#,
        ]
    );
    assert_eq!(
        create(
            "PriorityLevelConfiguration",
            level("mine", json!({"type": "Limited"}))
        ),
        ["spec.limited: Required value: must not be empty when type is Limited"]
    );
    assert_eq!(
        create(
            "PriorityLevelConfiguration",
            level("mine", json!({"type": "Fast"}))
        ),
        [r#"spec.type: Unsupported value: "Fast": supported values: "Exempt", "Limited""#]
    );
}

#[test]
fn limited_levels_check_shares_percentages_and_response() {
    let spec = json!({"type": "Limited", "limited": {
        "nominalConcurrencyShares": -1, "lendablePercent": 101, "borrowingLimitPercent": -5,
        "limitResponse": {"type": "Drop"}}});
    let l = "spec.limited";
    assert_eq!(
        create("PriorityLevelConfiguration", level("mine", spec)),
        [
            format!(
                "{l}.nominalConcurrencyShares: Invalid value: -1: must be a non-negative integer"
            ),
            format!(
                r#"{l}.limitResponse.type: Unsupported value: "Drop": supported values: "Queue", "Reject""#
            ),
            format!(
                "{l}.lendablePercent: Invalid value: 101: must be between 0 and 100, inclusive"
            ),
            format!(
                "{l}.borrowingLimitPercent: Invalid value: -5: if specified, must be a non-negative integer"
            ),
        ]
    );
    // Zero shares (a "jail") and a large borrowing limit are fine in v1.
    let jail = json!({"type": "Limited", "limited": {"nominalConcurrencyShares": 0,
        "borrowingLimitPercent": 300, "limitResponse": {"type": "Reject"}}});
    assert_eq!(
        create("PriorityLevelConfiguration", level("jail", jail)),
        none()
    );
    let reject_with_queues = json!({"type": "Limited", "limited": {
        "limitResponse": {"type": "Reject", "queuing": {"queues": 1}}}});
    assert_eq!(
        create(
            "PriorityLevelConfiguration",
            level("mine", reject_with_queues)
        ),
        [
            "spec.limited.limitResponse.queuing: Forbidden: must be nil if limited.limitResponse.type is not Limited"
        ]
    );
    let queue_without = json!({"type": "Limited", "limited": {"limitResponse": {"type": "Queue"}}});
    assert_eq!(
        create("PriorityLevelConfiguration", level("mine", queue_without)),
        [
            "spec.limited.limitResponse.queuing: Required value: must not be empty if limited.limitResponse.type is Limited"
        ]
    );
    let exempt = json!({"type": "Exempt", "exempt": {"nominalConcurrencyShares": -2, "lendablePercent": -1}});
    assert_eq!(
        create("PriorityLevelConfiguration", level("exempt", exempt)),
        [
            "spec.exempt.nominalConcurrencyShares: Invalid value: -2: must be a non-negative integer",
            "spec.exempt.lendablePercent: Invalid value: -1: must be between 0 and 100, inclusive",
        ]
    );
}

#[test]
fn queues_are_positive_and_hands_fit_the_deck_and_the_hash() {
    let q = "spec.limited.limitResponse.queuing";
    assert_eq!(
        create(
            "PriorityLevelConfiguration",
            queued(json!({"queues": -1, "handSize": -2, "queueLengthLimit": -3}))
        ),
        [
            format!("{q}.queueLengthLimit: Invalid value: -3: must be positive"),
            format!("{q}.queues: Invalid value: -1: must be positive"),
            format!("{q}.handSize: Invalid value: -2: must be positive"),
        ]
    );
    assert_eq!(
        create(
            "PriorityLevelConfiguration",
            queued(json!({"queues": 10_000_001, "handSize": 1}))
        ),
        [format!(
            "{q}.queues: Invalid value: 10000001: must not be greater than 10000000"
        )]
    );
    assert_eq!(
        create(
            "PriorityLevelConfiguration",
            queued(json!({"queues": 4, "handSize": 5}))
        ),
        [format!(
            "{q}.handSize: Invalid value: 5: should not be greater than queues (4)"
        )]
    );
    // log2(1024) * 6 = 60 bits: the most a hand may take. 7 cards need 70.
    assert_eq!(
        create(
            "PriorityLevelConfiguration",
            queued(json!({"queues": 1024, "handSize": 6}))
        ),
        none()
    );
    assert_eq!(
        create(
            "PriorityLevelConfiguration",
            queued(json!({"queues": 1024, "handSize": 7}))
        ),
        [format!(
            "{q}.handSize: Invalid value: 7: required entropy bits of deckSize 1024 and handSize 7 should not be greater than 60"
        )]
    );
    // ceil(log2(1000) * 7) = ceil(69.76) = 70; ceil(log2(1000) * 6) = ceil(59.79) = 60.
    assert_eq!(
        create(
            "PriorityLevelConfiguration",
            queued(json!({"queues": 1000, "handSize": 6}))
        ),
        none()
    );
    assert_eq!(
        create(
            "PriorityLevelConfiguration",
            queued(json!({"queues": 1000, "handSize": 7}))
        )
        .len(),
        1
    );
    // One queue: no shuffle sharding at all, zero bits.
    assert_eq!(
        create(
            "PriorityLevelConfiguration",
            queued(json!({"queues": 1, "handSize": 1}))
        ),
        none()
    );
}

#[test]
fn entropy_bits_follow_go() {
    use super::required_entropy_bits as bits;
    assert_eq!(bits(1, 1), 0);
    assert_eq!(bits(2, 1), 1);
    assert_eq!(bits(64, 8), 48);
    assert_eq!(bits(128, 6), 42);
    assert_eq!(bits(3, 1), 2);
    assert_eq!(bits(10_000_000, 3), 70);
}

#[test]
fn mandatory_levels_keep_their_spec_but_exempts_numbers() {
    let mut catch_all = bootstrap_priority_levels().remove(1);
    catch_all["spec"]["limited"]["nominalConcurrencyShares"] = json!(50);
    assert_eq!(
        create("PriorityLevelConfiguration", catch_all),
        [
            r#"spec: Invalid value: {"limited":{"lendablePercent":0,"limitResponse":{"type":"Reject"},"nominalConcurrencyShares":50},"type":"Limited"}: spec of 'catch-all' must equal the fixed value"#
        ]
    );
    let mut borrowing = bootstrap_priority_levels().remove(1);
    borrowing["spec"]["limited"]["borrowingLimitPercent"] = json!(0);
    assert_eq!(create("PriorityLevelConfiguration", borrowing).len(), 1);
    // An admin may tune the exempt level's shares and lending.
    let tuned = level(
        "exempt",
        json!({"type": "Exempt", "exempt": {"nominalConcurrencyShares": 10, "lendablePercent": 20}}),
    );
    assert_eq!(
        update(
            "PriorityLevelConfiguration",
            tuned,
            bootstrap_priority_levels().remove(0)
        ),
        none()
    );
}

#[test]
fn the_v1beta3_round_trip_annotation_is_forbidden() {
    let mut object = queued(json!({}));
    object["metadata"]["annotations"] =
        json!({"flowcontrol.k8s.io/v1beta3-preserve-zero-concurrency-shares": ""});
    assert_eq!(
        create("PriorityLevelConfiguration", object),
        [
            "metadata.annotations: Forbidden: annotation 'flowcontrol.k8s.io/v1beta3-preserve-zero-concurrency-shares' is forbidden"
        ]
    );
}

#[test]
fn level_status_conditions_need_a_unique_type() {
    let mut object = queued(json!({}));
    object["status"] = json!({"conditions": [{"type": ""}, {"type": ""}]});
    assert_eq!(
        create("PriorityLevelConfiguration", object),
        [
            "status.conditions[0].type: Required value: must not be empty",
            r#"status.conditions[1].type: Duplicate value: """#,
            "status.conditions[1].type: Required value: must not be empty",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Updates, generations, the 422

#[test]
fn updates_validate_the_new_object_again() {
    let old = with_rule(rule_for(json!([group("g")])));
    let mut new = old.clone();
    new["spec"]["matchingPrecedence"] = json!(0);
    new["spec"]["distinguisherMethod"] = json!({"type": "ByZone"});
    // Precedence 0 is defaulted to 1000 (Go tests `== 0`), so only the method is wrong.
    assert_eq!(
        update("FlowSchema", new, old),
        [
            r#"spec.distinguisherMethod.type: Unsupported value: {"type":"ByZone"}: supported values: "ByNamespace", "ByUser""#
        ]
    );
    let old = queued(json!({}));
    let mut new = old.clone();
    new["spec"]["limited"]["lendablePercent"] = json!(200);
    assert_eq!(
        update("PriorityLevelConfiguration", new, old),
        ["spec.limited.lendablePercent: Invalid value: 200: must be between 0 and 100, inclusive"]
    );
}

#[test]
fn spec_changes_bump_the_generation_status_changes_do_not() {
    for (kind, object) in [
        ("FlowSchema", with_rule(rule_for(json!([group("g")])))),
        ("PriorityLevelConfiguration", queued(json!({}))),
    ] {
        let r = resource(kind);
        let mut with_status = object.clone();
        with_status["status"] = json!({"conditions": [{"type": "Dangling", "status": "True"}]});
        assert!(!generation_changed(r, &with_status, &object), "{kind}");
        let mut respecced = object.clone();
        respecced["spec"]["extra"] = json!(true);
        assert!(generation_changed(r, &respecced, &object), "{kind}");
    }
}

#[test]
fn errors_make_kube_apiservers_422() {
    let r = resource("FlowSchema");
    let mut object = schema("fs", json!({"priorityLevelConfiguration": {"name": "p"}}));
    apply_defaults(r, &mut object);
    object["spec"]["rules"] = json!([{"subjects": [{"kind": "Robot"}], "nonResourceRules": [
        {"verbs": ["get"], "nonResourceURLs": ["healthz"]}]}]);
    let errors = validate_create(r, &object);
    let status = Status::invalid(&GroupKind::new(GROUP, "FlowSchema"), "fs", &errors);
    assert_eq!(status.code, 422);
    assert_eq!(
        status.message,
        r#"FlowSchema.flowcontrol.apiserver.k8s.io "fs" is invalid: [spec.rules[0].subjects[0].kind: Unsupported value: "Robot": supported values: "Group", "ServiceAccount", "User", spec.rules[0].nonResourceRules[0].nonResourceURLs[0]: Invalid value: "healthz": must start with slash]"#
    );
    let causes: Vec<(String, String)> = errors
        .iter()
        .map(|e| (e.to_cause().reason, e.to_cause().field))
        .collect();
    assert_eq!(
        causes,
        [
            (
                "FieldValueNotSupported".to_string(),
                "spec.rules[0].subjects[0].kind".to_string()
            ),
            (
                "FieldValueInvalid".to_string(),
                "spec.rules[0].nonResourceRules[0].nonResourceURLs[0]".to_string()
            ),
        ]
    );
}

#[test]
fn odd_shapes_are_reported_not_panicked_on() {
    let odd = [
        json!({"metadata": {"name": "exempt"}, "spec": 5, "status": []}),
        json!({"metadata": {"name": "catch-all"}, "spec": {"type": 3, "limited": "x",
               "exempt": [], "rules": {}, "priorityLevelConfiguration": 4,
               "distinguisherMethod": "ByUser", "matchingPrecedence": "1"}}),
        json!({"metadata": {"name": "x"}, "spec": {"type": "Limited", "limited": {
               "nominalConcurrencyShares": "30", "limitResponse": {"type": "Queue",
               "queuing": {"queues": "many", "handSize": 1e30}}},
               "rules": [{"subjects": "me", "resourceRules": [{"verbs": [1, null],
               "namespaces": 3, "clusterScope": "yes"}], "nonResourceRules": 7}]}}),
    ];
    for kind in ["FlowSchema", "PriorityLevelConfiguration"] {
        for object in &odd {
            let errors = create(kind, object.clone());
            assert!(!errors.is_empty(), "{kind} {object}");
            let _ = update(kind, object.clone(), json!(null));
        }
    }
}
