//! What the audit end-to-end tests share: the audit-sink sample as the API server's audit
//! webhook, the audit policy and log files, and the counters on `/metrics`.
//!
//! - [`AuditSink`]: `kubesim webhook audit-sink` ([`WebhookProcess::sample`]) with the
//!   kubeconfig that points `--audit-webhook-config-file` at its `POST /audit`, its records
//!   (`GET /records`, the `AuditEvent` ones), and [`AuditSink::kill`] for a webhook that dies.
//! - [`write_policy`] and [`read_log`]: `--audit-policy-file` and the JSON lines of
//!   `--audit-log-path`.
//! - [`metric`]: one sample of the API server's `/metrics` (`apiserver_audit_error_total`).
//!
//! Every wait here has a bound.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, ensure};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::admission::{ServingCa, WebhookProcess};
use crate::apiserver::{ApiServer, run};
use crate::wait_for;

/// The largest audit log read back: a test writes a few hundred events of a few kilobytes,
/// so this is far above, and a runaway log fails the test instead of filling memory.
pub const MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;
/// How long a killed sink may take to stop accepting connections.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The audit-sink sample as an audit webhook: `POST /audit` takes the API server's
/// EventLists, `GET /records` shows them.
pub struct AuditSink {
    /// `None` once killed; killed on drop otherwise (`kill_on_drop`).
    process: Option<WebhookProcess>,
    pub port: u16,
    /// Holds the sink's CA certificate and the kubeconfig.
    dir: tempfile::TempDir,
}

impl AuditSink {
    /// Starts the sink with a serving certificate from `ca`, once it serves, and writes the
    /// kubeconfig for `--audit-webhook-config-file`.
    pub async fn start(ca: &ServingCa) -> anyhow::Result<AuditSink> {
        let process = WebhookProcess::sample("audit-sink", &[], ca).await?;
        let dir = tempfile::Builder::new()
            .prefix("kubesim-audit-sink-")
            .tempdir()?;
        let sink = AuditSink {
            port: process.port,
            process: Some(process),
            dir,
        };
        std::fs::write(sink.ca_file(), &ca.pem)?;
        sink.write_kubeconfig()?;
        Ok(sink)
    }

    /// The kubeconfig client-go would read for kube-apiserver's audit webhook: the
    /// cluster's server is the sink's `/audit`, trusted through `certificate-authority`.
    fn write_kubeconfig(&self) -> anyhow::Result<()> {
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "audit-sink", "cluster": {
                "server": self.url("/audit"),
                "certificate-authority": self.ca_file(),
            }}],
            "users": [{"name": "apiserver", "user": {}}],
            "contexts": [{"name": "audit-sink",
                          "context": {"cluster": "audit-sink", "user": "apiserver"}}],
            "current-context": "audit-sink",
        });
        std::fs::write(self.kubeconfig(), config.to_string())?;
        Ok(())
    }

    /// `--audit-webhook-config-file`.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("audit-webhook-kubeconfig")
    }

    fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// The audit events the sink has recorded, oldest first (its `AuditEvent` records:
    /// `auditID`, `stage`, `level`, `verb`, `requestURI`, `user`, `objectRef`,
    /// `responseCode`, `annotations`), and how many records its ring pushed out.
    pub async fn events(&self) -> anyhow::Result<(Vec<Value>, u64)> {
        let mut command = Command::new("curl");
        command
            .args(["--silent", "--show-error", "--fail", "--max-time", "10"])
            .arg("--cacert")
            .arg(self.ca_file())
            .arg(self.url("/records"));
        let out = run(command).await?;
        ensure!(
            out.status.success(),
            "GET /records of the audit sink: {}",
            out.stderr.trim()
        );
        let records: Value = serde_json::from_str(&out.stdout)
            .with_context(|| format!("the sink's records are not JSON: {}", out.stdout))?;
        let events = records["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter(|item| item["kind"] == "AuditEvent")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Ok((events, records["dropped"].as_u64().unwrap_or(0)))
    }

    /// Kills the sink (SIGKILL) and waits until its port refuses connections.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        drop(self.process.take());
        let port = self.port;
        wait_for(
            "the killed audit sink to stop accepting connections",
            KILL_TIMEOUT,
            POLL_INTERVAL,
            || async {
                let refused = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_err();
                Ok(refused.then_some(()))
            },
        )
        .await
    }

    /// The sink's log, for a failure message.
    pub fn log(&self) -> String {
        self.process
            .as_ref()
            .map_or_else(|| "audit sink killed".to_string(), WebhookProcess::log)
    }
}

/// Writes `policy` (YAML or JSON) as `<dir>/audit-policy.yaml`; its path.
pub fn write_policy(dir: &Path, policy: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join("audit-policy.yaml");
    std::fs::write(&path, policy)?;
    Ok(path)
}

/// The events of an audit log, one JSON object a line, in the order written; a line that is
/// not JSON fails (kube writes whole lines only). At most [`MAX_LOG_BYTES`] are read.
pub fn read_log(path: &Path) -> anyhow::Result<Vec<Value>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_LOG_BYTES).read_to_string(&mut text)?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .with_context(|| format!("an audit log line is not JSON: {line}"))
        })
        .collect()
}

/// The value of the sample `series` (`apiserver_audit_error_total{plugin="webhook"}`) on
/// the server's `/metrics`, read as the admin; `None` when it is not there.
pub async fn metric(server: &ApiServer, series: &str) -> anyhow::Result<Option<f64>> {
    let out = server.curl(&["--fail", &server.url("/metrics")]).await?;
    ensure!(out.status.success(), "GET /metrics: {}", out.stderr.trim());
    Ok(out.stdout.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    }))
}
