//! The Raft log on disk: openraft's `RaftLogStorage` over one redb database ("raft-log.redb").
//!
//! Entries are keyed by log index and postcard-encoded. The vote, the committed log id and the
//! last purged log id live in a small metadata table. An append is one redb transaction with
//! `Durability::Immediate`, and openraft is told the entries are flushed only after it commits:
//! a write is acknowledged only once it is synced on a quorum (RELIABILITY.md property 3).

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::OptionalSend;
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use redb::{Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Db, Entry, LogId, TypeConfig, Vote, blocking, decode, encode, io_err};

/// Log index -> postcard-encoded entry.
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
/// `vote` / `committed` / `last_purged` -> postcard-encoded value.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";
// Value types: `vote` is a Vote, `committed` an Option<LogId>, `last_purged` a LogId.

/// The file name of the log database under `env.disk`.
pub(crate) const LOG_DB: &str = "raft-log.redb";

/// Cheap to clone: openraft wants a separate reader, which shares the database.
#[derive(Clone)]
pub(crate) struct LogStore {
    /// The open database; redb allows one writer at a time and concurrent readers.
    db: Arc<Db>,
}

impl LogStore {
    /// Opens the log database and makes sure its tables exist, so readers never see them
    /// missing.
    pub(crate) fn open(db: Arc<Db>) -> io::Result<LogStore> {
        let store = LogStore { db };
        store.write(Durability::Immediate, |tx| {
            tx.open_table(ENTRIES)?;
            tx.open_table(META)?;
            Ok(())
        })?;
        Ok(store)
    }

    fn write(
        &self,
        durability: Durability,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> io::Result<()> {
        blocking(|| {
            let mut tx = self.db.begin_write().map_err(io_err)?;
            tx.set_durability(durability).map_err(io_err)?;
            f(&tx).map_err(io_err)?;
            tx.commit().map_err(io_err)
        })
    }

    fn read_meta<T: for<'de> serde::Deserialize<'de>>(&self, key: &str) -> io::Result<Option<T>> {
        blocking(|| {
            let tx = self.db.begin_read().map_err(io_err)?;
            let table = tx.open_table(META).map_err(io_err)?;
            match table.get(key).map_err(io_err)? {
                Some(bytes) => decode(bytes.value()).map(Some),
                None => Ok(None),
            }
        })
    }

    fn write_meta<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
        durability: Durability,
    ) -> io::Result<()> {
        let bytes = encode(value)?;
        self.write(durability, |tx| {
            tx.open_table(META)?.insert(key, bytes.as_slice())?;
            Ok(())
        })
    }

    fn last_entry_log_id(&self) -> io::Result<Option<LogId>> {
        blocking(|| {
            let tx = self.db.begin_read().map_err(io_err)?;
            let table = tx.open_table(ENTRIES).map_err(io_err)?;
            match table.last().map_err(io_err)? {
                Some((_, bytes)) => {
                    let entry: Entry = decode(bytes.value())?;
                    Ok(Some(entry.log_id()))
                }
                None => Ok(None),
            }
        })
    }

    fn entries(&self, start: u64, end: Bound<u64>) -> io::Result<Vec<Entry>> {
        blocking(|| {
            let tx = self.db.begin_read().map_err(io_err)?;
            let table = tx.open_table(ENTRIES).map_err(io_err)?;
            let range = table
                .range::<u64>((Bound::Included(start), end))
                .map_err(io_err)?;
            let mut out = Vec::new();
            for item in range {
                let (_, bytes) = item.map_err(io_err)?;
                out.push(decode(bytes.value())?);
            }
            Ok(out)
        })
    }
}

fn start_of(range: &impl RangeBounds<u64>) -> u64 {
    match range.start_bound() {
        Bound::Included(&i) => i,
        Bound::Excluded(&i) => i.saturating_add(1),
        Bound::Unbounded => 0,
    }
}

