//! Authentication: which identity a request's credential becomes (K8S-FACTS.md,
//! "Authentication"). A credential that fails verification never becomes an identity: it is
//! an [`AuthnError`], which the API server answers with 401.
//!
//! Map of the crate:
//! - [`Authenticator`] (`union.rs`): the union of the configured authenticators, in
//!   kube-apiserver's order; the first that recognises the request decides, and a credential
//!   that none accepted is a 401, never anonymous.
//! - [`x509`]: client certificates verified against `--client-ca-file`; CN is the user, each O a
//!   group. [`tls`]: the TLS server's client-certificate policy (ask, allow none, verify later).
//! - [`request_header`]: the authenticating proxy (`--requestheader-*`).
//! - [`token_file`]: static tokens (`--token-auth-file`, Kubernetes' CSV).
//! - [`service_account`]: ServiceAccount JWTs, issued (TokenRequest) and verified.
//! - [`oidc`]: OpenID Connect ID tokens, with keys from the issuer's discovery document and
//!   JWKS; [`oidc::issuer`], a small test issuer (`kubesim oidc-issuer`).
//! - [`impersonation`]: the `Impersonate-*` headers, and the checks they need.
//!
//! Everything that needs the time takes it from the caller (the seam's clock), so expiry is
//! tested without waiting and the simulation controls it.

pub mod impersonation;
pub mod oidc;
pub mod request_header;
pub mod service_account;
pub mod tls;
pub mod token_file;
mod union;
pub mod x509;

pub use union::Authenticator;

use futures::future::BoxFuture;
use kubesim_api::user::{ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, UserInfo};
use rustls::pki_types::CertificateDer;

/// What authentication reads of a request: its headers and the client certificate chain the
/// TLS handshake received (leaf first; empty when the client sent none). The chain is not
/// verified yet: each authenticator verifies it against its own CA.
#[derive(Debug, Clone, Copy)]
pub struct AuthnRequest<'a> {
    pub headers: &'a http::HeaderMap,
    pub peer_certificates: &'a [CertificateDer<'static>],
}

/// Which authenticator recognised the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    RequestHeader,
    X509,
    StaticToken,
    ServiceAccount,
    Oidc,
    Anonymous,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::RequestHeader => "requestheader",
            Method::X509 => "x509",
            Method::StaticToken => "token-file",
            Method::ServiceAccount => "serviceaccount",
            Method::Oidc => "oidc",
            Method::Anonymous => "anonymous",
        }
    }
}

/// A request's identity and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// With `system:authenticated` added (except for anonymous).
    pub user: UserInfo,
    pub method: Method,
    /// The decision path, for the debug log and the trace: e.g. `x509: CN=jane, O=dev,
    /// verified against --client-ca-file`, `serviceaccount: token of production/deploy-bot
    /// (uid …), bound to pod …, expires …`. Never a credential.
    pub detail: String,
    /// The audiences the credential was valid for (TokenReview's `status.audiences`).
    pub audiences: Vec<String>,
}

/// A credential was presented and failed verification, or there was none and anonymous
/// requests are off: 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct AuthnError {
    /// Why, for the log and the trace (which authenticator refused what). Never a
    /// credential. Not sent to the client: kube answers every 401 with "Unauthorized".
    pub detail: String,
    /// When set, the 401's message instead of "Unauthorized" (basic auth: that it is not
    /// supported).
    pub client_message: Option<String>,
}

impl AuthnError {
    pub fn new(detail: impl Into<String>) -> AuthnError {
        AuthnError {
            detail: detail.into(),
            client_message: None,
        }
    }
}

/// A configuration (flags, files, keys) that cannot be used: start-up fails with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The objects a ServiceAccount token is bound to, looked up when a token is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BoundKind {
    ServiceAccount,
    Pod,
    Secret,
}

/// Reads the UID of a ServiceAccount, Pod or Secret now (`Ok(None)` when it does not
/// exist). The API server answers from its watch cache, falling back to the store.
pub trait ObjectLookup: Send + Sync {
    fn uid<'a>(
        &'a self,
        kind: BoundKind,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>>;
}

/// Every authenticator's settings, as kube-apiserver's flags give them. `None` or empty is
/// "not configured".
#[derive(Debug, Clone, Default)]
pub struct AuthnConfig {
    /// `--client-ca-file`, PEM.
    pub client_ca_pem: Option<Vec<u8>>,
    /// `--token-auth-file`, its text.
    pub token_auth_csv: Option<String>,
    pub service_accounts: Option<service_account::VerifierConfig>,
    pub oidc: Option<oidc::OidcConfig>,
    pub request_header: Option<request_header::RequestHeaderConfig>,
    /// `--anonymous-auth` (kube's default: true).
    pub anonymous: bool,
}

/// kube's `AuthenticatedGroupAdder`: every user an authenticator accepted is in
/// `system:authenticated`, unless its groups already say authenticated or unauthenticated.
/// (Unlike [`UserInfo::with_authenticated_group`] it does not look at the name: a static token
/// for a user called `system:anonymous` still authenticates.)
pub(crate) fn add_authenticated_group(mut user: UserInfo) -> UserInfo {
    let decided = user
        .groups
        .iter()
        .any(|g| g == ALL_AUTHENTICATED || g == ALL_UNAUTHENTICATED);
    if !decided {
        user.groups.push(ALL_AUTHENTICATED.to_string());
    }
    user
}

