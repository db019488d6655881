//! Services (core's `ValidateService` and `ValidateServiceUpdate`), in kube's order: ports
//! required unless headless or ExternalName, type-specific rules, each port, selector,
//! session affinity, cluster IPs and IP families, external IPs, type, node ports,
//! duplicate ports, load balancer fields, traffic policies.
//!
//! Cluster IPs, node ports and health check node ports are allocated by the registry before
//! validation (kube's `BeginCreate`), so a LoadBalancer service with
//! `externalTrafficPolicy: Local` must have its health check port by the time it gets here.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::Value;

use super::fields::{
    Errs, Obj, Path, duplicate, forbidden, invalid, name_errors, not_supported, required,
};
use super::meta::{self, MetaRules};
use super::pod_spec::labels_at;
use super::rules::{
    IP_ERR_MSG, non_special_ip, parse_ip, port_num_or_name, validate_cidr, validate_ip,
};
use crate::validation::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_port_num,
    name_is_dns1035_label,
};

pub(crate) const RULES: MetaRules = MetaRules {
    namespaced: true,
    name_fn: name_is_dns1035_label,
    kube_finalizers: true,
};

const TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const AFFINITIES: [&str; 2] = ["ClientIP", "None"];
const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];
const TRAFFIC_POLICIES: [&str; 2] = ["Cluster", "Local"];
const IP_FAMILIES: [&str; 2] = ["IPv4", "IPv6"];
const IP_FAMILY_POLICIES: [&str; 3] = ["PreferDualStack", "RequireDualStack", "SingleStack"];
const TOPOLOGY_MODE: &str = "service.kubernetes.io/topology-mode";
const TOPOLOGY_HINTS: &str = "service.kubernetes.io/topology-aware-hints";
const SOURCE_RANGES_ANNOTATION: &str = "service.beta.kubernetes.io/load-balancer-source-ranges";
/// `MaxClientIPServiceAffinitySeconds` (one day).
const MAX_AFFINITY_SECONDS: i64 = 86400;

/// The fields of a service spec every rule reads, read (and type-checked) once.
struct Spec<'a> {
    obj: Obj<'a>,
    kind: &'a str,
    cluster_ip: &'a str,
    cluster_ips: Vec<&'a str>,
    families: Vec<(usize, &'a str)>,
    ports: Vec<Obj<'a>>,
}

