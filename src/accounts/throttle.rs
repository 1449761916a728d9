//! Throttling of credential checks, per account and per client address, counted in the
//! store before each check so that the limits hold under concurrency and across instances.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use ring::digest;
use tokio::sync::OnceCell;

use super::events::security_event;
use super::permissions::Admin;
use super::{now, Accounts, Error, Fault, Result};
use crate::domain::{Account, Actor, AuditAction, AuditRecord, Change, ThrottlePolicy};
use crate::store::Attempt;

/// One account: back-off from the 5th attempt on.
pub const PER_ACCOUNT: ThrottlePolicy = ThrottlePolicy {
    threshold: 5,
    window_ms: 15 * 60_000,
    max_lock_ms: 15 * 60_000,
};
/// One client address: back-off from the 50th attempt on (a shared address must not lock
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
        .map_or(0, |d| d.as_millis() as i64)
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

/// A credential check the throttle let through: counted already, it ends in
/// [`Accounts::passed`] or [`Accounts::failed`].
struct Ticket {
    key: String,
    number: i64,
    address: Option<String>,
}

/// What a credential proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proof {
    /// The account's password (or the admin key).
    Password,
    /// One of the account's API tokens.
    Token,
}

/// The credential checks; part of the key under which identical checks share one run.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Check {
    /// Email and password (log on, confirm).
    LogOn,
    /// The current password before a change.
    CurrentPassword,
    /// HTTP Basic: an API token or the password.
    Basic,
    /// The configured admin key.
    AdminKey,
}

/// How a shared check ended, for every request that waited on it.
#[derive(Debug, Clone)]
enum Outcome {
    Proved(Proof),
    Refused(u64),
    Wrong,
    Unavailable(String),
    Failed(Fault),
}

/// Identical checks in flight (same check, account and secret): a client that sends the
/// same right credential on many connections at once gets one check, not one per request,
/// so that counting attempts before the check does not refuse it. Keyed by a salted
/// SHA-256, so no secret is kept, and emptied as each check ends.
pub(crate) struct Flights {
    salt: Vec<u8>,
    running: Mutex<HashMap<[u8; 32], Arc<OnceCell<Outcome>>>>,
}

impl Default for Flights {
    fn default() -> Self {
        Flights {
            salt: crate::auth::random_bytes(32),
            running: Mutex::default(),
        }
    }
}

impl Flights {
    fn id(&self, check: Check, key: &str, secret: &str) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        for part in [
            &self.salt,
            format!("{check:?}").as_bytes(),
            key.as_bytes(),
            secret.as_bytes(),
        ] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(ctx.finish().as_ref());
        id
    }

    fn join(&self, id: [u8; 32]) -> Arc<OnceCell<Outcome>> {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        running.entry(id).or_default().clone()
    }

    fn leave(&self, id: [u8; 32], flight: &Arc<OnceCell<Outcome>>) {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if running.get(&id).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            running.remove(&id);
        }
    }
}

