//! The webhook client against real servers on 127.0.0.1: an AdmissionReview HTTPS server
//! (hyper) and an `AdmissionWebhook` gRPC server (tonic), both on tokio-rustls with
//! certificates made here; plus the pure parts (URLs, timeouts, response checks).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use kubesim_api::Status;
use kubesim_api::resources::Resource;
use kubesim_api::selectors::LabelSelector;
use kubesim_api::user::UserInfo;
use kubesim_net::network::Conn;
use kubesim_net::{Network, TokioNetwork};
use kubesim_proto::admissionpb as pb;
use kubesim_proto::admissionpb::admission_webhook_server::{
    AdmissionWebhook, AdmissionWebhookServer,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::*;
use crate::webhook::grpc::{request_from_proto, response_to_proto};
use crate::webhook::review::{GroupVersionKind, GroupVersionResource, ResponseStatus};
use crate::webhook::{
    FailurePolicy, MatchPolicy, ReinvocationPolicy, SideEffects, Transport, WebhookKind,
};

const PATCH: &[u8] = br#"[{"op":"add","path":"/metadata/labels/injected","value":"yes"}]"#;

// ---------------------------------------------------------------------------------------
// Certificates

struct Ca {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer = rcgen::CertifiedIssuer::self_signed(params, key).unwrap();
        let pem = issuer.pem();
        Ca { issuer, pem }
    }

    /// A server configuration with a certificate for `names` (DNS names or IPs).
    fn server(&self, names: &[&str], alpn: &[u8]) -> Arc<rustls::ServerConfig> {
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let leaf = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        config.alpn_protocols = vec![alpn.to_vec()];
        Arc::new(config)
    }
}

// ---------------------------------------------------------------------------------------
// Servers

/// What a test server does with one review.
enum Reply {
    Json(Vec<u8>),
    Status(u16, Option<&'static str>, Vec<u8>),
    Fail(tonic::Status),
    Hang,
}

type Handler = Arc<dyn Fn(AdmissionRequest) -> Reply + Send + Sync>;

/// What an HTTPS server received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    host: String,
    content_type: String,
    accept: String,
    sni: Option<String>,
    body: Bytes,
}

