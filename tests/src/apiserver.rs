//! A running `kubesim apiserver` over a store, as real processes with real TLS: the fixture
//! of the API server's end-to-end tests (kubectl, curl, the Python client).
//!
//! The store is a [`Cluster`] of the target in `KUBESIM_E2E_TARGET` (a kubesim store or a
//! real etcd 3.4), so the same suite proves the API server on both. The certificates and the
//! kubeconfig come from `kubesim certs`. Every process is killed on drop.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use tokio::process::{Child, Command};

use crate::{Cluster, e2e_required, find_on_path, target, wait_for};

/// Bound of one kubectl, curl or python run.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the server may take to answer `/readyz` after it was spawned.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The kubectl versions run, as named beside the default kubectl (`kubectl.1.29`).
pub const KUBECTL_VERSIONS: [&str; 3] = ["1.27", "1.29", "1.33"];

/// A running `kubesim apiserver` with its store and the certificates `kubesim certs` wrote.
pub struct ApiServer {
    /// Killed on drop, so a failed test leaves no process behind.
    pub process: Child,
    pub port: u16,
    /// The store under the server; `None` for a server started without one.
    pub store: Option<Cluster>,
    /// Holds the certificates, the kubeconfig, kubectl's cache and the server's log.
    pub dir: tempfile::TempDir,
}

impl ApiServer {
    /// A one-member store of the target and an API server over it, ready (`/readyz` ok).
    pub async fn start() -> anyhow::Result<ApiServer> {
        ApiServer::start_with(&[]).await
    }

    /// [`ApiServer::start`] with `extra` flags after the usual ones.
    pub async fn start_with(extra: &[&str]) -> anyhow::Result<ApiServer> {
        ApiServer::start_with_env(extra, &[]).await
    }

    /// [`ApiServer::start_with`], the server's process with `env` added to its environment
    /// (`RUST_LOG`).
    pub async fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> anyhow::Result<ApiServer> {
        let store = Cluster::start_sized(1).await?;
        let etcd = format!("--etcd-servers={}", store.endpoints().join(","));
        let mut flags = vec![etcd];
        flags.extend(extra.iter().map(|f| f.to_string()));
        let server = ApiServer::spawn_with_env(Some(store), &flags, env).await?;
        server.wait_ready().await?;
        Ok(server)
    }

    /// Spawns the server with the usual flags and `extra`, and waits until it listens (not
    /// until it is ready: a server without a store never is).
    pub async fn spawn(store: Option<Cluster>, extra: &[String]) -> anyhow::Result<ApiServer> {
        ApiServer::spawn_with_env(store, extra, &[]).await
    }

    /// [`ApiServer::spawn`] with `env` added to the process's environment.
    pub async fn spawn_with_env(
        store: Option<Cluster>,
        extra: &[String],
        env: &[(&str, &str)],
    ) -> anyhow::Result<ApiServer> {
        let program = kubesim().await?;
        let dir = tempfile::Builder::new()
            .prefix("kubesim-apiserver-")
            .tempdir()?;
        let port = free_port()?;
        let certs = Command::new(&program)
            .args(["certs", "--out"])
            .arg(dir.path())
            .arg(format!("--server=https://127.0.0.1:{port}"))
            .output()
            .await?;
        ensure!(
            certs.status.success(),
            "kubesim certs failed: {}",
            String::from_utf8_lossy(&certs.stderr)
        );
        let log = std::fs::File::create(dir.path().join("apiserver.log"))?;
        let process = Command::new(&program)
            .arg("apiserver")
            .arg(format!("--secure-port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(flag_path(
                "--tls-cert-file",
                &dir.path().join("apiserver.crt"),
            ))
            .arg(flag_path(
                "--tls-private-key-file",
                &dir.path().join("apiserver.key"),
            ))
            .arg(flag_path("--client-ca-file", &dir.path().join("ca.crt")))
            .args(extra)
            .envs(scheduler_env(crate::Target::from_env()?).iter().copied())
            .envs(env.iter().copied())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("spawning kubesim apiserver")?;
        let server = ApiServer {
            process,
            port,
            store,
            dir,
        };
        wait_for(
            "the API server to listen",
            START_TIMEOUT,
            Duration::from_millis(100),
            || async {
                Ok(tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .ok()
                    .map(|_| ()))
            },
        )
        .await
        .with_context(|| server.log())?;
        Ok(server)
    }

