//! The benchmark's HTTPS client: like client-go, a few HTTP/2 connections carry every request
//! as a stream, authenticated with the admin's client certificate and trusting only the
//! cluster's CA.
//!
//! Each request has a deadline covering the whole answer, body included; bodies are capped.
//! A failure is reduced to a short, stable text (`409 AlreadyExists`, `timeout`) so the report
//! can count failures by kind.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http2::SendRequest;
use hyper::{Method, Request, body::Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use kubesim_net::Network as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::TlsConnector;

use super::plan::{CertFiles, Plan, Server};

/// The largest answer read: a list of 100,000 pods (the most `--pods` allows) fits.
const MAX_RESPONSE_BYTES: usize = 1 << 30;
/// Go's HTTP/2 client windows (client-go's transport): 4 MiB per stream, so a big list is
/// not throttled by window updates; the connection's is set high for the same reason.
const STREAM_WINDOW_BYTES: u32 = 4 << 20;
const CONNECTION_WINDOW_BYTES: u32 = 64 << 20;
/// How much of an unexpected (non-Status) error body goes into the report.
const ERROR_SNIPPET_CHARS: usize = 80;

/// An answer that arrived whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub body: Bytes,
}

impl Reply {
    /// The answer's code and reason, if it is not one of `expected`.
    pub fn expect(self, expected: &[u16]) -> Result<Reply, String> {
        if expected.contains(&self.code) {
            Ok(self)
        } else {
            Err(failure_text(self.code, &self.body))
        }
    }
}

/// Connections to the API server, used round robin by index.
#[derive(Clone)]
pub struct ApiClient {
    senders: Vec<SendRequest<Full<Bytes>>>,
    authority: String,
    request_timeout: Duration,
}

impl ApiClient {
    /// Opens `count` connections and checks each answers `/version`, so a wrong address or
    /// certificate shows at once rather than as `total` failures.
    pub async fn connect(plan: &Plan, tls: &TlsConnector, count: usize) -> anyhow::Result<Self> {
        let mut senders = Vec::with_capacity(count);
        for _ in 0..count {
            senders.push(connect_one(plan, tls).await?);
        }
        let client = ApiClient {
            senders,
            authority: plan.server.authority.clone(),
            request_timeout: plan.request_timeout,
        };
        for conn in 0..count {
            client
                .send(conn, Method::GET, "/version", None)
                .await
                .and_then(|reply| reply.expect(&[200]))
                .map_err(|e| anyhow::anyhow!("{}: GET /version: {e}", plan.server.url()))?;
        }
        Ok(client)
    }

    pub fn conns(&self) -> usize {
        self.senders.len()
    }

    /// Sends one request on connection `conn % conns` and reads the whole answer within the
    /// request timeout.
    pub async fn send(
        &self,
        conn: usize,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Reply, String> {
        let request = self.request(method, path, body)?;
        let mut sender = self.senders[conn % self.senders.len()].clone();
        let exchange = async move {
            let response = sender.send_request(request).await.map_err(http_failure)?;
            let code = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading the body: {e}"))?
                .to_bytes();
            Ok(Reply { code, body })
        };
        tokio::time::timeout(self.request_timeout, exchange)
            .await
            .unwrap_or_else(|_| Err("timeout".to_string()))
    }

    /// Starts a streaming GET (a watch): waits, within the request timeout, for a 200 and
    /// returns the body to read as it comes.
    pub async fn open_stream(&self, conn: usize, path: &str) -> Result<Incoming, String> {
        let request = self.request(Method::GET, path, None)?;
        let mut sender = self.senders[conn % self.senders.len()].clone();
        let opened = async move { sender.send_request(request).await.map_err(http_failure) };
        let response = tokio::time::timeout(self.request_timeout, opened)
            .await
            .unwrap_or_else(|_| Err("timeout".to_string()))?;
        let code = response.status().as_u16();
        if code != 200 {
            let body = tokio::time::timeout(
                self.request_timeout,
                Limited::new(response.into_body(), MAX_RESPONSE_BYTES).collect(),
            )
            .await;
            let body = match body {
                Ok(Ok(collected)) => collected.to_bytes(),
                _ => Bytes::new(),
            };
            return Err(failure_text(code, &body));
        }
        Ok(response.into_body())
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Request<Full<Bytes>>, String> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("https://{}{path}", self.authority))
            .header("accept", "application/json")
            .header("user-agent", "kubesim-bench/api");
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| format!("bad request {path:?}: {e}"))
    }
}

