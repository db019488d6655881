//! OpenID Connect ID tokens as kube-apiserver's `--oidc-*` flags verify them
//! (`plugin/pkg/authenticator/token/oidc`, with go-oidc's checks).
//!
//! A bearer token is ours when it is a compact JWT whose (unverified) `iss` is exactly
//! `--oidc-issuer-url`; anything else is left to the other authenticators. Ours is then
//! verified in go-oidc's order — audience contains `--oidc-client-id`, `exp` present and not
//! past (no leeway), `nbf` at most one minute ahead, `iat` not checked, algorithm in
//! `--oidc-signing-algs` — and only then its signature, so a token that fails the cheap checks
//! never causes a key fetch. The claims become the user as kube maps them.
//!
//! - this file: [`OidcConfig`] (the flags, validated by [`OidcAuthenticator::new`]),
//!   [`KeyFetchLimits`] and the authenticator.
//! - `token`: the pure checks and the claim mapping. `jwks`: discovery document and JWKS into
//!   keys, signature checks. `key_set`: the cached keys and their bounded refetch. `https`: one
//!   GET over the network seam.
//! - [`issuer`]: a small OIDC issuer for tests and `kubesim oidc-issuer`.
//!
//! Keys are fetched lazily on the first token, not at start-up, so the API server starts while
//! the issuer is down (kube-apiserver initializes the verifier asynchronously for the same
//! reason); until a fetch succeeds, tokens of the issuer fail with
//! `oidc: authenticator not initialized`.

pub mod issuer;

mod https;
mod issuer_keys;
mod jwks;
mod key_set;
mod token;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use kubesim_api::time::format_rfc3339;
use kubesim_net::{Clock, Network};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::{Authenticated, AuthnError, ConfigError, Method};
use jwks::SignatureCheck;
use key_set::KeySource;
use token::{ClaimMapping, JoseHeader, UnverifiedJwt};

/// The `--oidc-*` flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// `--oidc-issuer-url`: https, no query, fragment or user info. Tokens must carry it as
    /// `iss` exactly, and the discovery document must name it as `issuer` exactly.
    pub issuer_url: String,
    /// `--oidc-client-id`: `aud` must contain it.
    pub client_id: String,
    /// `--oidc-username-claim` (default `sub`).
    pub username_claim: String,
    /// `--oidc-username-prefix`. `None` (or empty, as an empty flag is kube's "unset"): the
    /// issuer URL and `#` for every claim but `email`, which gets none. `-`: no prefix.
    pub username_prefix: Option<String>,
    /// `--oidc-groups-claim`: a string or an array of strings. `None` (or empty): no groups.
    pub groups_claim: Option<String>,
    /// `--oidc-groups-prefix` (default none).
    pub groups_prefix: String,
    /// `--oidc-required-claim key=value`, each: present, a string, equal.
    pub required_claims: Vec<(String, String)>,
    /// `--oidc-ca-file`, PEM: the CAs the issuer's certificate must chain to. Without it every
    /// fetch fails: kubesim has no system root certificates to fall back on.
    pub ca_pem: Option<Vec<u8>>,
    /// `--oidc-signing-algs` (default `RS256`; empty means the default).
    pub signing_algs: Vec<String>,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            issuer_url: String::new(),
            client_id: String::new(),
            username_claim: "sub".to_string(),
            username_prefix: None,
            groups_claim: None,
            groups_prefix: String::new(),
            required_claims: Vec::new(),
            ca_pem: None,
            signing_algs: vec!["RS256".to_string()],
        }
    }
}

/// The bounds of fetching the issuer's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFetchLimits {
    /// One fetch, discovery and JWKS together, connect and TLS included.
    pub fetch_timeout: Duration,
    /// Each response body.
    pub max_body_bytes: usize,
    /// Entries of the JWKS; a larger one is refused.
    pub max_keys: usize,
    /// Between two fetch attempts: a token with an unknown `kid` (or any token while the
    /// issuer is down) causes at most one fetch per interval.
    pub min_refresh_interval: Duration,
}

impl Default for KeyFetchLimits {
    fn default() -> Self {
        KeyFetchLimits {
            fetch_timeout: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
            max_keys: 100,
            min_refresh_interval: Duration::from_secs(10),
        }
    }
}

