//! The fixture of the REST tests: a single-member kubesim store and the API server over it,
//! in this process, and an HTTPS client (hyper over rustls, HTTP/2) that speaks to the
//! server as kubectl and client-go do.
//!
//! - [`shared`]: one store and API server for the whole test binary, on a runtime of their
//!   own so that every `#[tokio::test]` (each with its own runtime) can use them; each test
//!   works in namespaces of its own. [`Private`]: a store and API server for one test, for
//!   what would disturb the others (compacting the store).
//! - [`Client`]: requests, each on a fresh TLS connection; [`Reply`]: the code, headers and
//!   body of one answer; [`Watch`]: a watch stream read event by event.
//! - [`bounded`]: every test runs under [`TEST_TIMEOUT`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::{TokioExecutor, TokioIo};
use kubesim_apiserver::{ApiServer, ApiServerConfig};
use kubesim_net::Env;
use kubesim_net::network::{ChannelConfig, Network, channel};
use kubesim_proto::etcdserverpb::kv_client::KvClient;
use kubesim_proto::etcdserverpb::{CompactionRequest, PutRequest};
use kubesim_store::{InitialMember, StoreConfig, StoreNode};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tempfile::TempDir;
use tokio_rustls::TlsConnector;
use tonic::transport::Channel;

/// The bound of one test, server start included.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a test waits for one watch event it expects.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a test polls for something the server does in the background (namespace
/// termination) before it fails.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(30);
/// Worker threads of the shared server's runtime: the machine has two cores.
const SHARED_WORKERS: usize = 2;

/// Runs a test body under [`TEST_TIMEOUT`], so a server that never answers fails the test
/// instead of hanging the run.
pub async fn bounded(test: impl Future<Output = ()>) {
    bounded_for(TEST_TIMEOUT, test).await
}

/// [`bounded`] with a bound of the test's own (a test that waits for a timer of the
/// server's).
pub async fn bounded_for(limit: Duration, test: impl Future<Output = ()>) {
    if tokio::time::timeout(limit, test).await.is_err() {
        panic!("the test did not finish within {limit:?}");
    }
}

/// The store and API server every test of the binary shares, started by the first test
/// that asks. They run on a runtime of their own (the tests' runtimes end with each test)
/// that lives until the process exits.
pub fn shared() -> &'static Client {
    static SHARED: OnceLock<(tokio::runtime::Runtime, Client)> = OnceLock::new();
    let (_, client) = SHARED.get_or_init(|| {
        // Started from a plain thread: a runtime cannot be blocked on from inside the
        // calling test's runtime.
        let started = std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(SHARED_WORKERS)
                .enable_all()
                .build()
                .expect("the shared server's runtime");
            let client = runtime.block_on(async {
                let private = Private::start(0).await;
                let client = private.client.clone();
                // Parked on the runtime, so the store, the server and their data directory
                // stay for the rest of the process.
                tokio::spawn(async move {
                    let _running = private;
                    std::future::pending::<()>().await
                });
                client
            });
            (runtime, client)
        });
        started.join().expect("the shared server started")
    });
    client
}

/// A store and an API server over it for one test.
pub struct Private {
    pub client: Client,
    node: StoreNode,
    server: ApiServer,
    /// The store's data, the serving certificate and key.
    _dir: TempDir,
}

