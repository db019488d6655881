//! The Webhook authorizer against the authz service over TLS, configured as kube's webhook
//! kubeconfig is (`https://` server, `certificate-authority`, a client certificate): decisions
//! come back; another CA, another server name or a missing client certificate fail the call,
//! and a failed call is never an Allow.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kubesim_net::TokioNetwork;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::tests::{TestServer, pod};
use super::*;
use crate::mode::connection_from_kubeconfig;
use crate::service::tls::grpc_server_config;

/// A CA made on the spot.
struct Ca {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = rcgen::CertificateParams::default();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        Ca {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `names` (DNS names or IPs) and its key, PEM.
    fn leaf(&self, names: &[&str], usage: rcgen::ExtendedKeyUsagePurpose) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// The service's TLS: a certificate for `names`, and client certificates of this CA
    /// required.
    fn server(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let (cert, key) = self.leaf(names, rcgen::ExtendedKeyUsagePurpose::ServerAuth);
        let chain = vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.pem().as_bytes()).unwrap())
            .unwrap();
        let clients = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.into(),
            provider.clone(),
        )
        .build()
        .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(clients)
            .with_single_cert(chain, key)
            .unwrap();
        grpc_server_config(&config)
    }
}

/// A webhook kubeconfig in `/pki` and the files it names, relative to it as client-go
/// resolves them.
struct Kubeconfig {
    yaml: String,
    files: HashMap<PathBuf, Vec<u8>>,
}

impl Kubeconfig {
    /// Trusting `trusted`, presenting a client certificate of `client_ca` when given.
    fn new(server: &str, trusted: &Ca, client_ca: Option<&Ca>) -> Kubeconfig {
        let mut files = HashMap::new();
        files.insert(PathBuf::from("/pki/ca.crt"), trusted.pem().into_bytes());
        let user = match client_ca {
            Some(ca) => {
                let usage = rcgen::ExtendedKeyUsagePurpose::ClientAuth;
                let (cert, key) = ca.leaf(&["kube-apiserver"], usage);
                files.insert(PathBuf::from("/pki/apiserver.crt"), cert.into_bytes());
                files.insert(PathBuf::from("/pki/apiserver.key"), key.into_bytes());
                "    client-certificate: apiserver.crt\n    client-key: apiserver.key\n"
            }
            None => "    {}\n",
        };
        let yaml = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: authz\n  cluster:\n    \
             server: {server}\n    certificate-authority: ca.crt\nusers:\n- name: \
             kube-apiserver\n  user:\n{user}contexts:\n- name: webhook\n  context:\n    \
             cluster: authz\n    user: kube-apiserver\ncurrent-context: webhook\n"
        );
        Kubeconfig { yaml, files }
    }

    fn connection(&self) -> Result<crate::mode::WebhookConnection, String> {
        let read = |path: &Path| {
            self.files
                .get(path)
                .cloned()
                .ok_or_else(|| std::io::Error::other(format!("open {}: missing", path.display())))
        };
        connection_from_kubeconfig(&self.yaml, Path::new("/pki"), &read)
    }

    fn authorizer(&self, policy: FailurePolicy) -> WebhookAuthorizer {
        let connection = self.connection().expect("a usable kubeconfig");
        let config = WebhookConfig {
            name: "authz".into(),
            endpoint: connection.endpoint,
            tls: connection.tls,
            timeout: Duration::from_secs(5),
            failure_policy: policy,
            ..WebhookConfig::default()
        };
        WebhookAuthorizer::new(config, Arc::new(TokioNetwork))
    }
}

#[tokio::test]
async fn decisions_come_back_over_tls_with_the_client_certificate() {
    let ca = Ca::new("authz-ca");
    let server = TestServer::start_tls(ca.server(&["127.0.0.1"])).await;
    let kubeconfig = Kubeconfig::new(&format!("https://{}", server.endpoint), &ca, Some(&ca));
    let connection = kubeconfig.connection().unwrap();
    assert_eq!(connection.endpoint, server.endpoint);
    let tls = connection.tls.as_ref().expect("https means TLS");
    assert_eq!(tls.server_name(), "127.0.0.1");
    assert!(tls.has_client_certificate());
    let authz = kubeconfig.authorizer(FailurePolicy::Deny);

    assert_eq!(
        authz.authorize(&pod("get", "web")).await,
        Decision::allow("Webhook \"authz\": script allows get of web")
    );
    assert_eq!(
        authz.authorize(&pod("delete", "web")).await,
        Decision::deny(
            "deletes are frozen",
            "Webhook \"authz\": script denies delete"
        )
    );
    let neither = authz.authorize(&pod("list", "")).await;
    assert_eq!(
        (neither.kind, neither.error.as_str()),
        (DecisionKind::NoOpinion, "")
    );
    assert_eq!((authz.calls(), server.asked()), (3, 3));
    server.kill().await;
}

