//! Directory users (`type: ad`) log on by an LDAP bind against a real `OpenLDAP` `slapd`
//! (tests/api/slapd.rs), in both dialects.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use roster::config::Config;

use crate::helpers::{basic, Backend, Reply, TestApp, ADMIN_PASSWORD};
use crate::pg_tls::{server_certificate, test_ca};
use crate::slapd::{person_dn, Slapd, ALICE, BASE_DN, BOB, SERVICE_DN, SERVICE_PASSWORD};

/// The ENSIMS reply to every failed log on.
const NO_MATCH: &str =
    r#"{"ok":false,"status":"No matching username and password pair was found!"}"#;
/// The limit the test servers use for one directory check, in seconds.
const LIMIT: u64 = 2;

/// Points `config` at `slapd` (searching as the service account) with a short time limit.
fn use_directory(config: &mut Config, slapd: &Slapd, url: String) {
    let password = slapd.write_file("service-password", &format!("{SERVICE_PASSWORD}\n"));
    config.directory.ldap_url = Some(url);
    config.directory.ldap_base_dn = Some(BASE_DN.into());
    config.directory.ldap_bind_dn = Some(SERVICE_DN.into());
    config.directory.ldap_bind_password_file = Some(password);
    config.directory.ldap_timeout = LIMIT;
}

/// A server using `slapd`, with directory users alice and bob created over `createUser`.
async fn app_with(slapd: &Slapd, url: String, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        use_directory(config, slapd, url);
        tweak(config);
    })
    .await;
    let body = serde_json::json!([
        {"username": ALICE.0, "type": "ad", "email": "alice@example.org"},
        {"username": BOB.0, "type": "ad", "email": "bob@example.org"},
    ]);
    let reply = app.admin("createUser", &body.to_string()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    app.add_user("carol", "carol@example.org").await;
    app
}

/// `getUsers` for oneself with Basic `username:password`.
async fn basic_get_self(app: &TestApp, username: &str, password: &str) -> Reply {
    app.userapi(
        Method::GET,
        &format!("action=getUsers&username={}", urlencode(username)),
        None,
        Some(&basic(username, password)),
    )
    .await
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn assert_refused_basic(reply: &Reply) {
    reply.assert_error(
        StatusCode::UNAUTHORIZED,
        "C5010001",
        "Authorization failed.",
    );
}

#[tokio::test]
async fn an_ad_user_logs_on_in_both_dialects_with_the_directory_password() {
    let Some(slapd) = Slapd::start(None) else {
        return;
    };
    let app = app_with(&slapd, slapd.url(), |_| {}).await;
    let token = app.log_on("alice@example.org", ALICE.1).await;
    assert_eq!(app.account(&token).await["email"], "alice@example.org");
    let reply = basic_get_self(&app, ALICE.0, ALICE.1).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["users"][0]["type"], "ad");
    // Searched as the service account, then bound as alice's own entry.
    assert!(slapd.binds_as(SERVICE_DN) >= 1);
    assert_eq!(slapd.binds_as(&person_dn(ALICE.0)), 2);
    // The directory password is not kept: the account still has no local password.
    let key = roster::domain::email::key_of("alice@example.org");
    let account = app.store().await.account_by_email(&key).await;
    assert!(account.unwrap().password_hash.is_none());
}

