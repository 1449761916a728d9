//! Each `Store` method, against both backends, through the trait alone.

use std::sync::Arc;

use roster::domain::profile::Profile;
use roster::domain::{
    AccountKind, AccountPatch, Email, NewAccount, Role, Session, TextField, Username,
};
use roster::domain::{Actor, Dialect};
use roster::store::{self, Attempt, PasswordChange, Store, StoreError, UniqueField};

use crate::helpers::{fresh_store, Backend};

async fn open(backend: Backend) -> (Arc<dyn Store>, tempfile::TempDir) {
    let (url, dir) = fresh_store(backend).await;
    let store = store::open(&url).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

fn actor() -> Actor {
    Actor::anonymous(Dialect::Cli, Some("127.0.0.1".into()))
}

fn new_account(name: &str, email: &str) -> NewAccount {
    let mut profile = Profile::default();
    profile.set(TextField::Company, Some("ENSIMS".into()));
    NewAccount {
        username: Username::parse(name).unwrap(),
        email: Email::parse(email).unwrap(),
        password_hash: Some("hash-0".into()),
        kind: AccountKind::Local,
        role: Role::Normal,
        locale: "en-us".into(),
        profile,
        api_token_hash: Some(format!("token-of-{name}")),
    }
}

async fn accounts_and_uniqueness(backend: Backend) {
    let (s, _dir) = open(backend).await;
    let a = s
        .create_account(&new_account("Alice", "Alice@Example.com"), 100, &actor())
        .await
        .unwrap();
    assert_eq!(
        (a.username.as_str(), a.email.as_str(), a.version),
        ("Alice", "Alice@Example.com", 1)
    );
    assert_eq!(a.profile.get(TextField::Company), Some("ENSIMS"));
    assert_eq!(
        s.account_by_email("alice@example.com").await.unwrap().id,
        a.id
    );
    assert_eq!(s.account_by_username("alice").await.unwrap().id, a.id);
    assert_eq!(s.account_by_id(a.id).await.unwrap(), a);
    assert!(matches!(
        s.account_by_id(a.id + 100).await,
        Err(StoreError::NotFound)
    ));
    let dup_name = s
        .create_account(&new_account("ALICE", "other@example.com"), 100, &actor())
        .await;
    assert!(matches!(
        dup_name,
        Err(StoreError::Conflict(UniqueField::Username))
    ));
    let dup_mail = s
        .create_account(&new_account("bob", "ALICE@example.com"), 100, &actor())
        .await;
    assert!(matches!(
        dup_mail,
        Err(StoreError::Conflict(UniqueField::Email))
    ));
    s.create_account(&new_account("bob", "bob@example.com"), 100, &actor())
        .await
        .unwrap();
    assert_eq!(s.count_accounts().await.unwrap(), 2);
    let (page, total) = s.list_accounts(1, 10).await.unwrap();
    assert_eq!(
        (page.len(), total, page[0].username.as_str()),
        (1, 2, "bob")
    );
    assert!(s.api_token_matches(a.id, "token-of-Alice").await.unwrap());
    assert!(!s.api_token_matches(a.id, "token-of-bob").await.unwrap());
}

async fn updates_and_passwords(backend: Backend) {
    let (s, _dir) = open(backend).await;
    let a = s
        .create_account(&new_account("alice", "alice@example.com"), 100, &actor())
        .await
        .unwrap();
    s.create_account(&new_account("bob", "bob@example.com"), 100, &actor())
        .await
        .unwrap();
    let patch = AccountPatch {
        texts: vec![
            (TextField::Title, Some("Dr".into())),
            (TextField::Company, None),
        ],
        use_jess: Some(true),
        locale: Some("ja-jp".into()),
        role: Some(Role::Admin),
        ..AccountPatch::default()
    };
    s.update_account(a.id, &patch, None, 200, &actor())
        .await
        .unwrap();
    let after = s.account_by_id(a.id).await.unwrap();
    assert_eq!(
        (
            after.profile.get(TextField::Title),
            after.profile.get(TextField::Company)
        ),
        (Some("Dr"), None)
    );
    assert_eq!(
        (
            after.profile.use_jess,
            after.locale.as_str(),
            after.role,
            after.version,
            after.updated_at
        ),
        (true, "ja-jp", Role::Admin, 2, 200)
    );
    let taken = AccountPatch {
        email: Some(Email::parse("BOB@example.com").unwrap()),
        ..AccountPatch::default()
    };
    assert!(matches!(
        s.update_account(a.id, &taken, None, 300, &actor()).await,
        Err(StoreError::Conflict(UniqueField::Email))
    ));
    assert!(matches!(
        s.update_account(9999, &patch, None, 300, &actor()).await,
        Err(StoreError::NotFound)
    ));

    for i in 1..=8 {
        let change = PasswordChange {
            hash: &format!("hash-{i}"),
            keep_session: None,
            history_depth: 5,
            api_token_hash: Some("new-token"),
        };
        s.set_password(a.id, change, 300 + i, &actor())
            .await
            .unwrap();
    }
    assert_eq!(
        s.password_history(a.id, 10).await.unwrap(),
        ["hash-7", "hash-6", "hash-5", "hash-4", "hash-3"]
    );
    assert!(s.api_token_matches(a.id, "new-token").await.unwrap());
    assert!(!s.api_token_matches(a.id, "token-of-alice").await.unwrap());
    s.rehash_password(a.id, "stale", "ignored").await.unwrap();
    assert_eq!(
        s.account_by_id(a.id)
            .await
            .unwrap()
            .password_hash
            .as_deref(),
        Some("hash-8")
    );
    s.rehash_password(a.id, "hash-8", "hash-8b").await.unwrap();
    assert_eq!(
        s.account_by_id(a.id)
            .await
            .unwrap()
            .password_hash
            .as_deref(),
        Some("hash-8b")
    );

    s.set_jess(a.id, "jess-user", "sealed", 400, &actor())
        .await
        .unwrap();
    let linked = s.account_by_id(a.id).await.unwrap();
    assert_eq!(
        (linked.profile.jess_user.as_deref(), linked.has_jess_secret),
        (Some("jess-user"), true)
    );
}

async fn sessions_and_secrets(backend: Backend) {
    let (s, _dir) = open(backend).await;
    assert_eq!(s.secret("k", b"first").await.unwrap(), b"first");
    assert_eq!(
        s.secret("k", b"second").await.unwrap(),
        b"first",
        "the first value stays"
    );
    let a = s
        .create_account(&new_account("alice", "alice@example.com"), 100, &actor())
        .await
        .unwrap();
    let session = |id: &str, expires_at| Session {
        id: id.into(),
        account_id: a.id,
        login_at: 100,
        expires_at,
    };
    s.create_session(&session("s1", 1000)).await.unwrap();
    s.create_session(&session("s2", 1000)).await.unwrap();
    s.create_session(&session("old", 150)).await.unwrap();
    // A unique violation that is no account key's is a fault, not a taken user name.
    let twice = s.create_session(&session("s2", 1000)).await;
    assert!(matches!(twice, Err(StoreError::Other(_))), "{twice:?}");
    assert_eq!(s.session("s1").await.unwrap(), session("s1", 1000));
    s.rotate_session("s1", &session("s1b", 1000)).await.unwrap();
    assert!(matches!(s.session("s1").await, Err(StoreError::NotFound)));
    assert!(matches!(
        s.rotate_session("s1", &session("s1c", 1000)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.purge_sessions(200).await.unwrap(), 1);
    s.delete_session("s2", 500, &actor()).await.unwrap();
    assert!(matches!(
        s.delete_session("s2", 500, &actor()).await,
        Err(StoreError::NotFound)
    ));
    // A password change keeps only the named session.
    s.create_session(&session("s3", 1000)).await.unwrap();
    let change = PasswordChange {
        hash: "h",
        keep_session: Some("s1b"),
        history_depth: 5,
        api_token_hash: None,
    };
    s.set_password(a.id, change, 500, &actor()).await.unwrap();
    assert!(s.session("s1b").await.is_ok());
    assert!(matches!(s.session("s3").await, Err(StoreError::NotFound)));
    // Deleting the account deletes its sessions.
    s.delete_account(a.id, 600, &actor()).await.unwrap();
    assert!(matches!(s.session("s1b").await, Err(StoreError::NotFound)));
    assert!(matches!(
        s.delete_account(a.id, 600, &actor()).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn sqlite_accounts_and_uniqueness() {
    accounts_and_uniqueness(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_accounts_and_uniqueness() {
    accounts_and_uniqueness(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_updates_and_passwords() {
    updates_and_passwords(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_updates_and_passwords() {
    updates_and_passwords(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_sessions_and_secrets() {
    sessions_and_secrets(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_sessions_and_secrets() {
    sessions_and_secrets(Backend::Postgres).await;
}

async fn audit_and_throttle(backend: Backend) {
    let (s, _dir) = open(backend).await;
    let record = |at: i64, username: &str| roster::domain::AuditRecord {
        at,
        actor: actor(),
        action: roster::domain::AuditAction::LogonFailed,
        account_id: None,
        username: Some(username.into()),
        changes: Vec::new(),
    };
    s.record_audit(&record(100, "old")).await.unwrap();
    s.record_audit(&record(5_000, "new")).await.unwrap();
    assert_eq!(
        s.audit_records(Some("new"), None, 10).await.unwrap(),
        [record(5_000, "new")]
    );
    assert_eq!(
        s.audit_records(None, Some(1_000), 10).await.unwrap().len(),
        1
    );
    assert_eq!(
        s.purge_audit(1_000).await.unwrap(),
        1,
        "records past retention are purged"
    );
    assert_eq!(
        s.audit_records(None, None, 10).await.unwrap(),
        [record(5_000, "new")]
    );

    let policy = roster::store::ThrottlePolicy {
        threshold: 2,
        window_ms: 60_000,
        max_lock_ms: 10_000,
    };
    let attempt = |key: &'static str, at: i64| {
        let s = s.clone();
        async move { s.throttle_attempt(key, &policy, at).await.unwrap() }
    };
    assert_eq!(attempt("k", 1_000).await, Attempt::Counted(1));
    assert_eq!(
        attempt("k", 2_000).await,
        Attempt::Counted(2),
        "the 2nd is checked"
    );
    assert_eq!(
        attempt("k", 3_000).await,
        Attempt::Refused(4_000),
        "locked 2 s from the 2nd"
    );
    assert_eq!(
        attempt("k", 4_000).await,
        Attempt::Counted(3),
        "let through when the lock ends"
    );
    assert_eq!(
        attempt("k", 5_000).await,
        Attempt::Refused(8_000),
        "then 4 s"
    );
    assert_eq!(attempt("k", 8_000).await, Attempt::Counted(4));
    assert_eq!(attempt("k", 16_000).await, Attempt::Counted(5), "8 s");
    assert_eq!(
        attempt("k", 16_001).await,
        Attempt::Refused(26_000),
        "capped at 10 s"
    );
    s.throttle_success("k", 5).await.unwrap();
    assert_eq!(
        attempt("k", 16_002).await,
        Attempt::Counted(1),
        "a success clears"
    );
    assert_eq!(
        attempt("k", 100_000).await,
        Attempt::Counted(1),
        "old attempts are forgotten"
    );
    assert_eq!(attempt("k", 100_001).await, Attempt::Counted(2));
    s.throttle_success("k", 1).await.unwrap();
    assert_eq!(
        attempt("k", 100_002).await,
        Attempt::Refused(102_001),
        "a success does not clear attempts counted after it"
    );
    s.throttle_clear("k").await.unwrap();
    assert_eq!(attempt("k", 100_003).await, Attempt::Counted(1), "unlocked");

    assert_eq!(attempt("a", 1).await, Attempt::Counted(1));
    assert_eq!(attempt("a", 2).await, Attempt::Counted(2));
    s.throttle_release("a", &policy).await.unwrap();
    assert_eq!(
        attempt("a", 3).await,
        Attempt::Counted(2),
        "a released attempt lifts the lock below the threshold"
    );
}

/// 100 attempts at once on one key (through two stores on one database where the backend
/// allows several instances): exactly the threshold's number is let through.
async fn throttle_under_concurrency(backend: Backend) {
    let (url, _dir) = fresh_store(backend).await;
    let first = store::open(&url).await.unwrap();
    first.migrate().await.unwrap();
    let second = match backend {
        Backend::Postgres => store::open(&url).await.unwrap(),
        Backend::Sqlite => first.clone(),
    };
    let policy = roster::store::ThrottlePolicy {
        threshold: 5,
        window_ms: 60_000,
        max_lock_ms: 60_000,
    };
    let now = 1_000_000;
    let attempts = (0..100).map(|i| {
        let s = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tokio::spawn(async move { s.throttle_attempt("k", &policy, now).await.unwrap() })
    });
    let mut counted = Vec::new();
    for attempt in attempts {
        if let Attempt::Counted(n) = attempt.await.unwrap() {
            counted.push(n);
        }
    }
    counted.sort_unstable();
    assert_eq!(counted, [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn sqlite_audit_and_throttle() {
    audit_and_throttle(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_audit_and_throttle() {
    audit_and_throttle(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_throttle_under_concurrency() {
    throttle_under_concurrency(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_throttle_under_concurrency() {
    throttle_under_concurrency(Backend::Postgres).await;
}
