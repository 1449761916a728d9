//! Who may do what. Every admin use-case takes a value that only a successful check here
//! produces, so a new caller (a dialect, the CLI, a test) cannot forget the check; the
//! HTTP layer never decides who may do what.

use super::{Accounts, Caller, Error, Result, Via};
use crate::domain::Account;

/// Proof that the holder may administer accounts: create, update, re-password and delete
/// any account, list them all, read the audit trail. Made only by [`Accounts::admin`] (an
/// administrator's call) and [`Accounts::operator`] (the CLI).
#[derive(Debug)]
pub struct Admin(());

/// Whose password a caller may change: any account's (an administrator), or only their
/// own (a user who proved the current password).
#[derive(Debug)]
pub struct PasswordGrant(Option<i64>);

/// Which accounts a caller may read with `getUsers`.
#[derive(Debug)]
pub enum UserView {
    /// Every account, a page at a time (an administrator who named no one).
    All(Admin),
    /// The one account of this name.
    One(String),
}

impl Accounts {
    /// Administration rights for `caller`; `Forbidden` unless it is an administrator.
    pub fn admin(&self, caller: &Caller) -> Result<Admin> {
        if caller.is_admin() {
            Ok(Admin(()))
        } else {
            Err(Error::Forbidden)
        }
    }

    /// Administration rights for the operator of the CLI: whoever can open the database
    /// may administer its accounts.
    pub fn operator(&self) -> Admin {
        Admin(())
    }

    /// Whose password `caller` may change, given the user name the request names.
    pub fn password_grant(&self, caller: &Caller, named: Option<&str>) -> Result<PasswordGrant> {
        if caller.is_admin() {
            return Ok(PasswordGrant(None));
        }
        // A user may change only their own password, and only by proving the current one
        // (a token is not the password).
        match named {
            Some(name) if caller.via == Via::Password && caller.is(name) => {
                Ok(PasswordGrant(Some(caller.account.id)))
            }
            _ => Err(Error::Forbidden),
        }
    }

    /// What `caller` may read, given the user name the request names: an administrator
    /// anyone, a user only themselves.
    pub fn user_view(&self, caller: &Caller, named: Option<&str>) -> Result<UserView> {
        match (self.admin(caller), named) {
            (Ok(admin), None) => Ok(UserView::All(admin)),
            (Ok(_), Some(name)) => Ok(UserView::One(name.to_owned())),
            (Err(_), None) => Ok(UserView::One(caller.account.username.clone())),
            (Err(_), Some(name)) if caller.is(name) => Ok(UserView::One(name.to_owned())),
            (Err(e), Some(_)) => Err(e),
        }
    }
}

impl PasswordGrant {
    /// `Forbidden` unless the grant covers `account`.
    pub(super) fn check(&self, account: &Account) -> Result<()> {
        match self.0 {
            Some(own) if own != account.id => Err(Error::Forbidden),
            _ => Ok(()),
        }
    }
}
