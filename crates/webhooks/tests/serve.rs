//! A sample served in this process on 127.0.0.1 with a fresh rcgen certificate, called as
//! kube-apiserver calls it (AdmissionReview JSON POSTed over HTTPS, HTTP/1.1 and HTTP/2) and as
//! kubesim's gRPC transport calls it: both answers must be the same. Then the knobs, each
//! failure mode seen from both clients, and the bounds.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use kubesim_admission::webhook::grpc::{request_to_proto, response_from_proto};
use kubesim_admission::webhook::review::{
    AdmissionRequest, AdmissionResponse, AdmissionReview, GroupVersionKind, GroupVersionResource,
};
use kubesim_api::user::UserInfo;
use kubesim_net::network::Network;
use kubesim_net::{Clock, SystemClock, TokioNetwork};
use kubesim_proto::admissionpb::admission_webhook_client::AdmissionWebhookClient;
use kubesim_webhooks::samples::{AuditSink, LabelInjector, NoPrivileged, Sample};
use kubesim_webhooks::{FailureMode, Knobs, Latency, Limits};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

/// A running sample and what a client needs to reach it.
struct Running {
    addr: String,
    /// Trusts the sample's certificate; ALPN set per call.
    roots: Arc<rustls::RootCertStore>,
    stop: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    task: JoinHandle<Result<(), String>>,
}

async fn start(sample: Sample, knobs: Knobs) -> Running {
    start_with_limits(sample, knobs, Limits::default()).await
}

async fn start_with_limits(sample: Sample, knobs: Knobs, limits: Limits) -> Running {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("a certificate");
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let tls = kubesim_webhooks::tls::server_config(vec![cert.clone()], key).expect("TLS config");
    let listener = TokioNetwork.bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("trust the certificate");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(kubesim_webhooks::serve_with_limits(
        sample,
        knobs,
        limits,
        listener,
        tls,
        async {
            let _ = stopped.await;
        },
    ));
    Running {
        addr,
        roots: Arc::new(roots),
        stop: std::sync::Mutex::new(Some(stop)),
        task,
    }
}

impl Running {
    async fn tls(
        &self,
        alpn: &[u8],
    ) -> tokio_rustls::client::TlsStream<kubesim_net::network::Conn> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.to_vec()];
        let tcp = TokioNetwork.connect(&self.addr).await.expect("connect");
        let name = ServerName::try_from("localhost").expect("a server name");
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .expect("TLS handshake")
    }

    /// One HTTPS request on a fresh connection, HTTP/1.1 or HTTP/2 by ALPN.
    async fn https(
        &self,
        h2: bool,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Bytes), hyper::Error> {
        let request = Request::builder()
            .method(method)
            .uri(format!("https://{}{path}", self.addr))
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .expect("a request");
        let response = if h2 {
            let io = TokioIo::new(self.tls(b"h2").await);
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .expect("HTTP/2 handshake");
            tokio::spawn(conn);
            sender.send_request(request).await?
        } else {
            let io = TokioIo::new(self.tls(b"http/1.1").await);
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .expect("HTTP/1.1 handshake");
            tokio::spawn(conn);
            sender.send_request(request).await?
        };
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// An AdmissionReview POSTed as kube-apiserver posts it.
    async fn review_json(&self, h2: bool, request: &AdmissionRequest) -> (StatusCode, Bytes) {
        let review = AdmissionReview::for_request(request.clone());
        let body = serde_json::to_vec(&review).expect("JSON");
        self.https(
            h2,
            Method::POST,
            "/validate?timeout=10s",
            "application/json",
            body,
        )
        .await
        .expect("an HTTP answer")
    }

    /// The review's response over HTTPS (HTTP/1.1), which must be a 200 and a v1 review.
    async fn answer_json(&self, request: &AdmissionRequest) -> AdmissionResponse {
        let (status, body) = self.review_json(false, request).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let review: AdmissionReview = serde_json::from_slice(&body).expect("an AdmissionReview");
        assert_eq!(
            (review.api_version.as_str(), review.kind.as_str()),
            ("admission.k8s.io/v1", "AdmissionReview")
        );
        review.response.expect("a response")
    }

    /// A gRPC client over TLS (ALPN h2) on its own connection, with a deadline per call.
    async fn grpc(&self, timeout: Duration) -> AdmissionWebhookClient<tonic::transport::Channel> {
        let connection = self.tls(b"h2").await;
        let slot = Arc::new(std::sync::Mutex::new(Some(connection)));
        let connector = tower::service_fn(move |_: tonic::transport::Uri| {
            let conn = slot.lock().unwrap().take();
            async move {
                conn.map(TokioIo::new)
                    .ok_or_else(|| std::io::Error::other("one connection per client"))
            }
        });
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
            .expect("an endpoint")
            .timeout(timeout)
            .connect_with_connector(connector)
            .await
            .expect("a gRPC channel");
        AdmissionWebhookClient::new(channel)
    }

    async fn review_grpc(
        &self,
        request: &AdmissionRequest,
    ) -> Result<AdmissionResponse, tonic::Status> {
        let mut client = self.grpc(Duration::from_secs(10)).await;
        let response = client.review(request_to_proto(request)).await?;
        Ok(response_from_proto(response.into_inner()))
    }

    /// Starts the server's shutdown.
    fn signal_stop(&self) {
        if let Some(stop) = self.stop.lock().unwrap().take() {
            let _ = stop.send(());
        }
    }

    /// Stops the server and waits until it has.
    async fn stop(self) {
        self.signal_stop();
        let result = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops within its grace period")
            .expect("the server task");
        assert_eq!(result, Ok(()));
    }
}

