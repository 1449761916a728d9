//! The read-only actions: getUsers and getAudit.

use std::collections::BTreeMap;

use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;

use super::codes::{Fault, Reply};
use super::{number, Call};
use crate::accounts::{parse_rfc3339, rfc3339, AUDIT_PAGE_MAX};
use crate::domain::{Account, Change, TextField};

#[derive(Serialize)]
struct UserItem<'a> {
    username: &'a str,
    firstname: Option<&'a str>,
    lastname: Option<&'a str>,
    email: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    role: &'a str,
    locale: &'a str,
}

impl<'a> UserItem<'a> {
    fn of(a: &'a Account) -> UserItem<'a> {
        UserItem {
            username: &a.username,
            firstname: a.profile.get(TextField::Firstname),
            lastname: a.profile.get(TextField::Surname),
            email: &a.email,
            kind: a.kind.as_str(),
            role: a.role.as_str(),
            locale: &a.locale,
        }
    }
}

#[derive(Serialize)]
struct UsersReply<'a> {
    users: Vec<UserItem<'a>>,
    count: i64,
}

pub(super) async fn get_users(call: &Call<'_>, params: &BTreeMap<String, String>) -> Reply {
    let named = params.get("username").map(String::as_str);
    let view = call.state.accounts.user_view(&call.caller, named)?;
    let offset = number(params, "offset", 0, 0..=i64::MAX)?;
    let limit = number(params, "limit", 100, 1..=1000)?;
    let (page, count) = call.state.accounts.users(&view, offset, limit).await?;
    Ok(Json(UsersReply {
        users: page.iter().map(UserItem::of).collect(),
        count,
    })
    .into_response())
}

#[derive(Serialize)]
struct AuditItem<'a> {
    time: String,
    actor: Option<&'a str>,
    dialect: &'a str,
    address: Option<&'a str>,
    action: &'a str,
    username: Option<&'a str>,
    changes: Vec<ChangeItem<'a>>,
}

/// One field's change in a `getAudit` record.
#[derive(Serialize)]
struct ChangeItem<'a> {
    field: &'a str,
    old: Option<&'a str>,
    new: Option<&'a str>,
}

impl<'a> ChangeItem<'a> {
    fn of(c: &'a Change) -> ChangeItem<'a> {
        ChangeItem {
            field: &c.field,
            old: c.old.as_deref(),
            new: c.new.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct AuditReply<'a> {
    records: Vec<AuditItem<'a>>,
    count: usize,
}

pub(super) async fn get_audit(call: &Call<'_>, params: &BTreeMap<String, String>) -> Reply {
    let admin = call.state.accounts.admin(&call.caller)?;
    let limit = number(params, "limit", 100, 1..=AUDIT_PAGE_MAX)?;
    let since = match params.get("since") {
        None => None,
        Some(raw) => Some(parse_rfc3339(raw).ok_or(Fault::Invalid("since"))?),
    };
    let username = params.get("username").map(String::as_str);
    let records = call
        .state
        .accounts
        .audit(&admin, username, since, limit)
        .await?;
    let items: Vec<AuditItem> = records
        .iter()
        .map(|r| AuditItem {
            time: rfc3339(r.at),
            actor: r.actor.name.as_deref(),
            dialect: r.actor.dialect.as_str(),
            address: r.actor.address.as_deref(),
            action: r.action.as_str(),
            username: r.username.as_deref(),
            changes: r.changes.iter().map(ChangeItem::of).collect(),
        })
        .collect();
    Ok(Json(AuditReply {
        count: items.len(),
        records: items,
    })
    .into_response())
}