fn end_of(range: &impl RangeBounds<u64>) -> Bound<u64> {
    match range.end_bound() {
        Bound::Included(&i) => Bound::Included(i),
        Bound::Excluded(&i) => Bound::Excluded(i),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        self.entries(start_of(&range), end_of(&range))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        self.read_meta(VOTE)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let last_purged_log_id: Option<LogId> = self.read_meta(LAST_PURGED)?;
        let last_log_id = self.last_entry_log_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        self.write_meta(VOTE, vote, Durability::Immediate)
    }

    /// Not synced on its own: losing it only means openraft re-learns the commit point from
    /// the leader. The next append's sync makes it durable anyway.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        self.write_meta(COMMITTED, &committed, Durability::None)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(self.read_meta::<Option<LogId>>(COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut encoded = Vec::new();
        for entry in entries {
            encoded.push((entry.index(), encode(&entry)?));
        }
        self.write(Durability::Immediate, |tx| {
            let mut table = tx.open_table(ENTRIES)?;
            for (index, bytes) in &encoded {
                table.insert(*index, bytes.as_slice())?;
            }
            Ok(())
        })?;
        callback.io_completed(Ok(()));
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let first_removed = last_log_id.map(|id| id.index() + 1).unwrap_or(0);
        self.write(Durability::Immediate, |tx| {
            let mut table = tx.open_table(ENTRIES)?;
            table.retain_in(first_removed.., |_, _| false)?;
            Ok(())
        })
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let bytes = encode(&log_id)?;
        let upto = log_id.index();
        self.write(Durability::Immediate, |tx| {
            tx.open_table(META)?.insert(LAST_PURGED, bytes.as_slice())?;
            tx.open_table(ENTRIES)?.retain_in(..=upto, |_, _| false)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubesim_net::{Disk, MemDisk};
    use openraft::EntryPayload;

    fn log_id(term: u64, index: u64) -> LogId {
        openraft::LogId::new(
            openraft::impls::leader_id_adv::LeaderId { term, node_id: 1 },
            index,
        )
    }

    fn blank(term: u64, index: u64) -> Entry {
        openraft::Entry {
            log_id: log_id(term, index),
            payload: EntryPayload::Blank,
        }
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map(|rt| rt.block_on(f))
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    }

    #[test]
    fn appended_entries_survive_a_power_cut_and_purge_moves_the_start() {
        let disk = MemDisk::new();
        run(async {
            let mut store = LogStore::open(Db::new(disk.open_database(LOG_DB).unwrap()).0).unwrap();
            let entries = (1..=5).map(|i| blank(1, i)).collect::<Vec<_>>();
            store.append(entries, IOFlushed::noop()).await.unwrap();
            store.purge(log_id(1, 2)).await.unwrap();
        });
        disk.power_cut();
        run(async {
            let mut store = LogStore::open(Db::new(disk.open_database(LOG_DB).unwrap()).0).unwrap();
            let state = store.get_log_state().await.unwrap();
            assert_eq!(state.last_purged_log_id, Some(log_id(1, 2)));
            assert_eq!(state.last_log_id, Some(log_id(1, 5)));
            let got = store.try_get_log_entries(0..10).await.unwrap();
            let indexes: Vec<u64> = got.iter().map(|e| e.index()).collect();
            assert_eq!(indexes, vec![3, 4, 5]);
            store.truncate_after(Some(log_id(1, 3))).await.unwrap();
            let got = store.try_get_log_entries(0..=10).await.unwrap();
            assert_eq!(got.len(), 1);
        });
    }

    #[test]
    fn vote_is_durable_and_empty_log_reports_nothing() {
        let disk = MemDisk::new();
        run(async {
            let mut store = LogStore::open(Db::new(disk.open_database(LOG_DB).unwrap()).0).unwrap();
            let state = store.get_log_state().await.unwrap();
            assert_eq!(state.last_log_id, None);
            assert_eq!(store.read_vote().await.unwrap(), None);
            let vote = Vote::new(3, 7);
            store.save_vote(&vote).await.unwrap();
        });
        disk.power_cut();
        run(async {
            let mut store = LogStore::open(Db::new(disk.open_database(LOG_DB).unwrap()).0).unwrap();
            assert_eq!(store.read_vote().await.unwrap(), Some(Vote::new(3, 7)));
        });
    }
}
