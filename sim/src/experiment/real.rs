//! The experiment runner against REAL processes in real time: the same [`Point`]s the
//! simulated runner takes, run by starting the `kubesim` binary as separate processes on
//! loopback, so a sweep's numbers from the simulation can be set beside the real ones.
//!
//! For each point [`real_runner`]'s closure, in a fresh temporary directory on free loopback
//! ports:
//! 1. runs `kubesim certs` twice: the cluster's CA, API server and admin certificates, and a
//!    second CA whose "apiserver" certificate (SAN 127.0.0.1) serves the webhooks;
//! 2. starts three `kubesim store` members and `kubesim apiserver` (RBAC, x509 client
//!    certificates), as `scripts/bench-api.sh LAYOUT=split` does, and `point.webhooks`
//!    `kubesim webhook no-privileged` processes with the point's latency and a seed;
//! 3. waits for `/readyz` and each webhook's `/healthz`, creates the experiment namespace and
//!    ONE Validating/MutatingWebhookConfiguration with every webhook, then creates probe pods
//!    until one is seen passing through the webhooks (the API server watches the
//!    configuration in, so it takes effect a moment after it is created);
//! 4. runs `point.clients` clients, each creating pods one at a time (or paced, `rate: N`)
//!    for `point.duration` of real time, every request traced (`x-kubesim-trace`), and turns each answer's
//!    `Server-Timing` into the record's stages.
//!
//! A webhook outage kills the webhook processes when its window opens and starts them again
//! on the same ports when it closes. Every process is killed and the directory removed when
//! the point ends, however it ends ([`deployment::Deployment`]'s `Drop`). Points with faults
//! the real deployment cannot stage here (store partition, store link latency, an
//! authorization webhook) are refused with an error saying so.
//!
//! Map of the submodules:
//! - [`deployment`]: the temporary directory, free ports, the command lines, the processes
//!   and the guard that stops them.
//! - [`https`]: the rustls/hyper client, one kept-alive HTTP/1.1 connection per client.
//! - [`setup`]: readiness, the namespace, the webhook configuration and the probe.
//! - [`load`]: the clients and their [`RequestRecord`](super::RequestRecord)s, and the
//!   webhook outage beside them.
//! - [`timing`]: `Server-Timing` to stages, and an answer to an [`Outcome`] (pure).

pub mod deployment;
pub mod https;
pub mod load;
pub mod setup;
pub mod timing;

use std::path::PathBuf;
use std::time::Duration;

use super::point::{Authorization, Partition, Point, Samples};
use deployment::{Deployment, Ports};

/// The API server's `--request-timeout` (kube-apiserver's default, 1m0s): longer than any
/// webhook `timeoutSeconds` (at most 30), so a webhook timeout is never cut short by it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a client waits for one answer: the server's request timeout and some slack, so
/// the server's own 504 arrives before the client gives up.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(REQUEST_TIMEOUT.as_secs() + 5);
/// Bound on every start-up step: certificates, readiness, the probe.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// The store link latency a real run accepts: the default, taken as loopback's own (below
/// a millisecond); anything else would need a delaying proxy between the members.
const LOOPBACK_STORE_LATENCY: Duration = Duration::from_millis(1);

/// A runner for [`super::run_experiment`] that runs each point against real processes of
/// `kubesim_bin`. Checks first that the binary exists and answers `--version`.
pub fn real_runner(
    kubesim_bin: PathBuf,
) -> Result<impl Fn(&Point, u64) -> Result<Samples, String>, String> {
    deployment::check_binary(&kubesim_bin)?;
    Ok(move |point: &Point, seed: u64| run_point(&kubesim_bin, point, seed))
}

/// One point, start to end; the deployment is stopped when this returns, `Ok` or not.
pub fn run_point(
    kubesim_bin: &std::path::Path,
    point: &Point,
    seed: u64,
) -> Result<Samples, String> {
    check_supported(point)?;
    let mut deployment = Deployment::create(kubesim_bin)?;
    let ports = Ports::free(point.webhooks as usize)?;
    deployment.start(point, seed, &ports)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the client runtime: {e}"))?;
    let result = runtime.block_on(async {
        let cluster = setup::prepare(&mut deployment, point, &ports).await?;
        let start = tokio::time::Instant::now();
        let (records, outage) = tokio::join!(
            load::run_clients(&cluster, point, seed, start),
            load::webhook_outage(&mut deployment, point, start),
        );
        outage?;
        Ok::<_, String>(records)
    });
    // The clients' connections go with the runtime, before the processes they talk to.
    runtime.shutdown_timeout(Duration::from_secs(5));
    let requests = result?;
    drop(deployment);
    Ok(Samples { requests })
}

/// `Err("not supported against real processes: ...")` for a point this runner cannot stage.
pub fn check_supported(point: &Point) -> Result<(), String> {
    let mut missing = Vec::new();
    if point.partition != Partition::None {
        missing.push(format!("partition {}", point.partition));
    }
    if point.authorization == Authorization::Webhook {
        missing.push("authorization webhook".to_string());
    }
    if point.store_latency != LOOPBACK_STORE_LATENCY {
        missing.push(format!(
            "store_latency {} (only the default, loopback's own)",
            super::point::DurationText(point.store_latency)
        ));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "not supported against real processes: {}",
            missing.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::point::Window;

    #[test]
    fn faults_the_real_deployment_cannot_stage_are_refused() {
        assert_eq!(check_supported(&Point::default()), Ok(()));
        let window = Window {
            start: Duration::from_secs(10),
            duration: Duration::from_secs(5),
        };
        let point = Point {
            webhook_outage: Some(window),
            partition: Partition::Leader(window),
            authorization: Authorization::Webhook,
            store_latency: Duration::from_millis(10),
            ..Point::default()
        };
        assert_eq!(
            check_supported(&point),
            Err("not supported against real processes: \
                 partition leader 10s 5s, authorization webhook, \
                 store_latency 10ms (only the default, loopback's own)"
                .to_string())
        );
    }

    #[test]
    fn a_missing_binary_is_an_error_not_a_panic() {
        let Err(error) = real_runner(PathBuf::from("/nonexistent/kubesim")) else {
            panic!("a runner for a missing binary");
        };
        assert!(error.contains("/nonexistent/kubesim"), "{error}");
    }
}