#[tokio::test]
async fn a_wrong_directory_password_gets_the_reply_of_an_unknown_user_and_a_wrong_local_one() {
    let Some(slapd) = Slapd::start(None) else {
        return;
    };
    let app = app_with(&slapd, slapd.url(), |_| {}).await;
    for (email, password) in [
        ("alice@example.org", "Wrong-pw1"),
        ("alice@example.org", BOB.1),
        ("nobody@example.org", ALICE.1),
        ("carol@example.org", "Wrong-pw1"),
    ] {
        let reply = app.try_log_on(email, password).await;
        assert_eq!(
            (reply.status, reply.text.as_str()),
            (StatusCode::OK, NO_MATCH)
        );
        assert!(reply.headers.get("set-cookie").is_none());
    }
    for (username, password) in [(ALICE.0, "Wrong-pw1"), ("nobody", ALICE.1), ("carol", "x")] {
        assert_refused_basic(&basic_get_self(&app, username, password).await);
    }
    // Failures are audited like a local user's.
    let admin = basic("admin", ADMIN_PASSWORD);
    let audit = app
        .userapi(
            Method::GET,
            "action=getAudit&limit=1000",
            None,
            Some(&admin),
        )
        .await;
    let logged = audit.text.matches("logon_failed").count();
    assert!(logged >= 7, "{}", audit.text);
}

#[tokio::test]
async fn a_password_changed_in_the_directory_takes_effect_at_once() {
    let Some(slapd) = Slapd::start(None) else {
        return;
    };
    let app = app_with(&slapd, slapd.url(), |_| {}).await;
    app.log_on("alice@example.org", ALICE.1).await;
    slapd.set_password(ALICE.0, "Changed-in-dir9").await;
    let old = app.try_log_on("alice@example.org", ALICE.1).await;
    assert_eq!(old.text, NO_MATCH);
    assert_refused_basic(&basic_get_self(&app, ALICE.0, ALICE.1).await);
    app.log_on("alice@example.org", "Changed-in-dir9").await;
    let reply = basic_get_self(&app, ALICE.0, "Changed-in-dir9").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test]
async fn a_restarted_directory_is_used_again_without_restarting_roster() {
    let Some(slapd) = Slapd::start(None) else {
        return;
    };
    let app = app_with(&slapd, slapd.url(), |_| {}).await;
    app.log_on("alice@example.org", ALICE.1).await;
    // The pooled service connection dies with the server; the next check replaces it.
    slapd.restart();
    app.log_on("alice@example.org", ALICE.1).await;
    app.log_on("bob@example.org", BOB.1).await;
}

#[tokio::test]
async fn an_empty_password_is_refused_without_a_bind_though_the_directory_would_accept_it() {
    let Some(slapd) = Slapd::start(None) else {
        return;
    };
    // This directory answers an unauthenticated bind (DN, empty password) with success.
    let (conn, mut ldap) = ldap3::LdapConnAsync::new(&slapd.url()).await.unwrap();
    ldap3::drive!(conn);
    let unauthenticated = ldap.simple_bind(&person_dn(ALICE.0), "").await.unwrap();
    assert_eq!(unauthenticated.rc, 0);
    let before = slapd.binds_as(&person_dn(ALICE.0));
    let app = app_with(&slapd, slapd.url(), |_| {}).await;
    let reply = app.try_log_on("alice@example.org", "").await;
    assert!(reply.headers.get("set-cookie").is_none(), "{}", reply.text);
    assert_ne!(reply.json()["ok"], true);
    assert_refused_basic(&basic_get_self(&app, ALICE.0, "").await);
    assert_eq!(
        slapd.binds_as(&person_dn(ALICE.0)),
        before,
        "{}",
        slapd.log()
    );
}

#[tokio::test]
async fn user_names_with_filter_syntax_find_nothing_in_the_directory() {
    let Some(slapd) = Slapd::start(None) else {
        return;
    };
    let app = app_with(&slapd, slapd.url(), |_| {}).await;
    // Unescaped, the last two would find exactly alice and the bind with her password pass.
    let names = ["*", ")(uid=*", "alic*", "*)(uid=alice", "alice)(|(uid=*"];
    for (i, name) in names.iter().enumerate() {
        let body = serde_json::json!([{"username": name, "type": "ad", "email": format!("x{i}@example.org")}]);
        let reply = app.admin("createUser", &body.to_string()).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.text);
        assert_refused_basic(&basic_get_self(&app, name, ALICE.1).await);
        let logon = app.try_log_on(&format!("x{i}@example.org"), ALICE.1).await;
        assert_eq!(logon.text, NO_MATCH, "{name}");
    }
    assert_eq!(slapd.binds_as(&person_dn(ALICE.0)), 0, "{}", slapd.log());
    // The name reached the directory escaped (RFC 4515: `*` is \2a).
    assert!(
        slapd.log().to_lowercase().contains("(uid=\\2a)"),
        "{}",
        slapd.log()
    );
}

