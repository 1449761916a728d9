// Mail over a real SMTP exchange: the test starts its own SMTP server (tests/api/smtp.rs) and
// Roster's client talks to it over TCP (and STARTTLS).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use roster::accounts::{self, RESET_TTL};
use roster::domain::{Actor, Dialect};
use serde_json::json;

use crate::helpers::{TestApp, ADMIN_PASSWORD, PASSWORD};
use crate::smtp::{dead_url, Mode, Received, SmtpServer};

use super::BACKEND;

const NEW_PASSWORD: &str = "N3w!password";
const RESET_REPLY: &str =
    r#"{"ok":true,"status":"If the address is registered, a reset link has been sent."}"#;
const INVALID_TOKEN: &str = r#"{"ok":false,"status":"Reset link is invalid or has expired."}"#;

/// A server whose mail goes to `smtp_url`, with the user bob.
async fn app_mailing_to(smtp_url: &str) -> TestApp {
    let url = smtp_url.to_owned();
    let app = TestApp::spawn_with(BACKEND, |c| {
        c.smtp_url = Some(url);
        c.public_url = Some("https://id.example.org".into());
    })
    .await;
    app.add_user("bob", "bob@example.com").await;
    app
}

async fn send(app: &TestApp, token: &str, body: serde_json::Value) -> crate::helpers::Reply {
    app.post("/users/api/send", &body.to_string(), Some(token))
        .await
}

async fn request_reset(app: &TestApp, email: &str) -> crate::helpers::Reply {
    let body = json!({ "email": email }).to_string();
    app.post("/users/api/reset", &body, None).await
}

async fn confirm_reset(app: &TestApp, token: &str, password: &str) -> crate::helpers::Reply {
    let body = json!({ "token": token, "newPassword": password }).to_string();
    app.post("/users/api/reset/confirm", &body, None).await
}

/// The token of the reset link in a mail.
fn token_in(mail: &Received) -> String {
    let body = mail.body();
    let link = body
        .lines()
        .find(|l| l.starts_with("https://id.example.org/account/reset?token="))
        .unwrap_or_else(|| panic!("no reset link in {body}"));
    link.rsplit('=').next().unwrap().to_owned()
}

#[tokio::test]
async fn send_from_a_normal_user_goes_to_their_own_address_whatever_email_they_name() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing_to(&smtp.url()).await;
    let bob = app.log_on("bob@example.com", PASSWORD).await;
    let body = json!({"email": "victim@example.org", "title": "Run 42", "message": "Done.\nAll good."});
    let reply = send(&app, &bob, body).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (
            StatusCode::OK,
            r#"{"ok":true,"status":"Email has been sent to bob@example.com"}"#
        )
    );
    let mail = &smtp.wait_for(1).await[0];
    assert_eq!(mail.to, ["bob@example.com"]);
    assert_eq!(mail.from, "roster@id.example.org");
    assert_eq!(mail.header("Subject").as_deref(), Some("Run 42"));
    assert_eq!(mail.body(), "Done.\nAll good.\n", "the body, ended by a line break");
    assert!(!mail.tls);
}

#[tokio::test]
async fn send_from_an_administrator_goes_to_the_address_named() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing_to(&smtp.url()).await;
    let admin = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let body = json!({"email": "someone@example.org", "title": "Hello", "message": "Hi."});
    let reply = send(&app, &admin, body).await;
    assert_eq!(
        reply.text,
        r#"{"ok":true,"status":"Email has been sent to someone@example.org"}"#
    );
    assert_eq!(smtp.wait_for(1).await[0].to, ["someone@example.org"]);
    // Without `email`, the administrator's own address.
    let own = send(&app, &admin, json!({"title": "Me", "message": "Hi."})).await;
    assert_eq!(
        own.text,
        r#"{"ok":true,"status":"Email has been sent to admin@localhost"}"#
    );
}

