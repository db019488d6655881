//! `kubesim authz`: the authz service as its own actor — a gRPC server of
//! `kubesim.authz.v1.Authorizer` (proto/kubesim/authz.proto) that evaluates RBAC against the
//! store itself, through watch caches of Roles, ClusterRoles and their bindings. The API
//! server reaches it as its Webhook authorizer (`--authorization-webhook-config-file`, a
//! kubeconfig whose server is `https://<--bind-address>` with the CA that signed the
//! service's certificate, or `http://<--bind-address>` without TLS).
//!
//! With `--tls-cert-file` and `--tls-private-key-file` (kube's names) it serves gRPC over TLS
//! (ALPN `h2`, the handshake in `kubesim_authz::service::tls`); without them, plain gRPC
//! (HTTP/2 without TLS), as `kubesim up` runs it. `--bind-address` is by default
//! `127.0.0.1:8443`: loopback, because nothing authenticates its callers. `--delay` holds
//! every answer back, for the slow-authz-service experiment. [`AuthzServer::start`] is what
//! `kubesim up` calls to run the same service in its own process.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use kubesim_apiserver::security::rbac_source::CachedRbac;
use kubesim_authz::rbac::Rbac;
use kubesim_authz::service::tls::{TlsLimits, grpc_server_config, tls_incoming};
use kubesim_authz::service::{AuthzService, MAX_INJECTED_DELAY};
use kubesim_net::Env;
use kubesim_net::network::{Conn, bounded_incoming};
use kubesim_storage::EtcdStorage;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::apiserver_cmd::auth_flags::parse_duration_or_zero;
use crate::flags::FlagError;

/// `--bind-address` when not given.
pub const DEFAULT_BIND_ADDRESS: &str = "127.0.0.1:8443";
/// Callers are API servers, each with one multiplexed channel; the bound only stops a flood.
const MAX_CONNECTIONS: usize = 256;
/// Calls one connection may have in flight at once.
const MAX_CONCURRENT_STREAMS: u32 = 1024;
/// A handler's bound: the longest injected delay, plus room for the evaluation.
const HANDLER_TIMEOUT: Duration = MAX_INJECTED_DELAY.saturating_add(Duration::from_secs(10));
/// How long start-up waits for the RBAC caches' first lists. Until then every answer would be
/// "no opinion" over an empty policy, so the service does not listen yet.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP/2 keepalive, as on every kubesim channel and server (ARCHITECTURE.md): a caller that
/// vanished is dropped within interval + timeout.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, clap::Args)]
pub struct AuthzArgs {
    /// host:port to serve gRPC on (over TLS with --tls-cert-file, else plain HTTP/2).
    #[arg(long, default_value = DEFAULT_BIND_ADDRESS)]
    pub bind_address: String,
    /// The serving certificate (PEM, leaf first, then intermediates): serve gRPC over TLS.
    /// Needs --tls-private-key-file.
    #[arg(long)]
    pub tls_cert_file: Option<PathBuf>,
    /// The key of --tls-cert-file (PEM).
    #[arg(long)]
    pub tls_private_key_file: Option<PathBuf>,
    /// The store's client URLs (http://host:port, comma separated): kubesim store members or
    /// an etcd. Only the first is used for now.
    #[arg(long, value_delimiter = ',')]
    pub etcd_servers: Vec<String>,
    /// The prefix of every key in the store, as the API server's --etcd-prefix.
    #[arg(long, default_value = "/registry")]
    pub etcd_prefix: String,
    /// Added before every answer (a Go duration, at most 5m0s), to make the service slow on
    /// purpose.
    #[arg(long, default_value = "0s")]
    pub delay: String,
}

/// What the authz service runs with, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthzConfig {
    /// `host:port`, through `Env.net`.
    pub bind_address: String,
    pub etcd_servers: Vec<String>,
    pub etcd_prefix: String,
    pub delay: Duration,
    /// Serve over TLS with these files; plain gRPC when none.
    pub tls: Option<ServingFiles>,
}

