//! The ENSIMS extractors, failing in the ENSIMS format: the session (cookie or bearer
//! token) and JSON bodies.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use super::EnsimsError;
use crate::accounts::SessionCtx;
use crate::domain::Dialect;
use crate::http::extract::{client_address, json_content_type_ok};
use crate::http::AppState;

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
        // Cross-site requests were refused before this point (`guard::csrf`), whatever the
        // credential.
        let token = cookie_token(&parts.headers)
            .or_else(|| bearer_token(&parts.headers))
            .ok_or(EnsimsError::unauthorized())?;
        match state.accounts.session_for_token(token).await {
            Ok(ctx) => {
                crate::telemetry::note_account(ctx.account_id());
                Ok(Session(ctx))
            }
            Err(e @ crate::accounts::Error::Unauthorized) => {
                let address = client_address(&parts.headers, &parts.extensions, state.trust_proxy);
                tracing::info!(
                    target: "security",
                    event = "token_refused",
                    dialect = Dialect::Ensims.as_str(),
                    address = address.as_deref().unwrap_or("-"),
                    reason = token_refusal(token),
                    "session token refused"
                );
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
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

/// Why a token was refused, as far as the transport can tell without the key: `malformed`
/// (not a JWT), `expired` (by its own, unverified, `exp`), else `rejected` (bad signature,
/// revoked or unknown session). Only a category: never the token.
fn token_refusal(token: &str) -> &'static str {
    let mut segments = token.split('.');
    let (Some(_), Some(payload), Some(_), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return "malformed";
    };
    let claims = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
    let Some(claims) = claims else {
        return "malformed";
    };
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp <= crate::accounts::now() => "expired",
        _ => "rejected",
    }
}

/// The 415 reply of the ENSIMS dialect.
pub fn unsupported_media_type() -> EnsimsError {
    EnsimsError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Unsupported content type: send application/json.",
    )
}

/// A body parsed as JSON when its declared type allows (see [`json_content_type_ok`]);
/// 400, 413 or 415 in the ENSIMS format.
pub struct EnsimsJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for EnsimsJson {
    type Rejection = EnsimsError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type_ok(req.headers()) {
            return Err(unsupported_media_type());
        }
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
    fn refused_tokens_are_classified_without_the_key() {
        assert_eq!(token_refusal("garbage"), "malformed");
        let expired = URL_SAFE_NO_PAD.encode(r#"{"exp":1}"#);
        assert_eq!(token_refusal(&format!("h.{expired}.s")), "expired");
        let current = URL_SAFE_NO_PAD.encode(r#"{"exp":99999999999}"#);
        assert_eq!(token_refusal(&format!("h.{current}.s")), "rejected");
    }
}
