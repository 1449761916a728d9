//! The use-cases both dialects and the CLI share: log on, sessions, profile updates, user
//! management, password changes. Every business rule lives here or in `domain`, once.

mod admin;
mod audit_trail;
mod directory;
mod events;
pub mod files;
mod import;
mod mail;
mod manage;
mod passwords;
mod permissions;
mod profile;
mod reset;
mod sessions;
mod throttle;

use std::sync::Arc;

use crate::auth::hasher::HashError;
use crate::auth::{Hasher, Sealer, TokenKeys};
use crate::domain::{FieldError, PasswordPolicy, PolicyViolation, UniqueField};
use crate::store::{Store, StoreError};

pub use admin::{AdminUserInput, AdminUserUpdate, Caller, Via};
pub use audit_trail::{parse_rfc3339, rfc3339, unusual_purge, Purged, AUDIT_PAGE_MAX, LARGE_PURGE};
pub use files::{FileError, FileLimits, Files};
pub use import::ImportUser;
pub use mail::{MESSAGE_MAX, SENDS_PER_HOUR, TITLE_MAX};
pub use manage::{NewUser, DEFAULT_ADMIN};
pub use permissions::{Admin, PasswordGrant, UserView};
pub use reset::{RESETS_PER_ADDRESS, RESETS_PER_EMAIL, RESET_TTL};
pub use sessions::{IssuedSession, SessionCtx};

/// What a use-case can refuse, in terms both dialects translate into their own replies.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Unknown email, wrong password, or an account without a local password.
    #[error("bad credentials")]
    BadCredentials,
    /// A missing, invalid, expired or revoked session.
    #[error("unauthorized")]
    Unauthorized,
    /// `confirm` with credentials of another (or no) account.
    #[error("credentials do not match the session")]
    SessionMismatch,
    /// A required field is absent.
    #[error("Field '{0}' is required.")]
    Missing(&'static str),
    /// A field value that breaks a rule.
    #[error("{0}")]
    Invalid(FieldError),
    /// A password the policy refuses.
    #[error("Password does not satisfy the password policy: {0}.")]
    Policy(PolicyViolation),
    /// A username or email already used by another account.
    #[error("{0:?} already in use")]
    Taken(UniqueField),
    /// No such account.
    #[error("no such account")]
    NotFound,
    /// The caller lacks the right to this use-case.
    #[error("forbidden")]
    Forbidden,
    /// The default administrator cannot be deleted.
    #[error("the default administrator cannot be deleted")]
    DefaultAdmin,
    /// The account has no local password (`type: ad`).
    #[error("the account has no local password")]
    NotLocal,
    /// Too many failures: locked for this many more seconds.
    #[error("too many failed attempts")]
    Throttled(u64),
    /// The account changed since the version the caller read (`If-Match`).
    #[error("the account changed since it was read")]
    Stale,
    /// The JESS credential is empty or refused.
    #[error("JESS credential refused")]
    JessRejected,
    /// The store cannot serve now (disk full, file gone, database unreachable): nothing was
    /// changed; a retry may succeed.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Mail is not configured (no `--smtp-url`).
    #[error("mail is off")]
    MailOff,
    /// The SMTP server refused the mail, could not be reached, or took too long.
    #[error("mail could not be sent")]
    MailFailed,
    /// An unknown, spent or expired password-reset token.
    #[error("reset token invalid or expired")]
    ResetInvalid,
    /// Something failed that is not the caller's fault; details are logged, never replied.
    #[error("internal error: {0}")]
    Internal(Fault),
}

/// Why a use-case failed through no fault of the caller (cloneable: one credential check
/// may answer several requests).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Fault {
    /// The database refused a statement for a reason other than its availability.
    #[error(transparent)]
    Store(Arc<sqlx::Error>),
    /// Password hashing failed.
    #[error(transparent)]
    Hash(Arc<HashError>),
    /// A blocking task (the password-strength check) panicked or was cancelled.
    #[error("a blocking task failed: {0}")]
    Task(Arc<tokio::task::JoinError>),
    /// Every user name derived from a registration's email is taken.
    #[error("no free user name for registration")]
    NoFreeUsername,
    /// The stored sealing key is not a key.
    #[error("bad sealing key")]
    BadSealingKey,
    /// The credential check this request shared with others failed.
    #[error("{0}")]
    Shared(Arc<Error>),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        match e {
            StoreError::NotFound => Error::NotFound,
            StoreError::Conflict(field) => Error::Taken(field),
            StoreError::Stale => Error::Stale,
            StoreError::Unavailable(cause) => Error::Unavailable(cause),
            StoreError::Other(e) => Error::Internal(Fault::Store(e)),
        }
    }
}

