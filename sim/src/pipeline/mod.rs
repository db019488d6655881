//! The whole pipeline under turmoil: clients → API server (authentication, authorization
//! through the authz service, admission with webhooks, registry) → the 3-member store, with
//! faults, checked against properties 9 to 12 of RELIABILITY.md (`crate::check::api`).
//!
//! Map of the module, in the order a run uses it ([`run`]):
//! - [`pki`]: the run's CA and every certificate, from the seed, in memory.
//! - [`hosts`]: the `apiserver` host (the production `ApiServer` on a simulated `Env`) and
//!   the webhook hosts (`webhook-fail`: no-privileged, validating, failurePolicy Fail;
//!   `webhook-ignore`: label-injector, mutating, Ignore), beside `store-1..3` of a
//!   [`Cluster`].
//! - [`authz`]: the `authz` host (the authz service deciding with RBAC from the store), which
//!   the API server asks for every request (`--authorization-mode=Webhook`, see
//!   [`AUTHZ_TIMEOUT`]); shared with the experiment runner.
//! - [`http`]: [`http::ApiClient`], HTTPS over turmoil's TCP as one identity.
//! - [`workload`]: the administrator's set-up, then `admin` (system:masters), `alice` (RBAC:
//!   pods in `team-a`) and `mallory` (nothing) writing and reading pods, and two watchers.
//! - [`nemesis`]: slow, broken, crashed and partitioned webhooks, the store cut off from the
//!   API server, store members isolated or crashed, the API server restarted, the authz
//!   service slow, dead or cut off from the API server.
//! - [`history`]: [`history::ApiHistory`], what the checkers read.
//!
//! `kubesim-sim run --pipeline` runs seeds in child processes, as for the store alone.

pub mod authz;
pub mod experiment;
pub mod history;
pub mod hosts;
pub mod http;
pub mod nemesis;
pub mod pki;
pub mod workload;

use std::fmt;
use std::time::{Duration, Instant};

use kubesim_admission::planted::PlantedBug;
use kubesim_webhooks::Sample;
use kubesim_webhooks::samples::{LabelInjector, NoPrivileged};

use crate::check::Violation;
use crate::cluster::{Cluster, ClusterConfig};
use crate::trace::hash_lines;
use authz::AuthzHost;
use history::{ApiHistory, ApiRecorder, Bounds};
use hosts::{APISERVER, APISERVER_PORT, ApiServerFiles, WebhookHost};
use http::ApiClient;
use nemesis::{NEMESIS, PipelineNemesis};
use pki::{MemFile, Pki};
use workload::{DENIED, Role, Shared, WRITER, Watcher, Worker};

/// The API server's `--request-timeout` in the simulation.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);
/// How long a client waits for an answer: past the request timeout, so an answer that
/// comes late is seen late rather than cut off.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);
/// The webhooks' timeoutSeconds: the Fail one, then the Ignore one.
pub const WEBHOOK_TIMEOUTS: [Duration; 2] = [Duration::from_secs(2), Duration::from_secs(1)];
/// The API server's bound on one call to the authz service. It authorizes through that
/// service alone (`--authorization-mode=Webhook`), not after RBAC (`RBAC,Webhook`, or kube's
/// usual `Node,RBAC,Webhook`): RBAC would allow alice itself and the webhook would only
/// ever be asked about mallory, so an authz fault would touch one user in three. Alone, a
/// slow or dead authz service refuses alice's calls too, and a request allowed because the
/// call failed (fail open) shows as mallory's calls succeeding. `system:masters` (the
/// administrator) is allowed before any authorizer is asked, as in kube, so the set-up and
/// the final list never depend on the authz service.
pub const AUTHZ_TIMEOUT: Duration = Duration::from_secs(2);

/// What shapes a pipeline run; the seed decides the rest.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub seed: u64,
    /// Length of the fault phase (simulated).
    pub fault_phase: Duration,
    /// A known bug to plant in the API server (test-only; `kubesim_admission::planted`).
    pub planted_bug: PlantedBug,
}

impl PipelineConfig {
    pub fn new(seed: u64) -> Self {
        PipelineConfig {
            seed,
            fault_phase: Duration::from_secs(20),
            planted_bug: PlantedBug::None,
        }
    }

