//! Strategic merge patch tests: each asserts the exact patched object, key order included
//! (compared as JSON text, since `Value`'s equality ignores key order), or the exact error.

use super::*;
use crate::resources::{Scope, by_kind};
use serde_json::json;

fn resource(group: &str, kind: &str) -> &'static Resource {
    let version = "v1";
    by_kind(group, version, kind).unwrap_or_else(|| panic!("{kind} is served"))
}

fn patch_kind(
    group: &str,
    kind: &str,
    original: &Value,
    patch: Value,
) -> Result<Value, PatchError> {
    apply_strategic_merge_patch(
        resource(group, kind),
        original,
        patch.to_string().as_bytes(),
    )
}

fn patch_pod(original: &Value, patch: Value) -> Result<Value, PatchError> {
    patch_kind("", "Pod", original, patch)
}

/// Asserts the patched object, key order included.
#[track_caller]
fn assert_patched(result: Result<Value, PatchError>, expected: Value) {
    assert_eq!(
        result.map(|v| v.to_string()),
        Ok(expected.to_string()),
        "(left: patched, right: expected)"
    );
}

fn pod(containers: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": containers, "restartPolicy": "Always"}
    })
}

fn names(names: &[&str]) -> Value {
    names.iter().map(|n| json!({"name": n})).collect()
}

fn containers_of(result: Result<Value, PatchError>) -> Result<Value, PatchError> {
    result.map(|v| v["spec"]["containers"].clone())
}

#[test]
fn containers_merge_by_name() {
    let original = pod(json!([
        {"name": "app", "image": "app:1", "ports": [{"containerPort": 80}]},
        {"name": "sidecar", "image": "proxy:1"}
    ]));
    let patched = patch_pod(
        &original,
        json!({"spec": {"containers": [{"name": "sidecar", "image": "proxy:2", "args": ["-v"]}]}}),
    );
    assert_patched(
        patched,
        pod(json!([
            {"name": "app", "image": "app:1", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "proxy:2", "args": ["-v"]}
        ])),
    );
}

#[test]
fn a_merge_without_set_element_order_puts_new_items_first() {
    let original = pod(names(&["app", "sidecar"]));
    let added = patch_pod(
        &original,
        json!({"spec": {"containers": [{"name": "debug"}]}}),
    );
    assert_eq!(
        containers_of(added),
        Ok(names(&["debug", "app", "sidecar"]))
    );
    let mixed = patch_pod(
        &original,
        json!({"spec": {"containers": [{"name": "sidecar"}, {"name": "debug"}]}}),
    );
    assert_eq!(
        containers_of(mixed),
        Ok(names(&["app", "sidecar", "debug"]))
    );
}

#[test]
fn patch_delete_removes_a_container() {
    let original = pod(names(&["app", "sidecar", "debug"]));
    let patched = patch_pod(
        &original,
        json!({"spec": {"containers": [{"$patch": "delete", "name": "sidecar"}]}}),
    );
    assert_patched(patched, pod(names(&["app", "debug"])));
}

#[test]
fn patch_replace_in_a_list_replaces_it_whole() {
    let original = pod(names(&["app", "sidecar"]));
    let patched = patch_pod(
        &original,
        json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": null}]}}),
    );
    assert_eq!(containers_of(patched), Ok(names(&["only"])));
}

#[test]
fn set_element_order_orders_as_kubectl_edit_means() {
    let original = pod(json!([
        {"name": "a", "image": "a:1"},
        {"name": "b", "image": "b:1"},
        {"name": "c", "image": "c:1"}
    ]));
    // kubectl edit: c moved to the front and a's image changed.
    let reordered = patch_pod(
        &original,
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "image": "a:2"}]
        }}),
    );
    assert_patched(
        reordered,
        pod(json!([
            {"name": "c", "image": "c:1"},
            {"name": "a", "image": "a:2"},
            {"name": "b", "image": "b:1"}
        ])),
    );
    // kubectl edit: b deleted, c moved to the front.
    let deleted = patch_pod(
        &original,
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
            "containers": [{"$patch": "delete", "name": "b"}]
        }}),
    );
    assert_eq!(
        containers_of(deleted),
        Ok(json!([{"name": "c", "image": "c:1"}, {"name": "a", "image": "a:1"}]))
    );
}