struct Server {
    port: u16,
    /// TCP connections accepted.
    accepted: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn https_server(tls: Arc<rustls::ServerConfig>, handler: Handler) -> Server {
    https_server_with(tls, handler, true).await
}

/// `keep_alive: false`: each response says `Connection: close`, and the server closes.
async fn https_server_with(
    tls: Arc<rustls::ServerConfig>,
    handler: Handler,
    keep_alive: bool,
) -> Server {
    let mut listener = TokioNetwork.bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (counter, log) = (accepted.clone(), seen.clone());
    let task = tokio::spawn(async move {
        while let Ok(conn) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let acceptor = TlsAcceptor::from(tls.clone());
            let (handler, log) = (handler.clone(), log.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(conn).await else {
                    return;
                };
                let sni = stream.get_ref().1.server_name().map(str::to_string);
                let service = hyper::service::service_fn(move |request| {
                    serve_review(request, sni.clone(), handler.clone(), log.clone())
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(keep_alive)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Server {
        port,
        accepted,
        seen,
        task,
    }
}

async fn serve_review(
    request: hyper::Request<Incoming>,
    sni: Option<String>,
    handler: Handler,
    log: Arc<Mutex<Vec<Seen>>>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let header = |name: hyper::header::HeaderName| {
        let value = parts.headers.get(name);
        value
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    log.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.to_string(),
        host: header(hyper::header::HOST),
        content_type: header(hyper::header::CONTENT_TYPE),
        accept: header(hyper::header::ACCEPT),
        sni,
        body: body.clone(),
    });
    let review: AdmissionReview = serde_json::from_slice(&body).unwrap();
    let (status, content_type, body) = match handler(review.request.unwrap()) {
        Reply::Json(body) => (200, Some("application/json"), body),
        Reply::Status(status, content_type, body) => (status, content_type, body),
        Reply::Fail(_) => unreachable!("a gRPC reply from an HTTPS server"),
        Reply::Hang => std::future::pending().await,
    };
    let mut response = hyper::Response::builder().status(status);
    if let Some(content_type) = content_type {
        response = response.header(hyper::header::CONTENT_TYPE, content_type);
    }
    Ok(response.body(Full::new(Bytes::from(body))).unwrap())
}

struct GrpcHook(Handler);

#[tonic::async_trait]
impl AdmissionWebhook for GrpcHook {
    async fn review(
        &self,
        request: tonic::Request<pb::AdmissionRequest>,
    ) -> Result<tonic::Response<pb::AdmissionResponse>, tonic::Status> {
        let request =
            request_from_proto(request.into_inner()).map_err(tonic::Status::invalid_argument)?;
        match (self.0)(request) {
            Reply::Json(body) => {
                let review: AdmissionReview = serde_json::from_slice(&body).unwrap();
                Ok(tonic::Response::new(response_to_proto(
                    &review.response.unwrap(),
                )))
            }
            Reply::Fail(status) => Err(status),
            Reply::Status(..) => unreachable!("an HTTP reply from a gRPC server"),
            Reply::Hang => std::future::pending().await,
        }
    }
}

async fn grpc_server(tls: Arc<rustls::ServerConfig>, handler: Handler) -> Server {
    let listener = TokioNetwork.bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let state = (listener, TlsAcceptor::from(tls), accepted.clone());
    let incoming = futures::stream::unfold(state, |(mut listener, acceptor, counter)| async {
        loop {
            let conn = listener.accept().await.ok()?;
            counter.fetch_add(1, Ordering::SeqCst);
            if let Ok(stream) = acceptor.accept(conn).await {
                let conn = Ok::<_, std::io::Error>(Conn::new(stream));
                return Some((conn, (listener, acceptor, counter)));
            }
        }
    });
    let task = tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(AdmissionWebhookServer::new(GrpcHook(handler)))
            .serve_with_incoming(incoming)
            .await;
    });
    Server {
        port,
        accepted,
        seen: Arc::new(Mutex::new(Vec::new())),
        task,
    }
}

/// A server of either transport for `127.0.0.1`, certified by `ca`.
async fn server(transport: Transport, ca: &Ca, handler: Handler) -> Server {
    match transport {
        Transport::Https => https_server(ca.server(&["127.0.0.1"], b"http/1.1"), handler).await,
        Transport::Grpc => grpc_server(ca.server(&["127.0.0.1"], b"h2"), handler).await,
    }
}

/// The review a webhook answers: `uid` echoed, allowed, changed by `edit`.
fn answer(request: &AdmissionRequest, edit: impl FnOnce(&mut AdmissionReview)) -> Reply {
    let mut review = AdmissionReview::for_response(AdmissionResponse {
        uid: request.uid.clone(),
        allowed: true,
        ..AdmissionResponse::default()
    });
    edit(&mut review);
    Reply::Json(serde_json::to_vec(&review).unwrap())
}

fn patching(request: AdmissionRequest) -> Reply {
    answer(&request, |review| {
        let response = review.response.as_mut().unwrap();
        response.patch = Some(PATCH.to_vec());
        response.patch_type = Some("JSONPatch".into());
        response.warnings = vec!["labelled".into()];
        response.audit_annotations = BTreeMap::from([("why".into(), "policy".into())]);
    })
}

fn allowing(request: AdmissionRequest) -> Reply {
    answer(&request, |_| {})
}

// ---------------------------------------------------------------------------------------
// The client's side

/// Services by namespace and name; nothing else.
#[derive(Default)]
struct FakeState {
    services: HashMap<(String, String), Arc<Value>>,
}

impl FakeState {
    fn with_service(mut self, namespace: &str, name: &str, spec: Value) -> FakeState {
        let service = json!({"metadata": {"name": name, "namespace": namespace}, "spec": spec});
        let key = (namespace.to_string(), name.to_string());
        self.services.insert(key, Arc::new(service));
        self
    }
}

impl ClusterState for FakeState {
    fn get<'a>(
        &'a self,
        resource: &'static Resource,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Value>>, Status>> {
        assert_eq!(resource.plural, "services");
        let key = (namespace.to_string(), name.to_string());
        Box::pin(async move { Ok(self.services.get(&key).cloned()) })
    }

    fn list(&self, _: &'static Resource, _: &str) -> Result<(Vec<Arc<Value>>, i64), Status> {
        Ok((Vec::new(), 0))
    }

    fn read<'a>(
        &'a self,
        _: &'static Resource,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<(Value, i64)>, Status>> {
        Box::pin(async { Ok(None) })
    }

    fn update<'a>(
        &'a self,
        _: &'static Resource,
        _: &'a str,
        _: &'a str,
        _: Value,
        _: i64,
    ) -> BoxFuture<'a, Result<bool, Status>> {
        Box::pin(async { Ok(false) })
    }
}

