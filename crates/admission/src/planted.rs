//! Known bugs planted behind a test-only switch, as in `kubesim_store::PlantedBug`: the
//! simulation (`sim/`, `kubesim-sim run --pipeline --plant ...`) proves its API checkers
//! catch each one. [`PlantedBug::is`] is always false unless the crate is built with the
//! `planted-bugs` feature, and no flag selects a bug: only
//! [`crate::chain::AdmissionOptions::planted_bug`], set by the simulation.
//!
//! - [`PlantedBug::FailOpenOnTimeout`] (property 10 of RELIABILITY.md, nothing stored that a
//!   Fail webhook did not approve): a webhook call that times out is skipped as if its
//!   failurePolicy were Ignore (`webhook/dispatch.rs`).
//! - [`PlantedBug::AuthzFailOpen`] (property 10, nothing stored that authorization denied):
//!   an authorizer that failed (the authz service refused, timed out or was cut off) is
//!   taken as Allow by the API server's authorization stage (`kubesim_apiserver`'s
//!   `chain.rs`). It lives in this table because the simulation plants every API server bug
//!   through `AdmissionOptions::planted_bug`.

/// Which known bug is planted in the API server (admission or authorization);
/// [`PlantedBug::None`] in every real run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlantedBug {
    #[default]
    None,
    FailOpenOnTimeout,
    AuthzFailOpen,
}

impl PlantedBug {
    pub const ALL: [PlantedBug; 2] = [PlantedBug::FailOpenOnTimeout, PlantedBug::AuthzFailOpen];

    /// Whether `bug` is planted here. Always false unless built with `planted-bugs`.
    pub fn is(self, bug: PlantedBug) -> bool {
        cfg!(feature = "planted-bugs") && self == bug
    }

    /// The bug's name in kebab case, as a test or a replay command spells it.
    pub fn name(self) -> &'static str {
        match self {
            PlantedBug::None => "none",
            PlantedBug::FailOpenOnTimeout => "fail-open-on-timeout",
            PlantedBug::AuthzFailOpen => "authz-fail-open",
        }
    }

    /// The bug called `name`, `None` if there is no such bug.
    pub fn from_name(name: &str) -> Option<PlantedBug> {
        std::iter::once(PlantedBug::None)
            .chain(PlantedBug::ALL)
            .find(|bug| bug.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for bug in std::iter::once(PlantedBug::None).chain(PlantedBug::ALL) {
            assert_eq!(PlantedBug::from_name(bug.name()), Some(bug));
        }
        assert_eq!(PlantedBug::from_name("no-such-bug"), None);
    }
}
