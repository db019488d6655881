//! The Watch service: one bidirectional stream carries many watchers.
//!
//! Each stream is a task that owns its [`Watchers`]. It wakes when the applied revision
//! moves (`StoreHandle::subscribe_revision`) and reads each watcher's history from the local
//! MVCC state (`Mvcc::events_since`), from that watcher's next revision up to the revision
//! just applied. So a watcher never misses or repeats an event, one revision is never split
//! across responses, and a watcher that fell behind a compaction is canceled with the compact
//! revision, as etcd does (RELIABILITY.md property 8). Responses go through a bounded queue:
//! a slow client slows its own stream down and holds no more than that queue.

use std::time::Duration;

use kubesim_mvcc::MvccError;
use kubesim_proto::etcdserverpb::watch_request::RequestUnion;
use kubesim_proto::etcdserverpb::watch_server::Watch;
use kubesim_proto::etcdserverpb::{WatchCreateRequest, WatchRequest, WatchResponse};
use kubesim_proto::mvccpb::Event;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::header;
use super::watcher::Watchers;
use crate::config::Limits;
use crate::error::StoreError;
use crate::handle::StoreHandle;

/// How often a watcher that asked for it (`progress_notify`) hears the current revision when
/// nothing it watches changes. etcd's default.
pub const PROGRESS_NOTIFY_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// Events read from the history per step. A response can hold more when one revision alone
/// has more (a revision is never split).
pub const EVENTS_PER_RESPONSE: usize = 1000;

/// Responses queued per stream before the stream waits for its client.
pub const OUTBOUND_QUEUE: usize = 128;

/// The watch_id of the answer to a progress request: it speaks for the whole stream.
pub const STREAM_WATCH_ID: i64 = -1;

pub struct WatchService {
    /// The member whose history is watched.
    handle: StoreHandle,
    /// `max_watches_per_stream`.
    limits: Limits,
    /// Becomes true when the server shuts down: every stream then ends.
    stop: watch::Receiver<bool>,
}