fn pod_create(pod: Value) -> AdmissionRequest {
    AdmissionRequest {
        uid: "705ab4f5-6393-11e8-b7cc-42010a800002".into(),
        kind: GroupVersionKind {
            group: String::new(),
            version: "v1".into(),
            kind: "Pod".into(),
        },
        resource: GroupVersionResource {
            group: String::new(),
            version: "v1".into(),
            resource: "pods".into(),
        },
        name: "web".into(),
        namespace: "default".into(),
        operation: "CREATE".into(),
        user_info: UserInfo::new("alice", &["system:authenticated"]),
        object: Some(pod),
        dry_run: Some(false),
        ..AdmissionRequest::default()
    }
}

fn privileged_pod() -> AdmissionRequest {
    pod_create(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": [{"name": "web", "image": "nginx",
                                 "securityContext": {"privileged": true}}]}}))
}

fn failing(mode: FailureMode) -> Knobs {
    Knobs {
        fail_rate: 1.0,
        failure_mode: mode,
        ..Knobs::default()
    }
}

#[tokio::test]
async fn both_transports_give_the_same_denial() {
    let running = start(Sample::NoPrivileged(NoPrivileged), Knobs::default()).await;
    let request = privileged_pod();
    let over_https = running.answer_json(&request).await;
    let over_grpc = running.review_grpc(&request).await.expect("a gRPC answer");
    assert_eq!(over_https, over_grpc);
    assert!(!over_https.allowed);
    assert_eq!(over_https.uid, request.uid);
    // HTTP/2 with JSON, as kube-apiserver may also call.
    let (code, body) = running.review_json(true, &request).await;
    assert_eq!(code, StatusCode::OK);
    let review: AdmissionReview = serde_json::from_slice(&body).unwrap();
    assert_eq!(review.response.as_ref(), Some(&over_https));
    let status = over_https.status.expect("a status");
    assert_eq!(
        (status.code, status.reason.as_str(), status.message.as_str()),
        (
            403,
            "Forbidden",
            r#"container "web" is privileged; privileged containers are not allowed"#
        )
    );
    running.stop().await;
}

