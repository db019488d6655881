//! The checkers: each reads a finished run's [`History`] and says which property of
//! `shared/design/RELIABILITY.md` broke, if any, with the shortest excerpt that shows it.
//!
//! One file per checker, each named after what it checks:
//! - [`linearizable`]: properties 1, 4 and 6 — the KV history, key by key, against a
//!   model of one etcd key (put, get, delete, compare-and-swap on value), Porcupine style.
//! - [`revisions`]: property 2 — revisions rise by one per write and never go back.
//! - [`durability`]: property 3 — every acknowledged write is in every member's history.
//! - [`txn`]: property 4 — compares on mod_revision agree with the history they ran on.
//! - [`past_reads`]: property 5 (and serializable reads under 1) — a read at a revision sees
//!   exactly the history up to that revision; compacted revisions answer compacted.
//! - [`hashes`]: property 7 — every member holds the same history, and HashKV agrees.
//! - [`watch`]: property 8 — watch events are ordered, unique, reliable, atomic, resumable.
//! - [`liveness`]: after healing, a leader is elected and every member takes writes in time.
//! - [`leases`]: keys of expired leases are deleted.
//! - [`api`]: properties 9 to 12, the API server's, over a pipeline run's
//!   `ApiHistory` (`crate::pipeline`), one file per property.
//! - `reference`: the members' final history, indexed, that most checkers compare against.

use std::fmt;

use crate::history::History;

pub mod api;
pub mod durability;
pub mod hashes;
pub mod leases;
pub mod linearizable;
pub mod liveness;
pub mod past_reads;
pub mod reference;
pub mod revisions;
pub mod txn;
pub mod watch;

/// A property of RELIABILITY.md (1 to 12), or liveness after healing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Property {
    Linearizable = 1,
    Revisions = 2,
    Durability = 3,
    AtomicCompare = 4,
    PastReads = 5,
    NoStaleRead = 6,
    SameState = 7,
    Watch = 8,
    ResourceVersions = 9,
    Admission = 10,
    Deadlines = 11,
    WatchResume = 12,
    Liveness = 100,
    Leases = 101,
}

impl Property {
    pub fn describe(self) -> &'static str {
        match self {
            Property::Linearizable => "1: reads and writes are linearizable",
            Property::Revisions => {
                "2: the revision rises by exactly one per write and never goes back"
            }
            Property::Durability => "3: an acknowledged write survives any crash",
            Property::AtomicCompare => "4: compares are atomic with their writes",
            Property::PastReads => "5: a range at a past revision is consistent",
            Property::NoStaleRead => "6: no stale read across pauses, partitions or leader changes",
            Property::SameState => "7: every member holds the same state at the same revision",
            Property::Watch => {
                "8: watch events are ordered, unique, reliable, atomic and resumable"
            }
            Property::ResourceVersions => {
                "9: resourceVersion only grows; a stale update gets 409 and changes nothing"
            }
            Property::Admission => {
                "10: nothing stored that authorization or a Fail webhook refused; Ignore never blocks"
            }
            Property::Deadlines => "11: no request outlives its deadline",
            Property::WatchResume => {
                "12: a resumed watch sees every later change exactly once, or gets 410"
            }
            Property::Liveness => "liveness: after healing, a leader and writes within the bound",
            Property::Leases => "leases: an expired lease's keys are deleted",
        }
    }
}

/// A broken property, and the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub property: Property,
    /// The checker that found it (its file name).
    pub checker: &'static str,
    /// What is wrong, in one or two sentences.
    pub message: String,
    /// The shortest part of the history that shows it: the calls, events or faults involved,
    /// one per line, in time order.
    pub excerpt: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "property {} ({}): {}",
            self.property.describe(),
            self.checker,
            self.message
        )?;
        for line in &self.excerpt {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }
}

/// Every checker over `history`, each reporting at most a few violations.
pub fn check_all(history: &History) -> Vec<Violation> {
    let checkers: [fn(&History) -> Vec<Violation>; 9] = [
        linearizable::check,
        revisions::check,
        durability::check,
        txn::check,
        past_reads::check,
        hashes::check,
        watch::check,
        liveness::check,
        leases::check,
    ];
    checkers.iter().flat_map(|check| check(history)).collect()
}

/// The member state the checkers compare the clients' view against: the member with the
/// newest revision (the [`hashes`] checker reports members that differ).
pub fn reference(history: &History) -> Option<&crate::history::MemberState> {
    history
        .members
        .values()
        .max_by_key(|state| state.current_revision)
}
