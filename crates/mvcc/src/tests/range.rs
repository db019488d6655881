//! Range: key-range encoding, limit/more/count, revisions, sorting, filters, keys/count only.

use kubesim_proto::etcdserverpb::range_request::{SortOrder, SortTarget};

use super::*;

/// a=1@2, b=22@3, c=333@4, a=4@5 (a's version 2), d=0@6 deleted@7.
fn sample() -> Mvcc {
    let mut store = Mvcc::new();
    for (k, v) in [
        ("a", "1"),
        ("b", "22"),
        ("c", "333"),
        ("a", "4"),
        ("d", "0"),
    ] {
        apply_ok(&mut store, put(k, v));
    }
    apply_ok(&mut store, delete("d", ""));
    assert_eq!(store.current_revision(), 7);
    store
}

fn range(store: &Mvcc, req: RangeRequest) -> RangeResponse {
    store.range(&req).expect("range succeeds")
}

#[test]
fn single_key_prefix_from_key_and_all() {
    let store = sample();
    let single = range(&store, range_req("b", ""));
    assert_eq!(single.kvs, vec![kv("b", "22", 3, 3, 1)]);
    assert_eq!((single.count, single.more, single.header), (1, false, None));
    assert_eq!(keys(&range(&store, range_req("a", "c"))), vec!["a", "b"]);
    assert_eq!(keys(&range(&store, range_req("b", "\0"))), vec!["b", "c"]);
    assert_eq!(
        keys(&range(&store, range_req("\0", "\0"))),
        vec!["a", "b", "c"]
    );
    assert_eq!(range(&store, range_req("d", "")).count, 0);
    assert_eq!(
        range(&store, range_req("c", "a")).count,
        0,
        "inverted range is empty"
    );
}

#[test]
fn limit_sets_more_and_count_counts_everything() {
    let store = sample();
    let limited = range(
        &store,
        RangeRequest {
            limit: 2,
            ..range_req("\0", "\0")
        },
    );
    assert_eq!(keys(&limited), vec!["a", "b"]);
    assert_eq!((limited.count, limited.more), (3, true));
    let exact = range(
        &store,
        RangeRequest {
            limit: 3,
            ..range_req("\0", "\0")
        },
    );
    assert_eq!((exact.kvs.len(), exact.count, exact.more), (3, 3, false));
    let negative = range(
        &store,
        RangeRequest {
            limit: -1,
            ..range_req("\0", "\0")
        },
    );
    assert_eq!((negative.kvs.len(), negative.more), (3, false));
}

#[test]
fn past_revisions_future_and_compacted() {
    let mut store = sample();
    let at = |revision: i64| RangeRequest {
        revision,
        ..range_req("\0", "\0")
    };
    let at3 = range(&store, at(3));
    assert_eq!(at3.kvs, vec![kv("a", "1", 2, 2, 1), kv("b", "22", 3, 3, 1)]);
    let at6 = range(&store, at(6));
    assert_eq!(keys(&at6), vec!["a", "b", "c", "d"]);
    assert_eq!(at6.kvs[0], kv("a", "4", 2, 5, 2));
    assert_eq!(range(&store, at(1)).count, 0);
    assert_eq!(
        range(&store, at(-5)).count,
        3,
        "negative revision reads the newest"
    );
    assert_eq!(store.range(&at(8)), Err(MvccError::FutureRevision));

    apply_ok(&mut store, Command::Compact(compaction(4)));
    assert_eq!(
        store.range(&at(3)),
        Err(MvccError::Compacted {
            compact_revision: 4
        })
    );
    assert_eq!(keys(&range(&store, at(4))), vec!["a", "b", "c"]);
    assert_eq!(range(&store, at(4)).kvs[0], kv("a", "1", 2, 2, 1));
}

fn compaction(revision: i64) -> kubesim_proto::etcdserverpb::CompactionRequest {
    kubesim_proto::etcdserverpb::CompactionRequest {
        revision,
        physical: false,
    }
}

fn sorted(store: &Mvcc, order: SortOrder, target: SortTarget) -> Vec<String> {
    keys(&range(
        store,
        RangeRequest {
            sort_order: order as i32,
            sort_target: target as i32,
            ..range_req("\0", "\0")
        },
    ))
}

