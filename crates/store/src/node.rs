//! Starting and stopping one store member: IDs, databases, Raft, the peer, client and metrics
//! servers, bootstrap, publish, the lease expiry loop and the task that follows Raft's metrics.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kubesim_net::Env;
use kubesim_net::network::Listener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{InitialClusterState, Limits, StoreConfig, Timing, host_port};
use crate::error::StoreError;
use crate::handle::StoreHandle;
use crate::lessor::{Lessor, run_expiry};
use crate::members::{cluster_id, initial_peers, member_id};
use crate::metrics::StoreMetrics;
use crate::planted::PlantedBug;
use crate::raft::{Consensus, MemberNode, RaftSettings, StoreRequest, serve_peers};

/// How long `shutdown` waits for the servers and background tasks before aborting them
/// (a client may hold a watch stream open forever).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// State shared by every clone of a [`StoreHandle`].
pub struct NodeInner {
    /// This member's ID (the Raft node ID).
    pub(crate) id: u64,
    /// Reported in every response header.
    pub(crate) cluster_id: u64,
    /// The bounds the client API enforces.
    pub(crate) limits: Limits,
    /// Request budget and peer timeouts.
    pub(crate) timing: Timing,
    /// Mixed into member IDs computed by `member add`.
    pub(crate) cluster_token: String,
    /// Entropy for lease IDs; disk for the database sizes.
    pub(crate) env: Env,
    pub(crate) consensus: Arc<Consensus>,
    /// Test-only: the known bug planted in the client services, if any.
    pub(crate) planted_bug: PlantedBug,
    /// This member's metrics (its own registry), served on `--listen-metrics-urls`.
    pub(crate) metrics: Arc<StoreMetrics>,
}

/// A running member: its handle, and what is needed to stop it.
pub struct StoreNode {
    pub handle: StoreHandle,
    /// The peer server's bound address (useful after binding port 0).
    peer_addr: SocketAddr,
    /// The client (etcd API) server's bound address.
    client_addr: SocketAddr,
    /// The metrics servers' bound addresses, one per `--listen-metrics-urls` URL.
    metrics_addrs: Vec<SocketAddr>,
    /// Set to true to stop the servers and background tasks.
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn first_host_port<'a>(urls: &'a [String], flag: &str) -> Result<&'a str, StoreError> {
    let url = urls
        .first()
        .ok_or_else(|| StoreError::InvalidArgument(format!("{flag} is empty")))?;
    host_port(url).map_err(StoreError::InvalidArgument)
}

async fn bind(env: &Env, urls: &[String], flag: &str) -> Result<Box<dyn Listener>, StoreError> {
    let addr = first_host_port(urls, flag)?;
    env.net
        .bind(addr)
        .await
        .map_err(|e| StoreError::Internal(format!("binding {flag} {addr}: {e}")))
}

/// One listener per URL (`--listen-metrics-urls` may list several, or none).
async fn bind_each(
    env: &Env,
    urls: &[String],
    flag: &str,
) -> Result<Vec<Box<dyn Listener>>, StoreError> {
    let mut listeners = Vec::with_capacity(urls.len());
    for url in urls {
        listeners.push(bind(env, std::slice::from_ref(url), flag).await?);
    }
    Ok(listeners)
}

fn local_addr(listener: &dyn Listener) -> Result<SocketAddr, StoreError> {
    listener
        .local_addr()
        .map_err(|e| StoreError::Internal(format!("local address: {e}")))
}

