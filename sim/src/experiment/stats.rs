//! What a point measured, over all its seeds: nearest-rank percentiles (as the benchmark's
//! report computes them, `crates/kubesim/src/bench/report.rs`) of every latency, end to end
//! and per stage, and the share of each outcome; and the same per time bucket, for plots of
//! a fault's effect over the run.
//!
//! End-to-end percentiles count every request sent, whatever its outcome: a request that
//! timed out after 10 s is 10 s a user waited. A paced client's skipped request was never
//! sent and has no latency, so it counts in the outcomes only. Stage percentiles count the
//! requests that reached the stage.

use std::collections::BTreeMap;
use std::time::Duration;

use super::point::{Outcome, RequestRecord, ms_f64};
use super::sweep::{Metric, Quantile, Rate};

/// The most time buckets an over-time series has; later requests fall in the last one.
pub const MAX_BUCKETS: usize = 10_000;

/// The nearest-rank percentile of sorted values: the smallest value that at least `p`% of
/// them do not exceed. `None` when there is none.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    Some(sorted[index])
}

/// p50, p90 and p99 of some latencies, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Latencies {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
}

impl Latencies {
    /// Sorts `values` in place and reads the percentiles.
    pub fn of(values: &mut [Duration]) -> Latencies {
        values.sort_unstable();
        let ms = |p| percentile(values, p).map_or(0.0, ms_f64);
        Latencies {
            count: values.len() as u64,
            p50_ms: ms(50.0),
            p90_ms: ms(90.0),
            p99_ms: ms(99.0),
        }
    }

    pub fn get(&self, q: Quantile) -> f64 {
        match q {
            Quantile::P50 => self.p50_ms,
            Quantile::P90 => self.p90_ms,
            Quantile::P99 => self.p99_ms,
        }
    }
}

/// Requests by how they ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcomes {
    pub ok: u64,
    pub denied: u64,
    pub timeout: u64,
    pub error: u64,
    /// Never sent: a paced client's bound on requests in flight was hit.
    pub skipped: u64,
    /// Every outcome but `ok`, by [`Outcome::key`] (`403`, `500`, `timeout`, `no-answer`,
    /// `skipped`).
    pub by_code: BTreeMap<String, u64>,
}

impl Outcomes {
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Denied { .. } => self.denied += 1,
            Outcome::Timeout => self.timeout += 1,
            Outcome::Error { .. } => self.error += 1,
            Outcome::Skipped => self.skipped += 1,
        }
        if *outcome != Outcome::Ok {
            *self.by_code.entry(outcome.key()).or_default() += 1;
        }
    }

    pub fn total(&self) -> u64 {
        self.ok + self.denied + self.timeout + self.error + self.skipped
    }

    /// A share from 0 to 1; 0 when there were no requests.
    pub fn rate(&self, rate: Rate) -> f64 {
        let count = match rate {
            Rate::Success => self.ok,
            Rate::Denial => self.denied,
            Rate::Timeout => self.timeout,
            Rate::Error => self.error,
            Rate::Failure => self.timeout + self.error,
            Rate::Skipped => self.skipped,
        };
        match self.total() {
            0 => 0.0,
            total => count as f64 / total as f64,
        }
    }

    /// `500x12 timeout x3`-style summary, in key order.
    pub fn codes_text(&self) -> String {
        let parts: Vec<String> = self
            .by_code
            .iter()
            .map(|(code, n)| format!("{code}x{n}"))
            .collect();
        parts.join(" ")
    }
}

/// Everything the reports say about a set of requests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub e2e: Latencies,
    /// By stage name, in name order.
    pub stages: BTreeMap<String, Latencies>,
    pub outcomes: Outcomes,
}

impl Stats {
    pub fn of<'a>(records: impl IntoIterator<Item = &'a RequestRecord>) -> Stats {
        let mut e2e = Vec::new();
        let mut stages: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
        let mut outcomes = Outcomes::default();
        for record in records {
            if record.outcome != Outcome::Skipped {
                e2e.push(record.latency);
            }
            for (stage, latency) in &record.stages {
                stages.entry(stage).or_default().push(*latency);
            }
            outcomes.add(&record.outcome);
        }
        Stats {
            e2e: Latencies::of(&mut e2e),
            stages: stages
                .into_iter()
                .map(|(stage, mut values)| (stage.to_string(), Latencies::of(&mut values)))
                .collect(),
            outcomes,
        }
    }

    /// The value of `metric` (ms, or a share from 0 to 1); `None` for a stage no request
    /// reached.
    pub fn metric(&self, metric: &Metric) -> Option<f64> {
        match metric {
            Metric::Latency { stage: None, q } => (self.e2e.count > 0).then(|| self.e2e.get(*q)),
            Metric::Latency { stage: Some(s), q } => self.stages.get(s).map(|l| l.get(*q)),
            Metric::Rate(rate) => (self.outcomes.total() > 0).then(|| self.outcomes.rate(*rate)),
        }
    }
}

/// One time bucket of a point's run, by request start.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub start: Duration,
    pub stats: Stats,
}

