//! The request loop every measured phase shares, as `bench kv` runs it: `clients` loops take
//! request numbers from one counter until `total` are sent, and the latency of every success
//! is kept for [`report::Summary`](crate::bench::report::Summary).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::bench::report::Outcome;

/// One kind of request.
pub trait Workload: Send + Sync + 'static {
    /// Sends request `index` (the `round`-th of client `client`) and waits for its answer.
    /// A failure is a short text by which failures are counted.
    fn send(
        &self,
        client: usize,
        round: u64,
        index: u64,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// Runs `total` requests from `clients` concurrent loops; `elapsed` is from the first send to
/// the last answer.
pub async fn drive<W: Workload>(
    workload: Arc<W>,
    clients: usize,
    total: u64,
) -> anyhow::Result<Outcome> {
    let next_index = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut loops = JoinSet::new();
    for client in 0..clients {
        let workload = workload.clone();
        let next_index = next_index.clone();
        loops.spawn(async move {
            let mut outcome = Outcome::default();
            for round in 0.. {
                let index = next_index.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    break;
                }
                let sent = Instant::now();
                match workload.send(client, round, index).await {
                    Ok(()) => outcome.latencies.push(sent.elapsed()),
                    Err(error) => *outcome.errors.entry(error).or_default() += 1,
                }
            }
            outcome
        });
    }
    let mut outcome = Outcome::default();
    while let Some(joined) = loops.join_next().await {
        outcome.merge(joined.map_err(|e| anyhow::anyhow!("a benchmark client failed: {e}"))?);
    }
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Fails every third request and records what it was asked.
    struct Every3rdFails {
        seen: Mutex<Vec<(usize, u64, u64)>>,
    }

    impl Workload for Every3rdFails {
        async fn send(&self, client: usize, round: u64, index: u64) -> Result<(), String> {
            self.seen.lock().unwrap().push((client, round, index));
            tokio::task::yield_now().await;
            if index % 3 == 2 {
                Err("500 InternalError".into())
            } else {
                Ok(())
            }
        }
    }

    #[tokio::test]
    async fn sends_exactly_total_and_counts_failures() {
        let workload = Arc::new(Every3rdFails {
            seen: Mutex::new(Vec::new()),
        });
        let outcome = drive(workload.clone(), 4, 10).await.unwrap();
        assert_eq!(outcome.latencies.len(), 7);
        assert_eq!(outcome.errors["500 InternalError"], 3);
        let mut seen = workload.seen.lock().unwrap().clone();
        seen.sort_by_key(|&(_, _, index)| index);
        let indexes: Vec<u64> = seen.iter().map(|&(_, _, index)| index).collect();
        assert_eq!(indexes, (0..10).collect::<Vec<_>>());
        for client in 0..4 {
            let rounds: Vec<u64> = seen
                .iter()
                .filter(|&&(c, _, _)| c == client)
                .map(|&(_, round, _)| round)
                .collect();
            let mut sorted = rounds.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..rounds.len() as u64).collect::<Vec<_>>());
        }
    }
}
