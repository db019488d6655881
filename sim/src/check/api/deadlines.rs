//! Property 11 of RELIABILITY.md: a request never waits past its deadline; a webhook call
//! ends at its timeoutSeconds (or the request's remaining time, whichever is first).
//!
//! - Every answered call (watches aside: they are long-running) ended within the API
//!   server's request timeout, plus slack for the network and the TLS handshake.
//! - Every admission webhook call the API server reported for it (each request asks for
//!   `Server-Timing`) ended within the longest webhook timeoutSeconds, plus slack. Judging
//!   the call and not the whole request matters: a request may also wait for the store, or
//!   run admission twice (an update retried after a conflict), and still be on time.
//! - Every call refused because the authz call failed ended within the API server's authz
//!   timeout, plus slack: authorization comes before admission and the store, so nothing
//!   else waits in such a request, and a slow or unreachable authz service may cost each
//!   request its timeout, never more.
//!
//! - Every call the client gave up on without an answer after waiting past the request
//!   timeout plus slack (the client's own timeout is longer) is a request that outlived its
//!   deadline, unless a fault explains the silence: the API server restarted, or was cut
//!   off from that client, while the call was open (the nemesis's `inject`/`heal` records
//!   of [`APISERVER_RESTART`] and [`client_partition`]). A call that failed sooner (refused,
//!   reset) did not outlive anything.

use std::time::Duration;

use super::MAX_REPORTED;
use crate::check::{Property, Violation};
use crate::history::Time;
use crate::pipeline::history::{
    APISERVER_RESTART, ApiCall, ApiHistory, ApiOutcome, client_partition,
};

const CHECKER: &str = "api/deadlines";

pub fn check(history: &ApiHistory) -> Vec<Violation> {
    let bounds = history.bounds;
    let mut violations = unanswered(history);
    for call in &history.calls {
        let (Some(_), Some(end)) = (call.code(), call.end) else {
            continue;
        };
        let took = end.saturating_sub(call.start);
        let request_bound = bounds.request_timeout + bounds.slack;
        if took > request_bound {
            violations.push(violation(
                format!(
                    "answered after {}, past the request timeout {:?} + {:?}",
                    seconds(took),
                    bounds.request_timeout,
                    bounds.slack
                ),
                call.to_string(),
            ));
            continue;
        }
        let authz_bound = bounds.authz_timeout + bounds.slack;
        if call.authz_failed() && took > authz_bound {
            violations.push(violation(
                format!(
                    "refused for a failed authz call after {}, past the authz timeout {:?} + {:?}",
                    seconds(took),
                    bounds.authz_timeout,
                    bounds.slack
                ),
                call.to_string(),
            ));
        }
        let webhook_bound = bounds.webhook_timeout + bounds.slack;
        for (webhook, call_took) in call.webhook_calls() {
            if *call_took > webhook_bound {
                violations.push(violation(
                    format!(
                        "webhook {webhook} was waited for {}, past its timeoutSeconds (at most {:?}) + {:?}",
                        seconds(*call_took),
                        bounds.webhook_timeout,
                        bounds.slack
                    ),
                    call.to_string(),
                ));
            }
        }
    }
    violations.truncate(MAX_REPORTED);
    violations
}

/// Calls left without an answer past the request timeout that no fault explains.
fn unanswered(history: &ApiHistory) -> Vec<Violation> {
    let bounds = history.bounds;
    let request_bound = bounds.request_timeout + bounds.slack;
    let mut violations = Vec::new();
    for call in &history.calls {
        let (ApiOutcome::NoAnswer(why), Some(end)) = (&call.outcome, call.end) else {
            continue;
        };
        let waited = end.saturating_sub(call.start);
        if waited <= request_bound || explained(history, call, end) {
            continue;
        }
        violations.push(violation(
            format!(
                "no answer after {} ({why}), past the request timeout {:?} + {:?}, and no restart of the API server or partition from {} explains it",
                seconds(waited),
                bounds.request_timeout,
                bounds.slack,
                call.client
            ),
            call.to_string(),
        ));
    }
    violations
}

/// Whether the API server restarted, or was cut off from the call's client, while the call
/// was open (from `call.start` to `end`).
fn explained(history: &ApiHistory, call: &ApiCall, end: Time) -> bool {
    let names = [APISERVER_RESTART.to_owned(), client_partition(&call.client)];
    names.iter().any(|name| {
        outages(history, name)
            .iter()
            .any(|(from, to)| *from <= end && call.start <= *to)
    })
}

/// When the fault `name` held: from each `inject` to the `heal` after it (to the end of the
/// run if it was never healed).
fn outages(history: &ApiHistory, name: &str) -> Vec<(Time, Time)> {
    let mut spans = Vec::new();
    let mut open: Option<Time> = None;
    for record in &history.faults {
        if record.injected() == Some(name) {
            open = open.or(Some(record.at));
        } else if record.healed() == Some(name)
            && let Some(from) = open.take()
        {
            spans.push((from, record.at));
        }
    }
    if let Some(from) = open {
        spans.push((from, Time::MAX));
    }
    spans
}

