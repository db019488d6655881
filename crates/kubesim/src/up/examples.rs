//! The example identities' permissions, made through the API server as the admin once it is
//! ready: namespaces `production` and `dev`; the ServiceAccount `deploy-bot` in `production`
//! with Role `deployer` (deployments in apps and pods in core: get, list, watch) bound to it;
//! user `jane` bound to ClusterRole `edit` in `dev`; then a TokenRequest for deploy-bot's
//! token, which becomes the `deploy-bot@kubesim` context.
//!
//! Objects that exist already (a restart on the same data directory) are fine. Anything else
//! that fails is a warning: the cluster keeps running without that example.

use std::time::Duration;

use hyper::Method;
use serde_json::{Value, json};

use crate::bench::api::client::{ApiClient, failure_text};

/// The ServiceAccount example: its namespace and name.
pub const SA_NAMESPACE: &str = "production";
pub const SA_NAME: &str = "deploy-bot";
/// Where the user example (`jane`) may edit.
pub const USER_NAMESPACE: &str = "dev";
/// deploy-bot's token lives a day; `kubesim up` asks for a new one on every start.
pub const TOKEN_EXPIRATION_SECONDS: u64 = 86_400;
/// How often readiness is asked while waiting.
const READY_POLL: Duration = Duration::from_millis(250);
const RBAC_V1: &str = "rbac.authorization.k8s.io/v1";
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// One object to create: a description for warnings, the collection's path, the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub what: String,
    pub path: String,
    pub body: Value,
}

/// The objects, in an order where each one's namespace exists before it.
pub fn objects(user: &str) -> Vec<Example> {
    let namespaces = [SA_NAMESPACE, USER_NAMESPACE].map(|name| Example {
        what: format!("namespace {name}"),
        path: "/api/v1/namespaces".into(),
        body: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    });
    let mut list = Vec::from(namespaces);
    list.push(Example {
        what: format!("serviceaccount {SA_NAMESPACE}/{SA_NAME}"),
        path: format!("/api/v1/namespaces/{SA_NAMESPACE}/serviceaccounts"),
        body: json!({"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": {"name": SA_NAME, "namespace": SA_NAMESPACE}}),
    });
    list.push(deployer_role());
    list.push(role_binding(
        SA_NAMESPACE,
        SA_NAME,
        ("Role", "deployer"),
        json!({"kind": "ServiceAccount", "name": SA_NAME, "namespace": SA_NAMESPACE}),
    ));
    list.push(role_binding(
        USER_NAMESPACE,
        &format!("{user}-edit"),
        ("ClusterRole", "edit"),
        json!({"kind": "User", "apiGroup": RBAC_GROUP, "name": user}),
    ));
    list
}

fn deployer_role() -> Example {
    let verbs = ["get", "list", "watch"];
    Example {
        what: format!("role {SA_NAMESPACE}/deployer"),
        path: format!("/apis/{RBAC_V1}/namespaces/{SA_NAMESPACE}/roles"),
        body: json!({
            "apiVersion": RBAC_V1, "kind": "Role",
            "metadata": {"name": "deployer", "namespace": SA_NAMESPACE},
            "rules": [
                {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": verbs},
                {"apiGroups": [""], "resources": ["pods"], "verbs": verbs},
            ],
        }),
    }
}

fn role_binding(namespace: &str, name: &str, role: (&str, &str), subject: Value) -> Example {
    let (kind, role_name) = role;
    Example {
        what: format!("rolebinding {namespace}/{name}"),
        path: format!("/apis/{RBAC_V1}/namespaces/{namespace}/rolebindings"),
        body: json!({
            "apiVersion": RBAC_V1, "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": kind, "name": role_name},
            "subjects": [subject],
        }),
    }
}

/// `POST` here with [`token_request`] for deploy-bot's token (what `kubectl create token`
/// sends).
pub fn token_request_path() -> String {
    format!("/api/v1/namespaces/{SA_NAMESPACE}/serviceaccounts/{SA_NAME}/token")
}

pub fn token_request() -> Value {
    json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS},
    })
}

/// The token of a TokenRequest answer (`status.token`), if it can go into a kubeconfig.
pub fn token_from(body: &[u8]) -> Result<String, String> {
    let answer: Value =
        serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let token = answer
        .pointer("/status/token")
        .and_then(Value::as_str)
        .ok_or("the answer has no status.token")?;
    if !crate::certs::is_plain_token(token) {
        return Err("status.token is not a JWT".into());
    }
    Ok(token.to_string())
}

/// What [`seed`] did.
#[derive(Debug, Default)]
pub struct Seeded {
    /// deploy-bot's token, when TokenRequest gave one.
    pub token: Option<String>,
    /// One line per example that failed.
    pub warnings: Vec<String>,
}

