// Concurrent partial updates of one account never lose one.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::helpers::{TestApp, PASSWORD};

use super::BACKEND;

/// The 14 text fields of the account object, from the domain's own list.
fn text_fields() -> [&'static str; 14] {
    roster::domain::TextField::ALL.map(roster::domain::TextField::name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_updates_of_different_fields_all_persist() {
    let app = Arc::new(TestApp::spawn(BACKEND).await);
    app.add_user("john.s", "john@example.com").await;
    let token = Arc::new(app.log_on("john@example.com", PASSWORD).await);
    // Request i sets one field (15 fields in turn: the 14 texts and use_jess) to the value
    // that field must end with; any whole-row read-modify-write would null some of them.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move {
                let body = match text_fields().get(i % 15) {
                    Some(field) => json!({ *field: format!("{field}-value") }),
                    None => json!({ "use_jess": true }),
                };
                app.post("/users/api/user", &body.to_string(), Some(&token))
                    .await
            })
        })
        .collect();
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply.json()["ok"], true, "{}", reply.text);
    }
    let account = app.account(&token).await;
    for field in text_fields() {
        assert_eq!(
            account[field],
            Value::String(format!("{field}-value")),
            "{field} lost"
        );
    }
    assert_eq!(account["use_jess"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_update_among_concurrent_ones_changes_nothing_and_spares_the_others() {
    let app = Arc::new(TestApp::spawn(BACKEND).await);
    app.add_user("john.s", "john@example.com").await;
    app.add_user("jane", "jane@example.com").await;
    let john = Arc::new(app.log_on("john@example.com", PASSWORD).await);
    let jane = Arc::new(app.log_on("jane@example.com", PASSWORD).await);
    let mut tasks = Vec::new();
    for (i, field) in text_fields().iter().enumerate() {
        let (a, token) = (app.clone(), john.clone());
        let body = json!({ *field: format!("v{i}") }).to_string();
        tasks.push(tokio::spawn(async move { a.post("/users/api/user", &body, Some(&token)).await.status }));
        // Interleaved: jane tries to take john's email (and set her title with it).
        let (a, token) = (app.clone(), jane.clone());
        tasks.push(tokio::spawn(async move {
            a.post("/users/api/user", r#"{"title":"Taken","email":"JOHN@example.com"}"#, Some(&token)).await.status
        }));
    }
    let statuses = join_all(tasks).await;
    let refused = statuses.iter().filter(|s| **s == reqwest::StatusCode::CONFLICT).count();
    assert_eq!(refused, text_fields().len(), "every attempt on a taken email is refused");
    let account = app.account(&john).await;
    for (i, field) in text_fields().iter().enumerate() {
        assert_eq!(account[field], format!("v{i}"));
    }
    let jane_now = app.account(&jane).await;
    assert_eq!((jane_now["email"].as_str(), jane_now["title"].clone()), (Some("jane@example.com"), Value::Null));
}

async fn join_all(tasks: Vec<tokio::task::JoinHandle<reqwest::StatusCode>>) -> Vec<reqwest::StatusCode> {
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_of_many_accounts_each_keep_their_version_bump_and_audit_record() {
    const ACCOUNTS: usize = 8;
    const EACH: usize = 12;
    let app = Arc::new(TestApp::spawn(BACKEND).await);
    let store = app.store().await;
    let mut tokens = Vec::new();
    let mut before = Vec::new();
    for n in 0..ACCOUNTS {
        let (name, email) = (format!("user{n}"), format!("user{n}@example.com"));
        app.add_user(&name, &email).await;
        tokens.push(Arc::new(app.log_on(&email, PASSWORD).await));
        before.push(store.account_by_username(&name).await.unwrap().version);
    }
    // Every account gets EACH updates at once, all accounts together: the commit batches
    // mix accounts and hold several updates of one account.
    let mut tasks = Vec::new();
    for k in 0..EACH {
        for token in &tokens {
            let (app, token) = (app.clone(), token.clone());
            let field = text_fields()[k % 14];
            let body = json!({ field: format!("{field}-{k}") }).to_string();
            tasks.push(tokio::spawn(async move {
                app.post("/users/api/user", &body, Some(&token)).await.status
            }));
        }
    }
    for status in join_all(tasks).await {
        assert_eq!(status, reqwest::StatusCode::OK);
    }
    for n in 0..ACCOUNTS {
        let name = format!("user{n}");
        let account = store.account_by_username(&name).await.unwrap();
        assert_eq!(account.version - before[n], EACH as i64, "{name}: one bump per update");
        let updates = store
            .audit_records(Some(&name), None, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.action == roster::domain::AuditAction::Update)
            .count();
        assert_eq!(updates, EACH, "{name}: one audit record per update");
        let shown = app.account(&tokens[n]).await;
        for k in 0..EACH {
            let field = text_fields()[k % 14];
            assert_eq!(shown[field], format!("{field}-{k}"), "{name}: {field} lost");
        }
    }
}
