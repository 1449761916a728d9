// Log on, check-in, confirm, log off: replies byte for byte, cookies, rotation, revocation.

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, ADMIN_PASSWORD, PASSWORD};

use super::BACKEND;

const NO_MATCH: &str =
    r#"{"ok":false,"status":"No matching username and password pair was found!"}"#;
const MISMATCH: &str = r#"{"ok":false,"status":"User does not match the existing session"}"#;
const UNAUTHORIZED: &str = r#"{"ok":false,"status":"Unauthorized"}"#;

#[tokio::test]
async fn log_on_replies_with_the_auth_object_and_the_cookie_first() {
    let app = TestApp::spawn(BACKEND).await;
    let reply = app
        .try_log_on("admin@localhost", "Adm1n!pass-word")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.text,
        r#"{"ok":true,"status":"Logged in successfully!","jwt":"Session token in cookie","user":"admin","role":"admin","email":"admin@localhost"}"#
    );
    let cookie = reply.set_cookie();
    assert!(cookie.starts_with("session_token="), "{cookie}");
    let token = reply.token();
    assert!(
        !token.contains('=') && !token.contains('"'),
        "unquoted, unpadded: {token}"
    );
    for attr in ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=28800"] {
        assert!(
            cookie.split("; ").any(|a| a == attr),
            "{attr} missing in {cookie}"
        );
    }
    assert!(
        !reply.text.contains(&token),
        "the body never carries the token"
    );
}

#[tokio::test]
async fn logon_is_an_alias_of_auth_and_shows_a_normal_user_as_user() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let body = format!(r#"{{"email":"JOHN@example.com","password":"{PASSWORD}"}}"#);
    let reply = app.post("/users/api/logon", &body, None).await;
    assert_eq!(
        reply.text,
        r#"{"ok":true,"status":"Logged in successfully!","jwt":"Session token in cookie","user":"john.s","role":"user","email":"john@example.com"}"#
    );
}

#[tokio::test]
async fn unknown_email_and_wrong_password_give_identical_replies() {
    let app = TestApp::spawn(BACKEND).await;
    let unknown = app
        .try_log_on("nobody@example.com", "x")
        .await;
    let wrong = app
        .try_log_on("admin@localhost", "x")
        .await;
    for reply in [&unknown, &wrong] {
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.text, NO_MATCH);
        assert!(reply.headers.get("set-cookie").is_none());
    }
}

