//! Whether a webhook wants a request: kube's `ShouldCallHook`
//! (`k8s.io/apiserver/pkg/admission/plugin/webhook/generic/webhook.go`) with its predicates
//! (`.../webhook/predicates/{rules,namespace,object}`) and matchConditions (`cel`).
//!
//! kube's order, with its one subtlety kept: a selector that cannot be evaluated (the
//! namespace is missing) is an error only if the selectors and rules would otherwise call
//! the webhook; a webhook that does not apply never fails a request. The rules are checked
//! first here because they need no lookup; the outcome is the same.
//!
//! `matchPolicy: Equivalent` also matches a rule written for another version or group of
//! the same resource. kubesim serves each stored resource in one version and converts
//! nothing (only the review APIs, never stored, have several), so Equivalent is Exact here:
//! both match the request's group and version, with the rules' `*` wildcards.

use kubesim_api::resources::{self, Resource, Scope as ResourceScope};
use kubesim_api::selectors::LabelSelector;
use serde_json::{Map, Value};

use super::{Rule, Scope, Webhook, cel};
use crate::{Attributes, ClusterState, Operation};

/// What matching decided for one webhook and one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchOutcome {
    /// The webhook does not apply: not called, nothing recorded against it.
    NoMatch,
    /// Call it.
    Match,
    /// Matching itself failed: the caller applies the webhook's failure policy. The message
    /// is kube's. (kube answers these without its "failed calling webhook" wrapping: a
    /// missing namespace fails the request with that 404 whatever the policy; match
    /// conditions in error are `403 <resource> "<name>" is forbidden: <message>` under
    /// `Fail`, and skip the webhook under `Ignore`.)
    Error(String),
}

const ADMISSION_GROUP: &str = "admissionregistration.k8s.io";

/// kube's `IsExemptAdmissionConfigurationResource`: the kinds that configure admission are
/// never sent to webhooks, so a broken webhook cannot lock out its own repair.
const EXEMPT_KINDS: [&str; 6] = [
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
];

/// kube's `ShouldCallHook` for `webhook` and the request `attrs` with its (new) `object`,
/// `None` on DELETE and CONNECT.
pub async fn should_call(
    webhook: &Webhook,
    attrs: &Attributes,
    object: Option<&Value>,
    state: &dyn ClusterState,
) -> MatchOutcome {
    if is_exempt(attrs.resource) || !webhook.rules.iter().any(|r| rule_matches(r, attrs)) {
        return MatchOutcome::NoMatch;
    }
    let namespace = namespace_selected(&webhook.namespace_selector, attrs, object, state).await;
    if namespace == Ok(false) || !object_selected(&webhook.object_selector, attrs, object) {
        return MatchOutcome::NoMatch;
    }
    if let Err(e) = namespace {
        return MatchOutcome::Error(e);
    }
    cel::evaluate(&webhook.match_conditions, attrs, object)
}

/// Whether the request writes one of the kinds that configure admission.
pub fn is_exempt(resource: &Resource) -> bool {
    resource.group == ADMISSION_GROUP && EXEMPT_KINDS.contains(&resource.kind)
}

/// kube's `rules.Matcher.Matches`: scope, operation, group, version and resource all match.
pub fn rule_matches(rule: &Rule, attrs: &Attributes) -> bool {
    let resource = attrs.resource;
    scope_matches(rule.scope, resource)
        && operation_matches(&rule.operations, attrs.operation)
        && exact_or_wildcard(&rule.api_groups, resource.group)
        && exact_or_wildcard(&rule.api_versions, resource.version)
        && resource_matches(&rule.resources, resource.plural, &attrs.subresource)
}

/// kube decides from the request's namespace, treating the Namespace object itself as
/// cluster-scoped; the resource's scope says the same for every kind kubesim serves.
fn scope_matches(scope: Scope, resource: &Resource) -> bool {
    match scope {
        Scope::All => true,
        Scope::Namespaced => resource.scope == ResourceScope::Namespaced,
        Scope::Cluster => resource.scope == ResourceScope::Cluster,
    }
}

