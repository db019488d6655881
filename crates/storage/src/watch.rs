//! [`EtcdStorage::watch`]: one etcd watch on a key prefix, turned into Kubernetes' event
//! kinds, as kube-apiserver's `etcd3/watcher.go` does. Progress notifications (header-only
//! responses) are skipped for now; bookmarks will need them.

use futures::Stream;
use futures::stream::{self, StreamExt};
use kubesim_proto::etcdserverpb::watch_request::RequestUnion;
use kubesim_proto::etcdserverpb::{WatchCreateRequest, WatchRequest, WatchResponse};
use kubesim_proto::mvccpb::Event;
use kubesim_proto::mvccpb::event::EventType;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use crate::error::{StorageError, WATCH_EXPIRED};
use crate::storage::EtcdStorage;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEventKind {
    Added,
    Modified,
    Deleted,
}

/// One change under the watched prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    pub kind: WatchEventKind,
    pub key: String,
    /// The new value; for `Deleted`, the object's last state (from prev_kv), which is what
    /// a Kubernetes DELETED event carries.
    pub value: Vec<u8>,
    /// The value before this change (`None` for `Added`, or if etcd no longer had it).
    pub prev_value: Option<Vec<u8>>,
    /// The revision of this change: the event's resourceVersion.
    pub revision: i64,
}

/// The request stream is held open for as long as the watch is read: etcd ends a watch
/// stream whose client half-closes.
struct State {
    _requests: mpsc::Sender<WatchRequest>,
    responses: Streaming<WatchResponse>,
    done: bool,
}

impl EtcdStorage {
    /// The changes under `prefix` strictly after `resource_version` (Kubernetes' watch
    /// semantics; etcd's start_revision is `resource_version + 1`), in revision order.
    /// Returns once etcd has created the watch. A compacted start yields
    /// [`StorageError::Expired`] as the stream's item (etcd cancels after creating), a
    /// broken stream [`StorageError::Unavailable`]; either ends the stream.
    ///
    /// `resource_version` 0 ("the current state, then changes") is not supported yet: the
    /// caller lists first and watches from the list's revision.
    pub async fn watch(
        &self,
        prefix: &str,
        resource_version: i64,
    ) -> Result<impl Stream<Item = Result<WatchEvent, StorageError>> + Send + 'static, StorageError>
    {
        if resource_version <= 0 {
            return Err(StorageError::InvalidArgument(format!(
                "watch needs a positive resourceVersion, not {resource_version}"
            )));
        }
        let (tx, rx) = mpsc::channel(1);
        let create = WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
                key: prefix.as_bytes().to_vec(),
                range_end: kubesim_proto::prefix_range_end(prefix.as_bytes()),
                start_revision: resource_version + 1,
                prev_kv: true,
                ..Default::default()
            })),
        };
        tx.send(create)
            .await
            .map_err(|_| StorageError::Internal("watch request channel closed".into()))?;
        let mut responses = self
            .watch
            .clone()
            .watch(ReceiverStream::new(rx))
            .await?
            .into_inner();
        let first = next_response(&mut responses).await?;
        if !first.created {
            return Err(StorageError::Internal(
                "etcd's first watch response is not the creation".into(),
            ));
        }
        if let Some(err) = canceled(&first) {
            return Err(err);
        }
        let state = State {
            _requests: tx,
            responses,
            done: false,
        };
        Ok(stream::unfold(state, next_batch).flat_map(stream::iter))
    }
}

/// The events of the next response, or the error that ends the stream.
async fn next_batch(mut state: State) -> Option<(Vec<Result<WatchEvent, StorageError>>, State)> {
    if state.done {
        return None;
    }
    let batch = match next_response(&mut state.responses).await {
        Ok(resp) => match canceled(&resp) {
            Some(err) => Err(err),
            None => Ok(resp.events.into_iter().map(to_event).collect()),
        },
        Err(err) => Err(err),
    };
    match batch {
        Ok(events) => Some((events, state)),
        Err(err) => {
            state.done = true;
            Some((vec![Err(err)], state))
        }
    }
}

async fn next_response(
    responses: &mut Streaming<WatchResponse>,
) -> Result<WatchResponse, StorageError> {
    match responses.message().await {
        Ok(Some(resp)) => Ok(resp),
        Ok(None) => Err(StorageError::Unavailable(
            "etcd closed the watch stream".into(),
        )),
        Err(status) => Err(StorageError::Unavailable(status.message().to_owned())),
    }
}

/// The error a canceled watch ends with, if `resp` cancels it.
fn canceled(resp: &WatchResponse) -> Option<StorageError> {
    if resp.compact_revision > 0 {
        return Some(StorageError::expired(WATCH_EXPIRED));
    }
    if resp.canceled {
        return Some(StorageError::Unavailable(format!(
            "etcd canceled the watch: {}",
            resp.cancel_reason
        )));
    }
    None
}

fn to_event(event: Event) -> Result<WatchEvent, StorageError> {
    let kv = event
        .kv
        .ok_or_else(|| StorageError::Internal("watch event without a key-value".into()))?;
    let prev_value = event.prev_kv.map(|prev| prev.value);
    let key = String::from_utf8_lossy(&kv.key).into_owned();
    let (kind, value) = if event.r#type == EventType::Delete as i32 {
        (
            WatchEventKind::Deleted,
            prev_value.clone().unwrap_or_default(),
        )
    } else if kv.create_revision == kv.mod_revision {
        (WatchEventKind::Added, kv.value)
    } else {
        (WatchEventKind::Modified, kv.value)
    };
    Ok(WatchEvent {
        kind,
        key,
        value,
        prev_value,
        revision: kv.mod_revision,
    })
}
