//! The Node authorizer's view of which pods are bound to which node: the pod watch cache's
//! `spec.nodeName` (kube keeps a graph fed by informers; kubesim reads the cache directly).

use std::sync::{Arc, Weak};

use kubesim_api::resources;
use kubesim_authz::node::NodeGraph;

use crate::registry::Registry;

pub struct PodNodes {
    registry: Weak<Registry>,
}

impl PodNodes {
    pub fn new(registry: &Arc<Registry>) -> PodNodes {
        PodNodes {
            registry: Arc::downgrade(registry),
        }
    }
}

impl NodeGraph for PodNodes {
    fn pod_node(&self, namespace: &str, name: &str) -> Option<String> {
        let registry = self.registry.upgrade()?;
        let pods = resources::lookup("", "v1", "pods")?;
        let cache = registry.cache(pods).ok()?;
        let (pod, _) = cache.get(&registry.key(pods, namespace, name));
        let node = pod?
            .value()
            .pointer("/spec/nodeName")?
            .as_str()?
            .to_string();
        (!node.is_empty()).then_some(node)
    }
}

/// The graph when the server has no storage: no pod is bound anywhere.
pub struct NoPods;

impl NodeGraph for NoPods {
    fn pod_node(&self, _namespace: &str, _name: &str) -> Option<String> {
        None
    }
}
