//! Every `EtcdStorage` call against an in-process single-member kubesim store on loopback,
//! through the same `Env.net` seam and etcd v3 API the API server uses.

mod common;

use std::time::Duration;

use common::Fixture;
use futures::{Stream, StreamExt};
use kubesim_storage::error::{EXPIRED, INCONSISTENT_CONTINUE, WATCH_EXPIRED};
use kubesim_storage::{
    ListOptions, ListResult, StorageError, WatchEvent, WatchEventKind, WatchItem,
};

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

async fn next<S>(events: &mut S) -> Result<WatchItem, StorageError>
where
    S: Stream<Item = Result<WatchItem, StorageError>> + Unpin,
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
    let mut events = s.watch("/registry/pods/", before).await.expect("watch");
    let expected = [
        (WatchEventKind::Added, "v1", None, created),
        (WatchEventKind::Modified, "v2", Some("v1"), updated),
        (WatchEventKind::Deleted, "v2", Some("v2"), deleted),
    ];
    for (kind, value, prev, revision) in expected {
        assert_eq!(
            next(&mut events).await,
            Ok(WatchItem::Event(WatchEvent {
                kind,
                key: key.into(),
                value: val(value),
                prev_value: prev.map(val),
                revision,
            }))
        );
    }

    // And a live change after the watch started.
    let live = s
        .create("/registry/pods/ns/b", val("b"))
        .await
        .expect("create");
    let Ok(WatchItem::Event(event)) = next(&mut events).await else {
        panic!("a live event");
    };
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
        Ok(mut events) => {
            assert_eq!(next(&mut events).await, Err(want));
            let end = tokio::time::timeout(Duration::from_secs(5), events.next()).await;
            assert!(matches!(end, Ok(None)), "the stream ends after the error");
        }
        // A server that refuses in the creation response itself.
        Err(err) => assert_eq!(err, want),
    }
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_progress_is_answered_after_the_events_before_it() {
    let f = Fixture::start().await;
    let s = &f.storage;
    let start = s
        .create("/registry/pods/ns/a", val("a"))
        .await
        .expect("create");
    let mut events = s.watch("/registry/pods/", start).await.expect("watch");

    // A write under the prefix, then writes elsewhere: progress covers all of them, after
    // the event it promises has been sent.
    let mine = s
        .create("/registry/pods/ns/b", val("b"))
        .await
        .expect("create");
    s.create("/registry/services/specs/ns/x", val("x"))
        .await
        .expect("create");
    let elsewhere = s
        .create("/registry/services/specs/ns/y", val("y"))
        .await
        .expect("create");
    assert!(events.request_progress());
    let Ok(WatchItem::Event(event)) = next(&mut events).await else {
        panic!("the event comes first");
    };
    assert_eq!(event.revision, mine);
    assert_eq!(next(&mut events).await, Ok(WatchItem::Progress(elsewhere)));

    // Asked again with nothing new: the same revision.
    assert!(events.request_progress());
    assert_eq!(next(&mut events).await, Ok(WatchItem::Progress(elsewhere)));
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_over_grpcs_default_4mib_is_read() {
    let f = Fixture::start().await;
    let s = &f.storage;
    // Five values of 1 MiB (under the store's 1.5 MiB request limit): one 5 MiB response.
    let big = vec![b'x'; 1024 * 1024];
    for name in ["a", "b", "c", "d", "e"] {
        s.create(&format!("/registry/configmaps/ns/{name}"), big.clone())
            .await
            .expect("create");
    }
    let all = s
        .list("/registry/configmaps/", page(0, None))
        .await
        .expect("a 5 MiB list");
    assert_eq!(all.items.len(), 5);
    assert!(all.items.iter().all(|(_, v, _)| v.len() == big.len()));
    f.stop().await;
}
