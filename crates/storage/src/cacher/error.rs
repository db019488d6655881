//! [`CacheError`]: what a read or watch from the cache can fail with, each with
//! kube-apiserver's message (`k8s.io/apiserver/pkg/storage/cacher`) and, in its doc line, the
//! HTTP answer.

/// Seconds a client is told to wait before retrying a too-large resourceVersion
/// (`resourceVersionTooHighRetrySeconds`) or an initializing cache (the lower bound of
/// `calculateRetryAfterForUnreadyCache`).
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// The message of the `ResourceVersionTooLarge` cause (`tooLargeResourceVersionCauseMsg`).
pub const TOO_LARGE_RESOURCE_VERSION_CAUSE: &str = "Too large resource version";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// 410 Expired (`NewResourceExpired`), or an ERROR event with that Status on a running
    /// watch: `requested` is older than the cache's history. `oldest` is the oldest
    /// resourceVersion a watch can start from. A watch the cache ends because it relists
    /// gets this too, so its client relists.
    #[error("too old resource version: {requested} ({oldest})")]
    TooOld { requested: i64, oldest: i64 },
    /// 504 Timeout with cause `ResourceVersionTooLarge` and `retryAfterSeconds` 1
    /// (`storage.NewTooLargeResourceVersionError`): the cache did not reach `requested`
    /// within the freshness timeout.
    #[error("Too large resource version: {requested}, current: {current}")]
    TooLargeResourceVersion { requested: i64, current: i64 },
    /// 429 TooManyRequests with `Retry-After: 1`: the cache is listing (first start, or
    /// after etcd compacted past its watch). A list can go to etcd instead.
    #[error("storage is (re)initializing")]
    NotReady,
    /// A [`super::CacherConfig`] bound that cannot work ([`super::CacherConfig::validate`],
    /// at start-up; never a request's answer).
    #[error("invalid cacher config: {0}")]
    InvalidConfig(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_kube_apiservers() {
        let old = CacheError::TooOld {
            requested: 5,
            oldest: 9,
        };
        assert_eq!(old.to_string(), "too old resource version: 5 (9)");
        let large = CacheError::TooLargeResourceVersion {
            requested: 20,
            current: 12,
        };
        assert_eq!(
            large.to_string(),
            "Too large resource version: 20, current: 12"
        );
        assert_eq!(
            CacheError::NotReady.to_string(),
            "storage is (re)initializing"
        );
    }
}
