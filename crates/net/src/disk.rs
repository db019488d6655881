//! Disk: where redb databases and plain files (the Raft log's segments) live.
//!
//! Production keeps each database and each file under the data dir. The simulation uses
//! [`MemDisk`]: each is a byte vector that survives a simulated crash, and a crash
//! ([`MemDisk::power_cut`]) throws away every write since the last `sync_data`, exactly what a
//! real disk may do when the power goes.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redb::{Builder, Database, DatabaseError, StorageBackend};

pub trait Disk: Send + Sync + 'static {
    /// Opens (creating if absent) the database called `name`.
    fn open_database(&self, name: &str) -> Result<Database, DatabaseError>;
    /// Bytes the database or file called `name` occupies; 0 if it does not exist.
    fn size_bytes(&self, name: &str) -> u64;
    /// Opens the plain file called `name`, creating it (durably: the new name survives a
    /// crash) if absent.
    fn open_file(&self, name: &str) -> io::Result<Arc<dyn File>>;
    /// The names of the plain files that start with `prefix`, sorted.
    fn list_files(&self, prefix: &str) -> io::Result<Vec<String>>;
    /// Removes the plain file called `name`; removing one that is absent is not an error.
    /// Not synced: after a crash the file may be back, so callers must tolerate that.
    fn remove_file(&self, name: &str) -> io::Result<()>;
    /// How long a sync takes beyond the write itself. Simulation-only: a real disk is as
    /// slow as it is, so only [`MemDisk`] reports anything but zero.
    fn sync_delay(&self) -> Duration {
        Duration::ZERO
    }
}

/// A plain file: positioned reads and writes, and a sync that makes what was written survive
/// a power cut. Shared by the writer and its readers, so every method takes `&self`.
// `len` is a file's length, as std's `File::metadata().len()`; "empty" means nothing here.
#[allow(clippy::len_without_is_empty)]
pub trait File: Send + Sync + 'static {
    fn len(&self) -> io::Result<u64>;
    /// Reads exactly `out.len()` bytes at `offset`; an error if the file is shorter.
    fn read_at(&self, offset: u64, out: &mut [u8]) -> io::Result<()>;
    /// Writes all of `data` at `offset`, growing the file if needed.
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Cuts (or zero-extends) the file to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// `fdatasync`: everything written so far survives a power cut once this returns.
    fn sync_data(&self) -> io::Result<()>;
}

/// Files under one directory (`--data-dir`).
#[derive(Debug, Clone)]
pub struct DirDisk {
    root: PathBuf,
}

impl DirDisk {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirDisk { root: root.into() }
    }
}

impl Disk for DirDisk {
    fn open_database(&self, name: &str) -> Result<Database, DatabaseError> {
        std::fs::create_dir_all(&self.root).map_err(|e| DatabaseError::Storage(e.into()))?;
        Builder::new().create(self.root.join(name))
    }

