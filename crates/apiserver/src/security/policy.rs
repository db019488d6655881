//! The bootstrap RBAC policy and aggregated ClusterRoles, as kube-apiserver's
//! `rbac/bootstrap-roles` post-start hook and the `clusterrole-aggregation-controller` keep
//! them:
//! - at start-up, once the caches are ready, every bootstrap ClusterRole and
//!   ClusterRoleBinding that is absent is created (one that exists is left as the user made
//!   it: kubesim does not reconcile `autoupdate` policy);
//! - from then on, whenever a ClusterRole changes, each ClusterRole with an
//!   `aggregationRule` gets the union of the rules of the ClusterRoles its selectors match.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kubesim_api::resources::{self, Resource};
use kubesim_authz::rbac::{aggregation, bootstrap};
use serde_json::Value;

use crate::registry::{Registry, WriteOptions};

/// How often the task looks for the caches to be ready, and for ClusterRole changes.
const POLL: Duration = Duration::from_millis(200);
/// The field manager of the API server's own RBAC writes.
const MANAGER: &str = "kube-apiserver";

/// Whether the bootstrap policy is in place (`/readyz`'s `poststarthook/rbac/bootstrap-roles`).
#[derive(Debug, Default)]
pub struct PolicyState {
    pub bootstrapped: AtomicBool,
}

/// Starts the policy task; it runs as long as the registry does.
pub fn start(registry: &Arc<Registry>) -> Arc<PolicyState> {
    let state = Arc::new(PolicyState::default());
    tokio::spawn(run(Arc::downgrade(registry), state.clone()));
    state
}

async fn run(registry: std::sync::Weak<Registry>, state: Arc<PolicyState>) {
    if !crate::registry::wait_caches_ready(&registry, POLL).await {
        return;
    }
    let mut seen_revision = -1;
    loop {
        let Some(registry) = registry.upgrade() else {
            return;
        };
        if !state.bootstrapped.load(Ordering::Relaxed) && ensure_bootstrap(&registry).await {
            state.bootstrapped.store(true, Ordering::Relaxed);
        }
        if let Some(cache) = cluster_roles().and_then(|r| registry.cache(r).ok()) {
            let revision = cache.revision();
            // A pass that could not write every role is tried again at the next poll.
            if revision != seen_revision && aggregate(&registry).await {
                seen_revision = revision;
            }
        }
        drop(registry);
        tokio::time::sleep(POLL).await;
    }
}

/// Creates each absent bootstrap object; whether all are there now.
async fn ensure_bootstrap(registry: &Registry) -> bool {
    let (Some(roles), Some(bindings)) = (cluster_roles(), cluster_role_bindings()) else {
        return false;
    };
    let mut complete = true;
    let objects = bootstrap::cluster_roles()
        .into_iter()
        .map(|o| (roles, o))
        .chain(
            bootstrap::cluster_role_bindings()
                .into_iter()
                .map(|o| (bindings, o)),
        );
    for (resource, object) in objects {
        complete &= registry
            .create_if_absent(resource, object, MANAGER)
            .await
            .is_some();
    }
    complete
}

/// One pass of the aggregation controller over the cached ClusterRoles; whether every
/// aggregated role now has its rules (or a write is under way that will show in the cache).
async fn aggregate(registry: &Registry) -> bool {
    let Some(resource) = cluster_roles() else {
        return true;
    };
    let Ok(cache) = registry.cache(resource) else {
        return true;
    };
    let mut complete = true;
    let (objects, _) = cache.list("", &|_| true);
    let current: Vec<Value> = objects.iter().map(|o| o.value().clone()).collect();
    for (name, rules) in aggregation::aggregate(&current) {
        let Some(mut object) = current
            .iter()
            .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(&name))
            .cloned()
        else {
            continue;
        };
        let Ok(rules) = serde_json::to_value(&rules) else {
            continue;
        };
        if let Value::Object(fields) = &mut object {
            fields.insert("rules".to_string(), rules);
        }
        if let Err(status) = registry
            .update(resource, "", &name, "", object, &own_write())
            .await
        {
            tracing::debug!(%name, error = %status.message, "aggregating ClusterRole; retrying");
            complete = false;
        }
    }
    complete
}

fn own_write() -> WriteOptions {
    WriteOptions {
        field_manager: MANAGER.to_string(),
        ..WriteOptions::default()
    }
}

fn cluster_roles() -> Option<&'static Resource> {
    resources::lookup("rbac.authorization.k8s.io", "v1", "clusterroles")
}

fn cluster_role_bindings() -> Option<&'static Resource> {
    resources::lookup("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
}
