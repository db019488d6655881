//! One member of kubesim's replicated store: openraft for consensus, an append-only Raft log
//! (WAL) and redb snapshots on disk, the [`kubesim_mvcc`] model as the state machine, and
//! etcd's v3 gRPC API in front.
//!
//! Map of the crate (a request from etcdctl goes top to bottom):
//! - [`etcd`]: the etcd v3 services (KV, Watch, Lease, Cluster, Maintenance) on the client URL.
//!   They check limits, then call the [`StoreHandle`].
//! - [`handle`]: [`StoreHandle`], the one API the services use: propose, read barrier, local
//!   reads, leases, membership, status.
//! - [`raft`]: everything openraft (type config, log store and its WAL, state machine, peer
//!   network, peer service). openraft is pre-1.0, so nothing outside this module names its types.
//! - [`node`]: [`StoreNode::start`] wires it together from a [`StoreConfig`] and an `Env`.
//! - [`config`]: flags with etcd's names, and every bound with its default.
//! - [`metrics`]: [`StoreMetrics`], etcd's Prometheus metrics for one member, and the
//!   `GET /metrics` server on `--listen-metrics-urls`.
//! - [`error`]: [`StoreError`] and its single conversion to `tonic::Status`.
//! - [`planted`]: [`PlantedBug`], known bugs that only tests switch on (feature `planted-bugs`).

pub mod config;
pub mod error;
pub mod etcd;
pub mod handle;
mod lessor;
mod members;
pub mod metrics;
pub mod node;
pub mod planted;
pub mod raft;

pub use config::{InitialClusterState, InitialMember, Limits, StoreConfig, Timing};
pub use error::StoreError;
pub use handle::{MemberStatus, Proposed, RaftProgress, StoreHandle};
pub use metrics::StoreMetrics;
pub use node::StoreNode;
pub use planted::PlantedBug;
