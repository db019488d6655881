//! The API server's watch cache: kube-apiserver's `Cacher`
//! (`k8s.io/apiserver/pkg/storage/cacher`). One [`Cacher`] per resource prefix holds every
//! object under it, decoded once, and the recent history of changes, so lists and watches
//! are served from memory and etcd carries one watch per resource, however many clients
//! watch.
//!
//! Map of the module:
//! - [`Cacher`] (here): the handle. [`Cacher::list`], [`Cacher::get`] (snapshots),
//!   [`Cacher::watch`] (a [`CacheWatcher`]), [`Cacher::wait_fresh`] (consistent reads).
//! - [`config`]: [`CacherConfig`], its bounds and defaults.
//! - [`state`]: the cache as plain code under one lock: objects, history, watchers, dispatch.
//! - [`reflector`]: the task that lists and watches etcd into the state.
//! - [`event`]: [`CachedObject`], [`CacheEvent`], decoding, bookmarks, filter transitions.
//! - [`own_writes`]: the objects this API server is writing, taken by their own watch event
//!   instead of decoding its value ([`Cacher::offer_own_write`]).
//! - [`watcher`]: [`CacheWatcher`], one client's watch.
//! - [`error`]: [`CacheError`], with kube-apiserver's messages.
//!
//! Consistency: everything a reader sees comes from one lock, so a list is a snapshot at the
//! revision it returns, and a watch starts exactly where its starting events end. Freshness:
//! the cache is behind etcd by the time an event takes to arrive; [`Cacher::wait_fresh`]
//! closes that gap for a reader that needs a given revision, asking etcd for progress so a
//! resource that nobody writes still catches up.
//!
//! The task uses only `tokio::spawn`, `tokio::time` and `tokio::sync`, which turmoil drives.

pub mod config;
pub mod error;
pub mod event;
mod own_writes;
mod reflector;
mod state;
mod watcher;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

pub use config::CacherConfig;
pub use error::CacheError;
pub use event::{
    CacheEvent, CacheEventType, CachedObject, Filter, INITIAL_EVENTS_END_ANNOTATION, SharedObject,
};
pub use own_writes::{OwnObject, OwnWriteTicket};
pub use watcher::CacheWatcher;

use crate::storage::EtcdStorage;
use own_writes::OwnWrites;
use reflector::{Backoff, Reflector};
use state::CacheState;

/// How often [`Cacher::wait_fresh`] asks etcd for progress while it waits
/// (kube-apiserver's `progressRequestPeriod`).
pub const PROGRESS_REQUEST_PERIOD: Duration = Duration::from_millis(100);

/// What a watch asks for besides its start (kube's `allowWatchBookmarks` and
/// `sendInitialEvents`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchOptions {
    /// Periodic BOOKMARK events carrying the cache's revision.
    pub allow_bookmarks: bool,
    /// The current state as ADDED events, whatever `from` is, ended by a BOOKMARK annotated
    /// `k8s.io/initial-events-end: "true"`.
    pub send_initial_events: bool,
}

/// What the handle and the reflector task share.
pub(crate) struct Shared {
    state: Mutex<CacheState>,
    /// The state's revision, for [`Cacher::wait_fresh`] to wait on.
    revision: watch::Sender<i64>,
    /// The registry's writes waiting for their events: a lock of its own, held for one map
    /// operation, never together with `state`'s.
    own_writes: Mutex<OwnWrites>,
}

impl Shared {
    /// Runs `f` under the lock, then publishes the revision if it moved.
    fn with_state<R>(&self, f: impl FnOnce(&mut CacheState) -> R) -> R {
        // A filter that panicked poisons the lock; the state itself is still whole.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let out = f(&mut state);
        let now = state.revision();
        self.revision.send_if_modified(|published| {
            let moved = *published != now;
            *published = now;
            moved
        });
        out
    }

    fn with_own_writes<R>(&self, f: impl FnOnce(&mut OwnWrites) -> R) -> R {
        // Nothing that can panic runs under this lock; a poisoned one is still whole.
        let mut own = self
            .own_writes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut own)
    }
}

