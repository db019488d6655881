//! Property 10 of RELIABILITY.md: no object is stored that authorization denied, or that a
//! webhook with failurePolicy Fail did not approve (unreachable, timed out, or errored); with
//! Ignore, a failing webhook never blocks.
//!
//! In the pipeline's terms:
//! - no answer or watch event ever shows a privileged pod: the Fail webhook (`no-privileged`)
//!   refuses each one, and when it cannot answer, Fail refuses it too;
//! - a call by the user RBAC allows nothing (mallory) is never answered 2xx, whatever it
//!   asks, and the marker of a write of theirs is never seen. The API server asks the authz
//!   service for every request, so this is also where an authz failure taken as Allow (fail
//!   open) shows: a slow, dead or cut-off authz service must refuse, never allow;
//! - a write refused (400, 403, 422, or 500 because a webhook or the authz call failed) is
//!   never seen later: its marker appears nowhere;
//! - no refusal names the Ignore webhook (`label-injector`), but for the request's own
//!   timeout (504).

use super::{MAX_REPORTED, observations};
use crate::check::{Property, Violation};
use crate::pipeline::history::{ApiCall, ApiHistory};
use crate::pipeline::workload::{DENIED, IGNORE_WEBHOOK};

const CHECKER: &str = "api/admission";

pub fn check(history: &ApiHistory) -> Vec<Violation> {
    let mut violations = Vec::new();
    let seen = observations(history);
    if let Some(privileged) = seen.iter().find(|o| o.pod.privileged) {
        violations.push(violation(
            format!(
                "privileged pod {} was stored, which the Fail webhook refuses",
                privileged.pod.name
            ),
            vec![privileged.source.clone()],
        ));
    }
    for call in history.calls.iter() {
        if call.user == DENIED && call.succeeded() {
            violations.push(violation(
                format!(
                    "a call by {DENIED}, whom nothing allows, succeeded{}",
                    authz_outage_note(history, call)
                ),
                vec![call.to_string()],
            ));
            continue;
        }
        let Some(marker) = call.op.marker() else {
            continue;
        };
        let stored = seen.iter().find(|o| o.pod.marker == marker);
        if let Some(o) = stored
            && (call.user == DENIED || refused(call))
        {
            violations.push(violation(
                format!("a refused write was stored (marker {marker})"),
                vec![call.to_string(), o.source.clone()],
            ));
        }
        // A 504 is the request's own deadline, which Ignore does not lift (kube answers the
        // same); anything else naming the Ignore webhook is the webhook blocking.
        let blocked = !call.succeeded() && call.code() != Some(504);
        if blocked && call.message().contains(IGNORE_WEBHOOK) {
            violations.push(violation(
                "a webhook with failurePolicy Ignore blocked a request".to_owned(),
                vec![call.to_string()],
            ));
        }
    }
    violations.truncate(MAX_REPORTED);
    violations
}

/// Refused for certain: by authorization, admission or validation, by a failed webhook
/// call under Fail, or by a failed authz call (before anything was written). A 5xx that is
/// neither, or no answer, may have been stored.
fn refused(call: &ApiCall) -> bool {
    match call.code() {
        Some(400 | 403 | 422) => true,
        Some(500) => call.message().contains("failed calling webhook") || call.authz_failed(),
        _ => false,
    }
}

/// `" while the authz service was <fault>"` when an authz fault held during `call`: the
/// likely cause, for whoever reads the violation.
fn authz_outage_note(history: &ApiHistory, call: &ApiCall) -> String {
    let end = call.end.unwrap_or(call.start);
    let mut open: Option<&str> = None;
    for record in history.faults.iter().take_while(|r| r.at <= end) {
        match (record.injected(), record.healed()) {
            (Some(fault), _) if fault.contains("Authz") => open = Some(fault),
            (_, Some(fault)) if fault.contains("Authz") && record.at < call.start => open = None,
            _ => {}
        }
    }
    open.map(|fault| format!(" while the authz service was faulty ({fault})"))
        .unwrap_or_default()
}

