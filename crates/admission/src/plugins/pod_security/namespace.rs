//! PodSecurity on namespace writes (kube's `ValidateNamespace`): the labels must parse, and
//! an update that tightens `enforce` warns about the existing pods that would break it
//! (`EvaluatePodsInNamespace`), checking at most 3000 of them for at most a second.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kubesim_api::Status;
use kubesim_api::status::{FieldError, GroupKind, go_quote};
use serde_json::Value;

use super::checks::{PodView, evaluate};
use super::policy::{
    AUDIT_LEVEL_LABEL, AUDIT_VERSION_LABEL, ENFORCE_LEVEL_LABEL, ENFORCE_VERSION_LABEL, Level,
    LevelVersion, Policy, WARN_LEVEL_LABEL, WARN_VERSION_LABEL, policy_to_evaluate,
};
use super::{PodSecurity, bad_request, labels_of, object_name, refusal};
use crate::{Attributes, Operation, Record};

impl PodSecurity {
    pub(super) fn validate_namespace(
        &self,
        attrs: &Attributes,
        object: Option<&Value>,
        record: &Record,
    ) -> Result<(), Status> {
        // `status` and `finalize` cannot change labels.
        if !attrs.subresource.is_empty() {
            return Ok(());
        }
        let Some(namespace) = object else {
            return Err(bad_request(attrs, record, "failed to decode object"));
        };
        let labels = labels_of(namespace);
        let (policy, errors) = policy_to_evaluate(&labels, &self.configuration.defaults);
        let name = object_name(attrs, namespace);
        match attrs.operation {
            Operation::Create => {
                if !errors.is_empty() {
                    return Err(invalid(attrs, &name, &errors));
                }
                // kube asks about the request's namespace, which a namespace create does not
                // have (`POST /api/v1/namespaces`): this never warns in kube either.
                if self.exempt_namespace(&attrs.namespace) {
                    self.warn_exempt(record, &name, &policy, &labels);
                }
                Ok(())
            }
            Operation::Update => {
                let Some(old) = attrs.old_object.as_ref() else {
                    return Err(bad_request(attrs, record, "failed to decode  old object"));
                };
                let (old_policy, old_errors) =
                    policy_to_evaluate(&labels_of(old), &self.configuration.defaults);
                // Labels that were already wrong in the same way may stay.
                if !errors.is_empty() && (old_errors.is_empty() || errors != old_errors) {
                    return Err(invalid(attrs, &name, &errors));
                }
                if !tightens(&policy.enforce, &old_policy.enforce) {
                    return Ok(());
                }
                // `PUT /api/v1/namespaces/<name>`: kube's request namespace is the name.
                let request_namespace = if attrs.namespace.is_empty() {
                    &attrs.name
                } else {
                    &attrs.namespace
                };
                if self.exempt_namespace(request_namespace) {
                    self.warn_exempt(record, &name, &policy, &labels);
                    return Ok(());
                }
                for warning in self.evaluate_pods_in_namespace(attrs, &name, policy.enforce) {
                    record.warn(&warning);
                }
                Ok(())
            }
            Operation::Delete | Operation::Connect => Ok(()),
        }
    }

    /// kube's `exemptNamespaceWarning`: an exempt namespace labelled with a policy other than
    /// privileged or the defaults is told the labels do nothing.
    fn warn_exempt(
        &self,
        record: &Record,
        namespace: &str,
        policy: &Policy,
        labels: &BTreeMap<String, String>,
    ) {
        if policy.fully_privileged() || policy.equivalent(&self.configuration.defaults) {
            return;
        }
        let modes = [
            (
                "enforce",
                policy.enforce,
                ENFORCE_LEVEL_LABEL,
                ENFORCE_VERSION_LABEL,
            ),
            (
                "audit",
                policy.audit,
                AUDIT_LEVEL_LABEL,
                AUDIT_VERSION_LABEL,
            ),
            ("warn", policy.warn, WARN_LEVEL_LABEL, WARN_VERSION_LABEL),
        ];
        let set: Vec<String> = modes
            .iter()
            .filter(|(_, lv, level, version)| {
                lv.level != Level::Privileged
                    && (labels.contains_key(*level) || labels.contains_key(*version))
            })
            .map(|(mode, lv, _, _)| format!("{mode}={lv}"))
            .collect();
        record.warn(&format!(
            "namespace {} is exempt from Pod Security, and the policy ({}) will be ignored",
            go_quote(namespace),
            set.join(", ")
        ));
    }

