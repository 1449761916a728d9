//! Operability: `/metrics` counts what happened.

use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, ADMIN_PASSWORD};

/// The value of the sample `series` (name and labels exactly as exposed), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

async fn scrape(app: &TestApp) -> String {
    let reply = app.get("/metrics", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let kind = reply.headers["content-type"].to_str().unwrap();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    reply.text
}

#[tokio::test]
async fn metrics_show_the_counters_moved_after_a_log_on_and_an_update() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let before = scrape(&app).await;
    let auth = r#"roster_http_requests_total{method="POST",route="/users/api/auth",status="200"}"#;
    assert_eq!(sample(&before, auth), None);
    assert_eq!(
        sample(&before, r#"roster_logons_total{outcome="succeeded"}"#),
        None
    );

    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let failed = app.try_log_on("admin@localhost", "Wr0ng!guess").await;
    assert_eq!(
        failed.json()["ok"],
        false,
        "ENSIMS answers a failure with 200"
    );
    let update = app
        .post("/users/api/user", r#"{"title":"Ops"}"#, Some(&token))
        .await;
    assert_eq!(update.status, StatusCode::OK, "{}", update.text);
    app.get("/no/such/thing/42", None).await;

    let after = scrape(&app).await;
    assert_eq!(sample(&after, auth), Some(2.0), "{after}");
    let update_series =
        r#"roster_http_requests_total{method="POST",route="/users/api/user",status="200"}"#;
    assert_eq!(sample(&after, update_series), Some(1.0));
    let latency = r#"roster_http_request_duration_seconds_count{method="POST",route="/users/api/user",status="200"}"#;
    assert_eq!(sample(&after, latency), Some(1.0));
    let unmatched = r#"roster_http_requests_total{method="GET",route="unmatched",status="404"}"#;
    assert_eq!(sample(&after, unmatched), Some(1.0));
    assert!(!after.contains("/no/such"), "a raw path as a label");
    for (outcome, count) in [("succeeded", 1.0), ("failed", 1.0)] {
        let series = format!(r#"roster_logons_total{{outcome="{outcome}"}}"#);
        assert_eq!(sample(&after, &series), Some(count), "{outcome}");
    }
    let checks = sample(&after, "roster_password_verifications_total").unwrap();
    assert!(checks >= 2.0, "{checks}");
    assert_eq!(checks as u64, app.accounts.password_checks());
    assert!(sample(&after, "roster_password_hash_busy_seconds_total").unwrap() > 0.0);
    assert_eq!(sample(&after, "roster_password_hash_queue"), Some(0.0));
    let max = r#"roster_db_pool_connections{pool="writer",state="max"}"#;
    assert!(sample(&after, max).unwrap() >= 1.0, "{after}");
}

#[tokio::test]
async fn throttled_log_ons_are_counted() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for _ in 0..5 {
        app.try_log_on("admin@localhost", "Wr0ng!guess").await;
    }
    let refused = app.try_log_on("admin@localhost", ADMIN_PASSWORD).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let text = scrape(&app).await;
    assert_eq!(
        sample(&text, r#"roster_logons_total{outcome="throttled"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"roster_logons_total{outcome="failed"}"#),
        Some(5.0)
    );
}

/// A `roster` child process, killed when dropped.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `roster serve` on a free port with `args` and `env`, stderr to `log`; waits until
/// it answers `/healthz`. Returns the child and its base URL.
pub async fn start_binary(
    args: &[&str],
    env: &[(&str, &str)],
    log: std::fs::File,
) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_roster"));
    command
        .args(args)
        .args(["--listen", &listen])
        .env("ROSTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env_remove("ROSTER_LOG")
        .env_remove("RUST_LOG")
        .env_remove("ROSTER_LOG_FORMAT")
        .stdout(std::process::Stdio::null())
        .stderr(log);
    for (name, value) in env {
        command.env(name, value);
    }
    let child = Child(command.spawn().expect("roster starts"));
    let base = format!("http://{listen}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !reqwest::get(format!("{base}/healthz"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not come up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (child, base)
}

#[tokio::test]
async fn json_log_lines_parse_and_the_access_line_carries_the_request_id_and_outcome() {
    let (url, dir) = crate::helpers::fresh_store(Backend::Sqlite).await;
    let log_path = dir.path().join("roster.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let args = ["serve", "--log-format", "json", "--database-url", &url];
    let (server, base) = start_binary(&args, &[], log).await;
    let failed = reqwest::Client::new()
        .post(format!("{base}/users/api/auth"))
        .header("x-request-id", "json-req-1")
        .json(&serde_json::json!({"email": "admin@localhost", "password": "Wr0ng!guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        failed.status(),
        StatusCode::OK,
        "ENSIMS: a failure is a 200"
    );
    drop(server);

    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let start = lines
        .iter()
        .find(|l| l["fields"]["version"] == env!("CARGO_PKG_VERSION"))
        .unwrap_or_else(|| panic!("no start line with the version in:\n{log}"));
    let settings = start["fields"]["settings"].as_str().unwrap();
    assert!(settings.contains("listen=127.0.0.1:"), "{settings}");
    let access = lines
        .iter()
        .find(|l| l["target"] == "access" && l["span"]["request_id"] == "json-req-1")
        .unwrap_or_else(|| panic!("no access line for json-req-1 in:\n{log}"));
    assert_eq!(access["span"]["route"], "/users/api/auth");
    assert_eq!(access["span"]["method"], "POST");
    assert_eq!(access["fields"]["status"], 200);
    assert_eq!(access["fields"]["outcome"], "logon_failed");
    assert_eq!(access["fields"]["address"], "127.0.0.1");
    assert!(access["fields"]["latency_ms"].as_f64().unwrap() > 0.0);
    assert!(access["fields"]["account"].is_number(), "{access}");
    assert!(!log.contains('@'), "an email in the log:\n{log}");
    assert!(!log.contains("Wr0ng!guess") && !log.contains(ADMIN_PASSWORD));
    assert!(!log.contains("SELECT"), "SQL statements logged by default");
}

/// Runs `roster ARGS` with `env` (and no inherited `ROSTER_*` settings), returning status,
/// stdout and stderr.
fn roster(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_roster"));
    command.args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("ROSTER_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    let out = command.output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

const FILE: &str = r#"
listen = "127.0.0.1:1111"
token-ttl = 100
session-max-age = 200
audit-retention-days = 30
admin-key = "file-admin-key-0123456789"
database-url = "postgres://app:s3cretDbPw@db.example:5432/roster"
allow-registration = true
locales = ["ja-jp", "en-us"]
"#;

#[test]
fn the_config_file_is_under_env_which_is_under_flags_and_check_config_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.toml");
    std::fs::write(&path, FILE).unwrap();
    let path = path.to_str().unwrap();
    let env = [
        ("ROSTER_CONFIG", path),
        ("ROSTER_TOKEN_TTL", "300"),
        ("ROSTER_SESSION_MAX_AGE", "400"),
        ("ROSTER_NO_SUCH_SETTING", "x"),
    ];
    let (ok, out, err) = roster(&["check-config", "--session-max-age", "500"], &env);
    assert!(ok, "{out}\n{err}");
    for line in [
        "session-max-age = 500  # flag",
        "token-ttl = 300  # env",
        "audit-retention-days = 30  # file",
        "listen = \"127.0.0.1:1111\"  # file",
        "allow-registration = true  # file",
        "locales = [\"ja-jp\", \"en-us\"]  # file",
        "admin-key = \"***\"  # file",
        "database-url = \"postgres://app:***@db.example:5432/roster\"  # file",
        "body-limit = 65536  # default",
        "# ROSTER_ADMIN_PASSWORD: not set",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
    for secret in ["file-admin-key-0123456789", "s3cretDbPw"] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "{secret} shown"
        );
    }
    assert!(
        err.contains("ROSTER_NO_SUCH_SETTING"),
        "not reported: {err}"
    );

    // The same file through --config, with the flag winning over it.
    let (ok, out, _) = roster(
        &[
            "check-config",
            "--config",
            path,
            "--listen",
            "127.0.0.1:2222",
        ],
        &[],
    );
    assert!(ok);
    assert!(out.contains("listen = \"127.0.0.1:2222\"  # flag"), "{out}");
    assert!(out.contains("token-ttl = 100  # file"), "{out}");
}

#[test]
fn an_unknown_key_or_a_bad_value_in_the_config_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:1\"\ntoken-tll = 5\n").unwrap();
    let (ok, _, err) = roster(&["check-config", "--config", path.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(err.contains("unknown key `token-tll`"), "{err}");
    std::fs::write(&path, "token-ttl = 0\n").unwrap();
    let (ok, _, err) = roster(&["check-config", "--config", path.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(err.contains("--token-ttl"), "{err}");
}

#[tokio::test]
async fn the_server_takes_its_settings_from_the_config_file() {
    let (url, dir) = crate::helpers::fresh_store(Backend::Sqlite).await;
    let path = dir.path().join("roster.toml");
    std::fs::write(
        &path,
        format!("database-url = {url:?}\nallow-registration = true\nlog-format = \"json\"\n"),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("roster.log")).unwrap();
    let args = ["serve", "--config", path.to_str().unwrap()];
    let (_server, base) = start_binary(&args, &[], log).await;
    let registered = reqwest::Client::new()
        .post(format!("{base}/users/api/register"))
        .json(&serde_json::json!({"email": "new@example.com", "password": "N3w!passwd", "username": "newbie"}))
        .send()
        .await
        .unwrap();
    let text = registered.text().await.unwrap();
    assert!(
        text.contains("\"ok\":true"),
        "registration stayed closed: {text}"
    );
    let log = std::fs::read_to_string(dir.path().join("roster.log")).unwrap();
    assert!(
        log.lines().all(|l| l.starts_with('{')),
        "not JSON logs: {log}"
    );
}

/// Every operation of `/openapi.json` is served: none falls to the 404 or 405 fallback.
#[tokio::test]
async fn every_path_and_method_of_the_openapi_document_is_served() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.allow_registration = true).await;
    let reply = app.get("/openapi.json", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["cookieAuth"]["name"], "session_token");
    assert_eq!(schemes["basicAuth"]["scheme"], "basic");
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let target = if path == "/userapi.do" {
                format!("{path}?action=getUsers")
            } else {
                path.clone()
            };
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            let reply = app.send(method.clone(), &target, Some("{}"), None).await;
            let fallback = reply.text.contains("\"Not found.\"")
                || reply.text.contains("\"Method not allowed.\"");
            assert!(
                !fallback,
                "{method} {path}: {} {}",
                reply.status, reply.text
            );
            operations += 1;
        }
    }
    assert!(operations >= 17, "{operations}");
}

#[test]
fn version_names_the_release_and_the_commit() {
    let (ok, out, _) = roster(&["--version"], &[]);
    assert!(ok);
    let expected = format!("roster {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(out.starts_with(&expected), "{out}");
    let commit = out.trim().rsplit(' ').next().unwrap().trim_end_matches(')');
    assert!(!commit.is_empty(), "{out}");
}
