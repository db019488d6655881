//! The API server's client-certificate policy at the TLS layer, Go's `tls.RequestClientCert`:
//! ask for a certificate (hinting the subjects of the client CAs), allow none, and accept any
//! chain, because the authenticators verify it themselves against their own CA at the seam's
//! clock (`x509`, `request_header`): a certificate from another CA, or an expired one, is then
//! a 401 with a reason instead of a handshake failure kubectl cannot explain. What the TLS
//! layer does check is the handshake signature: the client holds the certificate's key.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::ConfigError;
use crate::x509::certificates;

/// The verifier for `rustls::ServerConfig::with_client_cert_verifier`. `hint_ca_pems`: the
/// client CA bundles (`--client-ca-file`, `--requestheader-client-ca-file`) whose subjects
/// the server names in its CertificateRequest, so clients with several certificates pick one
/// of those.
pub fn client_cert_verifier(
    hint_ca_pems: &[&[u8]],
) -> Result<Arc<dyn ClientCertVerifier>, ConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    for pem in hint_ca_pems {
        for ca in certificates(pem, "client CA")? {
            roots
                .add(ca)
                .map_err(|e| ConfigError(format!("client CA: {e}")))?;
        }
    }
    // The same CA may serve both flags; name it once.
    let mut hints: Vec<DistinguishedName> = Vec::new();
    for subject in roots.subjects() {
        if !hints.iter().any(|h| h.as_ref() == subject.as_ref()) {
            hints.push(subject);
        }
    }
    let provider = rustls::crypto::ring::default_provider();
    Ok(Arc::new(RequestClientCert {
        hints,
        algorithms: provider.signature_verification_algorithms,
    }))
}

#[derive(Debug)]
struct RequestClientCert {
    hints: Vec<DistinguishedName>,
    /// The ring provider's, for the handshake signature.
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Deliberately deferred: the authenticators verify the chain per request.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use rcgen::{CertificateParams, KeyPair};
    use rustls::client::ResolvesClientCert;
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    use rustls::sign::CertifiedKey;
    use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

    use super::*;
    use crate::testing::TestCa;

    /// Offers one certificate with a key that may not be the certificate's, and records the
    /// CA hints the server sent.
    #[derive(Debug)]
    struct Offer {
        key: Option<Arc<CertifiedKey>>,
        hints: Mutex<Vec<Vec<u8>>>,
    }

    impl ResolvesClientCert for Offer {
        fn resolve(
            &self,
            root_hint_subjects: &[&[u8]],
            _schemes: &[SignatureScheme],
        ) -> Option<Arc<CertifiedKey>> {
            *self.hints.lock().unwrap() = root_hint_subjects.iter().map(|h| h.to_vec()).collect();
            self.key.clone()
        }

        fn has_certs(&self) -> bool {
            self.key.is_some()
        }
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn certified(chain: Vec<CertificateDer<'static>>, key: &KeyPair) -> Arc<CertifiedKey> {
        let der = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap();
        let signing = provider().key_provider.load_private_key(der).unwrap();
        Arc::new(CertifiedKey::new(chain, signing))
    }

    /// Runs a TLS handshake in memory; the peer certificates the server saw, or the error.
    fn handshake(
        hint_cas: &[&[u8]],
        offer: Arc<Offer>,
    ) -> Result<Option<Vec<CertificateDer<'static>>>, rustls::Error> {
        let server_ca = TestCa::new("server-ca");
        let server_key = KeyPair::generate().unwrap();
        let server_cert = server_ca.server_cert("localhost", &server_key);
        let server_key_der =
            PrivateKeyDer::from_pem_slice(server_key.serialize_pem().as_bytes()).unwrap();
        let server_config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(client_cert_verifier(hint_cas).unwrap())
            .with_single_cert(vec![server_cert], server_key_der)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(server_ca.der.clone()).unwrap();
        let client_config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_cert_resolver(offer);
        let mut server = ServerConnection::new(Arc::new(server_config)).unwrap();
        let mut client =
            ClientConnection::new(Arc::new(client_config), "localhost".try_into().unwrap())
                .unwrap();
        for _ in 0..10 {
            let mut buf = Vec::new();
            client.write_tls(&mut buf).unwrap();
            server.read_tls(&mut buf.as_slice()).unwrap();
            server.process_new_packets()?;
            let mut buf = Vec::new();
            server.write_tls(&mut buf).unwrap();
            client.read_tls(&mut buf.as_slice()).unwrap();
            client.process_new_packets()?;
            if !server.is_handshaking() && !client.is_handshaking() {
                return Ok(server.peer_certificates().map(|c| c.to_vec()));
            }
        }
        panic!("handshake did not finish");
    }

    impl TestCa {
        fn server_cert(&self, name: &str, key: &KeyPair) -> CertificateDer<'static> {
            let params = CertificateParams::new(vec![name.to_string()]).unwrap();
            self.sign(params, key)
        }
    }

    #[test]
    fn no_certificate_is_allowed() {
        let ca = TestCa::new("client-ca");
        let offer = Arc::new(Offer {
            key: None,
            hints: Mutex::default(),
        });
        assert_eq!(handshake(&[ca.pem.as_bytes()], offer), Ok(None));
    }

    #[test]
    fn a_certificate_from_any_ca_is_received_and_the_hints_name_the_client_cas() {
        let ca = TestCa::new("client-ca");
        let proxy_ca = TestCa::new("front-proxy-ca");
        let other = TestCa::new("other-ca");
        let key = KeyPair::generate().unwrap();
        let chain = vec![other.sign(CertificateParams::default(), &key)];
        let offer = Arc::new(Offer {
            key: Some(certified(chain.clone(), &key)),
            hints: Mutex::default(),
        });
        let got = handshake(
            &[
                ca.pem.as_bytes(),
                proxy_ca.pem.as_bytes(),
                ca.pem.as_bytes(),
            ],
            offer.clone(),
        );
        assert_eq!(got, Ok(Some(chain)));
        let mut expected = rustls::RootCertStore::empty();
        expected.add(ca.der.clone()).unwrap();
        expected.add(proxy_ca.der.clone()).unwrap();
        let expected: Vec<Vec<u8>> = expected
            .subjects()
            .iter()
            .map(|s| s.as_ref().to_vec())
            .collect();
        assert_eq!(*offer.hints.lock().unwrap(), expected);
    }

    #[test]
    fn a_certificate_without_its_private_key_fails_the_handshake() {
        let ca = TestCa::new("client-ca");
        let cert_key = KeyPair::generate().unwrap();
        let chain = vec![ca.sign(CertificateParams::default(), &cert_key)];
        let wrong_key = KeyPair::generate().unwrap();
        let offer = Arc::new(Offer {
            key: Some(certified(chain, &wrong_key)),
            hints: Mutex::default(),
        });
        let err = handshake(&[ca.pem.as_bytes()], offer).unwrap_err();
        assert_eq!(
            err,
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature)
        );
    }

    #[test]
    fn a_hint_bundle_without_certificates_is_a_config_error() {
        assert_eq!(
            client_cert_verifier(&[b"nothing".as_slice()]).unwrap_err(),
            ConfigError("client CA: no PEM certificate in it".to_string())
        );
    }
}
