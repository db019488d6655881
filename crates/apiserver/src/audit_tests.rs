//! The audit stage driven through the chain with in-memory requests: an [`Auditor`] built
//! from a policy file with a log backend, and the events it writes for a success, a failed
//! authentication, a refusal, a policy rule's omitted stage, level None and a panic.
//!
//! The log backend writes from its own thread and the auditor keeps it private, so the tests
//! poll the file (at most [`LOG_WAIT`]). An event that must *not* be there is checked after a
//! later request's events have appeared: the writer keeps the order events were sent in.

use std::path::Path;

use http_body_util::Full;
use hyper::{Request, Response};

use super::*;
use crate::ApiServerConfig;
use crate::chain::{AUDIT_ID_HEADER, Chain};
use crate::response::Body;
use crate::routes::Routes;
use crate::routes::test_hooks::PANIC as TEST_PANIC_PATH;

/// The longest a test waits for the writer thread to put events in the file.
const LOG_WAIT: Duration = Duration::from_secs(5);
/// The token of user `alice` (uid `alice-uid`, group `dev`) in the token file.
const ALICE_TOKEN: &str = "alice-token";

/// `/livez` is not audited, `/readyz` only once complete, everything else at Metadata.
const POLICY: &str = r#"
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  nonResourceURLs: ["/livez*"]
- level: Metadata
  nonResourceURLs: ["/readyz*"]
  omitStages: ["RequestReceived"]
- level: Metadata
"#;

/// A chain with an auditor over [`POLICY`] and a log backend, and the files behind them.
struct Audited {
    chain: Chain,
    log: PathBuf,
    /// Holds the policy, token and log files until the test ends.
    _dir: tempfile::TempDir,
}

/// The chain of `authorization_modes` (kube's `--authorization-mode`) with alice's token.
/// Must run inside the runtime (`Auditor::build`).
fn audited(authorization_modes: &str) -> Audited {
    let dir = tempfile::tempdir().unwrap();
    let policy_file = dir.path().join("policy.yaml");
    std::fs::write(&policy_file, POLICY).unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, format!("{ALICE_TOKEN},alice,alice-uid,dev\n")).unwrap();
    let log = dir.path().join("audit.log");
    let options = AuditOptions {
        policy_file: Some(policy_file),
        log: Some(LogOptions {
            path: log.clone(),
            ..LogOptions::default()
        }),
        ..AuditOptions::default()
    };
    let env = Env::production(std::env::temp_dir());
    let auditor = Auditor::build(&options, &env).unwrap();
    assert!(auditor.is_some(), "a policy and a log path audit");
    let mut config = ApiServerConfig::new("127.0.0.1:0", "unused".into(), "unused".into());
    config.auth.token_auth_file = Some(tokens);
    config.auth.authorization_modes = authorization_modes.to_string();
    let chain = chain_with(&config, &env).with_auditor(auditor);
    Audited {
        chain,
        log,
        _dir: dir,
    }
}

/// The chain as `chain_tests.rs` builds it: no storage.
fn chain_with(config: &ApiServerConfig, env: &Env) -> Chain {
    let routes = Routes::without_storage(config.max_request_body_bytes);
    let security = crate::security::build(&config.auth, None, env, None).unwrap();
    Chain::new(config, routes, Arc::new(security), env.entropy.clone())
}

fn request(method: &str, path: &str) -> hyper::http::request::Builder {
    Request::builder().method(method).uri(path)
}

fn as_alice(builder: hyper::http::request::Builder) -> hyper::http::request::Builder {
    builder.header("Authorization", format!("Bearer {ALICE_TOKEN}"))
}

/// Sends a request with an empty body; returns its response and its `Audit-Id`.
async fn send(chain: &Chain, builder: hyper::http::request::Builder) -> (Response<Body>, String) {
    let response = chain
        .handle(builder.body(Full::new(bytes::Bytes::new())).unwrap())
        .await;
    let audit_id = response.headers()[AUDIT_ID_HEADER]
        .to_str()
        .unwrap()
        .to_string();
    (response, audit_id)
}

