//! The simulated point runner of the experiments ([`run_point`]): one [`Point`] run through
//! the whole pipeline under turmoil, deterministically from the seed, measured request by
//! request ([`Samples`]).
//!
//! Map of the module, in the order a run uses it:
//! - this file: [`run_point`]; the cluster and its links ([`configure_links`]), the hosts
//!   ([`build`]), then one client host that does the set-up, starts the measured clients and
//!   plays the point's faults ([`drive`]).
//! - [`authz`]: the `authz` host (the authz service over RBAC of the store) and the
//!   kubeconfig of the API server's Webhook authorizer, for `authorization: webhook`.
//! - [`client`]: [`client::TimedClient`], pod creates that return the `Server-Timing` header.
//! - [`timing`]: that header into the report's stages, and status codes into outcomes.
//! - [`wire`]: [`Samples`] as one JSON line, from a child process to the parent.
//!
//! The choices, and why:
//! - Links: every link that is not to a store member is a fixed 1 ms (one LAN hop); links to
//!   and between the members are a fixed `store_latency`. Fixed rather than turmoil's
//!   exponential spread so that `store_latency` is the one-way latency it says, and so the
//!   webhook and authz latencies are what the point draws, not the network's noise. turmoil
//!   resolves latency to whole milliseconds.
//! - The API server's `--request-timeout` is kube's default, 1 minute, so that only the
//!   webhooks' `timeoutSeconds` (at most 30 s) cut a request short; a client gives up 5 s
//!   after that ([`client_timeout`]).
//! - Webhooks: `point.webhooks` hosts `webhook-1..N`, all in one webhook configuration named
//!   `experiment` for pod CREATE in the experiment namespace. Validating ones run the
//!   `no-privileged` sample (it admits the plain pods the clients create), mutating ones the
//!   `label-injector` (it patches labels in, a real mutation). Each host draws its delays
//!   from `webhook_latency` with its own seed.
//! - Authorization `webhook`: `--authorization-mode=Webhook` INSTEAD of RBAC, the authz host
//!   deciding with the same RBAC rules from the store. After RBAC (`RBAC,Webhook`) the
//!   webhook would never be asked (RBAC allows the client), so nothing would be compared.
//!   The decision cache's TTLs are 0: kube caches allowed answers 5 min and the others 30 s
//!   by default, and with one user creating pods every answer after the first would be a
//!   cache hit, so the run would measure the cache, not the webhook.
//! - Start: after the set-up, a dry-run pod create as the measured user is repeated until it
//!   is authorized and reaches the webhooks (or succeeds, without webhooks), so caches,
//!   informers and the webhook configuration are loaded when the clock of the run starts.
//! - Clients: `point.clients` tasks on one client host, each creating pods for
//!   `point.duration`, one at a time (`rate: closed`) or paced (`rate: N`: N a second on
//!   a schedule from the seed, at most `max_in_flight` outstanding, each on its own kept
//!   connection; `experiment::pace`); a request started before the end is waited for. The user is bound by
//!   RBAC to create pods in the namespace and is not in `system:masters`, so authorization
//!   really runs.
//! - Faults, from the clients' start: `webhook_outage` restarts every webhook host at its
//!   start without a listener (connections refused at once, as when a webhook's Service has
//!   no ready endpoint; a crashed turmoil host would let them hang to the timeout instead)
//!   and restarts them serving at its end; `partition` cuts one
//!   member (the leader at that moment, or a follower the seed picks) off from the other
//!   members and the API server, and heals it at the end. The authz host, which reads the
//!   first member, is not cut off.

pub mod authz;
pub mod client;
pub mod timing;
pub mod wire;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use futures::future::{Either, join_all, select};
use kubesim_webhooks::samples::{LabelInjector, NoPrivileged};
use kubesim_webhooks::{Knobs, Latency, Sample};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::hosts::{self, APISERVER, APISERVER_PORT, ApiServerFiles, WebhookHost};
use super::http::ApiClient;
use super::pki::{MemFile, Pki};
use crate::cluster::{Cluster, ClusterConfig, Fault, Faults, Members};
use crate::experiment::pace;
use crate::experiment::point::{
    Authorization, FailurePolicy, LatencyDist, Load, Partition, WebhookKind,
};
use crate::experiment::{Outcome, Point, RequestRecord, Samples};
use crate::rng::SimRng;
use client::{NoAnswer, TimedClient};

