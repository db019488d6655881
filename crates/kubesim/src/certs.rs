//! `kubesim certs --out DIR`: the certificates and the kubeconfig that let a real kubectl talk
//! to kubesim's HTTPS API server.
//!
//! What it writes (PEM, ECDSA P-256 keys), the contract the API server relies on:
//! - `ca.crt`, `ca.key`: a self-signed CA, CN `kubesim-ca`, valid 10 years;
//! - `apiserver.crt`, `apiserver.key`: the serving certificate, CN `kube-apiserver`, one SAN per
//!   `--hosts` entry (IP SANs for addresses, DNS SANs for names), EKU serverAuth, 1 year;
//! - `admin.crt`, `admin.key`: a client certificate, CN `kubesim-admin` (the user), O
//!   `system:masters` (its group), EKU clientAuth, 1 year;
//! - `kubeconfig`: cluster, user and context `kubesim`/`kubesim-admin`/`kubesim`, with the CA and
//!   the client certificate and key embedded in base64, so a copy of the file keeps working.
//!
//! [`generate`] makes everything in memory; [`write_files`] puts it on disk, refusing to
//! overwrite unless `--force` (or, with `--if-missing`, keeping the set when it is all there:
//! docker-compose.yml runs this on every start). Keys and the kubeconfig (which holds a key)
//! are mode 0600.
//!
//! Optional extras, each signed by that CA and each kept when it exists:
//! - `--webhook-hosts`: `webhook.crt`, `webhook.key`, the admission webhooks' serving
//!   certificate (CN `kubesim-webhook`, EKU serverAuth) with those SANs ([`serving_certificate`]);
//! - `--identities`: what `kubesim up` makes beside the certificates (`up/identities.rs`): the
//!   ServiceAccount signing key `sa.key`/`sa.pub` and the example user's `jane.crt`/`jane.key`.
//!
//! `kubesim up` also uses [`client_certificate`] (a user's certificate signed by that CA's
//! key, e.g. `jane` in group `dev-team`), [`service_account_key`] (the key ServiceAccount
//! tokens are signed with) and [`kubeconfig_with_users`] (one context per identity).

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};

use crate::flags::FlagError;

/// `--hosts` when not given: loopback by address and name, and the names kube-apiserver's own
/// serving certificate always carries, which in-cluster clients dial.
pub const DEFAULT_HOSTS: &str =
    "127.0.0.1,localhost,::1,kubernetes,kubernetes.default,kubernetes.default.svc";
/// `--server` when not given: kube-apiserver's secure port on loopback.
pub const DEFAULT_SERVER: &str = "https://127.0.0.1:6443";

pub const CA_COMMON_NAME: &str = "kubesim-ca";
pub const APISERVER_COMMON_NAME: &str = "kube-apiserver";
/// The webhooks' serving certificate's CN (clients check its SANs, not this).
pub const WEBHOOK_COMMON_NAME: &str = "kubesim-webhook";
/// The admin's user name: Kubernetes takes the client certificate's CN as the user.
pub const ADMIN_USER: &str = "kubesim-admin";
/// The admin's group: each O of a client certificate is a group, and this one is bound to
/// cluster-admin.
pub const ADMIN_GROUP: &str = "system:masters";
/// Name of the cluster and the context in the kubeconfig.
pub const KUBECONFIG_CLUSTER: &str = "kubesim";

const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
const LEAF_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Certificates start this long before "now", as client-go's self-signed certificates do, so
/// a checker whose clock is a little behind still accepts them.
const BACKDATE: Duration = Duration::from_secs(3600);
/// A clock past this (about the year 8900) is broken; `time`, under rcgen, ends at 9999.
const CLOCK_LIMIT: Duration = Duration::from_secs(7000 * 365 * 24 * 3600);
/// Longest DNS name (RFC 1035) and label.
const MAX_DNS_NAME_LEN: usize = 253;
const MAX_DNS_LABEL_LEN: usize = 63;

/// The file names in the output directory.
pub const CA_CERT_FILE: &str = "ca.crt";
pub const CA_KEY_FILE: &str = "ca.key";
pub const APISERVER_CERT_FILE: &str = "apiserver.crt";
pub const APISERVER_KEY_FILE: &str = "apiserver.key";
pub const ADMIN_CERT_FILE: &str = "admin.crt";
pub const ADMIN_KEY_FILE: &str = "admin.key";
pub const KUBECONFIG_FILE: &str = "kubeconfig";
/// `--webhook-hosts`' serving certificate and key.
pub const WEBHOOK_CERT_FILE: &str = "webhook.crt";
pub const WEBHOOK_KEY_FILE: &str = "webhook.key";
/// Every file, in the order they are written.
pub const FILES: [&str; 7] = [
    CA_CERT_FILE,
    CA_KEY_FILE,
    APISERVER_CERT_FILE,
    APISERVER_KEY_FILE,
    ADMIN_CERT_FILE,
    ADMIN_KEY_FILE,
    KUBECONFIG_FILE,
];

#[derive(Debug, clap::Args)]
pub struct CertsArgs {
    /// Directory to write the certificates, keys and kubeconfig into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Comma list of the addresses and names the API server is reached at: IP addresses
    /// become IP SANs of its certificate, names DNS SANs.
    #[arg(long, default_value = DEFAULT_HOSTS)]
    pub hosts: String,
    /// The API server URL the kubeconfig points at.
    #[arg(long, default_value = DEFAULT_SERVER)]
    pub server: String,
    /// Overwrite files that already exist instead of refusing.
    #[arg(long)]
    pub force: bool,
    /// When every file is there already, keep them all and succeed instead of refusing (a
    /// partial set is still refused): for a deployment that runs this on every start.
    #[arg(long, conflicts_with = "force")]
    pub if_missing: bool,
    /// Also write the admission webhooks' serving certificate (webhook.crt, webhook.key) with
    /// these SANs, a comma list as --hosts takes; kept when webhook.crt exists.
    #[arg(long, value_name = "HOSTS")]
    pub webhook_hosts: Option<String>,
    /// Also write what `kubesim up` makes beside the certificates: the ServiceAccount token
    /// signing key (sa.key, sa.pub) and the example user jane's client certificate (jane.crt,
    /// jane.key, group dev-team); each kept when it exists.
    #[arg(long)]
    pub identities: bool,
}

