//! NamespaceLifecycle (kube's `k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle`),
//! a mutating-phase plugin for CREATE, UPDATE and DELETE:
//!
//! - the immortal namespaces (`default`, `kube-system`, `kube-public`) cannot be deleted:
//!   403 `namespaces "default" is forbidden: this namespace may not be deleted`;
//! - a namespaced object is not created or updated in a namespace that does not exist: the
//!   404 of the namespace lookup, `namespaces "x" not found`;
//! - nothing new is created in a namespace that is being terminated: 403 `unable to create new
//!   content in namespace x because it is being terminated`, with a `NamespaceTerminating`
//!   cause on `metadata.namespace`.
//!
//! Cluster-scoped objects, namespaces themselves, deletes of other objects and
//! LocalSubjectAccessReviews (whose answer must not reveal whether a namespace exists) always
//! pass. Like kube, the plugin remembers the namespaces it just let be deleted for 30 s and
//! reads those from the store rather than the watch cache, which may still show them Active.
//! kube's 50 ms wait for a lagging cache before its live lookup is not needed:
//! [`ClusterState::get`] already falls back to the store.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use kubesim_api::Status;
use kubesim_api::resources::Resource;
use kubesim_api::status::{GroupResource, StatusCause};
use serde_json::Value;
use tokio::time::Instant;

use super::forbidden_object;
use crate::pointer::JsonPointer;
use crate::{Attributes, ClusterState, Operation, Plugin, Record};

/// kube-apiserver registers the plugin with these (`kube-node-lease` is not among them).
const IMMORTAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];
/// How long a deleted namespace is read from the store rather than the cache
/// (`forceLiveLookupTTL`).
const FORCE_LIVE_LOOKUP_TTL: Duration = Duration::from_secs(30);
/// How many such namespaces are remembered (kube's LRU holds 100).
const FORCE_LIVE_LOOKUP_ENTRIES: usize = 100;

pub struct NamespaceLifecycle {
    state: Arc<dyn ClusterState>,
    /// Namespaces whose DELETE passed admission, and until when they are looked up live.
    force_live_lookup: Mutex<VecDeque<(String, Instant)>>,
}

impl NamespaceLifecycle {
    pub fn new(state: Arc<dyn ClusterState>) -> NamespaceLifecycle {
        NamespaceLifecycle {
            state,
            force_live_lookup: Mutex::new(VecDeque::new()),
        }
    }

    async fn check(&self, attrs: &Attributes, object: Option<&Value>) -> Result<(), Status> {
        let is_namespace = is_namespace_kind(attrs.resource);
        if attrs.operation == Operation::Delete
            && is_namespace
            && IMMORTAL_NAMESPACES.contains(&attrs.name.as_str())
        {
            let gr = GroupResource::new(attrs.resource.group, attrs.resource.plural);
            return Err(Status::forbidden_with_message(
                &gr,
                &attrs.name,
                "this namespace may not be deleted",
            ));
        }
        if is_namespace {
            // Every operation on namespaces passes; a delete makes its namespace one to read
            // live for a while, so creates racing the cache see it terminating.
            if attrs.operation == Operation::Delete {
                self.remember_deleted(&attrs.name);
            }
            return Ok(());
        }
        if attrs.namespace.is_empty()
            || attrs.operation == Operation::Delete
            || is_access_review(attrs.resource)
        {
            return Ok(());
        }
        let namespace = self.namespace(&attrs.namespace).await?;
        if attrs.operation == Operation::Create && is_terminating(&namespace) {
            return Err(terminating(attrs, object));
        }
        Ok(())
    }

    /// The namespace from the cache (then the store), or from the store alone when it was
    /// deleted a moment ago and the cache still shows it active. 404 when it does not exist.
    async fn namespace(&self, name: &str) -> Result<Arc<Value>, Status> {
        let not_found = || Status::not_found(&GroupResource::new("", "namespaces"), name);
        let cached = self
            .state
            .get(namespaces(), "", name)
            .await
            .map_err(internal)?
            .ok_or_else(not_found)?;
        if is_terminating(&cached) || !self.is_recently_deleted(name) {
            return Ok(cached);
        }
        let live = self
            .state
            .read(namespaces(), "", name)
            .await
            .map_err(internal)?;
        live.map(|(object, _)| Arc::new(object))
            .ok_or_else(not_found)
    }

    fn remember_deleted(&self, name: &str) {
        let mut entries = self.lock();
        entries.retain(|(n, _)| n != name);
        if entries.len() >= FORCE_LIVE_LOOKUP_ENTRIES {
            entries.pop_front();
        }
        entries.push_back((name.to_string(), Instant::now() + FORCE_LIVE_LOOKUP_TTL));
    }

