//! `kubesim certs` as a user runs it, checked by the tools that will consume its output: openssl
//! reads and verifies the certificates, real kubectl reads the kubeconfig, and kubectl completes
//! a mutual-TLS handshake with an `openssl s_server` that serves the API server's certificate
//! and demands the admin's.
//!
//! The parts that need openssl or kubectl skip when the tool is missing, unless `KUBESIM_E2E=1`
//! makes that a failure (as the etcdctl tests do).

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use kubesim_tests::apiserver::free_port;
use kubesim_tests::{bounded, e2e_required, on_path, target};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Bound of one run of kubesim, openssl or kubectl.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);
const DAY_SECS: u64 = 24 * 3600;

const FILES: [&str; 7] = [
    "ca.crt",
    "ca.key",
    "apiserver.crt",
    "apiserver.key",
    "admin.crt",
    "admin.key",
    "kubeconfig",
];
const KEYS: [&str; 3] = ["ca.key", "apiserver.key", "admin.key"];

struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `program args` with [`RUN_TIMEOUT`], whatever its exit status.
async fn run(program: &Path, args: &[&str]) -> anyhow::Result<Output> {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let output = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .with_context(|| format!("{} {args:?} did not finish in time", program.display()))??;
    Ok(Output {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Runs `program args`, fails unless it exits 0, and returns its stdout.
async fn ok(program: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = run(program, args).await?;
    ensure!(
        output.status.success(),
        "{} {args:?} failed ({}): {}{}",
        program.display(),
        output.status,
        output.stdout,
        output.stderr
    );
    Ok(output.stdout)
}

async fn kubesim(args: &[&str]) -> anyhow::Result<Output> {
    // The build behind it is blocking and may take minutes on a cold cache.
    let binary = tokio::task::spawn_blocking(target::kubesim_binary).await??;
    run(&binary, args).await
}

/// The path of `tool`, or `None` when the test should skip it.
fn tool_or_skip(tool: &str, test: &str) -> anyhow::Result<Option<PathBuf>> {
    if on_path(tool) {
        return Ok(Some(PathBuf::from(tool)));
    }
    if e2e_required() {
        bail!("{tool} is not installed but KUBESIM_E2E=1 requires it");
    }
    eprintln!("{test}: {tool} checks skipped: {tool} not installed");
    Ok(None)
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str()
        .context("temporary directory path is not UTF-8")
}

fn read(dir: &Path, name: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(dir.join(name)).with_context(|| format!("reading {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_files_and_refuses_to_overwrite_without_force() -> anyhow::Result<()> {
    bounded(async {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("nested/certs");
        let out = path_str(&dir)?;
        let first = kubesim(&["certs", "--out", out]).await?;
        ensure!(first.status.success(), "certs failed: {}", first.stderr);
        let canonical = std::fs::canonicalize(&dir)?;
        for name in FILES {
            let line = format!("wrote {}", canonical.join(name).display());
            ensure!(
                first.stdout.contains(&line),
                "no {line:?} in {}",
                first.stdout
            );
        }
        let export = format!("export KUBECONFIG={}/kubeconfig\n", canonical.display());
        ensure!(first.stdout.ends_with(&export), "stdout: {}", first.stdout);
        check_key_modes(&dir)?;

        let ca_before = read(&dir, "ca.crt")?;
        let again = kubesim(&["certs", "--out", out]).await?;
        assert_eq!(again.status.code(), Some(2), "stderr: {}", again.stderr);
        ensure!(again.stderr.contains("--force"), "stderr: {}", again.stderr);
        assert_eq!(
            read(&dir, "ca.crt")?,
            ca_before,
            "refused run changed ca.crt"
        );

        let forced = kubesim(&["certs", "--out", out, "--force"]).await?;
        ensure!(forced.status.success(), "--force failed: {}", forced.stderr);
        assert_ne!(read(&dir, "ca.crt")?, ca_before, "--force kept the old CA");
        check_key_modes(&dir)
    })
    .await
}

#[cfg(unix)]
fn check_key_modes(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for name in KEYS.iter().chain(&["kubeconfig"]) {
        let mode = std::fs::metadata(dir.join(name))?.permissions().mode() & 0o777;
        ensure!(mode == 0o600, "{name} has mode {mode:o}, not 600");
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_key_modes(_dir: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_exit_2_and_write_nothing() -> anyhow::Result<()> {
    bounded(async {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("certs");
        let out = path_str(&dir)?;
        for (flag, value) in [
            ("--hosts", "127.0.0.1,,localhost"),
            ("--hosts", "bad host"),
            ("--server", "http://127.0.0.1:6443"),
        ] {
            let output = kubesim(&["certs", "--out", out, flag, value]).await?;
            assert_eq!(
                output.status.code(),
                Some(2),
                "{flag} {value}: {}",
                output.stderr
            );
            ensure!(
                output.stderr.contains(flag),
                "{flag}: stderr {}",
                output.stderr
            );
        }
        ensure!(!dir.exists(), "a refused run created {}", dir.display());
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_verifies_the_certificates() -> anyhow::Result<()> {
    let Some(openssl) = tool_or_skip("openssl", "openssl_verifies_the_certificates")? else {
        return Ok(());
    };
    bounded(async {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path();
        let output = kubesim(&["certs", "--out", path_str(dir)?]).await?;
        ensure!(output.status.success(), "certs failed: {}", output.stderr);
        let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let (ca, apiserver, admin) = (file("ca.crt"), file("apiserver.crt"), file("admin.crt"));

        let verified = ok(&openssl, &["verify", "-CAfile", &ca, &apiserver, &admin]).await?;
        assert_eq!(verified, format!("{apiserver}: OK\n{admin}: OK\n"));

        let text = ok(&openssl, &["x509", "-noout", "-text", "-in", &apiserver]).await?;
        for expected in [
            "Issuer: CN = kubesim-ca",
            "Subject: CN = kube-apiserver",
            "IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1, DNS:kubernetes, \
             DNS:kubernetes.default, DNS:kubernetes.default.svc\n",
            "TLS Web Server Authentication\n",
            "CA:FALSE",
            "ASN1 OID: prime256v1",
            "Signature Algorithm: ecdsa-with-SHA256",
        ] {
            ensure!(
                text.contains(expected),
                "apiserver.crt lacks {expected:?}:\n{text}"
            );
        }
        let text = ok(&openssl, &["x509", "-noout", "-text", "-in", &admin]).await?;
        for expected in [
            "Subject: O = system:masters, CN = kubesim-admin",
            "TLS Web Client Authentication\n",
        ] {
            ensure!(
                text.contains(expected),
                "admin.crt lacks {expected:?}:\n{text}"
            );
        }
        let text = ok(&openssl, &["x509", "-noout", "-text", "-in", &ca]).await?;
        for expected in ["Subject: CN = kubesim-ca", "CA:TRUE", "Certificate Sign"] {
            ensure!(
                text.contains(expected),
                "ca.crt lacks {expected:?}:\n{text}"
            );
        }

        check_validity(&openssl, &ca, 3649, 3651).await?;
        check_validity(&openssl, &apiserver, 364, 366).await?;
        check_validity(&openssl, &admin, 364, 366).await?;
        for (cert, key) in [
            ("ca.crt", "ca.key"),
            ("apiserver.crt", "apiserver.key"),
            ("admin.crt", "admin.key"),
        ] {
            check_key_matches(&openssl, &file(cert), &file(key)).await?;
        }
        Ok(())
    })
    .await
}

/// Valid `more_than` days from now but not `less_than`.
async fn check_validity(
    openssl: &Path,
    cert: &str,
    more_than: u64,
    less_than: u64,
) -> anyhow::Result<()> {
    let checkend = |days: u64| {
        let secs = (days * DAY_SECS).to_string();
        async move {
            let args = ["x509", "-noout", "-in", cert, "-checkend", &secs];
            anyhow::Ok(run(openssl, &args).await?.status.success())
        }
    };
    ensure!(
        checkend(more_than).await?,
        "{cert} expires within {more_than} days"
    );
    ensure!(
        !checkend(less_than).await?,
        "{cert} is still valid in {less_than} days"
    );
    Ok(())
}

/// The key file holds the private half of the certificate's public key.
async fn check_key_matches(openssl: &Path, cert: &str, key: &str) -> anyhow::Result<()> {
    let from_cert = ok(openssl, &["x509", "-noout", "-pubkey", "-in", cert]).await?;
    let from_key = ok(openssl, &["pkey", "-pubout", "-in", key]).await?;
    assert_eq!(from_cert, from_key, "{key} does not belong to {cert}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reads_the_kubeconfig() -> anyhow::Result<()> {
    let Some(kubectl) = tool_or_skip("kubectl", "kubectl_reads_the_kubeconfig")? else {
        return Ok(());
    };
    bounded(async {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path();
        let server = "https://api.example.test:7443";
        let args = ["certs", "--out", path_str(dir)?, "--server", server];
        let output = kubesim(&args).await?;
        ensure!(output.status.success(), "certs failed: {}", output.stderr);
        ensure!(
            output.stderr.contains("warning"),
            "a server outside --hosts gives no warning: {}",
            output.stderr
        );
        let kubeconfig = dir.join("kubeconfig").to_string_lossy().into_owned();
        let config = |query: &'static str| {
            let kubectl = kubectl.clone();
            let kubeconfig = kubeconfig.clone();
            async move {
                let args = ["--kubeconfig", &kubeconfig, "config", "view", "--raw", "-o"];
                let mut args = args.to_vec();
                let jsonpath = format!("jsonpath={query}");
                args.push(&jsonpath);
                ok(&kubectl, &args).await
            }
        };
        assert_eq!(config("{.clusters[0].cluster.server}").await?, server);
        assert_eq!(config("{.users[0].name}").await?, "kubesim-admin");
        let current = ["--kubeconfig", &kubeconfig, "config", "current-context"];
        assert_eq!(ok(&kubectl, &current).await?, "kubesim\n");
        Ok(())
    })
    .await
}

/// kubectl and openssl agree on both halves of mutual TLS: kubectl accepts the serving
/// certificate for `localhost` through the kubeconfig's CA, and `s_server -Verify` accepts the
/// admin's client certificate, whose subject its status page then shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_and_openssl_complete_mutual_tls() -> anyhow::Result<()> {
    let test = "kubectl_and_openssl_complete_mutual_tls";
    let (Some(openssl), Some(kubectl)) = (
        tool_or_skip("openssl", test)?,
        tool_or_skip("kubectl", test)?,
    ) else {
        return Ok(());
    };
    bounded(async {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path();
        let port = free_port()?;
        let server = format!("https://localhost:{port}");
        let args = ["certs", "--out", path_str(dir)?, "--server", &server];
        let output = kubesim(&args).await?;
        ensure!(output.status.success(), "certs failed: {}", output.stderr);

        let _s_server = start_s_server(&openssl, dir, port).await?;
        let kubeconfig = dir.join("kubeconfig").to_string_lossy().into_owned();
        let page = ok(
            &kubectl,
            &["--kubeconfig", &kubeconfig, "get", "--raw", "/"],
        )
        .await?;
        ensure!(page.contains("Verify return code: 0 (ok)"), "page:\n{page}");
        ensure!(
            page.contains("Subject: O=system:masters, CN=kubesim-admin"),
            "page:\n{page}"
        );
        Ok(())
    })
    .await
}

/// `openssl s_server` with the API server's certificate, requiring a client certificate from
/// the CA, answering every request with a status page. Killed when dropped.
async fn start_s_server(
    openssl: &Path,
    dir: &Path,
    port: u16,
) -> anyhow::Result<tokio::process::Child> {
    let file = |name: &str| dir.join(name);
    let mut child = Command::new(openssl)
        .args(["s_server", "-accept", &port.to_string(), "-www"])
        .args(["-Verify", "1", "-verify_return_error"])
        .arg("-cert")
        .arg(file("apiserver.crt"))
        .arg("-key")
        .arg(file("apiserver.key"))
        .arg("-CAfile")
        .arg(file("ca.crt"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting openssl s_server")?;
    let stdout = child.stdout.take().context("s_server has no stdout")?;
    // s_server prints ACCEPT once it listens.
    let mut lines = BufReader::new(stdout).lines();
    let accepting = async {
        while let Some(line) = lines.next_line().await? {
            if line.trim() == "ACCEPT" {
                return anyhow::Ok(());
            }
        }
        bail!("s_server exited before listening")
    };
    tokio::time::timeout(RUN_TIMEOUT, accepting)
        .await
        .context("s_server did not start listening")??;
    // Its stdout must keep draining, or s_server would block on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(child)
}
