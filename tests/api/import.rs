// `roster import`: accounts in bulk from JSON lines, with other servers' password hashes,
// run as the built binary against the store of a running server.

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::process::{Command, Output};

use argon2::password_hash::{PasswordHasher, SaltString};
use base64::Engine;

use crate::helpers::TestApp;

use super::BACKEND;

const PW: &str = "M0ved!pass";

fn roster_import(app: &TestApp, lines: &[String], extra: &[&str]) -> Output {
    roster_import_env(app, lines, extra, &[])
}

fn roster_import_env(
    app: &TestApp,
    lines: &[String],
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let path = file.display().to_string();
    let mut args = vec!["import", path.as_str()];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(&args)
        .env("ROSTER_DATABASE_URL", &app.db_url)
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn line(username: &str, secret: (&str, &str)) -> String {
    serde_json::json!({
        "username": username,
        "email": format!("{username}@moved.example"),
        secret.0: secret.1,
        "firstname": "Mo",
        "lastname": "Ved",
    })
    .to_string()
}

fn argon2_hash(algorithm: argon2::Algorithm, password: &str) -> String {
    let params = argon2::Params::new(8192, 1, 1, None).unwrap();
    argon2::Argon2::new(algorithm, argon2::Version::V0x13, params)
        .hash_password(
            password.as_bytes(),
            &SaltString::generate(&mut argon2::password_hash::rand_core::OsRng),
        )
        .unwrap()
        .to_string()
}

fn bcrypt_hash(prefix: &str, password: &str) -> String {
    let hash = bcrypt::hash(password, 4).unwrap();
    format!("{prefix}{}", &hash[4..])
}

/// Django's `pbkdf2_sha256$iterations$salt$base64(digest)`.
fn django_hash(password: &str) -> String {
    let mut out = [0u8; 32];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        NonZeroU32::new(1200).unwrap(),
        b"djangosalt12",
        password.as_bytes(),
        &mut out,
    );
    let digest = base64::engine::general_purpose::STANDARD.encode(out);
    format!("pbkdf2_sha256$1200$djangosalt12${digest}")
}

/// Whether the ENSIMS log-on accepts these credentials (it answers 200 either way).
async fn logs_on(app: &TestApp, email: &str, password: &str) -> bool {
    app.try_log_on(email, password).await.json()["ok"] == true
}

async fn stored_hash(app: &TestApp, username: &str) -> String {
    app.store()
        .await
        .account_by_username(username)
        .await
        .unwrap()
        .password_hash
        .unwrap()
}

#[tokio::test]
async fn every_hash_format_logs_on_and_is_upgraded_to_argon2id() {
    let app = TestApp::spawn(BACKEND).await;
    let users = [
        ("argon2id", argon2_hash(argon2::Algorithm::Argon2id, PW)),
        ("argon2i", argon2_hash(argon2::Algorithm::Argon2i, PW)),
        ("bcrypt2a", bcrypt_hash("$2a$", PW)),
        ("bcrypt2b", bcrypt_hash("$2b$", PW)),
        ("bcrypt2y", bcrypt_hash("$2y$", PW)),
        ("django", django_hash(PW)),
    ];
    let mut lines: Vec<String> = users
        .iter()
        .map(|(name, hash)| line(name, ("password_hash", hash)))
        .collect();
    lines.push(line("plain", ("password", PW)));
    let out = roster_import(&app, &lines, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("7 created"), "{}", stderr(&out));

    for (name, given) in &users {
        let email = format!("{name}@moved.example");
        // Stored in a form that names its scheme: Argon2 ones marked as made elsewhere.
        let stored = stored_hash(&app, name).await;
        let expected = if name.starts_with("argon2") {
            format!("foreign:{given}")
        } else {
            given.clone()
        };
        assert_eq!(stored, expected, "{name}");
        assert!(
            !logs_on(&app, &email, "Wr0ng!pass").await,
            "{name}: a wrong password is refused"
        );
        let reply = app.try_log_on(&email, PW).await;
        assert_eq!(reply.json()["ok"], true, "{name}: {}", reply.text);
        assert_eq!(reply.json()["user"], "Mo");
        let upgraded = stored_hash(&app, name).await;
        assert!(
            upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{name} upgraded: {upgraded}"
        );
        assert!(logs_on(&app, &email, PW).await, "{name} after the upgrade");
    }
    assert!(logs_on(&app, "plain@moved.example", PW).await);
}

