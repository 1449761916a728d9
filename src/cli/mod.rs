//! The `roster` command line: the server and the admin commands, one file per group.

mod audit;
mod check_config;
mod import;
mod migrate;
mod serve;
mod user;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// Roster: user accounts and sessions over the ENSIMS Users API and the userapi.do admin API.
#[derive(Parser, Debug)]
#[command(name = "roster", version = crate::VERSION, about)]
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

    /// TOML file of settings (keys = flag names without `--`), under flags and variables.
    #[arg(long, global = true, env = "ROSTER_CONFIG", value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,

    /// The command line as the configuration file completed it.
    #[arg(skip)]
    pub loaded: crate::config_file::Loaded,
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
    /// Validate the settings and print the effective configuration, secrets masked.
    CheckConfig(Config),
    /// Load accounts in bulk from a JSON-lines file (see the README's "Importing users").
    Import(import::ImportOpts),
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
            Command::Import(opts) => import::run(opts).await,
            Command::Audit(opts) => audit::run(opts).await,
            Command::CheckConfig(config) => check_config::run(&config, &self.loaded),
        }
    }
}
