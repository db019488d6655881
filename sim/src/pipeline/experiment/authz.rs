//! The `authz` host of an experiment with `authorization: webhook`: the pipeline's one
//! authz host (`crate::pipeline::authz`), each answer held back by a seeded draw of the
//! point's `authz_webhook_latency` for the whole run; and the kubeconfig that points the API
//! server's Webhook authorizer at it.

use std::time::Duration;

use super::knobs_latency;
use crate::cluster::Cluster;
use crate::experiment::point::LatencyDist;
use crate::pipeline::authz::AuthzHost;

pub use crate::pipeline::authz::{AUTHZ, kubeconfig};

/// Adds the `authz` host; its RBAC reads the store's members, as `kubesim authz` does.
pub fn add(
    cluster: &mut Cluster,
    members: &[String],
    latency: LatencyDist,
    seed: u64,
    epoch: Duration,
) {
    let host = AuthzHost::new(members, seed, epoch);
    // The same seeded draw as a webhook's knobs: one RNG, one draw per call in call order.
    host.set_latency(knobs_latency(latency), seed ^ 0xa072_1a7e);
    host.add(cluster);
}
