//! Property 4 of RELIABILITY.md: compares are atomic with their writes. A compare-and-swap
//! that succeeded at revision R ran its compare on the state at R - 1 (the write is the only
//! change at R), so the reference's state of the key at R - 1 must satisfy it; one that
//! failed at header revision R compared the state at R, which must not satisfy it, and its
//! else branch read exactly that state.

use super::reference::{self, KeyAt, Reference};
use super::{Property, Violation};
use crate::history::{Call, History, KvRead, Op, Outcome};

const CHECKER: &str = "txn";

/// At most this many violations are reported; the last one counts the rest.
const MAX_VIOLATIONS: usize = 3;

/// What a CAS compared.
#[derive(Debug, Clone, Copy)]
enum Compare<'a> {
    /// mod_revision == expected (0: absent).
    ModRevision(i64),
    /// value == expected (`None`: absent).
    Value(Option<&'a str>),
}

impl Compare<'_> {
    /// Whether `state` satisfies the compare; `None` if the reference does not know it.
    fn holds(self, state: KeyAt<'_>) -> Option<bool> {
        match self {
            Compare::ModRevision(expected) => state.mod_revision().map(|m| m == expected),
            Compare::Value(expected) => match state {
                KeyAt::Live(kv) => Some(expected == Some(kv.value.as_str())),
                KeyAt::Absent => Some(expected.is_none()),
                KeyAt::Unknown => None,
            },
        }
    }
}

pub fn check(history: &History) -> Vec<Violation> {
    let Some(reference) = Reference::of(history) else {
        return Vec::new();
    };
    let violations = history
        .calls
        .iter()
        .filter_map(|call| check_call(&reference, call))
        .collect();
    reference::at_most(violations, MAX_VIOLATIONS)
}

fn check_call(reference: &Reference, call: &Call) -> Option<Violation> {
    let (key, compare) = match &call.op {
        Op::CasRevision { key, expected, .. } => (key, Compare::ModRevision(*expected)),
        Op::CasValue { key, expected, .. } => (key, Compare::Value(expected.as_deref())),
        _ => return None,
    };
    let Outcome::Cas {
        revision,
        succeeded,
        kv,
    } = &call.outcome
    else {
        return None;
    };
    if *succeeded {
        check_succeeded(reference, call, key, compare, *revision)
    } else {
        check_failed(reference, call, key, compare, *revision, kv.as_ref())
    }
}

/// The compare held on the state just before the CAS's own write.
fn check_succeeded(
    reference: &Reference,
    call: &Call,
    key: &str,
    compare: Compare<'_>,
    revision: i64,
) -> Option<Violation> {
    let before = reference.state_at(key, revision - 1);
    if compare.holds(before)? {
        return None;
    }
    Some(violation(
        format!(
            "CAS succeeded at revision {revision} but its compare did not hold on {key} at \
             revision {}",
            revision - 1
        ),
        call,
        format!("reference: {key} at {} is {before}", revision - 1),
    ))
}

/// The compare did not hold at the header revision, and the else branch read that state.
fn check_failed(
    reference: &Reference,
    call: &Call,
    key: &str,
    compare: Compare<'_>,
    revision: i64,
    read: Option<&KvRead>,
) -> Option<Violation> {
    let state = reference.state_at(key, revision);
    let evidence = format!("reference: {key} at {revision} is {state}");
    if compare.holds(state) == Some(true) {
        return Some(violation(
            format!("CAS failed at revision {revision} though its compare held on {key}"),
            call,
            evidence,
        ));
    }
    if !reference.agrees(key, revision, read) {
        return Some(violation(
            format!("CAS failed at revision {revision}, and its else branch read another state"),
            call,
            evidence,
        ));
    }
    None
}

