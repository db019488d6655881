//! The authz service over TLS (`kubesim authz --tls-cert-file --tls-private-key-file`): the
//! seam's accepted connections, each through a TLS handshake, as the stream tonic serves
//! (`serve_with_incoming`). Handshakes run side by side, each bounded, so a client that
//! connects and says nothing holds up no other.
//!
//! ALPN is `h2` only ([`grpc_server_config`]): the service speaks gRPC, which needs HTTP/2.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kubesim_net::network::Conn;
use tokio_rustls::TlsAcceptor;

/// Bounds of the TLS accept, with their defaults in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsLimits {
    /// How long one handshake may take before the connection is dropped.
    pub handshake_timeout: Duration,
    /// Handshakes under way at once; past it, accepting waits.
    pub max_handshakes: usize,
}

impl Default for TlsLimits {
    fn default() -> TlsLimits {
        TlsLimits {
            handshake_timeout: Duration::from_secs(10),
            max_handshakes: 64,
        }
    }
}

/// `config` offering ALPN `h2` alone: the service answers gRPC only.
pub fn grpc_server_config(config: &rustls::ServerConfig) -> Arc<rustls::ServerConfig> {
    let mut config = config.clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// The TLS connections of `accepted`. A failed or slow handshake is logged and dropped; a
/// failed accept is passed on (tonic logs it and goes on).
pub fn tls_incoming(
    accepted: impl Stream<Item = io::Result<Conn>> + Send + 'static,
    config: Arc<rustls::ServerConfig>,
    limits: TlsLimits,
) -> impl Stream<Item = io::Result<Conn>> + Send + 'static {
    let acceptor = TlsAcceptor::from(config);
    accepted
        .map(move |conn| handshake(acceptor.clone(), conn, limits.handshake_timeout))
        .buffer_unordered(limits.max_handshakes.max(1))
        .filter_map(futures::future::ready)
}

async fn handshake(
    acceptor: TlsAcceptor,
    conn: io::Result<Conn>,
    timeout: Duration,
) -> Option<io::Result<Conn>> {
    let conn = match conn {
        Ok(conn) => conn,
        Err(error) => return Some(Err(error)),
    };
    match tokio::time::timeout(timeout, acceptor.accept(conn)).await {
        Ok(Ok(tls)) => Some(Ok(Conn::new(tls))),
        Ok(Err(error)) => {
            tracing::debug!(%error, "authz service: TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(?timeout, "authz service: TLS handshake timed out");
            None
        }
    }
}