impl CertsArgs {
    /// Checks the flags. `now_since_epoch` is the real clock: this is a command run by a
    /// person, and certificates must be valid in the real world.
    pub fn to_options(&self, now_since_epoch: Duration) -> Result<CertOptions, FlagError> {
        let webhook_hosts = match &self.webhook_hosts {
            Some(list) => {
                parse_hosts(list).map_err(|e| FlagError::new("webhook-hosts", e.reason.clone()))?
            }
            None => Vec::new(),
        };
        Ok(CertOptions {
            hosts: parse_hosts(&self.hosts)?,
            server: parse_server(&self.server)?,
            webhook_hosts,
            now_since_epoch,
        })
    }
}

/// One entry of `--hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    Dns(String),
}

impl Host {
    fn san(&self) -> Result<SanType, String> {
        match self {
            Host::Ip(ip) => Ok(SanType::IpAddress(*ip)),
            Host::Dns(name) => name
                .clone()
                .try_into()
                .map(SanType::DnsName)
                .map_err(|e| format!("{name:?}: {e}")),
        }
    }
}

/// What [`generate`] needs.
#[derive(Debug, Clone)]
pub struct CertOptions {
    /// The serving certificate's SANs, in order, without duplicates.
    pub hosts: Vec<Host>,
    /// `https://host:port`, written into the kubeconfig.
    pub server: String,
    /// The webhooks' serving certificate's SANs; empty: no such certificate.
    pub webhook_hosts: Vec<Host>,
    /// Start of validity (before [`BACKDATE`]), from the real clock.
    pub now_since_epoch: Duration,
}

/// Everything `kubesim certs` writes, PEM-encoded, in memory.
#[derive(Debug, Clone)]
pub struct GeneratedCerts {
    pub ca_cert_pem: String,
    pub ca_key_pem: String,
    pub apiserver_cert_pem: String,
    pub apiserver_key_pem: String,
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
    pub kubeconfig: String,
}

impl GeneratedCerts {
    /// `(file name, contents, secret)` of each file; secret files are mode 0600.
    pub fn files(&self) -> [(&'static str, &str, bool); 7] {
        [
            (CA_CERT_FILE, &self.ca_cert_pem, false),
            (CA_KEY_FILE, &self.ca_key_pem, true),
            (APISERVER_CERT_FILE, &self.apiserver_cert_pem, false),
            (APISERVER_KEY_FILE, &self.apiserver_key_pem, true),
            (ADMIN_CERT_FILE, &self.admin_cert_pem, false),
            (ADMIN_KEY_FILE, &self.admin_key_pem, true),
            // It embeds the admin's private key.
            (KUBECONFIG_FILE, &self.kubeconfig, true),
        ]
    }
}

/// Makes the CA, the serving and client certificates and the kubeconfig. Keys come from the
/// operating system's RNG (through ring): they must be secret, not reproducible.
pub fn generate(opts: &CertOptions) -> Result<GeneratedCerts, String> {
    if opts.now_since_epoch > CLOCK_LIMIT {
        return Err(format!(
            "the system clock is implausible ({}s since 1970)",
            opts.now_since_epoch.as_secs()
        ));
    }
    let not_before = opts.now_since_epoch.saturating_sub(BACKDATE);
    let ca_key = new_key_pair()?;
    let ca = CertifiedIssuer::self_signed(ca_params(not_before), ca_key)
        .map_err(|e| format!("signing the CA certificate: {e}"))?;

    let apiserver_key = new_key_pair()?;
    let apiserver_cert = apiserver_params(&opts.hosts, not_before)?
        .signed_by(&apiserver_key, &ca)
        .map_err(|e| format!("signing the API server certificate: {e}"))?;

    let admin_key = new_key_pair()?;
    let admin_cert = client_params(ADMIN_USER, Some(ADMIN_GROUP), not_before)
        .signed_by(&admin_key, &ca)
        .map_err(|e| format!("signing the admin certificate: {e}"))?;

    let ca_cert_pem = ca.pem();
    let admin_cert_pem = admin_cert.pem();
    let admin_key_pem = admin_key.serialize_pem();
    let kubeconfig = kubeconfig(&opts.server, &ca_cert_pem, &admin_cert_pem, &admin_key_pem);
    Ok(GeneratedCerts {
        ca_key_pem: ca.key().serialize_pem(),
        ca_cert_pem,
        apiserver_cert_pem: apiserver_cert.pem(),
        apiserver_key_pem: apiserver_key.serialize_pem(),
        admin_cert_pem,
        admin_key_pem,
        kubeconfig,
    })
}

/// ECDSA P-256, rcgen's default: small keys that Go, rustls and openssl all accept.
fn new_key_pair() -> Result<KeyPair, String> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| format!("generating a key: {e}"))
}

fn ca_params(not_before: Duration) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(CA_COMMON_NAME, None);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    set_validity(&mut params, not_before, CA_VALIDITY);
    params
}

fn apiserver_params(hosts: &[Host], not_before: Duration) -> Result<CertificateParams, String> {
    let mut params = leaf_params(APISERVER_COMMON_NAME, None, not_before);
    params.subject_alt_names = hosts.iter().map(Host::san).collect::<Result<_, _>>()?;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params)
}

