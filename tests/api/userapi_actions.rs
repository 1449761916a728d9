// `userapi.do` actions: every code row, the seed's example, tokens, and the shared store.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{basic, TestApp, ADMIN_PASSWORD, PASSWORD};

use super::BACKEND;

fn john_json(extra: &str) -> String {
    format!(
        r#"{{"username":"john.s","password":"Jo1!hnpass","firstname":"John","lastname":"Smith","email":"john@example.com"{extra}}}"#
    )
}

/// Creates john.s through the API and returns his token.
async fn create_john(app: &TestApp) -> String {
    let reply = app
        .admin("createUser", &format!("[{}]", john_json("")))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()["created"]["john.s"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_seed_example_updates_email_and_locale_seen_by_both_dialects() {
    let app = TestApp::spawn(BACKEND).await;
    create_john(&app).await;
    let reply = app
        .admin(
            "updateUser",
            r#"{ "username":"john.s", "email":"johns@example.com", "locale":"ja-jp" }"#,
        )
        .await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (StatusCode::OK, r#"{"updated":"john.s"}"#)
    );

    let users = app
        .userapi(
            Method::GET,
            "action=getUsers&username=john.s",
            None,
            Some(&basic("admin", ADMIN_PASSWORD)),
        )
        .await;
    assert_eq!(
        users.text,
        r#"{"users":[{"username":"john.s","firstname":"John","lastname":"Smith","email":"johns@example.com","type":"local","role":"normal","locale":"ja-jp"}],"count":1}"#
    );
    let token = app.log_on("johns@example.com", "Jo1!hnpass").await;
    assert_eq!(app.account(&token).await["email"], "johns@example.com");
    let old = app
        .try_log_on("john@example.com", "Jo1!hnpass")
        .await;
    assert_eq!(old.json()["ok"], false);
}

#[tokio::test]
async fn an_ensims_change_is_seen_by_get_users() {
    let app = TestApp::spawn(BACKEND).await;
    create_john(&app).await;
    let token = app.log_on("john@example.com", "Jo1!hnpass").await;
    app.post(
        "/users/api/user",
        r#"{"surname":"Smythe","email":"js@example.org"}"#,
        Some(&token),
    )
    .await;
    let users = app
        .userapi(
            Method::GET,
            "action=getUsers&username=JOHN.S",
            None,
            Some(&basic("admin", ADMIN_PASSWORD)),
        )
        .await;
    assert_eq!(users.json()["users"][0]["lastname"], "Smythe");
    assert_eq!(users.json()["users"][0]["email"], "js@example.org");
}

#[tokio::test]
async fn create_user_returns_a_token_that_is_a_complete_basic_credential() {
    let app = TestApp::spawn(BACKEND).await;
    let token = create_john(&app).await;
    let reply = app
        .get_users_with_token(&token)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    // And the password logs on through ENSIMS.
    let logon = app
        .try_log_on("john@example.com", "Jo1!hnpass")
        .await;
    assert_eq!(logon.json()["user"], "John");
}

#[tokio::test]
async fn a_batch_creates_the_valid_users_and_reports_the_others() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("taken", "taken@example.com").await;
    let body = json!([
        {"username":"good1","password":"Ok1!passwd","firstname":"A","lastname":"B","email":"ok1@example.com"},
        {"password":"Ok1!passwd","firstname":"A","lastname":"B","email":"x@example.com"},
        {"username":"nofirst","password":"Ok1!passwd","lastname":"B","email":"nf@example.com"},
        {"username":"bad<name","password":"Ok1!passwd","firstname":"A","lastname":"B","email":"bn@example.com"},
        {"username":"weak","password":"weakpass","firstname":"A","lastname":"B","email":"weak@example.com"},
        {"username":"TAKEN","password":"Ok1!passwd","firstname":"A","lastname":"B","email":"t2@example.com"},
        {"username":"mail","password":"Ok1!passwd","firstname":"A","lastname":"B","email":"Taken@Example.com"},
        {"username":"longname","password":"Ok1!passwd","firstname":"A".repeat(31),"lastname":"B","email":"ln@example.com"},
        {"username":"dir","type":"ad","email":"dir@example.com","role":"admin"},
        {"username":"badtype","type":"ldap","password":"Ok1!passwd","firstname":"A","lastname":"B","email":"bt@example.com"},
        {"username":"badrole","password":"Ok1!passwd","firstname":"A","lastname":"B","email":"br@example.com","role":"root"},
        {"username":"badlocale","password":"Ok1!passwd","firstname":"A","lastname":"B","email":"bl@example.com","locale":"fr-fr"},
        {"username":"longmail","password":"Ok1!passwd","firstname":"A","lastname":"B","email":format!("{}@example.com", "m".repeat(70))},
        "not an object"
    ]);
    let reply = app.admin("createUser", &body.to_string()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let v = reply.json();
    let created: Vec<&String> = v["created"].as_object().unwrap().keys().collect();
    assert_eq!(created, ["dir", "good1"], "{}", reply.text);
    let failed: Vec<(String, String, String)> = v["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["username"].as_str().unwrap_or("-").into(),
                f["code"].as_str().unwrap().into(),
                f["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = [
        (
            "-",
            "C1010003",
            "Mandatory parameter {username} is not specified.",
        ),
        (
            "nofirst",
            "C1010003",
            "Mandatory parameter {firstname} is not specified.",
        ),
        (
            "bad<name",
            "C1010004",
            "Invalid value specified for parameter {username}.",
        ),
        (
            "weak",
            "C1010005",
            "Password does not satisfy the password policy: it must contain an uppercase letter.",
        ),
        (
            "TAKEN",
            "C1040005",
            "User name that is specified in the parameter {username} already exists.",
        ),
        (
            "mail",
            "C1040007",
            "Email address that is specified in the parameter {email} is already in use.",
        ),
        (
            "longname",
            "C1010004",
            "Invalid value specified for parameter {firstname}.",
        ),
        (
            "badtype",
            "C1010004",
            "Invalid value specified for parameter {type}.",
        ),
        (
            "badrole",
            "C1010004",
            "Invalid value specified for parameter {role}.",
        ),
        (
            "badlocale",
            "C1010004",
            "Invalid value specified for parameter {locale}.",
        ),
        (
            "longmail",
            "C1010004",
            "Invalid value specified for parameter {email}.",
        ),
        ("-", "C1010002", "Invalid JSON Request."),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| ((*a).to_string(), (*b).to_string(), (*c).to_string()))
        .collect();
    assert_eq!(failed, expected);
    // Nothing half-created: exactly admin, taken, good1 and dir exist.
    let names: Vec<String> = app
        .accounts
        .list_users(&app.accounts.operator(), 0, 100)
        .await
        .unwrap()
        .0
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(names, ["admin", "dir", "good1", "taken"]);
}

#[tokio::test]
async fn a_batch_with_nothing_created_is_400_with_only_failed() {
    let app = TestApp::spawn(BACKEND).await;
    let reply = app.admin("createUser", r#"{"username":"solo"}"#).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.text,
        r#"{"failed":[{"username":"solo","code":"C1010003","reason":"Mandatory parameter {password} is not specified."}]}"#
    );
}

#[tokio::test]
async fn create_user_refuses_bodies_that_are_not_a_user_list() {
    let app = TestApp::spawn(BACKEND).await;
    for body in ["[]", "not json", "42", r#""text""#] {
        app.admin("createUser", body).await.assert_error(
            StatusCode::BAD_REQUEST,
            "C1010002",
            "Invalid JSON Request.",
        );
    }
}

#[tokio::test]
async fn an_ad_user_has_no_password_and_cannot_log_on_or_change_it() {
    let app = TestApp::spawn(BACKEND).await;
    let reply = app.admin("createUser", r#"[{"username":"dir.user","type":"ad","email":"dir@example.com","password":"Ignored1!x"}]"#).await;
    assert_eq!(reply.status, StatusCode::OK);
    let logon = app
        .try_log_on("dir@example.com", "Ignored1!x")
        .await;
    assert_eq!(
        logon.text,
        r#"{"ok":false,"status":"No matching username and password pair was found!"}"#
    );
    app.admin(
        "changePassword",
        r#"{"username":"dir.user","password":"N3w!password"}"#,
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        "C3040008",
        "Password of an Active Directory user cannot be changed.",
    );
}

#[tokio::test]
async fn update_user_code_rows() {
    let app = TestApp::spawn(BACKEND).await;
    create_john(&app).await;
    app.add_user("jane", "jane@example.com").await;
    let cases = [
        (
            "[1]",
            StatusCode::BAD_REQUEST,
            "C2010002",
            "Invalid JSON Request.",
        ),
        (
            "{",
            StatusCode::BAD_REQUEST,
            "C2010002",
            "Invalid JSON Request.",
        ),
        (
            r#"{"email":"a@b.c"}"#,
            StatusCode::BAD_REQUEST,
            "C2010003",
            "Mandatory parameter {username} is not specified",
        ),
        (
            r#"{"username":"a b"}"#,
            StatusCode::BAD_REQUEST,
            "C2010004",
            "Invalid value specified for parameter {username}.",
        ),
        (
            r#"{"username":"john.s","email":"nope"}"#,
            StatusCode::BAD_REQUEST,
            "C2010004",
            "Invalid value specified for parameter {email}.",
        ),
        (
            r#"{"username":"john.s","locale":"xx-yy"}"#,
            StatusCode::BAD_REQUEST,
            "C2010004",
            "Invalid value specified for parameter {locale}.",
        ),
        (
            r#"{"username":"john.s","firstname":"Jo"}"#,
            StatusCode::BAD_REQUEST,
            "C2010004",
            "Invalid value specified for parameter {firstname}.",
        ),
        (
            r#"{"username":"john.s","lastname":"Sm"}"#,
            StatusCode::BAD_REQUEST,
            "C2010004",
            "Invalid value specified for parameter {lastname}.",
        ),
        (
            r#"{"username":"ghost","email":"g@example.com"}"#,
            StatusCode::NOT_FOUND,
            "C2040006",
            "User name that is specified in the parameter {username} does not exist.",
        ),
        (
            r#"{"username":"john.s","email":"JANE@example.com"}"#,
            StatusCode::BAD_REQUEST,
            "C2040007",
            "Email address that is specified in the parameter {email} is already in use.",
        ),
    ];
    for (body, status, code, message) in cases {
        app.admin("updateUser", body)
            .await
            .assert_error(status, code, message);
    }
    let users = app
        .userapi(
            Method::GET,
            "action=getUsers&username=john.s",
            None,
            Some(&basic("admin", ADMIN_PASSWORD)),
        )
        .await;
    assert_eq!(
        users.json()["users"][0]["email"],
        "john@example.com",
        "nothing changed"
    );
    assert_eq!(users.json()["users"][0]["locale"], "en-us");
    // Omitted or null fields stay as they are.
    assert_eq!(
        app.admin("updateUser", r#"{"username":"john.s","email":null}"#)
            .await
            .text,
        r#"{"updated":"john.s"}"#
    );
}

#[tokio::test]
async fn change_password_code_rows_and_token_rotation() {
    let app = TestApp::spawn(BACKEND).await;
    let old_token = create_john(&app).await;
    let session = app.log_on("john@example.com", "Jo1!hnpass").await;
    let cases = [
        ("nope", StatusCode::BAD_REQUEST, "C3010002", "Invalid JSON Request."),
        (r#"{"password":"N3w!password"}"#, StatusCode::BAD_REQUEST, "C3010003", "Mandatory parameter {username} is not specified"),
        (r#"{"username":"john.s"}"#, StatusCode::BAD_REQUEST, "C3010003", "Mandatory parameter {password} is not specified"),
        (r#"{"username":"a:b","password":"N3w!password"}"#, StatusCode::BAD_REQUEST, "C3010004", "Invalid value specified for parameter {username}."),
        (r#"{"username":"ghost","password":"N3w!password"}"#, StatusCode::NOT_FOUND, "C3040006", "User name that is specified in the parameter {username} does not exist."),
        (r#"{"username":"john.s","password":"short"}"#, StatusCode::BAD_REQUEST, "C3010005", "Password does not satisfy the password policy: it must be at least 6 characters long."),
        (r#"{"username":"john.s","password":"Jo1!hnpass"}"#, StatusCode::BAD_REQUEST, "C3010005", "Password does not satisfy the password policy: it must not equal any of the previous six passwords."),
    ];
    for (body, status, code, message) in cases {
        app.admin("changePassword", body)
            .await
            .assert_error(status, code, message);
    }
    assert_eq!(
        app.get("/users/api/user", Some(&session)).await.status,
        StatusCode::OK,
        "refusals revoke nothing"
    );

    let reply = app
        .admin(
            "changePassword",
            r#"{"username":"john.s","password":"N3w!password"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let new_token = reply.json()["updated"]["john.s"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_token, old_token);
    assert_eq!(
        app.get("/users/api/user", Some(&session)).await.status,
        StatusCode::UNAUTHORIZED,
        "sessions revoked"
    );
    let with_old = app
        .get_users_with_token(&old_token)
        .await;
    with_old.assert_error(
        StatusCode::UNAUTHORIZED,
        "C5010001",
        "Authorization failed.",
    );
    let with_new = app
        .get_users_with_token(&new_token)
        .await;
    assert_eq!(with_new.status, StatusCode::OK);
    app.log_on("john@example.com", "N3w!password").await;
}

#[tokio::test]
async fn delete_user_code_rows_and_revocation() {
    let app = TestApp::spawn(BACKEND).await;
    let token = create_john(&app).await;
    let session = app.log_on("john@example.com", "Jo1!hnpass").await;
    let cases = [
        (
            "[]",
            StatusCode::BAD_REQUEST,
            "C4010002",
            "Invalid JSON Request.",
        ),
        (
            "{}",
            StatusCode::BAD_REQUEST,
            "C4010003",
            "Mandatory parameter {username} is not specified.",
        ),
        (
            r#"{"username":12}"#,
            StatusCode::BAD_REQUEST,
            "C4010004",
            "Invalid value specified for parameter {username}.",
        ),
        (
            r#"{"username":"ghost"}"#,
            StatusCode::NOT_FOUND,
            "C4040006",
            "User name that is specified in the parameter {username} does not exist.",
        ),
        (
            r#"{"username":"Admin"}"#,
            StatusCode::BAD_REQUEST,
            "C4040009",
            "The default administrator user cannot be deleted.",
        ),
    ];
    for (body, status, code, message) in cases {
        app.admin("deleteUser", body)
            .await
            .assert_error(status, code, message);
    }
    let reply = app.admin("deleteUser", r#"{"username":"john.s"}"#).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (StatusCode::OK, r#"{"deleted":"john.s"}"#)
    );
    assert_eq!(
        app.get("/users/api/user", Some(&session)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let with_token = app
        .get_users_with_token(&token)
        .await;
    with_token.assert_error(
        StatusCode::UNAUTHORIZED,
        "C5010001",
        "Authorization failed.",
    );
    app.admin("deleteUser", r#"{"username":"john.s"}"#)
        .await
        .assert_error(
            StatusCode::NOT_FOUND,
            "C4040006",
            "User name that is specified in the parameter {username} does not exist.",
        );
}

#[tokio::test]
async fn get_users_pages_and_counts() {
    let app = TestApp::spawn(BACKEND).await;
    for i in 0..5 {
        app.add_user(&format!("user{i}"), &format!("u{i}@example.com"))
            .await;
    }
    let auth = basic("admin", ADMIN_PASSWORD);
    let page = app
        .userapi(
            Method::GET,
            "action=getUsers&offset=2&limit=2",
            None,
            Some(&auth),
        )
        .await;
    let v = page.json();
    assert_eq!(v["count"], 6);
    let names: Vec<&str> = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user1", "user2"]);
    let post = app
        .userapi(
            Method::POST,
            "action=getUsers&limit=1",
            Some("ignored"),
            Some(&auth),
        )
        .await;
    assert_eq!(post.json()["users"].as_array().unwrap().len(), 1);
    for query in ["limit=0", "limit=1001", "limit=x", "offset=-1"] {
        let field = if query.starts_with("limit") {
            "limit"
        } else {
            "offset"
        };
        app.userapi(
            Method::GET,
            &format!("action=getUsers&{query}"),
            None,
            Some(&auth),
        )
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "C5010004",
            &format!("Invalid value specified for parameter {{{field}}}."),
        );
    }
    app.userapi(
        Method::GET,
        "action=getUsers&username=ghost",
        None,
        Some(&auth),
    )
    .await
    .assert_error(
        StatusCode::NOT_FOUND,
        "C5040006",
        "User name that is specified in the parameter {username} does not exist.",
    );
}

#[tokio::test]
async fn each_password_rule_is_named() {
    let app =
        TestApp::spawn_with(BACKEND, |c| c.rules.password_policy = roster::config::PolicyName::Strict).await;
    let cases = [
        ("Sh0rt!pass", "it must be at least 12 characters long"),
        ("password1234", "it is a commonly used password"),
    ];
    for (password, rule) in cases {
        let body = json!([{"username":"u1","password":password,"firstname":"A","lastname":"B","email":"u1@example.com"}]);
        let reply = app.admin("createUser", &body.to_string()).await;
        assert_eq!(
            reply.json()["failed"][0]["reason"],
            format!("Password does not satisfy the password policy: {rule}.")
        );
    }
    let long = "a".repeat(129);
    let body = json!([{"username":"u1","password":long,"firstname":"A","lastname":"B","email":"u1@example.com"}]);
    assert_eq!(
        app.admin("createUser", &body.to_string()).await.json()["failed"][0]["reason"],
        "Password does not satisfy the password policy: it must be at most 128 characters long."
    );
    // Strict has no composition rule.
    let body = json!([{"username":"u1","password":"plain lower words here","firstname":"A","lastname":"B","email":"u1@example.com"}]);
    assert_eq!(
        app.admin("createUser", &body.to_string()).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_creates_of_one_username_create_exactly_one() {
    let app = Arc::new(TestApp::spawn(BACKEND).await);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let body = json!([{"username":"race","password":"R4ce!pass","firstname":"R","lastname":"C","email":format!("race{i}@example.com")}]);
                app.admin("createUser", &body.to_string()).await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            StatusCode::OK => created += 1,
            _ => assert_eq!(
                reply.json()["failed"][0]["code"],
                "C1040005",
                "{}",
                reply.text
            ),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(app.accounts.list_users(&app.accounts.operator(), 0, 100).await.unwrap().1, 2);
}

#[tokio::test]
async fn the_password_of_a_created_user_obeys_the_history_rule() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("hist", "hist@example.com").await;
    for i in 1..=5 {
        let body = format!(r#"{{"username":"hist","password":"H1st!pass{i}"}}"#);
        assert_eq!(
            app.admin("changePassword", &body).await.status,
            StatusCode::OK
        );
    }
    // PASSWORD was the sixth back: still remembered.
    let body = format!(r#"{{"username":"hist","password":"{PASSWORD}"}}"#);
    assert_eq!(
        app.admin("changePassword", &body).await.json()["code"],
        "C3010005"
    );
}
