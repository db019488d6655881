//! One priority level: its seats, its queues, and fair queuing among the queues (kube's
//! `fairqueuing/queueset`).
//!
//! A level has `concurrency_limit` seats. How a request gets some depends on the level's
//! [`Mode`]:
//!
//! - `Exempt`: it runs at once, always (still counted, for the dumps and metrics).
//! - `Reject`: it runs at once when its seats are free, else it is rejected
//!   `concurrency-limit`.
//! - `Queue`: shuffle sharding deals the flow a hand of queues ([`crate::shuffle`]); the
//!   request joins the one with the least waiting work, or is rejected `queue-full` when that
//!   queue is at `queueLengthLimit` and every seat is taken. Whenever seats are free, fair
//!   queuing picks which queue's oldest request runs next.
//!
//! # Fair queuing (kube's virtual time)
//!
//! The progress meter R counts seat-seconds handed to each active queue since start: it
//! advances at `min(seats wanted, limit) / active queues` per second of real time. Each
//! queue has the R at which its next request starts in that virtual world
//! (`nextDispatchR`); a request's work is `seats × G`, G being kube's estimated service
//! time of 3 ms. The next request to run is the head of the queue whose head would finish
//! first (`nextDispatchR + work`), ties going round-robin. A queue that becomes active starts
//! at the current R, and its start never precedes its oldest request's arrival (kube's
//! anti-windup). When a request finishes after S instead of G, its queue's `nextDispatchR`
//! moves by `seats × (S - G)`, so flows are charged for the time they really used. One flow
//! flooding its queues thus gets its share of dispatches, not all of them.
//!
//! # Differences from kube
//!
//! - Only the queues with waiting or executing requests exist (a map by index): memory
//!   follows the requests, not `queues` (kube allows 2^26). An idle queue's `nextDispatchR`
//!   would be reset on its next request anyway.
//! - A request needs its initial seats only (no final seats, no additional latency); its
//!   seats are capped at the level's limit (kube lets a wider one run alone instead).
//! - A limit of 0 (a level with no shares) works as 1, as kube's lets one request run when
//!   nothing else is.
//! - A waiter's wait limit is its own timer (kube's is the request context's deadline): on
//!   expiry it leaves its queue and is rejected `time-out`; a waiter whose future is dropped
//!   leaves its queue and counts as `cancelled`. Either departure dispatches what may now
//!   fit, which kube leaves for the next event.
//! - Requests wait in a queue past `queueLengthLimit` only when seats are free (kube's
//!   rule); twice the limit is a hard bound here all the same.
//!
//! All of the state is behind one `std::sync::Mutex`, never held across an `.await`.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::controller::RejectReason;
use crate::shuffle::Dealer;

/// kube's `estimatedServiceDuration` (G): the service time assumed for every request when it
/// is dispatched, corrected by the real one when it finishes.
pub const ESTIMATED_SERVICE_DURATION: Duration = Duration::from_millis(3);

/// Waiting requests a queue may hold even when seats are free, as a multiple of its
/// `queueLengthLimit` (see the module doc).
const HARD_QUEUE_LENGTH_FACTOR: usize = 2;

/// How a level treats a request when its seats are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Never limited.
    Exempt,
    /// `limitResponse.type: Reject`.
    Reject,
    /// `limitResponse.type: Queue`.
    Queue {
        queues: u32,
        hand_size: u32,
        queue_length_limit: u32,
    },
}

/// A level's queuing and dispatching configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSetConfig {
    /// Seats (kube's `currentCL`; kubesim does not borrow between levels, so the nominal
    /// limit).
    pub concurrency_limit: u32,
    pub mode: Mode,
}

/// What a queue set keeps of a request for the debug dumps and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestNote {
    pub flow_schema: String,
    pub flow_distinguisher: String,
    /// `dump_requests?includeRequestDetails=1`.
    pub details: RequestDetails,
}

/// The request details kube's `dump_requests` prints on demand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestDetails {
    pub user_name: String,
    pub verb: String,
    pub path: String,
    pub namespace: String,
    pub name: String,
    /// `group/version`, or `version` for the core group.
    pub api_version: String,
    pub resource: String,
    pub subresource: String,
}

/// Work in seat-seconds, fixed point (kube's `SeatSeconds`: units of 1e-8 seat-seconds, so
/// R lasts for years before an epoch advance is needed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeatSeconds(u64);

/// Units of [`SeatSeconds`] in one seat-second.
const SS_SCALE: u64 = 100_000_000;
/// Nanoseconds per unit of [`SeatSeconds`] for one seat.
const NANOS_PER_SS: u128 = 1_000_000_000 / SS_SCALE as u128;

/// kube's `rDecrement`: how far R and every reading of it are wound back in an epoch
/// advance, and `highR`, the reading that triggers one.
const R_DECREMENT: SeatSeconds = SeatSeconds(u64::MAX / 2);
const HIGH_R: SeatSeconds = SeatSeconds(u64::MAX / 2 + u64::MAX / 4);

impl SeatSeconds {
    pub const ZERO: SeatSeconds = SeatSeconds(0);

    /// `seats` held for `duration`, exactly (saturating at the maximum).
    pub fn of(seats: u32, duration: Duration) -> SeatSeconds {
        let units = u128::from(seats) * duration.as_nanos() / NANOS_PER_SS;
        SeatSeconds(u64::try_from(units).unwrap_or(u64::MAX))
    }

    /// A fractional number of seats held for `duration` (R's rate is a ratio).
    fn of_rate(seats: f64, duration: Duration) -> SeatSeconds {
        // `as` saturates and maps NaN to 0: a rate is never negative or NaN here.
        SeatSeconds((seats * duration.as_nanos() as f64 / NANOS_PER_SS as f64).round() as u64)
    }

    fn saturating_add(self, other: SeatSeconds) -> SeatSeconds {
        SeatSeconds(self.0.saturating_add(other.0))
    }

    fn saturating_sub(self, other: SeatSeconds) -> SeatSeconds {
        SeatSeconds(self.0.saturating_sub(other.0))
    }
}

impl fmt::Display for SeatSeconds {
    /// kube's format: `12.00300000ss`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:08}ss", self.0 / SS_SCALE, self.0 % SS_SCALE)
    }
}

/// Counts of rejected requests by kube's `reason` label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectCounts {
    pub concurrency_limit: u64,
    pub queue_full: u64,
    pub time_out: u64,
    pub cancelled: u64,
}

impl RejectCounts {
    pub fn get(&self, reason: RejectReason) -> u64 {
        match reason {
            RejectReason::ConcurrencyLimit => self.concurrency_limit,
            RejectReason::QueueFull => self.queue_full,
            RejectReason::TimeOut => self.time_out,
            RejectReason::Cancelled => self.cancelled,
        }
    }

