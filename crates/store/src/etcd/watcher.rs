//! The pure part of a watch stream: the watchers it carries (ids, ranges, filters, next
//! revision) and how a list of events becomes the next response for one watcher. No I/O, so
//! the rules that RELIABILITY.md property 8 rests on (ordered, no gaps, never a revision split
//! across responses, progress only when caught up) are tested here directly.
//!
//! The planted bug [`PlantedBug::DropWatchEvent`] (test-only) lives in [`Watcher::step`].

use std::collections::BTreeMap;

use kubesim_proto::etcdserverpb::WatchCreateRequest;
use kubesim_proto::etcdserverpb::watch_create_request::FilterType;
use kubesim_proto::mvccpb::Event;
use kubesim_proto::mvccpb::event::EventType;

use crate::planted::PlantedBug;

/// Under the planted bug `DropWatchEvent`, each watcher drops the first event it would send
/// at this revision or later: late enough to be past start-up, early enough for every run.
const DROPPED_EVENT_MIN_REVISION: i64 = 32;

/// A client-chosen watch id of 0 asks the server to pick one (etcd's `AutoWatchID`).
pub const AUTO_WATCH_ID: i64 = 0;

/// Why a watch could not be created. The texts are etcd's (`mvcc/watcher.go`), sent back as
/// the `cancel_reason` of a `created` + `canceled` response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    #[error("mvcc: duplicate watch ID provided on the WatchStream")]
    DuplicateId,
    #[error("mvcc: watcher range is empty")]
    EmptyRange,
    #[error("etcdserver: too many watches on this stream (at most {0})")]
    TooManyWatches(usize),
}

/// One watcher on a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watcher {
    pub id: i64,
    /// First key watched; etcd watches from "\0" when the client sends an empty key.
    pub key: Vec<u8>,
    /// etcd's range_end as the client sent it: empty = one key, "\0" = every key >= key.
    pub range_end: Vec<u8>,
    /// The next revision to deliver: every event below it has been sent (or filtered out).
    pub next_revision: i64,
    /// Whether events keep their `prev_kv` (otherwise it is stripped).
    pub prev_kv: bool,
    /// Whether the periodic progress notification is wanted.
    pub progress_notify: bool,
    /// `NOPUT` filter: drop PUT events.
    pub no_put: bool,
    /// `NODELETE` filter: drop DELETE events.
    pub no_delete: bool,
    /// Test-only: the planted bug `DropWatchEvent` has yet to drop this watcher's event.
    pub drops_an_event: bool,
}

/// The watchers of one stream, by id, in id order (the order they are served in).
#[derive(Debug)]
pub struct Watchers {
    by_id: BTreeMap<i64, Watcher>,
    /// Where the search for a free id starts, as etcd's `watchStream.nextID`.
    next_id: i64,
    /// `Limits::max_watches_per_stream`.
    max_watchers: usize,
    /// Test-only: the known bug planted in every new watcher, if any.
    planted_bug: PlantedBug,
}

impl Watchers {
    pub fn new(max_watchers: usize) -> Self {
        Watchers {
            by_id: BTreeMap::new(),
            next_id: 0,
            max_watchers,
            planted_bug: PlantedBug::None,
        }
    }

    /// Test-only: plants `bug` in every watcher created from now on.
    pub fn with_planted_bug(mut self, bug: PlantedBug) -> Self {
        self.planted_bug = bug;
        self
    }

    /// Adds a watcher for `req` and returns its id. `current_revision` is where a watch
    /// "from now" (start_revision 0) starts: the next revision.
    pub fn create(
        &mut self,
        req: &WatchCreateRequest,
        current_revision: i64,
    ) -> Result<i64, CreateError> {
        let key = if req.key.is_empty() {
            vec![0]
        } else {
            req.key.clone()
        };
        let from_key = req.range_end.as_slice() == [0];
        if !req.range_end.is_empty() && !from_key && key >= req.range_end {
            return Err(CreateError::EmptyRange);
        }
        if self.by_id.len() >= self.max_watchers {
            return Err(CreateError::TooManyWatches(self.max_watchers));
        }
        let id = self.pick_id(req.watch_id)?;
        let next_revision = if req.start_revision > 0 {
            req.start_revision
        } else {
            current_revision + 1
        };
        let watcher = Watcher {
            id,
            key,
            range_end: req.range_end.clone(),
            next_revision,
            prev_kv: req.prev_kv,
            progress_notify: req.progress_notify,
            no_put: req.filters.contains(&(FilterType::Noput as i32)),
            no_delete: req.filters.contains(&(FilterType::Nodelete as i32)),
            drops_an_event: self.planted_bug.is(PlantedBug::DropWatchEvent),
        };
        self.by_id.insert(id, watcher);
        Ok(id)
    }

    fn pick_id(&mut self, requested: i64) -> Result<i64, CreateError> {
        if requested != AUTO_WATCH_ID {
            if self.by_id.contains_key(&requested) {
                return Err(CreateError::DuplicateId);
            }
            return Ok(requested);
        }
        while self.by_id.contains_key(&self.next_id) {
            self.next_id += 1;
        }
        let id = self.next_id;
        self.next_id += 1;
        Ok(id)
    }