impl Private {
    /// Starts a store, writes `unrelated_keys` keys outside the API server's prefix (so the
    /// revision the watch caches start at is past them), then starts the API server and
    /// waits until `/readyz` passes (the store answers and every watch cache has listed).
    pub async fn start(unrelated_keys: usize) -> Private {
        let dir = tempfile::Builder::new()
            .prefix("kubesim-rest-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("tempdir");
        let env = Env::production(dir.path());
        let node = start_store(&env).await;
        let store_addr = node.client_addr().to_string();
        let mut kv = kv_client(env.net.clone(), &store_addr);
        wait_for_leader(&mut kv).await;
        for i in 0..unrelated_keys {
            let put = PutRequest {
                key: format!("/unrelated/{i}").into_bytes(),
                value: b"x".to_vec(),
                ..PutRequest::default()
            };
            kv.put(put).await.expect("put an unrelated key");
        }
        let (server, connector) = start_api_server(&env, dir.path(), &store_addr).await;
        let client = Client {
            addr: server.local_addr(),
            connector,
            store_addr,
            net: env.net.clone(),
        };
        client.wait_ready().await;
        Private {
            client,
            node,
            server,
            _dir: dir,
        }
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
        self.node.shutdown().await;
    }
}

async fn start_store(env: &Env) -> StoreNode {
    let peer = "http://127.0.0.1:12380".to_string();
    let initial = vec![InitialMember {
        name: "s1".into(),
        peer_url: peer.clone(),
    }];
    let mut config = StoreConfig::new("s1", "http://127.0.0.1:0", &peer, initial, "rest-test");
    // Listen on any free port; advertise the fixed peer URL the member ID is computed from.
    config.listen_peer_urls = vec!["http://127.0.0.1:0".into()];
    config.advertise_client_urls = vec![];
    StoreNode::start(env.clone(), config)
        .await
        .expect("start the store")
}

fn kv_client(net: Arc<dyn Network>, store_addr: &str) -> KvClient<Channel> {
    KvClient::new(channel(net, store_addr, ChannelConfig::default()).expect("a channel"))
}

/// Until the member has elected itself and accepts a write (bounded).
async fn wait_for_leader(kv: &mut KvClient<Channel>) {
    for _ in 0..100 {
        let put = PutRequest {
            key: b"/unrelated/ready".to_vec(),
            value: b"x".to_vec(),
            ..PutRequest::default()
        };
        if kv.put(put).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the store did not accept a write within 10 s");
}

/// The API server on a free loopback port with a fresh self-signed certificate, and a TLS
/// connector that trusts it.
async fn start_api_server(
    env: &Env,
    dir: &std::path::Path,
    store_addr: &str,
) -> (ApiServer, TlsConnector) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("a certificate");
    let cert_file = dir.join("apiserver.crt");
    let key_file = dir.join("apiserver.key");
    std::fs::write(&cert_file, certified.cert.pem()).expect("write the certificate");
    std::fs::write(&key_file, certified.signing_key.serialize_pem()).expect("write the key");
    let mut config = ApiServerConfig::new("127.0.0.1:0", cert_file, key_file);
    config.etcd_servers = vec![format!("http://{store_addr}")];
    let server = ApiServer::start(env.clone(), config)
        .await
        .expect("start the API server");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(certified.cert.der().to_vec()))
        .expect("trust the certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    (server, TlsConnector::from(Arc::new(tls)))
}

/// What a test needs to talk to one API server and its store.
#[derive(Clone)]
pub struct Client {
    addr: SocketAddr,
    connector: TlsConnector,
    /// The store's etcd v3 API, `host:port`, for what is not an API server call.
    store_addr: String,
    net: Arc<dyn Network>,
}

/// One answer.
pub struct Reply {
    pub code: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON; a body that is not JSON fails the test, showing it.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text())
    }
}

