//! The audit stage: kube-apiserver's `WithAudit` and `WithFailedAuthenticationAudit`
//! filters over `kubesim_audit`. The policy (`--audit-policy-file`) decides each request's
//! level once its user is known; the request then carries a [`RequestAudit`] in its
//! extensions, to which the later stages add what they learn (the impersonated user, the
//! authorization decision, admission's annotations, the request body), and which sends an
//! `audit.k8s.io/v1` Event to the backends at each stage:
//!
//! - `RequestReceived` as the audit stage sees the request;
//! - `ResponseStarted` when a long-running request (watch) starts its response;
//! - `ResponseComplete` when the response is done (for a watch: when its stream ends);
//! - `Panic` when a handler panicked.
//!
//! A request that fails authentication gets one `ResponseStarted` event with its 401, as
//! kube's failed-authentication audit writes it. Backends never block a request
//! (`kubesim_audit::backend`): the events a full buffer drops are counted in
//! `apiserver_audit_error_total` on `/metrics`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kubesim_api::user::UserInfo;
use kubesim_api::{RequestInfo, Status};
use kubesim_audit::backend::log::{LogBackend, LogOptions};
use kubesim_audit::backend::webhook::{WebhookBackend, WebhookOptions};
use kubesim_audit::backend::{Backend, Union};
use kubesim_audit::event::ObjectReference;
use kubesim_audit::kubeconfig::RestConfig;
use kubesim_audit::policy::RequestAuditConfig;
use kubesim_audit::{Event, Level, Policy, Stage};
use kubesim_net::{Clock, Env};
use serde_json::{Value, json};

/// The `--audit-*` flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditOptions {
    /// `--audit-policy-file`; without it nothing is audited (kube's default).
    pub policy_file: Option<PathBuf>,
    /// `--audit-log-path` and its rotation flags; `None` without a path.
    pub log: Option<LogOptions>,
    /// `--audit-webhook-config-file`.
    pub webhook_config_file: Option<PathBuf>,
    /// `--audit-webhook-batch-*`, `--audit-webhook-initial-backoff`; `None` keeps kube's
    /// defaults.
    pub webhook_batch: WebhookBatchOptions,
}

/// The webhook backend's batching flags (kube's names); `None` is kube's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookBatchOptions {
    pub buffer_size: Option<usize>,
    pub max_size: Option<usize>,
    pub max_wait: Option<Duration>,
    pub initial_backoff: Option<Duration>,
}

/// The policy and the backends; one per server.
pub struct Auditor {
    policy: Policy,
    backends: Union,
    /// The webhook backend, kept to flush it on shutdown.
    webhook: Option<Arc<WebhookBackend>>,
    clock: Arc<dyn Clock>,
    /// kube's `apiserver_audit_event_total`: events handed to the backends.
    events_total: AtomicU64,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("backends", &self.backends)
            .finish_non_exhaustive()
    }
}

impl Auditor {
    /// The auditor the flags ask for, or `None` when nothing would ever be recorded (no
    /// policy file, or no backend). Fails with a message naming the flag at fault. Must run
    /// inside the runtime (the webhook backend starts its sender task).
    pub fn build(options: &AuditOptions, env: &Env) -> Result<Option<Arc<Auditor>>, String> {
        let Some(policy_file) = &options.policy_file else {
            if options.log.is_some() || options.webhook_config_file.is_some() {
                tracing::warn!(
                    "audit backends configured without --audit-policy-file: nothing is audited"
                );
            }
            return Ok(None);
        };
        let policy =
            Policy::from_file(policy_file).map_err(|e| format!("--audit-policy-file: {e}"))?;
        let mut backends: Vec<Arc<dyn Backend>> = Vec::new();
        if let Some(log) = &options.log {
            let backend = LogBackend::new(log, env.clock.clone())
                .map_err(|e| format!("--audit-log-path: {e}"))?;
            backends.push(Arc::new(backend));
        }
        let mut webhook = None;
        if let Some(path) = &options.webhook_config_file {
            let config =
                RestConfig::load(path).map_err(|e| format!("--audit-webhook-config-file: {e}"))?;
            let webhook_options = webhook_options(config, &options.webhook_batch);
            let backend = Arc::new(
                WebhookBackend::new(webhook_options, env.net.clone())
                    .map_err(|e| format!("--audit-webhook-config-file: {e}"))?,
            );
            webhook = Some(backend.clone());
            backends.push(backend);
        }
        if backends.is_empty() {
            tracing::warn!(
                "--audit-policy-file without --audit-log-path or --audit-webhook-config-file: nothing is audited"
            );
            return Ok(None);
        }
        Ok(Some(Arc::new(Auditor {
            policy,
            backends: Union { backends },
            webhook,
            clock: env.clock.clone(),
            events_total: AtomicU64::new(0),
        })))
    }

