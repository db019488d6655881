//! `PodSecurity`: the Pod Security Standards (privileged, baseline, restricted) as
//! kube-apiserver 1.33 applies them (`plugin/pkg/admission/security/podsecurity` over
//! `k8s.io/pod-security-admission`), in the validating phase.
//!
//! A namespace's labels `pod-security.kubernetes.io/{enforce,audit,warn}[-version]` choose a
//! level per mode, over the PodSecurityConfiguration's defaults:
//! - pods (CREATE, and an UPDATE that changes an image or adds an ephemeral container) that
//!   break the enforce level are refused with a 403; the audit level's violations become the
//!   `pod-security.kubernetes.io/audit-violations` audit annotation; the warn level's, a
//!   `Warning` header.
//! - workloads with a pod template (deployments, ...) get audit and warn, never enforce: their
//!   pods are checked when created.
//! - namespaces: label values must parse (else 422); tightening `enforce` warns about the
//!   existing pods that would break it.
//! - exempt users, namespaces and runtime classes pass unchecked, with the
//!   `pod-security.kubernetes.io/exempt` audit annotation saying why.
//!
//! Files: `policy.rs` (levels, versions, labels), `config.rs` (the configuration),
//! `checks.rs` (the checks and their messages), `namespace.rs` (namespace writes), here the
//! pod and workload paths.

// The Plugin trait answers with a `Status` by value; the helpers here pass it along as is.
#![allow(clippy::result_large_err)]

mod checks;
mod config;
mod namespace;
mod policy;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use kubesim_api::Status;
use kubesim_api::resources::{self, Resource};
use kubesim_api::status::{FieldError, go_quote};
use serde_json::Value;

use crate::{Attributes, ClusterState, Operation, Plugin, Record};

use checks::{Aggregate, PodView, evaluate};
pub use config::{Configuration, Exemptions};
use policy::{Level, LevelVersion, Policy, policy_to_evaluate};

/// The audit annotations, kube's keys under `pod-security.kubernetes.io/`.
pub const ENFORCE_POLICY_ANNOTATION: &str = "pod-security.kubernetes.io/enforce-policy";
pub const AUDIT_VIOLATIONS_ANNOTATION: &str = "pod-security.kubernetes.io/audit-violations";
pub const EXEMPT_ANNOTATION: &str = "pod-security.kubernetes.io/exempt";
pub const ERROR_ANNOTATION: &str = "pod-security.kubernetes.io/error";

/// Pod subresources that cannot change the pod's spec; any other (`ephemeralcontainers`,
/// `resize`, ...) carries the pod and is checked.
const IGNORED_POD_SUBRESOURCES: &[&str] = &[
    "exec",
    "attach",
    "binding",
    "eviction",
    "log",
    "portforward",
    "proxy",
    "status",
];

/// kube's `DefaultPodSpecExtractor`: the workloads with a pod template, and where it is.
const POD_TEMPLATE_RESOURCES: &[(&str, &str, &[&str])] = &[
    ("", "replicationcontrollers", &["spec", "template"]),
    ("", "podtemplates", &["template"]),
    ("apps", "replicasets", &["spec", "template"]),
    ("apps", "deployments", &["spec", "template"]),
    ("apps", "statefulsets", &["spec", "template"]),
    ("apps", "daemonsets", &["spec", "template"]),
    ("batch", "jobs", &["spec", "template"]),
    (
        "batch",
        "cronjobs",
        &["spec", "jobTemplate", "spec", "template"],
    ),
];

/// kube's bounds on checking existing pods when a namespace's enforce level tightens.
const NAMESPACE_MAX_PODS_TO_CHECK: usize = 3000;
const NAMESPACE_POD_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

pub struct PodSecurity {
    /// Namespaces (for their labels) and pods (to check when a namespace tightens).
    state: Arc<dyn ClusterState>,
    configuration: Configuration,
    namespaces: &'static Resource,
    pods: &'static Resource,
    /// At most this many existing pods are checked on a namespace update...
    namespace_max_pods_to_check: usize,
    /// ...for at most this long (or half the request's time left, if less).
    namespace_pod_check_timeout: Duration,
}

