//! Admission: what may change a write, and what may refuse it, after authorization and
//! before storage (K8S-FACTS.md; kube's `k8s.io/apiserver/pkg/admission`).
//!
//! kube-apiserver runs admission in two phases around object validation:
//!
//! ```text
//! mutating:   NamespaceLifecycle → LimitRanger → ServiceAccount → MutatingAdmissionWebhook
//!             (→ once more, when a webhook changed the object and an IfNeeded webhook saw it)
//! validation: the kind's own (kubesim_api::kind_validation, in the registry)
//! validating: LimitRanger → PodSecurity → ValidatingAdmissionWebhook → ResourceQuota
//! ```
//!
//! Map of the crate:
//! - this file: what every stage shares: [`Attributes`] (kube's `admission.Attributes`: who
//!   writes what), [`Operation`], [`Record`] (the warnings, audit annotations and steps a
//!   request collects), the [`Plugin`] trait and [`ClusterState`], the objects plugins read
//!   (implemented by the API server over its watch caches), and [`TRACE_TARGET`], the
//!   target of admission's spans.
//! - [`chain`]: [`chain::Admission`], the enabled plugins in kube's order, both phases, and
//!   reinvocation.
//! - [`planted`]: known bugs behind the test-only `planted-bugs` feature, for the simulation.
//! - [`plugins`]: the built-in plugins, `--enable-admission-plugins` /
//!   `--disable-admission-plugins`, and `--admission-control-config-file`.
//! - [`webhook`]: MutatingAdmissionWebhook and ValidatingAdmissionWebhook: the configurations
//!   compiled from the store (`config`), matching (`matching`, `cel`), the AdmissionReview
//!   exchange (`review`) over HTTPS (`https`) or gRPC (`grpc`), and the dispatchers with
//!   their timeouts and failure policies (`dispatch`).

// Every plugin and webhook refuses with the wire `Status` itself, as the API server's stages
// do (see crates/apiserver/src/lib.rs): built at most once per request, on refusal.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use kubesim_api::Status;
use kubesim_api::resources::Resource;
use kubesim_api::user::UserInfo;
use serde_json::Value;

pub mod chain;
pub mod planted;
pub mod plugins;
pub mod pointer;
pub mod webhook;

/// The target of admission's spans (`admission`, one `plugin` per plugin, one per webhook
/// call): the API server's trace target, as these spans are part of a request's trace
/// there (`kubesim_apiserver::trace`), so one `RUST_LOG` directive shows them all.
pub const TRACE_TARGET: &str = "kubesim_apiserver::trace";

/// What a write does, as admission names it (`admission.Operation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

impl Operation {
    /// `CREATE`, `UPDATE`, `DELETE`, `CONNECT`: AdmissionRequest's and the rules' spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }

    /// The `kind` of AdmissionRequest's `options`.
    pub fn options_kind(self) -> &'static str {
        match self {
            Operation::Create => "CreateOptions",
            Operation::Update => "UpdateOptions",
            Operation::Delete => "DeleteOptions",
            Operation::Connect => "",
        }
    }
}

/// kube's `admission.Attributes`: one write, as every plugin and webhook sees it. The object
/// itself travels beside it (mutable in the mutating phase).
#[derive(Debug, Clone)]
pub struct Attributes {
    pub resource: &'static Resource,
    /// `status`, `scale`, ...; empty for the object itself.
    pub subresource: String,
    pub operation: Operation,
    /// Empty for cluster-scoped kinds.
    pub namespace: String,
    /// Empty on a create with `generateName` (the name is chosen after admission, as kube does).
    pub name: String,
    /// Who writes: the request's user after impersonation, or the API server's loopback
    /// identity ([`Attributes::loopback_user`]) for its own writes.
    pub user: Arc<UserInfo>,
    /// `dryRun=All`: webhooks see `dryRun: true`, and those with side effects refuse it.
    pub dry_run: bool,
    /// CreateOptions, UpdateOptions or DeleteOptions as JSON (with apiVersion and kind), as
    /// AdmissionRequest carries them; `Value::Null` when there are none.
    pub options: Value,
    /// The stored object on UPDATE and DELETE.
    pub old_object: Option<Value>,
    /// When the request's time is up (its `--request-timeout` or `?timeout=`): no webhook call
    /// outlives it, whatever its timeoutSeconds.
    pub deadline: Option<tokio::time::Instant>,
    /// The AdmissionReview `uid` of this request: one per request, every webhook sees the same.
    pub uid: String,
}

