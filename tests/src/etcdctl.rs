//! Running the real `etcdctl` (API v3) against a cluster and reading what it prints.
//!
//! A run is bounded by [`RUN_TIMEOUT`] and its process killed if it overstays. `watch` runs in
//! the background ([`Etcdctl::spawn`]) and its output is read line by line with a bound.
//! With `-w json`, etcdctl prints keys and values in base64 and leaves out zero-valued fields,
//! which [`text`] and [`int`] account for.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::Cluster;

/// Bound of one etcdctl run, above its own `--command-timeout`.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether the etcdctl tests can run here. Without etcdctl, a run that requires the
/// end-to-end tests (`KUBESIM_E2E=1`) fails, and any other run skips with a clear line.
pub fn available_or_skip(test: &str) -> anyhow::Result<bool> {
    if crate::on_path("etcdctl") {
        return Ok(true);
    }
    if crate::e2e_required() {
        bail!("etcdctl is not installed but KUBESIM_E2E=1 requires it");
    }
    eprintln!("{test}: skipped: etcdctl not installed (apt-get install -y etcd-client)");
    Ok(false)
}

/// What one etcdctl run left behind.
#[derive(Debug)]
pub struct Output {
    /// etcdctl exits 1 on a server error; tests assert on it.
    pub status: ExitStatus,
    /// What the user sees on success (in the `-w` format asked for).
    pub stdout: String,
    /// `Error: <the server's message>` on failure, plus client retry logs.
    pub stderr: String,
}

/// etcdctl pointed at a fixed set of endpoints.
#[derive(Debug, Clone)]
pub struct Etcdctl {
    /// `--endpoints`: etcdctl balances over them, like a real client would.
    endpoints: Vec<String>,
}

impl Etcdctl {
    pub fn new(endpoints: Vec<String>) -> Etcdctl {
        Etcdctl { endpoints }
    }

    /// etcdctl for every running member of `cluster`.
    pub fn for_cluster(cluster: &Cluster) -> Etcdctl {
        Etcdctl::new(cluster.endpoints())
    }

    /// Runs `etcdctl <args>` and returns its output whatever the exit status.
    pub async fn run(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.run_with_stdin(args, Vec::new()).await
    }

