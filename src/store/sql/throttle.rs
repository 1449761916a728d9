//! Throttling of credential checks: one counter row per key.

use super::Backend;
use crate::store::{Attempt, StoreResult, ThrottlePolicy};

pub(super) async fn throttle_attempt(
    s: &Backend,
    key: &str,
    policy: &ThrottlePolicy,
    now_ms: i64,
) -> StoreResult<Attempt> {
    // The attempt's number, and whether the key was locked when it came; every SET
    // expression sees the row as it was before this statement.
    const NUMBER: &str = "CASE WHEN throttle.updated_at < $3 THEN 1 ELSE throttle.failures + 1 END";
    const LOCKED: &str = "throttle.locked_until > $2";
    let sql = format!(
        "INSERT INTO throttle (key, failures, locked_until, updated_at, denied) \
         VALUES ($1, 1, $7, $2, 0) ON CONFLICT (key) DO UPDATE SET \
         denied = CASE WHEN {LOCKED} THEN throttle.denied + 1 ELSE 0 END, \
         failures = CASE WHEN {LOCKED} THEN throttle.failures ELSE {NUMBER} END, \
         updated_at = CASE WHEN {LOCKED} THEN throttle.updated_at ELSE $2 END, \
         locked_until = CASE WHEN {LOCKED} THEN throttle.locked_until \
           WHEN {NUMBER} < $4 THEN 0 \
           WHEN {NUMBER} - $4 >= $5 THEN $2 + $6 \
           ELSE $2 + (CAST(2000 AS BIGINT) << CAST({NUMBER} - $4 AS INTEGER)) END \
         RETURNING failures, locked_until, denied"
    );
    let first_lock = policy.lock_ms(1);
    let (number, locked_until, denied): (i64, i64, i64) = sqlx::query_as(&sql)
        .bind(key)
        .bind(now_ms)
        .bind(now_ms - policy.window_ms)
        .bind(policy.threshold)
        .bind(policy.doublings_to_max())
        .bind(policy.max_lock_ms)
        .bind(if first_lock > 0 {
            now_ms + first_lock
        } else {
            0
        })
        .fetch_one(&s.writer)
        .await?;
    Ok(if denied > 0 {
        Attempt::Refused(locked_until)
    } else {
        Attempt::Counted(number)
    })
}

pub(super) async fn throttle_success(s: &Backend, key: &str, count: i64) -> StoreResult<()> {
    sqlx::query("DELETE FROM throttle WHERE key = $1 AND failures <= $2")
        .bind(key)
        .bind(count)
        .execute(&s.writer)
        .await?;
    Ok(())
}

pub(super) async fn throttle_release(
    s: &Backend,
    key: &str,
    policy: &ThrottlePolicy,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE throttle SET failures = failures - 1, locked_until = CASE \
         WHEN failures - 1 < $2 THEN 0 ELSE locked_until END \
         WHERE key = $1 AND failures > 0",
    )
    .bind(key)
    .bind(policy.threshold)
    .execute(&s.writer)
    .await?;
    Ok(())
}

pub(super) async fn throttle_clear(s: &Backend, key: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM throttle WHERE key = $1")
        .bind(key)
        .execute(&s.writer)
        .await?;
    Ok(())
}
