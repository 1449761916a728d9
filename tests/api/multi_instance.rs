//! Two Roster servers on one PostgreSQL database act as one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use roster::store::{LinkState, SHORT_TTL};
use serde_json::json;

use crate::helpers::{basic, fresh_store, Backend, TestApp, ADMIN_PASSWORD, PASSWORD};

/// Two instances, A and B, on one fresh PostgreSQL database.
async fn pair() -> (TestApp, TestApp, tempfile::TempDir) {
    let (url, dir) = fresh_store(Backend::Postgres).await;
    let a = TestApp::spawn_on(&url, |_| {}).await;
    let b = TestApp::spawn_on(&url, |_| {}).await;
    (a, b, dir)
}

/// Polls `path` on `app` until it answers `status`; the time it took.
async fn until_status(app: &TestApp, path: &str, token: &str, status: StatusCode) -> Duration {
    let start = Instant::now();
    loop {
        if app.get(path, Some(token)).await.status == status {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{path} never answered {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_session_from_a_works_on_b_and_a_log_off_on_b_reaches_a_within_a_second() {
    let (a, b, _dir) = pair().await;
    let token = a.log_on("admin@localhost", ADMIN_PASSWORD).await;
    assert_eq!(
        a.get("/users/api/user", Some(&token)).await.status,
        StatusCode::OK,
        "A caches it"
    );
    assert_eq!(
        b.get("/users/api/user", Some(&token)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        b.post("/users/api/logout", "", Some(&token)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        b.get("/users/api/user", Some(&token)).await.status,
        StatusCode::UNAUTHORIZED,
        "B at once"
    );
    let waited = until_status(&a, "/users/api/user", &token, StatusCode::UNAUTHORIZED).await;
    assert!(
        waited <= Duration::from_secs(1),
        "A refused it only after {waited:?}"
    );
}

#[tokio::test]
async fn change_password_on_a_revokes_sessions_and_the_token_on_b() {
    let (a, b, _dir) = pair().await;
    let created = a
        .admin("createUser", r#"[{"username":"john.s","password":"Jo1!hnpass","firstname":"J","lastname":"S","email":"john@example.com"}]"#)
        .await;
    let old_token = created.json()["created"]["john.s"]
        .as_str()
        .unwrap()
        .to_owned();
    let session = b.log_on("john@example.com", "Jo1!hnpass").await;
    assert_eq!(
        b.get("/users/api/user", Some(&session)).await.status,
        StatusCode::OK
    );
    let old_basic = format!("Basic {old_token}");
    assert_eq!(
        b.userapi(Method::GET, "action=getUsers", None, Some(&old_basic))
            .await
            .status,
        StatusCode::OK
    );

    let changed = a
        .admin(
            "changePassword",
            r#"{"username":"john.s","password":"N3w!password"}"#,
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    let waited = until_status(&b, "/users/api/user", &session, StatusCode::UNAUTHORIZED).await;
    assert!(
        waited <= Duration::from_secs(1),
        "B refused the session only after {waited:?}"
    );
    let reply = b
        .userapi(Method::GET, "action=getUsers", None, Some(&old_basic))
        .await;
    reply.assert_error(
        StatusCode::UNAUTHORIZED,
        "C5010001",
        "Authorization failed.",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_creates_of_one_username_over_two_instances_create_one() {
    let (a, b, _dir) = pair().await;
    let (a, b) = (Arc::new(a), Arc::new(b));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let app = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                let body = json!([{"username":"race","password":"R4ce!pass","firstname":"R","lastname":"C","email":format!("r{i}@example.com")}]);
                app.admin("createUser", &body.to_string()).await.status
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        if task.await.unwrap() == StatusCode::OK {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    assert_eq!(
        b.accounts
            .list_users(&b.accounts.operator(), 0, 100)
            .await
            .unwrap()
            .1,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_of_different_fields_through_both_instances_all_persist() {
    let (a, b, _dir) = pair().await;
    a.add_user("john.s", "john@example.com").await;
    let token = Arc::new(a.log_on("john@example.com", PASSWORD).await);
    let fields = roster::domain::TextField::ALL.map(roster::domain::TextField::name);
    let (a, b) = (Arc::new(a), Arc::new(b));
    let tasks: Vec<_> = fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let app = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (token, body) = (
                token.clone(),
                json!({ *field: format!("{field}-v") }).to_string(),
            );
            tokio::spawn(async move {
                app.post("/users/api/user", &body, Some(&token))
                    .await
                    .status
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    let account = b.account(&token).await;
    for field in fields {
        assert_eq!(account[field], format!("{field}-v"), "{field} lost");
    }
}

#[tokio::test]
async fn a_restarted_instance_keeps_every_session_valid() {
    let (url, _dir) = fresh_store(Backend::Postgres).await;
    let first = TestApp::spawn_on(&url, |_| {}).await;
    let token = first.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let auth = basic("admin", ADMIN_PASSWORD);
    drop(first);
    let second = TestApp::spawn_on(&url, |_| {}).await;
    assert_eq!(
        second.get("/users/api/user", Some(&token)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        second
            .userapi(Method::GET, "action=getUsers", None, Some(&auth))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_sixth_failure_through_b_after_five_through_a_is_throttled() {
    let (a, b, _dir) = pair().await;
    let wrong = r#"{"email":"admin@localhost","password":"wrong"}"#;
    for _ in 0..5 {
        assert_eq!(
            a.post("/users/api/auth", wrong, None).await.json()["ok"],
            false
        );
    }
    let right =
        serde_json::json!({"email": "admin@localhost", "password": ADMIN_PASSWORD}).to_string();
    let reply = b.post("/users/api/auth", &right, None).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.text
    );
    let basic_reply = b
        .userapi(
            Method::GET,
            "action=getUsers",
            None,
            Some(&basic("admin", ADMIN_PASSWORD)),
        )
        .await;
    basic_reply.assert_error(
        StatusCode::TOO_MANY_REQUESTS,
        "C5010006",
        "Too many failed attempts, try again later.",
    );
}

#[tokio::test]
async fn a_burst_of_guesses_split_over_two_instances_gets_at_most_five_checks() {
    let (a, b, _dir) = pair().await;
    let before = a.accounts.password_checks() + b.accounts.password_checks();
    let sent: Vec<_> = (0..=100)
        .map(|i| {
            let app = if i % 2 == 0 { &a } else { &b };
            let password = if i == 50 {
                ADMIN_PASSWORD.to_owned()
            } else {
                format!("Wr0ng!{i}")
            };
            let req = app
                .client
                .post(app.url("/users/api/auth"))
                .json(&json!({"email": "admin@localhost", "password": password}));
            tokio::spawn(async move { req.send().await.expect("answered").status() })
        })
        .collect();
    let mut throttled = 0;
    for reply in sent {
        if reply.await.unwrap() == StatusCode::TOO_MANY_REQUESTS {
            throttled += 1;
        }
    }
    let checks = a.accounts.password_checks() + b.accounts.password_checks() - before;
    eprintln!("burst of 101 guesses over two instances: {checks} password checks");
    assert!(
        checks <= 5,
        "{checks} password checks across the two instances"
    );
    assert!(throttled >= 96, "only {throttled} refused");
}

/// Waits until `app`'s cache notification link is up.
async fn linked(app: &TestApp) {
    let start = Instant::now();
    while app.accounts.cache_link() != Some(LinkState::Up) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the cache link never came up: {:?}",
            app.accounts.cache_link()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A connection to the database behind the instances' back.
async fn behind_the_back(url: &str) -> sqlx::PgPool {
    sqlx::PgPool::connect(url)
        .await
        .expect("a direct connection")
}

#[tokio::test]
async fn a_log_off_through_a_is_refused_by_b_through_the_notification_not_the_cache_lifetime() {
    if crate::pg::cluster().is_none() {
        return eprintln!("PostgreSQL not installed: skipped");
    }
    let (a, b, _dir) = pair().await;
    linked(&a).await;
    linked(&b).await;
    let token = a.log_on("admin@localhost", ADMIN_PASSWORD).await;
    assert_eq!(
        b.get("/users/api/user", Some(&token)).await.status,
        StatusCode::OK
    );
    // Past the short lifetime: from now on only the link lets B keep serving its entry,
    // for up to LINKED_TTL (30 s) unless told otherwise.
    tokio::time::sleep(SHORT_TTL + Duration::from_millis(200)).await;
    assert_eq!(
        b.get("/users/api/user", Some(&token)).await.status,
        StatusCode::OK
    );
    assert_eq!(b.accounts.cache_link(), Some(LinkState::Up));
    assert_eq!(
        a.post("/users/api/logout", "", Some(&token)).await.status,
        StatusCode::OK
    );
    let waited = until_status(&b, "/users/api/user", &token, StatusCode::UNAUTHORIZED).await;
    eprintln!("B refused the session {waited:?} after the log off through A");
    let ready = b.get("/readyz", None).await.json();
    assert_eq!(ready["cache_link"], "up", "{ready}");
}

#[tokio::test]
async fn while_linked_b_serves_its_cache_and_a_lost_link_drops_it_on_reconnection() {
    if crate::pg::cluster().is_none() {
        return eprintln!("PostgreSQL not installed: skipped");
    }
    let (a, b, _dir) = pair().await;
    linked(&b).await;
    let token = a.log_on("admin@localhost", ADMIN_PASSWORD).await;
    assert_eq!(
        b.get("/users/api/user", Some(&token)).await.status,
        StatusCode::OK
    );
    // Ended behind Roster's back (no notification): B goes on trusting its entry, and
    // reads nothing from the database for it, well past the short lifetime.
    let db = behind_the_back(&b.db_url).await;
    sqlx::query("DELETE FROM sessions")
        .execute(&db)
        .await
        .unwrap();
    tokio::time::sleep(SHORT_TTL + Duration::from_millis(300)).await;
    assert_eq!(
        b.get("/users/api/user", Some(&token)).await.status,
        StatusCode::OK,
        "served from the cache the link vouches for"
    );
    // Cut the notification connections: the instances cannot know what they missed, so
    // they drop their caches when the link is back.
    let cut: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = $1 AND datname = current_database()",
    )
    .bind(roster::store::LINK_APPLICATION_NAME)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(cut.len(), 2, "one link per instance");
    until_status(&b, "/users/api/user", &token, StatusCode::UNAUTHORIZED).await;
    linked(&b).await;
    // And the new link carries notifications again.
    let token = a.log_on("admin@localhost", ADMIN_PASSWORD).await;
    assert_eq!(
        b.get("/users/api/user", Some(&token)).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(SHORT_TTL + Duration::from_millis(200)).await;
    assert_eq!(
        a.post("/users/api/logout", "", Some(&token)).await.status,
        StatusCode::OK
    );
    until_status(&b, "/users/api/user", &token, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_dropped_link_falls_back_to_the_short_lifetime_says_so_and_recovers() {
    // A cluster of its own: this test stops it.
    let Some(cluster) = crate::pg::start(crate::pg::Options::default()) else {
        return eprintln!("PostgreSQL not installed: skipped");
    };
    let url = cluster.fresh_database().await;
    let a = TestApp::spawn_on(&url, |_| {}).await;
    let b = TestApp::spawn_on(&url, |_| {}).await;
    linked(&b).await;
    let token = a.log_on("admin@localhost", ADMIN_PASSWORD).await;
    assert_eq!(
        b.get("/users/api/user", Some(&token)).await.status,
        StatusCode::OK
    );
    cluster.stop();
    let start = Instant::now();
    while b.accounts.cache_link() == Some(LinkState::Up) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the loss went unnoticed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let Some(LinkState::Down(reason)) = b.accounts.cache_link() else {
        panic!("no reason given");
    };
    assert!(!reason.is_empty());
    // Past the short lifetime, B no longer trusts its entry: it asks the (stopped) database.
    tokio::time::sleep(SHORT_TTL).await;
    let status = b.get("/users/api/user", Some(&token)).await.status;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "not served from the cache"
    );
    let ready = b.get("/readyz", None).await.json();
    assert_eq!(ready["cache_link"], "down", "{ready}");
    assert!(
        ready["cache_link_detail"]
            .as_str()
            .is_some_and(|d| d.contains("0.5 s")),
        "{ready}"
    );
    cluster.resume();
    linked(&b).await;
    linked(&a).await;
    assert_eq!(
        b.get("/users/api/user", Some(&token)).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(SHORT_TTL + Duration::from_millis(200)).await;
    assert_eq!(
        a.post("/users/api/logout", "", Some(&token)).await.status,
        StatusCode::OK
    );
    until_status(&b, "/users/api/user", &token, StatusCode::UNAUTHORIZED).await;
    assert_eq!(b.get("/readyz", None).await.json()["cache_link"], "up");
}
