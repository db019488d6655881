//! `kubesim up`: the whole control plane in one process on loopback: a three-member store
//! laid out like etcd's Procfile (client ports 2379, 22379, 32379; peer ports one above
//! each) and the API server on `--secure-port` (6443) over it. Everything lives under
//! `--data-dir` and survives restarts: the members' data, the certificates (`pki/`, made on
//! the first start) and `kubeconfig` for kubectl.

use std::path::{Path, PathBuf};

use kubesim_apiserver::{ApiServer, ApiServerConfig};
use kubesim_store::{InitialMember, StoreConfig, StoreNode};

use crate::flags::FlagError;

/// How far each member's client port is from `--base-port`, as in etcd's Procfile.
const PORT_OFFSETS: [u16; 3] = [0, 20_000, 30_000];

#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Directory holding one data directory per member (store-1, store-2, store-3). A restart
    /// with the same directory keeps the data.
    #[arg(long, default_value = "kubesim-data")]
    pub data_dir: PathBuf,
    /// Client port of store-1; the others are at +20000 and +30000, and each member's peer
    /// port is its client port + 1.
    #[arg(long, default_value_t = 2379)]
    pub base_port: u16,
    /// The API server's HTTPS port on 127.0.0.1.
    #[arg(long, default_value_t = 6443)]
    pub secure_port: u16,
}

/// Where `up` keeps the certificates, under `--data-dir`.
const PKI_DIR: &str = "pki";

/// One member of the local cluster: its configuration and where its data lives.
#[derive(Debug, Clone)]
pub struct PlannedMember {
    /// What `StoreNode::start` is given.
    pub config: StoreConfig,
    /// Its own data directory, so members never share files.
    pub data_dir: PathBuf,
}

/// Lays out the three members: names store-1..3, loopback URLs, one data dir each.
pub fn plan(args: &UpArgs) -> Result<Vec<PlannedMember>, FlagError> {
    let last_offset = PORT_OFFSETS[PORT_OFFSETS.len() - 1];
    if args.base_port == 0 || args.base_port > u16::MAX - last_offset - 1 {
        return Err(FlagError::new(
            "base-port",
            format!(
                "{} leaves no room for the ports +20000 and +30001; use 1 to {}",
                args.base_port,
                u16::MAX - last_offset - 1
            ),
        ));
    }
    let client_ports = PORT_OFFSETS.map(|offset| args.base_port + offset);
    let initial_cluster: Vec<InitialMember> = client_ports
        .iter()
        .enumerate()
        .map(|(i, port)| InitialMember {
            name: member_name(i),
            peer_url: loopback_url(port + 1),
        })
        .collect();
    let members = client_ports
        .iter()
        .enumerate()
        .map(|(i, &port)| planned_member(&args.data_dir, i, port, &initial_cluster))
        .collect();
    Ok(members)
}

fn planned_member(
    data_dir: &Path,
    index: usize,
    client_port: u16,
    initial_cluster: &[InitialMember],
) -> PlannedMember {
    let name = member_name(index);
    let client_url = loopback_url(client_port);
    let peer_url = loopback_url(client_port + 1);
    let config = StoreConfig::new(
        &name,
        &client_url,
        &peer_url,
        initial_cluster.to_vec(),
        "kubesim-up",
    );
    PlannedMember {
        config,
        data_dir: data_dir.join(&name),
    }
}

fn member_name(index: usize) -> String {
    format!("store-{}", index + 1)
}

fn loopback_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// What the user reads once the cluster is up: the endpoints and a command to try.
pub fn banner(members: &[PlannedMember], api_server: &str, kubeconfig: &Path) -> String {
    let endpoints: Vec<&str> = members
        .iter()
        .flat_map(|m| m.config.advertise_client_urls.iter())
        .map(|url| url.trim_start_matches("http://"))
        .collect();
    let mut text = String::from("kubesim is up.\n\nstore members (etcd v3 API):\n");
    for member in members {
        text.push_str(&format!(
            "  {:<8} client {}  peer {}  data {}\n",
            member.config.name,
            member.config.advertise_client_urls.join(","),
            member.config.initial_advertise_peer_urls.join(","),
            member.data_dir.display()
        ));
    }
    text.push_str(&format!("\nAPI server: {api_server}\n"));
    text.push_str(&format!(
        "\nfor kubectl:\n  export KUBECONFIG={}\n",
        shell_path(kubeconfig)
    ));
    text.push_str(&format!(
        "\ntry:\n  kubectl get namespaces\n  etcdctl --endpoints={} member list -w table\n\nPress Ctrl-C to stop.\n",
        endpoints.join(",")
    ));
    text
}

/// An absolute path, quoted for a POSIX shell when it needs it.
fn shell_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let text = absolute.display().to_string();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The certificates under `data_dir/pki` (made on the first start) and
/// `data_dir/kubeconfig`; returns the kubeconfig's path.
fn ensure_certs(data_dir: &Path, server: &str) -> anyhow::Result<PathBuf> {
    use kubesim_net::Clock as _;
    let pki = data_dir.join(PKI_DIR);
    let kubeconfig = data_dir.join(crate::certs::KUBECONFIG_FILE);
    if !pki.join(crate::certs::APISERVER_CERT_FILE).exists() {
        let opts = crate::certs::CertOptions {
            hosts: crate::certs::parse_hosts(crate::certs::DEFAULT_HOSTS)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            server: server.to_string(),
            now_since_epoch: kubesim_net::SystemClock.now_since_epoch(),
        };
        let certs = crate::certs::generate(&opts).map_err(|e| anyhow::anyhow!("{e}"))?;
        crate::certs::write_files(&pki, &certs, true)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", pki.display()))?;
    }
    std::fs::copy(pki.join(crate::certs::KUBECONFIG_FILE), &kubeconfig)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", kubeconfig.display()))?;
    Ok(kubeconfig)
}

