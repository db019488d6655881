//! The API server's properties (9 to 12 of RELIABILITY.md), each checked in its own file over
//! a pipeline run's [`ApiHistory`] (`crate::pipeline`):
//! - [`resource_versions`]: 9 — resourceVersion only grows, per object and per list; a stale
//!   update gets 409 and changes nothing.
//! - [`admission`]: 10 — nothing is stored that authorization denied (also when the authz
//!   service failed: it fails closed) or that the Fail webhook did not approve; the Ignore
//!   webhook never blocks.
//! - [`deadlines`]: 11 — no request outlives its deadline, answered or not (an unanswered
//!   one only when a restart or partition explains it); a webhook failure ends within the
//!   webhooks' timeoutSeconds, an authz failure within the authz timeout.
//! - [`watch_resume`]: 12 — a watcher resuming from its last resourceVersion sees every later
//!   change exactly once, or gets 410 (which a compaction or restart explains) and relists.
//!
//! `observations` gathers what several of them compare: every pod any answer or watch event
//! showed, with when it was seen.

pub mod admission;
pub mod deadlines;
pub mod resource_versions;
pub mod watch_resume;

use crate::check::Violation;
use crate::pipeline::history::{ApiHistory, PodSeen};

/// How many violations one checker reports at most: the first few tell the story.
const MAX_REPORTED: usize = 5;

/// Every API checker over `history`.
pub fn check_all(history: &ApiHistory) -> Vec<Violation> {
    let checkers: [fn(&ApiHistory) -> Vec<Violation>; 4] = [
        resource_versions::check,
        admission::check,
        deadlines::check,
        watch_resume::check,
    ];
    checkers.iter().flat_map(|check| check(history)).collect()
}

/// A pod as something showed it: an answer or a watch event.
struct Observation<'a> {
    pod: &'a PodSeen,
    /// Where: a call's or a watch's line, for the excerpt.
    source: String,
}

/// Every pod shown by a successful answer or a watch event, in the order recorded.
fn observations(history: &ApiHistory) -> Vec<Observation<'_>> {
    let answers = history
        .calls
        .iter()
        .filter(|call| call.succeeded())
        .flat_map(|call| {
            call.pods().iter().map(move |pod| Observation {
                pod,
                source: call.to_string(),
            })
        });
    let events = history.watches.iter().flat_map(|session| {
        session.events.iter().map(move |event| Observation {
            pod: &event.pod,
            source: format!(
                "{} watch event {:.3}s {} {}",
                session.watcher,
                event.at.as_secs_f64(),
                event.kind,
                event.pod
            ),
        })
    });
    answers.chain(events).collect()
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Hand-built histories for the checkers' tests.

    use std::time::Duration;

    use crate::pipeline::history::{
        ApiCall, ApiHistory, ApiOp, ApiOutcome, Bounds, FaultRecord, PodSeen, WatchEvent,
        WatchSession,
    };

    pub fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    pub fn pod(name: &str, rv: u64, marker: &str) -> PodSeen {
        PodSeen {
            name: name.to_owned(),
            resource_version: rv,
            marker: marker.to_owned(),
            privileged: false,
        }
    }

    pub fn history() -> ApiHistory {
        ApiHistory {
            bounds: Bounds {
                request_timeout: Duration::from_secs(8),
                slack: Duration::from_secs(2),
                webhook_timeout: Duration::from_secs(2),
                authz_timeout: Duration::from_secs(2),
            },
            ..ApiHistory::default()
        }
    }

    /// Appends a call that ran from `start` to `end` (ms) and got `code` showing `pods`.
    pub fn call(
        history: &mut ApiHistory,
        user: &str,
        op: ApiOp,
        (start, end): (u64, u64),
        code: u16,
        pods: Vec<PodSeen>,
        message: &str,
    ) {
        let resource_version = pods.first().map(|p| p.resource_version);
        let id = history.calls.len();
        history.calls.push(ApiCall {
            id,
            client: user.to_owned(),
            user: user.to_owned(),
            op,
            start: ms(start),
            end: Some(ms(end)),
            outcome: ApiOutcome::Answered {
                code,
                resource_version,
                message: message.to_owned(),
                pods,
                webhook_calls: Vec::new(),
            },
        });
    }

    pub fn create(name: &str) -> ApiOp {
        ApiOp::Create {
            namespace: "team-a".into(),
            name: name.into(),
            marker: name.into(),
            privileged: false,
        }
    }

    pub fn update(name: &str, marker: &str, rv: u64, stale: bool) -> ApiOp {
        ApiOp::Update {
            namespace: "team-a".into(),
            name: name.into(),
            marker: marker.into(),
            resource_version: rv,
            stale,
        }
    }

    pub fn get(name: &str) -> ApiOp {
        ApiOp::Get {
            namespace: "team-a".into(),
            name: name.into(),
        }
    }

    pub fn session(from: u64, relisted: bool, events: Vec<PodSeen>, ended: &str) -> WatchSession {
        WatchSession {
            watcher: "watcher-1".into(),
            namespace: "team-a".into(),
            from,
            relisted,
            opened: ms(0),
            events: events
                .into_iter()
                .map(|pod| WatchEvent {
                    at: ms(1),
                    kind: "MODIFIED".into(),
                    pod,
                })
                .collect(),
            ended: ended.into(),
            ended_at: ms(2),
        }
    }

    /// Appends the nemesis's record `what` at `at` ms.
    pub fn fault(history: &mut ApiHistory, at: u64, what: &str) {
        history.faults.push(FaultRecord {
            at: ms(at),
            what: what.to_owned(),
        });
    }
}
