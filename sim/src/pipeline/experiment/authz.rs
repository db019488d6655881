//! The `authz` host of an experiment with `authorization: webhook`: the authz service
//! (`kubesim_authz::service::AuthzService`, plain gRPC over turmoil's TCP) deciding with
//! real RBAC over watch caches of the store (`CachedRbac`, as `kubesim authz` does), each
//! answer held back by a seeded draw of `authz_webhook_latency`; and the kubeconfig that
//! points the API server's Webhook authorizer at it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use kubesim_apiserver::security::rbac_source::CachedRbac;
use kubesim_authz::rbac::Rbac;
use kubesim_authz::service::AuthzService;
use kubesim_net::{Env, MemDisk, SeededEntropy};
use kubesim_storage::EtcdStorage;
use kubesim_webhooks::Knobs;
use kubesim_webhooks::faults::Faults as Fates;

use super::super::pki::MemFile;
use super::knobs_latency;
use crate::clock::SimClock;
use crate::cluster::{CLIENT_PORT, Cluster};
use crate::experiment::point::LatencyDist;
use crate::network::TurmoilNetwork;

/// The authz host's name and gRPC port.
pub const AUTHZ: &str = "authz";
pub const AUTHZ_PORT: u16 = 9443;
/// As `kubesim authz`: the callers are one API server; the bound only stops a flood.
const MAX_CONNECTIONS: usize = 256;
/// How long start-up waits for the RBAC caches' first lists (until then every answer would
/// be "no opinion" over an empty policy, so the service does not listen yet).
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on one call's handling: the longest drawn delay (the webhook latency cap) and room.
const HANDLER_TIMEOUT: Duration = Duration::from_secs(120);

/// `--authorization-webhook-config-file`: a kubeconfig whose server is the authz host.
pub fn kubeconfig() -> anyhow::Result<MemFile> {
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: authz\n  cluster:\n    server: http://{AUTHZ}:{AUTHZ_PORT}\n\
         users:\n- name: apiserver\n  user: {{}}\ncontexts:\n- name: authz\n  context:\n    cluster: authz\n    user: apiserver\n\
         current-context: authz\n"
    );
    MemFile::new("authz-webhook.kubeconfig", text.as_bytes())
}

/// Adds the `authz` host; its RBAC reads the first store member, as `kubesim authz` does.
pub fn add(
    cluster: &mut Cluster,
    members: &[String],
    latency: LatencyDist,
    seed: u64,
    epoch: Duration,
) {
    let etcd_servers: Vec<String> = members
        .iter()
        .map(|m| format!("http://{m}:{CLIENT_PORT}"))
        .collect();
    cluster.host(AUTHZ, move || {
        let env = Env {
            net: Arc::new(TurmoilNetwork),
            clock: Arc::new(SimClock::new(epoch)),
            entropy: Arc::new(SeededEntropy::from_seed(seed ^ 0xa072_0000)),
            disk: Arc::new(MemDisk::new()),
        };
        let etcd_servers = etcd_servers.clone();
        async move { serve(env, etcd_servers, latency, seed).await }
    });
}

async fn serve(
    env: Env,
    etcd_servers: Vec<String>,
    latency: LatencyDist,
    seed: u64,
) -> anyhow::Result<()> {
    let storage = EtcdStorage::new(&env, &etcd_servers).map_err(|e| anyhow!("authz: {e}"))?;
    let source = CachedRbac::start(&env, storage, "/registry");
    if !source.wait_ready(READY_TIMEOUT).await {
        bail!("authz: the RBAC caches did not list within {READY_TIMEOUT:?}");
    }
    let listener = env.net.bind(&format!("0.0.0.0:{AUTHZ_PORT}")).await?;
    // The same seeded draw as a webhook's knobs: one RNG, one draw per call in call order.
    let fates = Fates::new(Knobs {
        latency: knobs_latency(latency),
        seed: seed ^ 0xa072_1a7e,
        ..Knobs::default()
    });
    let service = AuthzService::new(Arc::new(Rbac::new(source.clone())))
        .with_latency(Arc::new(move || fates.draw().delay))
        .into_server();
    let connections = kubesim_net::network::bounded_incoming(listener, MAX_CONNECTIONS);
    tonic::transport::Server::builder()
        .timeout(HANDLER_TIMEOUT)
        .add_service(service)
        .serve_with_incoming(connections)
        .await
        .map_err(|e| anyhow!("authz: {e}"))
}
