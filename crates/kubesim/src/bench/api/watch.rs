//! `bench api watch`: W watchers on the namespace's pods, then K writes (creates, then updates
//! of the pods just created); every event's delivery latency is the time it reached a watcher
//! minus the time its write was acknowledged to the writer, matched by resourceVersion.
//!
//! An event a watcher gets before its writer has the answer counts as 0 ms (the server may
//! fan out before it replies). What a watcher lacks once all writes are done and
//! `--settle-timeout` has passed is a miss; events with versions nobody acknowledged (a write
//! that timed out but landed) are counted apart.
//!
//! - [`LineSplitter`], [`parse_event`], [`tally`]: pure, tested below;
//! - [`run`]: the watchers, the writers and the wait.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Method;
use hyper::body::Incoming;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::client::ApiClient;
use super::cpu::{Meter, PerRequest};
use super::driver::{self, Workload};
use super::ops::{self, UPDATE_LABEL};
use super::plan::Plan;
use super::pod::{self, PodTemplate};
use crate::bench::report::Outcome;

/// Watch streams per HTTP/2 connection: under the server's 250 concurrent streams. Go's client
/// opens another connection when one is full; this opens them up front.
pub const WATCHERS_PER_CONN: usize = 200;
/// A watch event (one line) larger than this ends the watcher: pods here are a few KiB.
const MAX_EVENT_BYTES: usize = 4 << 20;
/// The watch's own `timeoutSeconds`: the stream outlives any run the flags allow to finish.
const WATCH_TIMEOUT_S: u64 = 3600;
/// How often the wait for the last deliveries looks at the count.
const SETTLE_POLL: Duration = Duration::from_millis(10);

/// Splits a chunked watch stream into its newline-terminated events, however the chunks cut
/// them.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Adds `chunk` and returns the lines it completed (without their `\n`). Fails when a
    /// line grows past [`MAX_EVENT_BYTES`].
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..end]);
            let line = std::mem::take(&mut self.partial);
            if !line.iter().all(u8::is_ascii_whitespace) {
                lines.push(line);
            }
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
        if self.partial.len() > MAX_EVENT_BYTES {
            return Err(format!("a watch event over {MAX_EVENT_BYTES} bytes"));
        }
        Ok(lines)
    }
}

/// What the benchmark reads from one watch event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// ADDED, MODIFIED or DELETED, with the object's resourceVersion.
    Change(u64),
    Bookmark,
    /// An ERROR event: its Status reason (`Expired`, ...).
    Error(String),
}

/// Parses one event line; only `type` and the object's resourceVersion (or an ERROR's reason)
/// are decoded, the rest is skipped.
pub fn parse_event(line: &[u8]) -> Result<Event, String> {
    #[derive(serde::Deserialize)]
    struct Line {
        #[serde(rename = "type")]
        kind: String,
        object: Object,
    }
    #[derive(serde::Deserialize, Default)]
    struct Object {
        #[serde(default)]
        metadata: Metadata,
        #[serde(default)]
        reason: String,
    }
    #[derive(serde::Deserialize, Default)]
    struct Metadata {
        #[serde(default, rename = "resourceVersion")]
        resource_version: String,
    }
    let event: Line = serde_json::from_slice(line).map_err(|e| format!("watch event: {e}"))?;
    match event.kind.as_str() {
        "ADDED" | "MODIFIED" | "DELETED" => {
            let rv = &event.object.metadata.resource_version;
            rv.parse()
                .map(Event::Change)
                .map_err(|_| format!("watch event: resourceVersion {rv:?} is not a number"))
        }
        "BOOKMARK" => Ok(Event::Bookmark),
        "ERROR" => Ok(Event::Error(event.object.reason)),
        other => Err(format!("watch event: unknown type {other:?}")),
    }
}

