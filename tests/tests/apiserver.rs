//! `kubesim apiserver` as a real process over real TLS, driven by the real kubectl (1.29 and
//! 1.33 when installed beside the default one, else the default) and curl: what a user sees.
//!
//! The certificates and the kubeconfig come from `kubesim certs`. Without kubectl (or curl,
//! for the tests that use it) a test skips with a line on stderr, unless `KUBESIM_E2E=1`
//! makes it fail.

use std::time::Duration;

use anyhow::{Context, ensure};
use kubesim_tests::apiserver::{ApiServer as Server, curl_or_skip, kubectls, kubesim, run};
use kubesim_tests::bounded;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

#[tokio::test]
async fn kubectl_version_shows_the_server_version() -> anyhow::Result<()> {
    bounded(async {
        let kubectls = kubectls("kubectl_version_shows_the_server_version")?;
        if kubectls.is_empty() {
            return Ok(());
        }
        let server = Server::start().await?;
        for kubectl in &kubectls {
            let out = server.kubectl(kubectl, &["version", "-o", "json"]).await?;
            ensure!(
                out.status.success(),
                "{kubectl:?}: {out:?}\n{}",
                server.log()
            );
            let version: serde_json::Value = serde_json::from_str(&out.stdout)?;
            let server_version = &version["serverVersion"];
            ensure!(
                server_version["gitVersion"] == "v1.33.0+kubesim",
                "{kubectl:?}: {version}"
            );
            ensure!(server_version["major"] == "1" && server_version["minor"] == "33");
        }
        Ok(())
    })
    .await
}

/// One row of `kubectl api-resources`: (short names, apiVersion, namespaced, kind).
fn api_resource_row(table: &str, name: &str) -> Option<(String, String, String, String)> {
    table.lines().find_map(|line| {
        let columns: Vec<&str> = line.split_whitespace().collect();
        match columns.as_slice() {
            [n, short, version, namespaced, kind] if *n == name => Some((
                short.to_string(),
                version.to_string(),
                namespaced.to_string(),
                kind.to_string(),
            )),
            [n, version, namespaced, kind] if *n == name => Some((
                String::new(),
                version.to_string(),
                namespaced.to_string(),
                kind.to_string(),
            )),
            _ => None,
        }
    })
}

#[tokio::test]
async fn kubectl_api_resources_lists_what_discovery_serves() -> anyhow::Result<()> {
    bounded(async {
        let kubectls = kubectls("kubectl_api_resources_lists_what_discovery_serves")?;
        if kubectls.is_empty() {
            return Ok(());
        }
        let server = Server::start().await?;
        let expected = [
            ("pods", "po", "v1", "true", "Pod"),
            ("namespaces", "ns", "v1", "false", "Namespace"),
            ("deployments", "deploy", "apps/v1", "true", "Deployment"),
            (
                "clusterroles",
                "",
                "rbac.authorization.k8s.io/v1",
                "false",
                "ClusterRole",
            ),
            (
                "mutatingwebhookconfigurations",
                "",
                "admissionregistration.k8s.io/v1",
                "false",
                "MutatingWebhookConfiguration",
            ),
        ];
        for kubectl in &kubectls {
            let out = server.kubectl(kubectl, &["api-resources"]).await?;
            ensure!(out.status.success(), "{kubectl:?}: {out:?}");
            for (name, short, version, namespaced, kind) in expected {
                let row = api_resource_row(&out.stdout, name)
                    .with_context(|| format!("{kubectl:?}: no {name} in\n{}", out.stdout))?;
                let want = (short.into(), version.into(), namespaced.into(), kind.into());
                ensure!(row == want, "{kubectl:?}: {name}: {row:?} != {want:?}");
            }
        }
        Ok(())
    })
    .await
}

