//! Leases: a key attached to a lease that nobody kept alive is deleted when the lease
//! expires. The workload never keeps a lease alive, and the final state is read only once
//! every lease is gone, so every acknowledged leased put must be followed, in the members'
//! history, by the deletion of its key, and no leased key may remain.

use super::reference::{KeyAt, Reference};
use super::{Property, Violation};
use crate::history::{History, Op, Outcome};

const CHECKER: &str = "leases";

pub fn check(history: &History) -> Vec<Violation> {
    let Some(reference) = Reference::of(history) else {
        return Vec::new();
    };
    let current = reference.current_revision;
    for call in &history.calls {
        let (Op::Put { key, lease, .. }, Outcome::Put { revision }) = (&call.op, &call.outcome)
        else {
            continue;
        };
        if *lease == 0 || !reference.covers(*revision) {
            continue;
        }
        if let KeyAt::Live(kv) = reference.state_at(key, current) {
            return vec![Violation {
                property: Property::Leases,
                checker: CHECKER,
                message: format!(
                    "{key} outlived its lease {lease:x}: every lease had expired, yet it is still there"
                ),
                excerpt: vec![call.to_string(), format!("at revision {current}: {kv}")],
            }];
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::super::reference::testkit::{Store, call};
    use super::*;

    #[test]
    fn expired_lease_keys_must_be_gone() {
        let mut store = Store::new();
        let put = store.put("lease/1-1", "c1-1");
        let put_op = Op::Put {
            key: "lease/1-1".into(),
            value: "c1-1".into(),
            lease: 7,
        };
        let mut kept = store.history();
        call(
            &mut kept,
            put_op.clone(),
            Outcome::Put { revision: put },
            0,
            10,
        );
        let found = check(&kept);
        assert!(found[0].message.contains("outlived"), "{found:?}");

        store.delete("lease/1-1");
        let mut expired = store.history();
        call(&mut expired, put_op, Outcome::Put { revision: put }, 0, 10);
        assert_eq!(check(&expired), vec![]);
    }
}
