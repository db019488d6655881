//! Whole-object tests of each kind, through the public entry points and after defaulting
//! (as the registry calls them): a valid object passes; each rule fails with kube's field
//! path and message, in kube's order.

use serde_json::{Value, json};

use super::*;
use crate::defaults::apply_defaults;
use crate::resources::by_kind;

const SUBDOMAIN_MSG: &str = r"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn resource(group: &str, kind: &str) -> &'static Resource {
    by_kind(group, "v1", kind).expect("a served kind")
}

fn texts(errors: &[FieldError]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

/// Defaults, then create validation, as the registry runs them.
fn create(group: &str, kind: &str, mut object: Value) -> Vec<String> {
    let r = resource(group, kind);
    apply_defaults(r, &mut object);
    texts(&validate_create(r, &object))
}

fn update(group: &str, kind: &str, mut object: Value, mut old: Value) -> Vec<String> {
    let r = resource(group, kind);
    apply_defaults(r, &mut object);
    apply_defaults(r, &mut old);
    texts(&validate_update(r, &object, &old))
}

fn push(list: &mut Value, item: Value) {
    if let Some(items) = list.as_array_mut() {
        items.push(item);
    }
}

fn none() -> Vec<String> {
    Vec::new()
}

// ---------------------------------------------------------------------------------------------
// Pods

fn pod(spec: Value) -> Value {
    json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
}

fn web_container() -> Value {
    json!({"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]})
}

#[test]
fn a_valid_pod() {
    assert_eq!(
        create("", "Pod", pod(json!({"containers": [web_container()]}))),
        none()
    );
    let full = pod(json!({
        "containers": [{
            "name": "web", "image": "nginx",
            "ports": [{"name": "http", "containerPort": 80}],
            "env": [{"name": "MODE", "value": "prod"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            "envFrom": [{"configMapRef": {"name": "cfg"}}],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "1", "memory": "128Mi"}},
            "livenessProbe": {"httpGet": {"port": "http"}},
            "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
            "securityContext": {"runAsUser": 1000, "allowPrivilegeEscalation": false},
        }],
        "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "tolerations": [{"key": "node", "operator": "Exists", "effect": "NoSchedule"}],
        "nodeSelector": {"disk": "ssd"},
        "serviceAccountName": "default",
    }));
    assert_eq!(create("", "Pod", full), none());
}

#[test]
fn pod_metadata_rules() {
    let mut bad = pod(json!({"containers": [web_container()]}));
    bad["metadata"] = json!({"name": "Web_1"});
    assert_eq!(
        create("", "Pod", bad),
        vec![
            format!(r#"metadata.name: Invalid value: "Web_1": {SUBDOMAIN_MSG}"#),
            "metadata.namespace: Required value".to_string(),
        ]
    );
}

#[test]
fn pod_needs_a_container_with_an_image() {
    assert_eq!(
        create("", "Pod", pod(json!({}))),
        vec!["spec.containers: Required value"]
    );
    assert_eq!(
        create("", "Pod", pod(json!({"containers": [{"name": "web"}]}))),
        vec!["spec.containers[0].image: Required value"]
    );
}

#[test]
fn pod_container_names_are_unique_across_init_containers() {
    let spec = json!({
        "containers": [web_container(), web_container()],
        "initContainers": [{"name": "web", "image": "busybox"}],
    });
    assert_eq!(
        create("", "Pod", pod(spec)),
        vec![
            r#"spec.containers[1].name: Duplicate value: "web""#,
            r#"spec.initContainers[0].name: Duplicate value: "web""#,
        ]
    );
}

#[test]
fn pod_ports_env_and_restart_policy() {
    let spec = json!({
        "restartPolicy": "Sometimes",
        "containers": [{
            "name": "web", "image": "nginx",
            "ports": [{"containerPort": 70000, "protocol": "HTTP"}, {"containerPort": 0}],
            "env": [{"name": "A=B"}, {"name": ""}],
        }],
    });
    assert_eq!(
        create("", "Pod", pod(spec)),
        vec![
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            r#"spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP""#,
            "spec.containers[0].ports[1].containerPort: Required value",
            r#"spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='"#,
            "spec.containers[0].env[1].name: Required value",
            r#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#,
        ]
    );
}

#[test]
fn pod_volumes_and_mounts() {
    let spec = json!({
        "containers": [{"name": "web", "image": "nginx",
            "volumeMounts": [{"name": "data", "mountPath": "/d"}, {"name": "cache", "mountPath": "/d"}]}],
        "volumes": [{"name": "cache", "emptyDir": {}}, {"name": "cache", "emptyDir": {}}],
    });
    assert_eq!(
        create("", "Pod", pod(spec)),
        vec![
            r#"spec.volumes[1].name: Duplicate value: "cache""#,
            r#"spec.containers[0].volumeMounts[0].name: Invalid value: "data": not found"#,
            r#"spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/d": must be unique"#,
        ]
    );
}

#[test]
fn pod_requests_within_limits() {
    let spec = json!({"containers": [{"name": "web", "image": "nginx",
        "resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}}]});
    assert_eq!(
        create("", "Pod", pod(spec)),
        vec![
            r#"spec.containers[0].resources.requests: Invalid value: "2Gi": must be less than or equal to memory limit of 1Gi"#
        ]
    );
}

#[test]
fn pod_probes_hooks_and_tolerations() {
    let spec = json!({
        "containers": [{"name": "web", "image": "nginx",
            "livenessProbe": {"exec": {}, "successThreshold": 2},
            "readinessProbe": {},
            "lifecycle": {"postStart": {"sleep": {"seconds": 60}}}}],
        "tolerations": [{"operator": "Equal", "value": "x"}],
    });
    assert_eq!(
        create("", "Pod", pod(spec)),
        vec![
            "spec.containers[0].lifecycle.postStart.sleep: Invalid value: 60: must be non-negative and less than terminationGracePeriodSeconds (30)",
            "spec.containers[0].livenessProbe.exec.command: Required value",
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
            "spec.containers[0].readinessProbe: Required value: must specify a handler type",
            r#"spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys""#,
        ]
    );
}

#[test]
fn pod_host_ports_are_unique() {
    let port = json!({"containerPort": 80, "hostPort": 8080});
    let spec = json!({
        "containers": [
            {"name": "a", "image": "x", "ports": [port.clone()]},
            {"name": "b", "image": "x", "ports": [port.clone()]},
        ],
        "initContainers": [
            {"name": "i", "image": "x"},
            {"name": "j", "image": "x", "ports": [port.clone(), port]},
        ],
    });
    assert_eq!(
        create("", "Pod", pod(spec)),
        vec![
            r#"spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080""#,
            // kube checks each init container alone, as the first of a list of one.
            r#"spec.initContainers[0].ports[1].hostPort: Duplicate value: "TCP//8080""#,
        ]
    );
}

#[test]
fn pod_fields_of_the_wrong_type_are_one_error_each() {
    let spec =
        json!({"containers": [{"name": "web", "image": 5, "ports": "80"}], "hostNetwork": "yes"});
    assert_eq!(
        create("", "Pod", pod(spec)),
        vec![
            "spec.containers[0].image: Invalid value: 5: must be of type string",
            r#"spec.containers[0].ports: Invalid value: "80": must be of type array"#,
            r#"spec.hostNetwork: Invalid value: "yes": must be of type boolean"#,
        ]
    );
}

#[test]
fn pod_create_forbids_ephemeral_containers() {
    let spec = json!({"containers": [web_container()],
        "ephemeralContainers": [{"name": "debug", "image": "busybox"}]});
    assert_eq!(
        create("", "Pod", pod(spec)),
        vec!["spec.ephemeralContainers: Forbidden: cannot be set on create"]
    );
}

#[test]
fn pod_updates_change_only_what_kube_allows() {
    let old = pod(
        json!({"containers": [web_container()], "activeDeadlineSeconds": 100,
        "tolerations": [{"key": "a", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]}),
    );
    let mut allowed = old.clone();
    allowed["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    allowed["spec"]["activeDeadlineSeconds"] = json!(50);
    allowed["spec"]["tolerations"][0]["tolerationSeconds"] = json!(10);
    push(
        &mut allowed["spec"]["tolerations"],
        json!({"key": "b", "operator": "Exists"}),
    );
    assert_eq!(update("", "Pod", allowed, old.clone()), none());

    let mut longer = old.clone();
    longer["spec"]["activeDeadlineSeconds"] = json!(200);
    assert_eq!(
        update("", "Pod", longer, old.clone()),
        vec![
            "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"
        ]
    );

    let mut more = old.clone();
    push(
        &mut more["spec"]["containers"],
        json!({"name": "side", "image": "busybox"}),
    );
    assert_eq!(
        update("", "Pod", more, old.clone()),
        vec!["spec.containers: Forbidden: pod updates may not add or remove containers"]
    );

    let mut changed = old.clone();
    changed["spec"]["restartPolicy"] = json!("Never");
    changed["spec"]["tolerations"] = json!([]);
    let errors = update("", "Pod", changed, old);
    assert_eq!(errors.len(), 2);
    assert_eq!(
        errors[0],
        "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"
    );
    assert_eq!(
        errors[1],
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n  core.PodSpec{\n- \trestartPolicy: \"Always\",\n+ \trestartPolicy: \"Never\",\n  }"
    );
}

#[test]
fn pod_generation_follows_the_spec() {
    let r = resource("", "Pod");
    let old = pod(json!({"containers": [web_container()]}));
    let mut relabeled = old.clone();
    relabeled["metadata"]["labels"] = json!({"a": "b"});
    assert!(!generation_changed(r, &relabeled, &old));
    let mut new_image = old.clone();
    new_image["spec"]["containers"][0]["image"] = json!("nginx:2");
    assert!(generation_changed(r, &new_image, &old));
    assert!(!generation_changed(
        resource("", "ConfigMap"),
        &new_image,
        &old
    ));
}

// ---------------------------------------------------------------------------------------------
// Services

fn service(spec: Value) -> Value {
    json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
}

#[test]
fn a_valid_service() {
    let spec = json!({"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]});
    assert_eq!(create("", "Service", service(spec)), none());
    let headless = json!({"clusterIP": "None", "selector": {"app": "web"}});
    assert_eq!(create("", "Service", service(headless)), none());
    let external = json!({"type": "ExternalName", "externalName": "db.example.com."});
    assert_eq!(create("", "Service", service(external)), none());
    let lb = json!({"type": "LoadBalancer", "ports": [{"port": 443, "nodePort": 30443}],
        "loadBalancerSourceRanges": ["10.0.0.0/8"]});
    assert_eq!(create("", "Service", service(lb)), none());
}

#[test]
fn service_rules() {
    let mut bad = service(json!({
        "type": "Cluster",
        "selector": {"app": "a b"},
        "ports": [{"port": 80}, {"name": "http", "port": 0, "targetPort": 70000, "protocol": "TCP", "nodePort": 30000}],
    }));
    bad["metadata"]["name"] = json!("1web");
    assert_eq!(
        create("", "Service", bad),
        vec![
            format!(r#"metadata.name: Invalid value: "1web": {DNS1035_MSG}"#),
            "spec.ports[0].name: Required value".to_string(),
            "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive".into(),
            "spec.ports[1].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive".into(),
            r#"spec.selector: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"#.into(),
            r#"spec.type: Unsupported value: "Cluster": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort""#.into(),
        ]
    );
    assert_eq!(
        create(
            "",
            "Service",
            service(json!({"ports": [{"port": 80, "nodePort": 30000}, {"port": 80}]}))
        ),
        vec![
            "spec.ports[0].name: Required value",
            "spec.ports[1].name: Required value",
            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
            r#"spec.ports[1]: Duplicate value: {"port":80,"protocol":"TCP"}"#,
        ]
    );
    assert_eq!(
        create("", "Service", service(json!({}))),
        vec!["spec.ports: Required value"]
    );
}

#[test]
fn service_cluster_ip_is_immutable() {
    let old = service(json!({"clusterIP": "10.0.0.1", "ports": [{"port": 80}]}));
    let mut new = old.clone();
    new["spec"]["clusterIP"] = json!("10.0.0.2");
    new["spec"]["clusterIPs"] = json!(["10.0.0.1"]);
    let mut stored = old.clone();
    apply_defaults(resource("", "Service"), &mut stored);
    assert_eq!(
        update("", "Service", new, stored.clone()),
        vec![r#"spec.clusterIPs[0]: Invalid value: ["10.0.0.2"]: may not change once set"#]
    );
    let mut same = stored.clone();
    same["spec"]["ports"][0]["port"] = json!(8080);
    same["spec"]["ports"][0]["targetPort"] = json!(8080);
    assert_eq!(update("", "Service", same, stored), none());
}

// ---------------------------------------------------------------------------------------------
// ConfigMaps and Secrets

fn named(kind_fields: Value) -> Value {
    let mut object = json!({"metadata": {"name": "cfg", "namespace": "default"}});
    if let (Some(o), Some(extra)) = (object.as_object_mut(), kind_fields.as_object()) {
        o.extend(extra.clone());
    }
    object
}

#[test]
fn config_maps() {
    assert_eq!(
        create(
            "",
            "ConfigMap",
            named(json!({"data": {"app.conf": "x"}, "binaryData": {"b": "AAE="}}))
        ),
        none()
    );
    assert_eq!(
        create(
            "",
            "ConfigMap",
            named(json!({"data": {"a b": "x", "k": "y"}, "binaryData": {"k": "AA=="}}))
        ),
        vec![
            r#"data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"#,
            r#"data[k]: Invalid value: "k": duplicate of key present in binaryData"#,
        ]
    );
    let big = "x".repeat(core_kinds::MAX_SECRET_SIZE + 1);
    assert_eq!(
        create("", "ConfigMap", named(json!({"data": {"big": big}}))),
        vec![": Too long: may not be more than 1048576 bytes"]
    );
    let old = named(json!({"immutable": true, "data": {"a": "1"}}));
    let new = named(json!({"immutable": false, "data": {"a": "2"}}));
    assert_eq!(
        update("", "ConfigMap", new, old),
        vec![
            "immutable: Forbidden: field is immutable when `immutable` is set",
            "data: Forbidden: field is immutable when `immutable` is set",
        ]
    );
}

#[test]
fn secrets() {
    assert_eq!(
        create(
            "",
            "Secret",
            named(json!({"data": {"password": "aHVudGVyMg=="}}))
        ),
        none()
    );
    assert_eq!(
        create(
            "",
            "Secret",
            named(json!({"type": "kubernetes.io/tls", "stringData": {"tls.crt": "x"}}))
        ),
        vec!["data[tls.key]: Required value"]
    );
    assert_eq!(
        create("", "Secret", named(json!({"data": {"k": "not base64!"}}))),
        vec![r#"data[k]: Invalid value: "not base64!": illegal base64 data at input byte 3"#]
    );
    let old = named(json!({"type": "Opaque", "data": {}}));
    let new = named(json!({"type": "kubernetes.io/basic-auth", "data": {"username": "dQ=="}}));
    assert_eq!(
        update("", "Secret", new, old),
        vec![r#"type: Invalid value: "kubernetes.io/basic-auth": field is immutable"#]
    );
}

// ---------------------------------------------------------------------------------------------
// Namespaces, ServiceAccounts, Events

#[test]
fn namespaces() {
    assert_eq!(
        create("", "Namespace", json!({"metadata": {"name": "team-a"}})),
        none()
    );
    assert_eq!(
        create(
            "",
            "Namespace",
            json!({"metadata": {"name": "team.a", "namespace": "x"}, "spec": {"finalizers": ["custom"]}})
        ),
        vec![
            r#"metadata.name: Invalid value: "team.a": must not contain dots"#,
            "metadata.namespace: Forbidden: not allowed on this type",
            r#"spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified"#,
        ]
    );
}

#[test]
fn service_accounts() {
    let sa = json!({"metadata": {"name": "builder", "namespace": "ci"}});
    assert_eq!(create("", "ServiceAccount", sa.clone()), none());
    let mut relabeled = sa.clone();
    relabeled["metadata"]["labels"] = json!({"-bad": "x"});
    let errors = update("", "ServiceAccount", relabeled, sa);
    // kube checks labels in the generic registry and in the kind's own validation, each
    // with its create and its update rules: the same cause four times.
    assert_eq!(errors.len(), 4);
    assert!(errors.iter().all(|e| {
        e.starts_with(r#"metadata.labels: Invalid value: "-bad": name part must consist"#)
    }));
}

#[test]
fn events() {
    let event = json!({"metadata": {"name": "web.1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"}, "reason": "Started"});
    assert_eq!(create("", "Event", event.clone()), none());
    let mut elsewhere = event.clone();
    elsewhere["involvedObject"]["namespace"] = json!("other");
    assert_eq!(
        create("", "Event", elsewhere),
        vec![r#"involvedObject.namespace: Invalid value: "other": does not match event.namespace"#]
    );
    let mut slashed = event;
    slashed["metadata"]["name"] = json!("a/b");
    assert_eq!(
        create("", "Event", slashed),
        vec![r#"metadata.name: Invalid value: "a/b": may not contain '/'"#]
    );
}

// ---------------------------------------------------------------------------------------------
// Deployments

fn deployment(spec: Value) -> Value {
    json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
}

fn web_template() -> Value {
    json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [web_container()]}})
}

#[test]
fn a_valid_deployment() {
    let spec = json!({"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": web_template()});
    assert_eq!(create("apps", "Deployment", deployment(spec)), none());
}

#[test]
fn deployment_selector_rules() {
    assert_eq!(
        create(
            "apps",
            "Deployment",
            deployment(json!({"template": web_template()}))
        ),
        vec![
            "spec.selector: Required value",
            r#"spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`"#,
        ]
    );
    let other = json!({"selector": {"matchLabels": {"app": "db"}}, "template": web_template()});
    assert_eq!(
        create("apps", "Deployment", deployment(other)),
        vec![
            r#"spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`"#
        ]
    );
    let empty = json!({"selector": {}, "template": web_template()});
    assert_eq!(
        create("apps", "Deployment", deployment(empty)),
        vec!["spec.selector: Invalid value: {}: empty selector is invalid for deployment"]
    );
}

#[test]
fn deployment_spec_rules() {
    let mut template = web_template();
    template["spec"]["restartPolicy"] = json!("Never");
    let spec = json!({
        "replicas": -1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": template,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}},
        "minReadySeconds": 700,
    });
    assert_eq!(
        create("apps", "Deployment", deployment(spec)),
        vec![
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            r#"spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always""#,
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
            "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds",
        ]
    );
    let recreate = json!({"selector": {"matchLabels": {"app": "web"}}, "template": web_template(),
        "strategy": {"type": "Recreate", "rollingUpdate": {}}});
    assert_eq!(
        create("apps", "Deployment", deployment(recreate)),
        vec![
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
        ]
    );
}

#[test]
fn deployment_selector_is_immutable_and_generation_follows_spec_and_annotations() {
    let old = deployment(
        json!({"selector": {"matchLabels": {"app": "web"}}, "template": web_template()}),
    );
    let mut new = old.clone();
    new["spec"]["selector"]["matchLabels"]["tier"] = json!("front");
    new["spec"]["template"]["metadata"]["labels"]["tier"] = json!("front");
    assert_eq!(
        update("apps", "Deployment", new, old.clone()),
        vec![
            r#"spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"front"}}: field is immutable"#
        ]
    );
    let r = resource("apps", "Deployment");
    let mut scaled = old.clone();
    scaled["spec"]["replicas"] = json!(5);
    assert!(generation_changed(r, &scaled, &old));
    let mut annotated = old.clone();
    annotated["metadata"]["annotations"] = json!({"note": "x"});
    assert!(generation_changed(r, &annotated, &old));
    let mut labeled = old.clone();
    labeled["metadata"]["labels"] = json!({"note": "x"});
    assert!(!generation_changed(r, &labeled, &old));
}

// ---------------------------------------------------------------------------------------------
// RBAC

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

#[test]
fn roles() {
    let role = json!({"metadata": {"name": "pod-reader:v1", "namespace": "ns"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
    assert_eq!(create(RBAC_GROUP, "Role", role), none());
    let bad = json!({"metadata": {"name": "a/b", "namespace": "ns"},
        "rules": [{"resources": ["pods"]}, {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]});
    assert_eq!(
        create(RBAC_GROUP, "Role", bad),
        vec![
            r#"metadata.name: Invalid value: "a/b": may not contain '/'"#,
            "rules[0].verbs: Required value: verbs must contain at least one value",
            "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
            r#"rules[1].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs"#,
        ]
    );
    let cluster = json!({"metadata": {"name": "health"}, "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]});
    assert_eq!(create(RBAC_GROUP, "ClusterRole", cluster), none());
}

#[test]
fn role_bindings() {
    let binding = json!({"metadata": {"name": "read", "namespace": "ns"},
        "roleRef": {"kind": "Role", "name": "pod-reader"},
        "subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "ci", "namespace": "ns"}]});
    assert_eq!(create(RBAC_GROUP, "RoleBinding", binding.clone()), none());
    let bad = json!({"metadata": {"name": "read", "namespace": "ns"},
        "roleRef": {"apiGroup": "example.com", "kind": "Pod"},
        "subjects": [{"kind": "Robot", "name": "r2"}, {"kind": "User"}]});
    assert_eq!(
        create(RBAC_GROUP, "RoleBinding", bad),
        vec![
            r#"roleRef.apiGroup: Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io""#,
            r#"roleRef.kind: Unsupported value: "Pod": supported values: "Role", "ClusterRole""#,
            "roleRef.name: Required value",
            r#"subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group""#,
            "subjects[1].name: Required value",
            r#"subjects[1].name: Invalid value: "": user name cannot be empty"#,
        ]
    );
    let cluster = json!({"metadata": {"name": "read"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "ci"}]});
    assert_eq!(
        create(RBAC_GROUP, "ClusterRoleBinding", cluster),
        vec!["subjects[0].namespace: Required value"]
    );
    let mut rebound = binding.clone();
    rebound["roleRef"]["name"] = json!("admin");
    assert_eq!(
        update(RBAC_GROUP, "RoleBinding", rebound, binding),
        vec![
            r#"roleRef: Invalid value: {"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"admin"}: cannot change roleRef"#
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Webhook configurations

const ADMISSION_GROUP: &str = "admissionregistration.k8s.io";

fn webhook_config(hooks: Value) -> Value {
    json!({"metadata": {"name": "policy"}, "webhooks": hooks})
}

fn good_hook() -> Value {
    json!({"name": "pods.policy.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
           "clientConfig": {"service": {"name": "policy", "namespace": "system", "path": "/validate"}},
           "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]})
}

#[test]
fn a_valid_webhook_configuration() {
    assert_eq!(
        create(
            ADMISSION_GROUP,
            "ValidatingWebhookConfiguration",
            webhook_config(json!([good_hook()]))
        ),
        none()
    );
    assert_eq!(
        create(
            ADMISSION_GROUP,
            "MutatingWebhookConfiguration",
            webhook_config(json!([good_hook()]))
        ),
        none()
    );
}

/// kubesim's transport annotation takes `grpc` or `https`; anything else is refused, not
/// left as a configuration no webhook call uses.
#[test]
fn the_admission_transport_annotation() {
    for (value, want) in [
        (json!("grpc"), none()),
        (json!("https"), none()),
        (
            json!("grcp"),
            vec![
                r#"metadata.annotations[admission.kubesim.io/transport]: Unsupported value: "grcp": supported values: "grpc", "https""#.to_string(),
            ],
        ),
    ] {
        let mut config = webhook_config(json!([good_hook()]));
        config["metadata"]["annotations"] = json!({"admission.kubesim.io/transport": value});
        assert_eq!(
            create(ADMISSION_GROUP, "MutatingWebhookConfiguration", config),
            want,
            "{value}"
        );
    }
}

#[test]
fn webhook_rules() {
    let hooks = json!([
        {"name": "policy.example", "clientConfig": {"url": "http://policy.example.com/x?y=1"},
         "timeoutSeconds": 31, "rules": [{"operations": ["GET"], "apiGroups": ["*", "apps"], "apiVersions": ["v1"], "resources": ["*", "pods"]}]},
        good_hook(),
        good_hook(),
    ]);
    assert_eq!(
        create(
            ADMISSION_GROUP,
            "ValidatingWebhookConfiguration",
            webhook_config(hooks)
        ),
        vec![
            r#"webhooks[0].name: Invalid value: "policy.example": should be a domain with at least three segments separated by dots"#,
            r#"webhooks[0].rules[0].operations[0]: Unsupported value: "GET": supported values: "*", "CONNECT", "CREATE", "DELETE", "UPDATE""#,
            r#"webhooks[0].rules[0].apiGroups: Invalid value: ["*","apps"]: if '*' is present, must not specify other API groups"#,
            r#"webhooks[0].rules[0].resources: Invalid value: ["*","pods"]: if '*' is present, must not specify other resources without subresources"#,
            "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
            "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds",
            r#"webhooks[0].clientConfig.url: Invalid value: "http": 'https' is the only allowed URL scheme; desired format: https://host[/path]"#,
            r#"webhooks[0].clientConfig.url: Invalid value: "y=1": query parameters are not permitted in the URL"#,
            "webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1",
            r#"webhooks[2].name: Duplicate value: "pods.policy.example.com""#,
        ]
    );
}

#[test]
fn webhook_updates_keep_old_configurations_editable() {
    let mut legacy = good_hook();
    legacy["sideEffects"] = json!("Unknown");
    let old = webhook_config(json!([legacy.clone()]));
    let mut new = old.clone();
    new["webhooks"][0]["timeoutSeconds"] = json!(5);
    assert_eq!(
        update(
            ADMISSION_GROUP,
            "MutatingWebhookConfiguration",
            new.clone(),
            old.clone()
        ),
        none()
    );
    assert_eq!(
        create(ADMISSION_GROUP, "MutatingWebhookConfiguration", new.clone()),
        vec![
            r#"webhooks[0].sideEffects: Unsupported value: "Unknown": supported values: "None", "NoneOnDryRun""#
        ]
    );
    let r = resource(ADMISSION_GROUP, "MutatingWebhookConfiguration");
    assert!(generation_changed(r, &new, &old));
    let mut relabeled = old.clone();
    relabeled["metadata"]["labels"] = json!({"a": "b"});
    assert!(!generation_changed(r, &relabeled, &old));
}

// ---------------------------------------------------------------------------------------------
// Any input

#[test]
fn a_body_that_is_not_an_object() {
    assert_eq!(
        texts(&validate_create(resource("", "ConfigMap"), &json!([1]))),
        vec![": Invalid value: [1]: must be of type object"]
    );
}

/// Values of every JSON type in every place the validators read, for every kind: nothing
/// may panic, whatever the shape.
#[test]
fn no_json_shape_panics() {
    let odd = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5),
        json!(""),
        json!("x"),
        json!([]),
        json!([null, 1, "a", {}]),
        json!({}),
        json!({"a": null}),
    ];
    let keys = [
        "metadata",
        "spec",
        "data",
        "binaryData",
        "stringData",
        "type",
        "rules",
        "roleRef",
        "subjects",
        "webhooks",
        "involvedObject",
        "eventTime",
        "immutable",
        "status",
    ];
    let spec_keys = [
        "containers",
        "initContainers",
        "ephemeralContainers",
        "volumes",
        "ports",
        "selector",
        "template",
        "strategy",
        "clusterIP",
        "clusterIPs",
        "ipFamilies",
        "tolerations",
        "dnsConfig",
        "securityContext",
        "finalizers",
        "replicas",
        "type",
        "externalIPs",
        "sessionAffinityConfig",
        "topologySpreadConstraints",
    ];
    for r in crate::resources::RESOURCES {
        for value in &odd {
            let mut objects = vec![value.clone()];
            for key in keys {
                objects.push(json!({ key: value }));
            }
            for key in spec_keys {
                objects.push(
                    json!({"metadata": {"name": "a", "namespace": "b"}, "spec": { key: value }}),
                );
                objects.push(json!({"spec": {"template": {"spec": { key: value }}, "containers": [{ key: value }]}}));
                objects.push(
                    json!({"webhooks": [{ key: value, "clientConfig": value, "rules": [value] }]}),
                );
            }
            for mut object in objects {
                let _ = validate_create(r, &object);
                let _ = validate_update(r, &object, value);
                let _ = generation_changed(r, &object, value);
                apply_defaults(r, &mut object);
                let _ = validate_create(r, &object);
                let _ = validate_update(r, &object, &object.clone());
            }
        }
    }
}

#[test]
fn errors_make_kube_apiservers_422() {
    let errors = validate_create(
        resource("", "Pod"),
        &json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {
            "containers": [{"name": "web", "terminationMessagePolicy": "File", "imagePullPolicy": "Always"}],
            "terminationGracePeriodSeconds": 30, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}}),
    );
    let status = crate::Status::invalid(&crate::status::GroupKind::new("", "Pod"), "web", &errors);
    assert_eq!(status.code, 422);
    assert_eq!(
        status.message,
        r#"Pod "web" is invalid: spec.containers[0].image: Required value"#
    );
    assert_eq!(
        status.to_json(),
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Pod \"web\" is invalid: spec.containers[0].image: Required value","reason":"Invalid","details":{"name":"web","kind":"Pod","causes":[{"reason":"FieldValueRequired","message":"Required value","field":"spec.containers[0].image"}]},"code":422}"#
    );
}