/// One watcher's account once the run is over.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Receive time minus acknowledgement time, for each acknowledged write received.
    pub latencies: Vec<Duration>,
    /// Acknowledged writes this watcher never received.
    pub missed: u64,
    /// Received before the writer had its answer (counted as 0 ms in `latencies`).
    pub early: u64,
    /// Events of writes nobody acknowledged.
    pub unexpected: u64,
    /// A version received twice.
    pub duplicates: u64,
}

/// Matches what a watcher received with the writers' acknowledgements.
pub fn tally(acks: &HashMap<u64, Instant>, received: &[(u64, Instant)]) -> Tally {
    let mut tally = Tally::default();
    let mut seen = HashSet::with_capacity(received.len());
    for &(rv, at) in received {
        if !seen.insert(rv) {
            tally.duplicates += 1;
            continue;
        }
        match acks.get(&rv) {
            Some(&acked) => {
                if at < acked {
                    tally.early += 1;
                }
                tally.latencies.push(at.saturating_duration_since(acked));
            }
            None => tally.unexpected += 1,
        }
    }
    let matched = tally.latencies.len() as u64;
    tally.missed = (acks.len() as u64).saturating_sub(matched);
    tally
}

/// What a watch run measured.
#[derive(Debug, Default)]
pub struct WatchOutcome {
    /// Every delivery's latency; `elapsed` from the first write to the end of the wait.
    pub deliveries: Outcome,
    /// The writes (creates and updates), as any request phase.
    pub writes: Outcome,
    /// Watchers whose stream opened.
    pub watchers_opened: usize,
    /// Acknowledged writes: what every watcher should receive.
    pub writes_acked: u64,
    pub missed: u64,
    /// Watchers that lacked at least one event.
    pub watchers_incomplete: u64,
    pub early: u64,
    pub unexpected: u64,
    pub duplicates: u64,
    /// CPU from the first write to the end of the wait, per acknowledged write and per
    /// delivery.
    pub cpu_per_write: PerRequest,
    pub cpu_per_delivery: PerRequest,
    /// Watch streams that failed or ended before the run did, by reason.
    pub stream_errors: std::collections::BTreeMap<String, u64>,
}

/// Runs the watch benchmark: `watch_api` carries the watchers, `api` the writes.
pub async fn run(
    api: &ApiClient,
    watch_api: &ApiClient,
    plan: &Plan,
    watchers: usize,
    settle_timeout: Duration,
) -> anyhow::Result<WatchOutcome> {
    let from = current_resource_version(api, &plan.namespace).await?;
    let path = format!(
        "{}?watch=1&resourceVersion={from}&timeoutSeconds={WATCH_TIMEOUT_S}",
        pod::pods_path(&plan.namespace)
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let received = Arc::new(AtomicU64::new(0));
    let mut set = spawn_watchers(watch_api, &path, watchers, plan.total, &stop_rx, &received);
    let opened = wait_opened(&mut set.opened, watchers).await;
    tracing::info!("bench api: {} of {watchers} watches open", opened.0);
    let run = super::run_id();
    // Opening a thousand watches is work too; the writes start once it is done.
    super::cpu::wait_idle(&plan.server_pid, super::MAX_IDLE_WAIT).await;
    let meter = Meter::start(&plan.server_pid);
    let writes_started = Instant::now();
    let (writes, acks) = write_pods(api, plan, &run).await?;
    let expected = opened.0 as u64 * acks.len() as u64;
    let deadline = Instant::now() + settle_timeout;
    while received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(SETTLE_POLL).await;
    }
    let waited = writes_started.elapsed();
    let cpu_per_write = meter.stop(acks.len() as u64);
    let cpu_per_delivery = meter.stop(received.load(Ordering::Relaxed));
    let _ = stop_tx.send(true);
    let mut outcome = WatchOutcome {
        writes,
        watchers_opened: opened.0,
        writes_acked: acks.len() as u64,
        stream_errors: opened.1,
        cpu_per_write,
        cpu_per_delivery,
        ..WatchOutcome::default()
    };
    while let Some(joined) = set.tasks.join_next().await {
        let watcher = joined.map_err(|e| anyhow::anyhow!("a watcher failed: {e}"))?;
        outcome.add(watcher, &acks);
    }
    outcome.deliveries.elapsed = waited;
    Ok(outcome)
}

