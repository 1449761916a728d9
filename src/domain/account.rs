//! `Account`: one user as both dialects see it, and the values needed to create one.

use super::profile::{Profile, TextField};
use super::Change;
use super::{Email, Username};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// May use every `userapi.do` action.
    Admin,
    /// May read and change only its own account.
    Normal,
}

impl Role {
    /// The stored and `userapi.do` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Normal => "normal",
        }
    }

    /// The ENSIMS spelling: `admin` or `user`.
    pub fn ensims_name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Normal => "user",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "normal" => Some(Role::Normal),
            _ => None,
        }
    }
}

/// Where an account's password lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    /// Roster holds an Argon2id hash.
    Local,
    /// A directory account: Roster holds no password.
    Ad,
}

impl AccountKind {
    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Local => "local",
            AccountKind::Ad => "ad",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<AccountKind> {
        match s {
            "local" => Some(AccountKind::Local),
            "ad" => Some(AccountKind::Ad),
            _ => None,
        }
    }
}

/// One stored account.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Store-assigned identity; never reused.
    pub id: i64,
    /// Unique handle.
    pub username: String,
    /// Unique login address.
    pub email: String,
    /// Argon2id PHC string; none for `ad` accounts.
    pub password_hash: Option<String>,
    /// Local or directory.
    pub kind: AccountKind,
    /// Admin or normal.
    pub role: Role,
    /// One of the configured locales.
    pub locale: String,
    /// The ENSIMS profile fields other than `email`.
    pub profile: Profile,
    /// Whether an encrypted JESS secret is stored.
    pub has_jess_secret: bool,
    /// Incremented by every write.
    pub version: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl Account {
    /// The ENSIMS display name: nickname, else first name, else user name.
    pub fn display_name(&self) -> &str {
        [TextField::Nickname, TextField::Firstname]
            .into_iter()
            .filter_map(|f| self.profile.get(f))
            .find(|s| !s.is_empty())
            .unwrap_or(&self.username)
    }
}

/// A validated account about to be stored.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Unique handle.
    pub username: Username,
    /// Unique login address.
    pub email: Email,
    /// Argon2id hash; none for `ad` accounts.
    pub password_hash: Option<String>,
    /// Local or directory.
    pub kind: AccountKind,
    /// Admin or normal.
    pub role: Role,
    /// One of the configured locales.
    pub locale: String,
    /// Initial profile fields.
    pub profile: Profile,
    /// SHA-256 (hex) of a first `userapi.do` token secret, stored with the account.
    pub api_token_hash: Option<String>,
}

impl NewAccount {
    /// The initial values, for the audit trail (the password as `***`).
    pub fn audit_changes(&self) -> Vec<Change> {
        let mut changes = vec![
            Change::new("username", None, Some(self.username.as_str())),
            Change::new("email", None, Some(self.email.as_str())),
            Change::new("type", None, Some(self.kind.as_str())),
            Change::new("role", None, Some(self.role.as_str())),
            Change::new("locale", None, Some(&self.locale)),
        ];
        for field in TextField::ALL {
            if let Some(value) = self.profile.get(field) {
                changes.push(Change::new(field.name(), None, Some(value)));
            }
        }
        if self.password_hash.is_some() {
            changes.push(Change::secret("password", false));
        }
        changes
    }
}

/// A column with a uniqueness rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    /// `username` (case-insensitive).
    Username,
    /// `email` (case-insensitive).
    Email,
}
