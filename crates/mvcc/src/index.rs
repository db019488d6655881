//! The key index (etcd's `keyIndex`/`treeIndex`): for each key, the revisions of it still held
//! in history, and the key-range encoding every etcd request uses.
//!
//! etcd keeps explicit generations per key; here a generation is implicit: it runs from a put
//! after a tombstone (or the first put) to the next tombstone. The version and create_revision
//! of each change live in its history record, so the index only needs the revisions.

use std::ops::Bound;

use serde::{Deserialize, Serialize};

/// Orders every change: `main` is the store revision of the write, `sub` the change's position
/// inside that write (a txn that changes three keys makes subs 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct Revision {
    /// The store revision the change belongs to.
    pub main: i64,
    /// The position of the change among the changes of that revision.
    pub sub: i64,
}

impl Revision {
    /// The first possible change at store revision `main`.
    pub fn first_of(main: i64) -> Revision {
        Revision { main, sub: 0 }
    }

    /// The last possible change at store revision `main`.
    pub fn last_of(main: i64) -> Revision {
        Revision {
            main,
            sub: i64::MAX,
        }
    }
}

/// One change of one key, as the index remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyRevision {
    /// Where the change sits in history.
    pub revision: Revision,
    /// The change deleted the key: it ends a generation (etcd's tombstone).
    pub tombstone: bool,
}

/// The changes of one key still held in history, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyIndex {
    /// Sorted by revision; a key changes at most once per store revision.
    revisions: Vec<KeyRevision>,
}

impl KeyIndex {
    /// Records a newer change of the key.
    pub fn push(&mut self, change: KeyRevision) {
        debug_assert!(
            self.revisions
                .last()
                .is_none_or(|last| last.revision < change.revision),
            "key index must grow in revision order"
        );
        self.revisions.push(change);
    }

    pub fn is_empty(&self) -> bool {
        self.revisions.is_empty()
    }

    /// The change holding the key's value as of store revision `at`; `None` if the key did not
    /// exist then (never created, deleted, or its history was compacted away).
    pub fn live_at(&self, at: i64) -> Option<Revision> {
        let end = self.revisions.partition_point(|c| c.revision.main <= at);
        live(self.revisions.get(end.checked_sub(1)?)?)
    }

    /// The change holding the key's value now, if the key exists.
    pub fn latest_live(&self) -> Option<Revision> {
        live(self.revisions.last()?)
    }

    /// The change just before `revision`, if it left the key existing: the previous value a
    /// watch event reports as prev_kv.
    pub fn live_before(&self, revision: Revision) -> Option<Revision> {
        let end = self.revisions.partition_point(|c| c.revision < revision);
        live(self.revisions.get(end.checked_sub(1)?)?)
    }

    /// Forgets what a compaction at `at` no longer needs and returns those revisions: every
    /// change older than the newest one at or below `at`, and that one too if it is a
    /// tombstone (etcd 3.4 behaviour). A range at `at` still sees the same value afterwards.
    pub fn compact(&mut self, at: i64) -> Vec<Revision> {
        let end = self.revisions.partition_point(|c| c.revision.main <= at);
        let Some(newest) = end.checked_sub(1) else {
            return Vec::new();
        };
        let keep_from = if self.revisions[newest].tombstone {
            end
        } else {
            newest
        };
        self.revisions
            .drain(..keep_from)
            .map(|c| c.revision)
            .collect()
    }
}

fn live(change: &KeyRevision) -> Option<Revision> {
    (!change.tombstone).then_some(change.revision)
}

