//! The Raft log's files: an append-only write-ahead log in segments, as etcd keeps its WAL.
//!
//! Each group commit of the log writer (`log_store.rs`) appends its records to the newest
//! segment with one write and, unless it holds nothing that must be durable, one `fdatasync`.
//! A record is framed as `length (u32 LE) | crc32 of the payload (u32 LE) | payload`, the
//! payload a postcard-encoded [`Record`]. Opening replays every segment in order. In the
//! newest segment, the first record that is cut short, fails its checksum or does not decode
//! marks where a crash interrupted a write: the segment is cut there (nothing after it was
//! ever reported synced). The same in an older segment is corruption, and the member refuses
//! to start rather than lose entries it acknowledged.
//!
//! A segment is closed once it holds [`SEGMENT_BYTES`]; the next one starts with a
//! [`Record::State`] (the vote, the committed and the last purged log ids), so that older
//! segments can be removed once every entry in them is purged. Only the oldest segments are
//! removed, so the record of a truncation is never gone while entries it cancelled remain.
//!
//! Before, the log was a redb database (`raft-log.redb`): its copy-on-write commit (zeroed
//! page buffers, tree pages, a dozen page writes) made a sync cost the log writer about
//! 0.5 ms of CPU, where the write and `fdatasync` themselves are a fraction of that
//! (docs/benchmarks.md, run 24). A data dir that
//! still holds one is migrated when the member opens it ([`migrate`]).

use std::collections::BTreeMap;
use std::io;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use kubesim_net::{Disk, File};
use openraft::entry::RaftEntry;
use serde::{Deserialize, Serialize};

use super::{Entry, LogId, Vote, decode, encode};

/// Segment files are `raft-wal-<seq as 16 hex digits>.log`, in the order they were begun.
const SEGMENT_PREFIX: &str = "raft-wal-";
const SEGMENT_SUFFIX: &str = ".log";

/// A segment this long is closed and the next write begins a new one (etcd's WAL: 64 MB).
const SEGMENT_BYTES: u64 = 64 << 20;

/// `length` and `crc32`, both u32 little-endian.
const FRAME_BYTES: usize = 8;

/// The redb database the log used to live in; see [`migrate`].
const LEGACY_LOG_DB: &str = "raft-log.redb";

/// What the log records besides entries, as of a point in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Durable {
    pub(crate) vote: Option<Vote>,
    pub(crate) committed: Option<LogId>,
    pub(crate) last_purged: Option<LogId>,
}

/// One record, as it is written. [`Record`] is the same, as it is read: postcard writes a
/// slice of references to entries as it writes a vector of entries.
#[derive(Debug, Serialize)]
pub(crate) enum Write<'a> {
    /// The first record of a segment (see the module docs); written only by the WAL itself.
    State(Durable),
    /// Consecutive entries.
    Entries(Vec<&'a Entry>),
    /// Every entry from this index on is gone.
    TruncateFrom(u64),
    /// Every entry up to this log id (inclusive) is gone, and it is the last purged.
    Purge(LogId),
    Vote(Vote),
    Committed(Option<LogId>),
}

#[derive(Debug, Deserialize)]
enum Record {
    State(Durable),
    Entries(Vec<Entry>),
    TruncateFrom(u64),
    Purge(LogId),
    Vote(Vote),
    Committed(Option<LogId>),
}

/// What the log holds when it is opened.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Recovered {
    pub(crate) durable: Durable,
    /// The last entry's log id, if any entry is left after the last purged.
    pub(crate) last_entry: Option<LogId>,
}

/// The open log. Written by one writer at a time (the log writer thread, or the inline writer
/// on a current-thread runtime); read by openraft's log readers.
pub(crate) struct Wal {
    disk: Arc<dyn Disk>,
    /// [`SEGMENT_BYTES`]; smaller in tests.
    segment_bytes: u64,
    inner: Mutex<Inner>,
    /// Dropped with the `Wal`: a restart of the member waits for it (see `Db` in mod.rs).
    _closed: tokio::sync::oneshot::Sender<()>,
}

