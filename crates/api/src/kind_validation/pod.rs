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
    Errs, MAX_INT32, Obj, Path, forbidden, inclusive_range, invalid, required, semantic_eq,
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
    let spec_path = pod.at_key("spec");
    if !spec.peek_list("ephemeralContainers").is_empty() {
        errs.push(forbidden(
            &spec_path.child("ephemeralContainers"),
            "cannot be set on create",
        ));
    }
    if !spec.peek_str("nodeName").is_empty() && !spec.peek_list("schedulingGates").is_empty() {
        errs.push(forbidden(
            &spec_path.child("nodeName"),
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
    pod_annotations(&annotations_of(pod), &path, &spec, errs);
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
fn pod_annotations(annotations: &Map<String, Value>, path: &Path, spec: &Obj, errs: &mut Errs) {
    let get = |k| annotations.get(k).and_then(Value::as_str);
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

fn annotations_of(object: &Obj) -> Map<String, Value> {
    object
        .raw("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// A projected service account token needs a service account to be issued for.
fn token_projections_need_a_service_account(spec: &Obj, errs: &mut Errs) {
    let volumes_path = spec.at_key("volumes");
    for (vi, volume) in spec.peek_list("volumes").iter().enumerate() {
        let sources = volume
            .pointer("/projected/sources")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (si, source) in sources.iter().enumerate() {
            if source
                .get("serviceAccountToken")
                .is_some_and(|t| !t.is_null())
            {
                let path = volumes_path
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
    let path = spec.at_key(key);
    for (i, c) in spec.peek_list(key).iter().enumerate() {
        let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
        if image.trim() != image {
            let detail = "must not have leading or trailing whitespace";
            errs.push(invalid(&path.index(i).child("image"), image, detail));
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
        old.get(MIRROR_POD_ANNOTATION),
        new.get(MIRROR_POD_ANNOTATION),
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
    let annotations = meta
        .raw("annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    pod_annotations(&annotations, &annotations_path, &spec, errs);
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
