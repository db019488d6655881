//! Every `EtcdStorage` call against an in-process single-member kubesim store on loopback,
//! through the same `Env.net` seam and etcd v3 API the API server uses.

use std::time::Duration;

use futures::{Stream, StreamExt};
use kubesim_net::Env;
use kubesim_net::network::{ChannelConfig, channel};
use kubesim_proto::etcdserverpb::CompactionRequest;
use kubesim_proto::etcdserverpb::kv_client::KvClient;
use kubesim_storage::error::{EXPIRED, INCONSISTENT_CONTINUE, WATCH_EXPIRED};
use kubesim_storage::{
    EtcdStorage, ListOptions, ListResult, StorageError, WatchEvent, WatchEventKind,
};
use kubesim_store::{InitialMember, StoreConfig, StoreNode};
use tempfile::TempDir;

/// A started store, its data dir, and a storage client of it.
struct Fixture {
    node: StoreNode,
    _dir: TempDir,
    env: Env,
    storage: EtcdStorage,
}

impl Fixture {
    async fn start() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = Env::production(dir.path());
        let peer = "http://127.0.0.1:12380".to_string();
        let initial = vec![InitialMember {
            name: "s1".into(),
            peer_url: peer.clone(),
        }];
        let mut config =
            StoreConfig::new("s1", "http://127.0.0.1:0", &peer, initial, "storage-test");
        // Listen on any free port; advertise the fixed peer URL the member ID is computed from.
        config.listen_peer_urls = vec!["http://127.0.0.1:0".into()];
        config.advertise_client_urls = vec![];
        let node = StoreNode::start(env.clone(), config).await.expect("start");
        let endpoint = format!("http://{}", node.client_addr());
        let storage = EtcdStorage::new(&env, &[endpoint]).expect("storage");
        let fixture = Fixture {
            node,
            _dir: dir,
            env,
            storage,
        };
        fixture.wait_ready().await;
        fixture
    }

    /// Until the member has elected itself and answers a linearizable read (bounded).
    async fn wait_ready(&self) {
        for _ in 0..100 {
            if self.storage.get("/ready").await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the store did not become ready in 10s");
    }

    /// Compacts history up to `revision` (not a storage call: the API server's compactor
    /// will do it).
    async fn compact(&self, revision: i64) {
        let addr = self.node.client_addr().to_string();
        let chan = channel(self.env.net.clone(), &addr, ChannelConfig::default()).expect("chan");
        KvClient::new(chan)
            .compact(CompactionRequest {
                revision,
                physical: false,
            })
            .await
            .expect("compact");
    }

    async fn stop(self) {
        self.node.shutdown().await;
    }
}

