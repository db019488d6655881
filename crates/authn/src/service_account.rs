//! ServiceAccount tokens: issued for TokenRequest ([`TokenIssuer`]) and verified on every
//! request ([`ServiceAccountAuthenticator`]), as kube's `pkg/serviceaccount` (`jwt.go`,
//! `claims.go`) does for bound tokens.
//!
//! A token is a compact JWS: `base64url(header).base64url(claims).base64url(signature)`,
//! signed RS256 with an RSA key or ES256 with a P-256 key, straight on ring. The header's
//! `alg` is checked against what our keys can do before any signature is computed, so `none`
//! and the HMAC algorithms (whose "secret" an attacker would pick as our public key) never
//! reach a verifier. ES256 signatures use ring's random nonce: two tokens of the same claims
//! differ; RS256 ones are deterministic.
//!
//! Times follow go-jose's `Claims.Validate` with its default leeway of 60 s, as kube's
//! validator does: expired once `now - 60 s > exp`, not valid yet while `now + 60 s < nbf`,
//! refused while `now + 60 s < iat`. Unlike go-jose, a token without `exp` is refused: kube
//! never issues one, and a token that never expires is what bound tokens exist to prevent.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use kubesim_api::user::{UserInfo, service_account_groups, service_account_username};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use rustls::pki_types::pem::{PemObject, SectionKind};
use serde::{Deserialize, Serialize};
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::add_authenticated_group;
use crate::x509::CREDENTIAL_ID_KEY;
use crate::{Authenticated, AuthnError, BoundKind, ConfigError, Method, ObjectLookup};

/// The `extra` keys kube sets for a token bound to a pod.
pub const POD_NAME_KEY: &str = "authentication.kubernetes.io/pod-name";
pub const POD_UID_KEY: &str = "authentication.kubernetes.io/pod-uid";

/// go-jose's `DefaultLeeway`, which kube's validator applies to `exp`, `nbf` and `iat`.
pub const LEEWAY: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Keys

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Rs256,
    Es256,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
        }
    }

    fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "RS256" => Some(Algorithm::Rs256),
            "ES256" => Some(Algorithm::Es256),
            _ => None,
        }
    }
}

/// A verification key and kube's id for it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PublicKey {
    algorithm: Algorithm,
    /// PKCS#1 `RSAPublicKey` (RSA) or the uncompressed point (P-256): what ring verifies with.
    key: Vec<u8>,
    /// The DER `SubjectPublicKeyInfo`, as Go's `x509.MarshalPKIXPublicKey` writes it.
    spki: Vec<u8>,
    /// kube's `keyIDFromPublicKey`: base64url (unpadded) of the SHA-256 of `spki`.
    key_id: String,
}

// DER of the AlgorithmIdentifier OIDs: rsaEncryption (with its NULL), id-ecPublicKey and
// prime256v1.
const RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const PRIME256V1: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

impl PublicKey {
    fn new(algorithm: Algorithm, key: &[u8]) -> PublicKey {
        let identifier = match algorithm {
            Algorithm::Rs256 => RSA_ENCRYPTION.to_vec(),
            Algorithm::Es256 => [EC_PUBLIC_KEY, PRIME256V1].concat(),
        };
        let bits = [&[0u8][..], key].concat();
        let spki = der(0x30, &[der(0x30, &identifier), der(0x03, &bits)].concat());
        let digest = ring::digest::digest(&ring::digest::SHA256, &spki);
        PublicKey {
            algorithm,
            key: key.to_vec(),
            key_id: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            spki,
        }
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let algorithm: &dyn signature::VerificationAlgorithm = match self.algorithm {
            Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
        };
        UnparsedPublicKey::new(algorithm, &self.key)
            .verify(message, signature)
            .is_ok()
    }

    /// `-----BEGIN PUBLIC KEY-----`, as `openssl pkey -pubout` writes it.
    fn pem(&self) -> String {
        let body = STANDARD.encode(&self.spki);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// A `PUBLIC KEY` (SubjectPublicKeyInfo) of RSA or P-256; `None` for other keys.
    fn from_spki(spki_der: &[u8]) -> Option<PublicKey> {
        let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der).ok()?;
        let key = spki.subject_public_key.data.as_ref();
        let algorithm = &spki.algorithm;
        if algorithm.algorithm == OID_PKCS1_RSAENCRYPTION {
            return Some(PublicKey::new(Algorithm::Rs256, key));
        }
        let curve = algorithm.parameters.as_ref()?.as_oid().ok()?;
        (algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY && curve == OID_EC_P256)
            .then(|| PublicKey::new(Algorithm::Es256, key))
    }
}

/// A DER TLV.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