    /// Every rejection, whatever the reason (kube's `RejectedRequests` column).
    pub fn total(&self) -> u64 {
        self.concurrency_limit + self.queue_full + self.time_out + self.cancelled
    }

    fn add(&mut self, reason: RejectReason) {
        let count = match reason {
            RejectReason::ConcurrencyLimit => &mut self.concurrency_limit,
            RejectReason::QueueFull => &mut self.queue_full,
            RejectReason::TimeOut => &mut self.time_out,
            RejectReason::Cancelled => &mut self.cancelled,
        };
        *count = count.saturating_add(1);
    }
}

/// The counters and gauges of one FlowSchema's requests in one level (the labels of kube's
/// `apiserver_flowcontrol_*` metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowSchemaStats {
    pub flow_schema: String,
    pub dispatched: u64,
    pub rejected: RejectCounts,
    pub in_queue: u64,
    pub executing_requests: u64,
    pub executing_seats: u64,
}

/// A snapshot of one level for the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LevelStats {
    pub priority_level: String,
    pub concurrency_limit: u32,
    /// The level is gone from the configuration and drains what it still holds.
    pub quiescing: bool,
    pub waiting_requests: u64,
    pub waiting_seats: u64,
    pub executing_requests: u64,
    pub executing_seats: u64,
    pub dispatched: u64,
    pub rejected: RejectCounts,
    /// By name.
    pub flow_schemas: Vec<FlowSchemaStats>,
}

/// A snapshot of one level for the debug dumps (kube's `debug.QueueSetDump`).
#[derive(Debug, Clone)]
pub struct QueueSetDump {
    pub priority_level: String,
    pub config: QueueSetConfig,
    /// The level is gone from the configuration and drains what it still holds (set by
    /// the controller).
    pub quiescing: bool,
    /// When the snapshot was taken, to turn the requests' instants into wall-clock times.
    pub taken_at: Instant,
    /// The queues with waiting or executing requests, by index.
    pub queues: Vec<QueueDump>,
    /// Requests that run without having queued (`Exempt` and `Reject` levels), by arrival.
    pub queueless_executing: Vec<RequestDump>,
    pub waiting: u64,
    pub executing: u64,
    pub seats_in_use: u64,
    pub seats_waiting: u64,
    pub dispatched: u64,
    pub rejected: RejectCounts,
}

/// One queue (kube's `debug.QueueDump`).
#[derive(Debug, Clone)]
pub struct QueueDump {
    pub index: u32,
    /// Oldest first. Empty unless the dump was asked for requests.
    pub waiting: Vec<RequestDump>,
    /// By arrival. Empty unless the dump was asked for requests.
    pub executing: Vec<RequestDump>,
    pub waiting_requests: usize,
    pub executing_requests: u32,
    pub seats_in_use: u32,
    pub next_dispatch_r: SeatSeconds,
    /// Sums over the waiting requests.
    pub initial_seats_sum: u64,
    pub max_seats_sum: u64,
    pub total_work_sum: SeatSeconds,
}

/// One request (kube's `debug.RequestDump`).
#[derive(Debug, Clone)]
pub struct RequestDump {
    pub note: RequestNote,
    pub seats: u32,
    pub arrival: Instant,
    /// When it started to run; `None` while it waits.
    pub start: Option<Instant>,
}

/// One level's seats and queues. Shared (`Arc`) by the controller, every waiter and every
/// running request, so a level that leaves the configuration still drains.
pub struct QueueSet {
    priority_level: String,
    state: Mutex<State>,
}

impl fmt::Debug for QueueSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueSet")
            .field("priority_level", &self.priority_level)
            .finish_non_exhaustive()
    }
}

/// A request that holds seats: they are released, and the next waiters dispatched, when it
/// is dropped.
#[derive(Debug)]
pub struct Execution {
    set: Arc<QueueSet>,
    id: u64,
    waited: Duration,
}

impl Execution {
    /// How long the request waited in its queue.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

impl Drop for Execution {
    fn drop(&mut self) {
        self.set.finish(self.id);
    }
}

/// The level's discipline as the dispatcher uses it (the dealer built once per config).
#[derive(Debug, Clone, Copy)]
enum Discipline {
    Exempt,
    Reject,
    Queue {
        dealer: Dealer,
        queue_length_limit: u32,
    },
}

#[derive(Debug)]
struct State {
    config: QueueSetConfig,
    discipline: Discipline,
    /// Exactly the queues with waiting or executing requests. Bounded by the requests.
    queues: BTreeMap<u32, Queue>,
    /// Requests holding seats, by id (ids grow with arrival). Bounded by the limit, except
    /// in an exempt level, where the server's connections bound it.
    executing: BTreeMap<u64, Executing>,
    /// The progress meter R.
    current_r: SeatSeconds,
    /// When R was last brought up to date.
    last_real_time: Instant,
    /// The queue dispatched last; the next search starts after it (round robin on ties).
    robin_index: u32,
    /// Requests ever enqueued: rotates where the search of a hand starts (kube's
    /// `enqueues`), so that ties do not always favour a hand's first card.
    enqueues: u64,
    next_id: u64,
    waiting_requests: u64,
    waiting_seats: u64,
    /// Seats held by running requests, and the part of them held by queued ones (R's
    /// rate counts the latter).
    seats_in_use: u64,
    queued_seats_in_use: u64,
    dispatched: u64,
    rejected: RejectCounts,
    /// Keyed by FlowSchema name: bounded by the names configured over the server's life.
    by_flow_schema: BTreeMap<String, FlowSchemaStats>,
}

#[derive(Debug)]
struct Queue {
    /// Oldest first. At most `HARD_QUEUE_LENGTH_FACTOR × queueLengthLimit`.
    waiting: VecDeque<Waiting>,
    /// The R at which this queue's next request starts in the virtual world.
    next_dispatch_r: SeatSeconds,
    executing: u32,
    seats_in_use: u32,
    /// Sums over `waiting` (kube's `queueSum`).
    waiting_seats: u64,
    waiting_work: SeatSeconds,
}

#[derive(Debug)]
struct Waiting {
    id: u64,
    seats: u32,
    work: SeatSeconds,
    arrival: Instant,
    arrival_r: SeatSeconds,
    note: RequestNote,
    /// Woken when the request is dispatched (the decision itself is `State::executing`).
    dispatched: oneshot::Sender<()>,
}

#[derive(Debug)]
struct Executing {
    /// `None` for a request that ran without queuing.
    queue: Option<u32>,
    seats: u32,
    arrival: Instant,
    start: Instant,
    note: RequestNote,
}

/// What the first, synchronous step of [`QueueSet::admit`] decided.
enum Start {
    Run(u64),
    Wait {
        id: u64,
        queue: u32,
        dispatched: oneshot::Receiver<()>,
    },
    Reject(RejectReason),
}

impl QueueSet {
    pub fn new(priority_level: impl Into<String>, config: QueueSetConfig) -> Arc<QueueSet> {
        let now = Instant::now();
        Arc::new(QueueSet {
            priority_level: priority_level.into(),
            state: Mutex::new(State {
                config,
                discipline: Discipline::of(config),
                queues: BTreeMap::new(),
                executing: BTreeMap::new(),
                current_r: SeatSeconds::ZERO,
                last_real_time: now,
                robin_index: 0,
                enqueues: 0,
                next_id: 0,
                waiting_requests: 0,
                waiting_seats: 0,
                seats_in_use: 0,
                queued_seats_in_use: 0,
                dispatched: 0,
                rejected: RejectCounts::default(),
                by_flow_schema: BTreeMap::new(),
            }),
        })
    }

