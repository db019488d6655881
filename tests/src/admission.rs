//! What the admission end-to-end tests share: webhook processes, their certificates, the
//! webhook configurations that point a `kubesim apiserver` at them, and the wait until the
//! server's webhook set has them.
//!
//! - [`ServingCa`]: a test CA and the serving certificates it signs (for `127.0.0.1` and
//!   `localhost`), whose PEM goes into a configuration's `caBundle`.
//! - [`WebhookProcess`]: one webhook as its own process on a free port: a sample
//!   (`kubesim webhook <name>`, [`WebhookProcess::sample`]) or the Python webhook written
//!   against kube's documented JSON ([`WebhookProcess::python`]). Killed on drop; the tail of
//!   its log is printed then, which the test harness shows only for a failed test.
//! - [`Hook`] and [`configuration`]: a Mutating- or ValidatingWebhookConfiguration for pods,
//!   over AdmissionReview/HTTPS or kubesim's gRPC transport ([`Transport`]).
//! - [`create_configuration`] and [`wait_for_webhooks`]: the API server reads configurations
//!   from its watch cache, so a test waits (bounded) until a dry-run create's trace shows the
//!   webhooks were consulted; [`trace_steps`] reads a request's admission steps.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::apiserver::{ApiServer, free_port, kubesim};
use crate::auth::{Reply, admin, call};
use crate::{e2e_required, find_on_path, wait_for};

/// How long a webhook process may take to serve `/healthz`.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the API server's webhook set may take to pick up a new configuration (a watch
/// event into its cache, then a recompile).
pub const PICKUP_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Lines of a webhook's log printed when it is dropped.
const LOG_TAIL_LINES: usize = 40;

// ---------------------------------------------------------------------------------------------
// Certificates

/// A CA for webhook serving certificates.
pub struct ServingCa {
    /// The CA certificate, PEM: a configuration's `caBundle` (base64 of it).
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl ServingCa {
    /// A fresh self-signed CA.
    pub fn new(common_name: &str) -> anyhow::Result<ServingCa> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(ServingCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// A serving certificate (serverAuth) for `127.0.0.1` and `localhost`, written as
    /// `<dir>/serving.crt` and `.key`; their paths.
    pub fn serving_cert(&self, dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "webhook.kubesim.test");
        params.subject_alt_names = vec![
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            SanType::DnsName("localhost".try_into()?),
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let cert_path = dir.join("serving.crt");
        let key_path = dir.join("serving.key");
        std::fs::write(&cert_path, cert.pem())?;
        std::fs::write(&key_path, key.serialize_pem())?;
        Ok((cert_path, key_path))
    }

    /// The CA certificate as a configuration's `caBundle`: base64 of the PEM.
    pub fn ca_bundle(&self) -> String {
        STANDARD.encode(&self.pem)
    }
}

// ---------------------------------------------------------------------------------------------
// Webhook processes

/// One webhook as its own process, serving TLS on `127.0.0.1:<port>`.
pub struct WebhookProcess {
    /// `label-injector`, `python`, ...: for messages.
    pub name: String,
    pub port: u16,
    /// Killed on drop (`kill_on_drop`), so a failed test leaves nothing behind.
    _process: Child,
    /// Holds the serving certificate and the log.
    dir: tempfile::TempDir,
}

impl WebhookProcess {
    /// `kubesim webhook <sample> <args>` (`--labels`, `--latency 5s`, `--fail-rate 1`, ...) with a
    /// serving certificate from `ca`, once it serves `/healthz`.
    pub async fn sample(
        sample: &str,
        args: &[&str],
        ca: &ServingCa,
    ) -> anyhow::Result<WebhookProcess> {
        let dir = webhook_dir(sample)?;
        let (cert, key) = ca.serving_cert(dir.path())?;
        let port = free_port()?;
        let mut command = Command::new(kubesim().await?);
        command
            .args(["webhook", sample])
            .arg(format!("--bind-address=127.0.0.1:{port}"))
            .arg(format!("--tls-cert-file={}", cert.display()))
            .arg(format!("--tls-private-key-file={}", key.display()))
            .args(args);
        WebhookProcess::spawn(sample, command, port, dir, ca).await
    }

    /// `tests/python/admission_webhook.py <args>` with a serving certificate from `ca`, once it
    /// serves. `None` (with the reason on stderr) when python3 is not installed, unless
    /// `KUBESIM_E2E=1` makes that an error.
    pub async fn python(
        args: &[&str],
        ca: &ServingCa,
        test: &str,
    ) -> anyhow::Result<Option<WebhookProcess>> {
        let Some(python) = find_on_path("python3") else {
            if e2e_required() {
                bail!("python3 is not installed but KUBESIM_E2E=1 requires it");
            }
            eprintln!("{test}: skipped: python3 not installed");
            return Ok(None);
        };
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/admission_webhook.py");
        let dir = webhook_dir("python")?;
        let (cert, key) = ca.serving_cert(dir.path())?;
        let port = free_port()?;
        let mut command = Command::new(python);
        command
            .arg(script)
            .arg(format!("--port={port}"))
            .arg(format!("--tls-cert-file={}", cert.display()))
            .arg(format!("--tls-private-key-file={}", key.display()))
            .args(args);
        let process = WebhookProcess::spawn("python", command, port, dir, ca).await?;
        Ok(Some(process))
    }

    async fn spawn(
        name: &str,
        mut command: Command,
        port: u16,
        dir: tempfile::TempDir,
        ca: &ServingCa,
    ) -> anyhow::Result<WebhookProcess> {
        let log = std::fs::File::create(dir.path().join("webhook.log"))?;
        let process = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning the {name} webhook"))?;
        let webhook = WebhookProcess {
            name: name.to_string(),
            port,
            _process: process,
            dir,
        };
        let ca_file = webhook.dir.path().join("ca.crt");
        std::fs::write(&ca_file, &ca.pem)?;
        wait_for(
            &format!("the {name} webhook to serve"),
            START_TIMEOUT,
            POLL_INTERVAL,
            || webhook.healthy(&ca_file),
        )
        .await
        .with_context(|| webhook.log())?;
        Ok(webhook)
    }

    async fn healthy(&self, ca_file: &Path) -> anyhow::Result<Option<()>> {
        let mut command = Command::new("curl");
        command
            .args(["--silent", "--show-error", "--fail", "--max-time", "5"])
            .arg("--cacert")
            .arg(ca_file)
            .arg(self.url("/healthz"));
        let out = crate::apiserver::run(command).await?;
        ensure!(out.status.success(), "GET /healthz: {}", out.stderr.trim());
        Ok((out.stdout.trim() == "ok").then_some(()))
    }

    /// `https://127.0.0.1:<port><path>`: a configuration's `clientConfig.url`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// The log so far.
    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("webhook.log")).unwrap_or_default();
        format!("{} webhook log:\n{text}", self.name)
    }
}

