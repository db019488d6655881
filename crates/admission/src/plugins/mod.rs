//! The built-in admission plugins, and which of them run: `--enable-admission-plugins`,
//! `--disable-admission-plugins` and `--admission-control-config-file`, as kube-apiserver
//! reads them.
//!
//! - [`namespace_lifecycle`]: no creates in a missing or terminating namespace; the system
//!   namespaces cannot be deleted.
//! - [`limit_ranger`]: defaults and bounds from LimitRange objects.
//! - [`service_account`]: pods get `serviceAccountName: default` and the projected token
//!   volume; the ServiceAccount must exist.
//! - [`pod_security`]: the Pod Security Standards (privileged, baseline, restricted) from the
//!   namespace's `pod-security.kubernetes.io/*` labels.
//! - [`resource_quota`]: object counts and compute requests/limits against ResourceQuota
//!   objects.
//! - here: AlwaysAdmit and AlwaysDeny, and the plugin list.
//!
//! MutatingAdmissionWebhook and ValidatingAdmissionWebhook are plugins of this list too (their
//! place in kube's order is where they run); they live in `crate::webhook`.

pub mod limit_ranger;
pub mod namespace_lifecycle;
pub mod pod_security;
pub mod resource_quota;
pub mod service_account;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use kubesim_api::Status;
use kubesim_api::status::GroupResource;
use serde_json::Value;

use crate::{Attributes, ClusterState, Plugin, Record};

pub const NAMESPACE_LIFECYCLE: &str = "NamespaceLifecycle";
pub const LIMIT_RANGER: &str = "LimitRanger";
pub const SERVICE_ACCOUNT: &str = "ServiceAccount";
pub const POD_SECURITY: &str = "PodSecurity";
pub const MUTATING_WEBHOOK: &str = "MutatingAdmissionWebhook";
pub const VALIDATING_WEBHOOK: &str = "ValidatingAdmissionWebhook";
pub const RESOURCE_QUOTA: &str = "ResourceQuota";
pub const ALWAYS_ADMIT: &str = "AlwaysAdmit";
pub const ALWAYS_DENY: &str = "AlwaysDeny";

/// kube-apiserver's `AllOrderedPlugins` (1.33): the order plugins run in, whatever order the
/// flags name them in.
pub const ALL_ORDERED: &[&str] = &[
    ALWAYS_ADMIT,
    "NamespaceAutoProvision",
    NAMESPACE_LIFECYCLE,
    "NamespaceExists",
    "LimitPodHardAntiAffinityTopology",
    LIMIT_RANGER,
    SERVICE_ACCOUNT,
    "NodeRestriction",
    "TaintNodesByCondition",
    "AlwaysPullImages",
    "ImagePolicyWebhook",
    POD_SECURITY,
    "PodNodeSelector",
    "Priority",
    "DefaultTolerationSeconds",
    "PodTolerationRestriction",
    "EventRateLimit",
    "ExtendedResourceToleration",
    "PersistentVolumeLabel",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "OwnerReferencesPermissionEnforcement",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "CertificateApproval",
    "CertificateSigning",
    "ClusterTrustBundleAttest",
    "CertificateSubjectRestriction",
    "DefaultIngressClass",
    "DenyServiceExternalIPs",
    "PodTopologyLabels",
    "MutatingAdmissionPolicy",
    MUTATING_WEBHOOK,
    "ValidatingAdmissionPolicy",
    VALIDATING_WEBHOOK,
    RESOURCE_QUOTA,
    ALWAYS_DENY,
];

/// The plugins kubesim implements; the other names of [`ALL_ORDERED`] are accepted in the
/// flags and ignored with a warning (they act on kinds or features kubesim does not have).
pub const IMPLEMENTED: &[&str] = &[
    ALWAYS_ADMIT,
    NAMESPACE_LIFECYCLE,
    LIMIT_RANGER,
    SERVICE_ACCOUNT,
    POD_SECURITY,
    MUTATING_WEBHOOK,
    VALIDATING_WEBHOOK,
    RESOURCE_QUOTA,
    ALWAYS_DENY,
];

/// kube-apiserver's default-on plugins (`DefaultOffAdmissionPlugins`' complement), those
/// kubesim implements.
pub const DEFAULT_ENABLED: &[&str] = &[
    NAMESPACE_LIFECYCLE,
    LIMIT_RANGER,
    SERVICE_ACCOUNT,
    POD_SECURITY,
    MUTATING_WEBHOOK,
    VALIDATING_WEBHOOK,
    RESOURCE_QUOTA,
];

/// The plugins that run, in kube's order: the defaults, plus `enable`, less `disable` (kube
/// refuses a name in both). Names kube has and kubesim does not are dropped with a warning
/// (returned second); names kube does not know are an error.
pub fn enabled(
    enable: &[String],
    disable: &[String],
) -> Result<(Vec<&'static str>, Vec<String>), String> {
    for name in enable.iter().chain(disable) {
        if !ALL_ORDERED.contains(&name.as_str()) {
            return Err(format!(
                "admission plugin {name:?} is unknown; kube-apiserver's plugins are: {}",
                ALL_ORDERED.join(", ")
            ));
        }
    }
    if let Some(both) = enable.iter().find(|name| disable.contains(name)) {
        return Err(format!(
            "{both} is in both --enable-admission-plugins and --disable-admission-plugins"
        ));
    }
    let mut warnings = Vec::new();
    let mut on = Vec::new();
    for &name in ALL_ORDERED {
        let wanted = (DEFAULT_ENABLED.contains(&name) || enable.iter().any(|e| e == name))
            && !disable.iter().any(|d| d == name);
        if !wanted {
            continue;
        }
        if IMPLEMENTED.contains(&name) {
            on.push(name);
        } else {
            warnings.push(format!(
                "admission plugin {name} is not implemented by kubesim and does not run"
            ));
        }
    }
    Ok((on, warnings))
}

