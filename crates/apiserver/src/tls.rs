//! The serving TLS configuration: the certificate and key from PEM files, ALPN `h2` and
//! `http/1.1` (kubectl speaks HTTP/2 when offered), and client certificates requested but not
//! required when a client CA is given (x509 authentication reads them later; a request
//! without one goes on to the other authenticators, as in kube-apiserver).
//!
//! rustls with the ring provider, named explicitly rather than taken from the process-wide
//! default, so a second provider linked in by some other crate cannot change what we serve.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::ApiServerConfig;

/// The rustls server configuration for `config`, or a message naming the file at fault.
pub fn server_config(config: &ApiServerConfig) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(&config.tls_cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&config.tls_private_key_file).map_err(|e| {
        format!(
            "--tls-private-key-file {}: no usable private key: {e}",
            config.tls_private_key_file.display()
        )
    })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS protocol versions: {e}"))?;
    let builder = match &config.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(ca_file) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in certificates(ca_file)? {
                roots
                    .add(ca)
                    .map_err(|e| format!("--client-ca-file {}: {e}", ca_file.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| format!("--client-ca-file {}: {e}", ca_file.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder.with_single_cert(chain, key).map_err(|e| {
        format!(
            "--tls-cert-file {} and --tls-private-key-file {}: {e}",
            config.tls_cert_file.display(),
            config.tls_private_key_file.display()
        )
    })?;
    // h2 first: the client picks it when it can, as kubectl and client-go do.
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(server))
}

/// Every certificate in a PEM file; an empty file is an error, not an empty chain.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let unreadable = |e: rustls::pki_types::pem::Error| format!("{}: {e}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(unreadable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}
