//! `kubesim up`: the whole control plane in one process on loopback: a three-member store
//! laid out like etcd's Procfile (client ports 2379, 22379, 32379; peer ports one above
//! each; `GET /metrics` two above each: 2381, 22381, 32381), the authz service (`kubesim
//! authz`, its own actor) on 12379, the port etcd's layout leaves free, and the API server on
//! `--secure-port` (6443) over them, authorizing with `--authorization-mode` (Node,Webhook:
//! the Webhook is that authz service). Everything lives under `--data-dir` and survives
//! restarts: the members' data, the certificates and keys (`pki/`, made on the first start)
//! and `kubeconfig` for kubectl.
//!
//! Once the API server is ready, [`examples`] makes the example identities' permissions, and
//! the kubeconfig gets a context per identity ([`identities`]): the admin, user `jane` (a
//! client certificate) and ServiceAccount `deploy-bot` (a TokenRequest token).

// Shared with `kubesim seed` (seed_cmd.rs) and `kubesim certs --identities` (certs.rs), which
// do the same for the compose deployment from outside the API server's process.
pub(crate) mod examples;
pub(crate) mod identities;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kubesim_apiserver::{ApiServer, ApiServerConfig};
use kubesim_authz::mode::Mode;
use kubesim_authz::webhook::FailurePolicy;
use kubesim_store::{InitialMember, StoreConfig, StoreNode};

use crate::apiserver_cmd::auth_flags::{
    check_authorization_modes, failure_policy, parse_duration_or_zero,
};
use crate::apiserver_cmd::flow_audit_flags::FlowAuditArgs;
use crate::apiserver_cmd::trace_flags::TraceArgs;
use crate::authz_cmd::{AuthzConfig, AuthzServer};
use crate::bench::api::client::{ApiClient, tls_connector};
use crate::bench::api::plan::{CertFiles, Op, Plan, Server};
use crate::flags::FlagError;

/// How far each member's client port is from `--base-port`, as in etcd's Procfile.
const PORT_OFFSETS: [u16; 3] = [0, 20_000, 30_000];
/// Each member's peer port, from its client port (etcd's Procfile).
const PEER_PORT_OFFSET: u16 = 1;
/// Each member's metrics port (`--listen-metrics-urls`), from its client port: the next one
/// free in etcd's layout.
const METRICS_PORT_OFFSET: u16 = 2;
/// The authz service's port, from `--base-port`: the slot etcd's layout leaves free.
const AUTHZ_PORT_OFFSET: u16 = 10_000;
/// The ServiceAccount token issuer (and audience), kube's in-cluster name for itself.
pub const SERVICE_ACCOUNT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// How long the examples wait for `/readyz`, and bounds on their requests.
const EXAMPLES_READY_TIMEOUT: Duration = Duration::from_secs(30);
const EXAMPLES_DIAL_TIMEOUT: Duration = Duration::from_secs(5);
const EXAMPLES_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Directory holding one data directory per member (store-1, store-2, store-3). A restart
    /// with the same directory keeps the data.
    #[arg(long, default_value = "kubesim-data")]
    pub data_dir: PathBuf,
    /// Client port of store-1; the others are at +20000 and +30000, and each member's peer
    /// port is its client port + 1, its metrics port (GET /metrics) its client port + 2.
    #[arg(long, default_value_t = 2379)]
    pub base_port: u16,
    /// The API server's HTTPS port on 127.0.0.1.
    #[arg(long, default_value_t = 6443)]
    pub secure_port: u16,
    /// The API server's authorizers, in order (kube-apiserver's --authorization-mode):
    /// Webhook asks this process's authz service over gRPC, RBAC decides inside the API
    /// server, Node, AlwaysAllow and AlwaysDeny as in Kubernetes.
    #[arg(long, default_value = "Node,Webhook")]
    pub authorization_mode: String,
    /// What the Webhook authorizer decides when the authz service fails or times out:
    /// NoOpinion (the next authorizer decides) or Deny.
    #[arg(long, default_value = "NoOpinion")]
    pub authz_failure_policy: String,
    /// How long the Webhook authorizer reuses an allowed answer; 0 asks the authz service
    /// every time (kube-apiserver's flag).
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub authorization_webhook_cache_authorized_ttl: String,
    /// How long the Webhook authorizer reuses a denied answer; 0 asks every time.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub authorization_webhook_cache_unauthorized_ttl: String,
    /// kube-apiserver's --enable-priority-and-fairness and --audit-* flags, for the API server.
    #[command(flatten)]
    pub flow_audit: FlowAuditArgs,
    /// --trace-slow-threshold (and --tracing-otlp-endpoint), for the API server.
    #[command(flatten)]
    pub tracing: TraceArgs,
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

