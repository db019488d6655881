//! Bodies built field by field ([`encoder`]) for each kind kubectl creates, recorded kubectl
//! bodies ([`kubectl`]), the envelope's errors, the schema's protobuf numbers, and a seeded
//! fuzz over truncated, mutated and random bodies.
//!
//! Expected JSON is compared as text, so key order counts: it is Go's field order.

mod encoder;
mod kubectl;
mod reviews;

use serde_json::{Value, json};

use super::*;
use crate::resources::RESOURCES;
use encoder::{Msg, body, object_meta};

fn resource(plural: &str) -> &'static Resource {
    RESOURCES
        .iter()
        .find(|r| r.plural == plural)
        .unwrap_or_else(|| panic!("{plural}"))
}

/// The decoded JSON as text, for an exact comparison with `expected`.
#[track_caller]
fn assert_decodes(plural: &str, body: &[u8], expected: Value) {
    let decoded = decode_reporting(resource(plural), body).unwrap();
    assert_eq!(decoded.object.to_string(), expected.to_string());
    assert_eq!(decoded.unknown_fields, []);
}

/// `resources: {}` and the other non-pointer fields kubectl writes for a bare container.
fn kubectl_container(name: &str, image: &str) -> Msg {
    Msg::new()
        .str(1, name)
        .str(2, image)
        .str(5, "")
        .msg(8, Msg::new())
        .str(13, "")
        .str(14, "")
        .bool(16, false)
        .bool(17, false)
        .bool(18, false)
        .str(20, "")
}

/// A PodSpec with kubectl's zero non-pointer fields around `containers`.
fn kubectl_pod_spec(containers: Msg) -> Msg {
    Msg::new()
        .msg(2, containers)
        .str(3, "")
        .str(6, "")
        .str(8, "")
        .str(9, "")
        .str(10, "")
        .bool(11, false)
        .bool(12, false)
        .bool(13, false)
        .str(16, "")
        .str(17, "")
        .str(19, "")
        .str(24, "")
}

#[test]
fn configmap_with_data_and_binary_data() {
    let object = Msg::new()
        .msg(1, object_meta("cm"))
        // Map entries in any order: JSON sorts them, as Go does.
        .entry(2, "b", "two")
        .entry(2, "a", "1")
        .msg(3, Msg::new().str(1, "bin").bytes(2, &[0, 1, 2, 0xff]))
        // `immutable` is a *bool: a false on the wire was set on purpose.
        .bool(4, false);
    assert_decodes(
        "configmaps",
        &body("v1", "ConfigMap", object),
        json!({
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"name": "cm", "creationTimestamp": null},
            "data": {"a": "1", "b": "two"},
            "binaryData": {"bin": "AAEC/w=="},
            "immutable": false
        }),
    );
}

#[test]
fn namespace_with_labels_and_finalizers() {
    let meta = object_meta("team-a").entry(11, "team", "a");
    let object = Msg::new()
        .msg(1, meta)
        .msg(2, Msg::new().str(1, "kubernetes"))
        .msg(3, Msg::new().str(1, ""));
    assert_decodes(
        "namespaces",
        &body("v1", "Namespace", object),
        json!({
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {"name": "team-a", "creationTimestamp": null, "labels": {"team": "a"}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {}
        }),
    );
}

#[test]
fn secret_with_data_type_and_string_data() {
    let object = Msg::new()
        .msg(1, object_meta("s"))
        .msg(2, Msg::new().str(1, "password").bytes(2, b"hunter2"))
        .str(3, "Opaque")
        .entry(4, "user", "admin");
    assert_decodes(
        "secrets",
        &body("v1", "Secret", object),
        json!({
            "kind": "Secret",
            "apiVersion": "v1",
            "metadata": {"name": "s", "creationTimestamp": null},
            "data": {"password": "aHVudGVyMg=="},
            "type": "Opaque",
            "stringData": {"user": "admin"}
        }),
    );
}

/// `kubectl create deployment web --image=nginx --replicas=2`, field by field.
#[test]
fn deployment_as_kubectl_creates_it() {
    let labels = || Msg::new().str(1, "app").str(2, "web");
    let template = Msg::new()
        .msg(1, object_meta("").msg(11, labels()))
        .msg(2, kubectl_pod_spec(kubectl_container("nginx", "nginx")));
    let spec = Msg::new()
        .int(1, 2)
        .msg(2, Msg::new().msg(1, labels()))
        .msg(3, template)
        .msg(4, Msg::new().str(1, ""))
        .int(5, 0)
        .bool(7, false);
    let object = Msg::new()
        .msg(1, object_meta("web").msg(11, labels()))
        .msg(2, spec)
        .msg(3, Msg::new().int(1, 0).int(2, 0));
    assert_decodes(
        "deployments",
        &body("apps/v1", "Deployment", object),
        json!({
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {"name": "web", "creationTimestamp": null, "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}
                },
                "strategy": {}
            },
            "status": {}
        }),
    );
}

