//! Txn as etcd's `applierV3backend.Txn` runs it.
//!
//! 1. Every compare of the request, nested txns included, is decided against the store as it
//!    was before the txn (etcd's `compareToPath`): a nested txn's compares do not see the
//!    outer txn's writes.
//! 2. Every put and range on the chosen path is checked against that same store (etcd's
//!    `checkRequests`): lease exists, ignore_value/ignore_lease key exists, revision readable.
//! 3. Only then do the ops run, in order, all at one revision; a range sees the earlier ops'
//!    writes. Nothing in step 3 can fail, so a txn applies whole or not at all.

use std::cmp::Ordering;

use kubesim_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use kubesim_proto::etcdserverpb::request_op::Request;
use kubesim_proto::etcdserverpb::response_op::Response;
use kubesim_proto::etcdserverpb::{
    Compare, RangeRequest, RangeResponse, RequestOp, ResponseOp, TxnRequest, TxnResponse,
};
use kubesim_proto::mvccpb::KeyValue;

use crate::check::check_txn;
use crate::index::KeyRange;
use crate::store::WriteTxn;
use crate::{Applied, CommandResponse, Mvcc, MvccError};

/// The branch each txn of a request takes: this txn's, then one per nested txn of the taken
/// branch, in op order.
struct TxnPath {
    /// The compares held: the success branch runs.
    succeeded: bool,
    /// The paths of the nested txns in the taken branch.
    nested: Vec<TxnPath>,
}

/// etcd's `isTxnReadonly`: every op of both branches is a Range (a nested txn counts as a
/// write). Such a txn may be served by [`Mvcc::read_txn`] without going through the log.
pub fn is_read_only_txn(req: &TxnRequest) -> bool {
    req.success
        .iter()
        .chain(&req.failure)
        .all(|op| matches!(op.request, Some(Request::RequestRange(_))))
}

fn branch(req: &TxnRequest, succeeded: bool) -> &[RequestOp] {
    if succeeded {
        &req.success
    } else {
        &req.failure
    }
}

type OpCheck = fn(&Mvcc, &RequestOp) -> Result<(), MvccError>;

impl Mvcc {
    pub(crate) fn apply_txn(&mut self, req: &TxnRequest) -> Applied {
        let path = match self.plan_txn(req) {
            Ok(path) => path,
            Err(err) => return self.rejected(err),
        };
        let mut write = self.begin_write();
        let response = self.run_txn(&mut write, req, &path);
        self.commit(write, CommandResponse::Txn(response))
    }

    pub(crate) fn txn_read_only(&self, req: &TxnRequest) -> Result<TxnResponse, MvccError> {
        if !is_read_only_txn(req) {
            return Err(MvccError::InvalidArgument(
                "txn has writes: it must go through the log".to_owned(),
            ));
        }
        let path = self.plan_txn(req)?;
        Ok(self.run_read_only(req, &path))
    }

    /// Steps 1 and 2: decides every branch, then checks puts before ranges (etcd's order).
    fn plan_txn(&self, req: &TxnRequest) -> Result<TxnPath, MvccError> {
        check_txn(req, usize::MAX)?;
        let path = self.decide(req);
        self.check_path(req, &path, Mvcc::check_put_op)?;
        self.check_path(req, &path, Mvcc::check_range_op)?;
        Ok(path)
    }

    fn decide(&self, req: &TxnRequest) -> TxnPath {
        let succeeded = req.compare.iter().all(|c| self.compare_holds(c));
        let nested = branch(req, succeeded)
            .iter()
            .filter_map(|op| match &op.request {
                Some(Request::RequestTxn(txn)) => Some(self.decide(txn)),
                _ => None,
            })
            .collect();
        TxnPath { succeeded, nested }
    }

    fn check_path(
        &self,
        req: &TxnRequest,
        path: &TxnPath,
        check: OpCheck,
    ) -> Result<(), MvccError> {
        let mut nested = path.nested.iter();
        for op in branch(req, path.succeeded) {
            match &op.request {
                Some(Request::RequestTxn(txn)) => {
                    if let Some(path) = nested.next() {
                        self.check_path(txn, path, check)?;
                    }
                }
                _ => check(self, op)?,
            }
        }
        Ok(())
    }

    /// etcd's `checkRequestPut`: the key (for ignore_*) first, then the lease.
    fn check_put_op(&self, op: &RequestOp) -> Result<(), MvccError> {
        match &op.request {
            Some(Request::RequestPut(put)) => {
                self.check_key_exists_if_ignoring(put)?;
                self.check_lease_exists(put)
            }
            _ => Ok(()),
        }
    }

