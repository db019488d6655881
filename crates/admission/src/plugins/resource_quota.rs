//! `ResourceQuota`: what a namespace may use, enforced in the validating phase (kube runs it
//! last), as kube-apiserver 1.33's `admission/plugin/resourcequota` with the evaluators of
//! `pkg/quota/v1/evaluator/core` does it; and [`run_controller`], kube's quota controller in
//! miniature, which fills in each quota's `status` and lowers the usage after deletes.
//!
//! A write is measured by its kind's evaluator: pods (`pods`, `count/pods`, and the compute
//! resources `cpu`/`requests.cpu`, `memory`/`requests.memory`, `limits.*`, ephemeral storage,
//! hugepages and extended resources, summed over containers with kube's rule for init and
//! sidecar containers; terminal pods count only in `count/pods`), services (`services`,
//! `services.nodeports`, `services.loadbalancers`, also on update) and object counts for
//! every other stored kind (`count/<resource>[.<group>]`, and the legacy `configmaps`,
//! `secrets`, `resourcequotas`). Events are never counted.
//!
//! For each quota of the namespace whose `status.hard` names a resource the write uses, and
//! whose scopes the object matches: the object must say what a compute quota needs (`must
//! specify ...`), the quota's usage must be known (`status unknown for quota`), and `status.used`
//! plus the write's usage must stay within `status.hard` (`exceeded quota: ...`). The new usage
//! is then written with a conditional update before the object is stored, so two concurrent
//! creates cannot both pass a full quota; a conflict re-reads the quota and checks again, a
//! bounded number of times. A dry run is checked and not charged.
//!
//! Where kubesim differs from kube: a quota whose status the controller has not filled yet
//! limits nothing (as in kube: its `status.hard` names nothing); quotas are found in the watch
//! cache (kube adds a live lookup when its cache has none); and a pod stuck terminating is
//! charged until it is gone (kube stops charging once its grace period has passed, which needs
//! a clock this crate does not have).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use kubesim_api::Status;
use kubesim_api::kind_validation::quantity::Quantity;
use kubesim_api::resources::{self, RESOURCES, Resource};
use kubesim_api::status::GroupResource;
use kubesim_api::validation::is_qualified_name;
use serde_json::{Map, Value, json};

use crate::{Attributes, ClusterState, Operation, Plugin, Record};

/// Resource names and their quantities (`corev1.ResourceList`), sorted by name as kube's
/// messages list them.
type ResourceList = BTreeMap<String, Quantity>;

/// The most quotas one namespace may hold for kubesim to check a write against them.
const MAX_QUOTAS_PER_NAMESPACE: usize = 256;
/// Tries at writing the new usage (kube: the first and three retries on conflict).
const MAX_UPDATE_ATTEMPTS: usize = 4;
/// The most quotas the controller recomputes in one pass; the next pass goes on from there.
const MAX_QUOTAS_PER_PASS: usize = 512;
/// Tries at writing one quota's status in a pass before leaving it to the next pass.
const MAX_SYNC_ATTEMPTS: usize = 3;
/// Bound on the entries of the plugin's configuration.
const MAX_LIMITED_RESOURCES: usize = 256;

/// Resources quota never tracks (kube's `DefaultIgnoredResources`).
const IGNORED_RESOURCES: &[(&str, &str)] = &[("", "events")];

/// Kinds counted under a legacy name as well as `count/<resource>`.
const LEGACY_COUNT_NAMES: &[(&str, &str)] = &[
    ("configmaps", "configmaps"),
    ("resourcequotas", "resourcequotas"),
    ("replicationcontrollers", "replicationcontrollers"),
    ("secrets", "secrets"),
];

/// What the pod evaluator tracks by name (`podResources`).
const POD_RESOURCES: &[&str] = &[
    "count/pods",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
];

/// A quota on one of these makes each container say it (`validationSet`: kube calls it a
/// mistake it keeps for compatibility).
const MUST_SPECIFY: &[&str] = &[
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// What the service evaluator tracks.
const SERVICE_RESOURCES: &[&str] = &[
    "count/services",
    "services",
    "services.nodeports",
    "services.loadbalancers",
];

// ---------------------------------------------------------------------------------------------
// The plugin

/// The `ResourceQuota` admission plugin.
pub struct ResourceQuota {
    /// Where quotas are read and their usage written.
    state: Arc<dyn ClusterState>,
    /// `limitedResources` of the configuration: usage that needs a covering quota.
    limited: Vec<LimitedResource>,
}

impl ResourceQuota {
    /// The plugin with its `ResourceQuotaConfiguration` from `--admission-control-config-file`,
    /// if any.
    pub fn new(
        state: Arc<dyn ClusterState>,
        configuration: Option<&Value>,
    ) -> Result<ResourceQuota, String> {
        let limited = match configuration {
            Some(configuration) => parse_configuration(configuration)?,
            None => Vec::new(),
        };
        Ok(ResourceQuota { state, limited })
    }
}

impl Plugin for ResourceQuota {
    fn name(&self) -> &'static str {
        super::RESOURCE_QUOTA
    }

    /// Creates and updates of namespaced objects (not their subresources) whose kind has an
    /// evaluator that cares about the operation.
    fn handles(&self, attrs: &Attributes) -> bool {
        attrs.subresource.is_empty()
            && !attrs.namespace.is_empty()
            && Evaluator::for_resource(attrs.resource).is_some_and(|e| e.handles(attrs.operation))
    }

    fn validates(&self) -> bool {
        true
    }

    fn validate<'a>(
        &'a self,
        attrs: &'a Attributes,
        object: Option<&'a Value>,
        _record: &'a Record,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let (Some(object), Some(evaluator)) = (object, Evaluator::for_resource(attrs.resource))
            else {
                return Ok(());
            };
            if !self.handles(attrs) {
                return Ok(());
            }
            self.evaluate(attrs, &evaluator, object).await
        })
    }
}

