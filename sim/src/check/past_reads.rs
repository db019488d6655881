//! Property 5 of RELIABILITY.md, a range at a past revision is consistent, and the half of
//! property 1 that says a read's data is the history at the revision it reports:
//! - a range at revision R returns exactly the keys the reference holds at R;
//! - a revision answers compacted only if a compaction above it may have been applied, and
//!   answers data only if no compaction above it had been acknowledged when the range began;
//! - a revision answers "future" only if no linearizable answer had shown it already;
//! - a get, linearizable or serializable, returns the key's state at its header revision (a
//!   serializable read may be stale, but it is still a snapshot of the revision it reports).
//!
//! Ranges at a past revision are taken to be linearizable (etcd's default), so they see
//! every write and compaction acknowledged before they began.

use super::reference::{self, Reference};
use super::{Property, Violation};
use crate::history::{Call, History, KvRead, Op, Outcome, Time};

const CHECKER: &str = "past_reads";

/// At most this many violations are reported; the last one counts the rest.
const MAX_VIOLATIONS: usize = 3;

/// How many differing keys an excerpt lists.
const MAX_KEYS: usize = 10;

pub fn check(history: &History) -> Vec<Violation> {
    let Some(reference) = Reference::of(history) else {
        return Vec::new();
    };
    let timeline = Timeline::new(history);
    let violations = history
        .calls
        .iter()
        .filter_map(|call| check_call(&reference, &timeline, call))
        .collect();
    reference::at_most(violations, MAX_VIOLATIONS)
}

fn check_call(reference: &Reference, timeline: &Timeline, call: &Call) -> Option<Violation> {
    match (&call.op, &call.outcome) {
        (Op::Get { key, .. }, Outcome::Get { revision, kv }) => {
            check_get(reference, call, key, *revision, kv.as_ref())
        }
        (
            Op::RangeAt { prefix, revision },
            Outcome::RangeAt {
                kvs,
                revision: header,
            },
        ) => {
            // Revision 0 (or less) asks for the newest, which the header reports.
            let at = if *revision > 0 { *revision } else { *header };
            check_compacted_answered(timeline, call, at)
                .or_else(|| check_range(reference, call, prefix, at, kvs))
        }
        (Op::RangeAt { revision, .. }, Outcome::Compacted) => {
            check_compacted(timeline, call, *revision)
        }
        (Op::RangeAt { revision, .. }, Outcome::FutureRevision) => {
            check_future(timeline, call, *revision)
        }
        _ => None,
    }
}

fn check_get(
    reference: &Reference,
    call: &Call,
    key: &str,
    revision: i64,
    read: Option<&KvRead>,
) -> Option<Violation> {
    if reference.agrees(key, revision, read) {
        return None;
    }
    let state = reference.state_at(key, revision);
    Some(Violation {
        // A read whose data is not the history at its own revision breaks property 1,
        // whether or not it was allowed to be stale.
        property: Property::Linearizable,
        checker: CHECKER,
        message: format!("a get's data is not the history at its header revision {revision}"),
        excerpt: vec![
            call.to_string(),
            format!("reference: {key} at {revision} is {state}"),
        ],
    })
}

/// Every key the range returned, or the reference holds, with `prefix` at `revision`, the
/// same on both sides (as far as the reference knows), in key order.
fn check_range(
    reference: &Reference,
    call: &Call,
    prefix: &str,
    revision: i64,
    kvs: &[KvRead],
) -> Option<Violation> {
    let in_order = kvs.windows(2).all(|pair| pair[0].key < pair[1].key);
    let in_prefix = kvs.iter().all(|kv| kv.key.starts_with(prefix));
    let mut keys: Vec<&str> = kvs.iter().map(|kv| kv.key.as_str()).collect();
    keys.extend(reference.keys_with_prefix(prefix));
    keys.sort_unstable();
    keys.dedup();
    let differing: Vec<String> = keys
        .into_iter()
        .filter_map(|key| {
            let read = kvs.iter().find(|kv| kv.key == key);
            (!reference.agrees(key, revision, read)).then(|| {
                let read = read.map_or("absent".to_owned(), ToString::to_string);
                let state = reference.state_at(key, revision);
                format!("{key}: read {read}, reference {state}")
            })
        })
        .collect();
    if in_order && in_prefix && differing.is_empty() {
        return None;
    }
    let message = if !in_order || !in_prefix {
        format!(
            "a range of {prefix}* at {revision} returned keys out of order or outside the prefix"
        )
    } else {
        format!(
            "a range of {prefix}* at {revision} differs from the history at {revision} in {} keys",
            differing.len()
        )
    };
    let mut excerpt = vec![call.to_string()];
    excerpt.extend(differing.into_iter().take(MAX_KEYS));
    Some(range_violation(message, excerpt))
}

