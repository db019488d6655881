//! Namespaces: termination (kube's namespace controller, which kube runs in the controller
//! manager and kubesim runs here because there is no controller manager), and the system
//! namespaces kube-apiserver's bootstrap controller creates.
//!
//! Deleting a namespace sets `deletionTimestamp` and `status.phase: Terminating`; a task then
//! deletes everything in it, pass after pass, until nothing is left (objects with finalizers
//! stay until their finalizers are removed); then it removes the `kubernetes` finalizer from
//! `spec.finalizers` and deletes the namespace. A server restarted mid-way resumes every
//! Terminating namespace ([`resume_terminations`]).

use std::sync::Arc;
use std::time::Duration;

use kubesim_api::Status;
use kubesim_api::resources::{RESOURCES, Resource};
use kubesim_api::selectors::{FieldSelector, LabelSelector};
use kubesim_storage::StorageError;
use serde_json::{Value, json};

use super::delete::{DeleteOptions, Deleted};
use super::read::ListOptions;
use super::{NAMESPACE_RESYNC, Registry, WriteOptions, group_resource, meta, storage_status};

/// The namespaces kube-apiserver creates at start.
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];
/// The finalizer of the namespace controller in `spec.finalizers`.
const NAMESPACE_FINALIZER: &str = "kubernetes";
/// The longest wait between passes over a namespace that is not empty yet.
const MAX_NAMESPACE_RESYNC: Duration = Duration::from_secs(10);
/// The field manager of what the server writes itself.
const SERVER_MANAGER: &str = "kube-apiserver";

fn namespaces() -> &'static Resource {
    // Invariant: the resource table serves core/v1 namespaces.
    kubesim_api::resources::lookup("", "v1", "namespaces").expect("namespaces are served")
}

impl ListOptions {
    /// Every object, read consistently from the store.
    pub fn everything() -> ListOptions {
        ListOptions {
            label_selector: LabelSelector::everything(),
            field_selector: FieldSelector::everything(),
            limit: 0,
            continue_token: None,
            resource_version: None,
            match_exact: false,
            match_not_older_than: false,
        }
    }
}

impl Registry {
    /// DELETE of a namespace: marks it Terminating and starts emptying it.
    pub(crate) async fn begin_termination(
        &self,
        name: &str,
        mut current: Value,
        revision: i64,
        opts: &DeleteOptions,
    ) -> Result<Deleted, Status> {
        let gr = group_resource(namespaces());
        if meta::meta_str(&current, "deletionTimestamp").is_empty() {
            let metadata = meta::metadata_mut(&mut current);
            metadata.insert("deletionTimestamp".into(), Value::String(self.now()));
            metadata.insert("deletionGracePeriodSeconds".into(), json!(0));
            current["status"] = json!({"phase": "Terminating"});
            if opts.dry_run {
                return Ok(Deleted::Pending(current));
            }
            let key = self.key(namespaces(), "", name);
            let new_revision = self
                .storage
                .update(&key, meta::to_stored(&current), revision)
                .await
                .map_err(|e| storage_status(e, &gr, name))?;
            meta::set_resource_version(&mut current, new_revision);
        }
        if !opts.dry_run {
            self.spawn_termination(name);
        }
        Ok(Deleted::Pending(current))
    }

    /// Starts emptying `name` unless a task already is.
    fn spawn_termination(&self, name: &str) {
        let Some(registry) = self.me.upgrade() else {
            return;
        };
        let mut running = self.terminating.lock().unwrap_or_else(|e| e.into_inner());
        if !running.insert(name.to_string()) {
            return;
        }
        let name = name.to_string();
        tokio::spawn(async move {
            empty_and_remove(&registry, &name).await;
            let mut running = registry
                .terminating
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            running.remove(&name);
        });
    }

