//! `no-privileged` (validating): denies a pod in which any container, init container or
//! ephemeral container sets `securityContext.privileged: true`, with 403 Forbidden and the
//! message
//!
//! `container "web" is privileged; privileged containers are not allowed`
//!
//! Each offender is named by its list (`container`, `init container`, `ephemeral container`),
//! in spec order (containers, initContainers, ephemeralContainers), joined by `, ` before the
//! `; `: `container "a" is privileged, init container "b" is privileged; privileged
//! containers are not allowed`. Anything that is not a core/v1 Pod is allowed.

use kubesim_admission::webhook::review::{AdmissionRequest, AdmissionResponse};
use serde_json::Value;

pub const NAME: &str = "no-privileged";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoPrivileged;

impl NoPrivileged {
    pub fn review(&self, request: &AdmissionRequest) -> AdmissionResponse {
        let Some(pod) = super::pod(request) else {
            return super::allow(request);
        };
        let offenders: Vec<String> = super::containers(pod)
            .filter(|(_, c)| is_privileged(c))
            .map(|(what, c)| format!("{what} {:?} is privileged", super::container_name(c)))
            .collect();
        if offenders.is_empty() {
            return super::allow(request);
        }
        super::deny(
            request,
            format!(
                "{}; privileged containers are not allowed",
                offenders.join(", ")
            ),
        )
    }
}

/// `securityContext.privileged` is `true` (a string "true" is not: the API would refuse it).
fn is_privileged(container: &Value) -> bool {
    container.pointer("/securityContext/privileged") == Some(&Value::Bool(true))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::pod_create;
    use super::*;

    fn status(response: &AdmissionResponse) -> (i32, &str, &str) {
        let status = response.status.as_ref().expect("a status");
        (status.code, status.reason.as_str(), status.message.as_str())
    }

    #[test]
    fn a_privileged_container_is_denied() {
        let pod = json!({"spec": {"containers": [
            {"name": "sidecar", "securityContext": {"privileged": false}},
            {"name": "web", "securityContext": {"privileged": true}},
        ]}});
        let request = pod_create("default", pod);
        let response = NoPrivileged.review(&request);
        assert!(!response.allowed);
        assert_eq!(response.uid, request.uid);
        assert_eq!(
            status(&response),
            (
                403,
                "Forbidden",
                r#"container "web" is privileged; privileged containers are not allowed"#
            )
        );
    }

    #[test]
    fn every_list_is_checked_and_every_offender_named() {
        let privileged = json!({"privileged": true});
        let pod = json!({"spec": {
            "containers": [{"name": "a", "securityContext": privileged}],
            "initContainers": [{"name": "b", "securityContext": privileged}],
            "ephemeralContainers": [{"name": "c", "securityContext": privileged}],
        }});
        let response = NoPrivileged.review(&pod_create("default", pod));
        assert_eq!(
            status(&response).2,
            r#"container "a" is privileged, init container "b" is privileged, ephemeral container "c" is privileged; privileged containers are not allowed"#
        );
        let only_ephemeral = json!({"spec": {"containers": [{"name": "a"}],
            "ephemeralContainers": [{"name": "debugger", "securityContext": privileged}]}});
        let response = NoPrivileged.review(&pod_create("default", only_ephemeral));
        assert_eq!(
            status(&response).2,
            r#"ephemeral container "debugger" is privileged; privileged containers are not allowed"#
        );
    }

    #[test]
    fn unprivileged_pods_and_other_kinds_are_allowed() {
        let pod =
            json!({"spec": {"containers": [{"name": "a", "securityContext": {}}, {"name": "b"}]}});
        let response = NoPrivileged.review(&pod_create("default", pod));
        assert!(response.allowed);
        assert_eq!(response.status, None);
        let mut other = pod_create(
            "default",
            json!({"spec": {"containers": [{"name": "a", "securityContext": {"privileged": true}}]}}),
        );
        other.kind.kind = "PodTemplate".into();
        assert!(NoPrivileged.review(&other).allowed);
    }
}