#[test]
fn pointer_zeros_are_kept_and_plain_zeros_dropped() {
    let rolling = Msg::new()
        .msg(1, Msg::new().int(1, 0).int(2, 0))
        .msg(2, Msg::new().int(1, 1).str(3, "25%"));
    let spec = Msg::new()
        // replicas and revisionHistoryLimit are *int32: 0 means 0, not "default".
        .int(1, 0)
        .msg(4, Msg::new().str(1, "RollingUpdate").msg(2, rolling))
        // minReadySeconds and paused are plain: 0 and false are what unset looks like.
        .int(5, 0)
        .int(6, 0)
        .bool(7, false);
    let object = Msg::new().msg(1, object_meta("web")).msg(2, spec);
    assert_decodes(
        "deployments",
        &body("apps/v1", "Deployment", object),
        json!({
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {"name": "web", "creationTimestamp": null},
            "spec": {
                "replicas": 0,
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}
                },
                "revisionHistoryLimit": 0
            }
        }),
    );
}

#[test]
fn service_ports_with_int_and_named_target_ports() {
    let http = Msg::new()
        .str(1, "http")
        .str(2, "TCP")
        .int(3, 80)
        .msg(4, Msg::new().int(1, 0).int(2, 8080).str(3, ""))
        .int(5, 0);
    let metrics = Msg::new()
        .str(1, "metrics")
        .str(2, "TCP")
        .int(3, 9090)
        .msg(4, Msg::new().int(1, 1).int(2, 0).str(3, "metrics"))
        .int(5, 0);
    let spec = Msg::new()
        .msg(1, http)
        .msg(1, metrics)
        .entry(2, "app", "web")
        .str(3, "")
        .str(4, "ClusterIP")
        .str(7, "")
        .bool(13, false);
    let object = Msg::new()
        .msg(1, object_meta("web"))
        .msg(2, spec)
        .msg(3, Msg::new().msg(1, Msg::new()));
    assert_decodes(
        "services",
        &body("v1", "Service", object),
        json!({
            "kind": "Service",
            "apiVersion": "v1",
            "metadata": {"name": "web", "creationTimestamp": null},
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": "metrics"}
                ],
                "selector": {"app": "web"},
                "type": "ClusterIP"
            },
            "status": {"loadBalancer": {}}
        }),
    );
}

#[test]
fn cluster_role_with_rules() {
    let pods = Msg::new()
        .str(1, "get")
        .str(1, "list")
        .str(1, "watch")
        .str(2, "")
        .str(3, "pods")
        .str(3, "pods/log");
    let healthz = Msg::new().str(1, "get").str(5, "/healthz");
    let object = Msg::new()
        .msg(1, object_meta("reader"))
        .msg(2, pods)
        .msg(2, healthz);
    assert_decodes(
        "clusterroles",
        &body("rbac.authorization.k8s.io/v1", "ClusterRole", object),
        json!({
            "kind": "ClusterRole",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "reader", "creationTimestamp": null},
            "rules": [
                {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods", "pods/log"]},
                {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}
            ]
        }),
    );
}

