//! The whole of APF: the current [`Config`], one queue set per priority level, and
//! [`Controller::admit`], which classifies a request and holds it until it may run.
//!
//! The API server calls `Controller::new(server_concurrency_limit)`, [`Controller::apply`]
//! whenever the stored objects change, [`Controller::admit`] for each request, and the
//! functions of [`crate::dump`] for the debug endpoints and the metrics.
//!
//! # Reconfiguration (kube's `cfgMeal`)
//!
//! A level that stays in the configuration keeps its queue set, reconfigured in place: its
//! waiting requests stay queued, a higher limit dispatches at once, a smaller `queues` lets
//! the queues past it drain. A level that leaves the configuration *quiesces*, as in kube:
//! new requests can no longer reach it, but it keeps its last limit and dispatches what it
//! holds until its waiters have run, timed out or gone away, and it shows in the dumps with
//! `IsQuiescing=true` until it is idle. (kube also keeps counting its shares while it
//! drains; here the remaining levels get their new limits at once.) A level that comes back
//! while quiescing takes up its queue set again.
//!
//! The configuration is an immutable snapshot behind an `Arc`: `admit` takes it under a
//! short lock and classifies without one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::config::{CATCH_ALL, Config, LevelKind, LimitResponse, PriorityLevel};
use crate::queueset::{
    Execution, LevelStats, Mode, QueueSet, QueueSetConfig, QueueSetDump, RequestDetails,
    RequestNote,
};
use crate::{Classification, RequestDigest, WorkEstimate, bootstrap, matching, shuffle};

/// kube-apiserver's APF. Shared by every request (`Arc<Controller>`).
#[derive(Debug)]
pub struct Controller {
    /// `--max-requests-inflight` plus `--max-mutating-requests-inflight`: the seats the
    /// limited levels divide by their shares.
    server_concurrency_limit: u32,
    levels: Mutex<Levels>,
    /// Whether the API server has read the stored configuration and written what it owes
    /// (bootstrap objects, each FlowSchema's `Dangling` condition) at least once: kube's
    /// `poststarthook/priority-and-fairness-config-producer` readiness check.
    config_produced: std::sync::atomic::AtomicBool,
}

/// A request admitted to run: its seats are held until this is dropped.
#[derive(Debug)]
pub struct Seat {
    pub classification: Classification,
    /// How long the request waited in its queue.
    pub waited: Duration,
    /// Releases the seats (and dispatches the next waiters) when dropped.
    _execution: Execution,
}

/// A request APF refused: answered 429 with `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub classification: Classification,
    pub reason: RejectReason,
}

/// kube's `reason` label of `apiserver_flowcontrol_rejected_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The level rejects (`limitResponse.type: Reject`) and has no free seats.
    ConcurrencyLimit,
    /// The chosen queue was at `queueLengthLimit`.
    QueueFull,
    /// Waited past the wait limit without getting seats.
    TimeOut,
    /// The request went away while it waited (counted; nobody is left to answer), or its
    /// queue set failed to decide, which only a bug can cause.
    Cancelled,
}

impl RejectReason {
    /// Every reason, in kube's order.
    pub const ALL: [RejectReason; 4] = [
        RejectReason::ConcurrencyLimit,
        RejectReason::QueueFull,
        RejectReason::TimeOut,
        RejectReason::Cancelled,
    ];

    /// kube's label value: `concurrency-limit`, `queue-full`, `time-out`, `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::ConcurrencyLimit => "concurrency-limit",
            RejectReason::QueueFull => "queue-full",
            RejectReason::TimeOut => "time-out",
            RejectReason::Cancelled => "cancelled",
        }
    }
}

/// The levels: those of the current configuration, and those that left it and still drain.
#[derive(Debug)]
struct Levels {
    current: Arc<Generation>,
    /// By name. Bounded by the levels ever configured; each leaves once idle.
    quiescing: BTreeMap<String, Arc<QueueSet>>,
}

/// One configuration and its levels' queue sets.
#[derive(Debug, Default)]
struct Generation {
    config: Config,
    levels: BTreeMap<String, Level>,
}

#[derive(Debug)]
struct Level {
    set: Arc<QueueSet>,
    /// The level picks queues by the flow (more than one queue): kube hashes the flow only
    /// then.
    shuffle_shards: bool,
}

