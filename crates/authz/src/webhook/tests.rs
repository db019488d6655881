//! The Webhook authorizer against a real authz service (tonic on 127.0.0.1 through the
//! network seam): caching, expiry, the failure policy when the service is gone or slow.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use kubesim_api::user::UserInfo;
use kubesim_net::TokioNetwork;
use kubesim_net::network::{Network, incoming};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::*;
use crate::service::AuthzService;
use crate::service::tls::{TlsLimits, tls_incoming};

/// The authorizer behind the test service: allows `get`, denies `delete`, no opinion on
/// anything else, and counts what it was asked.
struct Script {
    asked: AtomicU64,
}

impl Authorizer for Script {
    fn name(&self) -> &str {
        "Script"
    }

    fn authorize<'a>(&'a self, attributes: &'a Attributes) -> BoxFuture<'a, Decision> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let decision = match attributes.verb.as_str() {
            "get" => Decision::allow(format!("script allows get of {}", attributes.name)),
            "delete" => Decision::deny("deletes are frozen", "script denies delete"),
            _ => Decision::no_opinion("script has no opinion"),
        };
        Box::pin(async move { decision })
    }

    fn rules_for<'a>(&'a self, _: &'a UserInfo, _: &'a str) -> BoxFuture<'a, Option<RuleSet>> {
        Box::pin(async { None })
    }
}

pub(super) struct TestServer {
    pub(super) endpoint: String,
    script: Arc<Script>,
    delay_ms: Arc<AtomicU64>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl TestServer {
    async fn start() -> TestServer {
        TestServer::serve(None).await
    }

    /// The service over TLS with `tls` (the production accept path, `service::tls`).
    pub(super) async fn start_tls(tls: Arc<rustls::ServerConfig>) -> TestServer {
        TestServer::serve(Some(tls)).await
    }

    async fn serve(tls: Option<Arc<rustls::ServerConfig>>) -> TestServer {
        let listener = TokioNetwork.bind("127.0.0.1:0").await.expect("bind");
        let endpoint = listener.local_addr().expect("local address").to_string();
        let script = Arc::new(Script {
            asked: AtomicU64::new(0),
        });
        let delay_ms = Arc::new(AtomicU64::new(0));
        let service = AuthzService::new(script.clone()).with_delay(delay_ms.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let router = tonic::transport::Server::builder().add_service(service.into_server());
            let stopped = async {
                let _ = stopped.await;
            };
            let accepted = incoming(listener);
            let served = match tls {
                None => router.serve_with_incoming_shutdown(accepted, stopped).await,
                Some(tls) => {
                    let accepted = tls_incoming(accepted, tls, TlsLimits::default());
                    router.serve_with_incoming_shutdown(accepted, stopped).await
                }
            };
            served.expect("serve");
        });
        TestServer {
            endpoint,
            script,
            delay_ms,
            shutdown: Some(shutdown),
            task,
        }
    }

    pub(super) fn asked(&self) -> u64 {
        self.script.asked.load(Ordering::SeqCst)
    }

    /// Stops serving and waits until the listener and every connection are closed.
    pub(super) async fn kill(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .expect("the server stops within 5 s")
            .expect("the server task ends cleanly");
    }
}

fn webhook(endpoint: &str, policy: FailurePolicy, timeout: Duration) -> WebhookAuthorizer {
    let config = WebhookConfig {
        name: "authz".into(),
        endpoint: endpoint.to_string(),
        timeout,
        failure_policy: policy,
        ..WebhookConfig::default()
    };
    WebhookAuthorizer::new(config, Arc::new(TokioNetwork))
}

pub(super) fn pod(verb: &str, name: &str) -> Attributes {
    Attributes {
        user: UserInfo::new("jane", &["dev"]),
        verb: verb.into(),
        resource_request: true,
        namespace: "ns".into(),
        api_version: "v1".into(),
        resource: "pods".into(),
        name: name.into(),
        ..Attributes::default()
    }
}