/// A client certificate's: CN the user, O the group (rcgen keeps one O).
fn client_params(user: &str, group: Option<&str>, not_before: Duration) -> CertificateParams {
    let mut params = leaf_params(user, group, not_before);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

/// A client certificate for `user` in `group` (PEM certificate, PEM key), valid a year from
/// `now_since_epoch` less [`BACKDATE`], signed with `ca_key_pem`, the key of the CA
/// [`generate`] made. Signing needs only the CA's name and key, and the name is always
/// [`CA_COMMON_NAME`], so the CA is rebuilt from its key rather than parsed from its file.
pub fn client_certificate(
    ca_key_pem: &str,
    user: &str,
    group: Option<&str>,
    now_since_epoch: Duration,
) -> Result<(String, String), String> {
    let (ca, not_before) = issuer_from_key(ca_key_pem, now_since_epoch)?;
    let key = new_key_pair()?;
    let cert = client_params(user, group, not_before)
        .signed_by(&key, &ca)
        .map_err(|e| format!("signing the certificate of {user}: {e}"))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The CA rebuilt from its key (its parameters are fixed), and the leaf certificates'
/// not-before: now less [`BACKDATE`]. Refuses an implausible clock.
fn issuer_from_key(
    ca_key_pem: &str,
    now_since_epoch: Duration,
) -> Result<(rcgen::Issuer<'static, KeyPair>, Duration), String> {
    if now_since_epoch > CLOCK_LIMIT {
        return Err(format!(
            "the system clock is implausible ({}s since 1970)",
            now_since_epoch.as_secs()
        ));
    }
    let not_before = now_since_epoch.saturating_sub(BACKDATE);
    let ca_key = KeyPair::from_pem(ca_key_pem).map_err(|e| format!("the CA key: {e}"))?;
    Ok((
        rcgen::Issuer::new(ca_params(not_before), ca_key),
        not_before,
    ))
}

/// A serving certificate (PEM certificate, PEM key) named `common_name` with one SAN per
/// `hosts` entry, EKU serverAuth, valid a year from `now_since_epoch` less [`BACKDATE`],
/// signed with `ca_key_pem` (the CA rebuilt from its key, as in [`client_certificate`]).
pub fn serving_certificate(
    ca_key_pem: &str,
    common_name: &str,
    hosts: &[Host],
    now_since_epoch: Duration,
) -> Result<(String, String), String> {
    let (ca, not_before) = issuer_from_key(ca_key_pem, now_since_epoch)?;
    let key = new_key_pair()?;
    let mut params = leaf_params(common_name, None, not_before);
    params.subject_alt_names = hosts.iter().map(Host::san).collect::<Result<_, _>>()?;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params
        .signed_by(&key, &ca)
        .map_err(|e| format!("signing the certificate of {common_name}: {e}"))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A ServiceAccount token signing key, P-256 (ES256): the private key (PKCS#8 PEM, for
/// `--service-account-signing-key-file`) and its public key (for `--service-account-key-file`).
pub fn service_account_key() -> Result<(String, String), String> {
    let key = new_key_pair()?;
    Ok((key.serialize_pem(), key.public_key_pem()))
}

fn leaf_params(
    common_name: &str,
    organization: Option<&str>,
    not_before: Duration,
) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(common_name, organization);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, not_before, LEAF_VALIDITY);
    params
}

/// O before CN, the order openssl and kubeadm print: `O = system:masters, CN = kubesim-admin`.
fn distinguished_name(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    if let Some(organization) = organization {
        name.push(DnType::OrganizationName, organization);
    }
    name.push(DnType::CommonName, common_name);
    name
}

/// `not_before` is time since the epoch; both bounds are below [`CLOCK_LIMIT`] plus ten years,
/// well inside what `time` can represent, so the additions cannot overflow.
fn set_validity(params: &mut CertificateParams, not_before: Duration, validity: Duration) {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + not_before;
    params.not_after = epoch + not_before + validity;
}

/// The kubeconfig, written by hand: one cluster, one user, one context, data embedded.
pub fn kubeconfig(
    server: &str,
    ca_cert_pem: &str,
    client_cert_pem: &str,
    client_key_pem: &str,
) -> String {
    let admin = KubeconfigUser {
        user: ADMIN_USER.to_string(),
        context: KUBECONFIG_CLUSTER.to_string(),
        namespace: None,
        credential: Credential::ClientCertificate {
            cert_pem: client_cert_pem.to_string(),
            key_pem: client_key_pem.to_string(),
        },
    };
    kubeconfig_with_users(server, ca_cert_pem, &[admin])
}

/// How a kubeconfig user proves who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    ClientCertificate {
        cert_pem: String,
        key_pem: String,
    },
    /// A bearer token, e.g. a ServiceAccount's from TokenRequest. Must be a plain YAML
    /// scalar: [`is_plain_token`].
    Token(String),
}

/// One user of a kubeconfig and the context that uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeconfigUser {
    pub user: String,
    pub context: String,
    /// The context's default namespace.
    pub namespace: Option<String>,
    pub credential: Credential,
}

