//! Compaction: errors, what is kept, reads and hashes around the compact revision.

use kubesim_proto::etcdserverpb::{CompactionRequest, CompactionResponse};

use super::*;

fn compact(revision: i64) -> Command {
    Command::Compact(CompactionRequest {
        revision,
        physical: true,
    })
}

/// a=1@2, a=2@3, b=1@4, b deleted@5, c=1@6, a=3@7.
fn sample() -> Mvcc {
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1"));
    apply_ok(&mut store, put("a", "2"));
    apply_ok(&mut store, put("b", "1"));
    apply_ok(&mut store, delete("b", ""));
    apply_ok(&mut store, put("c", "1"));
    apply_ok(&mut store, put("a", "3"));
    assert_eq!(store.current_revision(), 7);
    store
}

#[test]
fn compact_errors_and_no_revision_bump() {
    let mut store = sample();
    assert_eq!(apply_err(&mut store, compact(8)), MvccError::FutureRevision);
    let (response, applied) = apply_ok(&mut store, compact(5));
    assert_eq!(
        response,
        CommandResponse::Compact(CompactionResponse { header: None })
    );
    assert_eq!((applied.revision, applied.events.len()), (7, 0));
    assert_eq!(store.current_revision(), 7);
    assert_eq!(store.compact_revision(), 5);
    assert_eq!(
        apply_err(&mut store, compact(5)),
        MvccError::Compacted {
            compact_revision: 5
        }
    );
    assert_eq!(
        apply_err(&mut store, compact(3)),
        MvccError::Compacted {
            compact_revision: 5
        }
    );
    // Compacting up to the current revision is allowed.
    apply_ok(&mut store, compact(7));
    assert_eq!(store.compact_revision(), 7);
}

#[test]
fn compaction_keeps_exactly_what_reads_at_and_after_it_need() {
    let mut store = sample();
    let all_at = |store: &Mvcc, revision: i64| {
        store.range(&RangeRequest {
            revision,
            ..range_req("\0", "\0")
        })
    };
    let before: Vec<_> = (5..=7).map(|r| all_at(&store, r)).collect();
    let size_before = store.size_bytes();
    apply_ok(&mut store, compact(5));
    let after: Vec<_> = (5..=7).map(|r| all_at(&store, r)).collect();
    assert_eq!(before, after);
    assert_eq!(
        all_at(&store, 4),
        Err(MvccError::Compacted {
            compact_revision: 5
        })
    );
    // Kept: a=2@3 (newest of a at 5), c@6, a@7. Dropped: a@2, and b's whole history since
    // its newest change at 5 is a tombstone.
    let kept: Vec<i64> = store.history.keys().map(|r| r.main).collect();
    assert_eq!(kept, vec![3, 6, 7]);
    assert!(!store.index.contains_key(&b"b"[..]));
    assert_eq!(store.size_bytes(), size_before - 2 - 2 - 1);

    // A second compaction drops a@3 (superseded by a@7 at revision 7).
    apply_ok(&mut store, compact(7));
    let kept: Vec<i64> = store.history.keys().map(|r| r.main).collect();
    assert_eq!(kept, vec![6, 7]);
    assert_eq!(all_at(&store, 7).map(|r| r.count), Ok(2));
}

#[test]
fn hash_is_independent_of_when_it_is_computed() {
    let mut store = sample();
    let (hash_at_5, compact_rev, rev) = store.hash_kv(5).expect("hash");
    assert_eq!((compact_rev, rev), (0, 5));
    let (newest, _, rev) = store.hash_kv(0).expect("hash");
    assert_eq!(rev, 7);
    assert_ne!(hash_at_5, newest);
    apply_ok(&mut store, put("d", "1"));
    assert_eq!(store.hash_kv(5).map(|h| h.0), Ok(hash_at_5));
    assert_eq!(store.hash_kv(7).map(|h| h.0), Ok(newest));
    assert_eq!(store.hash_kv(9), Err(MvccError::FutureRevision));

    apply_ok(&mut store, compact(6));
    assert_eq!(
        store.hash_kv(5),
        Err(MvccError::Compacted {
            compact_revision: 6
        })
    );
    let (_, compact_rev, rev) = store.hash_kv(6).expect("hash at the compact revision");
    assert_eq!((compact_rev, rev), (6, 6));
}

#[test]
fn equal_histories_hash_equal_and_different_ones_do_not() {
    let mut a = sample();
    let mut b = sample();
    assert_eq!(a.hash_kv(0), b.hash_kv(0));
    apply_ok(&mut a, put("x", "1"));
    apply_ok(&mut b, put("x", "2"));
    assert_ne!(a.hash_kv(0).map(|h| h.0), b.hash_kv(0).map(|h| h.0));
    assert_eq!(a.hash_kv(7), b.hash_kv(7));
}
