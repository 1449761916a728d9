//! `roster import`: accounts moved in bulk from another server, with their password hashes
//! (Argon2, bcrypt, Django PBKDF2-SHA256) or plain passwords.

use super::manage::NewUser;
use super::permissions::Admin;
use super::{now, Accounts, Error, Result};
use crate::auth::legacy;
use crate::domain::{Actor, FieldError, NewAccount, Username};
use crate::store::{Imported, OnConflict};

/// One account of an import file, before validation.
#[derive(Debug, Clone)]
pub struct ImportUser {
    /// The account; `user.password` is the plain password, if that is what was given.
    pub user: NewUser,
    /// Another server's hash of the password, in place of `user.password`.
    pub password_hash: Option<String>,
}

impl Accounts {
    /// Checks one imported account by the rules of `roster user add`: a plain password must
    /// satisfy the policy and is hashed here; a given hash must be of a known scheme and
    /// is stored as it is (an Argon2 one marked as foreign, see [`legacy`]).
    pub async fn prepare_import(&self, _: &Admin, import: &ImportUser) -> Result<NewAccount> {
        let username = Username::parse(&import.user.username)
            .map_err(|_| invalid("username", "is not a valid user name"))?;
        let hash = match (&import.user.password, &import.password_hash) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "password_hash",
                    "cannot be given together with password",
                ))
            }
            (None, None) => return Err(Error::Missing("password")),
            (Some(_), None) => None,
            (None, Some(hash)) => {
                let stored = legacy::import(hash).map_err(|problem| {
                    Error::Invalid(FieldError::new("password_hash", problem_of(problem)))
                })?;
                Some(if self.hasher.is_own_form(hash) {
                    hash.clone()
                } else {
                    stored
                })
            }
        };
        self.validate_new(&import.user, username, hash).await
    }

    /// Stores a batch of checked accounts in one transaction; one outcome each, in order.
    pub async fn import_batch(
        &self,
        _: &Admin,
        batch: &[NewAccount],
        on_conflict: OnConflict,
        actor: &Actor,
    ) -> Result<Vec<Imported>> {
        Ok(self
            .store
            .import_accounts(batch, on_conflict, now(), actor)
            .await?)
    }

    /// For each email key, the user name key of the account that holds it, if any.
    pub async fn email_owners(
        &self,
        _: &Admin,
        email_keys: &[String],
    ) -> Result<Vec<(String, String)>> {
        Ok(self.store.email_owners(email_keys).await?)
    }
}

fn invalid(field: &'static str, problem: &'static str) -> Error {
    Error::Invalid(FieldError::new(field, problem))
}

/// The problem of a refused hash, as the fragment after the field name.
fn problem_of(message: &'static str) -> &'static str {
    message.strip_prefix("password_hash ").unwrap_or(message)
}
