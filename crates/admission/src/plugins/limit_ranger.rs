//! LimitRanger (kube's `plugin/pkg/admission/limitranger`), mutating and validating: the
//! LimitRange objects of the pod's namespace give its containers defaults and bounds.
//!
//! - Mutating: each LimitRange's `Container` items give the containers and init containers
//!   the `default` limits and `defaultRequest` requests they lack, and the pod the annotation
//!   `kubernetes.io/limit-ranger: LimitRanger plugin set: cpu, memory request for container
//!   web; cpu limit for container web` (each LimitRange that sets something rewrites it).
//! - Validating: `min`, `max` and `maxLimitRequestRatio` of `Container` items hold for every
//!   container and init container, and those of `Pod` items for the pod's total (containers
//!   summed, init containers at their peak, sidecars counted with both); the first LimitRange
//!   broken refuses the pod with 403 and every message of that LimitRange (`maximum cpu usage
//!   per Container is 1, but limit is 2`).
//!
//! It runs on pod CREATE and on UPDATE of `pods/resize` (in-place resize), never on other
//! updates (container resources are immutable there) nor on a pod being deleted.
//! `PersistentVolumeClaim` items are not checked: kubesim serves no PersistentVolumeClaims.
//! The LimitRanges come from the watch cache; kube also lists them live when its cache has
//! none, which kubesim's cache (read after its own writes) does not need. A cluster that does
//! not serve `limitranges` has none.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use kubesim_api::Status;
use kubesim_api::kind_validation::quantity::Quantity;
use serde_json::{Map, Value, json};

use super::forbidden_object;
use crate::{Attributes, ClusterState, Operation, Plugin, Record};

/// The annotation that says what the plugin set.
pub const LIMIT_RANGER_ANNOTATION: &str = "kubernetes.io/limit-ranger";
const CONTAINER: &str = "Container";
const POD: &str = "Pod";
/// `resource.MaxMilliValue`: past it, comparisons use whole units, not milli-units.
const MAX_MILLI_VALUE: i128 = (i64::MAX / 1000) as i128;

/// A resource list (`cpu` → `500m`), ordered by name so messages come in a stable order
/// (kube's come in Go's map order).
type Resources = BTreeMap<String, Quantity>;

pub struct LimitRanger {
    state: Arc<dyn ClusterState>,
}

impl LimitRanger {
    pub fn new(state: Arc<dyn ClusterState>) -> LimitRanger {
        LimitRanger { state }
    }

    /// `runLimitFunc`'s common part: whether this write is limited at all, and by which
    /// LimitRanges. The error is the message of kube's 403 when they cannot be listed.
    fn limit_ranges(&self, attrs: &Attributes) -> Result<Vec<LimitRange>, String> {
        if !self.handles(attrs) || old_object_is_deleting(attrs) {
            return Ok(Vec::new());
        }
        let Some(resource) = kubesim_api::resources::lookup("", "v1", "limitranges") else {
            return Ok(Vec::new());
        };
        let (items, _) = self.state.list(resource, &attrs.namespace).map_err(|_| {
            format!(
                "unable to {} /v1, Resource=pods at this time because there was an error enforcing limit ranges",
                attrs.operation.as_str()
            )
        })?;
        Ok(items.iter().map(|item| LimitRange::parse(item)).collect())
    }
}

impl Plugin for LimitRanger {
    fn name(&self) -> &'static str {
        super::LIMIT_RANGER
    }

    /// `SupportsAttributes`: pods on CREATE, `pods/resize` on UPDATE.
    fn handles(&self, attrs: &Attributes) -> bool {
        let pods = attrs.resource.group.is_empty() && attrs.resource.plural == "pods";
        pods && match attrs.subresource.as_str() {
            "" => attrs.operation == Operation::Create,
            "resize" => attrs.operation == Operation::Update,
            _ => false,
        }
    }

    fn mutates(&self) -> bool {
        true
    }

    fn validates(&self) -> bool {
        true
    }

    fn admit<'a>(
        &'a self,
        attrs: &'a Attributes,
        object: Option<&'a mut Value>,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let Some(pod) = object else {
                return Ok(());
            };
            let ranges = self
                .limit_ranges(attrs)
                .map_err(|m| forbidden_object(attrs, Some(pod), &m))?;
            if !ranges.is_empty() {
                // The pod's requests and qosClass follow the resources set here.
                record.note_resources_defaulted();
            }
            for range in ranges {
                apply_defaults(&range, pod);
            }
            Ok(())
        })
    }

    fn validate<'a>(
        &'a self,
        attrs: &'a Attributes,
        object: Option<&'a Value>,
        _record: &'a Record,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let Some(pod) = object else {
                return Ok(());
            };
            let ranges = self
                .limit_ranges(attrs)
                .map_err(|m| forbidden_object(attrs, Some(pod), &m))?;
            for range in ranges {
                let errors = check_pod(&range, pod);
                if !errors.is_empty() {
                    return Err(forbidden_object(attrs, Some(pod), &aggregate(&errors)));
                }
            }
            Ok(())
        })
    }
}

