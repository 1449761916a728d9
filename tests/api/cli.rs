// The admin CLI, run as the built binary against the same store as a server.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::helpers::TestApp;

use super::BACKEND;

fn roster(db_url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .env("ROSTER_DATABASE_URL", db_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or("").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn a_user_added_by_the_cli_logs_on_over_http() {
    let app = TestApp::spawn(BACKEND).await;
    let args = [
        "user",
        "add",
        "--username",
        "cli.user",
        "--email",
        "cli@example.com",
        "--password",
        "Cl1!secret",
        "--firstname",
        "Cleo",
    ];
    let out = roster(&app.db_url, &args, None);
    assert!(out.status.success(), "{}", text(&out));
    let reply = app
        .try_log_on("cli@example.com", "Cl1!secret")
        .await;
    assert_eq!(reply.json()["user"], "Cleo");
}

#[tokio::test]
async fn the_cli_reads_a_password_from_stdin_and_applies_the_same_rules() {
    let app = TestApp::spawn(BACKEND).await;
    let weak = roster(
        &app.db_url,
        &["user", "add", "--username", "w", "--email", "w@example.com"],
        Some("weak\n"),
    );
    assert!(!weak.status.success());
    assert!(text(&weak).contains("password policy"), "{}", text(&weak));
    let bad_name = roster(
        &app.db_url,
        &[
            "user",
            "add",
            "--username",
            "a b",
            "--email",
            "ab@example.com",
        ],
        Some("Cl1!secret\n"),
    );
    assert!(!bad_name.status.success());
    assert!(text(&bad_name).contains("username"), "{}", text(&bad_name));

    let ok = roster(
        &app.db_url,
        &[
            "user",
            "add",
            "--username",
            "sam",
            "--email",
            "s@example.com",
            "--role",
            "admin",
        ],
        Some("Cl1!secret\n"),
    );
    assert!(ok.status.success(), "{}", text(&ok));
    let reply = app
        .try_log_on("s@example.com", "Cl1!secret")
        .await;
    assert_eq!(reply.json()["role"], "admin");
}

#[tokio::test]
async fn list_show_set_password_and_delete_work_on_the_shared_store() {
    let app = TestApp::spawn(BACKEND).await;
    app.add_user("john.s", "john@example.com").await;
    let token = app
        .log_on("john@example.com", crate::helpers::PASSWORD)
        .await;

    let list = text(&roster(&app.db_url, &["user", "list"], None));
    assert!(
        list.contains("admin") && list.contains("john@example.com"),
        "{list}"
    );
    let show = text(&roster(&app.db_url, &["user", "show", "JOHN.S"], None));
    assert!(show.contains("email: john@example.com"), "{show}");

    let set = roster(
        &app.db_url,
        &["user", "set-password", "john.s"],
        Some("R3set!word\n"),
    );
    assert!(set.status.success(), "{}", text(&set));
    assert_eq!(
        app.get("/users/api/user", Some(&token)).await.status,
        reqwest::StatusCode::UNAUTHORIZED
    );
    let token = app.log_on("john@example.com", "R3set!word").await;

    assert!(!roster(&app.db_url, &["user", "delete", "admin"], None)
        .status
        .success());
    let deleted = roster(&app.db_url, &["user", "delete", "john.s"], None);
    assert!(deleted.status.success(), "{}", text(&deleted));
    assert_eq!(
        app.get("/users/api/user", Some(&token)).await.status,
        reqwest::StatusCode::UNAUTHORIZED
    );
    assert!(!roster(&app.db_url, &["user", "show", "john.s"], None)
        .status
        .success());
}

#[tokio::test]
async fn migrate_is_idempotent() {
    let app = TestApp::spawn(BACKEND).await;
    for _ in 0..2 {
        let out = roster(&app.db_url, &["migrate"], None);
        assert!(out.status.success(), "{}", text(&out));
    }
}
