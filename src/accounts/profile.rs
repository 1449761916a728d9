//! Reading and partially updating one's own account; linking a JESS credential.

use super::events::security_event;
use super::{now, Accounts, Error, Result, SessionCtx};
use crate::domain::profile::check_text;
use crate::domain::{Account, AccountPatch, Actor, ProfileInput};
use crate::store::StoreError;

/// The longest JESS user name or secret accepted.
const JESS_MAX: usize = 255;

impl Accounts {
    /// The session's account.
    pub async fn own_account(&self, ctx: &SessionCtx) -> Result<Account> {
        self.session_account(ctx).await
    }

    /// Applies a partial update to the session's account: only the given fields change,
    /// atomically; with `expected_version` (`If-Match`), only if the account is unchanged.
    pub async fn update_profile(
        &self,
        ctx: &SessionCtx,
        input: ProfileInput,
        expected_version: Option<i64>,
        actor: &Actor,
    ) -> Result<()> {
        // The hot path (no email, no If-Match) needs no read before the write.
        let current = if input.email.is_some() || expected_version.is_some() {
            Some(self.session_account(ctx).await?)
        } else {
            None
        };
        let current_email = current.as_ref().map_or("", |a| a.email.as_str());
        let patch = input.validate(current_email).map_err(Error::Invalid)?;
        let actor = Actor {
            id: Some(ctx.account_id()),
            ..actor.clone()
        };
        if patch.is_empty() {
            return match (expected_version, current) {
                (Some(v), Some(current)) if v != current.version => Err(Error::Stale),
                _ => Ok(()),
            };
        }
        match self
            .store
            .update_account(ctx.account_id(), &patch, expected_version, now(), &actor)
            .await
        {
            Err(StoreError::NotFound) => return Err(Error::Unauthorized),
            other => other?,
        }
        if patch.email.is_some() {
            security_event("email_changed", Some(ctx.account_id()), &actor);
            if let Some(old) = &current {
                self.notify_email_changed(old, now());
            }
        }
        Ok(())
    }

    /// Writes a validated patch; an empty patch writes nothing (but is still refused when
    /// the expected version is stale).
    pub(crate) async fn apply_patch(
        &self,
        current: &Account,
        patch: &AccountPatch,
        expected_version: Option<i64>,
        actor: &Actor,
    ) -> Result<()> {
        if patch.is_empty() {
            return match expected_version {
                Some(v) if v != current.version => Err(Error::Stale),
                _ => Ok(()),
            };
        }
        self.store
            .update_account(current.id, patch, expected_version, now(), actor)
            .await?;
        if patch.email.is_some() {
            security_event("email_changed", Some(current.id), actor);
            self.notify_email_changed(current, now());
        }
        Ok(())
    }

    /// Stores a JESS credential (the secret sealed) and turns `use_jess` on.
    pub async fn link_jess(
        &self,
        ctx: &SessionCtx,
        user: &str,
        secret: &str,
        actor: &Actor,
    ) -> Result<()> {
        let fits = |s: &str| !s.is_empty() && s.chars().count() <= JESS_MAX;
        if !fits(user) || !fits(secret) || check_text("jessUser", user).is_err() {
            return Err(Error::JessRejected);
        }
        let sealed = self.sealer.seal(secret);
        let actor = Actor {
            id: Some(ctx.account_id()),
            ..actor.clone()
        };
        self.store
            .set_jess(ctx.account_id(), user, &sealed, now(), &actor)
            .await
            .map_err(|e| match e.into() {
                Error::NotFound => Error::Unauthorized,
                other => other,
            })
    }

    /// Whether the session's account has a JESS credential.
    pub async fn has_jess_link(&self, ctx: &SessionCtx) -> Result<bool> {
        let account = self.session_account(ctx).await?;
        Ok(account.profile.jess_user.is_some() && account.has_jess_secret)
    }
}
