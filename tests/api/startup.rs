// Faults at start and in the admin CLI, through the binary (SQLite: they are about files).

use std::time::Duration;

use roster::app::App;
use roster::config::Config;
use roster::domain::{Actor, AuditRecord, Dialect};

use crate::binary::{run, serve, text};

const ADMIN: (&str, &str) = ("ROSTER_ADMIN_PASSWORD", "Adm1n!pass-word");

fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("roster.db").display())
}

/// Starts `roster serve ARGS` on a fresh directory; asserts it fails mentioning `expected`
/// and leaves no database file behind.
fn refused_without_a_trace(args: &[&str], expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let envs = [("ROSTER_DATABASE_URL", url.as_str()), ADMIN];
    let failed = serve(dir.path(), &envs, args)
        .err()
        .expect("the start fails");
    assert!(failed.contains(expected), "{args:?}: {failed}");
    assert!(!failed.contains("exit status: 0"), "{failed}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{args:?} left {left:?}");
}

#[tokio::test]
async fn a_first_start_on_a_taken_port_fails_and_creates_no_database() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    refused_without_a_trace(&["--listen", &addr], &format!("cannot listen on {addr}"));
}

#[tokio::test]
async fn a_first_start_with_a_missing_tls_file_fails_and_creates_no_database() {
    let args = [
        "--tls-cert",
        "/nonexistent/cert.pem",
        "--tls-key",
        "/nonexistent/key.pem",
    ];
    refused_without_a_trace(&args, "cannot read the certificate /nonexistent/cert.pem");
}

#[tokio::test]
async fn a_first_start_with_a_bad_setting_fails_and_creates_no_database() {
    refused_without_a_trace(&["--admin-email", "not-an-email"], "--admin-email");
    refused_without_a_trace(
        &["--password-pepper-file", "/nonexistent/pepper"],
        "cannot read --password-pepper-file /nonexistent/pepper",
    );
    refused_without_a_trace(&["--token-ttl", "0"], "--token-ttl");
    refused_without_a_trace(&["--token-ttl", "soon"], "--token-ttl");
}

#[tokio::test]
async fn audit_retention_of_zero_days_is_refused_with_the_range() {
    refused_without_a_trace(
        &["--audit-retention-days", "0"],
        "--audit-retention-days must be at least 1",
    );
}

#[tokio::test]
async fn without_a_terminal_the_generated_password_goes_to_an_owner_only_file_named_in_the_log() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let envs = [("ROSTER_DATABASE_URL", url.as_str())];
    // stdout is a pipe here, as under systemd or `docker run` without -t.
    let mut first = serve(dir.path(), &envs, &[]).expect("first start");
    let file = dir.path().join("roster.db.admin-password");
    let line = first
        .log
        .lines()
        .find(|l| l.contains("one-time password is in"))
        .unwrap_or_else(|| panic!("the log names the file: {}", first.log))
        .to_owned();
    assert!(line.contains("roster.db.admin-password"), "{line}");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let password = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert!(password.len() >= 16, "{password:?}");
    assert!(crate::binary::logs_on(&first, "admin@localhost", &password).await);
    first.wait_for("never appears", Duration::from_millis(300));
    let (log, stdout) = first.stop_with_stdout();
    assert!(
        !log.contains(&password),
        "the password is in the log: {log}"
    );
    assert!(
        !stdout.contains(&password),
        "the password is on a piped stdout: {stdout}"
    );
    let again = serve(dir.path(), &envs, &[]).expect("second start");
    assert!(!again.log.contains("one-time password"), "{}", again.log);
    assert!(!again.log.contains("set-password"), "{}", again.log);
}

#[tokio::test]
async fn a_password_file_that_cannot_be_written_is_logged_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let envs = [("ROSTER_DATABASE_URL", url.as_str())];
    // A directory where the file would go: it can be neither replaced nor created.
    std::fs::create_dir(dir.path().join("roster.db.admin-password")).unwrap();
    let mut first = serve(dir.path(), &envs, &[]).expect("the start goes on");
    first.wait_for("never appears", Duration::from_millis(300));
    let (log, stdout) = first.stop_with_stdout();
    let line = log
        .lines()
        .find(|l| l.contains("cannot write its one-time password"))
        .unwrap_or_else(|| panic!("an error names the file: {log}"));
    assert!(
        line.contains("ERROR") && line.contains("roster.db.admin-password"),
        "{line}"
    );
    assert!(
        !log.contains("one-time password: ") && stdout.is_empty(),
        "{log}{stdout}"
    );
    let next = serve(dir.path(), &envs, &[]).expect("next start").stop();
    assert!(
        next.contains("never shown") && next.contains("roster user set-password admin"),
        "{next}"
    );
}

