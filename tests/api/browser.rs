//! The web pages in a real browser: tests/browser/e2e.mjs drives the system's headless
//! Chromium (Playwright, no browser download) against a server this test starts, with mail
//! going to the test SMTP server so that the reset-by-mail pages run too. Where Chromium,
//! Node or the script's packages (`npm ci` in tests/browser) are missing the test is skipped
//! with a message, except in CI (env `CI`), where that fails it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::helpers::{Backend, TestApp, ADMIN_PASSWORD, PASSWORD};
use crate::smtp::SmtpServer;

const CHROMIUM: &str = "/usr/bin/chromium";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Whether everything the browser test needs is installed; in CI its absence fails.
fn browser_available() -> bool {
    let dir = browser_dir();
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let missing: Vec<&str> = [
        (
            Path::new(CHROMIUM).exists(),
            "chromium (apt-get install chromium chromium-driver)",
        ),
        (node, "node (apt-get install nodejs npm)"),
        (
            dir.join("node_modules/playwright-core").exists()
                && dir.join("node_modules/axe-core").exists(),
            "tests/browser/node_modules (npm ci in tests/browser)",
        ),
    ]
    .into_iter()
    .filter_map(|(present, what)| (!present).then_some(what))
    .collect();
    assert!(
        missing.is_empty() || std::env::var("CI").is_err(),
        "the browser test needs, in CI: {missing:?} (.ci/run installs them)"
    );
    if !missing.is_empty() {
        eprintln!("browser test skipped: missing {missing:?}");
    }
    missing.is_empty()
}

/// The files the page uploads: a text file, and a zip of a folder with two files.
fn write_fixtures(dir: &Path) {
    let readme = b"Roster browser test: the readme.\n";
    std::fs::write(dir.join("hello.txt"), b"hello from the browser test\n").unwrap();
    std::fs::write(dir.join("readme.txt"), readme).unwrap();
    let zip = crate::files_client::zip(&[
        ("docs/readme.txt", readme),
        ("docs/notes.txt", b"notes to delete\n"),
    ]);
    std::fs::write(dir.join("bundle.zip"), zip).unwrap();
}

/// Waits for the reset mail and writes its link's path and query to `file` for the script.
async fn relay_reset_link(smtp: SmtpServer, file: PathBuf) {
    for _ in 0..1200 {
        let link = smtp.received().iter().find_map(|mail| {
            let body = mail.body();
            let at = body.find("/account/reset?token=")?;
            body[at..].split_whitespace().next().map(str::to_owned)
        });
        if let Some(link) = link {
            std::fs::write(&file, link).unwrap();
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_pages_work_in_headless_chromium() {
    if !browser_available() {
        return;
    }
    let smtp = SmtpServer::start().await;
    let smtp_url = smtp.url();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.smtp_url = Some(smtp_url)).await;
    let plain = TestApp::spawn(Backend::Sqlite).await;
    app.add_user("alice", "alice@example.org").await;

    let work = tempfile::tempdir().unwrap();
    write_fixtures(work.path());
    let link_file = work.path().join("reset-link");
    let relay = tokio::spawn(relay_reset_link(smtp, link_file.clone()));
    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    let mut command = std::process::Command::new("node");
    command
        .arg(browser_dir().join("e2e.mjs"))
        .current_dir(browser_dir())
        .env("ROSTER_URL", app.url(""))
        .env("ROSTER_URL_NO_MAIL", plain.url(""))
        .env("ROSTER_ADMIN_EMAIL", "admin@localhost")
        .env("ROSTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("ROSTER_USER_EMAIL", "alice@example.org")
        .env("ROSTER_USER_PASSWORD", PASSWORD)
        .env("ROSTER_FIXTURES", work.path())
        .env("ROSTER_SCREENSHOTS", &screenshots)
        .env("ROSTER_RESET_LINK_FILE", &link_file)
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::null());

    let started = std::time::Instant::now();
    // The script bounds each of its waits (10 s); this bounds the whole run.
    let output = tokio::task::spawn_blocking(move || command.output());
    let output = tokio::time::timeout(Duration::from_secs(300), output)
        .await
        .expect("the browser test finishes within 5 minutes")
        .unwrap()
        .expect("node runs");
    relay.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    eprintln!("browser test took {:.1} s", started.elapsed().as_secs_f64());
    assert!(output.status.success(), "the browser test failed");
    for shot in ["account.png", "admin.png"] {
        assert!(screenshots.join(shot).exists(), "no screenshot {shot}");
    }
}