/// kube ignores writes to an object already marked for deletion.
fn old_object_is_deleting(attrs: &Attributes) -> bool {
    attrs
        .old_object
        .as_ref()
        .and_then(|old| old.pointer("/metadata/deletionTimestamp"))
        .is_some_and(|t| !t.is_null())
}

/// One LimitRange's `spec.limits`, parsed.
struct LimitRange {
    items: Vec<Item>,
}

/// A `LimitRangeItem`.
#[derive(Default)]
struct Item {
    kind: String,
    max: Resources,
    min: Resources,
    default: Resources,
    default_request: Resources,
    max_limit_request_ratio: Resources,
}

impl LimitRange {
    fn parse(object: &Value) -> LimitRange {
        let limits = object.pointer("/spec/limits").and_then(Value::as_array);
        let items = limits.into_iter().flatten().map(Item::parse).collect();
        LimitRange { items }
    }
}

impl Item {
    fn parse(item: &Value) -> Item {
        let mut parsed = Item {
            kind: item
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            max: resources(item.get("max")),
            min: resources(item.get("min")),
            default: resources(item.get("default")),
            default_request: resources(item.get("defaultRequest")),
            max_limit_request_ratio: resources(item.get("maxLimitRequestRatio")),
        };
        parsed.set_defaults();
        parsed
    }

    /// `SetDefaults_LimitRangeItem`, which kube applies when a LimitRange is written; again
    /// here (it changes nothing the second time) so a LimitRange stored without them acts
    /// as kube's would: `default` from `max`, `defaultRequest` from `default`, then `min`.
    fn set_defaults(&mut self) {
        if self.kind != CONTAINER {
            return;
        }
        for (name, q) in &self.max {
            self.default.entry(name.clone()).or_insert(*q);
        }
        for (name, q) in &self.default {
            self.default_request.entry(name.clone()).or_insert(*q);
        }
        for (name, q) in &self.min {
            self.default_request.entry(name.clone()).or_insert(*q);
        }
    }
}

