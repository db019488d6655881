//! `sidecar-injector` (mutating): adds the container `kubesim-proxy` to a pod, with the image
//! of `--sidecar-image` (default `registry.k8s.io/pause:3.10`), unless the pod already has a
//! container or init container of that name (container names are unique across both lists,
//! so adding a second would make the pod invalid). Idempotent: a reinvocation after the first
//! patch sees the sidecar and sends no patch.
//!
//! The patch appends to `/spec/containers` (`/-`), or adds the list (or the spec) when it is
//! missing. Only core/v1 Pods are touched; anything else is allowed unchanged.

use kubesim_admission::webhook::review::{AdmissionRequest, AdmissionResponse};
use serde_json::{Value, json};

use crate::patch::Operation;

pub const NAME: &str = "sidecar-injector";
/// The sidecar's container name.
pub const SIDECAR_NAME: &str = "kubesim-proxy";
/// `--sidecar-image` when not given.
pub const DEFAULT_IMAGE: &str = "registry.k8s.io/pause:3.10";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarInjector {
    /// The sidecar's image.
    pub image: String,
}

impl Default for SidecarInjector {
    fn default() -> Self {
        SidecarInjector {
            image: DEFAULT_IMAGE.to_string(),
        }
    }
}

impl SidecarInjector {
    pub fn review(&self, request: &AdmissionRequest) -> AdmissionResponse {
        let operations = super::pod(request)
            .and_then(|pod| self.patch(pod))
            .into_iter()
            .collect::<Vec<_>>();
        super::mutate(request, &operations)
    }

    /// The sidecar container itself.
    pub fn sidecar(&self) -> Value {
        json!({"name": SIDECAR_NAME, "image": self.image})
    }

    /// The one operation that adds the sidecar, or `None` when it is there (or the pod is too
    /// malformed to patch: validation refuses it anyway).
    fn patch(&self, pod: &Value) -> Option<Operation> {
        if has_sidecar(pod) {
            return None;
        }
        let Some(spec) = pod.get("spec") else {
            return Some(Operation::add(
                "/spec".into(),
                json!({"containers": [self.sidecar()]}),
            ));
        };
        match spec.get("containers") {
            _ if !spec.is_object() => None,
            Some(Value::Array(_)) => {
                Some(Operation::add("/spec/containers/-".into(), self.sidecar()))
            }
            None | Some(Value::Null) => Some(Operation::add(
                "/spec/containers".into(),
                json!([self.sidecar()]),
            )),
            Some(_) => None,
        }
    }
}

/// Whether a container or init container is already called [`SIDECAR_NAME`].
fn has_sidecar(pod: &Value) -> bool {
    super::containers(pod)
        .filter(|(what, _)| *what != "ephemeral container")
        .any(|(_, c)| super::container_name(c) == SIDECAR_NAME)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{patch_of, pod_create};
    use super::*;

    fn web_pod() -> Value {
        json!({"metadata": {"name": "web"},
               "spec": {"containers": [{"name": "web", "image": "nginx"}]}})
    }

    /// Applies an `add` patch the way the API server would, for the samples' own operations
    /// (object members and array appends only).
    fn apply(mut object: Value, patch: &Value) -> Value {
        for op in patch.as_array().unwrap() {
            assert_eq!(op["op"], "add");
            let path = op["path"].as_str().unwrap();
            let (parent, last) = path.rsplit_once('/').unwrap();
            let target = object.pointer_mut(parent).unwrap();
            match target {
                Value::Array(items) if last == "-" => items.push(op["value"].clone()),
                Value::Object(map) => {
                    map.insert(last.to_string(), op["value"].clone());
                }
                other => panic!("cannot add at {path} into {other}"),
            }
        }
        object
    }

    #[test]
    fn the_sidecar_is_appended() {
        let response = SidecarInjector::default().review(&pod_create("default", web_pod()));
        assert!(response.allowed);
        assert_eq!(
            patch_of(&response),
            json!([{"op": "add", "path": "/spec/containers/-",
                    "value": {"name": "kubesim-proxy", "image": "registry.k8s.io/pause:3.10"}}])
        );
    }

    #[test]
    fn a_reinvocation_changes_nothing() {
        let injector = SidecarInjector {
            image: "example.com/proxy:1".into(),
        };
        let first = injector.review(&pod_create("default", web_pod()));
        let patched = apply(web_pod(), &patch_of(&first));
        assert_eq!(
            patched["spec"]["containers"][1],
            json!({"name": "kubesim-proxy", "image": "example.com/proxy:1"})
        );
        let second = injector.review(&pod_create("default", patched));
        assert!(second.allowed);
        assert_eq!((second.patch, second.patch_type), (None, None));
    }

    #[test]
    fn an_init_container_of_that_name_counts_as_present() {
        let pod = json!({"spec": {"containers": [{"name": "web"}],
                                  "initContainers": [{"name": "kubesim-proxy"}]}});
        let response = SidecarInjector::default().review(&pod_create("default", pod));
        assert_eq!(response.patch, None);
    }

    #[test]
    fn missing_lists_are_added_whole() {
        let sidecar = json!({"name": "kubesim-proxy", "image": "registry.k8s.io/pause:3.10"});
        let response =
            SidecarInjector::default().review(&pod_create("default", json!({"spec": {}})));
        assert_eq!(
            patch_of(&response),
            json!([{"op": "add", "path": "/spec/containers", "value": [sidecar]}])
        );
        let response = SidecarInjector::default().review(&pod_create("default", json!({})));
        assert_eq!(
            patch_of(&response),
            json!([{"op": "add", "path": "/spec", "value": {"containers": [sidecar]}}])
        );
    }

    #[test]
    fn other_kinds_are_left_alone() {
        let mut request = pod_create("default", web_pod());
        request.kind.kind = "ConfigMap".into();
        assert_eq!(SidecarInjector::default().review(&request).patch, None);
    }
}