impl Attributes {
    /// The identity of the API server's own writes (kube's loopback client), made once and
    /// shared.
    pub fn loopback_user() -> Arc<UserInfo> {
        static LOOPBACK: std::sync::OnceLock<Arc<UserInfo>> = std::sync::OnceLock::new();
        Arc::clone(LOOPBACK.get_or_init(|| {
            Arc::new(UserInfo::new(
                "system:apiserver",
                &["system:masters", "system:authenticated"],
            ))
        }))
    }

    /// How long a call may take from now: `limit`, or less when the request's deadline is
    /// nearer; zero when the deadline has passed.
    pub fn time_left(&self, limit: Duration) -> Duration {
        match self.deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                left.min(limit)
            }
            None => limit,
        }
    }
}

/// The most warnings one request collects.
pub const MAX_WARNINGS: usize = 32;
/// Longer warnings are cut when recorded, a bound on memory only: the API server's response
/// applies kube's own truncation (256 characters each once they pass 4 KiB in total).
pub const MAX_WARNING_CHARS: usize = 16 * 1024;
/// Bound on the audit annotations one request collects.
pub const MAX_AUDIT_ANNOTATIONS: usize = 64;
/// Bound on the steps recorded for one request.
pub const MAX_STEPS: usize = 64;

/// What one request collects while it passes admission: `Warning` headers for the response,
/// audit annotations for the audit event, and the steps (plugin or webhook, what it did, how
/// long it took) for the request's trace. Shared by the plugins and webhooks of one request,
/// some of which run at once, hence the lock.
#[derive(Debug, Default)]
pub struct Record {
    inner: Mutex<RecordInner>,
}

#[derive(Debug, Default, Clone)]
struct RecordInner {
    warnings: Vec<String>,
    audit_annotations: BTreeMap<String, String>,
    steps: Vec<Step>,
    /// Object validation's time (the registry's, between the two admission phases): kept
    /// here beside admission's steps so the handler reports every stage of a write in one
    /// place (`/metrics`, `Server-Timing`).
    validation: Option<Validation>,
    /// A plugin set defaults in a pod's containers' resources ([`Record::note_resources_defaulted`]).
    resources_defaulted: bool,
}

/// Object validation's part in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validation {
    pub duration: Duration,
    /// It refused the object (422).
    pub rejected: bool,
}

/// One plugin or webhook's part in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// A plugin's name (`PodSecurity`) or a webhook's (`label-injector.kubesim.io`).
    pub name: String,
    /// `mutating` or `validating`.
    pub phase: &'static str,
    /// What came of it: `admitted`, `patched`, `denied: ...`, `failed (Ignore): ...`,
    /// `failed (Fail): ...`, `skipped: ...`.
    pub outcome: String,
    pub duration: Duration,
}

impl Record {
    pub fn new() -> Arc<Record> {
        Arc::new(Record::default())
    }

    /// Adds a `Warning` header's text (duplicates kept once, at most [`MAX_WARNINGS`]).
    pub fn warn(&self, text: &str) {
        let text: String = text.chars().take(MAX_WARNING_CHARS).collect();
        let mut inner = self.lock();
        if inner.warnings.len() < MAX_WARNINGS && !inner.warnings.contains(&text) {
            inner.warnings.push(text);
        }
    }

    /// Adds an audit annotation; the first value of a key stays, as kube's does.
    pub fn annotate(&self, key: &str, value: &str) {
        let mut inner = self.lock();
        if inner.audit_annotations.len() < MAX_AUDIT_ANNOTATIONS {
            inner
                .audit_annotations
                .entry(key.to_string())
                .or_insert_with(|| value.to_string());
        }
    }

    pub fn step(&self, step: Step) {
        let mut inner = self.lock();
        if inner.steps.len() < MAX_STEPS {
            inner.steps.push(step);
        }
    }

    /// How long validating the object took (an update retried on a conflict: the last try).
    pub fn validated(&self, duration: Duration, rejected: bool) {
        self.lock().validation = Some(Validation { duration, rejected });
    }

    pub fn validation(&self) -> Option<Validation> {
        self.lock().validation
    }

    pub fn warnings(&self) -> Vec<String> {
        self.lock().warnings.clone()
    }

    pub fn audit_annotations(&self) -> BTreeMap<String, String> {
        self.lock().audit_annotations.clone()
    }

