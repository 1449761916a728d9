//! Extractors that turn raw requests into typed input, with failures in the ENSIMS format:
//! the session (cookie or bearer token) and JSON bodies.

use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

use super::ensims::EnsimsError;
use super::AppState;
use crate::accounts::SessionCtx;
use crate::domain::{Actor, Dialect};

/// The cookie that carries the session token (a published name: clients depend on it).
pub const SESSION_COOKIE: &str = "session_token";

/// The verified session of the caller; 401 in the ENSIMS format when there is none.
pub struct Session(pub SessionCtx);

impl FromRequestParts<AppState> for Session {
    type Rejection = EnsimsError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, from_cookie) = match cookie_token(&parts.headers) {
            Some(token) => (token, true),
            None => (
                bearer_token(&parts.headers).ok_or(EnsimsError::unauthorized())?,
                false,
            ),
        };
        // A cookie rides along on cross-site requests; a bearer token never does.
        if from_cookie
            && parts.method != Method::GET
            && parts.method != Method::HEAD
            && is_cross_site(&parts.headers)
        {
            return Err(EnsimsError::new(
                StatusCode::FORBIDDEN,
                "Cross-site request refused.",
            ));
        }
        let ctx = state.accounts.authenticate(token).await?;
        Ok(Session(ctx))
    }
}

/// The `session_token` value from any `Cookie` header, read leniently: clients send back
/// the whole `Set-Cookie` string, so attribute-like pairs (`Path=/`, `HttpOnly`) are skipped.
pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| name.trim() == SESSION_COOKIE && !value.trim().is_empty())
        .map(|(_, value)| value.trim().trim_matches('"'))
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// An `Origin` naming another host than the one addressed.
fn is_cross_site(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(origin);
    !origin_host.eq_ignore_ascii_case(host)
}

/// A body parsed as JSON, whatever its content type; 400 or 413 in the ENSIMS format.
pub struct EnsimsJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for EnsimsJson {
    type Rejection = EnsimsError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                EnsimsError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large.")
            } else {
                EnsimsError::bad_request("Request body could not be read.")
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(EnsimsJson)
            .map_err(|_| EnsimsError::bad_request("Request body is not valid JSON."))
    }
}

/// The client's address: the socket peer, or with `--trust-proxy` the address the proxy
/// appended last to `X-Forwarded-For`.
pub struct ClientAddr(pub Option<String>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.trust_proxy {
            // The last entry is the one our proxy appended; earlier ones the client can forge.
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .next_back()
                .and_then(|v| v.rsplit(',').next())
                .and_then(|a| a.trim().parse::<std::net::IpAddr>().ok());
            if let Some(ip) = forwarded {
                return Ok(ClientAddr(Some(ip.to_string())));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        Ok(ClientAddr(peer))
    }
}

impl ClientAddr {
    /// An anonymous actor of `dialect` at this address.
    pub fn actor(self, dialect: Dialect) -> Actor {
        Actor::anonymous(dialect, self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_raw_set_cookie_string_is_accepted_as_a_cookie() {
        let h = headers(&[(
            "cookie",
            "session_token=abc.def.ghi; Path=/; HttpOnly; SameSite=Lax",
        )]);
        assert_eq!(cookie_token(&h), Some("abc.def.ghi"));
    }

    #[test]
    fn other_cookies_and_empty_values_are_skipped() {
        let h = headers(&[
            ("cookie", "a=1; session_token=; b=2"),
            ("cookie", "session_token=tok"),
        ]);
        assert_eq!(cookie_token(&h), Some("tok"));
        assert_eq!(cookie_token(&headers(&[("cookie", "x=1")])), None);
    }

    #[test]
    fn an_origin_of_another_host_is_cross_site() {
        assert!(is_cross_site(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "roster.example")
        ])));
        assert!(!is_cross_site(&headers(&[
            ("origin", "https://roster.example"),
            ("host", "roster.example")
        ])));
        assert!(!is_cross_site(&headers(&[("host", "roster.example")])));
    }
}
