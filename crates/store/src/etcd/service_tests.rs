//! The etcd services end to end against one real member (Raft, MVCC, tonic, loopback TCP),
//! through the generated etcd clients: what a client sees, field by field.

use std::sync::Arc;
use std::time::Duration;

use kubesim_net::network::{ChannelConfig, TokioNetwork, channel};
use kubesim_net::{Env, MemDisk, SeededEntropy, SystemClock};
use kubesim_proto::etcdserverpb::cluster_client::ClusterClient;
use kubesim_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use kubesim_proto::etcdserverpb::kv_client::KvClient;
use kubesim_proto::etcdserverpb::lease_client::LeaseClient;
use kubesim_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use kubesim_proto::etcdserverpb::request_op::Request as Op;
use kubesim_proto::etcdserverpb::response_op::Response as OpResponse;
use kubesim_proto::etcdserverpb::watch_client::WatchClient;
use kubesim_proto::etcdserverpb::watch_create_request::FilterType;
use kubesim_proto::etcdserverpb::watch_request::RequestUnion;
use kubesim_proto::etcdserverpb::*;
use kubesim_proto::mvccpb::event::EventType;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Streaming};

use crate::config::{InitialMember, Limits, StoreConfig};
use crate::node::StoreNode;

/// Small bounds, so each is reached with a handful of requests.
fn limits() -> Limits {
    Limits {
        max_request_bytes: 4096,
        max_txn_ops: 4,
        max_watches_per_stream: 3,
        max_client_connections: 16,
    }
}

async fn start() -> (StoreNode, Channel) {
    let peer = "http://127.0.0.1:12380".to_string();
    let initial = vec![InitialMember {
        name: "s1".into(),
        peer_url: peer.clone(),
    }];
    let mut config = StoreConfig::new(
        "s1",
        "http://127.0.0.1:0",
        &peer,
        initial,
        "etcd-service-test",
    );
    // Listen on any free port; advertise the fixed peer URL the member ID is computed from.
    config.listen_peer_urls = vec!["http://127.0.0.1:0".into()];
    config.advertise_client_urls = vec![];
    config.limits = limits();
    let env = Env {
        net: Arc::new(TokioNetwork),
        clock: Arc::new(SystemClock),
        entropy: Arc::new(SeededEntropy::from_seed(7)),
        disk: Arc::new(MemDisk::new()),
    };
    let node = StoreNode::start(env.clone(), config).await.expect("start");
    let addr = node.client_addr().to_string();
    let chan = channel(env.net, &addr, ChannelConfig::default()).expect("channel");
    (node, chan)
}

fn put(key: &str, value: &str) -> PutRequest {
    PutRequest {
        key: key.into(),
        value: value.into(),
        ..Default::default()
    }
}

fn get(key: &str) -> RangeRequest {
    RangeRequest {
        key: key.into(),
        ..Default::default()
    }
}

fn op(request: Op) -> RequestOp {
    RequestOp {
        request: Some(request),
    }
}

