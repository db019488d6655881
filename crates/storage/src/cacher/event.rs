//! The cache's objects and events, and the pure rules over them: decoding a stored value
//! (once, with `metadata.resourceVersion` set as kube-apiserver's decoder does), the bookmark
//! objects, and what one watcher sees of an event ([`for_watcher`], kube's
//! `cacheWatcher.convertToWatchEvent`).

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

/// The annotation on the bookmark that ends a watch's initial events (`sendInitialEvents`),
/// `metav1.InitialEventsAnnotationKey`.
pub const INITIAL_EVENTS_END_ANNOTATION: &str = "k8s.io/initial-events-end";

/// Decides whether a watcher or a list wants an object (a label or field selector). It gets
/// the [`SharedObject`], not its decoded form, so a filter that wants everything never makes
/// the cache decode an object.
pub type Filter = Arc<dyn Fn(&SharedObject) -> bool + Send + Sync>;

/// An object as the cache shares it with every list and watcher: its JSON, always, and its
/// decoded form and list-item JSON, each made on first use and kept. A list of 10,000 pods
/// then copies bytes instead of serializing 10,000 objects, and an event goes to 1,000
/// watchers serialized once.
///
/// The JSON is the primary form because most cached objects are only ever served as JSON
/// (GET, lists, watch events): a pod decoded into a `serde_json::Value` takes about ten times
/// the memory of its JSON (~40 KiB against ~3 KiB), and a cache that kept every pod decoded
/// grew by that much per pod, each new page a page fault on the create path. Selectors,
/// Tables, updates and admission decode the objects they read, once.
///
/// Invariant: `json` is what `serde_json` writes for a JSON object (compact, fields in order),
/// so it always decodes, and re-serializing the decoded form gives the same bytes.
#[derive(Debug)]
pub struct SharedObject {
    /// The whole object as JSON (watch events, GET).
    json: Vec<u8>,
    /// Decoded on first use; shared again by readers that keep the object past the cache's
    /// lock (admission).
    value: OnceLock<Arc<Value>>,
    /// Without `apiVersion` and `kind`, as kube-apiserver writes a list's items.
    item_json: OnceLock<Vec<u8>>,
}

impl SharedObject {
    /// `value`, serialized now, its decoded form kept (the caller is about to read it, or it
    /// is small).
    pub fn new(value: Value) -> SharedObject {
        SharedObject {
            json: to_json(&value),
            value: OnceLock::from(Arc::new(value)),
            item_json: OnceLock::new(),
        }
    }

    /// `value`, serialized now, its decoded form dropped (decoded again only if a reader
    /// asks): the form the cache holds its objects in.
    pub fn compact(value: Value) -> SharedObject {
        SharedObject::from_json(to_json(&value))
    }

    /// An object from JSON that `serde_json` wrote for a JSON object (the invariant above;
    /// the caller vouches for it, e.g. by splicing a field into such JSON).
    pub fn from_json(json: Vec<u8>) -> SharedObject {
        SharedObject {
            json,
            value: OnceLock::new(),
            item_json: OnceLock::new(),
        }
    }

    /// The decoded object (decoded now if nobody asked before).
    pub fn value(&self) -> &Value {
        self.decoded()
    }

    /// The decoded object, shared rather than copied.
    pub fn shared_value(&self) -> Arc<Value> {
        Arc::clone(self.decoded())
    }

    fn decoded(&self) -> &Arc<Value> {
        self.value.get_or_init(|| {
            // Cannot fail (the invariant); `Null` keeps a broken invariant from panicking.
            Arc::new(serde_json::from_slice(&self.json).unwrap_or(Value::Null))
        })
    }

    /// Whether the decoded form is held (for tests of what the cache keeps).
    pub fn is_decoded(&self) -> bool {
        self.value.get().is_some()
    }

    /// The object as JSON.
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// The object as JSON without its `apiVersion` and `kind` (a list item): cut from the
    /// JSON, without decoding it.
    pub fn item_json(&self) -> &[u8] {
        self.item_json.get_or_init(|| {
            without_type_meta(&self.json).unwrap_or_else(|| {
                // Unreachable while the invariant holds; the slow way is still right.
                let Value::Object(fields) = self.value() else {
                    return self.json.clone();
                };
                let item: Map<String, Value> = fields
                    .iter()
                    .filter(|(key, _)| *key != "apiVersion" && *key != "kind")
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect();
                serde_json::to_vec(&item).unwrap_or_default()
            })
        })
    }
}

