//! Accounts: create, read, list, partial update, JESS link, delete.

use sqlx::QueryBuilder;

use super::{Backend, Db, Tx};
use crate::domain::{Account, AccountPatch, Actor, AuditAction, Change, NewAccount, TextField};
use crate::store::caches::Changed;
use crate::store::rows::{account_columns, record, AccountRow};
use crate::store::{StoreError, StoreResult, Update};

/// The account whose `column` (a key column) equals `key`.
pub(super) async fn account_where(s: &Backend, column: &str, key: &str) -> StoreResult<Account> {
    let columns = account_columns();
    let sql = format!("SELECT {columns} FROM accounts WHERE {column} = $1");
    let row: Option<AccountRow> = sqlx::query_as(&sql)
        .bind(key)
        .fetch_optional(&s.reader)
        .await?;
    row.map(Account::from).ok_or(StoreError::NotFound)
}

/// The single statement of a partial update: the named columns and the version.
pub(crate) fn update_query(u: &Update) -> QueryBuilder<'_, Db> {
    let mut q = QueryBuilder::<Db>::new("");
    push_update(&mut q, u);
    q
}

/// Appends the `UPDATE` statement of `u` to `q` (group commit joins several).
pub(crate) fn push_update<'a>(q: &mut QueryBuilder<'a, Db>, u: &'a Update) {
    let patch = &u.patch;
    q.push("UPDATE accounts SET version = version + 1, updated_at = ");
    q.push_bind(u.now);
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
    q.push(" WHERE id = ").push_bind(u.id);
}

pub(super) async fn count_accounts(s: &Backend) -> StoreResult<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM accounts")
        .fetch_one(&s.reader)
        .await?;
    Ok(n)
}

/// `INSERT INTO accounts (every column) `, for one new account or a batch of them.
pub(super) fn insert_accounts<'a>() -> QueryBuilder<'a, Db> {
    let mut q = QueryBuilder::<Db>::new(
        "INSERT INTO accounts (username, username_key, email, email_key, password_hash, \
         kind, role, locale, use_jess, jess_user, created_at, updated_at",
    );
    for field in TextField::ALL {
        q.push(", ").push(field.name());
    }
    q.push(") ");
    q
}

/// The values of one new account, in the order of [`insert_accounts`]' columns.
pub(super) fn push_account_values<'a>(
    values: &mut sqlx::query_builder::Separated<'_, 'a, Db, &'static str>,
    new: &'a NewAccount,
    now: i64,
) {
    values
        .push_bind(new.username.as_str())
        .push_bind(new.username.key())
        .push_bind(new.email.as_str())
        .push_bind(new.email.key())
        .push_bind(new.password_hash.as_deref())
        .push_bind(new.kind.as_str())
        .push_bind(new.role.as_str())
        .push_bind(new.locale.as_str())
        .push_bind(new.profile.use_jess)
        .push_bind(new.profile.jess_user.as_deref())
        .push_bind(now)
        .push_bind(now);
    for text in &new.profile.texts {
        values.push_bind(text.as_deref());
    }
}

pub(super) async fn create_account(
    s: &Backend,
    new: &NewAccount,
    now: i64,
    actor: &Actor,
) -> StoreResult<Account> {
    let mut q = insert_accounts();
    q.push("VALUES (");
    push_account_values(&mut q.separated(", "), new, now);
    q.push(") RETURNING id");
    let mut tx = s.writer.begin().await?;
    let (id,): (i64,) = q.build_query_as().fetch_one(&mut *tx).await?;
    if let Some(hash) = &new.api_token_hash {
        super::passwords::insert_token(&mut tx, id, hash, now).await?;
    }
    let columns = account_columns();
    let sql = format!("SELECT {columns} FROM accounts WHERE id = $1");
    let row: AccountRow = sqlx::query_as(&sql).bind(id).fetch_one(&mut *tx).await?;
    let account = Account::from(row);
    let audit = record(
        now,
        actor,
        AuditAction::Create,
        &account,
        new.audit_changes(),
    );
    super::insert_audit(&mut tx, &audit).await?;
    tx.commit().await?;
    Ok(account)
}

pub(super) async fn account_by_id(s: &Backend, id: i64) -> StoreResult<Account> {
    let caches = &s.caches;
    if let Some(account) = caches.accounts.get(id, &caches.link) {
        return Ok(account);
    }
    let token = caches.accounts.token();
    let columns = account_columns();
    let sql = format!("SELECT {columns} FROM accounts WHERE id = $1");
    let row: Option<AccountRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&s.reader)
        .await?;
    let account = row.map(Account::from).ok_or(StoreError::NotFound)?;
    caches.accounts.put(token, &account, &caches.link);
    Ok(account)
}

