//! Property 1 (and 4, 6): the single-key KV calls are linearizable.
//!
//! A Wing–Gong / Lowe "just-in-time linearization" search with Porcupine's pruning, run
//! separately for each key (a history is linearizable iff every key's sub-history is, P-
//! compositionality). The search walks the calls as call and return events in time order (a
//! doubly linked list it lifts linearized calls out of), tries every call that was invoked
//! before the first pending return, backtracks from an explicit stack when a return is reached
//! with its call not linearized, and never searches the same (set of linearized calls, model
//! state) twice.
//!
//! The model is one etcd key: its value or absent. Put sets it; a linearizable Get must read
//! it; CasValue sets `new` iff the value is `expected`, and else reads the value; Delete
//! removes it and says whether there was one. A CasRevision that succeeded sets `new` (the
//! model has no revisions, so it cannot check the compare). Serializable Gets (stale by
//! design), failed CasRevisions, and anything on a key ever written with a lease (a lease
//! expiry deletes behind the model's back) are left out.
//!
//! Outcomes: `Failed` means the call did not happen, so it is dropped, as is a read without an
//! answer. A write with an unknown outcome may have taken effect at any time after its invoke,
//! or never: it has no return (it may go last, which is the same as never) and any output is
//! accepted. Values are unique per run, which keeps the unknowns cheap:
//! - an unknown write whose value a call saw must have taken effect before that call returned:
//!   it gets that return as its own, and is searched like a known call;
//! - values nobody read or compared against cannot be told apart, so the search merges them
//!   into one; unknown calls left with the same effect are then interchangeable, so only the
//!   earliest invoked of each kind is tried;
//! - an unknown call is tried only where no known call can go next, and only if it changes
//!   the value; and a state is not searched if one with the same known calls and value and
//!   fewer unknown calls used was (the spare unknown calls can always go last).
//!
//! Uniqueness also prunes the known calls: a value with one writer never comes back once
//! replaced, so the search does not replace it while a call that saw it is still to go.
//!
//! Real time: call `a` precedes `b` iff `a` completed strictly before `b` was invoked; equal
//! times (the simulated clock ticks in milliseconds) count as concurrent.
//!
//! The search is bounded ([`MAX_STEPS_PER_KEY`]): a key whose search gives up is logged and
//! listed in [`Stats::gave_up`], and reported only if it has a violation that needs no search
//! to prove (below).
//!
//! What a failure reports, shortest evidence first:
//! - property 6 (no stale read): a linearizable Get read a value that a write had replaced
//!   before the Get was invoked (the writer, the write that replaced it, the Get), or read
//!   "absent" after a write with no delete that could come between;
//! - property 1: a call saw a value that no call wrote, or only failed calls did;
//! - else the search's longest linearizable prefix and the calls pending after it, none of
//!   which can go next: property 4 (atomic compare) if the one that must go first is a
//!   CasValue, else 1.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::{Property, Violation};
use crate::history::{Call, History, KvRead, Op, Outcome};

const CHECKER: &str = "linearizable";

/// Search steps (one call tried, or one backtrack) per key before the search gives up. A
/// step is about one hash-table operation: 2 million took about 0.5 s and 12 MB in a test
/// (unoptimized) build, on 4,400 calls from 32 clients at once on one key. Histories with
/// a few clients per key take tens of thousands of steps.
pub const MAX_STEPS_PER_KEY: u64 = 2_000_000;

/// Violations reported per run: the first few say enough.
const MAX_VIOLATIONS: usize = 3;

/// Calls in an excerpt, besides the line saying where the search got stuck.
const MAX_EXCERPT_CALLS: usize = 12;

/// What the checker did, so a caller can tell "linearizable" from "not checked".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Keys searched.
    pub keys: usize,
    /// Calls searched, over every key (after dropping failed calls and unanswered reads).
    pub calls: usize,
    /// Search steps, over every key.
    pub steps: u64,
    /// Keys whose search hit [`MAX_STEPS_PER_KEY`]: not known to be linearizable, and
    /// reported only with a violation that needs no search to prove.
    pub gave_up: Vec<String>,
    /// Keys left out because they were written with a lease.
    pub leased: Vec<String>,
    /// Keys with no linearization, including any beyond the violations reported.
    pub not_linearizable: Vec<String>,
}

pub fn check(history: &History) -> Vec<Violation> {
    check_with_stats(history).0
}

pub fn check_with_stats(history: &History) -> (Vec<Violation>, Stats) {
    check_with_limit(history, MAX_STEPS_PER_KEY)
}

/// [`check`] with `max_steps_per_key` in place of [`MAX_STEPS_PER_KEY`].
pub fn check_with_limit(history: &History, max_steps_per_key: u64) -> (Vec<Violation>, Stats) {
    let mut violations = Vec::new();
    let mut stats = Stats::default();
    for (key, calls) in calls_by_key(history) {
        if written_with_lease(&calls) {
            stats.leased.push(key.to_owned());
            continue;
        }
        let key_history = KeyHistory::new(key, &calls);
        let (verdict, steps) = search(&key_history.ops, &key_history.unread, max_steps_per_key);
        stats.keys += 1;
        stats.calls += key_history.ops.len();
        stats.steps += steps;
        let violation = match verdict {
            Verdict::Linearizable => None,
            Verdict::NotLinearizable { prefix } => Some(key_history.violation(&prefix)),
            Verdict::GaveUp => {
                tracing::warn!(
                    key,
                    calls = key_history.ops.len(),
                    steps,
                    "linearizability search gave up; the key is only checked for stale reads \
                     and reads of values nobody wrote"
                );
                stats.gave_up.push(key.to_owned());
                key_history.certain_violation()
            }
        };
        if let Some(violation) = violation {
            stats.not_linearizable.push(key.to_owned());
            if violations.len() < MAX_VIOLATIONS {
                violations.push(violation);
            }
        }
    }
    (violations, stats)
}

/// The single-key KV calls, by key, each key's in history (invoke) order.
fn calls_by_key(history: &History) -> BTreeMap<&str, Vec<&Call>> {
    let mut by_key: BTreeMap<&str, Vec<&Call>> = BTreeMap::new();
    for call in &history.calls {
        if let Some(key) = call.op.key() {
            by_key.entry(key).or_default().push(call);
        }
    }
    by_key
}

/// Whether a put with a lease may have written the key: the lease's expiry would delete it
/// without a call the model sees.
fn written_with_lease(calls: &[&Call]) -> bool {
    calls.iter().any(|call| {
        matches!(call.op, Op::Put { lease, .. } if lease != 0)
            && !matches!(call.outcome, Outcome::Failed(_))
    })
}

// ---------------------------------------------------------------------------------------------
// The model of one key.

/// A value of the key, interned: the search compares numbers, not strings.
type Value = u32;
/// The key does not exist.
const ABSENT: Value = 0;
/// Any value that no call read or compared against. No call can tell two of them apart, so
/// the search uses this one value for all of them.
const UNREAD: Value = 1;

