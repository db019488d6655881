//! The log backend: `audit.k8s.io/v1` Events as JSON lines in `--audit-log-path` (a file, or
//! `-` for standard output), rotated as kube-apiserver's lumberjack rotates them.
//!
//! kube-apiserver's log backend writes on the request's goroutine unless
//! `--audit-log-mode=batch`; kubesim always buffers, so a slow disk never holds a request up:
//! `process_events` puts the events in a bounded queue (`--audit-log-batch-buffer-size`,
//! 10,000 by default) and one writer thread takes them out, one line each. An event that
//! finds the queue full, or that fails to be written, is dropped and counted (kube's
//! `apiserver_audit_error_total{plugin="log"}`), with at most one warning per
//! [`WARN_INTERVAL`].
//!
//! Rotation follows `gopkg.in/natefinch/lumberjack.v2` as kube configures it:
//! `--audit-log-maxsize` megabytes (0: never rotate); a line that would take the file past it
//! first moves the file to `<name>-<UTC time 2006-01-02T15-04-05.000><ext>` (the time from
//! the [`Clock`]) and starts a new one; then `--audit-log-maxbackup` keeps that many newest
//! backups (0: all) and `--audit-log-maxage` removes those older than that many days (0:
//! none). Like lumberjack, two rotations in the same millisecond give the same backup name,
//! and the second replaces the first.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use kubesim_api::time::{format_rfc3339, parse_rfc3339};
use kubesim_net::Clock;

use super::Backend;
use crate::event::Event;

/// kube's plugin name, the `plugin` label of its metrics.
pub const PLUGIN_NAME: &str = "log";
/// kube's `--audit-log-batch-buffer-size` default: events queued before dropping.
pub const DEFAULT_BUFFER_SIZE: usize = 10_000;
/// The largest queue accepted: a million events of a few kilobytes is gigabytes of memory.
pub const MAX_BUFFER_SIZE: usize = 1_000_000;
/// At most one warning per this long about dropped events; the others are counted.
pub const WARN_INTERVAL: Duration = Duration::from_secs(10);
/// lumberjack's megabyte.
const MEGABYTE: u64 = 1024 * 1024;
/// Directory entries looked at when picking old backups to remove: a bound on a directory
/// the operator may have filled with other things.
const MAX_DIR_ENTRIES: usize = 100_000;
/// Modes kube gives what it creates: the directory (`ensureLogFile`), the log file.
const DIR_MODE: u32 = 0o700;
/// lumberjack's mode for a directory it makes when it rotates (kube's is there by then).
const ROTATED_DIR_MODE: u32 = 0o755;
const FILE_MODE: u32 = 0o600;

/// The log backend's flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// `--audit-log-path`: a file, or `-` for standard output (never rotated).
    pub path: PathBuf,
    /// `--audit-log-maxsize`: megabytes before rotation; 0 never rotates.
    pub max_size_mb: u64,
    /// `--audit-log-maxbackup`: rotated files kept; 0 keeps all.
    pub max_backups: u32,
    /// `--audit-log-maxage`: days a rotated file is kept, by the time in its name; 0 keeps
    /// them whatever their age.
    pub max_age_days: u32,
    /// `--audit-log-batch-buffer-size`: events queued for the writer before dropping.
    pub buffer_size: usize,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            path: PathBuf::new(),
            max_size_mb: 0,
            max_backups: 0,
            max_age_days: 0,
            buffer_size: DEFAULT_BUFFER_SIZE,
        }
    }
}

impl LogOptions {
    /// The start-up checks, with kube's messages where kube has them.
    pub fn validate(&self) -> Result<(), String> {
        if self.path.as_os_str().is_empty() {
            return Err("--audit-log-path is empty: no log backend to start".to_string());
        }
        if self.buffer_size == 0 {
            return Err(format!(
                "invalid audit batch {PLUGIN_NAME} buffer size {}, must be a positive number",
                self.buffer_size
            ));
        }
        if self.buffer_size > MAX_BUFFER_SIZE {
            return Err(format!(
                "invalid audit batch {PLUGIN_NAME} buffer size {}, must be at most {MAX_BUFFER_SIZE}",
                self.buffer_size
            ));
        }
        Ok(())
    }