fn to_json(value: &Value) -> Vec<u8> {
    // Invariant: a `serde_json::Value` always serializes.
    serde_json::to_vec(value).unwrap_or_default()
}

/// `json`, a JSON object, without its top-level `apiVersion` and `kind` members, the rest
/// byte for byte. `None` if `json` is not a well-formed object (the caller decodes instead).
/// Names are compared as written: `serde_json` never escapes the letters of these two.
fn without_type_meta(json: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(json.len());
    let mut at = skip_whitespace(json, 0);
    if json.get(at) != Some(&b'{') {
        return None;
    }
    out.push(b'{');
    at = skip_whitespace(json, at + 1);
    let mut first = true;
    if json.get(at) != Some(&b'}') {
        loop {
            let name = at..skip_string(json, at)?;
            at = skip_whitespace(json, name.end);
            if json.get(at) != Some(&b':') {
                return None;
            }
            at = skip_whitespace(json, at + 1);
            let value = at..skip_value(json, at)?;
            let member = &json[name.clone()];
            if member != b"\"apiVersion\"" && member != b"\"kind\"" {
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_slice(member);
                out.push(b':');
                out.extend_from_slice(&json[value.clone()]);
            }
            at = skip_whitespace(json, value.end);
            match json.get(at) {
                Some(b',') => at = skip_whitespace(json, at + 1),
                Some(b'}') => break,
                _ => return None,
            }
        }
    }
    if skip_whitespace(json, at + 1) != json.len() {
        return None;
    }
    out.push(b'}');
    Some(out)
}

fn skip_whitespace(json: &[u8], mut at: usize) -> usize {
    while json
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        at += 1;
    }
    at
}

/// The index just past the string that starts at `at`.
fn skip_string(json: &[u8], at: usize) -> Option<usize> {
    if json.get(at) != Some(&b'"') {
        return None;
    }
    let mut i = at + 1;
    loop {
        match json.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// The index just past the value that starts at `at` (the value is not checked beyond
/// where it ends: the caller's JSON came from `serde_json`).
fn skip_value(json: &[u8], at: usize) -> Option<usize> {
    match json.get(at)? {
        b'"' => skip_string(json, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match json.get(i)? {
                    b'"' => {
                        i = skip_string(json, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let end = json[at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .map_or(json.len(), |n| at + n);
            (end > at).then_some(end)
        }
    }
}

impl Deref for SharedObject {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.value()
    }
}

impl PartialEq for SharedObject {
    fn eq(&self, other: &SharedObject) -> bool {
        self.json == other.json || self.value() == other.value()
    }
}

impl PartialEq<Value> for SharedObject {
    fn eq(&self, other: &Value) -> bool {
        self.value() == other
    }
}

impl From<Value> for SharedObject {
    fn from(value: Value) -> SharedObject {
        SharedObject::new(value)
    }
}

/// One object as the cache holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedObject {
    pub key: Arc<str>,
    /// Its `metadata.resourceVersion` is `revision` as a string.
    pub object: Arc<SharedObject>,
    /// The object's mod_revision.
    pub revision: i64,
}

/// Kubernetes' watch event types (`watch.EventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheEventType {
    Added,
    Modified,
    Deleted,
    Bookmark,
}

impl CacheEventType {
    /// The `type` of a watch event on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheEventType::Added => "ADDED",
            CacheEventType::Modified => "MODIFIED",
            CacheEventType::Deleted => "DELETED",
            CacheEventType::Bookmark => "BOOKMARK",
        }
    }
}

/// One change, in the cache's history or as a watcher receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheEvent {
    pub kind: CacheEventType,
    /// The object's key; empty for a bookmark.
    pub key: Arc<str>,
    /// The new state; for `Deleted`, the last state with the deletion's resourceVersion; for
    /// `Bookmark`, `{"metadata":{"resourceVersion":…}}` (the HTTP layer adds kind and
    /// apiVersion, which the cache does not know).
    pub object: Arc<SharedObject>,
    /// The cached state before this change, if the cache had the key.
    pub prev_object: Option<Arc<SharedObject>>,
    /// The revision of the change; for the initial events of a watch, the revision of the
    /// snapshot they come from (as kube-apiserver's watch cache does).
    pub revision: i64,
}