/// One TLS connection speaking HTTP/2, its driver task spawned.
async fn connect_one(plan: &Plan, tls: &TlsConnector) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let server = &plan.server;
    let dial = kubesim_net::network::TokioNetwork.connect(&server.authority);
    let tcp = tokio::time::timeout(plan.dial_timeout, dial)
        .await
        .map_err(|_| anyhow::anyhow!("{}: dial timed out", server.url()))?
        .map_err(|e| anyhow::anyhow!("{}: {e}", server.url()))?;
    let name = server_name(server)?;
    let stream = tokio::time::timeout(plan.dial_timeout, tls.connect(name, tcp))
        .await
        .map_err(|_| anyhow::anyhow!("{}: TLS handshake timed out", server.url()))?
        .map_err(|e| anyhow::anyhow!("{}: TLS: {e}", server.url()))?;
    if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
        anyhow::bail!("{}: the server did not agree to HTTP/2", server.url());
    }
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(STREAM_WINDOW_BYTES)
        .initial_connection_window_size(CONNECTION_WINDOW_BYTES)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| anyhow::anyhow!("{}: HTTP/2 handshake: {e}", server.url()))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("bench api: connection ended: {e}");
        }
    });
    Ok(sender)
}

fn server_name(server: &Server) -> anyhow::Result<ServerName<'static>> {
    ServerName::try_from(server.host.clone())
        .map_err(|e| anyhow::anyhow!("{}: not a host name: {e}", server.url()))
}

/// The client's TLS: the cluster CA as the only root, the admin certificate, ALPN h2 only
/// (the benchmark measures the HTTP/2 path kubectl and client-go take).
pub fn tls_connector(files: &CertFiles) -> anyhow::Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in pem_certificates(&files.ca)? {
        roots
            .add(ca)
            .map_err(|e| anyhow::anyhow!("{}: {e}", files.ca.display()))?;
    }
    let chain = pem_certificates(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| anyhow::anyhow!("{}: no usable private key: {e}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("TLS protocol versions: {e}"))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| anyhow::anyhow!("{}: {e}", files.cert.display()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

fn pem_certificates(path: &std::path::Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let unreadable = |e| anyhow::anyhow!("{}: {e}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(unreadable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    if certs.is_empty() {
        anyhow::bail!("{}: no PEM certificate in it", path.display());
    }
    Ok(certs)
}

fn http_failure(error: hyper::Error) -> String {
    format!("HTTP/2: {error}")
}

/// `409 AlreadyExists` from a Status body, else the code and the start of the body. Names
/// are left out on purpose: failures are counted by kind, and every pod has its own name.
pub fn failure_text(code: u16, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Status {
        #[serde(default)]
        reason: String,
    }
    match serde_json::from_slice::<Status>(body) {
        Ok(status) if !status.reason.is_empty() => format!("{code} {}", status.reason),
        _ => {
            let text = String::from_utf8_lossy(body);
            let snippet: String = text.trim().chars().take(ERROR_SNIPPET_CHARS).collect();
            format!("{code} {snippet}").trim_end().to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_by_code_and_reason() {
        let conflict = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"pods \"p\" already exists","reason":"AlreadyExists","code":409}"#;
        assert_eq!(failure_text(409, conflict), "409 AlreadyExists");
        assert_eq!(failure_text(502, b"  bad gateway\n"), "502 bad gateway");
        assert_eq!(failure_text(500, b""), "500");
        assert_eq!(
            failure_text(500, br#"{"reason":""}"#),
            r#"500 {"reason":""}"#
        );
        let long = "x".repeat(200);
        assert_eq!(
            failure_text(503, long.as_bytes()).len(),
            4 + ERROR_SNIPPET_CHARS
        );
    }

    #[test]
    fn reply_expect_keeps_wanted_codes() {
        let reply = Reply {
            code: 201,
            body: Bytes::from_static(b"{}"),
        };
        assert_eq!(reply.clone().expect(&[200, 201]).unwrap().code, 201);
        assert_eq!(reply.expect(&[200]).unwrap_err(), "201 {}");
    }
}
