//! The webhook backend: kube's batching audit webhook (`k8s.io/apiserver/plugin/pkg/audit/
//! buffered` in front of `.../audit/webhook`, `--audit-webhook-mode=batch`).
//!
//! - [`WebhookBackend::process_events`] puts events in a bounded buffer
//!   (`--audit-webhook-batch-buffer-size`) and never waits: when the buffer is full the event
//!   and the rest of its call are dropped and counted ([`Backend::dropped`], kube's
//!   `apiserver_audit_error_total{plugin="webhook"}`).
//! - One tokio task, the batcher, takes events from the buffer into batches of at most
//!   `--audit-webhook-batch-max-size`, sending a batch when it is full or when
//!   `--audit-webhook-batch-max-wait` has passed since its first event. Each batch is one
//!   `audit.k8s.io/v1 EventList`, POSTed as JSON to the kubeconfig's server over HTTPS
//!   (connections from the network seam, [`kubesim_net::Network`]).
//! - Each POST is bounded by a timeout (kube's 30 s); a transient failure is retried after
//!   `--audit-webhook-initial-backoff`, growing 1.5 times per retry (kube's backoff, without
//!   its jitter: no unseeded randomness), at most [`WebhookOptions::retries`] times; then the
//!   batch is dropped and counted.
//! - At most [`WebhookOptions::max_in_flight`] batches are being sent at once. kube bounds the
//!   rate of batches instead (`--audit-webhook-batch-throttle-qps`), which lets a dead webhook
//!   hold an unbounded number of goroutines and batches; here a batch waits for a slot, the
//!   buffer fills, and new events are dropped. Memory is bounded by `buffer_size +
//!   (max_in_flight + 1) × max_batch_size` events (the buffer, the batches being sent, the
//!   one being filled), each as large as the API server's request body limit lets it be.
//! - [`WebhookBackend::shutdown`] stops taking events, sends what is buffered, and waits a
//!   bounded time for it; what is still unsent then is dropped and counted.
//!
//! Which failures are retried: kube retries connection resets, 500, 504, 429 and answers with
//! `Retry-After`. kubesim also retries a refused connection and any 5xx (a webhook that is
//! restarting refuses connections for a moment, or answers 502/503 behind a proxy), and not
//! a TLS failure or another 4xx, which the same batch would meet again.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use kubesim_net::Network;
use rustls::pki_types::ServerName;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use super::Backend;
use crate::event::{API_VERSION, Event};
use crate::kubeconfig::{RestConfig, Server};

/// kube's plugin name, the `plugin` label of `apiserver_audit_error_total`.
pub const PLUGIN_NAME: &str = "webhook";

/// What a failed POST's message quotes of the answer's body: client-go's
/// `maxUnstructuredResponseTextBytes`.
const MAX_ERROR_TEXT_BYTES: usize = 2048;

/// The largest number of retries [`WebhookOptions::validate`] accepts: 10 retries already
/// wait 10 s × (1.5¹⁰ − 1) / 0.5 ≈ 17 minutes at kube's initial backoff.
pub const MAX_RETRIES: u32 = 10;

/// The backend's bounds, with kube's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOptions {
    /// The parsed `--audit-webhook-config-file`.
    pub config: RestConfig,
    /// `--audit-webhook-batch-buffer-size`: events waiting to be batched.
    pub buffer_size: usize,
    /// `--audit-webhook-batch-max-size`: events in one EventList.
    pub max_batch_size: usize,
    /// `--audit-webhook-batch-max-wait`: the longest an event waits for its batch to fill.
    pub max_batch_wait: Duration,
    /// `--audit-webhook-initial-backoff`: the wait before the first retry.
    pub initial_backoff: Duration,
    /// Retries after the first attempt: kube's backoff has 5 steps, so 4.
    pub retries: u32,
    /// One POST, from the dial to the answer's status: kube's webhook request timeout.
    pub timeout: Duration,
    /// Batches being sent (or waiting to be retried) at once.
    pub max_in_flight: usize,
}

impl WebhookOptions {
    pub const DEFAULT_BUFFER_SIZE: usize = 10_000;
    pub const DEFAULT_MAX_BATCH_SIZE: usize = 400;
    pub const DEFAULT_MAX_BATCH_WAIT: Duration = Duration::from_secs(30);
    pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_secs(10);
    pub const DEFAULT_RETRIES: u32 = 4;
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// A few, so one slow answer does not hold back the next batch, and a dead webhook holds
    /// at most this many batches.
    pub const DEFAULT_MAX_IN_FLIGHT: usize = 4;

