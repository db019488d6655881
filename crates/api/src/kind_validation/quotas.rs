//! LimitRanges and ResourceQuotas: kube's `ValidateLimitRange` (on create and update alike),
//! `ValidateResourceQuota`, and `ValidateResourceQuotaUpdate` with the status rules of
//! `ValidateResourceQuotaStatusUpdate` (kubesim runs one update validation for the object
//! and its `status` subresource; each leaves the other half as stored).
//!
//! Two places differ from kube on purpose. Go walks resource maps in random order; kubesim
//! reports a map's entries in the order the client wrote them, and a LimitRange item's
//! cross-checks resource by resource in name order. Where kube puts a `resource.Quantity`
//! struct in an error's bad value (which Go prints with `%#v`), kubesim puts the quantity's
//! canonical form. The field paths and details are kube's.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::core_kinds::NAMESPACED_SUBDOMAIN;
use super::fields::{
    Errs, FIELD_IMMUTABLE, IS_NEGATIVE, Obj, Path, duplicate, forbidden, invalid, name_errors,
    required,
};
use super::meta;
use super::quantity::Quantity;
use super::resources::{
    STANDARD_RESOURCES, container_resource_name, is_extended, is_quota_huge_pages,
    overcommit_allowed, quantities,
};
use crate::validation::is_qualified_name;

/// `standardLimitRangeTypes`.
const LIMIT_TYPES: [&str; 3] = ["Pod", "Container", "PersistentVolumeClaim"];

/// `standardQuotaResources`: what a quota may limit without a domain prefix (besides the
/// hugepages names).
pub(crate) const STANDARD_QUOTA_RESOURCES: [&str; 19] = [
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
];

/// `integerResources`: counted in whole numbers (extended resources too).
const INTEGER_RESOURCES: [&str; 9] = [
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

/// `standardResourceQuotaScopes` plus CrossNamespacePodAffinity (Kubernetes 1.33).
pub(crate) const QUOTA_SCOPES: [&str; 6] = [
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
];

/// Scopes a selector may only test for existence.
const EXISTS_ONLY_SCOPES: [&str; 5] = [
    "BestEffort",
    "NotBestEffort",
    "Terminating",
    "NotTerminating",
    "CrossNamespacePodAffinity",
];

const EXISTS_ONLY_MESSAGE: &str = "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity";

/// Scopes a quota may not combine.
const CONFLICTING_SCOPES: [(&str, &str); 2] = [
    ("BestEffort", "NotBestEffort"),
    ("Terminating", "NotTerminating"),
];

/// Go's `resource.MaxMilliValue`: past it, kube compares ratios in whole units.
const MAX_MILLI_VALUE: i128 = (i64::MAX / 1000) as i128;

// ---------------------------------------------------------------------------------------------
// LimitRanges

/// `ValidateLimitRange`.
pub(crate) fn validate_limit_range(limit_range: &Obj, errs: &mut Errs) {
    meta::validate_create(limit_range, &NAMESPACED_SUBDOMAIN, errs);
    let Some(spec) = limit_range.obj("spec", errs) else {
        return;
    };
    let mut types_seen = Vec::new();
    for item in spec.objects("limits", errs) {
        limit_range_item(&item, &mut types_seen, errs);
    }
}

/// What one item says of one resource.
#[derive(Debug, Default, Clone, Copy)]
struct Bounds {
    min: Option<Quantity>,
    max: Option<Quantity>,
    default: Option<Quantity>,
    default_request: Option<Quantity>,
    ratio: Option<Quantity>,
}

fn limit_range_item<'a>(item: &Obj<'a>, types_seen: &mut Vec<&'a str>, errs: &mut Errs) {
    let type_path = item.at_key("type");
    let limit_type = item.str("type", errs).unwrap_or_default();
    limit_type_name(limit_type, &type_path, errs);
    if types_seen.contains(&limit_type) {
        errs.push(duplicate(&type_path, limit_type));
    }
    types_seen.push(limit_type);

    let mut bounds: BTreeMap<&'a str, Bounds> = BTreeMap::new();
    for (name, q) in limit_list(item, "max", limit_type, errs) {
        bounds.entry(name).or_default().max = Some(q);
    }
    for (name, q) in limit_list(item, "min", limit_type, errs) {
        bounds.entry(name).or_default().min = Some(q);
    }
    if limit_type == "Pod" {
        for key in ["default", "defaultRequest"] {
            let set = item
                .raw(key)
                .is_some_and(|v| v.as_object().is_none_or(|m| !m.is_empty()));
            if set {
                let detail = "may not be specified when `type` is 'Pod'";
                errs.push(forbidden(&item.at_key(key), detail));
            }
        }
    } else {
        for (name, q) in limit_list(item, "default", limit_type, errs) {
            bounds.entry(name).or_default().default = Some(q);
        }
        for (name, q) in limit_list(item, "defaultRequest", limit_type, errs) {
            bounds.entry(name).or_default().default_request = Some(q);
        }
    }
    if limit_type == "PersistentVolumeClaim" {
        let storage = bounds.get("storage");
        if !storage.is_some_and(|b| b.min.is_some() || b.max.is_some()) {
            let detail =
                "either minimum or maximum storage value is required, but neither was provided";
            errs.push(required(&item.at_key("limits"), detail));
        }
    }
    for (name, q) in limit_list(item, "maxLimitRequestRatio", limit_type, errs) {
        bounds.entry(name).or_default().ratio = Some(q);
    }
    for (name, b) in &bounds {
        check_bounds(item, name, b, errs);
    }
}

