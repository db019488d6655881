//! What the authentication and authorization end-to-end tests share: identities, and the
//! means to present them to a real `kubesim apiserver`.
//!
//! - [`Ca`]: certificate authorities (kubesim's own, from `kubesim certs`, or a fresh one) and
//!   the client certificates they sign ([`ClientCert`]): valid, expired, for a proxy.
//! - [`Signer`] and the `forge_*` functions: ServiceAccount tokens built here with ring, apart
//!   from the server's code, as kube signs them (RS256, kube's `kid`), and forged ones
//!   (`alg: none`, HS256 keyed with the public key).
//! - [`Credential`] and [`call`]: one HTTP request with curl as an identity; its [`Reply`]
//!   (status code, body, headers).
//! - [`kubeconfig`] and [`Kubectl`]: a kubeconfig per identity, for real kubectl contexts, on
//!   every installed kubectl version ([`every_kubectl`]).
//! - [`OidcIssuer`] (`kubesim oidc-issuer`) and [`AuthzService`] (`kubesim authz`): the other
//!   processes the tests run, killed on drop.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, date_time_ymd,
};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::apiserver::{ApiServer, Output, free_port, kubesim, run};
use crate::{e2e_required, find_on_path, wait_for};

/// The API server's ServiceAccount signing key (`--service-account-signing-key-file`), a
/// PKCS#1 RSA key made for these tests with `openssl genrsa`, and its public half
/// (`--service-account-key-file`).
pub const SA_SIGNING_KEY_PEM: &str = include_str!("../data/sa-signing.key");
pub const SA_PUBLIC_KEY_PEM: &str = include_str!("../data/sa-signing.pub");
/// A PKCS#8 RSA key the server does not know: tokens signed with it must be refused.
pub const OTHER_KEY_PEM: &str = include_str!("../data/sa-other.key");

/// How long a process the tests start (the OIDC issuer, the authz service) may take to serve.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// The kubectl minor versions looked for beside the default kubectl.
const KUBECTL_MINORS: std::ops::RangeInclusive<u32> = 20..=40;
/// Separates the body from the status code and headers in curl's output.
const CURL_MARKER: &str = "\n--kubesim-curl--";

// ---------------------------------------------------------------------------------------------
// Certificates

/// A client certificate and its key, on disk for curl and kubectl.
#[derive(Debug, Clone)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The certificate's DER, whose SHA-256 is kube's `X509SHA256=` credential id.
    pub der: Vec<u8>,
}

impl ClientCert {
    /// kube's `authentication.kubernetes.io/credential-id` for this certificate.
    pub fn credential_id(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.der);
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        format!("X509SHA256={hex}")
    }
}

/// When a client certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// rcgen's default, 1975 to 4096.
    Current,
    /// 2000 to 2001: long expired.
    Expired,
}