    /// Until `/readyz` passes: the store answers, the watch caches have listed, and the
    /// system namespaces exist.
    pub async fn wait_ready(&self) -> anyhow::Result<()> {
        wait_for(
            "the API server to be ready",
            START_TIMEOUT,
            Duration::from_millis(200),
            || async {
                let out = self.curl(&[&self.url("/readyz")]).await?;
                if out.stdout != "ok" {
                    return Ok(None);
                }
                let out = self
                    .curl(&[&self.url("/api/v1/namespaces/default")])
                    .await?;
                Ok(out.stdout.contains("\"name\":\"default\"").then_some(()))
            },
        )
        .await
        .with_context(|| self.log())
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// A file in the server's directory (`kubeconfig`, `ca.crt`, ...).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `kubectl_path` against this server with its own discovery cache; `stdin` is fed
    /// to it when given.
    pub async fn kubectl(&self, kubectl_path: &Path, args: &[&str]) -> anyhow::Result<Output> {
        self.kubectl_with_input(kubectl_path, args, None).await
    }

    pub async fn kubectl_with_input(
        &self,
        kubectl_path: &Path,
        args: &[&str],
        stdin: Option<&str>,
    ) -> anyhow::Result<Output> {
        let mut command = Command::new(kubectl_path);
        command
            .env("KUBECONFIG", self.file("kubeconfig"))
            .arg(flag_path("--cache-dir", &self.file("kube-cache")))
            .args(args);
        run_with_input(command, stdin).await
    }

    /// curl trusting this server's CA, with the admin's client certificate.
    pub async fn curl(&self, args: &[&str]) -> anyhow::Result<Output> {
        let mut command = Command::new("curl");
        command
            .args(["--silent", "--show-error", "--max-time", "20"])
            // curl takes no `--flag=value`.
            .arg("--cacert")
            .arg(self.file("ca.crt"))
            .arg("--cert")
            .arg(self.file("admin.crt"))
            .arg("--key")
            .arg(self.file("admin.key"))
            .args(args);
        run(command).await
    }

    /// The server's log so far, for a failure message.
    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(self.file("apiserver.log")).unwrap_or_default();
        format!("server log:\n{text}")
    }
}

/// What one kubectl, curl or python run left behind.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` to completion within [`RUN_TIMEOUT`].
pub async fn run(command: Command) -> anyhow::Result<Output> {
    run_with_input(command, None).await
}

async fn run_with_input(mut command: Command, stdin: Option<&str>) -> anyhow::Result<Output> {
    use tokio::io::AsyncWriteExt;
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .with_context(|| format!("spawning {command:?}"))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes()).await?;
    }
    let output = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .with_context(|| format!("{command:?} did not finish within {RUN_TIMEOUT:?}"))??;
    Ok(Output {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

pub fn flag_path(flag: &str, path: &Path) -> String {
    format!("{flag}={}", path.display())
}

/// The kubesim binary, built if needed (off the runtime's threads: it may take minutes).
pub async fn kubesim() -> anyhow::Result<PathBuf> {
    tokio::task::spawn_blocking(target::kubesim_binary).await?
}

/// The API server runs on tokio's current-thread scheduler when it has one thread
/// (`kubesim apiserver` on one CPU) and on the multi-thread one otherwise. CI runs this suite
/// once over a kubesim store and once over etcd; the etcd pass sets `TOKIO_WORKER_THREADS=1`,
/// so on a machine with more than one CPU (CI's has two) each scheduler runs the whole suite;
/// on one CPU both passes run the current-thread one.
fn scheduler_env(target: crate::Target) -> &'static [(&'static str, &'static str)] {
    match target {
        crate::Target::Etcd => &[("TOKIO_WORKER_THREADS", "1")],
        crate::Target::Kubesim => &[],
    }
}

/// A port nothing listens on right now, below the kernel's ephemeral range, so that no
/// outgoing connection takes it before the server started on it binds it
/// ([`kubesim_net::ports::free_local_port`]).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(kubesim_net::ports::free_local_port()?)
}

/// The kubectl binaries to run: `kubectl.<version>` for each of [`KUBECTL_VERSIONS`] found
/// beside the file `kubectl` resolves to, else `kubectl` alone. Empty (or an error under
/// `KUBESIM_E2E=1`) when kubectl is not installed.
pub fn kubectls(test: &str) -> anyhow::Result<Vec<PathBuf>> {
    let Some(kubectl) = find_on_path("kubectl") else {
        if e2e_required() {
            bail!("kubectl is not installed but KUBESIM_E2E=1 requires it");
        }
        eprintln!("{test}: skipped: kubectl not installed");
        return Ok(Vec::new());
    };
    let real = std::fs::canonicalize(&kubectl).unwrap_or(kubectl.clone());
    let dir = real.parent().context("kubectl has no directory")?;
    let versioned: Vec<PathBuf> = KUBECTL_VERSIONS
        .iter()
        .map(|version| dir.join(format!("kubectl.{version}")))
        .filter(|path| path.is_file())
        .collect();
    Ok(if versioned.is_empty() {
        vec![kubectl]
    } else {
        versioned
    })
}

/// Whether curl is installed; without it a test skips, or fails under `KUBESIM_E2E=1`.
pub fn curl_or_skip(test: &str) -> anyhow::Result<bool> {
    if find_on_path("curl").is_some() {
        return Ok(true);
    }
    if e2e_required() {
        bail!("curl is not installed but KUBESIM_E2E=1 requires it");
    }
    eprintln!("{test}: skipped: curl not installed");
    Ok(false)
}
