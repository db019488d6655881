//! `metadata` validation: what apimachinery's `ValidateObjectMeta` and
//! `ValidateObjectMetaUpdate` check, plus core's rule on finalizer names.
//!
//! [`validate_create`] builds on [`crate::validation::validate_object_meta_basics`] (names,
//! namespace, generation, labels, annotations) and adds owner references and finalizers.
//! [`validate_update`] leaves out what kubesim's registry owns (resourceVersion, generation,
//! and the immutability of name, namespace, uid, creationTimestamp, deletionTimestamp and
//! deletionGracePeriodSeconds, which it copies from the stored object).

use serde_json::Value;

use super::fields::{Errs, NameFn, Obj, Path, forbidden, go_string_slice, invalid, name_errors};
use crate::status::FieldError;
use crate::validation::{self, MetaFieldError};

/// How a kind's metadata is checked.
#[derive(Clone, Copy)]
pub(crate) struct MetaRules {
    pub(crate) namespaced: bool,
    pub(crate) name_fn: NameFn,
    /// Core's `ValidateObjectMeta` (core, apps and rbac kinds) also requires finalizer names
    /// without a '/' to be one of kube's own; apimachinery's (webhook configurations) does not.
    pub(crate) kube_finalizers: bool,
}

/// Finalizers kube itself defines, the only ones allowed without a domain prefix.
const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

/// `ValidateObjectMeta` for the `metadata` of `object`, in kube's order.
pub(crate) fn validate_create(object: &Obj, rules: &MetaRules, errs: &mut Errs) {
    let meta = object.raw("metadata").unwrap_or(&Value::Null);
    let basics = validation::validate_object_meta_basics(meta, rules.namespaced, rules.name_fn);
    errs.extend(basics.into_iter().map(from_meta_error));
    let Some(meta) = metadata(object) else {
        return;
    };
    owner_references(&meta, errs);
    finalizers(&meta, rules.kube_finalizers, errs);
}

/// `ValidateObjectMetaUpdate` minus the registry's part (see the module doc).
pub(crate) fn validate_update(object: &Obj, old: &Obj, kube_finalizers: bool, errs: &mut Errs) {
    let mut ignored = Errs::new();
    let (Some(meta), Some(old_meta)) = (metadata(object), metadata_quiet(old, &mut ignored)) else {
        return;
    };
    if old_meta.has("deletionTimestamp") {
        no_new_finalizers(&meta, &old_meta, errs);
    }
    labels_and_annotations(&meta, errs);
    owner_references(&meta, errs);
    finalizers(&meta, kube_finalizers, errs);
}

/// The checks every kind gets from kube's generic registry (`rest.BeforeCreate` after the
/// kind's own validation passes, `rest.BeforeUpdate` before it): object metadata with names
/// that only have to be safe as a path segment.
pub(crate) fn generic_rules(namespaced: bool) -> MetaRules {
    MetaRules {
        namespaced,
        name_fn: name_is_path_segment,
        kube_finalizers: false,
    }
}

/// apimachinery's `path.ValidatePathSegmentName`: the minimal rule for names (RBAC kinds use
/// it, and the generic registry checks every name with it).
pub(crate) fn name_is_path_segment(name: &str, prefix: bool) -> Vec<String> {
    if !prefix {
        for illegal in [".", ".."] {
            if name == illegal {
                return vec![format!("may not be '{illegal}'")];
            }
        }
    }
    ["/", "%"]
        .iter()
        .filter(|bad| name.contains(*bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// `metadata` as an object, reporting a mistyped one (the basics report it already, so this
/// one is quiet for objects).
fn metadata<'a>(object: &Obj<'a>) -> Option<Obj<'a>> {
    let mut ignored = Errs::new();
    metadata_quiet(object, &mut ignored)
}

fn metadata_quiet<'a>(object: &Obj<'a>, errs: &mut Errs) -> Option<Obj<'a>> {
    object.obj("metadata", errs)
}

fn from_meta_error((field, kind, value, detail): MetaFieldError) -> FieldError {
    FieldError {
        field,
        kind,
        bad_value: value.unwrap_or(Value::String(String::new())),
        detail,
    }
}

