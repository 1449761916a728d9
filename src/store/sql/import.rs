//! Bulk import: a batch of accounts in one transaction, multi-row `INSERT`s that skip the
//! rows whose user name or email is taken, then (on request) an update of the existing
//! accounts the batch names, each in a savepoint of its own.

use std::collections::{HashMap, HashSet};

use sqlx::{Acquire, QueryBuilder};

use super::accounts::push_account_values;
use super::audit::insert_audits;
use super::{Backend, Db, Tx};
use crate::domain::{Account, Actor, AuditAction, AuditRecord, Change, NewAccount, TextField};
use crate::store::caches::Changed;
use crate::store::rows::{account_columns, AccountRow};
use crate::store::{Imported, OnConflict, StoreError, StoreResult};

/// Accounts per `INSERT`: 26 parameters each, far below both backends' limits.
const ROWS_PER_STATEMENT: usize = 500;

/// Audit records per `INSERT`: 9 parameters each.
const AUDITS_PER_STATEMENT: usize = 1000;

pub(super) async fn import_accounts(
    s: &Backend,
    batch: &[NewAccount],
    on_conflict: OnConflict,
    now: i64,
    actor: &Actor,
) -> StoreResult<Vec<Imported>> {
    let mut outcomes = vec![Imported::Skipped; batch.len()];
    let mut audits = Vec::new();
    let mut touched = Vec::new();
    let mut tx = s.writer.begin().await?;
    for (n, chunk) in batch.chunks(ROWS_PER_STATEMENT).enumerate() {
        let base = n * ROWS_PER_STATEMENT;
        let created = insert_new(&mut tx, chunk, now).await?;
        // The first row of each user name is the one an INSERT would have stored.
        let mut first: HashMap<String, usize> = HashMap::new();
        for (i, new) in chunk.iter().enumerate() {
            first.entry(new.username.key()).or_insert(i);
        }
        let mut done = vec![false; chunk.len()];
        for (id, key) in created {
            if let Some(&i) = first.get(&key) {
                done[i] = true;
                outcomes[base + i] = Imported::Created;
                let new = &chunk[i];
                audits.push(AuditRecord {
                    at: now,
                    actor: actor.clone(),
                    action: AuditAction::Create,
                    account_id: Some(id),
                    username: Some(new.username.as_str().to_owned()),
                    changes: new.audit_changes(),
                });
            }
        }
        let rest: Vec<usize> = (0..chunk.len()).filter(|&i| !done[i]).collect();
        if rest.is_empty() {
            continue;
        }
        let keys: Vec<String> = rest.iter().map(|&i| chunk[i].username.key()).collect();
        let existing = existing_usernames(&mut tx, &keys).await?;
        for i in rest {
            let new = &chunk[i];
            outcomes[base + i] = if !existing.contains(&new.username.key()) {
                // Not stored, and the user name is free: the email belongs to another.
                Imported::EmailTaken
            } else if on_conflict == OnConflict::Skip {
                Imported::Skipped
            } else {
                let (outcome, id) = update_existing(&mut tx, new, now, actor).await?;
                touched.extend(id);
                outcome
            };
        }
    }
    for chunk in audits.chunks(AUDITS_PER_STATEMENT) {
        insert_audits(&mut tx, chunk).await?;
    }
    // The other instances drop the accounts too (a notification holds at most 8000 bytes:
    // a few hundred ids each).
    let notices: Vec<Changed> = touched
        .chunks(300)
        .map(|ids| Changed::accounts(ids.to_vec()))
        .collect();
    for notice in &notices {
        Backend::announce(&mut tx, notice).await?;
    }
    tx.commit().await?;
    for notice in &notices {
        s.caches.apply(notice);
    }
    Ok(outcomes)
}

pub(super) async fn email_owners(
    s: &Backend,
    email_keys: &[String],
) -> StoreResult<Vec<(String, String)>> {
    let mut owners = Vec::new();
    for chunk in email_keys.chunks(AUDITS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Db>::new(
            "SELECT email_key, username_key FROM accounts WHERE email_key IN (",
        );
        let mut list = q.separated(", ");
        for key in chunk {
            list.push_bind(key.as_str());
        }
        q.push(")");
        let rows: Vec<(String, String)> = q.build_query_as().fetch_all(&s.reader).await?;
        owners.extend(rows);
    }
    Ok(owners)
}

