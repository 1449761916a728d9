//! `roster serve`.

use crate::app::App;
use crate::config::Config;

/// Builds the app, shows a generated admin password once, serves until SIGINT/SIGTERM.
pub async fn run(mut config: Config) -> Result<(), String> {
    config.admin_password = std::env::var("ROSTER_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let app = App::build(config).await?;
    if let Some(password) = app.generated_admin_password() {
        // Printed once, to the operator's terminal only (stderr), never to the log.
        eprintln!(
            "Created the default administrator 'admin' with the one-time password: {password}"
        );
        eprintln!("Change it after logging on; it is not shown again.");
    }
    tracing::info!(address = %app.local_addr(), "listening");
    eprintln!("Roster listening on http://{}", app.local_addr());
    app.serve(shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
