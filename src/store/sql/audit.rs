//! The audit trail: append, read, purge.

use super::{Backend, Db, Tx};
use crate::domain::username::key_of;
use crate::domain::AuditRecord;
use crate::store::rows::{changes_column, AuditRow};
use crate::store::StoreResult;

/// Appends several audit records inside `tx` in one statement (group commit, import).
pub(crate) async fn insert_audits(tx: &mut Tx<'_>, records: &[AuditRecord]) -> StoreResult<()> {
    if records.is_empty() {
        return Ok(());
    }
    let mut q = sqlx::QueryBuilder::<Db>::new(
        "INSERT INTO audit (at, actor_id, actor, dialect, address, action, account_id, \
         username, username_key, changes) ",
    );
    q.push_values(records, |mut row, r| {
        row.push_bind(r.at)
            .push_bind(r.actor.id)
            .push_bind(r.actor.name.clone())
            .push_bind(r.actor.dialect.as_str())
            .push_bind(r.actor.address.clone())
            .push_bind(r.action.as_str())
            .push_bind(r.account_id)
            .push_bind(r.username.clone())
            .push_bind(r.username.as_deref().map(key_of))
            .push_bind(changes_column(&r.changes));
    });
    q.build().execute(&mut **tx).await?;
    Ok(())
}

/// Appends one audit record inside `tx`, so that it commits with the write it describes.
pub(crate) async fn insert_audit(tx: &mut Tx<'_>, record: &AuditRecord) -> StoreResult<()> {
    let changes = changes_column(&record.changes);
    sqlx::query(
        "INSERT INTO audit (at, actor_id, actor, dialect, address, action, account_id, \
         username, username_key, changes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(record.at)
    .bind(record.actor.id)
    .bind(record.actor.name.as_deref())
    .bind(record.actor.dialect.as_str())
    .bind(record.actor.address.as_deref())
    .bind(record.action.as_str())
    .bind(record.account_id)
    .bind(record.username.as_deref())
    .bind(record.username.as_deref().map(key_of))
    .bind(changes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn record_audit(s: &Backend, record: &AuditRecord) -> StoreResult<()> {
    let mut tx = s.writer.begin().await?;
    insert_audit(&mut tx, record).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn audit_records(
    s: &Backend,
    username: Option<&str>,
    since: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<AuditRecord>> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT at, actor_id, actor, dialect, address, action, account_id, username, changes \
         FROM audit WHERE ($1 IS NULL OR username_key = $1) AND ($2 IS NULL OR at >= $2) \
         ORDER BY at DESC, id DESC LIMIT $3",
    )
    .bind(username.map(key_of))
    .bind(since)
    .bind(limit)
    .fetch_all(&s.reader)
    .await?;
    Ok(rows.into_iter().map(AuditRecord::from).collect())
}

/// Whether any record was written under `username` (in any case), however old.
pub(super) async fn audit_name_known(s: &Backend, username: &str) -> StoreResult<bool> {
    let found: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM audit WHERE username_key = $1 LIMIT 1")
            .bind(key_of(username))
            .fetch_optional(&s.reader)
            .await?;
    Ok(found.is_some())
}

pub(super) async fn purge_audit(s: &Backend, before: i64) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM audit WHERE at < $1")
        .bind(before)
        .execute(&s.writer)
        .await?;
    Ok(done.rows_affected())
}
