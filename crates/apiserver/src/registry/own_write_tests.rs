//! The watch cache takes this API server's own writes from the registry instead of decoding
//! their values (`Cacher::offer_own_write`): for a create, an update, a patch and an apply of
//! a pod (defaulted, with managedFields), the cached object must be exactly what decoding
//! the stored value gives: equal as JSON and equal byte for byte once serialized (field
//! order included, which `Value`'s equality ignores), and it must have been taken, not
//! decoded.

use std::time::Duration;

use kubesim_api::patch::PatchType;
use kubesim_api::resources::{Resource, lookup};
use kubesim_storage::EtcdStorage;
use serde_json::{Value, json};

use super::update::Written;
use super::*;

const NAMESPACE: &str = "own";
const KEY: &str = "/registry/pods/own/p";

/// A single-member kubesim store in this process.
async fn start_store(dir: &std::path::Path) -> kubesim_store::StoreNode {
    use kubesim_store::{InitialMember, StoreConfig, StoreNode};
    let env = Env::production(dir);
    let peer = "http://127.0.0.1:12390".to_string();
    let initial = vec![InitialMember {
        name: "s1".into(),
        peer_url: peer.clone(),
    }];
    let mut config = StoreConfig::new("s1", "http://127.0.0.1:0", &peer, initial, "own-writes");
    config.listen_peer_urls = vec!["http://127.0.0.1:0".into()];
    config.advertise_client_urls = vec![];
    StoreNode::start(env, config)
        .await
        .expect("start the store")
}

fn pods() -> &'static Resource {
    lookup("", "v1", "pods").expect("pods are served")
}

fn opts(manager: &str, operation: managed::Operation) -> WriteOptions {
    WriteOptions {
        field_manager: manager.into(),
        operation,
        ..WriteOptions::default()
    }
}

/// The object the write returned; for an update or a patch, the new state.
fn written(result: Result<Written, Status>) -> Value {
    match result.expect("the write succeeds") {
        Written::Updated(object) | Written::Created(object) => object,
        Written::Deleted(_) => panic!("the write deleted the pod"),
    }
}

fn revision_of(object: &Value) -> i64 {
    meta::meta_str(object, "resourceVersion")
        .parse()
        .expect("a numeric resourceVersion")
}

/// Waits for the cache to apply `revision`, then checks the cached pod against the stored
/// value decoded, and that the cache took the registry's object (one more taken write).
async fn assert_cached_as_decoded(registry: &Registry, storage: &EtcdStorage, revision: i64) {
    let cache = registry.cache(pods()).expect("a pods cache");
    cache
        .wait_fresh(revision)
        .await
        .expect("the cache catches up");
    let (cached, at) = cache.get(KEY);
    assert!(at >= revision);
    let cached = cached.expect("the pod is cached");
    let (bytes, stored_revision) = storage
        .get(KEY)
        .await
        .expect("get")
        .expect("the pod is stored");
    assert_eq!(stored_revision, revision);
    let decoded = meta::from_stored(&bytes, stored_revision).expect("the value decodes");
    assert_eq!(*cached.value(), decoded);
    assert_eq!(
        String::from_utf8_lossy(cached.json()),
        serde_json::to_string(&decoded).expect("json"),
        "the same fields in the same order"
    );
    assert!(
        cached.value()["metadata"]["managedFields"].is_array(),
        "the write recorded managedFields"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_writes_are_cached_exactly_as_decoding_makes_them() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = start_store(dir.path()).await;
    let env = Env::production(dir.path());
    let storage = EtcdStorage::new(&env, &[format!("http://{}", store.client_addr())])
        .expect("a storage client");
    let registry = Registry::start(env, storage.clone(), DEFAULT_ETCD_PREFIX);
    let weak = Arc::downgrade(&registry);
    let ready = wait_caches_ready(&weak, Duration::from_millis(20));
    assert!(
        tokio::time::timeout(Duration::from_secs(30), ready)
            .await
            .is_ok_and(|ready| ready)
    );
    let update = managed::Operation::Update;

    // Create: defaults (restartPolicy, dnsPolicy, …) and managedFields are added.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    let created = registry
        .create(pods(), NAMESPACE, pod, &opts("kubectl-create", update))
        .await
        .expect("create");
    // Cached as JSON only: the decoded pod (~10x the bytes) is not kept by the cache.
    assert!(!created.is_decoded());
    assert_eq!(created["spec"]["restartPolicy"], "Always");
    assert_cached_as_decoded(&registry, &storage, revision_of(&created)).await;
    // The create's answer is the cached object itself, its JSON spliced from the stored
    // bytes, not serialized again.
    let (cached, _) = registry.cache(pods()).expect("a pods cache").get(KEY);
    assert!(Arc::ptr_eq(&created, &cached.expect("cached")));
    assert_eq!(
        created.json(),
        serde_json::to_vec(created.value())
            .expect("json")
            .as_slice()
    );
    let created = created.value().clone();

    // Update, with the resourceVersion in the middle of the client's metadata: the stored
    // value has none, and decoding puts it last.
    let mut body = created.clone();
    body["metadata"] = json!({"name": "p", "resourceVersion": created["metadata"]["resourceVersion"],
        "labels": {"app": "web"}, "uid": created["metadata"]["uid"],
        "creationTimestamp": created["metadata"]["creationTimestamp"]});
    let updated = written(
        registry
            .update(
                pods(),
                NAMESPACE,
                "p",
                "",
                body,
                &opts("kubectl-edit", update),
            )
            .await,
    );
    assert_cached_as_decoded(&registry, &storage, revision_of(&updated)).await;

    let patch = br#"{"metadata":{"labels":{"tier":"front"}}}"#;
    let patched = written(
        registry
            .patch(
                pods(),
                NAMESPACE,
                "p",
                "",
                PatchType::StrategicMerge,
                patch,
                &opts("kubectl-label", update),
            )
            .await,
    );
    assert_cached_as_decoded(&registry, &storage, revision_of(&patched)).await;

    let apply =
        br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","annotations":{"a":"b"}},
        "spec":{"containers":[{"name":"c","image":"busybox"}]}}"#;
    let applied = written(
        registry
            .patch(
                pods(),
                NAMESPACE,
                "p",
                "",
                PatchType::Apply,
                apply,
                &opts("applier", managed::Operation::Apply),
            )
            .await,
    );
    assert_cached_as_decoded(&registry, &storage, revision_of(&applied)).await;

    let cache = registry.cache(pods()).expect("a pods cache");
    assert_eq!(
        cache.own_writes_taken(),
        4,
        "every write was taken, none decoded"
    );
    assert_eq!(cache.own_writes_waiting(), 0, "nothing left behind");
}