impl KeyFetchLimits {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.fetch_timeout.is_zero() || self.max_body_bytes == 0 || self.max_keys == 0 {
            return Err(ConfigError(format!(
                "oidc: key fetch limits must be positive: {self:?}"
            )));
        }
        Ok(())
    }
}

/// Verifies the ID tokens of one issuer.
pub struct OidcAuthenticator {
    issuer_url: String,
    client_id: String,
    username_claim: String,
    /// Resolved from the flag: see [`OidcConfig::username_prefix`].
    username_prefix: String,
    groups_claim: Option<String>,
    groups_prefix: String,
    required_claims: Vec<(String, String)>,
    signing_algs: Vec<String>,
    clock: Arc<dyn Clock>,
    keys: KeySource,
}

impl std::fmt::Debug for OidcAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcAuthenticator")
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl OidcAuthenticator {
    /// Validates the flags as kube-apiserver does at start-up. Fetches nothing.
    pub fn new(
        config: OidcConfig,
        net: Arc<dyn Network>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        Self::with_limits(config, KeyFetchLimits::default(), net, clock)
    }

    /// [`OidcAuthenticator::new`] with bounds of its own (tests shorten the intervals).
    pub fn with_limits(
        config: OidcConfig,
        limits: KeyFetchLimits,
        net: Arc<dyn Network>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        limits.validate()?;
        validate_issuer_url(&config.issuer_url)?;
        if config.client_id.is_empty() {
            return Err(ConfigError(
                "oidc-issuer-url and oidc-client-id must be specified together".to_string(),
            ));
        }
        if config.username_claim.is_empty() {
            return Err(ConfigError("no username claim provided".to_string()));
        }
        let signing_algs = validate_signing_algs(&config.signing_algs)?;
        let tls = match &config.ca_pem {
            Some(pem) => Some(client_tls(pem)?),
            None => {
                tracing::warn!(
                    issuer = %config.issuer_url,
                    "OIDC: no --oidc-ca-file: kubesim has no system root certificates, so the issuer's keys cannot be fetched and its tokens will be refused"
                );
                None
            }
        };
        let username_prefix = resolve_username_prefix(&config);
        let keys = KeySource::new(config.issuer_url.clone(), net, tls, limits);
        Ok(OidcAuthenticator {
            issuer_url: config.issuer_url,
            client_id: config.client_id,
            username_claim: config.username_claim,
            username_prefix,
            groups_claim: config.groups_claim.filter(|claim| !claim.is_empty()),
            groups_prefix: config.groups_prefix,
            required_claims: config.required_claims,
            signing_algs,
            clock,
            keys,
        })
    }

    /// `Ok(None)` when the token is not a JWT of this issuer; otherwise the user, or why the
    /// token is refused.
    pub async fn authenticate_token(
        &self,
        token: &str,
    ) -> Result<Option<Authenticated>, AuthnError> {
        let Some(jwt) = token::parse_unverified(token) else {
            return Ok(None);
        };
        if jwt.issuer() != Some(self.issuer_url.as_str()) {
            return Ok(None);
        }
        self.verify(&jwt).await.map(Some).map_err(AuthnError::new)
    }

    async fn verify(&self, jwt: &UnverifiedJwt<'_>) -> Result<Authenticated, String> {
        let header = token::parse_header(jwt)?;
        let now_unix = self.clock.now_since_epoch().as_secs_f64();
        let validity = token::check_claims(&jwt.claims, &self.client_id, now_unix)?;
        let alg = self.allowed_algorithm(&header.alg)?;
        let kid = self.check_signature(jwt, &header, alg).await?;
        let user = token::map_claims(&jwt.claims, &self.claim_mapping())?;
        let detail = self.detail(kid.as_deref(), &header.alg, validity.expires_unix);
        Ok(Authenticated {
            user: user.with_authenticated_group(),
            method: Method::Oidc,
            detail,
            // kube's OIDC authenticator is audience-agnostic: the union answers with the API
            // server's audiences (`WrapAudienceAgnosticToken`), not the client id.
            audiences: Vec::new(),
        })
    }

    /// The decision path: which issuer, which key, which claims, until when. Never a token.
    fn detail(&self, kid: Option<&str>, alg: &str, expires_unix: f64) -> String {
        let key = kid.map_or("without kid".to_string(), |kid| format!("{kid:?}"));
        let groups = self.groups_claim.as_deref().map_or(String::new(), |claim| {
            format!(", groups from claim {claim:?}")
        });
        format!(
            "oidc: ID token of issuer {:?}, signed with key {key} ({alg}); username from claim {:?}{groups}; expires {}",
            self.issuer_url,
            self.username_claim,
            format_rfc3339(expires_unix as i64),
        )
    }

    fn allowed_algorithm(&self, alg: &str) -> Result<Algorithm, String> {
        let unsupported = || {
            format!(
                "oidc: verify token: oidc: id token signed with unsupported algorithm, expected {} got {alg:?}",
                token::go_quoted_list(&self.signing_algs)
            )
        };
        if !self.signing_algs.iter().any(|allowed| allowed == alg) {
            return Err(unsupported());
        }
        jwks::signing_algorithm(alg).ok_or_else(unsupported)
    }

    /// The signature against the cached keys; when no key fits, against fresh ones.
    async fn check_signature(
        &self,
        jwt: &UnverifiedJwt<'_>,
        header: &JoseHeader,
        alg: Algorithm,
    ) -> Result<Option<String>, String> {
        let cached = self.keys.current();
        match jwks::check_signature(&cached.keys, jwt, header, alg) {
            SignatureCheck::Verified { kid } => return Ok(kid),
            SignatureCheck::Rejected => return Err(bad_signature(header)),
            SignatureCheck::NoKey => {}
        }
        let fresh = self.keys.refresh(cached.generation).await?;
        match jwks::check_signature(&fresh.keys, jwt, header, alg) {
            SignatureCheck::Verified { kid } => Ok(kid),
            SignatureCheck::Rejected => Err(bad_signature(header)),
            SignatureCheck::NoKey => Err(format!(
                "oidc: verify token: failed to verify signature: no key of the issuer fits the token (kid {:?}, alg {:?}); keys are fetched again at most every {:?}",
                header.kid.as_deref().unwrap_or(""),
                header.alg,
                self.keys.min_refresh_interval()
            )),
        }
    }

    fn claim_mapping(&self) -> ClaimMapping<'_> {
        ClaimMapping {
            username_claim: &self.username_claim,
            username_prefix: &self.username_prefix,
            groups_claim: self.groups_claim.as_deref(),
            groups_prefix: &self.groups_prefix,
            required_claims: &self.required_claims,
        }
    }
}

