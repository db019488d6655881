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
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use kubesim_net::network::{Conn, Listener, incoming};
use kubesim_proto::etcdserverpb::ResponseHeader;
use kubesim_proto::etcdserverpb::cluster_server::ClusterServer;
use kubesim_proto::etcdserverpb::kv_server::KvServer;
use kubesim_proto::etcdserverpb::lease_server::LeaseServer;
use kubesim_proto::etcdserverpb::maintenance_server::MaintenanceServer;
use kubesim_proto::etcdserverpb::watch_server::WatchServer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

/// Pause after a failed accept (out of file descriptors, ...) so that tonic's accept loop
/// does not spin on an error that persists.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

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

    let connections = bounded_incoming(listener, limits.max_client_connections);
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

/// The listener's connections, at most `max_connections` open at once: past that, the next
/// accept waits until a connection closes (new clients queue in the kernel's backlog).
fn bounded_incoming(
    listener: Box<dyn Listener>,
    max_connections: usize,
) -> impl Stream<Item = io::Result<Conn>> + Send + 'static {
    let permits = Arc::new(Semaphore::new(max_connections));
    let accepted = Box::pin(incoming(listener));
    futures::stream::unfold((accepted, permits), |(mut accepted, permits)| async move {
        // The semaphore is never closed, so this only fails if that changes: stop serving.
        let permit = permits.clone().acquire_owned().await.ok()?;
        let conn = match accepted.next().await? {
            Ok(conn) => Ok(Conn::new(PermittedConn {
                conn,
                _permit: permit,
            })),
            Err(e) => {
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                Err(e)
            }
        };
        Some((conn, (accepted, permits)))
    })
}

/// A client connection that holds one of the listener's connection permits until it closes.
struct PermittedConn {
    conn: Conn,
    /// Returned to the semaphore when the connection is dropped.
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for PermittedConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.conn).poll_read(cx, buf)
    }
}

impl AsyncWrite for PermittedConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.conn).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.conn).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.conn).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.conn).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.conn.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::future::BoxFuture;
    use tokio::sync::mpsc;

    #[test]
    fn header_carries_each_field_in_place() {
        let h = response_header(11, 22, 33, 44);
        assert_eq!(
            (h.cluster_id, h.member_id, h.revision, h.raft_term),
            (11, 22, 33, 44)
        );
    }

    /// A listener whose connections are handed in by the test.
    struct FakeListener(mpsc::Receiver<Conn>);

    impl Listener for FakeListener {
        fn accept(&mut self) -> BoxFuture<'_, io::Result<Conn>> {
            Box::pin(async move {
                self.0
                    .recv()
                    .await
                    .ok_or_else(|| io::Error::other("listener closed"))
            })
        }

        fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
            Err(io::Error::other("no address"))
        }
    }

    #[tokio::test]
    async fn connections_past_the_bound_wait_for_one_to_close() {
        let (tx, rx) = mpsc::channel(4);
        for _ in 0..2 {
            let (end, _peer) = tokio::io::duplex(64);
            tx.send(Conn::new(end)).await.expect("queue a connection");
        }
        let mut conns = Box::pin(bounded_incoming(Box::new(FakeListener(rx)), 1));
        let first = conns.next().await.expect("stream").expect("first");
        let blocked = tokio::time::timeout(Duration::from_millis(100), conns.next()).await;
        assert!(
            blocked.is_err(),
            "a second connection was accepted past the bound"
        );
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), conns.next())
            .await
            .expect("accepted once the first closed");
        assert!(matches!(second, Some(Ok(_))));
    }
}
