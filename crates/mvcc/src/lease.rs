//! The lease table (etcd's `lease/lessor`, minus time): which leases exist, their granted TTL,
//! and which keys are attached to each. When a lease expires is not decided here: the leader's
//! lessor proposes [`crate::Command::LeaseRevoke`] and every member applies it the same way.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::MvccError;

/// One granted lease as every member records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub id: i64,
    /// The TTL granted, in seconds.
    pub ttl_seconds: i64,
    /// Keys attached to the lease, sorted.
    pub keys: BTreeSet<Vec<u8>>,
}

/// Every granted, not yet revoked lease.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Leases {
    /// By ID; a BTreeMap so listing order is the same on every member.
    by_id: BTreeMap<i64, Lease>,
}

impl Leases {
    pub fn get(&self, id: i64) -> Option<&Lease> {
        self.by_id.get(&id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Lease> {
        self.by_id.values()
    }

    /// Grants lease `id`. IDs are chosen before proposing (0 means "none" in etcd, so it
    /// cannot name a lease); the TTL is stored as given (the minimum TTL is the service's job).
    pub fn grant(&mut self, id: i64, ttl_seconds: i64) -> Result<&Lease, MvccError> {
        if id <= 0 {
            return Err(MvccError::InvalidArgument(format!(
                "lease ID must be positive, got {id}"
            )));
        }
        if self.by_id.contains_key(&id) {
            return Err(MvccError::LeaseExists { id });
        }
        let lease = Lease {
            id,
            ttl_seconds,
            keys: BTreeSet::new(),
        };
        Ok(self.by_id.entry(id).or_insert(lease))
    }

    /// Removes the lease and hands back its keys, so the caller can delete them.
    pub fn remove(&mut self, id: i64) -> Option<Lease> {
        self.by_id.remove(&id)
    }

    /// Moves `key` from lease `from` to lease `to` (0 = no lease), as a put does.
    pub fn move_key(&mut self, key: &[u8], from: i64, to: i64) {
        if from == to {
            return;
        }
        self.detach(from, key);
        if let Some(lease) = self.by_id.get_mut(&to) {
            lease.keys.insert(key.to_vec());
        }
    }

    /// Detaches `key` from lease `id`; nothing to do if the key has no lease (0) or the lease
    /// is being revoked (already removed from the table).
    pub fn detach(&mut self, id: i64, key: &[u8]) {
        if let Some(lease) = self.by_id.get_mut(&id) {
            lease.keys.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_rejects_bad_and_duplicate_ids() {
        let mut leases = Leases::default();
        assert!(matches!(
            leases.grant(0, 10),
            Err(MvccError::InvalidArgument(_))
        ));
        assert!(matches!(
            leases.grant(-3, 10),
            Err(MvccError::InvalidArgument(_))
        ));
        assert_eq!(leases.grant(7, 10).map(|l| l.ttl_seconds), Ok(10));
        assert_eq!(leases.grant(7, 20), Err(MvccError::LeaseExists { id: 7 }));
        assert_eq!(leases.get(7).map(|l| l.ttl_seconds), Some(10));
    }

    #[test]
    fn keys_move_between_leases() {
        let mut leases = Leases::default();
        assert!(leases.grant(1, 10).is_ok());
        assert!(leases.grant(2, 10).is_ok());
        leases.move_key(b"k", 0, 1);
        assert_eq!(leases.get(1).map(|l| l.keys.len()), Some(1));
        leases.move_key(b"k", 1, 2);
        assert_eq!(leases.get(1).map(|l| l.keys.len()), Some(0));
        assert_eq!(
            leases
                .get(2)
                .map(|l| l.keys.iter().cloned().collect::<Vec<_>>()),
            Some(vec![b"k".to_vec()])
        );
        leases.detach(2, b"k");
        assert_eq!(leases.get(2).map(|l| l.keys.len()), Some(0));
        assert_eq!(leases.iter().map(|l| l.id).collect::<Vec<_>>(), vec![1, 2]);
    }
}
