//! Txn: compares, branches, one revision per write txn, reads of own writes, nested txns,
//! atomic failure, duplicate keys.

use kubesim_proto::etcdserverpb::compare::{
    CompareResult as R, CompareTarget as T, TargetUnion as U,
};
use kubesim_proto::etcdserverpb::response_op::Response;
use kubesim_proto::etcdserverpb::{PutRequest, ResponseOp, TxnResponse};

use super::*;
use crate::{check_txn, is_read_only_txn};

fn txn(compare: Vec<Compare>, success: Vec<RequestOp>, failure: Vec<RequestOp>) -> TxnRequest {
    TxnRequest {
        compare,
        success,
        failure,
    }
}

fn apply_txn(store: &mut Mvcc, req: TxnRequest) -> (TxnResponse, Applied) {
    match apply_ok(store, Command::Txn(req)) {
        (CommandResponse::Txn(response), applied) => (response, applied),
        (other, _) => panic!("not a txn response: {other:?}"),
    }
}

fn range_kvs(op: &ResponseOp) -> Vec<KeyValue> {
    match &op.response {
        Some(Response::ResponseRange(r)) => r.kvs.clone(),
        other => panic!("not a range response: {other:?}"),
    }
}

#[test]
fn cas_on_mod_revision() {
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1")); // 2
    let cas = txn(
        vec![compare("a", T::Mod, R::Equal, U::ModRevision(2))],
        vec![op_put("a", "2"), op_put("b", "1")],
        vec![op_get("a")],
    );
    let (response, applied) = apply_txn(&mut store, cas.clone());
    assert!(response.succeeded);
    assert_eq!(response.responses.len(), 2);
    assert_eq!(applied.revision, 3, "a write txn is exactly one revision");
    assert_eq!(
        applied.events,
        vec![
            put_event(kv("a", "2", 2, 3, 2), Some(kv("a", "1", 2, 2, 1))),
            put_event(kv("b", "1", 3, 3, 1), None),
        ]
    );

    // The same CAS again loses: mod_revision is now 3. The failure branch only reads.
    let (response, applied) = apply_txn(&mut store, cas);
    assert!(!response.succeeded);
    assert_eq!(
        range_kvs(&response.responses[0]),
        vec![kv("a", "2", 2, 3, 2)]
    );
    assert_eq!(
        applied.revision, 3,
        "a read-only txn does not bump the revision"
    );
    assert!(applied.events.is_empty());
}

#[test]
fn reads_inside_a_txn_see_earlier_writes() {
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1")); // 2
    let past = RequestOp {
        request: Some(Request::RequestRange(RangeRequest {
            revision: 2,
            ..range_req("a", "")
        })),
    };
    let req = txn(
        vec![],
        vec![op_get("a"), op_put("a", "2"), op_get("a"), past],
        vec![],
    );
    let (response, applied) = apply_txn(&mut store, req);
    assert_eq!(applied.revision, 3);
    assert_eq!(
        range_kvs(&response.responses[0]),
        vec![kv("a", "1", 2, 2, 1)]
    );
    assert_eq!(
        range_kvs(&response.responses[2]),
        vec![kv("a", "2", 2, 3, 2)]
    );
    assert_eq!(
        range_kvs(&response.responses[3]),
        vec![kv("a", "1", 2, 2, 1)]
    );
}

#[test]
fn nested_txn_compares_see_the_store_before_the_txn() {
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1")); // 2
    let inner = txn(
        vec![compare("a", T::Value, R::Equal, U::Value(b"1".to_vec()))],
        vec![op_put("b", "then")],
        vec![op_put("c", "else")],
    );
    let outer = txn(vec![], vec![op_put("a", "2"), op_txn(inner)], vec![]);
    let (response, applied) = apply_txn(&mut store, outer);
    assert_eq!(applied.revision, 3);
    assert_eq!(
        applied.events,
        vec![
            put_event(kv("a", "2", 2, 3, 2), Some(kv("a", "1", 2, 2, 1))),
            put_event(kv("b", "then", 3, 3, 1), None),
        ]
    );
    match &response.responses[1].response {
        Some(Response::ResponseTxn(nested)) => {
            assert!(nested.succeeded);
            assert_eq!(nested.responses.len(), 1);
        }
        other => panic!("expected a nested txn response, got {other:?}"),
    }
    assert_eq!(get(&store, "c"), None);
}

#[test]
fn a_failing_op_fails_the_whole_txn() {
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1")); // 2
    let leased = RequestOp {
        request: Some(Request::RequestPut(PutRequest {
            lease: 77,
            ..put_req("b", "x")
        })),
    };
    let req = txn(vec![], vec![op_put("a", "2"), leased], vec![]);
    assert_eq!(
        apply_err(&mut store, Command::Txn(req)),
        MvccError::LeaseNotFound { id: 77 }
    );

    let ignore = RequestOp {
        request: Some(Request::RequestPut(PutRequest {
            ignore_value: true,
            ..put_req("missing", "")
        })),
    };
    let req = txn(vec![], vec![op_delete("a", ""), ignore], vec![]);
    assert_eq!(
        apply_err(&mut store, Command::Txn(req)),
        MvccError::KeyNotFound
    );

    let future = RequestOp {
        request: Some(Request::RequestRange(RangeRequest {
            revision: 3,
            ..range_req("a", "")
        })),
    };
    let req = txn(vec![], vec![op_put("a", "2"), future], vec![]);
    assert_eq!(
        apply_err(&mut store, Command::Txn(req)),
        MvccError::FutureRevision
    );

    // Only the taken branch is checked against the store.
    let lease_in_failure = RequestOp {
        request: Some(Request::RequestPut(PutRequest {
            lease: 77,
            ..put_req("b", "x")
        })),
    };
    let req = txn(vec![], vec![op_put("a", "3")], vec![lease_in_failure]);
    let (_, applied) = apply_txn(&mut store, req);
    assert_eq!(applied.revision, 3);
}