impl WatchService {
    pub fn new(handle: StoreHandle, limits: Limits, stop: watch::Receiver<bool>) -> Self {
        WatchService {
            handle,
            limits,
            stop,
        }
    }
}

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = ReceiverStream<Result<WatchResponse, Status>>;

    async fn watch(
        &self,
        request: Request<Streaming<WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        let stream = WatchStream {
            handle: self.handle.clone(),
            watchers: Watchers::new(self.limits.max_watches_per_stream)
                .with_planted_bug(self.handle.inner.planted_bug),
            tx,
            stop: self.stop.clone(),
        };
        tokio::spawn(stream.run(request.into_inner()));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// Why a stream's task ends.
enum End {
    /// The client closed its side or went away: nothing more to say.
    ClientGone,
    /// The server or this member is stopping: tell the client, so it moves elsewhere.
    Stopped,
}

/// The task behind one watch stream.
struct WatchStream {
    handle: StoreHandle,
    watchers: Watchers,
    /// The bounded queue of responses to the client.
    tx: mpsc::Sender<Result<WatchResponse, Status>>,
    /// Server shutdown: ends the stream even while it waits on a slow client.
    stop: watch::Receiver<bool>,
}

impl WatchStream {
    async fn run(mut self, mut inbound: Streaming<WatchRequest>) {
        let mut stop = self.stop.clone();
        let mut revisions = self.handle.subscribe_revision();
        let first_tick = tokio::time::Instant::now() + PROGRESS_NOTIFY_INTERVAL;
        let mut progress = tokio::time::interval_at(first_tick, PROGRESS_NOTIFY_INTERVAL);
        progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let end = loop {
            // biased: a fixed order keeps runs under the simulation reproducible. Requests
            // come before deliveries: under steady writes the revision always moves, and a
            // cancel (or a progress notification) must not wait for a quiet moment.
            let step = tokio::select! {
                biased;
                _ = super::stopped(&mut stop) => Err(End::Stopped),
                _ = self.tx.closed() => Err(End::ClientGone),
                msg = inbound.message() => match msg {
                    Ok(Some(req)) => self.on_request(req).await,
                    Ok(None) | Err(_) => Err(End::ClientGone),
                },
                _ = progress.tick() => self.notify_progress().await,
                changed = revisions.changed() => match changed {
                    Ok(()) => self.deliver_all(self.current_revision()).await,
                    Err(_) => Err(End::Stopped),
                },
            };
            if let Err(end) = step {
                break end;
            }
        };
        if let End::Stopped = end {
            // Best effort: if the client is not reading, it learns from the stream's end.
            let _ = self.tx.try_send(Err(StoreError::Stopped.into()));
        }
    }

    fn current_revision(&self) -> i64 {
        self.handle.with_mvcc(|m| m.current_revision())
    }

    async fn on_request(&mut self, req: WatchRequest) -> Result<(), End> {
        match req.request_union {
            Some(RequestUnion::CreateRequest(create)) => self.on_create(create).await,
            Some(RequestUnion::CancelRequest(cancel)) => {
                if !self.watchers.cancel(cancel.watch_id) {
                    // etcd says nothing about an id it does not know.
                    return Ok(());
                }
                let resp = WatchResponse {
                    watch_id: cancel.watch_id,
                    canceled: true,
                    ..self.response(self.current_revision())
                };
                self.send(resp).await
            }
            Some(RequestUnion::ProgressRequest(_)) => {
                // Deliver everything up to `target` first: the answer promises that.
                let target = self.current_revision();
                self.deliver_all(target).await?;
                let resp = WatchResponse {
                    watch_id: STREAM_WATCH_ID,
                    ..self.response(target)
                };
                self.send(resp).await
            }
            None => Ok(()),
        }
    }

    async fn on_create(&mut self, create: WatchCreateRequest) -> Result<(), End> {
        let current = self.current_revision();
        match self.watchers.create(&create, current) {
            Ok(id) => {
                let resp = WatchResponse {
                    watch_id: id,
                    created: true,
                    ..self.response(current)
                };
                self.send(resp).await?;
                // A start revision in the past is served right away, not at the next write.
                self.deliver(id, self.current_revision()).await
            }
            Err(e) => {
                let resp = WatchResponse {
                    watch_id: STREAM_WATCH_ID,
                    created: true,
                    canceled: true,
                    cancel_reason: e.to_string(),
                    ..self.response(current)
                };
                self.send(resp).await
            }
        }
    }

    async fn deliver_all(&mut self, target: i64) -> Result<(), End> {
        for id in self.watchers.ids() {
            self.deliver(id, target).await?;
        }
        Ok(())
    }

    /// Sends watcher `id` every event it has not had, up to and including `target`.
    async fn deliver(&mut self, id: i64, target: i64) -> Result<(), End> {
        loop {
            let Some(w) = self.watchers.get(id) else {
                return Ok(());
            };
            if w.next_revision > target {
                return Ok(());
            }
            let read = self.handle.with_mvcc(|m| {
                m.events_since(w.next_revision, &w.key, &w.range_end, EVENTS_PER_RESPONSE)
            });
            let events = match read {
                Ok(events) => events,
                Err(e) => return self.cancel_on_error(id, e).await,
            };
            let Some(w) = self.watchers.get_mut(id) else {
                return Ok(());
            };
            let step = w.step(events, target);
            if !step.events.is_empty() {
                self.send_events(id, step.events, target).await?;
            }
            if !step.more {
                return Ok(());
            }
        }
    }

    async fn send_events(&self, id: i64, events: Vec<Event>, revision: i64) -> Result<(), End> {
        let resp = WatchResponse {
            watch_id: id,
            events,
            ..self.response(revision)
        };
        self.send(resp).await
    }

    /// The watcher's history is gone (compacted) or unreadable: cancel it and say why.
    async fn cancel_on_error(&mut self, id: i64, err: MvccError) -> Result<(), End> {
        self.watchers.cancel(id);
        let mut resp = WatchResponse {
            watch_id: id,
            canceled: true,
            ..self.response(self.current_revision())
        };
        match err {
            // etcd's answer: the client restarts from the compact revision (or relists).
            MvccError::Compacted { compact_revision } => resp.compact_revision = compact_revision,
            other => resp.cancel_reason = other.to_string(),
        }
        self.send(resp).await
    }

    /// The periodic progress notification. Every watcher is first brought up to the current
    /// revision, so the notification is true (a progress at R means every event up to R was
    /// delivered) even while other keys change all the time.
    async fn notify_progress(&mut self) -> Result<(), End> {
        let current = self.current_revision();
        self.deliver_all(current).await?;
        let ids: Vec<i64> = self
            .watchers
            .iter()
            .filter(|w| w.progress_notify && w.caught_up(current))
            .map(|w| w.id)
            .collect();
        for id in ids {
            let resp = WatchResponse {
                watch_id: id,
                ..self.response(current)
            };
            self.send(resp).await?;
        }
        Ok(())
    }

    /// An empty response with the header for `revision`.
    fn response(&self, revision: i64) -> WatchResponse {
        WatchResponse {
            header: Some(header(&self.handle, revision, self.handle.raft_term())),
            ..Default::default()
        }
    }

    /// Queues `resp`, waiting while the queue is full (back-pressure), unless the server
    /// stops meanwhile.
    async fn send(&self, resp: WatchResponse) -> Result<(), End> {
        let mut stop = self.stop.clone();
        tokio::select! {
            biased;
            _ = super::stopped(&mut stop) => Err(End::Stopped),
            sent = self.tx.send(Ok(resp)) => sent.map_err(|_| End::ClientGone),
        }
    }
}