impl PodSecurity {
    /// The plugin, from its PodSecurityConfiguration if there is one (without: everything
    /// privileged, nobody exempt).
    pub fn new(
        state: Arc<dyn ClusterState>,
        configuration: Option<&Value>,
    ) -> Result<PodSecurity, String> {
        let configuration = match configuration {
            Some(value) => Configuration::parse(value)?,
            None => Configuration::privileged(),
        };
        let lookup = |plural: &str| {
            resources::lookup("", "v1", plural)
                .ok_or_else(|| format!("PodSecurity: the API has no core/v1 {plural}"))
        };
        Ok(PodSecurity {
            state,
            configuration,
            namespaces: lookup("namespaces")?,
            pods: lookup("pods")?,
            namespace_max_pods_to_check: NAMESPACE_MAX_PODS_TO_CHECK,
            namespace_pod_check_timeout: NAMESPACE_POD_CHECK_TIMEOUT,
        })
    }

    /// A pod: exemptions, the namespace's policy, then all three modes.
    async fn validate_pod(
        &self,
        attrs: &Attributes,
        object: Option<&Value>,
        record: &Record,
    ) -> Result<(), Status> {
        if IGNORED_POD_SUBRESOURCES.contains(&attrs.subresource.as_str()) {
            return Ok(());
        }
        if let Some(reason) = self.exemption(attrs) {
            record.annotate(EXEMPT_ANNOTATION, reason);
            return Ok(());
        }
        let labels = match self.namespace_labels(&attrs.namespace).await {
            Ok(labels) => labels,
            Err(error) => {
                let lookup = format!("failed to lookup namespace {}", go_quote(&attrs.namespace));
                let status = Status::internal_error(&lookup);
                record.annotate(ERROR_ANNOTATION, &format!("{}: {error}", status.message));
                return Err(refusal(attrs, &attrs.name, status));
            }
        };
        let (policy, errors) = policy_to_evaluate(&labels, &self.configuration.defaults);
        if errors.is_empty() && policy.fully_privileged() {
            // kube shows `privileged:latest` here, whatever version the labels name.
            let shown = LevelVersion::PRIVILEGED_LATEST.to_string();
            record.annotate(ENFORCE_POLICY_ANNOTATION, &shown);
            return Ok(());
        }
        let Some(pod) = object else {
            return Err(bad_request(attrs, record, "failed to decode object"));
        };
        if attrs.operation == Operation::Update {
            let Some(old) = attrs.old_object.as_ref() else {
                return Err(bad_request(attrs, record, "failed to decode old object"));
            };
            if !is_significant_pod_update(pod, old) {
                return Ok(());
            }
        }
        let name = object_name(attrs, pod);
        let request = Evaluation {
            attrs,
            record,
            name: &name,
            policy: &policy,
            errors: &errors,
        };
        self.evaluate_pod(&request, &PodView::of(pod), true)
    }

    /// A workload with a pod template: audit and warn only, and nothing it could fail on
    /// (a missing namespace, a bad object) refuses it.
    async fn validate_pod_controller(
        &self,
        attrs: &Attributes,
        object: Option<&Value>,
        record: &Record,
    ) {
        if !attrs.subresource.is_empty() {
            return;
        }
        if let Some(reason) = self.exemption(attrs) {
            record.annotate(EXEMPT_ANNOTATION, reason);
            return;
        }
        let labels = match self.namespace_labels(&attrs.namespace).await {
            Ok(labels) => labels,
            Err(error) => {
                let namespace = go_quote(&attrs.namespace);
                let text = format!("failed to lookup namespace {namespace}: {error}");
                record.annotate(ERROR_ANNOTATION, &text);
                return;
            }
        };
        let (policy, errors) = policy_to_evaluate(&labels, &self.configuration.defaults);
        let quiet =
            policy.warn.level == Level::Privileged && policy.audit.level == Level::Privileged;
        if errors.is_empty() && quiet {
            return;
        }
        let Some(object) = object else {
            record.annotate(ERROR_ANNOTATION, "failed to decode object");
            return;
        };
        let Some(template) = pod_template(attrs.resource, object) else {
            return;
        };
        let name = object_name(attrs, object);
        let request = Evaluation {
            attrs,
            record,
            name: &name,
            policy: &policy,
            errors: &errors,
        };
        // Never enforced, so never refused.
        let _ = self.evaluate_pod(&request, &PodView::of(template), false);
    }