    /// kube's defaults for the webhook of `config`.
    pub fn new(config: RestConfig) -> WebhookOptions {
        WebhookOptions {
            config,
            buffer_size: Self::DEFAULT_BUFFER_SIZE,
            max_batch_size: Self::DEFAULT_MAX_BATCH_SIZE,
            max_batch_wait: Self::DEFAULT_MAX_BATCH_WAIT,
            initial_backoff: Self::DEFAULT_INITIAL_BACKOFF,
            retries: Self::DEFAULT_RETRIES,
            timeout: Self::DEFAULT_TIMEOUT,
            max_in_flight: Self::DEFAULT_MAX_IN_FLIGHT,
        }
    }

    /// kube's checks of the batch flags, and kubesim's of its own bounds.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("buffer size", self.buffer_size),
            ("max batch size", self.max_batch_size),
            ("max in flight", self.max_in_flight),
        ];
        if let Some((name, value)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(format!(
                "invalid audit batch {PLUGIN_NAME} {name} {value}, must be a positive number"
            ));
        }
        // kubesim's own bound: a buffer or batch this large would be a typo, and would ask
        // for that much memory up front.
        let sizes = [
            ("buffer size", self.buffer_size),
            ("max batch size", self.max_batch_size),
            ("max in flight", self.max_in_flight),
        ];
        if let Some((name, value)) = sizes.iter().find(|(_, value)| *value > MAX_SIZE) {
            return Err(format!(
                "invalid audit batch {PLUGIN_NAME} {name} {value}, must be at most {MAX_SIZE}"
            ));
        }
        if self.timeout.is_zero() {
            return Err(format!(
                "invalid audit {PLUGIN_NAME} timeout 0s, must be above 0"
            ));
        }
        // Waits are added to instants: bounded so that the sum cannot overflow.
        let waits = [
            ("max batch wait", self.max_batch_wait),
            ("initial backoff", self.initial_backoff),
            ("timeout", self.timeout),
        ];
        if let Some((name, value)) = waits.iter().find(|(_, value)| *value > MAX_WAIT) {
            return Err(format!(
                "invalid audit {PLUGIN_NAME} {name} {value:?}, must be at most {MAX_WAIT:?}"
            ));
        }
        if self.retries > MAX_RETRIES {
            return Err(format!(
                "invalid audit {PLUGIN_NAME} retries {}, must be at most {MAX_RETRIES}",
                self.retries
            ));
        }
        Ok(())
    }
}

/// The longest batch wait, backoff or timeout accepted (a day).
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// The largest buffer, batch or in-flight count accepted (the log backend's bound too).
pub const MAX_SIZE: usize = 1_000_000;

/// The waits before each retry: `initial`, then 1.5 times the previous one.
pub fn backoffs(initial: Duration, retries: u32) -> impl Iterator<Item = Duration> {
    std::iter::successors(Some(initial), |previous| {
        Some(previous.saturating_add(*previous / 2))
    })
    .take(retries as usize)
}

/// Counts shared by the backend and its batcher.
#[derive(Debug, Default)]
struct Counters {
    /// Taken into the buffer and neither sent nor dropped yet.
    pending: AtomicU64,
    /// Delivered: answered with a 2xx.
    sent: AtomicU64,
    /// Dropped: the buffer was full or closed, or their batch failed.
    dropped: AtomicU64,
}

impl Counters {
    /// Counts `events` as dropped. A full buffer drops on every call while it lasts, so the
    /// log line is written when the total crosses a power of two: a few dozen lines at most.
    fn drop_events(&self, events: u64, reason: &str) {
        if events == 0 {
            return;
        }
        let before = self.dropped.fetch_add(events, Ordering::Relaxed);
        let after = before + events;
        if before == 0 || after.ilog2() > before.ilog2() {
            tracing::warn!(
                plugin = PLUGIN_NAME,
                events,
                dropped_total = after,
                "audit events dropped: {reason}"
            );
        }
    }

    /// A batch taken out of the buffer has an outcome.
    fn settle(&self, events: u64) {
        self.pending.fetch_sub(events, Ordering::Relaxed);
    }
}

