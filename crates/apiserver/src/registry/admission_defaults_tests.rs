//! Pruning and defaults run again after mutating admission only when they can change
//! something ([`Registry::admit`]): a pod the in-tree plugins changed (ServiceAccount's token
//! volume and mounts) is already a fixed point of both, and a pod whose resources
//! LimitRanger filled in gets the qosClass computed from them.

use std::time::Duration;

use kubesim_api::resources::{Resource, lookup};
use kubesim_api::{defaults, schema};
use kubesim_storage::EtcdStorage;
use serde_json::{Value, json};

use super::*;
use crate::config::ApiServerConfig;

const NAMESPACE: &str = "admitted";

fn resource(plural: &str) -> &'static Resource {
    lookup("", "v1", plural).expect("served")
}

/// A registry with kube's default admission plugins over a store in this process.
async fn registry_with_admission(
    dir: &std::path::Path,
) -> (kubesim_store::StoreNode, Arc<Registry>) {
    use kubesim_store::{InitialMember, StoreConfig, StoreNode};
    let env = Env::production(dir);
    let peer = "http://127.0.0.1:12390".to_string();
    let initial = vec![InitialMember {
        name: "s1".into(),
        peer_url: peer.clone(),
    }];
    let mut config = StoreConfig::new("s1", "http://127.0.0.1:0", &peer, initial, "admitted");
    config.listen_peer_urls = vec!["http://127.0.0.1:0".into()];
    config.advertise_client_urls = vec![];
    let store = StoreNode::start(env.clone(), config)
        .await
        .expect("start the store");
    let storage = EtcdStorage::new(&env, &[format!("http://{}", store.client_addr())])
        .expect("a storage client");
    let registry = Registry::start(env.clone(), storage, DEFAULT_ETCD_PREFIX);
    let server = ApiServerConfig::new("127.0.0.1:0", "unused".into(), "unused".into());
    crate::admission::start(&env, &registry, &server.admission).expect("admission");
    let weak = Arc::downgrade(&registry);
    let ready = wait_caches_ready(&weak, Duration::from_millis(20));
    assert!(
        tokio::time::timeout(Duration::from_secs(30), ready)
            .await
            .is_ok_and(|ready| ready)
    );
    (store, registry)
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}})
}

/// Waits until the watch cache of `plural` has `object`'s write (admission reads it).
async fn wait_cached(registry: &Registry, plural: &str, object: &Value) {
    let revision: i64 = meta::meta_str(object, "resourceVersion")
        .parse()
        .expect("a numeric resourceVersion");
    let cache = registry.cache(resource(plural)).expect("a cache");
    cache
        .wait_fresh(revision)
        .await
        .expect("the cache catches up");
}

/// Creates [`NAMESPACE`] and waits until admission can see its default ServiceAccount
/// (made with the namespace; admission reads it from its watch cache).
async fn create_namespace(registry: &Registry, opts: &WriteOptions) {
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": NAMESPACE}});
    registry
        .create(resource("namespaces"), "", namespace, opts)
        .await
        .expect("the namespace");
    let account = registry
        .get(resource("serviceaccounts"), NAMESPACE, "default")
        .await
        .expect("the default ServiceAccount");
    wait_cached(registry, "serviceaccounts", &account).await;
}