    pub fn priority_level(&self) -> &str {
        &self.priority_level
    }

    pub fn config(&self) -> QueueSetConfig {
        self.lock().config
    }

    /// Takes a new configuration in place, as kube does: waiting requests stay where they
    /// are; queues past a smaller `queues` drain without taking new requests; a higher limit
    /// dispatches at once.
    pub fn configure(&self, config: QueueSetConfig) {
        let now = Instant::now();
        let mut state = self.lock_and_sync(now);
        state.config = config;
        state.discipline = Discipline::of(config);
        state.dispatch_as_much_as_possible(now);
    }

    /// Neither waiting nor executing requests.
    pub fn is_idle(&self) -> bool {
        self.lock().is_idle()
    }

    /// Waits (at most `wait_limit`) until the request may use `seats` seats of this level.
    /// `flow_hash` picks the flow's hand of queues ([`crate::shuffle::flow_hash`]).
    /// Dropping the future while it waits takes the request out of its queue.
    pub async fn admit(
        self: &Arc<Self>,
        note: RequestNote,
        flow_hash: u64,
        seats: u32,
        wait_limit: Duration,
    ) -> Result<Execution, RejectReason> {
        let arrival = Instant::now();
        match self.start(note, flow_hash, seats, arrival) {
            Start::Run(id) => Ok(self.execution(id, Duration::ZERO)),
            Start::Reject(reason) => Err(reason),
            Start::Wait {
                id,
                queue,
                dispatched,
            } => self.wait(id, queue, dispatched, arrival, wait_limit).await,
        }
    }

    /// A snapshot for the debug dumps; the requests themselves only if asked for.
    pub fn dump(&self, include_requests: bool) -> QueueSetDump {
        let taken_at = Instant::now();
        let state = self.lock_and_sync(taken_at);
        state.dump(&self.priority_level, taken_at, include_requests)
    }

    /// A snapshot for the metrics.
    pub fn stats(&self) -> LevelStats {
        self.lock().stats(&self.priority_level)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock is a bug, and the counters stay usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks and brings R up to `now`, before anything changes the queues (kube's
    /// `lockAndSyncTime`).
    fn lock_and_sync(&self, now: Instant) -> MutexGuard<'_, State> {
        let mut state = self.lock();
        state.sync_time(now);
        state
    }

    fn start(&self, note: RequestNote, flow_hash: u64, seats: u32, now: Instant) -> Start {
        let mut state = self.lock_and_sync(now);
        let seats = state.fit_seats(seats);
        match state.discipline {
            Discipline::Exempt => Start::Run(state.run_without_queue(note, seats, now)),
            Discipline::Reject if state.can_accommodate(seats) => {
                Start::Run(state.run_without_queue(note, seats, now))
            }
            Discipline::Reject => {
                state.reject(&note.flow_schema, RejectReason::ConcurrencyLimit);
                Start::Reject(RejectReason::ConcurrencyLimit)
            }
            Discipline::Queue {
                dealer,
                queue_length_limit,
            } => {
                let queue = state.shuffle_shard(&dealer, flow_hash);
                if state.queue_is_full(queue, queue_length_limit) {
                    state.reject(&note.flow_schema, RejectReason::QueueFull);
                    return Start::Reject(RejectReason::QueueFull);
                }
                let (id, dispatched) = state.enqueue(queue, note, seats, now);
                state.dispatch_as_much_as_possible(now);
                Start::Wait {
                    id,
                    queue,
                    dispatched,
                }
            }
        }
    }

    async fn wait(
        self: &Arc<Self>,
        id: u64,
        queue: u32,
        mut dispatched: oneshot::Receiver<()>,
        arrival: Instant,
        wait_limit: Duration,
    ) -> Result<Execution, RejectReason> {
        let mut waiter = Waiter {
            set: self,
            id,
            queue,
            armed: true,
        };
        let woken = tokio::time::timeout(wait_limit, &mut dispatched).await;
        waiter.armed = false;
        let now = Instant::now();
        let mut state = self.lock_and_sync(now);
        // Whatever woke us, the state decides: a request dispatched just as its time ran
        // out runs.
        if state.executing.contains_key(&id) {
            drop(state);
            return Ok(self.execution(id, now.saturating_duration_since(arrival)));
        }
        // Timed out; or the dispatcher dropped the sender without dispatching, which only
        // a bug could do: cancelled rather than waiting forever.
        let reason = match woken {
            Err(_elapsed) => RejectReason::TimeOut,
            Ok(_) => RejectReason::Cancelled,
        };
        if let Some(gone) = state.remove_waiting(id, queue) {
            state.reject(&gone.note.flow_schema, reason);
        }
        state.dispatch_as_much_as_possible(now);
        Err(reason)
    }

    fn execution(self: &Arc<Self>, id: u64, waited: Duration) -> Execution {
        Execution {
            set: Arc::clone(self),
            id,
            waited,
        }
    }

    /// A running request is done: release its seats and dispatch what now fits.
    fn finish(&self, id: u64) {
        let now = Instant::now();
        let mut state = self.lock_and_sync(now);
        state.finish(id, now);
        state.dispatch_as_much_as_possible(now);
    }

    /// A waiter went away (its future was dropped): out of its queue, or, if it was
    /// dispatched meanwhile, its seats back.
    fn abandon(&self, id: u64, queue: u32) {
        let now = Instant::now();
        let mut state = self.lock_and_sync(now);
        if let Some(gone) = state.remove_waiting(id, queue) {
            state.reject(&gone.note.flow_schema, RejectReason::Cancelled);
        } else {
            state.finish(id, now);
        }
        state.dispatch_as_much_as_possible(now);
    }
}

/// Takes a waiting request out of its queue if its `admit` future is dropped.
struct Waiter<'a> {
    set: &'a QueueSet,
    id: u64,
    queue: u32,
    armed: bool,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.set.abandon(self.id, self.queue);
        }
    }
}

