//! Mail use-cases: `/send`, and the notices after a password or email change. Each mail is
//! short plain text naming the product, what happened, when, and what to do if it was not
//! the account's owner; none carries a secret.

use super::events::security_event;
use super::{audit_trail::rfc3339, Accounts, Error, Result, SessionCtx};
use crate::domain::{Account, Actor, Email, FieldError, Role};
use crate::mail::{Mail, Mailer};
use crate::store::{Attempt, ThrottlePolicy};

/// The longest `/send` subject, in characters.
pub const TITLE_MAX: usize = 255;
/// The longest `/send` message, in bytes.
pub const MESSAGE_MAX: usize = 64 * 1024;
/// How many `/send` mails one account may send per clock hour.
pub const SENDS_PER_HOUR: i64 = 10;
const HOUR_MS: i64 = 3_600_000;

/// The mailer and the address users reach, when mail is configured.
pub(crate) struct Outbox {
    pub(crate) mailer: Mailer,
    pub(crate) public_url: String,
}

impl Accounts {
    /// Turns mail on: `/send`, password reset and notices go through `mailer`; links point
    /// at `public_url`.
    pub fn with_mail(mut self, mailer: Mailer, public_url: &str) -> Accounts {
        self.configure().mail = Some(std::sync::Arc::new(Outbox {
            mailer,
            public_url: public_url.trim_end_matches('/').to_owned(),
        }));
        self
    }

    /// Whether mail is configured.
    pub fn mail_enabled(&self) -> bool {
        self.mail.is_some()
    }

    /// `/send`: mails `message` under `title` to the caller's own address, or, for an
    /// administrator, to `to` when given. Returns the recipient.
    pub async fn send_message(
        &self,
        ctx: &SessionCtx,
        to: Option<&str>,
        title: &str,
        message: &str,
        actor: &Actor,
    ) -> Result<String> {
        let account = self.session_account(ctx).await?;
        check_title(title)?;
        if message.len() > MESSAGE_MAX || message.contains('\0') {
            return Err(Error::Invalid(FieldError::new(
                "message",
                "is longer than 64 KiB or contains NUL",
            )));
        }
        let recipient = match to.filter(|t| !t.is_empty() && account.role == Role::Admin) {
            Some(to) => Email::parse(to)
                .map_err(|_| {
                    Error::Invalid(FieldError::new("email", "is not a valid email address"))
                })?
                .as_str()
                .to_owned(),
            None => account.email.clone(),
        };
        let outbox = self.mail.as_ref().ok_or(Error::MailOff)?;
        let actor = actor.as_account(account.id, &account.username);
        self.within_rate(
            &format!("send:{}", account.id),
            SENDS_PER_HOUR,
            HOUR_MS,
            &actor,
        )
        .await?;
        let mail = Mail {
            to: recipient.clone(),
            subject: title.to_owned(),
            body: message.to_owned(),
        };
        if let Err(e) = outbox.mailer.send(mail).await {
            tracing::warn!(account = account.id, cause = %e, "mail not sent");
            return Err(Error::MailFailed);
        }
        security_event("mail_sent", Some(account.id), &actor);
        Ok(recipient)
    }

    /// Counts one use of `key` in the current window of `window_ms` (a fixed window, one
    /// throttle row per window) and refuses past `limit`, with the seconds until the next.
    pub(crate) async fn within_rate(
        &self,
        key: &str,
        limit: i64,
        window_ms: i64,
        actor: &Actor,
    ) -> Result<()> {
        let now_ms = super::now() * 1000;
        let window = now_ms / window_ms;
        // No lock: the window's count alone decides.
        let policy = ThrottlePolicy {
            threshold: i64::MAX,
            window_ms,
            max_lock_ms: window_ms,
        };
        let key = format!("{key}@{window}");
        match self.store.throttle_attempt(&key, &policy, now_ms).await? {
            Attempt::Counted(n) if n <= limit => Ok(()),
            _ => {
                security_event("throttled", actor.id, actor);
                let left = ((window + 1) * window_ms - now_ms).max(1) as u64;
                Err(Error::Throttled(left.div_ceil(1000)))
            }
        }
    }

    /// After a password change by any path: a notice to the account's address.
    pub(crate) fn notify_password_changed(&self, account: &Account, now: i64) {
        let Some(outbox) = &self.mail else { return };
        let body = format!(
            "The password of your Roster account {} was changed at {} (UTC).\n\n\
             If this was not you, reset your password at once at {}/account/reset\n\
             (or ask your administrator to), then check your account's details.\n",
            account.username,
            rfc3339(now),
            outbox.public_url,
        );
        let mail = Mail {
            to: account.email.clone(),
            subject: "Roster: your password was changed".into(),
            body,
        };
        outbox.mailer.queue(mail, "password_notice");
    }

    /// After an email change: a notice to the old address (the new one is not named).
    pub(crate) fn notify_email_changed(&self, old: &Account, now: i64) {
        let Some(outbox) = &self.mail else { return };
        let body = format!(
            "The email address of your Roster account {} was changed at {} (UTC).\n\
             Mail for the account now goes to the new address, and you log on with it.\n\n\
             If this was not you, contact your administrator at once: whoever changed it\n\
             may be using your account.\n",
            old.username,
            rfc3339(now),
        );
        let mail = Mail {
            to: old.email.clone(),
            subject: "Roster: the email address of your account was changed".into(),
            body,
        };
        outbox.mailer.queue(mail, "email_notice");
    }
}

/// The subject: at most 255 characters, one line (no header injection).
fn check_title(title: &str) -> Result<()> {
    if title.chars().count() > TITLE_MAX {
        return Err(Error::Invalid(FieldError::new(
            "title",
            "is longer than 255 characters",
        )));
    }
    if title.chars().any(char::is_control) {
        return Err(Error::Invalid(FieldError::new(
            "title",
            "contains a line break or another control character",
        )));
    }
    Ok(())
}
