//! The store's two caches (accounts by id, verified sessions) and what keeps them coherent.
//!
//! Every write that changes what a cache may hold names it in a [`Changed`]: the store drops
//! the entries locally after the commit and, on PostgreSQL, sends the same [`Changed`] with
//! `pg_notify` *inside* the transaction, so that every instance listening on the channel
//! drops them too as soon as the change is committed (a notification is delivered only if
//! and when its transaction commits, and never before the change is visible).
//!
//! An entry is served for [`SHORT_TTL`] after its read began, whatever happens. Beyond that
//! only while the [`Link`] vouches for it: the notification connection is up and a
//! heartbeat on it (which returns only after every notification committed before it was
//! received) succeeded less than [`SHORT_TTL`] ago; then for up to [`LINKED_TTL`]. So a
//! change made through another instance is seen at once while the link is up, and within
//! [`SHORT_TTL`] while it is down or slow. SQLite has no link (only one server writes it;
//! the CLI's changes are seen within [`SHORT_TTL`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::account_cache::AccountCache;
use super::session_cache::SessionCache;

/// How long an entry is served when nothing vouches for it: the longest a change made
/// elsewhere (another instance while the link is down, the CLI on SQLite) goes unseen.
pub const SHORT_TTL: Duration = Duration::from_millis(500);

/// How long an entry is served while the notification link vouches for it (a bound on
/// what a change made behind Roster's back, in SQL by hand, goes unseen).
pub const LINKED_TTL: Duration = Duration::from_secs(30);

/// The `pg_notify` channel the instances on one database share.
pub const CHANNEL: &str = "roster_cache";

/// Taken right before a database read; the cache keeps the entry only if nothing was
/// invalidated since, and counts its age from here.
#[derive(Debug, Clone, Copy)]
pub struct ReadToken {
    pub(super) generation: u64,
    pub(super) at: Instant,
}

impl ReadToken {
    pub(super) fn new(generation: u64) -> ReadToken {
        ReadToken {
            generation,
            at: Instant::now(),
        }
    }
}

/// The state of the notification link, for `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Changes on other instances reach this one at once.
    Up,
    /// Lost (why): the caches serve entries for [`SHORT_TTL`] only until it is back.
    Down(String),
}

/// Whether the notification link vouches for cache entries older than [`SHORT_TTL`].
pub struct Link {
    exists: bool,
    base: Instant,
    up: AtomicBool,
    /// Milliseconds after `base` at which the last heartbeat that succeeded was sent.
    confirmed_ms: AtomicU64,
    down_reason: Mutex<String>,
}

impl Link {
    /// No link at all (SQLite): entries live [`SHORT_TTL`].
    pub fn absent() -> Link {
        Link {
            exists: false,
            base: Instant::now(),
            up: AtomicBool::new(false),
            confirmed_ms: AtomicU64::new(0),
            down_reason: Mutex::new(String::new()),
        }
    }

    /// A link not connected yet.
    pub fn for_postgres() -> Link {
        Link {
            exists: true,
            down_reason: Mutex::new("not connected yet".into()),
            ..Link::absent()
        }
    }

    fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.base).as_millis() as u64
    }

    /// How long an entry may be served now.
    pub fn ttl(&self) -> Duration {
        if !self.up.load(Ordering::Acquire) {
            return SHORT_TTL;
        }
        let confirmed = self.confirmed_ms.load(Ordering::Acquire);
        if self.ms(Instant::now()).saturating_sub(confirmed) < SHORT_TTL.as_millis() as u64 {
            LINKED_TTL
        } else {
            SHORT_TTL
        }
    }

    /// Listening since `at` (the caches must be cleared right after).
    pub fn up(&self, at: Instant) {
        self.confirm(at);
        self.up.store(true, Ordering::Release);
    }

    /// Every notification committed before `sent` has been received.
    pub fn confirm(&self, sent: Instant) {
        self.confirmed_ms.fetch_max(self.ms(sent), Ordering::AcqRel);
    }

    /// The link was lost; notifications may be missed until it is back.
    pub fn down(&self, reason: String) {
        self.up.store(false, Ordering::Release);
        *self
            .down_reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = reason;
    }

    /// `None` without a link (SQLite).
    pub fn state(&self) -> Option<LinkState> {
        if !self.exists {
            None
        } else if self.up.load(Ordering::Acquire) {
            Some(LinkState::Up)
        } else {
            let reason = self
                .down_reason
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            Some(LinkState::Down(reason))
        }
    }
}

