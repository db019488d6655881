//! The real processes of one point: a fresh temporary directory, free loopback ports, the
//! command lines of `kubesim certs`, `store`, `apiserver` and `webhook`, and
//! [`Deployment`], which owns every child and kills it (and removes the directory) when
//! dropped, whether the point succeeded, failed or panicked.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::{REQUEST_TIMEOUT, STARTUP_TIMEOUT};
use crate::experiment::point::{LatencyDist, Point};

/// Store members, as `scripts/bench-api.sh LAYOUT=split` runs them.
pub const STORE_MEMBERS: usize = 3;
/// Lines of a process's log quoted in an error.
const LOG_TAIL_LINES: usize = 15;
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(20);

/// The loopback ports of one point, all free when chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ports {
    pub store_client: [u16; STORE_MEMBERS],
    pub store_peer: [u16; STORE_MEMBERS],
    pub apiserver: u16,
    pub webhooks: Vec<u16>,
}

impl Ports {
    /// Asks the kernel for `2 * STORE_MEMBERS + 1 + webhooks` distinct free ports, holding
    /// each listener until all are chosen so none is handed out twice. Another program may
    /// still take one before our process binds it; start-up then fails with that port named.
    pub fn free(webhooks: usize) -> Result<Ports, String> {
        let count = 2 * STORE_MEMBERS + 1 + webhooks;
        let mut listeners = Vec::with_capacity(count);
        let mut ports = Vec::with_capacity(count);
        for _ in 0..count {
            let listener = TcpListener::bind("127.0.0.1:0")
                .map_err(|e| format!("finding a free loopback port: {e}"))?;
            let port = listener
                .local_addr()
                .map_err(|e| format!("finding a free loopback port: {e}"))?
                .port();
            listeners.push(listener);
            ports.push(port);
        }
        let mut store_client = [0; STORE_MEMBERS];
        let mut store_peer = [0; STORE_MEMBERS];
        store_client.copy_from_slice(&ports[..STORE_MEMBERS]);
        store_peer.copy_from_slice(&ports[STORE_MEMBERS..2 * STORE_MEMBERS]);
        Ok(Ports {
            store_client,
            store_peer,
            apiserver: ports[2 * STORE_MEMBERS],
            webhooks: ports[2 * STORE_MEMBERS + 1..].to_vec(),
        })
    }

    /// `--etcd-servers` of the API server (it uses the first; the others are for the record).
    pub fn etcd_servers(&self) -> String {
        self.store_client
            .iter()
            .map(|port| format!("http://127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// `kubesim store` for member `index` (0-based; named `store-1` to `store-3`).
pub fn store_args(index: usize, ports: &Ports, dir: &Path) -> Vec<String> {
    let name = format!("store-{}", index + 1);
    let initial_cluster = (0..STORE_MEMBERS)
        .map(|i| format!("store-{}=http://127.0.0.1:{}", i + 1, ports.store_peer[i]))
        .collect::<Vec<_>>()
        .join(",");
    let client = format!("http://127.0.0.1:{}", ports.store_client[index]);
    let peer = format!("http://127.0.0.1:{}", ports.store_peer[index]);
    let data_dir = dir.join(&name).display().to_string();
    strings(&[
        "store",
        "--name",
        &name,
        "--data-dir",
        &data_dir,
        "--listen-client-urls",
        &client,
        "--advertise-client-urls",
        &client,
        "--listen-peer-urls",
        &peer,
        "--initial-advertise-peer-urls",
        &peer,
        "--initial-cluster",
        &initial_cluster,
        "--initial-cluster-token",
        "experiment-real",
        "--initial-cluster-state",
        "new",
    ])
}

/// `kubesim apiserver`: HTTPS with the `kubesim certs` files in `pki`, x509 client
/// certificates, RBAC, kube's default admission plugins (the webhook ones among them).
pub fn apiserver_args(ports: &Ports, pki: &Path) -> Vec<String> {
    let file = |name: &str| pki.join(name).display().to_string();
    strings(&[
        "apiserver",
        "--bind-address",
        "127.0.0.1",
        "--secure-port",
        &ports.apiserver.to_string(),
        "--tls-cert-file",
        &file("apiserver.crt"),
        "--tls-private-key-file",
        &file("apiserver.key"),
        "--client-ca-file",
        &file("ca.crt"),
        "--etcd-servers",
        &ports.etcd_servers(),
        "--authorization-mode",
        "RBAC",
        "--request-timeout",
        &format!("{}s", REQUEST_TIMEOUT.as_secs()),
    ])
}

/// `kubesim webhook no-privileged` (admits every pod without a privileged container, which
/// the experiment's pods are) on `port`, delayed by the point's latency distribution.
pub fn webhook_args(point: &Point, seed: u64, port: u16, pki: &Path) -> Vec<String> {
    let file = |name: &str| pki.join(name).display().to_string();
    strings(&[
        "webhook",
        "no-privileged",
        "--bind-address",
        &format!("127.0.0.1:{port}"),
        "--tls-cert-file",
        &file("apiserver.crt"),
        "--tls-private-key-file",
        &file("apiserver.key"),
        "--latency",
        &latency_flag(&point.webhook_latency),
        "--seed",
        &seed.to_string(),
    ])
}

/// `--latency` of `kubesim webhook`: Go durations in microseconds, exact for any
/// [`LatencyDist`] a sweep can hold.
pub fn latency_flag(latency: &LatencyDist) -> String {
    let us = |d: &Duration| format!("{}us", d.as_micros());
    match latency {
        LatencyDist::Fixed(d) => us(d),
        LatencyDist::LogNormal { p50, p99 } => format!("lognormal:p50={},p99={}", us(p50), us(p99)),
    }
}

/// Webhook `index`'s seed: distinct per webhook and per run seed.
pub fn webhook_seed(seed: u64, index: usize) -> u64 {
    seed.wrapping_mul(1_000).wrapping_add(index as u64)
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Fails unless `bin` is a file that runs and answers `--version`.
pub fn check_binary(bin: &Path) -> Result<(), String> {
    if !bin.is_file() {
        return Err(format!("{}: no such file", bin.display()));
    }
    let mut child = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let status = wait_bounded(&mut child, Duration::from_secs(10))
        .map_err(|e| format!("{} --version: {e}", bin.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} --version: {status}", bin.display()))
    }
}

/// Waits for `child` at most `limit`; past it, kills it and says so.
fn wait_bounded(child: &mut Child, limit: Duration) -> Result<ExitStatus, String> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("still running after {limit:?}, killed"));
            }
            Err(e) => return Err(format!("waiting: {e}")),
        }
    }
}