/// The point's requests in buckets of `width` by start time, from 0 to the last request;
/// empty buckets are kept (with no requests), so the series has no gaps in time.
pub fn over_time(records: &[RequestRecord], width: Duration) -> Vec<Bucket> {
    let Some(last) = records.iter().map(|r| r.start).max() else {
        return Vec::new();
    };
    let width_ns = width.as_nanos().max(1);
    let index = |start: Duration| ((start.as_nanos() / width_ns) as usize).min(MAX_BUCKETS - 1);
    let mut buckets: Vec<Vec<&RequestRecord>> = vec![Vec::new(); index(last) + 1];
    for record in records {
        buckets[index(record.start)].push(record);
    }
    buckets
        .into_iter()
        .enumerate()
        .map(|(i, records)| Bucket {
            start: width.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX)),
            stats: Stats::of(records),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: impl IntoIterator<Item = u64>) -> Vec<Duration> {
        values.into_iter().map(Duration::from_millis).collect()
    }

    fn record(start_ms: u64, latency_ms: u64, outcome: Outcome) -> RequestRecord {
        RequestRecord {
            start: Duration::from_millis(start_ms),
            latency: Duration::from_millis(latency_ms),
            stages: BTreeMap::from([("admission".to_string(), Duration::from_millis(1))]),
            outcome,
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted = ms(1..=100);
        assert_eq!(percentile(&sorted, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&sorted, 90.0), Some(Duration::from_millis(90)));
        assert_eq!(percentile(&sorted, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&sorted, 100.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&sorted, 0.0), Some(Duration::from_millis(1)));
        // Ten values: p99 is the largest, p50 the fifth.
        let ten = ms([5, 1, 9, 3, 7, 2, 8, 4, 10, 6]);
        let l = Latencies::of(&mut ten.clone());
        assert_eq!(
            (l.count, l.p50_ms, l.p90_ms, l.p99_ms),
            (10, 5.0, 9.0, 10.0)
        );
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(Latencies::of(&mut []), Latencies::default());
    }

    #[test]
    fn rates_and_codes() {
        let records = [
            record(0, 10, Outcome::Ok),
            record(0, 20, Outcome::Ok),
            record(0, 30, Outcome::Denied { code: 403 }),
            record(0, 40, Outcome::Timeout),
            record(0, 50, Outcome::Error { code: Some(500) }),
            record(0, 60, Outcome::Error { code: None }),
        ];
        let stats = Stats::of(&records);
        let o = &stats.outcomes;
        assert_eq!(
            (o.ok, o.denied, o.timeout, o.error, o.total()),
            (2, 1, 1, 2, 6)
        );
        assert_eq!(o.rate(Rate::Success), 2.0 / 6.0);
        assert_eq!(o.rate(Rate::Failure), 3.0 / 6.0);
        assert_eq!(o.codes_text(), "403x1 500x1 no-answerx1 timeoutx1");
        assert_eq!(stats.e2e.p50_ms, 30.0);
        assert_eq!(stats.e2e.p99_ms, 60.0);
        assert_eq!(stats.stages["admission"].count, 6);
        let missing = Metric::Latency {
            stage: Some("storage".into()),
            q: Quantile::P99,
        };
        assert_eq!(stats.metric(&missing), None);
        assert_eq!(Stats::of(&[]).metric(&Metric::Rate(Rate::Error)), None);
    }

    #[test]
    fn skipped_requests_count_as_outcomes_not_latencies() {
        let skipped = RequestRecord {
            start: Duration::from_millis(5),
            latency: Duration::ZERO,
            stages: BTreeMap::new(),
            outcome: Outcome::Skipped,
        };
        let records = [
            record(0, 10, Outcome::Ok),
            record(0, 20, Outcome::Error { code: Some(500) }),
            skipped.clone(),
            skipped,
        ];
        let stats = Stats::of(&records);
        let o = &stats.outcomes;
        assert_eq!((o.ok, o.error, o.skipped, o.total()), (1, 1, 2, 4));
        assert_eq!(o.rate(Rate::Skipped), 0.5);
        assert_eq!(o.rate(Rate::Failure), 0.25);
        assert_eq!(o.codes_text(), "500x1 skippedx2");
        // The two sent requests only: a skipped one's zero latency would pull p50 down.
        assert_eq!(stats.e2e.count, 2);
        assert_eq!(stats.e2e.p50_ms, 10.0);
    }

    #[test]
    fn buckets_by_start_keep_empty_ones() {
        let records = [
            record(100, 1, Outcome::Ok),
            record(2_500, 1, Outcome::Timeout),
            record(2_900, 1, Outcome::Ok),
        ];
        let buckets = over_time(&records, Duration::from_secs(1));
        let counts: Vec<u64> = buckets.iter().map(|b| b.stats.outcomes.total()).collect();
        assert_eq!(counts, [1, 0, 2]);
        assert_eq!(buckets[2].start, Duration::from_secs(2));
        assert_eq!(buckets[2].stats.outcomes.rate(Rate::Timeout), 0.5);
        assert!(over_time(&[], Duration::from_secs(1)).is_empty());
        // A start far past the run is folded into the last bucket, not allocated up to.
        let far = [record(u64::MAX / 4, 1, Outcome::Ok)];
        assert_eq!(over_time(&far, Duration::from_nanos(1)).len(), MAX_BUCKETS);
    }
}