/// The batching webhook backend; see the module doc.
pub struct WebhookBackend {
    /// The bounded buffer's sending end.
    buffer: mpsc::Sender<Arc<Event>>,
    counters: Arc<Counters>,
    /// Tells the batcher to stop taking events and flush.
    stop: watch::Sender<bool>,
    /// The batcher, until [`WebhookBackend::shutdown`] takes it.
    batcher: Mutex<Option<JoinHandle<()>>>,
    /// For `Debug`.
    url: String,
}

impl std::fmt::Debug for WebhookBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookBackend")
            .field("url", &self.url)
            .field(
                "buffered",
                &(self.buffer.max_capacity() - self.buffer.capacity()),
            )
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl WebhookBackend {
    /// Validates `options`, builds the TLS configuration, and spawns the batcher on the
    /// current tokio runtime; fails outside one.
    pub fn new(options: WebhookOptions, net: Arc<dyn Network>) -> Result<WebhookBackend, String> {
        options.validate()?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "the audit webhook backend must be started on a tokio runtime")?;
        let tls = options
            .config
            .tls_client_config()
            .map_err(|e| format!("audit webhook kubeconfig: {e}"))?;
        let server_name = ServerName::try_from(options.config.server_name.clone())
            .map_err(|e| format!("audit webhook server name: {e}"))?;
        let counters = Arc::new(Counters::default());
        let (buffer, received) = mpsc::channel(options.buffer_size);
        let (stop, stopped) = watch::channel(false);
        let url = options.config.server.url.clone();
        let client = Arc::new(Client {
            net,
            tls: TlsConnector::from(tls),
            server_name,
            authorization: authorization(options.config.token.as_deref())?,
            server: options.config.server.clone(),
            timeout: options.timeout,
            initial_backoff: options.initial_backoff,
            retries: options.retries,
            counters: counters.clone(),
        });
        let batcher = Batcher {
            received,
            stopped,
            client,
            max_batch_size: options.max_batch_size,
            max_batch_wait: options.max_batch_wait,
            max_in_flight: options.max_in_flight,
        };
        Ok(WebhookBackend {
            buffer,
            counters,
            stop,
            batcher: Mutex::new(Some(runtime.spawn(batcher.run()))),
            url,
        })
    }

    /// Events delivered (their batch was answered with a 2xx).
    pub fn sent(&self) -> u64 {
        self.counters.sent.load(Ordering::Relaxed)
    }

    /// Events taken and not yet delivered or dropped.
    pub fn pending(&self) -> u64 {
        self.counters.pending.load(Ordering::Relaxed)
    }

    /// Stops taking events (later ones are dropped and counted), sends what is buffered, and
    /// waits at most `grace` for it: kube's `Shutdown`, bounded. Events still unsent then are
    /// dropped and counted. A second call returns at once.
    pub async fn shutdown(&self, grace: Duration) {
        let _ = self.stop.send(true);
        let batcher = self
            .batcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(mut batcher) = batcher else {
            return;
        };
        if tokio::time::timeout(grace, &mut batcher).await.is_ok() {
            return;
        }
        // The POSTs live in the batcher's task: once it is gone, nothing settles any more.
        batcher.abort();
        let _ = batcher.await;
        let unsent = self.counters.pending.swap(0, Ordering::Relaxed);
        self.counters
            .drop_events(unsent, "the backend shut down before they were sent");
    }
}

impl Backend for WebhookBackend {
    fn process_events(&self, events: &[Arc<Event>]) {
        for (taken, event) in events.iter().enumerate() {
            // Counted before the send, so the batcher never settles more than is pending.
            self.counters.pending.fetch_add(1, Ordering::Relaxed);
            if let Err(error) = self.buffer.try_send(event.clone()) {
                self.counters.settle(1);
                let reason = match error {
                    mpsc::error::TrySendError::Full(_) => "audit buffer queue blocked",
                    mpsc::error::TrySendError::Closed(_) => "audit backend shut down",
                };
                // kube drops the rest of the call with the event that did not fit.
                let rest = (events.len() - taken) as u64;
                self.counters.drop_events(rest, reason);
                return;
            }
        }
    }

    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }
}

/// `Authorization: Bearer <token>`, checked once.
fn authorization(token: Option<&str>) -> Result<Option<header::HeaderValue>, String> {
    let Some(token) = token else {
        return Ok(None);
    };
    let mut value = header::HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| "audit webhook kubeconfig: the token is not a valid header value")?;
    value.set_sensitive(true);
    Ok(Some(value))
}

