//! The request's spans and the slow-request line, seen by a capturing `tracing` subscriber
//! installed for the test's thread (`#[tokio::test]` runs every task on it): a create
//! through the whole chain against a store in this process, and the line a request over
//! the threshold logs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use super::*;
use crate::ApiServerConfig;
use crate::chain::{AUDIT_ID_HEADER, Chain};
use crate::response::Body;
use crate::routes::Routes;

/// Held by each test that installs a capturing subscriber, for all of its run. `tracing`
/// keeps one process-wide view of which levels and callsites any subscriber wants, rebuilt
/// whenever a thread's default subscriber comes or goes: while one test's guard was being
/// dropped on another thread, an event of this test's could be judged unwanted and never
/// reach its capture (the slow-request line went missing about once in 20 runs).
static CAPTURING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One span as the test saw it: its name, fields, and its parent's place in the list.
#[derive(Debug, Clone)]
struct SeenSpan {
    name: &'static str,
    fields: BTreeMap<String, String>,
    parent: Option<usize>,
}

/// What the capturing layer saw, spans in the order they were opened.
#[derive(Debug, Default)]
struct Seen {
    spans: Vec<SeenSpan>,
    /// The slot id of each open span → its place in `spans` (the registry reuses ids).
    open: BTreeMap<u64, usize>,
    /// The messages of the events on [`TARGET`].
    lines: Vec<String>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Seen>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut seen = self.0.lock().unwrap();
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .and_then(|parent| seen.open.get(&parent.id().into_u64()).copied());
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let place = seen.spans.len();
        seen.spans.push(SeenSpan {
            name: attrs.metadata().name(),
            fields,
            parent,
        });
        seen.open.insert(id.into_u64(), place);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut seen = self.0.lock().unwrap();
        if let Some(&place) = seen.open.get(&id.into_u64()) {
            values.record(&mut Fields(&mut seen.spans[place].fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let mut seen = self.0.lock().unwrap();
        seen.lines
            .push(fields.remove("message").unwrap_or_default());
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        self.0.lock().unwrap().open.remove(&id.into_u64());
    }
}

impl Capture {
    /// A subscriber that gives this layer [`TARGET`] at every level, and nothing else.
    fn subscriber(&self) -> impl Subscriber + Send + Sync {
        let only_trace = Targets::new().with_target(TARGET, tracing::Level::TRACE);
        tracing_subscriber::registry().with(self.clone().with_filter(only_trace))
    }

    fn spans(&self) -> Vec<SeenSpan> {
        self.0.lock().unwrap().spans.clone()
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().lines.clone()
    }
}

/// The names of the spans whose parent is `parent`, in order.
fn children(spans: &[SeenSpan], parent: usize) -> Vec<&'static str> {
    spans
        .iter()
        .filter(|span| span.parent == Some(parent))
        .map(|span| span.name)
        .collect()
}

fn audit_id(response: &Response<Body>) -> String {
    response.headers()[AUDIT_ID_HEADER]
        .to_str()
        .unwrap()
        .to_string()
}

/// The chain of `config` over `routes`, as the server builds it.
fn chain(config: &ApiServerConfig, routes: Routes) -> Chain {
    let env = kubesim_net::Env::production(std::env::temp_dir());
    let security = crate::security::build(&config.auth, None, &env, None).unwrap();
    Chain::new(config, routes, Arc::new(security), env.entropy.clone())
}

async fn send(chain: &Chain, method: &str, path: &str, body: &str) -> Response<Body> {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    chain.handle(request).await
}

#[tokio::test]
async fn a_request_over_the_threshold_logs_one_line_with_every_stage() {
    let _serial = CAPTURING.lock().await;
    let capture = Capture::default();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let mut config = ApiServerConfig::new("127.0.0.1:0", "unused".into(), "unused".into());
    config.trace_slow_threshold = Duration::ZERO;
    let chain = chain(
        &config,
        Routes::without_storage(config.max_request_body_bytes),
    );
    let response = send(&chain, "GET", "/version", "").await;
    assert_eq!(response.status(), 200);
    // The line is for the log, not the client: no Server-Timing unless asked.
    assert!(response.headers().get("server-timing").is_none());
    let id = audit_id(&response);
    let lines = capture.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert!(
        line.starts_with(&format!(
            "Trace[{id}]: \"GET /version\" verb:GET,user:system:anonymous,code:200 (total time: "
        )),
        "{line}"
    );
    let stages: Vec<&str> = line
        .split("): ")
        .nth(1)
        .unwrap()
        .split(", ")
        .map(|stage| stage.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "authentication",
            "audit",
            "impersonation",
            "priorityandfairness",
            "authorization",
            "handler",
            "total"
        ],
        "{line}"
    );
    for stage in line.split("): ").nth(1).unwrap().split(", ") {
        let ms = stage.split(' ').nth(1).unwrap().trim_end_matches("ms");
        assert!(ms.parse::<f64>().is_ok_and(|ms| ms >= 0.0), "{stage}");
    }
}