/// A range that returned data must not be at a revision an acknowledged compaction had
/// removed before the range began.
fn check_compacted_answered(timeline: &Timeline, call: &Call, revision: i64) -> Option<Violation> {
    let compacted = timeline.acknowledged_compaction_before(call.invoke)?;
    if revision >= compacted.revision {
        return None;
    }
    Some(range_violation(
        format!(
            "a range at {revision} returned data after the compaction at {} was acknowledged",
            compacted.revision
        ),
        vec![compacted.call.clone(), call.to_string()],
    ))
}

/// A compacted answer needs a compaction above the revision (etcd still serves the
/// compaction's own revision) that was asked for before the range completed.
fn check_compacted(timeline: &Timeline, call: &Call, revision: i64) -> Option<Violation> {
    let until = call.complete.unwrap_or(Time::MAX);
    let asked = timeline.compaction_asked_before(until);
    if asked
        .as_ref()
        .is_some_and(|asked| revision < asked.revision)
    {
        return None;
    }
    let mut excerpt: Vec<String> = asked.map(|asked| asked.call).into_iter().collect();
    excerpt.push(call.to_string());
    Some(range_violation(
        format!(
            "a range at {revision} answered compacted, but no compaction above it was asked for"
        ),
        excerpt,
    ))
}

/// A future-revision answer is wrong once a linearizable answer had shown that revision.
fn check_future(timeline: &Timeline, call: &Call, revision: i64) -> Option<Violation> {
    let seen = timeline.revision_seen_before(call.invoke)?;
    if seen.revision < revision {
        return None;
    }
    Some(range_violation(
        format!(
            "a range at {revision} answered future revision, but revision {} had been acknowledged",
            seen.revision
        ),
        vec![seen.call.clone(), call.to_string()],
    ))
}

fn range_violation(message: String, excerpt: Vec<String>) -> Violation {
    Violation {
        property: Property::PastReads,
        checker: CHECKER,
        message,
        excerpt,
    }
}

/// A revision and the call that shows it.
#[derive(Debug, Clone)]
struct Witness {
    revision: i64,
    call: String,
}

/// Revisions by time: the highest revision known at any time, with the call that made it so.
#[derive(Debug, Default)]
struct Highest {
    /// (time, highest revision up to that time, its call), in time order.
    steps: Vec<(Time, Witness)>,
}

impl Highest {
    /// From (time, revision, call) in any order.
    fn new(mut points: Vec<(Time, i64, &Call)>) -> Self {
        points.sort_by_key(|(at, _, _)| *at);
        let mut steps: Vec<(Time, Witness)> = Vec::new();
        for (at, revision, call) in points {
            if steps.last().is_none_or(|(_, top)| revision > top.revision) {
                let witness = Witness {
                    revision,
                    call: call.to_string(),
                };
                steps.push((at, witness));
            }
        }
        Highest { steps }
    }

    /// The highest revision at a time strictly before `at`.
    fn before(&self, at: Time) -> Option<&Witness> {
        let count = self.steps.partition_point(|(time, _)| *time < at);
        count
            .checked_sub(1)
            .and_then(|last| self.steps.get(last))
            .map(|(_, witness)| witness)
    }