fn labels_and_annotations(meta: &Obj, errs: &mut Errs) {
    if let Some(labels) = meta.string_map("labels", errs) {
        let found = validation::validate_labels(labels, meta.at_key("labels").as_str());
        errs.extend(found.into_iter().map(from_meta_error));
    }
    if let Some(annotations) = meta.string_map("annotations", errs) {
        let path = meta.at_key("annotations");
        let found = validation::validate_annotations(annotations, path.as_str());
        errs.extend(found.into_iter().map(from_meta_error));
    }
}

/// `ValidateOwnerReferences`: each reference's fields at `metadata.ownerReferences.<field>`
/// (kube does not index them), events may not own anything, one controller at most.
fn owner_references(meta: &Obj, errs: &mut Errs) {
    let list = match meta.list("ownerReferences", errs) {
        Some(list) if !list.is_empty() => list,
        _ => return,
    };
    let path = meta.at_key("ownerReferences");
    let mut first_controller: Option<String> = None;
    for (i, item) in list.iter().enumerate() {
        let Some(reference) = Obj::at(Some(item), path.index(i), errs) else {
            continue;
        };
        owner_reference(&reference, &path, item, errs);
        if reference.bool("controller", errs) != Some(true) {
            continue;
        }
        let name = format!(
            "{}/{}",
            reference.str("kind", errs).unwrap_or_default(),
            reference.str("name", errs).unwrap_or_default()
        );
        match &first_controller {
            Some(first) => errs.push(invalid(
                &path,
                Value::Array(list.to_vec()),
                &format!(
                    "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {name}"
                ),
            )),
            None => first_controller = Some(name),
        }
    }
}

fn owner_reference(reference: &Obj, path: &Path, raw: &Value, errs: &mut Errs) {
    let api_version = reference.str("apiVersion", errs).unwrap_or_default();
    let kind = reference.str("kind", errs).unwrap_or_default();
    let (group, version) = parse_api_version(api_version);
    if version.is_empty() {
        errs.push(invalid(
            &path.child("apiVersion"),
            api_version,
            "version must not be empty",
        ));
    }
    if kind.is_empty() {
        errs.push(invalid(&path.child("kind"), kind, "must not be empty"));
    }
    for field in ["name", "uid"] {
        let value = reference.str(field, errs).unwrap_or_default();
        if value.is_empty() {
            errs.push(invalid(&path.child(field), value, "must not be empty"));
        }
    }
    if group.is_empty() && version == "v1" && kind == "Event" {
        errs.push(invalid(
            path,
            raw.clone(),
            "/v1, Kind=Event is disallowed from being an owner",
        ));
    }
}

/// `schema.ParseGroupVersion`: `v1` is the core group; more than one '/' parses as nothing.
fn parse_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        None => ("", api_version),
        Some((_, rest)) if rest.contains('/') => ("", ""),
        Some((group, version)) => (group, version),
    }
}

