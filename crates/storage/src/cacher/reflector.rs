//! [`Reflector`]: the task that keeps one resource's cache in step with etcd (the part
//! kube-apiserver's cacher leaves to client-go's reflector). It lists the prefix page by
//! page at one revision, then watches from that revision; a broken watch is re-created from
//! the last revision applied, and a compacted one (410) makes it relist, ending every
//! watcher so clients relist too. Failures are retried with a doubling pause.
//!
//! The same loop forwards progress requests from [`super::Cacher::wait_fresh`] to the etcd
//! watch and sends bookmarks, so all access to the watch stays in this one task.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Interval, MissedTickBehavior};

use super::Shared;
use super::config::{CacherConfig, FIRST_RETRY};
use super::event::{CachedObject, SharedObject, decode};
use super::state::Change;
use crate::error::StorageError;
use crate::storage::{EtcdStorage, ListOptions};
use crate::watch::{WatchEvent, WatchEventKind, WatchItem};

/// Why one etcd watch ended.
enum WatchEnd {
    /// The cache was dropped.
    Stopped,
    /// etcd compacted past the cache's revision: only a relist recovers.
    Compacted,
    /// Anything else: re-watch from where the cache is.
    Broken(StorageError),
}

pub(super) struct Reflector {
    pub storage: EtcdStorage,
    /// The resource's key prefix, ending in `/`.
    pub prefix: String,
    pub shared: Arc<Shared>,
    pub config: CacherConfig,
    /// Asks from `wait_fresh` for etcd's progress; a bounded queue of one, since one
    /// request in flight answers every ask made before it is sent.
    pub progress_requests: mpsc::Receiver<()>,
    /// Its sender lives in the `Cacher`: the task ends when the cache is dropped.
    pub stop: watch::Receiver<()>,
    pub retry: Backoff,
}

impl Reflector {
    pub async fn run(mut self) {
        self.list_and_watch().await;
        self.shared.with_state(|s| s.close_all());
    }

    /// Returns only when the cache is dropped.
    async fn list_and_watch(&mut self) {
        let mut bookmarks = tokio::time::interval_at(
            tokio::time::Instant::now() + self.config.bookmark_interval,
            self.config.bookmark_interval,
        );
        bookmarks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Each turn is one list, then watches until etcd compacts past the cache.
        loop {
            let listing = list(&self.storage, &self.prefix, self.config.list_page_size);
            let Some(listed) = until_stopped(&mut self.stop, listing).await else {
                return;
            };
            match listed {
                Ok((objects, revision)) => {
                    tracing::info!(prefix = %self.prefix, revision, objects = objects.len(), "cacher: listed");
                    // Offers made before the list may have missed their events.
                    self.shared.with_own_writes(|own| own.clear());
                    self.shared.with_state(|s| s.replace(objects, revision));
                }
                Err(err) => {
                    tracing::warn!(prefix = %self.prefix, error = %err, "cacher: list failed; retrying");
                    if !self.pause().await {
                        return;
                    }
                    continue;
                }
            }
            if !self.watch_until_compacted(&mut bookmarks).await {
                return;
            }
            tracing::info!(prefix = %self.prefix, "cacher: etcd compacted past the watch; relisting");
            self.shared.with_state(|s| s.invalidate());
        }
    }

    /// Watches, re-watching after breaks; false when stopped, true when compacted.
    async fn watch_until_compacted(&mut self, bookmarks: &mut Interval) -> bool {
        loop {
            match self.watch(bookmarks).await {
                WatchEnd::Stopped => return false,
                WatchEnd::Compacted => return true,
                WatchEnd::Broken(err) => {
                    tracing::warn!(prefix = %self.prefix, error = %err, "cacher: watch broke; re-watching");
                    if !self.pause().await {
                        return false;
                    }
                }
            }
        }
    }

    /// One etcd watch from the cache's revision, applied until it ends.
    async fn watch(&mut self, bookmarks: &mut Interval) -> WatchEnd {
        let from = self.shared.with_state(|s| s.revision());
        let created = self.storage.watch(&self.prefix, from);
        let mut etcd = match until_stopped(&mut self.stop, created).await {
            None => return WatchEnd::Stopped,
            Some(Ok(etcd)) => etcd,
            Some(Err(StorageError::Expired { .. })) => return WatchEnd::Compacted,
            Some(Err(err)) => return WatchEnd::Broken(err),
        };
        self.retry.reset();
        loop {
            // biased: a fixed order keeps simulated runs reproducible; asks and bookmarks
            // first, so a flood of events cannot starve them.
            tokio::select! {
                biased;
                _ = self.stop.changed() => return WatchEnd::Stopped,
                Some(()) = self.progress_requests.recv() => {
                    etcd.request_progress();
                }
                _ = bookmarks.tick() => {
                    self.shared.with_state(|s| s.bookmark());
                    // So the next bookmark carries a fresh revision even if nothing changes.
                    etcd.request_progress();
                }
                item = etcd.next() => match item {
                    Some(Ok(item)) => self.apply(item),
                    Some(Err(StorageError::Expired { .. })) => return WatchEnd::Compacted,
                    Some(Err(err)) => return WatchEnd::Broken(err),
                    None => {
                        return WatchEnd::Broken(StorageError::Unavailable(
                            "the watch ended".into(),
                        ));
                    }
                },
            }
        }
    }