/// A SEC1 `EC PRIVATE KEY` of P-256 wrapped as PKCS#8, the only form ring reads.
fn sec1_to_pkcs8(sec1: &[u8]) -> Vec<u8> {
    let version = der(0x02, &[0]);
    let identifier = der(0x30, &[EC_PUBLIC_KEY, PRIME256V1].concat());
    der(0x30, &[version, identifier, der(0x04, sec1)].concat())
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

impl Signer {
    /// The first private key of a PEM: PKCS#1 or PKCS#8 RSA, PKCS#8 or SEC1 P-256.
    fn from_pem(pem: &[u8]) -> Result<Signer, String> {
        for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
            let (kind, der) = section.map_err(|e| e.to_string())?;
            if let Some(signer) = Signer::from_section(kind, &der) {
                return signer;
            }
        }
        Err("no private key in it".to_string())
    }

    /// `None` when the section is not a private key.
    fn from_section(kind: SectionKind, der: &[u8]) -> Option<Result<Signer, String>> {
        let signer = match kind {
            SectionKind::RsaPrivateKey => RsaKeyPair::from_der(der)
                .map(Signer::Rsa)
                .map_err(|e| format!("RSA PRIVATE KEY: {e}")),
            SectionKind::PrivateKey => Signer::from_pkcs8(der),
            SectionKind::EcPrivateKey => Signer::ec(&sec1_to_pkcs8(der))
                .map_err(|e| format!("EC PRIVATE KEY (only P-256 is supported): {e}")),
            _ => return None,
        };
        Some(signer)
    }

    fn from_pkcs8(der: &[u8]) -> Result<Signer, String> {
        if let Ok(rsa) = RsaKeyPair::from_pkcs8(der) {
            return Ok(Signer::Rsa(rsa));
        }
        Signer::ec(der).map_err(|_| "PRIVATE KEY: neither RSA nor ECDSA P-256".to_string())
    }

    fn ec(pkcs8: &[u8]) -> Result<Signer, ring::error::KeyRejected> {
        let algorithm = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        EcdsaKeyPair::from_pkcs8(algorithm, pkcs8, &SystemRandom::new()).map(Signer::Ec)
    }

    fn public_key(&self) -> PublicKey {
        match self {
            Signer::Rsa(key) => PublicKey::new(Algorithm::Rs256, key.public().as_ref()),
            Signer::Ec(key) => PublicKey::new(Algorithm::Es256, key.public_key().as_ref()),
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ring::error::Unspecified> {
        let rng = SystemRandom::new();
        match self {
            Signer::Rsa(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut signature)?;
                Ok(signature)
            }
            Signer::Ec(key) => Ok(key.sign(&rng, message)?.as_ref().to_vec()),
        }
    }
}

/// Every RSA or P-256 public key of a PEM (public keys, certificates, and the public half of
/// private keys), as kube's `keyutil.ParsePublicKeysPEM` reads `--service-account-key-file`:
/// other blocks are skipped, but a file without any key is an error.
fn public_keys_from_pem(pem: &[u8]) -> Result<Vec<PublicKey>, String> {
    let mut keys = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        let (kind, der) = section.map_err(|e| e.to_string())?;
        let key = match kind {
            SectionKind::PublicKey => PublicKey::from_spki(&der),
            SectionKind::Certificate => x509_parser::parse_x509_certificate(&der)
                .ok()
                .and_then(|(_, cert)| PublicKey::from_spki(cert.public_key().raw)),
            kind => Signer::from_section(kind, &der)
                .and_then(Result::ok)
                .map(|signer| signer.public_key()),
        };
        keys.extend(key);
    }
    if keys.is_empty() {
        return Err("data does not contain any valid RSA or ECDSA (P-256) public keys".to_string());
    }
    Ok(keys)
}

// ---------------------------------------------------------------------------------------------
// Claims

/// `{name, uid}` of an object a token names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct ObjectRef {
    #[serde(default)]
    name: String,
    #[serde(default)]
    uid: String,
}

/// The `kubernetes.io` claim. Fields in the order kube's tokens have them (alphabetical: go-jose
/// writes claims through a map).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PrivateClaims {
    #[serde(default)]
    namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pod: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret: Option<ObjectRef>,
    #[serde(default)]
    serviceaccount: ObjectRef,
}

/// A token's claims as issued, in kube's (alphabetical) order.
#[derive(Serialize)]
struct IssuedClaims<'a> {
    aud: &'a [String],
    exp: i64,
    iat: i64,
    iss: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    jti: &'a str,
    #[serde(rename = "kubernetes.io")]
    kubernetes: PrivateClaims,
    nbf: i64,
    sub: String,
}

/// A token's claims as read; `aud` may be one string or a list, dates may be fractional.
#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    iss: String,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    exp: Option<serde_json::Number>,
    #[serde(default)]
    nbf: Option<serde_json::Number>,
    #[serde(default)]
    iat: Option<serde_json::Number>,
    #[serde(default)]
    jti: String,
    #[serde(default, rename = "kubernetes.io")]
    kubernetes: Option<PrivateClaims>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Claims {
    fn audiences(&self) -> Vec<String> {
        match &self.aud {
            None => Vec::new(),
            Some(Audience::One(aud)) => vec![aud.clone()],
            Some(Audience::Many(auds)) => auds.clone(),
        }
    }
}

/// A NumericDate as a time since the epoch (before the epoch reads as the epoch).
fn numeric_date(value: &serde_json::Number) -> Duration {
    let seconds = value
        .as_i64()
        .or_else(|| value.as_f64().map(|f| f as i64))
        .unwrap_or(0);
    Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

// ---------------------------------------------------------------------------------------------
// Issuing

/// A Pod or Secret a token is bound to: the token dies with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundObject {
    pub kind: BoundKind,
    pub name: String,
    pub uid: String,
}

/// What a TokenRequest asks for, after the API server filled its defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRequest {
    pub namespace: String,
    pub service_account_name: String,
    pub service_account_uid: String,
    pub audiences: Vec<String>,
    /// From the seam's clock.
    pub issued_at: Duration,
    pub expiration_seconds: i64,
    pub bound: Option<BoundObject>,
    /// `jti`; becomes the `credential-id` extra (`JTI=<id>`) of requests that use the token.
    pub token_id: String,
}

/// Signs ServiceAccount tokens with `--service-account-signing-key-file`, as issuer
/// `--service-account-issuer` (the first one).
pub struct TokenIssuer {
    signer: Signer,
    public_key: PublicKey,
    issuer: String,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("issuer", &self.issuer)
            .field("algorithm", &self.algorithm())
            .field("key_id", &self.public_key.key_id)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    pub fn from_pem(private_key_pem: &[u8], issuer: &str) -> Result<TokenIssuer, ConfigError> {
        if issuer.is_empty() {
            return Err(ConfigError(
                "--service-account-issuer is required".to_string(),
            ));
        }
        let signer = Signer::from_pem(private_key_pem)
            .map_err(|e| ConfigError(format!("--service-account-signing-key-file: {e}")))?;
        Ok(TokenIssuer {
            public_key: signer.public_key(),
            signer,
            issuer: issuer.to_string(),
        })
    }