struct Inner {
    segments: BTreeMap<u64, Segment>,
    /// First index of each live run of entries -> where it is. Entries of a run above its
    /// `last` were truncated; readers skip them.
    runs: BTreeMap<u64, Run>,
    /// As the records written so far say, synced or not.
    durable: Durable,
}

struct Segment {
    file: Arc<dyn File>,
    len: u64,
}

/// Where the next write goes.
struct AppendAt {
    seq: u64,
    file: Arc<dyn File>,
    start: u64,
    /// For a new segment: what its first record says.
    state: Option<Durable>,
}

#[derive(Debug, Clone, Copy)]
struct Run {
    segment: u64,
    /// Of the payload, past the frame.
    offset: u64,
    len: u32,
    last: u64,
}

/// A change to the index, from a record read back or written.
enum Change {
    State(Durable),
    Run { first: u64, run: Run },
    TruncateFrom(u64),
    Purge(LogId),
    Vote(Vote),
    Committed(Option<LogId>),
}

impl Wal {
    /// Opens the log on `disk` (migrating a legacy redb log first), replays it, and cuts a
    /// write a crash interrupted off the newest segment. The receiver fires once the `Wal`
    /// is dropped.
    pub(crate) fn open(
        disk: Arc<dyn Disk>,
    ) -> io::Result<(Arc<Wal>, tokio::sync::oneshot::Receiver<()>, Recovered)> {
        Self::open_sized(disk, SEGMENT_BYTES)
    }