impl WatchOutcome {
    fn add(&mut self, watcher: WatcherResult, acks: &HashMap<u64, Instant>) {
        let Some(received) = watcher.received else {
            return; // never opened: already counted in stream_errors
        };
        let tally = tally(acks, &received);
        if let Some(error) = watcher.ended {
            *self.stream_errors.entry(error).or_default() += 1;
        }
        self.missed += tally.missed;
        self.watchers_incomplete += u64::from(tally.missed > 0);
        self.early += tally.early;
        self.unexpected += tally.unexpected;
        self.duplicates += tally.duplicates;
        self.deliveries.latencies.extend(tally.latencies);
    }
}

/// The resourceVersion of the namespace's pod list now: watches start after it, so they see
/// only the run's writes, not the pods already there.
async fn current_resource_version(api: &ApiClient, namespace: &str) -> anyhow::Result<String> {
    let path = format!("{}?limit=1", pod::pods_path(namespace));
    let reply = api
        .send(0, Method::GET, &path, None)
        .await
        .and_then(|reply| reply.expect(&[200]))
        .map_err(|e| anyhow::anyhow!("GET {path}: {e}"))?;
    let list: Value =
        serde_json::from_slice(&reply.body).map_err(|e| anyhow::anyhow!("GET {path}: {e}"))?;
    list.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("GET {path}: the list has no resourceVersion"))
}

struct WatcherSet {
    tasks: JoinSet<WatcherResult>,
    /// One message per watcher: its stream opened, or why not.
    opened: mpsc::Receiver<Result<(), String>>,
}

struct WatcherResult {
    /// `None` when the stream never opened.
    received: Option<Vec<(u64, Instant)>>,
    /// Why the stream ended before it was stopped.
    ended: Option<String>,
}

fn spawn_watchers(
    api: &ApiClient,
    path: &str,
    watchers: usize,
    writes: u64,
    stop: &watch::Receiver<bool>,
    received: &Arc<AtomicU64>,
) -> WatcherSet {
    let (opened_tx, opened) = mpsc::channel(watchers);
    let mut tasks = JoinSet::new();
    // Room for every write twice over (duplicates), so a misbehaving stream cannot grow
    // without bound.
    let cap = (writes as usize).saturating_mul(2).saturating_add(16);
    for i in 0..watchers {
        let watcher = Watcher {
            api: api.clone(),
            conn: i % api.conns(),
            path: path.to_string(),
            stop: stop.clone(),
            received: received.clone(),
            cap,
        };
        tasks.spawn(watcher.run(opened_tx.clone()));
    }
    WatcherSet { tasks, opened }
}

/// Waits for every watcher to report whether its stream opened (each does within the
/// request timeout). Returns how many opened, and the failures by reason.
async fn wait_opened(
    opened: &mut mpsc::Receiver<Result<(), String>>,
    watchers: usize,
) -> (usize, std::collections::BTreeMap<String, u64>) {
    let mut ok = 0;
    let mut failures = std::collections::BTreeMap::new();
    for _ in 0..watchers {
        match opened.recv().await {
            Some(Ok(())) => ok += 1,
            Some(Err(e)) => *failures.entry(format!("open: {e}")).or_default() += 1,
            None => break,
        }
    }
    (ok, failures)
}

struct Watcher {
    api: ApiClient,
    conn: usize,
    path: String,
    stop: watch::Receiver<bool>,
    /// Events received by all watchers, so the run knows when everything has arrived.
    received: Arc<AtomicU64>,
    /// The most events kept.
    cap: usize,
}

