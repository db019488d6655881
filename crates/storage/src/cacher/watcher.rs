//! [`CacheWatcher`]: one client's watch on the cache. Its starting events (the initial state,
//! or the history it resumes from) are held here, already filtered, and read before its
//! queue, so a watch of 10,000 objects does not need a 10,000-event queue (kube-apiserver's
//! `watchCacheInterval` plays this part).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;

use super::error::CacheError;
use super::event::{CacheEvent, SharedObject, added, bookmark, for_watcher};
use super::state::{Delivery, Registration, Start};

/// A watch on the cache. Ends (`None`) when the cache closes it: too slow, the cache
/// relisting (after a [`CacheError::TooOld`]), or the cache stopping.
#[derive(Debug)]
pub struct CacheWatcher {
    /// Starting events not read yet.
    initial: VecDeque<CacheEvent>,
    /// Everything after the start, queued by the cache.
    events: mpsc::Receiver<Delivery>,
}

impl CacheWatcher {
    /// The watcher of a registration, its start filtered through `key_prefix` and `filter`
    /// (outside the cache's lock: the start is a snapshot of shared objects).
    pub(crate) fn new(
        registration: Registration,
        key_prefix: &str,
        filter: &dyn Fn(&SharedObject) -> bool,
    ) -> CacheWatcher {
        let initial = match registration.start {
            Start::State {
                objects,
                revision,
                end_bookmark,
            } => {
                let mut initial: VecDeque<CacheEvent> = objects
                    .iter()
                    .filter(|o| filter(&o.object))
                    .map(|o| added(o, revision))
                    .collect();
                if end_bookmark {
                    initial.push_back(bookmark(revision, true));
                }
                initial
            }
            Start::History(events) => events
                .iter()
                .filter_map(|e| for_watcher(e, key_prefix, filter))
                .collect(),
        };
        CacheWatcher {
            initial,
            events: registration.events,
        }
    }

    /// The next event, or the error that ends the watch; `None` once it has ended.
    pub async fn next(&mut self) -> Option<Result<CacheEvent, CacheError>> {
        if let Some(event) = self.initial.pop_front() {
            return Some(Ok(event));
        }
        self.events.recv().await
    }
}

impl Stream for CacheWatcher {
    type Item = Result<CacheEvent, CacheError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(event) = self.initial.pop_front() {
            return Poll::Ready(Some(Ok(event)));
        }
        self.events.poll_recv(cx)
    }
}
