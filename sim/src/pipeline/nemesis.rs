//! The pipeline's fault phase: one fault at a time, picked by the seed, held for a few
//! seconds and healed, then the end of the run: heal everything, let the clients finish,
//! and a final list that every "never stored" check can rely on.
//!
//! Faults on a webhook change its knobs and bounce its host (`WebhookHost`); a slow authz
//! service changes its latency while it serves, a dead one is restarted without a listener
//! or crashed (`AuthzHost`); crashes and bounces go through the driver ([`Faults`]);
//! partitions are turmoil's own.
//!
//! Compaction, as kube-apiserver's compactor does it: after each fault is healed the
//! nemesis compacts the store at the revision it saw after the fault before (one interval
//! behind, as the compactor compacts at the revision of its previous tick). The API server
//! serves watches from its watch cache, which a compaction only reaches when the cache's own
//! etcd watch must resume from a compacted revision; [`PipelineFault::CompactBehindCache`]
//! makes that happen (the cache relists and ends every watch with 410, so property 12's
//! "or gets 410 and relists" is exercised). Each compaction is recorded as
//! [`compaction_record`], which the checkers read.

use std::fmt;
use std::time::Duration;

use kubesim_proto::etcdserverpb::{CompactionRequest, PutRequest};
use kubesim_webhooks::{FailureMode, Knobs, Latency};

use super::authz::{AUTHZ, AuthzHost};
use super::history::{
    APISERVER_RESTART, ApiOp, ApiOutcome, ApiRecorder, client_partition, compaction_record,
};
use super::hosts::{APISERVER, WebhookHost};
use super::http::ApiClient;
use super::workload::{NAMESPACE, Shared};
use crate::cluster::{Fault, Faults};
use crate::rng::SimRng;

/// Host name of the pipeline's nemesis.
pub const NEMESIS: &str = "pipeline-nemesis";

/// The key the nemesis writes so the store's revision moves while the API server is cut
/// off from it: outside `/registry`, so no watch cache sees it.
const NEMESIS_KEY: &str = "/sim/nemesis/revision";
/// Bound of each etcd call of the nemesis.
const ETCD_CALL_BOUND: Duration = Duration::from_secs(5);
/// How long [`PipelineFault::CompactBehindCache`] holds the partition at least: past the
/// API server's etcd keepalive (PING every 2 s, dropped after 2 s unanswered,
/// `kubesim_net::network::ChannelConfig`), so the cache's etcd watch surely breaks.
const COMPACT_BEHIND_CACHE_HOLD: Duration = Duration::from_secs(6);

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
    /// A client host is cut off from the API server: its calls go unanswered until its own
    /// timeout, which property 11 must then excuse.
    PartitionClient(String),
    /// The API server is cut off from its store member past the etcd keepalive, the store
    /// moves on (a write by the nemesis) and is compacted at its new revision: when healed,
    /// the watch cache's etcd watch resumes from a compacted revision.
    CompactBehindCache,
    /// The authz service answers after a delay drawn around the API server's authz timeout
    /// (`above`: every call past it, so every request is refused; otherwise within it, so
    /// requests are slow but decided).
    SlowAuthz { above: bool },
    /// The authz service is down: its host restarted without a listener (connections
    /// refused at once), or crashed (`crashed`: connections hang until the authorizer's
    /// timeout). Healed by a restart that serves.
    DeadAuthz { crashed: bool },
    /// The API server cannot reach the authz service.
    PartitionAuthz,
}

impl fmt::Display for PipelineFault {
    // The faults that excuse an unanswered call are named as the checkers look for them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipelineFault::BounceApiServer => f.write_str(APISERVER_RESTART),
            PipelineFault::PartitionClient(client) => f.write_str(&client_partition(client)),
            _ => fmt::Debug::fmt(self, f),
        }
    }
}

/// The nemesis of one run.
pub struct PipelineNemesis {
    pub fault_phase: Duration,
    pub webhooks: Vec<WebhookHost>,
    /// Each webhook's timeoutSeconds, in the order of `webhooks`.
    pub webhook_timeouts: Vec<Duration>,
    pub authz: AuthzHost,
    /// The API server's bound on one authz call.
    pub authz_timeout: Duration,
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
        // The revision seen at the previous tick: the next compaction's target.
        let mut previous_tick = None;
        while tokio::time::Instant::now() < end {
            let fault = self.pick(&mut rng);
            self.recorder.fault(format!("inject {fault}"));
            self.inject(&fault, &mut rng);
            if fault == PipelineFault::CompactBehindCache {
                if self.compact_behind_cache(&mut rng).await {
                    // Already compacted past the previous tick: compacting there would fail.
                    previous_tick = None;
                }
            } else {
                tokio::time::sleep(rng.millis(1_000, 4_000)).await;
            }
            self.heal(&fault);
            self.recorder.fault(format!("heal {fault}"));
            previous_tick = self.compactor_tick(previous_tick).await;
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
        self.recorder.fault(self.recorder.history().watch_summary());
        self.final_list().await
    }