impl Watcher {
    async fn run(mut self, opened: mpsc::Sender<Result<(), String>>) -> WatcherResult {
        let body = match self.api.open_stream(self.conn, &self.path).await {
            Ok(body) => {
                let _ = opened.send(Ok(())).await;
                body
            }
            Err(e) => {
                let _ = opened.send(Err(e)).await;
                return WatcherResult {
                    received: None,
                    ended: None,
                };
            }
        };
        let mut events = Vec::with_capacity(self.cap.min(1 << 16));
        let ended = self.read(body, &mut events).await.err();
        WatcherResult {
            received: Some(events),
            ended,
        }
    }

    /// Reads events until stopped; `Err` if the stream broke or ended first.
    async fn read(
        &mut self,
        mut body: Incoming,
        events: &mut Vec<(u64, Instant)>,
    ) -> Result<(), String> {
        let mut lines = LineSplitter::default();
        loop {
            let frame = tokio::select! {
                _ = self.stop.wait_for(|stop| *stop) => return Ok(()),
                frame = body.frame() => frame,
            };
            // Taken before any parsing, so decoding is not counted as delivery time.
            let arrived = Instant::now();
            let data = match frame {
                None => return Err("the stream ended".into()),
                Some(Err(e)) => return Err(format!("the stream broke: {e}")),
                Some(Ok(frame)) => frame.into_data().unwrap_or_else(|_| Bytes::new()),
            };
            for line in lines.push(&data)? {
                match parse_event(&line)? {
                    Event::Change(rv) if events.len() < self.cap => {
                        events.push((rv, arrived));
                        self.received.fetch_add(1, Ordering::Relaxed);
                    }
                    Event::Change(_) => return Err("more events than the run wrote".into()),
                    Event::Bookmark => {}
                    Event::Error(reason) => return Err(format!("ERROR event: {reason}")),
                }
            }
        }
    }
}

/// The writes watchers see: `ceil(K/2)` creates, then updates of as many of those pods as
/// make K. Returns their outcome and each acknowledged write's resourceVersion and time.
async fn write_pods(
    api: &ApiClient,
    plan: &Plan,
    run: &str,
) -> anyhow::Result<(Outcome, HashMap<u64, Instant>)> {
    let creates = plan.total.div_ceil(2);
    let acks = Arc::new(Mutex::new(HashMap::with_capacity(plan.total as usize)));
    let writer = Arc::new(Writer {
        api: api.clone(),
        template: PodTemplate::new(&plan.namespace, run),
        namespace: plan.namespace.clone(),
        run: run.to_string(),
        update: false,
        acks: acks.clone(),
    });
    let mut outcome = driver::drive(writer.clone(), plan.clients, creates).await?;
    let updater = Arc::new(Writer {
        update: true,
        ..Writer::clone(&writer)
    });
    outcome.merge(driver::drive(updater, plan.clients, plan.total - creates).await?);
    let acks = std::mem::take(&mut *acks.lock().unwrap_or_else(|e| e.into_inner()));
    Ok((outcome, acks))
}

/// Creates pod `i` (or, for `update`, GETs and PUTs it) and records the acknowledgement.
#[derive(Clone)]
struct Writer {
    api: ApiClient,
    template: PodTemplate,
    namespace: String,
    run: String,
    update: bool,
    acks: Arc<Mutex<HashMap<u64, Instant>>>,
}

impl Writer {
    async fn create(&self, client: usize, name: &str) -> Result<Bytes, String> {
        let body = Bytes::from(self.template.body(name));
        let reply = self
            .api
            .send(
                client,
                Method::POST,
                &pod::pods_path(&self.namespace),
                Some(body),
            )
            .await?
            .expect(&[201])?;
        Ok(reply.body)
    }

