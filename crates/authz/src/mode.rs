//! How the chain is configured, as kube-apiserver is: `--authorization-mode` (a comma list of
//! modes) or `--authorization-config` (an AuthorizationConfiguration file,
//! `apiserver.config.k8s.io/v1alpha1`, `v1beta1` or `v1`), with kube's defaults, validation
//! and messages; and the webhook's kubeconfig, from which kubesim takes the authz service's
//! gRPC endpoint (the current cluster's `server`: `https://host:port` with the cluster's
//! `certificate-authority(-data)` and the user's optional client certificate, as kube's
//! webhook kubeconfig; or `http://host:port`, plain gRPC, as the simulation and `kubesim up`
//! use).
//!
//! What kubesim refuses that kube accepts, each with its own message: CEL `matchConditions`,
//! `connectionInfo.type: InClusterConfig`, a server with a path (the service answers gRPC,
//! not a SubjectAccessReview POST) and a bearer token. Files that
//! `--authorization-mode=ABAC`/`Webhook` also need (`--authorization-policy-file`,
//! `--authorization-webhook-config-file`) are the caller's to check.

use std::collections::HashSet;
use std::fmt;
use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

use kubesim_api::status::{FieldError, go_quote};
use kubesim_api::validation::is_dns1123_subdomain;
use kubesim_audit::kubeconfig::RestConfig;
use serde::Deserialize;

use crate::chain::aggregate;
use crate::webhook::{DEFAULT_CACHE_SIZE, FailurePolicy, MAX_TIMEOUT, WebhookConfig, WebhookTls};

/// An authorizer of the chain, by kube's mode name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    AlwaysAllow,
    AlwaysDeny,
    Abac,
    Rbac,
    Node,
    Webhook,
}

impl Mode {
    /// kube's `AuthorizationModeChoices`, in its order.
    pub const ALL: [Mode; 6] = [
        Mode::AlwaysAllow,
        Mode::AlwaysDeny,
        Mode::Abac,
        Mode::Webhook,
        Mode::Rbac,
        Mode::Node,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::AlwaysAllow => "AlwaysAllow",
            Mode::AlwaysDeny => "AlwaysDeny",
            Mode::Abac => "ABAC",
            Mode::Rbac => "RBAC",
            Mode::Node => "Node",
            Mode::Webhook => "Webhook",
        }
    }

    /// The mode kube spells `name` (case matters: `rbac` is not a mode).
    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|mode| mode.as_str() == name)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `--authorization-mode=RBAC,Node`: the modes in order, or kube's messages for an empty
/// list, an unknown mode and a repeated one (several at once as kube's error aggregate).
pub fn parse_modes(flag: &str) -> Result<Vec<Mode>, String> {
    let names: Vec<&str> = if flag.is_empty() {
        Vec::new()
    } else {
        flag.split(',').collect()
    };
    let mut errors = Vec::new();
    if names.is_empty() {
        errors.push("at least one authorization-mode must be passed".to_string());
    }
    let mut modes = Vec::new();
    for name in &names {
        match Mode::from_name(name) {
            Some(mode) => modes.push(mode),
            None => errors.push(format!(
                "authorization-mode {} is not a valid mode",
                go_quote(name)
            )),
        }
    }
    let distinct: HashSet<&&str> = names.iter().collect();
    if distinct.len() != names.len() {
        let quoted: Vec<String> = names.iter().map(|n| go_quote(n)).collect();
        errors.push(format!(
            "authorization-mode [{}] has mode specified more than once",
            quoted.join(" ")
        ));
    }
    if errors.is_empty() {
        Ok(modes)
    } else {
        Err(aggregate(&errors))
    }
}

/// A validated AuthorizationConfiguration: the chain, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationConfig {
    pub authorizers: Vec<AuthorizerSpec>,
}

/// One authorizer of the chain. `webhook` is set exactly when `mode` is `Webhook`; its
/// `name` is the authorizer's and its `endpoint` comes from the kubeconfig file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerSpec {
    pub mode: Mode,
    pub name: String,
    pub webhook: Option<WebhookConfig>,
}

