//! The API server's audit webhook backend (`kubesim_audit::backend::webhook`) against the
//! audit-sink sample, both in this process on 127.0.0.1 over real TLS with a certificate made
//! on the spot: the backend is configured from a kubeconfig file as kube-apiserver's
//! `--audit-webhook-config-file`, and the sink's `GET /records` shows how the events were
//! batched. Then a dead webhook (events dropped and counted after the retries, and a full
//! buffer that drops at once), and the sink's answers to what is not an EventList.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use kubesim_audit::backend::Backend;
use kubesim_audit::backend::webhook::{WebhookBackend, WebhookOptions};
use kubesim_audit::kubeconfig::RestConfig;
use kubesim_audit::{Event, Level, Stage};
use kubesim_net::network::Network;
use kubesim_net::{Clock, SystemClock, TokioNetwork};
use kubesim_webhooks::samples::audit_sink::{AUDIT_PATH, Record};
use kubesim_webhooks::samples::{AuditSink, Sample};
use kubesim_webhooks::{Knobs, Limits};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;

/// The audit-sink, served until dropped.
struct Running {
    addr: String,
    ca_pem: String,
    sink: AuditSink,
    _stop: oneshot::Sender<()>,
}

async fn start_sink() -> Running {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("a certificate");
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let tls = kubesim_webhooks::tls::server_config(vec![cert], key).expect("TLS config");
    let listener = TokioNetwork.bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    let sink = AuditSink::new(64, Arc::new(SystemClock) as Arc<dyn Clock>);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(kubesim_webhooks::serve_with_limits(
        Sample::AuditSink(sink.clone()),
        Knobs::default(),
        Limits::default(),
        listener,
        tls,
        async {
            let _ = stopped.await;
        },
    ));
    Running {
        addr,
        ca_pem: certified.cert.pem(),
        sink,
        _stop: stop,
    }
}

/// A kubeconfig file as an operator writes one for `--audit-webhook-config-file`, with the
/// CA in a file beside it (a relative path) and the server's name set apart from its address.
fn kubeconfig(dir: &std::path::Path, addr: &str, ca_pem: &str) -> RestConfig {
    std::fs::write(dir.join("ca.crt"), ca_pem).expect("write the CA");
    let yaml = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: audit\nclusters:\n- name: sink\n  \
         cluster:\n    server: https://{addr}{AUDIT_PATH}\n    certificate-authority: ca.crt\n    \
         tls-server-name: localhost\ncontexts:\n- name: audit\n  context: {{cluster: sink, user: \
         apiserver}}\nusers:\n- name: apiserver\n  user: {{token: t0ken}}\n"
    );
    let path = dir.join("audit-webhook.kubeconfig");
    std::fs::write(&path, yaml).expect("write the kubeconfig");
    RestConfig::load(&path).expect("a valid kubeconfig")
}

fn events(ids: std::ops::Range<usize>) -> Vec<Arc<Event>> {
    ids.map(|i| {
        let mut event = Event::new(Level::Metadata, Stage::ResponseComplete, &format!("e{i}"));
        event.verb = "create".into();
        event.response_status = Some(serde_json::json!({"metadata": {}, "code": 201}));
        Arc::new(event)
    })
    .collect()
}

/// `(auditID, batch)` of the audit events the sink recorded.
fn recorded(sink: &AuditSink) -> Vec<(String, u64)> {
    let records = sink.records().items;
    let events = records.into_iter().filter_map(|record| match record {
        Record::AuditEvent(event) => Some((event.audit_id, event.batch)),
        Record::PodCreate(_) => None,
    });
    events.collect()
}

