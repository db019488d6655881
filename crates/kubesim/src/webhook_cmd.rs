//! `kubesim webhook <name>`: one of kubesim's sample admission webhooks
//! (`crates/webhooks`) as its own process, on one TLS port (`--bind-address`,
//! `--tls-cert-file`, `--tls-private-key-file`) that answers AdmissionReview JSON over HTTPS
//! and `kubesim.admission.v1.AdmissionWebhook` over gRPC. The knobs (`--latency`,
//! `--fail-rate`, `--timeout-behaviour`, `--seed`) make it slow or broken on purpose; each
//! sample's own flags apply to that sample only, and giving one to another is a usage error.

use std::path::PathBuf;
use std::sync::Arc;

use kubesim_net::{Entropy, Env};
use kubesim_webhooks::faults::{self, FailureMode, Knobs};
use kubesim_webhooks::samples::{
    self, AuditSink, EnvGuard, ImagePolicy, LabelInjector, NoPrivileged, Sample, SidecarInjector,
    audit_sink, env_guard, image_policy, label_injector, sidecar_injector,
};
use kubesim_webhooks::{Latency, tls};

use crate::flags::FlagError;

/// `--bind-address` when not given.
pub const DEFAULT_BIND_ADDRESS: &str = "127.0.0.1:9443";

/// What the knobs do, shown at the end of `kubesim webhook --help`.
const KNOBS_HELP: &str = "\
Samples:
  label-injector    (mutating) adds the labels of --labels the object lacks
  sidecar-injector  (mutating) adds the container kubesim-proxy (--sidecar-image) unless present
  no-privileged     (validating) denies pods with a privileged container
  image-policy      (validating) denies images outside --allowed-registries
  env-guard         (validating) denies pods labelled --label in namespace --namespace
  audit-sink        allows everything; records each pod CREATE, and the audit EventLists
                    POSTed to /audit (an audit webhook), served at GET /records

Every sample answers AdmissionReview JSON POSTed to any path, gRPC (content-type
application/grpc*) and GET /healthz on the one TLS port.

Making it slow or broken (review calls only):
  --latency 0 | 150ms | uniform:50ms..200ms | exp:100ms | lognormal:p50=100ms,p99=800ms
  --fail-rate P              the fraction of calls that fail (0 to 1)
  --timeout-behaviour MODE   error: HTTP 500 / gRPC Internal; hang: no answer until the client
                             gives up; close: the connection is dropped; garbage: 200 with a
                             body that is not an AdmissionReview; wrong-uid: a valid answer
                             with another uid
  --seed N                   the same seed and calls give the same delays and failures";

#[derive(Debug, Clone, clap::Args)]
#[command(after_help = KNOBS_HELP)]
pub struct WebhookArgs {
    /// The sample to run.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(samples::NAMES))]
    pub name: String,
    /// host:port to serve HTTPS and gRPC on.
    #[arg(long, default_value = DEFAULT_BIND_ADDRESS)]
    pub bind_address: String,
    /// The serving certificate (PEM; a chain, leaf first).
    #[arg(long, value_name = "FILE")]
    pub tls_cert_file: PathBuf,
    /// The serving certificate's private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_private_key_file: PathBuf,
    /// The delay before each answer: 0, a duration (150ms), uniform:MIN..MAX, exp:MEAN or
    /// lognormal:p50=D,p99=D (at most 5m).
    #[arg(long, value_name = "DIST", default_value = "0")]
    pub latency: String,
    /// The fraction of review calls that fail, from 0 to 1.
    #[arg(long, value_name = "P", default_value = "0")]
    pub fail_rate: String,
    /// How a failing call fails.
    #[arg(long, value_name = "MODE", default_value = "error",
          value_parser = ["error", "hang", "close", "garbage", "wrong-uid"])]
    pub timeout_behaviour: String,
    /// Seeds the delays and failures [default: from the clock; logged at start-up].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// label-injector: the labels to add, key=value, comma separated
    /// [default: env=production,managed-by=kubesim].
    #[arg(long, value_name = "LABELS")]
    pub labels: Option<String>,
    /// sidecar-injector: the image of the kubesim-proxy container
    /// [default: registry.k8s.io/pause:3.10].
    #[arg(long, value_name = "IMAGE")]
    pub sidecar_image: Option<String>,
    /// image-policy: the registries images may come from, comma separated; an image without
    /// a registry is docker.io [default: registry.k8s.io,docker.io].
    #[arg(long, value_name = "REGISTRIES")]
    pub allowed_registries: Option<String>,
    /// env-guard: the namespace guarded [default: production].
    #[arg(long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// env-guard: the label, key=value, not allowed there [default: env=development].
    #[arg(long, value_name = "LABEL")]
    pub label: Option<String>,
}

