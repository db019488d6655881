//! The samples: each one's `review`, a plain function of the [`AdmissionRequest`] (no I/O, no
//! time but the audit sink's clock), and the [`Sample`] that picks one. The server
//! (`crate::server`) calls [`Sample::review`] for both transports.
//!
//! The helpers here build the answers as kube's own webhooks do: the request's `uid` echoed, a
//! denial with `status: {code: 403, reason: Forbidden, message}`, a mutation as a JSON Patch.

pub mod audit_sink;
pub mod env_guard;
pub mod image_policy;
pub mod label_injector;
pub mod no_privileged;
pub mod sidecar_injector;

use kubesim_admission::webhook::review::{AdmissionRequest, AdmissionResponse, ResponseStatus};
use serde_json::Value;

pub use audit_sink::AuditSink;
pub use env_guard::EnvGuard;
pub use image_policy::ImagePolicy;
pub use label_injector::LabelInjector;
pub use no_privileged::NoPrivileged;
pub use sidecar_injector::SidecarInjector;

use crate::patch::{self, Operation};

/// Every sample's name, as `kubesim webhook <name>` spells it.
pub const NAMES: [&str; 6] = [
    label_injector::NAME,
    sidecar_injector::NAME,
    no_privileged::NAME,
    image_policy::NAME,
    env_guard::NAME,
    audit_sink::NAME,
];

/// One sample webhook, configured.
#[derive(Debug, Clone)]
pub enum Sample {
    LabelInjector(LabelInjector),
    SidecarInjector(SidecarInjector),
    NoPrivileged(NoPrivileged),
    ImagePolicy(ImagePolicy),
    EnvGuard(EnvGuard),
    AuditSink(AuditSink),
}

impl Sample {
    /// Its name, as on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Sample::LabelInjector(_) => label_injector::NAME,
            Sample::SidecarInjector(_) => sidecar_injector::NAME,
            Sample::NoPrivileged(_) => no_privileged::NAME,
            Sample::ImagePolicy(_) => image_policy::NAME,
            Sample::EnvGuard(_) => env_guard::NAME,
            Sample::AuditSink(_) => audit_sink::NAME,
        }
    }

    /// The one handler both transports call.
    pub fn review(&self, request: &AdmissionRequest) -> AdmissionResponse {
        match self {
            Sample::LabelInjector(sample) => sample.review(request),
            Sample::SidecarInjector(sample) => sample.review(request),
            Sample::NoPrivileged(sample) => sample.review(request),
            Sample::ImagePolicy(sample) => sample.review(request),
            Sample::EnvGuard(sample) => sample.review(request),
            Sample::AuditSink(sample) => sample.review(request),
        }
    }
}

/// Allowed, nothing changed.
pub fn allow(request: &AdmissionRequest) -> AdmissionResponse {
    AdmissionResponse {
        uid: request.uid.clone(),
        allowed: true,
        ..AdmissionResponse::default()
    }
}

/// Denied with kube's Forbidden status: the API server answers the client
/// `admission webhook "<name>" denied the request: <message>` with this code.
pub fn deny(request: &AdmissionRequest, message: String) -> AdmissionResponse {
    AdmissionResponse {
        uid: request.uid.clone(),
        allowed: false,
        status: Some(ResponseStatus {
            code: 403,
            message,
            reason: "Forbidden".to_string(),
        }),
        ..AdmissionResponse::default()
    }
}

/// Allowed with `operations` as a JSON Patch; without one when there is nothing to change, so
/// a reinvocation after the first patch reports no change.
pub fn mutate(request: &AdmissionRequest, operations: &[Operation]) -> AdmissionResponse {
    let mut response = allow(request);
    if !operations.is_empty() {
        response.patch = Some(patch::to_bytes(operations));
        response.patch_type = Some(patch::JSON_PATCH.to_string());
    }
    response
}

