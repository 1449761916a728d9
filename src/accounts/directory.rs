//! Directory log-on: the password of a `type: ad` account is checked by an LDAP bind,
//! inside the throttled, audited credential checks of both dialects.

use super::throttle::Proof;
use super::{Accounts, Result};
use crate::directory::DirectoryHandle;
use crate::domain::Account;

impl Accounts {
    /// The same service, checking `type: ad` passwords against `directory`.
    pub fn with_directory(mut self, directory: DirectoryHandle) -> Accounts {
        self.configure().directory = Some(directory);
        self
    }

    /// The directory, when one is configured (health reporting).
    pub fn directory(&self) -> Option<&DirectoryHandle> {
        self.directory.as_ref()
    }

    /// Whether the directory accepts `password` for the `ad` account. The dummy Argon2
    /// verification runs alongside, so that a directory user's failure takes no less time
    /// than an unknown user's (it can take longer: the directory's own delay adds). A
    /// directory that is off, down or slow is a failure like a wrong password: the same
    /// reply as any failed log-on, so that an outage does not reveal which accounts are
    /// directory accounts; the cause is logged without the password.
    pub(crate) async fn directory_proof(
        &self,
        account: &Account,
        password: &str,
    ) -> Result<Option<Proof>> {
        let bind = async {
            let Some(directory) = &self.directory else {
                tracing::warn!(
                    user.id = account.id,
                    "directory log-on refused: no --ldap-url"
                );
                return false;
            };
            match directory.check(&account.username, password).await {
                Ok(bound) => bound,
                Err(e) => {
                    tracing::warn!(user.id = account.id, cause = %e, "directory log-on failed");
                    false
                }
            }
        };
        let (dummy, bound) = tokio::join!(self.hasher.verify(password, None), bind);
        dummy?;
        Ok(bound.then_some(Proof::Password))
    }
}