/// A stored value as an object: JSON, with `metadata.resourceVersion` set to `revision`.
pub(crate) fn decode(value: &[u8], revision: i64) -> Result<Value, String> {
    let mut object: Value = serde_json::from_slice(value).map_err(|e| e.to_string())?;
    set_resource_version(&mut object, revision)?;
    Ok(object)
}

/// Sets `metadata.resourceVersion` (in place if present, as the last metadata field if not).
/// The object must be a JSON object whose `metadata`, if any, is one too.
pub(crate) fn set_resource_version(object: &mut Value, revision: i64) -> Result<(), String> {
    let Value::Object(fields) = object else {
        return Err("the stored value is not a JSON object".into());
    };
    let metadata = fields
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(metadata) = metadata else {
        return Err("the stored value's metadata is not a JSON object".into());
    };
    metadata.insert(
        "resourceVersion".into(),
        Value::String(revision.to_string()),
    );
    Ok(())
}

/// A cached object at another revision (a deletion's last state, a watcher's DELETED): its
/// JSON with the resourceVersion replaced, decoded for the change if it is not already and
/// kept compact.
pub(crate) fn at_revision(object: &SharedObject, revision: i64) -> SharedObject {
    let mut copy = match object.value.get() {
        Some(decoded) => Value::clone(decoded),
        // Decoded for this copy only: the cached object stays compact.
        None => serde_json::from_slice(object.json()).unwrap_or(Value::Null),
    };
    // Cannot fail: cached objects are JSON objects with object metadata.
    let _ = set_resource_version(&mut copy, revision);
    SharedObject::compact(copy)
}

/// A BOOKMARK at `revision`; `initial_events_end` marks the end of a watch's initial events.
pub(crate) fn bookmark(revision: i64, initial_events_end: bool) -> CacheEvent {
    let mut metadata = Map::new();
    metadata.insert(
        "resourceVersion".into(),
        Value::String(revision.to_string()),
    );
    if initial_events_end {
        let mut annotations = Map::new();
        annotations.insert(
            INITIAL_EVENTS_END_ANNOTATION.into(),
            Value::String("true".into()),
        );
        metadata.insert("annotations".into(), Value::Object(annotations));
    }
    let mut object = Map::new();
    object.insert("metadata".into(), Value::Object(metadata));
    CacheEvent {
        kind: CacheEventType::Bookmark,
        key: Arc::from(""),
        object: Arc::new(SharedObject::new(Value::Object(object))),
        prev_object: None,
        revision,
    }
}

/// The ADDED event a watch's initial state sends for `object`, at the snapshot's `revision`.
pub(crate) fn added(object: &CachedObject, revision: i64) -> CacheEvent {
    CacheEvent {
        kind: CacheEventType::Added,
        key: object.key.clone(),
        object: object.object.clone(),
        prev_object: None,
        revision,
    }
}