/// A kubeconfig with the one cluster [`KUBECONFIG_CLUSTER`] and a user and a context per
/// entry of `users`; the first context is the current one. Names and tokens go in as plain
/// YAML scalars: callers pass names of letters, digits, `-`, `.`, `@` and `:`, and tokens that
/// pass [`is_plain_token`].
pub fn kubeconfig_with_users(server: &str, ca_cert_pem: &str, users: &[KubeconfigUser]) -> String {
    let b64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {KUBECONFIG_CLUSTER}\n  \
           cluster:\n    \
             server: {server}\n    \
             certificate-authority-data: {ca}\n\
         users:\n",
        ca = b64(ca_cert_pem),
    );
    for entry in users {
        let _ = write!(out, "- name: {}\n  user:\n", entry.user);
        let _ = match &entry.credential {
            Credential::ClientCertificate { cert_pem, key_pem } => write!(
                out,
                "    client-certificate-data: {}\n    client-key-data: {}\n",
                b64(cert_pem),
                b64(key_pem)
            ),
            Credential::Token(token) => writeln!(out, "    token: {token}"),
        };
    }
    out.push_str("contexts:\n");
    for entry in users {
        let _ = write!(
            out,
            "- name: {}\n  context:\n    cluster: {KUBECONFIG_CLUSTER}\n    user: {}\n",
            entry.context, entry.user
        );
        if let Some(namespace) = &entry.namespace {
            let _ = writeln!(out, "    namespace: {namespace}");
        }
    }
    if let Some(current) = users.first() {
        let _ = writeln!(out, "current-context: {}", current.context);
    }
    out.push_str("preferences: {}\n");
    out
}