    /// Runs `etcdctl <args> <stdin` (for `txn` and for values too large for argv).
    pub async fn run_with_stdin(&self, args: &[&str], stdin: Vec<u8>) -> anyhow::Result<Output> {
        let mut child = self.command(args).stdin(Stdio::piped()).spawn()?;
        let mut input = child.stdin.take().context("etcdctl has no stdin")?;
        // Written from its own task, so a large stdin cannot deadlock against a full stdout.
        let writer = tokio::spawn(async move {
            let written = input.write_all(&stdin).await;
            drop(input);
            written
        });
        let output = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
            .await
            .with_context(|| format!("etcdctl {args:?} did not finish within {RUN_TIMEOUT:?}"))?
            .context("waiting for etcdctl")?;
        // A write error only means etcdctl stopped reading: its output says why.
        let _ = writer.await;
        Ok(Output {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Runs `etcdctl <args>`, fails unless it exits 0, and returns its stdout.
    pub async fn ok(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self.run(args).await?;
        if !output.status.success() {
            bail!(
                "etcdctl {args:?} failed ({}): {}",
                output.status,
                output.stderr
            );
        }
        Ok(output.stdout)
    }

    /// Runs `etcdctl <args> -w json` and parses what it prints.
    pub async fn json(&self, args: &[&str]) -> anyhow::Result<Value> {
        let mut args = args.to_vec();
        args.extend(["-w", "json"]);
        let stdout = self.ok(&args).await?;
        serde_json::from_str(&stdout)
            .with_context(|| format!("etcdctl {args:?} printed {stdout:?}"))
    }

    /// Starts `etcdctl <args>` in the background (for `watch`); it is killed when the
    /// returned [`Background`] is dropped.
    pub fn spawn(&self, args: &[&str]) -> anyhow::Result<Background> {
        let mut child = self.command(args).stdin(Stdio::null()).spawn()?;
        let stdout = child.stdout.take().context("etcdctl has no stdout")?;
        Ok(Background {
            lines: BufReader::new(stdout).lines(),
            child,
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("etcdctl");
        command
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.endpoints.join(",")))
            .arg("--dial-timeout=3s")
            .arg("--command-timeout=10s")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }
}

/// An etcdctl process running in the background.
pub struct Background {
    /// Its stdout, line by line.
    lines: Lines<BufReader<ChildStdout>>,
    /// Kept so the process lives as long as this value and is killed with it.
    child: Child,
}

impl Background {
    /// The next line of output, or `None` once etcdctl closed its stdout. Fails after `limit`.
    pub async fn next_line(&mut self, limit: Duration) -> anyhow::Result<Option<String>> {
        tokio::time::timeout(limit, self.lines.next_line())
            .await
            .context("etcdctl printed nothing in time")?
            .context("reading etcdctl output")
    }

    /// Kills the process and returns what it wrote to stderr, for error messages.
    pub async fn stop(mut self) -> String {
        let _ = self.child.start_kill();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            use tokio::io::AsyncReadExt;
            let read = pipe.read_to_string(&mut stderr);
            let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
        }
        stderr
    }
}

/// A base64 field of etcdctl's JSON (keys and values) as text. A missing field is "".
pub fn text(value: &Value, field: &str) -> anyhow::Result<String> {
    let Some(encoded) = value.get(field) else {
        return Ok(String::new());
    };
    let encoded = encoded
        .as_str()
        .with_context(|| format!("{field} is not a string: {value}"))?;
    let bytes =
        base64_decode(encoded).with_context(|| format!("{field} is not base64: {value}"))?;
    String::from_utf8(bytes).with_context(|| format!("{field} is not UTF-8"))
}

/// A numeric field of etcdctl's JSON; etcdctl leaves zero out, so a missing field is 0.
pub fn int(value: &Value, field: &str) -> anyhow::Result<i64> {
    match value.get(field) {
        None => Ok(0),
        Some(number) => number
            .as_i64()
            .with_context(|| format!("{field} is not an i64: {value}")),
    }
}

/// Like [`int`], for the unsigned 64-bit IDs (member ID, cluster ID, leader).
pub fn uint(value: &Value, field: &str) -> anyhow::Result<u64> {
    match value.get(field) {
        None => Ok(0),
        Some(number) => number
            .as_u64()
            .with_context(|| format!("{field} is not a u64: {value}")),
    }
}

/// Decodes standard base64 with padding, as Go's encoding/json writes `[]byte`.
pub fn base64_decode(encoded: &str) -> anyhow::Result<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let digits = encoded.trim_end_matches('=');
    let mut bytes = Vec::with_capacity(digits.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for character in digits.bytes() {
        let Some(digit) = ALPHABET.iter().position(|&c| c == character) else {
            bail!("invalid base64 character {:?}", character as char);
        };
        buffer = (buffer << 6) | digit as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_what_go_encodes() {
        assert_eq!(base64_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(base64_decode("YmF6cQ==").unwrap(), b"bazq");
        assert_eq!(base64_decode("dy8x").unwrap(), b"w/1");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("a*b=").is_err());
    }

    #[test]
    fn missing_json_fields_read_as_zero_values() {
        let value: Value = serde_json::from_str(r#"{"key":"dy8x","version":2}"#).unwrap();
        assert_eq!(text(&value, "key").unwrap(), "w/1");
        assert_eq!(text(&value, "value").unwrap(), "");
        assert_eq!(int(&value, "version").unwrap(), 2);
        assert_eq!(int(&value, "lease").unwrap(), 0);
    }
}
