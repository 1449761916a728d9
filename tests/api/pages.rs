//! The web pages as HTTP resources (their behaviour in a browser is tests/api/browser.rs):
//! routes, the CSP, caching, and the two read-only signals the pages use.

use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, LOCATION};
use reqwest::{Method, StatusCode};

use crate::helpers::{Backend, TestApp};
use crate::smtp::SmtpServer;

#[tokio::test]
async fn the_home_page_sends_to_the_account_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let reply = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    assert_eq!(reply.headers()[LOCATION], "/account");
}

#[tokio::test]
async fn pages_carry_a_strict_policy_and_revalidate() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for path in ["/account", "/account/reset?token=x", "/admin"] {
        let reply = app.get(path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.headers[CONTENT_TYPE], "text/html; charset=utf-8");
        let csp = reply.headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(reply.headers[CACHE_CONTROL], "no-cache");
        assert!(reply.text.contains("<html lang=\"en\">"));
    }
}

#[tokio::test]
async fn assets_have_their_type_and_an_etag_that_gives_304() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let js = app.get("/assets/account.js", None).await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.headers[CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert!(js.text.contains("import"), "an ES module");
    let etag = js.headers[ETAG].to_str().unwrap().to_owned();
    let again = app
        .client
        .get(app.url("/assets/account.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let css = app.get("/assets/roster.css", None).await;
    assert_eq!(css.headers[CONTENT_TYPE], "text/css; charset=utf-8");
    assert_ne!(css.headers[ETAG].to_str().unwrap(), etag);
    let missing = app.get("/assets/nothing.js", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["ok"], false);
    let escape = app.get("/assets/..%2FCargo.toml", None).await;
    assert_eq!(escape.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_reset_signal_follows_the_mail_setting() {
    let plain = TestApp::spawn(Backend::Sqlite).await;
    let off = plain.get("/users/api/reset", None).await;
    assert_eq!(off.status, StatusCode::NOT_FOUND);
    assert_eq!(
        off.json(),
        serde_json::json!({ "ok": false, "status": "Password reset is not available." })
    );
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let mailing = TestApp::spawn_with(Backend::Sqlite, |c| c.smtp_url = Some(url)).await;
    let on = mailing.get("/users/api/reset", None).await;
    assert_eq!(on.status, StatusCode::OK);
    assert_eq!(
        on.json(),
        serde_json::json!({ "ok": true, "status": "Password reset is available." })
    );
    assert!(smtp.received().is_empty(), "asking sends nothing");
}

#[tokio::test]
async fn the_password_signal_names_the_policy_in_force() {
    let compat = TestApp::spawn(Backend::Sqlite).await;
    let reply = compat
        .send(Method::GET, "/users/api/password", None, None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["ok"], true);
    assert_eq!(body["policy"], "compat");
    assert!(
        body["rules"][0].as_str().unwrap().starts_with("6 to 128"),
        "{body}"
    );
    let strict = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.rules.password_policy = roster::config::PolicyName::Strict;
    })
    .await;
    let body = strict.get("/users/api/password", None).await.json();
    assert_eq!(body["policy"], "strict");
    assert!(
        body["rules"][0].as_str().unwrap().starts_with("12 to 128"),
        "{body}"
    );
}
