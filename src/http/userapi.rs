//! The `userapi.do` admin API: one endpoint, the function chosen by `action`, HTTP Basic
//! (or the admin key), and `{"code","error"}` failures with the published codes.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::header::{ALLOW, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value};

use super::extract::ClientAddr;
use super::AppState;
use crate::accounts::{self, parse_rfc3339, rfc3339, AdminUserInput, Caller, Via, AUDIT_PAGE_MAX};
use crate::domain::{Account, Actor, Change, Dialect, TextField, Username};
use crate::store::UniqueField;

/// The actions served, with their code digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    CreateUser,
    UpdateUser,
    ChangePassword,
    DeleteUser,
    GetUsers,
    GetAudit,
}

impl Action {
    fn parse(name: &str) -> Option<Action> {
        Some(match name {
            "createUser" => Action::CreateUser,
            "updateUser" => Action::UpdateUser,
            "changePassword" => Action::ChangePassword,
            "deleteUser" => Action::DeleteUser,
            "getUsers" => Action::GetUsers,
            "getAudit" => Action::GetAudit,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Action::CreateUser => "createUser",
            Action::UpdateUser => "updateUser",
            Action::ChangePassword => "changePassword",
            Action::DeleteUser => "deleteUser",
            Action::GetUsers => "getUsers",
            Action::GetAudit => "getAudit",
        }
    }

    fn digit(self) -> u8 {
        match self {
            Action::CreateUser => 1,
            Action::UpdateUser => 2,
            Action::ChangePassword => 3,
            Action::DeleteUser => 4,
            Action::GetUsers => 5,
            Action::GetAudit => 7,
        }
    }

    fn read_only(self) -> bool {
        matches!(self, Action::GetUsers | Action::GetAudit)
    }
}

/// What went wrong, before it is spelled in an action's code and wording.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fault {
    Method(Method),
    AuthFailed,
    NotAdmin,
    BadJson,
    Mandatory(&'static str),
    Invalid(&'static str),
    Policy(String),
    UserExists,
    NoSuchUser,
    EmailTaken,
    AdPassword,
    DefaultAdmin,
    Throttled(u64),
    Internal,
}

impl Fault {
    fn suffix(&self) -> &'static str {
        match self {
            Fault::Method(_) => "0100E0",
            Fault::AuthFailed => "010001",
            Fault::BadJson => "010002",
            Fault::Mandatory(_) => "010003",
            Fault::Invalid(_) => "010004",
            Fault::Policy(_) => "010005",
            Fault::NotAdmin => "040001",
            Fault::UserExists => "040005",
            Fault::NoSuchUser => "040006",
            Fault::EmailTaken => "040007",
            Fault::AdPassword => "040008",
            Fault::DefaultAdmin => "040009",
            Fault::Throttled(_) => "010006",
            Fault::Internal => "050000",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Fault::Method(_) => StatusCode::METHOD_NOT_ALLOWED,
            Fault::AuthFailed | Fault::NotAdmin => StatusCode::UNAUTHORIZED,
            Fault::NoSuchUser => StatusCode::NOT_FOUND,
            Fault::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Fault::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The published wording, including its differences between actions.
    fn message(&self, action: Action) -> String {
        let name = action.name();
        match self {
            Fault::Method(m) if action == Action::UpdateUser => {
                format!("Http method [{m}] is not supported for action [{name}].")
            }
            Fault::Method(m) => format!("HTTP method [{m}] is not supported for action [{name}]"),
            Fault::AuthFailed => "Authorization failed.".into(),
            Fault::NotAdmin => "Invalid Authentication.".into(),
            Fault::BadJson => "Invalid JSON Request.".into(),
            Fault::Mandatory(field) => {
                let end = if matches!(action, Action::UpdateUser | Action::ChangePassword) {
                    ""
                } else {
                    "."
                };
                format!("Mandatory parameter {{{field}}} is not specified{end}")
            }
            Fault::Invalid(field) => format!("Invalid value specified for parameter {{{field}}}."),
            Fault::Policy(rule) => {
                format!("Password does not satisfy the password policy: {rule}.")
            }
            Fault::UserExists => {
                "User name that is specified in the parameter {username} already exists.".into()
            }
            Fault::NoSuchUser => {
                "User name that is specified in the parameter {username} does not exist.".into()
            }
            Fault::EmailTaken => {
                "Email address that is specified in the parameter {email} is already in use.".into()
            }
            Fault::AdPassword => "Password of an Active Directory user cannot be changed.".into(),
            Fault::DefaultAdmin => "The default administrator user cannot be deleted.".into(),
            Fault::Throttled(_) => "Too many failed attempts, try again later.".into(),
            Fault::Internal => "Internal server error.".into(),
        }
    }

    fn code(&self, action: Action) -> String {
        format!("C{}{}", action.digit(), self.suffix())
    }
}

impl From<accounts::Error> for Fault {
    fn from(e: accounts::Error) -> Fault {
        use accounts::Error as E;
        match e {
            E::Missing(field) => Fault::Mandatory(field),
            E::Invalid(field) => Fault::Invalid(field.field),
            E::Policy(rule) => Fault::Policy(rule.to_string()),
            E::Taken(UniqueField::Username) => Fault::UserExists,
            E::Taken(UniqueField::Email) => Fault::EmailTaken,
            E::NotFound => Fault::NoSuchUser,
            E::NotLocal => Fault::AdPassword,
            E::DefaultAdmin => Fault::DefaultAdmin,
            E::BadCredentials | E::Unauthorized | E::SessionMismatch => Fault::AuthFailed,
            E::JessRejected => Fault::BadJson,
            E::Throttled(seconds) => Fault::Throttled(seconds),
            E::Stale => Fault::Internal,
            E::Internal(cause) => {
                tracing::error!(%cause, "userapi request failed");
                Fault::Internal
            }
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    error: &'a str,
}

/// A `{"code","error"}` reply.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(ErrorBody {
            code,
            error: message,
        }),
    )
        .into_response()
}

/// A failure of one action, with the headers its status calls for.
struct Failure(Action, Fault);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let Failure(action, fault) = self;
        let mut response = error(fault.status(), &fault.code(action), &fault.message(action));
        let headers = response.headers_mut();
        match fault {
            Fault::AuthFailed | Fault::NotAdmin => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    r#"Basic realm="roster""#.parse().expect("valid"),
                );
            }
            Fault::Throttled(seconds) => {
                headers.insert(RETRY_AFTER, seconds.max(1).into());
            }
            Fault::Method(_) => {
                let allow = if action.read_only() {
                    "GET, POST"
                } else {
                    "POST"
                };
                headers.insert(ALLOW, allow.parse().expect("valid"));
            }
            _ => {}
        }
        response
    }
}

