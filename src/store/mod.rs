//! The account store: one trait, a SQLite and a PostgreSQL backend picked by URL scheme.
//! This is the only code that knows SQL.

mod account_cache;
pub mod backup;
mod caches;
pub mod files;
mod page_index;
mod postgres;
mod rows;
mod session_cache;
mod sqlite;

use async_trait::async_trait;

use crate::domain::{Account, AccountPatch, Actor, AuditRecord, NewAccount, Session};

pub use caches::{LinkState, LINKED_TTL, SHORT_TTL};
pub use files::{FileRow, FileStore, NewFile, Published};
// The vocabulary the store shares with the rest, defined in `domain`.
pub use crate::domain::{ThrottlePolicy, UniqueField};
pub use postgres::{PostgresStore, LINK_APPLICATION_NAME};
pub use sqlite::SqliteStore;

/// What can go wrong in the store (cloneable: one failed group commit answers each of
/// its requests).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule would be broken.
    #[error("{0:?} already in use")]
    Conflict(UniqueField),
    /// The account's version is not the one the caller expected.
    #[error("stale version")]
    Stale,
    /// The database cannot serve now: the disk is full, the file is read-only, removed or
    /// replaced, the server is unreachable. Nothing was written; a retry may succeed.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error(transparent)]
    Other(std::sync::Arc<sqlx::Error>),
}

impl From<sqlx::Error> for StoreError {
    /// The one way a database error becomes a store error: a unique violation of the
    /// account keys names its field, a failure of the database itself is `Unavailable`,
    /// the rest is `Other`. Every `?` on a query goes through here.
    fn from(err: sqlx::Error) -> StoreError {
        if let Some(field) = conflict_of(&err) {
            StoreError::Conflict(field)
        } else if unavailable(&err) {
            StoreError::Unavailable(err.to_string())
        } else {
            StoreError::Other(err.into())
        }
    }
}

/// Whether an error says the database cannot serve for now, rather than that a statement
/// is wrong: I/O, a full disk, a read-only or missing file, a lost connection.
fn unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.parse::<i32>() {
                // SQLite primary codes (the low byte of the extended one): BUSY, LOCKED,
                // READONLY, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB.
                Ok(n) => matches!(n & 0xff, 5 | 6 | 8 | 10 | 11 | 13 | 14 | 26),
                // PostgreSQL SQLSTATE classes: connection exception, insufficient
                // resources, operator intervention, read-only transaction.
                Err(_) => {
                    code.starts_with("08")
                        || code.starts_with("53")
                        || code.starts_with("57P")
                        || code == "25006"
                }
            }
        }
        _ => false,
    }
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// A partial update on its way to the database (owned: it may wait in a commit queue).
#[derive(Debug, Clone)]
pub(crate) struct Update {
    pub id: i64,
    pub patch: AccountPatch,
    pub expected_version: Option<i64>,
    pub now: i64,
    pub actor: Actor,
}

/// A password change as the store records it.
#[derive(Debug, Clone)]
pub struct PasswordChange<'a> {
    /// The new Argon2id hash.
    pub hash: &'a str,
    /// The session that stays valid (a change through one's own session); every other goes.
    pub keep_session: Option<&'a str>,
    /// How many previous hashes to keep.
    pub history_depth: usize,
    /// Every API token of the account is revoked; this one (SHA-256 hex) replaces them.
    pub api_token_hash: Option<&'a str>,
}

/// One schema migration as `roster migrate --status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// Its version (the number its file name starts with).
    pub version: i64,
    /// Its name (the rest of the file name).
    pub name: String,
    /// Where the database stands with it.
    pub status: MigrationStatus,
}

/// Where a database stands with one migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationStatus {
    /// Applied as this binary has it.
    Applied,
    /// Not applied yet: the next `roster migrate` or start applies it.
    Pending,
    /// Applied, but this binary's file differs from what was applied (its checksum).
    Changed,
    /// Started and failed (PostgreSQL runs each in a transaction; SQLite too).
    Failed,
    /// Applied, but unknown to this binary: the database was used by a newer Roster.
    Unknown,
}

