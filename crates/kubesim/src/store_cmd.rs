//! `kubesim store`: one member of the etcd-compatible store, with etcd's flag names and
//! defaults, so a command line written for etcd runs kubesim unchanged.

use std::path::PathBuf;
use std::time::Duration;

use kubesim_store::{InitialClusterState, Limits, StoreConfig, StoreNode, Timing};

use crate::flags::{self, FlagError, HttpUrl};

/// etcd's defaults, in one place: they appear in `--help` and in the derived defaults below.
const DEFAULT_CLIENT_URL: &str = "http://localhost:2379";
const DEFAULT_PEER_URL: &str = "http://localhost:2380";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClusterState {
    New,
    Existing,
}

/// The flags of `kubesim store`. Each one is etcd's flag of the same name.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Human-readable name for this member.
    #[arg(long, default_value = "default")]
    pub name: String,
    /// Path to the data directory [default: <name>.etcd].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// List of URLs to listen on for client traffic [default: http://localhost:2379].
    #[arg(long)]
    pub listen_client_urls: Option<String>,
    /// List of this member's client URLs to advertise to the public [default:
    /// http://localhost:2379]. Required when --listen-client-urls is set, as in etcd.
    #[arg(long)]
    pub advertise_client_urls: Option<String>,
    /// List of URLs to listen on for peer traffic.
    #[arg(long, default_value = DEFAULT_PEER_URL)]
    pub listen_peer_urls: String,
    /// List of this member's peer URLs to advertise to the rest of the cluster.
    #[arg(long, default_value = DEFAULT_PEER_URL)]
    pub initial_advertise_peer_urls: String,
    /// List of URLs to serve the metrics endpoint (GET /metrics, Prometheus' text format)
    /// on [default: none].
    #[arg(long)]
    pub listen_metrics_urls: Option<String>,
    /// Initial cluster configuration for bootstrapping, name=url,... [default:
    /// <name>=<initial-advertise-peer-urls>].
    #[arg(long)]
    pub initial_cluster: Option<String>,
    /// Initial cluster state: new, or existing to join a cluster after `member add`.
    #[arg(long, value_enum, default_value_t = ClusterState::New)]
    pub initial_cluster_state: ClusterState,
    /// Initial cluster token for the etcd cluster during bootstrap.
    #[arg(long, default_value = "etcd-cluster")]
    pub initial_cluster_token: String,
    /// Maximum client request size in bytes the server will accept.
    #[arg(long, default_value_t = 1_572_864)]
    pub max_request_bytes: usize,
    /// Maximum number of operations permitted in a transaction.
    #[arg(long, default_value_t = 128)]
    pub max_txn_ops: usize,
    /// Time (in milliseconds) of a heartbeat interval.
    #[arg(long, default_value_t = 100)]
    pub heartbeat_interval: u64,
    /// Time (in milliseconds) for an election to timeout.
    #[arg(long, default_value_t = 1000)]
    pub election_timeout: u64,
    /// Number of committed transactions to trigger a snapshot to disk.
    #[arg(long, default_value_t = 100_000)]
    pub snapshot_count: u64,
}

impl StoreArgs {
    /// Checks every flag as etcd does and builds the member's configuration and data dir.
    pub fn to_config(&self) -> Result<(StoreConfig, PathBuf), FlagError> {
        if self.name.is_empty() {
            return Err(FlagError::new("name", "must not be empty"));
        }
        if self.initial_cluster_token.is_empty() {
            return Err(FlagError::new("initial-cluster-token", "must not be empty"));
        }
        let (listen_client_urls, advertise_client_urls) = self.client_urls()?;
        let listen_peer_urls = flags::parse_url_list("listen-peer-urls", &self.listen_peer_urls)?;
        let advertise_peer_urls = flags::parse_url_list(
            "initial-advertise-peer-urls",
            &self.initial_advertise_peer_urls,
        )?;
        let initial_cluster = match &self.initial_cluster {
            Some(list) => flags::parse_initial_cluster(list)?,
            None => self.default_initial_cluster(&advertise_peer_urls)?,
        };
        flags::check_local_member(&self.name, &advertise_peer_urls, &initial_cluster)?;
        let listen_metrics_urls = match &self.listen_metrics_urls {
            Some(list) => flags::parse_url_list("listen-metrics-urls", list)?,
            None => Vec::new(),
        };
        let config = StoreConfig {
            name: self.name.clone(),
            listen_client_urls: urls(&listen_client_urls),
            advertise_client_urls: urls(&advertise_client_urls),
            listen_peer_urls: urls(&listen_peer_urls),
            listen_metrics_urls: urls(&listen_metrics_urls),
            initial_advertise_peer_urls: urls(&advertise_peer_urls),
            initial_cluster,
            initial_cluster_state: match self.initial_cluster_state {
                ClusterState::New => InitialClusterState::New,
                ClusterState::Existing => InitialClusterState::Existing,
            },
            initial_cluster_token: self.initial_cluster_token.clone(),
            limits: self.limits()?,
            timing: self.timing()?,
            // Test-only, no flag: the binary never plants a bug.
            planted_bug: Default::default(),
        };
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.etcd", self.name)));
        Ok((config, data_dir))
    }