type Reply = Result<Response, Fault>;

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
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "C0000413",
                "Request body too large.",
            );
        }
        Err(_) => Bytes::new(),
    };
    let actor = addr.actor(Dialect::UserApi);
    let result = match authenticate(&state, &headers, &actor).await {
        Err(fault) => Err(fault),
        Ok(caller) => {
            let actor = actor.as_account(caller.account.id, &caller.account.username);
            let call = Call {
                state: &state,
                caller,
                actor,
            };
            run(&call, action, &params, &body).await
        }
    };
    result.unwrap_or_else(|fault| Failure(action, fault).into_response())
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

/// `x-authorization` (the admin key) or `Authorization: Basic`.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    actor: &Actor,
) -> Result<Caller, Fault> {
    if let Some(key) = headers.get("x-authorization") {
        let key = key.to_str().map_err(|_| Fault::AuthFailed)?;
        return Ok(state.accounts.authenticate_admin_key(key, actor).await?);
    }
    let (username, secret) = basic_credential(headers).ok_or(Fault::AuthFailed)?;
    Ok(state
        .accounts
        .authenticate_basic(&username, &secret, actor)
        .await?)
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

fn require_admin(caller: &Caller) -> Result<(), Fault> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(Fault::NotAdmin)
    }
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

fn valid_username(username: &str) -> Result<(), Fault> {
    Username::parse(username)
        .map(|_| ())
        .map_err(|_| Fault::Invalid("username"))
}

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

async fn create_users(call: &Call<'_>, body: &[u8]) -> Reply {
    let (state, caller) = (call.state, &call.caller);
    require_admin(caller)?;
    let items = match serde_json::from_slice(body) {
        Ok(Value::Array(items)) if !items.is_empty() => items,
        Ok(item @ Value::Object(_)) => vec![item],
        _ => return Err(Fault::BadJson),
    };
    let mut created = Vec::new();
    let mut failed = Vec::new();
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
                    .admin_create_user(input, &call.actor)
                    .await
                    .map_err(Fault::from),
            },
        };
        match outcome {
            Ok((account, token)) => created.push((account.username, token)),
            Err(Fault::Internal) => return Err(Fault::Internal),
            Err(fault) => failed.push(FailedItem {
                username,
                code: fault.code(Action::CreateUser),
                reason: fault.message(Action::CreateUser),
            }),
        }
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

