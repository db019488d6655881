//! The registry: Kubernetes' REST semantics over the store, one function per verb, the
//! counterpart of kube-apiserver's `genericregistry.Store` and the strategies of each kind.
//! Objects are JSON (`serde_json::Value`); keys and revisions are the store's.
//!
//! Map of the module, in the order a write meets it:
//! - [`create`]: POST. Type meta and namespace checks, the namespace's lifecycle,
//!   `generateName`, defaults, server-owned metadata ([`meta`]), validation, storage, 409s.
//! - [`update`]: PUT and PATCH (JSON, merge, strategic merge, apply), the `status`
//!   subresource, optimistic concurrency with retries for writes that carry no
//!   resourceVersion, finalizers released by an update.
//! - [`delete`]: DELETE and deletecollection: preconditions, finalizers and
//!   `deletionTimestamp`, dry runs.
//! - [`namespaces`]: namespace termination: Terminating, its contents removed, then the
//!   namespace itself (kube's namespace controller, run in the API server here).
//! - [`read`]: GET and list: from the store (consistent) or from the watch cache
//!   (`resourceVersion=0`, not-older-than), selectors, paging.
//! - [`meta`]: uid, creationTimestamp, generation, resourceVersion.
//! - [`managed`]: managedFields on every write, and server-side apply's ownership and
//!   conflicts; [`fieldset`]: the `fieldsV1` paths both work on.
//!
//! Admission (`kubesim_admission`, built by `crate::admission`) runs inside each write, where
//! kube runs it: the mutating phase after defaults, the validating phase after the kind's own
//! validation, both before storage ([`Registry::admit`], [`Registry::validate_admission`]).

pub mod create;
pub mod delete;
pub mod fieldset;
pub mod managed;
pub mod meta;
pub mod namespaces;
pub mod read;
pub mod services;
pub mod update;

#[cfg(test)]
mod admission_defaults_tests;
#[cfg(test)]
mod future_size_tests;
#[cfg(test)]
mod own_write_tests;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use fnv::FnvHashMap;
use kubesim_admission::chain::Admission;
use kubesim_admission::{Attributes, Operation, Record};
use kubesim_api::resources::{RESOURCES, Resource};
use kubesim_api::status::{GroupKind, GroupResource};
use kubesim_api::{Status, time};
use kubesim_net::Env;
use kubesim_storage::cacher::{Cacher, CacherConfig, OwnObject, OwnWriteTicket};
use kubesim_storage::{EtcdStorage, StorageError};
use serde_json::Value;

/// kube-apiserver's `--etcd-prefix` default.
pub const DEFAULT_ETCD_PREFIX: &str = "/registry";
/// How many times a write without a resourceVersion (PATCH, an unconditional PUT, a delete)
/// is retried when a concurrent write wins the race; kube retries as long as its context
/// allows, the bound here keeps a hot key from holding a request forever.
const MAX_CONFLICT_RETRIES: usize = 16;
/// kube's `timeToWaitForReady`: how long a write waits for admission's caches to list once.
const ADMISSION_READY_TIMEOUT: Duration = Duration::from_secs(10);
const ADMISSION_READY_POLL: Duration = Duration::from_millis(20);
/// The caches admission reads before it may decide: (group, plural) at v1.
const ADMISSION_CACHES: [(&str, &str); 3] = [
    (
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
    ),
    (
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
    ),
    ("", "namespaces"),
];

/// What a write asks for beyond its object (query options common to create, update, patch).
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: run everything, store nothing.
    pub dry_run: bool,
    /// `fieldManager`, or the user agent's first word.
    pub field_manager: String,
    /// Whether the write is a server-side apply (its managedFields entry is `Apply`).
    pub operation: managed::Operation,
    /// `force=true`: an apply takes the fields other managers own.
    pub force: bool,
    /// Who asks (after impersonation); `None` for the API server's own writes (bootstrap
    /// policy, controllers), which kube makes as a `system:masters` loopback client.
    pub requester: Option<Arc<kubesim_api::user::UserInfo>>,
    /// Where admission leaves the request's warnings, audit annotations and steps.
    pub record: Arc<Record>,
    /// When the request's time is up: no admission webhook call outlives it.
    pub deadline: Option<tokio::time::Instant>,
}

