//! Audit records: who changed which account, how, from where, and each field's old and new
//! value (secrets as `***`).

/// The channel a change came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The ENSIMS Users API.
    Ensims,
    /// The `userapi.do` admin API.
    UserApi,
    /// The `roster` command line.
    Cli,
    /// Roster itself (first start, maintenance).
    System,
}

impl Dialect {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Ensims => "ensims",
            Dialect::UserApi => "userapi",
            Dialect::Cli => "cli",
            Dialect::System => "system",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Dialect> {
        [
            Dialect::Ensims,
            Dialect::UserApi,
            Dialect::Cli,
            Dialect::System,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// Who acts, through what, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The acting account, when known.
    pub id: Option<i64>,
    /// Its user name, when known.
    pub name: Option<String>,
    /// The channel.
    pub dialect: Dialect,
    /// The client address (socket, or `X-Forwarded-For` behind a trusted proxy).
    pub address: Option<String>,
}

impl Actor {
    /// An actor not (yet) identified: a log-on attempt, the CLI, the system.
    pub fn anonymous(dialect: Dialect, address: Option<String>) -> Actor {
        Actor {
            id: None,
            name: None,
            dialect,
            address,
        }
    }

    /// The same channel and address, acting as `account`.
    pub fn as_account(&self, id: i64, name: &str) -> Actor {
        Actor {
            id: Some(id),
            name: Some(name.to_owned()),
            ..self.clone()
        }
    }
}

/// The placeholder that stands for a secret value.
pub const SECRET: &str = "***";

/// What an audit record says was done: the one vocabulary `accounts` chooses from and the
/// store writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// An account was created.
    Create,
    /// Profile fields, email, locale or role changed.
    Update,
    /// The password changed (and, through `userapi.do`, the API token).
    Password,
    /// An account was deleted.
    Delete,
    /// A JESS user was linked.
    JessLink,
    /// A session ended by log off.
    Logout,
    /// A log on failed.
    LogonFailed,
    /// An account's failure counter was cleared.
    Unlock,
    /// A password reset was requested (a mail with a link went out).
    ResetRequested,
    /// A file was uploaded (path and size, never content).
    FileUpload,
    /// A file or folder was deleted.
    FileDelete,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 11] = [
        AuditAction::Create,
        AuditAction::Update,
        AuditAction::Password,
        AuditAction::Delete,
        AuditAction::JessLink,
        AuditAction::Logout,
        AuditAction::LogonFailed,
        AuditAction::Unlock,
        AuditAction::ResetRequested,
        AuditAction::FileUpload,
        AuditAction::FileDelete,
    ];

    /// The stored and published name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Update => "update",
            AuditAction::Password => "password",
            AuditAction::Delete => "delete",
            AuditAction::JessLink => "jess_link",
            AuditAction::Logout => "logout",
            AuditAction::LogonFailed => "logon_failed",
            AuditAction::Unlock => "unlock",
            AuditAction::ResetRequested => "reset_requested",
            AuditAction::FileUpload => "file_upload",
            AuditAction::FileDelete => "file_delete",
        }
    }

    /// The action of a stored name.
    pub fn parse(name: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// One field's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The field's wire name.
    pub field: String,
    /// The value before (`None`: null).
    pub old: Option<String>,
    /// The value after (`None`: null).
    pub new: Option<String>,
}

impl Change {
    /// A change of `field` from `old` to `new`.
    pub fn new(field: &str, old: Option<&str>, new: Option<&str>) -> Change {
        Change {
            field: field.to_owned(),
            old: old.map(str::to_owned),
            new: new.map(str::to_owned),
        }
    }

    /// A change of a secret: both values shown as `***`.
    pub fn secret(field: &str, had_old: bool) -> Change {
        Change::new(field, had_old.then_some(SECRET), Some(SECRET))
    }
}

/// One audit record as stored and read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Unix seconds.
    pub at: i64,
    /// Who acted.
    pub actor: Actor,
    /// What was done.
    pub action: AuditAction,
    /// The account concerned, when it exists.
    pub account_id: Option<i64>,
    /// Its user name (or the identifier tried, for a failed log on).
    pub username: Option<String>,
    /// Field-level changes.
    pub changes: Vec<Change>,
}