#[test]
fn set_element_order_keeps_live_only_items_among_the_others() {
    // The live list has `s`, which the client never saw.
    let original = pod(names(&["w", "x", "s", "y", "z"]));
    let patched = patch_pod(
        &original,
        json!({"spec": {"$setElementOrder/containers": names(&["x", "w", "z", "y"])}}),
    );
    assert_eq!(
        containers_of(patched),
        Ok(names(&["x", "w", "s", "z", "y"]))
    );
}

#[test]
fn set_element_order_adds_a_list_the_object_lacks() {
    let original = json!({"spec": {}});
    let patched = patch_pod(
        &original,
        json!({"spec": {
            "$setElementOrder/containers": names(&["b", "a"]),
            "containers": [{"name": "b"}, {"name": "x", "$patch": "delete"}, {"name": "a"}]
        }}),
    );
    assert_patched(patched, json!({"spec": {"containers": names(&["b", "a"])}}));
}

#[test]
fn set_element_order_must_agree_with_the_patch_list() {
    let original = pod(names(&["a"]));
    let result = patch_pod(
        &original,
        json!({"spec": {
            "$setElementOrder/containers": names(&["a"]),
            "containers": [{"name": "b", "image": "x"}]
        }}),
    );
    assert_eq!(
        result,
        Err(PatchError::Strategic(
            "The order in patch list:\n[map[image:x name:b]]\n doesn't match $setElementOrder list:\n[map[name:a]]\n"
                .into()
        ))
    );
}

#[test]
fn retain_keys_clears_unlisted_keys() {
    let deployment = json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
        }
    });
    // What kubectl apply sends to switch to Recreate.
    let patched = patch_kind(
        "apps",
        "Deployment",
        &deployment,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    );
    assert_patched(
        patched,
        json!({
            "metadata": {"name": "web"},
            "spec": {"replicas": 2, "strategy": {"type": "Recreate"}}
        }),
    );
}

#[test]
fn retain_keys_must_list_what_the_patch_sets() {
    let original = json!({"spec": {"strategy": {"type": "RollingUpdate"}}});
    let bad = [
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
        json!({"spec": {"strategy": {"$retainKeys": "type"}}}),
    ];
    for patch in bad {
        assert_eq!(
            patch_kind("apps", "Deployment", &original, patch),
            Err(PatchError::BadDirective(ERR_BAD_RETAIN_KEYS))
        );
    }
    let nulls_are_fine = patch_kind(
        "apps",
        "Deployment",
        &original,
        json!({"spec": {"strategy": {"$retainKeys": [], "rollingUpdate": null}}}),
    );
    assert_patched(nulls_are_fine, json!({"spec": {"strategy": {}}}));
}

#[test]
fn null_removes_a_key_and_order_is_kept() {
    let original = json!({
        "metadata": {"name": "cm", "labels": {"a": "1", "b": "2", "c": "3"}},
        "data": {"x": "1"}
    });
    let patched = patch_kind(
        "",
        "ConfigMap",
        &original,
        json!({"metadata": {"labels": {"a": null, "d": "4", "b": "two"}}, "data": null, "immutable": true}),
    );
    assert_patched(
        patched,
        json!({
            "metadata": {"name": "cm", "labels": {"b": "two", "c": "3", "d": "4"}},
            "immutable": true
        }),
    );
}

