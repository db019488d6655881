//! `image-policy` (validating): denies a pod with any container (init and ephemeral ones too)
//! whose image is not from one of `--allowed-registries` (default `registry.k8s.io,docker.io`),
//! with 403 Forbidden and the message
//!
//! `images from registries that are not allowed: "quay.io/a:1", "ghcr.io/b" (allowed
//! registries: registry.k8s.io, docker.io)`
//!
//! (one line; offending images in spec order, each once, as written in the pod).
//!
//! The registry of an image is read as Docker reads a reference: the part before the first
//! `/` is a registry when it contains a `.` or a `:`, is `localhost`, or has an upper-case
//! letter; otherwise (and when there is no `/`) the registry is `docker.io`, so `nginx` is
//! `docker.io/library/nginx` and `bitnami/redis` is `docker.io/bitnami/redis`.
//! `index.docker.io` is `docker.io`. Registries compare without regard to case, port included
//! (`localhost:5000` is not `localhost`). An empty image is left to validation.

use kubesim_admission::webhook::review::{AdmissionRequest, AdmissionResponse};
use serde_json::Value;

pub const NAME: &str = "image-policy";
/// `--allowed-registries` when not given.
pub const DEFAULT_ALLOWED_REGISTRIES: [&str; 2] = ["registry.k8s.io", "docker.io"];
/// Where an image without a registry comes from.
pub const DOCKER_HUB: &str = "docker.io";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePolicy {
    /// As given; compared after [`normalize`].
    pub allowed_registries: Vec<String>,
}

impl Default for ImagePolicy {
    fn default() -> Self {
        ImagePolicy {
            allowed_registries: DEFAULT_ALLOWED_REGISTRIES
                .iter()
                .map(|r| r.to_string())
                .collect(),
        }
    }
}

impl ImagePolicy {
    pub fn review(&self, request: &AdmissionRequest) -> AdmissionResponse {
        let Some(pod) = super::pod(request) else {
            return super::allow(request);
        };
        let mut offending: Vec<&str> = Vec::new();
        for (_, container) in super::containers(pod) {
            let image = container.get("image").and_then(Value::as_str).unwrap_or("");
            if !image.is_empty() && !self.allows(image) && !offending.contains(&image) {
                offending.push(image);
            }
        }
        if offending.is_empty() {
            return super::allow(request);
        }
        let images: Vec<String> = offending.iter().map(|i| format!("{i:?}")).collect();
        super::deny(
            request,
            format!(
                "images from registries that are not allowed: {} (allowed registries: {})",
                images.join(", "),
                self.allowed_registries.join(", ")
            ),
        )
    }

    /// Whether `image` comes from an allowed registry.
    pub fn allows(&self, image: &str) -> bool {
        let registry = normalize(registry_of(image));
        self.allowed_registries
            .iter()
            .any(|allowed| normalize(allowed) == registry)
    }
}

/// The registry of an image reference, by Docker's rule (see the module doc).
pub fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if is_registry(first) => first,
        _ => DOCKER_HUB,
    }
}

fn is_registry(component: &str) -> bool {
    component.contains(['.', ':'])
        || component == "localhost"
        || component.chars().any(|c| c.is_ascii_uppercase())
}

/// A registry as compared: lower case, Docker Hub's old name folded into its current one.
fn normalize(registry: &str) -> String {
    let registry = registry.trim().to_ascii_lowercase();
    if registry == "index.docker.io" {
        DOCKER_HUB.to_string()
    } else {
        registry
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::pod_create;
    use super::*;

    #[test]
    fn registries_are_read_as_docker_reads_them() {
        let cases = [
            ("nginx", "docker.io"),
            ("nginx:1.27", "docker.io"),
            ("nginx@sha256:0123abcd", "docker.io"),
            ("bitnami/redis:7", "docker.io"),
            ("docker.io/library/nginx", "docker.io"),
            ("index.docker.io/library/nginx", "index.docker.io"),
            ("registry.k8s.io/pause:3.10", "registry.k8s.io"),
            ("quay.io/prometheus/node-exporter", "quay.io"),
            ("localhost/app", "localhost"),
            ("localhost:5000/app:dev", "localhost:5000"),
            ("myhost:5000/app", "myhost:5000"),
            ("MyRegistry/app", "MyRegistry"),
            ("team/sub/app", "docker.io"),
        ];
        for (image, registry) in cases {
            assert_eq!(registry_of(image), registry, "{image}");
        }
    }

    #[test]
    fn allowed_registries_compare_normalized() {
        let policy = ImagePolicy::default();
        assert!(policy.allows("nginx"));
        assert!(policy.allows("index.docker.io/library/nginx"));
        assert!(policy.allows("Registry.K8s.io/pause:3.10"));
        assert!(!policy.allows("quay.io/x"));
        assert!(!policy.allows("registry.k8s.io.evil.com/pause"));
        let local = ImagePolicy {
            allowed_registries: vec!["localhost:5000".into()],
        };
        assert!(local.allows("localhost:5000/app"));
        assert!(!local.allows("localhost/app"));
        assert!(!local.allows("nginx"));
    }

    #[test]
    fn offending_images_are_listed_once_in_spec_order() {
        let pod = json!({"spec": {
            "containers": [
                {"name": "web", "image": "quay.io/a:1"},
                {"name": "ok", "image": "nginx"},
                {"name": "again", "image": "quay.io/a:1"},
            ],
            "initContainers": [{"name": "init", "image": "ghcr.io/b"}],
        }});
        let request = pod_create("default", pod);
        let response = ImagePolicy::default().review(&request);
        assert!(!response.allowed);
        assert_eq!(response.uid, request.uid);
        let status = response.status.unwrap();
        assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
        assert_eq!(
            status.message,
            r#"images from registries that are not allowed: "quay.io/a:1", "ghcr.io/b" (allowed registries: registry.k8s.io, docker.io)"#
        );
    }

    #[test]
    fn allowed_images_pass() {
        let pod = json!({"spec": {"containers": [
            {"name": "a", "image": "nginx"},
            {"name": "b", "image": "registry.k8s.io/pause:3.10"},
            {"name": "c"},
        ]}});
        let response = ImagePolicy::default().review(&pod_create("default", pod));
        assert!(response.allowed);
        assert_eq!(response.status, None);
    }
}
