//! The workload: clients that call random members with random etcd operations, and
//! watchers that disconnect and resume, every call and response recorded in the
//! [`Recorder`].
//!
//! A client never retries a call: a call that fails without saying whether it was applied
//! is recorded as unknown, and the checkers allow for it either way. Values are unique
//! (`c<client>-<n>`), so a value read names the write that wrote it.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use kubesim_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use kubesim_proto::etcdserverpb::kv_client::KvClient;
use kubesim_proto::etcdserverpb::lease_client::LeaseClient;
use kubesim_proto::etcdserverpb::request_op::Request;
use kubesim_proto::etcdserverpb::response_op::Response;
use kubesim_proto::etcdserverpb::watch_client::WatchClient;
use kubesim_proto::etcdserverpb::watch_request::RequestUnion;
use kubesim_proto::etcdserverpb::{
    CompactionRequest, Compare, DeleteRangeRequest, LeaseGrantRequest, PutRequest, RangeRequest,
    RequestOp, ResponseHeader, TxnRequest, WatchCreateRequest, WatchProgressRequest, WatchRequest,
};
use tokio::sync::mpsc;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::client::member_channel;
use crate::history::{self, KvRead, Op, Outcome, Recorder, WatchResponse, WatchSession, Watcher};
use crate::rng::SimRng;

/// The prefix of every key the KV clients use; watchers watch it.
pub const KEY_PREFIX: &str = "k/";
/// The prefix of keys attached to leases (kept apart: they vanish when the lease expires).
pub const LEASE_PREFIX: &str = "lease/";

/// The shape of the workload.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// KV clients (`client-1` ..).
    pub clients: usize,
    /// Watching clients (`watcher-1` ..).
    pub watchers: usize,
    /// Distinct keys under [`KEY_PREFIX`]. Few keys mean many calls per key: contention.
    pub keys: usize,
    /// A call that has not answered by then is unknown.
    pub call_timeout: Duration,
    /// Most time a client waits between two calls.
    pub max_think: Duration,
    /// Whether clients compact now and then.
    pub compaction: bool,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            clients: 4,
            watchers: 2,
            keys: 6,
            call_timeout: Duration::from_secs(3),
            max_think: Duration::from_millis(40),
            compaction: true,
        }
    }
}

/// Shared between the workload and the nemesis: when to stop, and who is still running.
#[derive(Debug, Clone, Default)]
pub struct Phase {
    stopping: Rc<Cell<bool>>,
    running: Rc<Cell<usize>>,
}

impl Phase {
    /// Asks every workload task to finish its call in flight and stop.
    pub fn stop(&self) {
        self.stopping.set(true);
    }

    pub fn stopping(&self) -> bool {
        self.stopping.get()
    }

    /// Workload tasks that have not finished yet.
    pub fn running(&self) -> usize {
        self.running.get()
    }

    /// Marks a task as running until the guard drops.
    pub fn enter(&self) -> RunningGuard {
        self.running.set(self.running.get() + 1);
        RunningGuard(self.running.clone())
    }
}