/// The namespace the clients create pods in.
pub const NAMESPACE: &str = "experiment";
/// The measured clients' user: RBAC lets it create pods in [`NAMESPACE`].
pub const USER: &str = "experimenter";
/// The webhook configuration's name, and the suffix of each webhook's (`w1.<this>`).
pub const CONFIGURATION: &str = "experiment";
const WEBHOOK_DOMAIN: &str = "experiment.kubesim.io";
/// The API server's `--request-timeout`: kube's default.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How much longer than the request timeout a client waits.
pub const CLIENT_SLACK: Duration = Duration::from_secs(5);
/// Simulated time the set-up may take before the run fails.
pub const SETUP_BOUND: Duration = Duration::from_secs(120);
/// Real time one run may take before it fails.
pub const WALL_LIMIT: Duration = Duration::from_secs(900);
/// One-way latency of every link that is not to a store member.
pub const LAN_LATENCY: Duration = Duration::from_millis(1);
/// Bounds of a point this runner accepts.
pub const MAX_WEBHOOKS: u32 = 10;
pub const MAX_CLIENTS: u32 = 1024;
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// turmoil's latency curve (exponential lambda) that puts every message at its link's
/// maximum: the draw times a range of milliseconds is far past it, and capped there.
const FIXED_LATENCY_CURVE: f64 = 1e-9;
/// How often the set-up retries a call.
const SETUP_RETRY: Duration = Duration::from_millis(250);

/// What the clients recorded, shared by the client tasks of the one client host.
type Records = Rc<RefCell<Vec<RequestRecord>>>;

/// How long a client waits for one answer: the request timeout and [`CLIENT_SLACK`].
pub fn client_timeout() -> Duration {
    REQUEST_TIMEOUT + CLIENT_SLACK
}

/// Runs `point` once with `seed` and returns every request the clients made. Run it in a
/// fresh process for exact replay (the CLI does). Errors (a bad point, a host that failed,
/// a run past its simulated or wall-time bound, a panic) are `Err`, never a panic.
pub fn run_point(point: &Point, seed: u64) -> Result<Samples, String> {
    check(point)?;
    let records: Records = Rc::default();
    let mut config = ClusterConfig::new(seed);
    config.min_message_latency = Duration::ZERO;
    config.max_message_latency = LAN_LATENCY;
    config.simulation_duration = SETUP_BOUND
        .saturating_add(point.duration)
        .saturating_add(client_timeout())
        .saturating_add(Duration::from_secs(30));
    config.wall_limit = WALL_LIMIT;
    let mut cluster = Cluster::new(config);
    let result = build(&mut cluster, point, seed, &records)
        .and_then(|files| crate::run::run_catching_panics(&mut cluster).map(|()| files));
    // A host's tasks may panic as they are dropped; that must not end the experiment.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(cluster)));
    let files = result.map_err(|e| format!("seed {seed}: {e:#}"))?;
    drop(files);
    let requests = records.take();
    if requests.is_empty() {
        return Err(format!("seed {seed}: the clients made no request"));
    }
    Ok(Samples { requests })
}

/// What this runner cannot run.
fn check(point: &Point) -> Result<(), String> {
    if point.webhooks > MAX_WEBHOOKS {
        return Err(format!(
            "webhooks: {} (at most {MAX_WEBHOOKS})",
            point.webhooks
        ));
    }
    if point.clients == 0 || point.clients > MAX_CLIENTS {
        return Err(format!("clients: {} (1 to {MAX_CLIENTS})", point.clients));
    }
    if point.duration.is_zero() || point.duration > MAX_DURATION {
        return Err(format!(
            "duration: {:?} (up to {MAX_DURATION:?})",
            point.duration
        ));
    }
    if !(1..=30).contains(&point.timeout_seconds) {
        return Err(format!(
            "timeout_seconds: {} (1 to 30)",
            point.timeout_seconds
        ));
    }
    Ok(())
}