    fn open_sized(
        disk: Arc<dyn Disk>,
        segment_bytes: u64,
    ) -> io::Result<(Arc<Wal>, tokio::sync::oneshot::Receiver<()>, Recovered)> {
        if disk.size_bytes(LEGACY_LOG_DB) > 0 {
            migrate(&*disk)?;
        }
        let mut inner = Inner {
            segments: BTreeMap::new(),
            runs: BTreeMap::new(),
            durable: Durable::default(),
        };
        let names = disk.list_files(SEGMENT_PREFIX)?;
        let count = names.len();
        for (i, name) in names.into_iter().enumerate() {
            let seq = segment_seq(&name).ok_or_else(|| {
                invalid(format!(
                    "{name}: not a raft log segment name ({SEGMENT_PREFIX}<hex>{SEGMENT_SUFFIX})"
                ))
            })?;
            let file = disk.open_file(&name)?;
            let newest = i + 1 == count;
            let len = replay(&mut inner, seq, &*file, newest)
                .map_err(|e| io::Error::new(e.kind(), format!("raft log {name}: {e}")))?;
            inner.segments.insert(seq, Segment { file, len });
        }
        if inner.segments.is_empty() {
            let file = disk.open_file(&segment_name(1))?;
            inner.segments.insert(1, Segment { file, len: 0 });
        }
        let recovered = Recovered {
            durable: inner.durable,
            last_entry: last_entry(&inner)?,
        };
        let (closed, on_closed) = tokio::sync::oneshot::channel();
        let wal = Wal {
            disk,
            segment_bytes,
            inner: Mutex::new(inner),
            _closed: closed,
        };
        Ok((Arc::new(wal), on_closed, recovered))
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Only short code that does not panic runs under this lock.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `writes` with one write, and syncs it if `sync`. Only one caller at a time.
    pub(crate) fn write(&self, writes: &[Write<'_>], sync: bool) -> io::Result<()> {
        let AppendAt {
            seq,
            file,
            start,
            state,
        } = self.segment_for_write()?;
        let mut buf = Vec::new();
        let mut changes = Vec::with_capacity(writes.len() + 1);
        if let Some(state) = state {
            frame(&mut buf, &Write::State(state))?;
            changes.push(Change::State(state));
        }
        for write in writes {
            let offset = start + (buf.len() + FRAME_BYTES) as u64;
            let len = frame(&mut buf, write)?;
            changes.extend(change_of(write, seq, offset, len));
        }
        file.write_at(start, &buf)?;
        if sync {
            file.sync_data()?;
        }
        let removable = {
            let mut inner = self.inner();
            if let Some(segment) = inner.segments.get_mut(&seq) {
                segment.len = start + buf.len() as u64;
            }
            for change in changes {
                apply(&mut inner, change);
            }
            removable_segments(&mut inner)
        };
        // After the sync: the newest segment's State record stands in for what they held.
        for seq in removable {
            self.disk.remove_file(&segment_name(seq))?;
        }
        Ok(())
    }

    /// The newest segment and where to append to it; begins a new one once the newest is
    /// full. A segment's first record is always a State record (returned to be written):
    /// also in an empty newest segment, which a crash may have left between creating a
    /// segment and syncing its first record.
    fn segment_for_write(&self) -> io::Result<AppendAt> {
        let mut inner = self.inner();
        let (&seq, newest) = inner
            .segments
            .last_key_value()
            .ok_or_else(|| io::Error::other("the raft log has no segment"))?;
        if newest.len < self.segment_bytes {
            let state = (newest.len == 0).then_some(inner.durable);
            return Ok(AppendAt {
                seq,
                file: newest.file.clone(),
                start: newest.len,
                state,
            });
        }
        let next = seq + 1;
        let file = self.disk.open_file(&segment_name(next))?;
        file.set_len(0)?;
        inner.segments.insert(
            next,
            Segment {
                file: file.clone(),
                len: 0,
            },
        );
        Ok(AppendAt {
            seq: next,
            file,
            start: 0,
            state: Some(inner.durable),
        })
    }

    /// Entries in `[start, end)` from disk, leaving out purged and truncated ones.
    pub(crate) fn read_entries(
        &self,
        start: u64,
        end: Bound<u64>,
        last_purged: Option<u64>,
    ) -> io::Result<Vec<Entry>> {
        // Everything up to u64::MAX purged leaves nothing to read (and no index after it).
        let Some(first_live) = last_purged.map_or(Some(0), |p| p.checked_add(1)) else {
            return Ok(Vec::new());
        };
        let start = start.max(first_live);
        let wanted: Vec<(Arc<dyn File>, Run)> = {
            let inner = self.inner();
            // The run holding `start` begins at or before it.
            let from = match inner.runs.range(..=start).next_back() {
                Some((&first, _)) => first,
                None => start,
            };
            let mut wanted = Vec::new();
            for (&first, run) in inner.runs.range(from..) {
                if !before_end(first, end) {
                    break;
                }
                if run.last < start {
                    continue;
                }
                let segment = inner
                    .segments
                    .get(&run.segment)
                    .ok_or_else(|| io::Error::other("a raft log run's segment is gone"))?;
                wanted.push((segment.file.clone(), *run));
            }
            wanted
        };
        let mut out = Vec::new();
        for (file, run) in wanted {
            out.extend(
                read_run(&*file, &run)?
                    .into_iter()
                    .filter(|e| e.index() >= start && e.index() <= run.last)
                    .filter(|e| before_end(e.index(), end)),
            );
        }
        Ok(out)
    }

    /// First and last index of each live run.
    #[cfg(test)]
    pub(crate) fn runs(&self) -> Vec<(u64, u64)> {
        self.inner()
            .runs
            .iter()
            .map(|(f, r)| (*f, r.last))
            .collect()
    }
}

fn segment_name(seq: u64) -> String {
    format!("{SEGMENT_PREFIX}{seq:016x}{SEGMENT_SUFFIX}")
}

fn segment_seq(name: &str) -> Option<u64> {
    let hex = name
        .strip_prefix(SEGMENT_PREFIX)?
        .strip_suffix(SEGMENT_SUFFIX)?;
    u64::from_str_radix(hex, 16).ok()
}

/// Bytes of the raft log's segments on `disk`, without opening it (for the size metric).
pub(crate) fn size_on_disk(disk: &dyn Disk) -> u64 {
    let names = disk.list_files(SEGMENT_PREFIX).unwrap_or_default();
    names.iter().map(|n| disk.size_bytes(n)).sum::<u64>() + disk.size_bytes(LEGACY_LOG_DB)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Appends `write` framed to `buf`; returns the payload's length.
fn frame(buf: &mut Vec<u8>, write: &Write<'_>) -> io::Result<u32> {
    let payload = encode(write)?;
    let len = u32::try_from(payload.len())
        .map_err(|_| io::Error::other("a raft log record over 4 GiB"))?;
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    buf.extend_from_slice(&payload);
    Ok(len)
}

fn change_of(write: &Write<'_>, segment: u64, offset: u64, len: u32) -> Option<Change> {
    Some(match write {
        Write::State(state) => Change::State(*state),
        Write::Entries(entries) => {
            let (first, last) = (entries.first()?.index(), entries.last()?.index());
            let run = Run {
                segment,
                offset,
                len,
                last,
            };
            Change::Run { first, run }
        }
        Write::TruncateFrom(from) => Change::TruncateFrom(*from),
        Write::Purge(upto) => Change::Purge(*upto),
        Write::Vote(vote) => Change::Vote(*vote),
        Write::Committed(committed) => Change::Committed(*committed),
    })
}

fn apply(inner: &mut Inner, change: Change) {
    match change {
        Change::State(state) => {
            inner.durable = state;
            // A removed segment may come back after a crash (its removal was not synced):
            // its entries are purged, as this record says.
            if let Some(upto) = state.last_purged {
                inner.runs.retain(|_, run| run.last > upto.index());
            }
        }
        Change::Run { first, run } => {
            inner.runs.insert(first, run);
        }
        Change::TruncateFrom(from) => {
            inner.runs.split_off(&from);
            if let Some((_, run)) = inner.runs.range_mut(..from).next_back()
                && run.last >= from
            {
                run.last = from - 1;
            }
        }
        Change::Purge(upto) => {
            inner.durable.last_purged = Some(upto);
            inner.runs.retain(|_, run| run.last > upto.index());
        }
        Change::Vote(vote) => inner.durable.vote = Some(vote),
        Change::Committed(committed) => inner.durable.committed = committed,
    }
}

/// The oldest segments that hold no live entry, never the newest; dropped from `inner`.
/// Live runs are in index order and, as a truncation removes every run above it, in
/// segment order too: every segment older than the first live run's is dead.
fn removable_segments(inner: &mut Inner) -> Vec<u64> {
    let newest = inner.segments.keys().next_back().copied().unwrap_or(0);
    let oldest_live = inner
        .runs
        .values()
        .next()
        .map(|run| run.segment)
        .unwrap_or(newest)
        .min(newest);
    let removable: Vec<u64> = inner
        .segments
        .range(..oldest_live)
        .map(|(s, _)| *s)
        .collect();
    for seq in &removable {
        inner.segments.remove(seq);
    }
    removable
}

/// Replays one segment into `inner`; returns its length once a torn tail is cut off.
fn replay(inner: &mut Inner, seq: u64, file: &dyn File, newest: bool) -> io::Result<u64> {
    let len = file.len()?;
    let mut bytes =
        vec![0; usize::try_from(len).map_err(|_| io::Error::other("segment too large"))?];
    file.read_at(0, &mut bytes)?;
    let mut at = 0usize;
    while at < bytes.len() {
        match read_record(&bytes[at..]) {
            Ok((record, payload_len)) => {
                let offset = (at + FRAME_BYTES) as u64;
                if let Some(change) = change_of_record(&record, seq, offset, payload_len) {
                    apply(inner, change);
                }
                at += FRAME_BYTES + payload_len as usize;
            }
            Err(e) if newest => {
                tracing::warn!(segment = seq, offset = at, error = %e,
                    "cutting an unfinished write off the raft log (a crash interrupted it)");
                file.set_len(at as u64)?;
                file.sync_data()?;
                return Ok(at as u64);
            }
            Err(e) => return Err(invalid(format!("corrupt record at offset {at}: {e}"))),
        }
    }
    Ok(len)
}

/// The record at the start of `bytes` and its payload's length.
fn read_record(bytes: &[u8]) -> Result<(Record, u32), String> {
    let (len, crc) = match bytes {
        [l0, l1, l2, l3, c0, c1, c2, c3, ..] => (
            u32::from_le_bytes([*l0, *l1, *l2, *l3]),
            u32::from_le_bytes([*c0, *c1, *c2, *c3]),
        ),
        _ => return Err("a frame cut short".into()),
    };
    let payload = bytes
        .get(FRAME_BYTES..FRAME_BYTES + len as usize)
        .ok_or("a payload cut short")?;
    if len == 0 || crc32fast::hash(payload) != crc {
        return Err("a checksum mismatch".into());
    }
    let record = decode::<Record>(payload).map_err(|e| e.to_string())?;
    Ok((record, len))
}

/// `None` for an empty run (never written).
fn change_of_record(record: &Record, segment: u64, offset: u64, len: u32) -> Option<Change> {
    Some(match record {
        Record::State(state) => Change::State(*state),
        Record::Entries(entries) => Change::Run {
            first: entries.first()?.index(),
            run: Run {
                segment,
                offset,
                len,
                last: entries.last()?.index(),
            },
        },
        Record::TruncateFrom(from) => Change::TruncateFrom(*from),
        Record::Purge(upto) => Change::Purge(*upto),
        Record::Vote(vote) => Change::Vote(*vote),
        Record::Committed(committed) => Change::Committed(*committed),
    })
}

fn read_run(file: &dyn File, run: &Run) -> io::Result<Vec<Entry>> {
    let mut payload = vec![0; run.len as usize];
    file.read_at(run.offset, &mut payload)?;
    match decode::<Record>(&payload)? {
        Record::Entries(entries) => Ok(entries),
        _ => Err(invalid(format!("no entries at offset {}", run.offset))),
    }
}

/// The log id of the last live entry: the last run's, cut at its `last`.
fn last_entry(inner: &Inner) -> io::Result<Option<LogId>> {
    let Some((_, run)) = inner.runs.last_key_value() else {
        return Ok(None);
    };
    let segment = inner
        .segments
        .get(&run.segment)
        .ok_or_else(|| io::Error::other("a raft log run's segment is gone"))?;
    Ok(read_run(&*segment.file, run)?
        .iter()
        .rev()
        .find(|e| e.index() <= run.last)
        .map(|e| e.log_id()))
}

fn before_end(index: u64, end: Bound<u64>) -> bool {
    match end {
        Bound::Included(i) => index <= i,
        Bound::Excluded(i) => index < i,
        Bound::Unbounded => true,
    }
}

/// Moves a log kept in redb (before the WAL) into a first segment, then removes the database.
/// Any segment already there is from a migration a crash interrupted: the database, removed
/// only once the segment is synced, is still the whole truth.
fn migrate(disk: &dyn Disk) -> io::Result<()> {
    use redb::{ReadableDatabase, ReadableTable, TableDefinition};
    const RUNS: TableDefinition<u64, &[u8]> = TableDefinition::new("runs");
    const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    let redb_err = |e: redb::Error| io::Error::other(format!("{LEGACY_LOG_DB}: {e}"));

    for name in disk.list_files(SEGMENT_PREFIX)? {
        disk.remove_file(&name)?;
    }
    let file = disk.open_file(&segment_name(1))?;
    file.set_len(0)?;
    {
        let db = disk
            .open_database(LEGACY_LOG_DB)
            .map_err(|e| redb_err(e.into()))?;
        let tx = db.begin_read().map_err(|e| redb_err(e.into()))?;
        let mut durable = Durable::default();
        let mut runs_out: Vec<Vec<Entry>> = Vec::new();
        if let Ok(meta) = tx.open_table(META) {
            let get = |key: &str| -> io::Result<Option<Vec<u8>>> {
                Ok(meta
                    .get(key)
                    .map_err(|e| redb_err(e.into()))?
                    .map(|v| v.value().to_vec()))
            };
            durable.vote = get("vote")?.map(|b| decode(&b)).transpose()?;
            durable.committed = match get("committed")? {
                Some(b) => decode::<Option<LogId>>(&b)?,
                None => None,
            };
            durable.last_purged = get("last_purged")?.map(|b| decode(&b)).transpose()?;
        }
        if let Ok(runs) = tx.open_table(RUNS) {
            for item in runs.iter().map_err(|e| redb_err(e.into()))? {
                let (_, bytes) = item.map_err(|e| redb_err(e.into()))?;
                runs_out.push(decode(bytes.value())?);
            }
        }
        let mut buf = Vec::new();
        frame(&mut buf, &Write::State(durable))?;
        // redb held partly purged runs and rewrote truncated ones: keep what is live.
        let purged = durable.last_purged.map(|id| id.index());
        for run in &runs_out {
            let live: Vec<&Entry> = run
                .iter()
                .filter(|e| purged.is_none_or(|p| e.index() > p))
                .collect();
            if !live.is_empty() {
                frame(&mut buf, &Write::Entries(live))?;
            }
        }
        file.write_at(0, &buf)?;
        file.sync_data()?;
    }
    disk.remove_file(LEGACY_LOG_DB)?;
    tracing::info!(
        "moved the raft log from {LEGACY_LOG_DB} to {}",
        segment_name(1)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use kubesim_net::MemDisk;

    use super::*;
    use crate::raft::test_entries::{blanks, log_id};

    fn open(disk: &MemDisk, segment_bytes: u64) -> (Arc<Wal>, Recovered) {
        let (wal, _, recovered) = Wal::open_sized(Arc::new(disk.clone()), segment_bytes).unwrap();
        (wal, recovered)
    }

    fn append(wal: &Wal, entries: &[Entry]) {
        wal.write(&[Write::Entries(entries.iter().collect())], true)
            .unwrap();
    }

    fn indexes(wal: &Wal) -> Vec<(u64, u64)> {
        wal.read_entries(0, Bound::Unbounded, None)
            .unwrap()
            .iter()
            .map(|e| (e.log_id().leader_id.term, e.index()))
            .collect()
    }

    fn segment_names(disk: &MemDisk) -> Vec<String> {
        disk.list_files(SEGMENT_PREFIX).unwrap()
    }

    #[test]
    fn a_write_cut_short_by_a_crash_is_cut_off_and_the_log_goes_on() {
        let disk = MemDisk::new();
        let (wal, _) = open(&disk, SEGMENT_BYTES);
        append(&wal, &blanks(1, 1..=3));
        drop(wal);
        let name = &segment_names(&disk)[0];
        let file = disk.open_file(name).unwrap();
        let synced = file.len().unwrap();
        // Half a frame, then a whole frame whose payload is not what its checksum says.
        for junk in [&[7u8, 0, 0][..], &[4, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9, 9][..]] {
            file.set_len(synced).unwrap();
            file.write_at(synced, junk).unwrap();
            file.sync_data().unwrap();
            let (wal, recovered) = open(&disk, SEGMENT_BYTES);
            assert_eq!(recovered.last_entry, Some(log_id(1, 3)));
            assert_eq!(file.len().unwrap(), synced, "the torn write is cut off");
            append(&wal, &blanks(1, 4..=4));
            assert_eq!(indexes(&wal), [(1, 1), (1, 2), (1, 3), (1, 4)]);
            wal.write(&[Write::TruncateFrom(4)], true).unwrap();
        }
    }

    #[test]
    fn reads_leave_out_what_is_purged_up_to_the_last_index() {
        let disk = MemDisk::new();
        let (wal, _) = open(&disk, SEGMENT_BYTES);
        append(&wal, &blanks(1, 1..=3));
        let read = |purged| {
            wal.read_entries(0, Bound::Unbounded, purged)
                .unwrap()
                .iter()
                .map(|e| e.index())
                .collect::<Vec<_>>()
        };
        assert_eq!(read(None), [1, 2, 3]);
        assert_eq!(read(Some(1)), [2, 3]);
        assert_eq!(read(Some(3)), Vec::<u64>::new());
        assert_eq!(
            read(Some(u64::MAX)),
            Vec::<u64>::new(),
            "no overflow past the last index"
        );
    }

    #[test]
    fn a_bad_record_in_an_older_segment_refuses_to_open() {
        let disk = MemDisk::new();
        let (wal, _) = open(&disk, 1);
        append(&wal, &blanks(1, 1..=2));
        append(&wal, &blanks(1, 3..=4));
        drop(wal);
        let names = segment_names(&disk);
        assert_eq!(names.len(), 2, "a full segment is closed");
        let file = disk.open_file(&names[0]).unwrap();
        file.write_at(FRAME_BYTES as u64, &[0xff]).unwrap();
        let err = Wal::open_sized(Arc::new(disk.clone()), 1).err().unwrap();
        assert!(err.to_string().contains(&names[0]), "{err}");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn purged_segments_are_removed_and_the_vote_outlives_them() {
        let disk = MemDisk::new();
        let (wal, _) = open(&disk, 1);
        wal.write(&[Write::Vote(Vote::new(3, 1))], true).unwrap();
        append(&wal, &blanks(3, 1..=2));
        append(&wal, &blanks(3, 3..=4));
        append(&wal, &blanks(3, 5..=6));
        // Every write closes its segment here. The first held only the vote: the second's
        // State record carries it.
        let names = |seqs: &[u64]| seqs.iter().map(|s| segment_name(*s)).collect::<Vec<_>>();
        assert_eq!(segment_names(&disk), names(&[2, 3, 4]));
        // 3 is still live: its segment and every later one stay.
        wal.write(&[Write::Purge(log_id(3, 2))], true).unwrap();
        assert_eq!(segment_names(&disk), names(&[3, 4, 5]));
        wal.write(&[Write::Purge(log_id(3, 4))], true).unwrap();
        assert_eq!(segment_names(&disk), names(&[4, 5, 6]));
        assert_eq!(indexes(&wal), [(3, 5), (3, 6)]);
        drop(wal);
        disk.power_cut();
        let (wal, recovered) = open(&disk, 1);
        assert_eq!(recovered.durable.vote, Some(Vote::new(3, 1)));
        assert_eq!(recovered.durable.last_purged, Some(log_id(3, 4)));
        assert_eq!(recovered.last_entry, Some(log_id(3, 6)));
        assert_eq!(indexes(&wal), [(3, 5), (3, 6)]);
    }

    #[test]
    fn a_removed_segment_that_comes_back_after_a_crash_changes_nothing() {
        let disk = MemDisk::new();
        let (wal, _) = open(&disk, 1);
        append(&wal, &blanks(1, 1..=2));
        let first = segment_names(&disk)[0].clone();
        let old = disk.open_file(&first).unwrap();
        let mut bytes = vec![0; old.len().unwrap() as usize];
        old.read_at(0, &mut bytes).unwrap();
        wal.write(&[Write::Purge(log_id(1, 2))], true).unwrap();
        // Its State record says 2 is purged; this write removes the first two segments.
        append(&wal, &blanks(1, 3..=4));
        assert_eq!(segment_names(&disk).len(), 1);
        drop(wal);
        // The first segment's removal did not reach the disk, the second's did.
        let back = disk.open_file(&first).unwrap();
        back.write_at(0, &bytes).unwrap();
        back.sync_data().unwrap();
        let (wal, recovered) = open(&disk, 1);
        assert_eq!(wal.runs(), [(3, 4)]);
        assert_eq!(indexes(&wal), [(1, 3), (1, 4)]);
        assert_eq!(recovered.last_entry, Some(log_id(1, 4)));
        // The next write removes it again.
        append(&wal, &blanks(1, 5..=5));
        assert!(!segment_names(&disk).contains(&first));
    }

    #[test]
    fn a_segment_left_empty_by_a_crash_still_carries_the_vote_once_written() {
        let disk = MemDisk::new();
        let (wal, _) = open(&disk, 1);
        wal.write(&[Write::Vote(Vote::new(4, 1))], true).unwrap();
        append(&wal, &blanks(4, 1..=2));
        drop(wal);
        // A crash between creating the next segment and syncing its first record.
        disk.open_file(&segment_name(3)).unwrap();
        disk.power_cut();
        let (wal, _) = open(&disk, 1_000_000);
        append(&wal, &blanks(4, 3..=4));
        // Removes every older segment: only the third is left.
        wal.write(&[Write::Purge(log_id(4, 2))], true).unwrap();
        assert_eq!(segment_names(&disk), [segment_name(3)]);
        drop(wal);
        let (wal, recovered) = open(&disk, 1_000_000);
        assert_eq!(recovered.durable.vote, Some(Vote::new(4, 1)));
        assert_eq!(indexes(&wal), [(4, 3), (4, 4)]);
    }

    #[test]
    fn a_truncation_outlives_the_removal_of_older_segments() {
        let disk = MemDisk::new();
        let (wal, _) = open(&disk, 1);
        append(&wal, &blanks(1, 1..=4));
        wal.write(&[Write::TruncateFrom(3)], true).unwrap();
        append(&wal, &blanks(2, 3..=3));
        append(&wal, &blanks(2, 4..=5));
        wal.write(&[Write::Purge(log_id(2, 3))], true).unwrap();
        drop(wal);
        disk.power_cut();
        let (wal, recovered) = open(&disk, 1);
        assert_eq!(recovered.last_entry, Some(log_id(2, 5)));
        assert_eq!(indexes(&wal), [(2, 4), (2, 5)]);
        assert_eq!(wal.runs(), [(4, 5)]);
    }

    #[test]
    fn a_log_kept_in_redb_is_moved_into_a_segment() {
        use redb::TableDefinition;
        const RUNS: TableDefinition<u64, &[u8]> = TableDefinition::new("runs");
        const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
        let disk = MemDisk::new();
        // A half-done migration left a segment behind: it is redone from the database.
        disk.open_file(&segment_name(1))
            .unwrap()
            .write_at(0, b"junk")
            .unwrap();
        {
            let db = disk.open_database(LEGACY_LOG_DB).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut runs = tx.open_table(RUNS).unwrap();
                let mut meta = tx.open_table(META).unwrap();
                runs.insert(1, encode(&blanks(1, 1..=3)).unwrap().as_slice())
                    .unwrap();
                runs.insert(4, encode(&blanks(2, 4..=5)).unwrap().as_slice())
                    .unwrap();
                meta.insert("vote", encode(&Vote::new(2, 1)).unwrap().as_slice())
                    .unwrap();
                let committed = Some(log_id(2, 4));
                meta.insert("committed", encode(&committed).unwrap().as_slice())
                    .unwrap();
                meta.insert("last_purged", encode(&log_id(1, 2)).unwrap().as_slice())
                    .unwrap();
            }
            tx.commit().unwrap();
        }
        let (wal, recovered) = open(&disk, SEGMENT_BYTES);
        assert_eq!(disk.size_bytes(LEGACY_LOG_DB), 0, "the database is gone");
        assert_eq!(recovered.durable.vote, Some(Vote::new(2, 1)));
        assert_eq!(recovered.durable.committed, Some(log_id(2, 4)));
        assert_eq!(recovered.durable.last_purged, Some(log_id(1, 2)));
        assert_eq!(recovered.last_entry, Some(log_id(2, 5)));
        assert_eq!(indexes(&wal), [(1, 3), (2, 4), (2, 5)]);
        drop(wal);
        disk.power_cut();
        let (wal, _) = open(&disk, SEGMENT_BYTES);
        assert_eq!(indexes(&wal), [(1, 3), (2, 4), (2, 5)]);
    }
}
