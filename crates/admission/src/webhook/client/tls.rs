//! TLS to webhooks: rustls configurations trusting exactly a webhook's `caBundle` (cached per
//! bundle, since parsing and building one costs more than a call), the dial and handshake over
//! the network seam, and their failures in the words of Go's `net` and `crypto/tls`, which is
//! what kube's messages carry.

use std::io;
use std::sync::{Arc, Mutex};

use kubesim_net::Network;
use kubesim_net::network::Conn;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{CallError, CallErrorKind, Lru, lock};
use crate::webhook::Transport;

/// Distinct `caBundle`s kept parsed. A cluster has a handful of webhook CAs.
const MAX_CA_BUNDLES: usize = 64;

/// The two configurations of one `caBundle`.
struct ForBundle {
    /// ALPN `http/1.1` only, as kube's webhook client: HTTP/2 would carry every call to one
    /// backend of a Service over one connection (kubernetes/kubernetes#75791).
    https: Arc<ClientConfig>,
    /// ALPN `h2`: gRPC needs HTTP/2.
    grpc: Arc<ClientConfig>,
}

/// rustls client configurations by `caBundle`, bounded.
pub(crate) struct TlsConfigs {
    by_bundle: Mutex<Lru<Vec<u8>, ForBundle>>,
}

impl TlsConfigs {
    pub(crate) fn new() -> TlsConfigs {
        TlsConfigs {
            by_bundle: Mutex::new(Lru::new(MAX_CA_BUNDLES)),
        }
    }

    /// The configuration for calls over `transport` to a webhook with `ca_bundle`.
    pub(crate) fn client_config(
        &self,
        ca_bundle: &[u8],
        transport: Transport,
    ) -> Result<Arc<ClientConfig>, CallError> {
        let pick = |configs: &ForBundle| match transport {
            Transport::Https => configs.https.clone(),
            Transport::Grpc => configs.grpc.clone(),
        };
        if let Some(configs) = lock(&self.by_bundle).get_mut(ca_bundle) {
            return Ok(pick(configs));
        }
        // Built outside the lock; two calls racing on a new bundle both build, one is kept.
        let configs = build(ca_bundle).map_err(|e| CallError::no_client(CallErrorKind::Tls, e))?;
        let config = pick(&configs);
        lock(&self.by_bundle).insert(ca_bundle.to_vec(), configs);
        Ok(config)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.by_bundle).len()
    }
}

fn build(ca_bundle: &[u8]) -> Result<ForBundle, String> {
    if ca_bundle.is_empty() {
        return Err(
            "clientConfig.caBundle is empty, and kubesim trusts no system root \
                    certificates: set caBundle to the PEM of the CA that signed the \
                    webhook's serving certificate"
                .into(),
        );
    }
    let roots =
        root_store(ca_bundle).map_err(|e| format!("unable to load root certificates: {e}"))?;
    let roots = Arc::new(roots);
    let config = |alpn: &[u8]| -> Result<Arc<ClientConfig>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.to_vec()];
        Ok(Arc::new(config))
    };
    Ok(ForBundle {
        https: config(b"http/1.1")?,
        grpc: config(b"h2")?,
    })
}

/// The certificates of a PEM bundle, failing as client-go's `rootCertPool` does.
fn root_store(ca_bundle: &[u8]) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_bundle) {
        let cert = cert.map_err(|_| "unable to parse bytes as PEM block".to_string())?;
        roots
            .add(cert)
            .map_err(|e| format!("failed to parse certificate: {e}"))?;
    }
    if roots.is_empty() {
        let pem = ca_bundle.windows(11).any(|w| w == b"-----BEGIN ");
        return Err(if pem {
            "no valid certificate authority data seen"
        } else {
            "unable to parse bytes as PEM block"
        }
        .into());
    }
    Ok(roots)
}

/// Dials `addr` and makes the TLS handshake naming `server_name`. The error is classified
/// and worded, without the request it belongs to.
pub(crate) async fn dial(
    net: &dyn Network,
    config: Arc<ClientConfig>,
    addr: &str,
    server_name: &str,
) -> Result<TlsStream<Conn>, (CallErrorKind, String)> {
    let name = ServerName::try_from(server_name.to_string()).map_err(|e| {
        let detail = format!("tls: {server_name:?} is not a valid server name: {e}");
        (CallErrorKind::Tls, detail)
    })?;
    let tcp = net.connect(addr).await.map_err(|e| {
        let detail = format!("dial tcp {addr}: {}", go_io_error(&e));
        (CallErrorKind::Unreachable, detail)
    })?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| handshake_error(&e))
}

/// A connection error as Go's `net` package words the common ones.
pub(crate) fn go_io_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
        io::ErrorKind::ConnectionReset => "read: connection reset by peer".into(),
        io::ErrorKind::HostUnreachable => "connect: no route to host".into(),
        io::ErrorKind::NetworkUnreachable => "connect: network is unreachable".into(),
        io::ErrorKind::TimedOut => "i/o timeout".into(),
        io::ErrorKind::UnexpectedEof => "EOF".into(),
        _ => e.to_string(),
    }
}

/// A failed handshake: a TLS error when rustls refused something, else the connection's.
fn handshake_error(e: &io::Error) -> (CallErrorKind, String) {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => (CallErrorKind::Tls, go_tls_error(tls)),
        None => (CallErrorKind::Unreachable, go_io_error(e)),
    }
}

/// A rustls error in `crypto/tls` and `crypto/x509` words where they have one.
fn go_tls_error(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(cert) => {
            format!("tls: failed to verify certificate: x509: {}", go_x509(cert))
        }
        other => format!("tls: {other}"),
    }
}

fn go_x509(e: &CertificateError) -> String {
    match e {
        CertificateError::UnknownIssuer => "certificate signed by unknown authority".into(),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let expected = expected.to_str();
            if presented.is_empty() {
                format!("certificate is not valid for any names, but wanted to match {expected}")
            } else {
                let presented: Vec<&str> = presented.iter().map(|n| presented_name(n)).collect();
                format!(
                    "certificate is valid for {}, not {expected}",
                    presented.join(", ")
                )
            }
        }
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => {
            "certificate has expired or is not yet valid".into()
        }
        other => other.to_string(),
    }
}

/// webpki lists a certificate's names as `DnsName("host")`; Go lists them bare.
fn presented_name(name: &str) -> &str {
    name.strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .unwrap_or(name)
}