/// A key range in etcd's encoding, shared by Range, DeleteRange, Compare and Watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyRange<'a> {
    /// `range_end` empty: just the key.
    Single(&'a [u8]),
    /// `range_end` "\0": every key >= key.
    From(&'a [u8]),
    /// Otherwise [key, range_end); empty when range_end <= key.
    Between(&'a [u8], &'a [u8]),
}

impl<'a> KeyRange<'a> {
    pub fn new(key: &'a [u8], range_end: &'a [u8]) -> KeyRange<'a> {
        match range_end {
            [] => KeyRange::Single(key),
            [0] => KeyRange::From(key),
            end => KeyRange::Between(key, end),
        }
    }

    pub fn contains(&self, candidate: &[u8]) -> bool {
        match *self {
            KeyRange::Single(key) => candidate == key,
            KeyRange::From(key) => candidate >= key,
            KeyRange::Between(key, end) => candidate >= key && candidate < end,
        }
    }

    /// Bounds for `BTreeMap::range`. An inverted range maps to an empty one, because
    /// `BTreeMap::range` panics on start > end and a client may send anything.
    pub fn bounds(&self) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
        match *self {
            KeyRange::Single(key) => (Bound::Included(key), Bound::Included(key)),
            KeyRange::From(key) => (Bound::Included(key), Bound::Unbounded),
            KeyRange::Between(key, end) if end > key => {
                (Bound::Included(key), Bound::Excluded(end))
            }
            KeyRange::Between(key, _) => (Bound::Included(key), Bound::Excluded(key)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(main: i64, tombstone: bool) -> KeyRevision {
        KeyRevision {
            revision: Revision { main, sub: 0 },
            tombstone,
        }
    }

    /// put@2, put@4, delete@6, put@8.
    fn sample() -> KeyIndex {
        let mut index = KeyIndex::default();
        for c in [
            change(2, false),
            change(4, false),
            change(6, true),
            change(8, false),
        ] {
            index.push(c);
        }
        index
    }

    #[test]
    fn live_at_follows_generations() {
        let index = sample();
        let mains: Vec<Option<i64>> = (1..=9)
            .map(|at| index.live_at(at).map(|r| r.main))
            .collect();
        assert_eq!(
            mains,
            vec![
                None,
                Some(2),
                Some(2),
                Some(4),
                Some(4),
                None,
                None,
                Some(8),
                Some(8)
            ]
        );
        assert_eq!(index.latest_live().map(|r| r.main), Some(8));
    }

    #[test]
    fn live_before_is_the_previous_value() {
        let index = sample();
        assert_eq!(index.live_before(Revision::first_of(2)), None);
        assert_eq!(
            index.live_before(Revision::first_of(4)).map(|r| r.main),
            Some(2)
        );
        assert_eq!(
            index.live_before(Revision::first_of(6)).map(|r| r.main),
            Some(4)
        );
        // After a tombstone there is no previous value.
        assert_eq!(index.live_before(Revision::first_of(8)), None);
    }

    #[test]
    fn compact_keeps_the_value_at_the_compact_revision() {
        let mut index = sample();
        let dropped: Vec<i64> = index.compact(5).iter().map(|r| r.main).collect();
        assert_eq!(dropped, vec![2]);
        assert_eq!(index.live_at(5).map(|r| r.main), Some(4));

        // Compacting at the tombstone drops it and everything before.
        let dropped: Vec<i64> = index.compact(6).iter().map(|r| r.main).collect();
        assert_eq!(dropped, vec![4, 6]);
        assert_eq!(index.live_at(6), None);
        assert_eq!(index.latest_live().map(|r| r.main), Some(8));

        let mut deleted = KeyIndex::default();
        deleted.push(change(2, false));
        deleted.push(change(3, true));
        assert_eq!(deleted.compact(9).len(), 2);
        assert!(deleted.is_empty());
    }

    #[test]
    fn key_range_encoding() {
        assert!(KeyRange::new(b"a", b"").contains(b"a"));
        assert!(!KeyRange::new(b"a", b"").contains(b"ab"));
        assert!(KeyRange::new(b"a", b"\0").contains(b"zzz"));
        assert!(!KeyRange::new(b"b", b"\0").contains(b"a"));
        assert!(KeyRange::new(b"a", b"b").contains(b"a\xff"));
        assert!(!KeyRange::new(b"a", b"b").contains(b"b"));
        // An inverted range is empty and does not panic BTreeMap::range.
        let map: std::collections::BTreeMap<Vec<u8>, ()> =
            [(b"a".to_vec(), ()), (b"c".to_vec(), ())].into();
        assert_eq!(
            map.range::<[u8], _>(KeyRange::new(b"c", b"a").bounds())
                .count(),
            0
        );
        assert_eq!(
            map.range::<[u8], _>(KeyRange::new(b"a", b"a").bounds())
                .count(),
            0
        );
        assert_eq!(
            map.range::<[u8], _>(KeyRange::new(b"\0", b"\0").bounds())
                .count(),
            2
        );
    }
}
