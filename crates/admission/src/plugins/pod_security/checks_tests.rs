//! Each check with a pod it allows and pods it forbids, asserting kube's exact reason and
//! detail; then the order of the checks per level and the aggregated messages.

use serde_json::{Value, json};

use super::*;

/// Runs one check on a pod given as `{metadata, spec}` JSON.
fn run(check: fn(&PodView) -> Option<Forbidden>, pod: &Value) -> Option<(String, String)> {
    check(&PodView::of(pod)).map(|f| (f.reason, f.detail))
}

fn forbidden(reason: &str, detail: &str) -> Option<(String, String)> {
    Some((reason.to_string(), detail.to_string()))
}

/// A pod whose containers have the given security contexts (`null` for none).
fn pod_with(contexts: &[(&str, Value)]) -> Value {
    let containers: Vec<Value> = contexts
        .iter()
        .map(|(name, sc)| json!({"name": name, "image": "nginx", "securityContext": sc}))
        .collect();
    json!({"metadata": {"name": "p"}, "spec": {"containers": containers}})
}

/// A pod that passes every restricted check.
fn restricted_pod() -> Value {
    json!({
        "metadata": {"name": "ok"},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "app",
                "image": "nginx",
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                }
            }],
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cm", "configMap": {"name": "x"}}],
        }
    })
}

#[test]
fn restricted_pod_passes_every_level() {
    let pod = restricted_pod();
    for level in [Level::Privileged, Level::Baseline, Level::Restricted] {
        assert_eq!(evaluate(level, &PodView::of(&pod)), Aggregate::default());
    }
}