/// One started process.
struct Process {
    /// `store-1`, `apiserver`, `webhook-0`: names its log and errors.
    name: String,
    /// Its command line, to start it again after an outage.
    args: Vec<String>,
    child: Child,
    log: PathBuf,
}

/// The name prefix of the webhook processes, which an outage stops.
const WEBHOOK_PREFIX: &str = "webhook-";

/// The processes of one point and their directory. Dropping it kills every process
/// (SIGKILL: nothing in them needs to outlive the point) and removes the directory.
pub struct Deployment {
    bin: PathBuf,
    /// Unique per point; certificates, store data and logs.
    dir: PathBuf,
    processes: Vec<Process>,
    /// Processes stopped on purpose (a webhook outage): name and command line.
    stopped: Vec<(String, Vec<String>)>,
    /// Restarts so far, so each restart gets a log of its own.
    restarts: u32,
}

impl Deployment {
    /// A fresh directory under the system's temporary directory.
    pub fn create(bin: &Path) -> Result<Deployment, String> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "kubesim-real-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let deployment = Deployment {
            bin: bin.to_path_buf(),
            dir,
            processes: Vec::new(),
            stopped: Vec::new(),
            restarts: 0,
        };
        std::fs::create_dir(deployment.logs())
            .map_err(|e| format!("{}: {e}", deployment.logs().display()))?;
        Ok(deployment)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cluster's certificates (`kubesim certs`): CA, API server, admin.
    pub fn pki(&self) -> PathBuf {
        self.dir.join("pki")
    }

    /// The webhooks' CA and serving certificate (SAN 127.0.0.1), from a second
    /// `kubesim certs`: the API server trusts it through the configuration's caBundle only.
    pub fn webhook_pki(&self) -> PathBuf {
        self.dir.join("webhook-pki")
    }

    fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// Certificates, then the store members, the API server and the webhooks.
    pub fn start(&mut self, point: &Point, seed: u64, ports: &Ports) -> Result<(), String> {
        let pki = self.pki().display().to_string();
        self.run_to_end("certs", &strings(&["certs", "--out", &pki]))?;
        let webhook_pki = self.webhook_pki().display().to_string();
        let certs = ["certs", "--out", &webhook_pki, "--hosts", "127.0.0.1"];
        self.run_to_end("webhook-certs", &strings(&certs))?;
        for index in 0..STORE_MEMBERS {
            let args = store_args(index, ports, &self.dir);
            self.spawn(&format!("store-{}", index + 1), &args)?;
        }
        self.spawn("apiserver", &apiserver_args(ports, &self.pki()))?;
        for (index, port) in ports.webhooks.iter().enumerate() {
            let seed = webhook_seed(seed, index);
            let args = webhook_args(point, seed, *port, &self.webhook_pki());
            self.spawn(&format!("{WEBHOOK_PREFIX}{index}"), &args)?;
        }
        Ok(())
    }

    /// Runs a command that ends by itself (certificates), within [`STARTUP_TIMEOUT`].
    fn run_to_end(&self, name: &str, args: &[String]) -> Result<(), String> {
        let log = self.logs().join(format!("{name}.log"));
        let mut child = self
            .command(args, &log)?
            .spawn()
            .map_err(|e| format!("starting kubesim {name}: {e}"))?;
        let status = wait_bounded(&mut child, STARTUP_TIMEOUT)
            .map_err(|e| format!("kubesim {name}: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("kubesim {name}: {status}\n{}", log_tail(&log)))
        }
    }

    /// Starts a long-running process, its stdout and stderr in `logs/<name>.log`; warnings
    /// only, as a per-request log line would be measured as server latency.
    fn spawn(&mut self, name: &str, args: &[String]) -> Result<(), String> {
        let log = match self.restarts {
            0 => self.logs().join(format!("{name}.log")),
            n => self.logs().join(format!("{name}.restart-{n}.log")),
        };
        let child = self
            .command(args, &log)?
            .env("RUST_LOG", "warn")
            .spawn()
            .map_err(|e| format!("starting kubesim {name}: {e}"))?;
        self.processes.push(Process {
            name: name.to_string(),
            args: args.to_vec(),
            child,
            log,
        });
        Ok(())
    }

    fn command(&self, args: &[String], log: &Path) -> Result<Command, String> {
        let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let mut command = Command::new(&self.bin);
        command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        Ok(command)
    }

    /// `Err` naming the first process that has exited, with the end of its log.
    pub fn check_running(&mut self) -> Result<(), String> {
        for process in &mut self.processes {
            match process.child.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    return Err(format!(
                        "kubesim {} exited ({status}):\n{}",
                        process.name,
                        log_tail(&process.log)
                    ));
                }
                Err(e) => return Err(format!("kubesim {}: {e}", process.name)),
            }
        }
        Ok(())
    }

    /// Kills every webhook process (their ports then refuse connections), keeping their
    /// command lines for [`Deployment::restart_webhooks`].
    pub fn stop_webhooks(&mut self) {
        let (mut webhooks, others): (Vec<Process>, Vec<Process>) =
            std::mem::take(&mut self.processes)
                .into_iter()
                .partition(|p| p.name.starts_with(WEBHOOK_PREFIX));
        self.processes = others;
        for process in &mut webhooks {
            let _ = process.child.kill();
            let _ = process.child.wait();
            self.stopped
                .push((process.name.clone(), process.args.clone()));
        }
    }

    /// Starts again, on the same ports and with the same flags, what
    /// [`Deployment::stop_webhooks`] stopped.
    pub fn restart_webhooks(&mut self) -> Result<(), String> {
        self.restarts += 1;
        for (name, args) in std::mem::take(&mut self.stopped) {
            self.spawn(&name, &args)?;
        }
        Ok(())
    }

    /// The end of a process's log, for an error about it.
    pub fn log_of(&self, name: &str) -> String {
        log_tail(&self.logs().join(format!("{name}.log")))
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for process in &mut self.processes {
            // Already exited is fine; a SIGKILLed process is reaped at once, so `wait` is
            // bounded in practice.
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The last [`LOG_TAIL_LINES`] lines of a log, indented.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    lines[start..]
        .iter()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use std::str::FromStr as _;

    use super::*;

    fn ports() -> Ports {
        Ports {
            store_client: [101, 102, 103],
            store_peer: [201, 202, 203],
            apiserver: 300,
            webhooks: vec![401],
        }
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = Ports::free(3).unwrap();
        let mut all: Vec<u16> = ports.store_client.to_vec();
        all.extend(ports.store_peer);
        all.push(ports.apiserver);
        all.extend(&ports.webhooks);
        assert_eq!(all.len(), 10);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 10);
    }

    #[test]
    fn store_members_name_each_other() {
        let args = store_args(1, &ports(), Path::new("/d")).join(" ");
        assert_eq!(
            args,
            "store --name store-2 --data-dir /d/store-2 \
             --listen-client-urls http://127.0.0.1:102 --advertise-client-urls http://127.0.0.1:102 \
             --listen-peer-urls http://127.0.0.1:202 --initial-advertise-peer-urls http://127.0.0.1:202 \
             --initial-cluster store-1=http://127.0.0.1:201,store-2=http://127.0.0.1:202,store-3=http://127.0.0.1:203 \
             --initial-cluster-token experiment-real --initial-cluster-state new"
        );
    }

    #[test]
    fn apiserver_uses_rbac_client_certs_and_the_request_timeout() {
        let args = apiserver_args(&ports(), Path::new("/p")).join(" ");
        assert_eq!(
            args,
            "apiserver --bind-address 127.0.0.1 --secure-port 300 \
             --tls-cert-file /p/apiserver.crt --tls-private-key-file /p/apiserver.key \
             --client-ca-file /p/ca.crt \
             --etcd-servers http://127.0.0.1:101,http://127.0.0.1:102,http://127.0.0.1:103 \
             --authorization-mode RBAC --request-timeout 60s"
        );
    }

    #[test]
    fn webhook_latency_flags_parse_as_the_webhook_reads_them() {
        let fixed = LatencyDist::Fixed(Duration::from_secs(2));
        let lognormal = LatencyDist::LogNormal {
            p50: Duration::from_millis(200),
            p99: Duration::from_micros(800_500),
        };
        assert_eq!(latency_flag(&fixed), "2000000us");
        assert_eq!(
            kubesim_webhooks::Latency::from_str(&latency_flag(&fixed)),
            Ok(kubesim_webhooks::Latency::Fixed(Duration::from_secs(2)))
        );
        assert_eq!(
            kubesim_webhooks::Latency::from_str(&latency_flag(&lognormal)),
            Ok(kubesim_webhooks::Latency::LogNormal {
                p50: Duration::from_millis(200),
                p99: Duration::from_micros(800_500),
            })
        );
        let point = Point {
            webhook_latency: fixed,
            ..Point::default()
        };
        let args = webhook_args(&point, 7, 401, Path::new("/w")).join(" ");
        assert_eq!(
            args,
            "webhook no-privileged --bind-address 127.0.0.1:401 \
             --tls-cert-file /w/apiserver.crt --tls-private-key-file /w/apiserver.key \
             --latency 2000000us --seed 7"
        );
        assert_ne!(webhook_seed(1, 1), webhook_seed(2, 0));
    }

    #[test]
    fn dropping_a_deployment_kills_its_processes_and_removes_its_directory() {
        let mut deployment = Deployment::create(Path::new("/bin/sleep")).unwrap();
        let dir = deployment.dir().to_path_buf();
        deployment.spawn("sleeper", &strings(&["30"])).unwrap();
        assert_eq!(deployment.check_running(), Ok(()));
        let pid = deployment.processes[0].child.id();
        drop(deployment);
        assert!(!dir.exists());
        // Reaped: no process with that id is left (or one reused it, which is not ours).
        let status = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(!status.starts_with("/bin/sleep"), "{status}");
    }

    #[test]
    fn an_outage_stops_the_webhooks_only_and_restarts_them_with_the_same_flags() {
        let mut deployment = Deployment::create(Path::new("/bin/sleep")).unwrap();
        deployment.spawn("apiserver", &strings(&["30"])).unwrap();
        deployment.spawn("webhook-0", &strings(&["31"])).unwrap();
        let first = deployment.processes[1].child.id();
        deployment.stop_webhooks();
        let names: Vec<&str> = deployment
            .processes
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["apiserver"]);
        assert_eq!(deployment.check_running(), Ok(()));
        deployment.restart_webhooks().unwrap();
        let restarted = &deployment.processes[1];
        assert_eq!(restarted.name, "webhook-0");
        assert_eq!(restarted.args, ["31"]);
        assert_ne!(restarted.child.id(), first);
        assert!(restarted.log.ends_with("logs/webhook-0.restart-1.log"));
        assert_eq!(deployment.check_running(), Ok(()));
    }

    #[test]
    fn an_exited_process_is_named_with_its_log() {
        let mut deployment = Deployment::create(Path::new("/bin/sh")).unwrap();
        let args = strings(&["-c", "echo cannot bind 127.0.0.1:300; exit 3"]);
        deployment.spawn("apiserver", &args).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let error = loop {
            match deployment.check_running() {
                Err(e) => break e,
                Ok(()) if Instant::now() < deadline => std::thread::sleep(POLL),
                Ok(()) => panic!("the process never exited"),
            }
        };
        assert!(error.starts_with("kubesim apiserver exited"), "{error}");
        assert!(error.contains("cannot bind 127.0.0.1:300"), "{error}");
    }
}
