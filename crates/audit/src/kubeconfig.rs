//! The audit webhook's kubeconfig (`--audit-webhook-config-file`): where the batches go and
//! how the connection is secured, as client-go resolves a kubeconfig into a `rest.Config`.
//!
//! - The context is `current-context`, else the first context; a file without contexts uses
//!   its first cluster and first user.
//! - The cluster's `server` must be an `https://host[:port][/path]` URL: the batches are POSTed
//!   to that path (`/` when it has none). `tls-server-name` overrides the name checked in the
//!   server's certificate.
//! - Trust: `certificate-authority` (a PEM file) or `certificate-authority-data` (base64 of the
//!   PEM), or `insecure-skip-tls-verify: true`. kubesim trusts no system root certificates, so
//!   one of them is required.
//! - The user: a client certificate (`client-certificate(-data)` with `client-key(-data)`)
//!   and/or a bearer token (`token`, or `tokenFile`).
//! - Relative file paths are relative to the kubeconfig's directory (client-go's
//!   `ResolvePaths`). Files are read once, when the kubeconfig is loaded.
//!
//! Errors read as client-go's (`invalid configuration: no server found for cluster "audit"`)
//! where it has one; what kubesim does not support (basic auth, exec and auth-provider
//! plugins, plain `http://`) is refused with a sentence that says so.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// The largest file the kubeconfig may name (a CA bundle, a certificate, a key, a token), and
/// the largest kubeconfig: far above any real one, so a wrong path (a log, a device) fails
/// instead of filling memory.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// What is wrong with a kubeconfig, in one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct KubeconfigError {
    pub message: String,
}

impl KubeconfigError {
    fn new(message: impl Into<String>) -> KubeconfigError {
        KubeconfigError {
            message: message.into(),
        }
    }

    /// A failed check of the configuration, prefixed as client-go prefixes them.
    fn invalid(detail: impl std::fmt::Display) -> KubeconfigError {
        KubeconfigError::new(format!("invalid configuration: {detail}"))
    }
}

/// What the kubeconfig says of the webhook: the part of client-go's `rest.Config` kubesim
/// uses.
#[derive(Clone, PartialEq, Eq)]
pub struct RestConfig {
    pub server: Server,
    /// The name sent in SNI and checked in the server's certificate: `tls-server-name`, else
    /// the server's host.
    pub server_name: String,
    pub trust: Trust,
    pub client_certificate: Option<ClientCertificate>,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: Option<String>,
}

/// Where the batches are POSTed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// `https://host[:port][/path]`, as written, for messages.
    pub url: String,
    /// `host:port` to dial (443 when the URL has no port).
    pub addr: String,
    /// The `Host` header: the URL's `host[:port]`.
    pub authority: String,
    /// The request target: the URL's path (`/` when it has none) and query.
    pub path_and_query: String,
}

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The PEM bundle of `certificate-authority` or `certificate-authority-data`: exactly
    /// these CAs are trusted.
    CertificateAuthority(Vec<u8>),
    /// `insecure-skip-tls-verify: true`: any certificate is accepted (its handshake
    /// signature is still checked, so the connection is encrypted, only not authenticated).
    InsecureSkipTlsVerify,
}

/// The client certificate and its key, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    pub certificate_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for RestConfig {
    /// Credentials stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestConfig")
            .field("server", &self.server)
            .field("server_name", &self.server_name)
            .field("trust", &self.trust)
            .field("client_certificate", &self.client_certificate.is_some())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientCertificate(<redacted>)")
    }
}