fn seconds(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

fn violation(message: String, line: String) -> Violation {
    Violation {
        property: Property::Deadlines,
        checker: CHECKER,
        message,
        excerpt: vec![line],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::api::test_support::*;

    /// Records, on the last call, a webhook call of `ms` as its `Server-Timing` reported it.
    fn webhook_call(h: &mut ApiHistory, name: &str, ms: u64) {
        if let Some(ApiOutcome::Answered { webhook_calls, .. }) =
            h.calls.last_mut().map(|c| &mut c.outcome)
        {
            webhook_calls.push((name.to_owned(), Duration::from_millis(ms)));
        }
    }

    #[test]
    fn calls_within_their_bounds_pass() {
        let mut h = history();
        call(&mut h, "a", create("p"), (0, 9_900), 504, vec![], "timeout");
        // Seed 30's shape: the request took 5.7 s (the store, then admission twice), each
        // webhook call within its timeout plus slack.
        call(
            &mut h,
            "a",
            create("q"),
            (0, 5_700),
            500,
            vec![],
            "failed calling webhook",
        );
        webhook_call(&mut h, "label-injector.sim.kubesim.io", 1_000);
        webhook_call(&mut h, "no-privileged.sim.kubesim.io", 3_900);
        assert_eq!(check(&h), vec![]);
    }

    #[test]
    fn calls_past_their_bounds_are_caught() {
        let mut h = history();
        call(
            &mut h,
            "a",
            create("p"),
            (0, 10_100),
            504,
            vec![],
            "timeout",
        );
        // A webhook waited for past its timeout, even though the request was answered in time.
        call(&mut h, "a", create("q"), (0, 6_000), 201, vec![], "");
        webhook_call(&mut h, "no-privileged.sim.kubesim.io", 4_100);
        let found = check(&h);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].message.contains("past the request timeout"));
        assert!(found[1].message.contains("no-privileged.sim.kubesim.io"));
        assert!(found[1].message.contains("timeoutSeconds"));
    }

    #[test]
    fn an_authz_failure_past_the_authz_timeout_is_caught() {
        let mut h = history();
        let message = "Internal Server Error: \"/api/v1/namespaces/team-a/pods\": \
                       failed calling authorization webhook \"Webhook\": the call timed out";
        call(&mut h, "a", create("p"), (0, 3_900), 500, vec![], message);
        assert_eq!(check(&h), vec![]);
        call(&mut h, "a", create("q"), (0, 4_100), 500, vec![], message);
        let found = check(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("past the authz timeout"));
    }

    /// Appends a call by `client` from `start` to `end` ms that got no answer.
    fn unanswered_call(h: &mut ApiHistory, client: &str, (start, end): (u64, u64), why: &str) {
        let id = h.calls.len();
        h.calls.push(ApiCall {
            id,
            client: client.to_owned(),
            user: client.to_owned(),
            op: create("p"),
            start: ms(start),
            end: Some(ms(end)),
            outcome: ApiOutcome::NoAnswer(why.to_owned()),
        });
    }

    #[test]
    fn an_unanswered_call_past_the_deadline_is_caught() {
        let mut h = history();
        unanswered_call(&mut h, "alice", (1_000, 16_000), "no answer within 15s");
        // A partition of another client, and a restart after the call, explain nothing.
        fault(&mut h, 2_000, "inject PartitionClient(mallory)");
        fault(&mut h, 5_000, "heal PartitionClient(mallory)");
        fault(&mut h, 16_500, "inject BounceApiServer");
        fault(&mut h, 18_000, "heal BounceApiServer");
        let found = check(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("no answer after 15.000s"));
    }

    #[test]
    fn an_unanswered_call_a_fault_explains_passes() {
        let mut h = history();
        // Refused at once: it outlived nothing.
        unanswered_call(&mut h, "alice", (0, 100), "connecting: refused");
        // Open when the API server restarted.
        unanswered_call(&mut h, "alice", (1_000, 16_000), "no answer within 15s");
        fault(&mut h, 3_000, "inject BounceApiServer");
        fault(&mut h, 5_000, "heal BounceApiServer");
        // Its client cut off from the API server while it was open.
        unanswered_call(&mut h, "mallory", (20_000, 35_000), "no answer within 15s");
        fault(&mut h, 19_000, "inject PartitionClient(mallory)");
        fault(&mut h, 21_000, "heal PartitionClient(mallory)");
        assert_eq!(check(&h), vec![]);
    }

    #[test]
    fn server_timing_names_the_webhooks_only() {
        let calls = crate::pipeline::http::webhook_calls(
            "authentication;dur=0.052, admission.PodSecurity;dur=0.010, \
             admission.no-privileged.sim.kubesim.io;dur=2000.5, handler;dur=3.2, \
             admission.bad.example;dur=NaN, admission.x.y;dur=-1",
        );
        assert_eq!(
            calls,
            vec![(
                "no-privileged.sim.kubesim.io".to_owned(),
                Duration::from_secs_f64(2.0005)
            )]
        );
    }
}