impl<'a> Spec<'a> {
    fn read(obj: Obj<'a>, errs: &mut Errs) -> Spec<'a> {
        let kind = obj.str("type", errs).unwrap_or_default();
        let cluster_ip = obj.str("clusterIP", errs).unwrap_or_default();
        let cluster_ips = obj
            .strings("clusterIPs", errs)
            .unwrap_or_default()
            .into_iter()
            .map(|(_, ip)| ip)
            .collect();
        let families = obj.strings("ipFamilies", errs).unwrap_or_default();
        let ports = obj.objects("ports", errs);
        Spec {
            obj,
            kind,
            cluster_ip,
            cluster_ips,
            families,
            ports,
        }
    }

    fn path(&self, key: &str) -> Path {
        self.obj.at_key(key)
    }

    /// `isHeadlessService`: `clusterIPs` is exactly `["None"]`.
    fn headless(&self) -> bool {
        self.cluster_ips == ["None"]
    }

    /// `ExternallyAccessible`: reachable from outside the cluster.
    fn externally_accessible(&self) -> bool {
        matches!(self.kind, "LoadBalancer" | "NodePort")
            || (self.kind == "ClusterIP" && !self.obj.peek_list("externalIPs").is_empty())
    }
}

/// `ValidateService`.
pub(crate) fn validate_create(service: &Obj, errs: &mut Errs) {
    meta::validate_create(service, &RULES, errs);
    topology_annotations(service, errs);
    let Some(spec_obj) = service.obj("spec", errs) else {
        return;
    };
    let spec = Spec::read(spec_obj, errs);
    if spec.ports.is_empty() && !spec.headless() && spec.kind != "ExternalName" {
        errs.push(required(&spec.path("ports"), ""));
    }
    type_specific(&spec, errs);
    let mut names = BTreeSet::new();
    let many = spec.ports.len() > 1;
    for port in &spec.ports {
        service_port(port, many, &mut names, errs);
    }
    labels_at(&spec.obj, "selector", errs);
    session_affinity(&spec, errs);
    cluster_ips_and_families(&spec, errs);
    external_ips(&spec, errs);
    service_type(&spec, errs);
    node_and_service_ports(&spec, errs);
    load_balancer_fields(service, &spec, errs);
    traffic_policies(&spec, errs);
}

/// `ValidateServiceUpdate`: metadata, cluster IPs and families that may only be added or
/// released, the load balancer class, the health check port, then the new service. The
/// cluster IPs are first normalized against the old service as kube's update strategy does.
pub(crate) fn validate_update(service: &Obj, old: &Obj, errs: &mut Errs) {
    meta::validate_update(service, old, true, errs);
    let normalized = normalize_cluster_ips(&service.to_value(), &old.to_value());
    let mut quiet = Errs::new();
    let Some(service) = Obj::root(&normalized, &mut quiet) else {
        return;
    };
    let (Some(new_spec), Some(old_spec)) =
        (service.obj("spec", &mut quiet), old.obj("spec", &mut quiet))
    else {
        validate_create(&service, errs);
        return;
    };
    let (new_spec, old_spec) = (
        Spec::read(new_spec, &mut quiet),
        Spec::read(old_spec, &mut quiet),
    );
    cluster_ips_upgrade(&new_spec, &old_spec, errs);
    families_upgrade(&new_spec, &old_spec, errs);
    load_balancer_class_unchanged(&new_spec, &old_spec, errs);
    health_check_port_unchanged(&new_spec, &old_spec, errs);
    validate_create(&service, errs);
}

fn topology_annotations(service: &Obj, errs: &mut Errs) {
    let annotations = service.raw("metadata").and_then(|m| m.get("annotations"));
    let get = |k| annotations.and_then(|a| a.get(k)).and_then(Value::as_str);
    if let (Some(mode), Some(hints)) = (get(TOPOLOGY_MODE), get(TOPOLOGY_HINTS))
        && mode != hints
    {
        let path = Path::new("metadata")
            .child("annotations")
            .key(TOPOLOGY_MODE);
        let detail = format!("must match annotations[{TOPOLOGY_HINTS}] when both are specified");
        errs.push(invalid(&path, mode, &detail));
    }
}

fn type_specific(spec: &Spec, errs: &mut Errs) {
    let first_ip = || spec.path("clusterIPs").index(0);
    match spec.kind {
        "LoadBalancer" | "NodePort" if spec.headless() => {
            let detail = format!("may not be set to 'None' for {} services", spec.kind);
            errs.push(invalid(&first_ip(), "None", &detail));
        }
        "ExternalName" => external_name(spec, errs),
        _ => {}
    }
}

fn external_name(spec: &Spec, errs: &mut Errs) {
    let not_for_external_name = "may not be set for ExternalName services";
    if !spec.cluster_ips.is_empty() {
        errs.push(forbidden(&spec.path("clusterIPs"), not_for_external_name));
    }
    if !spec.families.is_empty() {
        errs.push(forbidden(&spec.path("ipFamilies"), not_for_external_name));
    }
    if spec.obj.has("ipFamilyPolicy") {
        errs.push(forbidden(
            &spec.path("ipFamilyPolicy"),
            not_for_external_name,
        ));
    }
    let name = spec.obj.peek_str("externalName");
    let cname = name.strip_suffix('.').unwrap_or(name);
    if cname.is_empty() {
        errs.push(required(&spec.path("externalName"), ""));
    } else {
        name_errors(
            &spec.path("externalName"),
            cname,
            is_dns1123_subdomain(cname),
            errs,
        );
    }
}

/// `validateServicePort`.
fn service_port<'a>(
    port: &Obj<'a>,
    require_name: bool,
    names: &mut BTreeSet<&'a str>,
    errs: &mut Errs,
) {
    let name = port.str("name", errs).unwrap_or_default();
    let name_path = port.at_key("name");
    if require_name && name.is_empty() {
        errs.push(required(&name_path, ""));
    } else if !name.is_empty() {
        name_errors(&name_path, name, is_dns1123_label(name), errs);
        if !names.insert(name) {
            errs.push(duplicate(&name_path, name));
        }
    }
    let number = port.int("port", errs).unwrap_or_default();
    for msg in is_valid_port_num(number) {
        errs.push(invalid(&port.at_key("port"), number, &msg));
    }
    match port.str("protocol", errs) {
        Some("") => errs.push(required(&port.at_key("protocol"), "")),
        Some(p) if !PROTOCOLS.contains(&p) => {
            errs.push(not_supported(&port.at_key("protocol"), p, &PROTOCOLS))
        }
        _ => {}
    }
    let target = port.int_or_str("targetPort", errs).flatten();
    port_num_or_name(&port.at_key("targetPort"), target, errs);
    if let Some(Some(app_protocol)) = port.opt_str("appProtocol", errs) {
        name_errors(
            &port.at_key("appProtocol"),
            app_protocol,
            is_qualified_name(app_protocol),
            errs,
        );
    }
}

