//! [`OwnWrites`]: the objects this API server is writing, waiting for their own watch event,
//! so the cache takes the object the registry already holds instead of decoding the bytes
//! it serialized a moment earlier (the largest cost of a create: about a third of the API
//! server's instructions per pod).
//!
//! The registry offers the object and its serialized value *before* it sends the Txn, so the
//! offer is always there when the event comes (the watch stream and the Txn's answer are
//! two streams; the event often arrives first). The reflector takes the offer when an event
//! for the key carries exactly the offered bytes: decoding is a pure function of the bytes,
//! so the offered object (which serializes to them) with its resourceVersion set as decoding
//! sets it is the object decoding would make, whoever wrote those bytes. Nothing depends on
//! revisions, and a write by another API server sharing the store decodes as before.
//!
//! Bounds: one offer per key (a newer offer for a key replaces the older); a write that
//! fails or is abandoned withdraws its offer ([`OwnWrites::withdraw`], by its ticket); a
//! relist drops them all (their events may never come); and the map never holds more than
//! its capacity, the oldest offers going first.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::event::{SharedObject, set_resource_version};

/// Names one offer, to withdraw exactly it (a later offer for the key keeps its place).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OwnWriteTicket(u64);

/// One offered write.
#[derive(Debug)]
struct Offer {
    ticket: OwnWriteTicket,
    /// The value sent to etcd, to recognize the write's event.
    value: Vec<u8>,
    /// The object that serializes to `value` (no resourceVersion yet).
    object: Value,
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

    /// Keeps `object`, which serializes to `value`, for the event that writes `value` at
    /// `key`. `None` when the shortcut is off.
    pub fn offer(&mut self, key: &str, value: Vec<u8>, object: Value) -> Option<OwnWriteTicket> {
        if self.capacity == 0 {
            return None;
        }
        self.next_ticket += 1;
        let ticket = OwnWriteTicket(self.next_ticket);
        let offer = Offer {
            ticket,
            value,
            object,
        };
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
        if self.by_key.get(key)?.value != value {
            return None;
        }
        let offer = self.by_key.remove(key)?;
        self.by_age.remove(&offer.ticket);
        let mut object = offer.object;
        set_resource_version(&mut object, revision).ok()?;
        self.taken += 1;
        Some(Arc::new(SharedObject::new(object)))
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

    #[test]
    fn the_event_of_the_offered_bytes_takes_what_decoding_would_make() {
        let mut own = OwnWrites::new(8);
        let (value, object) = write("web");
        own.offer(KEY, value.clone(), object).expect("offered");
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
        own.offer(KEY, value.clone(), object).expect("offered");
        assert!(own.take(KEY, &other, 8).is_none());
        assert!(own.take("/registry/pods/ns/b", &value, 8).is_none());
        assert!(own.take(KEY, &value, 9).is_some());
    }

    #[test]
    fn a_withdrawn_or_replaced_offer_is_gone() {
        let mut own = OwnWrites::new(8);
        let (value, object) = write("web");
        let first = own
            .offer(KEY, value.clone(), object.clone())
            .expect("offered");
        own.withdraw(KEY, first);
        assert!(own.take(KEY, &value, 9).is_none());
        // A newer offer for the key replaces the older; withdrawing the older leaves it.
        let older = own.offer(KEY, b"old".to_vec(), json!({})).expect("offered");
        let newer = own.offer(KEY, value.clone(), object).expect("offered");
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
            own.offer(&key, vec![i], json!({})).expect("offered");
            assert!(own.len() <= 3);
        }
        assert!(own.take("/registry/pods/ns/p6", &[6], 1).is_none());
        assert!(own.take("/registry/pods/ns/p7", &[7], 1).is_some());
        own.clear();
        assert_eq!(own.len(), 0);
        assert!(own.take("/registry/pods/ns/p9", &[9], 1).is_none());
        let mut off = OwnWrites::new(0);
        assert_eq!(off.offer(KEY, vec![1], json!({})), None);
        assert_eq!(off.len(), 0);
    }
}
