//! The registry's write futures stay small. Every request's future holds the one it awaits,
//! and rustc keeps an awaited future twice (rust-lang/rust#62958), so a write future of many
//! kilobytes (a webhook call's future carried inline, say) was copied several times per
//! request, at every level of the handler chain: 18 KB for a create and 74 KB for the
//! request's handler before the webhook and token paths were boxed (docs/benchmarks.md,
//! run 26). The futures are made and measured, never polled, so no store is needed.

use std::future::Future;

use kubesim_api::patch::PatchType;
use kubesim_api::resources::lookup;
use serde_json::json;

use super::delete::DeleteOptions;
use super::read::ListOptions;
use super::*;

/// What each write's future may take; today's are 2.5-3.5 KB.
const LIMIT: usize = 4096;

fn assert_small<F: Future>(what: &str, future: F) {
    let size = std::mem::size_of_val(&future);
    assert!(
        size <= LIMIT,
        "the {what} future takes {size} bytes, over {LIMIT}: box the large part it awaits"
    );
}

#[tokio::test]
async fn write_futures_stay_small() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let env = Env::production(dir.path());
    // Never connected: the futures are only measured.
    let storage =
        EtcdStorage::new(&env, &["http://127.0.0.1:1".to_string()]).expect("a storage client");
    let registry = Registry::start(env, storage, DEFAULT_ETCD_PREFIX);
    let pods = lookup("", "v1", "pods").expect("pods are served");
    let pod = json!({"metadata": {"name": "p"}});
    let write = WriteOptions::default();
    let delete = DeleteOptions::default();
    let list = ListOptions::everything();
    assert_small("create", registry.create(pods, "ns", pod.clone(), &write));
    assert_small(
        "update",
        registry.update(pods, "ns", "p", "", pod.clone(), &write),
    );
    for patch in [PatchType::StrategicMerge, PatchType::Apply] {
        assert_small(
            "patch",
            registry.patch(pods, "ns", "p", "", patch, b"{}", &write),
        );
    }
    assert_small("delete", registry.delete(pods, "ns", "p", &delete));
    assert_small(
        "deletecollection",
        registry.delete_collection(pods, "ns", &list, &delete),
    );
}