#[tokio::test]
async fn send_refuses_a_subject_with_cr_or_lf_and_oversized_input_and_sends_nothing() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing_to(&smtp.url()).await;
    let bob = app.log_on("bob@example.com", PASSWORD).await;
    for title in ["Hi\r\nBcc: victim@example.org", "Hi\nBcc: x@y.z", "Hi\rX"] {
        let reply = send(&app, &bob, json!({"title": title, "message": "x"})).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{title:?}");
        assert_eq!(reply.json()["ok"], false);
        assert!(reply.json()["status"].as_str().unwrap().contains("'title'"));
    }
    let long_title = send(&app, &bob, json!({"title": "t".repeat(256), "message": "x"})).await;
    assert_eq!(long_title.status, StatusCode::BAD_REQUEST);
    let big = "m".repeat(accounts::MESSAGE_MAX + 1);
    // Within the request body limit only when it is raised; the rule holds either way.
    let long_message = send(&app, &bob, json!({"title": "t", "message": big})).await;
    assert!(
        [StatusCode::BAD_REQUEST, StatusCode::PAYLOAD_TOO_LARGE].contains(&long_message.status)
    );
    assert!(smtp.received().is_empty(), "nothing sent");
}

#[tokio::test]
async fn send_is_limited_to_ten_per_account_per_hour() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing_to(&smtp.url()).await;
    let bob = app.log_on("bob@example.com", PASSWORD).await;
    for n in 0..accounts::SENDS_PER_HOUR {
        let reply = send(&app, &bob, json!({"title": format!("n{n}"), "message": "x"})).await;
        assert_eq!(reply.status, StatusCode::OK, "send {n}: {}", reply.text);
    }
    let eleventh = send(&app, &bob, json!({"title": "one too many", "message": "x"})).await;
    assert_eq!(eleventh.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(eleventh.headers.get("retry-after").is_some());
    assert_eq!(smtp.received().len(), 10);
}

#[tokio::test]
async fn without_smtp_send_is_500_and_reset_is_404() {
    let app = TestApp::spawn(BACKEND).await;
    let admin = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let reply = send(&app, &admin, json!({"title": "t", "message": "m"})).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"ok":false,"status":"Email could not be sent."}"#
        )
    );
    let unavailable = r#"{"ok":false,"status":"Password reset is not available."}"#;
    let reset = request_reset(&app, "admin@localhost").await;
    assert_eq!((reset.status, reset.text.as_str()), (StatusCode::NOT_FOUND, unavailable));
    let confirm = confirm_reset(&app, "whatever", NEW_PASSWORD).await;
    assert_eq!((confirm.status, confirm.text.as_str()), (StatusCode::NOT_FOUND, unavailable));
}

#[tokio::test]
async fn smtp_server_down_gives_500_on_send_and_reset_still_answers_the_same() {
    let app = app_mailing_to(&dead_url().await).await;
    let bob = app.log_on("bob@example.com", PASSWORD).await;
    let reply = send(&app, &bob, json!({"title": "t", "message": "m"})).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"ok":false,"status":"Email could not be sent."}"#
        )
    );
    for email in ["bob@example.com", "nobody@example.com"] {
        let reset = request_reset(&app, email).await;
        assert_eq!((reset.status, reset.text.as_str()), (StatusCode::OK, RESET_REPLY));
    }
}

