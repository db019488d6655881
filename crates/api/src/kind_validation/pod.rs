//! Pods (core's `ValidatePodCreate` and `ValidatePodUpdate`) and pod templates
//! (`ValidatePodTemplateSpec`, used by deployments).
//!
//! A pod's spec is immutable but for container images, `activeDeadlineSeconds` (only
//! lowered or set), added tolerations (and changed `tolerationSeconds`), removed scheduling
//! gates and a negative grace period raised to 1; anything else is refused with kube's
//! "pod updates may not change fields other than …" message. kube appends a `cmp.Diff` of
//! the two specs to it; kubesim appends its own short diff of the top-level fields that
//! changed, which is not byte-for-byte kube's.

use serde_json::{Map, Value};

use super::fields::{
    Errs, MAX_INT32, Obj, Path, field, forbidden, inclusive_range, invalid, required, semantic_eq,
};
use super::meta::{self, MetaRules};
use super::pod_spec;
use crate::validation::name_is_dns_subdomain;

const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";
const DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";
/// The fields a pod update may change, as kube lists them.
const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

pub(crate) const RULES: MetaRules = MetaRules {
    namespaced: true,
    name_fn: name_is_dns_subdomain,
    kube_finalizers: true,
};

/// `ValidatePodCreate`.
pub(crate) fn validate_create(pod: &Obj, errs: &mut Errs) {
    metadata_and_spec(pod, errs);
    let Some(spec) = pod.obj("spec", &mut Errs::new()) else {
        return;
    };
    if !spec.peek_list("ephemeralContainers").is_empty() {
        errs.push(forbidden(
            &spec.at_key("ephemeralContainers"),
            "cannot be set on create",
        ));
    }
    if !spec.peek_str("nodeName").is_empty() && !spec.peek_list("schedulingGates").is_empty() {
        errs.push(forbidden(
            &spec.at_key("nodeName"),
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
}

/// `validatePodMetadataAndSpec`: metadata, the pod's own annotations, the spec, and what
/// only pods (not templates) must satisfy.
fn metadata_and_spec(pod: &Obj, errs: &mut Errs) {
    meta::validate_create(pod, &RULES, errs);
    let Some(spec) = pod.obj("spec", errs) else {
        return;
    };
    let path = Path::new("metadata").child("annotations");
    pod_annotations(annotations_of(pod), &path, &spec, errs);
    pod_spec::validate(&spec, true, errs);
    if spec.peek_str("serviceAccountName").is_empty() {
        token_projections_need_a_service_account(&spec, errs);
    }
    for key in ["containers", "initContainers"] {
        images_without_whitespace(&spec, key, errs);
    }
}

/// `ValidatePodSpecificAnnotations`: the mirror-pod and deletion-cost annotations of a pod
/// or template whose annotations are at `path`.
fn pod_annotations(
    annotations: Option<&Map<String, Value>>,
    path: &Path,
    spec: &Obj,
    errs: &mut Errs,
) {
    let get = |k| annotation(annotations, k).and_then(Value::as_str);
    if let Some(value) = get(MIRROR_POD_ANNOTATION)
        && spec.peek_str("nodeName").is_empty()
    {
        errs.push(invalid(
            &path.key(MIRROR_POD_ANNOTATION),
            value,
            "must set spec.nodeName if mirror pod annotation is set",
        ));
    }
    if let Some(cost) = get(DELETION_COST_ANNOTATION)
        && cost.parse::<i32>().is_err()
    {
        errs.push(invalid(
            &path.key(DELETION_COST_ANNOTATION),
            cost,
            "must be a 32bit integer",
        ));
    }
}

/// `metadata.annotations`, borrowed: only two of them are read.
fn annotations_of<'a>(object: &Obj<'a>) -> Option<&'a Map<String, Value>> {
    object
        .raw("metadata")
        .and_then(|m| field(m, "annotations"))
        .and_then(Value::as_object)
}

fn annotation<'a>(annotations: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a Value> {
    annotations.and_then(|m| super::fields::get(m, key))
}

