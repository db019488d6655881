//! Issue 7's API Priority and Fairness end to end, on a real `kubesim apiserver` over a real
//! store (`KUBESIM_E2E_TARGET`): one user floods the server with lists while an administrator
//! and a second user keep working.
//!
//! The server has few seats (`--max-requests-inflight=4 --max-mutating-requests-inflight=2`:
//! a server concurrency limit of 6, split among kube's bootstrap priority levels and one made
//! here by their shares). kubectl creates a PriorityLevelConfiguration `tenants` (100 shares,
//! so 2 seats; 16 queues, hands of 4, at most 5 waiting per queue) and a FlowSchema `tenants`
//! putting the group `tenants` there, one flow per user (`ByUser`). alice and bob are client
//! certificates in `tenants`; the admin is `kubesim-admin` in `system:masters`, exempt.
//!
//! alice floods (curl, many HTTP/2 streams at once, over and over) until bob and the admin
//! have each made [`PROBE_REQUESTS`] lists one after another, [`PROBE_RATE`] a second. Then, as kube-apiserver does:
//! alice gets 429s with `Retry-After` from her level, bob and the admin none and within
//! [`LATENCY_BOUND`], every answer names its FlowSchema and priority level in the
//! `X-Kubernetes-PF-*` headers, and the admin's level is `exempt`. The test prints what each
//! user got (served, 429s, p50 and p99) for docs/benchmarks.md.
//!
//! Without kubectl or curl the test skips with a line on stderr, unless `KUBESIM_E2E=1`
//! makes it fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, ensure};
use kubesim_tests::apiserver::{ApiServer, curl_or_skip, kubectls, run};
use kubesim_tests::auth::{Ca, ClientCert, Credential, Validity, call, create, namespace, uid_of};
use kubesim_tests::{bounded, wait_for};
use serde_json::json;
use tokio::process::Command;

/// `--max-requests-inflight` + `--max-mutating-requests-inflight`.
const SERVER_FLAGS: [&str; 2] = [
    "--max-requests-inflight=4",
    "--max-mutating-requests-inflight=2",
];
const SERVER_CONCURRENCY_LIMIT: u64 = 6;
/// The `nominalConcurrencyShares` of kube's bootstrap limited levels: catch-all 5, system
/// 30, node-high 40, leader-election 10, workload-high 40, workload-low 100, global-default
/// 20 (exempt has 0).
const BOOTSTRAP_SHARES: u64 = 245;
const TENANTS_SHARES: u64 = 100;
/// The level `tenants`, and the schema putting the group `tenants` in it, one flow per user.
const TENANTS: &str = r#"apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata:
  name: tenants
spec:
  type: Limited
  limited:
    nominalConcurrencyShares: 100
    lendablePercent: 0
    limitResponse:
      type: Queue
      queuing:
        queues: 16
        handSize: 4
        queueLengthLimit: 5
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata:
  name: tenants
spec:
  priorityLevelConfiguration:
    name: tenants
  matchingPrecedence: 1000
  distinguisherMethod:
    type: ByUser
  rules:
  - subjects:
    - kind: Group
      group:
        name: tenants
    resourceRules:
    - verbs: ["*"]
      apiGroups: ["*"]
      resources: ["*"]
      namespaces: ["*"]
      clusterScope: true
    nonResourceRules:
    - verbs: ["*"]
      nonResourceURLs: ["*"]
"#;
const FLOWCONTROL: &str = "/apis/flowcontrol.apiserver.k8s.io/v1";
/// What alice lists, and bob and the admin too.
const LIST_PATH: &str = "/api/v1/namespaces/flood/configmaps";

