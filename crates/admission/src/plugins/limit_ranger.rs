//! STUB: replaced by the helper that owns this file.

use std::sync::Arc;

use crate::{Attributes, ClusterState, Plugin};

pub struct LimitRanger {
    #[allow(dead_code)]
    state: Arc<dyn ClusterState>,
}

impl LimitRanger {
    pub fn new(state: Arc<dyn ClusterState>) -> LimitRanger {
        LimitRanger { state }
    }
}

impl Plugin for LimitRanger {
    fn name(&self) -> &'static str {
        super::LIMIT_RANGER
    }

    fn handles(&self, _attrs: &Attributes) -> bool {
        false
    }
}
