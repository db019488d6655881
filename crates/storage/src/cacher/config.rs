//! [`CacherConfig`]: every bound of a [`super::Cacher`], with its default and the reason for
//! it, checked once at start-up.

use std::time::Duration;

use super::error::CacheError;

/// The bounds of one resource's cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacherConfig {
    /// Events kept so a watch can resume from an older resourceVersion. kube-apiserver sizes
    /// its buffer between 100 and 102,400 events to hold 75 s of history; kubesim keeps a
    /// fixed 10,000: 75 s at over 100 writes a second to one resource, which a kubesim cluster
    /// does not sustain, so a client that reconnects within that time resumes without a
    /// relist. Memory is at most this many object versions besides the current ones.
    pub history_window: usize,
    /// Events queued per watcher before the cache closes it as too slow (its client then
    /// re-watches from the last resourceVersion it saw). kube-apiserver's default is 100 for
    /// most resources.
    pub watcher_buffer: usize,
    /// How long [`super::Cacher::wait_fresh`] waits for a resourceVersion before answering
    /// "Too large resource version" (kube-apiserver's `blockTimeout`, 3 s).
    pub freshness_timeout: Duration,
    /// How often watchers that allow bookmarks get one (kube-apiserver's
    /// `defaultBookmarkFrequency`, 1 min). Each one also asks etcd for progress, so a quiet
    /// resource's bookmarks still move forward.
    pub bookmark_interval: Duration,
    /// Keys per page of the initial list and of each relist (one etcd Range each).
    pub list_page_size: i64,
    /// The longest pause between retries of a failed list or watch; pauses double from
    /// [`FIRST_RETRY`] up to it.
    pub max_retry_backoff: Duration,
    /// Objects this API server is writing that wait for their watch event, so the cache
    /// takes them instead of decoding the value (`super::own_writes`). An offer normally
    /// lives for the write's round trip, a few milliseconds, so the bound matters only when
    /// events stop coming; then the oldest go first. 4096 is far more writes in flight than
    /// a kubesim API server admits (max-in-flight 600); 0 turns the shortcut off.
    pub own_writes_capacity: usize,
}

/// The first pause after a failed list or watch.
pub const FIRST_RETRY: Duration = Duration::from_millis(100);

impl Default for CacherConfig {
    fn default() -> Self {
        CacherConfig {
            history_window: 10_000,
            watcher_buffer: 100,
            freshness_timeout: Duration::from_secs(3),
            bookmark_interval: Duration::from_secs(60),
            list_page_size: 1000,
            max_retry_backoff: Duration::from_secs(5),
            own_writes_capacity: 4096,
        }
    }
}

impl CacherConfig {
    /// Refuses a bound that would stop the cache working (a zero buffer, a zero interval).
    pub fn validate(&self) -> Result<(), CacheError> {
        let invalid = |what: &str| Err(CacheError::InvalidConfig(what.to_owned()));
        if self.history_window == 0 {
            return invalid("history_window must be at least 1");
        }
        if self.watcher_buffer == 0 {
            return invalid("watcher_buffer must be at least 1");
        }
        if self.freshness_timeout.is_zero() {
            return invalid("freshness_timeout must be positive");
        }
        if self.bookmark_interval.is_zero() {
            return invalid("bookmark_interval must be positive");
        }
        if self.list_page_size < 1 {
            return invalid("list_page_size must be at least 1");
        }
        if self.max_retry_backoff < FIRST_RETRY {
            return invalid("max_retry_backoff must be at least 100ms");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_zero_bounds_are_not() {
        assert_eq!(CacherConfig::default().validate(), Ok(()));
        let zero_buffer = CacherConfig {
            watcher_buffer: 0,
            ..CacherConfig::default()
        };
        assert_eq!(
            zero_buffer.validate(),
            Err(CacheError::InvalidConfig(
                "watcher_buffer must be at least 1".into()
            ))
        );
        let zero_interval = CacherConfig {
            bookmark_interval: Duration::ZERO,
            ..CacherConfig::default()
        };
        assert_eq!(
            zero_interval.validate(),
            Err(CacheError::InvalidConfig(
                "bookmark_interval must be positive".into()
            ))
        );
    }
}
