//! [`EtcdStorage::watch`]: one etcd watch on a key prefix, turned into Kubernetes' event
//! kinds, as kube-apiserver's `etcd3/watcher.go` does, plus etcd's progress notifications.
//!
//! - [`EtcdWatch`]: the running watch. A [`Stream`] of [`WatchItem`]s, and
//!   [`EtcdWatch::request_progress`], which sends a `WatchProgressRequest` on the same gRPC
//!   stream.
//! - [`WatchItem::Progress`]: a header-only response (the answer to a progress request, or
//!   the periodic notification asked for with `progress_notify`): every event up to its
//!   revision has been sent. The watch cache advances on it when its prefix has no writes.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::{self, BoxStream, StreamExt};
use kubesim_proto::etcdserverpb::watch_request::RequestUnion;
use kubesim_proto::etcdserverpb::{
    WatchCreateRequest, WatchProgressRequest, WatchRequest, WatchResponse,
};
use kubesim_proto::mvccpb::Event;
use kubesim_proto::mvccpb::event::EventType;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use crate::error::{StorageError, WATCH_EXPIRED};
use crate::storage::EtcdStorage;

/// Requests queued on a watch stream before [`EtcdWatch::request_progress`] coalesces: a
/// queued progress request has not reached etcd yet, so its answer also answers a later ask.
const REQUESTS_QUEUED: usize = 1;

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

/// What a watch yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchItem {
    Event(WatchEvent),
    /// Every change under the prefix up to and including this revision has been yielded.
    Progress(i64),
}

/// A running etcd watch: read it as a [`Stream`] (or with [`EtcdWatch::next`]); ask for
/// progress with [`EtcdWatch::request_progress`]. Dropping it ends the gRPC stream.
pub struct EtcdWatch {
    /// The client half of the gRPC stream, held open for as long as the watch is read: etcd
    /// ends a watch stream whose client half-closes.
    requests: mpsc::Sender<WatchRequest>,
    items: BoxStream<'static, Result<WatchItem, StorageError>>,
}

impl std::fmt::Debug for EtcdWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdWatch").finish_non_exhaustive()
    }
}

impl EtcdWatch {
    /// Asks etcd for a [`WatchItem::Progress`] (a `WatchProgressRequest`). Never waits: if a
    /// request is already queued, that one's answer serves. False when the watch has ended.
    pub fn request_progress(&self) -> bool {
        let request = WatchRequest {
            request_union: Some(RequestUnion::ProgressRequest(WatchProgressRequest {})),
        };
        match self.requests.try_send(request) {
            Ok(()) | Err(TrySendError::Full(_)) => true,
            Err(TrySendError::Closed(_)) => false,
        }
    }

    /// The next item; `None` after the error that ends the watch.
    pub async fn next(&mut self) -> Option<Result<WatchItem, StorageError>> {
        self.items.next().await
    }
}

impl Stream for EtcdWatch {
    type Item = Result<WatchItem, StorageError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.items.as_mut().poll_next(cx)
    }
}

/// The response half of the gRPC stream, read by the unfold in [`EtcdStorage::watch`].
struct State {
    responses: Streaming<WatchResponse>,
    done: bool,
}

