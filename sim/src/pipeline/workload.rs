//! The pipeline's clients: the set-up the administrator does first (namespace, RBAC, webhook
//! configurations), then identities writing and reading pods, and watchers that resume, every
//! call recorded in the [`ApiRecorder`].
//!
//! A client never retries a call (a call without an answer is recorded as such and the
//! checkers allow for either outcome). Pod names and markers are unique per run, so a marker
//! seen later names the write that stored it.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

use anyhow::bail;
use base64::Engine as _;
use serde_json::{Value, json};

use super::history::{ApiOp, ApiOutcome, ApiRecorder, MARKER, PodSeen, WatchEvent, WatchSession};
use super::http::{ApiClient, Reply};
use crate::history::now;
use crate::rng::SimRng;

/// The namespace the workload writes in.
pub const NAMESPACE: &str = "team-a";
/// The user RBAC lets write pods in [`NAMESPACE`] only.
pub const WRITER: &str = "alice";
/// A user with no binding: every request of theirs is refused.
pub const DENIED: &str = "mallory";
/// The validating webhook with failurePolicy Fail, and the mutating one with Ignore.
pub const FAIL_WEBHOOK: &str = "no-privileged.sim.kubesim.io";
pub const IGNORE_WEBHOOK: &str = "label-injector.sim.kubesim.io";

/// What the workload tasks share: when to start and stop, and the pods seen so far.
#[derive(Clone, Default)]
pub struct Shared {
    /// Set once the administrator's set-up is done.
    ready: Rc<Cell<bool>>,
    stopping: Rc<Cell<bool>>,
    running: Rc<Cell<usize>>,
    /// The client hosts of the workload, for the nemesis to cut off.
    clients: Rc<RefCell<BTreeSet<String>>>,
    /// Pods by name, as the newest completed call showed them.
    known: Rc<RefCell<BTreeMap<String, Known>>>,
}

/// A pod as the clients know it.
struct Known {
    /// The newest body seen, for updates.
    object: Value,
    /// Every resourceVersion completed calls showed, ascending.
    versions: Vec<u64>,
    deleted: bool,
}

impl Shared {
    pub fn ready(&self) -> bool {
        self.ready.get()
    }

    /// The set-up is done: the workload may begin.
    pub fn set_ready(&self) {
        self.ready.set(true);
    }

    pub fn stop(&self) {
        self.stopping.set(true);
    }

    pub fn stopping(&self) -> bool {
        self.stopping.get()
    }

    /// Workload tasks still running.
    pub fn running(&self) -> usize {
        self.running.get()
    }

    /// The workload's client hosts, in name order.
    pub fn clients(&self) -> Vec<String> {
        self.clients.borrow().iter().cloned().collect()
    }

    /// Waits (bounded) for the set-up.
    async fn until_ready(&self, bound: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + bound;
        while !self.ready() {
            if tokio::time::Instant::now() > deadline {
                bail!("the set-up did not finish within {bound:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    fn saw(&self, object: &Value) {
        let Some(pod) = PodSeen::from_json(object) else {
            return;
        };
        let mut known = self.known.borrow_mut();
        let entry = known.entry(pod.name).or_insert_with(|| Known {
            object: object.clone(),
            versions: Vec::new(),
            deleted: false,
        });
        if entry
            .versions
            .last()
            .is_none_or(|v| pod.resource_version > *v)
        {
            entry.versions.push(pod.resource_version);
            entry.object = object.clone();
        }
    }

    fn deleted(&self, name: &str) {
        if let Some(entry) = self.known.borrow_mut().get_mut(name) {
            entry.deleted = true;
        }
    }

    /// A live pod: its name, newest body and versions.
    fn pick(&self, rng: &mut SimRng) -> Option<(String, Value, Vec<u64>)> {
        let known = self.known.borrow();
        let live: Vec<(&String, &Known)> = known.iter().filter(|(_, k)| !k.deleted).collect();
        let (name, entry) = rng.pick(&live)?;
        Some((
            (*name).clone(),
            entry.object.clone(),
            entry.versions.clone(),
        ))
    }
}

/// Counts a task as running while it lives.
struct Running(Rc<Cell<usize>>);

impl Running {
    fn enter(shared: &Shared, host: &str) -> Running {
        shared.clients.borrow_mut().insert(host.to_owned());
        shared.running.set(shared.running.get() + 1);
        Running(shared.running.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

/// The administrator's set-up, before any recorded call: the namespace, alice's Role and
/// RoleBinding, and the two webhook configurations; then it waits until the Fail webhook
/// refuses a privileged pod (a dry run), so no recorded create can race the configuration
/// into the API server's webhook cache.
pub async fn set_up(
    admin: &ApiClient,
    ca_pem: &str,
    fail_url: &str,
    ignore_url: &str,
) -> anyhow::Result<()> {
    until(admin, "GET", "/readyz", None, |r| r.code == 200).await?;
    let objects = [
        (
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/roles",
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "pod-writer", "namespace": NAMESPACE},
                "rules": [{"apiGroups": [""], "resources": ["pods"],
                           "verbs": ["create", "get", "list", "watch", "update", "patch", "delete"]}]
            }),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings",
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "alice-writes-pods", "namespace": NAMESPACE},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-writer"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": WRITER}]
            }),
        ),
        (
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
            webhook_configuration("Validating", FAIL_WEBHOOK, fail_url, ca_pem, "Fail", 2),
        ),
        (
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            webhook_configuration("Mutating", IGNORE_WEBHOOK, ignore_url, ca_pem, "Ignore", 1),
        ),
    ];
    for (path, object) in &objects {
        until(admin, "POST", path, Some(object), |r| {
            r.ok() || r.code == 409
        })
        .await?;
    }
    let probe = pod("probe", "probe", true);
    let path = format!("/api/v1/namespaces/{NAMESPACE}/pods?dryRun=All");
    until(admin, "POST", &path, Some(&probe), |r| {
        !r.ok() && r.message().contains(FAIL_WEBHOOK)
    })
    .await?;
    Ok(())
}