    /// One pass: deletes what is left in `namespace`; once nothing is, removes the
    /// namespace. `Ok(true)` when the namespace is gone.
    async fn termination_pass(&self, namespace: &str) -> Result<bool, Status> {
        let mut left = 0;
        for resource in RESOURCES
            .iter()
            .filter(|r| r.is_namespaced() && r.is_stored())
        {
            let listed = self
                .list(resource, namespace, &ListOptions::everything())
                .await?;
            for object in listed.items {
                left += 1;
                let name = meta::meta_str(&object, "name").to_string();
                match self
                    .delete(resource, namespace, &name, &DeleteOptions::default())
                    .await
                {
                    Ok(_) => {}
                    Err(status) if status.code == 404 => {}
                    Err(status) => return Err(status),
                }
            }
        }
        if left > 0 {
            // Look again on the next pass: what had finalizers may still be there.
            return Ok(false);
        }
        self.finalize_namespace(namespace).await
    }

    /// Removes the namespace controller's finalizer, then the namespace if nothing else
    /// holds it.
    async fn finalize_namespace(&self, namespace: &str) -> Result<bool, Status> {
        let gr = group_resource(namespaces());
        let (mut current, revision) = match self.read(namespaces(), "", namespace).await {
            Ok(found) => found,
            Err(status) if status.code == 404 => return Ok(true),
            Err(status) => return Err(status),
        };
        if let Some(list) = current
            .get_mut("spec")
            .and_then(|s| s.get_mut("finalizers"))
            .and_then(Value::as_array_mut)
        {
            list.retain(|f| f.as_str() != Some(NAMESPACE_FINALIZER));
        }
        let key = self.key(namespaces(), "", namespace);
        if super::update::finalized(namespaces(), &current) {
            return match self.storage.delete(&key, Some(revision)).await {
                Ok(_) | Err(StorageError::NotFound) => Ok(true),
                Err(StorageError::Conflict { .. }) => Ok(false),
                Err(error) => Err(storage_status(error, &gr, namespace)),
            };
        }
        match self
            .storage
            .update(&key, meta::to_stored(&current), revision)
            .await
        {
            Ok(_) | Err(StorageError::Conflict { .. }) => Ok(false),
            Err(error) => Err(storage_status(error, &gr, namespace)),
        }
    }

    /// Creates the system namespaces that do not exist yet.
    async fn create_system_namespaces(&self) -> Result<(), Status> {
        let opts = WriteOptions {
            field_manager: SERVER_MANAGER.to_string(),
            ..WriteOptions::default()
        };
        for name in SYSTEM_NAMESPACES {
            let object =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            match self.create(namespaces(), "", object, &opts).await {
                Ok(_) => tracing::info!(namespace = name, "created system namespace"),
                Err(status) if status.code == 409 => {}
                Err(status) => return Err(status),
            }
        }
        Ok(())
    }
}

/// Passes over `namespace` until it is gone, waiting longer between passes while it is not.
async fn empty_and_remove(registry: &Registry, namespace: &str) {
    let mut delay = NAMESPACE_RESYNC;
    loop {
        match registry.termination_pass(namespace).await {
            Ok(true) => {
                tracing::info!(namespace, "namespace terminated");
                return;
            }
            Ok(false) => {}
            Err(status) => {
                tracing::warn!(namespace, error = %status.message, "namespace termination pass failed")
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_NAMESPACE_RESYNC);
    }
}

/// At start, in the background: the system namespaces, and the termination of namespaces
/// that were Terminating when the server stopped. Retries while the store is unavailable.
pub fn resume_terminations(registry: Arc<Registry>) {
    tokio::spawn(async move {
        let mut delay = NAMESPACE_RESYNC;
        loop {
            match bootstrap(&registry).await {
                Ok(()) => return,
                Err(status) => {
                    tracing::info!(error = %status.message, "waiting for the store to bootstrap namespaces")
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_NAMESPACE_RESYNC);
        }
    });
}

async fn bootstrap(registry: &Registry) -> Result<(), Status> {
    registry.create_system_namespaces().await?;
    let listed = registry
        .list(namespaces(), "", &ListOptions::everything())
        .await?;
    for namespace in listed.items {
        if !meta::meta_str(&namespace, "deletionTimestamp").is_empty() {
            registry.spawn_termination(meta::meta_str(&namespace, "name"));
        }
    }
    Ok(())
}
