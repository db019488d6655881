//! The metadata the server owns (`metadata.uid`, `creationTimestamp`, `resourceVersion`,
//! `generation`, `managedFields`, `deletionTimestamp`), set the way kube-apiserver's
//! `BeforeCreate`/`BeforeUpdate` and its storage decoder set them. Pure functions over JSON;
//! time and randomness come in as arguments (from `Env`, the seam).

use kubesim_api::fields;
use kubesim_api::resources::Resource;
use serde_json::{Map, Value, json};

/// kube's `names.SimpleNameGenerator` alphabet: no vowels (no words) and no look-alikes.
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
/// kube's random suffix length for `generateName`.
const NAME_SUFFIX_LEN: usize = 5;
/// kube's `maxGeneratedNameLength`: the prefix is cut so the name stays a DNS subdomain.
const MAX_GENERATED_PREFIX_LEN: usize = 63 - NAME_SUFFIX_LEN;

/// A random v4 UUID from two draws of the seam's entropy.
pub fn new_uid(mut next_u64: impl FnMut() -> u64) -> String {
    let high = next_u64().to_be_bytes();
    let low = next_u64().to_be_bytes();
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high);
    bytes[8..].copy_from_slice(&low);
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    // By hand, not `format!` per byte: every create makes one (1% of a create's CPU).
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut uid = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            uid.push('-');
        }
        uid.push(char::from(HEX[usize::from(b >> 4)]));
        uid.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    uid
}

/// `generateName` + five random characters, the prefix cut as kube cuts it.
pub fn generate_name(prefix: &str, mut next_u64: impl FnMut() -> u64) -> String {
    let mut cut = prefix.len().min(MAX_GENERATED_PREFIX_LEN);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut name = prefix[..cut].to_string();
    for _ in 0..NAME_SUFFIX_LEN {
        let index = (next_u64() % NAME_ALPHABET.len() as u64) as usize;
        name.push(char::from(NAME_ALPHABET[index]));
    }
    name
}

/// `metadata` as a mutable map, created when absent or not an object (validation has
/// already refused a wrong type by then).
pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    let Value::Object(fields) = object else {
        unreachable!("made an object above")
    };
    let meta = fields
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    match meta {
        Value::Object(map) => map,
        _ => unreachable!("made an object above"),
    }
}

