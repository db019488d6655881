//! Per-kind validation of the objects kubesim serves: what kube-apiserver's registry
//! strategies run before storing an object, answered as a 422 Invalid whose
//! `details.causes` are these [`FieldError`]s (build it with [`crate::Status::invalid`]).
//! Field paths, messages and their order are kube's (Kubernetes 1.33).
//!
//! The entry points:
//! - [`validate_create`]: the kind's own rules, then, if they pass, the generic registry's
//!   metadata check (`rest.BeforeCreate`: every name must be safe as a path segment).
//! - [`validate_update`]: the generic registry's metadata checks first (`rest.BeforeUpdate`),
//!   then the kind's update rules (immutable fields), which validate the new object again.
//! - [`generation_changed`]: whether an update bumps `metadata.generation`.
//!
//! Objects are the v1 JSON the client sent, after [`crate::defaults::apply_defaults`].
//! Nothing here panics on any JSON shape: a field of the wrong type is one TypeInvalid error
//! (kube-apiserver's decoder would answer it with a 400 before validation).
//!
//! Map of the module:
//! - `fields`: reading JSON as kube's typed structs (zero values, type errors), field paths,
//!   error constructors, semantic equality.
//! - `meta`: `metadata` on create and update (owner references, finalizers).
//! - `rules`: shared value rules (config keys, env names, IPs, CIDRs, percentages, …).
//! - `quantity`: `resource.Quantity` parsing, comparison and canonical form.
//! - `selector`: `metav1.LabelSelector` validation and matching.
//! - `volumes`, `containers`, `resources`, `pod_spec`, `pod`: pods and pod templates.
//! - `service`: services. `node`: nodes. `reviews`: the review APIs' bodies (not stored, so
//!   checked by their handlers with [`reviews::validate_access_review`] and
//!   [`reviews::validate_token_request`] rather than on create). `core_kinds`: ConfigMaps, Secrets, Namespaces, ServiceAccounts,
//!   Events. `quotas`: LimitRanges and ResourceQuotas. `apps`: Deployments. `rbac`: roles and bindings. `admission`: webhook
//!   configurations. `flowcontrol`: FlowSchemas and PriorityLevelConfigurations. `base64`:
//!   Secret and ConfigMap bytes.

mod admission;
pub use admission::{ADMISSION_TRANSPORT_ANNOTATION, ADMISSION_TRANSPORTS};
mod apps;
pub(crate) mod base64;
mod containers;
mod core_kinds;
mod fields;
mod flowcontrol;
mod meta;
mod node;
mod pod;
mod pod_spec;
pub mod quantity;
mod quotas;
mod rbac;
mod resources;
pub mod reviews;
mod rules;
mod selector;
mod service;
pub(crate) mod volumes;

use serde_json::Value;

use crate::resources::Resource;
use crate::status::FieldError;
use fields::{Errs, Obj, semantic_eq};

const APPS: &str = "apps";
const RBAC: &str = "rbac.authorization.k8s.io";
const ADMISSION: &str = "admissionregistration.k8s.io";
const FLOWCONTROL: &str = "flowcontrol.apiserver.k8s.io";

/// The errors kube-apiserver would report creating `object` as a `resource`; empty when
/// the object is valid. Call it after defaulting and after the name has been generated.
pub fn validate_create(resource: &Resource, object: &Value) -> Vec<FieldError> {
    let mut errs = Errs::new();
    let Some(obj) = Obj::root(object, &mut errs) else {
        return errs;
    };
    kind_create(resource, &obj, &mut errs);
    if errs.is_empty() {
        meta::validate_create(
            &obj,
            &meta::generic_rules(resource.is_namespaced()),
            &mut errs,
        );
    }
    errs
}

fn kind_create(resource: &Resource, obj: &Obj, errs: &mut Errs) {
    match (resource.group, resource.kind) {
        ("", "Pod") => pod::validate_create(obj, errs),
        ("", "Service") => service::validate_create(obj, errs),
        ("", "ConfigMap") => core_kinds::validate_config_map(obj, errs),
        ("", "Secret") => core_kinds::validate_secret(obj, errs),
        ("", "Namespace") => core_kinds::validate_namespace(obj, errs),
        ("", "Node") => node::validate_create(obj, errs),
        ("", "ServiceAccount") => core_kinds::validate_service_account(obj, errs),
        ("", "Event") => core_kinds::validate_event(obj, errs),
        ("", "LimitRange") => quotas::validate_limit_range(obj, errs),
        ("", "ResourceQuota") => quotas::validate_resource_quota(obj, errs),
        (APPS, "Deployment") => apps::validate_create(obj, errs),
        (RBAC, "Role") => rbac::validate_role(obj, true, errs),
        (RBAC, "ClusterRole") => rbac::validate_role(obj, false, errs),
        (RBAC, "RoleBinding") => rbac::validate_binding(obj, true, errs),
        (RBAC, "ClusterRoleBinding") => rbac::validate_binding(obj, false, errs),
        (ADMISSION, "MutatingWebhookConfiguration") => admission::validate_create(obj, true, errs),
        (ADMISSION, "ValidatingWebhookConfiguration") => {
            admission::validate_create(obj, false, errs)
        }
        (FLOWCONTROL, "FlowSchema") => flowcontrol::validate_flow_schema(obj, errs),
        (FLOWCONTROL, "PriorityLevelConfiguration") => {
            flowcontrol::validate_priority_level(obj, errs)
        }
        _ => {}
    }
}

