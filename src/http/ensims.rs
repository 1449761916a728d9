//! The ENSIMS Users API (`/users/api/*`): wire structs, handlers, and the mapping of
//! domain errors to `{"ok":false,"status":...}` replies.

use std::borrow::Cow;

use axum::extract::State;
use axum::http::header::{ETAG, IF_MATCH, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};

use super::extract::{ClientAddr, EnsimsJson, Session, SESSION_COOKIE};
use super::AppState;
use crate::accounts::{self, IssuedSession, NewUser};
use crate::domain::{Account, AccountKind, Dialect, ProfileInput, Role, TextField};
use crate::store::UniqueField;

/// A failure reply in the ENSIMS format.
#[derive(Debug)]
pub enum EnsimsError {
    /// `{"ok":false,"status":message}` with an HTTP status.
    Status(StatusCode, Cow<'static, str>),
    /// The JESS refusal, which carries `"data":null` too.
    JessRejected,
    /// 429 with `Retry-After` (seconds).
    Throttled(u64),
}

/// `{"ok":false,"status":...}` with an HTTP status.
pub fn fail(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(Status {
            ok: false,
            status: message,
        }),
    )
        .into_response()
}

impl EnsimsError {
    /// A failure with this status and message.
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> EnsimsError {
        EnsimsError::Status(status, message.into())
    }

    /// 400 naming what is wrong.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> EnsimsError {
        EnsimsError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401 `Unauthorized`.
    pub fn unauthorized() -> EnsimsError {
        EnsimsError::new(StatusCode::UNAUTHORIZED, "Unauthorized")
    }
}

impl IntoResponse for EnsimsError {
    fn into_response(self) -> Response {
        match self {
            EnsimsError::Status(status, message) => fail(status, &message),
            EnsimsError::Throttled(seconds) => {
                let mut response = fail(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts, try again later.",
                );
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
                response
            }
            EnsimsError::JessRejected => Json(WithData {
                ok: false,
                status: "The supplied user and passwd pair does not match any record on JESS.",
                data: None::<()>,
            })
            .into_response(),
        }
    }
}

impl From<accounts::Error> for EnsimsError {
    fn from(e: accounts::Error) -> EnsimsError {
        use accounts::Error as E;
        match e {
            E::BadCredentials => EnsimsError::new(
                StatusCode::OK,
                "No matching username and password pair was found!",
            ),
            E::Unauthorized => EnsimsError::unauthorized(),
            E::SessionMismatch => {
                EnsimsError::new(StatusCode::OK, "User does not match the existing session")
            }
            E::Invalid(field) => EnsimsError::bad_request(field.to_string()),
            E::Missing(_) => EnsimsError::bad_request(e.to_string()),
            E::Policy(_) => EnsimsError::bad_request(e.to_string()),
            E::Taken(UniqueField::Email) => EnsimsError::new(
                StatusCode::CONFLICT,
                "Email address is already in use by another account.",
            ),
            E::Taken(UniqueField::Username) => {
                EnsimsError::new(StatusCode::CONFLICT, "User name is already in use.")
            }
            E::NotFound | E::DefaultAdmin | E::NotLocal => {
                EnsimsError::bad_request("The account cannot be changed this way.")
            }
            E::JessRejected => EnsimsError::JessRejected,
            E::Throttled(seconds) => EnsimsError::Throttled(seconds),
            E::Stale => EnsimsError::new(
                StatusCode::PRECONDITION_FAILED,
                "The account was changed since it was read; read it again.",
            ),
            E::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                EnsimsError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
            }
        }
    }
}

type Reply = Result<Response, EnsimsError>;

#[derive(Serialize)]
struct Status<'a> {
    ok: bool,
    status: &'a str,
}

#[derive(Serialize)]
struct WithData<'a, T: Serialize> {
    ok: bool,
    status: &'a str,
    data: Option<T>,
}

#[derive(Serialize)]
struct AuthReply<'a> {
    ok: bool,
    status: &'a str,
    jwt: &'a str,
    user: Option<&'a str>,
    role: Option<&'a str>,
    email: Option<&'a str>,
}

#[derive(Serialize)]
struct UpdateReply {
    ok: bool,
    status: &'static str,
    session: Option<()>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Info {
    title: &'static str,
    description: &'static str,
    major: u32,
    minor: u32,
    revision: u32,
    release: &'static str,
    update: u32,
    notice: &'static str,
}

/// The 18-field account object, in the published order.
#[derive(Serialize)]
pub struct AccountView<'a> {
    title: Option<&'a str>,
    firstname: Option<&'a str>,
    middlename: Option<&'a str>,
    surname: Option<&'a str>,
    nickname: Option<&'a str>,
    position: Option<&'a str>,
    company: Option<&'a str>,
    email: &'a str,
    tel: Option<&'a str>,
    address: Option<&'a str>,
    postcode: Option<&'a str>,
    country: Option<&'a str>,
    website: Option<&'a str>,
    twitter: Option<&'a str>,
    linkedin: Option<&'a str>,
    use_jess: bool,
    jess_user: Option<&'a str>,
    jess_pwd: Option<&'a str>,
}

