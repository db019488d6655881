//! The watch cache against an in-process kubesim store: the initial list, events in order,
//! resuming inside the history window and refusing before it, selector transitions,
//! namespace scoping, freshness through etcd progress, slow watchers, bookmarks, a relist
//! after compaction (through a proxy the test can cut), and a 10,000-object list.
//!
//! `KUBESIM_TEST_ETCD=/usr/bin/etcd` also runs the progress test against a real etcd.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Fixture;
use kubesim_net::Env;
use kubesim_proto::etcdserverpb::request_op::Request as Op;
use kubesim_proto::etcdserverpb::{PutRequest, RequestOp, TxnRequest};
use kubesim_storage::cacher::{Filter, SharedObject};
use kubesim_storage::{
    CacheError, CacheEvent, CacheEventType, CacheWatcher, Cacher, CacherConfig, EtcdStorage,
    WatchOptions,
};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Every test ends within this, whatever goes wrong.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a test waits for one event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(5);

async fn bounded<F: std::future::Future>(test: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, test)
        .await
        .expect("the test finishes within its timeout")
}

fn pod_key(ns: &str, name: &str) -> String {
    format!("/registry/pods/{ns}/{name}")
}

fn pod(ns: &str, name: &str, app: &str) -> Vec<u8> {
    let object = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app}}});
    serde_json::to_vec(&object).expect("json")
}

async fn create(s: &EtcdStorage, ns: &str, name: &str, app: &str) -> i64 {
    s.create(&pod_key(ns, name), pod(ns, name, app))
        .await
        .expect("create")
}

async fn update(s: &EtcdStorage, ns: &str, name: &str, app: &str, rev: i64) -> i64 {
    s.update(&pod_key(ns, name), pod(ns, name, app), rev)
        .await
        .expect("update")
}

fn everything() -> Filter {
    Arc::new(|_: &SharedObject| true)
}

fn app_is(app: &'static str) -> Filter {
    Arc::new(move |o: &SharedObject| o["metadata"]["labels"]["app"] == app)
}

/// A started cacher of `/registry/pods/`, once its first list is done.
async fn cacher(storage: &EtcdStorage, config: CacherConfig) -> Arc<Cacher> {
    let cacher = Cacher::start(storage.clone(), "/registry/pods/".into(), config);
    wait_until("the cache is ready", || cacher.ready()).await;
    cacher
}

async fn wait_until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within 10s");
}

async fn next(w: &mut CacheWatcher) -> CacheEvent {
    tokio::time::timeout(EVENT_TIMEOUT, w.next())
        .await
        .expect("an event in time")
        .expect("the watch goes on")
        .expect("an event, not an error")
}

