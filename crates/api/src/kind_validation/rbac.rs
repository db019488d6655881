//! RBAC kinds (`rbac.authorization.k8s.io/v1`; kube's `pkg/apis/rbac/validation`): names
//! only need to be path segments; rules need verbs and, for resources, API groups and
//! resources; bindings need a supported `roleRef` (which never changes) and well-formed
//! subjects. kube validates a role before its metadata update, so the order differs from the
//! other kinds.

use serde_json::Value;

use super::fields::{Errs, Obj, Path, invalid, name_errors, not_supported, required};
use super::meta::{self, MetaRules, name_is_path_segment};
use super::selector;
use crate::validation::name_is_dns_subdomain;

const GROUP: &str = "rbac.authorization.k8s.io";

fn rules(namespaced: bool) -> MetaRules {
    MetaRules {
        namespaced,
        name_fn: name_is_path_segment,
        kube_finalizers: true,
    }
}

/// `ValidateRole` / `ValidateClusterRole`.
pub(crate) fn validate_role(role: &Obj, namespaced: bool, errs: &mut Errs) {
    meta::validate_create(role, &rules(namespaced), errs);
    for rule in role.objects("rules", errs) {
        policy_rule(&rule, namespaced, errs);
    }
    if !namespaced {
        aggregation_rule(role, errs);
    }
}

/// `ValidateRoleUpdate` / `ValidateClusterRoleUpdate`.
pub(crate) fn validate_role_update(role: &Obj, old: &Obj, namespaced: bool, errs: &mut Errs) {
    validate_role(role, namespaced, errs);
    meta::validate_update(role, old, true, errs);
}

/// `validatePolicyRule`.
fn policy_rule(rule: &Obj, namespaced: bool, errs: &mut Errs) {
    let count = |key: &str, errs: &mut Errs| rule.list(key, errs).map_or(0, <[Value]>::len);
    if count("verbs", errs) == 0 {
        errs.push(required(
            &rule.at_key("verbs"),
            "verbs must contain at least one value",
        ));
    }
    let urls = rule.raw("nonResourceURLs").cloned().unwrap_or(Value::Null);
    let (groups, resources, names) = (
        count("apiGroups", errs),
        count("resources", errs),
        count("resourceNames", errs),
    );
    if count("nonResourceURLs", errs) > 0 {
        let path = rule.at_key("nonResourceURLs");
        if namespaced {
            errs.push(invalid(
                &path,
                urls.clone(),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if groups > 0 || resources > 0 || names > 0 {
            let detail = "rules cannot apply to both regular resources and non-resource URLs";
            errs.push(invalid(&path, urls, detail));
        }
        return;
    }
    if groups == 0 {
        errs.push(required(
            &rule.at_key("apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if resources == 0 {
        errs.push(required(
            &rule.at_key("resources"),
            "resource rules must supply at least one resource",
        ));
    }
    if names > 0 && resources > 1 {
        errs.push(required(
            &rule.at_key("resourceNames"),
            "resource names cannot apply to multiple resources",
        ));
    }
}

/// A ClusterRole's `aggregationRule`: at least one selector, each valid.
fn aggregation_rule(role: &Obj, errs: &mut Errs) {
    let Some(rule) = role.obj("aggregationRule", errs).filter(Obj::is_set) else {
        return;
    };
    let selectors = rule.objects("clusterRoleSelectors", errs);
    if selectors.is_empty() {
        errs.push(required(
            &rule.at_key("clusterRoleSelectors"),
            "at least one clusterRoleSelector required if aggregationRule is non-nil",
        ));
    }
    for s in selectors {
        selector::validate(&s, errs);
        if selector::build(&s).is_err() {
            errs.push(invalid(s.path(), s.to_value(), "invalid label selector."));
        }
    }
}

/// `ValidateRoleBinding` / `ValidateClusterRoleBinding`.
pub(crate) fn validate_binding(binding: &Obj, namespaced: bool, errs: &mut Errs) {
    meta::validate_create(binding, &rules(namespaced), errs);
    let role_ref = binding
        .obj("roleRef", errs)
        .unwrap_or_else(|| Obj::absent(binding.at_key("roleRef")));
    let group = role_ref.str("apiGroup", errs).unwrap_or_default();
    if group != GROUP {
        errs.push(not_supported(&role_ref.at_key("apiGroup"), group, &[GROUP]));
    }
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    let kind = role_ref.str("kind", errs).unwrap_or_default();
    if !kinds.contains(&kind) {
        errs.push(not_supported(&role_ref.at_key("kind"), kind, kinds));
    }
    match role_ref.str("name", errs) {
        Some("") => errs.push(required(&role_ref.at_key("name"), "")),
        Some(name) => name_errors(
            &role_ref.at_key("name"),
            name,
            name_is_path_segment(name, false),
            errs,
        ),
        None => {}
    }
    for subject in binding.objects("subjects", errs) {
        binding_subject(&subject, namespaced, errs);
    }
}

/// `ValidateRoleBindingUpdate` / `ValidateClusterRoleBindingUpdate`: `roleRef` is fixed.
pub(crate) fn validate_binding_update(binding: &Obj, old: &Obj, namespaced: bool, errs: &mut Errs) {
    validate_binding(binding, namespaced, errs);
    meta::validate_update(binding, old, true, errs);
    let (new_ref, old_ref) = (binding.raw("roleRef"), old.raw("roleRef"));
    if role_ref_fields(new_ref) != role_ref_fields(old_ref) {
        let value = new_ref.cloned().unwrap_or(Value::Null);
        errs.push(invalid(
            &Path::new("roleRef"),
            value,
            "cannot change roleRef",
        ));
    }
}

/// The fields of a `roleRef` (Go compares the struct, so absent and empty are the same).
fn role_ref_fields(role_ref: Option<&Value>) -> [&str; 3] {
    ["apiGroup", "kind", "name"].map(|k| {
        role_ref
            .and_then(|r| r.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
    })
}

/// `validateRoleBindingSubject`.
fn binding_subject(subject: &Obj, namespaced: bool, errs: &mut Errs) {
    let name = subject.str("name", errs).unwrap_or_default();
    let kind = subject.str("kind", errs).unwrap_or_default();
    let group = subject.str("apiGroup", errs).unwrap_or_default();
    let (name_path, group_path) = (subject.at_key("name"), subject.at_key("apiGroup"));
    if name.is_empty() {
        errs.push(required(&name_path, ""));
    }
    match kind {
        "ServiceAccount" => {
            if !name.is_empty() {
                name_errors(&name_path, name, name_is_dns_subdomain(name, false), errs);
            }
            if !group.is_empty() {
                errs.push(not_supported(&group_path, group, &[""]));
            }
            if !namespaced && subject.peek_str("namespace").is_empty() {
                errs.push(required(&subject.at_key("namespace"), ""));
            }
        }
        "User" | "Group" => {
            if name.is_empty() {
                let detail = format!("{} name cannot be empty", kind.to_lowercase());
                errs.push(invalid(&name_path, name, &detail));
            }
            if group != GROUP {
                errs.push(not_supported(&group_path, group, &[GROUP]));
            }
        }
        other => errs.push(not_supported(
            &subject.at_key("kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
}