    /// The audit of a request whose user is known, with its `RequestReceived` event sent;
    /// `None` when the policy says level None.
    pub fn begin(
        self: &Arc<Self>,
        request: RequestMeta,
        user: &UserInfo,
        info: &RequestInfo,
    ) -> Option<Arc<RequestAudit>> {
        let audit = self.prepare(request, user, info)?;
        audit.emit(Stage::RequestReceived);
        Some(audit)
    }

    /// kube's failed-authentication audit: one `ResponseStarted` event with the 401, for
    /// the policy's level of an unknown user; its status names the credentials the request
    /// carried (`attempted`, kube's `Authentication failed, attempted: bearer`).
    pub fn failed_authentication(
        self: &Arc<Self>,
        request: RequestMeta,
        info: &RequestInfo,
        attempted: &str,
    ) {
        let user = UserInfo::default();
        if let Some(audit) = self.prepare(request, &user, info) {
            audit.event().response_status = Some(json!({
                "metadata": {},
                "message": format!("Authentication failed, attempted: {attempted}"),
                "code": 401,
            }));
            audit.emit(Stage::ResponseStarted);
            audit.completed.store(true, Ordering::Relaxed);
        }
    }

    /// A request's audit at the policy's level for it, nothing sent yet.
    fn prepare(
        self: &Arc<Self>,
        request: RequestMeta,
        user: &UserInfo,
        info: &RequestInfo,
    ) -> Option<Arc<RequestAudit>> {
        let config = self.policy.evaluate(user, info);
        if config.level == Level::None {
            return None;
        }
        let mut event = Event::new(config.level, Stage::RequestReceived, &request.audit_id);
        event.request_uri = request.request_uri;
        event.verb = info.verb.clone();
        event.user = user.clone();
        event.source_ips = request.source_ips;
        event.user_agent = request.user_agent;
        event.object_ref = object_ref(info);
        event.request_received_timestamp = self.now();
        Some(Arc::new(RequestAudit {
            auditor: self.clone(),
            config,
            event: Mutex::new(event),
            completed: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// kube's `apiserver_audit_event_total` and `apiserver_audit_error_total{plugin}`, in
    /// Prometheus' text format.
    pub fn metrics(&self) -> String {
        let mut text = String::new();
        text.push_str("# HELP apiserver_audit_event_total Counter of audit events generated and sent to the audit backend.\n");
        text.push_str("# TYPE apiserver_audit_event_total counter\n");
        text.push_str(&format!(
            "apiserver_audit_event_total {}\n",
            self.events_total.load(Ordering::Relaxed)
        ));
        text.push_str("# HELP apiserver_audit_error_total Counter of audit events that failed to be audited properly. Plugin identifies the plugin affected by the error.\n");
        text.push_str("# TYPE apiserver_audit_error_total counter\n");
        for backend in &self.backends.backends {
            text.push_str(&format!(
                "apiserver_audit_error_total{{plugin=\"{}\"}} {}\n",
                backend.name(),
                backend.dropped()
            ));
        }
        text
    }

    /// Sends what the webhook backend holds, within `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        if let Some(webhook) = &self.webhook {
            webhook.shutdown(grace).await;
        }
    }

    fn now(&self) -> String {
        kubesim_api::time::format_micro_time(self.clock.now_since_epoch())
    }
}

fn webhook_options(config: RestConfig, batch: &WebhookBatchOptions) -> WebhookOptions {
    let mut options = WebhookOptions::new(config);
    if let Some(size) = batch.buffer_size {
        options.buffer_size = size;
    }
    if let Some(size) = batch.max_size {
        options.max_batch_size = size;
    }
    if let Some(wait) = batch.max_wait {
        options.max_batch_wait = wait;
    }
    if let Some(backoff) = batch.initial_backoff {
        options.initial_backoff = backoff;
    }
    options
}

/// What the audit stage reads off the HTTP request.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub audit_id: String,
    /// The path and query, as sent.
    pub request_uri: String,
    pub user_agent: String,
    /// `X-Forwarded-For`'s addresses then `X-Real-Ip`, as kube's `SourceIPs` reads them
    /// (kubesim does not see the connection's own address).
    pub source_ips: Vec<String>,
}

impl RequestMeta {
    pub fn of<B>(request: &hyper::Request<B>, audit_id: &str) -> RequestMeta {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let mut source_ips: Vec<String> = header("x-forwarded-for")
            .split(',')
            .map(str::trim)
            .filter(|ip| !ip.is_empty())
            .map(str::to_string)
            .collect();
        let real_ip = header("x-real-ip");
        if !real_ip.is_empty() && !source_ips.contains(&real_ip) {
            source_ips.push(real_ip);
        }
        RequestMeta {
            audit_id: audit_id.to_string(),
            request_uri: request.uri().path_and_query().map_or_else(
                || request.uri().path().to_string(),
                |pq| pq.as_str().to_string(),
            ),
            user_agent: header("user-agent"),
            source_ips,
        }
    }
}

/// kube's `ObjectReference` of a resource request.
fn object_ref(info: &RequestInfo) -> Option<ObjectReference> {
    if !info.is_resource_request {
        return None;
    }
    Some(ObjectReference {
        resource: info.resource.clone(),
        namespace: info.namespace.clone(),
        name: info.name.clone(),
        api_group: info.api_group.clone(),
        api_version: info.api_version.clone(),
        subresource: info.subresource.clone(),
        ..ObjectReference::default()
    })
}

/// One request's audit, in its extensions (`Arc<RequestAudit>`): the event being built and
/// the stages sent.
pub struct RequestAudit {
    auditor: Arc<Auditor>,
    config: RequestAuditConfig,
    event: Mutex<Event>,
    /// Set once `ResponseComplete` (or `Panic`) is sent: a request completes once.
    completed: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for RequestAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestAudit")
            .field("level", &self.config.level)
            .finish_non_exhaustive()
    }
}

