use serde_json::json;

use super::*;
use crate::webhook::matching::tests::TestState;

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

fn hook(name: &str) -> Value {
    json!({
        "name": name,
        "clientConfig": {"url": "https://hook.example/check"},
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    })
}

fn configuration(name: &str, hooks: Vec<Value>) -> Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": hooks,
    })
}

fn compile_one(kind: WebhookKind, hook: Value) -> Result<Webhook, String> {
    let mut hooks = compile(kind, &configuration("config", vec![hook]))?;
    assert_eq!(hooks.len(), 1);
    Ok(hooks.remove(0))
}

#[test]
fn v1_defaults_where_fields_are_absent() {
    let mut bare = hook("bare.kubesim.io");
    bare["rules"] = json!([{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]);
    let webhook = compile_one(WebhookKind::Mutating, bare).unwrap();
    assert_eq!(webhook.kind, WebhookKind::Mutating);
    assert_eq!(webhook.name, "bare.kubesim.io");
    assert_eq!(webhook.configuration, "config");
    assert_eq!(webhook.index, 0);
    assert_eq!(webhook.failure_policy, FailurePolicy::Fail);
    assert_eq!(webhook.match_policy, MatchPolicy::Equivalent);
    assert_eq!(webhook.timeout, Duration::from_secs(10));
    assert_eq!(webhook.reinvocation_policy, ReinvocationPolicy::Never);
    assert_eq!(webhook.side_effects, SideEffects::None);
    assert!(webhook.namespace_selector.is_empty());
    assert!(webhook.object_selector.is_empty());
    assert_eq!(webhook.admission_review_versions, vec!["v1".to_string()]);
    assert_eq!(webhook.transport, Transport::Https);
    assert!(webhook.ca_bundle.is_empty());
    assert!(webhook.match_conditions.is_empty());
    assert_eq!(
        webhook.rules,
        vec![Rule {
            operations: vec!["CREATE".to_string()],
            api_groups: vec![String::new()],
            api_versions: vec!["v1".to_string()],
            resources: vec!["pods".to_string()],
            scope: Scope::All,
        }]
    );
    assert_eq!(
        webhook.endpoint,
        Endpoint::Url("https://hook.example/check".to_string())
    );
}

#[test]
fn fields_as_stored() {
    let mut full = hook("full.kubesim.io");
    full["failurePolicy"] = json!("Ignore");
    full["matchPolicy"] = json!("Exact");
    full["timeoutSeconds"] = json!(3);
    full["reinvocationPolicy"] = json!("IfNeeded");
    full["sideEffects"] = json!("NoneOnDryRun");
    full["namespaceSelector"] = json!({"matchLabels": {"env": "prod"}});
    full["objectSelector"] = json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]});
    full["rules"] = json!([{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"], "scope": "Namespaced"}]);
    full["matchConditions"] =
        json!([{"name": "only-web", "expression": "object.metadata.name == 'web'"}]);
    let webhook = compile_one(WebhookKind::Mutating, full.clone()).unwrap();
    assert_eq!(webhook.failure_policy, FailurePolicy::Ignore);
    assert_eq!(webhook.match_policy, MatchPolicy::Exact);
    assert_eq!(webhook.timeout, Duration::from_secs(3));
    assert_eq!(webhook.reinvocation_policy, ReinvocationPolicy::IfNeeded);
    assert_eq!(webhook.side_effects, SideEffects::NoneOnDryRun);
    assert_eq!(webhook.namespace_selector.to_string(), "env=prod");
    assert_eq!(webhook.object_selector.to_string(), "app");
    assert_eq!(webhook.rules[0].scope, Scope::Namespaced);
    assert_eq!(webhook.match_conditions.len(), 1);
    assert_eq!(webhook.match_conditions[0].name, "only-web");
    assert!(webhook.match_conditions[0].program.is_ok());

    // Validating webhooks have no reinvocation.
    let validating = compile_one(WebhookKind::Validating, full).unwrap();
    assert_eq!(validating.reinvocation_policy, ReinvocationPolicy::Never);
}

#[test]
fn scopes_and_policies_outside_v1_are_refused() {
    let mut bad = hook("bad.kubesim.io");
    bad["rules"] = json!([{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "scope": "Galaxy"}]);
    assert_eq!(
        compile_one(WebhookKind::Validating, bad).err().unwrap(),
        "webhooks[0].rules[0].scope: Unsupported value: \"Galaxy\": supported values: \"*\", \"Cluster\", \"Namespaced\""
    );
    let mut bad = hook("bad.kubesim.io");
    bad["failurePolicy"] = json!("Maybe");
    assert!(compile_one(WebhookKind::Validating, bad).is_err());
    let mut bad = hook("bad.kubesim.io");
    bad["timeoutSeconds"] = json!(31);
    assert!(compile_one(WebhookKind::Validating, bad).is_err());
}

#[test]
fn transport_annotation() {
    let with = |annotation: Option<&str>| {
        let mut config = configuration("config", vec![hook("a.kubesim.io"), hook("b.kubesim.io")]);
        if let Some(value) = annotation {
            config["metadata"]["annotations"] = json!({TRANSPORT_ANNOTATION: value});
        }
        compile(WebhookKind::Validating, &config)
            .map(|hooks| hooks.iter().map(|h| h.transport).collect::<Vec<_>>())
    };
    assert_eq!(with(None), Ok(vec![Transport::Https, Transport::Https]));
    assert_eq!(
        with(Some("https")),
        Ok(vec![Transport::Https, Transport::Https])
    );
    assert_eq!(
        with(Some("grpc")),
        Ok(vec![Transport::Grpc, Transport::Grpc])
    );
    assert_eq!(
        with(Some("carrier-pigeon")),
        Err(format!(
            "metadata.annotations[{TRANSPORT_ANNOTATION}]: Unsupported value: \"carrier-pigeon\": supported values: \"grpc\", \"https\""
        ))
    );
    assert!(with(Some("GRPC")).is_err(), "values are case sensitive");
}

#[test]
fn service_endpoint_defaults() {
    let mut by_service = hook("svc.kubesim.io");
    by_service["clientConfig"] = json!({"service": {"namespace": "hooks", "name": "checker"}});
    let webhook = compile_one(WebhookKind::Validating, by_service.clone()).unwrap();
    assert_eq!(
        webhook.endpoint,
        Endpoint::Service {
            namespace: "hooks".to_string(),
            name: "checker".to_string(),
            port: 443,
            path: "/".to_string(),
        }
    );
    by_service["clientConfig"]["service"]["port"] = json!(8443);
    by_service["clientConfig"]["service"]["path"] = json!("/validate");
    let webhook = compile_one(WebhookKind::Validating, by_service.clone()).unwrap();
    assert_eq!(
        webhook.endpoint,
        Endpoint::Service {
            namespace: "hooks".to_string(),
            name: "checker".to_string(),
            port: 8443,
            path: "/validate".to_string(),
        }
    );
    by_service["clientConfig"]["service"]["port"] = json!(70000);
    assert!(compile_one(WebhookKind::Validating, by_service).is_err());
}

#[test]
fn exactly_one_of_url_and_service() {
    let mut both = hook("both.kubesim.io");
    both["clientConfig"]["service"] = json!({"namespace": "hooks", "name": "checker"});
    let required =
        "webhooks[0].clientConfig: Required value: exactly one of url or service is required";
    assert_eq!(
        compile_one(WebhookKind::Validating, both).err().unwrap(),
        required
    );
    let mut neither = hook("neither.kubesim.io");
    neither["clientConfig"] = json!({});
    assert_eq!(
        compile_one(WebhookKind::Validating, neither).err().unwrap(),
        required
    );
}

#[test]
fn ca_bundle_is_decoded_to_pem() {
    let mut with_ca = hook("ca.kubesim.io");
    with_ca["clientConfig"]["caBundle"] = json!(STANDARD.encode(PEM));
    let webhook = compile_one(WebhookKind::Validating, with_ca.clone()).unwrap();
    assert_eq!(webhook.ca_bundle, PEM.as_bytes());
    with_ca["clientConfig"]["caBundle"] = json!("not base64!");
    let error = compile_one(WebhookKind::Validating, with_ca).err().unwrap();
    assert!(
        error.starts_with("webhooks[0].clientConfig.caBundle: not valid base64"),
        "{error}"
    );
}

#[test]
fn a_condition_that_does_not_compile_keeps_its_webhook() {
    let mut broken = hook("broken.kubesim.io");
    broken["matchConditions"] =
        json!([{"name": "broken", "expression": "object.metadata.name =="}]);
    let webhook = compile_one(WebhookKind::Validating, broken).unwrap();
    assert!(webhook.match_conditions[0].program.is_err());
}

#[test]
fn index_is_the_list_position() {
    let config = configuration("config", vec![hook("a.kubesim.io"), hook("b.kubesim.io")]);
    let hooks = compile(WebhookKind::Validating, &config).unwrap();
    let positions: Vec<_> = hooks.iter().map(|h| (h.name.as_str(), h.index)).collect();
    assert_eq!(positions, vec![("a.kubesim.io", 0), ("b.kubesim.io", 1)]);
    let empty = json!({"metadata": {"name": "none"}});
    assert_eq!(
        compile(WebhookKind::Validating, &empty).map(|h| h.len()),
        Ok(0)
    );
}

// ---------------------------------------------------------------------------------------------
// WebhookSet

const VALIDATING: &str = "validatingwebhookconfigurations";

fn names(webhooks: &[Arc<Webhook>]) -> Vec<String> {
    webhooks
        .iter()
        .map(|h| format!("{}/{}#{}", h.configuration, h.name, h.index))
        .collect()
}

#[test]
fn sorted_by_configuration_then_list_order() {
    let state = TestState::default();
    state.put(
        VALIDATING,
        "",
        configuration("zeta", vec![hook("z1.kubesim.io"), hook("a.kubesim.io")]),
    );
    state.put(
        VALIDATING,
        "",
        configuration("alpha", vec![hook("y.kubesim.io"), hook("b.kubesim.io")]),
    );
    let set = WebhookSet::new(WebhookKind::Validating);
    let current = set.current(&state).unwrap();
    assert_eq!(
        names(&current),
        vec![
            "alpha/y.kubesim.io#0",
            "alpha/b.kubesim.io#1",
            "zeta/z1.kubesim.io#0",
            "zeta/a.kubesim.io#1",
        ]
    );
}

#[test]
fn recompiled_only_when_the_revision_moves() {
    let state = TestState::default();
    state.put(
        VALIDATING,
        "",
        configuration("one", vec![hook("a.kubesim.io")]),
    );
    let set = WebhookSet::new(WebhookKind::Validating);
    let first = set.current(&state).unwrap();
    let again = set.current(&state).unwrap();
    assert!(
        Arc::ptr_eq(&first, &again),
        "same revision, same compiled set"
    );

    state.put(
        VALIDATING,
        "",
        configuration("two", vec![hook("b.kubesim.io")]),
    );
    let after = set.current(&state).unwrap();
    assert!(!Arc::ptr_eq(&first, &after));
    assert_eq!(
        names(&after),
        vec!["one/a.kubesim.io#0", "two/b.kubesim.io#0"]
    );
}

/// The cache's revision moves with every progress notification and every write to the
/// resource; only a changed configuration (a newer resourceVersion, or one more or fewer)
/// recompiles the set.
#[test]
fn recompiled_when_a_configuration_changes_not_when_the_revision_moves() {
    let state = TestState::default();
    let mut one = configuration("one", vec![hook("a.kubesim.io")]);
    one["metadata"]["resourceVersion"] = json!("10");
    state.put(VALIDATING, "", one.clone());
    let set = WebhookSet::new(WebhookKind::Validating);
    let first = set.current(&state).unwrap();
    *state.revision.lock().unwrap() += 5;
    assert!(
        Arc::ptr_eq(&first, &set.current(&state).unwrap()),
        "a revision moved by a progress notification keeps the compiled set"
    );

    one["metadata"]["resourceVersion"] = json!("17");
    one["webhooks"] = json!([hook("renamed.kubesim.io")]);
    state.put(VALIDATING, "", one);
    let after = set.current(&state).unwrap();
    assert!(!Arc::ptr_eq(&first, &after));
    assert_eq!(names(&after), vec!["one/renamed.kubesim.io#0"]);
}

#[test]
fn an_older_list_gets_the_newer_set() {
    let state = TestState::default();
    state.put(
        VALIDATING,
        "",
        configuration("one", vec![hook("a.kubesim.io")]),
    );
    let set = WebhookSet::new(WebhookKind::Validating);
    let current = set.current(&state).unwrap();
    *state.revision.lock().unwrap() -= 1;
    assert!(Arc::ptr_eq(&current, &set.current(&state).unwrap()));
}

#[test]
fn a_configuration_that_does_not_compile_is_skipped() {
    let state = TestState::default();
    let mut bad = configuration("bad", vec![hook("x.kubesim.io")]);
    bad["metadata"]["annotations"] = json!({TRANSPORT_ANNOTATION: "smoke-signals"});
    state.put(VALIDATING, "", bad);
    state.put(
        VALIDATING,
        "",
        configuration("good", vec![hook("g.kubesim.io")]),
    );
    let set = WebhookSet::new(WebhookKind::Validating);
    assert_eq!(
        names(&set.current(&state).unwrap()),
        vec!["good/g.kubesim.io#0"]
    );
}

#[test]
fn each_kind_reads_its_own_configurations() {
    let state = TestState::default();
    state.put(
        VALIDATING,
        "",
        configuration("v", vec![hook("v.kubesim.io")]),
    );
    state.put(
        "mutatingwebhookconfigurations",
        "",
        configuration("m", vec![hook("m.kubesim.io")]),
    );
    let mutating = WebhookSet::new(WebhookKind::Mutating)
        .current(&state)
        .unwrap();
    assert_eq!(names(&mutating), vec!["m/m.kubesim.io#0"]);
    assert_eq!(mutating[0].kind, WebhookKind::Mutating);
    let validating = WebhookSet::new(WebhookKind::Validating)
        .current(&state)
        .unwrap();
    assert_eq!(names(&validating), vec!["v/v.kubesim.io#0"]);
}

#[test]
fn timeout_bounds() {
    let with = |seconds: Value| {
        let mut h = hook("t.kubesim.io");
        h["timeoutSeconds"] = seconds;
        compile_one(WebhookKind::Validating, h).map(|w| w.timeout)
    };
    assert_eq!(with(json!(1)), Ok(Duration::from_secs(1)));
    assert_eq!(with(json!(30)), Ok(Duration::from_secs(30)));
    assert_eq!(with(Value::Null), Ok(Duration::from_secs(10)));
    assert_eq!(
        with(json!(0)),
        Err("webhooks[0].timeoutSeconds: Invalid value: 0: the timeout value must be between 1 and 30 seconds".to_string())
    );
    assert!(with(json!(31)).is_err());
    assert!(with(json!("10")).is_err());
}
