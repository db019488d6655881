//! A pod spec, in a pod or a pod template (core's `ValidatePodSpec`), in kube's order:
//! grace period, volumes, containers, init containers, host network ports, restart and DNS
//! policy, node selector, pod security context, pull secrets, DNS config, readiness and
//! scheduling gates, topology spread, names (service account, node, hostname, subdomain,
//! priority and runtime class), deadlines, tolerations, host aliases, preemption policy, OS.
//!
//! Not checked yet: affinity, resource claims, overhead, pod-level resources, sysctls,
//! Windows and AppArmor options.

use std::collections::BTreeSet;

use serde_json::Value;

use super::containers::{self, PodContext, one_of, seccomp_profile};
use super::fields::{
    Errs, MAX_INT32, Obj, duplicate, field, field_name_errors, inclusive_range, invalid,
    name_errors, not_supported, required,
};
use super::rules::{is_valid_id, validate_ip};
use super::volumes;
use crate::validation::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value,
    name_is_dns_subdomain, validate_labels,
};

const RESTART_POLICIES: [&str; 3] = ["Always", "OnFailure", "Never"];
const DNS_POLICIES: [&str; 4] = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const MAX_DNS_NAMESERVERS: usize = 3;
const MAX_DNS_SEARCH_PATHS: usize = 32;
const MAX_DNS_SEARCH_LIST_CHARS: usize = 2048;

/// `ValidatePodSpec`. `is_pod` is kube's `ResourceIsPod`: false for a template, where a host
/// network port may still be left for defaulting.
pub(crate) fn validate(spec: &Obj, is_pod: bool, errs: &mut Errs) {
    let grace = spec.opt_int("terminationGracePeriodSeconds", errs);
    if grace == Some(None) {
        errs.push(required(&spec.at_key("terminationGracePeriodSeconds"), ""));
    }
    let security = spec.obj("securityContext", errs);
    let host_users = security
        .as_ref()
        .and_then(|sc| sc.opt_bool("hostUsers", &mut Errs::new()).flatten())
        .unwrap_or(true);
    let volumes = volumes::validate(spec, errs);
    let ctx = PodContext {
        volumes: &volumes,
        grace_period: grace.flatten(),
        host_users,
    };
    containers::validate_containers(spec, &ctx, errs);
    containers::validate_init_containers(spec, &ctx, errs);
    host_network_ports(spec, is_pod, errs);
    one_of(spec, "restartPolicy", &RESTART_POLICIES, errs);
    one_of(spec, "dnsPolicy", &DNS_POLICIES, errs);
    labels_at(spec, "nodeSelector", errs);
    if let Some(sc) = security {
        pod_security_context(&sc, spec, errs);
    }
    image_pull_secrets(spec, errs);
    dns_config(spec, errs);
    gates(spec, errs);
    topology_spread(spec, errs);
    names_and_limits(spec, errs);
}

/// The remaining single-field checks, in kube's order.
fn names_and_limits(spec: &Obj, errs: &mut Errs) {
    subdomain_name(spec, "serviceAccountName", errs);
    subdomain_name(spec, "nodeName", errs);
    if let Some(Some(deadline)) = spec.opt_int("activeDeadlineSeconds", errs)
        && !(1..=MAX_INT32).contains(&deadline)
    {
        errs.push(invalid(
            &spec.at_key("activeDeadlineSeconds"),
            deadline,
            &inclusive_range(1, MAX_INT32),
        ));
    }
    for key in ["hostname", "subdomain"] {
        if let Some(value) = spec.str(key, errs)
            && !value.is_empty()
        {
            field_name_errors(spec, key, value, is_dns1123_label(value), errs);
        }
    }
    tolerations(spec, errs);
    host_aliases(spec, errs);
    subdomain_name(spec, "priorityClassName", errs);
    if let Some(Some(class)) = spec.opt_str("runtimeClassName", errs) {
        field_name_errors(
            spec,
            "runtimeClassName",
            class,
            name_is_dns_subdomain(class, false),
            errs,
        );
    }
    if let Some(Some(policy)) = spec.opt_str("preemptionPolicy", errs) {
        let allowed = ["PreemptLowerPriority", "Never"];
        if policy.is_empty() {
            errs.push(required(&spec.at_key("preemptionPolicy"), ""));
        } else if !allowed.contains(&policy) {
            errs.push(not_supported(
                &spec.at_key("preemptionPolicy"),
                policy,
                &allowed,
            ));
        }
    }
    pod_os(spec, errs);
}