/// A projected service account token needs a service account to be issued for.
fn token_projections_need_a_service_account(spec: &Obj, errs: &mut Errs) {
    for (vi, volume) in spec.peek_list("volumes").iter().enumerate() {
        let sources = field(volume, "projected")
            .and_then(|p| field(p, "sources"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (si, source) in sources.iter().enumerate() {
            if source
                .get("serviceAccountToken")
                .is_some_and(|t| !t.is_null())
            {
                let path = spec
                    .at_key("volumes")
                    .index(vi)
                    .child("projected")
                    .child("sources")
                    .index(si)
                    .child("serviceAccountToken");
                errs.push(forbidden(
                    &path,
                    "must not be specified when serviceAccountName is not set",
                ));
            }
        }
    }
}

/// `validateContainerOnlyForPod`: images without leading or trailing whitespace.
fn images_without_whitespace(spec: &Obj, key: &str, errs: &mut Errs) {
    for (i, c) in spec.peek_list(key).iter().enumerate() {
        let image = field(c, "image")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if image.trim() != image {
            let detail = "must not have leading or trailing whitespace";
            let path = spec.at_key(key).index(i).child("image");
            errs.push(invalid(&path, image, detail));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Update

/// `ValidatePodUpdate` (the registry has already checked the immutable metadata).
pub(crate) fn validate_update(pod: &Obj, old: &Obj, errs: &mut Errs) {
    meta::validate_update(pod, old, true, errs);
    metadata_and_spec(pod, errs);
    mirror_annotation_unchanged(pod, old, errs);
    let mut quiet = Errs::new();
    let (Some(spec), Some(old_spec)) = (pod.obj("spec", &mut quiet), old.obj("spec", &mut quiet))
    else {
        return;
    };
    for key in ["containers", "initContainers"] {
        if !container_updates(&spec, &old_spec, key, errs) {
            return;
        }
    }
    if !active_deadline_update(&spec, &old_spec, errs) {
        return;
    }
    only_added_tolerations(&spec, &old_spec, errs);
    only_removed_scheduling_gates(&spec, &old_spec, errs);
    spec_unchanged_but_mutable_fields(&spec, &old_spec, errs);
}

/// `ValidatePodSpecificAnnotationUpdates` for the mirror-pod annotation.
fn mirror_annotation_unchanged(pod: &Obj, old: &Obj, errs: &mut Errs) {
    let (new, old) = (annotations_of(pod), annotations_of(old));
    let path = Path::new("metadata")
        .child("annotations")
        .key(MIRROR_POD_ANNOTATION);
    match (
        annotation(old, MIRROR_POD_ANNOTATION),
        annotation(new, MIRROR_POD_ANNOTATION),
    ) {
        (Some(before), after) if after != Some(before) => {
            errs.push(forbidden(
                &path,
                "may not remove or update mirror pod annotation",
            ));
        }
        (None, Some(_)) => errs.push(forbidden(&path, "may not add mirror pod annotation")),
        _ => {}
    }
}

/// `ValidateContainerUpdates`: false (stop) when containers were added or removed.
fn container_updates(spec: &Obj, old_spec: &Obj, key: &str, errs: &mut Errs) -> bool {
    let (new, old) = (spec.peek_list(key), old_spec.peek_list(key));
    let path = spec.at_key(key);
    if new.len() != old.len() {
        errs.push(forbidden(
            &path,
            "pod updates may not add or remove containers",
        ));
        return false;
    }
    for (i, c) in new.iter().enumerate() {
        let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
        if image.is_empty() {
            errs.push(required(&path.index(i).child("image"), ""));
        }
        if image.trim() != image {
            let detail = "must not have leading or trailing whitespace";
            errs.push(invalid(&path.index(i).child("image"), image, detail));
        }
    }
    true
}

/// `activeDeadlineSeconds` may be set, or lowered, never raised or removed. False (stop)
/// on the errors after which kube stops.
fn active_deadline_update(spec: &Obj, old_spec: &Obj, errs: &mut Errs) -> bool {
    let path = spec.at_key("activeDeadlineSeconds");
    let read = |o: &Obj| o.raw("activeDeadlineSeconds").and_then(Value::as_i64);
    match (read(spec), read(old_spec)) {
        (Some(new), _) if !(0..=MAX_INT32).contains(&new) => {
            errs.push(invalid(&path, new, &inclusive_range(0, MAX_INT32)));
            false
        }
        (Some(new), Some(old)) if old < new => {
            errs.push(invalid(
                &path,
                new,
                "must be less than or equal to previous value",
            ));
            false
        }
        (None, Some(_)) => {
            errs.push(invalid(
                &path,
                Value::Null,
                "must not update from a positive integer to nil value",
            ));
            true
        }
        _ => true,
    }
}

/// `validateOnlyAddedTolerations`: every old toleration is still there (its
/// `tolerationSeconds` may change), then the new list is validated.
fn only_added_tolerations(spec: &Obj, old_spec: &Obj, errs: &mut Errs) {
    let without_seconds = |t: &Value| {
        let mut t = t.clone();
        if let Some(map) = t.as_object_mut() {
            map.remove("tolerationSeconds");
        }
        t
    };
    let new: Vec<Value> = spec
        .peek_list("tolerations")
        .iter()
        .map(without_seconds)
        .collect();
    for old in old_spec
        .peek_list("tolerations")
        .iter()
        .map(without_seconds)
    {
        if !new.iter().any(|n| semantic_eq(Some(n), Some(&old))) {
            let detail = "existing toleration can not be modified except its tolerationSeconds";
            errs.push(forbidden(&spec.at_key("tolerations"), detail));
            return;
        }
    }
    pod_spec::tolerations(spec, errs);
}

/// `validateOnlyDeletedSchedulingGates`: no gate may be added.
fn only_removed_scheduling_gates(spec: &Obj, old_spec: &Obj, errs: &mut Errs) {
    let name_of = |g: &Value| {
        g.get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let old: Vec<String> = old_spec
        .peek_list("schedulingGates")
        .iter()
        .map(name_of)
        .collect();
    let path = spec.at_key("schedulingGates");
    for (i, gate) in spec.peek_list("schedulingGates").iter().enumerate() {
        let name = name_of(gate);
        if !old.contains(&name) {
            let detail =
                format!("only deletion is allowed, but found new scheduling gate '{name}'");
            errs.push(forbidden(&path.index(i).child("name"), &detail));
        }
    }
}

/// The final check: with the mutable fields taken from the old spec, nothing else may differ.
fn spec_unchanged_but_mutable_fields(spec: &Obj, old_spec: &Obj, errs: &mut Errs) {
    let (new_value, old_value) = (spec.to_value(), old_spec.to_value());
    if semantic_eq(Some(&new_value), Some(&old_value)) {
        return;
    }
    let munged = munge_mutable_fields(new_value, &old_value);
    if semantic_eq(Some(&munged), Some(&old_value)) {
        return;
    }
    let detail = format!(
        "pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n{}",
        spec_diff(&old_value, &munged)
    );
    errs.push(forbidden(spec.path(), &detail));
}

/// The new spec with the fields an update may change copied from the old one.
fn munge_mutable_fields(mut spec: Value, old: &Value) -> Value {
    for key in ["containers", "initContainers"] {
        let old_images: Vec<Option<Value>> = old
            .get(key)
            .and_then(Value::as_array)
            .map(|cs| cs.iter().map(|c| c.get("image").cloned()).collect())
            .unwrap_or_default();
        if let Some(containers) = spec.get_mut(key).and_then(Value::as_array_mut) {
            for (c, image) in containers.iter_mut().zip(old_images) {
                set_or_remove(c, "image", image);
            }
        }
    }
    for key in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
        set_or_remove(&mut spec, key, old.get(key).cloned());
    }
    let old_grace = old
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64);
    let new_grace = spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64);
    if old_grace.is_some_and(|g| g < 0) && new_grace == Some(1) {
        set_or_remove(
            &mut spec,
            "terminationGracePeriodSeconds",
            old_grace.map(Value::from),
        );
    }
    spec
}

fn set_or_remove(object: &mut Value, key: &str, value: Option<Value>) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    match value {
        Some(v) => {
            map.insert(key.to_string(), v);
        }
        None => {
            map.remove(key);
        }
    }
}

/// A short diff of the top-level spec fields that differ: `-` the old value, `+` the new.
fn spec_diff(old: &Value, new: &Value) -> String {
    let empty = Map::new();
    let (old, new) = (
        old.as_object().unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut lines = vec!["  core.PodSpec{".to_string()];
    for key in keys {
        if semantic_eq(old.get(key), new.get(key)) {
            continue;
        }
        let show = |v: Option<&Value>| v.map_or("nil".to_string(), ToString::to_string);
        lines.push(format!("- \t{key}: {},", show(old.get(key))));
        lines.push(format!("+ \t{key}: {},", show(new.get(key))));
    }
    lines.push("  }".to_string());
    lines.join("\n")
}

// ---------------------------------------------------------------------------------------------
// Templates

/// `ValidatePodTemplateSpec` for the template at `template` (`spec.template`): its labels
/// and annotations (at `<template>.labels`, as kube reports them), the pod's own
/// annotations, the spec, and no ephemeral containers.
pub(crate) fn validate_template(template: &Obj, errs: &mut Errs) {
    let meta = template
        .obj("metadata", errs)
        .unwrap_or_else(|| Obj::absent(template.at_key("metadata")));
    let labels_path = template.at_key("labels");
    if let Some(labels) = meta.string_map("labels", errs) {
        push_meta_errors(
            crate::validation::validate_labels(labels, labels_path.as_str()),
            errs,
        );
    }
    let annotations_path = template.at_key("annotations");
    if let Some(annotations) = meta.string_map("annotations", errs) {
        let found = crate::validation::validate_annotations(annotations, annotations_path.as_str());
        push_meta_errors(found, errs);
    }
    let Some(spec) = template.obj("spec", errs) else {
        return;
    };
    let annotations = meta.raw("annotations").and_then(Value::as_object);
    pod_annotations(annotations, &annotations_path, &spec, errs);
    pod_spec::validate(&spec, false, errs);
    if !spec.peek_list("ephemeralContainers").is_empty() {
        errs.push(forbidden(
            &spec.at_key("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

fn push_meta_errors(found: Vec<crate::validation::MetaFieldError>, errs: &mut Errs) {
    for (field, kind, value, detail) in found {
        errs.push(crate::status::FieldError {
            field,
            kind,
            bad_value: value.unwrap_or(Value::Null),
            detail,
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::resources::by_kind;

    /// A pod with many mistakes at once, each container, port, mount and quantity in a
    /// different way, so every rule's field path, type and message stays as it is.
    fn bad_pod() -> Value {
        json!({
            "metadata": {
                "name": "Bad_Name", "namespace": "default", "generateName": "x_",
                "labels": {"bad key!": "v", "app": "bad value!", "a/b/c": "x", "n": 5},
                "annotations": {"Bad Annotation": "v", "kubernetes.io/config.mirror": "m",
                                "controller.kubernetes.io/pod-deletion-cost": "x"},
                "finalizers": ["orphan", "foregroundDeletion", "bad/fin/alizer", "unknown"],
                "ownerReferences": [{"apiVersion": "v1", "kind": "Event", "name": "", "uid": "u"},
                                    {"apiVersion": "", "kind": "", "name": "n", "uid": "",
                                     "controller": true},
                                    {"apiVersion": "a/v1", "kind": "K", "name": "m", "uid": "v",
                                     "controller": true}],
            },
            "spec": {
                "terminationGracePeriodSeconds": -1,
                "activeDeadlineSeconds": 0,
                "hostname": "Bad_Host",
                "serviceAccountName": "Bad SA",
                "restartPolicy": "Sometimes",
                "dnsPolicy": "",
                "nodeSelector": {"bad key!": "x", "ok": "bad value!"},
                "securityContext": {"runAsUser": -5, "supplementalGroups": [1, "x", -2],
                                    "fsGroupChangePolicy": "Never"},
                "imagePullSecrets": [{"name": "a", "extra": 1}],
                "volumes": [
                    {"name": "data", "emptyDir": {"sizeLimit": "1Zi"}},
                    {"name": "data", "configMap": {"name": "c", "items": [{"key": "", "path": "../x"}]}},
                    {"name": "Bad_Vol", "hostPath": {"path": ""}},
                    {"name": "two", "emptyDir": {}, "secret": {"secretName": "s"}},
                    {"name": "none"},
                    {"name": "proj", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
                    "not an object",
                ],
                "containers": [
                    {
                        "name": "web", "image": "",
                        "terminationMessagePolicy": "Sometimes",
                        "ports": [{"name": "http", "containerPort": 0, "protocol": "tcp"},
                                  {"name": "http", "containerPort": 70000, "hostPort": -1},
                                  {"name": "Bad_Port_Name_Too_Long", "containerPort": 80,
                                   "protocol": ""},
                                  {"containerPort": "80"}],
                        "env": [{"name": ""}, {"name": "1=bad", "value": "x"},
                                {"name": "A", "value": "v", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                {"name": "B", "valueFrom": {}},
                                {"name": "C", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.bogus"}}},
                                {"name": "D", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}},
                                {"name": "E", "valueFrom": {"configMapKeyRef": {"name": "", "key": "bad key"}}}],
                        "envFrom": [{"prefix": "1 bad"}, {"configMapRef": {"name": "a"}, "secretRef": {"name": "b"}}],
                        "volumeMounts": [{"name": "missing", "mountPath": ""},
                                         {"name": "", "mountPath": "/m", "subPath": "../up",
                                          "mountPropagation": "Sideways"},
                                         {"name": "data", "mountPath": "/m", "subPathExpr": "/abs",
                                          "subPath": "a"}],
                        "imagePullPolicy": "Sometimes",
                        "resources": {"requests": {"cpu": "2", "memory": "bad", "nvidia.com/gpu": "1.5",
                                                   "bad name!": "1"},
                                      "limits": {"cpu": "1", "memory": "-1Gi"}},
                        "securityContext": {"runAsUser": -1, "privileged": true,
                                            "allowPrivilegeEscalation": false,
                                            "capabilities": {"add": ["SYS_ADMIN"]}},
                        "livenessProbe": {"periodSeconds": -1},
                        "readinessProbe": {"httpGet": {"port": 0}, "exec": {"command": ["x"]},
                                           "successThreshold": 2},
                        "lifecycle": {"preStop": {"sleep": {"seconds": 100}}},
                        "restartPolicy": "Always",
                    },
                    {"name": "web", "image": " spaced ", "ports": [{"containerPort": 80, "hostPort": 8080}]},
                    {"name": "Bad_Name", "image": "x", "ports": [{"containerPort": 81, "hostPort": 8080}]},
                    {"image": "y", "resources": {"limits": {"memory": "1Gi"}, "requests": {"memory": "2Gi",
                        // A path too long to be held in place.
                        "example.com/a-resource-name-long-enough-to-make-a-long-field-path-x": "0.5"}}},
                    5,
                ],
                "initContainers": [
                    {"name": "web", "image": "i", "restartPolicy": "Never",
                     "livenessProbe": {"exec": {"command": ["x"]}}},
                    {"name": "", "image": "", "ports": [{"containerPort": 1, "hostPort": 8080}]},
                ],
                "ephemeralContainers": [{"name": "e"}],
                "nodeName": "node-1",
                "schedulingGates": [{"name": "a"}, {"name": "a"}, {"name": "Bad Gate"}],
                "readinessGates": [{"conditionType": "bad type!"}],
                "dnsConfig": {"nameservers": ["1.2.3.4", "bad", "::1", "4.4.4.4"],
                              "searches": ["Bad_Domain", "."], "options": [{"name": ""}]},
                "topologySpreadConstraints": [
                    {"maxSkew": 0, "topologyKey": "", "whenUnsatisfiable": "Maybe", "minDomains": 0},
                    {"maxSkew": 1, "topologyKey": "", "whenUnsatisfiable": "Maybe"},
                ],
                "tolerations": [{"key": "", "operator": "Equal", "value": "x"},
                                {"key": "bad key!", "operator": "Exists", "value": "v",
                                 "effect": "NoSchedule", "tolerationSeconds": 5},
                                {"key": "k", "operator": "Maybe", "effect": "Sometimes"}],
                "hostAliases": [{"ip": "bad", "hostnames": ["Bad_Host"]}],
                "priorityClassName": "Bad Class",
                "runtimeClassName": "",
                "preemptionPolicy": "Sometimes",
                "os": {"name": "plan9"},
            },
        })
    }

    fn pinned(object: &Value) -> Vec<String> {
        let pod = by_kind("", "v1", "Pod").expect("pods are served");
        super::super::validate_create(pod, object)
            .iter()
            .map(|e| format!("{}|{:?}|{}|{}", e.field, e.kind, e.bad_value, e.detail))
            .collect()
    }

    /// Computed with the code before validation stopped building paths for valid fields.
    #[test]
    fn many_mistakes_report_every_error_in_order() {
        let expected = [
            "metadata.generateName|Invalid|\"x_\"|a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            "metadata.name|Invalid|\"Bad_Name\"|a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            "metadata.labels[n]|TypeInvalid|5|must be of type string",
            "metadata.labels|Invalid|\"bad key!\"|name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            "metadata.labels|Invalid|\"bad value!\"|a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            "metadata.labels|Invalid|\"a/b/c\"|a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
            "metadata.annotations|Invalid|\"Bad Annotation\"|name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            "metadata.ownerReferences.name|Invalid|\"\"|must not be empty",
            "metadata.ownerReferences|Invalid|{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"name\":\"\",\"uid\":\"u\"}|/v1, Kind=Event is disallowed from being an owner",
            "metadata.ownerReferences.apiVersion|Invalid|\"\"|version must not be empty",
            "metadata.ownerReferences.kind|Invalid|\"\"|must not be empty",
            "metadata.ownerReferences.uid|Invalid|\"\"|must not be empty",
            "metadata.ownerReferences|Invalid|[{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"name\":\"\",\"uid\":\"u\"},{\"apiVersion\":\"\",\"kind\":\"\",\"name\":\"n\",\"uid\":\"\",\"controller\":true},{\"apiVersion\":\"a/v1\",\"kind\":\"K\",\"name\":\"m\",\"uid\":\"v\",\"controller\":true}]|Only one reference can have Controller set to true. Found \"true\" in references for /n and K/m",
            "metadata.finalizers|Invalid|\"bad/fin/alizer\"|a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
            "metadata.finalizers|Invalid|[\"orphan\",\"foregroundDeletion\",\"bad/fin/alizer\",\"unknown\"]|finalizer orphan and foregroundDeletion cannot be both set",
            "metadata.finalizers[3]|Invalid|\"unknown\"|name is neither a standard finalizer name nor is it fully qualified",
            "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]|Invalid|\"x\"|must be a 32bit integer",
            "spec.volumes[6]|TypeInvalid|\"not an object\"|must be of type object",
            "spec.volumes[0].emptyDir.sizeLimit|TypeInvalid|\"1Zi\"|quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            "spec.volumes[1].configMap.items[0].key|Required|\"\"|",
            "spec.volumes[1].configMap.items[0].path|Invalid|\"../x\"|must not contain '..'",
            "spec.volumes[2].hostPath.path|Required|\"\"|",
            "spec.volumes[2].name|Invalid|\"Bad_Vol\"|a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            "spec.volumes[3].secret|Forbidden|\"\"|may not specify more than 1 volume type",
            "spec.volumes[4]|Required|\"\"|must specify a volume type",
            "spec.containers[4]|TypeInvalid|5|must be of type object",
            "spec.containers[0].image|Required|\"\"|",
            "spec.containers[0].terminationMessagePolicy|NotSupported|\"Sometimes\"|supported values: \"File\", \"FallbackToLogsOnError\"",
            "spec.containers[0].ports[0].containerPort|Required|\"\"|",
            "spec.containers[0].ports[0].protocol|NotSupported|\"tcp\"|supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "spec.containers[0].ports[1].name|Duplicate|\"http\"|",
            "spec.containers[0].ports[1].containerPort|Invalid|70000|must be between 1 and 65535, inclusive",
            "spec.containers[0].ports[1].hostPort|Invalid|-1|must be between 1 and 65535, inclusive",
            "spec.containers[0].ports[1].protocol|Required|\"\"|",
            "spec.containers[0].ports[2].name|Invalid|\"Bad_Port_Name_Too_Long\"|must be no more than 15 characters",
            "spec.containers[0].ports[2].name|Invalid|\"Bad_Port_Name_Too_Long\"|must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "spec.containers[0].ports[2].protocol|Required|\"\"|",
            "spec.containers[0].ports[3].containerPort|TypeInvalid|\"80\"|must be of type integer",
            "spec.containers[0].ports[3].protocol|Required|\"\"|",
            "spec.containers[0].env[0].name|Required|\"\"|",
            "spec.containers[0].env[1].name|Invalid|\"1=bad\"|a valid environment variable name must consist only of printable ASCII characters other than '='",
            "spec.containers[0].env[2].valueFrom.fieldRef.apiVersion|Required|\"\"|",
            "spec.containers[0].env[2].valueFrom|Invalid|\"\"|may not be specified when `value` is not empty",
            "spec.containers[0].env[3].valueFrom|Invalid|\"\"|must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            "spec.containers[0].env[4].valueFrom.fieldRef.fieldPath|Invalid|\"spec.bogus\"|error converting fieldPath: field label not supported: spec.bogus",
            "spec.containers[0].env[5].valueFrom.resourceFieldRef.resource|NotSupported|\"limits.gpu\"|supported values: \"limits.cpu\", \"limits.ephemeral-storage\", \"limits.memory\", \"requests.cpu\", \"requests.ephemeral-storage\", \"requests.memory\"",
            "spec.containers[0].env[6].valueFrom.configMapKeyRef.name|Invalid|\"\"|a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            "spec.containers[0].env[6].valueFrom.configMapKeyRef.key|Invalid|\"bad key\"|a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            "spec.containers[0].envFrom|Invalid|\"\"|must specify one of: `configMapRef` or `secretRef`",
            "spec.containers[0].envFrom|Invalid|\"\"|may not have more than one field specified at a time",
            "spec.containers[0].volumeMounts[0].name|Invalid|\"missing\"|not found",
            "spec.containers[0].volumeMounts[0].mountPath|Required|\"\"|",
            "spec.containers[0].volumeMounts[1].name|Required|\"\"|",
            "spec.containers[0].volumeMounts[1].name|Invalid|\"\"|not found",
            "spec.containers[0].volumeMounts.subPath|Invalid|\"../up\"|must not contain '..'",
            "spec.containers[0].volumeMounts.mountPropagation|NotSupported|\"Sideways\"|supported values: \"Bidirectional\", \"HostToContainer\", \"None\"",
            "spec.containers[0].volumeMounts[2].name|Invalid|\"data\"|not found",
            "spec.containers[0].volumeMounts[2].mountPath|Invalid|\"/m\"|must be unique",
            "spec.containers[0].volumeMounts[2].subPathExpr|Invalid|\"/abs\"|subPathExpr and subPath are mutually exclusive",
            "spec.containers[0].volumeMounts.subPathExpr|Invalid|\"/abs\"|must be a relative path",
            "spec.containers[0].imagePullPolicy|NotSupported|\"Sometimes\"|supported values: \"Always\", \"IfNotPresent\", \"Never\"",
            "spec.containers[0].resources.limits[memory]|Invalid|\"-1Gi\"|must be greater than or equal to 0",
            "spec.containers[0].resources.requests[memory]|TypeInvalid|\"bad\"|quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            "spec.containers[0].resources.requests|Invalid|\"2\"|must be less than or equal to cpu limit of 1",
            "spec.containers[0].resources.requests[nvidia.com/gpu]|Invalid|\"1500m\"|must be an integer",
            "spec.containers[0].resources.limits|Required|\"\"|Limit must be set for non overcommitable resources",
            "spec.containers[0].resources.requests[bad name!]|Invalid|\"bad name!\"|name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            "spec.containers[0].resources.requests[bad name!]|Invalid|\"bad name!\"|must be a standard resource for containers",
            "spec.containers[0].securityContext.runAsUser|Invalid|-1|must be between 0 and 2147483647, inclusive",
            "spec.containers[0].securityContext|Invalid|{\"runAsUser\":-1,\"privileged\":true,\"allowPrivilegeEscalation\":false,\"capabilities\":{\"add\":[\"SYS_ADMIN\"]}}|cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            "spec.containers[0].lifecycle.preStop.sleep|Invalid|100|must be non-negative and less than terminationGracePeriodSeconds (-1)",
            "spec.containers[0].livenessProbe|Required|\"\"|must specify a handler type",
            "spec.containers[0].livenessProbe.periodSeconds|Invalid|-1|must be greater than or equal to 0",
            "spec.containers[0].livenessProbe.successThreshold|Invalid|0|must be 1",
            "spec.containers[0].readinessProbe.httpGet|Forbidden|\"\"|may not specify more than 1 handler type",
            "spec.containers[0].restartPolicy|Forbidden|\"\"|may not be set for non-init containers",
            "spec.containers[1].terminationMessagePolicy|Required|\"\"|",
            "spec.containers[1].ports[0].protocol|Required|\"\"|",
            "spec.containers[1].imagePullPolicy|Required|\"\"|",
            "spec.containers[1].name|Duplicate|\"web\"|",
            "spec.containers[2].name|Invalid|\"Bad_Name\"|a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            "spec.containers[2].terminationMessagePolicy|Required|\"\"|",
            "spec.containers[2].ports[0].protocol|Required|\"\"|",
            "spec.containers[2].imagePullPolicy|Required|\"\"|",
            "spec.containers[3].name|Required|\"\"|",
            "spec.containers[3].terminationMessagePolicy|Required|\"\"|",
            "spec.containers[3].imagePullPolicy|Required|\"\"|",
            "spec.containers[3].resources.requests|Invalid|\"2Gi\"|must be less than or equal to memory limit of 1Gi",
            "spec.containers[3].resources.requests[example.com/a-resource-name-long-enough-to-make-a-long-field-path-x]|Invalid|\"500m\"|must be an integer",
            "spec.containers[3].resources.limits|Required|\"\"|Limit must be set for non overcommitable resources",
            "spec.containers[2].ports[0].hostPort|Duplicate|\"//8080\"|",
            "spec.initContainers[0].terminationMessagePolicy|Required|\"\"|",
            "spec.initContainers[0].imagePullPolicy|Required|\"\"|",
            "spec.initContainers[0].restartPolicy|NotSupported|\"Never\"|supported values: \"Always\"",
            "spec.initContainers[0].name|Duplicate|\"web\"|",
            "spec.initContainers[0].livenessProbe|Forbidden|\"\"|may not be set for init containers without restartPolicy=Always",
            "spec.initContainers[1].name|Required|\"\"|",
            "spec.initContainers[1].image|Required|\"\"|",
            "spec.initContainers[1].terminationMessagePolicy|Required|\"\"|",
            "spec.initContainers[1].ports[0].protocol|Required|\"\"|",
            "spec.initContainers[1].imagePullPolicy|Required|\"\"|",
            "spec.restartPolicy|NotSupported|\"Sometimes\"|supported values: \"Always\", \"OnFailure\", \"Never\"",
            "spec.dnsPolicy|Required|\"\"|",
            "spec.nodeSelector|Invalid|\"bad key!\"|name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            "spec.nodeSelector|Invalid|\"bad value!\"|a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            "spec.securityContext.runAsUser|Invalid|-5|must be between 0 and 2147483647, inclusive",
            "spec.securityContext.supplementalGroups[1]|TypeInvalid|\"x\"|must be of type integer",
            "spec.securityContext.supplementalGroups[2]|Invalid|-2|must be between 0 and 2147483647, inclusive",
            "spec.securityContext.fsGroupChangePolicy|NotSupported|\"Never\"|supported values: \"Always\", \"OnRootMismatch\"",
            "spec.imagePullSecrets[0]|Invalid|{\"name\":\"a\",\"extra\":1}|only name may be set",
            "spec.dnsConfig.nameservers|Invalid|[\"1.2.3.4\",\"bad\",\"::1\",\"4.4.4.4\"]|must not have more than 3 nameservers",
            "spec.dnsConfig.nameservers[1]|Invalid|\"bad\"|must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            "spec.dnsConfig.searches[0]|Invalid|\"Bad_Domain\"|a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*')",
            "spec.dnsConfig.options[0]|Required|\"\"|must not be empty",
            "spec.readinessGates[0].conditionType|Invalid|\"bad type!\"|name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            "spec.schedulingGates[1]|Duplicate|\"a\"|",
            "spec.schedulingGates[2]|Invalid|\"Bad Gate\"|name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            "spec.topologySpreadConstraints[0].maxSkew|Invalid|0|must be greater than zero",
            "spec.topologySpreadConstraints[0].topologyKey|Required|\"\"|can not be empty",
            "spec.topologySpreadConstraints[0].whenUnsatisfiable|NotSupported|\"Maybe\"|supported values: \"DoNotSchedule\", \"ScheduleAnyway\"",
            "spec.topologySpreadConstraints[0].{topologyKey, whenUnsatisfiable}|Duplicate|\"{, Maybe}\"|",
            "spec.topologySpreadConstraints[0].minDomains|Invalid|0|must be greater than zero",
            "spec.topologySpreadConstraints[0].minDomains|Invalid|0|can only use minDomains if whenUnsatisfiable=DoNotSchedule, not Maybe",
            "spec.topologySpreadConstraints[1].topologyKey|Required|\"\"|can not be empty",
            "spec.topologySpreadConstraints[1].whenUnsatisfiable|NotSupported|\"Maybe\"|supported values: \"DoNotSchedule\", \"ScheduleAnyway\"",
            "spec.serviceAccountName|Invalid|\"Bad SA\"|a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            "spec.activeDeadlineSeconds|Invalid|0|must be between 1 and 2147483647, inclusive",
            "spec.hostname|Invalid|\"Bad_Host\"|a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            "spec.tolerations[0].operator|Invalid|\"Equal\"|operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            "spec.tolerations[1].key|Invalid|\"bad key!\"|name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            "spec.tolerations[1].effect|Invalid|\"NoSchedule\"|effect must be 'NoExecute' when `tolerationSeconds` is set",
            "spec.tolerations[1].operator|Invalid|\"v\"|value must be empty when `operator` is 'Exists'",
            "spec.tolerations[2].operator|NotSupported|\"Maybe\"|supported values: \"Equal\", \"Exists\"",
            "spec.tolerations[2].effect|NotSupported|\"Sometimes\"|supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
            "spec.hostAliases[0].ip|Invalid|\"bad\"|must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            "spec.hostAliases[0].hostnames[0]|Invalid|\"Bad_Host\"|a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            "spec.priorityClassName|Invalid|\"Bad Class\"|a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            "spec.runtimeClassName|Invalid|\"\"|a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            "spec.preemptionPolicy|NotSupported|\"Sometimes\"|supported values: \"PreemptLowerPriority\", \"Never\"",
            "spec.os|NotSupported|\"plan9\"|supported values: \"linux\", \"windows\"",
            "spec.containers[1].image|Invalid|\" spaced \"|must not have leading or trailing whitespace",
            "spec.ephemeralContainers|Forbidden|\"\"|cannot be set on create",
            "spec.nodeName|Forbidden|\"\"|cannot be set until all schedulingGates have been cleared",
        ];
        assert_eq!(pinned(&bad_pod()), expected);
    }
}
