//! The server side of the peer protocol: the `RaftPeer` gRPC service on `--listen-peer-urls`.
//!
//! Raft RPCs are handed to openraft; Forward, ReadIndex and Lease run on this member as the
//! leader ([`Consensus::execute_on_leader`]) and answer `NotLeader` otherwise. A message that
//! does not decode is rejected and changes nothing. Peers are trusted cluster members: openraft
//! itself asserts on a snapshot that contradicts the log, which only a corrupt peer can send.

use std::future::Future;
use std::sync::Arc;

use kubesim_net::network::{Listener, incoming};
use kubesim_proto::raftpb::RaftMessage;
use kubesim_proto::raftpb::raft_peer_server::{RaftPeer, RaftPeerServer};
use openraft::raft::{AppendEntriesRequest, VoteRequest};
use serde::Serialize;
use tonic::{Request, Response, Status};

use super::network::MAX_PEER_MESSAGE_BYTES;
use super::{
    Consensus, LeaderRequest, PeerError, Snapshot, SnapshotData, SnapshotMeta, TypeConfig, Vote,
    decode, encode,
};
use crate::error::StoreError;

/// Concurrent requests per peer connection: a member has few peers, each with a handful of
/// streams (replication, heartbeats, forwarded writes).
const MAX_CONCURRENT_PER_CONNECTION: usize = 256;

/// HTTP/2 PING interval and timeout on peer connections.
const PEER_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(2);

/// Serves the peer protocol on `listener` until `shutdown` completes.
pub(crate) async fn serve_peers(
    consensus: Arc<Consensus>,
    listener: Box<dyn Listener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StoreError> {
    let timeout = consensus.peer_server_timeout();
    let service = RaftPeerServer::new(PeerService { consensus })
        .max_decoding_message_size(MAX_PEER_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_PEER_MESSAGE_BYTES);
    tonic::transport::Server::builder()
        .concurrency_limit_per_connection(MAX_CONCURRENT_PER_CONNECTION)
        .timeout(timeout)
        // A peer whose packets vanish (power cut, partition) is noticed and its connection
        // dropped, rather than held open for ever.
        .http2_keepalive_interval(Some(PEER_KEEPALIVE))
        .http2_keepalive_timeout(Some(PEER_KEEPALIVE))
        .add_service(service)
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await
        .map_err(|e| StoreError::Internal(format!("peer server: {e}")))
}

struct PeerService {
    consensus: Arc<Consensus>,
}

fn request_data<T: for<'de> serde::Deserialize<'de>>(
    req: Request<RaftMessage>,
) -> Result<T, Status> {
    decode(&req.into_inner().data)
        .map_err(|e| Status::invalid_argument(format!("undecodable peer message: {e}")))
}

fn reply<T: Serialize>(value: &T) -> Result<Response<RaftMessage>, Status> {
    let data = encode(value).map_err(|e| Status::internal(e.to_string()))?;
    Ok(Response::new(RaftMessage { data }))
}

#[tonic::async_trait]
impl RaftPeer for PeerService {
    async fn append_entries(
        &self,
        req: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let rpc: AppendEntriesRequest<TypeConfig> = request_data(req)?;
        let result = self.consensus.raft().append_entries(rpc).await;
        reply(&result.map_err(|e| e.to_string()))
    }

    async fn vote(&self, req: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let rpc: VoteRequest<TypeConfig> = request_data(req)?;
        let result = self.consensus.raft().vote(rpc).await;
        reply(&result.map_err(|e| e.to_string()))
    }

    async fn install_snapshot(
        &self,
        req: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let (vote, meta, snapshot): (Vote, SnapshotMeta, SnapshotData) = request_data(req)?;
        let snapshot = Snapshot { meta, snapshot };
        let result = self
            .consensus
            .raft()
            .install_full_snapshot(vote, snapshot)
            .await;
        reply(&result.map_err(|e| e.to_string()))
    }

    async fn forward(&self, req: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let op: LeaderRequest = request_data(req)?;
        if matches!(
            op,
            LeaderRequest::LeaseKeepAlive { .. } | LeaderRequest::LeaseTimeToLive { .. }
        ) {
            return Err(Status::invalid_argument("lease calls go to RaftPeer.Lease"));
        }
        reply(&self.consensus.execute_on_leader(op).await)
    }

    async fn read_index(&self, req: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        // The request carries nothing; anything else is not a ReadIndex request.
        let () = request_data(req)?;
        let result: Result<u64, PeerError> = self.consensus.read_index_local().await;
        reply(&result)
    }

    async fn lease(&self, req: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let op: LeaderRequest = request_data(req)?;
        if !matches!(
            op,
            LeaderRequest::LeaseKeepAlive { .. } | LeaderRequest::LeaseTimeToLive { .. }
        ) {
            return Err(Status::invalid_argument(
                "only lease calls go to RaftPeer.Lease",
            ));
        }
        reply(&self.consensus.execute_on_leader(op).await)
    }
}
