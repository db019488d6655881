//! The chain driven with in-memory requests: stage order, which stage refuses first, and the
//! Status each refusal answers with; with API Priority and Fairness on, how stage 8 and the
//! in-flight limit of stage 4 share the load.

use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, RETRY_AFTER};
use kubesim_flowcontrol::config::{CATCH_ALL, Config, EXEMPT};
use kubesim_flowcontrol::queueset::LevelStats;
use serde_json::{Value, json};

use super::*;
use crate::flowcontrol::{FLOW_SCHEMA_UID_HEADER, PRIORITY_LEVEL_UID_HEADER};
use crate::routes::NO_STORAGE;
use crate::routes::test_hooks::{PANIC as TEST_PANIC_PATH, SLOW as TEST_SLOW_PATH};

fn config() -> ApiServerConfig {
    ApiServerConfig::new("127.0.0.1:0", "unused".into(), "unused".into())
}

fn chain_with(config: &ApiServerConfig) -> Arc<Chain> {
    Arc::new(bare_chain(config))
}

/// The chain of `config`, before `Arc`: for `with_flow_control`.
fn bare_chain(config: &ApiServerConfig) -> Chain {
    let routes = Routes::without_storage(config.max_request_body_bytes);
    let env = kubesim_net::Env::production(std::env::temp_dir());
    let security = crate::security::build(&config.auth, None, &env, None).unwrap();
    Chain::new(config, routes, Arc::new(security), env.entropy.clone())
}

fn request(method: &str, path: &str) -> hyper::http::request::Builder {
    Request::builder().method(method).uri(path)
}

/// Sends a request with an empty body; returns the response and the stages it entered.
async fn send(
    chain: &Chain,
    builder: hyper::http::request::Builder,
) -> (Response<Body>, Vec<Stage>) {
    send_body(chain, builder, Bytes::new()).await
}

async fn send_body(
    chain: &Chain,
    builder: hyper::http::request::Builder,
    body: Bytes,
) -> (Response<Body>, Vec<Stage>) {
    let request = builder.body(Full::new(body)).unwrap();
    let mut trace = Vec::new();
    let response = chain.handle_traced(request, &mut trace).await;
    (response, trace)
}

async fn json_body(response: Response<Body>) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

async fn text_body(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Asserts a Status response: code, reason, message.
async fn assert_status(response: Response<Body>, code: u16, reason: &str, message: &str) {
    assert_eq!(response.status(), code);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    let body = json_body(response).await;
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["code"], code);
    assert_eq!(body["reason"], reason, "{body}");
    assert_eq!(body["message"], message, "{body}");
}

#[tokio::test]
async fn a_request_nobody_refuses_passes_every_stage_in_order() {
    let chain = chain_with(&config());
    let (response, trace) = send(&chain, request("GET", "/version")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(trace, STAGES);
}

#[tokio::test]
async fn the_earliest_stage_refuses_first() {
    let chain = chain_with(&config());
    // A bad path escape, too large, and impersonating: request info refuses.
    let builder = request("POST", "/api/v1/%zz")
        .header(CONTENT_LENGTH, "999999999")
        .header("Impersonate-User", "bob");
    let (response, trace) = send(&chain, builder).await;
    assert_eq!(trace.last(), Some(&Stage::RequestInfo));
    assert_status(response, 400, "BadRequest", "invalid URL escape \"%zz\"").await;
    // Too large and impersonating: the size limit refuses.
    let builder = request("POST", "/api/v1/namespaces/default/configmaps")
        .header(CONTENT_LENGTH, "3145729")
        .header("Impersonate-User", "bob");
    let (response, trace) = send(&chain, builder).await;
    assert_eq!(trace.last(), Some(&Stage::SizeLimit));
    assert_status(
        response,
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 3145728",
    )
    .await;
}

#[tokio::test]
async fn an_undeclared_body_over_the_limit_is_cut_off_at_the_limit() {
    let mut config = config();
    config.max_request_body_bytes = 10;
    let chain = chain_with(&config);
    let (response, trace) = send_body(
        &chain,
        request("POST", "/api/v1/namespaces/default/configmaps"),
        Bytes::from(vec![b'x'; 11]),
    )
    .await;
    assert_eq!(trace, STAGES, "refused while the handler read the body");
    assert_status(
        response,
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 10",
    )
    .await;
}

#[tokio::test]
async fn impersonating_a_group_without_a_user_is_a_400() {
    let chain = chain_with(&config());
    let builder =
        request("GET", "/api/v1/namespaces/default/pods").header("Impersonate-Group", "x");
    let (response, trace) = send(&chain, builder).await;
    assert_eq!(trace.last(), Some(&Stage::Impersonation));
    assert_eq!(response.status(), 400);
    let body = json_body(response).await;
    assert_eq!(body["reason"], "BadRequest");
}

#[tokio::test]
async fn without_credentials_and_anonymous_off_authentication_answers_401() {
    let mut config = config();
    config.auth.anonymous_auth = false;
    let chain = chain_with(&config);
    let (response, trace) = send(&chain, request("GET", "/api/v1/namespaces")).await;
    assert_eq!(trace.last(), Some(&Stage::Authentication));
    assert_eq!(response.status(), 401);
    let body = json_body(response).await;
    assert_eq!(body["reason"], "Unauthorized");
    assert_eq!(body["message"], "Unauthorized");
}

#[tokio::test]
async fn basic_auth_is_a_401_that_says_it_is_not_supported() {
    let chain = chain_with(&config());
    let builder = request("GET", "/api/v1/namespaces").header("Authorization", "Basic YTpi");
    let (response, trace) = send(&chain, builder).await;
    assert_eq!(trace.last(), Some(&Stage::Authentication));
    assert_eq!(response.status(), 401);
    let body = json_body(response).await;
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("basic authentication is not supported"),
        "{message}"
    );
}

