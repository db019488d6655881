//! Put and DeleteRange: revisions, versions, generations, prev_kv, events, argument checks.

use kubesim_proto::etcdserverpb::{DeleteRangeResponse, PutRequest, PutResponse};

use super::*;

#[test]
fn empty_store_is_at_revision_one() {
    let store = Mvcc::new();
    assert_eq!(store.current_revision(), 1);
    assert_eq!(store.compact_revision(), 0);
    assert_eq!(Mvcc::default(), store);
    assert_eq!(get(&store, "a"), None);
    assert_eq!(store.size_bytes(), 0);
}

#[test]
fn each_put_bumps_the_revision_by_one_and_the_version() {
    let mut store = Mvcc::new();
    let (_, applied) = apply_ok(&mut store, put("a", "1"));
    assert_eq!(applied.revision, 2);
    assert_eq!(applied.events, vec![put_event(kv("a", "1", 2, 2, 1), None)]);
    let (_, applied) = apply_ok(&mut store, put("b", "x"));
    assert_eq!(applied.revision, 3);
    let (_, applied) = apply_ok(&mut store, put("a", "2"));
    assert_eq!(applied.revision, 4);
    assert_eq!(
        applied.events,
        vec![put_event(
            kv("a", "2", 2, 4, 2),
            Some(kv("a", "1", 2, 2, 1))
        )]
    );
    assert_eq!(get(&store, "a"), Some(kv("a", "2", 2, 4, 2)));
    assert_eq!(store.current_revision(), 4);
    assert_eq!(store.size_bytes(), 2 * 2 + 2);
}

#[test]
fn put_returns_prev_kv_only_when_asked() {
    let mut store = Mvcc::new();
    let with_prev = |key: &str, value: &str| {
        Command::Put(PutRequest {
            prev_kv: true,
            ..put_req(key, value)
        })
    };
    let (response, _) = apply_ok(&mut store, with_prev("a", "1"));
    assert_eq!(
        response,
        CommandResponse::Put(PutResponse {
            header: None,
            prev_kv: None
        })
    );
    let (response, _) = apply_ok(&mut store, with_prev("a", "2"));
    assert_eq!(
        response,
        CommandResponse::Put(PutResponse {
            header: None,
            prev_kv: Some(kv("a", "1", 2, 2, 1))
        })
    );
    let (response, _) = apply_ok(&mut store, put("a", "3"));
    assert_eq!(
        response,
        CommandResponse::Put(PutResponse {
            header: None,
            prev_kv: None
        })
    );
}

#[test]
fn delete_ends_the_generation_and_a_recreate_starts_at_version_one() {
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1")); // 2
    apply_ok(&mut store, put("a", "2")); // 3
    let (response, applied) = apply_ok(&mut store, delete("a", "")); // 4
    assert_eq!(
        response,
        CommandResponse::DeleteRange(DeleteRangeResponse {
            header: None,
            deleted: 1,
            prev_kvs: vec![]
        })
    );
    assert_eq!(applied.revision, 4);
    assert_eq!(
        applied.events,
        vec![delete_event("a", 4, kv("a", "2", 2, 3, 2))]
    );
    assert_eq!(get(&store, "a"), None);
    let (_, applied) = apply_ok(&mut store, put("a", "new")); // 5
    assert_eq!(
        applied.events,
        vec![put_event(kv("a", "new", 5, 5, 1), None)]
    );
    // History still answers for every revision.
    assert_eq!(get_at(&store, "a", 3), Ok(Some(kv("a", "2", 2, 3, 2))));
    assert_eq!(get_at(&store, "a", 4), Ok(None));
}

#[test]
fn delete_range_counts_returns_prev_kvs_and_emits_one_event_per_key() {
    let mut store = Mvcc::new();
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")] {
        apply_ok(&mut store, put(k, v)); // 2..=5
    }
    apply_ok(&mut store, delete("c", "")); // 6
    let cmd = Command::DeleteRange(DeleteRangeRequest {
        prev_kv: true,
        ..delete_req("a", "d")
    });
    let (response, applied) = apply_ok(&mut store, cmd); // 7
    assert_eq!(
        response,
        CommandResponse::DeleteRange(DeleteRangeResponse {
            header: None,
            deleted: 2,
            prev_kvs: vec![kv("a", "1", 2, 2, 1), kv("b", "2", 3, 3, 1)],
        })
    );
    assert_eq!(applied.revision, 7);
    assert_eq!(
        applied.events,
        vec![
            delete_event("a", 7, kv("a", "1", 2, 2, 1)),
            delete_event("b", 7, kv("b", "2", 3, 3, 1)),
        ]
    );
    assert_eq!(everything(&store), vec![kv("d", "4", 5, 5, 1)]);
}

