//! Two Roster servers on one PostgreSQL database share every user's files.

use reqwest::StatusCode;

use crate::helpers::{fresh_store, Backend, TestApp, PASSWORD};

#[tokio::test]
async fn a_file_uploaded_through_a_is_listed_downloaded_and_deleted_through_b() {
    let (url, _dir) = fresh_store(Backend::Postgres).await;
    let a = TestApp::spawn_on(&url, |_| {}).await;
    let b = TestApp::spawn_on(&url, |_| {}).await;
    a.add_user("john.s", "john@example.com").await;
    let token = a.log_on("john@example.com", PASSWORD).await;
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let reply = a
        .upload(
            "/users/api/files/shared",
            &token,
            &[("file", "big.bin", &bytes)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    let listed = b.get("/users/api/files/shared", Some(&token)).await.json();
    assert_eq!(
        listed["children"][0]["name"], "big.bin (3.00 MB)",
        "{listed}"
    );
    let download = b
        .client
        .get(b.url("/users/api/files/shared/big.bin"))
        .header("cookie", format!("session_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert!(
        download.bytes().await.unwrap().as_ref() == bytes.as_slice(),
        "the same bytes"
    );

    assert_eq!(
        b.delete("/users/api/files/shared", &token).await.text,
        r#"{"ok":true,"status":"shared has been deleted"}"#
    );
    for app in [&a, &b] {
        let gone = app
            .get("/users/api/files/shared/big.bin", Some(&token))
            .await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
    }
}
