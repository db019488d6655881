//! Client-certificate authentication (`--client-ca-file`, kube's `x509.Authenticator` with
//! `CommonNameUserConversion`): the chain the TLS handshake received is verified here, against
//! the CA and at the caller's clock, so an expired certificate or one from another CA is a 401
//! rather than a failed handshake. CN is the user, each O a group.
//!
//! [`ClientCa`] and [`Subject`] are shared with the authenticating proxy (`request_header`),
//! which verifies its client certificates the same way against its own CA.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kubesim_api::user::UserInfo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;

use crate::{Authenticated, AuthnError, ConfigError, Method, add_authenticated_group};

/// kube's `user.CredentialIDKey`: which credential authenticated the request.
pub const CREDENTIAL_ID_KEY: &str = "authentication.kubernetes.io/credential-id";

/// How long a verified chain is trusted without verifying it again (never past the leaf's
/// notAfter): a connection sends many requests with one certificate, and verifying its
/// signature chain is 40 us a request (more than the rest of authentication and
/// authorization together). Within the window a CA that expired meanwhile is not noticed;
/// the CA bundle itself is read once at start-up, as kube-apiserver reads it.
const VERIFIED_FOR: Duration = Duration::from_secs(10);
/// Chains remembered at once; past it the memory is cleared (a flood of distinct
/// certificates costs a verification each, as without the cache).
const VERIFIED_CAPACITY: usize = 1024;

/// Verifies client certificates against `--client-ca-file`.
#[derive(Debug)]
pub struct X509Authenticator {
    ca: ClientCa,
    /// A chain that verified (the certificates themselves, compared byte for byte, so no
    /// digest is computed per request: a SHA-256 of the chain cost more than the rest of
    /// authentication) → the identity, when it was verified, and until when it is trusted.
    verified: Mutex<HashMap<Vec<CertificateDer<'static>>, Verified>>,
}

#[derive(Debug, Clone)]
struct Verified {
    identity: Authenticated,
    at: Duration,
    until: Duration,
}

