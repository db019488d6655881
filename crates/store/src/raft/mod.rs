//! Everything openraft: the type config, the log store (an append-only WAL), the MVCC state machine, the peer
//! network (client and server) and [`Consensus`], the one type the rest of the crate uses.
//! Nothing outside this module names an openraft type: openraft is pre-1.0 and its API moves.
//!
//! openraft is pinned to `=0.10.0-alpha.37` (with openraft-rt and openraft-rt-tokio). Things
//! about this version that differ from 0.9 and from most docs:
//! - Storage is `RaftLogStorage` + `RaftStateMachine` (storage v2); `apply` receives a stream of
//!   `(entry, Option<ApplyResponder>)` and answers each client through its responder.
//! - `SnapshotData` is an associated type of the state machine and of the network, not of the
//!   type config; `full_snapshot` sends a snapshot whole.
//! - Linearizable reads: `get_read_linearizer(ReadPolicy::ReadIndex)` returns the read log id;
//!   a follower asks the leader for it and waits for its own apply.
//! - The runtime's RNG (election timeouts, tick jitter) comes from `AsyncRuntime::thread_rng`.
//!   We use `DeterministicRng<TokioRuntime>`, whose seed is a task-local: `Raft::new` must run
//!   inside `DeterministicRng::scope(seed, ..)` (we seed it from `Env.entropy`), and every task
//!   openraft spawns inherits it. Openraft APIs that spawn from the caller's task (server-side
//!   `stream_append`, `on_leader_change`) would panic outside that scope: we do not use them.
//! - `ForwardToLeader` gained a `reason` field with `serde(default)`; postcard is positional,
//!   so peers must run the same openraft version (they do: one binary).
//! - `initialize` with the same membership on every member is safe and idempotent, but only
//!   if every member writes the *same* entry: the initial `MemberNode`s carry no client URLs.
//! - Replication passes `heartbeat_interval` as the RPC TTL of an append (`RPCOption`); an
//!   append that includes a quorum fsync needs longer, so we bound it by `peer_rpc_timeout`.
//! - `Raft::shutdown` returns while openraft's last tasks may still be dropping the log store
//!   and state machine: redb's file lock is only released when the `Database` drop finishes,
//!   so shutdown waits for a signal sent after that drop ([`Db`]).
//! - `RaftMetrics` is read through openraft's own watch trait (`borrow_watched`), not tokio's.
//! - A client write's `Responder` is the type config's (`Responder<T>`, which the macro cannot
//!   set): `client_write_ff` with ours gets `on_commit` as well as the result.

mod consensus;
mod log_store;
mod network;
mod peer_service;
mod responder;
mod state_machine;
mod wal;

use std::fmt;

use kubesim_mvcc::{Command, CommandResponse, MvccError};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

pub(crate) use consensus::{Consensus, RaftSettings};
pub(crate) use peer_service::serve_peers;
pub(crate) use state_machine::SNAPSHOT_DB;
pub(crate) use wal::size_on_disk as log_size_on_disk;

/// Runtime: tokio, with openraft's randomness drawn from a seed (see the module docs).
pub(crate) type Runtime =
    openraft_rt::deterministic_rng::DeterministicRng<openraft_rt_tokio::TokioRuntime>;

/// kubesim's openraft type config. A node ID is the etcd member ID. Written out rather than
/// with `declare_raft_types!`, which cannot set `Responder<T>`: ours times each proposal
/// ([`responder`]). Every other type is the macro's default, so the log's format is the same.
#[derive(Debug, Clone, Copy, Default, Eq, PartialEq, Ord, PartialOrd)]
pub struct TypeConfig {}

impl openraft::RaftTypeConfig for TypeConfig {
    type D = StoreRequest;
    type R = StoreResponse;
    type NodeId = u64;
    type Node = MemberNode;
    type Term = u64;
    type LeaderId = openraft::impls::leader_id_adv::LeaderId<Self::Term, Self::NodeId>;
    type Vote = openraft::impls::Vote<Self::LeaderId>;
    type Payload = openraft::EntryPayload<Self::D, Self::NodeId, Self::Node>;
    type Entry =
        openraft::Entry<<Self::LeaderId as openraft::vote::RaftLeaderId>::Committed, Self::Payload>;
    type Responder<T>
        = responder::TimedResponder<T>
    where
        T: openraft::OptionalSend + 'static;
    type Batch<T>
        = openraft::impls::InlineBatch<T>
    where
        T: openraft::OptionalSend + 'static;
    type AsyncRuntime = Runtime;
    type ErrorSource = openraft::impls::BoxedErrorSource;
}

