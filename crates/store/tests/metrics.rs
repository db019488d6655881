//! `GET /metrics` of each member of a three-member cluster on the real tokio network
//! (127.0.0.1), scraped over plain HTTP/1.1 as Prometheus does: etcd's names, one leader,
//! the write counters, the disk histograms, and what is not served. Every wait is bounded.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use kubesim_mvcc::Command;
use kubesim_net::Env;
use kubesim_proto::etcdserverpb::PutRequest;
use kubesim_store::{InitialMember, StoreConfig, StoreNode, Timing};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

mod common;
use common::free_port;

/// Puts made before the scrape.
const PUTS: usize = 20;
/// A bound on one scrape (connect, request, whole response).
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most bytes read from one response: the whole text is a few KiB.
const MAX_RESPONSE_BYTES: u64 = 1 << 20;

fn timing() -> Timing {
    Timing {
        heartbeat_interval: Duration::from_millis(50),
        election_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_secs(5),
        ..Timing::default()
    }
}

/// Three members, each with a metrics listener on a port of its own (port 0).
async fn start_cluster(dirs: &[TempDir; 3]) -> Result<Vec<StoreNode>> {
    let peer_ports = [free_port(), free_port(), free_port()];
    let url = |port: u16| format!("http://127.0.0.1:{port}");
    let initial: Vec<InitialMember> = peer_ports
        .iter()
        .enumerate()
        .map(|(i, port)| InitialMember {
            name: format!("m{}", i + 1),
            peer_url: url(*port),
        })
        .collect();
    let mut nodes = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let mut config = StoreConfig::new(
            &initial[i].name,
            &url(free_port()),
            &initial[i].peer_url,
            initial.clone(),
            "metrics-test",
        );
        config.timing = timing();
        config.listen_metrics_urls = vec!["http://127.0.0.1:0".into()];
        nodes.push(StoreNode::start(Env::production(dir.path()), config).await?);
    }
    Ok(nodes)
}

/// What one HTTP request got back.
struct Reply {
    status: u16,
    content_type: String,
    body: String,
}

/// One HTTP/1.1 request on a fresh connection, read to its end.
async fn request(addr: SocketAddr, method: &str, path: &str) -> Result<Reply> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await?;
        let mut raw = Vec::new();
        stream
            .take(MAX_RESPONSE_BYTES)
            .read_to_end(&mut raw)
            .await?;
        anyhow::Ok(String::from_utf8(raw)?)
    };
    let raw = tokio::time::timeout(SCRAPE_TIMEOUT, exchange)
        .await
        .context("scrape timed out")??;
    let (head, body) = raw.split_once("\r\n\r\n").context("no end of headers")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .context("no status")?
        .parse()?;
    let content_type = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    Ok(Reply {
        status,
        content_type,
        body: body.to_owned(),
    })
}

async fn scrape(node: &StoreNode) -> Result<String> {
    let addr = *node.metrics_addrs().first().context("no metrics address")?;
    let reply = request(addr, "GET", "/metrics").await?;
    ensure!(
        reply.status == 200,
        "status {}: {}",
        reply.status,
        reply.body
    );
    ensure!(
        reply.content_type.starts_with("text/plain; version=0.0.4"),
        "content type {:?}",
        reply.content_type
    );
    Ok(reply.body)
}

/// The value of the sample `name` (a whole line `name value`).
fn sample(text: &str, name: &str) -> Result<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .with_context(|| format!("no sample {name}"))
}

