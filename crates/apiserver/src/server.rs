//! The listener and the connections: one accept loop, one task per connection (mini-redis's
//! `Listener` and `Handler`). Each connection does its TLS handshake within a bound, then
//! hyper serves HTTP/1.1 or HTTP/2 on it, every request going through the [`Chain`].
//!
//! Bounds: a semaphore caps open connections (the loop stops accepting at the cap, so the
//! kernel's backlog absorbs a burst); the TLS handshake and an HTTP/1.1 request header each
//! have a timeout; HTTP/2 caps streams per connection. Shutdown: `/readyz` starts failing,
//! the loop stops accepting, every connection finishes the requests under way (hyper's
//! graceful shutdown), and whatever is still open after the grace period is closed.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use kubesim_net::Env;
use kubesim_net::network::{Conn, Listener};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::chain::{Chain, PeerCertificates};
use crate::registry::Registry;
use crate::routes::Routes;
use crate::{ApiServerConfig, security, tls};
use kubesim_storage::EtcdStorage;

/// After a failed accept (out of file descriptors, say), wait this long before the next, so
/// the loop does not spin while the condition lasts.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// A running API server. Dropping it without [`ApiServer::shutdown`] leaves it running until
/// the runtime stops.
#[derive(Debug)]
pub struct ApiServer {
    /// The address actually bound (a port of 0 in the config is resolved here).
    local_addr: SocketAddr,
    /// Tells the accept loop to stop.
    stop: watch::Sender<bool>,
    /// Read by `/readyz`; set first thing on shutdown.
    shutting_down: Arc<AtomicBool>,
    /// The accept loop; it returns once every connection is closed.
    accept_loop: JoinHandle<()>,
}