impl ResourceQuota {
    /// kube's `checkAttributes` + `checkQuotas`: check against every quota of the namespace,
    /// then write the new usage of those that changed; on a conflict, re-read and check again
    /// the quotas whose write failed (the others are charged already).
    async fn evaluate(
        &self,
        attrs: &Attributes,
        evaluator: &Evaluator,
        object: &Value,
    ) -> Result<(), Status> {
        let quota_resource = quota_resource()?;
        let names = self.quota_names(quota_resource, &attrs.namespace)?;
        if names.is_empty() && self.limited.is_empty() {
            return Ok(());
        }
        let request = Request {
            evaluator,
            operation: attrs.operation,
            object,
            old: attrs.old_object.as_ref(),
        };
        let mut quotas =
            read_quotas(&*self.state, quota_resource, &attrs.namespace, &names).await?;
        // Usage that needs a covering quota is checked once, against every quota.
        let mut limited: &[LimitedResource] = &self.limited;
        for attempt in 1..=MAX_UPDATE_ATTEMPTS {
            let changes = check_request(&quotas, &request, limited, attrs.resource)
                .map_err(|refusal| refusal.into_status(attrs, object))?;
            if attrs.dry_run || changes.is_empty() {
                return Ok(());
            }
            let conflicted = self
                .write_usage(quota_resource, &attrs.namespace, &quotas, &changes)
                .await?;
            let Some(last) = conflicted.last() else {
                return Ok(());
            };
            if attempt == MAX_UPDATE_ATTEMPTS {
                let gr = GroupResource::new(quota_resource.group, quota_resource.plural);
                return Err(Status::conflict_stale(&gr, last));
            }
            quotas =
                read_quotas(&*self.state, quota_resource, &attrs.namespace, &conflicted).await?;
            limited = &[];
        }
        Ok(())
    }

    /// The names of the namespace's quotas, from the watch cache, sorted.
    fn quota_names(
        &self,
        quota_resource: &'static Resource,
        namespace: &str,
    ) -> Result<Vec<String>, Status> {
        let (quotas, _) = self.state.list(quota_resource, namespace)?;
        if quotas.len() > MAX_QUOTAS_PER_NAMESPACE {
            return Err(Status::internal_error(&format!(
                "namespace {namespace} has {} ResourceQuotas; kubesim checks writes against at most {MAX_QUOTAS_PER_NAMESPACE}",
                quotas.len()
            )));
        }
        let mut names: Vec<String> = quotas.iter().map(|q| object_name(q).to_string()).collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Writes each changed quota's new `status.used` if the quota is still at the revision it
    /// was read at; returns the names of those another write changed first.
    async fn write_usage(
        &self,
        quota_resource: &'static Resource,
        namespace: &str,
        quotas: &[Quota],
        changes: &[(usize, ResourceList)],
    ) -> Result<Vec<String>, Status> {
        let mut conflicted = Vec::new();
        for (index, used) in changes {
            let Some(quota) = quotas.get(*index) else {
                continue;
            };
            let mut object = quota.object.clone();
            set_status_field(&mut object, "used", used);
            let written = self
                .state
                .update(
                    quota_resource,
                    namespace,
                    &quota.name,
                    object,
                    quota.revision,
                )
                .await?;
            if !written {
                conflicted.push(quota.name.clone());
            }
        }
        Ok(conflicted)
    }
}

/// The quotas named, read consistently from the store with their revisions; those deleted
/// meanwhile are left out.
async fn read_quotas(
    state: &dyn ClusterState,
    quota_resource: &'static Resource,
    namespace: &str,
    names: &[String],
) -> Result<Vec<Quota>, Status> {
    let mut quotas = Vec::with_capacity(names.len());
    for name in names {
        if let Some((object, revision)) = state.read(quota_resource, namespace, name).await? {
            quotas.push(Quota::new(name.clone(), object, revision));
        }
    }
    Ok(quotas)
}

fn quota_resource() -> Result<&'static Resource, Status> {
    resources::lookup("", "v1", "resourcequotas")
        .ok_or_else(|| Status::internal_error("resourcequotas are not served"))
}

// ---------------------------------------------------------------------------------------------
// Checking one write against the quotas

/// One write, as the check sees it.
struct Request<'a> {
    evaluator: &'a Evaluator,
    operation: Operation,
    object: &'a Value,
    old: Option<&'a Value>,
}

/// One quota as read: its status, its scopes, and what it was read at.
#[derive(Debug, Clone)]
struct Quota {
    name: String,
    object: Value,
    revision: i64,
    /// `status.hard`: what is enforced (the controller copies it from the spec).
    hard: ResourceList,
    /// `status.used`.
    used: ResourceList,
    /// `spec.scopes` (as `Exists` requirements) and `spec.scopeSelector`.
    scopes: Vec<ScopeRequirement>,
}

impl Quota {
    fn new(name: String, object: Value, revision: i64) -> Quota {
        let hard = resource_list(object.pointer("/status/hard"));
        let used = resource_list(object.pointer("/status/used"));
        let scopes = quota_scopes(&object);
        Quota {
            name,
            object,
            revision,
            hard,
            used,
            scopes,
        }
    }
}

/// Why a write is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    /// kube's `admission.NewForbidden`: a 403 naming the object.
    Forbidden(String),
    /// A plain Go error from the plugin, which kube-apiserver answers as a 500 without a
    /// reason.
    Unknown(String),
}

impl Refusal {
    /// The Status the client gets. kube names the object by its name, else its
    /// `generateName`, else `Unknown`.
    fn into_status(self, attrs: &Attributes, object: &Value) -> Status {
        match self {
            Refusal::Forbidden(message) => {
                let meta = |key: &str| {
                    object
                        .pointer(&format!("/metadata/{key}"))
                        .and_then(Value::as_str)
                };
                let name = [meta("name"), meta("generateName")]
                    .into_iter()
                    .flatten()
                    .find(|n| !n.is_empty())
                    .unwrap_or("Unknown");
                let gr = GroupResource::new(attrs.resource.group, attrs.resource.plural);
                Status::forbidden_with_message(&gr, name, &message)
            }
            Refusal::Unknown(message) => Status::failure(500, "", message),
        }
    }
}