/// A failed handshake under each failure policy: never an Allow, the error says why, and
/// the service was never asked.
async fn refused(kubeconfig: &Kubeconfig, server: &TestServer, why: &str) {
    for (policy, kind) in [
        (FailurePolicy::Deny, DecisionKind::Deny),
        (FailurePolicy::NoOpinion, DecisionKind::NoOpinion),
    ] {
        let decision = kubeconfig
            .authorizer(policy)
            .authorize(&pod("get", "web"))
            .await;
        assert_eq!(decision.kind, kind, "{decision:?}");
        assert!(
            decision
                .reason
                .starts_with("failed calling authorization webhook \"authz\": "),
            "{}",
            decision.reason
        );
        assert!(decision.reason.contains(why), "{}", decision.reason);
        // An error is what the API server answers with kube's 500.
        assert_eq!(decision.error, decision.reason);
    }
    assert_eq!(server.asked(), 0);
}

#[tokio::test]
async fn another_ca_is_refused_and_fails_closed() {
    let (ca, other) = (Ca::new("authz-ca"), Ca::new("someone-else"));
    let server = TestServer::start_tls(ca.server(&["127.0.0.1"])).await;
    let kubeconfig = Kubeconfig::new(&format!("https://{}", server.endpoint), &other, Some(&ca));
    refused(
        &kubeconfig,
        &server,
        "x509: certificate signed by unknown authority",
    )
    .await;
    server.kill().await;
}

#[tokio::test]
async fn the_server_name_is_checked() {
    let ca = Ca::new("authz-ca");
    let server = TestServer::start_tls(ca.server(&["authz.example"])).await;
    let url = format!("https://{}", server.endpoint);
    let kubeconfig = Kubeconfig::new(&url, &ca, Some(&ca));
    refused(&kubeconfig, &server, "tls: failed to verify certificate").await;

    // `tls-server-name` names the certificate's host while the dial stays on the address.
    let mut named = Kubeconfig::new(&url, &ca, Some(&ca));
    named.yaml = named.yaml.replace(
        "    certificate-authority: ca.crt\n",
        "    certificate-authority: ca.crt\n    tls-server-name: authz.example\n",
    );
    let decision = named
        .authorizer(FailurePolicy::Deny)
        .authorize(&pod("get", "web"))
        .await;
    assert_eq!(decision.kind, DecisionKind::Allow, "{decision:?}");
    server.kill().await;
}

#[tokio::test]
async fn a_service_that_wants_a_client_certificate_refuses_a_caller_without_one() {
    let ca = Ca::new("authz-ca");
    let server = TestServer::start_tls(ca.server(&["127.0.0.1"])).await;
    let kubeconfig = Kubeconfig::new(&format!("https://{}", server.endpoint), &ca, None);
    assert!(
        !kubeconfig
            .connection()
            .unwrap()
            .tls
            .unwrap()
            .has_client_certificate()
    );
    let decision = kubeconfig
        .authorizer(FailurePolicy::Deny)
        .authorize(&pod("get", "web"))
        .await;
    assert_eq!(decision.kind, DecisionKind::Deny, "{decision:?}");
    assert!(!decision.error.is_empty());
    assert_eq!(server.asked(), 0);
    server.kill().await;
}

#[tokio::test]
async fn a_plain_channel_gets_nothing_from_a_tls_service() {
    let ca = Ca::new("authz-ca");
    let server = TestServer::start_tls(ca.server(&["127.0.0.1"])).await;
    let kubeconfig = Kubeconfig::new(&format!("http://{}", server.endpoint), &ca, Some(&ca));
    assert_eq!(kubeconfig.connection().unwrap().tls, None);
    let decision = kubeconfig
        .authorizer(FailurePolicy::Deny)
        .authorize(&pod("get", "web"))
        .await;
    assert_eq!(decision.kind, DecisionKind::Deny, "{decision:?}");
    assert_eq!(server.asked(), 0);
    server.kill().await;
}
