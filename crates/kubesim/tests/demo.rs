//! `kubesim demo` against a real `kubesim up`: the binary cargo built for this package,
//! started on free ports with a temporary data directory, and the demo run against its
//! kubeconfig. Every step's `[ok]` line must appear, in order, and the exit code be 0; a
//! kubeconfig without the seed contexts must fail with exit code 1.
//!
//! Bounded: `up` must print its banner within [`UP_TIMEOUT`], the demo finish within
//! [`DEMO_TIMEOUT`]; `up` is killed at the end whatever happened.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const KUBESIM: &str = env!("CARGO_BIN_EXE_kubesim");
/// Three store members electing a leader, the authz service, the API server and the seed
/// objects: seconds on an idle machine; far more on a loaded one.
const UP_TIMEOUT: Duration = Duration::from_secs(120);
const DEMO_TIMEOUT: Duration = Duration::from_secs(120);

/// The demo's key lines, in order: what CI looks for.
const KEY_LINES: [&str; 10] = [
    "[ok] step 1: a ServiceAccount token was authenticated as its ServiceAccount",
    "[ok] step 2: RBAC allowed and denied the seed identities as their bindings say",
    "[ok] step 3: a bad token got 401 Unauthorized, an authenticated user without a rule got 403 Forbidden",
    "[ok] step 4: a watch on the namespace's pods is open",
    "[ok] step 5: label-injector added env=production, managed-by=kubesim to the pod",
    "[ok] step 6: the watch delivered ADDED for the pod at its resourceVersion",
    "[ok] step 7: the stored pod has the injected labels and the create's resourceVersion",
    "[ok] step 8: no-privileged refused the privileged pod (403 Forbidden)",
    "[ok] step 9: an update with a stale resourceVersion got 409 Conflict",
    "[ok] demo finished: 9 steps passed",
];

/// `kubesim up`, killed when dropped.
struct Up(Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// True when every port `up` takes from `base` (store members at +0, +20000, +30000, each
/// with peer +1 and metrics +2; authz at +10000) and `secure` can be bound now.
fn ports_free(base: u16, secure: u16) -> bool {
    let mut ports = vec![base + 10_000, secure];
    for member in [0, 20_000, 30_000] {
        ports.extend((0..3).map(|offset| base + member + offset));
    }
    ports
        .iter()
        .all(|&port| TcpListener::bind(("127.0.0.1", port)).is_ok())
}

/// A `--base-port` and `--secure-port` whose ports are free, spread by the process id so
/// concurrent runs rarely collide.
fn free_ports() -> (u16, u16) {
    let start = 10_000 + (std::process::id() % 2_000) as u16 * 10;
    for base in (start..35_000).step_by(97) {
        let secure = base + 5;
        if ports_free(base, secure) {
            return (base, secure);
        }
    }
    panic!("no free port range for kubesim up");
}

/// Starts `kubesim up` and waits for its banner.
fn start_up(data_dir: &Path) -> Up {
    let (base, secure) = free_ports();
    let mut child = Command::new(KUBESIM)
        .args(["up", "--base-port", &base.to_string()])
        .args(["--secure-port", &secure.to_string()])
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting kubesim up");
    let stdout = child.stdout.take().expect("up's stdout");
    let up = Up(child);
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + UP_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) if line.starts_with("kubesim is up.") => return up,
            Ok(_) => {}
            Err(e) => panic!("kubesim up printed no banner within {UP_TIMEOUT:?}: {e}"),
        }
    }
}

/// Runs `kubesim demo` with `args`, killed past [`DEMO_TIMEOUT`].
fn demo(args: &[&str]) -> Output {
    let mut child = Command::new(KUBESIM)
        .arg("demo")
        .args(args)
        .env_remove("KUBECONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting kubesim demo");
    let started = Instant::now();
    while child.try_wait().expect("waiting for the demo").is_none() {
        if started.elapsed() > DEMO_TIMEOUT {
            let _ = child.kill();
            let output = child.wait_with_output().expect("the demo's output");
            panic!(
                "kubesim demo did not finish within {DEMO_TIMEOUT:?}:\n{}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().expect("the demo's output")
}

#[test]
fn the_demo_walks_every_step_against_kubesim_up() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let _up = start_up(&data_dir);
    let kubeconfig = data_dir.join("kubeconfig");
    let kubeconfig = kubeconfig.to_str().unwrap();

    let output = demo(&["--kubeconfig", kubeconfig]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let found: Vec<usize> = KEY_LINES
        .iter()
        .map(|key| {
            lines
                .iter()
                .position(|line| line == key)
                .unwrap_or_else(|| panic!("no line {key:?} in:\n{stdout}"))
        })
        .collect();
    assert!(
        found.windows(2).all(|w| w[0] < w[1]),
        "out of order:\n{stdout}"
    );
    // Each request shows where it spent its time, and the 401, 403 and 409 are real answers.
    assert!(stdout.contains("stages (ms): authentication "), "{stdout}");
    for answer in ["<- 401 Unauthorized", "<- 403 Forbidden", "<- 409 Conflict"] {
        assert!(stdout.contains(answer), "no {answer:?} in:\n{stdout}");
    }
    assert!(
        !stdout.contains("[FAIL]") && !stdout.contains("[warn]"),
        "{stdout}"
    );

    // A second run passes too: its own namespace and configurations, nothing left in the way.
    let again = demo(&["--kubeconfig", kubeconfig]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );

    // A context the kubeconfig does not have: the demo says which and exits 1.
    let wrong = demo(&["--kubeconfig", kubeconfig, "--context", "no-such-context"]);
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no context \"no-such-context\""),
        "{stderr}"
    );
}
