//! [`CacheState`]: the cache itself, as plain synchronous code (kube-apiserver's `watchCache`
//! and the dispatch half of its `Cacher`). The reflector task feeds it changes from etcd;
//! readers take snapshots and register watchers; everything happens under one lock, so a
//! watcher's starting point and the events dispatched to it never overlap or leave a gap.
//!
//! Nothing here waits: a watcher's queue is filled with `try_send`, and a full one closes the
//! watcher, so one slow client never holds the cache (or the writes behind it) back.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::WatchOptions;
use super::error::CacheError;
use super::event::{
    CacheEvent, CacheEventType, CachedObject, Filter, SharedObject, at_revision, bookmark,
    for_watcher,
};

/// What a watcher's queue carries.
pub(crate) type Delivery = Result<CacheEvent, CacheError>;

/// One change from etcd, decoded by the reflector outside the lock.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    /// A create (`created`) or an update of `key`.
    Put {
        key: String,
        /// Decoded, or the object this API server wrote (`super::own_writes`).
        object: Arc<SharedObject>,
        created: bool,
        revision: i64,
    },
    Delete {
        key: String,
        revision: i64,
    },
    /// A change whose value did not decode: skipped, but the cache has seen its revision.
    Skipped {
        revision: i64,
    },
}

/// A registered watcher, as the dispatcher sees it.
struct WatcherSlot {
    key_prefix: String,
    filter: Filter,
    /// `allowWatchBookmarks`.
    bookmarks: bool,
    /// Every event up to this revision has been offered to the watcher: the resourceVersion
    /// its client resumes from, named in the error that ends it at a relist.
    position: i64,
    events: mpsc::Sender<Delivery>,
}

/// Where a new watcher starts, computed under the lock and turned into events outside it.
#[derive(Debug)]
pub(crate) enum Start {
    /// The objects under the watcher's prefix at `revision` (not yet filtered), as ADDED
    /// events, then the initial-events-end bookmark if asked for.
    State {
        objects: Vec<CachedObject>,
        revision: i64,
        end_bookmark: bool,
    },
    /// The history after the requested resourceVersion (not yet filtered).
    History(Vec<CacheEvent>),
}

/// A new watcher: where it starts, and its queue of everything after.
#[derive(Debug)]
pub(crate) struct Registration {
    pub start: Start,
    pub events: mpsc::Receiver<Delivery>,
}

pub(crate) struct CacheState {
    /// The current objects, in key order.
    objects: BTreeMap<Arc<str>, CachedObject>,
    /// The last `history_window` events, in revision order.
    history: VecDeque<CacheEvent>,
    history_window: usize,
    /// The oldest resourceVersion a watch can resume from: the list's revision, or the
    /// revision of the last event evicted from `history`.
    window_start: i64,
    /// Every change up to here has been applied (from events and progress notifications).
    revision: i64,
    /// The revision of the last event applied; events never go below it.
    last_event_revision: i64,
    /// The first list is done and no relist is under way.
    ready: bool,
    watchers: BTreeMap<u64, WatcherSlot>,
    next_watcher: u64,
    watcher_buffer: usize,
}

impl CacheState {
    pub fn new(history_window: usize, watcher_buffer: usize) -> CacheState {
        assert!(history_window > 0 && watcher_buffer > 0, "validated config");
        CacheState {
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_window,
            window_start: 0,
            revision: 0,
            last_event_revision: 0,
            ready: false,
            watchers: BTreeMap::new(),
            next_watcher: 0,
            watcher_buffer,
        }
    }

    pub fn ready(&self) -> bool {
        self.ready
    }

