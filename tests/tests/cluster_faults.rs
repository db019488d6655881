//! Crashes of real member processes (SIGKILL) and what must survive them.
//!
//! Uses only the generated gRPC clients, so it runs everywhere `cargo test` does. Each test
//! names the property of docs RELIABILITY.md ("Store") it checks.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use kubesim_proto::etcdserverpb::PutRequest;
use kubesim_proto::etcdserverpb::RangeRequest;
use kubesim_proto::etcdserverpb::kv_client::KvClient;
use kubesim_proto::mvccpb::{Event, KeyValue, event::EventType};
use kubesim_tests::grpc::{self, Watcher};
use kubesim_tests::{Cluster, bounded, wait_for};

/// How long a call may keep failing while a new leader takes over.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(30);
/// A write without a majority must fail by then: etcd answers after its request timeout
/// (5 s + 2 election timeouts = 7 s here).
const NO_MAJORITY_BOUND: Duration = Duration::from_secs(30);
/// Bound of reading the events of one watch.
const WATCH_TIMEOUT: Duration = Duration::from_secs(20);

/// `(key, value)` pairs, sorted by key: what the client was told is stored.
type Acknowledged = BTreeMap<String, String>;

/// Retries `call` while it fails (a member busy electing a leader), up to
/// [`FAILOVER_TIMEOUT`]. The first answer that comes back is returned, never retried.
async fn retry<T, F, Fut>(what: &str, mut call: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let every = Duration::from_millis(200);
    wait_for(what, FAILOVER_TIMEOUT, every, || {
        let answer = call();
        async move { answer.await.map(Some) }
    })
    .await
}

/// Every `(key, value)` under `prefix`, read linearizably from one member.
async fn read_prefix(endpoint: &str, prefix: &str) -> anyhow::Result<Acknowledged> {
    let response = grpc::get_prefix(endpoint, prefix).await?;
    Ok(response
        .kvs
        .into_iter()
        .map(|kv| (utf8(&kv.key), utf8(&kv.value)))
        .collect())
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `count` keys under `prefix`, spread over every running member.
async fn write_keys(cluster: &Cluster, prefix: &str, count: usize) -> anyhow::Result<Acknowledged> {
    let endpoints = cluster.endpoints();
    let mut acknowledged = Acknowledged::new();
    for i in 0..count {
        let (key, value) = (format!("{prefix}{i:03}"), format!("value-{i}"));
        grpc::put(&endpoints[i % endpoints.len()], &key, &value).await?;
        acknowledged.insert(key, value);
    }
    Ok(acknowledged)
}

/// Property 3: an acknowledged write survives the crash of a minority (here the leader), and
/// the cluster elects a new leader from the survivors in bounded time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_elects_a_new_one_and_loses_no_acknowledged_write() -> anyhow::Result<()>
{
    let mut cluster = Cluster::start().await?;
    bounded(async {
        let old_leader = cluster.leader().await?;
        let old_leader_id = cluster.member_id(old_leader).await?;
        let mut acknowledged = write_keys(&cluster, "f/", 20).await?;

        cluster.kill(old_leader).await?;
        let new_leader = cluster.wait_ready().await?;
        assert_ne!(new_leader, old_leader);
        assert_ne!(cluster.member_id(new_leader).await?, old_leader_id);

        for endpoint in cluster.endpoints() {
            let stored = retry("a read after failover", || read_prefix(&endpoint, "f/")).await?;
            assert_eq!(stored, acknowledged, "on {endpoint}");
        }
        let survivor = cluster.endpoint(new_leader);
        grpc::put(&survivor, "f/after", "written by the survivors").await?;
        acknowledged.insert("f/after".into(), "written by the survivors".into());

        // The old leader comes back as a follower and catches up.
        cluster.restart(old_leader)?;
        cluster.wait_ready().await?;
        let endpoint = cluster.endpoint(old_leader);
        let stored = retry("a read on the restarted member", || {
            read_prefix(&endpoint, "f/")
        })
        .await?;
        assert_eq!(stored, acknowledged, "on the restarted old leader");
        Ok(())
    })
    .await
}

/// Property 3 (a crash of every node at once) and 2 (the revision never goes back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_every_member_and_restarting_keeps_all_data() -> anyhow::Result<()> {
    let mut cluster = Cluster::start().await?;
    bounded(async {
        write_keys(&cluster, "d/", 15).await?;
        let any = cluster.endpoint(0);
        grpc::put(&any, "d/000", "overwritten").await?;
        grpc::delete(&any, "d/001").await?;
        let before = grpc::get_prefix(&any, "d/").await?;
        let revision = before.header.context("no header")?.revision;
        assert_eq!(before.kvs.len(), 14);

        cluster.kill_all().await?;
        cluster.restart_all()?;
        cluster.wait_ready().await?;

        for endpoint in cluster.endpoints() {
            let after = retry("a read after restart", || grpc::get_prefix(&endpoint, "d/")).await?;
            // Whole KeyValues: create_revision, mod_revision and version survive too.
            assert_eq!(render(&after.kvs), render(&before.kvs), "on {endpoint}");
            assert_eq!(
                after.header.context("no header")?.revision,
                revision,
                "on {endpoint}"
            );
        }
        let next = grpc::put_revision(&any, "d/new", "x").await?;
        assert_eq!(next, revision + 1, "the revision goes on from where it was");
        Ok(())
    })
    .await
}

