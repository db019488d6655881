//! The plugin over a small in-memory cluster: enforce, audit and warn on pods, workloads
//! warned and audited only, exemptions, namespace label validation and the existing-pod
//! warnings, pod updates, and the configuration.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use kubesim_api::Status;
use kubesim_api::resources::{self, Resource};
use kubesim_api::user::UserInfo;
use serde_json::{Value, json};

use super::policy::{Level, LevelVersion, Version, policy_to_evaluate};
use super::*;
use crate::{Attributes, ClusterState, Operation, Plugin, Record};

/// Objects by (plural, namespace, name).
#[derive(Default)]
struct MemoryState {
    objects: Mutex<BTreeMap<(String, String, String), Arc<Value>>>,
}

impl MemoryState {
    fn put(&self, plural: &str, namespace: &str, object: Value) {
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let key = (plural.to_string(), namespace.to_string(), name);
        self.objects.lock().unwrap().insert(key, Arc::new(object));
    }

    fn find(&self, resource: &Resource, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let key = (
            resource.plural.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        self.objects.lock().unwrap().get(&key).cloned()
    }
}

impl ClusterState for MemoryState {
    fn get<'a>(
        &'a self,
        resource: &'static Resource,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Value>>, Status>> {
        let found = self.find(resource, namespace, name);
        Box::pin(async move { Ok(found) })
    }

    fn list(
        &self,
        resource: &'static Resource,
        namespace: &str,
    ) -> Result<(Vec<Arc<Value>>, i64), Status> {
        let objects = self.objects.lock().unwrap();
        let found = objects
            .iter()
            .filter(|((plural, ns, _), _)| plural == resource.plural && ns == namespace)
            .map(|(_, object)| object.clone())
            .collect();
        Ok((found, 1))
    }

    fn read<'a>(
        &'a self,
        resource: &'static Resource,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<(Value, i64)>, Status>> {
        let found = self.find(resource, namespace, name);
        Box::pin(async move { Ok(found.map(|object| ((*object).clone(), 1))) })
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

/// A cluster with namespaces labelled as given, and the plugin over it.
fn cluster(
    configuration: Option<Value>,
    namespaces: &[(&str, Value)],
) -> (PodSecurity, Arc<MemoryState>) {
    let state = Arc::new(MemoryState::default());
    for (name, labels) in namespaces {
        state.put(
            "namespaces",
            "",
            json!({"metadata": {"name": name, "labels": labels}}),
        );
    }
    let plugin = PodSecurity::new(state.clone(), configuration.as_ref()).unwrap();
    (plugin, state)
}

fn resource(group: &str, version: &str, plural: &str) -> &'static Resource {
    resources::lookup(group, version, plural).unwrap()
}

fn attrs(
    resource: &'static Resource,
    operation: Operation,
    namespace: &str,
    name: &str,
) -> Attributes {
    Attributes {
        resource,
        subresource: String::new(),
        operation,
        namespace: namespace.to_string(),
        name: name.to_string(),
        user: UserInfo::new("alice", &["system:authenticated"]).into(),
        dry_run: false,
        options: Value::Null,
        old_object: None,
        deadline: None,
        uid: "uid-1".to_string(),
    }
}

fn pod_attrs(namespace: &str, name: &str) -> Attributes {
    attrs(
        resource("", "v1", "pods"),
        Operation::Create,
        namespace,
        name,
    )
}

async fn admit(
    plugin: &PodSecurity,
    attrs: &Attributes,
    object: &Value,
) -> (Result<(), Status>, Arc<Record>) {
    let record = Record::new();
    assert!(plugin.handles(attrs));
    let result = plugin.validate(attrs, Some(object), &record).await;
    (result, record)
}

fn annotations(record: &Record) -> Vec<(String, String)> {
    record.audit_annotations().into_iter().collect()
}

fn annotation(key: &str, value: &str) -> (String, String) {
    (key.to_string(), value.to_string())
}

