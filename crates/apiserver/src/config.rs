//! Every bound of the API server's front in one struct, with kube-apiserver's defaults in one
//! place ([`ApiServerConfig::new`]) and checked once at start-up ([`ApiServerConfig::validate`]).

pub use kubesim_admission::chain::AdmissionOptions;
use std::path::PathBuf;
use std::time::Duration;

/// kube-apiserver's `--max-requests-inflight`.
pub const DEFAULT_MAX_REQUESTS_INFLIGHT: usize = 400;
/// kube-apiserver's `--max-mutating-requests-inflight`.
pub const DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT: usize = 200;
/// kube-apiserver's `--request-timeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// kube-apiserver's body limit for every request (`MaxRequestBodyBytes`, 3 MiB).
pub const DEFAULT_MAX_REQUEST_BODY_BYTES: usize = 3 * 1024 * 1024;

/// How the API server listens and what it bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiServerConfig {
    /// `host:port` to listen on, through `Env.net` (`--bind-address` and `--secure-port`).
    pub bind_address: String,
    /// PEM certificate chain served to clients (`--tls-cert-file`).
    pub tls_cert_file: PathBuf,
    /// PEM private key of that certificate (`--tls-private-key-file`).
    pub tls_private_key_file: PathBuf,
    /// PEM CA bundle client certificates are verified against (`--client-ca-file`). When set,
    /// a client certificate is requested but not required: authentication decides later
    /// what a request without one is. When unset, none is requested.
    pub client_ca_file: Option<PathBuf>,
    /// Read-only requests served at once before 429; 0 means no limit, as in kube-apiserver.
    pub max_requests_inflight: usize,
    /// Mutating requests served at once before 429; 0 means no limit.
    pub max_mutating_requests_inflight: usize,
    /// Bound of one request that is not long-running (watch, exec, logs, proxy); over it the
    /// client gets 504 Timeout.
    pub request_timeout: Duration,
    /// Largest request body accepted; over it the client gets 413.
    pub max_request_body_bytes: usize,
    /// Open connections at once; the accept loop waits for one to close past this bound, so
    /// a flood of clients cannot exhaust file descriptors.
    pub max_connections: usize,
    /// A client that has not finished the TLS handshake by then is dropped (slowloris).
    pub tls_handshake_timeout: Duration,
    /// An HTTP/1.1 client that has not sent its whole header by then is dropped (slowloris).
    pub header_read_timeout: Duration,
    /// Streams one HTTP/2 connection may have open at once (Go's default, which
    /// kube-apiserver keeps).
    pub http2_max_concurrent_streams: u32,
    /// HTTP/2 PING interval, and how long a PING may go unanswered before the connection
    /// is closed: a client that lost power (or a partition, in the simulation) otherwise
    /// holds its connection and its in-flight permits until the OS gives up (ARCHITECTURE.md,
    /// "HTTP/2 keepalive on every channel and server").
    pub http2_keep_alive_interval: Duration,
    pub http2_keep_alive_timeout: Duration,
    /// How long shutdown waits for requests under way before closing their connections.
    pub shutdown_grace: Duration,
    /// The store's client URLs (`--etcd-servers`): a kubesim store member or a real etcd.
    /// Empty: no storage, resource requests answer 503 (the chain's unit tests).
    pub etcd_servers: Vec<String>,
    /// The prefix of every key (`--etcd-prefix`, `/registry`).
    pub etcd_prefix: String,
    /// Authentication and authorization.
    pub auth: AuthOptions,
    /// `--enable-admission-plugins`, `--disable-admission-plugins`,
    /// `--admission-control-config-file`.
    pub admission: AdmissionOptions,
    /// `--enable-priority-and-fairness` (default true): API Priority and Fairness splits
    /// `max_requests_inflight + max_mutating_requests_inflight` among its priority levels.
    pub enable_priority_and_fairness: bool,
    /// `--audit-policy-file`, `--audit-log-*`, `--audit-webhook-*`.
    pub audit: crate::audit::AuditOptions,
    /// `--trace-slow-threshold`: a request slower than this gets kube's one-line stage
    /// breakdown in the log (`crate::trace::SlowRequestLog`, when its target is on);
    /// 0 logs every request.
    pub trace_slow_threshold: Duration,
}