impl RequestAudit {
    pub fn level(&self) -> Level {
        self.config.level
    }

    pub fn set_impersonated_user(&self, user: &UserInfo) {
        self.event().impersonated_user = Some(user.clone());
    }

    /// An annotation (`authorization.k8s.io/decision`, a webhook's `<name>/<key>`, ...).
    pub fn annotate(&self, key: &str, value: &str) {
        self.event()
            .annotations
            .insert(key.to_string(), value.to_string());
    }

    pub fn annotate_all(&self, annotations: BTreeMap<String, String>) {
        self.event().annotations.extend(annotations);
    }

    /// A patch or DeleteOptions as sent, at level Request and up (kube's
    /// `LogRequestPatch`): JSON, or YAML (apply) made JSON; a body that is neither is not
    /// recorded.
    pub fn request_body(&self, body: &[u8]) {
        if self.config.level < Level::Request || body.is_empty() {
            return;
        }
        let parsed = serde_json::from_slice::<Value>(body)
            .ok()
            .or_else(|| yaml_serde::from_slice::<Value>(body).ok());
        if let Some(object) = parsed {
            self.set_request_object(object);
        }
    }

    /// The decoded object of a create or update (kube's `LogRequestObject`): it fills in
    /// what objectRef lacks (the name of a create, its namespace, uid and resourceVersion),
    /// and is the requestObject at level Request and up.
    pub fn request_object(&self, object: &Value) {
        self.complete_object_ref(object);
        if self.config.level >= Level::Request {
            self.set_request_object(object.clone());
        }
    }

