//! The Pod Security Standards' checks, as pod-security-admission 1.33 (`policy/check_*.go`)
//! runs them at `latest`, with its exact reasons and details.
//!
//! kubesim evaluates every policy version as `latest`: a namespace labelled
//! `enforce-version: v1.24` is checked with the 1.33 checks. kube would use that version's:
//! fewer allowed sysctls before 1.32, no `container_engine_t` before 1.31, no Windows
//! exceptions before 1.25, no runAsUser check before 1.23, no `drop: [ALL]` before 1.22, the
//! seccomp annotations before 1.19. The version still shows in messages.
//!
//! A check looks at a pod's metadata and spec as JSON (the v1 field names) and either allows
//! it or says why not. Order matters, because the reasons are joined into one message: kube
//! runs the baseline checks sorted by ID, then the restricted ones sorted by ID, and at
//! restricted leaves out the baseline checks a restricted one overrides.

use std::collections::BTreeSet;

use kubesim_api::status::go_quote;
use serde_json::Value;

use super::policy::Level;

/// A pod (or a workload's pod template) as the checks see it.
#[derive(Debug, Clone, Copy)]
pub struct PodView<'a> {
    /// `metadata` (the checks read its annotations).
    pub metadata: &'a Value,
    pub spec: &'a Value,
}

impl<'a> PodView<'a> {
    /// `metadata` and `spec` of a pod or a pod template; missing parts read as empty.
    pub fn of(object: &'a Value) -> PodView<'a> {
        PodView {
            metadata: field(object, "metadata").unwrap_or(&Value::Null),
            spec: field(object, "spec").unwrap_or(&Value::Null),
        }
    }

    /// Every container, in kube's order: init containers, containers, ephemeral containers.
    fn containers(&self) -> impl Iterator<Item = &'a Value> + use<'a> {
        let spec = self.spec;
        ["initContainers", "containers", "ephemeralContainers"]
            .into_iter()
            .flat_map(move |list| items(spec, list))
    }

    fn security_context(&self) -> Option<&'a Value> {
        field(self.spec, "securityContext")
    }

    /// `spec.os.name: windows`: the checks of Linux-only fields let such a pod through.
    fn is_windows(&self) -> bool {
        text(path(self.spec, &["os", "name"])) == "windows"
    }
}

/// Why a check forbids a pod: `reason` always shows, `detail` in parentheses after it when a
/// single object is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forbidden {
    pub reason: String,
    pub detail: String,
}

/// One check: its ID (which orders it), its level, and the baseline checks it replaces at
/// restricted.
pub struct Check {
    pub id: &'static str,
    pub level: Level,
    pub overrides: &'static [&'static str],
    pub run: fn(&PodView) -> Option<Forbidden>,
}

/// Every check at `latest`, baseline then restricted, each sorted by ID as Go sorts strings
/// (bytes: `seLinuxOptions` before `seccompProfile_baseline`).
pub const CHECKS: &[Check] = &[
    baseline("appArmorProfile", app_armor_profile),
    baseline("capabilities_baseline", capabilities_baseline),
    baseline("hostNamespaces", host_namespaces),
    baseline("hostPathVolumes", host_path_volumes),
    baseline("hostPorts", host_ports),
    baseline("privileged", privileged),
    baseline("procMount", proc_mount),
    baseline("seLinuxOptions", se_linux_options),
    baseline("seccompProfile_baseline", seccomp_profile_baseline),
    baseline("sysctls", sysctls),
    baseline("windowsHostProcess", windows_host_process),
    restricted("allowPrivilegeEscalation", &[], allow_privilege_escalation),
    restricted(
        "capabilities_restricted",
        &["capabilities_baseline"],
        capabilities_restricted,
    ),
    restricted(
        "restrictedVolumes",
        &["hostPathVolumes"],
        restricted_volumes,
    ),
    restricted("runAsNonRoot", &[], run_as_non_root),
    restricted("runAsUser", &[], run_as_user),
    restricted(
        "seccompProfile_restricted",
        &["seccompProfile_baseline"],
        seccomp_profile_restricted,
    ),
];

const fn baseline(id: &'static str, run: fn(&PodView) -> Option<Forbidden>) -> Check {
    Check {
        id,
        level: Level::Baseline,
        overrides: &[],
        run,
    }
}

