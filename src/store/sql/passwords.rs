//! Passwords and API tokens: change, rehash, history, token check.

use super::{Backend, Tx};
use crate::domain::{Actor, AuditAction, Change};
use crate::store::caches::Changed;
use crate::store::rows::record;
use crate::store::{PasswordChange, StoreResult};

/// Stores an API token (its secret's SHA-256 hex) of an account.
pub(super) async fn insert_token(
    tx: &mut Tx<'_>,
    account_id: i64,
    hash: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO api_tokens (secret_hash, account_id, created_at) VALUES ($1, $2, $3)")
        .bind(hash)
        .bind(account_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn set_password(
    s: &Backend,
    id: i64,
    change: PasswordChange<'_>,
    now: i64,
    actor: &Actor,
) -> StoreResult<()> {
    let mut tx = s.writer.begin().await?;
    // Locks the row (PostgreSQL) before the history is rewritten.
    let account = super::accounts::bump_version(&mut tx, id, now).await?;
    let mut changes = vec![Change::secret("password", account.password_hash.is_some())];
    if change.api_token_hash.is_some() {
        changes.push(Change::secret("token", true));
    }
    super::insert_audit(
        &mut tx,
        &record(now, actor, AuditAction::Password, &account, changes),
    )
    .await?;
    if let Some(old) = account.password_hash {
        sqlx::query(
            "INSERT INTO password_history (account_id, hash, changed_at) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(old)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "DELETE FROM password_history WHERE account_id = $1 AND id NOT IN \
         (SELECT id FROM password_history WHERE account_id = $1 ORDER BY id DESC LIMIT $2)",
    )
    .bind(id)
    .bind(change.history_depth as i64)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
        .bind(change.hash)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM api_tokens WHERE account_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    // A changed password voids any outstanding reset link.
    sqlx::query("DELETE FROM reset_tokens WHERE account_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if let Some(hash) = change.api_token_hash {
        insert_token(&mut tx, id, hash, now).await?;
    }
    sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id IS DISTINCT FROM $2")
        .bind(id)
        .bind(change.keep_session)
        .execute(&mut *tx)
        .await?;
    // The kept session is dropped from the caches too: it is read again, once.
    super::commit_announced(s, tx, &Changed::account_and_sessions(id)).await
}

pub(super) async fn rehash_password(s: &Backend, id: i64, old: &str, new: &str) -> StoreResult<()> {
    let mut tx = s.writer.begin().await?;
    let done =
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
            .bind(new)
            .bind(id)
            .bind(old)
            .execute(&mut *tx)
            .await?;
    let notice = Changed::accounts(vec![id]);
    if done.rows_affected() > 0 {
        Backend::announce(&mut tx, &notice).await?;
    }
    tx.commit().await?;
    s.caches.apply(&notice);
    Ok(())
}

pub(super) async fn password_history(
    s: &Backend,
    id: i64,
    depth: usize,
) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT hash FROM password_history WHERE account_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(id)
    .bind(depth as i64)
    .fetch_all(&s.reader)
    .await?;
    Ok(rows.into_iter().map(|(h,)| h).collect())
}

pub(super) async fn api_token_matches(
    s: &Backend,
    account_id: i64,
    secret_hash: &str,
) -> StoreResult<bool> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM api_tokens WHERE secret_hash = $1 AND account_id = $2",
    )
    .bind(secret_hash)
    .bind(account_id)
    .fetch_one(&s.reader)
    .await?;
    Ok(n > 0)
}
