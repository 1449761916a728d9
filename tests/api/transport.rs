//! Transport defences that do not depend on the store: security headers, request ids, the
//! request-head limit, origin settings, and the security-event log lines of the binary.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{basic, fresh_store, Backend, Reply, TestApp, ADMIN_PASSWORD, PASSWORD};

fn assert_security_headers(reply: &Reply, what: &str) {
    let expected = [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        ("cache-control", "no-store"),
    ];
    for (name, value) in expected {
        assert_eq!(
            reply.headers.get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{name} on {what}"
        );
    }
    let id = reply.headers.get("x-request-id").expect("an X-Request-Id");
    assert!(!id.is_empty(), "{what}");
}

#[tokio::test]
async fn every_reply_carries_the_security_headers_and_a_request_id() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ok = app.get("/users/api/info", None).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_security_headers(&ok, "a success");
    let error = app.post("/users/api/auth", "{not json", None).await;
    assert_eq!(error.status, StatusCode::BAD_REQUEST);
    assert_security_headers(&error, "an error");
    let missing = app.get("/no/such/path", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_security_headers(&missing, "a 404");
    let refused = app
        .userapi(Method::GET, "action=getUsers", None, None)
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_security_headers(&refused, "a userapi.do refusal");
    let cross = app
        .client
        .post(app.url("/users/api/auth"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    let cross = crate::helpers::read(cross).await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert_security_headers(&cross, "a cross-site refusal");
}

async fn request_id_of(app: &TestApp, sent: &str) -> String {
    let reply = app
        .client
        .get(app.url("/users/api/info"))
        .header("x-request-id", sent)
        .send()
        .await
        .unwrap();
    reply.headers()["x-request-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_and_an_insane_one_replaced() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for sane in ["abc-123.X_y", &"a".repeat(64)] {
        assert_eq!(request_id_of(&app, sane).await, sane);
    }
    for insane in ["has space", &"a".repeat(200), "semi;colon", "quote\"d"] {
        let got = request_id_of(&app, insane).await;
        assert_ne!(got, insane);
        assert!(
            (1..=64).contains(&got.len())
                && got
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "{got:?}"
        );
    }
    let (a, b) = (
        app.get("/users/api/info", None).await,
        app.get("/users/api/info", None).await,
    );
    assert_ne!(
        a.headers["x-request-id"], b.headers["x-request-id"],
        "a fresh id per request"
    );
}

/// Sends a raw request whose head (request line, headers, blank line) is exactly `size`
/// bytes, and returns the status line of the reply.
async fn status_for_head_of(app: &TestApp, size: usize) -> String {
    let start = "GET /users/api/info HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Pad: ";
    let end = "\r\n\r\n";
    let head = format!("{start}{}{end}", "p".repeat(size - start.len() - end.len()));
    assert_eq!(head.len(), size);
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply)).await;
    let reply = String::from_utf8_lossy(&reply).into_owned();
    reply.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn request_heads_over_64_kib_get_431() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    assert!(status_for_head_of(&app, 64 * 1024 + 1)
        .await
        .starts_with("HTTP/1.1 431"));
    assert!(status_for_head_of(&app, 100_000)
        .await
        .starts_with("HTTP/1.1 431"));
    for served in [60 * 1024, 64 * 1024] {
        let status = status_for_head_of(&app, served).await;
        assert!(status.starts_with("HTTP/1.1 200"), "{served}: {status}");
    }
}

/// Fails clearly when `CARGO_BIN_EXE_roster` is another build (a target dir shared between
/// checkouts: the last build's binary wins) instead of failing on its missing features.
fn assert_binary_is_this_build() {
    let help = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("--allowed-origins"),
        "{} is not this checkout's build (shared target dir?): rebuild it and rerun",
        env!("CARGO_BIN_EXE_roster")
    );
}

#[tokio::test]
async fn malformed_origin_settings_stop_the_start_with_a_clear_error() {
    assert_binary_is_this_build();
    let (url, _dir) = fresh_store(Backend::Sqlite).await;
    let bad: [(&str, &str, &str); 4] = [
        (
            "ROSTER_ALLOWED_ORIGINS",
            "https://app.example/path",
            "--allowed-origins",
        ),
        (
            "ROSTER_ALLOWED_ORIGINS",
            "https://a.example,*",
            "--allowed-origins",
        ),
        ("ROSTER_ALLOWED_ORIGINS", "app.example", "--allowed-origins"),
        ("ROSTER_PUBLIC_URL", "ftp://roster.example", "--public-url"),
    ];
    for (variable, value, named) in bad {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])
            .env(variable, value)
            .env("ROSTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A server that accepted the value would serve forever: stop it after a while.
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{variable}={value} started");
        assert!(stderr.contains(named), "{variable}={value}: {stderr}");
    }
}

