//! The chain driven with in-memory requests: stage order, which stage refuses first, and the
//! Status each refusal answers with.

use std::sync::atomic::AtomicBool;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, RETRY_AFTER};
use serde_json::Value;

use super::*;
use crate::routes::NO_STORAGE;
use crate::routes::test_hooks::{PANIC as TEST_PANIC_PATH, SLOW as TEST_SLOW_PATH};

fn config() -> ApiServerConfig {
    ApiServerConfig::new("127.0.0.1:0", "unused".into(), "unused".into())
}

fn chain_with(config: &ApiServerConfig) -> Arc<Chain> {
    let routes = Routes {
        server_address: "127.0.0.1:6443".to_string(),
        shutting_down: Arc::new(AtomicBool::new(false)),
        max_request_body_bytes: config.max_request_body_bytes,
        registry: None,
        policy: None,
        flow_control: None,
        auditor: None,
        clock: Arc::new(kubesim_net::SystemClock),
    };
    let env = kubesim_net::Env::production(std::env::temp_dir());
    let security = crate::security::build(&config.auth, None, &env, None).unwrap();
    Arc::new(Chain::new(
        config,
        routes,
        Arc::new(security),
        env.entropy.clone(),
    ))
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
