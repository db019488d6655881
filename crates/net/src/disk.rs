//! Disk: where redb databases live.
//!
//! Production keeps each database in a file under the data dir. The simulation uses
//! [`MemDisk`]: each database is a byte vector that survives a simulated crash, and a crash
//! ([`MemDisk::power_cut`]) throws away every write since the last `sync_data`, exactly what a
//! real disk may do when the power goes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redb::{Builder, Database, DatabaseError, StorageBackend};

pub trait Disk: Send + Sync + 'static {
    /// Opens (creating if absent) the database called `name`.
    fn open_database(&self, name: &str) -> Result<Database, DatabaseError>;
    /// Bytes the database called `name` occupies; 0 if it does not exist.
    fn size_bytes(&self, name: &str) -> u64;
    /// How long a sync takes beyond the write itself. Simulation-only: a real disk is as
    /// slow as it is, so only [`MemDisk`] reports anything but zero.
    fn sync_delay(&self) -> Duration {
        Duration::ZERO
    }
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
}

/// The bytes of one simulated database file: what the OS has (`current`) and what is on the
/// platter (`durable`).
#[derive(Debug, Default)]
struct MemFile {
    current: Vec<u8>,
    durable: Vec<u8>,
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

impl Disk for MemDisk {
    fn open_database(&self, name: &str) -> Result<Database, DatabaseError> {
        let file = self.file(name);
        let epoch = lock(&file).epoch;
        Builder::new().create_with_backend(MemBackend { file, epoch })
    }

    fn size_bytes(&self, name: &str) -> u64 {
        lock(&self.file(name)).current.len() as u64
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
        Ok(lock(&self.file).current.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> IoResult<()> {
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
        }
        Ok(())
    }

    fn sync_data(&self) -> IoResult<()> {
        let mut file = lock(&self.file);
        if file.epoch == self.epoch {
            file.durable = file.current.clone();
        }
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> IoResult<()> {
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
}
