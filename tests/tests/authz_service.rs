//! Issue 5's authz service end to end: `kubesim authz` (RBAC evaluated against the store,
//! over gRPC) as the Webhook authorizer of a real `kubesim apiserver`, both over one real
//! store (`KUBESIM_E2E_TARGET`), with `--authorization-webhook-timeout=1s`.
//!
//! - alive, it allows and refuses as RBAC says;
//! - killed, `--authorization-webhook-failure-policy=Deny` refuses at once (500, as kube
//!   answers an authorizer error), and with `NoOpinion` under
//!   `--authorization-mode=Webhook,RBAC` the in-process RBAC decides (what it does not allow
//!   is the same 500);
//! - slowed (`kubesim authz --delay=3s`), it is treated as dead once the 1 s timeout passes;
//! - repeated requests are answered from the decision cache while the service is dead.
//!
//! Wall times are bounded loosely (a refusal within 5 s): bounds, not benchmarks. Without
//! curl or kubectl every test skips with a line on stderr, unless `KUBESIM_E2E=1` makes it
//! fail.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::ensure;
use kubesim_tests::Cluster;
use kubesim_tests::apiserver::ApiServer;
use kubesim_tests::auth::{
    AuthzService, Credential, Reply, admin, binding, bounded_for, create, eventually,
    every_kubectl, get, namespace, rbac_path, role, rule, user_subject,
};

const LIMIT: Duration = Duration::from_secs(150);
const NS: &str = "web";
const DEV_TOKEN: &str = "dev-static-token-0123456789";
/// The loose bound on a refusal when the service is dead or slow: the timeout is 1 s.
const REFUSAL_BOUND: Duration = Duration::from_secs(5);
/// A slow service is waited for this long at least: the timeout, less scheduling slack.
const TIMEOUT_FLOOR: Duration = Duration::from_millis(900);
/// `dev` is refused secrets: RBAC has no opinion, and neither has anyone else.
const SECRETS_FORBIDDEN: &str = r#"secrets is forbidden: User "dev" cannot list resource "secrets" in API group "" in the namespace "web""#;

/// A store, the authz service over it, and an API server whose Webhook authorizer is it.
struct Setup {
    server: ApiServer,
    authz: AuthzService,
    _files: tempfile::TempDir,
    /// Numbers the never-asked-before requests.
    fresh: AtomicU32,
}

impl Setup {
    /// `None` when the tools are missing and the test skips.
    async fn start(test: &str, modes: &str, failure_policy: &str) -> anyhow::Result<Option<Setup>> {
        let files = tempfile::Builder::new()
            .prefix("kubesim-authz-test-")
            .tempdir()?;
        if every_kubectl(test, files.path())?.is_empty() {
            return Ok(None);
        }
        let tokens = files.path().join("tokens.csv");
        std::fs::write(&tokens, format!("{DEV_TOKEN},dev,uid-dev\n"))?;
        let store = Cluster::start_sized(1).await?;
        let authz = AuthzService::start(&store.endpoints(), &[]).await?;
        let flags = vec![
            format!("--etcd-servers={}", store.endpoints().join(",")),
            format!("--authorization-mode={modes}"),
            format!(
                "--authorization-webhook-config-file={}",
                authz.kubeconfig().display()
            ),
            "--authorization-webhook-timeout=1s".to_string(),
            format!("--authorization-webhook-failure-policy={failure_policy}"),
            format!("--token-auth-file={}", tokens.display()),
        ];
        let server = ApiServer::spawn(Some(store), &flags).await?;
        server.wait_ready().await?;
        let setup = Setup {
            server,
            authz,
            _files: files,
            fresh: AtomicU32::new(0),
        };
        setup.bind_dev().await?;
        Ok(Some(setup))
    }

    /// `dev` may read ConfigMaps in `web`, and nothing else. Waits until the authz service
    /// says so, asking each time about a ConfigMap never asked about before: a refusal is
    /// cached for 30 s, and the same question would get the cached answer.
    async fn bind_dev(&self) -> anyhow::Result<()> {
        let server = &self.server;
        create(server, "/api/v1/namespaces", &namespace(NS)).await?;
        let reader = role(
            "Role",
            "cm-reader",
            &[rule(&[""], &["configmaps"], &["get", "list"])],
        );
        create(server, &rbac_path(NS, "roles"), &reader).await?;
        let bound = binding(
            "RoleBinding",
            "dev-reads",
            "Role",
            "cm-reader",
            &[user_subject("dev")],
        );
        create(server, &rbac_path(NS, "rolebindings"), &bound).await?;
        eventually("the authz service to allow dev", || async {
            Ok(self.get_fresh().await?.0.code == 404)
        })
        .await
    }

    fn dev() -> Credential {
        Credential::Bearer(DEV_TOKEN.to_string())
    }

    /// GET of a ConfigMap never asked about (so never cached), and how long it took.
    async fn get_fresh(&self) -> anyhow::Result<(Reply, Duration, String)> {
        let name = format!("fresh-{}", self.fresh.fetch_add(1, Ordering::Relaxed));
        let path = format!("/api/v1/namespaces/{NS}/configmaps/{name}");
        let started = Instant::now();
        let reply = get(&self.server, &Setup::dev(), &path).await?;
        Ok((reply, started.elapsed(), name))
    }