#[tokio::test]
async fn both_transports_give_the_same_patch() {
    let running = start(
        Sample::LabelInjector(LabelInjector::default()),
        Knobs::default(),
    )
    .await;
    let request = pod_create(json!({"metadata": {"name": "web", "labels": {"app": "web"}}}));
    let over_https = running.answer_json(&request).await;
    let over_grpc = running.review_grpc(&request).await.expect("a gRPC answer");
    assert_eq!(over_https, over_grpc);
    assert!(over_https.allowed);
    assert_eq!(over_https.patch_type.as_deref(), Some("JSONPatch"));
    let patch: Value = serde_json::from_slice(&over_https.patch.unwrap()).unwrap();
    assert_eq!(
        patch,
        json!([
            {"op": "add", "path": "/metadata/labels/env", "value": "production"},
            {"op": "add", "path": "/metadata/labels/managed-by", "value": "kubesim"},
        ])
    );
    running.stop().await;
}

#[tokio::test]
async fn healthz_records_and_other_routes() {
    let sink = AuditSink::new(16, Arc::new(SystemClock) as Arc<dyn Clock>);
    let running = start(Sample::AuditSink(sink.clone()), Knobs::default()).await;
    let get = |path: &'static str| running.https(false, Method::GET, path, "", Vec::new());
    let (status, body) = get("/healthz").await.unwrap();
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok\n"[..]));

    let mut request = privileged_pod();
    assert!(running.answer_json(&request).await.allowed);
    request.uid = "second".into();
    assert!(running.review_grpc(&request).await.unwrap().allowed);
    let (status, body) = get("/records").await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let records: Value = serde_json::from_slice(&body).unwrap();
    let uids: Vec<&str> = records["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["requestUid"].as_str().unwrap())
        .collect();
    assert_eq!(uids, ["705ab4f5-6393-11e8-b7cc-42010a800002", "second"]);
    assert_eq!(
        (
            &records["items"][0]["name"],
            &records["items"][0]["user"],
            &records["dropped"]
        ),
        (&json!("web"), &json!("alice"), &json!(0))
    );
    assert_eq!(
        sink.records().items.len(),
        2,
        "the caller's handle sees them"
    );

    let (status, _) = get("/nowhere").await.unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = running
        .https(
            false,
            Method::POST,
            "/validate",
            "text/plain",
            b"hi".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, body) = running
        .https(
            false,
            Method::POST,
            "/validate",
            "application/json",
            b"{}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, String::from_utf8_lossy(&body).trim()),
        (
            StatusCode::BAD_REQUEST,
            "expected admission.k8s.io/v1, Kind=AdmissionReview, got , Kind="
        )
    );
    running.stop().await;
}

#[tokio::test]
async fn error_is_a_500_and_internal() {
    let running = start(
        Sample::NoPrivileged(NoPrivileged),
        failing(FailureMode::Error),
    )
    .await;
    let (status, body) = running.review_json(false, &privileged_pod()).await;
    assert_eq!(
        (status, String::from_utf8_lossy(&body).trim()),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "injected failure (--fail-rate, --timeout-behaviour error)"
        )
    );
    let error = running.review_grpc(&privileged_pod()).await.unwrap_err();
    assert_eq!(
        (error.code(), error.message()),
        (
            tonic::Code::Internal,
            "injected failure (--fail-rate, --timeout-behaviour error)"
        )
    );
    // Health never fails; only the audit-sink has records.
    let (status, _) = running
        .https(false, Method::GET, "/healthz", "", Vec::new())
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    let (status, _) = running
        .https(false, Method::GET, "/records", "", Vec::new())
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);
    running.stop().await;
}