#[test]
fn finalizers_merge_as_a_set() {
    let original = json!({"metadata": {"name": "web", "finalizers": ["a", "b"]}});
    let cases = [
        // Plain merge: the new item first, as strategicpatch orders it.
        (
            json!({"metadata": {"finalizers": ["c", "a"]}}),
            json!(["c", "a", "b"]),
        ),
        // What kubectl apply and edit send: the order they want.
        (
            json!({"metadata": {
                "$setElementOrder/finalizers": ["a", "b", "c"],
                "finalizers": ["c"]
            }}),
            json!(["a", "b", "c"]),
        ),
        (
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "x"]}}),
            json!(["b"]),
        ),
        (
            json!({"metadata": {
                "$setElementOrder/finalizers": [],
                "$deleteFromPrimitiveList/finalizers": ["a", "b"]
            }}),
            json!([]),
        ),
    ];
    for (patch, finalizers) in cases {
        let patched = patch_pod(&original, patch.clone());
        assert_eq!(
            patched.map(|v| v["metadata"]["finalizers"].clone()),
            Ok(finalizers),
            "{patch}"
        );
    }
}

#[test]
fn env_merges_by_name_inside_merged_containers() {
    let original = pod(json!([{
        "name": "app",
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    }]));
    let patched = patch_pod(
        &original,
        json!({"spec": {"containers": [{
            "name": "app",
            "env": [
                {"name": "B", "value": null, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "C", "value": "3"}
            ]
        }]}}),
    );
    assert_eq!(
        containers_of(patched),
        Ok(json!([{
            "name": "app",
            "env": [
                {"name": "A", "value": "1"},
                {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "C", "value": "3"}
            ]
        }]))
    );
}

#[test]
fn atomic_lists_are_replaced_whole() {
    let original = json!({"spec": {
        "containers": [{"name": "app", "envFrom": [{"configMapRef": {"name": "a"}}]}],
        "tolerations": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]
    }});
    let patched = patch_pod(
        &original,
        json!({"spec": {
            "tolerations": [{"key": "c", "operator": "Exists", "value": null}],
            "containers": [{"name": "app", "envFrom": [{"secretRef": {"name": "s"}}]}]
        }}),
    );
    assert_patched(
        patched,
        json!({"spec": {
            "containers": [{"name": "app", "envFrom": [{"secretRef": {"name": "s"}}]}],
            "tolerations": [{"key": "c", "operator": "Exists"}]
        }}),
    );
    let role = json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
    let patched = patch_kind(
        "rbac.authorization.k8s.io",
        "Role",
        &role,
        json!({"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]}),
    );
    assert_patched(
        patched,
        json!({"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]}),
    );
}

#[test]
fn other_kinds_merge_by_their_keys() {
    let service = json!({"spec": {"ports": [
        {"name": "http", "port": 80, "targetPort": 8080},
        {"name": "https", "port": 443}
    ]}});
    let patched = patch_kind(
        "",
        "Service",
        &service,
        json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
    );
    assert_patched(
        patched,
        json!({"spec": {"ports": [
            {"name": "http", "port": 80, "targetPort": 9090},
            {"name": "https", "port": 443}
        ]}}),
    );
    let owned = json!({"metadata": {"ownerReferences": [{"uid": "u1", "name": "rs"}]}});
    let patched = patch_kind(
        "apps",
        "Deployment",
        &owned,
        json!({"metadata": {"ownerReferences": [{"uid": "u1", "controller": true}]}}),
    );
    assert_patched(
        patched,
        json!({"metadata": {"ownerReferences": [{"uid": "u1", "name": "rs", "controller": true}]}}),
    );
    let webhooks = json!({"webhooks": [{
        "name": "w.example.com",
        "matchConditions": [{"name": "a", "expression": "true"}]
    }]});
    let patched = patch_kind(
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        &webhooks,
        json!({"webhooks": [{
            "name": "w.example.com",
            "matchConditions": [{"name": "a", "expression": "false"}]
        }]}),
    );
    assert_patched(
        patched,
        json!({"webhooks": [{
            "name": "w.example.com",
            "matchConditions": [{"name": "a", "expression": "false"}]
        }]}),
    );
}

#[test]
fn deployments_merge_their_pod_template_like_a_pod() {
    let deployment = json!({"spec": {"template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]}]}
    }}});
    let patched = patch_kind(
        "apps",
        "Deployment",
        &deployment,
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:2", "env": [{"name": "B", "value": "2"}]}
        ]}}}}),
    );
    assert_patched(
        patched,
        json!({"spec": {"template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{
                "name": "app",
                "image": "app:2",
                "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]
            }]}
        }}}),
    );
}