/// kube's `CheckRequest`: the quotas the write touches, each checked; returns the new
/// `status.used` of each quota whose usage changes (by index into `quotas`).
fn check_request(
    quotas: &[Quota],
    request: &Request,
    limited: &[LimitedResource],
    resource: &Resource,
) -> Result<Vec<(usize, ResourceList)>, Refusal> {
    let (evaluator, object) = (request.evaluator, request.object);
    let touched = touched_quotas(quotas, evaluator, object)?;
    let usage = evaluator.usage(object);
    let negative: Vec<&str> = usage
        .iter()
        .filter(|(_, q)| q.is_negative())
        .map(|(name, _)| name.as_str())
        .collect();
    if !negative.is_empty() {
        return Err(Refusal::Forbidden(format!(
            "quota usage is negative for resource(s): {}",
            negative.join(",")
        )));
    }
    let deltas = deltas(quotas, &touched.indexes, request, &usage)?;
    if deltas.is_empty() {
        return Ok(Vec::new());
    }
    check_limited(limited, &touched, request, resource)?;
    charge(quotas, &deltas)
}

/// The quotas a write touches, and what they restrict.
struct Touched {
    /// Indexes of the quotas that limit the write.
    indexes: Vec<usize>,
    /// The resources those quotas restrict.
    resources: BTreeSet<String>,
    /// Every scope of every quota that the object is in.
    scopes: Vec<ScopeRequirement>,
}

/// The quotas whose status names a resource the write uses and whose scopes hold the
/// object; each must find what it needs in the object, and know its usage.
fn touched_quotas(
    quotas: &[Quota],
    evaluator: &Evaluator,
    object: &Value,
) -> Result<Touched, Refusal> {
    let mut touched = Touched {
        indexes: Vec::new(),
        resources: BTreeSet::new(),
        scopes: Vec::new(),
    };
    for (index, quota) in quotas.iter().enumerate() {
        touched
            .scopes
            .extend(evaluator.matching_scopes(object, &quota.scopes));
        if !evaluator.matches(quota, object) {
            continue;
        }
        let restricted = evaluator.matching_resources(quota.hard.keys().map(String::as_str));
        evaluator
            .constraints(&restricted, object)
            .map_err(|e| Refusal::Forbidden(format!("failed quota: {}: {e}", quota.name)))?;
        if !has_usage_stats(quota, &restricted) {
            return Err(Refusal::Forbidden(format!(
                "status unknown for quota: {}, resources: {}",
                quota.name,
                join(restricted.iter().map(String::as_str), ",")
            )));
        }
        touched.indexes.push(index);
        touched.resources.extend(restricted);
    }
    Ok(touched)
}

/// The configuration's `limitedResources`: what the write consumes of them, and the scopes
/// it is in, must be covered by a quota.
fn check_limited(
    limited: &[LimitedResource],
    touched: &Touched,
    request: &Request,
    resource: &Resource,
) -> Result<(), Refusal> {
    let (evaluator, object) = (request.evaluator, request.object);
    let names = limited_resource_names(evaluator, object, limited, resource);
    let uncovered: Vec<&str> = names
        .iter()
        .filter(|name| !touched.resources.contains(*name))
        .map(String::as_str)
        .collect();
    if !uncovered.is_empty() {
        return Err(Refusal::Forbidden(format!(
            "insufficient quota to consume: {}",
            uncovered.join(",")
        )));
    }
    let uncovered_scopes: Vec<String> = limited
        .iter()
        .flat_map(|l| evaluator.matching_scopes(object, &l.match_scopes))
        .filter(|l| !touched.scopes.iter().any(|r| r.scope == l.scope))
        .map(|l| l.go_format())
        .collect();
    if !uncovered_scopes.is_empty() {
        return Err(Refusal::Unknown(format!(
            "insufficient quota to match these scopes: [{}]",
            uncovered_scopes.join(" ")
        )));
    }
    Ok(())
}

/// The usage to charge each interesting quota: the object's whole usage on a create; on an
/// update the increase over the stored object's (for a quota the stored object matched too).
/// Zeros are dropped; an empty map means nothing to charge. When no quota is interesting the
/// map holds the write's usage under `usize::MAX`, so limited resources are still checked.
fn deltas(
    quotas: &[Quota],
    interesting: &[usize],
    request: &Request,
    usage: &ResourceList,
) -> Result<BTreeMap<usize, ResourceList>, Refusal> {
    const NO_QUOTA: usize = usize::MAX;
    let mut deltas: BTreeMap<usize, ResourceList> =
        interesting.iter().map(|&i| (i, usage.clone())).collect();
    let mut no_quota = ResourceList::new();
    if request.operation == Operation::Create && interesting.is_empty() {
        no_quota = usage.clone();
    }
    if request.operation == Operation::Update {
        let Some(old) = request.old else {
            return Err(Refusal::Forbidden(
                "unable to get previous usage since prior version of object was not found".into(),
            ));
        };
        if has_resource_version(old) {
            let delta = subtract_non_negative(usage, &request.evaluator.usage(old));
            if interesting.is_empty() {
                no_quota = delta.clone();
            }
            for &i in interesting {
                if quotas
                    .get(i)
                    .is_some_and(|q| request.evaluator.matches(q, old))
                {
                    deltas.insert(i, delta.clone());
                }
            }
        } else if interesting.is_empty() {
            no_quota = usage.clone();
        }
    }
    deltas.values_mut().for_each(remove_zeros);
    deltas.retain(|_, delta| !delta.is_empty());
    if interesting.is_empty() {
        remove_zeros(&mut no_quota);
        if !no_quota.is_empty() {
            deltas.insert(NO_QUOTA, no_quota);
        }
    }
    Ok(deltas)
}

