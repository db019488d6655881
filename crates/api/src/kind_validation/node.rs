//! Nodes (`ValidateNode`, `ValidateNodeUpdate`): a DNS-subdomain name, taints unique by key
//! and effect, pod CIDRs (at most one per IP family), and on update the fields that may be
//! set once (podCIDRs, providerID) or never change (externalID). Status fields are optional
//! and barely checked, as in kube: the kubelet owns them.

use std::net::IpAddr;

use super::fields::{Errs, Obj, Path, duplicate, forbidden, invalid, not_supported, required};
use super::meta::{self, MetaRules};
use super::rules::validate_cidr;
use crate::status::FieldError;
use crate::validation::{is_qualified_name, is_valid_label_value, name_is_dns_subdomain};

const RULES: MetaRules = MetaRules {
    namespaced: false,
    name_fn: name_is_dns_subdomain,
    kube_finalizers: true,
};

const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
const SET_ONCE: &str = "node updates may not change podCIDR except from \"\" to valid";

/// `ValidateNode`.
pub(crate) fn validate_create(node: &Obj, errs: &mut Errs) {
    meta::validate_create(node, &RULES, errs);
    let spec = node.obj("spec", errs);
    if let Some(spec) = &spec {
        // kube names the taints' path under `metadata` (its `fldPath` is metadata's).
        taints(spec, &Path::new("metadata").child("taints"), errs);
        pod_cidrs(spec, errs);
    }
}

