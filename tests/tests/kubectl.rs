//! The real kubectl (1.29 and 1.33 when installed beside the default one, see [`kubectls`])
//! against a real `kubesim apiserver` over a real store (kubesim's, or etcd 3.4 with
//! `KUBESIM_E2E_TARGET=etcd`): issue 4's "what the resolving note must show", asserted on what
//! a user sees — table columns, YAML and JSON fields, messages and exit codes.
//!
//! Map of the file:
//! - helpers: [`Kubectl`] (one binary working in a namespace of its own, so every version
//!   shares one server), [`Failures`] (every step runs; the test lists all that failed),
//!   [`Background`] (a kubectl left running: `get -w`, `delete --wait`), [`Table`]
//!   (kubectl's columns), the manifests, and small checks on server-set values.
//! - tests, one server each, every step run by every kubectl: `create -f` and `get` with
//!   server-set fields, `--dry-run=server` and `generateName`; `apply` (client-side and
//!   server-side) and the three patch types; `edit`, `replace`, `label`, `annotate` and
//!   `delete --wait`; `get -w`; a namespace's termination; `-l`, `--field-selector` and
//!   `--chunk-size`; `api-resources`, `version` and `explain`; `kubectl create <kind>`.
//!
//! Objects are made from manifests (`create -f`), which every kubectl sends as JSON; the
//! generators (`kubectl create namespace|configmap|...`), which kubectl 1.32+ sends as
//! protobuf, have a test of their own so that they cannot hide the rest.
//!
//! Without kubectl every test skips with a line on stderr, unless `KUBESIM_E2E=1` makes it
//! fail.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use kubesim_tests::apiserver::{ApiServer as Server, Output, flag_path, kubectls, run};
use kubesim_tests::{bounded, wait_for};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// How long a background kubectl may take to print what a test waits for, and how long the
/// server may take to finish what kubectl started (a namespace's termination).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a condition is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Output kept of a background kubectl; the rest is dropped (a flooding watch fails anyway).
const MAX_BACKGROUND_OUTPUT_BYTES: usize = 1 << 20;
/// Lines of the server's log shown with a failure.
const LOG_TAIL_LINES: usize = 40;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// One kubectl binary, working in a namespace of its own (`--namespace` on every call) so
/// that both versions run against one server without seeing each other's objects.
struct Kubectl<'a> {
    server: &'a Server,
    path: PathBuf,
    /// `<prefix>-<version>`, e.g. `crud-1-29`.
    ns: String,
}

impl<'a> Kubectl<'a> {
    fn new(server: &'a Server, path: &Path, prefix: &str) -> Kubectl<'a> {
        let version = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_prefix("kubectl."))
            .unwrap_or("default");
        Kubectl {
            server,
            path: path.to_path_buf(),
            ns: format!("{prefix}-{}", version.replace('.', "-")),
        }
    }

    /// `kubectl.1.29`, for failure messages.
    fn name(&self) -> String {
        self.path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.path);
        command
            .env("KUBECONFIG", self.server.file("kubeconfig"))
            .arg(flag_path("--cache-dir", &self.server.file("kube-cache")))
            .arg(format!("--namespace={}", self.ns))
            .args(args);
        command
    }

    async fn run(&self, args: &[&str]) -> anyhow::Result<Output> {
        run(self.command(args)).await
    }

    /// Runs kubectl with `KUBE_EDITOR` set to `editor`.
    async fn run_with_editor(&self, editor: &Path, args: &[&str]) -> anyhow::Result<Output> {
        let mut command = self.command(args);
        command.env("KUBE_EDITOR", editor);
        run(command).await
    }

    /// Runs kubectl, which must succeed; its stdout.
    async fn ok(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self.run(args).await?;
        ensure!(out.status.success(), "{}", self.describe(args, &out));
        Ok(out.stdout)
    }

    /// Runs kubectl, which must fail with exit code 1 (kubectl's code for every error); its
    /// stderr.
    async fn fails(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self.run(args).await?;
        ensure!(
            out.status.code() == Some(1),
            "expected exit code 1: {}",
            self.describe(args, &out)
        );
        Ok(out.stderr)
    }

    /// [`Kubectl::ok`], whose stdout must be exactly `expected`.
    async fn expect(&self, args: &[&str], expected: &str) -> anyhow::Result<()> {
        let stdout = self.ok(args).await?;
        ensure!(
            stdout == expected,
            "{} {}:\n  stdout   {stdout:?}\n  expected {expected:?}",
            self.name(),
            args.join(" ")
        );
        Ok(())
    }

    /// [`Kubectl::fails`], whose stderr must contain `expected`.
    async fn expect_error(&self, args: &[&str], expected: &str) -> anyhow::Result<()> {
        let stderr = self.fails(args).await?;
        ensure!(
            stderr.contains(expected),
            "{} {}:\n  stderr   {stderr:?}\n  expected {expected:?} in it",
            self.name(),
            args.join(" ")
        );
        Ok(())
    }

    /// stdout of a `-o json` run, parsed.
    async fn json(&self, args: &[&str]) -> anyhow::Result<Value> {
        let stdout = self.ok(args).await?;
        serde_json::from_str(&stdout)
            .with_context(|| format!("{} {}: not JSON: {stdout}", self.name(), args.join(" ")))
    }

    /// One field of one object, through `-o jsonpath`.
    async fn field(&self, kind_and_name: &[&str], jsonpath: &str) -> anyhow::Result<String> {
        let output = format!("jsonpath={jsonpath}");
        let mut args = vec!["get"];
        args.extend_from_slice(kind_and_name);
        args.extend(["-o", output.as_str()]);
        self.ok(&args).await
    }

    /// This kubectl's namespace, created from a manifest (`create -f`, which every kubectl
    /// sends as JSON; `kubectl create namespace` is tested on its own, in
    /// `imperative_create_commands`).
    async fn create_namespace(&self) -> anyhow::Result<()> {
        let manifest =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns}});
        let file = write(
            self.server,
            &format!("namespace-{}.json", self.ns),
            &manifest.to_string(),
        )?;
        self.expect(
            &["create", "-f", &file],
            &format!("namespace/{} created\n", self.ns),
        )
        .await
    }

    /// A configmap in this kubectl's namespace, created from a manifest.
    async fn create_configmap(&self, name: &str, data: Value) -> anyhow::Result<()> {
        let file = self.configmap_manifest(name, data)?;
        self.expect(
            &["create", "-f", &file],
            &format!("configmap/{name} created\n"),
        )
        .await
    }

    /// Writes a configmap manifest; its path.
    fn configmap_manifest(&self, name: &str, data: Value) -> anyhow::Result<String> {
        let manifest = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name},
            "data": data,
        });
        write(
            self.server,
            &format!("configmap-{}-{name}.json", self.ns),
            &manifest.to_string(),
        )
    }

    /// The NotFound line kubectl prints for `<resource> "<name>"`.
    async fn expect_not_found(&self, resource: &str, name: &str) -> anyhow::Result<()> {
        let expected = format!("Error from server (NotFound): {resource} \"{name}\" not found\n");
        let stderr = self.fails(&["get", resource, name]).await?;
        ensure!(
            stderr == expected,
            "{}: get {resource} {name}: {stderr:?}, expected {expected:?}",
            self.name()
        );
        Ok(())
    }

    fn spawn(&self, args: &[&str]) -> anyhow::Result<Background> {
        Background::spawn(self.command(args))
    }

    fn describe(&self, args: &[&str], out: &Output) -> String {
        format!(
            "{} {}: {}\nstdout:\n{}\nstderr:\n{}",
            self.name(),
            args.join(" "),
            out.status,
            out.stdout,
            out.stderr
        )
    }
}

/// The failed steps of a test. Every step runs even when an earlier one failed (a step
/// checks one behaviour; most do not depend on each other), and the test fails at the end
/// listing them all, so that one run shows every broken behaviour under every kubectl.
#[derive(Default)]
struct Failures {
    list: Vec<String>,
}

impl Failures {
    /// Runs one step and records its failure; whether it passed.
    async fn step(
        &mut self,
        ctl: &Kubectl<'_>,
        name: &str,
        body: impl std::future::Future<Output = anyhow::Result<()>>,
    ) -> bool {
        match body.await {
            Ok(()) => true,
            Err(error) => {
                self.list
                    .push(format!("{} / {name}: {error:#}", ctl.name()));
                false
            }
        }
    }

    fn finish(self, server: &Server) -> anyhow::Result<()> {
        ensure!(
            self.list.is_empty(),
            "{} step(s) failed:\n\n{}\n\n{}",
            self.list.len(),
            self.list.join("\n\n"),
            log_tail(server)
        );
        Ok(())
    }
}