fn violation(message: String, call: &Call, evidence: String) -> Violation {
    Violation {
        property: Property::AtomicCompare,
        checker: CHECKER,
        message,
        excerpt: vec![call.to_string(), evidence],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::reference::testkit::{Store, call, kv};

    fn cas_revision(key: &str, expected: i64, new: &str) -> Op {
        Op::CasRevision {
            key: key.to_owned(),
            expected,
            new: new.to_owned(),
        }
    }

    fn cas_value(key: &str, expected: Option<&str>, new: &str) -> Op {
        Op::CasValue {
            key: key.to_owned(),
            expected: expected.map(str::to_owned),
            new: new.to_owned(),
        }
    }

    fn outcome(revision: i64, succeeded: bool, kv: Option<KvRead>) -> Outcome {
        Outcome::Cas {
            revision,
            succeeded,
            kv,
        }
    }

    /// /a created at 2 by a CAS on absent, swapped at 3 on its mod_revision, a CAS on a
    /// stale value that failed at 3, one on a stale revision that failed at 4.
    fn run() -> History {
        let mut store = Store::new();
        store.put("/a", "v1"); // 2
        store.put("/a", "v2"); // 3
        store.put("/b", "v1"); // 4
        let mut history = store.history();
        let created = outcome(2, true, None);
        call(&mut history, cas_value("/a", None, "v1"), created, 0, 1);
        call(
            &mut history,
            cas_revision("/a", 2, "v2"),
            outcome(3, true, None),
            1,
            2,
        );
        let read = Some(kv("/a", "v2", 3, 2, 2));
        let stale_value = outcome(3, false, read.clone());
        call(
            &mut history,
            cas_value("/a", Some("v1"), "x"),
            stale_value,
            2,
            3,
        );
        let stale_revision = outcome(4, false, read);
        call(
            &mut history,
            cas_revision("/a", 2, "x"),
            stale_revision,
            3,
            4,
        );
        let absent = outcome(4, false, None);
        call(&mut history, cas_revision("/c", 7, "x"), absent, 4, 5);
        history
    }

    #[test]
    fn compares_that_agree_with_the_history_pass() {
        assert_eq!(check(&run()), Vec::new());
    }

    #[test]
    fn a_cas_that_succeeded_on_a_stale_revision_is_caught() {
        let mut history = run();
        // /b was put at 4; a CAS expecting /a's mod_revision 2 cannot succeed at 4 (it was 3).
        let op = cas_revision("/a", 2, "v9");
        call(&mut history, op, outcome(4, true, None), 5, 6);
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].message.contains("did not hold"));
        assert!(violations[0].excerpt[1].contains("/a=v2@3"));
    }

    #[test]
    fn a_cas_that_succeeded_on_a_stale_value_is_caught() {
        let mut history = run();
        let op = cas_value("/a", None, "v9");
        call(&mut history, op, outcome(4, true, None), 5, 6);
        assert_eq!(check(&history).len(), 1);
    }

    #[test]
    fn a_cas_that_failed_though_its_compare_held_is_caught() {
        let mut history = run();
        let read = Some(kv("/a", "v2", 3, 2, 2));
        let op = cas_revision("/a", 3, "v9");
        call(&mut history, op, outcome(4, false, read.clone()), 5, 6);
        let op = cas_value("/a", Some("v2"), "v9");
        call(&mut history, op, outcome(4, false, read), 5, 6);
        let violations = check(&history);
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert!(violations[0].message.contains("though its compare held"));
    }

    #[test]
    fn an_else_branch_that_read_another_state_is_caught() {
        let mut history = run();
        // At 4, /a is v2@3; the read shows the older v1.
        let read = Some(kv("/a", "v1", 2, 2, 1));
        let op = cas_revision("/a", 1, "v9");
        call(&mut history, op, outcome(4, false, read), 5, 6);
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].message.contains("else branch"));
    }

    #[test]
    fn compacted_revisions_are_not_judged() {
        let mut store = Store::new();
        store.put("/a", "v1"); // 2
        store.put("/b", "v1"); // 3
        store.compact(3);
        let mut history = store.history();
        // Wrong, but the reference no longer knows /a's state at 2 or 3.
        let op = cas_revision("/a", 9, "v2");
        call(&mut history, op, outcome(3, true, None), 0, 1);
        assert_eq!(check(&history), Vec::new());
    }
}