    /// kube's `EvaluatePod`: enforce (when asked), audit and warn, each level evaluated once.
    fn evaluate_pod(
        &self,
        request: &Evaluation,
        pod: &PodView,
        enforce: bool,
    ) -> Result<(), Status> {
        let record = request.record;
        if self.exempt_runtime_class(pod.spec) {
            record.annotate(EXEMPT_ANNOTATION, "runtimeClass");
            return Ok(());
        }
        if !request.errors.is_empty() {
            let texts: Vec<String> = request.errors.iter().map(FieldError::to_string).collect();
            let text = format!("Failed to parse policy: {}", config::aggregate(&texts));
            record.annotate(ERROR_ANNOTATION, &text);
        }
        let policy = request.policy;
        let mut results = Results::default();
        let mut refused = None;
        if enforce {
            record.annotate(ENFORCE_POLICY_ANNOTATION, &policy.enforce.to_string());
            let result = results.get(policy.enforce, pod);
            if !result.allowed() {
                let message = format!(
                    "violates PodSecurity {}: {}",
                    go_quote(&policy.enforce.to_string()),
                    result.forbidden_detail()
                );
                let status = forbidden_named(request.attrs, request.name, &message);
                refused = Some(refusal(request.attrs, request.name, status));
            }
        }
        let audit = results.get(policy.audit, pod);
        if !audit.allowed() {
            let text = would_violate(&policy.audit, &audit);
            record.annotate(AUDIT_VIOLATIONS_ANNOTATION, &text);
        }
        // No warnings on a request that is refused anyway.
        if refused.is_none() {
            let warn = results.get(policy.warn, pod);
            if !warn.allowed() {
                record.warn(&would_violate(&policy.warn, &warn));
            }
        }
        refused.map_or(Ok(()), Err)
    }

    /// Why a request is exempt, as the `exempt` annotation says it: its namespace, then its
    /// user (runtime classes are read from the pod, later).
    fn exemption(&self, attrs: &Attributes) -> Option<&'static str> {
        if self.exempt_namespace(&attrs.namespace) {
            Some("namespace")
        } else if exempt(
            &self.configuration.exemptions.usernames,
            &attrs.user.username,
        ) {
            Some("user")
        } else {
            None
        }
    }

    fn exempt_namespace(&self, namespace: &str) -> bool {
        exempt(&self.configuration.exemptions.namespaces, namespace)
    }

    fn exempt_runtime_class(&self, spec: &Value) -> bool {
        let class = spec.get("runtimeClassName").and_then(Value::as_str);
        exempt(
            &self.configuration.exemptions.runtime_classes,
            class.unwrap_or(""),
        )
    }

    /// The namespace's labels; the error is the lookup's (kube reads its informer, then the
    /// API, and a namespace that does not exist is an error too).
    async fn namespace_labels(&self, namespace: &str) -> Result<BTreeMap<String, String>, String> {
        match self.state.get(self.namespaces, "", namespace).await {
            Ok(Some(object)) => Ok(labels_of(&object)),
            Ok(None) => Err(format!("namespaces {} not found", go_quote(namespace))),
            Err(status) => Err(status.message),
        }
    }
}

/// What one evaluation needs to know about its request.
struct Evaluation<'a> {
    attrs: &'a Attributes,
    record: &'a Record,
    /// The object's name, for the 403 (kube's, read from the object after generateName).
    name: &'a str,
    policy: &'a Policy,
    /// Labels that did not parse: an `error` annotation, and fail-closed levels.
    errors: &'a [FieldError],
}

/// Evaluations of one pod, by level and version, so a level shared by two modes runs once.
#[derive(Default)]
struct Results {
    done: Vec<(LevelVersion, Aggregate)>,
}

impl Results {
    fn get(&mut self, level_version: LevelVersion, pod: &PodView) -> Aggregate {
        if let Some((_, result)) = self.done.iter().find(|(lv, _)| *lv == level_version) {
            return result.clone();
        }
        // Every version is evaluated as latest (checks.rs).
        let result = evaluate(level_version.level, pod);
        self.done.push((level_version, result.clone()));
        result
    }
}

impl Plugin for PodSecurity {
    fn name(&self) -> &'static str {
        super::POD_SECURITY
    }

    /// CREATE and UPDATE of pods, namespaces and the workloads with pod templates.
    fn handles(&self, attrs: &Attributes) -> bool {
        let write = matches!(attrs.operation, Operation::Create | Operation::Update);
        let resource = attrs.resource;
        let kind = is(resource, "", "pods")
            || is(resource, "", "namespaces")
            || template_path(resource).is_some();
        write && kind
    }

    fn validates(&self) -> bool {
        true
    }

    fn validate<'a>(
        &'a self,
        attrs: &'a Attributes,
        object: Option<&'a Value>,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            if is(attrs.resource, "", "namespaces") {
                self.validate_namespace(attrs, object, record)
            } else if is(attrs.resource, "", "pods") {
                self.validate_pod(attrs, object, record).await
            } else {
                self.validate_pod_controller(attrs, object, record).await;
                Ok(())
            }
        })
    }
}

