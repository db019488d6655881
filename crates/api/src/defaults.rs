//! Kubernetes' v1 defaults, applied to an object on create and update before validation, so
//! that what is stored (and what `kubectl get -o yaml` shows) is what kube-apiserver stores.
//!
//! Each kind follows kube's `SetDefaults_*` functions (`pkg/apis/core/v1/defaults.go`,
//! `apps/v1`, `rbac/v1`, `admissionregistration/v1`), plus what kube sets on the way to
//! storage that a client sees the same way:
//! - pods: `status` (phase Pending and the QoS class, as the pod strategy's
//!   `PrepareForCreate` sets them) and `priority: 0` / `preemptionPolicy:
//!   PreemptLowerPriority` (the Priority admission plugin, for pods without a priority class;
//!   [`admission_defaults`], apart from the rest because a create's managedFields are
//!   recorded between the two);
//! - services: `clusterIPs` from `clusterIP`, and the IP family fields the service registry
//!   fills in on a single-stack IPv4 cluster;
//! - secrets: `stringData` folded into `data` (kube's conversion does it);
//! - namespaces: the `kubernetes` finalizer the namespace strategy adds on create;
//! - nodes: `status.allocatable` copied from `status.capacity` when absent;
//! - limit ranges: a `Container` item's `default` from `max`, and its `defaultRequest` from
//!   `default`, then `min` (`SetDefaults_LimitRangeItem`);
//! - flow schemas and priority levels (`flowcontrol/v1`): a FlowSchema's
//!   `matchingPrecedence` (1000); a `limited` level's `nominalConcurrencyShares` (30, only when
//!   unset: an explicit 0 stays, the v1 meaning) and `lendablePercent` (0), its `queuing`
//!   numbers (64 queues, hand size 8, 50 per queue) when `queuing` is there; an `exempt`
//!   level's two numbers (0).
//!
//! Only absent fields are filled (a Go zero value counts as absent where kube's defaulter
//! tests for it), so applying the defaults twice changes nothing. Not done: the
//! ServiceAccount admission plugin's token volume, the DefaultTolerationSeconds plugin's
//! tolerations, rounding quantities up to milli-units, and Go's `creationTimestamp: null` in
//! pod templates.

use serde_json::{Map, Value, json};

use crate::fields;
use crate::kind_validation::base64;
use crate::kind_validation::quantity::Quantity;
use crate::kind_validation::volumes::SOURCES;
use crate::resources::Resource;

const RBAC: &str = "rbac.authorization.k8s.io";
const ADMISSION: &str = "admissionregistration.k8s.io";
const FLOWCONTROL: &str = "flowcontrol.apiserver.k8s.io";
/// `SecretVolumeSourceDefaultMode` and its siblings: 0644.
const DEFAULT_FILE_MODE: i64 = 0o644;
/// `DefaultClientIPServiceAffinitySeconds`: three hours.
const DEFAULT_AFFINITY_SECONDS: i64 = 10800;

/// Fills in the defaults of `resource`'s kind on `object` (v1 JSON): [`set_defaults`] and
/// then [`admission_defaults`]. Anything that is not a JSON object, and any field of an
/// unexpected type, is left as it is for validation to report.
pub fn apply_defaults(resource: &Resource, object: &mut Value) {
    set_defaults(resource, object);
    admission_defaults(resource, object);
}

/// What kube's in-tree mutating admission plugins set that kubesim sets as a default: a
/// pod's `priority` and `preemptionPolicy` (the Priority plugin, for a pod that names no
/// priority class). Kept apart from [`set_defaults`] because kube records a create's
/// managedFields before admission: these fields belong to no manager.
pub fn admission_defaults(resource: &Resource, object: &mut Value) {
    if (resource.group, resource.kind) != ("", "Pod") {
        return;
    }
    if let Some(spec) = object
        .as_object_mut()
        .and_then(|pod| object_mut(pod, "spec"))
    {
        pod_priority(spec);
    }
}

/// kube's `SetDefaults_*` for `resource`'s kind, and what the strategy's `PrepareForCreate`
/// sets that a client sees the same way (see the module's list): everything
/// [`apply_defaults`] does but [`admission_defaults`].
pub fn set_defaults(resource: &Resource, object: &mut Value) {
    let Some(obj) = object.as_object_mut() else {
        return;
    };
    match (resource.group, resource.kind) {
        ("", "Pod") => pod(obj),
        ("", "Service") => service(obj),
        ("", "Secret") => secret(obj),
        ("", "Namespace") => namespace(obj),
        ("", "Node") => node(obj),
        ("", "LimitRange") => limit_range(obj),
        ("apps", "Deployment") => deployment(obj),
        (RBAC, "RoleBinding" | "ClusterRoleBinding") => role_binding(obj),
        (ADMISSION, "MutatingWebhookConfiguration") => webhooks(obj, true),
        (ADMISSION, "ValidatingWebhookConfiguration") => webhooks(obj, false),
        (FLOWCONTROL, "FlowSchema") => flow_schema(obj),
        (FLOWCONTROL, "PriorityLevelConfiguration") => priority_level(obj),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Field helpers

/// Whether a field counts as unset: absent or `null`.
fn unset(map: &Map<String, Value>, key: &str) -> bool {
    fields::get(map, key).is_none_or(Value::is_null)
}

/// Sets a pointer field that is unset.
fn default_value(map: &mut Map<String, Value>, key: &str, value: Value) {
    if unset(map, key) {
        map.insert(key.to_string(), value);
    }
}

/// Sets a string field that is unset or empty (Go tests `== ""`).
fn default_str(map: &mut Map<String, Value>, key: &str, value: &str) {
    if fields::get(map, key).is_none_or(|v| v.is_null() || v.as_str() == Some("")) {
        map.insert(key.to_string(), Value::from(value));
    }
}

/// Sets an integer field that is unset or zero (Go tests `== 0`).
fn default_int(map: &mut Map<String, Value>, key: &str, value: i64) {
    if fields::get(map, key).is_none_or(|v| v.is_null() || v.as_i64() == Some(0)) {
        map.insert(key.to_string(), Value::from(value));
    }
}

fn str_of<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    fields::get(map, key)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The object at `key`, if it is one.
fn object_mut<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    fields::get_mut(map, key).and_then(Value::as_object_mut)
}

/// The object at `key`, created empty when unset; `None` when it has another type.
fn ensure_object<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    default_value(map, key, Value::Object(Map::new()));
    object_mut(map, key)
}