/// Calls until `done` holds for the answer, every 250 ms, for at most 60 s.
async fn until(
    client: &ApiClient,
    method: &str,
    path: &str,
    body: Option<&Value>,
    done: impl Fn(&Reply) -> bool,
) -> anyhow::Result<()> {
    let mut last = String::new();
    for _ in 0..240 {
        match client.call(method, path, "application/json", body).await {
            Ok(reply) if done(&reply) => return Ok(()),
            Ok(reply) => last = format!("{} {}", reply.code, reply.message()),
            Err(e) => last = format!("{e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!("set-up: {method} {path} never succeeded; last: {last}")
}

/// A webhook configuration for pods in [`NAMESPACE`] with one webhook.
fn webhook_configuration(
    kind: &str,
    name: &str,
    url: &str,
    ca_pem: &str,
    failure_policy: &str,
    timeout_seconds: u64,
) -> Value {
    let operations = if kind == "Validating" {
        json!(["CREATE", "UPDATE"])
    } else {
        json!(["CREATE"])
    };
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": format!("{kind}WebhookConfiguration"),
        "metadata": {"name": name},
        "webhooks": [{
            "name": name,
            "clientConfig": {
                "url": url,
                "caBundle": base64::engine::general_purpose::STANDARD.encode(ca_pem),
            },
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": operations,
                       "resources": ["pods"], "scope": "Namespaced"}],
            "failurePolicy": failure_policy,
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": timeout_seconds,
        }]
    })
}

/// A pod with one container, privileged or not, carrying `marker`.
fn pod(name: &str, marker: &str, privileged: bool) -> Value {
    let mut container = json!({"name": "app", "image": "registry.k8s.io/pause:3.10"});
    if privileged {
        container["securityContext"] = json!({"privileged": true});
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "annotations": {MARKER: marker}},
        "spec": {"containers": [container]},
    })
}

/// Who a worker is, which decides what it tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// In system:masters.
    Admin,
    /// Allowed pods in [`NAMESPACE`] by RBAC.
    Writer,
    /// Allowed nothing.
    Denied,
}

/// One client host's loop of random calls.
pub struct Worker {
    host: String,
    role: Role,
    client: ApiClient,
    recorder: ApiRecorder,
    shared: Shared,
    rng: SimRng,
    /// Calls made, for unique names and markers.
    count: u64,
}

impl Worker {
    pub fn new(
        host: &str,
        role: Role,
        client: ApiClient,
        recorder: ApiRecorder,
        shared: Shared,
        seed: u64,
        stream: u64,
    ) -> Self {
        Worker {
            host: host.to_owned(),
            role,
            client,
            recorder,
            shared,
            rng: SimRng::new(seed, 0x7069_7065_0000 + stream),
            count: 0,
        }
    }

    pub async fn run(mut self) -> anyhow::Result<()> {
        let _running = Running::enter(&self.shared, &self.host);
        self.shared.until_ready(Duration::from_secs(120)).await?;
        while !self.shared.stopping() {
            self.count += 1;
            let op = self.next_op();
            self.call(op).await;
            // The refused user is answered at once: a longer pause keeps it from
            // crowding out the others' calls in the history.
            let think = match self.role {
                Role::Denied => self.rng.millis(100, 600),
                _ => self.rng.millis(10, 150),
            };
            tokio::time::sleep(think).await;
        }
        Ok(())
    }

