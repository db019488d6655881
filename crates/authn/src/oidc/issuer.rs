//! A small OpenID Connect issuer, for tests and for `kubesim oidc-issuer`: it signs ID tokens
//! and serves, over HTTPS, what an authenticator needs to verify them.
//!
//! - `GET <issuer path>/.well-known/openid-configuration`: the discovery document.
//! - `GET <issuer path>/keys`: the JWKS (the current key and, after a rotation, the previous
//!   one, as real issuers keep both for a while).
//! - `GET <issuer path>/token?sub=<s>&email=<e>&groups=a,b&aud=<client id>`: a test
//!   convenience no real issuer has — a freshly minted token, as text, for anyone who asks.
//!   `sub` is required; `email` also asserts `email_verified: true`; `aud` defaults to
//!   [`DEFAULT_AUDIENCE`]. Never expose this issuer beyond a test machine.
//!
//! Keys: RS256 (kube's default algorithm) with RSA keys embedded in the source (see
//! `issuer_keys.rs`: ring cannot generate RSA keys), or ES256 with P-256 keys made fresh by
//! rcgen from the operating system's randomness. Either way, these are test keys.

use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kubesim_net::Clock;
use kubesim_net::network::{Conn, Listener};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use super::issuer_keys::RSA_KEYS;
use crate::ConfigError;

/// The `aud` of `/token` when the request names none.
pub const DEFAULT_AUDIENCE: &str = "kubesim";
/// `exp` of a minted token without one: an hour after `iat`.
const TOKEN_LIFETIME_SECS: u64 = 3600;
/// Connections served at once; more are closed on accept.
const MAX_CONNECTIONS: usize = 64;
/// A connection's whole life: TLS handshake, request, answer.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);
/// The pause after a failed accept (e.g. out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How the issuer signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlg {
    /// RSA PKCS#1 v1.5 with SHA-256, with the embedded test keys.
    Rs256,
    /// ECDSA P-256 with SHA-256, with fresh keys.
    Es256,
}

impl SigningAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
        }
    }
}

/// One signing key and its public JWK.
struct SigningKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    public_jwk: Value,
}

struct KeyRing {
    current: SigningKey,
    /// Still published after a rotation, so tokens signed just before it stay valid.
    previous: Option<SigningKey>,
    /// Keys made so far; the next key's `kid` is `key-<made + 1>`.
    made: u64,
}

/// The issuer. Shared (`Arc`) between its server and whoever mints tokens or rotates keys.
pub struct TestIssuer {
    issuer_url: String,
    /// The path part of `issuer_url`, without a trailing `/`: where the endpoints live.
    base_path: String,
    clock: Arc<dyn Clock>,
    alg: SigningAlg,
    keys: RwLock<KeyRing>,
    discovery_requests: AtomicU64,
    jwks_requests: AtomicU64,
}

impl TestIssuer {
    /// An RS256 issuer (kube's default `--oidc-signing-algs`).
    pub fn new(issuer_url: String, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        Self::with_algorithm(issuer_url, SigningAlg::Rs256, clock)
    }

    pub fn with_algorithm(
        issuer_url: String,
        alg: SigningAlg,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        let target = super::https::parse_https_url(&issuer_url)
            .map_err(|why| ConfigError(format!("oidc issuer URL: {why}")))?;
        let base_path = target
            .path_and_query
            .split('?')
            .next()
            .unwrap_or("")
            .trim_end_matches('/')
            .to_string();
        let current = make_key(alg, 1)?;
        Ok(TestIssuer {
            issuer_url,
            base_path,
            clock,
            alg,
            keys: RwLock::new(KeyRing {
                current,
                previous: None,
                made: 1,
            }),
            discovery_requests: AtomicU64::new(0),
            jwks_requests: AtomicU64::new(0),
        })
    }

    pub fn issuer_url(&self) -> &str {
        &self.issuer_url
    }

    pub fn signing_alg(&self) -> SigningAlg {
        self.alg
    }

    /// The `kid` tokens are signed with now.
    pub fn current_kid(&self) -> String {
        self.ring(|ring| ring.current.kid.clone())
    }

    /// Signs `claims` (a JSON object) with the current key, filling `iss`, `iat` (now) and
    /// `exp` (an hour later) when absent.
    pub fn mint(&self, claims: Value) -> Result<String, ConfigError> {
        let kid = self.current_kid();
        self.mint_with_kid(claims, &kid)
    }

    /// [`TestIssuer::mint`], naming `kid` in the header whatever key signs: for testing that
    /// a verifier does not take a token's word for which key signed it.
    pub fn mint_with_kid(&self, claims: Value, kid: &str) -> Result<String, ConfigError> {
        let Value::Object(mut claims) = claims else {
            return Err(ConfigError(
                "a token's claims must be a JSON object".to_string(),
            ));
        };
        let now = self.clock.now_since_epoch().as_secs();
        claims
            .entry("iss")
            .or_insert_with(|| Value::from(self.issuer_url.as_str()));
        claims.entry("iat").or_insert_with(|| Value::from(now));
        claims
            .entry("exp")
            .or_insert_with(|| Value::from(now.saturating_add(TOKEN_LIFETIME_SECS)));
        self.ring(|ring| {
            let key = &ring.current;
            let mut header = Header::new(key.alg);
            header.kid = Some(kid.to_string());
            jsonwebtoken::encode(&header, &claims, &key.encoding)
                .map_err(|e| ConfigError(format!("signing a token: {e}")))
        })
    }