type Sending = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The task that turns the buffer into batches and sends them.
struct Batcher {
    received: mpsc::Receiver<Arc<Event>>,
    stopped: watch::Receiver<bool>,
    client: Arc<Client>,
    max_batch_size: usize,
    max_batch_wait: Duration,
    max_in_flight: usize,
}

impl Batcher {
    async fn run(self) {
        let Batcher {
            mut received,
            mut stopped,
            client,
            max_batch_size,
            max_batch_wait,
            max_in_flight,
        } = self;
        let mut batch: Vec<Arc<Event>> = Vec::with_capacity(max_batch_size);
        // When the batch is sent even if not full: `max_batch_wait` after its first event.
        let mut deadline: Option<Instant> = None;
        let mut in_flight: FuturesUnordered<Sending> = FuturesUnordered::new();
        // The buffer is closed and empty: no event will come any more.
        let mut drained = false;
        let mut stopping = false;
        loop {
            let due = batch.len() >= max_batch_size
                || drained
                || deadline.is_some_and(|at| at <= Instant::now());
            if due && !batch.is_empty() && in_flight.len() < max_in_flight {
                let events = std::mem::replace(&mut batch, Vec::with_capacity(max_batch_size));
                deadline = None;
                in_flight.push(Box::pin(client.clone().send_batch(events)));
                continue;
            }
            if drained && batch.is_empty() && in_flight.is_empty() {
                return;
            }
            let room = max_batch_size - batch.len();
            let wake_at = deadline.unwrap_or_else(Instant::now);
            tokio::select! {
                Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
                taken = received.recv_many(&mut batch, room), if room > 0 && !drained => {
                    if taken == 0 {
                        drained = true;
                    } else if deadline.is_none() {
                        deadline = Some(Instant::now() + max_batch_wait);
                    }
                }
                () = tokio::time::sleep_until(wake_at), if deadline.is_some() && !due => {}
                // A dropped backend stops the batcher as a shutdown does.
                _ = stopped.changed(), if !stopping => {
                    stopping = true;
                    received.close();
                }
            }
        }
    }
}

/// Sends batches: where, how, and how often to try.
struct Client {
    net: Arc<dyn Network>,
    tls: TlsConnector,
    server_name: ServerName<'static>,
    server: Server,
    authorization: Option<header::HeaderValue>,
    timeout: Duration,
    initial_backoff: Duration,
    retries: u32,
    counters: Arc<Counters>,
}

/// A failed POST, and whether another attempt may succeed.
#[derive(Debug)]
struct PostError {
    message: String,
    transient: bool,
}

impl PostError {
    fn transient(message: String) -> PostError {
        PostError {
            message,
            transient: true,
        }
    }

    fn permanent(message: String) -> PostError {
        PostError {
            message,
            transient: false,
        }
    }
}

/// What is POSTed: kube's EventList, borrowing the events.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutgoingList<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: ListMeta,
    items: Vec<&'a Event>,
}

/// `metadata: {}`.
#[derive(Serialize)]
struct ListMeta {}

fn encode(events: &[Arc<Event>]) -> Result<Bytes, serde_json::Error> {
    let list = OutgoingList {
        kind: "EventList",
        api_version: API_VERSION,
        metadata: ListMeta {},
        items: events.iter().map(|event| &**event).collect(),
    };
    serde_json::to_vec(&list).map(Bytes::from)
}

impl Client {
    /// Sends one batch, retrying, and counts its events as sent or dropped.
    async fn send_batch(self: Arc<Self>, events: Vec<Arc<Event>>) {
        let count = events.len() as u64;
        let outcome = match encode(&events) {
            Ok(body) => {
                // The body is all that is needed from here on.
                drop(events);
                self.post_with_retries(body).await
            }
            Err(e) => Err(PostError::permanent(format!("encoding the EventList: {e}"))),
        };
        self.counters.settle(count);
        match outcome {
            Ok(()) => {
                self.counters.sent.fetch_add(count, Ordering::Relaxed);
            }
            Err(error) => {
                tracing::warn!(
                    plugin = PLUGIN_NAME,
                    events = count,
                    error = %error.message,
                    "error in audit plugin"
                );
                self.counters
                    .drop_events(count, "their batch could not be sent");
            }
        }
    }

