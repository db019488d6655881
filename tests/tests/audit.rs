//! Issue 7's audit logging end to end, on a real `kubesim apiserver` over a real store
//! (`KUBESIM_E2E_TARGET`) with both of kube's backends: `--audit-log-path` (JSON lines) and
//! `--audit-webhook-config-file` pointing at the audit-sink sample (`kubesim webhook
//! audit-sink`, its own process with a serving certificate).
//!
//! - The audit of a series of kubectl commands, under a policy of RequestResponse for
//!   configmaps, Metadata for the rest and None for the health and debug endpoints: a create
//!   (RequestReceived, then ResponseComplete with both bodies, 201 and kube's
//!   `authorization.k8s.io/*` annotations), a 403 (the decision `forbid`), a create denied by
//!   a validating webhook (its 403, PodSecurity's audit annotation) and a watch
//!   (RequestReceived, ResponseStarted, ResponseComplete); then the same events at the sink.
//! - The sink killed under load: every request still served in time, and the events that
//!   can no longer be sent dropped and counted in `apiserver_audit_error_total{plugin="webhook"}`.
//!
//! kubectl prints no `Audit-Id`, so a command's events are found by what they are about
//! (verb, objectRef, user, requestURI): each search must find exactly one auditID.
//!
//! Without kubectl or curl a test skips with a line on stderr, unless `KUBESIM_E2E=1` makes
//! it fail.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use kubesim_tests::admission::{
    Hook, Kind, ServingCa, Transport, WebhookProcess, configuration, create_configuration,
    wait_for_webhooks,
};
use kubesim_tests::apiserver::{ApiServer, flag_path, run};
use kubesim_tests::audit::{AuditSink, metric, read_log, write_policy};
use kubesim_tests::auth::{
    Ca, Credential, Kubectl, Validity, create, every_kubectl, kubeconfig, namespace,
};
use kubesim_tests::{bounded, wait_for};
use serde_json::{Value, json};
use tokio::process::Command;

/// RequestResponse for configmaps, Metadata for everything else, nothing for the probes and
/// the debug endpoints the harness polls.
const POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  nonResourceURLs: ["/readyz", "/readyz/*", "/livez", "/livez/*", "/healthz", "/healthz/*"]
- level: None
  nonResourceURLs: ["/debug/*", "/metrics"]
- level: RequestResponse
  resources:
  - group: ""
    resources: ["configmaps"]
- level: Metadata
"#;
const NS: &str = "audit";
const WEBHOOK: &str = "no-privileged.kubesim.io";
/// The watch `kubectl get --raw` makes, its query in the order kubectl sends it (sorted).
const WATCH_URI: &str = "/api/v1/namespaces/audit/configmaps?timeoutSeconds=2&watch=1";
const PAUSE: &str = "registry.k8s.io/pause:3.10";
/// How long the events may take to reach the log (its writer thread) and the sink (a batch
/// waits at most `--audit-webhook-batch-max-wait=1s`).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Requests made while the sink is dead, and the longest any of them may take: the webhook
/// backend never holds a request up.
const REQUESTS_WHILE_DEAD: usize = 300;
const REQUEST_BOUND: Duration = Duration::from_secs(2);
/// How long the drop counter may take to rise: a batch waits 1 s, then 4 retries from
/// 100 ms growing 1.5× (about 0.8 s), or the small buffer fills at once.
const DROP_TIMEOUT: Duration = Duration::from_secs(30);
const WEBHOOK_ERRORS: &str = "apiserver_audit_error_total{plugin=\"webhook\"}";
const EVENTS_TOTAL: &str = "apiserver_audit_event_total";

/// The newest kubectl, and a directory for the test's files; `None` when kubectl or curl is
/// missing (skipped).
fn tools(test: &str) -> anyhow::Result<Option<(Kubectl, tempfile::TempDir)>> {
    let files = tempfile::Builder::new()
        .prefix("kubesim-audit-")
        .tempdir()?;
    let kubectl = every_kubectl(test, files.path())?.pop();
    Ok(kubectl.map(|kubectl| (kubectl, files)))
}

