//! Small etcd v3 gRPC calls over the generated `kubesim-proto` clients.
//!
//! Each call opens a fresh lazy channel to one endpoint with its own timeout, so a dead member
//! makes a call fail quickly instead of hanging, and no test depends on `etcdctl`.

use std::time::Duration;

use anyhow::{Context, bail};
use kubesim_proto::etcdserverpb::kv_client::KvClient;
use kubesim_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use kubesim_proto::etcdserverpb::watch_client::WatchClient;
use kubesim_proto::etcdserverpb::watch_request::RequestUnion;
use kubesim_proto::etcdserverpb::{
    PutRequest, PutResponse, RangeRequest, RangeResponse, StatusRequest, StatusResponse,
    WatchCreateRequest, WatchRequest, WatchResponse,
};
use kubesim_proto::mvccpb::{Event, KeyValue};
use tonic::transport::{Channel, Endpoint};

/// Bound of one ordinary call; longer than etcd's own request timeout (5 s + 2 elections), so
/// the server's answer, not ours, decides how a slow write ends.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound of a Status call: used in tight readiness loops.
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Bound of a whole watch stream; each read from it has its own, shorter bound.
const WATCH_STREAM_TIMEOUT: Duration = Duration::from_secs(120);

/// A channel to `endpoint` (`host:port`) whose every call ends after `timeout`.
pub fn channel(endpoint: &str, timeout: Duration) -> anyhow::Result<Channel> {
    let endpoint = Endpoint::from_shared(format!("http://{endpoint}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(timeout);
    Ok(endpoint.connect_lazy())
}

pub fn kv(endpoint: &str) -> anyhow::Result<KvClient<Channel>> {
    Ok(KvClient::new(channel(endpoint, CALL_TIMEOUT)?))
}

pub async fn status(endpoint: &str) -> anyhow::Result<StatusResponse> {
    let mut client = MaintenanceClient::new(channel(endpoint, STATUS_TIMEOUT)?);
    Ok(client.status(StatusRequest {}).await?.into_inner())
}

pub async fn put(endpoint: &str, key: &str, value: &str) -> anyhow::Result<PutResponse> {
    let request = PutRequest {
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
        ..Default::default()
    };
    Ok(kv(endpoint)?.put(request).await?.into_inner())
}

/// The revision a put was applied at.
pub async fn put_revision(endpoint: &str, key: &str, value: &str) -> anyhow::Result<i64> {
    let response = put(endpoint, key, value).await?;
    Ok(response
        .header
        .context("Put response without header")?
        .revision)
}

/// Deletes one key; returns the revision of the delete.
pub async fn delete(endpoint: &str, key: &str) -> anyhow::Result<i64> {
    let request = kubesim_proto::etcdserverpb::DeleteRangeRequest {
        key: key.as_bytes().to_vec(),
        ..Default::default()
    };
    let response = kv(endpoint)?.delete_range(request).await?.into_inner();
    if response.deleted != 1 {
        bail!("delete of {key} removed {} keys", response.deleted);
    }
    Ok(response
        .header
        .context("DeleteRange response without header")?
        .revision)
}

/// A linearizable read of one key.
pub async fn get(endpoint: &str, key: &str) -> anyhow::Result<Option<KeyValue>> {
    let response = range(endpoint, key.as_bytes().to_vec(), Vec::new()).await?;
    Ok(response.kvs.into_iter().next())
}

/// A linearizable read of every key under `prefix`.
pub async fn get_prefix(endpoint: &str, prefix: &str) -> anyhow::Result<RangeResponse> {
    range(
        endpoint,
        prefix.as_bytes().to_vec(),
        kubesim_proto::prefix_range_end(prefix.as_bytes()),
    )
    .await
}

async fn range(endpoint: &str, key: Vec<u8>, range_end: Vec<u8>) -> anyhow::Result<RangeResponse> {
    let request = RangeRequest {
        key,
        range_end,
        ..Default::default()
    };
    Ok(kv(endpoint)?.range(request).await?.into_inner())
}

/// A watch on one key prefix, held open until dropped.
pub struct Watcher {
    /// Keeps the request stream open: when it closes, the server ends the watch.
    _requests: tokio::sync::mpsc::Sender<WatchRequest>,
    /// The server's watch responses.
    responses: tonic::Streaming<WatchResponse>,
}

impl Watcher {
    /// Creates a watch on `prefix` from `start_revision` (0: from now) and waits, up to
    /// `limit`, for the server to confirm it.
    pub async fn start(
        endpoint: &str,
        prefix: &str,
        start_revision: i64,
        limit: Duration,
    ) -> anyhow::Result<Watcher> {
        let create = WatchCreateRequest {
            key: prefix.as_bytes().to_vec(),
            range_end: kubesim_proto::prefix_range_end(prefix.as_bytes()),
            start_revision,
            ..Default::default()
        };
        let request = WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(create)),
        };
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        sender
            .send(request)
            .await
            .context("queueing the watch request")?;
        let requests = tokio_stream::wrappers::ReceiverStream::new(receiver);
        // No per-call timeout: a watch lives as long as the test wants; reads are bounded.
        let mut client = WatchClient::new(channel(endpoint, WATCH_STREAM_TIMEOUT)?);
        let opened = tokio::time::timeout(limit, client.watch(requests)).await;
        let mut responses = opened.context("watch not opened in time")??.into_inner();
        let created = tokio::time::timeout(limit, responses.message()).await;
        let created = created.context("watch not created in time")??;
        let created = created.context("watch stream ended before it was created")?;
        if !created.created || created.canceled {
            bail!("expected a created watch response, got {created:?}");
        }
        Ok(Watcher {
            _requests: sender,
            responses,
        })
    }

    /// Collects events until one at or past `until_revision` arrived; fails after `limit`,
    /// or when the server cancels the watch.
    pub async fn events_until(
        &mut self,
        until_revision: i64,
        limit: Duration,
    ) -> anyhow::Result<Vec<Event>> {
        let mut events = Vec::new();
        let collect = async {
            while let Some(response) = self.responses.message().await? {
                if response.canceled {
                    bail!("watch canceled: {:?}", response.cancel_reason);
                }
                events.extend(response.events);
                let last = events.last().and_then(|event| event.kv.as_ref());
                if last.is_some_and(|kv| kv.mod_revision >= until_revision) {
                    return Ok(());
                }
            }
            bail!("watch stream ended")
        };
        match tokio::time::timeout(limit, collect).await {
            Ok(Ok(())) => Ok(events),
            Ok(Err(error)) => Err(error.context(format!("after {} events", events.len()))),
            Err(_) => bail!(
                "no event at revision {until_revision} within {limit:?}; got {} events",
                events.len()
            ),
        }
    }
}
