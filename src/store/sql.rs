//! The SQL of the `Store` trait, written once: `$N` placeholders and standard SQL that both
//! SQLite (3.39+) and PostgreSQL accept. `sql_store!` implements the trait for a backend
//! struct with `writer` and `reader` pools of one sqlx database type.

/// Implements [`super::Store`] for `$store`, whose pools are of database `$db`.
macro_rules! sql_store {
    ($store:ident, $db:ty, $migrations:literal) => {
        impl $store {
            async fn account_where(&self, column: &str, key: &str) -> StoreResult<Account> {
                let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {column} = $1");
                let row: Option<AccountRow> =
                    sqlx::query_as(&sql).bind(key).fetch_optional(&self.reader).await?;
                row.map(Account::from).ok_or(StoreError::NotFound)
            }

            async fn insert_audit(
                tx: &mut sqlx::Transaction<'_, $db>,
                record: &AuditRecord,
            ) -> StoreResult<()> {
                let changes = serde_json::to_string(&record.changes).unwrap_or_else(|_| "[]".into());
                sqlx::query(
                    "INSERT INTO audit (at, actor_id, actor, dialect, address, action, account_id, \
                     username, changes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(record.at)
                .bind(record.actor.id)
                .bind(record.actor.name.as_deref())
                .bind(record.actor.dialect.as_str())
                .bind(record.actor.address.as_deref())
                .bind(&record.action)
                .bind(record.account_id)
                .bind(record.username.as_deref())
                .bind(changes)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// The single statement of a partial update: the named columns and the version.
            fn update_query(u: &Update) -> QueryBuilder<'_, $db> {
                let patch = &u.patch;
                let mut q = QueryBuilder::<$db>::new("UPDATE accounts SET version = version + 1, updated_at = ");
                q.push_bind(u.now);
                for (field, value) in &patch.texts {
                    q.push(", ").push(field.name()).push(" = ").push_bind(value.as_deref());
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
                q.push(" WHERE id = ").push_bind(u.id);
                q
            }

            async fn insert_token(
                tx: &mut sqlx::Transaction<'_, $db>,
                account_id: i64,
                hash: &str,
                now: i64,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO api_tokens (secret_hash, account_id, created_at) VALUES ($1, $2, $3)",
                )
                .bind(hash)
                .bind(account_id)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl Store for $store {
            async fn migrate(&self) -> StoreResult<()> {
                sqlx::migrate!($migrations)
                    .run(&self.writer)
                    .await
                    .map_err(|e| StoreError::from(sqlx::Error::from(e)))
            }

            async fn secret(&self, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
                sqlx::query(
                    "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(fresh)
                .execute(&self.writer)
                .await?;
                let (value,): (Vec<u8>,) = sqlx::query_as("SELECT value FROM secrets WHERE name = $1")
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

            async fn create_account(&self, new: &NewAccount, now: i64, actor: &Actor) -> StoreResult<Account> {
                let mut q = QueryBuilder::<$db>::new(
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
                    Self::insert_token(&mut tx, id, hash, now).await?;
                }
                let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
                let row: AccountRow = sqlx::query_as(&sql).bind(id).fetch_one(&mut *tx).await?;
                let account = Account::from(row);
                let audit = record(now, actor, "create", &account, new.audit_changes());
                Self::insert_audit(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(account)
            }

            async fn account_by_id(&self, id: i64) -> StoreResult<Account> {
                if let Some(account) = self.cache.get(id) {
                    return Ok(account);
                }
                let generation = self.cache.generation();
                let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
                let row: Option<AccountRow> =
                    sqlx::query_as(&sql).bind(id).fetch_optional(&self.reader).await?;
                let account = row.map(Account::from).ok_or(StoreError::NotFound)?;
                self.cache.put(generation, &account);
                Ok(account)
            }

            async fn account_by_email(&self, key: &str) -> StoreResult<Account> {
                self.account_where("email_key", key).await
            }

            async fn account_by_username(&self, key: &str) -> StoreResult<Account> {
                self.account_where("username_key", key).await
            }

            async fn list_accounts(&self, offset: i64, limit: i64) -> StoreResult<(Vec<Account>, i64)> {
                let sql = format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY username_key LIMIT $1 OFFSET $2"
                );
                let mut tx = self.reader.begin().await?;
                let rows: Vec<AccountRow> =
                    sqlx::query_as(&sql).bind(limit).bind(offset).fetch_all(&mut *tx).await?;
                let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM accounts")
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok((rows.into_iter().map(Account::from).collect(), total))
            }

            async fn update_account(
                &self,
                id: i64,
                patch: &AccountPatch,
                expected_version: Option<i64>,
                now: i64,
                actor: &Actor,
            ) -> StoreResult<()> {
                let update = Update { id, patch: patch.clone(), expected_version, now, actor: actor.clone() };
                let result = self.apply_update(update).await;
                self.cache.invalidate(id);
                result
            }

            async fn set_password(
                &self,
                id: i64,
                change: PasswordChange<'_>,
                now: i64,
                actor: &Actor,
            ) -> StoreResult<()> {
                let mut tx = self.writer.begin().await?;
                // Locks the row (PostgreSQL) before the history is rewritten.
                let sql = format!(
                    "UPDATE accounts SET version = version + 1, updated_at = $1 WHERE id = $2 \
                     RETURNING {ACCOUNT_COLUMNS}"
                );
                let account: Option<AccountRow> =
                    sqlx::query_as(&sql).bind(now).bind(id).fetch_optional(&mut *tx).await?;
                let account = Account::from(account.ok_or(StoreError::NotFound)?);
                let mut changes = vec![Change::secret("password", account.password_hash.is_some())];
                if change.api_token_hash.is_some() {
                    changes.push(Change::secret("token", true));
                }
                Self::insert_audit(&mut tx, &record(now, actor, "password", &account, changes)).await?;
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
                if let Some(hash) = change.api_token_hash {
                    Self::insert_token(&mut tx, id, hash, now).await?;
                }
                sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id IS DISTINCT FROM $2")
                    .bind(id)
                    .bind(change.keep_session)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                self.cache.invalidate(id);
                Ok(())
            }

            async fn rehash_password(&self, id: i64, old: &str, new: &str) -> StoreResult<()> {
                sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
                    .bind(new)
                    .bind(id)
                    .bind(old)
                    .execute(&self.writer)
                    .await?;
                self.cache.invalidate(id);
                Ok(())
            }

            async fn password_history(&self, id: i64, depth: usize) -> StoreResult<Vec<String>> {
                let rows: Vec<(String,)> = sqlx::query_as(
                    "SELECT hash FROM password_history WHERE account_id = $1 ORDER BY id DESC LIMIT $2",
                )
                .bind(id)
                .bind(depth as i64)
                .fetch_all(&self.reader)
                .await?;
                Ok(rows.into_iter().map(|(h,)| h).collect())
            }

            async fn api_token_matches(&self, account_id: i64, secret_hash: &str) -> StoreResult<bool> {
                let (n,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM api_tokens WHERE secret_hash = $1 AND account_id = $2",
                )
                .bind(secret_hash)
                .bind(account_id)
                .fetch_one(&self.reader)
                .await?;
                Ok(n > 0)
            }

            async fn delete_account(&self, id: i64, now: i64, actor: &Actor) -> StoreResult<()> {
                let mut tx = self.writer.begin().await?;
                let sql = format!("DELETE FROM accounts WHERE id = $1 RETURNING {ACCOUNT_COLUMNS}");
                let gone: Option<AccountRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&mut *tx).await?;
                let gone = Account::from(gone.ok_or(StoreError::NotFound)?);
                Self::insert_audit(&mut tx, &record(now, actor, "delete", &gone, Vec::new())).await?;
                tx.commit().await?;
                self.cache.invalidate(id);
                Ok(())
            }

            async fn set_jess(&self, id: i64, user: &str, secret: &str, now: i64, actor: &Actor) -> StoreResult<()> {
                let mut tx = self.writer.begin().await?;
                let sql = format!(
                    "UPDATE accounts SET version = version + 1, updated_at = $1 WHERE id = $2 \
                     RETURNING {ACCOUNT_COLUMNS}"
                );
                let old: Option<AccountRow> = sqlx::query_as(&sql).bind(now).bind(id).fetch_optional(&mut *tx).await?;
                let old = Account::from(old.ok_or(StoreError::NotFound)?);
                sqlx::query("UPDATE accounts SET jess_user = $1, jess_secret = $2, use_jess = TRUE WHERE id = $3")
                    .bind(user)
                    .bind(secret)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let mut changes = vec![
                    Change::new("jess_user", old.profile.jess_user.as_deref(), Some(user)),
                    Change::secret("jess_pwd", old.has_jess_secret),
                ];
                if !old.profile.use_jess {
                    changes.push(Change::new("use_jess", Some("false"), Some("true")));
                }
                Self::insert_audit(&mut tx, &record(now, actor, "jess_link", &old, changes)).await?;
                tx.commit().await?;
                self.cache.invalidate(id);
                Ok(())
            }

            async fn create_session(&self, s: &Session) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (id, account_id, login_at, expires_at) VALUES ($1, $2, $3, $4)",
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
                    "SELECT id, account_id, login_at, expires_at FROM sessions WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.reader)
                .await?;
                row.map(Session::from).ok_or(StoreError::NotFound)
            }

            async fn rotate_session(&self, old: &str, new: &Session) -> StoreResult<()> {
                let mut tx = self.writer.begin().await?;
                let gone = sqlx::query("DELETE FROM sessions WHERE id = $1 AND account_id = $2")
                    .bind(old)
                    .bind(new.account_id)
                    .execute(&mut *tx)
                    .await?;
                if gone.rows_affected() == 0 {
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
                tx.commit().await?;
                Ok(())
            }

            async fn delete_session(&self, id: &str, now: i64, actor: &Actor) -> StoreResult<()> {
                let mut tx = self.writer.begin().await?;
                let gone: Option<(i64,)> = sqlx::query_as("DELETE FROM sessions WHERE id = $1 RETURNING account_id")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let (account_id,) = gone.ok_or(StoreError::NotFound)?;
                let audit = AuditRecord {
                    at: now,
                    actor: actor.clone(),
                    action: "logout".into(),
                    account_id: Some(account_id),
                    username: actor.name.clone(),
                    changes: Vec::new(),
                };
                Self::insert_audit(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn purge_sessions(&self, now: i64) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn throttle_attempt(&self, key: &str, policy: &ThrottlePolicy, now_ms: i64) -> StoreResult<Attempt> {
                // The attempt's number, and whether the key was locked when it came; every
                // SET expression sees the row as it was before this statement.
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
                    .bind(if first_lock > 0 { now_ms + first_lock } else { 0 })
                    .fetch_one(&self.writer)
                    .await?;
                Ok(if denied > 0 { Attempt::Refused(locked_until) } else { Attempt::Counted(number) })
            }

            async fn throttle_success(&self, key: &str, count: i64) -> StoreResult<()> {
                sqlx::query("DELETE FROM throttle WHERE key = $1 AND failures <= $2")
                    .bind(key)
                    .bind(count)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn throttle_release(&self, key: &str, policy: &ThrottlePolicy) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE throttle SET failures = failures - 1, locked_until = CASE \
                     WHEN failures - 1 < $2 THEN 0 ELSE locked_until END \
                     WHERE key = $1 AND failures > 0",
                )
                .bind(key)
                .bind(policy.threshold)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn throttle_clear(&self, key: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM throttle WHERE key = $1").bind(key).execute(&self.writer).await?;
                Ok(())
            }

            async fn record_audit(&self, record: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.writer.begin().await?;
                Self::insert_audit(&mut tx, record).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn audit_records(
                &self,
                username: Option<&str>,
                since: Option<i64>,
                limit: i64,
            ) -> StoreResult<Vec<AuditRecord>> {
                let rows: Vec<AuditRow> = sqlx::query_as(
                    "SELECT at, actor_id, actor, dialect, address, action, account_id, username, changes \
                     FROM audit WHERE ($1 IS NULL OR username = $1) AND ($2 IS NULL OR at >= $2) \
                     ORDER BY at DESC, id DESC LIMIT $3",
                )
                .bind(username)
                .bind(since)
                .bind(limit)
                .fetch_all(&self.reader)
                .await?;
                Ok(rows.into_iter().map(AuditRecord::from).collect())
            }

            async fn ready(&self) -> StoreResult<()> {
                self.check_health()?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                sqlx::query(
                    "INSERT INTO secrets (name, value) VALUES ('readiness-probe', $1) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                )
                .bind(now.to_be_bytes().to_vec())
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn purge_audit(&self, before: i64) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM audit WHERE at < $1").bind(before).execute(&self.writer).await?;
                Ok(done.rows_affected())
            }

            async fn secret_if_any(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
                let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT value FROM secrets WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.writer)
                    .await?;
                Ok(row.map(|(value,)| value))
            }

            fn pool_use(&self) -> Vec<$crate::store::PoolUse> {
                let of = |name, pool: &sqlx::Pool<_>| $crate::store::PoolUse {
                    pool: name,
                    open: pool.size(),
                    idle: pool.num_idle() as u32,
                    max: pool.options().get_max_connections(),
                };
                vec![of("writer", &self.writer), of("reader", &self.reader)]
            }
        }
    };
}

pub(super) use sql_store;
