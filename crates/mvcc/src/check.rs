//! The request checks etcd makes in its API layer (`etcdserver/api/v3rpc/key.go`) before a
//! request is proposed. The service calls them when a request arrives; [`crate::Mvcc::apply`]
//! calls them again, because a command in the log is never trusted to have passed the service.
//! They look only at the request, never at the store.

use std::collections::BTreeSet;

use kubesim_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use kubesim_proto::etcdserverpb::request_op::Request;
use kubesim_proto::etcdserverpb::{
    DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
};

use crate::MvccError;

/// Deepest txn nesting accepted. prost refuses to decode messages nested deeper than 100, so
/// no gRPC client can reach this; it bounds the recursion for commands from anywhere else.
pub const MAX_TXN_DEPTH: usize = 64;

fn invalid(message: &str) -> MvccError {
    MvccError::InvalidArgument(message.to_owned())
}

/// etcd's `checkRangeRequest`.
pub fn check_range(req: &RangeRequest) -> Result<(), MvccError> {
    if req.key.is_empty() {
        return Err(invalid("key is not provided"));
    }
    if SortOrder::try_from(req.sort_order).is_err()
        || SortTarget::try_from(req.sort_target).is_err()
    {
        return Err(invalid("invalid sort option"));
    }
    Ok(())
}

/// etcd's `checkPutRequest`.
pub fn check_put(req: &PutRequest) -> Result<(), MvccError> {
    if req.key.is_empty() {
        return Err(invalid("key is not provided"));
    }
    if req.ignore_value && !req.value.is_empty() {
        return Err(invalid("value is provided"));
    }
    if req.ignore_lease && req.lease != 0 {
        return Err(invalid("lease is provided"));
    }
    Ok(())
}

/// etcd's `checkDeleteRequest`.
pub fn check_delete_range(req: &DeleteRangeRequest) -> Result<(), MvccError> {
    if req.key.is_empty() {
        return Err(invalid("key is not provided"));
    }
    Ok(())
}

/// Everything etcd checks on a Txn before proposing it: at most `max_ops` compares or ops per
/// branch (nested txns share the budget, as etcd's `checkTxnRequest`), no empty keys or ops,
/// and no key both put and put/deleted again in one branch (etcd's `checkIntervals`).
pub fn check_txn(req: &TxnRequest, max_ops: usize) -> Result<(), MvccError> {
    check_txn_ops(req, max_ops, 0)?;
    check_intervals(&req.success)?;
    check_intervals(&req.failure)?;
    Ok(())
}

fn check_txn_ops(req: &TxnRequest, max_ops: usize, depth: usize) -> Result<(), MvccError> {
    if depth > MAX_TXN_DEPTH {
        return Err(invalid("txn nested too deeply"));
    }
    let ops = req
        .compare
        .len()
        .max(req.success.len())
        .max(req.failure.len());
    if ops > max_ops {
        return Err(invalid("too many operations in txn request"));
    }
    if req.compare.iter().any(|c| c.key.is_empty()) {
        return Err(invalid("key is not provided"));
    }
    for op in req.success.iter().chain(&req.failure) {
        check_op(op, max_ops - ops, depth)?;
    }
    Ok(())
}

fn check_op(op: &RequestOp, max_ops: usize, depth: usize) -> Result<(), MvccError> {
    match &op.request {
        Some(Request::RequestRange(r)) => check_range(r),
        Some(Request::RequestPut(r)) => check_put(r),
        Some(Request::RequestDeleteRange(r)) => check_delete_range(r),
        Some(Request::RequestTxn(r)) => check_txn_ops(r, max_ops, depth + 1),
        // etcd answers an empty op with ErrGRPCKeyNotFound.
        None => Err(MvccError::KeyNotFound),
    }
}

/// A deleted range as etcd's `checkIntervals` sees it.
#[derive(Debug, Clone, Copy)]
enum Deleted<'a> {
    /// A delete without range_end.
    Point(&'a [u8]),
    /// [key, range_end), taken literally: a "\0" range_end (every key >= key) makes an empty
    /// interval, so etcd does not see `delete --from-key a` and `put b` in one txn as
    /// overlapping and applies both. We match it.
    Span(&'a [u8], &'a [u8]),
}