#[test]
fn object_directives() {
    let original = json!({"metadata": {"labels": {"a": "1", "b": "2"}, "annotations": {"x": "1"}}});
    let patched = patch_pod(
        &original,
        json!({"metadata": {
            "labels": {"$patch": "replace", "c": "3", "d": null},
            "annotations": {"$patch": "delete"}
        }}),
    );
    assert_patched(
        patched,
        json!({"metadata": {"labels": {"c": "3"}, "annotations": {}}}),
    );
}

#[test]
fn new_values_lose_directives_and_nulls() {
    let original = json!({"spec": {"nodeName": "n1"}});
    let patched = patch_pod(
        &original,
        json!({"spec": {
            "affinity": {
                "nodeAffinity": {"$patch": "delete"},
                "podAffinity": {"a": null, "b": [{"$patch": "x"}, {"c": 1, "$retainKeys": []}]}
            },
            "nodeName": {"x": null, "y": 1},
            "gone": {"$patch": "replace"}
        }}),
    );
    assert_patched(
        patched,
        json!({"spec": {
            "nodeName": {"y": 1},
            "affinity": {"podAffinity": {"b": [{"c": 1}]}}
        }}),
    );
}

#[test]
fn malformed_patches_are_bad_requests() {
    let original = pod(names(&["app"]));
    let kind = resource("", "Pod");
    let cases = [
        (
            "[1]",
            "json: cannot unmarshal array into Go value of type map[string]interface {}",
        ),
        (
            "\"x\"",
            "json: cannot unmarshal string into Go value of type map[string]interface {}",
        ),
        ("{\"spec\":", "EOF while parsing a value at line 1 column 8"),
    ];
    for (body, message) in cases {
        assert_eq!(
            apply_strategic_merge_patch(kind, &original, body.as_bytes()),
            Err(PatchError::Malformed(message.into())),
            "{body}"
        );
    }
    assert_eq!(
        apply_strategic_merge_patch(kind, &original, b"null"),
        Ok(original.clone())
    );
}

#[test]
fn bad_directives_are_400() {
    let original =
        json!({"metadata": {"finalizers": ["a"]}, "spec": {"containers": names(&["a"])}});
    let cases = [
        (
            json!({"spec": {"$setElementOrderX/containers": []}}),
            ERR_BAD_SET_ELEMENT_ORDER,
        ),
        (
            json!({"spec": {"$setElementOrder": []}}),
            ERR_BAD_SET_ELEMENT_ORDER,
        ),
        (
            json!({"metadata": {"$deleteFromPrimitiveList": ["a"]}}),
            ERR_BAD_PRIMITIVE_LIST,
        ),
    ];
    for (patch, message) in cases {
        assert_eq!(
            patch_pod(&original, patch.clone()),
            Err(PatchError::BadDirective(message)),
            "{patch}"
        );
    }
}