/// `ValidateNodeUpdate`, less what the registry keeps (name, uid, ...).
pub(crate) fn validate_update(node: &Obj, old: &Obj, errs: &mut Errs) {
    meta::validate_update(node, old, true, errs);
    let mut quiet = Errs::new();
    let old_spec = old.obj("spec", &mut quiet);
    let old_str = |key: &str| old_spec.as_ref().map_or("", |s| s.peek_str(key));
    let spec = node.obj("spec", errs);
    let new_str = |key: &str| spec.as_ref().map_or("", |s| s.peek_str(key));
    if let Some(status) = node.obj("status", errs) {
        unique_addresses(&status, errs);
    }
    let old_cidrs = old_spec
        .as_ref()
        .map_or(&[][..], |s| s.peek_list("podCIDRs"));
    let new_cidrs = spec.as_ref().map_or(&[][..], |s| s.peek_list("podCIDRs"));
    if !old_cidrs.is_empty() {
        let podcidrs = Path::new("spec").child("podCIDRs");
        if old_cidrs.len() != new_cidrs.len() {
            errs.push(forbidden(&podcidrs, SET_ONCE));
        } else {
            for (old, new) in old_cidrs.iter().zip(new_cidrs) {
                if old != new {
                    errs.push(forbidden(&podcidrs, SET_ONCE));
                }
            }
        }
    }
    let old_provider = old_str("providerID");
    if !old_provider.is_empty() && old_provider != new_str("providerID") {
        errs.push(forbidden(
            &Path::new("spec").child("providerID"),
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    if let Some(spec) = &spec {
        taints(spec, &Path::new("metadata").child("taints"), errs);
    }
    if old_str("externalID") != new_str("externalID") {
        errs.push(forbidden(
            &Path::new("spec").child("externalID"),
            "may not be updated",
        ));
    }
}

/// `validateNodeTaints`: key a label name, value a label value, a known effect, and one
/// taint per key and effect.
fn taints(spec: &Obj, path: &Path, errs: &mut Errs) {
    let mut seen: Vec<(String, String)> = Vec::new();
    for (i, taint) in spec.objects("taints", errs).iter().enumerate() {
        let at = path.index(i);
        let key = taint.str("key", errs).unwrap_or_default();
        for message in is_qualified_name(key) {
            errs.push(invalid(&at.child("key"), key, &message));
        }
        let value = taint.str("value", errs).unwrap_or_default();
        for message in is_valid_label_value(value) {
            errs.push(invalid(&at.child("value"), value, &message));
        }
        let effect = taint.str("effect", errs).unwrap_or_default();
        if effect.is_empty() {
            errs.push(required(&at.child("effect"), ""));
        } else if !TAINT_EFFECTS.contains(&effect) {
            errs.push(not_supported(&at.child("effect"), effect, &TAINT_EFFECTS));
        }
        let pair = (key.to_owned(), effect.to_owned());
        if seen.contains(&pair) {
            let mut error: FieldError = duplicate(&at, taint.to_value());
            error.detail = "taints must be unique by key and effect pair".to_owned();
            errs.push(error);
            continue;
        }
        seen.push(pair);
    }
}

/// Each pod CIDR valid; more than one only as one IPv4 and one IPv6, without repeats.
fn pod_cidrs(spec: &Obj, errs: &mut Errs) {
    let Some(cidrs) = spec.strings("podCIDRs", errs) else {
        return;
    };
    let path = spec.at_key("podCIDRs");
    for (i, cidr) in &cidrs {
        validate_cidr(&path.index(*i), cidr, errs);
    }
    if cidrs.len() < 2 {
        return;
    }
    let family = |cidr: &str| {
        let ip = cidr.split_once('/').map_or(cidr, |(ip, _)| ip);
        ip.parse::<IpAddr>().ok().map(|ip| ip.is_ipv4())
    };
    let families: Vec<Option<bool>> = cidrs.iter().map(|(_, c)| family(c)).collect();
    let dual_stack = cidrs.len() == 2
        && families.iter().all(Option::is_some)
        && families.first() != families.get(1);
    if !dual_stack {
        let values: Vec<&str> = cidrs.iter().map(|(_, c)| *c).collect();
        errs.push(invalid(
            &path,
            serde_json::json!(values),
            "may specify no more than one CIDR for each IP family",
        ));
    }
    for (n, (i, cidr)) in cidrs.iter().enumerate() {
        if cidrs[..n].iter().any(|(_, earlier)| earlier == cidr) {
            errs.push(duplicate(&path.index(*i), *cidr));
        }
    }
}

/// No address listed twice in `status.addresses`.
fn unique_addresses(status: &Obj, errs: &mut Errs) {
    let addresses = status.objects("addresses", errs);
    let path = status.at_key("addresses");
    for (i, address) in addresses.iter().enumerate() {
        let value = address.to_value();
        if addresses[..i]
            .iter()
            .any(|earlier| earlier.to_value() == value)
        {
            errs.push(duplicate(&path.index(i), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::kind_validation::{validate_create, validate_update};
    use crate::resources::lookup;

    fn nodes() -> &'static crate::resources::Resource {
        lookup("", "v1", "nodes").unwrap()
    }

    fn create(node: Value) -> Vec<String> {
        validate_create(nodes(), &node)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn update(node: Value, old: Value) -> Vec<String> {
        validate_update(nodes(), &node, &old)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn names_taints_and_pod_cidrs() {
        assert_eq!(
            create(json!({"metadata": {"name": "worker-1"}})),
            Vec::<String>::new()
        );
        assert_eq!(
            create(json!({"metadata": {"name": "Worker_1"}})),
            [
                "metadata.name: Invalid value: \"Worker_1\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ]
        );
        let taints = json!({"metadata": {"name": "n"}, "spec": {"taints": [
            {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
            {"key": "dedicated", "value": "other", "effect": "NoSchedule"},
            {"key": "x", "effect": "Sometimes"},
            {"key": "y"}
        ]}});
        assert_eq!(
            create(taints),
            [
                "metadata.taints[1]: Duplicate value: {\"effect\":\"NoSchedule\",\"key\":\"dedicated\",\"value\":\"other\"}: taints must be unique by key and effect pair",
                "metadata.taints[2].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                "metadata.taints[3].effect: Required value",
            ]
        );
        let dual = json!({"metadata": {"name": "n"},
                          "spec": {"podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"]}});
        assert_eq!(create(dual), Vec::<String>::new());
        let two_v4 = json!({"metadata": {"name": "n"},
                            "spec": {"podCIDRs": ["10.244.1.0/24", "10.244.1.0/24"]}});
        assert_eq!(
            create(two_v4),
            [
                "spec.podCIDRs: Invalid value: [\"10.244.1.0/24\",\"10.244.1.0/24\"]: may specify no more than one CIDR for each IP family",
                "spec.podCIDRs[1]: Duplicate value: \"10.244.1.0/24\"",
            ]
        );
    }

    #[test]
    fn pod_cidrs_and_provider_id_are_set_once() {
        let old = json!({"metadata": {"name": "n"},
                         "spec": {"podCIDRs": ["10.244.1.0/24"], "providerID": "kind://n"}});
        assert_eq!(update(old.clone(), old.clone()), Vec::<String>::new());
        let moved = json!({"metadata": {"name": "n"},
                           "spec": {"podCIDRs": ["10.244.2.0/24"], "providerID": "aws://n"}});
        assert_eq!(
            update(moved, old),
            [
                "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid",
                "spec.providerID: Forbidden: node updates may not change providerID except from \"\" to valid",
            ]
        );
        let fresh = json!({"metadata": {"name": "n"}});
        let assigned = json!({"metadata": {"name": "n"},
                              "spec": {"podCIDRs": ["10.244.3.0/24"], "providerID": "kind://n"}});
        assert_eq!(update(assigned, fresh), Vec::<String>::new());
    }
}
