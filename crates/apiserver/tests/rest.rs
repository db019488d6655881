//! kube-apiserver's REST semantics over HTTPS, checked answer by answer: status codes,
//! reasons, Status bodies and resourceVersions, against one in-process kubesim store and API
//! server ([`common::shared`]; each test in namespaces of its own). The expected answers are
//! kube-apiserver's (K8S-FACTS.md and the Kubernetes source); where kubesim chooses to
//! differ, the test says so.
//!
//! Sections, in the order a user meets them: create, update, patch, delete, list, watch,
//! limits and errors, namespaces. Within a test, the behaviour is asserted first and the
//! exact bodies last, so a wording difference does not hide a behaviour difference.

mod common;

use std::time::{Duration, Instant};

use common::{Next, Private, bounded, encode, shared};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Helpers

fn configmaps(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/configmaps")
}

fn pods(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods")
}

fn configmap(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    })
}

/// `metadata.resourceVersion` as a number; a missing or non-numeric one fails the test.
fn rv(object: &Value) -> i64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("no numeric resourceVersion in {object}"))
}

/// The names of a list's items, in the list's order.
fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {list}"))
        .iter()
        .map(|item| item["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect()
}

/// kube-apiserver's error body.
fn failure(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code
    });
    if let Some(details) = details {
        status["details"] = details;
    }
    status
}

/// Every reply is 200; else the codes, and the first refusal in full.
fn assert_all_200(replies: &[common::Reply]) {
    let codes: Vec<u16> = replies.iter().map(|r| r.code).collect();
    let refused = replies.iter().find(|r| r.code != 200);
    assert!(
        refused.is_none(),
        "codes {codes:?}; first refusal: {refused:?}"
    );
}

/// Polls `done` until it holds (bounded by [`common::POLL_TIMEOUT`]); whether it did.
async fn poll<F, Fut>(mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + common::POLL_TIMEOUT;
    while Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A v4 UUID as kube writes it: 8-4-4-4-12 lower-case hex digits.
fn assert_uuid(value: &Value) {
    let text = value.as_str().unwrap_or("");
    let groups: Vec<usize> = text.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "not a UUID: {value}");
    assert!(
        text.chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "not a UUID: {value}"
    );
}

/// metav1.Time: RFC 3339 in UTC, whole seconds (`2026-01-02T03:04:05Z`).
fn assert_timestamp(value: &Value) {
    let text = value.as_str().unwrap_or("");
    let shape: String = text
        .chars()
        .map(|c| if c.is_ascii_digit() { 'd' } else { c })
        .collect();
    assert_eq!(shape, "dddd-dd-ddTdd:dd:ddZ", "not a metav1.Time: {value}");
}

// ---------------------------------------------------------------------------------------------
// create

#[tokio::test]
async fn create_answers_201_with_the_metadata_the_server_owns() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("create-meta").await;
        let reply = api.post(&pods(&ns), &pod("web")).await;
        assert_eq!(reply.code, 201, "{reply:?}");
        assert_eq!(reply.content_type(), "application/json");
        let created = reply.json();
        let meta = &created["metadata"];
        assert_eq!(
            (&meta["name"], &meta["namespace"]),
            (&json!("web"), &json!(ns))
        );
        assert_uuid(&meta["uid"]);
        assert_timestamp(&meta["creationTimestamp"]);
        assert_eq!(meta["generation"], 1);
        // A GET reads back exactly what the create answered, resourceVersion included.
        let got = api.get(&format!("{}/web", pods(&ns))).await;
        assert_eq!(got.code, 200, "{got:?}");
        assert_eq!(got.json(), created);

        let created = api
            .create(&configmaps(&ns), &configmap("settings", json!({"a": "1"})))
            .await;
        let meta = &created["metadata"];
        assert_uuid(&meta["uid"]);
        assert_timestamp(&meta["creationTimestamp"]);
        assert!(rv(&created) > 0);
        // Only some kinds have a generation; a ConfigMap does not.
        assert_eq!(meta.get("generation"), None, "{created}");
    })
    .await
}

#[tokio::test]
async fn generate_name_makes_distinct_names_that_keep_the_prefix() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("create-generate").await;
        let body = json!({"metadata": {"generateName": "gen-"}, "data": {"k": "v"}});
        let first = api.create(&configmaps(&ns), &body).await;
        let second = api.create(&configmaps(&ns), &body).await;
        let first = first["metadata"]["name"].as_str().unwrap_or("").to_string();
        let second = second["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert_ne!(first, second);
        for name in [&first, &second] {
            // kube's generator: the prefix and five characters without vowels.
            let suffix = name
                .strip_prefix("gen-")
                .unwrap_or_else(|| panic!("{name}"));
            assert_eq!(suffix.len(), 5, "{name}");
            assert!(
                suffix
                    .chars()
                    .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
                "{name}"
            );
            let got = api.get(&format!("{}/{name}", configmaps(&ns))).await;
            assert_eq!(got.code, 200, "{got:?}");
        }
    })
    .await
}

#[tokio::test]
async fn create_of_an_existing_name_is_409_already_exists() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("create-exists").await;
        api.create(&configmaps(&ns), &configmap("dup", json!({})))
            .await;
        let reply = api
            .post(&configmaps(&ns), &configmap("dup", json!({"other": "x"})))
            .await;
        assert_eq!(reply.code, 409, "{reply:?}");
        assert_eq!(
            reply.json(),
            failure(
                409,
                "AlreadyExists",
                "configmaps \"dup\" already exists",
                Some(json!({"name": "dup", "kind": "configmaps"}))
            )
        );
    })
    .await
}

#[tokio::test]
async fn a_dry_run_create_answers_201_and_stores_nothing() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("create-dry-run").await;
        let reply = api
            .post(
                &format!("{}?dryRun=All", configmaps(&ns)),
                &configmap("dry", json!({"k": "v"})),
            )
            .await;
        assert_eq!(reply.code, 201, "{reply:?}");
        let answered = reply.json();
        assert_eq!(answered["metadata"]["name"], "dry");
        assert_eq!(answered["data"], json!({"k": "v"}));
        assert_uuid(&answered["metadata"]["uid"]);
        // Nothing was written, so there is no resourceVersion to give.
        assert_eq!(answered["metadata"].get("resourceVersion"), None);
        let got = api.get(&format!("{}/dry", configmaps(&ns))).await;
        assert_eq!(got.code, 404, "{got:?}");
        assert_eq!(
            got.json(),
            failure(
                404,
                "NotFound",
                "configmaps \"dry\" not found",
                Some(json!({"name": "dry", "kind": "configmaps"}))
            )
        );
        let list = api.get(&configmaps(&ns)).await.json();
        assert_eq!(names(&list), Vec::<String>::new());
    })
    .await
}