/// Inserts the rows whose user name and email are free; the id and user name key of each.
async fn insert_new(
    tx: &mut Tx<'_>,
    chunk: &[NewAccount],
    now: i64,
) -> StoreResult<Vec<(i64, String)>> {
    let mut q = super::accounts::insert_accounts();
    q.push_values(chunk, |mut row, new| {
        push_account_values(&mut row, new, now);
    });
    q.push(" ON CONFLICT DO NOTHING RETURNING id, username_key");
    Ok(q.build_query_as().fetch_all(&mut **tx).await?)
}

/// Which of `keys` name an existing account.
async fn existing_usernames(tx: &mut Tx<'_>, keys: &[String]) -> StoreResult<HashSet<String>> {
    let mut q =
        QueryBuilder::<Db>::new("SELECT username_key FROM accounts WHERE username_key IN (");
    let mut list = q.separated(", ");
    for key in keys {
        list.push_bind(key.as_str());
    }
    q.push(")");
    let rows: Vec<(String,)> = q.build_query_as().fetch_all(&mut **tx).await?;
    Ok(rows.into_iter().map(|(k,)| k).collect())
}

/// Overwrites the existing account of `new`'s user name with the imported values, in a
/// savepoint: an email that belongs to another account leaves it as it was. Nothing to
/// change writes nothing. A changed password ends the account's sessions.
async fn update_existing(
    tx: &mut Tx<'_>,
    new: &NewAccount,
    now: i64,
    actor: &Actor,
) -> StoreResult<(Imported, Option<i64>)> {
    let columns = account_columns();
    let sql = format!("SELECT {columns} FROM accounts WHERE username_key = $1");
    let old: AccountRow = sqlx::query_as(&sql)
        .bind(new.username.key())
        .fetch_one(&mut **tx)
        .await?;
    let old = Account::from(old);
    let changes = changes_from(&old, new);
    if changes.is_empty() {
        return Ok((Imported::Unchanged, None));
    }
    let mut q = QueryBuilder::<Db>::new("UPDATE accounts SET version = version + 1, updated_at = ");
    q.push_bind(now)
        .push(", email = ")
        .push_bind(new.email.as_str())
        .push(", email_key = ")
        .push_bind(new.email.key())
        .push(", password_hash = ")
        .push_bind(new.password_hash.as_deref())
        .push(", kind = ")
        .push_bind(new.kind.as_str())
        .push(", role = ")
        .push_bind(new.role.as_str())
        .push(", locale = ")
        .push_bind(new.locale.as_str())
        .push(", use_jess = ")
        .push_bind(new.profile.use_jess);
    for (field, text) in TextField::ALL.iter().zip(&new.profile.texts) {
        q.push(", ")
            .push(field.name())
            .push(" = ")
            .push_bind(text.as_deref());
    }
    q.push(" WHERE id = ").push_bind(old.id);
    let mut savepoint = tx.begin().await?;
    match q.build().execute(&mut *savepoint).await {
        Ok(_) => {}
        Err(e) => {
            let e = StoreError::from(e);
            if matches!(e, StoreError::Conflict(_)) {
                savepoint.rollback().await?;
                return Ok((Imported::EmailTaken, None));
            }
            return Err(e);
        }
    }
    if new.password_hash != old.password_hash {
        sqlx::query("DELETE FROM sessions WHERE account_id = $1")
            .bind(old.id)
            .execute(&mut *savepoint)
            .await?;
    }
    let record = AuditRecord {
        at: now,
        actor: actor.clone(),
        action: AuditAction::Update,
        account_id: Some(old.id),
        username: Some(old.username.clone()),
        changes,
    };
    super::insert_audit(&mut savepoint, &record).await?;
    savepoint.commit().await?;
    Ok((Imported::Updated, Some(old.id)))
}

/// The differences between a stored account and its imported values (the password as
/// `***`).
fn changes_from(old: &Account, new: &NewAccount) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut compare = |field: &str, before: Option<&str>, after: Option<&str>| {
        if before != after {
            changes.push(Change::new(field, before, after));
        }
    };
    compare("email", Some(&old.email), Some(new.email.as_str()));
    compare("type", Some(old.kind.as_str()), Some(new.kind.as_str()));
    compare("role", Some(old.role.as_str()), Some(new.role.as_str()));
    compare("locale", Some(&old.locale), Some(&new.locale));
    for field in TextField::ALL {
        compare(field.name(), old.profile.get(field), new.profile.get(field));
    }
    if old.profile.use_jess != new.profile.use_jess {
        let s = |b: bool| if b { "true" } else { "false" };
        changes.push(Change::new(
            "use_jess",
            Some(s(old.profile.use_jess)),
            Some(s(new.profile.use_jess)),
        ));
    }
    if old.password_hash != new.password_hash {
        changes.push(Change::secret("password", old.password_hash.is_some()));
    }
    changes
}
