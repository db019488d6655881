//! The files `kubesim up` keeps under `<data-dir>/pki` beside `kubesim certs`' ones, and the
//! kubeconfig it writes for kubectl:
//!
//! - `sa.key` / `sa.pub`: the ServiceAccount token signing key (P-256, ES256) and its public
//!   key, made on the first start (`--service-account-signing-key-file`, `-key-file`);
//! - `jane.crt` / `jane.key`: the example user's client certificate (CN `jane`, O `dev-team`),
//!   signed by the cluster CA, made on the first start;
//! - `authz-webhook.kubeconfig`: where the Webhook authorizer finds the authz service,
//!   rewritten on every start (the port follows `--base-port`);
//! - `<data-dir>/kubeconfig`: contexts `kubesim` (the admin, current), `jane@kubesim` and,
//!   when TokenRequest gave a token, `deploy-bot@kubesim`. Rewritten on every start.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::certs::{self, Credential, KubeconfigUser};

use super::examples::{SA_NAME, SA_NAMESPACE, USER_NAMESPACE};

pub const SA_KEY_FILE: &str = "sa.key";
pub const SA_PUBLIC_KEY_FILE: &str = "sa.pub";
/// The example user and its group (each O of a client certificate is a group).
pub const EXAMPLE_USER: &str = "jane";
pub const EXAMPLE_GROUP: &str = "dev-team";
pub const EXAMPLE_USER_CERT_FILE: &str = "jane.crt";
pub const EXAMPLE_USER_KEY_FILE: &str = "jane.key";
pub const WEBHOOK_KUBECONFIG_FILE: &str = "authz-webhook.kubeconfig";

/// The context names of the kubeconfig, in the order they are written.
pub fn context_name(user: &str) -> String {
    format!("{user}@{}", certs::KUBECONFIG_CLUSTER)
}

/// Writes `sa.key` and `sa.pub` unless `sa.key` exists.
pub fn ensure_service_account_key(pki: &Path) -> anyhow::Result<()> {
    if pki.join(SA_KEY_FILE).exists() {
        return Ok(());
    }
    let (private_pem, public_pem) = certs::service_account_key().map_err(anyhow::Error::msg)?;
    write(&pki.join(SA_PUBLIC_KEY_FILE), &public_pem, false)?;
    write(&pki.join(SA_KEY_FILE), &private_pem, true)
}

/// Writes jane's certificate and key, signed by `pki/ca.key`, unless the certificate exists.
pub fn ensure_example_user(pki: &Path, now_since_epoch: Duration) -> anyhow::Result<()> {
    if pki.join(EXAMPLE_USER_CERT_FILE).exists() {
        return Ok(());
    }
    let ca_key = read(&pki.join(certs::CA_KEY_FILE))?;
    let (cert_pem, key_pem) =
        certs::client_certificate(&ca_key, EXAMPLE_USER, Some(EXAMPLE_GROUP), now_since_epoch)
            .map_err(anyhow::Error::msg)?;
    write(&pki.join(EXAMPLE_USER_KEY_FILE), &key_pem, true)?;
    write(&pki.join(EXAMPLE_USER_CERT_FILE), &cert_pem, false)
}

/// The Webhook authorizer's kubeconfig: one cluster whose server is the authz service at
/// `authz` (`host:port`): plain gRPC (`http://`) without a CA, gRPC over TLS (`https://`,
/// the service's certificate checked against `ca`, a path) with one.
pub fn webhook_kubeconfig(authz: &str, ca: Option<&str>) -> String {
    let cluster = match ca {
        None => format!("    server: http://{authz}\n"),
        Some(ca) => format!("    server: https://{authz}\n    certificate-authority: {ca}\n"),
    };
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: authz\n  \
           cluster:\n\
         {cluster}\
         users:\n\
         - name: kube-apiserver\n  \
           user: {{}}\n\
         contexts:\n\
         - name: webhook\n  \
           context:\n    \
             cluster: authz\n    \
             user: kube-apiserver\n\
         current-context: webhook\n"
    )
}

/// Writes `pki/authz-webhook.kubeconfig` for the authz service at `authz` (`host:port`).
pub fn write_webhook_kubeconfig(pki: &Path, authz: &str) -> anyhow::Result<PathBuf> {
    let path = pki.join(WEBHOOK_KUBECONFIG_FILE);
    write(&path, &webhook_kubeconfig(authz, None), false)?;
    Ok(path)
}

