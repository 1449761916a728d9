// Guesses sent all at once: each credential path lets at most 5 of them reach a password
// check, whatever their number, and the right one among them gets no special treatment.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::json;

use crate::helpers::{basic, read, TestApp, ADMIN_PASSWORD, PASSWORD};

use super::BACKEND;

/// Wrong guesses sent together with the right one.
const WRONG: usize = 100;
/// The most password checks a burst may cause (the per-account threshold).
const MAX_CHECKS: u64 = 5;

/// Sends `WRONG` wrong guesses and the right one (in the middle) at once; `request(guess)`
/// builds the request for a guess (`None`: the right credential). Returns how many password
/// checks the server ran for them, and the replies' statuses.
async fn burst(
    app: &TestApp,
    request: impl Fn(Option<usize>) -> RequestBuilder,
) -> (u64, Vec<StatusCode>) {
    let before = app.accounts.password_checks();
    let guesses = (0..=WRONG).map(|i| if i == WRONG / 2 { None } else { Some(i) });
    let sent: Vec<_> = guesses
        .map(|guess| {
            let req = request(guess);
            tokio::spawn(async move { read(req.send().await.expect("answered")).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for reply in sent {
        statuses.push(reply.await.unwrap());
    }
    (app.accounts.password_checks() - before, statuses)
}

fn assert_held(checks: u64, statuses: &[StatusCode]) {
    eprintln!("burst of {} guesses: {checks} password checks", statuses.len());
    assert!(checks <= MAX_CHECKS, "{checks} password checks for one burst");
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert!(throttled >= WRONG + 1 - MAX_CHECKS as usize, "only {throttled} refused: {statuses:?}");
}

fn guess(i: Option<usize>) -> String {
    i.map_or(PASSWORD.to_owned(), |i| format!("Wr0ng!guess{i}"))
}

#[tokio::test]
async fn a_burst_of_log_on_guesses_gets_at_most_five_checks() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let (checks, statuses) = burst(&app, |i| {
        let body = json!({"email": "john@example.com", "password": guess(i)});
        app.client.post(app.url("/users/api/auth")).json(&body)
    })
    .await;
    assert_held(checks, &statuses);
    // An unknown email is counted the same way.
    let (checks, statuses) = burst(&app, |i| {
        let body = json!({"email": "ghost@example.com", "password": guess(i)});
        app.client.post(app.url("/users/api/auth")).json(&body)
    })
    .await;
    assert_held(checks, &statuses);
}

#[tokio::test]
async fn a_burst_of_confirm_guesses_gets_at_most_five_checks() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let token = app.log_on("john@example.com", PASSWORD).await;
    let (checks, statuses) = burst(&app, |i| {
        let body = json!({"email": "john@example.com", "password": guess(i)});
        app.client
            .post(app.url("/users/api/confirm"))
            .header("cookie", format!("session_token={token}"))
            .json(&body)
    })
    .await;
    assert_held(checks, &statuses);
}

#[tokio::test]
async fn a_burst_of_current_password_guesses_gets_at_most_five_checks() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let token = app.log_on("john@example.com", PASSWORD).await;
    let (checks, statuses) = burst(&app, |i| {
        let body = json!({"password": guess(i), "newPassword": "N3w!password-x"});
        app.client
            .post(app.url("/users/api/password"))
            .header("cookie", format!("session_token={token}"))
            .json(&body)
    })
    .await;
    assert_held(checks, &statuses);
}

#[tokio::test]
async fn a_burst_of_basic_guesses_gets_at_most_five_checks() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let (checks, statuses) = burst(&app, |i| {
        app.client
            .get(app.url("/userapi.do?action=getUsers"))
            .header("authorization", basic("john.s", &guess(i)))
    })
    .await;
    assert_held(checks, &statuses);
}

#[tokio::test]
async fn a_burst_of_api_token_guesses_gets_at_most_five_checks() {
    let app = TestApp::spawn(BACKEND).await;
    let body = json!([{"username": "john.s", "password": PASSWORD, "firstname": "John",
        "lastname": "Smith", "email": "john@example.com"}]);
    let reply = app.admin("createUser", &body.to_string()).await;
    let token = reply.json()["created"]["john.s"].as_str().unwrap().to_owned();
    let (checks, statuses) = burst(&app, |i| {
        let auth = match i {
            None => format!("Basic {token}"),
            Some(i) => basic("john.s", &format!("not-the-token-{i}")),
        };
        app.client
            .get(app.url("/userapi.do?action=getUsers"))
            .header("authorization", auth)
    })
    .await;
    assert_held(checks, &statuses);
    // The admin, guessed at from the same address meanwhile, is not locked out once the
    // burst is over: refused attempts are not held against the address.
    let admin = app
        .userapi(Method::GET, "action=getUsers", None, Some(&basic("admin", ADMIN_PASSWORD)))
        .await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.text);
}

#[tokio::test]
async fn the_right_credential_sent_on_many_connections_at_once_is_not_throttled() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let before = app.accounts.password_checks();
    let sent: Vec<_> = (0..20)
        .map(|i| {
            let req = if i % 2 == 0 {
                let body = json!({"email": "john@example.com", "password": PASSWORD});
                app.client.post(app.url("/users/api/auth")).json(&body)
            } else {
                app.client
                    .get(app.url("/userapi.do?action=getUsers"))
                    .header("authorization", basic("john.s", PASSWORD))
            };
            tokio::spawn(async move { read(req.send().await.expect("answered")).await })
        })
        .collect();
    for reply in sent {
        let reply = reply.await.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert!(!reply.text.contains("\"ok\":false"), "{}", reply.text);
    }
    // Identical credentials in flight share one check.
    assert!(app.accounts.password_checks() - before < 20);
}
