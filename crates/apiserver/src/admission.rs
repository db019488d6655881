//! Admission in the API server: the chain built from the flags (`kubesim_admission`), the
//! cluster state its plugins read (the registry's watch caches, the store where a cache may
//! lag), and the API server's part of kube's ServiceAccount controller (every namespace has a
//! `default` ServiceAccount, which the ServiceAccount plugin requires of pods).
//!
//! The registry runs the chain ([`crate::registry`]: `create`, `update`, `delete`); this file
//! only builds what it runs.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use kubesim_admission::ClusterState;
use kubesim_admission::chain::{Admission, AdmissionOptions};
use kubesim_api::Status;
use kubesim_api::resources::Resource;
use kubesim_net::Env;
use kubesim_storage::StorageError;
use serde_json::{Value, json};

use crate::registry::{Registry, WriteOptions, group_resource, meta, storage_status};

/// How often the ServiceAccount and quota controllers look again (kube's controllers react to
/// watch events; kubesim's look every few seconds, and the namespace create makes its
/// `default` ServiceAccount at once).
const CONTROLLER_RESYNC: Duration = Duration::from_secs(5);

/// Builds the chain from the flags and installs it in the registry; starts the controllers
/// admission depends on.
pub fn start(
    env: &Env,
    registry: &Arc<Registry>,
    options: &AdmissionOptions,
) -> Result<(), String> {
    let state: Arc<dyn ClusterState> = Arc::new(RegistryState {
        registry: Arc::downgrade(registry),
    });
    let (admission, warnings) = Admission::build(options, state.clone(), env.net.clone())?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    tracing::info!(plugins = ?admission.plugin_names(), "admission plugins");
    let quota_enabled = admission
        .plugin_names()
        .contains(&kubesim_admission::plugins::RESOURCE_QUOTA);
    registry.set_admission(Arc::new(admission));
    tokio::spawn(service_account_controller(Arc::downgrade(registry)));
    if quota_enabled {
        tokio::spawn(kubesim_admission::plugins::resource_quota::run_controller(
            state,
            CONTROLLER_RESYNC,
        ));
    }
    Ok(())
}

/// The registry as admission's [`ClusterState`]. Weak: the registry holds the chain that
/// holds this.
struct RegistryState {
    registry: Weak<Registry>,
}

impl RegistryState {
    fn registry(&self) -> Result<Arc<Registry>, Status> {
        self.registry
            .upgrade()
            .ok_or_else(|| Status::service_unavailable("the API server is shutting down"))
    }
}

impl ClusterState for RegistryState {
    fn get<'a>(
        &'a self,
        resource: &'static Resource,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Value>>, Status>> {
        Box::pin(async move {
            let registry = self.registry()?;
            let key = registry.key(resource, namespace, name);
            if let Ok(cache) = registry.cache(resource)
                && let (Some(object), _) = cache.get(&key)
            {
                return Ok(Some(object.shared_value()));
            }
            Ok(self
                .read(resource, namespace, name)
                .await?
                .map(|(object, _)| Arc::new(object)))
        })
    }

    fn list(
        &self,
        resource: &'static Resource,
        namespace: &str,
    ) -> Result<(Vec<Arc<Value>>, i64), Status> {
        let registry = self.registry()?;
        let cache = registry.cache(resource)?;
        let prefix = if namespace.is_empty() {
            String::new()
        } else {
            registry.collection_key(resource, namespace)
        };
        let (objects, revision) = cache.list(&prefix, &|_| true);
        let values = objects.iter().map(|object| object.shared_value()).collect();
        Ok((values, revision))
    }

    fn read<'a>(
        &'a self,
        resource: &'static Resource,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<(Value, i64)>, Status>> {
        Box::pin(async move {
            match self.registry()?.read(resource, namespace, name).await {
                Ok(found) => Ok(Some(found)),
                Err(status) if status.code == 404 => Ok(None),
                Err(status) => Err(status),
            }
        })
    }

    fn update<'a>(
        &'a self,
        resource: &'static Resource,
        namespace: &'a str,
        name: &'a str,
        object: Value,
        revision: i64,
    ) -> BoxFuture<'a, Result<bool, Status>> {
        Box::pin(async move {
            let registry = self.registry()?;
            let key = registry.key(resource, namespace, name);
            let stored = meta::to_stored(&object);
            match registry.storage().update(&key, stored, revision).await {
                Ok(_) => Ok(true),
                Err(StorageError::Conflict { .. }) => Ok(false),
                Err(error) => Err(storage_status(error, &group_resource(resource), name)),
            }
        })
    }
}

fn service_accounts() -> &'static Resource {
    // Invariant: the resource table serves core/v1 serviceaccounts.
    kubesim_api::resources::lookup("", "v1", "serviceaccounts").expect("serviceaccounts are served")
}

fn namespaces() -> &'static Resource {
    // Invariant: the resource table serves core/v1 namespaces.
    kubesim_api::resources::lookup("", "v1", "namespaces").expect("namespaces are served")
}

/// kube's ServiceAccount controller, the part admission needs: every namespace that is not
/// terminating has a `default` ServiceAccount; one deleted comes back.
async fn service_account_controller(registry: Weak<Registry>) {
    loop {
        let Some(registry) = registry.upgrade() else {
            return;
        };
        if registry.caches_ready() {
            ensure_default_service_accounts(&registry).await;
        }
        drop(registry);
        tokio::time::sleep(CONTROLLER_RESYNC).await;
    }
}

async fn ensure_default_service_accounts(registry: &Registry) {
    let Ok(cache) = registry.cache(namespaces()) else {
        return;
    };
    let (all, _) = cache.list("", &|_| true);
    for namespace in all {
        let object = namespace.value();
        if !meta::meta_str(object, "deletionTimestamp").is_empty() {
            continue;
        }
        let name = meta::meta_str(object, "name");
        ensure_default_service_account(registry, name).await;
    }
}

/// Creates `<namespace>/default` unless it exists (the watch cache says so first, cheaply).
/// Boxed: a namespace create calls it, and it creates through the registry.
pub fn ensure_default_service_account<'a>(
    registry: &'a Registry,
    namespace: &'a str,
) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        let resource = service_accounts();
        let key = registry.key(resource, namespace, "default");
        if let Ok(cache) = registry.cache(resource)
            && cache.get(&key).0.is_some()
        {
            return;
        }
        let account = json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": namespace},
        });
        let opts = WriteOptions {
            field_manager: "kube-controller-manager".into(),
            ..WriteOptions::default()
        };
        match registry.create(resource, namespace, account, &opts).await {
            Ok(_) => {}
            Err(status) if status.reason == "AlreadyExists" => {}
            // A namespace being terminated refuses new content: nothing to do.
            Err(status) if status.code == 403 || status.code == 404 => {}
            Err(status) => {
                tracing::warn!(
                    namespace,
                    "could not create the default ServiceAccount: {}",
                    status.message
                );
            }
        }
    })
}
