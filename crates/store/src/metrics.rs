//! Prometheus metrics of one store member, under etcd's own names where etcd has the metric
//! (so etcd's dashboards and alerts work unchanged), served as etcd serves them on
//! `--listen-metrics-urls`: `GET /metrics`, Prometheus' text format 0.0.4.
//!
//! Map of the module:
//! - [`StoreMetrics`]: one registry per member (several members share a process in `kubesim
//!   up` and in the simulation, so nothing is registered in a global default registry).
//! - [`RaftView`] and [`LeaderTracker`]: the pure part of the task that follows openraft's
//!   metrics (`Consensus::report_metrics` in `raft/consensus.rs`), off the write path.
//! - [`PendingProposal`] and [`ProposalTimer`]: what one write costs the metrics: an instant,
//!   a few atomic adds and two histogram observations, no allocation.
//! - [`serve`]: the HTTP/1.1 listener (through `Env.net`, so it also runs under turmoil).
//!
//! | metric | type | meaning | from |
//! |---|---|---|---|
//! | `etcd_server_has_leader` | gauge | 1 if this member knows a leader | raft task |
//! | `etcd_server_is_leader` | gauge | 1 if this member is the leader | raft task |
//! | `etcd_server_leader_changes_seen_total` | counter | leaders this member saw take over | raft task |
//! | `etcd_server_proposals_committed_total` | gauge | the committed log index (etcd's is a gauge too) | raft task |
//! | `etcd_server_proposals_applied_total` | gauge | the applied log index | raft task |
//! | `etcd_server_proposals_pending` | gauge | writes proposed by this member (as leader) not yet applied | `Consensus::write` |
//! | `etcd_server_proposals_failed_total` | counter | proposals that failed or were given up | `Consensus::write` |
//! | `etcd_disk_wal_fsync_duration_seconds` | histogram | one Raft log sync (write + fsync of a group commit) | `raft/log_store.rs` |
//! | `etcd_disk_backend_commit_duration_seconds` | histogram | one commit of the snapshot database | `raft/state_machine.rs` |
//! | `etcd_mvcc_db_total_size_in_bytes` | gauge | bytes of the log and snapshot databases | at scrape |
//! | `etcd_mvcc_db_total_size_in_use_in_bytes` | gauge | bytes the MVCC history holds | at scrape |
//! | `etcd_debugging_mvcc_current_revision` | gauge | the store revision | at scrape |
//! | `kubesim_raft_term` | gauge | the Raft term | raft task |
//! | `kubesim_raft_proposal_commit_duration_seconds` | histogram | leader: proposal to commit | write's responder |
//! | `kubesim_raft_proposal_apply_duration_seconds` | histogram | leader: proposal to apply | write's responder |

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use kubesim_net::network::{Conn, Listener, bounded_incoming};
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Opts, Registry};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::error::StoreError;
use crate::handle::StoreHandle;

/// etcd's buckets for its disk histograms (`prometheus.ExponentialBuckets(0.001, 2, 14)`):
/// 1 ms to 8 s.
const DISK_BUCKETS: [f64; 14] = [
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
    8.192,
];
/// Proposal latency: from 0.1 ms (a one-member cluster on a fast disk) to 13 s (past the
/// request timeout).
const PROPOSAL_BUCKETS: [f64; 18] = [
    0.0001, 0.0002, 0.0004, 0.0008, 0.0016, 0.0032, 0.0064, 0.0128, 0.0256, 0.0512, 0.1024, 0.2048,
    0.4096, 0.8192, 1.6384, 3.2768, 6.5536, 13.1072,
];

/// Scrapes served at once per listener; Prometheus needs one.
pub const MAX_METRICS_CONNECTIONS: usize = 16;
/// A request head (request line and headers) larger than this is refused (hyper's minimum).
pub const MAX_REQUEST_HEAD_BYTES: usize = 8192;
/// How long one connection may stay open, keep-alive included: a client that connects and
/// sends nothing gives its slot back after this.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);

/// The metrics of one store member.
#[derive(Debug)]
pub struct StoreMetrics {
    /// Every family below, and nothing else.
    registry: Registry,
    has_leader: IntGauge,
    is_leader: IntGauge,
    leader_changes: IntCounter,
    proposals_committed: IntGauge,
    proposals_applied: IntGauge,
    proposals_pending: IntGauge,
    proposals_failed: IntCounter,
    wal_fsync: Histogram,
    backend_commit: Histogram,
    db_total_size: IntGauge,
    db_total_size_in_use: IntGauge,
    current_revision: IntGauge,
    raft_term: IntGauge,
    proposal_commit: Histogram,
    proposal_apply: Histogram,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics::new()
    }
}

