//! The API Priority and Fairness and audit flags of `kubesim apiserver` (and `kubesim up`), by
//! kube-apiserver's names, syntax and defaults, checked into the server's
//! `enable_priority_and_fairness` and [`AuditOptions`].
//!
//! Syntax as pflag has it: `--enable-priority-and-fairness=false` (a bare flag is true, and
//! `--enable-priority-and-fairness false` is not a value); numbers are Go's `IntVar` (decimal
//! here), durations Go's `DurationVar` (`30s`, `1m30s`, `0`). An empty path (`--audit-log-path=`)
//! is no path, as in kube. A value that does not parse is an error whether or not its backend
//! is on, as pflag refuses it before anything runs; the range checks follow kube's
//! `AuditOptions.Validate()`, with its messages, and only for a backend that is on (a log path,
//! a webhook config file). The files themselves (the policy, the webhook kubeconfig) are read
//! and checked by the API server when it starts, as kube-apiserver does.

use std::path::PathBuf;
use std::time::Duration;

use kubesim_apiserver::ApiServerConfig;
use kubesim_apiserver::audit::{AuditOptions, WebhookBatchOptions};

use super::auth_flags::{parse_duration_or_zero, parse_go_bool};
use crate::flags::FlagError;

/// kube's plugin names, as its messages spell them.
const LOG_PLUGIN: &str = "log";
const WEBHOOK_PLUGIN: &str = "webhook";
/// kubesim's bound on the webhook's buffer and batch: the backend allocates a batch of this
/// many up front and holds up to `buffer + in-flight batches` events, so a typo of a few more
/// zeros must not become gigabytes (the log backend has the same bound).
const MAX_WEBHOOK_BATCH_EVENTS: i64 = 1_000_000;
/// Go's longest `time.Duration` (2^63 − 1 ns, about 292 years): pflag refuses longer ones,
/// and the backends add these to clock readings.
const GO_MAX_DURATION: Duration = Duration::from_nanos(i64::MAX as u64);

/// The `--enable-priority-and-fairness` and `--audit-*` flags. Every one is an `Option` so
/// that `Default` is "no flag given", kube's defaults applied in [`FlowAuditArgs::to_options`].
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FlowAuditArgs {
    /// If true, replace the max-in-flight handler with an enhanced one that queues and
    /// dispatches with priority and fairness [default: true].
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub enable_priority_and_fairness: Option<String>,
    /// Path to the file that defines the audit policy configuration.
    #[arg(long, value_name = "FILE")]
    pub audit_policy_file: Option<String>,
    /// If set, all requests coming to the apiserver will be logged to this file.  '-' means
    /// standard out.
    #[arg(long, value_name = "FILE")]
    pub audit_log_path: Option<String>,
    /// The maximum size in megabytes of the audit log file before it gets rotated; 0 never
    /// rotates [default: 0].
    #[arg(long, value_name = "MB")]
    pub audit_log_maxsize: Option<String>,
    /// The maximum number of old audit log files to retain; 0 keeps them all [default: 0].
    #[arg(long, value_name = "N")]
    pub audit_log_maxbackup: Option<String>,
    /// The maximum number of days to retain old audit log files based on the timestamp
    /// encoded in their filename; 0 keeps them whatever their age [default: 0].
    #[arg(long, value_name = "DAYS")]
    pub audit_log_maxage: Option<String>,
    /// The size of the buffer to store events before batching and writing (kubesim's log
    /// backend always buffers) [default: 10000].
    #[arg(long, value_name = "N")]
    pub audit_log_batch_buffer_size: Option<String>,
    /// Path to a kubeconfig formatted file that defines the audit webhook configuration.
    #[arg(long, value_name = "FILE")]
    pub audit_webhook_config_file: Option<String>,
    /// The size of the buffer to store events before batching and writing [default: 10000].
    #[arg(long, value_name = "N")]
    pub audit_webhook_batch_buffer_size: Option<String>,
    /// The maximum size of a batch [default: 400].
    #[arg(long, value_name = "N")]
    pub audit_webhook_batch_max_size: Option<String>,
    /// The amount of time to wait before force writing the batch that hadn't reached the max
    /// size [default: 30s].
    #[arg(long, value_name = "DURATION")]
    pub audit_webhook_batch_max_wait: Option<String>,
    /// The amount of time to wait before retrying the first failed request [default: 10s].
    #[arg(long, value_name = "DURATION")]
    pub audit_webhook_initial_backoff: Option<String>,
}