    fn is_stdout(&self) -> bool {
        self.path.as_os_str() == "-"
    }
}

/// The handle: cheap to call from every request. Dropping it lets the writer finish the
/// queue and stop; call [`LogBackend::flush`] first to wait for that.
pub struct LogBackend {
    /// Bounded by `buffer_size`.
    queue: SyncSender<Arc<Event>>,
    shared: Arc<Shared>,
}

/// What the handle and the writer thread both see.
struct Shared {
    dropped: AtomicU64,
    /// Events put in the queue; `flush` waits for the writer to have handled as many.
    accepted: AtomicU64,
    /// Events the writer has written or dropped.
    handled: Mutex<u64>,
    progress: Condvar,
    warnings: WarnLimiter,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LogBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBackend")
            .field("accepted", &self.shared.accepted.load(Ordering::Relaxed))
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl LogBackend {
    /// Checks the options, makes sure the file can be created (kube's `ensureLogFile`, which
    /// fails start-up), and starts the writer thread.
    pub fn new(options: &LogOptions, clock: Arc<dyn Clock>) -> Result<LogBackend, String> {
        options.validate()?;
        let sink: Box<dyn LineSink> = if options.is_stdout() {
            Box::new(Stdout)
        } else {
            ensure_log_file(&options.path)?;
            Box::new(LogFile::new(options, clock.clone()))
        };
        LogBackend::start(sink, options.buffer_size, clock)
    }

    fn start(
        mut sink: Box<dyn LineSink>,
        buffer_size: usize,
        clock: Arc<dyn Clock>,
    ) -> Result<LogBackend, String> {
        let (queue, events) = mpsc::sync_channel(buffer_size);
        let shared = Arc::new(Shared {
            dropped: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            handled: Mutex::new(0),
            progress: Condvar::new(),
            warnings: WarnLimiter::default(),
            clock,
        });
        let writer_shared = shared.clone();
        std::thread::Builder::new()
            .name("audit-log-writer".into())
            .spawn(move || run_writer(&events, sink.as_mut(), &writer_shared))
            .map_err(|e| format!("starting the audit log writer: {e}"))?;
        Ok(LogBackend { queue, shared })
    }

    /// Waits until every event accepted before this call is written (or dropped for a write
    /// error), at most `timeout`; true if it is. Blocks the thread: from async code, call it
    /// in `spawn_blocking`.
    pub fn flush(&self, timeout: Duration) -> bool {
        let target = self.shared.accepted.load(Ordering::SeqCst);
        let handled = lock(&self.shared.handled);
        let (handled, _) = self
            .shared
            .progress
            .wait_timeout_while(handled, timeout, |handled| *handled < target)
            .unwrap_or_else(PoisonError::into_inner);
        *handled >= target
    }
}

impl Backend for LogBackend {
    fn process_events(&self, events: &[Arc<Event>]) {
        for event in events {
            match self.queue.try_send(event.clone()) {
                Ok(()) => {
                    self.shared.accepted.fetch_add(1, Ordering::SeqCst);
                }
                Err(TrySendError::Full(_)) => self.shared.drop_event("audit buffer queue blocked"),
                // Only if the writer thread died, which nothing in it should make happen.
                Err(TrySendError::Disconnected(_)) => {
                    self.shared.drop_event("audit log writer stopped")
                }
            }
        }
    }

    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Shared {
    /// Counts a dropped event and warns, at most once per [`WARN_INTERVAL`].
    fn drop_event(&self, error: &str) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = self.warnings.allow(self.clock.now_since_epoch()) {
            tracing::warn!(
                "Error in audit plugin '{PLUGIN_NAME}' affecting 1 audit events: {error} ({suppressed} more dropped since the last warning)"
            );
        }
    }

