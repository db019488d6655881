//! CPU time a process has used, from Linux's `/proc/<pid>/stat`: the benchmark reports CPU per
//! request for the server (`--server-pid`) and for itself, which says where the time goes
//! far more steadily than throughput on a shared machine.
//!
//! Elsewhere than Linux, or for a process that is gone, there is simply no figure.
//!
//! A phase also waits for the server to go quiet first ([`wait_idle`]): work a previous phase
//! left behind (followers applying, the watch cache catching up, log syncs) would otherwise
//! be billed to the next one.

use std::time::Duration;

/// `/proc` counts in USER_HZ, which the kernel fixes at 100 for user space on every
/// architecture Linux runs on (what `getconf CLK_TCK` prints).
const TICKS_PER_S: u64 = 100;

/// Which process to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// The benchmark itself.
    This,
    Pid(u32),
}

/// User plus system CPU time of every thread of `process` so far, if it can be read.
pub fn cpu_time(process: Process) -> Option<Duration> {
    let path = match process {
        Process::This => "/proc/self/stat".to_string(),
        Process::Pid(pid) => format!("/proc/{pid}/stat"),
    };
    let text = std::fs::read_to_string(path).ok()?;
    parse_stat(&text)
}

/// `utime + stime` from a `/proc/<pid>/stat` line. The command name (field 2) is in
/// parentheses and may itself hold spaces and parentheses, so fields are counted from the
/// last `)`: after it come state (field 3) ... utime (14) and stime (15).
pub fn parse_stat(line: &str) -> Option<Duration> {
    let (_, after_name) = line.rsplit_once(')')?;
    let mut fields = after_name.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime.checked_add(stime)?;
    Some(Duration::from_millis(
        ticks.checked_mul(1000 / TICKS_PER_S)?,
    ))
}

/// The CPU time of every process in `pids` together (the server may be several processes: a
/// store member each and the API server), if every one can be read; `None` for no pids.
pub fn servers_cpu_time(pids: &[u32]) -> Option<Duration> {
    if pids.is_empty() {
        return None;
    }
    pids.iter()
        .map(|&pid| cpu_time(Process::Pid(pid)))
        .try_fold(Duration::ZERO, |sum, used| Some(sum + used?))
}

/// What counts as quiet: under this share of one core over one [`IDLE_WINDOW`].
const IDLE_SHARE: f64 = 0.10;
const IDLE_WINDOW: Duration = Duration::from_millis(250);

/// Whether `used` CPU over `window` of wall time is quiet.
pub fn is_idle(used: Duration, window: Duration) -> bool {
    used.as_secs_f64() <= IDLE_SHARE * window.as_secs_f64()
}

/// Waits, at most `max_wait`, until the server uses under [`IDLE_SHARE`] of a core over an
/// [`IDLE_WINDOW`]. Returns how long it waited. Without a readable server, returns at once.
pub async fn wait_idle(servers: &[u32], max_wait: Duration) -> Duration {
    let started = tokio::time::Instant::now();
    let Some(mut before) = servers_cpu_time(servers) else {
        return Duration::ZERO;
    };
    while started.elapsed() < max_wait {
        tokio::time::sleep(IDLE_WINDOW).await;
        let Some(now) = servers_cpu_time(servers) else {
            break;
        };
        if is_idle(now.saturating_sub(before), IDLE_WINDOW) {
            break;
        }
        before = now;
    }
    started.elapsed()
}

/// CPU used between two readings, per request, in microseconds.
pub fn per_request_us(
    before: Option<Duration>,
    after: Option<Duration>,
    requests: u64,
) -> Option<f64> {
    let used = after?.checked_sub(before?)?;
    (requests > 0).then(|| used.as_secs_f64() * 1e6 / requests as f64)
}

/// Reads the server's and this process's CPU around a phase.
#[derive(Debug, Clone)]
pub struct Meter {
    servers: Vec<u32>,
    server_before: Option<Duration>,
    client_before: Option<Duration>,
}

/// CPU per request of one phase, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PerRequest {
    pub server_us: Option<f64>,
    pub client_us: Option<f64>,
}

impl Meter {
    pub fn start(servers: &[u32]) -> Meter {
        Meter {
            servers: servers.to_vec(),
            server_before: servers_cpu_time(servers),
            client_before: cpu_time(Process::This),
        }
    }

    pub fn stop(&self, requests: u64) -> PerRequest {
        let server_after = servers_cpu_time(&self.servers);
        PerRequest {
            server_us: per_request_us(self.server_before, server_after, requests),
            client_us: per_request_us(self.client_before, cpu_time(Process::This), requests),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_after_the_last_parenthesis() {
        let line = "5766 (kubesim) S 1 5766 5766 0 -1 4194304 1580700 0 0 0 4442 2456 0 0 20 0 9";
        assert_eq!(parse_stat(line), Some(Duration::from_millis(68_980)));
        let odd_name = "42 (a) b (c)) R 1 1 1 0 -1 0 0 0 0 0 7 3 0 0";
        assert_eq!(parse_stat(odd_name), Some(Duration::from_millis(100)));
    }

    #[test]
    fn short_or_garbled_lines_give_nothing() {
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat("1 (x) S 1 2 3"), None);
        assert_eq!(parse_stat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 3"), None);
    }

    #[test]
    fn this_process_has_a_cpu_time_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(cpu_time(Process::This).is_some());
        }
    }

    #[test]
    fn idle_is_under_a_tenth_of_a_core() {
        let window = Duration::from_millis(250);
        assert!(is_idle(Duration::from_millis(20), window));
        assert!(is_idle(Duration::from_millis(25), window));
        assert!(!is_idle(Duration::from_millis(30), window));
    }

    #[tokio::test]
    async fn without_a_server_there_is_no_wait() {
        let waited = wait_idle(&[], Duration::from_secs(5)).await;
        assert_eq!(waited, Duration::ZERO);
    }

    #[test]
    fn per_request_needs_both_readings_and_requests() {
        let s = |ms| Some(Duration::from_millis(ms));
        assert_eq!(per_request_us(s(1000), s(1500), 1000), Some(500.0));
        assert_eq!(per_request_us(None, s(1500), 1000), None);
        assert_eq!(per_request_us(s(1000), s(1500), 0), None);
        assert_eq!(per_request_us(s(2000), s(1500), 10), None);
    }
}
