//! The embedded SQLite backend: WAL, `synchronous=FULL`, one writer, several readers.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use super::rows::{record, AccountRow, AuditRow, SessionRow, ACCOUNT_COLUMNS};
use super::sql::sql_store;
use super::{PasswordChange, Store, StoreError, StoreResult, ThrottlePolicy};
use crate::domain::{
    Account, AccountPatch, Actor, AuditRecord, Change, NewAccount, Session, TextField,
};

/// A SQLite database file with a single-connection write pool and a read pool.
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
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
        Ok(SqliteStore { writer, reader })
    }
}

sql_store!(SqliteStore, Sqlite, "./migrations/sqlite");
