//! The experiment's measured client: pod creates over HTTPS as one identity, each asking for
//! its stage breakdown (`x-kubesim-trace: 1`) and handing back the status code and the
//! `Server-Timing` header ([`super::super::http::ApiClient`] keeps only the webhook calls of
//! it). Each client keeps its connection between requests, as client-go and kubectl do (a TLS
//! handshake per request would be both unlike a real client and most of the simulation's
//! CPU); a request that fails or times out drops it, and the next one connects afresh. A
//! clone starts with no connection, so clients never share one. Every call is bounded by the
//! timeout, every body by [`MAX_BODY_BYTES`].

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio_rustls::TlsConnector;

/// Largest answer body read (a pod or a Status).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// An answer: the code and the `Server-Timing` header (empty when absent).
#[derive(Debug, Clone)]
pub struct Answer {
    pub code: u16,
    pub server_timing: String,
}

/// Why no answer came.
#[derive(Debug)]
pub enum NoAnswer {
    /// The client's timeout ran out.
    GaveUp,
    /// The connection failed or closed first.
    Failed(anyhow::Error),
}

pub struct TimedClient {
    host: String,
    port: u16,
    tls: TlsConnector,
    timeout: Duration,
    /// The kept connection, ready for the next request; `None` before the first and after
    /// a failure.
    connection: RefCell<Option<SendRequest<Full<Bytes>>>>,
}

impl Clone for TimedClient {
    /// The same endpoint and identity, without the connection.
    fn clone(&self) -> Self {
        TimedClient {
            host: self.host.clone(),
            port: self.port,
            tls: self.tls.clone(),
            timeout: self.timeout,
            connection: RefCell::new(None),
        }
    }
}

impl TimedClient {
    pub fn new(host: &str, port: u16, tls: Arc<rustls::ClientConfig>, timeout: Duration) -> Self {
        TimedClient {
            host: host.to_owned(),
            port,
            tls: TlsConnector::from(tls),
            timeout,
            connection: RefCell::new(None),
        }
    }

    /// POSTs `body` to `path` and reads the whole answer, within the timeout.
    /// The connection is taken out for the call and put back only after a whole answer, so
    /// one cut off by the timeout is dropped with its half-read response.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Answer, NoAnswer> {
        match tokio::time::timeout(self.timeout, self.exchange(path, body)).await {
            Ok(result) => result.map_err(NoAnswer::Failed),
            Err(_) => Err(NoAnswer::GaveUp),
        }
    }

    async fn exchange(&self, path: &str, body: &Value) -> anyhow::Result<Answer> {
        let kept = self.connection.borrow_mut().take();
        let kept = match kept {
            Some(mut sender) => sender.ready().await.is_ok().then_some(sender),
            None => None,
        };
        let (mut sender, reused) = match kept {
            Some(sender) => (sender, true),
            None => (self.connect().await?, false),
        };
        let request = Request::builder()
            .method("POST")
            .uri(path)
            .header("host", &self.host)
            .header("accept", "application/json")
            .header("content-type", "application/json")
            .header("x-kubesim-trace", "1")
            .body(Full::new(Bytes::from(serde_json::to_vec(body)?)))?;
        let response = match sender.try_send_request(request).await {
            Ok(response) => response,
            // A kept connection the server closed between requests: the request never left,
            // so it goes once more on a new connection (as client-go retries it).
            Err(mut error) if reused && error.message().is_some() => {
                let request = error.take_message().context("the unsent request")?;
                sender = self.connect().await?;
                sender.send_request(request).await.context("sending")?
            }
            Err(error) => return Err(anyhow!("sending: {}", error.into_error())),
        };
        let code = response.status().as_u16();
        let server_timing = response
            .headers()
            .get("server-timing")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        // The answer counts once its body is in, as a client sees it.
        Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| anyhow!("reading the body: {e}"))?;
        *self.connection.borrow_mut() = Some(sender);
        Ok(Answer {
            code,
            server_timing,
        })
    }

    /// A new connection: TCP, TLS with the client certificate, HTTP/1.1.
    async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let stream = turmoil::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .context("connecting")?;
        let name = ServerName::try_from(self.host.clone()).context("server name")?;
        let tls = self.tls.connect(name, stream).await.context("TLS")?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .context("HTTP handshake")?;
        // Ends when the connection closes (the server's keep-alive ends, or a failure).
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }
}