    fn set_request_object(&self, mut object: Value) {
        if self.config.omit_managed_fields {
            drop_managed_fields(&mut object);
        }
        self.event().request_object = Some(object);
    }

    /// Whether the response body is wanted ([`RequestAudit::response_body`]).
    pub fn wants_response(&self) -> bool {
        self.config.level >= Level::RequestResponse
    }

    /// The response body, at level RequestResponse.
    pub fn response_body(&self, body: &[u8]) {
        if !self.wants_response() {
            return;
        }
        if let Ok(mut object) = serde_json::from_slice::<Value>(body) {
            if self.config.omit_managed_fields {
                drop_managed_fields(&mut object);
            }
            self.event().response_object = Some(object);
        }
    }

    /// The answer's code, and its Status when it failed (kube's `ResponseStatus`).
    pub fn set_status(&self, code: u16, status: Option<&Status>) {
        let response_status = match status {
            Some(status) if code >= 400 => json!({
                "metadata": {},
                "status": "Failure",
                "message": status.message,
                "reason": status.reason,
                "code": code,
            }),
            _ => json!({"metadata": {}, "code": code}),
        };
        self.event().response_status = Some(response_status);
    }

    /// Sends the event at `stage` (unless the policy omits the stage).
    pub fn emit(&self, stage: Stage) {
        if self.config.omit_stages.contains(&stage) {
            return;
        }
        let event = {
            let mut event = self.event();
            event.stage = stage;
            // kube's RequestReceived event is stamped when the request was received.
            event.stage_timestamp = if stage == Stage::RequestReceived {
                event.request_received_timestamp.clone()
            } else {
                self.auditor.now()
            };
            let mut copy = event.clone();
            if stage == Stage::RequestReceived {
                // kube's RequestReceived event has neither bodies nor a response.
                copy.request_object = None;
                copy.response_object = None;
                copy.response_status = None;
            }
            copy
        };
        self.auditor.events_total.fetch_add(1, Ordering::Relaxed);
        self.auditor.backends.process_events(&[Arc::new(event)]);
    }

    /// `ResponseComplete` (or `Panic`), once.
    pub fn complete(&self, stage: Stage) {
        if self.completed.swap(true, Ordering::Relaxed) {
            return;
        }
        self.emit(stage);
    }

    /// objectRef's empty namespace, name, uid and resourceVersion from `object`'s metadata.
    fn complete_object_ref(&self, object: &Value) {
        let mut event = self.event();
        let Some(reference) = event.object_ref.as_mut() else {
            return;
        };
        let meta = |key: &str| {
            object
                .get("metadata")
                .and_then(|m| m.get(key))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let fields = [
            (&mut reference.namespace, "namespace"),
            (&mut reference.name, "name"),
            (&mut reference.uid, "uid"),
            (&mut reference.resource_version, "resourceVersion"),
        ];
        for (field, key) in fields {
            if field.is_empty() {
                *field = meta(key);
            }
        }
    }

    fn event(&self) -> MutexGuard<'_, Event> {
        // A panic while holding the lock leaves a whole event: take it anyway.
        self.event
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An object's `metadata.managedFields`, and its items' (a list), removed.
fn drop_managed_fields(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
    if let Some(items) = object.get_mut("items").and_then(Value::as_array_mut) {
        for item in items {
            if let Some(meta) = item.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.shift_remove("managedFields");
            }
        }
    }
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