/// What a write changed that a cache may hold: only kinds and account ids, never a
/// session id, an email or a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// The accounts' rows changed (or are gone).
    pub accounts: bool,
    /// Sessions of the accounts ended.
    pub sessions: bool,
    /// The accounts.
    pub ids: Vec<i64>,
}

impl Changed {
    /// Rows of these accounts changed.
    pub fn accounts(ids: Vec<i64>) -> Changed {
        Changed {
            accounts: true,
            sessions: false,
            ids,
        }
    }

    /// Sessions of this account ended.
    pub fn sessions(id: i64) -> Changed {
        Changed {
            accounts: false,
            sessions: true,
            ids: vec![id],
        }
    }

    /// The account changed and its sessions ended (password change, deletion).
    pub fn account_and_sessions(id: i64) -> Changed {
        Changed {
            accounts: true,
            sessions: true,
            ids: vec![id],
        }
    }

    /// The notification payload: `a`, `s` or `b` (both), then the ids separated by commas
    /// (well under PostgreSQL's 8000-byte limit for a batch of 128).
    pub fn payload(&self) -> String {
        let kind = match (self.accounts, self.sessions) {
            (true, true) => 'b',
            (false, true) => 's',
            _ => 'a',
        };
        let ids: Vec<String> = self.ids.iter().map(i64::to_string).collect();
        format!("{kind}{}", ids.join(","))
    }

    /// `None` for a payload this version does not understand.
    pub fn parse(payload: &str) -> Option<Changed> {
        let mut chars = payload.chars();
        let (accounts, sessions) = match chars.next()? {
            'a' => (true, false),
            's' => (false, true),
            'b' => (true, true),
            _ => return None,
        };
        let ids = chars
            .as_str()
            .split(',')
            .map(|id| id.parse().ok())
            .collect::<Option<Vec<i64>>>()?;
        Some(Changed {
            accounts,
            sessions,
            ids,
        })
    }
}

/// The account and session caches of one store, and the link that vouches for them.
pub struct Caches {
    /// Accounts by id.
    pub accounts: AccountCache,
    /// Verified sessions by id.
    pub sessions: SessionCache,
    /// The notification link (absent on SQLite).
    pub link: Link,
}

impl Caches {
    /// Caches with `link`.
    pub fn new(link: Link) -> Caches {
        Caches {
            accounts: AccountCache::default(),
            sessions: SessionCache::default(),
            link,
        }
    }

    /// Drops what `changed` names.
    pub fn apply(&self, changed: &Changed) {
        if changed.accounts {
            self.accounts.invalidate(&changed.ids);
        }
        if changed.sessions {
            self.sessions.forget_accounts(&changed.ids);
        }
    }

    /// Drops what a notification names; everything when it cannot be read.
    pub fn apply_payload(&self, payload: &str) {
        if let Some(changed) = Changed::parse(payload) {
            self.apply(&changed);
        } else {
            tracing::warn!(
                payload,
                "unknown cache notification: every cache entry dropped"
            );
            self.clear();
        }
    }

    /// Drops everything.
    pub fn clear(&self) {
        self.accounts.clear();
        self.sessions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_reads_back_as_the_change_it_was_made_from() {
        for changed in [
            Changed::accounts(vec![1, 22, 333]),
            Changed::sessions(7),
            Changed::account_and_sessions(9),
        ] {
            assert_eq!(Changed::parse(&changed.payload()), Some(changed));
        }
        assert_eq!(Changed::sessions(7).payload(), "s7");
        for bad in ["", "x1", "a", "a1,,2", "s1;DROP"] {
            assert_eq!(Changed::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_link_vouches_only_while_up_and_recently_confirmed() {
        let link = Link::for_postgres();
        assert_eq!(link.ttl(), SHORT_TTL);
        assert!(matches!(link.state(), Some(LinkState::Down(_))));
        link.up(Instant::now());
        assert_eq!(link.ttl(), LINKED_TTL);
        assert_eq!(link.state(), Some(LinkState::Up));
        std::thread::sleep(SHORT_TTL + Duration::from_millis(20));
        assert_eq!(
            link.ttl(),
            SHORT_TTL,
            "no heartbeat for longer than the short TTL"
        );
        link.confirm(Instant::now());
        assert_eq!(link.ttl(), LINKED_TTL);
        link.down("gone".into());
        assert_eq!(link.ttl(), SHORT_TTL);
        assert_eq!(link.state(), Some(LinkState::Down("gone".into())));
        assert_eq!(Link::absent().state(), None);
    }
}