    fn report_handled(&self) {
        *lock(&self.handled) += 1;
        self.progress.notify_all();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these leaves a plain counter behind, still good to use.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One warning per interval; counts the ones it holds back.
#[derive(Default)]
struct WarnLimiter {
    /// When the last warning went out, and how many were held back since.
    state: Mutex<(Option<Duration>, u64)>,
}

impl WarnLimiter {
    /// `Some(held back since the last one)` if a warning may go out at `now`.
    fn allow(&self, now: Duration) -> Option<u64> {
        let mut state = lock(&self.state);
        let (last, held_back) = *state;
        if last.is_some_and(|last| now.saturating_sub(last) < WARN_INTERVAL) {
            state.1 = held_back.saturating_add(1);
            return None;
        }
        *state = (Some(now), 0);
        Some(held_back)
    }
}

/// The writer thread: one line per event, until the handle is dropped and the queue is
/// drained.
fn run_writer(events: &Receiver<Arc<Event>>, sink: &mut dyn LineSink, shared: &Shared) {
    while let Ok(event) = events.recv() {
        let written = serde_json::to_vec(&*event)
            .map_err(io::Error::other)
            .and_then(|mut line| {
                line.push(b'\n');
                sink.write_line(&line)
            });
        if let Err(error) = written {
            shared.drop_event(&error.to_string());
        }
        shared.report_handled();
    }
}

/// Where the lines go.
trait LineSink: Send {
    /// Writes one whole line, or fails.
    fn write_line(&mut self, line: &[u8]) -> io::Result<()>;
}

struct Stdout;

impl LineSink for Stdout {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(line)?;
        out.flush()
    }
}

/// kube's `ensureLogFile`: the directory and the file exist and can be opened, or start-up
/// fails.
fn ensure_log_file(path: &Path) -> Result<(), String> {
    let dir = parent_dir(path);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| format!("ensureLogFile: mkdir {}: {e}", dir.display()))?;
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .mode(FILE_MODE)
        .open(path)
        .map(drop)
        .map_err(|e| format!("ensureLogFile: open {}: {e}", path.display()))
}

/// Go's `filepath.Dir`: `.` for a bare file name.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// The log file, rotated as lumberjack rotates it.
struct LogFile {
    path: PathBuf,
    /// `None`: never rotate (`--audit-log-maxsize=0`).
    max_bytes: Option<u64>,
    max_backups: u32,
    max_age_days: u32,
    /// Opened at the first write, and again after a failed one.
    file: Option<File>,
    /// Bytes in `file`.
    size: u64,
    /// Whether `file` is one lumberjack may move aside: a plain file, and a maximum size set.
    rotates: bool,
    clock: Arc<dyn Clock>,
}

impl LineSink for LogFile {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let len = line.len() as u64;
        if let Some(max) = self.max_bytes.filter(|&max| len > max) {
            return Err(io::Error::other(format!(
                "write length {len} exceeds maximum file size {max}"
            )));
        }
        let mut file = match self.file.take() {
            Some(file) => file,
            None => self.open_existing_or_new(len)?,
        };
        if self.rotates
            && self
                .max_bytes
                .is_some_and(|max| self.size.saturating_add(len) > max)
        {
            drop(file);
            file = self.open_new()?;
            self.remove_old_backups();
        }
        // On an error the handle is dropped: the next line reopens the file and reads its
        // size afresh, whatever part of this line made it in.
        file.write_all(line)?;
        self.size = self.size.saturating_add(len);
        self.file = Some(file);
        Ok(())
    }
}

impl LogFile {
    fn new(options: &LogOptions, clock: Arc<dyn Clock>) -> LogFile {
        LogFile {
            path: options.path.clone(),
            max_bytes: (options.max_size_mb > 0)
                .then(|| options.max_size_mb.saturating_mul(MEGABYTE)),
            max_backups: options.max_backups,
            max_age_days: options.max_age_days,
            file: None,
            size: 0,
            rotates: false,
            clock,
        }
    }

