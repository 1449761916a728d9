//! The SQL of the [`Store`] trait, written once: `$N` placeholders and standard SQL that both
//! SQLite (3.39+) and PostgreSQL accept.
//!
//! This directory is ordinary Rust compiled once per backend: `sqlite.rs` and `postgres.rs`
//! each declare it with `#[path = "sql/mod.rs"] mod sql;` next to two aliases, `Db` (the
//! backend's sqlx database) and `Backend` (its store struct, with `writer` and `reader`
//! pools, `caches`, the methods `check_health`, `apply_update` and `announce` and the
//! constant `LOCK_ROWS`), and a `MIGRATOR`.
//! One file per concern holds plain `async fn`s taking `&Backend`; the trait impl below
//! only delegates to them.

mod accounts;
mod audit;
mod batch;
mod import;
mod passwords;
mod reset_tokens;
mod secrets;
mod sessions;
mod throttle;

use async_trait::async_trait;

use super::{Backend, Db, MIGRATOR};
use crate::domain::{Account, AccountPatch, Actor, AuditRecord, NewAccount, Session};
use crate::store::{
    Attempt, Imported, OnConflict, PasswordChange, Store, StoreResult, ThrottlePolicy,
};

use accounts::{push_update, update_query};
pub(crate) use audit::insert_audit;
pub(super) use batch::CommitQueue;

#[async_trait]
impl Store for Backend {
    async fn migrate(&self) -> StoreResult<()> {
        secrets::migrate(self).await
    }

    async fn migrations(&self) -> StoreResult<Vec<crate::store::MigrationState>> {
        secrets::migrations(self).await
    }

    async fn secret(&self, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        secrets::secret(self, name, fresh).await
    }

    async fn count_accounts(&self) -> StoreResult<i64> {
        accounts::count_accounts(self).await
    }

    async fn create_account(
        &self,
        new: &NewAccount,
        now: i64,
        actor: &Actor,
    ) -> StoreResult<Account> {
        accounts::create_account(self, new, now, actor).await
    }

    async fn import_accounts(
        &self,
        batch: &[NewAccount],
        on_conflict: OnConflict,
        now: i64,
        actor: &Actor,
    ) -> StoreResult<Vec<Imported>> {
        import::import_accounts(self, batch, on_conflict, now, actor).await
    }

    async fn email_owners(&self, email_keys: &[String]) -> StoreResult<Vec<(String, String)>> {
        import::email_owners(self, email_keys).await
    }

    async fn account_by_id(&self, id: i64) -> StoreResult<Account> {
        accounts::account_by_id(self, id).await
    }

    async fn account_by_email(&self, key: &str) -> StoreResult<Account> {
        accounts::account_where(self, "email_key", key).await
    }

    async fn account_by_username(&self, key: &str) -> StoreResult<Account> {
        accounts::account_where(self, "username_key", key).await
    }

    async fn list_accounts(&self, offset: i64, limit: i64) -> StoreResult<(Vec<Account>, i64)> {
        accounts::list_accounts(self, offset, limit).await
    }

    async fn update_account(
        &self,
        id: i64,
        patch: &AccountPatch,
        expected_version: Option<i64>,
        now: i64,
        actor: &Actor,
    ) -> StoreResult<()> {
        accounts::update_account(self, id, patch, expected_version, now, actor).await
    }

    async fn set_password(
        &self,
        id: i64,
        change: PasswordChange<'_>,
        now: i64,
        actor: &Actor,
    ) -> StoreResult<()> {
        passwords::set_password(self, id, change, now, actor).await
    }

    async fn rehash_password(&self, id: i64, old: &str, new: &str) -> StoreResult<()> {
        passwords::rehash_password(self, id, old, new).await
    }

    async fn password_history(&self, id: i64, depth: usize) -> StoreResult<Vec<String>> {
        passwords::password_history(self, id, depth).await
    }

    async fn api_token_matches(&self, account_id: i64, secret_hash: &str) -> StoreResult<bool> {
        passwords::api_token_matches(self, account_id, secret_hash).await
    }

