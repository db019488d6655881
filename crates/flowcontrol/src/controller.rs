//! The whole of APF: the current [`Config`], one queue set per limited level, and
//! [`Controller::admit`], which classifies a request and holds it until it may run.
//!
//! CONTRACT (the lead's skeleton; the queueing helper fills it in). The API server calls:
//! `Controller::new(server_concurrency_limit)`, `apply(config)` whenever the stored objects
//! change (queue sets of levels whose limits did not change keep their queues and waiting
//! requests), `admit(...)` for each request, and the dump functions for the debug endpoints.

use std::time::Duration;

use crate::config::Config;
use crate::{Classification, RequestDigest, WorkEstimate};

/// kube-apiserver's APF. Shared by every request (`Arc<Controller>`).
#[derive(Debug)]
pub struct Controller {
    server_concurrency_limit: u32,
}

/// A request admitted to run: its seats are held until this is dropped.
#[derive(Debug)]
pub struct Seat {
    pub classification: Classification,
    /// How long the request waited in its queue.
    pub waited: Duration,
}

/// A request APF refused: answered 429 with `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub classification: Classification,
    pub reason: RejectReason,
}

/// kube's `reason` label of `apiserver_flowcontrol_rejected_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The level rejects (`limitResponse.type: Reject`) and has no free seats.
    ConcurrencyLimit,
    /// The chosen queue was at `queueLengthLimit`.
    QueueFull,
    /// Waited past the wait limit without getting seats.
    TimeOut,
    /// The level went away (config change) while the request waited.
    Cancelled,
}

impl RejectReason {
    /// kube's label value: `concurrency-limit`, `queue-full`, `time-out`, `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::ConcurrencyLimit => "concurrency-limit",
            RejectReason::QueueFull => "queue-full",
            RejectReason::TimeOut => "time-out",
            RejectReason::Cancelled => "cancelled",
        }
    }
}

impl Controller {
    /// A controller with kube's mandatory configuration until [`Controller::apply`] is
    /// called; `server_concurrency_limit` is `--max-requests-inflight` plus
    /// `--max-mutating-requests-inflight`.
    pub fn new(server_concurrency_limit: u32) -> Controller {
        Controller {
            server_concurrency_limit,
        }
    }

    /// Takes a new configuration.
    pub fn apply(&self, config: Config) {
        let _ = (config, self.server_concurrency_limit);
    }

    /// Classifies the request and waits (at most `wait_limit`) for its seats. Exempt
    /// requests get a seat at once.
    pub async fn admit(
        &self,
        digest: &RequestDigest,
        work: WorkEstimate,
        wait_limit: Duration,
    ) -> Result<Seat, Rejection> {
        let _ = (digest, work, wait_limit);
        Ok(Seat {
            classification: Classification::default(),
            waited: Duration::ZERO,
        })
    }
}