fn client_with(state: FakeState) -> WebhookClient {
    WebhookClient::new(Arc::new(TokioNetwork), Arc::new(state))
}

fn client() -> WebhookClient {
    client_with(FakeState::default())
}

fn webhook(kind: WebhookKind, transport: Transport, endpoint: Endpoint, ca: &Ca) -> Webhook {
    Webhook {
        kind,
        name: "label-injector.kubesim.io".into(),
        configuration: "label-injector".into(),
        index: 0,
        rules: Vec::new(),
        failure_policy: FailurePolicy::Fail,
        match_policy: MatchPolicy::Equivalent,
        namespace_selector: LabelSelector::default(),
        object_selector: LabelSelector::default(),
        side_effects: SideEffects::None,
        timeout: Duration::from_secs(10),
        admission_review_versions: vec!["v1".into()],
        reinvocation_policy: ReinvocationPolicy::Never,
        match_conditions: Vec::new(),
        endpoint,
        ca_bundle: ca.pem.clone().into_bytes(),
        transport,
    }
}

fn at(port: u16, path: &str) -> Endpoint {
    Endpoint::Url(format!("https://127.0.0.1:{port}{path}"))
}

fn pod_request() -> AdmissionRequest {
    AdmissionRequest {
        uid: "7f0b2a8e-1c1e-4d4f-9d6b-3b9d2c1e0a11".into(),
        kind: GroupVersionKind {
            group: "".into(),
            version: "v1".into(),
            kind: "Pod".into(),
        },
        resource: GroupVersionResource {
            group: "".into(),
            version: "v1".into(),
            resource: "pods".into(),
        },
        name: "web".into(),
        namespace: "default".into(),
        operation: "CREATE".into(),
        user_info: UserInfo::new("alice", &["system:authenticated"]),
        object: Some(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}})),
        dry_run: Some(false),
        options: Some(json!({"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"})),
        ..AdmissionRequest::default()
    }
}

const TIMEOUT: Duration = Duration::from_secs(5);

/// One call to a fresh server of `transport` answering with `handler`.
async fn call_once(
    kind: WebhookKind,
    transport: Transport,
    handler: fn(AdmissionRequest) -> Reply,
) -> Result<AdmissionResponse, CallError> {
    let ca = Ca::new("webhook CA");
    let server = server(transport, &ca, Arc::new(handler)).await;
    let hook = webhook(kind, transport, at(server.port, "/mutate"), &ca);
    client().call(&hook, &pod_request(), TIMEOUT).await
}

const BOTH: [Transport; 2] = [Transport::Https, Transport::Grpc];

// ---------------------------------------------------------------------------------------
// Answers

#[tokio::test]
async fn a_patch_comes_back_with_its_warnings_and_annotations() {
    for transport in BOTH {
        let response = call_once(WebhookKind::Mutating, transport, patching)
            .await
            .unwrap();
        assert_eq!(
            response,
            AdmissionResponse {
                uid: pod_request().uid,
                allowed: true,
                status: None,
                patch: Some(PATCH.to_vec()),
                patch_type: Some("JSONPatch".into()),
                audit_annotations: BTreeMap::from([("why".into(), "policy".into())]),
                warnings: vec!["labelled".into()],
            },
            "{transport:?}"
        );
    }
}

#[tokio::test]
async fn the_https_request_is_kubes_post_of_the_review() {
    let ca = Ca::new("webhook CA");
    let server = server(Transport::Https, &ca, Arc::new(allowing)).await;
    let hook = webhook(
        WebhookKind::Validating,
        Transport::Https,
        at(server.port, "/validate/pods/"),
        &ca,
    );
    let timeout = Duration::from_millis(2500);
    client().call(&hook, &pod_request(), timeout).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let seen = &seen[0];
    assert_eq!(seen.method, "POST");
    // kube's REST client drops the trailing slash and rounds the timeout up.
    assert_eq!(seen.path, "/validate/pods?timeout=3s");
    assert_eq!(seen.host, format!("127.0.0.1:{}", server.port));
    assert_eq!(seen.content_type, "application/json");
    assert_eq!(seen.accept, "application/json, */*");
    // An IP address is never sent as SNI.
    assert_eq!(seen.sni, None);
    let sent: AdmissionReview = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(sent, AdmissionReview::for_request(pod_request()));
}

