//! Building the application from configuration: store, keys, router, listener; serving it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::accounts::{Accounts, Settings};
use crate::auth::{pepper, Hasher};
use crate::config::{Config, RulesArgs, StoreArgs};
use crate::http::{self, AppState, Limits};
use crate::store::Store;

/// A built server: listener bound, store migrated, default administrator in place.
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    accounts: Accounts,
    generated_admin_password: Option<String>,
    audit_retention_days: u32,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    files: crate::accounts::Files,
}

/// Token lifetimes for [`open_accounts`]; the CLI uses the defaults.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Seconds one token lives.
    pub token_ttl: u64,
    /// Seconds a session lives from log on.
    pub session_max_age: u64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            token_ttl: 28800,
            session_max_age: 43200,
        }
    }
}

/// How a command may use the store it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// `roster serve`: creates a missing database; records the pepper's fingerprint in a
    /// store that has none (a new one, or one from before fingerprints).
    Server,
    /// The admin commands: the database must exist; the fingerprint is checked, never
    /// recorded (the server's configuration, not a one-off command's, is the reference).
    Admin,
}

/// The `secrets` entry that holds the pepper's fingerprint.
const PEPPER_FINGERPRINT: &str = "password-pepper-fingerprint";

/// Opens and migrates the store, checks the pepper, then loads the account service over it.
pub async fn open_accounts(
    store: &StoreArgs,
    rules: &RulesArgs,
    lifetimes: Lifetimes,
    admin_key: Option<String>,
    opening: Opening,
) -> Result<Accounts, String> {
    rules.validate()?;
    let pepper = rules.pepper()?;
    let backend = match opening {
        Opening::Server => {
            let wait = std::time::Duration::from_secs(store.database_wait);
            crate::store::open_waiting(&store.database_url, wait).await?
        }
        Opening::Admin => crate::store::open_existing(&store.database_url).await?,
    };
    backend
        .migrate()
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    check_pepper(backend.as_ref(), pepper.clone(), opening).await?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let hasher = Hasher::new(
        rules.argon2_memory_kib,
        rules.argon2_iterations,
        rules.argon2_lanes,
        pepper,
        rules.hash_concurrency.unwrap_or(cores),
    )
    .map_err(|e| e.to_string())?;
    let settings = Settings {
        policy: rules.password_policy.into(),
        token_ttl: lifetimes.token_ttl as i64,
        session_max_age: lifetimes.session_max_age as i64,
        locales: rules
            .locales
            .iter()
            .map(|l| l.trim().to_ascii_lowercase())
            .collect(),
        admin_key,
    };
    Accounts::new(backend, hasher, settings)
        .await
        .map_err(|e| e.to_string())
}

/// Refuses a pepper other than the one the store's hashes were made with: with the wrong
/// one every password check fails, and every hash made would be useless with the right one.
async fn check_pepper(
    store: &dyn Store,
    pepper: Option<Vec<u8>>,
    opening: Opening,
) -> Result<(), String> {
    let failed = |e: crate::store::StoreError| format!("cannot read the pepper fingerprint: {e}");
    let stored = match store
        .secret_if_any(PEPPER_FINGERPRINT)
        .await
        .map_err(failed)?
    {
        Some(stored) => stored,
        None if opening == Opening::Admin => {
            tracing::warn!(
                "no pepper fingerprint in this database yet (recorded at the next \
                 `roster serve`): the pepper is not checked"
            );
            return Ok(());
        }
        None => {
            let existing = store.count_accounts().await.map_err(failed)? > 0;
            let print = blocking(pepper.clone(), |p| pepper::fingerprint(p.as_deref())).await?;
            let stored = store
                .secret(PEPPER_FINGERPRINT, print.as_bytes())
                .await
                .map_err(failed)?;
            if existing {
                tracing::warn!(
                    pepper = if pepper.is_some() { "set" } else { "none" },
                    "this database had no pepper fingerprint: adopted the current pepper's"
                );
            }
            stored
        }
    };
    let stored = String::from_utf8_lossy(&stored).into_owned();
    blocking(pepper, move |p| pepper::check(&stored, p.as_deref()))
        .await?
        .map_err(|mismatch| mismatch.to_string())
}

/// Runs an Argon2 computation off the async reactor.
async fn blocking<T: Send + 'static>(
    pepper: Option<Vec<u8>>,
    f: impl FnOnce(Option<Vec<u8>>) -> T + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(move || f(pepper))
        .await
        .map_err(|e| e.to_string())
}

