//! Randomness: member and lease IDs, jitter. Always from a seed, so a simulated run replays.

use std::sync::Mutex;

use rand::{RngCore, SeedableRng, rngs::StdRng};

pub trait Entropy: Send + Sync + 'static {
    fn next_u64(&self) -> u64;
}

/// A `StdRng` behind a mutex. The simulation builds it from the run's seed.
#[derive(Debug)]
pub struct SeededEntropy {
    rng: Mutex<StdRng>,
}

impl SeededEntropy {
    pub fn from_seed(seed: u64) -> Self {
        SeededEntropy {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// Production: a seed that differs between processes (time and pid mixed), which is all
    /// lease and member IDs need. Not for secrets.
    pub fn from_os() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Self::from_seed(nanos ^ (u64::from(std::process::id()) << 32))
    }
}

impl Entropy for SeededEntropy {
    fn next_u64(&self) -> u64 {
        // A poisoned lock means another thread panicked mid-draw; the RNG state is still valid.
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        rng.next_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let a = SeededEntropy::from_seed(7);
        let b = SeededEntropy::from_seed(7);
        let xs: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], xs[1]);
    }
}