impl StoreMetrics {
    pub fn new() -> StoreMetrics {
        let metrics = StoreMetrics {
            registry: Registry::new(),
            has_leader: gauge(
                "etcd_server_has_leader",
                "Whether or not a leader exists. 1 is existence, 0 is not.",
            ),
            is_leader: gauge(
                "etcd_server_is_leader",
                "Whether or not this member is a leader. 1 if is, 0 otherwise.",
            ),
            leader_changes: counter(
                "etcd_server_leader_changes_seen_total",
                "The number of leader changes seen.",
            ),
            proposals_committed: gauge(
                "etcd_server_proposals_committed_total",
                "The total number of consensus proposals committed.",
            ),
            proposals_applied: gauge(
                "etcd_server_proposals_applied_total",
                "The total number of consensus proposals applied.",
            ),
            proposals_pending: gauge(
                "etcd_server_proposals_pending",
                "The current number of pending proposals to commit.",
            ),
            proposals_failed: counter(
                "etcd_server_proposals_failed_total",
                "The total number of failed proposals seen.",
            ),
            wal_fsync: histogram(
                "etcd_disk_wal_fsync_duration_seconds",
                "The latency distributions of fsync called by WAL.",
                &DISK_BUCKETS,
            ),
            backend_commit: histogram(
                "etcd_disk_backend_commit_duration_seconds",
                "The latency distributions of commit called by backend.",
                &DISK_BUCKETS,
            ),
            db_total_size: gauge(
                "etcd_mvcc_db_total_size_in_bytes",
                "Total size of the underlying database physically allocated in bytes.",
            ),
            db_total_size_in_use: gauge(
                "etcd_mvcc_db_total_size_in_use_in_bytes",
                "Total size of the underlying database logically in use in bytes.",
            ),
            current_revision: gauge(
                "etcd_debugging_mvcc_current_revision",
                "The current revision of store.",
            ),
            raft_term: gauge("kubesim_raft_term", "The current Raft term of this member."),
            proposal_commit: histogram(
                "kubesim_raft_proposal_commit_duration_seconds",
                "The latency distributions of a proposal from the leader's proposal to its commit.",
                &PROPOSAL_BUCKETS,
            ),
            proposal_apply: histogram(
                "kubesim_raft_proposal_apply_duration_seconds",
                "The latency distributions of a proposal from the leader's proposal to its apply.",
                &PROPOSAL_BUCKETS,
            ),
        };
        metrics.register_all();
        metrics
    }

    fn register_all(&self) {
        let collectors: [Box<dyn prometheus::core::Collector>; 15] = [
            Box::new(self.has_leader.clone()),
            Box::new(self.is_leader.clone()),
            Box::new(self.leader_changes.clone()),
            Box::new(self.proposals_committed.clone()),
            Box::new(self.proposals_applied.clone()),
            Box::new(self.proposals_pending.clone()),
            Box::new(self.proposals_failed.clone()),
            Box::new(self.wal_fsync.clone()),
            Box::new(self.backend_commit.clone()),
            Box::new(self.db_total_size.clone()),
            Box::new(self.db_total_size_in_use.clone()),
            Box::new(self.current_revision.clone()),
            Box::new(self.raft_term.clone()),
            Box::new(self.proposal_commit.clone()),
            Box::new(self.proposal_apply.clone()),
        ];
        for collector in collectors {
            // Invariant: each name is registered once, here, in a registry of its own.
            if let Err(error) = self.registry.register(collector) {
                tracing::error!(%error, "registering a store metric failed");
            }
        }
    }

    /// The log store's sync histogram (a clone shares the counts).
    pub(crate) fn wal_fsync(&self) -> Histogram {
        self.wal_fsync.clone()
    }

    /// The snapshot database's commit histogram.
    pub(crate) fn backend_commit(&self) -> Histogram {
        self.backend_commit.clone()
    }

    /// Sets the Raft gauges from openraft's view; counts a leader change when `tracker`
    /// sees one.
    pub(crate) fn observe_raft(&self, view: &RaftView, tracker: &mut LeaderTracker) {
        if tracker.saw(view.leader) {
            self.leader_changes.inc();
        }
        self.has_leader.set(i64::from(view.leader.is_some()));
        self.is_leader.set(i64::from(view.is_leader));
        self.raft_term.set(saturating_i64(view.term));
        self.proposals_committed.set(saturating_i64(view.committed));
        self.proposals_applied.set(saturating_i64(view.applied));
    }

