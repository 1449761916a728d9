// Cross-site request forgery (security.md, Sessions): both dialects, every credential, the
// browser signals (Origin, Sec-Fetch-Site), listed origins with CORS, and the JSON body types.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{basic, read, Reply, TestApp, ADMIN_PASSWORD, PASSWORD};

use super::BACKEND;

const EVIL: &str = "https://evil.example";
const ENSIMS_403: &str = r#"{"ok":false,"status":"Cross-site request refused."}"#;
const USERAPI_403: &str = r#"{"code":"C0000403","error":"Cross-site request refused."}"#;
const ENSIMS_415: &str = r#"{"ok":false,"status":"Unsupported content type: send application/json."}"#;
const USERAPI_415: &str =
    r#"{"code":"C0000415","error":"Unsupported content type: send application/json."}"#;
const ADMIN_KEY: &str = "csrf-test-admin-key-0123";

/// Sends a request with exactly these headers (no implicit `Content-Type`).
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let mut req = app.client.request(method, app.url(path));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some(body) = body {
        req = req.body(body.to_owned());
    }
    read(req.send().await.expect("the server answers")).await
}

fn assert_reply(reply: &Reply, status: StatusCode, body: &str, what: &str) {
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (status, body),
        "{what}"
    );
}

/// The server's own origin, as a browser on its pages sends it.
fn own_origin(app: &TestApp) -> String {
    format!("http://{}", app.addr)
}

/// One user's row as `getUsers` shows it (as the default administrator).
async fn user_row(app: &TestApp, username: &str) -> Value {
    let reply = app
        .userapi(
            Method::GET,
            &format!("action=getUsers&username={username}"),
            None,
            Some(&basic("admin", ADMIN_PASSWORD)),
        )
        .await;
    reply.json()["users"][0].clone()
}