/// `validateLimitRangeTypeName`.
fn limit_type_name(value: &str, path: &Path, errs: &mut Errs) {
    let problems = is_qualified_name(value);
    if !problems.is_empty() {
        name_errors(path, value, problems, errs);
    } else if !value.contains('/') && !LIMIT_TYPES.contains(&value) {
        errs.push(invalid(
            path,
            value,
            "must be a standard limit type or fully qualified",
        ));
    }
}

/// One resource map of an item, its names checked as `validateLimitRangeResourceName` does:
/// container rules for `Pod` and `Container` items, the general ones otherwise.
fn limit_list<'a>(
    item: &Obj<'a>,
    key: &str,
    limit_type: &str,
    errs: &mut Errs,
) -> Vec<(&'a str, Quantity)> {
    let entries = quantities(item, key, errs);
    let mut out = Vec::with_capacity(entries.len());
    for (name, path, q) in entries {
        if matches!(limit_type, "Pod" | "Container") {
            container_resource_name(name, &path, errs);
        } else {
            resource_name(name, &path, errs);
        }
        out.push((name, q));
    }
    out
}

/// `min <= defaultRequest <= default <= max`, a burst ratio of at least 1 and at most
/// max/min, and equal defaults for resources that cannot be overcommitted.
fn check_bounds(item: &Obj, name: &str, b: &Bounds, errs: &mut Errs) {
    let at = |key: &str| item.at_key(key).key(name);
    if let (Some(min), Some(max)) = (b.min, b.max)
        && min > max
    {
        let detail = format!("min value {} is greater than max value {}", c(min), c(max));
        errs.push(invalid(&at("min"), c(min), &detail));
    }
    if let (Some(request), Some(min)) = (b.default_request, b.min)
        && min > request
    {
        let detail = format!(
            "min value {} is greater than default request value {}",
            c(min),
            c(request)
        );
        errs.push(invalid(&at("defaultRequest"), c(request), &detail));
    }
    if let (Some(request), Some(max)) = (b.default_request, b.max)
        && request > max
    {
        let detail = format!(
            "default request value {} is greater than max value {}",
            c(request),
            c(max)
        );
        errs.push(invalid(&at("defaultRequest"), c(request), &detail));
    }
    if let (Some(request), Some(limit)) = (b.default_request, b.default)
        && request > limit
    {
        let detail = format!(
            "default request value {} is greater than default limit value {}",
            c(request),
            c(limit)
        );
        errs.push(invalid(&at("defaultRequest"), c(request), &detail));
    }
    check_default_within(b, &at, errs);
    check_ratio(b, &at("maxLimitRequestRatio"), errs);
    if let (Some(limit), Some(request)) = (b.default, b.default_request)
        && !overcommit_allowed(name)
        && limit != request
    {
        let detail = format!(
            "default value {} must equal to defaultRequest value {} in {name}",
            c(limit),
            c(request)
        );
        errs.push(invalid(&at("defaultRequest"), c(request), &detail));
    }
}

/// `min <= default <= max`. kube reports the bound, not the default, as the bad value.
fn check_default_within(b: &Bounds, at: &dyn Fn(&str) -> Path, errs: &mut Errs) {
    let Some(limit) = b.default else {
        return;
    };
    if let Some(min) = b.min
        && min > limit
    {
        let detail = format!(
            "min value {} is greater than default value {}",
            c(min),
            c(limit)
        );
        errs.push(invalid(&at("default"), c(min), &detail));
    }
    if let Some(max) = b.max
        && limit > max
    {
        let detail = format!(
            "default value {} is greater than max value {}",
            c(limit),
            c(max)
        );
        errs.push(invalid(&at("default"), c(max), &detail));
    }
}

