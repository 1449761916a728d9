//! The ENSIMS mail calls: `POST /users/api/send`, and password reset by email
//! (`POST /users/api/reset`, `POST /users/api/reset/confirm`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::Value;

use super::input::{object, required_str};
use super::wire::{fail, Reply, Status};
use super::EnsimsError;
use super::{EnsimsJson, Session};
use crate::accounts;
use crate::domain::Dialect;
use crate::http::extract::ClientAddr;
use crate::http::AppState;

/// `POST /users/api/send` `{"email","title","message"}`: `email` counts for administrators
/// only; everyone else writes to their own address.
pub async fn send(
    State(state): State<AppState>,
    Session(ctx): Session,
    addr: ClientAddr,
    EnsimsJson(body): EnsimsJson,
) -> Reply {
    let object = object(&body)?;
    let to = match object.get("email") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(EnsimsError::bad_request("Field 'email' must be a string.")),
    };
    let title = required_str(object, "title")?;
    let message = required_str(object, "message")?;
    let recipient = state
        .accounts
        .send_message(&ctx, to, title, message, &addr.actor(Dialect::Ensims))
        .await?;
    let status = format!("Email has been sent to {recipient}");
    Ok(Json(Status {
        ok: true,
        status: &status,
    })
    .into_response())
}

/// `GET /users/api/reset` [Roster]: whether password reset by email is available (SMTP
/// configured), so that a page offers "forgot password" only when it can work.
pub async fn reset_status(State(state): State<AppState>) -> axum::response::Response {
    if !state.accounts.mail_enabled() {
        return unavailable();
    }
    Json(Status {
        ok: true,
        status: "Password reset is available.",
    })
    .into_response()
}

/// `POST /users/api/reset` `{"email"}`: the same reply whether or not the account exists.
pub async fn reset(
    State(state): State<AppState>,
    addr: ClientAddr,
    EnsimsJson(body): EnsimsJson,
) -> Reply {
    if !state.accounts.mail_enabled() {
        return Ok(unavailable());
    }
    let email = required_str(object(&body)?, "email")?;
    state
        .accounts
        .request_reset(email, accounts::now(), &addr.actor(Dialect::Ensims))
        .await?;
    Ok(Json(Status {
        ok: true,
        status: "If the address is registered, a reset link has been sent.",
    })
    .into_response())
}

/// `POST /users/api/reset/confirm` `{"token","newPassword"}`.
pub async fn confirm(
    State(state): State<AppState>,
    addr: ClientAddr,
    EnsimsJson(body): EnsimsJson,
) -> Reply {
    if !state.accounts.mail_enabled() {
        return Ok(unavailable());
    }
    let object = object(&body)?;
    let token = required_str(object, "token")?;
    let new = required_str(object, "newPassword")?;
    state
        .accounts
        .confirm_reset(token, new, accounts::now(), &addr.actor(Dialect::Ensims))
        .await?;
    Ok(Json(Status {
        ok: true,
        status: "Password changed successfully!",
    })
    .into_response())
}

fn unavailable() -> axum::response::Response {
    fail(StatusCode::NOT_FOUND, "Password reset is not available.")
}
