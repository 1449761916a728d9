//! Building the application from configuration: store, keys, router, listener; serving it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::accounts::{Accounts, Settings};
use crate::auth::Hasher;
use crate::config::{Config, RulesArgs, StoreArgs};
use crate::http::{self, AppState, Limits};

/// A built server: listener bound, store migrated, default administrator in place.
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    accounts: Accounts,
    generated_admin_password: Option<String>,
    audit_retention_days: u32,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
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

/// Opens and migrates the store, then loads the account service over it.
pub async fn open_accounts(
    store: &StoreArgs,
    rules: &RulesArgs,
    lifetimes: Lifetimes,
    admin_key: Option<String>,
) -> Result<Accounts, String> {
    rules.validate()?;
    let backend = crate::store::open(&store.database_url).await?;
    backend
        .migrate()
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let hasher = Hasher::new(
        rules.argon2_memory_kib,
        rules.argon2_iterations,
        rules.argon2_lanes,
        rules.pepper()?,
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

impl App {
    /// Validates the configuration, prepares the store and binds the listener.
    pub async fn build(config: Config) -> Result<App, String> {
        config.validate()?;
        let lifetimes = Lifetimes {
            token_ttl: config.token_ttl,
            session_max_age: config.session_max_age,
        };
        let accounts = open_accounts(
            &config.store,
            &config.rules,
            lifetimes,
            config.admin_key.clone(),
        )
        .await?;
        let accounts = with_mail(accounts, &config)?;
        let generated_admin_password = accounts
            .ensure_default_admin(&config.admin_email, config.admin_password.clone())
            .await
            .map_err(|e| format!("cannot create the default administrator: {e}"))?;
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(crate::server::tls_config(cert, key)?),
            _ => None,
        };
        let state = AppState {
            accounts: accounts.clone(),
            secure_cookie: tls.is_some() || config.secure_cookie,
            allow_registration: config.allow_registration,
            trust_proxy: config.trust_proxy,
        };
        let router = http::router(
            state,
            Limits {
                body_limit: config.body_limit,
                hsts: tls.is_some(),
            },
        );
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        Ok(App {
            listener,
            router,
            accounts,
            generated_admin_password,
            audit_retention_days: config.audit_retention_days,
            tls,
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
        let served = crate::server::serve(self.listener, self.router, self.tls, shutdown).await;
        maintenance.abort();
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

/// Hourly: delete expired sessions and audit records past their retention.
async fn maintain(accounts: Accounts, retention_days: u32) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match accounts.purge_expired(retention_days).await {
            Ok((sessions, records)) => tracing::info!(sessions, records, "purged expired rows"),
            Err(e) => tracing::error!(cause = %e, "purge failed"),
        }
    }
}
