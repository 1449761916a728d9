//! Files Roster creates are readable by their owner only, whatever the umask.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::ADMIN_PASSWORD;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_database_and_its_wal_and_shm_are_owner_only_under_umask_022() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("roster.db");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("sh")
        .args([
            "-c",
            "umask 022; exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_roster"),
            "serve",
        ])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", &format!("sqlite://{}", db.display())])
        .env("ROSTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A write, so that the WAL holds something.
    let body = serde_json::json!({"email": "admin@localhost", "password": ADMIN_PASSWORD});
    let reply = reqwest::Client::new()
        .post(format!("{base}/users/api/auth"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(reply.status().is_success());
    for suffix in ["", "-wal", "-shm"] {
        let path = dir.path().join(format!("roster.db{suffix}"));
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    let _ = child.kill();
    let _ = child.wait();
}
