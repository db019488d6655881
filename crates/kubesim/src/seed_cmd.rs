//! `kubesim seed`: what `kubesim up` does once its API server is ready, done from outside
//! against a running API server — docker-compose.yml's `seed` one-shot, where the API servers
//! are containers of their own:
//!
//! 1. waits (bounded by `--ready-timeout`) until `--server` answers `/readyz`, as the admin
//!    (`admin.crt` under `--pki`);
//! 2. makes the example identities' objects and asks for deploy-bot's token — `up`'s own code,
//!    `up/examples.rs`;
//! 3. registers the sample webhooks of `--webhook NAME=URL` ([`webhook_configuration`]);
//! 4. writes the kubeconfigs, a context per identity — `up/identities.rs`: `--kubeconfig` for
//!    `--kubeconfig-server` (the host's view, e.g. a published port), and `--server-kubeconfig`
//!    for `--server` itself (the view of a client on the API server's network, e.g. compose's
//!    `demo`).
//!
//! Running it again is fine (a `docker-compose restart` does): objects that exist are kept,
//! the token and kubeconfigs are renewed. It exits 1 when anything could not be made, after
//! writing what it could, so a broken seed shows in `docker-compose ps`.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use kubesim_webhooks::samples;
use serde_json::json;

use crate::apiserver_cmd::auth_flags::parse_duration_or_zero;
use crate::bench::api::client::{ApiClient, tls_connector};
use crate::bench::api::plan::{Server, parse_server};
use crate::flags::FlagError;
use crate::up::examples::{self, Example};
use crate::up::identities;

/// How long to wait between attempts to reach an API server that is not listening yet.
const RETRY_INTERVAL: Duration = Duration::from_millis(500);
/// The longest `--ready-timeout`.
const MAX_READY_TIMEOUT: Duration = Duration::from_secs(3600);
/// Each webhook's `timeoutSeconds`: kube's default is 10; a sample answers in microseconds
/// unless made slow on purpose, and a short bound keeps a dead one from stalling creates.
const WEBHOOK_TIMEOUT_SECONDS: u32 = 5;
const ADMISSION_V1: &str = "admissionregistration.k8s.io/v1";

#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// The API server to seed through, https://host:port; its certificate must name host.
    #[arg(long, default_value = crate::certs::DEFAULT_SERVER)]
    pub server: String,
    /// The directory `kubesim certs --identities` wrote: ca.crt, admin.crt and admin.key (the
    /// client), jane.crt and jane.key (a kubeconfig context).
    #[arg(long, value_name = "DIR")]
    pub pki: PathBuf,
    /// The kubeconfig to write, a context per identity [default: <pki>/kubeconfig].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The server --kubeconfig points at [default: --server], e.g. the port the API server is
    /// published on for the host.
    #[arg(long, value_name = "URL")]
    pub kubeconfig_server: Option<String>,
    /// Also write this kubeconfig, the same contexts, pointing at --server itself.
    #[arg(long, value_name = "FILE")]
    pub server_kubeconfig: Option<PathBuf>,
    /// A sample webhook (`kubesim webhook NAME`) to register, at an https URL its certificate
    /// (signed by ca.crt) is valid for; repeat for more. Mutating samples (label-injector,
    /// sidecar-injector) get pods CREATE and failurePolicy Ignore, validating ones pods
    /// CREATE and UPDATE and failurePolicy Fail (audit-sink: CREATE, Ignore).
    #[arg(long = "webhook", value_name = "NAME=URL")]
    pub webhooks: Vec<String>,
    /// How long to wait for --server's /readyz before giving up (exit 1).
    #[arg(long, value_name = "DURATION", default_value = "2m0s")]
    pub ready_timeout: String,
}

/// One sample webhook to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// As `kubesim webhook` names it (one of [`samples::NAMES`]).
    pub sample: &'static str,
    /// `https://...`, the configuration's `clientConfig.url`.
    pub url: String,
}

