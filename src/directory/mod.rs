//! Directory log-on for `type: ad` accounts: a password is checked by an LDAP bind against
//! the configured directory (`OpenLDAP`, Active Directory), never stored or cached here.

mod ldap;
mod settings;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::Arc;

pub use ldap::LdapDirectory;
pub use settings::DirectorySettings;

/// Why a directory could not answer (down, slow, refused the service account, bad TLS).
/// The text names the cause for the log; it never holds a password.
#[derive(Debug, Clone, thiserror::Error)]
#[error("directory unavailable: {0}")]
pub struct Unavailable(pub String);

/// A directory that checks a user's password.
#[async_trait::async_trait]
pub trait Directory: Send + Sync {
    /// Whether `password` is the password of the one directory entry named `username`.
    /// `Ok(false)` for a wrong or empty password and for no (or several) matching entries.
    async fn check(&self, username: &str, password: &str) -> Result<bool, Unavailable>;

    /// A cheap round trip with the service account, for health reporting.
    async fn probe(&self) -> Result<(), Unavailable>;
}

/// What health reporting says about the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryState {
    /// No contact yet.
    Unknown,
    /// The last contact succeeded.
    Up,
    /// The last contact failed.
    Down,
}

impl DirectoryState {
    /// `up`, `down` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            DirectoryState::Unknown => "unknown",
            DirectoryState::Up => "up",
            DirectoryState::Down => "down",
        }
    }
}

/// Seconds between the background probes that health reporting may start.
const PROBE_EVERY: i64 = 10;

/// The directory the account service holds, with the state of its last contact.
#[derive(Clone)]
pub struct DirectoryHandle {
    inner: Arc<dyn Directory>,
    state: Arc<Tracked>,
}

#[derive(Default)]
struct Tracked {
    state: AtomicU8,
    last_contact: AtomicI64,
    probing: AtomicBool,
}

impl DirectoryHandle {
    /// Wraps a directory.
    pub fn new(inner: Arc<dyn Directory>) -> DirectoryHandle {
        DirectoryHandle {
            inner,
            state: Arc::default(),
        }
    }

    /// Checks a password (see [`Directory::check`]) and remembers whether the directory answered.
    pub async fn check(&self, username: &str, password: &str) -> Result<bool, Unavailable> {
        let result = self.inner.check(username, password).await;
        if !password.is_empty() {
            // An empty password is refused without contact: it says nothing about the state.
            self.record(result.is_ok());
        }
        result
    }

    /// The state of the last contact, without waiting for the directory: a probe starts in
    /// the background when the last contact is older than a few seconds, so a slow
    /// directory never slows down (or fails) the health check that asks.
    pub fn state(&self) -> DirectoryState {
        let age = crate::accounts::now() - self.state.last_contact.load(Ordering::Relaxed);
        if age >= PROBE_EVERY && !self.state.probing.swap(true, Ordering::AcqRel) {
            let this = self.clone();
            tokio::spawn(async move {
                let up = this.inner.probe().await.is_ok();
                this.record(up);
                this.state.probing.store(false, Ordering::Release);
            });
        }
        match self.state.state.load(Ordering::Relaxed) {
            1 => DirectoryState::Up,
            2 => DirectoryState::Down,
            _ => DirectoryState::Unknown,
        }
    }

    fn record(&self, up: bool) {
        self.state
            .state
            .store(if up { 1 } else { 2 }, Ordering::Relaxed);
        self.state
            .last_contact
            .store(crate::accounts::now(), Ordering::Relaxed);
    }
}

/// The account service with the configured directory attached (unchanged when
/// `--ldap-url` is not given).
pub fn attach(
    accounts: crate::accounts::Accounts,
    args: &crate::config::DirectoryArgs,
) -> Result<crate::accounts::Accounts, String> {
    Ok(match DirectorySettings::from_args(args)? {
        Some(settings) => {
            let directory = LdapDirectory::new(settings);
            accounts.with_directory(DirectoryHandle::new(Arc::new(directory)))
        }
        None => accounts,
    })
}