#[test]
fn other_failures_carry_strategicpatch_messages() {
    let original = json!({
        "metadata": {"labels": {"a": "1"}, "finalizers": ["a"]},
        "spec": {"containers": names(&["a"])}
    });
    let cases = [
        (
            json!({"metadata": {"labels": {"$patch": "merge", "b": "2"}}}),
            "unknown patch type: merge in map: map[$patch:merge b:2]",
        ),
        (
            json!({"spec": {"containers": [{"$patch": "merge", "name": "a"}]}}),
            "merging lists cannot yet be specified in the patch",
        ),
        (
            json!({"spec": {"containers": [{"$patch": "frob", "name": "a"}]}}),
            "unknown patch type: frob in map: map[$patch:frob name:a]",
        ),
        (
            json!({"spec": {"containers": [{"$patch": "delete"}]}}),
            "map: map[$patch:delete] does not contain declared merge key: name",
        ),
        (
            json!({"spec": {"containers": [{"image": "x"}]}}),
            "map: map[image:x] does not contain declared merge key: name",
        ),
        (
            json!({"metadata": {"finalizers": [1]}}),
            "list element types are not identical: [[a] [1]]",
        ),
        (
            json!({"spec": {"$setElementOrder/containers": "a"}}),
            "expected a []interface {}, but received a string",
        ),
    ];
    for (patch, message) in cases {
        assert_eq!(
            patch_pod(&original, patch.clone()),
            Err(PatchError::Strategic(message.into())),
            "{patch}"
        );
    }
}

#[test]
fn lists_of_lists_are_422() {
    let original = json!({"metadata": {"finalizers": []}});
    assert_eq!(
        patch_pod(&original, json!({"metadata": {"finalizers": [["a"]]}})),
        Err(PatchError::ListOfLists)
    );
}

#[test]
fn kinds_without_metadata_cannot_be_strategically_patched() {
    let widgets = Resource {
        group: "example.com",
        kind: "Widget",
        plural: "widgets",
        singular: "widget",
        scope: Scope::Namespaced,
        ..*resource("", "Pod")
    };
    assert_eq!(
        apply_strategic_merge_patch(&widgets, &json!({}), b"{}"),
        Err(PatchError::StrategicMergeUnsupported)
    );
}

#[test]
fn many_removals_and_long_lists_stay_fast() {
    // 50000 labels all removed, and 20000 containers merged with 20000 patch items: the
    // quadratic walk strategicpatch does would take minutes here.
    let labels: Map<String, Value> = (0..50_000).map(|i| (format!("l{i}"), json!("v"))).collect();
    let removals: Map<String, Value> = labels.keys().map(|k| (k.clone(), Value::Null)).collect();
    let containers: Vec<Value> = (0..20_000)
        .map(|i| json!({"name": format!("c{i}")}))
        .collect();
    let updates: Vec<Value> = (0..20_000)
        .rev()
        .map(|i| json!({"name": format!("c{i}"), "image": "x"}))
        .collect();
    let original = json!({"metadata": {"labels": labels}, "spec": {"containers": containers}});
    let patched = patch_pod(
        &original,
        json!({"metadata": {"labels": removals}, "spec": {"containers": updates}}),
    )
    .expect("patched");
    assert_eq!(patched["metadata"]["labels"], json!({}));
    let merged = patched["spec"]["containers"].as_array().map(Vec::len);
    assert_eq!(merged, Some(20_000));
    assert_eq!(
        patched["spec"]["containers"][0],
        json!({"name": "c19999", "image": "x"})
    );
}

#[test]
fn the_deepest_patch_merges_within_a_small_stack() {
    // Both the live object and the patch nest MAX_DEPTH objects; the recursion runs on a
    // thread with a quarter of a tokio worker's 2 MiB stack.
    fn nested(levels: usize, leaf: Value) -> Value {
        (0..levels).fold(leaf, |inner, _| json!({ "a": inner }))
    }
    // The leaf of the patch is two levels deep, so the patch is exactly MAX_DEPTH.
    const WRAPPING: usize = crate::patch::MAX_DEPTH - 2;
    let original = nested(WRAPPING, json!({"x": 1}));
    let patch = nested(WRAPPING, json!({"x": null, "y": {"z": null, "w": 1}}));
    let expected = nested(WRAPPING, json!({"y": {"w": 1}}));
    let worker = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || patch_pod(&original, patch))
        .expect("thread spawns");
    assert_eq!(worker.join().expect("no stack overflow"), Ok(expected));
}
