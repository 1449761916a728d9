//! `roster migrate [--status]`.

use clap::Args;

use crate::config::DatabaseArgs;
use crate::store::MigrationStatus;

/// Options of `roster migrate`.
#[derive(Args, Debug)]
pub struct MigrateOpts {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Only show each migration (version, name) as applied or pending; change nothing.
    #[arg(long)]
    status: bool,
}

/// Applies pending migrations to the store, or shows where it stands.
pub async fn run(opts: MigrateOpts) -> Result<(), String> {
    let url = &opts.database.database_url;
    if opts.status {
        return status(url).await;
    }
    let store = crate::store::open(url).await?;
    store
        .migrate()
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    println!("Migrations applied.");
    Ok(())
}

/// One line per migration, then a count; fails when the database holds a migration this
/// binary cannot run against (changed, failed, or from a newer Roster).
async fn status(url: &str) -> Result<(), String> {
    let store = crate::store::open_existing(url).await?;
    let states = store
        .migrations()
        .await
        .map_err(|e| format!("cannot read the migrations: {e}"))?;
    println!("{:<8}  {:<8}  name", "version", "status");
    for m in &states {
        println!("{:<8}  {:<8}  {}", m.version, m.status.as_str(), m.name);
    }
    let count = |s: MigrationStatus| states.iter().filter(|m| m.status == s).count();
    let (applied, pending) = (
        count(MigrationStatus::Applied),
        count(MigrationStatus::Pending),
    );
    println!("{applied} applied, {pending} pending");
    let bad: Vec<String> = states
        .iter()
        .filter(|m| {
            !matches!(
                m.status,
                MigrationStatus::Applied | MigrationStatus::Pending
            )
        })
        .map(|m| format!("{} {} is {}", m.version, m.name, m.status.as_str()))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "this database does not match this binary's migrations: {}",
            bad.join("; ")
        ))
    }
}