    /// The warnings for the namespace's existing pods under `enforce`: one per distinct set
    /// of reasons, prefixed with the first pod's name (and how many others), sorted; after
    /// how many pods were checked, if not all, and that some violate it.
    fn evaluate_pods_in_namespace(
        &self,
        attrs: &Attributes,
        namespace: &str,
        enforce: LevelVersion,
    ) -> Vec<String> {
        let now = tokio::time::Instant::now();
        // Never more than half the request's time left.
        let mut timeout = self.namespace_pod_check_timeout;
        if let Some(deadline) = attrs.deadline {
            timeout = timeout.min(deadline.saturating_duration_since(now) / 2);
        }
        let deadline = now + timeout;
        let pods = match self.state.list(self.pods, namespace) {
            Ok((pods, _revision)) => pods,
            Err(_) => {
                return vec![
                    "failed to list pods while checking new PodSecurity enforce level".to_string(),
                ];
            }
        };
        let pods = self.prioritize_pods(pods);
        let total = pods.len();
        let mut checked = total.min(self.namespace_max_pods_to_check);
        // Reasons → (lexically first pod name, pod count).
        let mut by_reason: BTreeMap<String, (String, usize)> = BTreeMap::new();
        for (i, pod) in pods.iter().take(checked).enumerate() {
            let result = evaluate(enforce.level, &PodView::of(pod));
            if !result.allowed() {
                let pod_name = object_name_of(pod);
                let entry = by_reason
                    .entry(result.forbidden_reason())
                    .or_insert_with(|| (pod_name.to_string(), 0));
                if pod_name < entry.0.as_str() {
                    entry.0 = pod_name.to_string();
                }
                entry.1 += 1;
            }
            if tokio::time::Instant::now() >= deadline {
                checked = i + 1;
                break;
            }
        }
        let mut warnings = Vec::new();
        if checked < total {
            warnings.push(format!(
                "new PodSecurity enforce level only checked against the first {checked} of {total} existing pods"
            ));
        }
        if !by_reason.is_empty() {
            warnings.push(format!(
                "existing pods in namespace {} violate the new PodSecurity enforce level {}",
                go_quote(namespace),
                go_quote(&enforce.to_string())
            ));
        }
        let mut pod_warnings: Vec<String> = by_reason
            .into_iter()
            .map(|(reason, (pod, count))| match count {
                1 => format!("{pod}: {reason}"),
                2 => format!("{pod} (and 1 other pod): {reason}"),
                _ => format!("{pod} (and {} other pods): {reason}", count - 1),
            })
            .collect();
        pod_warnings.sort();
        warnings.extend(pod_warnings);
        warnings
    }

    /// kube's `prioritizePods`: pods of exempt runtime classes are left out, and of the pods
    /// one controller owns, the first comes in list order and the rest after all others.
    fn prioritize_pods(&self, pods: Vec<Arc<Value>>) -> Vec<Arc<Value>> {
        let mut first = Vec::with_capacity(pods.len());
        let mut duplicates = Vec::new();
        let mut controllers = BTreeSet::new();
        for pod in pods {
            let spec = pod.get("spec").unwrap_or(&Value::Null);
            if self.exempt_runtime_class(spec) {
                continue;
            }
            match controller_uid(&pod) {
                Some(uid) if !controllers.insert(uid.to_string()) => duplicates.push(pod),
                _ => first.push(pod),
            }
        }
        first.extend(duplicates);
        first
    }
}

/// kube's enforce change that makes existing pods worth checking: a different level or
/// version, not privileged, and not merely a looser level at the same version.
fn tightens(new: &LevelVersion, old: &LevelVersion) -> bool {
    if new == old || new.level == Level::Privileged {
        return false;
    }
    !(new.version == old.version && new.level <= old.level)
}

/// The namespace's 422: `Namespace "x" is invalid: metadata.labels[...]: Invalid value: ...`.
fn invalid(attrs: &Attributes, name: &str, errors: &[FieldError]) -> Status {
    let status = Status::invalid(&GroupKind::new("", "Namespace"), name, errors);
    refusal(attrs, name, status)
}

fn object_name_of(pod: &Value) -> &str {
    let name = pod.get("metadata").and_then(|m| m.get("name"));
    name.and_then(Value::as_str).unwrap_or("")
}

/// The UID of the owner reference marked `controller: true`, if any.
fn controller_uid(pod: &Value) -> Option<&str> {
    let owners = pod.get("metadata").and_then(|m| m.get("ownerReferences"));
    owners
        .and_then(Value::as_array)?
        .iter()
        .find(|owner| owner.get("controller").and_then(Value::as_bool) == Some(true))
        .map(|owner| owner.get("uid").and_then(Value::as_str).unwrap_or(""))
}