/// curl processes flooding as alice at once, each with this many streams in flight: 60
/// requests at a time against 2 seats and 4 queues of 5 in alice's hand.
const FLOOD_PROCESSES: usize = 3;
const FLOOD_STREAMS: usize = 20;
/// Requests per flooding curl process; a new one starts when it is done.
const FLOOD_REQUESTS: usize = 400;
/// Sequential lists made by bob and by the admin while alice floods, this many a second:
/// the flood lasts as long as they take (2 s).
const PROBE_REQUESTS: usize = 20;
const PROBE_RATE: u32 = 10;
/// Generous: a list takes milliseconds, and fair queuing puts bob's next to alice's.
const LATENCY_BOUND: Duration = Duration::from_secs(2);
/// How long the flood may take to fill alice's queues.
const SATURATION_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the server may take to read the new FlowSchema from its watch cache.
const PICKUP_TIMEOUT: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(100);

const PRIORITY_LEVEL_UID: &str = "x-kubernetes-pf-prioritylevel-uid";
const FLOW_SCHEMA_UID: &str = "x-kubernetes-pf-flowschema-uid";
/// curl's report of each transfer, on stderr (`%{stderr}`), fields apart by `|`.
const WRITE_OUT: &str = "%{stderr}%{http_code}|%{time_total}|%header{retry-after}|\
                         %header{x-kubernetes-pf-prioritylevel-uid}|\
                         %header{x-kubernetes-pf-flowschema-uid}\n";

/// One request as curl reported it.
#[derive(Debug, Clone)]
struct Sample {
    /// 0 when the transfer failed (no answer).
    code: u16,
    latency: Duration,
    retry_after: String,
    priority_level_uid: String,
    flow_schema_uid: String,
}

/// The uids the answers must name.
struct Uids {
    tenants_level: String,
    tenants_schema: String,
    exempt_level: String,
    exempt_schema: String,
}

#[tokio::test]
async fn a_flooding_user_gets_the_429s_while_others_are_served() -> anyhow::Result<()> {
    bounded(flood_scenario()).await
}

