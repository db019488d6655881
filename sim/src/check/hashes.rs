//! Property 7: every member holds the same state at the same revision.
//!
//! After healing, every member must have applied the same revision; their MVCC histories
//! (read straight from each store) must be equal event for event, and HashKV through the
//! API at that revision must give the same hash and compact revision on each.

use kubesim_proto::mvccpb::Event;

use super::{Property, Violation};
use crate::history::History;

const CHECKER: &str = "hashes";

pub fn check(history: &History) -> Vec<Violation> {
    let violation = |message: String, excerpt: Vec<String>| {
        vec![Violation {
            property: Property::SameState,
            checker: CHECKER,
            message,
            excerpt,
        }]
    };
    if history.members.len() < 2 || history.hash_revision <= 0 {
        let revisions = history
            .members
            .iter()
            .map(|(name, state)| format!("{name}: revision {}", state.current_revision))
            .collect();
        return violation(
            format!(
                "after healing the members never reached the same revision ({} of them reported a state)",
                history.members.len()
            ),
            revisions,
        );
    }
    let mut members = history.members.iter();
    let Some((first_name, first)) = members.next() else {
        return Vec::new();
    };
    for (name, state) in members {
        if state.current_revision != first.current_revision
            || state.compact_revision != first.compact_revision
        {
            return violation(
                format!(
                    "{first_name} is at revision {} (compacted {}), {name} at {} (compacted {})",
                    first.current_revision,
                    first.compact_revision,
                    state.current_revision,
                    state.compact_revision
                ),
                Vec::new(),
            );
        }
        if let Some(i) = first_difference(&first.events, &state.events) {
            return violation(
                format!("{first_name} and {name} hold different histories"),
                vec![
                    format!("{first_name}: {}", describe(first.events.get(i))),
                    format!("{name}: {}", describe(state.events.get(i))),
                ],
            );
        }
        if state.hash.is_none() || first.hash.is_none() || state.hash != first.hash {
            return violation(
                format!(
                    "HashKV at revision {} differs: {first_name} {:?}, {name} {:?} (hash, compact revision)",
                    history.hash_revision, first.hash, state.hash
                ),
                Vec::new(),
            );
        }
    }
    Vec::new()
}

fn first_difference(a: &[Event], b: &[Event]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))
}

fn describe(event: Option<&Event>) -> String {
    let Some(event) = event else {
        return "nothing".to_owned();
    };
    let Some(kv) = event.kv.as_ref() else {
        return "an event without a key".to_owned();
    };
    format!(
        "{} {}={}@{} (created {}, version {})",
        if event.r#type == 0 { "PUT" } else { "DELETE" },
        String::from_utf8_lossy(&kv.key),
        String::from_utf8_lossy(&kv.value),
        kv.mod_revision,
        kv.create_revision,
        kv.version
    )
}

#[cfg(test)]
mod tests {
    use kubesim_proto::mvccpb::KeyValue;

    use super::*;
    use crate::history::MemberState;

    fn put(key: &str, revision: i64) -> Event {
        Event {
            r#type: 0,
            kv: Some(KeyValue {
                key: key.as_bytes().to_vec(),
                value: b"v".to_vec(),
                create_revision: revision,
                mod_revision: revision,
                version: 1,
                lease: 0,
            }),
            prev_kv: None,
        }
    }

    fn state(events: Vec<Event>, hash: u32) -> MemberState {
        MemberState {
            current_revision: events.len() as i64 + 1,
            compact_revision: 0,
            events,
            hash: Some((hash, 0)),
        }
    }

    fn history(states: Vec<MemberState>) -> History {
        let mut history = History {
            hash_revision: 3,
            ..Default::default()
        };
        for (i, s) in states.into_iter().enumerate() {
            history.members.insert(format!("store-{}", i + 1), s);
        }
        history
    }

    #[test]
    fn equal_members_pass() {
        let events = vec![put("a", 2), put("b", 3)];
        let h = history(vec![state(events.clone(), 9), state(events, 9)]);
        assert_eq!(check(&h), vec![]);
    }

    #[test]
    fn differences_are_caught() {
        let a = vec![put("a", 2), put("b", 3)];
        let b = vec![put("a", 2), put("c", 3)];
        let found = check(&history(vec![state(a.clone(), 9), state(b, 9)]));
        assert!(
            found[0].message.contains("different histories"),
            "{found:?}"
        );
        let found = check(&history(vec![state(a.clone(), 9), state(a.clone(), 8)]));
        assert!(found[0].message.contains("HashKV"), "{found:?}");
        let found = check(&history(vec![
            state(a.clone(), 9),
            state(a[..1].to_vec(), 9),
        ]));
        assert!(found[0].message.contains("revision"), "{found:?}");
        let mut unsettled = history(vec![state(a.clone(), 9), state(a, 9)]);
        unsettled.hash_revision = 0;
        assert!(check(&unsettled)[0].message.contains("never reached"));
    }
}