#[test]
fn sorting_follows_etcd() {
    let mut store = sample();
    apply_ok(&mut store, put("b", "22")); // b: version 2, mod 8
    // a: create 2 mod 5 ver 2 val "4"; b: create 3 mod 8 ver 2 val "22"; c: create 4 mod 4 ver 1 val "333".
    assert_eq!(
        sorted(&store, SortOrder::None, SortTarget::Key),
        vec!["a", "b", "c"]
    );
    assert_eq!(
        sorted(&store, SortOrder::Descend, SortTarget::Key),
        vec!["c", "b", "a"]
    );
    assert_eq!(
        sorted(&store, SortOrder::Ascend, SortTarget::Mod),
        vec!["c", "a", "b"]
    );
    assert_eq!(
        sorted(&store, SortOrder::Descend, SortTarget::Create),
        vec!["c", "b", "a"]
    );
    assert_eq!(
        sorted(&store, SortOrder::Descend, SortTarget::Value),
        vec!["a", "c", "b"]
    );
    // NONE with a target other than KEY means ASCEND; ties keep key order.
    assert_eq!(
        sorted(&store, SortOrder::None, SortTarget::Version),
        vec!["c", "a", "b"]
    );
    assert_eq!(
        sorted(&store, SortOrder::None, SortTarget::Mod),
        vec!["c", "a", "b"]
    );
    // Sorting happens before the limit.
    let top = range(
        &store,
        RangeRequest {
            limit: 1,
            sort_order: SortOrder::Descend as i32,
            sort_target: SortTarget::Mod as i32,
            ..range_req("\0", "\0")
        },
    );
    assert_eq!(
        (keys(&top), top.more, top.count),
        (vec!["b".to_owned()], true, 3)
    );
}

#[test]
fn filters_apply_before_limit_but_not_to_count() {
    let store = sample();
    let req = RangeRequest {
        min_mod_revision: 4,
        ..range_req("\0", "\0")
    };
    let response = range(&store, req.clone());
    assert_eq!(
        (keys(&response), response.count),
        (vec!["a".to_owned(), "c".to_owned()], 3)
    );
    let limited = range(&store, RangeRequest { limit: 1, ..req });
    assert_eq!((keys(&limited), limited.more), (vec!["a".to_owned()], true));
    let created = range(
        &store,
        RangeRequest {
            min_create_revision: 3,
            max_create_revision: 3,
            ..range_req("\0", "\0")
        },
    );
    assert_eq!(keys(&created), vec!["b"]);
    let max_mod = range(
        &store,
        RangeRequest {
            max_mod_revision: 3,
            ..range_req("\0", "\0")
        },
    );
    assert_eq!((keys(&max_mod), max_mod.count), (vec!["b".to_owned()], 3));
}

#[test]
fn keys_only_and_count_only() {
    let store = sample();
    let keys_only = range(
        &store,
        RangeRequest {
            keys_only: true,
            ..range_req("a", "c")
        },
    );
    assert_eq!(
        keys_only.kvs,
        vec![kv("a", "", 2, 5, 2), kv("b", "", 3, 3, 1)]
    );
    // keys_only still sorts by the values it does not return.
    let by_value = range(
        &store,
        RangeRequest {
            keys_only: true,
            sort_order: SortOrder::Descend as i32,
            sort_target: SortTarget::Value as i32,
            ..range_req("\0", "\0")
        },
    );
    assert_eq!(keys(&by_value), vec!["a", "c", "b"]);
    assert!(by_value.kvs.iter().all(|kv| kv.value.is_empty()));
    let count_only = range(
        &store,
        RangeRequest {
            count_only: true,
            limit: 1,
            ..range_req("\0", "\0")
        },
    );
    assert_eq!(
        (count_only.kvs.len(), count_only.count, count_only.more),
        (0, 3, false)
    );
}

#[test]
fn bad_range_requests() {
    let store = sample();
    let invalid = |msg: &str| Err(MvccError::InvalidArgument(msg.to_owned()));
    assert_eq!(
        store.range(&range_req("", "")),
        invalid("key is not provided")
    );
    let bad = RangeRequest {
        sort_order: 7,
        ..range_req("a", "")
    };
    assert_eq!(store.range(&bad), invalid("invalid sort option"));
}
