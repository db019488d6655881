//! End-to-end test harness: real store processes, real `etcdctl`, real gRPC clients.
//!
//! The same tests run against a kubesim store cluster or a real etcd 3.4 cluster, chosen by
//! `KUBESIM_E2E_TARGET=kubesim|etcd` (default `kubesim`). Passing against etcd proves a test
//! asserts etcd's real behaviour; passing against kubesim is then the acceptance criterion.
//!
//! Map of the crate:
//! - [`target`]: which server binary to run, and how (`etcd` or `kubesim store`).
//! - [`cluster`]: a cluster of member processes on loopback: start, kill -9, restart, add a
//!   member, find the leader. Every child is killed when the [`Cluster`] is dropped, even when
//!   the test panics, and the members' logs are printed then.
//! - [`etcdctl`]: run `etcdctl` with a timeout (or in the background for `watch`) and read its
//!   output.
//! - [`apiserver`]: a `kubesim apiserver` process over a one-member store of the target,
//!   with certificates, kubectl, curl and the server's log.
//! - [`auth`]: identities for the authentication and authorization tests (certificates,
//!   ServiceAccount tokens and forged ones, kubeconfigs, curl as anyone), and the OIDC issuer
//!   and authz service processes.
//! - [`grpc`]: small etcd v3 gRPC calls through the generated `kubesim-proto` clients, for the
//!   tests that must not depend on `etcdctl`.
//!
//! Every wait here has a bound; nothing waits forever on a process or a server.

pub mod admission;
pub mod apiserver;
pub mod audit;
pub mod auth;
pub mod cluster;
pub mod etcdctl;
pub mod grpc;
pub mod target;

use std::future::Future;
use std::time::Duration;

pub use cluster::Cluster;
pub use target::Target;

/// How long a whole test may run before it is failed; a hang must not stall CI for long.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(100);

/// Runs a test body with [`TEST_TIMEOUT`] as its bound.
pub async fn bounded<F>(body: F) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<()>>,
{
    match tokio::time::timeout(TEST_TIMEOUT, body).await {
        Ok(result) => result,
        Err(_) => anyhow::bail!("test did not finish within {TEST_TIMEOUT:?}"),
    }
}

/// Polls `check` every `every` until it returns `Some`, or fails after `limit`.
/// `what` names the awaited condition in the error, with the last error seen.
pub async fn wait_for<T, F, Fut>(
    what: &str,
    limit: Duration,
    every: Duration,
    mut check: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut last_error = String::from("condition not met yet");
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => last_error = format!("{error:#}"),
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("timed out after {limit:?} waiting for {what}: {last_error}");
        }
        tokio::time::sleep(every).await;
    }
}

/// True when the environment asks for the end-to-end tests to be mandatory (CI), so a
/// missing tool fails the test instead of skipping it.
pub fn e2e_required() -> bool {
    std::env::var("KUBESIM_E2E").is_ok_and(|value| value == "1")
}

/// True when `program` is an executable file in one of `$PATH`'s directories.
pub fn on_path(program: &str) -> bool {
    find_on_path(program).is_some()
}

/// The full path of `program` in `$PATH`, if any.
pub fn find_on_path(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
