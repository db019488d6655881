//! Liveness after healing: once every fault is undone, the members agree on a leader and
//! every member takes a write, each within the bound (simulated time from the heal).

use super::{Property, Violation};
use crate::history::History;

const CHECKER: &str = "liveness";

pub fn check(history: &History) -> Vec<Violation> {
    let Some(liveness) = &history.liveness else {
        return vec![violation(
            "the run ended before healing was checked".to_owned(),
            history,
        )];
    };
    let bound = liveness.bound;
    if liveness.leader_after.is_none() {
        return vec![violation(
            format!("no agreed leader within {bound:?} of healing"),
            history,
        )];
    }
    let stuck: Vec<&str> = liveness
        .write_after
        .iter()
        .filter(|(_, took)| took.is_none())
        .map(|(member, _)| member.as_str())
        .collect();
    if !stuck.is_empty() {
        return vec![violation(
            format!(
                "no write succeeded through {} within {bound:?} of healing",
                stuck.join(", ")
            ),
            history,
        )];
    }
    Vec::new()
}

/// The violation, with the last faults before and during healing as its excerpt.
fn violation(message: String, history: &History) -> Violation {
    let faults = &history.faults;
    let excerpt = faults[faults.len().saturating_sub(8)..]
        .iter()
        .map(|f| format!("{:.3}s fault: {}", f.at.as_secs_f64(), f.what))
        .collect();
    Violation {
        property: Property::Liveness,
        checker: CHECKER,
        message,
        excerpt,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::history::Liveness;

    fn with(leader: Option<u64>, writes: &[(&str, Option<u64>)]) -> History {
        History {
            liveness: Some(Liveness {
                leader_after: leader.map(Duration::from_millis),
                write_after: writes
                    .iter()
                    .map(|(m, t)| (m.to_string(), t.map(Duration::from_millis)))
                    .collect::<BTreeMap<_, _>>(),
                bound: Duration::from_secs(30),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn healthy_cluster_passes_and_stuck_ones_fail() {
        assert_eq!(check(&with(Some(900), &[("store-1", Some(1000))])), vec![]);
        assert!(
            check(&with(None, &[]))[0]
                .message
                .contains("no agreed leader")
        );
        let stuck = check(&with(Some(900), &[("store-1", Some(1)), ("store-2", None)]));
        assert!(stuck[0].message.contains("store-2"), "{stuck:?}");
        assert!(
            check(&History::default())[0]
                .message
                .contains("ended before")
        );
    }
}
