//! A container's `resources` (core's `validateResourceRequirements` with
//! `validateContainerResourceName`): resource names, non-negative quantities, whole numbers
//! for extended resources, and requests within limits (equal to them for resources that
//! cannot be overcommitted). Resource claims and hugepage sizes are not checked yet.
//!
//! Also the helpers on resource names that defaulting and QoS need.

use serde_json::Value;

use super::fields::{Errs, Obj, Path, forbidden, invalid, name_errors, required};
use super::quantity::{Quantity, bad_quantity};
use crate::validation::is_qualified_name;

/// `standardResources` plus the quota hugepage names: what a bare resource name may be.
pub(crate) const STANDARD_RESOURCES: [&str; 20] = [
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
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
    "storage",
    "requests.storage",
];
/// What a container may ask for without a domain prefix (besides `hugepages-*`).
const CONTAINER_RESOURCES: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];

/// `IsHugePageResourceName`.
pub(crate) fn is_huge_pages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// `IsNativeResource`: no domain, or a `kubernetes.io/` one.
fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// `IsExtendedResourceName`: `example.com/gpu`.
pub(crate) fn is_extended(name: &str) -> bool {
    if is_native(name) || name.starts_with("requests.") {
        return false;
    }
    is_qualified_name(&format!("requests.{name}")).is_empty()
}

/// `IsOvercommitAllowed`: requests may be below limits.
pub(crate) fn overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_huge_pages(name)
}

/// A `ResourceList` as name, path, and parsed quantity (unparsable ones reported).
pub(crate) fn quantities<'a>(
    res: &Obj<'a>,
    key: &str,
    errs: &mut Errs,
) -> Vec<(&'a str, Path, Quantity)> {
    let path = res.at_key(key);
    let entries = match res.raw(key) {
        None => return Vec::new(),
        Some(Value::Object(entries)) => entries,
        Some(other) => {
            errs.push(super::fields::type_invalid(&path, other, "object"));
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(entries.len());
    for (name, raw) in entries {
        let at = path.key(name);
        match Quantity::from_json(raw) {
            Some(q) => out.push((name.as_str(), at, q)),
            None => errs.push(bad_quantity(&at, raw)),
        }
    }
    out
}

/// `ValidateContainerResourceRequirements` for the `resources` object `res`.
pub(crate) fn validate_container_resources(res: &Obj, errs: &mut Errs) {
    let limits = quantities(res, "limits", errs);
    let (mut cpu_or_memory, mut huge_pages) = (false, false);
    for (name, path, q) in &limits {
        container_resource_name(name, path, errs);
        quantity_value(name, q, path, errs);
        huge_pages |= is_huge_pages(name);
        cpu_or_memory |= matches!(*name, "cpu" | "memory");
    }
    for (name, path, q) in quantities(res, "requests", errs) {
        container_resource_name(name, &path, errs);
        quantity_value(name, &q, &path, errs);
        let limit = limits
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, l)| l);
        request_within_limit(name, &q, limit, res, errs);
        huge_pages |= is_huge_pages(name);
        cpu_or_memory |= matches!(name, "cpu" | "memory");
    }
    if huge_pages && !cpu_or_memory {
        errs.push(forbidden(res.path(), "HugePages require cpu or memory"));
    }
}

/// A request against its limit; `res` is the `resources` object, whose `requests` and
/// `limits` the errors name.
fn request_within_limit(
    name: &str,
    request: &Quantity,
    limit: Option<&Quantity>,
    res: &Obj,
    errs: &mut Errs,
) {
    let requests_path = || res.at_key("requests");
    match limit {
        Some(limit) if request != limit && !overcommit_allowed(name) => {
            let detail = format!("must be equal to {name} limit of {}", limit.canonical());
            errs.push(invalid(&requests_path(), request.canonical(), &detail));
        }
        Some(limit) if request > limit => {
            let detail = format!(
                "must be less than or equal to {name} limit of {}",
                limit.canonical()
            );
            errs.push(invalid(&requests_path(), request.canonical(), &detail));
        }
        None if !overcommit_allowed(name) => {
            errs.push(required(
                &res.at_key("limits"),
                "Limit must be set for non overcommitable resources",
            ));
        }
        _ => {}
    }
}

/// `ValidateResourceQuantityValue`: not negative; whole for extended resources.
fn quantity_value(name: &str, q: &Quantity, path: &Path, errs: &mut Errs) {
    if q.is_negative() {
        errs.push(invalid(path, q.canonical(), super::fields::IS_NEGATIVE));
    }
    if is_extended(name) && !q.is_integer() {
        errs.push(invalid(path, q.canonical(), "must be an integer"));
    }
}

/// `validateContainerResourceName`.
pub(crate) fn container_resource_name(name: &str, path: &Path, errs: &mut Errs) {
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
    if !name.contains('/') {
        if !CONTAINER_RESOURCES.contains(&name) && !is_huge_pages(name) {
            errs.push(invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native(name) && !is_extended(name) {
        errs.push(invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
}

/// `IsQuotaHugePageResourceName`.
pub(crate) fn is_quota_huge_pages(name: &str) -> bool {
    is_huge_pages(name) || name.starts_with("requests.hugepages-")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(resources: Value) -> Vec<String> {
        let mut errs = Errs::new();
        let res = Obj::at(Some(&resources), Path::new("r"), &mut errs).unwrap();
        validate_container_resources(&res, &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn valid_requirements() {
        assert_eq!(
            check(
                json!({"limits": {"cpu": "1", "memory": "1Gi", "example.com/gpu": 2},
                         "requests": {"cpu": "500m", "memory": "512Mi", "example.com/gpu": "2"}})
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn requests_above_limits_and_bad_names() {
        assert_eq!(
            check(json!({"limits": {"cpu": "500m", "example.com/gpu": "1"},
                         "requests": {"cpu": "1", "example.com/gpu": "2", "pods": "1", "bogus": "1", "memory": "-1", "x.io/y": "1.5"}})),
            vec![
                r#"r.requests: Invalid value: "1": must be less than or equal to cpu limit of 500m"#,
                r#"r.requests: Invalid value: "2": must be equal to example.com/gpu limit of 1"#,
                r#"r.requests[pods]: Invalid value: "pods": must be a standard resource for containers"#,
                r#"r.requests[bogus]: Invalid value: "bogus": must be a standard resource type or fully qualified"#,
                r#"r.requests[bogus]: Invalid value: "bogus": must be a standard resource for containers"#,
                r#"r.requests[memory]: Invalid value: "-1": must be greater than or equal to 0"#,
                r#"r.requests[x.io/y]: Invalid value: "1500m": must be an integer"#,
                "r.limits: Required value: Limit must be set for non overcommitable resources",
            ]
        );
    }

    #[test]
    fn unparsable_quantities_and_huge_pages() {
        assert_eq!(
            check(json!({"limits": {"cpu": "lots", "hugepages-2Mi": "2Mi"}})),
            vec![
                r#"r.limits[cpu]: Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"#,
                "r: Forbidden: HugePages require cpu or memory",
            ]
        );
    }
}