/// The last lines of the server's log, for a failure message.
fn log_tail(server: &Server) -> String {
    let log = server.log();
    let lines: Vec<&str> = log.lines().collect();
    let from = lines.len().saturating_sub(LOG_TAIL_LINES);
    format!("server log (last lines):\n{}", lines[from..].join("\n"))
}

/// A kubectl left running (`get -w`, `delete --wait`), its output collected as it comes.
/// Killed on drop.
struct Background {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The tasks copying the pipes; they end at EOF, when the child exits or is killed.
    readers: Vec<JoinHandle<()>>,
}

impl Background {
    fn spawn(mut command: Command) -> anyhow::Result<Background> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().context("spawning kubectl")?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(pipe) = child.stdout.take() {
            readers.push(tokio::spawn(collect(pipe, stdout.clone())));
        }
        if let Some(pipe) = child.stderr.take() {
            readers.push(tokio::spawn(collect(pipe, stderr.clone())));
        }
        Ok(Background {
            child,
            stdout,
            stderr,
            readers,
        })
    }

    fn stdout(&self) -> String {
        text_of(&self.stdout)
    }

    fn stderr(&self) -> String {
        text_of(&self.stderr)
    }

    /// Waits until `done` holds for the stdout so far, and returns that stdout.
    async fn wait_for_stdout(
        &self,
        what: &str,
        done: impl Fn(&str) -> bool,
    ) -> anyhow::Result<String> {
        wait_for(what, SETTLE_TIMEOUT, POLL_INTERVAL, || {
            let stdout = self.stdout();
            let result = done(&stdout).then_some(stdout);
            async move { Ok(result) }
        })
        .await
        .with_context(|| {
            format!(
                "stdout so far:\n{}\nstderr so far:\n{}",
                self.stdout(),
                self.stderr()
            )
        })
    }

    fn is_running(&mut self) -> anyhow::Result<bool> {
        Ok(self.child.try_wait()?.is_none())
    }

    /// Waits up to `limit` for the process to exit; its status and whole output.
    async fn finish(mut self, limit: Duration) -> anyhow::Result<(ExitStatus, String, String)> {
        let status = match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => status?,
            Err(_) => bail!(
                "kubectl did not exit within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            ),
        };
        for reader in self.readers.drain(..) {
            // The pipes close with the process; the bound only guards against a grandchild
            // holding them open.
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
        Ok((status, self.stdout(), self.stderr()))
    }
}

/// Copies `pipe` into `into` until EOF, keeping at most [`MAX_BACKGROUND_OUTPUT_BYTES`].
async fn collect(mut pipe: impl AsyncRead + Unpin, into: Arc<Mutex<Vec<u8>>>) {
    let mut buffer = [0u8; 4096];
    loop {
        let count = match pipe.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(count) => count,
        };
        let Ok(mut kept) = into.lock() else { return };
        if kept.len() + count > MAX_BACKGROUND_OUTPUT_BYTES {
            return;
        }
        kept.extend_from_slice(&buffer[..count]);
    }
}

fn text_of(bytes: &Mutex<Vec<u8>>) -> String {
    bytes
        .lock()
        .map(|kept| String::from_utf8_lossy(&kept).into_owned())
        .unwrap_or_default()
}

/// A table as kubectl prints it: a header, then rows aligned under it. kubectl's tabwriter
/// starts every column at the same offset in every line, so a cell is the text between two
/// column starts, even when it is empty (`api-resources`' SHORTNAMES) or holds a space
/// (`NOMINATED NODE`).
#[derive(Debug)]
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn parse(text: &str) -> Table {
        let mut lines = text.lines().filter(|line| !line.trim().is_empty());
        let Some(header_line) = lines.next() else {
            return Table {
                header: Vec::new(),
                rows: Vec::new(),
            };
        };
        let starts = column_starts(header_line);
        let cut = |line: &str| -> Vec<String> {
            let cell = |index: usize| {
                let start = starts.get(index).copied().unwrap_or(line.len());
                let end = starts.get(index + 1).copied().unwrap_or(line.len());
                line.get(start.min(line.len())..end.min(line.len()))
                    .unwrap_or("")
                    .trim()
                    .to_string()
            };
            (0..starts.len()).map(cell).collect()
        };
        Table {
            header: cut(header_line),
            rows: lines.map(cut).collect(),
        }
    }

    /// The row whose NAME cell is `name`.
    fn row(&self, name: &str) -> Option<&[String]> {
        let column = self.header.iter().position(|h| h == "NAME")?;
        self.rows
            .iter()
            .find(|row| row.get(column).is_some_and(|cell| cell == name))
            .map(Vec::as_slice)
    }

    /// The NAME cells, in order.
    fn names(&self) -> Vec<&str> {
        let Some(column) = self.header.iter().position(|h| h == "NAME") else {
            return Vec::new();
        };
        self.rows
            .iter()
            .filter_map(|row| row.get(column).map(String::as_str))
            .collect()
    }
}

/// Byte offsets where the header's columns start: the first character, and every character
/// after a run of two or more spaces.
fn column_starts(header: &str) -> Vec<usize> {
    let bytes = header.as_bytes();
    let mut starts = Vec::new();
    for (index, &byte) in bytes.iter().enumerate() {
        if byte == b' ' {
            continue;
        }
        let after_gap = index == 0
            || (index >= 2
                && bytes.get(index - 1) == Some(&b' ')
                && bytes.get(index - 2) == Some(&b' '));
        if after_gap {
            starts.push(index);
        }
    }
    starts
}

/// The cells of one line kubectl printed on its own (a `get -w` event, whose widths are not
/// the header's): split where two or more spaces are.
fn cells(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .collect()
}

/// An AGE cell of an object made seconds ago: kubectl prints `<n>s` under two minutes.
fn is_age(text: &str) -> bool {
    text.strip_suffix('s')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A UID as kube-apiserver makes them: a UUID in its 8-4-4-4-12 hex form.
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A `metav1.Time` on the wire: RFC 3339 in UTC with whole seconds, `2024-05-01T10:00:00Z`.
fn is_rfc3339_seconds(text: &str) -> bool {
    let bytes = text.as_bytes();
    let shape = "dddd-dd-ddTdd:dd:ddZ".as_bytes();
    bytes.len() == shape.len()
        && bytes.iter().zip(shape).all(|(&b, &s)| match s {
            b'd' => b.is_ascii_digit(),
            other => b == other,
        })
}

/// Checks each `(JSON pointer, expected value)` of `object`, reporting every mismatch at once.
fn expect_fields(what: &str, object: &Value, expected: &[(&str, Value)]) -> anyhow::Result<()> {
    let wrong: Vec<String> = expected
        .iter()
        .filter_map(|(pointer, want)| {
            let got = object.pointer(pointer).unwrap_or(&Value::Null);
            (got != want).then(|| format!("  {pointer}: {got}, expected {want}"))
        })
        .collect();
    ensure!(
        wrong.is_empty(),
        "{what}:\n{}\nin {object:#}",
        wrong.join("\n")
    );
    Ok(())
}

/// The server-set metadata every stored object carries: a UUID, a creation time, a
/// resourceVersion.
fn expect_server_set_metadata(what: &str, object: &Value) -> anyhow::Result<()> {
    let meta = &object["metadata"];
    let uid = meta["uid"].as_str().unwrap_or("");
    let created = meta["creationTimestamp"].as_str().unwrap_or("");
    let rv = meta["resourceVersion"].as_str().unwrap_or("");
    ensure!(is_uuid(uid), "{what}: uid {uid:?}");
    ensure!(
        is_rfc3339_seconds(created),
        "{what}: creationTimestamp {created:?}"
    );
    ensure!(
        rv.parse::<u64>().is_ok_and(|rv| rv > 0),
        "{what}: resourceVersion {rv:?}"
    );
    Ok(())
}

/// The managedFields entry of `manager`, if any.
fn managed_entry<'v>(object: &'v Value, manager: &str) -> Option<&'v Value> {
    object["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|entry| entry["manager"] == manager)
}

/// Writes `text` to `name` in the server's directory; its path, as kubectl takes it.
fn write(server: &Server, name: &str, text: &str) -> anyhow::Result<String> {
    let path = server.file(name);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path.display().to_string())
}

/// kubectl's list, or `None` when the test is skipped; then a server.
async fn start(test: &str) -> anyhow::Result<Option<(Server, Vec<PathBuf>)>> {
    let paths = kubectls(test)?;
    if paths.is_empty() {
        return Ok(None);
    }
    Ok(Some((Server::start().await?, paths)))
}

// ---------------------------------------------------------------------------------------------
// Manifests (no namespace: each kubectl creates them in its own with `--namespace`)
// ---------------------------------------------------------------------------------------------

const POD: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
  - name: web
    image: nginx:1.25
    ports:
    - containerPort: 80
";

const CONFIGMAP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  greeting: hello
";

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.25
";

const GENERATED: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  generateName: gen-
data:
  a: b
";

