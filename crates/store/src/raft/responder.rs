//! [`TimedResponder`]: openraft's responder of a client write, plus the proposal's timer, so
//! the leader learns when its proposal commits and when it is applied (openraft calls
//! `on_commit`, then `on_complete`) without anything more on the write path than an instant
//! and two histogram observations.

use openraft::OptionalSend;
use openraft::impls::ProgressResponder;
use openraft::raft::responder::Responder;

use super::{LogId, TypeConfig};
use crate::metrics::ProposalTimer;

/// The type config's `Responder<T>`: a [`ProgressResponder`] that only reports completion (as
/// `Raft::client_write`'s own does), and the timer of the proposal it answers.
pub struct TimedResponder<T: OptionalSend + 'static> {
    inner: ProgressResponder<TypeConfig, T>,
    timer: ProposalTimer,
}

/// Where the result of a write proposed with a [`TimedResponder`] arrives.
pub(crate) type Completion<T> = openraft::alias::OneshotReceiverOf<TypeConfig, T>;

impl<T: OptionalSend + 'static> TimedResponder<T> {
    pub(crate) fn new(timer: ProposalTimer) -> (TimedResponder<T>, Completion<T>) {
        let (inner, completion) = ProgressResponder::complete_only();
        (TimedResponder { inner, timer }, completion)
    }
}

impl<T: OptionalSend + 'static> Responder<TypeConfig, T> for TimedResponder<T> {
    fn on_commit(&mut self, log_id: LogId) {
        self.timer.committed();
        self.inner.on_commit(log_id);
    }

    fn on_complete(self, result: T) {
        self.timer.completed();
        self.inner.on_complete(result);
    }
}
