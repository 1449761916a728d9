//! Password changes: the policy, the history rule, hashing, and the sessions that go.

use super::events::security_event;
use super::permissions::Admin;
use super::throttle::{Check, Proof};
use super::{now, Accounts, Error, Result, SessionCtx};
use crate::auth::Verified;
use crate::domain::password::HISTORY_DEPTH;
use crate::domain::{email, Account, AccountKind, Actor, PolicyViolation};
use crate::store::PasswordChange;

impl Accounts {
    /// Changes one's own password after checking the current one; every other session of
    /// the account is revoked, the current one stays valid.
    pub async fn change_own_password(
        &self,
        ctx: &SessionCtx,
        current: &str,
        new: &str,
        actor: &Actor,
    ) -> Result<()> {
        let account = self.session_account(ctx).await?;
        if account.kind != AccountKind::Local {
            // A directory user's password changes in the directory: refused before the
            // current password would be sent to it.
            return Err(Error::NotLocal);
        }
        let actor = actor.as_account(account.id, &account.username);
        // Throttled like a log on: this is a password guess too.
        let hash = account.password_hash.as_deref();
        let verify = || async {
            Ok(match self.hasher.verify(current, hash).await? {
                Verified::Yes { .. } => Some(Proof::Password),
                Verified::No => None,
            })
        };
        self.guarded(
            Check::CurrentPassword,
            Some(&account),
            "",
            current,
            &actor,
            verify,
        )
        .await?;
        self.replace_password(&account, new, Some(&ctx.session.id), None, &actor)
            .await
    }

    /// An administrator's password reset: every session of the account is revoked.
    pub async fn reset_password(
        &self,
        _: &Admin,
        username: &str,
        new: &str,
        actor: &Actor,
    ) -> Result<Account> {
        let account = self.account_by_username(username).await?;
        self.replace_password(&account, new, None, None, actor)
            .await?;
        Ok(account)
    }

    /// Sets a new password after the policy and history checks. Sessions other than `keep`
    /// end; every API token is revoked and `api_token_hash` (if any) replaces them.
    pub(crate) async fn replace_password(
        &self,
        account: &Account,
        new: &str,
        keep: Option<&str>,
        api_token_hash: Option<&str>,
        actor: &Actor,
    ) -> Result<()> {
        self.check_replacement(account, new).await?;
        self.store_password(account, new, keep, api_token_hash, actor)
            .await
    }

    /// Whether `new` may replace the account's password: a local account, the policy, and
    /// (where the policy keeps it) the history.
    pub(crate) async fn check_replacement(&self, account: &Account, new: &str) -> Result<()> {
        if account.kind != AccountKind::Local {
            return Err(Error::NotLocal);
        }
        self.check_new_password(new, &account.username).await?;
        if self.settings.policy.keeps_history() && self.was_used_before(account, new).await? {
            return Err(Error::Policy(PolicyViolation::Reused));
        }
        Ok(())
    }

    /// Hashes and stores a password [`Accounts::check_replacement`] accepted; every path
    /// of a password change ends here, so the notice is sent here.
    pub(crate) async fn store_password(
        &self,
        account: &Account,
        new: &str,
        keep: Option<&str>,
        api_token_hash: Option<&str>,
        actor: &Actor,
    ) -> Result<()> {
        let hash = self.hasher.hash(new).await?;
        let change = PasswordChange {
            hash: &hash,
            keep_session: keep,
            history_depth: HISTORY_DEPTH - 1,
            api_token_hash,
        };
        let now = now();
        self.store
            .set_password(account.id, change, now, actor)
            .await?;
        security_event("password_changed", Some(account.id), actor);
        self.notify_password_changed(account, now);
        Ok(())
    }

    /// The policy rules that need no history.
    pub(crate) async fn check_new_password(&self, password: &str, username: &str) -> Result<()> {
        let policy = self.settings.policy;
        let (password, username) = (password.to_owned(), username.to_owned());
        // zxcvbn's matching is CPU work; keep it off the reactor.
        tokio::task::spawn_blocking(move || policy.check(&password, &username))
            .await
            .map_err(|e| Error::Internal(super::Fault::Task(e.into())))?
            .map_err(Error::Policy)
    }

    /// Whether `new` equals the current password or one of the ones before it
    /// (six in all).
    async fn was_used_before(&self, account: &Account, new: &str) -> Result<bool> {
        let mut hashes = self
            .store
            .password_history(account.id, HISTORY_DEPTH - 1)
            .await?;
        hashes.extend(account.password_hash.clone());
        Ok(self.hasher.matches_any(new, hashes).await?)
    }

    /// The account with this user name (case-insensitive).
    pub async fn account_by_username(&self, username: &str) -> Result<Account> {
        Ok(self
            .store
            .account_by_username(&crate::domain::username::key_of(username))
            .await?)
    }

    /// The account with this login email (case-insensitive).
    pub async fn account_by_email(&self, address: &str) -> Result<Account> {
        Ok(self.store.account_by_email(&email::key_of(address)).await?)
    }
}