/// Files the API server reads at each start; they must outlive the run.
struct RunFiles {
    _apiserver: ApiServerFiles,
    _authz_kubeconfig: Option<MemFile>,
}

/// Adds every host, the links' latencies and the driving client.
fn build(
    cluster: &mut Cluster,
    point: &Point,
    seed: u64,
    records: &Records,
) -> anyhow::Result<RunFiles> {
    let epoch = cluster.config().epoch;
    let members = cluster.member_names();
    let mut pki = Pki::new(seed, epoch)?;
    let files = ApiServerFiles::new(&mut pki)?;
    let mut apiserver = hosts::apiserver_config(&files, &members, REQUEST_TIMEOUT);
    let authz_kubeconfig = match point.authorization {
        Authorization::InProcess => None,
        Authorization::Webhook => {
            let kubeconfig = authz::kubeconfig()?;
            let auth = &mut apiserver.auth;
            auth.authorization_modes = "Webhook".to_owned();
            auth.authorization_webhook_config_file = Some(kubeconfig.path());
            // kube's defaults are 5 min (allowed) and 30 s (denied): see the module's doc.
            auth.authorization_webhook_authorized_ttl = Duration::ZERO;
            auth.authorization_webhook_unauthorized_ttl = Duration::ZERO;
            authz::add(cluster, &members, point.authz_webhook_latency, seed, epoch);
            Some(kubeconfig)
        }
    };
    hosts::add_apiserver(cluster, apiserver, seed, epoch);
    let webhooks = add_webhooks(cluster, point, seed, &mut pki)?;
    configure_links(&cluster.faults(), &members, point);

    let admin = api_client(&mut pki, "kubesim-admin", Some("system:masters"))?;
    let identity = pki.client(USER, None)?;
    let user = TimedClient::new(
        APISERVER,
        APISERVER_PORT,
        pki.client_tls(&identity)?,
        client_timeout(),
    );
    let urls: Vec<String> = webhooks.iter().map(|w| w.url("review")).collect();
    let configuration =
        (point.webhooks > 0).then(|| webhook_configuration(point, &urls, &pki.ca_pem));
    let plan = Plan {
        point: point.clone(),
        admin,
        user,
        configuration,
        webhooks: webhooks.clone(),
        members,
        cluster_members: cluster.members(),
        faults: cluster.faults(),
        records: records.clone(),
        rng: SimRng::new(seed, 0xe4_9e41),
        phases: match point.load {
            Load::Closed => Vec::new(),
            Load::Paced { per_second } => pace::phases(seed, point.clients, per_second),
        },
    };
    cluster.client("experiment", drive(plan));
    Ok(RunFiles {
        _apiserver: files,
        _authz_kubeconfig: authz_kubeconfig,
    })
}

fn api_client(pki: &mut Pki, user: &str, group: Option<&str>) -> anyhow::Result<ApiClient> {
    super::api_client(pki, user, group, client_timeout())
}

/// `webhook-1..N`, each drawing its delays from the point's latency with its own seed.
fn add_webhooks(
    cluster: &mut Cluster,
    point: &Point,
    seed: u64,
    pki: &mut Pki,
) -> anyhow::Result<Vec<WebhookHost>> {
    let sample: fn() -> Sample = match point.webhook_kind {
        WebhookKind::Validating => || Sample::NoPrivileged(NoPrivileged),
        WebhookKind::Mutating => || Sample::LabelInjector(LabelInjector::default()),
    };
    (1..=point.webhooks)
        .map(|i| {
            let host = WebhookHost::new(&format!("webhook-{i}"), sample, pki)?;
            host.set_knobs(Knobs {
                latency: knobs_latency(point.webhook_latency),
                seed: seed ^ u64::from(i).rotate_left(40) ^ 0x3eb_0000,
                ..Knobs::default()
            });
            host.add(cluster);
            Ok(host)
        })
        .collect()
}

/// The webhook crate's spelling of a latency distribution.
pub fn knobs_latency(latency: LatencyDist) -> Latency {
    match latency {
        LatencyDist::Fixed(d) => Latency::Fixed(d),
        LatencyDist::LogNormal { p50, p99 } => Latency::LogNormal { p50, p99 },
    }
}

