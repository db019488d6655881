//! Property 3 of RELIABILITY.md: an acknowledged write survives any crash. Every write a
//! client got an answer for must be in the reference history at the revision the answer
//! reported, with its value. Nothing there means the write was lost (usually an unsynced
//! log entry and a power cut); another write there means the revision was given out twice.

use kubesim_proto::mvccpb::event::EventType;

use super::reference::{self, Reference, describe_event};
use super::{Property, Violation};
use crate::history::{Call, History, Op, Outcome};

const CHECKER: &str = "durability";

/// At most this many violations are reported; the last one counts the rest.
const MAX_VIOLATIONS: usize = 3;

/// How many faults an excerpt lists.
const MAX_FAULTS: usize = 8;

/// A write the client was told had been applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Acknowledged<'a> {
    key: &'a str,
    revision: i64,
    /// The value written; `None` for a delete.
    value: Option<&'a str>,
}

pub fn check(history: &History) -> Vec<Violation> {
    let Some(reference) = Reference::of(history) else {
        return Vec::new();
    };
    let mut violations = Vec::new();
    // Writes at or below the compaction: the history no longer holds them to compare.
    let mut compacted = 0;
    for call in &history.calls {
        let Some(write) = acknowledged(call) else {
            continue;
        };
        if !reference.covers(write.revision) {
            compacted += 1;
            continue;
        }
        if !is_held(&reference, &write) {
            violations.push(lost(history, &reference, call, &write));
        }
    }
    if compacted > 0 {
        for violation in &mut violations {
            violation.message.push_str(&format!(
                " ({compacted} acknowledged writes at or below the compaction at {} were not checked)",
                reference.compact_revision
            ));
        }
    }
    reference::at_most(violations, MAX_VIOLATIONS)
}

/// The write `call` was acknowledged for, if it changed a key. Lease grants change no key;
/// failed and unknown calls promise nothing.
fn acknowledged(call: &Call) -> Option<Acknowledged<'_>> {
    match (&call.op, &call.outcome) {
        (Op::Put { key, value, .. }, Outcome::Put { revision }) => Some(Acknowledged {
            key,
            revision: *revision,
            value: Some(value),
        }),
        (
            Op::CasValue { key, new, .. } | Op::CasRevision { key, new, .. },
            Outcome::Cas {
                succeeded: true,
                revision,
                ..
            },
        ) => Some(Acknowledged {
            key,
            revision: *revision,
            value: Some(new),
        }),
        (Op::Delete { key }, Outcome::Delete { deleted, revision }) if *deleted > 0 => {
            Some(Acknowledged {
                key,
                revision: *revision,
                value: None,
            })
        }
        _ => None,
    }
}

/// The write at `write.revision` changed `write.key` the way the client was told.
fn is_held(reference: &Reference, write: &Acknowledged<'_>) -> bool {
    let kind = match write.value {
        Some(_) => EventType::Put,
        None => EventType::Delete,
    };
    reference.write_at(write.revision).iter().any(|event| {
        event.r#type() == kind
            && event.kv.as_ref().is_some_and(|kv| {
                kv.key == write.key.as_bytes()
                    && write.value.is_none_or(|value| kv.value == value.as_bytes())
            })
    })
}