/// A pod that runs as root: `runAsUser: 0`, nothing else set.
fn root_pod(name: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "securityContext": {"runAsUser": 0},
            "containers": [{"name": "nginx", "image": "nginx"}]
        }
    })
}

fn privileged_pod(name: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "nginx", "image": "nginx", "securityContext": {"privileged": true}}]}
    })
}

const ROOT_POD_RESTRICTED: &str = r#"allowPrivilegeEscalation != false (container "nginx" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "nginx" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "nginx" must set securityContext.runAsNonRoot=true), runAsUser=0 (pod must not set runAsUser=0), seccompProfile (pod or container "nginx" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#;

#[tokio::test]
async fn enforce_refuses_a_root_pod_with_kubes_message() {
    let (plugin, _) = cluster(
        None,
        &[(
            "demo",
            json!({"pod-security.kubernetes.io/enforce": "restricted"}),
        )],
    );
    let (result, record) = admit(&plugin, &pod_attrs("demo", "web"), &root_pod("web")).await;
    let status = result.unwrap_err();
    assert_eq!(status.code, 403);
    assert_eq!(status.reason, "Forbidden");
    assert_eq!(
        status.message,
        format!(
            r#"pods "web" is forbidden: violates PodSecurity "restricted:latest": {ROOT_POD_RESTRICTED}"#
        )
    );
    let details = status.details.unwrap();
    assert_eq!(
        (details.name.as_str(), details.kind.as_str()),
        ("web", "pods")
    );
    // warn was raised to restricted with enforce, but a refused request gets no warnings.
    assert!(record.warnings().is_empty());
    assert_eq!(
        annotations(&record),
        [annotation(ENFORCE_POLICY_ANNOTATION, "restricted:latest")]
    );
}

