//! [`ApiHistory`]: what the pipeline's clients asked the API server and what they got back,
//! every watch session and every fault, in simulated time. The API checkers
//! (`crate::check::api`) read nothing else.
//!
//! Each object a client creates has a unique name, and each write puts a unique value in the
//! annotation [`MARKER`], so a value seen later names the write that stored it.
//! resourceVersions are compared as numbers: kubesim's are etcd revisions, as kube's are;
//! clients must not rely on that, but a checker may.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use serde_json::Value;

use crate::history::{Time, now};

/// The annotation each write sets to its own unique value.
pub const MARKER: &str = "sim.kubesim.io/marker";
/// What the API server's answer says when its call to the authz service failed (refused,
/// timed out, cut off): a 500 that names the failure, as kube's authorization filter answers
/// an authorizer's error (`kubesim_authz::webhook`'s words).
pub const AUTHZ_FAILURE: &str = "failed calling authorization webhook";

/// What a client asked for. `namespace`/`name` name a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiOp {
    /// POST of a new pod; `privileged`: its container asks for privileged mode, which the
    /// `no-privileged` webhook (failurePolicy Fail) refuses.
    Create {
        namespace: String,
        name: String,
        marker: String,
        privileged: bool,
    },
    /// PUT with `resource_version`; `stale`: an older resourceVersion than a write that had
    /// completed before this call began.
    Update {
        namespace: String,
        name: String,
        marker: String,
        resource_version: u64,
        stale: bool,
    },
    /// A merge patch of the marker.
    Patch {
        namespace: String,
        name: String,
        marker: String,
    },
    Delete {
        namespace: String,
        name: String,
    },
    Get {
        namespace: String,
        name: String,
    },
    /// A consistent list (no resourceVersion).
    List {
        namespace: String,
    },
}

impl ApiOp {
    /// The marker this call writes, if it writes one.
    pub fn marker(&self) -> Option<&str> {
        match self {
            ApiOp::Create { marker, .. }
            | ApiOp::Update { marker, .. }
            | ApiOp::Patch { marker, .. } => Some(marker),
            _ => None,
        }
    }

    /// The pod this call is about, if one.
    pub fn name(&self) -> Option<&str> {
        match self {
            ApiOp::Create { name, .. }
            | ApiOp::Update { name, .. }
            | ApiOp::Patch { name, .. }
            | ApiOp::Delete { name, .. }
            | ApiOp::Get { name, .. } => Some(name),
            ApiOp::List { .. } => None,
        }
    }
}

impl fmt::Display for ApiOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiOp::Create {
                namespace,
                name,
                marker,
                privileged,
            } => write!(
                f,
                "create {namespace}/{name} marker {marker}{}",
                if *privileged { " privileged" } else { "" }
            ),
            ApiOp::Update {
                namespace,
                name,
                marker,
                resource_version,
                stale,
            } => write!(
                f,
                "update {namespace}/{name} marker {marker} at rv {resource_version}{}",
                if *stale { " (stale)" } else { "" }
            ),
            ApiOp::Patch {
                namespace,
                name,
                marker,
            } => write!(f, "patch {namespace}/{name} marker {marker}"),
            ApiOp::Delete { namespace, name } => write!(f, "delete {namespace}/{name}"),
            ApiOp::Get { namespace, name } => write!(f, "get {namespace}/{name}"),
            ApiOp::List { namespace } => write!(f, "list {namespace}"),
        }
    }
}

/// A pod as an answer or an event showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSeen {
    pub name: String,
    pub resource_version: u64,
    pub marker: String,
    /// A container asks for privileged mode.
    pub privileged: bool,
}

impl PodSeen {
    /// The pod in `object`, if it is one with a name and a numeric resourceVersion.
    pub fn from_json(object: &Value) -> Option<PodSeen> {
        let metadata = object.get("metadata")?;
        let name = metadata.get("name")?.as_str()?.to_owned();
        let resource_version = metadata.get("resourceVersion")?.as_str()?.parse().ok()?;
        let marker = metadata
            .pointer(&format!("/annotations/{}", MARKER.replace('/', "~1")))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let privileged = ["containers", "initContainers"].iter().any(|list| {
            object
                .pointer(&format!("/spec/{list}"))
                .and_then(Value::as_array)
                .is_some_and(|containers| {
                    containers.iter().any(|c| {
                        c.pointer("/securityContext/privileged") == Some(&Value::Bool(true))
                    })
                })
        });
        Some(PodSeen {
            name,
            resource_version,
            marker,
            privileged,
        })
    }
}