const API_VERSIONS: [&str; 3] = [
    "apiserver.config.k8s.io/v1alpha1",
    "apiserver.config.k8s.io/v1beta1",
    "apiserver.config.k8s.io/v1",
];
const KIND: &str = "AuthorizationConfiguration";
const KUBE_CONFIG_FILE: &str = "KubeConfigFile";
const IN_CLUSTER_CONFIG: &str = "InClusterConfig";
/// Defaults of every version (`SetDefaults_WebhookConfiguration`).
const DEFAULT_AUTHORIZED_TTL: Duration = Duration::from_secs(5 * 60);
const DEFAULT_UNAUTHORIZED_TTL: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    authorizers: Vec<AuthorizerFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizerFile {
    #[serde(rename = "type", default)]
    type_: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    webhook: Option<WebhookFile>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct WebhookFile {
    timeout: Option<String>,
    #[serde(rename = "authorizedTTL")]
    authorized_ttl: Option<String>,
    cache_authorized_requests: Option<bool>,
    #[serde(rename = "unauthorizedTTL")]
    unauthorized_ttl: Option<String>,
    cache_unauthorized_requests: Option<bool>,
    subject_access_review_version: String,
    match_condition_subject_access_review_version: String,
    failure_policy: String,
    connection_info: ConnectionInfoFile,
    /// Read only to be refused: kubesim has no CEL.
    match_conditions: Vec<serde::de::IgnoredAny>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct ConnectionInfoFile {
    #[serde(rename = "type")]
    type_: String,
    kube_config_file: Option<String>,
}

/// Reads and validates an AuthorizationConfiguration; webhook kubeconfig files are read
/// from the local disk (kube-apiserver checks them at start-up too).
pub fn parse_authorization_config(yaml: &str) -> Result<AuthorizationConfig, String> {
    parse_authorization_config_with(yaml, &|path| {
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    })
}

/// [`parse_authorization_config`] with the kubeconfig files read by `read_file` (path →
/// contents).
pub fn parse_authorization_config_with(
    yaml: &str,
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<AuthorizationConfig, String> {
    let file = decode(yaml)
        .map_err(|e| format!("failed to load AuthorizationConfiguration from file: {e}"))?;
    let mut errors: Vec<String> = Vec::new();
    if file.authorizers.is_empty() {
        let detail = "at least one authorization mode must be defined";
        errors.push(FieldError::required("authorizers", detail).to_string());
    }
    let mut seen = Seen::default();
    let mut authorizers = Vec::new();
    for (index, authorizer) in file.authorizers.iter().enumerate() {
        let path = format!("authorizers[{index}]");
        let checked = check_authorizer(&path, authorizer, &mut seen, read_file);
        errors.extend(checked.errors);
        authorizers.extend(checked.spec);
    }
    if errors.is_empty() {
        errors = check_builtin_names(&authorizers);
    }
    if errors.is_empty() {
        Ok(AuthorizationConfig { authorizers })
    } else {
        Err(aggregate(&errors))
    }
}

fn decode(yaml: &str) -> Result<ConfigFile, String> {
    if yaml.trim().is_empty() {
        // kube's loader answers an empty file with the defaulted empty configuration.
        return Ok(ConfigFile {
            api_version: API_VERSIONS[2].to_string(),
            kind: KIND.to_string(),
            authorizers: Vec::new(),
        });
    }
    let file: ConfigFile = yaml_serde::from_str(yaml).map_err(|e| e.to_string())?;
    if file.api_version.is_empty() {
        return Err("Object 'apiVersion' is missing".to_string());
    }
    if file.kind.is_empty() {
        return Err("Object 'Kind' is missing".to_string());
    }
    if file.kind != KIND || !API_VERSIONS.contains(&file.api_version.as_str()) {
        return Err(format!(
            "no kind {} is registered for version {}",
            go_quote(&file.kind),
            go_quote(&file.api_version)
        ));
    }
    Ok(file)
}

/// Types and names met so far (kube's `seenAuthorizerTypes`, `seenAuthorizerNames`).
#[derive(Default)]
struct Seen {
    types: HashSet<Mode>,
    names: HashSet<String>,
}

struct Checked {
    errors: Vec<String>,
    spec: Option<AuthorizerSpec>,
}

/// kube's per-authorizer checks, in its order: type (required, known, only Webhook
/// repeated), name (required, unique, a DNS-1123 subdomain), and the webhook section.
fn check_authorizer(
    path: &str,
    authorizer: &AuthorizerFile,
    seen: &mut Seen,
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Checked {
    let type_path = format!("{path}.type");
    let fail = |error: FieldError| Checked {
        errors: vec![error.to_string()],
        spec: None,
    };
    if authorizer.type_.is_empty() {
        return fail(FieldError::required(&type_path, ""));
    }
    let Some(mode) = Mode::from_name(&authorizer.type_) else {
        let mut known: Vec<&str> = Mode::ALL.iter().map(|m| m.as_str()).collect();
        known.sort_unstable();
        let value = serde_json::Value::from(authorizer.type_.as_str());
        return fail(FieldError::not_supported(&type_path, value, &known));
    };
    if mode != Mode::Webhook && !seen.types.insert(mode) {
        return fail(FieldError::duplicate(&type_path, mode.as_str().into()));
    }
    let mut errors = check_name(path, &authorizer.name, seen);
    let webhook = match (mode, &authorizer.webhook) {
        (Mode::Webhook, None) => {
            let detail = "required when type=Webhook";
            errors.push(FieldError::required(&format!("{path}.webhook"), detail).to_string());
            None
        }
        (Mode::Webhook, Some(webhook)) => {
            let (webhook_errors, config) = check_webhook(path, webhook, read_file);
            errors.extend(webhook_errors);
            config.map(|config| WebhookConfig {
                name: authorizer.name.clone(),
                ..config
            })
        }
        (_, Some(_)) => {
            let detail = "may only be specified when type=Webhook";
            let error = FieldError::invalid(&format!("{path}.webhook"), "non-null".into(), detail);
            errors.push(error.to_string());
            None
        }
        (_, None) => None,
    };
    let spec = (errors.is_empty()).then(|| AuthorizerSpec {
        mode,
        name: authorizer.name.clone(),
        webhook,
    });
    Checked { errors, spec }
}

fn check_name(path: &str, name: &str, seen: &mut Seen) -> Vec<String> {
    let name_path = format!("{path}.name");
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(FieldError::required(&name_path, "").to_string());
    } else if seen.names.contains(name) {
        errors.push(FieldError::duplicate(&name_path, name.into()).to_string());
    } else {
        let invalid = is_dns1123_subdomain(name);
        if !invalid.is_empty() {
            let detail = format!("authorizer name is invalid: {}", invalid.join(", "));
            errors.push(FieldError::invalid(&name_path, name.into(), &detail).to_string());
        }
    }
    seen.names.insert(name.to_string());
    errors
}

/// kube-apiserver's own rule: a built-in authorizer's name is its type in lower case.
fn check_builtin_names(authorizers: &[AuthorizerSpec]) -> Vec<String> {
    authorizers
        .iter()
        .filter(|a| a.mode != Mode::Webhook)
        .filter_map(|a| {
            let expected = a.mode.as_str().to_lowercase();
            (a.name != expected).then(|| {
                format!(
                    "expected name {expected} for authorizer {} instead of {}",
                    a.mode, a.name
                )
            })
        })
        .collect()
}

/// kube's `ValidateWebhookConfiguration`, whose field paths (a quirk of kube's) hang off the
/// authorizer's path, not `.webhook`. Returns the errors and, when there are none, the
/// config (without its name).
fn check_webhook(
    path: &str,
    webhook: &WebhookFile,
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> (Vec<String>, Option<WebhookConfig>) {
    let mut errors = Vec::new();
    let field = |name: &str| format!("{path}.{name}");
    let timeout = check_duration(&field("timeout"), webhook.timeout.as_deref(), None, true);
    let authorized = check_duration(
        &field("authorizedTTL"),
        webhook.authorized_ttl.as_deref(),
        Some(DEFAULT_AUTHORIZED_TTL),
        false,
    );
    let unauthorized = check_duration(
        &field("unauthorizedTTL"),
        webhook.unauthorized_ttl.as_deref(),
        Some(DEFAULT_UNAUTHORIZED_TTL),
        false,
    );
    let [timeout, authorized, unauthorized] =
        [timeout, authorized, unauthorized].map(|checked| match checked {
            Ok(duration) => Some(duration),
            Err(error) => {
                errors.push(error);
                None
            }
        });
    errors.extend(check_versions(path, webhook));
    let failure_policy = check_failure_policy(path, &webhook.failure_policy, &mut errors);
    let connection = check_connection_info(path, &webhook.connection_info, read_file, &mut errors);
    if !webhook.match_conditions.is_empty() {
        let detail = "CEL match conditions are not supported by kubesim";
        errors.push(FieldError::forbidden(&field("matchConditions"), detail).to_string());
    }
    let config = match (
        timeout,
        authorized,
        unauthorized,
        failure_policy,
        connection,
    ) {
        (Some(timeout), Some(authorized), Some(unauthorized), Some(policy), Some(connection))
            if errors.is_empty() =>
        {
            let cached = |ttl: Duration, cache: Option<bool>| {
                if cache.unwrap_or(true) {
                    ttl
                } else {
                    Duration::ZERO
                }
            };
            Some(WebhookConfig {
                name: String::new(),
                endpoint: connection.endpoint,
                tls: connection.tls,
                timeout,
                authorized_ttl: cached(authorized, webhook.cache_authorized_requests),
                unauthorized_ttl: cached(unauthorized, webhook.cache_unauthorized_requests),
                failure_policy: policy,
                cache_size: DEFAULT_CACHE_SIZE,
            })
        }
        _ => None,
    };
    (errors, config)
}

/// A duration field: absent or zero is `default` (or Required without one); negative, or
/// over 30 s for the timeout, is Invalid with kube's words.
fn check_duration(
    field: &str,
    text: Option<&str>,
    default: Option<Duration>,
    is_timeout: bool,
) -> Result<Duration, String> {
    let (negative, duration) = match text {
        None => (false, Duration::ZERO),
        Some(text) => parse_go_duration(text).map_err(|e| format!("{field}: {e}"))?,
    };
    if duration.is_zero() {
        return default.ok_or_else(|| FieldError::required(field, "").to_string());
    }
    let shown = serde_json::Value::from(format_go_duration(negative, duration));
    if is_timeout && (negative || duration > MAX_TIMEOUT) {
        return Err(FieldError::invalid(field, shown, "must be > 0s and <= 30s").to_string());
    }
    if negative {
        return Err(FieldError::invalid(field, shown, "must be > 0s").to_string());
    }
    Ok(duration)
}

fn check_versions(path: &str, webhook: &WebhookFile) -> Vec<String> {
    let mut errors = Vec::new();
    let sar_path = format!("{path}.subjectAccessReviewVersion");
    match webhook.subject_access_review_version.as_str() {
        "" => errors.push(FieldError::required(&sar_path, "").to_string()),
        "v1" | "v1beta1" => {}
        other => {
            let error = FieldError::not_supported(&sar_path, other.into(), &["v1", "v1beta1"]);
            errors.push(error.to_string());
        }
    }
    let match_path = format!("{path}.matchConditionSubjectAccessReviewVersion");
    match webhook
        .match_condition_subject_access_review_version
        .as_str()
    {
        "" if !webhook.match_conditions.is_empty() => {
            let detail = "required if match conditions are specified";
            errors.push(FieldError::required(&match_path, detail).to_string());
        }
        "" | "v1" => {}
        other => {
            let error = FieldError::not_supported(&match_path, other.into(), &["v1"]);
            errors.push(error.to_string());
        }
    }
    errors
}

fn check_failure_policy(
    path: &str,
    policy: &str,
    errors: &mut Vec<String>,
) -> Option<FailurePolicy> {
    let field = format!("{path}.failurePolicy");
    match policy {
        "NoOpinion" => Some(FailurePolicy::NoOpinion),
        "Deny" => Some(FailurePolicy::Deny),
        "" => {
            errors.push(FieldError::required(&field, "").to_string());
            None
        }
        other => {
            let supported = ["NoOpinion", "Deny"];
            errors.push(FieldError::not_supported(&field, other.into(), &supported).to_string());
            None
        }
    }
}

/// kube's connectionInfo checks, then kubesim's: the kubeconfig file (and the files it
/// names) must be readable and name an `https://host:port` or `http://host:port` server.
fn check_connection_info(
    path: &str,
    info: &ConnectionInfoFile,
    read_file: &dyn Fn(&str) -> Result<String, String>,
    errors: &mut Vec<String>,
) -> Option<WebhookConnection> {
    let type_path = format!("{path}.connectionInfo.type");
    let file_path = format!("{path}.connectionInfo.kubeConfigFile");
    let file = info.kube_config_file.as_deref().unwrap_or("");
    let mut fail = |error: FieldError| {
        errors.push(error.to_string());
        None
    };
    match info.type_.as_str() {
        "" => fail(FieldError::required(&type_path, "")),
        IN_CLUSTER_CONFIG if info.kube_config_file.is_some() => fail(FieldError::invalid(
            &file_path,
            file.into(),
            "can only be set when type=KubeConfigFile",
        )),
        IN_CLUSTER_CONFIG => fail(FieldError::invalid(
            &type_path,
            IN_CLUSTER_CONFIG.into(),
            "not supported by kubesim: the authz service is found through a kubeconfig file",
        )),
        KUBE_CONFIG_FILE if file.is_empty() => fail(FieldError::required(&file_path, "")),
        KUBE_CONFIG_FILE if !file.starts_with('/') => fail(FieldError::invalid(
            &file_path,
            file.into(),
            "must be an absolute path",
        )),
        KUBE_CONFIG_FILE => match read_file(file).and_then(|text| {
            let dir = Path::new(file).parent().unwrap_or(Path::new("/"));
            let read_named = |named: &Path| {
                read_file(&named.to_string_lossy())
                    .map(String::into_bytes)
                    .map_err(io::Error::other)
            };
            connection_from_kubeconfig(&text, dir, &read_named)
                .map_err(|e| format!("kubeconfig: {e}"))
        }) {
            Ok(connection) => Some(connection),
            Err(error) if error.starts_with("kubeconfig: ") => {
                fail(FieldError::invalid(&file_path, file.into(), &error))
            }
            Err(error) => {
                let detail = format!("error loading file: {error}");
                fail(FieldError::invalid(&file_path, file.into(), &detail))
            }
        },
        other => fail(FieldError::not_supported(
            &type_path,
            other.into(),
            &[IN_CLUSTER_CONFIG, KUBE_CONFIG_FILE],
        )),
    }
}

/// A Go duration (`time.ParseDuration` of whole numbers, optionally signed): whether it is
/// negative, and its size.
fn parse_go_duration(text: &str) -> Result<(bool, Duration), String> {
    let invalid = || format!("time: invalid duration {}", go_quote(text));
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if unsigned == "0" {
        return Ok((false, Duration::ZERO));
    }
    let duration = kubesim_api::time::parse_go_duration(unsigned).ok_or_else(invalid)?;
    Ok((negative && !duration.is_zero(), duration))
}

/// Go's `time.Duration.String()`: `45s`, `1m30s`, `5m0s`, `1h0m0s`, `1.5s`, `300ms`.
fn format_go_duration(negative: bool, duration: Duration) -> String {
    let sign = if negative { "-" } else { "" };
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        let (scale, unit) = match nanos {
            0..1_000 => (1, "ns"),
            1_000..1_000_000 => (1_000, "µs"),
            _ => (1_000_000, "ms"),
        };
        return format!("{sign}{}{unit}", decimal(nanos, scale));
    }
    let seconds = duration.as_secs();
    let (hours, minutes) = (seconds / 3600, seconds % 3600 / 60);
    let rest = decimal(
        u128::from(seconds % 60) * 1_000_000_000 + u128::from(duration.subsec_nanos()),
        1_000_000_000,
    );
    match (hours, minutes) {
        (0, 0) => format!("{sign}{rest}s"),
        (0, _) => format!("{sign}{minutes}m{rest}s"),
        _ => format!("{sign}{hours}h{minutes}m{rest}s"),
    }
}

/// `value / scale` with the fraction's trailing zeros cut, as Go prints durations.
fn decimal(value: u128, scale: u128) -> String {
    let (whole, fraction) = (value / scale, value % scale);
    if fraction == 0 {
        return whole.to_string();
    }
    let width = scale.to_string().len() - 1;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Where the authz service is and how its connection is secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConnection {
    /// `host:port` to dial.
    pub endpoint: String,
    /// Set for an `https://` server.
    pub tls: Option<WebhookTls>,
}

/// The largest kubeconfig, CA bundle, certificate or key read: far above any real one, so a
/// wrong path (a log, a device) fails instead of filling memory.
const MAX_KUBECONFIG_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A file read whole, refused past [`MAX_KUBECONFIG_FILE_BYTES`].
fn read_bounded(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_KUBECONFIG_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_KUBECONFIG_FILE_BYTES {
        let detail = format!("larger than {MAX_KUBECONFIG_FILE_BYTES} bytes");
        return Err(io::Error::other(detail));
    }
    Ok(bytes)
}

/// [`connection_from_kubeconfig`] of the file at `path` (`--authorization-webhook-config-file`),
/// its relative paths relative to its directory, as client-go resolves them.
pub fn load_connection(path: &Path) -> Result<WebhookConnection, String> {
    let bytes = read_bounded(path).map_err(|e| e.to_string())?;
    let yaml = String::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    connection_from_kubeconfig(&yaml, dir, &read_bounded)
}

/// The authz service's connection from a webhook kubeconfig: the endpoint of the current
/// context's cluster ([`endpoint_from_kubeconfig`]) and, for an `https://` server, its TLS
/// settings as client-go reads them (`certificate-authority` or `certificate-authority-data`,
/// `tls-server-name`, the user's `client-certificate(-data)` and `client-key(-data)`); the
/// files it names are read by `read_file`, relative paths under `dir`.
pub fn connection_from_kubeconfig(
    yaml: &str,
    dir: &Path,
    read_file: &dyn Fn(&Path) -> io::Result<Vec<u8>>,
) -> Result<WebhookConnection, String> {
    let config: Kubeconfig =
        yaml_serde::from_str(yaml).map_err(|e| format!("invalid kubeconfig: {e}"))?;
    let server = &current_cluster(&config)?.server;
    let endpoint = endpoint_from_server(server)?;
    if !server.starts_with("https://") {
        return Ok(WebhookConnection {
            endpoint,
            tls: None,
        });
    }
    let rest = RestConfig::parse(yaml, dir, read_file).map_err(|e| e.message)?;
    // client-go picks the first context when none is current; kubesim the only cluster. A
    // file where the two differ is ambiguous, so it is refused rather than half used.
    if rest.server.addr != endpoint {
        return Err("no current-context is set and the contexts name another cluster".into());
    }
    if rest.token.is_some() {
        return Err(
            "a bearer token is not supported: the authz service authenticates \
                    no caller by token; use client-certificate and client-key"
                .into(),
        );
    }
    let tls = WebhookTls::new(rest)?;
    Ok(WebhookConnection {
        endpoint,
        tls: Some(tls),
    })
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Kubeconfig {
    #[serde(rename = "current-context")]
    current_context: String,
    clusters: Vec<NamedCluster>,
    contexts: Vec<NamedContext>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct NamedCluster {
    name: String,
    cluster: Cluster,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Cluster {
    server: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct NamedContext {
    name: String,
    context: Context,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Context {
    cluster: String,
}

/// The authz service's `host:port` from a webhook kubeconfig: the `server` of the current
/// context's cluster (of the only cluster when there is no current context), which must be
/// `https://host:port` (TLS) or `http://host:port` (plain gRPC). Reads no other file: the
/// TLS settings are [`connection_from_kubeconfig`]'s.
pub fn endpoint_from_kubeconfig(yaml: &str) -> Result<String, String> {
    let config: Kubeconfig =
        yaml_serde::from_str(yaml).map_err(|e| format!("invalid kubeconfig: {e}"))?;
    let cluster = current_cluster(&config)?;
    endpoint_from_server(&cluster.server)
}

fn current_cluster(config: &Kubeconfig) -> Result<&Cluster, String> {
    if config.current_context.is_empty() {
        return match config.clusters.as_slice() {
            [only] => Ok(&only.cluster),
            [] => Err("no clusters are defined".to_string()),
            _ => Err("no current-context is set and there is more than one cluster".to_string()),
        };
    }
    let wanted = &config.current_context;
    let context = config
        .contexts
        .iter()
        .find(|c| &c.name == wanted)
        .ok_or_else(|| {
            format!(
                "context {} (the current-context) is not defined",
                go_quote(wanted)
            )
        })?;
    let cluster_name = &context.context.cluster;
    config
        .clusters
        .iter()
        .find(|c| &c.name == cluster_name)
        .map(|c| &c.cluster)
        .ok_or_else(|| {
            format!(
                "cluster {} of context {} is not defined",
                go_quote(cluster_name),
                go_quote(wanted)
            )
        })
}

fn endpoint_from_server(server: &str) -> Result<String, String> {
    let quoted = go_quote(server);
    if server.is_empty() {
        return Err("the cluster has no server".to_string());
    }
    let Some(rest) = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
    else {
        return Err(format!(
            "server {quoted}: must be an https://host:port or http://host:port URL"
        ));
    };
    let host_port = rest.strip_suffix('/').unwrap_or(rest);
    if host_port.contains('/') {
        return Err(format!(
            "server {quoted}: a path is not supported, the authz service answers gRPC (kubesim.authz.v1.Authorizer)"
        ));
    }
    let port = host_port.rsplit_once(':').and_then(|(host, port)| {
        let port: u16 = port.parse().ok()?;
        (!host.is_empty() && port != 0).then_some(port)
    });
    match port {
        Some(_) => Ok(host_port.to_string()),
        None => Err(format!(
            "server {quoted}: must be https://host:port or http://host:port, with a port"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_kubes_names_in_order() {
        assert_eq!(parse_modes("Node,RBAC"), Ok(vec![Mode::Node, Mode::Rbac]));
        assert_eq!(
            parse_modes("AlwaysAllow,AlwaysDeny,ABAC,RBAC,Node,Webhook"),
            Ok(vec![
                Mode::AlwaysAllow,
                Mode::AlwaysDeny,
                Mode::Abac,
                Mode::Rbac,
                Mode::Node,
                Mode::Webhook
            ])
        );
        assert_eq!(Mode::Abac.to_string(), "ABAC");
    }

    #[test]
    fn modes_refuse_unknown_repeated_and_none() {
        assert_eq!(
            parse_modes("rbac"),
            Err(r#"authorization-mode "rbac" is not a valid mode"#.into())
        );
        assert_eq!(
            parse_modes("RBAC,Node,RBAC"),
            Err(
                r#"authorization-mode ["RBAC" "Node" "RBAC"] has mode specified more than once"#
                    .into()
            )
        );
        assert_eq!(
            parse_modes(""),
            Err("at least one authorization-mode must be passed".into())
        );
        assert_eq!(
            parse_modes("RBAC, Node"),
            Err(r#"authorization-mode " Node" is not a valid mode"#.into())
        );
        assert_eq!(
            parse_modes("Foo,Foo"),
            Err(r#"[authorization-mode "Foo" is not a valid mode, authorization-mode ["Foo" "Foo"] has mode specified more than once]"#.into())
        );
    }

    const KUBECONFIG: &str = "
apiVersion: v1
kind: Config
clusters:
- name: other
  cluster:
    server: http://10.0.0.1:1
- name: authz
  cluster:
    server: http://authz.local:7443
    certificate-authority: /etc/ca.pem
users:
- name: apiserver
  user:
    client-certificate: /etc/cert.pem
contexts:
- name: webhook
  context:
    cluster: authz
    user: apiserver
current-context: webhook
";

    fn files(path: &str) -> Result<String, String> {
        match path {
            "/etc/kubesim/authz.kubeconfig" => Ok(KUBECONFIG.to_string()),
            "/etc/kubesim/https.kubeconfig" => {
                Ok(KUBECONFIG.replace("http://authz", "https://authz"))
            }
            _ => Err(format!("open {path}: no such file or directory")),
        }
    }

    fn parse(yaml: &str) -> Result<AuthorizationConfig, String> {
        parse_authorization_config_with(yaml, &files)
    }

    const GOOD: &str = "
apiVersion: apiserver.config.k8s.io/v1
kind: AuthorizationConfiguration
authorizers:
  - type: Node
    name: node
  - type: Webhook
    name: freeze.example.com
    webhook:
      timeout: 3s
      authorizedTTL: 1m30s
      unauthorizedTTL: 10s
      subjectAccessReviewVersion: v1
      matchConditionSubjectAccessReviewVersion: v1
      failurePolicy: Deny
      connectionInfo:
        type: KubeConfigFile
        kubeConfigFile: /etc/kubesim/authz.kubeconfig
  - type: RBAC
    name: rbac
  - type: Webhook
    name: fallback
    webhook:
      timeout: 30s
      cacheAuthorizedRequests: false
      subjectAccessReviewVersion: v1beta1
      failurePolicy: NoOpinion
      connectionInfo:
        type: KubeConfigFile
        kubeConfigFile: /etc/kubesim/authz.kubeconfig
";

    #[test]
    fn a_good_file_with_defaults() {
        let config = parse(GOOD).expect("valid");
        let modes: Vec<(Mode, &str)> = config
            .authorizers
            .iter()
            .map(|a| (a.mode, a.name.as_str()))
            .collect();
        assert_eq!(
            modes,
            [
                (Mode::Node, "node"),
                (Mode::Webhook, "freeze.example.com"),
                (Mode::Rbac, "rbac"),
                (Mode::Webhook, "fallback"),
            ]
        );
        assert_eq!(config.authorizers[0].webhook, None);
        assert_eq!(
            config.authorizers[1].webhook,
            Some(WebhookConfig {
                name: "freeze.example.com".into(),
                endpoint: "authz.local:7443".into(),
                tls: None,
                timeout: Duration::from_secs(3),
                authorized_ttl: Duration::from_secs(90),
                unauthorized_ttl: Duration::from_secs(10),
                failure_policy: FailurePolicy::Deny,
                cache_size: 8192,
            })
        );
        assert_eq!(
            config.authorizers[3].webhook,
            Some(WebhookConfig {
                name: "fallback".into(),
                endpoint: "authz.local:7443".into(),
                tls: None,
                timeout: Duration::from_secs(30),
                // cacheAuthorizedRequests: false; unauthorizedTTL defaults to 30 s.
                authorized_ttl: Duration::ZERO,
                unauthorized_ttl: Duration::from_secs(30),
                failure_policy: FailurePolicy::NoOpinion,
                cache_size: 8192,
            })
        );
        for version in ["v1alpha1", "v1beta1"] {
            let older = GOOD.replace(
                "apiserver.config.k8s.io/v1",
                &format!("apiserver.config.k8s.io/{version}"),
            );
            assert_eq!(parse(&older), Ok(config.clone()), "{version}");
        }
    }

    #[test]
    fn default_ttls_are_five_minutes_and_thirty_seconds() {
        let yaml = GOOD.replace(
            "      authorizedTTL: 1m30s\n      unauthorizedTTL: 10s\n",
            "      authorizedTTL: 0s\n",
        );
        let config = parse(&yaml).expect("valid");
        let webhook = config.authorizers[1].webhook.clone().expect("a webhook");
        assert_eq!(webhook.authorized_ttl, Duration::from_secs(300));
        assert_eq!(webhook.unauthorized_ttl, Duration::from_secs(30));
    }

    fn webhook_yaml(fields: &str) -> String {
        format!(
            "apiVersion: apiserver.config.k8s.io/v1
kind: AuthorizationConfiguration
authorizers:
- type: Webhook
  name: w
  webhook:
{fields}"
        )
    }

    const WEBHOOK_FIELDS: &str = "    timeout: 3s
    subjectAccessReviewVersion: v1
    failurePolicy: NoOpinion
    connectionInfo:
      type: KubeConfigFile
      kubeConfigFile: /etc/kubesim/authz.kubeconfig
";

    fn webhook_error(replace: &str, with: &str) -> String {
        assert!(WEBHOOK_FIELDS.contains(replace), "{replace}");
        parse(&webhook_yaml(&WEBHOOK_FIELDS.replace(replace, with))).expect_err("invalid")
    }

    #[test]
    fn the_minimal_webhook_is_valid() {
        let config = parse(&webhook_yaml(WEBHOOK_FIELDS)).expect("valid");
        assert_eq!(
            config.authorizers[0]
                .webhook
                .as_ref()
                .map(|w| w.name.as_str()),
            Some("w")
        );
    }

    #[test]
    fn webhook_timeouts_and_ttls() {
        assert_eq!(
            webhook_error("    timeout: 3s\n", ""),
            "authorizers[0].timeout: Required value"
        );
        assert_eq!(
            webhook_error("timeout: 3s", "timeout: 0s"),
            "authorizers[0].timeout: Required value"
        );
        assert_eq!(
            webhook_error("timeout: 3s", "timeout: 45s"),
            r#"authorizers[0].timeout: Invalid value: "45s": must be > 0s and <= 30s"#
        );
        assert_eq!(
            webhook_error("timeout: 3s", "timeout: 1m"),
            r#"authorizers[0].timeout: Invalid value: "1m0s": must be > 0s and <= 30s"#
        );
        assert_eq!(
            webhook_error("timeout: 3s", "timeout: -30s"),
            r#"authorizers[0].timeout: Invalid value: "-30s": must be > 0s and <= 30s"#
        );
        assert_eq!(
            webhook_error("timeout: 3s", "timeout: soon"),
            r#"authorizers[0].timeout: time: invalid duration "soon""#
        );
        assert_eq!(
            webhook_error("timeout: 3s", "timeout: 3s\n    authorizedTTL: -1m"),
            r#"authorizers[0].authorizedTTL: Invalid value: "-1m0s": must be > 0s"#
        );
        assert_eq!(
            webhook_error("timeout: 3s", "timeout: 3s\n    unauthorizedTTL: -500ms"),
            r#"authorizers[0].unauthorizedTTL: Invalid value: "-500ms": must be > 0s"#
        );
    }

    #[test]
    fn webhook_versions_and_failure_policy() {
        assert_eq!(
            webhook_error("    subjectAccessReviewVersion: v1\n", ""),
            "authorizers[0].subjectAccessReviewVersion: Required value"
        );
        assert_eq!(
            webhook_error(
                "subjectAccessReviewVersion: v1",
                "subjectAccessReviewVersion: v2"
            ),
            r#"authorizers[0].subjectAccessReviewVersion: Unsupported value: "v2": supported values: "v1", "v1beta1""#
        );
        assert_eq!(
            webhook_error(
                "timeout: 3s",
                "timeout: 3s\n    matchConditionSubjectAccessReviewVersion: v1beta1"
            ),
            r#"authorizers[0].matchConditionSubjectAccessReviewVersion: Unsupported value: "v1beta1": supported values: "v1""#
        );
        assert_eq!(
            webhook_error("    failurePolicy: NoOpinion\n", ""),
            "authorizers[0].failurePolicy: Required value"
        );
        assert_eq!(
            webhook_error("failurePolicy: NoOpinion", "failurePolicy: Sometimes"),
            r#"authorizers[0].failurePolicy: Unsupported value: "Sometimes": supported values: "NoOpinion", "Deny""#
        );
    }

    #[test]
    fn webhook_connection_info() {
        let connection =
            "      type: KubeConfigFile\n      kubeConfigFile: /etc/kubesim/authz.kubeconfig\n";
        assert_eq!(
            webhook_error(
                connection,
                "      kubeConfigFile: /etc/kubesim/authz.kubeconfig\n"
            ),
            "authorizers[0].connectionInfo.type: Required value"
        );
        assert_eq!(
            webhook_error("type: KubeConfigFile", "type: Magic"),
            r#"authorizers[0].connectionInfo.type: Unsupported value: "Magic": supported values: "InClusterConfig", "KubeConfigFile""#
        );
        assert_eq!(
            webhook_error(connection, "      type: KubeConfigFile\n"),
            "authorizers[0].connectionInfo.kubeConfigFile: Required value"
        );
        assert_eq!(
            webhook_error("/etc/kubesim/authz.kubeconfig", "authz.kubeconfig"),
            r#"authorizers[0].connectionInfo.kubeConfigFile: Invalid value: "authz.kubeconfig": must be an absolute path"#
        );
        assert_eq!(
            webhook_error("/etc/kubesim/authz.kubeconfig", "/nowhere"),
            r#"authorizers[0].connectionInfo.kubeConfigFile: Invalid value: "/nowhere": error loading file: open /nowhere: no such file or directory"#
        );
        assert_eq!(
            webhook_error("type: KubeConfigFile", "type: InClusterConfig"),
            r#"authorizers[0].connectionInfo.kubeConfigFile: Invalid value: "/etc/kubesim/authz.kubeconfig": can only be set when type=KubeConfigFile"#
        );
        assert_eq!(
            webhook_error(connection, "      type: InClusterConfig\n"),
            r#"authorizers[0].connectionInfo.type: Invalid value: "InClusterConfig": not supported by kubesim: the authz service is found through a kubeconfig file"#
        );
        assert_eq!(
            webhook_error(
                "/etc/kubesim/authz.kubeconfig",
                "/etc/kubesim/https.kubeconfig"
            ),
            r#"authorizers[0].connectionInfo.kubeConfigFile: Invalid value: "/etc/kubesim/https.kubeconfig": kubeconfig: invalid configuration: unable to read certificate-authority /etc/ca.pem for authz due to open /etc/ca.pem: no such file or directory"#
        );
    }

    #[test]
    fn match_conditions_are_refused() {
        let with_conditions = format!(
            "{WEBHOOK_FIELDS}    matchConditionSubjectAccessReviewVersion: v1\n    matchConditions:\n    - expression: has(request.resourceAttributes)\n"
        );
        assert_eq!(
            parse(&webhook_yaml(&with_conditions)),
            Err("authorizers[0].matchConditions: Forbidden: CEL match conditions are not supported by kubesim".into())
        );
        let without_version =
            format!("{WEBHOOK_FIELDS}    matchConditions:\n    - expression: 'true'\n");
        assert_eq!(
            parse(&webhook_yaml(&without_version)),
            Err("[authorizers[0].matchConditionSubjectAccessReviewVersion: Required value: required if match conditions are specified, authorizers[0].matchConditions: Forbidden: CEL match conditions are not supported by kubesim]".into())
        );
    }

    fn authorizers(list: &str) -> Result<AuthorizationConfig, String> {
        parse(&format!(
            "apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthorizationConfiguration\nauthorizers:\n{list}"
        ))
    }

    #[test]
    fn authorizer_types_and_names() {
        assert_eq!(
            authorizers("- name: x\n"),
            Err("authorizers[0].type: Required value".into())
        );
        assert_eq!(
            authorizers("- type: Foo\n  name: foo\n"),
            Err(r#"authorizers[0].type: Unsupported value: "Foo": supported values: "ABAC", "AlwaysAllow", "AlwaysDeny", "Node", "RBAC", "Webhook""#.into())
        );
        assert_eq!(
            authorizers("- type: RBAC\n  name: rbac\n- type: RBAC\n  name: rbac2\n"),
            Err(r#"authorizers[1].type: Duplicate value: "RBAC""#.into())
        );
        assert_eq!(
            authorizers("- type: Node\n"),
            Err("authorizers[0].name: Required value".into())
        );
        assert_eq!(
            authorizers("- type: Node\n  name: x\n- type: RBAC\n  name: x\n"),
            Err(r#"authorizers[1].name: Duplicate value: "x""#.into())
        );
        assert_eq!(
            authorizers("- type: Node\n  name: Node_1\n"),
            Err(r#"authorizers[0].name: Invalid value: "Node_1": authorizer name is invalid: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#.into())
        );
        assert_eq!(
            authorizers("- type: Webhook\n  name: w\n"),
            Err("authorizers[0].webhook: Required value: required when type=Webhook".into())
        );
        assert_eq!(
            authorizers("- type: RBAC\n  name: rbac\n  webhook: {}\n"),
            Err(r#"authorizers[0].webhook: Invalid value: "non-null": may only be specified when type=Webhook"#.into())
        );
        assert_eq!(
            authorizers(
                "- type: RBAC\n  name: rbac\n- type: Node\n  name: nodes\n- type: ABAC\n  name: abac\n"
            ),
            Err("expected name node for authorizer Node instead of nodes".into())
        );
        assert_eq!(
            authorizers("- type: AlwaysAllow\n  name: always\n- type: Node\n  name: Nodes\n"),
            Err(r#"authorizers[1].name: Invalid value: "Nodes": authorizer name is invalid: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#.into())
        );
    }

    #[test]
    fn several_errors_are_aggregated() {
        assert_eq!(
            authorizers("- type: RBAC\n- type: Foo\n- type: Webhook\n  name: w\n"),
            Err(r#"[authorizers[0].name: Required value, authorizers[1].type: Unsupported value: "Foo": supported values: "ABAC", "AlwaysAllow", "AlwaysDeny", "Node", "RBAC", "Webhook", authorizers[2].webhook: Required value: required when type=Webhook]"#.into())
        );
    }

    #[test]
    fn the_file_itself() {
        assert_eq!(
            parse(""),
            Err(
                "authorizers: Required value: at least one authorization mode must be defined"
                    .into()
            )
        );
        assert_eq!(
            parse(
                "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\nauthorizers: []\n"
            ),
            Err(
                "authorizers: Required value: at least one authorization mode must be defined"
                    .into()
            )
        );
        assert_eq!(
            parse("apiVersion: apiserver.config.k8s.io/v2\nkind: AuthorizationConfiguration\n"),
            Err(r#"failed to load AuthorizationConfiguration from file: no kind "AuthorizationConfiguration" is registered for version "apiserver.config.k8s.io/v2""#.into())
        );
        assert_eq!(
            parse("kind: AuthorizationConfiguration\n"),
            Err("failed to load AuthorizationConfiguration from file: Object 'apiVersion' is missing".into())
        );
        let unknown = parse("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\nauthorizer: []\n")
            .expect_err("unknown field");
        assert!(
            unknown.starts_with(
                "failed to load AuthorizationConfiguration from file: unknown field `authorizer`"
            ),
            "{unknown}"
        );
    }

    #[test]
    fn kubeconfig_endpoints() {
        assert_eq!(
            endpoint_from_kubeconfig(KUBECONFIG),
            Ok("authz.local:7443".into())
        );
        let single = "clusters:\n- name: a\n  cluster:\n    server: http://127.0.0.1:9000/\n";
        assert_eq!(
            endpoint_from_kubeconfig(single),
            Ok("127.0.0.1:9000".into())
        );
        let ipv6 = "clusters:\n- name: a\n  cluster:\n    server: http://[::1]:9000\n";
        assert_eq!(endpoint_from_kubeconfig(ipv6), Ok("[::1]:9000".into()));
        let server =
            |url: &str| endpoint_from_kubeconfig(&single.replace("http://127.0.0.1:9000/", url));
        assert_eq!(
            server("http://authz:9000/authorize"),
            Err(r#"server "http://authz:9000/authorize": a path is not supported, the authz service answers gRPC (kubesim.authz.v1.Authorizer)"#.into())
        );
        assert_eq!(
            server("http://authz"),
            Err(r#"server "http://authz": must be https://host:port or http://host:port, with a port"#.into())
        );
        assert_eq!(
            server("authz:9000"),
            Err(
                r#"server "authz:9000": must be an https://host:port or http://host:port URL"#
                    .into()
            )
        );
        assert_eq!(server("https://authz:9000"), Ok("authz:9000".into()));
        assert_eq!(
            server("https://authz:9000/authorize"),
            Err(r#"server "https://authz:9000/authorize": a path is not supported, the authz service answers gRPC (kubesim.authz.v1.Authorizer)"#.into())
        );
        assert_eq!(
            endpoint_from_kubeconfig(
                &KUBECONFIG.replace("current-context: webhook", "current-context: gone")
            ),
            Err(r#"context "gone" (the current-context) is not defined"#.into())
        );
        assert_eq!(
            endpoint_from_kubeconfig(&KUBECONFIG.replace("cluster: authz", "cluster: missing")),
            Err(r#"cluster "missing" of context "webhook" is not defined"#.into())
        );
        assert_eq!(
            endpoint_from_kubeconfig(&KUBECONFIG.replace("current-context: webhook", "")),
            Err("no current-context is set and there is more than one cluster".into())
        );
        assert_eq!(
            endpoint_from_kubeconfig("{}"),
            Err("no clusters are defined".into())
        );
    }

    /// An https kubeconfig whose CA file (`/pki/ca.crt`, relative in the file) holds `ca`.
    fn https_connection(user: &str, ca: &[u8]) -> Result<WebhookConnection, String> {
        let yaml = format!(
            "clusters:\n- name: authz\n  cluster:\n    server: https://authz:8443\n    \
             certificate-authority: ca.crt\nusers:\n- name: apiserver\n  user:\n{user}\
             contexts:\n- name: webhook\n  context:\n    cluster: authz\n    user: apiserver\n\
             current-context: webhook\n"
        );
        let read = |path: &Path| match path.to_str() {
            Some("/pki/ca.crt") => Ok(ca.to_vec()),
            _ => Err(io::Error::other(format!(
                "open {}: missing",
                path.display()
            ))),
        };
        connection_from_kubeconfig(&yaml, Path::new("/pki"), &read)
    }

    #[test]
    fn https_kubeconfigs_are_checked_before_any_call() {
        let no_user = "    {}\n";
        assert_eq!(
            https_connection("    token: secret\n", b"").map(|c| c.endpoint),
            Err(
                "a bearer token is not supported: the authz service authenticates no caller by \
                 token; use client-certificate and client-key"
                    .into()
            )
        );
        assert_eq!(
            https_connection(no_user, b"not a certificate").map(|c| c.endpoint),
            Err(
                "unable to load root certificates: no valid certificate authority data seen".into()
            )
        );
        // The files it names are read now: a missing one fails start-up, not a call.
        let missing_file = "    client-certificate: /pki/apiserver.crt\n";
        assert_eq!(
            https_connection(missing_file, b"").map(|c| c.endpoint),
            Err(
                "invalid configuration: unable to read client-cert /pki/apiserver.crt for \
                 apiserver due to open /pki/apiserver.crt: missing"
                    .into()
            )
        );
    }

    #[test]
    fn go_durations_print_as_go_prints_them() {
        let cases = [
            (Duration::from_secs(45), "45s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(300), "5m0s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(300), "300ms"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_nanos(1500), "1.5µs"),
            (Duration::from_nanos(7), "7ns"),
        ];
        for (duration, text) in cases {
            assert_eq!(format_go_duration(false, duration), text);
        }
        assert_eq!(format_go_duration(true, Duration::from_secs(30)), "-30s");
        assert_eq!(
            parse_go_duration("-30s"),
            Ok((true, Duration::from_secs(30)))
        );
        assert_eq!(parse_go_duration("0"), Ok((false, Duration::ZERO)));
        assert_eq!(
            parse_go_duration("1h30m"),
            Ok((false, Duration::from_secs(5400)))
        );
    }
}
