//! A store cluster made of real OS processes on loopback, for end-to-end tests.
//!
//! Each member gets its own ports and data dir under one temp dir. Members can be killed with
//! SIGKILL (a crash: nothing is flushed on the way out) and restarted from their data dir.
//! Dropping the [`Cluster`] kills every member, also when the test panics or times out, and
//! prints the tail of every member's log (cargo test shows it only for a failed test).

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use crate::target::Target;

/// Cluster size for every test unless it asks otherwise.
pub const CLUSTER_SIZE: usize = 3;
/// How long a cluster may take to elect a leader that every running member agrees on.
/// Generous: a debug build on 2 busy cores starts slowly.
pub const READY_TIMEOUT: Duration = Duration::from_secs(40);
/// How long a SIGKILLed process may take to be reaped.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);
/// etcd's defaults: fast enough for tests, slow enough not to flap on 2 loaded cores.
const HEARTBEAT_INTERVAL_MS: u32 = 100;
const ELECTION_TIMEOUT_MS: u32 = 1000;
/// Lines of each member's log printed when a test panics.
const LOG_TAIL_LINES: usize = 40;

/// One member of the cluster, running or not.
pub struct Member {
    /// `--name`; also what `member list` shows.
    pub name: String,
    /// Port of `--listen-client-urls` and `--advertise-client-urls`.
    pub client_port: u16,
    /// Port of `--listen-peer-urls` and `--initial-advertise-peer-urls`.
    pub peer_port: u16,
    /// `--initial-cluster` for the first start; the server ignores it once its data dir has
    /// state, so a restart passes it unchanged.
    initial_cluster: String,
    /// `--initial-cluster-state`: `new` for the founding members, `existing` for an added one.
    initial_state: &'static str,
    /// `--data-dir`: survives kill and restart.
    data_dir: PathBuf,
    /// stdout and stderr of every run of this member, appended.
    log_path: PathBuf,
    /// The running process; `None` before the first start and after a kill.
    process: Option<Child>,
}

impl Member {
    pub fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    /// `host:port`, as `etcdctl --endpoints` and the gRPC helpers take it.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    fn flags(&self, token: &str) -> Vec<String> {
        vec![
            format!("--name={}", self.name),
            format!("--data-dir={}", self.data_dir.display()),
            format!("--listen-client-urls={}", self.client_url()),
            format!("--advertise-client-urls={}", self.client_url()),
            format!("--listen-peer-urls={}", self.peer_url()),
            format!("--initial-advertise-peer-urls={}", self.peer_url()),
            format!("--initial-cluster={}", self.initial_cluster),
            format!("--initial-cluster-state={}", self.initial_state),
            format!("--initial-cluster-token={token}"),
            format!("--heartbeat-interval={HEARTBEAT_INTERVAL_MS}"),
            format!("--election-timeout={ELECTION_TIMEOUT_MS}"),
        ]
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(LOG_TAIL_LINES);
        lines[start..].join("\n")
    }
}

/// A cluster of member processes. Members are addressed by index, in the order they were
/// created (founders first, then members planned with [`Cluster::plan_member`]).
pub struct Cluster {
    /// Declared first so the children are killed before the temp dir is removed.
    members: Vec<Member>,
    /// Which server implementation the members run.
    target: Target,
    /// The resolved server binary, so a restart does not resolve (or build) it again.
    program: PathBuf,
    /// `--initial-cluster-token`: unique per cluster so parallel clusters never mix.
    token: String,
    /// Holds every data dir and log; removed on drop.
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts a [`CLUSTER_SIZE`]-member cluster of the target in `KUBESIM_E2E_TARGET` and waits
    /// until it has a leader.
    pub async fn start() -> anyhow::Result<Cluster> {
        Cluster::start_sized(CLUSTER_SIZE).await
    }

    pub async fn start_sized(size: usize) -> anyhow::Result<Cluster> {
        let target = Target::from_env()?;
        // May run `cargo build` for minutes: keep it off the runtime's worker threads.
        let program = tokio::task::spawn_blocking(move || target.program()).await??;
        let dir = tempfile::Builder::new().prefix("kubesim-e2e-").tempdir()?;
        let token = dir
            .path()
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .context("temp dir has no name")?;
        let mut cluster = Cluster {
            members: Vec::new(),
            target,
            program,
            token,
            dir,
        };
        for _ in 0..size {
            cluster.plan_member()?;
        }
        let initial_cluster = cluster.initial_cluster(0..size);
        for index in 0..size {
            cluster.members[index].initial_cluster = initial_cluster.clone();
            cluster.spawn(index)?;
        }
        cluster.wait_ready().await?;
        Ok(cluster)
    }

