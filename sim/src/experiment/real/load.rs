//! The load: `point.clients` clients, each on its own connection, creating pods one at a
//! time until `point.duration` of real time has passed since they all started; a request
//! in flight then still finishes (within [`CLIENT_TIMEOUT`]). One [`RequestRecord`] per
//! request, its start from the clients' start. Beside them, the point's webhook outage
//! ([`webhook_outage`]).

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::CLIENT_TIMEOUT;
use super::deployment::Deployment;
use super::https::{CallError, Connection, Reply};
use super::setup::{Cluster, NAMESPACE, pod};
use super::timing::{outcome, parse_server_timing, stages};
use crate::experiment::point::{Outcome, Point, RequestRecord};

/// A client's pause after a request got no answer at all, so a dead server is not spun on.
const NO_ANSWER_PAUSE: Duration = Duration::from_millis(10);

/// Runs the clients from `start` to the end of the point's duration; their records, client
/// by client.
pub async fn run_clients(cluster: &Cluster, point: &Point, start: Instant) -> Vec<RequestRecord> {
    let end = start + point.duration;
    let tasks: Vec<_> = (0..point.clients)
        .map(|client| {
            let cluster = cluster.clone();
            tokio::spawn(async move { run_client(&cluster, client, start, end).await })
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