    /// Removes a watcher; false if the stream has no such id.
    pub fn cancel(&mut self, id: i64) -> bool {
        self.by_id.remove(&id).is_some()
    }

    pub fn ids(&self) -> Vec<i64> {
        self.by_id.keys().copied().collect()
    }

    pub fn get(&self, id: i64) -> Option<&Watcher> {
        self.by_id.get(&id)
    }

    pub fn get_mut(&mut self, id: i64) -> Option<&mut Watcher> {
        self.by_id.get_mut(&id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Watcher> {
        self.by_id.values()
    }
}

/// The revision an event happened at: its key-value's mod_revision (a DELETE carries the
/// deleted key with the delete's revision).
pub fn event_revision(event: &Event) -> i64 {
    event.kv.as_ref().map_or(0, |kv| kv.mod_revision)
}

/// What one read of the history gives a watcher.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Events to send in one response (after filters); may be empty when all were filtered.
    pub events: Vec<Event>,
    /// Whether more history up to the target may remain (read again from `next_revision`).
    pub more: bool,
}

impl Watcher {
    /// Consumes `events` (what `Mvcc::events_since(self.next_revision, ..)` returned: whole
    /// revisions, in order) up to and including `target`, advancing `next_revision`. Events
    /// past `target` are left for later, so the cut is on a revision boundary.
    pub fn step(&mut self, events: Vec<Event>, target: i64) -> Step {
        let mut taken: Vec<Event> = events
            .into_iter()
            .filter(|e| event_revision(e) >= self.next_revision && event_revision(e) <= target)
            .collect();
        let Some(last) = taken.last().map(event_revision) else {
            self.next_revision = self.next_revision.max(target + 1);
            return Step {
                events: vec![],
                more: false,
            };
        };
        self.next_revision = last + 1;
        taken.retain(|e| self.wants(e));
        if self.drops_an_event {
            self.drop_planted_event(&mut taken);
        }
        if !self.prev_kv {
            for event in &mut taken {
                event.prev_kv = None;
            }
        }
        Step {
            events: taken,
            more: self.next_revision <= target,
        }
    }

    /// The planted bug `DropWatchEvent` (test-only): the first event at or past
    /// `DROPPED_EVENT_MIN_REVISION` silently goes missing, once per watcher.
    fn drop_planted_event(&mut self, events: &mut Vec<Event>) {
        let late = |e: &Event| event_revision(e) >= DROPPED_EVENT_MIN_REVISION;
        if let Some(i) = events.iter().position(late) {
            events.remove(i);
            self.drops_an_event = false;
        }
    }

    fn wants(&self, event: &Event) -> bool {
        match EventType::try_from(event.r#type) {
            Ok(EventType::Put) => !self.no_put,
            Ok(EventType::Delete) => !self.no_delete,
            Err(_) => true,
        }
    }

