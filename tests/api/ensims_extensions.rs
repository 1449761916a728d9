// JESS session calls, registration and own-password change.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, ADMIN_PASSWORD, PASSWORD};

use super::BACKEND;

const NO_JESS: &str = r#"{"ok":false,"status":"No JESS session key is assigned.","data":null}"#;
const JESS_REFUSED: &str = r#"{"ok":false,"status":"The supplied user and passwd pair does not match any record on JESS.","data":null}"#;

#[tokio::test]
async fn a_jess_link_is_stored_hidden_and_reported() {
    let app = TestApp::spawn(BACKEND).await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    assert_eq!(
        app.get("/jess_web/api/session", Some(&token)).await.text,
        NO_JESS
    );
    let reply = app
        .post(
            "/jess_web/api/session",
            r#"{"jessUser":"TestUser","jessPwd":"jess-secret"}"#,
            Some(&token),
        )
        .await;
    assert_eq!(
        reply.text,
        r#"{"ok":true,"status":"New JESS session key is assigned.","data":null}"#
    );
    assert_eq!(
        app.get("/jess_web/api/session", Some(&token)).await.text,
        r#"{"ok":true,"status":"JESS session key is valid.","data":null}"#
    );
    let account = app.account(&token).await;
    assert_eq!(
        (
            account["jess_user"].clone(),
            account["jess_pwd"].clone(),
            account["use_jess"].clone()
        ),
        (json!("TestUser"), json!("hidden"), json!(true))
    );
    // A round trip of the GET shape with the placeholder leaves the secret alone.
    let body = json!({"data": account}).to_string();
    assert_eq!(
        app.post("/users/api/user", &body, Some(&token))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/jess_web/api/session", Some(&token)).await.json()["ok"],
        true
    );
}

#[tokio::test]
async fn an_empty_jess_credential_is_refused() {
    let app = TestApp::spawn(BACKEND).await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    for body in [
        r#"{"jessUser":"","jessPwd":"x"}"#,
        r#"{"jessUser":"u","jessPwd":""}"#,
        r"{}",
        r#"{"jessUser":5,"jessPwd":"x"}"#,
    ] {
        let reply = app.post("/jess_web/api/session", body, Some(&token)).await;
        assert_eq!(
            (reply.status, reply.text.as_str()),
            (StatusCode::OK, JESS_REFUSED),
            "{body}"
        );
    }
    assert_eq!(
        app.get("/jess_web/api/session", Some(&token)).await.text,
        NO_JESS
    );
}

#[tokio::test]
async fn registration_is_off_by_default() {
    let app = TestApp::spawn(BACKEND).await;
    let reply = app
        .post(
            "/users/api/register",
            r#"{"email":"new@example.com","password":"S3cure!pass"}"#,
            None,
        )
        .await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (
            StatusCode::NOT_FOUND,
            r#"{"ok":false,"status":"Registration is disabled."}"#
        )
    );
}

#[tokio::test]
async fn registration_creates_a_normal_account_that_can_log_on() {
    let app = TestApp::spawn_with(BACKEND, |c| c.allow_registration = true).await;
    let body = r#"{"email":"new@example.com","password":"S3cure!pass","firstname":"Nia"}"#;
    let reply = app.post("/users/api/register", body, None).await;
    assert_eq!(
        reply.text,
        r#"{"ok":true,"status":"Account registered successfully!"}"#
    );
    let logon = app
        .try_log_on("new@example.com", "S3cure!pass")
        .await;
    assert_eq!(logon.json()["user"], "Nia");
    assert_eq!(logon.json()["role"], "user");
    // A second account with the same local part gets a unique user name.
    let again = app
        .post(
            "/users/api/register",
            r#"{"email":"new@example.org","password":"S3cure!pass"}"#,
            None,
        )
        .await;
    assert_eq!(again.json()["ok"], true);
    let names: Vec<String> = app
        .accounts
        .list_users(&app.accounts.operator(), 0, 10)
        .await
        .unwrap()
        .0
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(names, ["admin", "new", "new2"]);
}

#[tokio::test]
async fn registration_refuses_a_weak_password_and_a_taken_email() {
    let app = TestApp::spawn_with(BACKEND, |c| c.allow_registration = true).await;
    let weak = app
        .post(
            "/users/api/register",
            r#"{"email":"new@example.com","password":"short"}"#,
            None,
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        weak.json()["status"],
        "Password does not satisfy the password policy: it must be at least 6 characters long."
    );
    let taken = app
        .post(
            "/users/api/register",
            r#"{"email":"ADMIN@localhost","password":"S3cure!pass"}"#,
            None,
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(app.accounts.list_users(&app.accounts.operator(), 0, 10).await.unwrap().1, 1);
}

#[tokio::test]
async fn changing_ones_password_keeps_this_session_and_ends_the_others() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let current = app.log_on("john@example.com", PASSWORD).await;
    let other = app.log_on("john@example.com", PASSWORD).await;
    let body = format!(r#"{{"password":"{PASSWORD}","newPassword":"N3w!password"}}"#);
    let reply = app.post("/users/api/password", &body, Some(&current)).await;
    assert_eq!(
        reply.text,
        r#"{"ok":true,"status":"Password changed successfully!"}"#
    );
    assert_eq!(
        app.get("/users/api/user", Some(&current)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/users/api/user", Some(&other)).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.log_on("john@example.com", "N3w!password").await;
    let old = app
        .try_log_on("john@example.com", PASSWORD)
        .await;
    assert_eq!(old.json()["ok"], false);
}

#[tokio::test]
async fn a_wrong_current_password_or_a_policy_failure_changes_nothing() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let token = app.log_on("john@example.com", PASSWORD).await;
    let wrong = app
        .post(
            "/users/api/password",
            r#"{"password":"nope","newPassword":"N3w!password"}"#,
            Some(&token),
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.text.as_str()),
        (
            StatusCode::OK,
            r#"{"ok":false,"status":"Current password is incorrect."}"#
        )
    );
    let cases = [
        ("n3w!password", "it must contain an uppercase letter"),
        ("xJohn.s!1", "it must not contain the user name"),
        (
            PASSWORD,
            "it must not equal any of the previous six passwords",
        ),
        ("P@ssw0rd", "it is a commonly used password"),
    ];
    for (new, rule) in cases {
        let body = json!({"password": PASSWORD, "newPassword": new}).to_string();
        let reply = app.post("/users/api/password", &body, Some(&token)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{new}");
        assert_eq!(
            reply.json()["status"],
            format!("Password does not satisfy the password policy: {rule}.")
        );
    }
    app.log_on("john@example.com", PASSWORD).await;
}

#[tokio::test]
async fn the_history_rule_remembers_six_passwords() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let token = app.log_on("john@example.com", PASSWORD).await;
    let mut current = PASSWORD.to_owned();
    for i in 1..=6 {
        let next = format!("N3w!pass{i}");
        let body = json!({"password": current, "newPassword": next}).to_string();
        assert_eq!(
            app.post("/users/api/password", &body, Some(&token))
                .await
                .json()["ok"],
            true,
            "change {i}"
        );
        current = next;
    }
    // PASSWORD is now the seventh back: allowed again; N3w!pass2 is among the last six.
    let recent = json!({"password": current, "newPassword": "N3w!pass2"}).to_string();
    assert_eq!(
        app.post("/users/api/password", &recent, Some(&token))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let old = json!({"password": current, "newPassword": PASSWORD}).to_string();
    assert_eq!(
        app.post("/users/api/password", &old, Some(&token))
            .await
            .json()["ok"],
        true
    );
}
