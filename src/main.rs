//! The `roster` binary: parse the command line, start logging, dispatch.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let loaded = match roster::config_file::load(std::env::args_os().collect()) {
        Ok(loaded) => loaded,
        Err(message) => {
            eprintln!("roster: {message}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut cli = roster::cli::Cli::parse_from(&loaded.args);
    roster::telemetry::init(cli.log_format);
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    cli.loaded = loaded;
    match cli.run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("roster: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
