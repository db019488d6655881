//! Property 8 of RELIABILITY.md: watch events are ordered, unique, reliable, atomic and
//! resumable, never travel back in time, and carry the right prev_kv and create flags.
//!
//! For each watcher, over all its sessions in order:
//! - **ordered, unique**: revisions never decrease and no (revision, key) comes twice;
//! - **atomic**: the events of one revision come in one response;
//! - **resumable, never back in time**: no event of a session is below its start revision,
//!   no progress notification is below an event already delivered in the session, and a
//!   watch is canceled as compacted only if its start revision is below the compaction;
//! - **reliable**: from its start to the last revision it reported (its last event, or a
//!   progress notification, which means everything up to it was delivered), a session
//!   delivered exactly the reference's events on the prefix, after the compaction;
//! - **prev_kv and create flags**: a PUT of version 1 is a create (create_revision ==
//!   mod_revision) without prev_kv; otherwise the prev_kv (required: the watches ask for it)
//!   is the key's state just before the event.

use std::collections::BTreeSet;

use kubesim_proto::mvccpb::Event;
use kubesim_proto::mvccpb::event::EventType;

use super::reference::{self, KeyAt, Reference, describe_event, event_key, event_revision};
use super::{Property, Violation};
use crate::history::{History, KvRead, WatchResponse, WatchSession, Watcher};

const CHECKER: &str = "watch";

/// At most this many violations are reported; the last one counts the rest.
const MAX_VIOLATIONS: usize = 3;

/// How many events of each side an excerpt shows around a difference.
const CONTEXT_EVENTS: usize = 5;

pub fn check(history: &History) -> Vec<Violation> {
    let Some(reference) = Reference::of(history) else {
        return Vec::new();
    };
    let violations = history
        .watchers
        .iter()
        .flat_map(|watcher| check_watcher(&reference, watcher))
        .collect();
    reference::at_most(violations, MAX_VIOLATIONS)
}

/// The first violation of each kind in one watcher: one broken event usually breaks several
/// properties at once, and the first of each is what explains it.
fn check_watcher(reference: &Reference, watcher: &Watcher) -> Vec<Violation> {
    let mut found: Vec<Violation> = check_order(watcher).into_iter().collect();
    for (index, session) in watcher.sessions.iter().enumerate() {
        found.extend(check_start(reference, watcher, index, session));
        found.extend(check_reliable(reference, watcher, index, session));
    }
    found.extend(check_prev_kv(reference, watcher));
    found
}

/// One delivered event and where it came from.
#[derive(Debug, Clone, Copy)]
struct Delivered<'a> {
    session: usize,
    response: usize,
    event: &'a Event,
}

impl Delivered<'_> {
    fn revision(&self) -> i64 {
        event_revision(self.event)
    }

    fn describe(&self, watcher: &Watcher) -> String {
        let session = session_label(watcher, self.session);
        format!(
            "{session}, response {}: {}",
            self.response + 1,
            describe_event(self.event)
        )
    }
}

/// Every event of every session of `watcher`, in delivery order.
fn delivered(watcher: &Watcher) -> Vec<Delivered<'_>> {
    let mut all = Vec::new();
    for (session_index, session) in watcher.sessions.iter().enumerate() {
        for (response_index, response) in session.responses.iter().enumerate() {
            all.extend(response.events.iter().map(|event| Delivered {
                session: session_index,
                response: response_index,
                event,
            }));
        }
    }
    all
}

/// Ordered, unique and atomic, across the watcher's sessions: the first event that breaks
/// one of them.
fn check_order(watcher: &Watcher) -> Option<Violation> {
    let events = delivered(watcher);
    // The keys delivered at the newest revision so far.
    let mut keys: BTreeSet<&[u8]> = BTreeSet::new();
    for pair in events.windows(2) {
        let (before, this) = (&pair[0], &pair[1]);
        if this.revision() != before.revision() {
            keys.clear();
        }
        keys.insert(event_key(before.event));
        let problem = if this.revision() < before.revision() {
            "went back in revision (not ordered)"
        } else if this.revision() == before.revision() && keys.contains(event_key(this.event)) {
            "repeated an event (not unique)"
        } else if this.revision() == before.revision()
            && (this.session, this.response) != (before.session, before.response)
        {
            "split one revision across two responses (not atomic)"
        } else {
            continue;
        };
        return Some(violation(
            format!(
                "{} {problem} at revision {}",
                watcher_label(watcher),
                this.revision()
            ),
            vec![before.describe(watcher), this.describe(watcher)],
        ));
    }
    None
}

