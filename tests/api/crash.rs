// Crash safety: every update acknowledged before a SIGKILL of the server is there after
// the restart.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{fresh_store, ADMIN_PASSWORD};

use super::BACKEND;

/// A `roster serve` child process, killed when dropped.
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

async fn start(db_url: &str) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", db_url])
        .env("ROSTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("roster starts");
    let server = Server { child, base: format!("http://127.0.0.1:{port}") };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(format!("{}/healthz", server.base)).await {
            if r.status().is_success() {
                return server;
            }
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Logs the default administrator on; the `session_token=…` pair to send back.
async fn admin_cookie(client: &reqwest::Client, base: &str) -> String {
    let logon = client
        .post(format!("{base}/users/api/auth"))
        .body(json!({"email": "admin@localhost", "password": ADMIN_PASSWORD}).to_string())
        .send()
        .await
        .unwrap();
    logon.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned()
}

const FIELDS: [&str; 4] = ["title", "company", "tel", "country"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_updates_survive_a_sigkill() {
    let (url, _dir) = fresh_store(BACKEND).await;
    let mut server = start(&url).await;
    let client = reqwest::Client::new();
    let cookie = admin_cookie(&client, &server.base).await;

    let acked: Arc<[AtomicI64; 4]> = Arc::new(Default::default());
    let mut writers = Vec::new();
    for (i, field) in FIELDS.iter().enumerate() {
        let (client, cookie, acked, url) = (client.clone(), cookie.clone(), acked.clone(), format!("{}/users/api/user", server.base));
        writers.push(tokio::spawn(async move {
            for n in 1.. {
                let body = json!({ *field: n.to_string() }).to_string();
                let Ok(reply) = client.post(&url).header("cookie", &cookie).body(body).send().await else { return };
                match reply.text().await {
                    Ok(text) if text.contains("\"ok\":true") => acked[i].store(n, Ordering::SeqCst),
                    _ => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    server.child.kill().unwrap(); // SIGKILL, mid-stream
    server.child.wait().unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let acked: Vec<i64> = acked.iter().map(|a| a.load(Ordering::SeqCst)).collect();
    assert!(acked.iter().all(|n| *n > 0), "some updates were acknowledged: {acked:?}");

    let server = start(&url).await;
    let account: serde_json::Value = client
        .get(format!("{}/users/api/user", server.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (i, field) in FIELDS.iter().enumerate() {
        let stored: i64 = account["data"][field].as_str().unwrap().parse().unwrap();
        // The last acknowledged value, or one whose acknowledgement the kill cut off.
        assert!(stored == acked[i] || stored == acked[i] + 1, "{field}: stored {stored}, acknowledged {}", acked[i]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_by_a_sigkill_leaves_no_half_file_visible() {
    use tokio::io::AsyncWriteExt;
    let (url, _dir) = fresh_store(BACKEND).await;
    let mut server = start(&url).await;
    let client = reqwest::Client::new();
    let cookie = admin_cookie(&client, &server.base).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /users/api/files/cut HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\n\
         Content-Type: multipart/form-data; boundary=b0\r\nContent-Length: 10000000\r\n\r\n\
         --b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"half.bin\"\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![9u8; 3 << 20]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    server.child.kill().unwrap(); // SIGKILL, mid-upload
    server.child.wait().unwrap();
    drop(stream);

    let server = start(&url).await;
    let get = |path: &str| client.get(format!("{}{path}", server.base)).header("cookie", &cookie).send();
    let root: serde_json::Value = get("/users/api/files").await.unwrap().json().await.unwrap();
    assert_eq!(root["children"], json!([]), "{root}");
    assert_eq!(get("/users/api/files/cut/half.bin").await.unwrap().status(), reqwest::StatusCode::NOT_FOUND);
    // The chunks written before the kill are there, unpublished, until the purge.
    let store = roster::store::files::open(&url).await.unwrap();
    assert!(store.purge_unpublished(i64::MAX).await.unwrap() >= 1, "the upload had begun");
}
