//! The admin use-cases of `userapi.do`: Basic and admin-key authentication, API tokens, and the
//! admin dialect's stricter field rules for creating and updating users.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::digest::{digest, SHA256};

use super::manage::NewUser;
use super::permissions::{Admin, PasswordGrant};
use super::throttle::{Check, Proof};
use super::{Accounts, Error, Result};
use crate::auth::{random_token, Verified};
use crate::domain::{
    Account, AccountKind, AccountPatch, Actor, Email, FieldError, ProfileInput, Role, TextField,
};

/// The longest email the admin dialect accepts.
pub const ADMIN_EMAIL_MAX: usize = 80;
/// The longest first or last name the admin dialect accepts.
pub const NAME_MAX: usize = 30;

/// How a `userapi.do` caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Basic with the account's password.
    Password,
    /// Basic with the account's API token secret.
    Token,
    /// `x-authorization` with the configured admin key.
    AdminKey,
    /// The session cookie of a signed-in browser (the admin console).
    Session,
}

/// An authenticated `userapi.do` caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account acting.
    pub account: Account,
    /// How it authenticated.
    pub via: Via,
}

impl Caller {
    /// Whether the caller holds admin rights.
    pub fn is_admin(&self) -> bool {
        self.account.role == Role::Admin
    }

    /// Whether `username` names the caller's own account.
    pub fn is(&self, username: &str) -> bool {
        self.account.username.to_lowercase() == username.to_lowercase()
    }
}

/// The user fields of a `createUser` item; `None` means absent.
#[derive(Debug, Clone, Default)]
pub struct AdminUserInput {
    /// `username`: required.
    pub username: Option<String>,
    /// `password`: required for a local account.
    pub password: Option<String>,
    /// `firstname`: required for a local account.
    pub firstname: Option<String>,
    /// `lastname` (stored as the surname): required for a local account.
    pub lastname: Option<String>,
    /// `email`: required.
    pub email: Option<String>,
    /// `type`: `local` (the default) or `ad`.
    pub kind: Option<String>,
    /// `role`: `normal` (the default) or `admin`.
    pub role: Option<String>,
    /// `locale`: one of the accepted locales (the default is the first).
    pub locale: Option<String>,
}

/// The fields of an `updateUser` request.
#[derive(Debug, Clone, Copy)]
pub struct AdminUserUpdate<'a> {
    /// Whose account.
    pub username: &'a str,
    /// `firstname` or `lastname` if the request named one (with a value): refused.
    pub names_given: Option<&'static str>,
    /// A new email.
    pub email: Option<&'a str>,
    /// A new locale.
    pub locale: Option<&'a str>,
}

/// A fresh API token: what the client gets, and what the store keeps.
struct Token {
    credential: String,
    hash: String,
}

