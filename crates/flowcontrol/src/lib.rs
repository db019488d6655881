//! API Priority and Fairness (APF), as kube-apiserver does it
//! (`k8s.io/apiserver/pkg/util/flowcontrol`): every request that is not exempt is classified
//! by the FlowSchemas into a priority level and a flow, waits in one of its level's queues
//! (chosen by shuffle sharding from the flow), and runs when the level has free seats; fair
//! queuing picks which queue goes next so that one flooding flow cannot starve another.
//!
//! Map of the crate:
//!
//! | module | what it holds |
//! |---|---|
//! | [`config`] | FlowSchema and PriorityLevelConfiguration (`flowcontrol.apiserver.k8s.io/v1`) parsed into a [`config::Config`]; each level's concurrency limit from the server's |
//! | [`matching`] | which FlowSchema a request matches (precedence, then name) and its flow distinguisher |
//! | [`bootstrap`] | kube's mandatory and suggested objects (exempt, catch-all, workload-low, global-default, ...) |
//! | [`shuffle`] | shuffle sharding: a flow's hand of queues |
//! | [`queueset`] | one limited level: queues, seats, fair queuing, queue length and wait limits |
//! | [`controller`] | the whole: the current config, a queue set per level, admit a request or reject it |
//! | [`dump`] | the text of `/debug/api_priority_and_fairness/dump_{priority_levels,queues,requests}` |
//!
//! The API server classifies after authentication and impersonation (the user is known) and
//! before authorization, where kube-apiserver's `WithPriorityAndFairness` filter runs.
//! Time intervals use `tokio::time` (turmoil drives it in the simulation).

pub mod bootstrap;
pub mod config;
pub mod controller;
pub mod dump;
pub mod matching;
pub mod queueset;
pub mod shuffle;

use std::sync::Arc;

use kubesim_api::RequestInfo;
use kubesim_api::user::UserInfo;

pub use controller::{Controller, RejectReason, Rejection, Seat};

/// What APF knows of a request when it classifies it: kube's `RequestDigest`, the request
/// info and the user after impersonation (shared with the request, not copied for APF).
#[derive(Debug, Clone, Default)]
pub struct RequestDigest {
    pub info: RequestInfo,
    pub user: Arc<UserInfo>,
}

/// Which FlowSchema and priority level a request was put in: the names for logs and the
/// debug dumps, the uids for the `X-Kubernetes-PF-FlowSchema-UID` and
/// `X-Kubernetes-PF-PriorityLevel-UID` response headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classification {
    pub flow_schema: String,
    pub flow_schema_uid: String,
    pub priority_level: String,
    pub priority_level_uid: String,
    /// The flow within the level: the user name (`ByUser`), the namespace (`ByNamespace`),
    /// or empty (no distinguisher: one flow for the whole schema).
    pub flow_distinguisher: String,
}

/// How many seats a request occupies while it runs: kube's `WorkEstimate` (initial seats
/// only; kubesim does not model the final seats a mutating request holds for watchers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkEstimate {
    pub seats: u32,
}

impl Default for WorkEstimate {
    fn default() -> Self {
        WorkEstimate { seats: 1 }
    }
}

/// kube's `maximumSeats`: no request counts as more than this many seats.
pub const MAX_SEATS: u32 = 10;

impl WorkEstimate {
    /// kube's list work estimate: one seat per 100 objects the list may return (the count
    /// the watch cache holds for the resource, or `limit` when smaller), at least 1 and at
    /// most [`MAX_SEATS`].
    pub fn list(estimated_objects: u64, limit: Option<u64>) -> WorkEstimate {
        let count = limit.map_or(estimated_objects, |l| l.min(estimated_objects));
        let seats = count.div_ceil(100).clamp(1, u64::from(MAX_SEATS));
        WorkEstimate {
            seats: u32::try_from(seats).unwrap_or(MAX_SEATS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_estimates_one_seat_per_hundred_objects_within_bounds() {
        assert_eq!(WorkEstimate::list(0, None).seats, 1);
        assert_eq!(WorkEstimate::list(250, None).seats, 3);
        assert_eq!(WorkEstimate::list(10_000, None).seats, MAX_SEATS);
        assert_eq!(WorkEstimate::list(10_000, Some(50)).seats, 1);
    }
}