    /// The discovery document (OpenID Connect Discovery 1.0, the fields verifiers read).
    pub fn discovery_json(&self) -> Value {
        let base = self.issuer_url.trim_end_matches('/');
        json!({
            "issuer": self.issuer_url,
            "jwks_uri": format!("{base}/keys"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.alg.as_str()],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "email", "email_verified", "groups"],
        })
    }

    /// The JWKS: the current key, then the previous one if there was a rotation.
    pub fn jwks_json(&self) -> Value {
        self.ring(|ring| {
            let keys: Vec<&Value> = std::iter::once(&ring.current)
                .chain(ring.previous.as_ref())
                .map(|key| &key.public_jwk)
                .collect();
            json!({ "keys": keys })
        })
    }

    /// Signs with a new key (and a new `kid`) from now on; the old one stays published.
    /// Returns the new `kid`.
    pub fn rotate_key(&self) -> Result<String, ConfigError> {
        let mut ring = self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let made = ring.made + 1;
        let key = make_key(self.alg, made)?;
        let kid = key.kid.clone();
        let old = std::mem::replace(&mut ring.current, key);
        ring.previous = Some(old);
        ring.made = made;
        Ok(kid)
    }

    /// How often the discovery document was served.
    pub fn discovery_requests(&self) -> u64 {
        self.discovery_requests.load(Ordering::Relaxed)
    }

    /// How often the JWKS was served.
    pub fn jwks_requests(&self) -> u64 {
        self.jwks_requests.load(Ordering::Relaxed)
    }

    fn ring<T>(&self, read: impl FnOnce(&KeyRing) -> T) -> T {
        read(
            &self
                .keys
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Serves HTTPS on `listener` until the task is dropped. A failed connection is logged
    /// and forgotten; a failed accept is retried after a pause.
    pub async fn serve(
        self: Arc<Self>,
        mut listener: Box<dyn Listener>,
        tls: Arc<rustls::ServerConfig>,
    ) -> io::Result<()> {
        let acceptor = TlsAcceptor::from(tls);
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let conn = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!("oidc issuer: accept: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                tracing::debug!(
                    "oidc issuer: {MAX_CONNECTIONS} connections open, closing a new one"
                );
                continue;
            };
            let issuer = self.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let served = issuer.serve_connection(acceptor, conn);
                if tokio::time::timeout(CONNECTION_TIMEOUT, served)
                    .await
                    .is_err()
                {
                    tracing::debug!("oidc issuer: a connection outlived {CONNECTION_TIMEOUT:?}");
                }
            });
        }
    }

    async fn serve_connection(self: Arc<Self>, acceptor: TlsAcceptor, conn: Conn) {
        let tls = match acceptor.accept(conn).await {
            Ok(tls) => tls,
            Err(e) => {
                tracing::debug!("oidc issuer: TLS handshake: {e}");
                return;
            }
        };
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let answer = self.answer(&request);
            async move { Ok::<_, Infallible>(answer) }
        });
        if let Err(e) = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(tls), service)
            .await
        {
            tracing::debug!("oidc issuer: connection: {e}");
        }
    }

    fn answer(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        if request.method() != Method::GET {
            return text(StatusCode::METHOD_NOT_ALLOWED, "only GET is served\n");
        }
        let Some(endpoint) = request.uri().path().strip_prefix(self.base_path.as_str()) else {
            return text(StatusCode::NOT_FOUND, "not found\n");
        };
        match endpoint {
            "/.well-known/openid-configuration" => {
                self.discovery_requests.fetch_add(1, Ordering::Relaxed);
                json_answer(&self.discovery_json())
            }
            "/keys" => {
                self.jwks_requests.fetch_add(1, Ordering::Relaxed);
                json_answer(&self.jwks_json())
            }
            "/token" => self.token_answer(request.uri().query().unwrap_or("")),
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    /// `/token`: the claims from the query, minted.
    fn token_answer(&self, query: &str) -> Response<Full<Bytes>> {
        let claims = match token_claims(query) {
            Ok(claims) => claims,
            Err(why) => return text(StatusCode::BAD_REQUEST, &format!("{why}\n")),
        };
        match self.mint(Value::Object(claims)) {
            Ok(token) => text(StatusCode::OK, &token),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n")),
        }
    }
}

/// The claims a `/token` query asks for.
fn token_claims(query: &str) -> Result<Map<String, Value>, String> {
    let mut claims = Map::new();
    let mut audience = DEFAULT_AUDIENCE.to_string();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value).ok_or_else(|| format!("{name}: bad percent-encoding"))?;
        match name {
            "sub" => {
                claims.insert("sub".into(), value.into());
            }
            "email" => {
                claims.insert("email".into(), value.into());
                claims.insert("email_verified".into(), true.into());
            }
            "groups" => {
                let groups: Vec<&str> = value.split(',').filter(|g| !g.is_empty()).collect();
                claims.insert("groups".into(), groups.into());
            }
            "aud" => audience = value,
            other => return Err(format!("unknown parameter {other:?}")),
        }
    }
    if !claims.contains_key("sub") {
        return Err("the sub parameter is required".to_string());
    }
    claims.insert("aud".into(), audience.into());
    Ok(claims)
}