/// Fixed latencies: [`LAN_LATENCY`] everywhere, `store_latency` on every link of a member
/// (see the module's doc). Applied by the driver before the first step.
fn configure_links(faults: &Faults, members: &[String], point: &Point) {
    faults.inject(Fault::LatencyCurve(FIXED_LATENCY_CURVE));
    let mut others = members.to_vec();
    others.push(APISERVER.to_owned());
    if point.authorization == Authorization::Webhook {
        others.push(authz::AUTHZ.to_owned());
    }
    for (i, member) in members.iter().enumerate() {
        for other in others.iter().skip(i + 1) {
            faults.inject(Fault::LinkLatency {
                a: member.clone(),
                b: other.clone(),
                max: point.store_latency,
            });
        }
    }
}

/// The one webhook configuration: every webhook, pod CREATE in [`NAMESPACE`].
fn webhook_configuration(point: &Point, urls: &[String], ca_pem: &str) -> (String, Value) {
    let kind = match point.webhook_kind {
        WebhookKind::Mutating => "Mutating",
        WebhookKind::Validating => "Validating",
    };
    let policy = match point.failure_policy {
        FailurePolicy::Fail => "Fail",
        FailurePolicy::Ignore => "Ignore",
    };
    let ca_bundle = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let webhooks: Vec<Value> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            json!({
                "name": webhook_name(i + 1),
                "clientConfig": {"url": url, "caBundle": ca_bundle},
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                           "resources": ["pods"], "scope": "Namespaced"}],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
                "failurePolicy": policy,
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": point.timeout_seconds,
            })
        })
        .collect();
    let path = format!(
        "/apis/admissionregistration.k8s.io/v1/{}webhookconfigurations",
        kind.to_lowercase()
    );
    let object = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": format!("{kind}WebhookConfiguration"),
        "metadata": {"name": CONFIGURATION},
        "webhooks": webhooks,
    });
    (path, object)
}

/// The name of webhook `i` (from 1): a DNS name, as the API requires.
pub fn webhook_name(i: usize) -> String {
    format!("w{i}.{WEBHOOK_DOMAIN}")
}

/// Everything the driving client needs.
struct Plan {
    point: Point,
    admin: ApiClient,
    user: TimedClient,
    /// The webhook configuration's collection path and object, when there are webhooks.
    configuration: Option<(String, Value)>,
    /// The webhook hosts.
    webhooks: Vec<WebhookHost>,
    members: Vec<String>,
    cluster_members: Members,
    faults: Faults,
    records: Records,
    rng: SimRng,
    /// Each paced client's first send (empty in the closed loop).
    phases: Vec<Duration>,
}

/// The one client host: set-up, warm-up, then the measured clients and the faults together.
async fn drive(mut plan: Plan) -> anyhow::Result<()> {
    set_up(&plan.admin, plan.configuration.as_ref()).await?;
    warm_up(&plan.user).await?;
    let start = Instant::now();
    let clients = (0..plan.point.clients).map(|index| {
        let client = Measured {
            index,
            user: plan.user.clone(),
            start,
            kind: plan.point.webhook_kind,
            records: plan.records.clone(),
        };
        let phase = plan.phases.get(index as usize).copied().unwrap_or_default();
        client.run(plan.point.clone(), phase)
    });
    let clients = Box::pin(join_all(clients));
    let faults = Box::pin(play_faults(&mut plan, start));
    // The faults end early or with the clients; a fault that fails ends the run.
    match select(clients, faults).await {
        Either::Left(_) => Ok(()),
        Either::Right((result, clients)) => {
            result?;
            clients.await;
            Ok(())
        }
    }
}

/// The namespace, the user's RBAC, the webhook configuration: as the administrator
/// (`system:masters`), each retried until it is in (or already was).
async fn set_up(admin: &ApiClient, configuration: Option<&(String, Value)>) -> anyhow::Result<()> {
    until(admin, "GET", "/readyz", None).await?;
    let mut objects = vec![
        (
            "/api/v1/namespaces".to_owned(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}),
        ),
        (
            format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}/roles"),
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "pod-creator", "namespace": NAMESPACE},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]
            }),
        ),
        (
            format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}/rolebindings"),
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "experimenter-creates-pods", "namespace": NAMESPACE},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                            "name": "pod-creator"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                              "name": USER}]
            }),
        ),
    ];
    objects.extend(configuration.cloned());
    for (path, object) in &objects {
        until(admin, "POST", path, Some(object)).await?;
    }
    Ok(())
}