/// A CA that signs client certificates.
pub struct Ca {
    /// The CA certificate, PEM.
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// kubesim's CA as `kubesim certs` wrote it into `dir` (CN `kubesim-ca`, the subject of
    /// `kubesim_certs`' CA): what the server's `--client-ca-file` trusts.
    pub fn kubesim(dir: &Path) -> anyhow::Result<Ca> {
        let pem = std::fs::read_to_string(dir.join("ca.crt"))?;
        let key = KeyPair::from_pem(&std::fs::read_to_string(dir.join("ca.key"))?)
            .context("reading kubesim's ca.key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "kubesim-ca");
        Ok(Ca {
            pem,
            issuer: Issuer::new(params, key),
        })
    }

    /// A fresh self-signed CA.
    pub fn new(common_name: &str) -> anyhow::Result<Ca> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Writes the CA certificate to `path`.
    pub fn write(&self, path: &Path) -> anyhow::Result<PathBuf> {
        std::fs::write(path, &self.pem)?;
        Ok(path.to_path_buf())
    }

    /// A client certificate (clientAuth) for `common_name` in `orgs` (at most two), written
    /// as `<dir>/<stem>.crt` and `.key`.
    pub fn client_cert(
        &self,
        dir: &Path,
        stem: &str,
        common_name: &str,
        orgs: &[&str],
        validity: Validity,
    ) -> anyhow::Result<ClientCert> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        // rcgen keeps one value per attribute type; O's OID as a custom type is a second O.
        let org_types = [
            DnType::OrganizationName,
            DnType::CustomDnType(vec![2, 5, 4, 10]),
        ];
        ensure!(orgs.len() <= org_types.len(), "at most two O");
        for (org, ty) in orgs.iter().zip(org_types) {
            params.distinguished_name.push(ty, *org);
        }
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if validity == Validity::Expired {
            params.not_before = date_time_ymd(2000, 1, 1);
            params.not_after = date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let cert_path = dir.join(format!("{stem}.crt"));
        let key_path = dir.join(format!("{stem}.key"));
        std::fs::write(&cert_path, cert.pem())?;
        std::fs::write(&key_path, key.serialize_pem())?;
        Ok(ClientCert {
            cert: cert_path,
            key: key_path,
            der: cert.der().to_vec(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

/// The DER inside the first PEM block of `pem`.
fn pem_der(pem: &str) -> anyhow::Result<Vec<u8>> {
    let body: String = pem
        .lines()
        .skip_while(|line| !line.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|line| !line.starts_with("-----END"))
        .collect();
    Ok(STANDARD.decode(body)?)
}

/// kube's `keyIDFromPublicKey`: base64url of the SHA-256 of the DER SubjectPublicKeyInfo.
pub fn key_id(public_key_pem: &str) -> anyhow::Result<String> {
    let spki = pem_der(public_key_pem)?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &spki);
    Ok(URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

/// Seconds since the epoch, now.
pub fn now_secs() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

/// Signs JWTs RS256, as kube-apiserver signs ServiceAccount tokens.
pub struct Signer {
    key: RsaKeyPair,
    /// The header's `kid`.
    kid: String,
}

impl Signer {
    /// The server's own key, with kube's `kid` for it: tokens it signs are genuine.
    pub fn server() -> anyhow::Result<Signer> {
        let der = pem_der(SA_SIGNING_KEY_PEM)?;
        Ok(Signer {
            key: RsaKeyPair::from_der(&der).map_err(|e| anyhow::anyhow!("{e}"))?,
            kid: key_id(SA_PUBLIC_KEY_PEM)?,
        })
    }

    /// Another RSA key, claiming the server key's `kid`: a forgery that only the signature
    /// gives away.
    pub fn other() -> anyhow::Result<Signer> {
        let der = pem_der(OTHER_KEY_PEM)?;
        Ok(Signer {
            key: RsaKeyPair::from_pkcs8(&der).map_err(|e| anyhow::anyhow!("{e}"))?,
            kid: key_id(SA_PUBLIC_KEY_PEM)?,
        })
    }

    pub fn sign(&self, claims: &Value) -> anyhow::Result<String> {
        let header = json!({"alg": "RS256", "kid": self.kid});
        let message = signing_input(&header, claims);
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
        Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// What a ServiceAccount token says, as kube's `claims.go` writes it.
#[derive(Debug, Clone)]
pub struct SaClaims {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// `iat` and `nbf`.
    pub issued_at: i64,
    /// `exp` - `iat`.
    pub lifetime_secs: i64,
}

impl SaClaims {
    pub fn to_json(&self) -> Value {
        json!({
            "aud": self.audiences,
            "exp": self.issued_at + self.lifetime_secs,
            "iat": self.issued_at,
            "iss": self.issuer,
            "jti": format!("test-{}-{}", self.name, self.issued_at),
            "kubernetes.io": {
                "namespace": self.namespace,
                "serviceaccount": {"name": self.name, "uid": self.uid},
            },
            "nbf": self.issued_at,
            "sub": format!("system:serviceaccount:{}:{}", self.namespace, self.name),
        })
    }
}

/// `alg: none`: claims with an empty signature.
pub fn forge_alg_none(claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT"});
    format!("{}.", signing_input(&header, claims))
}

/// HS256 with `secret` as the HMAC key (the server's public key PEM, in the classic
/// algorithm-confusion attack), under the server key's `kid`.
pub fn forge_hs256(claims: &Value, secret: &[u8], kid: &str) -> String {
    let header = json!({"alg": "HS256", "kid": kid, "typ": "JWT"});
    let message = signing_input(&header, claims);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, message.as_bytes());
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// The claims of a JWT, unverified.
pub fn jwt_claims(token: &str) -> anyhow::Result<Value> {
    let payload = token.split('.').nth(1).context("a JWT has three parts")?;
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?)
}

// ---------------------------------------------------------------------------------------------
// Requests

/// Who a request is made as.
#[derive(Debug, Clone)]
pub enum Credential {
    /// No credential at all.
    Anonymous,
    Bearer(String),
    Basic {
        user: String,
        password: String,
    },
    Cert(ClientCert),
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub code: u16,
    pub body: String,
    /// curl's `%{header_json}`: lower-case names, each with its list of values.
    pub headers: Value,
}

impl Reply {
    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_str(&self.body)
            .with_context(|| format!("HTTP {}: body is not JSON: {}", self.code, self.body))
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers[name.to_ascii_lowercase()][0]
            .as_str()
            .map(str::to_string)
    }

    /// Fails unless the answer is `code`.
    pub fn expect_code(&self, code: u16, what: &str) -> anyhow::Result<&Reply> {
        ensure!(
            self.code == code,
            "{what}: expected HTTP {code}, got {}: {}",
            self.code,
            self.body
        );
        Ok(self)
    }

    /// Fails unless the answer is a `Status` of `code`, `reason` and exactly `message`.
    pub fn expect_status(
        &self,
        code: u16,
        reason: &str,
        message: &str,
        what: &str,
    ) -> anyhow::Result<()> {
        self.expect_code(code, what)?;
        let status = self.json()?;
        let got = (
            status["kind"].as_str(),
            status["status"].as_str(),
            status["reason"].as_str(),
            status["code"].as_u64(),
            status["message"].as_str(),
        );
        let want = (
            Some("Status"),
            Some("Failure"),
            Some(reason),
            Some(u64::from(code)),
            Some(message),
        );
        ensure!(
            got == want,
            "{what}:\n  got    {got:?}\n  wanted {want:?}\n  body {}",
            self.body
        );
        Ok(())
    }

    /// kube's 401 body, byte for byte apart from field order.
    pub fn expect_unauthorized(&self, what: &str) -> anyhow::Result<()> {
        self.expect_code(401, what)?;
        let want = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Unauthorized", "reason": "Unauthorized", "code": 401,
        });
        ensure!(
            self.json()? == want,
            "{what}: 401 body {} is not kube's {want}",
            self.body
        );
        Ok(())
    }
}

/// Numbers the files a request writes.
static CALLS: AtomicU64 = AtomicU64::new(0);

/// Which HTTP curl speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/2, negotiated by ALPN as every client does.
    H2,
    Http1,
}

/// One request to `server` as `credential`, with curl over HTTP/2. `headers` are sent as
/// they are (`Impersonate-User`, `X-Remote-User`, ...).
pub async fn call(
    server: &ApiServer,
    credential: &Credential,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> anyhow::Result<Reply> {
    call_over(
        HttpVersion::H2,
        server,
        credential,
        method,
        path,
        body,
        headers,
    )
    .await
}

/// [`call`] over `version`.
pub async fn call_over(
    version: HttpVersion,
    server: &ApiServer,
    credential: &Credential,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> anyhow::Result<Reply> {
    let mut command = Command::new("curl");
    if version == HttpVersion::Http1 {
        command.arg("--http1.1");
    }
    command
        .args(["--silent", "--show-error", "--max-time", "20"])
        .arg("--cacert")
        .arg(server.file("ca.crt"))
        .args(["--request", method])
        .arg("--write-out")
        .arg(format!("{CURL_MARKER}%{{http_code}} %{{header_json}}"));
    match credential {
        Credential::Anonymous => {}
        Credential::Bearer(token) => {
            command
                .arg("--header")
                .arg(format!("Authorization: Bearer {token}"));
        }
        Credential::Basic { user, password } => {
            command.arg("--user").arg(format!("{user}:{password}"));
        }
        Credential::Cert(cert) => {
            command
                .arg("--cert")
                .arg(&cert.cert)
                .arg("--key")
                .arg(&cert.key);
        }
    }
    for (name, value) in headers {
        command.arg("--header").arg(format!("{name}: {value}"));
    }
    if let Some(body) = body {
        let file = server.file(&format!(
            "request-{}.json",
            CALLS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&file, body.to_string())?;
        command
            .args(["--header", "Content-Type: application/json"])
            .arg("--data-binary")
            .arg(format!("@{}", file.display()));
    }
    command.arg(server.url(path));
    let out = run(command).await?;
    ensure!(
        out.status.success(),
        "curl {method} {path} failed: {}",
        out.stderr
    );
    let (body, tail) = out
        .stdout
        .rsplit_once(CURL_MARKER)
        .with_context(|| format!("curl printed no status: {}", out.stdout))?;
    let (code, headers) = tail.split_once(' ').context("curl's write-out")?;
    Ok(Reply {
        code: code.parse().context("curl's http_code")?,
        body: body.to_string(),
        headers: serde_json::from_str(headers).context("curl's header_json")?,
    })
}

pub async fn get(server: &ApiServer, credential: &Credential, path: &str) -> anyhow::Result<Reply> {
    call(server, credential, "GET", path, None, &[]).await
}

pub async fn post(
    server: &ApiServer,
    credential: &Credential,
    path: &str,
    body: &Value,
) -> anyhow::Result<Reply> {
    call(server, credential, "POST", path, Some(body), &[]).await
}

/// The SelfSubjectReview (`kubectl auth whoami`) body.
pub fn self_subject_review() -> Value {
    json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
}

pub const SELF_SUBJECT_REVIEWS: &str = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

/// `status.userInfo` of a SelfSubjectReview made as `credential` with `headers`.
pub async fn whoami(
    server: &ApiServer,
    credential: &Credential,
    headers: &[(&str, &str)],
) -> anyhow::Result<Value> {
    let reply = call(
        server,
        credential,
        "POST",
        SELF_SUBJECT_REVIEWS,
        Some(&self_subject_review()),
        headers,
    )
    .await?;
    reply.expect_code(201, "SelfSubjectReview")?;
    Ok(reply.json()?["status"]["userInfo"].clone())
}

// ---------------------------------------------------------------------------------------------
// kubectl

/// Writes a kubeconfig whose only context is `name`, acting as `credential` against
/// `server`; its path.
///
/// kubectl cannot act as nobody: with a kubeconfig user that has no credential it asks for a
/// user name on stdin (and a user name means basic auth). Anonymous requests are made with
/// curl ([`call`] with [`Credential::Anonymous`]).
pub fn kubeconfig(
    server: &ApiServer,
    dir: &Path,
    name: &str,
    credential: &Credential,
) -> anyhow::Result<PathBuf> {
    let user = match credential {
        Credential::Anonymous => bail!("kubectl has no anonymous kubeconfig; use curl"),
        Credential::Bearer(token) => json!({"token": token}),
        Credential::Basic { user, password } => json!({"username": user, "password": password}),
        Credential::Cert(cert) => json!({
            "client-certificate": cert.cert,
            "client-key": cert.key,
        }),
    };
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubesim", "cluster": {
            "server": server.url(""),
            "certificate-authority": server.file("ca.crt"),
        }}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": "kubesim", "user": name}}],
        "current-context": name,
    });
    let path = dir.join(format!("kubeconfig-{name}"));
    std::fs::write(&path, config.to_string())?;
    Ok(path)
}

/// One kubectl binary with a discovery cache of its own.
#[derive(Debug, Clone)]
pub struct Kubectl {
    pub path: PathBuf,
    cache_dir: PathBuf,
}

impl Kubectl {
    /// `kubectl.1.29`, or `kubectl`.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The minor version in the file name (`kubectl.1.27` → 27); `None` for `kubectl`.
    pub fn minor(&self) -> Option<u32> {
        self.name().strip_prefix("kubectl.1.")?.parse().ok()
    }

    /// Runs kubectl with `kubeconfig`, whatever it exits with.
    pub async fn run(&self, kubeconfig: &Path, args: &[&str]) -> anyhow::Result<Output> {
        let mut command = Command::new(&self.path);
        command
            .env("KUBECONFIG", kubeconfig)
            .arg(format!("--cache-dir={}", self.cache_dir.display()))
            .args(args);
        run(command).await
    }

    /// Runs kubectl, which must exit 0; its stdout.
    pub async fn ok(&self, kubeconfig: &Path, args: &[&str]) -> anyhow::Result<String> {
        let out = self.run(kubeconfig, args).await?;
        ensure!(
            out.status.success(),
            "{} {}: {:?}\nstdout {}\nstderr {}",
            self.name(),
            args.join(" "),
            out.status,
            out.stdout,
            out.stderr
        );
        Ok(out.stdout)
    }

    /// Runs kubectl, which must exit 1 (kubectl's code for every error); its stdout and stderr.
    pub async fn fails(&self, kubeconfig: &Path, args: &[&str]) -> anyhow::Result<Output> {
        let out = self.run(kubeconfig, args).await?;
        ensure!(
            out.status.code() == Some(1),
            "{} {}: expected exit code 1, got {:?}\nstdout {}\nstderr {}",
            self.name(),
            args.join(" "),
            out.status,
            out.stdout,
            out.stderr
        );
        Ok(out)
    }
}

/// Every `kubectl.1.<minor>` installed beside the file `kubectl` resolves to, oldest first;
/// `kubectl` alone when there are none. Empty (or an error under `KUBESIM_E2E=1`) when kubectl
/// or curl is not installed: these tests need both.
pub fn every_kubectl(test: &str, cache_root: &Path) -> anyhow::Result<Vec<Kubectl>> {
    let (Some(kubectl), Some(_)) = (find_on_path("kubectl"), find_on_path("curl")) else {
        if e2e_required() {
            bail!("kubectl and curl are required under KUBESIM_E2E=1");
        }
        eprintln!("{test}: skipped: kubectl or curl not installed");
        return Ok(Vec::new());
    };
    let real = std::fs::canonicalize(&kubectl).unwrap_or(kubectl.clone());
    let dir = real.parent().context("kubectl has no directory")?;
    let mut paths: Vec<PathBuf> = KUBECTL_MINORS
        .map(|minor| dir.join(format!("kubectl.1.{minor}")))
        .filter(|path| path.is_file())
        .collect();
    if paths.is_empty() {
        paths.push(kubectl);
    }
    Ok(paths
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let cache_dir = cache_root.join(format!("cache-{name}"));
            Kubectl { path, cache_dir }
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Other processes

/// `kubesim oidc-issuer` on loopback: it writes its CA into a directory of its own and mints
/// ID tokens at `/token`.
pub struct OidcIssuer {
    /// Killed on drop.
    _process: Child,
    /// `https://127.0.0.1:<port>`, the `iss` of its tokens.
    pub url: String,
    /// Its CA certificate, for `--oidc-ca-file`.
    pub ca_file: PathBuf,
    dir: tempfile::TempDir,
}

impl OidcIssuer {
    pub async fn start() -> anyhow::Result<OidcIssuer> {
        let program = kubesim().await?;
        let dir = tempfile::Builder::new().prefix("kubesim-oidc-").tempdir()?;
        let port = free_port()?;
        let log = std::fs::File::create(dir.path().join("oidc-issuer.log"))?;
        let process = Command::new(program)
            .arg("oidc-issuer")
            .arg(format!("--bind-address=127.0.0.1:{port}"))
            .arg(format!("--out={}", dir.path().display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("spawning kubesim oidc-issuer")?;
        let issuer = OidcIssuer {
            _process: process,
            url: format!("https://127.0.0.1:{port}"),
            ca_file: dir.path().join("oidc-ca.crt"),
            dir,
        };
        wait_for(
            "the OIDC issuer to serve",
            START_TIMEOUT,
            POLL_INTERVAL,
            || async {
                if !issuer.ca_file.is_file() {
                    return Ok(None);
                }
                let out = issuer.curl("/.well-known/openid-configuration").await?;
                Ok(out.status.success().then_some(()))
            },
        )
        .await
        .with_context(|| issuer.log())?;
        Ok(issuer)
    }

    async fn curl(&self, path: &str) -> anyhow::Result<Output> {
        let mut command = Command::new("curl");
        command
            .args(["--silent", "--show-error", "--fail", "--max-time", "10"])
            .arg("--cacert")
            .arg(&self.ca_file)
            .arg(format!("{}{path}", self.url));
        run(command).await
    }

    /// A freshly minted ID token; `query` is `/token`'s (`sub=..&email=..&groups=a,b&aud=..`).
    pub async fn token(&self, query: &str) -> anyhow::Result<String> {
        let out = self.curl(&format!("/token?{query}")).await?;
        ensure!(
            out.status.success(),
            "GET /token?{query}: {}\n{}",
            out.stderr,
            self.log()
        );
        Ok(out.stdout.trim().to_string())
    }

    pub fn log(&self) -> String {
        let text =
            std::fs::read_to_string(self.dir.path().join("oidc-issuer.log")).unwrap_or_default();
        format!("oidc-issuer log:\n{text}")
    }
}

/// `kubesim authz`, the authz service, over a store; the API server reaches it through the
/// webhook kubeconfig it writes ([`AuthzService::kubeconfig`]).
pub struct AuthzService {
    /// `None` once killed; killed on drop otherwise.
    process: Option<Child>,
    pub port: u16,
    etcd_servers: Vec<String>,
    dir: tempfile::TempDir,
}

impl AuthzService {
    /// Starts `kubesim authz` over `etcd_servers` with `extra` flags (`--delay=3s`) and waits
    /// until it listens, which it does once its RBAC caches have listed the store.
    pub async fn start(etcd_servers: &[String], extra: &[&str]) -> anyhow::Result<AuthzService> {
        let dir = tempfile::Builder::new()
            .prefix("kubesim-authz-")
            .tempdir()?;
        let port = free_port()?;
        let mut service = AuthzService {
            process: None,
            port,
            etcd_servers: etcd_servers.to_vec(),
            dir,
        };
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{
                "name": "authz",
                "cluster": {"server": format!("http://127.0.0.1:{port}")},
            }],
            "users": [{"name": "apiserver", "user": {}}],
            "contexts": [{"name": "authz", "context": {"cluster": "authz", "user": "apiserver"}}],
            "current-context": "authz",
        });
        std::fs::write(service.kubeconfig(), config.to_string())?;
        service.restart(extra).await?;
        Ok(service)
    }

    /// Kills the service if it runs, and starts it again on the same port with `extra`.
    pub async fn restart(&mut self, extra: &[&str]) -> anyhow::Result<()> {
        self.kill().await?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("authz.log"))?;
        let process = Command::new(kubesim().await?)
            .arg("authz")
            .arg(format!("--bind-address=127.0.0.1:{}", self.port))
            .arg(format!("--etcd-servers={}", self.etcd_servers.join(",")))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("spawning kubesim authz")?;
        self.process = Some(process);
        let port = self.port;
        wait_for(
            "the authz service to listen",
            START_TIMEOUT,
            POLL_INTERVAL,
            || async {
                Ok(tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .ok()
                    .map(|_| ()))
            },
        )
        .await
        .with_context(|| self.log())
    }

    /// The webhook kubeconfig (`--authorization-webhook-config-file`).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("authz-kubeconfig")
    }

    /// SIGKILL, and wait until it is gone.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut process) = self.process.take() {
            process.kill().await?;
        }
        Ok(())
    }

    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("authz.log")).unwrap_or_default();
        format!("authz log:\n{text}")
    }
}

