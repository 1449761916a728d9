//! The PostgreSQL backend: one pool shared by any number of Roster instances.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, QueryBuilder};

use super::cache::AccountCache;
use super::rows::{record, update_record, AccountRow, AuditRow, SessionRow, ACCOUNT_COLUMNS};
use super::sql::sql_store;
use super::{Attempt, PasswordChange, Store, StoreError, StoreResult, ThrottlePolicy, Update};
use crate::domain::{
    Account, AccountPatch, Actor, AuditRecord, Change, NewAccount, Session, TextField,
};

/// Connections per instance: enough for the request concurrency of two cores, small
/// enough that many instances fit in PostgreSQL's default `max_connections` (100).
const POOL_SIZE: u32 = 16;

/// A PostgreSQL database; reads and writes share one pool.
pub struct PostgresStore {
    writer: PgPool,
    reader: PgPool,
    // Other instances write the same rows: every read goes to the database.
    cache: AccountCache,
}

impl PostgresStore {
    /// Connects to the database a `postgres://` URL names.
    pub async fn open(url: &str) -> Result<PostgresStore, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .idle_timeout(Duration::from_secs(300))
            .connect(url)
            .await?;
        Ok(PostgresStore {
            writer: pool.clone(),
            reader: pool,
            cache: AccountCache::new(false),
        })
    }

    /// One partial update inside `tx`, with its audit record. The update itself is a
    /// single statement: when it fails (a taken email) it has changed nothing, so the
    /// transaction can go on without it.
    async fn update_in(tx: &mut sqlx::Transaction<'_, Postgres>, u: &Update) -> StoreResult<()> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 FOR UPDATE");
        let old: Option<AccountRow> = sqlx::query_as(&sql)
            .bind(u.id)
            .fetch_optional(&mut **tx)
            .await?;
        let old = Account::from(old.ok_or(StoreError::NotFound)?);
        if u.expected_version.is_some_and(|v| v != old.version) {
            return Err(StoreError::Stale);
        }
        Self::update_query(u)
            .build()
            .execute(&mut **tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        if let Some(audit) = update_record(u, &old) {
            Self::insert_audit(tx, &audit).await?;
        }
        Ok(())
    }

    /// One transaction per update: PostgreSQL groups concurrent commits in its WAL flushes.
    async fn apply_update(&self, update: Update) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        Self::update_in(&mut tx, &update).await?;
        tx.commit().await?;
        Ok(())
    }
}

sql_store!(PostgresStore, Postgres, "./migrations/postgres");
