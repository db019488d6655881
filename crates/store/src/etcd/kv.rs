//! The KV service: Range, Put, DeleteRange, Txn, Compact.
//!
//! Writes go through Raft (`StoreHandle::propose`). Reads are linearizable by default: a read
//! barrier (ReadIndex) first, then the local MVCC state; a serializable read skips the
//! barrier (RELIABILITY.md property 1). A Txn of Ranges only is a read, served the same way
//! by `Mvcc::read_txn`, the same code that applies a Txn, so both answer alike.

use kubesim_mvcc::{Command, CommandResponse};
use kubesim_proto::etcdserverpb::kv_server::Kv;
use kubesim_proto::etcdserverpb::response_op::Response as OpResponse;
use kubesim_proto::etcdserverpb::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, ResponseHeader, TxnRequest, TxnResponse,
};
use tonic::{Request, Response, Status};

use super::{header, validate};
use crate::config::Limits;
use crate::error::StoreError;
use crate::handle::{Proposed, StoreHandle};
use crate::planted::PlantedBug;

pub struct KvService {
    /// The member whose state is read and through which writes are proposed.
    handle: StoreHandle,
    /// `--max-request-bytes` and `--max-txn-ops`.
    limits: Limits,
}

impl KvService {
    pub fn new(handle: StoreHandle, limits: Limits) -> Self {
        KvService { handle, limits }
    }

    async fn serve_range(&self, req: RangeRequest) -> Result<RangeResponse, StoreError> {
        kubesim_mvcc::check_range(&req)?;
        if !req.serializable {
            self.linearizable_barrier().await?;
        }
        let (resp, revision) = self
            .handle
            .with_mvcc(|m| (m.range(&req), m.current_revision()));
        let mut resp = resp?;
        resp.header = Some(header(&self.handle, revision, self.handle.raft_term()));
        Ok(resp)
    }

    async fn serve_put(&self, req: PutRequest) -> Result<PutResponse, StoreError> {
        kubesim_mvcc::check_put(&req)?;
        validate::check_size(&req, self.limits.max_request_bytes)?;
        let proposed = self.handle.propose(Command::Put(req)).await?;
        let header = self.header_of(&proposed);
        let CommandResponse::Put(mut resp) = proposed.response else {
            return Err(unexpected("Put"));
        };
        resp.header = Some(header);
        Ok(resp)
    }

    async fn serve_delete_range(
        &self,
        req: DeleteRangeRequest,
    ) -> Result<DeleteRangeResponse, StoreError> {
        kubesim_mvcc::check_delete_range(&req)?;
        validate::check_size(&req, self.limits.max_request_bytes)?;
        let proposed = self.handle.propose(Command::DeleteRange(req)).await?;
        let header = self.header_of(&proposed);
        let CommandResponse::DeleteRange(mut resp) = proposed.response else {
            return Err(unexpected("DeleteRange"));
        };
        resp.header = Some(header);
        Ok(resp)
    }

    async fn serve_txn(&self, req: TxnRequest) -> Result<TxnResponse, StoreError> {
        kubesim_mvcc::check_txn(&req, self.limits.max_txn_ops)?;
        validate::check_size(&req, self.limits.max_request_bytes)?;
        if kubesim_mvcc::is_read_only_txn(&req) {
            return self.read_only_txn(req).await;
        }
        let proposed = self.handle.propose(Command::Txn(req)).await?;
        let header = self.header_of(&proposed);
        let CommandResponse::Txn(mut resp) = proposed.response else {
            return Err(unexpected("Txn"));
        };
        fill_txn_headers(&mut resp, header);
        Ok(resp)
    }

    /// A Txn of Ranges changes nothing, so it is not logged: barrier (unless every range is
    /// serializable), then compares and ranges on one consistent local state.
    async fn read_only_txn(&self, req: TxnRequest) -> Result<TxnResponse, StoreError> {
        if !validate::is_txn_serializable(&req) {
            self.linearizable_barrier().await?;
        }
        let (resp, revision) = self
            .handle
            .with_mvcc(|m| (m.read_txn(&req), m.current_revision()));
        let mut resp = resp?;
        fill_txn_headers(
            &mut resp,
            header(&self.handle, revision, self.handle.raft_term()),
        );
        Ok(resp)
    }

