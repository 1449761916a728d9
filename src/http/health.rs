//! `GET /healthz` (the store answers, for load balancers) and `GET /readyz` (the store
//! takes writes, with the reason when it does not).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::AppState;
use crate::store::LinkState;

/// 200 `ok` when the store answers a query, 503 otherwise. With a directory configured, a
/// second line `directory: up|down|unknown` reports its last contact; it never fails the
/// check (local users can log on without it) and never waits for the directory.
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, String) {
    let directory = match state.accounts.directory() {
        Some(d) => format!("\ndirectory: {}", d.state().as_str()),
        None => String::new(),
    };
    match state.accounts.ping().await {
        Ok(()) => (StatusCode::OK, format!("ok{directory}")),
        Err(e) => {
            tracing::error!(cause = %e, "health check failed");
            let body = format!("store unavailable{directory}");
            (StatusCode::SERVICE_UNAVAILABLE, body)
        }
    }
}

/// 200 `{"ready":true}` when a write to the store commits; 503 `{"ready":false,"reason"}`
/// while it cannot (disk full, file read-only, removed or replaced, database down). With a
/// directory configured, `"directory": "up|down|unknown"` reports it without deciding
/// readiness (local users log on without it). On PostgreSQL, `"cache_link": "up"` says that
/// changes made through other instances reach this one's caches at once; `"down"` (with
/// `"cache_link_detail"`) that they are seen within 0.5 s until the link is back; it does not
/// decide readiness either.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (status, mut body) = match state.accounts.ready().await {
        Ok(()) => (StatusCode::OK, json!({"ready": true})),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            let body = json!({"ready": false, "reason": reason});
            (StatusCode::SERVICE_UNAVAILABLE, body)
        }
    };
    if let Some(directory) = state.accounts.directory() {
        body["directory"] = json!(directory.state().as_str());
    }
    match state.accounts.cache_link() {
        Some(LinkState::Up) => body["cache_link"] = json!("up"),
        Some(LinkState::Down(reason)) => {
            body["cache_link"] = json!("down");
            body["cache_link_detail"] = json!(format!(
                "caches fall back to a 0.5 s lifetime until the notification link is back: {reason}"
            ));
        }
        None => {}
    }
    (status, Json(body))
}