#[tokio::test]
async fn ensims_writes_from_another_site_are_refused_with_cookie_or_bearer() {
    let app = TestApp::spawn(BACKEND).await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let cookie = format!("session_token={token}");
    let bearer = format!("Bearer {token}");
    for credential in [("cookie", cookie.as_str()), ("authorization", bearer.as_str())] {
        for signal in [
            ("origin", EVIL),
            ("origin", "null"),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
        ] {
            let headers = [credential, signal, ("content-type", "application/json")];
            let what = format!("{} with {signal:?}", credential.0);
            let reply = send(&app, Method::POST, "/users/api/user", &headers, Some(r#"{"title":"Pwned"}"#)).await;
            assert_reply(&reply, StatusCode::FORBIDDEN, ENSIMS_403, &what);
            let body = json!({"password": ADMIN_PASSWORD, "newPassword": "N3w!password"}).to_string();
            let reply = send(&app, Method::POST, "/users/api/password", &headers, Some(&body)).await;
            assert_reply(&reply, StatusCode::FORBIDDEN, ENSIMS_403, &what);
            let reply = send(&app, Method::POST, "/users/api/logout", &headers, None).await;
            assert_reply(&reply, StatusCode::FORBIDDEN, ENSIMS_403, &what);
        }
    }
    assert_eq!(app.account(&token).await["title"], Value::Null, "nothing changed");
    app.log_on("admin@localhost", ADMIN_PASSWORD).await;
}

#[tokio::test]
async fn log_on_and_registration_from_another_site_are_refused() {
    let app = TestApp::spawn_with(BACKEND, |c| c.allow_registration = true).await;
    let credential = json!({"email": "admin@localhost", "password": ADMIN_PASSWORD}).to_string();
    let signup = json!({"email": "mallory@example.com", "password": PASSWORD}).to_string();
    for signal in [("origin", EVIL), ("sec-fetch-site", "cross-site")] {
        let reply = send(&app, Method::POST, "/users/api/auth", &[signal], Some(&credential)).await;
        assert_reply(&reply, StatusCode::FORBIDDEN, ENSIMS_403, "log-on CSRF");
        assert!(reply.headers.get("set-cookie").is_none(), "no session was given");
        let reply = send(&app, Method::POST, "/users/api/register", &[signal], Some(&signup)).await;
        assert_reply(&reply, StatusCode::FORBIDDEN, ENSIMS_403, "registration");
    }
    let reply = app.try_log_on("mallory@example.com", PASSWORD).await;
    assert_eq!(reply.json()["ok"], false, "no account was registered");
}

#[tokio::test]
async fn userapi_writes_from_another_site_are_refused_with_every_credential() {
    let app = TestApp::spawn_with(BACKEND, |c| c.admin_key = Some(ADMIN_KEY.into())).await;
    let created = app
        .admin(
            "createUser",
            r#"{"username":"boss","password":"B0ss!passwd","firstname":"B","lastname":"Oss","email":"boss@example.com","role":"admin"}"#,
        )
        .await;
    let boss_token = created.json()["created"]["boss"].as_str().unwrap().to_owned();
    let password = basic("admin", ADMIN_PASSWORD);
    let api_token = format!("Basic {boss_token}");
    let credentials = [
        ("authorization", password.as_str()),
        ("authorization", api_token.as_str()),
        ("x-authorization", ADMIN_KEY),
    ];
    let writes = [
        ("createUser", r#"{"username":"eve","password":"Ev3!passwd","firstname":"E","lastname":"Ve","email":"eve@example.com"}"#),
        ("updateUser", r#"{"username":"boss","locale":"ja-jp"}"#),
        ("changePassword", r#"{"username":"boss","password":"Pwn3d!passwd"}"#),
        ("deleteUser", r#"{"username":"boss"}"#),
    ];
    let before = user_row(&app, "boss").await;
    for credential in credentials {
        for signal in [("origin", EVIL), ("origin", "null"), ("sec-fetch-site", "cross-site")] {
            for (action, body) in writes {
                let path = format!("/userapi.do?action={action}");
                let headers = [credential, signal, ("content-type", "application/json")];
                let reply = send(&app, Method::POST, &path, &headers, Some(body)).await;
                let what = format!("{action} with {} and {signal:?}", credential.0);
                assert_reply(&reply, StatusCode::FORBIDDEN, USERAPI_403, &what);
            }
        }
    }
    assert_eq!(user_row(&app, "boss").await, before, "boss is unchanged");
    assert_eq!(user_row(&app, "eve").await, Value::Null, "eve was not created");
    let boss = app.try_log_on("boss@example.com", "B0ss!passwd").await;
    assert_eq!(boss.json()["ok"], true, "the password is unchanged");
}

#[tokio::test]
async fn reads_from_another_site_are_served() {
    let app = TestApp::spawn(BACKEND).await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let cookie = format!("session_token={token}");
    let evil = [("origin", EVIL), ("sec-fetch-site", "cross-site")];
    let reply = send(&app, Method::GET, "/users/api/user", &[("cookie", &cookie), evil[0], evil[1]], None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let admin = basic("admin", ADMIN_PASSWORD);
    for method in [Method::GET, Method::POST] {
        let headers = [("authorization", admin.as_str()), evil[0], evil[1]];
        let reply = send(&app, method, "/userapi.do?action=getUsers", &headers, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
}

#[tokio::test]
async fn same_origin_and_signal_free_writes_are_served() {
    let app = TestApp::spawn_with(BACKEND, |c| c.public_url = Some("https://roster.example/accounts".into())).await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let cookie = format!("session_token={token}");
    let own = own_origin(&app);
    let admin = basic("admin", ADMIN_PASSWORD);
    let cases: [&[(&str, &str)]; 5] = [
        &[],
        &[("origin", own.as_str())],
        &[("origin", own.as_str()), ("sec-fetch-site", "same-origin")],
        &[("origin", "https://roster.example")],
        &[("sec-fetch-site", "none")],
    ];
    for (n, signals) in cases.iter().enumerate() {
        let mut headers = vec![("cookie", cookie.as_str())];
        headers.extend_from_slice(signals);
        let body = json!({ "title": format!("T{n}") }).to_string();
        let reply = send(&app, Method::POST, "/users/api/user", &headers, Some(&body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{signals:?}: {}", reply.text);
        assert_eq!(app.account(&token).await["title"], format!("T{n}"));
        let mut headers = vec![("authorization", admin.as_str())];
        headers.extend_from_slice(signals);
        let body = json!({"username": "admin", "locale": if n % 2 == 0 { "ja-jp" } else { "en-us" }}).to_string();
        let reply = send(&app, Method::POST, "/userapi.do?action=updateUser", &headers, Some(&body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{signals:?}: {}", reply.text);
    }
}

#[tokio::test]
async fn a_listed_origin_is_served_with_cors_headers_and_a_preflight() {
    let app = TestApp::spawn_with(BACKEND, |c| c.allowed_origins = vec!["https://app.example".into()]).await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let cookie = format!("session_token={token}");
    let listed = [("origin", "https://app.example"), ("sec-fetch-site", "cross-site")];
    let preflight = send(
        &app,
        Method::OPTIONS,
        "/users/api/user",
        &[listed[0], ("access-control-request-method", "POST"), ("access-control-request-headers", "content-type,if-match")],
        None,
    )
    .await;
    assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    let h = |name: &str| {
        preflight.headers.get(name).map(|v| v.to_str().unwrap().to_ascii_lowercase()).unwrap_or_default()
    };
    assert_eq!(h("access-control-allow-origin"), "https://app.example");
    assert_eq!(h("access-control-allow-credentials"), "true");
    assert!(h("access-control-allow-methods").contains("post"));
    for header in ["content-type", "authorization", "x-authorization", "if-match", "x-request-id"] {
        assert!(h("access-control-allow-headers").contains(header), "{header}");
    }
    assert!(!h("access-control-max-age").is_empty());
    assert!(h("vary").contains("origin"));

    let headers = [("cookie", cookie.as_str()), listed[0], listed[1], ("content-type", "application/json")];
    let reply = send(&app, Method::POST, "/users/api/user", &headers, Some(r#"{"title":"Listed"}"#)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.headers["access-control-allow-origin"], "https://app.example");
    assert_eq!(reply.headers["access-control-allow-credentials"], "true");
    let exposed = reply.headers["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    for header in ["etag", "retry-after", "x-request-id"] {
        assert!(exposed.contains(header), "{header} in {exposed}");
    }
    assert_eq!(app.account(&token).await["title"], "Listed");

    // Another origin sees no CORS header at all, on reads, writes or preflights.
    let other = [("origin", EVIL)];
    for (method, path) in [(Method::GET, "/users/api/info"), (Method::POST, "/users/api/user"), (Method::OPTIONS, "/users/api/user")] {
        let reply = send(&app, method, path, &[other[0], ("cookie", &cookie)], None).await;
        for name in ["access-control-allow-origin", "access-control-allow-credentials", "access-control-expose-headers"] {
            assert!(reply.headers.get(name).is_none(), "{name} on {path}");
        }
    }
}

#[tokio::test]
async fn bodies_of_types_a_browser_form_can_send_get_415_and_change_nothing() {
    let app = TestApp::spawn(BACKEND).await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let cookie = format!("session_token={token}");
    let admin = basic("admin", ADMIN_PASSWORD);
    let credential = json!({"email": "admin@localhost", "password": ADMIN_PASSWORD}).to_string();
    for kind in ["text/plain", "text/plain; charset=utf-8", "multipart/form-data; boundary=x", "application/xml"] {
        let ct = ("content-type", kind);
        let reply = send(&app, Method::POST, "/users/api/user", &[("cookie", &cookie), ct], Some(r#"{"title":"Forged"}"#)).await;
        assert_reply(&reply, StatusCode::UNSUPPORTED_MEDIA_TYPE, ENSIMS_415, kind);
        let reply = send(&app, Method::POST, "/users/api/auth", &[ct], Some(&credential)).await;
        assert_reply(&reply, StatusCode::UNSUPPORTED_MEDIA_TYPE, ENSIMS_415, kind);
        assert!(reply.headers.get("set-cookie").is_none());
        let reply = send(
            &app,
            Method::POST,
            "/userapi.do?action=updateUser",
            &[("authorization", &admin), ct],
            Some(r#"{"username":"admin","locale":"ja-jp"}"#),
        )
        .await;
        assert_reply(&reply, StatusCode::UNSUPPORTED_MEDIA_TYPE, USERAPI_415, kind);
    }
    assert_eq!(app.account(&token).await["title"], Value::Null);
    assert_eq!(user_row(&app, "admin").await["locale"], "en-us");
}

#[tokio::test]
async fn json_form_urlencoded_and_undeclared_bodies_are_accepted() {
    let app = TestApp::spawn(BACKEND).await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let cookie = format!("session_token={token}");
    let admin = basic("admin", ADMIN_PASSWORD);
    let kinds = [
        Some("application/json; charset=utf-8"),
        Some("application/vnd.x+json"),
        Some("application/x-www-form-urlencoded"),
        None,
    ];
    for (n, kind) in kinds.into_iter().enumerate() {
        let mut headers = vec![("cookie", cookie.as_str())];
        headers.extend(kind.map(|k| ("content-type", k)));
        let body = json!({ "title": format!("T{n}") }).to_string();
        let reply = send(&app, Method::POST, "/users/api/user", &headers, Some(&body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{kind:?}: {}", reply.text);
        assert_eq!(app.account(&token).await["title"], format!("T{n}"));
        headers[0] = ("authorization", admin.as_str());
        let locale = if n % 2 == 0 { "ja-jp" } else { "en-us" };
        let body = json!({"username": "admin", "locale": locale}).to_string();
        let reply = send(&app, Method::POST, "/userapi.do?action=updateUser", &headers, Some(&body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{kind:?}: {}", reply.text);
        assert_eq!(user_row(&app, "admin").await["locale"], locale);
    }
}