impl Discipline {
    fn of(config: QueueSetConfig) -> Discipline {
        match config.mode {
            Mode::Exempt => Discipline::Exempt,
            Mode::Reject => Discipline::Reject,
            Mode::Queue {
                queues,
                hand_size,
                queue_length_limit,
            } => Discipline::Queue {
                dealer: dealer_for(queues, hand_size),
                queue_length_limit,
            },
        }
    }
}

/// The configured dealer, or the nearest valid one for a configuration that escaped
/// validation (logged: the flows then get smaller hands than asked for).
fn dealer_for(queues: u32, hand_size: u32) -> Dealer {
    Dealer::new(queues, hand_size).unwrap_or_else(|error| {
        let dealer = Dealer::nearest(queues, hand_size);
        tracing::warn!(
            %error,
            queues = dealer.deck_size(),
            hand_size = dealer.hand_size(),
            "invalid shuffle sharding configuration; using the nearest valid one"
        );
        dealer
    })
}

impl State {
    /// The limit as the dispatcher applies it: 0 works as 1 (see the module doc).
    fn limit(&self) -> u32 {
        self.config.concurrency_limit.max(1)
    }

    fn fit_seats(&self, seats: u32) -> u32 {
        seats.clamp(1, self.limit())
    }

    fn is_idle(&self) -> bool {
        self.waiting_requests == 0 && self.executing.is_empty()
    }