/// A resource list from JSON; values that are not quantities are left out (kube's decoder
/// would have refused the object before admission).
fn resources(list: Option<&Value>) -> Resources {
    list.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, q)| Some((name.clone(), Quantity::from_json(q)?)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Mutating: defaults

/// `PodMutateLimitFunc`: the Container items' defaults (a later item's win), into every
/// container and init container lacking them, and the annotation saying what was set.
fn apply_defaults(range: &LimitRange, pod: &mut Value) {
    let (mut requests, mut limits) = (Resources::new(), Resources::new());
    for item in range.items.iter().filter(|i| i.kind == CONTAINER) {
        requests.extend(item.default_request.iter().map(|(k, v)| (k.clone(), *v)));
        limits.extend(item.default.iter().map(|(k, v)| (k.clone(), *v)));
    }
    let mut notes = Vec::new();
    for (key, what) in [
        ("containers", "container"),
        ("initContainers", "init container"),
    ] {
        let list = pod
            .pointer_mut(&format!("/spec/{key}"))
            .and_then(Value::as_array_mut);
        for container in list.into_iter().flatten().filter_map(Value::as_object_mut) {
            merge_container(container, &requests, &limits, what, &mut notes);
        }
    }
    if notes.is_empty() {
        return;
    }
    let text = format!("LimitRanger plugin set: {}", notes.join("; "));
    if let Some(annotations) = annotations_mut(pod) {
        annotations.insert(LIMIT_RANGER_ANNOTATION.into(), Value::String(text));
    }
}

/// `mergeContainerResources`: fills what the container lacks; notes `cpu, memory request for
/// container web` and `cpu limit for container web`.
fn merge_container(
    container: &mut Map<String, Value>,
    requests: &Resources,
    limits: &Resources,
    what: &str,
    notes: &mut Vec<String>,
) {
    let name = container
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let set_limits = fill(container, "limits", limits);
    let set_requests = fill(container, "requests", requests);
    // Names come sorted: the defaults are ordered by name.
    if !set_requests.is_empty() {
        notes.push(format!(
            "{} request for {what} {name}",
            set_requests.join(", ")
        ));
    }
    if !set_limits.is_empty() {
        notes.push(format!("{} limit for {what} {name}", set_limits.join(", ")));
    }
}

/// Sets each of `defaults` missing from `resources.<key>`; returns the names set.
fn fill(container: &mut Map<String, Value>, key: &str, defaults: &Resources) -> Vec<String> {
    let present = |name: &str, c: &Map<String, Value>| {
        c.get("resources")
            .and_then(|r| r.get(key))
            .and_then(Value::as_object)
            .is_some_and(|list| list.contains_key(name))
    };
    let missing: Vec<&String> = defaults.keys().filter(|n| !present(n, container)).collect();
    if missing.is_empty() {
        return Vec::new();
    }
    let Some(list) = object_at(container, &["resources", key]) else {
        return Vec::new();
    };
    for name in &missing {
        if let Some(q) = defaults.get(*name) {
            list.insert((*name).clone(), Value::String(q.canonical()));
        }
    }
    missing.into_iter().cloned().collect()
}

/// The object at `path` below `map`, made (or replacing a non-object) where missing.
fn object_at<'a>(
    map: &'a mut Map<String, Value>,
    path: &[&str],
) -> Option<&'a mut Map<String, Value>> {
    let (first, rest) = path.split_first()?;
    let entry = map.entry(*first).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    let next = entry.as_object_mut()?;
    if rest.is_empty() {
        Some(next)
    } else {
        object_at(next, rest)
    }
}

fn annotations_mut(pod: &mut Value) -> Option<&mut Map<String, Value>> {
    object_at(pod.as_object_mut()?, &["metadata", "annotations"])
}

// ---------------------------------------------------------------------------------------------
// Validating: bounds

/// `PodValidateLimitFunc`: every message of one LimitRange, in kube's order (per item:
/// each container's min, max, ratio; then init containers; then the pod).
fn check_pod(range: &LimitRange, pod: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    for item in &range.items {
        if item.kind == CONTAINER {
            for key in ["containers", "initContainers"] {
                for container in containers(pod, key) {
                    let (requests, limits) = container_resources(container);
                    check_bounds(item, &requests, &limits, &mut errors);
                }
            }
        }
        if item.kind == POD {
            let (requests, limits) = pod_resources(pod);
            check_bounds(item, &requests, &limits, &mut errors);
        }
    }
    errors
}

fn check_bounds(item: &Item, requests: &Resources, limits: &Resources, errors: &mut Vec<String>) {
    let kind = item.kind.as_str();
    for (name, enforced) in &item.min {
        errors.extend(min_constraint(kind, name, enforced, requests, limits));
    }
    for (name, enforced) in &item.max {
        errors.extend(max_constraint(kind, name, enforced, requests, limits));
    }
    for (name, enforced) in &item.max_limit_request_ratio {
        errors.extend(ratio_constraint(kind, name, enforced, requests, limits));
    }
}

fn min_constraint(
    kind: &str,
    name: &str,
    enforced: &Quantity,
    requests: &Resources,
    limits: &Resources,
) -> Option<String> {
    let (request, limit) = (requests.get(name), limits.get(name));
    let (req, lim, min) = comparable(request, limit, enforced);
    let bound = enforced.canonical();
    let Some(request) = request else {
        return Some(format!(
            "minimum {name} usage per {kind} is {bound}.  No request is specified"
        ));
    };
    if req < min {
        return Some(format!(
            "minimum {name} usage per {kind} is {bound}, but request is {}",
            request.canonical()
        ));
    }
    match limit {
        Some(limit) if lim < min => Some(format!(
            "minimum {name} usage per {kind} is {bound}, but limit is {}",
            limit.canonical()
        )),
        _ => None,
    }
}