#[test]
fn role_binding_with_subjects() {
    let rbac = "rbac.authorization.k8s.io";
    let alice = Msg::new()
        .str(1, "User")
        .str(2, rbac)
        .str(3, "alice")
        .str(4, "");
    let robot = Msg::new()
        .str(1, "ServiceAccount")
        .str(2, "")
        .str(3, "robot")
        .str(4, "ci");
    let role_ref = Msg::new().str(1, rbac).str(2, "Role").str(3, "reader");
    let object = Msg::new()
        .msg(1, object_meta("read").str(3, "ci"))
        .msg(2, alice)
        .msg(2, robot)
        .msg(3, role_ref);
    assert_decodes(
        "rolebindings",
        &body("rbac.authorization.k8s.io/v1", "RoleBinding", object),
        json!({
            "kind": "RoleBinding",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "read", "namespace": "ci", "creationTimestamp": null},
            "subjects": [
                {"kind": "User", "apiGroup": rbac, "name": "alice"},
                {"kind": "ServiceAccount", "name": "robot", "namespace": "ci"}
            ],
            "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "reader"}
        }),
    );
}

/// Go embeds VolumeSource, LocalObjectReference, ProbeHandler and EphemeralContainerCommon
/// inline: nested messages on the wire, flat fields in JSON.
#[test]
fn embedded_structs_are_flattened() {
    let local_ref = |name: &str| Msg::new().str(1, name);
    let config_map = Msg::new()
        .msg(1, local_ref("app"))
        .msg(2, Msg::new().str(1, "k").str(2, "p"))
        .int(3, 420);
    let volume = Msg::new()
        .str(1, "config")
        .msg(2, Msg::new().msg(19, config_map));
    let key_ref = Msg::new().msg(1, local_ref("app")).str(2, "k");
    let env = Msg::new()
        .str(1, "X")
        .str(2, "")
        .msg(3, Msg::new().msg(3, key_ref));
    let named_port = Msg::new().int(1, 1).str(3, "http");
    let http_get = Msg::new().str(1, "/healthz").msg(2, named_port);
    let probe = Msg::new().msg(1, Msg::new().msg(2, http_get)).int(4, 10);
    let container = Msg::new()
        .str(1, "app")
        .str(2, "app:1")
        .msg(7, env)
        .msg(11, probe);
    let debug = Msg::new()
        .msg(1, Msg::new().str(1, "debug").str(2, "busybox"))
        .str(2, "app");
    let spec = Msg::new().msg(1, volume).msg(2, container).msg(34, debug);
    let object = Msg::new().msg(1, object_meta("p")).msg(2, spec);
    assert_decodes(
        "pods",
        &body("v1", "Pod", object),
        json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"name": "p", "creationTimestamp": null},
            "spec": {
                "volumes": [{
                    "name": "config",
                    "configMap": {"name": "app", "items": [{"key": "k", "path": "p"}], "defaultMode": 420}
                }],
                "containers": [{
                    "name": "app",
                    "image": "app:1",
                    "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "k"}}}],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10}
                }],
                "ephemeralContainers": [{"name": "debug", "image": "busybox", "targetContainerName": "app"}]
            }
        }),
    );
}

#[test]
fn packed_and_unpacked_repeated_ints_and_pointer_scalars() {
    let security = Msg::new()
        .int(2, 0)
        .bool(3, false)
        .bytes(4, &[0xe8, 0x07, 0xd0, 0x0f])
        .int(4, 3000)
        .int(5, -1);
    let spec = Msg::new()
        .msg(2, Msg::new().str(1, "app"))
        .msg(14, security)
        .bool(21, false);
    let object = Msg::new().msg(1, object_meta("p")).msg(2, spec);
    assert_decodes(
        "pods",
        &body("v1", "Pod", object),
        json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"name": "p", "creationTimestamp": null},
            "spec": {
                "containers": [{"name": "app"}],
                "securityContext": {
                    "runAsUser": 0,
                    "runAsNonRoot": false,
                    "supplementalGroups": [1000, 2000, 3000],
                    "fsGroup": -1
                },
                "automountServiceAccountToken": false
            }
        }),
    );
}

