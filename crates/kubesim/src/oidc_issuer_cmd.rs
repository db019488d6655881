//! `kubesim oidc-issuer`: a small OpenID Connect issuer for trying `--oidc-*` by hand
//! ([`kubesim_authn::oidc::issuer::TestIssuer`]): the discovery document, the JWKS and a
//! `/token` endpoint that mints an ID token for anyone who asks, over HTTPS with a fresh
//! self-signed CA whose certificate it writes to `--out` for `--oidc-ca-file`.
//!
//! A test tool: whoever reaches its port can get a token for any user. It listens on
//! loopback by default (`127.0.0.1:5556`, Dex's port), and the CA's key is never kept.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kubesim_authn::oidc::issuer::{DEFAULT_AUDIENCE, SigningAlg, TestIssuer, self_signed_tls};
use kubesim_net::Env;

use crate::flags::FlagError;

/// `--bind-address` when not given.
pub const DEFAULT_BIND_ADDRESS: &str = "127.0.0.1:5556";
/// The CA certificate's file name under `--out`.
pub const CA_FILE: &str = "oidc-ca.crt";

#[derive(Debug, Clone, clap::Args)]
pub struct OidcIssuerArgs {
    /// host:port to serve HTTPS on.
    #[arg(long, default_value = DEFAULT_BIND_ADDRESS)]
    pub bind_address: String,
    /// The issuer URL tokens carry as `iss` (https; a path is allowed); its host is what the
    /// serving certificate names [default: https://127.0.0.1:<port>].
    #[arg(long, value_name = "URL")]
    pub issuer_url: Option<String>,
    /// Directory to write the CA certificate into (oidc-ca.crt), created if missing.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// How tokens are signed: RS256 (kube's default --oidc-signing-algs) or ES256.
    #[arg(long, default_value = "RS256")]
    pub signing_alg: String,
}

/// The checked flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerPlan {
    pub bind_address: String,
    pub issuer_url: Option<String>,
    pub out: PathBuf,
    pub alg: SigningAlg,
}

impl OidcIssuerArgs {
    pub fn to_plan(&self) -> Result<IssuerPlan, FlagError> {
        crate::flags::parse_host_port(&self.bind_address).map_err(|reason| {
            FlagError::new("bind-address", format!("{:?}: {reason}", self.bind_address))
        })?;
        if let Some(url) = &self.issuer_url {
            issuer_host(url).map_err(|reason| FlagError::new("issuer-url", reason))?;
        }
        let alg = match self.signing_alg.as_str() {
            "RS256" => SigningAlg::Rs256,
            "ES256" => SigningAlg::Es256,
            other => {
                return Err(FlagError::new(
                    "signing-alg",
                    format!("{other:?}: must be RS256 or ES256"),
                ));
            }
        };
        Ok(IssuerPlan {
            bind_address: self.bind_address.clone(),
            issuer_url: self.issuer_url.clone(),
            out: self.out.clone(),
            alg,
        })
    }
}

