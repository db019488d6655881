//! A seeded random run: the same random commands go to two stores, one of them written out and
//! read back (postcard) midway, and both must answer alike at every step. Along the way the
//! run checks the revision rules and that the events replay to the same state a Range shows.

use std::collections::BTreeMap;

use kubesim_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use kubesim_proto::etcdserverpb::{CompactionRequest, PutRequest};
use kubesim_proto::mvccpb::event::EventType;

use super::*;

/// xorshift64: deterministic, no dependency, good enough to pick commands.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn key(&mut self) -> String {
        format!("k{}", self.below(8))
    }
}

fn random_put(rng: &mut XorShift) -> PutRequest {
    let mut req = put_req(&rng.key(), &format!("v{}", rng.below(5)));
    req.prev_kv = rng.chance(50);
    if rng.chance(40) {
        req.lease = rng.below(4) as i64;
    }
    if rng.chance(5) {
        req.ignore_value = true;
        req.value.clear();
    }
    req
}

fn random_delete(rng: &mut XorShift) -> DeleteRangeRequest {
    let key = rng.key();
    let range_end = match rng.below(4) {
        0 => format!("k{}", rng.below(9)),
        1 => "\0".to_owned(),
        _ => String::new(),
    };
    let mut req = delete_req(&key, &range_end);
    req.prev_kv = rng.chance(50);
    req
}

fn random_compare(rng: &mut XorShift, current_revision: i64) -> Compare {
    let result = match rng.below(4) {
        0 => CompareResult::Equal,
        1 => CompareResult::Greater,
        2 => CompareResult::Less,
        _ => CompareResult::NotEqual,
    };
    let (target, value) = match rng.below(3) {
        0 => (
            CompareTarget::Version,
            TargetUnion::Version(rng.below(3) as i64),
        ),
        1 => (
            CompareTarget::Mod,
            TargetUnion::ModRevision(rng.below(current_revision as u64 + 1) as i64),
        ),
        _ => (
            CompareTarget::Value,
            TargetUnion::Value(format!("v{}", rng.below(5)).into()),
        ),
    };
    compare(&rng.key(), target, result, value)
}

fn random_ops(rng: &mut XorShift, depth: u32) -> Vec<RequestOp> {
    (0..rng.below(4))
        .map(|_| match rng.below(10) {
            0..=3 => RequestOp {
                request: Some(Request::RequestPut(random_put(rng))),
            },
            4..=5 => RequestOp {
                request: Some(Request::RequestDeleteRange(random_delete(rng))),
            },
            6 if depth < 2 => op_txn(random_txn(rng, depth + 1, 10)),
            _ => op_get(&rng.key()),
        })
        .collect()
}

fn random_txn(rng: &mut XorShift, depth: u32, current_revision: i64) -> TxnRequest {
    TxnRequest {
        compare: (0..rng.below(3))
            .map(|_| random_compare(rng, current_revision))
            .collect(),
        success: random_ops(rng, depth),
        failure: random_ops(rng, depth),
    }
}

fn random_command(rng: &mut XorShift, store: &Mvcc) -> Command {
    let current = store.current_revision();
    match rng.below(100) {
        0..=39 => Command::Put(random_put(rng)),
        40..=54 => Command::DeleteRange(random_delete(rng)),
        55..=79 => Command::Txn(random_txn(rng, 0, current)),
        80..=84 => {
            let floor = store.compact_revision().max(1);
            let span = (current - floor + 3) as u64;
            Command::Compact(CompactionRequest {
                revision: floor + rng.below(span) as i64 - 1,
                physical: false,
            })
        }
        85..=94 => Command::LeaseGrant {
            id: rng.below(4) as i64,
            ttl_seconds: 10,
        },
        _ => Command::LeaseRevoke {
            id: rng.below(4) as i64,
        },
    }
}

/// The key-values the events say exist now.
type Model = BTreeMap<Vec<u8>, KeyValue>;

fn replay(model: &mut Model, events: &[Event]) {
    for event in events {
        let Some(kv) = &event.kv else {
            panic!("event without kv: {event:?}")
        };
        if event.r#type == EventType::Delete as i32 {
            model.remove(&kv.key);
        } else {
            model.insert(kv.key.clone(), kv.clone());
        }
    }
}