impl MigrationStatus {
    /// The word `migrate --status` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationStatus::Applied => "applied",
            MigrationStatus::Pending => "pending",
            MigrationStatus::Changed => "changed",
            MigrationStatus::Failed => "failed",
            MigrationStatus::Unknown => "unknown",
        }
    }
}

/// The outcome of [`Store::throttle_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Let through: the credential may be checked. The attempt's number in the window.
    Counted(i64),
    /// Refused without a check: the key is locked until this time (unix ms).
    Refused(i64),
}

/// What [`Store::import_accounts`] does with an account whose user name exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Leave the stored account as it is.
    Skip,
    /// Overwrite it with the imported values.
    Update,
}

/// What became of one imported account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    /// Stored as a new account.
    Created,
    /// Its user name exists; left as it was (`OnConflict::Skip`).
    Skipped,
    /// Its user name exists; overwritten (`OnConflict::Update`).
    Updated,
    /// Its user name exists with these very values: nothing written.
    Unchanged,
    /// Its email belongs to another account: not stored.
    EmailTaken,
}

/// Every persistent operation Roster needs; each call is atomic.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;

    /// Every migration this binary has and every one the database records, by version,
    /// with its state; changes nothing.
    async fn migrations(&self) -> StoreResult<Vec<MigrationState>>;

    /// The secret stored under `name`, storing `fresh` first if there is none (race-free).
    async fn secret(&self, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>>;

    /// How many accounts exist.
    async fn count_accounts(&self) -> StoreResult<i64>;

    /// Stores a new account; `Conflict` when its username or email is taken.
    async fn create_account(
        &self,
        new: &NewAccount,
        now: i64,
        actor: &Actor,
    ) -> StoreResult<Account>;

    /// Stores a batch of imported accounts in one transaction with their audit records;
    /// one outcome per account, in order.
    async fn import_accounts(
        &self,
        batch: &[NewAccount],
        on_conflict: OnConflict,
        now: i64,
        actor: &Actor,
    ) -> StoreResult<Vec<Imported>>;

    /// For each of `email_keys` held by an account: the email key and that account's user
    /// name key.
    async fn email_owners(&self, email_keys: &[String]) -> StoreResult<Vec<(String, String)>>;

    /// The account with this id.
    async fn account_by_id(&self, id: i64) -> StoreResult<Account>;

    /// The account whose email key (lower case) is `key`.
    async fn account_by_email(&self, key: &str) -> StoreResult<Account>;

    /// The account whose username key (lower case) is `key`.
    async fn account_by_username(&self, key: &str) -> StoreResult<Account>;

    /// One page of accounts ordered by username key, and how many there are in all.
    async fn list_accounts(&self, offset: i64, limit: i64) -> StoreResult<(Vec<Account>, i64)>;

    /// Changes only the fields the patch names and bumps the version, atomically with its
    /// audit record; `Stale` when `expected_version` is given and differs.
    async fn update_account(
        &self,
        id: i64,
        patch: &AccountPatch,
        expected_version: Option<i64>,
        now: i64,
        actor: &Actor,
    ) -> StoreResult<()>;

    /// Sets a new password hash, moving the old one to the history and revoking sessions;
    /// the account's reset tokens are voided.
    async fn set_password(
        &self,
        id: i64,
        change: PasswordChange<'_>,
        now: i64,
        actor: &Actor,
    ) -> StoreResult<()>;

    /// Replaces `old` by `new` (an upgrade of parameters) if the hash is still `old`.
    async fn rehash_password(&self, id: i64, old: &str, new: &str) -> StoreResult<()>;

    /// The newest `depth` previous password hashes.
    async fn password_history(&self, id: i64, depth: usize) -> StoreResult<Vec<String>>;

    /// Whether the account holds an API token whose secret hashes to `secret_hash`.
    async fn api_token_matches(&self, account_id: i64, secret_hash: &str) -> StoreResult<bool>;

    /// Stores a password-reset token (its SHA-256 hex) valid until `expires_at`; the
    /// account's older reset tokens are deleted in the same transaction.
    async fn create_reset_token(
        &self,
        account_id: i64,
        token_hash: &str,
        expires_at: i64,
    ) -> StoreResult<()>;

    /// The account of the reset token `token_hash` if it is still live at `now`.
    async fn reset_token_account(&self, token_hash: &str, now: i64) -> StoreResult<i64>;

    /// Deletes the reset token if it is still live at `now` and returns its account:
    /// of two concurrent spends of one token, only one succeeds (`NotFound` for the other).
    async fn spend_reset_token(&self, token_hash: &str, now: i64) -> StoreResult<i64>;

    /// Deletes an account with its sessions and history.
    async fn delete_account(&self, id: i64, now: i64, actor: &Actor) -> StoreResult<()>;

    /// Links a JESS user: sets `jess_user`, the encrypted secret and `use_jess`.
    async fn set_jess(
        &self,
        id: i64,
        user: &str,
        secret: &str,
        now: i64,
        actor: &Actor,
    ) -> StoreResult<()>;

    /// Stores a new session.
    async fn create_session(&self, session: &Session) -> StoreResult<()>;

    /// The live session with this id, read from the database.
    async fn session(&self, id: &str) -> StoreResult<Session>;

    /// The live session with this id, from the session cache while it is fresh (every
    /// revocation through any instance drops it: see `caches`).
    async fn cached_session(&self, id: &str) -> StoreResult<Session>;

    /// Replaces session `old` by `new` atomically; `NotFound` if `old` was already gone.
    async fn rotate_session(&self, old: &str, new: &Session) -> StoreResult<()>;

    /// Deletes one session (log off); `NotFound` if it was already gone.
    async fn delete_session(&self, id: &str, now: i64, actor: &Actor) -> StoreResult<()>;

    /// Deletes the sessions that ended before `now`.
    async fn purge_sessions(&self, now: i64) -> StoreResult<u64>;

    /// Counts an attempt for `key` *before* its credential is checked, in one statement:
    /// while the key is locked the attempt is refused and nothing is counted; otherwise it
    /// is counted and, from `policy.threshold` attempts on, the key is locked at once (2 s
    /// doubling), so that attempts sent together cannot get past the limit.
    async fn throttle_attempt(
        &self,
        key: &str,
        policy: &ThrottlePolicy,
        now_ms: i64,
    ) -> StoreResult<Attempt>;

    /// A successful attempt, counted as number `count`, clears the counter of `key` unless
    /// later attempts were counted since.
    async fn throttle_success(&self, key: &str, count: i64) -> StoreResult<()>;

    /// Takes one counted attempt back (a success from a shared address); below the
    /// threshold the lock is lifted.
    async fn throttle_release(&self, key: &str, policy: &ThrottlePolicy) -> StoreResult<()>;

    /// Clears the counter of `key` (a success, or an admin's unlock).
    async fn throttle_clear(&self, key: &str) -> StoreResult<()>;

    /// Appends a record that goes with no other write (a failed log on, an unlock).
    async fn record_audit(&self, record: &AuditRecord) -> StoreResult<()>;

    /// Audit records, newest first: of one user name (case-insensitive; the name each record
    /// was written under, so a deleted account's records too) and/or since a time.
    async fn audit_records(
        &self,
        username: Option<&str>,
        since: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditRecord>>;

    /// Whether any audit record was written under `username` (case-insensitive).
    async fn audit_name_known(&self, username: &str) -> StoreResult<bool>;

    /// Deletes audit records older than `before` (unix seconds).
    async fn purge_audit(&self, before: i64) -> StoreResult<u64>;

    /// Whether the store can take writes now: a small real write, committed (so a full disk
    /// or a read-only file shows), after the backend's own checks.
    async fn ready(&self) -> StoreResult<()>;

    /// The secret stored under `name`, if any; unlike [`Store::secret`] it never stores one.
    async fn secret_if_any(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;

    /// The link that keeps the caches coherent across instances (PostgreSQL); `None` for a
    /// backend without one.
    fn cache_link(&self) -> Option<LinkState> {
        None
    }

    /// The connections of each pool, for metrics (none where the backend has no pool).
    fn pool_use(&self) -> Vec<PoolUse> {
        Vec::new()
    }
}

/// How one connection pool is used, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Which pool: `writer` or `reader`.
    pub pool: &'static str,
    /// Connections open (idle or in use).
    pub open: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// Opens the store a URL names: `sqlite://…` (created if missing) or `postgres://…`.
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>, String> {
    open_waiting(url, std::time::Duration::ZERO).await
}

/// [`open`], waiting up to `wait` for a PostgreSQL server that cannot be reached yet.
pub async fn open_waiting(
    url: &str,
    wait: std::time::Duration,
) -> Result<std::sync::Arc<dyn Store>, String> {
    if url.starts_with("sqlite:") {
        let store = SqliteStore::open(url)
            .await
            .map_err(|e| format!("cannot open {url}: {e}"))?;
        Ok(std::sync::Arc::new(store))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let store = PostgresStore::open_waiting(url, wait).await?;
        Ok(std::sync::Arc::new(store))
    } else {
        Err(format!(
            "unsupported --database-url {:?}: use sqlite://PATH or postgres://…",
            without_password(url)
        ))
    }
}

/// The URL with the password of its user info (`scheme://user:PASSWORD@host`) replaced by
/// `***`: a mistyped scheme must not put the password into an error message or a log.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// Opens an existing store for the admin commands: they must never create an empty database
/// beside the real one, so a SQLite file that does not exist is an error naming its path.
pub async fn open_existing(url: &str) -> Result<std::sync::Arc<dyn Store>, String> {
    if let Some(path) = sqlite_file(url)? {
        if !path.exists() {
            let shown = std::path::absolute(&path).unwrap_or(path);
            return Err(format!(
                "no database at {} (from --database-url {url}); this command never creates one. \
                 Name the server's database with --database-url or ROSTER_DATABASE_URL \
                 (`roster serve` or `roster migrate` create a new one)",
                shown.display()
            ));
        }
    }
    open(url).await
}

/// The file a `sqlite:` URL names; `None` for other URLs and in-memory databases.
pub fn sqlite_file(url: &str) -> Result<Option<std::path::PathBuf>, String> {
    use std::str::FromStr;
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(None);
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .map_err(|e| format!("bad --database-url {url:?}: {e}"))?;
    Ok(Some(options.get_filename().to_path_buf()))
}

/// Recognises a unique violation of an account key and which field it concerns; a unique
/// violation elsewhere (a session id, a token) is no user's conflict and stays `Other`.
fn conflict_of(err: &sqlx::Error) -> Option<UniqueField> {
    let db = err.as_database_error()?;
    if !db.is_unique_violation() {
        return None;
    }
    // SQLite names the column (`accounts.email_key`), PostgreSQL the constraint
    // (`accounts_email_key_key`).
    let names = format!("{} {}", db.message(), db.constraint().unwrap_or_default());
    if names.contains("email_key") {
        Some(UniqueField::Email)
    } else if names.contains("username_key") {
        Some(UniqueField::Username)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    fn names(backend: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn an_unsupported_url_is_quoted_without_its_password() {
        assert_eq!(
            super::without_password("postgress://roster:s3cr@t@db:5432/roster?x=a@b"),
            "postgress://roster:***@db:5432/roster?x=a@b"
        );
        assert_eq!(super::without_password("mysql://db/x"), "mysql://db/x");
        assert_eq!(super::without_password("pg://u@db/x"), "pg://u@db/x");
    }

    #[test]
    fn only_a_sqlite_file_url_names_a_file_to_look_for() {
        let file = |url: &str| super::sqlite_file(url).unwrap();
        assert_eq!(file("sqlite://roster.db"), Some("roster.db".into()));
        assert_eq!(
            file("sqlite:///var/lib/r.db?mode=rwc"),
            Some("/var/lib/r.db".into())
        );
        assert_eq!(file("sqlite::memory:"), None);
        assert_eq!(file("postgres://localhost/roster"), None);
    }

    #[test]
    fn sqlite_and_postgres_migrations_are_in_lockstep() {
        let sqlite = names("sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite,
            names("postgres"),
            "same versions and names in both folders"
        );
    }
}