    /// Appends to the file there is, unless this line would fill it (lumberjack's `>=`),
    /// when it is rotated first.
    fn open_existing_or_new(&mut self, len: u64) -> io::Result<File> {
        self.remove_old_backups();
        let meta = match fs::metadata(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return self.open_new(),
            other => other?,
        };
        // Never move aside what is not a plain file (`/dev/stdout`, a pipe): append only.
        let rotates = meta.is_file() && self.max_bytes.is_some();
        self.rotates = rotates;
        if rotates
            && self
                .max_bytes
                .is_some_and(|max| meta.len().saturating_add(len) >= max)
        {
            let file = self.open_new()?;
            self.remove_old_backups();
            return Ok(file);
        }
        let file = OpenOptions::new().append(true).open(&self.path);
        match file {
            Ok(file) => {
                self.size = if rotates { meta.len() } else { 0 };
                Ok(file)
            }
            // lumberjack: a file that will not open is replaced by a new one.
            Err(_) if rotates => self.open_new(),
            Err(e) => Err(e),
        }
    }

    /// Moves the current file (if any) to its backup name and starts an empty one with its
    /// mode.
    fn open_new(&mut self) -> io::Result<File> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(ROTATED_DIR_MODE)
            .create(parent_dir(&self.path))?;
        let mut mode = FILE_MODE;
        if let Ok(meta) = fs::metadata(&self.path) {
            // The permission bits only, not the file type.
            mode = meta.permissions().mode() & 0o7777;
            let now = self.clock.now_since_epoch();
            fs::rename(&self.path, self.backup_path(now))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(mode)
            .open(&self.path)?;
        self.size = 0;
        self.rotates = self.max_bytes.is_some();
        Ok(file)
    }

    fn backup_path(&self, now: Duration) -> PathBuf {
        let (prefix, ext) = self.prefix_and_ext();
        let name = format!("{prefix}{}{ext}", backup_time(now));
        parent_dir(&self.path).join(name)
    }

    /// lumberjack's `prefixAndExt`: `audit.log` → (`audit-`, `.log`), with Go's
    /// `filepath.Ext` (from the last dot of the name).
    fn prefix_and_ext(&self) -> (String, String) {
        let name = self
            .path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        match name.rfind('.') {
            Some(dot) => (format!("{}-", &name[..dot]), name[dot..].to_string()),
            None => (format!("{name}-"), String::new()),
        }
    }

    /// lumberjack's `millRunOnce` without compression: keeps the newest `max_backups`
    /// backups and none older than `max_age_days`. Failures only leave files behind.
    fn remove_old_backups(&self) {
        if self.max_bytes.is_none() || (self.max_backups == 0 && self.max_age_days == 0) {
            return;
        }
        let dir = parent_dir(&self.path);
        let mut backups = match self.backups(dir) {
            Ok(backups) => backups,
            Err(error) => {
                tracing::debug!("listing old audit logs in {}: {error}", dir.display());
                return;
            }
        };
        // Newest first.
        backups.sort_by_key(|(time_ms, _)| std::cmp::Reverse(*time_ms));
        let mut remove = Vec::new();
        let keep = self.max_backups as usize;
        if keep > 0 && backups.len() > keep {
            remove = backups.split_off(keep);
        }
        if self.max_age_days > 0 {
            let now_ms =
                i64::try_from(self.clock.now_since_epoch().as_millis()).unwrap_or(i64::MAX);
            let cutoff_ms = now_ms.saturating_sub(i64::from(self.max_age_days) * 86_400_000);
            remove.extend(
                backups
                    .into_iter()
                    .filter(|(time_ms, _)| *time_ms < cutoff_ms),
            );
        }
        for (_, name) in remove {
            if let Err(error) = fs::remove_file(dir.join(&name)) {
                tracing::debug!("removing old audit log {name}: {error}");
            }
        }
    }

