//! The official Python client (PyPI `kubernetes`), unmodified, against a real `kubesim
//! apiserver` over real TLS: CRUD, paginated lists, selectors, watches resumed from a
//! resourceVersion, and the 404, 409 and 422 Status bodies (issue 4).
//!
//! The assertions live in `tests/python/test_client.py` (standard-library `unittest`, so only
//! `kubernetes` must be installed); this file starts the server with the shared fixture, runs
//! the script with the fixture's kubeconfig, and fails with the script's whole output and the
//! server's log when the script does not exit 0. Without python3 or the `kubernetes` package
//! the test skips with a line on stderr, unless `KUBESIM_E2E=1` makes it fail.
//!
//! The script runs longer than the fixture's 30 s bound of one command (it waits on watch
//! timeouts and namespace deletions), so it has its own bounded runner here.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use kubesim_tests::apiserver::ApiServer;
use kubesim_tests::{e2e_required, find_on_path};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::task::JoinHandle;

/// Bound of the whole Python suite, which takes about 10 s: it only stops a hang. Each test
/// waits at most on a watch's timeout (10 s) and a namespace deletion (30 s).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);
/// Bound of `python3 -c "import kubernetes"`: a cold import of the client takes a second or two.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for a pipe to close once the process has exited or been killed.
const PIPE_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn python_client_crud_list_watch_and_errors() -> anyhow::Result<()> {
    let test = "python_client_crud_list_watch_and_errors";
    let Some(python) = python_with_client(test).await? else {
        return Ok(());
    };
    let server = ApiServer::start().await?;
    let mut command = Command::new(&python);
    // -u: unbuffered, so a run killed at its bound still shows how far it got.
    command
        .arg("-u")
        .arg(script())
        .env("KUBECONFIG", server.file("kubeconfig"));
    let run = run_bounded(command, SCRIPT_TIMEOUT).await?;
    match run.status {
        Some(status) if status.success() => Ok(()),
        Some(status) => bail!(
            "test_client.py failed ({status})\n{}\n{}",
            run.transcript(),
            server.log()
        ),
        None => bail!(
            "test_client.py did not finish within {SCRIPT_TIMEOUT:?} and was killed\n{}\n{}",
            run.transcript(),
            server.log()
        ),
    }
}

/// The runner's bound holds: a process past it is killed, and what it wrote before is kept
/// for the failure message.
#[tokio::test]
async fn a_run_past_its_bound_is_killed_keeping_its_output() -> anyhow::Result<()> {
    let mut command = Command::new("sh");
    command.args(["-c", "echo started; echo warned >&2; exec sleep 30"]);
    let started = std::time::Instant::now();
    let run = run_bounded(command, Duration::from_secs(1)).await?;
    ensure!(run.status.is_none(), "{run:?}");
    ensure!(
        (run.stdout.as_str(), run.stderr.as_str()) == ("started\n", "warned\n"),
        "{run:?}"
    );
    ensure!(started.elapsed() < Duration::from_secs(10), "{run:?}");
    Ok(())
}

/// `tests/python/test_client.py`, found from this crate's directory so `cargo test` works
/// from any working directory.
fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/test_client.py")
}

/// python3 when it can import `kubernetes`; `None` (skip, with one line on stderr) when it
/// cannot, or an error with python's own output when `KUBESIM_E2E=1` requires the test to run.
async fn python_with_client(test: &str) -> anyhow::Result<Option<PathBuf>> {
    let (missing, detail) = match find_on_path("python3") {
        None => ("python3 is not installed", String::new()),
        Some(python) => {
            let mut probe = Command::new(&python);
            probe.args(["-c", "import kubernetes"]);
            let run = run_bounded(probe, PROBE_TIMEOUT).await?;
            if run.status.is_some_and(|status| status.success()) {
                return Ok(Some(python));
            }
            (
                "python3 cannot import kubernetes (pip install kubernetes)",
                run.transcript(),
            )
        }
    };
    if e2e_required() {
        bail!("{missing}, but KUBESIM_E2E=1 requires it\n{detail}");
    }
    eprintln!("{test}: skipped: {missing}");
    Ok(None)
}

/// What a bounded run left behind.
#[derive(Debug)]
struct Run {
    /// `None` when the process was killed at its bound.
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Both streams, labelled, for a failure message.
    fn transcript(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }
}

/// Runs `command` with stdin closed, reading stdout and stderr as it goes (so a chatty
/// process never blocks on a full pipe), and kills it after `limit`, keeping what it wrote.
async fn run_bounded(mut command: Command, limit: Duration) -> anyhow::Result<Run> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .with_context(|| format!("spawning {command:?}"))?;
    let stdout = tokio::spawn(read_all(child.stdout.take().context("no stdout pipe")?));
    let stderr = tokio::spawn(read_all(child.stderr.take().context("no stderr pipe")?));
    let status = match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => Some(status?),
        Err(_) => {
            // `kill` also reaps the child.
            child.kill().await?;
            None
        }
    };
    Ok(Run {
        status,
        stdout: drained(stdout).await,
        stderr: drained(stderr).await,
    })
}

/// Everything `pipe` yields until it closes, or fails (keeping what came before).
async fn read_all(mut pipe: impl AsyncRead + Unpin) -> String {
    let mut bytes = Vec::new();
    let _ = pipe.read_to_end(&mut bytes).await;
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The text a reader task collected; bounded, since a grandchild could hold the pipe open.
async fn drained(reader: JoinHandle<String>) -> String {
    match tokio::time::timeout(PIPE_DRAIN_TIMEOUT, reader).await {
        Ok(Ok(text)) => text,
        Ok(Err(error)) => format!("<reading the pipe failed: {error}>"),
        Err(_) => format!("<the pipe stayed open {PIPE_DRAIN_TIMEOUT:?} after the process ended>"),
    }
}
