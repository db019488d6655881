//! Paced (open-loop) clients, shared by both point runners: a client sends on a fixed
//! schedule whatever the server answers, so a server that fails fast is not flooded (a
//! closed-loop client would send its next request at once) and a slow one is not spared.
//!
//! Map of the file:
//! - [`phases`]: each client's first send, drawn from the seed, so clients do not all send
//!   in the same instant and a seed replays the same schedule.
//! - [`schedule`]: one client's send times, every `1 / rate` from its phase.
//! - [`run_paced`]: sends at those times through a runner's `send`, at most `max_in_flight`
//!   at once; a send due while the bound is hit becomes an [`Outcome::Skipped`] record.
//!
//! Time is tokio's: the simulated clock under turmoil, the real one against processes.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use tokio::time::Instant;

use super::point::{Outcome, RequestRecord};
use crate::rng::SimRng;

/// The stream of [`SimRng`] the phases are drawn from (any constant other draws do not use).
const PHASE_STREAM: u64 = 0x9ace_d000;

/// The time between two sends of a client sending `per_second` requests a second.
pub fn interval(per_second: u32) -> Duration {
    Duration::from_secs(1) / per_second.max(1)
}

/// Each of `clients` clients' first send, from the clients' start: uniform below one
/// interval, whole microseconds, from `seed`.
pub fn phases(seed: u64, clients: u32, per_second: u32) -> Vec<Duration> {
    let mut rng = SimRng::new(seed, PHASE_STREAM);
    let interval_us = u64::try_from(interval(per_second).as_micros()).unwrap_or(u64::MAX);
    (0..clients)
        .map(|_| Duration::from_micros(rng.below(interval_us)))
        .collect()
}

/// A client's send times from the clients' start: `phase`, then every `1 / per_second`,
/// those before `duration`, at most `max_sends` of them.
pub fn schedule(
    per_second: u32,
    phase: Duration,
    duration: Duration,
    max_sends: usize,
) -> impl Iterator<Item = Duration> {
    let step = interval(per_second);
    (0u32..)
        .map(move |n| phase.saturating_add(step.saturating_mul(n)))
        .take_while(move |at| *at < duration)
        .take(max_sends)
}

/// The record of a send skipped at `at` (from the clients' start).
pub fn skipped(at: Duration) -> RequestRecord {
    RequestRecord {
        start: at,
        latency: Duration::ZERO,
        stages: BTreeMap::new(),
        outcome: Outcome::Skipped,
    }
}

/// Sends at each of `times` (from `start`) with `send(n)`, the `n`th send of this client,
/// unless `max_in_flight` sends are still outstanding: then that send is skipped and
/// recorded so. Returns when every send is answered (each `send` bounds its own wait), with
/// the records in the order they completed.
pub async fn run_paced<S, F>(
    times: impl Iterator<Item = Duration>,
    start: Instant,
    max_in_flight: usize,
    mut send: S,
) -> Vec<RequestRecord>
where
    S: FnMut(u64) -> F,
    F: Future<Output = RequestRecord>,
{
    let mut in_flight = FuturesUnordered::new();
    let mut records = Vec::new();
    for (n, at) in (0u64..).zip(times) {
        let due = start + at;
        // Collect the answers that come before the next send is due.
        while !in_flight.is_empty() {
            tokio::select! {
                // An answer in the same instant frees its slot first.
                biased;
                Some(record) = in_flight.next() => records.push(record),
                () = tokio::time::sleep_until(due) => break,
            }
        }
        tokio::time::sleep_until(due).await;
        if in_flight.len() >= max_in_flight {
            records.push(skipped(at));
        } else {
            in_flight.push(send(n));
        }
    }
    while let Some(record) = in_flight.next().await {
        records.push(record);
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn schedule_is_every_interval_from_the_phase() {
        let times: Vec<Duration> = schedule(4, ms(100), Duration::from_secs(1), 100).collect();
        assert_eq!(times, [ms(100), ms(350), ms(600), ms(850)]);
        assert_eq!(schedule(1000, ms(0), Duration::from_secs(60), 7).count(), 7);
        assert_eq!(schedule(10, ms(0), ms(0), 100).count(), 0);
    }

    #[test]
    fn phases_are_below_one_interval_and_follow_the_seed() {
        let a = phases(7, 50, 20);
        assert_eq!(a.len(), 50);
        assert!(a.iter().all(|p| *p < ms(50)), "{a:?}");
        assert_eq!(a, phases(7, 50, 20));
        assert_ne!(a, phases(8, 50, 20));
        // Spread out, not all in one instant.
        let mut distinct = a.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 40, "{distinct:?}");
    }

    /// A current-thread runtime with the real clock: short sleeps, so the test is quick.
    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
            .block_on(future)
    }

    #[test]
    fn a_slow_server_gets_its_sends_skipped_not_queued() {
        // Ten sends 10 ms apart to a server that takes 45 ms: with two in flight, every
        // send that finds two outstanding is skipped; none waits for a slot.
        let records = block_on(async {
            let start = Instant::now();
            let times = schedule(100, Duration::ZERO, ms(100), 100);
            run_paced(times, start, 2, |_| async move {
                let sent = Instant::now();
                tokio::time::sleep(ms(45)).await;
                RequestRecord {
                    start: sent - start,
                    latency: sent.elapsed(),
                    stages: BTreeMap::new(),
                    outcome: Outcome::Ok,
                }
            })
            .await
        });
        assert_eq!(records.len(), 10);
        let sent = records.iter().filter(|r| r.outcome == Outcome::Ok).count();
        let skipped = records.len() - sent;
        // Sends at 0 and 10 ms fill both slots until 45 and 55 ms; so at most about one
        // send in four goes through.
        assert!((2..=4).contains(&sent), "{records:?}");
        assert_eq!(skipped, 10 - sent);
        assert!(records.iter().all(|r| r.start < ms(100)));
    }

    #[test]
    fn a_fast_server_gets_every_send() {
        let records = block_on(async {
            let start = Instant::now();
            let times = schedule(200, Duration::ZERO, ms(50), 100);
            run_paced(times, start, 1, |n| async move {
                RequestRecord {
                    start: ms(5 * n),
                    latency: Duration::ZERO,
                    stages: BTreeMap::new(),
                    outcome: Outcome::Ok,
                }
            })
            .await
        });
        // One in flight is enough: each answer comes before the next send is due.
        let starts: Vec<Duration> = records.iter().map(|r| r.start).collect();
        assert_eq!(starts, (0..10).map(|n| ms(5 * n)).collect::<Vec<_>>());
        assert!(records.iter().all(|r| r.outcome == Outcome::Ok));
    }
}