/// A query value: `+` is a space, `%XX` a byte; the result must be UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        match first {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = tail.get(2..)?;
                continue;
            }
            other => bytes.push(other),
        }
        rest = tail;
    }
    String::from_utf8(bytes).ok()
}

fn json_answer(value: &Value) -> Response<Full<Bytes>> {
    answer(StatusCode::OK, "application/json", value.to_string())
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    answer(status, "text/plain; charset=utf-8", body.to_string())
}

fn answer(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// The `number`th key of an issuer (from 1): `kid` `key-<number>`.
fn make_key(alg: SigningAlg, number: u64) -> Result<SigningKey, ConfigError> {
    let kid = format!("key-{number}");
    match alg {
        SigningAlg::Rs256 => rsa_key(kid, number),
        SigningAlg::Es256 => p256_key(kid),
    }
}

/// The embedded RSA keys in turn.
fn rsa_key(kid: String, number: u64) -> Result<SigningKey, ConfigError> {
    let index = usize::try_from(number.saturating_sub(1)).unwrap_or(0) % RSA_KEYS.len();
    let fixed = RSA_KEYS
        .get(index)
        .ok_or_else(|| ConfigError("no embedded RSA key".to_string()))?;
    let encoding = EncodingKey::from_rsa_pem(fixed.pem.as_bytes())
        .map_err(|e| ConfigError(format!("the embedded RSA key: {e}")))?;
    let public_jwk = json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": fixed.n, "e": "AQAB",
    });
    Ok(SigningKey {
        kid,
        alg: Algorithm::RS256,
        encoding,
        public_jwk,
    })
}

/// A fresh P-256 key.
fn p256_key(kid: String) -> Result<SigningKey, ConfigError> {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| ConfigError(format!("making a P-256 key: {e}")))?;
    let encoding = EncodingKey::from_ec_der(&pair.serialize_der());
    // SEC 1 uncompressed point: 0x04, then x and y, 32 bytes each.
    let point = pair.public_key_raw();
    let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
        return Err(ConfigError(
            "a P-256 public key of an unexpected shape".to_string(),
        ));
    };
    let public_jwk = json!({
        "kty": "EC", "use": "sig", "alg": "ES256", "kid": kid, "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
    });
    Ok(SigningKey {
        kid,
        alg: Algorithm::ES256,
        encoding,
        public_jwk,
    })
}

/// A TLS server configuration for `host` (a DNS name or an IP address), with a certificate
/// signed by a fresh CA, and that CA's PEM for the authenticator's `ca_pem`. Test use only:
/// the CA key is thrown away, and the certificates never expire.
pub fn self_signed_tls(host: &str) -> Result<(Arc<rustls::ServerConfig>, String), ConfigError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| ConfigError(format!("{what}: {e}"));
    let ca_key = rcgen::KeyPair::generate().map_err(|e| failed("the CA key", &e))?;
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kubesim test OIDC issuer CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)
        .map_err(|e| failed("the CA certificate", &e))?;

    let leaf_key = rcgen::KeyPair::generate().map_err(|e| failed("the server key", &e))?;
    let mut leaf_params = rcgen::CertificateParams::new(vec![host.to_string()])
        .map_err(|e| failed(&format!("a certificate for {host:?}"), &e))?;
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, host);
    let leaf = leaf_params
        .signed_by(&leaf_key, &ca)
        .map_err(|e| failed("the server certificate", &e))?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed("TLS versions", &e))?
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .map_err(|e| failed("the TLS configuration", &e))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(server), ca.pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_queries_become_claims() {
        let claims =
            token_claims("sub=jane&email=jane%40example.com&groups=dev,,ops&aud=k8s").unwrap();
        assert_eq!(
            Value::Object(claims),
            json!({"sub": "jane", "email": "jane@example.com", "email_verified": true,
                   "groups": ["dev", "ops"], "aud": "k8s"})
        );
        let claims = token_claims("sub=a+b").unwrap();
        assert_eq!(
            Value::Object(claims),
            json!({"sub": "a b", "aud": DEFAULT_AUDIENCE})
        );
        assert_eq!(
            token_claims("email=x"),
            Err("the sub parameter is required".into())
        );
        assert_eq!(
            token_claims("sub=x&nbf=1"),
            Err("unknown parameter \"nbf\"".into())
        );
        assert_eq!(
            token_claims("sub=%zz"),
            Err("sub: bad percent-encoding".into())
        );
        assert_eq!(
            token_claims("sub=%4"),
            Err("sub: bad percent-encoding".into())
        );
        assert_eq!(
            token_claims("sub=%ff"),
            Err("sub: bad percent-encoding".into())
        );
    }
}