/// Polls `check` until it holds, for what a watch makes true soon (an RBAC object reaching a
/// cache): at most [`START_TIMEOUT`].
pub async fn eventually<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    wait_for(what, START_TIMEOUT, POLL_INTERVAL, || {
        let done = check();
        async move { Ok(done.await?.then_some(())) }
    })
    .await
}

/// Runs a test body with `limit` as its bound (the kubectl-heavy tests take longer than
/// [`crate::TEST_TIMEOUT`] on a busy machine).
pub async fn bounded_for<F>(limit: Duration, body: F) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    match tokio::time::timeout(limit, body).await {
        Ok(result) => result,
        Err(_) => bail!("test did not finish within {limit:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Objects, made as the admin

/// The admin of `kubesim certs` (`kubesim-admin` in `system:masters`).
pub fn admin(server: &ApiServer) -> Credential {
    Credential::Cert(ClientCert {
        cert: server.file("admin.crt"),
        key: server.file("admin.key"),
        der: Vec::new(),
    })
}

/// Creates an object as the admin (201 expected); the object the server answered.
pub async fn create(server: &ApiServer, path: &str, object: &Value) -> anyhow::Result<Value> {
    let reply = post(server, &admin(server), path, object).await?;
    reply.expect_code(201, &format!("admin POST {path} {object}"))?;
    reply.json()
}

/// Fails unless the admin's GET of `path` is a 404: what a refused create left behind.
pub async fn expect_absent(server: &ApiServer, path: &str) -> anyhow::Result<()> {
    let reply = get(server, &admin(server), path).await?;
    reply.expect_code(404, &format!("nothing may exist at {path}"))?;
    Ok(())
}

pub fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

pub fn service_account(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
}

pub fn config_map(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
           "data": {"written-by": "a refused request must not leave this"}})
}