impl Client {
    /// A TLS connection speaking HTTP/2, with the connection task spawned on the caller's
    /// runtime.
    async fn connect(&self) -> SendRequest<Full<Bytes>> {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect to the API server");
        let name = ServerName::try_from("localhost").expect("a server name");
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .expect("TLS handshake");
        let (sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .expect("HTTP/2 handshake");
        tokio::spawn(connection);
        sender
    }

    /// Sends one request and returns the response with its body still streaming, and the
    /// connection's sender, which must live as long as the body is read.
    async fn open(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> (hyper::Response<Incoming>, SendRequest<Full<Bytes>>) {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("https://localhost{path}"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(body)).expect("a request");
        let mut sender = self.connect().await;
        let response = sender
            .send_request(request)
            .await
            .expect("the server answers");
        (response, sender)
    }

    /// One request on a connection of its own; the whole answer.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let (response, _sender) = self.open(method, path, headers, body.into()).await;
        let code = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("read the body")
            .to_bytes();
        Reply {
            code,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, &[], Bytes::new()).await
    }

    /// A GET with an `Accept` header.
    pub async fn get_as(&self, path: &str, accept: &str) -> Reply {
        self.request(Method::GET, path, &[("accept", accept)], Bytes::new())
            .await
    }

    pub async fn post(&self, path: &str, object: &Value) -> Reply {
        self.send_json(Method::POST, path, object).await
    }

    pub async fn put(&self, path: &str, object: &Value) -> Reply {
        self.send_json(Method::PUT, path, object).await
    }

    /// A PATCH of `content_type` (`application/merge-patch+json`, ...).
    pub async fn patch(&self, path: &str, content_type: &str, body: impl Into<Bytes>) -> Reply {
        self.request(
            Method::PATCH,
            path,
            &[("content-type", content_type)],
            body.into(),
        )
        .await
    }

    pub async fn merge_patch(&self, path: &str, patch: &Value) -> Reply {
        self.patch(path, "application/merge-patch+json", patch.to_string())
            .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.request(Method::DELETE, path, &[], Bytes::new()).await
    }

    /// A DELETE with DeleteOptions in the body, as client-go sends them.
    pub async fn delete_with(&self, path: &str, options: &Value) -> Reply {
        self.send_json(Method::DELETE, path, options).await
    }

    async fn send_json(&self, method: Method, path: &str, object: &Value) -> Reply {
        self.request(
            method,
            path,
            &[("content-type", "application/json")],
            object.to_string(),
        )
        .await
    }

    /// POSTs `object` to `collection` and returns what was created; anything but 201 fails
    /// the test.
    pub async fn create(&self, collection: &str, object: &Value) -> Value {
        let reply = self.post(collection, object).await;
        assert_eq!(reply.code, 201, "POST {collection}: {reply:?}");
        reply.json()
    }

    /// Creates the namespace `name` and returns its name.
    pub async fn namespace(&self, name: &str) -> String {
        let namespace = serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}
        });
        self.create("/api/v1/namespaces", &namespace).await;
        name.to_string()
    }

    /// Polls GET `path` until it answers `code` (bounded by [`POLL_TIMEOUT`]); returns the
    /// last answer.
    pub async fn poll_until(&self, path: &str, code: u16) -> Reply {
        let deadline = tokio::time::Instant::now() + POLL_TIMEOUT;
        loop {
            let reply = self.get(path).await;
            if reply.code == code || tokio::time::Instant::now() >= deadline {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens a watch (`path` carries `watch=true`); anything but 200 fails the test.
    pub async fn watch(&self, path: &str) -> Watch {
        let (response, sender) = self.open(Method::GET, path, &[], Bytes::new()).await;
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        Watch {
            body: response.into_body(),
            pending: Vec::new(),
            _sender: sender,
        }
    }

    /// A raw etcd KV client of the store.
    pub fn kv(&self) -> KvClient<Channel> {
        kv_client(self.net.clone(), &self.store_addr)
    }

    /// Compacts the store's history up to `revision`, as kube-apiserver's compactor does.
    pub async fn compact(&self, revision: i64) {
        let request = CompactionRequest {
            revision,
            physical: false,
        };
        self.kv().compact(request).await.expect("compact");
    }

    /// Until `/readyz` passes: the store answers and every watch cache has listed.
    async fn wait_ready(&self) {
        for _ in 0..200 {
            if self.get("/readyz").await.code == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the API server was not ready within 10 s");
    }
}

/// A watch stream: `{"type": ..., "object": ...}` lines.
pub struct Watch {
    body: Incoming,
    /// Bytes of a line not finished yet.
    pending: Vec<u8>,
    /// Keeps the connection's client half open while the stream is read.
    _sender: SendRequest<Full<Bytes>>,
}

/// What a watch did next.
#[derive(Debug)]
pub enum Next {
    Event(Value),
    /// The server ended the stream.
    End,
    /// Nothing within the time given.
    Quiet,
}

impl Watch {
    /// The next event, the end of the stream, or [`Next::Quiet`] after `within`.
    pub async fn next(&mut self, within: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                let event = serde_json::from_slice(&line).unwrap_or_else(|e| {
                    panic!(
                        "a watch line is not JSON ({e}): {}",
                        String::from_utf8_lossy(&line)
                    )
                });
                return Next::Event(event);
            }
            let frame = match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => return Next::Quiet,
                Ok(None) => return Next::End,
                Ok(Some(frame)) => frame.expect("read the watch stream"),
            };
            if let Ok(data) = frame.into_data() {
                self.pending.extend_from_slice(&data);
            }
        }
    }

    /// The next event, which must come within [`EVENT_TIMEOUT`].
    pub async fn event(&mut self) -> Value {
        match self.next(EVENT_TIMEOUT).await {
            Next::Event(event) => event,
            other => panic!("expected a watch event, got {other:?}"),
        }
    }

    /// Asserts that nothing comes for `quiet`.
    pub async fn assert_quiet(&mut self, quiet: Duration) {
        match self.next(quiet).await {
            Next::Quiet => {}
            other => panic!("expected no more events, got {other:?}"),
        }
    }
}

/// A query value, percent-encoded (continue tokens, selectors).
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