async fn flood_scenario() -> anyhow::Result<()> {
    let test = "a_flooding_user_gets_the_429s_while_others_are_served";
    let paths = kubectls(test)?;
    let Some(kubectl) = paths.last() else {
        return Ok(());
    };
    if !curl_or_skip(test)? {
        return Ok(());
    }
    let server = ApiServer::start_with(&SERVER_FLAGS).await?;
    let files = tempfile::Builder::new().prefix("kubesim-apf-").tempdir()?;
    let ca = Ca::kubesim(server.dir.path())?;
    let tenant =
        |name: &str| ca.client_cert(files.path(), name, name, &["tenants"], Validity::Current);
    let (alice, bob) = (tenant("alice")?, tenant("bob")?);
    let admin = ClientCert {
        cert: server.file("admin.crt"),
        key: server.file("admin.key"),
        der: Vec::new(),
    };

    let manifest = files.path().join("tenants.yaml");
    std::fs::write(&manifest, TENANTS)?;
    let manifest = manifest.display().to_string();
    let out = server.kubectl(kubectl, &["apply", "-f", &manifest]).await?;
    ensure!(
        out.status.success()
            && out.stdout
                == "prioritylevelconfiguration.flowcontrol.apiserver.k8s.io/tenants created\n\
                    flowschema.flowcontrol.apiserver.k8s.io/tenants created\n",
        "kubectl apply -f {manifest}: {out:?}"
    );
    create(&server, "/api/v1/namespaces", &namespace("flood")).await?;
    for index in 0..5 {
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": format!("data-{index}")},
                                "data": {"index": index.to_string()}});
        create(&server, LIST_PATH, &config_map).await?;
    }
    let uids = uids(&server).await?;
    wait_for_tenants_level(&server, &bob, &uids).await?;
    check_split(&server).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let floods: Vec<_> = (0..FLOOD_PROCESSES)
        .map(|_| {
            tokio::spawn(flood(
                server.url(""),
                server.file("ca.crt"),
                alice.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let saturated = wait_for_saturation(&server).await;
    let probes = if saturated.is_ok() {
        let probe = |cert: ClientCert| {
            let url = server.url(&format!("{LIST_PATH}?limit=500&probe=[1-{PROBE_REQUESTS}]"));
            let ca_file = server.file("ca.crt");
            async move { requests(&url, &ca_file, &cert, Pace::PerSecond(PROBE_RATE)).await }
        };
        Some(tokio::join!(probe(bob.clone()), probe(admin.clone())))
    } else {
        None
    };
    stop.store(true, Ordering::Relaxed);
    let mut flooded = Vec::new();
    for task in floods {
        flooded.extend(task.await??);
    }
    saturated.with_context(|| server.log())?;
    let (bob_samples, admin_samples) = probes.context("no probes were made")?;
    let (bob_samples, admin_samples) = (bob_samples?, admin_samples?);

    let levels = debug(&server, "dump_priority_levels").await?;
    println!("{test}:");
    report("alice (flooding)", &flooded);
    report("bob", &bob_samples);
    report("admin (exempt)", &admin_samples);
    println!("dump_priority_levels after the flood:\n{levels}");

    check_flooder(&flooded, &uids)?;
    check_served(
        "bob",
        &bob_samples,
        &uids.tenants_level,
        &uids.tenants_schema,
    )?;
    check_served(
        "admin",
        &admin_samples,
        &uids.exempt_level,
        &uids.exempt_schema,
    )?;
    let tenants = level_row(&levels, "tenants")?;
    ensure!(
        tenants.rejected > 0,
        "dump_priority_levels shows no rejection at tenants:\n{levels}"
    );
    let exempt = level_row(&levels, "exempt")?;
    ensure!(
        exempt.rejected == 0,
        "the exempt level rejected requests:\n{levels}"
    );
    Ok(())
}

/// The uids of `tenants` and `exempt`, level and schema, read as the admin.
async fn uids(server: &ApiServer) -> anyhow::Result<Uids> {
    let uid = |kind: &'static str, name: &'static str| {
        let path = format!("{FLOWCONTROL}/{kind}/{name}");
        async move { uid_of(server, &path).await }
    };
    Ok(Uids {
        tenants_level: uid("prioritylevelconfigurations", "tenants").await?,
        tenants_schema: uid("flowschemas", "tenants").await?,
        exempt_level: uid("prioritylevelconfigurations", "exempt").await?,
        exempt_schema: uid("flowschemas", "exempt").await?,
    })
}

/// Until bob's lists are put in `tenants`: the server reads FlowSchemas from its watch
/// cache, a moment after kubectl created them.
async fn wait_for_tenants_level(
    server: &ApiServer,
    bob: &ClientCert,
    uids: &Uids,
) -> anyhow::Result<()> {
    let bob = Credential::Cert(bob.clone());
    wait_for(
        "bob's requests to be classified into the tenants level",
        PICKUP_TIMEOUT,
        POLL_INTERVAL,
        || async {
            let reply = call(server, &bob, "GET", LIST_PATH, None, &[]).await?;
            reply.expect_code(200, "bob lists configmaps")?;
            let level = reply.header(PRIORITY_LEVEL_UID).unwrap_or_default();
            let schema = reply.header(FLOW_SCHEMA_UID).unwrap_or_default();
            if level == uids.tenants_level && schema == uids.tenants_schema {
                return Ok(Some(()));
            }
            anyhow::bail!("bob's answer names level {level:?} and schema {schema:?}")
        },
    )
    .await
}

/// kube's split of the server's seats by shares: `ceil(6 × 100 / (245 + 100))` = 2 for
/// `tenants`, on `/metrics` as `apiserver_flowcontrol_nominal_limit_seats`.
async fn check_split(server: &ApiServer) -> anyhow::Result<()> {
    let expected =
        (SERVER_CONCURRENCY_LIMIT * TENANTS_SHARES).div_ceil(BOOTSTRAP_SHARES + TENANTS_SHARES);
    let out = server.curl(&["--fail", &server.url("/metrics")]).await?;
    ensure!(out.status.success(), "GET /metrics: {}", out.stderr);
    let series = "apiserver_flowcontrol_nominal_limit_seats{priority_level=\"tenants\"} ";
    let seats = out
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix(series))
        .with_context(|| format!("no {series}on /metrics:\n{}", out.stdout))?;
    ensure!(
        seats.trim() == expected.to_string(),
        "tenants has {seats} seats, kube's split gives {expected}"
    );
    println!(
        "dump_priority_levels before the flood:\n{}",
        debug(server, "dump_priority_levels").await?
    );
    Ok(())
}

/// alice's flood: curl runs of [`FLOOD_REQUESTS`] lists, [`FLOOD_STREAMS`] at a time, one
/// after another until `stop`; every request's outcome.
async fn flood(
    base: String,
    ca_file: std::path::PathBuf,
    alice: ClientCert,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Vec<Sample>> {
    let url = format!("{base}{LIST_PATH}?limit=500&flood=[1-{FLOOD_REQUESTS}]");
    let mut samples = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        samples.extend(requests(&url, &ca_file, &alice, Pace::Parallel(FLOOD_STREAMS)).await?);
    }
    Ok(samples)
}

/// How curl sends a URL glob's requests.
#[derive(Debug, Clone, Copy)]
enum Pace {
    /// This many at a time, as HTTP/2 streams on one connection.
    Parallel(usize),
    /// One after another on one connection, at most this many a second.
    PerSecond(u32),
}

/// The requests of the curl URL glob `url` as `cert`, at `pace`. curl's run is bounded by
/// `RUN_TIMEOUT`.
async fn requests(
    url: &str,
    ca_file: &std::path::Path,
    cert: &ClientCert,
    pace: Pace,
) -> anyhow::Result<Vec<Sample>> {
    let mut command = Command::new("curl");
    command
        .args(["--silent", "--show-error", "--max-time", "20"])
        .arg("--cacert")
        .arg(ca_file)
        .arg("--cert")
        .arg(&cert.cert)
        .arg("--key")
        .arg(&cert.key)
        .args(["--write-out", WRITE_OUT]);
    // curl takes no `--flag=value`.
    match pace {
        Pace::Parallel(streams) => command
            .args(["--parallel", "--parallel-max"])
            .arg(streams.to_string()),
        Pace::PerSecond(rate) => command.arg("--rate").arg(format!("{rate}/s")),
    };
    command.arg(url);
    let out = run(command).await?;
    let samples: Vec<Sample> = out.stderr.lines().filter_map(parse_sample).collect();
    ensure!(
        !samples.is_empty(),
        "curl reported no request: {:?}\n{}",
        out.status,
        out.stderr
    );
    Ok(samples)
}

/// One line of [`WRITE_OUT`]; `None` for curl's other lines (its error messages).
fn parse_sample(line: &str) -> Option<Sample> {
    let fields: Vec<&str> = line.split('|').collect();
    let [code, seconds, retry_after, level, schema] = fields.as_slice() else {
        return None;
    };
    let seconds: f64 = seconds.parse().ok()?;
    Some(Sample {
        code: code.parse().ok()?,
        latency: Duration::try_from_secs_f64(seconds).ok()?,
        retry_after: retry_after.trim().to_string(),
        priority_level_uid: level.trim().to_string(),
        flow_schema_uid: schema.trim().to_string(),
    })
}

/// Until alice's flood shows at her level: requests waiting in its queues, or rejected.
async fn wait_for_saturation(server: &ApiServer) -> anyhow::Result<()> {
    wait_for(
        "alice's flood to fill the tenants level's queues",
        SATURATION_TIMEOUT,
        POLL_INTERVAL,
        || async {
            let levels = debug(server, "dump_priority_levels").await?;
            let tenants = level_row(&levels, "tenants")?;
            Ok((tenants.waiting > 0 || tenants.rejected > 0).then_some(()))
        },
    )
    .await
}

/// `/debug/api_priority_and_fairness/<dump>` as the admin.
async fn debug(server: &ApiServer, dump: &str) -> anyhow::Result<String> {
    let path = format!("/debug/api_priority_and_fairness/{dump}");
    let out = server.curl(&["--fail", &server.url(&path)]).await?;
    ensure!(out.status.success(), "GET {path}: {}", out.stderr);
    Ok(out.stdout)
}

/// The counts of one level's row of `dump_priority_levels`.
#[derive(Debug)]
struct LevelRow {
    waiting: u64,
    rejected: u64,
}

/// kube's columns: PriorityLevelName, ActiveQueues, IsIdle, IsQuiescing, WaitingRequests,
/// ExecutingRequests, DispatchedRequests, RejectedRequests, ...
fn level_row(dump: &str, level: &str) -> anyhow::Result<LevelRow> {
    let row: Vec<&str> = dump
        .lines()
        .map(|line| line.split(',').map(str::trim).collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&level))
        .with_context(|| format!("no row for {level} in dump_priority_levels:\n{dump}"))?;
    let cell = |index: usize| -> anyhow::Result<u64> {
        let text = row.get(index).context("a short row")?;
        text.parse()
            .with_context(|| format!("cell {index} of {row:?} is not a count"))
    };
    Ok(LevelRow {
        waiting: cell(4)?,
        rejected: cell(7)?,
    })
}

/// alice: some 429s, each with `Retry-After` and from her level (not an earlier limit);
/// everything else served.
fn check_flooder(samples: &[Sample], uids: &Uids) -> anyhow::Result<()> {
    let rejected: Vec<&Sample> = samples.iter().filter(|s| s.code == 429).collect();
    ensure!(
        !rejected.is_empty(),
        "alice's {} requests got no 429",
        samples.len()
    );
    let served = samples.iter().filter(|s| s.code == 200).count();
    ensure!(served > 0, "none of alice's requests was served");
    let odd: Vec<&&Sample> = rejected
        .iter()
        .filter(|s| {
            s.retry_after.is_empty()
                || s.priority_level_uid != uids.tenants_level
                || s.flow_schema_uid != uids.tenants_schema
        })
        .collect();
    ensure!(
        odd.is_empty(),
        "{} of alice's {} 429s lack Retry-After or the tenants PF headers, e.g. {:?}",
        odd.len(),
        rejected.len(),
        odd.first()
    );
    Ok(())
}

/// bob or the admin: every request served (200, no 429), within [`LATENCY_BOUND`] at p99,
/// and classified into `level` by `schema`.
fn check_served(who: &str, samples: &[Sample], level: &str, schema: &str) -> anyhow::Result<()> {
    ensure!(
        samples.len() == PROBE_REQUESTS,
        "{who} made {} requests, not {PROBE_REQUESTS}",
        samples.len()
    );
    let refused: Vec<&Sample> = samples.iter().filter(|s| s.code != 200).collect();
    ensure!(
        refused.is_empty(),
        "{} of {who}'s requests were not served: {refused:?}",
        refused.len()
    );
    let p99 = percentile(samples, 99);
    ensure!(
        p99 <= LATENCY_BOUND,
        "{who}'s p99 latency {p99:?} is over {LATENCY_BOUND:?}"
    );
    let misclassified: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.priority_level_uid != level || s.flow_schema_uid != schema)
        .collect();
    ensure!(
        misclassified.is_empty(),
        "{who}'s answers should name level {level} and schema {schema}: {misclassified:?}"
    );
    Ok(())
}

