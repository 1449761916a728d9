//! Password reset by email: a single-use token (only its SHA-256 kept) mailed to a local
//! account's address, valid 30 minutes; confirming it sets a new password under the policy
//! and ends every session and API token of the account.

use super::admin::sha256_hex;
use super::events::security_event;
use super::{audit_trail::rfc3339, Accounts, Error, Result};
use crate::domain::{email, Account, AccountKind, Actor, AuditAction, AuditRecord};
use crate::mail::Mail;
use crate::store::StoreError;

/// How long a reset token lives, seconds.
pub const RESET_TTL: i64 = 30 * 60;
/// Reset requests per email address per hour (a mailbox cannot be flooded).
pub const RESETS_PER_EMAIL: i64 = 3;
/// Reset requests and confirmations per client address per hour.
pub const RESETS_PER_ADDRESS: i64 = 20;
const HOUR_MS: i64 = 3_600_000;

impl Accounts {
    /// `POST /users/api/reset`: when `address` is a local account's login email, a reset
    /// link is mailed to it. The caller learns nothing either way: the same work runs on
    /// this path (the token is made whether or not it is used) and the store write and the
    /// SMTP exchange happen in the background.
    pub async fn request_reset(&self, address: &str, now: i64, actor: &Actor) -> Result<()> {
        let outbox = self.mail.clone().ok_or(Error::MailOff)?;
        let key = email::key_of(address.trim());
        self.reset_rate(actor).await?;
        self.within_rate(
            &format!("reset-email:{key}"),
            RESETS_PER_EMAIL,
            HOUR_MS,
            actor,
        )
        .await?;
        let account = match self.store.account_by_email(&key).await {
            Ok(account) => Some(account).filter(|a| a.kind == AccountKind::Local),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let token = crate::auth::random_token(32);
        let hash = sha256_hex(&token);
        let Some(account) = account else {
            security_event("reset_requested", None, actor);
            return Ok(());
        };
        security_event("reset_requested", Some(account.id), actor);
        let mail = Mail {
            to: account.email.clone(),
            subject: "Roster: reset your password".into(),
            body: reset_body(&account, &outbox.public_url, &token, now),
        };
        let (accounts, actor) = (self.clone(), actor.clone());
        let mailer = outbox.mailer.clone();
        outbox.mailer.background("reset", async move {
            match accounts.issue_reset(&account, &hash, now, &actor).await {
                Ok(()) => mailer.deliver(mail, "reset").await,
                Err(e) => tracing::error!(account = account.id, cause = %e, "reset not issued"),
            }
        });
        Ok(())
    }

    /// Stores the token (voiding the account's older ones) and audits the request.
    async fn issue_reset(
        &self,
        account: &Account,
        hash: &str,
        now: i64,
        actor: &Actor,
    ) -> Result<()> {
        self.store
            .create_reset_token(account.id, hash, now + RESET_TTL)
            .await?;
        let record = AuditRecord {
            at: now,
            actor: actor.clone(),
            action: AuditAction::ResetRequested,
            account_id: Some(account.id),
            username: Some(account.username.clone()),
            changes: Vec::new(),
        };
        Ok(self.store.record_audit(&record).await?)
    }

    /// `POST /users/api/reset/confirm`: a live token sets `new` (policy and history apply);
    /// the token is spent, every session and API token of the account ends. `now` is the
    /// clock the expiry is judged by.
    pub async fn confirm_reset(
        &self,
        token: &str,
        new: &str,
        now: i64,
        actor: &Actor,
    ) -> Result<()> {
        if self.mail.is_none() {
            return Err(Error::MailOff);
        }
        self.reset_rate(actor).await?;
        let hash = sha256_hex(token);
        let account = match self.store.reset_token_account(&hash, now).await {
            Ok(id) => self.store.account_by_id(id).await,
            Err(e) => Err(e),
        };
        let account = match account {
            Ok(account) => account,
            Err(StoreError::NotFound) => return Err(Error::ResetInvalid),
            Err(e) => return Err(e.into()),
        };
        let actor = actor.as_account(account.id, &account.username);
        // Checked before the token is spent, so that a refused password leaves it usable.
        self.check_replacement(&account, new).await?;
        match self.store.spend_reset_token(&hash, now).await {
            Ok(id) if id == account.id => {}
            Ok(_) | Err(StoreError::NotFound) => return Err(Error::ResetInvalid),
            Err(e) => return Err(e.into()),
        }
        self.store_password(&account, new, None, None, &actor)
            .await?;
        security_event("password_reset", Some(account.id), &actor);
        Ok(())
    }

    /// Reset requests and confirmations from one client address.
    async fn reset_rate(&self, actor: &Actor) -> Result<()> {
        match &actor.address {
            Some(address) => {
                let key = format!("reset-address:{address}");
                self.within_rate(&key, RESETS_PER_ADDRESS, HOUR_MS, actor)
                    .await
            }
            None => Ok(()),
        }
    }
}

fn reset_body(account: &Account, public_url: &str, token: &str, now: i64) -> String {
    format!(
        "Someone asked at {} (UTC) to reset the password of your Roster account {}.\n\n\
         To choose a new password, open this link within 30 minutes (it works once):\n\
         {public_url}/account/reset?token={token}\n\n\
         If this was not you, ignore this mail: your password stays as it is.\n",
        rfc3339(now),
        account.username,
    )
}