/// `--tls-cert-file` and `--tls-private-key-file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServingFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl AuthzArgs {
    pub fn to_config(&self) -> Result<AuthzConfig, FlagError> {
        crate::flags::parse_host_port(&self.bind_address).map_err(|reason| {
            FlagError::new("bind-address", format!("{:?}: {reason}", self.bind_address))
        })?;
        let etcd_servers: Vec<String> = self
            .etcd_servers
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if etcd_servers.is_empty() {
            return Err(FlagError::new(
                "etcd-servers",
                "is required (e.g. http://127.0.0.1:2379, a kubesim store member or an etcd)",
            ));
        }
        if !self.etcd_prefix.starts_with('/') {
            return Err(FlagError::new("etcd-prefix", "must start with /"));
        }
        let delay = parse_duration_or_zero("delay", &self.delay)?;
        if delay > MAX_INJECTED_DELAY {
            return Err(FlagError::new("delay", "must be at most 5m0s"));
        }
        Ok(AuthzConfig {
            bind_address: self.bind_address.clone(),
            etcd_servers,
            etcd_prefix: self.etcd_prefix.clone(),
            delay,
            tls: self.serving_files()?,
        })
    }

    /// Both TLS files or neither: one alone would serve plain gRPC to a caller expecting TLS.
    fn serving_files(&self) -> Result<Option<ServingFiles>, FlagError> {
        match (&self.tls_cert_file, &self.tls_private_key_file) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Ok(Some(ServingFiles {
                cert_file: cert.clone(),
                key_file: key.clone(),
            })),
            (Some(_), None) => Err(FlagError::new(
                "tls-private-key-file",
                "is required with --tls-cert-file",
            )),
            (None, Some(_)) => Err(FlagError::new(
                "tls-cert-file",
                "is required with --tls-private-key-file",
            )),
        }
    }
}

/// The connections the server reads: TLS or plain.
type Connections = Pin<Box<dyn futures::Stream<Item = std::io::Result<Conn>> + Send>>;

/// A running authz service.
pub struct AuthzServer {
    local_addr: std::net::SocketAddr,
    /// Sending (or dropping) it starts a graceful stop.
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
    /// Kept so its watches live as long as the server.
    _rbac_source: Arc<CachedRbac>,
}