    pub fn target(&self) -> Target {
        self.target
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn member(&self, index: usize) -> &Member {
        &self.members[index]
    }

    pub fn endpoint(&self, index: usize) -> String {
        self.members[index].endpoint()
    }

    /// Indexes of the members whose process is running.
    pub fn running(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].process.is_some())
            .collect()
    }

    /// Endpoints of the running members.
    pub fn endpoints(&self) -> Vec<String> {
        self.running()
            .into_iter()
            .map(|i| self.endpoint(i))
            .collect()
    }

    /// `name=peer-url,...` for the given members, as `--initial-cluster` takes it.
    pub fn initial_cluster(&self, indexes: impl IntoIterator<Item = usize>) -> String {
        let pairs: Vec<String> = indexes
            .into_iter()
            .map(|i| format!("{}={}", self.members[i].name, self.members[i].peer_url()))
            .collect();
        pairs.join(",")
    }

    /// Reserves ports, a name and a data dir for one more member, without starting it.
    /// Returns its index. Used for the founders and for `member add`.
    pub fn plan_member(&mut self) -> anyhow::Result<usize> {
        let index = self.members.len();
        let name = format!("m{index}");
        let data_dir = self.dir.path().join(format!("{name}.data"));
        let log_path = self.dir.path().join(format!("{name}.log"));
        self.members.push(Member {
            client_port: free_port()?,
            peer_port: free_port()?,
            name,
            initial_cluster: String::new(),
            initial_state: "new",
            data_dir,
            log_path,
            process: None,
        });
        Ok(index)
    }

    /// Starts a member planned with [`Cluster::plan_member`] that was already added to the
    /// cluster with `member add`: `--initial-cluster-state existing`.
    pub fn start_added(&mut self, index: usize, initial_cluster: &str) -> anyhow::Result<()> {
        let member = self.members.get_mut(index).context("no such member")?;
        member.initial_cluster = initial_cluster.to_string();
        member.initial_state = "existing";
        self.spawn(index)
    }

    /// SIGKILL: the member gets no chance to flush or say goodbye.
    pub async fn kill(&mut self, index: usize) -> anyhow::Result<()> {
        let member = self.members.get_mut(index).context("no such member")?;
        let Some(mut child) = member.process.take() else {
            bail!("member {} is not running", member.name);
        };
        child.start_kill().context("sending SIGKILL")?;
        tokio::time::timeout(KILL_TIMEOUT, child.wait())
            .await
            .context("killed member was not reaped in time")?
            .context("waiting for the killed member")?;
        Ok(())
    }

    pub async fn kill_all(&mut self) -> anyhow::Result<()> {
        for index in self.running() {
            self.kill(index).await?;
        }
        Ok(())
    }

    /// Starts a stopped member again from its data dir, on the same ports.
    pub fn restart(&mut self, index: usize) -> anyhow::Result<()> {
        self.spawn(index)
    }

    /// Restarts every stopped member that has run before.
    pub fn restart_all(&mut self) -> anyhow::Result<()> {
        for index in 0..self.members.len() {
            let member = &self.members[index];
            if member.process.is_none() && member.data_dir.exists() {
                self.spawn(index)?;
            }
        }
        Ok(())
    }

    /// Waits until every running member answers Maintenance.Status and they all name the same
    /// leader, which is itself one of the running members. Returns the leader's index.
    pub async fn wait_ready(&mut self) -> anyhow::Result<usize> {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            self.check_alive()?;
            let last_error = match self.agreed_leader().await {
                Ok(leader) => return Ok(leader),
                Err(error) => error,
            };
            if tokio::time::Instant::now() >= deadline {
                bail!("cluster not ready after {READY_TIMEOUT:?}: {last_error:#}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The index of the leader that all running members agree on (see [`Cluster::wait_ready`]).
    pub async fn leader(&mut self) -> anyhow::Result<usize> {
        self.wait_ready().await
    }

    /// The member ID of a running member, as its own Status response header reports it.
    pub async fn member_id(&self, index: usize) -> anyhow::Result<u64> {
        let status = crate::grpc::status(&self.endpoint(index)).await?;
        Ok(status
            .header
            .context("Status response without header")?
            .member_id)
    }

    async fn agreed_leader(&self) -> anyhow::Result<usize> {
        let mut leaders = Vec::new();
        let mut ids = Vec::new();
        for index in self.running() {
            let status = crate::grpc::status(&self.endpoint(index))
                .await
                .with_context(|| format!("Status of {}", self.members[index].name))?;
            let header = status.header.context("Status response without header")?;
            leaders.push(status.leader);
            ids.push((index, header.member_id));
        }
        let Some(&leader) = leaders.first() else {
            bail!("no member is running");
        };
        if leader == 0 || leaders.iter().any(|&other| other != leader) {
            bail!("members do not agree on a leader yet: {leaders:x?}");
        }
        ids.iter()
            .find(|(_, id)| *id == leader)
            .map(|(index, _)| *index)
            .with_context(|| format!("leader {leader:x} is not a running member {ids:x?}"))
    }

    /// Fails fast, with the log, when a member process exited on its own.
    fn check_alive(&mut self) -> anyhow::Result<()> {
        for member in &mut self.members {
            let Some(child) = member.process.as_mut() else {
                continue;
            };
            if let Some(status) = child.try_wait()? {
                member.process = None;
                bail!(
                    "member {} exited ({status}); log tail:\n{}",
                    member.name,
                    member.log_tail()
                );
            }
        }
        Ok(())
    }

    fn spawn(&mut self, index: usize) -> anyhow::Result<()> {
        let member = self.members.get(index).context("no such member")?;
        if member.process.is_some() {
            bail!("member {} is already running", member.name);
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&member.log_path)?;
        let child = Command::new(&self.program)
            .args(self.target.subcommand())
            .args(member.flags(&self.token))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.program.display()))?;
        self.members[index].process = Some(child);
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Always printed: cargo test shows a test's output only when it fails, and then this
        // tail is usually the explanation (a timeout or an `Err` drops the cluster too).
        for member in &self.members {
            eprintln!(
                "----- log of {} ({:?}) -----\n{}",
                member.name,
                self.target,
                member.log_tail()
            );
        }
        for member in &mut self.members {
            if let Some(child) = member.process.as_mut() {
                // kill_on_drop would do it too; being explicit keeps the order obvious:
                // processes die before their data dirs are removed.
                let _ = child.start_kill();
            }
        }
    }
}

/// A loopback port that is free right now, below the ephemeral range, from the one counter
/// every test of the process draws on ([`kubesim_net::ports::free_local_port`]), so no two
/// servers a test process starts get the same port.
fn free_port() -> anyhow::Result<u16> {
    Ok(kubesim_net::ports::free_local_port()?)
}