async fn kv_flow(chan: Channel) {
    let mut kv = KvClient::new(chan);
    let first = kv.put(put("a", "1")).await.expect("put").into_inner();
    let h = first.header.expect("put header");
    assert!(h.cluster_id != 0 && h.member_id != 0 && h.raft_term >= 1);
    assert_eq!(h.revision, 2, "first write of an empty store is revision 2");

    let mut again = put("a", "2");
    again.prev_kv = true;
    let second = kv.put(again).await.expect("put").into_inner();
    assert_eq!(second.header.expect("header").revision, 3);
    assert_eq!(second.prev_kv.expect("prev_kv").value, b"1");

    for serializable in [false, true] {
        let mut req = get("a");
        req.serializable = serializable;
        let got = kv.range(req).await.expect("range").into_inner();
        assert_eq!(got.header.expect("header").revision, 3);
        assert_eq!(got.kvs.len(), 1);
        let kv0 = &got.kvs[0];
        assert_eq!(
            (kv0.version, kv0.create_revision, kv0.mod_revision),
            (2, 2, 3)
        );
    }

    // Bad input: etcd's error, nothing changes.
    let err = kv.put(put("", "x")).await.expect_err("empty key");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.message(), "etcdserver: key is not provided");
    let err = kv
        .put(put("big", &"x".repeat(5000)))
        .await
        .expect_err("too large");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.message(), "etcdserver: request is too large");
    let five_puts = (0..5).map(|i| op(Op::RequestPut(put(&format!("k{i}"), "v"))));
    let too_many = TxnRequest {
        success: five_puts.collect(),
        ..Default::default()
    };
    let err = kv.txn(too_many).await.expect_err("too many ops");
    assert_eq!(
        err.message(),
        "etcdserver: too many operations in txn request"
    );
    let dup = TxnRequest {
        success: vec![
            op(Op::RequestPut(put("d", "1"))),
            op(Op::RequestPut(put("d", "2"))),
        ],
        ..Default::default()
    };
    let err = kv.txn(dup).await.expect_err("duplicate key");
    assert_eq!(
        err.message(),
        "etcdserver: duplicate key given in txn request"
    );
    let err = kv.range(get("")).await.expect_err("empty range key");
    assert_eq!(err.code(), Code::InvalidArgument);
    let unchanged = kv.range(get("a")).await.expect("range").into_inner();
    assert_eq!(unchanged.header.expect("header").revision, 3);

    txn_flow(&mut kv).await;
}

async fn txn_flow(kv: &mut KvClient<Channel>) {
    let if_a_is_2 = Compare {
        result: CompareResult::Equal as i32,
        target: CompareTarget::Value as i32,
        key: b"a".to_vec(),
        target_union: Some(TargetUnion::Value(b"2".to_vec())),
        range_end: vec![],
    };
    // A write txn: goes through the log, one revision, headers inside too.
    let write = TxnRequest {
        compare: vec![if_a_is_2.clone()],
        success: vec![
            op(Op::RequestPut(put("b", "x"))),
            op(Op::RequestRange(get("b"))),
        ],
        failure: vec![],
    };
    let resp = kv.txn(write).await.expect("txn").into_inner();
    assert!(resp.succeeded);
    assert_eq!(resp.header.expect("header").revision, 4);
    let Some(OpResponse::ResponseRange(range)) = &resp.responses[1].response else {
        panic!("range response missing: {resp:?}");
    };
    assert_eq!(
        range.kvs.len(),
        1,
        "a range in a txn sees the txn's put: {resp:?}"
    );
    assert_eq!(range.kvs[0].value, b"x");
    assert!(range.header.is_some(), "inner responses carry headers");

    // A read-only txn: served locally, the revision does not move.
    let mut if_a_is_9 = if_a_is_2;
    if_a_is_9.target_union = Some(TargetUnion::Value(b"9".to_vec()));
    let read = TxnRequest {
        compare: vec![if_a_is_9],
        success: vec![op(Op::RequestRange(get("a")))],
        failure: vec![op(Op::RequestRange(get("b")))],
    };
    let resp = kv.txn(read).await.expect("read txn").into_inner();
    assert!(!resp.succeeded);
    assert_eq!(resp.header.expect("header").revision, 4);
    let Some(OpResponse::ResponseRange(range)) = &resp.responses[0].response else {
        panic!("range response missing: {resp:?}");
    };
    assert_eq!(range.kvs[0].key, b"b");
}

struct WatchConn {
    requests: mpsc::Sender<WatchRequest>,
    responses: Streaming<WatchResponse>,
}

impl WatchConn {
    async fn open(chan: Channel) -> WatchConn {
        let (requests, rx) = mpsc::channel(16);
        let responses = WatchClient::new(chan)
            .watch(ReceiverStream::new(rx))
            .await
            .expect("watch")
            .into_inner();
        WatchConn {
            requests,
            responses,
        }
    }

    async fn send(&self, request: RequestUnion) {
        let req = WatchRequest {
            request_union: Some(request),
        };
        self.requests.send(req).await.expect("send watch request");
    }

    async fn create(&self, create: WatchCreateRequest) {
        self.send(RequestUnion::CreateRequest(create)).await;
    }