/// A session never goes back before its start, and is canceled as compacted only if its
/// start is compacted.
fn check_start(
    reference: &Reference,
    watcher: &Watcher,
    index: usize,
    session: &WatchSession,
) -> Option<Violation> {
    let mut last_event = 0;
    for response in &session.responses {
        if let Some((problem, excerpt)) = start_problem(reference, session, response, last_event) {
            let (watcher, session) = (watcher_label(watcher), session_label(watcher, index));
            return Some(violation(
                format!("{watcher}, {session} {problem}"),
                excerpt,
            ));
        }
        last_event = response
            .events
            .iter()
            .map(event_revision)
            .fold(last_event, i64::max);
    }
    None
}

/// What in `response` goes back in time, after events up to `last_event` in its session.
fn start_problem(
    reference: &Reference,
    session: &WatchSession,
    response: &WatchResponse,
    last_event: i64,
) -> Option<(String, Vec<String>)> {
    let start = session.start_revision;
    if let Some(event) = (start > 0)
        .then(|| {
            response
                .events
                .iter()
                .find(|event| event_revision(event) < start)
        })
        .flatten()
    {
        let problem = "delivered an event before its start (back in time)".to_owned();
        return Some((problem, vec![describe_event(event)]));
    }
    if response.progress && response.header_revision < last_event {
        let problem = format!(
            "sent a progress notification at {} after an event at {last_event} (back in time)",
            response.header_revision
        );
        return Some((problem, Vec::new()));
    }
    let compacted = response.compact_revision;
    let wrongly_compacted = response.canceled
        && compacted > 0
        && (start >= compacted || compacted > reference.compact_revision);
    wrongly_compacted.then(|| {
        let problem = format!(
            "was canceled as compacted at {compacted}, but its start is not below a compaction \
             (the reference is compacted at {})",
            reference.compact_revision
        );
        (problem, Vec::new())
    })
}

/// The session delivered exactly the reference's events on the prefix, from its start (or
/// the first revision after the compaction) to the last revision it reported.
fn check_reliable(
    reference: &Reference,
    watcher: &Watcher,
    index: usize,
    session: &WatchSession,
) -> Option<Violation> {
    let got: Vec<&Event> = session
        .responses
        .iter()
        .flat_map(|response| response.events.iter())
        .collect();
    // Start revision 0 means "from now": the first event is where it began.
    let start = if session.start_revision > 0 {
        session.start_revision
    } else {
        got.first().map(|event| event_revision(event))?
    };
    let from = start.max(reference.compact_revision + 1);
    let progress = session
        .responses
        .iter()
        .filter(|response| response.progress)
        .map(|response| response.header_revision);
    let to = got
        .iter()
        .map(|event| event_revision(event))
        .chain(progress)
        .max()?;
    if to < from {
        return None;
    }
    let expected = reference.events_in(&watcher.prefix, from, to);
    let got: Vec<&Event> = got
        .into_iter()
        .filter(|event| (from..=to).contains(&event_revision(event)))
        .collect();
    let first_difference = (0..expected.len().max(got.len()))
        .find(|&i| !same_event(expected.get(i).copied(), got.get(i).copied()))?;
    Some(difference(
        watcher,
        index,
        &expected,
        &got,
        first_difference,
        (from, to),
    ))
}

/// Two events are the same change: type and kv (the reference has no prev_kv).
fn same_event(a: Option<&Event>, b: Option<&Event>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.r#type == b.r#type && a.kv == b.kv,
        (None, None) => true,
        _ => false,
    }
}