#[tokio::test]
async fn create_in_a_missing_namespace_is_404_naming_the_namespace() {
    bounded(async {
        let api = shared();
        let reply = api
            .post(&configmaps("no-such-namespace"), &configmap("c", json!({})))
            .await;
        assert_eq!(reply.code, 404, "{reply:?}");
        // NamespaceLifecycle's answer: the namespace is what was not found.
        assert_eq!(
            reply.json(),
            failure(
                404,
                "NotFound",
                "namespaces \"no-such-namespace\" not found",
                Some(json!({"name": "no-such-namespace", "kind": "namespaces"}))
            )
        );
    })
    .await
}

#[tokio::test]
async fn create_in_a_terminating_namespace_is_403_forbidden() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("create-terminating").await;
        // A finalizer holds the namespace in Terminating until this test releases it.
        let held = json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}});
        api.create(&configmaps(&ns), &held).await;
        let deleted = api.delete(&format!("/api/v1/namespaces/{ns}")).await;
        assert!(matches!(deleted.code, 200 | 202), "{deleted:?}");

        let reply = api
            .post(&configmaps(&ns), &configmap("late", json!({})))
            .await;
        assert_eq!(reply.code, 403, "{reply:?}");
        assert_eq!(reply.json()["reason"], "Forbidden");

        // Once the namespace controller has marked `held` it writes it no more, so the
        // release below races nobody (a PATCH that loses a race is the next section's test).
        let held_url = format!("{}/held", configmaps(&ns));
        let marked = poll(|| async {
            let held = api.get(&held_url).await.json();
            held["metadata"].get("deletionTimestamp").is_some()
        })
        .await;
        assert!(marked, "the namespace controller never marked {held_url}");
        let release = json!({"metadata": {"finalizers": null}});
        let released = api.merge_patch(&held_url, &release).await;
        assert_eq!(released.code, 200, "{released:?}");
        let gone = api
            .poll_until(&format!("/api/v1/namespaces/{ns}"), 404)
            .await;
        assert_eq!(gone.code, 404, "the namespace stayed: {gone:?}");

        let message = format!(
            "configmaps \"late\" is forbidden: unable to create new content in namespace {ns} \
             because it is being terminated"
        );
        let details = json!({
            "name": "late", "kind": "configmaps",
            "causes": [{
                "reason": "NamespaceTerminating",
                "message": format!("namespace {ns} is being terminated"),
                "field": "metadata.namespace"
            }]
        });
        assert_eq!(
            reply.json(),
            failure(403, "Forbidden", &message, Some(details))
        );
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// update

#[tokio::test]
async fn an_update_with_a_stale_resource_version_is_409_conflict() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("update-stale").await;
        let url = format!("{}/u", configmaps(&ns));
        let created = api
            .create(&configmaps(&ns), &configmap("u", json!({"v": "1"})))
            .await;
        let mut next = created.clone();
        next["data"]["v"] = json!("2");
        let updated = api.put(&url, &next).await;
        assert_eq!(updated.code, 200, "{updated:?}");
        assert!(rv(&updated.json()) > rv(&created));

        // Still carries the resourceVersion of the create.
        let mut stale = created.clone();
        stale["data"]["v"] = json!("3");
        let reply = api.put(&url, &stale).await;
        assert_eq!(reply.code, 409, "{reply:?}");
        assert_eq!(api.get(&url).await.json()["data"]["v"], "2");
        assert_eq!(
            reply.json(),
            failure(
                409,
                "Conflict",
                "Operation cannot be fulfilled on configmaps \"u\": the object has been \
                 modified; please apply your changes to the latest version and try again",
                Some(json!({"name": "u", "kind": "configmaps"}))
            )
        );
    })
    .await
}

#[tokio::test]
async fn a_no_op_update_keeps_the_resource_version() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("update-no-op").await;
        let url = format!("{}/same", configmaps(&ns));
        let created = api
            .create(&configmaps(&ns), &configmap("same", json!({"v": "1"})))
            .await;
        let reply = api.put(&url, &created).await;
        assert_eq!(reply.code, 200, "{reply:?}");
        assert_eq!(rv(&reply.json()), rv(&created));
        assert_eq!(rv(&api.get(&url).await.json()), rv(&created));
        assert_eq!(reply.json(), created);
    })
    .await
}

#[tokio::test]
async fn an_update_without_a_resource_version_is_unconditional() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("update-unconditional").await;
        let url = format!("{}/free", configmaps(&ns));
        let created = api
            .create(&configmaps(&ns), &configmap("free", json!({"v": "1"})))
            .await;
        // A write in between: a PUT without a resourceVersion overwrites whatever is there.
        let mut between = created.clone();
        between["data"]["v"] = json!("2");
        assert_eq!(api.put(&url, &between).await.code, 200);
        let reply = api.put(&url, &configmap("free", json!({"v": "3"}))).await;
        assert_eq!(reply.code, 200, "{reply:?}");
        let updated = reply.json();
        assert_eq!(updated["data"], json!({"v": "3"}));
        assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);
        assert_eq!(
            updated["metadata"]["creationTimestamp"],
            created["metadata"]["creationTimestamp"]
        );
        assert!(rv(&updated) > rv(&created) + 1, "{updated}");
    })
    .await
}

#[tokio::test]
async fn concurrent_updates_without_a_resource_version_all_succeed() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("update-concurrent").await;
        api.create(&configmaps(&ns), &configmap("hot", json!({})))
            .await;
        let url = format!("{}/hot", configmaps(&ns));
        let puts = (0..8).map(|i| {
            let object = configmap("hot", json!({"writer": i.to_string()}));
            let url = url.clone();
            async move { api.put(&url, &object).await }
        });
        let replies = futures::future::join_all(puts).await;
        // Unconditional: each is retried against whatever won the race.
        assert_all_200(&replies);
    })
    .await
}

#[tokio::test]
async fn an_update_whose_name_differs_from_the_url_is_400() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("update-name").await;
        api.create(&configmaps(&ns), &configmap("a", json!({})))
            .await;
        let reply = api
            .put(
                &format!("{}/a", configmaps(&ns)),
                &configmap("b", json!({})),
            )
            .await;
        assert_eq!(reply.code, 400, "{reply:?}");
        assert_eq!(
            reply.json(),
            failure(
                400,
                "BadRequest",
                "the name of the object (b) does not match the name on the URL (a)",
                None
            )
        );
    })
    .await
}

