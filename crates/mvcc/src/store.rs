//! [`Mvcc`]: the revision history and key index (etcd's `mvcc` kvstore), the lease table, and
//! how each [`Command`] changes them.
//!
//! Every write runs inside a [`WriteTxn`]: its changes all get the same new revision
//! (`revision + 1`) with sub-revisions in order, are written straight into the index and
//! history, and the store revision moves to the new one only if something changed. Reads
//! during the write see those changes by reading at the new revision; reads elsewhere only
//! happen between commands. Errors are found before the first change (see `check` and
//! `txn`), so a failed command never leaves half its changes behind.

use std::collections::BTreeMap;
use std::sync::Arc;

use kubesim_proto::etcdserverpb::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse,
    LeaseGrantResponse, LeaseRevokeResponse, PutRequest, PutResponse, RangeRequest, RangeResponse,
    TxnRequest, TxnResponse,
};
use kubesim_proto::mvccpb::event::EventType;
use kubesim_proto::mvccpb::{Event, KeyValue};
use serde::{Deserialize, Serialize};

use crate::check::{check_delete_range, check_put, check_range};
use crate::hash::{Crc32c, hash_change};
use crate::index::{KeyIndex, KeyRange, KeyRevision, Revision};
use crate::lease::{Lease, Leases};
use crate::{Applied, Command, CommandResponse, MvccError};

/// One change held in history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// For a put, the key-value as written. For a delete, only the key and the delete's
    /// revision as mod_revision: exactly the kv of its DELETE event.
    pub kv: KeyValue,
    /// The change deleted the key.
    pub tombstone: bool,
}

/// etcd's MVCC key-value store as plain data. Serializable (postcard) so the Raft state
/// machine can snapshot and restore it whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mvcc {
    /// The newest revision: 1 for an empty store, +1 per command that changes a key.
    pub(crate) revision: i64,
    /// The last compaction's revision (0 = never); reads below it answer Compacted.
    pub(crate) compact_revision: i64,
    /// Each key's changes still in history: finds a key's value at a revision in O(log n).
    pub(crate) index: BTreeMap<Vec<u8>, KeyIndex>,
    /// Every change still held, in revision order: what watches replay and HashKV hashes.
    /// Each record is shared (`Arc`) and never changed once written, so cloning the store
    /// (what a Raft snapshot takes under the state machine's lock) copies pointers, not
    /// values: a snapshot of 100,000 pods takes milliseconds to take, where copying their
    /// bytes took the lock for as long as encoding them. The snapshot format is the same:
    /// serde writes an `Arc<Record>` as the `Record`.
    pub(crate) history: BTreeMap<Revision, Arc<Record>>,
    /// Granted leases and their keys.
    pub(crate) leases: Leases,
    /// Bytes of keys and values in `history`, kept up to date so Status need not walk it.
    pub(crate) size_bytes: u64,
    /// Planted bug (test-only, see `plant_reuse_next_revision`). Not part of the state, so
    /// not in a snapshot.
    #[cfg(feature = "planted-bugs")]
    #[serde(skip)]
    reuse_next_revision: bool,
}

impl Default for Mvcc {
    fn default() -> Self {
        Mvcc::new()
    }
}

/// The changes of one write command in progress.
pub(crate) struct WriteTxn {
    /// The revision every change of this write gets: the store revision + 1.
    pub revision: i64,
    /// The sub-revision of its first change: 0, except under the planted bug that reuses a
    /// revision, where the changes follow those the revision already has.
    first_sub: i64,
    /// One event per change, in order; the event's index is the change's sub-revision.
    pub events: Vec<Event>,
}

impl WriteTxn {
    fn next_revision(&self) -> Revision {
        Revision {
            main: self.revision,
            sub: self.first_sub + self.events.len() as i64,
        }
    }

    /// The revision a read inside this write sees: its own changes once it has made some.
    pub fn read_revision(&self) -> i64 {
        if self.events.is_empty() && self.first_sub == 0 {
            self.revision - 1
        } else {
            self.revision
        }
    }
}