#[tokio::test]
async fn kubectl_reads_health_and_gets_statuses_from_the_chain() -> anyhow::Result<()> {
    bounded(async {
        let kubectls = kubectls("kubectl_reads_health_and_gets_statuses_from_the_chain")?;
        if kubectls.is_empty() {
            return Ok(());
        }
        let server = Server::start().await?;
        for kubectl in &kubectls {
            let out = server
                .kubectl(kubectl, &["get", "--raw", "/readyz?verbose"])
                .await?;
            ensure!(out.status.success(), "{kubectl:?}: {out:?}");
            ensure!(
                out.stdout.trim_end().ends_with("readyz check passed"),
                "{kubectl:?}: {}",
                out.stdout
            );
            let out = server.kubectl(kubectl, &["get", "pods"]).await?;
            ensure!(out.status.success(), "{kubectl:?}: {out:?}");
            ensure!(
                out.stderr
                    .contains("No resources found in default namespace."),
                "{kubectl:?}: {out:?}"
            );
            let out = server
                .kubectl(kubectl, &["get", "--raw", "/api/v1/nosuch"])
                .await?;
            ensure!(!out.status.success(), "{kubectl:?}: {out:?}");
            let want =
                "Error from server (NotFound): the server could not find the requested resource";
            ensure!(out.stderr.contains(want), "{kubectl:?}: {}", out.stderr);
        }
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_body_over_3_mib_is_refused_with_413() -> anyhow::Result<()> {
    bounded(async {
        if !curl_or_skip("a_body_over_3_mib_is_refused_with_413")? {
            return Ok(());
        }
        let server = Server::start().await?;
        let body = server.file("big.json");
        std::fs::write(&body, vec![b' '; 3 * 1024 * 1024 + 1])?;
        let data = format!("@{}", body.display());
        let url = server.url("/api/v1/namespaces/default/configmaps");
        // HTTP/1.1: curl 7.x reports an HTTP/2 stream the server resets after answering
        // early as an error; hyper's own client over HTTP/2 is covered in the crate's tests.
        let out = server
            .curl(&[
                "--http1.1",
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &data,
                "--write-out",
                "\n%{http_code}",
                &url,
            ])
            .await?;
        let (status, code) = out.stdout.rsplit_once('\n').context("no status code")?;
        ensure!(code == "413", "{out:?}");
        let status: serde_json::Value = serde_json::from_str(status)?;
        ensure!(status["reason"] == "RequestEntityTooLarge", "{status}");
        ensure!(
            status["message"] == "Request entity too large: limit is 3145728",
            "{status}"
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn plain_http_to_the_tls_port_fails_cleanly() -> anyhow::Result<()> {
    bounded(async {
        if !curl_or_skip("plain_http_to_the_tls_port_fails_cleanly")? {
            return Ok(());
        }
        let mut server = Server::start().await?;
        for _ in 0..3 {
            let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port)).await?;
            tcp.write_all(b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                .await?;
            let mut answer = Vec::new();
            // The server answers as Go's HTTPS server does and closes the connection.
            tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer))
                .await
                .context("the server kept a plain-HTTP connection open")??;
            let answer = String::from_utf8_lossy(&answer);
            ensure!(
                answer.starts_with("HTTP/1.0 400 Bad Request\r\n")
                    && answer.ends_with("Client sent an HTTP request to an HTTPS server.\n"),
                "{answer:?}"
            );
        }
        ensure!(
            server.process.try_wait()?.is_none(),
            "the server exited\n{}",
            server.log()
        );
        let out = server.curl(&[&server.url("/livez")]).await?;
        ensure!(out.status.success() && out.stdout == "ok", "{out:?}");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn sigterm_shuts_the_server_down_cleanly() -> anyhow::Result<()> {
    bounded(async {
        let mut server = Server::start().await?;
        let pid = server.process.id().context("the server has no pid")?;
        let kill = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        ensure!(kill.success());
        let status = tokio::time::timeout(Duration::from_secs(15), server.process.wait())
            .await
            .context("the server did not stop within 15 s of SIGTERM")??;
        ensure!(status.success(), "{status}\n{}", server.log());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn bad_flags_exit_2_naming_the_flag() -> anyhow::Result<()> {
    bounded(async {
        let program = kubesim().await?;
        let cases: [(&[&str], &str); 3] = [
            (&[], "--tls-cert-file: is required"),
            (
                &[
                    "--tls-cert-file=a",
                    "--tls-private-key-file=b",
                    "--bind-address=nowhere",
                ],
                "--bind-address: \"nowhere\" is not an IP address",
            ),
            (
                &[
                    "--tls-cert-file=a",
                    "--tls-private-key-file=b",
                    "--request-timeout=60",
                ],
                "--request-timeout:",
            ),
        ];
        for (args, message) in cases {
            let mut command = Command::new(&program);
            command.arg("apiserver").args(args);
            let out = run(command).await?;
            ensure!(out.status.code() == Some(2), "{args:?}: {out:?}");
            ensure!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
        }
        // Flags that parse but name files that are not there: a failure to start (1).
        let mut command = Command::new(&program);
        command.args([
            "apiserver",
            "--tls-cert-file=/nonexistent.crt",
            "--tls-private-key-file=/nonexistent.key",
            "--etcd-servers=http://127.0.0.1:1",
        ]);
        let out = run(command).await?;
        ensure!(out.status.code() == Some(1), "{out:?}");
        ensure!(out.stderr.contains("/nonexistent.crt"), "{}", out.stderr);
        Ok(())
    })
    .await
}