    async fn next(&mut self) -> WatchResponse {
        tokio::time::timeout(Duration::from_secs(10), self.responses.message())
            .await
            .expect("a watch response in time")
            .expect("watch stream ok")
            .expect("watch stream open")
    }
}

fn watch_key(key: &str, start_revision: i64) -> WatchCreateRequest {
    WatchCreateRequest {
        key: key.into(),
        start_revision,
        ..Default::default()
    }
}

async fn watch_flow(chan: Channel) {
    let mut kv = KvClient::new(chan.clone());
    let mut w = WatchConn::open(chan).await;

    // From now: created, then the next write, with prev_kv only when asked.
    let mut from_now = watch_key("w", 0);
    from_now.prev_kv = true;
    w.create(from_now).await;
    let created = w.next().await;
    assert!(created.created && !created.canceled);
    assert_eq!(created.watch_id, 0, "etcd picks ids from 0");
    let rev = kv.put(put("w", "1")).await.expect("put").into_inner();
    let rev = rev.header.expect("header").revision;
    let got = w.next().await;
    assert_eq!(got.watch_id, 0);
    assert_eq!(got.events.len(), 1);
    assert_eq!(got.events[0].kv.as_ref().expect("kv").mod_revision, rev);
    kv.put(put("w", "2")).await.expect("put");
    let got = w.next().await;
    assert_eq!(
        got.events[0]
            .prev_kv
            .as_ref()
            .expect("prev_kv asked for")
            .value,
        b"1"
    );

    // From the past, DELETE only (NOPUT): the history replays, filtered, without prev_kv.
    kv.delete_range(DeleteRangeRequest {
        key: b"w".to_vec(),
        ..Default::default()
    })
    .await
    .expect("delete");
    let deleted = w.next().await;
    assert_eq!(deleted.watch_id, 0);
    assert_eq!(deleted.events[0].r#type, EventType::Delete as i32);
    let mut past = watch_key("w", rev);
    past.filters = vec![FilterType::Noput as i32];
    past.watch_id = 7;
    w.create(past).await;
    let created = w.next().await;
    assert!(created.created);
    assert_eq!(created.watch_id, 7);
    // The two puts are filtered out; the delete is replayed, without prev_kv.
    let replay = w.next().await;
    assert_eq!(replay.watch_id, 7);
    assert_eq!(replay.events.len(), 1);
    assert_eq!(replay.events[0].r#type, EventType::Delete as i32);
    assert!(replay.events[0].prev_kv.is_none());

    // A used id is refused with etcd's reason.
    let mut dup = watch_key("w", 0);
    dup.watch_id = 7;
    w.create(dup).await;
    let refused = w.next().await;
    assert!(refused.created && refused.canceled);
    assert_eq!(
        refused.cancel_reason,
        "mvcc: duplicate watch ID provided on the WatchStream"
    );

    // Progress: watch_id -1 and the current revision, after everything up to it.
    w.send(RequestUnion::ProgressRequest(WatchProgressRequest {}))
        .await;
    let progress = w.next().await;
    assert_eq!(progress.watch_id, -1);
    assert!(progress.events.is_empty());
    let current = kv.range(get("w")).await.expect("range").into_inner();
    assert_eq!(progress.header, current.header);

    // Cancel.
    w.send(RequestUnion::CancelRequest(WatchCancelRequest {
        watch_id: 7,
    }))
    .await;
    let canceled = w.next().await;
    assert!(canceled.canceled);
    assert_eq!(canceled.watch_id, 7);

    // The per-stream bound (3): watcher 0 plus two more, then a refusal.
    w.create(watch_key("x", 0)).await;
    assert!(w.next().await.created);
    w.create(watch_key("y", 0)).await;
    assert!(w.next().await.created);
    w.create(watch_key("z", 0)).await;
    let refused = w.next().await;
    assert!(refused.canceled && refused.created);
    assert_eq!(refused.watch_id, -1);
}

/// A watch from before the compact revision is created, then canceled with the compact
/// revision, as etcd does; the client can resume from there.
async fn compacted_watch(chan: Channel) {
    let mut kv = KvClient::new(chan.clone());
    let old = kv.put(put("c", "1")).await.expect("put").into_inner();
    let old = old.header.expect("header").revision;
    let now = kv.put(put("c", "2")).await.expect("put").into_inner();
    let now = now.header.expect("header").revision;
    kv.compact(CompactionRequest {
        revision: now,
        physical: false,
    })
    .await
    .expect("compact");
    let err = kv
        .range(RangeRequest {
            revision: old,
            ..get("c")
        })
        .await
        .expect_err("compacted range");
    assert_eq!(err.code(), Code::OutOfRange);
    assert_eq!(
        err.message(),
        "etcdserver: mvcc: required revision has been compacted"
    );

    let mut w = WatchConn::open(chan).await;
    w.create(watch_key("c", old)).await;
    assert!(w.next().await.created);
    let canceled = w.next().await;
    assert!(canceled.canceled);
    assert_eq!(canceled.compact_revision, now);
    assert!(canceled.events.is_empty());
}

async fn lease_flow(chan: Channel) {
    let mut lease = LeaseClient::new(chan.clone());
    let mut kv = KvClient::new(chan);
    let granted = lease
        .lease_grant(LeaseGrantRequest { ttl: 1, id: 0 })
        .await
        .expect("grant")
        .into_inner();
    assert!(granted.id > 0);
    assert_eq!(granted.ttl, 2, "a TTL below the minimum is raised to it");
    let err = lease
        .lease_grant(LeaseGrantRequest {
            ttl: 9_000_000_001,
            id: 0,
        })
        .await
        .expect_err("too large TTL");
    assert_eq!(err.code(), Code::OutOfRange);

    let mut attached = put("leased", "v");
    attached.lease = granted.id;
    kv.put(attached).await.expect("put with lease");
    let ttl = lease
        .lease_time_to_live(LeaseTimeToLiveRequest {
            id: granted.id,
            keys: true,
        })
        .await
        .expect("ttl")
        .into_inner();
    assert_eq!(ttl.granted_ttl, 2);
    assert!(ttl.ttl > 0 && ttl.ttl <= 2);
    assert_eq!(ttl.keys, vec![b"leased".to_vec()]);
    let unknown = lease
        .lease_time_to_live(LeaseTimeToLiveRequest {
            id: 424242,
            keys: false,
        })
        .await
        .expect("ttl of an unknown lease")
        .into_inner();
    assert_eq!(unknown.ttl, -1);

    let list = lease
        .lease_leases(LeaseLeasesRequest {})
        .await
        .expect("leases");
    assert_eq!(
        list.into_inner().leases,
        vec![LeaseStatus { id: granted.id }]
    );

    // Keep-alive: one answer per request; an unknown lease answers TTL 0.
    let (tx, rx) = mpsc::channel(4);
    let mut answers = lease
        .lease_keep_alive(ReceiverStream::new(rx))
        .await
        .expect("keep-alive")
        .into_inner();
    for (id, want_ttl) in [(granted.id, 2), (424242, 0)] {
        tx.send(LeaseKeepAliveRequest { id }).await.expect("send");
        let answer = tokio::time::timeout(Duration::from_secs(10), answers.message())
            .await
            .expect("in time")
            .expect("ok")
            .expect("open");
        assert_eq!((answer.id, answer.ttl), (id, want_ttl));
    }

    lease
        .lease_revoke(LeaseRevokeRequest { id: granted.id })
        .await
        .expect("revoke");
    let gone = kv.range(get("leased")).await.expect("range").into_inner();
    assert!(gone.kvs.is_empty(), "revoking a lease deletes its keys");
    let err = lease
        .lease_revoke(LeaseRevokeRequest { id: granted.id })
        .await
        .expect_err("revoke twice");
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.message(), "etcdserver: requested lease not found");
}

async fn cluster_and_maintenance_flow(chan: Channel) {
    let mut cluster = ClusterClient::new(chan.clone());
    let members = cluster
        .member_list(MemberListRequest { linearizable: true })
        .await
        .expect("member list")
        .into_inner();
    assert_eq!(members.members.len(), 1);
    let me = members.header.expect("header").member_id;
    assert_eq!(members.members[0].id, me);
    let err = cluster
        .member_add(MemberAddRequest {
            peer_ur_ls: vec!["not a url".into()],
            is_learner: true,
        })
        .await
        .expect_err("bad peer URL");
    assert_eq!(err.message(), "etcdserver: given member URLs are invalid");

    let mut maintenance = MaintenanceClient::new(chan);
    let status = maintenance
        .status(StatusRequest {})
        .await
        .expect("status")
        .into_inner();
    assert_eq!(status.leader, me);
    assert!(status.errors.is_empty());
    assert!(status.raft_applied_index >= 1);
    let hash = maintenance
        .hash_kv(HashKvRequest { revision: 0 })
        .await
        .expect("hash kv")
        .into_inner();
    let again = maintenance
        .hash_kv(HashKvRequest { revision: 0 })
        .await
        .expect("hash kv")
        .into_inner();
    assert_eq!(hash.hash, again.hash);
    assert_eq!(hash.hash_revision, hash.header.expect("header").revision);
    let alarms = maintenance
        .alarm(AlarmRequest::default())
        .await
        .expect("alarm list")
        .into_inner();
    assert!(alarms.alarms.is_empty());
}

/// A long history replays in order, with no gaps or repeats, in several responses (one
/// read is ~1000 events) and never with a revision split across two of them.
async fn long_history_watch(chan: Channel) {
    let mut kv = KvClient::new(chan.clone());
    let mut first = 0;
    // 3 events per revision: a cut after 1000 events would land inside a revision.
    let txns = 400;
    for i in 0..txns {
        let puts = (0..3).map(|j| op(Op::RequestPut(put(&format!("h/{j}"), &i.to_string()))));
        let resp = kv
            .txn(TxnRequest {
                success: puts.collect(),
                ..Default::default()
            })
            .await
            .expect("txn")
            .into_inner();
        if i == 0 {
            first = resp.header.expect("header").revision;
        }
    }
    let mut w = WatchConn::open(chan).await;
    w.create(WatchCreateRequest {
        key: b"h/".to_vec(),
        range_end: b"h0".to_vec(),
        start_revision: first,
        ..Default::default()
    })
    .await;
    assert!(w.next().await.created);
    let mut events = 0;
    let mut responses = 0;
    let mut last = first - 1;
    while events < txns * 3 {
        let resp = w.next().await;
        responses += 1;
        let revisions: Vec<i64> = resp
            .events
            .iter()
            .map(|e| e.kv.as_ref().expect("kv").mod_revision)
            .collect();
        assert_eq!(
            revisions.len() % 3,
            0,
            "a revision was split: {revisions:?}"
        );
        for chunk in revisions.chunks(3) {
            assert!(
                chunk.iter().all(|r| *r == last + 1),
                "gap or repeat after {last}"
            );
            last += 1;
        }
        events += revisions.len() as i64;
    }
    assert!(responses >= 2, "1200 events should not fit one read");
    assert_eq!(last, first + txns - 1);
}

/// Shutting the member down ends an open watch stream (with "server stopped"), rather than
/// holding the server open for ever.
async fn shutdown_ends_watches(node: StoreNode, chan: Channel) {
    let mut w = WatchConn::open(chan).await;
    w.create(watch_key("s", 0)).await;
    assert!(w.next().await.created);
    tokio::time::timeout(Duration::from_secs(10), node.shutdown())
        .await
        .expect("shutdown in time");
    let end = tokio::time::timeout(Duration::from_secs(10), w.responses.message())
        .await
        .expect("the stream ends in time");
    match end {
        Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status:?}"),
        Ok(None) => {}
        Ok(Some(resp)) => panic!("no more responses expected, got {resp:?}"),
    }
}

/// One member for all flows: starting Raft is the slow part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_services_end_to_end() {
    let (node, chan) = start().await;
    kv_flow(chan.clone()).await;
    watch_flow(chan.clone()).await;
    compacted_watch(chan.clone()).await;
    lease_flow(chan.clone()).await;
    cluster_and_maintenance_flow(chan.clone()).await;
    long_history_watch(chan.clone()).await;
    shutdown_ends_watches(node, chan).await;
}