/// Lays out the three members: names store-1..3, loopback URLs, one data dir each; and
/// checks the other flags.
pub fn plan(args: &UpArgs) -> Result<Vec<PlannedMember>, FlagError> {
    let members = plan_members(args)?;
    let secure = loopback_url(args.secure_port);
    let clash = members
        .iter()
        .flat_map(|m| {
            m.config
                .listen_client_urls
                .iter()
                .chain(&m.config.listen_peer_urls)
                .chain(&m.config.listen_metrics_urls)
        })
        .cloned()
        .chain([loopback_url(authz_port(args))])
        .find(|url| *url == secure);
    if let Some(url) = clash {
        return Err(FlagError::new(
            "secure-port",
            format!(
                "{} is also {url}, a port of the store or the authz service (from --base-port)",
                args.secure_port
            ),
        ));
    }
    authorization(args)?;
    args.flow_audit.to_options()?;
    args.tracing.to_options()?;
    Ok(members)
}

/// The checked `--authorization-mode` and `--authz-failure-policy`.
fn authorization(args: &UpArgs) -> Result<(Vec<Mode>, FailurePolicy), FlagError> {
    let uses_webhook = args.authorization_mode.split(',').any(|m| m == "Webhook");
    let modes = check_authorization_modes(&args.authorization_mode, false, uses_webhook)?;
    let policy = failure_policy(Some(&args.authz_failure_policy))
        .map_err(|e| FlagError::new("authz-failure-policy", e.reason))?;
    webhook_cache_ttls(args)?;
    Ok((modes, policy))
}

/// The Webhook authorizer's cache lifetimes for allowed and denied answers.
fn webhook_cache_ttls(args: &UpArgs) -> Result<(Duration, Duration), FlagError> {
    Ok((
        parse_duration_or_zero(
            "authorization-webhook-cache-authorized-ttl",
            &args.authorization_webhook_cache_authorized_ttl,
        )?,
        parse_duration_or_zero(
            "authorization-webhook-cache-unauthorized-ttl",
            &args.authorization_webhook_cache_unauthorized_ttl,
        )?,
    ))
}

/// The authz service's port.
fn authz_port(args: &UpArgs) -> u16 {
    args.base_port.saturating_add(AUTHZ_PORT_OFFSET)
}