fn max_constraint(
    kind: &str,
    name: &str,
    enforced: &Quantity,
    requests: &Resources,
    limits: &Resources,
) -> Option<String> {
    let (request, limit) = (requests.get(name), limits.get(name));
    let (req, lim, max) = comparable(request, limit, enforced);
    let bound = enforced.canonical();
    let Some(limit) = limit else {
        return Some(format!(
            "maximum {name} usage per {kind} is {bound}.  No limit is specified"
        ));
    };
    if lim > max {
        return Some(format!(
            "maximum {name} usage per {kind} is {bound}, but limit is {}",
            limit.canonical()
        ));
    }
    match request {
        Some(request) if req > max => Some(format!(
            "maximum {name} usage per {kind} is {bound}, but request is {}",
            request.canonical()
        )),
        _ => None,
    }
}

fn ratio_constraint(
    kind: &str,
    name: &str,
    enforced: &Quantity,
    requests: &Resources,
    limits: &Resources,
) -> Option<String> {
    let (request, limit) = (requests.get(name), limits.get(name));
    let (req, lim, _) = comparable(request, limit, enforced);
    let bound = enforced.canonical();
    let prefix = format!("{name} max limit to request ratio per {kind} is {bound}");
    if request.is_none() || req == 0 {
        return Some(format!(
            "{prefix}, but no request is specified or request is 0"
        ));
    }
    if limit.is_none() || lim == 0 {
        return Some(format!("{prefix}, but no limit is specified or limit is 0"));
    }
    let shown = lim as f64 / req as f64;
    let (mut observed, mut allowed) = (shown, enforced.value() as f64);
    if enforced.value() <= MAX_MILLI_VALUE {
        observed *= 1000.0;
        allowed = enforced.milli_value() as f64;
    }
    (observed > allowed).then(|| format!("{prefix}, but provided ratio is {shown:.6}"))
}

/// `requestLimitEnforcedValues`: the three (a missing one as 0) in milli-units when none is
/// too large for that, else in whole units; both round away from zero, as kube's do.
fn comparable(
    request: Option<&Quantity>,
    limit: Option<&Quantity>,
    enforced: &Quantity,
) -> (i128, i128, i128) {
    let quantities = [request, limit, Some(enforced)];
    let units = quantities.map(|q| q.map_or(0, Quantity::value));
    let [r, l, e] = if units.iter().all(|u| *u <= MAX_MILLI_VALUE) {
        quantities.map(|q| q.map_or(0, Quantity::milli_value))
    } else {
        units
    };
    (r, l, e)
}

/// The objects of the list at `spec.<key>`.
fn containers<'a>(pod: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    pod.pointer(&format!("/spec/{key}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.is_object())
}

fn container_resources(container: &Value) -> (Resources, Resources) {
    (
        resources(container.pointer("/resources/requests")),
        resources(container.pointer("/resources/limits")),
    )
}

/// kube's `podRequests` and `podLimits` (spec only): containers summed, then each init
/// container with the sidecars started before it, the pod taking the larger of the two; a
/// sidecar (`restartPolicy: Always`) also adds to the containers' sum. Pod-level resources
/// (alpha in 1.33, off by default) are not read.
fn pod_resources(pod: &Value) -> (Resources, Resources) {
    let mut totals = [Resources::new(), Resources::new()];
    let mut sidecars = [Resources::new(), Resources::new()];
    let mut init_peak = [Resources::new(), Resources::new()];
    for container in containers(pod, "containers") {
        let (requests, limits) = container_resources(container);
        add(&mut totals[0], &requests);
        add(&mut totals[1], &limits);
    }
    for container in containers(pod, "initContainers") {
        let sidecar = container.get("restartPolicy").and_then(Value::as_str) == Some("Always");
        let (requests, limits) = container_resources(container);
        for (i, own) in [requests, limits].into_iter().enumerate() {
            let effective = if sidecar {
                add(&mut totals[i], &own);
                add(&mut sidecars[i], &own);
                sidecars[i].clone()
            } else {
                let mut with_sidecars = Resources::new();
                add(&mut with_sidecars, &own);
                add(&mut with_sidecars, &sidecars[i]);
                with_sidecars
            };
            take_max(&mut init_peak[i], &effective);
        }
    }
    let [mut requests, mut limits] = totals;
    take_max(&mut requests, &init_peak[0]);
    take_max(&mut limits, &init_peak[1]);
    (requests, limits)
}