#[test]
fn event_times_micro_times_and_managed_fields() {
    let managed = Msg::new()
        .str(1, "kubectl")
        .str(2, "Update")
        .str(3, "v1")
        .msg(4, Msg::new().int(1, 1_795_935_418))
        .str(6, "FieldsV1")
        .msg(7, Msg::new().str(1, r#"{"f:reason":{}}"#));
    let meta = object_meta("e").msg(17, managed);
    let involved = Msg::new().str(1, "Pod").str(3, "web");
    let object = Msg::new()
        .msg(1, meta)
        .msg(2, involved)
        .str(3, "Started")
        .msg(5, Msg::new())
        .msg(6, Msg::new().int(1, 1_795_935_418))
        .msg(7, Msg::new())
        .int(8, 1)
        .msg(10, Msg::new().int(1, 1_795_935_418).int(2, 5_000_999))
        .str(14, "")
        .str(15, "");
    assert_decodes(
        "events",
        &body("v1", "Event", object),
        json!({
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {
                "name": "e",
                "creationTimestamp": null,
                "managedFields": [{
                    "manager": "kubectl",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2026-11-29T06:56:58Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:reason": {}}
                }]
            },
            "involvedObject": {"kind": "Pod", "name": "web"},
            "reason": "Started",
            "source": {},
            "firstTimestamp": "2026-11-29T06:56:58Z",
            "lastTimestamp": null,
            "count": 1,
            "eventTime": "2026-11-29T06:56:58.005000Z",
            "reportingComponent": "",
            "reportingInstance": ""
        }),
    );
}

#[test]
fn webhook_rules_embed_their_rule() {
    let rule = Msg::new()
        .str(1, "")
        .str(2, "v1")
        .str(3, "pods")
        .str(4, "Namespaced");
    let rules = Msg::new().str(1, "CREATE").msg(2, rule);
    let client = Msg::new()
        .bytes(2, b"CA")
        .str(3, "https://hook.example/validate");
    let webhook = Msg::new()
        .str(1, "check.example.com")
        .msg(2, client)
        .msg(3, rules)
        .str(6, "None")
        .int(7, 5)
        .str(8, "v1");
    let object = Msg::new().msg(1, object_meta("check")).msg(2, webhook);
    assert_decodes(
        "validatingwebhookconfigurations",
        &body(
            "admissionregistration.k8s.io/v1",
            "ValidatingWebhookConfiguration",
            object,
        ),
        json!({
            "kind": "ValidatingWebhookConfiguration",
            "apiVersion": "admissionregistration.k8s.io/v1",
            "metadata": {"name": "check", "creationTimestamp": null},
            "webhooks": [{
                "name": "check.example.com",
                "clientConfig": {"caBundle": "Q0E=", "url": "https://hook.example/validate"},
                "rules": [{
                    "operations": ["CREATE"],
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "resources": ["pods"],
                    "scope": "Namespaced"
                }],
                "sideEffects": "None",
                "timeoutSeconds": 5,
                "admissionReviewVersions": ["v1"]
            }]
        }),
    );
}

/// Proto2 merges: a message field given twice is one merged message, a scalar keeps its
/// last value, lists append, and a repeated map key keeps its last value.
#[test]
fn repeated_occurrences_merge_as_proto2_does() {
    let object = Msg::new()
        .msg(1, Msg::new().str(1, "first").entry(11, "a", "1"))
        .entry(2, "k", "old")
        .msg(1, Msg::new().str(1, "cm").entry(11, "b", "2"))
        .entry(2, "k", "new");
    assert_decodes(
        "configmaps",
        &body("v1", "ConfigMap", object),
        json!({
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"name": "cm", "labels": {"a": "1", "b": "2"}},
            "data": {"k": "new"}
        }),
    );
}

#[test]
fn unknown_fields_are_skipped_and_reported_by_path() {
    let container = Msg::new().str(1, "app").str(50, "future");
    let git_repo = Msg::new()
        .str(1, "https://example/repo")
        .str(9, "undescribed");
    let volume = Msg::new().str(1, "src").msg(2, Msg::new().msg(5, git_repo));
    let pod_spec = Msg::new().msg(1, volume).msg(2, container);
    let spec = Msg::new().msg(3, Msg::new().msg(2, pod_spec));
    let object = Msg::new()
        .msg(1, Msg::new().str(1, "web"))
        .msg(2, spec)
        .int(99, 7);
    let decoded = decode_reporting(
        resource("deployments"),
        &body("apps/v1", "Deployment", object),
    )
    .unwrap();
    assert_eq!(
        decoded.object["spec"]["template"]["spec"],
        json!({
            "volumes": [{"name": "src", "gitRepo": {"repository": "https://example/repo"}}],
            "containers": [{"name": "app"}]
        })
    );
    // The gitRepo source is an open type (described in part): its field 9 goes unreported.
    assert_eq!(
        decoded.unknown_fields,
        [
            UnknownField {
                path: "spec.template.spec.containers[0]".to_owned(),
                number: 50
            },
            UnknownField {
                path: String::new(),
                number: 99
            },
        ]
    );
}

#[test]
fn kind_and_api_version_default_from_the_resource() {
    let object = Msg::new().msg(1, Msg::new().str(1, "cm")).into_bytes();
    let mut bare = b"k8s\0".to_vec();
    bare.extend(Msg::new().bytes(2, &object).into_bytes());
    assert_decodes(
        "configmaps",
        &bare,
        json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "cm"}}),
    );
}