/// The server's audit flags for `sink`, `policy` and the log at `log` (none when `None`),
/// with `extra` after them.
fn audit_flags(sink: &AuditSink, policy: &Path, log: Option<&Path>, extra: &[&str]) -> Vec<String> {
    let mut flags = vec![
        flag_path("--audit-policy-file", policy),
        flag_path("--audit-webhook-config-file", &sink.kubeconfig()),
        "--audit-webhook-batch-max-wait=1s".to_string(),
    ];
    if let Some(log) = log {
        flags.push(flag_path("--audit-log-path", log));
    }
    flags.extend(extra.iter().map(|flag| flag.to_string()));
    flags
}

// ---------------------------------------------------------------------------------------------
// The audit of kubectl commands
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn kubectl_commands_are_audited_in_the_log_and_at_the_sink() -> anyhow::Result<()> {
    bounded(commands_scenario()).await
}

async fn commands_scenario() -> anyhow::Result<()> {
    let test = "kubectl_commands_are_audited_in_the_log_and_at_the_sink";
    let Some((kubectl, files)) = tools(test)? else {
        return Ok(());
    };
    let ca = ServingCa::new("audit-ca")?;
    let sink = AuditSink::start(&ca).await?;
    let policy = write_policy(files.path(), POLICY)?;
    let log = files.path().join("audit.log");
    let mut flags = audit_flags(&sink, &policy, Some(&log), &[]);
    flags.push("--authorization-mode=Node,RBAC".to_string());
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = ApiServer::start_with(&flags).await?;
    let admin = server.file("kubeconfig");
    create(&server, "/api/v1/namespaces", &namespace(NS)).await?;

    // 1. A create, as the admin.
    let out = kubectl
        .ok(
            &admin,
            &[
                "-n",
                NS,
                "create",
                "configmap",
                "audited",
                "--from-literal=color=blue",
            ],
        )
        .await?;
    ensure!(
        out == "configmap/audited created\n",
        "kubectl create: {out}"
    );

    // 2. A 403: eve has a valid certificate and no RBAC binding.
    let eve = Ca::kubesim(server.dir.path())?.client_cert(
        files.path(),
        "eve",
        "eve",
        &[],
        Validity::Current,
    )?;
    let eve = kubeconfig(&server, files.path(), "eve", &Credential::Cert(eve))?;
    let out = kubectl
        .fails(&eve, &["-n", NS, "get", "configmap", "audited"])
        .await?;
    let forbidden = "configmaps \"audited\" is forbidden: User \"eve\" cannot get resource \
                     \"configmaps\" in API group \"\" in the namespace \"audit\"";
    ensure!(
        out.stderr == format!("Error from server (Forbidden): {forbidden}\n"),
        "eve's kubectl get: {}",
        out.stderr
    );

    // 3. A create denied by a validating webhook.
    let guard = WebhookProcess::sample("no-privileged", &[], &ca).await?;
    let hook = Hook::new(WEBHOOK, &guard.url("/validate"), &ca.ca_bundle()).in_namespaces(&[NS]);
    let config = configuration(Kind::Validating, "no-privileged", Transport::Https, &[hook]);
    create_configuration(&server, &config).await?;
    wait_for_webhooks(&server, NS, &[WEBHOOK]).await?;
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "privileged"},
        "spec": {"containers": [{"name": "web", "image": PAUSE,
                                 "securityContext": {"privileged": true}}]},
    });
    let pod_file = files.path().join("privileged.json");
    std::fs::write(&pod_file, pod.to_string())?;
    let pod_file = pod_file.display().to_string();
    let out = kubectl
        .fails(&admin, &["-n", NS, "create", "-f", &pod_file])
        .await?;
    let denied = format!("admission webhook \"{WEBHOOK}\" denied the request");
    ensure!(
        out.stderr.contains("(Forbidden)") && out.stderr.contains(&denied),
        "kubectl create of a privileged pod: {}",
        out.stderr
    );

    // 4. A watch the server ends after 2 s.
    let out = kubectl.ok(&admin, &["get", "--raw", WATCH_URI]).await?;
    ensure!(
        out.contains("\"type\":\"ADDED\"") && out.contains("\"name\":\"audited\""),
        "the watch's events: {out}"
    );

    let requests = wait_for(
        "the four commands' events in the audit log",
        DELIVERY_TIMEOUT,
        POLL_INTERVAL,
        || async { Ok(Some(logged_requests(&read_log(&log)?)?)) },
    )
    .await
    .with_context(|| server.log())?;
    let events = read_log(&log)?;
    check_create(&requests.create)?;
    check_forbidden(&requests.forbidden, forbidden)?;
    check_denied(&requests.denied, &denied)?;
    check_watch(&requests.watch)?;
    let probes: Vec<&Value> = events
        .iter()
        .filter(|event| str_at(event, "/requestURI").starts_with("/readyz"))
        .collect();
    ensure!(
        probes.is_empty(),
        "the policy says None for /readyz, yet: {probes:?}"
    );

    let all: Vec<&Value> = [
        &requests.create,
        &requests.forbidden,
        &requests.denied,
        &requests.watch,
    ]
    .into_iter()
    .flatten()
    .collect();
    wait_for_sink(&sink, &all).await.with_context(|| sink.log())
}