#[tokio::test]
async fn a_stopped_directory_fails_ad_log_ons_within_the_limit_and_local_users_log_on() {
    let Some(slapd) = Slapd::start(None) else {
        return;
    };
    let app = app_with(&slapd, slapd.url(), |_| {}).await;
    app.log_on("alice@example.org", ALICE.1).await;
    let health = app.get("/healthz", None).await;
    assert_eq!(
        (health.status, health.text.as_str()),
        (StatusCode::OK, "ok\ndirectory: up")
    );
    slapd.stop();
    let started = Instant::now();
    let reply = app.try_log_on("alice@example.org", ALICE.1).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (StatusCode::OK, NO_MATCH)
    );
    assert_refused_basic(&basic_get_self(&app, ALICE.0, ALICE.1).await);
    // Both refused quickly: connecting to a closed port fails at once (the limit is 2 s each).
    assert!(started.elapsed() < Duration::from_secs(2 * LIMIT + 2));
    app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let reply = basic_get_self(&app, "admin", ADMIN_PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK);
    // Health reports the directory down, and stays 200: local users can still log on.
    let health = app.get("/healthz", None).await;
    assert_eq!(
        (health.status, health.text.as_str()),
        (StatusCode::OK, "ok\ndirectory: down")
    );
}

#[tokio::test]
async fn a_directory_that_never_answers_fails_ad_log_ons_within_the_limit_while_local_ones_pass() {
    let Some(slapd) = Slapd::start(None) else {
        return;
    };
    // Accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ldap://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    // A longer limit than the others: the local log-on must visibly finish inside it even on
    // a loaded machine.
    let limit = 4;
    let app = app_with(&slapd, url, |c| c.directory.ldap_timeout = limit).await;
    let started = Instant::now();
    let (ad, local) = tokio::join!(app.try_log_on("alice@example.org", ALICE.1), async {
        let reply = app.try_log_on("admin@localhost", ADMIN_PASSWORD).await;
        (reply, started.elapsed())
    });
    let elapsed = started.elapsed();
    assert_eq!((ad.status, ad.text.as_str()), (StatusCode::OK, NO_MATCH));
    assert!(
        elapsed
            >= Duration::from_secs(limit)
                .checked_sub(Duration::from_millis(100))
                .unwrap()
    );
    assert!(elapsed < Duration::from_secs(limit + 3), "{elapsed:?}");
    assert_eq!(local.0.json()["ok"], true, "{}", local.0.text);
    assert!(local.1 < Duration::from_secs(limit), "{:?}", local.1);
}

#[tokio::test]
async fn starttls_and_ldaps_work_with_the_directory_ca_and_fail_with_another() {
    let (ca_pem, ca) = test_ca("Roster LDAP test CA");
    let (other_pem, _) = test_ca("Another CA");
    let Some(slapd) = Slapd::start(Some(&server_certificate(&ca))) else {
        return;
    };
    let ca_file = slapd.write_file("ca.pem", &ca_pem);
    let other_file = slapd.write_file("other.pem", &other_pem);
    let starttls = format!("{}?starttls", slapd.url());
    let ldaps = format!("ldaps://127.0.0.1:{}", slapd.ldaps_port);
    for url in [&starttls, &ldaps] {
        let ca = ca_file.clone();
        let app = app_with(&slapd, url.clone(), |c| c.directory.ldap_ca_file = Some(ca)).await;
        app.log_on("alice@example.org", ALICE.1).await;
        let reply = basic_get_self(&app, ALICE.0, ALICE.1).await;
        assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.text);
        let other = other_file.clone();
        let app = app_with(&slapd, url.clone(), |c| {
            c.directory.ldap_ca_file = Some(other);
        })
        .await;
        let reply = app.try_log_on("alice@example.org", ALICE.1).await;
        assert_eq!(reply.text, NO_MATCH, "{url}");
    }
    // StartTLS was negotiated, and alice was bound only where the certificate was trusted.
    let log = slapd.log();
    assert!(log.contains("EXT oid=1.3.6.1.4.1.1466.20037"), "{log}");
    assert_eq!(slapd.binds_as(&person_dn(ALICE.0)), 4, "{log}");
}