/// Whether a mutating webhook changed the object during this write.
fn webhook_patched(record: &Record) -> bool {
    record.any_step(|step| step.phase == "mutating" && step.outcome == "patched")
}

/// A write offered to the watch cache ([`Registry::offer_own_write`]): withdrawn when
/// dropped (the write failed, or its request was abandoned mid-way) unless it was stored.
pub(crate) struct OwnWrite<'a> {
    cache: Option<&'a Arc<Cacher>>,
    key: &'a str,
    ticket: Option<OwnWriteTicket>,
}

impl OwnWrite<'_> {
    /// The store took the write: its event will come and take the offer.
    pub(crate) fn stored(mut self) {
        self.ticket = None;
    }
}

impl Drop for OwnWrite<'_> {
    fn drop(&mut self) {
        if let (Some(cache), Some(ticket)) = (self.cache, self.ticket) {
            cache.withdraw_own_write(self.key, ticket);
        }
    }
}

/// Checks a write after validation, before it is stored, and may refuse it: RBAC's
/// escalation prevention now (`crate::security::escalation`), validating admission in the
/// admission issue. `old` is `None` on create.
pub trait WriteGuard: Send + Sync {
    fn check<'a>(
        &'a self,
        resource: &'static Resource,
        object: &'a Value,
        old: Option<&'a Value>,
        opts: &'a WriteOptions,
    ) -> futures::future::BoxFuture<'a, Result<(), Status>>;
}

/// The registry: the store, the key prefix, a watch cache per resource, and the seam's clock
/// and entropy for timestamps, uids and generated names.
pub struct Registry {
    env: Env,
    storage: EtcdStorage,
    /// `--etcd-prefix`, without a trailing slash (`/registry`).
    prefix: String,
    /// One per served resource, keyed by its group and plural ([`cache_key`]): looked up
    /// about five times on every write's path (admission reads other kinds' caches), so it
    /// formats nothing, and hashes the two short names with FNV instead of comparing
    /// strings along a B-tree's search (about 2.5% of the API server's CPU in a pod create,
    /// in `memcmp`) or hashing them with SipHash.
    caches: FnvHashMap<(&'static str, &'static str), Arc<Cacher>>,
    /// Itself, for the background tasks a request starts (namespace termination).
    me: Weak<Registry>,
    /// Namespaces a termination task is emptying now: one task per namespace.
    terminating: Mutex<BTreeSet<String>>,
    /// Set once at start-up, after the security parts that need the registry are built.
    write_guard: std::sync::OnceLock<Arc<dyn WriteGuard>>,
    /// The admission chain, set once at start-up (`crate::admission`); none in unit tests.
    admission: std::sync::OnceLock<Arc<Admission>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The key of `resource`'s watch cache in [`Registry`]: its group and plural, which name
/// a resource as `group_resource` does, without the allocation.
fn cache_key(resource: &Resource) -> (&'static str, &'static str) {
    (resource.group, resource.plural)
}

/// Waits until every watch cache of the registry has done its first list; false when the
/// registry is gone first (the server stopped). Polls every `poll`.
pub async fn wait_caches_ready(registry: &Weak<Registry>, poll: Duration) -> bool {
    loop {
        let Some(registry) = registry.upgrade() else {
            return false;
        };
        if registry.caches_ready() {
            return true;
        }
        drop(registry);
        tokio::time::sleep(poll).await;
    }
}

impl Registry {
    /// Starts a watch cache for every stored resource and resumes the termination of
    /// namespaces that were Terminating when the server last stopped.
    pub fn start(env: Env, storage: EtcdStorage, prefix: &str) -> Arc<Registry> {
        let prefix = prefix.trim_end_matches('/').to_string();
        let mut caches = FnvHashMap::default();
        // The review APIs keep nothing: no cache to fill.
        for resource in RESOURCES.iter().filter(|r| r.is_stored()) {
            let key_prefix = format!("{prefix}/{}/", resource.key_prefix);
            let cacher = Cacher::start(storage.clone(), key_prefix, CacherConfig::default());
            caches.insert(cache_key(resource), cacher);
        }
        let registry = Arc::new_cyclic(|me| Registry {
            env,
            storage,
            prefix,
            caches,
            me: me.clone(),
            terminating: Mutex::new(BTreeSet::new()),
            write_guard: std::sync::OnceLock::new(),
            admission: std::sync::OnceLock::new(),
        });
        namespaces::resume_terminations(registry.clone());
        registry
    }