#[tokio::test]
async fn the_status_subresource_changes_only_status_and_the_main_resource_only_the_rest() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("update-status").await;
        let url = format!("{}/web", pods(&ns));
        let created = api.create(&pods(&ns), &pod("web")).await;
        assert_eq!(created["status"]["phase"], "Pending");

        let mut via_status = created.clone();
        via_status["status"]["phase"] = json!("Running");
        via_status["metadata"]["labels"] = json!({"via": "status"});
        via_status["spec"]["containers"][0]["image"] = json!("busybox:2");
        let reply = api.put(&format!("{url}/status"), &via_status).await;
        assert_eq!(reply.code, 200, "{reply:?}");
        let after_status = reply.json();
        assert_eq!(after_status["status"]["phase"], "Running");
        assert_eq!(after_status["metadata"].get("labels"), None);
        assert_eq!(after_status["spec"], created["spec"]);
        assert!(rv(&after_status) > rv(&created));

        let mut via_main = after_status.clone();
        via_main["status"]["phase"] = json!("Succeeded");
        via_main["metadata"]["labels"] = json!({"via": "main"});
        let reply = api.put(&url, &via_main).await;
        assert_eq!(reply.code, 200, "{reply:?}");
        let after_main = reply.json();
        assert_eq!(after_main["metadata"]["labels"], json!({"via": "main"}));
        assert_eq!(after_main["status"]["phase"], "Running");
        assert_eq!(api.get(&url).await.json(), after_main);
    })
    .await
}

#[tokio::test]
async fn a_pods_generation_moves_with_its_spec_only() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("update-generation").await;
        let url = format!("{}/web", pods(&ns));
        let created = api.create(&pods(&ns), &pod("web")).await;
        assert_eq!(created["metadata"]["generation"], 1);
        let labelled = api
            .merge_patch(&url, &json!({"metadata": {"labels": {"a": "b"}}}))
            .await
            .json();
        assert_eq!(labelled["metadata"]["generation"], 1, "{labelled}");
        let image = json!({"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}});
        let reply = api
            .patch(
                &url,
                "application/strategic-merge-patch+json",
                image.to_string(),
            )
            .await;
        assert_eq!(reply.code, 200, "{reply:?}");
        assert_eq!(reply.json()["metadata"]["generation"], 2);
        let status = json!({"status": {"phase": "Running"}});
        let reply = api.merge_patch(&format!("{url}/status"), &status).await;
        assert_eq!(reply.code, 200, "{reply:?}");
        assert_eq!(reply.json()["metadata"]["generation"], 2);
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// patch

#[tokio::test]
async fn a_json_patch_applies_its_operations_in_order() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("patch-json").await;
        let created = api
            .create(&configmaps(&ns), &configmap("j", json!({"a": "1"})))
            .await;
        let patch = json!([
            {"op": "add", "path": "/data/b", "value": "2"},
            {"op": "replace", "path": "/data/a", "value": "10"},
            {"op": "test", "path": "/data/b", "value": "2"}
        ]);
        let reply = api
            .patch(
                &format!("{}/j", configmaps(&ns)),
                "application/json-patch+json",
                patch.to_string(),
            )
            .await;
        assert_eq!(reply.code, 200, "{reply:?}");
        let patched = reply.json();
        assert_eq!(patched["data"], json!({"a": "10", "b": "2"}));
        assert!(rv(&patched) > rv(&created));
    })
    .await
}

#[tokio::test]
async fn a_merge_patch_sets_and_removes_keys() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("patch-merge").await;
        let url = format!("{}/m", configmaps(&ns));
        let created = api
            .create(
                &configmaps(&ns),
                &configmap("m", json!({"a": "1", "b": "2"})),
            )
            .await;
        let patch = json!({"metadata": {"labels": {"x": "y"}}, "data": {"a": null, "c": "3"}});
        let reply = api.merge_patch(&url, &patch).await;
        assert_eq!(reply.code, 200, "{reply:?}");
        let patched = reply.json();
        assert_eq!(patched["data"], json!({"b": "2", "c": "3"}));
        assert_eq!(patched["metadata"]["labels"], json!({"x": "y"}));

        // A resourceVersion in the patch is a precondition: a stale one is 409.
        let stale = json!({
            "metadata": {"resourceVersion": rv(&created).to_string()},
            "data": {"d": "4"}
        });
        let reply = api.merge_patch(&url, &stale).await;
        assert_eq!(reply.code, 409, "{reply:?}");
        assert_eq!(reply.json()["reason"], "Conflict");
        assert_eq!(api.get(&url).await.json()["data"], patched["data"]);
    })
    .await
}

#[tokio::test]
async fn a_strategic_merge_patch_merges_containers_by_name() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("patch-strategic").await;
        let two = json!({
            "metadata": {"name": "two"},
            "spec": {"containers": [
                {"name": "c1", "image": "busybox"},
                {"name": "c2", "image": "nginx"}
            ]}
        });
        api.create(&pods(&ns), &two).await;
        let patch = json!({"spec": {"containers": [{"name": "c2", "image": "nginx:1.27"}]}});
        let reply = api
            .patch(
                &format!("{}/two", pods(&ns)),
                "application/strategic-merge-patch+json",
                patch.to_string(),
            )
            .await;
        assert_eq!(reply.code, 200, "{reply:?}");
        let containers: Vec<(Value, Value)> = reply.json()["spec"]["containers"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|c| (c["name"].clone(), c["image"].clone()))
            .collect();
        assert_eq!(
            containers,
            [
                (json!("c1"), json!("busybox")),
                (json!("c2"), json!("nginx:1.27"))
            ]
        );
    })
    .await
}

#[tokio::test]
async fn concurrent_patches_without_a_resource_version_all_succeed() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("patch-concurrent").await;
        api.create(&configmaps(&ns), &configmap("hot", json!({})))
            .await;
        let url = format!("{}/hot", configmaps(&ns));
        const WRITERS: usize = 8;
        let patches = (0..WRITERS).map(|i| {
            let mut data = serde_json::Map::new();
            data.insert(format!("k{i}"), json!("v"));
            let patch = json!({"data": data});
            let url = url.clone();
            async move { api.merge_patch(&url, &patch).await }
        });
        let replies = futures::future::join_all(patches).await;
        // A patch names no resourceVersion, so kube's GuaranteedUpdate applies it again to
        // the state that won the race instead of answering 409.
        assert_all_200(&replies);
        let data = api.get(&url).await.json()["data"].clone();
        assert_eq!(data.as_object().map(|d| d.len()), Some(WRITERS), "{data}");
    })
    .await
}

const APPLY: &str = "application/apply-patch+yaml";

/// An apply configuration of ConfigMap `name` in YAML, as kubectl apply --server-side
/// sends it (as YAML or JSON).
fn apply_yaml(name: &str, x: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  x: \"{x}\"\n")
}

#[tokio::test]
async fn server_side_apply_creates_then_updates() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("patch-apply").await;
        let url = format!("{}/applied?fieldManager=alice", configmaps(&ns));
        let reply = api.patch(&url, APPLY, apply_yaml("applied", "1")).await;
        assert_eq!(reply.code, 201, "{reply:?}");
        let created = reply.json();
        assert_eq!(created["data"], json!({"x": "1"}));
        let managers: Vec<(Value, Value)> = created["metadata"]["managedFields"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|e| (e["manager"].clone(), e["operation"].clone()))
            .collect();
        assert_eq!(managers, [(json!("alice"), json!("Apply"))]);

        let reply = api.patch(&url, APPLY, apply_yaml("applied", "2")).await;
        assert_eq!(reply.code, 200, "{reply:?}");
        let updated = reply.json();
        assert_eq!(updated["data"], json!({"x": "2"}));
        assert!(rv(&updated) > rv(&created));
    })
    .await
}