/// What the flags set in the server's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowAuditOptions {
    pub enable_priority_and_fairness: bool,
    pub audit: AuditOptions,
}

impl FlowAuditOptions {
    pub fn apply_to(self, config: &mut ApiServerConfig) {
        config.enable_priority_and_fairness = self.enable_priority_and_fairness;
        config.audit = self.audit;
    }
}

impl FlowAuditArgs {
    /// Parses every flag and checks the ranges kube checks.
    pub fn to_options(&self) -> Result<FlowAuditOptions, FlagError> {
        let enable_priority_and_fairness = match &self.enable_priority_and_fairness {
            Some(value) => parse_go_bool("enable-priority-and-fairness", value)?,
            None => true,
        };
        let mut audit = AuditOptions {
            policy_file: path(&self.audit_policy_file),
            log: None,
            webhook_config_file: path(&self.audit_webhook_config_file),
            webhook_batch: self.webhook_batch()?,
        };
        self.log(&mut audit)?;
        Ok(FlowAuditOptions {
            enable_priority_and_fairness,
            audit,
        })
    }

    /// `--audit-log-*` into `audit.log`, which stays `None` without a path.
    fn log(&self, audit: &mut AuditOptions) -> Result<(), FlagError> {
        let max_size = int("audit-log-maxsize", &self.audit_log_maxsize)?;
        let max_backup = int("audit-log-maxbackup", &self.audit_log_maxbackup)?;
        let max_age = int("audit-log-maxage", &self.audit_log_maxage)?;
        let buffer_size = int(
            "audit-log-batch-buffer-size",
            &self.audit_log_batch_buffer_size,
        )?;
        let Some(log_path) = path(&self.audit_log_path) else {
            return Ok(());
        };
        // This crate does not depend on kubesim-audit, so it reaches the log backend's
        // options through the field's type rather than by name; `default()` is kube's.
        let log = audit.log.insert(Default::default());
        log.path = log_path;
        if let Some(size) = max_size {
            log.max_size_mb = non_negative("audit-log-maxsize", size)?;
        }
        if let Some(backups) = max_backup {
            log.max_backups = non_negative("audit-log-maxbackup", backups)?;
        }
        if let Some(days) = max_age {
            log.max_age_days = non_negative("audit-log-maxage", days)?;
        }
        if let Some(size) = buffer_size {
            log.buffer_size = positive(
                "audit-log-batch-buffer-size",
                LOG_PLUGIN,
                "buffer size",
                size,
            )?;
        }
        // The path is not empty here, so what is left for `validate` is the buffer's bound.
        log.validate()
            .map_err(|reason| FlagError::new("audit-log-batch-buffer-size", reason))
    }

    /// `--audit-webhook-batch-*` and `--audit-webhook-initial-backoff`; all `None` (kube's
    /// defaults) while the webhook is off.
    fn webhook_batch(&self) -> Result<WebhookBatchOptions, FlagError> {
        let buffer_size = int(
            "audit-webhook-batch-buffer-size",
            &self.audit_webhook_batch_buffer_size,
        )?;
        let max_size = int(
            "audit-webhook-batch-max-size",
            &self.audit_webhook_batch_max_size,
        )?;
        let max_wait = duration(
            "audit-webhook-batch-max-wait",
            &self.audit_webhook_batch_max_wait,
        )?;
        let initial_backoff = duration(
            "audit-webhook-initial-backoff",
            &self.audit_webhook_initial_backoff,
        )?;
        if path(&self.audit_webhook_config_file).is_none() {
            return Ok(WebhookBatchOptions::default());
        }
        let batch_events = |flag: &'static str, what: &str, value: Option<i64>| {
            value
                .map(|value| webhook_batch_events(flag, what, value))
                .transpose()
        };
        Ok(WebhookBatchOptions {
            buffer_size: batch_events(
                "audit-webhook-batch-buffer-size",
                "buffer size",
                buffer_size,
            )?,
            max_size: batch_events("audit-webhook-batch-max-size", "max batch size", max_size)?,
            max_wait,
            initial_backoff,
        })
    }
}

