//! `kubesim apiserver`: the API server's front, with kube-apiserver's flag names and defaults,
//! so a command line written for kube-apiserver reads the same here. The authentication and
//! authorization flags are in [`auth_flags`], API Priority and Fairness and audit in
//! [`flow_audit_flags`], tracing in [`trace_flags`].

pub mod auth_flags;
pub mod flow_audit_flags;
pub mod trace_flags;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use kubesim_apiserver::config::AdmissionOptions;
use kubesim_apiserver::{ApiServer, ApiServerConfig, config};

use crate::flags::FlagError;

/// The flags of `kubesim apiserver`. Each one is kube-apiserver's flag of the same name.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiServerArgs {
    /// The port on which to serve HTTPS.
    #[arg(long, default_value_t = 6443)]
    pub secure_port: u16,
    /// The IP address on which to listen for the --secure-port port.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: String,
    /// File containing the default x509 certificate for HTTPS, CA certificates after it
    /// (required; `kubesim certs --out DIR` writes one).
    #[arg(long)]
    pub tls_cert_file: Option<PathBuf>,
    /// File containing the default x509 private key matching --tls-cert-file (required).
    #[arg(long)]
    pub tls_private_key_file: Option<PathBuf>,
    /// If set, a client certificate signed by one of these CAs is requested (not required).
    #[arg(long)]
    pub client_ca_file: Option<PathBuf>,
    /// The maximum number of non-mutating requests in flight at a given time; 0 means no limit.
    #[arg(long, default_value_t = config::DEFAULT_MAX_REQUESTS_INFLIGHT)]
    pub max_requests_inflight: usize,
    /// The maximum number of mutating requests in flight at a given time; 0 means no limit.
    #[arg(long, default_value_t = config::DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT)]
    pub max_mutating_requests_inflight: usize,
    /// How long a handler may take before the request is answered 504 Timeout (watches and
    /// other long-running requests are exempt). A Go duration: 1m0s, 30s, 1m30s, 500ms.
    #[arg(long, default_value = "1m0s")]
    pub request_timeout: String,
    /// List of etcd servers to connect with (scheme://ip:port), comma separated: kubesim
    /// store members or a real etcd. Only the first is used for now.
    #[arg(long, value_delimiter = ',')]
    pub etcd_servers: Vec<String>,
    /// The prefix to prepend to all resource paths in etcd.
    #[arg(long, default_value = "/registry")]
    pub etcd_prefix: String,
    #[command(flatten)]
    pub auth: auth_flags::AuthArgs,
    #[command(flatten)]
    pub flow_audit: flow_audit_flags::FlowAuditArgs,
    #[command(flatten)]
    pub tracing: trace_flags::TraceArgs,
    /// Admission plugins to enable on top of the defaults (NamespaceLifecycle, LimitRanger,
    /// ServiceAccount, PodSecurity, MutatingAdmissionWebhook, ValidatingAdmissionWebhook,
    /// ResourceQuota), comma separated; they run in kube-apiserver's order whatever the order
    /// given. kube's plugins kubesim lacks are accepted and ignored with a warning.
    #[arg(long, value_delimiter = ',')]
    pub enable_admission_plugins: Vec<String>,
    /// Admission plugins to turn off, even default ones, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub disable_admission_plugins: Vec<String>,
    /// kube's AdmissionConfiguration file (apiserver.config.k8s.io/v1): the plugins'
    /// configuration, e.g. PodSecurity's defaults and exemptions.
    #[arg(long)]
    pub admission_control_config_file: Option<PathBuf>,
}