const fn restricted(
    id: &'static str,
    overrides: &'static [&'static str],
    run: fn(&PodView) -> Option<Forbidden>,
) -> Check {
    Check {
        id,
        level: Level::Restricted,
        overrides,
        run,
    }
}

/// The checks of `level`, in the order they run.
pub fn checks_for(level: Level) -> Vec<&'static Check> {
    let overridden: Vec<&str> = match level {
        Level::Restricted => CHECKS.iter().flat_map(|c| c.overrides).copied().collect(),
        _ => Vec::new(),
    };
    CHECKS
        .iter()
        .filter(|c| level != Level::Privileged && c.level <= level)
        .filter(|c| !overridden.contains(&c.id))
        .collect()
}

/// What every check of a level said about a pod (kube's `AggregateCheckResult`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregate {
    pub forbidden: Vec<Forbidden>,
}

impl Aggregate {
    pub fn allowed(&self) -> bool {
        self.forbidden.is_empty()
    }

    /// The reasons alone: `host namespaces, privileged` (for many pods at once).
    pub fn forbidden_reason(&self) -> String {
        let reasons: Vec<&str> = self.forbidden.iter().map(|f| f.reason.as_str()).collect();
        reasons.join(", ")
    }

    /// Each reason with its detail in parentheses: `host namespaces (hostNetwork=true), ...`.
    pub fn forbidden_detail(&self) -> String {
        let parts: Vec<String> = self
            .forbidden
            .iter()
            .map(|f| {
                if f.detail.is_empty() {
                    f.reason.clone()
                } else {
                    format!("{} ({})", f.reason, f.detail)
                }
            })
            .collect();
        parts.join(", ")
    }
}

/// Runs the checks of `level` (none for privileged) on a pod.
pub fn evaluate(level: Level, pod: &PodView) -> Aggregate {
    let forbidden = checks_for(level)
        .into_iter()
        .filter_map(|check| (check.run)(pod))
        .map(|mut f| {
            if f.reason.is_empty() {
                f.reason = "unknown forbidden reason".to_string();
            }
            f
        })
        .collect();
    Aggregate { forbidden }
}

// ---- JSON helpers: Go's nil is a missing or null field ----

fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.get(key).filter(|v| !v.is_null())
}

fn path<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(value, |v, key| field(v, key))
}

fn items<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    field(value, key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A string field; Go's zero value `""` when missing.
fn text(value: Option<&Value>) -> &str {
    value.and_then(Value::as_str).unwrap_or("")
}

fn is_true(value: Option<&Value>) -> bool {
    value.and_then(Value::as_bool) == Some(true)
}

fn name(container: &Value) -> String {
    text(container.get("name")).to_string()
}

/// The string items of a list field.
fn strings(value: Option<&Value>) -> impl Iterator<Item = &str> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

// ---- message helpers, as kube's `joinQuote` and `pluralize` ----

fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let parts: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("\"{}\"", parts.join("\", \""))
}