impl X509Authenticator {
    /// `ca_pem`: every CA certificate of `--client-ca-file`.
    pub fn new(ca_pem: &[u8]) -> Result<Self, ConfigError> {
        Ok(X509Authenticator {
            ca: ClientCa::from_pem(ca_pem, "--client-ca-file")?,
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// `Ok(None)` without a certificate. A certificate that does not verify (another CA,
    /// expired, not for client auth) or has no CN is an error: it was presented, so it is
    /// never anonymous.
    pub fn authenticate(
        &self,
        chain: &[CertificateDer<'static>],
        now: Duration,
    ) -> Result<Option<Authenticated>, AuthnError> {
        let Some(leaf) = chain.first() else {
            return Ok(None);
        };
        if let Some(identity) = self.remembered(chain, now) {
            return Ok(Some(identity));
        }
        let identity = self.verify(chain, leaf, now)?;
        self.remember(chain, &identity, now, Subject::not_after(leaf));
        Ok(Some(identity))
    }

    /// A chain verified less than [`VERIFIED_FOR`] ago, still inside its leaf's validity.
    fn remembered(
        &self,
        chain: &[CertificateDer<'static>],
        now: Duration,
    ) -> Option<Authenticated> {
        let verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = verified.get(chain)?;
        (entry.at <= now && now < entry.until).then(|| entry.identity.clone())
    }

    fn remember(
        &self,
        chain: &[CertificateDer<'static>],
        identity: &Authenticated,
        now: Duration,
        not_after: Option<Duration>,
    ) {
        let until = match not_after {
            Some(not_after) => (now + VERIFIED_FOR).min(not_after),
            None => return,
        };
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(
            chain.to_vec(),
            Verified {
                identity: identity.clone(),
                at: now,
                until,
            },
        );
    }

    /// The whole check: the chain against the CA at `now`, then the subject.
    fn verify(
        &self,
        chain: &[CertificateDer<'static>],
        leaf: &CertificateDer<'static>,
        now: Duration,
    ) -> Result<Authenticated, AuthnError> {
        let subject = Subject::of(leaf);
        if let Err(e) = self.ca.verify(chain, now) {
            return Err(AuthnError::new(format!(
                "x509: verifying certificate {} failed: {e}",
                Subject::describe(&subject)
            )));
        }
        let subject = subject.map_err(|e| AuthnError::new(format!("x509: {e}")))?;
        if subject.common_name.is_empty() {
            return Err(AuthnError::new(format!(
                "x509: certificate {} has no CN: there is no user to authenticate as",
                subject.identifier()
            )));
        }
        Ok(self.identity(leaf, subject))
    }

    fn identity(&self, leaf: &CertificateDer<'_>, subject: Subject) -> Authenticated {
        let fingerprint = ring::digest::digest(&ring::digest::SHA256, leaf.as_ref());
        let credential_id = format!("X509SHA256={}", hex(fingerprint.as_ref()));
        let detail = format!(
            "x509: CN={}, O={} (SN={}), verified against {}",
            subject.common_name,
            subject.organizations.join(","),
            subject.serial,
            self.ca.flag
        );
        let mut user = UserInfo {
            username: subject.common_name,
            groups: subject.organizations,
            ..UserInfo::default()
        };
        user.extra
            .insert(CREDENTIAL_ID_KEY.to_string(), vec![credential_id]);
        Authenticated {
            user: add_authenticated_group(user),
            method: Method::X509,
            detail,
            audiences: Vec::new(),
        }
    }
}

/// A CA bundle that client certificates are verified against: rustls' WebPKI client
/// verifier (signature chain, validity dates at the given time, the clientAuth usage).
#[derive(Debug)]
pub(crate) struct ClientCa {
    verifier: Arc<dyn ClientCertVerifier>,
    /// The flag the bundle came from, for messages.
    pub(crate) flag: &'static str,
}

impl ClientCa {
    pub(crate) fn from_pem(pem: &[u8], flag: &'static str) -> Result<ClientCa, ConfigError> {
        let mut roots = rustls::RootCertStore::empty();
        for ca in certificates(pem, flag)? {
            roots
                .add(ca)
                .map_err(|e| ConfigError(format!("{flag}: {e}")))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| ConfigError(format!("{flag}: {e}")))?;
        Ok(ClientCa { verifier, flag })
    }

    /// Verifies the chain (leaf first, then the intermediates the client sent) at `now`.
    pub(crate) fn verify(
        &self,
        chain: &[CertificateDer<'static>],
        now: Duration,
    ) -> Result<(), rustls::Error> {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return Err(rustls::Error::NoCertificatesPresented);
        };
        self.verifier
            .verify_client_cert(leaf, intermediates, UnixTime::since_unix_epoch(now))
            .map(|_| ())
    }
}

/// Every certificate of a PEM bundle; a bundle without one is an error.
pub(crate) fn certificates(
    pem: &[u8],
    flag: &str,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError(format!("{flag}: {e}")))?;
    if certs.is_empty() {
        return Err(ConfigError(format!("{flag}: no PEM certificate in it")));
    }
    Ok(certs)
}

/// The parts of a certificate's subject that authentication reads, as Go's `pkix.Name` does:
/// the last CN, every O in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subject {
    pub common_name: String,
    pub organizations: Vec<String>,
    /// Decimal, as kube's messages print it.
    pub serial: String,
}

impl Subject {
    pub(crate) fn of(cert: &CertificateDer<'_>) -> Result<Subject, String> {
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
            .map_err(|e| format!("the client certificate cannot be parsed: {e}"))?;
        let name = parsed.subject();
        let text = |attr: &x509_parser::x509::AttributeTypeAndValue<'_>| {
            attr.as_str()
                .map(str::to_string)
                .map_err(|e| format!("the client certificate's subject cannot be read: {e}"))
        };
        let common_name = match name.iter_common_name().last() {
            Some(cn) => text(cn)?,
            None => String::new(),
        };
        let organizations = name
            .iter_organization()
            .map(text)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Subject {
            common_name,
            organizations,
            serial: parsed.tbs_certificate.serial.to_string(),
        })
    }

    /// The certificate's notAfter, since the Unix epoch; `None` when it cannot be read.
    pub(crate) fn not_after(cert: &CertificateDer<'_>) -> Option<Duration> {
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
        let seconds = parsed.validity().not_after.timestamp();
        u64::try_from(seconds).ok().map(Duration::from_secs)
    }

    /// `CN=jane, SN=1234`: which certificate, for messages.
    pub(crate) fn identifier(&self) -> String {
        format!("CN={}, SN={}", self.common_name, self.serial)
    }

    /// [`Subject::identifier`], or that the certificate could not be read.
    fn describe(subject: &Result<Subject, String>) -> String {
        match subject {
            Ok(subject) => subject.identifier(),
            Err(_) => "(unparseable)".to_string(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use kubesim_api::user::ALL_AUTHENTICATED;

    use super::*;
    use crate::testing::{AFTER_EXPIRY, NOW, TestCa};

    fn authenticator(ca: &TestCa) -> X509Authenticator {
        X509Authenticator::new(ca.pem.as_bytes()).unwrap()
    }

    #[test]
    fn a_verified_chain_is_remembered_but_never_past_its_expiry() {
        let ca = TestCa::new("kubesim-ca");
        let auth = authenticator(&ca);
        let chain = ca.client(Some("jane"), &["dev"]);
        let first = auth.authenticate(&chain, NOW).unwrap().unwrap();
        assert_eq!(auth.verified.lock().unwrap().len(), 1);
        let again = auth
            .authenticate(&chain, NOW + Duration::from_secs(5))
            .unwrap();
        assert_eq!(again, Some(first));
        // Expired: verified again, and refused.
        assert!(auth.authenticate(&chain, AFTER_EXPIRY).is_err());
    }

    #[test]
    fn a_chain_expiring_within_the_window_is_not_trusted_past_it() {
        let ca = TestCa::new("kubesim-ca");
        let auth = authenticator(&ca);
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "jane");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        // NOW is 2025-06-01T00:00:00Z: the certificate ends there.
        params.not_after = rcgen::date_time_ymd(2025, 6, 1);
        let chain = vec![ca.sign(params, &rcgen::KeyPair::generate().unwrap())];
        let before = NOW - Duration::from_secs(3);
        assert!(auth.authenticate(&chain, before).unwrap().is_some());
        assert!(
            auth.authenticate(&chain, NOW - Duration::from_secs(1))
                .unwrap()
                .is_some()
        );
        assert!(
            auth.authenticate(&chain, NOW + Duration::from_secs(1))
                .is_err()
        );
    }

    #[test]
    fn cn_is_the_user_and_each_o_a_group() {
        let ca = TestCa::new("client-ca");
        let chain = ca.client(Some("jane"), &["dev", "ops"]);
        let got = authenticator(&ca)
            .authenticate(&chain, NOW)
            .unwrap()
            .unwrap();
        assert_eq!(got.user.username, "jane");
        assert_eq!(got.user.groups, ["dev", "ops", ALL_AUTHENTICATED]);
        assert_eq!(got.user.uid, "");
        let fingerprint = ring::digest::digest(&ring::digest::SHA256, chain[0].as_ref());
        assert_eq!(
            got.user.extra[CREDENTIAL_ID_KEY],
            [format!("X509SHA256={}", hex(fingerprint.as_ref()))]
        );
        assert_eq!(got.method, Method::X509);
        let serial = Subject::of(&chain[0]).unwrap().serial;
        assert_eq!(
            got.detail,
            format!("x509: CN=jane, O=dev,ops (SN={serial}), verified against --client-ca-file")
        );
    }

    #[test]
    fn no_certificate_is_no_opinion() {
        let ca = TestCa::new("client-ca");
        assert_eq!(authenticator(&ca).authenticate(&[], NOW), Ok(None));
    }

    #[test]
    fn certificate_from_another_ca_is_refused() {
        let ca = TestCa::new("client-ca");
        let other = TestCa::new("other-ca");
        let chain = other.client(Some("mallory"), &["system:masters"]);
        let err = authenticator(&ca).authenticate(&chain, NOW).unwrap_err();
        let serial = Subject::of(&chain[0]).unwrap().serial;
        assert_eq!(
            err.detail,
            format!(
                "x509: verifying certificate CN=mallory, SN={serial} failed: invalid peer certificate: UnknownIssuer"
            )
        );
        assert_eq!(err.client_message, None);
    }

    #[test]
    fn expired_certificate_is_refused() {
        let ca = TestCa::new("client-ca");
        let chain = ca.client(Some("jane"), &[]);
        let err = authenticator(&ca)
            .authenticate(&chain, AFTER_EXPIRY)
            .unwrap_err();
        assert!(
            err.detail
                .contains("failed: invalid peer certificate: certificate expired"),
            "{}",
            err.detail
        );
    }

    #[test]
    fn certificate_without_cn_is_refused() {
        let ca = TestCa::new("client-ca");
        let chain = ca.client(None, &["dev"]);
        let err = authenticator(&ca).authenticate(&chain, NOW).unwrap_err();
        let serial = Subject::of(&chain[0]).unwrap().serial;
        assert_eq!(
            err.detail,
            format!(
                "x509: certificate CN=, SN={serial} has no CN: there is no user to authenticate as"
            )
        );
    }

    #[test]
    fn a_ca_file_without_certificates_is_a_config_error() {
        assert_eq!(
            X509Authenticator::new(b"not pem").unwrap_err(),
            ConfigError("--client-ca-file: no PEM certificate in it".to_string())
        );
    }
}
