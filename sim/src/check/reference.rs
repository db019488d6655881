//! [`Reference`]: the ground truth the checkers compare the clients' view against, built from
//! one member's MVCC history after the run healed ([`super::reference`] picks the member).
//!
//! The history holds every change after the member's last compaction. A key that did not
//! change after the compaction is not in it, so the state of a key at a revision is only
//! *known* when a change of that key at or before the revision is held, or when the key's
//! first held change created it (it was absent before). [`Reference::state_at`] says
//! [`KeyAt::Unknown`] otherwise, and the checkers skip what the reference cannot know.

use std::collections::BTreeMap;

use kubesim_proto::mvccpb::Event;
use kubesim_proto::mvccpb::event::EventType;

use super::Violation;
use crate::history::{FaultRecord, History, KvRead, MemberState, Time};

/// One change of one key: its revision and the key's state after it (`None`: deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub revision: i64,
    pub kv: Option<KvRead>,
}

/// What the reference knows of one key at one revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAt<'a> {
    /// The key existed with this value.
    Live(&'a KvRead),
    /// The key did not exist.
    Absent,
    /// The revision is compacted, or the key did not change since the compaction, so the
    /// reference does not hold its state.
    Unknown,
}

impl KeyAt<'_> {
    /// The key's mod_revision, 0 when absent (what a compare on mod_revision sees), if known.
    pub fn mod_revision(self) -> Option<i64> {
        match self {
            KeyAt::Live(kv) => Some(kv.mod_revision),
            KeyAt::Absent => Some(0),
            KeyAt::Unknown => None,
        }
    }
}

impl std::fmt::Display for KeyAt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyAt::Live(kv) => write!(f, "{kv}"),
            KeyAt::Absent => write!(f, "absent"),
            KeyAt::Unknown => write!(f, "unknown (before the compaction)"),
        }
    }
}

/// One member's MVCC history, indexed by key and by revision.
#[derive(Debug, Clone, Default)]
pub struct Reference {
    /// Changes at or below it are gone (except the newest of each key still live, if the
    /// member's history held it).
    pub compact_revision: i64,
    pub current_revision: i64,
    /// Key -> its changes, in revision order.
    changes: BTreeMap<String, Vec<Change>>,
    /// Every event, in revision order (as `MemberState.events`).
    events: Vec<Event>,
}

impl Reference {
    /// The reference of `history` (see [`super::reference`]); `None` when no member state
    /// was recorded (the run did not reach the healing phase).
    pub fn of(history: &History) -> Option<Reference> {
        super::reference(history).map(Reference::new)
    }

    /// Indexes `state.events`, which must be in revision order.
    pub fn new(state: &MemberState) -> Reference {
        let mut changes: BTreeMap<String, Vec<Change>> = BTreeMap::new();
        for event in &state.events {
            let Some(kv) = &event.kv else { continue };
            let key = String::from_utf8_lossy(&kv.key).into_owned();
            let after = (event.r#type() == EventType::Put).then(|| KvRead::from(kv));
            changes.entry(key).or_default().push(Change {
                revision: kv.mod_revision,
                kv: after,
            });
        }
        Reference {
            compact_revision: state.compact_revision,
            current_revision: state.current_revision,
            changes,
            events: state.events.clone(),
        }
    }

    /// The reference holds every change of `revision` (it is after the compaction).
    pub fn covers(&self, revision: i64) -> bool {
        revision > self.compact_revision
    }

    /// The last change of `key` at or before `revision`, if the reference holds one. An
    /// absent key and an unknown one look alike here: see [`Reference::state_at`].
    pub fn value_at(&self, key: &str, revision: i64) -> Option<&KvRead> {
        self.last_change(key, revision)
            .and_then(|change| change.kv.as_ref())
    }

    /// The state of `key` at `revision`, as far as the reference knows it.
    pub fn state_at(&self, key: &str, revision: i64) -> KeyAt<'_> {
        if let Some(change) = self.last_change(key, revision) {
            return match &change.kv {
                Some(kv) => KeyAt::Live(kv),
                None => KeyAt::Absent,
            };
        }
        // Nothing held at or before `revision`: the key was absent if nothing was ever
        // compacted away (revision 1 is the empty store), or if it was created after the
        // compaction and `revision` is not older than the compaction.
        let created_after_compaction = revision >= self.compact_revision
            && self
                .changes
                .get(key)
                .and_then(|changes| changes.first())
                .and_then(|first| first.kv.as_ref())
                .is_some_and(|kv| kv.version == 1);
        if self.compact_revision <= 1 || created_after_compaction {
            KeyAt::Absent
        } else {
            KeyAt::Unknown
        }
    }

