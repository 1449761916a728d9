//! Schema migrations, stored secrets and the readiness probe.

use super::{Backend, MIGRATOR};
use crate::store::StoreResult;

pub(super) async fn migrate(s: &Backend) -> StoreResult<()> {
    MIGRATOR.run(&s.writer).await.map_err(sqlx::Error::from)?;
    Ok(())
}

pub(super) async fn secret(s: &Backend, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
    sqlx::query("INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(fresh)
        .execute(&s.writer)
        .await?;
    let (value,): (Vec<u8>,) = sqlx::query_as("SELECT value FROM secrets WHERE name = $1")
        .bind(name)
        .fetch_one(&s.writer)
        .await?;
    Ok(value)
}

pub(super) async fn secret_if_any(s: &Backend, name: &str) -> StoreResult<Option<Vec<u8>>> {
    let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT value FROM secrets WHERE name = $1")
        .bind(name)
        .fetch_optional(&s.writer)
        .await?;
    Ok(row.map(|(value,)| value))
}

pub(super) async fn ready(s: &Backend) -> StoreResult<()> {
    s.check_health()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    sqlx::query(
        "INSERT INTO secrets (name, value) VALUES ('readiness-probe', $1) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(now.to_be_bytes().to_vec())
    .execute(&s.writer)
    .await?;
    Ok(())
}