/// Each command's events, in the order logged.
struct Logged {
    create: Vec<Value>,
    forbidden: Vec<Value>,
    denied: Vec<Value>,
    watch: Vec<Value>,
}

/// Finds each command's request in the log; fails (to be polled again) while one has not
/// completed yet.
fn logged_requests(events: &[Value]) -> anyhow::Result<Logged> {
    let about = |event: &Value, verb: &str, resource: &str| {
        event["verb"] == verb
            && event["objectRef"]["resource"] == resource
            && event["objectRef"]["namespace"] == NS
    };
    let logged = Logged {
        create: request(events, "the configmap create", |e| {
            about(e, "create", "configmaps")
        })?,
        forbidden: request(events, "eve's get", |e| {
            about(e, "get", "configmaps") && e["user"]["username"] == "eve"
        })?,
        denied: request(events, "the denied pod create", |e| {
            about(e, "create", "pods") && !str_at(e, "/requestURI").contains("dryRun")
        })?,
        watch: request(events, "the watch", |e| about(e, "watch", "configmaps"))?,
    };
    for request in [
        &logged.create,
        &logged.forbidden,
        &logged.denied,
        &logged.watch,
    ] {
        let completed = request
            .iter()
            .any(|event| event["stage"] == "ResponseComplete");
        ensure!(completed, "not completed yet: {request:?}");
    }
    Ok(logged)
}

/// The events of the one request (one auditID) whose events `matches` picks, in log order.
fn request(
    events: &[Value],
    what: &str,
    matches: impl Fn(&Value) -> bool,
) -> anyhow::Result<Vec<Value>> {
    let ids: BTreeSet<&str> = events
        .iter()
        .filter(|event| matches(event))
        .map(|event| str_at(event, "/auditID"))
        .collect();
    let ids: Vec<&str> = ids.into_iter().collect();
    let [id] = ids.as_slice() else {
        bail!("{what}: expected the events of one request, found auditIDs {ids:?}");
    };
    Ok(events
        .iter()
        .filter(|event| event["auditID"] == *id)
        .cloned()
        .collect())
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The stages of `events`, in order.
fn stages(events: &[Value]) -> Vec<&str> {
    events.iter().map(|event| str_at(event, "/stage")).collect()
}

/// The event at `stage`.
fn at<'a>(events: &'a [Value], stage: &str) -> anyhow::Result<&'a Value> {
    events
        .iter()
        .find(|event| event["stage"] == stage)
        .with_context(|| format!("no {stage} event in {events:#?}"))
}

/// Fails naming every one of `checks` (what kube writes, and whether the event has it) that
/// does not hold, with the whole event.
fn expect(what: &str, event: &Value, checks: &[(&str, bool)]) -> anyhow::Result<()> {
    let failed: Vec<&str> = checks
        .iter()
        .filter(|(_, holds)| !holds)
        .map(|(check, _)| *check)
        .collect();
    ensure!(
        failed.is_empty(),
        "{what}: expected {failed:?} (as kube-apiserver writes it) in {event:#}"
    );
    Ok(())
}

