//! The Raft log on disk: openraft's `RaftLogStorage` over an append-only write-ahead log
//! ([`super::wal`]).
//!
//! Entries are written in runs: the consecutive entries one sync wrote are one record. The
//! vote, the committed log id, truncations and purges are records too. The committed log id is
//! not synced on its own: it is written with the next sync (losing it only means openraft
//! re-learns the commit point).
//!
//! Writes are group-committed. `append` puts the entries in an in-memory tail (so openraft's
//! log reader sees them at once, as its contract requires) and queues them for the log writer,
//! a thread that takes everything queued, appends it to the WAL with one write and one
//! `fdatasync`, and only then tells openraft the entries are flushed. So
//! openraft's core never waits for a disk sync: the leader replicates while it syncs, and under
//! load one sync covers many appends. A write is still acknowledged only once it is synced on a
//! quorum (RELIABILITY.md property 3): openraft counts an entry only once its callback fired.
//!
//! Every write (append, truncate, purge, vote, committed) goes through the same queue, so they
//! reach the disk in the order openraft issued them. On a current-thread runtime (turmoil, unit
//! tests) there is no writer thread: each write runs inline, which keeps the simulation
//! deterministic. Only there does a simulated slow disk ([`Disk::sync_delay`]) cost time: the
//! inline write sleeps that long (in simulated time) before it reports done. The writer thread
//! ignores it: a real disk is slow on its own.
//!
//! The planted bug [`PlantedBug::AckBeforeFsync`] (test-only) lives in `write_batch`.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex, MutexGuard};

use kubesim_net::Disk;
use openraft::OptionalSend;
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use prometheus::Histogram;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::wal::{Recovered, Wal, Write};
use super::{Entry, LogId, TypeConfig, Vote, blocking};
use crate::metrics::observe_since;
use crate::planted::PlantedBug;

/// Writes queued for the log writer. When full, openraft's core waits in `append`: the disk
/// sets the pace.
const WRITER_QUEUE_OPS: usize = 256;

/// Most writes the log writer puts in one transaction (one sync).
const MAX_OPS_PER_SYNC: usize = 256;

/// Entries kept in memory once synced, so replication and apply read recent entries without
/// touching the disk. Entries not yet synced are always kept, on top of these.
const SYNCED_ENTRIES_KEPT: usize = 8192;

/// Cheap to clone: openraft wants a separate reader, which shares everything.
#[derive(Clone)]
pub(crate) struct LogStore {
    shared: Arc<Shared>,
}

struct Shared {
    /// The open log files: one writer at a time (the writer thread, or inline), any readers.
    wal: Arc<Wal>,
    /// The log as openraft sees it: what is on disk plus what is queued for it. Shared with the
    /// writer, which drops synced entries from it.
    mem: Arc<Mutex<MemLog>>,
    /// The queue to the log writer thread; `None` on a current-thread runtime, where writes run
    /// inline. Dropping the last sender lets the writer finish the queue and exit.
    writer: Option<mpsc::Sender<Op>>,
    /// Without a writer thread: the committed log id waiting for the next sync.
    unwritten_committed: Mutex<Option<Option<LogId>>>,
    /// Where the log lives; without a writer thread, how long a sync takes beyond the write
    /// (a slow simulated disk).
    disk: Arc<dyn Disk>,
    /// Test-only (see `write_batch`).
    planted_bug: PlantedBug,
    /// `etcd_disk_wal_fsync_duration_seconds`: each sync, inline or on the writer thread.
    fsync: Histogram,
}

/// A write, in the order openraft issued it.
enum Op {
    Append {
        /// Tags the entries in the in-memory tail: once this op is synced they may be dropped
        /// from memory.
        seq: u64,
        /// Shared with the in-memory tail, so queueing them copies nothing.
        entries: Vec<Arc<Entry>>,
        flushed: IOFlushed<TypeConfig>,
    },
    /// Removes every entry from this index on.
    TruncateFrom(u64),
    /// Removes every entry up to this log id (inclusive) and records it as the last purged.
    Purge(LogId),
    SaveVote {
        vote: Vote,
        done: oneshot::Sender<io::Result<()>>,
    },
    SaveCommitted(Option<LogId>),
    /// Writes what is pending (the committed log id) and syncs.
    Sync,
}