    async fn list(&self, resource: &str) -> anyhow::Result<Reply> {
        get(
            &self.server,
            &Setup::dev(),
            &format!("/api/v1/namespaces/{NS}/{resource}"),
        )
        .await
    }
}

/// The answer to the `get` of ConfigMap `name` refused because the webhook call failed:
/// kube's authorization filter answers an authorizer error with 500
/// (`Internal Server Error: "<uri>": <error>`), not 403.
fn refused_by_failed_call(reply: &Reply, name: &str) -> anyhow::Result<()> {
    reply.expect_code(500, &format!("get {name}"))?;
    let status = reply.json()?;
    let message = status["message"].as_str().unwrap_or_default();
    let prefix = format!(
        r#"Internal Server Error: "/api/v1/namespaces/{NS}/configmaps/{name}": failed calling authorization webhook"#
    );
    ensure!(
        status["reason"] == "InternalError" && message.starts_with(&prefix),
        "get {name}: {status}"
    );
    Ok(())
}

#[tokio::test]
async fn deny_policy_fails_closed_and_the_cache_answers() -> anyhow::Result<()> {
    bounded_for(
        LIMIT,
        deny_policy_fails_closed_and_the_cache_answers_steps(),
    )
    .await
}

async fn deny_policy_fails_closed_and_the_cache_answers_steps() -> anyhow::Result<()> {
    let Some(mut s) = Setup::start(
        "deny_policy_fails_closed_and_the_cache_answers",
        "Webhook",
        "Deny",
    )
    .await?
    else {
        return Ok(());
    };
    // Alive: the service decides, as RBAC says.
    s.list("configmaps")
        .await?
        .expect_code(200, "dev lists configmaps")?;
    s.list("secrets").await?.expect_status(
        403,
        "Forbidden",
        SECRETS_FORBIDDEN,
        "dev lists secrets",
    )?;

    s.authz.kill().await?;
    // The same requests again: answered from the cache, without the service.
    s.list("configmaps")
        .await?
        .expect_code(200, "dev lists configmaps (cached allow)")?;
    s.list("secrets").await?.expect_status(
        403,
        "Forbidden",
        SECRETS_FORBIDDEN,
        "dev lists secrets (cached)",
    )?;
    // A new request: the call fails and Deny refuses, at once.
    let (reply, took, name) = s.get_fresh().await?;
    refused_by_failed_call(&reply, &name)?;
    ensure!(took < REFUSAL_BOUND, "refused after {took:?}");
    // system:masters never asks the webhook.
    get(
        &s.server,
        &admin(&s.server),
        &format!("/api/v1/namespaces/{NS}/secrets"),
    )
    .await?
    .expect_code(200, "the admin lists secrets")?;

    // Slow: a service that answers after 3 s is a failed call after the 1 s timeout.
    s.authz.restart(&["--delay=3s"]).await?;
    let (reply, took, name) = s.get_fresh().await?;
    refused_by_failed_call(&reply, &name)?;
    ensure!(
        (TIMEOUT_FLOOR..REFUSAL_BOUND).contains(&took),
        "a slow service's refusal took {took:?}, not about the 1s timeout"
    );
    Ok(())
}

#[tokio::test]
async fn no_opinion_policy_lets_rbac_decide() -> anyhow::Result<()> {
    bounded_for(LIMIT, no_opinion_policy_lets_rbac_decide_steps()).await
}

async fn no_opinion_policy_lets_rbac_decide_steps() -> anyhow::Result<()> {
    let Some(mut s) = Setup::start(
        "no_opinion_policy_lets_rbac_decide",
        "Webhook,RBAC",
        "NoOpinion",
    )
    .await?
    else {
        return Ok(());
    };
    s.list("configmaps")
        .await?
        .expect_code(200, "dev lists configmaps")?;

    s.authz.kill().await?;
    // Dead: the call fails, the webhook has no opinion, and RBAC allows what it allows.
    let (reply, took, name) = s.get_fresh().await?;
    reply.expect_code(404, &format!("get {name} (RBAC allows it)"))?;
    ensure!(took < REFUSAL_BOUND, "answered after {took:?}");
    // ... and what RBAC does not allow is refused with the webhook's error: kube answers
    // 500 when an authorizer failed and nobody allowed.
    let reply = s.list("secrets").await?;
    reply.expect_code(500, "dev lists secrets")?;
    let status = reply.json()?;
    ensure!(
        status["message"].as_str().is_some_and(|m| m.starts_with(&format!(
            r#"Internal Server Error: "/api/v1/namespaces/{NS}/secrets": failed calling authorization webhook"#
        ))),
        "dev lists secrets: {status}"
    );

    // Slow: after the 1 s timeout, RBAC decides.
    s.authz.restart(&["--delay=3s"]).await?;
    let (reply, took, name) = s.get_fresh().await?;
    reply.expect_code(404, &format!("get {name} (RBAC allows it)"))?;
    ensure!(
        (TIMEOUT_FLOOR..REFUSAL_BOUND).contains(&took),
        "with a slow service RBAC decided after {took:?}, not after about the 1s timeout"
    );
    Ok(())
}