impl ApiServerArgs {
    /// Checks every flag and builds the server's configuration.
    pub fn to_config(&self) -> Result<ApiServerConfig, FlagError> {
        let ip: IpAddr = self.bind_address.parse().map_err(|_| {
            FlagError::new(
                "bind-address",
                format!("{:?} is not an IP address", self.bind_address),
            )
        })?;
        if self.secure_port == 0 {
            return Err(FlagError::new("secure-port", "must be between 1 and 65535"));
        }
        let required = |flag: &'static str, value: &Option<PathBuf>| {
            value.clone().ok_or_else(|| {
                FlagError::new(
                    flag,
                    "is required (kubesim does not generate a self-signed certificate; \
                     `kubesim certs --out DIR` writes apiserver.crt and apiserver.key)",
                )
            })
        };
        let cert = required("tls-cert-file", &self.tls_cert_file)?;
        let key = required("tls-private-key-file", &self.tls_private_key_file)?;
        let address = SocketAddr::new(ip, self.secure_port).to_string();
        let mut config = ApiServerConfig::new(&address, cert, key);
        config.client_ca_file = self.client_ca_file.clone();
        config.max_requests_inflight = self.max_requests_inflight;
        config.max_mutating_requests_inflight = self.max_mutating_requests_inflight;
        config.request_timeout = parse_go_duration("request-timeout", &self.request_timeout)?;
        if self.etcd_servers.iter().all(|s| s.trim().is_empty()) {
            return Err(FlagError::new(
                "etcd-servers",
                "is required (e.g. http://127.0.0.1:2379, a kubesim store member or an etcd)",
            ));
        }
        config.etcd_servers = self
            .etcd_servers
            .iter()
            .map(|s| s.trim().to_string())
            .collect();
        if !self.etcd_prefix.starts_with('/') {
            return Err(FlagError::new("etcd-prefix", "must start with /"));
        }
        config.etcd_prefix = self.etcd_prefix.clone();
        config.auth = self.auth.to_options()?;
        self.flow_audit.to_options()?.apply_to(&mut config);
        self.tracing.to_options()?.apply_to(&mut config);
        config.admission = AdmissionOptions {
            enable: non_empty(&self.enable_admission_plugins),
            disable: non_empty(&self.disable_admission_plugins),
            config_file: self.admission_control_config_file.clone(),
            ..AdmissionOptions::default()
        };
        config
            .validate()
            .map_err(|reason| FlagError::new("request-timeout", reason))?;
        Ok(config)
    }
}