/// Adds each delta to its quota's usage, refusing what would pass `status.hard`; returns the
/// usages that changed.
fn charge(
    quotas: &[Quota],
    deltas: &BTreeMap<usize, ResourceList>,
) -> Result<Vec<(usize, ResourceList)>, Refusal> {
    let mut changes = Vec::new();
    for (&index, delta) in deltas {
        let Some(quota) = quotas.get(index) else {
            continue;
        };
        let requested = mask(delta, quota.hard.keys());
        let new_used = add(&quota.used, &requested);
        let exceeded: Vec<&String> = requested
            .keys()
            .filter(|name| match (new_used.get(*name), quota.hard.get(*name)) {
                (Some(used), Some(hard)) => used > hard,
                _ => false,
            })
            .collect();
        if !exceeded.is_empty() {
            return Err(Refusal::Forbidden(format!(
                "exceeded quota: {}, requested: {}, used: {}, limited: {}",
                quota.name,
                pretty(&mask(&requested, exceeded.iter().copied())),
                pretty(&mask(&quota.used, exceeded.iter().copied())),
                pretty(&mask(&quota.hard, exceeded.iter().copied())),
            )));
        }
        if new_used != quota.used {
            changes.push((index, new_used));
        }
    }
    Ok(changes)
}

/// `hasUsageStats`: every resource the quota enforces and the write touches has a usage.
fn has_usage_stats(quota: &Quota, restricted: &BTreeSet<String>) -> bool {
    quota
        .hard
        .keys()
        .filter(|name| restricted.contains(*name))
        .all(|name| quota.used.contains_key(name))
}

/// `limitedByDefault`: the resources the write consumes that the configuration says need a
/// covering quota.
fn limited_resource_names(
    evaluator: &Evaluator,
    object: &Value,
    limited: &[LimitedResource],
    resource: &Resource,
) -> BTreeSet<String> {
    let mine: Vec<&LimitedResource> = limited
        .iter()
        .filter(|l| l.api_group == resource.group && l.resource == resource.plural)
        .collect();
    if mine.is_empty() {
        return BTreeSet::new();
    }
    let usage = evaluator.usage(object);
    let mut names = BTreeSet::new();
    for limited in mine {
        for (name, quantity) in &usage {
            if quantity.is_positive()
                && limited
                    .match_contains
                    .iter()
                    .any(|m| name.contains(m.as_str()))
            {
                names.insert(name.clone());
            }
        }
    }
    names
}