/// The host of an `https://host[:port][/path]` URL, brackets removed: what the serving
/// certificate must name.
pub fn issuer_host(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| format!("{url:?}: must be an https:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(format!("{url:?}: user information is not allowed"));
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6
            .split_once(']')
            .map(|(host, _)| host)
            .ok_or_else(|| format!("{url:?}: IPv6 host is missing its closing ']'"))?,
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    if host.is_empty() {
        return Err(format!("{url:?}: host is missing"));
    }
    Ok(host.to_string())
}

/// Binds, makes the certificate and the issuer, writes the CA, prints how to use it, and
/// serves until SIGINT or SIGTERM.
pub async fn run(plan: IssuerPlan) -> anyhow::Result<()> {
    let env = Env::production(std::env::temp_dir());
    let listener = env
        .net
        .bind(&plan.bind_address)
        .await
        .map_err(|e| anyhow::anyhow!("binding {}: {e}", plan.bind_address))?;
    let port = listener.local_addr()?.port();
    let issuer_url = plan
        .issuer_url
        .clone()
        .unwrap_or_else(|| format!("https://127.0.0.1:{port}"));
    let host = issuer_host(&issuer_url).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (tls, ca_pem) = self_signed_tls(&host).map_err(|e| anyhow::anyhow!("{e}"))?;
    let ca_file = write_ca(&plan.out, &ca_pem)?;
    let issuer = TestIssuer::with_algorithm(issuer_url, plan.alg, env.clock.clone())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    print!("{}", instructions(&issuer, &ca_file));
    let serving = Arc::new(issuer).serve(listener, tls);
    tokio::select! {
        result = serving => result.map_err(|e| anyhow::anyhow!("serving: {e}")),
        signal = crate::signal::terminated() => {
            tracing::info!("received a stop signal, shutting down");
            signal.map_err(|e| anyhow::anyhow!("waiting for a stop signal: {e}"))
        }
    }
}

/// Writes `dir/oidc-ca.crt` (replacing an older one: each run has a new CA); returns its
/// absolute path.
fn write_ca(dir: &Path, ca_pem: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let path = dir.join(CA_FILE);
    std::fs::write(&path, ca_pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(std::path::absolute(&path).unwrap_or(path))
}

/// What the user reads: where the issuer is, how to get a token, and the API server's flags.
pub fn instructions(issuer: &TestIssuer, ca_file: &Path) -> String {
    let url = issuer.issuer_url().trim_end_matches('/');
    let ca = crate::certs::shell_quote(&ca_file.display().to_string());
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        text,
        "OIDC issuer {url} ({alg}), test use only: it mints a token for anyone who asks.\n\
         CA certificate: {ca}\n\n\
         get a token:\n  \
           curl --cacert {ca} '{url}/token?sub=jane&email=jane@example.com&groups=dev-team&aud={DEFAULT_AUDIENCE}'\n\n\
         API server flags:\n  \
           --oidc-issuer-url={url} --oidc-client-id={DEFAULT_AUDIENCE} --oidc-ca-file={ca} \
         --oidc-groups-claim=groups --oidc-signing-algs={alg}\n\n\
         then: kubectl --token \"$TOKEN\" auth whoami\n\nPress Ctrl-C to stop.\n",
        alg = issuer.signing_alg().as_str(),
    );
    text
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        args: OidcIssuerArgs,
    }

    fn plan(args: &[&str]) -> Result<IssuerPlan, FlagError> {
        let argv = std::iter::once("oidc-issuer").chain(args.iter().copied());
        Cmd::try_parse_from(argv).unwrap().args.to_plan()
    }

    #[test]
    fn defaults_and_flags() {
        assert_eq!(
            plan(&["--out=d"]).unwrap(),
            IssuerPlan {
                bind_address: "127.0.0.1:5556".into(),
                issuer_url: None,
                out: PathBuf::from("d"),
                alg: SigningAlg::Rs256,
            }
        );
        let es = plan(&[
            "--out=d",
            "--signing-alg=ES256",
            "--issuer-url=https://localhost:5556/dex",
        ])
        .unwrap();
        assert_eq!(es.alg, SigningAlg::Es256);
        assert_eq!(es.issuer_url.as_deref(), Some("https://localhost:5556/dex"));
        let argv = ["oidc-issuer"];
        assert!(Cmd::try_parse_from(argv).is_err(), "--out is required");
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let cases: [(&[&str], &str, &str); 3] = [
            (
                &["--out=d", "--signing-alg=HS256"],
                "signing-alg",
                "\"HS256\": must be RS256 or ES256",
            ),
            (
                &["--out=d", "--issuer-url=http://127.0.0.1:5556"],
                "issuer-url",
                "\"http://127.0.0.1:5556\": must be an https:// URL",
            ),
            (
                &["--out=d", "--bind-address=:"],
                "bind-address",
                "\":\": host is missing",
            ),
        ];
        for (args, flag, reason) in cases {
            let error = plan(args).unwrap_err();
            assert_eq!(
                (error.flag, error.reason.as_str()),
                (flag, reason),
                "{args:?}"
            );
        }
    }

    #[test]
    fn issuer_hosts() {
        assert_eq!(issuer_host("https://127.0.0.1:5556").unwrap(), "127.0.0.1");
        assert_eq!(issuer_host("https://[::1]:5556/dex").unwrap(), "::1");
        assert_eq!(
            issuer_host("https://issuer.example/a").unwrap(),
            "issuer.example"
        );
        assert!(issuer_host("https://").is_err());
        assert!(issuer_host("https://u@h:1").is_err());
        assert!(issuer_host("https://[::1:5556").is_err());
    }

    #[test]
    fn instructions_show_a_curl_line_and_the_flags() {
        let issuer = TestIssuer::new(
            "https://127.0.0.1:5556".into(),
            Arc::new(kubesim_net::SystemClock),
        )
        .unwrap();
        let text = instructions(&issuer, Path::new("/tmp/o i/oidc-ca.crt"));
        assert!(
            text.contains(
                "  curl --cacert '/tmp/o i/oidc-ca.crt' 'https://127.0.0.1:5556/token?sub=jane&email=jane@example.com&groups=dev-team&aud=kubesim'\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "  --oidc-issuer-url=https://127.0.0.1:5556 --oidc-client-id=kubesim --oidc-ca-file='/tmp/o i/oidc-ca.crt' --oidc-groups-claim=groups --oidc-signing-algs=RS256\n"
            ),
            "{text}"
        );
    }

    /// The whole command minus the signal: a token fetched over HTTPS with the written CA.
    #[tokio::test]
    async fn the_issuer_serves_discovery_over_tls_with_the_written_ca() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::production(dir.path());
        let listener = env.net.bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("https://127.0.0.1:{port}");
        let (tls, ca_pem) = self_signed_tls("127.0.0.1").unwrap();
        let ca_file = write_ca(dir.path(), &ca_pem).unwrap();
        assert_eq!(std::fs::read_to_string(&ca_file).unwrap(), ca_pem);
        let issuer = Arc::new(TestIssuer::new(url.clone(), env.clock.clone()).unwrap());
        let server = tokio::spawn(issuer.clone().serve(listener, tls));
        let body = https_get(&ca_pem, port, "/.well-known/openid-configuration").await;
        let discovery: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(discovery["issuer"], url.as_str());
        assert_eq!(discovery["jwks_uri"], format!("{url}/keys").as_str());
        assert_eq!(issuer.discovery_requests(), 1);
        server.abort();
    }

    async fn https_get(ca_pem: &str, port: u16, path: &str) -> String {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        tls.write_all(request.as_bytes()).await.unwrap();
        let mut bytes = Vec::new();
        // A peer that closes without close_notify ends the read with an error; what came
        // before it is the answer.
        let _ = tls.read_to_end(&mut bytes).await;
        let answer = String::from_utf8(bytes).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        answer.split_once("\r\n\r\n").unwrap().1.to_string()
    }
}