impl RestConfig {
    /// Reads the kubeconfig at `path` and the files it names.
    pub fn load(path: &Path) -> Result<RestConfig, KubeconfigError> {
        let bytes = read_bounded(path)
            .map_err(|e| KubeconfigError::new(format!("error loading {}: {e}", path.display())))?;
        let yaml = String::from_utf8(bytes).map_err(|_| {
            KubeconfigError::new(format!("error loading {}: not UTF-8", path.display()))
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        RestConfig::parse(&yaml, dir, &read_bounded)
    }

    /// Parses a kubeconfig whose relative paths are relative to `dir`; `read_file` reads the
    /// files it names (the seam tests use).
    pub fn parse(
        yaml: &str,
        dir: &Path,
        read_file: &dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
    ) -> Result<RestConfig, KubeconfigError> {
        let file: File = yaml_serde::from_str(yaml)
            .map_err(|e| KubeconfigError::new(format!("invalid kubeconfig: {e}")))?;
        let (cluster_name, cluster, user_name, user) = file.selected()?;
        let files = Files { dir, read_file };
        let server = parse_server(cluster_name, &cluster.server)?;
        let server_name = match cluster.tls_server_name.as_str() {
            "" => host_of(&server.authority),
            name => name.to_string(),
        };
        Ok(RestConfig {
            server,
            server_name,
            trust: trust(cluster_name, cluster, &files)?,
            client_certificate: client_certificate(user_name, user, &files)?,
            token: token(user_name, user, &files)?,
        })
    }

    /// The rustls configuration for the webhook: the trusted CAs (or none checked), the client
    /// certificate if any, ALPN `http/1.1` (kube's webhook clients speak HTTP/1.1).
    pub fn tls_client_config(&self) -> Result<Arc<rustls::ClientConfig>, KubeconfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| KubeconfigError::new(format!("TLS protocol versions: {e}")))?;
        let builder = match &self.trust {
            Trust::CertificateAuthority(pem) => builder.with_root_certificates(root_store(pem)?),
            Trust::InsecureSkipTlsVerify => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider))),
        };
        let mut config = match &self.client_certificate {
            None => builder.with_no_client_auth(),
            Some(client) => {
                let (chain, key) = client_identity(client)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| KubeconfigError::new(format!("client certificate and key: {e}")))?
            }
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// A file read whole, refused past [`MAX_FILE_BYTES`] (a kubeconfig, or a file it names).
pub fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_FILE_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct File {
    #[serde(rename = "current-context")]
    current_context: String,
    clusters: Vec<NamedCluster>,
    contexts: Vec<NamedContext>,
    users: Vec<NamedUser>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct NamedCluster {
    name: String,
    cluster: Cluster,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct Cluster {
    server: String,
    certificate_authority: String,
    certificate_authority_data: String,
    insecure_skip_tls_verify: bool,
    tls_server_name: String,
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
    user: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct NamedUser {
    name: String,
    user: User,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct User {
    client_certificate: String,
    client_certificate_data: String,
    client_key: String,
    client_key_data: String,
    token: String,
    #[serde(rename = "tokenFile")]
    token_file: String,
    username: String,
    password: String,
    exec: Option<IgnoredAny>,
    auth_provider: Option<IgnoredAny>,
}

/// The empty user of a context that names none: no credentials.
static NO_USER: User = User {
    client_certificate: String::new(),
    client_certificate_data: String::new(),
    client_key: String::new(),
    client_key_data: String::new(),
    token: String::new(),
    token_file: String::new(),
    username: String::new(),
    password: String::new(),
    exec: None,
    auth_provider: None,
};

impl File {
    /// The cluster and user of the context in use, with their names.
    fn selected(&self) -> Result<(&str, &Cluster, &str, &User), KubeconfigError> {
        let context = if self.current_context.is_empty() {
            self.contexts.first()
        } else {
            let wanted = &self.current_context;
            let found = self.contexts.iter().find(|c| &c.name == wanted);
            Some(found.ok_or_else(|| {
                KubeconfigError::invalid(format!(
                    "context was not found for specified context: {wanted}"
                ))
            })?)
        };
        let Some(context) = context else {
            return self.without_contexts();
        };
        let (name, wanted) = (&context.name, &context.context);
        let cluster = self
            .clusters
            .iter()
            .find(|c| c.name == wanted.cluster)
            .ok_or_else(|| {
                KubeconfigError::invalid(format!(
                    "cluster {:?} was not found for context {name:?}",
                    wanted.cluster
                ))
            })?;
        if wanted.user.is_empty() {
            return Ok((&cluster.name, &cluster.cluster, "", &NO_USER));
        }
        let user = self
            .users
            .iter()
            .find(|u| u.name == wanted.user)
            .ok_or_else(|| {
                KubeconfigError::invalid(format!(
                    "user {:?} was not found for context {name:?}",
                    wanted.user
                ))
            })?;
        Ok((&cluster.name, &cluster.cluster, &user.name, &user.user))
    }

    /// A kubeconfig without contexts: its first cluster and first user.
    fn without_contexts(&self) -> Result<(&str, &Cluster, &str, &User), KubeconfigError> {
        let cluster = self.clusters.first().ok_or_else(|| {
            KubeconfigError::invalid("no configuration has been provided: no clusters")
        })?;
        let (user_name, user) = match self.users.first() {
            Some(user) => (user.name.as_str(), &user.user),
            None => ("", &NO_USER),
        };
        Ok((&cluster.name, &cluster.cluster, user_name, user))
    }
}

/// `https://host[:port][/path][?query]`, nothing else.
fn parse_server(cluster: &str, server: &str) -> Result<Server, KubeconfigError> {
    if server.is_empty() {
        return Err(KubeconfigError::invalid(format!(
            "no server found for cluster {cluster:?}"
        )));
    }
    let bad = |why: &str| KubeconfigError::new(format!("server {server:?}: {why}"));
    let uri: hyper::Uri = server
        .parse()
        .map_err(|e| bad(&format!("not a URL: {e}")))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") => {
            return Err(bad(
                "the audit webhook must be https://: kubesim sends audit events over TLS only",
            ));
        }
        _ => return Err(bad("must be an https://host[:port][/path] URL")),
    }
    let authority = uri
        .authority()
        .filter(|a| !a.host().is_empty())
        .ok_or_else(|| bad("no host"))?;
    if authority.as_str().contains('@') {
        return Err(bad("user info in the URL is not supported"));
    }
    let path = match uri.path() {
        "" => "/",
        path => path,
    };
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    Ok(Server {
        url: server.to_string(),
        addr: format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(443)
        ),
        authority: authority.as_str().to_string(),
        path_and_query,
    })
}

/// The host of `host[:port]`, an IPv6 address without its brackets.
fn host_of(authority: &str) -> String {
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => host,
        _ => authority,
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// Reads the files the kubeconfig names, relative to its directory.
struct Files<'a> {
    dir: &'a Path,
    read_file: &'a dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
}

impl Files<'_> {
    fn read(&self, path: &str) -> std::io::Result<Vec<u8>> {
        let path = PathBuf::from(path);
        let resolved = if path.is_relative() {
            self.dir.join(path)
        } else {
            path
        };
        (self.read_file)(&resolved)
    }

    /// The bytes of a `<field>` file or the base64 of a `<field>-data`, at most one of them
    /// (client-go refuses both). `None` when neither is set.
    fn file_or_data(
        &self,
        field: &str,
        path: &str,
        data: &str,
        owner: &str,
    ) -> Result<Option<Vec<u8>>, KubeconfigError> {
        match (path.is_empty(), data.is_empty()) {
            (true, true) => Ok(None),
            (false, false) => Err(KubeconfigError::invalid(format!(
                "{field}-data and {field} are both specified for {owner}. {field}-data will override."
            ))),
            (false, true) => self.read(path).map(Some).map_err(|e| {
                KubeconfigError::invalid(format!(
                    "unable to read {field} {path} for {owner} due to {e}"
                ))
            }),
            (true, false) => base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map(Some)
                .map_err(|e| {
                    KubeconfigError::new(format!("{field}-data for {owner}: not base64: {e}"))
                }),
        }
    }
}

