//! kubesim under turmoil: the only crate that knows turmoil.
//!
//! Production code talks to the world through `kubesim_net::Env`; this crate hands it a
//! simulated world instead and runs whole clusters in one thread, in simulated time, with
//! faults, reproducibly from a seed.
//!
//! Map of the crate, in the order a run uses it (`run::run`; ARCHITECTURE.md follows one):
//! - [`run`]: one seeded run — cluster, workload, nemesis, checkers — and its report.
//! - [`cluster`]: [`Cluster`], hosts `store-1..N` each running a `StoreNode` on its own
//!   `MemDisk`, client hosts, the [`cluster::Members`] registry, and the faults only the
//!   driver can apply (crash, power cut, restart, wipe, link latency and loss).
//! - [`network`]: [`TurmoilNetwork`], `kubesim_net::Network` over `turmoil::net`.
//! - [`clock`]: [`SimClock`], wall-clock timestamps from simulated time and a fixed epoch.
//! - [`workload`]: KV clients and watchers that record every call in the history.
//! - [`nemesis`]: the fault phase, healing, liveness, and collecting each member's state.
//! - [`history`]: [`history::History`], what a run recorded; the checkers read only this.
//! - [`check`]: one checker per property of RELIABILITY.md.
//! - [`rng`]: the workload's and nemesis' deterministic random source.
//! - [`client`]: simple etcd clients with a bounded retry loop, for hand-written tests.
//! - [`trace`]: [`Trace`], a client-visible log for hand-written tests, and the FNV hash.
//! - [`pipeline`]: the whole pipeline (API server, webhooks, clients with certificates,
//!   watchers) over the same cluster, with its own nemesis and history, checked by
//!   [`check::api`] (properties 9 to 12).
//! - [`experiment`]: sweeps of parameters (webhook latency, timeoutSeconds, failurePolicy,
//!   chained webhooks, store partitions, clients), several seeds a point, tables and plots.
//!
//! The binary (`src/main.rs`, `kubesim-sim run`) runs each seed in a fresh process.
//!
//! Determinism: the seed drives turmoil (latency, loss), each member's entropy, and, when
//! built with `--cfg tokio_unstable` (set in the workspace's `.cargo/config.toml`), the RNG
//! of every host's tokio runtime (`select!` branch order, `watch` wake order).

// The API server's connection future (`kubesim_apiserver::server`), laid out here because the
// pipeline runs it on a turmoil host, nests deeper than rustc's default query depth allows.
#![recursion_limit = "256"]

pub mod check;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod experiment;
pub mod history;
pub mod nemesis;
pub mod network;
pub mod pipeline;
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