/// One resource's watch cache. Share it in an `Arc`; dropping the last one stops its task
/// and ends its watchers.
pub struct Cacher {
    shared: Arc<Shared>,
    /// The resource's key prefix, ending in `/`.
    prefix: String,
    freshness_timeout: Duration,
    /// To the reflector: ask etcd for progress.
    progress_requests: mpsc::Sender<()>,
    /// Dropped with the cacher, which ends the reflector.
    _stop: watch::Sender<()>,
}

impl std::fmt::Debug for Cacher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cacher")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Cacher {
    /// Starts caching `prefix` (`/registry/pods/`; a `/` is appended if missing): lists it
    /// from etcd in pages, then watches from the list's revision. On a broken watch it
    /// re-watches from the last revision seen; on 410 (compacted) it relists and ends every
    /// watcher with [`CacheError::TooOld`]. Needs a tokio runtime (it spawns its task).
    ///
    /// `config` must pass [`CacherConfig::validate`]: check a configuration that comes from
    /// flags or files at start-up; one that does not is a bug here, and panics.
    pub fn start(storage: EtcdStorage, prefix: String, config: CacherConfig) -> Arc<Cacher> {
        if let Err(err) = config.validate() {
            panic!("Cacher::start with an unvalidated config: {err}");
        }
        let prefix = with_slash(prefix);
        let shared = Arc::new(Shared {
            state: Mutex::new(CacheState::new(
                config.history_window,
                config.watcher_buffer,
            )),
            revision: watch::Sender::new(0),
            own_writes: Mutex::new(OwnWrites::new(config.own_writes_capacity)),
        });
        let (progress_tx, progress_rx) = mpsc::channel(1);
        let (stop_tx, stop_rx) = watch::channel(());
        let reflector = Reflector {
            storage,
            prefix: prefix.clone(),
            shared: shared.clone(),
            retry: Backoff::new(config.max_retry_backoff),
            config: config.clone(),
            progress_requests: progress_rx,
            stop: stop_rx,
        };
        tokio::spawn(reflector.run());
        Arc::new(Cacher {
            shared,
            prefix,
            freshness_timeout: config.freshness_timeout,
            progress_requests: progress_tx,
            _stop: stop_tx,
        })
    }

    /// Tells the cache that this API server is about to store `object` (its value, the JSON
    /// of the object without `metadata.resourceVersion`) at `key`. The watch event that
    /// carries exactly these bytes for the key takes the object, finished at the event's
    /// revision ([`OwnObject::finish`]), instead of decoding them. Call it before sending the
    /// write (the event may arrive before the write's answer) and withdraw the ticket if the
    /// write fails or is abandoned. `None` when the cache keeps no offers.
    pub fn offer_own_write(&self, key: &str, object: Arc<OwnObject>) -> Option<OwnWriteTicket> {
        self.shared.with_own_writes(|own| own.offer(key, object))
    }

    /// The write offered with `ticket` did not happen, or may not have.
    pub fn withdraw_own_write(&self, key: &str, ticket: OwnWriteTicket) {
        self.shared.with_own_writes(|own| own.withdraw(key, ticket));
    }

    /// How many offered writes wait for their event.
    pub fn own_writes_waiting(&self) -> usize {
        self.shared.with_own_writes(|own| own.len())
    }

    /// How many events took an offered write instead of decoding their value.
    pub fn own_writes_taken(&self) -> u64 {
        self.shared.with_own_writes(|own| own.taken())
    }

    /// The first list is done and no relist is under way. While not ready, [`Cacher::watch`]
    /// answers [`CacheError::NotReady`] and a list should go to etcd.
    pub fn ready(&self) -> bool {
        self.shared.with_state(|s| s.ready())
    }

    /// The highest revision the cache has applied (from events or progress notifications).
    pub fn revision(&self) -> i64 {
        // From the state, not the published copy: that one moves just after the lock is
        // released, when a watcher may already hold the event.
        self.shared.with_state(|s| s.revision())
    }

    /// How many objects of the resource the cache holds (API Priority and Fairness
    /// estimates a list's seats from it, as kube does from its object count).
    pub fn len(&self) -> usize {
        self.shared.with_state(|s| s.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Watchers currently registered (closed ones leave at the next event or bookmark).
    pub fn watcher_count(&self) -> usize {
        self.shared.with_state(|s| s.watcher_count())
    }

    /// Waits until [`Cacher::revision`] reaches `rv`, asking etcd for progress every
    /// [`PROGRESS_REQUEST_PERIOD`] so that a prefix with no writes still advances. After the
    /// freshness timeout: [`CacheError::TooLargeResourceVersion`].
    pub async fn wait_fresh(&self, rv: i64) -> Result<(), CacheError> {
        let mut revisions = self.shared.revision.subscribe();
        let deadline = tokio::time::Instant::now() + self.freshness_timeout;
        // Bounded by the deadline: every turn ends at a revision change, the next ask, or it.
        loop {
            let current = *revisions.borrow_and_update();
            if current >= rv {
                return Ok(());
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(CacheError::TooLargeResourceVersion {
                    requested: rv,
                    current,
                });
            }
            // Full: an ask is already queued, and its answer serves this one too.
            let _ = self.progress_requests.try_send(());
            let wake = (now + PROGRESS_REQUEST_PERIOD).min(deadline);
            tokio::select! {
                _ = revisions.changed() => {}
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// A consistent snapshot: the objects under `key_prefix` (a namespace's
    /// `/registry/pods/<ns>/`, or `""` for the whole resource) that pass `filter`, in key
    /// order, and the revision they are at. Served from memory even while a relist runs
    /// (then it is the last consistent state; check [`Cacher::ready`] for freshness).
    pub fn list(
        &self,
        key_prefix: &str,
        filter: &dyn Fn(&SharedObject) -> bool,
    ) -> (Vec<Arc<SharedObject>>, i64) {
        let key_prefix = self.scope(key_prefix);
        // Only Arcs are copied under the lock; the filter runs outside it.
        let (objects, revision) = self.shared.with_state(|s| s.snapshot(&key_prefix));
        let matching = objects
            .into_iter()
            .filter(|o| filter(&o.object))
            .map(|o| o.object)
            .collect();
        (matching, revision)
    }

    /// The object at `key` and the revision the answer is at.
    pub fn get(&self, key: &str) -> (Option<Arc<SharedObject>>, i64) {
        let (object, revision) = self.shared.with_state(|s| s.get(key));
        (object.map(|o| o.object), revision)
    }

    /// A watch of the objects under `key_prefix` (as for [`Cacher::list`]) that pass
    /// `filter`. It starts:
    /// - `from: None` (kube's resourceVersion unset or 0): the current state as ADDED events,
    ///   then every change;
    /// - `from: Some(rv)`: every change strictly after `rv`; [`CacheError::TooOld`] if `rv` is
    ///   older than the history, [`CacheError::TooLargeResourceVersion`] if the cache has not
    ///   reached it (call [`Cacher::wait_fresh`] first);
    /// - `opts.send_initial_events`: the current state whatever `from` is, then the
    ///   initial-events-end bookmark (`from` only says how fresh the cache must be).
    ///
    /// An object that stops passing `filter` is sent as DELETED, one that starts as ADDED.
    /// The watcher is closed if its queue fills up; it never slows the cache.
    pub fn watch(
        &self,
        from: Option<i64>,
        key_prefix: String,
        filter: Filter,
        opts: WatchOptions,
    ) -> Result<CacheWatcher, CacheError> {
        let key_prefix = self.scope(&key_prefix);
        let registration = self
            .shared
            .with_state(|s| s.register(from, key_prefix.clone(), filter.clone(), opts))?;
        Ok(CacheWatcher::new(registration, &key_prefix, &*filter))
    }

    /// `key_prefix` as a prefix of whole path segments; `""` is the whole resource.
    fn scope(&self, key_prefix: &str) -> String {
        if key_prefix.is_empty() {
            return self.prefix.clone();
        }
        with_slash(key_prefix.to_owned())
    }
}

/// `prefix` ending in `/`, so `/registry/pods/ns` does not also cover `/registry/pods/ns2/`.
fn with_slash(mut prefix: String) -> String {
    if !prefix.ends_with('/') {
        prefix.push('/');
    }
    prefix
}
