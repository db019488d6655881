//! [`Pki`]: every certificate of a pipeline run, made in memory from the run's seed.
//!
//! Keys are Ed25519 from seeded bytes, so one seed gives the same keys, certificates and
//! signature sizes every time (ECDSA signatures vary in length, and a handshake of another
//! size is another schedule). One CA signs the API server's and the webhooks' serving
//! certificates and the clients' certificates (CN the user, O the group), as `kubesim certs`
//! does with one CA.
//!
//! The API server reads its certificate, key and client CA from files
//! (`ApiServerConfig::tls_cert_file`, ...): [`MemFile`] is a memfd, a file that lives in RAM
//! and dies with the process, so the simulation never touches the real disk.

use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use nix::sys::memfd::{MFdFlags, memfd_create};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::rng::SimRng;

/// How long every certificate is valid, from a day before the simulation's epoch.
const VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
const BACKDATE: Duration = Duration::from_secs(24 * 3600);

/// A certificate and its key, PEM.
#[derive(Clone)]
pub struct Certified {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Certified {
    pub fn chain(&self) -> anyhow::Result<Vec<CertificateDer<'static>>> {
        CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow!("certificate PEM: {e}"))
    }

    pub fn key(&self) -> anyhow::Result<PrivateKeyDer<'static>> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|e| anyhow!("key PEM: {e}"))
    }
}

/// The run's CA and everything it signed.
pub struct Pki {
    pub ca_pem: String,
    /// The CA as an issuer, to sign more certificates.
    issuer: Issuer<'static, KeyPair>,
    rng: SimRng,
    not_before: Duration,
}

impl Pki {
    /// A CA from `seed`, valid from a day before `epoch` (time since the Unix epoch).
    pub fn new(seed: u64, epoch: Duration) -> anyhow::Result<Pki> {
        let mut rng = SimRng::new(seed, 0x706b_6900);
        let not_before = epoch.saturating_sub(BACKDATE);
        let key = seeded_key(&mut rng)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name("kubesim-sim-ca", None);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        params.serial_number = Some(SerialNumber::from(1u64.to_be_bytes().to_vec()));
        set_validity(&mut params, not_before);
        let cert = params.self_signed(&key).context("self-signing the CA")?;
        Ok(Pki {
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
            rng,
            not_before,
        })
    }

    /// A serving certificate for the turmoil host `host`.
    pub fn server(&mut self, host: &str) -> anyhow::Result<Certified> {
        let mut params = self.leaf(host, None);
        params.subject_alt_names = vec![SanType::DnsName(
            host.try_into().map_err(|e| anyhow!("host {host:?}: {e}"))?,
        )];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    /// A client certificate: CN `user`, O `group`.
    pub fn client(&mut self, user: &str, group: Option<&str>) -> anyhow::Result<Certified> {
        let mut params = self.leaf(user, group);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    fn leaf(&mut self, common_name: &str, group: Option<&str>) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name, group);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let serial = self.rng.next_u64() | 1 << 62;
        params.serial_number = Some(SerialNumber::from(serial.to_be_bytes().to_vec()));
        set_validity(&mut params, self.not_before);
        params
    }

    fn sign(&mut self, params: CertificateParams) -> anyhow::Result<Certified> {
        let key = seeded_key(&mut self.rng)?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("signing a certificate")?;
        Ok(Certified {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A rustls client configuration that trusts the CA and presents `identity`.
    pub fn client_tls(&self, identity: &Certified) -> anyhow::Result<Arc<rustls::ClientConfig>> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
            roots
                .add(cert.map_err(|e| anyhow!("CA PEM: {e}"))?)
                .context("trusting the CA")?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS versions")?
            .with_root_certificates(roots)
            .with_client_auth_cert(identity.chain()?, identity.key()?)
            .context("the client certificate")?;
        Ok(Arc::new(config))
    }
}

/// An Ed25519 key from 32 seeded bytes: PKCS#8 v1 is a fixed 16-byte prefix and the seed.
fn seeded_key(rng: &mut SimRng) -> anyhow::Result<KeyPair> {
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let mut der = PREFIX.to_vec();
    for _ in 0..4 {
        der.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(der), &rcgen::PKCS_ED25519)
        .context("an Ed25519 key from seeded bytes")
}

fn name(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    if let Some(organization) = organization {
        name.push(DnType::OrganizationName, organization);
    }
    name.push(DnType::CommonName, common_name);
    name
}

fn set_validity(params: &mut CertificateParams, not_before: Duration) {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + not_before;
    params.not_after = epoch + not_before + VALIDITY;
}

/// A file in RAM (a memfd) that a path-taking API can read as `/proc/self/fd/N` while this
/// value lives. Nothing reaches a disk, and nothing is left behind when the process ends.
pub struct MemFile {
    file: File,
}

impl MemFile {
    pub fn new(name: &str, contents: &[u8]) -> anyhow::Result<MemFile> {
        let fd = memfd_create(name, MFdFlags::MFD_CLOEXEC).context("memfd_create")?;
        let mut file = File::from(fd);
        file.write_all(contents).context("writing a memfd")?;
        Ok(MemFile { file })
    }

    /// A path that opens this file afresh (its own offset) each time it is read.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_certificates() {
        let make = |seed| {
            let mut pki = Pki::new(seed, crate::clock::DEFAULT_EPOCH).unwrap();
            let server = pki.server("apiserver").unwrap();
            (pki.ca_pem.clone(), server.cert_pem, server.key_pem)
        };
        assert_eq!(make(3), make(3));
        assert_ne!(make(3).2, make(4).2);
    }

    #[test]
    fn a_memfile_reads_back() {
        let file = MemFile::new("test", b"hello").unwrap();
        assert_eq!(std::fs::read(file.path()).unwrap(), b"hello");
        assert_eq!(std::fs::read(file.path()).unwrap(), b"hello");
    }
}