#[tokio::test]
async fn a_request_under_the_threshold_logs_nothing_and_without_a_subscriber_keeps_no_timings() {
    let _serial = CAPTURING.lock().await;
    let capture = Capture::default();
    {
        let _default = tracing::subscriber::set_default(capture.subscriber());
        let config = ApiServerConfig::new("127.0.0.1:0", "unused".into(), "unused".into());
        assert_eq!(config.trace_slow_threshold, Duration::from_millis(500));
        let chain = chain(
            &config,
            Routes::without_storage(config.max_request_body_bytes),
        );
        assert_eq!(send(&chain, "GET", "/version", "").await.status(), 200);
        assert_eq!(capture.lines(), Vec::<String>::new());
        assert!(
            SlowRequestLog {
                threshold: Duration::ZERO
            }
            .enabled()
        );
    }
    // Nobody listens on this thread now: the line could not be seen, so no timings.
    assert!(
        !SlowRequestLog {
            threshold: Duration::ZERO
        }
        .enabled()
    );
}

/// A single-member kubesim store in this process, for the create below.
async fn start_store(dir: &std::path::Path) -> kubesim_store::StoreNode {
    use kubesim_store::{InitialMember, StoreConfig, StoreNode};
    let env = kubesim_net::Env::production(dir);
    let peer = "http://127.0.0.1:12390".to_string();
    let initial = vec![InitialMember {
        name: "s1".into(),
        peer_url: peer.clone(),
    }];
    let mut config = StoreConfig::new("s1", "http://127.0.0.1:0", &peer, initial, "trace-test");
    config.listen_peer_urls = vec!["http://127.0.0.1:0".into()];
    config.advertise_client_urls = vec![];
    StoreNode::start(env, config)
        .await
        .expect("start the store")
}

/// Routes over the store at `store`, with admission and the watch caches ready.
async fn routes_over(store: &str, config: &ApiServerConfig) -> Routes {
    let env = kubesim_net::Env::production(std::env::temp_dir());
    let mut routes = Routes::without_storage(config.max_request_body_bytes);
    let storage = kubesim_storage::EtcdStorage::new(&env, &[format!("http://{store}")])
        .unwrap()
        .with_observer(crate::server::etcd_observer(
            &routes.metrics,
            &config.etcd_prefix,
        ));
    let registry = crate::registry::Registry::start(env.clone(), storage, &config.etcd_prefix);
    crate::admission::start(&env, &registry, &config.admission).unwrap();
    let weak = Arc::downgrade(&registry);
    let ready = crate::registry::wait_caches_ready(&weak, Duration::from_millis(50));
    assert!(
        tokio::time::timeout(Duration::from_secs(30), ready)
            .await
            .is_ok_and(|ready| ready),
        "the watch caches did not list within 30 s"
    );
    routes.registry = Some(registry);
    routes
}

/// Creates `body` at `path`, again until it is created (the store electing itself, the
/// namespace reaching admission's watch cache), at most 10 s.
async fn create(chain: &Chain, path: &str, body: &str) -> Response<Body> {
    let mut last = 0;
    for _ in 0..100 {
        let response = send(chain, "POST", path, body).await;
        if response.status() == 201 {
            return response;
        }
        last = response.status().as_u16();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} still answers {last} after 10 s");
}

