//! [`OwnWrites`]: the objects this API server is writing, waiting for their own watch event,
//! so the cache takes the object the registry already holds instead of decoding the bytes
//! it serialized a moment earlier (the largest cost of a create: about a third of the API
//! server's instructions per pod).
//!
//! The registry wraps the object in an [`OwnObject`] and offers it *before* it sends the Txn,
//! so the offer is always there when the event comes (the watch stream and the Txn's answer
//! are two streams; the event often arrives first). The reflector takes the offer when an
//! event for the key carries exactly the offered bytes: decoding is a pure function of the
//! bytes, so the offered object (which serializes to them) with its resourceVersion set as
//! decoding sets it is the object decoding would make, whoever wrote those bytes. Nothing
//! depends on revisions, and a write by another API server sharing the store decodes as
//! before.
//!
//! The [`OwnObject`] is shared, not copied: whichever learns the write's revision first (the
//! Txn's answer in the registry, or the event in the reflector) makes the cached
//! [`SharedObject`], and the other gets the same one. Its JSON is the stored bytes with the
//! resourceVersion spliced in, so neither the answer nor a watch event serializes it again.
//!
//! Bounds: one offer per key (a newer offer for a key replaces the older); a write that
//! fails or is abandoned withdraws its offer ([`OwnWrites::withdraw`], by its ticket); a
//! relist drops them all (their events may never come); and the map never holds more than
//! its capacity, the oldest offers going first.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use super::event::{SharedObject, at_revision, decode, set_resource_version};

/// Names one offer, to withdraw exactly it (a later offer for the key keeps its place).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OwnWriteTicket(u64);

/// An object this API server is storing: its stored bytes, and the object, which becomes the
/// cached [`SharedObject`] once the write's revision is known ([`OwnObject::finish`]).
#[derive(Debug)]
pub struct OwnObject {
    /// The value sent to etcd (the JSON of the object, without `metadata.resourceVersion`).
    value: Vec<u8>,
    /// Where `metadata`'s closing brace is in `value`: the resourceVersion goes just before
    /// it, as [`set_resource_version`] puts it last. `None`: serialize when asked.
    resource_version_at: Option<usize>,
    state: Mutex<OwnState>,
}

#[derive(Debug)]
enum OwnState {
    /// Not finished: the object without a resourceVersion, if the writer handed it over.
    Stored(Option<Value>),
    /// Finished at `revision`. The decoded object stays here, not in the cache (which keeps
    /// only the JSON), and goes when the last holder of the offer lets go: usually the
    /// request that made it, so the cache's reflector does not spend its time freeing it.
    Finished(i64, Arc<SharedObject>, Option<Value>),
    /// Only while [`OwnObject::finish`] holds the lock.
    Finishing,
}

impl OwnObject {
    /// `object` serializes to `value` (the caller serialized it); `resource_version_at` is
    /// where `metadata`'s closing brace is in `value`, if the caller knows it.
    pub fn new(object: Value, value: Vec<u8>, resource_version_at: Option<usize>) -> OwnObject {
        OwnObject {
            value,
            resource_version_at,
            state: Mutex::new(OwnState::Stored(Some(object))),
        }
    }

    /// Only the stored bytes, and where `metadata`'s closing brace is in them (an update's:
    /// its object keeps the client's resourceVersion for the answer, so it is not the
    /// stored object). The cached object is these bytes with the resourceVersion spliced in.
    pub fn from_json(value: Vec<u8>, resource_version_at: usize) -> OwnObject {
        OwnObject {
            value,
            resource_version_at: Some(resource_version_at),
            state: Mutex::new(OwnState::Stored(None)),
        }
    }

    /// The bytes to store.
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// The object as stored at `revision`, with its resourceVersion: made once and shared by
    /// whoever asks (the registry's answer, the watch cache).
    pub fn finish(&self, revision: i64) -> Arc<SharedObject> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *state, OwnState::Finishing) {
            OwnState::Stored(object) => {
                let spliced = self
                    .resource_version_at
                    .and_then(|at| json_with_resource_version(&self.value, at, revision));
                let (shared, kept) = match (spliced, object) {
                    (Some(json), kept) => (SharedObject::from_json(json), kept),
                    (None, Some(mut object)) => {
                        // Cannot fail: the registry offers JSON objects with object metadata.
                        let _ = set_resource_version(&mut object, revision);
                        (SharedObject::compact(object), None)
                    }
                    // Only if the writer's brace position was wrong: decode the bytes, as
                    // for anyone else's write.
                    (None, None) => {
                        let object = decode(&self.value, revision).unwrap_or(Value::Null);
                        (SharedObject::compact(object), None)
                    }
                };
                let shared = Arc::new(shared);
                *state = OwnState::Finished(revision, Arc::clone(&shared), kept);
                shared
            }
            OwnState::Finished(finished_at, shared, kept) => {
                let answer = if finished_at == revision {
                    Arc::clone(&shared)
                } else {
                    // Another write of the same bytes (never this server's own: each write
                    // has its own OwnObject). A copy at the revision asked for.
                    Arc::new(at_revision(&shared, revision))
                };
                *state = OwnState::Finished(finished_at, shared, kept);
                answer
            }
            // Unreachable: `Finishing` never outlives this lock.
            OwnState::Finishing => Arc::new(SharedObject::new(Value::Null)),
        }
    }
}