fn trust(name: &str, cluster: &Cluster, files: &Files) -> Result<Trust, KubeconfigError> {
    let ca = files.file_or_data(
        "certificate-authority",
        &cluster.certificate_authority,
        &cluster.certificate_authority_data,
        name,
    )?;
    match (ca, cluster.insecure_skip_tls_verify) {
        (Some(_), true) => Err(KubeconfigError::new(format!(
            "cluster {name:?}: specifying a root certificates file with the insecure flag is not allowed"
        ))),
        (Some(pem), false) => Ok(Trust::CertificateAuthority(pem)),
        (None, true) => Ok(Trust::InsecureSkipTlsVerify),
        (None, false) => Err(KubeconfigError::new(format!(
            "cluster {name:?}: neither certificate-authority nor certificate-authority-data is \
             set, and kubesim trusts no system root certificates: set one of them to the CA \
             that signed the webhook's serving certificate, or set insecure-skip-tls-verify: true"
        ))),
    }
}

fn client_certificate(
    name: &str,
    user: &User,
    files: &Files,
) -> Result<Option<ClientCertificate>, KubeconfigError> {
    if user.exec.is_some() || user.auth_provider.is_some() {
        return Err(KubeconfigError::new(format!(
            "user {name:?}: exec and auth-provider plugins are not supported by kubesim's \
             audit webhook client: use a client certificate or a token"
        )));
    }
    if !user.username.is_empty() || !user.password.is_empty() {
        return Err(KubeconfigError::new(format!(
            "user {name:?}: basic authentication (username, password) is not supported by \
             kubesim's audit webhook client: use a client certificate or a token"
        )));
    }
    // kubeconfig names the files `client-certificate`, client-go's messages `client-cert`.
    let certificate = files.file_or_data(
        "client-cert",
        &user.client_certificate,
        &user.client_certificate_data,
        name,
    )?;
    let key = files.file_or_data("client-key", &user.client_key, &user.client_key_data, name)?;
    match (certificate, key) {
        (None, None) => Ok(None),
        (Some(certificate_pem), Some(key_pem)) => Ok(Some(ClientCertificate {
            certificate_pem,
            key_pem,
        })),
        (Some(_), None) => Err(KubeconfigError::invalid(format!(
            "client-key-data or client-key must be specified for {name} to use the clientCert authentication method."
        ))),
        (None, Some(_)) => Err(KubeconfigError::invalid(format!(
            "client-cert-data or client-cert must be specified for {name} to use the clientCert authentication method."
        ))),
    }
}