impl Drop for WebhookProcess {
    /// Prints the log's tail: the test harness keeps a test's output to itself unless the
    /// test fails, so this is the log of a failure.
    fn drop(&mut self) {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(LOG_TAIL_LINES);
        eprintln!(
            "--- {} webhook on port {} (last lines) ---\n{}",
            self.name,
            self.port,
            lines[from..].join("\n")
        );
    }
}

fn webhook_dir(name: &str) -> anyhow::Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix(&format!("kubesim-webhook-{name}-"))
        .tempdir()?)
}

// ---------------------------------------------------------------------------------------------
// Configurations

/// Mutating or validating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mutating,
    Validating,
}

impl Kind {
    pub fn kind(self) -> &'static str {
        match self {
            Kind::Mutating => "MutatingWebhookConfiguration",
            Kind::Validating => "ValidatingWebhookConfiguration",
        }
    }

    /// The collection's path.
    pub fn path(self) -> &'static str {
        match self {
            Kind::Mutating => "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            Kind::Validating => {
                "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
            }
        }
    }
}

/// How the API server calls a configuration's webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// AdmissionReview v1 JSON POSTed over HTTPS: kube's wire format (no annotation).
    Https,
    /// kubesim's gRPC transport: the `admission.kubesim.io/transport: grpc` annotation.
    Grpc,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Https => "https",
            Transport::Grpc => "grpc",
        }
    }
}

/// The annotation that makes a configuration's webhooks gRPC
/// (`kubesim_admission::webhook::TRANSPORT_ANNOTATION`).
pub const TRANSPORT_ANNOTATION: &str = "admission.kubesim.io/transport";