fn session_affinity(spec: &Spec, errs: &mut Errs) {
    let affinity = spec.obj.str("sessionAffinity", errs).unwrap_or_default();
    let path = spec.path("sessionAffinity");
    if affinity.is_empty() {
        errs.push(required(&path, ""));
    } else if !AFFINITIES.contains(&affinity) {
        errs.push(not_supported(&path, affinity, &AFFINITIES));
    }
    let config_path = spec.path("sessionAffinityConfig");
    match affinity {
        "ClientIP" => client_ip_config(spec, &config_path, errs),
        "None" if spec.obj.has("sessionAffinityConfig") => {
            errs.push(forbidden(
                &config_path,
                "must not be set when session affinity is None",
            ));
        }
        _ => {}
    }
}

/// `validateClientIPAffinityConfig`.
fn client_ip_config(spec: &Spec, path: &Path, errs: &mut Errs) {
    let detail = "when session affinity type is ClientIP";
    let config = spec.obj.raw("sessionAffinityConfig");
    let Some(config) = config else {
        errs.push(required(path, detail));
        return;
    };
    let Some(client_ip) = config.get("clientIP").filter(|v| !v.is_null()) else {
        errs.push(required(&path.child("clientIP"), detail));
        return;
    };
    let timeout_path = path.child("clientIP").child("timeoutSeconds");
    match client_ip.get("timeoutSeconds").and_then(Value::as_i64) {
        None => errs.push(required(&timeout_path, detail)),
        Some(t) if t <= 0 || t > MAX_AFFINITY_SECONDS => {
            let detail = format!("must be greater than 0 and less than {MAX_AFFINITY_SECONDS}");
            errs.push(invalid(&timeout_path, t, &detail));
        }
        Some(_) => {}
    }
}