impl Mvcc {
    pub fn new() -> Self {
        Mvcc {
            revision: 1,
            compact_revision: 0,
            index: BTreeMap::new(),
            history: BTreeMap::new(),
            leases: Leases::default(),
            size_bytes: 0,
            #[cfg(feature = "planted-bugs")]
            reuse_next_revision: false,
        }
    }

    /// Plants a known bug (test-only): the next write that changes a key, once there has been
    /// one, gets the current revision instead of revision + 1, with sub-revisions after that
    /// write's; later writes count on from there. A member that does this after a restart
    /// breaks RELIABILITY.md properties 2 and 7.
    #[cfg(feature = "planted-bugs")]
    pub fn plant_reuse_next_revision(&mut self) {
        self.reuse_next_revision = true;
    }

    /// The newest revision (1 for an empty store, as etcd).
    pub fn current_revision(&self) -> i64 {
        self.revision
    }

    /// The revision of the last compaction (0 if never compacted).
    pub fn compact_revision(&self) -> i64 {
        self.compact_revision
    }

    /// Applies one committed command. Deterministic: same state + same command = same result.
    pub fn apply(&mut self, cmd: &Command) -> Applied {
        match cmd {
            Command::Put(req) => self.apply_put(req),
            Command::DeleteRange(req) => self.apply_delete_range(req),
            Command::Txn(req) => self.apply_txn(req),
            Command::Compact(req) => self.apply_compact(req),
            Command::LeaseGrant { id, ttl_seconds } => self.apply_lease_grant(*id, *ttl_seconds),
            Command::LeaseRevoke { id } => self.apply_lease_revoke(*id),
        }
    }

    /// Serves a Range at `req.revision` (or the newest if <= 0). The header is left `None`:
    /// the service fills it, with the *current* revision as etcd does even for a past read.
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse, MvccError> {
        check_range(req)?;
        let at = self.read_revision(req.revision, self.revision)?;
        Ok(self.range_at(req, at))
    }

    /// Runs a txn that only reads (every op of both branches a Range, as etcd's
    /// `isTxnReadonly`) without going through the log, as etcd serves such txns.
    pub fn read_txn(&self, req: &TxnRequest) -> Result<TxnResponse, MvccError> {
        self.txn_read_only(req)
    }

    /// Events with revision >= `start_revision` on keys in [key, range_end) (etcd range
    /// semantics), in revision order, at most `limit` events but never splitting a revision.
    /// At least one whole revision is returned when there is one, even with `limit` 0.
    pub fn events_since(
        &self,
        start_revision: i64,
        key: &[u8],
        range_end: &[u8],
        limit: usize,
    ) -> Result<Vec<Event>, MvccError> {
        if start_revision < self.compact_revision {
            return Err(MvccError::Compacted {
                compact_revision: self.compact_revision,
            });
        }
        let range = KeyRange::new(key, range_end);
        let mut events = Vec::new();
        let mut last_main = None;
        for (revision, record) in self.history.range(Revision::first_of(start_revision)..) {
            if last_main != Some(revision.main) && events.len() >= limit.max(1) {
                break;
            }
            if range.contains(&record.kv.key) {
                last_main = Some(revision.main);
                events.push(self.event_of(*revision, record));
            }
        }
        Ok(events)
    }

    /// etcd's HashKV: (hash, compact_revision, hash_revision) over all revisions up to
    /// `revision` (0 = newest).
    pub fn hash_kv(&self, revision: i64) -> Result<(u32, i64, i64), MvccError> {
        if revision > 0 && revision < self.compact_revision {
            return Err(MvccError::Compacted {
                compact_revision: self.compact_revision,
            });
        }
        if revision > self.revision {
            return Err(MvccError::FutureRevision);
        }
        let at = if revision <= 0 {
            self.revision
        } else {
            revision
        };
        let mut crc = Crc32c::new();
        for (rev, record) in self.history.range(..=Revision::last_of(at)) {
            hash_change(&mut crc, *rev, record.tombstone, &record.kv);
        }
        Ok((crc.finish(), self.compact_revision, at))
    }

    pub fn lease(&self, id: i64) -> Option<&Lease> {
        self.leases.get(id)
    }