    fn apply(&self, item: WatchItem) {
        let change = match item {
            WatchItem::Progress(revision) => {
                self.shared.with_state(|s| s.progress(revision));
                return;
            }
            WatchItem::Event(event) => {
                let own = self.own_write(&event);
                to_change(event, own)
            }
        };
        self.shared.with_state(|s| s.apply(change));
    }

    /// The object this API server offered for `event`'s write, if it is one of its own.
    fn own_write(&self, event: &WatchEvent) -> Option<Arc<SharedObject>> {
        if event.kind == WatchEventKind::Deleted {
            return None;
        }
        self.shared
            .with_own_writes(|own| own.take(&event.key, &event.value, event.revision))
    }

    /// Waits before a retry; false if the cache was dropped meanwhile.
    async fn pause(&mut self) -> bool {
        let pause = tokio::time::sleep(self.retry.next());
        until_stopped(&mut self.stop, pause).await.is_some()
    }
}

/// Pauses between retries: doubling from [`FIRST_RETRY`] to a maximum, back to the first
/// after a watch is created.
pub(super) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(max: Duration) -> Backoff {
        Backoff {
            next: FIRST_RETRY,
            max,
        }
    }

    fn next(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        pause
    }

    fn reset(&mut self) {
        self.next = FIRST_RETRY;
    }
}

/// `fut`'s output, or `None` if the cache is dropped first.
async fn until_stopped<F: Future>(stop: &mut watch::Receiver<()>, fut: F) -> Option<F::Output> {
    tokio::select! {
        biased;
        _ = stop.changed() => None,
        out = fut => Some(out),
    }
}

/// Every object under `prefix` at one revision, decoded, and that revision. Values that do
/// not decode are logged and left out.
async fn list(
    storage: &EtcdStorage,
    prefix: &str,
    page_size: i64,
) -> Result<(Vec<CachedObject>, i64), StorageError> {
    let mut objects = Vec::new();
    let mut opts = ListOptions {
        revision: None,
        limit: page_size,
        continue_key: None,
    };
    // Bounded: every page that says "more" returned keys, and the next starts past them.
    loop {
        let page = storage.list(prefix, opts.clone()).await?;
        if page.more && page.items.is_empty() {
            return Err(StorageError::Internal(
                "etcd said more keys follow but returned none".into(),
            ));
        }
        for (key, value, revision) in page.items {
            match decode(&value, revision) {
                Ok(object) => objects.push(CachedObject {
                    key: Arc::from(key),
                    object: Arc::new(SharedObject::compact(object)),
                    revision,
                }),
                Err(error) => {
                    tracing::error!(%key, revision, %error, "cacher: undecodable stored value; skipped");
                }
            }
        }
        match page.continue_key {
            Some(token) if page.more => opts.continue_key = Some(token),
            _ => return Ok((objects, page.revision)),
        }
    }
}

/// An etcd event as a change to the cache: `own`, the object this API server wrote, or
/// else its value decoded here, outside the lock.
fn to_change(event: WatchEvent, own: Option<Arc<SharedObject>>) -> Change {
    let WatchEvent {
        kind,
        key,
        value,
        revision,
        ..
    } = event;
    if kind == WatchEventKind::Deleted {
        return Change::Delete { key, revision };
    }
    let created = kind == WatchEventKind::Added;
    if let Some(object) = own {
        return Change::Put {
            key,
            object,
            created,
            revision,
        };
    }
    match decode(&value, revision) {
        Ok(object) => Change::Put {
            key,
            object: Arc::new(SharedObject::compact(object)),
            created,
            revision,
        },
        Err(error) => {
            tracing::error!(%key, revision, %error, "cacher: undecodable stored value; skipped");
            Change::Skipped { revision }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn backoff_doubles_to_its_maximum_and_resets() {
        let mut retry = Backoff::new(Duration::from_millis(500));
        let pauses: Vec<u128> = (0..5).map(|_| retry.next().as_millis()).collect();
        assert_eq!(pauses, [100, 200, 400, 500, 500]);
        retry.reset();
        assert_eq!(retry.next(), FIRST_RETRY);
    }

    #[test]
    fn etcd_events_become_changes() {
        let event = |kind, value: &[u8]| WatchEvent {
            kind,
            key: "/registry/pods/ns/a".into(),
            value: value.to_vec(),
            prev_value: None,
            revision: 7,
        };
        assert_eq!(
            to_change(event(WatchEventKind::Added, br#"{"metadata":{}}"#), None),
            Change::Put {
                key: "/registry/pods/ns/a".into(),
                object: Arc::new(json!({"metadata": {"resourceVersion": "7"}}).into()),
                created: true,
                revision: 7
            }
        );
        assert_eq!(
            to_change(event(WatchEventKind::Modified, b"not json"), None),
            Change::Skipped { revision: 7 }
        );
        // A deletion is rebuilt from the cached object: its value is not parsed again.
        assert_eq!(
            to_change(event(WatchEventKind::Deleted, b"not json"), None),
            Change::Delete {
                key: "/registry/pods/ns/a".into(),
                revision: 7
            }
        );
        // This API server's own write: its object, the value not parsed.
        let own = Arc::new(SharedObject::new(
            json!({"metadata": {"resourceVersion": "7"}}),
        ));
        let Change::Put { object, .. } = to_change(
            event(WatchEventKind::Modified, b"not json"),
            Some(own.clone()),
        ) else {
            panic!("an own write is a put");
        };
        assert!(Arc::ptr_eq(&object, &own));
    }
}