impl Accounts {
    /// Checks a credential under the throttle: the attempt is counted on the account (or
    /// the identifier tried) and the actor's address *before* `verify` runs, and refused
    /// without running it while either is locked. `verify` says what the secret proves, or
    /// `None` when it is wrong; a success clears the account's count, a failure is audited.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn guarded<F, Fut>(
        &self,
        check: Check,
        account: Option<&Account>,
        identifier: &str,
        secret: &str,
        actor: &Actor,
        verify: F,
    ) -> Result<Proof>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Proof>>>,
    {
        let key = account_key(account, identifier);
        let id = self.flights.id(check, &key, secret);
        let flight = self.flights.join(id);
        let outcome = flight
            .get_or_init(|| async {
                match self.checked(key, account, identifier, actor, verify).await {
                    Ok(Some(proof)) => Outcome::Proved(proof),
                    Ok(None) => Outcome::Wrong,
                    Err(Error::Throttled(seconds)) => Outcome::Refused(seconds),
                    Err(Error::Unavailable(cause)) => Outcome::Unavailable(cause),
                    Err(Error::Internal(fault)) => Outcome::Failed(fault),
                    Err(e) => Outcome::Failed(Fault::Shared(Arc::new(e))),
                }
            })
            .await
            .clone();
        self.flights.leave(id, &flight);
        match outcome {
            Outcome::Proved(proof) => Ok(proof),
            Outcome::Wrong => Err(Error::BadCredentials),
            Outcome::Refused(seconds) => Err(Error::Throttled(seconds)),
            Outcome::Unavailable(cause) => Err(Error::Unavailable(cause)),
            Outcome::Failed(fault) => Err(Error::Internal(fault)),
        }
    }

    async fn checked<F, Fut>(
        &self,
        key: String,
        account: Option<&Account>,
        identifier: &str,
        actor: &Actor,
        verify: F,
    ) -> Result<Option<Proof>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Proof>>>,
    {
        let ticket = self.admit(key, account.map(|a| a.id), actor).await?;
        let proof = verify().await?;
        match proof {
            Some(_) => self.passed(ticket, account.map(|a| a.id), actor).await?,
            None => self.failed(actor, account, identifier).await?,
        }
        Ok(proof)
    }

    /// Counts an attempt on the account `key` and the actor's address before its credential
    /// is checked; `Throttled` (and nothing counted) while either is locked.
    async fn admit(&self, key: String, account: Option<i64>, actor: &Actor) -> Result<Ticket> {
        let now = now_ms();
        let address = address_key(actor);
        if let Some(address) = &address {
            if let Attempt::Refused(until) = self
                .store
                .throttle_attempt(address, &PER_ADDRESS, now)
                .await?
            {
                return Err(throttled(until, now, account, actor));
            }
        }
        match self.store.throttle_attempt(&key, &PER_ACCOUNT, now).await? {
            Attempt::Counted(number) => Ok(Ticket {
                key,
                number,
                address,
            }),
            Attempt::Refused(until) => {
                // Not checked: the address's count is of checks only.
                if let Some(address) = &address {
                    self.store.throttle_release(address, &PER_ADDRESS).await?;
                }
                Err(throttled(until, now, account, actor))
            }
        }
    }

    /// A check that passed: the account's count is cleared and the address's attempt taken
    /// back (one good log on must not reset a count that others' guesses built up).
    async fn passed(&self, ticket: Ticket, account: Option<i64>, actor: &Actor) -> Result<()> {
        self.store
            .throttle_success(&ticket.key, ticket.number)
            .await?;
        if let Some(address) = &ticket.address {
            self.store.throttle_release(address, &PER_ADDRESS).await?;
        }
        security_event("logon_succeeded", account, actor);
        Ok(())
    }

    /// A check that failed: it stays counted; it is audited and logged.
    async fn failed(
        &self,
        actor: &Actor,
        account: Option<&Account>,
        identifier: &str,
    ) -> Result<()> {
        security_event("logon_failed", account.map(|a| a.id), actor);
        let record = AuditRecord {
            at: now(),
            actor: actor.clone(),
            action: AuditAction::LogonFailed,
            account_id: account.map(|a| a.id),
            username: Some(account.map_or(identifier, |a| &a.username).to_owned()),
            changes: Vec::new(),
        };
        self.store.record_audit(&record).await?;
        Ok(())
    }

    /// Clears an account's failure counter (`roster user unlock`).
    pub async fn unlock(&self, _: &Admin, username: &str, actor: &Actor) -> Result<Account> {
        let account = self.account_by_username(username).await?;
        self.store
            .throttle_clear(&account_key(Some(&account), ""))
            .await?;
        let record = AuditRecord {
            at: now(),
            actor: actor.clone(),
            action: AuditAction::Unlock,
            account_id: Some(account.id),
            username: Some(account.username.clone()),
            changes: vec![Change::new("locked", None, Some("false"))],
        };
        self.store.record_audit(&record).await?;
        Ok(account)
    }
}

/// The refusal of a locked key, logged.
fn throttled(until: i64, now: i64, account: Option<i64>, actor: &Actor) -> Error {
    security_event("throttled", account, actor);
    Error::Throttled(((until - now).max(1) as u64).div_ceil(1000))
}