#[tokio::test]
async fn allowed_answers_are_cached() {
    let server = TestServer::start().await;
    let authz = webhook(
        &server.endpoint,
        FailurePolicy::NoOpinion,
        Duration::from_secs(5),
    );
    let expected = Decision::allow("Webhook \"authz\": script allows get of web");

    assert_eq!(authz.authorize(&pod("get", "web")).await, expected);
    assert_eq!(
        (authz.calls(), authz.cache_hits(), server.asked()),
        (1, 0, 1)
    );

    assert_eq!(authz.authorize(&pod("get", "web")).await, expected);
    assert_eq!(
        (authz.calls(), authz.cache_hits(), server.asked()),
        (1, 1, 1)
    );

    // Another object is another request.
    let other = authz.authorize(&pod("get", "db")).await;
    assert_eq!(
        other.decided_by,
        "Webhook \"authz\": script allows get of db"
    );
    assert_eq!(
        (authz.calls(), authz.cache_hits(), server.asked()),
        (2, 1, 2)
    );
    server.kill().await;
}

#[tokio::test]
async fn denied_answers_are_cached_for_the_unauthorized_ttl() {
    let server = TestServer::start().await;
    let authz = webhook(
        &server.endpoint,
        FailurePolicy::NoOpinion,
        Duration::from_secs(5),
    );
    let denied = Decision::deny(
        "deletes are frozen",
        "Webhook \"authz\": script denies delete",
    );

    assert_eq!(authz.authorize(&pod("delete", "web")).await, denied);
    assert!(authz.authorize(&pod("get", "web")).await.is_allowed());
    assert_eq!(authz.calls(), 2);

    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(29)).await;
    assert_eq!(authz.authorize(&pod("delete", "web")).await, denied);
    assert_eq!((authz.calls(), authz.cache_hits()), (2, 1));

    // Past the 30 s unauthorized TTL the denial is asked again; the allowed answer (5 min)
    // is still cached.
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(authz.authorize(&pod("get", "web")).await.is_allowed());
    assert_eq!((authz.calls(), authz.cache_hits()), (2, 2));
    tokio::time::resume();
    assert_eq!(authz.authorize(&pod("delete", "web")).await, denied);
    assert_eq!(
        (authz.calls(), authz.cache_hits(), server.asked()),
        (3, 2, 3)
    );
    server.kill().await;
}

#[tokio::test]
async fn no_opinion_answers_are_cached_like_denials() {
    let server = TestServer::start().await;
    let authz = webhook(
        &server.endpoint,
        FailurePolicy::Deny,
        Duration::from_secs(5),
    );
    let decision = authz.authorize(&pod("list", "")).await;
    assert_eq!(decision, Decision::no_opinion("script has no opinion"));
    assert_eq!(authz.authorize(&pod("list", "")).await, decision);
    assert_eq!((authz.calls(), authz.cache_hits()), (1, 1));
    server.kill().await;
}

/// Asks for an uncached request after the service is gone: the failure policy decides at
/// once, and a second try calls again (failures are not cached).
async fn after_the_server_is_killed(policy: FailurePolicy) -> (Decision, WebhookAuthorizer) {
    let server = TestServer::start().await;
    let timeout = Duration::from_secs(3);
    let authz = webhook(&server.endpoint, policy, timeout);
    assert!(authz.authorize(&pod("get", "web")).await.is_allowed());
    server.kill().await;

    let started = std::time::Instant::now();
    let decision = authz.authorize(&pod("get", "db")).await;
    assert!(started.elapsed() < timeout, "decided within the timeout");
    assert_eq!(authz.calls(), 2);
    assert_eq!(authz.authorize(&pod("get", "db")).await.kind, decision.kind);
    assert_eq!(authz.calls(), 3, "a failure is not cached");
    let cached = authz.authorize(&pod("get", "web")).await;
    assert!(
        cached.is_allowed(),
        "an answer cached before the outage still serves"
    );
    assert_eq!((authz.calls(), authz.cache_hits()), (3, 1));
    (decision, authz)
}

#[tokio::test]
async fn a_dead_service_with_failure_policy_deny_denies() {
    let (decision, _) = after_the_server_is_killed(FailurePolicy::Deny).await;
    assert_eq!(decision.kind, DecisionKind::Deny);
    assert!(
        decision
            .reason
            .starts_with("failed calling authorization webhook \"authz\": Unavailable: "),
        "{}",
        decision.reason
    );
    assert_eq!(
        decision.decided_by,
        "Webhook \"authz\": call failed, failurePolicy Deny"
    );
    // The failure travels as an error, which the API server answers with kube's 500.
    assert_eq!(decision.error, decision.reason);
}

