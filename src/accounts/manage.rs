//! Creating, listing and deleting accounts: the CLI, `userapi.do`, self-registration and
//! the first start's default administrator all come through here.

use super::permissions::{Admin, UserView};
use super::{now, Accounts, Error, Result};
use crate::domain::profile::{check_text, Profile};
use crate::domain::{
    Account, AccountKind, Actor, Dialect, Email, FieldError, NewAccount, ProfileInput, Role,
    UniqueField, Username,
};

/// The user name of the default administrator, which cannot be deleted.
pub const DEFAULT_ADMIN: &str = "admin";

/// The `secrets` entry holding the hash of a generated default administrator password.
const ADMIN_GENERATED: &str = "admin-password-generated";
/// The `secrets` entry written once that password has been shown to the operator.
const ADMIN_SHOWN: &str = "admin-password-shown";

/// An account to create, before validation.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Requested user name.
    pub username: String,
    /// Login email.
    pub email: String,
    /// Password (local accounts).
    pub password: Option<String>,
    /// Local or directory.
    pub kind: AccountKind,
    /// Admin or normal.
    pub role: Role,
    /// A configured locale; the default when absent.
    pub locale: Option<String>,
    /// Initial profile fields (`""` means absent).
    pub profile: ProfileInput,
}

impl NewUser {
    /// A local account with just the essentials.
    pub fn local(username: &str, email: &str, password: &str, role: Role) -> NewUser {
        NewUser {
            username: username.into(),
            email: email.into(),
            password: Some(password.into()),
            kind: AccountKind::Local,
            role,
            locale: None,
            profile: ProfileInput::default(),
        }
    }
}

impl Accounts {
    /// Validates and stores a new account.
    pub async fn create_user(&self, user: NewUser, actor: &Actor) -> Result<Account> {
        self.create_user_with_token(user, None, actor).await
    }

    /// Validates and stores a new account with a first API token (its SHA-256 hex).
    pub(crate) async fn create_user_with_token(
        &self,
        user: NewUser,
        api_token_hash: Option<String>,
        actor: &Actor,
    ) -> Result<Account> {
        let username = Username::parse(&user.username)
            .map_err(|_| invalid("username", "is not a valid user name"))?;
        let mut new = self.validate_new(&user, username, None).await?;
        new.api_token_hash = api_token_hash;
        Ok(self.store.create_account(&new, now(), actor).await?)
    }

    /// Checks a new account; `given_hash` (already checked and in its stored form) stands
    /// in for the password when present.
    pub(super) async fn validate_new(
        &self,
        user: &NewUser,
        username: Username,
        given_hash: Option<String>,
    ) -> Result<NewAccount> {
        let email = Email::parse(&user.email)
            .map_err(|_| invalid("email", "is not a valid email address"))?;
        let locale = self.locale(user.locale.as_deref())?;
        let mut profile = Profile::default();
        for (field, value) in &user.profile.texts {
            check_text(field.name(), value).map_err(Error::Invalid)?;
            profile.set(*field, (!value.is_empty()).then(|| value.clone()));
        }
        profile.use_jess = user.profile.use_jess.unwrap_or(false);
        let password_hash = match (user.kind, &user.password) {
            (AccountKind::Ad, _) => None,
            (AccountKind::Local, None) if given_hash.is_some() => given_hash,
            (AccountKind::Local, None) => return Err(invalid("password", "is required")),
            (AccountKind::Local, Some(password)) => {
                self.check_new_password(password, username.as_str()).await?;
                Some(self.hasher.hash(password).await?)
            }
        };
        Ok(NewAccount {
            username,
            email,
            password_hash,
            kind: user.kind,
            role: user.role,
            locale,
            profile,
            api_token_hash: None,
        })
    }

    /// A configured locale, or the default.
    pub fn locale(&self, requested: Option<&str>) -> Result<String> {
        let locales = &self.settings.locales;
        match requested {
            None => Ok(locales[0].clone()),
            Some(l) => locales
                .iter()
                .find(|known| known.eq_ignore_ascii_case(l))
                .cloned()
                .ok_or_else(|| invalid("locale", "is not a supported locale")),
        }
    }