#[tokio::test]
async fn apply_conflicts_with_another_managers_field_unless_forced() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("patch-apply-conflict").await;
        let object = format!("{}/shared", configmaps(&ns));
        let alice = format!("{object}?fieldManager=alice");
        assert_eq!(
            api.patch(&alice, APPLY, apply_yaml("shared", "1"))
                .await
                .code,
            201
        );
        let bob = api
            .merge_patch(
                &format!("{object}?fieldManager=bob"),
                &json!({"data": {"x": "2"}}),
            )
            .await;
        assert_eq!(bob.code, 200, "{bob:?}");

        let conflict = api.patch(&alice, APPLY, apply_yaml("shared", "1")).await;
        assert_eq!(conflict.code, 409, "{conflict:?}");
        assert_eq!(api.get(&object).await.json()["data"]["x"], "2");

        let forced = api
            .patch(
                &format!("{alice}&force=true"),
                APPLY,
                apply_yaml("shared", "1"),
            )
            .await;
        assert_eq!(forced.code, 200, "{forced:?}");
        let forced = forced.json();
        assert_eq!(forced["data"]["x"], "1");
        // bob lost his only field, and with it his managedFields entry.
        let managers: Vec<Value> = forced["metadata"]["managedFields"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|e| e["manager"].clone())
            .collect();
        assert_eq!(managers, [json!("alice")], "{forced}");

        // kube's NewApplyConflict: the causes are the only details.
        assert_eq!(
            conflict.json(),
            failure(
                409,
                "Conflict",
                "Apply failed with 1 conflict: conflict with \"bob\" using v1: .data.x",
                Some(json!({"causes": [{
                    "reason": "FieldManagerConflict",
                    "message": "conflict with \"bob\" using v1",
                    "field": ".data.x"
                }]}))
            )
        );
    })
    .await
}

#[tokio::test]
async fn apply_conflicts_on_two_fields_are_listed_by_manager() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("patch-apply-conflicts").await;
        let object = format!("{}/both", configmaps(&ns));
        let config = |x: &str, y: &str| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: both\ndata:\n  x: \"{x}\"\n  \
                 y: \"{y}\"\n"
            )
        };
        let alice = format!("{object}?fieldManager=alice");
        assert_eq!(api.patch(&alice, APPLY, config("1", "1")).await.code, 201);
        let bob = json!({"data": {"x": "2", "y": "2"}});
        let changed = api
            .merge_patch(&format!("{object}?fieldManager=bob"), &bob)
            .await;
        assert_eq!(changed.code, 200, "{changed:?}");
        let conflict = api.patch(&alice, APPLY, config("1", "1")).await;
        assert_eq!(conflict.code, 409, "{conflict:?}");
        let cause = |field: &str| {
            json!({
                "reason": "FieldManagerConflict",
                "message": "conflict with \"bob\" using v1",
                "field": field
            })
        };
        // kube's getConflictMessage: the paths grouped under each manager, one per line.
        assert_eq!(
            conflict.json(),
            failure(
                409,
                "Conflict",
                "Apply failed with 2 conflicts: conflicts with \"bob\" using v1:\n- .data.x\n- \
                 .data.y",
                Some(json!({"causes": [cause(".data.x"), cause(".data.y")]}))
            )
        );
    })
    .await
}

#[tokio::test]
async fn a_patch_of_an_unknown_content_type_is_415() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("patch-415").await;
        api.create(&configmaps(&ns), &configmap("p", json!({})))
            .await;
        let reply = api
            .patch(
                &format!("{}/p", configmaps(&ns)),
                "application/xml",
                "<data/>",
            )
            .await;
        assert_eq!(reply.code, 415, "{reply:?}");
        assert_eq!(
            reply.json(),
            failure(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types \
                 include: application/json-patch+json, application/merge-patch+json, \
                 application/strategic-merge-patch+json, application/apply-patch+yaml",
                None
            )
        );
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// delete

#[tokio::test]
async fn delete_preconditions_that_do_not_hold_are_409() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("delete-preconditions").await;
        let url = format!("{}/d", configmaps(&ns));
        let created = api
            .create(&configmaps(&ns), &configmap("d", json!({})))
            .await;
        let uid = created["metadata"]["uid"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let version = rv(&created).to_string();
        let wrong_uid = "00000000-0000-4000-8000-000000000000";
        let by_uid = api
            .delete_with(&url, &json!({"preconditions": {"uid": wrong_uid}}))
            .await;
        let by_rv = api
            .delete_with(&url, &json!({"preconditions": {"resourceVersion": "1"}}))
            .await;
        assert_eq!(
            (by_uid.code, by_rv.code),
            (409, 409),
            "{by_uid:?} {by_rv:?}"
        );
        assert_eq!(api.get(&url).await.code, 200);
        let matching = json!({"preconditions": {"uid": uid, "resourceVersion": version}});
        let deleted = api.delete_with(&url, &matching).await;
        assert_eq!(deleted.code, 200, "{deleted:?}");
        assert_eq!(api.get(&url).await.code, 404);

        // rest.BeforeDelete checks preconditions first, naming the kind (not the resource).
        let details = Some(json!({"name": "d", "kind": "ConfigMap"}));
        assert_eq!(
            by_uid.json(),
            failure(
                409,
                "Conflict",
                &format!(
                    "Operation cannot be fulfilled on ConfigMap \"d\": the UID in the \
                     precondition ({wrong_uid}) does not match the UID in record ({uid}). The \
                     object might have been deleted and then recreated"
                ),
                details.clone()
            )
        );
        assert_eq!(
            by_rv.json(),
            failure(
                409,
                "Conflict",
                &format!(
                    "Operation cannot be fulfilled on ConfigMap \"d\": the ResourceVersion in \
                     the precondition (1) does not match the ResourceVersion in record \
                     ({version}). The object might have been modified"
                ),
                details
            )
        );
    })
    .await
}

#[tokio::test]
async fn an_object_with_finalizers_waits_for_them_and_goes_with_the_last() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("delete-finalizers").await;
        let url = format!("{}/held", configmaps(&ns));
        let held = json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}});
        let created = api.create(&configmaps(&ns), &held).await;
        let deleted = api.delete(&url).await;
        assert!(matches!(deleted.code, 200 | 202), "{deleted:?}");
        let marked = deleted.json();
        assert_eq!(marked["kind"], "ConfigMap");
        assert_timestamp(&marked["metadata"]["deletionTimestamp"]);
        assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 0);
        assert_eq!(
            marked["metadata"]["finalizers"],
            json!(["example.com/hold"])
        );
        assert!(rv(&marked) > rv(&created));
        assert_eq!(api.get(&url).await.json(), marked);

        let release = json!({"metadata": {"finalizers": null}});
        let released = api.merge_patch(&url, &release).await;
        assert_eq!(released.code, 200, "{released:?}");
        let got = api.get(&url).await;
        assert_eq!(got.code, 404, "{got:?}");
        // kube answers 202 only to the deprecated orphanDependents=false; an object left
        // for its finalizers is answered 200 (handlers/delete.go).
        assert_eq!(
            deleted.code, 200,
            "kube-apiserver answers 200, with the object"
        );
    })
    .await
}