/// Resolves when `shutdown` turns true (or its sender is gone).
async fn on_shutdown(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// This member's ID, and the cluster's ID. A new cluster must list this member.
fn ids(config: &StoreConfig) -> Result<(u64, u64, BTreeMap<u64, MemberNode>), StoreError> {
    first_host_port(
        &config.initial_advertise_peer_urls,
        "--initial-advertise-peer-urls",
    )?;
    let token = &config.initial_cluster_token;
    let id = member_id(&config.initial_advertise_peer_urls, token);
    let peers = initial_peers(config)?;
    if config.initial_cluster_state == InitialClusterState::New && !peers.contains_key(&id) {
        return Err(StoreError::InvalidArgument(format!(
            "couldn't find local name {:?} in the initial cluster configuration",
            config.name
        )));
    }
    let ids: Vec<u64> = peers.keys().copied().collect();
    // Every initial member must write the same first membership entry, so only what all of
    // them know goes in: name and peer URLs. Client URLs are published later.
    let nodes = peers
        .into_iter()
        .map(|(id, p)| {
            let node = MemberNode {
                name: p.name,
                peer_urls: p.peer_urls,
                client_urls: Vec::new(),
            };
            (id, node)
        })
        .collect();
    Ok((id, cluster_id(&ids, token), nodes))
}

impl StoreNode {
    /// Opens the member's databases through `env.disk`, starts Raft, binds the peer and client
    /// listeners through `env.net`, and bootstraps or joins the cluster as configured.
    pub async fn start(env: Env, config: StoreConfig) -> anyhow_free::Result<StoreNode> {
        let (id, cluster_id, initial) = ids(&config)?;
        let peer_listener = bind(&env, &config.listen_peer_urls, "--listen-peer-urls").await?;
        let client_listener =
            bind(&env, &config.listen_client_urls, "--listen-client-urls").await?;
        let metrics_listeners =
            bind_each(&env, &config.listen_metrics_urls, "--listen-metrics-urls").await?;
        let peer_addr = local_addr(peer_listener.as_ref())?;
        let client_addr = local_addr(client_listener.as_ref())?;
        let metrics_addrs = metrics_listeners
            .iter()
            .map(|l| local_addr(l.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;

        let metrics = Arc::new(StoreMetrics::new());
        let settings = RaftSettings {
            id,
            cluster_token: config.initial_cluster_token.clone(),
            timing: config.timing,
            planted_bug: config.planted_bug,
            metrics: metrics.clone(),
        };
        let consensus = Arc::new(Consensus::start(&env, settings, Arc::new(Lessor::new())).await?);
        if let Err(e) = bootstrap(&consensus, config.initial_cluster_state, initial).await {
            consensus.shutdown().await;
            return Err(e);
        }
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let peers = serve_peers(
            consensus.clone(),
            peer_listener,
            on_shutdown(shutdown_rx.clone()),
        );
        tasks.push(spawn_logged("peer server", peers));
        let reporter = consensus.clone();
        let stop = shutdown_rx.clone();
        tasks.push(tokio::spawn(
            async move { reporter.report_metrics(stop).await },
        ));

        let handle = StoreHandle {
            inner: Arc::new(NodeInner {
                id,
                cluster_id,
                limits: config.limits,
                timing: config.timing,
                cluster_token: config.initial_cluster_token.clone(),
                env,
                consensus,
                planted_bug: config.planted_bug,
                metrics,
            }),
        };
        let clients = serve_clients(
            handle.clone(),
            client_listener,
            config.limits,
            on_shutdown(shutdown_rx.clone()),
        );
        tasks.push(spawn_logged("client server", clients));
        for listener in metrics_listeners {
            let stop = on_shutdown(shutdown_rx.clone());
            let metrics = crate::metrics::serve(handle.clone(), listener, stop);
            tasks.push(spawn_logged("metrics server", metrics));
        }
        let client_urls = advertised_client_urls(&config, client_addr);
        tasks.push(tokio::spawn(publish(
            handle.clone(),
            config.name.clone(),
            client_urls,
            shutdown_rx.clone(),
        )));
        tasks.push(tokio::spawn(run_expiry(handle.clone(), shutdown_rx)));
        Ok(StoreNode {
            handle,
            peer_addr,
            client_addr,
            metrics_addrs,
            shutdown,
            tasks,
        })
    }

    /// The address the peer protocol is served on.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// The address the etcd v3 API is served on.
    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    /// The addresses `GET /metrics` is served on, in `--listen-metrics-urls` order.
    pub fn metrics_addrs(&self) -> &[SocketAddr] {
        &self.metrics_addrs
    }

    /// Stops serving and shuts Raft down cleanly.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for mut task in self.tasks {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
                // Wait for the aborted task to be dropped, so its listeners are closed when
                // `shutdown` returns and a restart can bind the same ports. Dropping never
                // waits on I/O; the bound is only a guard.
                let _ = tokio::time::timeout(SHUTDOWN_GRACE, task).await;
            }
        }
        self.handle.inner.consensus.shutdown().await;
    }
}

/// A new cluster is initialized with its initial members (on every member, and only if this
/// member has no log yet). A member joining an existing cluster waits to be contacted.
async fn bootstrap(
    consensus: &Consensus,
    state: InitialClusterState,
    initial: BTreeMap<u64, MemberNode>,
) -> Result<(), StoreError> {
    if state == InitialClusterState::New && !consensus.is_initialized().await? {
        consensus.initialize(initial).await?;
    }
    Ok(())
}

fn advertised_client_urls(config: &StoreConfig, bound: SocketAddr) -> Vec<String> {
    if config.advertise_client_urls.is_empty() {
        vec![format!("http://{bound}")]
    } else {
        config.advertise_client_urls.clone()
    }
}

fn spawn_logged(
    what: &'static str,
    fut: impl Future<Output = Result<(), StoreError>> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = fut.await {
            tracing::error!(error = %e, "{what} stopped");
        }
    })
}

/// The etcd v3 API on the client URL.
async fn serve_clients(
    handle: StoreHandle,
    listener: Box<dyn Listener>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StoreError> {
    crate::etcd::serve(handle, listener, limits, shutdown).await
}

/// Announces this member's name and client URLs through the log (etcd's publish), retrying
/// until it is committed or the member stops.
async fn publish(
    handle: StoreHandle,
    name: String,
    client_urls: Vec<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    let request = StoreRequest::PublishMember {
        id: handle.member_id(),
        name,
        client_urls,
    };
    let pause = handle.inner.timing.heartbeat_interval;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => return,
            result = handle.propose_request(request.clone()) => match result {
                Ok(_) => return,
                Err(e) => tracing::debug!(error = %e, "publish: will retry"),
            },
        }
        tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

mod anyhow_free {
    pub type Result<T> = std::result::Result<T, crate::error::StoreError>;
}
