//! `roster migrate`.

use clap::Args;

use crate::config::StoreArgs;

/// Options of `roster migrate`.
#[derive(Args, Debug)]
pub struct MigrateOpts {
    #[command(flatten)]
    store: StoreArgs,
}

/// Applies pending migrations to the store.
pub async fn run(opts: MigrateOpts) -> Result<(), String> {
    let store = crate::store::open(&opts.store.database_url).await?;
    store
        .migrate()
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    println!("Migrations applied.");
    Ok(())
}
