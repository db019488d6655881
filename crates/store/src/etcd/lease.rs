//! The Lease service: Grant, Revoke, KeepAlive (a stream), TimeToLive, Leases.
//!
//! Grants and revokes go through Raft so every member holds the same lease table. Expiry is
//! time, which only the leader keeps: keep-alives and remaining TTLs are asked of the leader
//! through the handle.

use kubesim_mvcc::{Command, CommandResponse, MvccError};
use kubesim_proto::etcdserverpb::lease_server::Lease;
use kubesim_proto::etcdserverpb::{
    LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse,
    LeaseLeasesRequest, LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse, LeaseStatus,
    LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{current_header, header, validate};
use crate::config::Limits;
use crate::error::StoreError;
use crate::handle::StoreHandle;

/// The shortest TTL granted: etcd raises shorter ones to ceil(1.5 x election timeout), so a
/// lease outlives a leader election. 2 s for the default 1 s election timeout.
pub const MIN_LEASE_TTL_SECONDS: i64 = 2;

/// The longest TTL etcd accepts (`lease.MaxLeaseTTL`).
pub const MAX_LEASE_TTL_SECONDS: i64 = 9_000_000_000;

/// Keep-alive responses queued per stream before the stream waits for its client.
pub const KEEP_ALIVE_QUEUE: usize = 16;

/// The TTL etcd grants for a requested one: too large is an error, too short is raised.
pub fn granted_ttl(requested_seconds: i64) -> Result<i64, StoreError> {
    if requested_seconds > MAX_LEASE_TTL_SECONDS {
        return Err(StoreError::LeaseTtlTooLarge);
    }
    Ok(requested_seconds.max(MIN_LEASE_TTL_SECONDS))
}

/// A keep-alive answer: the renewed TTL, or 0 for a lease that does not exist (any more),
/// as etcd answers. Other errors (no leader, ...) end the stream.
pub fn keep_alive_ttl(renewed: Result<i64, StoreError>) -> Result<i64, StoreError> {
    match renewed {
        Err(StoreError::Mvcc(MvccError::LeaseNotFound { .. })) => Ok(0),
        other => other,
    }
}

pub struct LeaseService {
    /// The member the calls go through.
    handle: StoreHandle,
    /// `--max-request-bytes`.
    limits: Limits,
    /// Becomes true when the server shuts down: keep-alive streams then end.
    stop: watch::Receiver<bool>,
}

impl LeaseService {
    pub fn new(handle: StoreHandle, limits: Limits, stop: watch::Receiver<bool>) -> Self {
        LeaseService {
            handle,
            limits,
            stop,
        }
    }

    async fn grant(&self, req: LeaseGrantRequest) -> Result<LeaseGrantResponse, StoreError> {
        validate::check_size(&req, self.limits.max_request_bytes)?;
        let ttl_seconds = granted_ttl(req.ttl)?;
        // The ID is chosen here, before proposing, so that every member grants the same one.
        let id = if req.id == 0 {
            self.handle.new_lease_id()
        } else {
            req.id
        };
        let proposed = self
            .handle
            .propose(Command::LeaseGrant { id, ttl_seconds })
            .await?;
        let CommandResponse::LeaseGrant(mut resp) = proposed.response else {
            return Err(unexpected("LeaseGrant"));
        };
        resp.header = Some(header(&self.handle, proposed.revision, proposed.raft_term));
        Ok(resp)
    }

    async fn revoke(&self, req: LeaseRevokeRequest) -> Result<LeaseRevokeResponse, StoreError> {
        validate::check_size(&req, self.limits.max_request_bytes)?;
        let proposed = self
            .handle
            .propose(Command::LeaseRevoke { id: req.id })
            .await?;
        let CommandResponse::LeaseRevoke(mut resp) = proposed.response else {
            return Err(unexpected("LeaseRevoke"));
        };
        resp.header = Some(header(&self.handle, proposed.revision, proposed.raft_term));
        Ok(resp)
    }

    async fn time_to_live(
        &self,
        req: LeaseTimeToLiveRequest,
    ) -> Result<LeaseTimeToLiveResponse, StoreError> {
        let (ttl, granted_ttl) = match self.handle.lease_time_to_live(req.id).await {
            Ok(ttls) => ttls,
            // etcd answers an unknown or expired lease with TTL -1, not an error.
            Err(StoreError::Mvcc(MvccError::LeaseNotFound { .. })) => {
                return Ok(LeaseTimeToLiveResponse {
                    header: Some(current_header(&self.handle)),
                    id: req.id,
                    ttl: -1,
                    ..Default::default()
                });
            }
            Err(e) => return Err(e),
        };
        let mut keys = vec![];
        if req.keys {
            // The attached keys are replicated state: read them linearizably.
            self.handle.read_barrier().await?;
            keys = self.handle.with_mvcc(|m| {
                m.lease(req.id)
                    .map(|lease| lease.keys.iter().cloned().collect())
                    .unwrap_or_default()
            });
        }
        Ok(LeaseTimeToLiveResponse {
            header: Some(current_header(&self.handle)),
            id: req.id,
            ttl,
            granted_ttl,
            keys,
        })
    }

    /// Every lease, read linearizably (etcd reads its local lessor; the barrier costs one
    /// round trip and keeps a just-granted lease from being missing).
    async fn leases(&self) -> Result<LeaseLeasesResponse, StoreError> {
        self.handle.read_barrier().await?;
        let leases = self.handle.with_mvcc(|m| {
            m.leases()
                .map(|lease| LeaseStatus { id: lease.id })
                .collect()
        });
        Ok(LeaseLeasesResponse {
            header: Some(current_header(&self.handle)),
            leases,
        })
    }
}

/// The state machine answered with a response of another kind: a bug.
fn unexpected(command: &str) -> StoreError {
    StoreError::Internal(format!(
        "{command} was answered with another command's response"
    ))
}

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn lease_grant(
        &self,
        request: Request<LeaseGrantRequest>,
    ) -> Result<Response<LeaseGrantResponse>, Status> {
        Ok(Response::new(self.grant(request.into_inner()).await?))
    }

    async fn lease_revoke(
        &self,
        request: Request<LeaseRevokeRequest>,
    ) -> Result<Response<LeaseRevokeResponse>, Status> {
        Ok(Response::new(self.revoke(request.into_inner()).await?))
    }

    type LeaseKeepAliveStream = ReceiverStream<Result<LeaseKeepAliveResponse, Status>>;

    async fn lease_keep_alive(
        &self,
        request: Request<Streaming<LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let (tx, rx) = mpsc::channel(KEEP_ALIVE_QUEUE);
        let stream = KeepAliveStream {
            handle: self.handle.clone(),
            tx,
            stop: self.stop.clone(),
        };
        tokio::spawn(stream.run(request.into_inner()));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        Ok(Response::new(
            self.time_to_live(request.into_inner()).await?,
        ))
    }

    async fn lease_leases(
        &self,
        _request: Request<LeaseLeasesRequest>,
    ) -> Result<Response<LeaseLeasesResponse>, Status> {
        Ok(Response::new(self.leases().await?))
    }
}