    /// Every lease, by ID.
    pub fn leases(&self) -> impl Iterator<Item = &Lease> {
        self.leases.iter()
    }

    /// Rough bytes held (keys + values across history), for Maintenance.Status dbSizeInUse.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// Checks a read's revision the way etcd's `rangeKeys` does and resolves <= 0 to
    /// `current`: above `current` is a future revision, below the compaction is gone, the
    /// compact revision itself is still readable.
    pub(crate) fn read_revision(&self, requested: i64, current: i64) -> Result<i64, MvccError> {
        if requested > current {
            return Err(MvccError::FutureRevision);
        }
        let at = if requested <= 0 { current } else { requested };
        if at < self.compact_revision {
            return Err(MvccError::Compacted {
                compact_revision: self.compact_revision,
            });
        }
        Ok(at)
    }

    /// The key's newest value, if it exists. O(log n).
    pub(crate) fn latest_live(&self, key: &[u8]) -> Option<&KeyValue> {
        let revision = self.index.get(key)?.latest_live()?;
        self.history.get(&revision).map(|r| &r.kv)
    }

    /// The key-value of a change in history.
    pub(crate) fn kv_at(&self, revision: Revision) -> Option<&KeyValue> {
        self.history.get(&revision).map(|r| &r.kv)
    }

    /// The watch event of a change, with the key's previous value as prev_kv when it had one.
    fn event_of(&self, revision: Revision, record: &Record) -> Event {
        let prev_kv = self
            .index
            .get(&record.kv.key)
            .and_then(|index| index.live_before(revision))
            .and_then(|prev| self.kv_at(prev))
            .cloned();
        let kind = if record.tombstone {
            EventType::Delete
        } else {
            EventType::Put
        };
        Event {
            r#type: kind as i32,
            kv: Some(record.kv.clone()),
            prev_kv,
        }
    }

    fn apply_put(&mut self, req: &PutRequest) -> Applied {
        let checked = check_put(req)
            .and_then(|()| self.check_lease_exists(req))
            .and_then(|()| self.check_key_exists_if_ignoring(req));
        if let Err(err) = checked {
            return self.rejected(err);
        }
        let mut write = self.begin_write();
        let response = self.put(&mut write, req);
        self.commit(write, CommandResponse::Put(response))
    }

    fn apply_delete_range(&mut self, req: &DeleteRangeRequest) -> Applied {
        if let Err(err) = check_delete_range(req) {
            return self.rejected(err);
        }
        let mut write = self.begin_write();
        let response = self.delete_range(&mut write, req);
        self.commit(write, CommandResponse::DeleteRange(response))
    }

    fn apply_compact(&mut self, req: &CompactionRequest) -> Applied {
        if req.revision <= self.compact_revision {
            return self.rejected(MvccError::Compacted {
                compact_revision: self.compact_revision,
            });
        }
        if req.revision > self.revision {
            return self.rejected(MvccError::FutureRevision);
        }
        self.compact(req.revision);
        self.unchanged(CommandResponse::Compact(CompactionResponse {
            header: None,
        }))
    }

    /// Granting changes no key, so the revision stays (as etcd).
    fn apply_lease_grant(&mut self, id: i64, ttl_seconds: i64) -> Applied {
        if let Err(err) = self.leases.grant(id, ttl_seconds) {
            return self.rejected(err);
        }
        self.unchanged(CommandResponse::LeaseGrant(LeaseGrantResponse {
            header: None,
            id,
            ttl: ttl_seconds,
            error: String::new(),
        }))
    }

    /// Deletes every attached key, in key order, at one new revision (etcd's lessor runs one
    /// write txn); a lease without keys leaves the revision where it was.
    fn apply_lease_revoke(&mut self, id: i64) -> Applied {
        let Some(lease) = self.leases.remove(id) else {
            return self.rejected(MvccError::LeaseNotFound { id });
        };
        let mut write = self.begin_write();
        for key in &lease.keys {
            self.delete(&mut write, key);
        }
        self.commit(
            write,
            CommandResponse::LeaseRevoke(LeaseRevokeResponse { header: None }),
        )
    }

