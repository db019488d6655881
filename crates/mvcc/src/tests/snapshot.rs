//! Snapshot: a store written with postcard and read back answers exactly as the original.

use kubesim_proto::etcdserverpb::{CompactionRequest, PutRequest};

use super::*;

fn non_trivial() -> Mvcc {
    let mut store = Mvcc::new();
    apply_ok(
        &mut store,
        Command::LeaseGrant {
            id: 11,
            ttl_seconds: 30,
        },
    );
    apply_ok(
        &mut store,
        Command::LeaseGrant {
            id: 12,
            ttl_seconds: 90,
        },
    );
    for i in 0..20 {
        apply_ok(&mut store, put(&format!("k{:02}", i % 7), &format!("v{i}")));
    }
    let leased = Command::Put(PutRequest {
        lease: 11,
        ..put_req("leased", "x")
    });
    apply_ok(&mut store, leased);
    apply_ok(&mut store, delete("k03", "k05"));
    let txn = TxnRequest {
        compare: vec![],
        success: vec![op_put("t1", "a"), op_put("t2", "b"), op_delete("k00", "")],
        failure: vec![],
    };
    apply_ok(&mut store, Command::Txn(txn));
    apply_ok(
        &mut store,
        Command::Compact(CompactionRequest {
            revision: 12,
            physical: false,
        }),
    );
    apply_ok(&mut store, put("k01", "after"));
    store
}

fn restore(store: &Mvcc) -> Mvcc {
    let bytes = postcard::to_allocvec(store).expect("serialize");
    postcard::from_bytes(&bytes).expect("deserialize")
}

#[test]
fn postcard_round_trip_answers_the_same() {
    let store = non_trivial();
    let restored = restore(&store);
    assert_eq!(restored, store);
    assert_eq!(restored.current_revision(), store.current_revision());
    assert_eq!(restored.compact_revision(), 12);
    assert_eq!(restored.hash_kv(0), store.hash_kv(0));
    for revision in 12..=store.current_revision() {
        let req = RangeRequest {
            revision,
            ..range_req("\0", "\0")
        };
        assert_eq!(restored.range(&req), store.range(&req));
        assert_eq!(restored.hash_kv(revision), store.hash_kv(revision));
    }
    assert_eq!(
        restored.events_since(12, b"\0", b"\0", usize::MAX),
        store.events_since(12, b"\0", b"\0", usize::MAX)
    );
    assert_eq!(restored.lease(11), store.lease(11));
    assert_eq!(restored.size_bytes(), store.size_bytes());
    // The restored store keeps going exactly like the original.
    let mut original = store;
    let mut copy = restored;
    let next = Command::LeaseRevoke { id: 11 };
    assert_eq!(original.apply(&next), copy.apply(&next));
    assert_eq!(original, copy);
}

#[test]
fn corrupt_snapshot_bytes_are_an_error_not_a_panic() {
    let bytes = postcard::to_allocvec(&non_trivial()).expect("serialize");
    assert!(postcard::from_bytes::<Mvcc>(&bytes[..bytes.len() / 2]).is_err());
}

/// What a Raft snapshot relies on: a clone shares the history's records (it copies
/// pointers, so taking it under the state machine's lock is quick) and stays the state it
/// was taken at while the original goes on writing and compacting.
#[test]
fn a_clone_shares_every_record_and_keeps_its_state() {
    let mut store = non_trivial();
    let taken = store.clone();
    let expected = restore(&store);
    assert!(!taken.history.is_empty());
    for ((rev, record), (taken_rev, taken_record)) in store.history.iter().zip(&taken.history) {
        assert_eq!(rev, taken_rev);
        assert!(
            std::sync::Arc::ptr_eq(record, taken_record),
            "record at {rev:?} copied"
        );
    }
    apply_ok(&mut store, put("k01", "later"));
    apply_ok(&mut store, delete("t1", ""));
    let newest = store.current_revision();
    apply_ok(
        &mut store,
        Command::Compact(CompactionRequest {
            revision: newest,
            physical: false,
        }),
    );
    assert_eq!(taken, expected);
    assert_eq!(restore(&taken), expected);
}

/// Snapshots written before the history held shared records read the same: serde writes
/// an `Arc<Record>` exactly as the `Record`.
#[test]
fn a_shared_record_encodes_as_the_record() {
    let store = non_trivial();
    for record in store.history.values() {
        let shared = postcard::to_allocvec(record).expect("serialize");
        let plain = postcard::to_allocvec(&**record).expect("serialize");
        assert_eq!(shared, plain);
    }
}