#[tokio::test]
async fn a_refusing_or_hung_smtp_server_gives_500_within_the_time_limit() {
    let refusing = SmtpServer::start_with(Mode::Refuse, false).await;
    let app = app_mailing_to(&refusing.url()).await;
    let bob = app.log_on("bob@example.com", PASSWORD).await;
    let reply = send(&app, &bob, json!({"title": "t", "message": "m"})).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);

    let hung = SmtpServer::start_with(Mode::Silent, false).await;
    let url = format!("smtp://{}?timeout=1", hung.addr);
    let app = app_mailing_to(&url).await;
    let bob = app.log_on("bob@example.com", PASSWORD).await;
    let started = Instant::now();
    let reply = send(&app, &bob, json!({"title": "t", "message": "m"})).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    // Other requests were served meanwhile and still are.
    assert_eq!(app.get("/users/api/info", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn starttls_with_a_self_signed_certificate_carries_the_mail() {
    let smtp = SmtpServer::start_with(Mode::Accept, true).await;
    let app = app_mailing_to(&smtp.url()).await;
    let bob = app.log_on("bob@example.com", PASSWORD).await;
    let reply = send(&app, &bob, json!({"title": "Over TLS", "message": "secret-free"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let mail = &smtp.wait_for(1).await[0];
    assert!(mail.tls, "the message came after STARTTLS");
    assert_eq!(mail.header("Subject").as_deref(), Some("Over TLS"));
}

#[tokio::test]
async fn starttls_required_never_falls_back_to_plain_text() {
    // A server that offers no STARTTLS, and one whose certificate the client does not trust.
    let plain = SmtpServer::start().await;
    let url = format!("smtp://{}?tls=starttls&timeout=5", plain.addr);
    let app = app_mailing_to(&url).await;
    let bob = app.log_on("bob@example.com", PASSWORD).await;
    let reply = send(&app, &bob, json!({"title": "t", "message": "m"})).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let untrusted = SmtpServer::start_with(Mode::Accept, true).await;
    let url = format!("smtp://{}?tls=starttls&timeout=5", untrusted.addr);
    let app = app_mailing_to(&url).await;
    let bob = app.log_on("bob@example.com", PASSWORD).await;
    let reply = send(&app, &bob, json!({"title": "t", "message": "m"})).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(plain.received().is_empty() && untrusted.received().is_empty());
}

#[tokio::test]
async fn reset_replies_the_same_for_known_unknown_and_directory_emails_and_mails_only_the_known() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing_to(&smtp.url()).await;
    let ad = app
        .admin(
            "createUser",
            r#"[{"username":"dir.user","type":"ad","email":"dir@example.com"}]"#,
        )
        .await;
    assert_eq!(ad.status, StatusCode::OK, "{}", ad.text);
    let mut replies = Vec::new();
    for email in ["nobody@example.com", "dir@example.com", "BOB@example.com", "not an email"] {
        let reply = request_reset(&app, email).await;
        replies.push((reply.status, reply.text));
    }
    for reply in &replies {
        assert_eq!(reply, &(StatusCode::OK, RESET_REPLY.to_owned()));
    }
    let mail = smtp.wait_for(1).await[0].clone();
    assert_eq!(mail.to, ["bob@example.com"]);
    assert_eq!(mail.header("Subject").as_deref(), Some("Roster: reset your password"));
    assert!(mail.body().contains("within 30 minutes"));
    // The other requests queued nothing: a later mail is the next one to arrive.
    let bob = app.log_on("bob@example.com", PASSWORD).await;
    send(&app, &bob, json!({"title": "marker", "message": "m"})).await;
    let all = smtp.wait_for(2).await;
    assert_eq!(all.len(), 2, "exactly one reset mail");
    assert_eq!(all[1].header("Subject").as_deref(), Some("marker"));
}

#[tokio::test]
async fn confirm_with_the_mailed_token_ends_every_session_and_api_token_once() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing_to(&smtp.url()).await;
    let created = app
        .admin(
            "createUser",
            r#"[{"username":"john.s","password":"Jo1!hnpass","firstname":"John","lastname":"Smith","email":"john@example.com"}]"#,
        )
        .await;
    let api_token = created.json()["created"]["john.s"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", created.text))
        .to_owned();
    let session = app.log_on("john@example.com", "Jo1!hnpass").await;
    assert_eq!(app.get_users_with_token(&api_token).await.status, StatusCode::OK);

    assert_eq!(request_reset(&app, "john@example.com").await.text, RESET_REPLY);
    let token = token_in(&smtp.wait_for(1).await[0]);
    let weak = confirm_reset(&app, &token, "short").await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST, "policy applies");
    assert!(weak.text.contains("password policy"), "{}", weak.text);
    let reply = confirm_reset(&app, &token, NEW_PASSWORD).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (StatusCode::OK, r#"{"ok":true,"status":"Password changed successfully!"}"#)
    );
    assert_eq!(app.get("/users/api/user", Some(&session)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get_users_with_token(&api_token).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.try_log_on("john@example.com", "Jo1!hnpass").await.json()["ok"], false);
    app.log_on("john@example.com", NEW_PASSWORD).await;

    let again = confirm_reset(&app, &token, "An0ther!password").await;
    assert_eq!((again.status, again.text.as_str()), (StatusCode::BAD_REQUEST, INVALID_TOKEN));
    let audit = app.accounts.audit(&app.accounts.operator(), Some("john.s"), None, 10).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|r| r.action.as_str()).collect();
    assert!(
        actions.windows(2).any(|w| w == ["password", "reset_requested"]),
        "the request and the change are audited: {actions:?}"
    );
    // The notice of the change follows; neither mail holds the new password.
    let mails = smtp.wait_for(2).await;
    assert_eq!(mails[1].header("Subject").as_deref(), Some("Roster: your password was changed"));
    assert!(mails.iter().all(|m| !m.data.contains(NEW_PASSWORD)));
    assert!(!mails[1].data.contains(&token), "the notice holds no token");
}

#[tokio::test]
async fn an_expired_or_unknown_token_is_refused() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing_to(&smtp.url()).await;
    request_reset(&app, "bob@example.com").await;
    let token = token_in(&smtp.wait_for(1).await[0]);
    let actor = Actor::anonymous(Dialect::Ensims, None);
    // The clock of the use-case, 30 minutes and a second later: refused, nothing spent.
    let late = accounts::now() + RESET_TTL + 1;
    let expired = app.accounts.confirm_reset(&token, NEW_PASSWORD, late, &actor).await;
    assert!(matches!(expired, Err(accounts::Error::ResetInvalid)), "{expired:?}");
    let unknown = confirm_reset(&app, "bm90IGEgdG9rZW4", NEW_PASSWORD).await;
    assert_eq!((unknown.status, unknown.text.as_str()), (StatusCode::BAD_REQUEST, INVALID_TOKEN));
    // Within its 30 minutes the same token still works.
    assert_eq!(confirm_reset(&app, &token, NEW_PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_newer_reset_request_voids_the_older_token() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing_to(&smtp.url()).await;
    request_reset(&app, "bob@example.com").await;
    let first = token_in(&smtp.wait_for(1).await[0]);
    request_reset(&app, "bob@example.com").await;
    let second = token_in(&smtp.wait_for(2).await[1]);
    assert_ne!(first, second);
    assert_eq!(confirm_reset(&app, &first, NEW_PASSWORD).await.text, INVALID_TOKEN);
    assert_eq!(confirm_reset(&app, &second, NEW_PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_password_change_voids_an_outstanding_reset_token() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing_to(&smtp.url()).await;
    request_reset(&app, "bob@example.com").await;
    let token = token_in(&smtp.wait_for(1).await[0]);
    let bob = app.log_on("bob@example.com", PASSWORD).await;
    let body = json!({"password": PASSWORD, "newPassword": NEW_PASSWORD}).to_string();
    assert_eq!(app.post("/users/api/password", &body, Some(&bob)).await.status, StatusCode::OK);
    assert_eq!(confirm_reset(&app, &token, "An0ther!password").await.text, INVALID_TOKEN);
}

#[tokio::test]
async fn reset_requests_are_throttled_per_email() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing_to(&smtp.url()).await;
    for _ in 0..accounts::RESETS_PER_EMAIL {
        assert_eq!(request_reset(&app, "nobody@example.com").await.text, RESET_REPLY);
    }
    let throttled = request_reset(&app, "NOBODY@example.com").await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers.get("retry-after").is_some());
    // Another email from the same client address is still served.
    assert_eq!(request_reset(&app, "bob@example.com").await.text, RESET_REPLY);
}

#[tokio::test]
async fn a_password_change_sends_a_notice_without_the_password() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing_to(&smtp.url()).await;
    let bob = app.log_on("bob@example.com", PASSWORD).await;
    let body = json!({"password": PASSWORD, "newPassword": NEW_PASSWORD}).to_string();
    assert_eq!(app.post("/users/api/password", &body, Some(&bob)).await.status, StatusCode::OK);
    let mail = &smtp.wait_for(1).await[0];
    assert_eq!(mail.to, ["bob@example.com"]);
    assert_eq!(mail.header("Subject").as_deref(), Some("Roster: your password was changed"));
    let text = mail.body();
    assert!(text.contains("Roster account bob") && text.contains("If this was not you"), "{text}");
    assert!(!mail.data.contains(NEW_PASSWORD) && !mail.data.contains(PASSWORD));
}

#[tokio::test]
async fn an_email_change_sends_a_notice_to_the_old_address() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing_to(&smtp.url()).await;
    let bob = app.log_on("bob@example.com", PASSWORD).await;
    let reply = app
        .post("/users/api/user", r#"{"email":"robert@example.com"}"#, Some(&bob))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let mail = &smtp.wait_for(1).await[0];
    assert_eq!(mail.to, ["bob@example.com"], "the old address");
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Roster: the email address of your account was changed")
    );
    // An administrator's change through userapi.do notifies too.
    let reply = app
        .admin("updateUser", r#"{"username":"bob","email":"bob2@example.com"}"#)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(smtp.wait_for(2).await[1].to, ["robert@example.com"]);
}

#[tokio::test]
async fn a_message_with_a_lone_dot_line_arrives_whole_as_one_mail() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing_to(&smtp.url()).await;
    let bob = app.log_on("bob@example.com", PASSWORD).await;
    let smuggled = "Hi\r\n.\r\nMAIL FROM:<x@evil.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nspam";
    let reply = send(&app, &bob, json!({"title": "dots", "message": smuggled})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let mail = &smtp.wait_for(1).await[0];
    assert_eq!(mail.to, ["bob@example.com"]);
    assert!(mail.body().contains("\n.\nMAIL FROM:<x@evil.example>"), "{}", mail.body());
    assert_eq!(smtp.received().len(), 1, "one mail, not two");
}

/// The built `roster serve`, its log collected as it runs.
struct Binary {
    child: std::process::Child,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Binary {
    /// Starts it with `env` and waits until it listens or stops.
    fn start(db_url: &str, env: &[(&str, &str)]) -> Binary {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("ROSTER_DATABASE_URL", db_url)
            .env("ROSTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let line = line.unwrap_or_default();
                let listening = line.contains("Roster listening");
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                if listening {
                    let _ = tx.send(());
                }
            }
        });
        // Either it listens, or it stops and the sender is dropped.
        let _ = rx.recv_timeout(Duration::from_secs(60));
        Binary { child, log }
    }

    /// The address it serves, from its "Roster listening on <http://ADDR>" line.
    fn url(&self, path: &str) -> String {
        let log = self.log.lock().unwrap();
        let addr = log
            .lines()
            .find_map(|l| l.split("Roster listening on ").nth(1))
            .unwrap_or_else(|| panic!("not listening: {log}"));
        format!("{addr}{path}")
    }

    /// Stops it and returns its whole log.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Binary {
    // A failed assertion must not leave the server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_log(db_url: &str, env: &[(&str, &str)]) -> String {
    Binary::start(db_url, env).stop()
}

#[tokio::test]
async fn no_log_line_holds_the_reset_token_the_new_password_or_the_address() {
    let smtp = SmtpServer::start().await;
    let (db_url, _dir) = crate::helpers::fresh_store(BACKEND).await;
    let smtp_url = smtp.url();
    let binary = tokio::task::spawn_blocking(move || {
        let env = [("ROSTER_SMTP_URL", smtp_url.as_str()), ("ROSTER_LOG", "debug")];
        Binary::start(&db_url, &env)
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        client.post(binary.url(path)).json(&body).send()
    };
    let reply = post("/users/api/reset", json!({"email": "admin@localhost"}))
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let Ok(mails) = smtp.try_wait_for(1).await else {
        panic!("no reset mail; log:\n{}", binary.log.lock().unwrap());
    };
    let token = token_in_any(&mails[0]);
    let body = json!({"token": token, "newPassword": NEW_PASSWORD});
    let confirmed = post("/users/api/reset/confirm", body).await.unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    smtp.wait_for(2).await;
    let log = tokio::task::spawn_blocking(move || binary.stop()).await.unwrap();
    assert!(log.contains("mail sent"), "{log}");
    for secret in [token.as_str(), NEW_PASSWORD, "admin@localhost"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

/// The token of the reset link in a mail, whatever the public URL.
fn token_in_any(mail: &Received) -> String {
    let body = mail.body();
    let at = body.find("/account/reset?token=").expect("a reset link") + 21;
    body[at..].split_whitespace().next().unwrap().to_owned()
}

#[tokio::test]
async fn the_start_up_log_says_whether_mail_is_on_and_never_shows_the_smtp_password() {
    let (db_url, _dir) = crate::helpers::fresh_store(BACKEND).await;
    let off = tokio::task::spawn_blocking({
        let db_url = db_url.clone();
        move || serve_log(&db_url, &[])
    })
    .await
    .unwrap();
    assert!(off.contains("mail is off"), "{off}");
    let on = tokio::task::spawn_blocking({
        let db_url = db_url.clone();
        move || serve_log(&db_url, &[("ROSTER_SMTP_URL", "smtps://me:s3cr3t@127.0.0.1:9")])
    })
    .await
    .unwrap();
    assert!(on.contains("mail is on") && !on.contains("s3cr3t"), "{on}");
    let clear = tokio::task::spawn_blocking(move || {
        serve_log(&db_url, &[("ROSTER_SMTP_URL", "smtp://me:s3cr3t@127.0.0.1:9")])
    })
    .await
    .unwrap();
    assert!(clear.contains("credentials need tls") && !clear.contains("s3cr3t"), "{clear}");
}
