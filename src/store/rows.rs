//! Row types shared by both SQL backends, and their conversion to domain types.

use sqlx::{ColumnIndex, Decode, FromRow, Row, Type};

use crate::domain::profile::Profile;
use crate::domain::{
    Account, AccountKind, Actor, AuditAction, AuditRecord, Change, Dialect, Role, Session,
    TextField,
};

/// The columns every account query selects: the fixed ones, then every
/// [`TextField`] by name.
pub(super) fn account_columns() -> &'static str {
    static COLUMNS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        let mut columns = String::from(
            "id, username, email, password_hash, kind, role, locale, use_jess, jess_user, \
             jess_secret IS NOT NULL AS has_jess_secret, version, created_at, updated_at",
        );
        for field in TextField::ALL {
            columns.push_str(", ");
            columns.push_str(field.name());
        }
        columns
    })
}

/// An account as [`account_columns`] selects it.
pub(super) struct AccountRow {
    id: i64,
    username: String,
    email: String,
    password_hash: Option<String>,
    kind: String,
    role: String,
    locale: String,
    texts: [Option<String>; TextField::COUNT],
    use_jess: bool,
    jess_user: Option<String>,
    has_jess_secret: bool,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

// Written out rather than derived: the text columns are read by name from `TextField::ALL`.
impl<'r, R> FromRow<'r, R> for AccountRow
where
    R: Row,
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<AccountRow, sqlx::Error> {
        let mut texts: [Option<String>; TextField::COUNT] = Default::default();
        for (text, field) in texts.iter_mut().zip(TextField::ALL) {
            *text = row.try_get(field.name())?;
        }
        Ok(AccountRow {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            email: row.try_get("email")?,
            password_hash: row.try_get("password_hash")?,
            kind: row.try_get("kind")?,
            role: row.try_get("role")?,
            locale: row.try_get("locale")?,
            texts,
            use_jess: row.try_get("use_jess")?,
            jess_user: row.try_get("jess_user")?,
            has_jess_secret: row.try_get("has_jess_secret")?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Account {
        Account {
            id: r.id,
            username: r.username,
            email: r.email,
            password_hash: r.password_hash,
            kind: AccountKind::parse(&r.kind).unwrap_or(AccountKind::Local),
            role: Role::parse(&r.role).unwrap_or(Role::Normal),
            locale: r.locale,
            profile: Profile {
                texts: r.texts,
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
pub(super) struct SessionRow {
    id: String,
    account_id: i64,
    login_at: i64,
    expires_at: i64,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Session {
        Session {
            id: r.id,
            account_id: r.account_id,
            login_at: r.login_at,
            expires_at: r.expires_at,
        }
    }
}

/// One change as the audit's `changes` column holds it (a JSON array of these).
#[derive(serde::Serialize, serde::Deserialize)]
struct ChangeColumn {
    field: String,
    old: Option<String>,
    new: Option<String>,
}

/// The `changes` column of `changes`.
pub(crate) fn changes_column(changes: &[Change]) -> String {
    let column: Vec<ChangeColumn> = changes
        .iter()
        .map(|c| ChangeColumn {
            field: c.field.clone(),
            old: c.old.clone(),
            new: c.new.clone(),
        })
        .collect();
    serde_json::to_string(&column).unwrap_or_else(|_| "[]".into())
}

fn changes_of(column: &str) -> Vec<Change> {
    let column: Vec<ChangeColumn> = serde_json::from_str(column).unwrap_or_default();
    column
        .into_iter()
        .map(|c| Change {
            field: c.field,
            old: c.old,
            new: c.new,
        })
        .collect()
}

/// The audit's `action` column: an [`AuditAction`] by name; another name (written by a
/// newer version) fails the read rather than being shown as something it is not.
struct ActionColumn(AuditAction);

impl<DB: sqlx::Database> Type<DB> for ActionColumn
where
    str: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <str as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <str as Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: sqlx::Database> Decode<'r, DB> for ActionColumn
where
    &'r str: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<ActionColumn, sqlx::error::BoxDynError> {
        let name = <&str as Decode<DB>>::decode(value)?;
        match AuditAction::parse(name) {
            Some(action) => Ok(ActionColumn(action)),
            None => Err(format!("unknown audit action {name:?}").into()),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    at: i64,
    actor_id: Option<i64>,
    actor: Option<String>,
    dialect: String,
    address: Option<String>,
    action: ActionColumn,
    account_id: Option<i64>,
    username: Option<String>,
    changes: String,
}

impl From<AuditRow> for AuditRecord {
    fn from(r: AuditRow) -> AuditRecord {
        AuditRecord {
            at: r.at,
            actor: Actor {
                id: r.actor_id,
                name: r.actor,
                dialect: Dialect::parse(&r.dialect).unwrap_or(Dialect::System),
                address: r.address,
            },
            action: r.action.0,
            account_id: r.account_id,
            username: r.username,
            changes: changes_of(&r.changes),
        }
    }
}

/// The audit record of `action` on `account` by `actor`.
pub(super) fn record(
    now: i64,
    actor: &Actor,
    action: AuditAction,
    account: &Account,
    changes: Vec<Change>,
) -> AuditRecord {
    AuditRecord {
        at: now,
        actor: actor.clone(),
        action,
        account_id: Some(account.id),
        username: Some(account.username.clone()),
        changes,
    }
}

/// The audit record of a partial update of `old`, if it changes anything. An account acting
/// on itself is named from the row (the caller did not need to read it).
pub(super) fn update_record(u: &super::Update, old: &Account) -> Option<AuditRecord> {
    let changes = u.patch.changes(old);
    if changes.is_empty() {
        return None;
    }
    let mut actor = u.actor.clone();
    if actor.id == Some(old.id) && actor.name.is_none() {
        actor.name = Some(old.username.clone());
    }
    Some(record(u.now, &actor, AuditAction::Update, old, changes))
}
