//! Transport: the route table, shared middleware, and one module per dialect.
//! Handlers parse input, call `accounts`, and shape the reply: no SQL, no policy here.

mod ensims;
pub mod extract;
mod health;
mod jess;
mod userapi;

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::header::{CACHE_CONTROL, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS};
use axum::http::HeaderValue;
use axum::routing::{any, get, post};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::accounts::Accounts;

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
}

/// Transport settings for [`router`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted request body, bytes.
    pub body_limit: usize,
    /// Whether replies carry HSTS (served over TLS).
    pub hsts: bool,
}

/// The route table.
pub fn router(state: AppState, limits: Limits) -> Router {
    let ensims = Router::new()
        .route("/info", get(ensims::info))
        .route("/auth", post(ensims::log_on))
        .route("/logon", post(ensims::log_on))
        .route("/checkin", post(ensims::check_in))
        .route("/logout", post(ensims::log_out))
        .route("/confirm", post(ensims::confirm))
        .route("/user", get(ensims::get_user).post(ensims::update_user))
        .route("/register", post(ensims::register))
        .route("/password", post(ensims::change_password))
        .route("/send", post(ensims::mail::send))
        .route("/reset", post(ensims::mail::reset))
        .route("/reset/confirm", post(ensims::mail::confirm));
    let jess = Router::new().route("/session", get(jess::status).post(jess::link));

    let mut app = Router::new()
        .nest("/users/api", ensims)
        .nest("/jess_web/api", jess)
        .route("/userapi.do", any(userapi::dispatch))
        .route("/healthz", get(health::healthz))
        .fallback(ensims::not_found)
        .method_not_allowed_fallback(ensims::method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(limits.body_limit))
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ));
    if limits.hsts {
        app = app.layer(SetResponseHeaderLayer::overriding(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ));
    }
    app.layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
        // Method and route only: never headers (cookies) or bodies (passwords).
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
            .unwrap_or("-");
        tracing::info_span!("request", method = %req.method(), route)
    }))
}