    async fn post_with_retries(&self, body: Bytes) -> Result<(), PostError> {
        let mut waits = backoffs(self.initial_backoff, self.retries);
        loop {
            let error = match tokio::time::timeout(self.timeout, self.post(body.clone())).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(error)) => error,
                Err(_) => PostError::transient(format!(
                    "Post {:?}: context deadline exceeded",
                    self.server.url
                )),
            };
            let wait = match waits.next() {
                Some(wait) if error.transient => wait,
                _ => return Err(error),
            };
            tracing::debug!(
                plugin = PLUGIN_NAME,
                error = %error.message,
                retry_in = ?wait,
                "audit webhook POST failed; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt, on a connection of its own: batches are a few per second at most, and a
    /// fresh connection never meets one the server closed while it sat idle. The caller
    /// bounds the time.
    async fn post(&self, body: Bytes) -> Result<(), PostError> {
        let described = format!("Post {:?}", self.server.url);
        let addr = &self.server.addr;
        let tcp = self
            .net
            .connect(addr)
            .await
            .map_err(|e| PostError::transient(format!("{described}: dial tcp {addr}: {e}")))?;
        let tls = self
            .tls
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| handshake_error(&described, e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| PostError::transient(format!("{described}: {e}")))?;
        let request = self.request(body)?;
        let exchange = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| PostError::transient(format!("{described}: {e}")))?;
            check_status(&described, response).await
        };
        let mut exchange = std::pin::pin!(exchange);
        let mut connection = std::pin::pin!(connection);
        // The connection is driven until the answer is in; if it ends first, the exchange
        // ends too, with what was read or with the error. Dropping it closes the socket.
        tokio::select! {
            biased;
            outcome = &mut exchange => outcome,
            _ = &mut connection => exchange.await,
        }
    }

    fn request(&self, body: Bytes) -> Result<Request<Full<Bytes>>, PostError> {
        let mut request = Request::post(self.server.path_and_query.as_str())
            .header(header::HOST, self.server.authority.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, */*")
            .header(header::USER_AGENT, "kubesim-apiserver/audit-webhook");
        if let Some(value) = &self.authorization {
            request = request.header(header::AUTHORIZATION, value.clone());
        }
        request
            .body(Full::new(body))
            .map_err(|e| PostError::permanent(format!("building the request: {e}")))
    }
}

/// A failed handshake: a TLS refusal is not retried (the same certificate comes back), a
/// broken connection is.
fn handshake_error(described: &str, e: std::io::Error) -> PostError {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls {
        Some(tls) => PostError::permanent(format!("{described}: tls: {tls}")),
        None => PostError::transient(format!("{described}: {e}")),
    }
}

/// A 2xx is success; a failure quotes the start of the body.
async fn check_status(
    described: &str,
    response: hyper::Response<hyper::body::Incoming>,
) -> Result<(), PostError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let transient = status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || response.headers().contains_key(header::RETRY_AFTER);
    let text = error_text(response.into_body()).await;
    let message = format!("{described}: the server answered {status}: {text}");
    Err(PostError { message, transient })
}

/// The first [`MAX_ERROR_TEXT_BYTES`] of a body; the rest is not read.
async fn error_text(mut body: hyper::body::Incoming) -> String {
    let mut text = Vec::new();
    while text.len() < MAX_ERROR_TEXT_BYTES {
        let Some(Ok(frame)) = body.frame().await else {
            break;
        };
        if let Ok(data) = frame.into_data() {
            text.extend_from_slice(&data);
        }
    }
    text.truncate(MAX_ERROR_TEXT_BYTES);
    String::from_utf8_lossy(&text).trim().to_string()
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::AtomicUsize;

    use futures::future::BoxFuture;
    use hyper::body::Incoming;
    use kubesim_net::TokioNetwork;
    use kubesim_net::network::{Conn, Listener};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use serde_json::Value;
    use tokio_rustls::TlsAcceptor;

    use super::*;
    use crate::event::{Level, Stage};
    use crate::kubeconfig::Trust;

    fn events(ids: std::ops::Range<usize>) -> Vec<Arc<Event>> {
        ids.map(|i| {
            let id = format!("e{i}");
            Arc::new(Event::new(Level::Metadata, Stage::ResponseComplete, &id))
        })
        .collect()
    }

    fn config(addr: &str, trust: Trust) -> RestConfig {
        RestConfig {
            server: Server {
                url: format!("https://{addr}/audit"),
                addr: addr.to_string(),
                authority: addr.to_string(),
                path_and_query: "/audit".into(),
            },
            server_name: "localhost".into(),
            trust,
            client_certificate: None,
            token: Some("t0ken".into()),
        }
    }

    fn options(config: RestConfig) -> WebhookOptions {
        WebhookOptions {
            max_batch_size: 3,
            max_batch_wait: Duration::from_millis(200),
            initial_backoff: Duration::from_millis(20),
            retries: 2,
            timeout: Duration::from_secs(5),
            max_in_flight: 1,
            ..WebhookOptions::new(config)
        }
    }

    /// A request the test server received.
    struct Received {
        path: String,
        content_type: String,
        authorization: String,
        body: Value,
    }

    /// An HTTPS server answering the statuses in `answers`, one per request (the last one
    /// repeated), recording each request and counting connections.
    struct TestServer {
        addr: String,
        ca_pem: String,
        received: mpsc::Receiver<Received>,
        connections: Arc<AtomicUsize>,
        task: JoinHandle<()>,
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    async fn serve(answers: Vec<StatusCode>) -> TestServer {
        let mut listener = TokioNetwork.bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![certified.cert.der().clone()],
                PrivateKeyDer::Pkcs8(key),
            )
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        // Bounded: no test sends more than a handful of batches.
        let (record, received) = mpsc::channel(64);
        let connections = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok(conn) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let (acceptor, record) = (acceptor.clone(), record.clone());
                let (answers, answered) = (answers.clone(), answered.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(conn).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |request| {
                        let n = answered.fetch_add(1, Ordering::SeqCst);
                        let status = answers[n.min(answers.len() - 1)];
                        answer(request, status, record.clone())
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    let _ = http.serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
        TestServer {
            addr,
            ca_pem: certified.cert.pem(),
            received,
            connections,
            task,
        }
    }

    async fn answer(
        request: Request<Incoming>,
        status: StatusCode,
        record: mpsc::Sender<Received>,
    ) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
        let header = |name| {
            let value = request.headers().get(name);
            value
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (content_type, authorization) =
            (header(header::CONTENT_TYPE), header(header::AUTHORIZATION));
        let path = request.uri().path().to_string();
        let body = request.into_body().collect().await.map(|b| b.to_bytes());
        let body = body.ok().and_then(|b| serde_json::from_slice(&b).ok());
        let _ = record.try_send(Received {
            path,
            content_type,
            authorization,
            body: body.unwrap_or(Value::Null),
        });
        let mut response = hyper::Response::new(Full::new(Bytes::from_static(b"answer\n")));
        *response.status_mut() = status;
        Ok(response)
    }

    impl TestServer {
        fn trusted(&self) -> RestConfig {
            let pem = self.ca_pem.clone().into_bytes();
            config(&self.addr, Trust::CertificateAuthority(pem))
        }

        async fn next(&mut self) -> Received {
            let next = tokio::time::timeout(Duration::from_secs(10), self.received.recv());
            next.await
                .expect("a request in time")
                .expect("the server runs")
        }
    }

    fn audit_ids(list: &Value) -> Vec<&str> {
        let items = list["items"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        items.iter().filter_map(|e| e["auditID"].as_str()).collect()
    }

    /// Waits (at most 10 s) for the backend's counts to settle.
    async fn settled(backend: &WebhookBackend) {
        for _ in 0..1000 {
            if backend.pending() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("events still pending: {}", backend.pending());
    }

    /// Dials fail: refused, at once. Records when each dial was made.
    #[derive(Default)]
    struct DeadNetwork {
        dials: Mutex<Vec<Instant>>,
    }

    impl Network for DeadNetwork {
        fn bind<'a>(&'a self, _: &'a str) -> BoxFuture<'a, std::io::Result<Box<dyn Listener>>> {
            Box::pin(async { Err(std::io::ErrorKind::Unsupported.into()) })
        }

        fn connect<'a>(&'a self, _: &'a str) -> BoxFuture<'a, std::io::Result<Conn>> {
            self.dials.lock().unwrap().push(Instant::now());
            Box::pin(async { Err(std::io::ErrorKind::ConnectionRefused.into()) })
        }
    }

    /// Dials never complete: a webhook whose packets vanish.
    #[derive(Default)]
    struct HangingNetwork {
        dials: AtomicUsize,
    }

    impl Network for HangingNetwork {
        fn bind<'a>(&'a self, _: &'a str) -> BoxFuture<'a, std::io::Result<Box<dyn Listener>>> {
            Box::pin(async { Err(std::io::ErrorKind::Unsupported.into()) })
        }

        fn connect<'a>(&'a self, _: &'a str) -> BoxFuture<'a, std::io::Result<Conn>> {
            self.dials.fetch_add(1, Ordering::SeqCst);
            Box::pin(futures::future::pending())
        }
    }

    fn insecure() -> RestConfig {
        config("webhook.invalid:443", Trust::InsecureSkipTlsVerify)
    }

    #[tokio::test]
    async fn batches_are_event_lists_posted_in_order_with_the_token() {
        let mut server = serve(vec![StatusCode::OK]).await;
        let backend =
            WebhookBackend::new(options(server.trusted()), Arc::new(TokioNetwork)).unwrap();
        backend.process_events(&events(0..7));
        let first = server.next().await;
        assert_eq!(
            (
                first.path.as_str(),
                first.content_type.as_str(),
                first.authorization.as_str()
            ),
            ("/audit", "application/json", "Bearer t0ken")
        );
        assert_eq!(
            (
                &first.body["kind"],
                &first.body["apiVersion"],
                &first.body["metadata"]
            ),
            (
                &Value::from("EventList"),
                &Value::from("audit.k8s.io/v1"),
                &serde_json::json!({})
            )
        );
        assert_eq!(first.body["items"][0]["kind"], "Event");
        let (second, third) = (server.next().await, server.next().await);
        // Full batches at once, the rest after max_batch_wait.
        assert_eq!(
            [&first.body, &second.body, &third.body].map(audit_ids),
            [vec!["e0", "e1", "e2"], vec!["e3", "e4", "e5"], vec!["e6"]]
        );
        settled(&backend).await;
        assert_eq!((backend.sent(), backend.dropped()), (7, 0));
        assert_eq!(backend.name(), "webhook");
    }

    #[tokio::test(start_paused = true)]
    async fn a_dead_webhook_is_retried_with_backoff_then_its_batch_dropped() {
        let net = Arc::new(DeadNetwork::default());
        let options = WebhookOptions {
            initial_backoff: Duration::from_secs(10),
            ..options(insecure())
        };
        let backend = WebhookBackend::new(options, net.clone()).unwrap();
        let start = Instant::now();
        backend.process_events(&events(0..2));
        tokio::time::sleep(Duration::from_secs(120)).await;
        let dials: Vec<Duration> = net
            .dials
            .lock()
            .unwrap()
            .iter()
            .map(|at| *at - start)
            .collect();
        // The batch waits max_batch_wait (not full), then 1 attempt + 2 retries.
        let wait = Duration::from_millis(200);
        assert_eq!(
            dials,
            [
                wait,
                wait + Duration::from_secs(10),
                wait + Duration::from_secs(25)
            ]
        );
        assert_eq!(
            (backend.sent(), backend.dropped(), backend.pending()),
            (0, 2, 0)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_webhook_that_never_answers_times_out_each_attempt() {
        let net = Arc::new(HangingNetwork::default());
        let options = WebhookOptions {
            retries: 1,
            initial_backoff: Duration::from_secs(1),
            ..options(insecure())
        };
        let backend = WebhookBackend::new(options, net.clone()).unwrap();
        backend.process_events(&events(0..3));
        tokio::time::sleep(Duration::from_secs(8)).await;
        assert_eq!(
            (net.dials.load(Ordering::SeqCst), backend.dropped()),
            (2, 0)
        );
        // Two timeouts of 5 s and a backoff of 1 s.
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!((backend.dropped(), backend.pending()), (3, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_buffer_drops_at_once_and_memory_stays_bounded() {
        let net = Arc::new(HangingNetwork::default());
        let options = WebhookOptions {
            buffer_size: 4,
            max_batch_size: 2,
            timeout: Duration::from_secs(3600),
            ..options(insecure())
        };
        let backend = WebhookBackend::new(options, net.clone()).unwrap();
        // The batcher has not run yet: the buffer takes 4 and the rest of the call is dropped.
        let start = std::time::Instant::now();
        backend.process_events(&events(0..10));
        backend.process_events(&events(10..11));
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!((backend.pending(), backend.dropped()), (4, 7));
        // The batcher sends one batch (never answered), fills the next, and stops taking:
        // 2 in flight + 2 batched + 4 buffered, never more.
        tokio::time::sleep(Duration::from_secs(1)).await;
        backend.process_events(&events(11..21));
        assert_eq!((backend.pending(), backend.dropped()), (8, 13));
        assert_eq!(net.dials.load(Ordering::SeqCst), 1);

        backend.shutdown(Duration::from_secs(5)).await;
        assert_eq!(
            (backend.pending(), backend.dropped(), backend.sent()),
            (0, 21, 0)
        );
        backend.process_events(&events(21..23));
        assert_eq!(backend.dropped(), 23, "events after shutdown are dropped");
        backend.shutdown(Duration::from_secs(5)).await;
    }

    #[tokio::test]
    async fn shutdown_sends_what_is_buffered() {
        let mut server = serve(vec![StatusCode::OK]).await;
        let options = WebhookOptions {
            max_batch_wait: Duration::from_secs(3600),
            ..options(server.trusted())
        };
        let backend = WebhookBackend::new(options, Arc::new(TokioNetwork)).unwrap();
        backend.process_events(&events(0..2));
        backend.shutdown(Duration::from_secs(10)).await;
        assert_eq!((backend.sent(), backend.dropped()), (2, 0));
        assert_eq!(audit_ids(&server.next().await.body), ["e0", "e1"]);
    }

    #[tokio::test]
    async fn server_errors_are_retried_client_errors_and_tls_failures_are_not() {
        let mut flaky = serve(vec![StatusCode::SERVICE_UNAVAILABLE, StatusCode::OK]).await;
        let backend =
            WebhookBackend::new(options(flaky.trusted()), Arc::new(TokioNetwork)).unwrap();
        backend.process_events(&events(0..3));
        let (failed, retried) = (flaky.next().await, flaky.next().await);
        assert_eq!(audit_ids(&failed.body), audit_ids(&retried.body));
        settled(&backend).await;
        assert_eq!((backend.sent(), backend.dropped()), (3, 0));

        let mut refusing = serve(vec![StatusCode::BAD_REQUEST]).await;
        let backend =
            WebhookBackend::new(options(refusing.trusted()), Arc::new(TokioNetwork)).unwrap();
        backend.process_events(&events(0..3));
        refusing.next().await;
        settled(&backend).await;
        assert_eq!((backend.sent(), backend.dropped()), (0, 3));
        assert_eq!(
            refusing.connections.load(Ordering::SeqCst),
            1,
            "a 400 is not retried"
        );

        let untrusted = serve(vec![StatusCode::OK]).await;
        let other_ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let config = config(
            &untrusted.addr,
            Trust::CertificateAuthority(other_ca.cert.pem().into_bytes()),
        );
        let backend = WebhookBackend::new(options(config), Arc::new(TokioNetwork)).unwrap();
        backend.process_events(&events(0..3));
        settled(&backend).await;
        assert_eq!((backend.sent(), backend.dropped()), (0, 3));
        assert_eq!(
            untrusted.connections.load(Ordering::SeqCst),
            1,
            "TLS failures are not retried"
        );
    }

    #[test]
    fn defaults_are_kubes_and_bounds_are_checked() {
        let options = WebhookOptions::new(insecure());
        assert_eq!(
            (
                options.buffer_size,
                options.max_batch_size,
                options.max_batch_wait
            ),
            (10_000, 400, Duration::from_secs(30))
        );
        assert_eq!(
            (options.initial_backoff, options.retries, options.timeout),
            (Duration::from_secs(10), 4, Duration::from_secs(30))
        );
        assert_eq!(options.validate(), Ok(()));
        let invalid = |change: fn(&mut WebhookOptions)| {
            let mut options = WebhookOptions::new(insecure());
            change(&mut options);
            options.validate().unwrap_err()
        };
        assert_eq!(
            invalid(|o| o.buffer_size = 0),
            "invalid audit batch webhook buffer size 0, must be a positive number"
        );
        assert_eq!(
            invalid(|o| o.max_batch_size = 0),
            "invalid audit batch webhook max batch size 0, must be a positive number"
        );
        assert_eq!(
            invalid(|o| o.timeout = Duration::ZERO),
            "invalid audit webhook timeout 0s, must be above 0"
        );
        assert_eq!(
            invalid(|o| o.retries = 11),
            "invalid audit webhook retries 11, must be at most 10"
        );
        let waits: Vec<Duration> = backoffs(Duration::from_secs(10), 4).collect();
        assert_eq!(
            waits,
            [10_000, 15_000, 22_500, 33_750].map(Duration::from_millis)
        );
    }

    #[test]
    fn new_needs_a_runtime() {
        let error = WebhookBackend::new(WebhookOptions::new(insecure()), Arc::new(TokioNetwork));
        assert_eq!(
            error.unwrap_err(),
            "the audit webhook backend must be started on a tokio runtime"
        );
    }
}