/// A `roster serve` child logging to a file, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(db_url: &str, log: std::fs::File) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["serve", "--listen", &listen, "--database-url", db_url])
        .env("ROSTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env_remove("ROSTER_LOG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("roster starts");
    let server = Server {
        child,
        base: format!("http://{listen}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reqwest::get(format!("{}/healthz", server.base))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server
}

/// The log lines that name `request_id`.
fn lines_of<'a>(log: &'a str, request_id: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.contains(request_id)).collect()
}

#[tokio::test]
async fn security_events_are_logged_with_the_request_id_and_without_secrets() {
    assert_binary_is_this_build();
    let (url, dir) = fresh_store(Backend::Sqlite).await;
    let log_path = dir.path().join("roster.log");
    let server = start(&url, std::fs::File::create(&log_path).unwrap()).await;
    let client = reqwest::Client::new();
    let at = |path: &str| format!("{}{path}", server.base);
    let credential = serde_json::json!({"email": "admin@localhost", "password": ADMIN_PASSWORD});
    let logon = client
        .post(at("/users/api/auth"))
        .json(&credential)
        .send()
        .await
        .unwrap();
    let cookie = logon.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let token = cookie.trim_start_matches("session_token=").to_owned();

    let csrf = client
        .post(at("/users/api/user"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .header("x-request-id", "csrf-req-1")
        .body(r#"{"title":"Pwned"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(csrf.status(), StatusCode::FORBIDDEN);
    let forged = format!("{}x", &token[..token.len() - 1]);
    let refused = client
        .get(at("/users/api/user"))
        .header("authorization", format!("Bearer {forged}"))
        .header("x-request-id", "token-req-2")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let admin = basic("admin", ADMIN_PASSWORD);
    let created = client
        .post(at("/userapi.do?action=createUser"))
        .header("authorization", &admin)
        .body(r#"{"username":"norm","password":"N0rm!passwd","firstname":"N","lastname":"Orm","email":"norm@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    let denied = client
        .post(at("/userapi.do?action=deleteUser"))
        .header("authorization", basic("norm", "N0rm!passwd"))
        .header("x-request-id", "denied-req-3")
        .body(r#"{"username":"admin"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    let log_on = |password: &str, request_id: &str| {
        client
            .post(at("/users/api/auth"))
            .header("x-request-id", request_id)
            .json(&serde_json::json!({"email": "norm@example.com", "password": password}))
            .send()
    };
    assert_eq!(
        log_on("N0rm!passwd", "ok-req-4").await.unwrap().status(),
        StatusCode::OK
    );
    for i in 0..5 {
        log_on("Wr0ng!guess", &format!("fail-req-{i}"))
            .await
            .unwrap();
    }
    let throttled = log_on("N0rm!passwd", "throttle-req-6").await.unwrap();
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    drop(server);

    let log = std::fs::read_to_string(&log_path).unwrap();
    for (request_id, event, extra) in [
        ("csrf-req-1", "csrf_refused", "evil.example"),
        ("token-req-2", "token_refused", "rejected"),
        ("denied-req-3", "access_denied", "account="),
        ("ok-req-4", "logon_succeeded", "account="),
        ("fail-req-0", "logon_failed", "account="),
        ("throttle-req-6", "throttled", "account="),
    ] {
        let lines = lines_of(&log, request_id);
        let line = lines
            .iter()
            .find(|l| l.contains(event))
            .unwrap_or_else(|| panic!("no {event} line with {request_id} in:\n{log}"));
        for part in [" security:", "dialect=", "address=", extra] {
            assert!(line.contains(part), "{part} missing from {line}");
        }
        assert!(!line.contains('@'), "an email in {line}");
    }
    for secret in [
        ADMIN_PASSWORD,
        PASSWORD,
        "N0rm!passwd",
        "Wr0ng!guess",
        &token,
        &forged,
        &admin,
    ] {
        assert!(!log.contains(secret), "a secret in the log:\n{log}");
    }
}