    fn size_bytes(&self, name: &str) -> u64 {
        std::fs::metadata(self.root.join(name))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    fn open_file(&self, name: &str) -> io::Result<Arc<dyn File>> {
        std::fs::create_dir_all(&self.root)?;
        let path = self.root.join(name);
        let existed = path.exists();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        if !existed {
            // A new name is durable only once its directory is synced.
            std::fs::File::open(&self.root)?.sync_all()?;
        }
        Ok(Arc::new(DirFile(file)))
    }

    fn list_files(&self, prefix: &str) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(names),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            if let Some(name) = entry.file_name().to_str()
                && name.starts_with(prefix)
                && entry.file_type()?.is_file()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn remove_file(&self, name: &str) -> io::Result<()> {
        match std::fs::remove_file(self.root.join(name)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

/// A file of a [`DirDisk`].
struct DirFile(std::fs::File);

impl File for DirFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn read_at(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.0, out, offset)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.0, data, offset)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
}

/// The bytes of one simulated database or file: what the OS has (`current`) and what is on
/// the platter (`durable`).
#[derive(Debug, Default)]
struct MemFile {
    current: Vec<u8>,
    durable: Vec<u8>,
    /// `current` and `durable` agree on at least their first `clean` bytes, so a sync copies
    /// only what changed since (an append-only file syncs often and grows long).
    clean: usize,
    /// Bumped by every power cut. A backend opened before the cut belongs to a process that
    /// no longer exists: its writes and syncs (e.g. redb flushing as it is dropped) are ignored.
    epoch: u64,
}

/// A simulated disk shared by every incarnation of one simulated node.
#[derive(Debug, Clone, Default)]
pub struct MemDisk {
    files: Arc<Mutex<BTreeMap<String, Arc<Mutex<MemFile>>>>>,
    /// [`Disk::sync_delay`]: set by the simulation to model a slow disk; shared by every
    /// clone, like the files.
    sync_delay: Arc<Mutex<Duration>>,
}

impl MemDisk {
    pub fn new() -> Self {
        Self::default()
    }

    /// The power goes out: every file loses what was written since its last sync, and the
    /// databases opened before the cut can no longer change the disk.
    pub fn power_cut(&self) {
        let files = lock(&self.files);
        for file in files.values() {
            let mut file = lock(file);
            file.current = file.durable.clone();
            file.clean = file.current.len();
            file.epoch += 1;
        }
    }

    /// From now on every sync takes `delay` longer (see [`Disk::sync_delay`]).
    pub fn set_sync_delay(&self, delay: Duration) {
        *lock(&self.sync_delay) = delay;
    }

    fn file(&self, name: &str) -> Arc<Mutex<MemFile>> {
        lock(&self.files)
            .entry(name.to_owned())
            .or_default()
            .clone()
    }
}

/// Plain files and databases share one name space on a `MemDisk`; a plain file is a
/// [`MemBackend`] too, so both model a power cut the same way.
const FILE_PREFIX: &str = "file:";

impl Disk for MemDisk {
    fn open_database(&self, name: &str) -> Result<Database, DatabaseError> {
        let file = self.file(name);
        let epoch = lock(&file).epoch;
        Builder::new().create_with_backend(MemBackend { file, epoch })
    }

    fn size_bytes(&self, name: &str) -> u64 {
        let files = lock(&self.files);
        [name.to_owned(), format!("{FILE_PREFIX}{name}")]
            .iter()
            .filter_map(|n| files.get(n))
            .map(|f| lock(f).current.len() as u64)
            .sum()
    }

    fn open_file(&self, name: &str) -> io::Result<Arc<dyn File>> {
        let file = self.file(&format!("{FILE_PREFIX}{name}"));
        let epoch = lock(&file).epoch;
        Ok(Arc::new(MemBackend { file, epoch }))
    }

    fn list_files(&self, prefix: &str) -> io::Result<Vec<String>> {
        let full = format!("{FILE_PREFIX}{prefix}");
        Ok(lock(&self.files)
            .keys()
            .filter(|name| name.starts_with(&full))
            .map(|name| name[FILE_PREFIX.len()..].to_owned())
            .collect())
    }

    /// A removal is durable at once (the simulation does not model a directory's sync). As on
    /// a [`DirDisk`], a database is a file too: this removes one called `name`.
    fn remove_file(&self, name: &str) -> io::Result<()> {
        let mut files = lock(&self.files);
        files.remove(&format!("{FILE_PREFIX}{name}"));
        files.remove(name);
        Ok(())
    }

    fn sync_delay(&self) -> Duration {
        *lock(&self.sync_delay)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The simulated disk holds plain bytes; a panic elsewhere cannot leave them half-updated.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug)]
struct MemBackend {
    file: Arc<Mutex<MemFile>>,
    epoch: u64,
}

type IoResult<T> = Result<T, std::io::Error>;

fn out_of_range() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "read past end of file")
}

impl StorageBackend for MemBackend {
    fn len(&self) -> IoResult<u64> {
        File::len(self)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> IoResult<()> {
        File::read_at(self, offset, out)
    }

    fn set_len(&self, len: u64) -> IoResult<()> {
        File::set_len(self, len)
    }

    fn sync_data(&self) -> IoResult<()> {
        File::sync_data(self)
    }

    fn write(&self, offset: u64, data: &[u8]) -> IoResult<()> {
        File::write_at(self, offset, data)
    }
}

/// Every write and sync of a handle opened before the last power cut is ignored.
impl File for MemBackend {
    fn len(&self) -> IoResult<u64> {
        Ok(lock(&self.file).current.len() as u64)
    }

    fn read_at(&self, offset: u64, out: &mut [u8]) -> IoResult<()> {
        let file = lock(&self.file);
        let start = usize::try_from(offset).map_err(|_| out_of_range())?;
        let end = start.checked_add(out.len()).ok_or_else(out_of_range)?;
        let bytes = file.current.get(start..end).ok_or_else(out_of_range)?;
        out.copy_from_slice(bytes);
        Ok(())
    }

    fn set_len(&self, len: u64) -> IoResult<()> {
        let len = usize::try_from(len).map_err(|_| out_of_range())?;
        let mut file = lock(&self.file);
        if file.epoch == self.epoch {
            file.current.resize(len, 0);
            file.clean = file.clean.min(len);
        }
        Ok(())
    }