impl AuthzServer {
    /// Loads the TLS files, binds `--bind-address` (so a port in use fails at once), starts
    /// the RBAC watch caches over the store, waits for their first lists, then serves.
    pub async fn start(env: &Env, config: &AuthzConfig) -> anyhow::Result<AuthzServer> {
        let tls = match &config.tls {
            Some(files) => Some(
                kubesim_webhooks::tls::load(&files.cert_file, &files.key_file)
                    .map(|loaded| grpc_server_config(&loaded))
                    .map_err(|e| anyhow::anyhow!("authz service: {e}"))?,
            ),
            None => None,
        };
        let listener =
            env.net.bind(&config.bind_address).await.map_err(|e| {
                anyhow::anyhow!("authz service: binding {}: {e}", config.bind_address)
            })?;
        let local_addr = listener.local_addr()?;
        let storage = EtcdStorage::new(env, &config.etcd_servers)
            .map_err(|e| anyhow::anyhow!("authz service: {e}"))?;
        let source = CachedRbac::start(env, storage, &config.etcd_prefix);
        if !source.wait_ready(READY_TIMEOUT).await {
            anyhow::bail!(
                "authz service: the RBAC caches did not list {} within {READY_TIMEOUT:?}",
                config.etcd_servers.join(",")
            );
        }
        let delay_ms = Arc::new(AtomicU64::new(millis(config.delay)));
        let service = AuthzService::new(Arc::new(Rbac::new(source.clone())))
            .with_delay(delay_ms)
            .into_server();
        let (stop, stopped) = oneshot::channel::<()>();
        let accepted = bounded_incoming(listener, MAX_CONNECTIONS);
        let connections: Connections = match tls {
            Some(tls) => Box::pin(tls_incoming(accepted, tls, TlsLimits::default())),
            None => Box::pin(accepted),
        };
        let server = tonic::transport::Server::builder()
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
            .timeout(HANDLER_TIMEOUT)
            .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
            .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
            .add_service(service)
            .serve_with_incoming_shutdown(connections, async {
                let _ = stopped.await;
            });
        Ok(AuthzServer {
            local_addr,
            stop,
            task: tokio::spawn(server),
            _rbac_source: source,
        })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets calls under way finish (each bounded by [`HANDLER_TIMEOUT`]),
    /// then returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("authz service: {e}"),
            Err(e) => tracing::warn!("authz service task: {e}"),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Runs the authz service until `shutdown` completes.
pub async fn serve(
    env: Env,
    config: AuthzConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let server = AuthzServer::start(&env, &config).await?;
    tracing::info!(
        address = %server.local_addr(),
        delay = ?config.delay,
        tls = config.tls.is_some(),
        "authz service ready to serve gRPC (kubesim.authz.v1.Authorizer)"
    );
    shutdown.await;
    server.shutdown().await;
    Ok(())
}

/// `kubesim authz`: serves until SIGINT or SIGTERM.
pub async fn run(config: AuthzConfig) -> anyhow::Result<()> {
    // The service keeps nothing on disk; the seam still wants a directory for `Env.disk`.
    let env = Env::production(std::env::temp_dir());
    serve(env, config, async {
        match crate::signal::terminated().await {
            Ok(()) => tracing::info!("received a stop signal, shutting down"),
            Err(e) => tracing::warn!("cannot wait for a stop signal ({e}), shutting down"),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        args: AuthzArgs,
    }

    fn config(args: &[&str]) -> Result<AuthzConfig, FlagError> {
        let argv = std::iter::once("authz").chain(args.iter().copied());
        Cmd::try_parse_from(argv).unwrap().args.to_config()
    }

    #[test]
    fn defaults() {
        let config = config(&["--etcd-servers=http://127.0.0.1:2379"]).unwrap();
        assert_eq!(
            config,
            AuthzConfig {
                bind_address: "127.0.0.1:8443".into(),
                etcd_servers: vec!["http://127.0.0.1:2379".into()],
                etcd_prefix: "/registry".into(),
                delay: Duration::ZERO,
                tls: None,
            }
        );
    }

    #[test]
    fn flags_reach_the_config() {
        let config = config(&[
            "--bind-address=[::1]:9000",
            "--etcd-servers=http://127.0.0.1:2379, http://127.0.0.1:22379",
            "--etcd-prefix=/kubesim",
            "--delay=1s500ms",
            "--tls-cert-file=/pki/webhook.crt",
            "--tls-private-key-file=/pki/webhook.key",
        ])
        .unwrap();
        assert_eq!(
            config.tls,
            Some(ServingFiles {
                cert_file: "/pki/webhook.crt".into(),
                key_file: "/pki/webhook.key".into(),
            })
        );
        assert_eq!(config.bind_address, "[::1]:9000");
        assert_eq!(
            config.etcd_servers,
            ["http://127.0.0.1:2379", "http://127.0.0.1:22379"]
        );
        assert_eq!(config.etcd_prefix, "/kubesim");
        assert_eq!(config.delay, Duration::from_millis(1500));
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let etcd = "--etcd-servers=http://127.0.0.1:2379";
        let cases: [(&[&str], &str, &str); 7] = [
            (
                &[],
                "etcd-servers",
                "is required (e.g. http://127.0.0.1:2379, a kubesim store member or an etcd)",
            ),
            (
                &[etcd, "--bind-address=127.0.0.1"],
                "bind-address",
                "\"127.0.0.1\": port is missing",
            ),
            (
                &[etcd, "--etcd-prefix=registry"],
                "etcd-prefix",
                "must start with /",
            ),
            (&[etcd, "--delay=6m"], "delay", "must be at most 5m0s"),
            (
                &[etcd, "--tls-cert-file=/pki/webhook.crt"],
                "tls-private-key-file",
                "is required with --tls-cert-file",
            ),
            (
                &[etcd, "--tls-private-key-file=/pki/webhook.key"],
                "tls-cert-file",
                "is required with --tls-private-key-file",
            ),
            (
                &[etcd, "--delay=slow"],
                "delay",
                "\"slow\" must be a duration such as 1m0s, 30s or 500ms",
            ),
        ];
        for (args, flag, reason) in cases {
            let error = config(args).unwrap_err();
            assert_eq!(
                (error.flag, error.reason.as_str()),
                (flag, reason),
                "{args:?}"
            );
        }
    }

    /// A single-member store on free loopback ports, in this process.
    async fn start_store(env: &Env) -> kubesim_store::StoreNode {
        use kubesim_store::{InitialMember, StoreConfig, StoreNode};
        let peer = "http://127.0.0.1:12380".to_string();
        let initial = vec![InitialMember {
            name: "s1".into(),
            peer_url: peer.clone(),
        }];
        let mut config = StoreConfig::new("s1", "http://127.0.0.1:0", &peer, initial, "authz-test");
        // Any free port; the fixed peer URL only names the member.
        config.listen_peer_urls = vec!["http://127.0.0.1:0".into()];
        config.advertise_client_urls = vec![];
        StoreNode::start(env.clone(), config).await.unwrap()
    }

    /// Puts `object` at `key`, retrying (bounded) until the member has elected itself.
    async fn put(env: &Env, store: &str, key: &str, object: serde_json::Value) {
        use kubesim_proto::etcdserverpb::PutRequest;
        use kubesim_proto::etcdserverpb::kv_client::KvClient;
        let channel = kubesim_net::network::channel(env.net.clone(), store, Default::default());
        let mut kv = KvClient::new(channel.unwrap());
        for _ in 0..100 {
            let request = PutRequest {
                key: key.as_bytes().to_vec(),
                value: object.to_string().into_bytes(),
                ..PutRequest::default()
            };
            if kv.put(request).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the store did not accept a write within 10 s");
    }

    fn list_pods(namespace: &str) -> kubesim_proto::authzpb::AuthorizeRequest {
        kubesim_proto::authzpb::AuthorizeRequest {
            resource_attributes: Some(kubesim_proto::authzpb::ResourceAttributes {
                namespace: namespace.into(),
                verb: "list".into(),
                version: "v1".into(),
                resource: "pods".into(),
                ..Default::default()
            }),
            user: "jane".into(),
            groups: vec!["system:authenticated".into()],
            ..Default::default()
        }
    }

    /// A store whose RBAC lets jane list pods in `dev`; its client address.
    pub(super) async fn store_with_rbac(env: &Env) -> (kubesim_store::StoreNode, String) {
        let node = start_store(env).await;
        let store = node.client_addr().to_string();
        put(
            env,
            &store,
            "/registry/roles/dev/pod-reader",
            serde_json::json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "pod-reader", "namespace": "dev", "uid": "u1"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
            }),
        )
        .await;
        put(env, &store, "/registry/rolebindings/dev/read-pods", serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "read-pods", "namespace": "dev", "uid": "u2"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "jane"}],
        }))
        .await;
        (node, store)
    }

    /// The command's actor end to end: RBAC objects written to the store are answered over
    /// gRPC, and `--delay` holds each answer back.
    #[tokio::test]
    async fn the_service_answers_from_rbac_in_the_store() {
        use kubesim_proto::authzpb::authorizer_client::AuthorizerClient;
        let dir = tempfile::tempdir().unwrap();
        let env = Env::production(dir.path());
        let (node, store) = store_with_rbac(&env).await;
        let config = AuthzConfig {
            bind_address: "127.0.0.1:0".into(),
            etcd_servers: vec![format!("http://{store}")],
            etcd_prefix: "/registry".into(),
            delay: Duration::from_millis(300),
            tls: None,
        };
        let server = AuthzServer::start(&env, &config).await.unwrap();
        let addr = server.local_addr().to_string();
        let channel = kubesim_net::network::channel(env.net.clone(), &addr, Default::default());
        let mut client = AuthorizerClient::new(channel.unwrap());

        let started = tokio::time::Instant::now();
        let allowed = client
            .authorize(list_pods("dev"))
            .await
            .unwrap()
            .into_inner();
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "the delay applies"
        );
        assert!(allowed.allowed && !allowed.denied, "{allowed:?}");
        assert_eq!(
            allowed.decided_by,
            r#"RBAC: allowed by RoleBinding "read-pods/dev" of Role "pod-reader" to User "jane""#
        );
        let elsewhere = client
            .authorize(list_pods("prod"))
            .await
            .unwrap()
            .into_inner();
        assert!(!elsewhere.allowed && !elsewhere.denied, "{elsewhere:?}");
        assert_eq!(elsewhere.decided_by, "");

        server.shutdown().await;
        node.shutdown().await;
    }
}

