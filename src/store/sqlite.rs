//! The embedded SQLite backend: WAL, `synchronous=FULL`, one writer, several readers, and
//! group commit for partial updates.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Database, Sqlite, SqlitePool, TransactionManager};

use super::caches::{Caches, Changed, Link};
use super::{StoreError, StoreResult, Update};

// The same SQL is compiled once per backend on purpose: that is how it is written once.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

/// One audit record inside a transaction, for the file store too.
pub(crate) use sql::insert_audit;

/// The database the shared SQL in `sql/` is compiled for here.
type Db = Sqlite;
/// The store the shared SQL in `sql/` implements [`super::Store`] for here.
type Backend = SqliteStore;
/// The SQLite schema's migrations.
pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite database file with a single-connection write pool and a read pool.
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    updates: sql::CommitQueue,
    // Only this process writes through this store (the CLI aside): no link, so entries
    // live the short time-to-live.
    caches: Arc<Caches>,
    /// Marks for deep pages of the account list.
    pages: super::page_index::PageIndex,
    file: Arc<FileGuard>,
}

/// The database file this store opened, by identity (device and inode): a file removed or
/// replaced while the server runs must not take writes (they would go to an unlinked inode,
/// or to another database), and must never be recreated empty behind the operator's back.
struct FileGuard {
    path: PathBuf,
    identity: Option<(u64, u64)>,
    lost: Mutex<Option<String>>,
    /// The writer pool, closed when the file is lost so that writes fail at once instead of
    /// retrying connections until the acquire timeout.
    writer: OnceLock<SqlitePool>,
}

impl FileGuard {
    fn new(path: &Path) -> FileGuard {
        FileGuard {
            path: path.to_owned(),
            identity: identity(path),
            lost: Mutex::new(None),
            writer: OnceLock::new(),
        }
    }

    /// `Err` once the file is not the one opened; sticky until a restart.
    fn check(&self) -> Result<(), String> {
        let Some(expected) = self.identity else {
            return Ok(()); // in memory
        };
        let mut lost = self
            .lost
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(reason) = &*lost {
            return Err(reason.clone());
        }
        let now = identity(&self.path);
        if now == Some(expected) {
            return Ok(());
        }
        let what = if now.is_none() { "removed" } else { "replaced" };
        let reason = format!(
            "the database file {} was {what} while the server was running; writes are \
             refused until it is restored and the server restarted",
            self.path.display()
        );
        tracing::error!(path = %self.path.display(), "{reason}");
        *lost = Some(reason.clone());
        if let Some(writer) = self.writer.get().cloned() {
            tokio::spawn(async move { writer.close().await });
        }
        Err(reason)
    }

    fn check_sqlx(&self) -> Result<(), sqlx::Error> {
        self.check()
            .map_err(|reason| sqlx::Error::Io(std::io::Error::new(ErrorKind::NotFound, reason)))
    }
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    if path.as_os_str().is_empty() || path == Path::new(":memory:") {
        return None;
    }
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl SqliteStore {
    /// Opens (creating if missing) the database file named by a `sqlite://` URL.
    pub async fn open(url: &str) -> Result<SqliteStore, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?;
        owner_only(options.get_filename())?;
        let file = Arc::new(FileGuard::new(options.get_filename()));
        // The file exists now; a connection opened later must not create an empty one.
        let options = options
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a transaction acknowledged to a client is on disk (the durability rule).
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // One writer: SQLite serialises writes anyway; queueing them in the pool avoids
        // SQLITE_BUSY storms under concurrent updates.
        // Before each write the file's identity is checked, and a connection whose
        // transaction state is not clean after use (a failed COMMIT that SQLite rolled back
        // itself while sqlx still counts the transaction open) is replaced, never reused.
        let (on_connect, on_acquire) = (file.clone(), file.clone());
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |_, _| {
                let result = on_connect.check_sqlx();
                Box::pin(async move { result })
            })
            .before_acquire(move |_, _| {
                let result = on_acquire.check_sqlx().map(|()| true);
                Box::pin(async move { result })
            })
            .after_release(|conn, _| {
                let clean =
                    <Sqlite as Database>::TransactionManager::get_transaction_depth(conn) == 0;
                if !clean {
                    tracing::warn!("the writer connection was left inside a transaction: replaced");
                }
                Box::pin(async move { Ok(clean) })
            })
            .connect_with(options.clone())
            .await?;
        let _ = file.writer.set(writer.clone());
        // Reads are served mostly from the account cache: two readers keep memory low.
        let reader = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options.read_only(true))
            .await?;
        // One committer: there is one writer connection.
        let updates = sql::CommitQueue::start(&writer, 1);
        Ok(SqliteStore {
            writer,
            reader,
            updates,
            caches: Arc::new(Caches::new(Link::absent())),
            pages: super::page_index::PageIndex::default(),
            file,
        })
    }

    /// The backend's own readiness: the database file is still the one opened.
    fn check_health(&self) -> StoreResult<()> {
        self.file.check().map_err(StoreError::Unavailable)
    }

    /// No row locks: SQLite's one writer serialises transactions.
    const LOCK_ROWS: &'static str = "";

    /// A batch's updates go to SQLite as one multi-statement query: each statement sent
    /// alone is a hand-off to the connection's worker thread and back, and those context
    /// switches, not SQLite's work, were most of a commit's time.
    const ONE_TRIP_UPDATES: bool = true;

    /// Queues the update for the next group commit and waits until that commit is on disk.
    async fn apply_update(&self, update: Update) -> StoreResult<()> {
        self.updates.apply(update).await
    }

    /// No other instance to tell: only this server writes the file (the CLI's writes are
    /// seen within the short time-to-live).
    #[allow(clippy::unused_async)]
    async fn announce(
        _tx: &mut sqlx::Transaction<'_, Sqlite>,
        _changed: &Changed,
    ) -> StoreResult<()> {
        Ok(())
    }
}

/// Creates the database file readable by its owner only, whatever the umask (it holds the
/// signing key and live session ids); SQLite gives its `-wal` and `-shm` files the mode of
/// the database file. An existing file readable by others is left as it is, with a warning.
fn owner_only(path: &Path) -> Result<(), sqlx::Error> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if path.as_os_str().is_empty() || path == Path::new(":memory:") {
        return Ok(());
    }
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mode = std::fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{:o}", mode & 0o777),
                    "the database file is readable by other users: it holds the signing key \
                     and live sessions; run chmod 600 on it (and its -wal and -shm files)"
                );
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
