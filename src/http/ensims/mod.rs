//! The ENSIMS Users API (`/users/api/*`): the handlers. Wire structs and error mapping are
//! in `wire`, input parsing in `input`.

mod extractors;
pub mod files;
mod input;
pub(super) mod jess;
pub mod mail;
mod wire;

use axum::extract::State;
use axum::http::header::{ETAG, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::extract::ClientAddr;
use super::AppState;
use crate::accounts::{self, IssuedSession, NewUser};
use crate::domain::{AccountKind, Dialect, Role};
pub(super) use extractors::cookie_token;
use extractors::{EnsimsJson, Session, SESSION_COOKIE};
use input::{credential, if_match, object, profile_input, required_str, unwrap_data};
pub use wire::{fail, AccountView, EnsimsError, UNAVAILABLE, UNAVAILABLE_RETRY};
use wire::{AuthReply, Info, Reply, Status, UpdateReply, WithData};

/// `GET /users/api/info`.
pub async fn info() -> Response {
    Json(Info {
        title: "Users Web API",
        description: "Roster: user accounts and sessions, serving the ENSIMS Users API and the userapi.do admin API.",
        major: 1,
        minor: 0,
        revision: 0,
        release: env!("CARGO_PKG_VERSION"),
        update: 0,
        notice: "Roster is free software. Sessions are kept in the session_token cookie.",
    })
    .into_response()
}

/// `POST /users/api/auth` and `/users/api/logon`.
pub async fn log_on(
    State(state): State<AppState>,
    addr: ClientAddr,
    EnsimsJson(body): EnsimsJson,
) -> Reply {
    let (email, password) = credential(&body)?;
    let issued = state
        .accounts
        .log_on(email, password, &addr.actor(Dialect::Ensims))
        .await;
    // A check shared with an identical concurrent one is logged by that one's request only:
    // each request notes its own outcome for its access line and the metrics.
    match &issued {
        Ok(issued) => {
            crate::telemetry::note_outcome("logon_succeeded");
            crate::telemetry::note_account(issued.account.id);
        }
        Err(accounts::Error::Throttled(_)) => crate::telemetry::note_outcome("throttled"),
        Err(accounts::Error::BadCredentials) => crate::telemetry::note_outcome("logon_failed"),
        Err(_) => {}
    }
    let issued = issued?;
    Ok(with_session(
        &state,
        "Logged in successfully!",
        "Session token in cookie",
        &issued,
    ))
}

/// `POST /users/api/checkin`: any body is ignored.
pub async fn check_in(State(state): State<AppState>, Session(ctx): Session) -> Reply {
    let issued = state.accounts.check_in(&ctx).await?;
    Ok(with_session(
        &state,
        "Session renewed successfully!",
        "Session key cookie",
        &issued,
    ))
}

/// `POST /users/api/confirm`.
pub async fn confirm(
    State(state): State<AppState>,
    Session(ctx): Session,
    addr: ClientAddr,
    EnsimsJson(body): EnsimsJson,
) -> Reply {
    let (email, password) = credential(&body)?;
    let issued = state
        .accounts
        .confirm(&ctx, email, password, &addr.actor(Dialect::Ensims))
        .await?;
    Ok(with_session(
        &state,
        "User credential confirmed!",
        "Session key cookie",
        &issued,
    ))
}

/// `POST /users/api/logout`: any body is ignored.
pub async fn log_off(
    State(state): State<AppState>,
    Session(ctx): Session,
    addr: ClientAddr,
) -> Reply {
    state
        .accounts
        .log_off(&ctx, &addr.actor(Dialect::Ensims))
        .await?;
    let body = AuthReply {
        ok: true,
        status: "Logged out successfully!",
        jwt: "Session token cleared",
        user: None,
        role: None,
        email: None,
    };
    let cookie = format!(
        "{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{}",
        secure_attr(&state)
    );
    Ok(([(SET_COOKIE, cookie)], Json(body)).into_response())
}

/// `GET /users/api/user`.
pub async fn get_user(State(state): State<AppState>, Session(ctx): Session) -> Reply {
    let account = state.accounts.own_account(&ctx).await?;
    let body = WithData {
        ok: true,
        status: "User's account detailes included.",
        data: Some(AccountView::of(&account)),
    };
    // The version changes with every write, so it is a strong validator.
    let etag = format!("\"{}\"", account.version);
    Ok(([(ETAG, etag)], Json(body)).into_response())
}

/// `POST /users/api/user`: partial update.
pub async fn update_user(
    State(state): State<AppState>,
    Session(ctx): Session,
    addr: ClientAddr,
    headers: HeaderMap,
    EnsimsJson(body): EnsimsJson,
) -> Reply {
    let expected = if_match(&headers)?;
    let input = profile_input(&unwrap_data(&body)?)?;
    let actor = addr.actor(Dialect::Ensims);
    state
        .accounts
        .update_profile(&ctx, input, expected, &actor)
        .await?;
    Ok(Json(UpdateReply {
        ok: true,
        status: "Account details updated successfully!",
        session: None,
    })
    .into_response())
}

/// `POST /users/api/register` (when enabled).
pub async fn register(
    State(state): State<AppState>,
    addr: ClientAddr,
    EnsimsJson(body): EnsimsJson,
) -> Reply {
    if !state.allow_registration {
        return Ok(fail(StatusCode::NOT_FOUND, "Registration is disabled."));
    }
    let (email, password) = credential(&body)?;
    let mut profile = profile_input(&unwrap_data(&body)?)?;
    profile.email = None;
    let user = NewUser {
        username: String::new(),
        email: email.to_owned(),
        password: Some(password.to_owned()),
        kind: AccountKind::Local,
        role: Role::Normal,
        locale: None,
        profile,
    };
    state
        .accounts
        .register(user, &addr.actor(Dialect::Ensims))
        .await?;
    Ok(Json(Status {
        ok: true,
        status: "Account registered successfully!",
    })
    .into_response())
}

/// `POST /users/api/password`: change one's own password.
pub async fn change_password(
    State(state): State<AppState>,
    Session(ctx): Session,
    addr: ClientAddr,
    EnsimsJson(body): EnsimsJson,
) -> Reply {
    let object = object(&body)?;
    let current = required_str(object, "password")?;
    let new = required_str(object, "newPassword")?;
    let actor = addr.actor(Dialect::Ensims);
    match state
        .accounts
        .change_own_password(&ctx, current, new, &actor)
        .await
    {
        Err(accounts::Error::BadCredentials) => {
            Ok(fail(StatusCode::OK, "Current password is incorrect."))
        }
        Err(e) => Err(e.into()),
        Ok(()) => Ok(Json(Status {
            ok: true,
            status: "Password changed successfully!",
        })
        .into_response()),
    }
}

/// `GET /users/api/password` [Roster]: the password policy in force, for a form to show
/// before the user submits (`{"ok","status","policy","rules"}`).
pub async fn password_policy(State(state): State<AppState>) -> Response {
    let policy = state.accounts.settings().policy;
    Json(serde_json::json!({
        "ok": true,
        "status": "Password policy included.",
        "policy": policy.name(),
        "rules": policy.rules(),
    }))
    .into_response()
}

/// Fallback for unknown paths.
pub async fn not_found() -> Response {
    fail(StatusCode::NOT_FOUND, "Not found.")
}

/// Fallback for known paths with another method.
pub async fn method_not_allowed() -> Response {
    fail(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.")
}

/// The cookie attribute `Secure` when cookies must carry it.
fn secure_attr(state: &AppState) -> &'static str {
    if state.secure_cookie {
        "; Secure"
    } else {
        ""
    }
}

/// An auth reply carrying the token cookie as the first (and only) `Set-Cookie`.
fn with_session(state: &AppState, status: &str, jwt: &str, issued: &IssuedSession) -> Response {
    let a = &issued.account;
    let body = AuthReply {
        ok: true,
        status,
        jwt,
        user: Some(a.display_name()),
        role: Some(a.role.ensims_name()),
        email: Some(&a.email),
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}",
        issued.token,
        issued.max_age,
        secure_attr(state)
    );
    let mut response = Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}