/// Waits (at most 10 s) for the backend to have an outcome for every event.
async fn settled(backend: &WebhookBackend) {
    for _ in 0..1000 {
        if backend.pending() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("events still pending: {}", backend.pending());
}

#[tokio::test]
async fn events_arrive_at_the_sink_in_batches() {
    let running = start_sink().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = WebhookOptions {
        max_batch_size: 4,
        max_batch_wait: Duration::from_millis(200),
        max_in_flight: 1,
        ..WebhookOptions::new(kubeconfig(dir.path(), &running.addr, &running.ca_pem))
    };
    let backend = WebhookBackend::new(options, Arc::new(TokioNetwork)).expect("a backend");
    backend.process_events(&events(0..10));
    settled(&backend).await;
    assert_eq!((backend.sent(), backend.dropped()), (10, 0));
    let expected: Vec<(String, u64)> = (0..10u64).map(|i| (format!("e{i}"), i / 4 + 1)).collect();
    assert_eq!(
        recorded(&running.sink),
        expected,
        "two full batches of 4, then the last 2 after max_batch_wait"
    );
    let Record::AuditEvent(first) = &running.sink.records().items[0] else {
        panic!("the first record is not an audit event");
    };
    assert_eq!(
        (first.verb.as_str(), first.response_code),
        ("create", Some(201))
    );

    // What arrives later is a batch of its own, sent on shutdown without waiting.
    let options = WebhookOptions {
        max_batch_wait: Duration::from_secs(3600),
        ..WebhookOptions::new(kubeconfig(dir.path(), &running.addr, &running.ca_pem))
    };
    let backend = WebhookBackend::new(options, Arc::new(TokioNetwork)).expect("a backend");
    backend.process_events(&events(10..12));
    backend.shutdown(Duration::from_secs(10)).await;
    assert_eq!(backend.sent(), 2);
    let last: Vec<(String, u64)> = recorded(&running.sink).split_off(10);
    assert_eq!(last, [("e10".to_string(), 4), ("e11".to_string(), 4)]);
}

/// An address nothing listens on: bound, then closed.
async fn dead_addr() -> String {
    let listener = TokioNetwork.bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address").to_string()
}

#[tokio::test]
async fn a_dead_sink_costs_retries_then_the_events_are_dropped_and_counted() {
    let running = start_sink().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let addr = dead_addr().await;
    let options = WebhookOptions {
        max_batch_wait: Duration::from_millis(50),
        initial_backoff: Duration::from_millis(20),
        retries: 2,
        ..WebhookOptions::new(kubeconfig(dir.path(), &addr, &running.ca_pem))
    };
    let backend = WebhookBackend::new(options, Arc::new(TokioNetwork)).expect("a backend");
    backend.process_events(&events(0..5));
    assert_eq!(
        backend.dropped(),
        0,
        "nothing is dropped before the retries"
    );
    settled(&backend).await;
    assert_eq!((backend.sent(), backend.dropped()), (0, 5));
}

#[tokio::test]
async fn a_full_buffer_drops_at_once_while_the_sink_is_dead() {
    let running = start_sink().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let addr = dead_addr().await;
    let options = WebhookOptions {
        buffer_size: 8,
        ..WebhookOptions::new(kubeconfig(dir.path(), &addr, &running.ca_pem))
    };
    let backend = WebhookBackend::new(options, Arc::new(TokioNetwork)).expect("a backend");
    let start = std::time::Instant::now();
    backend.process_events(&events(0..100));
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "process_events waited"
    );
    assert_eq!((backend.pending(), backend.dropped()), (8, 92));
    // The default backoff (10 s) keeps the first batch in its retries: shutdown gives up.
    backend.shutdown(Duration::from_millis(100)).await;
    assert_eq!((backend.pending(), backend.dropped()), (0, 100));
}

/// One POST to the sink over HTTPS.
async fn post(running: &Running, content_type: &str, body: &str) -> (StatusCode, String) {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(running.ca_pem.as_bytes()) {
        roots.add(cert.expect("PEM")).expect("trust the CA");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TokioNetwork.connect(&running.addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("a server name");
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(conn);
    let request = Request::post(AUDIT_PATH)
        .header("host", "localhost")
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a request");
    let response = sender.send_request(request).await.expect("an answer");
    let status = response.status();
    let body = response.into_body().collect().await.expect("a body");
    (
        status,
        String::from_utf8_lossy(&body.to_bytes()).trim().to_string(),
    )
}

#[tokio::test]
async fn the_sink_answers_what_is_not_an_event_list() {
    let running = start_sink().await;
    let list = r#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[]}"#;
    assert_eq!(
        post(&running, "application/json", list).await,
        (StatusCode::OK, r#"{"received":0}"#.to_string())
    );
    let (status, message) = post(&running, "application/json", "[1, 2]").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message.starts_with("the body is not an audit.k8s.io/v1 EventList: "),
        "{message}"
    );
    let review = r#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","items":[]}"#;
    assert_eq!(
        post(&running, "application/json", review).await,
        (
            StatusCode::BAD_REQUEST,
            "expected audit.k8s.io/v1, Kind=EventList, got admission.k8s.io/v1, Kind=AdmissionReview"
                .to_string()
        )
    );
    assert_eq!(
        post(&running, "text/plain", list).await,
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "an EventList is application/json".to_string()
        )
    );
    assert_eq!(running.sink.records().items, []);
}

#[test]
fn certificate_authority_data_is_base64_pem() {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("a certificate");
    let data = base64::engine::general_purpose::STANDARD.encode(certified.cert.pem());
    let yaml = format!(
        "clusters:\n- name: sink\n  cluster:\n    server: https://127.0.0.1:8443/audit\n    \
         certificate-authority-data: {data}\n"
    );
    let config = RestConfig::parse(&yaml, std::path::Path::new("/"), &|_| {
        Err(std::io::ErrorKind::NotFound.into())
    })
    .expect("a valid kubeconfig");
    assert_eq!(config.server_name, "127.0.0.1");
    assert!(config.tls_client_config().is_ok());
}