impl EtcdStorage {
    /// The changes under `prefix` strictly after `resource_version` (Kubernetes' watch
    /// semantics; etcd's start_revision is `resource_version + 1`), in revision order, with
    /// progress notifications between them. Returns once etcd has created the watch. A
    /// compacted start yields [`StorageError::Expired`] as the stream's item (etcd cancels
    /// after creating), a broken stream [`StorageError::Unavailable`]; either ends the stream.
    ///
    /// `resource_version` 0 ("the current state, then changes") is not supported: the caller
    /// lists first and watches from the list's revision.
    pub async fn watch(
        &self,
        prefix: &str,
        resource_version: i64,
    ) -> Result<EtcdWatch, StorageError> {
        if resource_version <= 0 {
            return Err(StorageError::InvalidArgument(format!(
                "watch needs a positive resourceVersion, not {resource_version}"
            )));
        }
        let (tx, rx) = mpsc::channel(REQUESTS_QUEUED);
        let create = WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
                key: prefix.as_bytes().to_vec(),
                range_end: kubesim_proto::prefix_range_end(prefix.as_bytes()),
                start_revision: resource_version + 1,
                prev_kv: true,
                // As kube-apiserver asks (`clientv3.WithProgressNotify`): a quiet prefix still
                // hears the current revision now and then.
                progress_notify: true,
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
            responses,
            done: false,
        };
        let items = stream::unfold(state, next_batch)
            .flat_map(stream::iter)
            .boxed();
        Ok(EtcdWatch {
            requests: tx,
            items,
        })
    }
}

/// The items of the next response, or the error that ends the stream.
async fn next_batch(mut state: State) -> Option<(Vec<Result<WatchItem, StorageError>>, State)> {
    if state.done {
        return None;
    }
    let batch = match next_response(&mut state.responses).await {
        Ok(resp) => match canceled(&resp) {
            Some(err) => Err(err),
            None => Ok(to_items(resp)),
        },
        Err(err) => Err(err),
    };
    match batch {
        Ok(items) => Some((items, state)),
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

/// A response's events, or its progress: etcd's client calls a response with no events that
/// neither creates nor cancels a progress notification (`WatchResponse.IsProgressNotify`),
/// whether it answers a progress request (watch_id -1) or is the periodic one.
fn to_items(resp: WatchResponse) -> Vec<Result<WatchItem, StorageError>> {
    if resp.events.is_empty() {
        let revision = resp.header.map(|h| h.revision).unwrap_or(0);
        if resp.created || revision <= 0 {
            return vec![];
        }
        return vec![Ok(WatchItem::Progress(revision))];
    }
    resp.events
        .into_iter()
        .map(|e| to_event(e).map(WatchItem::Event))
        .collect()
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

#[cfg(test)]
mod tests {
    use kubesim_proto::etcdserverpb::ResponseHeader;
    use kubesim_proto::mvccpb::KeyValue;

    use super::*;

    fn header(revision: i64) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            revision,
            ..Default::default()
        })
    }

    #[test]
    fn header_only_responses_are_progress() {
        // The answer to a progress request speaks for the whole stream (watch_id -1).
        let answer = WatchResponse {
            watch_id: -1,
            header: header(42),
            ..Default::default()
        };
        assert_eq!(to_items(answer), vec![Ok(WatchItem::Progress(42))]);
        // The periodic notification carries the watcher's own id.
        let periodic = WatchResponse {
            watch_id: 3,
            header: header(43),
            ..Default::default()
        };
        assert_eq!(to_items(periodic), vec![Ok(WatchItem::Progress(43))]);
        let without_header = WatchResponse::default();
        assert_eq!(to_items(without_header), vec![]);
    }

    #[test]
    fn events_keep_their_kinds_and_no_progress_is_made_up() {
        let put = |create, modify, value: &str| Event {
            r#type: EventType::Put as i32,
            kv: Some(KeyValue {
                key: b"/k".to_vec(),
                create_revision: create,
                mod_revision: modify,
                value: value.as_bytes().to_vec(),
                ..Default::default()
            }),
            prev_kv: None,
        };
        let resp = WatchResponse {
            header: header(9),
            events: vec![put(7, 7, "a"), put(7, 9, "b")],
            ..Default::default()
        };
        let kinds: Vec<_> = to_items(resp)
            .into_iter()
            .map(|item| match item {
                Ok(WatchItem::Event(e)) => (e.kind, e.revision),
                other => panic!("not an event: {other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [(WatchEventKind::Added, 7), (WatchEventKind::Modified, 9)]
        );
    }
}
