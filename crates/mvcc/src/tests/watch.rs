//! events_since: the history a watch replays.

use kubesim_proto::etcdserverpb::CompactionRequest;

use super::*;

/// a=1@2, txn{a=2, b=1, c=1}@3, b deleted@4, a=3@5.
fn sample() -> Mvcc {
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1"));
    let txn = TxnRequest {
        compare: vec![],
        success: vec![op_put("a", "2"), op_put("b", "1"), op_put("c", "1")],
        failure: vec![],
    };
    apply_ok(&mut store, Command::Txn(txn));
    apply_ok(&mut store, delete("b", ""));
    apply_ok(&mut store, put("a", "3"));
    store
}

fn revisions(events: &[Event]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e.kv.as_ref().map_or(0, |kv| kv.mod_revision))
        .collect()
}

#[test]
fn events_carry_prev_kv_and_delete_tombstones() {
    let store = sample();
    let events = store
        .events_since(2, b"a", b"", 100)
        .expect("not compacted");
    assert_eq!(
        events,
        vec![
            put_event(kv("a", "1", 2, 2, 1), None),
            put_event(kv("a", "2", 2, 3, 2), Some(kv("a", "1", 2, 2, 1))),
            put_event(kv("a", "3", 2, 5, 3), Some(kv("a", "2", 2, 3, 2))),
        ]
    );
    let events = store
        .events_since(4, b"b", b"", 100)
        .expect("not compacted");
    assert_eq!(events, vec![delete_event("b", 4, kv("b", "1", 3, 3, 1))]);
}

#[test]
fn events_follow_the_key_range_in_revision_order() {
    let store = sample();
    let all = store
        .events_since(1, b"\0", b"\0", 100)
        .expect("not compacted");
    assert_eq!(revisions(&all), vec![2, 3, 3, 3, 4, 5]);
    let b_to_d = store
        .events_since(0, b"b", b"d", 100)
        .expect("not compacted");
    assert_eq!(revisions(&b_to_d), vec![3, 3, 4]);
    assert_eq!(store.events_since(6, b"\0", b"\0", 100), Ok(vec![]));
}

#[test]
fn limit_never_splits_a_revision() {
    let store = sample();
    let first = store
        .events_since(2, b"\0", b"\0", 2)
        .expect("not compacted");
    assert_eq!(revisions(&first), vec![2, 3, 3, 3]);
    let one = store
        .events_since(3, b"\0", b"\0", 1)
        .expect("not compacted");
    assert_eq!(revisions(&one), vec![3, 3, 3]);
    let zero = store
        .events_since(4, b"\0", b"\0", 0)
        .expect("not compacted");
    assert_eq!(revisions(&zero), vec![4]);
    // The limit counts matching events only.
    let c_only = store.events_since(2, b"c", b"", 1).expect("not compacted");
    assert_eq!(revisions(&c_only), vec![3]);
}

#[test]
fn events_after_compaction() {
    let mut store = sample();
    apply_ok(
        &mut store,
        Command::Compact(CompactionRequest {
            revision: 4,
            physical: false,
        }),
    );
    assert_eq!(
        store.events_since(3, b"\0", b"\0", 100),
        Err(MvccError::Compacted {
            compact_revision: 4
        })
    );
    // From the compact revision on, the history is there, and prev_kv survives where the
    // previous value is the one kept at the compact revision.
    let events = store
        .events_since(4, b"\0", b"\0", 100)
        .expect("at compact revision");
    assert_eq!(revisions(&events), vec![5]);
    assert_eq!(events[0].prev_kv, Some(kv("a", "2", 2, 3, 2)));
    // The delete of b at the compact revision is gone with b's history (etcd 3.4).
    assert_eq!(store.events_since(4, b"b", b"", 100), Ok(vec![]));
}

#[test]
fn applied_events_match_replayed_events() {
    let mut store = Mvcc::new();
    let mut applied_events = Vec::new();
    for cmd in [
        put("a", "1"),
        put("b", "1"),
        put("a", "2"),
        delete("a", "c"),
        put("b", "2"),
    ] {
        applied_events.extend(apply_ok(&mut store, cmd).1.events);
    }
    let replayed = store
        .events_since(0, b"\0", b"\0", usize::MAX)
        .expect("not compacted");
    assert_eq!(replayed, applied_events);
}
