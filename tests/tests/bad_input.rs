//! Garbage on the ports (RELIABILITY.md property 13, for the store): bytes that are not HTTP/2,
//! HTTP/2 that is not gRPC, and gRPC peer calls whose payload is not a Raft message. None of it
//! may change anything, crash a member or stop it serving.

use std::time::Duration;

use anyhow::ensure;
use kubesim_proto::raftpb::RaftMessage;
use kubesim_proto::raftpb::raft_peer_client::RaftPeerClient;
use kubesim_tests::{Cluster, Target, bounded, grpc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one garbage connection may take before we give up on it (the server may keep
/// an idle connection open; that is fine).
const GARBAGE_TIMEOUT: Duration = Duration::from_secs(3);

/// Payloads that are wrong at different layers.
fn garbage() -> Vec<Vec<u8>> {
    let mut noise = Vec::with_capacity(64 * 1024);
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..64 * 1024 {
        // xorshift: deterministic noise, no RNG crate needed.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push(x as u8);
    }
    let mut preface_then_noise = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    preface_then_noise.extend_from_slice(&noise[..4096]);
    // An HTTP/2 frame header announcing a 16 MiB DATA frame on stream 1, then nothing.
    let mut huge_frame = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    huge_frame.extend_from_slice(&[0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01]);
    vec![
        noise,
        b"GET /v3/kv/range HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        preface_then_noise,
        huge_frame,
        Vec::new(),
    ]
}

async fn send_garbage(addr: &str, payload: &[u8]) {
    let attempt = async {
        let mut conn = TcpStream::connect(addr).await?;
        conn.write_all(payload).await?;
        let mut sink = vec![0u8; 4096];
        while conn.read(&mut sink).await? > 0 {}
        anyhow::Ok(())
    };
    // Whatever the server answers, or if it closes the connection, is fine: only its
    // survival is checked afterwards.
    let _ = tokio::time::timeout(GARBAGE_TIMEOUT, attempt).await;
}

/// Every peer RPC with a payload that does not decode: each must fail with an error status,
/// promptly, and change nothing.
async fn garbage_peer_calls(peer: &str) -> anyhow::Result<()> {
    let channel = grpc::channel(peer, Duration::from_secs(5))?;
    let mut client = RaftPeerClient::new(channel);
    let junk = || {
        tonic::Request::new(RaftMessage {
            data: vec![0xff; 37],
        })
    };
    let results = [
        client.append_entries(junk()).await.map(|_| ()),
        client.vote(junk()).await.map(|_| ()),
        client.install_snapshot(junk()).await.map(|_| ()),
        client.forward(junk()).await.map(|_| ()),
        client.read_index(junk()).await.map(|_| ()),
        client.lease(junk()).await.map(|_| ()),
    ];
    for (rpc, result) in results.iter().enumerate() {
        ensure!(
            result.is_err(),
            "peer rpc #{rpc} accepted garbage: {result:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_client_and_peer_ports_changes_nothing() -> anyhow::Result<()> {
    let mut cluster = Cluster::start().await?;
    bounded(async {
        let before = grpc::put_revision(&cluster.endpoint(0), "/bad-input/k", "v").await?;
        // All garbage connections at once: a server that keeps one open must not hold up the
        // others, and the test stays short.
        let mut sends = tokio::task::JoinSet::new();
        for index in 0..cluster.len() {
            let member = cluster.member(index);
            for addr in [member.endpoint(), format!("127.0.0.1:{}", member.peer_port)] {
                for payload in garbage() {
                    let addr = addr.clone();
                    sends.spawn(async move { send_garbage(&addr, &payload).await });
                }
            }
        }
        sends.join_all().await;
        if cluster.target() == Target::Kubesim {
            for index in 0..cluster.len() {
                let peer = format!("127.0.0.1:{}", cluster.member(index).peer_port);
                garbage_peer_calls(&peer).await?;
            }
        }
        cluster.wait_ready().await?;
        // Nothing changed: the key is as written, and no revision was spent on the garbage.
        for index in 0..cluster.len() {
            let kv = grpc::get(&cluster.endpoint(index), "/bad-input/k").await?;
            let kv = kv.ok_or_else(|| anyhow::anyhow!("key lost on member {index}"))?;
            ensure!(kv.value == b"v" && kv.mod_revision == before, "{kv:?}");
        }
        // And every member still serves writes.
        for index in 0..cluster.len() {
            let rev =
                grpc::put_revision(&cluster.endpoint(index), "/bad-input/after", "ok").await?;
            ensure!(rev > before, "revision went back: {rev} <= {before}");
        }
        Ok(())
    })
    .await
}
