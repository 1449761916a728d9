// `GET/POST /users/api/user`: the seed's example and every partial-update edge case.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{TestApp, PASSWORD};

use super::BACKEND;

const UPDATED: &str =
    r#"{"ok":true,"status":"Account details updated successfully!","session":null}"#;

/// A server with john.s holding a filled-in profile, and his token.
async fn john() -> (TestApp, String) {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let token = app.log_on("john@example.com", PASSWORD).await;
    let profile = r#"{"firstname":"John","surname":"Smith","company":"ENSIMS","tel":"1234567890","country":"UK","use_jess":true}"#;
    assert_eq!(
        app.post("/users/api/user", profile, Some(&token))
            .await
            .text,
        UPDATED
    );
    (app, token)
}

/// `before` with `changes` applied.
fn with(before: &Value, changes: Value) -> Value {
    let mut after = before.clone();
    for (k, v) in changes.as_object().unwrap() {
        after[k] = v.clone();
    }
    after
}

#[tokio::test]
async fn the_seed_example_changes_title_and_position_only() {
    let (app, token) = john().await;
    let before = app.account(&token).await;
    let reply = app
        .post(
            "/users/api/user",
            r#"{"title": "Mr", "position": "Director"}"#,
            Some(&token),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text, UPDATED);
    assert_eq!(
        app.account(&token).await,
        with(&before, json!({"title": "Mr", "position": "Director"}))
    );
}

#[tokio::test]
async fn get_user_shows_the_eighteen_fields_in_order() {
    let (app, token) = john().await;
    let reply = app.get("/users/api/user", Some(&token)).await;
    assert_eq!(
        reply.text,
        concat!(
            r#"{"ok":true,"status":"User's account detailes included.","data":{"title":null,"firstname":"John","#,
            r#""middlename":null,"surname":"Smith","nickname":null,"position":null,"company":"ENSIMS","#,
            r#""email":"john@example.com","tel":"1234567890","address":null,"postcode":null,"country":"UK","#,
            r#""website":null,"twitter":null,"linkedin":null,"use_jess":true,"jess_user":null,"jess_pwd":null}}"#
        )
    );
    assert_eq!(reply.headers.get("cache-control").unwrap(), "no-store");
}

#[tokio::test]
async fn null_and_omitted_fields_are_ignored_and_an_empty_object_succeeds() {
    let (app, token) = john().await;
    let before = app.account(&token).await;
    for body in [
        "{}",
        r#"{"firstname":null,"surname":null,"use_jess":null,"email":null}"#,
    ] {
        assert_eq!(
            app.post("/users/api/user", body, Some(&token)).await.text,
            UPDATED
        );
        assert_eq!(app.account(&token).await, before, "{body}");
    }
}

#[tokio::test]
async fn an_empty_string_clears_a_field_to_null() {
    let (app, token) = john().await;
    let before = app.account(&token).await;
    assert_eq!(
        app.post(
            "/users/api/user",
            r#"{"company":"","tel":""}"#,
            Some(&token)
        )
        .await
        .text,
        UPDATED
    );
    assert_eq!(
        app.account(&token).await,
        with(&before, json!({"company": null, "tel": null}))
    );
}

#[tokio::test]
async fn unknown_fields_are_ignored_and_the_get_shape_is_accepted() {
    let (app, token) = john().await;
    let before = app.account(&token).await;
    let body = r#"{"nickname":"Johnny","favourite":"tea","role":"admin","username":"root"}"#;
    assert_eq!(
        app.post("/users/api/user", body, Some(&token)).await.text,
        UPDATED
    );
    let mid = with(&before, json!({"nickname": "Johnny"}));
    assert_eq!(app.account(&token).await, mid);

    // A client GETs the object and POSTs it straight back, wrapped as it came.
    let mut round_trip = app.get("/users/api/user", Some(&token)).await.json();
    round_trip["data"]["position"] = json!("CTO");
    assert_eq!(
        app.post("/users/api/user", &round_trip.to_string(), Some(&token))
            .await
            .text,
        UPDATED
    );
    assert_eq!(
        app.account(&token).await,
        with(&mid, json!({"position": "CTO"}))
    );
}

#[tokio::test]
async fn top_level_fields_of_a_posted_back_get_reply_win_over_its_data() {
    let (app, token) = john().await;
    let before = app.account(&token).await;
    // The 2020 notebook: GET, set fields at the top level of the reply, POST it all back.
    let mut posted = app.get("/users/api/user", Some(&token)).await.json();
    posted["data"]["company"] = json!("Inside Ltd");
    posted["data"]["title"] = json!("Mr");
    posted["title"] = json!("Dr");
    posted["firstname"] = json!("Yi");
    posted["surname"] = Value::Null;
    assert_eq!(
        app.post("/users/api/user", &posted.to_string(), Some(&token))
            .await
            .text,
        UPDATED
    );
    let expected = with(
        &before,
        json!({"company": "Inside Ltd", "title": "Dr", "firstname": "Yi"}),
    );
    assert_eq!(app.account(&token).await, expected);
}