fn difference(
    watcher: &Watcher,
    index: usize,
    expected: &[&Event],
    got: &[&Event],
    at: usize,
    (from, to): (i64, i64),
) -> Violation {
    let missing = expected.get(at).copied();
    let extra = got.get(at).copied();
    let later_in = |events: &[&Event], event: Option<&Event>| {
        events
            .iter()
            .skip(at)
            .any(|other| same_event(Some(other), event))
    };
    let what = if missing.is_some() && (extra.is_none() || later_in(expected, extra)) {
        "missed an event (a gap)"
    } else if extra.is_some() && (missing.is_none() || later_in(got, missing)) {
        "delivered an event the history does not have"
    } else {
        "delivered a different event than the history has"
    };
    let revision = missing.or(extra).map_or(0, event_revision);
    let mut excerpt = vec![format!(
        "history on {}* from {from} to {to}:",
        watcher.prefix
    )];
    excerpt.extend(context(expected, at));
    excerpt.push("delivered:".to_owned());
    excerpt.extend(context(got, at));
    violation(
        format!(
            "{}, {} {what} at revision {revision}",
            watcher_label(watcher),
            session_label(watcher, index)
        ),
        excerpt,
    )
}

/// The events around position `at`: one before, and a few from it on.
fn context(events: &[&Event], at: usize) -> Vec<String> {
    let from = at.saturating_sub(1);
    let lines: Vec<String> = events
        .iter()
        .skip(from)
        .take(CONTEXT_EVENTS)
        .map(|event| format!("  {}", describe_event(event)))
        .collect();
    if lines.is_empty() {
        vec!["  (nothing)".to_owned()]
    } else {
        lines
    }
}

/// Create flags and prev_kv of every delivered event: the first wrong one.
fn check_prev_kv(reference: &Reference, watcher: &Watcher) -> Option<Violation> {
    delivered(watcher).into_iter().find_map(|delivered| {
        let problem = prev_kv_problem(reference, delivered.event)?;
        Some(violation(
            format!(
                "{} delivered a wrong {problem} at revision {}",
                watcher_label(watcher),
                delivered.revision()
            ),
            vec![delivered.describe(watcher)],
        ))
    })
}

/// What is wrong with the event's create flag or prev_kv, if anything.
fn prev_kv_problem(reference: &Reference, event: &Event) -> Option<String> {
    let kv = event.kv.as_ref()?;
    let is_create = event.r#type() == EventType::Put && kv.version == 1;
    if event.r#type() == EventType::Put && is_create != (kv.create_revision == kv.mod_revision) {
        return Some("create flag (version and create_revision disagree)".to_owned());
    }
    let prev = event.prev_kv.as_ref().map(KvRead::from);
    if is_create {
        return prev.map(|prev| format!("prev_kv {prev} on a create"));
    }
    let key = String::from_utf8_lossy(&kv.key);
    // The workload's watches all ask for prev_kv: an update or delete of a key that existed
    // must carry it.
    let Some(prev) = prev else {
        return matches!(
            reference.state_at(&key, kv.mod_revision - 1),
            KeyAt::Live(_)
        )
        .then(|| "no prev_kv on a change of an existing key (the watch asked for it)".to_owned());
    };
    let wrong = match reference.state_at(&key, kv.mod_revision - 1) {
        KeyAt::Live(before) => *before != prev,
        KeyAt::Absent => true,
        KeyAt::Unknown => false,
    };
    wrong.then(|| {
        let before = reference.state_at(&key, kv.mod_revision - 1);
        format!("prev_kv {prev} (the history has {before})")
    })
}

fn watcher_label(watcher: &Watcher) -> String {
    format!("watcher {} on {}*", watcher.client, watcher.prefix)
}

fn session_label(watcher: &Watcher, index: usize) -> String {
    match watcher.sessions.get(index) {
        Some(session) => format!(
            "session {} (via {} from {})",
            index + 1,
            session.member,
            session.start_revision
        ),
        None => format!("session {}", index + 1),
    }
}

