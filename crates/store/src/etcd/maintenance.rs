//! The Maintenance service: Status, HashKV, Hash, Alarm, Defragment. Snapshot and MoveLeader
//! are not offered yet and say so.

use kubesim_proto::etcdserverpb::alarm_request::AlarmAction;
use kubesim_proto::etcdserverpb::maintenance_server::Maintenance;
use kubesim_proto::etcdserverpb::{
    AlarmRequest, AlarmResponse, DefragmentRequest, DefragmentResponse, HashKvRequest,
    HashKvResponse, HashRequest, HashResponse, MoveLeaderRequest, MoveLeaderResponse,
    SnapshotRequest, SnapshotResponse, StatusRequest, StatusResponse,
};
use tonic::{Request, Response, Status};

use super::{current_header, header};
use crate::error::StoreError;
use crate::handle::{MemberStatus, StoreHandle};

/// The etcd version whose API kubesim serves, as Status reports it (`etcdctl endpoint
/// status`). Clients use it to know which calls exist.
pub const ETCD_API_VERSION: &str = "3.4.0";

/// etcd's error text in `Status.errors` when the member knows no leader.
const NO_LEADER: &str = "etcdserver: no leader";

/// Builds the Status response from what the member reports.
pub fn status_response(
    status: &MemberStatus,
    header: kubesim_proto::etcdserverpb::ResponseHeader,
) -> StatusResponse {
    let mut errors = vec![];
    if status.leader == 0 {
        errors.push(NO_LEADER.to_owned());
    }
    StatusResponse {
        header: Some(header),
        version: ETCD_API_VERSION.to_owned(),
        db_size: status.db_size,
        leader: status.leader,
        raft_index: status.raft_index,
        raft_term: status.raft_term,
        raft_applied_index: status.raft_applied_index,
        errors,
        db_size_in_use: status.db_size_in_use,
        is_learner: status.is_learner,
    }
}

pub struct MaintenanceService {
    /// The member reported on.
    handle: StoreHandle,
}

impl MaintenanceService {
    pub fn new(handle: StoreHandle) -> Self {
        MaintenanceService { handle }
    }

    fn hash_kv_response(&self, req: HashKvRequest) -> Result<HashKvResponse, StoreError> {
        let (hash, compact_revision, hash_revision) =
            self.handle.with_mvcc(|m| m.hash_kv(req.revision))?;
        Ok(HashKvResponse {
            // As etcd: the header's revision is the revision the hash covers.
            header: Some(header(&self.handle, hash_revision, self.handle.raft_term())),
            hash,
            compact_revision,
            hash_revision,
        })
    }

    /// etcd hashes its whole database file; kubesim has no such file, so Hash is the HashKV
    /// of the newest revision: equal on members holding equal state, which is what it is
    /// used to check.
    fn hash_response(&self) -> Result<HashResponse, StoreError> {
        let (hash, _, hash_revision) = self.handle.with_mvcc(|m| m.hash_kv(0))?;
        Ok(HashResponse {
            header: Some(header(&self.handle, hash_revision, self.handle.raft_term())),
            hash,
        })
    }

    /// kubesim raises no alarms (no space quota, no corruption check yet): listing and
    /// clearing answer "none"; raising one by hand is refused rather than ignored.
    fn alarm_response(&self, req: AlarmRequest) -> Result<AlarmResponse, StoreError> {
        match AlarmAction::try_from(req.action) {
            Ok(AlarmAction::Get | AlarmAction::Deactivate) => Ok(AlarmResponse {
                header: Some(current_header(&self.handle)),
                alarms: vec![],
            }),
            Ok(AlarmAction::Activate) => Err(StoreError::Unsupported(
                "raising alarms is not supported by kubesim".into(),
            )),
            Err(_) => Err(StoreError::InvalidArgument("unknown alarm action".into())),
        }
    }
}

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(
        &self,
        request: Request<AlarmRequest>,
    ) -> Result<Response<AlarmResponse>, Status> {
        Ok(Response::new(self.alarm_response(request.into_inner())?))
    }

    async fn status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let status = self.handle.status();
        let header = current_header(&self.handle);
        Ok(Response::new(status_response(&status, header)))
    }

    /// redb reuses freed pages by itself; there is nothing to compact on disk.
    async fn defragment(
        &self,
        _request: Request<DefragmentRequest>,
    ) -> Result<Response<DefragmentResponse>, Status> {
        Ok(Response::new(DefragmentResponse {
            header: Some(current_header(&self.handle)),
        }))
    }

    async fn hash(&self, _request: Request<HashRequest>) -> Result<Response<HashResponse>, Status> {
        Ok(Response::new(self.hash_response()?))
    }

    async fn hash_kv(
        &self,
        request: Request<HashKvRequest>,
    ) -> Result<Response<HashKvResponse>, Status> {
        Ok(Response::new(self.hash_kv_response(request.into_inner())?))
    }

    type SnapshotStream = futures::stream::Empty<Result<SnapshotResponse, Status>>;

    async fn snapshot(
        &self,
        _request: Request<SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        Err(StoreError::Unsupported("snapshot is not supported by kubesim yet".into()).into())
    }

    async fn move_leader(
        &self,
        _request: Request<MoveLeaderRequest>,
    ) -> Result<Response<MoveLeaderResponse>, Status> {
        Err(StoreError::Unsupported("move-leader is not supported by kubesim yet".into()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reports_the_member_and_a_missing_leader() {
        let member = MemberStatus {
            leader: 0,
            raft_index: 9,
            raft_term: 3,
            raft_applied_index: 8,
            db_size: 4096,
            db_size_in_use: 1000,
            is_learner: false,
        };
        let h = super::super::response_header(1, 2, 7, 3);
        let resp = status_response(&member, h);
        assert_eq!(resp.version, ETCD_API_VERSION);
        assert_eq!(resp.errors, vec![NO_LEADER.to_owned()]);
        assert_eq!(
            (resp.raft_index, resp.raft_applied_index, resp.db_size),
            (9, 8, 4096)
        );
        let with_leader = MemberStatus {
            leader: 5,
            ..member
        };
        let resp = status_response(&with_leader, h);
        assert!(resp.errors.is_empty());
        assert_eq!(resp.leader, 5);
    }
}
