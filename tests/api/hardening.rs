// Throttling, the audit trail, optimistic concurrency and security headers.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{basic, TestApp, ADMIN_PASSWORD, PASSWORD};

use super::BACKEND;

const THROTTLED: &str = r#"{"ok":false,"status":"Too many attempts, try again later."}"#;

#[tokio::test]
async fn the_sixth_log_on_after_five_failures_is_refused_even_with_the_right_password() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    for _ in 0..5 {
        let reply = app.try_log_on("john@example.com", "wrong").await;
        assert_eq!(reply.json()["ok"], false);
    }
    let reply = app.try_log_on("john@example.com", PASSWORD).await;
    assert_eq!((reply.status, reply.text.as_str()), (StatusCode::TOO_MANY_REQUESTS, THROTTLED));
    let retry: u64 = reply.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert!(reply.headers.get("set-cookie").is_none());
    // Another account from the same address is not affected by five failures.
    app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    // An unknown email is counted the same way, so the two cannot be told apart.
    for _ in 0..5 {
        app.try_log_on("ghost@example.com", "x").await;
    }
    let ghost = app.try_log_on("ghost@example.com", "x").await;
    assert_eq!(ghost.status, StatusCode::TOO_MANY_REQUESTS);
    // An admin's unlock ends the back-off.
    let actor = roster::domain::Actor::anonymous(roster::domain::Dialect::Cli, None);
    app.accounts.unlock(&app.accounts.operator(), "john.s", &actor).await.unwrap();
    app.log_on("john@example.com", PASSWORD).await;
}

