//! Log on, check-in, confirm, log off, and turning a token back into a session.

use super::throttle::{Check, Proof};
use super::{now, Accounts, Error, Result};
use crate::auth::{random_token, Verified};
use crate::domain::{email, Account, AccountKind, Actor, Session};
use crate::store::StoreError;

/// A verified session, as a request carries it.
#[derive(Debug, Clone)]
pub struct SessionCtx {
    /// The server-side record.
    pub session: Session,
}

impl SessionCtx {
    /// The account the session belongs to.
    pub fn account_id(&self) -> i64 {
        self.session.account_id
    }
}

/// A new token and what the reply needs to say about it.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    /// The signed JWT.
    pub token: String,
    /// Seconds until the token expires (the cookie's `Max-Age`).
    pub max_age: i64,
    /// The account logged on.
    pub account: Account,
}

impl Accounts {
    /// Checks an email and password; the reply and its time do not reveal which was wrong.
    pub async fn log_on(
        &self,
        email: &str,
        password: &str,
        actor: &Actor,
    ) -> Result<IssuedSession> {
        let account = self.verify_credentials(email, password, actor).await?;
        let now = now();
        let session = Session {
            id: random_token(18),
            account_id: account.id,
            login_at: now,
            expires_at: now + self.settings.session_max_age,
        };
        self.store.create_session(&session).await?;
        Ok(self.issue(&session, account, now))
    }

    /// The account whose credentials these are; one Argon2 verification whatever happens.
    /// Throttled per account and address, counted before the check (a correct password
    /// during the back-off is refused too); failures are audited.
    pub(crate) async fn verify_credentials(
        &self,
        email: &str,
        password: &str,
        actor: &Actor,
    ) -> Result<Account> {
        let account = match self.store.account_by_email(&email::key_of(email)).await {
            Ok(account) => Some(account),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let hash = account.as_ref().and_then(|a| a.password_hash.as_deref());
        let verify = || async {
            if let Some(ad) = account.as_ref().filter(|a| a.kind == AccountKind::Ad) {
                return self.directory_proof(ad, password).await;
            }
            match (self.hasher.verify(password, hash).await?, &account) {
                (Verified::Yes { rehash }, Some(account)) => {
                    if let (Some(new), Some(old)) = (rehash, hash) {
                        self.store.rehash_password(account.id, old, &new).await?;
                    }
                    Ok(Some(Proof::Password))
                }
                _ => Ok(None),
            }
        };
        self.guarded(
            Check::LogOn,
            account.as_ref(),
            email,
            password,
            actor,
            verify,
        )
        .await?;
        account.ok_or(Error::BadCredentials)
    }

    /// The live session a token names; `Unauthorized` for anything else.
    pub async fn session_for_token(&self, token: &str) -> Result<SessionCtx> {
        let claims = self.tokens.verify(token).ok_or(Error::Unauthorized)?;
        let session = match self.store.cached_session(&claims.jti).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Err(Error::Unauthorized),
            Err(e) => return Err(e.into()),
        };
        if session.account_id != claims.uid || session.expires_at <= now() {
            return Err(Error::Unauthorized);
        }
        Ok(SessionCtx { session })
    }

    /// A new token for the same session: tokens belong to a session, so the one the client
    /// holds keeps working until its own expiry (real clients keep using it and drop the new
    /// cookie), and ending the session ends both. The session's absolute limit still caps it.
    pub async fn check_in(&self, ctx: &SessionCtx) -> Result<IssuedSession> {
        let account = self.session_account(ctx).await?;
        let now = now();
        // The request may have been authenticated from the cache: the session must still
        // exist in the store (a log off through another instance ends it there).
        let session = match self.store.session(&ctx.session.id).await {
            Err(StoreError::NotFound) => return Err(Error::Unauthorized),
            other => other?,
        };
        if session.account_id != ctx.account_id() || session.expires_at <= now {
            return Err(Error::Unauthorized);
        }
        Ok(self.issue(&session, account, now))
    }

    /// Re-checks the credentials of the session's own account, then starts a new session
    /// in place of the old one (a re-authentication: every token of the old one ends).
    pub async fn confirm(
        &self,
        ctx: &SessionCtx,
        email: &str,
        password: &str,
        actor: &Actor,
    ) -> Result<IssuedSession> {
        let account = match self.verify_credentials(email, password, actor).await {
            Ok(account) if account.id == ctx.account_id() => account,
            Ok(_) | Err(Error::BadCredentials) => return Err(Error::SessionMismatch),
            Err(e) => return Err(e),
        };
        self.rotate(ctx, account).await
    }

    /// Ends the session server-side (the store drops it from every instance's cache).
    pub async fn log_off(&self, ctx: &SessionCtx, actor: &Actor) -> Result<()> {
        let actor = Actor {
            id: Some(ctx.account_id()),
            ..actor.clone()
        };
        match self
            .store
            .delete_session(&ctx.session.id, now(), &actor)
            .await
        {
            Ok(()) | Err(StoreError::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The account of a session; a deleted account means the session is gone.
    pub(crate) async fn session_account(&self, ctx: &SessionCtx) -> Result<Account> {
        match self.store.account_by_id(ctx.account_id()).await {
            Err(StoreError::NotFound) => Err(Error::Unauthorized),
            other => Ok(other?),
        }
    }

    async fn rotate(&self, ctx: &SessionCtx, account: Account) -> Result<IssuedSession> {
        let now = now();
        if ctx.session.expires_at <= now {
            return Err(Error::Unauthorized);
        }
        let session = Session {
            id: random_token(18),
            ..ctx.session.clone()
        };
        match self.store.rotate_session(&ctx.session.id, &session).await {
            Err(StoreError::NotFound) => Err(Error::Unauthorized),
            other => Ok(other?),
        }?;
        Ok(self.issue(&session, account, now))
    }

    fn issue(&self, session: &Session, account: Account, now: i64) -> IssuedSession {
        // No token outlives the session's absolute limit.
        let exp = (now + self.settings.token_ttl).min(session.expires_at);
        IssuedSession {
            token: self.tokens.issue(session, now, exp),
            max_age: exp - now,
            account,
        }
    }
}