#[test]
fn the_envelopes_kind_chooses_the_schema() {
    // A Secret POSTed to configmaps decodes as a Secret; the handler then refuses it as it
    // refuses such a JSON body.
    let secret = Msg::new().msg(1, Msg::new().str(1, "s")).str(3, "Opaque");
    let decoded = decode(resource("configmaps"), &body("v1", "Secret", secret)).unwrap();
    assert_eq!(
        decoded.to_string(),
        r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s"},"type":"Opaque"}"#
    );
    assert_eq!(
        decode(resource("configmaps"), &body("v1", "Widget", Msg::new())),
        Err(
            "no kind \"Widget\" is registered for version \"v1\" in scheme \
             \"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30\""
                .to_owned()
        )
    );
    assert!(decode(resource("configmaps"), &body("v2", "ConfigMap", Msg::new())).is_err());
}

#[test]
fn malformed_bodies_are_refused_with_kubes_messages() {
    let configmaps = resource("configmaps");
    let prefix_error =
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]";
    let truncated = {
        let mut body = body("v1", "ConfigMap", Msg::new().msg(1, object_meta("cm")));
        body.pop();
        body
    };
    let wrong_type = body("v1", "ConfigMap", Msg::new().int(1, 5));
    let cases: [(&[u8], &str); 7] = [
        (b"", "empty data"),
        (b"k8s\0", "empty body"),
        (b"k8s", prefix_error),
        (b"{\"kind\":\"ConfigMap\"}", prefix_error),
        (&truncated, "unexpected EOF"),
        (&wrong_type, "proto: wrong wireType = 0 for field metadata"),
        (b"k8s\0\x0a\x03\x08", "unexpected EOF"),
    ];
    for (body, error) in cases {
        assert_eq!(decode(configmaps, body), Err(error.to_owned()), "{body:?}");
    }
}