    async fn create_reset_token(
        &self,
        account_id: i64,
        token_hash: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        reset_tokens::create_reset_token(self, account_id, token_hash, expires_at).await
    }

    async fn reset_token_account(&self, token_hash: &str, now: i64) -> StoreResult<i64> {
        reset_tokens::reset_token_account(self, token_hash, now).await
    }

    fn pool_use(&self) -> Vec<crate::store::PoolUse> {
        let of = |name, pool: &sqlx::Pool<Db>| crate::store::PoolUse {
            pool: name,
            open: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        };
        vec![of("writer", &self.writer), of("reader", &self.reader)]
    }

    async fn spend_reset_token(&self, token_hash: &str, now: i64) -> StoreResult<i64> {
        reset_tokens::spend_reset_token(self, token_hash, now).await
    }

    async fn delete_account(&self, id: i64, now: i64, actor: &Actor) -> StoreResult<()> {
        accounts::delete_account(self, id, now, actor).await
    }

    async fn set_jess(
        &self,
        id: i64,
        user: &str,
        secret: &str,
        now: i64,
        actor: &Actor,
    ) -> StoreResult<()> {
        accounts::set_jess(self, id, user, secret, now, actor).await
    }

    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        sessions::create_session(self, session).await
    }

    async fn session(&self, id: &str) -> StoreResult<Session> {
        sessions::session(self, id).await
    }

    async fn cached_session(&self, id: &str) -> StoreResult<Session> {
        sessions::cached_session(self, id).await
    }

    fn cache_link(&self) -> Option<crate::store::LinkState> {
        self.caches.link.state()
    }

    async fn rotate_session(&self, old: &str, new: &Session) -> StoreResult<()> {
        sessions::rotate_session(self, old, new).await
    }

    async fn delete_session(&self, id: &str, now: i64, actor: &Actor) -> StoreResult<()> {
        sessions::delete_session(self, id, now, actor).await
    }

    async fn purge_sessions(&self, now: i64) -> StoreResult<u64> {
        sessions::purge_sessions(self, now).await
    }

    async fn throttle_attempt(
        &self,
        key: &str,
        policy: &ThrottlePolicy,
        now_ms: i64,
    ) -> StoreResult<Attempt> {
        throttle::throttle_attempt(self, key, policy, now_ms).await
    }

    async fn throttle_success(&self, key: &str, count: i64) -> StoreResult<()> {
        throttle::throttle_success(self, key, count).await
    }

    async fn throttle_release(&self, key: &str, policy: &ThrottlePolicy) -> StoreResult<()> {
        throttle::throttle_release(self, key, policy).await
    }

    async fn throttle_clear(&self, key: &str) -> StoreResult<()> {
        throttle::throttle_clear(self, key).await
    }

    async fn record_audit(&self, record: &AuditRecord) -> StoreResult<()> {
        audit::record_audit(self, record).await
    }

    async fn audit_records(
        &self,
        username: Option<&str>,
        since: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditRecord>> {
        audit::audit_records(self, username, since, limit).await
    }

    async fn audit_name_known(&self, username: &str) -> StoreResult<bool> {
        audit::audit_name_known(self, username).await
    }

    async fn purge_audit(&self, before: i64) -> StoreResult<u64> {
        audit::purge_audit(self, before).await
    }

    async fn ready(&self) -> StoreResult<()> {
        secrets::ready(self).await
    }

    async fn secret_if_any(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        secrets::secret_if_any(self, name).await
    }
}

/// The transaction type of this backend.
type Tx<'c> = sqlx::Transaction<'c, Db>;

/// Commits `tx` with `notice` announced inside it (other instances learn of the change when
/// it commits), then applies `notice` to this instance's caches.
async fn commit_announced(
    s: &Backend,
    mut tx: Tx<'_>,
    notice: &crate::store::caches::Changed,
) -> StoreResult<()> {
    Backend::announce(&mut tx, notice).await?;
    tx.commit().await?;
    s.caches.apply(notice);
    Ok(())
}