impl Deleted<'_> {
    fn covers(&self, key: &[u8]) -> bool {
        match *self {
            Deleted::Point(point) => point == key,
            Deleted::Span(begin, end) => begin <= key && key < end,
        }
    }
}

/// What one branch puts and deletes, for the parent to check against its own.
struct Writes<'a> {
    puts: BTreeSet<&'a [u8]>,
    deletes: Vec<Deleted<'a>>,
}

impl<'a> Writes<'a> {
    fn deletes_key(&self, key: &[u8]) -> bool {
        self.deletes.iter().any(|d| d.covers(key))
    }
}

/// etcd's `checkIntervals`: within one branch (nested txns included) a key may be put once and
/// must not also fall in a deleted range. Deletes may overlap each other; a nested txn may put
/// the same key in both its branches (only one runs).
fn check_intervals(ops: &[RequestOp]) -> Result<Writes<'_>, MvccError> {
    let mut writes = Writes {
        puts: BTreeSet::new(),
        deletes: ops.iter().filter_map(deleted).collect(),
    };
    for op in ops {
        if let Some(Request::RequestTxn(txn)) = &op.request {
            merge_nested(&mut writes, txn)?;
        }
    }
    for op in ops {
        if let Some(Request::RequestPut(put)) = &op.request {
            let key = put.key.as_slice();
            if writes.deletes_key(key) || !writes.puts.insert(key) {
                return Err(MvccError::DuplicateKey);
            }
        }
    }
    Ok(writes)
}

fn deleted(op: &RequestOp) -> Option<Deleted<'_>> {
    match &op.request {
        Some(Request::RequestDeleteRange(d)) if d.range_end.is_empty() => {
            Some(Deleted::Point(&d.key))
        }
        Some(Request::RequestDeleteRange(d)) => Some(Deleted::Span(&d.key, &d.range_end)),
        _ => None,
    }
}