/// kube-apiserver's `authorization.Webhook` cache defaults.
pub const DEFAULT_WEBHOOK_AUTHORIZED_TTL: Duration = Duration::from_secs(300);
pub const DEFAULT_WEBHOOK_UNAUTHORIZED_TTL: Duration = Duration::from_secs(30);
/// kubesim's default bound on one call to the authz service (kube's AuthorizationConfiguration
/// default for a webhook's `timeout` is 3 s; K8S-FACTS.md caps it at 30 s).
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(3);

/// Authentication and authorization flags, by kube-apiserver's names. Files are read and
/// checked at start-up (`crate::security::Security::build`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthOptions {
    /// `--anonymous-auth` (default true): a request without credentials is
    /// `system:anonymous`; off, it is a 401.
    pub anonymous_auth: bool,
    /// `--token-auth-file`: static tokens, Kubernetes' CSV.
    pub token_auth_file: Option<PathBuf>,
    /// `--service-account-key-file`: keys ServiceAccount tokens are verified with (public or
    /// private PEM). The signing key is always among them.
    pub service_account_key_files: Vec<PathBuf>,
    /// `--service-account-signing-key-file`: signs TokenRequest tokens.
    pub service_account_signing_key_file: Option<PathBuf>,
    /// `--service-account-issuer`: the first issues, every one is accepted.
    pub service_account_issuers: Vec<String>,
    /// `--api-audiences`: a token must be for one of these (default: the issuer).
    pub api_audiences: Vec<String>,
    /// `--service-account-lookup` (default true): a token's ServiceAccount (and bound pod or
    /// secret) must still exist with the same UID.
    pub service_account_lookup: bool,
    /// `--service-account-max-token-expiration`; `None` is no maximum.
    pub service_account_max_token_expiration: Option<Duration>,
    /// `--oidc-*`; `oidc_issuer_url` `None` turns OIDC off.
    pub oidc_issuer_url: Option<String>,
    pub oidc_client_id: String,
    pub oidc_username_claim: String,
    pub oidc_username_prefix: Option<String>,
    pub oidc_groups_claim: Option<String>,
    pub oidc_groups_prefix: String,
    pub oidc_required_claims: Vec<(String, String)>,
    pub oidc_ca_file: Option<PathBuf>,
    pub oidc_signing_algs: Vec<String>,
    /// `--requestheader-*`: the authenticating proxy; off without the CA file.
    pub requestheader_client_ca_file: Option<PathBuf>,
    pub requestheader_allowed_names: Vec<String>,
    pub requestheader_username_headers: Vec<String>,
    pub requestheader_group_headers: Vec<String>,
    pub requestheader_extra_headers_prefix: Vec<String>,
    /// `--authorization-mode`, e.g. `Node,RBAC` (kube's default: `AlwaysAllow`).
    pub authorization_modes: String,
    /// `--authorization-config`: kube's AuthorizationConfiguration file, instead of the mode
    /// and webhook flags.
    pub authorization_config_file: Option<PathBuf>,
    /// `--authorization-policy-file`: ABAC's JSON lines.
    pub authorization_policy_file: Option<PathBuf>,
    /// `--authorization-webhook-config-file`: a kubeconfig whose cluster `server` is the authz
    /// service's gRPC address (`http://host:port`).
    pub authorization_webhook_config_file: Option<PathBuf>,
    /// `--authorization-webhook-cache-authorized-ttl` / `-unauthorized-ttl`.
    pub authorization_webhook_authorized_ttl: Duration,
    pub authorization_webhook_unauthorized_ttl: Duration,
    /// kubesim's `--authorization-webhook-timeout` and `--authorization-webhook-failure-policy`
    /// (`NoOpinion` or `Deny`): kube sets these only in AuthorizationConfiguration.
    pub authorization_webhook_timeout: Duration,
    pub authorization_webhook_failure_policy: String,
}

