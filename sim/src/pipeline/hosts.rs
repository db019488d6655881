//! The pipeline's server hosts beside the store members: `apiserver` (the production
//! `ApiServer` on an `Env` of turmoil's network, the simulated clock and seeded entropy) and
//! the sample admission webhooks (`kubesim_webhooks::serve`), each restartable by the driver
//! (`Fault::BounceHost`) and each started afresh from its config at every start. The `authz`
//! host is `super::authz`; [`authorize_through_authz`] points the API server at it.
//!
//! A webhook's knobs (latency, failures) are read at each start from a [`WebhookHost`]
//! shared with the nemesis, which makes a webhook slow or broken by changing its knobs and
//! bouncing it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use kubesim_apiserver::{ApiServer, ApiServerConfig};
use kubesim_net::network::Network as _;
use kubesim_net::{Env, MemDisk, SeededEntropy};
use kubesim_webhooks::{Knobs, Sample};

use super::pki::{Certified, MemFile, Pki};
use crate::clock::SimClock;
use crate::cluster::{CLIENT_PORT, Cluster};
use crate::network::TurmoilNetwork;

/// The API server's host name and port.
pub const APISERVER: &str = "apiserver";
pub const APISERVER_PORT: u16 = 6443;
/// Every webhook serves on this port of its own host.
pub const WEBHOOK_PORT: u16 = 8443;

/// The API server's certificate, key and client CA, as files in RAM that live as long as
/// the run (the server reads them at every start).
pub struct ApiServerFiles {
    cert: MemFile,
    key: MemFile,
    client_ca: MemFile,
}

impl ApiServerFiles {
    pub fn new(pki: &mut Pki) -> anyhow::Result<ApiServerFiles> {
        let serving = pki.server(APISERVER)?;
        Ok(ApiServerFiles {
            cert: MemFile::new("apiserver.crt", serving.cert_pem.as_bytes())?,
            key: MemFile::new("apiserver.key", serving.key_pem.as_bytes())?,
            client_ca: MemFile::new("client-ca.crt", pki.ca_pem.as_bytes())?,
        })
    }
}

/// The API server's flags: RBAC, x509 client certificates, the store members, and
/// `request_timeout`.
pub fn apiserver_config(
    files: &ApiServerFiles,
    members: &[String],
    request_timeout: Duration,
) -> ApiServerConfig {
    let mut config = ApiServerConfig::new(
        &format!("0.0.0.0:{APISERVER_PORT}"),
        files.cert.path(),
        files.key.path(),
    );
    config.client_ca_file = Some(files.client_ca.path());
    config.etcd_servers = members
        .iter()
        .map(|m| format!("http://{m}:{CLIENT_PORT}"))
        .collect();
    config.request_timeout = request_timeout;
    config.shutdown_grace = Duration::from_secs(1);
    config.auth.anonymous_auth = false;
    config.auth.authorization_modes = "RBAC".to_owned();
    config
}

/// Authorization through the `authz` host alone (`--authorization-mode=Webhook`, the
/// webhook's kubeconfig in `kubeconfig`), each call bounded by `timeout`, and no decision
/// cache (kube caches allowed answers 5 min and the others 30 s): every request asks, so an
/// authz fault reaches every request it overlaps. The failure policy stays kube's
/// `NoOpinion`: with no authorizer after the webhook, a failed call is a refusal.
pub fn authorize_through_authz(
    config: &mut ApiServerConfig,
    kubeconfig: &MemFile,
    timeout: Duration,
) {
    let auth = &mut config.auth;
    auth.authorization_modes = "Webhook".to_owned();
    auth.authorization_webhook_config_file = Some(kubeconfig.path());
    auth.authorization_webhook_timeout = timeout;
    auth.authorization_webhook_authorized_ttl = Duration::ZERO;
    auth.authorization_webhook_unauthorized_ttl = Duration::ZERO;
}

/// Adds the `apiserver` host. Each start gets fresh entropy (seed, incarnation) and an empty
/// disk: the API server keeps nothing of its own across a restart.
pub fn add_apiserver(cluster: &mut Cluster, config: ApiServerConfig, seed: u64, epoch: Duration) {
    let incarnation = Cell::new(0u64);
    cluster.host(APISERVER, move || {
        let env = Env {
            net: Arc::new(TurmoilNetwork),
            clock: Arc::new(SimClock::new(epoch)),
            entropy: Arc::new(SeededEntropy::from_seed(
                seed ^ 0xa915_0000 ^ incarnation.replace(incarnation.get() + 1),
            )),
            disk: Arc::new(MemDisk::new()),
        };
        let config = config.clone();
        async move {
            let server = ApiServer::start(env, config)
                .await
                .map_err(|e| anyhow!("the API server did not start: {e}"))?;
            std::future::pending::<()>().await;
            drop(server);
            Ok(())
        }
    });
}

/// A webhook host: which sample, its serving certificate, and the knobs its next start
/// takes.
#[derive(Clone)]
pub struct WebhookHost {
    pub host: String,
    sample: fn() -> Sample,
    serving: Certified,
    knobs: Rc<RefCell<Knobs>>,
    /// Whether the next start serves. A host that is up but not listening refuses
    /// connections at once (a webhook whose Service has no ready endpoint), where a crashed
    /// host lets them hang until the caller's timeout.
    listening: Rc<Cell<bool>>,
}

impl WebhookHost {
    pub fn new(host: &str, sample: fn() -> Sample, pki: &mut Pki) -> anyhow::Result<Self> {
        Ok(WebhookHost {
            host: host.to_owned(),
            sample,
            serving: pki.server(host)?,
            knobs: Rc::new(RefCell::new(Knobs::default())),
            listening: Rc::new(Cell::new(true)),
        })
    }

    /// The knobs of the next start (a bounce applies them).
    pub fn set_knobs(&self, knobs: Knobs) {
        *self.knobs.borrow_mut() = knobs;
    }

    /// Whether the next start listens (a bounce applies it).
    pub fn set_listening(&self, listening: bool) {
        self.listening.set(listening);
    }

    /// `https://<host>:8443/<path>`: where the API server calls it.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}:{WEBHOOK_PORT}/{path}", self.host)
    }

    /// Adds the host to the cluster.
    pub fn add(&self, cluster: &mut Cluster) {
        let this = self.clone();
        cluster.host(&self.host, move || {
            let knobs = this.knobs.borrow().clone();
            let sample = (this.sample)();
            let serving = this.serving.clone();
            let listening = this.listening.get();
            async move {
                if !listening {
                    std::future::pending::<()>().await;
                }
                let tls = kubesim_webhooks::tls::server_config(serving.chain()?, serving.key()?)
                    .map_err(|e| anyhow!(e))?;
                let listener = TurmoilNetwork
                    .bind(&format!("0.0.0.0:{WEBHOOK_PORT}"))
                    .await?;
                kubesim_webhooks::serve(sample, knobs, listener, tls, std::future::pending())
                    .await
                    .map_err(|e| anyhow!("webhook: {e}"))
            }
        });
    }
}