#[test]
fn app_armor_profile() {
    let ok = json!({"metadata": {"annotations": {
        "container.apparmor.security.beta.kubernetes.io/a": "runtime/default",
        "container.apparmor.security.beta.kubernetes.io/b": "localhost/x",
        "container.apparmor.security.beta.kubernetes.io/c": "",
    }}, "spec": {"securityContext": {"appArmorProfile": {"type": "Localhost"}},
        "containers": [{"name": "a", "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}}]}});
    assert_eq!(run(super::app_armor_profile, &ok), None);

    let pod = json!({"spec": {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}}});
    assert_eq!(
        run(super::app_armor_profile, &pod),
        forbidden(
            "forbidden AppArmor profile",
            r#"pod must not set AppArmor profile type to "Unconfined""#
        )
    );
    let annotated = json!({"metadata": {"annotations": {
        "container.apparmor.security.beta.kubernetes.io/f": "unknown",
        "container.apparmor.security.beta.kubernetes.io/e": "unconfined",
    }}, "spec": {"initContainers": [{"name": "i", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}]}});
    assert_eq!(
        run(super::app_armor_profile, &annotated),
        forbidden(
            "forbidden AppArmor profiles",
            r#"container "i" and annotations must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/e="unconfined"", "container.apparmor.security.beta.kubernetes.io/f="unknown"""#
        )
    );
}

#[test]
fn capabilities_baseline() {
    let ok = pod_with(&[(
        "a",
        json!({"capabilities": {"add": ["CHOWN", "NET_BIND_SERVICE"], "drop": ["ALL"]}}),
    )]);
    assert_eq!(run(super::capabilities_baseline, &ok), None);
    let pod = pod_with(&[
        ("a", json!({"capabilities": {"add": ["NET_RAW", "CHOWN"]}})),
        (
            "b",
            json!({"capabilities": {"add": ["SYS_ADMIN", "NET_RAW"]}}),
        ),
        ("c", Value::Null),
    ]);
    assert_eq!(
        run(super::capabilities_baseline, &pod),
        forbidden(
            "non-default capabilities",
            r#"containers "a", "b" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add"#
        )
    );
}

#[test]
fn host_namespaces() {
    let ok = json!({"spec": {"hostNetwork": false}});
    assert_eq!(run(super::host_namespaces, &ok), None);
    let pod = json!({"spec": {"hostIPC": true, "hostNetwork": true, "hostPID": true}});
    assert_eq!(
        run(super::host_namespaces, &pod),
        forbidden(
            "host namespaces",
            "hostNetwork=true, hostPID=true, hostIPC=true"
        )
    );
}

#[test]
fn host_path_volumes() {
    let ok = json!({"spec": {"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "hostPath": null}]}});
    assert_eq!(run(super::host_path_volumes, &ok), None);
    let one = json!({"spec": {"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}});
    assert_eq!(
        run(super::host_path_volumes, &one),
        forbidden("hostPath volumes", r#"volume "root""#)
    );
    let two = json!({"spec": {"volumes": [
        {"name": "a", "hostPath": {"path": "/a"}}, {"name": "b", "hostPath": {"path": "/b"}}]}});
    assert_eq!(
        run(super::host_path_volumes, &two),
        forbidden("hostPath volumes", r#"volumes "a", "b""#)
    );
}

#[test]
fn host_ports() {
    let ok = json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}, {"containerPort": 81, "hostPort": 0}]}]}});
    assert_eq!(run(super::host_ports, &ok), None);
    let one = json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}});
    assert_eq!(
        run(super::host_ports, &one),
        forbidden("hostPort", r#"container "a" uses hostPort 8080"#)
    );
    // Ports sort as strings, as kube's string set sorts them.
    let many = json!({"spec": {"containers": [
        {"name": "a", "ports": [{"hostPort": 9}, {"hostPort": 10}]},
        {"name": "b", "ports": [{"hostPort": 10}]}]}});
    assert_eq!(
        run(super::host_ports, &many),
        forbidden("hostPort", r#"containers "a", "b" use hostPorts 10, 9"#)
    );
}

#[test]
fn privileged() {
    let ok = pod_with(&[("a", json!({"privileged": false})), ("b", Value::Null)]);
    assert_eq!(run(super::privileged, &ok), None);
    let pod = pod_with(&[("a", json!({"privileged": true}))]);
    assert_eq!(
        run(super::privileged, &pod),
        forbidden(
            "privileged",
            r#"container "a" must not set securityContext.privileged=true"#
        )
    );
}

#[test]
fn proc_mount() {
    let ok = pod_with(&[("a", json!({"procMount": "Default"})), ("b", json!({}))]);
    assert_eq!(run(super::proc_mount, &ok), None);
    let pod = pod_with(&[
        ("a", json!({"procMount": "Unmasked"})),
        ("b", json!({"procMount": "Unmasked"})),
    ]);
    assert_eq!(
        run(super::proc_mount, &pod),
        forbidden(
            "procMount",
            r#"containers "a", "b" must not set securityContext.procMount to "Unmasked""#
        )
    );
}

#[test]
fn se_linux_options() {
    let ok = json!({"spec": {"securityContext": {"seLinuxOptions": {"type": "container_engine_t", "level": "s0:c1"}},
        "containers": [{"name": "a", "securityContext": {"seLinuxOptions": {"type": "container_t"}}}]}});
    assert_eq!(run(super::se_linux_options, &ok), None);
    let pod = json!({"spec": {"securityContext": {"seLinuxOptions": {"type": "bar_t"}},
        "containers": [
            {"name": "a", "securityContext": {"seLinuxOptions": {"type": "foo_t", "user": "root"}}},
            {"name": "b", "securityContext": {"seLinuxOptions": {"role": "sysadm_r"}}}]}});
    assert_eq!(
        run(super::se_linux_options, &pod),
        forbidden(
            "seLinuxOptions",
            r#"pod and containers "a", "b" set forbidden securityContext.seLinuxOptions: types "bar_t", "foo_t"; user may not be set; role may not be set"#
        )
    );
}

#[test]
fn seccomp_profile_baseline() {
    // Unset is fine at baseline.
    let ok = pod_with(&[
        ("a", Value::Null),
        ("b", json!({"seccompProfile": {"type": "Localhost"}})),
    ]);
    assert_eq!(run(super::seccomp_profile_baseline, &ok), None);
    let pod = json!({"spec": {"securityContext": {"seccompProfile": {"type": "Unconfined"}},
        "containers": [{"name": "a", "securityContext": {"seccompProfile": {"type": "Unconfined"}}}]}});
    assert_eq!(
        run(super::seccomp_profile_baseline, &pod),
        forbidden(
            "seccompProfile",
            r#"pod and container "a" must not set securityContext.seccompProfile.type to "Unconfined""#
        )
    );
}

#[test]
fn sysctls() {
    let ok = json!({"spec": {"securityContext": {"sysctls": [
        {"name": "net.ipv4.tcp_rmem", "value": "4096 87380 16777216"}, {"name": "kernel.shm_rmid_forced", "value": "0"}]}}});
    assert_eq!(run(super::sysctls, &ok), None);
    let pod = json!({"spec": {"securityContext": {"sysctls": [{"name": "b"}, {"name": "net.ipv4.tcp_syncookies"}, {"name": "a"}]}}});
    assert_eq!(
        run(super::sysctls, &pod),
        forbidden("forbidden sysctls", "b, a")
    );
}

#[test]
fn windows_host_process() {
    let ok = pod_with(&[("a", json!({"windowsOptions": {"hostProcess": false}}))]);
    assert_eq!(run(super::windows_host_process, &ok), None);
    let pod = json!({"spec": {"securityContext": {"windowsOptions": {"hostProcess": true}},
        "containers": [
            {"name": "e", "securityContext": {"windowsOptions": {"hostProcess": true}}},
            {"name": "f", "securityContext": {"windowsOptions": {"hostProcess": true}}}]}});
    assert_eq!(
        run(super::windows_host_process, &pod),
        forbidden(
            "hostProcess",
            r#"pod and containers "e", "f" must not set securityContext.windowsOptions.hostProcess=true"#
        )
    );
}

#[test]
fn allow_privilege_escalation() {
    let ok = pod_with(&[("a", json!({"allowPrivilegeEscalation": false}))]);
    assert_eq!(run(super::allow_privilege_escalation, &ok), None);
    let pod = pod_with(&[
        ("a", Value::Null),
        ("b", json!({})),
        ("c", json!({"allowPrivilegeEscalation": true})),
        ("d", json!({"allowPrivilegeEscalation": false})),
    ]);
    assert_eq!(
        run(super::allow_privilege_escalation, &pod),
        forbidden(
            "allowPrivilegeEscalation != false",
            r#"containers "a", "b", "c" must set securityContext.allowPrivilegeEscalation=false"#
        )
    );
    let windows = json!({"spec": {"os": {"name": "windows"}, "containers": [{"name": "a"}]}});
    assert_eq!(run(super::allow_privilege_escalation, &windows), None);
}

#[test]
fn capabilities_restricted() {
    let ok = pod_with(&[(
        "a",
        json!({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}),
    )]);
    assert_eq!(run(super::capabilities_restricted, &ok), None);
    let pod = pod_with(&[
        ("a", Value::Null),
        (
            "b",
            json!({"capabilities": {"drop": ["NET_RAW"], "add": ["CHOWN"]}}),
        ),
        (
            "c",
            json!({"capabilities": {"drop": ["ALL"], "add": ["SYS_TIME", "CHOWN", "NET_BIND_SERVICE"]}}),
        ),
    ]);
    assert_eq!(
        run(super::capabilities_restricted, &pod),
        forbidden(
            "unrestricted capabilities",
            r#"containers "a", "b" must set securityContext.capabilities.drop=["ALL"]; containers "b", "c" must not include "CHOWN", "SYS_TIME" in securityContext.capabilities.add"#
        )
    );
}

#[test]
fn restricted_volumes() {
    assert_eq!(run(super::restricted_volumes, &restricted_pod()), None);
    let one = json!({"spec": {"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}});
    assert_eq!(
        run(super::restricted_volumes, &one),
        forbidden(
            "restricted volume types",
            r#"volume "h" uses restricted volume type "hostPath""#
        )
    );
    let many = json!({"spec": {"volumes": [
        {"name": "ok", "secret": {"secretName": "s"}},
        {"name": "n", "nfs": {"server": "x", "path": "/"}},
        {"name": "g", "gitRepo": {"repository": "r"}},
        {"name": "h", "hostPath": {"path": "/"}},
        {"name": "u"}]}});
    assert_eq!(
        run(super::restricted_volumes, &many),
        forbidden(
            "restricted volume types",
            r#"volumes "n", "g", "h", "u" use restricted volume types "gitRepo", "hostPath", "nfs", "unknown""#
        )
    );
}

#[test]
fn run_as_non_root() {
    let pod_level =
        json!({"spec": {"securityContext": {"runAsNonRoot": true}, "containers": [{"name": "a"}]}});
    assert_eq!(run(super::run_as_non_root, &pod_level), None);
    let per_container = pod_with(&[("a", json!({"runAsNonRoot": true}))]);
    assert_eq!(run(super::run_as_non_root, &per_container), None);
    let explicit = json!({"spec": {"securityContext": {"runAsNonRoot": false},
        "containers": [{"name": "a", "securityContext": {"runAsNonRoot": false}}, {"name": "b"}]}});
    assert_eq!(
        run(super::run_as_non_root, &explicit),
        forbidden(
            "runAsNonRoot != true",
            r#"pod and container "a" must not set securityContext.runAsNonRoot=false"#
        )
    );
    let implicit = pod_with(&[
        ("a", Value::Null),
        ("b", json!({"runAsNonRoot": true})),
        ("c", json!({})),
    ]);
    assert_eq!(
        run(super::run_as_non_root, &implicit),
        forbidden(
            "runAsNonRoot != true",
            r#"pod or containers "a", "c" must set securityContext.runAsNonRoot=true"#
        )
    );
}

#[test]
fn run_as_user() {
    let ok = json!({"spec": {"securityContext": {"runAsUser": 1000},
        "containers": [{"name": "a", "securityContext": {"runAsUser": 1}}]}});
    assert_eq!(run(super::run_as_user, &ok), None);
    let pod = json!({"spec": {"securityContext": {"runAsUser": 0},
        "ephemeralContainers": [{"name": "debug", "securityContext": {"runAsUser": 0}}]}});
    assert_eq!(
        run(super::run_as_user, &pod),
        forbidden(
            "runAsUser=0",
            r#"pod and container "debug" must not set runAsUser=0"#
        )
    );
}

#[test]
fn seccomp_profile_restricted() {
    let pod_level = json!({"spec": {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "a"}]}});
    assert_eq!(run(super::seccomp_profile_restricted, &pod_level), None);
    let explicit = pod_with(&[
        ("a", json!({"seccompProfile": {"type": "Unconfined"}})),
        ("b", Value::Null),
    ]);
    assert_eq!(
        run(super::seccomp_profile_restricted, &explicit),
        forbidden(
            "seccompProfile",
            r#"container "a" must not set securityContext.seccompProfile.type to "Unconfined""#
        )
    );
    let implicit = pod_with(&[
        ("a", Value::Null),
        ("b", json!({"seccompProfile": {"type": "Localhost"}})),
    ]);
    assert_eq!(
        run(super::seccomp_profile_restricted, &implicit),
        forbidden(
            "seccompProfile",
            r#"pod or container "a" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost""#
        )
    );
}

#[test]
fn containers_are_visited_init_then_regular_then_ephemeral() {
    let pod = json!({"spec": {
        "ephemeralContainers": [{"name": "e", "securityContext": {"privileged": true}}],
        "containers": [{"name": "c", "securityContext": {"privileged": true}}],
        "initContainers": [{"name": "i", "securityContext": {"privileged": true}}]}});
    assert_eq!(
        run(super::privileged, &pod),
        forbidden(
            "privileged",
            r#"containers "i", "c", "e" must not set securityContext.privileged=true"#
        )
    );
}

#[test]
fn check_order_is_kubes() {
    let ids = |level| -> Vec<&str> { checks_for(level).iter().map(|c| c.id).collect() };
    assert!(ids(Level::Privileged).is_empty());
    assert_eq!(
        ids(Level::Baseline),
        [
            "appArmorProfile",
            "capabilities_baseline",
            "hostNamespaces",
            "hostPathVolumes",
            "hostPorts",
            "privileged",
            "procMount",
            "seLinuxOptions",
            "seccompProfile_baseline",
            "sysctls",
            "windowsHostProcess",
        ]
    );
    assert_eq!(
        ids(Level::Restricted),
        [
            "appArmorProfile",
            "hostNamespaces",
            "hostPorts",
            "privileged",
            "procMount",
            "seLinuxOptions",
            "sysctls",
            "windowsHostProcess",
            "allowPrivilegeEscalation",
            "capabilities_restricted",
            "restrictedVolumes",
            "runAsNonRoot",
            "runAsUser",
            "seccompProfile_restricted",
        ]
    );
    // The table is sorted per level as Go sorts strings (bytes).
    for level in [Level::Baseline, Level::Restricted] {
        let mut sorted: Vec<&str> = CHECKS
            .iter()
            .filter(|c| c.level == level)
            .map(|c| c.id)
            .collect();
        let table = sorted.clone();
        sorted.sort_unstable();
        assert_eq!(table, sorted);
    }
}

#[test]
fn a_plain_pod_under_restricted() {
    let pod = json!({"metadata": {"name": "nginx"}, "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}});
    let result = evaluate(Level::Restricted, &PodView::of(&pod));
    assert_eq!(
        result.forbidden_detail(),
        r#"allowPrivilegeEscalation != false (container "nginx" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "nginx" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "nginx" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "nginx" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
    );
    assert_eq!(
        result.forbidden_reason(),
        "allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile"
    );
    assert!(evaluate(Level::Baseline, &PodView::of(&pod)).allowed());
}

#[test]
fn restricted_replaces_the_baseline_checks_it_overrides() {
    // hostPath and an added capability: baseline names them its way, restricted its own.
    let pod = json!({"spec": {
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "a", "securityContext": {"allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}}],
        "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}});
    assert_eq!(
        evaluate(Level::Baseline, &PodView::of(&pod)).forbidden_reason(),
        "non-default capabilities, hostPath volumes"
    );
    assert_eq!(
        evaluate(Level::Restricted, &PodView::of(&pod)).forbidden_reason(),
        "unrestricted capabilities, restricted volume types"
    );
}