/// Waits (at most `timeout`) for `/readyz` to answer 200: the API server's storage and watch
/// caches are up, so creates will not fail for a reason that goes away by itself.
pub async fn wait_ready(client: &ApiClient, timeout: Duration) -> Result<(), String> {
    let poll = async {
        loop {
            let not_yet = match client.send(0, Method::GET, "/readyz", None).await {
                Ok(reply) if reply.code == 200 => return,
                Ok(reply) => failure_text(reply.code, &reply.body),
                Err(e) => e,
            };
            tracing::debug!("waiting for /readyz: {not_yet}");
            tokio::time::sleep(READY_POLL).await;
        }
    };
    tokio::time::timeout(timeout, poll)
        .await
        .map_err(|_| format!("the API server was not ready within {timeout:?}"))
}

/// Creates every example object, then asks for deploy-bot's token. Never fails: each
/// failure is a warning in the result.
pub async fn seed(client: &ApiClient, user: &str) -> Seeded {
    let mut seeded = Seeded {
        token: None,
        warnings: create_all(client, &objects(user)).await,
    };
    match request_token(client).await {
        Ok(token) => seeded.token = Some(token),
        Err(e) => seeded.warnings.push(format!(
            "no {SA_NAME}@kubesim context: TokenRequest for {SA_NAMESPACE}/{SA_NAME}: {e}"
        )),
    }
    seeded
}

/// Creates each object in order; returns one warning per object that could not be made.
/// An object that exists already (409, made by an earlier start) is fine.
pub async fn create_all(client: &ApiClient, objects: &[Example]) -> Vec<String> {
    let mut warnings = Vec::new();
    for example in objects {
        let body = bytes::Bytes::from(example.body.to_string());
        match client
            .send(0, Method::POST, &example.path, Some(body))
            .await
        {
            Ok(reply) if matches!(reply.code, 201 | 409) => {}
            Ok(reply) => warnings.push(format!(
                "creating {}: {}",
                example.what,
                failure_text(reply.code, &reply.body)
            )),
            Err(e) => warnings.push(format!("creating {}: {e}", example.what)),
        }
    }
    warnings
}

async fn request_token(client: &ApiClient) -> Result<String, String> {
    let body = bytes::Bytes::from(token_request().to_string());
    let reply = client
        .send(0, Method::POST, &token_request_path(), Some(body))
        .await?;
    if reply.code != 201 {
        return Err(failure_text(reply.code, &reply.body));
    }
    token_from(&reply.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_objects_are_the_seed_scenario() {
        let list = objects("jane");
        let paths: Vec<(&str, &str)> = list
            .iter()
            .map(|e| (e.what.as_str(), e.path.as_str()))
            .collect();
        assert_eq!(
            paths,
            [
                ("namespace production", "/api/v1/namespaces"),
                ("namespace dev", "/api/v1/namespaces"),
                (
                    "serviceaccount production/deploy-bot",
                    "/api/v1/namespaces/production/serviceaccounts"
                ),
                (
                    "role production/deployer",
                    "/apis/rbac.authorization.k8s.io/v1/namespaces/production/roles"
                ),
                (
                    "rolebinding production/deploy-bot",
                    "/apis/rbac.authorization.k8s.io/v1/namespaces/production/rolebindings"
                ),
                (
                    "rolebinding dev/jane-edit",
                    "/apis/rbac.authorization.k8s.io/v1/namespaces/dev/rolebindings"
                ),
            ]
        );
        assert_eq!(
            list[3].body["rules"],
            json!([
                {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            ])
        );
        assert_eq!(
            list[4].body,
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "deploy-bot", "namespace": "production"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
                "subjects": [{"kind": "ServiceAccount", "name": "deploy-bot", "namespace": "production"}],
            })
        );
        assert_eq!(
            list[5].body["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"})
        );
        assert_eq!(
            list[5].body["subjects"],
            json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"}])
        );
    }

    #[test]
    fn token_request_and_its_answer() {
        assert_eq!(
            token_request_path(),
            "/api/v1/namespaces/production/serviceaccounts/deploy-bot/token"
        );
        assert_eq!(token_request()["spec"], json!({"expirationSeconds": 86400}));
        let answer = br#"{"kind":"TokenRequest","status":{"token":"aGVhZA.Ym9keQ.c2ln","expirationTimestamp":"2026-01-02T00:00:00Z"}}"#;
        assert_eq!(token_from(answer), Ok("aGVhZA.Ym9keQ.c2ln".into()));
        assert_eq!(
            token_from(br#"{"status":{}}"#),
            Err("the answer has no status.token".into())
        );
        assert_eq!(
            token_from(br#"{"status":{"token":"a b\nc: d"}}"#),
            Err("status.token is not a JWT".into())
        );
        assert!(
            token_from(b"<html>")
                .unwrap_err()
                .starts_with("the answer is not JSON")
        );
    }
}