/// What `kubesim seed` does, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedPlan {
    pub server: Server,
    pub pki: PathBuf,
    /// Each kubeconfig to write and the server it points at.
    pub kubeconfigs: Vec<(PathBuf, String)>,
    pub webhooks: Vec<WebhookTarget>,
    pub ready_timeout: Duration,
}

impl SeedArgs {
    pub fn to_plan(&self) -> Result<SeedPlan, FlagError> {
        let server = parse_server(&self.server)?;
        let server_url = crate::certs::parse_server(&self.server)?;
        let kubeconfig_server = match &self.kubeconfig_server {
            Some(url) => crate::certs::parse_server(url)
                .map_err(|e| FlagError::new("kubeconfig-server", e.reason))?,
            None => server_url.clone(),
        };
        let kubeconfig = self
            .kubeconfig
            .clone()
            .unwrap_or_else(|| self.pki.join(crate::certs::KUBECONFIG_FILE));
        let mut kubeconfigs = vec![(kubeconfig, kubeconfig_server)];
        if let Some(path) = &self.server_kubeconfig {
            if kubeconfigs.iter().any(|(p, _)| p == path) {
                return Err(FlagError::new(
                    "server-kubeconfig",
                    "is the same file as --kubeconfig",
                ));
            }
            kubeconfigs.push((path.clone(), server_url));
        }
        let ready_timeout = parse_duration_or_zero("ready-timeout", &self.ready_timeout)?;
        if ready_timeout.is_zero() || ready_timeout > MAX_READY_TIMEOUT {
            return Err(FlagError::new(
                "ready-timeout",
                "must be longer than 0 and at most 1h",
            ));
        }
        Ok(SeedPlan {
            server,
            pki: self.pki.clone(),
            kubeconfigs,
            webhooks: parse_webhooks(&self.webhooks)?,
            ready_timeout,
        })
    }
}

/// `--webhook NAME=URL` entries: a known sample, an https URL, each sample once.
fn parse_webhooks(entries: &[String]) -> Result<Vec<WebhookTarget>, FlagError> {
    let error =
        |entry: &str, reason: &str| FlagError::new("webhook", format!("{entry:?}: {reason}"));
    let mut targets: Vec<WebhookTarget> = Vec::new();
    for entry in entries {
        let (name, url) = entry
            .split_once('=')
            .ok_or_else(|| error(entry, "must be NAME=URL"))?;
        let sample: &'static str = samples::NAMES
            .iter()
            .copied()
            .find(|known| *known == name)
            .ok_or_else(|| {
                error(
                    entry,
                    &format!("not a sample: {}", samples::NAMES.join(", ")),
                )
            })?;
        let plain = |c: char| c.is_ascii_graphic() && !"\"'\\".contains(c);
        if !url.starts_with("https://") || !url.chars().all(plain) {
            return Err(error(entry, "the URL must be https://host:port[/path]"));
        }
        if targets.iter().any(|t| t.sample == sample) {
            return Err(error(entry, "given twice"));
        }
        targets.push(WebhookTarget {
            sample,
            url: url.to_string(),
        });
    }
    Ok(targets)
}

const CREATE: &[&str] = &["CREATE"];
const CREATE_UPDATE: &[&str] = &["CREATE", "UPDATE"];

/// How a sample is registered: whether it mutates, the pod operations it sees, and what a
/// failed call does to the request.
fn registration(sample: &str) -> (bool, &'static [&'static str], &'static str) {
    match sample {
        // Adding labels or a sidecar is a convenience: a request goes on without it.
        samples::label_injector::NAME | samples::sidecar_injector::NAME => (true, CREATE, "Ignore"),
        // Records only; never worth refusing a request for.
        samples::audit_sink::NAME => (false, CREATE, "Ignore"),
        // Policy: a pod the webhook could not look at is refused.
        _ => (false, CREATE_UPDATE, "Fail"),
    }
}