    /// The backups beside the file, each with the time in its name (milliseconds since the
    /// epoch). Names that do not parse are not backups.
    fn backups(&self, dir: &Path) -> io::Result<Vec<(i64, String)>> {
        let (prefix, ext) = self.prefix_and_ext();
        let mut backups = Vec::new();
        for entry in fs::read_dir(dir)?.take(MAX_DIR_ENTRIES) {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let time_ms = (name.strip_prefix(&prefix))
                .and_then(|rest| rest.strip_suffix(&ext))
                .and_then(parse_backup_time);
            if let Some(time_ms) = time_ms {
                backups.push((time_ms, name));
            }
        }
        Ok(backups)
    }
}

/// lumberjack's backup time, `2006-01-02T15-04-05.000` in UTC.
fn backup_time(since_epoch: Duration) -> String {
    let secs = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
    let rfc3339 = format_rfc3339(secs);
    let date_time = rfc3339.trim_end_matches('Z').replace(':', "-");
    format!("{date_time}.{:03}", since_epoch.subsec_millis())
}

/// The inverse of [`backup_time`], in milliseconds since the epoch; `None` unless the text
/// has exactly that form (as Go's `time.Parse` wants).
fn parse_backup_time(text: &str) -> Option<i64> {
    const FORM: &[u8; 23] = b"0000-00-00T00-00-00.000";
    let bytes = text.as_bytes();
    let same_form = bytes.len() == FORM.len()
        && (bytes.iter().zip(FORM)).all(|(&b, &f)| {
            if f == b'0' {
                b.is_ascii_digit()
            } else {
                b == f
            }
        });
    if !same_form {
        return None;
    }
    // `2006-01-02T15-04-05` → `2006-01-02T15:04:05Z`; ASCII, so the slices are whole.
    let rfc3339 = format!("{}:{}:{}Z", &text[..13], &text[14..16], &text[17..19]);
    let secs = parse_rfc3339(&rfc3339)?;
    let millis: i64 = text[20..].parse().ok()?;
    secs.checked_mul(1000)?.checked_add(millis)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Instant;

    use super::*;
    use crate::event::{Level, Stage};

    /// 2026-01-02T03:04:05.678Z.
    const T0_MS: u64 = 1_767_323_045_678;
    const WAIT: Duration = Duration::from_secs(10);

    /// Starts at `T0_MS` and moves `step_ms` on every reading, so each rotation gets the next
    /// time.
    struct SteppingClock {
        next_ms: AtomicU64,
        step_ms: u64,
    }

    impl Clock for SteppingClock {
        fn now_since_epoch(&self) -> Duration {
            Duration::from_millis(self.next_ms.fetch_add(self.step_ms, Ordering::SeqCst))
        }
    }

    fn clock(step_ms: u64) -> Arc<dyn Clock> {
        Arc::new(SteppingClock {
            next_ms: AtomicU64::new(T0_MS),
            step_ms,
        })
    }

    /// Event `seq`, with `padding` bytes in an annotation to make its line long.
    fn event(seq: usize, padding: usize) -> Arc<Event> {
        let mut event = Event::new(
            Level::Metadata,
            Stage::ResponseComplete,
            &format!("id-{seq}"),
        );
        event.verb = "get".to_string();
        event.request_uri = format!("/api/v1/namespaces/ns/pods/p{seq}");
        event.user = kubesim_api::user::UserInfo::new("alice", &["system:authenticated"]);
        event.request_received_timestamp = "2026-01-02T03:04:05.678901Z".to_string();
        event.stage_timestamp = "2026-01-02T03:04:05.679901Z".to_string();
        if padding > 0 {
            event.annotations.insert("pad".into(), "x".repeat(padding));
        }
        Arc::new(event)
    }

    fn options(path: &Path) -> LogOptions {
        LogOptions {
            path: path.to_path_buf(),
            ..LogOptions::default()
        }
    }

    /// The file's events, checking that every line is one whole JSON Event.
    fn read_events(path: &Path) -> Vec<Event> {
        let text = fs::read_to_string(path).expect("read the log");
        assert!(text.is_empty() || text.ends_with('\n'), "a partial line");
        (text.lines())
            .map(|line| serde_json::from_str(line).expect("a JSON Event per line"))
            .collect()
    }

    fn ids(events: &[Event]) -> Vec<String> {
        events.iter().map(|e| e.audit_id.clone()).collect()
    }

    fn names_in(dir: &Path) -> BTreeSet<String> {
        (fs::read_dir(dir).expect("list"))
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn writes_one_json_event_per_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit").join("audit.log");
        let backend = LogBackend::new(&options(&path), clock(0)).expect("start");
        let events: Vec<_> = (0..3).map(|seq| event(seq, 0)).collect();
        backend.process_events(&events);
        assert!(backend.flush(WAIT));
        let written = read_events(&path);
        let expected: Vec<Event> = events.iter().map(|e| Event::clone(e)).collect();
        assert_eq!(written, expected);
        let first_line = fs::read_to_string(&path).expect("read");
        let json: serde_json::Value =
            serde_json::from_str(first_line.lines().next().unwrap_or_default()).expect("json");
        assert_eq!(json["kind"], "Event");
        assert_eq!(json["apiVersion"], "audit.k8s.io/v1");
        assert_eq!(json["auditID"], "id-0");
        let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&path), FILE_MODE, "kube's ensureLogFile mode");
        assert_eq!(mode(path.parent().expect("dir")), DIR_MODE);
        assert_eq!((backend.dropped(), backend.name()), (0, "log"));
    }

    #[test]
    fn appends_to_the_file_already_there() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.log");
        let earlier = serde_json::to_string(&*event(0, 0)).expect("json");
        fs::write(&path, format!("{earlier}\n")).expect("write");
        for max_size_mb in [0, 1] {
            let options = LogOptions {
                max_size_mb,
                ..options(&path)
            };
            let backend = LogBackend::new(&options, clock(0)).expect("start");
            backend.process_events(&[event(max_size_mb as usize + 1, 0)]);
            assert!(backend.flush(WAIT));
        }
        assert_eq!(ids(&read_events(&path)), ["id-0", "id-1", "id-2"]);
        assert_eq!(
            names_in(dir.path()),
            BTreeSet::from(["audit.log".to_string()])
        );
    }

    #[test]
    fn rotates_at_max_size_with_lumberjacks_names_and_keeps_max_backups() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.log");
        let options = LogOptions {
            max_size_mb: 1,
            max_backups: 2,
            ..options(&path)
        };
        let backend = LogBackend::new(&options, clock(1000)).expect("start");
        // Lines of ~300 KB: three fit in a megabyte, a fourth rotates.
        let events: Vec<_> = (0..10).map(|seq| event(seq, 300_000)).collect();
        let line_len = serde_json::to_vec(&*events[0]).expect("json").len() as u64 + 1;
        assert!(3 * line_len <= MEGABYTE && 4 * line_len > MEGABYTE);
        backend.process_events(&events);
        assert!(backend.flush(WAIT));
        assert_eq!(backend.dropped(), 0);

        // Rotations at events 3, 6 and 9 read the clock at T0, T0+1s and T0+2s; the oldest
        // backup went over max_backups.
        let newer = "audit-2026-01-02T03-04-07.678.log";
        let older = "audit-2026-01-02T03-04-06.678.log";
        let expected = BTreeSet::from(["audit.log", newer, older].map(String::from));
        assert_eq!(names_in(dir.path()), expected);
        assert_eq!(
            ids(&read_events(&dir.path().join(older))),
            ["id-3", "id-4", "id-5"]
        );
        assert_eq!(
            ids(&read_events(&dir.path().join(newer))),
            ["id-6", "id-7", "id-8"]
        );
        assert_eq!(ids(&read_events(&path)), ["id-9"]);
        for name in expected {
            let size = fs::metadata(dir.path().join(&name)).expect("stat").len();
            assert!(size <= MEGABYTE, "{name}: {size} bytes");
        }
    }

    #[test]
    fn max_age_removes_old_backups_and_nothing_else() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.log");
        let old = "audit-2025-12-31T03-04-05.678.log"; // two days before T0
        let recent = "audit-2026-01-01T04-04-05.678.log"; // 23 hours before T0
        let others = [
            "audit-garbage.log",
            "other-2020-01-01T00-00-00.000.log",
            "audit-2020-01-01T00-00-00.000.txt",
            "audit-2020-01-01T00:00:00.000.log",
        ];
        for name in [old, recent].iter().chain(&others) {
            fs::write(dir.path().join(name), "{}\n").expect("write");
        }
        let old_dir = "audit-2020-01-01T00-00-00.001.log";
        fs::create_dir(dir.path().join(old_dir)).expect("mkdir");
        let options = LogOptions {
            max_size_mb: 1,
            max_age_days: 1,
            ..options(&path)
        };
        let backend = LogBackend::new(&options, clock(0)).expect("start");
        backend.process_events(&[event(0, 0)]);
        assert!(backend.flush(WAIT));
        let mut expected: BTreeSet<String> = others.iter().map(|s| s.to_string()).collect();
        expected.extend([recent, old_dir, "audit.log"].map(String::from));
        assert_eq!(names_in(dir.path()), expected);
    }

    /// Blocks every write until the test lets it go, telling the test when a write starts.
    struct GatedSink {
        entered: mpsc::Sender<()>,
        gate: mpsc::Receiver<()>,
        lines: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    impl LineSink for GatedSink {
        fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
            let _ = self.entered.send(());
            // Returns at once once the test drops the sender.
            let _ = self.gate.recv();
            lock(&self.lines).push(line.to_vec());
            Ok(())
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        let (entered, writer_entered) = mpsc::channel();
        let (release, gate) = mpsc::channel::<()>();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = GatedSink {
            entered,
            gate,
            lines: lines.clone(),
        };
        let backend = LogBackend::start(Box::new(sink), 2, clock(0)).expect("start");
        backend.process_events(&[event(0, 0)]);
        writer_entered
            .recv_timeout(WAIT)
            .expect("the writer took the first event");
        let rest: Vec<_> = (1..=10).map(|seq| event(seq, 0)).collect();
        let started = Instant::now();
        backend.process_events(&rest);
        assert!(started.elapsed() < WAIT, "process_events never waits");
        assert_eq!(backend.dropped(), 8, "two fit in the queue");
        assert!(
            !backend.flush(Duration::from_millis(50)),
            "the writer is stuck"
        );

        drop(release);
        assert!(backend.flush(WAIT));
        let written: Vec<Event> = (lock(&lines).iter())
            .map(|line| serde_json::from_slice(line).expect("json"))
            .collect();
        assert_eq!(ids(&written), ["id-0", "id-1", "id-2"]);
        assert_eq!(backend.dropped(), 8);
    }

    #[test]
    fn write_errors_drop_and_count() {
        // Every write to /dev/full fails with ENOSPC; it is never rotated (not a plain file).
        let full = LogOptions {
            max_size_mb: 1,
            ..options(Path::new("/dev/full"))
        };
        let backend = LogBackend::new(&full, clock(0)).expect("start");
        backend.process_events(&[event(0, 0), event(1, 0), event(2, 0)]);
        assert!(backend.flush(WAIT));
        assert_eq!(backend.dropped(), 3);
        assert!(Path::new("/dev/full").exists(), "not moved aside");

        // A line longer than the maximum size is lumberjack's write error.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.log");
        let options = LogOptions {
            max_size_mb: 1,
            ..options(&path)
        };
        let backend = LogBackend::new(&options, clock(0)).expect("start");
        let huge = event(0, MEGABYTE as usize);
        backend.process_events(&[huge, event(1, 0)]);
        assert!(backend.flush(WAIT));
        assert_eq!(backend.dropped(), 1);
        assert_eq!(ids(&read_events(&path)), ["id-1"]);
    }

    #[test]
    fn dropping_the_handle_lets_the_writer_finish_the_queue() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.log");
        let backend = LogBackend::new(&options(&path), clock(0)).expect("start");
        let events: Vec<_> = (0..50).map(|seq| event(seq, 0)).collect();
        backend.process_events(&events);
        drop(backend);
        let deadline = Instant::now() + WAIT;
        while read_events(&path).len() < 50 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(read_events(&path).len(), 50);
    }

    #[test]
    fn bad_options_are_refused_at_start() {
        let dir = tempfile::tempdir().expect("temp dir");
        let refusal =
            |options: LogOptions| LogBackend::new(&options, clock(0)).expect_err("refused");
        let path = dir.path().join("audit.log");
        assert_eq!(
            refusal(LogOptions {
                buffer_size: 0,
                ..options(&path)
            }),
            "invalid audit batch log buffer size 0, must be a positive number"
        );
        assert!(
            refusal(LogOptions {
                buffer_size: MAX_BUFFER_SIZE + 1,
                ..options(&path)
            })
            .contains("must be at most")
        );
        assert!(refusal(LogOptions::default()).starts_with("--audit-log-path is empty"));
        let file = dir.path().join("file");
        fs::write(&file, "").expect("write");
        let error = refusal(options(&file.join("audit.log")));
        assert!(error.starts_with("ensureLogFile: mkdir "), "{error}");
        assert!(!path.exists(), "nothing created for refused options");
    }

    #[test]
    fn backup_times_are_lumberjacks_format_in_utc() {
        let t0 = Duration::from_millis(T0_MS);
        assert_eq!(backup_time(t0), "2026-01-02T03-04-05.678");
        assert_eq!(backup_time(Duration::ZERO), "1970-01-01T00-00-00.000");
        assert_eq!(
            parse_backup_time("2026-01-02T03-04-05.678"),
            Some(T0_MS as i64)
        );
        for bad in [
            "2026-01-02T03:04:05.678",
            "2026-01-02T03-04-05.67",
            "2026-01-02T03-04-05.6789",
            "2026-01-02T03-04-05",
            "2026-13-02T03-04-05.678",
            "2026-01-02T03-04-05.67é",
            "",
        ] {
            assert_eq!(parse_backup_time(bad), None, "{bad}");
        }
        let file = |name: &str| LogFile::new(&options(Path::new(name)), clock(0));
        let split = |name: &str| file(name).prefix_and_ext();
        assert_eq!(
            split("/var/log/audit.log"),
            ("audit-".into(), ".log".into())
        );
        assert_eq!(split("a.b.json"), ("a.b-".into(), ".json".into()));
        assert_eq!(split("audit"), ("audit-".into(), String::new()));
        assert_eq!(split(".log"), ("-".into(), ".log".into()));
        assert_eq!(
            file("audit.log").backup_path(t0),
            Path::new("./audit-2026-01-02T03-04-05.678.log")
        );
    }

    #[test]
    fn warnings_come_at_most_once_per_interval() {
        let limiter = WarnLimiter::default();
        let at = Duration::from_secs;
        assert_eq!(limiter.allow(at(100)), Some(0));
        assert_eq!(limiter.allow(at(101)), None);
        assert_eq!(limiter.allow(at(109)), None);
        assert_eq!(limiter.allow(at(110)), Some(2), "two held back");
        assert_eq!(limiter.allow(at(110)), None);
        // A clock that went back does not silence warnings for good.
        assert_eq!(limiter.allow(at(50)), None);
        assert_eq!(limiter.allow(at(120)), Some(2));
    }
}