/// A string field of `metadata`, "" when absent.
pub fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    fields::field(object, "metadata")
        .and_then(|m| fields::field(m, field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The kinds whose `metadata.generation` kube-apiserver maintains (set to 1 on create,
/// bumped when the spec changes).
pub fn has_generation(resource: &Resource) -> bool {
    matches!(
        resource.kind,
        "Pod"
            | "Deployment"
            | "MutatingWebhookConfiguration"
            | "ValidatingWebhookConfiguration"
            | "FlowSchema"
            | "PriorityLevelConfiguration"
    )
}

/// What the server sets on a new object: uid, creationTimestamp, generation 1; what a
/// client may not set on create is cleared (resourceVersion, deletionTimestamp,
/// deletionGracePeriodSeconds), as kube's `BeforeCreate` does.
pub fn prepare_for_create(resource: &Resource, object: &mut Value, uid: String, now: &str) {
    let meta = metadata_mut(object);
    meta.shift_remove("resourceVersion");
    meta.shift_remove("deletionTimestamp");
    meta.shift_remove("deletionGracePeriodSeconds");
    meta.insert("uid".into(), Value::String(uid));
    meta.insert("creationTimestamp".into(), Value::String(now.to_string()));
    if has_generation(resource) {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.shift_remove("generation");
    }
    // kube's ResourceQuota, FlowSchema and PriorityLevelConfiguration strategies: a new
    // object has no status until its controller fills it (a client must not create a quota
    // with a made-up `status.used`, or a FlowSchema with a made-up condition).
    let controller_status = matches!(
        (resource.group, resource.kind),
        ("", "ResourceQuota")
            | (
                "flowcontrol.apiserver.k8s.io",
                "FlowSchema" | "PriorityLevelConfiguration"
            )
    );
    if controller_status && let Some(fields) = object.as_object_mut() {
        fields.insert("status".into(), json!({}));
    }
}

/// What an update may not change: the server-owned fields come from the stored object
/// (kube's `BeforeUpdate` + `FillObjectMetaSystemFields`). `generation_changed` says whether
/// the kind's spec changed, which bumps the generation.
pub fn prepare_for_update(object: &mut Value, old: &Value, generation_changed: bool) {
    let old_meta = old.get("metadata").cloned().unwrap_or(Value::Null);
    let meta = metadata_mut(object);
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        match old_meta.get(field) {
            Some(value) => meta.insert(field.to_string(), value.clone()),
            None => meta.shift_remove(field),
        };
    }
    match old_meta.get("generation").and_then(Value::as_i64) {
        Some(generation) => {
            let next = if generation_changed {
                generation + 1
            } else {
                generation
            };
            meta.insert("generation".into(), json!(next));
        }
        None => {
            meta.shift_remove("generation");
        }
    }
}

/// Sets `metadata.resourceVersion` (a string, opaque to clients) to a store revision.
pub fn set_resource_version(object: &mut Value, revision: i64) {
    metadata_mut(object).insert(
        "resourceVersion".into(),
        Value::String(revision.to_string()),
    );
}

/// The bytes stored for an object: its JSON without `metadata.resourceVersion`, which is the
/// key's mod_revision and would be stale the moment it was written (kube's
/// `PrepareObjectForStorage`).
pub fn to_stored(object: &Value) -> Vec<u8> {
    // Invariant: a `serde_json::Value` always serializes.
    if meta_str(object, "resourceVersion").is_empty() {
        return serde_json::to_vec(object).expect("a JSON value always serializes");
    }
    let mut object = object.clone();
    metadata_mut(&mut object).shift_remove("resourceVersion");
    serde_json::to_vec(&object).expect("a JSON value always serializes")
}

/// The stored bytes of an object without a resourceVersion (a create's), and where
/// `metadata`'s closing brace is in them: the watch cache splices the write's
/// resourceVersion in there rather than serializing the object again
/// (`kubesim_storage::cacher::OwnObject`). The bytes are what `serde_json` makes of the
/// object: its compact form, field by field.
pub fn stored_json(object: &Value) -> (Vec<u8>, Option<usize>) {
    let Value::Object(fields) = object else {
        return (to_stored(object), None);
    };
    // A pod is about 3 KiB stored: one allocation for most objects.
    let mut out = Vec::with_capacity(4096);
    let mut metadata_end = None;
    out.push(b'{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Invariant: strings and `serde_json::Value`s always serialize, and a Vec takes them.
        serde_json::to_writer(&mut out, key).expect("a string always serializes");
        out.push(b':');
        serde_json::to_writer(&mut out, value).expect("a JSON value always serializes");
        if key == "metadata" && value.is_object() {
            metadata_end = Some(out.len() - 1);
        }
    }
    out.push(b'}');
    (out, metadata_end)
}

/// [`stored_json`] of an object that may carry a resourceVersion (an update's, which keeps
/// the client's for its answer): the bytes leave it out, as kube's
/// `PrepareObjectForStorage` does, and the object is as it was when this returns (the
/// resourceVersion back in its place). No copy of the object is made.
pub fn stored_json_without_resource_version(object: &mut Value) -> (Vec<u8>, Option<usize>) {
    let taken = object
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .and_then(|metadata| {
            let at = metadata.keys().position(|key| key == "resourceVersion")?;
            let (key, value) = metadata.shift_remove_entry("resourceVersion")?;
            Some((at, key, value))
        });
    let stored = stored_json(object);
    if let Some((at, key, value)) = taken {
        metadata_mut(object).shift_insert(at, key, value);
    }
    stored
}

/// An object read from the store, with its resourceVersion set. `None` for bytes that are not
/// a JSON object (written by something else under the prefix).
pub fn from_stored(bytes: &[u8], revision: i64) -> Option<Value> {
    let mut object: Value = serde_json::from_slice(bytes).ok()?;
    if !object.is_object() {
        return None;
    }
    set_resource_version(&mut object, revision);
    Some(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> impl FnMut() -> u64 {
        let mut n = 0u64;
        move || {
            n = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
            n
        }
    }

    #[test]
    fn stored_json_is_serde_json_and_finds_the_end_of_metadata() {
        let object = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "a\"}", "labels": {"x": "{}"}}, "spec": {"n": [1, {}]}});
        let (bytes, end) = stored_json(&object);
        assert_eq!(bytes, serde_json::to_vec(&object).expect("json"));
        let end = end.expect("metadata");
        assert_eq!(bytes[end], b'}');
        assert!(bytes[end + 1..].starts_with(br#","spec":"#));
        let (bytes, end) = stored_json(&serde_json::json!({"spec": 1}));
        assert_eq!((bytes.as_slice(), end), (br#"{"spec":1}"#.as_slice(), None));
    }

    #[test]
    fn an_updates_stored_json_leaves_the_resource_version_out_and_the_object_unchanged() {
        let mut object = serde_json::json!({"kind": "Pod", "metadata": {"name": "a",
            "resourceVersion": "7", "uid": "u"}, "spec": {}});
        let before = serde_json::to_string(&object).expect("json");
        let (bytes, end) = stored_json_without_resource_version(&mut object);
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            r#"{"kind":"Pod","metadata":{"name":"a","uid":"u"},"spec":{}}"#
        );
        assert_eq!(bytes[end.expect("metadata")], b'}');
        assert_eq!(serde_json::to_string(&object).expect("json"), before);
        // Without a resourceVersion (or metadata) it is `stored_json`.
        let mut plain = serde_json::json!({"metadata": {"name": "a"}});
        assert_eq!(
            stored_json_without_resource_version(&mut plain),
            stored_json(&plain)
        );
        let mut bare = serde_json::json!({"spec": 1});
        assert_eq!(
            stored_json_without_resource_version(&mut bare),
            (br#"{"spec":1}"#.to_vec(), None)
        );
    }

    #[test]
    fn uids_are_version_4() {
        let uid = new_uid(counter());
        assert_eq!(uid.len(), 36);
        assert_eq!(&uid[14..15], "4");
        assert!(matches!(&uid[19..20], "8" | "9" | "a" | "b"), "{uid}");
        let fixed = new_uid(|| 0x0123_4567_89ab_cdef);
        assert_eq!(fixed, "01234567-89ab-4def-8123-456789abcdef");
    }

    #[test]
    fn generated_names_use_kubes_alphabet_and_cut_long_prefixes() {
        let name = generate_name("web-", counter());
        assert_eq!(name.len(), 9);
        assert!(
            name[4..].bytes().all(|b| NAME_ALPHABET.contains(&b)),
            "{name}"
        );
        let long = "x".repeat(100);
        assert_eq!(generate_name(&long, counter()).len(), 63);
    }

    #[test]
    fn create_sets_server_fields_and_clears_client_ones() {
        let pods = kubesim_api::resources::lookup("", "v1", "pods").unwrap();
        let mut pod = json!({"metadata": {"name": "a", "resourceVersion": "7",
            "deletionTimestamp": "2020-01-01T00:00:00Z"}});
        prepare_for_create(pods, &mut pod, "u".into(), "2026-01-01T00:00:00Z");
        assert_eq!(
            pod,
            json!({"metadata": {"name": "a", "uid": "u",
                "creationTimestamp": "2026-01-01T00:00:00Z", "generation": 1}})
        );
    }

    #[test]
    fn update_keeps_server_fields_and_bumps_generation_on_spec_change() {
        let old = json!({"metadata": {"name": "a", "uid": "u", "generation": 3,
            "creationTimestamp": "t"}});
        let mut new = json!({"metadata": {"name": "a", "uid": "forged", "generation": 99}});
        prepare_for_update(&mut new, &old, true);
        assert_eq!(
            new["metadata"],
            json!({"name": "a", "uid": "u", "generation": 4, "creationTimestamp": "t"})
        );
    }

    #[test]
    fn stored_bytes_have_no_resource_version() {
        let object = json!({"metadata": {"name": "a", "resourceVersion": "5"}});
        let stored = to_stored(&object);
        assert_eq!(stored, br#"{"metadata":{"name":"a"}}"#);
        assert_eq!(
            from_stored(&stored, 9).unwrap(),
            json!({"metadata": {"name": "a", "resourceVersion": "9"}})
        );
        assert_eq!(from_stored(b"[1]", 9), None);
    }
}
