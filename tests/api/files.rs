// The files API (`/users/api/files`): the vendor notebook's sequence, path safety, zips,
// quota, isolation between users, deletion with the account, audit.

use reqwest::StatusCode;
use serde_json::{json, Value};


use crate::files_client::{zip, zip_with_link};
use crate::helpers::{TestApp, PASSWORD};

use super::BACKEND;

/// A user `john.s` logged on, on a server whose configuration `tweak` adjusts.
async fn john_with(tweak: impl FnOnce(&mut roster::config::Config)) -> (TestApp, String) {
    let app = TestApp::spawn_with(BACKEND, tweak).await;
    app.add_user("john.s", "john@example.com").await;
    let token = app.log_on("john@example.com", PASSWORD).await;
    (app, token)
}

async fn john() -> (TestApp, String) {
    john_with(|_| {}).await
}

/// The root listing's entries.
async fn root(app: &TestApp, token: &str) -> Value {
    let reply = app.get("/users/api/files", Some(token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()["children"].clone()
}

fn win_ini() -> Vec<u8> {
    let mut bytes = b"; for 16-bit app support\r\n[fonts]\r\n[extensions]\r\n[mci extensions]\r\n[files]\r\n[Mail]\r\nMAPI=1\r\n".to_vec();
    bytes.resize(167, b' ');
    bytes
}

#[tokio::test]
async fn the_notebook_sequence_gets_the_recorded_replies() {
    let (app, token) = john().await;
    let ini = win_ini();
    let reply = app.upload("/users/api/files/test/0", &token, &[("file", "win.ini", &ini)]).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (
            StatusCode::OK,
            r#"{"ok":true,"status":"File(s) uploaded successfully","fileHandle":"test/0","callback":"/users/api/files/test/0"}"#
        )
    );
    let listed = app.get("/users/api/files/test/0", Some(&token)).await;
    assert_eq!(
        listed.text,
        r#"{"fileName":"/test/0","name":"/test/0","open":true,"nocheck":true,"fileSize":0,"children":[{"fileName":"win.ini","name":"win.ini (0.17 KB)","open":false,"nocheck":false,"fileSize":167,"children":[]}]}"#
    );
    let download = app
        .client
        .get(app.url("/users/api/files/test/0/win.ini"))
        .header("cookie", format!("session_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    let headers = download.headers().clone();
    assert_eq!(headers["content-disposition"], "attachment; filename=\"win.ini\"");
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(download.bytes().await.unwrap().as_ref(), ini.as_slice());

    let archive = zip(&[
        ("Shoebox_v8.9/", b""),
        ("Shoebox_v8.9/in.idf", &[b'x'; 4840]),
        ("Shoebox_v8.9/weather/site.epw", &[b'y'; 223_900]),
    ]);
    let reply = app.upload("/users/api/files/", &token, &[("file", "Shoebox_v8.9.zip", &archive)]).await;
    assert_eq!(
        reply.text,
        r#"{"ok":true,"status":"File(s) uploaded successfully","fileHandle":"Shoebox_v8.9","callback":"/users/api/files/Shoebox_v8.9"}"#
    );
    let listed = app.get("/users/api/files/Shoebox_v8.9", Some(&token)).await;
    assert_eq!(
        listed.json(),
        json!({"fileName":"/Shoebox_v8.9","name":"/Shoebox_v8.9","open":true,"nocheck":true,"fileSize":0,"children":[
            {"fileName":"in.idf","name":"in.idf (4.84 KB)","open":false,"nocheck":false,"fileSize":4840,"children":[]},
            {"fileName":"weather","name":"weather","open":false,"nocheck":true,"fileSize":0,"children":[
                {"fileName":"site.epw","name":"site.epw (223.9 KB)","open":false,"nocheck":false,"fileSize":223_900,"children":[]}]}]})
    );
    let deleted = app.delete("/users/api/files/Shoebox_v8.9", &token).await;
    assert_eq!(
        deleted.text,
        r#"{"ok":true,"status":"Shoebox_v8.9 has been deleted"}"#
    );
    let gone = app.get("/users/api/files/Shoebox_v8.9", Some(&token)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let names: Vec<&str> = vec!["test"];
    let listed = root(&app, &token).await;
    assert_eq!(
        listed.as_array().unwrap().iter().map(|n| n["fileName"].as_str().unwrap()).collect::<Vec<_>>(),
        names
    );
}

#[tokio::test]
async fn delete_echoes_the_path_as_given_and_says_when_nothing_is_there() {
    let (app, token) = john().await;
    let archive = zip(&[("example_jep_v81/a.jep", b"1"), ("example_jep_v81/b/c.jep", b"2")]);
    app.upload("/users/api/files", &token, &[("file", "example_jep_v81.zip", &archive)]).await;
    assert_eq!(
        app.delete("/users/api/files/example_jep_v81/", &token).await.text,
        r#"{"ok":true,"status":"example_jep_v81/ has been deleted"}"#
    );
    let again = app.delete("/users/api/files/example_jep_v81/", &token).await;
    assert_eq!(
        (again.status, again.text.as_str()),
        (
            StatusCode::OK,
            r#"{"ok":false,"status":"example_jep_v81/ is not found or cannot be deleted"}"#
        )
    );
    assert_eq!(root(&app, &token).await, json!([]));
}

#[tokio::test]
async fn several_parts_in_one_upload_are_all_stored_and_other_parts_ignored() {
    let (app, token) = john().await;
    let reply = app
        .upload(
            "/users/api/files/runs/2024",
            &token,
            &[("file", "a.idf", b"first"), ("comment", "note.txt", b"ignored"), ("file", "b.epw", b"second")],
        )
        .await;
    assert_eq!(reply.json()["fileHandle"], "runs/2024", "{}", reply.text);
    let listed = app.get("/users/api/files/runs/2024", Some(&token)).await.json();
    let names: Vec<&str> = listed["children"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a.idf (0.01 KB)", "b.epw (0.01 KB)"]);
    let b = app.get("/users/api/files/runs/2024/b.epw", Some(&token)).await;
    assert_eq!(b.text, "second");
    // The same name again replaces the file.
    app.upload("/users/api/files/runs/2024", &token, &[("file", "b.epw", b"third!")]).await;
    assert_eq!(app.get("/users/api/files/runs/2024/b.epw", Some(&token)).await.text, "third!");
}

#[tokio::test]
async fn every_unsafe_path_is_refused_with_400_naming_it_and_nothing_is_stored() {
    let (app, token) = john().await;
    let long = format!("/users/api/files/{}", "a".repeat(1100));
    let bad = [
        "/users/api/files/..",
        "/users/api/files/a/../../b",
        "/users/api/files/a%5C..%5C..%5Cb",
        "/users/api/files/%2Fetc%2Fpasswd",
        "/users/api/files/%5Cwindows",
        "/users/api/files/C:%5Cwindows",
        "/users/api/files/a%00b",
        "/users/api/files/a%0Ab",
        "/users/api/files/a%1Bb",
        long.as_str(),
    ];
    for path in bad {
        for method in ["GET", "DELETE", "POST"] {
            let (status, body) = app.raw(method, path, &token).await;
            assert_eq!(status, 400, "{method} {path}: {body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["ok"], false);
            assert!(v["status"].as_str().unwrap().starts_with("Invalid path"), "{body}");
        }
    }
    // Part names are reduced to their last segment, or refused.
    let reply = app.upload("/users/api/files/in", &token, &[("file", "../../escape.txt", b"x")]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let reply = app.upload("/users/api/files/in", &token, &[("file", "..", b"x")]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(
        root(&app, &token).await,
        json!([{"fileName":"in","name":"in","open":false,"nocheck":true,"fileSize":0,"children":[
            {"fileName":"escape.txt","name":"escape.txt (0.00 KB)","open":false,"nocheck":false,"fileSize":1,"children":[]}]}])
    );
}

#[tokio::test]
async fn zip_slip_absolute_and_link_entries_refuse_the_whole_upload() {
    let (app, token) = john().await;
    let archives = [
        zip(&[("good.txt", b"fine"), ("../evil.txt", b"escaped")]),
        zip(&[("good.txt", b"fine"), ("a/../../evil.txt", b"escaped")]),
        zip(&[("good.txt", b"fine"), ("/etc/evil.txt", b"absolute")]),
        zip(&[("good.txt", b"fine"), ("C:\\evil.txt", b"drive")]),
        zip_with_link("link", "/etc/passwd"),
    ];
    for archive in &archives {
        let reply = app
            .upload("/users/api/files/x", &token, &[("file", "plain.txt", b"alongside"), ("file", "slip.zip", archive)])
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
        assert!(reply.json()["status"].as_str().unwrap().starts_with("Zip entry refused"), "{}", reply.text);
    }
    assert_eq!(root(&app, &token).await, json!([]));
}

#[tokio::test]
async fn a_zip_bomb_and_a_zip_of_too_many_entries_are_refused_with_nothing_stored() {
    let (app, token) = john_with(|c| c.files_quota = 4 << 20).await;
    let zeros = vec![0u8; 32 << 20];
    let bomb = zip(&[("bomb.bin", &zeros)]);
    assert!(bomb.len() < 100_000, "a small file: {}", bomb.len());
    let reply = app.upload("/users/api/files", &token, &[("file", "bomb.zip", &bomb)]).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, r#"{"ok":false,"status":"Storage quota exceeded."}"#)
    );
    let names: Vec<String> = (0..=roster::accounts::files::MAX_ENTRIES).map(|i| format!("many/{i}")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    let reply = app.upload("/users/api/files", &token, &[("file", "many.zip", &zip(&entries))]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(reply.text.contains("10000 entries"), "{}", reply.text);
    assert_eq!(root(&app, &token).await, json!([]));
    // Nothing staged is left behind either.
    let store = roster::store::files::open(&app.db_url).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(store.purge_unpublished(i64::MAX).await.unwrap(), 0);
}

#[tokio::test]
async fn an_upload_past_the_quota_or_the_upload_limit_is_refused_whole() {
    let (app, token) = john_with(|c| {
        c.files_quota = 1000;
        c.upload_limit = 4000;
    })
    .await;
    let ok = app.upload("/users/api/files/q", &token, &[("file", "a.bin", &[1; 600])]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let over = app
        .upload("/users/api/files/q", &token, &[("file", "b.bin", &[2; 300]), ("file", "c.bin", &[3; 300])])
        .await;
    assert_eq!(
        (over.status, over.text.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, r#"{"ok":false,"status":"Storage quota exceeded."}"#)
    );
    // Replacing a file frees its room.
    let again = app.upload("/users/api/files/q", &token, &[("file", "a.bin", &[4; 900])]).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let big = app.upload("/users/api/files/q", &token, &[("file", "d.bin", &[5; 5000])]).await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", big.text);
    let listed = app.get("/users/api/files/q", Some(&token)).await.json();
    assert_eq!(listed["children"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["children"][0]["fileSize"], 900);
}

#[tokio::test]
async fn another_users_files_are_unreachable() {
    let (app, john) = john().await;
    app.add_user("mary", "mary@example.com").await;
    let mary = app.log_on("mary@example.com", PASSWORD).await;
    app.upload("/users/api/files/private", &john, &[("file", "secret.txt", b"john's")]).await;
    assert_eq!(root(&app, &mary).await, json!([]));
    for path in ["/users/api/files/private/secret.txt", "/users/api/files/private"] {
        assert_eq!(app.get(path, Some(&mary)).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.delete(path, &mary).await.json()["ok"], false);
    }
    assert_eq!(app.get("/users/api/files/private/secret.txt", Some(&john)).await.text, "john's");
    for path in ["/users/api/files", "/users/api/files/private/secret.txt"] {
        assert_eq!(app.get(path, None).await.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn deleting_the_account_deletes_its_files() {
    let (app, token) = john().await;
    app.upload("/users/api/files/keep", &token, &[("file", "a.txt", &[7; 3000])]).await;
    let id = app.store().await.account_by_email("john@example.com").await.unwrap().id;
    let store = roster::store::files::open(&app.db_url).await.unwrap();
    assert_eq!(store.used(id).await.unwrap(), 3000);
    let reply = app.admin("deleteUser", r#"{"username":"john.s"}"#).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(store.entries(id, "").await.unwrap(), vec![]);
    assert_eq!(store.used(id).await.unwrap(), 0);
    assert_eq!(store.purge_unpublished(i64::MAX).await.unwrap(), 0, "no blob left");
}

#[tokio::test]
async fn a_file_cannot_take_a_folders_place_nor_the_reverse() {
    let (app, token) = john().await;
    app.upload("/users/api/files/a", &token, &[("file", "b", b"file")]).await;
    let reply = app.upload("/users/api/files/a/b", &token, &[("file", "c", b"x")]).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    let reply = app.upload("/users/api/files", &token, &[("file", "a", b"x")]).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    assert_eq!(app.get("/users/api/files/a/b", Some(&token)).await.text, "file");
}

#[tokio::test]
async fn uploads_and_deletions_are_audited_with_path_and_size_never_content() {
    let (app, token) = john().await;
    app.upload("/users/api/files/d", &token, &[("file", "note.txt", b"TOP-SECRET-CONTENT")]).await;
    app.delete("/users/api/files/d", &token).await;
    let records = app.accounts.audit(&app.accounts.operator(), Some("john.s"), None, 50).await.unwrap();
    let find = |action: &str| {
        records
            .iter()
            .find(|r| r.action.as_str() == action)
            .unwrap_or_else(|| panic!("no {action} record"))
            .clone()
    };
    let upload = format!("{:?}", find("file_upload").changes);
    assert!(upload.contains("d/note.txt") && upload.contains("\"18\""), "{upload}");
    let delete = format!("{:?}", find("file_delete").changes);
    assert!(delete.contains("\"d\"") && delete.contains("\"18\""), "{delete}");
    assert!(!format!("{records:?}").contains("TOP-SECRET"), "{records:?}");
}

#[tokio::test]
async fn a_body_that_is_not_multipart_gets_400_in_the_dialect() {
    let (app, token) = john().await;
    let reply = app.post("/users/api/files/x", "{}", Some(&token)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.json()["ok"], false);
    let reply = app.upload("/users/api/files/x", &token, &[("other", "a.txt", b"x")]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(root(&app, &token).await, json!([]));
}

#[tokio::test]
async fn an_upload_or_delete_from_another_site_is_refused_and_changes_nothing() {
    let (app, token) = john().await;
    app.upload("/users/api/files/k", &token, &[("file", "a.txt", b"kept")]).await;
    let body = crate::files_client::multipart(&[("file", "evil.txt", b"planted")]);
    let content_type = format!("multipart/form-data; boundary={}", crate::files_client::BOUNDARY);
    let cookie = format!("session_token={token}");
    let upload = app
        .client
        .post(app.url("/users/api/files/k"))
        .header("content-type", content_type)
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), StatusCode::FORBIDDEN);
    let delete = app
        .client
        .delete(app.url("/users/api/files/k"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::FORBIDDEN);
    let listed = app.get("/users/api/files/k", Some(&token)).await.json();
    assert_eq!(listed["children"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["children"][0]["fileName"], "a.txt");
}

#[tokio::test]
async fn an_upload_cut_short_leaves_nothing_visible_and_no_blob_behind() {
    use tokio::io::AsyncWriteExt;
    let (app, token) = john().await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /users/api/files/cut HTTP/1.1\r\nHost: localhost\r\nCookie: session_token={token}\r\n\
         Content-Type: multipart/form-data; boundary=b0\r\nContent-Length: 10000000\r\n\r\n\
         --b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"half.bin\"\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![9u8; 3 << 20]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(stream);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(root(&app, &token).await, json!([]));
    let store = roster::store::files::open(&app.db_url).await.unwrap();
    assert_eq!(store.purge_unpublished(i64::MAX).await.unwrap(), 0, "the staged blob was dropped");
}

#[tokio::test]
async fn a_zip_that_lies_about_its_sizes_is_stopped_while_it_expands() {
    let (app, token) = john_with(|c| c.files_quota = 4 << 20).await;
    let zeros = vec![0u8; 32 << 20];
    let mut bomb = zip(&[("liar.bin", &zeros)]);
    // Declare 100 bytes where the entry expands to 32 MiB (local header and directory).
    let real = (32u32 << 20).to_le_bytes();
    let mut patched = 0;
    for at in 0..bomb.len() - 4 {
        if bomb[at..at + 4] == real {
            bomb[at..at + 4].copy_from_slice(&100u32.to_le_bytes());
            patched += 1;
        }
    }
    assert!(patched >= 2, "both size fields patched: {patched}");
    let reply = app.upload("/users/api/files", &token, &[("file", "liar.zip", &bomb)]).await;
    // Caught by the count of bytes actually expanded, not by the declared sizes.
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, r#"{"ok":false,"status":"Storage quota exceeded."}"#)
    );
    assert_eq!(root(&app, &token).await, json!([]));
    let store = roster::store::files::open(&app.db_url).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(store.purge_unpublished(i64::MAX).await.unwrap(), 0);
}

#[tokio::test]
async fn a_root_holding_one_file_is_listed_not_downloaded() {
    let (app, token) = john().await;
    let reply = app.upload("/users/api/files", &token, &[("file", "a", b"alone")]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let listed = root(&app, &token).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["fileName"], "a");
    assert_eq!(listed[0]["fileSize"], 5);
    let download = app.get("/users/api/files/a", Some(&token)).await;
    assert_eq!((download.status, download.text.as_str()), (StatusCode::OK, "alone"));
}