fn violation(message: String, excerpt: Vec<String>) -> Violation {
    Violation {
        property: Property::Admission,
        checker: CHECKER,
        message,
        excerpt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::api::test_support::*;
    use crate::pipeline::history::ApiOp;

    #[test]
    fn refusals_that_stay_refused_pass() {
        let mut h = history();
        call(
            &mut h,
            DENIED,
            create("m-1"),
            (0, 10),
            403,
            vec![],
            "forbidden",
        );
        call(
            &mut h,
            "alice",
            create("a-1"),
            (0, 10),
            500,
            vec![],
            "failed calling webhook \"x\"",
        );
        call(
            &mut h,
            "alice",
            create("a-2"),
            (0, 10),
            201,
            vec![pod("a-2", 4, "a-2")],
            "",
        );
        assert_eq!(check(&h), vec![]);
    }

    #[test]
    fn a_write_refused_by_an_authz_failure_then_seen_is_caught() {
        let mut h = history();
        let message = "Internal Server Error: \"/api/v1/namespaces/team-a/pods\": \
                       failed calling authorization webhook \"Webhook\": refused";
        call(
            &mut h,
            "alice",
            create("a-1"),
            (0, 10),
            500,
            vec![],
            message,
        );
        call(
            &mut h,
            "alice",
            get("a-1"),
            (20, 30),
            200,
            vec![pod("a-1", 4, "a-1")],
            "",
        );
        assert!(check(&h)[0].message.contains("refused write was stored"));
    }

    #[test]
    fn a_denied_read_answered_while_authz_was_down_is_caught() {
        let mut h = history();
        fault(&mut h, 5, "inject DeadAuthz { crashed: false }");
        let list = ApiOp::List {
            namespace: "team-a".into(),
        };
        call(&mut h, DENIED, list, (10, 20), 200, vec![], "");
        fault(&mut h, 30, "heal DeadAuthz { crashed: false }");
        let found = check(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .message
                .contains("succeeded while the authz service")
        );
        // The same answer after the heal is caught too, without the note.
        let mut h = history();
        fault(&mut h, 5, "inject DeadAuthz { crashed: false }");
        fault(&mut h, 8, "heal DeadAuthz { crashed: false }");
        let list = ApiOp::List {
            namespace: "team-a".into(),
        };
        call(&mut h, DENIED, list, (10, 20), 200, vec![], "");
        assert!(check(&h)[0].message.ends_with("succeeded"));
    }

    #[test]
    fn a_privileged_pod_in_a_list_is_caught() {
        let mut h = history();
        let mut p = pod("a-1", 4, "a-1");
        p.privileged = true;
        let list = ApiOp::List {
            namespace: "team-a".into(),
        };
        call(&mut h, "alice", list, (0, 10), 200, vec![p], "");
        assert!(check(&h)[0].message.contains("privileged pod a-1"));
    }

    #[test]
    fn a_write_refused_by_a_webhook_failure_then_seen_is_caught() {
        let mut h = history();
        call(
            &mut h,
            "alice",
            create("a-1"),
            (0, 10),
            500,
            vec![],
            "failed calling webhook \"x\": timeout",
        );
        call(
            &mut h,
            "alice",
            get("a-1"),
            (20, 30),
            200,
            vec![pod("a-1", 4, "a-1")],
            "",
        );
        assert!(check(&h)[0].message.contains("refused write was stored"));
    }

    #[test]
    fn an_ignore_webhook_blocking_is_caught() {
        let mut h = history();
        let message = format!("failed calling webhook \"{IGNORE_WEBHOOK}\": timeout");
        call(
            &mut h,
            "alice",
            create("a-1"),
            (0, 10),
            500,
            vec![],
            &message,
        );
        assert!(check(&h)[0].message.contains("Ignore blocked"));
    }
}
