//! A short-lived cache of accounts read by id, for a store that only this process writes
//! (SQLite). Every write through the store drops the entry; a write from another process
//! (the CLI) is seen within [`ACCOUNT_CACHE_TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::Account;

/// How long an account read from the database is served from memory.
pub const ACCOUNT_CACHE_TTL: Duration = Duration::from_millis(500);

/// Entries above which the expired ones are swept; while that many are fresh, no more are
/// added (reads then go to the database): the cache's memory is bounded (some 20 MB at most)
/// whatever the number of accounts and however fast they are read.
const SWEEP_ABOVE: usize = 20_000;

/// Accounts by id; disabled for stores that other processes write (PostgreSQL).
pub struct AccountCache {
    enabled: bool,
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
    /// A cache that serves entries (`enabled`) or never does.
    pub fn new(enabled: bool) -> AccountCache {
        AccountCache {
            enabled,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached account, if fresh.
    pub fn get(&self, id: i64) -> Option<Account> {
        if !self.enabled {
            return None;
        }
        let inner = self.lock();
        inner
            .entries
            .get(&id)
            .filter(|(_, at)| at.elapsed() < ACCOUNT_CACHE_TTL)
            .map(|(a, _)| a.clone())
    }

    /// The generation to pass to [`AccountCache::put`] after reading from the database.
    pub fn generation(&self) -> u64 {
        if self.enabled {
            self.lock().generation
        } else {
            0
        }
    }

    /// Caches an account read at `generation`, unless something was written since.
    pub fn put(&self, generation: u64, account: &Account) {
        if !self.enabled {
            return;
        }
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= SWEEP_ABOVE {
            // At most one sweep per TTL: nothing expires sooner.
            if inner
                .swept
                .map_or(true, |at| at.elapsed() >= ACCOUNT_CACHE_TTL)
            {
                inner
                    .entries
                    .retain(|_, (_, at)| at.elapsed() < ACCOUNT_CACHE_TTL);
                inner.swept = Some(Instant::now());
            }
            if inner.entries.len() >= SWEEP_ABOVE {
                return;
            }
        }
        inner
            .entries
            .insert(account.id, (account.clone(), Instant::now()));
    }

    /// Drops an account after a write.
    pub fn invalidate(&self, id: i64) {
        if !self.enabled {
            return;
        }
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.remove(&id);
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
        let cache = AccountCache::new(true);
        for id in 0..(SWEEP_ABOVE as i64 + 5_000) {
            cache.put(cache.generation(), &account(id));
        }
        assert_eq!(cache.lock().entries.len(), SWEEP_ABOVE);
        assert!(cache.get(1).is_some());
        assert!(
            cache.get(SWEEP_ABOVE as i64 + 1).is_none(),
            "read from the store instead"
        );
    }
}