fn operation_matches(operations: &[String], operation: Operation) -> bool {
    operations
        .iter()
        .any(|op| op == "*" || op == operation.as_str())
}

fn exact_or_wildcard(items: &[String], requested: &str) -> bool {
    items.iter().any(|item| item == "*" || item == requested)
}

/// `pods` (the object only), `pods/status`, `pods/*` (the object and every subresource),
/// `*/status`, `*` (every object, no subresource), `*/*` (everything).
fn resource_matches(resources: &[String], plural: &str, subresource: &str) -> bool {
    resources.iter().any(|item| {
        let (res, sub) = item.split_once('/').unwrap_or((item, ""));
        (res == "*" || res == plural) && (sub == "*" || sub == subresource)
    })
}

/// kube's `MatchNamespaceSelector`. `Err` carries the message the request would fail with.
async fn namespace_selected(
    selector: &LabelSelector,
    attrs: &Attributes,
    object: Option<&Value>,
    state: &dyn ClusterState,
) -> Result<bool, String> {
    let is_namespace = is_namespace_resource(attrs.resource);
    // Cluster-scoped requests other than namespaces are never exempted.
    if attrs.namespace.is_empty() && !is_namespace {
        return Ok(true);
    }
    if selector.is_empty() {
        return Ok(true);
    }
    let labels = if is_namespace {
        namespace_object_labels(attrs, object, state).await?
    } else {
        namespace_labels(&attrs.namespace, state).await?
    };
    Ok(selector.matches(labels.as_ref()))
}

fn is_namespace_resource(resource: &Resource) -> bool {
    resource.group.is_empty() && resource.plural == "namespaces"
}

/// A request on a Namespace itself: creating or updating it, the labels it is given (the
/// cache does not have them yet); otherwise (DELETE, a subresource) the stored namespace's,
/// which the request carries as its old object.
async fn namespace_object_labels(
    attrs: &Attributes,
    object: Option<&Value>,
    state: &dyn ClusterState,
) -> Result<Option<Map<String, Value>>, String> {
    let writes_labels = attrs.subresource.is_empty()
        && matches!(attrs.operation, Operation::Create | Operation::Update);
    if writes_labels {
        return Ok(object.and_then(labels).cloned());
    }
    if let Some(old) = &attrs.old_object {
        return Ok(labels(old).cloned());
    }
    let name = if attrs.namespace.is_empty() {
        &attrs.name
    } else {
        &attrs.namespace
    };
    namespace_labels(name, state).await
}

/// The labels of the namespace `name`, from the cache or else the store. A namespace that
/// does not exist fails the request with kube's 404 message.
async fn namespace_labels(
    name: &str,
    state: &dyn ClusterState,
) -> Result<Option<Map<String, Value>>, String> {
    let Some(namespaces) = resources::lookup("", "v1", "namespaces") else {
        return Err("Internal error occurred: namespaces are not served".to_string());
    };
    match state.get(namespaces, "", name).await {
        Ok(Some(namespace)) => Ok(labels(&namespace).cloned()),
        Ok(None) => Err(format!("namespaces \"{name}\" not found")),
        Err(status) => Err(format!("Internal error occurred: {}", status.message)),
    }
}

/// kube's `MatchObjectSelector`: the new or the old object carries matching labels. An
/// absent object matches nothing, whatever the selector.
fn object_selected(selector: &LabelSelector, attrs: &Attributes, object: Option<&Value>) -> bool {
    if selector.is_empty() {
        return true;
    }
    let selects = |o: Option<&Value>| o.is_some_and(|o| selector.matches(labels(o)));
    selects(object) || selects(attrs.old_object.as_ref())
}

fn labels(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata")?.get("labels")?.as_object()
}

#[cfg(test)]
pub(crate) mod tests;
