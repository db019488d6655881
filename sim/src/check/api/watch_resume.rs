//! Property 12 of RELIABILITY.md: a watch client that reconnects with its last
//! resourceVersion sees every later change exactly once, or gets 410 and relists.
//!
//! A watcher's sessions form chains: a chain starts from a list's resourceVersion and goes on
//! through every session resumed from the last event before it, until a 410 (or a refusal)
//! sends the watcher back to a list. Within a chain:
//! - events come in strictly increasing resourceVersion (none twice, none out of order), all
//!   after the resourceVersion the chain started from;
//! - every successful write of a pod in the namespace whose resourceVersion falls between
//!   the chain's start and its last event was delivered, with that write's marker.

use std::collections::BTreeMap;

use super::MAX_REPORTED;
use crate::check::{Property, Violation};
use crate::pipeline::history::{ApiCall, ApiHistory, ApiOp, WatchEvent, WatchSession};

const CHECKER: &str = "api/watch_resume";

pub fn check(history: &ApiHistory) -> Vec<Violation> {
    let writes = writes_by_version(history);
    let mut violations = Vec::new();
    for chain in chains(&history.watches) {
        check_chain(&chain, &writes, &mut violations);
    }
    violations.truncate(MAX_REPORTED);
    violations
}

/// Successful creates, updates and patches by the resourceVersion they returned.
fn writes_by_version(history: &ApiHistory) -> BTreeMap<u64, &ApiCall> {
    history
        .calls
        .iter()
        .filter(|c| c.succeeded())
        .filter(|c| {
            matches!(
                c.op,
                ApiOp::Create { .. } | ApiOp::Update { .. } | ApiOp::Patch { .. }
            )
        })
        .filter_map(|c| Some((c.resource_version()?, c)))
        .collect()
}

/// Each watcher's sessions, split where it relisted.
fn chains(sessions: &[WatchSession]) -> Vec<Vec<&WatchSession>> {
    let mut by_watcher: BTreeMap<&str, Vec<Vec<&WatchSession>>> = BTreeMap::new();
    for session in sessions {
        let chains = by_watcher.entry(&session.watcher).or_default();
        match chains.last_mut() {
            Some(chain) if !session.relisted => chain.push(session),
            _ => chains.push(vec![session]),
        }
    }
    by_watcher.into_values().flatten().collect()
}

fn check_chain(
    chain: &[&WatchSession],
    writes: &BTreeMap<u64, &ApiCall>,
    violations: &mut Vec<Violation>,
) {
    let Some(first) = chain.first() else { return };
    let start = first.from;
    let mut last = start;
    let mut delivered: BTreeMap<u64, &WatchEvent> = BTreeMap::new();
    for session in chain {
        for event in &session.events {
            let rv = event.pod.resource_version;
            if rv <= last {
                violations.push(violation(
                    format!(
                        "{} saw resourceVersion {rv} after {last} (resumed from {})",
                        session.watcher, session.from
                    ),
                    vec![session_line(session), event_line(event)],
                ));
                return;
            }
            last = rv;
            delivered.insert(rv, event);
        }
    }
    if last <= start {
        // Nothing delivered: nothing to have missed (and an empty range would panic).
        return;
    }
    for (rv, write) in writes.range(start + 1..=last) {
        let marker = write.op.marker().unwrap_or_default();
        match delivered.get(rv) {
            Some(event) if event.pod.marker == marker => {}
            Some(event) => {
                violations.push(violation(
                    format!("the event at resourceVersion {rv} is not the write made there"),
                    vec![write.to_string(), event_line(event)],
                ));
                return;
            }
            None => {
                violations.push(violation(
                    format!(
                        "{} watched from {start} to {last} and missed resourceVersion {rv}",
                        first.watcher
                    ),
                    vec![write.to_string(), session_line(first)],
                ));
                return;
            }
        }
    }
}

fn session_line(session: &WatchSession) -> String {
    format!(
        "{} watch from {}{} at {:.3}s, {} events, ended {}",
        session.watcher,
        session.from,
        if session.relisted { " (list)" } else { "" },
        session.opened.as_secs_f64(),
        session.events.len(),
        session.ended
    )
}

fn event_line(event: &WatchEvent) -> String {
    format!(
        "  {:.3}s {} {}",
        event.at.as_secs_f64(),
        event.kind,
        event.pod
    )
}

fn violation(message: String, excerpt: Vec<String>) -> Violation {
    Violation {
        property: Property::WatchResume,
        checker: CHECKER,
        message,
        excerpt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::api::test_support::*;

    fn with_writes() -> ApiHistory {
        let mut h = history();
        call(
            &mut h,
            "a",
            create("p"),
            (0, 10),
            201,
            vec![pod("p", 5, "p")],
            "",
        );
        call(
            &mut h,
            "a",
            update("p", "m", 5, false),
            (20, 30),
            200,
            vec![pod("p", 7, "m")],
            "",
        );
        h
    }

    #[test]
    fn a_resumed_chain_that_sees_everything_passes() {
        let mut h = with_writes();
        h.watches
            .push(session(4, true, vec![pod("p", 5, "p")], "closed"));
        h.watches
            .push(session(5, false, vec![pod("p", 7, "m")], "closed"));
        assert_eq!(check(&h), vec![]);
    }

    #[test]
    fn a_duplicate_after_resume_is_caught() {
        let mut h = with_writes();
        h.watches
            .push(session(4, true, vec![pod("p", 5, "p")], "closed"));
        h.watches.push(session(
            5,
            false,
            vec![pod("p", 5, "p"), pod("p", 7, "m")],
            "closed",
        ));
        assert!(
            check(&h)[0]
                .message
                .contains("saw resourceVersion 5 after 5")
        );
    }

    #[test]
    fn a_gap_is_caught_and_a_410_ends_the_chain() {
        let mut h = with_writes();
        h.watches.push(session(4, true, vec![], "closed"));
        h.watches
            .push(session(4, false, vec![pod("p", 7, "m")], "closed"));
        assert!(check(&h)[0].message.contains("missed resourceVersion 5"));

        let mut h = with_writes();
        h.watches.push(session(4, true, vec![], "410"));
        h.watches
            .push(session(6, true, vec![pod("p", 7, "m")], "closed"));
        assert_eq!(check(&h), vec![]);
    }
}
