//! Password-reset tokens: only their hash is stored, one live token per account, spent
//! atomically.

use super::Backend;
use crate::store::{StoreError, StoreResult};

pub(super) async fn create_reset_token(
    s: &Backend,
    account_id: i64,
    token_hash: &str,
    expires_at: i64,
) -> StoreResult<()> {
    let mut tx = s.writer.begin().await?;
    sqlx::query("DELETE FROM reset_tokens WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO reset_tokens (token_hash, account_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(token_hash)
    .bind(account_id)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn reset_token_account(
    s: &Backend,
    token_hash: &str,
    now: i64,
) -> StoreResult<i64> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT account_id FROM reset_tokens WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&s.writer)
    .await?;
    row.map(|(id,)| id).ok_or(StoreError::NotFound)
}

pub(super) async fn spend_reset_token(s: &Backend, token_hash: &str, now: i64) -> StoreResult<i64> {
    let row: Option<(i64,)> = sqlx::query_as(
        "DELETE FROM reset_tokens WHERE token_hash = $1 AND expires_at > $2 RETURNING account_id",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&s.writer)
    .await?;
    row.map(|(id,)| id).ok_or(StoreError::NotFound)
}