#[tokio::test]
async fn garbage_is_a_200_that_does_not_decode() {
    let running = start(
        Sample::NoPrivileged(NoPrivileged),
        failing(FailureMode::Garbage),
    )
    .await;
    let (status, body) = running.review_json(false, &privileged_pod()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(serde_json::from_slice::<AdmissionReview>(&body).is_err());
    let error = running.review_grpc(&privileged_pod()).await.unwrap_err();
    assert_eq!(error.code(), tonic::Code::Internal, "{error:?}");
    assert!(error.message().contains("decode"), "{error:?}");
    running.stop().await;
}

#[tokio::test]
async fn wrong_uid_is_a_valid_answer_for_another_request() {
    let running = start(
        Sample::NoPrivileged(NoPrivileged),
        failing(FailureMode::WrongUid),
    )
    .await;
    let request = privileged_pod();
    let over_https = running.answer_json(&request).await;
    let over_grpc = running.review_grpc(&request).await.unwrap();
    for response in [&over_https, &over_grpc] {
        assert_ne!(response.uid, request.uid);
        assert_eq!(response.uid.len(), 36, "{}", response.uid);
        assert!(!response.allowed);
    }
    assert_ne!(over_https.uid, over_grpc.uid, "a fresh uid each call");
    running.stop().await;
}

#[tokio::test]
async fn close_drops_the_connection() {
    let running = start(
        Sample::NoPrivileged(NoPrivileged),
        failing(FailureMode::Close),
    )
    .await;
    let review = serde_json::to_vec(&AdmissionReview::for_request(privileged_pod())).unwrap();
    for h2 in [false, true] {
        let result = tokio::time::timeout(
            Duration::from_secs(5),
            running.https(h2, Method::POST, "/", "application/json", review.clone()),
        )
        .await
        .expect("the connection is dropped at once, not held");
        assert!(result.is_err(), "h2={h2}: {result:?}");
    }
    let error = tokio::time::timeout(
        Duration::from_secs(5),
        running.review_grpc(&privileged_pod()),
    )
    .await
    .expect("the call ends at once")
    .unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unknown, "{error:?}");
    running.stop().await;
}

#[tokio::test]
async fn hang_holds_until_the_client_gives_up_and_ends_at_shutdown() {
    let running = start(
        Sample::NoPrivileged(NoPrivileged),
        failing(FailureMode::Hang),
    )
    .await;
    let mut client = running.grpc(Duration::from_millis(300)).await;
    let started = tokio::time::Instant::now();
    let error = client
        .review(request_to_proto(&privileged_pod()))
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::Cancelled, "{error:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));

    let review = serde_json::to_vec(&AdmissionReview::for_request(privileged_pod())).unwrap();
    let held = tokio::time::timeout(
        Duration::from_millis(500),
        running.https(false, Method::POST, "/", "application/json", review.clone()),
    )
    .await;
    assert!(held.is_err(), "no answer while hanging");
    // A call hanging when the server stops: its connection is dropped, unanswered, and the
    // stop does not wait out the hang.
    let started = tokio::time::Instant::now();
    let (result, ()) = tokio::join!(
        running.https(false, Method::POST, "/", "application/json", review),
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            running.signal_stop();
        }
    );
    assert!(result.is_err(), "{result:?}");
    running.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn latency_holds_each_answer_back() {
    let knobs = Knobs {
        latency: Latency::Fixed(Duration::from_millis(250)),
        ..Knobs::default()
    };
    let running = start(Sample::NoPrivileged(NoPrivileged), knobs).await;
    let started = tokio::time::Instant::now();
    assert!(!running.answer_json(&privileged_pod()).await.allowed);
    assert!(started.elapsed() >= Duration::from_millis(250));
    let started = tokio::time::Instant::now();
    assert!(
        !running
            .review_grpc(&privileged_pod())
            .await
            .unwrap()
            .allowed
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
    let started = tokio::time::Instant::now();
    running
        .https(false, Method::GET, "/healthz", "", Vec::new())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "health is never delayed"
    );
    running.stop().await;
}

#[tokio::test]
async fn bodies_and_messages_over_the_limit_are_refused() {
    let limits = Limits {
        max_request_body_bytes: 4096,
        ..Limits::default()
    };
    let running =
        start_with_limits(Sample::NoPrivileged(NoPrivileged), Knobs::default(), limits).await;
    let big = pod_create(json!({"metadata": {"name": "web",
        "annotations": {"big": "x".repeat(8192)}}}));
    let (status, body) = running.review_json(false, &big).await;
    assert_eq!(
        (status, String::from_utf8_lossy(&body).trim()),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is larger than 4096 bytes"
        )
    );
    let error = running.review_grpc(&big).await.unwrap_err();
    assert_eq!(error.code(), tonic::Code::OutOfRange, "{error:?}");
    running.stop().await;
}