    /// The highest revision at a time at or before `at`.
    fn until(&self, at: Time) -> Option<&Witness> {
        let count = self.steps.partition_point(|(time, _)| *time <= at);
        count
            .checked_sub(1)
            .and_then(|last| self.steps.get(last))
            .map(|(_, witness)| witness)
    }
}

/// What the clients knew when: compactions asked for and acknowledged, and the revisions
/// linearizable answers showed.
#[derive(Debug, Default)]
struct Timeline {
    /// Compactions by invoke time: any of them may have been applied from then on. Only a
    /// definite failure is left out.
    asked: Highest,
    /// Compactions by complete time, acknowledged.
    acknowledged: Highest,
    /// Header revisions of linearizable answers (writes, linearizable gets), by complete time.
    seen: Highest,
}

impl Timeline {
    fn new(history: &History) -> Self {
        let mut asked = Vec::new();
        let mut acknowledged = Vec::new();
        let mut seen = Vec::new();
        for call in &history.calls {
            if let Op::Compact { revision } = call.op {
                if !matches!(call.outcome, Outcome::Failed(_)) {
                    asked.push((call.invoke, revision, call));
                }
                if let (Outcome::CompactDone { .. }, Some(at)) = (&call.outcome, call.complete) {
                    acknowledged.push((at, revision, call));
                }
            }
            if let (Some(revision), Some(at)) = (linearizable_revision(call), call.complete) {
                seen.push((at, revision, call));
            }
        }
        Timeline {
            asked: Highest::new(asked),
            acknowledged: Highest::new(acknowledged),
            seen: Highest::new(seen),
        }
    }

    fn compaction_asked_before(&self, at: Time) -> Option<Witness> {
        self.asked.until(at).cloned()
    }

    fn acknowledged_compaction_before(&self, at: Time) -> Option<&Witness> {
        self.acknowledged.before(at)
    }

    fn revision_seen_before(&self, at: Time) -> Option<&Witness> {
        self.seen.before(at)
    }
}