    /// Waits until this member has applied everything committed before the read began.
    /// Under the planted bug `LocalLinearizableRead` (test-only) it does not wait: the read
    /// is served from the local state, stale on a lagging follower.
    async fn linearizable_barrier(&self) -> Result<(), StoreError> {
        if self
            .handle
            .inner
            .planted_bug
            .is(PlantedBug::LocalLinearizableRead)
        {
            return Ok(());
        }
        self.handle.read_barrier().await
    }

    async fn serve_compact(
        &self,
        req: CompactionRequest,
    ) -> Result<CompactionResponse, StoreError> {
        validate::check_size(&req, self.limits.max_request_bytes)?;
        let proposed = self.handle.propose(Command::Compact(req)).await?;
        let header = self.header_of(&proposed);
        let CommandResponse::Compact(mut resp) = proposed.response else {
            return Err(unexpected("Compact"));
        };
        resp.header = Some(header);
        Ok(resp)
    }

    fn header_of(&self, proposed: &Proposed) -> ResponseHeader {
        header(&self.handle, proposed.revision, proposed.raft_term)
    }
}

/// Puts `header` on a Txn response and on every response inside it, nested ones included.
pub fn fill_txn_headers(resp: &mut TxnResponse, header: ResponseHeader) {
    resp.header = Some(header);
    for op in &mut resp.responses {
        match &mut op.response {
            Some(OpResponse::ResponseRange(r)) => r.header = Some(header),
            Some(OpResponse::ResponsePut(r)) => r.header = Some(header),
            Some(OpResponse::ResponseDeleteRange(r)) => r.header = Some(header),
            Some(OpResponse::ResponseTxn(t)) => fill_txn_headers(t, header),
            None => {}
        }
    }
}

/// The state machine answered a command with a response of another kind: a bug, not
/// something a client can cause.
fn unexpected(command: &str) -> StoreError {
    StoreError::Internal(format!(
        "{command} was answered with another command's response"
    ))
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(
        &self,
        request: Request<RangeRequest>,
    ) -> Result<Response<RangeResponse>, Status> {
        Ok(Response::new(self.serve_range(request.into_inner()).await?))
    }

    async fn put(&self, request: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        Ok(Response::new(self.serve_put(request.into_inner()).await?))
    }

    async fn delete_range(
        &self,
        request: Request<DeleteRangeRequest>,
    ) -> Result<Response<DeleteRangeResponse>, Status> {
        Ok(Response::new(
            self.serve_delete_range(request.into_inner()).await?,
        ))
    }

    async fn txn(&self, request: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        Ok(Response::new(self.serve_txn(request.into_inner()).await?))
    }

    async fn compact(
        &self,
        request: Request<CompactionRequest>,
    ) -> Result<Response<CompactionResponse>, Status> {
        Ok(Response::new(
            self.serve_compact(request.into_inner()).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubesim_proto::etcdserverpb::ResponseOp;

    #[test]
    fn headers_reach_nested_responses() {
        let inner = TxnResponse {
            header: None,
            succeeded: true,
            responses: vec![ResponseOp {
                response: Some(OpResponse::ResponsePut(PutResponse::default())),
            }],
        };
        let mut outer = TxnResponse {
            header: None,
            succeeded: true,
            responses: vec![
                ResponseOp {
                    response: Some(OpResponse::ResponseRange(RangeResponse::default())),
                },
                ResponseOp {
                    response: Some(OpResponse::ResponseTxn(inner)),
                },
            ],
        };
        let h = super::super::response_header(1, 2, 3, 4);
        fill_txn_headers(&mut outer, h);
        assert_eq!(outer.header, Some(h));
        let Some(OpResponse::ResponseRange(range)) = &outer.responses[0].response else {
            panic!("range response lost");
        };
        assert_eq!(range.header, Some(h));
        let Some(OpResponse::ResponseTxn(inner)) = &outer.responses[1].response else {
            panic!("nested txn response lost");
        };
        assert_eq!(inner.header, Some(h));
        let Some(OpResponse::ResponsePut(put)) = &inner.responses[0].response else {
            panic!("nested put response lost");
        };
        assert_eq!(put.header, Some(h));
    }
}