/// A name field that, when set, must be a DNS subdomain.
fn subdomain_name(spec: &Obj, key: &str, errs: &mut Errs) {
    if let Some(value) = spec.str(key, errs)
        && !value.is_empty()
    {
        field_name_errors(spec, key, value, name_is_dns_subdomain(value, false), errs);
    }
}

/// `ValidateLabels` on a `map[string]string` field.
pub(crate) fn labels_at(obj: &Obj, key: &str, errs: &mut Errs) {
    if let Some(labels) = obj.string_map(key, errs) {
        for (field, kind, value, detail) in validate_labels(labels, obj.at_key(key).as_str()) {
            errs.push(crate::status::FieldError {
                field,
                kind,
                bad_value: value.unwrap_or(Value::Null),
                detail,
            });
        }
    }
}

/// `validatePodHostNetworkDeps`: with host networking a host port equals its container
/// port (a template may leave it 0 for defaulting).
fn host_network_ports(spec: &Obj, is_pod: bool, errs: &mut Errs) {
    if !spec.bool("hostNetwork", errs).unwrap_or_default() {
        return;
    }
    let path = spec.at_key("containers");
    for (ci, c) in spec.peek_list("containers").iter().enumerate() {
        let ports = field(c, "ports")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (pi, port) in ports.iter().enumerate() {
            let get = |k| field(port, k).and_then(Value::as_i64).unwrap_or_default();
            let (host, container) = (get("hostPort"), get("containerPort"));
            if (is_pod || host != 0) && host != container {
                let at = path.index(ci).child("ports").index(pi).child("hostPort");
                errs.push(invalid(
                    &at,
                    host,
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
}

/// `validatePodSpecSecurityContext`: IDs, process namespace sharing, fsGroup policy, seccomp.
fn pod_security_context(sc: &Obj, spec: &Obj, errs: &mut Errs) {
    for key in ["fsGroup", "runAsUser", "runAsGroup"] {
        if let Some(Some(id)) = sc.opt_int(key, errs) {
            for msg in is_valid_id(id) {
                errs.push(invalid(&sc.at_key(key), id, &msg));
            }
        }
    }
    let groups = sc.at_key("supplementalGroups");
    for (i, item) in sc
        .list("supplementalGroups", errs)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let Some(gid) = item.as_i64() else {
            errs.push(super::fields::type_invalid(
                &groups.index(i),
                item,
                "integer",
            ));
            continue;
        };
        for msg in is_valid_id(gid) {
            errs.push(invalid(&groups.index(i), gid, &msg));
        }
    }
    let share = sc.opt_bool("shareProcessNamespace", errs).flatten();
    if share == Some(true) && host_pid(spec) {
        errs.push(invalid(
            &sc.at_key("shareProcessNamespace"),
            true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    if let Some(Some(policy)) = sc.opt_str("fsGroupChangePolicy", errs)
        && !["Always", "OnRootMismatch"].contains(&policy)
    {
        errs.push(not_supported(
            &sc.at_key("fsGroupChangePolicy"),
            policy,
            &["Always", "OnRootMismatch"],
        ));
    }
    seccomp_profile(sc, errs);
}

/// `spec.hostPID` (v1 keeps it on the spec; kube's internal type moves it into the
/// security context, which is why its error is reported there).
fn host_pid(spec: &Obj) -> bool {
    spec.raw("hostPID")
        .and_then(Value::as_bool)
        .unwrap_or_default()
}

/// `validateImagePullSecrets`: only `name` may be set.
fn image_pull_secrets(spec: &Obj, errs: &mut Errs) {
    for secret in spec.objects("imagePullSecrets", errs) {
        let extra = secret.to_value();
        let only_name = extra
            .as_object()
            .is_none_or(|m| m.keys().all(|k| k == "name"));
        if !only_name {
            errs.push(invalid(secret.path(), extra, "only name may be set"));
        }
    }
}

/// `validatePodDNSConfig` (Kubernetes 1.33: search domains may use '_' and may be ".").
fn dns_config(spec: &Obj, errs: &mut Errs) {
    let Some(config) = spec.obj("dnsConfig", errs) else {
        return;
    };
    let nameservers = config.strings("nameservers", errs).unwrap_or_default();
    if spec.peek_str("dnsPolicy") == "None" {
        if !config.is_set() {
            errs.push(required(
                config.path(),
                "must provide `dnsConfig` when `dnsPolicy` is None",
            ));
            return;
        }
        if nameservers.is_empty() {
            errs.push(required(
                &config.at_key("nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            ));
            return;
        }
    }
    if !config.is_set() {
        return;
    }
    let ns_path = config.at_key("nameservers");
    if nameservers.len() > MAX_DNS_NAMESERVERS {
        let all: Vec<&str> = nameservers.iter().map(|(_, s)| *s).collect();
        errs.push(invalid(
            &ns_path,
            all,
            "must not have more than 3 nameservers",
        ));
    }
    for (i, ns) in &nameservers {
        validate_ip(&ns_path.index(*i), ns, errs);
    }
    dns_searches(&config, errs);
    for option in config.objects("options", errs) {
        if option.str("name", errs) == Some("") {
            errs.push(required(option.path(), "must not be empty"));
        }
    }
}

fn dns_searches(config: &Obj, errs: &mut Errs) {
    let path = config.at_key("searches");
    let searches = config.strings("searches", errs).unwrap_or_default();
    let all: Vec<&str> = searches.iter().map(|(_, s)| *s).collect();
    if searches.len() > MAX_DNS_SEARCH_PATHS {
        errs.push(invalid(
            &path,
            all.clone(),
            "must not have more than 32 search paths",
        ));
    }
    if all.join(" ").len() > MAX_DNS_SEARCH_LIST_CHARS {
        let detail =
            "must not have more than 2048 characters (including spaces) in the search list";
        errs.push(invalid(&path, all, detail));
    }
    for (i, search) in searches {
        if search == "." {
            continue;
        }
        let trimmed = search.strip_suffix('.').unwrap_or(search);
        name_errors(
            &path.index(i),
            trimmed,
            dns_subdomain_with_underscore(trimmed),
            errs,
        );
    }
}

/// `IsDNS1123SubdomainWithUnderscore`: labels may also hold '_' (and start with one).
fn dns_subdomain_with_underscore(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > crate::validation::DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(super::fields::max_len_error(
            crate::validation::DNS1123_SUBDOMAIN_MAX_LENGTH,
        ));
    }
    if !value.split('.').all(label_with_underscore) {
        errs.push(super::fields::regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' or '.', and must start and end with an alphanumeric character",
            r"_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*",
            &["example.com"],
        ));
    }
    errs
}

/// `^_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`
fn label_with_underscore(label: &str) -> bool {
    let bytes = label.strip_prefix('_').unwrap_or(label).as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            alnum(first) && alnum(last) && bytes.iter().all(|&c| alnum(c) || c == b'-' || c == b'_')
        }
        _ => false,
    }
}

/// `validateReadinessGates` and `validateSchedulingGates`.
fn gates(spec: &Obj, errs: &mut Errs) {
    for gate in spec.objects("readinessGates", errs) {
        let condition = gate.str("conditionType", errs).unwrap_or_default();
        field_name_errors(
            &gate,
            "conditionType",
            condition,
            is_qualified_name(condition),
            errs,
        );
    }
    let mut seen = BTreeSet::new();
    for gate in spec.objects("schedulingGates", errs) {
        let name = gate.str("name", errs).unwrap_or_default();
        name_errors(gate.path(), name, is_qualified_name(name), errs);
        if !seen.insert(name) {
            errs.push(duplicate(gate.path(), name));
        }
    }
}

/// `validateTopologySpreadConstraints`: skew, key, action, no repeated (key, action) pair,
/// minDomains. Node policies and matchLabelKeys are not checked yet.
fn topology_spread(spec: &Obj, errs: &mut Errs) {
    let constraints = spec.objects("topologySpreadConstraints", errs);
    let pairs: Vec<(&str, &str)> = constraints
        .iter()
        .map(|c| (c.peek_str("topologyKey"), c.peek_str("whenUnsatisfiable")))
        .collect();
    for (i, c) in constraints.iter().enumerate() {
        if let Some(skew) = c.int("maxSkew", errs)
            && skew <= 0
        {
            errs.push(invalid(
                &c.at_key("maxSkew"),
                skew,
                "must be greater than zero",
            ));
        }
        if c.str("topologyKey", errs) == Some("") {
            errs.push(required(&c.at_key("topologyKey"), "can not be empty"));
        }
        let action = c.str("whenUnsatisfiable", errs).unwrap_or_default();
        if !["DoNotSchedule", "ScheduleAnyway"].contains(&action) {
            errs.push(not_supported(
                &c.at_key("whenUnsatisfiable"),
                action,
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        if pairs[i + 1..].contains(&pairs[i]) {
            let path = c.path().child("{topologyKey, whenUnsatisfiable}");
            errs.push(duplicate(
                &path,
                format!("{{{}, {}}}", pairs[i].0, pairs[i].1),
            ));
        }
        min_domains(c, action, errs);
    }
}

fn min_domains(c: &Obj, action: &str, errs: &mut Errs) {
    let Some(Some(min)) = c.opt_int("minDomains", errs) else {
        return;
    };
    let path = c.at_key("minDomains");
    if min <= 0 {
        errs.push(invalid(&path, min, "must be greater than zero"));
    }
    if action != "DoNotSchedule" {
        let detail =
            format!("can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}");
        errs.push(invalid(&path, min, &detail));
    }
}

/// `ValidateTolerations`.
pub(crate) fn tolerations(spec: &Obj, errs: &mut Errs) {
    for t in spec.objects("tolerations", errs) {
        let key = t.str("key", errs).unwrap_or_default();
        let operator = t.str("operator", errs).unwrap_or_default();
        let value = t.str("value", errs).unwrap_or_default();
        let effect = t.str("effect", errs).unwrap_or_default();
        let op_path = || t.at_key("operator");
        if !key.is_empty() {
            field_name_errors(&t, "key", key, is_qualified_name(key), errs);
        }
        if key.is_empty() && operator != "Exists" {
            errs.push(invalid(
                &op_path(),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.has("tolerationSeconds") && effect != "NoExecute" {
            errs.push(invalid(
                &t.at_key("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let problems = is_valid_label_value(value);
                if !problems.is_empty() {
                    errs.push(invalid(&op_path(), value, &problems.join(";")));
                }
            }
            "Exists" if !value.is_empty() => {
                errs.push(invalid(
                    &op_path(),
                    value,
                    "value must be empty when `operator` is 'Exists'",
                ));
            }
            "Exists" => {}
            other => errs.push(not_supported(&op_path(), other, &["Equal", "Exists"])),
        }
        let effects = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
        if !effect.is_empty() && !effects.contains(&effect) {
            errs.push(not_supported(&t.at_key("effect"), effect, &effects));
        }
    }
}

/// `ValidateHostAliases`.
fn host_aliases(spec: &Obj, errs: &mut Errs) {
    for alias in spec.objects("hostAliases", errs) {
        let ip = alias.str("ip", errs).unwrap_or_default();
        validate_ip(&alias.at_key("ip"), ip, errs);
        let path = alias.at_key("hostnames");
        for (i, host) in alias.strings("hostnames", errs).unwrap_or_default() {
            name_errors(&path.index(i), host, is_dns1123_subdomain(host), errs);
        }
    }
}

/// `validateOS`.
fn pod_os(spec: &Obj, errs: &mut Errs) {
    let Some(os) = spec.set_obj("os", errs) else {
        return;
    };
    match os.str("name", errs) {
        Some("") => errs.push(required(&os.at_key("name"), "cannot be empty")),
        Some(name) if !["linux", "windows"].contains(&name) => {
            errs.push(not_supported(os.path(), name, &["linux", "windows"]));
        }
        _ => {}
    }
}
