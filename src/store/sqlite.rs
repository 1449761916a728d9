//! The embedded SQLite backend: WAL, `synchronous=FULL`, one writer, several readers.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use super::{PasswordChange, Store, StoreError, StoreResult};
use crate::domain::profile::Profile;
use crate::domain::{Account, AccountKind, AccountPatch, NewAccount, Role, Session, TextField};

/// A SQLite database file with a single-connection write pool and a read pool.
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

const ACCOUNT_COLUMNS: &str = "id, username, email, password_hash, kind, role, locale, \
    title, firstname, middlename, surname, nickname, position, company, tel, address, \
    postcode, country, website, twitter, linkedin, use_jess, jess_user, \
    jess_secret IS NOT NULL AS has_jess_secret, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: i64,
    username: String,
    email: String,
    password_hash: Option<String>,
    kind: String,
    role: String,
    locale: String,
    title: Option<String>,
    firstname: Option<String>,
    middlename: Option<String>,
    surname: Option<String>,
    nickname: Option<String>,
    position: Option<String>,
    company: Option<String>,
    tel: Option<String>,
    address: Option<String>,
    postcode: Option<String>,
    country: Option<String>,
    website: Option<String>,
    twitter: Option<String>,
    linkedin: Option<String>,
    use_jess: bool,
    jess_user: Option<String>,
    has_jess_secret: bool,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Account {
        let texts = [
            r.title,
            r.firstname,
            r.middlename,
            r.surname,
            r.nickname,
            r.position,
            r.company,
            r.tel,
            r.address,
            r.postcode,
            r.country,
            r.website,
            r.twitter,
            r.linkedin,
        ];
        Account {
            id: r.id,
            username: r.username,
            email: r.email,
            password_hash: r.password_hash,
            kind: AccountKind::parse(&r.kind).unwrap_or(AccountKind::Local),
            role: Role::parse(&r.role).unwrap_or(Role::Normal),
            locale: r.locale,
            profile: Profile {
                texts,
                use_jess: r.use_jess,
                jess_user: r.jess_user,
            },
            has_jess_secret: r.has_jess_secret,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    account_id: i64,
    login_at: i64,
    expires_at: i64,
}

async fn insert_token(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    account_id: i64,
    hash: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO api_tokens (secret_hash, account_id, created_at) VALUES (?, ?, ?)")
        .bind(hash)
        .bind(account_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
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

    async fn account_where(&self, clause: &str, key: &str) -> StoreResult<Account> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {clause} = ?");
        let row: Option<AccountRow> = sqlx::query_as(&sql)
            .bind(key)
            .fetch_optional(&self.reader)
            .await?;
        row.map(Account::from).ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Other(e.into()))
    }

    async fn secret(&self, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        sqlx::query(
            "INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(fresh)
        .execute(&self.writer)
        .await?;
        let (value,): (Vec<u8>,) = sqlx::query_as("SELECT value FROM secrets WHERE name = ?")
            .bind(name)
            .fetch_one(&self.writer)
            .await?;
        Ok(value)
    }

    async fn count_accounts(&self) -> StoreResult<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM accounts")
            .fetch_one(&self.reader)
            .await?;
        Ok(n)
    }

    async fn create_account(&self, new: &NewAccount, now: i64) -> StoreResult<Account> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO accounts (username, username_key, email, email_key, password_hash, \
             kind, role, locale, use_jess, jess_user, created_at, updated_at",
        );
        for field in TextField::ALL {
            q.push(", ").push(field.name());
        }
        q.push(") VALUES (");
        let mut values = q.separated(", ");
        values
            .push_bind(new.username.as_str())
            .push_bind(new.username.key())
            .push_bind(new.email.as_str())
            .push_bind(new.email.key())
            .push_bind(new.password_hash.as_deref())
            .push_bind(new.kind.as_str())
            .push_bind(new.role.as_str())
            .push_bind(&new.locale)
            .push_bind(new.profile.use_jess)
            .push_bind(new.profile.jess_user.as_deref())
            .push_bind(now)
            .push_bind(now);
        for text in &new.profile.texts {
            values.push_bind(text.as_deref());
        }
        q.push(") RETURNING id");
        let mut tx = self.writer.begin().await?;
        let (id,): (i64,) = q
            .build_query_as()
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        if let Some(hash) = &new.api_token_hash {
            insert_token(&mut tx, id, hash, now).await?;
        }
        tx.commit().await?;
        let row: AccountRow = sqlx::query_as(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?"
        ))
        .bind(id)
        .fetch_one(&self.writer)
        .await?;
        Ok(row.into())
    }

    async fn account_by_id(&self, id: i64) -> StoreResult<Account> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?");
        let row: Option<AccountRow> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(Account::from).ok_or(StoreError::NotFound)
    }

    async fn account_by_email(&self, key: &str) -> StoreResult<Account> {
        self.account_where("email_key", key).await
    }

    async fn account_by_username(&self, key: &str) -> StoreResult<Account> {
        self.account_where("username_key", key).await
    }

    async fn list_accounts(&self, offset: i64, limit: i64) -> StoreResult<(Vec<Account>, i64)> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY username_key LIMIT ? OFFSET ?"
        );
        let mut tx = self.reader.begin().await?;
        let rows: Vec<AccountRow> = sqlx::query_as(&sql)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *tx)
            .await?;
        let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM accounts")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((rows.into_iter().map(Account::from).collect(), total))
    }

    async fn update_account(&self, id: i64, patch: &AccountPatch, now: i64) -> StoreResult<()> {
        let mut q =
            QueryBuilder::<Sqlite>::new("UPDATE accounts SET version = version + 1, updated_at = ");
        q.push_bind(now);
        for (field, value) in &patch.texts {
            q.push(", ")
                .push(field.name())
                .push(" = ")
                .push_bind(value.as_deref());
        }
        if let Some(email) = &patch.email {
            q.push(", email = ").push_bind(email.as_str());
            q.push(", email_key = ").push_bind(email.key());
        }
        if let Some(use_jess) = patch.use_jess {
            q.push(", use_jess = ").push_bind(use_jess);
        }
        if let Some(locale) = &patch.locale {
            q.push(", locale = ").push_bind(locale.as_str());
        }
        if let Some(role) = patch.role {
            q.push(", role = ").push_bind(role.as_str());
        }
        q.push(" WHERE id = ").push_bind(id);
        let done = q
            .build()
            .execute(&self.writer)
            .await
            .map_err(StoreError::from_sqlx)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_password(&self, id: i64, change: PasswordChange<'_>, now: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let old: Option<(Option<String>,)> =
            sqlx::query_as("SELECT password_hash FROM accounts WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let (old,) = old.ok_or(StoreError::NotFound)?;
        if let Some(old) = old {
            sqlx::query(
                "INSERT INTO password_history (account_id, hash, changed_at) VALUES (?, ?, ?)",
            )
            .bind(id)
            .bind(old)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "DELETE FROM password_history WHERE account_id = ? AND id NOT IN \
             (SELECT id FROM password_history WHERE account_id = ? ORDER BY id DESC LIMIT ?)",
        )
        .bind(id)
        .bind(id)
        .bind(change.history_depth as i64)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE accounts SET password_hash = ?, version = version + 1, updated_at = ? WHERE id = ?")
            .bind(change.hash)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM api_tokens WHERE account_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if let Some(hash) = change.api_token_hash {
            insert_token(&mut tx, id, hash, now).await?;
        }
        sqlx::query("DELETE FROM sessions WHERE account_id = ? AND id IS NOT ?")
            .bind(id)
            .bind(change.keep_session)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn rehash_password(&self, id: i64, old: &str, new: &str) -> StoreResult<()> {
        sqlx::query("UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?")
            .bind(new)
            .bind(id)
            .bind(old)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn password_history(&self, id: i64, depth: usize) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT hash FROM password_history WHERE account_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(id)
        .bind(depth as i64)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(|(h,)| h).collect())
    }

    async fn api_token_matches(&self, account_id: i64, secret_hash: &str) -> StoreResult<bool> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM api_tokens WHERE secret_hash = ? AND account_id = ?")
                .bind(secret_hash)
                .bind(account_id)
                .fetch_optional(&self.reader)
                .await?;
        Ok(row.is_some())
    }

    async fn delete_account(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM accounts WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_jess(&self, id: i64, user: &str, secret: &str, now: i64) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE accounts SET jess_user = ?, jess_secret = ?, use_jess = 1, \
             version = version + 1, updated_at = ? WHERE id = ?",
        )
        .bind(user)
        .bind(secret)
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn create_session(&self, s: &Session) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, account_id, login_at, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&s.id)
        .bind(s.account_id)
        .bind(s.login_at)
        .bind(s.expires_at)
        .execute(&self.writer)
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    async fn session(&self, id: &str) -> StoreResult<Session> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT id, account_id, login_at, expires_at FROM sessions WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        let r = row.ok_or(StoreError::NotFound)?;
        Ok(Session {
            id: r.id,
            account_id: r.account_id,
            login_at: r.login_at,
            expires_at: r.expires_at,
        })
    }

    async fn rotate_session(&self, old: &str, new: &Session) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let gone = sqlx::query("DELETE FROM sessions WHERE id = ? AND account_id = ?")
            .bind(old)
            .bind(new.account_id)
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO sessions (id, account_id, login_at, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&new.id)
        .bind(new.account_id)
        .bind(new.login_at)
        .bind(new.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_session(&self, id: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn purge_sessions(&self, now: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}
