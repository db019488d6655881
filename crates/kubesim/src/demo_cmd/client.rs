//! The demo's requests: one HTTPS connection per request (HTTP/1.1, what kubectl's
//! `--v=8` shows), each asking for its stage breakdown (`X-Kubesim-Trace: 1`), each with a
//! deadline over the whole answer and a cap on its body. A watch keeps its connection and is
//! read one event (one JSON line) at a time, each wait bounded.
//!
//! TLS comes from the kubeconfig reader (`RestConfig::tls_client_config`: the cluster's CA,
//! the user's client certificate); a token goes in `Authorization: Bearer`.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use kubesim_audit::kubeconfig::RestConfig;
use kubesim_net::Network as _;
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio_rustls::TlsConnector;

/// How long a connection (TCP and TLS) may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole answer may take: webhooks included, far above what a loopback server
/// needs.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest answer read: the demo's objects and lists are a few KiB.
const MAX_BODY_BYTES: usize = 4 << 20;
/// The largest watch event (one line) kept while waiting for its end.
const MAX_EVENT_BYTES: usize = 4 << 20;
/// kubesim's header that asks for `Server-Timing` (`kubesim_apiserver::chain::TRACE_HEADER`).
const TRACE_HEADER: &str = "x-kubesim-trace";

/// Who sends a request: a name for the output, the TLS configuration and a token.
#[derive(Clone)]
pub struct Identity {
    /// `kubesim-admin (context kubesim)`, as the output names the sender.
    pub label: String,
    tls: TlsConnector,
    addr: String,
    authority: String,
    server_name: ServerName<'static>,
    token: Option<String>,
}

impl Identity {
    /// The identity of a kubeconfig context.
    pub fn new(label: &str, config: &RestConfig) -> Result<Identity, String> {
        let tls = config.tls_client_config().map_err(|e| e.to_string())?;
        let server_name = ServerName::try_from(config.server_name.clone())
            .map_err(|e| format!("{:?} is not a server name: {e}", config.server_name))?;
        Ok(Identity {
            label: label.to_string(),
            tls: TlsConnector::from(tls),
            addr: config.server.addr.clone(),
            authority: config.server.authority.clone(),
            server_name,
            token: config.token.clone(),
        })
    }

    /// The same server with only a bearer token (no client certificate).
    pub fn bearer(label: &str, config: &RestConfig, token: &str) -> Result<Identity, String> {
        let mut config = config.clone();
        config.client_certificate = None;
        config.token = Some(token.to_string());
        Identity::new(label, &config)
    }

    fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Request<Full<Bytes>> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.authority)
            .header("accept", "application/json")
            .header("user-agent", "kubesim-demo")
            .header(TRACE_HEADER, "1");
        if let Some(token) = &self.token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(value) => {
                builder = builder.header("content-type", "application/json");
                Bytes::from(value.to_string())
            }
            None => Bytes::new(),
        };
        // The parts are a method, a path the demo wrote and header values it checked: the
        // builder has nothing left to refuse, but a refusal is still an error, not a panic.
        builder
            .body(Full::new(body))
            .unwrap_or_else(|_| Request::new(Full::new(Bytes::new())))
    }

    /// One connection, TLS and HTTP/1.1 handshake; its driver runs in a task.
    async fn connect(
        &self,
    ) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String> {
        let dial = async {
            let tcp = kubesim_net::network::TokioNetwork
                .connect(&self.addr)
                .await
                .map_err(|e| format!("connecting to {}: {e}", self.addr))?;
            self.tls
                .connect(self.server_name.clone(), tcp)
                .await
                .map_err(|e| format!("TLS with {}: {e}", self.addr))
        };
        let stream = tokio::time::timeout(DIAL_TIMEOUT, dial)
            .await
            .map_err(|_| format!("connecting to {}: no answer in {DIAL_TIMEOUT:?}", self.addr))??;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP/1.1 with {}: {e}", self.addr))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("demo: connection ended: {e}");
            }
        });
        Ok(sender)
    }
}

/// An answer, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    /// The `Audit-Id` the server named the request by (its trace's key).
    pub audit_id: Option<String>,
    /// `authentication;dur=0.213, ...`: the stages, in milliseconds.
    pub server_timing: Option<String>,
    /// The whole round trip as the demo saw it, in milliseconds.
    pub elapsed_ms: f64,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends one request as `who` and reads the whole answer within [`REQUEST_TIMEOUT`].
pub async fn send(
    who: &Identity,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Reply, String> {
    let started = std::time::Instant::now();
    let exchange = async {
        let mut sender = who.connect().await?;
        let response = sender
            .send_request(who.request(method.clone(), path, body))
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (code, audit_id, server_timing) = (
            response.status().as_u16(),
            header("audit-id"),
            header("server-timing"),
        );
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok(Reply {
            code,
            audit_id,
            server_timing,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            body,
        })
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("no answer within {REQUEST_TIMEOUT:?}"))?
        .map_err(|e: String| format!("{method} {path}: {e}"))
}

/// An open watch: its body, and the part of a line not yet ended.
pub struct Watch {
    body: Incoming,
    pending: Vec<u8>,
    /// The answer's `Audit-Id`.
    pub audit_id: Option<String>,
}

/// Opens a watch (`path` with `watch=true`) as `who`; waits for its 200 within
/// [`REQUEST_TIMEOUT`].
pub async fn watch(who: &Identity, path: &str) -> Result<Watch, String> {
    let opened = async {
        let mut sender = who.connect().await?;
        sender
            .send_request(who.request(Method::GET, path, None))
            .await
            .map_err(|e| format!("HTTP: {e}"))
    };
    let response = tokio::time::timeout(REQUEST_TIMEOUT, opened)
        .await
        .map_err(|_| format!("GET {path}: no answer within {REQUEST_TIMEOUT:?}"))??;
    let code = response.status().as_u16();
    if code != 200 {
        return Err(format!("GET {path}: {code}, not a watch stream"));
    }
    let audit_id = response
        .headers()
        .get("audit-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok(Watch {
        body: response.into_body(),
        pending: Vec::new(),
        audit_id,
    })
}

impl Watch {
    /// The next event (`{"type": ..., "object": ...}`), waiting at most `timeout`.
    pub async fn next_event(&mut self, timeout: Duration) -> Result<Value, String> {
        tokio::time::timeout(timeout, self.read_line())
            .await
            .map_err(|_| format!("no watch event within {timeout:?}"))?
    }

    async fn read_line(&mut self) -> Result<Value, String> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return serde_json::from_slice(&line)
                    .map_err(|e| format!("a watch event that is not JSON: {e}"));
            }
            if self.pending.len() > MAX_EVENT_BYTES {
                return Err(format!("a watch event over {MAX_EVENT_BYTES} bytes"));
            }
            let frame = match self.body.frame().await {
                Some(frame) => frame.map_err(|e| format!("reading the watch: {e}"))?,
                None => return Err("the server ended the watch".into()),
            };
            if let Ok(data) = frame.into_data() {
                self.pending.extend_from_slice(&data);
            }
        }
    }
}
