//! The containers of a pod spec: core's `validateContainers`, `validateInitContainers` and
//! `validateContainerCommon` with what they call (ports, env, envFrom, volume mounts and
//! devices, pull policy, resources, security context, probes, lifecycle hooks, host port
//! conflicts), in kube's order and with its field paths, quirks included (kube checks
//! `subPath` at `volumeMounts.subPath`, and an init container's host ports at
//! `initContainers[0]` whatever its index).

use std::collections::BTreeSet;

use serde_json::Value;

use super::fields::{
    Errs, Obj, Path, duplicate, field, field_name_errors, field_non_negative, forbidden, invalid,
    name_errors, not_found, not_supported, required,
};
use super::resources;
use super::rules::{
    is_config_map_key, is_http_header_name, is_relaxed_env_var_name, is_valid_id, port_num_or_name,
};
use super::volumes::{Volumes, local_descending};
use crate::validation::{
    is_dns1123_label, is_qualified_name, is_valid_port_name, is_valid_port_num,
    name_is_dns_subdomain,
};

/// What the containers of one pod spec are checked against.
pub(crate) struct PodContext<'a> {
    pub(crate) volumes: &'a Volumes,
    /// `terminationGracePeriodSeconds`, which bounds `sleep` hooks.
    pub(crate) grace_period: Option<i64>,
    /// `securityContext.hostUsers` (true unless set to false).
    pub(crate) host_users: bool,
}