    fn pick(&self, rng: &mut SimRng) -> PipelineFault {
        let webhook = rng.below(self.webhooks.len() as u64) as usize;
        let others: Vec<String> = self.members.iter().skip(1).cloned().collect();
        let member = rng.pick(&others).cloned().unwrap_or_default();
        let clients = self.shared.clients();
        let client = rng.pick(&clients).cloned().unwrap_or_default();
        match rng.weighted(&[4, 2, 2, 2, 2, 1, 1, 2, 1, 2, 2, 2, 1]) {
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
            7 => PipelineFault::BounceApiServer,
            8 if !client.is_empty() => PipelineFault::PartitionClient(client),
            10 => PipelineFault::SlowAuthz {
                above: rng.chance(0.6),
            },
            11 => PipelineFault::DeadAuthz {
                crashed: rng.chance(0.5),
            },
            12 => PipelineFault::PartitionAuthz,
            _ => PipelineFault::CompactBehindCache,
        }
    }

    fn inject(&self, fault: &PipelineFault, rng: &mut SimRng) {
        match fault {
            PipelineFault::SlowWebhook { webhook, above } => {
                let latency = around(self.webhook_timeouts[*webhook], *above);
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
            PipelineFault::PartitionStore | PipelineFault::CompactBehindCache => {
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
            PipelineFault::PartitionClient(client) => {
                turmoil::partition(APISERVER, client.as_str())
            }
            PipelineFault::SlowAuthz { above } => self
                .authz
                .set_latency(around(self.authz_timeout, *above), rng.next_u64()),
            PipelineFault::DeadAuthz { crashed: true } => {
                self.faults.inject(Fault::CrashHost(AUTHZ.to_owned()))
            }
            PipelineFault::DeadAuthz { crashed: false } => {
                self.authz.set_listening(false);
                self.faults.inject(Fault::BounceHost(AUTHZ.to_owned()));
            }
            PipelineFault::PartitionAuthz => turmoil::partition(APISERVER, AUTHZ),
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
            PipelineFault::PartitionStore | PipelineFault::CompactBehindCache => {
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
            PipelineFault::PartitionClient(client) => turmoil::repair(APISERVER, client.as_str()),
            PipelineFault::BounceApiServer => {}
            PipelineFault::SlowAuthz { .. } => self.authz.set_latency(Latency::default(), 0),
            PipelineFault::DeadAuthz { .. } => {
                self.authz.set_listening(true);
                self.faults.inject(Fault::BounceHost(AUTHZ.to_owned()));
            }
            PipelineFault::PartitionAuthz => turmoil::repair(APISERVER, AUTHZ),
        }
    }

    /// The hold of [`PipelineFault::CompactBehindCache`]: move the store on and compact
    /// there while the cache cannot see it, and hold past the keepalive so the cache's etcd
    /// watch surely breaks. Whether it compacted.
    async fn compact_behind_cache(&self, rng: &mut SimRng) -> bool {
        let started = tokio::time::Instant::now();
        tokio::time::sleep(rng.millis(500, 2_000)).await;
        let compacted = match self.put_marker().await {
            Some(revision) => self.compact(revision).await,
            None => false,
        };
        let hold = COMPACT_BEHIND_CACHE_HOLD + rng.millis(0, 1_000);
        tokio::time::sleep_until(started + hold).await;
        compacted
    }

    /// kube-apiserver's compactor: compacts at the revision of the previous tick, and
    /// returns this tick's revision for the next.
    async fn compactor_tick(&self, previous: Option<i64>) -> Option<i64> {
        if let Some(revision) = previous {
            self.compact(revision).await;
        }
        self.put_marker().await
    }

    /// Writes [`NEMESIS_KEY`] through the API server's member (never crashed or isolated:
    /// only cut off from the API server); the store's revision after it.
    async fn put_marker(&self) -> Option<i64> {
        let member = self.members.first()?;
        let mut kv = crate::client::kv(member).ok()?;
        let request = PutRequest {
            key: NEMESIS_KEY.into(),
            value: b"nemesis".to_vec(),
            ..Default::default()
        };
        let reply = tokio::time::timeout(ETCD_CALL_BOUND, kv.put(request)).await;
        match reply {
            Ok(Ok(response)) => response.get_ref().header.as_ref().map(|h| h.revision),
            Ok(Err(status)) => {
                self.recorder
                    .fault(format!("nemesis put failed: {}", status.message()));
                None
            }
            Err(_) => {
                self.recorder.fault("nemesis put timed out");
                None
            }
        }
    }

    /// Compacts the store at `revision` (etcd's Compact RPC), recording it when it applied;
    /// whether it did.
    async fn compact(&self, revision: i64) -> bool {
        let Some(member) = self.members.first() else {
            return false;
        };
        let Ok(mut kv) = crate::client::kv(member) else {
            return false;
        };
        let request = CompactionRequest {
            revision,
            physical: false,
        };
        let why = match tokio::time::timeout(ETCD_CALL_BOUND, kv.compact(request)).await {
            Ok(Ok(_)) => {
                let revision = u64::try_from(revision).unwrap_or(0);
                self.recorder.fault(compaction_record(revision));
                return true;
            }
            Ok(Err(status)) => status.message().to_owned(),
            Err(_) => "timed out".to_owned(),
        };
        self.recorder
            .fault(format!("compaction at {revision} failed: {why}"));
        false
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

/// A delay drawn around `timeout`: past it (from 200 ms to 2 s over) when `above`, so every
/// call times out; otherwise within it (up to 400 ms short), so every call is slow but ends.
fn around(timeout: Duration, above: bool) -> Latency {
    if above {
        Latency::Uniform {
            low: timeout + Duration::from_millis(200),
            high: timeout + Duration::from_secs(2),
        }
    } else {
        Latency::Uniform {
            low: Duration::ZERO,
            high: timeout.saturating_sub(Duration::from_millis(400)),
        }
    }
}