#[tokio::test]
async fn a_dead_service_with_failure_policy_no_opinion_has_no_opinion() {
    let (decision, _) = after_the_server_is_killed(FailurePolicy::NoOpinion).await;
    assert_eq!(decision.kind, DecisionKind::NoOpinion);
    assert!(
        decision
            .reason
            .starts_with("failed calling authorization webhook \"authz\": Unavailable: "),
        "{}",
        decision.reason
    );
    assert_eq!(
        decision.decided_by,
        "Webhook \"authz\": call failed, failurePolicy NoOpinion"
    );
    assert_eq!(decision.error, decision.reason);
}

/// A service slower than the timeout: the failure policy decides after the timeout, the
/// failure is not cached, and once the service is fast again its answer is used.
async fn slow_service(policy: FailurePolicy) -> Decision {
    let server = TestServer::start().await;
    let timeout = Duration::from_millis(300);
    let authz = webhook(&server.endpoint, policy, timeout);
    server.delay_ms.store(3_000, Ordering::SeqCst);

    let started = std::time::Instant::now();
    let decision = authz.authorize(&pod("get", "web")).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= timeout, "waited for the timeout, {elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(1_500),
        "no longer than the timeout, {elapsed:?}"
    );
    assert_eq!(
        decision.reason,
        "failed calling authorization webhook \"authz\": the call timed out after 300ms"
    );
    assert_eq!(
        authz.authorize(&pod("get", "web")).await.kind,
        decision.kind
    );
    assert_eq!(
        (authz.calls(), authz.cache_hits()),
        (2, 0),
        "a timeout is not cached"
    );

    server.delay_ms.store(0, Ordering::SeqCst);
    let recovered = authz.authorize(&pod("get", "web")).await;
    assert_eq!(
        recovered,
        Decision::allow("Webhook \"authz\": script allows get of web")
    );
    assert_eq!(authz.calls(), 3);
    server.kill().await;
    decision
}

#[tokio::test]
async fn a_slow_service_with_failure_policy_deny_denies_after_the_timeout() {
    let decision = slow_service(FailurePolicy::Deny).await;
    assert_eq!(decision.kind, DecisionKind::Deny);
    assert_eq!(
        decision.decided_by,
        "Webhook \"authz\": call failed, failurePolicy Deny"
    );
}

#[tokio::test]
async fn a_slow_service_with_failure_policy_no_opinion_has_no_opinion_after_the_timeout() {
    let decision = slow_service(FailurePolicy::NoOpinion).await;
    assert_eq!(decision.kind, DecisionKind::NoOpinion);
}

#[tokio::test]
async fn a_bad_endpoint_fails_by_the_failure_policy() {
    let authz = webhook(
        "not a host port",
        FailurePolicy::Deny,
        Duration::from_secs(1),
    );
    let decision = authz.authorize(&pod("get", "web")).await;
    assert_eq!(decision.kind, DecisionKind::Deny);
    assert!(
        decision.reason.starts_with(
            "failed calling authorization webhook \"authz\": bad endpoint \"not a host port\": "
        ),
        "{}",
        decision.reason
    );
    assert_eq!(authz.calls(), 0);
}

#[test]
fn both_allowed_and_denied_is_a_denial() {
    let authz = webhook(
        "127.0.0.1:1",
        FailurePolicy::NoOpinion,
        Duration::from_secs(1),
    );
    let answer = AuthorizeResponse {
        allowed: true,
        denied: true,
        reason: "confused".into(),
        evaluation_error: String::new(),
        decided_by: "rule 9".into(),
    };
    assert_eq!(
        authz.decision_from(&answer),
        Decision::deny(
            "confused",
            "Webhook \"authz\": returned both allow and deny; rule 9"
        )
    );
    let silent = AuthorizeResponse::default();
    assert_eq!(authz.decision_from(&silent), Decision::no_opinion(""));
}

#[test]
fn requests_are_cached_only_under_kubes_size_bound() {
    let mut attributes = pod("get", "web");
    assert!(should_cache(&attributes));
    attributes.name = "x".repeat(9_990);
    assert!(!should_cache(&attributes));
}

#[test]
fn the_cache_key_covers_the_whole_request() {
    let base = pod("get", "web");
    let mut other_group = base.clone();
    other_group.user.groups.push("admins".into());
    let mut other_extra = base.clone();
    other_extra
        .user
        .extra
        .insert("scopes".into(), vec!["x".into()]);
    let keys = [
        cache_key(&base),
        cache_key(&other_group),
        cache_key(&other_extra),
    ];
    assert_ne!(keys[0], keys[1]);
    assert_ne!(keys[0], keys[2]);
    assert_eq!(cache_key(&base.clone()), keys[0]);
}
