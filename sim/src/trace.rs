//! [`Trace`]: what a client saw, in order, so that two runs of one seed can be compared.

use std::cell::RefCell;
use std::fmt::Display;
use std::rc::Rc;

/// The client-visible history of a run: one line per observation, stamped with simulated
/// time. Clonable into client futures; all clones share one history.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    events: Rc<RefCell<Vec<String>>>,
}

impl Trace {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one observation, stamped with the simulated time.
    pub fn record(&self, event: impl Display) {
        let elapsed = turmoil::sim_elapsed().unwrap_or_default();
        self.events
            .borrow_mut()
            .push(format!("{:>9.3}s {event}", elapsed.as_secs_f64()));
    }

    pub fn events(&self) -> Vec<String> {
        self.events.borrow().clone()
    }

    /// FNV-1a over every line: a short fingerprint to print and compare. Stable across
    /// processes and Rust versions, unlike `DefaultHasher`.
    pub fn hash(&self) -> u64 {
        hash_lines(self.events.borrow().iter())
    }
}

/// FNV-1a over `lines`, each followed by a newline.
pub fn hash_lines<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for line in lines {
        for byte in line.as_ref().bytes().chain(std::iter::once(b'\n')) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(PRIME);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_follows_content_and_order() {
        let (a, b, c) = (Trace::new(), Trace::new(), Trace::new());
        a.record("put x");
        a.record("get x");
        b.record("put x");
        b.record("get x");
        c.record("get x");
        c.record("put x");
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
        assert_ne!(a.hash(), Trace::new().hash());
    }
}
