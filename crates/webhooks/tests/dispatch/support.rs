//! What the dispatch tests share: a test CA and the samples served in-process with its
//! certificates ([`Ca`], [`Server`]), an in-memory [`ClusterState`] ([`Cluster`]: namespaces,
//! services, and the two webhook configuration lists with their revision), webhook
//! configurations as JSON ([`webhook`], [`configuration`]), and one request run through the
//! chain as the API server runs it ([`Harness::run`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::future::BoxFuture;
use kubesim_admission::chain::{Admission, AdmissionOptions};
use kubesim_admission::webhook::{TRANSPORT_ANNOTATION, Transport, WebhookKind};
use kubesim_admission::{Attributes, ClusterState, Operation, Record};
use kubesim_api::Status;
use kubesim_api::resources::{self, Resource};
use kubesim_api::user::UserInfo;
use kubesim_net::network::Network;
use kubesim_net::{SystemClock, TokioNetwork};
use kubesim_webhooks::Knobs;
use kubesim_webhooks::samples::{AuditSink, LabelInjector, Sample};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The AdmissionReview uid of every request the tests send.
pub const UID: &str = "0b6e2c6e-8f7e-4a59-9d47-2f0c3a1d5e01";
/// The path every webhook is called on.
pub const PATH: &str = "/admit";

// ---------------------------------------------------------------------------------------
// Certificates and servers

/// A CA made for one test; its PEM goes into `caBundle`.
pub struct Ca {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().expect("a CA key");
        let mut params = rcgen::CertificateParams::default();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer = rcgen::CertifiedIssuer::self_signed(params, key).expect("a CA certificate");
        let pem = issuer.pem();
        Ca { issuer, pem }
    }

    /// `caBundle` as a configuration carries it.
    pub fn bundle(&self) -> String {
        STANDARD.encode(self.pem.as_bytes())
    }

    /// The samples' TLS configuration with a certificate for `names` (DNS names or IPs).
    fn server_config(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let key = rcgen::KeyPair::generate().expect("a serving key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let leaf = rcgen::CertificateParams::new(names)
            .expect("certificate names")
            .signed_by(&key, &self.issuer)
            .expect("a serving certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        kubesim_webhooks::tls::server_config(vec![leaf.der().clone()], key)
            .expect("a TLS configuration")
    }

    /// Serves `sample` with `knobs` on 127.0.0.1, with a certificate for 127.0.0.1.
    pub async fn serve(&self, sample: Sample, knobs: Knobs) -> Server {
        self.serve_as(sample, knobs, &["127.0.0.1"]).await
    }

    /// Serves `sample` with a certificate for `names`.
    pub async fn serve_as(&self, sample: Sample, knobs: Knobs, names: &[&str]) -> Server {
        let tls = self.server_config(names);
        let listener = TokioNetwork.bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("an address").port();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(kubesim_webhooks::serve(
            sample,
            knobs,
            listener,
            tls,
            async {
                // Dropping the sender stops the server too.
                let _ = stopped.await;
            },
        ));
        Server { port, _stop: stop }
    }
}

/// A sample being served; it stops when this is dropped.
pub struct Server {
    pub port: u16,
    _stop: oneshot::Sender<()>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}{PATH}", self.port)
    }

    /// `clientConfig` calling this server by URL, trusting `ca`.
    pub fn client_config(&self, ca: &Ca) -> Value {
        url_client_config(&self.url(), ca)
    }
}

pub fn url_client_config(url: &str, ca: &Ca) -> Value {
    json!({"url": url, "caBundle": ca.bundle()})
}

/// A port on 127.0.0.1 that nothing listens on (bound, then closed).
pub async fn closed_port() -> u16 {
    let listener = TokioNetwork.bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("an address").port()
}

/// The knobs of a sample whose every review fails with `mode`.
pub fn failing(mode: kubesim_webhooks::FailureMode) -> Knobs {
    Knobs {
        fail_rate: 1.0,
        failure_mode: mode,
        ..Knobs::default()
    }
}

/// The knobs of a sample that answers after `millis`.
pub fn slow(millis: u64) -> Knobs {
    Knobs {
        latency: kubesim_webhooks::Latency::Fixed(std::time::Duration::from_millis(millis)),
        ..Knobs::default()
    }
}

pub fn label_injector(labels: &[(&str, &str)]) -> Sample {
    Sample::LabelInjector(LabelInjector {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    })
}

pub fn audit_sink() -> Sample {
    Sample::AuditSink(AuditSink::new(16, Arc::new(SystemClock)))
}

// ---------------------------------------------------------------------------------------
// Configurations

