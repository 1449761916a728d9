//! The `roster` binary: parse the command line, start logging, dispatch.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = roster::cli::Cli::parse();
    roster::telemetry::init(cli.log_format);
    match cli.run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("roster: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