    fn is_recently_deleted(&self, name: &str) -> bool {
        let now = Instant::now();
        let mut entries = self.lock();
        entries.retain(|(_, until)| *until > now);
        entries.iter().any(|(n, _)| n == name)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(String, Instant)>> {
        // The list is plain data: a panic elsewhere while holding it leaves it usable.
        self.force_live_lookup
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl Plugin for NamespaceLifecycle {
    fn name(&self) -> &'static str {
        super::NAMESPACE_LIFECYCLE
    }

    fn handles(&self, attrs: &Attributes) -> bool {
        matches!(
            attrs.operation,
            Operation::Create | Operation::Update | Operation::Delete
        )
    }

    fn mutates(&self) -> bool {
        true
    }

    fn admit<'a>(
        &'a self,
        attrs: &'a Attributes,
        object: Option<&'a mut Value>,
        _record: &'a Record,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move { self.check(attrs, object.map(|o| &*o)).await })
    }
}

fn namespaces() -> &'static Resource {
    // Invariant: the resource table serves core/v1 namespaces.
    kubesim_api::resources::lookup("", "v1", "namespaces").expect("namespaces are served")
}

/// kube compares the request's kind: the Namespace kind of the core group (its `finalize`
/// and `status` subresources included).
fn is_namespace_kind(resource: &Resource) -> bool {
    resource.group.is_empty() && resource.kind == "Namespace"
}

/// `accessReviewResources`: creating one in a missing namespace must not answer 404.
fn is_access_review(resource: &Resource) -> bool {
    resource.group == "authorization.k8s.io" && resource.plural == "localsubjectaccessreviews"
}