/// `addResourceList` (`Quantity.Add`: the first operand's format, unless it is zero). A sum
/// past `i128` keeps the larger part; no real resource comes near.
fn add(list: &mut Resources, more: &Resources) {
    for (name, q) in more {
        let sum = match list.get(name) {
            None => *q,
            Some(have) => have.checked_add(q).unwrap_or(*have.max(q)),
        };
        list.insert(name.clone(), sum);
    }
}

/// `maxResourceList`: the larger of each.
fn take_max(list: &mut Resources, other: &Resources) {
    for (name, q) in other {
        if list.get(name).is_none_or(|have| q > have) {
            list.insert(name.clone(), *q);
        }
    }
}

/// `utilerrors.NewAggregate(...).Error()`: one message alone, several in brackets, each once.
fn aggregate(errors: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for e in errors {
        if !seen.contains(&e.as_str()) {
            seen.push(e);
        }
    }
    match seen.as_slice() {
        [one] => one.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::namespace_lifecycle::testing::{MemoryState, attrs, resource};
    use super::*;

    const NS: &str = "team";

    fn limit_range(name: &str, limits: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": name, "namespace": NS}, "spec": {"limits": limits}})
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": NS}, "spec": spec})
    }

    fn create() -> Attributes {
        attrs(resource("", "pods"), Operation::Create, NS, "web")
    }

    fn range(limits: Value) -> LimitRange {
        LimitRange::parse(&limit_range("r", limits))
    }

    fn q(text: &str) -> Quantity {
        kubesim_api::kind_validation::quantity::parse(text).unwrap()
    }

    fn list(entries: &[(&str, &str)]) -> Resources {
        entries.iter().map(|(k, v)| (k.to_string(), q(v))).collect()
    }

    #[test]
    fn defaults_fill_what_containers_lack_and_say_so() {
        let r = range(json!([{
            "type": "Container",
            "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "0.1", "memory": "128Mi"}
        }]));
        let mut object = pod(json!({
            "initContainers": [{"name": "init"}],
            "containers": [
                {"name": "app", "resources": {"requests": {"cpu": "200m"}}},
                {"name": "full", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}
            ]
        }));
        apply_defaults(&r, &mut object);
        assert_eq!(
            object["spec"]["containers"][0]["resources"],
            json!({"requests": {"cpu": "200m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}})
        );
        assert_eq!(
            object["spec"]["containers"][1]["resources"],
            json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}})
        );
        assert_eq!(
            object["spec"]["initContainers"][0]["resources"],
            json!({"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}})
        );
        assert_eq!(
            object["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
            "LimitRanger plugin set: memory request for container app; cpu, memory limit for container app; \
             cpu, memory request for init container init; cpu, memory limit for init container init"
        );
    }

    #[test]
    fn nothing_set_leaves_the_pod_unannotated() {
        let r = range(json!([{"type": "Container", "default": {"cpu": "1"}}]));
        let mut object = pod(
            json!({"containers": [{"name": "app", "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "1"}}}]}),
        );
        let before = object.clone();
        apply_defaults(&r, &mut object);
        assert_eq!(object, before);
    }

    #[test]
    fn item_defaults_follow_kube() {
        // max → default → defaultRequest; min → defaultRequest when still missing.
        let r =
            range(json!([{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]));
        let mut object = pod(json!({"containers": [{"name": "app"}]}));
        apply_defaults(&r, &mut object);
        assert_eq!(
            object["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "2"}, "requests": {"cpu": "2", "memory": "64Mi"}})
        );
        assert_eq!(
            object["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
            "LimitRanger plugin set: cpu, memory request for container app; cpu limit for container app"
        );
    }

    fn container_errors(
        limits: Value,
        requests: &[(&str, &str)],
        container_limits: &[(&str, &str)],
    ) -> Vec<String> {
        let r = range(limits);
        let mut resources = serde_json::Map::new();
        let to_json = |l: &[(&str, &str)]| -> Value {
            l.iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect::<Map<String, Value>>()
                .into()
        };
        if !requests.is_empty() {
            resources.insert("requests".into(), to_json(requests));
        }
        if !container_limits.is_empty() {
            resources.insert("limits".into(), to_json(container_limits));
        }
        check_pod(
            &r,
            &pod(json!({"containers": [{"name": "app", "resources": resources}]})),
        )
    }

    #[test]
    fn max_messages() {
        let max = json!([{"type": "Container", "max": {"cpu": "1"}}]);
        assert_eq!(
            container_errors(max.clone(), &[("cpu", "500m")], &[("cpu", "2")]),
            ["maximum cpu usage per Container is 1, but limit is 2"]
        );
        assert_eq!(
            container_errors(max.clone(), &[("cpu", "500m")], &[]),
            ["maximum cpu usage per Container is 1.  No limit is specified"]
        );
        assert_eq!(
            container_errors(max.clone(), &[("cpu", "1500m")], &[("cpu", "1")]),
            ["maximum cpu usage per Container is 1, but request is 1500m"]
        );
        assert!(container_errors(max, &[("cpu", "1")], &[("cpu", "1000m")]).is_empty());
    }

    #[test]
    fn min_messages() {
        let min = json!([{"type": "Container", "min": {"memory": "64Mi"}}]);
        assert_eq!(
            container_errors(min.clone(), &[], &[]),
            ["minimum memory usage per Container is 64Mi.  No request is specified"]
        );
        assert_eq!(
            container_errors(min.clone(), &[("memory", "32Mi")], &[]),
            ["minimum memory usage per Container is 64Mi, but request is 32Mi"]
        );
        assert_eq!(
            container_errors(min.clone(), &[("memory", "64Mi")], &[("memory", "1k")]),
            ["minimum memory usage per Container is 64Mi, but limit is 1k"]
        );
        assert!(container_errors(min, &[("memory", "64Mi")], &[("memory", "1Gi")]).is_empty());
    }

    #[test]
    fn ratio_messages() {
        let ratio = json!([{"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}}]);
        assert_eq!(
            container_errors(ratio.clone(), &[], &[("cpu", "1")]),
            [
                "cpu max limit to request ratio per Container is 2, but no request is specified or request is 0"
            ]
        );
        assert_eq!(
            container_errors(ratio.clone(), &[("cpu", "1")], &[]),
            [
                "cpu max limit to request ratio per Container is 2, but no limit is specified or limit is 0"
            ]
        );
        assert_eq!(
            container_errors(ratio.clone(), &[("cpu", "300m")], &[("cpu", "1")]),
            ["cpu max limit to request ratio per Container is 2, but provided ratio is 3.333333"]
        );
        assert!(container_errors(ratio, &[("cpu", "500m")], &[("cpu", "1")]).is_empty());
    }

    #[test]
    fn milli_precision_rounds_up_as_kube_does() {
        // 0.5m is 1m in milli-units, which is not below a minimum of 1m.
        let min = json!([{"type": "Container", "min": {"cpu": "1m"}}]);
        assert!(container_errors(min, &[("cpu", "0.5m")], &[]).is_empty());
        let tiny = json!([{"type": "Container", "max": {"cpu": "1m"}}]);
        assert!(container_errors(tiny, &[("cpu", "1n")], &[("cpu", "0.9m")]).is_empty());
    }

    #[test]
    fn every_broken_bound_is_reported_once_in_brackets() {
        let limits = json!([{"type": "Container", "max": {"cpu": "1", "memory": "1Gi"}}]);
        let r = range(limits);
        let object = pod(json!({"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "2", "memory": "2Gi"}}},
            {"name": "b", "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}
        ]}));
        let errors = check_pod(&r, &object);
        assert_eq!(
            aggregate(&errors),
            "[maximum cpu usage per Container is 1, but limit is 2, maximum memory usage per Container is 1Gi, but limit is 2Gi]"
        );
    }

    #[test]
    fn pod_totals_sum_containers_and_take_the_init_peak() {
        let object = pod(json!({
            "initContainers": [
                {"name": "big-init", "resources": {"requests": {"cpu": "3"}}},
                {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}, "limits": {"cpu": "1"}}}
            ],
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "2"}}},
                {"name": "b", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1"}}}
            ]
        }));
        let (requests, limits) = pod_resources(&object);
        // containers 1.5 + sidecar 0.5 = 2; the init peak (3) is larger.
        assert_eq!(
            requests.get("cpu").map(Quantity::canonical).as_deref(),
            Some("3")
        );
        assert_eq!(
            requests.get("memory").map(Quantity::canonical).as_deref(),
            Some("1Gi")
        );
        assert_eq!(
            limits.get("cpu").map(Quantity::canonical).as_deref(),
            Some("4")
        );
        let r = range(json!([{"type": "Pod", "max": {"cpu": "3500m"}}]));
        assert_eq!(
            check_pod(&r, &object),
            ["maximum cpu usage per Pod is 3500m, but limit is 4"]
        );
        assert_eq!(list(&[("cpu", "1")]).len(), 1);
    }

    #[test]
    fn sums_keep_the_first_format_unless_it_is_zero() {
        let mut total = list(&[("cpu", "500m")]);
        add(&mut total, &list(&[("cpu", "1")]));
        assert_eq!(total["cpu"].canonical(), "1500m");
        let mut total = list(&[("memory", "0")]);
        add(&mut total, &list(&[("memory", "1Gi")]));
        assert_eq!(total["memory"].canonical(), "1Gi");
    }

    #[tokio::test]
    async fn the_plugin_defaults_then_refuses_with_403() {
        let state = MemoryState::new();
        state.put(
            "limitranges",
            NS,
            limit_range(
                "cpu",
                json!([{"type": "Container", "max": {"cpu": "1"}, "default": {"cpu": "500m"}}]),
            ),
        );
        let p = LimitRanger::new(state.clone());
        let a = create();
        let mut object = pod(json!({"containers": [{"name": "app"}]}));
        p.admit(&a, Some(&mut object), &Record::default())
            .await
            .unwrap();
        assert_eq!(
            object["spec"]["containers"][0]["resources"]["limits"]["cpu"],
            "500m"
        );
        assert!(
            p.validate(&a, Some(&object), &Record::default())
                .await
                .is_ok()
        );

        let object =
            pod(json!({"containers": [{"name": "app", "resources": {"limits": {"cpu": "2"}}}]}));
        let status = p
            .validate(&a, Some(&object), &Record::default())
            .await
            .unwrap_err();
        assert_eq!(status.code, 403);
        assert_eq!(
            status.message,
            r#"pods "web" is forbidden: maximum cpu usage per Container is 1, but limit is 2"#
        );

        *state.list_error.lock().unwrap() = Some(Status::internal_error("cache down"));
        let status = p
            .validate(&a, Some(&object), &Record::default())
            .await
            .unwrap_err();
        assert_eq!(
            status.message,
            r#"pods "web" is forbidden: unable to CREATE /v1, Resource=pods at this time because there was an error enforcing limit ranges"#
        );
    }

    #[test]
    fn handles_pod_creates_and_resizes_only() {
        let p = LimitRanger::new(MemoryState::new());
        let mut a = create();
        assert!(p.handles(&a));
        a.operation = Operation::Update;
        assert!(!p.handles(&a));
        a.subresource = "resize".into();
        assert!(p.handles(&a));
        a.subresource = "status".into();
        assert!(!p.handles(&a));
        let cm = attrs(resource("", "configmaps"), Operation::Create, NS, "c");
        assert!(!p.handles(&cm));
        assert!(p.mutates() && p.validates());
    }

    #[tokio::test]
    async fn a_pod_being_deleted_is_not_limited() {
        let p = LimitRanger::new(MemoryState::new());
        let mut a = attrs(resource("", "pods"), Operation::Update, NS, "web");
        a.subresource = "resize".into();
        a.old_object = Some(json!({"metadata": {"deletionTimestamp": "2025-01-01T00:00:00Z"}}));
        assert!(old_object_is_deleting(&a));
        let object = pod(json!({"containers": []}));
        assert!(
            p.validate(&a, Some(&object), &Record::default())
                .await
                .is_ok()
        );
    }
}