fn violation(message: String, excerpt: Vec<String>) -> Violation {
    Violation {
        property: Property::Watch,
        checker: CHECKER,
        message,
        excerpt,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::check::reference::testkit::{Store, key_value, kv};

    /// /a put at 2 and 3, /b at 4, /a deleted and /c created at 5 (one txn), x at 6,
    /// /a created again at 7.
    fn store() -> Store {
        let mut store = Store::new();
        store.put("/a", "1");
        store.put("/a", "2");
        store.put("/b", "1");
        store.txn(&[("/a", None), ("/c", Some("1"))]);
        store.put("x", "1");
        store.put("/a", "3");
        store
    }

    /// The store's events on `/` at `revisions`, with prev_kv as a watch with prev_kv has.
    fn events(store: &Store, revisions: &[i64]) -> Vec<Event> {
        store
            .events
            .iter()
            .filter(|event| revisions.contains(&event_revision(event)))
            .filter(|event| event_key(event).starts_with(b"/"))
            .map(|event| {
                let mut event = event.clone();
                let kv = event.kv.as_ref().unwrap();
                let key = String::from_utf8_lossy(&kv.key).into_owned();
                event.prev_kv = store
                    .kv_at(&key, kv.mod_revision - 1)
                    .map(|kv| key_value(&kv));
                event
            })
            .collect()
    }

    fn response(events: Vec<Event>) -> WatchResponse {
        WatchResponse {
            at: Duration::ZERO,
            header_revision: events.last().map_or(0, event_revision),
            events,
            progress: false,
            compact_revision: 0,
            canceled: false,
        }
    }

    fn progress(revision: i64) -> WatchResponse {
        WatchResponse {
            header_revision: revision,
            progress: true,
            ..response(Vec::new())
        }
    }

    fn session(start_revision: i64, responses: Vec<WatchResponse>) -> WatchSession {
        WatchSession {
            member: "store-2".to_owned(),
            start_revision,
            opened: Duration::ZERO,
            responses,
            ended: "disconnected".to_owned(),
        }
    }

    fn history(store: &Store, sessions: Vec<WatchSession>) -> History {
        let mut history = store.history();
        history.watchers.push(Watcher {
            client: "watcher-1".to_owned(),
            prefix: "/".to_owned(),
            sessions,
        });
        history
    }

    /// Two sessions: 2..4 then, resumed at 5, 5..7.
    fn good_sessions(store: &Store) -> Vec<WatchSession> {
        vec![
            session(
                2,
                vec![
                    response(events(store, &[2])),
                    response(events(store, &[3, 4])),
                ],
            ),
            session(
                5,
                vec![
                    response(events(store, &[5])),
                    progress(6),
                    response(events(store, &[7])),
                ],
            ),
        ]
    }

    fn messages(history: &History) -> Vec<String> {
        check(history).into_iter().map(|v| v.message).collect()
    }

    #[test]
    fn a_watch_that_delivers_the_history_passes() {
        let store = store();
        assert_eq!(check(&history(&store, good_sessions(&store))), Vec::new());
    }

    #[test]
    fn a_gap_is_caught() {
        let store = store();
        let mut sessions = good_sessions(&store);
        sessions[0].responses[1] = response(events(&store, &[4]));
        let found = messages(&history(&store, sessions));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("missed an event (a gap) at revision 3"),
            "{found:?}"
        );
    }

    #[test]
    fn a_gap_before_a_progress_notification_is_caught() {
        let store = store();
        let sessions = vec![session(
            2,
            vec![response(events(&store, &[2])), progress(4)],
        )];
        let found = messages(&history(&store, sessions));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("a gap) at revision 3"), "{found:?}");
    }

    #[test]
    fn a_duplicate_is_caught() {
        let store = store();
        let mut sessions = good_sessions(&store);
        sessions[0].responses.push(response(events(&store, &[4])));
        let found = messages(&history(&store, sessions));
        assert!(found.iter().any(|m| m.contains("not unique")), "{found:?}");
        assert!(
            found.iter().any(|m| m.contains("does not have")),
            "{found:?}"
        );
    }

    #[test]
    fn a_revision_split_across_responses_is_caught() {
        let store = store();
        let mut sessions = good_sessions(&store);
        let mut revision_5 = events(&store, &[5]);
        let second = revision_5.split_off(1);
        sessions[1].responses[0] = response(revision_5);
        sessions[1].responses.insert(1, response(second));
        let found = messages(&history(&store, sessions));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("not atomic) at revision 5"), "{found:?}");
    }

    #[test]
    fn a_resumed_session_that_goes_back_is_caught() {
        let store = store();
        let mut sessions = good_sessions(&store);
        // The new session starts at 5 but replays 4 first.
        sessions[1]
            .responses
            .insert(0, response(events(&store, &[4])));
        let found = messages(&history(&store, sessions));
        assert!(
            found.iter().any(|m| m.contains("before its start")),
            "{found:?}"
        );
        assert!(found.iter().any(|m| m.contains("not unique")), "{found:?}");
    }

    #[test]
    fn a_progress_notification_behind_a_delivered_event_is_caught() {
        let store = store();
        let mut sessions = good_sessions(&store);
        sessions[1].responses[1] = progress(4);
        let found = messages(&history(&store, sessions));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("progress notification at 4 after an event at 5"),
            "{found:?}"
        );
    }

    #[test]
    fn events_out_of_order_are_caught() {
        let store = store();
        let sessions = vec![session(
            2,
            vec![
                response(events(&store, &[3])),
                response(events(&store, &[2])),
            ],
        )];
        let found = messages(&history(&store, sessions));
        assert!(found.iter().any(|m| m.contains("not ordered")), "{found:?}");
    }

    #[test]
    fn a_missing_prev_kv_is_caught() {
        let store = store();
        let mut sessions = good_sessions(&store);
        // /a's PUT at 3 updates a live key: its prev_kv must be there.
        sessions[0].responses[1].events[0].prev_kv = None;
        let found = messages(&history(&store, sessions));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("no prev_kv"), "{found:?}");
    }

    #[test]
    fn a_wrong_prev_kv_is_caught() {
        let store = store();
        let mut sessions = good_sessions(&store);
        // /a's PUT at 3 with prev_kv from before its first put.
        sessions[0].responses[1].events[0].prev_kv = Some(key_value(&kv("/a", "0", 1, 1, 1)));
        let found = messages(&history(&store, sessions));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("wrong prev_kv /a=0@1"), "{found:?}");
    }

    #[test]
    fn a_prev_kv_on_a_create_is_caught() {
        let store = store();
        let mut sessions = good_sessions(&store);
        // /a created again at 7: it had no value before.
        sessions[1].responses[2].events[0].prev_kv = Some(key_value(&kv("/a", "2", 3, 2, 2)));
        let found = messages(&history(&store, sessions));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("on a create"), "{found:?}");
    }

    #[test]
    fn a_wrong_create_flag_is_caught() {
        let mut event = events(&store(), &[3]).remove(0);
        if let Some(kv) = &mut event.kv {
            kv.create_revision = kv.mod_revision;
        }
        let reference = Reference::new(&store().member());
        let problem = prev_kv_problem(&reference, &event);
        assert!(problem.is_some_and(|p| p.contains("create flag")));
    }

    #[test]
    fn compacted_starts_are_checked_after_the_compaction_only() {
        let mut store = store();
        store.compact(4);
        // Started at 2, canceled as compacted: right.
        let mut canceled = response(Vec::new());
        canceled.canceled = true;
        canceled.compact_revision = 4;
        // Started at 3 on a member not yet compacted: 3 and 4 are not checked any more.
        let sessions = vec![
            session(2, vec![canceled.clone()]),
            session(3, vec![response(events(&store, &[5])), progress(7)]),
        ];
        let found = messages(&history(&store, sessions.clone()));
        assert_eq!(found.len(), 1, "{found:?}");
        // ... but 7 was missed.
        assert!(found[0].contains("a gap) at revision 7"), "{found:?}");
        // Canceled as compacted though it started at the compaction.
        let wrong = vec![session(4, vec![canceled])];
        let found = messages(&history(&store, wrong));
        assert!(found[0].contains("canceled as compacted"), "{found:?}");
    }
}