#[tokio::test]
async fn deleting_a_configmap_answers_a_success_status_with_details() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("delete-status").await;
        let created = api
            .create(&configmaps(&ns), &configmap("gone", json!({})))
            .await;
        let reply = api.delete(&format!("{}/gone", configmaps(&ns))).await;
        assert_eq!(reply.code, 200, "{reply:?}");
        assert_eq!(
            reply.json(),
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": "gone", "kind": "configmaps", "uid": created["metadata"]["uid"]}
            })
        );
        assert_eq!(
            api.get(&format!("{}/gone", configmaps(&ns))).await.code,
            404
        );
    })
    .await
}

#[tokio::test]
async fn deletecollection_deletes_only_what_the_selector_matches() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("delete-collection").await;
        for (name, app) in [("l1", "drop"), ("k", "keep"), ("l2", "drop")] {
            let object = json!({"metadata": {"name": name, "labels": {"app": app}}});
            api.create(&configmaps(&ns), &object).await;
        }
        let reply = api
            .delete(&format!(
                "{}?labelSelector={}",
                configmaps(&ns),
                encode("app=drop")
            ))
            .await;
        assert_eq!(reply.code, 200, "{reply:?}");
        let deleted = reply.json();
        assert_eq!(deleted["kind"], "ConfigMapList");
        assert_eq!(names(&deleted), ["l1", "l2"]);
        assert_eq!(names(&api.get(&configmaps(&ns)).await.json()), ["k"]);
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// list

#[tokio::test]
async fn limit_and_continue_page_through_one_snapshot() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("list-paging").await;
        for i in 0..5 {
            api.create(&configmaps(&ns), &configmap(&format!("c{i}"), json!({})))
                .await;
        }
        let first = api
            .get(&format!("{}?limit=2", configmaps(&ns)))
            .await
            .json();
        assert_eq!(names(&first), ["c0", "c1"]);
        assert_eq!(first["metadata"]["remainingItemCount"], 3);
        let snapshot = first["metadata"]["resourceVersion"].clone();
        // Written after the first page: not in this list, which reads one revision.
        api.create(&configmaps(&ns), &configmap("c5", json!({})))
            .await;

        let mut seen = names(&first);
        let mut token = first["metadata"]["continue"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let mut remaining = vec![];
        for _ in 0..5 {
            if token.is_empty() {
                break;
            }
            let page = api
                .get(&format!(
                    "{}?limit=2&continue={}",
                    configmaps(&ns),
                    encode(&token)
                ))
                .await;
            assert_eq!(page.code, 200, "{page:?}");
            let page = page.json();
            assert_eq!(page["metadata"]["resourceVersion"], snapshot);
            seen.extend(names(&page));
            remaining.push(page["metadata"].get("remainingItemCount").cloned());
            token = page["metadata"]["continue"]
                .as_str()
                .unwrap_or("")
                .to_string();
        }
        assert_eq!(seen, ["c0", "c1", "c2", "c3", "c4"]);
        assert_eq!(remaining, [Some(json!(1)), None]);
    })
    .await
}

#[tokio::test]
async fn a_list_at_resource_version_0_is_served_from_the_cache_and_unset_is_consistent() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("list-rv").await;
        api.create(&configmaps(&ns), &configmap("a", json!({})))
            .await;
        let last = api
            .create(&configmaps(&ns), &configmap("b", json!({})))
            .await;
        // Unset: a consistent read, which has the last write at once.
        let latest = api.get(&configmaps(&ns)).await.json();
        assert_eq!(names(&latest), ["a", "b"]);
        assert!(rv(&latest) >= rv(&last));
        // A resourceVersion without a match rule: not older than it, also at once.
        let not_older = api
            .get(&format!(
                "{}?resourceVersion={}",
                configmaps(&ns),
                rv(&last)
            ))
            .await
            .json();
        assert_eq!(names(&not_older), ["a", "b"]);
        assert!(rv(&not_older) >= rv(&last));
        // 0: whatever the cache has; it catches up within moments.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let cached = api
                .get(&format!("{}?resourceVersion=0", configmaps(&ns)))
                .await;
            assert_eq!(cached.code, 200, "{cached:?}");
            let cached = cached.json();
            if names(&cached) == ["a", "b"] {
                assert!(rv(&cached) >= rv(&last));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the cache never caught up: {cached}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

#[tokio::test]
async fn an_exact_list_at_an_old_revision_shows_the_old_state() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("list-exact").await;
        let url = format!("{}/e", configmaps(&ns));
        let created = api
            .create(&configmaps(&ns), &configmap("e", json!({"v": "old"})))
            .await;
        let patched = api.merge_patch(&url, &json!({"data": {"v": "new"}})).await;
        assert_eq!(patched.code, 200, "{patched:?}");
        let old = rv(&created);
        let reply = api
            .get(&format!(
                "{}?resourceVersion={old}&resourceVersionMatch=Exact",
                configmaps(&ns)
            ))
            .await;
        assert_eq!(reply.code, 200, "{reply:?}");
        let list = reply.json();
        assert_eq!(list["metadata"]["resourceVersion"], old.to_string());
        assert_eq!(names(&list), ["e"]);
        assert_eq!(list["items"][0]["data"]["v"], "old");
        assert_eq!(rv(&list["items"][0]), old);
    })
    .await
}

#[tokio::test]
async fn continue_with_a_resource_version_is_400() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("list-continue-rv").await;
        for name in ["a", "b"] {
            api.create(&configmaps(&ns), &configmap(name, json!({})))
                .await;
        }
        let first = api
            .get(&format!("{}?limit=1", configmaps(&ns)))
            .await
            .json();
        let token = first["metadata"]["continue"].as_str().unwrap_or("");
        assert!(!token.is_empty(), "{first}");
        let reply = api
            .get(&format!(
                "{}?limit=1&continue={}&resourceVersion={}",
                configmaps(&ns),
                encode(token),
                rv(&first)
            ))
            .await;
        assert_eq!(reply.code, 400, "{reply:?}");
        assert_eq!(
            reply.json(),
            failure(
                400,
                "BadRequest",
                "specifying resource version is not allowed when using continue",
                None
            )
        );
    })
    .await
}

