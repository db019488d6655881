//! Shuffle sharding: a flow's hand of queues (kube's `shufflesharding.Dealer`).
//!
//! CONTRACT (the lead's skeleton; the queueing helper fills it in).