impl fmt::Display for PodSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{} marker {}{}",
            self.name,
            self.resource_version,
            self.marker,
            if self.privileged { " privileged" } else { "" }
        )
    }
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiOutcome {
    /// Not finished when the run ended.
    Pending,
    /// An answer: its code, the resourceVersion of the object or list, the Status message,
    /// and the pods it showed.
    Answered {
        code: u16,
        resource_version: Option<u64>,
        message: String,
        pods: Vec<PodSeen>,
        /// Each admission webhook call and how long it took (the API server's
        /// `Server-Timing`).
        webhook_calls: Vec<(String, Duration)>,
    },
    /// No answer (timeout, refused or reset connection): it may or may not have applied.
    NoAnswer(String),
}

/// One call.
#[derive(Debug, Clone)]
pub struct ApiCall {
    pub id: usize,
    /// The client host.
    pub client: String,
    /// The identity it spoke as.
    pub user: String,
    pub op: ApiOp,
    pub start: Time,
    pub end: Option<Time>,
    pub outcome: ApiOutcome,
}

impl ApiCall {
    /// The answer's code, if one came.
    pub fn code(&self) -> Option<u16> {
        match &self.outcome {
            ApiOutcome::Answered { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn succeeded(&self) -> bool {
        self.code().is_some_and(|c| (200..300).contains(&c))
    }

    pub fn message(&self) -> &str {
        match &self.outcome {
            ApiOutcome::Answered { message, .. } => message,
            _ => "",
        }
    }

    pub fn pods(&self) -> &[PodSeen] {
        match &self.outcome {
            ApiOutcome::Answered { pods, .. } => pods,
            _ => &[],
        }
    }

    /// The admission webhook calls the answer reported, with their durations.
    pub fn webhook_calls(&self) -> &[(String, Duration)] {
        match &self.outcome {
            ApiOutcome::Answered { webhook_calls, .. } => webhook_calls,
            _ => &[],
        }
    }

    /// Refused because the API server could not ask the authz service: nothing ran past
    /// authorization.
    pub fn authz_failed(&self) -> bool {
        self.code() == Some(500) && self.message().contains(AUTHZ_FAILURE)
    }

    pub fn resource_version(&self) -> Option<u64> {
        match &self.outcome {
            ApiOutcome::Answered {
                resource_version, ..
            } => *resource_version,
            _ => None,
        }
    }
}

impl fmt::Display for ApiCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = self
            .end
            .map_or_else(|| "-".to_owned(), |t| format!("{:.3}s", t.as_secs_f64()));
        write!(
            f,
            "#{} {:.3}s..{end} {} as {}: {} -> ",
            self.id,
            self.start.as_secs_f64(),
            self.client,
            self.user,
            self.op
        )?;
        match &self.outcome {
            ApiOutcome::Pending => write!(f, "pending"),
            ApiOutcome::NoAnswer(why) => write!(f, "no answer ({why})"),
            ApiOutcome::Answered {
                code,
                resource_version,
                message,
                pods,
                webhook_calls,
            } => {
                write!(f, "{code}")?;
                if let Some(rv) = resource_version {
                    write!(f, " rv {rv}")?;
                }
                if !message.is_empty() {
                    write!(f, " {message:?}")?;
                }
                let pods: Vec<String> = pods.iter().map(ToString::to_string).collect();
                if !pods.is_empty() {
                    write!(f, " [{}]", pods.join(", "))?;
                }
                let calls: Vec<String> = webhook_calls
                    .iter()
                    .map(|(name, took)| format!("{name} {:.3}s", took.as_secs_f64()))
                    .collect();
                if !calls.is_empty() {
                    write!(f, " webhooks({})", calls.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

/// One watch event as a watcher saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    pub at: Time,
    /// ADDED, MODIFIED, DELETED.
    pub kind: String,
    pub pod: PodSeen,
}

/// One watch request and what it streamed.
#[derive(Debug, Clone)]
pub struct WatchSession {
    pub watcher: String,
    pub namespace: String,
    /// The resourceVersion it watched from.
    pub from: u64,
    /// Whether `from` came from a fresh list (after a start or a 410) rather than the last
    /// event of the session before.
    pub relisted: bool,
    pub opened: Time,
    pub events: Vec<WatchEvent>,
    /// How it ended: `closed`, `410`, `refused <code>`, `error: ...`, `stopped`.
    pub ended: String,
    /// When it ended.
    pub ended_at: Time,
}

impl WatchSession {
    pub fn gone(&self) -> bool {
        self.ended == "410"
    }
}

/// A fault the nemesis injected, or a phase it entered.
#[derive(Debug, Clone)]
pub struct FaultRecord {
    pub at: Time,
    pub what: String,
}

/// The name of the fault that restarts the API server (`inject <name>`).
pub const APISERVER_RESTART: &str = "BounceApiServer";

/// The name of the fault that cuts `client` off from the API server.
pub fn client_partition(client: &str) -> String {
    format!("PartitionClient({client})")
}

/// The record of a compaction of the store at `revision`.
pub fn compaction_record(revision: u64) -> String {
    format!("compact at {revision}")
}

impl FaultRecord {
    /// The revision the store was compacted at, if this records a compaction.
    pub fn compacted_at(&self) -> Option<u64> {
        self.what.strip_prefix("compact at ")?.parse().ok()
    }

    /// The fault this record injects, if it injects one.
    pub fn injected(&self) -> Option<&str> {
        self.what.strip_prefix("inject ")
    }

    /// The fault this record heals, if it heals one.
    pub fn healed(&self) -> Option<&str> {
        self.what.strip_prefix("heal ")
    }
}

/// The bounds the run was configured with, for the deadline checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bounds {
    /// The API server's `--request-timeout`.
    pub request_timeout: Duration,
    /// How much longer than a bound a call may take: network latency, TLS handshakes.
    pub slack: Duration,
    /// The longest timeoutSeconds of any webhook: the most one webhook call may take.
    pub webhook_timeout: Duration,
    /// The API server's bound on one call to the authz service.
    pub authz_timeout: Duration,
}

/// The record of a pipeline run.
#[derive(Debug, Clone, Default)]
pub struct ApiHistory {
    pub calls: Vec<ApiCall>,
    pub watches: Vec<WatchSession>,
    pub faults: Vec<FaultRecord>,
    pub bounds: Bounds,
    /// When the fault phase ended.
    pub healed_at: Option<Time>,
}

impl ApiHistory {
    /// Watch sessions that ended with 410, and how many of those the watcher followed with
    /// a relist: for the run's record, to show property 12's 410 path was taken.
    pub fn watch_summary(&self) -> String {
        let mut gone = 0;
        let mut relisted = 0;
        for (index, session) in self.watches.iter().enumerate() {
            if !session.gone() {
                continue;
            }
            gone += 1;
            let next = self.watches[index + 1..]
                .iter()
                .find(|s| s.watcher == session.watcher);
            relisted += usize::from(next.is_some_and(|s| s.relisted));
        }
        format!("watch sessions ended 410: {gone} (followed by a relist: {relisted})")
    }
}

/// Shared by every client of a run.
#[derive(Debug, Clone, Default)]
pub struct ApiRecorder {
    inner: Rc<RefCell<ApiHistory>>,
}

impl ApiRecorder {
    pub fn new(bounds: Bounds) -> Self {
        let recorder = ApiRecorder::default();
        recorder.inner.borrow_mut().bounds = bounds;
        recorder
    }

    pub fn invoke(&self, client: &str, user: &str, op: ApiOp) -> usize {
        let mut history = self.inner.borrow_mut();
        let id = history.calls.len();
        history.calls.push(ApiCall {
            id,
            client: client.to_owned(),
            user: user.to_owned(),
            op,
            start: now(),
            end: None,
            outcome: ApiOutcome::Pending,
        });
        id
    }

    pub fn complete(&self, id: usize, outcome: ApiOutcome) {
        if let Some(call) = self.inner.borrow_mut().calls.get_mut(id) {
            call.end = Some(now());
            call.outcome = outcome;
        }
    }

    pub fn watch(&self, session: WatchSession) {
        self.inner.borrow_mut().watches.push(session);
    }

    pub fn fault(&self, what: impl Into<String>) {
        let what = what.into();
        tracing::info!(%what, "pipeline fault");
        self.inner
            .borrow_mut()
            .faults
            .push(FaultRecord { at: now(), what });
    }

    pub fn healed(&self) {
        self.inner.borrow_mut().healed_at = Some(now());
    }

    pub fn history(&self) -> ApiHistory {
        self.inner.borrow().clone()
    }
}

/// The lines the trace hash is taken over: calls, watch sessions and faults.
pub fn trace_lines(history: &ApiHistory) -> Vec<String> {
    let calls = history.calls.iter().map(ToString::to_string);
    let watches = history.watches.iter().flat_map(|w| {
        let head = format!(
            "{} {} from {}{} at {:.3}s, ended {}",
            w.watcher,
            w.namespace,
            w.from,
            if w.relisted { " (list)" } else { "" },
            w.opened.as_secs_f64(),
            w.ended
        );
        let events = w
            .events
            .iter()
            .map(|e| format!("  {:.3}s {} {}", e.at.as_secs_f64(), e.kind, e.pod));
        std::iter::once(head).chain(events)
    });
    let faults = history
        .faults
        .iter()
        .map(|f| format!("{:.3}s {}", f.at.as_secs_f64(), f.what));
    calls.chain(watches).chain(faults).collect()
}