/// `maxLimitRequestRatio`: at least 1, and no more than max/min (in thousandths when every
/// value fits, as kube computes it, else in whole units).
fn check_ratio(b: &Bounds, path: &Path, errs: &mut Errs) {
    let Some(ratio) = b.ratio else {
        return;
    };
    if ratio < Quantity::from_int(1) {
        let detail = format!("ratio {} is less than 1", c(ratio));
        errs.push(invalid(path, c(ratio), &detail));
    }
    let (Some(min), Some(max)) = (b.min, b.max) else {
        return;
    };
    let fits = [ratio, min, max]
        .iter()
        .all(|q| q.value() < MAX_MILLI_VALUE);
    let (ratio_value, bound) = if fits {
        (
            ratio.milli_value() as f64 / 1000.0,
            max.milli_value() as f64 / min.milli_value() as f64,
        )
    } else {
        (
            ratio.value() as f64,
            max.value() as f64 / min.value() as f64,
        )
    };
    if ratio_value > bound {
        let detail = format!(
            "ratio {} is greater than max/min = {}",
            c(ratio),
            go_float(bound)
        );
        errs.push(invalid(path, c(ratio), &detail));
    }
}

/// Go's `%f`: six decimals, `+Inf` and `-Inf` for the infinities.
fn go_float(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    format!("{value:.6}")
}

fn c(q: Quantity) -> String {
    q.canonical()
}