/// One `webhooks[]` entry on pods (CREATE, UPDATE, DELETE), `Fail`, `sideEffects: None`,
/// `timeoutSeconds: 5`, with `overrides` merged over it.
pub fn webhook(name: &str, client_config: Value, overrides: Value) -> Value {
    let mut hook = json!({
        "name": name,
        "clientConfig": client_config,
        "rules": [{
            "operations": ["CREATE", "UPDATE", "DELETE"],
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "resources": ["pods"],
        }],
        "failurePolicy": "Fail",
        "sideEffects": "None",
        "timeoutSeconds": 5,
        "admissionReviewVersions": ["v1"],
    });
    if let (Some(hook), Value::Object(overrides)) = (hook.as_object_mut(), overrides) {
        hook.extend(overrides);
    }
    hook
}

/// A Mutating- or ValidatingWebhookConfiguration named `name`, over `transport`.
pub fn configuration(
    kind: WebhookKind,
    name: &str,
    transport: Transport,
    webhooks: Vec<Value>,
) -> Value {
    let mut metadata = json!({"name": name});
    if transport == Transport::Grpc {
        metadata["annotations"] = json!({ TRANSPORT_ANNOTATION: "grpc" });
    }
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind.configuration_kind(),
        "metadata": metadata,
        "webhooks": webhooks,
    })
}

// ---------------------------------------------------------------------------------------
// The cluster

/// The cluster as admission reads it: objects by (plural, namespace, name), and the webhook
/// configurations in the order they were added, listed at a revision that moves with them.
#[derive(Default)]
pub struct Cluster {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    revision: i64,
    mutating: Vec<Arc<Value>>,
    validating: Vec<Arc<Value>>,
    objects: BTreeMap<(String, String, String), Arc<Value>>,
}

impl Cluster {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a webhook configuration (after those already there) and moves the revision.
    pub fn add(&self, kind: WebhookKind, configuration: Value) {
        let mut inner = self.lock();
        inner.revision += 1;
        let list = match kind {
            WebhookKind::Mutating => &mut inner.mutating,
            WebhookKind::Validating => &mut inner.validating,
        };
        list.push(Arc::new(configuration));
    }

    /// Stores an object of `plural` (namespaces, services) under its name.
    pub fn put(&self, plural: &str, namespace: &str, object: Value) {
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let key = (plural.to_string(), namespace.to_string(), name);
        let mut inner = self.lock();
        inner.revision += 1;
        inner.objects.insert(key, Arc::new(object));
    }

    fn find(&self, resource: &Resource, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let key = (
            resource.plural.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        self.lock().objects.get(&key).cloned()
    }
}

impl ClusterState for Cluster {
    fn get<'a>(
        &'a self,
        resource: &'static Resource,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Value>>, Status>> {
        let found = self.find(resource, namespace, name);
        Box::pin(async move { Ok(found) })
    }

    fn list(
        &self,
        resource: &'static Resource,
        namespace: &str,
    ) -> Result<(Vec<Arc<Value>>, i64), Status> {
        let inner = self.lock();
        let objects = match (resource.group, resource.plural) {
            ("admissionregistration.k8s.io", "mutatingwebhookconfigurations") => {
                inner.mutating.clone()
            }
            ("admissionregistration.k8s.io", "validatingwebhookconfigurations") => {
                inner.validating.clone()
            }
            (_, plural) => inner
                .objects
                .iter()
                .filter(|((p, ns, _), _)| p == plural && (namespace.is_empty() || ns == namespace))
                .map(|(_, object)| object.clone())
                .collect(),
        };
        Ok((objects, inner.revision))
    }

    fn read<'a>(
        &'a self,
        resource: &'static Resource,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<(Value, i64)>, Status>> {
        let found = self.find(resource, namespace, name);
        let revision = self.lock().revision;
        Box::pin(async move { Ok(found.map(|object| ((*object).clone(), revision))) })
    }

    fn update<'a>(
        &'a self,
        _resource: &'static Resource,
        _namespace: &'a str,
        _name: &'a str,
        _object: Value,
        _revision: i64,
    ) -> BoxFuture<'a, Result<bool, Status>> {
        // Only ResourceQuota writes, and it is not in the chain.
        Box::pin(async { Ok(false) })
    }
}

// ---------------------------------------------------------------------------------------
// Requests

pub fn pods() -> &'static Resource {
    resources::lookup("", "v1", "pods").expect("pods are served")
}

/// The pod `web` in `default`: one container, no labels.
pub fn pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": [{"name": "web", "image": "registry.k8s.io/pause:3.10"}]},
    })
}

