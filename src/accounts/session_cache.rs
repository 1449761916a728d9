//! A short-lived cache of verified sessions: most requests skip the store round trip, and a
//! revocation made on another instance takes effect within [`SESSION_CACHE_TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::Session;

/// How long a verified session is trusted without asking the store again. Revocations
/// made through this instance take effect at once; through another one, within this time.
pub const SESSION_CACHE_TTL: Duration = Duration::from_millis(500);

/// Entries above which expired ones are swept (bounds memory under token floods).
const SWEEP_ABOVE: usize = 50_000;

/// Verified sessions by id, each with the instant it was read from the store.
#[derive(Default)]
pub struct SessionCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, (Session, Instant)>,
    // Tombstones: a request that read a session from the store just before it was revoked
    // must not put it back into the cache.
    revoked_ids: HashMap<String, Instant>,
    revoked_accounts: HashMap<i64, Instant>,
}

impl Inner {
    fn sweep_tombstones(&mut self) {
        self.revoked_ids
            .retain(|_, at| at.elapsed() < SESSION_CACHE_TTL);
        self.revoked_accounts
            .retain(|_, at| at.elapsed() < SESSION_CACHE_TTL);
    }
}

impl SessionCache {
    /// The session if it was read from the store less than the TTL ago.
    pub fn get(&self, id: &str) -> Option<Session> {
        let inner = self.lock();
        inner
            .entries
            .get(id)
            .filter(|(_, at)| at.elapsed() < SESSION_CACHE_TTL)
            .map(|(s, _)| s.clone())
    }

    /// Remembers a session just read from the store.
    pub fn put(&self, session: Session) {
        let mut inner = self.lock();
        let fresh = |at: Option<&Instant>| at.is_some_and(|at| at.elapsed() < SESSION_CACHE_TTL);
        if fresh(inner.revoked_ids.get(&session.id))
            || fresh(inner.revoked_accounts.get(&session.account_id))
        {
            return;
        }
        if inner.entries.len() >= SWEEP_ABOVE {
            inner
                .entries
                .retain(|_, (_, at)| at.elapsed() < SESSION_CACHE_TTL);
        }
        if inner.entries.len() < 2 * SWEEP_ABOVE {
            inner
                .entries
                .insert(session.id.clone(), (session, Instant::now()));
        }
    }

    /// Forgets one session (log off, rotation).
    pub fn forget(&self, id: &str) {
        let mut inner = self.lock();
        inner.sweep_tombstones();
        inner.entries.remove(id);
        inner.revoked_ids.insert(id.to_owned(), Instant::now());
    }

    /// Forgets every session of an account (password change, deletion).
    pub fn forget_account(&self, account_id: i64) {
        let mut inner = self.lock();
        inner.sweep_tombstones();
        inner.entries.retain(|_, (s, _)| s.account_id != account_id);
        inner.revoked_accounts.insert(account_id, Instant::now());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, account_id: i64) -> Session {
        Session {
            id: id.into(),
            account_id,
            login_at: 0,
            expires_at: i64::MAX,
        }
    }

    #[test]
    fn a_fresh_entry_is_served_and_a_forgotten_one_is_not() {
        let cache = SessionCache::default();
        cache.put(session("a", 1));
        cache.put(session("b", 2));
        assert_eq!(cache.get("a").map(|s| s.account_id), Some(1));
        cache.forget("a");
        assert!(cache.get("a").is_none());
        cache.forget_account(2);
        assert!(cache.get("b").is_none());
    }

    #[test]
    fn a_session_revoked_a_moment_ago_is_not_cached_again() {
        let cache = SessionCache::default();
        cache.forget("a");
        cache.put(session("a", 1));
        assert!(cache.get("a").is_none());
        cache.forget_account(2);
        cache.put(session("b", 2));
        assert!(cache.get("b").is_none());
    }

    #[test]
    fn an_entry_older_than_the_ttl_is_not_served() {
        let cache = SessionCache::default();
        cache.put(session("a", 1));
        std::thread::sleep(SESSION_CACHE_TTL + Duration::from_millis(20));
        assert!(cache.get("a").is_none());
    }
}
