//! Wall-clock timestamps (creationTimestamp, JWT `exp`/`nbf`, log lines).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + 'static {
    /// Time since the Unix epoch.
    fn now_since_epoch(&self) -> Duration;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_since_epoch(&self) -> Duration {
        // A clock set before 1970 is a broken machine, not an input; report it as the epoch.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }
}