    /// etcd checks the lease before the key for a plain Put.
    pub(crate) fn check_lease_exists(&self, req: &PutRequest) -> Result<(), MvccError> {
        if req.lease != 0 && self.leases.get(req.lease).is_none() {
            return Err(MvccError::LeaseNotFound { id: req.lease });
        }
        Ok(())
    }

    /// ignore_value / ignore_lease take the value or lease from the existing key.
    pub(crate) fn check_key_exists_if_ignoring(&self, req: &PutRequest) -> Result<(), MvccError> {
        if (req.ignore_value || req.ignore_lease) && self.latest_live(&req.key).is_none() {
            return Err(MvccError::KeyNotFound);
        }
        Ok(())
    }

    pub(crate) fn begin_write(&self) -> WriteTxn {
        #[cfg(feature = "planted-bugs")]
        if self.reuse_next_revision && self.revision > 1 {
            return self.begin_write_reusing_revision();
        }
        WriteTxn {
            revision: self.revision + 1,
            first_sub: 0,
            events: Vec::new(),
        }
    }

    /// The planted bug: a write at the current revision, after the changes it already has.
    #[cfg(feature = "planted-bugs")]
    fn begin_write_reusing_revision(&self) -> WriteTxn {
        let taken = Revision::first_of(self.revision)..=Revision::last_of(self.revision);
        let first_sub = self
            .history
            .range(taken)
            .next_back()
            .map_or(0, |(revision, _)| revision.sub + 1);
        WriteTxn {
            revision: self.revision,
            first_sub,
            events: Vec::new(),
        }
    }

    /// Ends a write: the revision moves only if something changed.
    pub(crate) fn commit(&mut self, write: WriteTxn, response: CommandResponse) -> Applied {
        if !write.events.is_empty() {
            #[cfg(feature = "planted-bugs")]
            if write.revision == self.revision {
                // The planted bug fired; later writes count on from here.
                self.reuse_next_revision = false;
            }
            self.revision = write.revision;
        }
        Applied {
            response: Ok(response),
            revision: self.revision,
            events: write.events,
        }
    }

    pub(crate) fn rejected(&self, err: MvccError) -> Applied {
        Applied {
            response: Err(err),
            revision: self.revision,
            events: Vec::new(),
        }
    }

    fn unchanged(&self, response: CommandResponse) -> Applied {
        Applied {
            response: Ok(response),
            revision: self.revision,
            events: Vec::new(),
        }
    }

    /// A checked put (see `check_put`, `check_lease_exists`, `check_key_exists_if_ignoring`).
    pub(crate) fn put(&mut self, write: &mut WriteTxn, req: &PutRequest) -> PutResponse {
        let prev = self.latest_live(&req.key).cloned();
        let value = match (&prev, req.ignore_value) {
            (Some(prev), true) => prev.value.clone(),
            _ => req.value.clone(),
        };
        let lease = match (&prev, req.ignore_lease) {
            (Some(prev), true) => prev.lease,
            _ => req.lease,
        };
        let prev_kv = if req.prev_kv { prev.clone() } else { None };
        self.write_put(write, &req.key, value, lease, prev);
        PutResponse {
            header: None,
            prev_kv,
        }
    }

    fn write_put(
        &mut self,
        write: &mut WriteTxn,
        key: &[u8],
        value: Vec<u8>,
        lease: i64,
        prev: Option<KeyValue>,
    ) {
        let revision = write.next_revision();
        let (create_revision, version) = match &prev {
            Some(prev) => (prev.create_revision, prev.version + 1),
            None => (revision.main, 1),
        };
        self.leases
            .move_key(key, prev.as_ref().map_or(0, |p| p.lease), lease);
        let kv = KeyValue {
            key: key.to_vec(),
            create_revision,
            mod_revision: revision.main,
            version,
            value,
            lease,
        };
        self.record(revision, kv.clone(), false);
        write.events.push(Event {
            r#type: EventType::Put as i32,
            kv: Some(kv),
            prev_kv: prev,
        });
    }