fn merge_nested<'a>(writes: &mut Writes<'a>, txn: &'a TxnRequest) -> Result<(), MvccError> {
    let then = check_intervals(&txn.success)?;
    let otherwise = check_intervals(&txn.failure)?;
    for &key in &then.puts {
        if writes.deletes_key(key) || !writes.puts.insert(key) {
            return Err(MvccError::DuplicateKey);
        }
    }
    for &key in &otherwise.puts {
        let clash = writes.puts.contains(key) && !then.puts.contains(key);
        if clash || writes.deletes_key(key) {
            return Err(MvccError::DuplicateKey);
        }
        writes.puts.insert(key);
    }
    writes.deletes.extend(then.deletes);
    writes.deletes.extend(otherwise.deletes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubesim_proto::etcdserverpb::Compare;

    fn put(key: &str) -> RequestOp {
        RequestOp {
            request: Some(Request::RequestPut(PutRequest {
                key: key.into(),
                ..Default::default()
            })),
        }
    }

    fn delete(key: &str, range_end: &str) -> RequestOp {
        RequestOp {
            request: Some(Request::RequestDeleteRange(DeleteRangeRequest {
                key: key.into(),
                range_end: range_end.into(),
                ..Default::default()
            })),
        }
    }

    fn get(key: &str) -> RequestOp {
        RequestOp {
            request: Some(Request::RequestRange(RangeRequest {
                key: key.into(),
                ..Default::default()
            })),
        }
    }

    fn nested(success: Vec<RequestOp>, failure: Vec<RequestOp>) -> RequestOp {
        RequestOp {
            request: Some(Request::RequestTxn(TxnRequest {
                compare: vec![],
                success,
                failure,
            })),
        }
    }

    fn txn(success: Vec<RequestOp>) -> TxnRequest {
        TxnRequest {
            compare: vec![],
            success,
            failure: vec![],
        }
    }

    fn check(success: Vec<RequestOp>) -> Result<(), MvccError> {
        check_txn(&txn(success), 128)
    }

    #[test]
    fn duplicate_puts_and_put_inside_delete_are_rejected() {
        assert_eq!(
            check(vec![put("a"), put("a")]),
            Err(MvccError::DuplicateKey)
        );
        assert_eq!(
            check(vec![put("b"), delete("a", "c")]),
            Err(MvccError::DuplicateKey)
        );
        assert_eq!(
            check(vec![delete("b", ""), put("b")]),
            Err(MvccError::DuplicateKey)
        );
        // The same key in success and failure is fine: only one branch runs.
        let both = TxnRequest {
            compare: vec![],
            success: vec![put("a")],
            failure: vec![put("a")],
        };
        assert_eq!(check_txn(&both, 128), Ok(()));
    }

    #[test]
    fn overlapping_deletes_and_reads_are_allowed() {
        assert_eq!(check(vec![delete("a", ""), delete("a", "z")]), Ok(()));
        assert_eq!(check(vec![get("a"), put("a"), get("a")]), Ok(()));
        // etcd does not treat a from-key delete as covering later keys (see `Deleted::Span`).
        assert_eq!(check(vec![delete("a", "\0"), put("b")]), Ok(()));
    }

    #[test]
    fn nested_txns_share_the_branch() {
        assert_eq!(
            check(vec![put("a"), nested(vec![put("a")], vec![])]),
            Err(MvccError::DuplicateKey)
        );
        assert_eq!(
            check(vec![delete("a", "c"), nested(vec![], vec![put("b")])]),
            Err(MvccError::DuplicateKey)
        );
        assert_eq!(
            check(vec![nested(vec![delete("a", "c")], vec![]), put("b")]),
            Err(MvccError::DuplicateKey)
        );
        assert_eq!(
            check(vec![nested(vec![put("x")], vec![put("x")]), put("y")]),
            Ok(())
        );
        assert_eq!(
            check(vec![
                nested(vec![put("x")], vec![]),
                nested(vec![], vec![put("x")])
            ]),
            Err(MvccError::DuplicateKey)
        );
    }

    #[test]
    fn shape_checks() {
        let empty_op = txn(vec![RequestOp { request: None }]);
        assert_eq!(check_txn(&empty_op, 128), Err(MvccError::KeyNotFound));
        let empty_put = txn(vec![put("")]);
        assert_eq!(
            check_txn(&empty_put, 128),
            Err(invalid("key is not provided"))
        );
        let empty_compare = TxnRequest {
            compare: vec![Compare::default()],
            ..Default::default()
        };
        assert_eq!(
            check_txn(&empty_compare, 128),
            Err(invalid("key is not provided"))
        );
        let bad_sort = txn(vec![RequestOp {
            request: Some(Request::RequestRange(RangeRequest {
                key: b"a".to_vec(),
                sort_target: 9,
                ..Default::default()
            })),
        }]);
        assert_eq!(
            check_txn(&bad_sort, 128),
            Err(invalid("invalid sort option"))
        );
    }

    #[test]
    fn too_many_ops_counts_nested_budget() {
        let three = txn(vec![put("a"), put("b"), put("c")]);
        assert_eq!(check_txn(&three, 3), Ok(()));
        assert_eq!(
            check_txn(&three, 2),
            Err(invalid("too many operations in txn request"))
        );
        // The outer txn uses 2 of 3; the nested one has only 1 left and uses 2.
        let outer = txn(vec![put("a"), nested(vec![put("b"), put("c")], vec![])]);
        assert_eq!(
            check_txn(&outer, 3),
            Err(invalid("too many operations in txn request"))
        );
        assert_eq!(check_txn(&outer, 4), Ok(()));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut deep = txn(vec![put("a")]);
        for _ in 0..=MAX_TXN_DEPTH {
            deep = txn(vec![RequestOp {
                request: Some(Request::RequestTxn(deep)),
            }]);
        }
        assert_eq!(
            check_txn(&deep, usize::MAX),
            Err(invalid("txn nested too deeply"))
        );
    }

    #[test]
    fn put_checks() {
        let mut req = PutRequest {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            ignore_value: true,
            ..Default::default()
        };
        assert_eq!(check_put(&req), Err(invalid("value is provided")));
        req.ignore_value = false;
        req.ignore_lease = true;
        req.lease = 5;
        assert_eq!(check_put(&req), Err(invalid("lease is provided")));
    }
}
