//! Property 11 of RELIABILITY.md: a request never waits past its deadline; a webhook call
//! ends at its timeoutSeconds (or the request's remaining time, whichever is first).
//!
//! - Every answered call (watches aside: they are long-running) ended within the API
//!   server's request timeout, plus slack for the network and the TLS handshake.
//! - Every admission webhook call the API server reported for it (each request asks for
//!   `Server-Timing`) ended within the longest webhook timeoutSeconds, plus slack. Judging
//!   the call and not the whole request matters: a request may also wait for the store, or
//!   run admission twice (an update retried after a conflict), and still be on time.
//!
//! Calls without an answer are not judged: the API server may have been down or cut off.

use std::time::Duration;

use super::MAX_REPORTED;
use crate::check::{Property, Violation};
use crate::pipeline::history::ApiHistory;

const CHECKER: &str = "api/deadlines";

pub fn check(history: &ApiHistory) -> Vec<Violation> {
    let bounds = history.bounds;
    let mut violations = Vec::new();
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
    use crate::pipeline::history::ApiOutcome;

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
