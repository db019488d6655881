//! The `authz` host, one implementation for the chaos pipeline and the experiment runner:
//! the authz service (`kubesim_authz::service::AuthzService`, plain gRPC over turmoil's TCP)
//! deciding with real RBAC over watch caches of the store (`CachedRbac`, as `kubesim authz`
//! does), each answer held back by a seeded latency draw; and the kubeconfig that points the
//! API server's Webhook authorizer at it.
//!
//! - [`kubeconfig`]: the file of `--authorization-webhook-config-file`.
//! - [`AuthzHost`]: the host, its latency (changed while it serves) and whether its next
//!   start listens (applied by a bounce), as `WebhookHost` does for a webhook.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail};
use kubesim_apiserver::security::rbac_source::CachedRbac;
use kubesim_authz::rbac::Rbac;
use kubesim_authz::service::AuthzService;
use kubesim_net::{Env, MemDisk, SeededEntropy};
use kubesim_storage::EtcdStorage;
use kubesim_webhooks::faults::Faults as Fates;
use kubesim_webhooks::{Knobs, Latency};

use super::pki::MemFile;
use crate::clock::SimClock;
use crate::cluster::{CLIENT_PORT, Cluster};
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

/// The `authz` host and the knobs a fault turns.
#[derive(Clone)]
pub struct AuthzHost {
    /// Where its RBAC caches list and watch: the store's members, as `kubesim authz` is
    /// given them.
    etcd_servers: Vec<String>,
    /// Each answer's delay, drawn in call order from one seeded RNG. Swapped whole by
    /// [`AuthzHost::set_latency`] and read by the running service at its next call: a slow
    /// authz service needs no restart (which would also relist its caches).
    fates: Arc<Mutex<Fates>>,
    /// Whether the next start serves. Up but not listening refuses connections at once (an
    /// authz Service without a ready endpoint), where a crashed host lets them hang.
    listening: Rc<Cell<bool>>,
    /// Starts so far: each start's entropy differs, as a restarted process's would.
    incarnation: Rc<Cell<u64>>,
    seed: u64,
    epoch: Duration,
}

impl AuthzHost {
    /// A host over `members` that answers without delay until told otherwise.
    pub fn new(members: &[String], seed: u64, epoch: Duration) -> AuthzHost {
        AuthzHost {
            etcd_servers: members
                .iter()
                .map(|m| format!("http://{m}:{CLIENT_PORT}"))
                .collect(),
            fates: Arc::new(Mutex::new(Fates::new(Knobs::default()))),
            listening: Rc::new(Cell::new(true)),
            incarnation: Rc::new(Cell::new(0)),
            seed,
            epoch,
        }
    }

    /// From the next call on, each answer waits a draw of `latency` from an RNG seeded
    /// with `seed`.
    pub fn set_latency(&self, latency: Latency, seed: u64) {
        let fates = Fates::new(Knobs {
            latency,
            seed,
            ..Knobs::default()
        });
        if let Ok(mut current) = self.fates.lock() {
            *current = fates;
        }
    }

    /// Whether the next start listens (a bounce applies it).
    pub fn set_listening(&self, listening: bool) {
        self.listening.set(listening);
    }

    /// Adds the host to the cluster; each start serves afresh (new caches, new listener).
    pub fn add(&self, cluster: &mut Cluster) {
        let this = self.clone();
        cluster.host(AUTHZ, move || {
            let incarnation = this.incarnation.replace(this.incarnation.get() + 1);
            let env = Env {
                net: Arc::new(TurmoilNetwork),
                clock: Arc::new(SimClock::new(this.epoch)),
                entropy: Arc::new(SeededEntropy::from_seed(
                    this.seed ^ 0xa072_0000 ^ incarnation,
                )),
                disk: Arc::new(MemDisk::new()),
            };
            let (etcd_servers, fates) = (this.etcd_servers.clone(), this.fates.clone());
            let listening = this.listening.get();
            async move {
                if !listening {
                    std::future::pending::<()>().await;
                }
                serve(env, etcd_servers, fates).await
            }
        });
    }
}

async fn serve(
    env: Env,
    etcd_servers: Vec<String>,
    fates: Arc<Mutex<Fates>>,
) -> anyhow::Result<()> {
    let storage = EtcdStorage::new(&env, &etcd_servers).map_err(|e| anyhow!("authz: {e}"))?;
    let source = CachedRbac::start(&env, storage, "/registry");
    if !source.wait_ready(READY_TIMEOUT).await {
        bail!("authz: the RBAC caches did not list within {READY_TIMEOUT:?}");
    }
    let listener = env.net.bind(&format!("0.0.0.0:{AUTHZ_PORT}")).await?;
    // A poisoned lock (a panic while drawing) answers at once rather than failing the call.
    let delay = move || {
        fates
            .lock()
            .map(|fates| fates.draw().delay)
            .unwrap_or_default()
    };
    let service = AuthzService::new(Arc::new(Rbac::new(source.clone())))
        .with_latency(Arc::new(delay))
        .into_server();
    let connections = kubesim_net::network::bounded_incoming(listener, MAX_CONNECTIONS);
    tonic::transport::Server::builder()
        .timeout(HANDLER_TIMEOUT)
        .add_service(service)
        .serve_with_incoming(connections)
        .await
        .map_err(|e| anyhow!("authz: {e}"))
}