/// The objects in the list at `key` (items of other types skipped).
fn objects_mut<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    fields::get_mut(map, key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

// ---------------------------------------------------------------------------------------------
// Pods and pod specs

fn pod(pod: &mut Map<String, Value>) {
    let Some(spec) = ensure_object(pod, "spec") else {
        return;
    };
    pod_spec(spec);
    pod_only(spec);
    let qos = qos_class(spec);
    let Some(status) = ensure_object(pod, "status") else {
        return;
    };
    default_str(status, "phase", "Pending");
    // Computed, not defaulted (kube's pod strategy sets it in PrepareForCreate, after
    // admission): LimitRanger may have given the containers requests and limits since the
    // first pass of defaults. The resources it reads cannot change on update.
    status.insert("qosClass".into(), Value::String(qos.to_string()));
}

/// `SetDefaults_PodSpec` and the defaults of what a pod spec holds; for pods and templates.
fn pod_spec(spec: &mut Map<String, Value>) {
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_str(spec, "restartPolicy", "Always");
    default_value(spec, "securityContext", json!({}));
    default_value(spec, "terminationGracePeriodSeconds", json!(30));
    default_str(spec, "schedulerName", "default-scheduler");
    for key in ["containers", "initContainers", "ephemeralContainers"] {
        objects_mut(spec, key).for_each(container);
    }
    objects_mut(spec, "volumes").for_each(volume);
}

/// `SetDefaults_Pod`: what only pods (not templates) get.
fn pod_only(spec: &mut Map<String, Value>) {
    for key in ["containers", "initContainers"] {
        objects_mut(spec, key).for_each(requests_from_limits);
    }
    default_value(spec, "enableServiceLinks", json!(true));
    if fields::get(spec, "hostNetwork").and_then(Value::as_bool) == Some(true) {
        for key in ["containers", "initContainers"] {
            for c in objects_mut(spec, key) {
                objects_mut(c, "ports").for_each(|p| {
                    let container_port = p.get("containerPort").cloned().unwrap_or(json!(0));
                    default_int(p, "hostPort", container_port.as_i64().unwrap_or_default());
                });
            }
        }
    }
}

/// The Priority admission plugin, for a pod that names no priority class (and so gets the
/// priority of no class: kubesim serves no PriorityClasses).
fn pod_priority(spec: &mut Map<String, Value>) {
    if str_of(spec, "priorityClassName").is_empty() {
        default_value(spec, "priority", json!(0));
        default_value(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    }
}

/// A container's limits stand in for the requests it does not make.
fn requests_from_limits(c: &mut Map<String, Value>) {
    let Some(resources) = object_mut(c, "resources") else {
        return;
    };
    let Some(limits) = fields::get(resources, "limits")
        .and_then(Value::as_object)
        .cloned()
    else {
        return;
    };
    let Some(requests) = ensure_object(resources, "requests") else {
        return;
    };
    for (name, quantity) in limits {
        requests.entry(name).or_insert(quantity);
    }
}

/// `SetDefaults_Container` and the defaults of its ports, probes, hooks and env.
fn container(c: &mut Map<String, Value>) {
    if str_of(c, "imagePullPolicy").is_empty() {
        let policy = if image_tag(str_of(c, "image")) == "latest" {
            "Always"
        } else {
            "IfNotPresent"
        };
        c.insert("imagePullPolicy".into(), json!(policy));
    }
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    objects_mut(c, "ports").for_each(|p| default_str(p, "protocol", "TCP"));
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = object_mut(c, key) {
            probe_defaults(probe);
        }
    }
    if let Some(lifecycle) = object_mut(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(handler) = object_mut(lifecycle, hook) {
                http_get(handler);
            }
        }
    }
    for var in objects_mut(c, "env") {
        let field_ref = object_mut(var, "valueFrom").and_then(|v| object_mut(v, "fieldRef"));
        if let Some(field_ref) = field_ref {
            default_str(field_ref, "apiVersion", "v1");
        }
    }
}