    /// Installs the check every write passes before it is stored; the first one stays.
    pub fn set_write_guard(&self, guard: Arc<dyn WriteGuard>) {
        let _ = self.write_guard.set(guard);
    }

    /// Installs the admission chain; the first one stays.
    pub fn set_admission(&self, admission: Arc<Admission>) {
        let _ = self.admission.set(admission);
    }

    /// The mutating phase of admission on `object` (`None` on DELETE). Returns whether
    /// pruning and defaults must run again: when a webhook patched the object (kube decodes
    /// a webhook's patched object with defaulting), or when a plugin set defaults in a pod's
    /// containers' resources (LimitRanger, when a LimitRange applies), from which pod
    /// defaults compute requests and the qosClass. The in-tree plugins' other changes (ServiceAccount's volume and mounts)
    /// are written complete and defaulted, as kube's plugins write them, so a second pass
    /// would change nothing and is skipped (it cost about 75k instructions per pod).
    pub(crate) async fn admit(
        &self,
        write: AdmissionWrite<'_>,
        object: Option<&mut Value>,
    ) -> Result<bool, Status> {
        let Some(admission) = self.admission.get() else {
            return Ok(false);
        };
        self.wait_for_admission_caches(write).await?;
        let attrs = self.admission_attributes(write);
        let Some(object) = object else {
            admission.admit(&attrs, None, write.record).await?;
            return Ok(false);
        };
        admission
            .admit(&attrs, Some(&mut *object), write.record)
            .await?;
        Ok(webhook_patched(write.record) || write.record.resources_defaulted())
    }

    /// kube's admission `WaitForReady`: a write is not admitted until the caches admission
    /// reads (the webhook configurations, the namespaces) have listed once, or a Fail webhook
    /// configured before a restart would be skipped by the restarted server (found by the
    /// pipeline simulation, seed 83). kube waits up to 10 s, then refuses with 403 "not yet
    /// ready to handle request". A relist after a gap does not count: the last consistent
    /// state stays in force meanwhile, as an informer's `HasSynced` stays true.
    async fn wait_for_admission_caches(&self, write: AdmissionWrite<'_>) -> Result<(), Status> {
        let deadline = tokio::time::Instant::now() + ADMISSION_READY_TIMEOUT;
        let deadline = write.deadline.map_or(deadline, |d| d.min(deadline));
        loop {
            let synced = ADMISSION_CACHES.iter().all(|(group, plural)| {
                kubesim_api::resources::lookup(group, "v1", plural)
                    .and_then(|resource| self.cache(resource).ok())
                    .is_none_or(|cache| cache.ready() || cache.revision() > 0)
            });
            if synced {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Status::forbidden_with_message(
                    &group_resource(write.resource),
                    write.name,
                    "not yet ready to handle request",
                ));
            }
            tokio::time::sleep(ADMISSION_READY_POLL).await;
        }
    }

    /// The validating phase of admission on `object` (`None` on DELETE).
    pub(crate) async fn validate_admission(
        &self,
        write: AdmissionWrite<'_>,
        object: Option<&Value>,
    ) -> Result<(), Status> {
        let Some(admission) = self.admission.get() else {
            return Ok(());
        };
        let attrs = self.admission_attributes(write);
        admission.validate(&attrs, object, write.record).await
    }

