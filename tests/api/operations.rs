// Operations through the binary: backup and restore under write load (SQLite), restore's
// refusals, the help of each subcommand, completions and the manual page.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::binary::{logs_on, run, serve, text, Server};
use crate::files_client::{multipart, BOUNDARY};
use crate::helpers::basic;

const ADMIN_PASSWORD: &str = "Adm1n!pass-word";
const ADMIN: (&str, &str) = ("ROSTER_ADMIN_PASSWORD", ADMIN_PASSWORD);

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("roster.db").display())
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The administrator's ENSIMS session cookie.
async fn admin_cookie(server: &Server) -> String {
    let reply = reqwest::Client::new()
        .post(server.url("/users/api/auth"))
        .json(&serde_json::json!({"email": "admin@localhost", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = reply.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

/// What the writers had acknowledged, each with the instant its reply arrived.
#[derive(Default)]
struct Acked {
    users: Vec<(usize, Instant)>,
    positions: Vec<(usize, Instant)>,
    attempted_users: usize,
    attempted_positions: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_write_load_restores_every_write_acknowledged_before_it() {
    let live = tempfile::tempdir().unwrap();
    let url = sqlite_url(live.path());
    let envs = [("ROSTER_DATABASE_URL", url.as_str()), ADMIN];
    let server = serve(live.path(), &envs, &[]).expect("the server starts");
    let cookie = admin_cookie(&server).await;
    let client = reqwest::Client::new();

    // A file, kept in the database: the backup must carry it.
    let content = b"kept in the database, so in the backup".to_vec();
    let upload = client
        .post(server.url("/users/api/files/notes"))
        .header("cookie", &cookie)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&[("file", "a.txt", &content)]))
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 200, "{}", upload.text().await.unwrap());

    // Two writers: account creations (userapi.do) and partial updates (ENSIMS), each
    // sequential, each remembering what was acknowledged and when.
    let acked = Arc::new(Mutex::new(Acked::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let creator = {
        let (acked, stop, client) = (acked.clone(), stop.clone(), client.clone());
        let url = server.url("/userapi.do?action=createUser");
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                acked.lock().unwrap().attempted_users = n + 1;
                let body = serde_json::json!({
                    "username": format!("w{n}"), "password": format!("Wr1te!pass{n}"),
                    "email": format!("w{n}@example.com"), "firstname": "W", "lastname": "R"});
                let reply = client
                    .post(&url)
                    .header("authorization", basic("admin", ADMIN_PASSWORD))
                    .json(&body)
                    .send()
                    .await;
                if let Ok(reply) = reply {
                    let ok = reply.status() == 200;
                    let v: serde_json::Value = reply.json().await.unwrap_or_default();
                    if ok && v["created"].get(format!("w{n}")).is_some() {
                        acked.lock().unwrap().users.push((n, Instant::now()));
                    }
                }
                n += 1;
            }
        })
    };
    let updater = {
        let (acked, stop, client, cookie) =
            (acked.clone(), stop.clone(), client.clone(), cookie.clone());
        let url = server.url("/users/api/user");
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                acked.lock().unwrap().attempted_positions = n + 1;
                let reply = client
                    .post(&url)
                    .header("cookie", &cookie)
                    .json(&serde_json::json!({"position": format!("p{n}")}))
                    .send()
                    .await;
                if let Ok(reply) = reply {
                    let v: serde_json::Value = reply.json().await.unwrap_or_default();
                    if v["ok"] == true {
                        acked.lock().unwrap().positions.push((n, Instant::now()));
                    }
                }
                n += 1;
            }
        })
    };

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let backup = live.path().join("backup.db");
    let started = Instant::now();
    let out = {
        let (dir, backup, url) = (live.path().to_owned(), backup.clone(), url.clone());
        tokio::task::spawn_blocking(move || {
            let envs = [("ROSTER_DATABASE_URL", url.as_str())];
            run(&dir, &envs, &["backup", backup.to_str().unwrap()], "")
        })
        .await
        .unwrap()
    };
    assert!(out.status.success(), "{}", text(&out));
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    creator.await.unwrap();
    updater.await.unwrap();
    // Restore refuses while the server has the database open, and changes nothing.
    let busy = run(
        live.path(),
        &envs,
        &["restore", backup.to_str().unwrap()],
        "",
    );
    assert!(!busy.status.success());
    assert!(text(&busy).contains("in use"), "{}", text(&busy));
    drop(server);
    assert_eq!(mode(&backup), 0o600);

    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let users_before: Vec<usize> = acked
        .users
        .iter()
        .filter(|(_, at)| *at < started)
        .map(|(n, _)| *n)
        .collect();
    let last_position_before = acked
        .positions
        .iter()
        .filter(|(_, at)| *at < started)
        .map(|(n, _)| *n)
        .max();
    assert!(
        users_before.len() >= 2 && last_position_before.is_some(),
        "the writers ran before the backup: {} users, {:?}",
        users_before.len(),
        last_position_before
    );
    assert!(
        acked.users.len() > users_before.len(),
        "writes went on during and after the backup"
    );

    // Restore into a fresh place and start a server on it.
    let fresh = tempfile::tempdir().unwrap();
    let fresh_url = sqlite_url(fresh.path());
    let fresh_envs = [("ROSTER_DATABASE_URL", fresh_url.as_str()), ADMIN];
    let restored = run(
        fresh.path(),
        &fresh_envs,
        &["restore", backup.to_str().unwrap()],
        "",
    );
    assert!(restored.status.success(), "{}", text(&restored));
    let db = fresh.path().join("roster.db");
    assert_eq!(mode(&db), 0o600, "the restored database is owner-only");
    let server = serve(fresh.path(), &fresh_envs, &[]).expect("starts on the restored copy");

    let reply = client
        .get(server.url("/userapi.do?action=getUsers&limit=1000"))
        .header("authorization", basic("admin", ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = reply.json().await.unwrap();
    let names: BTreeSet<String> = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect();
    // Every creation acknowledged before the backup started is there.
    for n in &users_before {
        assert!(names.contains(&format!("w{n}")), "w{n} lost: {names:?}");
    }
    // A point-in-time copy: the creations it holds are the first m of the sequential
    // writer's (m at least those acknowledged before), never one without the ones before.
    let restored_users: BTreeSet<usize> = names
        .iter()
        .filter_map(|n| n.strip_prefix('w')?.parse().ok())
        .collect();
    let m = restored_users.len();
    assert_eq!(
        restored_users,
        (0..m).collect(),
        "a prefix of the creations"
    );
    assert!(m >= users_before.len() && m <= acked.attempted_users);
    // The partial updates: the restored position is the last acknowledged before the backup
    // or a later one of the same writer.
    let user = client
        .get(server.url("/users/api/user"))
        .header("cookie", admin_cookie(&server).await)
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = user.json().await.unwrap();
    let position: usize = v["data"]["position"]
        .as_str()
        .and_then(|p| p.strip_prefix('p')?.parse().ok())
        .unwrap_or_else(|| panic!("a position: {v}"));
    let floor = last_position_before.unwrap();
    assert!(
        position >= floor && position < acked.attempted_positions,
        "position p{position}, acknowledged before the backup: p{floor}"
    );
    println!(
        "backup under load: {} creations acknowledged before the backup, {} in all, {m} \
         restored; position p{floor} acknowledged before, p{position} restored, {} updates \
         acknowledged in all",
        users_before.len(),
        acked.users.len(),
        acked.positions.len()
    );
    // The file, and a restored password hash that still logs on.
    let file = client
        .get(server.url("/users/api/files/notes/a.txt"))
        .header("cookie", admin_cookie(&server).await)
        .send()
        .await
        .unwrap();
    assert_eq!(file.bytes().await.unwrap().as_ref(), content.as_slice());
    assert!(logs_on(&server, "w0@example.com", "Wr1te!pass0").await);
}

#[tokio::test]
async fn restore_checks_the_backup_and_keeps_the_database_it_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let envs = [("ROSTER_DATABASE_URL", url.as_str()), ADMIN];
    serve(dir.path(), &envs, &[]).expect("first start").stop();
    let good = dir.path().join("good.db");
    let out = run(dir.path(), &envs, &["backup", good.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out));
    // A backup never overwrites.
    let again = run(dir.path(), &envs, &["backup", good.to_str().unwrap()], "");
    assert!(!again.status.success() && text(&again).contains("exists"));

    let add = [
        "user",
        "add",
        "--username",
        "later",
        "--email",
        "later@example.com",
        "--password",
        "L4ter!pass",
    ];
    assert!(run(dir.path(), &envs, &add, "").status.success());
    let before = std::fs::read(dir.path().join("roster.db")).unwrap();

    // Not a database, and a SQLite database that is not Roster's: refused, nothing changed.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all").unwrap();
    let other = dir.path().join("other.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", other.display()))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE t (x)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    for bad in [&junk, &other, &dir.path().join("missing.db")] {
        let out = run(dir.path(), &envs, &["restore", bad.to_str().unwrap()], "");
        assert!(!out.status.success(), "{bad:?}: {}", text(&out));
        assert!(
            text(&out).contains(bad.file_name().unwrap().to_str().unwrap()),
            "names the backup: {}",
            text(&out)
        );
    }
    assert_eq!(std::fs::read(dir.path().join("roster.db")).unwrap(), before);
    let list = run(dir.path(), &envs, &["user", "list"], "");
    assert!(text(&list).contains("later"), "{}", text(&list));

    // A backup from a newer Roster (a migration this one does not know) is refused.
    let newer = dir.path().join("newer.db");
    std::fs::copy(&good, &newer).unwrap();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", newer.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
         execution_time) VALUES (9999, 'from the future', TRUE, X'00', 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let out = run(dir.path(), &envs, &["restore", newer.to_str().unwrap()], "");
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("does not match this Roster's migrations"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(dir.path().join("roster.db")).unwrap(), before);

    // The good backup replaces it; the replaced database is kept beside it.
    let out = run(dir.path(), &envs, &["restore", good.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out));
    let kept: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("roster.db.before-restore-"))
        .collect();
    assert_eq!(kept.len(), 1, "{}", text(&out));
    assert!(text(&out).contains(&kept[0]), "{}", text(&out));
    let list = run(dir.path(), &envs, &["user", "list"], "");
    assert!(
        list.status.success() && !text(&list).contains("later"),
        "{}",
        text(&list)
    );
    let status = run(dir.path(), &envs, &["migrate", "--status"], "");
    assert!(
        status.status.success() && text(&status).contains(" 0 pending"),
        "{}",
        text(&status)
    );
}

