//! The webhook authorizer's decision cache: bounded, least recently used out first, each
//! entry with its own expiry (kube's `cache.LRUExpireCache`). Pure: the caller passes the
//! time, so the tests need no clock and the simulation's clock drives expiry.

use std::collections::{BTreeMap, HashMap};

use tokio::time::Instant;

pub(crate) struct DecisionCache<V> {
    /// Most entries held; the least recently used goes when a new one would exceed it.
    capacity: usize,
    entries: HashMap<String, Entry<V>>,
    /// Use order: the smallest tick is the least recently used key.
    recency: BTreeMap<u64, String>,
    next_tick: u64,
}

struct Entry<V> {
    value: V,
    expires_at: Instant,
    /// This entry's key in `recency`.
    tick: u64,
}

impl<V: Clone> DecisionCache<V> {
    pub(crate) fn new(capacity: usize) -> DecisionCache<V> {
        DecisionCache {
            capacity,
            entries: HashMap::new(),
            recency: BTreeMap::new(),
            next_tick: 0,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    /// The value under `key` unless it has expired by `now` (an expired entry is dropped).
    pub(crate) fn get(&mut self, key: &str, now: Instant) -> Option<V> {
        let expired = now >= self.entries.get(key)?.expires_at;
        if expired {
            self.remove(key);
            return None;
        }
        let tick = self.tick();
        let entry = self.entries.get_mut(key)?;
        self.recency.remove(&entry.tick);
        entry.tick = tick;
        self.recency.insert(tick, key.to_string());
        Some(entry.value.clone())
    }

    /// Stores `value` under `key` until `expires_at`, replacing any older value, and makes
    /// room by dropping the least recently used entry.
    pub(crate) fn insert(&mut self, key: String, value: V, expires_at: Instant) {
        if self.capacity == 0 {
            return;
        }
        self.remove(&key);
        while self.entries.len() >= self.capacity {
            let Some((_, oldest)) = self.recency.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        let tick = self.tick();
        self.recency.insert(tick, key.clone());
        let entry = Entry {
            value,
            expires_at,
            tick,
        };
        self.entries.insert(key, entry);
    }

    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.entries.remove(key) {
            self.recency.remove(&entry.tick);
        }
    }

    fn tick(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn an_entry_lives_until_its_expiry() {
        let start = Instant::now();
        let mut cache = DecisionCache::new(4);
        cache.insert("a".into(), 1, start + Duration::from_secs(30));
        assert_eq!(cache.get("a", start), Some(1));
        assert_eq!(
            cache.get("a", start + Duration::from_millis(29_999)),
            Some(1)
        );
        assert_eq!(cache.get("a", start + Duration::from_secs(30)), None);
        assert_eq!(cache.len(), 0, "an expired entry is dropped when found");
        assert_eq!(cache.get("b", start), None);
    }

    #[test]
    fn the_least_recently_used_entry_goes_first() {
        let start = Instant::now();
        let later = start + Duration::from_secs(60);
        let mut cache = DecisionCache::new(2);
        cache.insert("a".into(), 1, later);
        cache.insert("b".into(), 2, later);
        assert_eq!(cache.get("a", start), Some(1));
        cache.insert("c".into(), 3, later);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("b", start), None, "b was used least recently");
        assert_eq!(cache.get("a", start), Some(1));
        assert_eq!(cache.get("c", start), Some(3));
    }

    #[test]
    fn a_new_value_replaces_the_old_one_and_its_expiry() {
        let start = Instant::now();
        let mut cache = DecisionCache::new(2);
        cache.insert("a".into(), 1, start + Duration::from_secs(300));
        cache.insert("a".into(), 2, start + Duration::from_secs(30));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get("a", start), Some(2));
        assert_eq!(cache.get("a", start + Duration::from_secs(31)), None);
    }

    #[test]
    fn a_cache_of_no_entries_keeps_nothing() {
        let start = Instant::now();
        let mut cache = DecisionCache::new(0);
        cache.insert("a".into(), 1, start + Duration::from_secs(30));
        assert_eq!(cache.get("a", start), None);
    }
}