/// One line per KeyValue, so a failed comparison reads as text.
fn render(kvs: &[KeyValue]) -> Vec<String> {
    kvs.iter()
        .map(|kv| {
            let (key, value) = (utf8(&kv.key), utf8(&kv.value));
            let (create, modified, version) = (kv.create_revision, kv.mod_revision, kv.version);
            format!("{key}={value} create={create} mod={modified} version={version}")
        })
        .collect()
}

/// `(mod_revision, type, key, value)`: an event as a watcher sees it.
type Seen = (i64, EventType, String, String);

fn seen(events: &[Event]) -> anyhow::Result<Vec<Seen>> {
    events
        .iter()
        .map(|event| {
            let kv: &KeyValue = event.kv.as_ref().context("event without kv")?;
            let kind = EventType::try_from(event.r#type).context("unknown event type")?;
            Ok((kv.mod_revision, kind, utf8(&kv.key), utf8(&kv.value)))
        })
        .collect()
}

/// Puts and deletes under `r/`, returning the events a watcher must see for them.
async fn write_history(endpoint: &str, tag: &str, count: usize) -> anyhow::Result<Vec<Seen>> {
    let mut expected = Vec::new();
    for i in 0..count {
        let key = format!("r/{tag}{}", i % 3);
        if i % 4 == 3 {
            let revision = grpc::delete(endpoint, &key).await?;
            expected.push((revision, EventType::Delete, key, String::new()));
        } else {
            let value = format!("{tag}-{i}");
            let revision = grpc::put_revision(endpoint, &key, &value).await?;
            expected.push((revision, EventType::Put, key, value));
        }
    }
    Ok(expected)
}

/// Property 8: a watch resumed from its last revision + 1 after every member restarted sees
/// every later event, in order, once: the history from before the crash and live events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_resumed_after_a_restart_misses_nothing() -> anyhow::Result<()> {
    let mut cluster = Cluster::start().await?;
    bounded(async {
        let first = cluster.endpoint(0);
        let mut expected = write_history(&first, "a", 10).await?;
        let start = expected[0].0;
        let mut watch = Watcher::start(&first, "r/", start, WATCH_TIMEOUT).await?;
        let events = watch.events_until(expected[3].0, WATCH_TIMEOUT).await?;
        let events = seen(&events)?;
        ensure!(events.len() >= 4, "{events:?}");
        assert_eq!(events[..4], expected[..4], "the watch before the crash");
        drop(watch);
        // The client saw four events; it resumes after the last one it saw.
        let resume = expected[3].0 + 1;

        cluster.kill_all().await?;
        cluster.restart_all()?;
        cluster.wait_ready().await?;

        let other = cluster.endpoint(1);
        let mut watch = retry("a watch after restart", || {
            Watcher::start(&other, "r/", resume, WATCH_TIMEOUT)
        })
        .await?;
        expected.extend(write_history(&other, "b", 6).await?);
        let last = expected.last().context("no writes")?.0;
        let events = seen(&watch.events_until(last, WATCH_TIMEOUT).await?)?;
        assert_eq!(
            events,
            expected[4..],
            "resumed watch: every event once, in order"
        );
        let revisions: Vec<i64> = events.iter().map(|event| event.0).collect();
        let consecutive: Vec<i64> = (resume..=last).collect();
        assert_eq!(revisions, consecutive, "one revision per write, no gap");
        Ok(())
    })
    .await
}