/// Every whole line of the log, parsed; a line being written is left for the next look.
fn read_log(log: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not an event ({e}): {line}"))
        })
        .collect()
}

fn events_of(log: &Path, audit_id: &str) -> Vec<Value> {
    read_log(log)
        .into_iter()
        .filter(|event| event["auditID"] == audit_id)
        .collect()
}

/// The events of `audit_id` once its `stage` event is in the log (at most [`LOG_WAIT`]).
async fn events_until(log: &Path, audit_id: &str, stage: &str) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + LOG_WAIT;
    loop {
        let events = events_of(log, audit_id);
        if events.iter().any(|event| event["stage"] == stage) {
            return events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {stage} event for {audit_id} in {LOG_WAIT:?}: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends a request audited at Metadata and waits for its `ResponseComplete`: whatever was
/// sent to the backend before it is in the log then.
async fn settle(audited: &Audited) {
    let (_, audit_id) = send(&audited.chain, request("GET", "/version")).await;
    events_until(&audited.log, &audit_id, "ResponseComplete").await;
}

fn stages(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["stage"].as_str().unwrap_or(""))
        .collect()
}

#[tokio::test]
async fn a_get_of_version_is_received_then_complete_at_metadata() {
    let audited = audited("AlwaysAllow");
    let builder = as_alice(request("GET", "/version")).header("User-Agent", "kubectl/v1.33.0");
    let (response, audit_id) = send(&audited.chain, builder).await;
    assert_eq!(response.status(), 200);
    let events = events_until(&audited.log, &audit_id, "ResponseComplete").await;
    assert_eq!(stages(&events), ["RequestReceived", "ResponseComplete"]);
    for event in &events {
        assert_eq!(event["kind"], "Event");
        assert_eq!(event["apiVersion"], "audit.k8s.io/v1");
        assert_eq!(event["level"], "Metadata");
        assert_eq!(event["verb"], "get");
        assert_eq!(event["requestURI"], "/version");
        assert_eq!(event["userAgent"], "kubectl/v1.33.0");
        assert_eq!(event["user"]["username"], "alice");
        assert_eq!(event["user"]["uid"], "alice-uid");
        assert_eq!(
            event["user"]["groups"],
            json!(["dev", "system:authenticated"])
        );
        // A non-resource request has no objectRef; Metadata records no bodies.
        assert!(event.get("objectRef").is_none(), "{event}");
        assert!(event.get("responseObject").is_none(), "{event}");
        // MicroTimes of one format: their text sorts as their time.
        let received = event["requestReceivedTimestamp"].as_str().unwrap();
        let stage = event["stageTimestamp"].as_str().unwrap();
        assert_eq!(
            received.len(),
            "2026-01-01T00:00:00.000000Z".len(),
            "{received}"
        );
        assert!(stage >= received, "{stage} before {received}");
    }
    assert!(events[0].get("responseStatus").is_none(), "{}", events[0]);
    assert_eq!(
        events[1]["responseStatus"],
        json!({"metadata": {}, "code": 200})
    );
    // AlwaysAllow gives no reason; kube writes the empty one all the same.
    assert_eq!(
        events[1]["annotations"],
        json!({"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""})
    );
    assert_eq!(
        events[0]["requestReceivedTimestamp"],
        events[1]["requestReceivedTimestamp"]
    );
    // kube stamps RequestReceived with the time the request was received.
    assert_eq!(
        events[0]["stageTimestamp"],
        events[0]["requestReceivedTimestamp"]
    );
}

#[tokio::test]
async fn an_impersonated_user_is_recorded_beside_the_one_who_asked() {
    let audited = audited("AlwaysAllow");
    let builder = as_alice(request("GET", "/version")).header("Impersonate-User", "bob");
    let (response, audit_id) = send(&audited.chain, builder).await;
    assert_eq!(response.status(), 200);
    let events = events_until(&audited.log, &audit_id, "ResponseComplete").await;
    let complete = events.last().unwrap();
    assert_eq!(complete["user"]["username"], "alice");
    assert_eq!(complete["impersonatedUser"]["username"], "bob");
}

#[tokio::test]
async fn a_failed_authentication_is_one_response_started_event_with_the_401() {
    let audited = audited("AlwaysAllow");
    let builder = request("GET", "/api/v1/namespaces").header("Authorization", "Bearer wrong");
    let (response, audit_id) = send(&audited.chain, builder).await;
    assert_eq!(response.status(), 401);
    events_until(&audited.log, &audit_id, "ResponseStarted").await;
    settle(&audited).await;
    let events = events_of(&audited.log, &audit_id);
    assert_eq!(stages(&events), ["ResponseStarted"]);
    let event = &events[0];
    assert_eq!(event["level"], "Metadata");
    assert_eq!(
        event["responseStatus"],
        json!({"metadata": {}, "message": "Authentication failed, attempted: bearer", "code": 401})
    );
    assert_eq!(event["verb"], "list");
    assert_eq!(event["requestURI"], "/api/v1/namespaces");
    // Nobody was authenticated.
    assert_eq!(event["user"], json!({"username": ""}));
    assert_eq!(
        event["objectRef"],
        json!({"resource": "namespaces", "apiVersion": "v1"})
    );
}

#[tokio::test]
async fn a_forbidden_request_completes_with_the_403_and_the_decision() {
    let audited = audited("AlwaysDeny");
    let path = "/api/v1/namespaces/default/pods";
    let (response, audit_id) = send(&audited.chain, as_alice(request("GET", path))).await;
    assert_eq!(response.status(), 403);
    let events = events_until(&audited.log, &audit_id, "ResponseComplete").await;
    assert_eq!(stages(&events), ["RequestReceived", "ResponseComplete"]);
    let complete = &events[1];
    assert_eq!(complete["verb"], "list");
    assert_eq!(
        complete["objectRef"],
        json!({"resource": "pods", "namespace": "default", "apiVersion": "v1"})
    );
    let status = &complete["responseStatus"];
    assert_eq!(status["code"], 403);
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "Forbidden");
    let annotations = &complete["annotations"];
    assert_eq!(annotations["authorization.k8s.io/decision"], "forbid");
    assert_eq!(
        annotations["authorization.k8s.io/reason"],
        "Everything is forbidden."
    );
    // The decision comes after RequestReceived, so that event has none.
    assert!(events[0].get("annotations").is_none(), "{}", events[0]);
}

#[tokio::test]
async fn a_rule_that_omits_request_received_records_only_the_completion() {
    let audited = audited("AlwaysAllow");
    let (response, audit_id) = send(&audited.chain, request("GET", "/readyz")).await;
    assert_eq!(response.status(), 200);
    let events = events_until(&audited.log, &audit_id, "ResponseComplete").await;
    assert_eq!(stages(&events), ["ResponseComplete"]);
    assert_eq!(events[0]["responseStatus"]["code"], 200);
    assert_eq!(events[0]["user"]["username"], "system:anonymous");
}

#[tokio::test]
async fn level_none_records_nothing() {
    let audited = audited("AlwaysAllow");
    let (response, audit_id) = send(&audited.chain, request("GET", "/livez")).await;
    assert_eq!(response.status(), 200);
    settle(&audited).await;
    assert_eq!(events_of(&audited.log, &audit_id), Vec::<Value>::new());
    // The settling request itself was recorded, so the log was written to.
    assert!(!read_log(&audited.log).is_empty());
}

#[tokio::test]
async fn a_panic_is_a_panic_event_with_a_500() {
    let audited = audited("AlwaysAllow");
    let (response, audit_id) = send(&audited.chain, request("GET", TEST_PANIC_PATH)).await;
    assert_eq!(response.status(), 500);
    events_until(&audited.log, &audit_id, "Panic").await;
    settle(&audited).await;
    let events = events_of(&audited.log, &audit_id);
    // A panicked request completes once, as Panic: no ResponseComplete after it.
    assert_eq!(stages(&events), ["RequestReceived", "Panic"]);
    let status = &events[1]["responseStatus"];
    assert_eq!(status["code"], 500);
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "InternalError");
}
