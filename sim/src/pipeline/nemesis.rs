//! The pipeline's fault phase: one fault at a time, picked by the seed, held for a few
//! seconds and healed, then the end of the run: heal everything, let the clients finish,
//! and a final list that every "never stored" check can rely on.
//!
//! Faults on a webhook change its knobs and bounce its host (`WebhookHost`); crashes and
//! bounces go through the driver ([`Faults`]); partitions are turmoil's own.

use std::fmt;
use std::time::Duration;

use kubesim_webhooks::{FailureMode, Knobs, Latency};

use super::history::{ApiOp, ApiOutcome, ApiRecorder};
use super::hosts::{APISERVER, WebhookHost};
use super::http::ApiClient;
use super::workload::{NAMESPACE, Shared};
use crate::cluster::{Fault, Faults};
use crate::rng::SimRng;

/// Host name of the pipeline's nemesis.
pub const NEMESIS: &str = "pipeline-nemesis";

/// One fault of the menu.
#[derive(Debug, Clone, PartialEq)]
enum PipelineFault {
    /// A webhook answers after a delay drawn around its timeoutSeconds (`above`: every call
    /// past it; otherwise every call within it).
    SlowWebhook { webhook: usize, above: bool },
    /// A webhook's calls fail by `mode` at `rate`.
    BrokenWebhook {
        webhook: usize,
        mode: FailureMode,
        rate: f64,
    },
    /// A webhook's host dies.
    CrashWebhook(usize),
    /// The API server cannot reach a webhook.
    PartitionWebhook(usize),
    /// The API server cannot reach the store member it talks to (store-1): a write in
    /// admission when it starts finds no store when it ends.
    PartitionStore,
    /// A store member other than the API server's is cut off from the rest.
    IsolateMember(String),
    /// A store member crashes and comes back when healed.
    CrashMember(String),
    /// The API server restarts.
    BounceApiServer,
}

impl fmt::Display for PipelineFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The nemesis of one run.
pub struct PipelineNemesis {
    pub fault_phase: Duration,
    pub webhooks: Vec<WebhookHost>,
    /// Each webhook's timeoutSeconds, in the order of `webhooks`.
    pub webhook_timeouts: Vec<Duration>,
    pub members: Vec<String>,
    pub faults: Faults,
    pub recorder: ApiRecorder,
    pub shared: Shared,
    /// The administrator, for the final list.
    pub admin: ApiClient,
    pub seed: u64,
}

