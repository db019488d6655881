//! etcd v3 clients for simulated client hosts, and the retry loop a real etcd client runs.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use kubesim_net::network::{ChannelConfig, channel};
use kubesim_proto::etcdserverpb::kv_client::KvClient;
use kubesim_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use kubesim_proto::etcdserverpb::{PutRequest, RangeRequest, StatusRequest, StatusResponse};
use kubesim_proto::mvccpb::KeyValue;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::cluster::CLIENT_PORT;
use crate::network::TurmoilNetwork;
use crate::trace::Trace;

/// A lazily connecting channel to the etcd API of member `host` (`store-1`).
pub fn member_channel(host: &str) -> anyhow::Result<Channel> {
    let addr = format!("{host}:{CLIENT_PORT}");
    channel(Arc::new(TurmoilNetwork), &addr, ChannelConfig::default())
        .with_context(|| format!("channel to {addr}"))
}

pub fn kv(host: &str) -> anyhow::Result<KvClient<Channel>> {
    Ok(KvClient::new(member_channel(host)?))
}

pub fn maintenance(host: &str) -> anyhow::Result<MaintenanceClient<Channel>> {
    Ok(MaintenanceClient::new(member_channel(host)?))
}

/// How often, and how patiently, [`retry`] tries.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 50,
            backoff: Duration::from_millis(200),
        }
    }
}

/// Whether a failed call may succeed if tried again: the cluster has no leader yet, the
/// member is down or unreachable, or the call timed out. Anything else is an answer.
pub fn is_retryable(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown
    )
}

/// Runs `call` until it succeeds, fails with a non-retryable status, or runs out of
/// attempts. `on_error` sees every retryable failure (to record it in a trace).
pub async fn retry<T, F, Fut>(
    policy: Retry,
    mut call: F,
    mut on_error: impl FnMut(&Status),
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    for _ in 0..policy.attempts {
        match call().await {
            Ok(value) => return Ok(value),
            Err(status) if is_retryable(&status) => on_error(&status),
            Err(status) => bail!("failed: {status}"),
        }
        tokio::time::sleep(policy.backoff).await;
    }
    bail!("no success after {} attempts", policy.attempts)
}

/// One member as a client host sees it: its etcd API, with every call and every retried
/// failure recorded in a [`Trace`].
pub struct MemberClient {
    /// Host name (`store-1`), for the trace and for faults.
    pub name: String,
    kv: KvClient<Channel>,
    maintenance: MaintenanceClient<Channel>,
    trace: Trace,
    retry: Retry,
}

/// A key read back: its value and revisions, and the store revision of the read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub kv: Option<KeyValue>,
    pub revision: i64,
}

impl MemberClient {
    pub fn new(name: &str, trace: &Trace) -> anyhow::Result<Self> {
        let channel = member_channel(name)?;
        Ok(MemberClient {
            name: name.to_owned(),
            kv: KvClient::new(channel.clone()),
            maintenance: MaintenanceClient::new(channel),
            trace: trace.clone(),
            retry: Retry::default(),
        })
    }

    /// Puts `key=value`, retrying while the cluster cannot answer. Returns the revision of
    /// the put.
    pub async fn put(&mut self, key: &str, value: &str) -> anyhow::Result<i64> {
        let request = PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        };
        let (kv, trace, name) = (&self.kv, &self.trace, &self.name);
        let response = retry(
            self.retry,
            || {
                let mut kv = kv.clone();
                let request = request.clone();
                async move { kv.put(request).await }
            },
            |status| trace.record(format!("put {key} via {name}: {}", brief(status))),
        )
        .await
        .with_context(|| format!("put {key} via {name}"))?
        .into_inner();
        let revision = response.header.map(|h| h.revision).unwrap_or_default();
        trace.record(format!(
            "put {key}={value} via {name} -> revision {revision}"
        ));
        Ok(revision)
    }

    /// Reads `key`: linearizable, or from this member's state alone if `serializable`.
    pub async fn get(&mut self, key: &str, serializable: bool) -> anyhow::Result<Read> {
        let request = RangeRequest {
            key: key.into(),
            serializable,
            ..Default::default()
        };
        let (kv, trace, name) = (&self.kv, &self.trace, &self.name);
        let response = retry(
            self.retry,
            || {
                let mut kv = kv.clone();
                let request = request.clone();
                async move { kv.range(request).await }
            },
            |status| trace.record(format!("get {key} via {name}: {}", brief(status))),
        )
        .await
        .with_context(|| format!("get {key} via {name}"))?
        .into_inner();
        let read = Read {
            kv: response.kvs.into_iter().next(),
            revision: response.header.map(|h| h.revision).unwrap_or_default(),
        };
        trace.record(format!(
            "get {key} via {name} ({}) -> {} at revision {}",
            if serializable {
                "serializable"
            } else {
                "linearizable"
            },
            describe(read.kv.as_ref()),
            read.revision
        ));
        Ok(read)
    }

    /// Maintenance.Status, once, without retry: whom this member believes leads.
    pub async fn status(&mut self) -> Result<StatusResponse, Status> {
        Ok(self
            .maintenance
            .status(StatusRequest {})
            .await?
            .into_inner())
    }
}

/// `value@mod_revision (create_revision, version)` or `absent`.
fn describe(kv: Option<&KeyValue>) -> String {
    match kv {
        Some(kv) => format!(
            "{}@{} (created {}, version {})",
            String::from_utf8_lossy(&kv.value),
            kv.mod_revision,
            kv.create_revision,
            kv.version
        ),
        None => "absent".to_owned(),
    }
}

fn brief(status: &Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// The member every reachable member agrees is the leader, by host name. `None` while
/// there is no leader or the members disagree (an election is under way).
pub async fn find_leader(members: &mut [MemberClient]) -> Option<String> {
    let mut ids = Vec::new();
    let mut leaders = Vec::new();
    for member in members.iter_mut() {
        if let Ok(status) = member.status().await {
            let id = status.header.map(|h| h.member_id).unwrap_or_default();
            ids.push((id, member.name.clone()));
            leaders.push(status.leader);
        }
    }
    let leader = *leaders.first()?;
    if leader == 0 || leaders.iter().any(|l| *l != leader) {
        return None;
    }
    ids.into_iter()
        .find(|(id, _)| *id == leader)
        .map(|(_, name)| name)
}