/// kube tests `status.phase`; a namespace kubesim is deleting has `deletionTimestamp` set in
/// the same write, and either is taken as terminating (as the API server's own check does).
fn is_terminating(namespace: &Value) -> bool {
    let deleting = namespace
        .at("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    let phase = namespace.at("/status/phase").and_then(Value::as_str);
    deleting || phase == Some("Terminating")
}

fn terminating(attrs: &Attributes, object: Option<&Value>) -> Status {
    let namespace = &attrs.namespace;
    let mut status = forbidden_object(
        attrs,
        object,
        &format!(
            "unable to create new content in namespace {namespace} because it is being terminated"
        ),
    );
    if let Some(details) = status.details.as_mut() {
        details.causes.push(StatusCause {
            reason: "NamespaceTerminating".into(),
            message: format!("namespace {namespace} is being terminated"),
            field: "metadata.namespace".into(),
        });
    }
    status
}

/// kube turns a lookup failure other than NotFound into a 500 (`NewInternalError`).
fn internal(status: Status) -> Status {
    if status.code == 404 {
        return status;
    }
    Status::internal_error(&status.message)
}

/// What the plugins' tests share: an in-memory [`ClusterState`] and request attributes.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use futures::future::BoxFuture;
    use kubesim_api::Status;
    use kubesim_api::resources::Resource;
    use serde_json::Value;

    use crate::{Attributes, ClusterState, Operation};

    type Key = (&'static str, String, String);

    /// Objects by (resource, namespace, name); `get` and `read` see the same map unless
    /// `cache` holds a stale copy for `get`.
    #[derive(Default)]
    pub struct MemoryState {
        pub store: Mutex<BTreeMap<Key, Value>>,
        pub cache: Mutex<BTreeMap<Key, Value>>,
        /// When set, `list` fails with this.
        pub list_error: Mutex<Option<Status>>,
    }

    impl MemoryState {
        pub fn new() -> Arc<MemoryState> {
            Arc::new(MemoryState::default())
        }

        pub fn put(&self, plural: &'static str, namespace: &str, object: Value) {
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let key = (plural, namespace.to_string(), name);
            self.store.lock().unwrap().insert(key, object);
        }

        /// A stale copy the cache answers with instead of the store's.
        pub fn put_cached(&self, plural: &'static str, namespace: &str, object: Value) {
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let key = (plural, namespace.to_string(), name);
            self.cache.lock().unwrap().insert(key, object);
        }

        fn key(resource: &Resource, namespace: &str, name: &str) -> Key {
            (resource.plural, namespace.to_string(), name.to_string())
        }
    }

    impl ClusterState for MemoryState {
        fn get<'a>(
            &'a self,
            resource: &'static Resource,
            namespace: &'a str,
            name: &'a str,
        ) -> BoxFuture<'a, Result<Option<Arc<Value>>, Status>> {
            let key = MemoryState::key(resource, namespace, name);
            let cached = self.cache.lock().unwrap().get(&key).cloned();
            let found = cached.or_else(|| self.store.lock().unwrap().get(&key).cloned());
            Box::pin(async move { Ok(found.map(Arc::new)) })
        }

        fn list(
            &self,
            resource: &'static Resource,
            namespace: &str,
        ) -> Result<(Vec<Arc<Value>>, i64), Status> {
            if let Some(status) = self.list_error.lock().unwrap().clone() {
                return Err(status);
            }
            let store = self.store.lock().unwrap();
            let items = store
                .iter()
                .filter(|((p, ns, _), _)| {
                    *p == resource.plural && (namespace.is_empty() || ns == namespace)
                })
                .map(|(_, v)| Arc::new(v.clone()))
                .collect();
            Ok((items, 1))
        }

        fn read<'a>(
            &'a self,
            resource: &'static Resource,
            namespace: &'a str,
            name: &'a str,
        ) -> BoxFuture<'a, Result<Option<(Value, i64)>, Status>> {
            let key = MemoryState::key(resource, namespace, name);
            let found = self.store.lock().unwrap().get(&key).cloned();
            Box::pin(async move { Ok(found.map(|v| (v, 1))) })
        }

        fn update<'a>(
            &'a self,
            resource: &'static Resource,
            namespace: &'a str,
            name: &'a str,
            object: Value,
            _revision: i64,
        ) -> BoxFuture<'a, Result<bool, Status>> {
            let key = MemoryState::key(resource, namespace, name);
            self.store.lock().unwrap().insert(key, object);
            Box::pin(async { Ok(true) })
        }
    }

    pub fn resource(group: &str, plural: &str) -> &'static Resource {
        kubesim_api::resources::lookup(group, "v1", plural).unwrap()
    }

    pub fn attrs(
        resource: &'static Resource,
        operation: Operation,
        namespace: &str,
        name: &str,
    ) -> Attributes {
        Attributes {
            resource,
            subresource: String::new(),
            operation,
            namespace: namespace.to_string(),
            name: name.to_string(),
            user: Attributes::loopback_user(),
            dry_run: false,
            options: Value::Null,
            old_object: None,
            deadline: None,
            uid: "705ab4f5-6393-11e8-b7cc-42010a800002".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::testing::{MemoryState, attrs, resource};
    use super::*;

    fn namespace(name: &str, phase: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "status": {"phase": phase}})
    }

    fn plugin(state: &Arc<MemoryState>) -> NamespaceLifecycle {
        NamespaceLifecycle::new(state.clone())
    }

    async fn admit(
        p: &NamespaceLifecycle,
        a: &Attributes,
        object: Option<Value>,
    ) -> Result<(), Status> {
        let mut object = object;
        p.admit(a, object.as_mut(), &Record::default()).await
    }

    fn pod(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}})
    }

    #[tokio::test]
    async fn create_in_a_missing_namespace_is_404() {
        let state = MemoryState::new();
        let p = plugin(&state);
        let a = attrs(resource("", "pods"), Operation::Create, "nowhere", "web");
        let status = admit(&p, &a, Some(pod("web"))).await.unwrap_err();
        assert_eq!(status.code, 404);
        assert_eq!(status.reason, "NotFound");
        assert_eq!(status.message, r#"namespaces "nowhere" not found"#);
        let details = status.details.unwrap();
        assert_eq!(
            (details.name.as_str(), details.kind.as_str()),
            ("nowhere", "namespaces")
        );
    }

    #[tokio::test]
    async fn update_in_a_missing_namespace_is_404_too() {
        let state = MemoryState::new();
        let p = plugin(&state);
        let a = attrs(resource("", "configmaps"), Operation::Update, "gone", "c");
        let status = admit(&p, &a, Some(json!({"metadata": {"name": "c"}})))
            .await
            .unwrap_err();
        assert_eq!(status.message, r#"namespaces "gone" not found"#);
    }

    #[tokio::test]
    async fn create_in_an_active_namespace_passes() {
        let state = MemoryState::new();
        state.put("namespaces", "", namespace("team", "Active"));
        let p = plugin(&state);
        let a = attrs(resource("", "pods"), Operation::Create, "team", "web");
        assert!(admit(&p, &a, Some(pod("web"))).await.is_ok());
    }

    #[tokio::test]
    async fn create_in_a_terminating_namespace_is_403_with_the_cause() {
        let state = MemoryState::new();
        state.put("namespaces", "", namespace("old", "Terminating"));
        let p = plugin(&state);
        let a = attrs(resource("", "pods"), Operation::Create, "old", "web");
        let status = admit(&p, &a, Some(pod("web"))).await.unwrap_err();
        assert_eq!(status.code, 403);
        assert_eq!(status.reason, "Forbidden");
        assert_eq!(
            status.message,
            r#"pods "web" is forbidden: unable to create new content in namespace old because it is being terminated"#
        );
        let details = status.details.unwrap();
        assert_eq!(details.name, "web");
        assert_eq!(details.kind, "pods");
        assert_eq!(
            details.causes,
            vec![StatusCause {
                reason: "NamespaceTerminating".into(),
                message: "namespace old is being terminated".into(),
                field: "metadata.namespace".into(),
            }]
        );
    }

    #[tokio::test]
    async fn a_deletion_timestamp_alone_is_terminating() {
        let state = MemoryState::new();
        state.put(
            "namespaces",
            "",
            json!({"metadata": {"name": "old", "deletionTimestamp": "2025-01-01T00:00:00Z"}, "status": {"phase": "Active"}}),
        );
        let p = plugin(&state);
        let a = attrs(resource("", "configmaps"), Operation::Create, "old", "c");
        let status = admit(&p, &a, Some(pod("c"))).await.unwrap_err();
        assert_eq!(status.code, 403);
    }

    #[tokio::test]
    async fn generate_name_is_the_name_in_the_refusal() {
        let state = MemoryState::new();
        state.put("namespaces", "", namespace("old", "Terminating"));
        let p = plugin(&state);
        let a = attrs(resource("", "pods"), Operation::Create, "old", "");
        let object = json!({"metadata": {"generateName": "web-"}});
        let status = admit(&p, &a, Some(object)).await.unwrap_err();
        assert!(
            status
                .message
                .starts_with(r#"pods "web-" is forbidden: unable to create"#),
            "{}",
            status.message
        );
        let status = admit(&p, &a, Some(json!({"metadata": {}})))
            .await
            .unwrap_err();
        assert!(
            status
                .message
                .starts_with(r#"pods "Unknown" is forbidden: "#),
            "{}",
            status.message
        );
    }

    #[tokio::test]
    async fn updates_and_deletes_in_a_terminating_namespace_pass() {
        let state = MemoryState::new();
        state.put("namespaces", "", namespace("old", "Terminating"));
        let p = plugin(&state);
        let update = attrs(resource("", "pods"), Operation::Update, "old", "web");
        assert!(admit(&p, &update, Some(pod("web"))).await.is_ok());
        let delete = attrs(resource("", "pods"), Operation::Delete, "gone-too", "web");
        assert!(admit(&p, &delete, None).await.is_ok());
    }

    #[tokio::test]
    async fn immortal_namespaces_cannot_be_deleted() {
        let state = MemoryState::new();
        let p = plugin(&state);
        for name in ["default", "kube-system", "kube-public"] {
            let a = attrs(resource("", "namespaces"), Operation::Delete, "", name);
            let status = admit(&p, &a, None).await.unwrap_err();
            assert_eq!(status.code, 403);
            assert_eq!(
                status.message,
                format!(r#"namespaces "{name}" is forbidden: this namespace may not be deleted"#)
            );
        }
        let lease = attrs(
            resource("", "namespaces"),
            Operation::Delete,
            "",
            "kube-node-lease",
        );
        assert!(admit(&p, &lease, None).await.is_ok());
    }

    #[tokio::test]
    async fn cluster_scoped_objects_namespaces_and_access_reviews_pass() {
        let state = MemoryState::new();
        let p = plugin(&state);
        let role = attrs(
            resource("rbac.authorization.k8s.io", "clusterroles"),
            Operation::Create,
            "",
            "r",
        );
        assert!(admit(&p, &role, Some(json!({}))).await.is_ok());
        let ns = attrs(resource("", "namespaces"), Operation::Create, "", "new");
        assert!(admit(&p, &ns, Some(namespace("new", ""))).await.is_ok());
        let lsar = attrs(
            resource("authorization.k8s.io", "localsubjectaccessreviews"),
            Operation::Create,
            "missing",
            "",
        );
        assert!(admit(&p, &lsar, Some(json!({}))).await.is_ok());
    }

    #[tokio::test]
    async fn a_namespace_just_deleted_is_read_from_the_store() {
        let state = MemoryState::new();
        state.put("namespaces", "", namespace("old", "Terminating"));
        // The cache has not seen the termination yet.
        state.put_cached("namespaces", "", namespace("old", "Active"));
        let p = plugin(&state);
        let create = attrs(resource("", "pods"), Operation::Create, "old", "web");
        assert!(
            admit(&p, &create, Some(pod("web"))).await.is_ok(),
            "the cache answers"
        );
        let delete = attrs(resource("", "namespaces"), Operation::Delete, "", "old");
        assert!(admit(&p, &delete, None).await.is_ok());
        let status = admit(&p, &create, Some(pod("web"))).await.unwrap_err();
        assert_eq!(status.code, 403);
    }

    #[test]
    fn handles_create_update_delete_only() {
        let state = MemoryState::new();
        let p = plugin(&state);
        let mut a = attrs(resource("", "pods"), Operation::Connect, "ns", "web");
        assert!(!p.handles(&a));
        for op in [Operation::Create, Operation::Update, Operation::Delete] {
            a.operation = op;
            assert!(p.handles(&a));
        }
        assert!(p.mutates() && !p.validates());
    }
}