/// Everything the decoder reads from the schema: every field of every type a kind reaches
/// has a field number (but TypeMeta's and the undescribed parts of open types), numbers are
/// unique within a message, embedded messages do not collide with fields, and only scalars
/// carry `keeps_zero`.
#[test]
fn the_schema_numbers_every_field_a_kind_reaches() {
    use crate::schema::{Type, kind_type, reachable};
    let roots: Vec<_> = RESOURCES.iter().filter_map(kind_type).collect();
    assert_eq!(roots.len(), RESOURCES.len());
    let mut numbered = 0;
    for def in reachable(&roots) {
        assert_eq!(def.base.is_some(), def.base_proto_tag != 0, "{}", def.name);
        let mut seen = Vec::new();
        for field in def.fields {
            let at = format!("{}.{}", def.name, field.name);
            let proto = field.proto;
            if proto.tag == 0 {
                assert!(
                    matches!(field.name, "apiVersion" | "kind"),
                    "{at} has no number"
                );
                continue;
            }
            numbered += 1;
            assert!(
                !seen.contains(&(proto.embedded_in, proto.tag)),
                "{at} twice"
            );
            seen.push((proto.embedded_in, proto.tag));
            if proto.keeps_zero {
                let scalar = [
                    Type::String,
                    Type::Int32,
                    Type::Int64,
                    Type::Boolean,
                    Type::Bytes,
                ];
                assert!(
                    scalar.contains(&field.ty),
                    "{at}: keeps_zero on a non-scalar"
                );
            }
        }
        let mut embedded: Vec<u32> = seen.iter().map(|&(e, _)| e).filter(|&e| e != 0).collect();
        embedded.extend((def.base_proto_tag != 0).then_some(def.base_proto_tag));
        for number in embedded {
            assert!(
                !seen.contains(&(0, number)),
                "{}: field {number} is both a field and an embedded struct",
                def.name
            );
        }
    }
    assert!(numbered > 700, "{numbered} numbered fields");
}

/// xorshift64*: a seeded generator, so a failure names the seed that reproduces it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Property: no body makes the decoder panic, and what it accepts is an object with a kind.
#[track_caller]
fn decodes_or_refuses(resource: &Resource, body: &[u8], seed: u64) {
    if let Ok(object) = decode(resource, body) {
        assert!(object["kind"].is_string(), "seed {seed}: {body:?}");
    }
}

#[test]
fn fuzz_truncated_mutated_and_random_bodies_never_panic() {
    let bodies = kubectl::bodies();
    // Every prefix of every recorded body.
    for (resource, body) in &bodies {
        for len in 0..=body.len() {
            decodes_or_refuses(resource, &body[..len], 0);
        }
    }
    // Recorded bodies with a few bytes changed, and random bytes after the magic, for every
    // served kind.
    for seed in 1..=3000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let (resource, original) = &bodies[rng.below(bodies.len())];
        let mut mutated = original.clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(mutated.len());
            mutated[at] = rng.next() as u8;
        }
        decodes_or_refuses(resource, &mutated, seed);
        let mut random = b"k8s\0".to_vec();
        random.extend((0..rng.below(200)).map(|_| rng.next() as u8));
        decodes_or_refuses(&RESOURCES[rng.below(RESOURCES.len())], &random, seed);
    }
}

/// A random message that is valid on the wire: small field numbers (where the schema's
/// fields are), every wire type, nested messages up to `depth`.
fn random_message(rng: &mut Rng, depth: usize) -> Msg {
    let mut msg = Msg::new();
    for _ in 0..rng.below(6) {
        let range = if rng.below(8) == 0 { 60 } else { 12 };
        let number = 1 + rng.below(range) as u32;
        msg = match rng.below(5) {
            0 => msg.int(number, rng.next() as i64 >> rng.below(64)),
            1 => msg.str(number, ["", "a", "0", "k8s", "\u{e9}"][rng.below(5)]),
            2 if depth > 0 => msg.msg(number, random_message(rng, depth - 1)),
            3 => msg.raw(&[(number as u8) << 3 | 5, 1, 2, 3, 4]),
            _ => msg.bytes(number, &[rng.next() as u8, 0x08, 0x01]),
        };
    }
    msg
}

/// Random well-formed messages decoded as each kind's object: they reach deep into the
/// schema (maps, lists, embedded structs, Time, IntOrString) where random bytes do not.
#[test]
fn fuzz_random_messages_of_every_kind_never_panic() {
    for (i, resource) in RESOURCES.iter().enumerate() {
        for seed in 0..400u64 {
            let mut rng = Rng((i as u64 + 1) << 32 | (seed + 1));
            let object = random_message(&mut rng, 6);
            let body = body(&resource.api_version(), resource.kind, object);
            decodes_or_refuses(resource, &body, seed);
        }
    }
}
