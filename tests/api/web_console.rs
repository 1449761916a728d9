// `userapi.do` as the admin console calls it: the session cookie on requests marked
// `X-Requested-With`, same-origin only; Basic and the admin key unchanged.

use reqwest::{Method, StatusCode};

use crate::helpers::{basic, Reply, TestApp, ADMIN_PASSWORD, PASSWORD};

use super::BACKEND;

/// Calls `userapi.do` with a cookie and extra headers, as a browser would.
async fn console(
    app: &TestApp,
    method: Method,
    query: &str,
    body: Option<&str>,
    token: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = app
        .client
        .request(method, app.url(&format!("/userapi.do?{query}")))
        .header("cookie", format!("session_token={token}"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = req.send().await.unwrap();
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.unwrap(),
    }
}

const MARK: (&str, &str) = ("x-requested-with", "roster-console");

async fn admin_token(app: &TestApp) -> String {
    app.log_on("admin@localhost", ADMIN_PASSWORD).await
}

#[tokio::test]
async fn an_admin_session_with_the_marker_header_runs_every_action() {
    let app = TestApp::spawn(BACKEND).await;
    let token = admin_token(&app).await;
    let same_origin = [MARK, ("sec-fetch-site", "same-origin")];
    let user = r#"{"username":"bob","password":"B0b!secret","firstname":"Bob","lastname":"Ray","email":"bob@example.org"}"#;
    let created = console(&app, Method::POST, "action=createUser", Some(user), &token, &same_origin).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    assert!(created.json()["created"]["bob"].is_string());
    let update = r#"{"username":"bob","locale":"ja-jp"}"#;
    let updated = console(&app, Method::POST, "action=updateUser", Some(update), &token, &same_origin).await;
    assert_eq!(updated.json(), serde_json::json!({ "updated": "bob" }));
    let users = console(&app, Method::GET, "action=getUsers&username=bob", None, &token, &[MARK]).await;
    assert_eq!(users.json()["users"][0]["locale"], "ja-jp");
    // The audit names the administrator as the actor of the console's change.
    let audit = console(&app, Method::GET, "action=getAudit&username=bob", None, &token, &[MARK]).await;
    let records = audit.json()["records"].clone();
    assert_eq!(records[0]["actor"], "admin", "{records}");
    assert_eq!(records[0]["dialect"], "userapi", "{records}");
    let deleted = console(&app, Method::POST, "action=deleteUser", Some(r#"{"username":"bob"}"#), &token, &[MARK]).await;
    assert_eq!(deleted.json(), serde_json::json!({ "deleted": "bob" }));
    let admin = console(&app, Method::POST, "action=deleteUser", Some(r#"{"username":"admin"}"#), &token, &[MARK]).await;
    admin.assert_error(
        StatusCode::BAD_REQUEST,
        "C4040009",
        "The default administrator user cannot be deleted.",
    );
}

#[tokio::test]
async fn a_cookie_without_the_marker_header_is_not_a_credential() {
    let app = TestApp::spawn(BACKEND).await;
    let token = admin_token(&app).await;
    let reply = console(&app, Method::GET, "action=getUsers", None, &token, &[]).await;
    reply.assert_error(StatusCode::UNAUTHORIZED, "C5010001", "Authorization failed.");
    let body = r#"{"username":"x1","password":"X1!secret","firstname":"X","lastname":"Y","email":"x1@example.org"}"#;
    let reply = console(&app, Method::POST, "action=createUser", Some(body), &token, &[]).await;
    reply.assert_error(StatusCode::UNAUTHORIZED, "C1010001", "Authorization failed.");
}

#[tokio::test]
async fn a_cross_site_console_call_is_refused_whatever_the_cookie() {
    let app = TestApp::spawn(BACKEND).await;
    let token = admin_token(&app).await;
    // A read: the cookie is not taken.
    let cross = [MARK, ("sec-fetch-site", "cross-site")];
    let read = console(&app, Method::GET, "action=getUsers", None, &token, &cross).await;
    assert_eq!(read.status, StatusCode::UNAUTHORIZED, "{}", read.text);
    assert_eq!(read.json()["code"], "C5010001");
    // A write: the CSRF rule refuses it first.
    let evil = [MARK, ("origin", "https://evil.example")];
    let body = r#"{"username":"x2","password":"X2!secret","firstname":"X","lastname":"Y","email":"x2@example.org"}"#;
    let write = console(&app, Method::POST, "action=createUser", Some(body), &token, &evil).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN, "{}", write.text);
    let after = console(&app, Method::GET, "action=getUsers&username=x2", None, &token, &[MARK]).await;
    assert_eq!(after.status, StatusCode::NOT_FOUND, "nothing created: {}", after.text);
}

#[tokio::test]
async fn a_normal_session_gets_the_published_not_authorized_answer() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("carol", "carol@example.org").await;
    let token = app.log_on("carol@example.org", PASSWORD).await;
    let audit = console(&app, Method::GET, "action=getAudit", None, &token, &[MARK]).await;
    assert_eq!(audit.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        audit.json(),
        serde_json::json!({ "code": "C7040001", "error": "Invalid Authentication." })
    );
    let body = r#"{"username":"carol"}"#;
    let delete = console(&app, Method::POST, "action=deleteUser", Some(body), &token, &[MARK]).await;
    assert_eq!(delete.json()["code"], "C4040001");
    // A session is not the password: a user cannot re-password themselves with it.
    let pw = r#"{"username":"carol","password":"N3w!secret"}"#;
    let change = console(&app, Method::POST, "action=changePassword", Some(pw), &token, &[MARK]).await;
    assert_eq!(change.json()["code"], "C3040001");
    // getUsers shows a user only themselves, as with Basic.
    let users = console(&app, Method::GET, "action=getUsers", None, &token, &[MARK]).await;
    assert_eq!(users.json()["count"], 1);
    assert_eq!(users.json()["users"][0]["username"], "carol");
}

#[tokio::test]
async fn an_ended_session_is_refused_without_a_basic_challenge() {
    let app = TestApp::spawn(BACKEND).await;
    let token = admin_token(&app).await;
    app.post("/users/api/logout", "{}", Some(&token)).await;
    let reply = console(&app, Method::GET, "action=getUsers", None, &token, &[MARK]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["code"], "C5010001");
    // The console handles a 401 itself: a challenge would make the browser hold the request.
    assert!(reply.headers.get("www-authenticate").is_none());
    let garbage = console(&app, Method::GET, "action=getUsers", None, "not.a.jwt", &[MARK]).await;
    assert_eq!(garbage.json()["code"], "C5010001");
}

#[tokio::test]
async fn basic_clients_are_unchanged_even_with_a_cookie_and_the_marker() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("carol", "carol@example.org").await;
    let admin = admin_token(&app).await;
    // Authorization present: it alone decides (here a normal user's), the cookie is ignored.
    let auth = basic("carol", PASSWORD);
    let headers = [MARK, ("authorization", auth.as_str())];
    let audit = console(&app, Method::GET, "action=getAudit", None, &admin, &headers).await;
    audit.assert_error(StatusCode::UNAUTHORIZED, "C7040001", "Invalid Authentication.");
    let reply = app
        .userapi(Method::GET, "action=getUsers", None, Some(&basic("admin", ADMIN_PASSWORD)))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let none = app.userapi(Method::GET, "action=getUsers", None, None).await;
    none.assert_error(StatusCode::UNAUTHORIZED, "C5010001", "Authorization failed.");
}
