//! Starting and stopping one store member. (Skeleton: the raft side fills this in.)

use kubesim_net::Env;

use crate::config::StoreConfig;
use crate::handle::StoreHandle;

/// State shared by every clone of a [`StoreHandle`].
pub struct NodeInner {}

/// A running member: its handle, and what is needed to stop it.
pub struct StoreNode {
    pub handle: StoreHandle,
}

impl StoreNode {
    /// Opens the member's databases through `env.disk`, starts Raft, binds the peer and client
    /// listeners through `env.net`, and bootstraps or joins the cluster as configured.
    pub async fn start(_env: Env, _config: StoreConfig) -> anyhow_free::Result<StoreNode> {
        todo!()
    }

    /// Stops serving and shuts Raft down cleanly.
    pub async fn shutdown(self) {
        todo!()
    }
}

mod anyhow_free {
    pub type Result<T> = std::result::Result<T, crate::error::StoreError>;
}
