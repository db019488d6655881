//! JSON merge patch (RFC 7386, `application/merge-patch+json`) as kube-apiserver applies it
//! with evanphx/json-patch v4's `MergePatch`: an object merges key by key, `null` removes a
//! key, anything else replaces what was there.
//!
//! Where v4 goes beyond the RFC, so does this: a value added where there was none (or null, or
//! a non-object) loses its null keys at every depth, inside lists too, while a list or scalar
//! that replaces an object is taken as it is. A patch that is null, a string, a number or
//! not JSON at all is `Invalid JSON Patch` (400); a list becomes the document, which then is
//! not an object (422).

use serde_json::{Map, Value};

use super::{PatchError, into_object, parse_patch};

/// evanphx/json-patch's `ErrBadJSONPatch`, which kube-apiserver answers with a 400.
pub const ERR_BAD_JSON_PATCH: &str = "Invalid JSON Patch";

/// Applies a JSON merge patch to `original` (an object).
pub fn apply_merge_patch(original: &Value, patch: &[u8]) -> Result<Value, PatchError> {
    let patch = parse_patch(patch, |_| bad_patch())?;
    let merged = match &patch {
        Value::Object(_) => merge_value(Some(original.clone()), &patch),
        Value::Array(_) => prune_nulls(patch),
        _ => return Err(bad_patch()),
    };
    into_object(merged)
}

fn bad_patch() -> PatchError {
    PatchError::Malformed(ERR_BAD_JSON_PATCH.to_string())
}

/// The value `patch` leaves where `current` was (`None`: nothing was there).
fn merge_value(current: Option<Value>, patch: &Value) -> Value {
    match (current, patch) {
        (Some(Value::Object(target)), Value::Object(patch)) => {
            Value::Object(merge_objects(target, patch))
        }
        // v4 takes a non-object patch over an object as it is, nulls and all.
        (Some(Value::Object(_)), _) => patch.clone(),
        _ => prune_nulls(patch.clone()),
    }
}

/// `target` with each key of `patch` merged in: existing keys keep their place, new ones
/// follow in the patch's order. Removals are gathered and done in one pass, so a patch of
/// many nulls costs one walk of the object, not one each.
fn merge_objects(mut target: Map<String, Value>, patch: &Map<String, Value>) -> Map<String, Value> {
    let mut removed = false;
    for (key, value) in patch {
        if value.is_null() {
            removed |= target.contains_key(key);
            continue;
        }
        // Take the value out (leaving null in its place, so its position stays), merge,
        // put it back.
        let current = target
            .get_mut(key)
            .map(std::mem::take)
            .filter(|v| !v.is_null());
        target.insert(key.clone(), merge_value(current, value));
    }
    if removed {
        target.retain(|key, _| !patch.get(key).is_some_and(Value::is_null));
    }
    target
}

/// `pruneNulls`: drops null values of objects at any depth; list items stay, even null ones.
fn prune_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, prune_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(prune_nulls).collect()),
        scalar => scalar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::MAX_DEPTH;
    use serde_json::json;

    fn merge(original: Value, patch: &str) -> Result<Value, PatchError> {
        apply_merge_patch(&original, patch.as_bytes())
    }

    #[test]
    fn merges_objects_removes_nulls_and_keeps_key_order() {
        let original = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cm", "labels": {"a": "1", "b": "2", "c": "3"}},
            "data": {"x": "1", "y": "2"}
        });
        let patch = r#"{"data": {"y": null, "z": "3", "x": "one"},
                        "metadata": {"labels": {"a": null, "d": "4"}},
                        "immutable": true}"#;
        let patched = merge(original, patch).expect("patched");
        assert_eq!(
            patched.to_string(),
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cm", "labels": {"b": "2", "c": "3", "d": "4"}},
                "data": {"x": "one", "z": "3"},
                "immutable": true
            })
            .to_string()
        );
    }

    #[test]
    fn lists_and_scalars_replace_whole() {
        let original = json!({"spec": {"args": ["a", "b"], "x": {"y": 1}, "n": 1}});
        let patched = merge(
            original,
            r#"{"spec": {"args": ["c"], "x": [1, null], "n": {"m": null, "k": 2}}}"#,
        );
        assert_eq!(
            patched,
            Ok(json!({"spec": {"args": ["c"], "x": [1, null], "n": {"k": 2}}}))
        );
    }

    #[test]
    fn added_values_lose_their_null_keys_at_every_depth() {
        let patched = merge(
            json!({"a": null}),
            r#"{"a": {"b": null, "c": [{"d": null, "e": 1}, null]}, "f": {"g": {"h": null}}}"#,
        );
        assert_eq!(
            patched,
            Ok(json!({"a": {"c": [{"e": 1}, null]}, "f": {"g": {}}}))
        );
    }

    #[test]
    fn removing_a_missing_key_changes_nothing() {
        let original = json!({"a": 1, "b": 2});
        assert_eq!(merge(original.clone(), r#"{"c": null}"#), Ok(original));
    }

    #[test]
    fn malformed_patches_are_invalid_json_patch() {
        for patch in ["", "{", "null", "\"x\"", "5", "true", "{\"a\": 1} x"] {
            assert_eq!(
                merge(json!({}), patch),
                Err(PatchError::Malformed("Invalid JSON Patch".into())),
                "{patch:?}"
            );
        }
    }

    #[test]
    fn a_list_patch_leaves_no_object() {
        assert_eq!(
            merge(json!({"a": 1}), r#"[{"b": null}, 2]"#),
            Err(PatchError::NotAnObject(r#"[{},2]"#.into()))
        );
    }

    #[test]
    fn deep_patches_are_refused() {
        let deep = format!(
            "{}1{}",
            r#"{"a":"#.repeat(MAX_DEPTH + 1),
            "}".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(merge(json!({}), &deep), Err(PatchError::PatchTooDeep));
    }
}