/// The request's object when it is a core/v1 Pod (any version, any subresource: an
/// `ephemeralcontainers` update carries the whole pod too). `None` for other kinds, and for a
/// DELETE, which has no object.
pub fn pod(request: &AdmissionRequest) -> Option<&Value> {
    if request.kind.group.is_empty() && request.kind.kind == "Pod" {
        request.object.as_ref()
    } else {
        None
    }
}

/// The three lists of containers of a pod spec, with how a message names each.
pub const CONTAINER_LISTS: [(&str, &str); 3] = [
    ("containers", "container"),
    ("initContainers", "init container"),
    ("ephemeralContainers", "ephemeral container"),
];

/// Every container of `pod` (containers, then initContainers, then ephemeralContainers), each
/// with how a message names its kind. Entries that are not objects are skipped.
pub fn containers(pod: &Value) -> impl Iterator<Item = (&'static str, &Value)> {
    CONTAINER_LISTS.into_iter().flat_map(move |(field, what)| {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|c| c.is_object())
            .map(move |c| (what, c))
    })
}

/// A container's `name`, or empty.
pub fn container_name(container: &Value) -> &str {
    container.get("name").and_then(Value::as_str).unwrap_or("")
}

/// The namespace of a request: the request's, else the object's (kube fills the request's
/// from the URL; a hand-written review may only have the object's).
pub fn namespace_of<'a>(request: &'a AdmissionRequest, object: &'a Value) -> &'a str {
    if !request.namespace.is_empty() {
        return &request.namespace;
    }
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Reviews as kube-apiserver sends them, for the samples' tests.

    use kubesim_admission::webhook::review::{
        AdmissionRequest, GroupVersionKind, GroupVersionResource,
    };
    use kubesim_api::user::UserInfo;
    use serde_json::Value;

    /// A pod CREATE in `namespace` by `alice`.
    pub fn pod_create(namespace: &str, pod: Value) -> AdmissionRequest {
        AdmissionRequest {
            uid: "705ab4f5-6393-11e8-b7cc-42010a800002".into(),
            kind: GroupVersionKind {
                group: String::new(),
                version: "v1".into(),
                kind: "Pod".into(),
            },
            resource: GroupVersionResource {
                group: String::new(),
                version: "v1".into(),
                resource: "pods".into(),
            },
            name: pod
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            namespace: namespace.into(),
            operation: "CREATE".into(),
            user_info: UserInfo::new("alice", &["system:authenticated"]),
            object: Some(pod),
            ..AdmissionRequest::default()
        }
    }

    /// The response's patch as JSON.
    pub fn patch_of(response: &kubesim_admission::webhook::review::AdmissionResponse) -> Value {
        let bytes = response.patch.as_ref().expect("a patch");
        assert_eq!(response.patch_type.as_deref(), Some("JSONPatch"));
        serde_json::from_slice(bytes).expect("the patch is JSON")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::test_support::pod_create;
    use super::*;

    #[test]
    fn containers_are_listed_in_spec_order() {
        let pod = json!({"spec": {
            "ephemeralContainers": [{"name": "debug"}],
            "containers": [{"name": "web"}, "not a container", {"name": "log"}],
            "initContainers": [{"name": "init"}],
        }});
        let seen: Vec<(&str, &str)> = containers(&pod)
            .map(|(what, c)| (what, container_name(c)))
            .collect();
        assert_eq!(
            seen,
            [
                ("container", "web"),
                ("container", "log"),
                ("init container", "init"),
                ("ephemeral container", "debug"),
            ]
        );
    }

    #[test]
    fn only_core_pods_are_pods() {
        let mut request = pod_create("default", json!({}));
        assert!(pod(&request).is_some());
        request.kind.group = "example.com".into();
        assert!(pod(&request).is_none());
        let mut delete = pod_create("default", json!({}));
        delete.object = None;
        assert!(pod(&delete).is_none());
    }

    #[test]
    fn every_name_is_distinct() {
        let mut names = NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NAMES.len());
    }
}
