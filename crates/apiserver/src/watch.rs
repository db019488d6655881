//! Watch: a chunked JSON stream of `{"type": ..., "object": ...}` lines, one per event,
//! served from the resource's watch cache (kube-apiserver's `Cacher`), never from a store
//! watch per client: a thousand watchers cost one store watch.
//!
//! resourceVersion: unset or `0` starts with the current state as ADDED events, then
//! changes; `N` sends every change after `N` (or an ERROR event with 410 Expired when `N`
//! has left the cache's window). `sendInitialEvents=true` (with
//! `resourceVersionMatch=NotOlderThan` and bookmarks, as kube requires) ends the initial
//! state with a BOOKMARK annotated `k8s.io/initial-events-end`. `allowWatchBookmarks` adds
//! periodic BOOKMARKs. `timeoutSeconds` ends the stream; without it, kube's default of a
//! random time between 30 and 60 minutes is replaced by a fixed 30 minutes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream;
use hyper::Response;
use kubesim_api::Status;
use kubesim_api::resources::Resource;
use kubesim_api::table::{self, IncludeObject, TableVersion};
use kubesim_storage::cacher::{
    CacheEvent, CacheEventType, CacheWatcher, SharedObject, WatchOptions,
};
use serde_json::{Value, json};

use crate::registry::Registry;
use crate::registry::read::cache_status;
use crate::response::{self, APPLICATION_JSON, Body};
use crate::rest::{Call, parse_resource_version};

/// A watch without `timeoutSeconds` ends after this (kube: `--min-request-timeout`, 30 min,
/// randomized up to twice that).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The longest `timeoutSeconds` honoured; longer asks are cut to it.
const MAX_WATCH_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// What one watch stream needs while it runs.
struct Stream {
    /// `None` once the stream is over.
    watcher: Option<CacheWatcher>,
    /// An error to send as the next (and last) event.
    error: Option<Status>,
    resource: &'static Resource,
    table: Option<(TableVersion, IncludeObject)>,
    /// Table events after the first carry no column definitions (as kube sends them).
    sent_columns: bool,
    /// Ends the stream at `timeoutSeconds`: one timer for the whole watch, not one per
    /// event.
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// For the clock: a Table's AGE is computed when each event is sent.
    registry: Arc<Registry>,
}

/// Serves a watch request.
pub async fn serve(call: &Call<'_>) -> Result<Response<Body>, Status> {
    let opts = call.list_options()?;
    let cache = call.registry.cache(call.resource)?;
    let allow_bookmarks = call.query.flag("allowWatchBookmarks")?;
    let send_initial_events = match call.query.get("sendInitialEvents") {
        None | Some("") => None,
        Some(_) => Some(call.query.flag("sendInitialEvents")?),
    };
    if send_initial_events == Some(true) && !(opts.match_not_older_than && allow_bookmarks) {
        return Err(Status::bad_request(
            "sendInitialEvents is forbidden for watch unless resourceVersionMatch is \
             NotOlderThan and allowWatchBookmarks is true",
        ));
    }
    let from = match call.query.get("resourceVersion") {
        None | Some("") | Some("0") => None,
        Some(text) => Some(parse_resource_version(text)?),
    };
    let from = match (from, send_initial_events) {
        // sendInitialEvents: the state as of at least `from`, then changes.
        (Some(rv), Some(true)) => {
            cache.wait_fresh(rv).await.map_err(cache_status)?;
            None
        }
        (Some(rv), _) => {
            cache.wait_fresh(rv).await.map_err(cache_status)?;
            Some(rv)
        }
        // sendInitialEvents=false without a version: only what happens from now on.
        (None, Some(false)) => Some(cache.revision()),
        (None, _) => None,
    };
    let timeout = match call.query.int("timeoutSeconds")? {
        Some(secs) if secs > 0 => Duration::from_secs(secs as u64).min(MAX_WATCH_TIMEOUT),
        _ => DEFAULT_WATCH_TIMEOUT,
    };
    let table = call.table_request()?;
    let resource = call.resource;
    let filter = Arc::new(move |object: &SharedObject| opts.matches_cached(resource, object));
    let key_prefix = call.registry.collection_key(resource, &call.info.namespace);
    let watch_opts = WatchOptions {
        allow_bookmarks,
        send_initial_events: send_initial_events == Some(true),
    };
    // A start the cache cannot serve (too old) is answered as kube's cacher answers it: 200
    // and one ERROR event with the 410, so clients relist.
    let (watcher, error) = match cache.watch(from, key_prefix, filter, watch_opts) {
        Ok(watcher) => (Some(watcher), None),
        Err(error) => (None, Some(cache_status(error))),
    };
    let state = Stream {
        watcher,
        error,
        resource,
        table,
        sent_columns: false,
        deadline: Box::pin(tokio::time::sleep(timeout)),
        registry: call.registry.clone(),
    };
    let body = response::streaming(stream::unfold(state, next_chunk));
    Ok(response::with_body(200, APPLICATION_JSON, body))
}