/// What every event of a request shares: kube's kind and apiVersion, the level, the user.
fn check_common(events: &[Value], level: &str, user: &str) -> anyhow::Result<()> {
    for event in events {
        ensure!(
            event["kind"] == "Event"
                && event["apiVersion"] == "audit.k8s.io/v1"
                && event["level"] == level
                && event["user"]["username"] == user
                && !str_at(event, "/requestReceivedTimestamp").is_empty()
                && !str_at(event, "/stageTimestamp").is_empty(),
            "expected an audit.k8s.io/v1 Event at level {level} by {user}: {event:#}"
        );
    }
    Ok(())
}

/// kube's authorization filter always writes both annotations; the reason is often empty
/// (`system:masters` and RBAC's denials give none).
fn check_authorization(event: &Value, decision: &str) -> anyhow::Result<()> {
    let annotations = &event["annotations"];
    ensure!(
        annotations["authorization.k8s.io/decision"] == decision
            && annotations["authorization.k8s.io/reason"].is_string(),
        "expected annotations authorization.k8s.io/decision={decision} and \
         authorization.k8s.io/reason: {annotations}"
    );
    Ok(())
}

/// RequestReceived without bodies, then ResponseComplete with both, 201, and the name kube
/// takes from the request object.
fn check_create(events: &[Value]) -> anyhow::Result<()> {
    ensure!(
        stages(events) == ["RequestReceived", "ResponseComplete"],
        "the create's stages: {events:#?}"
    );
    check_common(events, "RequestResponse", "kubesim-admin")?;
    let received = at(events, "RequestReceived")?;
    ensure!(
        received.get("requestObject").is_none()
            && received.get("responseObject").is_none()
            && received.get("responseStatus").is_none(),
        "RequestReceived carries no bodies and no status: {received:#}"
    );
    let complete = at(events, "ResponseComplete")?;
    let groups = complete["user"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let request_uri = str_at(complete, "/requestURI");
    let checks = [
        (
            "requestURI /api/v1/namespaces/audit/configmaps?...",
            request_uri.starts_with("/api/v1/namespaces/audit/configmaps"),
        ),
        (
            "user.groups with system:masters",
            groups.contains(&json!("system:masters")),
        ),
        // kube's LogRequestObject completes objectRef from the decoded request object.
        (
            "objectRef.name audited",
            complete["objectRef"]["name"] == "audited",
        ),
        (
            "objectRef.apiVersion v1",
            complete["objectRef"]["apiVersion"] == "v1",
        ),
        // A create's request object has no uid or resourceVersion yet, and kube does not
        // take them from the response.
        (
            "objectRef without uid",
            complete["objectRef"].get("uid").is_none(),
        ),
        // kubectl sends the configmap as protobuf; kube records the decoded object as JSON.
        (
            "requestObject.kind ConfigMap",
            complete["requestObject"]["kind"] == "ConfigMap",
        ),
        (
            "requestObject.data {color: blue}",
            complete["requestObject"]["data"] == json!({"color": "blue"}),
        ),
        (
            "responseObject.metadata.name audited",
            complete["responseObject"]["metadata"]["name"] == "audited",
        ),
        (
            "responseObject.metadata.uid",
            !str_at(complete, "/responseObject/metadata/uid").is_empty(),
        ),
        (
            "responseStatus.code 201",
            complete["responseStatus"]["code"] == 201,
        ),
    ];
    expect("the create's ResponseComplete", complete, &checks)?;
    check_authorization(complete, "allow")
}

/// The ResponseComplete of a refused request, after checking it has exactly its two stages
/// and the fields every event of the request shares.
fn refused<'a>(
    events: &'a [Value],
    what: &str,
    level: &str,
    user: &str,
) -> anyhow::Result<&'a Value> {
    ensure!(
        stages(events) == ["RequestReceived", "ResponseComplete"],
        "{what}'s stages: {events:#?}"
    );
    check_common(events, level, user)?;
    at(events, "ResponseComplete")
}