#[tokio::test]
async fn a_peppered_server_takes_unpeppered_argon2id_hashes_and_peppers_them_at_log_on() {
    let dir = tempfile::tempdir().unwrap();
    let pepper = dir.path().join("pepper");
    std::fs::write(&pepper, "import-pepper").unwrap();
    let path = pepper.clone();
    let app = TestApp::spawn_with(BACKEND, |c| c.rules.password_pepper_file = Some(path)).await;
    // Made elsewhere with the server's very parameters, but without its pepper.
    let params = argon2::Params::new(19456, 2, 1, None).unwrap();
    let hash = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(
            PW.as_bytes(),
            &SaltString::generate(&mut argon2::password_hash::rand_core::OsRng),
        )
        .unwrap()
        .to_string();
    let env = [("ROSTER_PASSWORD_PEPPER", "import-pepper")];
    let out = roster_import_env(&app, &[line("pep", ("password_hash", &hash))], &[], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(logs_on(&app, "pep@moved.example", PW).await);
    let upgraded = stored_hash(&app, "pep").await;
    assert!(upgraded.starts_with("$argon2id$") && upgraded != hash);
    assert!(logs_on(&app, "pep@moved.example", PW).await, "with the pepper now");
    assert!(!logs_on(&app, "pep@moved.example", "Wr0ng!pass").await);
}

#[tokio::test]
async fn bad_lines_are_reported_by_number_and_skipped() {
    let app = TestApp::spawn(BACKEND).await;
    let secret_hash = bcrypt_hash("$2b$", PW);
    let lines = vec![
        line("good1", ("password_hash", &secret_hash)),
        "{\"username\": \"broken\", \"password\": \"Sup3r!secret-value\"".to_owned(),
        serde_json::json!({"username": "noemail", "password": "Sup3r!secret-value"}).to_string(),
        line("badhash", ("password_hash", "md5$Sup3r!secret-value")),
        line("bad name!", ("password", PW)),
        line("weak", ("password", "abc")),
        serde_json::json!({"username": "both", "email": "both@x.example",
            "password": PW, "password_hash": secret_hash})
        .to_string(),
        serde_json::json!({"username": "dupmail", "email": "good1@moved.example",
            "password_hash": secret_hash})
        .to_string(),
        String::new(),
        line("good2", ("password", PW)),
    ];
    let out = roster_import(&app, &lines, &[]);
    let err = stderr(&out);
    assert!(!out.status.success(), "a failed line makes the run fail: {err}");
    for n in [2, 3, 4, 5, 6, 7, 8] {
        assert!(err.contains(&format!("line {n}: ")), "line {n} reported: {err}");
    }
    assert!(!err.contains("line 1:") && !err.contains("line 10:"), "{err}");
    assert!(!err.contains("Sup3r!secret-value") && !err.contains(&secret_hash), "{err}");
    assert!(!err.contains(PW), "{err}");
    assert!(err.contains("2 created"), "{err}");
    for email in ["good1@moved.example", "good2@moved.example"] {
        assert!(logs_on(&app, email, PW).await, "{email}");
    }
    let store = app.store().await;
    assert!(store.account_by_username("dupmail").await.is_err());
    assert!(store.account_by_username("weak").await.is_err());
}

#[tokio::test]
async fn strict_refuses_the_whole_file_for_one_bad_line() {
    let app = TestApp::spawn(BACKEND).await;
    let hash = bcrypt_hash("$2b$", PW);
    let before = app.store().await.count_accounts().await.unwrap();
    let mut lines: Vec<String> = (0..20)
        .map(|i| line(&format!("s{i}"), ("password_hash", &hash)))
        .collect();
    lines.push(line("s5", ("password_hash", &hash)));
    let out = roster_import(&app, &lines, &["--strict", "--batch-size", "7"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("line 21: user name repeated"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(app.store().await.count_accounts().await.unwrap(), before);

    lines.pop();
    let out = roster_import(&app, &lines, &["--strict", "--batch-size", "7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        app.store().await.count_accounts().await.unwrap(),
        before + 20
    );
}

#[tokio::test]
async fn a_rerun_duplicates_nothing_and_update_overwrites() {
    let app = TestApp::spawn(BACKEND).await;
    let hash = bcrypt_hash("$2b$", PW);
    let lines: Vec<String> = (0..30)
        .map(|i| line(&format!("r{i}"), ("password_hash", &hash)))
        .collect();
    let out = roster_import(&app, &lines, &["--batch-size", "8"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let count = app.store().await.count_accounts().await.unwrap();

    let out = roster_import(&app, &lines, &["--batch-size", "8"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("0 created, 0 updated, 30 skipped"), "{}", stderr(&out));
    assert_eq!(app.store().await.count_accounts().await.unwrap(), count);

    let changed: Vec<String> = lines.iter().map(|l| l.replace("\"Mo\"", "\"Max\"")).collect();
    let out = roster_import(&app, &changed, &["--on-conflict", "update"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("0 created, 30 updated"), "{}", stderr(&out));
    assert_eq!(app.store().await.count_accounts().await.unwrap(), count);
    let r7 = app.store().await.account_by_username("r7").await.unwrap();
    assert_eq!(r7.profile.get(roster::domain::TextField::Firstname), Some("Max"));
    assert_eq!(r7.version, 2);

    // The same values again: nothing to write.
    let out = roster_import(&app, &changed, &["--on-conflict", "update"]);
    assert!(stderr(&out).contains("0 updated, 30 skipped"), "{}", stderr(&out));
    assert_eq!(
        app.store().await.account_by_username("r7").await.unwrap().version,
        2
    );
    assert!(logs_on(&app, "r7@moved.example", PW).await);
}

#[tokio::test]
async fn paging_through_get_users_returns_every_user_exactly_once() {
    let app = TestApp::spawn(BACKEND).await;
    let hash = bcrypt_hash("$2b$", PW);
    // Names whose order differs from their order of creation; enough of them that pages
    // past the offset where the store seeks through its page marks are read too.
    let n: usize = 25_000;
    let names: Vec<String> = (0..n).map(|i| format!("p{:05}", (i * 7919) % n)).collect();
    let lines: Vec<String> = names
        .iter()
        .map(|n| line(n, ("password_hash", &hash)))
        .collect();
    let out = roster_import(&app, &lines, &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let reply = app
            .admin(&format!("getUsers&offset={offset}&limit=1000"), "{}")
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let json = reply.json();
        assert_eq!(json["count"], n + 1, "admin and the imported");
        let page = json["users"].as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        // Steps that do not fall on the marks (every 1000th name).
        offset += page.len().min(997);
        if page.len() > 997 {
            seen.extend(page[..997].iter().map(|u| u["username"].as_str().unwrap().to_owned()));
            continue;
        }
        seen.extend(page.iter().map(|u| u["username"].as_str().unwrap().to_owned()));
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), n + 1);
    assert_eq!(unique.len(), n + 1, "no user twice");
    let mut sorted = seen.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(seen, sorted, "ordered by user name");

    // A page deep in the list, then one after a change in front of it.
    let deep = app.admin("getUsers&offset=24000&limit=3", "{}").await.json();
    assert_eq!(deep["users"][0]["username"], seen[24000].as_str());
    let out = roster_import(&app, &[line("a0000", ("password_hash", &hash))], &[]);
    assert!(out.status.success());
    let shifted = app.admin("getUsers&offset=24001&limit=3", "{}").await.json();
    assert_eq!(shifted["users"][0]["username"], seen[24000].as_str());
    assert_eq!(shifted["count"], n + 2);
    let last = app.admin(&format!("getUsers&offset={}&limit=5", n + 1), "{}").await.json();
    assert_eq!(last["users"].as_array().unwrap().len(), 1);
    assert_eq!(last["users"][0]["username"], seen[n].as_str());
}