fn plan_members(args: &UpArgs) -> Result<Vec<PlannedMember>, FlagError> {
    let last_offset = PORT_OFFSETS[PORT_OFFSETS.len() - 1];
    let highest = last_offset + METRICS_PORT_OFFSET;
    if args.base_port == 0 || args.base_port > u16::MAX - highest {
        return Err(FlagError::new(
            "base-port",
            format!(
                "{} leaves no room for the ports +20000 to +{highest}; use 1 to {}",
                args.base_port,
                u16::MAX - highest
            ),
        ));
    }
    let client_ports = PORT_OFFSETS.map(|offset| args.base_port + offset);
    let initial_cluster: Vec<InitialMember> = client_ports
        .iter()
        .enumerate()
        .map(|(i, port)| InitialMember {
            name: member_name(i),
            peer_url: loopback_url(port + PEER_PORT_OFFSET),
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
    let peer_url = loopback_url(client_port + PEER_PORT_OFFSET);
    let mut config = StoreConfig::new(
        &name,
        &client_url,
        &peer_url,
        initial_cluster.to_vec(),
        "kubesim-up",
    );
    config.listen_metrics_urls = vec![loopback_url(client_port + METRICS_PORT_OFFSET)];
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

/// What `up` started besides the store, for the banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// `https://127.0.0.1:6443`.
    pub api_server: String,
    /// `127.0.0.1:12379`.
    pub authz_service: String,
    /// `--authorization-mode`.
    pub authorization_mode: String,
    /// `--authz-failure-policy`, when the mode has the Webhook (which asks the authz service).
    pub failure_policy: Option<String>,
    /// The kubeconfig's contexts, the current one first.
    pub contexts: Vec<String>,
}

/// What the user reads once the cluster is up: the endpoints, the kubeconfig's contexts and
/// commands to try.
pub fn banner(members: &[PlannedMember], summary: &Summary, kubeconfig: &Path) -> String {
    let endpoints: Vec<&str> = members
        .iter()
        .flat_map(|m| m.config.advertise_client_urls.iter())
        .map(|url| url.trim_start_matches("http://"))
        .collect();
    let mut text = String::from("kubesim is up.\n\nstore members (etcd v3 API):\n");
    for member in members {
        text.push_str(&format!(
            "  {:<8} client {}  peer {}  metrics {}  data {}\n",
            member.config.name,
            member.config.advertise_client_urls.join(","),
            member.config.initial_advertise_peer_urls.join(","),
            member.config.listen_metrics_urls.join(","),
            member.data_dir.display()
        ));
    }
    text.push_str(&format!("\nAPI server: {}\n", summary.api_server));
    let authorization = match &summary.failure_policy {
        Some(policy) => format!(
            "--authorization-mode={}, webhook failure policy {policy}",
            summary.authorization_mode
        ),
        None => format!(
            "not asked: --authorization-mode={}",
            summary.authorization_mode
        ),
    };
    text.push_str(&format!(
        "authz service: {} (gRPC), {authorization}\n",
        summary.authz_service
    ));
    text.push_str(&format!(
        "\nfor kubectl:\n  export KUBECONFIG={}\n",
        shell_path(kubeconfig)
    ));
    text.push_str(&format!("contexts: {}\n", summary.contexts.join(", ")));
    text.push_str("\ntry:\n  kubectl get namespaces\n");
    for context in &summary.contexts {
        text.push_str(&try_lines(context));
    }
    text.push_str(&format!(
        "  etcdctl --endpoints={} member list -w table\n\nPress Ctrl-C to stop.\n",
        endpoints.join(",")
    ));
    text
}

/// The commands that show what an example identity may do.
fn try_lines(context: &str) -> String {
    if context == identities::context_name(identities::EXAMPLE_USER) {
        format!(
            "  kubectl auth whoami --context {context}\n  \
             kubectl --context {context} auth can-i create deployments -n {}\n",
            examples::USER_NAMESPACE
        )
    } else if context == identities::context_name(examples::SA_NAME) {
        let ns = examples::SA_NAMESPACE;
        format!(
            "  kubectl --context {context} auth can-i list deployments -n {ns}\n  \
             kubectl --context {context} auth can-i delete deployments -n {ns}\n"
        )
    } else {
        String::new()
    }
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

/// The certificates under `data_dir/pki` (made on the first start), the ServiceAccount key and
/// the example user's certificate (also made once).
fn ensure_certs(data_dir: &Path, server: &str) -> anyhow::Result<PathBuf> {
    use kubesim_net::Clock as _;
    let pki = data_dir.join(PKI_DIR);
    let now_since_epoch = kubesim_net::SystemClock.now_since_epoch();
    if !pki.join(crate::certs::APISERVER_CERT_FILE).exists() {
        let opts = crate::certs::CertOptions {
            hosts: crate::certs::parse_hosts(crate::certs::DEFAULT_HOSTS)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            server: server.to_string(),
            webhook_hosts: Vec::new(),
            now_since_epoch,
        };
        let certs = crate::certs::generate(&opts).map_err(|e| anyhow::anyhow!("{e}"))?;
        crate::certs::write_files(&pki, &certs, true)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", pki.display()))?;
    }
    identities::ensure_service_account_key(&pki)?;
    identities::ensure_example_user(&pki, now_since_epoch)?;
    Ok(pki)
}

/// The authz service and the API server, running.
struct ControlPlane {
    authz: AuthzServer,
    api_server: ApiServer,
}

impl ControlPlane {
    async fn shutdown(self) {
        self.api_server.shutdown().await;
        self.authz.shutdown().await;
    }
}

/// Starts the members together (each may wait for the others to elect a leader), then the
/// authz service and the API server over them, makes the examples, prints the banner, and
/// waits for Ctrl-C or SIGTERM.
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
    if failures.is_empty()
        && let Err(e) = run_control_plane(args, &members).await
    {
        failures.push(format!("{e:#}"));
    }
    futures::future::join_all(nodes.into_iter().map(StoreNode::shutdown)).await;
    if !failures.is_empty() {
        anyhow::bail!("kubesim failed to start: {}", failures.join("; "));
    }
    Ok(())
}

/// Starts the authz service and the API server, makes the examples, prints the banner, and
/// serves until a stop signal; then stops both.
async fn run_control_plane(args: &UpArgs, members: &[PlannedMember]) -> anyhow::Result<()> {
    let plane = start_control_plane(args, members).await?;
    let served = async {
        let (summary, kubeconfig) = finish_start(args, &plane).await?;
        print!("{}", banner(members, &summary, &kubeconfig));
        crate::signal::terminated()
            .await
            .map_err(|e| anyhow::anyhow!("waiting for a stop signal: {e}"))?;
        tracing::info!("received a stop signal, shutting down");
        Ok(())
    }
    .await;
    plane.shutdown().await;
    served
}

/// The authz service on 127.0.0.1:`--base-port`+10000, then the API server on
/// 127.0.0.1:`--secure-port`, both over the three members.
async fn start_control_plane(
    args: &UpArgs,
    members: &[PlannedMember],
) -> anyhow::Result<ControlPlane> {
    let server_url = format!("https://127.0.0.1:{}", args.secure_port);
    let pki = ensure_certs(&args.data_dir, &server_url)?;
    let etcd_servers: Vec<String> = members
        .iter()
        .flat_map(|m| m.config.advertise_client_urls.clone())
        .collect();
    let env = kubesim_net::Env::production(&args.data_dir);
    let authz_config = AuthzConfig {
        bind_address: format!("127.0.0.1:{}", authz_port(args)),
        etcd_servers: etcd_servers.clone(),
        etcd_prefix: kubesim_apiserver::registry::DEFAULT_ETCD_PREFIX.to_string(),
        delay: Duration::ZERO,
        tls: None,
    };
    let authz = AuthzServer::start(&env, &authz_config).await?;
    let authz_endpoint = authz.local_addr().to_string();
    let config = match api_server_config(args, &pki, etcd_servers, &authz_endpoint) {
        Ok(config) => config,
        Err(e) => {
            authz.shutdown().await;
            return Err(e);
        }
    };
    match ApiServer::start(env, config).await {
        Ok(api_server) => Ok(ControlPlane { authz, api_server }),
        Err(e) => {
            authz.shutdown().await;
            Err(anyhow::anyhow!("API server: {e}"))
        }
    }
}

/// The API server's configuration: certificates from `pki`, ServiceAccount tokens signed
/// with `sa.key`, and the authorizers of `--authorization-mode`.
fn api_server_config(
    args: &UpArgs,
    pki: &Path,
    etcd_servers: Vec<String>,
    authz_endpoint: &str,
) -> anyhow::Result<ApiServerConfig> {
    let (modes, policy) = authorization(args).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut config = ApiServerConfig::new(
        &format!("127.0.0.1:{}", args.secure_port),
        pki.join(crate::certs::APISERVER_CERT_FILE),
        pki.join(crate::certs::APISERVER_KEY_FILE),
    );
    config.client_ca_file = Some(pki.join(crate::certs::CA_CERT_FILE));
    config.etcd_servers = etcd_servers;
    let auth = &mut config.auth;
    // kube-apiserver turns anonymous requests off under AlwaysAllow.
    auth.anonymous_auth = !modes.contains(&Mode::AlwaysAllow);
    auth.service_account_signing_key_file = Some(pki.join(identities::SA_KEY_FILE));
    auth.service_account_key_files = vec![pki.join(identities::SA_PUBLIC_KEY_FILE)];
    auth.service_account_issuers = vec![SERVICE_ACCOUNT_ISSUER.to_string()];
    auth.api_audiences = vec![SERVICE_ACCOUNT_ISSUER.to_string()];
    auth.authorization_modes = args.authorization_mode.clone();
    auth.authorization_webhook_failure_policy = policy.as_str().to_string();
    let (authorized_ttl, unauthorized_ttl) =
        webhook_cache_ttls(args).map_err(|e| anyhow::anyhow!("{e}"))?;
    auth.authorization_webhook_authorized_ttl = authorized_ttl;
    auth.authorization_webhook_unauthorized_ttl = unauthorized_ttl;
    if modes.contains(&Mode::Webhook) {
        auth.authorization_webhook_config_file =
            Some(identities::write_webhook_kubeconfig(pki, authz_endpoint)?);
    }
    args.flow_audit
        .to_options()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .apply_to(&mut config);
    args.tracing
        .to_options()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .apply_to(&mut config);
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("API server: {e}"))?;
    Ok(config)
}

/// Makes the examples (a failure is a warning) and writes the kubeconfig.
async fn finish_start(args: &UpArgs, plane: &ControlPlane) -> anyhow::Result<(Summary, PathBuf)> {
    let api_server = format!("https://{}", plane.api_server.local_addr());
    let pki = args.data_dir.join(PKI_DIR);
    let token = match make_examples(&pki, &plane.api_server.local_addr().to_string()).await {
        Ok(seeded) => {
            for warning in &seeded.warnings {
                tracing::warn!("example identities: {warning}");
            }
            seeded.token
        }
        Err(e) => {
            tracing::warn!("example identities: {e}");
            None
        }
    };
    let kubeconfig = args.data_dir.join(crate::certs::KUBECONFIG_FILE);
    let contexts = identities::write_kubeconfig(&kubeconfig, &pki, &api_server, token.as_deref())?;
    let (modes, policy) = authorization(args).map_err(|e| anyhow::anyhow!("{e}"))?;
    let summary = Summary {
        api_server,
        authz_service: plane.authz.local_addr().to_string(),
        authorization_mode: args.authorization_mode.clone(),
        failure_policy: modes
            .contains(&Mode::Webhook)
            .then(|| policy.as_str().to_string()),
        contexts,
    };
    Ok((summary, kubeconfig))
}

/// Connects as the admin, waits for readiness, and creates the examples.
async fn make_examples(pki: &Path, authority: &str) -> Result<examples::Seeded, String> {
    let server = Server {
        authority: authority.to_string(),
        host: "127.0.0.1".to_string(),
    };
    let plan = admin_plan(pki, server);
    let tls = tls_connector(&plan.certs).map_err(|e| format!("{e:#}"))?;
    let client = ApiClient::connect(&plan, &tls, 1)
        .await
        .map_err(|e| format!("{e:#}"))?;
    examples::wait_ready(&client, EXAMPLES_READY_TIMEOUT).await?;
    Ok(examples::seed(&client, identities::EXAMPLE_USER).await)
}

/// The benchmark client's plan, reduced to what a client of one connection reads: where the
/// server is (`server.host` is the name its certificate must carry), the admin's certificate
/// under `pki`, and the bounds of a request.
pub(crate) fn admin_plan(pki: &Path, server: Server) -> Plan {
    Plan {
        server,
        certs: CertFiles {
            ca: pki.join(crate::certs::CA_CERT_FILE),
            cert: pki.join(crate::certs::ADMIN_CERT_FILE),
            key: pki.join(crate::certs::ADMIN_KEY_FILE),
        },
        user: None,
        endpoints: Vec::new(),
        conns: 1,
        clients: 1,
        total: 0,
        namespace: String::new(),
        dial_timeout: EXAMPLES_DIAL_TIMEOUT,
        request_timeout: EXAMPLES_REQUEST_TIMEOUT,
        json: false,
        server_pid: Vec::new(),
        op: Op::Create { dry_run: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(base_port: u16) -> UpArgs {
        UpArgs {
            data_dir: PathBuf::from("d"),
            base_port,
            secure_port: 6443,
            authorization_mode: "Node,Webhook".into(),
            authz_failure_policy: "NoOpinion".into(),
            authorization_webhook_cache_authorized_ttl: "5m".into(),
            authorization_webhook_cache_unauthorized_ttl: "30s".into(),
            flow_audit: FlowAuditArgs::default(),
            tracing: TraceArgs::default(),
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
        let metrics: Vec<&str> = members
            .iter()
            .map(|m| m.config.listen_metrics_urls[0].as_str())
            .collect();
        assert_eq!(
            metrics,
            [
                "http://127.0.0.1:2381",
                "http://127.0.0.1:22381",
                "http://127.0.0.1:32381"
            ]
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
        assert_eq!(
            members[2].config.listen_metrics_urls,
            ["http://127.0.0.1:33002"]
        );
        assert!(plan(&args(35_533)).is_ok());
        assert_eq!(plan(&args(35_534)).unwrap_err().flag, "base-port");
        assert_eq!(plan(&args(0)).unwrap_err().flag, "base-port");
    }

    fn summary(contexts: &[&str]) -> Summary {
        Summary {
            api_server: "https://127.0.0.1:6443".into(),
            authz_service: "127.0.0.1:12379".into(),
            authorization_mode: "Node,Webhook".into(),
            failure_policy: Some("NoOpinion".into()),
            contexts: contexts.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn banner_has_the_export_line_and_an_etcdctl_line_with_all_endpoints() {
        let kubeconfig = Path::new("/tmp/x y/kubeconfig");
        let text = banner(
            &plan(&args(2379)).unwrap(),
            &summary(&["kubesim"]),
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
        assert!(
            text.contains(
                "peer http://127.0.0.1:32380  metrics http://127.0.0.1:32381  data d/store-3\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "authz service: 127.0.0.1:12379 (gRPC), --authorization-mode=Node,Webhook, \
                 webhook failure policy NoOpinion\n"
            ),
            "{text}"
        );
        assert!(!text.contains("--context"), "{text}");
        let rbac = Summary {
            authorization_mode: "Node,RBAC".into(),
            failure_policy: None,
            ..summary(&["kubesim"])
        };
        let text = banner(&plan(&args(2379)).unwrap(), &rbac, kubeconfig);
        assert!(
            text.contains(
                "authz service: 127.0.0.1:12379 (gRPC), not asked: --authorization-mode=Node,RBAC\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn banner_shows_each_example_context_with_commands_to_try() {
        let text = banner(
            &plan(&args(2379)).unwrap(),
            &summary(&["kubesim", "jane@kubesim", "deploy-bot@kubesim"]),
            Path::new("/k"),
        );
        let try_part = text.split_once("\ntry:\n").unwrap().1;
        assert_eq!(
            try_part,
            "  kubectl get namespaces\n  \
             kubectl auth whoami --context jane@kubesim\n  \
             kubectl --context jane@kubesim auth can-i create deployments -n dev\n  \
             kubectl --context deploy-bot@kubesim auth can-i list deployments -n production\n  \
             kubectl --context deploy-bot@kubesim auth can-i delete deployments -n production\n  \
             etcdctl --endpoints=127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379 member list -w table\n\n\
             Press Ctrl-C to stop.\n"
        );
        assert!(
            text.contains("contexts: kubesim, jane@kubesim, deploy-bot@kubesim\n"),
            "{text}"
        );
    }

    #[test]
    fn the_authz_service_takes_the_free_slot_of_the_port_plan() {
        assert_eq!(authz_port(&args(2379)), 12379);
        assert_eq!(authz_port(&args(24379)), 34379);
        let mut clash = args(2379);
        clash.secure_port = 12379;
        let error = plan(&clash).unwrap_err();
        assert_eq!(error.flag, "secure-port");
        assert_eq!(
            error.reason,
            "12379 is also http://127.0.0.1:12379, a port of the store or the authz service (from --base-port)"
        );
        clash.secure_port = 22380;
        assert_eq!(plan(&clash).unwrap_err().flag, "secure-port");
        clash.secure_port = 32381;
        assert_eq!(plan(&clash).unwrap_err().flag, "secure-port");
    }

    #[test]
    fn authorization_flags_are_checked() {
        let mut up = args(2379);
        assert_eq!(
            authorization(&up),
            Ok((vec![Mode::Node, Mode::Webhook], FailurePolicy::NoOpinion))
        );
        up.authorization_mode = "Node,RBAC".into();
        up.authz_failure_policy = "Deny".into();
        assert_eq!(
            authorization(&up),
            Ok((vec![Mode::Node, Mode::Rbac], FailurePolicy::Deny))
        );
        up.authorization_mode = "ABAC".into();
        let error = plan(&up).unwrap_err();
        assert_eq!(
            (error.flag, error.reason.as_str()),
            (
                "authorization-mode",
                "authorization-mode ABAC's authorization policy file not passed"
            )
        );
        up.authorization_mode = "RBAC".into();
        up.authz_failure_policy = "Fail".into();
        let error = plan(&up).unwrap_err();
        assert_eq!(
            (error.flag, error.reason.as_str()),
            (
                "authz-failure-policy",
                "Unsupported value: \"Fail\": supported values: \"Deny\", \"NoOpinion\""
            )
        );
        up.authz_failure_policy = "Deny".into();
        up.authorization_webhook_cache_unauthorized_ttl = "10".into();
        let error = plan(&up).unwrap_err();
        assert_eq!(
            (error.flag, error.reason.as_str()),
            (
                "authorization-webhook-cache-unauthorized-ttl",
                "\"10\" must be a duration such as 1m0s, 30s or 500ms"
            )
        );
    }

    #[test]
    fn the_api_server_gets_service_account_and_webhook_settings() {
        let dir = tempfile::tempdir().unwrap();
        let mut up = args(2379);
        up.data_dir = dir.path().to_path_buf();
        let pki = dir.path().join("pki");
        std::fs::create_dir_all(&pki).unwrap();
        let config = api_server_config(&up, &pki, Vec::new(), "127.0.0.1:12379").unwrap();
        let auth = &config.auth;
        assert!(auth.anonymous_auth);
        assert_eq!(
            auth.service_account_signing_key_file,
            Some(pki.join("sa.key"))
        );
        assert_eq!(auth.service_account_key_files, [pki.join("sa.pub")]);
        assert_eq!(
            auth.service_account_issuers,
            ["https://kubernetes.default.svc.cluster.local"]
        );
        assert_eq!(auth.api_audiences, auth.service_account_issuers);
        assert_eq!(auth.authorization_modes, "Node,Webhook");
        assert_eq!(auth.authorization_webhook_failure_policy, "NoOpinion");
        assert_eq!(
            auth.authorization_webhook_authorized_ttl,
            Duration::from_secs(300)
        );
        assert_eq!(
            auth.authorization_webhook_unauthorized_ttl,
            Duration::from_secs(30)
        );
        let webhook = pki.join("authz-webhook.kubeconfig");
        assert_eq!(
            auth.authorization_webhook_config_file,
            Some(webhook.clone())
        );
        let text = std::fs::read_to_string(webhook).unwrap();
        assert_eq!(
            kubesim_authz::mode::endpoint_from_kubeconfig(&text),
            Ok("127.0.0.1:12379".into())
        );
        assert_eq!(config.client_ca_file, Some(pki.join("ca.crt")));
        assert_eq!(config.bind_address, "127.0.0.1:6443");

        up.authorization_webhook_cache_authorized_ttl = "0".into();
        up.authorization_webhook_cache_unauthorized_ttl = "0s".into();
        let config = api_server_config(&up, &pki, Vec::new(), "127.0.0.1:12379").unwrap();
        assert_eq!(
            (
                config.auth.authorization_webhook_authorized_ttl,
                config.auth.authorization_webhook_unauthorized_ttl
            ),
            (Duration::ZERO, Duration::ZERO)
        );

        up.authorization_mode = "AlwaysAllow".into();
        let config = api_server_config(&up, &pki, Vec::new(), "127.0.0.1:12379").unwrap();
        assert!(!config.auth.anonymous_auth);
        assert_eq!(config.auth.authorization_webhook_config_file, None);
        assert!(config.enable_priority_and_fairness);
        assert_eq!(config.audit.policy_file, None);
        assert_eq!(config.audit.log, None);
    }

    #[test]
    fn audit_and_priority_flags_reach_the_api_server() {
        let dir = tempfile::tempdir().unwrap();
        let mut up = args(2379);
        up.flow_audit.enable_priority_and_fairness = Some("false".into());
        up.flow_audit.audit_policy_file = Some("policy.yaml".into());
        up.flow_audit.audit_log_path = Some("audit.log".into());
        let config = api_server_config(&up, dir.path(), Vec::new(), "127.0.0.1:12379").unwrap();
        assert!(!config.enable_priority_and_fairness);
        assert_eq!(config.audit.policy_file, Some(PathBuf::from("policy.yaml")));
        let log = config.audit.log.as_ref().unwrap();
        assert_eq!(log.path, PathBuf::from("audit.log"));
        // `plan` checks them before anything starts.
        up.flow_audit.audit_log_maxage = Some("-1".into());
        assert_eq!(plan(&up).unwrap_err().flag, "audit-log-maxage");
    }
}