/// The tag kube's `parsers.ParseImageName` finds: after the last ':' of the last path
/// component, before any digest; `latest` when there is neither tag nor digest.
fn image_tag(image: &str) -> &str {
    let (name, digest) = image.split_once('@').unwrap_or((image, ""));
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, tag)) => tag,
        None if digest.is_empty() => "latest",
        None => "",
    }
}

/// `SetDefaults_Probe` (zero means unset) and its HTTP action.
fn probe_defaults(probe: &mut Map<String, Value>) {
    default_int(probe, "timeoutSeconds", 1);
    default_int(probe, "periodSeconds", 10);
    default_int(probe, "successThreshold", 1);
    default_int(probe, "failureThreshold", 3);
    http_get(probe);
}

/// `SetDefaults_HTTPGetAction` on a handler's `httpGet`.
fn http_get(handler: &mut Map<String, Value>) {
    if let Some(action) = object_mut(handler, "httpGet") {
        default_str(action, "path", "/");
        default_str(action, "scheme", "HTTP");
    }
}

/// `SetDefaults_Volume` (no source means an emptyDir) and the defaults of its source.
fn volume(v: &mut Map<String, Value>) {
    if SOURCES.iter().all(|(key, _)| unset(v, key)) {
        v.insert("emptyDir".into(), json!({}));
    }
    for key in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(source) = object_mut(v, key) {
            default_value(source, "defaultMode", json!(DEFAULT_FILE_MODE));
        }
    }
    if let Some(host_path) = object_mut(v, "hostPath") {
        default_value(host_path, "type", json!(""));
    }
    if let Some(items) = object_mut(v, "downwardAPI") {
        field_refs(items);
    }
    if let Some(projected) = object_mut(v, "projected") {
        for source in objects_mut(projected, "sources") {
            if let Some(token) = object_mut(source, "serviceAccountToken") {
                default_value(token, "expirationSeconds", json!(3600));
            }
            if let Some(downward) = object_mut(source, "downwardAPI") {
                field_refs(downward);
            }
        }
    }
    let claim_spec = object_mut(v, "ephemeral")
        .and_then(|e| object_mut(e, "volumeClaimTemplate"))
        .and_then(|t| object_mut(t, "spec"));
    if let Some(spec) = claim_spec {
        default_value(spec, "volumeMode", json!("Filesystem"));
    }
}

/// `SetDefaults_ObjectFieldSelector` on each downward API item.
fn field_refs(downward: &mut Map<String, Value>) {
    for item in objects_mut(downward, "items") {
        if let Some(field_ref) = object_mut(item, "fieldRef") {
            default_str(field_ref, "apiVersion", "v1");
        }
    }
}

/// Summed quantities by resource name.
type Totals = Vec<(String, Quantity)>;

/// kube's `qos.ComputePodQOS`: BestEffort without any cpu or memory request or limit,
/// Guaranteed when every container limits both and the summed requests equal the summed
/// limits, Burstable otherwise. Zero and unparsable quantities do not count.
fn qos_class(spec: &Map<String, Value>) -> &'static str {
    let (mut requests, mut limits): (Totals, Totals) = (Vec::new(), Vec::new());
    let mut guaranteed = true;
    let containers = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| fields::get(spec, k).and_then(Value::as_array))
        .flatten();
    for c in containers {
        let resources = fields::field(c, "resources");
        let requested = resources.and_then(|r| fields::field(r, "requests"));
        add_quantities(requested, &mut requests);
        let limited = resources.and_then(|r| fields::field(r, "limits"));
        let found = add_quantities(limited, &mut limits);
        if !(found.contains(&"cpu") && found.contains(&"memory")) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    let matches = |(name, q): &(String, Quantity)| limits.iter().any(|(n, l)| n == name && l == q);
    if guaranteed && requests.iter().all(matches) && requests.len() == limits.len() {
        return "Guaranteed";
    }
    "Burstable"
}