#[tokio::test]
async fn on_a_terminal_the_generated_password_is_printed_on_stdout_and_never_logged() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    // `script` runs the server on a pseudo-terminal; what it prints comes back here.
    let command = format!("{} serve --log-format json", env!("CARGO_BIN_EXE_roster"));
    let mut child = std::process::Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .current_dir(dir.path())
        .env_remove("ROSTER_ADMIN_PASSWORD")
        .env("ROSTER_DATABASE_URL", &url)
        .env("ROSTER_LISTEN", "127.0.0.1:0")
        .env("ROSTER_LOG", "info")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("script(1) from util-linux runs");
    let stdout = child.stdout.take().unwrap();
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if send.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !seen.iter().any(|l: &String| l.contains("\"listening\"")) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let all = seen.join("\n");
    let shown = seen
        .iter()
        .find(|l| l.contains("one-time password: "))
        .unwrap_or_else(|| panic!("the password is shown on the terminal: {all}"));
    let password = shown.rsplit("one-time password: ").next().unwrap().trim();
    assert!(password.len() >= 16, "{shown}");
    let logged: Vec<&String> = seen
        .iter()
        .filter(|l| l.trim_start().starts_with('{'))
        .collect();
    assert!(!logged.is_empty(), "JSON log lines: {all}");
    assert!(
        logged.iter().all(|l| !l.contains(password)),
        "logged: {all}"
    );
    assert!(!dir.path().join("roster.db.admin-password").exists());
}

#[tokio::test]
async fn a_generated_admin_password_never_shown_is_named_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    // A first start that generated the password and stopped before printing it.
    let config = Config::for_tests("127.0.0.1:0".parse().unwrap(), &url);
    let app = App::build(config).await.expect("first start");
    assert!(app.generated_admin_password().is_some());
    drop(app);

    let envs = [("ROSTER_DATABASE_URL", url.as_str())];
    let next = serve(dir.path(), &envs, &[]).expect("next start").stop();
    assert!(
        next.contains("never shown") && next.contains("roster user set-password admin"),
        "{next}"
    );
    let set = run(
        dir.path(),
        &envs,
        &["user", "set-password", "admin"],
        "N3w!root-pw\n",
    );
    assert!(set.status.success(), "{}", text(&set));
    let after = serve(dir.path(), &envs, &[]).expect("start after set-password");
    assert!(!after.log.contains("set-password"), "{}", after.log);
    assert!(crate::binary::logs_on(&after, "admin@localhost", "N3w!root-pw").await);
}

#[tokio::test]
async fn admin_commands_never_create_a_database_and_name_the_one_they_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let envs = [("ROSTER_DATABASE_URL", "sqlite://roster.db")];
    let expected = dir.path().join("roster.db").display().to_string();
    let commands: [&[&str]; 7] = [
        &["user", "list"],
        &["user", "show", "admin"],
        &[
            "user",
            "add",
            "--username",
            "u",
            "--email",
            "u@example.com",
            "--password",
            "Us3r!pass",
        ],
        &["user", "set-password", "admin"],
        &["user", "delete", "u"],
        &["user", "unlock", "u"],
        &["audit"],
    ];
    for args in commands {
        let out = run(dir.path(), &envs, args, "N3w!root-pw\n");
        let said = text(&out);
        assert!(!out.status.success(), "{args:?}: {said}");
        for part in [expected.as_str(), "--database-url", "ROSTER_DATABASE_URL"] {
            assert!(said.contains(part), "{args:?} should name {part}: {said}");
        }
        assert!(
            !dir.path().join("roster.db").exists(),
            "{args:?} created it"
        );
    }
    let migrate = run(dir.path(), &envs, &["migrate"], "");
    assert!(migrate.status.success(), "{}", text(&migrate));
    assert!(dir.path().join("roster.db").exists());
    let list = run(dir.path(), &envs, &["user", "list"], "");
    assert!(list.status.success(), "{}", text(&list));
}

#[tokio::test]
async fn a_purge_that_removes_more_than_usual_is_logged_with_count_and_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let store = roster::store::open(&url).await.unwrap();
    store.migrate().await.unwrap();
    let old = roster::accounts::now() - 400 * 86_400;
    for n in 0..150 {
        let record = AuditRecord {
            at: old + n,
            actor: Actor::anonymous(Dialect::System, None),
            action: roster::domain::AuditAction::LogonFailed,
            account_id: None,
            username: Some(format!("u{n}")),
            changes: vec![],
        };
        store.record_audit(&record).await.unwrap();
    }
    drop(store);
    let envs = [("ROSTER_DATABASE_URL", url.as_str()), ADMIN];
    let mut server = serve(dir.path(), &envs, &["--audit-retention-days", "365"]).unwrap();
    let line = server
        .wait_for("audit records older than", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no purge warning: {}", server.log));
    let cutoff = roster::accounts::rfc3339(roster::accounts::now() - 365 * 86_400);
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("purged 150 audit records"), "{line}");
    assert!(line.contains(&cutoff[..10]), "{line} should name {cutoff}");
}

#[tokio::test]
async fn a_database_without_a_pepper_fingerprint_adopts_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let envs = [("ROSTER_DATABASE_URL", url.as_str()), ADMIN];
    serve(dir.path(), &envs, &[]).expect("first start").stop();
    // As a database from before fingerprints were kept.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("DELETE FROM secrets WHERE name = 'password-pepper-fingerprint'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let with_a = [envs[0], envs[1], ("ROSTER_PASSWORD_PEPPER", "pepper-A")];
    let adopted = serve(dir.path(), &with_a, &[]).expect("adopts").stop();
    assert!(adopted.contains("adopted the current pepper"), "{adopted}");
    let with_b = [envs[0], envs[1], ("ROSTER_PASSWORD_PEPPER", "pepper-B")];
    let refused = serve(dir.path(), &with_b, &[]).err().expect("B is refused");
    assert!(refused.contains("differs"), "{refused}");
}
