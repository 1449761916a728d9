//! Search-then-bind against an LDAP directory (`ldap3`, rustls with ring).
//!
//! Searches run on a small pool of service connections (bound as `--ldap-bind-dn`, or
//! anonymous); each user's bind runs on a connection of its own that is closed right after,
//! so no pooled connection ever carries a user's identity and no password outlives its check.

use std::sync::Mutex;

use ldap3::{
    ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry, SearchOptions,
};
use tokio::sync::Semaphore;

use super::settings::{DirectorySettings, USERNAME};
use super::{Directory, Unavailable};

/// Service connections kept open (and searches in flight) at most.
const POOL_SIZE: usize = 4;
/// User binds (each on a connection of its own) in flight at most, so that a burst of
/// log-ons cannot open an unbounded number of connections to the directory.
const BINDS_IN_FLIGHT: usize = 16;

/// LDAP result codes this module tells apart (RFC 4511).
const SUCCESS: u32 = 0;
const SIZE_LIMIT_EXCEEDED: u32 = 4;
const NO_SUCH_OBJECT: u32 = 32;

/// An LDAP directory reached by URL; see the module documentation.
pub struct LdapDirectory {
    settings: DirectorySettings,
    idle: Mutex<Vec<Ldap>>,
    slots: Semaphore,
    binds: Semaphore,
}

fn unavailable(what: &str) -> impl Fn(ldap3::LdapError) -> Unavailable + '_ {
    move |e| Unavailable(format!("{what}: {e}"))
}

impl LdapDirectory {
    /// A directory client; nothing is connected until the first check.
    pub fn new(settings: DirectorySettings) -> LdapDirectory {
        LdapDirectory {
            settings,
            idle: Mutex::default(),
            slots: Semaphore::new(POOL_SIZE),
            binds: Semaphore::new(BINDS_IN_FLIGHT),
        }
    }

    /// A new connection (TLS as configured), not yet bound.
    async fn connect(&self) -> Result<Ldap, Unavailable> {
        let options = LdapConnSettings::new()
            .set_conn_timeout(self.settings.timeout)
            .set_starttls(self.settings.starttls)
            .set_config(self.settings.tls.clone());
        let (conn, ldap) = LdapConnAsync::from_url_with_settings(options, &self.settings.url)
            .await
            .map_err(unavailable("connect"))?;
        ldap3::drive!(conn);
        Ok(ldap)
    }

    /// A new connection bound as the service account (or left anonymous).
    async fn service_connection(&self) -> Result<Ldap, Unavailable> {
        let mut ldap = self.connect().await?;
        if let Some((dn, password)) = &self.settings.service {
            let result = ldap
                .with_timeout(self.settings.timeout)
                .simple_bind(dn, password)
                .await
                .map_err(unavailable("service bind"))?;
            if result.rc != SUCCESS {
                return Err(Unavailable(format!(
                    "the directory refused the service account (result code {})",
                    result.rc
                )));
            }
        }
        Ok(ldap)
    }

    /// Runs `op` on a pooled service connection; a pooled connection that has gone stale
    /// (the directory restarted) is replaced by a fresh one once.
    async fn with_service<T, F, Fut>(&self, op: F) -> Result<T, Unavailable>
    where
        F: Fn(Ldap) -> Fut,
        Fut: std::future::Future<Output = Result<(T, Ldap), ldap3::LdapError>>,
    {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| Unavailable("pool closed".into()))?;
        let pooled = self.take_idle();
        let fresh = pooled.is_none();
        let ldap = match pooled {
            Some(ldap) => ldap,
            None => self.service_connection().await?,
        };
        let outcome = match op(ldap.clone()).await {
            Err(_) if !fresh => op(self.replace(ldap).await?).await,
            other => other,
        };
        let (value, ldap) = outcome.map_err(unavailable("search"))?;
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(ldap);
        Ok(value)
    }

    async fn replace(&self, mut stale: Ldap) -> Result<Ldap, Unavailable> {
        let _ = stale.unbind().await;
        self.service_connection().await
    }

    fn take_idle(&self) -> Option<Ldap> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while let Some(mut ldap) = idle.pop() {
            if !ldap.is_closed() {
                return Some(ldap);
            }
        }
        None
    }

    /// The DN of the one entry the user filter finds for `username`; `None` for none or
    /// several. The name is escaped (RFC 4515), so `*`, `(`, `)`, `\` and NUL match
    /// themselves and cannot widen the filter.
    async fn find_dn(&self, username: &str) -> Result<Option<String>, Unavailable> {
        let filter = self
            .settings
            .user_filter
            .replace(USERNAME, &ldap_escape(username));
        let timeout = self.settings.timeout;
        let base = self.settings.base_dn.as_str();
        let filter = filter.as_str();
        let found = self
            .with_service(|mut ldap| async move {
                let result = ldap
                    .with_timeout(timeout)
                    .with_search_options(SearchOptions::new().sizelimit(2))
                    .search(base, Scope::Subtree, filter, vec!["1.1"])
                    .await?;
                Ok((result, ldap))
            })
            .await?;
        let ldap3::SearchResult(entries, result) = found;
        match result.rc {
            SUCCESS | SIZE_LIMIT_EXCEEDED => {}
            NO_SUCH_OBJECT => return Ok(None),
            rc => return Err(Unavailable(format!("search failed (result code {rc})"))),
        }
        // Continuation references (Active Directory returns some) are not entries.
        let mut dns = entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .map(|e| SearchEntry::construct(e).dn);
        Ok(match (dns.next(), dns.next()) {
            (Some(dn), None) if !dn.is_empty() => Some(dn),
            _ => None,
        })
    }

    /// A simple bind as `dn` on a connection of its own, closed right after.
    async fn bind_as(&self, dn: &str, password: &str) -> Result<bool, Unavailable> {
        let _slot = self
            .binds
            .acquire()
            .await
            .map_err(|_| Unavailable("pool closed".into()))?;
        let mut ldap = self.connect().await?;
        let result = ldap
            .with_timeout(self.settings.timeout)
            .simple_bind(dn, password)
            .await
            .map_err(unavailable("bind"));
        let _ = ldap.unbind().await;
        // Any refusal (invalid credentials, a locked or expired account) is a wrong password.
        Ok(result?.rc == SUCCESS)
    }

    async fn check_in_time(&self, username: &str, password: &str) -> Result<bool, Unavailable> {
        let Some(dn) = self.find_dn(username).await? else {
            return Ok(false);
        };
        self.bind_as(&dn, password).await
    }
}

#[async_trait::async_trait]
impl Directory for LdapDirectory {
    async fn check(&self, username: &str, password: &str) -> Result<bool, Unavailable> {
        // An empty password would make a simple bind "unauthenticated" (RFC 4513 5.1.2),
        // which some servers answer with success: refused before anything is sent.
        if password.is_empty() || username.is_empty() {
            return Ok(false);
        }
        tokio::time::timeout(
            self.settings.timeout,
            self.check_in_time(username, password),
        )
        .await
        .map_err(|_| Unavailable("no answer within the time limit".into()))?
    }

    async fn probe(&self) -> Result<(), Unavailable> {
        let timeout = self.settings.timeout;
        let base = self.settings.base_dn.as_str();
        let probe = self.with_service(|mut ldap| async move {
            let result = ldap
                .with_timeout(timeout)
                .search(base, Scope::Base, "(objectClass=*)", vec!["1.1"])
                .await?
                .success()?;
            Ok((result, ldap))
        });
        tokio::time::timeout(timeout, probe)
            .await
            .map_err(|_| Unavailable("no answer within the time limit".into()))??;
        Ok(())
    }
}