    /// A proposal this member makes as the leader: pending until the guard is dropped, and
    /// failed then unless [`PendingProposal::succeeded`] was called (a caller that gave up
    /// counts as a failure, as a timed-out proposal does in etcd).
    pub(crate) fn proposal(&self) -> PendingProposal<'_> {
        self.proposals_pending.inc();
        PendingProposal {
            metrics: self,
            succeeded: false,
        }
    }

    /// What is read at scrape time rather than on the write path.
    pub fn set_storage(&self, db_size_bytes: i64, in_use_bytes: i64, revision: i64) {
        self.db_total_size.set(db_size_bytes);
        self.db_total_size_in_use.set(in_use_bytes);
        self.current_revision.set(revision);
    }

    /// Everything registered, in Prometheus' text format.
    pub fn encode(&self) -> String {
        let families = self.registry.gather();
        prometheus::TextEncoder::new()
            .encode_to_string(&families)
            .unwrap_or_default()
    }
}

/// What the raft task reads from openraft's metrics each time they change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RaftView {
    pub leader: Option<u64>,
    pub is_leader: bool,
    pub term: u64,
    pub committed: u64,
    pub applied: u64,
}

/// Counts leader changes as etcd does (`newLeader` in `etcdserver/raft.go`): a known leader
/// that differs from the last one seen, where "none" is also a value seen. So the first
/// leader counts, and a leader that comes back after a spell without one counts again.
#[derive(Debug, Default)]
pub(crate) struct LeaderTracker {
    last: Option<u64>,
}

impl LeaderTracker {
    /// Whether `leader` is a change to count.
    pub(crate) fn saw(&mut self, leader: Option<u64>) -> bool {
        let changed = leader.is_some() && leader != self.last;
        self.last = leader;
        changed
    }
}

/// One proposal in flight (see [`StoreMetrics::proposal`]).
pub(crate) struct PendingProposal<'a> {
    metrics: &'a StoreMetrics,
    succeeded: bool,
}

impl PendingProposal<'_> {
    pub(crate) fn succeeded(mut self) {
        self.succeeded = true;
    }
}

impl Drop for PendingProposal<'_> {
    fn drop(&mut self) {
        self.metrics.proposals_pending.dec();
        if !self.succeeded {
            self.metrics.proposals_failed.inc();
        }
    }
}

/// Times one proposal on the leader: created when it is proposed, told when it commits and
/// when it is applied (by the write's responder, `raft/responder.rs`). Only a committed
/// proposal is timed to its apply: one that failed before (not the leader any more, its
/// entry discarded) never applies.
pub(crate) struct ProposalTimer {
    metrics: Arc<StoreMetrics>,
    proposed_at: Instant,
    committed: bool,
}

impl ProposalTimer {
    pub(crate) fn start(metrics: Arc<StoreMetrics>) -> ProposalTimer {
        ProposalTimer {
            metrics,
            proposed_at: Instant::now(),
            committed: false,
        }
    }

    pub(crate) fn committed(&mut self) {
        if !self.committed {
            self.committed = true;
            let elapsed = self.proposed_at.elapsed().as_secs_f64();
            self.metrics.proposal_commit.observe(elapsed);
        }
    }

    pub(crate) fn completed(self) {
        if self.committed {
            let elapsed = self.proposed_at.elapsed().as_secs_f64();
            self.metrics.proposal_apply.observe(elapsed);
        }
    }
}

/// Records how long `started` is ago in `histogram`.
pub(crate) fn observe_since(histogram: &Histogram, started: Instant) {
    histogram.observe(started.elapsed().as_secs_f64());
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn gauge(name: &str, help: &str) -> IntGauge {
    // Invariant: the names here are constants Prometheus accepts.
    IntGauge::with_opts(Opts::new(name, help)).expect("a valid gauge definition")
}

fn counter(name: &str, help: &str) -> IntCounter {
    // Invariant: as for `gauge`.
    IntCounter::with_opts(Opts::new(name, help)).expect("a valid counter definition")
}

fn histogram(name: &str, help: &str, buckets: &[f64]) -> Histogram {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    // Invariant: as for `gauge` (and the buckets increase).
    Histogram::with_opts(opts).expect("a valid histogram definition")
}

/// What a request to the metrics listener gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Metrics,
    NotFound,
    MethodNotAllowed,
}