/// `stored` with `"resourceVersion":"<revision>"` as metadata's last field, given where
/// metadata's closing brace is: the bytes `serde_json` makes of the object with the
/// resourceVersion set. `None` if `at` is not a closing brace.
pub fn json_with_resource_version(stored: &[u8], at: usize, revision: i64) -> Option<Vec<u8>> {
    if at == 0 || stored.get(at) != Some(&b'}') {
        return None;
    }
    let empty = stored.get(at - 1) == Some(&b'{');
    let field = format!(
        "{}\"resourceVersion\":\"{revision}\"",
        if empty { "" } else { "," }
    );
    let mut json = Vec::with_capacity(stored.len() + field.len());
    json.extend_from_slice(&stored[..at]);
    json.extend_from_slice(field.as_bytes());
    json.extend_from_slice(&stored[at..]);
    Some(json)
}

/// One offered write.
#[derive(Debug)]
struct Offer {
    ticket: OwnWriteTicket,
    object: Arc<OwnObject>,
}

/// Offered writes by key, and their keys by age for eviction.
#[derive(Debug)]
pub(crate) struct OwnWrites {
    by_key: HashMap<String, Offer>,
    /// Ticket → key, oldest first.
    by_age: BTreeMap<OwnWriteTicket, String>,
    next_ticket: u64,
    /// At most this many offers; 0 turns the shortcut off.
    capacity: usize,
    /// Events that took an offer instead of decoding (for tests and metrics).
    taken: u64,
}

impl OwnWrites {
    pub fn new(capacity: usize) -> OwnWrites {
        OwnWrites {
            by_key: HashMap::new(),
            by_age: BTreeMap::new(),
            next_ticket: 0,
            capacity,
            taken: 0,
        }
    }

    /// Keeps `object` for the event that writes its value at `key`. `None` when the
    /// shortcut is off.
    pub fn offer(&mut self, key: &str, object: Arc<OwnObject>) -> Option<OwnWriteTicket> {
        if self.capacity == 0 {
            return None;
        }
        self.next_ticket += 1;
        let ticket = OwnWriteTicket(self.next_ticket);
        let offer = Offer { ticket, object };
        if let Some(older) = self.by_key.insert(key.to_owned(), offer) {
            self.by_age.remove(&older.ticket);
        }
        self.by_age.insert(ticket, key.to_owned());
        // Bounded: one removal per offer over the capacity, which is at most one.
        while self.by_age.len() > self.capacity {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.by_key.remove(&oldest);
        }
        Some(ticket)
    }

    /// The write did not happen (or may not have): its event will not come to take it.
    pub fn withdraw(&mut self, key: &str, ticket: OwnWriteTicket) {
        if self.by_key.get(key).is_some_and(|o| o.ticket == ticket) {
            self.by_key.remove(key);
            self.by_age.remove(&ticket);
        }
    }

    /// The object for an event that wrote `value` at `key` with mod_revision `revision`, if
    /// it is the offered write: its resourceVersion set as decoding sets it.
    pub fn take(&mut self, key: &str, value: &[u8], revision: i64) -> Option<Arc<SharedObject>> {
        // Another value: another write (an older one of ours, another server's); the offer
        // waits for its own event.
        if self.by_key.get(key)?.object.value() != value {
            return None;
        }
        let offer = self.by_key.remove(key)?;
        self.by_age.remove(&offer.ticket);
        self.taken += 1;
        Some(offer.object.finish(revision))
    }

