//! STUB: replaced by the helper that owns this file.

use std::sync::Arc;

use crate::{Attributes, ClusterState, Plugin};

pub struct NamespaceLifecycle {
    #[allow(dead_code)]
    state: Arc<dyn ClusterState>,
}

impl NamespaceLifecycle {
    pub fn new(state: Arc<dyn ClusterState>) -> NamespaceLifecycle {
        NamespaceLifecycle { state }
    }
}

impl Plugin for NamespaceLifecycle {
    fn name(&self) -> &'static str {
        super::NAMESPACE_LIFECYCLE
    }

    fn handles(&self, _attrs: &Attributes) -> bool {
        false
    }
}
