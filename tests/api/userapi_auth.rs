// `userapi.do`: methods, actions, authentication and rights, for every action.

use reqwest::{Method, StatusCode};

use crate::helpers::{basic, TestApp, ADMIN_PASSWORD, PASSWORD};

use super::BACKEND;

const SIDE_EFFECTS: [(char, &str); 4] = [
    ('1', "createUser"),
    ('2', "updateUser"),
    ('3', "changePassword"),
    ('4', "deleteUser"),
];

#[tokio::test]
async fn a_missing_or_unknown_action_is_404() {
    let app = TestApp::spawn(BACKEND).await;
    app.userapi(Method::GET, "action=getStatus", None, None)
        .await
        .assert_error(
            StatusCode::NOT_FOUND,
            "C0000404",
            "Action [getStatus] is not supported.",
        );
    app.userapi(Method::POST, "x=1", None, None)
        .await
        .assert_error(
            StatusCode::NOT_FOUND,
            "C0000404",
            "Action [] is not supported.",
        );
}

#[tokio::test]
async fn side_effecting_actions_refuse_other_methods_with_405() {
    let app = TestApp::spawn(BACKEND).await;
    let auth = basic("admin", ADMIN_PASSWORD);
    for (digit, action) in SIDE_EFFECTS {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let reply = app
                .userapi(
                    method.clone(),
                    &format!("action={action}"),
                    None,
                    Some(&auth),
                )
                .await;
            let message = if action == "updateUser" {
                format!("Http method [{method}] is not supported for action [{action}].")
            } else {
                format!("HTTP method [{method}] is not supported for action [{action}]")
            };
            reply.assert_error(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("C{digit}0100E0"),
                &message,
            );
            assert_eq!(reply.headers.get("allow").unwrap(), "POST");
        }
    }
    let reply = app
        .userapi(Method::PUT, "action=getUsers", None, Some(&auth))
        .await;
    reply.assert_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "C50100E0",
        "HTTP method [PUT] is not supported for action [getUsers]",
    );
    assert_eq!(reply.headers.get("allow").unwrap(), "GET, POST");
}

#[tokio::test]
async fn a_missing_or_wrong_credential_is_401_on_every_action() {
    let app = TestApp::spawn(BACKEND).await;
    let bad = [
        None,
        Some(basic("admin", "wrong")),
        Some(basic("nobody", ADMIN_PASSWORD)),
        Some("Basic !!!not-base64".to_owned()),
        Some("Bearer abc".to_owned()),
    ];
    for auth in &bad {
        for (digit, action) in SIDE_EFFECTS.iter().chain(&[('5', "getUsers")]) {
            let reply = app
                .userapi(
                    Method::POST,
                    &format!("action={action}"),
                    Some("{}"),
                    auth.as_deref(),
                )
                .await;
            reply.assert_error(
                StatusCode::UNAUTHORIZED,
                &format!("C{digit}010001"),
                "Authorization failed.",
            );
        }
    }
}

#[tokio::test]
async fn a_non_admin_credential_is_401_with_the_actions_040001_code() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    app.add_user("jane", "jane@example.com").await;
    let john = basic("john.s", PASSWORD);
    let bodies = [
        ('1', "createUser", r#"[{"username":"x"}]"#),
        (
            '2',
            "updateUser",
            r#"{"username":"john.s","locale":"ja-jp"}"#,
        ),
        (
            '3',
            "changePassword",
            r#"{"username":"jane","password":"N3w!password"}"#,
        ),
        ('4', "deleteUser", r#"{"username":"jane"}"#),
    ];
    for (digit, action, body) in bodies {
        let reply = app
            .userapi(
                Method::POST,
                &format!("action={action}"),
                Some(body),
                Some(&john),
            )
            .await;
        reply.assert_error(
            StatusCode::UNAUTHORIZED,
            &format!("C{digit}040001"),
            "Invalid Authentication.",
        );
    }
    let reply = app
        .userapi(
            Method::GET,
            "action=getUsers&username=jane",
            None,
            Some(&john),
        )
        .await;
    reply.assert_error(
        StatusCode::UNAUTHORIZED,
        "C5040001",
        "Invalid Authentication.",
    );
    // Nothing changed.
    assert_eq!(app.accounts.list_users(&app.accounts.operator(), 0, 10).await.unwrap().1, 3);
}

#[tokio::test]
async fn a_user_sees_only_themselves_and_changes_only_their_own_password() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let john = basic("john.s", PASSWORD);
    let own = app
        .userapi(Method::GET, "action=getUsers", None, Some(&john))
        .await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.json()["count"], 1);
    assert_eq!(own.json()["users"][0]["username"], "john.s");

    let body = r#"{"username":"john.s","password":"N3w!password"}"#;
    let reply = app
        .userapi(
            Method::POST,
            "action=changePassword",
            Some(body),
            Some(&john),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // With the token just issued, a non-admin cannot change the password again.
    let token = reply.json()["updated"]["john.s"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_token = app
        .userapi(
            Method::POST,
            "action=changePassword",
            Some(r#"{"username":"john.s","password":"An0ther!pass"}"#),
            Some(&format!("Basic {token}")),
        )
        .await;
    by_token.assert_error(
        StatusCode::UNAUTHORIZED,
        "C3040001",
        "Invalid Authentication.",
    );
    // But the token authenticates reads.
    let read = app
        .get_users_with_token(&token)
        .await;
    assert_eq!(read.status, StatusCode::OK);
}

#[tokio::test]
async fn the_admin_key_authorises_as_the_default_administrator() {
    let key = "a-long-license-key-0123456789";
    let app = TestApp::spawn_with(BACKEND, |c| c.admin_key = Some(key.into())).await;
    let send = |k: &'static str| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/userapi.do?action=getUsers"))
                .header("x-authorization", k)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        send("a-long-license-key-0123456789").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send("a-long-license-key-wrong").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn without_a_configured_key_the_header_is_refused() {
    let app = TestApp::spawn(BACKEND).await;
    let reply = app
        .client
        .get(app.url("/userapi.do?action=getUsers"))
        .header("x-authorization", "anything-at-all-here")
        .send()
        .await
        .unwrap();
    let reply = crate::helpers::read(reply).await;
    reply.assert_error(
        StatusCode::UNAUTHORIZED,
        "C5010001",
        "Authorization failed.",
    );
}

#[tokio::test]
async fn an_oversized_body_is_413_in_the_dialect_format() {
    let app = TestApp::spawn(BACKEND).await;
    let body = format!(r#"{{"username":"{}"}}"#, "x".repeat(70 * 1024));
    app.admin("updateUser", &body).await.assert_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "C0000413",
        "Request body too large.",
    );
}
