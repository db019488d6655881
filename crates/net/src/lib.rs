//! The seam: everything kubesim needs from the outside world, behind one handle.
//!
//! Production code never calls `tokio::net`, `SystemTime::now()`, an unseeded RNG or the file
//! system directly. It asks an [`Env`] instead, and the simulation (`sim/`) hands it an `Env`
//! whose parts are turmoil's network, turmoil's clock, a seeded RNG and a simulated disk.
//!
//! | module | what it abstracts | production | simulation |
//! |---|---|---|---|
//! | [`network`] | listeners, connections, gRPC channels | `tokio::net` | `turmoil::net` (in `sim/`) |
//! | [`coalesce`] | many HTTP/2 frames in one socket write (a writer task per connection) | over either network | the same |
//! | [`clock`] | wall-clock timestamps | `SystemTime` | turmoil's sim time |
//! | [`entropy`] | IDs, jitter | seeded once from the OS | seeded from the run's seed |
//! | [`disk`] | redb databases, plain files | files in a data dir | [`disk::MemDisk`], survives a crash, loses what was not synced |
//!
//! [`ports`] is not part of the seam: it picks loopback ports for tests that start real
//! servers on addresses fixed in advance.
//!
//! Time *intervals* (timeouts, sleeps, TTLs) use `tokio::time`, which turmoil drives; only
//! wall-clock *timestamps* go through [`clock`].

pub mod clock;
pub mod coalesce;
pub mod disk;
pub mod entropy;
pub mod network;
pub mod ports;

use std::sync::Arc;

pub use clock::{Clock, SystemClock};
pub use disk::{DirDisk, Disk, File, MemDisk};
pub use entropy::{Entropy, SeededEntropy};
pub use network::{Network, TokioNetwork};

/// The world as one actor sees it. Cheap to clone; every actor gets one at start-up.
#[derive(Clone)]
pub struct Env {
    pub net: Arc<dyn Network>,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    pub disk: Arc<dyn Disk>,
}

impl Env {
    /// The real world: tokio sockets, the system clock, OS-seeded randomness, files under
    /// `data_dir`.
    pub fn production(data_dir: impl Into<std::path::PathBuf>) -> Self {
        Env {
            net: Arc::new(TokioNetwork),
            clock: Arc::new(SystemClock),
            entropy: Arc::new(SeededEntropy::from_os()),
            disk: Arc::new(DirDisk::new(data_dir)),
        }
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").finish_non_exhaustive()
    }
}