/// A configmap a finalizer holds after its deletion, until the test removes it.
const HELD: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: held
  finalizers:
  - example.com/hold
data:
  a: b
";

/// Client-side apply, first and second version (the label changes).
const APPLIED_V1: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-cfg
  labels:
    tier: a
data:
  x: \"1\"
";

const APPLIED_V2: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-cfg
  labels:
    tier: b
data:
  x: \"1\"
";

/// Server-side apply, first and second version (the data and a label change).
const SERVER_APPLIED_POD: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: ssa-pod
spec:
  containers:
  - name: web
    image: registry.k8s.io/pause:3.9
";

const SERVER_APPLIED_V1: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa-cfg
data:
  x: \"1\"
";

const SERVER_APPLIED_V2: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa-cfg
  labels:
    owner: ssa
data:
  x: \"2\"
";

/// Two containers, so a strategic merge patch can be seen to merge them by name.
const TWO_CONTAINERS: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: sm
spec:
  containers:
  - name: a
    image: busybox:1.36
  - name: b
    image: busybox:1.36
";

/// Five configmaps for selectors and paging: `app=a` on the even ones, `app=b` on the odd.
fn pages() -> String {
    (0..5)
        .map(|i| {
            let app = if i % 2 == 0 { "a" } else { "b" };
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: page-{i}\n  labels:\n    \
                 set: page\n    app: {app}\ndata:\n  i: \"{i}\"\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

const TWO_PODS: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: p1
spec:
  containers:
  - name: c
    image: busybox:1.36
---
apiVersion: v1
kind: Pod
metadata:
  name: p2
spec:
  containers:
  - name: c
    image: busybox:1.36
";

// ---------------------------------------------------------------------------------------------
// create -f, get (tables, -o yaml/json), --dry-run=server, generateName
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_and_get_show_objects_with_server_set_fields() -> anyhow::Result<()> {
    bounded(async {
        let test = "create_and_get_show_objects_with_server_set_fields";
        let Some((server, paths)) = start(test).await? else {
            return Ok(());
        };
        let files = [
            write(&server, "pod.yaml", POD)?,
            write(&server, "configmap.yaml", CONFIGMAP)?,
            write(&server, "deployment.yaml", DEPLOYMENT)?,
        ];
        let generated = write(&server, "generated.yaml", GENERATED)?;
        let mut failures = Failures::default();
        for path in &paths {
            let ctl = Kubectl::new(&server, path, "crud");
            ctl.create_namespace().await?;
            let [pod, configmap, deployment] = &files;
            let created = "pod/web created\nconfigmap/cfg created\ndeployment.apps/web created\n";
            let args = ["create", "-f", pod, "-f", configmap, "-f", deployment];
            failures
                .step(&ctl, "create -f", ctl.expect(&args, created))
                .await;
            failures
                .step(&ctl, "get (tables)", get_prints_kubectl_columns(&ctl))
                .await;
            let yaml = get_yaml_shows_server_set_fields_and_defaults(&ctl);
            failures.step(&ctl, "get -o yaml", yaml).await;
            let json = get_json_shows_server_set_fields_and_defaults(&ctl);
            failures.step(&ctl, "get -o json", json).await;
            let generate = create_with_generate_name(&ctl, &generated);
            failures.step(&ctl, "generateName", generate).await;
            let dry_run = server_dry_run_stores_nothing(&ctl);
            failures.step(&ctl, "--dry-run=server", dry_run).await;
        }
        failures.finish(&server)
    })
    .await
}

async fn get_prints_kubectl_columns(ctl: &Kubectl<'_>) -> anyhow::Result<()> {
    let who = ctl.name();
    let pods = Table::parse(&ctl.ok(&["get", "pods"]).await?);
    ensure!(
        pods.header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{who}: {pods:?}"
    );
    let row = pods
        .row("web")
        .with_context(|| format!("{who}: {pods:?}"))?;
    ensure!(
        row[1..4] == ["0/1", "Pending", "0"] && is_age(&row[4]),
        "{who}: {row:?}"
    );

    let wide = Table::parse(&ctl.ok(&["get", "pods", "-o", "wide"]).await?);
    let wide_header = [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
    ];
    ensure!(wide.header == wide_header, "{who}: {wide:?}");
    let row = wide
        .row("web")
        .with_context(|| format!("{who}: {wide:?}"))?;
    ensure!(
        row[1..4] == ["0/1", "Pending", "0"] && row[5..] == ["<none>"; 4],
        "{who}: {row:?}"
    );

    let configmaps = Table::parse(&ctl.ok(&["get", "configmaps"]).await?);
    ensure!(
        configmaps.header == ["NAME", "DATA", "AGE"],
        "{who}: {configmaps:?}"
    );
    let row = configmaps
        .row("cfg")
        .with_context(|| format!("{who}: {configmaps:?}"))?;
    ensure!(row[1] == "1" && is_age(&row[2]), "{who}: {row:?}");

    let deployments = Table::parse(&ctl.ok(&["get", "deployments", "-o", "wide"]).await?);
    let deployment_header = [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ];
    ensure!(
        deployments.header == deployment_header,
        "{who}: {deployments:?}"
    );
    let row = deployments
        .row("web")
        .with_context(|| format!("{who}: {deployments:?}"))?;
    ensure!(
        row[1..4] == ["0/2", "0", "0"] && row[5..] == ["web", "nginx:1.25", "app=web"],
        "{who}: {row:?}"
    );
    Ok(())
}

async fn get_yaml_shows_server_set_fields_and_defaults(ctl: &Kubectl<'_>) -> anyhow::Result<()> {
    let who = ctl.name();
    let yaml = ctl.ok(&["get", "pod", "web", "-o", "yaml"]).await?;
    let namespace_line = format!("  namespace: {}", ctl.ns);
    // kubectl's YAML: top-level keys at column 0, their fields indented by two, list items
    // (`- `) at their parent's indentation.
    let lines = [
        "apiVersion: v1",
        "kind: Pod",
        "  name: web",
        namespace_line.as_str(),
        "  restartPolicy: Always",
        "  dnsPolicy: ClusterFirst",
        "  schedulerName: default-scheduler",
        "  terminationGracePeriodSeconds: 30",
        "    imagePullPolicy: IfNotPresent",
        "      protocol: TCP",
        "  phase: Pending",
    ];
    for line in lines {
        ensure!(
            yaml.lines().any(|l| l == line),
            "{who}: no line {line:?} in\n{yaml}"
        );
    }
    let value_of = |key: &str| {
        yaml.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim_matches('"').to_string())
            .with_context(|| format!("{who}: no {key:?} in\n{yaml}"))
    };
    let uid = value_of("  uid: ")?;
    let created = value_of("  creationTimestamp: ")?;
    let rv = value_of("  resourceVersion: ")?;
    ensure!(is_uuid(&uid), "{who}: uid {uid:?}");
    ensure!(
        is_rfc3339_seconds(&created),
        "{who}: creationTimestamp {created:?}"
    );
    ensure!(rv.parse::<u64>().is_ok(), "{who}: resourceVersion {rv:?}");
    Ok(())
}

async fn get_json_shows_server_set_fields_and_defaults(ctl: &Kubectl<'_>) -> anyhow::Result<()> {
    let who = ctl.name();
    let pod = ctl
        .json(&["get", "pod", "web", "-o", "json", "--show-managed-fields"])
        .await?;
    expect_server_set_metadata(&format!("{who}: pod"), &pod)?;
    expect_fields(
        &format!("{who}: pod"),
        &pod,
        &[
            ("/apiVersion", json!("v1")),
            ("/kind", json!("Pod")),
            ("/metadata/namespace", json!(ctl.ns)),
            ("/metadata/labels", json!({"app": "web"})),
            ("/spec/restartPolicy", json!("Always")),
            ("/spec/enableServiceLinks", json!(true)),
            (
                "/spec/containers/0/terminationMessagePath",
                json!("/dev/termination-log"),
            ),
            ("/spec/containers/0/terminationMessagePolicy", json!("File")),
            ("/spec/containers/0/ports/0/protocol", json!("TCP")),
            ("/status/phase", json!("Pending")),
            ("/status/qosClass", json!("BestEffort")),
        ],
    )?;
    // `kubectl create` writes as the manager `kubectl-create`, an Update.
    let entry = managed_entry(&pod, "kubectl-create")
        .with_context(|| format!("{who}: no kubectl-create in managedFields: {pod:#}"))?;
    expect_fields(
        &format!("{who}: managedFields"),
        entry,
        &[
            ("/operation", json!("Update")),
            ("/apiVersion", json!("v1")),
            ("/fieldsType", json!("FieldsV1")),
            (
                "/fieldsV1/f:spec/f:containers/k:{\"name\":\"web\"}/f:image",
                json!({}),
            ),
            ("/fieldsV1/f:spec/f:enableServiceLinks", json!({})),
        ],
    )?;
    // Set by admission (the Priority plugin), after kube records a create: no one's.
    for admitted in ["f:priority", "f:preemptionPolicy"] {
        ensure!(
            entry["fieldsV1"]["f:spec"].get(admitted).is_none(),
            "{who}: kubectl-create does not own {admitted}: {entry:#}"
        );
    }

    let deployment = ctl
        .json(&["get", "deployment", "web", "-o", "json"])
        .await?;
    expect_server_set_metadata(&format!("{who}: deployment"), &deployment)?;
    expect_fields(
        &format!("{who}: deployment"),
        &deployment,
        &[
            ("/apiVersion", json!("apps/v1")),
            ("/kind", json!("Deployment")),
            ("/metadata/generation", json!(1)),
            ("/spec/replicas", json!(2)),
            ("/spec/strategy/type", json!("RollingUpdate")),
            ("/spec/strategy/rollingUpdate/maxSurge", json!("25%")),
            ("/spec/strategy/rollingUpdate/maxUnavailable", json!("25%")),
            ("/spec/revisionHistoryLimit", json!(10)),
            ("/spec/progressDeadlineSeconds", json!(600)),
            ("/spec/template/spec/restartPolicy", json!("Always")),
            (
                "/spec/template/spec/containers/0/imagePullPolicy",
                json!("IfNotPresent"),
            ),
        ],
    )
}

/// `kubectl create -f` of a manifest with `generateName`, twice: two names, each the prefix
/// and five characters of kube's alphabet (no vowels, no look-alikes).
async fn create_with_generate_name(ctl: &Kubectl<'_>, file: &str) -> anyhow::Result<()> {
    let who = ctl.name();
    let mut names = Vec::new();
    for _ in 0..2 {
        let stdout = ctl.ok(&["create", "-f", file]).await?;
        let name = stdout
            .strip_prefix("configmap/")
            .and_then(|rest| rest.strip_suffix(" created\n"))
            .with_context(|| format!("{who}: create -f generated.yaml: {stdout:?}"))?
            .to_string();
        let suffix = name.strip_prefix("gen-").unwrap_or("");
        ensure!(
            suffix.len() == 5
                && suffix
                    .chars()
                    .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{who}: generated name {name:?}"
        );
        let prefix = ctl
            .field(&["configmap", &name], "{.metadata.generateName}")
            .await?;
        ensure!(prefix == "gen-", "{who}: {name}: generateName {prefix:?}");
        names.push(name);
    }
    ensure!(
        names[0] != names[1],
        "{who}: the same name twice: {names:?}"
    );
    Ok(())
}

/// `--dry-run=server` runs the request through the server, answers as if done, and stores
/// nothing: a create, a delete and a label.
async fn server_dry_run_stores_nothing(ctl: &Kubectl<'_>) -> anyhow::Result<()> {
    let who = ctl.name();
    let file = ctl.configmap_manifest("dry", json!({"a": "1"}))?;
    ctl.expect(
        &["create", "-f", &file, "--dry-run=server"],
        "configmap/dry created (server dry run)\n",
    )
    .await?;
    ctl.expect_not_found("configmaps", "dry").await?;
    // The answer is the object as it would have been stored, less the resourceVersion.
    let dry = ctl
        .json(&["create", "-f", &file, "--dry-run=server", "-o", "json"])
        .await?;
    let uid = dry["metadata"]["uid"].as_str().unwrap_or("");
    let created = dry["metadata"]["creationTimestamp"].as_str().unwrap_or("");
    ensure!(
        is_uuid(uid) && is_rfc3339_seconds(created) && dry["metadata"]["resourceVersion"].is_null(),
        "{who}: dry-run create answered {dry:#}"
    );
    ctl.expect_not_found("configmaps", "dry").await?;

    ctl.expect(
        &["delete", "configmap", "cfg", "--dry-run=server"],
        "configmap \"cfg\" deleted (server dry run)\n",
    )
    .await?;
    ctl.expect(
        &["get", "configmap", "cfg", "-o", "name"],
        "configmap/cfg\n",
    )
    .await?;

    ctl.expect(
        &["label", "configmap", "cfg", "dry=run", "--dry-run=server"],
        "configmap/cfg labeled (server dry run)\n",
    )
    .await?;
    let labels = ctl
        .field(&["configmap", "cfg"], "{.metadata.labels}")
        .await?;
    ensure!(
        labels.is_empty(),
        "{who}: a dry-run label was stored: {labels:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// apply (client-side and server-side), patch (json, merge, strategic)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn apply_and_the_three_patch_types() -> anyhow::Result<()> {
    bounded(async {
        let Some((server, paths)) = start("apply_and_the_three_patch_types").await? else {
            return Ok(());
        };
        let applied = [
            write(&server, "applied-v1.yaml", APPLIED_V1)?,
            write(&server, "applied-v2.yaml", APPLIED_V2)?,
        ];
        let server_applied = [
            write(&server, "server-applied-v1.yaml", SERVER_APPLIED_V1)?,
            write(&server, "server-applied-v2.yaml", SERVER_APPLIED_V2)?,
        ];
        let two_containers = write(&server, "two-containers.yaml", TWO_CONTAINERS)?;
        let applied_pod = write(&server, "server-applied-pod.yaml", SERVER_APPLIED_POD)?;
        let mut failures = Failures::default();
        for path in &paths {
            let ctl = Kubectl::new(&server, path, "apply");
            ctl.create_namespace().await?;
            let client_side = client_side_apply(&ctl, &applied);
            failures.step(&ctl, "apply", client_side).await;
            let server_side = server_side_apply(&ctl, &server_applied);
            failures
                .step(&ctl, "apply --server-side", server_side)
                .await;
            let pod_again = server_side_apply_of_a_pod_again(&ctl, &applied_pod);
            failures
                .step(&ctl, "apply --server-side of a pod, twice", pod_again)
                .await;
            failures
                .step(
                    &ctl,
                    "patch --type=json|merge",
                    json_and_merge_patches(&ctl),
                )
                .await;
            let strategic = strategic_merge_patch_merges_containers_by_name(&ctl, &two_containers);
            failures
                .step(&ctl, "patch --type=strategic", strategic)
                .await;
        }
        failures.finish(&server)
    })
    .await
}

/// Create, change a label, re-apply unchanged: `created`, `configured`, `unchanged`, and the
/// last applied configuration kept in its annotation.
async fn client_side_apply(ctl: &Kubectl<'_>, files: &[String; 2]) -> anyhow::Result<()> {
    let who = ctl.name();
    let [v1, v2] = files;
    ctl.expect(&["apply", "-f", v1], "configmap/app-cfg created\n")
        .await?;
    ctl.expect(&["apply", "-f", v2], "configmap/app-cfg configured\n")
        .await?;
    ctl.expect(&["apply", "-f", v2], "configmap/app-cfg unchanged\n")
        .await?;
    let object = ctl
        .json(&[
            "get",
            "configmap",
            "app-cfg",
            "-o",
            "json",
            "--show-managed-fields",
        ])
        .await?;
    expect_fields(
        &format!("{who}: applied configmap"),
        &object,
        &[
            ("/metadata/labels", json!({"tier": "b"})),
            ("/data", json!({"x": "1"})),
        ],
    )?;
    let last_applied =
        object["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap_or("");
    let last_applied: Value = serde_json::from_str(last_applied)
        .with_context(|| format!("{who}: last-applied-configuration {last_applied:?}"))?;
    ensure!(
        last_applied["metadata"]["labels"] == json!({"tier": "b"}),
        "{who}: last-applied-configuration {last_applied}"
    );
    let entry = managed_entry(&object, "kubectl-client-side-apply")
        .with_context(|| format!("{who}: no kubectl-client-side-apply manager: {object:#}"))?;
    ensure!(entry["operation"] == "Update", "{who}: {entry}");
    Ok(())
}

/// Server-side apply creates and updates as the manager `kubectl`; a field another manager
/// changed since is a conflict until `--force-conflicts`.
async fn server_side_apply(ctl: &Kubectl<'_>, files: &[String; 2]) -> anyhow::Result<()> {
    let who = ctl.name();
    let [v1, v2] = files;
    let applied = "configmap/ssa-cfg serverside-applied\n";
    ctl.expect(&["apply", "--server-side", "-f", v1], applied)
        .await?;
    ctl.expect(&["apply", "--server-side", "-f", v2], applied)
        .await?;
    let object = ctl
        .json(&[
            "get",
            "configmap",
            "ssa-cfg",
            "-o",
            "json",
            "--show-managed-fields",
        ])
        .await?;
    expect_fields(
        &format!("{who}: server-side applied configmap"),
        &object,
        &[
            ("/metadata/labels", json!({"owner": "ssa"})),
            ("/data", json!({"x": "2"})),
        ],
    )?;
    let entry = managed_entry(&object, "kubectl")
        .with_context(|| format!("{who}: no manager kubectl: {object:#}"))?;
    expect_fields(
        &format!("{who}: the apply's managedFields"),
        entry,
        &[
            ("/operation", json!("Apply")),
            ("/apiVersion", json!("v1")),
            ("/fieldsV1/f:data/f:x", json!({})),
            ("/fieldsV1/f:metadata/f:labels/f:owner", json!({})),
        ],
    )?;

    ctl.expect(
        &[
            "patch",
            "configmap",
            "ssa-cfg",
            "--type=merge",
            "-p",
            r#"{"data":{"x":"3"}}"#,
        ],
        "configmap/ssa-cfg patched\n",
    )
    .await?;
    ctl.expect_error(
        &["apply", "--server-side", "-f", v2],
        r#"Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: .data.x"#,
    )
    .await?;
    ctl.expect(
        &["apply", "--server-side", "--force-conflicts", "-f", v2],
        applied,
    )
    .await?;
    let x = ctl.field(&["configmap", "ssa-cfg"], "{.data.x}").await?;
    ensure!(x == "2", "{who}: after --force-conflicts data.x is {x:?}");
    Ok(())
}

/// Applying the same pod server-side twice succeeds: the apply owns its configuration, not
/// what admission added on create (the ServiceAccount token's volume and mount), which the
/// second apply would otherwise remove, a change pod updates may not make (it was a 422).
async fn server_side_apply_of_a_pod_again(ctl: &Kubectl<'_>, file: &str) -> anyhow::Result<()> {
    let who = ctl.name();
    let applied = "pod/ssa-pod serverside-applied\n";
    ctl.expect(&["apply", "--server-side", "-f", file], applied)
        .await?;
    ctl.expect(&["apply", "--server-side", "-f", file], applied)
        .await?;
    let object = ctl
        .json(&[
            "get",
            "pod",
            "ssa-pod",
            "-o",
            "json",
            "--show-managed-fields",
        ])
        .await?;
    let volumes = object.pointer("/spec/volumes").cloned().unwrap_or_default();
    ensure!(
        volumes.to_string().contains("kube-api-access-"),
        "{who}: the token volume stays: {volumes}"
    );
    let entry = managed_entry(&object, "kubectl")
        .with_context(|| format!("{who}: no manager kubectl: {object:#}"))?;
    expect_fields(
        &format!("{who}: the pod apply's managedFields"),
        entry,
        &[(
            "/fieldsV1/f:spec",
            json!({"f:containers": {"k:{\"name\":\"web\"}":
                {".": {}, "f:image": {}, "f:name": {}}}}),
        )],
    )?;
    Ok(())
}

/// A JSON patch adds a key, a merge patch removes one (null) and adds another; a merge
/// patch that changes nothing is reported as `(no change)`, which needs the server to leave
/// the object (and its resourceVersion) alone.
async fn json_and_merge_patches(ctl: &Kubectl<'_>) -> anyhow::Result<()> {
    let who = ctl.name();
    let patched = "configmap/app-cfg patched\n";
    ctl.expect(
        &[
            "patch",
            "configmap",
            "app-cfg",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/data/y","value":"2"}]"#,
        ],
        patched,
    )
    .await?;
    ctl.expect(
        &[
            "patch",
            "configmap",
            "app-cfg",
            "--type=merge",
            "-p",
            r#"{"data":{"x":null,"z":"3"}}"#,
        ],
        patched,
    )
    .await?;
    let data = ctl.field(&["configmap", "app-cfg"], "{.data}").await?;
    let data: Value = serde_json::from_str(&data).with_context(|| format!("{who}: {data:?}"))?;
    ensure!(data == json!({"y": "2", "z": "3"}), "{who}: data {data}");
    ctl.expect(
        &[
            "patch",
            "configmap",
            "app-cfg",
            "--type=merge",
            "-p",
            r#"{"data":{"z":"3"}}"#,
        ],
        "configmap/app-cfg patched (no change)\n",
    )
    .await
}

/// A strategic merge patch of one container, by name, keeps the other (a merge patch would
/// replace the whole list).
async fn strategic_merge_patch_merges_containers_by_name(
    ctl: &Kubectl<'_>,
    file: &str,
) -> anyhow::Result<()> {
    let who = ctl.name();
    ctl.expect(&["create", "-f", file], "pod/sm created\n")
        .await?;
    ctl.expect(
        &[
            "patch",
            "pod",
            "sm",
            "--type=strategic",
            "-p",
            r#"{"spec":{"containers":[{"name":"b","image":"busybox:1.37"}]}}"#,
        ],
        "pod/sm patched\n",
    )
    .await?;
    let pod = ctl.json(&["get", "pod", "sm", "-o", "json"]).await?;
    expect_fields(
        &format!("{who}: patched pod"),
        &pod,
        &[
            ("/spec/containers/0/name", json!("a")),
            ("/spec/containers/0/image", json!("busybox:1.36")),
            ("/spec/containers/1/name", json!("b")),
            ("/spec/containers/1/image", json!("busybox:1.37")),
            ("/spec/containers/2", Value::Null),
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// edit, replace, label, annotate, delete --wait
// ---------------------------------------------------------------------------------------------

/// The editor `kubectl edit` runs: changes `z: "3"` into `z: edited` in the file it is given.
const EDITOR_SCRIPT: &str = "#!/bin/sh\nsed -i -e 's/^  z: \"3\"$/  z: edited/' \"$1\"\n";

#[tokio::test]
async fn edit_replace_label_annotate_and_delete() -> anyhow::Result<()> {
    bounded(async {
        let Some((server, paths)) = start("edit_replace_label_annotate_and_delete").await? else {
            return Ok(());
        };
        let editor = server.file("editor.sh");
        std::fs::write(&editor, EDITOR_SCRIPT)?;
        set_executable(&editor)?;
        let held = write(&server, "held.yaml", HELD)?;
        let mut failures = Failures::default();
        for path in &paths {
            let ctl = Kubectl::new(&server, path, "edit");
            ctl.create_namespace().await?;
            ctl.create_configmap("app-cfg", json!({"z": "3"})).await?;
            let edit = edit_through_a_scripted_editor(&ctl, &editor);
            failures.step(&ctl, "edit", edit).await;
            failures
                .step(&ctl, "replace", replace_and_a_stale_replace(&ctl))
                .await;
            failures
                .step(&ctl, "label, annotate", label_and_annotate(&ctl))
                .await;
            failures
                .step(&ctl, "delete --wait", delete_waits_until_gone(&ctl))
                .await;
            let finalized = delete_waits_for_finalizers(&ctl, &held);
            failures
                .step(&ctl, "delete --wait (finalizer)", finalized)
                .await;
        }
        failures.finish(&server)
    })
    .await
}

fn set_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

async fn edit_through_a_scripted_editor(ctl: &Kubectl<'_>, editor: &Path) -> anyhow::Result<()> {
    let who = ctl.name();
    let args = ["edit", "configmap", "app-cfg"];
    let out = ctl.run_with_editor(editor, &args).await?;
    ensure!(
        out.status.success() && out.stdout == "configmap/app-cfg edited\n",
        "{}",
        ctl.describe(&args, &out)
    );
    let z = ctl.field(&["configmap", "app-cfg"], "{.data.z}").await?;
    ensure!(z == "edited", "{who}: after edit data.z is {z:?}");
    // An editor that changes nothing: kubectl sends nothing and says so.
    let out = ctl.run_with_editor(Path::new("true"), &args).await?;
    ensure!(
        out.status.success() && out.stderr.contains("Edit cancelled, no changes made."),
        "{}",
        ctl.describe(&args, &out)
    );
    Ok(())
}

/// `replace -f` of the object as read, changed; the same file again carries a stale
/// resourceVersion: 409 Conflict in kube's words.
async fn replace_and_a_stale_replace(ctl: &Kubectl<'_>) -> anyhow::Result<()> {
    let who = ctl.name();
    let mut object = ctl
        .json(&["get", "configmap", "app-cfg", "-o", "json"])
        .await?;
    object["data"]["z"] = json!("replaced");
    let file = write(
        ctl.server,
        &format!("replace-{}.json", ctl.ns),
        &object.to_string(),
    )?;
    ctl.expect(&["replace", "-f", &file], "configmap/app-cfg replaced\n")
        .await?;
    let z = ctl.field(&["configmap", "app-cfg"], "{.data.z}").await?;
    ensure!(z == "replaced", "{who}: after replace data.z is {z:?}");
    let expected = format!(
        "Error from server (Conflict): error when replacing \"{file}\": Operation cannot be \
         fulfilled on configmaps \"app-cfg\": the object has been modified; please apply your \
         changes to the latest version and try again"
    );
    ctl.expect_error(&["replace", "-f", &file], &expected).await
}

async fn label_and_annotate(ctl: &Kubectl<'_>) -> anyhow::Result<()> {
    let who = ctl.name();
    let target = ["configmap", "app-cfg"];
    let labeled = "configmap/app-cfg labeled\n";
    ctl.expect(&["label", "configmap", "app-cfg", "env=prod"], labeled)
        .await?;
    let stderr = ctl
        .fails(&["label", "configmap", "app-cfg", "env=dev"])
        .await?;
    ensure!(
        stderr == "error: 'env' already has a value (prod), and --overwrite is false\n",
        "{who}: {stderr:?}"
    );
    ctl.expect(
        &["label", "configmap", "app-cfg", "env=dev", "--overwrite"],
        labeled,
    )
    .await?;
    let env = ctl.field(&target, "{.metadata.labels.env}").await?;
    ensure!(env == "dev", "{who}: label env is {env:?}");
    ctl.expect(
        &["label", "configmap", "app-cfg", "env-"],
        "configmap/app-cfg unlabeled\n",
    )
    .await?;
    let labels = ctl.field(&target, "{.metadata.labels}").await?;
    ensure!(labels.is_empty(), "{who}: labels left: {labels:?}");

    // kubectl 1.27 prints "annotate" (its printer's own slip), later ones "annotated".
    let printed = ctl
        .ok(&["annotate", "configmap", "app-cfg", "note=hello"])
        .await?;
    ensure!(
        printed == "configmap/app-cfg annotated\n" || printed == "configmap/app-cfg annotate\n",
        "{who}: annotate printed {printed:?}"
    );
    let note = ctl.field(&target, "{.metadata.annotations.note}").await?;
    ensure!(note == "hello", "{who}: annotation note is {note:?}");
    Ok(())
}

/// `delete --wait` returns after the object is gone.
async fn delete_waits_until_gone(ctl: &Kubectl<'_>) -> anyhow::Result<()> {
    ctl.expect(
        &["delete", "configmap", "app-cfg", "--wait"],
        "configmap \"app-cfg\" deleted\n",
    )
    .await?;
    ctl.expect_not_found("configmaps", "app-cfg").await
}

/// `delete --wait` of an object a finalizer holds returns only once the finalizer is gone
/// and the object with it.
async fn delete_waits_for_finalizers(ctl: &Kubectl<'_>, file: &str) -> anyhow::Result<()> {
    let who = ctl.name();
    ctl.expect(&["create", "-f", file], "configmap/held created\n")
        .await?;
    let mut delete = ctl.spawn(&["delete", "configmap", "held", "--wait", "--timeout=60s"])?;
    delete
        .wait_for_stdout("kubectl delete to report the deletion", |out| {
            out.contains("configmap \"held\" deleted")
        })
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    ensure!(
        delete.is_running()?,
        "{who}: delete --wait returned while a finalizer holds the object: {}",
        delete.stderr()
    );
    let deleted_at = ctl
        .field(&["configmap", "held"], "{.metadata.deletionTimestamp}")
        .await?;
    ensure!(
        is_rfc3339_seconds(&deleted_at),
        "{who}: deletionTimestamp {deleted_at:?}"
    );
    ctl.expect(
        &[
            "patch",
            "configmap",
            "held",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ],
        "configmap/held patched\n",
    )
    .await?;
    let (status, stdout, stderr) = delete.finish(SETTLE_TIMEOUT).await?;
    ensure!(
        status.success() && stdout == "configmap \"held\" deleted\n",
        "{who}: delete --wait: {status}\nstdout: {stdout:?}\nstderr: {stderr:?}"
    );
    ctl.expect_not_found("configmaps", "held").await
}

// ---------------------------------------------------------------------------------------------
// get -w
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_watch_prints_each_event() -> anyhow::Result<()> {
    bounded(async {
        let Some((server, paths)) = start("get_watch_prints_each_event").await? else {
            return Ok(());
        };
        let mut failures = Failures::default();
        for path in &paths {
            let ctl = Kubectl::new(&server, path, "watch");
            ctl.create_namespace().await?;
            failures.step(&ctl, "get -w", watch_configmaps(&ctl)).await;
        }
        failures.finish(&server)
    })
    .await
}

/// `get -w --output-watch-events` lists first (a sentinel object shows the list is done and
/// the watch starts from its resourceVersion), then prints one row per event, with the
/// Table columns the server sends in watch events.
async fn watch_configmaps(ctl: &Kubectl<'_>) -> anyhow::Result<()> {
    let who = ctl.name();
    ctl.create_configmap("sentinel", json!({"a": "1"})).await?;
    let watch = ctl.spawn(&["get", "configmaps", "--watch", "--output-watch-events"])?;
    watch
        .wait_for_stdout("the listed sentinel", |out| {
            has_event(out, &["ADDED", "sentinel", "1"])
        })
        .await?;
    ctl.create_configmap("w1", json!({"a": "1"})).await?;
    ctl.expect(
        &[
            "patch",
            "configmap",
            "w1",
            "--type=merge",
            "-p",
            r#"{"data":{"b":"2"}}"#,
        ],
        "configmap/w1 patched\n",
    )
    .await?;
    ctl.expect(&["delete", "configmap", "w1"], "configmap \"w1\" deleted\n")
        .await?;
    let stdout = watch
        .wait_for_stdout("ADDED, MODIFIED and DELETED of w1", |out| {
            has_event(out, &["DELETED", "w1", "2"])
        })
        .await?;
    let header = stdout.lines().next().map(cells).unwrap_or_default();
    ensure!(
        header == ["EVENT", "NAME", "DATA", "AGE"],
        "{who}: header {header:?} in\n{stdout}"
    );
    let w1_events: Vec<Vec<&str>> = stdout
        .lines()
        .map(cells)
        .filter(|row| row.get(1) == Some(&"w1"))
        .collect();
    let expected = [
        ["ADDED", "w1", "1"],
        ["MODIFIED", "w1", "2"],
        ["DELETED", "w1", "2"],
    ];
    ensure!(
        w1_events.len() == expected.len()
            && w1_events
                .iter()
                .zip(expected)
                .all(|(row, want)| row.len() == 4 && row[..3] == want && is_age(row[3])),
        "{who}: events of w1 {w1_events:?} in\n{stdout}"
    );
    Ok(())
}

/// Whether a `get -w --output-watch-events` output has a row starting with `cells_wanted`.
fn has_event(output: &str, cells_wanted: &[&str]) -> bool {
    output
        .lines()
        .map(cells)
        .any(|row| row.len() > cells_wanted.len() && row[..cells_wanted.len()] == *cells_wanted)
}

// ---------------------------------------------------------------------------------------------
// Namespaces
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn deleting_a_namespace_terminates_then_removes_it() -> anyhow::Result<()> {
    bounded(async {
        let test = "deleting_a_namespace_terminates_then_removes_it";
        let Some((server, paths)) = start(test).await? else {
            return Ok(());
        };
        let pod = write(&server, "pod.yaml", POD)?;
        let held = write(&server, "held.yaml", HELD)?;
        let mut failures = Failures::default();
        for path in &paths {
            let ctl = Kubectl::new(&server, path, "life");
            let lifecycle = namespace_lifecycle(&ctl, &pod, &held);
            failures.step(&ctl, "namespace lifecycle", lifecycle).await;
        }
        failures.finish(&server)
    })
    .await
}

/// Create a namespace and objects in it; delete it: Terminating while an object's finalizer
/// holds it, its other contents gone, creates refused (kube's NamespaceLifecycle words);
/// the finalizer removed, the namespace goes.
async fn namespace_lifecycle(ctl: &Kubectl<'_>, pod: &str, held: &str) -> anyhow::Result<()> {
    let who = ctl.name();
    let ns = ctl.ns.as_str();
    ctl.create_namespace().await?;
    let namespace = ctl.json(&["get", "namespace", ns, "-o", "json"]).await?;
    expect_fields(
        &format!("{who}: new namespace"),
        &namespace,
        &[
            ("/metadata/labels/kubernetes.io~1metadata.name", json!(ns)),
            ("/spec/finalizers", json!(["kubernetes"])),
            ("/status/phase", json!("Active")),
        ],
    )?;
    namespace_status_is(ctl, "Active").await?;
    ctl.create_configmap("plain", json!({"a": "1"})).await?;
    ctl.expect(
        &["create", "-f", pod, "-f", held],
        "pod/web created\nconfigmap/held created\n",
    )
    .await?;

    ctl.expect(
        &["delete", "namespace", ns, "--wait=false"],
        &format!("namespace \"{ns}\" deleted\n"),
    )
    .await?;
    namespace_status_is(ctl, "Terminating").await?;
    wait_for(
        "the namespace's contents but the held configmap to go",
        SETTLE_TIMEOUT,
        POLL_INTERVAL,
        || async {
            let configmaps = ctl.ok(&["get", "configmaps", "-o", "name"]).await?;
            let pods = ctl.ok(&["get", "pods", "-o", "name"]).await?;
            Ok((configmaps == "configmap/held\n" && pods.is_empty()).then_some(()))
        },
    )
    .await
    .with_context(|| format!("{who}\n{}", log_tail(ctl.server)))?;
    namespace_status_is(ctl, "Terminating").await?;
    ctl.expect_error(
        &[
            "create",
            "-f",
            &ctl.configmap_manifest("late", json!({"a": "1"}))?,
        ],
        &format!(
            "configmaps \"late\" is forbidden: unable to create new content in namespace {ns} \
             because it is being terminated"
        ),
    )
    .await?;

    ctl.expect(
        &[
            "patch",
            "configmap",
            "held",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ],
        "configmap/held patched\n",
    )
    .await?;
    let expected = format!("Error from server (NotFound): namespaces \"{ns}\" not found\n");
    wait_for(
        "the namespace to go",
        SETTLE_TIMEOUT,
        POLL_INTERVAL,
        || async {
            let out = ctl.run(&["get", "namespace", ns]).await?;
            Ok((!out.status.success() && out.stderr == expected).then_some(()))
        },
    )
    .await
    .with_context(|| format!("{who}\n{}", log_tail(ctl.server)))
}

async fn namespace_status_is(ctl: &Kubectl<'_>, status: &str) -> anyhow::Result<()> {
    let who = ctl.name();
    let table = Table::parse(&ctl.ok(&["get", "namespace", &ctl.ns]).await?);
    ensure!(
        table.header == ["NAME", "STATUS", "AGE"],
        "{who}: {table:?}"
    );
    let row = table
        .row(&ctl.ns)
        .with_context(|| format!("{who}: {table:?}"))?;
    ensure!(
        row[1] == status && is_age(&row[2]),
        "{who}: {row:?}, expected {status}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// -l, --field-selector, --chunk-size
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn selectors_and_chunked_lists() -> anyhow::Result<()> {
    bounded(async {
        let Some((server, paths)) = start("selectors_and_chunked_lists").await? else {
            return Ok(());
        };
        let pages = write(&server, "pages.yaml", &pages())?;
        let pods = write(&server, "two-pods.yaml", TWO_PODS)?;
        let mut failures = Failures::default();
        for path in &paths {
            let ctl = Kubectl::new(&server, path, "select");
            ctl.create_namespace().await?;
            let created: String = (0..5)
                .map(|i| format!("configmap/page-{i} created\n"))
                .collect();
            ctl.expect(&["create", "-f", &pages], &created).await?;
            let args = ["create", "-f", &pods];
            let create_pods = ctl.expect(&args, "pod/p1 created\npod/p2 created\n");
            failures.step(&ctl, "create -f (pods)", create_pods).await;
            failures.step(&ctl, "-l", label_selectors(&ctl)).await;
            failures
                .step(&ctl, "--field-selector", field_selectors(&ctl))
                .await;
            failures
                .step(&ctl, "--chunk-size", chunked_lists(&ctl))
                .await;
        }
        failures.finish(&server)
    })
    .await
}

/// `kubectl get configmaps -o name` with `extra` arguments, as object names.
async fn configmap_names(ctl: &Kubectl<'_>, extra: &[&str]) -> anyhow::Result<Vec<String>> {
    let mut args = vec!["get", "configmaps", "-o", "name"];
    args.extend_from_slice(extra);
    let stdout = ctl.ok(&args).await?;
    Ok(stdout
        .lines()
        .map(|line| line.trim_start_matches("configmap/").to_string())
        .collect())
}

async fn label_selectors(ctl: &Kubectl<'_>) -> anyhow::Result<()> {
    let who = ctl.name();
    let cases: [(&str, &[&str]); 5] = [
        ("app=a", &["page-0", "page-2", "page-4"]),
        ("app in (b)", &["page-1", "page-3"]),
        ("set=page,app!=a", &["page-1", "page-3"]),
        ("!app", &[]),
        ("set", &["page-0", "page-1", "page-2", "page-3", "page-4"]),
    ];
    for (selector, expected) in cases {
        let names = configmap_names(ctl, &["-l", selector]).await?;
        ensure!(names == expected, "{who}: -l {selector:?}: {names:?}");
    }
    // The table form of a selected list, and kubectl's line for an empty one.
    let table = Table::parse(&ctl.ok(&["get", "configmaps", "-l", "app=b"]).await?);
    ensure!(
        table.header == ["NAME", "DATA", "AGE"] && table.names() == ["page-1", "page-3"],
        "{who}: {table:?}"
    );
    let out = ctl.run(&["get", "configmaps", "-l", "app=none"]).await?;
    let expected = format!("No resources found in {} namespace.\n", ctl.ns);
    ensure!(
        out.status.success() && out.stdout.is_empty() && out.stderr == expected,
        "{}",
        ctl.describe(&["get", "configmaps", "-l", "app=none"], &out)
    );
    Ok(())
}

/// `metadata.name` on any kind, `status.phase` on pods (p2 made Running through the status
/// subresource), and fields kube does not index: 400.
async fn field_selectors(ctl: &Kubectl<'_>) -> anyhow::Result<()> {
    let who = ctl.name();
    let names = configmap_names(ctl, &["--field-selector=metadata.name=page-2"]).await?;
    ensure!(
        names == ["page-2"],
        "{who}: metadata.name=page-2: {names:?}"
    );
    let names = configmap_names(
        ctl,
        &["-l", "set=page", "--field-selector=metadata.name!=page-2"],
    )
    .await?;
    ensure!(
        names == ["page-0", "page-1", "page-3", "page-4"],
        "{who}: metadata.name!=page-2: {names:?}"
    );

    ctl.expect(
        &[
            "patch",
            "pod",
            "p2",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"phase":"Running"}}"#,
        ],
        "pod/p2 patched\n",
    )
    .await?;
    let running = Table::parse(
        &ctl.ok(&["get", "pods", "--field-selector=status.phase=Running"])
            .await?,
    );
    let row = running
        .row("p2")
        .with_context(|| format!("{who}: {running:?}"))?;
    ensure!(
        running.names() == ["p2"] && row[2] == "Running",
        "{who}: status.phase=Running: {running:?}"
    );
    ctl.expect(
        &[
            "get",
            "pods",
            "--field-selector=status.phase=Pending",
            "-o",
            "name",
        ],
        "pod/p1\n",
    )
    .await?;
    ctl.expect(
        &[
            "get",
            "pods",
            "--field-selector=status.phase!=Pending",
            "-o",
            "name",
        ],
        "pod/p2\n",
    )
    .await?;
    // kube's words differ by kind: pods have their own field label conversion, most kinds
    // the default one of metav1.
    ctl.expect_error(
        &["get", "pods", "--field-selector=spec.foo=x"],
        "Error from server (BadRequest): Unable to find \"/v1, Resource=pods\" that match label \
         selector \"\", field selector \"spec.foo=x\": field label not supported: spec.foo\n",
    )
    .await?;
    ctl.expect_error(
        &["get", "configmaps", "--field-selector=data.i=1"],
        "Error from server (BadRequest): Unable to find \"/v1, Resource=configmaps\" that match \
         label selector \"\", field selector \"data.i=1\": \"data.i\" is not a known field \
         selector: only \"metadata.name\", \"metadata.namespace\"\n",
    )
    .await
}

/// `--chunk-size=2` over five objects: kubectl follows the continue tokens and prints all
/// five; the raw pages show kube's `limit`/`continue`/`remainingItemCount`.
async fn chunked_lists(ctl: &Kubectl<'_>) -> anyhow::Result<()> {
    let who = ctl.name();
    let args = [
        "get",
        "configmaps",
        "-l",
        "set=page",
        "--chunk-size=2",
        "-o",
        "name",
        "-v=6",
    ];
    let out = ctl.run(&args).await?;
    ensure!(out.status.success(), "{}", ctl.describe(&args, &out));
    let all: String = (0..5).map(|i| format!("configmap/page-{i}\n")).collect();
    ensure!(out.stdout == all, "{}", ctl.describe(&args, &out));
    let requests: Vec<&str> = out
        .stderr
        .lines()
        .filter(|line| line.contains("/configmaps?") && line.contains("limit=2"))
        .collect();
    ensure!(
        requests.iter().any(|line| line.contains("continue=")),
        "{who}: no request followed a continue token:\n{}",
        out.stderr
    );
    let table = Table::parse(
        &ctl.ok(&["get", "configmaps", "-l", "set=page", "--chunk-size=2"])
            .await?,
    );
    ensure!(
        table.names() == ["page-0", "page-1", "page-2", "page-3", "page-4"],
        "{who}: chunked table {table:?}"
    );

    // The same pages through the API: without a selector kube counts what is left
    // (`remainingItemCount`); with one it cannot count cheaply and leaves it out.
    let collection = format!("/api/v1/namespaces/{}/configmaps", ctl.ns);
    let unselected = [
        (&["page-0", "page-1"][..], Some(3)),
        (&["page-2", "page-3"][..], Some(1)),
        (&["page-4"][..], None),
    ];
    raw_pages(ctl, &format!("{collection}?limit=2"), &unselected).await?;
    let selected = [
        (&["page-0", "page-1"][..], None),
        (&["page-2", "page-3"][..], None),
        (&["page-4"][..], None),
    ];
    let url = format!("{collection}?labelSelector=set%3Dpage&limit=2");
    raw_pages(ctl, &url, &selected).await
}

/// Follows the continue tokens from `first_url`, checking each page's item names and
/// `remainingItemCount`; only the last page has no continue token.
async fn raw_pages(
    ctl: &Kubectl<'_>,
    first_url: &str,
    expected: &[(&[&str], Option<i64>)],
) -> anyhow::Result<()> {
    let who = ctl.name();
    let mut url = first_url.to_string();
    for (index, (names, remaining)) in expected.iter().enumerate() {
        let page = ctl.json(&["get", "--raw", &url]).await?;
        let got: Vec<&str> = page["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item["metadata"]["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        ensure!(got == *names, "{who}: {url}: page {index}: {page:#}");
        ensure!(
            page["metadata"]["remainingItemCount"].as_i64() == *remaining,
            "{who}: {url}: page {index}: remainingItemCount in {:#}",
            page["metadata"]
        );
        let token = page["metadata"]["continue"].as_str().unwrap_or("");
        let last = index + 1 == expected.len();
        ensure!(
            token.is_empty() == last,
            "{who}: {url}: page {index}: continue {token:?}"
        );
        url = format!("{first_url}&continue={}", percent_encode(token));
    }
    Ok(())
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for a query value.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// api-resources, version, explain
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn api_resources_version_and_explain() -> anyhow::Result<()> {
    bounded(async {
        let Some((server, paths)) = start("api_resources_version_and_explain").await? else {
            return Ok(());
        };
        let mut failures = Failures::default();
        for path in &paths {
            let ctl = Kubectl::new(&server, path, "discovery");
            failures
                .step(&ctl, "api-resources", api_resources(&ctl))
                .await;
            failures.step(&ctl, "version", version(&ctl)).await;
            failures.step(&ctl, "explain", explain(&ctl)).await;
        }
        failures.finish(&server)
    })
    .await
}

async fn api_resources(ctl: &Kubectl<'_>) -> anyhow::Result<()> {
    let who = ctl.name();
    let table = Table::parse(&ctl.ok(&["api-resources"]).await?);
    ensure!(
        table.header == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"],
        "{who}: {table:?}"
    );
    let expected: [[&str; 5]; 10] = [
        ["configmaps", "cm", "v1", "true", "ConfigMap"],
        ["events", "ev", "v1", "true", "Event"],
        ["namespaces", "ns", "v1", "false", "Namespace"],
        ["pods", "po", "v1", "true", "Pod"],
        ["secrets", "", "v1", "true", "Secret"],
        ["serviceaccounts", "sa", "v1", "true", "ServiceAccount"],
        ["services", "svc", "v1", "true", "Service"],
        ["deployments", "deploy", "apps/v1", "true", "Deployment"],
        [
            "rolebindings",
            "",
            "rbac.authorization.k8s.io/v1",
            "true",
            "RoleBinding",
        ],
        [
            "validatingwebhookconfigurations",
            "",
            "admissionregistration.k8s.io/v1",
            "false",
            "ValidatingWebhookConfiguration",
        ],
    ];
    for want in expected {
        let row = table
            .row(want[0])
            .with_context(|| format!("{who}: no {} in {table:?}", want[0]))?;
        ensure!(row == want, "{who}: {row:?}, expected {want:?}");
    }
    Ok(())
}

async fn version(ctl: &Kubectl<'_>) -> anyhow::Result<()> {
    let who = ctl.name();
    let stdout = ctl.ok(&["version"]).await?;
    // kubectl 1.28+ prints versions; 1.27 prints the whole version.Info struct.
    let short = stdout
        .lines()
        .any(|l| l == "Server Version: v1.33.0+kubesim")
        && stdout.lines().any(|l| l.starts_with("Client Version: v1."));
    let long = stdout.lines().any(|l| {
        l.starts_with("Server Version: version.Info{")
            && l.contains(r#"GitVersion:"v1.33.0+kubesim""#)
    });
    ensure!(short || long, "{who}: {stdout}");
    Ok(())
}

/// `kubectl explain` (1.27+ reads `/openapi/v3`): the field's kind, version, type, and its
/// own fields with `-required-` where the schema says so.
async fn explain(ctl: &Kubectl<'_>) -> anyhow::Result<()> {
    let who = ctl.name();
    let containers = ctl.ok(&["explain", "pods.spec.containers"]).await?;
    for line in [
        "KIND:       Pod",
        "VERSION:    v1",
        "FIELD: containers <[]Container>",
        "DESCRIPTION:",
        "FIELDS:",
        "  image\t<string>",
        "  name\t<string> -required-",
    ] {
        ensure!(
            containers.lines().any(|l| l == line),
            "{who}: no line {line:?} in explain pods.spec.containers:\n{containers}"
        );
    }
    let replicas = ctl.ok(&["explain", "deployments.spec.replicas"]).await?;
    for line in [
        "GROUP:      apps",
        "KIND:       Deployment",
        "VERSION:    v1",
        "FIELD: replicas <integer>",
    ] {
        ensure!(
            replicas.lines().any(|l| l == line),
            "{who}: no line {line:?} in explain deployments.spec.replicas:\n{replicas}"
        );
    }
    ctl.expect_error(
        &["explain", "pods.spec.nosuchfield"],
        "field \"nosuchfield\" does not exist",
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// kubectl create <kind>: the generators
// ---------------------------------------------------------------------------------------------

/// `kubectl create namespace|configmap|secret|serviceaccount|deployment`, which build the
/// object in kubectl and send it through client-go's typed clients: as JSON from kubectl
/// 1.29, as protobuf (`application/vnd.kubernetes.protobuf`) from 1.32 on.
#[tokio::test]
async fn imperative_create_commands() -> anyhow::Result<()> {
    bounded(async {
        let Some((server, paths)) = start("imperative_create_commands").await? else {
            return Ok(());
        };
        let mut failures = Failures::default();
        for path in &paths {
            let ctl = Kubectl::new(&server, path, "imperative");
            let expected = format!("namespace/{} created\n", ctl.ns);
            let args = ["create", "namespace", ctl.ns.as_str()];
            if !failures
                .step(&ctl, "create namespace", ctl.expect(&args, &expected))
                .await
            {
                // The other generators still get their namespace.
                ctl.create_namespace().await?;
            }
            let generators = [
                (
                    "create configmap",
                    vec!["create", "configmap", "imp-cm", "--from-literal=a=1"],
                    "configmap/imp-cm created\n",
                    ["configmap", "imp-cm", "{.data.a}", "1"],
                ),
                (
                    "create secret generic",
                    vec![
                        "create",
                        "secret",
                        "generic",
                        "imp-secret",
                        "--from-literal=k=v",
                    ],
                    "secret/imp-secret created\n",
                    ["secret", "imp-secret", "{.data.k}", "dg=="],
                ),
                (
                    "create serviceaccount",
                    vec!["create", "serviceaccount", "imp-sa"],
                    "serviceaccount/imp-sa created\n",
                    ["serviceaccount", "imp-sa", "{.metadata.name}", "imp-sa"],
                ),
                (
                    "create deployment",
                    vec![
                        "create",
                        "deployment",
                        "imp-web",
                        "--image=nginx:1.25",
                        "--replicas=2",
                    ],
                    "deployment.apps/imp-web created\n",
                    ["deployment", "imp-web", "{.spec.replicas}", "2"],
                ),
            ];
            for (step, args, expected, [kind, name, jsonpath, value]) in generators {
                let created = async {
                    ctl.expect(&args, expected).await?;
                    let got = ctl.field(&[kind, name], jsonpath).await?;
                    ensure!(
                        got == value,
                        "{kind} {name}: {jsonpath} is {got:?}, expected {value:?}"
                    );
                    Ok(())
                };
                failures.step(&ctl, step, created).await;
            }
            let dry_run = async {
                ctl.expect(
                    &[
                        "create",
                        "configmap",
                        "imp-dry",
                        "--from-literal=a=1",
                        "--dry-run=server",
                    ],
                    "configmap/imp-dry created (server dry run)\n",
                )
                .await?;
                ctl.expect_not_found("configmaps", "imp-dry").await
            };
            failures
                .step(&ctl, "create configmap --dry-run=server", dry_run)
                .await;
        }
        failures.finish(&server)
    })
    .await
}