/// What a watcher of `key_prefix` with `filter` sees of `event`, as kube's cacheWatcher
/// decides: nothing if neither the new nor the previous state matches; ADDED when only the
/// new one does; MODIFIED when both do; DELETED (the previous state at the event's
/// resourceVersion) when only the previous one does, so a client's view stays exact when a
/// label change moves an object out of its selector.
pub(crate) fn for_watcher(
    event: &CacheEvent,
    key_prefix: &str,
    filter: &dyn Fn(&SharedObject) -> bool,
) -> Option<CacheEvent> {
    if event.kind == CacheEventType::Bookmark {
        return Some(event.clone());
    }
    if !event.key.starts_with(key_prefix) {
        return None;
    }
    let now = event.kind != CacheEventType::Deleted && filter(&event.object);
    let before = event.prev_object.as_deref().is_some_and(filter);
    let (kind, object) = match (now, before) {
        (false, false) => return None,
        (true, false) => (CacheEventType::Added, event.object.clone()),
        (true, true) => (CacheEventType::Modified, event.object.clone()),
        // A deletion already carries the last state at its own resourceVersion.
        (false, true) if event.kind == CacheEventType::Deleted => {
            (CacheEventType::Deleted, event.object.clone())
        }
        (false, true) => {
            let prev = event.prev_object.as_deref()?;
            let gone = at_revision(prev, event.revision);
            (CacheEventType::Deleted, Arc::new(gone))
        }
    };
    Some(CacheEvent {
        kind,
        object,
        ..event.clone()
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(kind: CacheEventType, object: Value, prev: Option<Value>) -> CacheEvent {
        CacheEvent {
            kind,
            key: Arc::from("/registry/pods/ns/a"),
            object: Arc::new(SharedObject::new(object)),
            prev_object: prev.map(|p| Arc::new(SharedObject::new(p))),
            revision: 9,
        }
    }

    fn labeled(app: &str, rv: &str) -> Value {
        json!({"metadata": {"name": "a", "labels": {"app": app}, "resourceVersion": rv}})
    }

    fn is_web(object: &SharedObject) -> bool {
        object["metadata"]["labels"]["app"] == "web"
    }

    #[test]
    fn decode_sets_the_resource_version() {
        let object = decode(br#"{"kind":"Pod","metadata":{"name":"a"}}"#, 7).expect("decode");
        assert_eq!(
            object,
            json!({"kind": "Pod", "metadata": {"name": "a", "resourceVersion": "7"}})
        );
        // In place when the stored object has one (a stale value is never served).
        let object = decode(br#"{"metadata":{"resourceVersion":"1","uid":"u"}}"#, 8).expect("ok");
        assert_eq!(
            serde_json::to_string(&object).expect("json"),
            r#"{"metadata":{"resourceVersion":"8","uid":"u"}}"#
        );
        let object = decode(br#"{"spec":{}}"#, 3).expect("no metadata");
        assert_eq!(
            object,
            json!({"spec": {}, "metadata": {"resourceVersion": "3"}})
        );
        assert_eq!(
            decode(b"[1]", 3),
            Err("the stored value is not a JSON object".to_string())
        );
        assert_eq!(
            decode(br#"{"metadata":"x"}"#, 3),
            Err("the stored value's metadata is not a JSON object".to_string())
        );
        assert!(decode(b"\x00garbage", 3).is_err());
    }

    #[test]
    fn bookmarks_carry_only_the_revision() {
        assert_eq!(
            *bookmark(12, false).object,
            json!({"metadata": {"resourceVersion": "12"}})
        );
        assert_eq!(
            *bookmark(12, true).object,
            json!({"metadata": {"resourceVersion": "12",
                "annotations": {"k8s.io/initial-events-end": "true"}}})
        );
        assert_eq!(bookmark(12, true).kind, CacheEventType::Bookmark);
    }

    #[test]
    fn filter_transitions_become_added_and_deleted() {
        let prefix = "/registry/pods/ns/";
        // Starts matching: ADDED with the new state.
        let start = event(
            CacheEventType::Modified,
            labeled("web", "9"),
            Some(labeled("db", "5")),
        );
        let seen = for_watcher(&start, prefix, &is_web).expect("seen");
        assert_eq!(seen.kind, CacheEventType::Added);
        assert_eq!(*seen.object, labeled("web", "9"));

        // Stops matching: DELETED with the previous state at the event's resourceVersion.
        let stop = event(
            CacheEventType::Modified,
            labeled("db", "9"),
            Some(labeled("web", "5")),
        );
        let seen = for_watcher(&stop, prefix, &is_web).expect("seen");
        assert_eq!(seen.kind, CacheEventType::Deleted);
        assert_eq!(*seen.object, labeled("web", "9"));
        assert_eq!(seen.revision, 9);

        // Matches before and after: MODIFIED.
        let both = event(
            CacheEventType::Modified,
            labeled("web", "9"),
            Some(labeled("web", "5")),
        );
        assert_eq!(
            for_watcher(&both, prefix, &is_web).map(|e| e.kind),
            Some(CacheEventType::Modified)
        );
        // Neither: nothing.
        let neither = event(
            CacheEventType::Modified,
            labeled("db", "9"),
            Some(labeled("db", "5")),
        );
        assert_eq!(for_watcher(&neither, prefix, &is_web), None);
        // A MODIFIED of a key the cache did not have is an ADDED to the watcher.
        let unknown = event(CacheEventType::Modified, labeled("web", "9"), None);
        assert_eq!(
            for_watcher(&unknown, prefix, &is_web).map(|e| e.kind),
            Some(CacheEventType::Added)
        );
    }

    #[test]
    fn deletions_reach_the_watchers_of_the_last_state() {
        let prefix = "/registry/pods/";
        let deleted = event(
            CacheEventType::Deleted,
            labeled("web", "9"),
            Some(labeled("web", "5")),
        );
        let seen = for_watcher(&deleted, prefix, &is_web).expect("seen");
        assert_eq!(seen.kind, CacheEventType::Deleted);
        assert!(Arc::ptr_eq(&seen.object, &deleted.object));
        let other = event(
            CacheEventType::Deleted,
            labeled("db", "9"),
            Some(labeled("db", "5")),
        );
        assert_eq!(for_watcher(&other, prefix, &is_web), None);
    }

    #[test]
    fn other_prefixes_see_nothing() {
        let added = event(CacheEventType::Added, labeled("web", "9"), None);
        assert_eq!(
            for_watcher(&added, "/registry/pods/other/", &|_| true),
            None
        );
        assert!(for_watcher(&added, "/registry/pods/ns/", &|_| true).is_some());
    }

    /// Objects whose JSON has what the item cutter must get right: type meta first, last or
    /// in between, nested `kind`s (kept), strings with braces, quotes and escapes.
    fn tricky_objects() -> Vec<Value> {
        vec![
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}),
            json!({"metadata": {"name": "a\"}{[", "labels": {"kind": "x"}},
                "kind": "Pod", "spec": {"kind": ["\\", "]", {"apiVersion": 1}]},
                "apiVersion": "v1"}),
            json!({"apiVersion": "v1", "kind": "List"}),
            json!({}),
            json!({"kind": "Pod", "n": -1.5e3, "t": true, "f": false, "z": null,
                "e": [], "o": {}, "u": "\u{e9}\n\t\u{1}"}),
        ]
    }

    #[test]
    fn list_items_are_cut_from_the_json_as_serializing_them_makes() {
        for value in tricky_objects() {
            let Value::Object(fields) = &value else {
                unreachable!("objects")
            };
            let item: Map<String, Value> = fields
                .iter()
                .filter(|(key, _)| *key != "apiVersion" && *key != "kind")
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            let expected = serde_json::to_vec(&item).expect("json");
            let object = SharedObject::compact(value.clone());
            assert_eq!(
                String::from_utf8_lossy(object.item_json()),
                String::from_utf8_lossy(&expected),
                "{value}"
            );
            // Cut without decoding.
            assert!(!object.is_decoded());
        }
        // JSON with whitespace (not what serde_json writes, but still cut right).
        let spaced = br#" { "kind" : "Pod" , "a" : [ 1 , 2 ] , "apiVersion":"v1" } "#;
        assert_eq!(
            without_type_meta(spaced).as_deref(),
            Some(br#"{"a":[ 1 , 2 ]}"#.as_slice())
        );
        for broken in [
            &b""[..],
            b"[]",
            b"{",
            b"{\"a\"}",
            b"{\"a\":1",
            b"{\"a\":1}x",
            b"{\"a",
        ] {
            assert_eq!(without_type_meta(broken), None, "{broken:?}");
        }
    }

    #[test]
    fn the_cache_form_is_json_and_decodes_on_first_use() {
        let value = labeled("web", "9");
        let object = SharedObject::compact(value.clone());
        assert!(!object.is_decoded());
        assert_eq!(object.json(), serde_json::to_vec(&value).expect("json"));
        assert_eq!(*object, value);
        assert!(object.is_decoded());
        // A filter that wants everything does not decode an event's objects.
        let event = CacheEvent {
            kind: CacheEventType::Modified,
            key: Arc::from("/registry/pods/ns/a"),
            object: Arc::new(SharedObject::compact(labeled("web", "9"))),
            prev_object: Some(Arc::new(SharedObject::compact(labeled("web", "5")))),
            revision: 9,
        };
        assert!(for_watcher(&event, "/registry/pods/", &|_| true).is_some());
        assert!(!event.object.is_decoded());
        assert!(!event.prev_object.as_ref().is_some_and(|p| p.is_decoded()));
        // Nor does a copy at another revision decode the cached object.
        let gone = at_revision(event.prev_object.as_ref().expect("prev"), 12);
        assert_eq!(gone, labeled("web", "12"));
        assert!(!event.prev_object.as_ref().is_some_and(|p| p.is_decoded()));
    }
}
