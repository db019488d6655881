//! `env-guard` (validating): denies a pod carrying the label `--label` (default
//! `env=development`) in the namespace `--namespace` (default `production`), with 403
//! Forbidden and the message
//!
//! `pods labelled env=development are not allowed in namespace "production"`
//!
//! The namespace is the request's (the object's when the request has none); the label is read
//! from the object, so an UPDATE that adds it is denied too. Other kinds are allowed.

use kubesim_admission::webhook::review::{AdmissionRequest, AdmissionResponse};
use serde_json::Value;

pub const NAME: &str = "env-guard";
/// `--namespace` when not given.
pub const DEFAULT_NAMESPACE: &str = "production";
/// `--label` when not given.
pub const DEFAULT_LABEL: (&str, &str) = ("env", "development");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvGuard {
    /// The guarded namespace.
    pub namespace: String,
    /// The label (key, value) not allowed in it.
    pub label: (String, String),
}

impl Default for EnvGuard {
    fn default() -> Self {
        EnvGuard {
            namespace: DEFAULT_NAMESPACE.to_string(),
            label: (DEFAULT_LABEL.0.to_string(), DEFAULT_LABEL.1.to_string()),
        }
    }
}

impl EnvGuard {
    pub fn review(&self, request: &AdmissionRequest) -> AdmissionResponse {
        let Some(pod) = super::pod(request) else {
            return super::allow(request);
        };
        let (key, value) = &self.label;
        let labelled = pod
            .pointer("/metadata/labels")
            .and_then(|labels| labels.get(key))
            .and_then(Value::as_str)
            == Some(value.as_str());
        if !labelled || super::namespace_of(request, pod) != self.namespace {
            return super::allow(request);
        }
        super::deny(
            request,
            format!(
                "pods labelled {key}={value} are not allowed in namespace {:?}",
                self.namespace
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::pod_create;
    use super::*;

    fn pod(env: &str) -> Value {
        json!({"metadata": {"name": "web", "labels": {"env": env}}})
    }

    #[test]
    fn development_pods_are_denied_in_production() {
        let request = pod_create("production", pod("development"));
        let response = EnvGuard::default().review(&request);
        assert!(!response.allowed);
        let status = response.status.unwrap();
        assert_eq!(
            (status.code, status.reason.as_str(), status.message.as_str()),
            (
                403,
                "Forbidden",
                r#"pods labelled env=development are not allowed in namespace "production""#
            )
        );
    }

    #[test]
    fn other_namespaces_and_labels_are_allowed() {
        let guard = EnvGuard::default();
        assert!(
            guard
                .review(&pod_create("staging", pod("development")))
                .allowed
        );
        assert!(
            guard
                .review(&pod_create("production", pod("production")))
                .allowed
        );
        let unlabelled = json!({"metadata": {"name": "web"}});
        assert!(guard.review(&pod_create("production", unlabelled)).allowed);
    }

    #[test]
    fn the_objects_namespace_stands_in_for_a_missing_one() {
        let mut request = pod_create("", pod("development"));
        request.object = Some(json!({"metadata": {"namespace": "production",
                                                  "labels": {"env": "development"}}}));
        assert!(!EnvGuard::default().review(&request).allowed);
    }

    #[test]
    fn flags_change_what_is_guarded() {
        let guard = EnvGuard {
            namespace: "prod".into(),
            label: ("tier".into(), "test".into()),
        };
        let request = pod_create("prod", json!({"metadata": {"labels": {"tier": "test"}}}));
        assert_eq!(
            guard.review(&request).status.unwrap().message,
            r#"pods labelled tier=test are not allowed in namespace "prod""#
        );
    }
}
