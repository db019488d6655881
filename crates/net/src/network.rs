//! The network seam: listeners and connections by `host:port` string.
//!
//! Addresses are strings, not `SocketAddr`s, because under turmoil a host is a name
//! (`store-1:2380`) that only turmoil's resolver knows.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A byte stream: a TCP connection, real or simulated.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A bound listening socket.
pub trait Listener: Send + 'static {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<Conn>>;
    /// The address actually bound (useful after binding port 0).
    fn local_addr(&self) -> io::Result<std::net::SocketAddr>;
}

/// Where listeners and connections come from.
pub trait Network: Send + Sync + 'static {
    fn bind<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Box<dyn Listener>>>;
    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Conn>>;

    /// How long a gRPC [`channel`] over this network remembers a stream it reset (a call
    /// dropped at its timeout), so that it ignores the peer's frames still in flight on it
    /// rather than answering each with RST_STREAM. `None` keeps hyper's default (1 s).
    ///
    /// h2 measures this span on the real clock (`std::time::Instant`), not on tokio's. A
    /// simulated network, whose time is not real, returns a span no run lasts: otherwise
    /// whether a late reply is ignored or answered depends on how fast the machine ran the
    /// simulation, and one seed replays differently on a loaded machine.
    fn http2_reset_stream_duration(&self) -> Option<Duration> {
        None
    }
}

/// One accepted or dialled connection. Implements tonic's `Connected` so it can be served.
pub struct Conn {
    inner: Box<dyn Stream>,
}

impl Conn {
    pub fn new(inner: impl Stream) -> Self {
        Conn {
            inner: Box::new(inner),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

/// The real network.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioNetwork;

struct TokioListener(tokio::net::TcpListener);

impl Listener for TokioListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<Conn>> {
        Box::pin(async move {
            let (stream, _) = self.0.accept().await?;
            // gRPC sends many small frames; Nagle would add up to 40 ms to each.
            stream.set_nodelay(true)?;
            Ok(Conn::new(stream))
        })
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.local_addr()
    }
}

impl Network for TokioNetwork {
    fn bind<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            Ok(Box::new(TokioListener(listener)) as Box<dyn Listener>)
        })
    }

    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Conn>> {
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(Conn::new(stream))
        })
    }
}

/// Turns a listener into the stream of connections `tonic::transport::Server` wants
/// (`serve_with_incoming`). A failed accept (e.g. out of file descriptors) is logged by tonic
/// and the loop goes on.
pub fn incoming(
    listener: Box<dyn Listener>,
) -> impl futures::Stream<Item = io::Result<Conn>> + Send + 'static {
    futures::stream::unfold(listener, |mut listener| async move {
        let conn = listener.accept().await;
        Some((conn, listener))
    })
}

/// Pause after a failed accept (out of file descriptors, ...), so an accept loop does not spin
/// on an error that persists.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// The listener's connections, at most `max_connections` open at once: past that, the next
/// accept waits until a connection closes (new clients queue in the kernel's backlog).
pub fn bounded_incoming(
    listener: Box<dyn Listener>,
    max_connections: usize,
) -> impl futures::Stream<Item = io::Result<Conn>> + Send + 'static {
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

/// Bounds of a gRPC client channel. Every RPC needs its own timeout: turmoil's TCP never
/// retransmits, and a real peer can vanish without a FIN.
#[derive(Debug, Clone, Copy)]
pub struct ChannelConfig {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// HTTP/2 PING interval, and how long a PING may go unanswered before the connection is
    /// dropped and the channel reconnects. Without it a connection whose packets vanish (a
    /// partition, a peer that lost power) stalls every call on it until the OS gives up,
    /// which under the simulation is never.
    pub keep_alive_interval: Duration,
    pub keep_alive_timeout: Duration,
    /// Coalesce the connection's writes ([`crate::coalesce`]): for a client that sends many
    /// requests at once over its one connection (the API server to the store).
    pub coalesce_writes: bool,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            keep_alive_interval: Duration::from_secs(2),
            keep_alive_timeout: Duration::from_secs(2),
            coalesce_writes: false,
        }
    }
}

/// A lazily connecting gRPC channel to `addr` (`host:port`) over the given network. It
/// reconnects by itself after a failure.
pub fn channel(
    net: Arc<dyn Network>,
    addr: &str,
    config: ChannelConfig,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    channel_to_any(net, &[addr.to_owned()], config)
}

/// A lazily connecting gRPC channel to whichever of `addrs` answers, as etcd's clients use
/// `--endpoints`: each (re)connect tries the members in turn, starting after the one the
/// last connection went to, so a channel whose member was stopped or cut off moves to the
/// next instead of waiting for that one to come back. Each try is bounded by the connect
/// timeout. An empty list fails every connect.
pub fn channel_to_any(
    net: Arc<dyn Network>,
    addrs: &[String],
    config: ChannelConfig,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let targets: Arc<[String]> = addrs.into();
    // The member the next connect tries first.
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reset_stream_duration = net.http2_reset_stream_duration();
    let connect_timeout = config.connect_timeout;
    let coalesce = config.coalesce_writes;
    let connector = tower::service_fn(move |_: tonic::transport::Uri| {
        let (net, targets, next) = (net.clone(), targets.clone(), next.clone());
        async move {
            let conn = connect_any(net.as_ref(), &targets, &next, connect_timeout).await?;
            Ok::<_, io::Error>(hyper_util::rt::TokioIo::new(if coalesce {
                crate::coalesce::coalesced(conn)
            } else {
                conn
            }))
        }
    });
    let authority = addrs.first().map(String::as_str).unwrap_or("unreachable");
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{authority}"))?
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .http2_keep_alive_interval(config.keep_alive_interval)
        .keep_alive_timeout(config.keep_alive_timeout)
        .keep_alive_while_idle(true);
    let endpoint = match reset_stream_duration {
        Some(duration) => endpoint.http2_reset_stream_duration(duration),
        None => endpoint,
    };
    Ok(endpoint.connect_with_connector_lazy(connector))
}