/// What `kubesim webhook` runs with, checked.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub sample: Sample,
    pub knobs: Knobs,
    /// `host:port`, through `Env.net`.
    pub bind_address: String,
    pub tls_cert_file: PathBuf,
    pub tls_private_key_file: PathBuf,
}

impl WebhookArgs {
    /// The checked flags. `seed` is used when `--seed` is not given.
    pub fn to_config(&self, seed: u64) -> Result<WebhookConfig, FlagError> {
        crate::flags::parse_host_port(&self.bind_address).map_err(|reason| {
            FlagError::new("bind-address", format!("{:?}: {reason}", self.bind_address))
        })?;
        let knobs = Knobs {
            latency: self
                .latency
                .parse::<Latency>()
                .map_err(|e| FlagError::new("latency", e))?,
            fail_rate: faults::parse_fail_rate(&self.fail_rate)
                .map_err(|e| FlagError::new("fail-rate", e))?,
            failure_mode: self
                .timeout_behaviour
                .parse::<FailureMode>()
                .map_err(|e| FlagError::new("timeout-behaviour", e))?,
            seed: self.seed.unwrap_or(seed),
        };
        self.check_sample_flags()?;
        Ok(WebhookConfig {
            sample: self.sample()?,
            knobs,
            bind_address: self.bind_address.clone(),
            tls_cert_file: self.tls_cert_file.clone(),
            tls_private_key_file: self.tls_private_key_file.clone(),
        })
    }

    /// A sample's own flag given to another sample is a mistake worth saying.
    fn check_sample_flags(&self) -> Result<(), FlagError> {
        let owned: [(&'static str, bool, &str); 5] = [
            ("labels", self.labels.is_some(), label_injector::NAME),
            (
                "sidecar-image",
                self.sidecar_image.is_some(),
                sidecar_injector::NAME,
            ),
            (
                "allowed-registries",
                self.allowed_registries.is_some(),
                image_policy::NAME,
            ),
            ("namespace", self.namespace.is_some(), env_guard::NAME),
            ("label", self.label.is_some(), env_guard::NAME),
        ];
        for (flag, given, owner) in owned {
            if given && self.name != owner {
                return Err(FlagError::new(
                    flag,
                    format!("applies to {owner} only, not {}", self.name),
                ));
            }
        }
        Ok(())
    }

    fn sample(&self) -> Result<Sample, FlagError> {
        let sample = match self.name.as_str() {
            label_injector::NAME => Sample::LabelInjector(match &self.labels {
                Some(list) => LabelInjector {
                    labels: parse_labels("labels", list)?,
                },
                None => LabelInjector::default(),
            }),
            sidecar_injector::NAME => Sample::SidecarInjector(match &self.sidecar_image {
                Some(image) if image.trim().is_empty() => {
                    return Err(FlagError::new("sidecar-image", "must not be empty"));
                }
                Some(image) => SidecarInjector {
                    image: image.trim().to_string(),
                },
                None => SidecarInjector::default(),
            }),
            image_policy::NAME => Sample::ImagePolicy(match &self.allowed_registries {
                Some(list) => ImagePolicy {
                    allowed_registries: parse_registries(list)?,
                },
                None => ImagePolicy::default(),
            }),
            env_guard::NAME => Sample::EnvGuard(self.env_guard()?),
            audit_sink::NAME => Sample::AuditSink(AuditSink::new(
                audit_sink::DEFAULT_CAPACITY,
                Arc::new(kubesim_net::SystemClock),
            )),
            // clap accepts only the names above.
            _ => Sample::NoPrivileged(NoPrivileged),
        };
        Ok(sample)
    }

    fn env_guard(&self) -> Result<EnvGuard, FlagError> {
        let mut guard = EnvGuard::default();
        if let Some(namespace) = &self.namespace {
            let errors = kubesim_api::validation::is_dns1123_label(namespace);
            if let Some(error) = errors.first() {
                return Err(FlagError::new(
                    "namespace",
                    format!("{namespace:?}: {error}"),
                ));
            }
            guard.namespace = namespace.clone();
        }
        if let Some(label) = &self.label {
            let mut labels = parse_labels("label", label)?;
            guard.label = match (labels.pop(), labels.is_empty()) {
                (Some(one), true) => one,
                _ => return Err(FlagError::new("label", "must be one key=value")),
            };
        }
        Ok(guard)
    }
}

/// `k=v,k2=v2`, each a valid label.
fn parse_labels(flag: &'static str, list: &str) -> Result<Vec<(String, String)>, FlagError> {
    let mut labels: Vec<(String, String)> = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            return Err(FlagError::new(flag, format!("{item:?} is not key=value")));
        };
        let errors = kubesim_api::validation::is_qualified_name(key);
        if let Some(error) = errors.first() {
            return Err(FlagError::new(flag, format!("key {key:?}: {error}")));
        }
        let errors = kubesim_api::validation::is_valid_label_value(value);
        if let Some(error) = errors.first() {
            return Err(FlagError::new(flag, format!("value {value:?}: {error}")));
        }
        if labels.iter().any(|(k, _)| k == key) {
            return Err(FlagError::new(flag, format!("key {key:?} is given twice")));
        }
        labels.push((key.to_string(), value.to_string()));
    }
    if labels.is_empty() {
        return Err(FlagError::new(flag, "must name at least one key=value"));
    }
    Ok(labels)
}

