//! A cache of accounts read by id. Every write through the store drops the entry here and,
//! on PostgreSQL, on every other instance (see [`super::caches`]); an entry is served for
//! [`super::caches::SHORT_TTL`] at most, or much longer while the notification link
//! vouches for it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::caches::{Link, ReadToken, SHORT_TTL};
use crate::domain::Account;

/// Entries above which the expired ones are swept; while that many are fresh, no more are
/// added (reads then go to the database): the cache's memory is bounded (some 20 MB at most)
/// whatever the number of accounts and however fast they are read.
const SWEEP_ABOVE: usize = 20_000;

/// Accounts by id, each with the instant its read from the database began.
#[derive(Default)]
pub struct AccountCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<i64, (Account, Instant)>,
    // Bumped by every invalidation: a read that started before it must not be cached, as
    // it may hold the values from before the write.
    generation: u64,
    // When the expired entries were last swept.
    swept: Option<Instant>,
}

impl AccountCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached account, if still fresh by the link's rule.
    pub fn get(&self, id: i64, link: &Link) -> Option<Account> {
        let ttl = link.ttl();
        let inner = self.lock();
        inner
            .entries
            .get(&id)
            .filter(|(_, at)| at.elapsed() < ttl)
            .map(|(a, _)| a.clone())
    }

    /// To take right before reading from the database, and pass to [`AccountCache::put`].
    pub fn token(&self) -> ReadToken {
        ReadToken::new(self.lock().generation)
    }

    /// Caches an account read under `token`, unless something was invalidated since.
    pub fn put(&self, token: ReadToken, account: &Account, link: &Link) {
        let mut inner = self.lock();
        if inner.generation != token.generation {
            return;
        }
        if inner.entries.len() >= SWEEP_ABOVE {
            // At most one sweep per short TTL: nothing read since expires sooner.
            if inner.swept.map_or(true, |at| at.elapsed() >= SHORT_TTL) {
                let ttl = link.ttl();
                inner.entries.retain(|_, (_, at)| at.elapsed() < ttl);
                inner.swept = Some(Instant::now());
            }
            if inner.entries.len() >= SWEEP_ABOVE {
                return;
            }
        }
        inner
            .entries
            .insert(account.id, (account.clone(), token.at));
    }

    /// Drops accounts after a write.
    pub fn invalidate(&self, ids: &[i64]) {
        let mut inner = self.lock();
        inner.generation += 1;
        for id in ids {
            inner.entries.remove(id);
        }
    }

    /// Drops everything (the notification link came up: what was read before may be stale).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::profile::Profile;
    use crate::domain::{AccountKind, Role};

    fn account(id: i64) -> Account {
        Account {
            id,
            username: format!("u{id}"),
            email: format!("u{id}@example.com"),
            password_hash: None,
            kind: AccountKind::Local,
            role: Role::Normal,
            locale: "en-us".into(),
            profile: Profile::default(),
            has_jess_secret: false,
            version: 1,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn the_cache_never_holds_more_than_its_bound() {
        let (cache, link) = (AccountCache::default(), Link::absent());
        for id in 0..(SWEEP_ABOVE as i64 + 5_000) {
            cache.put(cache.token(), &account(id), &link);
        }
        assert_eq!(cache.lock().entries.len(), SWEEP_ABOVE);
        assert!(cache.get(1, &link).is_some());
        assert!(
            cache.get(SWEEP_ABOVE as i64 + 1, &link).is_none(),
            "read from the store instead"
        );
    }
}
