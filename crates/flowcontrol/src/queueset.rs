//! One limited priority level: its queues, its seats, fair queuing among the queues.
//!
//! CONTRACT (the lead's skeleton; the queueing helper fills it in).