/// One webhook of a configuration, matching CREATEs of pods.
#[derive(Debug, Clone)]
pub struct Hook {
    pub name: String,
    /// `clientConfig.url`.
    pub url: String,
    /// `clientConfig.caBundle`: base64 of a PEM ([`ServingCa::ca_bundle`]).
    pub ca_bundle: String,
    /// `Fail` or `Ignore`.
    pub failure_policy: &'static str,
    pub timeout_seconds: u32,
    /// `None`, `NoneOnDryRun`, `Some` or `Unknown`.
    pub side_effects: &'static str,
    /// `Never` or `IfNeeded`; mutating webhooks only.
    pub reinvocation_policy: &'static str,
    /// Only pods in these namespaces (a `namespaceSelector` on
    /// `kubernetes.io/metadata.name`), so that cases sharing a server do not see each other's
    /// webhooks; every namespace when empty.
    pub namespaces: Vec<String>,
    /// The rule's `operations`.
    pub operations: Vec<&'static str>,
}

impl Hook {
    /// `Fail`, 10 s, `sideEffects: None`, `Never`, every namespace, pod CREATEs.
    pub fn new(name: &str, url: &str, ca_bundle: &str) -> Hook {
        Hook {
            name: name.to_string(),
            url: url.to_string(),
            ca_bundle: ca_bundle.to_string(),
            failure_policy: "Fail",
            timeout_seconds: 10,
            side_effects: "None",
            reinvocation_policy: "Never",
            namespaces: Vec::new(),
            operations: vec!["CREATE"],
        }
    }

    /// Matches pods on these operations (`CREATE`, `UPDATE`, ...).
    pub fn operations(mut self, operations: &[&'static str]) -> Hook {
        self.operations = operations.to_vec();
        self
    }

    pub fn failure_policy(mut self, policy: &'static str) -> Hook {
        self.failure_policy = policy;
        self
    }

    pub fn timeout_seconds(mut self, seconds: u32) -> Hook {
        self.timeout_seconds = seconds;
        self
    }

    pub fn side_effects(mut self, side_effects: &'static str) -> Hook {
        self.side_effects = side_effects;
        self
    }

    pub fn reinvocation_policy(mut self, policy: &'static str) -> Hook {
        self.reinvocation_policy = policy;
        self
    }

    /// Matches pods in `namespaces` only.
    pub fn in_namespaces(mut self, namespaces: &[&str]) -> Hook {
        self.namespaces = namespaces.iter().map(|ns| ns.to_string()).collect();
        self
    }

    fn to_json(&self, kind: Kind) -> Value {
        let mut hook = json!({
            "name": self.name,
            "clientConfig": {"url": self.url, "caBundle": self.ca_bundle},
            "rules": [{
                "operations": self.operations,
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["pods"],
                "scope": "Namespaced",
            }],
            "failurePolicy": self.failure_policy,
            "sideEffects": self.side_effects,
            "timeoutSeconds": self.timeout_seconds,
            "admissionReviewVersions": ["v1"],
        });
        if kind == Kind::Mutating {
            hook["reinvocationPolicy"] = json!(self.reinvocation_policy);
        }
        if !self.namespaces.is_empty() {
            hook["namespaceSelector"] = json!({"matchExpressions": [{
                "key": "kubernetes.io/metadata.name",
                "operator": "In",
                "values": self.namespaces,
            }]});
        }
        hook
    }
}

/// A Mutating- or ValidatingWebhookConfiguration named `name` with `hooks` in that order, as
/// JSON (which is YAML too: `kubectl create -f` takes it as it is).
pub fn configuration(kind: Kind, name: &str, transport: Transport, hooks: &[Hook]) -> Value {
    let mut metadata = json!({"name": name});
    if transport == Transport::Grpc {
        metadata["annotations"] = json!({TRANSPORT_ANNOTATION: "grpc"});
    }
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind.kind(),
        "metadata": metadata,
        "webhooks": hooks.iter().map(|hook| hook.to_json(kind)).collect::<Vec<_>>(),
    })
}

/// Creates a configuration as the admin (201 expected).
pub async fn create_configuration(server: &ApiServer, configuration: &Value) -> anyhow::Result<()> {
    let kind = match configuration["kind"].as_str() {
        Some("MutatingWebhookConfiguration") => Kind::Mutating,
        Some("ValidatingWebhookConfiguration") => Kind::Validating,
        other => bail!("not a webhook configuration: {other:?}"),
    };
    crate::auth::create(server, kind.path(), configuration).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Pods, traces, pickup

/// A pod with one container `web` of `image`, and `labels`.
pub fn pod(name: &str, image: &str, labels: &[(&str, &str)]) -> Value {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(key, value)| (key.to_string(), json!(value)))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "web", "image": image}]},
    })
}