#[tokio::test]
async fn label_and_field_selectors_filter_a_list() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("list-selectors").await;
        for (name, app) in [("a1", "a"), ("a2", "a"), ("b1", "b")] {
            let mut object = pod(name);
            object["metadata"]["labels"] = json!({"app": app});
            api.create(&pods(&ns), &object).await;
        }
        let running = json!({"status": {"phase": "Running"}});
        let reply = api
            .merge_patch(&format!("{}/a2/status", pods(&ns)), &running)
            .await;
        assert_eq!(reply.code, 200, "{reply:?}");

        let cases = [
            ("labelSelector", "app=a", vec!["a1", "a2"]),
            ("labelSelector", "app!=a", vec!["b1"]),
            ("labelSelector", "app in (a,b)", vec!["a1", "a2", "b1"]),
            ("labelSelector", "app notin (a)", vec!["b1"]),
            ("fieldSelector", "status.phase=Running", vec!["a2"]),
            ("fieldSelector", "status.phase!=Running", vec!["a1", "b1"]),
            (
                "fieldSelector",
                "status.phase=Pending,metadata.name!=b1",
                vec!["a1"],
            ),
        ];
        for (parameter, selector, expected) in cases {
            let path = format!("{}?{parameter}={}", pods(&ns), encode(selector));
            let reply = api.get(&path).await;
            assert_eq!(reply.code, 200, "{path}: {reply:?}");
            assert_eq!(names(&reply.json()), expected, "{path}");
        }
        let both = format!(
            "{}?labelSelector={}&fieldSelector={}",
            pods(&ns),
            encode("app=a"),
            encode("status.phase=Pending")
        );
        assert_eq!(names(&api.get(&both).await.json()), ["a1"]);
    })
    .await
}

#[tokio::test]
async fn an_unsupported_field_selector_is_400() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("list-bad-selector").await;
        let on_pods = api
            .get(&format!(
                "{}?fieldSelector={}",
                pods(&ns),
                encode("spec.foo=x")
            ))
            .await;
        let on_configmaps = api
            .get(&format!(
                "{}?fieldSelector={}",
                configmaps(&ns),
                encode("data.x=y")
            ))
            .await;
        assert_eq!((on_pods.code, on_configmaps.code), (400, 400));
        assert_eq!(
            on_pods.json(),
            failure(
                400,
                "BadRequest",
                "field label not supported: spec.foo",
                None
            )
        );
        assert_eq!(
            on_configmaps.json(),
            failure(
                400,
                "BadRequest",
                "\"data.x\" is not a known field selector: only \"metadata.name\", \
                 \"metadata.namespace\"",
                None
            )
        );
    })
    .await
}

/// What kubectl get sends.
const KUBECTL_TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,\
                             application/json;as=Table;v=v1beta1;g=meta.k8s.io,\
                             application/json";

#[tokio::test]
async fn a_table_has_kubectls_columns() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("list-table").await;
        api.create(&pods(&ns), &pod("web")).await;
        api.create(
            &configmaps(&ns),
            &configmap("two", json!({"a": "1", "b": "2"})),
        )
        .await;

        let reply = api.get_as(&pods(&ns), KUBECTL_TABLE).await;
        assert_eq!(reply.code, 200, "{reply:?}");
        assert_eq!(
            reply.content_type(),
            "application/json;as=Table;v=v1;g=meta.k8s.io"
        );
        let table = reply.json();
        assert_eq!(
            (&table["kind"], &table["apiVersion"]),
            (&json!("Table"), &json!("meta.k8s.io/v1"))
        );
        let columns: Vec<(Value, Value)> = table["columnDefinitions"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|c| (c["name"].clone(), c["priority"].clone()))
            .collect();
        let expected: Vec<(Value, Value)> = [
            ("Name", 0),
            ("Ready", 0),
            ("Status", 0),
            ("Restarts", 0),
            ("Age", 0),
            ("IP", 1),
            ("Node", 1),
            ("Nominated Node", 1),
            ("Readiness Gates", 1),
        ]
        .iter()
        .map(|(name, priority)| (json!(name), json!(priority)))
        .collect();
        assert_eq!(columns, expected);
        let cells = table["rows"][0]["cells"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(cells.len(), 9, "{table}");
        assert_eq!(
            cells[..4],
            [json!("web"), json!("0/1"), json!("Pending"), json!("0")]
        );
        assert_eq!(
            cells[5..],
            [
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>")
            ]
        );
        assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");

        let table = api.get_as(&configmaps(&ns), KUBECTL_TABLE).await.json();
        let columns: Vec<Value> = table["columnDefinitions"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|c| c["name"].clone())
            .collect();
        assert_eq!(columns, [json!("Name"), json!("Data"), json!("Age")]);
        let cells = &table["rows"][0]["cells"];
        assert_eq!(
            (&cells[0], &cells[1]),
            (&json!("two"), &json!(2)),
            "{table}"
        );
    })
    .await
}

#[tokio::test]
async fn a_list_at_a_future_resource_version_times_out_with_504() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("list-future").await;
        let future = 1_000_000_000;
        let reply = api
            .get(&format!("{}?resourceVersion={future}", configmaps(&ns)))
            .await;
        assert_eq!(reply.code, 504, "{reply:?}");
        let status = reply.json();
        let message = status["message"].as_str().unwrap_or("");
        let prefix = format!("Timeout: Too large resource version: {future}, current: ");
        assert!(message.starts_with(&prefix), "{status}");
        let mut expected = failure(
            504,
            "Timeout",
            message,
            Some(json!({
                "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                "retryAfterSeconds": 1
            })),
        );
        expected["message"] = json!(message);
        assert_eq!(status, expected);
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// watch

/// The type and the object's name of an event.
fn kind_and_name(event: &Value) -> (String, String) {
    (
        event["type"].as_str().unwrap_or("").to_string(),
        event["object"]["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

#[tokio::test]
async fn a_watch_from_a_lists_resource_version_sees_exactly_the_later_events() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("watch-events").await;
        api.create(&configmaps(&ns), &configmap("before", json!({})))
            .await;
        let list = api.get(&configmaps(&ns)).await.json();
        let mut watch = api
            .watch(&format!(
                "{}?watch=true&resourceVersion={}",
                configmaps(&ns),
                rv(&list)
            ))
            .await;
        let url = format!("{}/w", configmaps(&ns));
        let created = api
            .create(&configmaps(&ns), &configmap("w", json!({"v": "1"})))
            .await;
        let modified = api
            .merge_patch(&url, &json!({"data": {"v": "2"}}))
            .await
            .json();
        assert_eq!(api.delete(&url).await.code, 200);

        let added = watch.event().await;
        assert_eq!(kind_and_name(&added), ("ADDED".into(), "w".into()));
        assert_eq!(added["object"], created);
        let changed = watch.event().await;
        assert_eq!(kind_and_name(&changed), ("MODIFIED".into(), "w".into()));
        assert_eq!(changed["object"], modified);
        let deleted = watch.event().await;
        assert_eq!(kind_and_name(&deleted), ("DELETED".into(), "w".into()));
        assert_eq!(deleted["object"]["data"], json!({"v": "2"}));
        // The last state, at the revision of the deletion.
        assert!(rv(&deleted["object"]) > rv(&modified), "{deleted}");
        watch.assert_quiet(Duration::from_millis(500)).await;
    })
    .await
}