/// A path flag's value; empty is unset, as kube's `StringVar` paths are.
fn path(value: &Option<String>) -> Option<PathBuf> {
    value
        .as_deref()
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

/// An integer flag's value, as Go's `IntVar` parses it (decimal only).
fn int(flag: &'static str, value: &Option<String>) -> Result<Option<i64>, FlagError> {
    let Some(text) = value else {
        return Ok(None);
    };
    text.parse::<i64>().map(Some).map_err(|_| {
        FlagError::new(
            flag,
            format!("invalid argument {text:?}: must be an integer"),
        )
    })
}

/// A duration flag's value, as Go's `DurationVar` parses it.
fn duration(flag: &'static str, value: &Option<String>) -> Result<Option<Duration>, FlagError> {
    let Some(text) = value else {
        return Ok(None);
    };
    let duration = parse_duration_or_zero(flag, text)?;
    if duration > GO_MAX_DURATION {
        return Err(FlagError::new(
            flag,
            format!(
                "invalid argument {text:?}: must be at most 2562047h47m16s, Go's longest duration"
            ),
        ));
    }
    Ok(Some(duration))
}

/// kube's check of the log's rotation flags, then kubesim's own bound (the field's type).
fn non_negative<T: TryFrom<i64>>(flag: &'static str, value: i64) -> Result<T, FlagError> {
    if value < 0 {
        return Err(FlagError::new(
            flag,
            format!("--{flag} {value} can't be a negative number"),
        ));
    }
    T::try_from(value).map_err(|_| FlagError::new(flag, format!("{value} is too large")))
}

/// kube's check of a batch's `what` (`buffer size`, `max batch size`).
fn positive(flag: &'static str, plugin: &str, what: &str, value: i64) -> Result<usize, FlagError> {
    if value <= 0 {
        return Err(FlagError::new(
            flag,
            format!("invalid audit batch {plugin} {what} {value}, must be a positive number"),
        ));
    }
    usize::try_from(value).map_err(|_| FlagError::new(flag, format!("{value} is too large")))
}

/// A webhook buffer or batch size: positive (kube's check) and at most
/// [`MAX_WEBHOOK_BATCH_EVENTS`] (kubesim's bound).
fn webhook_batch_events(flag: &'static str, what: &str, value: i64) -> Result<usize, FlagError> {
    let size = positive(flag, WEBHOOK_PLUGIN, what, value)?;
    if value > MAX_WEBHOOK_BATCH_EVENTS {
        return Err(FlagError::new(
            flag,
            format!(
                "invalid audit batch {WEBHOOK_PLUGIN} {what} {value}, must be at most \
                 {MAX_WEBHOOK_BATCH_EVENTS}"
            ),
        ));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        args: FlowAuditArgs,
    }

    fn parse(args: &[&str]) -> Result<FlowAuditArgs, clap::Error> {
        let argv = std::iter::once("apiserver").chain(args.iter().copied());
        Cmd::try_parse_from(argv).map(|cmd| cmd.args)
    }

    fn opts(args: &[&str]) -> Result<FlowAuditOptions, FlagError> {
        parse(args).unwrap().to_options()
    }

    fn error(args: &[&str]) -> (String, String) {
        let e = opts(args).unwrap_err();
        (e.flag.to_string(), e.reason)
    }

    const WEBHOOK: &str = "--audit-webhook-config-file=audit-webhook.kubeconfig";

    #[test]
    fn defaults_are_kube_apiservers() {
        let options = opts(&[]).unwrap();
        assert_eq!(
            options,
            FlowAuditOptions {
                enable_priority_and_fairness: true,
                audit: AuditOptions::default(),
            }
        );
        assert_eq!(options.audit.log, None);
        assert_eq!(FlowAuditArgs::default().to_options(), Ok(options));
    }

    #[test]
    fn priority_and_fairness_takes_go_booleans_after_equals() {
        let enabled = |args: &[&str]| opts(args).unwrap().enable_priority_and_fairness;
        assert!(!enabled(&["--enable-priority-and-fairness=false"]));
        assert!(!enabled(&["--enable-priority-and-fairness=0"]));
        assert!(!enabled(&["--enable-priority-and-fairness=F"]));
        assert!(enabled(&["--enable-priority-and-fairness=true"]));
        assert!(enabled(&["--enable-priority-and-fairness"]));
        assert_eq!(
            error(&["--enable-priority-and-fairness=no"]),
            (
                "enable-priority-and-fairness".into(),
                "invalid argument \"no\": must be true or false".into()
            )
        );
        // As with pflag, `false` after a space is not the flag's value.
        assert!(parse(&["--enable-priority-and-fairness", "false"]).is_err());
    }

    #[test]
    fn log_flags_reach_the_log_options() {
        let options = opts(&[
            "--audit-policy-file=policy.yaml",
            "--audit-log-path=/var/log/audit.log",
            "--audit-log-maxsize=100",
            "--audit-log-maxbackup=10",
            "--audit-log-maxage=30",
            "--audit-log-batch-buffer-size=500",
        ])
        .unwrap();
        let audit = options.audit;
        assert_eq!(audit.policy_file, Some(PathBuf::from("policy.yaml")));
        let log = audit.log.unwrap();
        assert_eq!(log.path, PathBuf::from("/var/log/audit.log"));
        assert_eq!(
            (
                log.max_size_mb,
                log.max_backups,
                log.max_age_days,
                log.buffer_size
            ),
            (100, 10, 30, 500)
        );
        assert_eq!(audit.webhook_config_file, None);
    }

    #[test]
    fn log_defaults_and_standard_out() {
        let log = opts(&["--audit-log-path=-"]).unwrap().audit.log.unwrap();
        assert_eq!(log.path, PathBuf::from("-"));
        assert_eq!(
            (
                log.max_size_mb,
                log.max_backups,
                log.max_age_days,
                log.buffer_size
            ),
            (0, 0, 0, 10_000)
        );
        // kube's empty path is no log backend, and its flags then go unchecked.
        let off = opts(&["--audit-log-path=", "--audit-log-maxage=-1"]).unwrap();
        assert_eq!(off.audit.log, None);
        assert_eq!(off.audit.policy_file, None);
        let empty_policy = opts(&["--audit-policy-file="]).unwrap();
        assert_eq!(empty_policy.audit.policy_file, None);
    }

    #[test]
    fn webhook_flags_reach_the_batch_options() {
        let audit = opts(&[
            WEBHOOK,
            "--audit-webhook-batch-buffer-size=20000",
            "--audit-webhook-batch-max-size=100",
            "--audit-webhook-batch-max-wait=1m30s",
            "--audit-webhook-initial-backoff=500ms",
        ])
        .unwrap()
        .audit;
        assert_eq!(
            audit.webhook_config_file,
            Some(PathBuf::from("audit-webhook.kubeconfig"))
        );
        assert_eq!(
            audit.webhook_batch,
            WebhookBatchOptions {
                buffer_size: Some(20_000),
                max_size: Some(100),
                max_wait: Some(Duration::from_secs(90)),
                initial_backoff: Some(Duration::from_millis(500)),
            }
        );
        let zero = opts(&[WEBHOOK, "--audit-webhook-batch-max-wait=0"]).unwrap();
        assert_eq!(zero.audit.webhook_batch.max_wait, Some(Duration::ZERO));
        // Unset flags keep kube's defaults, which the backend applies.
        let defaults = opts(&[WEBHOOK]).unwrap();
        assert_eq!(defaults.audit.webhook_batch, WebhookBatchOptions::default());
        // Without the webhook its batch flags are parsed but neither checked nor used.
        let off = opts(&["--audit-webhook-batch-max-size=0"]).unwrap();
        assert_eq!(off.audit.webhook_batch, WebhookBatchOptions::default());
    }

    #[test]
    fn bad_numbers_have_kubes_messages() {
        let cases: [(&[&str], &str, &str); 9] = [
            (
                &["--audit-log-path=a", "--audit-log-maxsize=-1"],
                "audit-log-maxsize",
                "--audit-log-maxsize -1 can't be a negative number",
            ),
            (
                &["--audit-log-path=a", "--audit-log-maxbackup=-3"],
                "audit-log-maxbackup",
                "--audit-log-maxbackup -3 can't be a negative number",
            ),
            (
                &["--audit-log-path=a", "--audit-log-maxage=4294967296"],
                "audit-log-maxage",
                "4294967296 is too large",
            ),
            (
                &["--audit-log-path=a", "--audit-log-batch-buffer-size=0"],
                "audit-log-batch-buffer-size",
                "invalid audit batch log buffer size 0, must be a positive number",
            ),
            (
                &[
                    "--audit-log-path=a",
                    "--audit-log-batch-buffer-size=1000001",
                ],
                "audit-log-batch-buffer-size",
                "invalid audit batch log buffer size 1000001, must be at most 1000000",
            ),
            (
                &[WEBHOOK, "--audit-webhook-batch-buffer-size=-1"],
                "audit-webhook-batch-buffer-size",
                "invalid audit batch webhook buffer size -1, must be a positive number",
            ),
            (
                &[WEBHOOK, "--audit-webhook-batch-max-size=0"],
                "audit-webhook-batch-max-size",
                "invalid audit batch webhook max batch size 0, must be a positive number",
            ),
            (
                &[WEBHOOK, "--audit-webhook-batch-max-size=10000000"],
                "audit-webhook-batch-max-size",
                "invalid audit batch webhook max batch size 10000000, must be at most 1000000",
            ),
            // Syntax is checked even with the backend off, as pflag does.
            (
                &["--audit-log-maxsize=10MB"],
                "audit-log-maxsize",
                "invalid argument \"10MB\": must be an integer",
            ),
        ];
        for (args, flag, reason) in cases {
            assert_eq!(error(args), (flag.into(), reason.into()), "{args:?}");
        }
        for bad in ["", "1.5", "1e3", "99999999999999999999"] {
            let flag = format!("--audit-webhook-batch-buffer-size={bad}");
            let (name, _) = error(&[WEBHOOK, &flag]);
            assert_eq!(name, "audit-webhook-batch-buffer-size", "{bad:?}");
        }
    }

    #[test]
    fn bad_durations_name_the_flag() {
        for bad in ["", "30", "1d", "-1s", "1.5s", "s", "2562048h"] {
            for flag in [
                "audit-webhook-batch-max-wait",
                "audit-webhook-initial-backoff",
            ] {
                let arg = format!("--{flag}={bad}");
                let (name, reason) = error(&[&arg]);
                assert_eq!(name, flag, "{bad:?}");
                assert!(reason.contains(&format!("{bad:?}")), "{reason}");
            }
        }
        let longest = opts(&[WEBHOOK, "--audit-webhook-initial-backoff=2562047h"]).unwrap();
        assert_eq!(
            longest.audit.webhook_batch.initial_backoff,
            Some(Duration::from_secs(2_562_047 * 3600))
        );
    }

    #[test]
    fn options_apply_to_the_server_config() {
        let mut config = ApiServerConfig::new("127.0.0.1:6443", "c".into(), "k".into());
        let options = opts(&[
            "--enable-priority-and-fairness=false",
            "--audit-policy-file=p.yaml",
            "--audit-log-path=-",
        ])
        .unwrap();
        options.clone().apply_to(&mut config);
        assert!(!config.enable_priority_and_fairness);
        assert_eq!(config.audit, options.audit);
    }
}