#[tokio::test]
async fn always_deny_refuses_at_authorization_with_kubes_message() {
    let mut config = config();
    config.auth.authorization_modes = "AlwaysDeny".to_string();
    let chain = chain_with(&config);
    let (response, trace) = send(&chain, request("GET", "/api/v1/namespaces/default/pods")).await;
    assert_eq!(trace.last(), Some(&Stage::Authorization));
    assert_eq!(response.status(), 403);
    let body = json_body(response).await;
    assert_eq!(body["reason"], "Forbidden");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" \
             in API group \"\" in the namespace \"default\""
        ),
        "{message}"
    );
}

#[tokio::test]
async fn every_response_carries_an_audit_id_that_keys_its_trace() {
    let mut config = config();
    config.auth.authorization_modes = "AlwaysDeny".to_string();
    let chain = chain_with(&config);
    let (response, _) = send(&chain, request("GET", "/api/v1/namespaces")).await;
    let audit_id = response.headers()[AUDIT_ID_HEADER]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(audit_id.len(), 36, "{audit_id}");
    let trace = chain.security.trace.get(&audit_id).unwrap();
    assert_eq!(trace.authenticator, "anonymous");
    // kube's AlwaysDeny has no opinion ("Everything is forbidden."), so the chain refuses.
    assert_eq!(trace.decision, "NoOpinion");
    assert_eq!(trace.reason, "Everything is forbidden.");
    let (other, _) = send(&chain, request("GET", "/version")).await;
    assert_ne!(other.headers()[AUDIT_ID_HEADER], audit_id.as_str());
}

/// The trace names the authenticated user, and the impersonated one apart from it; a request
/// that impersonates no one has no second user.
#[tokio::test]
async fn the_trace_records_who_authenticated_and_who_was_impersonated() {
    let mut config = config();
    config.auth.authorization_modes = "AlwaysAllow".to_string();
    let chain = chain_with(&config);
    let trace_of = |response: &Response<Body>| {
        let audit_id = response.headers()[AUDIT_ID_HEADER].to_str().unwrap();
        chain.security.trace.get(audit_id).unwrap()
    };

    let (response, _) = send(&chain, request("GET", "/version")).await;
    let trace = trace_of(&response);
    let user = trace.user.as_ref().expect("an authenticated user");
    assert_eq!(user.username, "system:anonymous");
    assert_eq!(trace.impersonated, None);

    let builder = request("GET", "/version")
        .header("Impersonate-User", "bob")
        .header("Impersonate-Group", "dev");
    let (response, _) = send(&chain, builder).await;
    assert_eq!(response.status(), 200);
    let trace = trace_of(&response);
    assert_eq!(trace.user.as_ref().unwrap().username, "system:anonymous");
    let impersonated = trace.impersonated.as_ref().expect("an impersonated user");
    assert_eq!(impersonated.username, "bob");
    assert!(
        impersonated.groups.iter().any(|g| g == "dev"),
        "{impersonated:?}"
    );
}

