use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use kubesim_api::Status;
use kubesim_api::resources::{Resource, lookup};
use kubesim_api::user::UserInfo;
use serde_json::{Value, json};

use super::*;
use crate::webhook::{
    Endpoint, FailurePolicy, MatchPolicy, ReinvocationPolicy, SideEffects, Transport, WebhookKind,
};

// ---------------------------------------------------------------------------------------------
// An in-memory ClusterState, shared with the other webhook tests.

/// Objects by (plural, namespace, name), and a list revision the tests move by hand.
#[derive(Default)]
pub(crate) struct TestState {
    pub objects: Mutex<BTreeMap<(String, String, String), Arc<Value>>>,
    pub revision: Mutex<i64>,
    /// How many times `list` was called.
    pub lists: Mutex<usize>,
}

impl TestState {
    pub fn put(&self, plural: &str, namespace: &str, object: Value) {
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let key = (plural.to_string(), namespace.to_string(), name);
        self.objects.lock().unwrap().insert(key, Arc::new(object));
        *self.revision.lock().unwrap() += 1;
    }

    pub fn with_namespace(name: &str, labels: Value) -> TestState {
        let state = TestState::default();
        state.put(
            "namespaces",
            "",
            json!({"metadata": {"name": name, "labels": labels}}),
        );
        state
    }
}

impl ClusterState for TestState {
    fn get<'a>(
        &'a self,
        resource: &'static Resource,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Value>>, Status>> {
        let key = (
            resource.plural.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        let found = self.objects.lock().unwrap().get(&key).cloned();
        Box::pin(async move { Ok(found) })
    }

    fn list(
        &self,
        resource: &'static Resource,
        namespace: &str,
    ) -> Result<(Vec<Arc<Value>>, i64), Status> {
        *self.lists.lock().unwrap() += 1;
        let objects = self.objects.lock().unwrap();
        let items = objects
            .iter()
            .filter(|((plural, ns, _), _)| {
                plural == resource.plural && (namespace.is_empty() || ns == namespace)
            })
            .map(|(_, object)| Arc::clone(object))
            .collect();
        Ok((items, *self.revision.lock().unwrap()))
    }

    fn read<'a>(
        &'a self,
        _resource: &'static Resource,
        _namespace: &'a str,
        _name: &'a str,
    ) -> BoxFuture<'a, Result<Option<(Value, i64)>, Status>> {
        Box::pin(async { Ok(None) })
    }

    fn update<'a>(
        &'a self,
        _resource: &'static Resource,
        _namespace: &'a str,
        _name: &'a str,
        _object: Value,
        _revision: i64,
    ) -> BoxFuture<'a, Result<bool, Status>> {
        Box::pin(async { Ok(false) })
    }
}

// ---------------------------------------------------------------------------------------------
// Builders

pub(crate) fn resource(group: &str, plural: &str) -> &'static Resource {
    lookup(group, "v1", plural).unwrap()
}

pub(crate) fn attrs(
    resource: &'static Resource,
    subresource: &str,
    operation: Operation,
    namespace: &str,
) -> Attributes {
    Attributes {
        resource,
        subresource: subresource.to_string(),
        operation,
        namespace: namespace.to_string(),
        name: "web".to_string(),
        user: UserInfo::new("alice", &["devs", "system:authenticated"]).into(),
        dry_run: false,
        options: Value::Null,
        old_object: None,
        deadline: None,
        uid: "uid-1".to_string(),
    }
}

fn pod_attrs(operation: Operation) -> Attributes {
    attrs(resource("", "pods"), "", operation, "default")
}

pub(crate) fn rule(
    operations: &[&str],
    groups: &[&str],
    versions: &[&str],
    resources: &[&str],
) -> Rule {
    let own = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
    Rule {
        operations: own(operations),
        api_groups: own(groups),
        api_versions: own(versions),
        resources: own(resources),
        scope: Scope::All,
    }
}

fn all_rule() -> Rule {
    rule(&["*"], &["*"], &["*"], &["*/*"])
}

pub(crate) fn webhook(rules: Vec<Rule>) -> Webhook {
    Webhook {
        kind: WebhookKind::Validating,
        name: "check.kubesim.io".to_string(),
        configuration: "config".to_string(),
        index: 0,
        rules,
        failure_policy: FailurePolicy::Fail,
        match_policy: MatchPolicy::Equivalent,
        namespace_selector: LabelSelector::everything(),
        object_selector: LabelSelector::everything(),
        side_effects: SideEffects::None,
        timeout: std::time::Duration::from_secs(10),
        admission_review_versions: vec!["v1".to_string()],
        reinvocation_policy: ReinvocationPolicy::Never,
        match_conditions: Vec::new(),
        endpoint: Endpoint::Url("https://hook.example".to_string()),
        ca_bundle: Vec::new(),
        transport: Transport::Https,
    }
}

