//! Where RBAC reads its objects from: [`RbacSource`] (the API server implements it over its
//! watch caches) and [`StaticRbacSource`], a fixed set of objects for tests and for callers
//! without caches.

use std::sync::{Mutex, PoisonError};

use serde_json::Value;

use super::{aggregation, bootstrap};

/// The stored JSON of every rbac.authorization.k8s.io/v1 object, as the API server keeps it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RbacObjects {
    pub roles: Vec<Value>,
    pub role_bindings: Vec<Value>,
    pub cluster_roles: Vec<Value>,
    pub cluster_role_bindings: Vec<Value>,
}

impl RbacObjects {
    /// kube's bootstrap policy as a fresh cluster has it once the aggregation controller has
    /// run: [`bootstrap::cluster_roles`] with `admin`, `edit` and `view` aggregated, and
    /// [`bootstrap::cluster_role_bindings`].
    pub fn bootstrap() -> RbacObjects {
        let mut cluster_roles = bootstrap::cluster_roles();
        for (name, rules) in aggregation::aggregate(&cluster_roles) {
            aggregation::set_rules(&mut cluster_roles, &name, &rules);
        }
        RbacObjects {
            cluster_roles,
            cluster_role_bindings: bootstrap::cluster_role_bindings(),
            ..RbacObjects::default()
        }
    }
}

/// The RBAC objects an authorizer evaluates, and a generation that changes whenever any of
/// them changed, so the authorizer recompiles only then.
pub trait RbacSource: Send + Sync {
    fn generation(&self) -> u64;
    fn objects(&self) -> RbacObjects;
}

/// A fixed set of objects; [`StaticRbacSource::set`] replaces them and bumps the generation.
#[derive(Debug, Default)]
pub struct StaticRbacSource {
    /// The generation and the objects of that generation, changed together.
    state: Mutex<(u64, RbacObjects)>,
}

impl StaticRbacSource {
    pub fn new(objects: RbacObjects) -> StaticRbacSource {
        StaticRbacSource {
            state: Mutex::new((1, objects)),
        }
    }

    pub fn set(&self, objects: RbacObjects) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 = state.0.wrapping_add(1);
        state.1 = objects;
    }
}

impl RbacSource for StaticRbacSource {
    fn generation(&self) -> u64 {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    fn objects(&self) -> RbacObjects {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .clone()
    }
}
