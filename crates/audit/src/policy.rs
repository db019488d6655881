//! kube's audit Policy (`audit.k8s.io/v1`), from `--audit-policy-file`.
//!
//! CONTRACT (the lead's skeleton; the policy helper fills it in).

use crate::event::{Level, Stage};

/// A parsed Policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {}

/// What the policy says of one request: its level and the stages not to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAuditConfig {
    pub level: Level,
    pub omit_stages: Vec<Stage>,
    /// The policy's `omitManagedFields` (or the rule's): drop `metadata.managedFields`
    /// from request and response objects.
    pub omit_managed_fields: bool,
}