    /// Whether `read` can be the state of `key` at `revision`: equal to the reference's where
    /// it knows it; where it does not, at least not modified after the compaction (every
    /// later change is held) nor after `revision`.
    pub fn agrees(&self, key: &str, revision: i64, read: Option<&KvRead>) -> bool {
        match self.state_at(key, revision) {
            KeyAt::Live(kv) => read == Some(kv),
            KeyAt::Absent => read.is_none(),
            KeyAt::Unknown => read.is_none_or(|kv| {
                kv.key == key && kv.mod_revision <= revision.min(self.compact_revision)
            }),
        }
    }

    /// Every key with `prefix` the reference knows to be live at `revision`, in key order.
    pub fn keys_with_prefix_at(&self, prefix: &str, revision: i64) -> Vec<KvRead> {
        self.keys_with_prefix(prefix)
            .filter_map(|key| match self.state_at(key, revision) {
                KeyAt::Live(kv) => Some(kv.clone()),
                KeyAt::Absent | KeyAt::Unknown => None,
            })
            .collect()
    }

    /// Every key with `prefix` that has a change in the reference, in key order.
    pub fn keys_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> {
        self.changes
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .map(|(key, _)| key.as_str())
            .take_while(move |key| key.starts_with(prefix))
    }

    /// The events on keys with `prefix` from `from_revision` to `to_revision` (both
    /// included), in order.
    pub fn events_in(&self, prefix: &str, from_revision: i64, to_revision: i64) -> Vec<&Event> {
        let start = self
            .events
            .partition_point(|event| event_revision(event) < from_revision);
        let end = self
            .events
            .partition_point(|event| event_revision(event) <= to_revision);
        self.events
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .filter(|event| event_key(event).starts_with(prefix.as_bytes()))
            .collect()
    }

    /// The events of the write at `revision` (empty if none is held).
    pub fn write_at(&self, revision: i64) -> &[Event] {
        let start = self
            .events
            .partition_point(|event| event_revision(event) < revision);
        let end = self
            .events
            .partition_point(|event| event_revision(event) <= revision);
        self.events.get(start..end).unwrap_or_default()
    }

    fn last_change(&self, key: &str, revision: i64) -> Option<&Change> {
        let changes = self.changes.get(key)?;
        let after = changes.partition_point(|change| change.revision <= revision);
        after.checked_sub(1).and_then(|last| changes.get(last))
    }
}

/// The revision of an event (its kv's mod_revision, which a DELETE sets to the delete's).
pub fn event_revision(event: &Event) -> i64 {
    event.kv.as_ref().map_or(0, |kv| kv.mod_revision)
}

/// The key of an event.
pub fn event_key(event: &Event) -> &[u8] {
    event.kv.as_ref().map_or(&[], |kv| kv.key.as_slice())
}

/// One event on one line: `PUT /a=v@5 (created 3, version 2)` or `DELETE /a@6`, with its
/// prev_kv when it has one.
pub fn describe_event(event: &Event) -> String {
    let Some(kv) = &event.kv else {
        return "event without kv".to_owned();
    };
    let mut line = match event.r#type() {
        EventType::Put => format!("PUT {}", KvRead::from(kv)),
        EventType::Delete => format!(
            "DELETE {}@{}",
            String::from_utf8_lossy(&kv.key),
            kv.mod_revision
        ),
    };
    if let Some(prev) = &event.prev_kv {
        line.push_str(&format!(" prev {}", KvRead::from(prev)));
    }
    line
}

/// The faults from `from` to the heal (or the end of the run), at most `max` lines.
pub fn faults_since(history: &History, from: Time, max: usize) -> Vec<String> {
    let until = history.healed_at.unwrap_or(Time::MAX);
    let faults: Vec<&FaultRecord> = history
        .faults
        .iter()
        .filter(|fault| fault.at >= from && fault.at <= until)
        .collect();
    let mut lines: Vec<String> = faults
        .iter()
        .take(max)
        .map(|fault| format!("fault at {:.3}s: {}", fault.at.as_secs_f64(), fault.what))
        .collect();
    if faults.len() > max {
        lines.push(format!("... {} more faults", faults.len() - max));
    }
    lines
}

/// The first `max` violations; the last one kept says how many more there were, so a
/// run that breaks a property everywhere still prints a readable report.
pub fn at_most(mut violations: Vec<Violation>, max: usize) -> Vec<Violation> {
    if violations.len() > max {
        let more = violations.len() - max;
        violations.truncate(max);
        if let Some(last) = violations.last_mut() {
            last.message
                .push_str(&format!(" ({more} more like this not shown)"));
        }
    }
    violations
}

/// Builders for hand-made histories in the checkers' tests.
#[cfg(test)]
pub(crate) mod testkit {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use kubesim_proto::mvccpb::event::EventType;
    use kubesim_proto::mvccpb::{Event, KeyValue};