impl<'a> AccountView<'a> {
    /// The wire view of an account; the JESS secret reads as `"hidden"`.
    pub fn of(a: &'a Account) -> AccountView<'a> {
        let t = |f: TextField| a.profile.get(f);
        AccountView {
            title: t(TextField::Title),
            firstname: t(TextField::Firstname),
            middlename: t(TextField::Middlename),
            surname: t(TextField::Surname),
            nickname: t(TextField::Nickname),
            position: t(TextField::Position),
            company: t(TextField::Company),
            email: &a.email,
            tel: t(TextField::Tel),
            address: t(TextField::Address),
            postcode: t(TextField::Postcode),
            country: t(TextField::Country),
            website: t(TextField::Website),
            twitter: t(TextField::Twitter),
            linkedin: t(TextField::Linkedin),
            use_jess: a.profile.use_jess,
            jess_user: a.profile.jess_user.as_deref(),
            jess_pwd: a.has_jess_secret.then_some("hidden"),
        }
    }
}

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
        .await?;
    Ok(state.with_session(
        "Logged in successfully!",
        "Session token in cookie",
        &issued,
    ))
}

/// `POST /users/api/checkin`: any body is ignored.
pub async fn check_in(State(state): State<AppState>, Session(ctx): Session) -> Reply {
    let issued = state.accounts.check_in(&ctx).await?;
    Ok(state.with_session(
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
    Ok(state.with_session("User credential confirmed!", "Session key cookie", &issued))
}

/// `POST /users/api/logout`: any body is ignored.
pub async fn log_out(
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
        state.secure_attr()
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
    let input = profile_input(unwrap_data(&body)?)?;
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
    let mut profile = profile_input(unwrap_data(&body)?)?;
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

/// Fallback for unknown paths.
pub async fn not_found() -> Response {
    fail(StatusCode::NOT_FOUND, "Not found.")
}

/// Fallback for known paths with another method.
pub async fn method_not_allowed() -> Response {
    fail(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.")
}

impl AppState {
    fn secure_attr(&self) -> &'static str {
        if self.secure_cookie {
            "; Secure"
        } else {
            ""
        }
    }

    /// An auth reply carrying the token cookie as the first (and only) `Set-Cookie`.
    fn with_session(&self, status: &str, jwt: &str, issued: &IssuedSession) -> Response {
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
            self.secure_attr()
        );
        let mut response = Json(body).into_response();
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(SET_COOKIE, value);
        }
        response
    }
}

/// The version `If-Match` names: `None` without the header or with `*`; a value that names
/// no version can match nothing, so it is refused like a stale one.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, EnsimsError> {
    let Some(value) = headers.get(IF_MATCH) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or_default().trim();
    if value == "*" {
        return Ok(None);
    }
    let tag = value.strip_prefix("W/").unwrap_or(value).trim_matches('"');
    match tag.parse::<i64>() {
        Ok(version) => Ok(Some(version)),
        Err(_) => Err(accounts::Error::Stale.into()),
    }
}

fn object(body: &Value) -> Result<&Map<String, Value>, EnsimsError> {
    body.as_object()
        .ok_or_else(|| EnsimsError::bad_request("Request body must be a JSON object."))
}

/// The account object, accepting the GET shape `{"data":{...}}` too.
fn unwrap_data(body: &Value) -> Result<&Map<String, Value>, EnsimsError> {
    let outer = object(body)?;
    match outer.get("data") {
        Some(Value::Object(inner)) => Ok(inner),
        _ => Ok(outer),
    }
}

fn required_str<'a>(object: &'a Map<String, Value>, field: &str) -> Result<&'a str, EnsimsError> {
    match object.get(field) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(EnsimsError::bad_request(format!(
            "Field '{field}' is required."
        ))),
        Some(_) => Err(EnsimsError::bad_request(format!(
            "Field '{field}' must be a string."
        ))),
    }
}

fn credential(body: &Value) -> Result<(&str, &str), EnsimsError> {
    let object = object(body)?;
    Ok((
        required_str(object, "email")?,
        required_str(object, "password")?,
    ))
}

/// Type-checks the updatable fields: omitted or null is ignored, unknown fields and the
/// JESS fields (set only through the JESS call) are ignored.
fn profile_input(object: &Map<String, Value>) -> Result<ProfileInput, EnsimsError> {
    let text = |name: &str| -> Result<Option<String>, EnsimsError> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(EnsimsError::bad_request(format!(
                "Field '{name}' must be a string or null."
            ))),
        }
    };
    let mut input = ProfileInput::default();
    for field in TextField::ALL {
        if let Some(value) = text(field.name())? {
            input.texts.push((field, value));
        }
    }
    input.email = text("email")?;
    input.use_jess = match object.get("use_jess") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(EnsimsError::bad_request(
                "Field 'use_jess' must be a boolean or null.",
            ))
        }
    };
    Ok(input)
}