/// `GET /metrics` is the only thing served; the query string is ignored, as etcd's does.
pub(crate) fn route(method: &Method, path: &str) -> Route {
    if path != "/metrics" {
        Route::NotFound
    } else if *method != Method::GET {
        Route::MethodNotAllowed
    } else {
        Route::Metrics
    }
}

/// The member's metrics with the storage gauges read now.
fn scrape(handle: &StoreHandle) -> String {
    let status = handle.status();
    let revision = handle.with_mvcc(|m| m.current_revision());
    let metrics = &handle.inner.metrics;
    metrics.set_storage(status.db_size, status.db_size_in_use, revision);
    metrics.encode()
}

fn respond(handle: &StoreHandle, method: &Method, path: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match route(method, path) {
        Route::Metrics => (StatusCode::OK, prometheus::TEXT_FORMAT, scrape(handle)),
        Route::NotFound => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "404 page not found\n".into(),
        ),
        Route::MethodNotAllowed => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "405 method not allowed\n".into(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("GET"),
        );
    }
    response
}

/// Serves `GET /metrics` of `handle`'s member on `listener` until `shutdown` completes:
/// HTTP/1.1, at most [`MAX_METRICS_CONNECTIONS`] connections, each for at most
/// [`CONNECTION_LIFETIME`]. A request body is never read.
pub(crate) async fn serve(
    handle: StoreHandle,
    listener: Box<dyn Listener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StoreError> {
    let mut connections = Box::pin(bounded_incoming(listener, MAX_METRICS_CONNECTIONS));
    let mut shutdown = Box::pin(shutdown);
    let mut open = JoinSet::new();
    loop {
        let conn = tokio::select! {
            _ = &mut shutdown => break,
            next = connections.next() => match next {
                Some(Ok(conn)) => conn,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "metrics listener: accept failed");
                    continue;
                }
                None => break,
            },
        };
        open.spawn(serve_connection(handle.clone(), conn));
        // Forget the connections that are done; at most MAX_METRICS_CONNECTIONS are open.
        while open.try_join_next().is_some() {}
    }
    open.abort_all();
    Ok(())
}

