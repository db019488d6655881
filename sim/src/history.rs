//! [`History`]: every call the workload made, as invoke and complete with its outcome, every
//! watch response, every fault, and the state the members were left in. The checkers
//! (`crate::check`) read nothing else.
//!
//! Times are simulated time since the start of the run. Every host shares the one simulated
//! clock, so "A completed before B was invoked" is well defined across clients.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use kubesim_proto::mvccpb::{Event, KeyValue};

/// Simulated time since the start of the run.
pub type Time = Duration;

/// One key as a read saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvRead {
    pub key: String,
    pub value: String,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub lease: i64,
}

impl From<&KeyValue> for KvRead {
    fn from(kv: &KeyValue) -> Self {
        KvRead {
            key: String::from_utf8_lossy(&kv.key).into_owned(),
            value: String::from_utf8_lossy(&kv.value).into_owned(),
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            lease: kv.lease,
        }
    }
}

impl fmt::Display for KvRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={}@{} (created {}, version {})",
            self.key, self.value, self.mod_revision, self.create_revision, self.version
        )
    }
}

/// What a client asked for. Values are unique per run (`c<client>-<n>`), so a value names
/// the write that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Put `key=value`, attached to `lease` (0: none).
    Put {
        key: String,
        value: String,
        lease: i64,
    },
    /// Range over one key: linearizable, or serializable (the member's own state).
    Get { key: String, serializable: bool },
    /// Txn: if `key`'s value is `expected` (`None`: the key does not exist) then put
    /// `key=new`, else get `key`.
    CasValue {
        key: String,
        expected: Option<String>,
        new: String,
    },
    /// Txn: if `key`'s mod_revision is `expected` (0: the key does not exist) then put
    /// `key=new`, else get `key`.
    CasRevision {
        key: String,
        expected: i64,
        new: String,
    },
    /// DeleteRange of one key.
    Delete { key: String },
    /// Range over every key with `prefix`, at a past `revision`.
    RangeAt { prefix: String, revision: i64 },
    /// LeaseGrant with `ttl` seconds.
    LeaseGrant { ttl: i64 },
    /// Compaction up to `revision`.
    Compact { revision: i64 },
}

impl Op {
    /// The one key this operation reads or writes, if it is a single-key KV operation.
    pub fn key(&self) -> Option<&str> {
        match self {
            Op::Put { key, .. }
            | Op::Get { key, .. }
            | Op::CasValue { key, .. }
            | Op::CasRevision { key, .. }
            | Op::Delete { key } => Some(key),
            Op::RangeAt { .. } | Op::LeaseGrant { .. } | Op::Compact { .. } => None,
        }
    }