    /// Advances R by the time since it was last brought up to date, at the rate the
    /// queues had since then (kube's `syncTimeLocked`).
    fn sync_time(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last_real_time);
        self.last_real_time = now;
        let increment = SeatSeconds::of_rate(self.virtual_time_rate(), elapsed);
        self.current_r = self.current_r.saturating_add(increment);
        if self.current_r >= HIGH_R {
            self.advance_epoch();
        }
    }

    /// Seats per second each active queue gets in the virtual world (kube's
    /// `getVirtualTimeRatioLocked`).
    fn virtual_time_rate(&self) -> f64 {
        if self.queues.is_empty() {
            return 0.0;
        }
        let wanted = self.queued_seats_in_use + self.waiting_seats;
        wanted.min(u64::from(self.limit())) as f64 / self.queues.len() as f64
    }

    /// Winds R and every reading of it back by `R_DECREMENT`, long before R could
    /// overflow (kube's `advanceEpoch`; years of uptime).
    fn advance_epoch(&mut self) {
        tracing::info!(
            old_r = %self.current_r,
            "advancing the fair queuing epoch"
        );
        self.current_r = self.current_r.saturating_sub(R_DECREMENT);
        for queue in self.queues.values_mut() {
            queue.next_dispatch_r = queue.next_dispatch_r.saturating_sub(R_DECREMENT);
            for request in &mut queue.waiting {
                request.arrival_r = request.arrival_r.saturating_sub(R_DECREMENT);
            }
        }
    }

    /// kube's `canAccommodateSeatsLocked`.
    fn can_accommodate(&self, seats: u32) -> bool {
        match self.discipline {
            Discipline::Exempt => true,
            // Wider than the whole level (after the limit shrank): alone, or not at all.
            _ if seats > self.limit() => self.executing.is_empty(),
            _ => self.seats_in_use + u64::from(seats) <= u64::from(self.limit()),
        }
    }

    /// The queue of the flow's hand with the least waiting work, the search starting at a
    /// rotating card (kube's `shuffleShardLocked`).
    fn shuffle_shard(&mut self, dealer: &Dealer, flow_hash: u64) -> u32 {
        let hand = dealer.deal(flow_hash);
        let cards = hand.as_slice();
        let offset = self.enqueues % cards.len().max(1) as u64;
        self.enqueues = self.enqueues.wrapping_add(1);
        let mut best: Option<(u32, SeatSeconds)> = None;
        for &index in cards.iter().cycle().skip(offset as usize).take(cards.len()) {
            let work = self
                .queues
                .get(&index)
                .map_or(SeatSeconds::ZERO, |queue| queue.waiting_work);
            if best.is_none_or(|(_, least)| work < least) {
                best = Some((index, work));
            }
        }
        // A hand has at least one card (Dealer's invariant).
        best.map_or(0, |(index, _)| index)
    }

    /// kube's `rejectOrEnqueueToBoundLocked`: full when every seat is taken and the queue
    /// is at its limit; past twice the limit, full regardless.
    fn queue_is_full(&self, queue: u32, queue_length_limit: u32) -> bool {
        let length = self.queues.get(&queue).map_or(0, |q| q.waiting.len());
        let limit = queue_length_limit as usize;
        let hard_limit = limit.max(1).saturating_mul(HARD_QUEUE_LENGTH_FACTOR);
        let seats_taken = self.seats_in_use >= u64::from(self.limit());
        (seats_taken && length >= limit) || length >= hard_limit
    }

    fn enqueue(
        &mut self,
        index: u32,
        note: RequestNote,
        seats: u32,
        now: Instant,
    ) -> (u64, oneshot::Receiver<()>) {
        let id = self.take_id();
        let (sender, receiver) = oneshot::channel();
        let current_r = self.current_r;
        self.with_flow_schema(&note.flow_schema, |flow| flow.in_queue += 1);
        let request = Waiting {
            id,
            seats,
            work: SeatSeconds::of(seats, ESTIMATED_SERVICE_DURATION),
            arrival: now,
            arrival_r: current_r,
            note,
            dispatched: sender,
        };
        // A queue that becomes active starts at the current R.
        let queue = self.queues.entry(index).or_insert_with(|| Queue {
            waiting: VecDeque::new(),
            next_dispatch_r: current_r,
            executing: 0,
            seats_in_use: 0,
            waiting_seats: 0,
            waiting_work: SeatSeconds::ZERO,
        });
        queue.push(request);
        queue.bound_next_dispatch();
        self.waiting_requests += 1;
        self.waiting_seats += u64::from(seats);
        (id, receiver)
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// Runs a request that did not queue (exempt, or a `Reject` level with room).
    fn run_without_queue(&mut self, note: RequestNote, seats: u32, now: Instant) -> u64 {
        let id = self.take_id();
        self.start_executing(id, None, note, seats, now, now);
        id
    }

    fn start_executing(
        &mut self,
        id: u64,
        queue: Option<u32>,
        note: RequestNote,
        seats: u32,
        arrival: Instant,
        now: Instant,
    ) {
        self.dispatched = self.dispatched.saturating_add(1);
        self.seats_in_use += u64::from(seats);
        self.with_flow_schema(&note.flow_schema, |flow| {
            flow.dispatched = flow.dispatched.saturating_add(1);
            flow.executing_requests += 1;
            flow.executing_seats += u64::from(seats);
        });
        let executing = Executing {
            queue,
            seats,
            arrival,
            start: now,
            note,
        };
        self.executing.insert(id, executing);
    }

    /// Dispatches until the queues are empty or the next request does not fit (kube's
    /// `dispatchAsMuchAsPossibleLocked`); each round dispatches one waiter, so this ends.
    fn dispatch_as_much_as_possible(&mut self, now: Instant) {
        while self.waiting_requests > 0 && self.dispatch_one(now) {}
    }

    /// Runs the oldest request of the queue chosen by fair queuing, if it fits (kube's
    /// `dispatchLocked`). False when nothing was dispatched.
    fn dispatch_one(&mut self, now: Instant) -> bool {
        let Some((index, seats)) = self.next_to_dispatch() else {
            return false;
        };
        if !self.can_accommodate(seats) {
            // Wait for seats rather than let a narrower request pass: kube's choice, so a
            // wide request is not starved.
            return false;
        }
        let Some(queue) = self.queues.get_mut(&index) else {
            return false;
        };
        let Some(request) = queue.pop() else {
            return false;
        };
        queue.executing += 1;
        queue.seats_in_use += request.seats;
        queue.next_dispatch_r = queue.next_dispatch_r.saturating_add(request.work);
        queue.bound_next_dispatch();
        self.robin_index = index;
        self.waiting_requests = self.waiting_requests.saturating_sub(1);
        self.waiting_seats = self.waiting_seats.saturating_sub(u64::from(request.seats));
        self.queued_seats_in_use += u64::from(request.seats);
        self.with_flow_schema(&request.note.flow_schema, |flow| {
            flow.in_queue = flow.in_queue.saturating_sub(1)
        });
        let Waiting {
            id,
            seats,
            arrival,
            note,
            dispatched,
            ..
        } = request;
        self.start_executing(id, Some(index), note, seats, arrival, now);
        // Ignoring a closed channel is right: a waiter that went away finds its request
        // executing and releases it (`QueueSet::abandon`).
        let _ = dispatched.send(());
        true
    }

    /// The queue whose oldest request would finish first in the virtual world, searching
    /// round robin from after the last one dispatched, with that request's seats (kube's
    /// `findDispatchQueueToBoundLocked`).
    fn next_to_dispatch(&self) -> Option<(u32, u32)> {
        let after = self
            .queues
            .range((Bound::Excluded(self.robin_index), Bound::Unbounded));
        let up_to = self.queues.range(..=self.robin_index);
        let mut best: Option<(u32, u32, SeatSeconds)> = None;
        for (&index, queue) in after.chain(up_to) {
            let Some(head) = queue.waiting.front() else {
                continue;
            };
            let finish = queue.next_dispatch_r.saturating_add(head.work);
            if best.is_none_or(|(_, _, earliest)| finish < earliest) {
                best = Some((index, head.seats, finish));
            }
        }
        best.map(|(index, seats, _)| (index, seats))
    }

    /// Releases a finished request's seats and charges its queue for the time it really
    /// took (kube's `finishRequestLocked`). Nothing if it is not executing.
    fn finish(&mut self, id: u64, now: Instant) {
        let Some(request) = self.executing.remove(&id) else {
            return;
        };
        let seats = u64::from(request.seats);
        self.seats_in_use = self.seats_in_use.saturating_sub(seats);
        self.with_flow_schema(&request.note.flow_schema, |flow| {
            flow.executing_requests = flow.executing_requests.saturating_sub(1);
            flow.executing_seats = flow.executing_seats.saturating_sub(seats);
        });
        let Some(index) = request.queue else {
            return;
        };
        self.queued_seats_in_use = self.queued_seats_in_use.saturating_sub(seats);
        let Some(queue) = self.queues.get_mut(&index) else {
            return;
        };
        queue.executing = queue.executing.saturating_sub(1);
        queue.seats_in_use = queue.seats_in_use.saturating_sub(request.seats);
        let service = now.saturating_duration_since(request.start);
        queue.charge(request.seats, service);
        queue.bound_next_dispatch();
        if queue.is_idle() {
            self.queues.remove(&index);
        }
    }

    /// Takes a waiting request out of its queue; `None` if it is not waiting there.
    fn remove_waiting(&mut self, id: u64, index: u32) -> Option<Waiting> {
        let queue = self.queues.get_mut(&index)?;
        let position = queue.waiting.iter().position(|r| r.id == id)?;
        let request = queue.remove(position)?;
        if queue.is_idle() {
            self.queues.remove(&index);
        } else {
            queue.bound_next_dispatch();
        }
        self.waiting_requests = self.waiting_requests.saturating_sub(1);
        self.waiting_seats = self.waiting_seats.saturating_sub(u64::from(request.seats));
        self.with_flow_schema(&request.note.flow_schema, |flow| {
            flow.in_queue = flow.in_queue.saturating_sub(1)
        });
        Some(request)
    }

    fn reject(&mut self, flow_schema: &str, reason: RejectReason) {
        self.rejected.add(reason);
        self.with_flow_schema(flow_schema, |flow| flow.rejected.add(reason));
    }

    fn with_flow_schema(&mut self, name: &str, update: impl FnOnce(&mut FlowSchemaStats)) {
        if let Some(flow) = self.by_flow_schema.get_mut(name) {
            update(flow);
            return;
        }
        let mut flow = FlowSchemaStats {
            flow_schema: name.to_owned(),
            ..FlowSchemaStats::default()
        };
        update(&mut flow);
        self.by_flow_schema.insert(name.to_owned(), flow);
    }

    fn stats(&self, priority_level: &str) -> LevelStats {
        LevelStats {
            priority_level: priority_level.to_owned(),
            concurrency_limit: self.config.concurrency_limit,
            quiescing: false,
            waiting_requests: self.waiting_requests,
            waiting_seats: self.waiting_seats,
            executing_requests: self.executing.len() as u64,
            executing_seats: self.seats_in_use,
            dispatched: self.dispatched,
            rejected: self.rejected,
            flow_schemas: self.by_flow_schema.values().cloned().collect(),
        }
    }

    fn dump(&self, priority_level: &str, taken_at: Instant, with_requests: bool) -> QueueSetDump {
        let mut queues: Vec<QueueDump> = self
            .queues
            .iter()
            .map(|(&index, queue)| queue.dump(index, with_requests))
            .collect();
        let mut queueless_executing = Vec::new();
        if with_requests {
            for request in self.executing.values() {
                let dump = request.dump();
                let queue = request
                    .queue
                    .and_then(|index| queues.iter_mut().find(|q| q.index == index));
                match queue {
                    Some(queue) => queue.executing.push(dump),
                    None => queueless_executing.push(dump),
                }
            }
        }
        QueueSetDump {
            priority_level: priority_level.to_owned(),
            config: self.config,
            quiescing: false,
            taken_at,
            queues,
            queueless_executing,
            waiting: self.waiting_requests,
            executing: self.executing.len() as u64,
            seats_in_use: self.seats_in_use,
            seats_waiting: self.waiting_seats,
            dispatched: self.dispatched,
            rejected: self.rejected,
        }
    }
}

