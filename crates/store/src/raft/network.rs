//! The client side of the peer protocol (proto/kubesim/raft.proto): openraft's
//! `RaftNetworkFactory`/`RaftNetworkV2` over tonic, plus the unary calls the handle makes to the
//! leader (Forward, ReadIndex, Lease).
//!
//! Every message is a postcard-encoded value in `RaftMessage.data`. Every call has its own
//! timeout (`Timing::peer_rpc_timeout`; a snapshot gets `install_snapshot_timeout`): a peer can
//! vanish without a FIN, and turmoil's TCP never retransmits.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kubesim_net::Network;
use kubesim_net::network::{ChannelConfig, UnaryChannel};
use kubesim_proto::raftpb::RaftMessage;
use kubesim_proto::raftpb::raft_peer_client::RaftPeerClient;
use openraft::OptionalSend;
use openraft::errors::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::transport::Channel;

use super::{MemberNode, PeerError, Snapshot, SnapshotData, TypeConfig, Vote, decode, encode};
use crate::config::host_port;

/// Largest peer message: a whole snapshot travels in one.
pub(crate) const MAX_PEER_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Which RPC of the `RaftPeer` service.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rpc {
    AppendEntries,
    Vote,
    InstallSnapshot,
    Forward,
    ReadIndex,
    Lease,
}

/// Why a peer call failed, before it is mapped to openraft's or the store's errors.
#[derive(Debug)]
pub(crate) enum CallError {
    Timeout,
    /// Could not connect, or the peer is down.
    Unreachable(String),
    /// The connection broke or the peer's server failed mid-call: the request may or may
    /// not have been carried out.
    OutcomeUnknown(String),
    /// The request could not be encoded, or the peer's answer could not be decoded.
    Failed(String),
}

impl From<CallError> for PeerError {
    fn from(err: CallError) -> PeerError {
        match err {
            CallError::Timeout => PeerError::Timeout,
            CallError::Unreachable(msg) => PeerError::Unreachable(msg),
            // As etcd does when a leader dies mid-request: "request timed out" (Unavailable),
            // which a client may retry; the handle never retries it itself.
            CallError::OutcomeUnknown(_) => PeerError::Timeout,
            // It reached the peer: whether it was carried out is unknown, so no retry.
            CallError::Failed(msg) => PeerError::Internal(format!("peer call failed: {msg}")),
        }
    }
}

/// One lazily connecting channel per peer address, shared by openraft's replication and the
/// handle's calls to the leader. Bounded by the number of members ever seen.
#[derive(Clone)]
pub(crate) struct PeerChannels {
    net: Arc<dyn Network>,
    /// Connect timeout and the transport's own per-request ceiling.
    config: ChannelConfig,
    channels: Arc<Mutex<BTreeMap<String, Channel>>>,
}

