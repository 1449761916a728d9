//! The back-off policy of credential checks: how many failures, how long a lock.

/// How failures of one kind of key are throttled.
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    /// Failures tolerated before the first lock.
    pub threshold: i64,
    /// Failures older than this (ms) are forgotten.
    pub window_ms: i64,
    /// The longest lock (ms).
    pub max_lock_ms: i64,
}

/// The first lock, in ms.
const FIRST_LOCK_MS: i64 = 2000;

impl ThrottlePolicy {
    /// The lock after `attempts` attempts: none below the threshold, then 2 s doubling.
    pub fn lock_ms(&self, attempts: i64) -> i64 {
        if attempts < self.threshold {
            return 0;
        }
        let doublings = (attempts - self.threshold).min(30) as u32;
        FIRST_LOCK_MS
            .saturating_mul(1 << doublings)
            .min(self.max_lock_ms)
    }

    /// How many doublings past the threshold reach the longest lock (the SQL caps there).
    pub fn doublings_to_max(&self) -> i64 {
        (0..31)
            .find(|&d| FIRST_LOCK_MS.saturating_mul(1 << d) >= self.max_lock_ms)
            .unwrap_or(31)
    }
}