pub(crate) type Raft = openraft::Raft<TypeConfig, state_machine::StateMachine>;
pub(crate) type LogId = openraft::alias::LogIdOf<TypeConfig>;
pub(crate) type Entry = openraft::alias::EntryOf<TypeConfig>;
pub(crate) type Vote = openraft::alias::VoteOf<TypeConfig>;
pub(crate) type StoredMembership = openraft::alias::StoredMembershipOf<TypeConfig>;
pub(crate) type SnapshotMeta = openraft::alias::SnapshotMetaOf<TypeConfig>;
pub(crate) type Snapshot = openraft::alias::SnapshotOf<TypeConfig, SnapshotData>;
/// A snapshot travels and is stored as one postcard-encoded byte vector.
pub(crate) type SnapshotData = Vec<u8>;

/// What the Raft membership records about a member: enough to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemberNode {
    /// `--name`, when known at the time the member was added (initial cluster); otherwise empty
    /// until the member publishes itself.
    pub name: String,
    /// Where its peer service listens: the first one that answers is used.
    pub peer_urls: Vec<String>,
    /// Client URLs known at the time the member was added (usually none: they are published).
    pub client_urls: Vec<String>,
}

/// One entry of the replicated log (openraft's app data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StoreRequest {
    /// A change to the key-value store.
    Command(Command),
    /// A member announces its name and client URLs after it starts (etcd's publish), so every
    /// member can answer `member list` with them.
    PublishMember {
        id: u64,
        name: String,
        client_urls: Vec<String>,
    },
}

impl fmt::Display for StoreRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreRequest::Command(cmd) => write!(f, "{}", command_name(cmd)),
            StoreRequest::PublishMember { id, name, .. } => {
                write!(f, "PublishMember({id:x}, {name})")
            }
        }
    }
}

fn command_name(cmd: &Command) -> &'static str {
    match cmd {
        Command::Put(_) => "Put",
        Command::DeleteRange(_) => "DeleteRange",
        Command::Txn(_) => "Txn",
        Command::Compact(_) => "Compact",
        Command::LeaseGrant { .. } => "LeaseGrant",
        Command::LeaseRevoke { .. } => "LeaseRevoke",
    }
}

/// What applying one log entry returned (openraft's app response).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreResponse {
    /// The MVCC outcome for a `Command`; `None` for entries that are not commands.
    pub result: Option<Result<CommandResponse, MvccError>>,
    /// The store revision after the entry.
    pub revision: i64,
}

/// A write that was committed and applied on the leader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Written {
    /// Its log index: a member has seen the write once it has applied this index.
    pub index: u64,
    /// The term of the leader that committed it.
    pub term: u64,
    pub response: StoreResponse,
}

/// An operation only the leader may run. A follower sends it over the peer protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LeaderRequest {
    Write(StoreRequest),
    AddMember {
        id: u64,
        node: MemberNode,
        is_learner: bool,
    },
    PromoteMember {
        id: u64,
    },
    RemoveMember {
        id: u64,
    },
    LeaseKeepAlive {
        id: i64,
    },
    LeaseTimeToLive {
        id: i64,
    },
}

/// The leader's answer to a [`LeaderRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LeaderReply {
    Written(Written),
    /// A membership change committed at this log index.
    MembershipChanged {
        index: u64,
    },
    /// (remaining TTL, granted TTL) in seconds.
    Lease {
        remaining: i64,
        granted: i64,
    },
}