impl PeerChannels {
    pub(crate) fn new(net: Arc<dyn Network>, connect_timeout: Duration, ceiling: Duration) -> Self {
        PeerChannels {
            net,
            config: ChannelConfig {
                connect_timeout,
                request_timeout: ceiling,
                ..ChannelConfig::default()
            },
            channels: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    pub(crate) fn client(&self, node: &MemberNode) -> Result<RaftPeerClient<UnaryChannel>, String> {
        let url = node
            .peer_urls
            .first()
            .ok_or_else(|| "member has no peer URL".to_owned())?;
        let addr = host_port(url)?;
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let channel = match channels.get(addr) {
            Some(channel) => channel.clone(),
            None => {
                let channel = kubesim_net::network::channel(self.net.clone(), addr, self.config)
                    .map_err(|e| e.to_string())?;
                channels.insert(addr.to_owned(), channel.clone());
                channel
            }
        };
        // Every peer RPC is unary: each message goes out as one frame ([`UnaryChannel`]).
        Ok(RaftPeerClient::new(UnaryChannel::new(channel))
            .max_decoding_message_size(MAX_PEER_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_PEER_MESSAGE_BYTES))
    }
}

/// Sends `req` and decodes the answer, within `timeout`.
pub(crate) async fn call<Req: Serialize, Resp: DeserializeOwned>(
    client: &mut RaftPeerClient<UnaryChannel>,
    rpc: Rpc,
    req: &Req,
    timeout: Duration,
) -> Result<Resp, CallError> {
    let data = encode(req).map_err(|e| CallError::Failed(e.to_string()))?;
    let reply = tokio::time::timeout(timeout, unary(client, rpc, data))
        .await
        .map_err(|_| CallError::Timeout)??;
    decode(&reply).map_err(|e| CallError::Failed(e.to_string()))
}

async fn unary(
    client: &mut RaftPeerClient<UnaryChannel>,
    rpc: Rpc,
    data: Vec<u8>,
) -> Result<Vec<u8>, CallError> {
    let req = tonic::Request::new(RaftMessage { data });
    let result = match rpc {
        Rpc::AppendEntries => client.append_entries(req).await,
        Rpc::Vote => client.vote(req).await,
        Rpc::InstallSnapshot => client.install_snapshot(req).await,
        Rpc::Forward => client.forward(req).await,
        Rpc::ReadIndex => client.read_index(req).await,
        Rpc::Lease => client.lease(req).await,
    };
    match result {
        Ok(reply) => Ok(reply.into_inner().data),
        Err(status) => Err(match status.code() {
            tonic::Code::Unavailable if never_sent(&status) => {
                CallError::Unreachable(status.message().to_owned())
            }
            // Unavailable after the request went out (a keepalive PING unanswered, the
            // connection reset mid-call): the leader may have carried it out. Retrying a
            // write then could apply it twice, so the outcome is unknown.
            tonic::Code::Unavailable => CallError::OutcomeUnknown(status.message().to_owned()),
            // tonic reports its own deadline as Cancelled.
            tonic::Code::Cancelled | tonic::Code::DeadlineExceeded => CallError::Timeout,
            // The handler's own errors travel inside the reply, so any other status is the
            // transport's (e.g. the connection closed mid-call).
            _ => CallError::OutcomeUnknown(status.message().to_owned()),
        }),
    }
}

/// Whether the call failed before its request left: the channel could not connect. Only
/// then is retrying a non-idempotent request (a forwarded write) safe.
fn never_sent(status: &tonic::Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(err) = source {
        if err.is::<tonic::ConnectError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Builds one [`PeerConnection`] per target for openraft.
pub(crate) struct NetworkFactory {
    channels: PeerChannels,
    rpc_timeout: Duration,
    snapshot_timeout: Duration,
}

impl NetworkFactory {
    pub(crate) fn new(
        channels: PeerChannels,
        rpc_timeout: Duration,
        snapshot_timeout: Duration,
    ) -> Self {
        NetworkFactory {
            channels,
            rpc_timeout,
            snapshot_timeout,
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerConnection;

    async fn new_client(&mut self, _target: u64, node: &MemberNode) -> PeerConnection {
        PeerConnection {
            client: self.channels.client(node),
            rpc_timeout: self.rpc_timeout,
            snapshot_timeout: self.snapshot_timeout,
        }
    }
}

/// openraft's view of one peer.
pub(crate) struct PeerConnection {
    /// Err if the member's peer URL is unusable: every call then fails as unreachable.
    client: Result<RaftPeerClient<UnaryChannel>, String>,
    rpc_timeout: Duration,
    snapshot_timeout: Duration,
}

impl PeerConnection {
    /// A Raft RPC: the peer answers `Result<Resp, String>` (its openraft error, as text).
    async fn raft_call<Req: Serialize, Resp: DeserializeOwned>(
        &mut self,
        rpc: Rpc,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, RPCError<TypeConfig>> {
        let client = self
            .client
            .as_mut()
            .map_err(|e| RPCError::Unreachable(Unreachable::from_string(e.clone())))?;
        let reply: Result<Resp, String> =
            call(client, rpc, req, timeout).await.map_err(|e| match e {
                CallError::Unreachable(msg) => RPCError::Unreachable(Unreachable::from_string(msg)),
                CallError::Timeout => {
                    RPCError::Network(NetworkError::from_string(format!("{rpc:?} timed out")))
                }
                CallError::OutcomeUnknown(msg) | CallError::Failed(msg) => {
                    RPCError::Network(NetworkError::from_string(msg))
                }
            })?;
        reply.map_err(|msg| RPCError::Network(NetworkError::from_string(msg)))
    }
}

impl RaftNetworkV2<TypeConfig> for PeerConnection {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        // openraft suggests its heartbeat interval as the TTL; an append that includes a
        // quorum fsync needs longer, so the peer RPC timeout bounds it instead.
        self.raft_call(Rpc::AppendEntries, &rpc, self.rpc_timeout)
            .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.raft_call(Rpc::Vote, &rpc, self.rpc_timeout).await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let req = (&vote, &snapshot.meta, &snapshot.snapshot);
        let timeout = self.snapshot_timeout;
        tokio::select! {
            result = self.raft_call(Rpc::InstallSnapshot, &req, timeout) => {
                result.map_err(|e| match e {
                    RPCError::Unreachable(u) => StreamingError::Unreachable(u),
                    other => StreamingError::Network(NetworkError::from_string(other.to_string())),
                })
            }
            closed = cancel => Err(StreamingError::Closed(closed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A forwarded write is retried only when it never left: a failure to connect is
    /// "unreachable" (retried), anything after the request went out is "outcome unknown".
    /// The simulation found a retried compare-and-swap applied twice before this split.
    #[test]
    fn only_connect_failures_count_as_never_sent() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let connect = tonic::Status::from_error(Box::new(tonic::ConnectError(Box::new(refused))));
        assert_eq!(connect.code(), tonic::Code::Unavailable);
        assert!(never_sent(&connect));

        let keepalive = tonic::Status::unavailable("keep-alive timed out");
        assert!(!never_sent(&keepalive));
    }
}
