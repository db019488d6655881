//! The replicated state machine: openraft's `RaftStateMachine` around the in-memory
//! [`Mvcc`] and the table of published members.
//!
//! Committed entries are applied in log order; each apply publishes the applied log index and
//! the store revision on watch channels (the handle waits on the first, watchers on the second).
//! Snapshots are the whole state, postcard-encoded, kept in one redb database
//! ("snapshot.redb") so a restart restores the newest snapshot and openraft replays the log
//! after it. A snapshot received from the leader is persisted before it replaces the state.
//!
//! The planted bug [`PlantedBug::ReuseRevisionAfterRestart`] (test-only) is armed in
//! [`StateMachine::open`].

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use futures::{Stream, TryStreamExt};
use kubesim_mvcc::Mvcc;
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend};
use prometheus::Histogram;
use redb::{Durability, ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{
    Db, Entry, LogId, Snapshot, SnapshotData, SnapshotMeta, StoreRequest, StoreResponse,
    StoredMembership, TypeConfig, blocking, decode, encode, io_err,
};
use crate::metrics::observe_since;
use crate::planted::PlantedBug;

/// The file name of the snapshot database under `env.disk`.
pub(crate) const SNAPSHOT_DB: &str = "snapshot.redb";

/// Holds one row: the newest snapshot.
const SNAPSHOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshots");
const CURRENT: &str = "current";

/// What a member announced about itself through the log (etcd's publish).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct PublishedMember {
    pub name: String,
    pub client_urls: Vec<String>,
}

/// The state every member holds identically at the same log index.
pub(crate) struct SmData {
    pub mvcc: Mvcc,
    /// Published names and client URLs, by member ID.
    pub members: BTreeMap<u64, PublishedMember>,
    /// The store revision after the last applied entry. Kept here (not only in `Mvcc`) because
    /// entries that are not commands also report it.
    pub revision: i64,
    pub last_applied: Option<LogId>,
    /// The membership as of the last applied membership entry; what `member list` shows.
    pub last_membership: StoredMembership,
}

impl SmData {
    fn new() -> SmData {
        SmData {
            mvcc: Mvcc::new(),
            members: BTreeMap::new(),
            revision: 1,
            last_applied: None,
            last_membership: StoredMembership::default(),
        }
    }
}

/// The state machine's data as the rest of the node sees it: read under a lock, changes
/// announced on watch channels.
pub(crate) struct SmShared {
    data: RwLock<SmData>,
    /// Last applied log index (0 before the first).
    applied: watch::Sender<u64>,
    /// Store revision after the last applied entry.
    revision: watch::Sender<i64>,
}

