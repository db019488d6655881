//! [`SimClock`]: wall-clock timestamps in simulated time.
//!
//! Every simulated host reads the same clock: a fixed epoch plus the time the simulation has
//! run. A fixed epoch (not "now") keeps timestamps, and everything derived from them, the
//! same from one run of a seed to the next.

use std::time::Duration;

use kubesim_net::Clock;

/// 2024-01-01T00:00:00Z: where simulated time starts, unless a test says otherwise.
pub const DEFAULT_EPOCH: Duration = Duration::from_secs(1_704_067_200);

#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    /// Time since the Unix epoch at which the simulation starts.
    epoch: Duration,
}

impl SimClock {
    pub fn new(epoch: Duration) -> Self {
        SimClock { epoch }
    }
}

impl Default for SimClock {
    fn default() -> Self {
        SimClock::new(DEFAULT_EPOCH)
    }
}

impl Clock for SimClock {
    fn now_since_epoch(&self) -> Duration {
        // Outside a running simulation (a destructor after the run) the clock stands at the
        // epoch rather than reading the real clock.
        self.epoch + turmoil::sim_elapsed().unwrap_or_default()
    }
}
