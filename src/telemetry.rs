//! What one request did beyond its status, noted by the code that knows it (the log-on
//! outcome, the account) and read once the reply is made by the access log and the metrics.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (colours on a terminal).
    #[default]
    Pretty,
    /// One JSON object per line, span fields (request id, route) included.
    Json,
}

/// The log filter: `ROSTER_LOG`, else `RUST_LOG`, else `info`. SQL statement lines stay off
/// unless the filter names `sqlx` (slow statements still warn).
pub fn filter() -> EnvFilter {
    let wanted = ["ROSTER_LOG", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "info".into());
    let directives = if wanted.contains("sqlx") {
        wanted
    } else {
        format!("{wanted},sqlx::query=warn")
    };
    EnvFilter::try_new(&directives).unwrap_or_else(|e| {
        eprintln!("roster: ignoring the log filter {directives:?}: {e}");
        EnvFilter::new("info,sqlx::query=warn")
    })
}

/// Starts logging to stderr in `format`.
pub fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.json().with_current_span(true).init(),
    }
}

tokio::task_local! {
    static NOTES: Arc<Notes>;
}

/// `url` with any password (in the user info or a `password` query parameter) replaced by
/// `***`, for logs and `check-config`.
pub fn mask_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    let secret = |k: &str| k.to_ascii_lowercase().contains("password");
    if parsed.query_pairs().any(|(k, _)| secret(&k)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// The notes of one request.
#[derive(Debug, Default)]
pub struct Notes {
    outcome: Mutex<Option<&'static str>>,
    account: Mutex<Option<i64>>,
}

impl Notes {
    /// The last security outcome noted (`logon_succeeded`, `logon_failed`, `throttled`, ...).
    pub fn outcome(&self) -> Option<&'static str> {
        *self
            .outcome
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The account the request acted as or on, when known.
    pub fn account(&self) -> Option<i64> {
        *self
            .account
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runs `work` (a request) with `notes` as the place its outcome and account are noted.
pub async fn noting<F: Future>(notes: Arc<Notes>, work: F) -> F::Output {
    NOTES.scope(notes, work).await
}

/// Notes the request's security outcome; outside a request (the CLI) it does nothing.
pub fn note_outcome(outcome: &'static str) {
    let _ = NOTES.try_with(|n| {
        *n.outcome
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(outcome);
    });
}

/// Notes the account the request acts as or on.
pub fn note_account(account: i64) {
    let _ = NOTES.try_with(|n| {
        *n.account
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(account);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            mask_url("postgres://app:s3cret@db:5432/roster?sslmode=require&password=x"),
            "postgres://app:***@db:5432/roster?sslmode=require&password=***"
        );
        assert_eq!(mask_url("sqlite://roster.db"), "sqlite://roster.db");
    }

    #[tokio::test]
    async fn notes_are_kept_inside_the_request_and_ignored_outside() {
        note_outcome("logon_failed");
        let notes = Arc::new(Notes::default());
        noting(notes.clone(), async {
            note_outcome("logon_succeeded");
            note_account(7);
        })
        .await;
        assert_eq!(notes.outcome(), Some("logon_succeeded"));
        assert_eq!(notes.account(), Some(7));
    }
}
