//! Throttling of failed credentials, per account and per client address, counted in the
//! store so that the limits hold across instances.

use super::{now, Accounts, Error, Result};
use crate::domain::{Account, Actor, AuditRecord, Change};
use crate::store::ThrottlePolicy;

/// One account: back-off from the 5th failure on.
pub const PER_ACCOUNT: ThrottlePolicy = ThrottlePolicy {
    threshold: 5,
    window_ms: 15 * 60_000,
    max_lock_ms: 15 * 60_000,
};
/// One client address: back-off from the 50th failure on (a shared address must not lock
/// everyone out after a few typos).
pub const PER_ADDRESS: ThrottlePolicy = ThrottlePolicy {
    threshold: 50,
    window_ms: 15 * 60_000,
    max_lock_ms: 15 * 60_000,
};

/// The current time in unix milliseconds.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The counter key of an account, or of the identifier tried when no account has it
/// (counted all the same, so that the replies do not tell the two apart).
pub(crate) fn account_key(account: Option<&Account>, identifier: &str) -> String {
    match account {
        Some(a) => format!("account:{}", a.id),
        None => format!("login:{}", identifier.to_lowercase()),
    }
}

fn address_key(actor: &Actor) -> Option<String> {
    actor.address.as_ref().map(|a| format!("address:{a}"))
}

impl Accounts {
    /// `Throttled` while the account or the actor's address is locked; otherwise whether
    /// the account has failures on record (so that a success needs to clear them).
    pub(crate) async fn check_throttle(&self, key: &str, actor: &Actor) -> Result<bool> {
        let address = address_key(actor);
        let mut keys = vec![key];
        keys.extend(address.as_deref());
        let counters = self.store.throttle_state(&keys).await?;
        let until = counters.iter().map(|(_, until)| *until).max().unwrap_or(0);
        let now = now_ms();
        if until > now {
            return Err(Error::Throttled(((until - now) as u64).div_ceil(1000)));
        }
        Ok(counters.iter().any(|(k, _)| k == key))
    }

    /// Counts a failure against the account and the address, and audits it.
    pub(crate) async fn record_failure(
        &self,
        key: &str,
        actor: &Actor,
        account: Option<&Account>,
        identifier: &str,
    ) -> Result<()> {
        let now = now_ms();
        self.store.throttle_failure(key, &PER_ACCOUNT, now).await?;
        if let Some(address) = address_key(actor) {
            self.store
                .throttle_failure(&address, &PER_ADDRESS, now)
                .await?;
        }
        let record = AuditRecord {
            at: super::now(),
            actor: actor.clone(),
            action: "logon_failed".into(),
            account_id: account.map(|a| a.id),
            username: Some(account.map_or(identifier, |a| &a.username).to_owned()),
            changes: Vec::new(),
        };
        self.store.record_audit(&record).await?;
        Ok(())
    }

    /// A success forgets the account's failures (the address's stay: one good log on must
    /// not reset a count that others' guesses built up).
    pub(crate) async fn record_success(&self, key: &str, had_failures: bool) -> Result<()> {
        if had_failures {
            self.store.throttle_clear(key).await?;
        }
        Ok(())
    }

    /// Clears an account's failure counter (`roster user unlock`).
    pub async fn unlock(&self, username: &str, actor: &Actor) -> Result<Account> {
        let account = self.account_by_username(username).await?;
        self.store
            .throttle_clear(&account_key(Some(&account), ""))
            .await?;
        let record = AuditRecord {
            at: now(),
            actor: actor.clone(),
            action: "unlock".into(),
            account_id: Some(account.id),
            username: Some(account.username.clone()),
            changes: vec![Change::new("locked", None, Some("false"))],
        };
        self.store.record_audit(&record).await?;
        Ok(account)
    }
}