/// A comma list's entries, trimmed, without empty ones (`--flag=` is no plugin at all).
fn non_empty(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A Go duration as kube-apiserver's flags take it (`1m0s`, `90s`, `1h30m`, see
/// [`kubesim_api::time::parse_go_duration`]). Must be longer than zero.
fn parse_go_duration(flag: &'static str, text: &str) -> Result<Duration, FlagError> {
    let total = kubesim_api::time::parse_go_duration(text).ok_or_else(|| {
        FlagError::new(
            flag,
            format!("{text:?} must be a duration such as 1m0s, 30s or 500ms"),
        )
    })?;
    if total.is_zero() {
        return Err(FlagError::new(flag, "must be longer than zero"));
    }
    Ok(total)
}

/// Serves until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn run(config: ApiServerConfig) -> anyhow::Result<()> {
    // The front keeps nothing on disk; the seam still wants a directory for `Env.disk`.
    let env = kubesim_net::Env::production(std::env::temp_dir());
    let server = ApiServer::start(env, config)
        .await
        .map_err(|e| anyhow::anyhow!("the API server failed to start: {e}"))?;
    tracing::info!(address = %server.local_addr(), "ready to serve HTTPS");
    crate::signal::terminated().await?;
    tracing::info!("received a stop signal, shutting down");
    server.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        args: ApiServerArgs,
    }

    fn config(args: &[&str]) -> Result<ApiServerConfig, FlagError> {
        let argv = std::iter::once("apiserver").chain(args.iter().copied());
        Cmd::try_parse_from(argv).unwrap().args.to_config()
    }

    const CERTS: [&str; 3] = [
        "--tls-cert-file=a.crt",
        "--tls-private-key-file=a.key",
        "--etcd-servers=http://127.0.0.1:2379",
    ];

    #[test]
    fn defaults_are_kube_apiservers() {
        let config = config(&CERTS).unwrap();
        assert_eq!(config.bind_address, "0.0.0.0:6443");
        assert_eq!(config.max_requests_inflight, 400);
        assert_eq!(config.max_mutating_requests_inflight, 200);
        assert_eq!(config.request_timeout, Duration::from_secs(60));
        assert_eq!(config.tls_cert_file, PathBuf::from("a.crt"));
        assert_eq!(config.client_ca_file, None);
        // kube-apiserver's AlwaysAllow, under which it turns anonymous requests off.
        assert_eq!(config.auth.authorization_modes, "AlwaysAllow");
        assert!(!config.auth.anonymous_auth);
        assert!(config.auth.service_account_lookup);
        assert_eq!(
            config.auth.authorization_webhook_authorized_ttl,
            Duration::from_secs(300)
        );
    }

    #[test]
    fn flags_reach_the_config() {
        let mut args = CERTS.to_vec();
        args.extend([
            "--bind-address=::1",
            "--secure-port=7443",
            "--max-requests-inflight=0",
            "--request-timeout=1m30s",
            "--client-ca-file=ca.crt",
            "--anonymous-auth=true",
            "--token-auth-file=tokens.csv",
            "--service-account-signing-key-file=sa.key",
            "--service-account-key-file=sa.pub",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--api-audiences=https://kubernetes.default.svc.cluster.local",
            "--authorization-mode=Node,Webhook",
            "--authorization-webhook-config-file=authz-webhook.kubeconfig",
            "--authorization-webhook-failure-policy=Deny",
        ]);
        let config = config(&args).unwrap();
        assert_eq!(config.bind_address, "[::1]:7443");
        assert_eq!(config.max_requests_inflight, 0);
        assert_eq!(config.request_timeout, Duration::from_secs(90));
        assert_eq!(config.client_ca_file, Some(PathBuf::from("ca.crt")));
        let auth = &config.auth;
        assert!(auth.anonymous_auth);
        assert_eq!(auth.token_auth_file, Some(PathBuf::from("tokens.csv")));
        assert_eq!(
            auth.service_account_signing_key_file,
            Some(PathBuf::from("sa.key"))
        );
        assert_eq!(auth.service_account_key_files, [PathBuf::from("sa.pub")]);
        assert_eq!(
            auth.service_account_issuers,
            ["https://kubernetes.default.svc.cluster.local"]
        );
        assert_eq!(
            auth.api_audiences,
            ["https://kubernetes.default.svc.cluster.local"]
        );
        assert_eq!(auth.authorization_modes, "Node,Webhook");
        assert_eq!(
            auth.authorization_webhook_config_file,
            Some(PathBuf::from("authz-webhook.kubeconfig"))
        );
        assert_eq!(auth.authorization_webhook_failure_policy, "Deny");
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let cases: [(&[&str], &str); 10] = [
            (&[], "tls-cert-file"),
            (&["--tls-cert-file=a"], "tls-private-key-file"),
            (
                &[CERTS[0], CERTS[1], "--bind-address=localhost"],
                "bind-address",
            ),
            (&[CERTS[0], CERTS[1], "--secure-port=0"], "secure-port"),
            (&[CERTS[0], CERTS[1]], "etcd-servers"),
            (
                &[CERTS[0], CERTS[1], "--request-timeout=60"],
                "request-timeout",
            ),
            (
                &[CERTS[0], CERTS[1], "--request-timeout=0s"],
                "request-timeout",
            ),
            (
                &[CERTS[0], CERTS[1], CERTS[2], "--anonymous-auth=no"],
                "anonymous-auth",
            ),
            (
                &[CERTS[0], CERTS[1], CERTS[2], "--authorization-mode=Webhook"],
                "authorization-mode",
            ),
            (
                &[CERTS[0], CERTS[1], CERTS[2], "--oidc-client-id=kubesim"],
                "oidc-issuer-url",
            ),
        ];
        for (args, flag) in cases {
            let error = config(args).unwrap_err();
            assert_eq!(error.flag, flag, "{args:?}: {error}");
        }
    }

    #[test]
    fn priority_and_fairness_and_audit_flags_reach_the_config() {
        let defaults = config(&CERTS).unwrap();
        assert!(defaults.enable_priority_and_fairness);
        assert_eq!(
            defaults.audit,
            kubesim_apiserver::audit::AuditOptions::default()
        );
        let mut args = CERTS.to_vec();
        args.extend([
            "--enable-priority-and-fairness=false",
            "--audit-policy-file=audit-policy.yaml",
            "--audit-log-path=audit.log",
            "--audit-log-maxsize=10",
            "--audit-webhook-config-file=audit-webhook.kubeconfig",
            "--audit-webhook-batch-max-wait=5s",
        ]);
        let config = config(&args).unwrap();
        assert!(!config.enable_priority_and_fairness);
        let audit = &config.audit;
        assert_eq!(audit.policy_file, Some(PathBuf::from("audit-policy.yaml")));
        let log = audit.log.as_ref().unwrap();
        assert_eq!(
            (log.path.as_path(), log.max_size_mb),
            (Path::new("audit.log"), 10)
        );
        assert_eq!(
            audit.webhook_config_file,
            Some(PathBuf::from("audit-webhook.kubeconfig"))
        );
        assert_eq!(audit.webhook_batch.max_wait, Some(Duration::from_secs(5)));
        let mut bad = CERTS.to_vec();
        bad.push("--audit-webhook-initial-backoff=10");
        assert_eq!(config_error(&bad), "audit-webhook-initial-backoff");
    }

    fn config_error(args: &[&str]) -> &'static str {
        config(args).unwrap_err().flag
    }

    #[test]
    fn go_durations() {
        let d = |s| parse_go_duration("f", s);
        assert_eq!(d("1m0s"), Ok(Duration::from_secs(60)));
        assert_eq!(d("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(d("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(d("2s500ms"), Ok(Duration::from_millis(2500)));
        for bad in ["", "s", "1", "1x", "-1s", "1.5s"] {
            assert!(d(bad).is_err(), "{bad:?}");
        }
    }
}