/// The in-memory view of the log, always ahead of (or equal to) the disk.
struct MemLog {
    /// openraft's log reader reads the vote around every replication read: answered from here.
    vote: Option<Vote>,
    /// What `read_committed` answers; on disk it may lag (see the module docs).
    committed: Option<LogId>,
    /// Entries up to it are gone; a partly purged run on disk still holds some of them.
    last_purged: Option<LogId>,
    /// The last entry's log id, or the last purged one if there is no entry.
    last: Option<LogId>,
    /// From this index on, `tail` is the whole truth. Every entry below it (and above
    /// `last_purged`) is synced on disk and not waiting to be truncated.
    first: u64,
    /// Recent entries by index, each tagged with the seq of the append that wrote it.
    tail: BTreeMap<u64, (u64, Arc<Entry>)>,
    /// Seq for the next append.
    next_seq: u64,
}

impl MemLog {
    /// `entries` are in index order (openraft's contract).
    fn append(&mut self, seq: u64, entries: &[Arc<Entry>]) -> io::Result<()> {
        // openraft truncates before it overwrites, and a truncate moves `first` down.
        if let Some(low) = entries.iter().map(|e| e.index()).find(|i| *i < self.first) {
            return Err(io::Error::other(format!(
                "log append at {low}, below the in-memory tail at {}",
                self.first
            )));
        }
        for entry in entries {
            self.tail.insert(entry.index(), (seq, entry.clone()));
            self.last = Some(entry.log_id());
        }
        Ok(())
    }

    /// Returns the first index removed.
    fn truncate_after(&mut self, last: Option<LogId>) -> u64 {
        let from = last.as_ref().map(|id| id.index() + 1).unwrap_or(0);
        self.tail.split_off(&from);
        // Entries in [from, first) are on disk but stale: reading them from disk stops here,
        // and the queued truncate removes them.
        self.first = self.first.min(from);
        self.last = last.or(self.last_purged);
        from
    }

    fn purge(&mut self, upto: &LogId) {
        self.tail = self.tail.split_off(&(upto.index() + 1));
        self.first = self.first.max(upto.index() + 1);
        if self.last.as_ref().is_none_or(|last| last < upto) {
            self.last = Some(*upto);
        }
        self.last_purged = Some(*upto);
    }

    /// Drops synced entries beyond the ones kept for readers.
    fn trim(&mut self, synced_seq: u64) {
        while self.tail.len() > SYNCED_ENTRIES_KEPT {
            let Some(entry) = self.tail.first_entry() else {
                return;
            };
            if entry.get().0 > synced_seq {
                return;
            }
            self.first = entry.key() + 1;
            entry.remove();
        }
    }

    fn read(&self, start: u64, end: Bound<u64>, out: &mut Vec<Entry>) {
        let start = start.max(self.first);
        if range_is_empty(start, end) {
            return;
        }
        for (_, entry) in self
            .tail
            .range((Bound::Included(start), end))
            .map(|(_, v)| v)
        {
            out.push(Entry::clone(entry));
        }
    }
}

/// `BTreeMap::range` panics on an inverted range: check first.
fn range_is_empty(start: u64, end: Bound<u64>) -> bool {
    match end {
        Bound::Included(i) => start > i,
        Bound::Excluded(i) => start >= i,
        Bound::Unbounded => false,
    }
}

