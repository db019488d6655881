//! From started processes to a cluster ready for the clients: the API server's `/readyz`,
//! each webhook's `/healthz`, the experiment namespace, ONE webhook configuration with every
//! webhook, and a probe pod seen passing through them. Each wait is bounded by
//! [`STARTUP_TIMEOUT`] and notices a process that exited.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::deployment::{Deployment, Ports};
use super::https::{CallError, Connection, Endpoint, Reply, tls_config};
use super::timing::parse_server_timing;
use super::{CLIENT_TIMEOUT, STARTUP_TIMEOUT};
use crate::experiment::point::{FailurePolicy, Point, WebhookKind};

/// The namespace the clients create pods in; only it is selected by the webhooks.
pub const NAMESPACE: &str = "experiment";
/// The namespace's label the webhooks' `namespaceSelector` matches.
const NAMESPACE_LABEL: &str = "kubesim.io/experiment";
/// The webhook configuration's name.
const CONFIGURATION: &str = "experiment";
/// How long one set-up call may take before it is tried again.
const SETUP_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Between tries of a set-up step.
const RETRY: Duration = Duration::from_millis(200);

/// A cluster ready for the clients.
#[derive(Clone)]
pub struct Cluster {
    /// The API server, as the admin (`system:masters`).
    pub api: Endpoint,
    /// The webhooks' names, as `admission.<name>` in `Server-Timing`.
    pub webhooks: Vec<String>,
    pub kind: WebhookKind,
}

/// Webhook `index`'s name (from 0): a qualified name, as kube requires, and the simulated
/// runner's name for the same webhook (`w1`, `w2`, ...), so the two reports' columns match.
pub fn webhook_name(index: usize) -> String {
    format!("w{}.experiment.kubesim.io", index.saturating_add(1))
}

/// Waits for the API server and the webhooks, then registers the webhooks.
pub async fn prepare(
    deployment: &mut Deployment,
    point: &Point,
    ports: &Ports,
) -> Result<Cluster, String> {
    let pki = deployment.pki();
    let admin = tls_config(
        &pki.join("ca.crt"),
        Some((&pki.join("admin.crt"), &pki.join("admin.key"))),
    )?;
    let api = Endpoint::loopback(ports.apiserver, admin);
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let mut conn = Connection::new(api.clone());
    until(
        deployment,
        deadline,
        "the API server's /readyz",
        async || {
            let reply = conn.call("GET", "/readyz", None, SETUP_CALL_TIMEOUT).await;
            done_if(reply, |r| r.code == 200)
        },
    )
    .await?;
    let webhook_ca = deployment.webhook_pki().join("ca.crt");
    let webhook_tls = tls_config(&webhook_ca, None)?;
    for (index, port) in ports.webhooks.iter().enumerate() {
        let mut webhook = Connection::new(Endpoint::loopback(*port, webhook_tls.clone()));
        let what = format!("webhook-{index}'s /healthz");
        until(deployment, deadline, &what, async || {
            let reply = webhook
                .call("GET", "/healthz", None, SETUP_CALL_TIMEOUT)
                .await;
            done_if(reply, |r| r.code == 200)
        })
        .await?;
    }
    let cluster = Cluster {
        api,
        webhooks: (0..ports.webhooks.len()).map(webhook_name).collect(),
        kind: point.webhook_kind,
    };
    create(
        deployment,
        deadline,
        &mut conn,
        "/api/v1/namespaces",
        &namespace(),
    )
    .await?;
    if !ports.webhooks.is_empty() {
        let ca_pem = std::fs::read_to_string(&webhook_ca)
            .map_err(|e| format!("{}: {e}", webhook_ca.display()))?;
        let configuration = webhook_configuration(point, &ports.webhooks, &ca_pem);
        let path = format!(
            "/apis/admissionregistration.k8s.io/v1/{}",
            collection(point.webhook_kind)
        );
        create(deployment, deadline, &mut conn, &path, &configuration).await?;
    }
    probe(deployment, deadline, &mut conn, &cluster).await?;
    Ok(cluster)
}