    /// The one command that replays this run.
    pub fn replay_command(&self) -> String {
        let mut command = format!(
            "cargo run -p kubesim-sim --release -- run --pipeline --seed {} --duration {}s",
            self.seed,
            self.fault_phase.as_secs()
        );
        if self.planted_bug != PlantedBug::None {
            command.push_str(&format!(" --plant {}", self.planted_bug.name()));
        }
        command
    }
}

/// What a pipeline run found.
pub struct PipelineReport {
    pub config: PipelineConfig,
    pub trace_hash: u64,
    pub violations: Vec<Violation>,
    /// The harness failed (a host returned an error, the run overran its bounds).
    pub error: Option<String>,
    pub history: ApiHistory,
    pub simulated: Duration,
    pub wall: Duration,
}

impl PipelineReport {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.violations.is_empty()
    }

    pub fn summary(&self) -> String {
        let calls = self.history.calls.len();
        let answered = self
            .history
            .calls
            .iter()
            .filter(|c| c.code().is_some())
            .count();
        let ok = self.history.calls.iter().filter(|c| c.succeeded()).count();
        let events: usize = self.history.watches.iter().map(|w| w.events.len()).sum();
        let injected = self
            .history
            .faults
            .iter()
            .filter(|f| f.what.starts_with("inject"))
            .count();
        // Webhook calls as the API server timed them (property 11 judges each).
        let webhook_calls: Vec<Duration> = self
            .history
            .calls
            .iter()
            .flat_map(|c| c.webhook_calls().iter().map(|(_, took)| *took))
            .collect();
        let longest = webhook_calls.iter().max().copied().unwrap_or_default();
        // Refusals because the authz call failed: the authz faults reached requests.
        let authz_failed = self
            .history
            .calls
            .iter()
            .filter(|c| c.authz_failed())
            .count();
        format!(
            "seed {:>6} pipeline   {}  trace {:016x}  {calls} calls ({answered} answered, {ok} 2xx, {authz_failed} authz failed), {} webhook calls (longest {:.3}s), {injected} faults, {} watch sessions ({events} events), {:.0}s simulated in {:.1}s",
            self.config.seed,
            if self.passed() { "pass" } else { "FAIL" },
            self.trace_hash,
            webhook_calls.len(),
            longest.as_secs_f64(),
            self.history.watches.len(),
            self.simulated.as_secs_f64(),
            self.wall.as_secs_f64(),
        )
    }
}

impl fmt::Display for PipelineReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        if let Some(error) = &self.error {
            writeln!(f, "  harness error: {error}")?;
        }
        for violation in &self.violations {
            write!(f, "  {violation}")?;
        }
        if !self.passed() {
            writeln!(f, "  replay: {}", self.config.replay_command())?;
        }
        Ok(())
    }
}

/// Runs one seed of the pipeline and checks it. Run it in a fresh process for exact replay,
/// as the CLI does (ARCHITECTURE.md, "Each seed runs in a fresh process").
pub fn run(config: &PipelineConfig) -> PipelineReport {
    let started = Instant::now();
    let bounds = Bounds {
        request_timeout: REQUEST_TIMEOUT,
        slack: Duration::from_secs(2),
        webhook_timeout: WEBHOOK_TIMEOUTS.iter().max().copied().unwrap_or_default(),
        authz_timeout: AUTHZ_TIMEOUT,
    };
    let recorder = ApiRecorder::new(bounds);
    let mut cluster_config = ClusterConfig::new(config.seed);
    cluster_config.simulation_duration = config.fault_phase + Duration::from_secs(240);
    cluster_config.wall_limit = Duration::from_secs(300);
    let mut cluster = Cluster::new(cluster_config);
    let error = build(&mut cluster, config, &recorder)
        .and_then(|_files| crate::run::run_catching_panics(&mut cluster))
        .err()
        .map(|e| format!("{e:#}"));
    let simulated = cluster.elapsed();
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(cluster)));
    let history = recorder.history();
    let violations = crate::check::api::check_all(&history);
    PipelineReport {
        config: config.clone(),
        trace_hash: hash_lines(history::trace_lines(&history)),
        violations,
        error,
        history,
        simulated,
        wall: started.elapsed(),
    }
}