#[tokio::test]
async fn a_create_is_one_request_span_with_each_stage_and_admissions_plugins_inside() {
    let _serial = CAPTURING.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let store = start_store(dir.path()).await;
    let config = ApiServerConfig::new("127.0.0.1:0", "unused".into(), "unused".into());
    let routes = routes_over(&store.client_addr().to_string(), &config).await;
    let chain = chain(&config, routes);
    let namespace = r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"traced"}}"#;
    assert_eq!(
        create(&chain, "/api/v1/namespaces", namespace)
            .await
            .status(),
        201
    );

    let capture = Capture::default();
    let guard = tracing::subscriber::set_default(capture.subscriber());
    let configmap = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"#;
    let response = create(&chain, "/api/v1/namespaces/traced/configmaps", configmap).await;
    assert_eq!(response.status(), 201);
    let id = audit_id(&response);

    let spans = capture.spans();
    let requests: Vec<usize> = (0..spans.len())
        .filter(|&i| spans[i].name == "request" && spans[i].fields["audit_id"] == id)
        .collect();
    let [request] = requests[..] else {
        panic!("one request span with Audit-Id {id}: {spans:#?}");
    };
    let fields = &spans[request].fields;
    assert_eq!(spans[request].parent, None);
    assert_eq!(fields["method"], "POST");
    assert_eq!(fields["path"], "/api/v1/namespaces/traced/configmaps");
    assert_eq!(fields["verb"], "create");
    assert_eq!(fields["resource"], "configmaps");
    assert_eq!(fields["user"], "system:anonymous");
    assert_eq!(fields["code"], "201");
    assert_eq!(
        children(&spans, request),
        [
            "authentication",
            "audit",
            "impersonation",
            "priorityandfairness",
            "authorization",
            "handler"
        ]
    );
    let handler = spans
        .iter()
        .position(|span| span.name == "handler" && span.parent == Some(request))
        .unwrap();
    // Admission's two phases, then the store's Txn; each phase holds its plugins.
    let in_handler = children(&spans, handler);
    assert_eq!(
        in_handler,
        ["admission", "admission", "storage"],
        "{spans:#?}"
    );
    let phases: Vec<usize> = (0..spans.len())
        .filter(|&i| spans[i].parent == Some(handler) && spans[i].name == "admission")
        .collect();
    let plugins = |phase: usize| -> Vec<String> {
        spans
            .iter()
            .filter(|span| span.parent == Some(phase))
            .map(|span| {
                assert_eq!(span.name, "plugin");
                assert_eq!(span.fields["phase"], spans[phase].fields["phase"]);
                span.fields["plugin"].clone()
            })
            .collect()
    };
    assert_eq!(spans[phases[0]].fields["phase"], "mutating");
    assert_eq!(
        plugins(phases[0]),
        ["NamespaceLifecycle", "MutatingAdmissionWebhook"]
    );
    assert_eq!(spans[phases[1]].fields["phase"], "validating");
    assert_eq!(
        plugins(phases[1]),
        ["ValidatingAdmissionWebhook", "ResourceQuota"]
    );
    let storage = spans
        .iter()
        .find(|span| span.parent == Some(handler) && span.name == "storage")
        .unwrap();
    assert_eq!(storage.fields["resource"], "configmaps");
    assert!(!storage.fields["operation"].is_empty());

    drop(guard);
    drop(chain);
    store.shutdown().await;
}

/// A webhook configuration whose one webhook answers nothing (port 1 refuses) and is
/// ignored when it fails: each configmap create calls it, and goes on.
fn unreachable_webhook(kind: &str) -> String {
    serde_json::json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": "unreachable"},
        "webhooks": [{
            "name": "unreachable.trace.kubesim.io",
            "clientConfig": {"url": "https://127.0.0.1:1/"},
            "rules": [{
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE"],
                "resources": ["configmaps"]
            }],
            "failurePolicy": "Ignore",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 1
        }]
    })
    .to_string()
}

#[tokio::test]
async fn each_webhook_call_is_a_span_inside_its_plugin() {
    let _serial = CAPTURING.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let store = start_store(dir.path()).await;
    let config = ApiServerConfig::new("127.0.0.1:0", "unused".into(), "unused".into());
    let routes = routes_over(&store.client_addr().to_string(), &config).await;
    let chain = chain(&config, routes);
    let group = "/apis/admissionregistration.k8s.io/v1";
    for (resource, kind) in [
        (
            "mutatingwebhookconfigurations",
            "MutatingWebhookConfiguration",
        ),
        (
            "validatingwebhookconfigurations",
            "ValidatingWebhookConfiguration",
        ),
    ] {
        let path = format!("{group}/{resource}");
        let created = create(&chain, &path, &unreachable_webhook(kind)).await;
        assert_eq!(created.status(), 201);
    }

    let capture = Capture::default();
    let guard = tracing::subscriber::set_default(capture.subscriber());
    // The webhooks reach admission with the watch cache: until then a create calls none.
    let mut calls = Vec::new();
    for attempt in 0..100 {
        let configmap = format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"c{attempt}"}}}}"#
        );
        let response = create(&chain, "/api/v1/namespaces/default/configmaps", &configmap).await;
        let id = audit_id(&response);
        let spans = capture.spans();
        let request = spans
            .iter()
            .position(|span| span.name == "request" && span.fields["audit_id"] == id)
            .unwrap();
        // Each call, with the plugin it is in: request ... handler/admission/plugin/call.
        let in_request = |mut place: usize| {
            while let Some(parent) = spans[place].parent {
                place = parent;
            }
            place == request
        };
        calls = (0..spans.len())
            .filter(|&i| spans[i].name.starts_with("Call ") && in_request(i))
            .map(|i| {
                let plugin = &spans[spans[i].parent.unwrap()];
                assert_eq!(plugin.name, "plugin");
                assert_eq!(spans[plugin.parent.unwrap()].name, "admission");
                (
                    spans[i].name,
                    plugin.fields["plugin"].clone(),
                    spans[i].fields["configuration"].clone(),
                    spans[i].fields["webhook"].clone(),
                )
            })
            .collect();
        if calls.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let call = |name: &'static str, plugin: &str| {
        (
            name,
            plugin.to_string(),
            "unreachable".to_string(),
            "unreachable.trace.kubesim.io".to_string(),
        )
    };
    assert_eq!(
        calls,
        [
            call("Call mutating webhook", "MutatingAdmissionWebhook"),
            call("Call validating webhook", "ValidatingAdmissionWebhook"),
        ]
    );
    drop(guard);
    drop(chain);
    store.shutdown().await;
}
