//! The listener and its connections: one accept loop over the seam's bounded listener
//! (`kubesim_net::network::bounded_incoming`, so the simulation can serve a sample under
//! turmoil), one task per connection: the TLS handshake within a bound, then hyper serving
//! HTTP/1.1 or HTTP/2 (ALPN, or the connection's first bytes), each request through
//! `crate::routes`.
//!
//! Shutdown: the loop stops accepting, hangs end, connections finish the requests under way
//! (hyper's graceful shutdown) within [`Limits::shutdown_grace`], and the rest are closed.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use kubesim_net::network::{Conn, Listener, bounded_incoming};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::faults::{Faults, Knobs};
use crate::routes::{Closer, Routes};
use crate::samples::Sample;

/// Every bound of a server, with its defaults in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest review body (HTTPS) or message (gRPC): kube's own request limit, 3 MiB.
    pub max_request_body_bytes: usize,
    /// Open connections; past it, new clients wait in the kernel's backlog.
    pub max_connections: usize,
    pub tls_handshake_timeout: Duration,
    /// For an HTTP/1.1 request's header.
    pub header_read_timeout: Duration,
    /// Calls in flight on one HTTP/2 connection (Go's default).
    pub http2_max_concurrent_streams: u32,
    /// HTTP/2 PINGs, so a client that vanished is dropped within interval + timeout.
    pub http2_keep_alive_interval: Duration,
    pub http2_keep_alive_timeout: Duration,
    /// The longest a `hang` (and a `close`'s wait for its connection to drop) lasts: past
    /// kube's longest webhook timeout (30 s) and any delay `--latency` can draw.
    pub hang_limit: Duration,
    /// How long requests under way may take to finish once shutdown starts.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_body_bytes: 3 * 1024 * 1024,
            max_connections: 1024,
            tls_handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
            http2_max_concurrent_streams: 250,
            http2_keep_alive_interval: Duration::from_secs(10),
            http2_keep_alive_timeout: Duration::from_secs(10),
            hang_limit: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl Limits {
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("max_request_body_bytes", self.max_request_body_bytes),
            ("max_connections", self.max_connections),
            (
                "http2_max_concurrent_streams",
                self.http2_max_concurrent_streams as usize,
            ),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(format!("limits: {name} must be above 0"));
        }
        let durations = [
            ("tls_handshake_timeout", self.tls_handshake_timeout),
            ("header_read_timeout", self.header_read_timeout),
            ("http2_keep_alive_interval", self.http2_keep_alive_interval),
            ("http2_keep_alive_timeout", self.http2_keep_alive_timeout),
            ("hang_limit", self.hang_limit),
        ];
        match durations.iter().find(|(_, value)| value.is_zero()) {
            Some((name, _)) => Err(format!("limits: {name} must be above 0")),
            None => Ok(()),
        }
    }
}

/// Serves `sample` with `knobs` on `listener` over TLS until `shutdown` completes, with the
/// default [`Limits`]. Fails at once when the knobs are out of range.
pub async fn serve(
    sample: Sample,
    knobs: Knobs,
    listener: Box<dyn Listener>,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    serve_with_limits(sample, knobs, Limits::default(), listener, tls, shutdown).await
}

/// [`serve`] with other bounds.
pub async fn serve_with_limits(
    sample: Sample,
    knobs: Knobs,
    limits: Limits,
    listener: Box<dyn Listener>,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    knobs.validate()?;
    limits.validate()?;
    let (stop, stopping) = watch::channel(false);
    let shared = Arc::new(Shared {
        routes: Routes::new(sample, Faults::new(knobs), limits.clone(), stopping),
        builder: http_builder(&limits),
        acceptor: TlsAcceptor::from(tls),
        handshake_timeout: limits.tls_handshake_timeout,
    });
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut accepted = Box::pin(bounded_incoming(listener, limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Reap finished connections, so the set holds only open ones.
        while connections.try_join_next().is_some() {}
        let conn = tokio::select! {
            _ = &mut shutdown => break,
            conn = accepted.next() => conn,
        };
        match conn {
            Some(Ok(conn)) => {
                connections.spawn(shared.clone().serve_connection(conn, graceful.watcher()));
            }
            // The seam already paused after the failure, so the loop does not spin.
            Some(Err(error)) => tracing::warn!(%error, "accepting a connection failed"),
            None => break,
        }
    }
    drop(accepted);
    let _ = stop.send(true);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "closing connections still busy after the shutdown grace period"
        );
    }
    connections.shutdown().await;
    Ok(())
}

/// What every connection of a server uses.
struct Shared {
    routes: Routes,
    builder: auto::Builder<TokioExecutor>,
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
}

/// hyper's server: HTTP/1.1 and HTTP/2 on one port.
fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_concurrent_streams)
        .keep_alive_interval(limits.http2_keep_alive_interval)
        .keep_alive_timeout(limits.http2_keep_alive_timeout);
    builder
}

impl Shared {
    /// One connection, from the TLS handshake to its close: closed by the client, by
    /// shutdown, or by a `close`/`hang` fate.
    async fn serve_connection(self: Arc<Self>, conn: Conn, watcher: Watcher) {
        let tls =
            match tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(conn)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::debug!(%error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!("TLS handshake timed out");
                    return;
                }
            };
        let closer = Closer::default();
        let service = {
            let shared = self.clone();
            let closer = closer.clone();
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let shared = shared.clone();
                let closer = closer.clone();
                async move { Ok::<_, Infallible>(shared.routes.handle(request, closer).await) }
            })
        };
        let connection = self
            .builder
            .serve_connection(TokioIo::new(tls), service)
            .into_owned();
        tokio::select! {
            result = watcher.watch(connection) => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
            }
            // Dropping the connection closes the socket without a response or close_notify.
            _ = closer.closed() => tracing::debug!("dropping a connection on purpose"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_limits_are_valid_and_zeros_are_not() {
        assert_eq!(Limits::default().validate(), Ok(()));
        assert_eq!(Limits::default().max_request_body_bytes, 3 * 1024 * 1024);
        let no_connections = Limits {
            max_connections: 0,
            ..Limits::default()
        };
        assert_eq!(
            no_connections.validate(),
            Err("limits: max_connections must be above 0".into())
        );
        let no_hang = Limits {
            hang_limit: Duration::ZERO,
            ..Limits::default()
        };
        assert_eq!(
            no_hang.validate(),
            Err("limits: hang_limit must be above 0".into())
        );
    }
}