/// Starts the members together (each may wait for the others to elect a leader), then the
/// API server over them, prints the banner, and waits for Ctrl-C or SIGTERM.
pub async fn run(args: &UpArgs, members: Vec<PlannedMember>) -> anyhow::Result<()> {
    let starts = members.iter().map(|member| {
        let env = kubesim_net::Env::production(&member.data_dir);
        StoreNode::start(env, member.config.clone())
    });
    let results = futures::future::join_all(starts).await;
    let mut nodes = Vec::new();
    let mut failures = Vec::new();
    for (member, result) in members.iter().zip(results) {
        match result {
            Ok(node) => nodes.push(node),
            Err(e) => failures.push(format!("{}: {e}", member.config.name)),
        }
    }
    let mut api_server = None;
    if failures.is_empty() {
        match start_api_server(args, &members).await {
            Ok((server, kubeconfig)) => {
                let address = format!("https://{}", server.local_addr());
                api_server = Some(server);
                print!("{}", banner(&members, &address, &kubeconfig));
                crate::signal::terminated().await?;
                tracing::info!("received a stop signal, shutting down");
            }
            Err(e) => failures.push(format!("API server: {e:#}")),
        }
    }
    if let Some(server) = api_server {
        server.shutdown().await;
    }
    futures::future::join_all(nodes.into_iter().map(StoreNode::shutdown)).await;
    if !failures.is_empty() {
        anyhow::bail!("kubesim failed to start: {}", failures.join("; "));
    }
    Ok(())
}

/// The API server on 127.0.0.1:`--secure-port`, over the three members.
async fn start_api_server(
    args: &UpArgs,
    members: &[PlannedMember],
) -> anyhow::Result<(ApiServer, PathBuf)> {
    let server_url = format!("https://127.0.0.1:{}", args.secure_port);
    let kubeconfig = ensure_certs(&args.data_dir, &server_url)?;
    let pki = args.data_dir.join(PKI_DIR);
    let mut config = ApiServerConfig::new(
        &format!("127.0.0.1:{}", args.secure_port),
        pki.join(crate::certs::APISERVER_CERT_FILE),
        pki.join(crate::certs::APISERVER_KEY_FILE),
    );
    config.client_ca_file = Some(pki.join(crate::certs::CA_CERT_FILE));
    config.etcd_servers = members
        .iter()
        .flat_map(|m| m.config.advertise_client_urls.clone())
        .collect();
    let env = kubesim_net::Env::production(&args.data_dir);
    let server = ApiServer::start(env, config)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((server, kubeconfig))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(base_port: u16) -> UpArgs {
        UpArgs {
            data_dir: PathBuf::from("d"),
            base_port,
            secure_port: 6443,
        }
    }

    #[test]
    fn default_layout_is_etcds_procfile() {
        let members = plan(&args(2379)).unwrap();
        let clients: Vec<&str> = members
            .iter()
            .map(|m| m.config.listen_client_urls[0].as_str())
            .collect();
        assert_eq!(
            clients,
            [
                "http://127.0.0.1:2379",
                "http://127.0.0.1:22379",
                "http://127.0.0.1:32379"
            ]
        );
        let peers: Vec<&str> = members[0]
            .config
            .initial_cluster
            .iter()
            .map(|m| m.peer_url.as_str())
            .collect();
        assert_eq!(
            peers,
            [
                "http://127.0.0.1:2380",
                "http://127.0.0.1:22380",
                "http://127.0.0.1:32380"
            ]
        );
        assert_eq!(members[2].config.name, "store-3");
        assert_eq!(members[2].data_dir, PathBuf::from("d/store-3"));
        assert_eq!(
            members[1].config.initial_advertise_peer_urls,
            ["http://127.0.0.1:22380"]
        );
    }

    #[test]
    fn every_member_passes_the_store_flag_checks() {
        for member in plan(&args(2379)).unwrap() {
            let urls = crate::flags::parse_url_list(
                "initial-advertise-peer-urls",
                &member.config.initial_advertise_peer_urls.join(","),
            )
            .unwrap();
            crate::flags::check_local_member(
                &member.config.name,
                &urls,
                &member.config.initial_cluster,
            )
            .unwrap();
        }
    }

    #[test]
    fn base_port_shifts_every_port_and_is_bounded() {
        let members = plan(&args(3000)).unwrap();
        assert_eq!(
            members[1].config.listen_client_urls,
            ["http://127.0.0.1:23000"]
        );
        assert_eq!(
            members[2].config.listen_peer_urls,
            ["http://127.0.0.1:33001"]
        );
        assert!(plan(&args(35_534)).is_ok());
        assert_eq!(plan(&args(35_535)).unwrap_err().flag, "base-port");
        assert_eq!(plan(&args(0)).unwrap_err().flag, "base-port");
    }

    #[test]
    fn banner_has_the_export_line_and_an_etcdctl_line_with_all_endpoints() {
        let kubeconfig = Path::new("/tmp/x y/kubeconfig");
        let text = banner(
            &plan(&args(2379)).unwrap(),
            "https://127.0.0.1:6443",
            kubeconfig,
        );
        assert!(
            text.contains(
                "etcdctl --endpoints=127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379 member list"
            ),
            "{text}"
        );
        assert!(
            text.contains("  export KUBECONFIG='/tmp/x y/kubeconfig'\n"),
            "{text}"
        );
        assert!(
            text.contains("API server: https://127.0.0.1:6443\n"),
            "{text}"
        );
    }
}