/// Errors that cross the peer protocol. Converted to [`StoreError`] at the handle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum PeerError {
    #[error("not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<u64> },
    /// The entry may or may not have been committed: the leader changed under it.
    #[error("leader changed")]
    LeaderChanged,
    #[error("timed out")]
    Timeout,
    #[error("stopped")]
    Stopped,
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    #[error(transparent)]
    Mvcc(#[from] MvccError),
    #[error("member not found")]
    MemberNotFound,
    #[error("peer URLs already exist")]
    PeerUrlExists,
    #[error("member is not a learner")]
    MemberNotLearner,
    #[error("learner not ready")]
    LearnerNotReady,
    #[error("not enough started members")]
    NotEnoughStartedMembers,
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<PeerError> for StoreError {
    fn from(err: PeerError) -> StoreError {
        match err {
            PeerError::NotLeader { .. } => StoreError::NoLeader,
            PeerError::LeaderChanged => StoreError::LeaderChanged,
            PeerError::Timeout | PeerError::Unreachable(_) => StoreError::Timeout,
            PeerError::Stopped => StoreError::Stopped,
            PeerError::Mvcc(e) => StoreError::Mvcc(e),
            PeerError::MemberNotFound => StoreError::MemberNotFound,
            PeerError::PeerUrlExists => StoreError::PeerUrlExists,
            PeerError::MemberNotLearner => StoreError::MemberNotLearner,
            PeerError::LearnerNotReady => StoreError::LearnerNotReady,
            PeerError::NotEnoughStartedMembers => StoreError::NotEnoughStartedMembers,
            PeerError::InvalidArgument(msg) => StoreError::InvalidArgument(msg),
            PeerError::Internal(msg) => StoreError::Internal(msg),
        }
    }
}

/// A redb database that reports when it is closed. The same file can be opened again only
/// once redb's drop (which may flush) has finished, and the last owner may be any of
/// openraft's tasks; so shutdown waits for this signal.
pub(crate) struct Db {
    /// Dropped first (fields drop in declaration order)...
    db: redb::Database,
    /// ...then this sender, which wakes the receiver returned by [`Db::new`].
    _closed: tokio::sync::oneshot::Sender<()>,
}

impl Db {
    pub(crate) fn new(
        db: redb::Database,
    ) -> (std::sync::Arc<Db>, tokio::sync::oneshot::Receiver<()>) {
        let (closed, on_closed) = tokio::sync::oneshot::channel();
        let db = Db {
            db,
            _closed: closed,
        };
        (std::sync::Arc::new(db), on_closed)
    }
}

impl std::ops::Deref for Db {
    type Target = redb::Database;

    fn deref(&self) -> &redb::Database {
        &self.db
    }
}

/// Runs synchronous disk work (redb) without stalling the runtime. On a multi-thread runtime
/// the worker hands its other tasks away first (`block_in_place`); on a current-thread runtime
/// (turmoil, unit tests) it runs inline, which keeps the simulation deterministic.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    let multi_thread = tokio::runtime::Handle::try_current()
        .map(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
        .unwrap_or(false);
    if multi_thread {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

fn io_err(e: impl fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, std::io::Error> {
    postcard::to_stdvec(value).map_err(io_err)
}

/// Decodes exactly one value: trailing bytes mean the message is not what it claims to be.
fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, std::io::Error> {
    let invalid = |msg: String| std::io::Error::new(std::io::ErrorKind::InvalidData, msg);
    match postcard::take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(invalid(format!("{} trailing bytes", rest.len()))),
        Err(e) => Err(invalid(e.to_string())),
    }
}

/// Log ids and entries for the log store's and the WAL's tests.
#[cfg(test)]
mod test_entries {
    use super::{Entry, LogId};

    pub(crate) fn log_id(term: u64, index: u64) -> LogId {
        openraft::LogId::new(
            openraft::impls::leader_id_adv::LeaderId { term, node_id: 1 },
            index,
        )
    }

    /// Blank entries of `term` at `indexes`.
    pub(crate) fn blanks(term: u64, indexes: std::ops::RangeInclusive<u64>) -> Vec<Entry> {
        indexes
            .map(|i| openraft::Entry {
                log_id: log_id(term, i),
                payload: openraft::EntryPayload::Blank,
            })
            .collect()
    }
}

#[cfg(test)]
mod encoding_tests {
    use kubesim_proto::etcdserverpb::PutRequest;
    use kubesim_proto::mvccpb::KeyValue;

    use super::*;

    /// `PutRequest` and `KeyValue` as serde derived them before their byte fields were marked
    /// `serde_bytes`: every `Vec<u8>` a sequence of `u8`.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct SequencePut {
        key: Vec<u8>,
        value: Vec<u8>,
        lease: i64,
        prev_kv: bool,
        ignore_value: bool,
        ignore_lease: bool,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct SequenceKeyValue {
        key: Vec<u8>,
        create_revision: i64,
        mod_revision: i64,
        version: i64,
        value: Vec<u8>,
        lease: i64,
    }

    /// Data dirs and peers written before the change read the same: postcard encodes bytes
    /// and a sequence of `u8` alike.
    #[test]
    fn byte_fields_encode_as_they_did_as_sequences() {
        let value: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let put = PutRequest {
            key: b"/registry/pods/ns/a".to_vec(),
            value: value.clone(),
            lease: 7,
            prev_kv: true,
            ..PutRequest::default()
        };
        let old = SequencePut {
            key: put.key.clone(),
            value: value.clone(),
            lease: 7,
            prev_kv: true,
            ignore_value: false,
            ignore_lease: false,
        };
        let bytes = encode(&put).expect("encode");
        assert_eq!(bytes, encode(&old).expect("encode"));
        assert_eq!(decode::<PutRequest>(&bytes).expect("decode"), put);
        let kv = KeyValue {
            key: b"k".to_vec(),
            create_revision: 2,
            mod_revision: 3,
            version: 1,
            value,
            lease: 0,
        };
        let old = SequenceKeyValue {
            key: kv.key.clone(),
            create_revision: 2,
            mod_revision: 3,
            version: 1,
            value: kv.value.clone(),
            lease: 0,
        };
        let bytes = encode(&old).expect("encode");
        assert_eq!(bytes, encode(&kv).expect("encode"));
        assert_eq!(decode::<KeyValue>(&bytes).expect("decode"), kv);
    }
}