/// The header revision of an answer that reflects every write acknowledged before it.
fn linearizable_revision(call: &Call) -> Option<i64> {
    match (&call.op, &call.outcome) {
        (Op::Put { .. }, Outcome::Put { revision })
        | (
            Op::Get {
                serializable: false,
                ..
            },
            Outcome::Get { revision, .. },
        )
        | (Op::CasValue { .. } | Op::CasRevision { .. }, Outcome::Cas { revision, .. })
        | (Op::Delete { .. }, Outcome::Delete { revision, .. }) => Some(*revision),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::reference::testkit::{Store, call, kv};

    fn range_at(prefix: &str, revision: i64) -> Op {
        Op::RangeAt {
            prefix: prefix.to_owned(),
            revision,
        }
    }

    fn get(key: &str, serializable: bool) -> Op {
        Op::Get {
            key: key.to_owned(),
            serializable,
        }
    }

    fn store() -> Store {
        let mut store = Store::new();
        store.put("/a", "1"); // 2
        store.put("/b", "1"); // 3
        store.put("/a", "2"); // 4
        store.delete("/b"); // 5
        store.put("/c", "1"); // 6
        store
    }

    fn range_outcome(store: &Store, revision: i64) -> Outcome {
        let kvs = ["/a", "/b", "/c"]
            .into_iter()
            .filter_map(|key| store.kv_at(key, revision))
            .collect();
        Outcome::RangeAt {
            revision: store.revision,
            kvs,
        }
    }

    fn good_history() -> History {
        let store = store();
        let mut history = store.history();
        for revision in 1..=6 {
            let outcome = range_outcome(&store, revision);
            call(&mut history, range_at("/", revision), outcome, 100, 101);
        }
        let at_3 = Outcome::Get {
            revision: 3,
            kv: Some(kv("/a", "1", 2, 2, 1)),
        };
        call(&mut history, get("/a", true), at_3, 100, 101);
        let at_6 = Outcome::Get {
            revision: 6,
            kv: None,
        };
        call(&mut history, get("/b", false), at_6, 100, 101);
        history
    }

    #[test]
    fn reads_that_match_the_history_pass() {
        assert_eq!(check(&good_history()), Vec::new());
    }

    #[test]
    fn a_past_read_returning_a_later_value_is_caught() {
        let store = store();
        let mut history = good_history();
        // At 3, /a was 1; the read shows the value written at 4 (and /b as it was at 3).
        let outcome = range_outcome(&store, 4);
        call(&mut history, range_at("/", 3), outcome, 102, 103);
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].property, Property::PastReads);
        assert!(
            violations[0].message.contains("in 1 keys"),
            "{}",
            violations[0]
        );
        assert!(violations[0].excerpt[1].contains("/a: read /a=2@4"));
    }

    #[test]
    fn a_missing_or_extra_key_is_caught() {
        let store = store();
        let mut history = good_history();
        let mut missing = range_outcome(&store, 4);
        if let Outcome::RangeAt { kvs, .. } = &mut missing {
            kvs.remove(0);
        }
        call(&mut history, range_at("/", 4), missing, 102, 103);
        let mut extra = range_outcome(&store, 5);
        if let Outcome::RangeAt { kvs, .. } = &mut extra {
            kvs.push(kv("/z", "1", 5, 5, 1));
        }
        call(&mut history, range_at("/", 5), extra, 102, 103);
        assert_eq!(check(&history).len(), 2);
    }

    #[test]
    fn a_get_whose_data_is_not_its_header_revision_is_caught() {
        let mut history = good_history();
        // The header says 3 but the data is from 4.
        let outcome = Outcome::Get {
            revision: 3,
            kv: Some(kv("/a", "2", 4, 2, 2)),
        };
        call(&mut history, get("/a", true), outcome, 102, 103);
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].property, Property::Linearizable);
    }

    fn compact(history: &mut History, revision: i64, invoke_ms: u64, complete_ms: u64) {
        let outcome = Outcome::CompactDone { revision: 6 };
        call(
            history,
            Op::Compact { revision },
            outcome,
            invoke_ms,
            complete_ms,
        );
    }

    #[test]
    fn compacted_is_right_only_below_a_compaction_asked_for_in_time() {
        let mut history = good_history();
        compact(&mut history, 4, 200, 210);
        // In flight together with the compaction: either answer is right.
        call(&mut history, range_at("/", 3), Outcome::Compacted, 201, 205);
        // The compaction's own revision is still readable.
        call(&mut history, range_at("/", 4), Outcome::Compacted, 201, 205);
        // Completed before the compaction was asked for.
        call(&mut history, range_at("/", 2), Outcome::Compacted, 150, 160);
        let violations = check(&history);
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert!(
            violations[0]
                .message
                .contains("range at 4 answered compacted")
        );
        assert!(
            violations[1]
                .message
                .contains("range at 2 answered compacted")
        );
    }

    #[test]
    fn data_below_an_acknowledged_compaction_is_caught() {
        let store = store();
        let mut history = good_history();
        compact(&mut history, 4, 200, 210);
        // Began after the compaction was acknowledged, yet read below it.
        call(
            &mut history,
            range_at("/", 3),
            range_outcome(&store, 3),
            220,
            221,
        );
        // Began while the compaction was in flight: may have run first.
        call(
            &mut history,
            range_at("/", 3),
            range_outcome(&store, 3),
            205,
            221,
        );
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].message.contains("after the compaction at 4"));
    }

    #[test]
    fn a_future_revision_already_acknowledged_is_caught() {
        let mut history = good_history();
        call(
            &mut history,
            range_at("/", 6),
            Outcome::FutureRevision,
            90,
            91,
        );
        call(
            &mut history,
            range_at("/", 7),
            Outcome::FutureRevision,
            300,
            301,
        );
        // A serializable get's revision may be ahead of the member the range asked.
        let serializable = Outcome::Get {
            revision: 8,
            kv: None,
        };
        call(&mut history, get("/x", true), serializable, 250, 260);
        assert_eq!(check(&history), Vec::new());
        call(
            &mut history,
            range_at("/", 6),
            Outcome::FutureRevision,
            300,
            301,
        );
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(
            violations[0]
                .message
                .contains("revision 6 had been acknowledged")
        );
    }
}
