//! Property 9 of RELIABILITY.md: resourceVersion on every object and list only grows; an
//! update with a stale resourceVersion gets 409 and changes nothing.
//!
//! - Per pod: when one answer showing it ended before another began, the later one shows a
//!   resourceVersion at least as new, and strictly newer when it is a write of that pod.
//! - Per list: the same between consistent lists that do not overlap.
//! - Two successful writes never return the same resourceVersion.
//! - An update with a resourceVersion older than a completed call had shown is never
//!   answered 2xx, and no update answered 409 ever has its marker seen.

use std::collections::BTreeMap;

use super::{MAX_REPORTED, observations};
use crate::check::{Property, Violation};
use crate::pipeline::history::{ApiCall, ApiHistory, ApiOp};

const CHECKER: &str = "api/resource_versions";

pub fn check(history: &ApiHistory) -> Vec<Violation> {
    let mut violations = Vec::new();
    per_object(history, &mut violations);
    per_list(history, &mut violations);
    unique_per_write(history, &mut violations);
    stale_updates(history, &mut violations);
    violations.truncate(MAX_REPORTED);
    violations
}

fn violation(message: String, excerpt: Vec<String>) -> Violation {
    Violation {
        property: Property::ResourceVersions,
        checker: CHECKER,
        message,
        excerpt,
    }
}

fn is_write_of(call: &ApiCall, name: &str) -> bool {
    matches!(
        &call.op,
        ApiOp::Create { name: n, .. } | ApiOp::Update { name: n, .. } | ApiOp::Patch { name: n, .. }
            if n == name
    )
}

/// Successful answers that show pods (deletes left out: what they return is the pod as it
/// was), by pod name.
fn by_pod(history: &ApiHistory) -> BTreeMap<&str, Vec<(&ApiCall, u64)>> {
    let mut seen: BTreeMap<&str, Vec<(&ApiCall, u64)>> = BTreeMap::new();
    for call in history.calls.iter().filter(|c| c.succeeded()) {
        if matches!(call.op, ApiOp::Delete { .. }) {
            continue;
        }
        for pod in call.pods() {
            seen.entry(&pod.name)
                .or_default()
                .push((call, pod.resource_version));
        }
    }
    seen
}

fn per_object(history: &ApiHistory, violations: &mut Vec<Violation>) {
    for (name, seen) in by_pod(history) {
        for (a, rv_a) in &seen {
            for (b, rv_b) in &seen {
                let before = a.end.is_some_and(|end| end < b.start);
                if !before {
                    continue;
                }
                let write = is_write_of(b, name);
                if *rv_b < *rv_a || (write && rv_b == rv_a) {
                    violations.push(violation(
                        format!(
                            "pod {name} went from resourceVersion {rv_a} to {rv_b}{}",
                            if write { " on a write" } else { "" }
                        ),
                        vec![a.to_string(), b.to_string()],
                    ));
                    return;
                }
            }
        }
    }
}

fn per_list(history: &ApiHistory, violations: &mut Vec<Violation>) {
    let lists: Vec<(&ApiCall, u64)> = history
        .calls
        .iter()
        .filter(|c| c.succeeded() && matches!(c.op, ApiOp::List { .. }))
        .filter_map(|c| Some((c, c.resource_version()?)))
        .collect();
    // Ended before the other began, newer: the newest list that ended before each list.
    for (b, rv_b) in &lists {
        let newest_before = lists
            .iter()
            .filter(|(a, _)| a.end.is_some_and(|end| end < b.start))
            .max_by_key(|(_, rv)| *rv);
        if let Some((a, rv_a)) = newest_before
            && rv_b < rv_a
        {
            violations.push(violation(
                format!("a list at resourceVersion {rv_b} after one at {rv_a}"),
                vec![a.to_string(), b.to_string()],
            ));
            return;
        }
    }
}

fn unique_per_write(history: &ApiHistory, violations: &mut Vec<Violation>) {
    let mut writes: BTreeMap<u64, &ApiCall> = BTreeMap::new();
    for call in history.calls.iter().filter(|c| c.succeeded()) {
        let Some(name) = call.op.name() else { continue };
        if !is_write_of(call, name) {
            continue;
        }
        let Some(rv) = call.resource_version() else {
            continue;
        };
        if let Some(other) = writes.insert(rv, call) {
            violations.push(violation(
                format!("two writes returned resourceVersion {rv}"),
                vec![other.to_string(), call.to_string()],
            ));
            return;
        }
    }
}

fn stale_updates(history: &ApiHistory, violations: &mut Vec<Violation>) {
    for call in &history.calls {
        let ApiOp::Update { stale, marker, .. } = &call.op else {
            continue;
        };
        if *stale && call.succeeded() {
            violations.push(violation(
                "an update with a stale resourceVersion succeeded".to_owned(),
                vec![call.to_string()],
            ));
            return;
        }
        if call.code() != Some(409) {
            continue;
        }
        let seen = observations(history)
            .into_iter()
            .find(|o| &o.pod.marker == marker);
        if let Some(seen) = seen {
            violations.push(violation(
                "an update answered 409 changed the object".to_owned(),
                vec![call.to_string(), seen.source],
            ));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::api::test_support::*;

    #[test]
    fn growing_versions_pass() {
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
        call(
            &mut h,
            "a",
            get("p"),
            (40, 50),
            200,
            vec![pod("p", 7, "m")],
            "",
        );
        call(
            &mut h,
            "a",
            update("p", "s", 5, true),
            (60, 70),
            409,
            vec![],
            "conflict",
        );
        assert_eq!(check(&h), vec![]);
    }

    #[test]
    fn a_version_going_back_is_caught() {
        let mut h = history();
        call(
            &mut h,
            "a",
            create("p"),
            (0, 10),
            201,
            vec![pod("p", 9, "p")],
            "",
        );
        call(
            &mut h,
            "a",
            get("p"),
            (20, 30),
            200,
            vec![pod("p", 8, "p")],
            "",
        );
        let found = check(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("from resourceVersion 9 to 8"));
    }

    #[test]
    fn a_stale_update_that_succeeds_or_leaves_a_trace_is_caught() {
        let mut h = history();
        call(
            &mut h,
            "a",
            update("p", "s", 5, true),
            (0, 10),
            200,
            vec![pod("p", 9, "s")],
            "",
        );
        assert!(
            check(&h)[0]
                .message
                .contains("stale resourceVersion succeeded")
        );

        let mut h = history();
        call(
            &mut h,
            "a",
            update("p", "s", 5, true),
            (0, 10),
            409,
            vec![],
            "",
        );
        call(
            &mut h,
            "a",
            get("p"),
            (20, 30),
            200,
            vec![pod("p", 9, "s")],
            "",
        );
        assert!(check(&h)[0].message.contains("409 changed the object"));
    }
}
