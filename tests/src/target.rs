//! Which server the end-to-end tests run against: a kubesim store or a real etcd.
//!
//! Both take etcd's flag names, so the only difference is the program and, for kubesim, the
//! `store` subcommand in front of the flags.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Bound of the one `cargo build -p kubesim`: a cold build on 2 busy cores takes minutes, but
/// a build that never ends must not hang the tests.
const BUILD_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// The server implementation under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `kubesim store`: the system under test.
    Kubesim,
    /// A real etcd 3.4 (`etcd` on `$PATH`): the reference for behaviour.
    Etcd,
}

impl Target {
    /// Reads `KUBESIM_E2E_TARGET`; unset means kubesim.
    pub fn from_env() -> anyhow::Result<Target> {
        match std::env::var("KUBESIM_E2E_TARGET") {
            Err(std::env::VarError::NotPresent) => Ok(Target::Kubesim),
            Ok(value) if value == "kubesim" || value.is_empty() => Ok(Target::Kubesim),
            Ok(value) if value == "etcd" => Ok(Target::Etcd),
            Ok(value) => bail!("KUBESIM_E2E_TARGET must be `kubesim` or `etcd`, not {value:?}"),
            Err(error) => bail!("KUBESIM_E2E_TARGET: {error}"),
        }
    }

    /// The program to start for a member, building kubesim first if needed.
    pub fn program(self) -> anyhow::Result<PathBuf> {
        match self {
            Target::Etcd => crate::find_on_path("etcd").context(
                "KUBESIM_E2E_TARGET=etcd but `etcd` is not on PATH \
                 (apt-get install -y etcd-server etcd-client)",
            ),
            Target::Kubesim => kubesim_binary(),
        }
    }

    /// The arguments that come before etcd's flags.
    pub fn subcommand(self) -> &'static [&'static str] {
        match self {
            Target::Etcd => &[],
            Target::Kubesim => &["store"],
        }
    }
}

/// `$KUBESIM_BIN` if set; otherwise `cargo build -p kubesim`, once per test process, and the
/// binary it leaves next to this test's own target directory.
///
/// The build runs even when a binary already exists: it is a no-op when up to date, and it
/// keeps a stale binary from being tested in place of the current source.
pub fn kubesim_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("KUBESIM_BIN") {
        return Ok(PathBuf::from(path));
    }
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build_kubesim().map_err(|error| format!("{error:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn build_kubesim() -> anyhow::Result<PathBuf> {
    // A test binary lives in `<target>/<profile>/deps/`; the kubesim binary goes to
    // `<target>/<profile>/`, whatever CARGO_TARGET_DIR says.
    let exe = std::env::current_exe().context("locating the test binary")?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test binary is not under <target>/<profile>/deps")?
        .to_path_buf();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("tests/ has no parent directory")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(workspace)
        .args(["build", "-p", "kubesim"]);
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let mut child = build.spawn().context("running `cargo build -p kubesim`")?;
    let status = wait_bounded(&mut child, BUILD_TIMEOUT)?;
    if !status.success() {
        bail!("`cargo build -p kubesim` failed: {status}");
    }
    let binary = profile_dir.join("kubesim");
    if !binary.is_file() {
        bail!(
            "`cargo build -p kubesim` left no binary at {}",
            binary.display()
        );
    }
    Ok(binary)
}

/// Waits for `child` up to `limit`, then kills it. Synchronous: callers run it on a blocking
/// thread (see `Cluster::start_sized`).
fn wait_bounded(child: &mut Child, limit: Duration) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if started.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!("`cargo build -p kubesim` did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