impl PipelineNemesis {
    pub async fn run(self) -> anyhow::Result<()> {
        let mut rng = SimRng::new(self.seed, 0x6e65_6d65);
        let bound = Duration::from_secs(120);
        let deadline = tokio::time::Instant::now() + bound;
        while !self.shared.ready() {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "the set-up did not finish within {bound:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.recorder.fault("fault phase begins");
        let end = tokio::time::Instant::now() + self.fault_phase;
        while tokio::time::Instant::now() < end {
            let fault = self.pick(&mut rng);
            self.recorder.fault(format!("inject {fault}"));
            self.inject(&fault, &mut rng);
            tokio::time::sleep(rng.millis(1_000, 4_000)).await;
            self.heal(&fault);
            self.recorder.fault(format!("heal {fault}"));
            tokio::time::sleep(rng.millis(500, 2_000)).await;
        }
        self.recorder.healed();
        // Clients see a healed system for a while, then stop; the last list is the
        // reference for what was stored.
        tokio::time::sleep(Duration::from_secs(3)).await;
        self.shared.stop();
        let stop_bound = tokio::time::Instant::now() + Duration::from_secs(60);
        while self.shared.running() > 0 && tokio::time::Instant::now() < stop_bound {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::ensure!(
            self.shared.running() == 0,
            "workload tasks still running 60 s after the stop"
        );
        self.final_list().await
    }

    fn pick(&self, rng: &mut SimRng) -> PipelineFault {
        let webhook = rng.below(self.webhooks.len() as u64) as usize;
        let others: Vec<String> = self.members.iter().skip(1).cloned().collect();
        let member = rng.pick(&others).cloned().unwrap_or_default();
        match rng.weighted(&[4, 2, 2, 2, 2, 1, 1, 2]) {
            // Mostly the Fail webhook: its timeouts are where a fail-open bug would show.
            0 => PipelineFault::SlowWebhook {
                webhook: usize::from(rng.chance(1.0 / 3.0)),
                above: rng.chance(0.6),
            },
            1 => {
                let modes = [
                    FailureMode::Error,
                    FailureMode::Garbage,
                    FailureMode::Close,
                    FailureMode::WrongUid,
                    FailureMode::Hang,
                ];
                PipelineFault::BrokenWebhook {
                    webhook,
                    mode: rng.pick(&modes).copied().unwrap_or_default(),
                    rate: [0.5, 1.0][rng.below(2) as usize],
                }
            }
            2 => PipelineFault::CrashWebhook(webhook),
            3 => PipelineFault::PartitionWebhook(webhook),
            4 => PipelineFault::PartitionStore,
            5 => PipelineFault::IsolateMember(member),
            6 => PipelineFault::CrashMember(member),
            _ => PipelineFault::BounceApiServer,
        }
    }

    fn inject(&self, fault: &PipelineFault, rng: &mut SimRng) {
        match fault {
            PipelineFault::SlowWebhook { webhook, above } => {
                let timeout = self.webhook_timeouts[*webhook];
                let latency = if *above {
                    Latency::Uniform {
                        low: timeout + Duration::from_millis(200),
                        high: timeout + Duration::from_secs(2),
                    }
                } else {
                    Latency::Uniform {
                        low: Duration::ZERO,
                        high: timeout.saturating_sub(Duration::from_millis(400)),
                    }
                };
                self.rebuild(
                    *webhook,
                    Knobs {
                        latency,
                        seed: rng.next_u64(),
                        ..Knobs::default()
                    },
                );
            }
            PipelineFault::BrokenWebhook {
                webhook,
                mode,
                rate,
            } => self.rebuild(
                *webhook,
                Knobs {
                    fail_rate: *rate,
                    failure_mode: *mode,
                    seed: rng.next_u64(),
                    ..Knobs::default()
                },
            ),
            PipelineFault::CrashWebhook(webhook) => self
                .faults
                .inject(Fault::CrashHost(self.webhooks[*webhook].host.clone())),
            PipelineFault::PartitionWebhook(webhook) => {
                turmoil::partition(APISERVER, self.webhooks[*webhook].host.as_str());
            }
            PipelineFault::PartitionStore => {
                if let Some(first) = self.members.first() {
                    turmoil::partition(APISERVER, first.as_str());
                }
            }
            PipelineFault::IsolateMember(member) => {
                for other in self.members.iter().filter(|m| *m != member) {
                    turmoil::partition(member.as_str(), other.as_str());
                }
            }
            PipelineFault::CrashMember(member) => self.faults.inject(Fault::Crash(member.clone())),
            PipelineFault::BounceApiServer => {
                self.faults.inject(Fault::BounceHost(APISERVER.to_owned()))
            }
        }
    }

    fn heal(&self, fault: &PipelineFault) {
        match fault {
            PipelineFault::SlowWebhook { webhook, .. }
            | PipelineFault::BrokenWebhook { webhook, .. } => {
                self.rebuild(*webhook, Knobs::default())
            }
            PipelineFault::CrashWebhook(webhook) => self
                .faults
                .inject(Fault::BounceHost(self.webhooks[*webhook].host.clone())),
            PipelineFault::PartitionWebhook(webhook) => {
                turmoil::repair(APISERVER, self.webhooks[*webhook].host.as_str());
            }
            PipelineFault::PartitionStore => {
                if let Some(first) = self.members.first() {
                    turmoil::repair(APISERVER, first.as_str());
                }
            }
            PipelineFault::IsolateMember(member) => {
                for other in self.members.iter().filter(|m| *m != member) {
                    turmoil::repair(member.as_str(), other.as_str());
                }
            }
            PipelineFault::CrashMember(member) => self.faults.inject(Fault::Bounce(member.clone())),
            PipelineFault::BounceApiServer => {}
        }
    }

    /// New knobs for a webhook, taken by restarting its host.
    fn rebuild(&self, webhook: usize, knobs: Knobs) {
        let host = &self.webhooks[webhook];
        host.set_knobs(knobs);
        self.faults.inject(Fault::BounceHost(host.host.clone()));
    }

    /// A consistent list after healing, recorded, retried until it succeeds (bounded).
    async fn final_list(&self) -> anyhow::Result<()> {
        let path = format!("/api/v1/namespaces/{NAMESPACE}/pods");
        for _ in 0..60 {
            let op = ApiOp::List {
                namespace: NAMESPACE.to_owned(),
            };
            let id = self.recorder.invoke(NEMESIS, &self.admin.user, op);
            match self
                .admin
                .call("GET", &path, "application/json", None)
                .await
            {
                Ok(reply) => {
                    let ok = reply.ok();
                    self.recorder.complete(id, super::workload::outcome(&reply));
                    if ok {
                        return Ok(());
                    }
                }
                Err(e) => self
                    .recorder
                    .complete(id, ApiOutcome::NoAnswer(format!("{e:#}"))),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        anyhow::bail!("liveness: no successful list within 60 attempts after healing")
    }
}