    /// A signed token. Errors are requests the API server should not have let through
    /// (no audience, a non-positive lifetime, a token bound to a ServiceAccount).
    pub fn issue(&self, request: &IssueRequest) -> Result<String, ConfigError> {
        let claims = self.claims(request)?;
        let header = serde_json::json!({
            "alg": self.algorithm(),
            "kid": self.public_key.key_id,
        });
        self.sign(
            &header,
            &serde_json::to_value(&claims).map_err(|e| ConfigError(e.to_string()))?,
        )
    }

    fn claims<'a>(&'a self, request: &'a IssueRequest) -> Result<IssuedClaims<'a>, ConfigError> {
        if request.audiences.is_empty() {
            return Err(ConfigError(
                "a token needs at least one audience".to_string(),
            ));
        }
        if request.expiration_seconds <= 0 {
            return Err(ConfigError(
                "a token's expirationSeconds must be positive".to_string(),
            ));
        }
        let iat = i64::try_from(request.issued_at.as_secs()).unwrap_or(i64::MAX);
        let exp = iat.saturating_add(request.expiration_seconds);
        let mut kubernetes = PrivateClaims {
            namespace: request.namespace.clone(),
            serviceaccount: ObjectRef {
                name: request.service_account_name.clone(),
                uid: request.service_account_uid.clone(),
            },
            ..PrivateClaims::default()
        };
        if let Some(bound) = &request.bound {
            let object = ObjectRef {
                name: bound.name.clone(),
                uid: bound.uid.clone(),
            };
            match bound.kind {
                BoundKind::Pod => kubernetes.pod = Some(object),
                BoundKind::Secret => kubernetes.secret = Some(object),
                BoundKind::ServiceAccount => {
                    return Err(ConfigError(
                        "a token binds to a Pod or a Secret".to_string(),
                    ));
                }
            }
        }
        Ok(IssuedClaims {
            aud: &request.audiences,
            exp,
            iat,
            iss: &self.issuer,
            jti: &request.token_id,
            kubernetes,
            nbf: iat,
            sub: service_account_username(&request.namespace, &request.service_account_name),
        })
    }

    /// The compact JWS of a header and claims.
    fn sign(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> Result<String, ConfigError> {
        let mut token = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .signer
            .sign(token.as_bytes())
            .map_err(|_| ConfigError("signing the token failed".to_string()))?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(token)
    }

    /// The verification key, `-----BEGIN PUBLIC KEY-----`: what `--service-account-key-file`
    /// (so [`VerifierConfig::public_key_pems`]) needs to accept this issuer's tokens.
    pub fn public_key_pem(&self) -> String {
        self.public_key.pem()
    }

    /// `RS256` or `ES256`.
    pub fn algorithm(&self) -> &'static str {
        self.public_key.algorithm.name()
    }

    /// The `kid` of every token this issuer signs.
    pub fn key_id(&self) -> &str {
        &self.public_key.key_id
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

// ---------------------------------------------------------------------------------------------
// Verifying

/// kube-apiserver's ServiceAccount token flags.
#[derive(Clone, Default)]
pub struct VerifierConfig {
    /// `--service-account-key-file`: PEMs of public keys, certificates or private keys (the
    /// public half is used), RSA or P-256.
    pub public_key_pems: Vec<Vec<u8>>,
    /// `--service-account-issuer`: tokens of these issuers are ours; the first issues.
    pub issuers: Vec<String>,
    /// `--api-audiences`; empty means the issuers, as kube-apiserver defaults it.
    pub api_audiences: Vec<String>,
    /// Whether the ServiceAccount and the bound Pod or Secret must still exist with the
    /// token's UIDs (`--service-account-lookup`).
    pub lookup: bool,
}

impl std::fmt::Debug for VerifierConfig {
    // The key files may hold private keys: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierConfig")
            .field("public_key_pems", &self.public_key_pems.len())
            .field("issuers", &self.issuers)
            .field("api_audiences", &self.api_audiences)
            .field("lookup", &self.lookup)
            .finish()
    }
}

/// Verifies ServiceAccount tokens of our issuers.
pub struct ServiceAccountAuthenticator {
    keys: Vec<PublicKey>,
    issuers: Vec<String>,
    /// `--api-audiences`, or the issuers when that is empty.
    api_audiences: Vec<String>,
    lookup: bool,
    objects: Arc<dyn ObjectLookup>,
}

impl std::fmt::Debug for ServiceAccountAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key_ids: Vec<&str> = self.keys.iter().map(|k| k.key_id.as_str()).collect();
        f.debug_struct("ServiceAccountAuthenticator")
            .field("key_ids", &key_ids)
            .field("issuers", &self.issuers)
            .field("api_audiences", &self.api_audiences)
            .field("lookup", &self.lookup)
            .finish_non_exhaustive()
    }
}