/// The `--admission-control-config-file`: kube's AdmissionConfiguration
/// (`apiserver.config.k8s.io/v1`, YAML or JSON), each plugin's `configuration` inline or read
/// from its `path`. Returns each named plugin's configuration.
pub fn read_configuration(path: &std::path::Path) -> Result<BTreeMap<String, Value>, String> {
    let text = read_bounded(path)?;
    let file: Value = yaml_serde::from_str(&text)
        .map_err(|e| format!("{}: not an AdmissionConfiguration: {e}", path.display()))?;
    let kind = file.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != "AdmissionConfiguration" {
        return Err(format!(
            "{}: kind {kind:?} is not AdmissionConfiguration",
            path.display()
        ));
    }
    let mut configurations = BTreeMap::new();
    let plugins = file.get("plugins").and_then(Value::as_array);
    for plugin in plugins.into_iter().flatten() {
        let Some(name) = plugin.get("name").and_then(Value::as_str) else {
            return Err(format!("{}: a plugin without a name", path.display()));
        };
        let configuration = match (plugin.get("configuration"), plugin.get("path")) {
            (Some(inline), _) => inline.clone(),
            (None, Some(Value::String(relative))) => {
                let path = path
                    .parent()
                    .unwrap_or(std::path::Path::new("."))
                    .join(relative);
                let text = read_bounded(&path)?;
                yaml_serde::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            _ => continue,
        };
        configurations.insert(name.to_string(), configuration);
    }
    Ok(configurations)
}

/// Configuration files are small; a bound keeps a wrong path (a device, a huge log) out.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

fn read_bounded(path: &std::path::Path) -> Result<String, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if size > MAX_CONFIG_BYTES {
        return Err(format!(
            "{}: {size} bytes, more than the {MAX_CONFIG_BYTES} an admission configuration may have",
            path.display()
        ));
    }
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Builds the built-in plugin `name` (not the webhook plugins: the chain builds those).
pub fn build(
    name: &str,
    state: &Arc<dyn ClusterState>,
    configurations: &BTreeMap<String, Value>,
) -> Result<Arc<dyn Plugin>, String> {
    let configuration = configurations.get(name);
    Ok(match name {
        ALWAYS_ADMIT => Arc::new(AlwaysAdmit),
        ALWAYS_DENY => Arc::new(AlwaysDeny),
        NAMESPACE_LIFECYCLE => {
            Arc::new(namespace_lifecycle::NamespaceLifecycle::new(state.clone()))
        }
        LIMIT_RANGER => Arc::new(limit_ranger::LimitRanger::new(state.clone())),
        SERVICE_ACCOUNT => Arc::new(service_account::ServiceAccount::new(state.clone())),
        POD_SECURITY => Arc::new(pod_security::PodSecurity::new(
            state.clone(),
            configuration,
        )?),
        RESOURCE_QUOTA => Arc::new(resource_quota::ResourceQuota::new(
            state.clone(),
            configuration,
        )?),
        other => return Err(format!("{other} is not a built-in plugin kubesim builds")),
    })
}

/// `AlwaysAdmit`: admits everything (deprecated in kube, kept for its flag).
pub struct AlwaysAdmit;

impl Plugin for AlwaysAdmit {
    fn name(&self) -> &'static str {
        ALWAYS_ADMIT
    }

    fn handles(&self, _attrs: &Attributes) -> bool {
        false
    }
}

/// `AlwaysDeny`: refuses every write (kube: 403 "admission control is denying all
/// modifications").
pub struct AlwaysDeny;

impl Plugin for AlwaysDeny {
    fn name(&self) -> &'static str {
        ALWAYS_DENY
    }

    fn handles(&self, _attrs: &Attributes) -> bool {
        true
    }

    fn validates(&self) -> bool {
        true
    }

    fn validate<'a>(
        &'a self,
        attrs: &'a Attributes,
        _object: Option<&'a Value>,
        _record: &'a Record,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            Err(forbidden(
                attrs,
                "admission control is denying all modifications",
            ))
        })
    }
}

/// kube's `admission.NewForbidden` for a request whose object is not at hand: 403
/// `<resource> "<name>" is forbidden: <message>`.
pub fn forbidden(attrs: &Attributes, message: &str) -> Status {
    forbidden_object(attrs, None, message)
}

/// `admission.NewForbidden`: 403 naming the object as kube's `extractResourceName` does: the
/// request's name, else the object's `name`, else its `generateName` (names are generated
/// after admission), else `Unknown`.
pub fn forbidden_object(attrs: &Attributes, object: Option<&Value>, message: &str) -> Status {
    let gr = GroupResource::new(attrs.resource.group, attrs.resource.plural);
    Status::forbidden_with_message(&gr, &admission_name(attrs, object), message)
}

fn admission_name(attrs: &Attributes, object: Option<&Value>) -> String {
    if !attrs.name.is_empty() {
        return attrs.name.clone();
    }
    let meta = |key: &str| {
        object
            .and_then(|o| o.pointer(&format!("/metadata/{key}")))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    meta("name")
        .or_else(|| meta("generateName"))
        .unwrap_or_else(|| "Unknown".to_string())
}
