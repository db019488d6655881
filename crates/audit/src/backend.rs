//! Where events go. A backend takes events without blocking the request that made them:
//! each has a bounded buffer, and an event that does not fit is dropped and counted (kube's
//! `apiserver_audit_error_total{plugin}`).

pub mod log;
pub mod webhook;

use std::sync::Arc;

use crate::event::Event;

pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Takes the events, or drops and counts those that do not fit; never waits.
    fn process_events(&self, events: &[Arc<Event>]);
    /// kube's plugin name: `log`, `webhook`.
    fn name(&self) -> &'static str;
    /// Events dropped since the start (buffer full, or failed to be written or sent).
    fn dropped(&self) -> u64;
}

/// Several backends as one: every event goes to each.
#[derive(Debug, Default)]
pub struct Union {
    pub backends: Vec<Arc<dyn Backend>>,
}

impl Union {
    pub fn process_events(&self, events: &[Arc<Event>]) {
        for backend in &self.backends {
            backend.process_events(events);
        }
    }
}