fn selector(value: Value) -> LabelSelector {
    kubesim_api::selectors::label_selector_from_object(&value).unwrap()
}

fn labeled(labels: Value) -> Value {
    json!({"metadata": {"name": "web", "labels": labels}})
}

async fn outcome(webhook: &Webhook, attrs: &Attributes, object: Option<&Value>) -> MatchOutcome {
    let state = TestState::with_namespace("default", json!({"env": "prod"}));
    should_call(webhook, attrs, object, &state).await
}

// ---------------------------------------------------------------------------------------------
// Rules

#[test]
fn resources_with_subresources() {
    let cases: &[(&str, &str, bool)] = &[
        ("pods", "", true),
        ("pods", "status", false),
        ("pods/status", "status", true),
        ("pods/status", "", false),
        ("pods/status", "binding", false),
        ("pods/*", "", true),
        ("pods/*", "status", true),
        ("*/status", "status", true),
        ("*/status", "", false),
        ("*/status", "binding", false),
        ("*", "", true),
        ("*", "status", false),
        ("*/*", "", true),
        ("*/*", "status", true),
        ("configmaps", "", false),
        ("configmaps/*", "status", false),
    ];
    for (item, sub, want) in cases {
        let attrs = attrs(resource("", "pods"), sub, Operation::Update, "default");
        let rule = rule(&["*"], &["*"], &["*"], &[item]);
        assert_eq!(rule_matches(&rule, &attrs), *want, "{item} vs pods/{sub}");
    }
}

#[test]
fn operations() {
    let attrs = pod_attrs(Operation::Update);
    let with = |ops: &[&str]| rule_matches(&rule(ops, &["*"], &["*"], &["*"]), &attrs);
    assert!(with(&["*"]));
    assert!(with(&["UPDATE"]));
    assert!(with(&["CREATE", "UPDATE"]));
    assert!(!with(&["CREATE", "DELETE"]));
    assert!(!with(&["update"]), "operations are upper case");
    assert!(!with(&[]));
}

#[test]
fn groups_and_versions() {
    let deployments = attrs(resource("apps", "deployments"), "", Operation::Create, "ns");
    let with = |groups: &[&str], versions: &[&str]| {
        rule_matches(
            &rule(&["*"], groups, versions, &["deployments"]),
            &deployments,
        )
    };
    assert!(with(&["apps"], &["v1"]));
    assert!(with(&["*"], &["*"]));
    assert!(with(&["", "apps"], &["v1beta1", "v1"]));
    assert!(!with(&[""], &["v1"]), "the core group is not apps");
    assert!(!with(&["apps"], &["v1beta1"]));
    assert!(
        !with(&["extensions"], &["*"]),
        "Equivalent is Exact in kubesim"
    );
}

#[test]
fn scopes() {
    let pods = pod_attrs(Operation::Create);
    let namespaces = attrs(resource("", "namespaces"), "", Operation::Create, "");
    let nodes = attrs(resource("", "nodes"), "", Operation::Create, "");
    let scoped = |scope: Scope, attrs: &Attributes| {
        let mut r = all_rule();
        r.scope = scope;
        rule_matches(&r, attrs)
    };
    for attrs in [&pods, &namespaces, &nodes] {
        assert!(scoped(Scope::All, attrs));
    }
    assert!(scoped(Scope::Namespaced, &pods));
    assert!(
        !scoped(Scope::Namespaced, &namespaces),
        "namespaces are cluster-scoped"
    );
    assert!(!scoped(Scope::Namespaced, &nodes));
    assert!(!scoped(Scope::Cluster, &pods));
    assert!(scoped(Scope::Cluster, &namespaces));
    assert!(scoped(Scope::Cluster, &nodes));
}

#[tokio::test]
async fn any_rule_may_match() {
    let hook = webhook(vec![
        rule(&["DELETE"], &[""], &["v1"], &["pods"]),
        rule(&["CREATE"], &[""], &["v1"], &["pods"]),
    ]);
    let object = labeled(json!({}));
    assert_eq!(
        outcome(&hook, &pod_attrs(Operation::Create), Some(&object)).await,
        MatchOutcome::Match
    );
    assert_eq!(
        outcome(&hook, &pod_attrs(Operation::Update), Some(&object)).await,
        MatchOutcome::NoMatch
    );
    assert_eq!(
        outcome(
            &webhook(vec![]),
            &pod_attrs(Operation::Create),
            Some(&object)
        )
        .await,
        MatchOutcome::NoMatch
    );
}