    /// etcd refuses an explicit listen URL with a default advertise URL: clients would be told
    /// to dial localhost:2379, where nothing listens.
    fn client_urls(&self) -> Result<(Vec<HttpUrl>, Vec<HttpUrl>), FlagError> {
        if self.listen_client_urls.is_some() && self.advertise_client_urls.is_none() {
            return Err(FlagError::new(
                "advertise-client-urls",
                "is required when --listen-client-urls is set explicitly",
            ));
        }
        let listen = self
            .listen_client_urls
            .as_deref()
            .unwrap_or(DEFAULT_CLIENT_URL);
        let advertise = self
            .advertise_client_urls
            .as_deref()
            .unwrap_or(DEFAULT_CLIENT_URL);
        Ok((
            flags::parse_url_list("listen-client-urls", listen)?,
            flags::parse_url_list("advertise-client-urls", advertise)?,
        ))
    }

    /// etcd's default `--initial-cluster`: this member alone, at its advertised peer URL.
    fn default_initial_cluster(
        &self,
        advertise_peer_urls: &[HttpUrl],
    ) -> Result<Vec<kubesim_store::InitialMember>, FlagError> {
        let list: Vec<String> = advertise_peer_urls
            .iter()
            .map(|url| format!("{}={}", self.name, url.url()))
            .collect();
        flags::parse_initial_cluster(&list.join(","))
    }

    fn limits(&self) -> Result<Limits, FlagError> {
        if self.max_request_bytes == 0 {
            return Err(FlagError::new("max-request-bytes", "must be at least 1"));
        }
        if self.max_txn_ops == 0 {
            return Err(FlagError::new("max-txn-ops", "must be at least 1"));
        }
        Ok(Limits {
            max_request_bytes: self.max_request_bytes,
            max_txn_ops: self.max_txn_ops,
            ..Limits::default()
        })
    }

    fn timing(&self) -> Result<Timing, FlagError> {
        flags::check_timing(self.heartbeat_interval, self.election_timeout)?;
        if self.snapshot_count == 0 {
            return Err(FlagError::new("snapshot-count", "must be at least 1"));
        }
        Ok(Timing {
            heartbeat_interval: Duration::from_millis(self.heartbeat_interval),
            election_timeout: Duration::from_millis(self.election_timeout),
            snapshot_count: self.snapshot_count,
            ..Timing::default()
        })
    }
}

fn urls(urls: &[HttpUrl]) -> Vec<String> {
    urls.iter().map(HttpUrl::url).collect()
}

