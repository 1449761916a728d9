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

/// Runs one SQL statement on the test's store, whichever backend it is.
async fn execute(db_url: &str, sql: &str) {
    if db_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(db_url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(db_url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

fn json_of(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", text(output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(output)))
}

#[tokio::test]
async fn user_list_show_and_audit_print_json() {
    let app = TestApp::spawn(BACKEND).await;
    let args = [
        "user", "add", "--username", "john.s", "--email", "john@example.com", "--password",
        "Cl1!secret", "--firstname", "John",
    ];
    assert!(roster(&app.db_url, &args, None).status.success());
    app.admin("updateUser", r#"{"username":"john.s","locale":"ja-jp"}"#).await;

    let list = json_of(&roster(&app.db_url, &["user", "list", "--json"], None));
    let users = list.as_array().unwrap();
    let names: Vec<&str> = users.iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "john.s"]);
    assert_eq!(users[1]["email"], "john@example.com");
    assert_eq!(users[1]["locale"], "ja-jp");

    let show = json_of(&roster(&app.db_url, &["user", "show", "JOHN.S", "--json"], None));
    assert_eq!(show["username"], "john.s");
    assert_eq!(show["firstname"], "John");
    assert_eq!(show["role"], "normal");
    assert_eq!(show["type"], "local");
    assert!(show["surname"].is_null(), "{show}");
    let shown = show.to_string();
    assert!(!shown.contains("argon2"), "no hash: {shown}");

    let audit = json_of(&roster(&app.db_url, &["audit", "--user", "john.s", "--json"], None));
    let records = audit.as_array().unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["update", "create"]);
    assert_eq!(records[0]["dialect"], "userapi");
    assert_eq!(records[0]["actor"], "admin");
    assert!(records[0]["changes"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!({"field":"locale","old":"en-us","new":"ja-jp"})));

    // Deleted: the records are still found by the name, in any case.
    let deleted = roster(&app.db_url, &["user", "delete", "john.s"], None);
    assert!(deleted.status.success(), "{}", text(&deleted));
    let audit = json_of(&roster(&app.db_url, &["audit", "--user", "John.S", "--json"], None));
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["delete", "update", "create"]);
    let lines = text(&roster(&app.db_url, &["audit", "--user", "john.s"], None));
    assert!(lines.contains("delete") && lines.contains("cli"), "{lines}");
    let ghost = roster(&app.db_url, &["audit", "--user", "never.was"], None);
    assert!(!ghost.status.success());
    assert!(
        text(&ghost).contains("no user and no audit record named 'never.was'"),
        "{}",
        text(&ghost)
    );
}

#[tokio::test]
async fn migrate_status_lists_each_migration_applied_or_pending() {
    let app = TestApp::spawn(BACKEND).await;
    let folder = if app.db_url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(folder);
    let mut files: Vec<(i64, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let stem = name.trim_end_matches(".sql");
            let (version, rest) = stem.split_once('_').unwrap();
            (version.parse().unwrap(), rest.replace('_', " "))
        })
        .collect();
    files.sort();
    let (last, last_name) = files.last().cloned().unwrap();

    let status = |expect_success: bool| {
        let out = roster(&app.db_url, &["migrate", "--status"], None);
        assert_eq!(out.status.success(), expect_success, "{}", text(&out));
        let rows: Vec<(i64, String, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .skip(1)
            .filter(|l| !l.contains(','))
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                let version = words.next()?.parse().ok()?;
                let state = words.next()?.to_owned();
                Some((version, state, words.collect::<Vec<_>>().join(" ")))
            })
            .collect();
        (rows, text(&out))
    };
    let (rows, all) = status(true);
    let expected: Vec<(i64, String, String)> = files
        .iter()
        .map(|(v, n)| (*v, "applied".to_owned(), n.clone()))
        .collect();
    assert_eq!(rows, expected, "{all}");
    assert!(all.contains(&format!("{} applied, 0 pending", files.len())), "{all}");

    // As a database from before the last migration: it is listed as pending.
    execute(&app.db_url, &format!("DELETE FROM _sqlx_migrations WHERE version = {last}")).await;
    let (rows, all) = status(true);
    assert_eq!(rows.last().unwrap(), &(last, "pending".to_owned(), last_name), "{all}");
    assert!(all.contains(&format!("{} applied, 1 pending", files.len() - 1)), "{all}");

    // A migration this binary does not know (a newer Roster's): listed, and a failure.
    let checksum = if folder == "sqlite" { "X'00'" } else { "'\\x00'::bytea" };
    execute(
        &app.db_url,
        &format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (9999, 'from the future', TRUE, {checksum}, 1)"
        ),
    )
    .await;
    let (rows, all) = status(false);
    assert_eq!(rows.last().unwrap(), &(9999, "unknown".to_owned(), "from the future".to_owned()), "{all}");
    assert!(all.contains("9999 from the future is unknown"), "{all}");
}
