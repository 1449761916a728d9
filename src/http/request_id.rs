//! The request id: the client's `X-Request-Id` when it is sane, else a fresh one; in the
//! request's extensions (and so in its tracing span) and on every reply.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};

/// `X-Request-Id`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served (1–64 characters of `[A-Za-z0-9._-]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// The client's id when it is 1–64 characters of `[A-Za-z0-9._-]`: anything else could
    /// forge log lines or smuggle data into them.
    pub fn sane(value: &str) -> bool {
        (1..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    }

    /// 16 random hex digits.
    fn generate() -> RequestId {
        RequestId(format!("{:016x}", rand::random::<u64>()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId("-".into())))
    }
}

/// Gives the request its id (in its extensions and its `X-Request-Id` header) before
/// anything else sees it; the header value to echo on the reply.
pub fn assign_to(req: &mut Request) -> HeaderValue {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| RequestId::sane(v))
        .map_or_else(RequestId::generate, |v| RequestId(v.to_owned()));
    let value = HeaderValue::from_str(&id.0).expect("a sane id is a valid header value");
    req.headers_mut()
        .insert(X_REQUEST_ID.clone(), value.clone());
    req.extensions_mut().insert(id);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_sane() {
        assert!(RequestId::sane("abc-123_X.y"));
        assert!(RequestId::sane(&"a".repeat(64)));
        for bad in ["", "a b", "a\nb", "ünï", "a;b", &"a".repeat(65)] {
            assert!(!RequestId::sane(bad), "{bad:?}");
        }
    }

    #[test]
    fn generated_ids_are_sane_and_differ() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert!(RequestId::sane(&a.0));
        assert_ne!(a, b);
    }
}
