//! Schema migrations, stored secrets and the readiness probe.

use super::{Backend, MIGRATOR};
use crate::store::{MigrationState, MigrationStatus, StoreResult};

pub(super) async fn migrate(s: &Backend) -> StoreResult<()> {
    MIGRATOR.run(&s.writer).await.map_err(sqlx::Error::from)?;
    Ok(())
}

/// This binary's migrations beside the ones the database records, by version; writes
/// nothing (a database without the migrations table has every migration pending).
pub(super) async fn migrations(s: &Backend) -> StoreResult<Vec<MigrationState>> {
    let applied: Vec<(i64, String, bool, Vec<u8>)> = match sqlx::query_as(
        "SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&s.reader)
    .await
    {
        Ok(rows) => rows,
        Err(sqlx::Error::Database(e))
            if e.code().as_deref() == Some("42P01") || e.message().contains("no such table") =>
        {
            Vec::new()
        }
        Err(e) => return Err(e.into()),
    };
    let mut states: Vec<MigrationState> = MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| {
            let status = match applied.iter().find(|a| a.0 == m.version) {
                None => MigrationStatus::Pending,
                Some(a) if !a.2 => MigrationStatus::Failed,
                Some(a) if a.3 != *m.checksum => MigrationStatus::Changed,
                Some(_) => MigrationStatus::Applied,
            };
            MigrationState {
                version: m.version,
                name: m.description.to_string(),
                status,
            }
        })
        .collect();
    for (version, name, _, _) in applied {
        if !states.iter().any(|m| m.version == version) {
            states.push(MigrationState {
                version,
                name,
                status: MigrationStatus::Unknown,
            });
        }
    }
    states.sort_by_key(|m| m.version);
    Ok(states)
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
