//! The serving TLS configuration: a certificate chain and key (from `--tls-cert-file` and
//! `--tls-private-key-file`, PEM), ALPN `h2` then `http/1.1` — kube-apiserver's webhook client
//! speaks HTTP/1.1 or HTTP/2, kubesim's gRPC transport HTTP/2 — and no client certificates
//! (kube authenticates to webhooks only when configured to, and the samples trust any caller).
//!
//! rustls with the ring provider named explicitly, as the API server does (`crates/apiserver/
//! src/tls.rs`), so another provider linked into the process cannot change what is served.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The configuration for `chain` (leaf first) and its `key`.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS protocol versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key: {e}"))?;
    // h2 first: a client that can multiplex picks it.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The configuration from PEM files, or a message naming the flag and file at fault.
pub fn load(cert_file: &Path, key_file: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let unreadable =
        |e: rustls::pki_types::pem::Error| format!("--tls-cert-file {}: {e}", cert_file.display());
    let chain = CertificateDer::pem_file_iter(cert_file)
        .map_err(unreadable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    if chain.is_empty() {
        return Err(format!(
            "--tls-cert-file {}: no PEM certificate in it",
            cert_file.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        format!(
            "--tls-private-key-file {}: no usable private key: {e}",
            key_file.display()
        )
    })?;
    server_config(chain, key).map_err(|e| {
        format!(
            "--tls-cert-file {} and --tls-private-key-file {}: {e}",
            cert_file.display(),
            key_file.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_files_load_with_alpn() {
        let dir = tempfile::tempdir().unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        let config = load(&cert, &key).unwrap();
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn bad_files_name_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        std::fs::write(&cert, "").unwrap();
        assert_eq!(
            load(&cert, &key).unwrap_err(),
            format!(
                "--tls-cert-file {}: no PEM certificate in it",
                cert.display()
            )
        );
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        let error = load(&cert, &key).unwrap_err();
        assert!(
            error.starts_with(&format!(
                "--tls-private-key-file {}: no usable private key: ",
                key.display()
            )),
            "{error}"
        );
    }
}
