//! Configuration of one store member. Flag names follow etcd's (`kubesim store --help`), and
//! every bound lives here with its default.

use std::time::Duration;

use crate::planted::PlantedBug;

/// One member of `--initial-cluster`: `name=peer_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialMember {
    pub name: String,
    pub peer_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialClusterState {
    /// Bootstrap a new cluster from `initial_cluster`.
    New,
    /// Join a cluster that already exists (the member was added with `member add`).
    Existing,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `--name`: human-readable member name.
    pub name: String,
    /// `--listen-client-urls`: where the etcd v3 API is served (`http://host:port`, comma list).
    pub listen_client_urls: Vec<String>,
    /// `--advertise-client-urls`: what `member list` tells clients.
    pub advertise_client_urls: Vec<String>,
    /// `--listen-peer-urls`: where the Raft peer protocol is served.
    pub listen_peer_urls: Vec<String>,
    /// `--listen-metrics-urls`: where `GET /metrics` is served (`http://host:port`, comma
    /// list; empty: nowhere). etcd also serves it on the client URLs; kubesim's client URLs
    /// speak only gRPC, so metrics need their own.
    pub listen_metrics_urls: Vec<String>,
    /// `--initial-advertise-peer-urls`: how other members reach this one.
    pub initial_advertise_peer_urls: Vec<String>,
    /// `--initial-cluster`.
    pub initial_cluster: Vec<InitialMember>,
    /// `--initial-cluster-state`.
    pub initial_cluster_state: InitialClusterState,
    /// `--initial-cluster-token`: mixed into the cluster ID.
    pub initial_cluster_token: String,
    pub limits: Limits,
    pub timing: Timing,
    /// Test-only: a known bug to plant in this member ([`PlantedBug::None`] otherwise). No flag
    /// sets it, and it has no effect unless the crate is built with `planted-bugs`.
    pub planted_bug: PlantedBug,
}

impl StoreConfig {
    /// A member of a new cluster that listens where it advertises: `client_url` for the etcd
    /// API and `peer_url` for its peers, with etcd's default limits and timing. Callers
    /// change the fields that differ (a test listening on port 0, a joining member, metrics
    /// URLs: none by default).
    pub fn new(
        name: &str,
        client_url: &str,
        peer_url: &str,
        initial_cluster: Vec<InitialMember>,
        token: &str,
    ) -> StoreConfig {
        StoreConfig {
            name: name.to_owned(),
            listen_client_urls: vec![client_url.to_owned()],
            advertise_client_urls: vec![client_url.to_owned()],
            listen_peer_urls: vec![peer_url.to_owned()],
            listen_metrics_urls: Vec::new(),
            initial_advertise_peer_urls: vec![peer_url.to_owned()],
            initial_cluster,
            initial_cluster_state: InitialClusterState::New,
            initial_cluster_token: token.to_owned(),
            limits: Limits::default(),
            timing: Timing::default(),
            planted_bug: PlantedBug::None,
        }
    }
}

/// Bounds on what a client may send. etcd's defaults.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `--max-request-bytes`: 1.5 MiB.
    pub max_request_bytes: usize,
    /// `--max-txn-ops`: 128 operations per transaction.
    pub max_txn_ops: usize,
    /// Watchers per watch stream.
    pub max_watches_per_stream: usize,
    /// Concurrent client connections per listener.
    pub max_client_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_bytes: 1536 * 1024,
            max_txn_ops: 128,
            max_watches_per_stream: 1024,
            max_client_connections: 4096,
        }
    }
}

/// Raft and request timing.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// `--heartbeat-interval` (etcd default 100 ms).
    pub heartbeat_interval: Duration,
    /// `--election-timeout` (etcd default 1000 ms).
    pub election_timeout: Duration,
    /// `--snapshot-count`: applied entries between snapshots (etcd default 100 000).
    pub snapshot_count: u64,
    /// How long a client call may wait for the cluster (no leader, slow quorum) before it
    /// fails with `Unavailable`. etcd uses 5 s plus election time.
    pub request_timeout: Duration,
    /// Timeout of one peer RPC (append entries, vote, forward).
    pub peer_rpc_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            heartbeat_interval: Duration::from_millis(100),
            election_timeout: Duration::from_millis(1000),
            snapshot_count: 100_000,
            request_timeout: Duration::from_secs(7),
            peer_rpc_timeout: Duration::from_secs(2),
        }
    }
}

/// `http://127.0.0.1:2379` -> `127.0.0.1:2379`. Only plain http is served for now.
pub fn host_port(url: &str) -> Result<&str, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("unsupported URL {url:?}: only http:// URLs are served"))?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') {
        return Err(format!("URL {url:?} must be http://host:port"));
    }
    Ok(rest)
}
