//! The serving TLS configuration: the certificate and key from PEM files, ALPN `h2` and
//! `http/1.1` (kubectl speaks HTTP/2 when offered), and client certificates requested but not
//! required when a client CA or a request-header CA is given. The TLS layer accepts any
//! certificate whose key the client proves it holds (`kubesim_authn::tls`, Go's
//! `RequestClientCert`): x509 and request-header authentication verify the chain against
//! their own CA, so a certificate from another CA, or an expired one, is a 401 that says why
//! instead of a handshake failure.
//!
//! rustls with the ring provider, named explicitly rather than taken from the process-wide
//! default, so a second provider linked in by some other crate cannot change what we serve.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

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
    let client_cas = [
        ("--client-ca-file", config.client_ca_file.as_ref()),
        (
            "--requestheader-client-ca-file",
            config.auth.requestheader_client_ca_file.as_ref(),
        ),
    ];
    let mut hint_pems = Vec::new();
    for (flag, path) in client_cas {
        if let Some(path) = path {
            let pem = std::fs::read(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
            hint_pems.push(pem);
        }
    }
    let builder = if hint_pems.is_empty() {
        builder.with_no_client_auth()
    } else {
        let hints: Vec<&[u8]> = hint_pems.iter().map(Vec::as_slice).collect();
        let verifier = kubesim_authn::tls::client_cert_verifier(&hints).map_err(|e| e.0)?;
        builder.with_client_cert_verifier(verifier)
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
