// Every admin use-case refuses a non-admin caller in `accounts` itself, not only over
// HTTP: the rights are values that only `accounts` hands out.

use roster::accounts::{AdminUserInput, AdminUserUpdate, Caller, Error, UserView, Via};
use roster::domain::{Actor, Dialect};

use crate::helpers::{TestApp, PASSWORD};

use super::BACKEND;

async fn caller(app: &TestApp, username: &str, via: Via) -> Caller {
    let account = app.accounts.account_by_username(username).await.unwrap();
    Caller { account, via }
}

async fn john(app: &TestApp) -> Caller {
    app.add_user("john.s", "john@example.com").await;
    app.add_user("jane", "jane@example.com").await;
    caller(app, "john.s", Via::Password).await
}

fn actor() -> Actor {
    Actor::anonymous(Dialect::UserApi, None)
}

fn refused<T: std::fmt::Debug>(result: Result<T, Error>) {
    assert!(matches!(result, Err(Error::Forbidden)), "{result:?}");
}

#[tokio::test]
async fn creating_users_needs_an_administrator() {
    let app = TestApp::spawn(BACKEND).await;
    let john = john(&app).await;
    refused(app.accounts.admin(&john));
    let admin = caller(&app, "admin", Via::Password).await;
    let grant = app.accounts.admin(&admin).unwrap();
    let input = AdminUserInput {
        username: Some("new".into()),
        password: Some(PASSWORD.into()),
        firstname: Some("New".into()),
        lastname: Some("User".into()),
        email: Some("new@example.com".into()),
        ..AdminUserInput::default()
    };
    let made = app.accounts.admin_create_user(&grant, input, &actor()).await;
    assert!(made.is_ok(), "{made:?}");
}

#[tokio::test]
async fn updating_a_user_needs_an_administrator() {
    let app = TestApp::spawn(BACKEND).await;
    let john = john(&app).await;
    refused(app.accounts.admin(&john));
    let operator = app.accounts.operator();
    let update = AdminUserUpdate {
        username: "jane",
        names_given: None,
        email: None,
        locale: Some("ja-jp"),
    };
    let done = app.accounts.admin_update_user(&operator, update, &actor()).await;
    assert!(done.is_ok(), "{done:?}");
}

#[tokio::test]
async fn deleting_a_user_needs_an_administrator() {
    let app = TestApp::spawn(BACKEND).await;
    let john = john(&app).await;
    refused(app.accounts.admin(&john));
    assert!(app.accounts.account_by_username("jane").await.is_ok());
    let operator = app.accounts.operator();
    let gone = app.accounts.delete_user(&operator, "jane", &actor()).await;
    assert_eq!(gone.unwrap().username, "jane");
}

#[tokio::test]
async fn listing_users_shows_a_non_admin_only_themselves() {
    let app = TestApp::spawn(BACKEND).await;
    let john = john(&app).await;
    refused(app.accounts.user_view(&john, Some("jane")));
    for named in [None, Some("JOHN.S")] {
        let view = app.accounts.user_view(&john, named).unwrap();
        assert!(matches!(view, UserView::One(_)), "{view:?}");
        let (page, count) = app.accounts.users(&view, 0, 100).await.unwrap();
        assert_eq!((page[0].username.as_str(), count), ("john.s", 1));
    }
    let admin = caller(&app, "admin", Via::Password).await;
    let view = app.accounts.user_view(&admin, None).unwrap();
    assert_eq!(app.accounts.users(&view, 0, 100).await.unwrap().1, 3);
}

#[tokio::test]
async fn reading_the_audit_needs_an_administrator() {
    let app = TestApp::spawn(BACKEND).await;
    let john = john(&app).await;
    refused(app.accounts.admin(&john));
    let operator = app.accounts.operator();
    let records = app.accounts.audit(&operator, Some("jane"), None, 10).await;
    assert!(!records.unwrap().is_empty());
}

#[tokio::test]
async fn a_non_admin_changes_only_their_own_password_and_only_with_it() {
    let app = TestApp::spawn(BACKEND).await;
    let john = john(&app).await;
    refused(app.accounts.password_grant(&john, Some("jane")));
    refused(app.accounts.password_grant(&john, None));
    let by_token = caller(&app, "john.s", Via::Token).await;
    refused(app.accounts.password_grant(&by_token, Some("john.s")));
    // A grant for one's own password does not reach another account.
    let own = app.accounts.password_grant(&john, Some("john.s")).unwrap();
    let other = app
        .accounts
        .admin_change_password(&own, "jane", "N3w!password", &actor())
        .await;
    refused(other);
    let mine = app
        .accounts
        .admin_change_password(&own, "john.s", "N3w!password", &actor())
        .await;
    assert!(mine.is_ok(), "{mine:?}");
}