fn parse_registries(list: &str) -> Result<Vec<String>, FlagError> {
    let registries: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(bad) = registries.iter().find(|r| r.contains('/')) {
        return Err(FlagError::new(
            "allowed-registries",
            format!("{bad:?} is not a registry host (such as quay.io or localhost:5000)"),
        ));
    }
    if registries.is_empty() {
        return Err(FlagError::new(
            "allowed-registries",
            "must name at least one registry",
        ));
    }
    Ok(registries)
}

/// Runs the sample until SIGINT or SIGTERM.
pub async fn run(config: WebhookConfig) -> anyhow::Result<()> {
    let tls = tls::load(&config.tls_cert_file, &config.tls_private_key_file)
        .map_err(|e| anyhow::anyhow!(e))?;
    // The sample keeps nothing on disk; the seam still wants a directory for `Env.disk`.
    let env = Env::production(std::env::temp_dir());
    let listener = env
        .net
        .bind(&config.bind_address)
        .await
        .map_err(|e| anyhow::anyhow!("binding {}: {e}", config.bind_address))?;
    tracing::info!(
        sample = config.sample.name(),
        address = %listener.local_addr()?,
        latency = %config.knobs.latency,
        fail_rate = config.knobs.fail_rate,
        timeout_behaviour = %config.knobs.failure_mode,
        seed = config.knobs.seed,
        "admission webhook ready (AdmissionReview over HTTPS and gRPC)"
    );
    let shutdown = async {
        match crate::signal::terminated().await {
            Ok(()) => tracing::info!("received a stop signal, shutting down"),
            Err(e) => tracing::warn!("cannot wait for a stop signal ({e}), shutting down"),
        }
    };
    kubesim_webhooks::serve(config.sample, config.knobs, listener, tls, shutdown)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}