    /// etcd's `checkRequestRange`: a past or future revision must be readable now.
    fn check_range_op(&self, op: &RequestOp) -> Result<(), MvccError> {
        match &op.request {
            Some(Request::RequestRange(range)) => self
                .read_revision(range.revision, self.revision)
                .map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Step 3 for a txn that may write.
    fn run_txn(&mut self, write: &mut WriteTxn, req: &TxnRequest, path: &TxnPath) -> TxnResponse {
        let mut nested = path.nested.iter();
        let mut responses = Vec::new();
        for op in branch(req, path.succeeded) {
            let response = match &op.request {
                Some(Request::RequestRange(range)) => {
                    Response::ResponseRange(self.range_in_txn(range, write.read_revision()))
                }
                Some(Request::RequestPut(put)) => Response::ResponsePut(self.put(write, put)),
                Some(Request::RequestDeleteRange(delete)) => {
                    Response::ResponseDeleteRange(self.delete_range(write, delete))
                }
                Some(Request::RequestTxn(txn)) => match nested.next() {
                    Some(path) => Response::ResponseTxn(self.run_txn(write, txn, path)),
                    None => continue,
                },
                // Refused by check_txn.
                None => continue,
            };
            responses.push(ResponseOp {
                response: Some(response),
            });
        }
        TxnResponse {
            header: None,
            succeeded: path.succeeded,
            responses,
        }
    }

    /// Step 3 for a txn made only of ranges.
    fn run_read_only(&self, req: &TxnRequest, path: &TxnPath) -> TxnResponse {
        let responses = branch(req, path.succeeded)
            .iter()
            .filter_map(|op| match &op.request {
                Some(Request::RequestRange(range)) => Some(ResponseOp {
                    response: Some(Response::ResponseRange(
                        self.range_in_txn(range, self.revision),
                    )),
                }),
                _ => None,
            })
            .collect();
        TxnResponse {
            header: None,
            succeeded: path.succeeded,
            responses,
        }
    }

    /// A range whose revision `check_range_op` accepted; <= 0 reads the txn's own view.
    fn range_in_txn(&self, req: &RangeRequest, view: i64) -> RangeResponse {
        let at = if req.revision <= 0 {
            view
        } else {
            req.revision
        };
        self.range_at(req, at)
    }

    /// etcd's `applyCompare`: with a range, every existing key must match; no key at all
    /// compares as a zero key-value, except that a VALUE compare is then always false.
    fn compare_holds(&self, compare: &Compare) -> bool {
        let range = KeyRange::new(&compare.key, &compare.range_end);
        let mut any = false;
        for (_, index) in self.index.range::<[u8], _>(range.bounds()) {
            let Some(kv) = index.latest_live().and_then(|rev| self.kv_at(rev)) else {
                continue;
            };
            any = true;
            if !compare_kv(compare, kv) {
                return false;
            }
        }
        if any {
            return true;
        }
        compare.target != CompareTarget::Value as i32 && compare_kv(compare, &KeyValue::default())
    }
}

/// etcd's `compareKV`: the compared value comes from the target_union variant matching the
/// target (else 0 or empty); an unknown target compares equal; an unknown result holds.
fn compare_kv(compare: &Compare, kv: &KeyValue) -> bool {
    let union = compare.target_union.as_ref();
    let number = |pick: fn(&TargetUnion) -> Option<i64>| union.and_then(pick).unwrap_or(0);
    let ordering = match CompareTarget::try_from(compare.target) {
        Ok(CompareTarget::Value) => {
            let wanted = match union {
                Some(TargetUnion::Value(v)) => v.as_slice(),
                _ => &[],
            };
            kv.value.as_slice().cmp(wanted)
        }
        Ok(CompareTarget::Version) => kv.version.cmp(&number(|u| match u {
            TargetUnion::Version(v) => Some(*v),
            _ => None,
        })),
        Ok(CompareTarget::Create) => kv.create_revision.cmp(&number(|u| match u {
            TargetUnion::CreateRevision(v) => Some(*v),
            _ => None,
        })),
        Ok(CompareTarget::Mod) => kv.mod_revision.cmp(&number(|u| match u {
            TargetUnion::ModRevision(v) => Some(*v),
            _ => None,
        })),
        Ok(CompareTarget::Lease) => kv.lease.cmp(&number(|u| match u {
            TargetUnion::Lease(v) => Some(*v),
            _ => None,
        })),
        Err(_) => Ordering::Equal,
    };
    match CompareResult::try_from(compare.result) {
        Ok(CompareResult::Equal) => ordering == Ordering::Equal,
        Ok(CompareResult::NotEqual) => ordering != Ordering::Equal,
        Ok(CompareResult::Greater) => ordering == Ordering::Greater,
        Ok(CompareResult::Less) => ordering == Ordering::Less,
        Err(_) => true,
    }
}
