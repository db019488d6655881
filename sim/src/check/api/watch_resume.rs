//! Property 12 of RELIABILITY.md: a watch client that reconnects with its last
//! resourceVersion sees every later change exactly once, or gets 410 and relists.
//!
//! A watcher's sessions form chains: a chain starts from a list's resourceVersion and goes on
//! through every session resumed from the last event before it, until a 410 (or a refusal)
//! sends the watcher back to a list. Within a chain:
//! - events come in strictly increasing resourceVersion (none twice, none out of order), all
//!   after the resourceVersion the chain started from;
//! - every successful write of a pod in the namespace whose resourceVersion falls between
//!   the chain's start and its last event was delivered, with that write's marker. A watch
//!   resumed from a compacted revision that is not answered 410 must therefore deliver
//!   everything: the watch cache may still hold that history, but may not skip it.
//!
//! And the 410 itself is the one allowed way out, so it is judged too:
//! - a 410 has a cause: the store was compacted past the position the watcher held (at a
//!   revision above it, before the 410), or compacted or the API server restarted shortly
//!   before the chain began or since (the watch cache relists after either, at the store's
//!   revision then, which may be past a list the watcher got in between from the store
//!   itself: seed 23); a 410 with none is a watch cache that forgot history it should hold;
//! - after a 410 the watcher relists (its next session starts from a list), never resumes.

use std::collections::BTreeMap;
use std::time::Duration;

use super::MAX_REPORTED;
use crate::check::{Property, Violation};
use crate::pipeline::history::{
    APISERVER_RESTART, ApiCall, ApiHistory, ApiOp, FaultRecord, WatchEvent, WatchSession,
};

const CHECKER: &str = "api/watch_resume";

/// How long before a chain's first session a compaction or a restart of the API server
/// still counts as a cause of a 410 in it: the watch cache notices a compaction when its
/// etcd watch resumes (its retry pauses reach 5 s) and relists then, or lists afresh after
/// a restart, while the watcher's own list may already have been answered (by the store,
/// or by the old server just before it died).
const CAUSE_WINDOW: Duration = Duration::from_secs(10);

pub fn check(history: &ApiHistory) -> Vec<Violation> {
    let writes = writes_by_version(history);
    let mut violations = Vec::new();
    relists_after_410(&history.watches, &mut violations);
    for chain in chains(&history.watches) {
        check_chain(&chain, &writes, &mut violations);
        gone_has_a_cause(history, &chain, &mut violations);
    }
    violations.truncate(MAX_REPORTED);
    violations
}

/// After a 410 the watcher's next session starts from a list.
fn relists_after_410(sessions: &[WatchSession], violations: &mut Vec<Violation>) {
    for (index, session) in sessions.iter().enumerate() {
        if !session.gone() {
            continue;
        }
        let next = sessions[index + 1..]
            .iter()
            .find(|s| s.watcher == session.watcher);
        if let Some(next) = next.filter(|n| !n.relisted) {
            violations.push(violation(
                format!(
                    "{} got 410 and resumed from {} without a relist",
                    session.watcher, next.from
                ),
                vec![session_line(session), session_line(next)],
            ));
        }
    }
}

/// Each 410 in `chain` follows a compaction past the watcher's position, or a restart of
/// the API server since the chain began.
fn gone_has_a_cause(
    history: &ApiHistory,
    chain: &[&WatchSession],
    violations: &mut Vec<Violation>,
) {
    let Some(first) = chain.first() else { return };
    let began = first.opened.saturating_sub(CAUSE_WINDOW);
    for session in chain.iter().filter(|s| s.gone()) {
        // Where the watcher stood when told 410: its last event, or where it resumed from.
        let position = session
            .events
            .last()
            .map_or(session.from, |e| e.pod.resource_version);
        let before = |f: &&FaultRecord| f.at <= session.ended_at;
        let compacted_past = history
            .faults
            .iter()
            .filter(before)
            .any(|f| f.compacted_at().is_some_and(|c| c > position));
        let recent_cause = history.faults.iter().filter(before).any(|f| {
            let cause = f.compacted_at().is_some() || f.injected() == Some(APISERVER_RESTART);
            cause && began <= f.at
        });
        if !compacted_past && !recent_cause {
            violations.push(violation(
                format!(
                    "{} got 410 at resourceVersion {position}, which no compaction passed and no restart of the API server explains",
                    session.watcher
                ),
                vec![session_line(session)],
            ));
        }
    }
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
        fault(&mut h, 1, "compact at 6");
        h.watches.push(session(4, true, vec![], "410"));
        h.watches
            .push(session(6, true, vec![pod("p", 7, "m")], "closed"));
        assert_eq!(check(&h), vec![]);
    }

    /// The store was compacted at 6; the watcher resumes from 4 and the server, instead of
    /// 410, streams from after the compaction: the write at 5 is silently missing.
    #[test]
    fn a_resume_from_a_compacted_revision_that_skips_is_caught() {
        let mut h = with_writes();
        fault(&mut h, 1, "compact at 6");
        h.watches.push(session(4, true, vec![], "closed"));
        h.watches
            .push(session(4, false, vec![pod("p", 7, "m")], "closed"));
        let found = check(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("missed resourceVersion 5"));
    }

    #[test]
    fn a_410_needs_a_compaction_past_the_watcher_or_a_restart() {
        let relist = session(6, true, vec![pod("p", 7, "m")], "closed");
        // No cause at all; a compaction at the watcher's own position (it may still
        // resume); a restart only after the 410.
        for faults in [
            vec![],
            vec![(1_000, "compact at 4")],
            vec![
                (1_000, "inject BounceApiServer"),
                (1_500, "heal BounceApiServer"),
            ],
            vec![(25_000, "inject BounceApiServer")],
        ] {
            let mut h = with_writes();
            for (at, what) in faults {
                fault(&mut h, at, what);
            }
            h.watches.push(late(session(4, true, vec![], "410")));
            h.watches.push(relist.clone());
            let found = check(&h);
            assert_eq!(found.len(), 1, "{found:?}");
            assert!(found[0].message.contains("got 410 at resourceVersion 4"));
        }
        // A restart of the API server, or a compaction at any revision, shortly before the
        // chain began (seed 23: a list at 75 answered after a compaction at 75, then the
        // watch cache relisted past it) explains it.
        for what in ["inject BounceApiServer", "compact at 4"] {
            let mut h = with_writes();
            fault(&mut h, 12_000, what);
            h.watches.push(late(session(4, true, vec![], "410")));
            h.watches.push(relist.clone());
            assert_eq!(check(&h), vec![], "{what}");
        }
    }

    /// `session` opened at 20 s and ended at 21 s.
    fn late(mut session: WatchSession) -> WatchSession {
        session.opened = ms(20_000);
        session.ended_at = ms(21_000);
        session
    }

    #[test]
    fn a_resume_after_410_is_caught() {
        let mut h = with_writes();
        fault(&mut h, 1, "compact at 6");
        h.watches.push(session(4, true, vec![], "410"));
        h.watches.push(session(
            4,
            false,
            vec![pod("p", 5, "p"), pod("p", 7, "m")],
            "closed",
        ));
        let found = check(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .message
                .contains("got 410 and resumed from 4 without a relist")
        );
    }
}