const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];
const PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];
const TERMINATION_MESSAGE_POLICIES: [&str; 2] = ["File", "FallbackToLogsOnError"];
const MOUNT_PROPAGATIONS: [&str; 3] = ["Bidirectional", "HostToContainer", "None"];
/// What `env[].valueFrom.fieldRef.fieldPath` may name (sorted, as kube lists them).
const ENV_FIELD_PATHS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
/// What `resourceFieldRef.resource` may name, besides the hugepages prefixes.
const RESOURCE_FIELD_PATHS: [&str; 6] = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];
/// The labels `ConvertDownwardAPIFieldLabel` knows for v1 pods.
const DOWNWARD_API_LABELS: [&str; 14] = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// `validateContainers`: at least one, each valid, unique names, hooks and probes, no
/// `restartPolicy`, then host ports across all of them.
pub(crate) fn validate_containers(spec: &Obj, ctx: &PodContext, errs: &mut Errs) {
    let path = spec.at_key("containers");
    let Some(list) = spec.list("containers", errs) else {
        return;
    };
    if list.is_empty() {
        errs.push(required(&path, ""));
        return;
    }
    let containers = super::fields::objects_of(list, &path, errs);
    let mut names = BTreeSet::new();
    for c in &containers {
        common(c, ctx, errs);
        let name = c.peek_str("name");
        if !names.insert(name) {
            errs.push(duplicate(&c.at_key("name"), name));
        }
        hooks_and_probes(c, ctx, errs);
        if c.has("restartPolicy") {
            errs.push(forbidden(
                &c.at_key("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    host_port_conflicts(&containers, None, errs);
}

/// `validateInitContainers`: names unique across regular and init containers; hooks and
/// probes only for restartable (sidecar) init containers.
pub(crate) fn validate_init_containers(spec: &Obj, ctx: &PodContext, errs: &mut Errs) {
    let path = spec.at_key("initContainers");
    let mut names: BTreeSet<&str> = spec
        .peek_list("containers")
        .iter()
        .filter_map(|c| field(c, "name").and_then(Value::as_str))
        .collect();
    for c in spec.objects("initContainers", errs) {
        common(&c, ctx, errs);
        let restart_policy = c.opt_str("restartPolicy", errs).flatten();
        if let Some(policy) = restart_policy
            && policy != "Always"
        {
            errs.push(not_supported(
                &c.at_key("restartPolicy"),
                policy,
                &["Always"],
            ));
        }
        let name = c.peek_str("name");
        if names.contains(name) {
            errs.push(duplicate(&c.at_key("name"), name));
        } else if !name.is_empty() {
            names.insert(name);
        }
        host_port_conflicts(std::slice::from_ref(&c), Some(&path), errs);
        if restart_policy == Some("Always") {
            hooks_and_probes(&c, ctx, errs);
        } else {
            forbid_hooks_and_probes(&c, errs);
        }
    }
}

/// `validateContainerCommon`.
fn common(c: &Obj, ctx: &PodContext, errs: &mut Errs) {
    match c.str("name", errs) {
        Some("") => errs.push(required(&c.at_key("name"), "")),
        Some(name) => field_name_errors(c, "name", name, is_dns1123_label(name), errs),
        None => {}
    }
    if c.str("image", errs) == Some("") {
        errs.push(required(&c.at_key("image"), ""));
    }
    one_of(
        c,
        "terminationMessagePolicy",
        &TERMINATION_MESSAGE_POLICIES,
        errs,
    );
    ports(c, errs);
    env(c, errs);
    env_from(c, errs);
    volume_mounts(c, ctx.volumes, errs);
    volume_devices(c, ctx.volumes, errs);
    one_of(c, "imagePullPolicy", &PULL_POLICIES, errs);
    if let Some(res) = c.obj("resources", errs) {
        resources::validate_container_resources(&res, errs);
    }
    security_context(c, ctx.host_users, errs);
}

/// A string field with a fixed set of values: Required when empty, else NotSupported.
pub(crate) fn one_of(obj: &Obj, key: &str, values: &[&str], errs: &mut Errs) {
    match obj.str(key, errs) {
        Some("") => errs.push(required(&obj.at_key(key), "")),
        Some(v) if !values.contains(&v) => errs.push(not_supported(&obj.at_key(key), v, values)),
        _ => {}
    }
}

/// `validateContainerPorts`.
fn ports(c: &Obj, errs: &mut Errs) {
    let mut names = BTreeSet::new();
    for port in c.objects("ports", errs) {
        let name = port.str("name", errs).unwrap_or_default();
        if !name.is_empty() {
            let problems = is_valid_port_name(name);
            if !problems.is_empty() {
                field_name_errors(&port, "name", name, problems, errs);
            } else if !names.insert(name) {
                errs.push(duplicate(&port.at_key("name"), name));
            }
        }
        match port.int("containerPort", errs) {
            Some(0) => errs.push(required(&port.at_key("containerPort"), "")),
            Some(n) => field_port_number(&port, "containerPort", n, errs),
            None => {}
        }
        if let Some(host_port) = port.int("hostPort", errs)
            && host_port != 0
        {
            field_port_number(&port, "hostPort", host_port, errs);
        }
        match port.str("protocol", errs) {
            Some("") => errs.push(required(&port.at_key("protocol"), "")),
            Some(p) if !PROTOCOLS.contains(&p) => {
                errs.push(not_supported(&port.at_key("protocol"), p, &PROTOCOLS));
            }
            _ => {}
        }
    }
}

pub(crate) fn port_number(path: &Path, n: i64, errs: &mut Errs) {
    for msg in is_valid_port_num(n) {
        errs.push(invalid(path, n, &msg));
    }
}

/// [`port_number`] for the field `key` of `obj`, whose path is made only for an error.
fn field_port_number(obj: &Obj, key: &str, n: i64, errs: &mut Errs) {
    let problems = is_valid_port_num(n);
    if !problems.is_empty() {
        let path = obj.at_key(key);
        for msg in problems {
            errs.push(invalid(&path, n, &msg));
        }
    }
}

/// `ValidateEnv`.
fn env(c: &Obj, errs: &mut Errs) {
    for var in c.objects("env", errs) {
        match var.str("name", errs) {
            Some("") => errs.push(required(&var.at_key("name"), "")),
            Some(name) => {
                field_name_errors(&var, "name", name, is_relaxed_env_var_name(name), errs)
            }
            None => {}
        }
        let value = var.str("value", errs).unwrap_or_default();
        if let Some(from) = var.set_obj("valueFrom", errs) {
            value_from(&from, value, errs);
        }
    }
}

/// `validateEnvVarValueFrom`.
fn value_from(from: &Obj, value: &str, errs: &mut Errs) {
    let mut sources = 0;
    if let Some(field_ref) = from.set_obj("fieldRef", errs) {
        sources += 1;
        object_field_selector(&field_ref, &ENV_FIELD_PATHS, errs);
    }
    if let Some(resource_ref) = from.set_obj("resourceFieldRef", errs) {
        sources += 1;
        resource_field_selector(&resource_ref, false, errs);
    }
    for key in ["configMapKeyRef", "secretKeyRef"] {
        if let Some(selector) = from.set_obj(key, errs) {
            sources += 1;
            key_selector(&selector, errs);
        }
    }
    let path = from.path();
    if sources == 0 {
        errs.push(invalid(
            path,
            "",
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        ));
    } else if !value.is_empty() {
        errs.push(invalid(
            path,
            "",
            "may not be specified when `value` is not empty",
        ));
    } else if sources > 1 {
        errs.push(invalid(
            path,
            "",
            "may not have more than one field specified at a time",
        ));
    }
}

/// `validateObjectFieldSelector`: the downward API field a value comes from.
pub(crate) fn object_field_selector(selector: &Obj, allowed: &[&str], errs: &mut Errs) {
    let api_version = selector.str("apiVersion", errs).unwrap_or_default();
    if api_version.is_empty() {
        errs.push(required(&selector.at_key("apiVersion"), ""));
        return;
    }
    let field_path = selector.str("fieldPath", errs).unwrap_or_default();
    let at = selector.at_key("fieldPath");
    if field_path.is_empty() {
        errs.push(required(&at, ""));
        return;
    }
    if let Err(reason) = convert_downward_api_label(api_version, field_path) {
        errs.push(invalid(
            &at,
            field_path,
            &format!("error converting fieldPath: {reason}"),
        ));
        return;
    }
    match split_subscripted(field_path) {
        Some(("metadata.annotations", key)) => {
            let lower = key.to_lowercase();
            name_errors(selector.path(), &lower, is_qualified_name(&lower), errs);
        }
        Some(("metadata.labels", key)) => {
            name_errors(selector.path(), key, is_qualified_name(key), errs);
        }
        Some((other, _)) => errs.push(invalid(
            selector.path(),
            other,
            "does not support subscript",
        )),
        None if !allowed.contains(&field_path) => {
            errs.push(not_supported(&at, field_path, allowed));
        }
        None => {}
    }
}

/// `ConvertDownwardAPIFieldLabel` for pods: which labels exist at all.
fn convert_downward_api_label(version: &str, label: &str) -> Result<(), String> {
    if version != "v1" {
        return Err(format!("unsupported pod version: {version}"));
    }
    if let Some((path, _)) = split_subscripted(label) {
        return match path {
            "metadata.annotations" | "metadata.labels" => Ok(()),
            _ => Err(format!("field label does not support subscript: {label}")),
        };
    }
    if DOWNWARD_API_LABELS.contains(&label) || label == "spec.host" {
        return Ok(());
    }
    Err(format!("field label not supported: {label}"))
}

/// `fieldpath.SplitMaybeSubscriptedPath`: `metadata.labels['app']` → (`metadata.labels`, `app`).
fn split_subscripted(field_path: &str) -> Option<(&str, &str)> {
    let inner = field_path.strip_suffix("']")?;
    let (path, key) = inner.split_once("['")?;
    (!path.is_empty()).then_some((path, key))
}

/// `validateContainerResourceFieldSelector`.
pub(crate) fn resource_field_selector(selector: &Obj, volume: bool, errs: &mut Errs) {
    let container_name = selector.str("containerName", errs).unwrap_or_default();
    let resource = selector.str("resource", errs).unwrap_or_default();
    if volume && container_name.is_empty() {
        errs.push(required(&selector.at_key("containerName"), ""));
    } else if resource.is_empty() {
        errs.push(required(&selector.at_key("resource"), ""));
    } else if !RESOURCE_FIELD_PATHS.contains(&resource)
        && !resource.starts_with("requests.hugepages-")
        && !resource.starts_with("limits.hugepages-")
    {
        errs.push(not_supported(
            &selector.at_key("resource"),
            resource,
            &RESOURCE_FIELD_PATHS,
        ));
    }
}

/// `validateConfigMapKeySelector` / `validateSecretKeySelector`. kube checks the name even
/// when it is empty, so an empty name fails the subdomain rule.
fn key_selector(selector: &Obj, errs: &mut Errs) {
    let name = selector.str("name", errs).unwrap_or_default();
    field_name_errors(
        selector,
        "name",
        name,
        name_is_dns_subdomain(name, false),
        errs,
    );
    match selector.str("key", errs) {
        Some("") => errs.push(required(&selector.at_key("key"), "")),
        Some(key) => field_name_errors(selector, "key", key, is_config_map_key(key), errs),
        None => {}
    }
}

/// `ValidateEnvFrom`; the one-source errors are at `envFrom` itself, as kube reports them.
fn env_from(c: &Obj, errs: &mut Errs) {
    let path = || c.at_key("envFrom");
    for source in c.objects("envFrom", errs) {
        let prefix = source.str("prefix", errs).unwrap_or_default();
        if !prefix.is_empty() {
            field_name_errors(
                &source,
                "prefix",
                prefix,
                is_relaxed_env_var_name(prefix),
                errs,
            );
        }
        let mut count = 0;
        for key in ["configMapRef", "secretRef"] {
            if let Some(reference) = source.set_obj(key, errs) {
                count += 1;
                match reference.str("name", errs) {
                    Some("") => errs.push(required(&reference.at_key("name"), "")),
                    Some(name) => field_name_errors(
                        &reference,
                        "name",
                        name,
                        name_is_dns_subdomain(name, true),
                        errs,
                    ),
                    None => {}
                }
            }
        }
        if count == 0 {
            errs.push(invalid(
                &path(),
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if count > 1 {
            errs.push(invalid(
                &path(),
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

/// `(name, path)` of each of a container's `volumeDevices`, read quietly (they are
/// validated, and their type errors reported, by [`volume_devices`]).
fn device_entries<'a>(c: &Obj<'a>) -> Vec<(&'a str, &'a str)> {
    c.peek_list("volumeDevices")
        .iter()
        .map(|d| {
            let get = |k| field(d, k).and_then(Value::as_str).unwrap_or_default();
            (get("name"), get("devicePath"))
        })
        .collect()
}

/// `ValidateVolumeMounts`.
fn volume_mounts(c: &Obj, volumes: &Volumes, errs: &mut Errs) {
    let list_path = || c.at_key("volumeMounts");
    let devices = device_entries(c);
    let mut mount_points = BTreeSet::new();
    for mount in c.objects("volumeMounts", errs) {
        let name = mount.str("name", errs).unwrap_or_default();
        let target = mount.str("mountPath", errs).unwrap_or_default();
        if name.is_empty() {
            errs.push(required(&mount.at_key("name"), ""));
        }
        let volume = volumes.get(name);
        if volume.is_none() {
            errs.push(not_found(&mount.at_key("name"), name));
        }
        if target.is_empty() {
            errs.push(required(&mount.at_key("mountPath"), ""));
        }
        if !mount_points.insert(target) {
            errs.push(invalid(
                &mount.at_key("mountPath"),
                target,
                "must be unique",
            ));
        }
        if devices.iter().any(|(n, _)| *n == name) {
            errs.push(invalid(
                &mount.at_key("name"),
                name,
                "must not already exist in volumeDevices",
            ));
        }
        if devices.iter().any(|(_, p)| *p == target) {
            errs.push(invalid(
                &mount.at_key("mountPath"),
                target,
                "must not already exist as a path in volumeDevices",
            ));
        }
        sub_paths(&mount, &list_path, volume.is_some_and(|v| v.image), errs);
        if let Some(Some(propagation)) = mount.opt_str("mountPropagation", errs)
            && !MOUNT_PROPAGATIONS.contains(&propagation)
        {
            errs.push(not_supported(
                &list_path().child("mountPropagation"),
                propagation,
                &MOUNT_PROPAGATIONS,
            ));
        }
    }
}

/// `subPath` and `subPathExpr` of one mount; their path rules are reported at the list's
/// path, as kube does.
fn sub_paths(mount: &Obj, list_path: &dyn Fn() -> Path, image_volume: bool, errs: &mut Errs) {
    let sub_path = mount.str("subPath", errs).unwrap_or_default();
    let sub_path_expr = mount.str("subPathExpr", errs).unwrap_or_default();
    if image_volume {
        for (key, value) in [("subPath", sub_path), ("subPathExpr", sub_path_expr)] {
            if !value.is_empty() {
                errs.push(invalid(
                    &mount.at_key(key),
                    value,
                    "not allowed in image volume sources",
                ));
            }
        }
    }
    if !sub_path.is_empty() {
        local_descending(&list_path().child("subPath"), sub_path, errs);
    }
    if !sub_path_expr.is_empty() {
        if !sub_path.is_empty() {
            errs.push(invalid(
                &mount.at_key("subPathExpr"),
                sub_path_expr,
                "subPathExpr and subPath are mutually exclusive",
            ));
        }
        local_descending(&list_path().child("subPathExpr"), sub_path_expr, errs);
    }
}

/// `ValidateVolumeDevices`.
fn volume_devices(c: &Obj, volumes: &Volumes, errs: &mut Errs) {
    let mounts: Vec<(&str, &str)> = c
        .peek_list("volumeMounts")
        .iter()
        .map(|m| {
            let get = |k| field(m, k).and_then(Value::as_str).unwrap_or_default();
            (get("name"), get("mountPath"))
        })
        .collect();
    let (mut names, mut paths) = (BTreeSet::new(), BTreeSet::new());
    for device in c.objects("volumeDevices", errs) {
        let name = device.str("name", errs).unwrap_or_default();
        let target = device.str("devicePath", errs).unwrap_or_default();
        let (name_path, target_path) = (device.at_key("name"), device.at_key("devicePath"));
        if name.is_empty() {
            errs.push(required(&name_path, ""));
        }
        if names.contains(name) {
            errs.push(invalid(&name_path, name, "must be unique"));
        }
        match volumes.get(name) {
            Some(v) if !v.claim => errs.push(invalid(
                &name_path,
                name,
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            )),
            Some(_) => {}
            None => errs.push(not_found(&name_path, name)),
        }
        if target.is_empty() {
            errs.push(required(&target_path, ""));
        }
        if paths.contains(target) {
            errs.push(invalid(&target_path, target, "must be unique"));
        }
        if !target.is_empty() && target.split('/').any(|p| p == "..") {
            errs.push(invalid(
                &target_path,
                target,
                "can not contain backsteps ('..')",
            ));
        } else {
            paths.insert(target);
        }
        if mounts.iter().any(|(n, _)| *n == name) {
            errs.push(invalid(
                &name_path,
                name,
                "must not already exist in volumeMounts",
            ));
        }
        if mounts.iter().any(|(_, p)| *p == target) {
            errs.push(invalid(
                &target_path,
                target,
                "must not already exist as a path in volumeMounts",
            ));
        }
        if !name.is_empty() {
            names.insert(name);
        }
    }
}

/// `ValidateSecurityContext` (container level): IDs, procMount, seccomp, privilege
/// escalation. Windows options and AppArmor profiles are not checked yet.
fn security_context(c: &Obj, host_users: bool, errs: &mut Errs) {
    let Some(sc) = c.set_obj("securityContext", errs) else {
        return;
    };
    let privileged = sc.opt_bool("privileged", errs).flatten();
    for key in ["runAsUser", "runAsGroup"] {
        if let Some(Some(id)) = sc.opt_int(key, errs) {
            for msg in is_valid_id(id) {
                errs.push(invalid(&sc.at_key(key), id, &msg));
            }
        }
    }
    if let Some(Some(proc_mount)) = sc.opt_str("procMount", errs) {
        if !["Default", "Unmasked"].contains(&proc_mount) {
            errs.push(not_supported(
                &sc.at_key("procMount"),
                proc_mount,
                &["Default", "Unmasked"],
            ));
        }
        if host_users && proc_mount == "Unmasked" {
            errs.push(invalid(
                &sc.at_key("procMount"),
                proc_mount,
                "`hostUsers` must be false to use `Unmasked`",
            ));
        }
    }
    seccomp_profile(&sc, errs);
    if sc.opt_bool("allowPrivilegeEscalation", errs).flatten() == Some(false) {
        no_privilege_escalation(&sc, privileged == Some(true), errs);
    }
}

fn no_privilege_escalation(sc: &Obj, privileged: bool, errs: &mut Errs) {
    if privileged {
        errs.push(invalid(
            sc.path(),
            sc.to_value(),
            "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
        ));
    }
    let Some(capabilities) = sc.obj("capabilities", errs) else {
        return;
    };
    let added = capabilities.strings("add", errs).unwrap_or_default();
    for _ in added.iter().filter(|(_, cap)| *cap == "CAP_SYS_ADMIN") {
        errs.push(invalid(
            sc.path(),
            sc.to_value(),
            "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
        ));
    }
}

/// `validateSeccompProfileField`, shared by pod and container security contexts.
pub(crate) fn seccomp_profile(sc: &Obj, errs: &mut Errs) {
    let Some(profile) = sc.set_obj("seccompProfile", errs) else {
        return;
    };
    const TYPES: [&str; 3] = ["Localhost", "RuntimeDefault", "Unconfined"];
    let kind = profile.str("type", errs).unwrap_or_default();
    if kind.is_empty() {
        errs.push(required(
            &profile.at_key("type"),
            "type is required when seccompProfile is set",
        ));
    } else if !TYPES.contains(&kind) {
        errs.push(not_supported(&profile.at_key("type"), kind, &TYPES));
    }
    let local = profile.opt_str("localhostProfile", errs).flatten();
    let local_path = profile.at_key("localhostProfile");
    match (kind == "Localhost", local) {
        (true, None) => errs.push(required(
            &local_path,
            "must be set when seccomp type is Localhost",
        )),
        (true, Some(p)) => local_descending(&local_path, p, errs),
        (false, Some(_)) => errs.push(invalid(
            &local_path,
            profile.to_value(),
            "can only be set when seccomp type is Localhost",
        )),
        (false, None) => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Probes and lifecycle hooks

#[derive(Clone, Copy, PartialEq)]
enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

fn hooks_and_probes(c: &Obj, ctx: &PodContext, errs: &mut Errs) {
    if let Some(lifecycle) = c.set_obj("lifecycle", errs) {
        for hook in ["postStart", "preStop"] {
            if let Some(handler) = lifecycle.set_obj(hook, errs) {
                validate_handler(&handler, &LIFECYCLE_HANDLERS, ctx.grace_period, errs);
            }
        }
    }
    for (key, kind) in [
        ("livenessProbe", ProbeKind::Liveness),
        ("readinessProbe", ProbeKind::Readiness),
        ("startupProbe", ProbeKind::Startup),
    ] {
        if let Some(probe) = c.set_obj(key, errs) {
            validate_probe(&probe, kind, ctx.grace_period, errs);
        }
    }
}

fn forbid_hooks_and_probes(c: &Obj, errs: &mut Errs) {
    for key in [
        "lifecycle",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
    ] {
        if c.has(key) {
            errs.push(forbidden(
                &c.at_key(key),
                "may not be set for init containers without restartPolicy=Always",
            ));
        }
    }
}

const PROBE_HANDLERS: [&str; 4] = ["exec", "httpGet", "tcpSocket", "grpc"];
const LIFECYCLE_HANDLERS: [&str; 4] = ["exec", "httpGet", "tcpSocket", "sleep"];

fn validate_probe(probe: &Obj, kind: ProbeKind, grace: Option<i64>, errs: &mut Errs) {
    validate_handler(probe, &PROBE_HANDLERS, grace, errs);
    for key in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        if let Some(n) = probe.int(key, errs) {
            field_non_negative(probe, key, n, errs);
        }
    }
    let grace_path = || probe.at_key("terminationGracePeriodSeconds");
    let probe_grace = probe
        .opt_int("terminationGracePeriodSeconds", errs)
        .flatten();
    if let Some(g) = probe_grace
        && g <= 0
    {
        errs.push(invalid(&grace_path(), g, "must be greater than 0"));
    }
    let success = probe
        .int("successThreshold", &mut Errs::new())
        .unwrap_or_default();
    match kind {
        ProbeKind::Liveness | ProbeKind::Startup if success != 1 => {
            errs.push(invalid(
                &probe.at_key("successThreshold"),
                success,
                "must be 1",
            ));
        }
        ProbeKind::Readiness if probe_grace.is_some() => {
            errs.push(invalid(
                &grace_path(),
                probe_grace,
                "must not be set for readinessProbes",
            ));
        }
        _ => {}
    }
}

/// `validateHandler`: exactly one of `kinds`, each checked.
fn validate_handler(handler: &Obj, kinds: &[&str], grace: Option<i64>, errs: &mut Errs) {
    let mut count = 0;
    for &kind in kinds {
        let Some(action) = handler.set_obj(kind, errs) else {
            continue;
        };
        if count > 0 {
            errs.push(forbidden(
                action.path(),
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        count += 1;
        validate_action(kind, &action, grace, errs);
    }
    if count == 0 {
        errs.push(required(handler.path(), "must specify a handler type"));
    }
}

fn validate_action(kind: &str, action: &Obj, grace: Option<i64>, errs: &mut Errs) {
    match kind {
        "exec" => {
            if action
                .list("command", errs)
                .is_some_and(<[Value]>::is_empty)
            {
                errs.push(required(&action.at_key("command"), ""));
            }
        }
        "httpGet" => http_get(action, errs),
        "tcpSocket" => {
            let port = action.int_or_str("port", errs).flatten();
            port_num_or_name(&action.at_key("port"), port, errs);
        }
        "grpc" => {
            let port = action.int("port", errs).unwrap_or_default();
            port_number(&action.at_key("port"), port, errs);
        }
        _ => sleep(action, grace, errs),
    }
}

fn http_get(action: &Obj, errs: &mut Errs) {
    if action.str("path", errs) == Some("") {
        errs.push(required(&action.at_key("path"), ""));
    }
    let port = action.int_or_str("port", errs).flatten();
    port_num_or_name(&action.at_key("port"), port, errs);
    if let Some(scheme) = action.str("scheme", errs)
        && !["HTTP", "HTTPS"].contains(&scheme)
    {
        errs.push(not_supported(
            &action.at_key("scheme"),
            scheme,
            &["HTTP", "HTTPS"],
        ));
    }
    for header in action.objects("httpHeaders", errs) {
        let name = header.str("name", errs).unwrap_or_default();
        field_name_errors(action, "httpHeaders", name, is_http_header_name(name), errs);
    }
}

/// A `sleep` hook: from 0 to the pod's grace period (Kubernetes 1.33 allows zero, the
/// PodLifecycleSleepActionAllowZero gate being on).
fn sleep(action: &Obj, grace: Option<i64>, errs: &mut Errs) {
    let seconds = action.int("seconds", errs).unwrap_or_default();
    if let Some(grace) = grace
        && (seconds < 0 || seconds > grace)
    {
        let detail =
            format!("must be non-negative and less than terminationGracePeriodSeconds ({grace})");
        errs.push(invalid(action.path(), seconds, &detail));
    }
}

/// `AccumulateUniqueHostPorts`: a host port, protocol and host IP used twice. kube checks
/// init containers one at a time, as a list of one, so their errors name `initContainers[0]`
/// whatever the container's index; `list_path` is then that list's path.
fn host_port_conflicts(containers: &[Obj], list_path: Option<&Path>, errs: &mut Errs) {
    let mut seen = BTreeSet::new();
    for c in containers {
        for (pi, port) in c.peek_list("ports").iter().enumerate() {
            let host_port = field(port, "hostPort")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            if host_port == 0 {
                continue;
            }
            let text = |k| field(port, k).and_then(Value::as_str).unwrap_or_default();
            let key = format!("{}/{}/{host_port}", text("protocol"), text("hostIP"));
            if !seen.insert(key.clone()) {
                let container = list_path.map_or_else(|| c.path().clone(), |p| p.index(0));
                let path = container.child("ports").index(pi).child("hostPort");
                errs.push(duplicate(&path, key));
            }
        }
    }
}