/// Counts a workload task as running while it lives.
pub struct RunningGuard(Rc<Cell<usize>>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

/// The gRPC clients of one member.
#[derive(Clone)]
struct Stubs {
    kv: KvClient<Channel>,
    lease: LeaseClient<Channel>,
}

impl Stubs {
    fn new(member: &str) -> anyhow::Result<Self> {
        let channel = member_channel(member)?;
        Ok(Stubs {
            kv: KvClient::new(channel.clone()),
            lease: LeaseClient::new(channel),
        })
    }
}

/// One KV client.
pub struct Client {
    name: String,
    index: u64,
    members: Vec<(String, Stubs)>,
    recorder: Recorder,
    phase: Phase,
    config: WorkloadConfig,
    rng: SimRng,
    /// Values written so far (for unique values).
    writes: u64,
    /// The newest header revision this client saw: where past reads and compactions aim.
    seen_revision: i64,
    /// mod_revisions this client read, by key: what a CAS on mod_revision compares against.
    last_mod_revision: Vec<i64>,
}

impl Client {
    pub fn new(
        index: u64,
        members: &[String],
        recorder: Recorder,
        phase: Phase,
        config: WorkloadConfig,
        seed: u64,
    ) -> anyhow::Result<Self> {
        let members = members
            .iter()
            .map(|m| Ok((m.clone(), Stubs::new(m)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Client {
            name: format!("client-{index}"),
            index,
            members,
            recorder,
            phase,
            last_mod_revision: vec![0; config.keys],
            config,
            rng: SimRng::new(seed, 100 + index),
            writes: 0,
            seen_revision: 1,
        })
    }

    /// Calls until the phase stops.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let _running = self.phase.enter();
        while !self.phase.stopping() {
            let op = self.next_op();
            let member = self.rng.below(self.members.len() as u64) as usize;
            let outcome = self.call(member, op.clone()).await;
            if let (Op::LeaseGrant { .. }, Outcome::LeaseGranted { id, .. }) = (&op, &outcome) {
                // A key on the new lease: it must vanish when the lease expires.
                let key = format!("{LEASE_PREFIX}{}-{}", self.index, self.writes);
                let value = self.next_value();
                let put = Op::Put {
                    key,
                    value,
                    lease: *id,
                };
                self.call(member, put).await;
            }
            let think = self.config.max_think.as_millis() as u64;
            tokio::time::sleep(self.rng.millis(0, think)).await;
        }
        Ok(())
    }

    fn next_value(&mut self) -> String {
        self.writes += 1;
        format!("c{}-{}", self.index, self.writes)
    }

    fn next_op(&mut self) -> Op {
        let slot = self.rng.below(self.config.keys as u64) as usize;
        let key = format!("{KEY_PREFIX}{slot}");
        // put, get (linearizable), get (serializable), cas value, cas revision, delete,
        // range at a past revision, lease, compact.
        let compact = if self.config.compaction { 1 } else { 0 };
        let weights = [26, 22, 10, 12, 6, 8, 8, 2, compact];
        match self.rng.weighted(&weights) {
            0 => Op::Put {
                key,
                value: self.next_value(),
                lease: 0,
            },
            1 => Op::Get {
                key,
                serializable: false,
            },
            2 => Op::Get {
                key,
                serializable: true,
            },
            3 => {
                // Compare against a value that may well be current: the last one this
                // client wrote to any key, or absent.
                let expected = if self.rng.chance(0.3) || self.writes == 0 {
                    None
                } else {
                    let n = self.writes - self.rng.below(self.writes.min(3));
                    Some(format!("c{}-{n}", self.index))
                };
                Op::CasValue {
                    key,
                    expected,
                    new: self.next_value(),
                }
            }
            4 => Op::CasRevision {
                expected: self.last_mod_revision[slot],
                key,
                new: self.next_value(),
            },
            5 => Op::Delete { key },
            6 => Op::RangeAt {
                prefix: KEY_PREFIX.to_owned(),
                revision: 1 + self.rng.below(self.seen_revision.max(1) as u64 + 2) as i64,
            },
            7 => Op::LeaseGrant {
                ttl: self.rng.between(2, 5) as i64,
            },
            _ => Op::Compact {
                // Well behind the head, so most past reads still find their revision.
                revision: (self.seen_revision - 100).max(1),
            },
        }
    }

    /// Makes one call through `member`, recorded from invoke to outcome.
    async fn call(&mut self, member: usize, op: Op) -> Outcome {
        let (name, stubs) = &self.members[member];
        let id = self.recorder.invoke(&self.name, name, op.clone());
        let outcome =
            match tokio::time::timeout(self.config.call_timeout, execute(stubs.clone(), &op)).await
            {
                Ok(outcome) => outcome,
                Err(_) if op.is_write() => Outcome::Unknown("timed out".to_owned()),
                Err(_) => Outcome::Failed("timed out".to_owned()),
            };
        self.learn(&op, &outcome);
        self.recorder.complete(id, outcome.clone());
        outcome
    }

    /// Remembers the newest revision seen and the mod_revisions read.
    fn learn(&mut self, op: &Op, outcome: &Outcome) {
        let revision = match outcome {
            Outcome::Put { revision }
            | Outcome::Get { revision, .. }
            | Outcome::Cas { revision, .. }
            | Outcome::Delete { revision, .. }
            | Outcome::RangeAt { revision, .. }
            | Outcome::CompactDone { revision } => *revision,
            _ => return,
        };
        self.seen_revision = self.seen_revision.max(revision);
        let slot = op
            .key()
            .and_then(|k| k.strip_prefix(KEY_PREFIX))
            .and_then(|s| s.parse::<usize>().ok());
        let Some(slot) = slot.filter(|s| *s < self.last_mod_revision.len()) else {
            return;
        };
        match outcome {
            Outcome::Get { kv, .. } | Outcome::Cas { kv, .. } => {
                self.last_mod_revision[slot] = kv.as_ref().map_or(0, |kv| kv.mod_revision);
            }
            Outcome::Put { revision } => self.last_mod_revision[slot] = *revision,
            _ => {}
        }
    }
}

fn header_revision(header: Option<&ResponseHeader>) -> i64 {
    header.map_or(0, |h| h.revision)
}

/// What a failed call tells: for a write, anything but a clear refusal leaves it unknown.
fn failed(status: &Status, write: bool) -> Outcome {
    let what = format!("{:?}: {}", status.code(), status.message());
    let definite = matches!(
        status.code(),
        Code::InvalidArgument
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::ResourceExhausted
            | Code::Unimplemented
    );
    if write && !definite {
        Outcome::Unknown(what)
    } else {
        Outcome::Failed(what)
    }
}

/// Runs `op` once against one member.
async fn execute(mut stubs: Stubs, op: &Op) -> Outcome {
    match op {
        Op::Put { key, value, lease } => {
            let request = PutRequest {
                key: key.clone().into_bytes(),
                value: value.clone().into_bytes(),
                lease: *lease,
                ..Default::default()
            };
            match stubs.kv.put(request).await {
                Ok(r) => Outcome::Put {
                    revision: header_revision(r.get_ref().header.as_ref()),
                },
                Err(status) => failed(&status, true),
            }
        }
        Op::Get { key, serializable } => {
            let request = RangeRequest {
                key: key.clone().into_bytes(),
                serializable: *serializable,
                ..Default::default()
            };
            match stubs.kv.range(request).await {
                Ok(r) => {
                    let r = r.into_inner();
                    Outcome::Get {
                        revision: header_revision(r.header.as_ref()),
                        kv: r.kvs.first().map(KvRead::from),
                    }
                }
                Err(status) => failed(&status, false),
            }
        }
        Op::CasValue { key, expected, new } => {
            let compare = match expected {
                Some(value) => Compare {
                    result: CompareResult::Equal as i32,
                    target: CompareTarget::Value as i32,
                    key: key.clone().into_bytes(),
                    target_union: Some(TargetUnion::Value(value.clone().into_bytes())),
                    ..Default::default()
                },
                None => absent(key),
            };
            cas(&mut stubs, key, new, compare).await
        }
        Op::CasRevision { key, expected, new } => {
            let compare = Compare {
                result: CompareResult::Equal as i32,
                target: CompareTarget::Mod as i32,
                key: key.clone().into_bytes(),
                target_union: Some(TargetUnion::ModRevision(*expected)),
                ..Default::default()
            };
            cas(&mut stubs, key, new, compare).await
        }
        Op::Delete { key } => {
            let request = DeleteRangeRequest {
                key: key.clone().into_bytes(),
                ..Default::default()
            };
            match stubs.kv.delete_range(request).await {
                Ok(r) => Outcome::Delete {
                    revision: header_revision(r.get_ref().header.as_ref()),
                    deleted: r.get_ref().deleted,
                },
                Err(status) => failed(&status, true),
            }
        }
        Op::RangeAt { prefix, revision } => {
            let request = RangeRequest {
                key: prefix.clone().into_bytes(),
                range_end: kubesim_proto::prefix_range_end(prefix.as_bytes()),
                revision: *revision,
                ..Default::default()
            };
            match stubs.kv.range(request).await {
                Ok(r) => {
                    let r = r.into_inner();
                    Outcome::RangeAt {
                        revision: header_revision(r.header.as_ref()),
                        kvs: r.kvs.iter().map(KvRead::from).collect(),
                    }
                }
                Err(status) if status.message().contains("compacted") => Outcome::Compacted,
                Err(status) if status.message().contains("future revision") => {
                    Outcome::FutureRevision
                }
                Err(status) => failed(&status, false),
            }
        }
        Op::LeaseGrant { ttl } => {
            let request = LeaseGrantRequest { ttl: *ttl, id: 0 };
            match stubs.lease.lease_grant(request).await {
                Ok(r) => Outcome::LeaseGranted {
                    id: r.get_ref().id,
                    ttl: r.get_ref().ttl,
                },
                Err(status) => failed(&status, true),
            }
        }
        Op::Compact { revision } => {
            let request = CompactionRequest {
                revision: *revision,
                physical: false,
            };
            match stubs.kv.compact(request).await {
                Ok(r) => Outcome::CompactDone {
                    revision: header_revision(r.get_ref().header.as_ref()),
                },
                Err(status) => failed(&status, true),
            }
        }
    }
}

/// The compare "key does not exist" (its create_revision is 0), etcd's idiom.
fn absent(key: &str) -> Compare {
    Compare {
        result: CompareResult::Equal as i32,
        target: CompareTarget::Create as i32,
        key: key.as_bytes().to_vec(),
        target_union: Some(TargetUnion::CreateRevision(0)),
        ..Default::default()
    }
}

/// Txn: if `compare` then put `key=new` else range `key`.
async fn cas(stubs: &mut Stubs, key: &str, new: &str, compare: Compare) -> Outcome {
    let put = PutRequest {
        key: key.as_bytes().to_vec(),
        value: new.as_bytes().to_vec(),
        ..Default::default()
    };
    let get = RangeRequest {
        key: key.as_bytes().to_vec(),
        ..Default::default()
    };
    let request = TxnRequest {
        compare: vec![compare],
        success: vec![RequestOp {
            request: Some(Request::RequestPut(put)),
        }],
        failure: vec![RequestOp {
            request: Some(Request::RequestRange(get)),
        }],
    };
    match stubs.kv.txn(request).await {
        Ok(r) => {
            let r = r.into_inner();
            let kv = r.responses.first().and_then(|op| match &op.response {
                Some(Response::ResponseRange(range)) => range.kvs.first().map(KvRead::from),
                _ => None,
            });
            Outcome::Cas {
                revision: header_revision(r.header.as_ref()),
                succeeded: r.succeeded,
                kv,
            }
        }
        Err(status) => failed(&status, true),
    }
}

/// A watching client: watches [`KEY_PREFIX`] with prev_kv on a random member, asks for
/// progress now and then, disconnects after a while (or when the stream stalls or fails)
/// and resumes from the revision after the last one it saw, on another random member.
pub struct Watching {
    name: String,
    members: Vec<String>,
    recorder: Recorder,
    phase: Phase,
    rng: SimRng,
}

/// How long a watcher waits for any response before it gives the stream up.
const WATCH_STALL: Duration = Duration::from_secs(4);

impl Watching {
    pub fn new(
        index: u64,
        members: &[String],
        recorder: Recorder,
        phase: Phase,
        seed: u64,
    ) -> Self {
        Watching {
            name: format!("watcher-{index}"),
            members: members.to_vec(),
            recorder,
            phase,
            rng: SimRng::new(seed, 200 + index),
        }
    }

    pub async fn run(mut self) -> anyhow::Result<()> {
        let _running = self.phase.enter();
        let mut watcher = Watcher {
            client: self.name.clone(),
            prefix: KEY_PREFIX.to_owned(),
            sessions: Vec::new(),
        };
        // From the first revision: the whole history is then checked against it.
        let mut next = 1;
        while !self.phase.stopping() {
            let member = self.rng.pick(&self.members).cloned().unwrap_or_default();
            let lifetime = self.rng.millis(500, 8000);
            let session = self.session(&member, next, lifetime).await;
            if let Some(last) = last_delivered(&session) {
                next = last + 1;
            }
            let compacted = session.responses.iter().any(|r| r.compact_revision > 0);
            watcher.sessions.push(session);
            if compacted {
                // Its start revision is gone: the history it could check ends here.
                break;
            }
            tokio::time::sleep(self.rng.millis(0, 300)).await;
        }
        self.recorder.watcher(watcher);
        Ok(())
    }

    /// One watch stream from `start`, for at most `lifetime`.
    async fn session(&mut self, member: &str, start: i64, lifetime: Duration) -> WatchSession {
        let mut session = WatchSession {
            member: member.to_owned(),
            start_revision: start,
            opened: history::now(),
            responses: Vec::new(),
            ended: String::new(),
        };
        session.ended = match self.stream(member, start, lifetime, &mut session).await {
            Ok(why) => why,
            Err(why) => why,
        };
        session
    }

    async fn stream(
        &mut self,
        member: &str,
        start: i64,
        lifetime: Duration,
        session: &mut WatchSession,
    ) -> Result<String, String> {
        let channel = member_channel(member).map_err(|e| format!("{e:#}"))?;
        let mut client = WatchClient::new(channel);
        let (tx, rx) = mpsc::channel::<WatchRequest>(4);
        let create = WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
                key: KEY_PREFIX.as_bytes().to_vec(),
                range_end: kubesim_proto::prefix_range_end(KEY_PREFIX.as_bytes()),
                start_revision: start,
                prev_kv: true,
                ..Default::default()
            })),
        };
        tx.send(create).await.map_err(|_| "request stream closed")?;
        let requests = tokio_stream::wrappers::ReceiverStream::new(rx);
        let mut responses = match tokio::time::timeout(WATCH_STALL, client.watch(requests)).await {
            Ok(Ok(r)) => r.into_inner(),
            Ok(Err(status)) => return Err(format!("watch: {status}")),
            Err(_) => return Err("watch: no answer".to_owned()),
        };
        let deadline = tokio::time::Instant::now() + lifetime;
        let mut progress = tokio::time::interval(Duration::from_millis(700));
        loop {
            if self.phase.stopping() {
                return Ok("end of the workload".to_owned());
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return Ok("disconnect".to_owned()),
                _ = progress.tick() => {
                    let ask = WatchRequest {
                        request_union: Some(RequestUnion::ProgressRequest(WatchProgressRequest {})),
                    };
                    let _ = tx.try_send(ask);
                }
                next = tokio::time::timeout(WATCH_STALL, responses.message()) => {
                    let response = match next {
                        Err(_) => return Err("stalled".to_owned()),
                        Ok(Err(status)) => return Err(format!("stream: {status}")),
                        Ok(Ok(None)) => return Err("stream ended".to_owned()),
                        Ok(Ok(Some(r))) => r,
                    };
                    if response.created && response.events.is_empty() && !response.canceled {
                        continue;
                    }
                    let record = WatchResponse {
                        at: history::now(),
                        header_revision: header_revision(response.header.as_ref()),
                        progress: response.events.is_empty() && !response.canceled,
                        events: response.events,
                        compact_revision: response.compact_revision,
                        canceled: response.canceled,
                    };
                    let canceled = record.canceled;
                    session.responses.push(record);
                    if canceled {
                        return Ok(format!("canceled: {}", response.cancel_reason));
                    }
                }
            }
        }
    }
}

/// The newest revision a session delivered: its last event's.
pub fn last_delivered(session: &WatchSession) -> Option<i64> {
    session
        .responses
        .iter()
        .flat_map(|r| r.events.iter())
        .filter_map(|e| e.kv.as_ref().map(|kv| kv.mod_revision))
        .max()
}