#[tokio::test]
async fn webhook_configurations_are_exempt() {
    let hook = webhook(vec![all_rule()]);
    for plural in [
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
    ] {
        let attrs = attrs(
            resource("admissionregistration.k8s.io", plural),
            "",
            Operation::Create,
            "",
        );
        let object = labeled(json!({}));
        assert_eq!(
            outcome(&hook, &attrs, Some(&object)).await,
            MatchOutcome::NoMatch,
            "{plural}"
        );
    }
    let configmaps = attrs(resource("", "configmaps"), "", Operation::Create, "default");
    assert_eq!(
        outcome(&hook, &configmaps, Some(&labeled(json!({})))).await,
        MatchOutcome::Match
    );
}

// ---------------------------------------------------------------------------------------------
// namespaceSelector

#[tokio::test]
async fn namespace_selector_reads_the_namespace_labels() {
    let mut hook = webhook(vec![all_rule()]);
    let object = labeled(json!({}));
    let attrs = pod_attrs(Operation::Create);
    hook.namespace_selector = selector(json!({"matchLabels": {"env": "prod"}}));
    assert_eq!(
        outcome(&hook, &attrs, Some(&object)).await,
        MatchOutcome::Match
    );
    hook.namespace_selector = selector(json!({"matchLabels": {"env": "dev"}}));
    assert_eq!(
        outcome(&hook, &attrs, Some(&object)).await,
        MatchOutcome::NoMatch
    );
    hook.namespace_selector =
        selector(json!({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}));
    assert_eq!(
        outcome(&hook, &attrs, Some(&object)).await,
        MatchOutcome::NoMatch
    );
}

#[tokio::test]
async fn a_missing_namespace_is_kubes_404_when_the_webhook_applies() {
    let mut hook = webhook(vec![rule(&["CREATE"], &["*"], &["*"], &["*"])]);
    hook.namespace_selector = selector(json!({"matchLabels": {"env": "prod"}}));
    let object = labeled(json!({}));
    let elsewhere = attrs(resource("", "pods"), "", Operation::Create, "gone");
    assert_eq!(
        outcome(&hook, &elsewhere, Some(&object)).await,
        MatchOutcome::Error("namespaces \"gone\" not found".to_string())
    );
    // A webhook that would not be called anyway fails nothing.
    let update = attrs(resource("", "pods"), "", Operation::Update, "gone");
    assert_eq!(
        outcome(&hook, &update, Some(&object)).await,
        MatchOutcome::NoMatch
    );
    hook.object_selector = selector(json!({"matchLabels": {"app": "web"}}));
    assert_eq!(
        outcome(&hook, &elsewhere, Some(&object)).await,
        MatchOutcome::NoMatch
    );
    // Nor does an empty selector, which never looks the namespace up.
    let plain = webhook(vec![all_rule()]);
    assert_eq!(
        outcome(&plain, &elsewhere, Some(&object)).await,
        MatchOutcome::Match
    );
}

#[tokio::test]
async fn cluster_scoped_objects_ignore_the_namespace_selector() {
    let mut hook = webhook(vec![all_rule()]);
    hook.namespace_selector = selector(json!({"matchLabels": {"env": "nowhere"}}));
    let nodes = attrs(resource("", "nodes"), "", Operation::Create, "");
    assert_eq!(
        outcome(&hook, &nodes, Some(&labeled(json!({})))).await,
        MatchOutcome::Match
    );
}

#[tokio::test]
async fn a_namespace_is_selected_by_its_own_labels() {
    let mut hook = webhook(vec![all_rule()]);
    hook.namespace_selector = selector(json!({"matchLabels": {"team": "a"}}));
    let namespaces = resource("", "namespaces");
    let team_a = labeled(json!({"team": "a"}));
    let team_b = labeled(json!({"team": "b"}));

    let create = attrs(namespaces, "", Operation::Create, "");
    assert_eq!(
        outcome(&hook, &create, Some(&team_a)).await,
        MatchOutcome::Match
    );
    assert_eq!(
        outcome(&hook, &create, Some(&team_b)).await,
        MatchOutcome::NoMatch
    );

    let mut update = attrs(namespaces, "", Operation::Update, "");
    update.old_object = Some(team_b.clone());
    assert_eq!(
        outcome(&hook, &update, Some(&team_a)).await,
        MatchOutcome::Match,
        "the new labels count"
    );

    let mut delete = attrs(namespaces, "", Operation::Delete, "");
    delete.old_object = Some(team_a.clone());
    assert_eq!(
        outcome(&hook, &delete, None).await,
        MatchOutcome::Match,
        "the stored labels count"
    );
    delete.old_object = Some(team_b.clone());
    assert_eq!(outcome(&hook, &delete, None).await, MatchOutcome::NoMatch);

    // A subresource write reads the stored namespace, not the one written.
    let mut finalize = attrs(namespaces, "finalize", Operation::Update, "");
    finalize.old_object = Some(team_b);
    assert_eq!(
        outcome(&hook, &finalize, Some(&team_a)).await,
        MatchOutcome::NoMatch
    );
}