    fn next_op(&mut self) -> (ApiOp, Option<Value>) {
        let marker = format!("{}-{}", self.host, self.count);
        let namespace = NAMESPACE.to_owned();
        // create, update, stale update, patch, delete, get, list
        let weights = match self.role {
            Role::Denied => [6, 2, 0, 2, 1, 1, 1],
            _ => [30, 14, 8, 12, 6, 12, 8],
        };
        let choice = self.rng.weighted(&weights);
        let picked = if (1..=5).contains(&choice) {
            self.shared.pick(&mut self.rng)
        } else {
            None
        };
        match (choice, picked) {
            (1 | 2, Some((name, object, versions))) => {
                let stale = choice == 2 && versions.len() >= 2;
                let resource_version = if stale {
                    versions[self.rng.below(versions.len() as u64 - 1) as usize]
                } else {
                    versions.last().copied().unwrap_or_default()
                };
                let mut body = object;
                body["metadata"]["resourceVersion"] = json!(resource_version.to_string());
                body["metadata"]["annotations"][MARKER] = json!(marker);
                let op = ApiOp::Update {
                    namespace,
                    name,
                    marker,
                    resource_version,
                    stale,
                };
                (op, Some(body))
            }
            (3, Some((name, _, _))) => (
                ApiOp::Patch {
                    namespace,
                    name,
                    marker: marker.clone(),
                },
                Some(json!({"metadata": {"annotations": {MARKER: marker}}})),
            ),
            (4, Some((name, _, _))) => (ApiOp::Delete { namespace, name }, None),
            (5, Some((name, _, _))) => (ApiOp::Get { namespace, name }, None),
            (6, _) => (ApiOp::List { namespace }, None),
            _ => {
                let privileged = self.rng.chance(0.3);
                let name = marker.clone();
                let body = pod(&name, &marker, privileged);
                let op = ApiOp::Create {
                    namespace,
                    name,
                    marker,
                    privileged,
                };
                (op, Some(body))
            }
        }
    }

    async fn call(&mut self, (op, body): (ApiOp, Option<Value>)) {
        let (method, path, content_type) = request_line(&op);
        let id = self
            .recorder
            .invoke(&self.host, &self.client.user, op.clone());
        let result = self
            .client
            .call(method, &path, content_type, body.as_ref())
            .await;
        let outcome = match result {
            Ok(reply) => {
                self.learn(&op, &reply);
                outcome(&reply)
            }
            Err(e) => ApiOutcome::NoAnswer(format!("{e:#}")),
        };
        self.recorder.complete(id, outcome);
    }

    /// What a successful answer tells the other clients.
    fn learn(&self, op: &ApiOp, reply: &Reply) {
        if !reply.ok() {
            return;
        }
        match op {
            ApiOp::Delete { name, .. } => self.shared.deleted(name),
            ApiOp::List { .. } => {
                for item in items(&reply.body) {
                    self.shared.saw(item);
                }
            }
            _ => self.shared.saw(&reply.body),
        }
    }
}

/// Method, path and content type of `op`.
fn request_line(op: &ApiOp) -> (&'static str, String, &'static str) {
    let json = "application/json";
    match op {
        ApiOp::Create { namespace, .. } => {
            ("POST", format!("/api/v1/namespaces/{namespace}/pods"), json)
        }
        ApiOp::Update {
            namespace, name, ..
        } => (
            "PUT",
            format!("/api/v1/namespaces/{namespace}/pods/{name}"),
            json,
        ),
        ApiOp::Patch {
            namespace, name, ..
        } => (
            "PATCH",
            format!("/api/v1/namespaces/{namespace}/pods/{name}"),
            "application/merge-patch+json",
        ),
        ApiOp::Delete { namespace, name } => (
            "DELETE",
            format!("/api/v1/namespaces/{namespace}/pods/{name}?gracePeriodSeconds=0"),
            json,
        ),
        ApiOp::Get { namespace, name } => (
            "GET",
            format!("/api/v1/namespaces/{namespace}/pods/{name}"),
            json,
        ),
        ApiOp::List { namespace } => ("GET", format!("/api/v1/namespaces/{namespace}/pods"), json),
    }
}