fn val(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_update_delete() {
    let f = Fixture::start().await;
    let s = &f.storage;
    let key = "/registry/pods/default/a";

    let created = s.create(key, val("v1")).await.expect("create");
    assert_eq!(
        s.create(key, val("again")).await,
        Err(StorageError::AlreadyExists)
    );
    assert_eq!(s.get(key).await.expect("get"), Some((val("v1"), created)));
    assert_eq!(
        s.get("/registry/pods/default/none").await.expect("get"),
        None
    );

    let updated = s.update(key, val("v2"), created).await.expect("update");
    assert!(updated > created);
    assert_eq!(
        s.update(key, val("stale"), created).await,
        Err(StorageError::Conflict {
            current_revision: updated
        })
    );
    assert_eq!(s.get(key).await.expect("get"), Some((val("v2"), updated)));
    assert_eq!(
        s.update("/registry/pods/default/none", val("x"), created)
            .await,
        Err(StorageError::NotFound)
    );

    assert_eq!(
        s.delete(key, Some(created)).await,
        Err(StorageError::Conflict {
            current_revision: updated
        })
    );
    let (last, deleted) = s.delete(key, Some(updated)).await.expect("delete");
    assert_eq!(last, val("v2"));
    assert!(deleted > updated);
    assert_eq!(s.get(key).await.expect("get"), None);
    assert_eq!(s.delete(key, None).await, Err(StorageError::NotFound));
    assert_eq!(
        s.delete(key, Some(updated)).await,
        Err(StorageError::NotFound)
    );

    // Without a precondition, delete takes whatever is there.
    let again = s.create(key, val("v3")).await.expect("create after delete");
    assert!(again > deleted);
    let (last, _) = s.delete(key, None).await.expect("delete");
    assert_eq!(last, val("v3"));
    f.stop().await;
}

fn keys(page: &ListResult) -> Vec<(&str, &[u8])> {
    page.items
        .iter()
        .map(|(k, v, _)| (k.as_str(), v.as_slice()))
        .collect()
}

fn page(limit: i64, continue_key: Option<String>) -> ListOptions {
    ListOptions {
        revision: None,
        limit,
        continue_key,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_at_one_revision() {
    let f = Fixture::start().await;
    let s = &f.storage;
    for name in ["p1", "p2", "p3", "p4", "p5"] {
        s.create(&format!("/registry/pods/ns/{name}"), val(name))
            .await
            .expect("create");
    }
    // Outside the prefix: a sibling whose name extends it, and the next resource.
    s.create("/registry/pods/nsx/q", val("q"))
        .await
        .expect("create");
    s.create("/registry/podsx/ns/r", val("r"))
        .await
        .expect("create");

    let first = s
        .list("/registry/pods/ns", page(2, None))
        .await
        .expect("list");
    assert_eq!(
        keys(&first),
        [
            ("/registry/pods/ns/p1", &b"p1"[..]),
            ("/registry/pods/ns/p2", b"p2")
        ]
    );
    assert!(first.more);
    assert_eq!(first.remaining, 3);
    let rev = first.revision;
    assert!(rev > 0);

    // A write after the first page is not seen by the rest of this list.
    let p3 = "/registry/pods/ns/p3";
    let (_, p3_rev) = s.get(p3).await.expect("get").expect("p3");
    s.update(p3, val("changed"), p3_rev).await.expect("update");
    s.create("/registry/pods/ns/p6", val("p6"))
        .await
        .expect("create");

    let second = s
        .list("/registry/pods/ns/", page(2, first.continue_key.clone()))
        .await
        .expect("page 2");
    assert_eq!(
        keys(&second),
        [
            ("/registry/pods/ns/p3", &b"p3"[..]),
            ("/registry/pods/ns/p4", b"p4")
        ]
    );
    assert_eq!(second.revision, rev);
    assert!(second.more);
    assert_eq!(second.remaining, 1);

    let third = s
        .list("/registry/pods/ns/", page(2, second.continue_key.clone()))
        .await
        .expect("page 3");
    assert_eq!(keys(&third), [("/registry/pods/ns/p5", &b"p5"[..])]);
    assert_eq!(third.revision, rev);
    assert!(!third.more);
    assert_eq!(third.remaining, 0);
    assert_eq!(third.continue_key, None);

    // The latest state, unpaged, sees the later writes.
    let all = s
        .list("/registry/pods/ns/", page(0, None))
        .await
        .expect("list");
    assert_eq!(all.items.len(), 6);
    assert_eq!(all.items[2].1, val("changed"));
    assert!(all.revision > rev);
    assert!(!all.more);
    assert_eq!(all.continue_key, None);

    // An exact revision reads the past.
    let past = ListOptions {
        revision: Some(rev),
        ..page(0, None)
    };
    let past = s
        .list("/registry/pods/ns/", past)
        .await
        .expect("list at rev");
    assert_eq!(past.items.len(), 5);
    assert_eq!(past.revision, rev);

    let bad = s
        .list("/registry/pods/ns/", page(2, Some("garbage".into())))
        .await;
    assert!(
        matches!(bad, Err(StorageError::InvalidArgument(_))),
        "{bad:?}"
    );
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_list_and_continue_expire() {
    let f = Fixture::start().await;
    let s = &f.storage;
    for name in ["a", "b", "c"] {
        s.create(&format!("/registry/pods/ns/{name}"), val(name))
            .await
            .expect("create");
    }
    let first = s
        .list("/registry/pods/ns/", page(1, None))
        .await
        .expect("list");
    let old = first.revision;
    let latest = s
        .create("/registry/pods/ns/d", val("d"))
        .await
        .expect("create");
    f.compact(latest).await;

    let at_old = ListOptions {
        revision: Some(old),
        ..page(0, None)
    };
    assert_eq!(
        s.list("/registry/pods/ns/", at_old).await,
        Err(StorageError::Expired {
            message: EXPIRED.into(),
            continue_key: None
        })
    );

    let expired = s
        .list("/registry/pods/ns/", page(1, first.continue_key.clone()))
        .await;
    let Err(StorageError::Expired {
        message,
        continue_key: Some(fresh),
    }) = expired
    else {
        panic!("a compacted continue token must expire with a fresh token: {expired:?}");
    };
    assert_eq!(message, INCONSISTENT_CONTINUE);
    // kube-apiserver's replacement token continues after "a" at the latest revision.
    let rest = s
        .list("/registry/pods/ns/", page(0, Some(fresh)))
        .await
        .expect("rest");
    assert_eq!(
        rest.items.iter().map(|i| i.0.as_str()).collect::<Vec<_>>(),
        [
            "/registry/pods/ns/b",
            "/registry/pods/ns/c",
            "/registry/pods/ns/d"
        ]
    );
    assert_eq!(rest.revision, latest);
    f.stop().await;
}

async fn next<S>(events: &mut S) -> Result<WatchEvent, StorageError>
where
    S: Stream<Item = Result<WatchEvent, StorageError>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("a watch event within 5s")
        .expect("the stream goes on")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_sees_changes_in_order() {
    let f = Fixture::start().await;
    let s = &f.storage;
    let before = s
        .create("/registry/pods/ns/old", val("old"))
        .await
        .expect("create");

    let key = "/registry/pods/ns/a";
    let created = s.create(key, val("v1")).await.expect("create");
    s.create("/registry/podsx/ns/other", val("x"))
        .await
        .expect("create");
    let updated = s.update(key, val("v2"), created).await.expect("update");
    let (_, deleted) = s.delete(key, None).await.expect("delete");

    // Events strictly after `before`: the pre-existing key is not replayed.
    let events = s.watch("/registry/pods/", before).await.expect("watch");
    let mut events = Box::pin(events);
    let expected = [
        (WatchEventKind::Added, "v1", None, created),
        (WatchEventKind::Modified, "v2", Some("v1"), updated),
        (WatchEventKind::Deleted, "v2", Some("v2"), deleted),
    ];
    for (kind, value, prev, revision) in expected {
        assert_eq!(
            next(&mut events).await,
            Ok(WatchEvent {
                kind,
                key: key.into(),
                value: val(value),
                prev_value: prev.map(val),
                revision,
            })
        );
    }

    // And a live change after the watch started.
    let live = s
        .create("/registry/pods/ns/b", val("b"))
        .await
        .expect("create");
    let event = next(&mut events).await.expect("live event");
    assert_eq!((event.kind, event.revision), (WatchEventKind::Added, live));
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_compacted_revision_expires() {
    let f = Fixture::start().await;
    let s = &f.storage;
    let old = s
        .create("/registry/pods/ns/a", val("a"))
        .await
        .expect("create");
    let latest = s
        .update("/registry/pods/ns/a", val("b"), old)
        .await
        .expect("update");
    f.compact(latest).await;

    let want = StorageError::Expired {
        message: WATCH_EXPIRED.into(),
        continue_key: None,
    };
    match s.watch("/registry/pods/", old - 1).await {
        // etcd creates the watch, then cancels it with the compact revision.
        Ok(events) => {
            let mut events = Box::pin(events);
            assert_eq!(next(&mut events).await, Err(want));
            let end = tokio::time::timeout(Duration::from_secs(5), events.next()).await;
            assert!(matches!(end, Ok(None)), "the stream ends after the error");
        }
        // A server that refuses in the creation response itself.
        Err(err) => assert_eq!(err, want),
    }
    f.stop().await;
}