#[tokio::test]
async fn malformed_credentials_get_400_naming_the_problem() {
    let app = TestApp::spawn(BACKEND).await;
    let cases = [
        ("not json", "Request body is not valid JSON."),
        ("[1,2]", "Request body must be a JSON object."),
        (r#"{"password":"x"}"#, "Field 'email' is required."),
        (
            r#"{"email":5,"password":"x"}"#,
            "Field 'email' must be a string.",
        ),
        (r#"{"email":"a@b"}"#, "Field 'password' is required."),
    ];
    for (body, message) in cases {
        let reply = app.post("/users/api/auth", body, None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            reply.json(),
            serde_json::json!({"ok": false, "status": message}),
            "{body}"
        );
    }
}

#[tokio::test]
async fn check_in_issues_a_new_token_for_the_same_session_and_the_old_one_keeps_working() {
    let app = TestApp::spawn(BACKEND).await;
    let old = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let reply = app.post("/users/api/checkin", "", Some(&old)).await;
    assert_eq!(
        reply.text,
        r#"{"ok":true,"status":"Session renewed successfully!","jwt":"Session key cookie","user":"admin","role":"admin","email":"admin@localhost"}"#
    );
    let new = reply.token();
    assert_ne!(new, old);
    // The CLI client drops the new cookie and goes on with the token it holds.
    for token in [&old, &new, &old] {
        assert_eq!(
            app.get("/users/api/user", Some(token)).await.status,
            StatusCode::OK
        );
    }
    let again = app.post("/users/api/checkin", "", Some(&old)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_ne!(again.token(), new);
}

#[tokio::test]
async fn log_off_with_either_token_of_a_session_ends_both() {
    let app = TestApp::spawn(BACKEND).await;
    for log_off_with_old in [true, false] {
        let old = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
        let new = app.post("/users/api/checkin", "", Some(&old)).await.token();
        let (ending, other) = if log_off_with_old { (&old, &new) } else { (&new, &old) };
        assert_eq!(
            app.post("/users/api/logout", "", Some(ending)).await.status,
            StatusCode::OK
        );
        for token in [&old, &new] {
            let reply = app.get("/users/api/user", Some(token)).await;
            assert_eq!(
                (reply.status, reply.text.as_str()),
                (StatusCode::UNAUTHORIZED, UNAUTHORIZED)
            );
        }
        assert_eq!(
            app.post("/users/api/checkin", "", Some(other)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn a_check_in_token_never_outlives_the_session_absolute_limit() {
    let app = TestApp::spawn_with(BACKEND, |c| {
        c.token_ttl = 3600;
        c.session_max_age = 5;
    })
    .await;
    let old = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let reply = app.post("/users/api/checkin", "", Some(&old)).await;
    let max_age: i64 = reply
        .set_cookie()
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!((0..=5).contains(&max_age), "{max_age}");
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    for token in [&old, &reply.token()] {
        assert_eq!(
            app.get("/users/api/user", Some(token)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn check_in_and_log_off_ignore_whatever_body_arrives() {
    let app = TestApp::spawn(BACKEND).await;
    let mut token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let cookie = |t: &str| format!("session_token={t}");
    for body in [None, Some(""), Some("{}"), Some("\"\""), Some("garbage{")] {
        let reply = app
            .send(
                Method::POST,
                "/users/api/checkin",
                body,
                Some(&cookie(&token)),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "body {body:?}: {}",
            reply.text
        );
        token = reply.token();
    }
    let reply = app
        .send(
            Method::POST,
            "/users/api/logout",
            Some("garbage{"),
            Some(&cookie(&token)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn the_raw_set_cookie_string_works_as_the_cookie_header() {
    let app = TestApp::spawn(BACKEND).await;
    let reply = app
        .try_log_on("admin@localhost", "Adm1n!pass-word")
        .await;
    let raw = reply.set_cookie();
    let get = app
        .send(Method::GET, "/users/api/user", None, Some(&raw))
        .await;
    assert_eq!(get.status, StatusCode::OK, "{}", get.text);
    let checkin = app
        .send(Method::POST, "/users/api/checkin", None, Some(&raw))
        .await;
    assert_eq!(checkin.status, StatusCode::OK);
    assert!(checkin.set_cookie().starts_with("session_token="));
}

#[tokio::test]
async fn a_bearer_token_is_accepted_where_no_cookie_is_sent() {
    let app = TestApp::spawn(BACKEND).await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let reply = app
        .client
        .get(app.url("/users/api/user"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
}

#[tokio::test]
async fn log_off_clears_the_cookie_and_revokes_the_token() {
    let app = TestApp::spawn(BACKEND).await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let reply = app.post("/users/api/logout", "", Some(&token)).await;
    assert_eq!(
        reply.text,
        r#"{"ok":true,"status":"Logged out successfully!","jwt":"Session token cleared","user":null,"role":null,"email":null}"#
    );
    let cookie = reply.set_cookie();
    assert!(
        cookie.starts_with("session_token=; Path=/; Max-Age=0"),
        "{cookie}"
    );
    let again = app.get("/users/api/user", Some(&token)).await;
    assert_eq!(
        (again.status, again.text.as_str()),
        (StatusCode::UNAUTHORIZED, UNAUTHORIZED)
    );
}

#[tokio::test]
async fn confirm_rotates_the_session_for_the_right_credentials() {
    let app = TestApp::spawn(BACKEND).await;
    let old = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let reply = app
        .post(
            "/users/api/confirm",
            r#"{"email":"admin@localhost","password":"Adm1n!pass-word"}"#,
            Some(&old),
        )
        .await;
    assert_eq!(
        reply.text,
        r#"{"ok":true,"status":"User credential confirmed!","jwt":"Session key cookie","user":"admin","role":"admin","email":"admin@localhost"}"#
    );
    let new = reply.token();
    assert_eq!(
        app.get("/users/api/user", Some(&old)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/users/api/user", Some(&new)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn confirm_refuses_another_account_an_unknown_email_and_a_wrong_password() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let other = format!(r#"{{"email":"john@example.com","password":"{PASSWORD}"}}"#);
    for body in [
        other.as_str(),
        r#"{"email":"x@y.z","password":"p"}"#,
        r#"{"email":"admin@localhost","password":"wrong"}"#,
    ] {
        let reply = app.post("/users/api/confirm", body, Some(&token)).await;
        assert_eq!(
            (reply.status, reply.text.as_str()),
            (StatusCode::OK, MISMATCH),
            "{body}"
        );
        assert!(reply.headers.get("set-cookie").is_none());
    }
    assert_eq!(
        app.get("/users/api/user", Some(&token)).await.status,
        StatusCode::OK,
        "the session survives"
    );
}

#[tokio::test]
async fn a_state_changing_call_from_another_site_is_refused() {
    let app = TestApp::spawn(BACKEND).await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let reply = app
        .client
        .post(app.url("/users/api/user"))
        .header("cookie", format!("session_token={token}"))
        .header("origin", "https://evil.example")
        .body(r#"{"title":"Pwned"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.account(&token).await["title"], serde_json::Value::Null);
}

#[tokio::test]
async fn info_describes_the_api() {
    let app = TestApp::spawn(BACKEND).await;
    let reply = app.get("/users/api/info", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply
            .text
            .starts_with(r#"{"Title":"Users Web API","Description":"#),
        "{}",
        reply.text
    );
    let v = reply.json();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = vec![
        "Title",
        "Description",
        "Major",
        "Minor",
        "Revision",
        "Release",
        "Update",
        "Notice",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(
        (
            v["Major"].as_u64(),
            v["Minor"].as_u64(),
            v["Revision"].as_u64()
        ),
        (Some(1), Some(0), Some(0))
    );
}

#[tokio::test]
async fn jess_info_answers_without_a_session_in_the_published_shape() {
    let app = TestApp::spawn(BACKEND).await;
    let reply = app.get("/jess_web/api/info", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply
            .text
            .starts_with(r#"{"Title":"JESS Web API","Description":"#),
        "{}",
        reply.text
    );
    let v = reply.json();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = vec![
        "Title",
        "Description",
        "Major",
        "Minor",
        "Revision",
        "Release",
        "Update",
        "Notice",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!((v["Major"].as_u64(), v["Minor"].as_u64()), (Some(1), Some(0)));
    assert!(v["Release"].is_string() && v["Update"].is_u64(), "{v}");
}
