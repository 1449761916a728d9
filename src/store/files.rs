//! Each user's files behind one small interface, [`FileStore`]: the bytes live in the
//! database in chunks of at most [`CHUNK_SIZE`] (every instance sharing a database sees every
//! file; docs/decisions.md says why). The SQL is written once, in `files_sql.rs`, and compiled
//! for each backend.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::AuditRecord;

/// The largest chunk of a blob, bytes: the most memory one upload or download holds at once.
pub const CHUNK_SIZE: usize = 1 << 20;

/// A stored file (`blob` set) or folder (`blob` none), by its normalised path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    /// Relative to the account's area, `/`-separated, no leading or trailing `/`.
    pub path: String,
    /// The blob holding the bytes; `None` for a folder.
    pub blob: Option<i64>,
    /// Bytes (0 for a folder).
    pub size: i64,
}

/// A staged blob to publish under `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// The normalised path.
    pub path: String,
    /// The blob, all its chunks written.
    pub blob: i64,
    /// Its size, bytes.
    pub size: i64,
}

/// What publishing staged files came to; on anything but `Done` nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// The files are visible, the replaced ones gone.
    Done,
    /// The account's files would exceed the quota.
    OverQuota,
    /// A file would take the place of a folder, or a folder of a file: this path.
    Conflict(String),
}

/// Where the files API keeps its bytes: unpublished blobs written chunk by chunk, then
/// published (or deleted) with their audit records in one transaction.
#[async_trait]
pub trait FileStore: Send + Sync {
    /// A new, empty, unpublished blob of the account.
    async fn new_blob(&self, account_id: i64, now: i64) -> StoreResult<i64>;

    /// Writes chunk number `seq` of an unpublished blob.
    async fn put_chunk(&self, blob: i64, seq: i64, data: &[u8]) -> StoreResult<()>;

    /// Chunk number `seq` of a blob; `NotFound` once the blob is gone.
    async fn chunk(&self, blob: i64, seq: i64) -> StoreResult<Vec<u8>>;

    /// Deletes blobs (an upload refused or abandoned) with their chunks.
    async fn drop_blobs(&self, blobs: &[i64]) -> StoreResult<()>;

    /// In one transaction: creates the missing `folders`, publishes `files` (replacing files of
    /// the same path), checks the account's total against `quota` and appends `audit`.
    /// `NotFound` when the account is gone.
    async fn publish(
        &self,
        account_id: i64,
        folders: &[String],
        files: &[NewFile],
        quota: i64,
        audit: &[AuditRecord],
        now: i64,
    ) -> StoreResult<Published>;

    /// Bytes the account's published files take.
    async fn used(&self, account_id: i64) -> StoreResult<i64>;

    /// The entry at `path` and everything under it, sorted by path; every entry for `""`.
    async fn entries(&self, account_id: i64, path: &str) -> StoreResult<Vec<FileRow>>;

    /// Deletes the entry at `path` and everything under it with `audit` (whose changes get the
    /// bytes freed); `false` when nothing is there.
    async fn delete(&self, account_id: i64, path: &str, audit: &AuditRecord) -> StoreResult<bool>;

    /// Deletes blobs created before `before` that no file names (uploads cut short).
    async fn purge_unpublished(&self, before: i64) -> StoreResult<u64>;
}

mod on_sqlite {
    type Db = sqlx::Sqlite;
    use crate::store::sqlite::insert_audit;
    include!("files_sql.rs");
}

mod on_postgres {
    type Db = sqlx::Postgres;
    use crate::store::postgres::insert_audit;
    include!("files_sql.rs");
}

/// Opens the file store of the database a URL names (already migrated by the account store).
/// It has its own small pools: on SQLite its one writer waits for the account store's
/// (`busy_timeout`), and every transaction here is short (one chunk, or one publish).
pub async fn open(url: &str) -> Result<Arc<dyn FileStore>, String> {
    let failed = |e: sqlx::Error| format!("cannot open the file store: {e}");
    if url.starts_with("sqlite:") {
        use sqlx::sqlite::SqliteSynchronous;
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
        let options = SqliteConnectOptions::from_str(url)
            .map_err(failed)?
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .after_release(|conn, _| Box::pin(async move { Ok(clean::<sqlx::Sqlite>(conn)) }))
            .connect_with(options.clone())
            .await
            .map_err(failed)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options.read_only(true))
            .await
            .map_err(failed)?;
        Ok(Arc::new(on_sqlite::Files { writer, reader }))
    } else {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .idle_timeout(Duration::from_secs(300))
            .after_release(|conn, _| Box::pin(async move { Ok(clean::<sqlx::Postgres>(conn)) }))
            .connect(url)
            .await
            .map_err(failed)?;
        Ok(Arc::new(on_postgres::Files {
            writer: pool.clone(),
            reader: pool,
        }))
    }
}

/// Whether a connection is back outside any transaction: one left inside (a failed COMMIT
/// that the database rolled back while sqlx still counts it open) is replaced, never reused.
fn clean<DB: sqlx::Database>(conn: &mut DB::Connection) -> bool {
    use sqlx::TransactionManager;
    <DB as sqlx::Database>::TransactionManager::get_transaction_depth(conn) == 0
}
