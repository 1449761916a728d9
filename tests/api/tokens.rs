// Every protected route refuses every kind of bad token with 401 and the same body.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use roster::auth::Claims;

use crate::helpers::{TestApp, ADMIN_PASSWORD};

use super::BACKEND;

const PROTECTED: [(Method, &str, &str); 8] = [
    (Method::POST, "/users/api/checkin", ""),
    (Method::POST, "/users/api/logout", ""),
    (
        Method::POST,
        "/users/api/confirm",
        r#"{"email":"admin@localhost","password":"Adm1n!pass-word"}"#,
    ),
    (Method::GET, "/users/api/user", ""),
    (Method::POST, "/users/api/user", r#"{"title":"Dr"}"#),
    (
        Method::POST,
        "/users/api/password",
        r#"{"password":"Adm1n!pass-word","newPassword":"N3w!password"}"#,
    ),
    (
        Method::POST,
        "/jess_web/api/session",
        r#"{"jessUser":"u","jessPwd":"p"}"#,
    ),
    (Method::GET, "/jess_web/api/session", ""),
];

fn claims_of(token: &str) -> Claims {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn sign(claims: &Claims, alg: Algorithm, key: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).unwrap()
}

async fn assert_refused_everywhere(app: &TestApp, cookie: Option<String>, what: &str) {
    for (method, path, body) in PROTECTED {
        let body = (!body.is_empty()).then_some(body);
        let reply = app
            .send(method.clone(), path, body, cookie.as_deref())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{what}: {method} {path}"
        );
        assert_eq!(
            reply.text, r#"{"ok":false,"status":"Unauthorized"}"#,
            "{what}: {method} {path}"
        );
    }
}

#[tokio::test]
async fn bad_tokens_of_every_kind_are_refused_on_every_protected_route() {
    let app = TestApp::spawn(BACKEND).await;
    let live = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let key = app.signing_key().await;
    let claims = claims_of(&live);
    let now = roster::accounts::now();

    let expired = sign(
        &Claims {
            iat: now - 7200,
            nbf: now - 7200,
            exp: now - 3600,
            ..claims.clone()
        },
        Algorithm::HS256,
        &key,
    );
    let future = sign(
        &Claims {
            iat: now + 3600,
            nbf: now + 3600,
            exp: now + 7200,
            ..claims.clone()
        },
        Algorithm::HS256,
        &key,
    );
    let wrong_key = sign(
        &claims,
        Algorithm::HS256,
        b"another key of thirty-two bytes!",
    );
    let other_alg = sign(&claims, Algorithm::HS512, &key);
    let header_none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let body = live.split('.').nth(1).unwrap();
    let alg_none = format!("{header_none}.{body}.");
    let truncated = live[..live.len() - 5].to_owned();
    let oversized = format!("{live}{}", "A".repeat(8000));
    let other_user = sign(
        &Claims {
            uid: claims.uid + 1,
            sub: (claims.uid + 1).to_string(),
            ..claims.clone()
        },
        Algorithm::HS256,
        &key,
    );

    assert_refused_everywhere(&app, None, "no cookie").await;
    assert_refused_everywhere(&app, Some("session_token=".into()), "empty").await;
    assert_refused_everywhere(&app, Some("session_token=garbage".into()), "garbage").await;
    for (what, token) in [
        ("expired", expired),
        ("not yet valid", future),
        ("wrong key", wrong_key),
        ("HS512", other_alg),
        ("alg none", alg_none),
        ("truncated", truncated),
        ("oversized", oversized),
        ("another uid", other_user),
    ] {
        assert_refused_everywhere(&app, Some(format!("session_token={token}")), what).await;
    }
    // The live token still works: nothing above disturbed it.
    assert_eq!(
        app.get("/users/api/user", Some(&live)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused_on_every_protected_route() {
    let app = TestApp::spawn(BACKEND).await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    assert_eq!(
        app.post("/users/api/logout", "", Some(&token)).await.status,
        StatusCode::OK
    );
    assert_refused_everywhere(&app, Some(format!("session_token={token}")), "revoked").await;
}

#[tokio::test]
async fn a_well_signed_token_for_a_session_that_never_existed_is_refused() {
    let app = TestApp::spawn(BACKEND).await;
    let live = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let key = app.signing_key().await;
    let forged = sign(
        &Claims {
            jti: "made-up".into(),
            ..claims_of(&live)
        },
        Algorithm::HS256,
        &key,
    );
    assert_refused_everywhere(
        &app,
        Some(format!("session_token={forged}")),
        "unknown session",
    )
    .await;
}

#[tokio::test]
async fn no_token_outlives_the_session_limit() {
    let app = TestApp::spawn_with(BACKEND, |c| {
        c.token_ttl = 100;
        c.session_max_age = 60;
    })
    .await;
    let reply = app
        .try_log_on("admin@localhost", "Adm1n!pass-word")
        .await;
    assert!(
        reply.set_cookie().contains("Max-Age=60"),
        "{}",
        reply.set_cookie()
    );
    let claims = claims_of(&reply.token());
    assert_eq!(claims.exp - claims.iat, 60);
    let renewed = app
        .post("/users/api/checkin", "", Some(&reply.token()))
        .await;
    let renewed_claims = claims_of(&renewed.token());
    assert!(
        renewed_claims.exp <= claims.exp,
        "check-in cannot extend the session"
    );
}