fn items(body: &Value) -> &[Value] {
    body.get("items")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The outcome an answer records: the pods it shows (one object, or a list's items).
pub fn outcome(reply: &Reply) -> ApiOutcome {
    let resource_version = reply.resource_version().and_then(|rv| rv.parse().ok());
    let pods = if reply.body.get("kind").and_then(Value::as_str) == Some("Pod") {
        PodSeen::from_json(&reply.body).into_iter().collect()
    } else {
        items(&reply.body)
            .iter()
            .filter_map(PodSeen::from_json)
            .collect()
    };
    ApiOutcome::Answered {
        code: reply.code,
        resource_version,
        message: reply.message(),
        pods,
        webhook_calls: reply.webhook_calls.clone(),
    }
}

/// A watcher of [`NAMESPACE`]'s pods: lists, watches from the list's resourceVersion, and on
/// every end of the stream resumes from the last event's; relists after a 410.
pub struct Watcher {
    host: String,
    client: ApiClient,
    recorder: ApiRecorder,
    shared: Shared,
    rng: SimRng,
}

impl Watcher {
    pub fn new(
        host: &str,
        client: ApiClient,
        recorder: ApiRecorder,
        shared: Shared,
        seed: u64,
    ) -> Self {
        Watcher {
            host: host.to_owned(),
            client,
            recorder,
            shared,
            rng: SimRng::new(seed, 0x7761_7463_6800),
        }
    }

    pub async fn run(mut self) -> anyhow::Result<()> {
        let _running = Running::enter(&self.shared, &self.host);
        self.shared.until_ready(Duration::from_secs(120)).await?;
        let mut from: Option<u64> = None;
        while !self.shared.stopping() {
            let (start, relisted) = match from {
                Some(rv) => (rv, false),
                None => match self.list().await {
                    Some(rv) => (rv, true),
                    None => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                },
            };
            let mut session = self.session(start, relisted).await;
            session.ended_at = now();
            from = if session.gone() || session.ended.starts_with("refused") {
                None
            } else {
                Some(
                    session
                        .events
                        .last()
                        .map_or(start, |e| e.pod.resource_version),
                )
            };
            if !session.ended.starts_with("closed") {
                tokio::time::sleep(self.rng.millis(50, 300)).await;
            }
            self.recorder.watch(session);
        }
        Ok(())
    }

    /// A recorded consistent list; its resourceVersion.
    async fn list(&self) -> Option<u64> {
        let op = ApiOp::List {
            namespace: NAMESPACE.to_owned(),
        };
        let (method, path, content_type) = request_line(&op);
        let id = self.recorder.invoke(&self.host, &self.client.user, op);
        match self.client.call(method, &path, content_type, None).await {
            Ok(reply) => {
                self.recorder.complete(id, outcome(&reply));
                if reply.ok() {
                    reply.resource_version().and_then(|rv| rv.parse().ok())
                } else {
                    None
                }
            }
            Err(e) => {
                self.recorder
                    .complete(id, ApiOutcome::NoAnswer(format!("{e:#}")));
                None
            }
        }
    }

    async fn session(&mut self, from: u64, relisted: bool) -> WatchSession {
        let timeout_seconds = self.rng.between(2, 6);
        let path = format!(
            "/api/v1/namespaces/{NAMESPACE}/pods?watch=1&resourceVersion={from}&timeoutSeconds={timeout_seconds}"
        );
        let mut session = WatchSession {
            watcher: self.host.clone(),
            namespace: NAMESPACE.to_owned(),
            from,
            relisted,
            opened: now(),
            events: Vec::new(),
            ended: String::new(),
            ended_at: now(),
        };
        let mut stream = match self.client.watch(&path).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(reply)) if reply.code == 410 => {
                session.ended = "410".to_owned();
                return session;
            }
            Ok(Err(reply)) => {
                session.ended = format!("refused {}", reply.code);
                return session;
            }
            Err(e) => {
                session.ended = format!("error: {e:#}");
                return session;
            }
        };
        // The server ends the stream after timeoutSeconds; a partition would leave it
        // silent forever (turmoil's TCP never retransmits), so the client bounds it too.
        let bound = Duration::from_secs(timeout_seconds + 3);
        let deadline = tokio::time::Instant::now() + bound;
        session.ended = loop {
            if self.shared.stopping() {
                break "stopped".to_owned();
            }
            let next = tokio::time::timeout_at(deadline, stream.next()).await;
            let event = match next {
                Err(_) => break "error: silent past timeoutSeconds".to_owned(),
                Ok(Err(e)) => break format!("error: {e:#}"),
                Ok(Ok(None)) => break "closed".to_owned(),
                Ok(Ok(Some(event))) => event,
            };
            let kind = event
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let object = event.get("object").unwrap_or(&Value::Null);
            if kind == "ERROR" {
                let code = object.get("code").and_then(Value::as_u64).unwrap_or(0);
                break if code == 410 {
                    "410".to_owned()
                } else {
                    format!("error event {code}")
                };
            }
            match PodSeen::from_json(object) {
                Some(pod) => session.events.push(WatchEvent {
                    at: now(),
                    kind: kind.to_owned(),
                    pod,
                }),
                None => break format!("error: an event without a pod: {kind}"),
            }
        };
        session
    }
}
