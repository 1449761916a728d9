//! The PostgreSQL backend: one pool shared by any number of Roster instances.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Database, PgPool, Postgres, TransactionManager};
use tokio_rustls::rustls;

use super::account_cache::AccountCache;
use super::rows::{account_columns, update_record, AccountRow};
use super::{StoreError, StoreResult, Update};
use crate::domain::Account;

// The same SQL is compiled once per backend on purpose: that is how it is written once.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

/// One audit record inside a transaction, for the file store too.
pub(crate) use sql::insert_audit;

/// The database the shared SQL in `sql/` is compiled for here.
type Db = Postgres;
/// The store the shared SQL in `sql/` implements [`super::Store`] for here.
type Backend = PostgresStore;
/// The PostgreSQL schema's migrations.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per instance: enough for the request concurrency of two cores, small
/// enough that many instances fit in PostgreSQL's default `max_connections` (100).
const POOL_SIZE: u32 = 16;

/// A PostgreSQL database; reads and writes share one pool.
pub struct PostgresStore {
    writer: PgPool,
    reader: PgPool,
    // Other instances write the same rows: every read goes to the database.
    cache: AccountCache,
    /// Marks for deep pages of the account list.
    pages: super::page_index::PageIndex,
}

impl PostgresStore {
    /// Connects to the database a `postgres://` URL names; while the server cannot be
    /// reached (refused, timed out, starting up) it tries again with back-off for up to
    /// `wait`, logging each failure, so that an orchestrated start may bring the database up
    /// after Roster. `Err` says why for an operator.
    pub async fn open_waiting(url: &str, wait: Duration) -> Result<PostgresStore, String> {
        let start = std::time::Instant::now();
        let mut pause = Duration::from_millis(250);
        loop {
            check_root_cert(url).map_err(|cause| {
                format!(
                    "TLS to the PostgreSQL server{} failed: {cause}",
                    server(url)
                )
            })?;
            let err = match probe(url).await {
                Ok(()) => return PostgresStore::open(url).await,
                Err(e) => e,
            };
            let message = connect_error(url, &err);
            if !transient(&err) || start.elapsed() + pause > wait {
                return Err(message);
            }
            tracing::warn!(retry_in = ?pause, "{message}");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    /// Connects to the database a `postgres://` URL names; `Err` says why for an operator.
    pub async fn open(url: &str) -> Result<PostgresStore, String> {
        check_root_cert(url).map_err(|cause| {
            format!(
                "TLS to the PostgreSQL server{} failed: {cause}",
                server(url)
            )
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            // While the server is down a request waits at most this long for a connection,
            // then gets 503: well within the 10 s a client may wait.
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(Duration::from_secs(300))
            // A connection left inside a transaction by a failed COMMIT is replaced.
            .after_release(|conn, _| {
                let depth = <Postgres as Database>::TransactionManager::get_transaction_depth(conn);
                Box::pin(async move { Ok(depth == 0) })
            })
            .connect(url)
            .await
            .map_err(|e| connect_error(url, &e))?;
        Ok(PostgresStore {
            writer: pool.clone(),
            reader: pool,
            cache: AccountCache::new(false),
            pages: super::page_index::PageIndex::default(),
        })
    }

    /// The backend's own readiness: nothing beyond the probe write.
    // The shared SQL calls each backend's `check_health`; SQLite's can fail and uses `self`.
    #[allow(clippy::unused_self, clippy::unnecessary_wraps)]
    fn check_health(&self) -> StoreResult<()> {
        Ok(())
    }

    /// One partial update inside `tx`, with its audit record. The update itself is a
    /// single statement: when it fails (a taken email) it has changed nothing, so the
    /// transaction can go on without it.
    async fn update_in(tx: &mut sqlx::Transaction<'_, Postgres>, u: &Update) -> StoreResult<()> {
        let columns = account_columns();
        let sql = format!("SELECT {columns} FROM accounts WHERE id = $1 FOR UPDATE");
        let old: Option<AccountRow> = sqlx::query_as(&sql)
            .bind(u.id)
            .fetch_optional(&mut **tx)
            .await?;
        let old = Account::from(old.ok_or(StoreError::NotFound)?);
        if u.expected_version.is_some_and(|v| v != old.version) {
            return Err(StoreError::Stale);
        }
        sql::update_query(u).build().execute(&mut **tx).await?;
        if let Some(audit) = update_record(u, &old) {
            sql::insert_audit(tx, &audit).await?;
        }
        Ok(())
    }

    /// One transaction per update: PostgreSQL groups concurrent commits in its WAL flushes.
    async fn apply_update(&self, update: Update) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        Self::update_in(&mut tx, &update).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Why `open(url)` failed, for an operator: names the server (host:port) and says
/// when TLS was the cause. It never quotes the URL, which may hold a password.
fn connect_error(url: &str, err: &sqlx::Error) -> String {
    let server = server(url);
    match tls_failure(err) {
        Some(TlsFailure::Verification(cause)) => format!(
            "TLS verification of the PostgreSQL server{server} failed: {cause} \
             (check sslrootcert: the CA that signed the server's certificate; and sslmode)"
        ),
        Some(TlsFailure::Other(cause)) => {
            format!("TLS to the PostgreSQL server{server} failed: {cause}")
        }
        None => format!("cannot connect to the PostgreSQL database{server}: {err}"),
    }
}

/// " at host:port" of the server a URL names, or nothing; never the password.
fn server(url: &str) -> String {
    PgConnectOptions::from_str(url)
        .map(|o| format!(" at {}:{}", o.get_host(), o.get_port()))
        .unwrap_or_default()
}

/// sqlx reads `sslrootcert` only in the `verify-*` modes, at the first connection, and
/// reports a missing file as a bare "No such file or directory": say which file.
fn check_root_cert(url: &str) -> Result<(), String> {
    use sqlx::postgres::PgSslMode;
    let verifies = PgConnectOptions::from_str(url).is_ok_and(|o| {
        matches!(
            o.get_ssl_mode(),
            PgSslMode::VerifyCa | PgSslMode::VerifyFull
        )
    });
    let Some(url) = url::Url::parse(url).ok().filter(|_| verifies) else {
        return Ok(());
    };
    let names = ["sslrootcert", "ssl-root-cert", "ssl-ca"];
    for (_, path) in url.query_pairs().filter(|(k, _)| names.contains(&&**k)) {
        if let Err(e) = std::fs::File::open(&*path) {
            return Err(format!("cannot read sslrootcert {path}: {e}"));
        }
    }
    Ok(())
}

/// A connection that failed in its TLS layer.
enum TlsFailure {
    /// The server's certificate was refused (unknown CA, wrong name, expired...).
    Verification(String),
    /// Anything else: the server has TLS off, an unreadable `sslrootcert`...
    Other(String),
}

/// sqlx reports a failed handshake as an I/O error around the rustls error, and the
/// other TLS failures as `Error::Tls`.
fn tls_failure(err: &sqlx::Error) -> Option<TlsFailure> {
    match err {
        sqlx::Error::Tls(cause) => Some(TlsFailure::Other(cause.to_string())),
        sqlx::Error::Io(io) => match io.get_ref()?.downcast_ref::<rustls::Error>()? {
            cause @ (rustls::Error::InvalidCertificate(_)
            | rustls::Error::InvalidCertRevocationList(_)) => {
                Some(TlsFailure::Verification(cause.to_string()))
            }
            cause => Some(TlsFailure::Other(cause.to_string())),
        },
        _ => None,
    }
}

/// One connection, to learn why the server cannot be reached (the pool would only say it
/// timed out), within a few seconds.
async fn probe(url: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    let connect = sqlx::PgConnection::connect(url);
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(connection) => connection?.close().await,
        Err(_) => Err(sqlx::Error::PoolTimedOut),
    }
}

/// Whether a failure to connect may pass by itself: nothing listens yet, no answer, or the
/// server is starting up or shutting down.
fn transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("57P") || code.starts_with("08")),
        _ => false,
    }
}
