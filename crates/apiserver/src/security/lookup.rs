//! What ServiceAccount token verification looks up: the UID of a ServiceAccount, Pod or
//! Secret now. From the watch cache first (kube's token authenticator reads informers), then
//! from the store when the cache does not have it: an object created a moment ago, whose
//! event the cache has not applied yet, must not make its fresh token a 401.

use std::sync::{Arc, Weak};

use futures::future::BoxFuture;
use kubesim_api::resources::{self, Resource};
use kubesim_authn::{BoundKind, ObjectLookup};

use crate::registry::Registry;

/// [`ObjectLookup`] over the registry. Weak: the registry owns the caches the lookups read,
/// and the server owns both; a lookup after shutdown answers an error.
pub struct RegistryLookup {
    registry: Weak<Registry>,
}

impl RegistryLookup {
    pub fn new(registry: &Arc<Registry>) -> RegistryLookup {
        RegistryLookup {
            registry: Arc::downgrade(registry),
        }
    }
}

/// A lookup when the server has no storage: nothing exists.
pub struct NoObjects;

impl ObjectLookup for NoObjects {
    fn uid<'a>(
        &'a self,
        _kind: BoundKind,
        _namespace: &'a str,
        _name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async { Err("this API server runs without storage".to_string()) })
    }
}

impl ObjectLookup for RegistryLookup {
    fn uid<'a>(
        &'a self,
        kind: BoundKind,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move {
            let registry = self
                .registry
                .upgrade()
                .ok_or_else(|| "the API server is shutting down".to_string())?;
            let resource = resource_of(kind)?;
            let key = registry.key(resource, namespace, name);
            if let Ok(cache) = registry.cache(resource)
                && let (Some(object), _) = cache.get(&key)
            {
                return Ok(Some(uid_of(object.value())));
            }
            match registry.read(resource, namespace, name).await {
                Ok((object, _)) => Ok(Some(uid_of(&object))),
                Err(status) if status.code == 404 => Ok(None),
                Err(status) => Err(format!("looking up {key}: {}", status.message)),
            }
        })
    }
}

fn resource_of(kind: BoundKind) -> Result<&'static Resource, String> {
    let plural = match kind {
        BoundKind::ServiceAccount => "serviceaccounts",
        BoundKind::Pod => "pods",
        BoundKind::Secret => "secrets",
    };
    resources::lookup("", "v1", plural).ok_or_else(|| format!("{plural} is not served"))
}

fn uid_of(object: &serde_json::Value) -> String {
    object
        .pointer("/metadata/uid")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .to_string()
}