/// A gRPC channel for unary calls that sends each request's message as one HTTP/2 DATA frame
/// ending the stream, as grpc-go (etcd's and kube-apiserver's client) does.
///
/// tonic encodes even a unary request as a stream that says it has ended only when polled
/// once more, so over a plain [`tonic::transport::Channel`] hyper sends the message, then an
/// empty END_STREAM frame, from a task it spawns for the body: per call, one more task and
/// one more write to the socket (under the API benchmark, a 9-byte write beside every
/// create's Txn). Here the encoded message (already in memory: encoding does not wait) is
/// collected first, and sent as a body of known length that has ended once read, so hyper
/// sends it with END_STREAM from the call itself.
///
/// Only for unary methods: a streaming request (Watch, LeaseKeepAlive) would be collected
/// until the client closes it. Encoding errors (a message over the encoding limit) come back
/// as the call's [`tonic::Status`].
#[derive(Debug, Clone)]
pub struct UnaryChannel {
    inner: tonic::transport::Channel,
}

impl UnaryChannel {
    pub fn new(inner: tonic::transport::Channel) -> UnaryChannel {
        UnaryChannel { inner }
    }
}

type GrpcRequest = tonic::codegen::http::Request<tonic::body::Body>;
type GrpcResponse = tonic::codegen::http::Response<tonic::body::Body>;

impl tower::Service<GrpcRequest> for UnaryChannel {
    type Response = GrpcResponse;
    type Error = tonic::codegen::StdError;
    type Future = BoxFuture<'static, Result<GrpcResponse, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: GrpcRequest) -> Self::Future {
        use http_body_util::BodyExt;
        // The channel made ready by `poll_ready` goes with the call (tower's rule); a clone
        // stays for the next one.
        let fresh = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, fresh);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let message = body.collect().await?.to_bytes();
            let body = tonic::body::Body::new(http_body_util::Full::new(message));
            let request = GrpcRequest::from_parts(parts, body);
            ready.call(request).await.map_err(Into::into)
        })
    }
}

/// One connect of [`channel_to_any`]: the first of `targets` (from `next`, round) that
/// accepts within `timeout`; the one after it goes first next time.
async fn connect_any(
    net: &dyn Network,
    targets: &[String],
    next: &std::sync::atomic::AtomicUsize,
    timeout: Duration,
) -> io::Result<Conn> {
    use std::sync::atomic::Ordering;
    let start = next.load(Ordering::Relaxed);
    let mut last_error = io::Error::new(io::ErrorKind::InvalidInput, "no endpoint to connect to");
    for offset in 0..targets.len() {
        let index = (start + offset) % targets.len();
        let Some(target) = targets.get(index) else {
            continue;
        };
        match tokio::time::timeout(timeout, net.connect(target)).await {
            Ok(Ok(conn)) => {
                next.store(index + 1, Ordering::Relaxed);
                return Ok(conn);
            }
            Ok(Err(error)) => {
                last_error = io::Error::new(error.kind(), format!("{target}: {error}"))
            }
            Err(_) => {
                last_error = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{target}: no connection within {timeout:?}"),
                )
            }
        }
    }
    Err(last_error)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;
    use futures::future::BoxFuture;
    use tokio::sync::mpsc;

    use super::*;

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

    /// A member that refuses (stopped) is skipped, and a reconnect starts after the member
    /// the last connection went to.
    #[tokio::test]
    async fn connect_any_moves_past_a_member_that_refuses() {
        let live = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live_addr = live.local_addr().unwrap().to_string();
        // A port that was just free: nothing listens there.
        let dead_addr = {
            let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            dead.local_addr().unwrap().to_string()
        };
        let targets = [dead_addr, live_addr];
        let next = std::sync::atomic::AtomicUsize::new(0);
        let timeout = Duration::from_secs(5);
        connect_any(&TokioNetwork, &targets, &next, timeout)
            .await
            .expect("the live member");
        assert_eq!(next.load(std::sync::atomic::Ordering::Relaxed), 2);
        // Round again: the dead one first (index 2 % 2), then the live one.
        connect_any(&TokioNetwork, &targets, &next, timeout)
            .await
            .expect("the live member again");
        let error = connect_any(&TokioNetwork, &targets[..1], &next, timeout)
            .await
            .err()
            .expect("only the dead member: an error");
        assert!(error.to_string().contains(&targets[0]), "{error}");
        let none = connect_any(&TokioNetwork, &[], &next, timeout)
            .await
            .err()
            .expect("no members: an error");
        assert_eq!(none.kind(), io::ErrorKind::InvalidInput);
    }
}
