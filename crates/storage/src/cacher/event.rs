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

/// Decides whether a watcher or a list wants an object (a label or field selector).
pub type Filter = Arc<dyn Fn(&Value) -> bool + Send + Sync>;

/// An object as the cache shares it with every list and watcher: the decoded JSON, and its
/// serialized forms, each made once on first use. A list of 10,000 pods then copies bytes
/// instead of serializing 10,000 objects, and an event goes to 1,000 watchers serialized
/// once.
#[derive(Debug)]
pub struct SharedObject {
    /// Shared again by readers that keep the object past the cache's lock (admission).
    value: Arc<Value>,
    /// The whole object as JSON (watch events, GET).
    json: OnceLock<Vec<u8>>,
    /// Without `apiVersion` and `kind`, as kube-apiserver writes a list's items.
    item_json: OnceLock<Vec<u8>>,
}

impl SharedObject {
    pub fn new(value: Value) -> SharedObject {
        SharedObject::with_json(value, None)
    }

    /// `value` and, when the caller has it, its JSON (what `serde_json` makes of `value`).
    pub fn with_json(value: Value, json: Option<Vec<u8>>) -> SharedObject {
        SharedObject {
            value: Arc::new(value),
            json: json.map(OnceLock::from).unwrap_or_default(),
            item_json: OnceLock::new(),
        }
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The decoded object, shared rather than copied.
    pub fn shared_value(&self) -> Arc<Value> {
        Arc::clone(&self.value)
    }

    /// The object as JSON.
    pub fn json(&self) -> &[u8] {
        self.json
            .get_or_init(|| serde_json::to_vec(self.value.as_ref()).unwrap_or_default())
    }

    /// The object as JSON without its `apiVersion` and `kind` (a list item).
    pub fn item_json(&self) -> &[u8] {
        self.item_json.get_or_init(|| {
            let Value::Object(fields) = self.value.as_ref() else {
                return self.json().to_vec();
            };
            let item: Map<String, Value> = fields
                .iter()
                .filter(|(key, _)| *key != "apiVersion" && *key != "kind")
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            serde_json::to_vec(&item).unwrap_or_default()
        })
    }
}

impl Deref for SharedObject {
    type Target = Value;

    fn deref(&self) -> &Value {
        &self.value
    }
}

impl PartialEq for SharedObject {
    fn eq(&self, other: &SharedObject) -> bool {
        self.value == other.value
    }
}

impl PartialEq<Value> for SharedObject {
    fn eq(&self, other: &Value) -> bool {
        *self.value == *other
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
    /// Decoded once; `metadata.resourceVersion` is `revision` as a string.
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

/// A copy of a cached object (which decoded, so it is an object) at another revision.
pub(crate) fn with_resource_version(object: &Value, revision: i64) -> Value {
    let mut copy = object.clone();
    // Cannot fail: only objects that passed `decode` are cached.
    let _ = set_resource_version(&mut copy, revision);
    copy
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
    filter: &dyn Fn(&Value) -> bool,
) -> Option<CacheEvent> {
    if event.kind == CacheEventType::Bookmark {
        return Some(event.clone());
    }
    if !event.key.starts_with(key_prefix) {
        return None;
    }
    let now = event.kind != CacheEventType::Deleted && filter(&event.object);
    let before = event
        .prev_object
        .as_deref()
        .is_some_and(|prev| filter(prev));
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
            let gone = with_resource_version(prev, event.revision);
            (CacheEventType::Deleted, Arc::new(SharedObject::new(gone)))
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

    fn is_web(object: &Value) -> bool {
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
}