/// Calls until the answer is 2xx (or 409 for a create: it is there), every
/// [`SETUP_RETRY`], within [`SETUP_BOUND`].
async fn until(
    client: &ApiClient,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + SETUP_BOUND;
    let mut last = String::new();
    while Instant::now() < deadline {
        match client.call(method, path, "application/json", body).await {
            Ok(reply) if reply.ok() || (method == "POST" && reply.code == 409) => return Ok(()),
            Ok(reply) => last = format!("{} {}", reply.code, reply.message()),
            Err(e) => last = format!("{e:#}"),
        }
        tokio::time::sleep(SETUP_RETRY).await;
    }
    bail!("set-up: {method} {path} never succeeded; last: {last}")
}

/// A dry-run create as the measured user until it is authorized and reaches admission's
/// webhooks (whatever they answer: under Fail a slow webhook fails every create), or goes
/// through when there are none.
async fn warm_up(user: &TimedClient) -> anyhow::Result<()> {
    let deadline = Instant::now() + SETUP_BOUND;
    let path = format!("/api/v1/namespaces/{NAMESPACE}/pods?dryRun=All");
    let probe = pod("warm-up");
    let mut last = String::new();
    while Instant::now() < deadline {
        match user.post(&path, &probe).await {
            Ok(answer) => {
                let reached_webhooks = timing::entries(&answer.server_timing)
                    .iter()
                    .any(|(name, _)| name.ends_with(WEBHOOK_DOMAIN));
                if (200..300).contains(&answer.code) || reached_webhooks {
                    return Ok(());
                }
                last = format!("{} ({})", answer.code, answer.server_timing);
            }
            Err(NoAnswer::GaveUp) => last = "no answer".to_owned(),
            Err(NoAnswer::Failed(e)) => last = format!("{e:#}"),
        }
        tokio::time::sleep(SETUP_RETRY).await;
    }
    Err(anyhow!(
        "warm-up: the probe create never got through; last: {last}"
    ))
}

/// A plain pod (not privileged: the no-privileged webhook admits it).
fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]},
    })
}

/// One measured client: its pod creates, recorded into the run's shared records.
struct Measured {
    index: u32,
    user: TimedClient,
    /// The clients' start, which record starts count from.
    start: Instant,
    kind: WebhookKind,
    records: Records,
}

impl Measured {
    /// Creates pods for `point.duration`, closed loop or paced as the point says.
    async fn run(self, point: Point, phase: Duration) {
        match point.load {
            Load::Closed => self.closed_loop(self.start + point.duration).await,
            Load::Paced { per_second } => self.paced(&point, per_second, phase).await,
        }
    }

