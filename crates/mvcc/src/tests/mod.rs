//! Tests of the model through its public API: exact revisions, versions, counts and events for
//! each etcd behaviour, plus a seeded random run against a snapshot-restored twin (`prop`).

mod compact;
mod kv;
mod lease;
mod prop;
mod range;
mod snapshot;
mod txn;
mod watch;

use kubesim_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use kubesim_proto::etcdserverpb::request_op::Request;
use kubesim_proto::etcdserverpb::{
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RangeResponse, RequestOp, TxnRequest,
};
use kubesim_proto::mvccpb::event::EventType;
use kubesim_proto::mvccpb::{Event, KeyValue};

use crate::{Applied, Command, CommandResponse, Mvcc, MvccError};

pub fn put_req(key: &str, value: &str) -> PutRequest {
    PutRequest {
        key: key.into(),
        value: value.into(),
        ..Default::default()
    }
}

pub fn put(key: &str, value: &str) -> Command {
    Command::Put(put_req(key, value))
}

pub fn delete_req(key: &str, range_end: &str) -> DeleteRangeRequest {
    DeleteRangeRequest {
        key: key.into(),
        range_end: range_end.into(),
        prev_kv: false,
    }
}

pub fn delete(key: &str, range_end: &str) -> Command {
    Command::DeleteRange(delete_req(key, range_end))
}

pub fn range_req(key: &str, range_end: &str) -> RangeRequest {
    RangeRequest {
        key: key.into(),
        range_end: range_end.into(),
        ..Default::default()
    }
}

pub fn op_put(key: &str, value: &str) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestPut(put_req(key, value))),
    }
}

pub fn op_delete(key: &str, range_end: &str) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestDeleteRange(delete_req(key, range_end))),
    }
}

pub fn op_get(key: &str) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestRange(range_req(key, ""))),
    }
}

pub fn op_txn(txn: TxnRequest) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestTxn(txn)),
    }
}

pub fn compare(
    key: &str,
    target: CompareTarget,
    result: CompareResult,
    value: TargetUnion,
) -> Compare {
    Compare {
        result: result as i32,
        target: target as i32,
        key: key.into(),
        range_end: Vec::new(),
        target_union: Some(value),
    }
}

/// A key-value without lease.
pub fn kv(
    key: &str,
    value: &str,
    create_revision: i64,
    mod_revision: i64,
    version: i64,
) -> KeyValue {
    KeyValue {
        key: key.into(),
        create_revision,
        mod_revision,
        version,
        value: value.into(),
        lease: 0,
    }
}

/// The kv of a DELETE event.
pub fn tombstone(key: &str, revision: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        mod_revision: revision,
        ..Default::default()
    }
}

pub fn put_event(kv: KeyValue, prev_kv: Option<KeyValue>) -> Event {
    Event {
        r#type: EventType::Put as i32,
        kv: Some(kv),
        prev_kv,
    }
}

pub fn delete_event(key: &str, revision: i64, prev_kv: KeyValue) -> Event {
    Event {
        r#type: EventType::Delete as i32,
        kv: Some(tombstone(key, revision)),
        prev_kv: Some(prev_kv),
    }
}

/// Applies a command that must succeed.
pub fn apply_ok(store: &mut Mvcc, cmd: Command) -> (CommandResponse, Applied) {
    let applied = store.apply(&cmd);
    match &applied.response {
        Ok(response) => (response.clone(), applied),
        Err(err) => panic!("{cmd:?} failed: {err}"),
    }
}

/// Applies a command that must fail, and checks it changed nothing.
pub fn apply_err(store: &mut Mvcc, cmd: Command) -> MvccError {
    let before = store.clone();
    let applied = store.apply(&cmd);
    assert_eq!(applied.revision, before.current_revision());
    assert!(applied.events.is_empty());
    assert_eq!(*store, before, "a failed command must change nothing");
    match applied.response {
        Err(err) => err,
        Ok(response) => panic!("{cmd:?} succeeded: {response:?}"),
    }
}

pub fn get(store: &Mvcc, key: &str) -> Option<KeyValue> {
    get_at(store, key, 0).expect("newest revision is readable")
}

pub fn get_at(store: &Mvcc, key: &str, revision: i64) -> Result<Option<KeyValue>, MvccError> {
    let req = RangeRequest {
        revision,
        ..range_req(key, "")
    };
    store.range(&req).map(|r| r.kvs.into_iter().next())
}

pub fn keys(response: &RangeResponse) -> Vec<String> {
    response
        .kvs
        .iter()
        .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
        .collect()
}

/// Every key-value, newest revision.
pub fn everything(store: &Mvcc) -> Vec<KeyValue> {
    store
        .range(&range_req("\0", "\0"))
        .expect("newest revision is readable")
        .kvs
}