    /// How many objects the cache holds.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn revision(&self) -> i64 {
        self.revision
    }

    pub fn watcher_count(&self) -> usize {
        self.watchers.len()
    }

    /// The cache lost its place in etcd's history (compacted): not ready until the relist,
    /// and every watcher ends with "too old", as kube-apiserver ends them, so clients relist.
    pub fn invalidate(&mut self) {
        self.ready = false;
        let oldest = self.revision;
        for (_, slot) in std::mem::take(&mut self.watchers) {
            let gone = CacheError::TooOld {
                requested: slot.position,
                oldest,
            };
            // A full queue ends without the error: the client re-watches and hears it then.
            let _ = slot.events.try_send(Err(gone));
        }
    }

    /// Ends every watcher's queue (the cache stops).
    pub fn close_all(&mut self) {
        self.ready = false;
        self.watchers.clear();
    }

    /// A completed list at `revision` replaces everything; history starts over from it.
    pub fn replace(&mut self, objects: Vec<CachedObject>, revision: i64) {
        assert!(
            self.watchers.is_empty(),
            "watchers register only while ready, and a relist ended them"
        );
        self.objects = objects.into_iter().map(|o| (o.key.clone(), o)).collect();
        self.history.clear();
        self.window_start = revision;
        self.revision = revision;
        self.last_event_revision = revision;
        self.ready = true;
    }

    /// Applies one change from etcd and offers it to every watcher.
    pub fn apply(&mut self, change: Change) {
        let event = match change {
            Change::Put {
                key,
                object,
                created,
                revision,
            } => self.put(key, object, created, revision),
            Change::Delete { key, revision } => self.delete(&key, revision),
            Change::Skipped { revision } => {
                self.progress(revision);
                None
            }
        };
        if let Some(event) = event {
            self.record(event.clone());
            self.dispatch(&event);
        }
    }

    fn put(
        &mut self,
        key: String,
        object: Arc<SharedObject>,
        created: bool,
        revision: i64,
    ) -> Option<CacheEvent> {
        if !self.in_order(revision) {
            return None;
        }
        let key: Arc<str> = Arc::from(key);
        let cached = CachedObject {
            key: key.clone(),
            object: object.clone(),
            revision,
        };
        let prev_object = self.objects.insert(key.clone(), cached).map(|o| o.object);
        let kind = if created {
            CacheEventType::Added
        } else {
            CacheEventType::Modified
        };
        Some(CacheEvent {
            kind,
            key,
            object,
            prev_object,
            revision,
        })
    }

    fn delete(&mut self, key: &str, revision: i64) -> Option<CacheEvent> {
        if !self.in_order(revision) {
            return None;
        }
        let Some(prev) = self.objects.remove(key) else {
            // A key the cache never had (its value did not decode): no watcher saw it either.
            return None;
        };
        let last = at_revision(&prev.object, revision);
        Some(CacheEvent {
            kind: CacheEventType::Deleted,
            key: prev.key,
            object: Arc::new(last),
            prev_object: Some(prev.object),
            revision,
        })
    }

    /// Whether an event at `revision` keeps history in order; moves the revisions if so.
    fn in_order(&mut self, revision: i64) -> bool {
        if revision < self.last_event_revision {
            tracing::error!(
                revision,
                last = self.last_event_revision,
                "cacher: etcd sent an event out of revision order; skipped"
            );
            return false;
        }
        self.last_event_revision = revision;
        self.revision = self.revision.max(revision);
        true
    }

    fn record(&mut self, event: CacheEvent) {
        if self.history.len() >= self.history_window
            && let Some(evicted) = self.history.pop_front()
        {
            self.window_start = self.window_start.max(evicted.revision);
        }
        self.history.push_back(event);
    }

    fn dispatch(&mut self, event: &CacheEvent) {
        let mut gone = Vec::new();
        for (id, slot) in self.watchers.iter_mut() {
            let Some(seen) = for_watcher(event, &slot.key_prefix, &*slot.filter) else {
                if slot.events.is_closed() {
                    gone.push(*id);
                }
                slot.position = event.revision;
                continue;
            };
            match slot.events.try_send(Ok(seen)) {
                Ok(()) => slot.position = event.revision,
                Err(TrySendError::Full(_)) => {
                    tracing::info!(
                        watcher = id,
                        key_prefix = %slot.key_prefix,
                        "cacher: forcing watcher close due to unresponsiveness"
                    );
                    gone.push(*id);
                }
                Err(TrySendError::Closed(_)) => gone.push(*id),
            }
        }
        for id in gone {
            self.watchers.remove(&id);
        }
    }

    /// etcd says every change up to `revision` has been sent.
    pub fn progress(&mut self, revision: i64) {
        self.revision = self.revision.max(revision);
    }

    /// A BOOKMARK at the current revision to every watcher that allows them. A watcher with
    /// a full queue misses this one rather than being closed (kube-apiserver does the same).
    pub fn bookmark(&mut self) {
        if !self.ready {
            return;
        }
        let event = bookmark(self.revision, false);
        let revision = self.revision;
        self.watchers.retain(|_, slot| {
            if !slot.bookmarks {
                return !slot.events.is_closed();
            }
            match slot.events.try_send(Ok(event.clone())) {
                Ok(()) => {
                    slot.position = revision;
                    true
                }
                Err(TrySendError::Full(_)) => true,
                Err(TrySendError::Closed(_)) => false,
            }
        });
    }

    /// The objects under `key_prefix`, in key order, and the revision they are at.
    pub fn snapshot(&self, key_prefix: &str) -> (Vec<CachedObject>, i64) {
        (self.range(key_prefix).cloned().collect(), self.revision)
    }

    /// The object at `key`, and the revision the answer is at.
    pub fn get(&self, key: &str) -> (Option<CachedObject>, i64) {
        (self.objects.get(key).cloned(), self.revision)
    }

    fn range<'a>(&'a self, key_prefix: &'a str) -> impl Iterator<Item = &'a CachedObject> + 'a {
        self.objects
            .range::<str, _>((Bound::Included(key_prefix), Bound::Unbounded))
            .take_while(move |(key, _)| key.starts_with(key_prefix))
            .map(|(_, object)| object)
    }

    /// A new watcher of `key_prefix` (see [`super::Cacher::watch`] for what `from` and
    /// `opts` mean).
    pub fn register(
        &mut self,
        from: Option<i64>,
        key_prefix: String,
        filter: Filter,
        opts: WatchOptions,
    ) -> Result<Registration, CacheError> {
        if !self.ready {
            return Err(CacheError::NotReady);
        }
        let start = self.start(from, &key_prefix, opts)?;
        let (tx, rx) = mpsc::channel(self.watcher_buffer);
        let slot = WatcherSlot {
            key_prefix,
            filter,
            bookmarks: opts.allow_bookmarks,
            position: self.revision,
            events: tx,
        };
        self.watchers.insert(self.next_watcher, slot);
        self.next_watcher += 1;
        Ok(Registration { start, events: rx })
    }

    fn start(
        &self,
        from: Option<i64>,
        key_prefix: &str,
        opts: WatchOptions,
    ) -> Result<Start, CacheError> {
        if let Some(requested) = from
            && requested > self.revision
        {
            return Err(CacheError::TooLargeResourceVersion {
                requested,
                current: self.revision,
            });
        }
        match from {
            Some(requested) if !opts.send_initial_events => {
                if requested < self.window_start {
                    return Err(CacheError::TooOld {
                        requested,
                        oldest: self.window_start,
                    });
                }
                let first = self.history.partition_point(|e| e.revision <= requested);
                Ok(Start::History(
                    self.history.range(first..).cloned().collect(),
                ))
            }
            _ => Ok(Start::State {
                objects: self.range(key_prefix).cloned().collect(),
                revision: self.revision,
                end_bookmark: opts.send_initial_events,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::cacher::event::added;

    const NS: &str = "/registry/pods/ns/";

    fn pod(name: &str, app: &str, rv: i64) -> Value {
        json!({"metadata": {"name": name, "labels": {"app": app},
            "resourceVersion": rv.to_string()}})
    }

    fn key(name: &str) -> String {
        format!("{NS}{name}")
    }

    fn put(name: &str, app: &str, created: bool, revision: i64) -> Change {
        Change::Put {
            key: key(name),
            object: Arc::new(pod(name, app, revision).into()),
            created,
            revision,
        }
    }

    fn everything() -> Filter {
        Arc::new(|_: &SharedObject| true)
    }

    fn web() -> Filter {
        Arc::new(|o: &SharedObject| o["metadata"]["labels"]["app"] == "web")
    }

    /// A ready cache listed at revision 10 with pod `a` (app web).
    fn listed(window: usize, buffer: usize) -> CacheState {
        let mut state = CacheState::new(window, buffer);
        let a = CachedObject {
            key: Arc::from(key("a")),
            object: Arc::new(SharedObject::new(pod("a", "web", 4))),
            revision: 4,
        };
        state.replace(vec![a], 10);
        state
    }

    fn drain(events: &mut mpsc::Receiver<Delivery>) -> Vec<(CacheEventType, String, i64)> {
        let mut out = Vec::new();
        while let Ok(delivery) = events.try_recv() {
            let event = delivery.expect("an event");
            out.push((event.kind, event.key.to_string(), event.revision));
        }
        out
    }

    fn history_of(start: Start) -> Vec<(CacheEventType, i64)> {
        match start {
            Start::History(events) => events.iter().map(|e| (e.kind, e.revision)).collect(),
            Start::State { .. } => panic!("expected history"),
        }
    }

    #[test]
    fn watchers_register_only_when_ready() {
        let mut state = CacheState::new(10, 10);
        let refused = state.register(None, NS.into(), everything(), WatchOptions::default());
        assert_eq!(refused.err(), Some(CacheError::NotReady));
    }

    #[test]
    fn events_update_objects_history_and_watchers() {
        let mut state = listed(10, 10);
        let mut w = state
            .register(Some(10), NS.into(), everything(), WatchOptions::default())
            .expect("register");
        assert_eq!(history_of(w.start), []);

        state.apply(put("b", "db", true, 11));
        state.apply(put("a", "web", false, 12));
        state.apply(Change::Delete {
            key: key("b"),
            revision: 13,
        });
        assert_eq!(
            drain(&mut w.events),
            [
                (CacheEventType::Added, key("b"), 11),
                (CacheEventType::Modified, key("a"), 12),
                (CacheEventType::Deleted, key("b"), 13),
            ]
        );
        assert_eq!(state.revision(), 13);
        let (objects, revision) = state.snapshot(NS);
        assert_eq!(revision, 13);
        assert_eq!(objects.len(), 1);
        assert_eq!(*objects[0].object, pod("a", "web", 12));
    }

    #[test]
    fn a_deletion_carries_the_last_state_at_its_revision() {
        let mut state = listed(10, 10);
        let mut w = state
            .register(None, NS.into(), everything(), WatchOptions::default())
            .expect("register");
        state.apply(Change::Delete {
            key: key("a"),
            revision: 11,
        });
        let deleted = w.events.try_recv().expect("queued").expect("event");
        assert_eq!(deleted.kind, CacheEventType::Deleted);
        assert_eq!(*deleted.object, pod("a", "web", 11));
        assert_eq!(
            deleted.prev_object.as_deref().map(SharedObject::value),
            Some(&pod("a", "web", 4))
        );
        // A key the cache never had changes nothing.
        state.apply(Change::Delete {
            key: key("nope"),
            revision: 12,
        });
        assert_eq!(state.revision(), 12);
        assert!(w.events.try_recv().is_err());
    }

    #[test]
    fn a_watch_resumes_inside_the_window_and_not_before_it() {
        let mut state = listed(3, 10);
        for revision in 11..=15 {
            state.apply(put("a", "web", false, revision));
        }
        // History holds 13, 14, 15: resuming from 12 is exact, from 11 too old.
        let from_12 = state
            .register(Some(12), NS.into(), everything(), WatchOptions::default())
            .expect("in window");
        assert_eq!(
            history_of(from_12.start),
            [
                (CacheEventType::Modified, 13),
                (CacheEventType::Modified, 14),
                (CacheEventType::Modified, 15)
            ]
        );
        let from_14 = state
            .register(Some(14), NS.into(), everything(), WatchOptions::default())
            .expect("in window");
        assert_eq!(history_of(from_14.start), [(CacheEventType::Modified, 15)]);
        let too_old = state.register(Some(11), NS.into(), everything(), WatchOptions::default());
        assert_eq!(
            too_old.err(),
            Some(CacheError::TooOld {
                requested: 11,
                oldest: 12
            })
        );
        let future = state.register(Some(16), NS.into(), everything(), WatchOptions::default());
        assert_eq!(
            future.err(),
            Some(CacheError::TooLargeResourceVersion {
                requested: 16,
                current: 15
            })
        );
    }

    #[test]
    fn initial_state_is_a_snapshot_of_the_prefix() {
        let mut state = listed(10, 10);
        state.apply(Change::Put {
            key: "/registry/pods/other/x".into(),
            object: Arc::new(pod("x", "web", 11).into()),
            created: true,
            revision: 11,
        });
        let opts = WatchOptions {
            allow_bookmarks: true,
            send_initial_events: true,
        };
        let w = state
            .register(Some(5), NS.into(), everything(), opts)
            .expect("register");
        let Start::State {
            objects,
            revision,
            end_bookmark,
        } = w.start
        else {
            panic!("sendInitialEvents starts from the state");
        };
        let keys: Vec<_> = objects.iter().map(|o| o.key.to_string()).collect();
        assert_eq!(keys, [key("a")]);
        assert_eq!((revision, end_bookmark), (11, true));
        assert_eq!(added(&objects[0], revision).kind, CacheEventType::Added);
    }

    #[test]
    fn a_full_queue_closes_the_slow_watcher_only() {
        let mut state = listed(10, 2);
        let mut slow = state
            .register(Some(10), NS.into(), everything(), WatchOptions::default())
            .expect("slow");
        let mut fast = state
            .register(Some(10), NS.into(), everything(), WatchOptions::default())
            .expect("fast");
        for revision in 11..=14 {
            state.apply(put("a", "web", false, revision));
            assert_eq!(drain(&mut fast.events).len(), 1);
        }
        assert_eq!(state.watcher_count(), 1);
        // The slow one reads what was queued, then its end.
        assert_eq!(drain(&mut slow.events).len(), 2);
        assert!(matches!(
            slow.events.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }

    #[test]
    fn bookmarks_skip_busy_watchers_and_reach_the_others() {
        let mut state = listed(10, 1);
        let opts = WatchOptions {
            allow_bookmarks: true,
            send_initial_events: false,
        };
        let mut busy = state
            .register(Some(10), NS.into(), everything(), opts)
            .expect("busy");
        let mut idle = state
            .register(Some(10), "/registry/pods/other/".into(), everything(), opts)
            .expect("idle");
        let mut without = state
            .register(Some(10), NS.into(), web(), WatchOptions::default())
            .expect("no bookmarks");
        state.apply(put("b", "db", true, 11));
        state.progress(20);
        state.bookmark();
        assert_eq!(
            state.watcher_count(),
            3,
            "a bookmark never closes a watcher"
        );
        assert_eq!(
            drain(&mut busy.events),
            [(CacheEventType::Added, key("b"), 11)]
        );
        assert_eq!(
            drain(&mut idle.events),
            [(CacheEventType::Bookmark, String::new(), 20)]
        );
        assert_eq!(drain(&mut without.events), []);
    }

    #[test]
    fn a_relist_ends_watchers_with_too_old() {
        let mut state = listed(10, 10);
        let mut w = state
            .register(Some(10), NS.into(), everything(), WatchOptions::default())
            .expect("register");
        state.apply(put("a", "web", false, 11));
        state.invalidate();
        assert!(!state.ready());
        assert_eq!(drain_one_ok(&mut w.events), 11);
        assert_eq!(
            w.events.try_recv().expect("error queued"),
            Err(CacheError::TooOld {
                requested: 11,
                oldest: 11
            })
        );
        state.replace(vec![], 30);
        assert!(state.ready());
        assert_eq!(state.snapshot(NS), (vec![], 30));
        // History starts over at the list.
        let old = state.register(Some(29), NS.into(), everything(), WatchOptions::default());
        assert_eq!(
            old.err(),
            Some(CacheError::TooOld {
                requested: 29,
                oldest: 30
            })
        );
    }

    fn drain_one_ok(events: &mut mpsc::Receiver<Delivery>) -> i64 {
        events.try_recv().expect("queued").expect("event").revision
    }

    #[test]
    fn progress_and_skipped_values_move_the_revision_not_the_history() {
        let mut state = listed(10, 10);
        state.apply(Change::Skipped { revision: 12 });
        state.progress(15);
        state.progress(14);
        assert_eq!(state.revision(), 15);
        let w = state
            .register(Some(10), NS.into(), everything(), WatchOptions::default())
            .expect("register");
        assert_eq!(history_of(w.start), []);
        // Out-of-order events are refused, in-order ones at a progressed revision are not.
        state.apply(put("a", "web", false, 13));
        assert_eq!(state.get(&key("a")).0.map(|o| o.revision), Some(13));
        state.apply(put("a", "web", false, 12));
        assert_eq!(state.get(&key("a")).0.map(|o| o.revision), Some(13));
    }
}