/// The nearest-rank `p`th percentile of the latencies.
fn percentile(samples: &[Sample], p: usize) -> Duration {
    let mut latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
    latencies.sort();
    let rank = (latencies.len() * p).div_ceil(100).max(1);
    latencies.get(rank - 1).copied().unwrap_or_default()
}

fn report(who: &str, samples: &[Sample]) {
    let count = |code: u16| samples.iter().filter(|s| s.code == code).count();
    let served: Vec<Sample> = samples.iter().filter(|s| s.code == 200).cloned().collect();
    println!(
        "  {who:<18} requests {:>6}  served {:>6}  429s {:>6}  failed {:>4}  \
         served p50 {:>8.1?}  p99 {:>8.1?}  all p99 {:>8.1?}",
        samples.len(),
        served.len(),
        count(429),
        count(0),
        percentile(&served, 50),
        percentile(&served, 99),
        percentile(samples, 99),
    );
}

/// The `Dangling` condition (kubectl's MISSINGPL) of FlowSchema `name`, once it is `want`.
async fn wait_dangling(
    server: &ApiServer,
    kubectl: &std::path::Path,
    name: &str,
    want: &str,
) -> anyhow::Result<()> {
    let jsonpath = "-o=jsonpath={.status.conditions[?(@.type==\"Dangling\")].status}";
    wait_for(
        &format!("FlowSchema {name} Dangling={want}"),
        Duration::from_secs(10),
        Duration::from_millis(200),
        || async {
            let out = server
                .kubectl(kubectl, &["get", "flowschema", name, jsonpath])
                .await?;
            Ok((out.status.success() && out.stdout.trim() == want).then_some(()))
        },
    )
    .await
}