#[tokio::test]
async fn an_ad_user_changes_the_password_in_the_directory_not_here() {
    let Some(slapd) = Slapd::start(None) else {
        return;
    };
    let app = app_with(&slapd, slapd.url(), |_| {}).await;
    let token = app.log_on("alice@example.org", ALICE.1).await;
    let body = serde_json::json!({"password": ALICE.1, "newPassword": "N3w!passw0rd"});
    let reply = app
        .post("/users/api/password", &body.to_string(), Some(&token))
        .await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (
            StatusCode::BAD_REQUEST,
            r#"{"ok":false,"status":"The account cannot be changed this way."}"#
        )
    );
    let change = r#"{"username":"alice","password":"N3w!passw0rd"}"#;
    app.admin("changePassword", change).await.assert_error(
        StatusCode::BAD_REQUEST,
        "C3040008",
        "Password of an Active Directory user cannot be changed.",
    );
    // Nothing changed: the directory password still works, the new one does not.
    app.log_on("alice@example.org", ALICE.1).await;
    let new = app.try_log_on("alice@example.org", "N3w!passw0rd").await;
    assert_eq!(new.text, NO_MATCH);
}

#[tokio::test]
async fn wrong_directory_passwords_are_throttled_and_the_right_one_is_then_not_even_sent() {
    let Some(slapd) = Slapd::start(None) else {
        return;
    };
    let app = app_with(&slapd, slapd.url(), |_| {}).await;
    for _ in 0..5 {
        assert_refused_basic(&basic_get_self(&app, ALICE.0, "Wrong-pw1").await);
    }
    let binds = slapd.binds_as(&person_dn(ALICE.0));
    basic_get_self(&app, ALICE.0, ALICE.1).await.assert_error(
        StatusCode::TOO_MANY_REQUESTS,
        "C5010006",
        "Too many failed attempts, try again later.",
    );
    let ensims = app.try_log_on("alice@example.org", ALICE.1).await;
    assert_eq!(ensims.status, StatusCode::TOO_MANY_REQUESTS);
    // Refused by the throttle before the directory is asked.
    assert_eq!(slapd.binds_as(&person_dn(ALICE.0)), binds);
}

#[tokio::test]
async fn health_reports_the_directory_without_waiting_for_it_and_stays_200() {
    let Some(slapd) = Slapd::start(None) else {
        return;
    };
    let app = app_with(&slapd, slapd.url(), |_| {}).await;
    // No contact yet: the first health check starts a probe in the background.
    let first = app.get("/healthz", None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.text.starts_with("ok\ndirectory: "), "{}", first.text);
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.get("/healthz", None).await.text != "ok\ndirectory: up" {
        assert!(
            Instant::now() < deadline,
            "the probe never reported the directory up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A directory that never answers does not slow the health check down.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ldap://{}", silent.local_addr().unwrap());
    let app = app_with(&slapd, url, |c| c.directory.ldap_timeout = 30).await;
    let started = Instant::now();
    for _ in 0..3 {
        let reply = app.get("/healthz", None).await;
        assert_eq!(
            (reply.status, reply.text.as_str()),
            (StatusCode::OK, "ok\ndirectory: unknown")
        );
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(silent);
}
