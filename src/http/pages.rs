//! The web pages: `/` (to the account page), `/account` (and `/account/reset`), `/admin`,
//! and their scripts and styles under `/assets/`. Every file is compiled into the binary; the
//! pages are plain clients of the public APIs, so nothing here reads or writes an account.

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::digest::{digest, SHA256};

use super::AppState;

/// The pages' policy: scripts, styles, images and API calls from this origin only; no inline
/// script or style, no plugins, no framing, forms post nowhere but here.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ACCOUNT_HTML: &[u8] = include_bytes!("../../web/account.html");
const ADMIN_HTML: &[u8] = include_bytes!("../../web/admin.html");

/// The files under `/assets/`.
const ASSETS: &[Asset] = &[
    Asset {
        name: "roster.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../web/roster.css"),
    },
    Asset {
        name: "api.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../web/api.js"),
    },
    Asset {
        name: "ui.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../web/ui.js"),
    },
    Asset {
        name: "account.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../web/account.js"),
    },
    Asset {
        name: "files.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../web/files.js"),
    },
    Asset {
        name: "admin.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../web/admin.js"),
    },
];

/// The page routes, merged into the API's route table. They are not API calls, so they are
/// not in `openapi.json` (its route test reads only `fn routes` of `mod.rs`).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/account", get(account))
        .route("/account/reset", get(account))
        .route("/admin", get(admin))
        .route("/assets/{name}", get(asset))
}

/// `GET /`: the account page is the home page.
async fn home() -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, "/account")]).into_response()
}

/// `GET /account` and `/account/reset?token=…` (one page; its script reads the path).
async fn account(headers: HeaderMap) -> Response {
    page(&headers, ACCOUNT_HTML)
}

/// `GET /admin`: the console checks for an admin session itself, through the APIs.
async fn admin(headers: HeaderMap) -> Response {
    page(&headers, ADMIN_HTML)
}

/// `GET /assets/<name>`; an unknown name gets the ENSIMS 404.
async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => serve(&headers, asset.content_type, asset.body, "no-cache"),
        None => super::ensims::not_found().await,
    }
}

fn page(headers: &HeaderMap, body: &'static [u8]) -> Response {
    let mut response = serve(headers, "text/html; charset=utf-8", body, "no-cache");
    response
        .headers_mut()
        .insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    response
}

/// The file with a content-hash `ETag`, revalidated on each use (`no-cache`): a new binary
/// with changed pages is picked up at once, an unchanged file costs a 304.
fn serve(
    headers: &HeaderMap,
    content_type: &'static str,
    body: &'static [u8],
    cache: &'static str,
) -> Response {
    let etag = etag(body);
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let headers = [
        (CONTENT_TYPE, content_type.to_owned()),
        (CACHE_CONTROL, cache.to_owned()),
        (ETAG, etag),
    ];
    if fresh {
        (StatusCode::NOT_MODIFIED, headers).into_response()
    } else {
        (headers, body).into_response()
    }
}

fn etag(body: &[u8]) -> String {
    let hash = digest(&SHA256, body);
    // 96 bits of the digest, base64url: short, and no collision among a handful of files.
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(&hash.as_ref()[..12]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_pages_name_is_served() {
        for page in [ACCOUNT_HTML, ADMIN_HTML] {
            let html = std::str::from_utf8(page).unwrap();
            for reference in html.split("\"/assets/").skip(1) {
                let name = reference.split('"').next().unwrap();
                assert!(ASSETS.iter().any(|a| a.name == name), "{name}");
            }
        }
    }

    #[test]
    fn the_pages_carry_no_inline_script_or_style() {
        for page in [ACCOUNT_HTML, ADMIN_HTML] {
            let html = std::str::from_utf8(page).unwrap();
            assert!(!html.contains("<style"), "inline style element");
            assert!(!html.contains(" style="), "inline style attribute");
            for rest in html.split(" on").skip(1) {
                let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
                let handler = !name.is_empty() && rest[name.len()..].starts_with('=');
                assert!(!handler, "inline event handler on{name}");
            }
            for script in html.split("<script").skip(1) {
                let tag = script.split('>').next().unwrap();
                assert!(tag.contains("src=\"/assets/"), "inline script: {tag}");
            }
        }
    }

    #[test]
    fn etags_follow_the_content() {
        assert_eq!(etag(b"a"), etag(b"a"));
        assert_ne!(etag(b"a"), etag(b"b"));
    }
}