#[test]
fn deleting_nothing_does_not_bump_the_revision() {
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1"));
    let (response, applied) = apply_ok(&mut store, delete("zz", ""));
    assert_eq!(applied.revision, 2);
    assert!(applied.events.is_empty());
    assert_eq!(
        response,
        CommandResponse::DeleteRange(DeleteRangeResponse {
            header: None,
            deleted: 0,
            prev_kvs: vec![]
        })
    );
    // An inverted range deletes nothing and does not panic.
    let (_, applied) = apply_ok(&mut store, delete("z", "a"));
    assert_eq!(applied.revision, 2);
    apply_ok(&mut store, delete("a", ""));
    let (_, applied) = apply_ok(&mut store, delete("a", ""));
    assert_eq!(
        applied.revision, 3,
        "deleting a deleted key changes nothing"
    );
}

#[test]
fn delete_from_key_and_everything() {
    let mut store = Mvcc::new();
    for k in ["a", "b", "c"] {
        apply_ok(&mut store, put(k, "v"));
    }
    let (response, _) = apply_ok(&mut store, delete("b", "\0"));
    assert!(matches!(response, CommandResponse::DeleteRange(r) if r.deleted == 2));
    let (response, _) = apply_ok(&mut store, delete("\0", "\0"));
    assert!(matches!(response, CommandResponse::DeleteRange(r) if r.deleted == 1));
    assert_eq!(everything(&store), vec![]);
    assert_eq!(store.current_revision(), 6);
}

#[test]
fn put_argument_errors_change_nothing() {
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1"));
    let invalid = |msg: &str| MvccError::InvalidArgument(msg.to_owned());
    assert_eq!(
        apply_err(&mut store, put("", "x")),
        invalid("key is not provided")
    );
    assert_eq!(
        apply_err(&mut store, delete("", "")),
        invalid("key is not provided")
    );
    let value_and_ignore = Command::Put(PutRequest {
        ignore_value: true,
        ..put_req("a", "x")
    });
    assert_eq!(
        apply_err(&mut store, value_and_ignore),
        invalid("value is provided")
    );
    let lease_and_ignore = Command::Put(PutRequest {
        ignore_lease: true,
        lease: 5,
        ..put_req("a", "")
    });
    assert_eq!(
        apply_err(&mut store, lease_and_ignore),
        invalid("lease is provided")
    );
    let missing_lease = Command::Put(PutRequest {
        lease: 42,
        ..put_req("a", "x")
    });
    assert_eq!(
        apply_err(&mut store, missing_lease),
        MvccError::LeaseNotFound { id: 42 }
    );
}

#[test]
fn ignore_value_and_ignore_lease_need_the_key() {
    let mut store = Mvcc::new();
    let ignore_value = |key: &str| {
        Command::Put(PutRequest {
            ignore_value: true,
            ..put_req(key, "")
        })
    };
    assert_eq!(
        apply_err(&mut store, ignore_value("a")),
        MvccError::KeyNotFound
    );
    let ignore_lease = Command::Put(PutRequest {
        ignore_lease: true,
        ..put_req("a", "v")
    });
    assert_eq!(
        apply_err(&mut store, ignore_lease.clone()),
        MvccError::KeyNotFound
    );

    apply_ok(
        &mut store,
        Command::LeaseGrant {
            id: 9,
            ttl_seconds: 60,
        },
    );
    let leased = Command::Put(PutRequest {
        lease: 9,
        ..put_req("a", "1")
    });
    apply_ok(&mut store, leased); // 2
    let (_, applied) = apply_ok(&mut store, ignore_value("a")); // 3: keeps value, drops lease
    let expected = kv("a", "1", 2, 3, 2);
    assert_eq!(applied.events[0].kv, Some(expected.clone()));
    assert_eq!(get(&store, "a"), Some(expected));
    assert_eq!(store.lease(9).map(|l| l.keys.len()), Some(0));

    apply_ok(
        &mut store,
        Command::Put(PutRequest {
            lease: 9,
            ..put_req("a", "2")
        }),
    ); // 4
    apply_ok(&mut store, ignore_lease); // 5: new value, lease kept
    let got = get(&store, "a").expect("key exists");
    assert_eq!(
        (got.value.as_slice(), got.lease, got.version),
        (&b"v"[..], 9, 4)
    );
    assert_eq!(store.lease(9).map(|l| l.keys.len()), Some(1));
}