/// RequestReceived, then ResponseComplete with kube's 403 Status and the decision `forbid`.
fn check_forbidden(events: &[Value], message: &str) -> anyhow::Result<()> {
    let complete = refused(events, "the 403", "RequestResponse", "eve")?;
    let status = &complete["responseStatus"];
    let checks = [
        ("responseStatus.code 403", status["code"] == 403),
        (
            "responseStatus.status Failure",
            status["status"] == "Failure",
        ),
        (
            "responseStatus.reason Forbidden",
            status["reason"] == "Forbidden",
        ),
        (
            "responseStatus.message kube's",
            status["message"] == message,
        ),
        (
            "objectRef.name audited",
            complete["objectRef"]["name"] == "audited",
        ),
    ];
    expect("the 403's ResponseComplete", complete, &checks)?;
    check_authorization(complete, "forbid")
}

/// RequestReceived, then ResponseComplete with the webhook's denial (403, as kubectl showed
/// it), the admin allowed, and PodSecurity's annotation from before the webhook ran.
fn check_denied(events: &[Value], denied: &str) -> anyhow::Result<()> {
    let complete = refused(events, "the denied create", "Metadata", "kubesim-admin")?;
    let status = &complete["responseStatus"];
    let checks = [
        ("responseStatus.code 403", status["code"] == 403),
        (
            "responseStatus.status Failure",
            status["status"] == "Failure",
        ),
        (
            "responseStatus.message the webhook's denial",
            str_at(status, "/message").starts_with(denied),
        ),
        // kube's LogRequestObject completes objectRef at level Metadata too.
        (
            "objectRef.name privileged",
            complete["objectRef"]["name"] == "privileged",
        ),
        (
            "no requestObject at level Metadata",
            complete.get("requestObject").is_none(),
        ),
        (
            "annotation pod-security.kubernetes.io/enforce-policy privileged:latest",
            complete["annotations"]["pod-security.kubernetes.io/enforce-policy"]
                == "privileged:latest",
        ),
    ];
    expect("the denied create's ResponseComplete", complete, &checks)?;
    check_authorization(complete, "allow")
}

/// RequestReceived, ResponseStarted when the stream starts, ResponseComplete when it ends.
fn check_watch(events: &[Value]) -> anyhow::Result<()> {
    ensure!(
        stages(events) == ["RequestReceived", "ResponseStarted", "ResponseComplete"],
        "the watch's stages: {events:#?}"
    );
    check_common(events, "RequestResponse", "kubesim-admin")?;
    for event in events {
        ensure!(
            event["requestURI"] == WATCH_URI,
            "the watch's requestURI: {event:#}"
        );
    }
    let complete = at(events, "ResponseComplete")?;
    ensure!(
        complete["responseStatus"]["code"] == 200,
        "the watch's ResponseComplete: {complete:#}"
    );
    check_authorization(complete, "allow")
}

/// Until the sink has recorded every one of `events` (its auditID and stage) with the same
/// level, verb, user and response code.
async fn wait_for_sink(sink: &AuditSink, events: &[&Value]) -> anyhow::Result<()> {
    wait_for(
        "the logged events at the audit sink",
        DELIVERY_TIMEOUT,
        POLL_INTERVAL,
        || async {
            let (records, dropped) = sink.events().await?;
            let missing: Vec<String> = events
                .iter()
                .filter(|event| !records.iter().any(|record| same_event(event, record)))
                .map(|event| format!("{} {}", str_at(event, "/auditID"), str_at(event, "/stage")))
                .collect();
            if missing.is_empty() {
                return Ok(Some(()));
            }
            bail!(
                "{} of {} events not at the sink ({} records, {dropped} pushed out): {missing:?}",
                missing.len(),
                events.len(),
                records.len()
            )
        },
    )
    .await
}

/// Whether the sink's `record` is the logged `event`.
fn same_event(event: &Value, record: &Value) -> bool {
    record["auditID"] == event["auditID"]
        && record["stage"] == event["stage"]
        && record["level"] == event["level"]
        && record["verb"] == event["verb"]
        && record["requestURI"] == event["requestURI"]
        && record["user"] == event["user"]["username"]
        && record.get("responseCode") == event.pointer("/responseStatus/code")
}

