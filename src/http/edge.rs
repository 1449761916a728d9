//! The one middleware every request passes through: request id, tracing span, access log and
//! metrics, the cross-site rules, the time limit and the security headers.
//!
//! One layer rather than one per concern: axum boxes each `Router::layer` around every route
//! and each layer clones the boxed stack beneath it per request, so a dozen small layers cost
//! some eighty boxed clones (and allocations) per request; one layer costs two.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::guard::Guard;
use super::metrics::Metrics;
use super::request_id;

/// What the edge middleware needs.
pub(super) struct Edge {
    pub(super) guard: Arc<Guard>,
    pub(super) metrics: Arc<Metrics>,
    /// Whether replies carry HSTS (served over TLS).
    pub(super) hsts: bool,
}

/// A request must be answered within this time…
const TIME_LIMIT: Duration = Duration::from_secs(30);
/// …except an upload of files, which may take as long as its size over the client's link
/// needs; 408 past the limit.
const UPLOAD_TIME_LIMIT: Duration = Duration::from_secs(3600);

/// Middleware: see the module's documentation. The order is that of the layers it replaces,
/// outermost first.
pub(super) async fn edge(State(edge): State<Arc<Edge>>, mut req: Request, next: Next) -> Response {
    let id = request_id::assign_to(&mut req);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(super::metrics::UNMATCHED, MatchedPath::as_str)
        .to_owned();
    // Method, route and request id only: never headers (cookies) or bodies (passwords).
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        route,
        request_id = id.to_str().unwrap_or("-")
    );
    let method = req.method().clone();
    // Only the access log needs it, and formatting it is not free.
    let address = tracing::enabled!(target: "access", tracing::Level::INFO)
        .then(|| edge.guard.client_address(&req))
        .flatten();
    let mut response = async {
        let work = guarded(&edge, req, next);
        let mut response = edge.metrics.observe(&method, route, address, work).await;
        secure(&mut response, edge.hsts);
        response
    }
    .instrument(span)
    .await;
    response
        .headers_mut()
        .insert(request_id::X_REQUEST_ID.clone(), id);
    response
}

/// The cross-site rules, then the route, within the time limit.
async fn guarded(edge: &Edge, req: Request, next: Next) -> Response {
    let upload = req.method() == Method::POST && req.uri().path().starts_with("/users/api/files");
    let limit = if upload {
        UPLOAD_TIME_LIMIT
    } else {
        TIME_LIMIT
    };
    let work = edge.guard.check(req, next);
    match tokio::time::timeout(limit, work).await {
        Ok(response) => response,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

/// The security headers: `nosniff` always; the others unless the handler chose its own (a
/// page that needs scripts and styles sets its own policy); HSTS over TLS.
fn secure(response: &mut Response, hsts: bool) {
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let defaults = [
        (REFERRER_POLICY, "no-referrer"),
        (X_FRAME_OPTIONS, "DENY"),
        (CACHE_CONTROL, "no-store"),
        (
            CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
    ];
    for (name, value) in defaults {
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    }
    if hsts {
        headers.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
}