fn lost(
    history: &History,
    reference: &Reference,
    call: &Call,
    write: &Acknowledged<'_>,
) -> Violation {
    let held = reference.write_at(write.revision);
    let what = if held.is_empty() {
        format!(
            "the reference has no write at revision {} (its revision is {})",
            write.revision, reference.current_revision
        )
    } else {
        format!(
            "the reference has another write at revision {}: the revision was given out twice",
            write.revision
        )
    };
    let mut excerpt = vec![call.to_string()];
    excerpt.extend(
        held.iter()
            .map(|event| format!("reference at {}: {}", write.revision, describe_event(event))),
    );
    excerpt.extend(reference::faults_since(history, call.invoke, MAX_FAULTS));
    Violation {
        property: Property::Durability,
        checker: CHECKER,
        message: format!("acknowledged write lost: {what}"),
        excerpt,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::check::reference::testkit::{Store, call};
    use crate::history::FaultRecord;

    fn put(key: &str, value: &str) -> Op {
        Op::Put {
            key: key.to_owned(),
            value: value.to_owned(),
            lease: 0,
        }
    }

    fn cas(key: &str, new: &str) -> Op {
        Op::CasValue {
            key: key.to_owned(),
            expected: None,
            new: new.to_owned(),
        }
    }

    fn succeeded(revision: i64) -> Outcome {
        Outcome::Cas {
            revision,
            succeeded: true,
            kv: None,
        }
    }

    /// A run where every acknowledged write is in the store.
    fn kept() -> (Store, History) {
        let mut store = Store::new();
        let a = store.put("/a", "c1-1");
        let b = store.put("/b", "c1-2");
        let deleted = store.delete("/a");
        let swapped = store.put("/a", "c1-3");
        let mut history = store.history();
        call(
            &mut history,
            put("/a", "c1-1"),
            Outcome::Put { revision: a },
            0,
            1,
        );
        call(
            &mut history,
            put("/b", "c1-2"),
            Outcome::Put { revision: b },
            1,
            2,
        );
        let delete = Op::Delete {
            key: "/a".to_owned(),
        };
        let outcome = Outcome::Delete {
            revision: deleted,
            deleted: 1,
        };
        call(&mut history, delete, outcome, 2, 3);
        call(&mut history, cas("/a", "c1-3"), succeeded(swapped), 3, 4);
        (store, history)
    }

    #[test]
    fn every_acknowledged_write_in_the_history_passes() {
        let (_, mut history) = kept();
        // Unacknowledged and failed writes promise nothing.
        let unknown = Outcome::Unknown("timed out".to_owned());
        call(&mut history, put("/c", "c1-4"), unknown, 4, 5);
        let failed = Outcome::Failed("no leader".to_owned());
        call(&mut history, put("/c", "c1-5"), failed, 5, 6);
        let nothing = Outcome::Delete {
            revision: 5,
            deleted: 0,
        };
        let delete = Op::Delete {
            key: "/zz".to_owned(),
        };
        call(&mut history, delete, nothing, 6, 7);
        assert_eq!(check(&history), Vec::new());
    }

    #[test]
    fn a_write_missing_from_the_history_is_lost() {
        let (store, mut history) = kept();
        history.faults.push(FaultRecord {
            at: Duration::from_millis(9),
            what: "power cut store-1".to_owned(),
        });
        history.healed_at = Some(Duration::from_millis(20));
        let next = store.revision + 1;
        call(
            &mut history,
            put("/c", "c1-9"),
            Outcome::Put { revision: next },
            8,
            10,
        );
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].message.contains("no write at revision 6"));
        assert!(violations[0].excerpt[0].contains("put /c=c1-9"));
        assert!(violations[0].excerpt[1].contains("power cut store-1"));
    }

    #[test]
    fn another_write_at_the_revision_means_it_was_reused() {
        let (_, mut history) = kept();
        // Revision 3 holds /b=c1-2, not this put.
        call(
            &mut history,
            put("/b", "c2-1"),
            Outcome::Put { revision: 3 },
            5,
            6,
        );
        // A deleted key acknowledged at a revision where it was put.
        let delete = Op::Delete {
            key: "/a".to_owned(),
        };
        let outcome = Outcome::Delete {
            revision: 2,
            deleted: 1,
        };
        call(&mut history, delete, outcome, 6, 7);
        // A CAS at a revision that wrote another key.
        call(&mut history, cas("/x", "c2-2"), succeeded(4), 7, 8);
        let violations = check(&history);
        assert_eq!(violations.len(), 3, "{violations:?}");
        for violation in &violations {
            assert!(violation.message.contains("given out twice"), "{violation}");
        }
        assert!(violations[0].excerpt[1].contains("PUT /b=c1-2@3"));
    }

    #[test]
    fn at_most_three_are_reported_and_compacted_writes_are_skipped() {
        let (mut store, mut history) = kept();
        for n in 0..5 {
            let outcome = Outcome::Put { revision: 100 + n };
            call(
                &mut history,
                put("/lost", &format!("c3-{n}")),
                outcome,
                10,
                11,
            );
        }
        store.compact(3);
        history.members.insert("store-1".to_owned(), store.member());
        // Revision 2 is compacted: not checked even though it would not match.
        call(
            &mut history,
            put("/a", "c9-9"),
            Outcome::Put { revision: 2 },
            12,
            13,
        );
        let violations = check(&history);
        assert_eq!(violations.len(), 3);
        assert!(violations[2].message.contains("2 more like this"));
        assert!(
            violations[0]
                .message
                .contains("3 acknowledged writes at or below")
        );
    }
}