    use crate::history::{Call, History, KvRead, MemberState, Op, Outcome};

    /// A tiny MVCC store that records the events its writes make, with etcd's revisions,
    /// create revisions and versions.
    pub struct Store {
        pub revision: i64,
        pub compact_revision: i64,
        pub events: Vec<Event>,
        /// Live key -> (create_revision, version).
        live: BTreeMap<String, (i64, i64)>,
    }

    impl Store {
        pub fn new() -> Self {
            Store {
                revision: 1,
                compact_revision: 0,
                events: Vec::new(),
                live: BTreeMap::new(),
            }
        }

        pub fn put(&mut self, key: &str, value: &str) -> i64 {
            self.txn(&[(key, Some(value))])
        }

        pub fn delete(&mut self, key: &str) -> i64 {
            self.txn(&[(key, None)])
        }

        /// One write at one new revision: `Some(value)` puts, `None` deletes.
        pub fn txn(&mut self, changes: &[(&str, Option<&str>)]) -> i64 {
            self.revision += 1;
            for (key, value) in changes {
                let event = match value {
                    Some(value) => self.put_event(key, value),
                    None => self.delete_event(key),
                };
                self.events.push(event);
            }
            self.revision
        }

        fn put_event(&mut self, key: &str, value: &str) -> Event {
            let (create, version) = self.live.get(key).copied().unwrap_or((self.revision, 0));
            self.live.insert(key.to_owned(), (create, version + 1));
            put_event(kv(key, value, self.revision, create, version + 1))
        }

        fn delete_event(&mut self, key: &str) -> Event {
            self.live.remove(key);
            delete_event(key, self.revision)
        }

        /// Compacts at `revision`: the events up to it are gone, as the member would report.
        pub fn compact(&mut self, revision: i64) {
            self.compact_revision = revision;
            self.events
                .retain(|event| super::event_revision(event) > revision);
        }

        pub fn member(&self) -> MemberState {
            MemberState {
                current_revision: self.revision,
                compact_revision: self.compact_revision,
                events: self.events.clone(),
                hash: None,
            }
        }

        /// A history whose one member is this store.
        pub fn history(&self) -> History {
            let mut history = History::default();
            history.members.insert("store-1".to_owned(), self.member());
            history
        }

        /// The state of `key` at `revision`, the long way: replaying the events.
        pub fn kv_at(&self, key: &str, revision: i64) -> Option<KvRead> {
            let mut state = None;
            for event in &self.events {
                let Some(kv) = &event.kv else { continue };
                if kv.mod_revision > revision || kv.key != key.as_bytes() {
                    continue;
                }
                state = (event.r#type() == EventType::Put).then(|| KvRead::from(kv));
            }
            state
        }
    }

    pub fn kv(key: &str, value: &str, revision: i64, create: i64, version: i64) -> KvRead {
        KvRead {
            key: key.to_owned(),
            value: value.to_owned(),
            create_revision: create,
            mod_revision: revision,
            version,
            lease: 0,
        }
    }

    pub fn key_value(kv: &KvRead) -> KeyValue {
        KeyValue {
            key: kv.key.clone().into_bytes(),
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            value: kv.value.clone().into_bytes(),
            lease: kv.lease,
        }
    }

    pub fn put_event(kv: KvRead) -> Event {
        Event {
            r#type: EventType::Put as i32,
            kv: Some(key_value(&kv)),
            prev_kv: None,
        }
    }

    pub fn delete_event(key: &str, revision: i64) -> Event {
        Event {
            r#type: EventType::Delete as i32,
            kv: Some(KeyValue {
                key: key.as_bytes().to_vec(),
                mod_revision: revision,
                ..KeyValue::default()
            }),
            prev_kv: None,
        }
    }