/// Whether `token` can go into a kubeconfig as it is: a JWT's characters (base64url and `.`).
pub fn is_plain_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Parses `--hosts`: a comma list of IP addresses (IPv6 bare or in brackets) and DNS names.
/// Empty entries are refused (a stray comma is a typo, not a wish); repeats are dropped.
pub fn parse_hosts(list: &str) -> Result<Vec<Host>, FlagError> {
    let mut hosts = Vec::new();
    for entry in list.split(',') {
        let host = parse_host(entry.trim()).map_err(|reason| FlagError::new("hosts", reason))?;
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    Ok(hosts)
}

fn parse_host(entry: &str) -> Result<Host, String> {
    if entry.is_empty() {
        return Err("empty entry in the list".into());
    }
    let unbracketed = entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(entry);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    check_dns_name(entry).map_err(|reason| format!("{entry:?}: {reason}"))?;
    Ok(Host::Dns(entry.to_ascii_lowercase()))
}

/// A DNS name as certificates carry it: dot-separated labels of letters, digits and inner
/// hyphens, optionally starting with a `*.` wildcard.
fn check_dns_name(name: &str) -> Result<(), String> {
    if name.len() > MAX_DNS_NAME_LEN {
        return Err(format!("longer than {MAX_DNS_NAME_LEN} characters"));
    }
    let labels = name.strip_prefix("*.").unwrap_or(name);
    for label in labels.split('.') {
        if label.is_empty() || label.len() > MAX_DNS_LABEL_LEN {
            return Err(format!(
                "not an IP address or a DNS name (labels are 1 to {MAX_DNS_LABEL_LEN} characters)"
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("not an IP address or a DNS name (letters, digits, '-' and '.')".into());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a DNS label cannot start or end with '-'".into());
        }
    }
    Ok(())
}

/// Parses `--server`: `https://host:port`, with only the characters a host and port use, so
/// the value goes into the kubeconfig's YAML as a plain scalar.
pub fn parse_server(url: &str) -> Result<String, FlagError> {
    let error = |reason: &str| FlagError::new("server", format!("{url:?}: {reason}"));
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| error("must be https://host:port"))?;
    let host_port = rest.strip_suffix('/').unwrap_or(rest);
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
    if !host_port.chars().all(allowed) {
        return Err(error("must be https://host:port, nothing else"));
    }
    crate::flags::parse_host_port(host_port).map_err(|reason| error(&reason))?;
    Ok(format!("https://{host_port}"))
}

/// The host part of a checked `https://host:port`, brackets removed.
fn server_host(server: &str) -> &str {
    let host_port = server.trim_start_matches("https://");
    let host = host_port
        .rsplit_once(':')
        .map_or(host_port, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Whether the serving certificate will be accepted by a client that dials `server`. A wildcard
/// SAN is not considered: a miss then only costs a warning.
pub fn server_is_covered(server: &str, hosts: &[Host]) -> bool {
    let host = server_host(server);
    let wanted = match host.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Dns(host.to_ascii_lowercase()),
    };
    hosts.contains(&wanted)
}

/// Everything `kubesim certs` does once its flags are checked: generate, write, and return
/// what to print. A warning (the server's host is not a SAN) goes to stderr.
pub fn run(args: &CertsArgs, opts: &CertOptions) -> Result<String, CertsError> {
    if !server_is_covered(&opts.server, &opts.hosts) {
        eprintln!(
            "kubesim certs: warning: the host of --server {} is not in --hosts; kubectl will \
             reject the API server's certificate unless it connects through another name",
            opts.server
        );
    }
    let kept = args.if_missing && FILES.iter().all(|name| args.out.join(name).is_file());
    if !kept {
        let certs = generate(opts).map_err(CertsError::Generate)?;
        write_files(&args.out, &certs, args.force)?;
    }
    // Absolute, so the export line works from any directory; the directory exists by now.
    let dir = fs::canonicalize(&args.out).unwrap_or_else(|_| args.out.clone());
    let mut out = file_lines(&dir, if kept { "kept" } else { "wrote" }, &FILES);
    if args.identities {
        out.push_str(&write_identities(&dir, opts.now_since_epoch)?);
    }
    if !opts.webhook_hosts.is_empty() {
        out.push_str(&write_webhook_certificate(&dir, opts)?);
    }
    out.push_str(&export_lines(&dir, &opts.server));
    Ok(out)
}

/// `--identities`: the ServiceAccount key and jane's certificate, made as `kubesim up` makes
/// them (and by the same code), each unless it exists.
fn write_identities(dir: &Path, now_since_epoch: Duration) -> Result<String, CertsError> {
    use crate::up::identities;
    let extra = |e: anyhow::Error| CertsError::Extra(format!("{e:#}"));
    let sa = [identities::SA_KEY_FILE, identities::SA_PUBLIC_KEY_FILE];
    let sa_verb = if dir.join(sa[0]).exists() {
        "kept"
    } else {
        "wrote"
    };
    identities::ensure_service_account_key(dir).map_err(extra)?;
    let user = [
        identities::EXAMPLE_USER_CERT_FILE,
        identities::EXAMPLE_USER_KEY_FILE,
    ];
    let user_verb = if dir.join(user[0]).exists() {
        "kept"
    } else {
        "wrote"
    };
    identities::ensure_example_user(dir, now_since_epoch).map_err(extra)?;
    Ok(file_lines(dir, sa_verb, &sa) + &file_lines(dir, user_verb, &user))
}

/// `--webhook-hosts`: `webhook.crt` and `webhook.key`, signed by `ca.key`, unless
/// `webhook.crt` exists. The key is written first, so a reader that waits for the
/// certificate finds both.
fn write_webhook_certificate(dir: &Path, opts: &CertOptions) -> Result<String, CertsError> {
    let names = [WEBHOOK_KEY_FILE, WEBHOOK_CERT_FILE];
    if dir.join(WEBHOOK_CERT_FILE).exists() {
        return Ok(file_lines(dir, "kept", &names));
    }
    let ca_key_path = dir.join(CA_KEY_FILE);
    let ca_key = fs::read_to_string(&ca_key_path).map_err(|source| {
        CertsError::Write(WriteError::Io {
            path: ca_key_path,
            source,
        })
    })?;
    let (cert_pem, key_pem) = serving_certificate(
        &ca_key,
        WEBHOOK_COMMON_NAME,
        &opts.webhook_hosts,
        opts.now_since_epoch,
    )
    .map_err(CertsError::Generate)?;
    for (name, contents, secret) in [(names[0], &key_pem, true), (names[1], &cert_pem, false)] {
        let path = dir.join(name);
        write_file(&path, contents, secret, true)
            .map_err(|source| CertsError::Write(WriteError::Io { path, source }))?;
    }
    Ok(file_lines(dir, "wrote", &names))
}

#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    #[error("{0}")]
    Generate(String),
    #[error(transparent)]
    Write(#[from] WriteError),
    /// `--identities` could not be read or written.
    #[error("{0}")]
    Extra(String),
}

impl CertsError {
    /// Files in the way are the user's to move or `--force`, like a bad flag (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, CertsError::Write(WriteError::Exists(_)))
    }
}

/// Why nothing, or not everything, was written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Without `--force`, some files exist: a usage error, nothing was written.
    #[error("refusing to overwrite {}; pass --force to replace them", list(.0))]
    Exists(Vec<PathBuf>),
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

fn list(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    names.join(", ")
}

/// Writes every file into `dir` (created if missing). Without `force`, refuses before writing
/// anything if any of them exists.
pub fn write_files(dir: &Path, certs: &GeneratedCerts, force: bool) -> Result<(), WriteError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let files = certs.files();
    if !force {
        let existing: Vec<PathBuf> = files
            .iter()
            .map(|(name, _, _)| dir.join(name))
            .filter(|path| path.symlink_metadata().is_ok())
            .collect();
        if !existing.is_empty() {
            return Err(WriteError::Exists(existing));
        }
    }
    for (name, contents, secret) in files {
        let path = dir.join(name);
        write_file(&path, contents, secret, force).map_err(io_error(&path))?;
    }
    Ok(())
}

/// With `force`, the old file is removed first, so a new key is never written into a file
/// that an earlier run (or a person) left readable by others.
pub(crate) fn write_file(path: &Path, contents: &str, secret: bool, force: bool) -> io::Result<()> {
    if force {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let mut options = fs::OpenOptions::new();
    // create_new: a file that appeared since the check is not overwritten.
    options.write(true).create_new(true);
    if secret {
        owner_only(&mut options);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(unix)]
fn owner_only(options: &mut fs::OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    options.mode(0o600);
}

#[cfg(not(unix))]
fn owner_only(_options: &mut fs::OpenOptions) {}

/// `<verb> <dir>/<name>`, a line per file.
fn file_lines(dir: &Path, verb: &str, names: &[&str]) -> String {
    let mut out = String::new();
    for name in names {
        let _ = writeln!(out, "{verb} {}", dir.join(name).display());
    }
    out
}

/// How to point kubectl at the server.
fn export_lines(dir: &Path, server: &str) -> String {
    let mut out = String::new();
    let kubeconfig = dir.join(KUBECONFIG_FILE);
    let _ = writeln!(out, "kubectl reaches {server} with:");
    let _ = writeln!(
        out,
        "export KUBECONFIG={}",
        shell_quote(&kubeconfig.display().to_string())
    );
    out
}

/// Single-quotes a path for a POSIX shell unless it only has characters that need none.
pub(crate) fn shell_quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::Arc;

    use base64::Engine as _;
    use rustls::pki_types::pem::PemObject as _;

    use super::*;

    /// 2026-01-01T00:00:00Z.
    const NOW: Duration = Duration::from_secs(1_767_225_600);

    fn options() -> CertOptions {
        CertOptions {
            hosts: parse_hosts(DEFAULT_HOSTS).unwrap(),
            server: DEFAULT_SERVER.to_string(),
            webhook_hosts: Vec::new(),
            now_since_epoch: NOW,
        }
    }

    fn args(out: &Path) -> CertsArgs {
        CertsArgs {
            out: out.to_path_buf(),
            hosts: DEFAULT_HOSTS.to_string(),
            server: DEFAULT_SERVER.to_string(),
            force: false,
            if_missing: true,
            webhook_hosts: None,
            identities: false,
        }
    }

    fn dns(name: &str) -> Host {
        Host::Dns(name.to_string())
    }

    #[test]
    fn default_hosts_are_loopback_and_kubernetes_names() {
        assert_eq!(
            parse_hosts(DEFAULT_HOSTS).unwrap(),
            vec![
                Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                dns("localhost"),
                Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                dns("kubernetes"),
                dns("kubernetes.default"),
                dns("kubernetes.default.svc"),
            ]
        );
    }

    #[test]
    fn hosts_parse_ipv4_ipv6_and_names() {
        let hosts =
            parse_hosts("10.0.0.1, [fd00::1],2001:db8::2,Node-1.Example.com,*.svc.local").unwrap();
        assert_eq!(
            hosts,
            vec![
                Host::Ip("10.0.0.1".parse().unwrap()),
                Host::Ip("fd00::1".parse().unwrap()),
                Host::Ip("2001:db8::2".parse().unwrap()),
                dns("node-1.example.com"),
                dns("*.svc.local"),
            ]
        );
        assert_eq!(parse_hosts("a,b,a").unwrap(), vec![dns("a"), dns("b")]);
    }

    #[test]
    fn bad_hosts_are_refused() {
        for bad in [
            "",
            "a,,b",
            "a,",
            ",a",
            " ",
            "a b",
            "-a",
            "a-.b",
            "a..b",
            "a/b",
            "1.2.3.4:80",
            "[::1",
        ] {
            let error = parse_hosts(bad).unwrap_err();
            assert_eq!(error.flag, "hosts", "{bad:?}");
        }
        assert!(
            parse_hosts("a,,b")
                .unwrap_err()
                .reason
                .contains("empty entry")
        );
        let long_label = "a".repeat(64);
        assert!(parse_hosts(&long_label).is_err());
        assert!(parse_hosts(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn server_must_be_https_host_port() {
        assert_eq!(
            parse_server("https://127.0.0.1:6443/").unwrap(),
            "https://127.0.0.1:6443"
        );
        assert_eq!(
            parse_server("https://[::1]:6443").unwrap(),
            "https://[::1]:6443"
        );
        for bad in [
            "http://127.0.0.1:6443",
            "127.0.0.1:6443",
            "https://127.0.0.1",
            "https://h:6443/api",
            "https://h:6443\nx: y",
            "https://h: 6443",
        ] {
            assert_eq!(parse_server(bad).unwrap_err().flag, "server", "{bad:?}");
        }
    }

    #[test]
    fn server_coverage_by_sans() {
        let hosts = parse_hosts(DEFAULT_HOSTS).unwrap();
        assert!(server_is_covered("https://127.0.0.1:6443", &hosts));
        assert!(server_is_covered("https://[::1]:6443", &hosts));
        assert!(server_is_covered("https://LOCALHOST:6443", &hosts));
        assert!(!server_is_covered("https://10.0.0.1:6443", &hosts));
        assert!(!server_is_covered("https://example.com:6443", &hosts));
    }

    #[test]
    fn kubeconfig_embeds_server_and_pems() {
        let text = kubeconfig(
            "https://10.1.2.3:7443",
            "CA PEM\n",
            "CERT PEM\n",
            "KEY PEM\n",
        );
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            text,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: kubesim\n  cluster:\n    \
                 server: https://10.1.2.3:7443\n    certificate-authority-data: {}\nusers:\n\
                 - name: kubesim-admin\n  user:\n    client-certificate-data: {}\n    \
                 client-key-data: {}\ncontexts:\n- name: kubesim\n  context:\n    \
                 cluster: kubesim\n    user: kubesim-admin\ncurrent-context: kubesim\n\
                 preferences: {{}}\n",
                b64("CA PEM\n"),
                b64("CERT PEM\n"),
                b64("KEY PEM\n")
            )
        );
    }

    /// The value of `key: value` on the first line that has it.
    fn yaml_value<'a>(text: &'a str, key: &str) -> &'a str {
        let prefix = format!("{key}: ");
        text.lines()
            .find_map(|line| line.trim_start().strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {key} in {text}"))
    }

    fn decode(b64: &str) -> String {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn generated_kubeconfig_decodes_to_the_generated_pems() {
        let certs = generate(&options()).unwrap();
        let text = &certs.kubeconfig;
        assert_eq!(yaml_value(text, "server"), DEFAULT_SERVER);
        assert_eq!(
            decode(yaml_value(text, "certificate-authority-data")),
            certs.ca_cert_pem
        );
        assert_eq!(
            decode(yaml_value(text, "client-certificate-data")),
            certs.admin_cert_pem
        );
        assert_eq!(
            decode(yaml_value(text, "client-key-data")),
            certs.admin_key_pem
        );
        assert_eq!(yaml_value(text, "current-context"), "kubesim");
    }

    #[test]
    fn generated_pems_have_the_right_kinds_and_names() {
        let certs = generate(&options()).unwrap();
        for pem in [
            &certs.ca_cert_pem,
            &certs.apiserver_cert_pem,
            &certs.admin_cert_pem,
        ] {
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
        }
        for pem in [
            &certs.ca_key_pem,
            &certs.apiserver_key_pem,
            &certs.admin_key_pem,
        ] {
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
        }
        // Three distinct keys.
        assert_ne!(certs.ca_key_pem, certs.apiserver_key_pem);
        assert_ne!(certs.apiserver_key_pem, certs.admin_key_pem);
        // The subject names are in the DER as plain strings (openssl checks the rest end to end).
        let der = |pem: &str| {
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap()
        };
        let contains = |haystack: &[u8], needle: &str| {
            haystack
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        };
        assert!(contains(&der(&certs.admin_cert_pem), ADMIN_USER));
        assert!(contains(&der(&certs.admin_cert_pem), ADMIN_GROUP));
        assert!(contains(
            &der(&certs.apiserver_cert_pem),
            "kubernetes.default.svc"
        ));
        assert!(contains(&der(&certs.ca_cert_pem), CA_COMMON_NAME));
    }

    #[test]
    fn files_are_listed_in_writing_order() {
        let certs = generate(&options()).unwrap();
        let names: Vec<&str> = certs.files().iter().map(|(name, _, _)| *name).collect();
        assert_eq!(names, FILES);
    }

    #[test]
    fn broken_clock_is_refused() {
        let mut opts = options();
        opts.now_since_epoch = CLOCK_LIMIT + Duration::from_secs(1);
        assert!(generate(&opts).unwrap_err().contains("clock"));
    }

    #[test]
    fn refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let first = generate(&options()).unwrap();
        write_files(dir.path(), &first, false).unwrap();
        for name in FILES {
            assert!(dir.path().join(name).is_file(), "{name}");
        }

        // One existing file is enough to refuse, and nothing is touched.
        fs::remove_file(dir.path().join(CA_CERT_FILE)).unwrap();
        let second = generate(&options()).unwrap();
        match write_files(dir.path(), &second, false) {
            Err(WriteError::Exists(paths)) => {
                assert_eq!(paths.len(), 6);
                assert!(!paths.contains(&dir.path().join(CA_CERT_FILE)));
            }
            other => panic!("expected Exists, got {other:?}"),
        }
        assert!(!dir.path().join(CA_CERT_FILE).exists());
        let kubeconfig = fs::read_to_string(dir.path().join(KUBECONFIG_FILE)).unwrap();
        assert_eq!(kubeconfig, first.kubeconfig);

        write_files(dir.path(), &second, true).unwrap();
        let kubeconfig = fs::read_to_string(dir.path().join(KUBECONFIG_FILE)).unwrap();
        assert_eq!(kubeconfig, second.kubeconfig);
        let ca_cert = fs::read_to_string(dir.path().join(CA_CERT_FILE)).unwrap();
        assert_eq!(ca_cert, second.ca_cert_pem);
    }

    #[cfg(unix)]
    #[test]
    fn secret_files_are_owner_only_even_when_forced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // A world-readable key left behind must not keep its mode when replaced.
        let stale = dir.path().join(ADMIN_KEY_FILE);
        fs::write(&stale, "old").unwrap();
        fs::set_permissions(&stale, fs::Permissions::from_mode(0o644)).unwrap();
        write_files(dir.path(), &generate(&options()).unwrap(), true).unwrap();
        let mode = |name: &str| {
            fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        for name in [
            CA_KEY_FILE,
            APISERVER_KEY_FILE,
            ADMIN_KEY_FILE,
            KUBECONFIG_FILE,
        ] {
            assert_eq!(mode(name), 0o600, "{name}");
        }
        assert_ne!(mode(CA_CERT_FILE) & 0o044, 0, "certificates stay readable");
    }

    #[test]
    fn summary_names_files_and_the_export_line() {
        let dir = Path::new("/tmp/kube sim");
        let text = file_lines(dir, "wrote", &FILES) + &export_lines(dir, DEFAULT_SERVER);
        assert_eq!(
            text,
            "wrote /tmp/kube sim/ca.crt\nwrote /tmp/kube sim/ca.key\n\
             wrote /tmp/kube sim/apiserver.crt\nwrote /tmp/kube sim/apiserver.key\n\
             wrote /tmp/kube sim/admin.crt\nwrote /tmp/kube sim/admin.key\n\
             wrote /tmp/kube sim/kubeconfig\nkubectl reaches https://127.0.0.1:6443 with:\n\
             export KUBECONFIG='/tmp/kube sim/kubeconfig'\n"
        );
        assert_eq!(shell_quote("/a/b"), "/a/b");
        assert_eq!(shell_quote("/it's"), r"'/it'\''s'");
    }

    #[test]
    fn client_certificates_chain_to_the_generated_ca() {
        let certs = generate(&options()).unwrap();
        let (cert_pem, key_pem) =
            client_certificate(&certs.ca_key_pem, "jane", Some("dev-team"), NOW).unwrap();
        assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let authenticator =
            kubesim_authn::x509::X509Authenticator::new(certs.ca_cert_pem.as_bytes()).unwrap();
        let chain: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        let user = authenticator
            .authenticate(&chain, NOW)
            .unwrap()
            .expect("a certificate was presented")
            .user;
        assert_eq!(user.username, "jane");
        assert_eq!(user.groups, ["dev-team", "system:authenticated"]);

        // Another CA's key makes a certificate this CA does not vouch for.
        let other = generate(&options()).unwrap();
        let (stranger, _) = client_certificate(&other.ca_key_pem, "jane", None, NOW).unwrap();
        let chain: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(stranger.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(authenticator.authenticate(&chain, NOW).is_err());
        assert!(client_certificate("not a key", "jane", None, NOW).is_err());
    }

    #[test]
    fn the_service_account_key_signs_and_its_public_half_is_what_kube_reads() {
        let (private_pem, public_pem) = service_account_key().unwrap();
        let issuer = kubesim_authn::service_account::TokenIssuer::from_pem(
            private_pem.as_bytes(),
            "https://kubernetes.default.svc.cluster.local",
        )
        .unwrap();
        assert_eq!(issuer.algorithm(), "ES256");
        assert_eq!(issuer.public_key_pem(), public_pem);
    }

    #[test]
    fn kubeconfig_with_a_certificate_and_a_token_user() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let users = [
            KubeconfigUser {
                user: "jane".into(),
                context: "jane@kubesim".into(),
                namespace: Some("dev".into()),
                credential: Credential::ClientCertificate {
                    cert_pem: "CERT\n".into(),
                    key_pem: "KEY\n".into(),
                },
            },
            KubeconfigUser {
                user: "deploy-bot".into(),
                context: "deploy-bot@kubesim".into(),
                namespace: None,
                credential: Credential::Token("h.p.s".into()),
            },
        ];
        assert_eq!(
            kubeconfig_with_users("https://127.0.0.1:6443", "CA\n", &users),
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: kubesim\n  cluster:\n    \
                 server: https://127.0.0.1:6443\n    certificate-authority-data: {}\nusers:\n\
                 - name: jane\n  user:\n    client-certificate-data: {}\n    \
                 client-key-data: {}\n- name: deploy-bot\n  user:\n    token: h.p.s\n\
                 contexts:\n- name: jane@kubesim\n  context:\n    cluster: kubesim\n    \
                 user: jane\n    namespace: dev\n- name: deploy-bot@kubesim\n  context:\n    \
                 cluster: kubesim\n    user: deploy-bot\ncurrent-context: jane@kubesim\n\
                 preferences: {{}}\n",
                b64("CA\n"),
                b64("CERT\n"),
                b64("KEY\n")
            )
        );
        assert!(is_plain_token("eyJh.eyJz-_.c2ln"));
        assert!(!is_plain_token(""));
        assert!(!is_plain_token("a b"));
        assert!(!is_plain_token("a\nb: c"));
    }

    /// What compose's `certs` service relies on: a second run keeps the whole set (the same
    /// CA, so kubeconfigs already handed out keep working); a partial set is not papered over.
    #[test]
    fn if_missing_keeps_a_complete_set_and_refuses_a_partial_one() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pki");
        let args = args(&out);
        let first = run(&args, &options()).unwrap();
        assert!(first.starts_with("wrote "), "{first}");
        let ca = fs::read_to_string(out.join(CA_CERT_FILE)).unwrap();

        let second = run(&args, &options()).unwrap();
        assert_eq!(second.matches("kept ").count(), FILES.len(), "{second}");
        assert!(!second.contains("wrote "), "{second}");
        assert_eq!(fs::read_to_string(out.join(CA_CERT_FILE)).unwrap(), ca);

        fs::remove_file(out.join(ADMIN_KEY_FILE)).unwrap();
        let error = run(&args, &options()).unwrap_err();
        assert!(error.is_usage(), "{error}");
        assert_eq!(fs::read_to_string(out.join(CA_CERT_FILE)).unwrap(), ca);
        #[derive(Debug, clap::Parser)]
        struct Cmd {
            #[command(flatten)]
            _args: CertsArgs,
        }
        use clap::Parser as _;
        let both = ["certs", "--out", "d", "--if-missing", "--force"];
        assert!(
            Cmd::try_parse_from(both).is_err(),
            "--if-missing and --force contradict each other"
        );
    }

    #[test]
    fn identities_are_written_once_beside_the_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = args(dir.path());
        args.identities = true;
        let first = run(&args, &options()).unwrap();
        for name in ["sa.key", "sa.pub", "jane.crt", "jane.key"] {
            let line = format!("wrote {}\n", dir.path().join(name).display());
            assert!(first.contains(&line), "{name}: {first}");
        }
        let sa_key = fs::read_to_string(dir.path().join("sa.key")).unwrap();
        let second = run(&args, &options()).unwrap();
        assert!(!second.contains("wrote "), "{second}");
        assert_eq!(
            fs::read_to_string(dir.path().join("sa.key")).unwrap(),
            sa_key
        );
    }

    /// The webhooks' certificate is accepted, by the verifier clients use, for each of its
    /// hosts and no other.
    #[test]
    fn the_webhook_certificate_serves_its_hosts_under_the_ca() {
        use rustls::client::WebPkiServerVerifier;
        use rustls::client::danger::ServerCertVerifier as _;
        use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

        let dir = tempfile::tempdir().unwrap();
        let mut args = args(dir.path());
        args.webhook_hosts = Some("label-injector,no-privileged,127.0.0.1".into());
        let opts = args.to_options(NOW).unwrap();
        let text = run(&args, &opts).unwrap();
        assert!(text.contains("wrote "), "{text}");
        let ca = fs::read(dir.path().join(CA_CERT_FILE)).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&ca) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        let pem = fs::read(dir.path().join(WEBHOOK_CERT_FILE)).unwrap();
        let leaf = CertificateDer::pem_slice_iter(&pem)
            .next()
            .unwrap()
            .unwrap();
        let at = UnixTime::since_unix_epoch(NOW);
        let verify = |name: &str| {
            let name = ServerName::try_from(name.to_string()).unwrap();
            verifier.verify_server_cert(&leaf, &[], &name, &[], at)
        };
        for host in ["label-injector", "no-privileged", "127.0.0.1"] {
            assert!(verify(host).is_ok(), "{host}: {:?}", verify(host));
        }
        assert!(verify("apiserver-1").is_err());
        assert!(
            fs::read_to_string(dir.path().join(WEBHOOK_KEY_FILE))
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
        // Kept on the next run, even with other hosts: the certificate in use stays.
        args.webhook_hosts = Some("elsewhere".into());
        let again = run(&args, &args.to_options(NOW).unwrap()).unwrap();
        assert!(again.contains("kept "), "{again}");
        assert_eq!(fs::read(dir.path().join(WEBHOOK_CERT_FILE)).unwrap(), pem);
        args.webhook_hosts = Some("a,,b".into());
        assert_eq!(args.to_options(NOW).unwrap_err().flag, "webhook-hosts");
    }
}