    fn admission_attributes(&self, write: AdmissionWrite<'_>) -> Attributes {
        let mut options = serde_json::Map::new();
        options.insert("kind".into(), write.operation.options_kind().into());
        options.insert("apiVersion".into(), "meta.k8s.io/v1".into());
        if write.dry_run {
            options.insert("dryRun".into(), serde_json::json!(["All"]));
        }
        if !write.field_manager.is_empty() {
            options.insert("fieldManager".into(), write.field_manager.into());
        }
        if let Some(policy) = write.propagation_policy {
            options.insert("propagationPolicy".into(), policy.into());
        }
        Attributes {
            resource: write.resource,
            subresource: write.subresource.to_string(),
            operation: write.operation,
            namespace: write.namespace.to_string(),
            name: write.name.to_string(),
            user: write
                .requester
                .cloned()
                .unwrap_or_else(Attributes::loopback_user),
            dry_run: write.dry_run,
            options: Value::Object(options),
            old_object: write.old.cloned(),
            deadline: write.deadline,
            uid: self.new_uid(),
        }
    }

    /// Runs the write guard, if one is installed.
    async fn guard(
        &self,
        resource: &'static Resource,
        object: &Value,
        old: Option<&Value>,
        opts: &WriteOptions,
    ) -> Result<(), Status> {
        match self.write_guard.get() {
            Some(guard) => guard.check(resource, object, old, opts).await,
            None => Ok(()),
        }
    }

    /// The watch cache of `resource`.
    pub fn cache(&self, resource: &Resource) -> Result<&Arc<Cacher>, Status> {
        self.caches.get(&cache_key(resource)).ok_or_else(|| {
            Status::internal_error(&format!("no watch cache for {}", resource.plural))
        })
    }

    /// Offers the object about to be stored at `key` (without its resourceVersion, with the
    /// bytes to store) to the resource's watch cache, so the cache takes it when the write's
    /// event arrives instead of decoding the value. The offer is withdrawn when the returned
    /// guard is dropped, unless [`OwnWrite::stored`] says the write succeeded.
    fn offer_own_write<'a>(
        &'a self,
        resource: &Resource,
        key: &'a str,
        object: &Arc<OwnObject>,
    ) -> OwnWrite<'a> {
        let cache = self.caches.get(&cache_key(resource));
        let ticket = cache.and_then(|c| c.offer_own_write(key, Arc::clone(object)));
        OwnWrite { cache, key, ticket }
    }

    /// Whether every watch cache has done its first list (`/readyz`'s informer-sync check).
    pub fn caches_ready(&self) -> bool {
        self.caches.values().all(|cache| cache.ready())
    }

    /// Creates a cluster-scoped object the server itself keeps (bootstrap RBAC policy, APF
    /// configuration) when it is absent, as `manager`; one that exists is left as it is.
    /// `Some(revision)` when it is there now: the revision of the create, or 0 if it existed;
    /// `None` after a failure (logged, and worth a retry).
    pub async fn create_if_absent(
        &self,
        resource: &'static Resource,
        object: Value,
        manager: &str,
    ) -> Option<i64> {
        let name = meta::meta_str(&object, "name").to_string();
        let opts = WriteOptions {
            field_manager: manager.to_string(),
            ..WriteOptions::default()
        };
        match self.create(resource, "", object, &opts).await {
            Ok(created) => {
                tracing::debug!(kind = resource.kind, %name, "created bootstrap object");
                Some(
                    meta::meta_str(&created, "resourceVersion")
                        .parse()
                        .unwrap_or(0),
                )
            }
            Err(status) if status.code == 409 => Some(0),
            Err(status) => {
                tracing::warn!(kind = resource.kind, %name, error = %status.message,
                    "could not create bootstrap object; retrying");
                None
            }
        }
    }

    /// The store client, for `/readyz`'s etcd check.
    pub fn storage(&self) -> &EtcdStorage {
        &self.storage
    }

    /// The store key of one object.
    pub fn key(&self, resource: &Resource, namespace: &str, name: &str) -> String {
        resource.key(&self.prefix, namespace, name)
    }

    /// The store prefix of a collection: a namespace's, or every namespace's when
    /// `namespace` is empty.
    pub fn collection_key(&self, resource: &Resource, namespace: &str) -> String {
        resource.collection_key(&self.prefix, namespace)
    }

    /// Now, as metav1.Time, from the seam's clock.
    pub fn now(&self) -> String {
        time::format_rfc3339(self.now_secs())
    }

    /// Now, in Unix seconds (a Table's AGE).
    pub fn now_secs(&self) -> i64 {
        self.env.clock.now_since_epoch().as_secs() as i64
    }

    /// A random (v4) UUID from the seam's entropy: object uids, and TokenRequest's `jti`.
    pub fn new_uid(&self) -> String {
        meta::new_uid(|| self.env.entropy.next_u64())
    }

    fn generate_name(&self, prefix: &str) -> String {
        meta::generate_name(prefix, || self.env.entropy.next_u64())
    }

    /// Reads one object from the store (a consistent read): the object with its
    /// resourceVersion, and the revision for a precondition.
    pub async fn read(
        &self,
        resource: &Resource,
        namespace: &str,
        name: &str,
    ) -> Result<(Value, i64), Status> {
        let key = self.key(resource, namespace, name);
        let gr = group_resource(resource);
        let (bytes, revision) = self
            .storage
            .get(&key)
            .await
            .map_err(|e| storage_status(e, &gr, name))?
            .ok_or_else(|| Status::not_found(&gr, name))?;
        let object = meta::from_stored(&bytes, revision).ok_or_else(|| {
            Status::internal_error(&format!("the stored value of {key} is not a JSON object"))
        })?;
        Ok((object, revision))
    }
}