/// A seed for a run without `--seed`: differs between runs, logged so a run can be replayed.
pub fn seed_from_clock() -> u64 {
    kubesim_net::SeededEntropy::from_os().next_u64()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        args: WebhookArgs,
    }

    const TLS: [&str; 2] = ["--tls-cert-file=c.pem", "--tls-private-key-file=k.pem"];

    fn config(args: &[&str]) -> Result<WebhookConfig, FlagError> {
        let argv = ["webhook"]
            .into_iter()
            .chain(args.iter().copied())
            .chain(TLS);
        Cmd::try_parse_from(argv).unwrap().args.to_config(99)
    }

    #[test]
    fn defaults() {
        let config = config(&["no-privileged"]).unwrap();
        assert!(matches!(config.sample, Sample::NoPrivileged(_)));
        assert_eq!(config.bind_address, "127.0.0.1:9443");
        assert_eq!(config.tls_cert_file, PathBuf::from("c.pem"));
        assert_eq!(config.tls_private_key_file, PathBuf::from("k.pem"));
        assert_eq!(
            config.knobs,
            Knobs {
                latency: Latency::Fixed(Duration::ZERO),
                fail_rate: 0.0,
                failure_mode: FailureMode::Error,
                seed: 99,
            }
        );
    }

    #[test]
    fn knobs_reach_the_config() {
        let config = config(&[
            "label-injector",
            "--latency=lognormal:p50=100ms,p99=800ms",
            "--fail-rate=0.25",
            "--timeout-behaviour=wrong-uid",
            "--seed=7",
            "--labels=team=a, example.com/owner=b",
        ])
        .unwrap();
        assert_eq!(
            config.knobs,
            Knobs {
                latency: "lognormal:p50=100ms,p99=800ms".parse().unwrap(),
                fail_rate: 0.25,
                failure_mode: FailureMode::WrongUid,
                seed: 7,
            }
        );
        let Sample::LabelInjector(injector) = config.sample else {
            panic!("not label-injector");
        };
        assert_eq!(
            injector.labels,
            [
                ("team".to_string(), "a".to_string()),
                ("example.com/owner".to_string(), "b".to_string())
            ]
        );
    }

    #[test]
    fn sample_flags_reach_their_sample() {
        let Sample::ImagePolicy(policy) = config(&[
            "image-policy",
            "--allowed-registries=quay.io, localhost:5000",
        ])
        .unwrap()
        .sample
        else {
            panic!("not image-policy");
        };
        assert_eq!(policy.allowed_registries, ["quay.io", "localhost:5000"]);
        let Sample::EnvGuard(guard) =
            config(&["env-guard", "--namespace=prod", "--label=tier=test"])
                .unwrap()
                .sample
        else {
            panic!("not env-guard");
        };
        assert_eq!(
            guard,
            EnvGuard {
                namespace: "prod".into(),
                label: ("tier".into(), "test".into())
            }
        );
        let Sample::SidecarInjector(injector) =
            config(&["sidecar-injector", "--sidecar-image=example.com/proxy:1"])
                .unwrap()
                .sample
        else {
            panic!("not sidecar-injector");
        };
        assert_eq!(injector.image, "example.com/proxy:1");
        assert!(matches!(
            config(&["audit-sink"]).unwrap().sample,
            Sample::AuditSink(_)
        ));
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let cases: [(&[&str], &str, &str); 8] = [
            (
                &["no-privileged", "--bind-address=localhost"],
                "bind-address",
                "\"localhost\": port is missing",
            ),
            (
                &["no-privileged", "--latency=fast"],
                "latency",
                r#""fast" is not a duration (such as 0, 150ms, 2s or 1m30s)"#,
            ),
            (
                &["no-privileged", "--fail-rate=2"],
                "fail-rate",
                "2 is not a number from 0 to 1",
            ),
            (
                &["no-privileged", "--allowed-registries=quay.io"],
                "allowed-registries",
                "applies to image-policy only, not no-privileged",
            ),
            (
                &["image-policy", "--allowed-registries=quay.io/team"],
                "allowed-registries",
                r#""quay.io/team" is not a registry host (such as quay.io or localhost:5000)"#,
            ),
            (
                &["label-injector", "--labels=env"],
                "labels",
                r#""env" is not key=value"#,
            ),
            (
                &["env-guard", "--label=a=b,c=d"],
                "label",
                "must be one key=value",
            ),
            (
                &["env-guard", "--namespace=Prod"],
                "namespace",
                r#""Prod": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#,
            ),
        ];
        for (args, flag, reason) in cases {
            let error = config(args).unwrap_err();
            assert_eq!(
                (error.flag, error.reason.as_str()),
                (flag, reason),
                "{args:?}"
            );
        }
    }

    #[test]
    fn clap_refuses_unknown_samples_and_modes() {
        let parse = |args: &[&str]| {
            let argv = ["webhook"]
                .into_iter()
                .chain(args.iter().copied())
                .chain(TLS);
            Cmd::try_parse_from(argv).map(|_| ())
        };
        assert!(parse(&["no-such-sample"]).is_err());
        assert!(parse(&["audit-sink", "--timeout-behaviour=slow"]).is_err());
        assert!(parse(&["audit-sink"]).is_ok());
    }
}