/// (type, name, event revision, the object's metadata.resourceVersion)
fn summary(e: &CacheEvent) -> (CacheEventType, String, i64, String) {
    let meta = &e.object["metadata"];
    (
        e.kind,
        meta["name"].as_str().unwrap_or_default().to_owned(),
        e.revision,
        meta["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn ev(kind: CacheEventType, name: &str, rev: i64) -> (CacheEventType, String, i64, String) {
    (kind, name.to_owned(), rev, rev.to_string())
}

fn names(objects: &[Arc<SharedObject>]) -> Vec<String> {
    objects
        .iter()
        .map(|o| {
            o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_initial_list_is_served_from_memory() {
    bounded(async {
        let f = Fixture::start().await;
        let s = &f.storage;
        let a = create(s, "ns1", "a", "web").await;
        create(s, "ns1", "b", "db").await;
        create(s, "ns2", "c", "web").await;
        // Neither a sibling resource nor a namespace that extends a name is included.
        s.create("/registry/podsx/ns1/x", pod("ns1", "x", "web"))
            .await
            .expect("create");
        let latest = create(s, "ns10", "d", "web").await;

        let cache = cacher(s, CacherConfig::default()).await;
        let (all, revision) = cache.list("", &|_| true);
        assert_eq!(names(&all), ["a", "b", "d", "c"]);
        assert_eq!(revision, latest);
        assert_eq!(all[0]["metadata"]["resourceVersion"], a.to_string());
        let (ns1, _) = cache.list("/registry/pods/ns1", &|_| true);
        assert_eq!(names(&ns1), ["a", "b"]);
        let (web, _) = cache.list("/registry/pods/ns1/", &|o| {
            o["metadata"]["labels"]["app"] == "web"
        });
        assert_eq!(names(&web), ["a"]);
        let (got, _) = cache.get(&pod_key("ns2", "c"));
        assert_eq!(got.map(|o| o["metadata"]["name"].clone()), Some(json!("c")));
        f.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_in_order_with_their_kinds() {
    bounded(async {
        let f = Fixture::start().await;
        let s = &f.storage;
        let old = create(s, "ns", "old", "web").await;
        let cache = cacher(s, CacherConfig::default()).await;
        let mut w = cache
            .watch(None, String::new(), everything(), WatchOptions::default())
            .expect("watch");
        // The current state first, at the snapshot's revision; the object keeps its own.
        let first = next(&mut w).await;
        assert_eq!(
            (first.kind, first.revision),
            (CacheEventType::Added, cache.revision())
        );
        assert_eq!(first.object["metadata"]["resourceVersion"], old.to_string());

        let created = create(s, "ns", "a", "web").await;
        let updated = update(s, "ns", "a", "db", created).await;
        let (_, deleted) = s.delete(&pod_key("ns", "a"), None).await.expect("delete");
        let got = [
            summary(&next(&mut w).await),
            summary(&next(&mut w).await),
            summary(&next(&mut w).await),
        ];
        assert_eq!(
            got,
            [
                ev(CacheEventType::Added, "a", created),
                ev(CacheEventType::Modified, "a", updated),
                // The last state, at the deletion's resourceVersion.
                ev(CacheEventType::Deleted, "a", deleted),
            ]
        );
        assert_eq!(cache.revision(), deleted);
        f.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_resumes_in_the_window_and_is_refused_before_it() {
    bounded(async {
        let f = Fixture::start().await;
        let s = &f.storage;
        let config = CacherConfig {
            history_window: 3,
            ..CacherConfig::default()
        };
        let cache = cacher(s, config).await;
        let listed = cache.revision();
        let mut revs = vec![create(s, "ns", "a", "web").await];
        for _ in 0..4 {
            let last = *revs.last().expect("one");
            revs.push(update(s, "ns", "a", "web", last).await);
        }
        let last = *revs.last().expect("five");
        wait_until("the cache applied the writes", || cache.revision() >= last).await;

        // History holds the last 3 (revs[2..]): from revs[1] is exact.
        let mut w = cache
            .watch(
                Some(revs[1]),
                String::new(),
                everything(),
                WatchOptions::default(),
            )
            .expect("in the window");
        for rev in &revs[2..] {
            assert_eq!(
                summary(&next(&mut w).await),
                ev(CacheEventType::Modified, "a", *rev)
            );
        }
        let live = update(s, "ns", "a", "web", last).await;
        assert_eq!(
            summary(&next(&mut w).await),
            ev(CacheEventType::Modified, "a", live)
        );

        // From the list's revision: the first events were evicted.
        let refused = cache.watch(
            Some(listed),
            String::new(),
            everything(),
            WatchOptions::default(),
        );
        assert_eq!(
            refused.err(),
            Some(CacheError::TooOld {
                requested: listed,
                oldest: revs[2],
            })
        );
        assert_eq!(
            CacheError::TooOld {
                requested: listed,
                oldest: revs[2]
            }
            .to_string(),
            format!("too old resource version: {listed} ({})", revs[2])
        );
        f.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_change_moves_an_object_in_and_out_of_a_selector() {
    bounded(async {
        let f = Fixture::start().await;
        let s = &f.storage;
        let cache = cacher(s, CacherConfig::default()).await;
        let mut web = cache
            .watch(
                Some(cache.revision()),
                String::new(),
                app_is("web"),
                WatchOptions::default(),
            )
            .expect("watch");
        let r1 = create(s, "ns", "a", "db").await;
        let r2 = update(s, "ns", "a", "web", r1).await;
        let r3 = update(s, "ns", "a", "web", r2).await;
        let r4 = update(s, "ns", "a", "db", r3).await;
        s.delete(&pod_key("ns", "a"), None).await.expect("delete");
        let r6 = create(s, "ns", "b", "web").await;
        let got = [
            summary(&next(&mut web).await),
            summary(&next(&mut web).await),
            summary(&next(&mut web).await),
            summary(&next(&mut web).await),
        ];
        assert_eq!(
            got,
            [
                ev(CacheEventType::Added, "a", r2),
                ev(CacheEventType::Modified, "a", r3),
                // The last state it matched in, at the revision it stopped matching.
                ev(CacheEventType::Deleted, "a", r4),
                ev(CacheEventType::Added, "b", r6),
            ]
        );
        // The DELETED carries the state the watcher knew: still labelled web.
        let mut again = cache
            .watch(
                Some(r3),
                String::new(),
                app_is("web"),
                WatchOptions::default(),
            )
            .expect("watch");
        let gone = next(&mut again).await;
        assert_eq!(gone.kind, CacheEventType::Deleted);
        assert_eq!(gone.object["metadata"]["labels"]["app"], "web");
        f.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_watch_sees_only_its_namespace() {
    bounded(async {
        let f = Fixture::start().await;
        let s = &f.storage;
        let cache = cacher(s, CacherConfig::default()).await;
        let from = Some(cache.revision());
        let mut ns1 = cache
            .watch(
                from,
                "/registry/pods/ns1".into(),
                everything(),
                WatchOptions::default(),
            )
            .expect("watch");
        create(s, "ns10", "x", "web").await;
        create(s, "ns2", "y", "web").await;
        let mine = create(s, "ns1", "z", "web").await;
        assert_eq!(
            summary(&next(&mut ns1).await),
            ev(CacheEventType::Added, "z", mine)
        );
        f.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_fresh_catches_up_through_progress_on_a_quiet_prefix() {
    bounded(async {
        let f = Fixture::start().await;
        let cache = cacher(&f.storage, CacherConfig::default()).await;
        freshness_through_progress(&f.storage, &cache).await;
        f.stop().await;
    })
    .await;
}

/// Writes elsewhere move etcd's revision, not the cache's; wait_fresh gets there by asking
/// etcd for progress.
async fn freshness_through_progress(s: &EtcdStorage, cache: &Cacher) {
    let mut elsewhere = 0;
    for name in ["x", "y", "z"] {
        elsewhere = s
            .create(
                &format!("/registry/services/specs/ns/{name}"),
                b"{}".to_vec(),
            )
            .await
            .expect("create");
    }
    assert!(cache.revision() < elsewhere);
    let started = tokio::time::Instant::now();
    assert_eq!(cache.wait_fresh(elsewhere).await, Ok(()));
    assert!(cache.revision() >= elsewhere);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "progress, not the timeout: {:?}",
        started.elapsed()
    );
    // And a list now answers at that revision.
    assert!(cache.list("", &|_| true).1 >= elsewhere);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_fresh_gives_up_after_the_freshness_timeout() {
    bounded(async {
        let f = Fixture::start().await;
        let config = CacherConfig {
            freshness_timeout: Duration::from_millis(300),
            ..CacherConfig::default()
        };
        let cache = cacher(&f.storage, config).await;
        let current = create(&f.storage, "ns", "a", "web").await;
        wait_until("the cache applied the write", || {
            cache.revision() >= current
        })
        .await;
        let started = tokio::time::Instant::now();
        let answer = cache.wait_fresh(current + 1000).await;
        assert_eq!(
            answer,
            Err(CacheError::TooLargeResourceVersion {
                requested: current + 1000,
                current,
            })
        );
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(
            answer.err().map(|e| e.to_string()),
            Some(format!(
                "Too large resource version: {}, current: {current}",
                current + 1000
            ))
        );
        f.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_watcher_is_closed_while_a_fast_one_keeps_receiving() {
    bounded(async {
        let f = Fixture::start().await;
        let s = &f.storage;
        let config = CacherConfig {
            watcher_buffer: 4,
            ..CacherConfig::default()
        };
        let cache = cacher(s, config).await;
        let from = Some(cache.revision());
        let mut slow = cache
            .watch(from, String::new(), everything(), WatchOptions::default())
            .expect("slow");
        let mut fast = cache
            .watch(from, String::new(), everything(), WatchOptions::default())
            .expect("fast");
        let mut written = Vec::new();
        for i in 0..20 {
            written.push(create(s, "ns", &format!("p{i:02}"), "web").await);
            let event = next(&mut fast).await;
            assert_eq!(event.revision, *written.last().expect("one"));
        }
        assert_eq!(cache.watcher_count(), 1);
        // The slow one gets what was queued before it fell behind, then its end.
        let mut queued = Vec::new();
        while let Some(item) = tokio::time::timeout(EVENT_TIMEOUT, slow.next())
            .await
            .expect("no hang")
        {
            queued.push(item.expect("an event").revision);
        }
        assert_eq!(queued, written[..4]);
        f.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookmarks_follow_the_revision_and_end_the_initial_events() {
    bounded(async {
        let f = Fixture::start().await;
        let s = &f.storage;
        create(s, "ns", "a", "web").await;
        let config = CacherConfig {
            bookmark_interval: Duration::from_millis(100),
            ..CacherConfig::default()
        };
        let cache = cacher(s, config).await;
        let opts = WatchOptions {
            allow_bookmarks: true,
            send_initial_events: true,
        };
        let mut w = cache
            .watch(None, String::new(), everything(), opts)
            .expect("watch");
        assert_eq!(next(&mut w).await.kind, CacheEventType::Added);
        let end = next(&mut w).await;
        assert_eq!(end.kind, CacheEventType::Bookmark);
        assert_eq!(
            *end.object,
            json!({"metadata": {"resourceVersion": end.revision.to_string(),
                "annotations": {"k8s.io/initial-events-end": "true"}}})
        );

        // Nothing changes under pods; the bookmarks still reach a write elsewhere.
        let elsewhere = s
            .create("/registry/configmaps/ns/c", b"{}".to_vec())
            .await
            .expect("create");
        let mut seen = 0;
        for _ in 0..100 {
            let bookmark = next(&mut w).await;
            assert_eq!(bookmark.kind, CacheEventType::Bookmark);
            assert_eq!(
                *bookmark.object,
                json!({"metadata": {"resourceVersion": bookmark.revision.to_string()}})
            );
            seen = bookmark.revision;
            if seen >= elsewhere {
                break;
            }
        }
        assert_eq!(seen, elsewhere);
        f.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_watch_relists_and_ends_the_watchers() {
    bounded(async {
        let f = Fixture::start().await;
        let s = &f.storage;
        create(s, "ns", "a", "web").await;
        let b = create(s, "ns", "b", "web").await;
        let proxy = Proxy::start(&f.client_addr()).await;
        let env = Env::production(std::env::temp_dir());
        let through_proxy = EtcdStorage::new(&env, &[proxy.addr.to_string()]).expect("storage");
        let config = CacherConfig {
            max_retry_backoff: Duration::from_millis(200),
            ..CacherConfig::default()
        };
        let cache = cacher(&through_proxy, config).await;
        let mut w = cache
            .watch(
                Some(cache.revision()),
                String::new(),
                everything(),
                WatchOptions::default(),
            )
            .expect("watch");

        // While the cache is cut off: a delete, a create, and a compaction past them all.
        proxy.cut();
        s.delete(&pod_key("ns", "a"), None).await.expect("delete");
        let c = create(s, "ns", "c", "web").await;
        f.compact(c).await;
        proxy.resume();

        let end = tokio::time::timeout(Duration::from_secs(20), w.next())
            .await
            .expect("the watcher hears of the relist");
        assert!(
            matches!(end, Some(Err(CacheError::TooOld { .. }))),
            "{end:?}"
        );
        let after = tokio::time::timeout(EVENT_TIMEOUT, w.next())
            .await
            .expect("ends");
        assert!(after.is_none(), "{after:?}");
        wait_until("relisted", || cache.ready() && cache.revision() >= c).await;
        let (objects, revision) = cache.list("", &|_| true);
        assert_eq!(names(&objects), ["b", "c"]);
        assert_eq!(revision, c);
        // History starts over at the relist.
        let old = cache.watch(
            Some(b),
            String::new(),
            everything(),
            WatchOptions::default(),
        );
        assert_eq!(
            old.err(),
            Some(CacheError::TooOld {
                requested: b,
                oldest: c
            })
        );
        f.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_objects_list_cheaply() {
    bounded(async {
        let f = Fixture::start().await;
        let mut kv = f.kv();
        // 100 transactions of 100 creates (etcd allows 128 operations per transaction).
        for batch in 0..100 {
            let puts = (0..100)
                .map(|i| {
                    let name = format!("p{:05}", batch * 100 + i);
                    RequestOp {
                        request: Some(Op::RequestPut(PutRequest {
                            key: pod_key("ns", &name).into_bytes(),
                            value: pod("ns", &name, if i % 2 == 0 { "web" } else { "db" }),
                            ..Default::default()
                        })),
                    }
                })
                .collect();
            kv.txn(TxnRequest {
                compare: vec![],
                success: puts,
                failure: vec![],
            })
            .await
            .expect("txn");
        }
        let cache = cacher(&f.storage, CacherConfig::default()).await;
        let started = tokio::time::Instant::now();
        let (all, _) = cache.list("", &|_| true);
        let (web, _) = cache.list("/registry/pods/ns/", &|o| {
            o["metadata"]["labels"]["app"] == "web"
        });
        let took = started.elapsed();
        assert_eq!(all.len(), 10_000);
        assert_eq!(web.len(), 5_000);
        assert_eq!(all[0]["metadata"]["name"], "p00000");
        assert_eq!(all[9_999]["metadata"]["name"], "p09999");
        assert!(took < Duration::from_secs(1), "two lists took {took:?}");
        f.stop().await;
    })
    .await;
}

/// A TCP proxy in front of the store that the test can cut: every connection through it is
/// dropped, and new ones are refused, until it resumes.
struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct ProxyState {
    cut: bool,
    connections: Vec<JoinHandle<()>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let upstream = upstream.to_owned();
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut state = shared.lock().expect("proxy state");
                if state.cut {
                    continue;
                }
                let upstream = upstream.clone();
                state.connections.push(tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Proxy {
            addr,
            state,
            accept,
        }
    }

    fn cut(&self) {
        let mut state = self.state.lock().expect("proxy state");
        state.cut = true;
        for conn in state.connections.drain(..) {
            conn.abort();
        }
    }

    fn resume(&self) {
        self.state.lock().expect("proxy state").cut = false;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// A real etcd on free loopback ports, killed on drop. Only with `KUBESIM_TEST_ETCD` set
/// to the etcd binary.
struct Etcd {
    child: std::process::Child,
    _dir: tempfile::TempDir,
    client_url: String,
}

impl Etcd {
    fn start(binary: &str) -> Etcd {
        let dir = tempfile::tempdir().expect("tempdir");
        let client_url = format!("http://{}", free_port());
        let peer_url = format!("http://{}", free_port());
        let child = std::process::Command::new(binary)
            .arg("--name=cacher-test")
            .arg(format!("--data-dir={}", dir.path().display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=cacher-test={peer_url}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start etcd");
        Etcd {
            child,
            _dir: dir,
            client_url,
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago, below the ephemeral range, so that no
/// outgoing connection takes it before the etcd started on it binds it.
fn free_port() -> SocketAddr {
    let port = kubesim_net::ports::free_local_port().expect("a free port");
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_etcd_progress_advances_a_quiet_prefix() {
    let Ok(binary) = std::env::var("KUBESIM_TEST_ETCD") else {
        eprintln!("KUBESIM_TEST_ETCD is not set: skipped");
        return;
    };
    bounded(async {
        let etcd = Etcd::start(&binary);
        let env = Env::production(std::env::temp_dir());
        let s = EtcdStorage::new(&env, std::slice::from_ref(&etcd.client_url)).expect("storage");
        wait_for_etcd(&s).await;
        let a = create(&s, "ns", "a", "web").await;
        let cache = cacher(&s, CacherConfig::default()).await;
        let (objects, _) = cache.list("", &|_| true);
        assert_eq!(objects[0]["metadata"]["resourceVersion"], a.to_string());
        freshness_through_progress(&s, &cache).await;
        let mut w = cache
            .watch(
                Some(cache.revision()),
                String::new(),
                everything(),
                WatchOptions::default(),
            )
            .expect("watch");
        let b = create(&s, "ns", "b", "web").await;
        assert_eq!(
            summary(&next(&mut w).await),
            ev(CacheEventType::Added, "b", b)
        );
        drop(etcd);
    })
    .await;
}

async fn wait_for_etcd(s: &EtcdStorage) {
    for _ in 0..100 {
        if s.get("/ready").await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("etcd did not answer within 10s");
}