fn pluralize<'a>(singular: &'a str, plural: &'a str, count: usize) -> &'a str {
    if count == 1 { singular } else { plural }
}

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase(names: &[String]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

/// Who set a bad value: `pod`, then the containers; joined with ` and ` by the callers.
fn setters(pod: bool, containers: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    if pod {
        out.push("pod".to_string());
    }
    if !containers.is_empty() {
        out.push(containers_phrase(containers));
    }
    out
}

fn forbid(reason: &str, detail: String) -> Option<Forbidden> {
    Some(Forbidden {
        reason: reason.to_string(),
        detail,
    })
}

// ---- baseline ----

const APP_ARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// AppArmor: `appArmorProfile.type` RuntimeDefault or Localhost (pod and containers), and the
/// deprecated annotations `runtime/default`, `localhost/*` or empty.
fn app_armor_profile(pod: &PodView) -> Option<Forbidden> {
    let allowed_type = |t: &str| t == "RuntimeDefault" || t == "Localhost";
    let mut bad_values = BTreeSet::new();
    let mut pod_bad = false;
    if let Some(profile) = pod
        .security_context()
        .and_then(|sc| field(sc, "appArmorProfile"))
    {
        let t = text(profile.get("type"));
        if !allowed_type(t) {
            pod_bad = true;
            bad_values.insert(t.to_string());
        }
    }
    let mut bad_containers = Vec::new();
    for c in pod.containers() {
        if let Some(profile) = path(c, &["securityContext", "appArmorProfile"]) {
            let t = text(profile.get("type"));
            if !allowed_type(t) {
                bad_containers.push(name(c));
                bad_values.insert(t.to_string());
            }
        }
    }
    let mut who = setters(pod_bad, &bad_containers);
    let mut annotations: Vec<String> = field(pod.metadata, "annotations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.starts_with(APP_ARMOR_ANNOTATION_PREFIX))
        .filter_map(|(key, value)| Some((key, value.as_str()?)))
        .filter(|(_, value)| {
            !(value.is_empty() || *value == "runtime/default" || value.starts_with("localhost/"))
        })
        .map(|(key, value)| format!("{key}={}", go_quote(value)))
        .collect();
    annotations.sort();
    let mut values: Vec<String> = bad_values.into_iter().collect();
    if !annotations.is_empty() {
        who.push(pluralize("annotation", "annotations", annotations.len()).to_string());
        values.extend(annotations);
    }
    if who.is_empty() {
        return None;
    }
    let reason = pluralize(
        "forbidden AppArmor profile",
        "forbidden AppArmor profiles",
        values.len(),
    );
    let detail = format!(
        "{} must not set AppArmor profile type to {}",
        who.join(" and "),
        join_quote(&values)
    );
    forbid(reason, detail)
}

/// The capabilities a container may add at baseline.
const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn capabilities_baseline(pod: &PodView) -> Option<Forbidden> {
    let mut bad_containers = Vec::new();
    let mut added = BTreeSet::new();
    for c in pod.containers() {
        let Some(capabilities) = path(c, &["securityContext", "capabilities"]) else {
            continue;
        };
        let mut valid = true;
        for capability in strings(field(capabilities, "add")) {
            if !BASELINE_CAPABILITIES.contains(&capability) {
                valid = false;
                added.insert(capability.to_string());
            }
        }
        if !valid {
            bad_containers.push(name(c));
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let added: Vec<String> = added.into_iter().collect();
    let detail = format!(
        "{} must not include {} in securityContext.capabilities.add",
        containers_phrase(&bad_containers),
        join_quote(&added)
    );
    forbid("non-default capabilities", detail)
}

fn host_namespaces(pod: &PodView) -> Option<Forbidden> {
    let used: Vec<&str> = [
        ("hostNetwork", "hostNetwork=true"),
        ("hostPID", "hostPID=true"),
        ("hostIPC", "hostIPC=true"),
    ]
    .into_iter()
    .filter(|(key, _)| is_true(pod.spec.get(*key)))
    .map(|(_, shown)| shown)
    .collect();
    if used.is_empty() {
        return None;
    }
    forbid("host namespaces", used.join(", "))
}

fn host_path_volumes(pod: &PodView) -> Option<Forbidden> {
    let volumes: Vec<String> = items(pod.spec, "volumes")
        .iter()
        .filter(|v| field(v, "hostPath").is_some())
        .map(name)
        .collect();
    if volumes.is_empty() {
        return None;
    }
    let detail = format!(
        "{} {}",
        pluralize("volume", "volumes", volumes.len()),
        join_quote(&volumes)
    );
    forbid("hostPath volumes", detail)
}

fn host_ports(pod: &PodView) -> Option<Forbidden> {
    let mut bad_containers = Vec::new();
    // Sorted as strings, as kube's string set sorts them.
    let mut ports = BTreeSet::new();
    for c in pod.containers() {
        let mut valid = true;
        for port in items(c, "ports") {
            let host_port = field(port, "hostPort").and_then(Value::as_i64).unwrap_or(0);
            if host_port != 0 {
                valid = false;
                ports.insert(host_port.to_string());
            }
        }
        if !valid {
            bad_containers.push(name(c));
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let ports: Vec<String> = ports.into_iter().collect();
    let detail = format!(
        "{} {} {} {}",
        containers_phrase(&bad_containers),
        pluralize("uses", "use", bad_containers.len()),
        pluralize("hostPort", "hostPorts", ports.len()),
        ports.join(", ")
    );
    forbid("hostPort", detail)
}

fn privileged(pod: &PodView) -> Option<Forbidden> {
    let bad: Vec<String> = pod
        .containers()
        .filter(|c| is_true(path(c, &["securityContext", "privileged"])))
        .map(name)
        .collect();
    if bad.is_empty() {
        return None;
    }
    let detail = format!(
        "{} must not set securityContext.privileged=true",
        containers_phrase(&bad)
    );
    forbid("privileged", detail)
}

/// `procMount` unset or `Default`. (kube relaxes this for `hostUsers: false` pods only behind
/// the UserNamespacesPodSecurityStandards gate, off by default in 1.33.)
fn proc_mount(pod: &PodView) -> Option<Forbidden> {
    let mut bad_containers = Vec::new();
    let mut types = BTreeSet::new();
    for c in pod.containers() {
        let Some(proc_mount) = path(c, &["securityContext", "procMount"]) else {
            continue;
        };
        let proc_mount = text(Some(proc_mount));
        if proc_mount != "Default" {
            bad_containers.push(name(c));
            types.insert(proc_mount.to_string());
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let types: Vec<String> = types.into_iter().collect();
    let detail = format!(
        "{} must not set securityContext.procMount to {}",
        containers_phrase(&bad_containers),
        join_quote(&types)
    );
    forbid("procMount", detail)
}

/// The SELinux types allowed at baseline (1.31+ adds `container_engine_t`).
const SELINUX_TYPES: &[&str] = &[
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// What was wrong with the seLinuxOptions seen so far, pod and containers together.
#[derive(Default)]
struct SeLinuxFindings {
    bad_types: BTreeSet<String>,
    set_user: bool,
    set_role: bool,
}

impl SeLinuxFindings {
    /// Records what is wrong with one `seLinuxOptions`; true when nothing is.
    fn valid(&mut self, options: &Value) -> bool {
        let mut valid = true;
        let t = text(options.get("type"));
        if !SELINUX_TYPES.contains(&t) {
            valid = false;
            self.bad_types.insert(t.to_string());
        }
        if !text(options.get("user")).is_empty() {
            valid = false;
            self.set_user = true;
        }
        if !text(options.get("role")).is_empty() {
            valid = false;
            self.set_role = true;
        }
        valid
    }
}

fn se_linux_options(pod: &PodView) -> Option<Forbidden> {
    let mut findings = SeLinuxFindings::default();
    let pod_bad = pod
        .security_context()
        .and_then(|sc| field(sc, "seLinuxOptions"))
        .is_some_and(|options| !findings.valid(options));
    let mut bad_containers = Vec::new();
    for c in pod.containers() {
        let options = path(c, &["securityContext", "seLinuxOptions"]);
        if options.is_some_and(|options| !findings.valid(options)) {
            bad_containers.push(name(c));
        }
    }
    let who = setters(pod_bad, &bad_containers);
    if who.is_empty() {
        return None;
    }
    let mut what = Vec::new();
    if !findings.bad_types.is_empty() {
        let types: Vec<String> = findings.bad_types.into_iter().collect();
        what.push(format!(
            "{} {}",
            pluralize("type", "types", types.len()),
            join_quote(&types)
        ));
    }
    if findings.set_user {
        what.push("user may not be set".to_string());
    }
    if findings.set_role {
        what.push("role may not be set".to_string());
    }
    let detail = format!(
        "{} set forbidden securityContext.seLinuxOptions: {}",
        who.join(" and "),
        what.join("; ")
    );
    forbid("seLinuxOptions", detail)
}

fn valid_seccomp(profile_type: &str) -> bool {
    profile_type == "Localhost" || profile_type == "RuntimeDefault"
}

/// The pod's and containers' seccomp profiles: who set a bad type, which types, and which
/// containers set none (they inherit the pod's).
struct SeccompFindings {
    pod_bad: bool,
    pod_valid: bool,
    bad_containers: Vec<String>,
    unset_containers: Vec<String>,
    bad_values: BTreeSet<String>,
}

fn seccomp_findings(pod: &PodView) -> SeccompFindings {
    let mut findings = SeccompFindings {
        pod_bad: false,
        pod_valid: false,
        bad_containers: Vec::new(),
        unset_containers: Vec::new(),
        bad_values: BTreeSet::new(),
    };
    if let Some(profile) = pod
        .security_context()
        .and_then(|sc| field(sc, "seccompProfile"))
    {
        let t = text(profile.get("type"));
        if valid_seccomp(t) {
            findings.pod_valid = true;
        } else {
            findings.pod_bad = true;
            findings.bad_values.insert(t.to_string());
        }
    }
    for c in pod.containers() {
        match path(c, &["securityContext", "seccompProfile"]) {
            Some(profile) => {
                let t = text(profile.get("type"));
                if !valid_seccomp(t) {
                    findings.bad_containers.push(name(c));
                    findings.bad_values.insert(t.to_string());
                }
            }
            None => findings.unset_containers.push(name(c)),
        }
    }
    findings
}

/// Forbids a seccomp profile type other than RuntimeDefault or Localhost where one is set.
fn seccomp_explicitly_bad(findings: &SeccompFindings) -> Option<Forbidden> {
    let who = setters(findings.pod_bad, &findings.bad_containers);
    if who.is_empty() {
        return None;
    }
    let values: Vec<&String> = findings.bad_values.iter().collect();
    let detail = format!(
        "{} must not set securityContext.seccompProfile.type to {}",
        who.join(" and "),
        join_quote(&values)
    );
    forbid("seccompProfile", detail)
}

/// Baseline (1.19+): an explicit `Unconfined` (or other unknown type) is forbidden; unset is
/// fine. The deprecated seccomp annotations are no longer read at this version.
fn seccomp_profile_baseline(pod: &PodView) -> Option<Forbidden> {
    seccomp_explicitly_bad(&seccomp_findings(pod))
}

fn sysctls(pod: &PodView) -> Option<Forbidden> {
    // The sysctls allowed as of policy 1.32.
    const ALLOWED: &[&str] = &[
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
    ];
    let sysctls = pod
        .security_context()
        .map(|sc| items(sc, "sysctls"))
        .unwrap_or(&[]);
    let forbidden: Vec<&str> = sysctls
        .iter()
        .map(|s| text(s.get("name")))
        .filter(|name| !ALLOWED.contains(name))
        .collect();
    if forbidden.is_empty() {
        return None;
    }
    forbid("forbidden sysctls", forbidden.join(", "))
}

fn windows_host_process(pod: &PodView) -> Option<Forbidden> {
    let host_process = |sc: Option<&Value>| {
        is_true(sc.and_then(|sc| path(sc, &["windowsOptions", "hostProcess"])))
    };
    let bad_containers: Vec<String> = pod
        .containers()
        .filter(|c| host_process(field(c, "securityContext")))
        .map(name)
        .collect();
    let who = setters(host_process(pod.security_context()), &bad_containers);
    if who.is_empty() {
        return None;
    }
    let detail = format!(
        "{} must not set securityContext.windowsOptions.hostProcess=true",
        who.join(" and ")
    );
    forbid("hostProcess", detail)
}

// ---- restricted ----

fn allow_privilege_escalation(pod: &PodView) -> Option<Forbidden> {
    // Windows pods cannot set the field (pod validation refuses it): let them through.
    if pod.is_windows() {
        return None;
    }
    let bad: Vec<String> = pod
        .containers()
        .filter(|c| {
            let set = path(c, &["securityContext", "allowPrivilegeEscalation"]);
            set.and_then(Value::as_bool) != Some(false)
        })
        .map(name)
        .collect();
    if bad.is_empty() {
        return None;
    }
    let detail = format!(
        "{} must set securityContext.allowPrivilegeEscalation=false",
        containers_phrase(&bad)
    );
    forbid("allowPrivilegeEscalation != false", detail)
}

/// Restricted: every container drops `ALL` and adds nothing but `NET_BIND_SERVICE`.
fn capabilities_restricted(pod: &PodView) -> Option<Forbidden> {
    if pod.is_windows() {
        return None;
    }
    let mut missing_drop_all = Vec::new();
    let mut adding_forbidden = Vec::new();
    let mut forbidden_capabilities = BTreeSet::new();
    for c in pod.containers() {
        let Some(capabilities) = path(c, &["securityContext", "capabilities"]) else {
            missing_drop_all.push(name(c));
            continue;
        };
        if !strings(field(capabilities, "drop")).any(|cap| cap == "ALL") {
            missing_drop_all.push(name(c));
        }
        let mut added_forbidden = false;
        for capability in strings(field(capabilities, "add")) {
            if capability != "NET_BIND_SERVICE" {
                added_forbidden = true;
                forbidden_capabilities.insert(capability.to_string());
            }
        }
        if added_forbidden {
            adding_forbidden.push(name(c));
        }
    }
    let mut details = Vec::new();
    if !missing_drop_all.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&missing_drop_all)
        ));
    }
    if !adding_forbidden.is_empty() {
        let capabilities: Vec<String> = forbidden_capabilities.into_iter().collect();
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding_forbidden),
            join_quote(&capabilities)
        ));
    }
    if details.is_empty() {
        return None;
    }
    forbid("unrestricted capabilities", details.join("; "))
}

/// The volume sources allowed at restricted.
const RESTRICTED_VOLUME_SOURCES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// The other sources, in the order kube names the first one a volume sets.
const OTHER_VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
];

fn restricted_volumes(pod: &PodView) -> Option<Forbidden> {
    let mut bad_volumes = Vec::new();
    let mut bad_types = BTreeSet::new();
    for volume in items(pod.spec, "volumes") {
        let has = |source: &str| field(volume, source).is_some();
        if RESTRICTED_VOLUME_SOURCES.iter().any(|source| has(source)) {
            continue;
        }
        bad_volumes.push(name(volume));
        let source = OTHER_VOLUME_SOURCES
            .iter()
            .copied()
            .find(|source| has(source))
            .unwrap_or("unknown");
        bad_types.insert(source.to_string());
    }
    if bad_volumes.is_empty() {
        return None;
    }
    let types: Vec<String> = bad_types.into_iter().collect();
    let detail = format!(
        "{} {} {} {} {}",
        pluralize("volume", "volumes", bad_volumes.len()),
        join_quote(&bad_volumes),
        pluralize("uses", "use", bad_volumes.len()),
        pluralize(
            "restricted volume type",
            "restricted volume types",
            types.len()
        ),
        join_quote(&types)
    );
    forbid("restricted volume types", detail)
}

/// `runAsNonRoot: true` on the pod or on every container, and `false` nowhere.
fn run_as_non_root(pod: &PodView) -> Option<Forbidden> {
    let pod_setting = pod
        .security_context()
        .and_then(|sc| field(sc, "runAsNonRoot"))
        .and_then(Value::as_bool);
    let mut explicitly_bad = Vec::new();
    let mut implicitly_bad = Vec::new();
    for c in pod.containers() {
        match path(c, &["securityContext", "runAsNonRoot"]) {
            Some(setting) if setting.as_bool() != Some(true) => explicitly_bad.push(name(c)),
            Some(_) => {}
            None if pod_setting != Some(true) => implicitly_bad.push(name(c)),
            None => {}
        }
    }
    let who = setters(pod_setting == Some(false), &explicitly_bad);
    if !who.is_empty() {
        let detail = format!(
            "{} must not set securityContext.runAsNonRoot=false",
            who.join(" and ")
        );
        return forbid("runAsNonRoot != true", detail);
    }
    if implicitly_bad.is_empty() {
        return None;
    }
    let detail = format!(
        "pod or {} must set securityContext.runAsNonRoot=true",
        containers_phrase(&implicitly_bad)
    );
    forbid("runAsNonRoot != true", detail)
}

fn run_as_user(pod: &PodView) -> Option<Forbidden> {
    let is_root = |sc: Option<&Value>| {
        sc.and_then(|sc| field(sc, "runAsUser"))
            .and_then(Value::as_i64)
            == Some(0)
    };
    let bad_containers: Vec<String> = pod
        .containers()
        .filter(|c| is_root(field(c, "securityContext")))
        .map(name)
        .collect();
    let who = setters(is_root(pod.security_context()), &bad_containers);
    if who.is_empty() {
        return None;
    }
    forbid(
        "runAsUser=0",
        format!("{} must not set runAsUser=0", who.join(" and ")),
    )
}

/// Restricted: RuntimeDefault or Localhost on the pod or on every container.
fn seccomp_profile_restricted(pod: &PodView) -> Option<Forbidden> {
    if pod.is_windows() {
        return None;
    }
    let findings = seccomp_findings(pod);
    if let Some(forbidden) = seccomp_explicitly_bad(&findings) {
        return Some(forbidden);
    }
    if findings.pod_valid || findings.unset_containers.is_empty() {
        return None;
    }
    let detail = format!(
        "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
        containers_phrase(&findings.unset_containers)
    );
    forbid("seccompProfile", detail)
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
