//! etcd's v3 gRPC API on the client URL, so `etcdctl` and every etcd client library work
//! against a kubesim store.
//!
//! Map of the module:
//! - [`serve`]: one tonic server with the five services, bounded connections and message sizes.
//! - [`kv`]: Range, Put, DeleteRange, Txn, Compact.
//! - [`watch`]: the Watch stream; [`watcher`] holds its pure parts (ids, filters, batches).
//! - [`lease`], [`cluster`], [`maintenance`]: the other services.
//! - [`validate`]: the service's own request checks (size, serializable txns); etcd's
//!   request checks are `kubesim_mvcc::check`'s.
//!
//! Every handler checks its request, calls the [`StoreHandle`], fills the response header
//! ([`header`]) and turns errors into `tonic::Status` through [`StoreError`] only.

pub mod cluster;
pub mod kv;
pub mod lease;
pub mod maintenance;
pub mod validate;
pub mod watch;
pub mod watcher;

#[cfg(test)]
mod service_tests;

use std::future::Future;
use std::time::Duration;

use kubesim_net::network::Listener;
use kubesim_proto::etcdserverpb::ResponseHeader;
use kubesim_proto::etcdserverpb::cluster_server::ClusterServer;
use kubesim_proto::etcdserverpb::kv_server::KvServer;
use kubesim_proto::etcdserverpb::lease_server::LeaseServer;
use kubesim_proto::etcdserverpb::maintenance_server::MaintenanceServer;
use kubesim_proto::etcdserverpb::watch_server::WatchServer;

use crate::config::Limits;
use crate::error::StoreError;
use crate::handle::StoreHandle;

/// Room for gRPC framing and the request's own envelope on top of `--max-request-bytes`, so
/// that a request just over the limit reaches our check and gets etcd's "request is too
/// large" rather than a transport error. etcd uses the same margin (`grpcOverheadBytes`).
pub const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// HTTP/2 streams (calls, watch streams, keep-alive streams) one connection may hold open.
/// With `Limits::max_client_connections`, this bounds the streams of the whole server.
pub const MAX_CONCURRENT_STREAMS_PER_CONNECTION: u32 = 1024;

/// etcd's `--grpc-keepalive-interval` and `--grpc-keepalive-timeout` defaults: a client that
/// vanished without closing (its watch stream and queued responses with it) is found and
/// dropped after at most interval + timeout.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2 * 60 * 60);
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves the etcd v3 API of `handle`'s member on `listener` until `shutdown` completes.
/// Then the listener is closed, every watch and keep-alive stream ends with "server stopped"
/// (so clients move to another member), and open calls are drained.
pub async fn serve(
    handle: StoreHandle,
    listener: Box<dyn Listener>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StoreError> {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let max_message_bytes = limits.max_request_bytes + GRPC_OVERHEAD_BYTES;

    let kv = KvServer::new(kv::KvService::new(handle.clone(), limits))
        .max_decoding_message_size(max_message_bytes);
    let watch = WatchServer::new(watch::WatchService::new(
        handle.clone(),
        limits,
        stop.clone(),
    ))
    .max_decoding_message_size(max_message_bytes);
    let lease = LeaseServer::new(lease::LeaseService::new(handle.clone(), limits, stop))
        .max_decoding_message_size(max_message_bytes);
    let cluster = ClusterServer::new(cluster::ClusterService::new(handle.clone()))
        .max_decoding_message_size(max_message_bytes);
    let maintenance = MaintenanceServer::new(maintenance::MaintenanceService::new(handle))
        .max_decoding_message_size(max_message_bytes);

    let connections =
        kubesim_net::network::bounded_incoming(listener, limits.max_client_connections);
    let signal = async move {
        shutdown.await;
        // Long-lived streams would otherwise hold tonic's graceful drain open for ever.
        let _ = stop_tx.send(true);
    };
    tonic::transport::Server::builder()
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS_PER_CONNECTION)
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .add_service(kv)
        .add_service(watch)
        .add_service(lease)
        .add_service(cluster)
        .add_service(maintenance)
        .serve_with_incoming_shutdown(connections, signal)
        .await
        .map_err(|e| StoreError::Internal(format!("etcd client server: {e}")))
}

/// The response header etcd puts on every response.
pub fn response_header(
    cluster_id: u64,
    member_id: u64,
    revision: i64,
    raft_term: u64,
) -> ResponseHeader {
    ResponseHeader {
        cluster_id,
        member_id,
        revision,
        raft_term,
    }
}

/// The header of a response about `revision`, committed in `raft_term`.
pub fn header(handle: &StoreHandle, revision: i64, raft_term: u64) -> ResponseHeader {
    response_header(handle.cluster_id(), handle.member_id(), revision, raft_term)
}

/// The header of a response that is not about one write: this member's current revision and
/// term (etcd's `header.fill`).
pub fn current_header(handle: &StoreHandle) -> ResponseHeader {
    let revision = handle.with_mvcc(|m| m.current_revision());
    header(handle, revision, handle.raft_term())
}

/// Completes once the server is stopping (or gone). The watch guard is dropped here, so the
/// future can be held across awaits in `select!`.
pub(crate) async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_carries_each_field_in_place() {
        let h = response_header(11, 22, 33, 44);
        assert_eq!(
            (h.cluster_id, h.member_id, h.revision, h.raft_term),
            (11, 22, 33, 44)
        );
    }
}
