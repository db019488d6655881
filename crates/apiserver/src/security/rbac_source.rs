//! RBAC's objects from watch caches: [`CachedRbac`] implements
//! `kubesim_authz::rbac::RbacSource` over the caches of Roles, RoleBindings, ClusterRoles and
//! ClusterRoleBindings, as kube's RBAC authorizer reads its informers. The API server shares
//! its registry's caches; the authz service (`kubesim authz`) starts its own.

use std::sync::Arc;
use std::time::Duration;

use kubesim_api::resources::{self, Resource};
use kubesim_authz::rbac::{RbacObjects, RbacSource};
use kubesim_net::Env;
use kubesim_storage::EtcdStorage;
use kubesim_storage::cacher::{Cacher, CacherConfig};

use crate::registry::Registry;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
/// The four RBAC resources, in [`RbacObjects`]' order.
const PLURALS: [&str; 4] = [
    "roles",
    "rolebindings",
    "clusterroles",
    "clusterrolebindings",
];
/// How often [`CachedRbac::wait_ready`] looks.
const READY_POLL: Duration = Duration::from_millis(20);

/// The caches of the four RBAC resources.
#[derive(Debug)]
pub struct CachedRbac {
    caches: [Arc<Cacher>; 4],
}

impl CachedRbac {
    /// Over the registry's own caches (the API server).
    pub fn from_registry(registry: &Registry) -> Result<Arc<CachedRbac>, String> {
        let cache = |plural: &str| {
            registry
                .cache(rbac_resource(plural)?)
                .cloned()
                .map_err(|status| status.message)
        };
        Ok(Arc::new(CachedRbac {
            caches: [
                cache(PLURALS[0])?,
                cache(PLURALS[1])?,
                cache(PLURALS[2])?,
                cache(PLURALS[3])?,
            ],
        }))
    }

    /// Starts caches of its own over `storage` (the authz service). `_env` is the actor's
    /// seam, kept for symmetry with the other actors' constructors.
    pub fn start(_env: &Env, storage: EtcdStorage, prefix: &str) -> Arc<CachedRbac> {
        let prefix = prefix.trim_end_matches('/');
        let start = |plural: &str| {
            Cacher::start(
                storage.clone(),
                format!("{prefix}/{plural}/"),
                CacherConfig::default(),
            )
        };
        Arc::new(CachedRbac {
            caches: PLURALS.map(start),
        })
    }

    /// Every cache has made its first list.
    pub fn ready(&self) -> bool {
        self.caches.iter().all(|cache| cache.ready())
    }

    /// Waits until [`CachedRbac::ready`], at most `timeout`; whether it became ready.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.ready() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(READY_POLL).await;
        }
        true
    }
}

impl RbacSource for CachedRbac {
    /// The sum of the caches' revisions: each only grows, so the sum changes whenever any
    /// of them applied an event (or a progress notification, which costs one recompile).
    fn generation(&self) -> u64 {
        self.caches
            .iter()
            .map(|cache| cache.revision().max(0) as u64)
            .fold(0u64, u64::wrapping_add)
    }

    fn objects(&self) -> RbacObjects {
        let [roles, role_bindings, cluster_roles, cluster_role_bindings] =
            self.caches.each_ref().map(|cache| {
                let (objects, _) = cache.list("", &|_| true);
                objects.iter().map(|o| o.value().clone()).collect()
            });
        RbacObjects {
            roles,
            role_bindings,
            cluster_roles,
            cluster_role_bindings,
        }
    }
}

fn rbac_resource(plural: &str) -> Result<&'static Resource, String> {
    resources::lookup(RBAC_GROUP, "v1", plural)
        .ok_or_else(|| format!("{plural}.{RBAC_GROUP} is not a served resource"))
}
