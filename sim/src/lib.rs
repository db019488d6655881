//! kubesim under turmoil: the only crate that knows turmoil.
//!
//! Production code talks to the world through `kubesim_net::Env`; this crate hands it a
//! simulated world instead and runs whole clusters in one thread, in simulated time, with
//! faults, reproducibly from a seed.
//!
//! Map of the crate:
//! - [`network`]: [`TurmoilNetwork`], `kubesim_net::Network` over `turmoil::net`.
//! - [`clock`]: [`SimClock`], wall-clock timestamps from simulated time and a fixed epoch.
//! - [`cluster`]: [`Cluster`], hosts `store-1..N` each running a `StoreNode` on its own
//!   `MemDisk`, client hosts, and the crash/restart faults clients ask for.
//! - [`client`]: etcd v3 clients for client hosts, and a bounded retry loop.
//! - [`trace`]: [`Trace`], the client-visible history of a run and its hash.
//!
//! Determinism: the seed drives turmoil (latency, loss), each member's entropy, and, when
//! built with `--cfg tokio_unstable` (set in the workspace's `.cargo/config.toml`), the RNG
//! of every host's tokio runtime (`select!` branch order, `watch` wake order).

pub mod check;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod history;
pub mod nemesis;
pub mod network;
pub mod rng;
pub mod run;
pub mod trace;
pub mod workload;

pub use clock::SimClock;
pub use cluster::{Cluster, ClusterConfig, Fault, Faults};
pub use network::TurmoilNetwork;
pub use trace::Trace;

/// The seed of a test run: `KUBESIM_SEED` if set (to replay a failure), else `default`.
pub fn seed_from_env(default: u64) -> u64 {
    std::env::var("KUBESIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