/// What one call does to the key, with its output if known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Action {
    /// A put, or a CasRevision that succeeded or may have: the value becomes `value`.
    Set { value: Value },
    /// A linearizable Get that read `read`.
    Get { read: Value },
    /// If the value is `expected` then it becomes `new`; `result` is `None` if unknown.
    CasValue {
        expected: Value,
        new: Value,
        result: Option<CasResult>,
    },
    /// The key is removed; `deleted` (0 or 1) is `None` if unknown.
    Delete { deleted: Option<i64> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct CasResult {
    succeeded: bool,
    /// What the else branch read (only meaningful if not `succeeded`).
    read: Value,
}

/// The value after `action` on `value`, or `None` if its output says it cannot have run on
/// `value`.
fn apply(value: Value, action: Action) -> Option<Value> {
    match action {
        Action::Set { value: new } => Some(new),
        Action::Get { read } => (read == value).then_some(value),
        Action::CasValue {
            expected,
            new,
            result,
        } => match result {
            None if value == expected => Some(new),
            None => Some(value),
            Some(CasResult {
                succeeded: true, ..
            }) => (value == expected).then_some(new),
            Some(CasResult {
                succeeded: false,
                read,
            }) => (value != expected && read == value).then_some(value),
        },
        Action::Delete { deleted: None } => Some(ABSENT),
        Action::Delete {
            deleted: Some(deleted),
        } => (deleted == i64::from(value != ABSENT)).then_some(ABSENT),
    }
}

impl Action {
    /// The value this action may write (not a CasValue known to have failed its compare).
    fn written(self) -> Option<Value> {
        match self {
            Action::Set { value } => Some(value),
            Action::CasValue {
                result: Some(CasResult {
                    succeeded: false, ..
                }),
                ..
            } => None,
            Action::CasValue { new, .. } => Some(new),
            Action::Get { .. } | Action::Delete { .. } => None,
        }
    }

    /// The value this action's known output shows the key held (not absent).
    fn observed(self) -> Option<Value> {
        let value = match self {
            Action::Get { read } => read,
            Action::CasValue {
                expected,
                result: Some(result),
                ..
            } => match result.succeeded {
                true => expected,
                false => result.read,
            },
            Action::Set { .. } | Action::CasValue { .. } | Action::Delete { .. } => ABSENT,
        };
        (value != ABSENT).then_some(value)
    }

    /// Every value this action reads or compares against.
    fn read_values(self) -> Vec<Value> {
        match self {
            Action::Get { read } => vec![read],
            Action::CasValue {
                expected, result, ..
            } => vec![expected, result.map_or(ABSENT, |result| result.read)],
            Action::Set { .. } | Action::Delete { .. } => Vec::new(),
        }
    }

    /// Whether its known output says it changed the key (a CasValue that succeeded, a Delete
    /// that deleted).
    fn reports_change(self) -> bool {
        matches!(
            self,
            Action::CasValue {
                result: Some(CasResult {
                    succeeded: true,
                    ..
                }),
                ..
            } | Action::Delete { deleted: Some(1) }
        )
    }

    /// This action with every value nobody read replaced by [`UNREAD`].
    fn merge_unread(self, unread: &[bool]) -> Action {
        let merge = |value: Value| match unread[value as usize] {
            true => UNREAD,
            false => value,
        };
        match self {
            Action::Set { value } => Action::Set {
                value: merge(value),
            },
            Action::CasValue {
                expected,
                new,
                result,
            } => Action::CasValue {
                expected,
                new: merge(new),
                result,
            },
            Action::Get { .. } | Action::Delete { .. } => self,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One key's history.

/// A time, in nanoseconds since the start of the run.
type Instant = u128;
/// The return of a call whose outcome is unknown: it may take effect at any time.
const NEVER: Instant = Instant::MAX;

/// One call, as the model sees it.
struct Operation<'a> {
    call: &'a Call,
    action: Action,
    /// The outcome is unknown: any output is accepted.
    unknown: bool,
    invoke: Instant,
    /// The time by which it must have taken effect: its complete, or [`NEVER`].
    ret: Instant,
}

impl<'a> Operation<'a> {
    /// The operation of `call`, or `None` if the model leaves it out.
    fn new(call: &'a Call, values: &mut Values<'a>) -> Option<Self> {
        if matches!(call.outcome, Outcome::Failed(_)) {
            return None;
        }
        let answered = call.complete.is_some() && !call.is_unknown();
        let (action, known) = match (&call.op, &call.outcome) {
            (Op::Put { value, .. }, Outcome::Put { .. }) => (values.set(value), answered),
            (Op::Put { value, .. }, _) => (values.set(value), false),
            (Op::Get { serializable, .. }, Outcome::Get { kv, .. })
                if answered && !serializable =>
            {
                (
                    Action::Get {
                        read: values.read(kv),
                    },
                    true,
                )
            }
            (Op::CasValue { expected, new, .. }, Outcome::Cas { succeeded, kv, .. })
                if answered =>
            {
                let result = CasResult {
                    succeeded: *succeeded,
                    read: values.read(kv),
                };
                (values.cas(expected, new, Some(result)), true)
            }
            (Op::CasValue { expected, new, .. }, _) => (values.cas(expected, new, None), false),
            (
                Op::CasRevision { new, .. },
                Outcome::Cas {
                    succeeded: true, ..
                },
            ) if answered => (values.set(new), true),
            (Op::CasRevision { .. }, Outcome::Cas { .. }) if answered => return None,
            (Op::CasRevision { new, .. }, _) => (values.set(new), false),
            (Op::Delete { .. }, Outcome::Delete { deleted, .. }) if answered => (
                Action::Delete {
                    deleted: Some(*deleted),
                },
                true,
            ),
            (Op::Delete { .. }, _) => (Action::Delete { deleted: None }, false),
            (
                Op::Get { .. } | Op::RangeAt { .. } | Op::LeaseGrant { .. } | Op::Compact { .. },
                _,
            ) => return None,
        };
        let invoke = call.invoke.as_nanos();
        let ret = match (known, call.complete) {
            (true, Some(complete)) => complete.as_nanos().max(invoke),
            _ => NEVER,
        };
        Some(Operation {
            call,
            action,
            unknown: !known,
            invoke,
            ret,
        })
    }

    /// Whether this certainly changed the key: a known write, or an unknown one whose value
    /// a call saw (it has a return).
    fn certain_write(&self) -> bool {
        match self.unknown {
            true => self.ret != NEVER,
            false => matches!(self.action, Action::Set { .. }) || self.action.reports_change(),
        }
    }
}

/// The values of one key, interned.
struct Values<'a> {
    ids: HashMap<&'a str, Value>,
    /// Value id -> the value.
    names: Vec<&'a str>,
}

impl<'a> Values<'a> {
    fn new() -> Self {
        Values {
            ids: HashMap::new(),
            names: vec!["<absent>", "<a value no call read>"],
        }
    }

    fn id(&mut self, value: &'a str) -> Value {
        let next = Value::try_from(self.names.len()).unwrap_or(Value::MAX);
        *self.ids.entry(value).or_insert_with(|| {
            self.names.push(value);
            next
        })
    }

    fn read(&mut self, kv: &'a Option<KvRead>) -> Value {
        kv.as_ref().map_or(ABSENT, |kv| self.id(&kv.value))
    }

    fn set(&mut self, value: &'a str) -> Action {
        Action::Set {
            value: self.id(value),
        }
    }

    fn cas(
        &mut self,
        expected: &'a Option<String>,
        new: &'a str,
        result: Option<CasResult>,
    ) -> Action {
        Action::CasValue {
            expected: expected.as_deref().map_or(ABSENT, |value| self.id(value)),
            new: self.id(new),
            result,
        }
    }

    fn name(&self, value: Value) -> &str {
        self.names.get(value as usize).copied().unwrap_or("<?>")
    }
}

/// The calls on one key, as the model sees them.
struct KeyHistory<'a> {
    key: &'a str,
    /// Every call on the key, including those the model leaves out.
    calls: Vec<&'a Call>,
    /// In invoke order.
    ops: Vec<Operation<'a>>,
    values: Values<'a>,
    /// Value id -> no call read it or compared against it.
    unread: Vec<bool>,
}

impl<'a> KeyHistory<'a> {
    fn new(key: &'a str, calls: &[&'a Call]) -> Self {
        let mut values = Values::new();
        let mut ops: Vec<Operation<'a>> = calls
            .iter()
            .filter_map(|call| Operation::new(call, &mut values))
            .collect();
        ops.sort_by_key(|op| (op.invoke, op.call.id));
        let mut unread = vec![true; values.names.len()];
        unread[ABSENT as usize] = false;
        unread[UNREAD as usize] = false;
        for op in &ops {
            for value in op.action.read_values() {
                unread[value as usize] = false;
            }
        }
        give_unknowns_a_return(&mut ops);
        KeyHistory {
            key,
            calls: calls.to_vec(),
            ops,
            values,
            unread,
        }
    }
}