/// Retries `f` until it succeeds or `limit` passes (then returns its last error).
async fn eventually<T, F, Fut>(limit: Duration, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => return Err(e.context("gave up waiting")),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn put(i: usize) -> Command {
    Command::Put(PutRequest {
        key: format!("k{i}").into_bytes(),
        value: b"v".to_vec(),
        ..Default::default()
    })
}

/// Every member's text once the gauges have caught up with the writes: one leader, known
/// to all, and the last revision applied everywhere.
async fn settled_texts(nodes: &[StoreNode]) -> Result<Vec<String>> {
    eventually(Duration::from_secs(10), || async {
        let mut texts = Vec::new();
        for node in nodes {
            texts.push(scrape(node).await?);
        }
        let leaders = texts
            .iter()
            .map(|t| sample(t, "etcd_server_is_leader"))
            .collect::<Result<Vec<_>>>()?;
        ensure!(
            leaders.iter().filter(|v| **v == 1.0).count() == 1,
            "is_leader per member: {leaders:?}"
        );
        for text in &texts {
            ensure!(
                sample(text, "etcd_server_has_leader")? == 1.0,
                "has_leader 0"
            );
            let revision = sample(text, "etcd_debugging_mvcc_current_revision")?;
            ensure!(revision == (PUTS + 1) as f64, "revision {revision}");
        }
        Ok(texts)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_member_serves_etcds_metrics_and_one_is_the_leader() -> Result<()> {
    let dirs = [
        tempfile::tempdir()?,
        tempfile::tempdir()?,
        tempfile::tempdir()?,
    ];
    let nodes = start_cluster(&dirs).await?;
    for i in 0..PUTS {
        nodes[i % nodes.len()].handle.propose(put(i)).await?;
    }
    let texts = settled_texts(&nodes).await?;
    let leader = texts
        .iter()
        .position(|t| sample(t, "etcd_server_is_leader").ok() == Some(1.0))
        .context("no leader")?;
    let on_leader = |name: &str| sample(&texts[leader], name);

    // The leader committed and applied every put, and timed each from proposal to both.
    ensure!(on_leader("etcd_server_proposals_committed_total")? >= PUTS as f64);
    ensure!(on_leader("etcd_server_proposals_applied_total")? >= PUTS as f64);
    let commits = on_leader("kubesim_raft_proposal_commit_duration_seconds_count")?;
    let applies = on_leader("kubesim_raft_proposal_apply_duration_seconds_count")?;
    ensure!(commits >= PUTS as f64, "{commits} commits timed");
    ensure!(applies >= PUTS as f64, "{applies} applies timed");
    ensure!(on_leader("etcd_server_proposals_pending")? == 0.0);
    ensure!(on_leader("etcd_server_leader_changes_seen_total")? >= 1.0);

    for (i, text) in texts.iter().enumerate() {
        let fsyncs = sample(text, "etcd_disk_wal_fsync_duration_seconds_count")?;
        ensure!(fsyncs > 0.0, "member {i}: no log sync timed");
        ensure!(
            sample(text, "kubesim_raft_term")? > 0.0,
            "member {i}: term 0"
        );
        ensure!(sample(text, "etcd_mvcc_db_total_size_in_bytes")? > 0.0);
        ensure!(sample(text, "etcd_server_proposals_committed_total")? >= PUTS as f64);
        ensure!(text.contains("# TYPE etcd_disk_backend_commit_duration_seconds histogram"));
    }
    for node in nodes {
        node.shutdown().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_get_metrics_is_served() -> Result<()> {
    let dirs = [
        tempfile::tempdir()?,
        tempfile::tempdir()?,
        tempfile::tempdir()?,
    ];
    let nodes = start_cluster(&dirs).await?;
    let addr = nodes[0].metrics_addrs()[0];
    let cases = [
        ("GET", "/", 404),
        ("GET", "/metricsx", 404),
        ("GET", "/health", 404),
        ("POST", "/metrics", 405),
        ("GET", "/metrics?format=text", 200),
    ];
    for (method, path, status) in cases {
        let reply = request(addr, method, path).await?;
        if reply.status != status {
            bail!("{method} {path}: {} (wanted {status})", reply.status);
        }
    }
    // A head over the bound is refused and the listener keeps serving.
    let huge = format!("/{}", "a".repeat(64 * 1024));
    let refused = request(addr, "GET", &huge).await.map(|r| r.status);
    ensure!(
        matches!(refused, Ok(431) | Ok(400) | Err(_)),
        "an oversized request head got {refused:?}"
    );
    ensure!(request(addr, "GET", "/metrics").await?.status == 200);
    for node in nodes {
        node.shutdown().await;
    }
    Ok(())
}