/// One page in user name order and the total. A page deep in the list seeks to the nearest
/// mark of the [`PageIndex`](crate::store::page_index) instead of walking the index from the
/// start, so that its cost does not grow with the offset.
pub(super) async fn list_accounts(
    s: &Backend,
    offset: i64,
    limit: i64,
) -> StoreResult<(Vec<Account>, i64)> {
    use crate::store::page_index::FROM_OFFSET;
    let columns = account_columns();
    let mut tx = s.reader.begin().await?;
    let (total, max_id) = fingerprint(&mut tx).await?;
    let rows: Vec<AccountRow> = if offset < FROM_OFFSET {
        let sql =
            format!("SELECT {columns} FROM accounts ORDER BY username_key LIMIT $1 OFFSET $2");
        sqlx::query_as(&sql)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *tx)
            .await?
    } else if offset >= total {
        Vec::new()
    } else {
        let marks = marks(s, &mut tx, total, max_id).await?;
        match marks.seek(offset) {
            None => Vec::new(),
            Some((key, skip)) => {
                let sql = format!(
                    "SELECT {columns} FROM accounts WHERE username_key >= $1 \
                     ORDER BY username_key LIMIT $2 OFFSET $3"
                );
                sqlx::query_as(&sql)
                    .bind(key)
                    .bind(limit)
                    .bind(skip)
                    .fetch_all(&mut *tx)
                    .await?
            }
        }
    };
    tx.commit().await?;
    Ok((rows.into_iter().map(Account::from).collect(), total))
}

/// The page marks of the set of accounts with this fingerprint: remembered, or read now.
async fn marks(
    s: &Backend,
    tx: &mut Tx<'_>,
    total: i64,
    max_id: i64,
) -> StoreResult<std::sync::Arc<crate::store::page_index::Marks>> {
    use crate::store::page_index::{Marks, STRIDE};
    if let Some(marks) = s.pages.get(total, max_id) {
        return Ok(marks);
    }
    let sql = format!(
        "SELECT username_key FROM (SELECT username_key, ROW_NUMBER() OVER \
         (ORDER BY username_key) AS n FROM accounts) AS ranked \
         WHERE (n - 1) % {STRIDE} = 0 ORDER BY n"
    );
    let keys: Vec<(String,)> = sqlx::query_as(&sql).fetch_all(&mut **tx).await?;
    let marks = std::sync::Arc::new(Marks::new(
        total,
        max_id,
        keys.into_iter().map(|(k,)| k).collect(),
    ));
    // On SQLite the transaction reads one snapshot; on PostgreSQL each statement reads its
    // own, so the marks are kept only if the set did not change meanwhile.
    if fingerprint(tx).await? == (total, max_id) {
        s.pages.put(marks.clone());
    }
    Ok(marks)
}

/// How many accounts there are (kept by triggers in `account_count`: counting a million
/// rows at each request would cost tens of milliseconds) and their largest id (found in the
/// key's B-tree).
async fn fingerprint(tx: &mut Tx<'_>) -> StoreResult<(i64, i64)> {
    let (count,): (i64,) = sqlx::query_as("SELECT n FROM account_count WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    let (max_id,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM accounts")
        .fetch_one(&mut **tx)
        .await?;
    Ok((count, max_id))
}

pub(super) async fn update_account(
    s: &Backend,
    id: i64,
    patch: &AccountPatch,
    expected_version: Option<i64>,
    now: i64,
    actor: &Actor,
) -> StoreResult<()> {
    let update = Update {
        id,
        patch: patch.clone(),
        expected_version,
        now,
        actor: actor.clone(),
    };
    // The committer announces the change to the other instances inside its transaction.
    let result = s.apply_update(update).await;
    s.caches.apply(&Changed::accounts(vec![id]));
    result
}

pub(super) async fn delete_account(
    s: &Backend,
    id: i64,
    now: i64,
    actor: &Actor,
) -> StoreResult<()> {
    let mut tx = s.writer.begin().await?;
    let columns = account_columns();
    let sql = format!("DELETE FROM accounts WHERE id = $1 RETURNING {columns}");
    let gone: Option<AccountRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let gone = Account::from(gone.ok_or(StoreError::NotFound)?);
    super::insert_audit(
        &mut tx,
        &record(now, actor, AuditAction::Delete, &gone, Vec::new()),
    )
    .await?;
    // Its sessions went with it (foreign key cascade).
    super::commit_announced(s, tx, &Changed::account_and_sessions(id)).await
}

pub(super) async fn set_jess(
    s: &Backend,
    id: i64,
    user: &str,
    secret: &str,
    now: i64,
    actor: &Actor,
) -> StoreResult<()> {
    let mut tx = s.writer.begin().await?;
    let old = bump_version(&mut tx, id, now).await?;
    sqlx::query(
        "UPDATE accounts SET jess_user = $1, jess_secret = $2, use_jess = TRUE WHERE id = $3",
    )
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
    super::insert_audit(
        &mut tx,
        &record(now, actor, AuditAction::JessLink, &old, changes),
    )
    .await?;
    super::commit_announced(s, tx, &Changed::accounts(vec![id])).await
}

/// Bumps an account's version inside `tx` (on PostgreSQL this locks its row for the rest of
/// the transaction) and returns the account as it was before the change that follows.
pub(super) async fn bump_version(tx: &mut Tx<'_>, id: i64, now: i64) -> StoreResult<Account> {
    let columns = account_columns();
    let sql = format!(
        "UPDATE accounts SET version = version + 1, updated_at = $1 WHERE id = $2 \
         RETURNING {columns}"
    );
    let row: Option<AccountRow> = sqlx::query_as(&sql)
        .bind(now)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(Account::from(row.ok_or(StoreError::NotFound)?))
}
