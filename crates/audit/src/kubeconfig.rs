//! The audit webhook's kubeconfig (`--audit-webhook-config-file`).
//!
//! CONTRACT (the lead's skeleton; the webhook helper fills it in).