/// `ValidateFinalizers` (each a qualified name, at `metadata.finalizers`, and not both
/// `orphan` and `foregroundDeletion`), then core's standard-name rule at
/// `metadata.finalizers[i]`.
fn finalizers(meta: &Obj, kube_finalizers: bool, errs: &mut Errs) {
    let names = match meta.strings("finalizers", errs) {
        Some(names) if !names.is_empty() => names,
        _ => return,
    };
    let path = meta.at_key("finalizers");
    for (_, name) in &names {
        name_errors(&path, name, validation::is_qualified_name(name), errs);
    }
    let has = |wanted: &str| names.iter().any(|(_, n)| *n == wanted);
    if has("orphan") && has("foregroundDeletion") {
        let all: Vec<Value> = names.iter().map(|(_, n)| Value::from(*n)).collect();
        errs.push(invalid(
            &path,
            all,
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    if kube_finalizers {
        for (i, name) in &names {
            kube_finalizer_name(&path.index(*i), name, errs);
        }
    }
}

/// core's `validateKubeFinalizerName`.
pub(crate) fn kube_finalizer_name(path: &Path, name: &str, errs: &mut Errs) {
    if !name.contains('/') && !STANDARD_FINALIZERS.contains(&name) {
        errs.push(invalid(
            path,
            name,
            "name is neither a standard finalizer name nor is it fully qualified",
        ));
    }
}

/// `ValidateNoNewFinalizers`, for an object already being deleted.
fn no_new_finalizers(meta: &Obj, old_meta: &Obj, errs: &mut Errs) {
    let mut ignored = Errs::new();
    let old: Vec<&str> = old_meta
        .strings("finalizers", &mut ignored)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    let mut extra: Vec<&str> = meta
        .strings("finalizers", &mut ignored)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| !old.contains(n))
        .collect();
    if extra.is_empty() {
        return;
    }
    extra.sort_unstable();
    extra.dedup();
    let detail = format!(
        "no new finalizers can be added if the object is being deleted, found new finalizers {}",
        go_string_slice(&extra)
    );
    errs.push(forbidden(&meta.at_key("finalizers"), &detail));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validation::name_is_dns_subdomain;

    fn core_rules() -> MetaRules {
        MetaRules {
            namespaced: true,
            name_fn: name_is_dns_subdomain,
            kube_finalizers: true,
        }
    }

    fn create(object: Value, rules: &MetaRules) -> Vec<String> {
        let mut errs = Errs::new();
        let obj = Obj::root(&object, &mut errs).unwrap();
        validate_create(&obj, rules, &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn path_segment_names() {
        assert_eq!(name_is_path_segment("a:b", false), Vec::<String>::new());
        assert_eq!(name_is_path_segment("..", false), vec!["may not be '..'"]);
        assert_eq!(name_is_path_segment("..", true), Vec::<String>::new());
        assert_eq!(
            name_is_path_segment("a/b%c", false),
            vec!["may not contain '/'", "may not contain '%'"]
        );
    }

    #[test]
    fn owner_references_and_finalizers() {
        let object = json!({"metadata": {
            "name": "a", "namespace": "ns",
            "ownerReferences": [
                {"apiVersion": "a/b/c", "kind": "", "name": "x", "uid": "u", "controller": true},
                {"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "", "controller": true},
            ],
            "finalizers": ["kubernetes", "mine", "example.com/x", "orphan", "foregroundDeletion"],
        }});
        assert_eq!(
            create(object, &core_rules()),
            vec![
                r#"metadata.ownerReferences.apiVersion: Invalid value: "a/b/c": version must not be empty"#,
                r#"metadata.ownerReferences.kind: Invalid value: "": must not be empty"#,
                r#"metadata.ownerReferences.uid: Invalid value: "": must not be empty"#,
                r#"metadata.ownerReferences: Invalid value: {"apiVersion":"v1","controller":true,"kind":"Event","name":"e","uid":""}: /v1, Kind=Event is disallowed from being an owner"#,
                r#"metadata.ownerReferences: Invalid value: [{"apiVersion":"a/b/c","controller":true,"kind":"","name":"x","uid":"u"},{"apiVersion":"v1","controller":true,"kind":"Event","name":"e","uid":""}]: Only one reference can have Controller set to true. Found "true" in references for /x and Event/e"#,
                r#"metadata.finalizers: Invalid value: ["kubernetes","mine","example.com/x","orphan","foregroundDeletion"]: finalizer orphan and foregroundDeletion cannot be both set"#,
                r#"metadata.finalizers[1]: Invalid value: "mine": name is neither a standard finalizer name nor is it fully qualified"#,
            ]
        );
    }

    #[test]
    fn update_forbids_new_finalizers_on_a_deleted_object() {
        let old = json!({"metadata": {"name": "a", "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["a.io/x"]}});
        let new = json!({"metadata": {"name": "a", "finalizers": ["a.io/x", "b.io/y"], "labels": {"bad key": "v"}}});
        let mut errs = Errs::new();
        let (n, o) = (
            Obj::root(&new, &mut errs).unwrap(),
            Obj::root(&old, &mut errs).unwrap(),
        );
        validate_update(&n, &o, true, &mut errs);
        let texts: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(texts.len(), 2);
        assert_eq!(
            texts[0],
            r#"metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"b.io/y"}"#
        );
        assert!(
            texts[1].starts_with(
                r#"metadata.labels: Invalid value: "bad key": name part must consist"#
            )
        );
    }
}