    /// Self-registration: a normal account whose user name comes from the email.
    pub async fn register(&self, mut user: NewUser, actor: &Actor) -> Result<Account> {
        let local = user
            .email
            .rsplit_once('@')
            .map(|(l, _)| l.to_owned())
            .unwrap_or_default();
        Username::from_email_local(&local, None)
            .as_str()
            .clone_into(&mut user.username);
        user.role = Role::Normal;
        user.kind = AccountKind::Local;
        let mut new = self
            .validate_new(&user, Username::from_email_local(&local, None), None)
            .await?;
        // The first free name among `local`, `local2`, `local3`, ...
        for n in 2..=1000u32 {
            match self.store.create_account(&new, now(), actor).await {
                Err(crate::store::StoreError::Conflict(UniqueField::Username)) => {
                    new.username = Username::from_email_local(&local, Some(n));
                }
                other => return Ok(other?),
            }
        }
        Err(Error::Internal(super::Fault::NoFreeUsername))
    }

    /// Creates the default administrator when the store has no account yet; returns the
    /// generated password when none was given. A generated password's hash is recorded
    /// first (`admin-password-generated`), so that a start which dies before showing it
    /// leaves a trace [`Accounts::admin_password_unseen`] finds.
    pub async fn ensure_default_admin(
        &self,
        email: &str,
        password: Option<String>,
    ) -> Result<Option<String>> {
        if self.store.count_accounts().await? > 0 {
            return Ok(None);
        }
        let generated = password.is_none();
        let password = password.unwrap_or_else(generate_password);
        let user = NewUser::local(DEFAULT_ADMIN, email, &password, Role::Admin);
        let username = Username::parse(DEFAULT_ADMIN).map_err(|_| invalid("username", "bad"))?;
        let new = self.validate_new(&user, username, None).await?;
        if let (true, Some(hash)) = (generated, &new.password_hash) {
            self.store.secret(ADMIN_GENERATED, hash.as_bytes()).await?;
        }
        let actor = Actor::anonymous(Dialect::System, None);
        match self.store.create_account(&new, now(), &actor).await {
            // Another instance created it first.
            Err(crate::store::StoreError::Conflict(_)) => Ok(None),
            Err(e) => Err(e.into()),
            Ok(_) => Ok(generated.then_some(password)),
        }
    }

    /// Records that the generated password of the default administrator has been shown.
    pub async fn admin_password_shown(&self) -> Result<()> {
        if let Some(hash) = self.store.secret_if_any(ADMIN_GENERATED).await? {
            self.store.secret(ADMIN_SHOWN, &hash).await?;
        }
        Ok(())
    }

    /// Whether the default administrator still has the password a first start generated and
    /// never showed (that start failed or died before printing it): nobody can log on as it.
    pub async fn admin_password_unseen(&self) -> Result<bool> {
        let Some(generated) = self.store.secret_if_any(ADMIN_GENERATED).await? else {
            return Ok(false);
        };
        if self.store.secret_if_any(ADMIN_SHOWN).await?.is_some() {
            return Ok(false);
        }
        let admin = match self.account_by_username(DEFAULT_ADMIN).await {
            Err(Error::NotFound) => return Ok(false),
            other => other?,
        };
        // Any other hash: a password was set since (`roster user set-password admin`).
        Ok(admin.password_hash.as_deref().map(str::as_bytes) == Some(&generated[..]))
    }

    /// Deletes an account with its sessions; the default administrator stays.
    pub async fn delete_user(&self, _: &Admin, username: &str, actor: &Actor) -> Result<Account> {
        Username::parse(username).map_err(|_| invalid("username", "has an invalid value"))?;
        let account = self.account_by_username(username).await?;
        if account.username.eq_ignore_ascii_case(DEFAULT_ADMIN) {
            return Err(Error::DefaultAdmin);
        }
        self.store.delete_account(account.id, now(), actor).await?;
        Ok(account)
    }

    /// One page of accounts ordered by user name, and the total count.
    pub async fn list_users(
        &self,
        _: &Admin,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Account>, i64)> {
        Ok(self.store.list_accounts(offset, limit).await?)
    }

    /// `getUsers`: one page of what `view` may see, and how many there are in all (one
    /// named account is a page of itself at offset 0, and counts 1).
    pub async fn users(
        &self,
        view: &UserView,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Account>, i64)> {
        let name = match view {
            UserView::All(admin) => return self.list_users(admin, offset, limit).await,
            UserView::One(name) => name,
        };
        Username::parse(name).map_err(|_| invalid("username", "has an invalid value"))?;
        let account = self.account_by_username(name).await?;
        let page = if offset == 0 {
            vec![account]
        } else {
            Vec::new()
        };
        Ok((page, 1))
    }
}

fn invalid(field: &'static str, problem: &'static str) -> Error {
    Error::Invalid(FieldError::new(field, problem))
}

/// A random password that satisfies both policies.
fn generate_password() -> String {
    format!("{}-Aa1", crate::auth::random_token(18))
}