impl Controller {
    /// A controller with kube's mandatory configuration until [`Controller::apply`] is
    /// called; `server_concurrency_limit` is `--max-requests-inflight` plus
    /// `--max-mutating-requests-inflight`.
    pub fn new(server_concurrency_limit: u32) -> Controller {
        let controller = Controller {
            server_concurrency_limit,
            levels: Mutex::new(Levels {
                current: Arc::new(Generation::default()),
                quiescing: BTreeMap::new(),
            }),
            config_produced: std::sync::atomic::AtomicBool::new(false),
        };
        let (flow_schemas, levels) = bootstrap::mandatory();
        let (config, _) = Config::from_objects(&flow_schemas, &levels);
        controller.apply(config);
        controller
    }

    /// Records that the stored configuration has been produced and read (see the field).
    pub fn mark_config_produced(&self) {
        self.config_produced
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether [`Controller::mark_config_produced`] has been called.
    pub fn config_produced(&self) -> bool {
        self.config_produced
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Takes a new configuration (see the module doc for what happens to each level).
    pub fn apply(&self, config: Config) {
        let config = with_mandatory_levels(config);
        let limits = config.concurrency_limits(self.server_concurrency_limit);
        let mut levels = self.lock();
        let mut previous: BTreeMap<String, Arc<QueueSet>> = std::mem::take(&mut levels.quiescing);
        for (name, level) in &levels.current.levels {
            previous.insert(name.clone(), Arc::clone(&level.set));
        }
        let mut next = BTreeMap::new();
        for (name, level) in &config.levels {
            // concurrency_limits covers every limited level; exempt ones need none.
            let limit = limits
                .get(name)
                .copied()
                .unwrap_or(self.server_concurrency_limit);
            let queue_set_config = queue_set_config(level, limit);
            let set = match previous.remove(name) {
                Some(set) => {
                    if set.config() != queue_set_config {
                        set.configure(queue_set_config);
                    }
                    set
                }
                None => QueueSet::new(name.clone(), queue_set_config),
            };
            let shuffle_shards =
                matches!(queue_set_config.mode, Mode::Queue { queues, .. } if queues > 1);
            next.insert(
                name.clone(),
                Level {
                    set,
                    shuffle_shards,
                },
            );
        }
        levels.quiescing = previous
            .into_iter()
            .filter(|(_, set)| !set.is_idle())
            .collect();
        levels.current = Arc::new(Generation {
            config,
            levels: next,
        });
    }

    /// Classifies the request and waits (at most `wait_limit`) for its seats. Exempt
    /// requests get a seat at once. Dropping the future while it waits takes the request
    /// out of its queue.
    pub async fn admit(
        &self,
        digest: &RequestDigest,
        work: WorkEstimate,
        wait_limit: Duration,
    ) -> Result<Seat, Rejection> {
        let (classification, set, flow_hash) = self.route(digest);
        let note = RequestNote {
            flow_schema: classification.flow_schema.clone(),
            flow_distinguisher: classification.flow_distinguisher.clone(),
            details: details_of(digest),
        };
        match set.admit(note, flow_hash, work.seats, wait_limit).await {
            Ok(execution) => Ok(Seat {
                classification,
                waited: execution.waited(),
                _execution: execution,
            }),
            Err(reason) => Err(Rejection {
                classification,
                reason,
            }),
        }
    }

    /// The current configuration.
    pub fn config(&self) -> Config {
        self.generation().config.clone()
    }

    /// A snapshot of every level for the metrics, by name; levels that left the
    /// configuration and still drain are flagged `quiescing`.
    pub fn stats(&self) -> Vec<LevelStats> {
        let mut stats: Vec<LevelStats> = self
            .queue_sets()
            .into_iter()
            .map(|(set, quiescing)| LevelStats {
                quiescing,
                ..set.stats()
            })
            .collect();
        stats.sort_by(|a, b| a.priority_level.cmp(&b.priority_level));
        stats
    }

    /// A snapshot of every level for the debug dumps, by name; the requests themselves only
    /// if asked for.
    pub fn dump(&self, include_requests: bool) -> Vec<QueueSetDump> {
        let mut dumps: Vec<QueueSetDump> = self
            .queue_sets()
            .into_iter()
            .map(|(set, quiescing)| QueueSetDump {
                quiescing,
                ..set.dump(include_requests)
            })
            .collect();
        dumps.sort_by(|a, b| a.priority_level.cmp(&b.priority_level));
        dumps
    }

    fn lock(&self) -> MutexGuard<'_, Levels> {
        // A panic elsewhere while holding the lock is a bug; the levels stay consistent
        // (apply swaps them in one assignment).
        self.levels.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn generation(&self) -> Arc<Generation> {
        Arc::clone(&self.lock().current)
    }

    /// Every level's queue set with whether it quiesces; drops the quiescing ones that are
    /// done.
    fn queue_sets(&self) -> Vec<(Arc<QueueSet>, bool)> {
        let mut levels = self.lock();
        levels.quiescing.retain(|_, set| !set.is_idle());
        let current = levels
            .current
            .levels
            .values()
            .map(|level| (Arc::clone(&level.set), false));
        let quiescing = levels.quiescing.values().map(|set| (Arc::clone(set), true));
        current.chain(quiescing).collect()
    }

    /// The request's classification, its level's queue set and its flow's hash.
    fn route(&self, digest: &RequestDigest) -> (Classification, Arc<QueueSet>, u64) {
        let generation = self.generation();
        let classification = matching::classify(&generation.config, digest)
            .filter(|c| generation.levels.contains_key(&c.priority_level))
            .unwrap_or_else(|| catch_all(&generation.config));
        let Some(level) = generation
            .levels
            .get(&classification.priority_level)
            .or_else(|| generation.levels.get(CATCH_ALL))
        else {
            // apply() always supplies catch-all; only a bug gets here. Run unlimited
            // rather than refuse every request.
            tracing::error!("no catch-all priority level; admitting without limit");
            let set = QueueSet::new(
                CATCH_ALL,
                QueueSetConfig {
                    concurrency_limit: self.server_concurrency_limit,
                    mode: Mode::Exempt,
                },
            );
            return (classification, set, 0);
        };
        let flow_hash = if level.shuffle_shards {
            shuffle::flow_hash(
                &classification.flow_schema,
                &classification.flow_distinguisher,
            )
        } else {
            0
        };
        (classification, Arc::clone(&level.set), flow_hash)
    }
}

/// The configuration with kube's mandatory levels where it lacks them (a hand-built
/// config; [`Config::from_objects`] already supplies them), so that `catch-all` exists.
fn with_mandatory_levels(mut config: Config) -> Config {
    let (mandatory, _) = Config::from_objects(&[], &[]);
    for (name, level) in mandatory.levels {
        config.levels.entry(name).or_insert(level);
    }
    config
}

/// Where a request goes when no schema takes it (kube's fallback to `catch-all`).
fn catch_all(config: &Config) -> Classification {
    let schema_uid = config
        .flow_schemas
        .iter()
        .find(|s| s.name == CATCH_ALL)
        .map(|s| s.uid.clone())
        .unwrap_or_default();
    let level_uid = config
        .levels
        .get(CATCH_ALL)
        .map(|l| l.uid.clone())
        .unwrap_or_default();
    Classification {
        flow_schema: CATCH_ALL.to_owned(),
        flow_schema_uid: schema_uid,
        priority_level: CATCH_ALL.to_owned(),
        priority_level_uid: level_uid,
        flow_distinguisher: String::new(),
    }
}

/// A level's queue set configuration from its object and its share of the server's seats.
fn queue_set_config(level: &PriorityLevel, concurrency_limit: u32) -> QueueSetConfig {
    let mode = match level.kind {
        LevelKind::Exempt => Mode::Exempt,
        LevelKind::Limited {
            limit_response: LimitResponse::Reject,
            ..
        } => Mode::Reject,
        LevelKind::Limited {
            limit_response:
                LimitResponse::Queue {
                    queues,
                    hand_size,
                    queue_length_limit,
                },
            ..
        } => Mode::Queue {
            queues,
            hand_size,
            queue_length_limit,
        },
    };
    QueueSetConfig {
        concurrency_limit,
        mode,
    }
}

/// What `dump_requests?includeRequestDetails=1` prints of a request.
fn details_of(digest: &RequestDigest) -> RequestDetails {
    let info = &digest.info;
    // kube prints schema.GroupVersion's String(): `version` for the core group.
    let api_version = if info.api_group.is_empty() {
        info.api_version.clone()
    } else {
        format!("{}/{}", info.api_group, info.api_version)
    };
    RequestDetails {
        user_name: digest.user.username.clone(),
        verb: info.verb.clone(),
        path: info.path.clone(),
        namespace: info.namespace.clone(),
        name: info.name.clone(),
        api_version,
        resource: info.resource.clone(),
        subresource: info.subresource.clone(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use kubesim_api::RequestInfo;
    use kubesim_api::user::UserInfo;
    use serde_json::{Value, json};

    use super::*;
    use crate::config::EXEMPT;

    pub(crate) type Admit = Pin<Box<dyn Future<Output = Result<Seat, Rejection>> + Send>>;

    /// Longer than any test runs.
    pub(crate) const FOREVER: Duration = Duration::from_secs(3600);

    /// A limited level that queues: 2 queues, hands of 1, 10 requests a queue.
    pub(crate) fn queuing_level(name: &str, shares: u32) -> Value {
        json!({
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "PriorityLevelConfiguration",
            "metadata": {"name": name, "uid": format!("{name}-uid")},
            "spec": {"type": "Limited", "limited": {
                "nominalConcurrencyShares": shares,
                "limitResponse": {"type": "Queue", "queuing": {
                    "queues": 2, "handSize": 1, "queueLengthLimit": 10,
                }},
            }},
        })
    }

    /// A schema sending `users`' requests to `level`, one flow per user.
    pub(crate) fn schema(name: &str, level: &str, users: &[&str]) -> Value {
        let subjects: Vec<Value> = users
            .iter()
            .map(|user| json!({"kind": "User", "user": {"name": user}}))
            .collect();
        json!({
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema",
            "metadata": {"name": name, "uid": format!("{name}-uid")},
            "spec": {
                "priorityLevelConfiguration": {"name": level},
                "matchingPrecedence": 500,
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [{
                    "subjects": subjects,
                    "resourceRules": [{
                        "verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                        "clusterScope": true, "namespaces": ["*"],
                    }],
                }],
            },
        })
    }

    /// The mandatory objects plus the level and schema `workload` for alice and bob. Its
    /// shares (30, of 35 with catch-all's 5) give it 1 seat of a server limit of 1.
    pub(crate) fn workload_config() -> Config {
        config(
            &[schema("workload", "workload", &["alice", "bob"])],
            &[queuing_level("workload", 30)],
        )
    }

    pub(crate) fn config(schemas: &[Value], levels: &[Value]) -> Config {
        let (config, problems) = Config::from_objects(schemas, levels);
        assert_eq!(problems, Vec::<String>::new());
        config
    }

    /// `get pods -n default` by `user`.
    pub(crate) fn digest(user: &str, groups: &[&str]) -> RequestDigest {
        RequestDigest {
            info: RequestInfo {
                is_resource_request: true,
                path: "/api/v1/namespaces/default/pods".to_owned(),
                verb: "list".to_owned(),
                api_prefix: "api".to_owned(),
                api_version: "v1".to_owned(),
                namespace: "default".to_owned(),
                resource: "pods".to_owned(),
                parts: vec!["pods".to_owned()],
                ..RequestInfo::default()
            },
            user: Arc::new(UserInfo::new(user, groups)),
        }
    }

    pub(crate) fn user(name: &str) -> RequestDigest {
        digest(name, &["system:authenticated"])
    }

    pub(crate) fn admit(controller: &Arc<Controller>, digest: &RequestDigest) -> Admit {
        let controller = Arc::clone(controller);
        let digest = digest.clone();
        Box::pin(async move {
            controller
                .admit(&digest, WorkEstimate::default(), FOREVER)
                .await
        })
    }

    pub(crate) fn poll(request: &mut Admit) -> Poll<Result<Seat, Rejection>> {
        request
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
    }

    pub(crate) fn runs_now(controller: &Arc<Controller>, digest: &RequestDigest) -> Seat {
        match poll(&mut admit(controller, digest)) {
            Poll::Ready(Ok(seat)) => seat,
            other => panic!("{} did not run at once: {other:?}", digest.user.username),
        }
    }

    pub(crate) fn waits(controller: &Arc<Controller>, digest: &RequestDigest) -> Admit {
        let mut request = admit(controller, digest);
        assert!(
            poll(&mut request).is_pending(),
            "{} did not wait",
            digest.user.username
        );
        request
    }

    pub(crate) fn workload_controller() -> Arc<Controller> {
        let controller = Arc::new(Controller::new(1));
        controller.apply(workload_config());
        controller
    }

    fn level_stats<'a>(stats: &'a [LevelStats], name: &str) -> Option<&'a LevelStats> {
        stats.iter().find(|level| level.priority_level == name)
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_waits_for_its_levels_seat_and_runs_when_it_is_freed() {
        let controller = workload_controller();
        let first = runs_now(&controller, &user("alice"));
        assert_eq!(
            first.classification,
            Classification {
                flow_schema: "workload".to_owned(),
                flow_schema_uid: "workload-uid".to_owned(),
                priority_level: "workload".to_owned(),
                priority_level_uid: "workload-uid".to_owned(),
                flow_distinguisher: "alice".to_owned(),
            }
        );
        assert_eq!(first.waited, Duration::ZERO);
        let mut second = waits(&controller, &user("bob"));
        tokio::time::advance(Duration::from_millis(250)).await;
        drop(first);
        let Poll::Ready(Ok(second)) = poll(&mut second) else {
            panic!("bob did not get the freed seat");
        };
        assert_eq!(second.waited, Duration::from_millis(250));
        assert_eq!(second.classification.flow_distinguisher, "bob");
        let stats = controller.stats();
        let workload = level_stats(&stats, "workload").unwrap();
        assert_eq!(workload.dispatched, 2);
        assert_eq!(workload.flow_schemas[0].flow_schema, "workload");
        assert_eq!(workload.flow_schemas[0].dispatched, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn exempt_requests_never_wait() {
        let controller = workload_controller();
        let _workload = runs_now(&controller, &user("alice"));
        let admin = digest("admin", &["system:masters", "system:authenticated"]);
        let seats: Vec<Seat> = (0..50).map(|_| runs_now(&controller, &admin)).collect();
        assert!(
            seats
                .iter()
                .all(|s| s.classification.priority_level == EXEMPT)
        );
        let stats = controller.stats();
        assert_eq!(level_stats(&stats, EXEMPT).unwrap().executing_requests, 50);
        assert_eq!(
            level_stats(&stats, "workload").unwrap().executing_requests,
            1
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_mandatory_catch_all_rejects_past_its_limit() {
        let controller = Arc::new(Controller::new(1));
        let _first = runs_now(&controller, &user("carol"));
        let Poll::Ready(Err(rejection)) = poll(&mut admit(&controller, &user("dave"))) else {
            panic!("catch-all queued or admitted past its limit");
        };
        assert_eq!(rejection.reason, RejectReason::ConcurrencyLimit);
        assert_eq!(rejection.classification.priority_level, CATCH_ALL);
        let stats = controller.stats();
        let catch_all = level_stats(&stats, CATCH_ALL).unwrap();
        assert_eq!(catch_all.rejected.concurrency_limit, 1);
        assert_eq!(catch_all.flow_schemas[0].rejected.concurrency_limit, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn reconfiguring_keeps_an_unchanged_levels_waiters() {
        let controller = workload_controller();
        let running = runs_now(&controller, &user("alice"));
        let mut waiting = waits(&controller, &user("bob"));
        // Another level: workload keeps its limit of 1 (ceil(1 * 30 / 65)).
        controller.apply(config(
            &[
                schema("workload", "workload", &["alice", "bob"]),
                schema("other", "other", &["carol"]),
            ],
            &[queuing_level("workload", 30), queuing_level("other", 30)],
        ));
        assert!(poll(&mut waiting).is_pending());
        assert_eq!(
            level_stats(&controller.stats(), "workload")
                .unwrap()
                .waiting_requests,
            1
        );
        drop(running);
        assert!(matches!(poll(&mut waiting), Poll::Ready(Ok(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_removed_level_drains_what_it_holds() {
        let controller = workload_controller();
        let running = runs_now(&controller, &user("alice"));
        let mut waiting = waits(&controller, &user("bob"));
        controller.apply(config(&[], &[]));
        let stats = controller.stats();
        let workload = level_stats(&stats, "workload").unwrap();
        assert!(workload.quiescing);
        assert_eq!(workload.waiting_requests, 1);
        // New requests no longer reach it.
        let elsewhere = runs_now(&controller, &user("alice"));
        assert_eq!(elsewhere.classification.priority_level, CATCH_ALL);
        drop(running);
        let Poll::Ready(Ok(seat)) = poll(&mut waiting) else {
            panic!("the quiescing level did not dispatch its waiter");
        };
        assert_eq!(seat.classification.priority_level, "workload");
        drop(seat);
        assert!(level_stats(&controller.stats(), "workload").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_level_that_comes_back_takes_up_its_queues_again() {
        let controller = workload_controller();
        let running = runs_now(&controller, &user("alice"));
        let mut waiting = waits(&controller, &user("bob"));
        controller.apply(config(&[], &[]));
        controller.apply(workload_config());
        let stats = controller.stats();
        let workload = level_stats(&stats, "workload").unwrap();
        assert!(!workload.quiescing);
        assert_eq!(workload.waiting_requests, 1);
        // The level's one seat is still taken by alice's first request.
        let mut third = waits(&controller, &user("alice"));
        drop(running);
        let Poll::Ready(Ok(_bob)) = poll(&mut waiting) else {
            panic!("bob did not get the freed seat");
        };
        assert!(poll(&mut third).is_pending());
    }
}