impl Default for AuthOptions {
    /// kube-apiserver's defaults: anonymous on, lookups on, AlwaysAllow, nothing else.
    fn default() -> Self {
        AuthOptions {
            anonymous_auth: true,
            token_auth_file: None,
            service_account_key_files: Vec::new(),
            service_account_signing_key_file: None,
            service_account_issuers: Vec::new(),
            api_audiences: Vec::new(),
            service_account_lookup: true,
            service_account_max_token_expiration: None,
            oidc_issuer_url: None,
            oidc_client_id: String::new(),
            oidc_username_claim: "sub".to_string(),
            oidc_username_prefix: None,
            oidc_groups_claim: None,
            oidc_groups_prefix: String::new(),
            oidc_required_claims: Vec::new(),
            oidc_ca_file: None,
            oidc_signing_algs: vec!["RS256".to_string()],
            requestheader_client_ca_file: None,
            requestheader_allowed_names: Vec::new(),
            requestheader_username_headers: Vec::new(),
            requestheader_group_headers: Vec::new(),
            requestheader_extra_headers_prefix: Vec::new(),
            authorization_modes: "AlwaysAllow".to_string(),
            authorization_config_file: None,
            authorization_policy_file: None,
            authorization_webhook_config_file: None,
            authorization_webhook_authorized_ttl: DEFAULT_WEBHOOK_AUTHORIZED_TTL,
            authorization_webhook_unauthorized_ttl: DEFAULT_WEBHOOK_UNAUTHORIZED_TTL,
            authorization_webhook_timeout: DEFAULT_WEBHOOK_TIMEOUT,
            authorization_webhook_failure_policy: "NoOpinion".to_string(),
        }
    }
}

impl ApiServerConfig {
    /// kube-apiserver's defaults for everything but the address and the serving certificate.
    pub fn new(bind_address: &str, tls_cert_file: PathBuf, tls_private_key_file: PathBuf) -> Self {
        ApiServerConfig {
            bind_address: bind_address.to_string(),
            tls_cert_file,
            tls_private_key_file,
            client_ca_file: None,
            max_requests_inflight: DEFAULT_MAX_REQUESTS_INFLIGHT,
            max_mutating_requests_inflight: DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_request_body_bytes: DEFAULT_MAX_REQUEST_BODY_BYTES,
            max_connections: 4096,
            tls_handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            http2_max_concurrent_streams: 250,
            http2_keep_alive_interval: Duration::from_secs(2),
            http2_keep_alive_timeout: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(5),
            etcd_servers: Vec::new(),
            etcd_prefix: crate::registry::DEFAULT_ETCD_PREFIX.to_string(),
            auth: AuthOptions::default(),
            admission: AdmissionOptions::default(),
            enable_priority_and_fairness: true,
            audit: crate::audit::AuditOptions::default(),
            trace_slow_threshold: crate::trace::DEFAULT_SLOW_THRESHOLD,
        }
    }

    /// Refuses bounds that would make the server useless (a zero timeout answers every
    /// request with 504).
    pub fn validate(&self) -> Result<(), String> {
        let durations = [
            ("request timeout", self.request_timeout),
            ("TLS handshake timeout", self.tls_handshake_timeout),
            ("header read timeout", self.header_read_timeout),
            ("HTTP/2 keep-alive interval", self.http2_keep_alive_interval),
            ("HTTP/2 keep-alive timeout", self.http2_keep_alive_timeout),
        ];
        for (what, duration) in durations {
            if duration.is_zero() {
                return Err(format!("{what} must be longer than zero"));
            }
        }
        if self.max_request_body_bytes == 0 {
            return Err("max request body bytes must be at least 1".to_string());
        }
        if self.max_connections == 0 {
            return Err("max connections must be at least 1".to_string());
        }
        if !self.etcd_prefix.starts_with('/') {
            return Err(format!(
                "etcd prefix {:?} must start with /",
                self.etcd_prefix
            ));
        }
        if self.http2_max_concurrent_streams == 0 {
            return Err("HTTP/2 max concurrent streams must be at least 1".to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kube_apiservers() {
        let config = ApiServerConfig::new("0.0.0.0:6443", "c".into(), "k".into());
        assert_eq!(config.max_requests_inflight, 400);
        assert_eq!(config.max_mutating_requests_inflight, 200);
        assert_eq!(config.request_timeout, Duration::from_secs(60));
        assert_eq!(config.max_request_body_bytes, 3_145_728);
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn zero_bounds_are_refused() {
        let mut config = ApiServerConfig::new("0.0.0.0:6443", "c".into(), "k".into());
        config.request_timeout = Duration::ZERO;
        assert_eq!(
            config.validate(),
            Err("request timeout must be longer than zero".to_string())
        );
    }
}