/// `validateResourceName`: a qualified name; without a domain, a standard resource.
fn resource_name(name: &str, path: &Path, errs: &mut Errs) {
    let problems = is_qualified_name(name);
    if !problems.is_empty() {
        name_errors(path, name, problems, errs);
    } else if !name.contains('/')
        && !STANDARD_RESOURCES.contains(&name)
        && !is_quota_huge_pages(name)
    {
        errs.push(invalid(
            path,
            name,
            "must be a standard resource type or fully qualified",
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// ResourceQuotas

/// `ValidateResourceQuota`: metadata, spec and status.
pub(crate) fn validate_resource_quota(quota: &Obj, errs: &mut Errs) {
    meta::validate_create(quota, &NAMESPACED_SUBDOMAIN, errs);
    quota_spec(quota, errs);
    quota_status(quota, errs);
}

/// `ValidateResourceQuotaUpdate` (scopes are immutable) and the status rules of
/// `ValidateResourceQuotaStatusUpdate`.
pub(crate) fn validate_resource_quota_update(quota: &Obj, old: &Obj, errs: &mut Errs) {
    meta::validate_update(quota, old, true, errs);
    quota_spec(quota, errs);
    if scope_set(quota) != scope_set(old) {
        let path = Path::new("spec").child("scopes");
        let scopes = spec_field(quota, "scopes");
        errs.push(invalid(&path, scopes, FIELD_IMMUTABLE));
    }
    quota_status(quota, errs);
}

/// `ValidateResourceQuotaSpec`.
fn quota_spec(quota: &Obj, errs: &mut Errs) {
    let Some(spec) = quota.obj("spec", errs) else {
        return;
    };
    quota_list(&spec, "hard", errs);
    let hard: BTreeSet<&str> = spec
        .raw("hard")
        .and_then(Value::as_object)
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let scopes = spec.strings("scopes", errs).unwrap_or_default();
    quota_scopes(&spec, &hard, &scopes, errs);
    scope_selector(&spec, &hard, errs);
}

/// `ValidateResourceQuotaStatus`: the names and values of `status.hard` and `status.used`.
fn quota_status(quota: &Obj, errs: &mut Errs) {
    let Some(status) = quota.obj("status", errs) else {
        return;
    };
    quota_list(&status, "hard", errs);
    quota_list(&status, "used", errs);
}

/// A quota's resource map: names a quota may track, values not negative, whole numbers
/// for counted resources.
fn quota_list(obj: &Obj, key: &str, errs: &mut Errs) {
    for (name, path, q) in quantities(obj, key, errs) {
        quota_resource_name(name, &path, errs);
        if q.is_negative() {
            errs.push(invalid(&path, c(q), IS_NEGATIVE));
        }
        if is_integer_resource(name) && !q.is_integer() {
            errs.push(invalid(&path, c(q), "must be an integer"));
        }
    }
}

/// `ValidateResourceQuotaResourceName`.
fn quota_resource_name(name: &str, path: &Path, errs: &mut Errs) {
    resource_name(name, path, errs);
    if !name.contains('/') && !is_standard_quota_resource(name) {
        errs.push(invalid(path, name, "must be a standard resource for quota"));
    }
}

/// `IsStandardQuotaResourceName`.
pub(crate) fn is_standard_quota_resource(name: &str) -> bool {
    STANDARD_QUOTA_RESOURCES.contains(&name) || is_quota_huge_pages(name)
}

/// `IsIntegerResourceName`.
fn is_integer_resource(name: &str) -> bool {
    INTEGER_RESOURCES.contains(&name) || is_extended(name)
}

/// `IsResourceQuotaScopeValidForResource`: the pod scopes apply to pod counts and compute
/// (BestEffort to pod counts alone); any other scope to anything.
pub(crate) fn scope_valid_for_resource(scope: &str, resource: &str) -> bool {
    const POD_COMPUTE: [&str; 6] = [
        "cpu",
        "memory",
        "limits.cpu",
        "limits.memory",
        "requests.cpu",
        "requests.memory",
    ];
    match scope {
        "Terminating"
        | "NotTerminating"
        | "NotBestEffort"
        | "PriorityClass"
        | "CrossNamespacePodAffinity" => resource == "pods" || POD_COMPUTE.contains(&resource),
        "BestEffort" => resource == "pods",
        _ => true,
    }
}

/// `validateResourceQuotaScopes`: every error at `spec.scopes`, with the whole list as its
/// value.
fn quota_scopes(spec: &Obj, hard: &BTreeSet<&str>, scopes: &[(usize, &str)], errs: &mut Errs) {
    if scopes.is_empty() {
        return;
    }
    let path = spec.at_key("scopes");
    let all = spec.raw("scopes").cloned().unwrap_or(Value::Null);
    for (_, scope) in scopes {
        if !QUOTA_SCOPES.contains(scope) {
            errs.push(invalid(&path, all.clone(), "unsupported scope"));
        }
        for resource in hard {
            if is_standard_quota_resource(resource) && !scope_valid_for_resource(scope, resource) {
                let detail = "unsupported scope applied to resource";
                errs.push(invalid(&path, all.clone(), detail));
            }
        }
    }
    let names: Vec<&str> = scopes.iter().map(|(_, s)| *s).collect();
    conflicting_scopes(&names, &path, &all, errs);
}

/// `validateScopedResourceSelectorRequirement`. kube's paths here carry no index, and its
/// "conflicting scopes" error shows `spec.scopes` as the value.
fn scope_selector(spec: &Obj, hard: &BTreeSet<&str>, errs: &mut Errs) {
    let Some(selector) = spec.obj("scopeSelector", errs) else {
        return;
    };
    if !selector.is_set() {
        return;
    }
    let path = selector.at_key("matchExpressions");
    let mut names = Vec::new();
    for requirement in selector.objects("matchExpressions", errs) {
        let scope = requirement.str("scopeName", errs).unwrap_or_default();
        let operator = requirement.str("operator", errs).unwrap_or_default();
        let values = requirement.strings("values", errs).unwrap_or_default();
        if !QUOTA_SCOPES.contains(&scope) {
            errs.push(invalid(
                &path.child("scopeName"),
                scope,
                "unsupported scope",
            ));
        }
        for resource in hard {
            if is_standard_quota_resource(resource) && !scope_valid_for_resource(scope, resource) {
                let detail = "unsupported scope applied to resource";
                errs.push(invalid(&path, selector.to_value(), detail));
            }
        }
        if EXISTS_ONLY_SCOPES.contains(&scope) && operator != "Exists" {
            errs.push(invalid(
                &path.child("operator"),
                operator,
                EXISTS_ONLY_MESSAGE,
            ));
        }
        selector_operator(&requirement, operator, values.is_empty(), &path, errs);
        names.push(scope);
    }
    let scopes = spec.raw("scopes").cloned().unwrap_or(Value::Null);
    conflicting_scopes(&names, &path, &scopes, errs);
}

fn selector_operator(
    requirement: &Obj,
    operator: &str,
    no_values: bool,
    path: &Path,
    errs: &mut Errs,
) {
    match operator {
        "In" | "NotIn" if no_values => {
            let detail =
                "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector";
            errs.push(required(&path.child("values"), detail));
        }
        "Exists" | "DoesNotExist" if !no_values => {
            let detail =
                "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector";
            let values = requirement.raw("values").cloned().unwrap_or(Value::Null);
            errs.push(invalid(&path.child("values"), values, detail));
        }
        "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
        _ => errs.push(invalid(
            &path.child("operator"),
            operator,
            "not a valid selector operator",
        )),
    }
}

fn conflicting_scopes(names: &[&str], path: &Path, value: &Value, errs: &mut Errs) {
    for (a, b) in CONFLICTING_SCOPES {
        if names.contains(&a) && names.contains(&b) {
            errs.push(invalid(path, value.clone(), "conflicting scopes"));
        }
    }
}

/// The set of a quota's `spec.scopes`, for the immutability check.
fn scope_set<'a>(quota: &Obj<'a>) -> BTreeSet<&'a str> {
    let Some(Value::Object(spec)) = quota.raw("spec") else {
        return BTreeSet::new();
    };
    match spec.get("scopes") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => BTreeSet::new(),
    }
}

fn spec_field(quota: &Obj, key: &str) -> Value {
    quota
        .raw("spec")
        .and_then(|spec| spec.get(key))
        .cloned()
        .unwrap_or(Value::Null)
}

#[cfg(test)]
#[path = "quotas_tests.rs"]
mod tests;
