//! Commands carried by the Raft log, and their results.

use kubesim_proto::etcdserverpb::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse,
    LeaseGrantResponse, LeaseRevokeResponse, PutRequest, PutResponse, TxnRequest, TxnResponse,
};
use kubesim_proto::mvccpb::Event;
use serde::{Deserialize, Serialize};

/// A change to the key-value store, decided by the leader, applied by every member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    Put(PutRequest),
    DeleteRange(DeleteRangeRequest),
    Txn(TxnRequest),
    Compact(CompactionRequest),
    /// `id` is chosen before proposing (by the client, or the leader from the seeded entropy),
    /// so that every member grants the same ID.
    LeaseGrant {
        id: i64,
        ttl_seconds: i64,
    },
    /// A client revoke, or the leader's lessor deciding the lease expired.
    LeaseRevoke {
        id: i64,
    },
}

/// What applying a [`Command`] returned. The response headers are left empty (`None`): the
/// service edge fills cluster_id, member_id and raft_term; `Applied::revision` is the revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CommandResponse {
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
    Compact(CompactionResponse),
    LeaseGrant(LeaseGrantResponse),
    LeaseRevoke(LeaseRevokeResponse),
}

/// The outcome of applying one command.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The response, or the error every member reached for this command (the revision did not
    /// move and nothing changed).
    pub response: Result<CommandResponse, crate::MvccError>,
    /// The store revision after the command (unchanged if it changed nothing).
    pub revision: i64,
    /// The events the command produced, in order, all at `revision`, each with `prev_kv` set
    /// when a previous value existed. Empty if nothing changed.
    pub events: Vec<Event>,
}
