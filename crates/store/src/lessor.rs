//! Lease expiry. Which leases exist is replicated state (the MVCC lease table); *when* one
//! expires is decided by the leader alone, as in etcd's lessor.
//!
//! The leader keeps an expiry instant per lease. A lease it has not seen yet (just granted,
//! or this member just became leader) gets now + its TTL, like etcd's `Promote`. Every
//! [`CHECK_INTERVAL`] the leader proposes `Command::LeaseRevoke` for the expired ones, so every
//! member deletes the same keys at the same revision. A member that is not the leader forgets
//! all expiries: a later leadership starts them afresh.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use kubesim_mvcc::{Command, MvccError};
use tokio::time::Instant;

use crate::error::StoreError;
use crate::handle::StoreHandle;

/// How often the leader looks for expired leases (etcd checks every 500 ms).
pub(crate) const CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// Revocations proposed per check: a burst of expiries is spread over several checks instead
/// of flooding the log.
const MAX_REVOKES_PER_CHECK: usize = 64;

/// Expiry instants of the leases this member (as leader) is timing.
#[derive(Debug, Default)]
pub(crate) struct Lessor {
    expiry: Mutex<BTreeMap<i64, Instant>>,
}

fn deadline(now: Instant, ttl_seconds: i64) -> Instant {
    let ttl = Duration::from_secs(u64::try_from(ttl_seconds).unwrap_or(0));
    // A TTL too large to represent never expires in practice: a century will do.
    now.checked_add(ttl)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

impl Lessor {
    pub(crate) fn new() -> Lessor {
        Lessor::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, Instant>> {
        // Plain instants: a panic elsewhere cannot leave them inconsistent.
        self.expiry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A keep-alive: the lease lives `ttl_seconds` from now.
    pub(crate) fn renew(&self, id: i64, ttl_seconds: i64, now: Instant) {
        self.lock().insert(id, deadline(now, ttl_seconds));
    }

    /// Whole seconds left before the lease expires (never negative).
    pub(crate) fn remaining_seconds(&self, id: i64, ttl_seconds: i64, now: Instant) -> i64 {
        let at = *self
            .lock()
            .entry(id)
            .or_insert_with(|| deadline(now, ttl_seconds));
        i64::try_from(at.saturating_duration_since(now).as_secs()).unwrap_or(i64::MAX)
    }

    /// Forgets every expiry (this member stopped being the leader).
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// Brings the timers in line with `leases` (id, granted TTL) and returns the expired ones.
    pub(crate) fn expired(&self, leases: &[(i64, i64)], now: Instant) -> Vec<i64> {
        expired(&mut self.lock(), leases, now)
    }

    /// The lease was revoked (or is gone): stop timing it.
    pub(crate) fn forget(&self, id: i64) {
        self.lock().remove(&id);
    }
}

/// Pure core of [`Lessor::expired`].
fn expired(timers: &mut BTreeMap<i64, Instant>, leases: &[(i64, i64)], now: Instant) -> Vec<i64> {
    let live: BTreeMap<i64, i64> = leases.iter().copied().collect();
    timers.retain(|id, _| live.contains_key(id));
    for (id, ttl) in &live {
        timers.entry(*id).or_insert_with(|| deadline(now, *ttl));
    }
    timers
        .iter()
        .filter(|(_, at)| **at <= now)
        .map(|(id, _)| *id)
        .take(MAX_REVOKES_PER_CHECK)
        .collect()
}

/// The leader's expiry loop. Runs until `shutdown` changes.
pub(crate) async fn run_expiry(
    handle: StoreHandle,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(CHECK_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            _ = ticker.tick() => check_once(&handle).await,
        }
    }
}

async fn check_once(handle: &StoreHandle) {
    let lessor = handle.lessor();
    if !handle.is_leader() {
        lessor.clear();
        return;
    }
    let leases: Vec<(i64, i64)> =
        handle.with_mvcc(|m| m.leases().map(|l| (l.id, l.ttl_seconds)).collect());
    for id in lessor.expired(&leases, Instant::now()) {
        match handle.propose(Command::LeaseRevoke { id }).await {
            Ok(_) | Err(StoreError::Mvcc(MvccError::LeaseNotFound { .. })) => lessor.forget(id),
            // Still expired: the next check tries again.
            Err(e) => tracing::warn!(lease = id, error = %e, "revoking an expired lease failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unseen_leases_get_their_ttl_and_expire_after_it() {
        let now = Instant::now();
        let mut timers = BTreeMap::new();
        assert!(expired(&mut timers, &[(1, 5), (2, 10)], now).is_empty());
        let later = now + Duration::from_secs(6);
        assert_eq!(expired(&mut timers, &[(1, 5), (2, 10)], later), vec![1]);
        let much_later = now + Duration::from_secs(11);
        assert_eq!(
            expired(&mut timers, &[(1, 5), (2, 10)], much_later),
            vec![1, 2]
        );
    }

    #[test]
    fn revoked_leases_are_dropped_and_renewal_extends() {
        let now = Instant::now();
        let lessor = Lessor::new();
        assert!(lessor.expired(&[(1, 5), (2, 5)], now).is_empty());
        lessor.renew(2, 5, now + Duration::from_secs(4));
        let later = now + Duration::from_secs(6);
        // Lease 1 was revoked meanwhile (no longer in the table): nothing to expire for it.
        assert!(lessor.expired(&[(2, 5)], later).is_empty());
        assert_eq!(lessor.remaining_seconds(2, 5, later), 3);
        assert_eq!(
            lessor.expired(&[(2, 5)], now + Duration::from_secs(9)),
            vec![2]
        );
    }

    #[test]
    fn absurd_ttls_do_not_panic() {
        let now = Instant::now();
        let lessor = Lessor::new();
        lessor.renew(1, i64::MAX, now);
        lessor.renew(2, -5, now);
        assert!(lessor.remaining_seconds(1, i64::MAX, now) > 1_000_000);
        assert_eq!(lessor.expired(&[(1, i64::MAX), (2, -5)], now), vec![2]);
    }
}