#[tokio::test]
async fn a_namespace_delete_without_its_object_looks_it_up() {
    let mut hook = webhook(vec![all_rule()]);
    hook.namespace_selector = selector(json!({"matchLabels": {"env": "prod"}}));
    let mut delete = attrs(resource("", "namespaces"), "", Operation::Delete, "");
    delete.name = "default".to_string();
    assert_eq!(outcome(&hook, &delete, None).await, MatchOutcome::Match);
}

// ---------------------------------------------------------------------------------------------
// objectSelector

#[tokio::test]
async fn object_selector_matches_the_new_or_the_old_object() {
    let mut hook = webhook(vec![all_rule()]);
    hook.object_selector = selector(json!({"matchLabels": {"app": "web"}}));
    let web = labeled(json!({"app": "web"}));
    let db = labeled(json!({"app": "db"}));

    let create = pod_attrs(Operation::Create);
    assert_eq!(
        outcome(&hook, &create, Some(&web)).await,
        MatchOutcome::Match
    );
    assert_eq!(
        outcome(&hook, &create, Some(&db)).await,
        MatchOutcome::NoMatch
    );

    let mut update = pod_attrs(Operation::Update);
    update.old_object = Some(web.clone());
    assert_eq!(
        outcome(&hook, &update, Some(&db)).await,
        MatchOutcome::Match,
        "old labels match"
    );

    let mut delete = pod_attrs(Operation::Delete);
    delete.old_object = Some(web);
    assert_eq!(outcome(&hook, &delete, None).await, MatchOutcome::Match);
}

#[tokio::test]
async fn no_object_matches_no_selector() {
    let mut hook = webhook(vec![all_rule()]);
    // Would match an object without labels, but there is no object at all.
    hook.object_selector =
        selector(json!({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}));
    let connect = pod_attrs(Operation::Connect);
    assert_eq!(outcome(&hook, &connect, None).await, MatchOutcome::NoMatch);
    assert_eq!(
        outcome(
            &hook,
            &pod_attrs(Operation::Create),
            Some(&json!({"metadata": {}}))
        )
        .await,
        MatchOutcome::Match
    );
}

// ---------------------------------------------------------------------------------------------
// matchConditions come last

#[tokio::test]
async fn match_conditions_decide_after_the_selectors() {
    let mut hook = webhook(vec![all_rule()]);
    hook.match_conditions = vec![crate::webhook::cel::compile(
        "not-kube-system",
        "request.namespace != 'kube-system'",
    )];
    let object = labeled(json!({}));
    assert_eq!(
        outcome(&hook, &pod_attrs(Operation::Create), Some(&object)).await,
        MatchOutcome::Match
    );
    let system = attrs(resource("", "pods"), "", Operation::Create, "kube-system");
    let state = TestState::with_namespace("kube-system", json!({}));
    assert_eq!(
        should_call(&hook, &system, Some(&object), &state).await,
        MatchOutcome::NoMatch
    );

    // A failing condition on a webhook the rules exclude is never evaluated.
    hook.match_conditions = vec![crate::webhook::cel::compile("broken", "1 / 0 == 1")];
    hook.rules = vec![rule(&["DELETE"], &["*"], &["*"], &["*"])];
    assert_eq!(
        outcome(&hook, &pod_attrs(Operation::Create), Some(&object)).await,
        MatchOutcome::NoMatch
    );
    hook.rules = vec![all_rule()];
    assert!(matches!(
        outcome(&hook, &pod_attrs(Operation::Create), Some(&object)).await,
        MatchOutcome::Error(_)
    ));
}

#[test]
fn should_call_can_run_on_any_thread() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Webhook>();
    let hook = webhook(vec![all_rule()]);
    let attrs = pod_attrs(Operation::Create);
    let state = TestState::default();
    let future = should_call(&hook, &attrs, None, &state);
    assert_send(&future);
}