    pub(crate) fn delete_range(
        &mut self,
        write: &mut WriteTxn,
        req: &DeleteRangeRequest,
    ) -> DeleteRangeResponse {
        let range = KeyRange::new(&req.key, &req.range_end);
        let keys: Vec<Vec<u8>> = self
            .index
            .range::<[u8], _>(range.bounds())
            .filter(|(_, index)| index.latest_live().is_some())
            .map(|(key, _)| key.clone())
            .collect();
        let mut prev_kvs = Vec::new();
        for key in &keys {
            let prev = self.delete(write, key);
            if req.prev_kv {
                prev_kvs.extend(prev);
            }
        }
        DeleteRangeResponse {
            header: None,
            deleted: keys.len() as i64,
            prev_kvs,
        }
    }

    /// Deletes one key if it exists: a tombstone in history, a DELETE event, the key leaves
    /// its lease. Returns the deleted key-value.
    fn delete(&mut self, write: &mut WriteTxn, key: &[u8]) -> Option<KeyValue> {
        let prev = self.latest_live(key)?.clone();
        let revision = write.next_revision();
        self.leases.detach(prev.lease, key);
        let tombstone = KeyValue {
            key: key.to_vec(),
            mod_revision: revision.main,
            ..KeyValue::default()
        };
        self.record(revision, tombstone.clone(), true);
        write.events.push(Event {
            r#type: EventType::Delete as i32,
            kv: Some(tombstone),
            prev_kv: Some(prev.clone()),
        });
        Some(prev)
    }

    fn record(&mut self, revision: Revision, kv: KeyValue, tombstone: bool) {
        let change = KeyRevision {
            revision,
            tombstone,
        };
        match self.index.get_mut(kv.key.as_slice()) {
            Some(index) => index.push(change),
            None => {
                let mut index = KeyIndex::default();
                index.push(change);
                self.index.insert(kv.key.clone(), index);
            }
        }
        self.size_bytes += (kv.key.len() + kv.value.len()) as u64;
        self.history
            .insert(revision, Arc::new(Record { kv, tombstone }));
    }

    /// Drops history a read at `at` or later no longer needs (see `KeyIndex::compact`). Only
    /// keys changed since the last compaction can have something to drop, so only the history
    /// between the two compactions is walked.
    fn compact(&mut self, at: i64) {
        let changed = Revision::first_of(self.compact_revision + 1)..=Revision::last_of(at);
        let keys: std::collections::BTreeSet<Vec<u8>> = self
            .history
            .range(changed)
            .map(|(_, record)| record.kv.key.clone())
            .collect();
        for key in keys {
            let Some(index) = self.index.get_mut(&key) else {
                continue;
            };
            let dropped = index.compact(at);
            if index.is_empty() {
                self.index.remove(&key);
            }
            for revision in dropped {
                if let Some(record) = self.history.remove(&revision) {
                    let bytes = (record.kv.key.len() + record.kv.value.len()) as u64;
                    self.size_bytes = self.size_bytes.saturating_sub(bytes);
                }
            }
        }
        self.compact_revision = at;
    }
}

#[cfg(all(test, feature = "planted-bugs"))]
mod planted_tests {
    use crate::tests::*;
    use crate::{Command, Mvcc};

    #[test]
    fn the_planted_bug_reuses_one_revision_once_there_was_a_write() {
        let mut store = Mvcc::new();
        store.plant_reuse_next_revision();
        // Nothing to reuse yet: no write so far, and a lease grant changes no key.
        apply_ok(
            &mut store,
            Command::LeaseGrant {
                id: 1,
                ttl_seconds: 60,
            },
        );
        assert_eq!(apply_ok(&mut store, put("a", "1")).1.revision, 2);
        // The bug fires: a second write at revision 2, after the first one's change.
        assert_eq!(apply_ok(&mut store, put("a", "2")).1.revision, 2);
        assert_eq!(get(&store, "a"), Some(kv("a", "2", 2, 2, 2)));
        let events = store
            .events_since(2, b"a", b"", 100)
            .expect("not compacted");
        assert_eq!(events.len(), 2);
        // Once only: the next write counts on.
        assert_eq!(apply_ok(&mut store, put("b", "1")).1.revision, 3);
    }
}