    fn sync_data(&self) -> IoResult<()> {
        let mut file = lock(&self.file);
        if file.epoch == self.epoch {
            let MemFile {
                current,
                durable,
                clean,
                ..
            } = &mut *file;
            durable.truncate(*clean);
            durable.extend_from_slice(&current[*clean..]);
            *clean = current.len();
        }
        Ok(())
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> IoResult<()> {
        let mut file = lock(&self.file);
        if file.epoch != self.epoch {
            return Ok(());
        }
        let start = usize::try_from(offset).map_err(|_| out_of_range())?;
        let end = start.checked_add(data.len()).ok_or_else(out_of_range)?;
        if file.current.len() < end {
            file.current.resize(end, 0);
        }
        file.current[start..end].copy_from_slice(data);
        file.clean = file.clean.min(start);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{ReadableDatabase, TableDefinition};

    const T: TableDefinition<&str, u64> = TableDefinition::new("t");

    fn put(db: &Database, k: &str, v: u64) {
        let tx = db.begin_write().unwrap();
        tx.open_table(T).unwrap().insert(k, v).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn committed_data_survives_a_power_cut() {
        let disk = MemDisk::new();
        let db = disk.open_database("log").unwrap();
        put(&db, "a", 1);
        drop(db);
        disk.power_cut();
        let db = disk.open_database("log").unwrap();
        let tx = db.begin_read().unwrap();
        assert_eq!(
            tx.open_table(T).unwrap().get("a").unwrap().unwrap().value(),
            1
        );
    }

    #[test]
    fn the_sync_delay_is_shared_by_every_clone() {
        let disk = MemDisk::new();
        assert_eq!(disk.sync_delay(), Duration::ZERO);
        let clone = disk.clone();
        disk.set_sync_delay(Duration::from_millis(50));
        assert_eq!(clone.sync_delay(), Duration::from_millis(50));
        assert_eq!(DirDisk::new("unused").sync_delay(), Duration::ZERO);
    }

    #[test]
    fn unsynced_writes_are_lost_in_a_power_cut() {
        let disk = MemDisk::new();
        let db = disk.open_database("log").unwrap();
        put(&db, "a", 1);
        let mut tx = db.begin_write().unwrap();
        tx.set_durability(redb::Durability::None).unwrap();
        tx.open_table(T).unwrap().insert("b", 2).unwrap();
        tx.commit().unwrap();
        disk.power_cut();
        drop(db);
        let db = disk.open_database("log").unwrap();
        let tx = db.begin_read().unwrap();
        let table = tx.open_table(T).unwrap();
        assert!(table.get("a").unwrap().is_some());
        assert!(table.get("b").unwrap().is_none());
    }

    fn contents(file: &dyn File) -> Vec<u8> {
        let mut out = vec![0; file.len().unwrap() as usize];
        file.read_at(0, &mut out).unwrap();
        out
    }

    #[test]
    fn a_file_keeps_what_was_synced_and_loses_the_rest_in_a_power_cut() {
        let disk = MemDisk::new();
        let file = disk.open_file("log-1").unwrap();
        file.write_at(0, b"abc").unwrap();
        file.sync_data().unwrap();
        file.write_at(3, b"def").unwrap();
        file.write_at(1, b"X").unwrap();
        assert_eq!(contents(&*file), b"aXcdef");
        disk.power_cut();
        // The handle belongs to a process that is gone: it changes nothing now.
        file.write_at(0, b"zzz").unwrap();
        file.sync_data().unwrap();
        let reopened = disk.open_file("log-1").unwrap();
        assert_eq!(contents(&*reopened), b"abc");
        assert_eq!(disk.size_bytes("log-1"), 3);
    }

    #[test]
    fn a_sync_after_a_rewrite_inside_the_synced_part_keeps_the_rewrite() {
        let disk = MemDisk::new();
        let file = disk.open_file("f").unwrap();
        file.write_at(0, b"abcdef").unwrap();
        file.sync_data().unwrap();
        file.set_len(2).unwrap();
        file.write_at(2, b"Z").unwrap();
        file.sync_data().unwrap();
        disk.power_cut();
        assert_eq!(contents(&*disk.open_file("f").unwrap()), b"abZ");
    }

    #[test]
    fn files_are_listed_by_prefix_in_order_and_removed() {
        let disk = MemDisk::new();
        for name in ["wal-2", "wal-1", "other"] {
            disk.open_file(name).unwrap();
        }
        disk.open_database("wal-db").unwrap();
        assert_eq!(disk.list_files("wal-").unwrap(), ["wal-1", "wal-2"]);
        disk.remove_file("wal-1").unwrap();
        disk.remove_file("absent").unwrap();
        assert_eq!(disk.list_files("wal-").unwrap(), ["wal-2"]);
    }

    #[test]
    fn a_dir_disk_file_reads_back_what_was_written_and_is_listed() {
        let dir = tempfile::tempdir().unwrap();
        let disk = DirDisk::new(dir.path().join("data"));
        assert!(disk.list_files("wal-").unwrap().is_empty());
        let file = disk.open_file("wal-1").unwrap();
        file.write_at(0, b"hello").unwrap();
        file.write_at(5, b" world").unwrap();
        file.sync_data().unwrap();
        file.set_len(5).unwrap();
        assert_eq!(contents(&*disk.open_file("wal-1").unwrap()), b"hello");
        assert_eq!(disk.size_bytes("wal-1"), 5);
        let mut short = [0; 6];
        assert!(file.read_at(0, &mut short).is_err());
        assert_eq!(disk.list_files("wal-").unwrap(), ["wal-1"]);
        disk.remove_file("wal-1").unwrap();
        disk.remove_file("wal-1").unwrap();
        assert!(disk.list_files("wal-").unwrap().is_empty());
    }
}
