//! LimitRanges and ResourceQuotas through the public entry points, after defaulting, as the
//! registry runs them: valid objects pass; each rule fails with kube's path and message.

use serde_json::{Value, json};

use crate::defaults::apply_defaults;
use crate::kind_validation::{validate_create, validate_update};
use crate::resources::by_kind;

const SUBDOMAIN_MSG: &str = r"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn create(kind: &str, mut object: Value) -> Vec<String> {
    let resource = by_kind("", "v1", kind).expect("served");
    apply_defaults(resource, &mut object);
    let errors = validate_create(resource, &object);
    errors.iter().map(ToString::to_string).collect()
}

fn update(kind: &str, mut object: Value, mut old: Value) -> Vec<String> {
    let resource = by_kind("", "v1", kind).expect("served");
    apply_defaults(resource, &mut object);
    apply_defaults(resource, &mut old);
    let errors = validate_update(resource, &object, &old);
    errors.iter().map(ToString::to_string).collect()
}

fn limit_range(limits: Value) -> Value {
    json!({"metadata": {"name": "limits", "namespace": "ns"}, "spec": {"limits": limits}})
}

fn quota(spec: Value) -> Value {
    json!({"metadata": {"name": "quota", "namespace": "ns"}, "spec": spec})
}

fn none() -> Vec<String> {
    Vec::new()
}

// ---------------------------------------------------------------------------------------------
// LimitRanges

#[test]
fn a_valid_limit_range() {
    let valid = limit_range(json!([
        {"type": "Container",
         "max": {"cpu": "2", "memory": "1Gi"}, "min": {"cpu": "100m", "memory": "64Mi"},
         "default": {"cpu": "500m", "memory": "256Mi"},
         "defaultRequest": {"cpu": "200m", "memory": "128Mi"},
         "maxLimitRequestRatio": {"cpu": "10"}},
        {"type": "Pod", "max": {"cpu": "4", "memory": "2Gi"}},
        {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}},
        {"type": "example.com/widget", "max": {"example.com/things": "3"}},
    ]));
    assert_eq!(create("LimitRange", valid.clone()), none());
    assert_eq!(update("LimitRange", valid.clone(), valid), none());
    // The defaults (max → default → defaultRequest) never break the bounds by themselves.
    let only_max = limit_range(json!([{"type": "Container", "max": {"cpu": "1"}}]));
    assert_eq!(create("LimitRange", only_max), none());
}