/// Runs one member until SIGINT or SIGTERM, then shuts it down cleanly.
pub async fn run(config: StoreConfig, data_dir: PathBuf) -> anyhow::Result<()> {
    let env = kubesim_net::Env::production(&data_dir);
    let name = config.name.clone();
    let client_urls = config.advertise_client_urls.join(",");
    let node = StoreNode::start(env, config)
        .await
        .map_err(|e| anyhow::anyhow!("member {name} failed to start: {e}"))?;
    tracing::info!(member = %name, data_dir = %data_dir.display(), %client_urls,
        "ready to serve client requests");
    crate::signal::terminated().await?;
    tracing::info!(member = %name, "received a stop signal, shutting down");
    node.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        store: StoreArgs,
    }

    fn config(args: &[&str]) -> Result<(StoreConfig, PathBuf), FlagError> {
        let argv = std::iter::once("store").chain(args.iter().copied());
        Cmd::try_parse_from(argv).unwrap().store.to_config()
    }

    #[test]
    fn defaults_are_etcds() {
        let (config, data_dir) = config(&[]).unwrap();
        assert_eq!(config.name, "default");
        assert_eq!(data_dir, PathBuf::from("default.etcd"));
        assert_eq!(config.listen_client_urls, ["http://localhost:2379"]);
        assert_eq!(config.advertise_client_urls, ["http://localhost:2379"]);
        assert_eq!(config.listen_peer_urls, ["http://localhost:2380"]);
        assert!(config.listen_metrics_urls.is_empty());
        assert_eq!(config.initial_cluster.len(), 1);
        assert_eq!(config.initial_cluster[0].name, "default");
        assert_eq!(config.initial_cluster[0].peer_url, "http://localhost:2380");
        assert_eq!(config.initial_cluster_state, InitialClusterState::New);
        assert_eq!(config.initial_cluster_token, "etcd-cluster");
        assert_eq!(config.limits.max_request_bytes, 1_572_864);
        assert_eq!(config.limits.max_txn_ops, 128);
        assert_eq!(config.timing.heartbeat_interval, Duration::from_millis(100));
        assert_eq!(config.timing.election_timeout, Duration::from_millis(1000));
        assert_eq!(config.timing.snapshot_count, 100_000);
    }

    #[test]
    fn data_dir_and_initial_cluster_follow_the_name() {
        let (config, data_dir) = config(&["--name", "infra1"]).unwrap();
        assert_eq!(data_dir, PathBuf::from("infra1.etcd"));
        assert_eq!(config.initial_cluster[0].name, "infra1");
    }

    #[test]
    fn three_member_command_line_as_in_etcds_procfile() {
        let (config, _) = config(&[
            "--name=infra2",
            "--listen-client-urls=http://127.0.0.1:22379",
            "--advertise-client-urls=http://127.0.0.1:22379",
            "--listen-peer-urls=http://127.0.0.1:22380",
            "--initial-advertise-peer-urls=http://127.0.0.1:22380",
            "--initial-cluster-token=etcd-cluster-1",
            "--initial-cluster=infra1=http://127.0.0.1:12380,infra2=http://127.0.0.1:22380,infra3=http://127.0.0.1:32380",
            "--initial-cluster-state=existing",
            "--heartbeat-interval=50",
            "--election-timeout=250",
        ])
        .unwrap();
        assert_eq!(config.listen_client_urls, ["http://127.0.0.1:22379"]);
        let names: Vec<&str> = config
            .initial_cluster
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(names, ["infra1", "infra2", "infra3"]);
        assert_eq!(config.initial_cluster_state, InitialClusterState::Existing);
        assert_eq!(config.timing.election_timeout, Duration::from_millis(250));
    }

    #[test]
    fn metrics_urls_are_a_list_as_in_etcd() {
        let (config, _) =
            config(&["--listen-metrics-urls=http://127.0.0.1:2381,http://127.0.0.1:12381"])
                .unwrap();
        assert_eq!(
            config.listen_metrics_urls,
            ["http://127.0.0.1:2381", "http://127.0.0.1:12381"]
        );
    }

    #[test]
    fn invalid_flags_name_the_flag() {
        let cases: [(&[&str], &str); 8] = [
            (
                &["--listen-client-urls=http://127.0.0.1:1"],
                "advertise-client-urls",
            ),
            (&["--listen-peer-urls=127.0.0.1:2380"], "listen-peer-urls"),
            (
                &["--listen-metrics-urls=https://127.0.0.1:2381"],
                "listen-metrics-urls",
            ),
            (
                &["--initial-cluster=other=http://localhost:2380"],
                "initial-cluster",
            ),
            (&["--election-timeout=400"], "election-timeout"),
            (&["--max-txn-ops=0"], "max-txn-ops"),
            (&["--snapshot-count=0"], "snapshot-count"),
            (&["--name="], "name"),
        ];
        for (args, flag) in cases {
            let err = config(args).expect_err(&format!("{args:?}"));
            assert_eq!(err.flag, flag, "{args:?}: {err}");
        }
    }

    #[test]
    fn unknown_cluster_state_is_a_usage_error() {
        let err = Cmd::try_parse_from(["store", "--initial-cluster-state=joined"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