impl LogStore {
    /// Opens the log on `disk` (replaying it), and on a multi-thread runtime starts the log
    /// writer. Every sync is timed in `fsync`. The receiver fires once the log's files are
    /// closed (the last `LogStore` clone and the writer are gone).
    pub(crate) fn open(
        disk: Arc<dyn Disk>,
        planted_bug: PlantedBug,
        fsync: Histogram,
    ) -> io::Result<(LogStore, oneshot::Receiver<()>)> {
        let (wal, closed, recovered) = blocking(|| Wal::open(disk.clone()))?;
        let mem = Arc::new(Mutex::new(mem_log(recovered)));
        let writer = if multi_thread_runtime() {
            let (tx, rx) = mpsc::channel(WRITER_QUEUE_OPS);
            let (writer_wal, writer_mem) = (wal.clone(), mem.clone());
            let writer_fsync = fsync.clone();
            std::thread::Builder::new()
                .name("raft-log-writer".into())
                .spawn(move || {
                    run_writer(&writer_wal, &writer_mem, rx, planted_bug, &writer_fsync)
                })?;
            Some(tx)
        } else {
            None
        };
        let shared = Arc::new(Shared {
            wal,
            mem,
            writer,
            unwritten_committed: Mutex::new(None),
            disk,
            planted_bug,
            fsync,
        });
        Ok((LogStore { shared }, closed))
    }

    /// Whether the disk held a log when it was opened: entries, or a purge that followed a
    /// snapshot. False only on a member's first start.
    pub(crate) fn held_a_log(&self) -> bool {
        self.mem().last.is_some()
    }

    fn mem(&self) -> MutexGuard<'_, MemLog> {
        lock(&self.shared.mem)
    }

    /// Hands `op` to the log writer, or runs it inline without one.
    async fn submit(&self, op: Op) -> io::Result<()> {
        match &self.shared.writer {
            Some(tx) => tx
                .send(op)
                .await
                .map_err(|_| io::Error::other("the raft log writer stopped")),
            None => {
                let batch = vec![op];
                let started = Instant::now();
                let result = {
                    let mut unwritten = lock_unwritten(&self.shared.unwritten_committed);
                    let bug = self.shared.planted_bug;
                    blocking(|| write_batch(&self.shared.wal, &batch, &mut unwritten, bug))
                };
                let delay = self.shared.disk.sync_delay();
                if syncs(&batch) && !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                if syncs(&batch) {
                    // A simulated slow disk's delay is part of the sync.
                    observe_since(&self.shared.fsync, started);
                }
                finish_batch(&self.shared.mem, batch, result);
                Ok(())
            }
        }
    }

    /// Entries in `[start, end)`: the older ones from disk, the rest from memory, under one lock
    /// so that the read is atomic with respect to appends and truncations.
    fn entries(&self, start: u64, end: Bound<u64>) -> io::Result<Vec<Entry>> {
        let mem = self.mem();
        let mut out = Vec::new();
        if start < mem.first {
            let disk_end = match end {
                Bound::Included(i) if i < mem.first => Bound::Included(i),
                Bound::Excluded(i) if i < mem.first => Bound::Excluded(i),
                _ => Bound::Excluded(mem.first),
            };
            if !range_is_empty(start, disk_end) {
                let purged = mem.last_purged.as_ref().map(|id| id.index());
                out = blocking(|| self.shared.wal.read_entries(start, disk_end, purged))?;
            }
        }
        mem.read(start, end, &mut out);
        Ok(out)
    }
}

fn lock(mem: &Mutex<MemLog>) -> MutexGuard<'_, MemLog> {
    // The in-memory log is only changed by short code that does not panic.
    mem.lock().unwrap_or_else(|e| e.into_inner())
}

fn lock_unwritten(m: &Mutex<Option<Option<LogId>>>) -> MutexGuard<'_, Option<Option<LogId>>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .map(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
        .unwrap_or(false)
}

/// What the in-memory log starts from: nothing in memory, everything on disk.
fn mem_log(recovered: Recovered) -> MemLog {
    let Recovered {
        durable,
        last_entry,
    } = recovered;
    // Entries at or below the last purged may be left in a partly purged run.
    let last = last_entry.max(durable.last_purged);
    let first = last.as_ref().map(|id| id.index() + 1).unwrap_or(0);
    MemLog {
        vote: durable.vote,
        committed: durable.committed,
        last_purged: durable.last_purged,
        last,
        first,
        tail: BTreeMap::new(),
        next_seq: 1,
    }
}