    /// Whether every event up to `current_revision` has been delivered, so a progress
    /// notification at `current_revision` tells the truth.
    pub fn caught_up(&self, current_revision: i64) -> bool {
        self.next_revision > current_revision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubesim_proto::mvccpb::KeyValue;

    fn create(key: &str, range_end: &[u8], start: i64, id: i64) -> WatchCreateRequest {
        WatchCreateRequest {
            key: key.into(),
            range_end: range_end.to_vec(),
            start_revision: start,
            watch_id: id,
            ..Default::default()
        }
    }

    fn event(kind: EventType, key: &str, revision: i64) -> Event {
        let kv = KeyValue {
            key: key.into(),
            mod_revision: revision,
            ..Default::default()
        };
        Event {
            r#type: kind as i32,
            kv: Some(kv.clone()),
            prev_kv: Some(kv),
        }
    }

    fn put(key: &str, revision: i64) -> Event {
        event(EventType::Put, key, revision)
    }

    fn watcher(next_revision: i64) -> Watcher {
        Watcher {
            id: 0,
            key: b"a".to_vec(),
            range_end: vec![0],
            next_revision,
            prev_kv: true,
            progress_notify: false,
            no_put: false,
            no_delete: false,
            drops_an_event: false,
        }
    }

    fn revisions(step: &Step) -> Vec<i64> {
        step.events.iter().map(event_revision).collect()
    }

    #[test]
    fn auto_ids_count_up_from_zero_and_skip_taken_ones() {
        let mut ws = Watchers::new(10);
        assert_eq!(ws.create(&create("a", b"", 0, 0), 5), Ok(0));
        assert_eq!(ws.create(&create("a", b"", 0, 2), 5), Ok(2));
        assert_eq!(ws.create(&create("a", b"", 0, 0), 5), Ok(1));
        assert_eq!(ws.create(&create("a", b"", 0, 0), 5), Ok(3));
        assert_eq!(
            ws.create(&create("a", b"", 0, 2), 5),
            Err(CreateError::DuplicateId)
        );
        assert!(ws.cancel(2));
        assert!(!ws.cancel(2));
        assert_eq!(ws.create(&create("a", b"", 0, 2), 5), Ok(2));
    }

    #[test]
    fn start_revision_zero_means_the_next_revision() {
        let mut ws = Watchers::new(10);
        let now = ws.create(&create("a", b"", 0, 0), 7).unwrap();
        let past = ws.create(&create("a", b"", 3, 0), 7).unwrap();
        assert_eq!(ws.get(now).unwrap().next_revision, 8);
        assert_eq!(ws.get(past).unwrap().next_revision, 3);
    }

    #[test]
    fn empty_range_and_too_many_watchers_are_refused() {
        let mut ws = Watchers::new(1);
        assert_eq!(
            ws.create(&create("b", b"a", 0, 0), 1),
            Err(CreateError::EmptyRange)
        );
        // "\0" means every key from `key`, never empty; an empty key watches from "\0".
        assert_eq!(ws.create(&create("", b"\0", 0, 0), 1), Ok(0));
        assert_eq!(ws.get(0).unwrap().key, vec![0]);
        assert_eq!(
            ws.create(&create("a", b"", 0, 0), 1),
            Err(CreateError::TooManyWatches(1))
        );
    }

    #[test]
    fn filters_and_prev_kv_follow_the_request() {
        let mut ws = Watchers::new(10);
        let mut req = create("a", b"\0", 0, 0);
        req.filters = vec![FilterType::Noput as i32];
        let id = ws.create(&req, 1).unwrap();
        let w = ws.get_mut(id).unwrap();
        let step = w.step(
            vec![put("a", 2), event(EventType::Delete, "a", 3), put("b", 4)],
            4,
        );
        assert_eq!(revisions(&step), vec![3]);
        assert_eq!(step.events[0].prev_kv, None);
        assert_eq!(w.next_revision, 5);
        assert!(!step.more);
    }

    #[test]
    fn a_step_stops_at_the_target_without_splitting_a_revision() {
        let mut w = watcher(2);
        let history = vec![put("a", 2), put("b", 2), put("a", 3), put("c", 4)];
        let step = w.step(history, 3);
        assert_eq!(revisions(&step), vec![2, 2, 3]);
        assert!(step.events[0].prev_kv.is_some());
        assert_eq!(w.next_revision, 4);
        assert!(!step.more);
    }

    #[test]
    fn a_partial_read_asks_for_more() {
        // events_since hit its limit after revision 3 while the target is 9.
        let mut w = watcher(2);
        let step = w.step(vec![put("a", 2), put("a", 3)], 9);
        assert_eq!(revisions(&step), vec![2, 3]);
        assert_eq!(w.next_revision, 4);
        assert!(step.more);
        // The next read finds nothing else up to 9: the watcher is caught up.
        let step = w.step(vec![], 9);
        assert!(step.events.is_empty() && !step.more);
        assert_eq!(w.next_revision, 10);
        assert!(w.caught_up(9));
    }

    #[test]
    fn all_filtered_still_advances() {
        let mut w = watcher(2);
        w.no_put = true;
        let step = w.step(vec![put("a", 2), put("a", 5)], 5);
        assert!(step.events.is_empty());
        assert_eq!(w.next_revision, 6);
    }

    #[test]
    fn never_goes_back_in_time() {
        let mut w = watcher(5);
        // Events below next_revision (already delivered) are never sent again.
        let step = w.step(vec![put("a", 4), put("a", 5)], 5);
        assert_eq!(revisions(&step), vec![5]);
        // A target below next_revision leaves it where it is.
        let step = w.step(vec![], 3);
        assert!(step.events.is_empty());
        assert_eq!(w.next_revision, 6);
    }

    #[test]
    fn the_planted_bug_drops_one_event_past_revision_32_once_and_only_with_the_feature() {
        let mut ws = Watchers::new(10).with_planted_bug(PlantedBug::DropWatchEvent);
        let id = ws.create(&create("a", b"\0", 30, 0), 29).unwrap();
        let w = ws.get_mut(id).unwrap();
        let history = vec![put("a", 30), put("a", 31), put("b", 32), put("c", 32)];
        let step = w.step(history, 32);
        let planted = cfg!(feature = "planted-bugs");
        let want = if planted {
            vec![30, 31, 32]
        } else {
            vec![30, 31, 32, 32]
        };
        assert_eq!(revisions(&step), want);
        assert_eq!(w.next_revision, 33);
        let step = w.step(vec![put("a", 33), put("a", 34)], 34);
        assert_eq!(revisions(&step), vec![33, 34]);
        // Every watcher loses its own event.
        let other = ws.create(&create("a", b"\0", 33, 0), 34).unwrap();
        let step = ws.get_mut(other).unwrap().step(vec![put("a", 33)], 34);
        assert_eq!(step.events.is_empty(), planted);
    }

    #[test]
    fn a_future_start_is_caught_up_now() {
        let w = watcher(20);
        assert!(w.caught_up(10));
        assert!(!watcher(10).caught_up(10));
    }
}
