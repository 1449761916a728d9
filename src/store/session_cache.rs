//! A cache of verified sessions: most requests skip the store round trip. Every revocation
//! through the store drops the entries here and, on PostgreSQL, on every other instance
//! (see [`super::caches`]); an entry is served for [`super::caches::SHORT_TTL`] at most, or
//! much longer while the notification link vouches for it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::caches::{Link, ReadToken};
use crate::domain::Session;

/// Entries above which expired ones are swept (bounds memory under token floods).
const SWEEP_ABOVE: usize = 50_000;

/// Verified sessions by id, each with the instant its read from the store began.
#[derive(Default)]
pub struct SessionCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, (Session, Instant)>,
    // Bumped by every revocation: a request that read a session from the store just before
    // it was revoked must not put it back into the cache.
    generation: u64,
}

impl SessionCache {
    /// The session if it is still fresh by the link's rule.
    pub fn get(&self, id: &str, link: &Link) -> Option<Session> {
        let ttl = link.ttl();
        let inner = self.lock();
        inner
            .entries
            .get(id)
            .filter(|(_, at)| at.elapsed() < ttl)
            .map(|(s, _)| s.clone())
    }

    /// To take right before reading from the store, and pass to [`SessionCache::put`].
    pub fn token(&self) -> ReadToken {
        ReadToken::new(self.lock().generation)
    }

    /// Remembers a session read under `token`, unless a revocation happened since.
    pub fn put(&self, token: ReadToken, session: Session, link: &Link) {
        let mut inner = self.lock();
        if inner.generation != token.generation {
            return;
        }
        if inner.entries.len() >= SWEEP_ABOVE {
            let ttl = link.ttl();
            inner.entries.retain(|_, (_, at)| at.elapsed() < ttl);
        }
        if inner.entries.len() < 2 * SWEEP_ABOVE {
            inner
                .entries
                .insert(session.id.clone(), (session, token.at));
        }
    }

    /// Forgets every session of these accounts (log off, rotation, password change,
    /// deletion: the notification names the account, never the session id).
    pub fn forget_accounts(&self, account_ids: &[i64]) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner
            .entries
            .retain(|_, (s, _)| !account_ids.contains(&s.account_id));
    }

    /// Forgets one session found already gone from the store.
    pub fn forget(&self, id: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.remove(id);
    }

    /// Forgets everything (the notification link came up: what was read before may be stale).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.clear();
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
    use crate::store::caches::SHORT_TTL;
    use std::time::Duration;

    fn session(id: &str, account_id: i64) -> Session {
        Session {
            id: id.into(),
            account_id,
            login_at: 0,
            expires_at: i64::MAX,
        }
    }

    fn cached(cache: &SessionCache, link: &Link, s: Session) {
        let token = cache.token();
        cache.put(token, s, link);
    }

    #[test]
    fn a_fresh_entry_is_served_and_a_forgotten_one_is_not() {
        let (cache, link) = (SessionCache::default(), Link::absent());
        cached(&cache, &link, session("a", 1));
        cached(&cache, &link, session("b", 2));
        assert_eq!(cache.get("a", &link).map(|s| s.account_id), Some(1));
        cache.forget_accounts(&[1]);
        assert!(cache.get("a", &link).is_none());
        assert!(cache.get("b", &link).is_some());
        cache.clear();
        assert!(cache.get("b", &link).is_none());
    }

    #[test]
    fn a_session_read_before_a_revocation_is_not_cached_after_it() {
        let (cache, link) = (SessionCache::default(), Link::absent());
        let token = cache.token();
        cache.forget_accounts(&[1]);
        cache.put(token, session("a", 1), &link);
        assert!(cache.get("a", &link).is_none());
    }

    #[test]
    fn without_a_link_an_entry_older_than_the_short_ttl_is_not_served() {
        let (cache, link) = (SessionCache::default(), Link::absent());
        cached(&cache, &link, session("a", 1));
        std::thread::sleep(SHORT_TTL + Duration::from_millis(20));
        assert!(cache.get("a", &link).is_none());
    }

    #[test]
    fn a_confirmed_link_keeps_an_entry_past_the_short_ttl_and_a_lost_one_does_not() {
        let (cache, link) = (SessionCache::default(), Link::for_postgres());
        cached(&cache, &link, session("a", 1));
        link.up(Instant::now());
        std::thread::sleep(SHORT_TTL / 2);
        link.confirm(Instant::now());
        std::thread::sleep(SHORT_TTL / 2 + Duration::from_millis(20));
        link.confirm(Instant::now());
        assert!(cache.get("a", &link).is_some(), "vouched for by the link");
        link.down("test".into());
        assert!(cache.get("a", &link).is_none(), "the short TTL again");
    }
}