#[tokio::test]
async fn a_label_selector_watch_sees_an_unlabel_as_deleted() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("watch-unlabel").await;
        let list = api.get(&configmaps(&ns)).await.json();
        let mut watch = api
            .watch(&format!(
                "{}?watch=true&labelSelector={}&resourceVersion={}",
                configmaps(&ns),
                encode("app=w"),
                rv(&list)
            ))
            .await;
        let labelled = json!({"metadata": {"name": "w", "labels": {"app": "w"}}});
        api.create(&configmaps(&ns), &labelled).await;
        api.create(&configmaps(&ns), &configmap("unlabelled", json!({})))
            .await;
        let unlabel = json!({"metadata": {"labels": null}});
        let patched = api
            .merge_patch(&format!("{}/w", configmaps(&ns)), &unlabel)
            .await
            .json();

        assert_eq!(
            kind_and_name(&watch.event().await),
            ("ADDED".into(), "w".into())
        );
        let deleted = watch.event().await;
        assert_eq!(kind_and_name(&deleted), ("DELETED".into(), "w".into()));
        // kube's cacheWatcher: the previous state (still labelled) at the new revision.
        assert_eq!(deleted["object"]["metadata"]["labels"], json!({"app": "w"}));
        assert_eq!(rv(&deleted["object"]), rv(&patched));
        watch.assert_quiet(Duration::from_millis(500)).await;
    })
    .await
}

#[tokio::test]
#[ignore = "slow: the watch cache's bookmark interval is 60 s (CacherConfig::default)"]
async fn allow_watch_bookmarks_gives_a_bookmark_eventually() {
    common::bounded_for(Duration::from_secs(150), async {
        let api = shared();
        let ns = api.namespace("watch-bookmarks").await;
        let list = api.get(&configmaps(&ns)).await.json();
        let mut watch = api
            .watch(&format!(
                "{}?watch=true&allowWatchBookmarks=true&resourceVersion={}",
                configmaps(&ns),
                rv(&list)
            ))
            .await;
        let event = match watch.next(Duration::from_secs(130)).await {
            Next::Event(event) => event,
            other => panic!("no bookmark within 130 s: {other:?}"),
        };
        assert_eq!(event["type"], "BOOKMARK", "{event}");
        assert_eq!(event["object"]["kind"], "ConfigMap");
        assert_eq!(event["object"]["apiVersion"], "v1");
        assert!(rv(&event["object"]) >= rv(&list), "{event}");
    })
    .await
}

#[tokio::test]
async fn send_initial_events_sends_the_state_then_an_annotated_bookmark() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("watch-initial-events").await;
        api.create(&configmaps(&ns), &configmap("i1", json!({})))
            .await;
        let last = api
            .create(&configmaps(&ns), &configmap("i2", json!({})))
            .await;
        let mut watch = api
            .watch(&format!(
                "{}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan\
                 &allowWatchBookmarks=true",
                configmaps(&ns)
            ))
            .await;
        let mut initial = vec![
            kind_and_name(&watch.event().await),
            kind_and_name(&watch.event().await),
        ];
        initial.sort();
        assert_eq!(
            initial,
            [("ADDED".into(), "i1".into()), ("ADDED".into(), "i2".into())]
        );
        let bookmark = watch.event().await;
        assert_eq!(bookmark["type"], "BOOKMARK", "{bookmark}");
        assert_eq!(bookmark["object"]["kind"], "ConfigMap");
        assert_eq!(
            bookmark["object"]["metadata"]["annotations"],
            json!({"k8s.io/initial-events-end": "true"})
        );
        assert!(rv(&bookmark["object"]) >= rv(&last), "{bookmark}");

        let after = api
            .create(&configmaps(&ns), &configmap("i3", json!({})))
            .await;
        let added = watch.event().await;
        assert_eq!(kind_and_name(&added), ("ADDED".into(), "i3".into()));
        assert_eq!(added["object"], after);
    })
    .await
}

#[tokio::test]
async fn timeout_seconds_ends_the_stream() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("watch-timeout").await;
        let started = Instant::now();
        let mut watch = api
            .watch(&format!("{}?watch=true&timeoutSeconds=1", configmaps(&ns)))
            .await;
        match watch.next(Duration::from_secs(10)).await {
            Next::End => {}
            other => panic!("expected the end of the stream, got {other:?}"),
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
            "ended after {elapsed:?}"
        );
    })
    .await
}

#[tokio::test]
async fn a_watch_from_before_the_caches_history_is_one_error_event_with_410() {
    bounded(async {
        // A server of its own: compacting the store would break the other tests' old
        // revisions. As in kube-apiserver, a watch is served from the watch cache, so what
        // makes it 410 is a revision older than the cache's history (which begins at the
        // cache's first list), not compaction as such; the keys written before the API
        // server starts put that beginning past `old`. The store is compacted too, as
        // kube-apiserver's compactor would, so an exact list at `old` gets the store's 410.
        let private = Private::start(10).await;
        let api = &private.client;
        let ns = api.namespace("watch-compacted").await;
        let created = api
            .create(&configmaps(&ns), &configmap("c", json!({})))
            .await;
        api.compact(rv(&created)).await;

        let old = 3;
        let mut watch = api
            .watch(&format!(
                "{}?watch=true&resourceVersion={old}",
                configmaps(&ns)
            ))
            .await;
        let event = watch.event().await;
        match watch.next(Duration::from_secs(5)).await {
            Next::End => {}
            other => panic!("expected the end of the stream after the error, got {other:?}"),
        }
        // An exact list at a compacted revision: the store's 410.
        let list = api
            .get(&format!(
                "{}?resourceVersion={old}&resourceVersionMatch=Exact",
                configmaps(&ns)
            ))
            .await;
        private.stop().await;

        assert_eq!(event["type"], "ERROR", "{event}");
        let status = &event["object"];
        let message = status["message"].as_str().unwrap_or("");
        // `too old resource version: <asked> (<the oldest the cache can serve from>)`.
        let oldest: Option<i64> = message
            .strip_prefix(&format!("too old resource version: {old} ("))
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(|n| n.parse().ok());
        assert!(
            oldest.is_some_and(|n| n > old && n <= rv(&created)),
            "{event}"
        );
        assert_eq!(*status, failure(410, "Expired", message, None));

        assert_eq!(list.code, 410, "{list:?}");
        assert_eq!(list.json()["reason"], "Expired");
        assert_eq!(
            list.json()["message"],
            "The resourceVersion for the provided list is too old."
        );
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// limits and errors

#[tokio::test]
async fn malformed_json_is_400() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("errors-json").await;
        let reply = api
            .request(
                hyper::Method::POST,
                &configmaps(&ns),
                &[("content-type", "application/json")],
                r#"{"metadata":"#,
            )
            .await;
        assert_eq!(reply.code, 400, "{reply:?}");
        let status = reply.json();
        assert_eq!(status["reason"], "BadRequest");
        let message = status["message"].as_str().unwrap_or("");
        assert!(
            message.starts_with(
                "the object provided is unrecognized (must be of type ConfigMap): couldn't get \
                 version/kind; json parse error: "
            ),
            "{message}"
        );
        // kube's transformDecodeError ends with a summary of the body (up to 30 bytes).
        assert!(message.ends_with(r#" ({"metadata":)"#), "{message}");
    })
    .await
}

#[tokio::test]
async fn a_yaml_body_creates_and_malformed_yaml_is_400() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("errors-yaml").await;
        let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n";
        let created = api
            .request(
                hyper::Method::POST,
                &configmaps(&ns),
                &[("content-type", "application/yaml")],
                yaml,
            )
            .await;
        assert_eq!(created.code, 201, "{created:?}");
        let got = api.get(&format!("{}/from-yaml", configmaps(&ns))).await;
        assert_eq!(got.json()["data"], json!({"k": "v"}));

        let malformed = api
            .request(
                hyper::Method::POST,
                &configmaps(&ns),
                &[("content-type", "application/yaml")],
                "metadata: [unclosed",
            )
            .await;
        assert_eq!(malformed.code, 400, "{malformed:?}");
        let status = malformed.json();
        assert_eq!(status["reason"], "BadRequest");
        let message = status["message"].as_str().unwrap_or("");
        assert!(
            message
                .starts_with("the object provided is unrecognized (must be of type ConfigMap): "),
            "{message}"
        );
        // summarizeData: a body that is not a JSON object is summarized in hex.
        assert!(
            message.ends_with(" (6d657461646174613a205b756e636c6f736564)"),
            "{message}"
        );
    })
    .await
}