#[tokio::test]
async fn warn_warns_and_admits() {
    let (plugin, _) = cluster(
        None,
        &[(
            "demo",
            json!({"pod-security.kubernetes.io/warn": "restricted"}),
        )],
    );
    let (result, record) = admit(&plugin, &pod_attrs("demo", "web"), &root_pod("web")).await;
    assert!(result.is_ok());
    assert_eq!(
        record.warnings(),
        [
            format!(r#"would violate PodSecurity "restricted:latest": {ROOT_POD_RESTRICTED}"#)
                .chars()
                .take(crate::MAX_WARNING_CHARS)
                .collect::<String>()
        ]
    );
    assert_eq!(
        annotations(&record),
        [annotation(ENFORCE_POLICY_ANNOTATION, "privileged:latest")]
    );
}

#[tokio::test]
async fn audit_annotates_and_admits() {
    let labels = json!({"pod-security.kubernetes.io/audit": "baseline", "pod-security.kubernetes.io/audit-version": "v1.31"});
    let (plugin, _) = cluster(None, &[("demo", labels)]);
    let (result, record) = admit(&plugin, &pod_attrs("demo", "web"), &privileged_pod("web")).await;
    assert!(result.is_ok());
    assert!(record.warnings().is_empty());
    assert_eq!(
        annotations(&record),
        [
            annotation(
                AUDIT_VIOLATIONS_ANNOTATION,
                r#"would violate PodSecurity "baseline:v1.31": privileged (container "nginx" must not set securityContext.privileged=true)"#
            ),
            annotation(ENFORCE_POLICY_ANNOTATION, "privileged:latest"),
        ]
    );
}

#[tokio::test]
async fn enforce_audit_and_warn_together() {
    let labels = json!({
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/enforce-version": "v1.29",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    });
    let (plugin, _) = cluster(None, &[("demo", labels)]);
    // Passes baseline: admitted, warned and audited for restricted.
    let (result, record) = admit(&plugin, &pod_attrs("demo", "web"), &root_pod("web")).await;
    assert!(result.is_ok());
    assert_eq!(record.warnings().len(), 1);
    assert!(
        record.warnings()[0].starts_with(
            r#"would violate PodSecurity "restricted:latest": allowPrivilegeEscalation"#
        )
    );
    assert_eq!(
        annotations(&record),
        [
            annotation(
                AUDIT_VIOLATIONS_ANNOTATION,
                &format!(r#"would violate PodSecurity "restricted:latest": {ROOT_POD_RESTRICTED}"#)
            ),
            annotation(ENFORCE_POLICY_ANNOTATION, "baseline:v1.29"),
        ]
    );
    // Breaks baseline: refused, audited, not warned.
    let (result, record) = admit(&plugin, &pod_attrs("demo", "p"), &privileged_pod("p")).await;
    assert_eq!(
        result.unwrap_err().message,
        r#"pods "p" is forbidden: violates PodSecurity "baseline:v1.29": privileged (container "nginx" must not set securityContext.privileged=true)"#
    );
    assert!(record.warnings().is_empty());
    let audit = &record.audit_annotations()[AUDIT_VIOLATIONS_ANNOTATION];
    assert!(
        audit.contains(
            "privileged (container \"nginx\" must not set securityContext.privileged=true)"
        )
    );
}

#[tokio::test]
async fn a_fully_privileged_namespace_is_not_checked() {
    let labels = json!({"pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/enforce-version": "v1.25"});
    let (plugin, _) = cluster(None, &[("demo", labels)]);
    let (result, record) = admit(&plugin, &pod_attrs("demo", "p"), &privileged_pod("p")).await;
    assert!(result.is_ok());
    assert!(record.warnings().is_empty());
    assert_eq!(
        annotations(&record),
        [annotation(ENFORCE_POLICY_ANNOTATION, "privileged:latest")]
    );
}

#[tokio::test]
async fn a_bad_label_fails_closed_for_enforce_and_is_annotated() {
    let (plugin, _) = cluster(
        None,
        &[(
            "demo",
            json!({"pod-security.kubernetes.io/enforce": "bogus"}),
        )],
    );
    let (result, record) = admit(&plugin, &pod_attrs("demo", "web"), &root_pod("web")).await;
    assert!(
        result
            .unwrap_err()
            .message
            .contains(r#"violates PodSecurity "restricted:latest": "#)
    );
    assert_eq!(
        record.audit_annotations()[ERROR_ANNOTATION],
        r#"Failed to parse policy: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": must be one of privileged, baseline, restricted"#
    );
}

#[tokio::test]
async fn a_missing_namespace_is_an_internal_error() {
    let (plugin, _) = cluster(None, &[]);
    let (result, record) = admit(&plugin, &pod_attrs("gone", "web"), &root_pod("web")).await;
    let status = result.unwrap_err();
    assert_eq!(status.code, 500);
    assert_eq!(
        status.message,
        r#"Internal error occurred: failed to lookup namespace "gone""#
    );
    assert_eq!(
        record.audit_annotations()[ERROR_ANNOTATION],
        r#"Internal error occurred: failed to lookup namespace "gone": namespaces "gone" not found"#
    );
}

#[tokio::test]
async fn generate_name_pods_are_refused_by_their_generated_name() {
    let (plugin, _) = cluster(
        None,
        &[(
            "demo",
            json!({"pod-security.kubernetes.io/enforce": "baseline"}),
        )],
    );
    let (result, _) = admit(
        &plugin,
        &pod_attrs("demo", ""),
        &privileged_pod("web-x7k2p"),
    )
    .await;
    assert!(
        result
            .unwrap_err()
            .message
            .starts_with(r#"pods "web-x7k2p" is forbidden: "#)
    );
}

fn exempting() -> Value {
    json!({
        "apiVersion": "pod-security.admission.config.k8s.io/v1",
        "kind": "PodSecurityConfiguration",
        "defaults": {"enforce": "restricted"},
        "exemptions": {"usernames": ["admin"], "namespaces": ["kube-system"], "runtimeClasses": ["kata"]},
    })
}

#[tokio::test]
async fn exemptions_skip_the_checks_and_say_why() {
    let (plugin, _) = cluster(
        Some(exempting()),
        &[("kube-system", json!({})), ("demo", json!({}))],
    );
    let cases = [
        ("kube-system", "alice", None, "namespace"),
        ("demo", "admin", None, "user"),
        ("demo", "alice", Some("kata"), "runtimeClass"),
    ];
    for (namespace, user, runtime_class, reason) in cases {
        let mut attrs = pod_attrs(namespace, "p");
        attrs.user = UserInfo::new(user, &[]).into();
        let mut pod = privileged_pod("p");
        if let Some(class) = runtime_class {
            pod["spec"]["runtimeClassName"] = json!(class);
        }
        let (result, record) = admit(&plugin, &attrs, &pod).await;
        assert!(result.is_ok(), "{reason}");
        assert!(record.warnings().is_empty());
        assert_eq!(
            annotations(&record),
            [annotation(EXEMPT_ANNOTATION, reason)]
        );
    }
    // Not exempt: the defaults enforce restricted on an unlabelled namespace.
    let (result, _) = admit(&plugin, &pod_attrs("demo", "p"), &privileged_pod("p")).await;
    assert!(
        result
            .unwrap_err()
            .message
            .contains(r#""restricted:latest": privileged"#)
    );
}

fn deployment(pod: &Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"metadata": pod["metadata"], "spec": pod["spec"]}},
    })
}

#[tokio::test]
async fn deployments_are_warned_and_audited_never_refused() {
    let labels = json!({
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/audit": "baseline",
    });
    let (plugin, _) = cluster(None, &[("demo", labels)]);
    let deployments = resource("apps", "v1", "deployments");
    let attrs = attrs(deployments, Operation::Create, "demo", "web");
    let (result, record) = admit(&plugin, &attrs, &deployment(&privileged_pod("web"))).await;
    assert!(result.is_ok());
    assert_eq!(record.warnings().len(), 1);
    assert!(record.warnings()[0].starts_with(
        r#"would violate PodSecurity "restricted:latest": privileged (container "nginx" must not set securityContext.privileged=true), allowPrivilegeEscalation != false"#
    ));
    assert_eq!(
        annotations(&record),
        [annotation(
            AUDIT_VIOLATIONS_ANNOTATION,
            r#"would violate PodSecurity "baseline:latest": privileged (container "nginx" must not set securityContext.privileged=true)"#
        )]
    );
    // Enforce alone, with warn set back to privileged: nothing at all.
    let labels = json!({"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "privileged"});
    let (plugin, _) = cluster(None, &[("demo", labels)]);
    let (result, record) = admit(&plugin, &attrs, &deployment(&privileged_pod("web"))).await;
    assert!(result.is_ok());
    assert!(record.warnings().is_empty());
    assert!(record.audit_annotations().is_empty());
    // The scale subresource carries no template.
    let mut scale = attrs.clone();
    scale.subresource = "scale".to_string();
    let record = Record::new();
    assert!(
        plugin
            .validate(&scale, Some(&json!({})), &record)
            .await
            .is_ok()
    );
    assert!(record.audit_annotations().is_empty());
}

#[tokio::test]
async fn pod_updates_are_checked_when_kube_checks_them() {
    let (plugin, _) = cluster(
        None,
        &[(
            "demo",
            json!({"pod-security.kubernetes.io/enforce": "baseline"}),
        )],
    );
    let old = privileged_pod("p");
    let update = |new: &Value, subresource: &str| {
        let mut attrs = attrs(resource("", "v1", "pods"), Operation::Update, "demo", "p");
        attrs.old_object = Some(old.clone());
        attrs.subresource = subresource.to_string();
        (attrs, new.clone())
    };
    // A label change is not significant: a pod admitted before stays admissible.
    let mut relabelled = old.clone();
    relabelled["metadata"]["labels"] = json!({"a": "b"});
    let (attrs, new) = update(&relabelled, "");
    assert!(admit(&plugin, &attrs, &new).await.0.is_ok());
    // A new image is.
    let mut reimaged = old.clone();
    reimaged["spec"]["containers"][0]["image"] = json!("nginx:2");
    let (attrs, new) = update(&reimaged, "");
    assert_eq!(admit(&plugin, &attrs, &new).await.0.unwrap_err().code, 403);
    // Status writes are never checked.
    let (attrs, new) = update(&reimaged, "status");
    assert!(admit(&plugin, &attrs, &new).await.0.is_ok());
    // An ephemeral container added through its subresource is.
    let mut debugged = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}});
    let mut attrs = attrs.clone();
    attrs.subresource = "ephemeralcontainers".to_string();
    attrs.old_object = Some(debugged.clone());
    debugged["spec"]["ephemeralContainers"] =
        json!([{"name": "debug", "image": "busybox", "securityContext": {"privileged": true}}]);
    let status = admit(&plugin, &attrs, &debugged).await.0.unwrap_err();
    assert_eq!(
        status.message,
        r#"pods "p" is forbidden: violates PodSecurity "baseline:latest": privileged (container "debug" must not set securityContext.privileged=true)"#
    );
}

fn namespace_attrs(operation: Operation, name: &str, old_labels: Option<Value>) -> Attributes {
    let mut attrs = attrs(resource("", "v1", "namespaces"), operation, "", name);
    attrs.old_object =
        old_labels.map(|labels| json!({"metadata": {"name": name, "labels": labels}}));
    attrs
}

fn namespace(name: &str, labels: Value) -> Value {
    json!({"metadata": {"name": name, "labels": labels}})
}

#[tokio::test]
async fn namespace_labels_must_parse() {
    let (plugin, _) = cluster(None, &[]);
    let attrs = namespace_attrs(Operation::Create, "demo", None);
    let labels = json!({"pod-security.kubernetes.io/enforce": "strict"});
    let status = admit(&plugin, &attrs, &namespace("demo", labels))
        .await
        .0
        .unwrap_err();
    assert_eq!(status.code, 422);
    assert_eq!(status.reason, "Invalid");
    assert_eq!(
        status.message,
        r#"Namespace "demo" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted"#
    );
    let details = status.details.unwrap();
    assert_eq!(details.kind, "Namespace");
    assert_eq!(
        details.causes[0].field,
        "metadata.labels[pod-security.kubernetes.io/enforce]"
    );

    let labels = json!({"pod-security.kubernetes.io/warn-version": "1.30", "pod-security.kubernetes.io/audit": "x"});
    let status = admit(&plugin, &attrs, &namespace("demo", labels))
        .await
        .0
        .unwrap_err();
    assert_eq!(
        status.message,
        r#"Namespace "demo" is invalid: [metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: "x": must be one of privileged, baseline, restricted, metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "1.30": must be "latest" or "v1.x"]"#
    );

    let good = json!({"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "v1.0"});
    assert!(
        admit(&plugin, &attrs, &namespace("demo", good))
            .await
            .0
            .is_ok()
    );
}

#[tokio::test]
async fn namespace_updates_may_keep_labels_that_were_already_bad() {
    let (plugin, _) = cluster(None, &[]);
    let bad = json!({"pod-security.kubernetes.io/enforce": "strict"});
    let attrs = namespace_attrs(Operation::Update, "demo", Some(bad.clone()));
    let mut relabelled = namespace("demo", bad);
    relabelled["metadata"]["labels"]["team"] = json!("a");
    assert!(admit(&plugin, &attrs, &relabelled).await.0.is_ok());
    let worse = json!({"pod-security.kubernetes.io/enforce": "stricter"});
    let status = admit(&plugin, &attrs, &namespace("demo", worse))
        .await
        .0
        .unwrap_err();
    assert_eq!(status.code, 422);
}

/// A pod with a controller owner reference.
fn owned(mut pod: Value, uid: &str) -> Value {
    pod["metadata"]["ownerReferences"] =
        json!([{"uid": uid, "controller": true, "kind": "ReplicaSet", "name": "rs"}]);
    pod
}

#[tokio::test]
async fn tightening_enforce_warns_about_existing_pods() {
    let (plugin, state) = cluster(None, &[]);
    state.put("pods", "demo", root_pod("b"));
    state.put("pods", "demo", root_pod("a"));
    state.put("pods", "demo", privileged_pod("c"));
    state.put("pods", "other", privileged_pod("elsewhere"));
    let attrs = namespace_attrs(Operation::Update, "demo", Some(json!({})));
    let labels = json!({"pod-security.kubernetes.io/enforce": "restricted"});
    let (result, record) = admit(&plugin, &attrs, &namespace("demo", labels)).await;
    assert!(result.is_ok());
    assert_eq!(
        record.warnings(),
        [
            r#"existing pods in namespace "demo" violate the new PodSecurity enforce level "restricted:latest""#.to_string(),
            "a (and 1 other pod): allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, runAsUser=0, seccompProfile".to_string(),
            "c: privileged, allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile".to_string(),
        ]
    );
    // Loosening, or the same level again, checks nothing.
    let attrs = namespace_attrs(
        Operation::Update,
        "demo",
        Some(json!({"pod-security.kubernetes.io/enforce": "restricted"})),
    );
    for labels in [
        json!({"pod-security.kubernetes.io/enforce": "baseline"}),
        json!({"pod-security.kubernetes.io/enforce": "restricted", "x": "y"}),
    ] {
        let (result, record) = admit(&plugin, &attrs, &namespace("demo", labels)).await;
        assert!(result.is_ok());
        assert!(record.warnings().is_empty());
    }
}

#[tokio::test]
async fn existing_pod_checks_are_bounded() {
    let (mut plugin, state) = cluster(None, &[]);
    plugin.namespace_max_pods_to_check = 2;
    // Two pods of one controller and one of its own: the one controller's second pod is
    // checked last, so the bound leaves it out.
    state.put("pods", "demo", owned(privileged_pod("a"), "rs-1"));
    state.put("pods", "demo", owned(privileged_pod("b"), "rs-1"));
    state.put("pods", "demo", root_pod("c"));
    let attrs = namespace_attrs(Operation::Update, "demo", Some(json!({})));
    let labels = json!({"pod-security.kubernetes.io/enforce": "baseline"});
    let (result, record) = admit(&plugin, &attrs, &namespace("demo", labels)).await;
    assert!(result.is_ok());
    assert_eq!(
        record.warnings(),
        [
            "new PodSecurity enforce level only checked against the first 2 of 3 existing pods",
            r#"existing pods in namespace "demo" violate the new PodSecurity enforce level "baseline:latest""#,
            "a: privileged",
        ]
    );
}

#[tokio::test]
async fn an_exempt_namespace_is_told_its_labels_do_nothing() {
    let (plugin, state) = cluster(Some(exempting()), &[]);
    state.put("pods", "kube-system", privileged_pod("p"));
    let old = json!({"pod-security.kubernetes.io/enforce": "privileged"});
    let attrs = namespace_attrs(Operation::Update, "kube-system", Some(old));
    let labels = json!({"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted"});
    let (result, record) = admit(&plugin, &attrs, &namespace("kube-system", labels)).await;
    assert!(result.is_ok());
    assert_eq!(
        record.warnings(),
        [
            r#"namespace "kube-system" is exempt from Pod Security, and the policy (enforce=baseline:latest, warn=restricted:latest) will be ignored"#
        ]
    );
}

#[test]
fn handles_writes_of_pods_namespaces_and_workloads() {
    let (plugin, _) = cluster(None, &[]);
    let pods = resource("", "v1", "pods");
    assert!(plugin.handles(&attrs(pods, Operation::Create, "demo", "p")));
    assert!(plugin.handles(&attrs(pods, Operation::Update, "demo", "p")));
    assert!(!plugin.handles(&attrs(pods, Operation::Delete, "demo", "p")));
    assert!(plugin.handles(&attrs(
        resource("apps", "v1", "deployments"),
        Operation::Update,
        "demo",
        "d"
    )));
    assert!(plugin.handles(&attrs(
        resource("", "v1", "namespaces"),
        Operation::Create,
        "",
        "demo"
    )));
    assert!(!plugin.handles(&attrs(
        resource("", "v1", "configmaps"),
        Operation::Create,
        "demo",
        "c"
    )));
    assert!(plugin.validates());
    assert!(!plugin.mutates());
}

#[test]
fn labels_resolve_as_kube_resolves_them() {
    let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (format!("pod-security.kubernetes.io/{k}"), v.to_string()))
            .collect()
    };
    let defaults = Policy::PRIVILEGED;
    let lv = |level, version| LevelVersion { level, version };
    // enforce raises warn, with its version unless warn-version is set.
    let (policy, errors) = policy_to_evaluate(
        &labels(&[("enforce", "baseline"), ("enforce-version", "v1.30")]),
        &defaults,
    );
    assert!(errors.is_empty());
    assert_eq!(policy.warn, lv(Level::Baseline, Version::V1(30)));
    let (policy, _) = policy_to_evaluate(
        &labels(&[("enforce", "restricted"), ("warn-version", "v1.2")]),
        &defaults,
    );
    assert_eq!(policy.warn, lv(Level::Restricted, Version::V1(2)));
    let (policy, _) = policy_to_evaluate(
        &labels(&[("enforce", "restricted"), ("warn", "privileged")]),
        &defaults,
    );
    assert_eq!(policy.warn, lv(Level::Privileged, Version::Latest));
    // Bad values: enforce fails closed, audit and warn open, versions read as latest.
    let (policy, errors) = policy_to_evaluate(
        &labels(&[
            ("enforce", "x"),
            ("audit", "y"),
            ("warn", "z"),
            ("enforce-version", "v1.01"),
        ]),
        &defaults,
    );
    assert_eq!(errors.len(), 4);
    assert_eq!(policy.enforce, lv(Level::Restricted, Version::Latest));
    assert_eq!(policy.audit.level, Level::Privileged);
    assert_eq!(policy.warn.level, Level::Privileged);
    for good in ["latest", "v1.0", "v1.33", "v1.99"] {
        assert!(Version::parse(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "v1",
        "v1.",
        "v2.1",
        "1.2",
        "v1.01",
        "v1.x",
        "v1.-1",
        "v1.99999999999999999999",
    ] {
        assert_eq!(Version::parse(bad), Err(Version::Latest), "{bad}");
    }
}

#[test]
fn the_configuration_is_read_defaulted_and_validated() {
    let (plugin, _) = cluster(Some(exempting()), &[]);
    assert_eq!(
        plugin.configuration.defaults.enforce,
        LevelVersion {
            level: Level::Restricted,
            version: Version::Latest
        }
    );
    assert_eq!(
        plugin.configuration.defaults.warn,
        LevelVersion::PRIVILEGED_LATEST
    );
    assert_eq!(plugin.configuration.exemptions.runtime_classes, ["kata"]);

    let state: Arc<dyn ClusterState> = Arc::new(MemoryState::default());
    let error = |configuration: Value| {
        PodSecurity::new(state.clone(), Some(&configuration))
            .err()
            .unwrap()
    };
    let base = |defaults: Value, exemptions: Value| {
        json!({"apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration",
            "defaults": defaults, "exemptions": exemptions})
    };
    assert_eq!(
        error(base(
            json!({"enforce": "strict", "warn-version": "1"}),
            json!({})
        )),
        r#"PodSecurity configuration error: [enforce: must be one of privileged, baseline, restricted, warn-version: must be "latest" or "v1.x"]"#
    );
    assert_eq!(
        error(base(json!({}), json!({"usernames": ["", "bob", "bob"]}))),
        r#"PodSecurity invalid: [exemptions.usernames[0]: Invalid value: "": username must not be empty, exemptions.usernames[2]: Duplicate value: "bob"]"#
    );
    assert!(
        error(base(json!({}), json!({"namespaces": ["Not_A_Label"]}))).starts_with(
            r#"PodSecurity invalid: exemptions.namespaces[0]: Invalid value: "Not_A_Label": "#
        )
    );
    assert!(
        error(json!({"apiVersion": "v1", "kind": "PodSecurityConfiguration"})).contains("no kind")
    );
}
