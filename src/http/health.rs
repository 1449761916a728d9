//! `GET /healthz` (the store answers, for load balancers) and `GET /readyz` (the store
//! takes writes, with the reason when it does not).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::AppState;

/// 200 `ok` when the store answers a query, 503 otherwise.
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.accounts.store().count_accounts().await {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::error!(cause = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        }
    }
}

/// 200 `{"ready":true}` when a write to the store commits; 503 `{"ready":false,"reason"}`
/// while it cannot (disk full, file read-only, removed or replaced, database down).
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.accounts.ready().await {
        Ok(()) => (StatusCode::OK, Json(json!({"ready": true}))),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            let body = json!({"ready": false, "reason": reason});
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    }
}