/// The errors kube-apiserver would report replacing `old` with `object`. The registry has
/// already copied the server-owned metadata (name, namespace, uid, creationTimestamp,
/// resourceVersion, generation) from `old`.
pub fn validate_update(resource: &Resource, object: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Errs::new();
    let Some(obj) = Obj::root(object, &mut errs) else {
        return errs;
    };
    let empty = Value::Object(serde_json::Map::new());
    let old_value = if old.is_object() { old } else { &empty };
    let Some(old_obj) = Obj::root(old_value, &mut Errs::new()) else {
        return errs;
    };
    meta::validate_create(
        &obj,
        &meta::generic_rules(resource.is_namespaced()),
        &mut errs,
    );
    meta::validate_update(&obj, &old_obj, false, &mut errs);
    kind_update(resource, &obj, &old_obj, &mut errs);
    errs
}

fn kind_update(resource: &Resource, obj: &Obj, old: &Obj, errs: &mut Errs) {
    match (resource.group, resource.kind) {
        ("", "Pod") => pod::validate_update(obj, old, errs),
        ("", "Service") => service::validate_update(obj, old, errs),
        ("", "ConfigMap") => core_kinds::validate_config_map_update(obj, old, errs),
        ("", "Secret") => core_kinds::validate_secret_update(obj, old, errs),
        ("", "Namespace") => meta::validate_update(obj, old, true, errs),
        ("", "Node") => node::validate_update(obj, old, errs),
        ("", "ServiceAccount") => {
            meta::validate_update(obj, old, true, errs);
            core_kinds::validate_service_account(obj, errs);
        }
        ("", "Event") => core_kinds::validate_event(obj, errs),
        ("", "LimitRange") => quotas::validate_limit_range(obj, errs),
        ("", "ResourceQuota") => quotas::validate_resource_quota_update(obj, old, errs),
        (APPS, "Deployment") => apps::validate_update(obj, old, errs),
        (RBAC, "Role") => rbac::validate_role_update(obj, old, true, errs),
        (RBAC, "ClusterRole") => rbac::validate_role_update(obj, old, false, errs),
        (RBAC, "RoleBinding") => rbac::validate_binding_update(obj, old, true, errs),
        (RBAC, "ClusterRoleBinding") => rbac::validate_binding_update(obj, old, false, errs),
        (ADMISSION, "MutatingWebhookConfiguration") => {
            admission::validate_update(obj, old, true, errs)
        }
        (ADMISSION, "ValidatingWebhookConfiguration") => {
            admission::validate_update(obj, old, false, errs)
        }
        // `ValidateFlowSchemaUpdate` and `ValidatePriorityLevelConfigurationUpdate` validate
        // the new object as on create and compare nothing with the old one.
        (FLOWCONTROL, "FlowSchema") => flowcontrol::validate_flow_schema(obj, errs),
        (FLOWCONTROL, "PriorityLevelConfiguration") => {
            flowcontrol::validate_priority_level(obj, errs)
        }
        _ => {}
    }
}

/// Whether replacing `old` with `object` bumps `metadata.generation`, as the kind's update
/// strategy decides: a pod's spec; a deployment's spec or annotations (annotations are
/// copied to its ReplicaSets); a webhook configuration's webhooks; a FlowSchema's or
/// PriorityLevelConfiguration's spec. Other kinds keep no generation.
pub fn generation_changed(resource: &Resource, object: &Value, old: &Value) -> bool {
    let differs = |pointer: &str| !semantic_eq(object.pointer(pointer), old.pointer(pointer));
    match (resource.group, resource.kind) {
        ("", "Pod") => differs("/spec"),
        (APPS, "Deployment") => differs("/spec") || differs("/metadata/annotations"),
        (ADMISSION, "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration") => {
            differs("/webhooks")
        }
        (FLOWCONTROL, "FlowSchema" | "PriorityLevelConfiguration") => differs("/spec"),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