#[test]
fn duplicate_keys_are_refused_at_apply_too() {
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1"));
    let dup = txn(vec![], vec![op_put("a", "2"), op_put("a", "3")], vec![]);
    assert_eq!(check_txn(&dup, 128), Err(MvccError::DuplicateKey));
    assert_eq!(
        apply_err(&mut store, Command::Txn(dup)),
        MvccError::DuplicateKey
    );
    let nested = txn(
        vec![],
        vec![
            op_delete("a", "c"),
            op_txn(txn(vec![], vec![op_put("b", "x")], vec![])),
        ],
        vec![],
    );
    assert_eq!(
        apply_err(&mut store, Command::Txn(nested)),
        MvccError::DuplicateKey
    );
}

#[test]
fn from_key_delete_and_put_in_one_txn_like_etcd() {
    // etcd 3.4 accepts this (its interval check misses "\0" range ends): delete a and b,
    // then put b as a new generation.
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1")); // 2
    apply_ok(&mut store, put("b", "2")); // 3
    let req = txn(vec![], vec![op_delete("a", "\0"), op_put("b", "3")], vec![]);
    let (response, applied) = apply_txn(&mut store, req);
    match &response.responses[0].response {
        Some(Response::ResponseDeleteRange(r)) => assert_eq!(r.deleted, 2),
        other => panic!("expected a delete response, got {other:?}"),
    }
    assert_eq!(applied.revision, 4);
    assert_eq!(applied.events.len(), 3);
    assert_eq!(everything(&store), vec![kv("b", "3", 4, 4, 1)]);
}

#[test]
fn compares_on_missing_keys() {
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1"));
    let holds = |store: &mut Mvcc, c: Compare| {
        apply_txn(store, txn(vec![c], vec![op_get("a")], vec![]))
            .0
            .succeeded
    };
    assert!(holds(
        &mut store,
        compare("x", T::Version, R::Equal, U::Version(0))
    ));
    assert!(holds(
        &mut store,
        compare("x", T::Create, R::Equal, U::CreateRevision(0))
    ));
    assert!(holds(
        &mut store,
        compare("x", T::Mod, R::Less, U::ModRevision(1))
    ));
    assert!(holds(
        &mut store,
        compare("x", T::Lease, R::Equal, U::Lease(0))
    ));
    // A VALUE compare on a missing key is false whatever the result asked.
    assert!(!holds(
        &mut store,
        compare("x", T::Value, R::Equal, U::Value(vec![]))
    ));
    assert!(!holds(
        &mut store,
        compare("x", T::Value, R::NotEqual, U::Value(b"q".to_vec()))
    ));
    // A union that does not match the target compares against 0 (etcd's compareKV).
    assert!(!holds(
        &mut store,
        compare("a", T::Mod, R::Equal, U::Version(2))
    ));
    assert!(holds(
        &mut store,
        compare("a", T::Mod, R::Greater, U::Version(2))
    ));
    assert!(holds(
        &mut store,
        compare("a", T::Value, R::Greater, U::Value(b"0".to_vec()))
    ));
    assert_eq!(store.current_revision(), 2);
}

#[test]
fn compare_over_a_range_must_hold_for_every_key() {
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1"));
    apply_ok(&mut store, put("b", "1"));
    apply_ok(&mut store, put("b", "2"));
    let over = |target, result, value| Compare {
        range_end: b"c".to_vec(),
        ..compare("a", target, result, value)
    };
    let holds =
        |store: &mut Mvcc, c: Compare| apply_txn(store, txn(vec![c], vec![], vec![])).0.succeeded;
    assert!(holds(
        &mut store,
        over(T::Version, R::Greater, U::Version(0))
    ));
    assert!(!holds(
        &mut store,
        over(T::Version, R::Equal, U::Version(1))
    ));
    assert!(holds(
        &mut store,
        over(T::Create, R::Less, U::CreateRevision(4))
    ));
    assert!(!holds(
        &mut store,
        over(T::Value, R::Equal, U::Value(b"1".to_vec()))
    ));
}

#[test]
fn read_only_txns_can_be_served_without_the_log() {
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1"));
    let read = txn(
        vec![compare("a", T::Version, R::Equal, U::Version(1))],
        vec![op_get("a")],
        vec![op_get("b")],
    );
    assert!(is_read_only_txn(&read));
    let response = store.read_txn(&read).expect("read-only txn");
    assert!(response.succeeded);
    assert_eq!(
        range_kvs(&response.responses[0]),
        vec![kv("a", "1", 2, 2, 1)]
    );

    let write = txn(vec![], vec![op_get("a")], vec![op_put("b", "x")]);
    assert!(!is_read_only_txn(&write));
    assert!(matches!(
        store.read_txn(&write),
        Err(MvccError::InvalidArgument(_))
    ));
    let nested = txn(vec![], vec![op_txn(txn(vec![], vec![], vec![]))], vec![]);
    assert!(!is_read_only_txn(&nested));
}

#[test]
fn a_write_txn_that_changes_nothing_keeps_the_revision() {
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1"));
    let (response, applied) = apply_txn(&mut store, txn(vec![], vec![op_delete("zz", "")], vec![]));
    assert!(response.succeeded);
    assert_eq!(applied.revision, 2);
    assert!(applied.events.is_empty());
}
