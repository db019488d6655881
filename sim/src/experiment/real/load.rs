//! The load: `point.clients` clients creating pods until `point.duration` of real time has
//! passed since they all started, each one at a time on its own connection (`rate: closed`)
//! or paced (`rate: N`, the simulated runner's schedule from `crate::experiment::pace`, with
//! a pool of connections, one per request in flight); a request in flight then still
//! finishes (within [`CLIENT_TIMEOUT`]). One [`RequestRecord`] per request, its start from
//! the clients' start. Beside them, the point's webhook outage ([`webhook_outage`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::CLIENT_TIMEOUT;
use super::deployment::Deployment;
use super::https::{CallError, Connection, Reply};
use super::setup::{Cluster, NAMESPACE, pod};
use super::timing::{outcome, parse_server_timing, stages};
use crate::experiment::pace;
use crate::experiment::point::{Load, Outcome, Point, RequestRecord};

/// A client's pause after a request got no answer at all, so a dead server is not spun on.
const NO_ANSWER_PAUSE: Duration = Duration::from_millis(10);

/// Bound on one paced client's sends, so a typo in a rate cannot fill memory.
const MAX_SENDS_PER_CLIENT: usize = 1_000_000;

/// Runs the clients from `start` to the end of the point's duration; their records, client
/// by client. `seed` draws the paced clients' phases, as in the simulation.
pub async fn run_clients(
    cluster: &Cluster,
    point: &Point,
    seed: u64,
    start: Instant,
) -> Vec<RequestRecord> {
    let end = start + point.duration;
    let phases = match point.load {
        Load::Closed => Vec::new(),
        Load::Paced { per_second } => pace::phases(seed, point.clients, per_second),
    };
    let tasks: Vec<_> = (0..point.clients)
        .map(|client| {
            let cluster = cluster.clone();
            let point = point.clone();
            let phase = phases.get(client as usize).copied().unwrap_or_default();
            tokio::spawn(async move {
                match point.load {
                    Load::Closed => run_client(&cluster, client, start, end).await,
                    Load::Paced { per_second } => {
                        let times =
                            pace::schedule(per_second, phase, point.duration, MAX_SENDS_PER_CLIENT);
                        let max_in_flight = point.max_in_flight as usize;
                        run_paced_client(&cluster, client, start, times, max_in_flight).await
                    }
                }
            })
        })
        .collect();
    let mut records = Vec::new();
    for task in tasks {
        // A client task cannot panic on input; if one did, its records are lost, not the run.
        if let Ok(client_records) = task.await {
            records.extend(client_records);
        }
    }
    records
}

/// The point's webhook outage, if it has one, within the clients' run from `start`: every
/// webhook process killed when the window opens (connection refused, as the simulation's
/// outage), started again on the same ports when it closes or the run ends.
pub async fn webhook_outage(
    deployment: &mut Deployment,
    point: &Point,
    start: Instant,
) -> Result<(), String> {
    let Some(window) = point.webhook_outage else {
        return Ok(());
    };
    if window.start >= point.duration {
        return Ok(());
    }
    tokio::time::sleep_until(start + window.start).await;
    deployment.stop_webhooks();
    tokio::time::sleep_until(start + window.end().min(point.duration)).await;
    deployment.restart_webhooks()
}

async fn run_client(
    cluster: &Cluster,
    client: u32,
    start: Instant,
    end: Instant,
) -> Vec<RequestRecord> {
    let path = format!("/api/v1/namespaces/{NAMESPACE}/pods");
    let mut conn = Connection::new(cluster.api.clone());
    let mut records = Vec::new();
    let mut n = 0u64;
    while Instant::now() < end {
        let body = Bytes::from(pod(&format!("client-{client}-{n}")).to_string());
        n += 1;
        let sent = Instant::now();
        let reply = conn.call("POST", &path, Some(body), CLIENT_TIMEOUT).await;
        let latency = sent.elapsed();
        let record = record(cluster, sent - start, latency, reply);
        let no_answer = record.outcome == Outcome::Error { code: None };
        records.push(record);
        if no_answer {
            // No answer at all (the server is gone or refusing): do not spin.
            tokio::time::sleep(NO_ANSWER_PAUSE).await;
        }
    }
    records
}

/// A paced client: each send on an idle connection of its pool (or a new one), put back
/// after the answer; at most `max_in_flight` connections, as many as sends in flight.
async fn run_paced_client(
    cluster: &Cluster,
    client: u32,
    start: Instant,
    times: impl Iterator<Item = Duration>,
    max_in_flight: usize,
) -> Vec<RequestRecord> {
    let path = format!("/api/v1/namespaces/{NAMESPACE}/pods");
    // Held only to pop or push, never across an await.
    let idle: Arc<Mutex<Vec<Connection>>> = Arc::default();
    pace::run_paced(times, start, max_in_flight, |n| {
        let (idle, path) = (idle.clone(), &path);
        async move {
            let kept = idle.lock().ok().and_then(|mut idle| idle.pop());
            let mut conn = kept.unwrap_or_else(|| Connection::new(cluster.api.clone()));
            let body = Bytes::from(pod(&format!("client-{client}-{n}")).to_string());
            let sent = Instant::now();
            let reply = conn.call("POST", path, Some(body), CLIENT_TIMEOUT).await;
            let latency = sent.elapsed();
            if let Ok(mut idle) = idle.lock() {
                idle.push(conn);
            }
            record(cluster, sent - start, latency, reply)
        }
    })
    .await
}

/// One request's record from what came back.
fn record(
    cluster: &Cluster,
    start: Duration,
    latency: Duration,
    reply: Result<Reply, CallError>,
) -> RequestRecord {
    let (outcome, stages) = match reply {
        Ok(reply) => {
            let entries = parse_server_timing(reply.server_timing.as_deref().unwrap_or(""));
            (
                outcome(reply.code, &reply.body),
                stages(&entries, &cluster.webhooks, cluster.kind),
            )
        }
        Err(CallError::Timeout) => (Outcome::Timeout, Default::default()),
        Err(CallError::Failed(_)) => (Outcome::Error { code: None }, Default::default()),
    };
    RequestRecord {
        start,
        latency,
        stages,
        outcome,
    }
}