/// The task behind one keep-alive stream: one renewal per request, answered in order. It
/// handles one request at a time, so a client that floods it is slowed to that pace.
struct KeepAliveStream {
    handle: StoreHandle,
    /// The bounded queue of responses to the client.
    tx: mpsc::Sender<Result<LeaseKeepAliveResponse, Status>>,
    /// Server shutdown: ends the stream.
    stop: watch::Receiver<bool>,
}

impl KeepAliveStream {
    async fn run(self, mut inbound: Streaming<LeaseKeepAliveRequest>) {
        let mut stop = self.stop.clone();
        loop {
            let answer = tokio::select! {
                biased;
                _ = super::stopped(&mut stop) => Err(StoreError::Stopped.into()),
                _ = self.tx.closed() => return,
                msg = inbound.message() => match msg {
                    Ok(Some(req)) => self.renew(req.id).await.map_err(Status::from),
                    Ok(None) | Err(_) => return,
                },
            };
            let failed = answer.is_err();
            tokio::select! {
                biased;
                _ = super::stopped(&mut stop) => return,
                sent = self.tx.send(answer) => if sent.is_err() { return },
            }
            if failed {
                return;
            }
        }
    }

    async fn renew(&self, id: i64) -> Result<LeaseKeepAliveResponse, StoreError> {
        let ttl = keep_alive_ttl(self.handle.lease_keep_alive(id).await)?;
        Ok(LeaseKeepAliveResponse {
            header: Some(current_header(&self.handle)),
            id,
            ttl,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ttls_are_raised_and_huge_ones_refused() {
        assert_eq!(granted_ttl(0), Ok(MIN_LEASE_TTL_SECONDS));
        assert_eq!(granted_ttl(-5), Ok(MIN_LEASE_TTL_SECONDS));
        assert_eq!(granted_ttl(1), Ok(MIN_LEASE_TTL_SECONDS));
        assert_eq!(granted_ttl(60), Ok(60));
        assert_eq!(
            granted_ttl(MAX_LEASE_TTL_SECONDS),
            Ok(MAX_LEASE_TTL_SECONDS)
        );
        let err = Status::from(granted_ttl(MAX_LEASE_TTL_SECONDS + 1).unwrap_err());
        assert_eq!(err.code(), tonic::Code::OutOfRange);
        assert_eq!(err.message(), "etcdserver: too large lease TTL");
    }

    #[test]
    fn keep_alive_of_an_unknown_lease_is_ttl_zero() {
        assert_eq!(keep_alive_ttl(Ok(30)), Ok(30));
        assert_eq!(
            keep_alive_ttl(Err(StoreError::Mvcc(MvccError::LeaseNotFound { id: 7 }))),
            Ok(0)
        );
        assert_eq!(
            keep_alive_ttl(Err(StoreError::NoLeader)),
            Err(StoreError::NoLeader)
        );
    }
}
