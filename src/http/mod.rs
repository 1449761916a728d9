//! Transport: the route table, shared middleware, and one module per dialect.
//! Handlers parse input, call `accounts`, and shape the reply: no SQL, no policy here.

mod edge;
mod ensims;
pub mod extract;
mod guard;
mod health;
pub mod metrics;
pub mod origin;
mod pages;
pub mod request_id;
mod userapi;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{any, get, post};
use axum::Router;

use crate::accounts::Accounts;
use origin::OriginPolicy;

/// What every handler can reach: small, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The account service.
    pub accounts: Accounts,
    /// Whether cookies carry `Secure` (TLS, or configured).
    pub secure_cookie: bool,
    /// Whether `POST /users/api/register` is open.
    pub allow_registration: bool,
    /// Whether `X-Forwarded-For` names the client (behind a trusted proxy).
    pub trust_proxy: bool,
    /// Each user's files (the files API).
    pub files: crate::accounts::Files,
}

/// Transport settings for [`router`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted request body, bytes.
    pub body_limit: usize,
    /// Whether replies carry HSTS (served over TLS).
    pub hsts: bool,
}

/// The route table, accepting only the request's own `Host` as a same-origin `Origin`.
pub fn router(state: AppState, limits: Limits) -> Router {
    router_with(state, limits, OriginPolicy::default())
}

/// The route table with the middleware (see [`edge`]) and the body limit.
pub fn router_with(state: AppState, limits: Limits, origins: OriginPolicy) -> Router {
    let guard = guard::Guard::new(origins, state.trust_proxy);
    let metrics = Arc::new(metrics::Metrics::new(state.accounts.clone()));
    let edge = Arc::new(edge::Edge {
        guard,
        metrics: metrics.clone(),
        hsts: limits.hsts,
    });
    routes(state)
        .merge(metrics_route(metrics))
        .layer(DefaultBodyLimit::max(limits.body_limit))
        .layer(from_fn_with_state(edge, edge::edge))
}

/// The `OpenAPI` 3.1 description of every route of both dialects (hand-written; a test checks
/// it against the route table).
pub const OPENAPI: &str = include_str!("openapi.json");

/// `GET /openapi.json`.
async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}

fn metrics_route(metrics: Arc<metrics::Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .with_state(metrics)
}

// Every path literal of this function must be in `openapi.json` (a test reads this file).
fn routes(state: AppState) -> Router {
    // Only uploads may carry more than the general body limit.
    let upload_limit = usize::try_from(state.files.limits().upload_limit).unwrap_or(usize::MAX);
    let upload_root = post(ensims::files::upload_root).layer(DefaultBodyLimit::max(upload_limit));
    let upload_into = post(ensims::files::upload_into).layer(DefaultBodyLimit::max(upload_limit));
    let ensims = Router::new()
        .route("/info", get(ensims::info))
        .route("/auth", post(ensims::log_on))
        .route("/logon", post(ensims::log_on))
        .route("/checkin", post(ensims::check_in))
        .route("/logout", post(ensims::log_off))
        .route("/confirm", post(ensims::confirm))
        .route("/user", get(ensims::get_user).post(ensims::update_user))
        .route("/register", post(ensims::register))
        .route(
            "/password",
            get(ensims::password_policy).post(ensims::change_password),
        )
        .route("/send", post(ensims::mail::send))
        .route(
            "/reset",
            get(ensims::mail::reset_status).post(ensims::mail::reset),
        )
        .route("/reset/confirm", post(ensims::mail::confirm))
        .route(
            "/files",
            get(ensims::files::list_root).merge(upload_root.clone()),
        )
        .route("/files/", get(ensims::files::list_root).merge(upload_root))
        .route(
            "/files/{*path}",
            get(ensims::files::get)
                .merge(upload_into)
                .delete(ensims::files::delete),
        );
    let jess = Router::new().route("/info", get(ensims::jess::info)).route(
        "/session",
        get(ensims::jess::status).post(ensims::jess::link),
    );
    Router::new()
        .nest("/users/api", ensims)
        .nest("/jess_web/api", jess)
        .route("/userapi.do", any(userapi::dispatch))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(openapi))
        .merge(pages::routes())
        .fallback(ensims::not_found)
        .method_not_allowed_fallback(ensims::method_not_allowed)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// The path literals of the route table (`fn routes` and the extra routes of this file).
    fn route_literals() -> Vec<String> {
        let source = include_str!("mod.rs");
        let table = &source[source.find("fn routes(").expect("the route table")..];
        let table = &table[..table.find("\n}\n").expect("its end")];
        let extra = ["/metrics"];
        table
            .split(['(', ','])
            .filter_map(|part| part.trim().strip_prefix("\"/"))
            .filter_map(|rest| rest.split_once('"').map(|(path, _)| format!("/{path}")))
            // axum's catch-all `{*name}` is OpenAPI's `{name}`.
            .map(|path| path.replace("{*", "{"))
            .chain(extra.iter().map(|s| (*s).to_string()))
            .collect()
    }

    #[test]
    fn every_route_of_the_router_is_in_the_openapi_document() {
        let doc: Value = serde_json::from_str(super::OPENAPI).expect("valid JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
        let literals = route_literals();
        assert!(literals.len() > 10, "{literals:?}");
        for literal in literals {
            assert!(
                paths
                    .iter()
                    .any(|p| p.ends_with(&literal) || p.starts_with(&format!("{literal}/"))),
                "route {literal} is not in src/http/openapi.json"
            );
        }
    }
}