async fn update_user(call: &Call<'_>, body: &[u8]) -> Reply {
    let (state, caller) = (call.state, &call.caller);
    require_admin(caller)?;
    let object = json_object(body)?;
    let username = mandatory(&object, "username")?;
    valid_username(&username)?;
    // The names are fixed at creation: naming them at all is refused.
    for field in ["firstname", "lastname"] {
        if object.get(field).is_some_and(|v| !v.is_null()) {
            return Err(Fault::Invalid(field));
        }
    }
    let email = string(&object, "email")?;
    let locale = string(&object, "locale")?;
    let account = state
        .accounts
        .admin_update_user(&username, email.as_deref(), locale.as_deref(), &call.actor)
        .await?;
    Ok(Json(Updated {
        updated: account.username,
    })
    .into_response())
}

async fn change_password(call: &Call<'_>, body: &[u8]) -> Reply {
    let (state, caller) = (call.state, &call.caller);
    let object = json_object(body);
    if !caller.is_admin() {
        // A user may change only their own password, and only by proving the current one.
        let own = object
            .as_ref()
            .ok()
            .and_then(|o| o.get("username"))
            .and_then(Value::as_str);
        if caller.via != Via::Password || !own.is_some_and(|u| caller.is(u)) {
            return Err(Fault::NotAdmin);
        }
    }
    let object = object?;
    let username = mandatory(&object, "username")?;
    let password = mandatory(&object, "password")?;
    valid_username(&username)?;
    let (account, token) = state
        .accounts
        .admin_change_password(&username, &password, &call.actor)
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

async fn delete_user(call: &Call<'_>, body: &[u8]) -> Reply {
    let (state, caller) = (call.state, &call.caller);
    require_admin(caller)?;
    let object = json_object(body)?;
    let username = mandatory(&object, "username")?;
    valid_username(&username)?;
    let account = state.accounts.delete_user(&username, &call.actor).await?;
    Ok(Json(Deleted {
        deleted: account.username,
    })
    .into_response())
}

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

async fn get_users(call: &Call<'_>, params: &BTreeMap<String, String>) -> Reply {
    let (state, caller) = (call.state, &call.caller);
    let named = params.get("username").map(String::as_str);
    // A non-admin sees only their own account.
    let named = match (caller.is_admin(), named) {
        (true, named) => named,
        (false, None) => Some(caller.account.username.as_str()),
        (false, Some(u)) if caller.is(u) => Some(u),
        (false, Some(_)) => return Err(Fault::NotAdmin),
    };
    let offset = number(params, "offset", 0, 0..=i64::MAX)?;
    let limit = number(params, "limit", 100, 1..=1000)?;
    let Some(username) = named else {
        let (page, count) = state.accounts.list_users(offset, limit).await?;
        return Ok(Json(UsersReply {
            users: page.iter().map(UserItem::of).collect(),
            count,
        })
        .into_response());
    };
    valid_username(username)?;
    let account = state.accounts.account_by_username(username).await?;
    let page = if offset == 0 {
        vec![UserItem::of(&account)]
    } else {
        Vec::new()
    };
    Ok(Json(UsersReply {
        users: page,
        count: 1,
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
    changes: &'a [Change],
}

#[derive(Serialize)]
struct AuditReply<'a> {
    records: Vec<AuditItem<'a>>,
    count: usize,
}

async fn get_audit(call: &Call<'_>, params: &BTreeMap<String, String>) -> Reply {
    require_admin(&call.caller)?;
    let limit = number(params, "limit", 100, 1..=AUDIT_PAGE_MAX)?;
    let since = match params.get("since") {
        None => None,
        Some(raw) => Some(parse_rfc3339(raw).ok_or(Fault::Invalid("since"))?),
    };
    let username = params.get("username").map(String::as_str);
    if let Some(name) = username {
        valid_username(name)?;
    }
    let records = call.state.accounts.audit(username, since, limit).await?;
    let items: Vec<AuditItem> = records
        .iter()
        .map(|r| AuditItem {
            time: rfc3339(r.at),
            actor: r.actor.name.as_deref(),
            dialect: r.actor.dialect.as_str(),
            address: r.actor.address.as_deref(),
            action: &r.action,
            username: r.username.as_deref(),
            changes: &r.changes,
        })
        .collect();
    Ok(Json(AuditReply {
        count: items.len(),
        records: items,
    })
    .into_response())
}