#[tokio::test]
async fn a_text_plain_body_is_415() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("errors-415").await;
        let reply = api
            .request(
                hyper::Method::POST,
                &configmaps(&ns),
                &[("content-type", "text/plain")],
                "name=x",
            )
            .await;
        assert_eq!(reply.code, 415, "{reply:?}");
        assert_eq!(
            reply.json(),
            failure(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types \
                 include: application/json, application/yaml, application/vnd.kubernetes.protobuf",
                None
            )
        );
    })
    .await
}

#[tokio::test]
async fn an_unknown_resource_is_404() {
    bounded(async {
        let reply = shared().get("/api/v1/namespaces/default/widgets").await;
        assert_eq!(reply.code, 404, "{reply:?}");
        assert_eq!(
            reply.json(),
            failure(
                404,
                "NotFound",
                "the server could not find the requested resource",
                Some(json!({}))
            )
        );
    })
    .await
}

#[tokio::test]
async fn an_invalid_pod_is_422_with_causes() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("errors-422").await;
        let invalid = json!({"metadata": {"name": "bad"}, "spec": {"containers": [{"name": "c"}]}});
        let reply = api.post(&pods(&ns), &invalid).await;
        assert_eq!(reply.code, 422, "{reply:?}");
        assert_eq!(
            reply.json(),
            failure(
                422,
                "Invalid",
                "Pod \"bad\" is invalid: spec.containers[0].image: Required value",
                Some(json!({
                    "name": "bad", "kind": "Pod",
                    "causes": [{
                        "reason": "FieldValueRequired",
                        "message": "Required value",
                        "field": "spec.containers[0].image"
                    }]
                }))
            )
        );
        assert_eq!(api.get(&format!("{}/bad", pods(&ns))).await.code, 404);
    })
    .await
}

#[tokio::test]
async fn an_object_over_the_stores_request_limit_is_413() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("errors-413").await;
        // Under the API server's 3 MiB body limit, over the store's 1.5 MiB request limit,
        // and valid (a ConfigMap's or Secret's data may not pass 1 MiB; a pod's args have no
        // bound of their own).
        let mut big = pod("big");
        big["spec"]["containers"][0]["args"] = json!(["x".repeat(2 * 1024 * 1024)]);
        let reply = api.post(&pods(&ns), &big).await;
        assert_eq!(reply.code, 413, "{}", reply.json()["message"]);
        assert_eq!(api.get(&format!("{}/big", pods(&ns))).await.code, 404);
        // kubesim's own answer: kube-apiserver passes etcd's error on as a 500
        // (kubernetes/kubernetes#112152); K8S-FACTS.md chooses 413.
        assert_eq!(
            reply.json(),
            failure(
                413,
                "RequestEntityTooLarge",
                "Request entity too large: the object is larger than the store accepts \
                 (etcdserver: request is too large)",
                None
            )
        );
    })
    .await
}

#[tokio::test]
async fn a_malformed_timeout_is_400() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("errors-timeout").await;
        let reply = api.get(&format!("{}?timeout=abc", configmaps(&ns))).await;
        assert_eq!(reply.code, 400, "{reply:?}");
        // WithRequestDeadline: the constant, " - ", and Go's time.ParseDuration error.
        assert_eq!(
            reply.json(),
            failure(
                400,
                "BadRequest",
                "invalid timeout specified in the request URL - time: invalid duration \"abc\"",
                None
            )
        );
    })
    .await
}

#[tokio::test]
async fn a_zero_timeout_means_the_servers_own() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("errors-timeout-zero").await;
        // WithRequestDeadline: "a timeout of 0s implies no timeout on the user's part".
        let reply = api.get(&format!("{}?timeout=0s", configmaps(&ns))).await;
        assert_eq!(reply.code, 200, "{reply:?}");
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// namespaces

#[tokio::test]
async fn deleting_a_namespace_terminates_it_and_its_contents() {
    bounded(async {
        let api = shared();
        let ns = api.namespace("namespaces-delete").await;
        for name in ["one", "two"] {
            api.create(&configmaps(&ns), &configmap(name, json!({})))
                .await;
        }
        let url = format!("/api/v1/namespaces/{ns}");
        let reply = api.delete(&url).await;
        assert!(matches!(reply.code, 200 | 202), "{reply:?}");
        let terminating = reply.json();
        assert_eq!(terminating["kind"], "Namespace");
        assert_eq!(terminating["status"]["phase"], "Terminating");
        assert_timestamp(&terminating["metadata"]["deletionTimestamp"]);
        assert_eq!(terminating["spec"]["finalizers"], json!(["kubernetes"]));

        let gone = api.poll_until(&url, 404).await;
        assert_eq!(gone.code, 404, "the namespace stayed: {gone:?}");
        assert_eq!(
            gone.json(),
            failure(
                404,
                "NotFound",
                &format!("namespaces \"{ns}\" not found"),
                Some(json!({"name": ns, "kind": "namespaces"}))
            )
        );
        let left = api.get(&configmaps(&ns)).await.json();
        assert_eq!(names(&left), Vec::<String>::new());
        // kube answers 202 only to the deprecated orphanDependents=false (handlers/delete.go).
        assert_eq!(
            reply.code, 200,
            "kube-apiserver answers 200, with the namespace"
        );
    })
    .await
}