fn has_resource_version(object: &Value) -> bool {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .is_some_and(|rv| !rv.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Evaluators: what a write of each kind uses

/// How a kind's usage is measured (kube's `quota.Evaluator`s).
#[derive(Debug, Clone)]
struct Evaluator {
    resource: &'static Resource,
    kind: EvaluatorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum EvaluatorKind {
    Pods,
    Services,
    /// Object counts: one of each of these names per object.
    Count(Vec<String>),
}

impl Evaluator {
    /// The evaluator of a stored, namespaced, tracked resource.
    fn for_resource(resource: &'static Resource) -> Option<Evaluator> {
        let ignored = IGNORED_RESOURCES
            .iter()
            .any(|(group, plural)| resource.group == *group && resource.plural == *plural);
        if ignored || !resource.is_stored() || !resource.is_namespaced() {
            return None;
        }
        let kind = match (resource.group, resource.plural) {
            ("", "pods") => EvaluatorKind::Pods,
            ("", "services") => EvaluatorKind::Services,
            _ => EvaluatorKind::Count(count_names(resource)),
        };
        Some(Evaluator { resource, kind })
    }

    /// Pods are charged on create (a resize would change them, which kubesim does not
    /// serve); services on update too, since their type can change; counts on create.
    fn handles(&self, operation: Operation) -> bool {
        match self.kind {
            EvaluatorKind::Services => matches!(operation, Operation::Create | Operation::Update),
            EvaluatorKind::Pods | EvaluatorKind::Count(_) => operation == Operation::Create,
        }
    }

    /// `MatchingResources`: which of `names` this evaluator tracks.
    fn matching_resources<'a>(&self, names: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
        names
            .filter(|name| match &self.kind {
                EvaluatorKind::Pods => pod_tracks(name),
                EvaluatorKind::Services => SERVICE_RESOURCES.contains(name),
                EvaluatorKind::Count(counted) => counted.iter().any(|c| c == name),
            })
            .map(str::to_string)
            .collect()
    }

    /// `Matches`: the quota enforces something this evaluator tracks, and the object is in
    /// every one of its scopes.
    fn matches(&self, quota: &Quota, object: &Value) -> bool {
        let tracks = !self
            .matching_resources(quota.hard.keys().map(String::as_str))
            .is_empty();
        tracks && quota.scopes.iter().all(|s| self.matches_scope(s, object))
    }

    /// Only pods have scopes; any other object is in none (`MatchesNoScopeFunc`).
    fn matches_scope(&self, scope: &ScopeRequirement, object: &Value) -> bool {
        self.kind == EvaluatorKind::Pods && pod_matches_scope(scope, object)
    }

    /// `MatchingScopes`: those of `scopes` the object is in.
    fn matching_scopes(
        &self,
        object: &Value,
        scopes: &[ScopeRequirement],
    ) -> Vec<ScopeRequirement> {
        scopes
            .iter()
            .filter(|s| self.matches_scope(s, object))
            .cloned()
            .collect()
    }

    fn usage(&self, object: &Value) -> ResourceList {
        match &self.kind {
            EvaluatorKind::Pods => pod_usage(object),
            EvaluatorKind::Services => service_usage(object),
            EvaluatorKind::Count(names) => names
                .iter()
                .map(|name| (name.clone(), Quantity::from_int(1)))
                .collect(),
        }
    }

    /// `Constraints`: only pods have any.
    fn constraints(&self, required: &BTreeSet<String>, object: &Value) -> Result<(), String> {
        match self.kind {
            EvaluatorKind::Pods => pod_constraints(required, object),
            _ => Ok(()),
        }
    }
}

/// `count/<resource>` (core) or `count/<resource>.<group>`, and the legacy name if any.
fn count_names(resource: &Resource) -> Vec<String> {
    let mut names = vec![if resource.group.is_empty() {
        format!("count/{}", resource.plural)
    } else {
        format!("count/{}.{}", resource.plural, resource.group)
    }];
    if resource.group.is_empty()
        && let Some((_, legacy)) = LEGACY_COUNT_NAMES
            .iter()
            .find(|(p, _)| *p == resource.plural)
    {
        names.push((*legacy).to_string());
    }
    names
}

// --- Pods ------------------------------------------------------------------------------------

fn pod_tracks(name: &str) -> bool {
    POD_RESOURCES.contains(&name)
        || name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
        || (!is_native(name) && name.starts_with("requests."))
}

/// `PodUsageFunc`: `count/pods` always; the rest only while the pod is not terminal.
fn pod_usage(pod: &Value) -> ResourceList {
    let mut usage = ResourceList::from([("count/pods".to_string(), Quantity::from_int(1))]);
    let phase = text(pod, "/status/phase");
    if phase == "Succeeded" || phase == "Failed" {
        return usage;
    }
    let requests = pod_resources(pod, "requests");
    let limits = pod_resources(pod, "limits");
    add_into(&mut usage, &compute_usage(&requests, &limits));
    usage
}

/// `PodRequests` / `PodLimits`: the containers' sum, raised to what init containers need
/// while they run (each with the sidecars started before it), plus the pod overhead (added
/// to limits only where a limit is set).
fn pod_resources(pod: &Value, which: &str) -> ResourceList {
    let mut total = ResourceList::new();
    for container in items(pod, "/spec/containers") {
        add_into(
            &mut total,
            &container_resources(pod, container, which, true),
        );
    }
    let (mut sidecars, mut init_peak) = (ResourceList::new(), ResourceList::new());
    for container in items(pod, "/spec/initContainers") {
        let restartable = text(container, "/restartPolicy") == "Always";
        let own = container_resources(pod, container, which, restartable);
        let while_running = if restartable {
            add_into(&mut total, &own);
            add_into(&mut sidecars, &own);
            sidecars.clone()
        } else {
            add(&own, &sidecars)
        };
        max_into(&mut init_peak, &while_running);
    }
    max_into(&mut total, &init_peak);
    let overhead = resource_list(pod.pointer("/spec/overhead"));
    if which == "requests" {
        add_into(&mut total, &overhead);
    } else {
        for (name, extra) in overhead {
            if let Some(limit) = total.get_mut(&name)
                && !limit.is_zero()
            {
                *limit = sum(limit, &extra);
            }
        }
    }
    total
}

/// A container's requests or limits. With in-place resize (on in 1.33), a container whose
/// status reports resources counts the larger of what it asks and what it has (only what it
/// has, when the resize is infeasible).
fn container_resources(
    pod: &Value,
    container: &Value,
    which: &str,
    use_status: bool,
) -> ResourceList {
    let mut list = resource_list(container.pointer(&format!("/resources/{which}")));
    if !use_status {
        return list;
    }
    let name = text(container, "/name");
    let status = ["/status/containerStatuses", "/status/initContainerStatuses"]
        .iter()
        .flat_map(|path| items(pod, path))
        .find(|s| text(s, "/name") == name);
    let Some(status) = status.filter(|s| s.get("resources").is_some_and(Value::is_object)) else {
        return list;
    };
    if resize_infeasible(pod) {
        list.clear();
    }
    max_into(
        &mut list,
        &resource_list(status.pointer(&format!("/resources/{which}"))),
    );
    if which == "requests" {
        max_into(&mut list, &resource_list(status.get("allocatedResources")));
    }
    list
}

/// The `PodResizePending` condition with reason `Infeasible`.
fn resize_infeasible(pod: &Value) -> bool {
    items(pod, "/status/conditions")
        .iter()
        .find(|c| text(c, "/type") == "PodResizePending")
        .is_some_and(|c| text(c, "/reason") == "Infeasible")
}

/// `podComputeUsageHelper`: one pod, and what its requests and limits charge.
fn compute_usage(requests: &ResourceList, limits: &ResourceList) -> ResourceList {
    let mut usage = ResourceList::from([("pods".to_string(), Quantity::from_int(1))]);
    for resource in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(request) = requests.get(resource) {
            usage.insert(resource.to_string(), *request);
            usage.insert(format!("requests.{resource}"), *request);
        }
        if let Some(limit) = limits.get(resource) {
            usage.insert(format!("limits.{resource}"), *limit);
        }
    }
    for (name, request) in requests {
        if name.starts_with("hugepages-") {
            usage.insert(name.clone(), *request);
            usage.insert(format!("requests.{name}"), *request);
        }
        if is_extended(name) {
            usage.insert(format!("requests.{name}"), *request);
        }
    }
    usage
}

/// `Constraints`: a quota on cpu or memory requires every container and init container to
/// request (or limit) it: `must specify limits.cpu for: a,b; requests.memory for: a`.
fn pod_constraints(required: &BTreeSet<String>, pod: &Value) -> Result<(), String> {
    let required: Vec<&str> = required
        .iter()
        .map(String::as_str)
        .filter(|name| MUST_SPECIFY.contains(name))
        .collect();
    if required.is_empty() {
        return Ok(());
    }
    let mut missing: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let containers = items(pod, "/spec/containers")
        .iter()
        .chain(items(pod, "/spec/initContainers"));
    for container in containers {
        let requests = resource_list(container.pointer("/resources/requests"));
        let limits = resource_list(container.pointer("/resources/limits"));
        let usage = compute_usage(&requests, &limits);
        for name in &required {
            if !usage.contains_key(*name) {
                missing
                    .entry(name)
                    .or_default()
                    .insert(text(container, "/name"));
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let parts = missing
        .iter()
        .map(|(name, containers)| format!("{name} for: {}", join(containers.iter().copied(), ",")));
    Err(format!("must specify {}", join(parts, "; ")))
}

/// `podMatchesScopeFunc`.
fn pod_matches_scope(scope: &ScopeRequirement, pod: &Value) -> bool {
    match scope.scope.as_str() {
        "Terminating" => is_terminating(pod),
        "NotTerminating" => !is_terminating(pod),
        "BestEffort" => is_best_effort(pod),
        "NotBestEffort" => !is_best_effort(pod),
        "PriorityClass" => priority_class_matches(scope, text(pod, "/spec/priorityClassName")),
        "CrossNamespacePodAffinity" => uses_cross_namespace_affinity(pod),
        _ => false,
    }
}

/// A pod with an active deadline (`activeDeadlineSeconds >= 0`) is terminating.
fn is_terminating(pod: &Value) -> bool {
    pod.pointer("/spec/activeDeadlineSeconds")
        .and_then(Value::as_i64)
        .is_some_and(|seconds| seconds >= 0)
}

/// `GetPodQOS`: the QoS class in the status, else computed: best effort without any
/// positive cpu or memory request or limit.
fn is_best_effort(pod: &Value) -> bool {
    let class = text(pod, "/status/qosClass");
    if !class.is_empty() {
        return class == "BestEffort";
    }
    let containers = items(pod, "/spec/containers")
        .iter()
        .chain(items(pod, "/spec/initContainers"));
    !containers.into_iter().any(|c| {
        ["requests", "limits"].iter().any(|which| {
            let list = resource_list(c.pointer(&format!("/resources/{which}")));
            ["cpu", "memory"]
                .iter()
                .any(|name| list.get(*name).is_some_and(Quantity::is_positive))
        })
    })
}

/// A PriorityClass requirement over the label set `{PriorityClass: <class>}` (empty
/// without a class).
fn priority_class_matches(scope: &ScopeRequirement, class: &str) -> bool {
    let listed = scope.values.iter().any(|v| v == class);
    match scope.operator.as_str() {
        "Exists" => !class.is_empty(),
        "DoesNotExist" => class.is_empty(),
        "In" => !class.is_empty() && listed,
        "NotIn" => class.is_empty() || !listed,
        _ => false,
    }
}

/// A pod (anti-)affinity term that names namespaces or selects them.
fn uses_cross_namespace_affinity(pod: &Value) -> bool {
    let cross = |term: &Value| {
        !items(term, "/namespaces").is_empty()
            || term.get("namespaceSelector").is_some_and(|s| !s.is_null())
    };
    ["podAffinity", "podAntiAffinity"].iter().any(|kind| {
        let Some(affinity) = pod.pointer(&format!("/spec/affinity/{kind}")) else {
            return false;
        };
        let required = items(affinity, "/requiredDuringSchedulingIgnoredDuringExecution");
        let preferred = items(affinity, "/preferredDuringSchedulingIgnoredDuringExecution");
        required.iter().any(cross)
            || preferred
                .iter()
                .filter_map(|p| p.get("podAffinityTerm"))
                .any(cross)
    })
}

/// `IsNativeResource`: no domain, or a `kubernetes.io/` one.
fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// `IsExtendedResourceName`: a domain-prefixed resource whose quota name is valid.
fn is_extended(name: &str) -> bool {
    !is_native(name)
        && !name.starts_with("requests.")
        && is_qualified_name(&format!("requests.{name}")).is_empty()
}

// --- Services --------------------------------------------------------------------------------

/// The service evaluator's `Usage`: one service; node ports for NodePort and LoadBalancer
/// services (only explicit ones when load balancer node ports are off); one load balancer.
fn service_usage(service: &Value) -> ResourceList {
    let ports = items(service, "/spec/ports");
    let mut usage = ResourceList::from([
        ("count/services".to_string(), Quantity::from_int(1)),
        ("services".to_string(), Quantity::from_int(1)),
        ("services.loadbalancers".to_string(), Quantity::zero()),
        ("services.nodeports".to_string(), Quantity::zero()),
    ]);
    let count = |n: usize| Quantity::from_int(i64::try_from(n).unwrap_or(i64::MAX));
    match text(service, "/spec/type") {
        "NodePort" => {
            usage.insert("services.nodeports".into(), count(ports.len()));
        }
        "LoadBalancer" => {
            let no_node_ports = service
                .pointer("/spec/allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                == Some(false);
            let node_ports = if no_node_ports {
                ports
                    .iter()
                    .filter(|p| {
                        p.get("nodePort")
                            .and_then(Value::as_i64)
                            .is_some_and(|n| n != 0)
                    })
                    .count()
            } else {
                ports.len()
            };
            usage.insert("services.nodeports".into(), count(node_ports));
            usage.insert("services.loadbalancers".into(), Quantity::from_int(1));
        }
        _ => {}
    }
    usage
}

// ---------------------------------------------------------------------------------------------
// Scopes and configuration

/// One `ScopedResourceSelectorRequirement`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ScopeRequirement {
    scope: String,
    operator: String,
    values: Vec<String>,
}

impl ScopeRequirement {
    fn parse(value: &Value) -> ScopeRequirement {
        ScopeRequirement {
            scope: text(value, "/scopeName").to_string(),
            operator: text(value, "/operator").to_string(),
            values: strings(value.get("values")),
        }
    }

    /// Go's `%v` of the struct: `{PriorityClass In [high low]}`.
    fn go_format(&self) -> String {
        format!(
            "{{{} {} [{}]}}",
            self.scope,
            self.operator,
            self.values.join(" ")
        )
    }
}

/// A quota's scopes (each an `Exists` requirement) and its scope selector's requirements.
fn quota_scopes(quota: &Value) -> Vec<ScopeRequirement> {
    let scopes = strings(quota.pointer("/spec/scopes"))
        .into_iter()
        .map(|scope| ScopeRequirement {
            scope,
            operator: "Exists".into(),
            values: Vec::new(),
        });
    let selector = items(quota, "/spec/scopeSelector/matchExpressions")
        .iter()
        .map(ScopeRequirement::parse);
    scopes.chain(selector).collect()
}

/// One `limitedResources` entry of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LimitedResource {
    api_group: String,
    resource: String,
    match_contains: Vec<String>,
    match_scopes: Vec<ScopeRequirement>,
}

/// kube's `ResourceQuotaConfiguration` (`apiserver.config.k8s.io/v1`, or the older
/// `resourcequota.admission.k8s.io` versions): `limitedResources`.
fn parse_configuration(configuration: &Value) -> Result<Vec<LimitedResource>, String> {
    const VERSIONS: &[&str] = &[
        "apiserver.config.k8s.io/v1",
        "resourcequota.admission.k8s.io/v1",
        "resourcequota.admission.k8s.io/v1beta1",
        "resourcequota.admission.k8s.io/v1alpha1",
    ];
    let kind = text(configuration, "/kind");
    let version = text(configuration, "/apiVersion");
    if (!kind.is_empty() && kind != "ResourceQuotaConfiguration")
        || (!version.is_empty() && !VERSIONS.contains(&version))
    {
        return Err(format!(
            "ResourceQuota: unexpected configuration {version}, Kind={kind}; want {}, Kind=ResourceQuotaConfiguration",
            VERSIONS[0]
        ));
    }
    let entries = items(configuration, "/limitedResources");
    if entries.len() > MAX_LIMITED_RESOURCES {
        return Err(format!(
            "ResourceQuota: {} limitedResources, more than the {MAX_LIMITED_RESOURCES} kubesim reads",
            entries.len()
        ));
    }
    let mut limited = Vec::with_capacity(entries.len());
    let mut missing = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let resource = text(entry, "/resource").to_string();
        if resource.is_empty() {
            missing.push(format!("limitedResources[{i}].resource: Required value"));
        }
        limited.push(LimitedResource {
            api_group: text(entry, "/apiGroup").to_string(),
            resource,
            match_contains: strings(entry.get("matchContains")),
            match_scopes: items(entry, "/matchScopes")
                .iter()
                .map(ScopeRequirement::parse)
                .collect(),
        });
    }
    match missing.as_slice() {
        [] => Ok(limited),
        [one] => Err(one.clone()),
        many => Err(format!("[{}]", many.join(", "))),
    }
}

// ---------------------------------------------------------------------------------------------
// The quota controller

/// kube's quota controller in miniature: forever, every `interval`, recompute each quota's
/// `status.hard` (its `spec.hard`) and `status.used` (from the objects in its namespace, as
/// the watch caches hold them) and write them when they differ. At most
/// [`MAX_QUOTAS_PER_PASS`] quotas a pass; the next pass goes on where this one stopped.
pub async fn run_controller(state: Arc<dyn ClusterState>, interval: Duration) {
    let mut cursor = 0;
    loop {
        cursor = sync_pass(&*state, cursor).await;
        tokio::time::sleep(interval).await;
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct PassReport {
    /// Quotas whose status was written.
    written: usize,
    /// Quotas whose status was current.
    unchanged: usize,
    /// Quotas left for the next pass (conflicts, errors).
    failed: usize,
}

/// One pass from `cursor` (an index into the quotas sorted by namespace and name); returns
/// where the next pass starts.
async fn sync_pass(state: &dyn ClusterState, cursor: usize) -> usize {
    let (next, report) = sync_some(state, cursor, MAX_QUOTAS_PER_PASS).await;
    if report.written > 0 || report.failed > 0 {
        tracing::debug!(?report, "resource quota controller pass");
    }
    next
}

async fn sync_some(state: &dyn ClusterState, cursor: usize, limit: usize) -> (usize, PassReport) {
    let mut report = PassReport::default();
    let Ok(quota_resource) = quota_resource() else {
        return (0, report);
    };
    let mut quotas = match state.list(quota_resource, "") {
        Ok((quotas, _)) => quotas,
        Err(status) => {
            tracing::warn!(message = %status.message, "resource quota controller: cannot list quotas");
            return (cursor, report);
        }
    };
    if quotas.is_empty() {
        return (0, report);
    }
    quotas.sort_by(|a, b| {
        (object_namespace(a), object_name(a)).cmp(&(object_namespace(b), object_name(b)))
    });
    let start = if cursor < quotas.len() { cursor } else { 0 };
    let count = quotas.len().min(limit);
    for offset in 0..count {
        let Some(cached) = quotas.get((start + offset) % quotas.len()) else {
            continue;
        };
        match sync_quota(state, quota_resource, cached).await {
            Ok(true) => report.written += 1,
            Ok(false) => report.unchanged += 1,
            Err(status) => {
                tracing::warn!(
                    namespace = object_namespace(cached),
                    quota = object_name(cached),
                    message = %status.message,
                    "resource quota controller: status not written"
                );
                report.failed += 1;
            }
        }
    }
    ((start + count) % quotas.len(), report)
}

/// kube's `syncResourceQuota` for one quota: `Ok(true)` when its status was written.
async fn sync_quota(
    state: &dyn ClusterState,
    quota_resource: &'static Resource,
    cached: &Value,
) -> Result<bool, Status> {
    let (namespace, name) = (object_namespace(cached), object_name(cached));
    // The cache decides cheaply whether anything is to be done; the write is then computed
    // from a consistent read and made at its revision.
    if status_current(cached, &computed_status(state, cached)?) {
        return Ok(false);
    }
    for _ in 0..MAX_SYNC_ATTEMPTS {
        let Some((mut object, revision)) = state.read(quota_resource, namespace, name).await?
        else {
            return Ok(false);
        };
        let status = computed_status(state, &object)?;
        if status_current(&object, &status) {
            return Ok(false);
        }
        if let Some(fields) = object.as_object_mut() {
            fields.insert("status".into(), status);
        }
        if state
            .update(quota_resource, namespace, name, object, revision)
            .await?
        {
            return Ok(true);
        }
    }
    let gr = GroupResource::new(quota_resource.group, quota_resource.plural);
    Err(Status::conflict_stale(&gr, name))
}

/// The status the controller wants: `hard` from the spec, `used` recomputed for what it can
/// measure and kept as it was for the rest, both limited to the hard resources.
fn computed_status(state: &dyn ClusterState, quota: &Value) -> Result<Value, Status> {
    let hard = resource_list(quota.pointer("/spec/hard"));
    let scopes = quota_scopes(quota);
    let mut used = resource_list(quota.pointer("/status/used"));
    used.extend(calculate_usage(
        state,
        object_namespace(quota),
        &hard,
        &scopes,
    )?);
    let used = mask(&used, hard.keys());
    let mut status = Map::new();
    if !hard.is_empty() {
        status.insert("hard".into(), list_to_json(&hard));
    }
    if !used.is_empty() {
        status.insert("used".into(), list_to_json(&used));
    }
    Ok(Value::Object(status))
}

/// kube's `CalculateUsage`: for each evaluator that tracks a resource of `hard`, the usage of
/// the namespace's objects in the quota's scopes (zero for a tracked resource nothing uses).
fn calculate_usage(
    state: &dyn ClusterState,
    namespace: &str,
    hard: &ResourceList,
    scopes: &[ScopeRequirement],
) -> Result<ResourceList, Status> {
    let mut usage = ResourceList::new();
    let mut matched = BTreeSet::new();
    for evaluator in all_evaluators() {
        let tracked = evaluator.matching_resources(hard.keys().map(String::as_str));
        if tracked.is_empty() {
            continue;
        }
        let mut stats: ResourceList = tracked
            .iter()
            .map(|n| (n.clone(), Quantity::zero()))
            .collect();
        let (objects, _) = state.list(evaluator.resource, namespace)?;
        for object in objects {
            if scopes.iter().all(|s| evaluator.matches_scope(s, &object)) {
                add_into(&mut stats, &evaluator.usage(&object));
            }
        }
        add_into(&mut usage, &stats);
        matched.extend(tracked);
    }
    Ok(mask(&usage, matched.iter()))
}

/// One evaluator per tracked resource (its preferred version).
fn all_evaluators() -> Vec<Evaluator> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut evaluators = Vec::new();
    for resource in RESOURCES {
        if seen.contains(&(resource.group, resource.plural)) {
            continue;
        }
        seen.push((resource.group, resource.plural));
        evaluators.extend(Evaluator::for_resource(resource));
    }
    evaluators
}

/// Whether a quota's status already says `wanted` (quantities compared by value).
fn status_current(quota: &Value, wanted: &Value) -> bool {
    ["hard", "used"].iter().all(|field| {
        let path = format!("/{field}");
        let current = quota.get("status").and_then(|s| s.pointer(&path));
        resource_list(current) == resource_list(wanted.pointer(&path))
            && current.is_some() == wanted.pointer(&path).is_some()
    })
}

// ---------------------------------------------------------------------------------------------
// Resource lists (kube's `quota` helpers) and JSON

/// A resource map from JSON; unparsable quantities (which validation refuses) are left out.
fn resource_list(value: Option<&Value>) -> ResourceList {
    value
        .and_then(Value::as_object)
        .map(|entries| {
            entries
                .iter()
                .filter_map(|(name, q)| Some((name.clone(), Quantity::from_json(q)?)))
                .collect()
        })
        .unwrap_or_default()
}

fn list_to_json(list: &ResourceList) -> Value {
    Value::Object(
        list.iter()
            .map(|(name, q)| (name.clone(), q.to_json()))
            .collect(),
    )
}

/// Sets `status.<field>` of a quota object.
fn set_status_field(quota: &mut Value, field: &str, list: &ResourceList) {
    let Some(fields) = quota.as_object_mut() else {
        return;
    };
    let status = fields.entry("status").or_insert_with(|| json!({}));
    if !status.is_object() {
        *status = json!({});
    }
    if let Some(status) = status.as_object_mut() {
        status.insert(field.to_string(), list_to_json(list));
    }
}

/// `a + b`, saturating rather than failing on overflow.
fn sum(a: &Quantity, b: &Quantity) -> Quantity {
    a.checked_add(b)
        .unwrap_or_else(|| Quantity::from_nanos(a.nanos().saturating_add(b.nanos()), a.format()))
}

/// `quota.Add`.
fn add(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = a.clone();
    add_into(&mut out, b);
    out
}

fn add_into(total: &mut ResourceList, more: &ResourceList) {
    for (name, q) in more {
        let updated = match total.get(name) {
            Some(current) => sum(current, q),
            None => *q,
        };
        total.insert(name.clone(), updated);
    }
}

/// Raises each entry of `total` to that of `other` where `other` is larger.
fn max_into(total: &mut ResourceList, other: &ResourceList) {
    for (name, q) in other {
        if total.get(name).is_none_or(|current| q > current) {
            total.insert(name.clone(), *q);
        }
    }
}

/// `quota.SubtractWithNonNegativeResult`: `a - b`, negatives as zero, over both key sets.
fn subtract_non_negative(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = ResourceList::new();
    for (name, q) in a {
        let diff = match b.get(name) {
            Some(other) => q.checked_sub(other).unwrap_or(Quantity::zero()),
            None => *q,
        };
        out.insert(
            name.clone(),
            if diff.is_positive() {
                diff
            } else {
                Quantity::zero()
            },
        );
    }
    for name in b.keys() {
        out.entry(name.clone()).or_insert(Quantity::zero());
    }
    out
}

fn remove_zeros(list: &mut ResourceList) {
    list.retain(|_, q| !q.is_zero());
}

/// `quota.Mask`: the entries of `list` whose names are in `names`.
fn mask<'a>(list: &ResourceList, names: impl IntoIterator<Item = &'a String>) -> ResourceList {
    names
        .into_iter()
        .filter_map(|name| Some((name.clone(), *list.get(name)?)))
        .collect()
}

/// kube's `prettyPrint`: `name=quantity` sorted by name, comma-separated.
fn pretty(list: &ResourceList) -> String {
    join(
        list.iter()
            .map(|(name, q)| format!("{name}={}", q.canonical())),
        ",",
    )
}

fn join<T: AsRef<str>>(parts: impl Iterator<Item = T>, separator: &str) -> String {
    let mut out = String::new();
    for (i, part) in parts.enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        out.push_str(part.as_ref());
    }
    out
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn items<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn object_name(object: &Value) -> &str {
    text(object, "/metadata/name")
}

fn object_namespace(object: &Value) -> &str {
    text(object, "/metadata/namespace")
}

#[cfg(test)]
#[path = "resource_quota_tests.rs"]
mod tests;