impl Queue {
    fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.executing == 0
    }

    fn push(&mut self, request: Waiting) {
        self.waiting_seats += u64::from(request.seats);
        self.waiting_work = self.waiting_work.saturating_add(request.work);
        self.waiting.push_back(request);
    }

    fn pop(&mut self) -> Option<Waiting> {
        self.remove(0)
    }

    fn remove(&mut self, position: usize) -> Option<Waiting> {
        let request = self.waiting.remove(position)?;
        self.waiting_seats = self.waiting_seats.saturating_sub(u64::from(request.seats));
        self.waiting_work = self.waiting_work.saturating_sub(request.work);
        Some(request)
    }

    /// Corrects the virtual start for a request that took `service` instead of G: later
    /// if it took longer, earlier if shorter.
    fn charge(&mut self, seats: u32, service: Duration) {
        if service >= ESTIMATED_SERVICE_DURATION {
            let extra = SeatSeconds::of(seats, service - ESTIMATED_SERVICE_DURATION);
            self.next_dispatch_r = self.next_dispatch_r.saturating_add(extra);
        } else {
            let unused = SeatSeconds::of(seats, ESTIMATED_SERVICE_DURATION - service);
            self.next_dispatch_r = self.next_dispatch_r.saturating_sub(unused);
        }
    }

    /// kube's anti-windup: a queue's virtual start never precedes its oldest request's
    /// arrival, so a queue that could not use its share does not bank it.
    fn bound_next_dispatch(&mut self) {
        if let Some(oldest) = self.waiting.front() {
            self.next_dispatch_r = self.next_dispatch_r.max(oldest.arrival_r);
        }
    }

    fn dump(&self, index: u32, with_requests: bool) -> QueueDump {
        let waiting = if with_requests {
            self.waiting.iter().map(Waiting::dump).collect()
        } else {
            Vec::new()
        };
        QueueDump {
            index,
            waiting,
            executing: Vec::new(),
            waiting_requests: self.waiting.len(),
            executing_requests: self.executing,
            seats_in_use: self.seats_in_use,
            next_dispatch_r: self.next_dispatch_r,
            // kubesim's requests have initial seats only, so both sums are the same.
            initial_seats_sum: self.waiting_seats,
            max_seats_sum: self.waiting_seats,
            total_work_sum: self.waiting_work,
        }
    }
}

impl Waiting {
    fn dump(&self) -> RequestDump {
        RequestDump {
            note: self.note.clone(),
            seats: self.seats,
            arrival: self.arrival,
            start: None,
        }
    }
}

