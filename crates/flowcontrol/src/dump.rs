//! The text of kube's `/debug/api_priority_and_fairness/dump_priority_levels`,
//! `dump_queues` and `dump_requests`.
//!
//! CONTRACT (the lead's skeleton; the queueing helper fills it in): functions of
//! [`crate::Controller`]'s state, each returning the whole text kube answers.
