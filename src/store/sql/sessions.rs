//! Sessions: create, read, rotate, log off, purge.

use super::Backend;
use crate::domain::{Actor, AuditAction, AuditRecord, Session};
use crate::store::caches::Changed;
use crate::store::rows::SessionRow;
use crate::store::{StoreError, StoreResult};

pub(super) async fn create_session(s: &Backend, session: &Session) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (id, account_id, login_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&session.id)
    .bind(session.account_id)
    .bind(session.login_at)
    .bind(session.expires_at)
    .execute(&s.writer)
    .await?;
    Ok(())
}

pub(super) async fn session(s: &Backend, id: &str) -> StoreResult<Session> {
    let row: Option<SessionRow> =
        sqlx::query_as("SELECT id, account_id, login_at, expires_at FROM sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(&s.reader)
            .await?;
    row.map(Session::from).ok_or(StoreError::NotFound)
}

pub(super) async fn cached_session(s: &Backend, id: &str) -> StoreResult<Session> {
    let caches = &s.caches;
    if let Some(session) = caches.sessions.get(id, &caches.link) {
        return Ok(session);
    }
    let token = caches.sessions.token();
    let found = session(s, id).await?;
    caches.sessions.put(token, found.clone(), &caches.link);
    Ok(found)
}

pub(super) async fn rotate_session(s: &Backend, old: &str, new: &Session) -> StoreResult<()> {
    let mut tx = s.writer.begin().await?;
    let gone = sqlx::query("DELETE FROM sessions WHERE id = $1 AND account_id = $2")
        .bind(old)
        .bind(new.account_id)
        .execute(&mut *tx)
        .await?;
    if gone.rows_affected() == 0 {
        s.caches.sessions.forget(old);
        return Err(StoreError::NotFound);
    }
    sqlx::query(
        "INSERT INTO sessions (id, account_id, login_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&new.id)
    .bind(new.account_id)
    .bind(new.login_at)
    .bind(new.expires_at)
    .execute(&mut *tx)
    .await?;
    super::commit_announced(s, tx, &Changed::sessions(new.account_id)).await
}

pub(super) async fn delete_session(
    s: &Backend,
    id: &str,
    now: i64,
    actor: &Actor,
) -> StoreResult<()> {
    let mut tx = s.writer.begin().await?;
    let gone: Option<(i64,)> =
        sqlx::query_as("DELETE FROM sessions WHERE id = $1 RETURNING account_id")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((account_id,)) = gone else {
        // Ended through another instance: this one may not have heard yet.
        s.caches.sessions.forget(id);
        return Err(StoreError::NotFound);
    };
    let audit = AuditRecord {
        at: now,
        actor: actor.clone(),
        action: AuditAction::Logout,
        account_id: Some(account_id),
        username: actor.name.clone(),
        changes: Vec::new(),
    };
    super::insert_audit(&mut tx, &audit).await?;
    super::commit_announced(s, tx, &Changed::sessions(account_id)).await
}

pub(super) async fn purge_sessions(s: &Backend, now: i64) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(&s.writer)
        .await?;
    Ok(done.rows_affected())
}
