//! Cross-site defences for both dialects: the CSRF rule (`security.md`, *Sessions*) and CORS
//! for the origins listed in `--allowed-origins`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_MATCH, RETRY_AFTER};
use axum::http::{HeaderName, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tower::{Layer, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::extract::client_address;
use super::origin::{OriginPolicy, Provenance};
use super::request_id::X_REQUEST_ID;
use super::{ensims, userapi};
use crate::domain::Dialect;

/// What the cross-site middleware needs.
pub(super) struct Guard {
    policy: OriginPolicy,
    trust_proxy: bool,
    cors: CorsLayer,
}

impl Guard {
    pub(super) fn new(policy: OriginPolicy, trust_proxy: bool) -> Arc<Guard> {
        let x_authorization = HeaderName::from_static("x-authorization");
        // Only ever applied to a listed origin (see `cors`), so mirroring it is exact.
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::mirror_request())
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                CONTENT_TYPE,
                AUTHORIZATION,
                x_authorization,
                IF_MATCH,
                X_REQUEST_ID.clone(),
            ])
            .expose_headers([ETAG, RETRY_AFTER, X_REQUEST_ID.clone()])
            .max_age(Duration::from_secs(600));
        Arc::new(Guard {
            policy,
            trust_proxy,
            cors,
        })
    }
}

/// The dialect a path belongs to, for error formats and logs.
pub(super) fn dialect_of(path: &str) -> Dialect {
    if path == "/userapi.do" {
        Dialect::UserApi
    } else {
        Dialect::Ensims
    }
}

/// A transport-level refusal in the dialect's error format.
pub(super) fn refuse(dialect: Dialect, status: StatusCode, message: &str) -> Response {
    match dialect {
        Dialect::UserApi => userapi::transport_error(status, message),
        _ => ensims::fail(status, message),
    }
}

impl Guard {
    /// The client's address as the logs give it.
    pub(super) fn client_address(&self, req: &Request) -> Option<String> {
        client_address(req.headers(), req.extensions(), self.trust_proxy)
    }

    /// Serves the request unless it breaks the cross-site rules: a state-changing request
    /// with a cross-site signal gets 403, whatever its credentials (cookie, bearer, Basic,
    /// API token, admin key, or none: log-on CSRF). A listed origin gets CORS headers (and
    /// preflight answers, 204); other requests pass untouched, so an unlisted origin never
    /// sees a CORS header.
    pub(super) async fn check(&self, req: Request, next: Next) -> Response {
        let dialect = dialect_of(req.uri().path());
        match self.policy.judge(req.headers()) {
            Provenance::CrossSite(origin_host) if changes_state(&req, dialect) => {
                let address = self.client_address(&req);
                tracing::info!(
                    target: "security",
                    event = "csrf_refused",
                    dialect = dialect.as_str(),
                    address = address.as_deref().unwrap_or("-"),
                    origin = %origin_host,
                    "cross-site request refused"
                );
                refuse(
                    dialect,
                    StatusCode::FORBIDDEN,
                    "Cross-site request refused.",
                )
            }
            Provenance::Listed(_) => self.cors(req, next).await,
            _ => next.run(req).await,
        }
    }

    async fn cors(&self, req: Request, next: Next) -> Response {
        let preflight = req.method() == Method::OPTIONS;
        let mut response = match self.cors.layer(next).oneshot(req).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        if preflight && response.status() == StatusCode::OK {
            *response.status_mut() = StatusCode::NO_CONTENT;
        }
        response
    }
}

/// Any method but GET and HEAD; on `userapi.do` only the actions that write.
fn changes_state(req: &Request, dialect: Dialect) -> bool {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return false;
    }
    dialect != Dialect::UserApi || userapi::writes(req.uri().query())
}