#[tokio::test]
async fn a_flowschema_says_whether_its_priority_level_exists() -> anyhow::Result<()> {
    bounded(async {
        let kubectls = kubectls("a_flowschema_says_whether_its_priority_level_exists")?;
        let Some(kubectl) = kubectls.first() else {
            return Ok(());
        };
        let server = ApiServer::start().await?;
        // Ready means the conditions are written, every bootstrap schema's (/readyz's
        // poststarthook/priority-and-fairness-config-producer): no wait. kube's bootstrap
        // schemas point at levels that exist. (A schema marked after readiness is a write
        // nobody asked for, seen as the store's revision moving.)
        let jsonpath = "-o=jsonpath={range .items[*]}{.metadata.name}=\
            {.status.conditions[?(@.type==\"Dangling\")].status}{\"\\n\"}{end}";
        let out = server
            .kubectl(kubectl, &["get", "flowschemas", jsonpath])
            .await?;
        let lines: Vec<&str> = out.stdout.lines().collect();
        ensure!(
            lines.len() >= 10 && lines.iter().all(|line| line.ends_with("=False")),
            "at /readyz: {out:?}"
        );
        ensure!(lines.contains(&"global-default=False"), "{out:?}");
        let out = server
            .curl(&[&server.url("/readyz/poststarthook/priority-and-fairness-config-producer")])
            .await?;
        ensure!(out.stdout.trim() == "ok", "{out:?}");
        let orphan = json!({
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
            "metadata": {"name": "orphan"},
            "spec": {"priorityLevelConfiguration": {"name": "nowhere"}, "matchingPrecedence": 500,
                "rules": [{"subjects": [{"kind": "User", "user": {"name": "nobody"}}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}]}});
        let out = server
            .kubectl_with_input(kubectl, &["apply", "-f", "-"], Some(&orphan.to_string()))
            .await?;
        ensure!(out.status.success(), "{out:?}");
        wait_dangling(&server, kubectl, "orphan", "True").await?;
        let level = json!({
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
            "metadata": {"name": "nowhere"},
            "spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Reject"}}}});
        let out = server
            .kubectl_with_input(kubectl, &["apply", "-f", "-"], Some(&level.to_string()))
            .await?;
        ensure!(out.status.success(), "{out:?}");
        wait_dangling(&server, kubectl, "orphan", "False").await
    })
    .await
}