/// A token split into its three parts, not verified yet.
struct Jws<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl<'a> Jws<'a> {
    /// kube's `hasCorrectIssuer` shape test: three dot-separated parts, not a JSON object.
    fn split(token: &'a str) -> Option<Jws<'a>> {
        if token.trim_start().starts_with('{') {
            return None;
        }
        let mut parts = token.split('.');
        let jws = Jws {
            header: parts.next()?,
            payload: parts.next()?,
            signature: parts.next()?,
        };
        parts.next().is_none().then_some(jws)
    }

    /// `iss` read before the signature is checked: only to decide whether the token is ours.
    fn unverified_issuer(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct Issuer {
            iss: String,
        }
        let payload = URL_SAFE_NO_PAD.decode(self.payload).ok()?;
        serde_json::from_slice::<Issuer>(&payload)
            .ok()
            .map(|c| c.iss)
    }

    fn signing_input(&self) -> String {
        format!("{}.{}", self.header, self.payload)
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: String,
}

impl ServiceAccountAuthenticator {
    pub fn new(config: VerifierConfig, lookup: Arc<dyn ObjectLookup>) -> Result<Self, ConfigError> {
        if config.issuers.is_empty() || config.issuers.iter().any(String::is_empty) {
            return Err(ConfigError(
                "--service-account-issuer is required".to_string(),
            ));
        }
        if config.public_key_pems.is_empty() {
            return Err(ConfigError(
                "--service-account-key-file is required".to_string(),
            ));
        }
        let mut keys = Vec::new();
        for (i, pem) in config.public_key_pems.iter().enumerate() {
            let found = public_keys_from_pem(pem)
                .map_err(|e| ConfigError(format!("--service-account-key-file #{}: {e}", i + 1)))?;
            keys.extend(found);
        }
        let api_audiences = if config.api_audiences.is_empty() {
            config.issuers.clone()
        } else {
            config.api_audiences
        };
        Ok(ServiceAccountAuthenticator {
            keys,
            issuers: config.issuers,
            api_audiences,
            lookup: config.lookup,
            objects: lookup,
        })
    }

    /// `--api-audiences` in effect (the issuers when the flag is empty).
    pub fn api_audiences(&self) -> &[String] {
        &self.api_audiences
    }

    /// A request's bearer token, for the API audiences. `Ok(None)`: not a JWT, or not one of
    /// our issuers (another authenticator may take it).
    pub async fn authenticate(
        &self,
        token: &str,
        now: Duration,
    ) -> Result<Option<Authenticated>, AuthnError> {
        self.authenticate_for(token, now, &self.api_audiences).await
    }

    /// As [`Self::authenticate`], for other audiences (TokenReview's `spec.audiences`; empty
    /// means the API audiences).
    pub async fn authenticate_for(
        &self,
        token: &str,
        now: Duration,
        audiences: &[String],
    ) -> Result<Option<Authenticated>, AuthnError> {
        let Some(jws) = Jws::split(token) else {
            return Ok(None);
        };
        let Some(issuer) = jws.unverified_issuer() else {
            return Ok(None);
        };
        if !self.issuers.contains(&issuer) {
            return Ok(None);
        }
        let audiences = if audiences.is_empty() {
            &self.api_audiences[..]
        } else {
            audiences
        };
        let failed = |e: String| AuthnError::new(format!("serviceaccount: {e}"));
        let (claims, key_id) = self.verify_signature(&jws).map_err(failed)?;
        let matched = self.check_claims(&claims, now, audiences).map_err(failed)?;
        let kubernetes = private_claims(&claims).map_err(failed)?;
        if self.lookup {
            self.check_objects(kubernetes).await.map_err(failed)?;
        }
        Ok(Some(identity(&claims, kubernetes, matched, &key_id)))
    }

    /// The claims, once the signature verifies with one of our keys; and that key's id.
    fn verify_signature(&self, jws: &Jws<'_>) -> Result<(Claims, String), String> {
        let header: Header = URL_SAFE_NO_PAD
            .decode(jws.header)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or("the token's header cannot be read")?;
        // Before anything is computed: `none` and HS256 must never meet a key.
        let algorithm = Algorithm::from_name(&header.alg).ok_or_else(|| {
            format!(
                "token signed with {:?}: only RS256 and ES256 are accepted",
                header.alg
            )
        })?;
        let by_id: Vec<&PublicKey> = self
            .keys
            .iter()
            .filter(|k| header.kid.is_empty() || k.key_id == header.kid)
            .collect();
        if by_id.is_empty() {
            return Err(format!(
                "invalid signature, no keys found (kid {:?})",
                header.kid
            ));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(jws.signature)
            .map_err(|_| "invalid signature: not base64url".to_string())?;
        let message = jws.signing_input();
        let key = by_id
            .into_iter()
            .filter(|k| k.algorithm == algorithm)
            .find(|k| k.verify(message.as_bytes(), &signature))
            .ok_or_else(|| {
                format!(
                    "invalid signature: no {} key of --service-account-key-file verifies it",
                    algorithm.name()
                )
            })?;
        let claims = URL_SAFE_NO_PAD
            .decode(jws.payload)
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or("the token's claims cannot be read")?;
        Ok((claims, key.key_id.clone()))
    }

    /// Issuer, audience and times, in kube's order; the audiences that matched.
    fn check_claims(
        &self,
        claims: &Claims,
        now: Duration,
        audiences: &[String],
    ) -> Result<Vec<String>, String> {
        // The issuer was read before the signature was checked; the signed claims decide.
        if !self.issuers.contains(&claims.iss) {
            return Err(format!("token issuer {:?} is invalid", claims.iss));
        }
        let mut token_audiences = claims.audiences();
        if token_audiences.is_empty() {
            token_audiences = self.api_audiences.clone();
        }
        let matched: Vec<String> = audiences
            .iter()
            .filter(|a| token_audiences.contains(a))
            .cloned()
            .collect();
        if matched.is_empty() {
            return Err(format!(
                "token audiences {token_audiences:?} is invalid for the target audiences {audiences:?}"
            ));
        }
        check_times(claims, now)?;
        Ok(matched)
    }

    /// The ServiceAccount, then the bound Secret, then the bound Pod, as kube checks them.
    async fn check_objects(&self, claims: &PrivateClaims) -> Result<(), String> {
        let namespace = &claims.namespace;
        let account = &claims.serviceaccount;
        let found = self
            .objects
            .uid(BoundKind::ServiceAccount, namespace, &account.name)
            .await
            .map_err(|e| {
                format!(
                    "looking up serviceaccount {namespace}/{}: {e}",
                    account.name
                )
            })?;
        match found {
            None => return Err(format!("serviceaccounts {:?} not found", account.name)),
            Some(uid) if uid != account.uid => {
                return Err(format!(
                    "service account UID ({uid}) does not match claim ({})",
                    account.uid
                ));
            }
            Some(_) => {}
        }
        if let Some(secret) = &claims.secret {
            self.check_bound(BoundKind::Secret, "secret", namespace, secret)
                .await?;
        }
        if let Some(pod) = &claims.pod {
            self.check_bound(BoundKind::Pod, "pod", namespace, pod)
                .await?;
        }
        Ok(())
    }

    async fn check_bound(
        &self,
        kind: BoundKind,
        noun: &str,
        namespace: &str,
        object: &ObjectRef,
    ) -> Result<(), String> {
        let name = &object.name;
        let found = self
            .objects
            .uid(kind, namespace, name)
            .await
            .map_err(|e| format!("service account token has been invalidated: looking up {noun} {namespace}/{name}: {e}"))?;
        match found {
            None => Err(format!(
                "service account token has been invalidated: {noun} {namespace}/{name} not found"
            )),
            Some(uid) if uid != object.uid => Err(format!(
                "{noun} UID ({uid}) does not match service account {noun} ref claim ({})",
                object.uid
            )),
            Some(_) => Ok(()),
        }
    }
}

/// go-jose's checks with kube's messages, `nbf` first; plus: `exp` is required.
fn check_times(claims: &Claims, now: Duration) -> Result<(), String> {
    if let Some(nbf) = &claims.nbf
        && now + LEEWAY < numeric_date(nbf)
    {
        return Err("service account token is not valid yet".to_string());
    }
    let Some(exp) = &claims.exp else {
        return Err("service account token has no expiry (exp)".to_string());
    };
    if now > numeric_date(exp) + LEEWAY {
        return Err("service account token has expired".to_string());
    }
    if let Some(iat) = &claims.iat
        && now + LEEWAY < numeric_date(iat)
    {
        return Err("service account token is issued in the future".to_string());
    }
    Ok(())
}

fn private_claims(claims: &Claims) -> Result<&PrivateClaims, String> {
    let kubernetes = claims
        .kubernetes
        .as_ref()
        .ok_or("the token has no kubernetes.io claim")?;
    if kubernetes.namespace.is_empty() || kubernetes.serviceaccount.name.is_empty() {
        return Err(
            "the token's kubernetes.io claim names no namespace or ServiceAccount".to_string(),
        );
    }
    Ok(kubernetes)
}

/// kube's `ServiceAccountInfo.UserInfo()`.
fn identity(
    claims: &Claims,
    kubernetes: &PrivateClaims,
    audiences: Vec<String>,
    key_id: &str,
) -> Authenticated {
    let namespace = &kubernetes.namespace;
    let account = &kubernetes.serviceaccount;
    let mut user = UserInfo {
        username: service_account_username(namespace, &account.name),
        uid: account.uid.clone(),
        groups: service_account_groups(namespace),
        ..UserInfo::default()
    };
    let mut bound = String::new();
    if let Some(pod) = &kubernetes.pod
        && !pod.name.is_empty()
        && !pod.uid.is_empty()
    {
        user.extra
            .insert(POD_NAME_KEY.to_string(), vec![pod.name.clone()]);
        user.extra
            .insert(POD_UID_KEY.to_string(), vec![pod.uid.clone()]);
        bound = format!(", bound to pod {} (uid {})", pod.name, pod.uid);
    }
    if let Some(secret) = &kubernetes.secret {
        bound = format!(", bound to secret {} (uid {})", secret.name, secret.uid);
    }
    if !claims.jti.is_empty() {
        user.extra.insert(
            CREDENTIAL_ID_KEY.to_string(),
            vec![format!("JTI={}", claims.jti)],
        );
    }
    let expires = claims
        .exp
        .as_ref()
        .map(numeric_date)
        .unwrap_or_default()
        .as_secs();
    let detail = format!(
        "serviceaccount: token of {namespace}/{} (uid {}){bound}, expires {}, key {key_id}",
        account.name,
        account.uid,
        kubesim_api::time::format_rfc3339(i64::try_from(expires).unwrap_or(i64::MAX)),
    );
    Authenticated {
        user: add_authenticated_group(user),
        method: Method::ServiceAccount,
        detail,
        audiences,
    }
}

#[cfg(test)]
mod tests {
    use kubesim_api::user::ALL_AUTHENTICATED;
    use serde_json::{Value, json};

    use super::*;
    use crate::testing::{
        NOW, Objects, P256_C_PUBLIC, P256_C_SEC1, RSA_A_PKCS1, RSA_A_PUBLIC, RSA_B_PKCS8,
    };

    const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
    const KID_A: &str = "YF6DS3k8Sd1dvAhMEF-Q9tkD1YPXNf0U9h3-1S1FSNY";
    const KID_B: &str = "zyLFhB3DxmQmhceJ1J58wlfI8Sd_niPLdjlOuxIM5xc";
    const KID_C: &str = "xUKmhuLU86ma35NUC56Dtqg3Kr6CNksbS831bHC2acM";

    fn issuer(pem: &str) -> TokenIssuer {
        TokenIssuer::from_pem(pem.as_bytes(), ISSUER).unwrap()
    }

    fn request() -> IssueRequest {
        IssueRequest {
            namespace: "prod".to_string(),
            service_account_name: "deploy-bot".to_string(),
            service_account_uid: "sa-uid-1".to_string(),
            audiences: vec![ISSUER.to_string()],
            issued_at: NOW,
            expiration_seconds: 3600,
            bound: Some(BoundObject {
                kind: BoundKind::Pod,
                name: "web-0".to_string(),
                uid: "pod-uid-1".to_string(),
            }),
            token_id: "jti-1".to_string(),
        }
    }

    /// The ServiceAccount and pod of [`request`], as they exist.
    fn objects() -> Arc<Objects> {
        let objects = Arc::new(Objects::default());
        objects.put(BoundKind::ServiceAccount, "prod", "deploy-bot", "sa-uid-1");
        objects.put(BoundKind::Pod, "prod", "web-0", "pod-uid-1");
        objects.put(BoundKind::Secret, "prod", "bot-token", "secret-uid-1");
        objects
    }

    fn verifier_with(
        pems: &[&str],
        objects: Arc<Objects>,
        lookup: bool,
    ) -> ServiceAccountAuthenticator {
        let config = VerifierConfig {
            public_key_pems: pems.iter().map(|p| p.as_bytes().to_vec()).collect(),
            issuers: vec![ISSUER.to_string(), "https://old.example".to_string()],
            api_audiences: vec![],
            lookup,
        };
        ServiceAccountAuthenticator::new(config, objects).unwrap()
    }

    fn verifier(pems: &[&str]) -> ServiceAccountAuthenticator {
        verifier_with(pems, objects(), true)
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn verify(
        verifier: &ServiceAccountAuthenticator,
        token: &str,
        now: Duration,
    ) -> Result<Option<Authenticated>, AuthnError> {
        block_on(verifier.authenticate(token, now))
    }

    /// The detail of a refused token.
    fn refusal(verifier: &ServiceAccountAuthenticator, token: &str, now: Duration) -> String {
        verify(verifier, token, now).unwrap_err().detail
    }

    /// `[header, claims]` of a token, as JSON text (field order included).
    fn parts(token: &str) -> [String; 2] {
        let mut parts = token.split('.');
        let mut text =
            || String::from_utf8(URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
        [text(), text()]
    }

    /// [`request`]'s claims, changed by `edit`, signed by `issuer` with `header`.
    fn forged(issuer: &TokenIssuer, header: Value, edit: impl FnOnce(&mut Value)) -> String {
        let mut claims = serde_json::to_value(issuer.claims(&request()).unwrap()).unwrap();
        edit(&mut claims);
        issuer.sign(&header, &claims).unwrap()
    }

    #[test]
    fn rs256_tokens_have_kubes_header_and_claims() {
        let issuer = issuer(RSA_A_PKCS1);
        assert_eq!(issuer.algorithm(), "RS256");
        assert_eq!(issuer.key_id(), KID_A);
        let token = issuer.issue(&request()).unwrap();
        let [header, claims] = parts(&token);
        assert_eq!(header, format!(r#"{{"alg":"RS256","kid":"{KID_A}"}}"#));
        assert_eq!(
            claims,
            concat!(
                r#"{"aud":["https://kubernetes.default.svc.cluster.local"],"exp":1748739600,"#,
                r#""iat":1748736000,"iss":"https://kubernetes.default.svc.cluster.local","jti":"jti-1","#,
                r#""kubernetes.io":{"namespace":"prod","pod":{"name":"web-0","uid":"pod-uid-1"},"#,
                r#""serviceaccount":{"name":"deploy-bot","uid":"sa-uid-1"}},"nbf":1748736000,"#,
                r#""sub":"system:serviceaccount:prod:deploy-bot"}"#
            )
        );
        // RS256 is deterministic.
        assert_eq!(issuer.issue(&request()).unwrap(), token);
    }

    #[test]
    fn rs256_round_trip_is_the_service_account_with_kubes_extras() {
        let token = issuer(RSA_A_PKCS1).issue(&request()).unwrap();
        let got = verify(&verifier(&[RSA_A_PUBLIC]), &token, NOW)
            .unwrap()
            .unwrap();
        assert_eq!(got.user.username, "system:serviceaccount:prod:deploy-bot");
        assert_eq!(got.user.uid, "sa-uid-1");
        assert_eq!(
            got.user.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:prod",
                ALL_AUTHENTICATED
            ]
        );
        let extra: Vec<(&str, Vec<String>)> = got
            .user
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        assert_eq!(
            extra,
            [
                (
                    "authentication.kubernetes.io/credential-id",
                    vec!["JTI=jti-1".to_string()]
                ),
                (
                    "authentication.kubernetes.io/pod-name",
                    vec!["web-0".to_string()]
                ),
                (
                    "authentication.kubernetes.io/pod-uid",
                    vec!["pod-uid-1".to_string()]
                ),
            ]
        );
        assert_eq!(got.method, Method::ServiceAccount);
        assert_eq!(got.audiences, [ISSUER]);
        assert_eq!(
            got.detail,
            format!(
                "serviceaccount: token of prod/deploy-bot (uid sa-uid-1), bound to pod web-0 \
                 (uid pod-uid-1), expires 2025-06-01T01:00:00Z, key {KID_A}"
            )
        );
    }

    #[test]
    fn es256_round_trip_from_sec1_and_pkcs8_keys() {
        let sec1 = issuer(P256_C_SEC1);
        assert_eq!((sec1.algorithm(), sec1.key_id()), ("ES256", KID_C));
        let token = sec1.issue(&request()).unwrap();
        assert_eq!(
            parts(&token)[0],
            format!(r#"{{"alg":"ES256","kid":"{KID_C}"}}"#)
        );
        let got = verify(&verifier(&[P256_C_PUBLIC]), &token, NOW)
            .unwrap()
            .unwrap();
        assert_eq!(got.user.username, "system:serviceaccount:prod:deploy-bot");

        let generated = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let pkcs8 = issuer(&generated);
        assert_eq!(pkcs8.algorithm(), "ES256");
        let token = pkcs8.issue(&request()).unwrap();
        let public = pkcs8.public_key_pem();
        let got = verify(&verifier(&[&public]), &token, NOW).unwrap().unwrap();
        assert_eq!(got.user.uid, "sa-uid-1");
    }

    #[test]
    fn pkcs8_rsa_keys_and_private_key_files_verify() {
        let b = issuer(RSA_B_PKCS8);
        assert_eq!((b.algorithm(), b.key_id()), ("RS256", KID_B));
        let token = b.issue(&request()).unwrap();
        // --service-account-key-file may name the private key itself, among other keys.
        let both = format!("{RSA_A_PUBLIC}{RSA_B_PKCS8}");
        let got = verify(&verifier(&[P256_C_PUBLIC, &both]), &token, NOW)
            .unwrap()
            .unwrap();
        assert_eq!(got.detail.rsplit(' ').next(), Some(KID_B));
    }

    #[test]
    fn public_key_pem_is_what_openssl_writes() {
        assert_eq!(issuer(RSA_A_PKCS1).public_key_pem(), RSA_A_PUBLIC);
        assert_eq!(issuer(P256_C_SEC1).public_key_pem(), P256_C_PUBLIC);
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let verifier = verifier(&[RSA_A_PUBLIC]);
        let token = issuer(RSA_B_PKCS8).issue(&request()).unwrap();
        assert_eq!(
            refusal(&verifier, &token, NOW),
            format!("serviceaccount: invalid signature, no keys found (kid {KID_B:?})")
        );
        // Claiming our key's id does not help.
        let b = issuer(RSA_B_PKCS8);
        let token = forged(&b, json!({"alg": "RS256", "kid": KID_A}), |_| {});
        assert_eq!(
            refusal(&verifier, &token, NOW),
            "serviceaccount: invalid signature: no RS256 key of --service-account-key-file verifies it"
        );
        let token = forged(&b, json!({"alg": "RS256"}), |_| {});
        assert_eq!(
            refusal(&verifier, &token, NOW),
            "serviceaccount: invalid signature: no RS256 key of --service-account-key-file verifies it"
        );
    }

    #[test]
    fn alg_none_is_refused() {
        let a = issuer(RSA_A_PKCS1);
        let token = a.issue(&request()).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD
            .encode(r#"{"alg":"none","kid":"YF6DS3k8Sd1dvAhMEF-Q9tkD1YPXNf0U9h3-1S1FSNY"}"#);
        let unsigned = format!("{header}.{payload}.");
        assert_eq!(
            refusal(&verifier(&[RSA_A_PUBLIC]), &unsigned, NOW),
            "serviceaccount: token signed with \"none\": only RS256 and ES256 are accepted"
        );
    }

    #[test]
    fn hs256_with_the_public_key_as_secret_is_refused() {
        let a = issuer(RSA_A_PKCS1);
        let token = a.issue(&request()).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","kid":"{KID_A}"}}"#));
        let input = format!("{header}.{payload}");
        let secret = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, RSA_A_PUBLIC.as_bytes());
        let mac = ring::hmac::sign(&secret, input.as_bytes());
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
        assert_eq!(
            refusal(&verifier(&[RSA_A_PUBLIC]), &token, NOW),
            "serviceaccount: token signed with \"HS256\": only RS256 and ES256 are accepted"
        );
    }

    #[test]
    fn an_es256_token_needs_an_ec_key() {
        let a = issuer(RSA_A_PKCS1);
        let token = forged(&a, json!({"alg": "ES256", "kid": KID_A}), |_| {});
        assert_eq!(
            refusal(&verifier(&[RSA_A_PUBLIC]), &token, NOW),
            "serviceaccount: invalid signature: no ES256 key of --service-account-key-file verifies it"
        );
    }

    #[test]
    fn expiry_and_not_before_allow_kubes_minute_of_leeway() {
        let verifier = verifier(&[RSA_A_PUBLIC]);
        let token = issuer(RSA_A_PKCS1).issue(&request()).unwrap();
        // Not LEEWAY: the test must fail if the constant drifts from kube's minute.
        let minute = Duration::from_secs(60);
        let exp = NOW + Duration::from_secs(3600);
        assert!(verify(&verifier, &token, exp + minute).unwrap().is_some());
        assert_eq!(
            refusal(&verifier, &token, exp + minute + Duration::from_millis(1)),
            "serviceaccount: service account token has expired"
        );
        assert!(verify(&verifier, &token, NOW - minute).unwrap().is_some());
        assert_eq!(
            refusal(&verifier, &token, NOW - minute - Duration::from_millis(1)),
            "serviceaccount: service account token is not valid yet"
        );
    }

    #[test]
    fn iat_in_the_future_and_a_missing_exp_are_refused() {
        let a = issuer(RSA_A_PKCS1);
        let verifier = verifier(&[RSA_A_PUBLIC]);
        let header = json!({"alg": "RS256", "kid": KID_A});
        let future_iat = forged(&a, header.clone(), |c| c["iat"] = json!(1_748_736_000 + 61));
        assert_eq!(
            refusal(&verifier, &future_iat, NOW),
            "serviceaccount: service account token is issued in the future"
        );
        let no_exp = forged(&a, header, |c| {
            c.as_object_mut().unwrap().remove("exp");
        });
        assert_eq!(
            refusal(&verifier, &no_exp, NOW),
            "serviceaccount: service account token has no expiry (exp)"
        );
    }

    #[test]
    fn another_issuer_or_not_a_jwt_is_not_ours() {
        let verifier = verifier(&[RSA_A_PUBLIC]);
        let a = issuer(RSA_A_PKCS1);
        let other = forged(&a, json!({"alg": "RS256", "kid": KID_A}), |c| {
            c["iss"] = json!("https://dex.example")
        });
        assert_eq!(verify(&verifier, &other, NOW), Ok(None));
        for token in [
            "31ada4fd-adec-460c-809a-9e56ceb75269",
            "a.b",
            "a.b.c.d",
            "{\"iss\":1}.x.y",
            "",
        ] {
            assert_eq!(verify(&verifier, token, NOW), Ok(None), "{token}");
        }
        // A second issuer of --service-account-issuer is ours too.
        let old = TokenIssuer::from_pem(RSA_A_PKCS1.as_bytes(), "https://old.example").unwrap();
        let mut request = request();
        request.audiences = vec!["https://old.example".to_string()];
        assert!(
            verify(&verifier, &old.issue(&request).unwrap(), NOW)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn the_audience_must_be_an_api_audience() {
        let verifier = verifier(&[RSA_A_PUBLIC]);
        let mut request = request();
        request.audiences = vec!["vault".to_string()];
        let token = issuer(RSA_A_PKCS1).issue(&request).unwrap();
        assert_eq!(
            refusal(&verifier, &token, NOW),
            "serviceaccount: token audiences [\"vault\"] is invalid for the target audiences \
             [\"https://kubernetes.default.svc.cluster.local\", \"https://old.example\"]"
        );
        let got = block_on(verifier.authenticate_for(&token, NOW, &["vault".to_string()]));
        assert_eq!(got.unwrap().unwrap().audiences, ["vault"]);
    }

    #[test]
    fn a_deleted_service_account_is_refused() {
        let objects = objects();
        objects.delete(BoundKind::ServiceAccount, "prod", "deploy-bot");
        let token = issuer(RSA_A_PKCS1).issue(&request()).unwrap();
        let verifier = verifier_with(&[RSA_A_PUBLIC], objects, true);
        assert_eq!(
            refusal(&verifier, &token, NOW),
            "serviceaccount: serviceaccounts \"deploy-bot\" not found"
        );
    }

    #[test]
    fn a_recreated_service_account_is_refused() {
        let objects = objects();
        objects.put(BoundKind::ServiceAccount, "prod", "deploy-bot", "sa-uid-2");
        let token = issuer(RSA_A_PKCS1).issue(&request()).unwrap();
        let verifier = verifier_with(&[RSA_A_PUBLIC], objects, true);
        assert_eq!(
            refusal(&verifier, &token, NOW),
            "serviceaccount: service account UID (sa-uid-2) does not match claim (sa-uid-1)"
        );
    }

    #[test]
    fn a_deleted_or_recreated_bound_pod_is_refused() {
        let token = issuer(RSA_A_PKCS1).issue(&request()).unwrap();
        let objects = objects();
        let verifier = verifier_with(&[RSA_A_PUBLIC], objects.clone(), true);
        objects.put(BoundKind::Pod, "prod", "web-0", "pod-uid-2");
        assert_eq!(
            refusal(&verifier, &token, NOW),
            "serviceaccount: pod UID (pod-uid-2) does not match service account pod ref claim (pod-uid-1)"
        );
        objects.delete(BoundKind::Pod, "prod", "web-0");
        assert_eq!(
            refusal(&verifier, &token, NOW),
            "serviceaccount: service account token has been invalidated: pod prod/web-0 not found"
        );
    }

    #[test]
    fn secret_bound_tokens_die_with_the_secret() {
        let mut request = request();
        request.bound = Some(BoundObject {
            kind: BoundKind::Secret,
            name: "bot-token".to_string(),
            uid: "secret-uid-1".to_string(),
        });
        let token = issuer(RSA_A_PKCS1).issue(&request).unwrap();
        assert!(parts(&token)[1].contains(r#""secret":{"name":"bot-token","uid":"secret-uid-1"}"#));
        let objects = objects();
        let verifier = verifier_with(&[RSA_A_PUBLIC], objects.clone(), true);
        let got = verify(&verifier, &token, NOW).unwrap().unwrap();
        assert_eq!(
            got.user.extra.len(),
            1,
            "only the credential id: {:?}",
            got.user.extra
        );
        objects.delete(BoundKind::Secret, "prod", "bot-token");
        assert_eq!(
            refusal(&verifier, &token, NOW),
            "serviceaccount: service account token has been invalidated: secret prod/bot-token not found"
        );
    }

    #[test]
    fn a_failed_lookup_is_refused_with_its_reason() {
        let objects = objects();
        *objects.failure.lock().unwrap() = Some("etcdserver: request timed out".to_string());
        let token = issuer(RSA_A_PKCS1).issue(&request()).unwrap();
        let verifier = verifier_with(&[RSA_A_PUBLIC], objects, true);
        assert_eq!(
            refusal(&verifier, &token, NOW),
            "serviceaccount: looking up serviceaccount prod/deploy-bot: etcdserver: request timed out"
        );
    }

    #[test]
    fn without_lookup_deleted_objects_are_not_checked() {
        let token = issuer(RSA_A_PKCS1).issue(&request()).unwrap();
        let verifier = verifier_with(&[RSA_A_PUBLIC], Arc::new(Objects::default()), false);
        assert!(verify(&verifier, &token, NOW).unwrap().is_some());
    }

    #[test]
    fn issue_refuses_requests_the_api_server_should_have_refused() {
        let a = issuer(RSA_A_PKCS1);
        let mut no_audience = request();
        no_audience.audiences.clear();
        assert_eq!(
            a.issue(&no_audience).unwrap_err().0,
            "a token needs at least one audience"
        );
        let mut no_lifetime = request();
        no_lifetime.expiration_seconds = 0;
        assert_eq!(
            a.issue(&no_lifetime).unwrap_err().0,
            "a token's expirationSeconds must be positive"
        );
        let mut bound_to_account = request();
        bound_to_account.bound.as_mut().unwrap().kind = BoundKind::ServiceAccount;
        assert_eq!(
            a.issue(&bound_to_account).unwrap_err().0,
            "a token binds to a Pod or a Secret"
        );
        let mut unbound = request();
        unbound.bound = None;
        unbound.token_id.clear();
        let [_, claims] = parts(&a.issue(&unbound).unwrap());
        assert!(
            !claims.contains("jti") && !claims.contains("pod"),
            "{claims}"
        );
    }

    #[test]
    fn bad_key_files_are_config_errors() {
        let bad = |pem: &str| TokenIssuer::from_pem(pem.as_bytes(), ISSUER).unwrap_err().0;
        assert_eq!(
            bad(RSA_A_PUBLIC),
            "--service-account-signing-key-file: no private key in it"
        );
        assert_eq!(
            bad(""),
            "--service-account-signing-key-file: no private key in it"
        );
        assert_eq!(
            TokenIssuer::from_pem(RSA_A_PKCS1.as_bytes(), "")
                .unwrap_err()
                .0,
            "--service-account-issuer is required"
        );
        let config = |pems: Vec<Vec<u8>>, issuers: Vec<String>| VerifierConfig {
            public_key_pems: pems,
            issuers,
            ..VerifierConfig::default()
        };
        let new = |c| {
            ServiceAccountAuthenticator::new(c, objects())
                .unwrap_err()
                .0
        };
        assert_eq!(
            new(config(vec![b"junk".to_vec()], vec![ISSUER.to_string()])),
            "--service-account-key-file #1: data does not contain any valid RSA or ECDSA (P-256) public keys"
        );
        assert_eq!(
            new(config(vec![], vec![ISSUER.to_string()])),
            "--service-account-key-file is required"
        );
        assert_eq!(
            new(config(vec![RSA_A_PUBLIC.as_bytes().to_vec()], vec![])),
            "--service-account-issuer is required"
        );
        let debug = format!(
            "{:?}",
            config(vec![RSA_A_PKCS1.as_bytes().to_vec()], vec![])
        );
        assert!(!debug.contains("PRIVATE"), "{debug}");
    }
}
