//! `GET /healthz`: the store answers, for load balancers.

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;

/// 200 `ok` when the store answers a query, 503 otherwise.
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.accounts.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::error!(cause = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        }
    }
}
