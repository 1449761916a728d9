//! The `userapi.do` admin API: one endpoint, the function chosen by `action`, HTTP Basic
//! (or the admin key), and `{"code","error"}` failures with the published codes.

mod codes;
mod reads;
mod writes;

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};

use super::extract::{json_content_type_ok, ClientAddr};
use super::AppState;
use crate::accounts::Caller;
use crate::domain::{Actor, Dialect};
use codes::{error, Action, Failure, Fault, Reply};
use reads::{get_audit, get_users};
use writes::{change_password, create_users, delete_user, update_user};

/// The header that marks a call of the admin console (see [`console_session`]).
const X_REQUESTED_WITH: &str = "x-requested-with";

/// `/userapi.do`, any method.
pub async fn dispatch(
    State(state): State<AppState>,
    addr: ClientAddr,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let params: BTreeMap<String, String> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let name = params.get("action").map(String::as_str).unwrap_or_default();
    let Some(action) = Action::parse(name) else {
        return error(
            StatusCode::NOT_FOUND,
            "C0000404",
            &format!("Action [{name}] is not supported."),
        );
    };
    let allowed = method == Method::POST || (action.read_only() && method == Method::GET);
    if !allowed {
        return Failure(action, Fault::Method(method)).into_response();
    }
    if !json_content_type_ok(&headers) {
        return transport_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported content type: send application/json.",
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return transport_error(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large.");
        }
        Err(_) => Bytes::new(),
    };
    let actor = addr.actor(Dialect::UserApi);
    let console = from_console(&headers);
    let result = match caller(&state, &headers, &actor).await {
        Err(fault) => Err(fault),
        Ok(caller) => {
            let actor = actor.as_account(caller.account.id, &caller.account.username);
            let call = Call {
                state: &state,
                caller,
                actor,
            };
            let result = run(&call, action, &params, &body).await;
            if result.as_ref().is_err_and(|f| *f == Fault::NotAdmin) {
                log_access_denied(&call, action);
            }
            result
        }
    };
    let mut response = result.unwrap_or_else(|fault| Failure(action, fault).into_response());
    if console {
        // A page's script handles the 401 itself: a Basic challenge would make the browser
        // hold the request for its own log-on dialog.
        response.headers_mut().remove(WWW_AUTHENTICATE);
    }
    response
}

/// The security event of a caller that lacks the right to an action.
fn log_access_denied(call: &Call<'_>, action: Action) {
    tracing::info!(
        target: "security",
        event = "access_denied",
        dialect = Dialect::UserApi.as_str(),
        address = call.actor.address.as_deref().unwrap_or("-"),
        account = call.caller.account.id,
        action = action.name(),
        "access denied"
    );
}

/// Whether a call to `userapi.do` with this query may change state: every action but the
/// read-only ones (an unknown action is treated as a write: it is refused either way).
pub(super) fn writes(query: Option<&str>) -> bool {
    let params: BTreeMap<String, String> =
        serde_urlencoded::from_str(query.unwrap_or_default()).unwrap_or_default();
    let name = params.get("action").map(String::as_str).unwrap_or_default();
    !Action::parse(name).is_some_and(Action::read_only)
}

/// A refusal by the transport (size, type, origin), before any action runs: the code is
/// `C0000` + the HTTP status, like the published `C0000404` and `C0000413`.
pub(super) fn transport_error(status: StatusCode, message: &str) -> Response {
    error(status, &format!("C0000{}", status.as_u16()), message)
}

/// An authenticated call: the state, who calls, and the actor its changes are audited as.
struct Call<'a> {
    state: &'a AppState,
    caller: Caller,
    actor: Actor,
}

async fn run(
    call: &Call<'_>,
    action: Action,
    params: &BTreeMap<String, String>,
    body: &[u8],
) -> Reply {
    match action {
        Action::CreateUser => create_users(call, body).await,
        Action::UpdateUser => update_user(call, body).await,
        Action::ChangePassword => change_password(call, body).await,
        Action::DeleteUser => delete_user(call, body).await,
        Action::GetUsers => get_users(call, params).await,
        Action::GetAudit => get_audit(call, params).await,
    }
}

/// Who calls: `x-authorization` (the admin key), `Authorization: Basic`, or — the admin
/// console — the browser's session cookie (see [`console_session`]).
async fn caller(state: &AppState, headers: &HeaderMap, actor: &Actor) -> Result<Caller, Fault> {
    if let Some(key) = headers.get("x-authorization") {
        let key = key.to_str().map_err(|_| Fault::AuthFailed)?;
        return Ok(state.accounts.check_admin_key(key, actor).await?);
    }
    if let Some(token) = console_session(headers) {
        return Ok(state.accounts.session_caller(token).await?);
    }
    let (username, secret) = basic_credential(headers).ok_or(Fault::AuthFailed)?;
    Ok(state
        .accounts
        .check_basic_credential(&username, &secret, actor)
        .await?)
}

/// The session token of a call from the admin console: a `session_token` cookie on a request
/// with no `Authorization` header, carrying `X-Requested-With` (a header a cross-site form or
/// link cannot set, and a cross-site script cannot send without a CORS preflight that Roster
/// never grants for it) and, when the browser says where it comes from, `Sec-Fetch-Site:
/// same-origin`. Writes also pass the CSRF rule (`guard::csrf`) before they get here.
fn console_session(headers: &HeaderMap) -> Option<&str> {
    let same_origin = headers
        .get("sec-fetch-site")
        .map_or(true, |v| v.as_bytes().eq_ignore_ascii_case(b"same-origin"));
    if !(from_console(headers) && same_origin) {
        return None;
    }
    super::ensims::cookie_token(headers)
}

/// Whether a request is marked as the console's (`X-Requested-With`, no `Authorization`).
fn from_console(headers: &HeaderMap) -> bool {
    !headers.contains_key(AUTHORIZATION)
        && headers
            .get(X_REQUESTED_WITH)
            .is_some_and(|v| !v.as_bytes().is_empty())
}

fn basic_credential(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (username, secret) = decoded.split_once(':')?;
    Some((username.to_owned(), secret.to_owned()))
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, Fault> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(Fault::BadJson),
    }
}

/// A string parameter: absent or null is `None`; another type is an invalid value.
fn string(object: &Map<String, Value>, field: &'static str) -> Result<Option<String>, Fault> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Fault::Invalid(field)),
    }
}

fn mandatory(object: &Map<String, Value>, field: &'static str) -> Result<String, Fault> {
    string(object, field)?.ok_or(Fault::Mandatory(field))
}

fn number(
    params: &BTreeMap<String, String>,
    field: &'static str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, Fault> {
    match params.get(field) {
        None => Ok(default),
        Some(raw) => raw
            .parse()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or(Fault::Invalid(field)),
    }
}