    pub fn steps(&self) -> Vec<Step> {
        self.lock().steps.clone()
    }

    /// The steps so far, taken out of the record (which keeps none): for the one reader at
    /// the end of a write, which would otherwise copy every step's strings.
    pub fn take_steps(&self) -> Vec<Step> {
        std::mem::take(&mut self.lock().steps)
    }

    /// Whether some step so far matches `test` (without copying the steps).
    pub fn any_step(&self, test: impl Fn(&Step) -> bool) -> bool {
        self.lock().steps.iter().any(test)
    }

    /// A plugin (LimitRanger) set defaults in a pod's containers' resources, from which pod
    /// defaults compute requests and the qosClass: the registry defaults the pod again.
    pub fn note_resources_defaulted(&self) {
        self.lock().resources_defaulted = true;
    }

    pub fn resources_defaulted(&self) -> bool {
        self.lock().resources_defaulted
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecordInner> {
        // A panic elsewhere while holding the lock leaves plain data behind: keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One built-in admission plugin (kube's `admission.MutationInterface` and
/// `ValidationInterface` in one trait; a plugin implements the phases it has).
pub trait Plugin: Send + Sync {
    /// kube's name for it, as `--enable-admission-plugins` spells it.
    fn name(&self) -> &'static str;

    /// Whether the plugin cares about this write at all (kube's `Handles`).
    fn handles(&self, attrs: &Attributes) -> bool;

    /// The mutating phase: may change `object` (`None` on DELETE) or refuse the write.
    fn admit<'a>(
        &'a self,
        _attrs: &'a Attributes,
        _object: Option<&'a mut Value>,
        _record: &'a Record,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async { Ok(()) })
    }

    /// The validating phase: may only refuse the write.
    fn validate<'a>(
        &'a self,
        _attrs: &'a Attributes,
        _object: Option<&'a Value>,
        _record: &'a Record,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async { Ok(()) })
    }

    /// Whether the plugin has a mutating phase (the chain skips it in that phase otherwise).
    fn mutates(&self) -> bool {
        false
    }

    /// Whether the plugin has a validating phase.
    fn validates(&self) -> bool {
        false
    }
}

/// The cluster's objects as admission reads them: the API server's watch caches, with a
/// consistent read from the store where a cache may lag (a namespace created a moment ago)
/// and a conditional write for the one plugin that writes (ResourceQuota's `status.used`).
pub trait ClusterState: Send + Sync {
    /// One object: from the watch cache, else from the store. `Ok(None)` when it does not
    /// exist.
    fn get<'a>(
        &'a self,
        resource: &'static Resource,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Value>>, Status>>;

    /// Every object of `resource` in `namespace` (every namespace when empty) from the watch
    /// cache, and the cache's revision (which changes whenever the list does).
    fn list(
        &self,
        resource: &'static Resource,
        namespace: &str,
    ) -> Result<(Vec<Arc<Value>>, i64), Status>;

    /// One object read consistently from the store, with its mod revision (the precondition
    /// of [`ClusterState::update`]).
    fn read<'a>(
        &'a self,
        resource: &'static Resource,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<(Value, i64)>, Status>>;

    /// Writes `object` if it is still at `revision`: `Ok(true)` when written, `Ok(false)` when
    /// another write came first. Nothing is checked or admitted: the API server's own write.
    fn update<'a>(
        &'a self,
        resource: &'static Resource,
        namespace: &'a str,
        name: &'a str,
        object: Value,
        revision: i64,
    ) -> BoxFuture<'a, Result<bool, Status>>;
}

/// The `group/version` of a resource, as rules and AdmissionRequest's `kind` use.
pub fn group_version(resource: &Resource) -> String {
    resource.api_version()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str) -> Step {
        Step {
            name: name.to_string(),
            phase: "mutating",
            outcome: "admitted".to_string(),
            duration: Duration::from_micros(3),
        }
    }

    #[test]
    fn taking_the_steps_leaves_none_behind() {
        let record = Record::new();
        record.step(step("NamespaceLifecycle"));
        record.step(step("ServiceAccount"));
        let taken: Vec<String> = record.take_steps().into_iter().map(|s| s.name).collect();
        assert_eq!(taken, ["NamespaceLifecycle", "ServiceAccount"]);
        assert!(record.steps().is_empty());
        assert!(record.take_steps().is_empty());
    }
}