/// The log writer thread: takes whatever is queued, writes it with one sync, reports it done.
/// Ends when every `LogStore` is dropped and the queue is drained. After a failed write every
/// later one fails too: the disk no longer holds what openraft believes it wrote.
fn run_writer(
    wal: &Wal,
    mem: &Mutex<MemLog>,
    mut rx: mpsc::Receiver<Op>,
    planted_bug: PlantedBug,
    fsync: &Histogram,
) {
    let mut unwritten_committed = None;
    let mut failed: Option<String> = None;
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        drain(&mut rx, &mut batch);
        if batch.len() > 1 {
            // Busy: give the producers a moment to add to this sync rather than the next.
            std::thread::yield_now();
            drain(&mut rx, &mut batch);
        }
        let result = match &failed {
            Some(msg) => Err(io::Error::other(msg.clone())),
            None => {
                let started = Instant::now();
                let result = write_batch(wal, &batch, &mut unwritten_committed, planted_bug);
                if syncs(&batch) {
                    observe_since(fsync, started);
                }
                result
            }
        };
        if let Err(e) = &result {
            tracing::error!(error = %e, "raft log write failed");
            failed.get_or_insert_with(|| format!("an earlier raft log write failed: {e}"));
        }
        finish_batch(mem, batch, result);
    }
    // Shutting down: keep the newest commit point, so a restart replays up to it.
    if failed.is_none() && unwritten_committed.is_some() {
        let _ = write_batch(wal, &[Op::Sync], &mut unwritten_committed, planted_bug);
    }
}

/// Takes what is queued, up to `MAX_OPS_PER_SYNC` in all.
fn drain(rx: &mut mpsc::Receiver<Op>, batch: &mut Vec<Op>) {
    while batch.len() < MAX_OPS_PER_SYNC {
        match rx.try_recv() {
            Ok(op) => batch.push(op),
            Err(_) => break,
        }
    }
}

/// Writes `batch` with one write and one sync. The committed log id need not be durable
/// (losing it only means openraft re-learns the commit point), so a batch that only moves it
/// writes nothing: it waits in `unwritten_committed` for the next sync. It always comes after
/// the appends it covers, as the queue is in openraft's order.
fn write_batch(
    wal: &Wal,
    batch: &[Op],
    unwritten_committed: &mut Option<Option<LogId>>,
    planted_bug: PlantedBug,
) -> io::Result<()> {
    for op in batch {
        if let Op::SaveCommitted(committed) = op {
            *unwritten_committed = Some(*committed);
        }
    }
    if !syncs(batch) {
        return Ok(());
    }
    let mut writes = Vec::new();
    // Consecutive appends are one record.
    let mut run: Vec<&Entry> = Vec::new();
    for op in batch {
        let write = match op {
            Op::Append { entries, .. } => {
                let follows = match (run.last(), entries.first()) {
                    (Some(last), Some(first)) => first.index() == last.index() + 1,
                    _ => true,
                };
                if !follows {
                    writes.push(Write::Entries(std::mem::take(&mut run)));
                }
                run.extend(entries.iter().map(|e| &**e));
                continue;
            }
            Op::TruncateFrom(from) => Write::TruncateFrom(*from),
            Op::Purge(upto) => Write::Purge(*upto),
            Op::SaveVote { vote, .. } => Write::Vote(*vote),
            Op::SaveCommitted(_) | Op::Sync => continue,
        };
        if !run.is_empty() {
            writes.push(Write::Entries(std::mem::take(&mut run)));
        }
        writes.push(write);
    }
    if !run.is_empty() {
        writes.push(Write::Entries(run));
    }
    if let Some(committed) = unwritten_committed.take() {
        writes.push(Write::Committed(committed));
    }
    wal.write(&writes, sync_needed(batch, planted_bug))
}

/// Whether `write_batch` writes (and syncs) anything for `batch`.
fn syncs(batch: &[Op]) -> bool {
    !batch.iter().all(|op| matches!(op, Op::SaveCommitted(_)))
}