async fn serve_connection(handle: StoreHandle, conn: Conn) {
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let response = respond(&handle, request.method(), request.uri().path());
        async move { Ok::<_, Infallible>(response) }
    });
    let http = hyper::server::conn::http1::Builder::new()
        .max_buf_size(MAX_REQUEST_HEAD_BYTES)
        .serve_connection(hyper_util::rt::TokioIo::new(conn), service);
    match tokio::time::timeout(CONNECTION_LIFETIME, http).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "metrics connection"),
        Err(_) => tracing::debug!("metrics connection closed after its lifetime"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the sample `name` (a whole line `name value`) in `text`.
    fn sample(text: &str, name: &str) -> Option<f64> {
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn every_family_is_in_the_text_under_etcds_names() {
        let text = StoreMetrics::new().encode();
        for name in [
            "etcd_server_has_leader",
            "etcd_server_is_leader",
            "etcd_server_leader_changes_seen_total",
            "etcd_server_proposals_committed_total",
            "etcd_server_proposals_applied_total",
            "etcd_server_proposals_pending",
            "etcd_server_proposals_failed_total",
            "etcd_mvcc_db_total_size_in_bytes",
            "etcd_mvcc_db_total_size_in_use_in_bytes",
            "etcd_debugging_mvcc_current_revision",
            "kubesim_raft_term",
        ] {
            assert_eq!(sample(&text, name), Some(0.0), "{name} in\n{text}");
        }
        for name in [
            "etcd_disk_wal_fsync_duration_seconds",
            "etcd_disk_backend_commit_duration_seconds",
            "kubesim_raft_proposal_commit_duration_seconds",
            "kubesim_raft_proposal_apply_duration_seconds",
        ] {
            assert!(text.contains(&format!("# TYPE {name} histogram")), "{name}");
            assert_eq!(sample(&text, &format!("{name}_count")), Some(0.0), "{name}");
        }
    }

    #[test]
    fn two_members_in_one_process_keep_their_own_counts() {
        let (a, b) = (StoreMetrics::new(), StoreMetrics::new());
        a.wal_fsync().observe(0.003);
        a.backend_commit().observe(0.5);
        let (a, b) = (a.encode(), b.encode());
        assert_eq!(
            sample(&a, "etcd_disk_wal_fsync_duration_seconds_count"),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &a,
                "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.004\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &a,
                "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.002\"}"
            ),
            Some(0.0)
        );
        assert_eq!(
            sample(&a, "etcd_disk_backend_commit_duration_seconds_count"),
            Some(1.0)
        );
        assert_eq!(
            sample(&b, "etcd_disk_wal_fsync_duration_seconds_count"),
            Some(0.0)
        );
    }

    #[test]
    fn the_raft_view_sets_the_gauges() {
        let metrics = StoreMetrics::new();
        let mut tracker = LeaderTracker::default();
        let view = RaftView {
            leader: Some(7),
            is_leader: true,
            term: 3,
            committed: 42,
            applied: 40,
        };
        metrics.observe_raft(&view, &mut tracker);
        metrics.set_storage(4096, 100, 9);
        let text = metrics.encode();
        for (name, value) in [
            ("etcd_server_has_leader", 1.0),
            ("etcd_server_is_leader", 1.0),
            ("etcd_server_leader_changes_seen_total", 1.0),
            ("kubesim_raft_term", 3.0),
            ("etcd_server_proposals_committed_total", 42.0),
            ("etcd_server_proposals_applied_total", 40.0),
            ("etcd_mvcc_db_total_size_in_bytes", 4096.0),
            ("etcd_mvcc_db_total_size_in_use_in_bytes", 100.0),
            ("etcd_debugging_mvcc_current_revision", 9.0),
        ] {
            assert_eq!(sample(&text, name), Some(value), "{name}");
        }
        let no_leader = RaftView {
            leader: None,
            is_leader: false,
            ..view
        };
        metrics.observe_raft(&no_leader, &mut tracker);
        let text = metrics.encode();
        assert_eq!(sample(&text, "etcd_server_has_leader"), Some(0.0));
        assert_eq!(sample(&text, "etcd_server_is_leader"), Some(0.0));
    }

    #[test]
    fn leader_changes_are_counted_as_etcd_counts_them() {
        let mut tracker = LeaderTracker::default();
        let seen: Vec<bool> = [None, Some(1), Some(1), None, Some(1), Some(2), Some(2)]
            .into_iter()
            .map(|leader| tracker.saw(leader))
            .collect();
        assert_eq!(seen, [false, true, false, false, true, true, false]);
    }

    #[test]
    fn a_proposal_is_pending_until_done_and_failed_unless_it_succeeded() {
        let metrics = StoreMetrics::new();
        let pending = |m: &StoreMetrics| sample(&m.encode(), "etcd_server_proposals_pending");
        let failed = |m: &StoreMetrics| sample(&m.encode(), "etcd_server_proposals_failed_total");
        let ok = metrics.proposal();
        let given_up = metrics.proposal();
        assert_eq!(pending(&metrics), Some(2.0));
        ok.succeeded();
        assert_eq!(
            (pending(&metrics), failed(&metrics)),
            (Some(1.0), Some(0.0))
        );
        drop(given_up);
        assert_eq!(
            (pending(&metrics), failed(&metrics)),
            (Some(0.0), Some(1.0))
        );
    }

    #[test]
    fn only_a_committed_proposal_is_timed_to_its_apply() {
        let metrics = Arc::new(StoreMetrics::new());
        let mut applied = ProposalTimer::start(metrics.clone());
        applied.committed();
        applied.committed();
        applied.completed();
        ProposalTimer::start(metrics.clone()).completed();
        let text = metrics.encode();
        let count = |name: &str| sample(&text, &format!("kubesim_raft_proposal_{name}_count"));
        assert_eq!(
            (
                count("commit_duration_seconds"),
                count("apply_duration_seconds")
            ),
            (Some(1.0), Some(1.0))
        );
    }

    #[test]
    fn only_get_metrics_is_served() {
        assert_eq!(route(&Method::GET, "/metrics"), Route::Metrics);
        assert_eq!(route(&Method::POST, "/metrics"), Route::MethodNotAllowed);
        assert_eq!(route(&Method::DELETE, "/metrics"), Route::MethodNotAllowed);
        assert_eq!(route(&Method::GET, "/"), Route::NotFound);
        assert_eq!(route(&Method::GET, "/metrics/"), Route::NotFound);
        assert_eq!(route(&Method::POST, "/health"), Route::NotFound);
    }
}
