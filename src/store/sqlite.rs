//! The embedded SQLite backend: WAL, `synchronous=FULL`, one writer, several readers, and
//! group commit for partial updates.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::cache::AccountCache;
use super::rows::{record, AccountRow, AuditRow, SessionRow, ACCOUNT_COLUMNS};
use super::sql::sql_store;
use super::{PasswordChange, Store, StoreError, StoreResult, ThrottlePolicy, Update};
use crate::domain::{
    Account, AccountPatch, Actor, AuditRecord, Change, NewAccount, Session, TextField,
};

/// The most updates one commit carries.
const GROUP_MAX: usize = 128;

type Job = (Update, oneshot::Sender<StoreResult<()>>);

/// A SQLite database file with a single-connection write pool and a read pool.
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    updates: mpsc::Sender<Job>,
    // Only this process writes through this store (the CLI aside), so reads by id may be
    // served from memory for a moment.
    cache: AccountCache,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file named by a `sqlite://` URL.
    pub async fn open(url: &str) -> Result<SqliteStore, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a transaction acknowledged to a client is on disk (the durability rule).
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // One writer: SQLite serialises writes anyway; queueing them in the pool avoids
        // SQLITE_BUSY storms under concurrent updates.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let (updates, queue) = mpsc::channel(4 * GROUP_MAX);
        tokio::spawn(group_commit(writer.clone(), queue));
        Ok(SqliteStore {
            writer,
            reader,
            updates,
            cache: AccountCache::new(true),
        })
    }

    /// Queues the update for the next group commit and waits until that commit is on disk.
    async fn apply_update(&self, update: Update) -> StoreResult<()> {
        let (done, result) = oneshot::channel();
        let closed = || StoreError::Other(sqlx::Error::PoolClosed);
        self.updates
            .send((update, done))
            .await
            .map_err(|_| closed())?;
        result.await.map_err(|_| closed())?
    }
}

/// Commits queued updates together: one `COMMIT` (one fsync) for the batch, and only then
/// the replies. An update refused cleanly (a taken email, a stale version: its one
/// statement changed nothing) is left out; any other failure fails the whole batch.
/// Concurrent updates thus share the cost of durability without weakening it.
async fn group_commit(writer: SqlitePool, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(GROUP_MAX);
    while queue.recv_many(&mut batch, GROUP_MAX).await > 0 {
        let results = commit_batch(&writer, &batch).await;
        for ((_, done), result) in batch.drain(..).zip(results) {
            let _ = done.send(result);
        }
    }
}

async fn commit_batch(writer: &SqlitePool, batch: &[Job]) -> Vec<StoreResult<()>> {
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(cause = %e, size = batch.len(), "group commit failed");
        batch
            .iter()
            .map(|_| Err(StoreError::Other(sqlx::Error::Protocol(e.to_string()))))
            .collect()
    };
    let mut tx = match writer.begin().await {
        Ok(tx) => tx,
        Err(e) => return failed(&e),
    };
    let mut results = Vec::with_capacity(batch.len());
    for (update, _) in batch {
        match SqliteStore::update_in(&mut tx, update).await {
            Err(StoreError::Other(e)) => return failed(&e),
            outcome => results.push(outcome),
        }
    }
    match tx.commit().await {
        Ok(()) => results,
        Err(e) => failed(&e),
    }
}

sql_store!(SqliteStore, Sqlite, "./migrations/sqlite", "");