/// The next line of the stream, or `None` when it ends (timeout, the cache closed the
/// watcher, an error was sent).
async fn next_chunk(mut state: Stream) -> Option<(Bytes, Stream)> {
    if let Some(status) = state.error.take() {
        state.watcher = None;
        return Some((line("ERROR", &status_object(&status)), state));
    }
    let watcher = state.watcher.as_mut()?;
    let next = tokio::select! {
        next = watcher.next() => next,
        _ = state.deadline.as_mut() => None,
    };
    match next {
        None => None,
        Some(Err(error)) => {
            state.watcher = None;
            let status = cache_status(error);
            Some((line("ERROR", &status_object(&status)), state))
        }
        Some(Ok(event)) => {
            let chunk = state.event_line(&event);
            Some((chunk, state))
        }
    }
}

impl Stream {
    fn event_line(&mut self, event: &CacheEvent) -> Bytes {
        let kind = match event.kind {
            CacheEventType::Added => "ADDED",
            CacheEventType::Modified => "MODIFIED",
            CacheEventType::Deleted => "DELETED",
            CacheEventType::Bookmark => "BOOKMARK",
        };
        if event.kind == CacheEventType::Bookmark {
            return line(kind, &self.bookmark(event));
        }
        match self.table {
            Some((version, include)) => {
                let table = table::table(
                    self.resource,
                    &[event.object.value()],
                    json!({"resourceVersion": event.revision.to_string()}),
                    self.registry.now_secs(),
                    include,
                    version,
                    self.sent_columns,
                );
                self.sent_columns = true;
                line(kind, &table)
            }
            None => raw_line(kind, event.object.json()),
        }
    }

    /// A BOOKMARK's object: only kind, apiVersion and metadata.resourceVersion (and the
    /// initial-events-end annotation the cache put on it).
    fn bookmark(&self, event: &CacheEvent) -> Value {
        let mut metadata = json!({"resourceVersion": event.revision.to_string()});
        if let Some(annotations) = event
            .object
            .get("metadata")
            .and_then(|m| m.get("annotations"))
        {
            metadata["annotations"] = annotations.clone();
        }
        json!({
            "kind": self.resource.kind,
            "apiVersion": self.resource.api_version(),
            "metadata": metadata,
        })
    }
}

/// One event as a line of the stream.
fn line(kind: &str, object: &Value) -> Bytes {
    #[derive(serde::Serialize)]
    struct Event<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        object: &'a Value,
    }
    let mut bytes = serde_json::to_vec(&Event { kind, object }).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// One event whose object is already JSON (the cache serialized it once for every watcher).
fn raw_line(kind: &str, object: &[u8]) -> Bytes {
    let mut bytes = Vec::with_capacity(object.len() + kind.len() + 24);
    bytes.extend_from_slice(b"{\"type\":\"");
    bytes.extend_from_slice(kind.as_bytes());
    bytes.extend_from_slice(b"\",\"object\":");
    bytes.extend_from_slice(object);
    bytes.extend_from_slice(b"}\n");
    Bytes::from(bytes)
}

fn status_object(status: &Status) -> Value {
    serde_json::from_str(&status.to_json()).unwrap_or(Value::Null)
}