impl ApiServer {
    /// Loads the serving certificate, binds `config.bind_address` through `env.net` and starts
    /// serving. Fails, with a message naming the flag or address at fault, when the config is
    /// out of bounds, a PEM file does not load, or the address cannot be bound.
    pub async fn start(env: Env, config: ApiServerConfig) -> Result<ApiServer, String> {
        config.validate()?;
        let acceptor = TlsAcceptor::from(tls::server_config(&config)?);
        let listener = env
            .net
            .bind(&config.bind_address)
            .await
            .map_err(|e| format!("failed to listen on {}: {e}", config.bind_address))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| format!("failed to read the bound address: {e}"))?;
        let shutting_down = Arc::new(AtomicBool::new(false));
        let chain = build_chain(&env, &config, local_addr, shutting_down.clone())?;
        let (stop, stopped) = watch::channel(false);
        let accept_loop = tokio::spawn(accept_loop(listener, acceptor, chain, config, stopped));
        tracing::info!(address = %local_addr, "API server listening (HTTPS, HTTP/1.1 and HTTP/2)");
        Ok(ApiServer {
            local_addr,
            stop,
            shutting_down,
            accept_loop,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets requests under way finish within the grace period, then closes
    /// every connection. Returns once all are closed.
    pub async fn shutdown(self) {
        self.shutting_down.store(true, Ordering::Relaxed);
        // The loop may already have ended (its task panicked); nothing more to stop then.
        let _ = self.stop.send(true);
        if let Err(error) = self.accept_loop.await {
            tracing::error!(%error, "API server accept loop failed");
        }
    }
}

/// The handler chain `ApiServer::start` serves, over the store of `config.etcd_servers`,
/// with every stage and background task it starts (watch caches, admission, RBAC policy,
/// APF, audit); `local_addr` is what `/api` advertises. Public so that a request's cost
/// can be measured in-process without TLS or sockets (`examples/create_cost.rs`).
pub fn build_chain(
    env: &Env,
    config: &ApiServerConfig,
    local_addr: SocketAddr,
    shutting_down: Arc<AtomicBool>,
) -> Result<Arc<Chain>, String> {
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let registry = match config.etcd_servers.as_slice() {
        [] => None,
        servers => {
            let storage =
                EtcdStorage::new(env, servers).map_err(|e| format!("--etcd-servers: {e}"))?;
            let storage = storage.with_observer(etcd_observer(&metrics, &config.etcd_prefix));
            Some(Registry::start(env.clone(), storage, &config.etcd_prefix))
        }
    };
    let security = Arc::new(security::build(
        &config.auth,
        config.client_ca_file.as_deref(),
        env,
        registry.as_ref(),
    )?);
    if let Some(registry) = &registry {
        crate::admission::start(env, registry, &config.admission)
            .map_err(|e| format!("admission: {e}"))?;
    }
    let policy = registry.as_ref().map(|registry| {
        registry.set_write_guard(Arc::new(security::escalation::RbacGuard::new(&security)));
        security::policy::start(registry)
    });
    let flow_control = config.enable_priority_and_fairness.then(|| {
        let limit = config.max_requests_inflight + config.max_mutating_requests_inflight;
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        crate::flowcontrol::start(limit, registry.as_ref())
    });
    let auditor = crate::audit::Auditor::build(&config.audit, env)?;
    let routes = Routes {
        server_address: advertised_address(local_addr),
        shutting_down,
        max_request_body_bytes: config.max_request_body_bytes,
        registry,
        policy,
        flow_control: flow_control.clone(),
        auditor: auditor.clone(),
        clock: env.clock.clone(),
        metrics,
    };
    let mut chain = Chain::new(config, routes, security, env.entropy.clone());
    if let Some(controller) = flow_control {
        chain = chain.with_flow_control(controller);
    }
    Ok(Arc::new(chain.with_auditor(auditor)))
}

/// `etcd_request_duration_seconds`: each store request by operation and resource (the key's
/// first segment after the prefix: `/registry/pods/a/b` is `pods`); inside a request, its
/// trace's `storage` span too (`crate::trace::storage_call`).
pub(crate) fn etcd_observer(
    metrics: &Arc<crate::metrics::Metrics>,
    prefix: &str,
) -> kubesim_storage::storage::Observer {
    let metrics = metrics.clone();
    let prefix = format!("{}/", prefix.trim_end_matches('/'));
    Arc::new(move |operation, key, elapsed| {
        let rest = key.strip_prefix(prefix.as_str()).unwrap_or(key);
        let resource = rest.split('/').next().unwrap_or("");
        metrics.observe_etcd(operation, resource, elapsed);
        crate::trace::storage_call(operation, resource, elapsed);
    })
}

/// The address `/api` tells clients to use: the bound one, or loopback when bound to every
/// interface (there is no `--advertise-address` yet).
fn advertised_address(local: SocketAddr) -> String {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port()).to_string()
}

/// Accepts until told to stop, then shuts every connection down gracefully.
async fn accept_loop(
    mut listener: Box<dyn Listener>,
    acceptor: TlsAcceptor,
    chain: Arc<Chain>,
    config: ApiServerConfig,
    mut stop: watch::Receiver<bool>,
) {
    let builder = Arc::new(http_builder(&config));
    let open = Arc::new(Semaphore::new(config.max_connections));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        // Reap finished connections, so the set holds only open ones.
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            permit = open.clone().acquire_owned() => permit,
            _ = stop.changed() => break,
        };
        // Invariant: the semaphore is never closed.
        let permit = permit.expect("the connection semaphore is never closed");
        let conn = tokio::select! {
            conn = listener.accept() => conn,
            _ = stop.changed() => break,
        };
        match conn {
            Ok(conn) => {
                let handler = Handler {
                    acceptor: acceptor.clone(),
                    builder: builder.clone(),
                    chain: chain.clone(),
                    handshake_timeout: config.tls_handshake_timeout,
                    watcher: graceful.watcher(),
                    _permit: permit,
                };
                connections.spawn(handler.run(conn));
            }
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(config.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?config.shutdown_grace, open = connections.len(),
            "closing connections still busy after the shutdown grace period");
    }
    connections.shutdown().await;
}

