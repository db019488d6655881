//! Property 11 of RELIABILITY.md: a request never waits past its deadline; a webhook call
//! ends at its timeoutSeconds (or the request's remaining time, whichever is first).
//!
//! - Every answered call (watches aside: they are long-running) ended within the API
//!   server's request timeout, plus slack for the network and the TLS handshake.
//! - A write refused because a webhook call failed ended within the webhooks'
//!   timeoutSeconds (all of them: the mutating one runs before the validating one), plus
//!   slack.
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
        let (Some(code), Some(end)) = (call.code(), call.end) else {
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
        let webhook_failure = code == 500 && call.message().contains("failed calling webhook");
        let webhook_bound = bounds.webhook_timeouts + bounds.slack;
        if webhook_failure && took > webhook_bound {
            violations.push(violation(
                format!(
                    "a failed webhook call took the request {}, past the webhooks' timeoutSeconds {:?} + {:?}",
                    seconds(took),
                    bounds.webhook_timeouts,
                    bounds.slack
                ),
                call.to_string(),
            ));
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

    #[test]
    fn calls_within_their_bounds_pass() {
        let mut h = history();
        call(&mut h, "a", create("p"), (0, 9_900), 504, vec![], "timeout");
        call(
            &mut h,
            "a",
            create("q"),
            (0, 4_900),
            500,
            vec![],
            "failed calling webhook",
        );
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
        call(
            &mut h,
            "a",
            create("q"),
            (0, 5_100),
            500,
            vec![],
            "failed calling webhook",
        );
        let found = check(&h);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].message.contains("past the request timeout"));
        assert!(found[1].message.contains("timeoutSeconds"));
    }
}