/// Go's `url.PathUnescape`, which kube applies to the keys of extra headers
/// (`X-Remote-Extra-<key>`, `Impersonate-Extra-<key>`): `%XX` escapes decoded, `+` kept. `None`
/// when an escape is malformed or the result is not UTF-8; kube then keeps the key as sent.
pub(crate) fn path_unescape(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|c| (*c as char).to_digit(16))?;
            let lo = bytes.get(i + 2).and_then(|c| (*c as char).to_digit(16))?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
pub(crate) mod testing {
    //! What the unit tests of several files share: a fixed clock reading, certificates from
    //! rcgen, the fixed RSA and EC keys of `tests/data/`, and an in-memory [`ObjectLookup`].

    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use futures::future::BoxFuture;
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, Issuer, KeyPair, date_time_ymd,
    };
    use rustls::pki_types::CertificateDer;

    use super::{BoundKind, ObjectLookup};

    pub const RSA_A_PKCS1: &str = include_str!("../tests/data/rsa-2048-a.pkcs1.pem");
    pub const RSA_A_PUBLIC: &str = include_str!("../tests/data/rsa-2048-a.pub.pem");
    pub const RSA_B_PKCS8: &str = include_str!("../tests/data/rsa-2048-b.pkcs8.pem");
    pub const P256_C_SEC1: &str = include_str!("../tests/data/p256-c.sec1.pem");
    pub const P256_C_PUBLIC: &str = include_str!("../tests/data/p256-c.pub.pem");

    /// 2025-06-01T00:00:00Z: inside every test certificate's validity (2025 to 2026).
    pub const NOW: Duration = Duration::from_secs(1_748_736_000);
    /// 2027-01-01T00:00:00Z: after every test certificate expired.
    pub const AFTER_EXPIRY: Duration = Duration::from_secs(1_798_761_600);

    /// A CA that signs client certificates.
    pub struct TestCa {
        pub pem: String,
        pub der: CertificateDer<'static>,
        issuer: Issuer<'static, KeyPair>,
    }

    impl TestCa {
        pub fn new(common_name: &str) -> TestCa {
            let mut params = CertificateParams::default();
            params
                .distinguished_name
                .push(DnType::CommonName, common_name);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.not_before = date_time_ymd(2024, 1, 1);
            params.not_after = date_time_ymd(2030, 1, 1);
            let key = KeyPair::generate().unwrap();
            let cert = params.self_signed(&key).unwrap();
            TestCa {
                pem: cert.pem(),
                der: cert.der().clone(),
                issuer: Issuer::new(params, key),
            }
        }

        /// A client certificate (clientAuth usage) valid through 2025, as a one-element chain.
        pub fn client(
            &self,
            common_name: Option<&str>,
            orgs: &[&str],
        ) -> Vec<CertificateDer<'static>> {
            let mut params = CertificateParams::default();
            params.distinguished_name = DistinguishedName::new();
            if let Some(cn) = common_name {
                params.distinguished_name.push(DnType::CommonName, cn);
            }
            // rcgen keeps one value per attribute type; the O's OID as a "custom" type is a
            // second O.
            let org_types = [
                DnType::OrganizationName,
                DnType::CustomDnType(vec![2, 5, 4, 10]),
            ];
            assert!(orgs.len() <= org_types.len(), "at most two O");
            for (org, ty) in orgs.iter().zip(org_types) {
                params.distinguished_name.push(ty, *org);
            }
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            params.not_before = date_time_ymd(2025, 1, 1);
            params.not_after = date_time_ymd(2026, 1, 1);
            vec![self.sign(params, &KeyPair::generate().unwrap())]
        }

        pub fn sign(&self, params: CertificateParams, key: &KeyPair) -> CertificateDer<'static> {
            params.signed_by(key, &self.issuer).unwrap().der().clone()
        }
    }

    /// The objects a ServiceAccount token may name, by kind, namespace and name → UID; or an
    /// error for every lookup.
    #[derive(Default)]
    pub struct Objects {
        uids: Mutex<HashMap<(BoundKind, String, String), String>>,
        pub failure: Mutex<Option<String>>,
    }

    impl Objects {
        pub fn put(&self, kind: BoundKind, namespace: &str, name: &str, uid: &str) {
            let key = (kind, namespace.to_string(), name.to_string());
            self.uids.lock().unwrap().insert(key, uid.to_string());
        }

        pub fn delete(&self, kind: BoundKind, namespace: &str, name: &str) {
            let key = (kind, namespace.to_string(), name.to_string());
            self.uids.lock().unwrap().remove(&key);
        }
    }

    impl ObjectLookup for Objects {
        fn uid<'a>(
            &'a self,
            kind: BoundKind,
            namespace: &'a str,
            name: &'a str,
        ) -> BoxFuture<'a, Result<Option<String>, String>> {
            let answer = match self.failure.lock().unwrap().clone() {
                Some(message) => Err(message),
                None => {
                    let key = (kind, namespace.to_string(), name.to_string());
                    Ok(self.uids.lock().unwrap().get(&key).cloned())
                }
            };
            Box::pin(async move { answer })
        }
    }
}