/// An unknown write of a value that a known call saw took effect before that call returned
/// (values are unique, so no other write could have written it): its return is the earliest
/// such call's.
fn give_unknowns_a_return(ops: &mut [Operation]) {
    let mut writers: HashMap<Value, usize> = HashMap::new();
    for op in ops.iter() {
        if let Some(value) = op.action.written() {
            *writers.entry(value).or_default() += 1;
        }
    }
    let mut seen_by: HashMap<Value, Instant> = HashMap::new();
    for op in ops.iter().filter(|op| !op.unknown) {
        if let Some(value) = op.action.observed() {
            let ret = seen_by.entry(value).or_insert(op.ret);
            *ret = (*ret).min(op.ret);
        }
    }
    for op in ops.iter_mut().filter(|op| op.unknown) {
        let Some(value) = op.action.written() else {
            continue;
        };
        if let (Some(1), Some(&seen)) = (writers.get(&value), seen_by.get(&value)) {
            op.ret = seen.max(op.invoke);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The search.

/// How the search of one key ended.
enum Verdict {
    Linearizable,
    /// No linearization: `prefix` is the longest linearizable prefix found (operation
    /// indices, in linearization order).
    NotLinearizable {
        prefix: Vec<usize>,
    },
    /// The search hit its bound.
    GaveUp,
}

/// Searches for a linearization of `ops`; returns the verdict and the steps it took.
fn search(ops: &[Operation], unread: &[bool], max_steps: u64) -> (Verdict, u64) {
    let mut search = Search::new(ops, unread);
    let verdict = search.run(max_steps);
    (verdict, search.steps)
}

/// The end of a list.
const NIL: usize = usize::MAX;

/// The call and return events of the operations with a return, in time order, as a doubly
/// linked list from which a linearized call is lifted (its call and return unlinked) and put
/// back in O(1) when the search backtracks.
struct EventList {
    /// `nodes[0]` is the head: never an event, only the start of the list.
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    prev: usize,
    next: usize,
    event: Event,
}

#[derive(Debug, Clone, Copy)]
enum Event {
    /// `op` was invoked; `ret` is the node of its return.
    Call { op: usize, ret: usize },
    /// An operation returned at `at`: it must be linearized by now.
    Return { at: Instant },
}

impl EventList {
    fn new(ops: &[Operation]) -> Self {
        // (time, is a return, op): at equal times calls come first, so that two calls at the
        // same millisecond are concurrent.
        let mut events: Vec<(Instant, bool, usize)> = Vec::new();
        for (op, operation) in ops.iter().enumerate() {
            if operation.ret != NEVER {
                events.push((operation.invoke, false, op));
                events.push((operation.ret, true, op));
            }
        }
        events.sort_unstable();
        let head = Node {
            prev: NIL,
            next: if events.is_empty() { NIL } else { 1 },
            event: Event::Return { at: 0 },
        };
        let mut nodes = vec![head];
        let mut return_node = vec![NIL; ops.len()];
        for (n, &(at, is_return, op)) in events.iter().enumerate() {
            let index = n + 1;
            let event = match is_return {
                true => {
                    return_node[op] = index;
                    Event::Return { at }
                }
                false => Event::Call { op, ret: NIL },
            };
            let next = if index < events.len() { index + 1 } else { NIL };
            nodes.push(Node {
                prev: n,
                next,
                event,
            });
        }
        for node in &mut nodes {
            if let Event::Call { op, ret } = &mut node.event {
                *ret = return_node[*op];
            }
        }
        EventList { nodes }
    }

    fn first(&self) -> usize {
        self.nodes[0].next
    }

    fn is_empty(&self) -> bool {
        self.first() == NIL
    }

    /// Takes the call at `call` and its return out of the list.
    fn lift(&mut self, call: usize) {
        if let Event::Call { ret, .. } = self.nodes[call].event {
            self.unlink(call);
            self.unlink(ret);
        }
    }

    /// Undoes the [`EventList::lift`] of `call`; lifts are undone in reverse order.
    fn unlift(&mut self, call: usize) {
        if let Event::Call { ret, .. } = self.nodes[call].event {
            self.relink(ret);
            self.relink(call);
        }
    }

    fn unlink(&mut self, node: usize) {
        let Node { prev, next, .. } = self.nodes[node];
        self.nodes[prev].next = next;
        if next != NIL {
            self.nodes[next].prev = prev;
        }
    }

    /// Puts `node` back where it was: its own links were left untouched by the unlink.
    fn relink(&mut self, node: usize) {
        let Node { prev, next, .. } = self.nodes[node];
        self.nodes[prev].next = node;
        if next != NIL {
            self.nodes[next].prev = node;
        }
    }
}

/// The operations without a return (unknown outcome, nobody saw their effect), grouped by
/// what they do. Two in one class are interchangeable (same effect, no return), so only the
/// earliest invoked one not yet linearized is ever tried: the taken ones are always a prefix
/// of each class, and a count per class says which.
struct UnknownClasses {
    /// Each class's operations (with their invoke), in invoke order.
    classes: Vec<Vec<(usize, Instant)>>,
    /// Class -> how many of its operations are linearized.
    taken: Vec<u32>,
    /// The classes with some taken, in the order they got their first: a stack, since the
    /// search takes and puts back in LIFO order.
    in_use: Vec<u32>,
}

impl UnknownClasses {
    fn new(ops: &[Operation], actions: &[Action]) -> Self {
        let mut index: HashMap<Action, usize> = HashMap::new();
        let mut classes: Vec<Vec<(usize, Instant)>> = Vec::new();
        for (op, operation) in ops.iter().enumerate() {
            if operation.ret == NEVER {
                let class = *index.entry(actions[op]).or_insert_with(|| {
                    classes.push(Vec::new());
                    classes.len() - 1
                });
                classes[class].push((op, operation.invoke));
            }
        }
        let taken = vec![0; classes.len()];
        UnknownClasses {
            classes,
            taken,
            in_use: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.classes.len()
    }

    /// The operation of `class` to try next, if it was invoked by `deadline`.
    fn next(&self, class: usize, deadline: Instant) -> Option<usize> {
        let &(op, invoke) = self.classes[class].get(self.taken[class] as usize)?;
        (invoke <= deadline).then_some(op)
    }

    fn take(&mut self, class: usize) {
        self.taken[class] += 1;
        if self.taken[class] == 1 {
            self.in_use.push(class as u32);
        }
    }

    fn put_back(&mut self, class: usize) {
        self.taken[class] -= 1;
        if self.taken[class] == 0 {
            self.in_use.pop();
        }
    }

    /// The counts of the classes in use: (class, taken).
    fn counts(&self) -> ClassCounts {
        self.in_use
            .iter()
            .map(|&class| (class, self.taken[class as usize]))
            .collect()
    }

    /// Whether every class has at least the counts `other` has.
    fn at_least(&self, other: &[(u32, u32)]) -> bool {
        other
            .iter()
            .all(|&(class, taken)| self.taken[class as usize] >= taken)
    }
}

/// (class, how many of its operations are taken), for the classes with any taken.
type ClassCounts = Box<[(u32, u32)]>;

type FingerprintMap<T> = HashMap<u128, T, BuildHasherDefault<FoldHasher>>;

/// The states already searched. A state is the known operations linearized, the value, and
/// how many of each class of unknown operations were taken. A state covers another with the
/// same known operations and value that took at least as many of each class: whatever the
/// other can still do, it can do too, putting the extra unknown operations last, where any
/// output is accepted. A covered state needs no search: the one covering it is either done
/// and found nothing, or is an ancestor on the stack, still searching the ways that do not
/// detour through more unknown operations.
///
/// The known operations and value are a 128-bit fingerprint (see `Search::linearized`):
/// 16 bytes instead of the set keeps millions of states small, and two fingerprints collide
/// with odds of about 2^-128 per pair (a collision could only hide a linearization).
#[derive(Default)]
struct Searched {
    /// Fingerprint -> the counts of the first state searched with it.
    first: FingerprintMap<ClassCounts>,
    /// Fingerprint -> the counts of any further states searched with it (rare: each needs
    /// fewer of some class and more of another).
    more: FingerprintMap<Vec<ClassCounts>>,
}

impl Searched {
    /// Records the state, unless a searched state covers it; returns whether it is new.
    fn insert(&mut self, fingerprint: u128, unknowns: &UnknownClasses) -> bool {
        match self.first.get(&fingerprint) {
            None => {
                self.first.insert(fingerprint, unknowns.counts());
                return true;
            }
            Some(counts) if unknowns.at_least(counts) => return false,
            Some(_) => {}
        }
        let more = self.more.entry(fingerprint).or_default();
        if more.iter().any(|counts| unknowns.at_least(counts)) {
            return false;
        }
        more.push(unknowns.counts());
        true
    }
}

/// Where the search looks next.
#[derive(Debug, Clone, Copy)]
enum Cursor {
    /// A node of the event list: a call to try, or a return, after which no known call can
    /// go next.
    List(usize),
    /// The unknown classes from `class` on, for operations invoked by `deadline` (the first
    /// pending return).
    Unknown { class: usize, deadline: Instant },
}

/// How an operation on the stack was linearized, to undo it.
#[derive(Debug, Clone, Copy)]
enum Lift {
    Known { call: usize },
    Unknown { class: usize, deadline: Instant },
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    op: usize,
    /// The value before this operation.
    before: Value,
    lift: Lift,
}

/// The search over one key. Known operations are tried first, in event order, as in
/// Lowe's algorithm; an unknown one only when no known one can go next, and only if it
/// changes the value.
struct Search {
    /// Each operation's action, with unread values merged.
    actions: Vec<Action>,
    /// Value -> the operations not yet linearized that must see it (a Get that read it, a
    /// CasValue that compared it or read it).
    waiting: Vec<u32>,
    /// Value -> exactly one operation writes it. Once it is replaced it can never come back,
    /// so replacing it while an operation still waits to see it leads nowhere.
    written_once: Vec<bool>,
    /// A random 128-bit key per operation: a set of operations is fingerprinted by the xor of
    /// its members' keys, updated in O(1) per lift.
    keys: Vec<u128>,
    list: EventList,
    unknowns: UnknownClasses,
    searched: Searched,
    stack: Vec<Frame>,
    value: Value,
    /// The fingerprint of the known operations on the stack.
    linearized: u128,
    /// Known operations on the stack.
    known: usize,
    /// The prefix with the most known operations linearized so far, for the excerpt.
    longest: Vec<usize>,
    longest_known: usize,
    steps: u64,
}

impl Search {
    fn new(ops: &[Operation], unread: &[bool]) -> Self {
        let actions: Vec<Action> = ops
            .iter()
            .map(|op| op.action.merge_unread(unread))
            .collect();
        let keys = (0..ops.len()).map(|op| op_key(op as u64)).collect();
        let unknowns = UnknownClasses::new(ops, &actions);
        let mut searched = Searched::default();
        searched.insert(value_key(ABSENT), &unknowns);
        let mut waiting = vec![0; unread.len()];
        let mut writers = vec![0_u32; unread.len()];
        for action in &actions {
            if let Some(value) = action.observed() {
                waiting[value as usize] += 1;
            }
            if let Some(value) = action.written() {
                writers[value as usize] += 1;
            }
        }
        Search {
            actions,
            waiting,
            written_once: writers.iter().map(|&writers| writers == 1).collect(),
            keys,
            list: EventList::new(ops),
            unknowns,
            searched,
            stack: Vec::new(),
            value: ABSENT,
            linearized: 0,
            known: 0,
            longest: Vec::new(),
            longest_known: 0,
            steps: 0,
        }
    }

    fn run(&mut self, max_steps: u64) -> Verdict {
        let mut cursor = Cursor::List(self.list.first());
        // Once every known operation is linearized, the unknown ones go last.
        while !self.list.is_empty() {
            if self.steps >= max_steps {
                return Verdict::GaveUp;
            }
            self.steps += 1;
            cursor = match cursor {
                Cursor::List(node) => self.at_node(node),
                Cursor::Unknown { class, deadline } if class < self.unknowns.len() => {
                    self.at_unknown(class, deadline)
                }
                Cursor::Unknown { .. } => match self.backtrack() {
                    Some(cursor) => cursor,
                    None => {
                        return Verdict::NotLinearizable {
                            prefix: std::mem::take(&mut self.longest),
                        };
                    }
                },
            };
        }
        Verdict::Linearizable
    }

    /// The list is not empty and every call in it comes before its return, so a scan from
    /// the head meets a return before the end: `node` is never `NIL`.
    fn at_node(&mut self, node: usize) -> Cursor {
        let event = self.list.nodes[node].event;
        match event {
            Event::Call { op, .. } if self.lift(op, Lift::Known { call: node }) => {
                Cursor::List(self.list.first())
            }
            Event::Call { .. } => Cursor::List(self.list.nodes[node].next),
            Event::Return { at } => Cursor::Unknown {
                class: 0,
                deadline: at,
            },
        }
    }

    fn at_unknown(&mut self, class: usize, deadline: Instant) -> Cursor {
        match self.unknowns.next(class, deadline) {
            Some(op) if self.lift(op, Lift::Unknown { class, deadline }) => {
                Cursor::List(self.list.first())
            }
            _ => Cursor::Unknown {
                class: class + 1,
                deadline,
            },
        }
    }

    /// Linearizes `op` next if its output allows it and that leads to a state not covered
    /// by one already searched.
    fn lift(&mut self, op: usize, lift: Lift) -> bool {
        let action = self.actions[op];
        let Some(after) = apply(self.value, action) else {
            return false;
        };
        if after != self.value && self.still_awaited(self.value, action) {
            return false;
        }
        let linearized = match lift {
            Lift::Known { .. } => self.linearized ^ self.keys[op],
            // An unknown operation that changes nothing may as well go last.
            Lift::Unknown { .. } if after == self.value => return false,
            Lift::Unknown { class, .. } => {
                self.unknowns.take(class);
                self.linearized
            }
        };
        if !self
            .searched
            .insert(linearized ^ value_key(after), &self.unknowns)
        {
            if let Lift::Unknown { class, .. } = lift {
                self.unknowns.put_back(class);
            }
            return false;
        }
        if let Lift::Known { call } = lift {
            self.list.lift(call);
            self.known += 1;
        }
        if let Some(seen) = action.observed() {
            self.waiting[seen as usize] -= 1;
        }
        self.stack.push(Frame {
            op,
            before: self.value,
            lift,
        });
        self.value = after;
        self.linearized = linearized;
        if self.known > self.longest_known {
            self.longest_known = self.known;
            self.longest = self.stack.iter().map(|frame| frame.op).collect();
        }
        true
    }

    /// Whether an operation other than `action` still waits to see `value`, which can never
    /// come back once replaced.
    fn still_awaited(&self, value: Value, action: Action) -> bool {
        let own = u32::from(action.observed() == Some(value));
        self.written_once[value as usize] && self.waiting[value as usize] > own
    }

    /// Undoes the last linearization; `None` if there is none left to undo.
    fn backtrack(&mut self) -> Option<Cursor> {
        let frame = self.stack.pop()?;
        self.value = frame.before;
        if let Some(seen) = self.actions[frame.op].observed() {
            self.waiting[seen as usize] += 1;
        }
        Some(match frame.lift {
            Lift::Known { call } => {
                self.linearized ^= self.keys[frame.op];
                self.known -= 1;
                self.list.unlift(call);
                Cursor::List(self.list.nodes[call].next)
            }
            Lift::Unknown { class, deadline } => {
                self.unknowns.put_back(class);
                Cursor::Unknown {
                    class: class + 1,
                    deadline,
                }
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Reporting.

/// A Get that read a value a known write had replaced before the Get was invoked.
struct StaleRead {
    /// The write of the value read (`None`: the read was "absent").
    written_by: Option<usize>,
    replaced_by: usize,
    read: usize,
}

impl KeyHistory<'_> {
    fn violation(&self, prefix: &[usize]) -> Violation {
        if let Some(violation) = self.certain_violation() {
            return violation;
        }
        let blocked = self.blocked(prefix);
        let property = match blocked.map(|op| self.ops[op].action) {
            Some(Action::CasValue { .. }) => Property::AtomicCompare,
            _ => Property::Linearizable,
        };
        let message = match blocked {
            Some(op) => format!(
                "key {}: its {} calls have no linearization: after the longest linearizable \
                 prefix found ({} of them), #{} cannot take effect",
                self.key,
                self.ops.len(),
                prefix.len(),
                self.ops[op].call.id
            ),
            None => format!(
                "key {}: its {} calls have no linearization",
                self.key,
                self.ops.len()
            ),
        };
        Violation {
            property,
            checker: CHECKER,
            message,
            excerpt: self.stuck_excerpt(prefix, blocked),
        }
    }

    /// The operation with the earliest return that the prefix leaves out: it must go next,
    /// and neither it nor anything concurrent with it can.
    fn blocked(&self, prefix: &[usize]) -> Option<usize> {
        let done = self.linearized(prefix);
        (0..self.ops.len())
            .filter(|&op| !done[op] && self.ops[op].ret != NEVER)
            .min_by_key(|&op| (self.ops[op].ret, op))
    }

    fn linearized(&self, prefix: &[usize]) -> Vec<bool> {
        let mut done = vec![false; self.ops.len()];
        for &op in prefix {
            done[op] = true;
        }
        done
    }

    /// The calls around the point where the search got stuck: the pending ones (the blocked
    /// one first, unknown ones last) and the last ones linearized, in invoke order, then a
    /// line with the value there.
    fn stuck_excerpt(&self, prefix: &[usize], blocked: Option<usize>) -> Vec<String> {
        let done = self.linearized(prefix);
        let deadline = blocked.map_or(NEVER, |op| self.ops[op].ret);
        let mut pending: Vec<usize> = (0..self.ops.len())
            .filter(|&op| !done[op] && self.ops[op].invoke <= deadline)
            .collect();
        pending.sort_by_key(|&op| (self.ops[op].ret, op));
        let last_write = prefix
            .iter()
            .rev()
            .find(|&&op| self.ops[op].action.written().is_some());
        let mut recent: Vec<usize> = prefix.iter().rev().take(2).copied().collect();
        recent.extend(last_write.filter(|op| !recent.contains(op)));
        let mut shown: Vec<usize> = pending
            .iter()
            .take(MAX_EXCERPT_CALLS.saturating_sub(recent.len()))
            .chain(&recent)
            .copied()
            .collect();
        shown.sort_unstable();
        let mut excerpt: Vec<String> = shown
            .iter()
            .map(|&op| self.ops[op].call.to_string())
            .collect();
        excerpt.push(self.stuck_line(prefix, &recent, pending.len(), blocked));
        excerpt
    }

    fn stuck_line(
        &self,
        prefix: &[usize],
        recent: &[usize],
        pending: usize,
        blocked: Option<usize>,
    ) -> String {
        let value = prefix.iter().fold(ABSENT, |value, &op| {
            apply(value, self.ops[op].action).unwrap_or(value)
        });
        let recent: Vec<String> = recent
            .iter()
            .map(|&op| format!("#{}", self.ops[op].call.id))
            .collect();
        let mut line = format!(
            "the value was {} after linearizing {} of {} calls (last {})",
            self.values.name(value),
            prefix.len(),
            self.ops.len(),
            recent.join(", ")
        );
        if let Some(op) = blocked {
            line += &format!(
                "; none of the {pending} calls pending can go next, and #{} must before it \
                 completes at {:.3}s",
                self.ops[op].call.id,
                self.ops[op].ret as f64 / 1e9
            );
        }
        line
    }

    /// A linearizable Get that read a value replaced before it began: `W` wrote it, a known
    /// write began after `W` completed and completed before the Get was invoked. Or a Get
    /// that read "absent" after a known write completed, with no delete that could have come
    /// between.
    fn stale_read(&self) -> Option<StaleRead> {
        let ops = &self.ops;
        let writes: Vec<usize> = (0..ops.len())
            .filter(|&op| ops[op].certain_write())
            .collect();
        ops.iter().enumerate().find_map(|(read, op)| {
            let Action::Get { read: value } = op.action else {
                return None;
            };
            let replaced_after = match value {
                ABSENT => {
                    let deletes = ops.iter().any(|delete| {
                        matches!(delete.action, Action::Delete { .. }) && delete.invoke < op.ret
                    });
                    if deletes {
                        return None;
                    }
                    // Any write replaced the absent key the run started with.
                    None
                }
                _ => Some(self.only_writer(value)?),
            };
            let start = replaced_after.map(|writer| ops[writer].ret);
            let replaced_by = writes.iter().copied().find(|&write| {
                Some(write) != replaced_after
                    && start.is_none_or(|start| start < ops[write].invoke)
                    && ops[write].ret < op.invoke
                    && (value != ABSENT || ops[write].action.written().is_some())
            })?;
            Some(StaleRead {
                written_by: replaced_after,
                replaced_by,
                read,
            })
        })
    }

    fn only_writer(&self, value: Value) -> Option<usize> {
        let mut writers =
            (0..self.ops.len()).filter(|&op| self.ops[op].action.written() == Some(value));
        let writer = writers.next()?;
        writers.next().is_none().then_some(writer)
    }

    /// A violation that needs no search to prove, with the few calls that prove it: a stale
    /// read, or a read of a value that no call wrote.
    fn certain_violation(&self) -> Option<Violation> {
        if let Some(stale) = self.stale_read() {
            return Some(self.stale_read_violation(&stale));
        }
        let (op, value) = self.unwritten_read()?;
        let call = self.ops[op].call;
        let wrote = self.attempted_writes(value);
        let why = match wrote.is_empty() {
            true => format!(
                "#{} saw {}, which no call wrote",
                call.id,
                self.values.name(value)
            ),
            false => format!(
                "#{} saw {}, which only calls that failed (did not happen) wrote",
                call.id,
                self.values.name(value)
            ),
        };
        let excerpt = wrote
            .iter()
            .map(|call| call.to_string())
            .chain([call.to_string(), why.clone()])
            .collect();
        Some(Violation {
            property: Property::Linearizable,
            checker: CHECKER,
            message: format!(
                "key {}: {why} (the {} calls on the key have no linearization)",
                self.key,
                self.ops.len()
            ),
            excerpt,
        })
    }

    /// The first operation that saw a value no operation writes, and the value.
    fn unwritten_read(&self) -> Option<(usize, Value)> {
        let mut written = vec![false; self.values.names.len()];
        for op in &self.ops {
            if let Some(value) = op.action.written() {
                written[value as usize] = true;
            }
        }
        self.ops.iter().enumerate().find_map(|(op, operation)| {
            let value = operation.action.observed()?;
            (!written[value as usize]).then_some((op, value))
        })
    }

    /// The calls left out of the model (failed ones) that tried to write `value`.
    fn attempted_writes(&self, value: Value) -> Vec<&Call> {
        let name = self.values.name(value);
        self.calls
            .iter()
            .copied()
            .filter(|call| match &call.op {
                Op::Put { value, .. } => value == name,
                Op::CasValue { new, .. } | Op::CasRevision { new, .. } => new == name,
                _ => false,
            })
            .take(MAX_EXCERPT_CALLS - 2)
            .collect()
    }

    fn stale_read_violation(&self, stale: &StaleRead) -> Violation {
        let call = |op: usize| self.ops[op].call;
        let read = call(stale.read);
        let replaced_by = call(stale.replaced_by);
        let mut shown: Vec<usize> = stale
            .written_by
            .into_iter()
            .chain([stale.replaced_by, stale.read])
            .collect();
        shown.sort_unstable();
        let mut excerpt: Vec<String> = shown.iter().map(|&op| call(op).to_string()).collect();
        let why = match stale.written_by {
            Some(writer) => format!(
                "#{} read what #{} wrote, but #{} replaced it, beginning after #{} completed and \
                 completing before #{} began",
                read.id,
                call(writer).id,
                replaced_by.id,
                call(writer).id,
                read.id
            ),
            None => format!(
                "#{} read the key as absent, but #{} wrote it before #{} began, and no delete \
                 could come between",
                read.id, replaced_by.id, read.id
            ),
        };
        excerpt.push(why);
        Violation {
            property: Property::NoStaleRead,
            checker: CHECKER,
            message: format!(
                "key {}: #{} is a stale read (the {} calls on the key have no linearization)",
                self.key,
                read.id,
                self.ops.len()
            ),
            excerpt,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fingerprints.

/// SplitMix64: a fixed, well-mixed 64-bit function of `x`.
fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn mix128(x: u64) -> u128 {
    (u128::from(mix64(x)) << 64) | u128::from(mix64(x ^ 0x5851_F42D_4C95_7F2D))
}

/// Operations get odd inputs and values even ones, so no key is used twice.
fn op_key(op: u64) -> u128 {
    mix128(op.wrapping_mul(2) | 1)
}

fn value_key(value: Value) -> u128 {
    mix128(u64::from(value) * 2)
}

/// The hasher for fingerprints, which are random already: folds the 128 bits into 64.
#[derive(Default)]
struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 =
                (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
        }
    }

    fn write_u128(&mut self, fingerprint: u128) {
        self.0 = (fingerprint as u64) ^ ((fingerprint >> 64) as u64);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use super::*;

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    /// A call by `client`, invoked at `invoke` ms and completed at `complete` ms.
    fn call(client: &str, invoke: u64, complete: Option<u64>, op: Op, outcome: Outcome) -> Call {
        Call {
            id: 0,
            client: client.to_owned(),
            member: "store-0".to_owned(),
            op,
            invoke: ms(invoke),
            complete: complete.map(ms),
            outcome,
        }
    }

    /// A call that completed at `complete` ms.
    fn done(client: &str, invoke: u64, complete: u64, op: Op, outcome: Outcome) -> Call {
        call(client, invoke, Some(complete), op, outcome)
    }

    /// The calls in invoke order, numbered.
    fn history(mut calls: Vec<Call>) -> History {
        calls.sort_by_key(|call| call.invoke);
        for (id, call) in calls.iter_mut().enumerate() {
            call.id = id;
        }
        History {
            calls,
            ..History::default()
        }
    }

    fn put(key: &str, value: &str) -> Op {
        Op::Put {
            key: key.to_owned(),
            value: value.to_owned(),
            lease: 0,
        }
    }

    fn get(key: &str) -> Op {
        Op::Get {
            key: key.to_owned(),
            serializable: false,
        }
    }

    fn cas(key: &str, expected: Option<&str>, new: &str) -> Op {
        Op::CasValue {
            key: key.to_owned(),
            expected: expected.map(str::to_owned),
            new: new.to_owned(),
        }
    }

    fn delete(key: &str) -> Op {
        Op::Delete {
            key: key.to_owned(),
        }
    }

    fn kv(key: &str, value: Option<&str>) -> Option<KvRead> {
        value.map(|value| KvRead {
            key: key.to_owned(),
            value: value.to_owned(),
            create_revision: 0,
            mod_revision: 0,
            version: 0,
            lease: 0,
        })
    }

    fn put_ok() -> Outcome {
        Outcome::Put { revision: 0 }
    }

    fn read(key: &str, value: Option<&str>) -> Outcome {
        Outcome::Get {
            revision: 0,
            kv: kv(key, value),
        }
    }

    fn cas_ok() -> Outcome {
        Outcome::Cas {
            revision: 0,
            succeeded: true,
            kv: None,
        }
    }

    fn cas_failed(key: &str, read: Option<&str>) -> Outcome {
        Outcome::Cas {
            revision: 0,
            succeeded: false,
            kv: kv(key, read),
        }
    }

    fn deleted(deleted: i64) -> Outcome {
        Outcome::Delete {
            revision: 0,
            deleted,
        }
    }

    fn unknown() -> Outcome {
        Outcome::Unknown("timed out".to_owned())
    }

    fn failed() -> Outcome {
        Outcome::Failed("refused".to_owned())
    }

    fn violations(calls: Vec<Call>) -> Vec<Violation> {
        let (violations, stats) = check_with_stats(&history(calls));
        assert!(stats.gave_up.is_empty(), "{stats:?}");
        violations
    }

    fn assert_fine(calls: Vec<Call>) {
        let violations = violations(calls);
        assert!(violations.is_empty(), "{violations:#?}");
    }

    fn assert_violation(calls: Vec<Call>, property: Property) -> Violation {
        let mut violations = violations(calls);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        let violation = violations.remove(0);
        assert_eq!(violation.property, property, "{violation}");
        assert_eq!(violation.checker, "linearizable");
        violation
    }

    #[test]
    fn sequential_puts_and_gets_are_fine() {
        assert_fine(vec![
            done("c1", 0, 5, get("a"), read("a", None)),
            done("c1", 10, 15, put("a", "1"), put_ok()),
            done("c2", 20, 25, get("a"), read("a", Some("1"))),
            done("c1", 30, 35, put("a", "2"), put_ok()),
            done("c2", 40, 45, get("a"), read("a", Some("2"))),
            done("c2", 50, 55, get("a"), read("a", Some("2"))),
        ]);
    }

    #[test]
    fn a_stale_read_is_reported_as_one() {
        let violation = assert_violation(
            vec![
                done("c1", 0, 10, put("a", "1"), put_ok()),
                done("c1", 20, 30, put("a", "2"), put_ok()),
                done("c2", 40, 50, get("a"), read("a", Some("1"))),
            ],
            Property::NoStaleRead,
        );
        assert!(violation.message.contains("key a"), "{violation}");
        assert!(violation.message.contains("#2"), "{violation}");
        assert_eq!(violation.excerpt.len(), 4, "{violation}");
        assert!(violation.excerpt[2].starts_with("#2 "), "{violation}");
    }

    #[test]
    fn a_read_of_absent_after_a_write_is_stale() {
        assert_violation(
            vec![
                done("c1", 0, 10, put("a", "1"), put_ok()),
                done("c2", 20, 30, get("a"), read("a", None)),
            ],
            Property::NoStaleRead,
        );
    }

    #[test]
    fn a_get_concurrent_with_a_put_may_read_either_value() {
        for seen in ["1", "2"] {
            assert_fine(vec![
                done("c1", 0, 10, put("a", "1"), put_ok()),
                done("c1", 20, 40, put("a", "2"), put_ok()),
                done("c2", 25, 35, get("a"), read("a", Some(seen))),
            ]);
        }
        // Equal times are concurrent: the put completes in the millisecond the get begins.
        assert_fine(vec![
            done("c1", 0, 10, put("a", "1"), put_ok()),
            done("c2", 10, 12, get("a"), read("a", None)),
        ]);
    }

    #[test]
    fn an_unknown_put_may_have_happened_or_not() {
        // Read later: it happened.
        assert_fine(vec![
            done("c1", 0, 10, put("a", "1"), put_ok()),
            done("c1", 20, 30, put("a", "2"), unknown()),
            done("c2", 100, 110, get("a"), read("a", Some("2"))),
        ]);
        // Never read: it did not (and the run ending first is the same as unknown).
        assert_fine(vec![
            done("c1", 0, 10, put("a", "1"), put_ok()),
            call("c1", 20, None, put("a", "2"), unknown()),
            done("c2", 100, 110, get("a"), read("a", Some("1"))),
        ]);
        // Read, then not read: it happened before the first read returned, so not after it.
        assert_violation(
            vec![
                done("c1", 0, 10, put("a", "1"), put_ok()),
                done("c1", 20, 30, put("a", "2"), unknown()),
                done("c2", 100, 110, get("a"), read("a", Some("2"))),
                done("c2", 120, 130, get("a"), read("a", Some("1"))),
            ],
            Property::NoStaleRead,
        );
        // A value nobody wrote.
        let violation = assert_violation(
            vec![
                done("c1", 0, 10, put("a", "1"), put_ok()),
                done("c1", 20, 30, put("a", "2"), unknown()),
                done("c2", 100, 110, get("a"), read("a", Some("3"))),
            ],
            Property::Linearizable,
        );
        assert!(
            violation.message.contains("#2 saw 3, which no call wrote"),
            "{violation}"
        );
        assert_eq!(violation.excerpt.len(), 2, "{violation}");
        // Or that only a failed call wrote.
        let violation = assert_violation(
            vec![
                done("c1", 0, 10, put("a", "1"), failed()),
                done("c2", 100, 110, get("a"), read("a", Some("1"))),
            ],
            Property::Linearizable,
        );
        assert!(
            violation.message.contains("only calls that failed"),
            "{violation}"
        );
        assert_eq!(violation.excerpt.len(), 3, "{violation}");
    }

    /// Values are unique in a run; if they were not, nothing may assume they are.
    #[test]
    fn a_value_written_twice_may_come_back() {
        assert_fine(vec![
            done("c1", 0, 10, put("a", "x"), put_ok()),
            done("c2", 5, 15, get("a"), read("a", Some("x"))),
            done("c1", 20, 30, put("a", "y"), put_ok()),
            done("c1", 40, 50, put("a", "x"), put_ok()),
            done("c2", 60, 70, get("a"), read("a", Some("x"))),
        ]);
    }

    #[test]
    fn two_cas_from_the_same_value_cannot_both_succeed() {
        let violation = assert_violation(
            vec![
                done("c1", 0, 5, put("a", "x"), put_ok()),
                done("c1", 10, 20, cas("a", Some("x"), "y"), cas_ok()),
                done("c2", 12, 22, cas("a", Some("x"), "z"), cas_ok()),
            ],
            Property::AtomicCompare,
        );
        assert!(
            violation.message.contains("#1 cannot take effect"),
            "{violation}"
        );
        assert_eq!(violation.excerpt.len(), 4, "{violation}");
        let last = violation.excerpt.last().unwrap();
        let stuck = "the value was x after linearizing 1 of 3 calls (last #0); none of the 2";
        assert!(last.starts_with(stuck), "{last}");
        // One succeeds; the other fails and reads the winner's value.
        assert_fine(vec![
            done("c1", 0, 5, put("a", "x"), put_ok()),
            done("c1", 10, 20, cas("a", Some("x"), "y"), cas_ok()),
            done(
                "c2",
                12,
                22,
                cas("a", Some("x"), "z"),
                cas_failed("a", Some("y")),
            ),
        ]);
        // A failed CAS must not read the value it expected.
        assert_violation(
            vec![
                done("c1", 0, 5, put("a", "x"), put_ok()),
                done(
                    "c2",
                    12,
                    22,
                    cas("a", Some("x"), "z"),
                    cas_failed("a", Some("x")),
                ),
            ],
            Property::AtomicCompare,
        );
        // Create-if-absent.
        assert_fine(vec![
            done("c1", 0, 5, cas("a", None, "x"), cas_ok()),
            done(
                "c2",
                10,
                15,
                cas("a", None, "y"),
                cas_failed("a", Some("x")),
            ),
        ]);
    }

    #[test]
    fn a_delete_removes_the_key_and_counts_right() {
        assert_fine(vec![
            done("c1", 0, 5, put("a", "x"), put_ok()),
            done("c1", 10, 20, delete("a"), deleted(1)),
            done("c2", 30, 40, get("a"), read("a", None)),
            done("c2", 50, 60, delete("a"), deleted(0)),
        ]);
        assert_violation(
            vec![
                done("c1", 0, 5, put("a", "x"), put_ok()),
                done("c1", 10, 20, delete("a"), deleted(1)),
                done("c2", 30, 40, get("a"), read("a", Some("x"))),
            ],
            Property::NoStaleRead,
        );
        assert_violation(
            vec![
                done("c1", 0, 5, put("a", "x"), put_ok()),
                done("c1", 10, 20, delete("a"), deleted(0)),
            ],
            Property::Linearizable,
        );
        assert_violation(
            vec![done("c1", 10, 20, delete("a"), deleted(1))],
            Property::Linearizable,
        );
    }

    #[test]
    fn keys_are_checked_apart() {
        let violation = assert_violation(
            vec![
                done("c1", 0, 10, put("a", "a1"), put_ok()),
                done("c1", 0, 10, put("b", "b1"), put_ok()),
                done("c1", 20, 30, put("b", "b2"), put_ok()),
                done("c2", 40, 50, get("a"), read("a", Some("a1"))),
                done("c2", 40, 50, get("b"), read("b", Some("b1"))),
            ],
            Property::NoStaleRead,
        );
        assert!(violation.message.starts_with("key b:"), "{violation}");
        // The same calls on one key would not be linearizable; on two keys they are.
        assert_fine(vec![
            done("c1", 0, 10, put("a", "1"), put_ok()),
            done("c1", 20, 30, put("b", "2"), put_ok()),
            done("c2", 40, 50, get("a"), read("a", Some("1"))),
        ]);
    }

    #[test]
    fn at_most_three_violations_one_per_key() {
        let mut calls = Vec::new();
        for key in ["a", "b", "c", "d", "e"] {
            let (one, two) = (format!("{key}1"), format!("{key}2"));
            calls.push(done("c1", 0, 10, put(key, &one), put_ok()));
            calls.push(done("c1", 20, 30, put(key, &two), put_ok()));
            calls.push(done("c2", 40, 50, get(key), read(key, Some(&one))));
            calls.push(done("c2", 60, 70, get(key), read(key, Some(&one))));
        }
        let (violations, stats) = check_with_stats(&history(calls));
        assert_eq!(violations.len(), 3);
        assert_eq!(stats.not_linearizable, ["a", "b", "c", "d", "e"]);
        assert_eq!(stats.keys, 5);
        assert_eq!(stats.calls, 20);
    }

    #[test]
    fn unknown_cas_and_failed_calls() {
        // An unknown CAS may have happened...
        for seen in ["x", "y"] {
            assert_fine(vec![
                done("c1", 0, 5, put("a", "x"), put_ok()),
                done("c1", 10, 20, cas("a", Some("x"), "y"), unknown()),
                done("c2", 30, 40, get("a"), read("a", Some(seen))),
            ]);
        }
        // ...but only if its compare could hold.
        assert_violation(
            vec![
                done("c1", 0, 5, put("a", "x"), put_ok()),
                done("c1", 10, 20, cas("a", Some("w"), "y"), unknown()),
                done("c2", 30, 40, get("a"), read("a", Some("y"))),
            ],
            Property::Linearizable,
        );
        // A failed put did not happen.
        assert_violation(
            vec![
                done("c1", 0, 5, put("a", "x"), put_ok()),
                done("c1", 10, 20, put("a", "y"), failed()),
                done("c2", 30, 40, get("a"), read("a", Some("y"))),
            ],
            Property::Linearizable,
        );
        // Failed reads and serializable reads are not checked here.
        let serializable = Op::Get {
            key: "a".to_owned(),
            serializable: true,
        };
        assert_fine(vec![
            done("c1", 0, 5, put("a", "x"), put_ok()),
            done("c1", 10, 20, put("a", "y"), put_ok()),
            done("c2", 30, 40, get("a"), failed()),
            done("c2", 30, 40, get("a"), unknown()),
            done("c2", 30, 40, serializable, read("a", Some("x"))),
        ]);
    }

    #[test]
    fn cas_on_revision_is_a_write_the_model_cannot_compare() {
        let cas_revision = |new: &str| Op::CasRevision {
            key: "a".to_owned(),
            expected: 7,
            new: new.to_owned(),
        };
        // Succeeded: it wrote.
        assert_violation(
            vec![
                done("c1", 0, 5, put("a", "x"), put_ok()),
                done("c1", 10, 20, cas_revision("y"), cas_ok()),
                done("c2", 30, 40, get("a"), read("a", Some("x"))),
            ],
            Property::NoStaleRead,
        );
        // Unknown: it may have.
        assert_fine(vec![
            done("c1", 0, 5, put("a", "x"), put_ok()),
            done("c1", 10, 20, cas_revision("y"), unknown()),
            done("c2", 30, 40, get("a"), read("a", Some("y"))),
        ]);
        // Failed: it did not, and is skipped.
        assert_violation(
            vec![
                done("c1", 0, 5, put("a", "x"), put_ok()),
                done("c1", 10, 20, cas_revision("y"), cas_failed("a", Some("x"))),
                done("c2", 30, 40, get("a"), read("a", Some("y"))),
            ],
            Property::Linearizable,
        );
    }

    #[test]
    fn a_key_written_with_a_lease_is_left_out() {
        let calls = vec![
            done(
                "c1",
                0,
                5,
                Op::Put {
                    key: "a".to_owned(),
                    value: "x".to_owned(),
                    lease: 0x42,
                },
                put_ok(),
            ),
            done("c2", 30, 40, get("a"), read("a", Some("nonsense"))),
        ];
        let (violations, stats) = check_with_stats(&history(calls));
        assert!(violations.is_empty());
        assert_eq!(stats.leased, ["a"]);
        assert_eq!(stats.keys, 0);
    }

    #[test]
    fn a_search_over_its_bound_reports_only_a_stale_read() {
        let calls = vec![
            done("c1", 0, 5, put("a", "x"), put_ok()),
            done("c1", 10, 20, cas("a", Some("x"), "y"), cas_ok()),
            done("c2", 12, 22, cas("a", Some("x"), "z"), cas_ok()),
        ];
        let (violations, stats) = check_with_limit(&history(calls), 2);
        assert!(violations.is_empty(), "{violations:#?}");
        assert_eq!(stats.gave_up, ["a"]);
        assert!(stats.not_linearizable.is_empty());
        assert_eq!(stats.steps, 2);
        // A stale read needs no search to prove.
        let calls = vec![
            done("c1", 0, 10, put("a", "1"), put_ok()),
            done("c1", 20, 30, put("a", "2"), put_ok()),
            done("c2", 40, 50, get("a"), read("a", Some("1"))),
        ];
        let (violations, stats) = check_with_limit(&history(calls), 2);
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].property, Property::NoStaleRead);
        assert_eq!(stats.gave_up, ["a"]);
        assert_eq!(stats.not_linearizable, ["a"]);
    }

    /// Many unknown puts nobody read, pending through a long history with a stale read at
    /// the end: without merging them the search would try every subset of them.
    #[test]
    fn many_unread_unknown_puts_stay_cheap() {
        let mut calls = Vec::new();
        for n in 0..60 {
            calls.push(call("u", n, None, put("a", &format!("u{n}")), unknown()));
            calls.push(done("u", n, n + 1, delete("a"), unknown()));
        }
        let mut t = 100;
        for n in 0..300 {
            let value = format!("v{n}");
            calls.push(done("c1", t, t + 10, put("a", &value), put_ok()));
            calls.push(done("c2", t + 5, t + 15, get("a"), read("a", Some(&value))));
            calls.push(done("c3", t + 5, t + 15, delete("a"), deleted(1)));
            t += 20;
        }
        let (violations, stats) = check_with_stats(&history(calls.clone()));
        assert!(violations.is_empty(), "{violations:#?}");
        assert!(stats.steps < 200_000, "{stats:?}");
        calls.push(done("c2", t + 10, t + 20, get("a"), read("a", Some("v3"))));
        let (violations, stats) = check_with_stats(&history(calls));
        assert_eq!(violations.len(), 1, "{stats:?}");
        assert_eq!(violations[0].property, Property::NoStaleRead);
        assert!(stats.steps < 200_000, "{stats:?}");
    }

    /// A tiny deterministic RNG (xorshift64).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn percent(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
    }

    /// A call's interval and where in it the call takes effect (in µs).
    struct Slot {
        client: u64,
        key: u64,
        invoke: u64,
        complete: u64,
        point_us: u64,
    }

    /// How a write ended: whether it took effect, and what the client heard.
    fn write_fate(rng: &mut Rng) -> (bool, Option<Outcome>) {
        match rng.below(100) {
            0..=4 => (rng.percent(50), Some(unknown())),
            5..=7 => (false, Some(failed())),
            _ => (true, None),
        }
    }

    /// A linearizable history: each client makes calls one after another on random keys,
    /// each call takes effect at a random point in its interval, and outputs come from a
    /// register per key applied in that order. Unknown writes take effect or not.
    fn linearizable_history(seed: u64, calls: u64, keys: u64, clients: u64) -> History {
        let mut rng = Rng(seed);
        let mut slots = Vec::new();
        for client in 0..clients {
            let mut t = rng.below(5);
            for _ in 0..calls / clients {
                let invoke = t + rng.below(3);
                let complete = invoke + 1 + rng.below(25);
                let point_us = invoke * 1000 + rng.below((complete - invoke) * 1000 + 1);
                let key = rng.below(keys);
                slots.push(Slot {
                    client,
                    key,
                    invoke,
                    complete,
                    point_us,
                });
                t = complete;
            }
        }
        slots.sort_by_key(|slot| slot.point_us);
        let mut registers: Vec<Option<String>> = vec![None; keys as usize];
        let mut written: Vec<Vec<String>> = vec![Vec::new(); keys as usize];
        let mut out = Vec::new();
        for (n, slot) in slots.iter().enumerate() {
            let key = format!("k{}", slot.key);
            let value = format!("c{}-{n}", slot.client);
            let register = &mut registers[slot.key as usize];
            let history = &mut written[slot.key as usize];
            let (op, outcome) = match rng.below(100) {
                0..=29 => {
                    let (effect, outcome) = write_fate(&mut rng);
                    if effect {
                        *register = Some(value.clone());
                        history.push(value.clone());
                    }
                    (put(&key, &value), outcome.unwrap_or_else(put_ok))
                }
                30..=64 => (get(&key), read(&key, register.as_deref())),
                65..=71 => {
                    // Serializable: stale on purpose, and not checked here.
                    let old = history.first().map(String::as_str);
                    let op = Op::Get {
                        key: key.clone(),
                        serializable: true,
                    };
                    (op, read(&key, old))
                }
                72..=84 => {
                    let expected = match rng.percent(50) {
                        true => register.clone(),
                        false => history.iter().rev().nth(1).cloned(),
                    };
                    let op = cas(&key, expected.as_deref(), &value);
                    let holds = *register == expected;
                    let (effect, outcome) = write_fate(&mut rng);
                    let outcome = outcome.unwrap_or_else(|| match holds {
                        true => cas_ok(),
                        false => cas_failed(&key, register.as_deref()),
                    });
                    if effect && holds {
                        *register = Some(value.clone());
                        history.push(value.clone());
                    }
                    (op, outcome)
                }
                85..=91 => {
                    let (effect, outcome) = write_fate(&mut rng);
                    let count = i64::from(register.is_some());
                    if effect {
                        *register = None;
                    }
                    (delete(&key), outcome.unwrap_or_else(|| deleted(count)))
                }
                _ => {
                    let op = Op::CasRevision {
                        key: key.clone(),
                        expected: 1,
                        new: value.clone(),
                    };
                    let holds = rng.percent(50);
                    let (effect, outcome) = write_fate(&mut rng);
                    if effect && holds {
                        *register = Some(value.clone());
                        history.push(value.clone());
                    }
                    let outcome = outcome.unwrap_or_else(|| match holds {
                        true => cas_ok(),
                        false => cas_failed(&key, register.as_deref()),
                    });
                    (op, outcome)
                }
            };
            let never = outcome == unknown() && rng.percent(20);
            let complete = (!never).then_some(slot.complete);
            let client = format!("c{}", slot.client);
            out.push((
                slot.point_us,
                call(&client, slot.invoke, complete, op, outcome),
            ));
        }
        out.sort_by_key(|(point_us, call)| (call.invoke, *point_us));
        history(out.into_iter().map(|(_, call)| call).collect())
    }

    /// A Get to make stale: a known put `W` and a known write `w` on its key with `W`
    /// completed before `w` began and `w` completed before the Get began. Returns the Get's
    /// index and `W`'s value.
    fn stale_candidate(history: &History) -> Option<(usize, String)> {
        let calls = &history.calls;
        let known_put = |call: &Call| {
            matches!(call.op, Op::Put { .. }) && matches!(call.outcome, Outcome::Put { .. })
        };
        calls.iter().skip(calls.len() / 2).find_map(|get| {
            let (
                Op::Get {
                    key,
                    serializable: false,
                },
                Outcome::Get { .. },
            ) = (&get.op, &get.outcome)
            else {
                return None;
            };
            let before =
                |a: &Call, b: &Call| a.complete.is_some_and(|complete| complete < b.invoke);
            let on_key = |call: &&Call| call.op.key() == Some(key) && known_put(call);
            calls.iter().filter(on_key).find_map(|w| {
                let Op::Put { value, .. } = &w.op else {
                    return None;
                };
                let later = calls
                    .iter()
                    .filter(on_key)
                    .find(|x| before(w, x) && before(x, get));
                later.map(|_| (get.id, value.clone()))
            })
        })
    }

    #[test]
    fn random_linearizable_histories_pass_and_a_stale_read_in_one_is_found() {
        for seed in [1, 7, 42, 1234, 99_999] {
            let started = std::time::Instant::now();
            let mut history = linearizable_history(seed, 2000, 4, 10);
            let (violations, stats) = check_with_stats(&history);
            assert!(violations.is_empty(), "seed {seed}: {violations:#?}");
            assert!(stats.gave_up.is_empty(), "seed {seed}: {stats:?}");
            assert_eq!(stats.keys, 4);
            assert!(stats.calls > 1000, "seed {seed}: {stats:?}");
            eprintln!("seed {seed}: {stats:?} in {:?}", started.elapsed());

            let (get, stale) = stale_candidate(&history).unwrap();
            let key = history.calls[get].op.key().unwrap().to_owned();
            history.calls[get].outcome = read(&key, Some(&stale));
            let (violations, stats) = check_with_stats(&history);
            assert!(stats.gave_up.is_empty(), "seed {seed}: {stats:?}");
            assert_eq!(violations.len(), 1, "seed {seed}: {stats:?}");
            assert_eq!(violations[0].property, Property::NoStaleRead);
            assert!(violations[0].message.starts_with(&format!("key {key}:")));
            assert!(violations[0].message.contains(&format!("#{get} ")));
        }
    }

    /// Whether `ops` have a linearization, by trying every order that real time allows
    /// (`failed` remembers the (placed, value) states that lead nowhere).
    fn brute_force(
        ops: &[Operation],
        placed: u32,
        value: Value,
        failed: &mut HashSet<(u32, Value)>,
    ) -> bool {
        // An unknown call has no return: the one the checker gives it is only a pruning.
        let ret = |op: &Operation| if op.unknown { NEVER } else { op.ret };
        let pending = |op: usize| placed & (1 << op) == 0;
        if placed.count_ones() as usize == ops.len() {
            return true;
        }
        if failed.contains(&(placed, value)) {
            return false;
        }
        for next in (0..ops.len()).filter(|&next| pending(next)) {
            let must_wait =
                (0..ops.len()).any(|other| pending(other) && ret(&ops[other]) < ops[next].invoke);
            if must_wait {
                continue;
            }
            if let Some(after) = apply(value, ops[next].action)
                && brute_force(ops, placed | (1 << next), after, failed)
            {
                return true;
            }
        }
        failed.insert((placed, value));
        false
    }

    /// A few random calls on key `a` with random outputs: some linearizable, most not.
    fn small_history(rng: &mut Rng) -> History {
        let n = 2 + rng.below(11);
        let values: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
        let pick = |rng: &mut Rng| match rng.below(n + 1) {
            0 => None,
            i => Some(values[i as usize - 1].as_str()),
        };
        let mut calls = Vec::new();
        for value in &values {
            let invoke = rng.below(20);
            let complete = invoke + rng.below(10);
            let (op, outcome) = match rng.below(5) {
                0 => (put("a", value), put_ok()),
                1 => (get("a"), read("a", pick(rng))),
                2 => {
                    let op = cas("a", pick(rng), value);
                    match rng.percent(50) {
                        true => (op, cas_ok()),
                        false => (op, cas_failed("a", pick(rng))),
                    }
                }
                3 => (delete("a"), deleted(rng.below(2) as i64)),
                _ => {
                    let op = Op::CasRevision {
                        key: "a".to_owned(),
                        expected: 3,
                        new: value.clone(),
                    };
                    match rng.percent(50) {
                        true => (op, cas_ok()),
                        false => (op, cas_failed("a", pick(rng))),
                    }
                }
            };
            let outcome = match rng.below(10) {
                0..=2 if op.is_write() => unknown(),
                3 => failed(),
                _ => outcome,
            };
            let complete = match outcome == unknown() && rng.percent(30) {
                true => None,
                false => Some(complete),
            };
            calls.push(call("c", invoke, complete, op, outcome));
        }
        history(calls)
    }

    /// The pruning (merged values, classes of unknown calls, covered states) never changes
    /// the answer.
    #[test]
    fn the_search_agrees_with_trying_every_order() {
        let mut rng = Rng(0x5EED);
        let (mut linearizable, mut not) = (0, 0);
        for round in 0..20_000 {
            let history = small_history(&mut rng);
            let calls: Vec<&Call> = history.calls.iter().collect();
            let key_history = KeyHistory::new("a", &calls);
            let ops = &key_history.ops;
            let (verdict, _) = search(ops, &key_history.unread, MAX_STEPS_PER_KEY);
            let expected = brute_force(ops, 0, ABSENT, &mut HashSet::new());
            let found = matches!(verdict, Verdict::Linearizable);
            assert_eq!(found, expected, "round {round}: {:#?}", history.calls);
            match expected {
                true => linearizable += 1,
                false => not += 1,
            }
        }
        assert!(linearizable > 500 && not > 500, "{linearizable} {not}");
    }
}
