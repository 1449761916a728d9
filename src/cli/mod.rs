//! The `roster` command line: the server and the admin commands, one file per group.

mod audit;
mod backup;
mod check_config;
mod import;
mod migrate;
mod serve;
mod user;

use clap::{CommandFactory, Parser, Subcommand};

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
        display_order = 900,
        env = "ROSTER_LOG_FORMAT",
        value_enum,
        default_value = "pretty"
    )]
    pub log_format: crate::telemetry::LogFormat,

    /// TOML file of settings (keys = flag names without `--`), under flags and variables.
    #[arg(
        long,
        global = true,
        display_order = 901,
        env = "ROSTER_CONFIG",
        value_name = "PATH"
    )]
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
    /// Apply pending database migrations (`--status`: list them, applied or pending).
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
    /// Copy the SQLite database, consistently, while the server runs.
    Backup(backup::BackupOpts),
    /// Replace the SQLite database with a backup (the server stopped).
    Restore(backup::RestoreOpts),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; e.g. `roster man | man -l -`).
    Man,
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
            Command::Backup(opts) => backup::backup(opts).await,
            Command::Restore(opts) => backup::restore(opts).await,
            Command::Completions { shell } => {
                clap_complete::generate(
                    shell,
                    &mut Cli::command(),
                    "roster",
                    &mut std::io::stdout(),
                );
                Ok(())
            }
            Command::Man => clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map_err(|e| format!("cannot write the manual page: {e}")),
        }
    }
}