    /// Whether the operation may change the store.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Op::Put { .. }
                | Op::CasValue { .. }
                | Op::CasRevision { .. }
                | Op::Delete { .. }
                | Op::LeaseGrant { .. }
                | Op::Compact { .. }
        )
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Put { key, value, lease } if *lease != 0 => {
                write!(f, "put {key}={value} lease {lease:x}")
            }
            Op::Put { key, value, .. } => write!(f, "put {key}={value}"),
            Op::Get { key, serializable } => write!(
                f,
                "get {key} ({})",
                if *serializable {
                    "serializable"
                } else {
                    "linearizable"
                }
            ),
            Op::CasValue { key, expected, new } => write!(
                f,
                "cas {key}: if value == {} then put {new}",
                expected.as_deref().unwrap_or("<absent>")
            ),
            Op::CasRevision { key, expected, new } => {
                write!(f, "cas {key}: if mod_revision == {expected} then put {new}")
            }
            Op::Delete { key } => write!(f, "delete {key}"),
            Op::RangeAt { prefix, revision } => write!(f, "range {prefix}* at {revision}"),
            Op::LeaseGrant { ttl } => write!(f, "lease grant ttl {ttl}s"),
            Op::Compact { revision } => write!(f, "compact {revision}"),
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A write that was applied at `revision` (the response header's revision).
    Put {
        revision: i64,
    },
    /// A read of one key at header `revision`.
    Get {
        revision: i64,
        kv: Option<KvRead>,
    },
    /// A compare-and-swap: applied at `revision` if `succeeded`, else the else branch read
    /// `kv` at header `revision`.
    Cas {
        revision: i64,
        succeeded: bool,
        kv: Option<KvRead>,
    },
    /// A delete at header `revision` that removed `deleted` keys (0: nothing changed, and
    /// the revision did not move).
    Delete {
        revision: i64,
        deleted: i64,
    },
    /// A range at a past revision: `kvs` in key order, header at `revision`.
    RangeAt {
        revision: i64,
        kvs: Vec<KvRead>,
    },
    /// The revision asked for is compacted (etcd's `ErrCompacted`).
    Compacted,
    /// The revision asked for is newer than the store's (etcd's `ErrFutureRev`).
    FutureRevision,
    LeaseGranted {
        id: i64,
        ttl: i64,
    },
    /// A compaction that was applied, header at `revision`.
    CompactDone {
        revision: i64,
    },
    /// A definite failure: the call did not change anything.
    Failed(String),
    /// No answer (timed out, connection lost, or an error that does not say whether the
    /// write was applied): it may or may not have taken effect, at any time after the invoke.
    Unknown(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kv = |kv: &Option<KvRead>| match kv {
            Some(kv) => kv.to_string(),
            None => "absent".to_owned(),
        };
        match self {
            Outcome::Put { revision } => write!(f, "ok at revision {revision}"),
            Outcome::Get { revision, kv: read } => {
                write!(f, "{} (header revision {revision})", kv(read))
            }
            Outcome::Cas {
                revision,
                succeeded: true,
                ..
            } => write!(f, "succeeded at revision {revision}"),
            Outcome::Cas {
                revision, kv: read, ..
            } => write!(f, "failed; read {} (header revision {revision})", kv(read)),
            Outcome::Delete { revision, deleted } => {
                write!(f, "deleted {deleted} (header revision {revision})")
            }
            Outcome::RangeAt { revision, kvs } => {
                let kvs: Vec<String> = kvs.iter().map(ToString::to_string).collect();
                write!(f, "[{}] (header revision {revision})", kvs.join(", "))
            }
            Outcome::Compacted => write!(f, "compacted"),
            Outcome::FutureRevision => write!(f, "future revision"),
            Outcome::LeaseGranted { id, ttl } => write!(f, "lease {id:x} ttl {ttl}"),
            Outcome::CompactDone { revision } => write!(f, "compacted (header {revision})"),
            Outcome::Failed(why) => write!(f, "failed: {why}"),
            Outcome::Unknown(why) => write!(f, "unknown: {why}"),
        }
    }
}

/// One call: who made it, through which member, what it asked, when, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Position in the history (invoke order).
    pub id: usize,
    pub client: String,
    /// The member the call was sent to (`store-2`).
    pub member: String,
    pub op: Op,
    pub invoke: Time,
    /// `None` while the call is in flight, and for calls the run ended before they
    /// completed (treated as `Unknown`).
    pub complete: Option<Time>,
    pub outcome: Outcome,
}

impl Call {
    /// The call could have taken effect at some point after its invoke and no one knows.
    pub fn is_unknown(&self) -> bool {
        matches!(self.outcome, Outcome::Unknown(_))
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let complete = match self.complete {
            Some(t) => format!("{:.3}s", t.as_secs_f64()),
            None => "never".to_owned(),
        };
        write!(
            f,
            "#{} [{:.3}s..{complete}] {} via {}: {} -> {}",
            self.id,
            self.invoke.as_secs_f64(),
            self.client,
            self.member,
            self.op,
            self.outcome
        )
    }
}

/// One response on a watch stream.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchResponse {
    pub at: Time,
    /// The response header's revision.
    pub header_revision: i64,
    pub events: Vec<Event>,
    /// A progress notification (no events, header revision = everything delivered).
    pub progress: bool,
    /// Set when the watch was canceled because its start revision is compacted.
    pub compact_revision: i64,
    pub canceled: bool,
}