fn is(resource: &Resource, group: &str, plural: &str) -> bool {
    resource.group == group && resource.plural == plural
}

fn exempt(list: &[String], value: &str) -> bool {
    !value.is_empty() && list.iter().any(|item| item == value)
}

fn template_path(resource: &Resource) -> Option<&'static [&'static str]> {
    POD_TEMPLATE_RESOURCES
        .iter()
        .find(|(group, plural, _)| is(resource, group, plural))
        .map(|(_, _, path)| *path)
}

/// A workload's pod template. Go's value-typed templates read as empty when missing; only a
/// ReplicationController's is a pointer, and without one there is nothing to check.
fn pod_template<'a>(resource: &Resource, object: &'a Value) -> Option<&'a Value> {
    let path = template_path(resource)?;
    let found = path.iter().try_fold(object, |value, key| {
        value.get(*key).filter(|v| !v.is_null())
    });
    match found {
        Some(template) => Some(template),
        None if is(resource, "", "replicationcontrollers") => None,
        None => Some(&Value::Null),
    }
}

fn labels_of(object: &Value) -> BTreeMap<String, String> {
    let labels = object.get("metadata").and_then(|m| m.get("labels"));
    labels
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_string())))
        .collect()
}

/// The request's name, or the object's when the request had none (a create with
/// generateName: kube's validating admission sees the generated name).
fn object_name(attrs: &Attributes, object: &Value) -> String {
    if !attrs.name.is_empty() {
        return attrs.name.clone();
    }
    let name = object.get("metadata").and_then(|m| m.get("name"));
    name.and_then(Value::as_str).unwrap_or("").to_string()
}

/// `would violate PodSecurity "restricted:latest": <reasons with details>`.
fn would_violate(level_version: &LevelVersion, result: &Aggregate) -> String {
    format!(
        "would violate PodSecurity {}: {}",
        go_quote(&level_version.to_string()),
        result.forbidden_detail()
    )
}

/// [`super::forbidden`] for the object named `name`.
fn forbidden_named(attrs: &Attributes, name: &str, message: &str) -> Status {
    if attrs.name == name {
        return super::forbidden(attrs, message);
    }
    // Only a create with generateName gets here, which has no old object to copy.
    let named = Attributes {
        name: name.to_string(),
        old_object: None,
        ..attrs.clone()
    };
    super::forbidden(&named, message)
}

/// How kube's plugin turns the library's refusal into its error: a 403 `Not allowed by
/// PodSecurity` whose message, reason, details and code the refusal replaces where it has
/// them (a 400 keeps the 403's details).
fn refusal(attrs: &Attributes, name: &str, result: Status) -> Status {
    let mut status = forbidden_named(attrs, name, "Not allowed by PodSecurity");
    if !result.message.is_empty() {
        status.message = result.message;
    }
    if !result.reason.is_empty() {
        status.reason = result.reason;
    }
    if result.details.is_some() {
        status.details = result.details;
    }
    if result.code != 0 {
        status.code = result.code;
    }
    status
}

/// An object that could not be read: 400, and the `error` annotation.
fn bad_request(attrs: &Attributes, record: &Record, message: &str) -> Status {
    record.annotate(ERROR_ANNOTATION, message);
    refusal(attrs, &attrs.name, Status::bad_request(message))
}

/// kube's `isSignificantPodUpdate`: only images and ephemeral containers can change in a pod
/// update that matters here, so anything else (labels, status) is not checked again.
fn is_significant_pod_update(pod: &Value, old: &Value) -> bool {
    for key in ["containers", "initContainers"] {
        let (new, old) = (spec_list(pod, key), spec_list(old, key));
        if new.len() != old.len() || new.iter().zip(old).any(|(n, o)| image(n) != image(o)) {
            return true;
        }
    }
    let before = spec_list(old, "ephemeralContainers");
    spec_list(pod, "ephemeralContainers")
        .iter()
        .any(|container| {
            let name = container_name(container);
            match before.iter().find(|old| container_name(old) == name) {
                Some(old) => image(container) != image(old),
                None => true,
            }
        })
}

fn spec_list<'a>(pod: &'a Value, key: &str) -> &'a [Value] {
    let list = pod.get("spec").and_then(|spec| spec.get(key));
    list.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn image(container: &Value) -> &str {
    container.get("image").and_then(Value::as_str).unwrap_or("")
}

fn container_name(container: &Value) -> &str {
    container.get("name").and_then(Value::as_str).unwrap_or("")
}