#[test]
fn limit_range_names_and_types() {
    let mut bad = limit_range(json!([
        {"type": "Node"},
        {"type": "Container"},
        {"type": "Container"},
        {"type": "PersistentVolumeClaim", "max": {"cpu": "1"}},
        {"type": "PersistentVolumeClaim"},
    ]));
    bad["metadata"]["name"] = json!("Limits");
    assert_eq!(
        create("LimitRange", bad),
        vec![
            format!(r#"metadata.name: Invalid value: "Limits": {SUBDOMAIN_MSG}"#),
            r#"spec.limits[0].type: Invalid value: "Node": must be a standard limit type or fully qualified"#.to_string(),
            r#"spec.limits[2].type: Duplicate value: "Container""#.to_string(),
            "spec.limits[3].limits: Required value: either minimum or maximum storage value is required, but neither was provided".to_string(),
            r#"spec.limits[4].type: Duplicate value: "PersistentVolumeClaim""#.to_string(),
            "spec.limits[4].limits: Required value: either minimum or maximum storage value is required, but neither was provided".to_string(),
        ]
    );
}

#[test]
fn limit_range_resource_names_and_quantities() {
    let bad = limit_range(json!([
        {"type": "PersistentVolumeClaim", "max": {"storage": "1Gi", "bogus": "1"}},
        {"type": "Pod", "max": {"pods": "1", "cpu": "lots"}},
    ]));
    assert_eq!(
        create("LimitRange", bad),
        vec![
            r#"spec.limits[0].max[bogus]: Invalid value: "bogus": must be a standard resource type or fully qualified"#,
            r#"spec.limits[1].max[cpu]: Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"#,
            r#"spec.limits[1].max[pods]: Invalid value: "pods": must be a standard resource for containers"#,
        ]
    );
}

#[test]
fn pod_limits_take_no_defaults() {
    let bad = limit_range(json!([
        {"type": "Pod", "max": {"cpu": "1"}, "min": {"cpu": "2"}, "default": {"cpu": "1"},
         "defaultRequest": {}},
    ]));
    assert_eq!(
        create("LimitRange", bad),
        vec![
            "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'",
            r#"spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1"#,
        ]
    );
}

#[test]
fn limit_range_defaults_within_min_and_max() {
    let bad = limit_range(json!([
        {"type": "Container", "max": {"memory": "1Gi"}, "min": {"memory": "1Gi"},
         "default": {"memory": "2Gi"}, "defaultRequest": {"memory": "512Mi"}},
        {"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "4"},
         "default": {"cpu": "1"}, "defaultRequest": {"cpu": "3"}},
    ]));
    assert_eq!(
        create("LimitRange", bad),
        vec![
            r#"spec.limits[0].defaultRequest[memory]: Invalid value: "512Mi": min value 1Gi is greater than default request value 512Mi"#,
            // kube shows the max, not the default, as the bad value here.
            r#"spec.limits[0].default[memory]: Invalid value: "1Gi": default value 2Gi is greater than max value 1Gi"#,
            r#"spec.limits[1].type: Duplicate value: "Container""#,
            r#"spec.limits[1].defaultRequest[cpu]: Invalid value: "3": default request value 3 is greater than default limit value 1"#,
            r#"spec.limits[1].default[cpu]: Invalid value: "2": min value 2 is greater than default value 1"#,
        ]
    );
    let above_max = limit_range(json!([
        {"type": "Container", "max": {"cpu": "1"}, "defaultRequest": {"cpu": "1500m"}},
    ]));
    assert_eq!(
        create("LimitRange", above_max),
        vec![
            r#"spec.limits[0].defaultRequest[cpu]: Invalid value: "1500m": default request value 1500m is greater than max value 1"#,
            r#"spec.limits[0].defaultRequest[cpu]: Invalid value: "1500m": default request value 1500m is greater than default limit value 1"#,
        ]
    );
}

#[test]
fn limit_range_ratios_and_overcommit() {
    let bad = limit_range(json!([
        {"type": "Container", "max": {"cpu": "2"}, "min": {"cpu": "500m"},
         "maxLimitRequestRatio": {"cpu": "5", "memory": "500m"}},
        {"type": "Pod", "max": {"cpu": "1"}, "min": {"cpu": "0"},
         "maxLimitRequestRatio": {"cpu": "1000"}},
        {"type": "example.com/gpus", "default": {"example.com/gpu": "2"},
         "defaultRequest": {"example.com/gpu": "1"}},
    ]));
    assert_eq!(
        create("LimitRange", bad),
        vec![
            r#"spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: "5": ratio 5 is greater than max/min = 4.000000"#,
            r#"spec.limits[0].maxLimitRequestRatio[memory]: Invalid value: "500m": ratio 500m is less than 1"#,
            r#"spec.limits[2].defaultRequest[example.com/gpu]: Invalid value: "1": default value 2 must equal to defaultRequest value 1 in example.com/gpu"#,
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// ResourceQuotas

#[test]
fn a_valid_resource_quota() {
    let compute = quota(json!({"hard": {
        "pods": "10", "requests.cpu": "2", "limits.memory": "4Gi",
        "count/deployments.apps": "5", "requests.example.com/gpu": "4",
        "hugepages-2Mi": "1Gi", "configmaps": 3}}));
    assert_eq!(create("ResourceQuota", compute.clone()), none());
    let scoped = quota(json!({"hard": {"pods": "5", "cpu": "1"},
        "scopes": ["NotTerminating", "NotBestEffort"],
        "scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]},
            {"scopeName": "CrossNamespacePodAffinity", "operator": "Exists"}]}}));
    assert_eq!(create("ResourceQuota", scoped.clone()), none());
    let mut with_status = compute.clone();
    with_status["status"] = json!({"hard": {"pods": "10"}, "used": {"pods": "0"}});
    assert_eq!(update("ResourceQuota", with_status, compute), none());
    assert_eq!(update("ResourceQuota", scoped.clone(), scoped), none());
}

#[test]
fn quota_resource_names_and_values() {
    let bad = quota(json!({"hard": {
        "storage": "1", "bogus": "1", "pods": "1.5", "cpu": "-1", "count/pods": "1500m",
        "Bad Name": "1"}}));
    assert_eq!(
        create("ResourceQuota", bad),
        vec![
            r#"spec.hard[storage]: Invalid value: "storage": must be a standard resource for quota"#.to_string(),
            r#"spec.hard[bogus]: Invalid value: "bogus": must be a standard resource type or fully qualified"#.to_string(),
            r#"spec.hard[bogus]: Invalid value: "bogus": must be a standard resource for quota"#.to_string(),
            r#"spec.hard[pods]: Invalid value: "1500m": must be an integer"#.to_string(),
            r#"spec.hard[cpu]: Invalid value: "-1": must be greater than or equal to 0"#.to_string(),
            r#"spec.hard[count/pods]: Invalid value: "1500m": must be an integer"#.to_string(),
            r#"spec.hard[Bad Name]: Invalid value: "Bad Name": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"#.to_string(),
            r#"spec.hard[Bad Name]: Invalid value: "Bad Name": must be a standard resource for quota"#.to_string(),
        ]
    );
}

#[test]
fn quota_scopes() {
    let bad = quota(json!({"hard": {"pods": "1", "requests.cpu": "1"},
        "scopes": ["BestEffort", "NotBestEffort", "Bogus"]}));
    let value = r#"["BestEffort","NotBestEffort","Bogus"]"#;
    assert_eq!(
        create("ResourceQuota", bad),
        vec![
            format!("spec.scopes: Invalid value: {value}: unsupported scope applied to resource"),
            format!("spec.scopes: Invalid value: {value}: unsupported scope"),
            format!("spec.scopes: Invalid value: {value}: conflicting scopes"),
        ]
    );
    let object_counts = quota(json!({"hard": {"configmaps": "1"}, "scopes": ["Terminating"]}));
    assert_eq!(
        create("ResourceQuota", object_counts),
        vec![
            r#"spec.scopes: Invalid value: ["Terminating"]: unsupported scope applied to resource"#
        ]
    );
}

#[test]
fn quota_scope_selectors() {
    let bad = quota(
        json!({"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In"},
            {"scopeName": "Terminating", "operator": "In", "values": ["x"]},
            {"scopeName": "NotTerminating", "operator": "Exists", "values": ["x"]},
            {"scopeName": "Nope", "operator": "Has"},
        ]}}),
    );
    let path = "spec.scopeSelector.matchExpressions";
    assert_eq!(
        create("ResourceQuota", bad),
        vec![
            format!(
                "{path}.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"
            ),
            format!(
                r#"{path}.operator: Invalid value: "In": must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"#
            ),
            format!(
                r#"{path}.values: Invalid value: ["x"]: must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"#
            ),
            format!(r#"{path}.scopeName: Invalid value: "Nope": unsupported scope"#),
            format!(r#"{path}.operator: Invalid value: "Has": not a valid selector operator"#),
            format!("{path}: Invalid value: null: conflicting scopes"),
        ]
    );
    let compute = quota(
        json!({"hard": {"requests.memory": "1Gi"}, "scopeSelector": {
        "matchExpressions": [{"scopeName": "BestEffort", "operator": "Exists"}]}}),
    );
    assert_eq!(
        create("ResourceQuota", compute),
        vec![format!(
            r#"{path}: Invalid value: {{"matchExpressions":[{{"operator":"Exists","scopeName":"BestEffort"}}]}}: unsupported scope applied to resource"#
        )]
    );
}

#[test]
fn quota_status_and_updates() {
    let mut bad = quota(json!({"hard": {"pods": "1"}}));
    bad["status"] = json!({"hard": {"pods": "-1"}, "used": {"pods": "1", "bogus": "1"}});
    assert_eq!(
        create("ResourceQuota", bad),
        vec![
            r#"status.hard[pods]: Invalid value: "-1": must be greater than or equal to 0"#,
            r#"status.used[bogus]: Invalid value: "bogus": must be a standard resource type or fully qualified"#,
            r#"status.used[bogus]: Invalid value: "bogus": must be a standard resource for quota"#,
        ]
    );
    let old = quota(json!({"hard": {"pods": "1"}, "scopes": ["NotTerminating", "NotBestEffort"]}));
    let reordered =
        quota(json!({"hard": {"pods": "2"}, "scopes": ["NotBestEffort", "NotTerminating"]}));
    assert_eq!(update("ResourceQuota", reordered, old.clone()), none());
    let changed = quota(json!({"hard": {"pods": "1"}, "scopes": ["NotTerminating"]}));
    assert_eq!(
        update("ResourceQuota", changed, old.clone()),
        vec![r#"spec.scopes: Invalid value: ["NotTerminating"]: field is immutable"#]
    );
    let mut bad_status = old.clone();
    bad_status["status"] = json!({"used": {"pods": "0.5"}});
    assert_eq!(
        update("ResourceQuota", bad_status, old),
        vec![r#"status.used[pods]: Invalid value: "500m": must be an integer"#]
    );
}
