//! The runner's HTTPS client: rustls with the cluster's CA (and the admin's client
//! certificate for the API server), hyper's HTTP/1.1 client over one kept-alive connection
//! per [`Connection`], reconnected after any failure. Every call is bounded by the caller's
//! limit (connecting included) and every body by [`MAX_BODY_BYTES`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::TlsConnector;

/// Largest body read: a pod or a Status is a few KB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The header that asks the API server for `Server-Timing` (`crates/apiserver/src/chain.rs`).
pub const TRACE_HEADER: &str = "x-kubesim-trace";

/// A rustls client configuration trusting the CA in `ca_file`, presenting the certificate
/// and key in `identity` when given.
pub fn tls_config(
    ca_file: &Path,
    identity: Option<(&Path, &Path)>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let read = |path: &Path| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&read(ca_file)?) {
        let cert = cert.map_err(|e| format!("{}: {e}", ca_file.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", ca_file.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert_file, key_file)) => {
            let chain = CertificateDer::pem_slice_iter(&read(cert_file)?)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{}: {e}", cert_file.display()))?;
            let key = PrivateKeyDer::from_pem_slice(&read(key_file)?)
                .map_err(|e| format!("{}: {e}", key_file.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("{}: {e}", cert_file.display()))?
        }
    };
    Ok(Arc::new(config))
}

/// Where to connect: a loopback port, checked against the certificate's IP SAN 127.0.0.1.
#[derive(Clone)]
pub struct Endpoint {
    addr: SocketAddr,
    tls: TlsConnector,
}

impl Endpoint {
    pub fn loopback(port: u16, tls: Arc<rustls::ClientConfig>) -> Endpoint {
        Endpoint {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            tls: TlsConnector::from(tls),
        }
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    /// The `Server-Timing` header, when the server sent one.
    pub server_timing: Option<String>,
    pub body: Bytes,
}

/// Why a call has no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// None within the caller's limit.
    Timeout,
    /// The connection failed or broke.
    Failed(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Timeout => f.write_str("no answer in time"),
            CallError::Failed(reason) => f.write_str(reason),
        }
    }
}

/// One client's connection, made on first use and again after a failure.
pub struct Connection {
    endpoint: Endpoint,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    pub fn new(endpoint: Endpoint) -> Connection {
        Connection {
            endpoint,
            sender: None,
        }
    }

    /// One request within `limit`, asking for `Server-Timing`. After a timeout or a failure
    /// the connection is dropped (an HTTP/1.1 connection with a request in flight cannot
    /// carry another), and the next call makes a new one.
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Bytes>,
        limit: Duration,
    ) -> Result<Reply, CallError> {
        let result = tokio::time::timeout(limit, self.call_unbounded(method, path, body)).await;
        match result {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(reason)) => {
                self.sender = None;
                Err(CallError::Failed(reason))
            }
            Err(_) => {
                self.sender = None;
                Err(CallError::Timeout)
            }
        }
    }

    async fn call_unbounded(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Reply, String> {
        let host = self.endpoint.addr.to_string();
        let sender = self.ready_sender().await?;
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", host)
            .header("accept", "application/json")
            .header(TRACE_HEADER, "1");
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| format!("building the request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        let code = response.status().as_u16();
        let server_timing = response
            .headers()
            .get("server-timing")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the body: {e}"))?
            .to_bytes();
        Ok(Reply {
            code,
            server_timing,
            body,
        })
    }

    /// The kept connection if it can take a request, else a new one.
    async fn ready_sender(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        let usable = match &mut self.sender {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        if !usable {
            self.sender = Some(connect(&self.endpoint).await?);
        }
        self.sender
            .as_mut()
            .ok_or_else(|| "no connection".to_string())
    }
}

async fn connect(endpoint: &Endpoint) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(endpoint.addr)
        .await
        .map_err(|e| format!("connecting to {}: {e}", endpoint.addr))?;
    // Small requests, one at a time: Nagle's algorithm would only add delay.
    let _ = stream.set_nodelay(true);
    let name = ServerName::IpAddress(endpoint.addr.ip().into());
    let tls = endpoint
        .tls
        .connect(name, stream)
        .await
        .map_err(|e| format!("TLS with {}: {e}", endpoint.addr))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| format!("HTTP handshake with {}: {e}", endpoint.addr))?;
    // Ends when the connection closes, or with the runtime at the end of the point.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}