    /// One request at a time until `until`.
    async fn closed_loop(&self, until: Instant) {
        for n in 0u64.. {
            let sent = Instant::now();
            if sent >= until || self.records.borrow().len() >= wire::MAX_RECORDS {
                return;
            }
            let answer = self.user.post(&pods_path(), &self.pod(n)).await;
            let record = self.record(sent, answer);
            let latency = record.latency;
            self.records.borrow_mut().push(record);
            if latency.is_zero() {
                // A failure that takes no simulated time would spin without time passing.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }

    /// `per_second` sends a second from `phase`, at most `point.max_in_flight` at once, each
    /// on a connection of its own from a pool of this client's (a kept HTTP/1.1 connection
    /// carries one request at a time), so the pool holds at most `max_in_flight`.
    async fn paced(&self, point: &Point, per_second: u32, phase: Duration) {
        let clients = usize::try_from(point.clients).unwrap_or(usize::MAX).max(1);
        let max_sends = wire::MAX_RECORDS / clients;
        let times = pace::schedule(per_second, phase, point.duration, max_sends);
        let idle: RefCell<Vec<TimedClient>> = RefCell::new(vec![self.user.clone()]);
        let max_in_flight = usize::try_from(point.max_in_flight).unwrap_or(usize::MAX);
        let records = pace::run_paced(times, self.start, max_in_flight, |n| {
            let idle = &idle;
            async move {
                let connection = idle.borrow_mut().pop();
                let connection = connection.unwrap_or_else(|| self.user.clone());
                let sent = Instant::now();
                let answer = connection.post(&pods_path(), &self.pod(n)).await;
                idle.borrow_mut().push(connection);
                self.record(sent, answer)
            }
        })
        .await;
        self.records.borrow_mut().extend(records);
    }

    fn pod(&self, n: u64) -> Value {
        pod(&format!("c{}-{n}", self.index))
    }

    fn record(&self, sent: Instant, answer: Result<client::Answer, NoAnswer>) -> RequestRecord {
        let latency = sent.elapsed();
        let (outcome, stages) = match answer {
            Ok(answer) => (
                timing::outcome(answer.code),
                timing::stages(&answer.server_timing, self.kind),
            ),
            Err(NoAnswer::GaveUp) => (Outcome::Timeout, Default::default()),
            Err(NoAnswer::Failed(_)) => (Outcome::Error { code: None }, Default::default()),
        };
        RequestRecord {
            start: sent - self.start,
            latency,
            stages,
            outcome,
        }
    }
}

fn pods_path() -> String {
    format!("/api/v1/namespaces/{NAMESPACE}/pods")
}

/// The point's faults, at their times from the clients' start.
async fn play_faults(plan: &mut Plan, start: Instant) -> anyhow::Result<()> {
    let outage = plan
        .point
        .webhook_outage
        .filter(|_| !plan.webhooks.is_empty());
    let partition = match plan.point.partition {
        Partition::None => None,
        Partition::Follower(w) => Some((false, w)),
        Partition::Leader(w) => Some((true, w)),
    };
    // Both in time order: the outage's and the partition's start and end interleave.
    let mut events: Vec<(Duration, Event)> = Vec::new();
    if let Some(w) = outage {
        events.push((w.start, Event::OutageStart));
        events.push((w.end(), Event::OutageEnd));
    }
    if let Some((leader, w)) = partition {
        events.push((w.start, Event::PartitionStart { leader }));
        events.push((w.end(), Event::PartitionEnd));
    }
    events.sort_by_key(|(at, _)| *at);
    let mut cut: Option<String> = None;
    for (at, event) in events {
        if at >= plan.point.duration {
            break;
        }
        tokio::time::sleep_until(start + at).await;
        match event {
            Event::OutageStart | Event::OutageEnd => {
                let listening = event == Event::OutageEnd;
                for webhook in &plan.webhooks {
                    webhook.set_listening(listening);
                    plan.faults.inject(Fault::BounceHost(webhook.host.clone()));
                }
            }
            Event::PartitionStart { leader } => {
                let member = pick_member(plan, leader).await?;
                set_cut(&plan.members, &member, true);
                cut = Some(member);
            }
            Event::PartitionEnd => {
                if let Some(member) = cut.take() {
                    set_cut(&plan.members, &member, false);
                }
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    OutageStart,
    OutageEnd,
    PartitionStart { leader: bool },
    PartitionEnd,
}

/// The leader now (waiting up to 10 s for one), or a follower the seed picks.
async fn pick_member(plan: &mut Plan, leader: bool) -> anyhow::Result<String> {
    let mut current = None;
    for _ in 0..100 {
        current = plan.cluster_members.leader();
        if current.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let current = current.context("partition: no leader within 10 s")?;
    if leader {
        return Ok(current);
    }
    let followers: Vec<String> = plan
        .members
        .iter()
        .filter(|m| **m != current)
        .cloned()
        .collect();
    plan.rng
        .pick(&followers)
        .cloned()
        .context("partition: no follower")
}

/// Cuts `member` off from the other members and the API server (`cut`), or heals that.
fn set_cut(members: &[String], member: &str, cut: bool) {
    let others = members
        .iter()
        .map(String::as_str)
        .filter(|m| *m != member)
        .chain([APISERVER]);
    for other in others {
        if cut {
            turmoil::partition(member, other);
        } else {
            turmoil::repair(member, other);
        }
    }
}
