//! The review APIs, TokenRequest and the Node resource over HTTPS, against the in-process
//! store and API server ([`common::shared`]), as kube-apiserver answers them. The shared
//! server runs with kube-apiserver's default security: anonymous requests on (the test
//! client presents no credentials, so it is `system:anonymous`), AlwaysAllow, and no
//! `--service-account-signing-key-file`.

// The fixture is shared with tests/rest.rs, which uses the parts this file does not.
#[allow(dead_code)]
mod common;

use common::{bounded, shared};
use hyper::Method;
use kubesim_proto::etcdserverpb::RangeRequest;
use serde_json::{Value, json};

const SSAR: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
const SAR: &str = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// `kubectl.1.33 auth can-i list pods` (namespace `default`), as it POSTed it: protobuf.
const CAN_I_LIST_PODS: &str = concat!(
    "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a65",
    "6374416363657373526576696577123d0a100a0012001a0022002a00320038004200121f0a1d0a076465",
    "6661756c7412046c6973741a0022002a04706f647332003a001a08080012001a0020001a002200",
);

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn assert_timestamp(value: &Value) {
    let shape: String = value
        .as_str()
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_ascii_digit() { 'd' } else { c })
        .collect();
    assert_eq!(shape, "dddd-dd-ddTdd:dd:ddZ", "not a metav1.Time: {value}");
}

// ---------------------------------------------------------------------------------------------
// The reviews

#[tokio::test]
async fn whoami_answers_the_caller_in_each_version_kubectl_asks() {
    bounded(async {
        let api = shared();
        for version in ["v1", "v1beta1", "v1alpha1"] {
            let path = format!("/apis/authentication.k8s.io/{version}/selfsubjectreviews");
            let body = json!({"kind": "SelfSubjectReview",
                              "apiVersion": format!("authentication.k8s.io/{version}"),
                              "metadata": {"creationTimestamp": null}, "status": {"userInfo": {}}});
            let reply = api.post(&path, &body).await;
            assert_eq!(reply.code, 201, "{reply:?}");
            let review = reply.json();
            assert_eq!(
                review["apiVersion"],
                format!("authentication.k8s.io/{version}")
            );
            assert_eq!(
                review["status"],
                json!({"userInfo": {"username": "system:anonymous",
                                    "groups": ["system:unauthenticated"]}})
            );
            assert_timestamp(&review["metadata"]["creationTimestamp"]);
        }
    })
    .await;
}

#[tokio::test]
async fn kubectl_1_33s_protobuf_can_i_is_answered_in_json() {
    bounded(async {
        let api = shared();
        let reply = api
            .request(
                Method::POST,
                SSAR,
                &[("content-type", PROTOBUF), ("accept", "application/json")],
                hex(CAN_I_LIST_PODS),
            )
            .await;
        assert_eq!(reply.code, 201, "{reply:?}");
        assert_eq!(reply.content_type(), "application/json");
        assert_eq!(
            reply.json(),
            json!({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                   "metadata": {"creationTimestamp": null},
                   "spec": {"resourceAttributes": {"namespace": "default", "verb": "list",
                                                   "resource": "pods"}},
                   "status": {"allowed": true}})
        );
    })
    .await;
}

#[tokio::test]
async fn subject_access_reviews_are_validated_and_create_only() {
    bounded(async {
        let api = shared();
        let reply = api
            .post(
                SAR,
                &json!({"spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}}),
            )
            .await;
        assert_eq!(reply.code, 422, "{reply:?}");
        assert_eq!(
            reply.json()["message"],
            "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: Invalid \
             value: \"\": at least one of user or group must be specified"
        );
        let reply = api
            .post(
                SAR,
                &json!({"spec": {"user": "jane", "groups": ["system:masters"],
                                 "nonResourceAttributes": {"path": "/metrics", "verb": "get"}}}),
            )
            .await;
        assert_eq!(reply.code, 201, "{reply:?}");
        assert_eq!(reply.json()["status"], json!({"allowed": true}));

        let reply = api.get(SAR).await;
        assert_eq!(reply.code, 405, "{reply:?}");
        assert_eq!(reply.json()["reason"], "MethodNotAllowed");

        let local = "/apis/authorization.k8s.io/v1/namespaces/dev/localsubjectaccessreviews";
        let reply = api
            .post(
                local,
                &json!({"spec": {"user": "u", "resourceAttributes": {"namespace": "prod"}}}),
            )
            .await;
        assert_eq!(reply.code, 422, "{reply:?}");
        assert_eq!(
            reply.json()["details"]["causes"][0]["field"],
            "spec.resourceAttributes.namespace"
        );
    })
    .await;
}

#[tokio::test]
async fn token_requests_are_not_served_without_a_signing_key() {
    bounded(async {
        let api = shared();
        let reply = api
            .post(
                "/api/v1/namespaces/default/serviceaccounts/default/token",
                &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                        "spec": {"audiences": ["api"]}}),
            )
            .await;
        assert_eq!(reply.code, 404, "{reply:?}");
        assert_eq!(
            reply.json()["message"],
            "serviceaccounts/token is not served: --service-account-signing-key-file is not set"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Nodes

fn node(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"node-role.kubernetes.io/worker": ""}},
        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
        "status": {
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}],
            "nodeInfo": {"kubeletVersion": "v1.33.0"}
        }
    })
}

