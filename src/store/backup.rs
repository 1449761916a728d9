//! Online backup and restore of a SQLite database (`roster backup`, `roster restore`).
//!
//! A backup is `VACUUM INTO`: one read transaction of the live database, so a consistent
//! point-in-time copy while the server keeps writing (WAL readers do not block the writer).
//! A restore checks the copy (integrity, Roster's migrations), brings it to this binary's
//! migrations, and swaps it in with one rename, only when nothing has the database open.
//! File contents live in the database, so both cover them. PostgreSQL has `pg_dump`.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

/// What a backup or a restore copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The file written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Accounts in it.
    pub accounts: i64,
    /// Where a restore kept the database it replaced, if there was one.
    pub previous: Option<PathBuf>,
}

/// Copies the SQLite database `url` names into a new file `dest` (owner-only), consistent
/// as of one instant, while a server may be writing to it.
pub async fn backup(url: &str, dest: &Path) -> Result<Copied, String> {
    let source = sqlite_path(url, "backup")?;
    if !source.exists() {
        return Err(format!("no database at {}", shown(&source)));
    }
    if dest.exists() {
        return Err(format!(
            "{} exists: a backup never overwrites a file; name a new one",
            dest.display()
        ));
    }
    let partial = beside(dest, ".partial")?;
    let copied = async {
        fresh_owner_only(&partial)?;
        let mut conn = connect(&source).await?;
        // One read transaction: the copy is the database as of its start.
        sqlx::query("VACUUM INTO $1")
            .bind(partial.to_string_lossy().as_ref())
            .execute(&mut conn)
            .await
            .map_err(|e| format!("cannot copy {}: {e}", shown(&source)))?;
        conn.close().await.ok();
        sync_file(&partial)?;
        let accounts = check(&partial, dest, false).await?;
        std::fs::rename(&partial, dest)
            .map_err(|e| format!("cannot rename to {}: {e}", dest.display()))?;
        sync_dir(dest)?;
        Ok(accounts)
    }
    .await;
    match copied {
        Ok(accounts) => Ok(Copied {
            path: dest.to_owned(),
            bytes: size(dest),
            accounts,
            previous: None,
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            let _ = std::fs::remove_file(with_suffix(&partial, "-journal"));
            Err(e)
        }
    }
}

/// Replaces the SQLite database `url` names with the backup `source`, after checking that
/// the backup is a sound Roster database and bringing it to this binary's migrations.
/// Refused while any process (a server, another command) has the database open. The
/// database replaced is kept beside it as `NAME.before-restore-UNIXTIME`.
pub async fn restore(url: &str, source: &Path) -> Result<Copied, String> {
    let target = sqlite_path(url, "restore")?;
    if !source.is_file() {
        return Err(format!("no backup file at {}", source.display()));
    }
    let stale_wal = with_suffix(&target, "-wal");
    if !target.exists() && stale_wal.exists() {
        // SQLite would replay it into the restored file.
        return Err(format!(
            "{} is left from a database that is gone; move it away first (nothing was changed)",
            shown(&stale_wal)
        ));
    }
    let partial = beside(&target, ".restoring")?;
    let result = async {
        // Checked on a private copy: the backup itself is never opened for writing.
        fresh_owner_only(&partial)?;
        let mut from = File::open(source)
            .map_err(|e| format!("cannot read the backup {}: {e}", source.display()))?;
        let mut to = OpenOptions::new()
            .write(true)
            .open(&partial)
            .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
        std::io::copy(&mut from, &mut to)
            .map_err(|e| format!("cannot copy the backup {}: {e}", source.display()))?;
        drop(to);
        let accounts = check(&partial, source, true).await?;
        sync_file(&partial)?;
        // Hold the database exclusively from the check to the swap.
        let lock = if target.exists() {
            Some(take_exclusively(&target).await?)
        } else {
            None
        };
        let previous = if lock.is_some() {
            let kept = with_suffix(
                &target,
                &format!(".before-restore-{}", crate::accounts::now()),
            );
            std::fs::hard_link(&target, &kept).map_err(|e| {
                format!(
                    "cannot keep the current database as {}: {e}",
                    kept.display()
                )
            })?;
            Some(kept)
        } else {
            None
        };
        std::fs::rename(&partial, &target)
            .map_err(|e| format!("cannot move the backup to {}: {e}", shown(&target)))?;
        sync_dir(&target)?;
        if let Some(conn) = lock {
            conn.close().await.ok();
        }
        // A shared-memory index of the replaced database must not meet the new one.
        let _ = std::fs::remove_file(with_suffix(&target, "-shm"));
        Ok((accounts, previous))
    }
    .await;
    match result {
        Ok((accounts, previous)) => Ok(Copied {
            bytes: size(&target),
            path: target,
            accounts,
            previous,
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            for suffix in ["-journal", "-wal", "-shm"] {
                let _ = std::fs::remove_file(with_suffix(&partial, suffix));
            }
            Err(e)
        }
    }
}

/// The database file of a `sqlite:` URL; other URLs are refused with the PostgreSQL way.
fn sqlite_path(url: &str, what: &str) -> Result<PathBuf, String> {
    match super::sqlite_file(url)? {
        Some(path) => Ok(path),
        None if url.starts_with("postgres:") || url.starts_with("postgresql:") => Err(format!(
            "roster {what} is for SQLite databases; on PostgreSQL use pg_dump and pg_restore \
             (README, Operations): e.g. pg_dump --format=custom --file=roster.dump DBNAME"
        )),
        None => Err(format!(
            "roster {what} needs a SQLite database file (--database-url sqlite://PATH)"
        )),
    }
}

/// Checks a copy: SQLite's integrity check, Roster's migrations table, its accounts; with
/// `migrate`, applies this binary's pending migrations and leaves the file self-contained
/// (rollback journal, no WAL beside it). The number of accounts.
/// Errors name `named` (the backup), not the work copy checked.
async fn check(path: &Path, named: &Path, migrate: bool) -> Result<i64, String> {
    let bad = |e: sqlx::Error| format!("{} is not a usable Roster database: {e}", named.display());
    let mut conn = connect(path)
        .await
        .map_err(|e| format!("{} is not a usable Roster database: {e}", named.display()))?;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode = DELETE")
        .fetch_one(&mut conn)
        .await
        .map_err(bad)?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(format!("{} cannot leave WAL mode", named.display()));
    }
    let verdict: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .map_err(bad)?;
    if verdict != ["ok"] {
        return Err(format!(
            "{} fails SQLite's integrity check: {}",
            named.display(),
            verdict.join("; ")
        ));
    }
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name IN ('_sqlx_migrations', 'accounts')",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(bad)?;
    if tables.len() != 2 {
        return Err(format!(
            "{} is not a Roster database (no migrations or accounts table)",
            named.display()
        ));
    }
    if migrate {
        super::sqlite::MIGRATOR.run(&mut conn).await.map_err(|e| {
            format!(
                "{} does not match this Roster's migrations (made by another version?): {e}",
                named.display()
            )
        })?;
    }
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
        .fetch_one(&mut conn)
        .await
        .map_err(bad)?;
    conn.close().await.map_err(bad)?;
    Ok(accounts)
}

/// A connection to `path` that holds it exclusively: refused (the error says so) when
/// another connection, of this process or another, has the database open.
async fn take_exclusively(path: &Path) -> Result<SqliteConnection, String> {
    let in_use = || {
        format!(
            "the database {} is in use (a running server, or another roster command): stop \
             the server first; nothing was changed",
            shown(path)
        )
    };
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(1))
        .connect()
        .await
        .map_err(|e| format!("cannot open {}: {e}", shown(path)))?;
    // Leaving WAL mode needs every other connection gone (it checkpoints the WAL into the
    // file first); exclusive locking then keeps new ones out until the swap is done.
    let mode: Result<String, _> = sqlx::query_scalar("PRAGMA journal_mode = DELETE")
        .fetch_one(&mut conn)
        .await;
    if !matches!(mode, Ok(m) if m.eq_ignore_ascii_case("delete")) {
        return Err(in_use());
    }
    sqlx::query("PRAGMA locking_mode = EXCLUSIVE")
        .execute(&mut conn)
        .await
        .map_err(|_| in_use())?;
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut conn)
        .await
        .map_err(|_| in_use())?;
    Ok(conn)
}

async fn connect(path: &Path) -> Result<SqliteConnection, String> {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| format!("cannot open {}: {e}", shown(path)))
}

/// A new empty file readable by its owner only (a leftover of an interrupted run replaced).
fn fresh_owner_only(path: &Path) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot remove {}: {e}", path.display())),
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))
}

/// `dir/.NAME{suffix}`: a hidden work file next to `path`, on the same file system for
/// the rename.
fn beside(path: &Path, suffix: &str) -> Result<PathBuf, String> {
    let name = path
        .file_name()
        .ok_or_else(|| format!("{} names no file", path.display()))?
        .to_string_lossy();
    Ok(path.with_file_name(format!(".{name}{suffix}")))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn sync_file(path: &Path) -> Result<(), String> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("cannot flush {} to disk: {e}", path.display()))
}

/// Makes a rename in `path`'s directory durable.
fn sync_dir(path: &Path) -> Result<(), String> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("cannot flush {} to disk: {e}", dir.display()))
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn shown(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_owned())
        .display()
        .to_string()
}