#[tokio::test]
async fn a_denial_comes_back_with_its_status() {
    for transport in BOTH {
        let response = call_once(WebhookKind::Validating, transport, |request| {
            answer(&request, |review| {
                let response = review.response.as_mut().unwrap();
                response.allowed = false;
                response.status = Some(ResponseStatus {
                    code: 403,
                    message: "privileged pods are not allowed".into(),
                    reason: String::new(),
                });
            })
        })
        .await
        .unwrap();
        assert!(!response.allowed, "{transport:?}");
        assert_eq!(
            response.status.unwrap().message,
            "privileged pods are not allowed"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Invalid answers

#[tokio::test]
async fn a_response_for_another_uid_is_refused() {
    for transport in BOTH {
        let error = call_once(WebhookKind::Mutating, transport, |request| {
            answer(&request, |review| {
                review.response.as_mut().unwrap().uid = "someone-else".into();
            })
        })
        .await
        .unwrap_err();
        assert_eq!(
            error,
            CallError::new(
                CallErrorKind::WrongUid,
                format!(
                    "received invalid webhook response: expected response.uid=\"{}\", got \
                     \"someone-else\"",
                    pod_request().uid
                )
            ),
            "{transport:?}"
        );
    }
}

#[tokio::test]
async fn a_review_without_apiversion_and_kind_is_refused() {
    let error = call_once(WebhookKind::Mutating, Transport::Https, |request| {
        answer(&request, |review| {
            review.api_version.clear();
            review.kind.clear();
        })
    })
    .await
    .unwrap_err();
    assert_eq!(
        error,
        CallError::new(
            CallErrorKind::Malformed,
            "received invalid webhook response: expected webhook response of \
             admission.k8s.io/v1, Kind=AdmissionReview, got /, Kind="
        )
    );
}

#[tokio::test]
async fn a_review_without_a_response_is_refused() {
    let error = call_once(WebhookKind::Mutating, Transport::Https, |_| {
        Reply::Json(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec())
    })
    .await
    .unwrap_err();
    assert_eq!(
        error,
        CallError::new(
            CallErrorKind::Malformed,
            "received invalid webhook response: webhook response was absent"
        )
    );
}

#[tokio::test]
async fn a_validating_webhook_may_not_patch() {
    for transport in BOTH {
        let error = call_once(WebhookKind::Validating, transport, patching)
            .await
            .unwrap_err();
        assert_eq!(
            error,
            CallError::new(
                CallErrorKind::Malformed,
                "received invalid webhook response: validating webhook may not return \
                 response.patch"
            ),
            "{transport:?}"
        );
    }
}

#[tokio::test]
async fn a_patch_must_be_a_json_patch() {
    let error = call_once(WebhookKind::Mutating, Transport::Grpc, |request| {
        answer(&request, |review| {
            let response = review.response.as_mut().unwrap();
            response.patch = Some(PATCH.to_vec());
            response.patch_type = Some("MergePatch".into());
        })
    })
    .await
    .unwrap_err();
    assert_eq!(
        error,
        CallError::new(
            CallErrorKind::Malformed,
            "unsupported patch type \"MergePatch\""
        )
    );
    let error = call_once(WebhookKind::Mutating, Transport::Https, |request| {
        answer(&request, |review| {
            review.response.as_mut().unwrap().patch = Some(PATCH.to_vec());
        })
    })
    .await
    .unwrap_err();
    assert_eq!(
        error.message,
        "received invalid webhook response: webhook returned response.patch but not \
         response.patchType"
    );
}

#[tokio::test]
async fn a_body_that_is_not_a_review_is_malformed() {
    let error = call_once(WebhookKind::Mutating, Transport::Https, |_| {
        Reply::Json(b"<html>hello</html>".to_vec())
    })
    .await
    .unwrap_err();
    assert_eq!(error.kind, CallErrorKind::Malformed);
    assert!(
        error
            .message
            .starts_with("failed to call webhook: couldn't get version/kind; json parse error: "),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn a_body_past_the_bound_is_not_read() {
    let error = call_once(WebhookKind::Mutating, Transport::Https, |_| {
        Reply::Json(vec![b' '; MAX_RESPONSE_BYTES + 1])
    })
    .await
    .unwrap_err();
    assert_eq!(
        error,
        CallError::new(
            CallErrorKind::Malformed,
            format!(
                "failed to call webhook: the webhook's response is larger than \
                 {MAX_RESPONSE_BYTES} bytes"
            )
        )
    );
}

#[tokio::test]
async fn a_status_other_than_200_is_a_bad_status() {
    let error = call_once(WebhookKind::Mutating, Transport::Https, |_| {
        Reply::Status(
            500,
            Some("text/plain; charset=utf-8"),
            b"database down\n".to_vec(),
        )
    })
    .await
    .unwrap_err();
    assert_eq!(
        error,
        CallError::new(
            CallErrorKind::BadStatus,
            "failed to call webhook: an error on the server (\"database down\") has prevented \
             the request from succeeding"
        )
    );
    let error = call_once(WebhookKind::Mutating, Transport::Https, |_| {
        Reply::Status(404, None, Vec::new())
    })
    .await
    .unwrap_err();
    assert_eq!(
        error,
        CallError::new(
            CallErrorKind::BadStatus,
            "failed to call webhook: the server could not find the requested resource"
        )
    );
}

#[tokio::test]
async fn a_grpc_error_status_is_a_bad_status() {
    let error = call_once(WebhookKind::Mutating, Transport::Grpc, |_| {
        Reply::Fail(tonic::Status::internal("policy engine crashed"))
    })
    .await
    .unwrap_err();
    assert_eq!(error.kind, CallErrorKind::BadStatus);
    assert!(
        error
            .message
            .starts_with("failed to call webhook: Review \"https://127.0.0.1:"),
        "{}",
        error.message
    );
    assert!(
        error
            .message
            .ends_with("/mutate\": rpc error: code = Internal desc = policy engine crashed"),
        "{}",
        error.message
    );
    let error = call_once(WebhookKind::Mutating, Transport::Grpc, |_| {
        Reply::Fail(tonic::Status::unavailable("draining"))
    })
    .await
    .unwrap_err();
    assert_eq!(error.kind, CallErrorKind::Unreachable, "{}", error.message);
    let error = call_once(WebhookKind::Mutating, Transport::Grpc, |_| {
        Reply::Fail(tonic::Status::deadline_exceeded("too slow"))
    })
    .await
    .unwrap_err();
    assert_eq!(error.kind, CallErrorKind::Timeout, "{}", error.message);
}

// ---------------------------------------------------------------------------------------
// Failed calls

#[tokio::test]
async fn a_webhook_that_never_answers_times_out_on_time() {
    for transport in BOTH {
        let ca = Ca::new("webhook CA");
        let server = server(transport, &ca, Arc::new(|_| Reply::Hang)).await;
        let hook = webhook(
            WebhookKind::Mutating,
            transport,
            at(server.port, "/slow"),
            &ca,
        );
        let timeout = Duration::from_millis(400);
        let started = Instant::now();
        let error = client()
            .call(&hook, &pod_request(), timeout)
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(
            took >= timeout && took < timeout + Duration::from_millis(1500),
            "{transport:?} took {took:?}"
        );
        let url = format!("https://127.0.0.1:{}/slow", server.port);
        let message = match transport {
            Transport::Https => {
                format!(
                    "failed to call webhook: Post \"{url}?timeout=1s\": context deadline exceeded"
                )
            }
            Transport::Grpc => format!(
                "failed to call webhook: Review \"{url}\": rpc error: code = DeadlineExceeded \
                 desc = context deadline exceeded"
            ),
        };
        assert_eq!(error, CallError::new(CallErrorKind::Timeout, message));
    }
}

#[tokio::test]
async fn a_refused_connection_is_unreachable() {
    for transport in BOTH {
        let listener = TokioNetwork.bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let ca = Ca::new("webhook CA");
        let hook = webhook(WebhookKind::Mutating, transport, at(port, "/mutate"), &ca);
        let error = client()
            .call(&hook, &pod_request(), TIMEOUT)
            .await
            .unwrap_err();
        let url = format!("https://127.0.0.1:{port}/mutate");
        let dial = format!("dial tcp 127.0.0.1:{port}: connect: connection refused");
        let message = match transport {
            Transport::Https => {
                format!("failed to call webhook: Post \"{url}?timeout=5s\": {dial}")
            }
            Transport::Grpc => format!(
                "failed to call webhook: Review \"{url}\": rpc error: code = Unavailable desc = \
                 {dial}"
            ),
        };
        assert_eq!(error, CallError::new(CallErrorKind::Unreachable, message));
    }
}

#[tokio::test]
async fn a_certificate_from_another_ca_fails_tls() {
    for transport in BOTH {
        let (trusted, other) = (Ca::new("trusted"), Ca::new("other"));
        let server = server(transport, &other, Arc::new(allowing)).await;
        let hook = webhook(
            WebhookKind::Mutating,
            transport,
            at(server.port, "/"),
            &trusted,
        );
        let error = client()
            .call(&hook, &pod_request(), TIMEOUT)
            .await
            .unwrap_err();
        let url = format!("https://127.0.0.1:{}/", server.port);
        let tls =
            "tls: failed to verify certificate: x509: certificate signed by unknown authority";
        let message = match transport {
            Transport::Https => {
                format!("failed to call webhook: Post \"{url}?timeout=5s\": {tls}")
            }
            Transport::Grpc => format!(
                "failed to call webhook: Review \"{url}\": rpc error: code = Unavailable desc = \
                 {tls}"
            ),
        };
        assert_eq!(error, CallError::new(CallErrorKind::Tls, message));
    }
}

#[tokio::test]
async fn a_certificate_for_another_name_fails_tls() {
    let ca = Ca::new("webhook CA");
    let server = https_server(
        ca.server(&["elsewhere.example"], b"http/1.1"),
        Arc::new(allowing),
    )
    .await;
    let hook = webhook(
        WebhookKind::Mutating,
        Transport::Https,
        at(server.port, "/"),
        &ca,
    );
    let error = client()
        .call(&hook, &pod_request(), TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(error.kind, CallErrorKind::Tls);
    assert!(
        error.message.ends_with(
            ": tls: failed to verify certificate: x509: certificate is valid for \
             elsewhere.example, not 127.0.0.1"
        ),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn webhooks_kubesim_cannot_call_fail_before_any_connection() {
    let ca = Ca::new("webhook CA");
    let mut hook = webhook(WebhookKind::Mutating, Transport::Https, at(1, "/"), &ca);
    hook.admission_review_versions = vec!["v1beta1".into()];
    let error = client()
        .call(&hook, &pod_request(), TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        CallError::new(
            CallErrorKind::Unsupported,
            "could not create admission objects: webhook does not accept known \
             AdmissionReview versions (v1)"
        )
    );

    hook.admission_review_versions = vec!["v1beta1".into(), "v1".into()];
    hook.ca_bundle.clear();
    let error = client()
        .call(&hook, &pod_request(), TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(error.kind, CallErrorKind::Tls);
    assert!(
        error
            .message
            .starts_with("could not get REST client: clientConfig.caBundle is empty, and kubesim trusts no system root certificates"),
        "{}",
        error.message
    );

    hook.ca_bundle = b"not a certificate".to_vec();
    let error = client()
        .call(&hook, &pod_request(), TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        CallError::new(
            CallErrorKind::Tls,
            "could not get REST client: unable to load root certificates: unable to parse \
             bytes as PEM block"
        )
    );
}

// ---------------------------------------------------------------------------------------
// Service endpoints

fn service_endpoint(port: u16) -> Endpoint {
    Endpoint::Service {
        namespace: "webhooks".into(),
        name: "injector".into(),
        port,
        path: "/mutate".into(),
    }
}

#[tokio::test]
async fn a_service_is_dialled_at_its_external_name_and_named_svc_in_tls() {
    let ca = Ca::new("webhook CA");
    let names = ["injector.webhooks.svc"];
    let server = https_server(ca.server(&names, b"http/1.1"), Arc::new(patching)).await;
    let port = server.port;
    for spec in [
        json!({"type": "ExternalName", "externalName": "127.0.0.1"}),
        json!({"externalIPs": ["", "127.0.0.1"]}),
    ] {
        let state = FakeState::default().with_service("webhooks", "injector", spec);
        let hook = webhook(
            WebhookKind::Mutating,
            Transport::Https,
            service_endpoint(port),
            &ca,
        );
        let response = client_with(state)
            .call(&hook, &pod_request(), TIMEOUT)
            .await
            .unwrap();
        assert_eq!(response.patch.as_deref(), Some(PATCH));
    }
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].sni.as_deref(), Some("injector.webhooks.svc"));
    assert_eq!(seen[0].host, format!("injector.webhooks.svc:{port}"));
    assert_eq!(seen[0].path, "/mutate?timeout=5s");

    let grpc = grpc_server(ca.server(&names, b"h2"), Arc::new(patching)).await;
    let state = FakeState::default().with_service(
        "webhooks",
        "injector",
        json!({"externalName": "127.0.0.1"}),
    );
    let hook = webhook(
        WebhookKind::Mutating,
        Transport::Grpc,
        service_endpoint(grpc.port),
        &ca,
    );
    let response = client_with(state)
        .call(&hook, &pod_request(), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(response.patch.as_deref(), Some(PATCH));
}

#[tokio::test]
async fn a_service_without_an_address_is_unreachable() {
    let ca = Ca::new("webhook CA");
    let hook = webhook(
        WebhookKind::Mutating,
        Transport::Https,
        service_endpoint(8443),
        &ca,
    );
    let url = "Post \"https://injector.webhooks.svc:8443/mutate?timeout=5s\"";
    let error = client()
        .call(&hook, &pod_request(), TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        CallError::new(
            CallErrorKind::Unreachable,
            format!("failed to call webhook: {url}: services \"injector\" not found")
        )
    );
    let state = FakeState::default().with_service(
        "webhooks",
        "injector",
        json!({"type": "ClusterIP", "clusterIP": "10.0.0.12"}),
    );
    let error = client_with(state)
        .call(&hook, &pod_request(), TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        CallError::new(
            CallErrorKind::Unreachable,
            format!(
                "failed to call webhook: {url}: service webhooks/injector has neither \
                 spec.externalName nor spec.externalIPs: kubesim has no cluster DNS, so set \
                 spec.externalName to the host that serves the webhook"
            )
        )
    );
}

// ---------------------------------------------------------------------------------------
// Reuse

#[tokio::test]
async fn calls_to_one_webhook_share_one_connection() {
    for transport in BOTH {
        let ca = Ca::new("webhook CA");
        let server = server(transport, &ca, Arc::new(patching)).await;
        let hook = webhook(WebhookKind::Mutating, transport, at(server.port, "/"), &ca);
        let client = client();
        for _ in 0..5 {
            client.call(&hook, &pod_request(), TIMEOUT).await.unwrap();
        }
        assert_eq!(server.accepted(), 1, "{transport:?}");
        assert_eq!(client.tls.len(), 1);
        if transport == Transport::Grpc {
            assert_eq!(client.grpc.len(), 1);
        }
    }
}

#[tokio::test]
async fn concurrent_https_calls_open_connections_and_keep_them_idle() {
    let ca = Ca::new("webhook CA");
    let server = server(Transport::Https, &ca, Arc::new(allowing)).await;
    let hook = webhook(
        WebhookKind::Validating,
        Transport::Https,
        at(server.port, "/"),
        &ca,
    );
    let client = client();
    let request = pod_request();
    let calls = (0..4).map(|_| client.call(&hook, &request, TIMEOUT));
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
    let opened = server.accepted();
    assert!((1..=4).contains(&opened), "{opened}");
    let key = ConnKey {
        addr: format!("127.0.0.1:{}", server.port),
        server_name: "127.0.0.1".into(),
        ca_bundle: hook.ca_bundle.clone(),
    };
    assert_eq!(client.https.idle_count(&key), opened);
    // The next calls reuse them.
    for _ in 0..3 {
        client.call(&hook, &pod_request(), TIMEOUT).await.unwrap();
    }
    assert_eq!(server.accepted(), opened);
}

#[tokio::test]
async fn a_connection_the_server_closes_is_not_reused() {
    let ca = Ca::new("webhook CA");
    let tls = ca.server(&["127.0.0.1"], b"http/1.1");
    let server = https_server_with(tls, Arc::new(allowing), false).await;
    let hook = webhook(
        WebhookKind::Mutating,
        Transport::Https,
        at(server.port, "/"),
        &ca,
    );
    let client = client();
    for _ in 0..3 {
        client.call(&hook, &pod_request(), TIMEOUT).await.unwrap();
    }
    assert_eq!(server.accepted(), 3);
}

// ---------------------------------------------------------------------------------------
// Pure parts

#[test]
fn the_timeout_query_is_kubes() {
    let query = |path: &str, ms: u64| with_timeout_query(path, Duration::from_millis(ms));
    assert_eq!(query("/mutate", 10_000), "/mutate?timeout=10s");
    assert_eq!(query("/mutate", 2_001), "/mutate?timeout=3s");
    assert_eq!(query("/mutate", 1), "/mutate?timeout=1s");
    assert_eq!(query("/mutate", 0), "/mutate");
    assert_eq!(query("/m?x=1", 30_000), "/m?x=1&timeout=30s");
    assert_eq!(query("/", 90_000), "/?timeout=1m30s");
    assert_eq!(query("/", 3_600_000), "/?timeout=1h0m0s");
}

#[test]
fn paths_are_cleaned_as_kubes_rest_client_cleans_them() {
    assert_eq!(clean_path(""), "/");
    assert_eq!(clean_path("/"), "/");
    assert_eq!(clean_path("/mutate/"), "/mutate");
    assert_eq!(clean_path("a//b/./c/../d"), "/a/b/d");
    assert_eq!(clean_path("/../x"), "/x");
}

#[test]
fn endpoints_become_targets() {
    assert_eq!(
        Target::of(&Endpoint::Url("https://hooks.example/admit/".into())).unwrap(),
        Target {
            url: "https://hooks.example/admit".into(),
            authority: "hooks.example".into(),
            server_name: "hooks.example".into(),
            path_and_query: "/admit".into(),
            dial: Dial::Addr("hooks.example:443".into()),
        }
    );
    let ipv6 = Target::of(&Endpoint::Url("https://[::1]:8443".into())).unwrap();
    assert_eq!(ipv6.dial, Dial::Addr("[::1]:8443".into()));
    assert_eq!(ipv6.server_name, "::1");
    assert_eq!(ipv6.url, "https://[::1]:8443/");
    assert_eq!(
        Target::of(&service_endpoint(443)).unwrap(),
        Target {
            url: "https://injector.webhooks.svc:443/mutate".into(),
            authority: "injector.webhooks.svc:443".into(),
            server_name: "injector.webhooks.svc".into(),
            path_and_query: "/mutate".into(),
            dial: Dial::Service {
                namespace: "webhooks".into(),
                name: "injector".into(),
                port: 443,
            },
        }
    );
    let error = Target::of(&Endpoint::Url("http://hooks.example/".into())).unwrap_err();
    assert_eq!(error.kind, CallErrorKind::Unsupported);
    assert!(
        error
            .message
            .starts_with("could not get REST client: Unparsable URL: ")
    );
}

#[test]
fn service_addresses_prefer_the_external_name() {
    let address = |spec: Value| service_address(&json!({ "spec": spec }), 443);
    assert_eq!(
        address(json!({"externalName": "hooks.example", "externalIPs": ["10.1.1.1"]})),
        Some("hooks.example:443".into())
    );
    assert_eq!(
        address(json!({"externalName": "", "externalIPs": ["fd00::1"]})),
        Some("[fd00::1]:443".into())
    );
    assert_eq!(address(json!({"externalIPs": []})), None);
    assert_eq!(service_address(&json!({}), 443), None);
}

#[test]
fn group_version_kinds_print_as_go_prints_them() {
    assert_eq!(
        go_group_version_kind("admission.k8s.io/v1", "AdmissionReview"),
        "admission.k8s.io/v1, Kind=AdmissionReview"
    );
    assert_eq!(go_group_version_kind("v1", "Status"), "/v1, Kind=Status");
    assert_eq!(go_group_version_kind("", ""), "/, Kind=");
    assert_eq!(go_group_version_kind("a/b/c", "X"), "/, Kind=X");
}

#[test]
fn a_denial_with_an_odd_patch_type_is_still_a_denial() {
    let review = AdmissionReview::for_response(AdmissionResponse {
        uid: "u".into(),
        allowed: false,
        patch: Some(PATCH.to_vec()),
        patch_type: Some("MergePatch".into()),
        ..AdmissionResponse::default()
    });
    let response = verify_response("u", WebhookKind::Mutating, review).unwrap();
    assert!(!response.allowed);
}

#[test]
fn the_lru_keeps_its_bound_and_its_recent_entries() {
    let mut lru = Lru::new(2);
    lru.insert("a", 1);
    lru.insert("b", 2);
    assert_eq!(lru.get_mut("a"), Some(&mut 1));
    lru.insert("c", 3);
    assert_eq!(lru.len(), 2);
    assert_eq!(lru.get_mut("b"), None);
    assert_eq!(lru.get_mut("a"), Some(&mut 1));
    assert_eq!(lru.get_mut("c"), Some(&mut 3));
}

#[test]
fn tls_configurations_are_built_once_per_bundle() {
    let ca = Ca::new("webhook CA");
    let configs = tls::TlsConfigs::new();
    let first = configs
        .client_config(ca.pem.as_bytes(), Transport::Https)
        .unwrap();
    let again = configs
        .client_config(ca.pem.as_bytes(), Transport::Https)
        .unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!(first.alpn_protocols, vec![b"http/1.1".to_vec()]);
    let grpc = configs
        .client_config(ca.pem.as_bytes(), Transport::Grpc)
        .unwrap();
    assert_eq!(grpc.alpn_protocols, vec![b"h2".to_vec()]);
    assert_eq!(configs.len(), 1);
}
