//! What both dialects take from a raw request: the client's address, and whether a body's
//! declared type may carry JSON. The ENSIMS-only extractors are in `ensims/extractors.rs`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};

use super::AppState;
use crate::domain::{Actor, Dialect};

/// Whether a declared `Content-Type` may carry the JSON body of an API call: none,
/// `application/json`, `application/*+json` or `application/x-www-form-urlencoded` (what
/// `curl -d` declares). `text/plain` and `multipart/*` are refused: a cross-site browser form
/// can fill them with valid JSON. Other types are refused too: they are not JSON.
pub fn json_content_type_ok(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return true,
        (Some(value), None) => value,
        (Some(_), Some(_)) => return false,
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    let Some(subtype) = essence.strip_prefix("application/") else {
        return false;
    };
    subtype == "json"
        || subtype == "x-www-form-urlencoded"
        || (subtype.len() > "+json".len() && subtype.ends_with("+json"))
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
        Ok(ClientAddr(client_address(
            &parts.headers,
            &parts.extensions,
            state.trust_proxy,
        )))
    }
}

/// The client's address: the socket peer, or with `trust_proxy` the address the proxy
/// appended last to `X-Forwarded-For`.
pub fn client_address(
    headers: &HeaderMap,
    extensions: &Extensions,
    trust_proxy: bool,
) -> Option<String> {
    if trust_proxy {
        // The last entry is the one our proxy appended; earlier ones the client can forge.
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .next_back()
            .and_then(|v| v.rsplit(',').next())
            .and_then(|a| a.trim().parse::<std::net::IpAddr>().ok());
        if let Some(ip) = forwarded {
            return Some(ip.to_string());
        }
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
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
    fn json_form_and_absent_content_types_are_accepted() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.x+json",
            "application/x-www-form-urlencoded",
        ] {
            assert!(
                json_content_type_ok(&headers(&[("content-type", ok)])),
                "{ok}"
            );
        }
        assert!(json_content_type_ok(&headers(&[])));
    }

    #[test]
    fn types_a_browser_form_can_fill_and_other_types_are_refused() {
        for bad in [
            "text/plain",
            "text/plain; charset=utf-8",
            "multipart/form-data; boundary=x",
            "application/xml",
            "application/+json",
            "",
        ] {
            assert!(
                !json_content_type_ok(&headers(&[("content-type", bad)])),
                "{bad}"
            );
        }
    }
}