/// Adds the positive cpu and memory quantities of a resource list to `totals`; returns
/// which of the two it had.
fn add_quantities(list: Option<&Value>, totals: &mut Totals) -> Vec<&'static str> {
    let mut found = Vec::new();
    let Some(list) = list.and_then(Value::as_object) else {
        return found;
    };
    for name in ["cpu", "memory"] {
        let Some(q) = list
            .get(name)
            .and_then(Quantity::from_json)
            .filter(Quantity::is_positive)
        else {
            continue;
        };
        found.push(name);
        match totals.iter_mut().find(|(n, _)| n == name) {
            Some((_, total)) => *total = total.checked_add(&q).unwrap_or(*total),
            None => totals.push((name.to_string(), q)),
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------
// Deployments

/// `SetDefaults_Deployment`, and the pod spec defaults of its template.
fn deployment(deployment: &mut Map<String, Value>) {
    let Some(spec) = ensure_object(deployment, "spec") else {
        return;
    };
    default_value(spec, "replicas", json!(1));
    if let Some(strategy) = ensure_object(spec, "strategy") {
        default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate"
            && let Some(rolling) = ensure_object(strategy, "rollingUpdate")
        {
            default_value(rolling, "maxUnavailable", json!("25%"));
            default_value(rolling, "maxSurge", json!("25%"));
        }
    }
    default_value(spec, "revisionHistoryLimit", json!(10));
    default_value(spec, "progressDeadlineSeconds", json!(600));
    let template_spec = ensure_object(spec, "template").and_then(|t| ensure_object(t, "spec"));
    if let Some(template_spec) = template_spec {
        pod_spec(template_spec);
    }
    default_value(deployment, "status", json!({}));
}

// ---------------------------------------------------------------------------------------------
// Services

/// `SetDefaults_Service`, plus the cluster IP and IP family fields (see the module doc).
fn service(service: &mut Map<String, Value>) {
    let Some(spec) = ensure_object(service, "spec") else {
        return;
    };
    session_affinity(spec);
    default_str(spec, "type", "ClusterIP");
    for port in objects_mut(spec, "ports") {
        default_str(port, "protocol", "TCP");
        let target_unset = match port.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(other) => other.as_i64() == Some(0),
        };
        if target_unset {
            let number = port.get("port").cloned().unwrap_or(json!(0));
            port.insert("targetPort".into(), number);
        }
    }
    let kind = str_of(spec, "type").to_string();
    let external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if matches!(kind.as_str(), "LoadBalancer" | "NodePort") || (kind == "ClusterIP" && external_ips)
    {
        default_str(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(kind.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP") {
        default_value(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if kind == "LoadBalancer" {
        default_value(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if kind != "ExternalName" {
        cluster_ips(spec);
    }
    if let Some(status) = ensure_object(service, "status") {
        default_value(status, "loadBalancer", json!({}));
    }
}

fn session_affinity(spec: &mut Map<String, Value>) {
    default_str(spec, "sessionAffinity", "None");
    match str_of(spec, "sessionAffinity") {
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => {
            let timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.pointer("/clientIP/timeoutSeconds"));
            if timeout.is_none_or(Value::is_null) {
                let config = json!({"clientIP": {"timeoutSeconds": DEFAULT_AFFINITY_SECONDS}});
                spec.insert("sessionAffinityConfig".into(), config);
            }
        }
        _ => {}
    }
}

/// `clusterIPs` from `clusterIP` (kube's `NormalizeClusterIPs` on create), and the IP
/// families of a single-stack IPv4 cluster. A headless service without a selector gets
/// both families, as kube gives it.
fn cluster_ips(spec: &mut Map<String, Value>) {
    let cluster_ip = str_of(spec, "clusterIP").to_string();
    let has_ips = spec
        .get("clusterIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if !cluster_ip.is_empty() && !has_ips {
        spec.insert("clusterIPs".into(), json!([cluster_ip]));
    }
    let no_selector = spec
        .get("selector")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    let has_families = spec
        .get("ipFamilies")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if cluster_ip == "None" && no_selector {
        default_value(spec, "ipFamilyPolicy", json!("RequireDualStack"));
        if !has_families {
            spec.insert("ipFamilies".into(), json!(["IPv4", "IPv6"]));
        }
        return;
    }
    default_value(spec, "ipFamilyPolicy", json!("SingleStack"));
    if !has_families {
        spec.insert("ipFamilies".into(), json!(["IPv4"]));
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets, namespaces, RBAC bindings, webhooks

/// `SetDefaults_Secret`, and `stringData` moved into `data` (base64), overriding.
fn secret(secret: &mut Map<String, Value>) {
    default_str(secret, "type", "Opaque");
    let Some(Value::Object(string_data)) = secret.remove("stringData") else {
        return;
    };
    let Some(data) = ensure_object(secret, "data") else {
        return;
    };
    for (key, value) in string_data {
        let text = value.as_str().unwrap_or_default();
        data.insert(key, Value::from(base64::encode(text.as_bytes())));
    }
}

/// `SetDefaults_Namespace` (the `kubernetes.io/metadata.name` label), the Active phase, and
/// on create (a namespace without a phase yet) the `kubernetes` finalizer.
/// `SetDefaults_NodeStatus`: what is allocatable defaults to the whole capacity.
fn node(node: &mut Map<String, Value>) {
    let Some(status) = node.get_mut("status").and_then(Value::as_object_mut) else {
        return;
    };
    if unset(status, "allocatable")
        && let Some(capacity) = status.get("capacity").filter(|c| c.is_object()).cloned()
    {
        status.insert("allocatable".into(), capacity);
    }
}

/// `SetDefaults_LimitRangeItem` on each item of a LimitRange: for containers, a resource
/// with a max and no default limit gets the max as its default, and one without a default
/// request gets the default limit, else the min. Quantities are copied as written.
fn limit_range(limit_range: &mut Map<String, Value>) {
    let Some(spec) = object_mut(limit_range, "spec") else {
        return;
    };
    for item in objects_mut(spec, "limits") {
        if item.get("type").and_then(Value::as_str) != Some("Container") {
            continue;
        }
        copy_missing(item, "max", "default");
        copy_missing(item, "default", "defaultRequest");
        copy_missing(item, "min", "defaultRequest");
    }
}

/// Copies the entries of the resource list `from` that `to` lacks into `to` (created when
/// there is something to copy; left alone when it is not an object).
fn copy_missing(item: &mut Map<String, Value>, from: &str, to: &str) {
    let Some(source) = item.get(from).and_then(Value::as_object) else {
        return;
    };
    let target = item.get(to).and_then(Value::as_object);
    let missing: Vec<(String, Value)> = source
        .iter()
        .filter(|(name, _)| !target.is_some_and(|t| t.contains_key(*name)))
        .map(|(name, q)| (name.clone(), q.clone()))
        .collect();
    if missing.is_empty() {
        return;
    }
    if let Some(target) = ensure_object(item, to) {
        target.extend(missing);
    }
}

fn namespace(ns: &mut Map<String, Value>) {
    let name = ns
        .get("metadata")
        .map(|m| str_of_value(m, "name"))
        .unwrap_or_default()
        .to_string();
    if !name.is_empty()
        && let Some(labels) = ensure_object(ns, "metadata").and_then(|m| ensure_object(m, "labels"))
    {
        labels.insert("kubernetes.io/metadata.name".into(), Value::from(name));
    }
    let creating = ns
        .get("status")
        .is_none_or(|s| str_of_value(s, "phase").is_empty());
    if creating
        && let Some(spec) = ensure_object(ns, "spec")
        && let Some(finalizers) = ensure_list(spec, "finalizers")
        && !finalizers.iter().any(|f| f.as_str() == Some("kubernetes"))
    {
        finalizers.push(json!("kubernetes"));
    }
    if let Some(status) = ensure_object(ns, "status") {
        default_str(status, "phase", "Active");
    }
}

fn str_of_value<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn ensure_list<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Vec<Value>> {
    default_value(map, key, json!([]));
    fields::get_mut(map, key).and_then(Value::as_array_mut)
}

/// `SetDefaults_RoleBinding` / `SetDefaults_ClusterRoleBinding` and `SetDefaults_Subject`.
fn role_binding(binding: &mut Map<String, Value>) {
    if let Some(role_ref) = object_mut(binding, "roleRef") {
        default_str(role_ref, "apiGroup", RBAC);
    }
    for subject in objects_mut(binding, "subjects") {
        if matches!(str_of(subject, "kind"), "User" | "Group") {
            default_str(subject, "apiGroup", RBAC);
        }
    }
}

/// `SetDefaults_MutatingWebhook` / `SetDefaults_ValidatingWebhook`, their rules and
/// service references. `sideEffects` and `admissionReviewVersions` have no default in v1.
fn webhooks(config: &mut Map<String, Value>, mutating: bool) {
    for hook in objects_mut(config, "webhooks") {
        default_value(hook, "failurePolicy", json!("Fail"));
        default_value(hook, "matchPolicy", json!("Equivalent"));
        default_value(hook, "namespaceSelector", json!({}));
        default_value(hook, "objectSelector", json!({}));
        default_value(hook, "timeoutSeconds", json!(10));
        if mutating {
            default_value(hook, "reinvocationPolicy", json!("Never"));
        }
        objects_mut(hook, "rules").for_each(|rule| default_value(rule, "scope", json!("*")));
        let service = object_mut(hook, "clientConfig").and_then(|c| object_mut(c, "service"));
        if let Some(service) = service {
            default_value(service, "port", json!(443));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// API Priority and Fairness (`pkg/apis/flowcontrol/v1/defaults.go`)

/// `SetDefaults_FlowSchemaSpec`: kube defaults the spec struct itself, so a schema without
/// a spec gets one with the default precedence (which validation then finds incomplete).
fn flow_schema(schema: &mut Map<String, Value>) {
    if let Some(spec) = ensure_object(schema, "spec") {
        // `FlowSchemaDefaultMatchingPrecedence`; Go tests `== 0`.
        default_int(spec, "matchingPrecedence", 1000);
    }
}

/// `SetObjectDefaults_PriorityLevelConfiguration`: each part is defaulted only when the
/// client sent it (they are pointers in Go); a `Limited` level without `limited` or a
/// `Queue` response without `queuing` is left for validation to refuse.
fn priority_level(level: &mut Map<String, Value>) {
    let Some(spec) = object_mut(level, "spec") else {
        return;
    };
    if let Some(limited) = object_mut(spec, "limited") {
        limited_level(limited);
    }
    if let Some(exempt) = object_mut(spec, "exempt") {
        // `SetDefaults_ExemptPriorityLevelConfiguration`: both pointers, both 0.
        default_value(exempt, "nominalConcurrencyShares", json!(0));
        default_value(exempt, "lendablePercent", json!(0));
    }
}

/// `SetDefaults_LimitedPriorityLevelConfiguration` and `SetDefaults_QueuingConfiguration`.
fn limited_level(limited: &mut Map<String, Value>) {
    // A pointer in v1: only an unset value becomes 30; 0 is a level that never runs
    // requests of its own (a "jail"), and stays.
    default_value(limited, "nominalConcurrencyShares", json!(30));
    default_value(limited, "lendablePercent", json!(0));
    let queuing = object_mut(limited, "limitResponse").and_then(|r| object_mut(r, "queuing"));
    if let Some(queuing) = queuing {
        // Plain int32s: Go tests `== 0`.
        default_int(queuing, "handSize", 8);
        default_int(queuing, "queues", 64);
        default_int(queuing, "queueLengthLimit", 50);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::resources::by_kind;

    fn defaulted(group: &str, kind: &str, mut object: Value) -> Value {
        let resource = by_kind(group, "v1", kind).expect("served kind");
        apply_defaults(resource, &mut object);
        let again = object.clone();
        apply_defaults(resource, &mut object);
        assert_eq!(object, again, "defaulting twice changes nothing");
        object
    }

    #[test]
    fn node_allocatable_defaults_to_capacity() {
        let capacity = json!({"cpu": "4", "memory": "8Gi", "pods": "110"});
        let node = defaulted(
            "",
            "Node",
            json!({"metadata": {"name": "n1"}, "status": {"capacity": capacity}}),
        );
        assert_eq!(node["status"]["allocatable"], capacity);
        let set = json!({"status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "3"}}});
        assert_eq!(defaulted("", "Node", set.clone()), set);
        let bare = json!({"metadata": {"name": "n1"}});
        assert_eq!(defaulted("", "Node", bare.clone()), bare);
    }

    #[test]
    fn a_minimal_pod() {
        let pod = defaulted(
            "",
            "Pod",
            json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}),
        );
        assert_eq!(
            pod,
            json!({
                "metadata": {"name": "web"},
                "spec": {
                    "containers": [{
                        "name": "web",
                        "image": "nginx",
                        "imagePullPolicy": "Always",
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                    }],
                    "dnsPolicy": "ClusterFirst",
                    "restartPolicy": "Always",
                    "securityContext": {},
                    "terminationGracePeriodSeconds": 30,
                    "schedulerName": "default-scheduler",
                    "enableServiceLinks": true,
                    "priority": 0,
                    "preemptionPolicy": "PreemptLowerPriority",
                },
                "status": {"phase": "Pending", "qosClass": "BestEffort"},
            })
        );
    }

    #[test]
    fn a_pods_priority_is_admissions_not_a_default() {
        let pods = by_kind("", "v1", "Pod").expect("served kind");
        let mut pod = json!({"spec": {"containers": [{"name": "web", "image": "nginx"}]}});
        set_defaults(pods, &mut pod);
        assert!(pod["spec"].get("priority").is_none(), "{pod}");
        assert!(pod["spec"].get("preemptionPolicy").is_none(), "{pod}");
        assert_eq!(pod["spec"]["enableServiceLinks"], true);
        admission_defaults(pods, &mut pod);
        assert_eq!(pod["spec"]["priority"], 0);
        assert_eq!(pod["spec"]["preemptionPolicy"], "PreemptLowerPriority");
        // A pod that names a class is left to the class (kubesim serves none).
        let mut classed = json!({"spec": {"priorityClassName": "high"}});
        admission_defaults(pods, &mut classed);
        assert_eq!(classed, json!({"spec": {"priorityClassName": "high"}}));
    }

    #[test]
    fn a_minimal_deployment() {
        let deployment = defaulted(
            "apps",
            "Deployment",
            json!({
                "metadata": {"name": "web"},
                "spec": {
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
                    },
                },
            }),
        );
        assert_eq!(
            deployment,
            json!({
                "metadata": {"name": "web"},
                "spec": {
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {
                            "containers": [{
                                "name": "web",
                                "image": "nginx:1.27",
                                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                                "imagePullPolicy": "IfNotPresent",
                                "terminationMessagePath": "/dev/termination-log",
                                "terminationMessagePolicy": "File",
                            }],
                            "dnsPolicy": "ClusterFirst",
                            "restartPolicy": "Always",
                            "securityContext": {},
                            "terminationGracePeriodSeconds": 30,
                            "schedulerName": "default-scheduler",
                        },
                    },
                    "replicas": 1,
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                    "revisionHistoryLimit": 10,
                    "progressDeadlineSeconds": 600,
                },
                "status": {},
            })
        );
    }

    #[test]
    fn pod_resources_probes_volumes_and_qos() {
        let pod = defaulted(
            "",
            "Pod",
            json!({"spec": {
                "hostNetwork": true,
                "containers": [{
                    "name": "a", "image": "reg:5000/a@sha256:abc",
                    "ports": [{"containerPort": 8080}],
                    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                    "readinessProbe": {"httpGet": {"port": 8080}},
                    "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                }],
                "volumes": [{"name": "v"}, {"name": "s", "secret": {"secretName": "x"}}],
            }}),
        );
        let c = &pod["spec"]["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(
            c["ports"][0],
            json!({"containerPort": 8080, "protocol": "TCP", "hostPort": 8080})
        );
        assert_eq!(
            c["resources"]["requests"],
            json!({"cpu": "1", "memory": "1Gi"})
        );
        assert_eq!(
            c["readinessProbe"],
            json!({"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                   "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(
            pod["spec"]["volumes"],
            json!([
                {"name": "v", "emptyDir": {}},
                {"name": "s", "secret": {"secretName": "x", "defaultMode": 420}},
            ])
        );
        assert_eq!(pod["status"]["qosClass"], "Guaranteed");
    }

    #[test]
    fn qos_classes() {
        let qos = |containers: Value| {
            let spec = json!({ "containers": containers });
            qos_class(spec.as_object().unwrap())
        };
        assert_eq!(
            qos(json!([{"resources": {"requests": {"cpu": "100m"}}}])),
            "Burstable"
        );
        assert_eq!(
            qos(
                json!([{"resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}}}])
            ),
            "Burstable"
        );
        assert_eq!(
            qos(
                json!([{"resources": {"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}])
            ),
            "Guaranteed"
        );
        assert_eq!(
            qos(json!([{"resources": {"limits": {"cpu": "0"}}}])),
            "BestEffort"
        );
        assert_eq!(qos(json!([{}])), "BestEffort");
    }

    #[test]
    fn limit_range_container_defaults() {
        let limits = defaulted(
            "",
            "LimitRange",
            json!({"spec": {"limits": [
                {"type": "Container", "max": {"cpu": "2", "memory": "1Gi"},
                 "min": {"cpu": "100m", "ephemeral-storage": "1Gi"},
                 "default": {"cpu": "500m"}},
                {"type": "Pod", "max": {"cpu": "4"}},
                {"type": "Container", "min": {"memory": "64Mi"}, "defaultRequest": {"memory": "128Mi"}},
                {"type": "Container"},
            ]}}),
        );
        assert_eq!(
            limits["spec"]["limits"],
            json!([
                {"type": "Container", "max": {"cpu": "2", "memory": "1Gi"},
                 "min": {"cpu": "100m", "ephemeral-storage": "1Gi"},
                 "default": {"cpu": "500m", "memory": "1Gi"},
                 "defaultRequest": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "1Gi"}},
                {"type": "Pod", "max": {"cpu": "4"}},
                {"type": "Container", "min": {"memory": "64Mi"}, "defaultRequest": {"memory": "128Mi"}},
                {"type": "Container"},
            ])
        );
    }

    #[test]
    fn image_tags() {
        assert_eq!(image_tag("nginx"), "latest");
        assert_eq!(image_tag("nginx:latest"), "latest");
        assert_eq!(image_tag("nginx:1.27"), "1.27");
        assert_eq!(image_tag("localhost:5000/app"), "latest");
        assert_eq!(image_tag("app@sha256:abc"), "");
        assert_eq!(image_tag("app:v1@sha256:abc"), "v1");
    }

    #[test]
    fn services() {
        let svc = defaulted(
            "",
            "Service",
            json!({"spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
        );
        assert_eq!(
            svc,
            json!({
                "spec": {
                    "selector": {"app": "web"},
                    "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                    "sessionAffinity": "None",
                    "type": "ClusterIP",
                    "internalTrafficPolicy": "Cluster",
                    "ipFamilyPolicy": "SingleStack",
                    "ipFamilies": ["IPv4"],
                },
                "status": {"loadBalancer": {}},
            })
        );
        let lb = defaulted(
            "",
            "Service",
            json!({"spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.9",
            "sessionAffinity": "ClientIP", "ports": [{"port": 443, "targetPort": "https"}]}}),
        );
        let spec = &lb["spec"];
        assert_eq!(spec["externalTrafficPolicy"], "Cluster");
        assert_eq!(spec["allocateLoadBalancerNodePorts"], true);
        assert_eq!(spec["clusterIPs"], json!(["10.0.0.9"]));
        assert_eq!(spec["ports"][0]["targetPort"], "https");
        assert_eq!(
            spec["sessionAffinityConfig"],
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );
        let headless = defaulted("", "Service", json!({"spec": {"clusterIP": "None"}}));
        assert_eq!(headless["spec"]["ipFamilyPolicy"], "RequireDualStack");
        assert_eq!(headless["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
        let external = defaulted(
            "",
            "Service",
            json!({"spec": {"type": "ExternalName", "externalName": "a.b"}}),
        );
        assert_eq!(
            external["spec"],
            json!({"type": "ExternalName", "externalName": "a.b", "sessionAffinity": "None"})
        );
    }

    #[test]
    fn secrets_namespaces_bindings_and_webhooks() {
        let secret = defaulted(
            "",
            "Secret",
            json!({"stringData": {"a": "hi"}, "data": {"b": "eA=="}}),
        );
        assert_eq!(
            secret,
            json!({"type": "Opaque", "data": {"b": "eA==", "a": "aGk="}})
        );
        let ns = defaulted("", "Namespace", json!({"metadata": {"name": "team"}}));
        assert_eq!(
            ns,
            json!({"metadata": {"name": "team", "labels": {"kubernetes.io/metadata.name": "team"}},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        );
        let stored = defaulted(
            "",
            "Namespace",
            json!({"metadata": {"name": "t"}, "spec": {"finalizers": []}, "status": {"phase": "Terminating"}}),
        );
        assert_eq!(stored["spec"]["finalizers"], json!([]));
        let binding = defaulted(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            json!({
                "roleRef": {"kind": "Role", "name": "r"},
                "subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}],
            }),
        );
        assert_eq!(binding["roleRef"]["apiGroup"], RBAC);
        assert_eq!(binding["subjects"][0]["apiGroup"], RBAC);
        assert_eq!(binding["subjects"][1].get("apiGroup"), None);
        let hooks = defaulted(
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration",
            json!({
                "webhooks": [{"name": "a.b.c", "clientConfig": {"service": {"name": "s", "namespace": "n"}},
                              "rules": [{"operations": ["CREATE"]}]}],
            }),
        );
        assert_eq!(
            hooks["webhooks"][0],
            json!({"name": "a.b.c", "clientConfig": {"service": {"name": "s", "namespace": "n", "port": 443}},
                   "rules": [{"operations": ["CREATE"], "scope": "*"}], "failurePolicy": "Fail",
                   "matchPolicy": "Equivalent", "namespaceSelector": {}, "objectSelector": {},
                   "timeoutSeconds": 10, "reinvocationPolicy": "Never"})
        );
    }

    fn defaulted_flowcontrol(kind: &str, object: Value) -> Value {
        let resource = by_kind(FLOWCONTROL, "v1", kind).expect("served kind");
        let mut object = object;
        apply_defaults(resource, &mut object);
        let again = object.clone();
        apply_defaults(resource, &mut object);
        assert_eq!(object, again, "defaulting twice changes nothing");
        object
    }

    #[test]
    fn flow_schema_precedence_defaults_to_1000() {
        let schema = |spec: Value| defaulted_flowcontrol("FlowSchema", json!({"spec": spec}));
        assert_eq!(
            schema(json!({"priorityLevelConfiguration": {"name": "global-default"}})),
            json!({"spec": {"priorityLevelConfiguration": {"name": "global-default"},
                            "matchingPrecedence": 1000}})
        );
        assert_eq!(
            schema(json!({"matchingPrecedence": 0}))["spec"]["matchingPrecedence"],
            1000
        );
        assert_eq!(
            schema(json!({"matchingPrecedence": 500}))["spec"]["matchingPrecedence"],
            500
        );
        // Out of range stays for validation to refuse.
        assert_eq!(
            schema(json!({"matchingPrecedence": -3}))["spec"]["matchingPrecedence"],
            -3
        );
        let bare = defaulted_flowcontrol("FlowSchema", json!({"metadata": {"name": "a"}}));
        assert_eq!(bare["spec"], json!({"matchingPrecedence": 1000}));
    }

    #[test]
    fn limited_levels_get_kubes_v1_defaults() {
        let level = |spec: Value| {
            defaulted_flowcontrol("PriorityLevelConfiguration", json!({"spec": spec}))["spec"]
                .clone()
        };
        assert_eq!(
            level(json!({"type": "Limited", "limited": {
                "limitResponse": {"type": "Queue", "queuing": {}}}})),
            json!({"type": "Limited", "limited": {
                "nominalConcurrencyShares": 30, "lendablePercent": 0,
                "limitResponse": {"type": "Queue",
                    "queuing": {"handSize": 8, "queues": 64, "queueLengthLimit": 50}}}})
        );
        // v1 semantics: an explicit 0 is kept (a pointer), unlike the queuing int32s.
        assert_eq!(
            level(json!({"type": "Limited", "limited": {
                "nominalConcurrencyShares": 0, "lendablePercent": 10, "borrowingLimitPercent": 0,
                "limitResponse": {"type": "Queue",
                    "queuing": {"queues": 0, "handSize": 2, "queueLengthLimit": 7}}}})),
            json!({"type": "Limited", "limited": {
                "nominalConcurrencyShares": 0, "lendablePercent": 10, "borrowingLimitPercent": 0,
                "limitResponse": {"type": "Queue",
                    "queuing": {"queues": 64, "handSize": 2, "queueLengthLimit": 7}}}})
        );
        assert_eq!(
            level(
                json!({"type": "Limited", "limited": {"nominalConcurrencyShares": null,
                "limitResponse": {"type": "Reject"}}})
            ),
            json!({"type": "Limited", "limited": {"nominalConcurrencyShares": 30,
                "lendablePercent": 0, "limitResponse": {"type": "Reject"}}})
        );
        // No queuing block, no queuing defaults: a Queue response without one is invalid.
        assert_eq!(
            level(json!({"type": "Limited", "limited": {"limitResponse": {"type": "Queue"}}})),
            json!({"type": "Limited", "limited": {"nominalConcurrencyShares": 30,
                "lendablePercent": 0, "limitResponse": {"type": "Queue"}}})
        );
    }

    #[test]
    fn exempt_levels_get_zeros_only_when_exempt_is_sent() {
        let level = |spec: Value| {
            defaulted_flowcontrol("PriorityLevelConfiguration", json!({"spec": spec}))["spec"]
                .clone()
        };
        assert_eq!(
            level(json!({"type": "Exempt", "exempt": {}})),
            json!({"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}})
        );
        assert_eq!(
            level(json!({"type": "Exempt", "exempt": {"nominalConcurrencyShares": 4}})),
            json!({"type": "Exempt", "exempt": {"nominalConcurrencyShares": 4, "lendablePercent": 0}})
        );
        assert_eq!(level(json!({"type": "Exempt"})), json!({"type": "Exempt"}));
        let odd = defaulted_flowcontrol(
            "PriorityLevelConfiguration",
            json!({"spec": {"limited": 3, "exempt": [1]}}),
        );
        assert_eq!(odd["spec"], json!({"limited": 3, "exempt": [1]}));
    }

    #[test]
    fn odd_shapes_are_left_alone() {
        for kind in ["Pod", "Service", "Secret", "Namespace"] {
            for value in [
                json!(null),
                json!(3),
                json!([1]),
                json!({"spec": 5}),
                json!({"spec": {"containers": "x", "ports": 7}}),
            ] {
                let mut v = value.clone();
                apply_defaults(by_kind("", "v1", kind).unwrap(), &mut v);
            }
        }
        let mut v = json!({"spec": {"template": 5}});
        apply_defaults(by_kind("apps", "v1", "Deployment").unwrap(), &mut v);
        assert_eq!(v["spec"]["template"], 5);
    }
}
