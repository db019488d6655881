//! The webhook backend: EventLists POSTed in batches.
//!
//! CONTRACT (the lead's skeleton; the webhook helper fills it in).