fn token(name: &str, user: &User, files: &Files) -> Result<Option<String>, KubeconfigError> {
    if !user.token.is_empty() {
        return Ok(Some(user.token.clone()));
    }
    if user.token_file.is_empty() {
        return Ok(None);
    }
    let bytes = files.read(&user.token_file).map_err(|e| {
        KubeconfigError::new(format!(
            "user {name:?}: unable to read tokenFile {}: {e}",
            user.token_file
        ))
    })?;
    let token = String::from_utf8_lossy(&bytes).trim().to_string();
    if token.is_empty() {
        return Err(KubeconfigError::new(format!(
            "user {name:?}: tokenFile {} is empty",
            user.token_file
        )));
    }
    Ok(Some(token))
}

/// The certificates of a PEM bundle, failing as client-go's `rootCertPool` does.
fn root_store(pem: &[u8]) -> Result<rustls::RootCertStore, KubeconfigError> {
    let unable = |detail: String| {
        KubeconfigError::new(format!("unable to load root certificates: {detail}"))
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|_| unable("unable to parse bytes as PEM block".into()))?;
        roots
            .add(cert)
            .map_err(|e| unable(format!("failed to parse certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(unable("no valid certificate authority data seen".into()));
    }
    Ok(roots)
}

fn client_identity(
    client: &ClientCertificate,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), KubeconfigError> {
    let chain = CertificateDer::pem_slice_iter(&client.certificate_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| KubeconfigError::new(format!("client certificate: {e}")))?;
    if chain.is_empty() {
        return Err(KubeconfigError::new(
            "client certificate: no PEM certificate in it",
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&client.key_pem)
        .map_err(|e| KubeconfigError::new(format!("client key: no usable private key: {e}")))?;
    Ok((chain, key))
}

/// `insecure-skip-tls-verify`: any certificate, any name. The handshake's signatures are
/// still verified with the provider's algorithms, so the session is keyed to the certificate
/// the server showed.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const KUBECONFIG: &str = "
apiVersion: v1
kind: Config
current-context: audit
clusters:
- name: other
  cluster:
    server: https://other.example:1
    insecure-skip-tls-verify: true
- name: sink
  cluster:
    server: https://audit.example:8443/audit?x=1
    certificate-authority: ca.crt
contexts:
- name: unused
  context: {cluster: other}
- name: audit
  context: {cluster: sink, user: apiserver}
users:
- name: apiserver
  user:
    client-certificate: /etc/pki/client.crt
    client-key: client.key
    token: s3cret
";

    /// Files as the seam reads them: only these paths exist.
    fn files(path: &Path) -> std::io::Result<Vec<u8>> {
        let known: HashMap<&str, &str> = HashMap::from([
            ("/etc/audit/ca.crt", "CA PEM"),
            ("/etc/pki/client.crt", "CERT PEM"),
            ("/etc/audit/client.key", "KEY PEM"),
            ("/etc/audit/token", "  from-file\n"),
        ]);
        let name = path.to_str().unwrap_or_default();
        known
            .get(name)
            .map(|text| text.as_bytes().to_vec())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }

    fn parse(yaml: &str) -> Result<RestConfig, String> {
        RestConfig::parse(yaml, Path::new("/etc/audit"), &files).map_err(|e| e.message)
    }

    fn error(yaml: &str) -> String {
        parse(yaml).expect_err("an invalid kubeconfig")
    }

    fn single(cluster: &str, user: &str) -> String {
        format!("clusters:\n- name: c\n  cluster:\n{cluster}users:\n- name: u\n  user:\n{user}")
    }

    #[test]
    fn the_current_context_picks_cluster_and_user() {
        let config = parse(KUBECONFIG).unwrap();
        assert_eq!(
            config.server,
            Server {
                url: "https://audit.example:8443/audit?x=1".into(),
                addr: "audit.example:8443".into(),
                authority: "audit.example:8443".into(),
                path_and_query: "/audit?x=1".into(),
            }
        );
        assert_eq!(config.server_name, "audit.example");
        assert_eq!(
            config.trust,
            Trust::CertificateAuthority(b"CA PEM".to_vec())
        );
        assert_eq!(
            config.client_certificate,
            Some(ClientCertificate {
                certificate_pem: b"CERT PEM".to_vec(),
                key_pem: b"KEY PEM".to_vec(),
            })
        );
        assert_eq!(config.token.as_deref(), Some("s3cret"));
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("KEY PEM"),
            "{debug}"
        );
    }

    #[test]
    fn without_current_context_the_first_context_or_cluster() {
        let first = parse(&KUBECONFIG.replace("current-context: audit", "")).unwrap();
        assert_eq!(
            (first.server.addr.as_str(), &first.trust, &first.token),
            ("other.example:1", &Trust::InsecureSkipTlsVerify, &None)
        );
        let data = base64::engine::general_purpose::STANDARD.encode("CA FROM DATA");
        let yaml = single(
            &format!(
                "    server: https://[::1]\n    certificate-authority-data: {data}\n    \
                 tls-server-name: sink.local\n"
            ),
            "    tokenFile: token\n",
        );
        let config = parse(&yaml).unwrap();
        assert_eq!(
            (
                config.server.addr.as_str(),
                config.server.path_and_query.as_str()
            ),
            ("[::1]:443", "/")
        );
        assert_eq!(config.server_name, "sink.local");
        assert_eq!(
            config.trust,
            Trust::CertificateAuthority(b"CA FROM DATA".to_vec())
        );
        assert_eq!(config.token.as_deref(), Some("from-file"));
        let no_name = parse(&yaml.replace("    tls-server-name: sink.local\n", "")).unwrap();
        assert_eq!(no_name.server_name, "::1");
    }

    #[test]
    fn servers_must_be_https_urls() {
        let with = |server: &str| {
            error(&single(
                &format!("    server: {server}\n    insecure-skip-tls-verify: true\n"),
                "    {}\n",
            ))
        };
        assert_eq!(
            error(&single("    insecure-skip-tls-verify: true\n", "    {}\n")),
            "invalid configuration: no server found for cluster \"c\""
        );
        assert_eq!(
            with("http://sink:80"),
            "server \"http://sink:80\": the audit webhook must be https://: kubesim sends \
             audit events over TLS only"
        );
        assert_eq!(
            with("sink:80"),
            "server \"sink:80\": must be an https://host[:port][/path] URL"
        );
        assert_eq!(
            with("https://u:p@sink"),
            "server \"https://u:p@sink\": user info in the URL is not supported"
        );
        assert!(with("https://bad host").starts_with("server \"https://bad host\": not a URL"));
    }

    #[test]
    fn trust_is_a_ca_or_an_explicit_skip() {
        let ca = "    server: https://sink\n    certificate-authority: ca.crt\n";
        assert_eq!(
            error(&single(
                &format!("{ca}    certificate-authority-data: Q0E=\n"),
                "    {}\n"
            )),
            "invalid configuration: certificate-authority-data and certificate-authority are \
             both specified for c. certificate-authority-data will override."
        );
        assert_eq!(
            error(&single(
                &format!("{ca}    insecure-skip-tls-verify: true\n"),
                "    {}\n"
            )),
            "cluster \"c\": specifying a root certificates file with the insecure flag is not \
             allowed"
        );
        assert!(
            error(&single("    server: https://sink\n", "    {}\n")).starts_with(
                "cluster \"c\": neither certificate-authority nor certificate-authority-data is set"
            )
        );
        assert_eq!(
            error(&single(&ca.replace("ca.crt", "missing.crt"), "    {}\n")),
            "invalid configuration: unable to read certificate-authority missing.crt for c due \
             to entity not found"
        );
        assert!(
            error(&single(
                "    server: https://sink\n    certificate-authority-data: '%%%'\n",
                "    {}\n"
            ))
            .starts_with("certificate-authority-data for c: not base64: ")
        );
    }

    #[test]
    fn users_need_a_key_with_a_certificate_and_supported_methods() {
        let cluster = "    server: https://sink\n    insecure-skip-tls-verify: true\n";
        assert_eq!(
            error(&single(
                cluster,
                "    client-certificate: /etc/pki/client.crt\n"
            )),
            "invalid configuration: client-key-data or client-key must be specified for u to \
             use the clientCert authentication method."
        );
        assert_eq!(
            error(&single(cluster, "    client-key: nowhere.key\n")),
            "invalid configuration: unable to read client-key nowhere.key for u due to entity \
             not found"
        );
        assert!(
            error(&single(cluster, "    username: admin\n    password: pw\n"))
                .starts_with("user \"u\": basic authentication (username, password) is not")
        );
        assert!(
            error(&single(cluster, "    exec: {command: get-token}\n"))
                .starts_with("user \"u\": exec and auth-provider plugins are not supported")
        );
        assert_eq!(
            error(&single(cluster, "    tokenFile: nowhere\n")),
            "user \"u\": unable to read tokenFile nowhere: entity not found"
        );
    }

    #[test]
    fn contexts_must_name_what_exists() {
        assert_eq!(
            error(&KUBECONFIG.replace("current-context: audit", "current-context: gone")),
            "invalid configuration: context was not found for specified context: gone"
        );
        assert_eq!(
            error(&KUBECONFIG.replace("{cluster: sink, user", "{cluster: gone, user")),
            "invalid configuration: cluster \"gone\" was not found for context \"audit\""
        );
        assert_eq!(
            error(&KUBECONFIG.replace("user: apiserver}", "user: nobody}")),
            "invalid configuration: user \"nobody\" was not found for context \"audit\""
        );
        assert_eq!(
            error("users: []"),
            "invalid configuration: no configuration has been provided: no clusters"
        );
        assert!(error("clusters: 7").starts_with("invalid kubeconfig: "));
    }

    #[test]
    fn tls_configurations_build_from_real_pem() {
        let ca = rcgen::generate_simple_self_signed(vec!["sink".into()]).unwrap();
        let client = rcgen::generate_simple_self_signed(vec!["apiserver".into()]).unwrap();
        let mut config = parse(KUBECONFIG).unwrap();
        config.trust = Trust::CertificateAuthority(ca.cert.pem().into_bytes());
        config.client_certificate = Some(ClientCertificate {
            certificate_pem: client.cert.pem().into_bytes(),
            key_pem: client.signing_key.serialize_pem().into_bytes(),
        });
        let tls = config.tls_client_config().unwrap();
        assert_eq!(tls.alpn_protocols, [b"http/1.1".to_vec()]);
        assert!(tls.client_auth_cert_resolver.has_certs());

        config.trust = Trust::InsecureSkipTlsVerify;
        config.client_certificate = None;
        assert!(config.tls_client_config().is_ok());

        config.trust = Trust::CertificateAuthority(b"not pem".to_vec());
        assert_eq!(
            config.tls_client_config().unwrap_err().message,
            "unable to load root certificates: no valid certificate authority data seen"
        );
        config.trust = Trust::CertificateAuthority(ca.cert.pem().into_bytes());
        config.client_certificate = Some(ClientCertificate {
            certificate_pem: client.cert.pem().into_bytes(),
            key_pem: b"garbage".to_vec(),
        });
        assert!(
            config
                .tls_client_config()
                .unwrap_err()
                .message
                .starts_with("client key: no usable private key")
        );
    }

    #[test]
    fn load_reads_relative_paths_from_the_kubeconfig_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), "CA PEM").unwrap();
        let yaml = single(
            "    server: https://sink\n    certificate-authority: ca.crt\n",
            "    token: t\n",
        );
        let path = dir.path().join("audit.kubeconfig");
        std::fs::write(&path, yaml).unwrap();
        let config = RestConfig::load(&path).unwrap();
        assert_eq!(
            config.trust,
            Trust::CertificateAuthority(b"CA PEM".to_vec())
        );
        let missing = dir.path().join("missing");
        assert!(
            RestConfig::load(&missing)
                .unwrap_err()
                .message
                .starts_with(&format!("error loading {}: ", missing.display()))
        );
    }
}
