//! The `roster` command line: the server and the admin commands, one file per group.

mod audit;
mod migrate;
mod serve;
mod user;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// Roster: user accounts and sessions over the ENSIMS Users API and the userapi.do admin API.
#[derive(Parser, Debug)]
#[command(name = "roster", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Log line format: `pretty` or `json` (one object per line).
    #[arg(
        long,
        global = true,
        env = "ROSTER_LOG_FORMAT",
        value_enum,
        default_value = "pretty"
    )]
    pub log_format: crate::telemetry::LogFormat,
}

// Parsed once at start-up: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Run the HTTP server (creates and migrates the store, and the first administrator).
    Serve(Config),
    /// Apply pending database migrations.
    Migrate(migrate::MigrateOpts),
    /// Print the audit trail (newest first).
    Audit(audit::AuditOpts),
    /// Manage user accounts.
    #[command(subcommand)]
    User(user::UserCommand),
}

impl Cli {
    /// Runs the chosen command; the error is a message for the operator.
    pub async fn run(self) -> Result<(), String> {
        match self.command {
            Command::Serve(config) => serve::run(config, self.log_format).await,
            Command::Migrate(opts) => migrate::run(opts).await,
            Command::User(cmd) => user::run(cmd).await,
            Command::Audit(opts) => audit::run(opts).await,
        }
    }
}
