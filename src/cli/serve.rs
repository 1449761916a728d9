//! `roster serve`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::app::App;
use crate::config::Config;
use crate::telemetry::LogFormat;

/// Builds the app, shows a generated admin password once, serves until SIGINT/SIGTERM.
pub async fn run(mut config: Config, log_format: LogFormat) -> Result<(), String> {
    config.admin_password = std::env::var("ROSTER_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let plain_public = plain_http_on_public_address(&config);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        commit = env!("ROSTER_COMMIT"),
        settings = %summary(&config),
        "starting roster {}",
        crate::VERSION
    );
    let app_database_url = config.store.database_url.clone();
    let app = App::build(config).await?;
    if plain_public {
        tracing::warn!(
            address = %app.local_addr(),
            "serving plain HTTP on a non-loopback address: passwords and session tokens cross \
             the network in clear text. Configure --tls-cert and --tls-key, or run behind a \
             TLS-terminating proxy and pass --secure-cookie"
        );
    }
    // The listener is bound and the store ready: the password is shown only now, so a start
    // that fails shows none, and it is recorded as shown only once it was printed.
    if let Some(password) = app.generated_admin_password() {
        if show_admin_password(&app_database_url, password) {
            app.accounts()
                .admin_password_shown()
                .await
                .map_err(|e| format!("cannot record that the password was shown: {e}"))?;
        }
    } else if app
        .accounts()
        .admin_password_unseen()
        .await
        .unwrap_or(false)
    {
        tracing::warn!(
            "the default administrator 'admin' has a generated password that was never shown \
             (an earlier first start stopped, or could not write its file, before showing it): set one with \
             `roster user set-password admin`"
        );
    }
    tracing::info!(address = %app.local_addr(), "listening");
    if log_format == LogFormat::Pretty {
        // For the operator's terminal; JSON logs must stay one object per line.
        eprintln!("Roster listening on http://{}", app.local_addr());
    }
    app.serve(shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

/// Hands the generated password of the default administrator to the operator, never to the
/// logger (journald and `docker logs` keep what is logged): on stdout when it is a terminal,
/// else in a new owner-only file whose path (never the password) is logged. Whether it was
/// handed over.
fn show_admin_password(database_url: &str, password: &str) -> bool {
    if std::io::stdout().is_terminal() {
        println!(
            "Created the default administrator 'admin' with the one-time password: {password}"
        );
        println!("Change it after logging on; it is not shown again.");
        return true;
    }
    let path = admin_password_file(database_url);
    let path = std::path::absolute(&path).unwrap_or(path);
    match write_owner_only(&path, password) {
        Ok(()) => {
            tracing::warn!(
                path = %path.display(),
                "created the default administrator 'admin'; its one-time password is in {} \
                 (readable by this user only): log on, change it, then delete the file",
                path.display()
            );
            true
        }
        Err(e) => {
            tracing::error!(
                path = %path.display(),
                cause = %e,
                "created the default administrator 'admin' but cannot write its one-time \
                 password to {}: set one with `roster user set-password admin`",
                path.display()
            );
            false
        }
    }
}

/// Where a generated administrator password goes when stdout is no terminal: beside a
/// SQLite database (`roster.db.admin-password`), else in systemd's state directory or the
/// current directory (`roster-admin-password`).
fn admin_password_file(database_url: &str) -> PathBuf {
    if let Ok(Some(db)) = crate::store::sqlite_file(database_url) {
        let mut name = db.into_os_string();
        name.push(".admin-password");
        return PathBuf::from(name);
    }
    let dir = std::env::var_os("STATE_DIRECTORY")
        .and_then(|dirs| {
            // systemd gives a colon-separated list; the first is the service's own.
            let first = dirs.to_string_lossy().split(':').next()?.to_owned();
            (!first.is_empty()).then(|| PathBuf::from(first))
        })
        .unwrap_or_else(|| PathBuf::from("."));
    dir.join("roster-admin-password")
}

/// Writes `text` and a newline to a new file readable and writable by its owner only,
/// whatever the umask; one left by an earlier first start is replaced.
fn write_owner_only(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    writeln!(file, "{text}")?;
    file.sync_all()
}

/// The effective settings in one line, secrets as `set`/`none` and URLs without passwords;
/// never an email.
fn summary(config: &Config) -> String {
    let set = |present: bool| if present { "set" } else { "none" };
    let rules = &config.rules;
    let pepper = rules.password_pepper_file.is_some()
        || std::env::var("ROSTER_PASSWORD_PEPPER").is_ok_and(|v| !v.is_empty());
    format!(
        "listen={} database={} tls={} public_url={} allowed_origins={} registration={} \
         password_policy={:?} argon2={}KiB/{}/{} hash_concurrency={} token_ttl={} \
         session_max_age={} trust_proxy={} secure_cookie={} admin_key={} pepper={} \
         admin_password={} locales={}",
        config.listen,
        crate::telemetry::mask_url(&config.store.database_url),
        config.tls_cert.is_some(),
        config.public_url.as_deref().unwrap_or("-"),
        config.allowed_origins.len(),
        config.allow_registration,
        rules.password_policy,
        rules.argon2_memory_kib,
        rules.argon2_iterations,
        rules.argon2_lanes,
        rules
            .hash_concurrency
            .map_or("cores".into(), |n| n.to_string()),
        config.token_ttl,
        config.session_max_age,
        config.trust_proxy,
        config.secure_cookie,
        set(config.admin_key.is_some()),
        set(pepper),
        set(config.admin_password.is_some()),
        rules.locales.join(","),
    )
}

/// Plain HTTP is for loopback and for running behind a TLS proxy (`security.md`, *Transport*).
fn plain_http_on_public_address(config: &Config) -> bool {
    config.tls_cert.is_none() && !config.secure_cookie && !config.listen.ip().is_loopback()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(listen: &str) -> Config {
        Config::for_tests(listen.parse().unwrap(), "sqlite://unused.db")
    }

    #[test]
    fn plain_http_warns_only_off_loopback_without_tls_or_a_proxy() {
        assert!(!plain_http_on_public_address(&config("127.0.0.1:8080")));
        assert!(!plain_http_on_public_address(&config("[::1]:8080")));
        assert!(plain_http_on_public_address(&config("0.0.0.0:8080")));
        let mut proxied = config("0.0.0.0:8080");
        proxied.secure_cookie = true;
        assert!(!plain_http_on_public_address(&proxied));
        let mut tls = config("0.0.0.0:8443");
        tls.tls_cert = Some("cert.pem".into());
        assert!(!plain_http_on_public_address(&tls));
    }
}
