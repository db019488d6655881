//! STUB: replaced by the helper that owns this file.

use std::sync::Arc;

use crate::{Attributes, ClusterState, Plugin};

pub struct ServiceAccount {
    #[allow(dead_code)]
    state: Arc<dyn ClusterState>,
}

impl ServiceAccount {
    pub fn new(state: Arc<dyn ClusterState>) -> ServiceAccount {
        ServiceAccount { state }
    }
}

impl Plugin for ServiceAccount {
    fn name(&self) -> &'static str {
        super::SERVICE_ACCOUNT
    }

    fn handles(&self, _attrs: &Attributes) -> bool {
        false
    }
}