fn bad_signature(header: &JoseHeader) -> String {
    format!(
        "oidc: verify token: failed to verify signature: failed to verify id token signature (kid {:?})",
        header.kid.as_deref().unwrap_or("")
    )
}

/// kube's rule for `--oidc-username-prefix`.
fn resolve_username_prefix(config: &OidcConfig) -> String {
    match config.username_prefix.as_deref() {
        Some("-") => String::new(),
        Some(prefix) if !prefix.is_empty() => prefix.to_string(),
        _ if config.username_claim == "email" => String::new(),
        _ => format!("{}#", config.issuer_url),
    }
}

fn validate_issuer_url(url: &str) -> Result<(), ConfigError> {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    if scheme != "https" {
        return Err(ConfigError(format!(
            "'oidc-issuer-url' ({url:?}) has invalid scheme ({scheme:?}), require 'https'"
        )));
    }
    if url.contains('?') {
        return Err(ConfigError(format!(
            "'oidc-issuer-url' ({url:?}) must not have a query"
        )));
    }
    https::parse_https_url(url)
        .map(|_| ())
        .map_err(|why| ConfigError(format!("'oidc-issuer-url': {why}")))
}

/// The algorithms, default RS256; kube's allow-list (less ES512, see [`jwks::signing_algorithm`]).
fn validate_signing_algs(algs: &[String]) -> Result<Vec<String>, ConfigError> {
    if algs.is_empty() {
        return Ok(vec!["RS256".to_string()]);
    }
    for alg in algs {
        if jwks::signing_algorithm(alg).is_none() {
            return Err(ConfigError(format!(
                "oidc: unsupported signing alg: {alg:?}"
            )));
        }
    }
    Ok(algs.to_vec())
}

/// The TLS client of the key fetches: the configured CAs only, ring, HTTP/1.1.
fn client_tls(ca_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, ConfigError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        ConfigError(format!("oidc: failed to read the CA contents: {e}"))
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots
            .add(cert.map_err(|e| unreadable(&e))?)
            .map_err(|e| unreadable(&e))?;
    }
    if roots.is_empty() {
        return Err(unreadable(&"no PEM certificate in it"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| unreadable(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(tls))
}
