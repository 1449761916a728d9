//! The PostgreSQL backend: one pool shared by any number of Roster instances.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{Database, PgPool, Postgres, TransactionManager};
use tokio_rustls::rustls;

use super::caches::{Caches, Changed, Link, CHANNEL};
use super::{StoreResult, Update};

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

/// Committers working in parallel: while one waits for its `COMMIT`, the next batch is
/// applied; their row locks (taken in id order) keep batches that share an account in order.
const COMMITTERS: usize = 4;

/// The `application_name` of the notification connection (to find it in
/// `pg_stat_activity`).
pub const LINK_APPLICATION_NAME: &str = "roster-cache-link";

/// How often the notification connection is checked with a round trip.
const HEARTBEAT: Duration = Duration::from_millis(150);
/// How long a heartbeat may take before the connection is given up and made again.
const HEARTBEAT_WAIT: Duration = Duration::from_secs(2);

/// A PostgreSQL database; reads and writes share one pool.
pub struct PostgresStore {
    writer: PgPool,
    reader: PgPool,
    updates: sql::CommitQueue,
    // Other instances write the same rows: entries live long only while the notification
    // link tells this instance about their changes.
    caches: Arc<Caches>,
    link: OnceLock<tokio::task::AbortHandle>,
    /// Marks for deep pages of the account list.
    pages: super::page_index::PageIndex,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(link) = self.link.get() {
            link.abort();
        }
    }
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
                Ok(()) => {
                    let store = PostgresStore::open(url).await?;
                    store.start_link(url)?;
                    return Ok(store);
                }
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
            updates: sql::CommitQueue::start(&pool, COMMITTERS),
            writer: pool.clone(),
            reader: pool,
            caches: Arc::new(Caches::new(Link::for_postgres())),
            link: OnceLock::new(),
            pages: super::page_index::PageIndex::default(),
        })
    }

    /// Listens for the other instances' changes on a connection of its own, so that the
    /// caches serve entries longer than the short time-to-live (a server does this; a
    /// one-off admin command does not need to).
    fn start_link(&self, url: &str) -> Result<(), String> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| connect_error(url, &e))?
            .application_name(LINK_APPLICATION_NAME);
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(None)
            .max_lifetime(None)
            // The listener gives its connection back only when it is dropped (lost or
            // stuck): never reuse it.
            .after_release(|_, _| Box::pin(async { Ok(false) }))
            .connect_lazy_with(options);
        let task = tokio::spawn(keep_linked(pool, self.caches.clone()));
        let _ = self.link.set(task.abort_handle());
        Ok(())
    }

    /// The backend's own readiness: nothing beyond the probe write.
    // The shared SQL calls each backend's `check_health`; SQLite's can fail and uses `self`.
    #[allow(clippy::unused_self, clippy::unnecessary_wraps)]
    fn check_health(&self) -> StoreResult<()> {
        Ok(())
    }

    /// Row locks, taken in id order by the group commit.
    const LOCK_ROWS: &'static str = " FOR UPDATE";

    /// One statement per round trip (the extended protocol takes binds one statement at a
    /// time).
    const ONE_TRIP_UPDATES: bool = false;

    /// Queues the update for the next group commit and waits until that commit is durable.
    async fn apply_update(&self, update: Update) -> StoreResult<()> {
        self.updates.apply(update).await
    }

    /// Tells the other instances, in the transaction: PostgreSQL delivers the notification
    /// only if and when the transaction commits, after the change is visible. (Sent after
    /// the commit instead, it would be lost if this process died in between, and another
    /// instance would serve the old entry for the long time-to-live.)
    async fn announce(
        tx: &mut sqlx::Transaction<'_, Postgres>,
        changed: &Changed,
    ) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(changed.payload())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// Keeps the notification link up for as long as the store lives: listens, applies what
/// arrives, checks the connection with a heartbeat, and after a loss says so, lets the caches
/// fall back to the short time-to-live, and connects again with back-off.
async fn keep_linked(pool: PgPool, caches: Arc<Caches>) {
    let mut pause = Duration::from_millis(100);
    let mut lost_logged = false;
    loop {
        let (reason, was_up) = link_once(&pool, &caches).await;
        caches.link.down(reason.clone());
        if was_up {
            pause = Duration::from_millis(100);
            tracing::warn!(
                %reason,
                "the cache notification link to PostgreSQL was lost: changes made through \
                 other instances are seen within 0.5 s (not at once) until it is back"
            );
            lost_logged = true;
        } else if !lost_logged {
            tracing::warn!(%reason, "cannot open the cache notification link to PostgreSQL yet");
            lost_logged = true;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// One connection's life as the link: why it ended, and whether it was up.
async fn link_once(pool: &PgPool, caches: &Caches) -> (String, bool) {
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(listener) => listener,
        Err(e) => return (e.to_string(), false),
    };
    listener.eager_reconnect(false);
    let listening = Instant::now();
    match tokio::time::timeout(HEARTBEAT_WAIT, listener.listen(CHANNEL)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return (e.to_string(), false),
        Err(_) => return ("no answer to LISTEN".into(), false),
    }
    // Whatever was cached before may have changed unannounced.
    caches.link.up(listening);
    caches.clear();
    tracing::info!("cache notification link to PostgreSQL up: changes through other instances are seen at once");
    let mut next_beat = Instant::now() + HEARTBEAT;
    loop {
        // Due beats go first, so that a steady flow of notifications cannot starve them.
        if Instant::now() < next_beat {
            // Cancel-safe here: the connection is open, and a message is consumed only whole.
            match tokio::time::timeout_at(next_beat.into(), listener.try_recv()).await {
                Ok(Ok(Some(notification))) => caches.apply_payload(notification.payload()),
                Ok(Ok(None)) => return ("the connection was closed".into(), true),
                Ok(Err(e)) => return (e.to_string(), true),
                Err(_) => {}
            }
            continue;
        }
        let sent = Instant::now();
        let beat = sqlx::query("SELECT 1").execute(&mut listener);
        match tokio::time::timeout(HEARTBEAT_WAIT, beat).await {
            Ok(Ok(_)) => {
                // Notifications that came in during the round trip.
                while let Some(notification) = listener.next_buffered() {
                    caches.apply_payload(notification.payload());
                }
                caches.link.confirm(sent);
            }
            Ok(Err(e)) => return (e.to_string(), true),
            Err(_) => return ("no answer to the heartbeat within 2 s".into(), true),
        }
        next_beat = sent + HEARTBEAT;
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
