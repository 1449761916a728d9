//! Fault injection: a full disk, the database file removed or replaced, the PostgreSQL
//! server stopped and started again under load. In each, no acknowledged write is lost, a
//! write that cannot be stored gets 503 in its dialect's format, reads go on where they can,
//! and service comes back by itself.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::helpers::{basic, Reply, TestApp, ADMIN_PASSWORD};

/// A small tmpfs mounted on a temp dir (root only), unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        if !mounted {
            eprintln!("cannot mount a tmpfs (not root?): the disk-full test does not run here");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the file system of `dir` with a file until no byte more fits.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    for chunk in [1 << 20, 4096, 1] {
        let block = vec![0u8; chunk];
        while file.write_all(&block).is_ok() {}
    }
    let _ = file.sync_all();
    path
}

/// Asserts a 503 in the dialect of `path`.
fn assert_unavailable(reply: &Reply, userapi: bool) {
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text
    );
    let body = reply.json();
    if userapi {
        assert!(body["code"].as_str().unwrap().ends_with("050003"), "{body}");
    } else {
        assert_eq!(body["ok"], false, "{body}");
    }
    assert!(reply.headers.get("retry-after").is_some());
}

/// What a write load got acknowledged: ENSIMS update markers and created user names.
#[derive(Default)]
struct Acked {
    markers: Vec<String>,
    users: Vec<String>,
    /// Users a reply said were not created because of the fault.
    refused: Vec<String>,
    unavailable: usize,
}

/// Writes through both dialects until `stop`: ENSIMS partial updates of the session's own
/// account (each with a unique marker) and `createUser` batches of two. Every reply must be
/// a success or a 503 in the dialect's format; successes are recorded.
fn write_load(
    app: &Arc<TestApp>,
    token: &str,
    stop: &Arc<AtomicBool>,
    tag: &str,
) -> Vec<JoinHandle<Acked>> {
    let mut tasks = Vec::new();
    for worker in 0..3 {
        let (app, token, stop, tag) = (app.clone(), token.to_owned(), stop.clone(), tag.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut acked = Acked::default();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let marker = format!("{tag}w{worker}n{i}x");
                let body = json!({ "company": marker }).to_string();
                let reply = app.post("/users/api/user", &body, Some(&token)).await;
                if reply.status == StatusCode::OK {
                    assert_eq!(reply.json()["ok"], true, "{}", reply.text);
                    acked.markers.push(marker);
                } else {
                    assert_unavailable(&reply, false);
                    acked.unavailable += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            acked
        }));
    }
    let (app, stop, tag) = (app.clone(), stop.clone(), tag.to_owned());
    tasks.push(tokio::spawn(async move {
        let mut acked = Acked::default();
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            let names = [format!("{tag}a{i}"), format!("{tag}b{i}")];
            let batch: Vec<Value> = names
                .iter()
                .map(|n| {
                    json!({"username": n, "password": "Cr3ate!pass", "firstname": "F",
                    "lastname": "L", "email": format!("{n}@example.com")})
                })
                .collect();
            let reply = app
                .admin("createUser", &Value::Array(batch).to_string())
                .await;
            if reply.status == StatusCode::OK {
                let body = reply.json();
                let created = body["created"].as_object().cloned().unwrap_or_default();
                acked.users.extend(created.keys().cloned());
                for item in body["failed"].as_array().cloned().unwrap_or_default() {
                    assert!(item["code"].as_str().unwrap().ends_with("050003"), "{item}");
                    acked
                        .refused
                        .push(item["username"].as_str().unwrap().to_owned());
                }
            } else {
                assert_unavailable(&reply, true);
                acked.refused.extend(names.iter().cloned());
                acked.unavailable += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        acked
    }));
    tasks
}

async fn collect(tasks: Vec<JoinHandle<Acked>>) -> Acked {
    let mut all = Acked::default();
    for task in tasks {
        let acked = task.await.unwrap();
        all.markers.extend(acked.markers);
        all.users.extend(acked.users);
        all.refused.extend(acked.refused);
        all.unavailable += acked.unavailable;
    }
    all
}

/// Every acknowledged write is in the store at `url`, opened afresh: each created user
/// exists, and each acknowledged update has its audit record (written in the same
/// transaction as the update).
async fn assert_all_there(url: &str, acked: &Acked) {
    let store = roster::store::open(url).await.unwrap();
    for user in &acked.users {
        assert!(
            store
                .account_by_username(&user.to_lowercase())
                .await
                .is_ok(),
            "acknowledged user {user} is missing"
        );
    }
    for user in &acked.refused {
        assert!(
            store
                .account_by_username(&user.to_lowercase())
                .await
                .is_err(),
            "user {user}, reported as not created, exists"
        );
    }
    let trail = format!(
        "{:?}",
        store
            .audit_records(Some("admin"), None, 1_000_000)
            .await
            .unwrap()
    );
    for marker in &acked.markers {
        assert!(
            trail.contains(marker),
            "acknowledged update {marker} is missing"
        );
    }
}

