//! TLS to the authz service, for a webhook kubeconfig whose server is `https://`: what the
//! kubeconfig says ([`WebhookTls`]: the server name, the CA, the client certificate) and a
//! network that makes the TLS handshake on every connection it dials ([`TlsNetwork`]), so the
//! gRPC channel is the seam's own (`kubesim_net::network::channel`, its timeouts and
//! keepalives) with TLS under it.
//!
//! ALPN is `h2` only: gRPC needs HTTP/2, and a server that cannot speak it fails the handshake
//! instead of the first call.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use kubesim_audit::kubeconfig::RestConfig;
use kubesim_net::Network;
use kubesim_net::network::{Conn, Listener};
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

/// How the Webhook authorizer secures its connection to the authz service.
#[derive(Clone)]
pub struct WebhookTls {
    /// What the kubeconfig says (server, trust, client certificate): kept to compare and
    /// show configurations.
    rest: RestConfig,
    /// Built once from `rest`, so a bad CA or key fails at start-up, not on the first call.
    client_config: Arc<rustls::ClientConfig>,
}

impl WebhookTls {
    /// The TLS settings of a kubeconfig with an `https://` server. Fails when its CA bundle
    /// or client certificate cannot be used.
    pub fn new(rest: RestConfig) -> Result<WebhookTls, String> {
        let built = rest.tls_client_config().map_err(|e| e.to_string())?;
        let mut client_config = rustls::ClientConfig::clone(&built);
        client_config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(WebhookTls {
            rest,
            client_config: Arc::new(client_config),
        })
    }

    /// The name sent in SNI and checked in the service's certificate.
    pub fn server_name(&self) -> &str {
        &self.rest.server_name
    }

    /// Whether a client certificate is presented.
    pub fn has_client_certificate(&self) -> bool {
        self.rest.client_certificate.is_some()
    }

    /// `inner` with every dialled connection wrapped in TLS to this server.
    pub fn network(&self, inner: Arc<dyn Network>) -> Result<Arc<dyn Network>, String> {
        let server_name = ServerName::try_from(self.server_name().to_string()).map_err(|e| {
            format!(
                "{:?} is not a valid TLS server name: {e}",
                self.server_name()
            )
        })?;
        Ok(Arc::new(TlsNetwork {
            inner,
            connector: TlsConnector::from(self.client_config.clone()),
            server_name,
        }))
    }
}

impl PartialEq for WebhookTls {
    /// The configuration is built from `rest` alone, so equal kubeconfigs give equal TLS.
    fn eq(&self, other: &WebhookTls) -> bool {
        self.rest == other.rest
    }
}

impl Eq for WebhookTls {}

impl std::fmt::Debug for WebhookTls {
    /// Through `RestConfig`'s own Debug, which keeps credentials out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WebhookTls").field(&self.rest).finish()
    }
}

/// A network whose connections are TLS clients of one server name. Listening is the inner
/// network's: only the client side is wrapped.
struct TlsNetwork {
    inner: Arc<dyn Network>,
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl Network for TlsNetwork {
    fn bind<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Box<dyn Listener>>> {
        self.inner.bind(addr)
    }

    /// TCP then the handshake; the caller's connect timeout bounds both.
    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Conn>> {
        Box::pin(async move {
            let tcp = self.inner.connect(addr).await?;
            let name = self.server_name.clone();
            match self.connector.connect(name, tcp).await {
                Ok(tls) => Ok(Conn::new(tls)),
                Err(error) => Err(handshake_error(&self.server_name, &error)),
            }
        })
    }

    fn http2_reset_stream_duration(&self) -> Option<Duration> {
        self.inner.http2_reset_stream_duration()
    }
}

/// A failed handshake in words that name the server name and, when rustls refused the
/// certificate, why (`x509: certificate signed by unknown authority`, as Go says it). The
/// seam's dialer already prefixes the address.
fn handshake_error(name: &ServerName<'_>, error: &io::Error) -> io::Error {
    use rustls::CertificateError::{BadSignature, UnknownIssuer};
    let tls = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let unknown =
        "tls: failed to verify certificate: x509: certificate signed by unknown authority";
    let why = match tls {
        Some(rustls::Error::InvalidCertificate(UnknownIssuer)) => unknown.to_string(),
        // Another CA of the same name (two `kubesim certs` runs): Go's words for it.
        Some(rustls::Error::InvalidCertificate(BadSignature)) => format!(
            "{unknown} (possibly because the signature does not verify against the trusted CA \
             of the same name)"
        ),
        Some(rustls::Error::InvalidCertificate(cert)) => {
            format!("tls: failed to verify certificate: {cert:?}")
        }
        Some(other) => format!("tls: {other}"),
        None => error.to_string(),
    };
    let name = name.to_str();
    io::Error::new(
        error.kind(),
        format!("TLS handshake (server name {name:?}): {why}"),
    )
}