/// Files the API server reads at each start; they must outlive the run.
struct RunFiles {
    _apiserver: ApiServerFiles,
    _authz_kubeconfig: MemFile,
}

/// Adds every host and client. Returns the API server's files.
fn build(
    cluster: &mut Cluster,
    config: &PipelineConfig,
    recorder: &ApiRecorder,
) -> anyhow::Result<RunFiles> {
    let seed = config.seed;
    let epoch = cluster.config().epoch;
    let members = cluster.member_names();
    let mut pki = Pki::new(seed, epoch)?;
    let files = ApiServerFiles::new(&mut pki)?;
    let authz_kubeconfig = authz::kubeconfig()?;
    let mut apiserver = hosts::apiserver_config(&files, &members, REQUEST_TIMEOUT);
    hosts::authorize_through_authz(&mut apiserver, &authz_kubeconfig, AUTHZ_TIMEOUT);
    apiserver.admission.planted_bug = config.planted_bug;
    hosts::add_apiserver(cluster, apiserver, seed, epoch);
    let authz = AuthzHost::new(&members, seed, epoch);
    authz.add(cluster);
    let webhooks = vec![
        WebhookHost::new(
            "webhook-fail",
            || Sample::NoPrivileged(NoPrivileged),
            &mut pki,
        )?,
        WebhookHost::new(
            "webhook-ignore",
            || Sample::LabelInjector(LabelInjector::default()),
            &mut pki,
        )?,
    ];
    for webhook in &webhooks {
        webhook.add(cluster);
    }

    let client = |pki: &mut Pki, user: &str, group: Option<&str>| {
        api_client(pki, user, group, CLIENT_TIMEOUT)
    };
    let admin = client(&mut pki, "kubesim-admin", Some("system:masters"))?;
    let alice = client(&mut pki, WRITER, None)?;
    let mallory = client(&mut pki, DENIED, None)?;
    let shared = Shared::default();

    let (ca_pem, fail_url, ignore_url) = (
        pki.ca_pem.clone(),
        webhooks[0].url("validate"),
        webhooks[1].url("mutate"),
    );
    let worker = Worker::new(
        "admin",
        Role::Admin,
        admin.clone(),
        recorder.clone(),
        shared.clone(),
        seed,
        1,
    );
    let (setup_admin, setup_shared) = (admin.clone(), shared.clone());
    cluster.client("admin", async move {
        workload::set_up(&setup_admin, &ca_pem, &fail_url, &ignore_url).await?;
        setup_shared.set_ready();
        worker.run().await
    });
    let writer = Worker::new(
        "alice",
        Role::Writer,
        alice.clone(),
        recorder.clone(),
        shared.clone(),
        seed,
        2,
    );
    cluster.client("alice", writer.run());
    let denied = Worker::new(
        "mallory",
        Role::Denied,
        mallory,
        recorder.clone(),
        shared.clone(),
        seed,
        3,
    );
    cluster.client("mallory", denied.run());
    for (index, identity) in [admin.clone(), alice].into_iter().enumerate() {
        let host = format!("watcher-{}", index + 1);
        let watcher = Watcher::new(
            &host,
            identity,
            recorder.clone(),
            shared.clone(),
            seed ^ index as u64,
        );
        cluster.client(&host, watcher.run());
    }
    let nemesis = PipelineNemesis {
        fault_phase: config.fault_phase,
        webhooks,
        webhook_timeouts: WEBHOOK_TIMEOUTS.to_vec(),
        authz,
        authz_timeout: AUTHZ_TIMEOUT,
        members,
        faults: cluster.faults(),
        recorder: recorder.clone(),
        shared,
        admin,
        seed,
    };
    cluster.client(NEMESIS, nemesis.run());
    Ok(RunFiles {
        _apiserver: files,
        _authz_kubeconfig: authz_kubeconfig,
    })
}

/// A client of the `apiserver` host as `user` (in `group`), with a certificate from `pki`.
pub fn api_client(
    pki: &mut Pki,
    user: &str,
    group: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<ApiClient> {
    let identity = pki.client(user, group)?;
    let tls = pki.client_tls(&identity)?;
    Ok(ApiClient::new(
        user,
        APISERVER,
        APISERVER_PORT,
        tls,
        timeout,
    ))
}