#[tokio::test]
async fn backup_and_restore_on_postgresql_point_to_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let envs = [("ROSTER_DATABASE_URL", "postgres://roster@db.invalid/roster")];
    for cmd in ["backup", "restore"] {
        let out = run(dir.path(), &envs, &[cmd, "x.dump"], "");
        assert!(!out.status.success());
        assert!(text(&out).contains("pg_dump"), "{}", text(&out));
    }
}

#[tokio::test]
async fn each_subcommand_lists_only_its_own_flags() {
    let dir = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| {
        let mut full = args.to_vec();
        full.push("--help");
        let out = run(dir.path(), &[], &full, "");
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let server_only = [
        "--listen",
        "--tls-cert",
        "--admin-key",
        "--token-ttl",
        "--smtp-url",
        "--ldap-url",
        "--database-wait",
        "--files-quota",
    ];
    let serve = help(&["serve"]);
    for flag in server_only {
        assert!(serve.contains(flag), "serve lacks {flag}");
    }
    let commands: [&[&str]; 11] = [
        &["user", "add"],
        &["user", "list"],
        &["user", "show"],
        &["user", "set-password"],
        &["user", "delete"],
        &["user", "unlock"],
        &["audit"],
        &["migrate"],
        &["backup"],
        &["restore"],
        &["completions"],
    ];
    for args in commands {
        let page = help(args);
        for flag in server_only {
            assert!(!page.contains(flag), "{args:?} lists {flag}:\n{page}");
        }
    }
    // Only the commands that hash a password take the hashing settings.
    for args in [&["user", "add"][..], &["user", "set-password"]] {
        assert!(help(args).contains("--argon2-memory-kib"), "{args:?}");
    }
    for args in [
        &["user", "list"][..],
        &["user", "delete"],
        &["audit"],
        &["migrate"],
    ] {
        assert!(!help(args).contains("--argon2"), "{args:?}");
    }
    for args in [&["user", "list"][..], &["user", "show"], &["audit"]] {
        assert!(help(args).contains("--json"), "{args:?}");
    }
    assert!(help(&["migrate"]).contains("--status"));
}

#[tokio::test]
async fn completions_and_the_manual_page_are_printed() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef roster"),
        ("fish", "complete -c roster"),
    ] {
        let out = run(dir.path(), &[], &["completions", shell], "");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{shell}: {}", text(&out));
        assert!(script.contains(marker), "{shell}: {script}");
        for word in ["serve", "backup", "set-password", "database-url"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    let bad = run(dir.path(), &[], &["completions", "cmd.exe"], "");
    assert!(!bad.status.success());
    let man = run(dir.path(), &[], &["man"], "");
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(man.status.success(), "{}", text(&man));
    assert!(page.contains(".TH roster 1"), "{page}");
    for word in ["backup", "restore", "migrate", "completions"] {
        assert!(page.contains(word), "the page lacks {word}");
    }
}

/// Runs `roster ARGS` on a pseudo-terminal (`script` from util-linux): answers each prompt
/// in `answers` once the prompt is shown; everything the terminal showed, and the status.
fn on_a_terminal(dir: &Path, url: &str, args: &str, answers: &[(&str, &str)]) -> (String, bool) {
    use std::io::{Read, Write};
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_roster"));
    let mut child = std::process::Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .current_dir(dir)
        .env("ROSTER_DATABASE_URL", url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("script(1) from util-linux runs");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (send, got) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            if send.send(buf[..n].to_vec()).is_err() {
                return;
            }
        }
    });
    let mut shown = String::new();
    let read_until = |shown: &mut String, needle: &str, from: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !shown[from..].contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            let bytes = got
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no {needle:?} on the terminal ({e}): {shown}"));
            shown.push_str(&String::from_utf8_lossy(&bytes));
        }
    };
    let mut from = 0;
    for (prompt, answer) in answers {
        read_until(&mut shown, prompt, from);
        from = shown.len();
        // The prompt is written just before echo is turned off (rpassword's order), so a
        // typist as quick as this test could beat it: answer as a person would, a moment on.
        std::thread::sleep(Duration::from_millis(300));
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
    }
    let status = child.wait().unwrap();
    while let Ok(bytes) = got.recv_timeout(Duration::from_millis(500)) {
        shown.push_str(&String::from_utf8_lossy(&bytes));
    }
    (shown, status.success())
}

#[tokio::test]
async fn on_a_terminal_passwords_are_prompted_twice_without_echo() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let envs = [("ROSTER_DATABASE_URL", url.as_str()), ADMIN];
    serve(dir.path(), &envs, &[]).expect("first start").stop();

    let secret = "Pr0mpt!secret";
    let (shown, ok) = on_a_terminal(
        dir.path(),
        &url,
        "user add --username tty --email tty@example.com",
        &[("Password: ", secret), ("Password again: ", secret)],
    );
    assert!(ok, "{shown}");
    assert!(shown.contains("Created 'tty'"), "{shown}");
    assert!(!shown.contains(secret), "the password was echoed: {shown}");

    let (shown, ok) = on_a_terminal(
        dir.path(),
        &url,
        "user set-password tty",
        &[
            ("Password: ", "N3w!secret-1"),
            ("Password again: ", "N3w!secret-2"),
        ],
    );
    assert!(!ok && shown.contains("differ"), "{shown}");
    let server = serve(dir.path(), &envs, &[]).expect("start");
    assert!(
        logs_on(&server, "tty@example.com", secret).await,
        "unchanged"
    );
}
