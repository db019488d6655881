//! Leases: grant, attach through put, detach through put/delete, revoke deleting the keys.

use kubesim_proto::etcdserverpb::{LeaseGrantResponse, LeaseRevokeResponse, PutRequest};

use super::*;

fn grant(id: i64, ttl_seconds: i64) -> Command {
    Command::LeaseGrant { id, ttl_seconds }
}

fn put_leased(key: &str, value: &str, lease: i64) -> Command {
    Command::Put(PutRequest {
        lease,
        ..put_req(key, value)
    })
}

fn leased(key: &str, value: &str, create: i64, modr: i64, version: i64, lease: i64) -> KeyValue {
    KeyValue {
        lease,
        ..kv(key, value, create, modr, version)
    }
}

fn lease_keys(store: &Mvcc, id: i64) -> Option<Vec<String>> {
    store.lease(id).map(|lease| {
        lease
            .keys
            .iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect()
    })
}

#[test]
fn grant_does_not_bump_the_revision() {
    let mut store = Mvcc::new();
    let (response, applied) = apply_ok(&mut store, grant(5, 30));
    assert_eq!(
        response,
        CommandResponse::LeaseGrant(LeaseGrantResponse {
            header: None,
            id: 5,
            ttl: 30,
            error: String::new()
        })
    );
    assert_eq!((applied.revision, applied.events.len()), (1, 0));
    assert_eq!(store.lease(5).map(|l| l.ttl_seconds), Some(30));
    assert_eq!(
        apply_err(&mut store, grant(5, 60)),
        MvccError::LeaseExists { id: 5 }
    );
    assert!(matches!(
        apply_err(&mut store, grant(0, 60)),
        MvccError::InvalidArgument(_)
    ));
    assert!(matches!(
        apply_err(&mut store, grant(-1, 60)),
        MvccError::InvalidArgument(_)
    ));
    apply_ok(&mut store, grant(3, 1));
    let ids: Vec<i64> = store.leases().map(|l| l.id).collect();
    assert_eq!(ids, vec![3, 5]);
}

#[test]
fn put_attaches_and_moves_keys_and_delete_detaches() {
    let mut store = Mvcc::new();
    apply_ok(&mut store, grant(1, 60));
    apply_ok(&mut store, grant(2, 60));
    apply_ok(&mut store, put_leased("a", "x", 1)); // 2
    apply_ok(&mut store, put_leased("b", "x", 1)); // 3
    assert_eq!(get(&store, "a"), Some(leased("a", "x", 2, 2, 1, 1)));
    assert_eq!(lease_keys(&store, 1), Some(vec!["a".into(), "b".into()]));
    apply_ok(&mut store, put_leased("a", "y", 2)); // 4
    assert_eq!(lease_keys(&store, 1), Some(vec!["b".into()]));
    assert_eq!(lease_keys(&store, 2), Some(vec!["a".into()]));
    apply_ok(&mut store, put("a", "z")); // 5: a put without lease detaches
    assert_eq!(lease_keys(&store, 2), Some(vec![]));
    apply_ok(&mut store, delete("b", "")); // 6
    assert_eq!(lease_keys(&store, 1), Some(vec![]));
}

#[test]
fn revoke_deletes_every_key_at_one_revision() {
    let mut store = Mvcc::new();
    apply_ok(&mut store, grant(7, 60));
    apply_ok(&mut store, put_leased("b", "2", 7)); // 2
    apply_ok(&mut store, put_leased("a", "1", 7)); // 3
    apply_ok(&mut store, put("c", "3")); // 4
    let (response, applied) = apply_ok(&mut store, Command::LeaseRevoke { id: 7 }); // 5
    assert_eq!(
        response,
        CommandResponse::LeaseRevoke(LeaseRevokeResponse { header: None })
    );
    assert_eq!(applied.revision, 5);
    assert_eq!(
        applied.events,
        vec![
            delete_event("a", 5, leased("a", "1", 3, 3, 1, 7)),
            delete_event("b", 5, leased("b", "2", 2, 2, 1, 7)),
        ]
    );
    assert_eq!(store.lease(7), None);
    assert_eq!(everything(&store), vec![kv("c", "3", 4, 4, 1)]);
    assert_eq!(
        apply_err(&mut store, Command::LeaseRevoke { id: 7 }),
        MvccError::LeaseNotFound { id: 7 }
    );
}

#[test]
fn revoking_a_lease_without_keys_keeps_the_revision() {
    // etcd 3.4: `lease grant 60; lease revoke <id>` leaves the revision as it was.
    let mut store = Mvcc::new();
    apply_ok(&mut store, put("a", "1"));
    apply_ok(&mut store, grant(8, 60));
    apply_ok(&mut store, put_leased("k", "v", 8)); // 3
    apply_ok(&mut store, put("k", "w")); // 4: detached
    let (_, applied) = apply_ok(&mut store, Command::LeaseRevoke { id: 8 });
    assert_eq!((applied.revision, applied.events.len()), (4, 0));
    assert_eq!(store.lease(8), None);
    assert_eq!(get(&store, "k").map(|kv| kv.value), Some(b"w".to_vec()));
}
