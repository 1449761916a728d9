//! `GET /healthz`: the store answers, for load balancers.

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;

/// 200 `ok` when the store answers a query, 503 otherwise. With a directory configured, a
/// second line `directory: up|down|unknown` reports its last contact; it never fails the
/// check (local users can log on without it) and never waits for the directory.
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, String) {
    let directory = match state.accounts.directory() {
        Some(d) => format!("\ndirectory: {}", d.state().as_str()),
        None => String::new(),
    };
    match state.accounts.store().count_accounts().await {
        Ok(_) => (StatusCode::OK, format!("ok{directory}")),
        Err(e) => {
            tracing::error!(cause = %e, "health check failed");
            let body = format!("store unavailable{directory}");
            (StatusCode::SERVICE_UNAVAILABLE, body)
        }
    }
}