    /// A relist replaced the cache: the offers' events may have been missed.
    pub fn clear(&mut self) {
        self.by_key.clear();
        self.by_age.clear();
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn taken(&self) -> u64 {
        self.taken
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cacher::event::decode;

    const KEY: &str = "/registry/pods/ns/a";

    /// An object and its stored bytes.
    fn write(app: &str) -> (Vec<u8>, Value) {
        let object = json!({"kind": "Pod", "metadata": {"name": "a", "labels": {"app": app}},
            "spec": {"x": 1.5, "n": -3}});
        (serde_json::to_vec(&object).expect("json"), object)
    }

    /// An offer of `object`, serialized as `value`, metadata's end not known.
    fn offered(value: &[u8], object: Value) -> Arc<OwnObject> {
        Arc::new(OwnObject::new(object, value.to_vec(), None))
    }

    /// Where metadata's closing brace is in the compact JSON of an object whose metadata is
    /// followed by `"spec"` (as the registry's serializer records it).
    fn metadata_end(value: &[u8]) -> usize {
        let spec = value
            .windows(8)
            .position(|w| w == br#","spec":"#)
            .expect("a spec after the metadata");
        spec - 1
    }

    #[test]
    fn the_spliced_json_is_what_serializing_the_finished_object_makes() {
        for object in [
            json!({"kind": "Pod", "metadata": {"name": "a", "labels": {"app": "x"}}, "spec": {}}),
            json!({"kind": "Pod", "metadata": {}, "spec": {"n": [1, 2]}}),
            json!({"metadata": {"name": "q\"uote", "annotations": {"a": "}"}}, "spec": 1}),
        ] {
            let value = serde_json::to_vec(&object).expect("json");
            let at = metadata_end(&value);
            let finished = OwnObject::new(object.clone(), value.clone(), Some(at)).finish(42);
            let decoded = decode(&value, 42).expect("decode");
            assert_eq!(*finished.value(), decoded);
            assert_eq!(
                finished.json(),
                serde_json::to_vec(&decoded).expect("json").as_slice(),
                "{object}"
            );
        }
        assert_eq!(json_with_resource_version(b"{}", 0, 1), None);
        assert_eq!(json_with_resource_version(b"{\"a\":1}", 3, 1), None);
    }

    #[test]
    fn bytes_alone_finish_as_their_decoding_and_stay_compact() {
        let (value, _) = write("web");
        let decoded = decode(&value, 42).expect("decode");
        let finished = OwnObject::from_json(value.clone(), metadata_end(&value)).finish(42);
        assert!(!finished.is_decoded(), "the cache keeps only the JSON");
        assert_eq!(
            finished.json(),
            serde_json::to_vec(&decoded).expect("json").as_slice()
        );
        // A wrong brace position falls back to decoding the bytes.
        let fallback = OwnObject::from_json(value.clone(), 1).finish(42);
        assert_eq!(*fallback.value(), decoded);
    }

    #[test]
    fn the_registry_and_the_cache_share_one_finished_object() {
        let (value, object) = write("web");
        let mut own_writes = OwnWrites::new(8);
        let object = offered(&value, object);
        own_writes.offer(KEY, Arc::clone(&object)).expect("offered");
        // The event first, then the Txn's answer: the same object, not a copy.
        let cached = own_writes.take(KEY, &value, 9).expect("taken");
        let answered = object.finish(9);
        assert!(Arc::ptr_eq(&cached, &answered));
        // Another revision (another write of these bytes) gets its own copy.
        let other = object.finish(10);
        assert_eq!(other.value(), &decode(&value, 10).expect("decode"));
        assert!(Arc::ptr_eq(&object.finish(9), &cached));
    }

    #[test]
    fn the_event_of_the_offered_bytes_takes_what_decoding_would_make() {
        let mut own = OwnWrites::new(8);
        let (value, object) = write("web");
        own.offer(KEY, offered(&value, object)).expect("offered");
        let taken = own.take(KEY, &value, 9).expect("taken");
        let decoded = decode(&value, 9).expect("decode");
        assert_eq!(*taken.value(), decoded);
        assert_eq!(
            taken.json(),
            serde_json::to_vec(&decoded).expect("json").as_slice()
        );
        assert_eq!(own.taken(), 1);
        assert!(own.take(KEY, &value, 9).is_none(), "taken once");
        assert_eq!(own.len(), 0);
    }

    #[test]
    fn other_bytes_or_another_key_decode_and_the_offer_waits() {
        let mut own = OwnWrites::new(8);
        let (value, object) = write("web");
        let (other, _) = write("db");
        own.offer(KEY, offered(&value, object)).expect("offered");
        assert!(own.take(KEY, &other, 8).is_none());
        assert!(own.take("/registry/pods/ns/b", &value, 8).is_none());
        assert!(own.take(KEY, &value, 9).is_some());
    }

    #[test]
    fn a_withdrawn_or_replaced_offer_is_gone() {
        let mut own = OwnWrites::new(8);
        let (value, object) = write("web");
        let first = own
            .offer(KEY, offered(&value, object.clone()))
            .expect("offered");
        own.withdraw(KEY, first);
        assert!(own.take(KEY, &value, 9).is_none());
        // A newer offer for the key replaces the older; withdrawing the older leaves it.
        let older = own.offer(KEY, offered(b"old", json!({}))).expect("offered");
        let newer = own.offer(KEY, offered(&value, object)).expect("offered");
        assert_eq!(own.len(), 1);
        own.withdraw(KEY, older);
        assert!(own.take(KEY, &value, 9).is_some());
        own.withdraw(KEY, newer);
        assert_eq!(own.len(), 0);
    }

    #[test]
    fn the_oldest_go_when_full_a_relist_drops_all_and_zero_turns_it_off() {
        let mut own = OwnWrites::new(3);
        for i in 0..10 {
            let key = format!("/registry/pods/ns/p{i}");
            own.offer(&key, offered(&[i], json!({}))).expect("offered");
            assert!(own.len() <= 3);
        }
        assert!(own.take("/registry/pods/ns/p6", &[6], 1).is_none());
        assert!(own.take("/registry/pods/ns/p7", &[7], 1).is_some());
        own.clear();
        assert_eq!(own.len(), 0);
        assert!(own.take("/registry/pods/ns/p9", &[9], 1).is_none());
        let mut off = OwnWrites::new(0);
        assert_eq!(off.offer(KEY, offered(&[1], json!({}))), None);
        assert_eq!(off.len(), 0);
    }
}