/// Properties 1 and 6: after a leader change, a linearizable read on any member sees the last
/// acknowledged write, never an older value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linearizable_read_after_a_leader_change_sees_the_last_acknowledged_write()
-> anyhow::Result<()> {
    let mut cluster = Cluster::start().await?;
    bounded(async {
        let leader = cluster.leader().await?;
        let endpoint = cluster.endpoint(leader);
        let mut last = 0;
        for i in 1..=5 {
            last = grpc::put_revision(&endpoint, "lin", &format!("v{i}")).await?;
        }
        // No pause: the leader dies right after acknowledging the last write.
        cluster.kill(leader).await?;

        for endpoint in cluster.endpoints() {
            let kv = retry("a read after the leader died", || {
                grpc::get(&endpoint, "lin")
            })
            .await?;
            let kv = kv.context("the key is gone")?;
            assert_eq!(utf8(&kv.value), "v5", "on {endpoint}");
            assert_eq!(kv.mod_revision, last, "on {endpoint}");
        }

        let survivors = cluster.endpoints();
        let written = retry("a write after the leader died", || {
            grpc::put_revision(&survivors[0], "lin", "v6")
        })
        .await?;
        // Read on the other survivor at once: it must not answer from a stale state.
        let kv = grpc::get(&survivors[1], "lin")
            .await?
            .context("the key is gone")?;
        assert_eq!(utf8(&kv.value), "v6");
        assert_eq!(kv.mod_revision, written);
        Ok(())
    })
    .await
}

/// Liveness without a majority: a write, and a linearizable read, fail in bounded time
/// instead of hanging; once the majority is back, writes succeed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_without_a_majority_fails_in_bounded_time() -> anyhow::Result<()> {
    let mut cluster = Cluster::start().await?;
    bounded(async {
        let leader = cluster.leader().await?;
        grpc::put(&cluster.endpoint(leader), "maj", "before").await?;
        let followers: Vec<usize> = cluster
            .running()
            .into_iter()
            .filter(|&i| i != leader)
            .collect();
        for &follower in &followers {
            cluster.kill(follower).await?;
        }

        // The client's own deadline is far past the bound: only the server can end the call.
        let channel = grpc::channel(&cluster.endpoint(leader), 2 * NO_MAJORITY_BOUND)?;
        let mut client = KvClient::new(channel);
        let put = PutRequest {
            key: b"maj".to_vec(),
            value: b"lost".to_vec(),
            ..Default::default()
        };
        let started = Instant::now();
        let answer = tokio::time::timeout(NO_MAJORITY_BOUND, client.put(put)).await;
        let answer = answer.context("a write without a majority hung")?;
        let error = answer
            .err()
            .context("a write without a majority succeeded")?;
        eprintln!(
            "write without a majority: {error:?} after {:?}",
            started.elapsed()
        );

        let range = RangeRequest {
            key: b"maj".to_vec(),
            ..Default::default()
        };
        let answer = tokio::time::timeout(NO_MAJORITY_BOUND, client.range(range)).await;
        let answer = answer.context("a linearizable read without a majority hung")?;
        let error = answer
            .err()
            .context("a linearizable read without a majority succeeded")?;
        eprintln!("read without a majority: {error:?}");

        for &follower in &followers {
            cluster.restart(follower)?;
        }
        cluster.wait_ready().await?;
        let endpoint = cluster.endpoint(leader);
        retry("a write once the majority is back", || {
            grpc::put(&endpoint, "maj", "after")
        })
        .await?;
        let kv = grpc::get(&endpoint, "maj")
            .await?
            .context("the key is gone")?;
        assert_eq!(utf8(&kv.value), "after");
        Ok(())
    })
    .await
}