/// One RBAC rule.
pub fn rule(api_groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": api_groups, "resources": resources, "verbs": verbs})
}

/// A Role, or a ClusterRole when `kind` says so.
pub fn role(kind: &str, name: &str, rules: &[Value]) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
           "metadata": {"name": name}, "rules": rules})
}

/// A RoleBinding (or ClusterRoleBinding) of `role_kind`/`role_name` to `subjects`.
pub fn binding(
    kind: &str,
    name: &str,
    role_kind: &str,
    role_name: &str,
    subjects: &[Value],
) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
           "metadata": {"name": name},
           "roleRef": {
               "apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name,
           },
           "subjects": subjects})
}

pub fn user_subject(name: &str) -> Value {
    json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name})
}

pub fn group_subject(name: &str) -> Value {
    json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name})
}

pub fn service_account_subject(namespace: &str, name: &str) -> Value {
    json!({"kind": "ServiceAccount", "namespace": namespace, "name": name})
}

/// `/apis/rbac.authorization.k8s.io/v1/namespaces/<ns>/<plural>`, or the cluster-scoped path
/// when `namespace` is empty.
pub fn rbac_path(namespace: &str, plural: &str) -> String {
    if namespace.is_empty() {
        format!("/apis/rbac.authorization.k8s.io/v1/{plural}")
    } else {
        format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/{plural}")
    }
}

/// A TokenRequest for `namespace/name` through the API (what `kubectl create token` sends),
/// as the admin; the token.
pub async fn request_token(
    server: &ApiServer,
    namespace: &str,
    name: &str,
    spec: Value,
) -> anyhow::Result<String> {
    let path = format!("/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token");
    let body =
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec});
    let answer = create(server, &path, &body).await?;
    answer["status"]["token"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("TokenRequest answered no token: {answer}"))
}

/// The `metadata.uid` of the object at `path`, read as the admin.
pub async fn uid_of(server: &ApiServer, path: &str) -> anyhow::Result<String> {
    let reply = get(server, &admin(server), path).await?;
    reply.expect_code(200, &format!("GET {path}"))?;
    reply.json()?["metadata"]["uid"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("{path} has no uid"))
}