/// `/api/v1/namespaces/<namespace>/pods`.
pub fn pods_path(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods")
}

/// POSTs `pod` into `namespace` as the admin, `dryRun=All` when `dry_run`; the answer.
pub async fn create_pod(
    server: &ApiServer,
    namespace: &str,
    pod: &Value,
    dry_run: bool,
) -> anyhow::Result<Reply> {
    let mut path = pods_path(namespace);
    if dry_run {
        path.push_str("?dryRun=All");
    }
    call(server, &admin(server), "POST", &path, Some(pod), &[]).await
}

/// One admission step of a request's trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    /// `mutating` or `validating`.
    pub phase: String,
    /// `admitted`, `patched`, `denied: ...`, `failed (Fail): ...`, ...
    pub outcome: String,
}

/// The admission steps in the trace of the request `reply` answered (its `Audit-Id`).
pub async fn trace_steps(server: &ApiServer, reply: &Reply) -> anyhow::Result<Vec<Step>> {
    let audit_id = reply
        .header("audit-id")
        .with_context(|| format!("no Audit-Id in {}", reply.headers))?;
    let path = format!("/debug/kubesim/trace/{audit_id}");
    let trace = call(server, &admin(server), "GET", &path, None, &[]).await?;
    trace.expect_code(200, &format!("GET {path}"))?;
    let trace = trace.json()?;
    let steps = trace["admission"].as_array().cloned().unwrap_or_default();
    Ok(steps
        .iter()
        .map(|step| Step {
            name: step["name"].as_str().unwrap_or_default().to_string(),
            phase: step["phase"].as_str().unwrap_or_default().to_string(),
            outcome: step["outcome"].as_str().unwrap_or_default().to_string(),
        })
        .collect())
}

/// Waits until the API server consults every webhook of `names` on a pod create in
/// `namespace`: a dry-run create of a plain pod, until its trace names them all. A webhook
/// whose `sideEffects` refuse dry runs is consulted too (its step says it refused).
pub async fn wait_for_webhooks(
    server: &ApiServer,
    namespace: &str,
    names: &[&str],
) -> anyhow::Result<()> {
    let probe = pod("pickup-probe", "registry.k8s.io/pause:3.10", &[]);
    wait_for(
        &format!("the API server to pick up the webhooks {names:?} in {namespace}"),
        PICKUP_TIMEOUT,
        POLL_INTERVAL,
        || async {
            let reply = create_pod(server, namespace, &probe, true).await?;
            let steps = trace_steps(server, &reply).await?;
            let seen = names
                .iter()
                .all(|name| steps.iter().any(|step| step.name == *name));
            if seen {
                return Ok(Some(()));
            }
            bail!("HTTP {}: steps {steps:?}", reply.code)
        },
    )
    .await
}

/// Waits until a dry-run create of a plain pod in `namespace` has a step of `webhook` whose
/// outcome starts with `outcome` (a configuration changed, rather than added).
pub async fn wait_for_outcome(
    server: &ApiServer,
    namespace: &str,
    webhook: &str,
    outcome: &str,
) -> anyhow::Result<()> {
    let probe = pod("pickup-probe", "registry.k8s.io/pause:3.10", &[]);
    wait_for(
        &format!("a step of {webhook} in {namespace} that is {outcome:?}"),
        PICKUP_TIMEOUT,
        POLL_INTERVAL,
        || async {
            let reply = create_pod(server, namespace, &probe, true).await?;
            let steps = trace_steps(server, &reply).await?;
            let seen = steps
                .iter()
                .any(|step| step.name == webhook && step.outcome.starts_with(outcome));
            if seen {
                return Ok(Some(()));
            }
            bail!("HTTP {}: steps {steps:?}", reply.code)
        },
    )
    .await
}

/// The steps of `steps` whose name is one of `names`, as `(name, outcome)`, in order.
pub fn steps_of<'a>(steps: &'a [Step], names: &[&str]) -> Vec<(&'a str, &'a str)> {
    steps
        .iter()
        .filter(|step| names.contains(&step.name.as_str()))
        .map(|step| (step.name.as_str(), step.outcome.as_str()))
        .collect()
}