async fn ready(app: &TestApp) -> Reply {
    app.get("/readyz", None).await
}

/// Retries a write until it succeeds; the time it took.
async fn until_writable(app: &TestApp, token: &str) -> Duration {
    let start = Instant::now();
    loop {
        let reply = app
            .post("/users/api/user", r#"{"title":"Dr"}"#, Some(token))
            .await;
        if reply.status == StatusCode::OK {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "writes never came back: {}",
            reply.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_costs_no_acknowledged_write_and_writes_come_back_when_space_does() {
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let url = format!("sqlite://{}", fs.path().join("roster.db").display());
    let app = Arc::new(TestApp::spawn_on(&url, |_| {}).await);
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;

    let stop = Arc::new(AtomicBool::new(false));
    let load = write_load(&app, &token, &stop, "h");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let filler = fill(fs.path());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // While full: reads are served, readiness says why not.
    assert_eq!(
        app.get("/users/api/user", Some(&token)).await.status,
        StatusCode::OK
    );
    let not_ready = ready(&app).await;
    assert_eq!(
        not_ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        not_ready.text
    );
    assert_eq!(not_ready.json()["ready"], false);
    assert!(!not_ready.json()["reason"].as_str().unwrap().is_empty());
    stop.store(true, Ordering::Relaxed);
    let during = collect(load).await;
    assert!(during.unavailable > 0, "the full disk was never noticed");

    std::fs::remove_file(filler).unwrap();
    let back = until_writable(&app, &token).await;
    eprintln!("writes came back {back:?} after space was freed");
    assert_eq!(ready(&app).await.status, StatusCode::OK);
    let stop = Arc::new(AtomicBool::new(false));
    let load = write_load(&app, &token, &stop, "r");
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    let after = collect(load).await;
    assert_eq!(
        after.unavailable, 0,
        "writes still refused after space came back"
    );

    drop(app);
    eprintln!(
        "disk full: {} updates and {} users acknowledged, {} writes refused with 503",
        during.markers.len() + after.markers.len(),
        during.users.len() + after.users.len(),
        during.unavailable
    );
    assert_all_there(&url, &during).await;
    assert_all_there(&url, &after).await;
}

#[tokio::test]
async fn a_removed_database_file_stops_writes_and_is_never_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("roster.db");
    let app = TestApp::spawn_on(&format!("sqlite://{}", db.display()), |_| {}).await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    assert_eq!(
        app.post("/users/api/user", r#"{"title":"Mr"}"#, Some(&token))
            .await
            .status,
        StatusCode::OK
    );
    std::fs::remove_file(&db).unwrap();
    let start = Instant::now();
    let reply = app
        .post("/users/api/user", r#"{"title":"Dr"}"#, Some(&token))
        .await;
    assert_unavailable(&reply, false);
    let reply = app
        .userapi(
            reqwest::Method::POST,
            "action=updateUser",
            Some(r#"{"username":"admin","locale":"ja-jp"}"#),
            Some(&basic("admin", ADMIN_PASSWORD)),
        )
        .await;
    assert_unavailable(&reply, true);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "refusals took {:?}",
        start.elapsed()
    );
    let not_ready = ready(&app).await;
    assert_eq!(not_ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        not_ready.json()["reason"]
            .as_str()
            .unwrap()
            .contains("removed"),
        "{}",
        not_ready.text
    );
    // A read is served from a connection still open on the old file, or refused with 503
    // when it needs a new one; no empty database appeared in its place.
    let read = app.get("/users/api/user", Some(&token)).await;
    assert!(
        [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE].contains(&read.status),
        "{}",
        read.text
    );
    assert!(!db.exists(), "the database file was recreated");
}

#[tokio::test]
async fn a_replaced_database_file_takes_no_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("roster.db");
    let app = TestApp::spawn_on(&format!("sqlite://{}", db.display()), |_| {}).await;
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    // Another database moved over it (a restore gone wrong).
    let other = dir.path().join("other.db");
    let store = roster::store::open(&format!("sqlite://{}", other.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    drop(store);
    std::fs::rename(&other, &db).unwrap();
    let reply = app
        .post("/users/api/user", r#"{"title":"Dr"}"#, Some(&token))
        .await;
    assert_unavailable(&reply, false);
    let not_ready = ready(&app).await;
    assert!(
        not_ready.json()["reason"]
            .as_str()
            .unwrap()
            .contains("replaced"),
        "{}",
        not_ready.text
    );
    let replacement = roster::store::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    assert_eq!(
        replacement.count_accounts().await.unwrap(),
        0,
        "a write reached the replacement"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stopped_and_started_under_load_loses_no_acknowledged_write() {
    let Some(cluster) = crate::pg::start(crate::pg::Options::default()) else {
        return;
    };
    let url = cluster.fresh_database().await;
    let app = Arc::new(TestApp::spawn_on(&url, |_| {}).await);
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;

    let stop = Arc::new(AtomicBool::new(false));
    let load = write_load(&app, &token, &stop, "p");
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.stop();
    // During the outage every request is answered, and within 10 s.
    let outage = Instant::now();
    while outage.elapsed() < Duration::from_secs(2) {
        let asked = Instant::now();
        let reply = app
            .post("/users/api/user", r#"{"title":"Dr"}"#, Some(&token))
            .await;
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "a request took {:?}",
            asked.elapsed()
        );
        assert_unavailable(&reply, false);
    }
    let not_ready = ready(&app).await;
    assert_eq!(
        not_ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        not_ready.text
    );
    cluster.resume();
    let back = until_writable(&app, &token).await;
    eprintln!("writes came back {back:?} after PostgreSQL did");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let acked = collect(load).await;
    assert!(acked.unavailable > 0, "the outage was never noticed");
    assert_eq!(ready(&app).await.status, StatusCode::OK);
    eprintln!(
        "postgres restart: {} updates and {} users acknowledged, {} writes refused with 503",
        acked.markers.len(),
        acked.users.len(),
        acked.unavailable
    );
    assert_all_there(&url, &acked).await;
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_with_host_port_and_cause_within_seconds() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://roster:s3cret@127.0.0.1:{port}/roster");
    let mut config = roster::config::Config::for_tests("127.0.0.1:0".parse().unwrap(), &url);
    config.store.database_wait = 1;
    let start = Instant::now();
    let err = roster::app::App::build(config)
        .await
        .err()
        .expect("no database: no start");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.to_lowercase().contains("refused"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

#[tokio::test]
async fn a_start_waits_for_a_postgres_that_comes_up_after_it() {
    let Some(cluster) = crate::pg::start(crate::pg::Options::default()) else {
        return;
    };
    let url = cluster.fresh_database().await;
    cluster.stop();
    let waiting = {
        let url = url.clone();
        tokio::spawn(async move { TestApp::spawn_on(&url, |c| c.store.database_wait = 30).await })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!waiting.is_finished(), "the start did not wait");
    cluster.resume();
    let app = waiting.await.unwrap();
    app.log_on("admin@localhost", ADMIN_PASSWORD).await;
}

/// Sets or clears the immutable attribute (`chattr`): on ext4 even root's writes through
/// files already open then fail, which is what a read-only database file means to a server
/// that holds it open. `false` where the file system has no such attribute.
fn immutable(paths: &[PathBuf], on: bool) -> bool {
    let flag = if on { "+i" } else { "-i" };
    paths.iter().all(|path| {
        Command::new("chattr")
            .arg(flag)
            .arg(path)
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Clears the immutable attribute when dropped.
struct Restore(Vec<PathBuf>);

impl Drop for Restore {
    fn drop(&mut self) {
        immutable(&self.0, false);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_only_database_file_refuses_writes_until_it_is_writable_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("roster.db");
    let url = format!("sqlite://{}", db.display());
    let app = Arc::new(TestApp::spawn_on(&url, |_| {}).await);
    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let files = [db.clone(), dir.path().join("roster.db-wal")];
    // Cleared whatever happens, so that the temp dir can be removed.
    let _restore = Restore(files.to_vec());
    if !immutable(&files, true) {
        eprintln!("chattr +i is not supported here: the read-only test does not run");
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let load = write_load(&app, &token, &stop, "o");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let not_ready = ready(&app).await;
    assert_eq!(
        not_ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        not_ready.text
    );
    assert_eq!(
        app.get("/users/api/user", Some(&token)).await.status,
        StatusCode::OK
    );
    stop.store(true, Ordering::Relaxed);
    let during = collect(load).await;
    assert!(immutable(&files, false), "chattr -i");
    assert!(
        during.unavailable > 0,
        "the read-only file was never noticed"
    );
    let back = until_writable(&app, &token).await;
    eprintln!(
        "read-only: {} updates and {} users acknowledged, {} writes refused; writable again {back:?} later",
        during.markers.len(),
        during.users.len(),
        during.unavailable
    );
    assert_eq!(ready(&app).await.status, StatusCode::OK);
    drop(app);
    assert_all_there(&url, &during).await;
}
