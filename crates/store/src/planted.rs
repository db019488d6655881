//! Known bugs planted behind a test-only switch, so the simulation can prove its checkers
//! catch real bugs: a checker that stays green with a bug planted checks nothing.
//!
//! Each bug is a few lines at the place where such a bug would really live, guarded by
//! [`PlantedBug::is`], which is always false unless the crate is built with the `planted-bugs`
//! feature. The kubesim binary never enables it, and no flag selects a bug:
//! [`crate::StoreConfig::planted_bug`] is set only by tests.
//!
//! Each one breaks a property of `shared/design/RELIABILITY.md`:
//! - [`PlantedBug::AckBeforeFsync`] (property 3, acknowledged writes survive a crash): the log
//!   store commits appended entries without an fsync but still reports them flushed, so a
//!   quorum acknowledges entries that a power cut then erases (`raft/log_store.rs`).
//! - [`PlantedBug::LocalLinearizableRead`] (properties 1 and 6, linearizable reads and no
//!   stale read): a linearizable Range or read-only Txn skips the read barrier and serves the
//!   member's local state, as a follower with a stale view would (`etcd/kv.rs`).
//! - [`PlantedBug::DropWatchEvent`] (property 8, reliable watches): each watcher silently
//!   drops one event, the first it would send at revision 32 or later (`etcd/watcher.rs`).
//! - [`PlantedBug::ReuseRevisionAfterRestart`] (properties 2 and 7, the revision rises by one
//!   per write and every member holds the same state at the same revision): a member that
//!   restarts with data on disk gives its first write the revision of the write before it
//!   (`raft/state_machine.rs`, `Mvcc::plant_reuse_next_revision`).

/// Which known bug is planted in a member; [`PlantedBug::None`] in every real run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlantedBug {
    #[default]
    None,
    AckBeforeFsync,
    LocalLinearizableRead,
    DropWatchEvent,
    ReuseRevisionAfterRestart,
}

impl PlantedBug {
    /// The four bugs, in the order of the module docs.
    pub const ALL: [PlantedBug; 4] = [
        PlantedBug::AckBeforeFsync,
        PlantedBug::LocalLinearizableRead,
        PlantedBug::DropWatchEvent,
        PlantedBug::ReuseRevisionAfterRestart,
    ];

    /// Whether `bug` is planted here. Always false unless built with the `planted-bugs`
    /// feature.
    pub fn is(self, bug: PlantedBug) -> bool {
        cfg!(feature = "planted-bugs") && self == bug
    }

    /// The bug's name in kebab case, as a test or a replay command spells it.
    pub fn name(self) -> &'static str {
        match self {
            PlantedBug::None => "none",
            PlantedBug::AckBeforeFsync => "ack-before-fsync",
            PlantedBug::LocalLinearizableRead => "local-linearizable-read",
            PlantedBug::DropWatchEvent => "drop-watch-event",
            PlantedBug::ReuseRevisionAfterRestart => "reuse-revision-after-restart",
        }
    }

    /// The bug called `name` ([`PlantedBug::name`]), `None` if there is no such bug.
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

    #[test]
    fn a_bug_is_planted_only_with_the_feature() {
        let planted = cfg!(feature = "planted-bugs");
        assert_eq!(
            PlantedBug::DropWatchEvent.is(PlantedBug::DropWatchEvent),
            planted
        );
        assert!(!PlantedBug::DropWatchEvent.is(PlantedBug::AckBeforeFsync));
        assert!(!PlantedBug::None.is(PlantedBug::AckBeforeFsync));
    }
}