#[tokio::test]
async fn a_panic_in_a_handler_is_a_500_status() {
    let chain = chain_with(&config());
    let (response, trace) = send(&chain, request("GET", TEST_PANIC_PATH)).await;
    assert_eq!(trace, STAGES);
    assert_status(
        response,
        500,
        "InternalError",
        "Internal error occurred: the server panicked while serving GET /__test/panic",
    )
    .await;
    // The in-flight permit of the panicked request was released.
    let mut config = config();
    config.max_requests_inflight = 1;
    let chain = chain_with(&config);
    let _ = send(&chain, request("GET", TEST_PANIC_PATH)).await;
    let (response, _) = send(&chain, request("GET", "/version")).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_request_over_its_timeout_is_a_504_status() {
    let mut config = config();
    config.request_timeout = Duration::from_millis(50);
    let chain = chain_with(&config);
    let (response, _) = send(&chain, request("GET", TEST_SLOW_PATH)).await;
    assert_status(
        response,
        504,
        "Timeout",
        "Timeout: request did not complete within requested timeout - context deadline exceeded",
    )
    .await;
}

#[tokio::test]
async fn over_the_in_flight_limit_is_a_429_with_retry_after() {
    let mut config = config();
    config.max_requests_inflight = 1;
    config.max_mutating_requests_inflight = 1;
    let chain = chain_with(&config);
    let busy = {
        let chain = chain.clone();
        tokio::spawn(async move { send(&chain, request("GET", TEST_SLOW_PATH)).await })
    };
    // Let the slow request take the one read-only permit.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (response, trace) = send(&chain, request("GET", "/version")).await;
    assert_eq!(trace.last(), Some(&Stage::InFlight));
    assert_eq!(response.headers()[RETRY_AFTER], "1");
    let body = json_body(response).await;
    assert_eq!(body["code"], 429);
    assert_eq!(body["reason"], "TooManyRequests");
    assert_eq!(
        body["message"],
        "Too many requests, please try again later."
    );
    assert_eq!(body["details"]["retryAfterSeconds"], 1);
    // Mutating requests have their own limit, and a watch is exempt.
    let post = request("POST", "/api/v1/namespaces/default/configmaps");
    let (response, _) = send(&chain, post).await;
    assert_eq!(response.status(), 503);
    let (response, _) = send(&chain, request("GET", "/api/v1/pods?watch=1")).await;
    assert_eq!(response.status(), 503);
    // Health probes are exempt: a busy server is still alive.
    let (response, _) = send(&chain, request("GET", "/livez")).await;
    assert_eq!(response.status(), 200);
    let (response, _) = send(&chain, request("GET", "/readyz/ping")).await;
    assert_eq!(response.status(), 200);
    busy.abort();
}

#[tokio::test]
async fn served_resources_answer_503_until_storage_is_wired() {
    let chain = chain_with(&config());
    let (response, _) = send(&chain, request("GET", "/api/v1/namespaces/default/pods")).await;
    assert_status(response, 503, "ServiceUnavailable", NO_STORAGE).await;
    let (response, _) = send(&chain, request("GET", "/apis/apps/v1/deployments")).await;
    assert_eq!(response.status(), 503);
    let (response, _) = send(
        &chain,
        request("PUT", "/api/v1/namespaces/ns/pods/p/status"),
    )
    .await;
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn unknown_paths_and_resources_are_404() {
    let chain = chain_with(&config());
    let message = "the server could not find the requested resource";
    for path in [
        "/api/v1/nosuch",
        "/apis/apps/v1/nosuch",
        "/apis/nosuch.io/v1/things",
        "/api/v1/namespaces/ns/pods/p/nosuch",
        "/apis/nosuch.io",
        "/api/v2",
        "/readyz/nosuch",
        "/nosuch",
        "/",
    ] {
        let (response, _) = send(&chain, request("GET", path)).await;
        let body = json_body(response).await;
        assert_eq!(body["code"], 404, "{path}: {body}");
        assert_eq!(body["reason"], "NotFound", "{path}");
        assert_eq!(body["message"], message, "{path}");
        assert_eq!(body["details"], serde_json::json!({}), "{path}");
    }
}

#[tokio::test]
async fn a_verb_a_resource_does_not_serve_is_405() {
    let chain = chain_with(&config());
    let (response, _) = send(&chain, request("DELETE", "/api/v1/namespaces")).await;
    assert_eq!(response.status(), 405);
    let (response, _) = send(&chain, request("POST", "/version")).await;
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn discovery_answers_the_form_asked_for() {
    let chain = chain_with(&config());
    let (response, _) = send(&chain, request("GET", "/api")).await;
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(json_body(response).await["kind"], "APIVersions");
    let aggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
    let builder =
        request("GET", "/apis").header("accept", format!("{aggregated},application/json"));
    let (response, _) = send(&chain, builder).await;
    assert_eq!(response.headers()[CONTENT_TYPE], aggregated);
    assert_eq!(json_body(response).await["kind"], "APIGroupDiscoveryList");
    let (response, _) = send(&chain, request("GET", "/apis/rbac.authorization.k8s.io/v1")).await;
    assert_eq!(json_body(response).await["kind"], "APIResourceList");
}

#[tokio::test]
async fn health_endpoints_answer_plain_text() {
    let chain = chain_with(&config());
    let (response, _) = send(&chain, request("GET", "/readyz?verbose")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );
    assert_eq!(
        text_body(response).await,
        "[+]ping ok\n[+]shutdown ok\nreadyz check passed\n"
    );
    let (response, _) = send(&chain, request("GET", "/livez/ping")).await;
    assert_eq!(text_body(response).await, "ok");
}

// ---- API Priority and Fairness (stage 8) ----

/// The token of user `flooder` (groups: `system:authenticated`).
const FLOODER_TOKEN: &str = "flooder-token";
/// The token of user `admin`, in `system:masters`: kube's `exempt` FlowSchema takes it.
const ADMIN_TOKEN: &str = "admin-token";
/// The hand-written level and schema that take the flooder's requests.
const FLOODING: &str = "flooding";
const FLOODING_SCHEMA_UID: &str = "flooding-schema-uid";
const FLOODING_LEVEL_UID: &str = "flooding-level-uid";
/// The longest a test waits for a request to reach a state it can only be polled for.
const STATE_WAIT: Duration = Duration::from_secs(5);

/// Writes `--token-auth-file` for the flooder and the admin into `config`; the directory
/// must live until the chain is built (the file is read then).
fn with_tokens(config: &mut ApiServerConfig) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("tokens.csv");
    let csv = format!(
        "{FLOODER_TOKEN},flooder,flooder-uid\n{ADMIN_TOKEN},admin,admin-uid,\"system:masters\"\n"
    );
    std::fs::write(&path, csv).unwrap();
    config.auth.token_auth_file = Some(path);
    dir
}

fn as_user(builder: hyper::http::request::Builder, token: &str) -> hyper::http::request::Builder {
    builder.header("Authorization", format!("Bearer {token}"))
}

/// The `flooding` level, limited, with `limit_response` (kube's `spec.limited.limitResponse`).
/// Its 5 shares equal catch-all's, so each gets half of the server's seats.
fn flooding_level(limit_response: Value) -> Value {
    json!({
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": FLOODING, "uid": FLOODING_LEVEL_UID},
        "spec": {"type": "Limited", "limited": {
            "nominalConcurrencyShares": 5,
            "limitResponse": limit_response,
        }},
    })
}

/// The `flooding` schema: every request of user `flooder`, resource or not.
fn flooding_schema() -> Value {
    json!({
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": FLOODING, "uid": FLOODING_SCHEMA_UID},
        "spec": {
            "priorityLevelConfiguration": {"name": FLOODING},
            "matchingPrecedence": 500,
            "distinguisherMethod": {"type": "ByUser"},
            "rules": [{
                "subjects": [{"kind": "User", "user": {"name": "flooder"}}],
                "resourceRules": [{
                    "verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                    "clusterScope": true, "namespaces": ["*"],
                }],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            }],
        },
    })
}

/// A controller with `server_limit` seats and the flooding level and schema beside kube's
/// mandatory `exempt` and `catch-all` (which `Config::from_objects` supplies).
fn flooding_controller(server_limit: u32, limit_response: Value) -> Arc<Controller> {
    let (config, problems) =
        Config::from_objects(&[flooding_schema()], &[flooding_level(limit_response)]);
    assert_eq!(problems, Vec::<String>::new());
    let controller = Arc::new(Controller::new(server_limit));
    controller.apply(config);
    controller
}

fn level<'a>(stats: &'a [LevelStats], name: &str) -> &'a LevelStats {
    stats
        .iter()
        .find(|level| level.priority_level == name)
        .unwrap_or_else(|| panic!("no priority level {name}"))
}