/// A CREATE of `object` in `default` by alice.
pub fn create(object: &Value) -> Attributes {
    Attributes {
        resource: pods(),
        subresource: String::new(),
        operation: Operation::Create,
        namespace: "default".into(),
        name: object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into(),
        user: UserInfo::new("alice", &["system:authenticated"]).into(),
        dry_run: false,
        options: json!({"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}),
        old_object: None,
        deadline: None,
        uid: UID.into(),
    }
}

/// A DELETE of the stored `old`.
pub fn delete(old: &Value) -> Attributes {
    Attributes {
        operation: Operation::Delete,
        options: json!({"apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions"}),
        old_object: Some(old.clone()),
        ..create(old)
    }
}

/// What came of one request.
pub struct Outcome {
    pub result: Result<(), Status>,
    /// The object after the mutating phase (`None` on DELETE).
    pub object: Option<Value>,
    pub record: Arc<Record>,
}

impl Outcome {
    /// Each step as (name, phase, outcome), in the order recorded.
    pub fn steps(&self) -> Vec<(String, String, String)> {
        self.record
            .steps()
            .into_iter()
            .map(|s| (s.name, s.phase.to_string(), s.outcome))
            .collect()
    }

    /// The names of the steps, in order.
    pub fn step_names(&self) -> Vec<String> {
        self.record.steps().into_iter().map(|s| s.name).collect()
    }

    /// The audit annotations whose key starts with `prefix`.
    pub fn annotations(&self, prefix: &str) -> BTreeMap<String, String> {
        self.record
            .audit_annotations()
            .into_iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .collect()
    }

    /// The refusal; panics (the test fails) when the request was admitted.
    pub fn refusal(&self) -> &Status {
        match &self.result {
            Ok(()) => panic!("admitted, steps {:?}", self.steps()),
            Err(status) => status,
        }
    }

    pub fn assert_admitted(&self) {
        if let Err(status) = &self.result {
            panic!("refused: {status:?}; steps {:?}", self.steps());
        }
    }
}

/// A cluster with the namespace `default`, and the chain over it: NamespaceLifecycle (a
/// built-in with a mutating phase, so reinvocation shows) and the two webhook plugins.
pub struct Harness {
    pub ca: Ca,
    pub cluster: Arc<Cluster>,
    pub chain: Admission,
}

/// The default plugins that would need more of the cluster than these tests give.
const DISABLED: [&str; 4] = [
    "LimitRanger",
    "ServiceAccount",
    "PodSecurity",
    "ResourceQuota",
];

impl Harness {
    pub fn new() -> Harness {
        let cluster = Arc::new(Cluster::default());
        cluster.put(
            "namespaces",
            "",
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "default", "labels": {"kubernetes.io/metadata.name": "default"}},
                   "status": {"phase": "Active"}}),
        );
        let options = AdmissionOptions {
            disable: DISABLED.iter().map(|p| p.to_string()).collect(),
            ..AdmissionOptions::default()
        };
        let state: Arc<dyn ClusterState> = cluster.clone();
        let (chain, warnings) =
            Admission::build(&options, state, Arc::new(TokioNetwork)).expect("the chain");
        assert_eq!(warnings, Vec::<String>::new());
        assert_eq!(
            chain.plugin_names(),
            [
                "NamespaceLifecycle",
                "MutatingAdmissionWebhook",
                "ValidatingAdmissionWebhook"
            ]
        );
        Harness {
            ca: Ca::new("kubesim dispatch test CA"),
            cluster,
            chain,
        }
    }

    pub async fn serve(&self, sample: Sample, knobs: Knobs) -> Server {
        self.ca.serve(sample, knobs).await
    }

    /// Adds a configuration of one webhook over `transport`.
    pub fn add_one(&self, kind: WebhookKind, name: &str, transport: Transport, hook: Value) {
        self.cluster
            .add(kind, configuration(kind, name, transport, vec![hook]));
    }

    /// Both phases, as the API server runs them: mutating, then (the object's own validation,
    /// not here) validating on what the mutating phase left.
    pub async fn run(&self, attrs: &Attributes, object: Option<Value>) -> Outcome {
        let record = Record::new();
        let mut object = object;
        let mut result = self.chain.admit(attrs, object.as_mut(), &record).await;
        if result.is_ok() {
            result = self.chain.validate(attrs, object.as_ref(), &record).await;
        }
        Outcome {
            result,
            object,
            record,
        }
    }
}

/// A step as [`Outcome::steps`] lists it.
pub fn step(name: &str, phase: &str, outcome: &str) -> (String, String, String) {
    (name.to_string(), phase.to_string(), outcome.to_string())
}

/// NamespaceLifecycle's step in the mutating phase.
pub fn lifecycle() -> (String, String, String) {
    step("NamespaceLifecycle", "mutating", "admitted")
}