/// The Mutating- or ValidatingWebhookConfiguration that sends pods to `target`, trusting the
/// cluster CA (`ca_cert_pem`) for its certificate. Named after the sample.
pub fn webhook_configuration(target: &WebhookTarget, ca_cert_pem: &str) -> Example {
    let (mutating, operations, failure_policy) = registration(target.sample);
    let (kind, plural) = if mutating {
        (
            "MutatingWebhookConfiguration",
            "mutatingwebhookconfigurations",
        )
    } else {
        (
            "ValidatingWebhookConfiguration",
            "validatingwebhookconfigurations",
        )
    };
    let ca_bundle = base64::engine::general_purpose::STANDARD.encode(ca_cert_pem);
    Example {
        what: format!("{} {}", kind.to_ascii_lowercase(), target.sample),
        path: format!("/apis/{ADMISSION_V1}/{plural}"),
        body: json!({
            "apiVersion": ADMISSION_V1, "kind": kind,
            "metadata": {"name": target.sample},
            "webhooks": [{
                "name": format!("{}.kubesim.io", target.sample),
                "clientConfig": {"url": target.url, "caBundle": ca_bundle},
                "rules": [{"operations": operations, "apiGroups": [""], "apiVersions": ["v1"],
                           "resources": ["pods"]}],
                "failurePolicy": failure_policy,
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": WEBHOOK_TIMEOUT_SECONDS,
            }],
        }),
    }
}