/// hyper's server, HTTP/1.1 and HTTP/2 by the connection's first bytes.
fn http_builder(config: &ApiServerConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(config.http2_max_concurrent_streams)
        .keep_alive_interval(config.http2_keep_alive_interval)
        .keep_alive_timeout(config.http2_keep_alive_timeout);
    builder
}

/// One connection, from TLS handshake to close.
struct Handler {
    acceptor: TlsAcceptor,
    builder: Arc<auto::Builder<TokioExecutor>>,
    chain: Arc<Chain>,
    handshake_timeout: Duration,
    /// Tells the connection to finish its requests and close when shutdown begins.
    watcher: Watcher,
    /// Counts this connection against `max_connections` until it closes.
    _permit: OwnedSemaphorePermit,
}

impl Handler {
    async fn run(self, conn: Conn) {
        // A client that never finishes the handshake costs one task for at most the
        // handshake timeout.
        let tls = match tokio::time::timeout(self.handshake_timeout, self.handshake(conn)).await {
            Ok(Ok(Some(tls))) => tls,
            Ok(Ok(None)) => return,
            Ok(Err(error)) => {
                tracing::debug!(%error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!("TLS handshake timed out");
                return;
            }
        };
        let chain = self.chain;
        // Read once per connection; every request on it carries the chain for
        // authentication, which verifies it at the request's time.
        let peer = PeerCertificates(Arc::new(
            tls.get_ref()
                .1
                .peer_certificates()
                .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
                .unwrap_or_default(),
        ));
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let chain = chain.clone();
            request.extensions_mut().insert(peer.clone());
            async move { Ok::<_, Infallible>(chain.handle(request).await) }
        });
        let connection = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(tls), service)
            .into_owned();
        if let Err(error) = self.watcher.watch(connection).await {
            tracing::debug!(%error, "connection ended with an error");
        }
    }

    /// The TLS handshake, or `None` for a client that closed at once or spoke plain HTTP.
    /// A plain-HTTP client gets Go's answer (what kube-apiserver sends), so `curl http://`
    /// says what went wrong instead of printing TLS alert bytes.
    async fn handshake(&self, mut conn: Conn) -> std::io::Result<Option<TlsStream<Replay>>> {
        let mut first = [0u8; 1];
        if conn.read(&mut first).await? == 0 {
            return Ok(None);
        }
        // Every HTTP method starts with an upper-case letter; a TLS record never does.
        if first[0].is_ascii_uppercase() {
            conn.write_all(PLAIN_HTTP_ANSWER).await?;
            conn.shutdown().await?;
            return Ok(None);
        }
        // Many streams answer at once on a busy connection: their frames leave in one write
        // (kubesim_net::coalesce), below TLS so that one write carries their records.
        let conn = kubesim_net::coalesce::coalesced(conn);
        let tls = self.acceptor.accept(Replay::new(first[0], conn)).await?;
        Ok(Some(tls))
    }
}

/// Go's answer to a plain-HTTP request on a TLS port, byte for byte.
const PLAIN_HTTP_ANSWER: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// A connection whose first byte was already read (to tell TLS from plain HTTP): it is
/// handed to TLS again before the rest.
struct Replay {
    first: Option<u8>,
    inner: Conn,
}

impl Replay {
    fn new(first: u8, inner: Conn) -> Replay {
        Replay {
            first: Some(first),
            inner,
        }
    }
}

impl AsyncRead for Replay {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if buf.remaining() > 0
            && let Some(byte) = self.first.take()
        {
            buf.put_slice(&[byte]);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Replay {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_advertise_loopback() {
        assert_eq!(
            advertised_address("0.0.0.0:6443".parse().unwrap()),
            "127.0.0.1:6443"
        );
        assert_eq!(
            advertised_address("[::]:6443".parse().unwrap()),
            "[::1]:6443"
        );
        assert_eq!(
            advertised_address("10.1.2.3:443".parse().unwrap()),
            "10.1.2.3:443"
        );
    }
}