// ---------------------------------------------------------------------------------------------
// A dead webhook
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_dead_audit_webhook_drops_events_not_requests() -> anyhow::Result<()> {
    bounded(dead_webhook_scenario()).await
}

async fn dead_webhook_scenario() -> anyhow::Result<()> {
    let test = "a_dead_audit_webhook_drops_events_not_requests";
    let Some((_kubectl, files)) = tools(test)? else {
        return Ok(());
    };
    let ca = ServingCa::new("audit-ca")?;
    let mut sink = AuditSink::start(&ca).await?;
    let policy = write_policy(files.path(), POLICY)?;
    let extra = [
        "--audit-webhook-initial-backoff=100ms",
        "--audit-webhook-batch-buffer-size=100",
    ];
    let flags = audit_flags(&sink, &policy, None, &extra);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = ApiServer::start_with(&flags).await?;

    // The sink receives events while it lives, and nothing has been dropped.
    wait_for(
        "the first events at the audit sink",
        DELIVERY_TIMEOUT,
        POLL_INTERVAL,
        || async { Ok((!sink.events().await?.0.is_empty()).then_some(())) },
    )
    .await
    .with_context(|| server.log())?;
    let before = metric(&server, WEBHOOK_ERRORS).await?;
    ensure!(
        before == Some(0.0),
        "{WEBHOOK_ERRORS} before the sink died: {before:?}"
    );

    sink.kill().await?;
    let latencies = requests_as_admin(&server, REQUESTS_WHILE_DEAD).await?;
    let slowest = latencies.iter().max().copied().unwrap_or_default();
    println!(
        "{test}: {} requests while the sink was dead, slowest {slowest:?}",
        latencies.len()
    );
    ensure!(
        slowest <= REQUEST_BOUND,
        "a request took {slowest:?} while the audit webhook was dead (bound {REQUEST_BOUND:?})"
    );

    let dropped = wait_for(
        "the webhook's drop counter to rise",
        DROP_TIMEOUT,
        POLL_INTERVAL,
        || async {
            let errors = metric(&server, WEBHOOK_ERRORS).await?.unwrap_or(0.0);
            Ok((errors > 0.0).then_some(errors))
        },
    )
    .await
    .with_context(|| server.log())?;
    let generated = metric(&server, EVENTS_TOTAL).await?.unwrap_or(0.0);
    println!("{test}: {EVENTS_TOTAL} {generated}, {WEBHOOK_ERRORS} {dropped}");
    // Two events (RequestReceived, ResponseComplete) per request made while it was dead.
    let floor = (2 * REQUESTS_WHILE_DEAD) as f64;
    ensure!(
        generated >= floor,
        "{EVENTS_TOTAL} is {generated}, below the {floor} events of the requests made"
    );
    Ok(())
}

/// `count` GETs of the `default` namespace as the admin, one after another on one
/// connection; each must be a 200. Their latencies.
async fn requests_as_admin(server: &ApiServer, count: usize) -> anyhow::Result<Vec<Duration>> {
    let mut command = Command::new("curl");
    command
        .args(["--silent", "--show-error", "--max-time", "20"])
        .arg("--cacert")
        .arg(server.file("ca.crt"))
        .arg("--cert")
        .arg(server.file("admin.crt"))
        .arg("--key")
        .arg(server.file("admin.key"))
        .args(["--write-out", "%{stderr}%{http_code} %{time_total}\n"])
        .arg(server.url(&format!("/api/v1/namespaces/default?request=[1-{count}]")));
    let out = run(command).await?;
    let mut latencies = Vec::with_capacity(count);
    for line in out.stderr.lines() {
        let Some((code, seconds)) = line.split_once(' ') else {
            bail!("curl: {line}");
        };
        ensure!(
            code == "200",
            "a request while the sink was dead: HTTP {code}"
        );
        latencies.push(Duration::try_from_secs_f64(seconds.parse()?)?);
    }
    ensure!(
        latencies.len() == count,
        "{} of {count} requests answered: {}",
        latencies.len(),
        out.stderr
    );
    Ok(latencies)
}