/// Revision rules for one applied command.
fn check_applied(before: i64, applied: &Applied) {
    let expected = if applied.events.is_empty() {
        before
    } else {
        before + 1
    };
    assert_eq!(
        applied.revision, expected,
        "revision moves by one per changing command"
    );
    for event in &applied.events {
        assert_eq!(
            event.kv.as_ref().map(|kv| kv.mod_revision),
            Some(applied.revision)
        );
    }
}

fn assert_same(a: &Mvcc, b: &Mvcc, context: &str) {
    assert_eq!(a.hash_kv(0), b.hash_kv(0), "{context}");
    for revision in [
        0,
        a.compact_revision(),
        (a.compact_revision() + a.current_revision()) / 2,
    ] {
        let req = RangeRequest {
            revision,
            ..range_req("\0", "\0")
        };
        assert_eq!(a.range(&req), b.range(&req), "{context} at {revision}");
    }
    assert_eq!(a, b, "{context}");
}

/// What a run exercised, so a generator that stops producing some case fails the test.
#[derive(Debug, Default)]
struct Coverage {
    /// Commands that changed something (bumped the revision).
    writes: usize,
    /// Commands refused with an error.
    errors: usize,
    /// Txns that took the failure branch.
    failed_compares: usize,
    /// Compactions that succeeded.
    compactions: usize,
    /// Lease revokes that deleted keys.
    revokes_with_keys: usize,
}

impl Coverage {
    fn count(&mut self, cmd: &Command, applied: &Applied) {
        match (&applied.response, cmd) {
            (Err(_), _) => self.errors += 1,
            (Ok(CommandResponse::Txn(r)), _) if !r.succeeded => self.failed_compares += 1,
            (Ok(_), Command::Compact(_)) => self.compactions += 1,
            (Ok(_), Command::LeaseRevoke { .. }) if !applied.events.is_empty() => {
                self.revokes_with_keys += 1
            }
            _ => {}
        }
        if !applied.events.is_empty() {
            self.writes += 1;
        }
    }
}

fn run(seed: u64, steps: usize) {
    let mut coverage = Coverage::default();
    let mut rng = XorShift(seed);
    let (mut a, mut b) = (Mvcc::new(), Mvcc::new());
    let mut model = Model::new();
    let mut log: Vec<Event> = Vec::new();
    for step in 0..steps {
        let context = format!("seed {seed} step {step}");
        if step == steps / 2 {
            let bytes = postcard::to_allocvec(&b).expect("serialize");
            b = postcard::from_bytes(&bytes).expect("deserialize");
        }
        let cmd = random_command(&mut rng, &a);
        let before = a.current_revision();
        let applied = a.apply(&cmd);
        assert_eq!(b.apply(&cmd), applied, "{context}: {cmd:?}");
        check_applied(before, &applied);
        coverage.count(&cmd, &applied);
        replay(&mut model, &applied.events);
        log.extend(applied.events);
        let values: Vec<KeyValue> = model.values().cloned().collect();
        assert_eq!(
            everything(&a),
            values,
            "{context}: range vs replayed events"
        );
        if step % 50 == 0 {
            assert_same(&a, &b, &context);
        }
    }
    assert_same(&a, &b, &format!("seed {seed} end"));
    eprintln!(
        "seed {seed}: {coverage:?}, revision {}",
        a.current_revision()
    );
    // Every event after the compact revision is still replayed, prev_kv included.
    let compact = a.compact_revision();
    let kept: Vec<Event> = log
        .into_iter()
        .filter(|e| e.kv.as_ref().is_some_and(|kv| kv.mod_revision > compact))
        .collect();
    assert_eq!(
        a.events_since(compact + 1, b"\0", b"\0", usize::MAX),
        Ok(kept)
    );
    let minimum = steps / 100;
    assert!(
        coverage.writes > steps / 3
            && coverage.errors > minimum
            && coverage.failed_compares > minimum
            && coverage.compactions > minimum
            && coverage.revokes_with_keys >= 3,
        "seed {seed} exercised too little: {coverage:?}"
    );
}

#[test]
fn random_commands_agree_across_snapshot_restore() {
    for seed in [0x9E37_79B9_7F4A_7C15, 42, 0xDEAD_BEEF] {
        run(seed, 1500);
    }
}
