//! `roster backup PATH` and `roster restore PATH` (SQLite; PostgreSQL has `pg_dump`).

use std::path::PathBuf;

use clap::Args;

use crate::config::DatabaseArgs;

/// Options of `roster backup`.
#[derive(Args, Debug)]
pub struct BackupOpts {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The new file to write (never overwritten); owner-only.
    path: PathBuf,
}

/// Options of `roster restore`.
#[derive(Args, Debug)]
pub struct RestoreOpts {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The backup file to restore (it is left as it is).
    path: PathBuf,
}

/// Writes a consistent copy of the live database.
pub async fn backup(opts: BackupOpts) -> Result<(), String> {
    let done = crate::store::backup::backup(&opts.database.database_url, &opts.path).await?;
    println!(
        "Backed up {} accounts ({} bytes) to {}.",
        done.accounts,
        done.bytes,
        done.path.display()
    );
    Ok(())
}

/// Replaces the (stopped) database with a checked backup.
pub async fn restore(opts: RestoreOpts) -> Result<(), String> {
    let done = crate::store::backup::restore(&opts.database.database_url, &opts.path).await?;
    println!(
        "Restored {} accounts from {} into {}.",
        done.accounts,
        opts.path.display(),
        done.path.display()
    );
    if let Some(previous) = done.previous {
        println!(
            "The database it replaced is kept as {} (remove it when no longer needed).",
            previous.display()
        );
    }
    Ok(())
}