/// The kubeconfig's users: the admin, jane, and deploy-bot when there is a token.
pub fn kubeconfig_users(pki: &Path, token: Option<&str>) -> anyhow::Result<Vec<KubeconfigUser>> {
    let client = |user: &str, context: String, namespace: Option<&str>, files: (&str, &str)| {
        Ok::<_, anyhow::Error>(KubeconfigUser {
            user: user.to_string(),
            context,
            namespace: namespace.map(str::to_string),
            credential: Credential::ClientCertificate {
                cert_pem: read(&pki.join(files.0))?,
                key_pem: read(&pki.join(files.1))?,
            },
        })
    };
    let mut users = vec![
        client(
            certs::ADMIN_USER,
            certs::KUBECONFIG_CLUSTER.to_string(),
            None,
            (certs::ADMIN_CERT_FILE, certs::ADMIN_KEY_FILE),
        )?,
        client(
            EXAMPLE_USER,
            context_name(EXAMPLE_USER),
            Some(USER_NAMESPACE),
            (EXAMPLE_USER_CERT_FILE, EXAMPLE_USER_KEY_FILE),
        )?,
    ];
    if let Some(token) = token {
        users.push(KubeconfigUser {
            user: SA_NAME.to_string(),
            context: context_name(SA_NAME),
            namespace: Some(SA_NAMESPACE.to_string()),
            credential: Credential::Token(token.to_string()),
        });
    }
    Ok(users)
}

/// Writes `<data-dir>/kubeconfig` (mode 0600: it holds keys and a token) with a context per
/// user of [`kubeconfig_users`]; returns the context names.
pub fn write_kubeconfig(
    path: &Path,
    pki: &Path,
    server: &str,
    token: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let users = kubeconfig_users(pki, token)?;
    let ca = read(&pki.join(certs::CA_CERT_FILE))?;
    write(
        path,
        &certs::kubeconfig_with_users(server, &ca, &users),
        true,
    )?;
    Ok(users.into_iter().map(|u| u.context).collect())
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))
}

/// Replaces `path` (removing it first, so a secret never lands in a file others can read).
fn write(path: &Path, contents: &str, secret: bool) -> anyhow::Result<()> {
    certs::write_file(path, contents, secret, true)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use kubesim_net::Clock as _;

    use super::*;

    #[test]
    fn the_webhook_kubeconfig_names_the_authz_service() {
        let text = webhook_kubeconfig("127.0.0.1:12379", None);
        assert_eq!(
            kubesim_authz::mode::endpoint_from_kubeconfig(&text),
            Ok("127.0.0.1:12379".to_string())
        );
        assert!(
            text.contains("    server: http://127.0.0.1:12379\n"),
            "{text}"
        );
    }

    #[test]
    fn identities_are_made_once_and_the_kubeconfig_has_a_context_each() {
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("pki");
        let now = kubesim_net::SystemClock.now_since_epoch();
        let opts = certs::CertOptions {
            hosts: certs::parse_hosts(certs::DEFAULT_HOSTS).unwrap(),
            server: certs::DEFAULT_SERVER.into(),
            webhook_hosts: Vec::new(),
            now_since_epoch: now,
        };
        certs::write_files(&pki, &certs::generate(&opts).unwrap(), false).unwrap();
        ensure_service_account_key(&pki).unwrap();
        ensure_example_user(&pki, now).unwrap();
        let sa_key = std::fs::read_to_string(pki.join(SA_KEY_FILE)).unwrap();
        let jane = std::fs::read_to_string(pki.join(EXAMPLE_USER_CERT_FILE)).unwrap();
        assert!(sa_key.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(
            std::fs::read_to_string(pki.join(SA_PUBLIC_KEY_FILE))
                .unwrap()
                .starts_with("-----BEGIN PUBLIC KEY-----\n")
        );
        // A restart keeps them.
        ensure_service_account_key(&pki).unwrap();
        ensure_example_user(&pki, now).unwrap();
        assert_eq!(
            std::fs::read_to_string(pki.join(SA_KEY_FILE)).unwrap(),
            sa_key
        );
        assert_eq!(
            std::fs::read_to_string(pki.join(EXAMPLE_USER_CERT_FILE)).unwrap(),
            jane
        );

        let path = dir.path().join("kubeconfig");
        let contexts =
            write_kubeconfig(&path, &pki, "https://127.0.0.1:7443", Some("a.b.c")).unwrap();
        assert_eq!(contexts, ["kubesim", "jane@kubesim", "deploy-bot@kubesim"]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("    server: https://127.0.0.1:7443\n"),
            "{text}"
        );
        assert!(
            text.contains("- name: deploy-bot\n  user:\n    token: a.b.c\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "- name: jane@kubesim\n  context:\n    cluster: kubesim\n    user: jane\n    namespace: dev\n"
            ),
            "{text}"
        );
        assert!(text.contains("current-context: kubesim\n"), "{text}");
        let without_token = write_kubeconfig(&path, &pki, "https://127.0.0.1:7443", None).unwrap();
        assert_eq!(without_token, ["kubesim", "jane@kubesim"]);
    }
}