/// Runs `attempt` every [`RETRY`] until it says done, a process exits, or `deadline`.
/// `attempt` gives `Ok(true)` when done, `Ok(false)` to try again (with what it saw in
/// `last` for the error), `Err` to give up at once.
async fn until(
    deployment: &mut Deployment,
    deadline: Instant,
    what: &str,
    mut attempt: impl AsyncFnMut() -> Result<Result<(), String>, String>,
) -> Result<(), String> {
    loop {
        let last = match attempt().await? {
            Ok(()) => return Ok(()),
            Err(last) => last,
        };
        deployment.check_running()?;
        if Instant::now() >= deadline {
            return Err(format!(
                "waiting for {what}: not done after {STARTUP_TIMEOUT:?}; last: {last}\n\
                 API server log:\n{}",
                deployment.log_of("apiserver")
            ));
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// An attempt's verdict on a reply: done, or what to report if it never is.
fn done_if(
    reply: Result<Reply, CallError>,
    done: impl Fn(&Reply) -> bool,
) -> Result<Result<(), String>, String> {
    Ok(match reply {
        Ok(reply) if done(&reply) => Ok(()),
        Ok(reply) => Err(format!(
            "{}: {}",
            reply.code,
            String::from_utf8_lossy(&reply.body)
        )),
        Err(error) => Err(error.to_string()),
    })
}

/// POSTs `object` until it is created (201) or already there (409).
async fn create(
    deployment: &mut Deployment,
    deadline: Instant,
    conn: &mut Connection,
    path: &str,
    object: &Value,
) -> Result<(), String> {
    let body = Bytes::from(object.to_string());
    let what = format!("POST {path}");
    until(deployment, deadline, &what, async || {
        let reply = conn
            .call("POST", path, Some(body.clone()), SETUP_CALL_TIMEOUT)
            .await;
        done_if(reply, |r| r.code == 201 || r.code == 409)
    })
    .await
}

/// Creates probe pods until one's `Server-Timing` shows a call to one of the webhooks (the
/// API server has the configuration), whatever its outcome: under `Fail` with a webhook
/// slower than its timeout, every create fails, the probe's too. Without webhooks, until a
/// create succeeds.
async fn probe(
    deployment: &mut Deployment,
    deadline: Instant,
    conn: &mut Connection,
    cluster: &Cluster,
) -> Result<(), String> {
    let path = format!("/api/v1/namespaces/{NAMESPACE}/pods");
    let mut attempt_no = 0u32;
    until(
        deployment,
        deadline,
        "a probe pod through the webhooks",
        async || {
            attempt_no += 1;
            let body = Bytes::from(pod(&format!("probe-{attempt_no}")).to_string());
            let reply = conn.call("POST", &path, Some(body), CLIENT_TIMEOUT).await;
            done_if(reply, |r| {
                if cluster.webhooks.is_empty() {
                    return (200..300).contains(&r.code);
                }
                let entries = parse_server_timing(r.server_timing.as_deref().unwrap_or(""));
                entries.iter().any(|(name, _)| {
                    name.strip_prefix("admission.")
                        .is_some_and(|step| cluster.webhooks.iter().any(|w| w == step))
                })
            })
        },
    )
    .await
}

fn namespace() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": {NAMESPACE_LABEL: "true"}},
    })
}

/// A plain pod, which `no-privileged` admits.
pub fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]},
    })
}

fn collection(kind: WebhookKind) -> &'static str {
    match kind {
        WebhookKind::Mutating => "mutatingwebhookconfigurations",
        WebhookKind::Validating => "validatingwebhookconfigurations",
    }
}

/// ONE configuration of the point's kind, a webhook per port, each for pod CREATE in
/// [`NAMESPACE`] with the point's `timeoutSeconds` and `failurePolicy`, trusting `ca_pem`.
pub fn webhook_configuration(point: &Point, ports: &[u16], ca_pem: &str) -> Value {
    let kind = match point.webhook_kind {
        WebhookKind::Mutating => "MutatingWebhookConfiguration",
        WebhookKind::Validating => "ValidatingWebhookConfiguration",
    };
    let policy = match point.failure_policy {
        FailurePolicy::Fail => "Fail",
        FailurePolicy::Ignore => "Ignore",
    };
    let ca_bundle = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let webhooks: Vec<Value> = ports
        .iter()
        .enumerate()
        .map(|(index, port)| {
            json!({
                "name": webhook_name(index),
                "clientConfig": {
                    "url": format!("https://127.0.0.1:{port}/"),
                    "caBundle": ca_bundle,
                },
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                           "resources": ["pods"], "scope": "Namespaced"}],
                "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: "true"}},
                "failurePolicy": policy,
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": point.timeout_seconds,
            })
        })
        .collect();
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": CONFIGURATION},
        "webhooks": webhooks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_configuration_holds_every_webhook_with_the_points_settings() {
        let point = Point {
            webhooks: 2,
            timeout_seconds: 1,
            failure_policy: FailurePolicy::Ignore,
            webhook_kind: WebhookKind::Mutating,
            ..Point::default()
        };
        let config = webhook_configuration(&point, &[9001, 9002], "PEM\n");
        assert_eq!(config["kind"], "MutatingWebhookConfiguration");
        let webhooks = config["webhooks"].as_array().unwrap();
        assert_eq!(webhooks.len(), 2);
        let second = &webhooks[1];
        assert_eq!(second["name"], "w2.experiment.kubesim.io");
        assert_eq!(second["clientConfig"]["url"], "https://127.0.0.1:9002/");
        assert_eq!(second["clientConfig"]["caBundle"], "UEVNCg==");
        assert_eq!(second["timeoutSeconds"], 1);
        assert_eq!(second["failurePolicy"], "Ignore");
        assert_eq!(second["rules"][0]["operations"], json!(["CREATE"]));
        assert_eq!(
            second["namespaceSelector"]["matchLabels"][NAMESPACE_LABEL],
            "true"
        );
        assert_eq!(namespace()["metadata"]["labels"][NAMESPACE_LABEL], "true");
        let validating = webhook_configuration(&Point::default(), &[1], "");
        assert_eq!(validating["kind"], "ValidatingWebhookConfiguration");
        assert_eq!(validating["webhooks"][0]["failurePolicy"], "Fail");
    }
}