/// Waits (at most [`STATE_WAIT`]) until `name` has `executing` requests running and
/// `waiting` queued: the requests spawned before have reached stage 8.
async fn wait_for_level(controller: &Controller, name: &str, executing: u64, waiting: u64) {
    let deadline = tokio::time::Instant::now() + STATE_WAIT;
    loop {
        let stats = controller.stats();
        let now = level(&stats, name);
        if (now.executing_requests, now.waiting_requests) == (executing, waiting) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}: {} executing and {} waiting, not {executing} and {waiting}",
            now.executing_requests,
            now.waiting_requests
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends a request from a task of its own: it stays in the chain until aborted.
fn spawn_request(
    chain: &Arc<Chain>,
    builder: hyper::http::request::Builder,
) -> tokio::task::JoinHandle<(Response<Body>, Vec<Stage>)> {
    let chain = chain.clone();
    tokio::spawn(async move { send(&chain, builder).await })
}

#[tokio::test]
async fn apf_names_the_schema_and_level_of_a_request_in_its_headers() {
    let mut config = config();
    let _tokens = with_tokens(&mut config);
    let controller = flooding_controller(2, json!({"type": "Reject"}));
    let chain = bare_chain(&config).with_flow_control(controller);
    let (response, trace) = send(&chain, as_user(request("GET", "/version"), FLOODER_TOKEN)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()[FLOW_SCHEMA_UID_HEADER],
        FLOODING_SCHEMA_UID
    );
    assert_eq!(
        response.headers()[PRIORITY_LEVEL_UID_HEADER],
        FLOODING_LEVEL_UID
    );
    assert_eq!(trace, STAGES);
}

#[test]
fn priority_and_fairness_runs_after_impersonation_and_before_authorization() {
    let at = |stage| STAGES.iter().position(|s| *s == stage);
    assert_eq!(
        at(Stage::PriorityAndFairness),
        at(Stage::Impersonation).map(|i| i + 1)
    );
    assert_eq!(
        at(Stage::Authorization),
        at(Stage::PriorityAndFairness).map(|i| i + 1)
    );
}

#[tokio::test]
async fn a_flooder_past_its_levels_seats_is_a_429_while_system_masters_still_runs() {
    let mut config = config();
    let _tokens = with_tokens(&mut config);
    // 2 seats: 1 for flooding, 1 for catch-all (5 shares each; exempt has none).
    let controller = flooding_controller(2, json!({"type": "Reject"}));
    let chain = Arc::new(bare_chain(&config).with_flow_control(controller.clone()));
    let busy = spawn_request(
        &chain,
        as_user(request("GET", TEST_SLOW_PATH), FLOODER_TOKEN),
    );
    wait_for_level(&controller, FLOODING, 1, 0).await;
    let (response, trace) = send(&chain, as_user(request("GET", "/version"), FLOODER_TOKEN)).await;
    assert_eq!(trace.last(), Some(&Stage::PriorityAndFairness));
    assert_eq!(response.headers()[RETRY_AFTER], "1");
    // kube names the schema and level of a rejected request too.
    assert_eq!(
        response.headers()[FLOW_SCHEMA_UID_HEADER],
        FLOODING_SCHEMA_UID
    );
    assert_eq!(
        response.headers()[PRIORITY_LEVEL_UID_HEADER],
        FLOODING_LEVEL_UID
    );
    let body = json_body(response).await;
    assert_eq!(body["code"], 429);
    assert_eq!(body["reason"], "TooManyRequests");
    assert_eq!(
        body["message"],
        "Too many requests, please try again later."
    );
    assert_eq!(body["details"]["retryAfterSeconds"], 1);
    let stats = controller.stats();
    assert_eq!(level(&stats, FLOODING).rejected.concurrency_limit, 1);
    // system:masters is exempt; anonymous is in catch-all, a level of its own.
    let (response, trace) = send(&chain, as_user(request("GET", "/version"), ADMIN_TOKEN)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(trace, STAGES);
    let (response, _) = send(&chain, request("GET", "/version")).await;
    assert_eq!(response.status(), 200);
    let stats = controller.stats();
    assert_eq!(level(&stats, EXEMPT).dispatched, 1);
    assert_eq!(level(&stats, CATCH_ALL).dispatched, 1);
    busy.abort();
}

#[tokio::test]
async fn with_apf_on_a_running_request_holds_no_in_flight_permit() {
    let mut config = config();
    config.max_requests_inflight = 1;
    // Catch-all gets all 4 seats: both slow requests run side by side.
    let controller = Arc::new(Controller::new(4));
    let chain = Arc::new(bare_chain(&config).with_flow_control(controller.clone()));
    let first = spawn_request(&chain, request("GET", TEST_SLOW_PATH));
    wait_for_level(&controller, CATCH_ALL, 1, 0).await;
    // Without APF stage 4 refuses this one (`over_the_in_flight_limit_is_a_429_with_retry_after`);
    // with it, it runs until its own timeout.
    let second = request("GET", &format!("{TEST_SLOW_PATH}?timeout=100ms"));
    let (response, trace) = send(&chain, second).await;
    assert_eq!(trace, STAGES, "refused before dispatch");
    assert_eq!(response.status(), 504);
    assert!(!first.is_finished(), "the first slow request ended early");
    first.abort();
}

#[tokio::test]
async fn a_request_queued_in_apf_holds_no_in_flight_permit() {
    let mut config = config();
    config.max_requests_inflight = 1;
    let _tokens = with_tokens(&mut config);
    let queuing = json!({"type": "Queue", "queuing": {
        "queues": 1, "handSize": 1, "queueLengthLimit": 10,
    }});
    let controller = flooding_controller(2, queuing);
    let chain = Arc::new(bare_chain(&config).with_flow_control(controller.clone()));
    let slow = || as_user(request("GET", TEST_SLOW_PATH), FLOODER_TOKEN);
    let running = spawn_request(&chain, slow());
    wait_for_level(&controller, FLOODING, 1, 0).await;
    // The flooder's second request waits in the queue (at most a quarter of the 60 s
    // request timeout) for the level's one seat.
    let queued = spawn_request(&chain, slow());
    wait_for_level(&controller, FLOODING, 1, 1).await;
    // The module doc of chain.rs: queued requests do not hold the permits an administrator
    // needs.
    let (response, trace) = send(&chain, as_user(request("GET", "/version"), ADMIN_TOKEN)).await;
    assert_eq!(
        trace,
        STAGES,
        "refused at {:?} with {}",
        trace.last(),
        response.status()
    );
    assert_eq!(response.status(), 200);
    running.abort();
    queued.abort();
}

#[tokio::test]
async fn a_request_that_asks_gets_its_stage_times_in_server_timing() {
    let chain = chain_with(&config());
    let (response, _) = send(&chain, request("GET", "/version").header(TRACE_HEADER, "1")).await;
    assert_eq!(response.status(), 200);
    let timing = response.headers()["server-timing"]
        .to_str()
        .unwrap()
        .to_string();
    let names: Vec<&str> = timing
        .split(", ")
        .map(|entry| entry.split(';').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "authentication",
            "audit",
            "impersonation",
            "priorityandfairness",
            "authorization",
            "handler",
            "total"
        ],
        "{timing}"
    );
    for entry in timing.split(", ") {
        let duration = entry.split(";dur=").nth(1).expect("a duration");
        assert!(duration.parse::<f64>().is_ok_and(|ms| ms >= 0.0), "{entry}");
    }
    // Without the header, or with it set to false, there is none.
    let (plain, _) = send(&chain, request("GET", "/version")).await;
    assert!(plain.headers().get("server-timing").is_none());
    let (off, _) = send(
        &chain,
        request("GET", "/version").header(TRACE_HEADER, "false"),
    )
    .await;
    assert!(off.headers().get("server-timing").is_none());
}

/// A request's futures stay small: the handler's (`Routes::dispatch`, boxed per request in
/// `stages`) and the whole request's (`Chain::handle`, the connection's task per stream).
/// Inline, the rare branches under them (webhook calls, token authenticators) made the
/// handler's 74 KB in a release build, copied at each level per request (docs/benchmarks.md,
/// run 26; the registry's own writes are kept small by `registry/future_size_tests.rs`).
#[tokio::test]
async fn a_requests_futures_stay_small() {
    const LIMIT: usize = 8 * 1024;
    let chain = chain_with(&config());
    let post = || {
        request("POST", "/api/v1/namespaces/ns/pods")
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let info = request_info(&post()).expect("a resource request");
    let (parts, body) = post().into_parts();
    let limited = Request::from_parts(parts, Limited::new(body, 1024));
    let dispatch = std::mem::size_of_val(&chain.routes.dispatch(limited, &info));
    let handle = std::mem::size_of_val(&chain.handle(post()));
    for (what, size) in [("handler's", dispatch), ("request's", handle)] {
        assert!(
            size <= LIMIT,
            "the {what} future takes {size} bytes, over {LIMIT}: box the large branch it awaits"
        );
    }
}