/// One sync per batch: entries count towards a quorum only once they are on the platter.
/// Under the planted bug `AckBeforeFsync` (test-only) a batch that appends entries is not
/// synced, yet its entries are still reported flushed; a vote is always synced.
fn sync_needed(batch: &[Op], planted_bug: PlantedBug) -> bool {
    let appends = batch.iter().any(|op| matches!(op, Op::Append { .. }));
    let votes = batch.iter().any(|op| matches!(op, Op::SaveVote { .. }));
    !(planted_bug.is(PlantedBug::AckBeforeFsync) && appends && !votes)
}

/// Tells openraft how `batch` went, in order, and lets memory go of what is now synced.
fn finish_batch(mem: &Mutex<MemLog>, batch: Vec<Op>, result: io::Result<()>) {
    let error = result.err().map(|e| e.to_string());
    let synced_seq = batch.iter().rev().find_map(|op| match op {
        Op::Append { seq, .. } => Some(*seq),
        _ => None,
    });
    if let (None, Some(seq)) = (&error, synced_seq) {
        lock(mem).trim(seq);
    }
    let outcome = || match &error {
        None => Ok(()),
        Some(msg) => Err(io::Error::other(msg.clone())),
    };
    for op in batch {
        match op {
            Op::Append { flushed, .. } => flushed.io_completed(outcome()),
            Op::SaveVote { done, .. } => {
                // The caller may have gone (openraft shutting down): nothing to tell then.
                let _ = done.send(outcome());
            }
            Op::TruncateFrom(_) | Op::Purge(_) | Op::SaveCommitted(_) | Op::Sync => {}
        }
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
        Ok(self.mem().vote)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let mem = self.mem();
        Ok(LogState {
            last_purged_log_id: mem.last_purged,
            last_log_id: mem.last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    /// Returns once the vote is synced: openraft relies on it before it answers a candidate.
    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        self.mem().vote = Some(*vote);
        let (done, synced) = oneshot::channel();
        self.submit(Op::SaveVote { vote: *vote, done }).await?;
        synced
            .await
            .map_err(|_| io::Error::other("the raft log writer stopped"))?
    }

    /// Not synced on its own (see `write_batch`); the next append's sync makes it durable.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        self.mem().committed = committed;
        self.submit(Op::SaveCommitted(committed)).await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(self.mem().committed)
    }

    /// Returns as soon as the entries are readable; `callback` fires once they are synced.
    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Arc<Entry>> = entries.into_iter().map(Arc::new).collect();
        let seq = {
            let mut mem = self.mem();
            let seq = mem.next_seq;
            mem.next_seq += 1;
            mem.append(seq, &entries)?;
            seq
        };
        self.submit(Op::Append {
            seq,
            entries,
            flushed: callback,
        })
        .await
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let from = self.mem().truncate_after(last_log_id);
        self.submit(Op::TruncateFrom(from)).await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        self.mem().purge(&log_id);
        self.submit(Op::Purge(log_id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::test_entries::{blanks, log_id};
    use kubesim_net::MemDisk;
    use openraft::type_config::TypeConfigExt;

    fn open(disk: &MemDisk) -> LogStore {
        open_planted(disk, PlantedBug::None)
    }

    /// A sync histogram of its own, as each member has.
    fn fsync() -> Histogram {
        crate::metrics::StoreMetrics::new().wal_fsync()
    }

    fn open_planted(disk: &MemDisk, planted_bug: PlantedBug) -> LogStore {
        LogStore::open(Arc::new(disk.clone()), planted_bug, fsync())
            .unwrap()
            .0
    }

    /// Inline writes, as under turmoil.
    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map(|rt| rt.block_on(f))
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    }

    /// The log writer thread, as in production.
    fn run_threaded<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .map(|rt| rt.block_on(f))
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    }

    /// Appends `entries` and waits until they are synced.
    async fn append_synced(store: &mut LogStore, entries: Vec<Entry>) {
        let (tx, rx) = TypeConfig::oneshot();
        store.append(entries, IOFlushed::signal(tx)).await.unwrap();
        rx.await.unwrap().unwrap();
    }

    async fn indexes(
        store: &mut LogStore,
        range: impl RangeBounds<u64> + Clone + Debug + Send,
    ) -> Vec<(u64, u64)> {
        let got = store.try_get_log_entries(range).await.unwrap();
        got.iter()
            .map(|e| (e.log_id().leader_id.term, e.index()))
            .collect()
    }

    #[test]
    fn appended_entries_survive_a_power_cut_and_purge_moves_the_start() {
        let disk = MemDisk::new();
        run(async {
            let mut store = open(&disk);
            store
                .append(blanks(1, 1..=5), IOFlushed::noop())
                .await
                .unwrap();
            store.purge(log_id(1, 2)).await.unwrap();
        });
        disk.power_cut();
        run(async {
            let mut store = open(&disk);
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
            let mut store = open(&disk);
            let state = store.get_log_state().await.unwrap();
            assert_eq!(state.last_log_id, None);
            assert_eq!(store.read_vote().await.unwrap(), None);
            let vote = Vote::new(3, 7);
            store.save_vote(&vote).await.unwrap();
        });
        disk.power_cut();
        run(async {
            let mut store = open(&disk);
            assert_eq!(store.read_vote().await.unwrap(), Some(Vote::new(3, 7)));
        });
    }

    #[test]
    fn with_the_writer_thread_flushed_entries_and_votes_survive_a_power_cut() {
        let disk = MemDisk::new();
        run_threaded(async {
            let mut store = open(&disk);
            // Readable as soon as append returns, before the sync.
            store
                .append(blanks(1, 1..=3), IOFlushed::noop())
                .await
                .unwrap();
            assert_eq!(
                indexes(&mut store, 1..=3).await,
                vec![(1, 1), (1, 2), (1, 3)]
            );
            append_synced(&mut store, blanks(1, 4..=6)).await;
            store.save_vote(&Vote::new(2, 1)).await.unwrap();
            store.save_committed(Some(log_id(1, 6))).await.unwrap();
            // A vote is synced in order after every earlier write, committed included.
            store.save_vote(&Vote::new(2, 1)).await.unwrap();
        });
        disk.power_cut();
        run_threaded(async {
            let mut store = open(&disk);
            assert_eq!(store.read_vote().await.unwrap(), Some(Vote::new(2, 1)));
            assert_eq!(store.read_committed().await.unwrap(), Some(log_id(1, 6)));
            let state = store.get_log_state().await.unwrap();
            assert_eq!(state.last_log_id, Some(log_id(1, 6)));
            assert_eq!(indexes(&mut store, ..).await.len(), 6);
        });
    }

    #[test]
    fn a_truncated_tail_is_replaced_in_memory_at_once_and_on_disk_in_order() {
        let disk = MemDisk::new();
        run_threaded(async {
            let mut store = open(&disk);
            append_synced(&mut store, blanks(1, 1..=5)).await;
            store.truncate_after(Some(log_id(1, 2))).await.unwrap();
            assert_eq!(indexes(&mut store, 0..10).await, vec![(1, 1), (1, 2)]);
            append_synced(&mut store, blanks(2, 3..=4)).await;
            let state = store.get_log_state().await.unwrap();
            assert_eq!(state.last_log_id, Some(log_id(2, 4)));
        });
        disk.power_cut();
        run_threaded(async {
            let mut store = open(&disk);
            let want = vec![(1, 1), (1, 2), (2, 3), (2, 4)];
            assert_eq!(indexes(&mut store, 0..10).await, want);
        });
    }

    #[test]
    fn reads_span_entries_dropped_from_memory_and_entries_still_in_it() {
        let disk = MemDisk::new();
        run_threaded(async {
            let mut store = open(&disk);
            let total = SYNCED_ENTRIES_KEPT as u64 + 100;
            for start in (1..=total).step_by(1000) {
                append_synced(&mut store, blanks(1, start..=(start + 999).min(total))).await;
            }
            // The oldest synced entries left memory: they come from disk.
            assert!(store.mem().first > 1);
            let got = indexes(&mut store, 50..=total).await;
            let want: Vec<(u64, u64)> = (50..=total).map(|i| (1, i)).collect();
            assert_eq!(got, want);
            // Truncating below the in-memory tail hides the stale entries on disk at once.
            store.truncate_after(Some(log_id(1, 10))).await.unwrap();
            assert_eq!(indexes(&mut store, 9..20).await, vec![(1, 9), (1, 10)]);
        });
    }

    #[test]
    fn truncating_and_purging_inside_a_run_keeps_the_rest_of_it_on_disk() {
        let disk = MemDisk::new();
        run(async {
            let mut store = open(&disk);
            store
                .append(blanks(1, 1..=10), IOFlushed::noop())
                .await
                .unwrap();
            store
                .append(blanks(1, 11..=20), IOFlushed::noop())
                .await
                .unwrap();
            store.truncate_after(Some(log_id(1, 15))).await.unwrap();
            store
                .append(blanks(2, 16..=17), IOFlushed::noop())
                .await
                .unwrap();
            store.purge(log_id(1, 12)).await.unwrap();
        });
        disk.power_cut();
        run(async {
            let mut store = open(&disk);
            let state = store.get_log_state().await.unwrap();
            assert_eq!(state.last_purged_log_id, Some(log_id(1, 12)));
            assert_eq!(state.last_log_id, Some(log_id(2, 17)));
            let want = vec![(1, 13), (1, 14), (1, 15), (2, 16), (2, 17)];
            assert_eq!(indexes(&mut store, ..).await, want);
            assert_eq!(indexes(&mut store, 14..=16).await, want[1..4].to_vec());
            // Purging the whole log leaves nothing, and the last log id is the purged one.
            store.purge(log_id(2, 17)).await.unwrap();
            store
                .append(blanks(2, 18..=18), IOFlushed::noop())
                .await
                .unwrap();
        });
        disk.power_cut();
        run(async {
            let mut store = open(&disk);
            assert_eq!(indexes(&mut store, ..).await, vec![(2, 18)]);
        });
    }

    #[test]
    fn the_committed_log_id_is_written_with_the_next_sync_not_on_its_own() {
        let disk = MemDisk::new();
        run(async {
            let mut store = open(&disk);
            store
                .append(blanks(1, 1..=2), IOFlushed::noop())
                .await
                .unwrap();
            store.save_committed(Some(log_id(1, 1))).await.unwrap();
            assert_eq!(store.read_committed().await.unwrap(), Some(log_id(1, 1)));
        });
        disk.power_cut();
        run(async {
            let mut store = open(&disk);
            // No sync after it: it is lost, and that is allowed.
            assert_eq!(store.read_committed().await.unwrap(), None);
            store.save_committed(Some(log_id(1, 2))).await.unwrap();
            store
                .append(blanks(1, 3..=3), IOFlushed::noop())
                .await
                .unwrap();
        });
        disk.power_cut();
        run(async {
            let mut store = open(&disk);
            assert_eq!(store.read_committed().await.unwrap(), Some(log_id(1, 2)));
        });
    }

    #[test]
    fn one_sync_merges_consecutive_appends_and_keeps_the_order_of_truncates() {
        let disk = MemDisk::new();
        let (wal, _, recovered) = Wal::open(Arc::new(disk.clone())).unwrap();
        let mem = Mutex::new(mem_log(recovered));
        let append = |seq, entries: Vec<Entry>| Op::Append {
            seq,
            entries: entries.into_iter().map(Arc::new).collect(),
            flushed: IOFlushed::noop(),
        };
        let batch = vec![
            append(1, blanks(1, 1..=2)),
            append(2, blanks(1, 3..=4)),
            Op::SaveCommitted(Some(log_id(1, 2))),
            Op::TruncateFrom(4),
            append(3, blanks(2, 4..=5)),
        ];
        let mut unwritten = None;
        write_batch(&wal, &batch, &mut unwritten, PlantedBug::None).unwrap();
        finish_batch(&mem, batch, Ok(()));
        let got = wal.read_entries(0, Bound::Unbounded, None).unwrap();
        let got: Vec<(u64, u64)> = got
            .iter()
            .map(|e| (e.log_id().leader_id.term, e.index()))
            .collect();
        assert_eq!(got, vec![(1, 1), (1, 2), (1, 3), (2, 4), (2, 5)]);
        // Two runs: 1..=4 (merged), cut to 1..=3 by the truncate, and 4..=5.
        assert_eq!(wal.runs(), vec![(1, 3), (4, 5)]);
        drop(wal);
        let (_, _, recovered) = Wal::open(Arc::new(disk.clone())).unwrap();
        assert_eq!(recovered.durable.committed, Some(log_id(1, 2)));
    }

    /// Appends entries and waits until they are reported flushed, then the power goes while
    /// the store is still open (a crash, not a shutdown). What is left after a restart: the
    /// vote and the entries.
    fn left_after_a_power_cut(planted_bug: PlantedBug) -> (Option<Vote>, Vec<(u64, u64)>) {
        let disk = MemDisk::new();
        run(async {
            let mut store = open_planted(&disk, planted_bug);
            store.save_vote(&Vote::new(1, 1)).await.unwrap();
            append_synced(&mut store, blanks(1, 1..=3)).await;
            disk.power_cut();
        });
        run(async {
            let mut store = open(&disk);
            (
                store.read_vote().await.unwrap(),
                indexes(&mut store, ..).await,
            )
        })
    }

    #[test]
    fn entries_reported_flushed_survive_a_power_cut() {
        let (vote, entries) = left_after_a_power_cut(PlantedBug::None);
        assert_eq!(vote, Some(Vote::new(1, 1)));
        assert_eq!(entries, vec![(1, 1), (1, 2), (1, 3)]);
    }

    #[cfg(feature = "planted-bugs")]
    #[test]
    fn the_planted_ack_before_fsync_loses_entries_reported_flushed() {
        let (vote, entries) = left_after_a_power_cut(PlantedBug::AckBeforeFsync);
        assert_eq!(vote, Some(Vote::new(1, 1)));
        assert_eq!(entries, vec![]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_disk_delays_each_sync_in_tokio_time() {
        let disk = MemDisk::new();
        disk.set_sync_delay(std::time::Duration::from_millis(50));
        let mut store = open(&disk);
        let start = tokio::time::Instant::now();
        append_synced(&mut store, blanks(1, 1..=3)).await;
        assert_eq!(start.elapsed(), std::time::Duration::from_millis(50));
        // Moving the commit point writes nothing, so it waits for no sync.
        let start = tokio::time::Instant::now();
        store.save_committed(Some(log_id(1, 3))).await.unwrap();
        assert_eq!(start.elapsed(), std::time::Duration::ZERO);
        // One sync was timed, with the disk's delay; the commit point was not a sync.
        let fsync = &store.shared.fsync;
        assert_eq!(fsync.get_sample_count(), 1);
        assert!(
            (fsync.get_sample_sum() - 0.05).abs() < 1e-9,
            "{}",
            fsync.get_sample_sum()
        );
    }

    #[test]
    fn the_writer_thread_times_each_sync() {
        let disk = MemDisk::new();
        run_threaded(async {
            let mut store = open(&disk);
            append_synced(&mut store, blanks(1, 1..=3)).await;
            store.save_vote(&Vote::new(2, 1)).await.unwrap();
            // The append and the vote, one sync each: each was timed before it was reported.
            assert_eq!(store.shared.fsync.get_sample_count(), 2);
        });
    }

    #[test]
    fn an_append_below_the_in_memory_tail_is_refused_and_changes_nothing() {
        let disk = MemDisk::new();
        run(async {
            let mut store = open(&disk);
            store
                .append(blanks(1, 1..=3), IOFlushed::noop())
                .await
                .unwrap();
            store.purge(log_id(1, 2)).await.unwrap();
            let err = store.append(blanks(1, 1..=4), IOFlushed::noop()).await;
            assert!(err.is_err());
            assert_eq!(indexes(&mut store, ..).await, vec![(1, 3)]);
        });
    }
}