/// One watch stream, from create to disconnect. A watcher's sessions chain: each resumes
/// from the revision after the last event of the one before.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchSession {
    pub member: String,
    /// The `start_revision` the watch was created with.
    pub start_revision: i64,
    pub opened: Time,
    pub responses: Vec<WatchResponse>,
    /// Why it ended (disconnect on purpose, error, end of run).
    pub ended: String,
}

/// A watching client: every key with `prefix`, with prev_kv, over several sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct Watcher {
    pub client: String,
    pub prefix: String,
    pub sessions: Vec<WatchSession>,
}

/// What the simulation did to the cluster, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRecord {
    pub at: Time,
    pub what: String,
}

/// One member's state after healing, read directly from its store (not through the API
/// whose behaviour is under test).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberState {
    pub current_revision: i64,
    pub compact_revision: i64,
    /// Every event the member's MVCC history holds (from `compact_revision + 1`), in order.
    pub events: Vec<Event>,
    /// HashKV through the API at `hash_revision`: (hash, compact_revision).
    pub hash: Option<(u32, i64)>,
}

/// What the liveness check saw in the healing phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Liveness {
    /// Simulated time from the end of the fault phase to an agreed leader, if one was.
    pub leader_after: Option<Duration>,
    /// Member -> time from the end of the fault phase to its first successful write.
    pub write_after: BTreeMap<String, Option<Duration>>,
    /// The bound both must be within.
    pub bound: Duration,
}

/// Everything a run recorded. Clonable into every client future; all clones share one record.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    inner: Rc<RefCell<History>>,
}

/// The record of a whole run.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub calls: Vec<Call>,
    pub watchers: Vec<Watcher>,
    pub faults: Vec<FaultRecord>,
    /// When the fault phase ended and healing began.
    pub healed_at: Option<Time>,
    /// Member name -> its state after healing.
    pub members: BTreeMap<String, MemberState>,
    /// The revision at which every member's HashKV was taken.
    pub hash_revision: i64,
    pub liveness: Option<Liveness>,
}

/// Simulated time now (zero outside a simulation).
pub fn now() -> Time {
    turmoil::sim_elapsed().unwrap_or_default()
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the invoke of `op` and returns its call id for [`Recorder::complete`].
    pub fn invoke(&self, client: &str, member: &str, op: Op) -> usize {
        let mut history = self.inner.borrow_mut();
        let id = history.calls.len();
        history.calls.push(Call {
            id,
            client: client.to_owned(),
            member: member.to_owned(),
            op,
            invoke: now(),
            complete: None,
            outcome: Outcome::Unknown("the run ended first".to_owned()),
        });
        id
    }

    pub fn complete(&self, id: usize, outcome: Outcome) {
        let mut history = self.inner.borrow_mut();
        if let Some(call) = history.calls.get_mut(id) {
            call.complete = Some(now());
            call.outcome = outcome;
        }
    }

    pub fn fault(&self, what: impl Into<String>) {
        let what = what.into();
        tracing::info!(%what, "fault");
        self.inner
            .borrow_mut()
            .faults
            .push(FaultRecord { at: now(), what });
    }

    pub fn watcher(&self, watcher: Watcher) {
        self.inner.borrow_mut().watchers.push(watcher);
    }

    pub fn healed(&self) {
        self.inner.borrow_mut().healed_at = Some(now());
    }

    pub fn liveness(&self, liveness: Liveness) {
        self.inner.borrow_mut().liveness = Some(liveness);
    }

    pub fn member_state(&self, name: &str, state: MemberState) {
        self.inner
            .borrow_mut()
            .members
            .insert(name.to_owned(), state);
    }

    pub fn hash_revision(&self, revision: i64) {
        self.inner.borrow_mut().hash_revision = revision;
    }

    /// A copy of everything recorded so far.
    pub fn history(&self) -> History {
        self.inner.borrow().clone()
    }
}