    /// Appends a call invoked at `invoke_ms` and completed at `complete_ms`.
    pub fn call(history: &mut History, op: Op, outcome: Outcome, invoke_ms: u64, complete_ms: u64) {
        let id = history.calls.len();
        history.calls.push(Call {
            id,
            client: "client-1".to_owned(),
            member: "store-1".to_owned(),
            op,
            invoke: Duration::from_millis(invoke_ms),
            complete: Some(Duration::from_millis(complete_ms)),
            outcome,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::{Store, kv};
    use super::*;

    fn sample() -> Store {
        let mut store = Store::new();
        store.put("/a", "1"); // 2
        store.put("/b", "1"); // 3
        store.put("/a", "2"); // 4
        store.delete("/b"); // 5
        store.txn(&[("/a", None), ("/c", Some("1")), ("x", Some("1"))]); // 6
        store.put("/a", "3"); // 7
        store
    }

    #[test]
    fn value_at_is_the_last_change_at_or_before_the_revision() {
        let reference = Reference::new(&sample().member());
        assert_eq!(reference.value_at("/a", 1), None);
        assert_eq!(reference.value_at("/a", 2), Some(&kv("/a", "1", 2, 2, 1)));
        assert_eq!(reference.value_at("/a", 3), Some(&kv("/a", "1", 2, 2, 1)));
        assert_eq!(reference.value_at("/a", 4), Some(&kv("/a", "2", 4, 2, 2)));
        assert_eq!(reference.value_at("/a", 6), None);
        assert_eq!(reference.value_at("/a", 7), Some(&kv("/a", "3", 7, 7, 1)));
        assert_eq!(reference.value_at("/b", 5), None);
        assert_eq!(reference.current_revision, 7);
    }

    #[test]
    fn keys_with_prefix_at_lists_live_keys_in_key_order() {
        let reference = Reference::new(&sample().member());
        assert_eq!(
            reference.keys_with_prefix_at("/", 4),
            vec![kv("/a", "2", 4, 2, 2), kv("/b", "1", 3, 3, 1)]
        );
        assert_eq!(
            reference.keys_with_prefix_at("/", 6),
            vec![kv("/c", "1", 6, 6, 1)]
        );
        assert_eq!(reference.keys_with_prefix_at("", 6).len(), 2);
        assert!(reference.keys_with_prefix_at("/", 1).is_empty());
    }

    #[test]
    fn events_in_and_write_at_select_by_revision_and_prefix() {
        let reference = Reference::new(&sample().member());
        let revisions: Vec<i64> = reference
            .events_in("/", 4, 6)
            .into_iter()
            .map(event_revision)
            .collect();
        assert_eq!(revisions, vec![4, 5, 6, 6]);
        let keys: Vec<String> = reference
            .write_at(6)
            .iter()
            .map(|event| String::from_utf8_lossy(event_key(event)).into_owned())
            .collect();
        assert_eq!(keys, vec!["/a", "/c", "x"]);
        assert!(reference.write_at(8).is_empty());
        assert!(reference.events_in("/", 8, 20).is_empty());
        assert!(reference.events_in("/", 5, 4).is_empty());
    }

    #[test]
    fn after_a_compaction_only_what_the_history_shows_is_known() {
        let mut store = sample();
        store.put("/b", "2"); // 8: created again
        store.put("/c", "2"); // 9
        store.compact(7);
        let reference = Reference::new(&store.member());
        assert!(!reference.covers(7));
        assert!(reference.covers(8));
        // /a did not change after the compaction: its value is not in the history.
        assert_eq!(reference.state_at("/a", 8), KeyAt::Unknown);
        // /b was created at 8, so it was absent from the compaction on.
        assert_eq!(reference.state_at("/b", 7), KeyAt::Absent);
        assert_eq!(reference.state_at("/b", 6), KeyAt::Unknown);
        assert_eq!(
            reference.state_at("/b", 8),
            KeyAt::Live(&kv("/b", "2", 8, 8, 1))
        );
        // /c changed at 9 (version 2): before that it lived with a value the history lost.
        assert_eq!(reference.state_at("/c", 8), KeyAt::Unknown);
        assert!(reference.agrees("/a", 8, Some(&kv("/a", "3", 7, 7, 1))));
        assert!(reference.agrees("/a", 8, None));
        assert!(!reference.agrees("/a", 9, Some(&kv("/a", "4", 9, 7, 2))));
        assert!(!reference.agrees("/b", 7, Some(&kv("/b", "1", 3, 3, 1))));
    }

    #[test]
    fn without_a_compaction_every_key_is_known() {
        let reference = Reference::new(&sample().member());
        assert_eq!(reference.state_at("/never", 5), KeyAt::Absent);
        assert!(!reference.agrees("/never", 5, Some(&kv("/never", "1", 3, 3, 1))));
        assert!(reference.agrees("/a", 5, Some(&kv("/a", "2", 4, 2, 2))));
    }

    #[test]
    fn the_store_in_the_testkit_agrees_with_the_reference() {
        let store = sample();
        let reference = Reference::new(&store.member());
        for revision in 1..=8 {
            for key in ["/a", "/b", "/c", "x"] {
                assert_eq!(
                    reference.value_at(key, revision).cloned(),
                    store.kv_at(key, revision),
                    "{key} at {revision}"
                );
            }
        }
    }

    #[test]
    fn at_most_keeps_the_first_and_counts_the_rest() {
        let violation = |n: usize| Violation {
            property: super::super::Property::Durability,
            checker: "test",
            message: format!("v{n}"),
            excerpt: Vec::new(),
        };
        let kept = at_most((0..5).map(violation).collect(), 3);
        let messages: Vec<&str> = kept.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(
            messages,
            vec!["v0", "v1", "v2 (2 more like this not shown)"]
        );
    }
}