impl SmShared {
    fn new(data: SmData) -> SmShared {
        let applied = data.last_applied.map(|id| id.index).unwrap_or(0);
        let revision = data.revision;
        SmShared {
            data: RwLock::new(data),
            applied: watch::Sender::new(applied),
            revision: watch::Sender::new(revision),
        }
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, SmData> {
        // A panic while applying (a bug in the model) must not wedge every reader forever;
        // the data is as consistent as the apply left it.
        self.data.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, SmData> {
        self.data.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn subscribe_applied(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    pub(crate) fn subscribe_revision(&self) -> watch::Receiver<i64> {
        self.revision.subscribe()
    }

    fn publish(&self, applied: u64, revision: i64) {
        self.applied
            .send_if_modified(|v| replace_if_changed(v, applied));
        self.revision
            .send_if_modified(|v| replace_if_changed(v, revision));
    }
}

fn replace_if_changed<T: PartialEq>(slot: &mut T, value: T) -> bool {
    if *slot == value {
        return false;
    }
    *slot = value;
    true
}

/// The snapshot payload as written: field order is the postcard format, so `PayloadRef`
/// (encoding) and `Payload` (decoding, and the copy `build_snapshot` takes) must list the
/// same fields in order.
#[derive(Serialize)]
struct PayloadRef<'a> {
    mvcc: &'a Mvcc,
    members: &'a BTreeMap<u64, PublishedMember>,
    revision: i64,
}

#[derive(Deserialize)]
struct Payload {
    mvcc: Mvcc,
    members: BTreeMap<u64, PublishedMember>,
    revision: i64,
}

/// A snapshot as kept on disk.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

/// The snapshot database.
#[derive(Clone)]
struct SnapshotStore {
    db: Arc<Db>,
    /// `etcd_disk_backend_commit_duration_seconds`: the MVCC lives in memory, so this
    /// database's commits (one per saved snapshot) are the store's backend commits.
    commit: Histogram,
}

impl SnapshotStore {
    fn load(&self) -> io::Result<Option<StoredSnapshot>> {
        blocking(|| {
            let tx = self.db.begin_read().map_err(io_err)?;
            let table = match tx.open_table(SNAPSHOTS) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(io_err(e)),
            };
            match table.get(CURRENT).map_err(io_err)? {
                Some(bytes) => decode(bytes.value()).map(Some),
                None => Ok(None),
            }
        })
    }

    /// Encodes and writes `snapshot` with one sync, on the calling thread: callers run it
    /// off the runtime (`blocking`), with the rest of their work on the whole state.
    fn save(&self, snapshot: &StoredSnapshot) -> io::Result<()> {
        let bytes = encode(snapshot)?;
        let mut tx = self.db.begin_write().map_err(io_err)?;
        tx.set_durability(Durability::Immediate).map_err(io_err)?;
        let mut table = tx.open_table(SNAPSHOTS).map_err(io_err)?;
        table.insert(CURRENT, bytes.as_slice()).map_err(io_err)?;
        drop(table);
        let started = Instant::now();
        tx.commit().map_err(io_err)?;
        observe_since(&self.commit, started);
        Ok(())
    }
}

/// openraft's state machine: owned by openraft's state machine worker.
pub(crate) struct StateMachine {
    shared: Arc<SmShared>,
    snapshots: SnapshotStore,
}

impl StateMachine {
    /// Opens the snapshot database and restores the newest snapshot, if any. `log_on_disk`:
    /// the member's log already held entries, so this is a restart. Each commit of the
    /// database is timed in `backend_commit`.
    pub(crate) fn open(
        db: Arc<Db>,
        planted_bug: PlantedBug,
        log_on_disk: bool,
        backend_commit: Histogram,
    ) -> io::Result<(StateMachine, Arc<SmShared>)> {
        let snapshots = SnapshotStore {
            db,
            commit: backend_commit,
        };
        let (mut data, restarted) = match snapshots.load()? {
            Some(stored) => (restore(&stored.meta, &stored.data)?, true),
            None => (SmData::new(), log_on_disk),
        };
        // Test-only: a restarted member gives its first write (once it has replayed one) the
        // revision of the write before it, so only this incarnation diverges.
        if planted_bug.is(PlantedBug::ReuseRevisionAfterRestart) && restarted {
            plant_reuse_revision(&mut data.mvcc);
        }
        let shared = Arc::new(SmShared::new(data));
        let sm = StateMachine {
            shared: shared.clone(),
            snapshots,
        };
        Ok((sm, shared))
    }

    fn apply_one(&self, entry: Entry) -> StoreResponse {
        let mut data = self.shared.write();
        let result = match entry.payload {
            EntryPayload::Blank => None,
            EntryPayload::Normal(StoreRequest::Command(cmd)) => {
                let applied = data.mvcc.apply(&cmd);
                data.revision = applied.revision;
                Some(applied.response)
            }
            EntryPayload::Normal(StoreRequest::PublishMember {
                id,
                name,
                client_urls,
            }) => {
                data.members
                    .insert(id, PublishedMember { name, client_urls });
                None
            }
            EntryPayload::Membership(membership) => {
                data.last_membership = StoredMembership::new(Some(entry.log_id), membership);
                None
            }
        };
        data.last_applied = Some(entry.log_id);
        StoreResponse {
            result,
            revision: data.revision,
        }
    }
}

#[cfg(feature = "planted-bugs")]
fn plant_reuse_revision(mvcc: &mut Mvcc) {
    mvcc.plant_reuse_next_revision();
}

/// Without the feature no bug is ever planted (`PlantedBug::is` is false): never called.
#[cfg(not(feature = "planted-bugs"))]
fn plant_reuse_revision(_: &mut Mvcc) {}

fn restore(meta: &SnapshotMeta, bytes: &[u8]) -> io::Result<SmData> {
    let payload: Payload = decode(bytes)?;
    Ok(SmData {
        mvcc: payload.mvcc,
        members: payload.members,
        revision: payload.revision,
        last_applied: meta.last_log_id,
        last_membership: meta.last_membership.clone(),
    })
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        let data = self.shared.read();
        Ok((data.last_applied, data.last_membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        while let Some((entry, responder)) = entries.try_next().await? {
            let index = entry.log_id.index;
            let response = self.apply_one(entry);
            self.shared.publish(index, response.revision);
            if let Some(responder) = responder {
                responder.send(response);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            shared: self.shared.clone(),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotData,
    ) -> Result<(), io::Error> {
        // Decode first: a bad snapshot changes nothing. Decoding and saving cost the whole
        // state's bytes, so they run off the runtime, as building one does.
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: snapshot,
        };
        let data = blocking(|| {
            let data = restore(meta, &stored.data)?;
            self.snapshots.save(&stored)?;
            Ok::<_, io::Error>(data)
        })?;
        let applied = data.last_applied.map(|id| id.index).unwrap_or(0);
        let revision = data.revision;
        let replaced = std::mem::replace(&mut *self.shared.write(), data);
        self.shared.publish(applied, revision);
        // The old state is dropped outside the lock and off the runtime: freeing a large
        // history takes a while too.
        blocking(|| drop(replaced));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        Ok(self.snapshots.load()?.map(|stored| Snapshot {
            meta: stored.meta,
            snapshot: stored.data,
        }))
    }
}

/// Builds a snapshot of the current state and makes it the stored one.
pub(crate) struct SnapshotBuilder {
    shared: Arc<SmShared>,
    snapshots: SnapshotStore,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotData;

    /// The state is copied under the read lock and encoded and saved after it is released,
    /// off the runtime (`blocking`). The copy shares the history's records, so it costs
    /// pointers, not values; encoding and saving cost the whole state's bytes (seconds for a
    /// few hundred thousand pods), and done under the lock or on the runtime they stopped
    /// every apply, heartbeat and client request for that long: with a large history each
    /// snapshot froze the member until followers called an election.
    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let (meta, state) = {
            let data = self.shared.read();
            let meta = SnapshotMeta {
                last_log_id: data.last_applied,
                last_membership: data.last_membership.clone(),
            };
            let state = Payload {
                mvcc: data.mvcc.clone(),
                members: data.members.clone(),
                revision: data.revision,
            };
            (meta, state)
        };
        let stored = blocking(|| {
            let bytes = encode(&PayloadRef {
                mvcc: &state.mvcc,
                members: &state.members,
                revision: state.revision,
            })?;
            drop(state);
            let stored = StoredSnapshot {
                meta: meta.clone(),
                data: bytes,
            };
            self.snapshots.save(&stored)?;
            Ok::<_, io::Error>(stored)
        })?;
        Ok(Snapshot {
            meta,
            snapshot: stored.data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubesim_net::{Disk, MemDisk};
    use kubesim_proto::etcdserverpb::PutRequest;

    fn put_entry(index: u64) -> Entry {
        let put = PutRequest {
            key: format!("k{index}").into_bytes(),
            ..Default::default()
        };
        openraft::Entry {
            log_id: openraft::LogId::new(
                openraft::impls::leader_id_adv::LeaderId {
                    term: 1,
                    node_id: 1,
                },
                index,
            ),
            payload: EntryPayload::Normal(StoreRequest::Command(kubesim_mvcc::Command::Put(put))),
        }
    }

    /// The revisions three puts get on a member opened with the bug planted.
    fn revisions(log_on_disk: bool) -> Vec<i64> {
        let disk = MemDisk::new();
        let db = Db::new(disk.open_database(SNAPSHOT_DB).unwrap()).0;
        let bug = PlantedBug::ReuseRevisionAfterRestart;
        let commit = crate::metrics::StoreMetrics::new().backend_commit();
        let (sm, _) = StateMachine::open(db, bug, log_on_disk, commit).unwrap();
        (1..=3)
            .map(|i| sm.apply_one(put_entry(i)).revision)
            .collect()
    }

    #[tokio::test]
    async fn saving_a_snapshot_is_one_timed_backend_commit() {
        let disk = MemDisk::new();
        let db = Db::new(disk.open_database(SNAPSHOT_DB).unwrap()).0;
        let commit = crate::metrics::StoreMetrics::new().backend_commit();
        let (mut sm, _) = StateMachine::open(db, PlantedBug::None, false, commit.clone()).unwrap();
        sm.apply_one(put_entry(1));
        assert_eq!(commit.get_sample_count(), 0);
        let mut builder = sm.get_snapshot_builder().await;
        builder.build_snapshot().await.unwrap();
        assert_eq!(commit.get_sample_count(), 1);
    }

    #[test]
    fn the_planted_revision_reuse_needs_the_feature_and_a_restart() {
        assert_eq!(revisions(false), vec![2, 3, 4]);
        let restarted = if cfg!(feature = "planted-bugs") {
            vec![2, 2, 3]
        } else {
            vec![2, 3, 4]
        };
        assert_eq!(revisions(true), restarted);
    }
}