#[cfg(test)]
mod tls_tests {
    //! `kubesim authz` over TLS with the certificate `kubesim certs --webhook-hosts` writes,
    //! asked by the API server's Webhook authorizer configured from a kubeconfig file, as
    //! `--authorization-webhook-config-file` reads it.

    use std::path::Path;

    use kubesim_api::user::UserInfo;
    use kubesim_authz::webhook::{FailurePolicy, WebhookAuthorizer, WebhookConfig};
    use kubesim_authz::{Attributes, Authorizer, DecisionKind};

    use super::tests::store_with_rbac;
    use super::*;
    use crate::certs;

    /// What `kubesim certs --webhook-hosts authz,127.0.0.1` writes: the CA, and the
    /// webhooks' serving certificate and key, in `dir`.
    fn write_certs(dir: &Path) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let opts = certs::CertOptions {
            hosts: certs::parse_hosts("127.0.0.1").unwrap(),
            server: certs::DEFAULT_SERVER.into(),
            webhook_hosts: certs::parse_hosts("authz,127.0.0.1").unwrap(),
            now_since_epoch: now,
        };
        let generated = certs::generate(&opts).unwrap();
        let (cert, key) = certs::serving_certificate(
            &generated.ca_key_pem,
            certs::WEBHOOK_COMMON_NAME,
            &opts.webhook_hosts,
            now,
        )
        .unwrap();
        std::fs::write(dir.join(certs::WEBHOOK_CERT_FILE), cert).unwrap();
        std::fs::write(dir.join(certs::WEBHOOK_KEY_FILE), key).unwrap();
        std::fs::write(dir.join(certs::CA_CERT_FILE), &generated.ca_cert_pem).unwrap();
        generated.ca_cert_pem
    }

    /// A webhook kubeconfig at `dir/authz.kubeconfig` naming `server`, trusting `ca_file`
    /// (relative to `dir`), checking the certificate for `server_name`.
    fn write_kubeconfig(
        dir: &Path,
        server: &str,
        ca_file: &str,
        server_name: &str,
    ) -> WebhookConfig {
        let yaml = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: authz\n  cluster:\n    \
             server: {server}\n    certificate-authority: {ca_file}\n    \
             tls-server-name: {server_name}\nusers:\n- name: kube-apiserver\n  user: {{}}\n\
             contexts:\n- name: webhook\n  context:\n    cluster: authz\n    \
             user: kube-apiserver\ncurrent-context: webhook\n"
        );
        let path = dir.join("authz.kubeconfig");
        std::fs::write(&path, yaml).unwrap();
        let connection = kubesim_authz::mode::load_connection(&path).unwrap();
        WebhookConfig {
            endpoint: connection.endpoint,
            tls: connection.tls,
            timeout: Duration::from_secs(5),
            failure_policy: FailurePolicy::Deny,
            ..WebhookConfig::default()
        }
    }

    fn jane_lists_pods_in(namespace: &str) -> Attributes {
        Attributes {
            user: UserInfo::new("jane", &["system:authenticated"]),
            verb: "list".into(),
            resource_request: true,
            namespace: namespace.into(),
            api_version: "v1".into(),
            resource: "pods".into(),
            ..Attributes::default()
        }
    }

    #[tokio::test]
    async fn the_api_servers_webhook_authorizer_asks_over_tls() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::production(dir.path());
        let (node, store) = store_with_rbac(&env).await;
        write_certs(dir.path());
        let config = AuthzConfig {
            bind_address: "127.0.0.1:0".into(),
            etcd_servers: vec![format!("http://{store}")],
            etcd_prefix: "/registry".into(),
            delay: Duration::ZERO,
            tls: Some(ServingFiles {
                cert_file: dir.path().join(certs::WEBHOOK_CERT_FILE),
                key_file: dir.path().join(certs::WEBHOOK_KEY_FILE),
            }),
        };
        let server = AuthzServer::start(&env, &config).await.unwrap();
        let url = format!("https://{}", server.local_addr());

        // The compose name `authz` is one of the certificate's SANs.
        let webhook = write_kubeconfig(dir.path(), &url, "ca.crt", "authz");
        let authz = WebhookAuthorizer::new(webhook, env.net.clone());
        let allowed = authz.authorize(&jane_lists_pods_in("dev")).await;
        assert_eq!(allowed.kind, DecisionKind::Allow, "{allowed:?}");
        assert_eq!(
            allowed.decided_by,
            r#"Webhook "Webhook": RBAC: allowed by RoleBinding "read-pods/dev" of Role "pod-reader" to User "jane""#
        );
        let elsewhere = authz.authorize(&jane_lists_pods_in("prod")).await;
        assert_eq!(elsewhere.kind, DecisionKind::NoOpinion, "{elsewhere:?}");

        // Another CA (another `kubesim certs` run): refused, and Deny under failurePolicy Deny.
        let other = tempfile::tempdir().unwrap();
        let other_ca = other.path().join("other-ca.crt");
        std::fs::write(&other_ca, write_certs(other.path())).unwrap();
        let webhook = write_kubeconfig(dir.path(), &url, other_ca.to_str().unwrap(), "authz");
        let refused = WebhookAuthorizer::new(webhook, env.net.clone())
            .authorize(&jane_lists_pods_in("dev"))
            .await;
        assert_eq!(refused.kind, DecisionKind::Deny, "{refused:?}");
        assert!(
            refused
                .error
                .contains("x509: certificate signed by unknown authority"),
            "{}",
            refused.error
        );

        server.shutdown().await;
        node.shutdown().await;
    }
}
