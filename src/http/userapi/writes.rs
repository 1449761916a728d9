//! The actions that change accounts: createUser, updateUser, changePassword, deleteUser.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};

use super::codes::{Action, Fault, Reply};
use super::{json_object, mandatory, string, Call};
use crate::accounts::{AdminUserInput, AdminUserUpdate};

#[derive(Serialize)]
struct FailedItem {
    username: Option<String>,
    code: String,
    reason: String,
}

/// A map serialised in insertion order.
struct Ordered(Vec<(String, String)>);

impl Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[derive(Serialize)]
struct CreateReply {
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<Ordered>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failed: Vec<FailedItem>,
}

fn admin_input(object: &Map<String, Value>) -> Result<AdminUserInput, Fault> {
    Ok(AdminUserInput {
        username: string(object, "username")?,
        password: string(object, "password")?,
        firstname: string(object, "firstname")?,
        lastname: string(object, "lastname")?,
        email: string(object, "email")?,
        kind: string(object, "type")?,
        role: string(object, "role")?,
        locale: string(object, "locale")?,
    })
}

pub(super) async fn create_users(call: &Call<'_>, body: &[u8]) -> Reply {
    let state = call.state;
    let admin = state.accounts.admin(&call.caller)?;
    let items = match serde_json::from_slice(body) {
        Ok(Value::Array(items)) if !items.is_empty() => items,
        Ok(item @ Value::Object(_)) => vec![item],
        _ => return Err(Fault::BadJson),
    };
    let mut created = Vec::new();
    let mut failed = Vec::new();
    // A store fault (disk full, database down) fails that item only: each item is its own
    // transaction, so the reply lists exactly the users that exist.
    let mut store_fault = None;
    for item in items {
        let username = item
            .get("username")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let outcome = match item.as_object() {
            None => Err(Fault::BadJson),
            Some(object) => match admin_input(object) {
                Err(fault) => Err(fault),
                Ok(input) => state
                    .accounts
                    .admin_create_user(&admin, input, &call.actor)
                    .await
                    .map_err(Fault::from),
            },
        };
        match outcome {
            Ok((account, token)) => created.push((account.username, token)),
            Err(fault) => {
                if matches!(fault, Fault::Internal | Fault::Unavailable) {
                    store_fault.get_or_insert(fault.clone());
                }
                failed.push(FailedItem {
                    username,
                    code: fault.code(Action::CreateUser),
                    reason: fault.message(Action::CreateUser),
                });
            }
        }
    }
    if let (true, Some(fault)) = (created.is_empty(), store_fault) {
        // Nothing was created: the fault itself is the answer.
        return Err(fault);
    }
    let status = if created.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let created = (!created.is_empty()).then_some(Ordered(created));
    Ok((status, Json(CreateReply { created, failed })).into_response())
}

#[derive(Serialize)]
struct Updated<T: Serialize> {
    updated: T,
}

pub(super) async fn update_user(call: &Call<'_>, body: &[u8]) -> Reply {
    let state = call.state;
    let admin = state.accounts.admin(&call.caller)?;
    let object = json_object(body)?;
    let username = mandatory(&object, "username")?;
    let names_given = ["firstname", "lastname"]
        .into_iter()
        .find(|field| object.get(*field).is_some_and(|v| !v.is_null()));
    let email = string(&object, "email")?;
    let locale = string(&object, "locale")?;
    let update = AdminUserUpdate {
        username: &username,
        names_given,
        email: email.as_deref(),
        locale: locale.as_deref(),
    };
    let account = state
        .accounts
        .admin_update_user(&admin, update, &call.actor)
        .await?;
    Ok(Json(Updated {
        updated: account.username,
    })
    .into_response())
}

pub(super) async fn change_password(call: &Call<'_>, body: &[u8]) -> Reply {
    let state = call.state;
    let object = json_object(body);
    let named = object
        .as_ref()
        .ok()
        .and_then(|o| o.get("username"))
        .and_then(Value::as_str);
    let grant = state.accounts.password_grant(&call.caller, named)?;
    let object = object?;
    let username = mandatory(&object, "username")?;
    let password = mandatory(&object, "password")?;
    let (account, token) = state
        .accounts
        .admin_change_password(&grant, &username, &password, &call.actor)
        .await?;
    Ok(Json(Updated {
        updated: Ordered(vec![(account.username, token)]),
    })
    .into_response())
}

#[derive(Serialize)]
struct Deleted {
    deleted: String,
}

pub(super) async fn delete_user(call: &Call<'_>, body: &[u8]) -> Reply {
    let state = call.state;
    let admin = state.accounts.admin(&call.caller)?;
    let object = json_object(body)?;
    let username = mandatory(&object, "username")?;
    let account = state
        .accounts
        .delete_user(&admin, &username, &call.actor)
        .await?;
    Ok(Json(Deleted {
        deleted: account.username,
    })
    .into_response())
}