#[tokio::test]
async fn basic_failures_are_throttled_in_the_userapi_format() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    for _ in 0..5 {
        let reply = app.userapi(Method::GET, "action=getUsers", None, Some(&basic("john.s", "wrong"))).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let reply = app.userapi(Method::GET, "action=getUsers", None, Some(&basic("john.s", PASSWORD))).await;
    reply.assert_error(StatusCode::TOO_MANY_REQUESTS, "C5010006", "Too many failed attempts, try again later.");
    assert!(reply.headers.get("retry-after").is_some());
    // The same account is throttled through ENSIMS too: one counter per account.
    let ensims = app.try_log_on("john@example.com", PASSWORD).await;
    assert_eq!(ensims.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn fifty_failures_from_one_address_throttle_that_address() {
    let app = TestApp::spawn(BACKEND).await;
    for i in 0..50 {
        app.try_log_on(&format!("nobody{i}@example.com"), "x").await;
    }
    let reply = app.try_log_on("admin@localhost", ADMIN_PASSWORD).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_wrong_current_password_is_throttled_like_a_log_on() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let token = app.log_on("john@example.com", PASSWORD).await;
    for _ in 0..5 {
        let body = json!({"password": "wrong", "newPassword": "N3w!password"}).to_string();
        assert_eq!(app.post("/users/api/password", &body, Some(&token)).await.status, StatusCode::OK);
    }
    let body = json!({"password": PASSWORD, "newPassword": "N3w!password"}).to_string();
    assert_eq!(app.post("/users/api/password", &body, Some(&token)).await.text, THROTTLED);
}

async fn audit(app: &TestApp, query: &str) -> Value {
    let reply = app.userapi(Method::GET, &format!("action=getAudit&{query}"), None, Some(&basic("admin", ADMIN_PASSWORD))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()
}

#[tokio::test]
async fn every_change_is_audited_with_old_and_new_values_and_secrets_hidden() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let token = app.log_on("john@example.com", PASSWORD).await;
    app.post("/users/api/user", r#"{"title":"Mr","company":"ENSIMS"}"#, Some(&token)).await;
    app.post("/users/api/user", r#"{"title":"Dr"}"#, Some(&token)).await;
    app.post("/jess_web/api/session", r#"{"jessUser":"TestUser","jessPwd":"jess-secret-9"}"#, Some(&token)).await;
    let body = json!({"password": PASSWORD, "newPassword": "N3w!password"}).to_string();
    app.post("/users/api/password", &body, Some(&token)).await;
    app.try_log_on("john@example.com", "bad-guess-7").await;
    app.admin("updateUser", r#"{"username":"john.s","locale":"ja-jp"}"#).await;

    let v = audit(&app, "username=john.s").await;
    let records = v["records"].as_array().unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["update", "logon_failed", "password", "jess_link", "update", "update", "create"]);
    assert_eq!(v["count"], 7);
    let by_admin = &records[0];
    assert_eq!((by_admin["actor"].as_str(), by_admin["dialect"].as_str()), (Some("admin"), Some("userapi")));
    assert_eq!(by_admin["changes"], json!([{"field":"locale","old":"en-us","new":"ja-jp"}]));
    let title = &records[4];
    assert_eq!((title["actor"].as_str(), title["dialect"].as_str(), title["address"].as_str()), (Some("john.s"), Some("ensims"), Some("127.0.0.1")));
    assert_eq!(title["changes"], json!([{"field":"title","old":"Mr","new":"Dr"}]));
    assert_eq!(records[5]["changes"], json!([{"field":"title","old":null,"new":"Mr"},{"field":"company","old":null,"new":"ENSIMS"}]));
    assert_eq!(records[2]["changes"], json!([{"field":"password","old":"***","new":"***"}]));
    assert!(records[3]["changes"].as_array().unwrap().contains(&json!({"field":"jess_pwd","old":null,"new":"***"})));
    assert!(records[0]["time"].as_str().unwrap().ends_with('Z'));
    let everything = audit(&app, "limit=1000").await.to_string();
    for secret in [PASSWORD, "N3w!password", "jess-secret-9", "bad-guess-7"] {
        assert!(!everything.contains(secret), "{secret} leaked into the audit trail");
    }
}

#[tokio::test]
async fn deletion_and_log_off_are_audited() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let token = app.log_on("john@example.com", PASSWORD).await;
    app.post("/users/api/logout", "", Some(&token)).await;
    app.admin("deleteUser", r#"{"username":"john.s"}"#).await;
    let v = audit(&app, "limit=3").await;
    let actions: Vec<&str> = v["records"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["delete", "logout", "create"]);
}

#[tokio::test]
async fn get_audit_code_rows() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let admin = basic("admin", ADMIN_PASSWORD);
    let call = |query: &'static str, auth: Option<String>| {
        let app = &app;
        async move { app.userapi(Method::GET, &format!("action=getAudit&{query}"), None, auth.as_deref()).await }
    };
    call("", None).await.assert_error(StatusCode::UNAUTHORIZED, "C7010001", "Authorization failed.");
    call("", Some(basic("john.s", PASSWORD))).await.assert_error(StatusCode::UNAUTHORIZED, "C7040001", "Invalid Authentication.");
    call("since=yesterday", Some(admin.clone())).await.assert_error(StatusCode::BAD_REQUEST, "C7010004", "Invalid value specified for parameter {since}.");
    call("limit=0", Some(admin.clone())).await.assert_error(StatusCode::BAD_REQUEST, "C7010004", "Invalid value specified for parameter {limit}.");
    call("username=ghost", Some(admin.clone())).await.assert_error(
        StatusCode::NOT_FOUND,
        "C7040006",
        "User name that is specified in the parameter {username} does not exist.",
    );
    let future = call("since=2999-01-01T00:00:00Z", Some(admin.clone())).await;
    assert_eq!(future.text, r#"{"records":[],"count":0}"#);
    let delete = app.userapi(Method::DELETE, "action=getAudit", None, Some(&admin)).await;
    delete.assert_error(StatusCode::METHOD_NOT_ALLOWED, "C70100E0", "HTTP method [DELETE] is not supported for action [getAudit]");
}

#[tokio::test]
async fn get_audit_finds_a_deleted_account_by_the_name_its_records_were_written_under() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("Del.Me", "del@example.com").await;
    app.admin("updateUser", r#"{"username":"Del.Me","locale":"ja-jp"}"#).await;
    app.admin("deleteUser", r#"{"username":"del.me"}"#).await;
    let admin = basic("admin", ADMIN_PASSWORD);
    let users = app.userapi(Method::GET, "action=getUsers&username=Del.Me", None, Some(&admin)).await;
    assert_eq!(users.status, StatusCode::NOT_FOUND, "the account is gone: {}", users.text);
    // Any case of the name finds the records, written under the account's own spelling.
    for name in ["Del.Me", "del.me", "DEL.ME"] {
        let v = audit(&app, &format!("username={name}")).await;
        let records = v["records"].as_array().unwrap();
        let actions: Vec<&str> = records.iter().map(|r| r["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["delete", "update", "create"], "{name}");
        assert!(records.iter().all(|r| r["username"] == "Del.Me"), "{v}");
        assert_eq!(records[1]["changes"], json!([{"field":"locale","old":"en-us","new":"ja-jp"}]));
    }
    // Records that exist but fall before `since` are no error: the name is known.
    let later = audit(&app, "username=del.me&since=2999-01-01T00:00:00Z").await;
    assert_eq!(later, json!({"records": [], "count": 0}));
    // A name with neither an account nor a record is still C7040006.
    let ghost = app.userapi(Method::GET, "action=getAudit&username=never.was", None, Some(&admin)).await;
    ghost.assert_error(StatusCode::NOT_FOUND, "C7040006", "User name that is specified in the parameter {username} does not exist.");
    // A new account of the same name sees the old records with its own.
    app.add_user("del.me", "del2@example.com").await;
    let both = audit(&app, "username=del.me").await;
    assert_eq!(both["count"], 4, "{both}");
}

#[tokio::test]
async fn if_match_with_a_stale_etag_is_refused_with_412_and_changes_nothing() {
    let app = TestApp::spawn(BACKEND).await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let etag = |r: &crate::helpers::Reply| r.headers.get("etag").unwrap().to_str().unwrap().to_owned();
    let first = etag(&app.get("/users/api/user", Some(&token)).await);
    let send = |tag: String, body: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            let reply = app.client.post(app.url("/users/api/user")).header("cookie", format!("session_token={token}")).header("if-match", tag).body(body).send().await.unwrap();
            crate::helpers::read(reply).await
        }
    };
    assert_eq!(send(first.clone(), r#"{"title":"Mr"}"#).await.status, StatusCode::OK);
    let second = etag(&app.get("/users/api/user", Some(&token)).await);
    assert_ne!(first, second, "every write changes the ETag");
    let stale = send(first, r#"{"title":"Sir"}"#).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale.json()["ok"], false);
    assert_eq!(app.account(&token).await["title"], "Mr");
    assert_eq!(send("*".into(), r#"{"title":"Dr"}"#).await.status, StatusCode::OK);
    assert_eq!(send("\"garbage\"".into(), r#"{"title":"X"}"#).await.status, StatusCode::PRECONDITION_FAILED);
    // A write through the other dialect changes the ETag as well.
    let before = etag(&app.get("/users/api/user", Some(&token)).await);
    app.admin("updateUser", r#"{"username":"admin","locale":"ja-jp"}"#).await;
    assert_ne!(etag(&app.get("/users/api/user", Some(&token)).await), before);
}

#[tokio::test]
async fn replies_carry_the_security_headers() {
    let app = TestApp::spawn(BACKEND).await;
    for reply in [app.get("/users/api/info", None).await, app.userapi(Method::GET, "action=getUsers", None, None).await] {
        assert_eq!(reply.headers.get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(reply.headers.get("cache-control").unwrap(), "no-store");
        assert!(reply.headers.get("strict-transport-security").is_none(), "no HSTS on plain HTTP");
    }
}
