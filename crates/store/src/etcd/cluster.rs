//! The Cluster service: membership (list, add, remove, promote). Changes go through Raft
//! via the handle; this file checks what a client sends.

use kubesim_proto::etcdserverpb::cluster_server::Cluster;
use kubesim_proto::etcdserverpb::{
    MemberAddRequest, MemberAddResponse, MemberListRequest, MemberListResponse,
    MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest, MemberRemoveResponse,
    MemberUpdateRequest, MemberUpdateResponse,
};
use tonic::{Request, Response, Status};

use super::current_header;
use crate::error::StoreError;
use crate::handle::StoreHandle;

/// etcd's answer to peer URLs it cannot use (`ErrGRPCMemberBadURLs`).
fn bad_urls() -> StoreError {
    StoreError::InvalidArgument("given member URLs are invalid".into())
}

/// etcd's `types.NewURLs` rules, for the only scheme served: at least one URL, each
/// `http://host:port` with a real port and no path.
pub fn check_peer_urls(urls: &[String]) -> Result<(), StoreError> {
    if urls.is_empty() {
        return Err(bad_urls());
    }
    for url in urls {
        check_peer_url(url.trim())?;
    }
    Ok(())
}

fn check_peer_url(url: &str) -> Result<(), StoreError> {
    let authority = url.strip_prefix("http://").ok_or_else(bad_urls)?;
    if authority.contains(['/', '?', '#', '@']) {
        return Err(bad_urls());
    }
    let (host, port) = authority.rsplit_once(':').ok_or_else(bad_urls)?;
    let port_ok = port.parse::<u16>().is_ok_and(|p| p != 0);
    if host.is_empty() || !port_ok {
        return Err(bad_urls());
    }
    Ok(())
}

pub struct ClusterService {
    /// The member the calls go through.
    handle: StoreHandle,
}

impl ClusterService {
    pub fn new(handle: StoreHandle) -> Self {
        ClusterService { handle }
    }

    async fn list(&self, req: MemberListRequest) -> Result<MemberListResponse, StoreError> {
        if req.linearizable {
            self.handle.read_barrier().await?;
        }
        let members = self.handle.member_list().await?;
        Ok(MemberListResponse {
            header: Some(current_header(&self.handle)),
            members,
        })
    }

    async fn add(&self, req: MemberAddRequest) -> Result<MemberAddResponse, StoreError> {
        check_peer_urls(&req.peer_ur_ls)?;
        let urls = req.peer_ur_ls.iter().map(|u| u.trim().to_owned()).collect();
        let (member, members) = self.handle.member_add(urls, req.is_learner).await?;
        Ok(MemberAddResponse {
            header: Some(current_header(&self.handle)),
            member: Some(member),
            members,
        })
    }

    async fn remove(&self, req: MemberRemoveRequest) -> Result<MemberRemoveResponse, StoreError> {
        let members = self.handle.member_remove(req.id).await?;
        Ok(MemberRemoveResponse {
            header: Some(current_header(&self.handle)),
            members,
        })
    }

    async fn promote(
        &self,
        req: MemberPromoteRequest,
    ) -> Result<MemberPromoteResponse, StoreError> {
        let members = self.handle.member_promote(req.id).await?;
        Ok(MemberPromoteResponse {
            header: Some(current_header(&self.handle)),
            members,
        })
    }
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        request: Request<MemberAddRequest>,
    ) -> Result<Response<MemberAddResponse>, Status> {
        Ok(Response::new(self.add(request.into_inner()).await?))
    }

    async fn member_remove(
        &self,
        request: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        Ok(Response::new(self.remove(request.into_inner()).await?))
    }

    async fn member_update(
        &self,
        _request: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        // Changing a member's peer URLs needs the peer network to re-dial it: not built yet.
        Err(StoreError::Unsupported("member update is not supported by kubesim".into()).into())
    }

    async fn member_list(
        &self,
        request: Request<MemberListRequest>,
    ) -> Result<Response<MemberListResponse>, Status> {
        Ok(Response::new(self.list(request.into_inner()).await?))
    }

    async fn member_promote(
        &self,
        request: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        Ok(Response::new(self.promote(request.into_inner()).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn good_peer_urls_pass() {
        let ok = urls(&[
            "http://10.0.0.1:2380",
            " http://store-2:2380 ",
            "http://[::1]:2380",
        ]);
        assert_eq!(check_peer_urls(&ok), Ok(()));
    }

    #[test]
    fn bad_peer_urls_get_etcds_error() {
        for bad in [
            "",
            "10.0.0.1:2380",
            "https://10.0.0.1:2380",
            "http://10.0.0.1",
            "http://10.0.0.1:",
            "http://10.0.0.1:0",
            "http://10.0.0.1:99999",
            "http://:2380",
            "http://10.0.0.1:2380/path",
            "http://user@10.0.0.1:2380",
        ] {
            let err = check_peer_urls(&urls(&[bad])).map_err(Status::from);
            let err = err.expect_err(bad);
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{bad}");
            assert_eq!(err.message(), "etcdserver: given member URLs are invalid");
        }
        assert!(check_peer_urls(&[]).is_err());
    }
}