/// Seeds, writes the kubeconfigs, and fails when anything could not be made.
pub async fn run(plan: SeedPlan) -> anyhow::Result<()> {
    let client = connect_ready(&plan).await?;
    let ca_path = plan.pki.join(crate::certs::CA_CERT_FILE);
    let ca = std::fs::read_to_string(&ca_path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", ca_path.display()))?;
    let seeded = examples::seed(&client, identities::EXAMPLE_USER).await;
    let configurations: Vec<Example> = plan
        .webhooks
        .iter()
        .map(|target| webhook_configuration(target, &ca))
        .collect();
    let mut warnings = seeded.warnings;
    warnings.extend(examples::create_all(&client, &configurations).await);
    for (path, server) in &plan.kubeconfigs {
        let contexts =
            identities::write_kubeconfig(path, &plan.pki, server, seeded.token.as_deref())?;
        println!(
            "wrote {} for {server}, contexts {}",
            path.display(),
            contexts.join(", ")
        );
    }
    for warning in &warnings {
        eprintln!("kubesim seed: warning: {warning}");
    }
    if !warnings.is_empty() {
        anyhow::bail!("{} of the seed steps failed", warnings.len());
    }
    println!(
        "seeded {}: the example identities and {} webhook configuration(s)",
        plan.server.url(),
        configurations.len()
    );
    Ok(())
}

/// A connection to `--server` once its `/readyz` answers 200, retrying while it is not
/// listening yet (its container may start after this one), all within `--ready-timeout`.
async fn connect_ready(plan: &SeedPlan) -> anyhow::Result<ApiClient> {
    let client_plan = crate::up::admin_plan(&plan.pki, plan.server.clone());
    let tls = tls_connector(&client_plan.certs)?;
    let attempts = async {
        loop {
            let not_yet = match ApiClient::connect(&client_plan, &tls, 1).await {
                Ok(client) => match examples::wait_ready(&client, plan.ready_timeout).await {
                    Ok(()) => return client,
                    Err(e) => e,
                },
                Err(e) => format!("{e:#}"),
            };
            tracing::info!("waiting for {}: {not_yet}", plan.server.url());
            tokio::time::sleep(RETRY_INTERVAL).await;
        }
    };
    tokio::time::timeout(plan.ready_timeout, attempts)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "{} was not ready within {:?}",
                plan.server.url(),
                plan.ready_timeout
            )
        })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        args: SeedArgs,
    }

    fn plan(argv: &[&str]) -> Result<SeedPlan, FlagError> {
        let argv = ["seed", "--pki", "/pki"]
            .into_iter()
            .chain(argv.iter().copied());
        Cmd::try_parse_from(argv).unwrap().args.to_plan()
    }

    /// docker-compose.yml's seed command line.
    #[test]
    fn the_compose_command_line() {
        let plan = plan(&[
            "--server=https://apiserver-1:6443",
            "--kubeconfig-server=https://127.0.0.1:6443",
            "--server-kubeconfig=/pki/compose.kubeconfig",
            "--webhook=label-injector=https://label-injector:9443/mutate",
            "--webhook=no-privileged=https://no-privileged:9443/validate",
        ])
        .unwrap();
        assert_eq!(
            plan.server,
            Server {
                authority: "apiserver-1:6443".into(),
                host: "apiserver-1".into()
            }
        );
        assert_eq!(
            plan.kubeconfigs,
            [
                ("/pki/kubeconfig".into(), "https://127.0.0.1:6443".into()),
                (
                    "/pki/compose.kubeconfig".into(),
                    "https://apiserver-1:6443".into()
                ),
            ]
        );
        assert_eq!(
            plan.webhooks.iter().map(|w| w.sample).collect::<Vec<_>>(),
            ["label-injector", "no-privileged"]
        );
        assert_eq!(plan.ready_timeout, Duration::from_secs(120));
    }

    #[test]
    fn bad_flags_are_refused() {
        let flag = |argv: &[&str]| plan(argv).unwrap_err().flag;
        assert_eq!(flag(&["--webhook=label-injector"]), "webhook");
        assert_eq!(flag(&["--webhook=nope=https://h:1"]), "webhook");
        assert_eq!(flag(&["--webhook=no-privileged=http://h:1"]), "webhook");
        assert_eq!(
            flag(&["--webhook=no-privileged=https://h:1/\"x"]),
            "webhook"
        );
        assert_eq!(
            flag(&[
                "--webhook=no-privileged=https://a:1",
                "--webhook=no-privileged=https://b:1"
            ]),
            "webhook"
        );
        assert_eq!(flag(&["--server=http://h:1"]), "server");
        assert_eq!(flag(&["--kubeconfig-server=h:1"]), "kubeconfig-server");
        assert_eq!(flag(&["--ready-timeout=0"]), "ready-timeout");
        assert_eq!(
            flag(&["--kubeconfig=/k", "--server-kubeconfig=/k"]),
            "server-kubeconfig"
        );
    }

    #[test]
    fn webhook_configurations_by_kind() {
        let target = |sample, url: &str| WebhookTarget {
            sample,
            url: url.into(),
        };
        let mutating = webhook_configuration(
            &target("label-injector", "https://label-injector:9443/mutate"),
            "CA\n",
        );
        assert_eq!(
            mutating.path,
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
        );
        assert_eq!(
            mutating.body,
            json!({
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": {"name": "label-injector"},
                "webhooks": [{
                    "name": "label-injector.kubesim.io",
                    "clientConfig": {"url": "https://label-injector:9443/mutate",
                                     "caBundle": "Q0EK"},
                    "rules": [{"operations": ["CREATE"], "apiGroups": [""],
                               "apiVersions": ["v1"], "resources": ["pods"]}],
                    "failurePolicy": "Ignore",
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "timeoutSeconds": 5,
                }],
            })
        );
        let validating =
            webhook_configuration(&target("no-privileged", "https://np:9443/validate"), "CA\n");
        assert_eq!(
            validating.path,
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
        );
        let webhook = &validating.body["webhooks"][0];
        assert_eq!(webhook["failurePolicy"], "Fail");
        assert_eq!(
            webhook["rules"][0]["operations"],
            json!(["CREATE", "UPDATE"])
        );
        assert_eq!(validating.body["kind"], "ValidatingWebhookConfiguration");
        let sink = webhook_configuration(&target("audit-sink", "https://s:1"), "CA\n");
        assert_eq!(sink.body["webhooks"][0]["failurePolicy"], "Ignore");
    }

    /// The compose deployment's API servers read docker/authz-webhook.kubeconfig; it must say
    /// what `kubesim up` writes for its own authz service, at compose's address.
    #[test]
    fn the_compose_authz_kubeconfig_is_what_up_writes() {
        let file = include_str!("../../../docker/authz-webhook.kubeconfig");
        let body: String = file
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| format!("{line}\n"))
            .collect();
        assert_eq!(
            body,
            identities::webhook_kubeconfig("authz:8443", Some("/pki/ca.crt"))
        );
    }
}