impl App {
    /// Checks every setting, loads the TLS files and binds the listener, and only then opens
    /// (creating it at first start) the store and the default administrator: a start that
    /// fails on a setting or a taken port leaves nothing behind.
    pub async fn build(config: Config) -> Result<App, String> {
        config.validate()?;
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(crate::server::tls_config(cert, key)?),
            _ => None,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let lifetimes = Lifetimes {
            token_ttl: config.token_ttl,
            session_max_age: config.session_max_age,
        };
        let accounts = open_accounts(
            &config.store,
            &config.rules,
            lifetimes,
            config.admin_key.clone(),
            Opening::Server,
        )
        .await?;
        let accounts = crate::directory::attach(accounts, &config.directory)?;
        let accounts = with_mail(accounts, &config)?;
        let generated_admin_password = accounts
            .ensure_default_admin(&config.admin_email, config.admin_password.clone())
            .await
            .map_err(|e| format!("cannot create the default administrator: {e}"))?;
        let files = crate::accounts::Files::new(
            crate::store::files::open(&config.store.database_url).await?,
            accounts.clone(),
            crate::accounts::FileLimits {
                quota: config.files_quota,
                upload_limit: config.upload_limit,
            },
        );
        let state = AppState {
            files: files.clone(),
            accounts: accounts.clone(),
            secure_cookie: tls.is_some() || config.secure_cookie,
            allow_registration: config.allow_registration,
            trust_proxy: config.trust_proxy,
        };
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        let router = http::router_with(
            state,
            Limits {
                body_limit: config.body_limit,
                hsts: tls.is_some(),
            },
            config.origin_policy(bound)?,
        );
        Ok(App {
            listener,
            router,
            accounts,
            generated_admin_password,
            audit_retention_days: config.audit_retention_days,
            tls,
            files,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The account service behind the server.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// The default administrator's password when this start generated it (shown once).
    pub fn generated_admin_password(&self) -> Option<&str> {
        self.generated_admin_password.as_deref()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let maintenance = tokio::spawn(maintain(self.accounts.clone(), self.audit_retention_days));
        let file_purge = tokio::spawn(purge_unpublished_files(self.files.clone()));
        let served = crate::server::serve(self.listener, self.router, self.tls, shutdown).await;
        maintenance.abort();
        file_purge.abort();
        served
    }
}

/// Turns mail on when `--smtp-url` is set; the start-up log says which.
fn with_mail(accounts: Accounts, config: &Config) -> Result<Accounts, String> {
    let Some(smtp_url) = &config.smtp_url else {
        tracing::info!(
            "mail is off (no --smtp-url): /send fails, password reset is unavailable, no notices"
        );
        return Ok(accounts);
    };
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    let mailer =
        crate::mail::Mailer::from_config(smtp_url, config.mail_from.as_deref(), &public_url)?;
    let smtp = mailer.settings();
    tracing::info!(host = %smtp.host, port = smtp.port, security = ?smtp.security, "mail is on");
    Ok(accounts.with_mail(mailer, &public_url))
}

/// Hourly (the first time at start): delete expired sessions and audit records past their
/// retention. A purge that removes more than usual says so at WARN, with the count and cutoff.
async fn maintain(accounts: Accounts, retention_days: u32) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    let mut previous = None;
    loop {
        tick.tick().await;
        match accounts.purge_expired(retention_days).await {
            Ok(purged) => {
                let cutoff = crate::accounts::rfc3339(purged.cutoff);
                if crate::accounts::unusual_purge(purged.records, previous) {
                    tracing::warn!(
                        records = purged.records,
                        %cutoff,
                        retention_days,
                        "purged {} audit records older than {cutoff} (more than usual)",
                        purged.records
                    );
                } else {
                    tracing::info!(sessions = purged.sessions, records = purged.records, %cutoff, "purged expired rows");
                }
                previous = Some(purged.records);
            }
            Err(e) => tracing::error!(cause = %e, "purge failed"),
        }
    }
}

/// Hourly (the first time at start): delete the blobs of uploads cut short a day ago or more.
async fn purge_unpublished_files(files: crate::accounts::Files) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match files.purge_unpublished().await {
            Ok(0) => {}
            Ok(blobs) => tracing::info!(blobs, "purged the blobs of unfinished uploads"),
            Err(e) => tracing::warn!(cause = %e, "purging unfinished uploads failed"),
        }
    }
}
