//! Checks on client requests that are the service's own. etcd's request checks (empty key,
//! sort options, txn op counts, duplicate keys in a txn) live in `kubesim_mvcc::check`, which
//! `Mvcc::apply` runs again; the services call them on arrival so a bad request is refused
//! before it costs a proposal or a read barrier.

use kubesim_proto::etcdserverpb::TxnRequest;
use kubesim_proto::etcdserverpb::request_op::Request;

use crate::error::StoreError;

/// Rejects a request whose encoded size is over `--max-request-bytes`, with etcd's error
/// (etcd checks the size of what it would put in the Raft log).
pub fn check_size(msg: &impl prost::Message, max_request_bytes: usize) -> Result<(), StoreError> {
    if msg.encoded_len() > max_request_bytes {
        return Err(StoreError::RequestTooLarge);
    }
    Ok(())
}

/// A read-only Txn may skip the read barrier only when every range asks for a serializable
/// read. Unlike etcd, a txn with no ops at all is not serializable: its compares alone are
/// an answer, and a stale one would break linearizability.
pub fn is_txn_serializable(req: &TxnRequest) -> bool {
    let mut ops = req.success.iter().chain(&req.failure).peekable();
    ops.peek().is_some()
        && ops.all(|op| matches!(&op.request, Some(Request::RequestRange(r)) if r.serializable))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubesim_proto::etcdserverpb::{PutRequest, RangeRequest, RequestOp};

    fn put(key: &str) -> RequestOp {
        RequestOp {
            request: Some(Request::RequestPut(PutRequest {
                key: key.into(),
                ..Default::default()
            })),
        }
    }

    fn get(key: &str, serializable: bool) -> RequestOp {
        RequestOp {
            request: Some(Request::RequestRange(RangeRequest {
                key: key.into(),
                serializable,
                ..Default::default()
            })),
        }
    }

    fn txn(success: Vec<RequestOp>, failure: Vec<RequestOp>) -> TxnRequest {
        TxnRequest {
            compare: vec![],
            success,
            failure,
        }
    }

    #[test]
    fn only_all_serializable_ranges_skip_the_barrier() {
        assert!(is_txn_serializable(&txn(
            vec![get("a", true)],
            vec![get("b", true)]
        )));
        assert!(!is_txn_serializable(&txn(
            vec![get("a", true)],
            vec![get("b", false)]
        )));
        assert!(!is_txn_serializable(&txn(
            vec![get("a", true)],
            vec![put("b")]
        )));
        // No ops at all: the compares are the answer, and must not be stale.
        assert!(!is_txn_serializable(&txn(vec![], vec![])));
    }

    #[test]
    fn size_limit_uses_the_encoded_request() {
        let p = PutRequest {
            key: b"k".to_vec(),
            value: vec![0; 100],
            ..Default::default()
        };
        assert_eq!(check_size(&p, 200), Ok(()));
        assert_eq!(check_size(&p, 50), Err(StoreError::RequestTooLarge));
        let err = tonic::Status::from(check_size(&p, 50).unwrap_err());
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert_eq!(err.message(), "etcdserver: request is too large");
    }
}