impl Executing {
    fn dump(&self) -> RequestDump {
        RequestDump {
            note: self.note.clone(),
            seats: self.seats,
            arrival: self.arrival,
            start: Some(self.start),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::shuffle::flow_hash;

    type Admit = Pin<Box<dyn Future<Output = Result<Execution, RejectReason>> + Send>>;

    /// Longer than any test runs: waits end by dispatch, not by time-out.
    const FOREVER: Duration = Duration::from_secs(3600);

    fn queuing(limit: u32, queues: u32, hand_size: u32, queue_length_limit: u32) -> Arc<QueueSet> {
        QueueSet::new(
            "workload",
            QueueSetConfig {
                concurrency_limit: limit,
                mode: Mode::Queue {
                    queues,
                    hand_size,
                    queue_length_limit,
                },
            },
        )
    }

    fn level(limit: u32, mode: Mode) -> Arc<QueueSet> {
        QueueSet::new(
            "level",
            QueueSetConfig {
                concurrency_limit: limit,
                mode,
            },
        )
    }

    /// A request of `flow` (the distinguisher of schema `fs`) for `seats` seats.
    fn admit(set: &Arc<QueueSet>, flow: &str, seats: u32, wait_limit: Duration) -> Admit {
        let set = Arc::clone(set);
        let note = RequestNote {
            flow_schema: "fs".to_owned(),
            flow_distinguisher: flow.to_owned(),
            details: RequestDetails::default(),
        };
        let hash = flow_hash("fs", flow);
        Box::pin(async move { set.admit(note, hash, seats, wait_limit).await })
    }

    /// Polls without a runtime task: the tests decide when each waiter looks again.
    fn poll(request: &mut Admit) -> Poll<Result<Execution, RejectReason>> {
        request
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
    }

    fn runs_now(set: &Arc<QueueSet>, flow: &str, seats: u32) -> Execution {
        match poll(&mut admit(set, flow, seats, FOREVER)) {
            Poll::Ready(Ok(execution)) => execution,
            other => panic!("{flow} did not run at once: {other:?}"),
        }
    }

    fn waits(set: &Arc<QueueSet>, flow: &str, seats: u32, wait_limit: Duration) -> Admit {
        let mut request = admit(set, flow, seats, wait_limit);
        assert!(poll(&mut request).is_pending(), "{flow} did not wait");
        request
    }

    /// Polls every waiter once; takes out and returns the one that got its seats. At most
    /// one may have, as the tests free one seat at a time.
    fn take_dispatched(waiters: &mut Vec<Admit>) -> Option<Execution> {
        let mut dispatched = None;
        let mut index = 0;
        while index < waiters.len() {
            match poll(&mut waiters[index]) {
                Poll::Pending => index += 1,
                Poll::Ready(result) => {
                    let execution = result.expect("a waiter was rejected");
                    assert!(dispatched.is_none(), "two waiters ran on one free seat");
                    dispatched = Some(execution);
                    drop(waiters.swap_remove(index));
                }
            }
        }
        dispatched
    }

    /// Dispatches until the quiet flow's single request runs, each request of the flooding
    /// flow holding the level's only seat for `service`; returns how many dispatches that
    /// took. The flood first runs `warm_up` of its requests, alone.
    async fn dispatches_until_quiet_flow_runs(warm_up: usize, service: Duration) -> usize {
        let set = queuing(1, 64, 8, 50);
        let mut running = runs_now(&set, "flooder", 1);
        let mut flood: Vec<Admit> = (0..100)
            .map(|_| waits(&set, "flooder", 1, FOREVER))
            .collect();
        for _ in 0..warm_up {
            tokio::time::advance(service).await;
            drop(running);
            running = take_dispatched(&mut flood).expect("the flood keeps its seat busy");
        }
        let mut quiet = waits(&set, "quiet", 1, FOREVER);
        // The quiet flow has a queue of its own (a card outside the flooder's hand).
        let dump = set.dump(true);
        let quiet_queue = dump
            .queues
            .iter()
            .find(|q| {
                q.waiting
                    .iter()
                    .any(|r| r.note.flow_distinguisher == "quiet")
            })
            .expect("the quiet request waits in a queue");
        assert_eq!(quiet_queue.waiting_requests, 1);
        for dispatches in 1..=flood.len() {
            tokio::time::advance(service).await;
            drop(running);
            if let Poll::Ready(result) = poll(&mut quiet) {
                result.expect("the quiet request runs");
                return dispatches;
            }
            running = take_dispatched(&mut flood).expect("someone runs");
        }
        panic!("the quiet flow never ran");
    }

    #[tokio::test(start_paused = true)]
    async fn a_flooding_flow_cannot_starve_another_flow() {
        // FIFO would serve the quiet request after every one of the flood's (100 of them);
        // fair queuing serves it within one round over the flooder's hand of 8 queues.
        for (warm_up, service) in [
            (0, Duration::ZERO),
            (0, Duration::from_millis(10)),
            (30, Duration::from_millis(10)),
            (30, Duration::from_millis(1)),
        ] {
            let dispatches = dispatches_until_quiet_flow_runs(warm_up, service).await;
            assert!(
                dispatches <= 9,
                "warm-up {warm_up}, service {service:?}: {dispatches} dispatches"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn flows_share_seat_time_not_request_counts() {
        // One queue per flow (hand of 1), both always waiting. Slow requests run 100 ms,
        // fast ones 1 ms: each finish charges its queue for the time it really took (the
        // estimate being 3 ms), so the fast flow gets about a hundred dispatches per slow
        // one. Charging per request instead would alternate them.
        let set = queuing(1, 64, 1, 100);
        let mut slow: Vec<Admit> = Vec::new();
        let mut fast: Vec<Admit> = Vec::new();
        let mut running = (true, runs_now(&set, "slow", 1));
        let (mut slow_runs, mut fast_runs) = (0, 0);
        for _ in 0..250 {
            while slow.len() < 20 {
                slow.push(waits(&set, "slow", 1, FOREVER));
            }
            while fast.len() < 20 {
                fast.push(waits(&set, "fast", 1, FOREVER));
            }
            let service = if running.0 { 100 } else { 1 };
            tokio::time::advance(Duration::from_millis(service)).await;
            drop(running);
            running = match (take_dispatched(&mut slow), take_dispatched(&mut fast)) {
                (Some(execution), None) => {
                    slow_runs += 1;
                    (true, execution)
                }
                (None, Some(execution)) => {
                    fast_runs += 1;
                    (false, execution)
                }
                _ => panic!("exactly one request runs per free seat"),
            };
        }
        assert!(
            slow_runs >= 1 && fast_runs >= 20 * slow_runs,
            "slow {slow_runs}, fast {fast_runs}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_flow_waits_in_the_shortest_queue_of_its_hand() {
        let set = queuing(1, 16, 4, 50);
        let _running = runs_now(&set, "a", 1);
        let _waiters: Vec<Admit> = (0..8).map(|_| waits(&set, "a", 1, FOREVER)).collect();
        let hand = Dealer::new(16, 4).unwrap().deal(flow_hash("fs", "a"));
        let dump = set.dump(false);
        for queue in &dump.queues {
            assert!(hand.as_slice().contains(&queue.index));
            assert_eq!(queue.waiting_requests, 2, "queue {}", queue.index);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_rejects_when_every_seat_is_taken() {
        let set = queuing(1, 1, 1, 2);
        let _running = runs_now(&set, "a", 1);
        let _first = waits(&set, "a", 1, FOREVER);
        let _second = waits(&set, "b", 1, FOREVER);
        let result = poll(&mut admit(&set, "c", 1, FOREVER));
        assert!(matches!(result, Poll::Ready(Err(RejectReason::QueueFull))));
        let stats = set.stats();
        assert_eq!(stats.rejected.queue_full, 1);
        assert_eq!(stats.waiting_requests, 2);
        assert_eq!(stats.flow_schemas[0].rejected.queue_full, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_takes_more_while_seats_are_free_up_to_twice_its_limit() {
        // One seat is free but the queue's head needs two: kube still queues behind it.
        let set = queuing(2, 1, 1, 1);
        let _running = runs_now(&set, "a", 1);
        let _wide = waits(&set, "a", 2, FOREVER);
        let _narrow = waits(&set, "a", 1, FOREVER);
        let result = poll(&mut admit(&set, "a", 1, FOREVER));
        assert!(matches!(result, Poll::Ready(Err(RejectReason::QueueFull))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_times_out_and_leaves_its_queue() {
        let set = queuing(1, 8, 2, 10);
        let running = runs_now(&set, "a", 1);
        let mut waiter = waits(&set, "b", 1, Duration::from_secs(5));
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(poll(&mut waiter).is_pending());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(matches!(
            poll(&mut waiter),
            Poll::Ready(Err(RejectReason::TimeOut))
        ));
        let dump = set.dump(true);
        assert_eq!(dump.waiting, 0);
        assert_eq!(dump.rejected.time_out, 1);
        assert_eq!(dump.rejected.total(), 1);
        assert!(dump.queues.iter().all(|q| q.waiting.is_empty()));
        drop(running);
        assert!(set.is_idle());
        assert!(set.dump(false).queues.is_empty(), "an idle queue was kept");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_dispatched_as_its_time_runs_out_runs() {
        let set = queuing(1, 8, 2, 10);
        let running = runs_now(&set, "a", 1);
        let mut waiter = waits(&set, "b", 1, Duration::from_secs(5));
        tokio::time::advance(Duration::from_secs(5)).await;
        drop(running);
        let Poll::Ready(Ok(execution)) = poll(&mut waiter) else {
            panic!("the dispatched waiter did not run");
        };
        assert_eq!(execution.waited(), Duration::from_secs(5));
        assert_eq!(set.stats().rejected.total(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_a_waiting_request_leaves_no_entry() {
        let set = queuing(1, 8, 2, 10);
        let running = runs_now(&set, "a", 1);
        let waiter = waits(&set, "b", 1, FOREVER);
        drop(waiter);
        let stats = set.stats();
        assert_eq!(stats.waiting_requests, 0);
        assert_eq!(stats.rejected.cancelled, 1);
        assert!(stats.flow_schemas.iter().all(|f| f.in_queue == 0));
        assert_eq!(
            set.dump(false).queues.len(),
            1,
            "only the running request's queue"
        );
        drop(running);
        assert!(set.is_idle());
        assert!(set.dump(false).queues.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_a_request_dispatched_before_it_looked_frees_its_seats() {
        let set = queuing(1, 8, 2, 10);
        let running = runs_now(&set, "a", 1);
        let waiter = waits(&set, "b", 1, FOREVER);
        drop(running);
        assert_eq!(set.stats().executing_seats, 1, "the waiter was dispatched");
        drop(waiter);
        assert!(set.is_idle());
        let _next = runs_now(&set, "c", 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reject_level_runs_what_fits_and_rejects_the_rest() {
        let set = level(2, Mode::Reject);
        let a = runs_now(&set, "a", 1);
        let b = runs_now(&set, "b", 1);
        assert!(matches!(
            poll(&mut admit(&set, "c", 1, FOREVER)),
            Poll::Ready(Err(RejectReason::ConcurrencyLimit))
        ));
        drop(a);
        let _c = runs_now(&set, "c", 1);
        drop(b);
        drop(_c);
        // Ten seats asked of a level of two: capped at two, so it runs when both are free.
        let _wide = runs_now(&set, "w", 10);
        assert_eq!(set.stats().executing_seats, 2);
        assert!(matches!(
            poll(&mut admit(&set, "d", 1, FOREVER)),
            Poll::Ready(Err(RejectReason::ConcurrencyLimit))
        ));
        let stats = set.stats();
        assert_eq!(stats.rejected.concurrency_limit, 2);
        assert_eq!(stats.dispatched, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn an_exempt_level_never_waits_and_counts_what_it_runs() {
        let set = level(1, Mode::Exempt);
        let running: Vec<Execution> = (0..100)
            .map(|i| runs_now(&set, &format!("u{i}"), 3))
            .collect();
        let stats = set.stats();
        assert_eq!(stats.executing_requests, 100);
        assert_eq!(stats.executing_seats, 100, "each capped at the limit of 1");
        assert_eq!(stats.dispatched, 100);
        assert_eq!(set.dump(true).queueless_executing.len(), 100);
        drop(running);
        assert!(set.is_idle());
    }

    #[tokio::test(start_paused = true)]
    async fn a_wide_request_waits_until_its_seats_are_free() {
        let set = queuing(3, 8, 2, 10);
        let a = runs_now(&set, "a", 1);
        let b = runs_now(&set, "b", 1);
        let mut wide = waits(&set, "w", 3, FOREVER);
        drop(a);
        assert!(poll(&mut wide).is_pending());
        drop(b);
        let Poll::Ready(Ok(_wide)) = poll(&mut wide) else {
            panic!("the wide request did not run once all seats were free");
        };
        assert_eq!(set.stats().executing_seats, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_keeps_its_place_when_the_level_is_reconfigured() {
        let set = queuing(1, 8, 2, 10);
        let _running = runs_now(&set, "a", 1);
        let mut waiters: Vec<Admit> = (0..3)
            .map(|i| waits(&set, &format!("w{i}"), 1, FOREVER))
            .collect();
        // Fewer queues: the waiters stay where they are.
        set.configure(QueueSetConfig {
            concurrency_limit: 1,
            mode: Mode::Queue {
                queues: 2,
                hand_size: 1,
                queue_length_limit: 10,
            },
        });
        assert_eq!(set.stats().waiting_requests, 3);
        // Two more seats: two waiters run at once.
        set.configure(QueueSetConfig {
            concurrency_limit: 3,
            mode: Mode::Queue {
                queues: 2,
                hand_size: 1,
                queue_length_limit: 10,
            },
        });
        let first = take_dispatched_all(&mut waiters);
        assert_eq!(first.len(), 2);
        assert_eq!(set.stats().waiting_requests, 1);
    }

    /// Like `take_dispatched`, for when several seats freed at once.
    fn take_dispatched_all(waiters: &mut Vec<Admit>) -> Vec<Execution> {
        let mut dispatched = Vec::new();
        let mut index = 0;
        while index < waiters.len() {
            match poll(&mut waiters[index]) {
                Poll::Pending => index += 1,
                Poll::Ready(result) => {
                    dispatched.push(result.expect("a waiter was rejected"));
                    drop(waiters.swap_remove(index));
                }
            }
        }
        dispatched
    }

    #[tokio::test(start_paused = true)]
    async fn a_queue_turned_exempt_lets_its_waiters_run() {
        let set = queuing(1, 8, 2, 10);
        let _running = runs_now(&set, "a", 1);
        let mut waiters: Vec<Admit> = (0..3).map(|_| waits(&set, "b", 1, FOREVER)).collect();
        set.configure(QueueSetConfig {
            concurrency_limit: 1,
            mode: Mode::Exempt,
        });
        assert_eq!(take_dispatched_all(&mut waiters).len(), 3);
    }

    #[test]
    fn seat_seconds_print_as_kube_prints_them() {
        assert_eq!(
            SeatSeconds::of(1, ESTIMATED_SERVICE_DURATION).to_string(),
            "0.00300000ss"
        );
        assert_eq!(
            SeatSeconds::of(10, Duration::from_secs(2)).to_string(),
            "20.00000000ss"
        );
        assert_eq!(SeatSeconds::of(u32::MAX, Duration::MAX).0, u64::MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn r_advances_with_time_and_winds_back_before_it_overflows() {
        let set = queuing(4, 8, 2, 10);
        let _running = runs_now(&set, "a", 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        // One active queue wanting one seat: R grows by one seat-second per second.
        let r = set.lock_and_sync(Instant::now()).current_r;
        assert_eq!(r, SeatSeconds::of(1, Duration::from_secs(2)));

        let mut state = set.lock();
        state.current_r = HIGH_R;
        let before = state.queues.values().next().unwrap().next_dispatch_r;
        state
            .queues
            .values_mut()
            .for_each(|q| q.next_dispatch_r = HIGH_R.saturating_add(before));
        state.sync_time(Instant::now());
        assert_eq!(state.current_r, HIGH_R.saturating_sub(R_DECREMENT));
        let after = state.queues.values().next().unwrap().next_dispatch_r;
        assert_eq!(after, state.current_r.saturating_add(before));
    }
}