pub(super) fn sha256_hex(secret: &str) -> String {
    use std::fmt::Write;
    let digest = digest(&SHA256, secret.as_bytes());
    digest.as_ref().iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

fn new_token(username: &str) -> Token {
    let secret = random_token(32);
    // The token is the complete Basic credential, so `Authorization: Basic <token>` works as is.
    Token {
        credential: STANDARD.encode(format!("{username}:{secret}")),
        hash: sha256_hex(&secret),
    }
}

fn missing(field: &'static str) -> Error {
    Error::Missing(field)
}

fn invalid(field: &'static str) -> Error {
    Error::Invalid(FieldError::new(field, "has an invalid value"))
}

/// 1–30 characters, none of `< > [ ]`, no control characters.
fn check_name(field: &'static str, value: &str) -> Result<()> {
    let len = value.chars().count();
    let clean = value
        .chars()
        .all(|c| !"<>[]".contains(c) && !c.is_control());
    if (1..=NAME_MAX).contains(&len) && clean && !value.trim().is_empty() {
        Ok(())
    } else {
        Err(invalid(field))
    }
}

fn check_admin_email(value: &str) -> Result<()> {
    if value.chars().count() > ADMIN_EMAIL_MAX || Email::parse(value).is_err() {
        return Err(invalid("email"));
    }
    Ok(())
}

impl Accounts {
    /// Basic authentication: the account's API token secret, else its password. A failure
    /// costs one Argon2 verification whatever the reason.
    pub async fn check_basic_credential(
        &self,
        username: &str,
        secret: &str,
        actor: &Actor,
    ) -> Result<Caller> {
        let account = match self.account_by_username(username).await {
            Ok(account) => Some(account),
            Err(Error::NotFound) => None,
            Err(e) => return Err(e),
        };
        let hash = account.as_ref().and_then(|a| a.password_hash.as_deref());
        let verify = || async {
            let Some(account) = &account else {
                // Costs what a real check costs, so that an unknown name does not show.
                self.hasher.verify(secret, None).await?;
                return Ok(None);
            };
            let token = self
                .store
                .api_token_matches(account.id, &sha256_hex(secret))
                .await?;
            if token {
                return Ok(Some(Proof::Token));
            }
            if account.kind == AccountKind::Ad {
                return self.directory_proof(account, secret).await;
            }
            Ok(match self.hasher.verify(secret, hash).await? {
                Verified::Yes { .. } => Some(Proof::Password),
                Verified::No => None,
            })
        };
        let proof = self
            .guarded(
                Check::Basic,
                account.as_ref(),
                username,
                secret,
                actor,
                verify,
            )
            .await?;
        let account = account.ok_or(Error::BadCredentials)?;
        let via = match proof {
            Proof::Token => Via::Token,
            Proof::Password => Via::Password,
        };
        Ok(Caller { account, via })
    }

    /// The account of a valid session token, as a `userapi.do` caller (the admin console):
    /// `Unauthorized` for a missing, expired or revoked session. Rights are checked by each
    /// action, as for every other caller.
    pub async fn session_caller(&self, token: &str) -> Result<Caller> {
        let ctx = self.session_for_token(token).await?;
        let account = self.session_account(&ctx).await?;
        Ok(Caller {
            account,
            via: Via::Session,
        })
    }

    /// The configured admin key acts as the default administrator.
    pub async fn check_admin_key(&self, key: &str, actor: &Actor) -> Result<Caller> {
        let admin = match self.account_by_username(super::manage::DEFAULT_ADMIN).await {
            Ok(account) => Some(account),
            Err(Error::NotFound) => None,
            Err(e) => return Err(e),
        };
        // Comparing digests keeps the comparison's time independent of the key's content.
        let verify = || async {
            let matches = self
                .settings
                .admin_key
                .as_deref()
                .is_some_and(|k| sha256_hex(key) == sha256_hex(k));
            Ok(matches.then_some(Proof::Password))
        };
        // One counter for the key, whoever it acts as.
        self.guarded(Check::AdminKey, None, "x-authorization", key, actor, verify)
            .await?;
        Ok(Caller {
            account: admin.ok_or(Error::BadCredentials)?,
            via: Via::AdminKey,
        })
    }

    /// `createUser` for one item: the admin dialect's rules, then the shared ones; returns
    /// the account and its first API token.
    pub async fn admin_create_user(
        &self,
        _: &Admin,
        input: AdminUserInput,
        actor: &Actor,
    ) -> Result<(Account, String)> {
        let username = input.username.ok_or(missing("username"))?;
        let kind = match input.kind.as_deref() {
            None => Some(AccountKind::Local),
            Some(k) => AccountKind::parse(k),
        };
        let local = kind != Some(AccountKind::Ad);
        if local {
            if input.password.is_none() {
                return Err(missing("password"));
            }
            if input.firstname.is_none() {
                return Err(missing("firstname"));
            }
            if input.lastname.is_none() {
                return Err(missing("lastname"));
            }
        }
        let address = input.email.ok_or(missing("email"))?;
        crate::domain::Username::parse(&username).map_err(|_| invalid("username"))?;
        let kind = kind.ok_or(invalid("type"))?;
        let mut profile = ProfileInput::default();
        if kind == AccountKind::Local {
            let (first, last) = (
                input.firstname.unwrap_or_default(),
                input.lastname.unwrap_or_default(),
            );
            check_name("firstname", &first)?;
            check_name("lastname", &last)?;
            profile.texts = vec![(TextField::Firstname, first), (TextField::Surname, last)];
        }
        check_admin_email(&address)?;
        let role = match input.role.as_deref() {
            None => Role::Normal,
            Some(r) => Role::parse(r).ok_or(invalid("role"))?,
        };
        let locale = Some(self.locale(input.locale.as_deref())?);
        let token = new_token(&username);
        let user = NewUser {
            username,
            email: address,
            password: input.password.filter(|_| kind == AccountKind::Local),
            kind,
            role,
            locale,
            profile,
        };
        let account = self
            .create_user_with_token(user, Some(token.hash), actor)
            .await?;
        Ok((account, token.credential))
    }

    /// `updateUser`: a new email and/or locale (`None`: unchanged). The names are fixed
    /// at creation: naming them at all is refused.
    pub async fn admin_update_user(
        &self,
        _: &Admin,
        update: AdminUserUpdate<'_>,
        actor: &Actor,
    ) -> Result<Account> {
        let AdminUserUpdate {
            username,
            names_given,
            email: address,
            locale,
        } = update;
        crate::domain::Username::parse(username).map_err(|_| invalid("username"))?;
        if let Some(field) = names_given {
            return Err(invalid(field));
        }
        if let Some(address) = address {
            check_admin_email(address)?;
        }
        let locale = locale.map(|l| self.locale(Some(l))).transpose()?;
        let account = self.account_by_username(username).await?;
        let email = match address {
            Some(a) if a != account.email => Some(Email::parse(a).map_err(|_| invalid("email"))?),
            _ => None,
        };
        let patch = AccountPatch {
            email,
            locale,
            ..AccountPatch::default()
        };
        self.apply_patch(&account, &patch, None, actor).await?;
        Ok(account)
    }

    /// `changePassword`: a new password and a new API token; every session and the old
    /// tokens of the account are revoked.
    pub async fn admin_change_password(
        &self,
        grant: &PasswordGrant,
        username: &str,
        password: &str,
        actor: &Actor,
    ) -> Result<(Account, String)> {
        crate::domain::Username::parse(username).map_err(|_| invalid("username"))?;
        let account = self.account_by_username(username).await?;
        grant.check(&account)?;
        let token = new_token(&account.username);
        self.replace_password(&account, password, None, Some(&token.hash), actor)
            .await?;
        Ok((account, token.credential))
    }
}