    async fn get_and_put(&self, client: usize, name: &str, index: u64) -> Result<Bytes, String> {
        let path = pod::pod_path(&self.namespace, name);
        let reply = self
            .api
            .send(client, Method::GET, &path, None)
            .await?
            .expect(&[200])?;
        let mut object: Value =
            serde_json::from_slice(&reply.body).map_err(|e| format!("GET body: {e}"))?;
        ops::set_label(&mut object, UPDATE_LABEL, &index.to_string())?;
        let body = serde_json::to_vec(&object).map_err(|e| format!("PUT body: {e}"))?;
        let reply = self
            .api
            .send(client, Method::PUT, &path, Some(Bytes::from(body)))
            .await?
            .expect(&[200])?;
        Ok(reply.body)
    }
}

impl Workload for Writer {
    async fn send(&self, client: usize, _round: u64, index: u64) -> Result<(), String> {
        let name = pod::watched_name(&self.run, index);
        let body = if self.update {
            self.get_and_put(client, &name, index).await?
        } else {
            self.create(client, &name).await?
        };
        let acked = Instant::now();
        let rv = written_version(&body)?;
        self.acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(rv, acked);
        Ok(())
    }
}

/// The resourceVersion of the object a write answered with.
fn written_version(body: &[u8]) -> Result<u64, String> {
    let object: Value = serde_json::from_slice(body).map_err(|e| format!("write answer: {e}"))?;
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|rv| rv.parse().ok())
        .ok_or_else(|| "write answer without a numeric resourceVersion".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_joined_across_chunks_and_blank_lines_dropped() {
        let mut splitter = LineSplitter::default();
        assert_eq!(splitter.push(b"{\"a\"").unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(
            splitter.push(b":1}\n\n{\"b\":2}\n{\"c\"").unwrap(),
            vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()]
        );
        assert_eq!(
            splitter.push(b":3}\n").unwrap(),
            vec![b"{\"c\":3}".to_vec()]
        );
        assert_eq!(splitter.push(b"").unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut splitter = LineSplitter::default();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..4 {
            splitter.push(&chunk).unwrap();
        }
        assert!(splitter.push(b"x").is_err());
    }

    #[test]
    fn events_by_type() {
        let added = br#"{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"p","resourceVersion":"42","labels":{"resourceVersion":"x"}},"spec":{}}}"#;
        assert_eq!(parse_event(added), Ok(Event::Change(42)));
        let modified = br#"{"type":"MODIFIED","object":{"metadata":{"resourceVersion":"43"}}}"#;
        assert_eq!(parse_event(modified), Ok(Event::Change(43)));
        let bookmark =
            br#"{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"44"}}}"#;
        assert_eq!(parse_event(bookmark), Ok(Event::Bookmark));
        let error = br#"{"type":"ERROR","object":{"kind":"Status","status":"Failure","reason":"Expired","code":410}}"#;
        assert_eq!(parse_event(error), Ok(Event::Error("Expired".into())));
        for bad in [
            &br#"{"type":"ADDED","object":{"metadata":{}}}"#[..],
            br#"{"type":"SOMETHING","object":{}}"#,
            b"not json",
            br#"{"type":"ADDED"}"#,
        ] {
            assert!(
                parse_event(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn tally_matches_versions_and_counts_what_is_odd() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let acks: HashMap<u64, Instant> = [(10, ms(100)), (11, ms(200)), (12, ms(300))].into();
        let received = [
            (10, ms(105)), // 5 ms
            (11, ms(150)), // before its ack: 0 ms, early
            (11, ms(210)), // duplicate
            (99, ms(220)), // nobody wrote it
        ];
        assert_eq!(
            tally(&acks, &received),
            Tally {
                latencies: vec![Duration::from_millis(5), Duration::ZERO],
                missed: 1,
                early: 1,
                unexpected: 1,
                duplicates: 1,
            }
        );
        assert_eq!(tally(&acks, &[]).missed, 3);
    }

    #[test]
    fn written_version_reads_the_answer() {
        assert_eq!(
            written_version(br#"{"metadata":{"name":"p","resourceVersion":"17"}}"#),
            Ok(17)
        );
        assert!(written_version(br#"{"metadata":{"resourceVersion":17}}"#).is_err());
        assert!(written_version(b"[]").is_err());
    }
}