/// One write as admission sees it; built by the verbs, turned into
/// `kubesim_admission::Attributes` by [`Registry::admit`] and [`Registry::validate_admission`].
#[derive(Clone, Copy)]
pub(crate) struct AdmissionWrite<'a> {
    pub resource: &'static Resource,
    pub subresource: &'a str,
    pub operation: Operation,
    pub namespace: &'a str,
    pub name: &'a str,
    pub old: Option<&'a Value>,
    pub requester: Option<&'a Arc<kubesim_api::user::UserInfo>>,
    pub dry_run: bool,
    pub field_manager: &'a str,
    pub propagation_policy: Option<&'a str>,
    pub deadline: Option<tokio::time::Instant>,
    pub record: &'a Record,
}

impl<'a> AdmissionWrite<'a> {
    /// A create or update with `opts`.
    pub fn from_write(
        resource: &'static Resource,
        operation: Operation,
        (namespace, name, subresource): (&'a str, &'a str, &'a str),
        old: Option<&'a Value>,
        opts: &'a WriteOptions,
    ) -> AdmissionWrite<'a> {
        AdmissionWrite {
            resource,
            subresource,
            operation,
            namespace,
            name,
            old,
            requester: opts.requester.as_ref(),
            dry_run: opts.dry_run,
            field_manager: &opts.field_manager,
            propagation_policy: None,
            deadline: opts.deadline,
            record: &opts.record,
        }
    }
}

/// `pods`, `deployments.apps`: how errors name a resource.
pub fn group_resource(resource: &Resource) -> GroupResource {
    GroupResource::new(resource.group, resource.plural)
}

/// `Pod`, `Deployment.apps`: how a 422 names a kind.
pub fn group_kind(resource: &Resource) -> GroupKind {
    GroupKind::new(resource.group, resource.kind)
}

/// The one conversion from a storage error to the wire, for an object `name` of `gr`.
pub fn storage_status(error: StorageError, gr: &GroupResource, name: &str) -> Status {
    match error {
        StorageError::NotFound => Status::not_found(gr, name),
        StorageError::AlreadyExists => Status::already_exists(gr, name),
        StorageError::Conflict { .. } => Status::conflict_stale(gr, name),
        StorageError::Expired {
            message,
            continue_key,
        } => {
            let mut status = Status::resource_expired(&message);
            status.continue_token = continue_key.unwrap_or_default();
            status
        }
        // The object is over the store's request limit: the client's doing, so 413, not 500.
        StorageError::TooLarge => Status::request_entity_too_large(
            "the object is larger than the store accepts (etcdserver: request is too large)",
        ),
        StorageError::InvalidArgument(message) => Status::bad_request(&message),
        StorageError::Unavailable(message) => {
            Status::service_unavailable(&format!("the store is unavailable: {message}"))
        }
        StorageError::Internal(message) => Status::internal_error(&message),
    }
}

/// How long the namespace controller waits between passes over a Terminating namespace.
pub(crate) const NAMESPACE_RESYNC: Duration = Duration::from_millis(500);