/// `object` after one more pass of pruning and defaults.
fn again(object: &Value) -> Value {
    let mut again = object.clone();
    schema::prune(resource("pods"), &mut again);
    defaults::apply_defaults(resource("pods"), &mut again);
    again
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_pass_runs_only_when_it_can_change_the_pod() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (_store, registry) = registry_with_admission(dir.path()).await;
    let opts = WriteOptions {
        field_manager: "test".into(),
        ..WriteOptions::default()
    };
    create_namespace(&registry, &opts).await;

    // ServiceAccount mounted its token: the pod changed, and a second pass changes nothing.
    let created = registry
        .create(resource("pods"), NAMESPACE, pod("sa"), &opts)
        .await
        .expect("the pod")
        .value()
        .clone();
    let volumes = created["spec"]["volumes"].as_array().expect("volumes");
    assert!(
        volumes.iter().any(|v| v["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("kube-api-access-"))),
        "the ServiceAccount plugin mounted the token: {volumes:?}"
    );
    assert_eq!(created["status"]["qosClass"], "BestEffort");
    let repeated = again(&created);
    assert_eq!(
        serde_json::to_string(&repeated).expect("json"),
        serde_json::to_string(&created).expect("json")
    );

    // LimitRanger gives the containers requests and limits: the qosClass follows them.
    let range = json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits"},
        "spec": {"limits": [{"type": "Container",
            "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "500m", "memory": "256Mi"}}]}});
    let range = registry
        .create(resource("limitranges"), NAMESPACE, range, &opts)
        .await
        .expect("the limit range");
    wait_cached(&registry, "limitranges", &range).await;
    let limited = registry
        .create(resource("pods"), NAMESPACE, pod("limited"), &opts)
        .await
        .expect("the pod")
        .value()
        .clone();
    assert_eq!(
        limited["spec"]["containers"][0]["resources"]["limits"]["cpu"],
        "500m"
    );
    assert_eq!(limited["status"]["qosClass"], "Guaranteed");
    assert_eq!(again(&limited), limited);
}

#[test]
fn a_patching_webhook_or_a_limit_range_asks_for_a_second_pass() {
    let record = kubesim_admission::Record::new();
    assert!(!webhook_patched(&record));
    record.step(kubesim_admission::Step {
        name: "w.example.com".into(),
        phase: "mutating",
        outcome: "admitted".into(),
        duration: Duration::ZERO,
    });
    assert!(!webhook_patched(&record));
    record.step(kubesim_admission::Step {
        name: "w.example.com".into(),
        phase: "mutating",
        outcome: "patched".into(),
        duration: Duration::ZERO,
    });
    assert!(webhook_patched(&record));
    let record = kubesim_admission::Record::new();
    assert!(!record.resources_defaulted());
    record.note_resources_defaulted();
    assert!(record.resources_defaulted());
}

/// kube's FieldManager records a create before mutating admission: the writer owns what it
/// sent, defaulted, and not what admission added (ServiceAccount's token volume and mount,
/// the service account's name, the Priority plugin's priority and preemption policy). An apply owns exactly its configuration. So a server-side
/// apply of the same pod again does not try to remove what admission added (which pod
/// updates may not change: it failed with 422 when the apply owned them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_creates_managed_fields_leave_out_what_admission_added() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (_store, registry) = registry_with_admission(dir.path()).await;
    let opts = WriteOptions {
        field_manager: "kubectl-run".into(),
        ..WriteOptions::default()
    };
    create_namespace(&registry, &opts).await;

    let created = registry
        .create(resource("pods"), NAMESPACE, pod("run"), &opts)
        .await
        .expect("the pod")
        .value()
        .clone();
    assert!(
        created["spec"]["volumes"].is_array(),
        "admission mounted the token"
    );
    let fields = &created["metadata"]["managedFields"][0]["fieldsV1"];
    let container = &fields["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"];
    assert_eq!(container["f:image"], json!({}), "{fields}");
    assert_eq!(
        container["f:terminationMessagePath"],
        json!({}),
        "defaults: {fields}"
    );
    assert!(container.get("f:volumeMounts").is_none(), "{fields}");
    for added in [
        "f:volumes",
        "f:serviceAccountName",
        "f:serviceAccount",
        "f:priority",
        "f:preemptionPolicy",
    ] {
        assert!(fields["f:spec"].get(added).is_none(), "{added}: {fields}");
    }
    assert_eq!(created["spec"]["priority"], 0, "the Priority plugin's");
    assert_eq!(created["spec"]["preemptionPolicy"], "PreemptLowerPriority");
    for defaulted in ["f:restartPolicy", "f:enableServiceLinks", "f:dnsPolicy"] {
        assert_eq!(fields["f:spec"][defaulted], json!({}), "defaults: {fields}");
    }

    let apply = WriteOptions {
        field_manager: "kubectl".into(),
        operation: managed::Operation::Apply,
        ..WriteOptions::default()
    };
    let applied = registry
        .create(resource("pods"), NAMESPACE, pod("applied"), &apply)
        .await
        .expect("the applied pod")
        .value()
        .clone();
    let entry = &applied["metadata"]["managedFields"][0];
    assert_eq!(entry["operation"], "Apply");
    assert_eq!(
        entry["fieldsV1"],
        json!({"f:spec": {"f:containers": {"k:{\"name\":\"c\"}":
            {".": {}, "f:image": {}, "f:name": {}}}}}),
        "exactly the configuration"
    );
}