impl From<HashError> for Error {
    fn from(e: HashError) -> Error {
        Error::Internal(Fault::Hash(Arc::new(e)))
    }
}

/// Shorthand for use-case results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Rules that come from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Which password rules apply.
    pub policy: PasswordPolicy,
    /// Lifetime of one token, seconds.
    pub token_ttl: i64,
    /// Absolute session lifetime from log on, seconds.
    pub session_max_age: i64,
    /// Accepted locales; the first is the default.
    pub locales: Vec<String>,
    /// The license authentication key accepted in `x-authorization`, if any.
    pub admin_key: Option<String>,
}

/// The account service: the store plus the keys and rules that go with it.
///
/// Cloned into each request's state, so it is one `Arc`: a clone is one reference count,
/// where a struct of a dozen shared parts cost a dozen atomic updates (on cache lines every
/// core contends for) per clone and again per drop.
#[derive(Clone)]
pub struct Accounts {
    shared: Arc<Shared>,
}

/// The parts of [`Accounts`], reached through it by `Deref`.
#[derive(Clone)]
pub struct Shared {
    store: Arc<dyn Store>,
    hasher: Hasher,
    tokens: Arc<TokenKeys>,
    sealer: Arc<Sealer>,
    settings: Arc<Settings>,
    flights: Arc<throttle::Flights>,
    directory: Option<crate::directory::DirectoryHandle>,
    mail: Option<Arc<mail::Outbox>>,
}

impl std::ops::Deref for Accounts {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl Accounts {
    /// The parts, to change while configuring (copied first if already shared).
    fn configure(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.shared)
    }
}

impl Accounts {
    /// Loads (creating on first use) the shared keys from the store.
    pub async fn new(
        store: Arc<dyn Store>,
        hasher: Hasher,
        settings: Settings,
    ) -> Result<Accounts> {
        let signing = store
            .secret("jwt-hs256", &crate::auth::random_bytes(32))
            .await?;
        let sealing = store
            .secret("jess-seal", &crate::auth::random_bytes(32))
            .await?;
        let sealer = Sealer::new(&sealing).ok_or(Error::Internal(Fault::BadSealingKey))?;
        Ok(Accounts {
            shared: Arc::new(Shared {
                store,
                hasher,
                tokens: Arc::new(TokenKeys::new(&signing)),
                sealer: Arc::new(sealer),
                settings: Arc::new(settings),
                flights: Arc::default(),
                directory: None,
                mail: None,
            }),
        })
    }

    /// The rules in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// How many password verifications (credential checks) this instance has run.
    pub fn password_checks(&self) -> u64 {
        self.hasher.verifications()
    }

    /// The password hasher's work so far (verifications, queue, time), for metrics.
    pub fn hash_stats(&self) -> crate::auth::HashStats {
        self.hasher.stats()
    }

    /// How the store's connection pools are used (for metrics).
    pub fn pool_use(&self) -> Vec<crate::store::PoolUse> {
        self.store.pool_use()
    }

    /// Whether the store takes writes now; the reason when it does not.
    pub async fn ready(&self) -> std::result::Result<(), String> {
        self.store.ready().await.map_err(|e| e.to_string())
    }

    /// The link that keeps this instance's caches coherent with other instances'
    /// (PostgreSQL); `None` without one (SQLite).
    pub fn cache_link(&self) -> Option<crate::store::LinkState> {
        self.store.cache_link()
    }

    /// Whether the store answers a query (the health check).
    pub async fn ping(&self) -> Result<()> {
        self.store.count_accounts().await?;
        Ok(())
    }
}

/// The current time in unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
