//! Per-key exponential backoff: each consecutive failure of a key doubles its retry delay, from
//! a base up to a cap; a success resets it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

/// Retry delays per key.
#[derive(Debug)]
pub struct Backoff<K> {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<K, u32>>,
}

impl<K: Eq + Hash> Backoff<K> {
    /// Delays starting at `base` and doubling up to `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failure of `key` and returns how long to wait before retrying it.
    pub fn failed(&self, key: K) -> Duration {
        let mut failures = self.lock();
        let count = failures.entry(key).or_insert(0);
        let factor = 2u32.saturating_pow(*count);
        *count = count.saturating_add(1);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// Forgets the failures of `key`.
    pub fn succeeded(&self, key: &K) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, u32>> {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_base_up_to_the_cap() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
        let delays: Vec<_> = (0..11).map(|_| backoff.failed("a")).collect();
        assert_eq!(delays[0], Duration::from_millis(100));
        assert_eq!(delays[1], Duration::from_millis(200));
        assert_eq!(delays[8], Duration::from_millis(25_600));
        assert_eq!(delays[9], Duration::from_secs(30));
        assert_eq!(delays[10], Duration::from_secs(30));
    }

    #[test]
    fn keys_back_off_independently_and_success_resets() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
        backoff.failed("a");
        backoff.failed("a");
        assert_eq!(backoff.failed("b"), Duration::from_millis(100));
        backoff.succeeded(&"a");
        assert_eq!(backoff.failed("a"), Duration::from_millis(100));
    }

    #[test]
    fn many_failures_never_overflow() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
        for _ in 0..100 {
            backoff.failed("a");
        }
        assert_eq!(backoff.failed("a"), Duration::from_secs(30));
    }
}
