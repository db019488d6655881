//! [`ApiClient`]: a Kubernetes client as one identity, HTTPS over turmoil's TCP.
//!
//! hyper's HTTP/1.1 client on tokio-rustls with a client certificate, one fresh connection
//! per request (no pool to reason about when a host crashes), every call bounded by the
//! client's timeout and every body by [`MAX_BODY_BYTES`]. A watch is read line by line with
//! [`WatchStream`].

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio_rustls::TlsConnector;

/// Largest response body read: a list of every pod of a run is far below.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Largest watch line (one event).
const MAX_LINE_BYTES: usize = 1024 * 1024;

/// One identity's way to the API server.
#[derive(Clone)]
pub struct ApiClient {
    /// The user, for the history.
    pub user: String,
    /// Turmoil host name of the API server (also the name its certificate is checked for).
    host: String,
    port: u16,
    tls: TlsConnector,
    /// Bound of one call, connection and body included.
    pub timeout: Duration,
}

/// An answer: the status code and the JSON body (`Null` when it is not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub body: Value,
    /// How long each admission webhook call took, as the API server reports it in the
    /// `Server-Timing` header every request asks for (`X-Kubesim-Trace`).
    pub webhook_calls: Vec<(String, Duration)>,
}

/// The webhook calls of a `Server-Timing` header (`admission.<name>;dur=<ms>`): a webhook's
/// name is a DNS name, with dots, while a built-in plugin's (`admission.PodSecurity`) has none.
pub fn webhook_calls(server_timing: &str) -> Vec<(String, Duration)> {
    server_timing
        .split(',')
        .filter_map(|entry| {
            let (name, dur) = entry.trim().split_once(";dur=")?;
            let webhook = name.strip_prefix("admission.")?;
            let ms: f64 = dur.trim().parse().ok()?;
            (webhook.contains('.') && ms.is_finite() && ms >= 0.0)
                .then(|| (webhook.to_owned(), Duration::from_secs_f64(ms / 1000.0)))
        })
        .collect()
}

impl Reply {
    /// `metadata.resourceVersion` of the object or list answered.
    pub fn resource_version(&self) -> Option<&str> {
        self.body
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
    }

    /// A Status's message, or empty.
    pub fn message(&self) -> String {
        self.body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

impl ApiClient {
    pub fn new(
        user: &str,
        host: &str,
        port: u16,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Self {
        ApiClient {
            user: user.to_owned(),
            host: host.to_owned(),
            port,
            tls: TlsConnector::from(tls),
            timeout,
        }
    }

    /// One request; `Err` when no answer came within the timeout (outcome unknown).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Reply> {
        let attempt = async {
            let response = self.send(method, path, content_type, body).await?;
            let code = response.status().as_u16();
            let webhook_calls = response
                .headers()
                .get("server-timing")
                .and_then(|v| v.to_str().ok())
                .map(webhook_calls)
                .unwrap_or_default();
            let bytes = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| anyhow!("reading the body: {e}"))?
                .to_bytes();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            Ok(Reply {
                code,
                body,
                webhook_calls,
            })
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => bail!("no answer within {:?}", self.timeout),
        }
    }

    /// A watch: the response's head within the timeout, then its events as they come.
    pub async fn watch(&self, path: &str) -> anyhow::Result<Result<WatchStream, Reply>> {
        let response = tokio::time::timeout(self.timeout, self.send("GET", path, "", None))
            .await
            .map_err(|_| anyhow!("no answer within {:?}", self.timeout))??;
        let code = response.status().as_u16();
        if code != 200 {
            let bytes = tokio::time::timeout(
                self.timeout,
                Limited::new(response.into_body(), MAX_BODY_BYTES).collect(),
            )
            .await
            .map_err(|_| anyhow!("no body within {:?}", self.timeout))?
            .map_err(|e| anyhow!("reading the body: {e}"))?
            .to_bytes();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            return Ok(Err(Reply {
                code,
                body,
                webhook_calls: Vec::new(),
            }));
        }
        Ok(Ok(WatchStream {
            body: response.into_body(),
            buffer: BytesMut::new(),
        }))
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<hyper::Response<Incoming>> {
        let stream = turmoil::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .context("connecting")?;
        let name = ServerName::try_from(self.host.clone()).context("server name")?;
        let tls = self.tls.connect(name, stream).await.context("TLS")?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .context("HTTP handshake")?;
        // Ends when the connection closes: with the response body, or with the server.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let payload = match body {
            Some(value) => Bytes::from(serde_json::to_vec(value)?),
            None => Bytes::new(),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header("accept", "application/json")
            // Every answer then says how long each webhook call took (`Server-Timing`).
            .header("x-kubesim-trace", "1");
        if body.is_some() {
            request = request.header("content-type", content_type);
        }
        let request = request.body(Full::new(payload))?;
        sender.send_request(request).await.context("sending")
    }
}

/// A watch response's body, one event (JSON line) at a time.
pub struct WatchStream {
    body: Incoming,
    buffer: BytesMut,
}

impl WatchStream {
    /// The next event; `Ok(None)` when the server ended the stream.
    pub async fn next(&mut self) -> anyhow::Result<Option<Value>> {
        loop {
            if let Some(at) = self.buffer.iter().position(|b| *b == b'\n') {
                let line = self.buffer.split_to(at + 1);
                let line = &line[..at];
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return serde_json::from_slice(line)
                    .map(Some)
                    .context("a watch line that is not JSON");
            }
            if self.buffer.len() > MAX_LINE_BYTES {
                bail!("a watch line over {MAX_LINE_BYTES} bytes");
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(frame) => {
                    let frame = frame.context("reading the watch")?;
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}