#[tokio::test]
async fn the_jess_fields_do_not_take_effect_through_this_call() {
    let (app, token) = john().await;
    let before = app.account(&token).await;
    let body = r#"{"jess_user":"TestUser","jess_pwd":"hidden"}"#;
    assert_eq!(
        app.post("/users/api/user", body, Some(&token)).await.text,
        UPDATED
    );
    let after = app.account(&token).await;
    assert_eq!(after, before);
    assert_eq!(
        (after["jess_user"].clone(), after["jess_pwd"].clone()),
        (Value::Null, Value::Null)
    );
}

#[tokio::test]
async fn bad_values_get_400_naming_the_field_and_change_nothing() {
    let (app, token) = john().await;
    let before = app.account(&token).await;
    let long = "x".repeat(256);
    let cases = [
        ("not json".to_owned(), "Request body is not valid JSON."),
        ("[]".to_owned(), "Request body must be a JSON object."),
        (
            r#"{"title":"Dr","tel":12345}"#.to_owned(),
            "Field 'tel' must be a string or null.",
        ),
        (
            r#"{"title":"Dr","use_jess":"yes"}"#.to_owned(),
            "Field 'use_jess' must be a boolean or null.",
        ),
        (
            format!(r#"{{"title":"Dr","address":"{long}"}}"#),
            "Field 'address' is longer than 255 characters.",
        ),
        (
            r#"{"title":"Dr","company":"a\u0007b"}"#.to_owned(),
            "Field 'company' contains control characters.",
        ),
        (
            r#"{"title":"Dr","email":""}"#.to_owned(),
            "Field 'email' cannot be cleared.",
        ),
        (
            r#"{"title":"Dr","email":"not-an-address"}"#.to_owned(),
            "Field 'email' is not a valid email address.",
        ),
        (
            r#"{"title":"Dr","position":{"nested":[1,2,3]}}"#.to_owned(),
            "Field 'position' must be a string or null.",
        ),
    ];
    for (body, message) in cases {
        let reply = app.post("/users/api/user", &body, Some(&token)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            reply.json(),
            json!({"ok": false, "status": message}),
            "{body}"
        );
    }
    assert_eq!(app.account(&token).await, before);
}

#[tokio::test]
async fn an_email_used_by_another_account_is_refused_with_409() {
    let (app, token) = john().await;
    app.add_user("jane", "jane@example.com").await;
    let before = app.account(&token).await;
    for taken in ["jane@example.com", "JANE@Example.com"] {
        let body = format!(r#"{{"title":"Dr","email":"{taken}"}}"#);
        let reply = app.post("/users/api/user", &body, Some(&token)).await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
        assert_eq!(reply.json()["ok"], false);
    }
    assert_eq!(app.account(&token).await, before);
}

#[tokio::test]
async fn a_changed_email_becomes_the_login() {
    let (app, token) = john().await;
    let body = r#"{"email":"John.Smith@example.org"}"#;
    assert_eq!(
        app.post("/users/api/user", body, Some(&token)).await.text,
        UPDATED
    );
    assert_eq!(app.account(&token).await["email"], "John.Smith@example.org");
    let old = app
        .try_log_on("john@example.com", PASSWORD)
        .await;
    assert_eq!(old.json()["ok"], false);
    app.log_on("john.smith@example.org", PASSWORD).await;
}

#[tokio::test]
async fn the_current_email_and_255_character_values_are_accepted() {
    let (app, token) = john().await;
    let before = app.account(&token).await;
    let full = "é".repeat(255);
    let body = format!(r#"{{"email":"john@example.com","linkedin":"{full}"}}"#);
    assert_eq!(
        app.post("/users/api/user", &body, Some(&token)).await.text,
        UPDATED
    );
    assert_eq!(
        app.account(&token).await,
        with(&before, json!({"linkedin": full}))
    );
}

#[tokio::test]
async fn an_oversized_body_gets_413_in_the_dialect_format() {
    let (app, token) = john().await;
    let body = format!(r#"{{"title":"{}"}}"#, "x".repeat(70 * 1024));
    let reply = app.post("/users/api/user", &body, Some(&token)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        reply.text,
        r#"{"ok":false,"status":"Request body too large."}"#
    );
}

#[tokio::test]
async fn hostile_json_is_refused_without_harm() {
    let (app, token) = john().await;
    let before = app.account(&token).await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let bodies = [
        deep,
        r#"{"title":1e999999}"#.into(),
        "{\"title\":\"\\ud800\"}".into(),
        "{\"title\":\"a\u{0}b\"}".into(),
    ];
    for body in &bodies {
        let reply = app.post("/users/api/user", body, Some(&token)).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{}",
            &body[..body.len().min(40)]
        );
    }
    let invalid_utf8 = app
        .client
        .post(app.url("/users/api/user"))
        .header("cookie", format!("session_token={token}"))
        .body(vec![
            b'{', b'"', b't', b'i', b't', b'l', b'e', b'"', b':', b'"', 0xff, 0xfe, b'"', b'}',
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(invalid_utf8.status(), StatusCode::BAD_REQUEST);
    // Duplicate keys: the last one counts, as in most JSON parsers.
    assert_eq!(
        app.post(
            "/users/api/user",
            r#"{"title":"A","title":"B"}"#,
            Some(&token)
        )
        .await
        .text,
        UPDATED
    );
    assert_eq!(
        app.account(&token).await,
        with(&before, json!({"title": "B"}))
    );
}