#[tokio::test]
async fn nodes_are_stored_under_minions_with_their_status_defaulted() {
    bounded(async {
        let api = shared();
        let reply = api.post("/api/v1/nodes", &node("reviews-n1")).await;
        assert_eq!(reply.code, 201, "{reply:?}");
        let created = reply.json();
        assert_eq!(
            created["status"]["allocatable"],
            json!({"cpu": "4", "memory": "8Gi", "pods": "110"})
        );
        assert!(created["metadata"].get("namespace").is_none());
        assert!(created["metadata"].get("generation").is_none());

        let mut kv = api.kv();
        let range = RangeRequest {
            key: b"/registry/minions/reviews-n1".to_vec(),
            ..RangeRequest::default()
        };
        let stored = kv.range(range).await.expect("a range").into_inner();
        assert_eq!(
            stored.kvs.len(),
            1,
            "the node is kept under /registry/minions/"
        );

        let reply = api.get("/api/v1/nodes/reviews-n1").await;
        assert_eq!(reply.code, 200, "{reply:?}");
        assert_eq!(reply.json()["spec"]["podCIDRs"], json!(["10.244.1.0/24"]));

        let table = api
            .get_as(
                "/api/v1/nodes?fieldSelector=metadata.name%3Dreviews-n1",
                "application/json;as=Table;v=v1;g=meta.k8s.io",
            )
            .await;
        assert_eq!(table.code, 200, "{table:?}");
        let table = table.json();
        let names: Vec<&str> = table["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["priority"] == 0)
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Name", "Status", "Roles", "Age", "Version"]);
        let cells = &table["rows"][0]["cells"];
        assert_eq!(cells[0], "reviews-n1");
        assert_eq!(cells[1], "Ready");
        assert_eq!(cells[2], "worker");
        assert_eq!(cells[4], "v1.33.0");
        assert_eq!(cells[5], "10.0.0.5");

        let reply = api.delete("/api/v1/nodes/reviews-n1").await;
        assert_eq!(reply.code, 200, "{reply:?}");
        assert_eq!(api.get("/api/v1/nodes/reviews-n1").await.code, 404);
    })
    .await;
}

#[tokio::test]
async fn node_status_is_written_through_its_subresource_only() {
    bounded(async {
        let api = shared();
        let created = api.create("/api/v1/nodes", &node("reviews-n2")).await;

        let mut cordoned = created.clone();
        cordoned["spec"]["unschedulable"] = json!(true);
        cordoned["status"]["conditions"][0]["status"] = json!("False");
        let reply = api.put("/api/v1/nodes/reviews-n2", &cordoned).await;
        assert_eq!(reply.code, 200, "{reply:?}");
        let updated = reply.json();
        assert_eq!(updated["spec"]["unschedulable"], true);
        assert_eq!(
            updated["status"]["conditions"][0]["status"], "True",
            "the main resource does not write status"
        );

        let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]},
                           "spec": {"unschedulable": false}});
        let reply = api
            .merge_patch("/api/v1/nodes/reviews-n2/status", &patch)
            .await;
        assert_eq!(reply.code, 200, "{reply:?}");
        let patched = reply.json();
        assert_eq!(patched["status"]["conditions"][0]["status"], "False");
        assert_eq!(
            patched["spec"]["unschedulable"], true,
            "status does not write spec"
        );

        let moved = json!({"spec": {"podCIDRs": ["10.244.9.0/24"]}});
        let reply = api.merge_patch("/api/v1/nodes/reviews-n2", &moved).await;
        assert_eq!(reply.code, 422, "{reply:?}");
        assert_eq!(
            reply.json()["message"],
            "Node \"reviews-n2\" is invalid: spec.podCIDRs: Forbidden: node updates may not \
             change podCIDR except from \"\" to valid"
        );

        let reply = api
            .get("/api/v1/nodes?fieldSelector=spec.unschedulable%3Dtrue")
            .await;
        assert_eq!(reply.code, 200, "{reply:?}");
        let list = reply.json();
        let names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n["metadata"]["name"].as_str())
            .filter(|n| n.starts_with("reviews-"))
            .collect();
        assert_eq!(names, ["reviews-n2"]);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Discovery

#[tokio::test]
async fn discovery_lists_the_reviews_nodes_and_the_token_subresource() {
    bounded(async {
        let api = shared();
        let core = api.get("/api/v1").await.json();
        let resources = core["resources"].as_array().unwrap();
        let find = |name: &str| {
            resources
                .iter()
                .find(|r| r["name"] == name)
                .unwrap_or_else(|| panic!("{name} missing"))
                .clone()
        };
        assert_eq!(find("nodes")["shortNames"], json!(["no"]));
        assert_eq!(find("serviceaccounts/token")["kind"], "TokenRequest");

        let groups = api.get("/apis").await.json();
        let names: Vec<&str> = groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|g| g["name"].as_str())
            .collect();
        assert!(names.contains(&"authentication.k8s.io"), "{names:?}");
        assert!(names.contains(&"authorization.k8s.io"), "{names:?}");

        let authz = api.get("/apis/authorization.k8s.io/v1").await;
        assert_eq!(authz.code, 200, "{authz:?}");
        let authz = authz.json();
        let verbs: Vec<&Value> = authz["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["verbs"])
            .collect();
        assert_eq!(verbs.len(), 4);
        assert!(verbs.iter().all(|v| **v == json!(["create"])));

        let root = api.get("/openapi/v3").await.json();
        for path in [
            "apis/authorization.k8s.io/v1",
            "apis/authentication.k8s.io/v1",
            "apis/authentication.k8s.io/v1beta1",
        ] {
            assert!(
                root["paths"].get(path).is_some(),
                "{path} missing from /openapi/v3"
            );
        }
    })
    .await;
}