/// `ValidateServiceClusterIPsRelatedFields`.
fn cluster_ips_and_families(spec: &Spec, errs: &mut Errs) {
    if spec.kind == "ExternalName" {
        return;
    }
    let ips_path = spec.path("clusterIPs");
    let ips_value = || Value::from(spec.cluster_ips.clone());
    if !spec.cluster_ip.is_empty() {
        match spec.cluster_ips.first() {
            None => errs.push(required(&ips_path, "")),
            Some(first) if *first != spec.cluster_ip => {
                errs.push(invalid(
                    &ips_path,
                    ips_value(),
                    "first value must match `clusterIP`",
                ));
            }
            Some(_) => {}
        }
    } else if !spec.cluster_ips.is_empty() {
        errs.push(invalid(
            &ips_path,
            ips_value(),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    families_alone(spec, errs);
    if let Some(Some(policy)) = spec.obj.opt_str("ipFamilyPolicy", errs)
        && !IP_FAMILY_POLICIES.contains(&policy)
    {
        errs.push(not_supported(
            &spec.path("ipFamilyPolicy"),
            policy,
            &IP_FAMILY_POLICIES,
        ));
    }
    if cluster_ips_alone(spec, errs) {
        dual_stack_and_families(spec, errs);
    }
}

fn families_alone(spec: &Spec, errs: &mut Errs) {
    let path = spec.path("ipFamilies");
    let mut seen = BTreeSet::new();
    for (i, family) in &spec.families {
        if !IP_FAMILIES.contains(family) {
            errs.push(not_supported(&path.index(*i), *family, &IP_FAMILIES));
        }
        if !seen.insert(*family) {
            errs.push(duplicate(&path.index(*i), *family));
        }
    }
}

/// Each cluster IP valid, `None` only alone, at most two. False when an IP was invalid
/// (kube then stops, as later messages would only mislead).
fn cluster_ips_alone(spec: &Spec, errs: &mut Errs) -> bool {
    let path = spec.path("clusterIPs");
    let mut valid = true;
    for (i, ip) in spec.cluster_ips.iter().enumerate() {
        if i == 0 && *ip == "None" {
            if spec.cluster_ips.len() > 1 {
                valid = false;
                let detail = "'None' must be the first and only value";
                errs.push(invalid(&path, spec.cluster_ips.clone(), detail));
            }
            continue;
        }
        if parse_ip(ip).is_none() {
            valid = false;
            errs.push(invalid(&path.index(i), *ip, IP_ERR_MSG));
        }
    }
    if spec.cluster_ips.len() > 2 {
        errs.push(invalid(
            &path,
            spec.cluster_ips.clone(),
            "may only hold up to 2 values",
        ));
    }
    valid
}

fn dual_stack_and_families(spec: &Spec, errs: &mut Errs) {
    let path = spec.path("clusterIPs");
    let ips: Vec<Option<IpAddr>> = spec.cluster_ips.iter().map(|ip| parse_ip(ip)).collect();
    if ips.len() > 1 {
        let v6 = ips
            .iter()
            .filter(|ip| matches!(ip, Some(IpAddr::V6(_))))
            .count();
        if ips.len() != 2 || v6 != 1 {
            let detail = "may specify no more than one IP for each IP family";
            errs.push(invalid(&path, spec.cluster_ips.clone(), detail));
        }
    }
    if spec.headless() {
        return;
    }
    for (i, ip) in ips.iter().enumerate() {
        let Some((_, family)) = spec.families.iter().find(|(fi, _)| *fi == i) else {
            break;
        };
        let is_v6 = matches!(ip, Some(IpAddr::V6(_)));
        let wanted = match (*family, is_v6) {
            ("IPv4", true) => "IPv4",
            ("IPv6", false) => "IPv6",
            _ => continue,
        };
        let detail = format!("expected an {wanted} value as indicated by `ipFamilies[{i}]`");
        errs.push(invalid(&path.index(i), spec.cluster_ips[i], &detail));
    }
}

fn external_ips(spec: &Spec, errs: &mut Errs) {
    let path = spec.path("externalIPs");
    for (i, ip) in spec.obj.strings("externalIPs", errs).unwrap_or_default() {
        let mut own = Errs::new();
        validate_ip(&path.index(i), ip, &mut own);
        if own.is_empty() {
            non_special_ip(&path.index(i), ip, errs);
        } else {
            errs.append(&mut own);
        }
    }
}

fn service_type(spec: &Spec, errs: &mut Errs) {
    let path = spec.path("type");
    if spec.kind.is_empty() {
        errs.push(required(&path, ""));
    } else if !TYPES.contains(&spec.kind) {
        errs.push(not_supported(&path, spec.kind, &TYPES));
    }
}

/// Node ports only for NodePort and LoadBalancer services; no (protocol, node port) or
/// (protocol, port) pair twice.
fn node_and_service_ports(spec: &Spec, errs: &mut Errs) {
    let read = |p: &Obj, k| p.raw(k).and_then(Value::as_i64).unwrap_or_default();
    let protocol = |p: &Obj| p.peek_str("protocol").to_string();
    if spec.kind == "ClusterIP" {
        for port in spec.ports.iter().filter(|p| read(p, "nodePort") != 0) {
            errs.push(forbidden(
                &port.at_key("nodePort"),
                "may not be used when `type` is 'ClusterIP'",
            ));
        }
    }
    let mut node_ports = BTreeSet::new();
    for port in spec.ports.iter().filter(|p| read(p, "nodePort") != 0) {
        let node_port = read(port, "nodePort");
        if !node_ports.insert((protocol(port), node_port)) {
            errs.push(duplicate(&port.at_key("nodePort"), node_port));
        }
    }
    let mut pairs = BTreeSet::new();
    for port in &spec.ports {
        let (proto, number) = (protocol(port), read(port, "port"));
        if !pairs.insert((proto.clone(), number)) {
            let key = serde_json::json!({"port": number, "protocol": proto});
            errs.push(duplicate(port.path(), key));
        }
    }
}

/// Source ranges (field or annotation), `allocateLoadBalancerNodePorts`, and the class:
/// LoadBalancer services only. kube reports two of these at odd paths
/// (`spec.LoadBalancerSourceRanges`, a top-level `allocateLoadBalancerNodePorts`).
fn load_balancer_fields(service: &Obj, spec: &Spec, errs: &mut Errs) {
    let lb = spec.kind == "LoadBalancer";
    let only_lb = "may only be used when `type` is 'LoadBalancer'";
    let ranges = spec
        .obj
        .strings("loadBalancerSourceRanges", errs)
        .unwrap_or_default();
    let annotation = service
        .raw("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(SOURCE_RANGES_ANNOTATION))
        .and_then(Value::as_str);
    if !ranges.is_empty() {
        let path = spec.obj.path().child("LoadBalancerSourceRanges");
        if !lb {
            errs.push(forbidden(&path, only_lb));
        }
        for (i, range) in ranges {
            validate_cidr(&path.index(i), range.trim(), errs);
        }
    } else if let Some(value) = annotation {
        let path = Path::new("metadata")
            .child("annotations")
            .key(SOURCE_RANGES_ANNOTATION);
        if !lb {
            errs.push(forbidden(&path, only_lb));
        }
        let value = value.trim();
        for range in value.split(',').filter(|_| !value.is_empty()) {
            validate_cidr(&path, range.trim(), errs);
        }
    }
    let allocate = spec.obj.opt_bool("allocateLoadBalancerNodePorts", errs);
    match (lb, allocate) {
        (false, Some(Some(_))) => errs.push(forbidden(
            &spec.path("allocateLoadBalancerNodePorts"),
            only_lb,
        )),
        (true, Some(None)) => errs.push(required(&Path::new("allocateLoadBalancerNodePorts"), "")),
        _ => {}
    }
    load_balancer_class(spec, errs);
}

fn load_balancer_class(spec: &Spec, errs: &mut Errs) {
    let Some(Some(class)) = spec.obj.opt_str("loadBalancerClass", errs) else {
        return;
    };
    let path = spec.path("loadBalancerClass");
    if spec.kind == "LoadBalancer" {
        name_errors(&path, class, is_qualified_name(class), errs);
    } else {
        errs.push(forbidden(
            &path,
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
}

/// External and internal traffic policies, the health check port, traffic distribution.
fn traffic_policies(spec: &Spec, errs: &mut Errs) {
    let external = spec
        .obj
        .str("externalTrafficPolicy", errs)
        .unwrap_or_default();
    let external_path = spec.path("externalTrafficPolicy");
    if !spec.externally_accessible() {
        if !external.is_empty() {
            let detail = "may only be set for externally-accessible services";
            errs.push(invalid(&external_path, external, detail));
        }
    } else if external.is_empty() {
        errs.push(required(&external_path, ""));
    } else if !TRAFFIC_POLICIES.contains(&external) {
        errs.push(not_supported(&external_path, external, &TRAFFIC_POLICIES));
    }
    health_check_node_port(spec, external, errs);
    let internal = spec.obj.opt_str("internalTrafficPolicy", errs);
    let internal_path = spec.path("internalTrafficPolicy");
    match internal {
        Some(None) if matches!(spec.kind, "NodePort" | "LoadBalancer" | "ClusterIP") => {
            errs.push(required(&internal_path, ""));
        }
        Some(Some(p)) if !TRAFFIC_POLICIES.contains(&p) => {
            errs.push(not_supported(&internal_path, p, &TRAFFIC_POLICIES));
        }
        _ => {}
    }
    if let Some(Some(distribution)) = spec.obj.opt_str("trafficDistribution", errs)
        && distribution != "PreferClose"
    {
        errs.push(not_supported(
            &spec.path("trafficDistribution"),
            distribution,
            &["PreferClose"],
        ));
    }
}

fn health_check_node_port(spec: &Spec, external: &str, errs: &mut Errs) {
    let port = spec
        .obj
        .int("healthCheckNodePort", errs)
        .unwrap_or_default();
    let path = spec.path("healthCheckNodePort");
    let needs = spec.kind == "LoadBalancer" && external == "Local";
    if !needs {
        if port != 0 {
            let detail = "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'";
            errs.push(invalid(&path, port, detail));
        }
    } else if port == 0 {
        errs.push(required(&path, ""));
    } else {
        for msg in is_valid_port_num(port) {
            errs.push(invalid(&path, port, &msg));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Update

/// kube's `NormalizeClusterIPs` for an update: a client that sent only `clusterIP` keeps
/// the old `clusterIPs`; a changed `clusterIP` with unchanged `clusterIPs` replaces them.
fn normalize_cluster_ips(new: &Value, old: &Value) -> Value {
    let mut new = new.clone();
    let get_ip = |v: &Value| {
        v.pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let get_ips = |v: &Value| {
        v.pointer("/spec/clusterIPs")
            .cloned()
            .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
    };
    let (old_ip, new_ip) = (get_ip(old), get_ip(&new));
    let (old_ips, mut new_ips) = (get_ips(old), get_ips(&new));
    if old_ips.is_some() && new_ips.is_none() && old_ip == new_ip {
        new_ips.clone_from(&old_ips);
    }
    if old_ip != new_ip {
        if !old_ip.is_empty() && new_ip.is_empty() {
            if new_ips == old_ips {
                new_ips = None;
            }
        } else if new_ips == old_ips {
            new_ips = Some(Value::from(vec![new_ip]));
        }
    }
    if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
        match new_ips {
            Some(ips) => spec.insert("clusterIPs".to_string(), ips),
            None => spec.remove("clusterIPs"),
        };
    }
    new
}

fn ip_family_policy<'a>(spec: &Spec<'a>) -> Option<&'a str> {
    spec.obj.raw("ipFamilyPolicy").and_then(Value::as_str)
}

/// `validateUpgradeDowngradeClusterIPs`: the primary cluster IP never changes; releasing
/// the secondary one requires SingleStack.
fn cluster_ips_upgrade(new: &Spec, old: &Spec, errs: &mut Errs) {
    if new.kind == "ExternalName"
        || old.kind == "ExternalName"
        || (new.headless() && old.headless())
    {
        return;
    }
    let path = Path::new("spec").child("clusterIPs");
    let value = || Value::from(new.cluster_ips.clone());
    let (n, o) = (&new.cluster_ips, &old.cluster_ips);
    let change = "may not change once set";
    if n.len() == o.len() {
        for i in (0..o.len()).filter(|&i| o[i] != n[i]) {
            errs.push(invalid(&path.index(i), value(), change));
        }
    } else if o.len() > n.len() {
        if n.is_empty() {
            errs.push(invalid(
                &path.index(0),
                value(),
                "primary clusterIP can not be unset",
            ));
        }
        if !o.is_empty() && !n.is_empty() && n[0] != o[0] {
            errs.push(invalid(&path.index(0), value(), change));
        }
        if n.len() == 1 && ip_family_policy(new) != Some("SingleStack") {
            let detail = "must be set to 'SingleStack' when releasing the secondary clusterIP";
            errs.push(invalid(
                &Path::new("spec").child("ipFamilyPolicy"),
                ip_family_policy(new),
                detail,
            ));
        }
    } else if !o.is_empty() && n[0] != o[0] {
        errs.push(invalid(&path.index(0), value(), change));
    }
}

/// `validateUpgradeDowngradeIPFamilies`.
fn families_upgrade(new: &Spec, old: &Spec, errs: &mut Errs) {
    if new.kind == "ExternalName" || old.kind == "ExternalName" || new.headless() || old.headless()
    {
        return;
    }
    let path = Path::new("spec").child("ipFamilies").index(0);
    let (n, o) = (family_names(new), family_names(old));
    let change = "may not change once set";
    if n.len() == o.len() {
        for _ in (0..o.len()).filter(|&i| o[i] != n[i]) {
            errs.push(invalid(&path, n.clone(), change));
        }
    } else if o.len() > n.len() {
        if new.cluster_ips.is_empty() {
            errs.push(invalid(
                &path,
                n.clone(),
                "primary ipFamily can not be unset",
            ));
        }
        if !n.is_empty() && n[0] != o[0] {
            errs.push(invalid(&path, new.cluster_ips.clone(), change));
        }
        if n.len() == 1 && ip_family_policy(new) != Some("SingleStack") {
            let detail = "must be set to 'SingleStack' when releasing the secondary ipFamily";
            errs.push(invalid(
                &Path::new("spec").child("ipFamilyPolicy"),
                ip_family_policy(new),
                detail,
            ));
        }
    } else if !o.is_empty() && !n.is_empty() && n[0] != o[0] {
        errs.push(invalid(&path, new.cluster_ips.clone(), change));
    }
}

fn family_names<'a>(spec: &Spec<'a>) -> Vec<&'a str> {
    spec.families.iter().map(|(_, f)| *f).collect()
}

fn load_balancer_class_unchanged(new: &Spec, old: &Spec, errs: &mut Errs) {
    let class = |s: &Spec| s.obj.raw("loadBalancerClass").cloned();
    if new.kind == "LoadBalancer" && old.kind == "LoadBalancer" && class(new) != class(old) {
        let path = Path::new("spec").child("loadBalancerClass");
        errs.push(invalid(
            &path,
            class(new).unwrap_or(Value::Null),
            "may not change once set",
        ));
    }
}

fn health_check_port_unchanged(new: &Spec, old: &Spec, errs: &mut Errs) {
    let needs =
        |s: &Spec| s.kind == "LoadBalancer" && s.obj.peek_str("externalTrafficPolicy") == "Local";
    let port = |s: &Spec| s.obj.raw("healthCheckNodePort").and_then(Value::as_i64);
    if needs(new) && needs(old) && port(new) != port(old) {
        errs.push(forbidden(
            &Path::new("spec").child("healthCheckNodePort"),
            "field is immutable",
        ));
    }
}
