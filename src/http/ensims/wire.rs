//! The ENSIMS wire format: reply structs, the account object, and the mapping of domain
//! errors to `{"ok":false,"status":...}` replies.

use std::borrow::Cow;

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::accounts;
use crate::domain::UniqueField;
use crate::domain::{Account, TextField};

/// A failure reply in the ENSIMS format.
#[derive(Debug)]
pub enum EnsimsError {
    /// `{"ok":false,"status":message}` with an HTTP status.
    Status(StatusCode, Cow<'static, str>),
    /// The JESS refusal, which carries `"data":null` too.
    JessRejected,
    /// 429 with `Retry-After` (seconds).
    Throttled(u64),
    /// 503 with `Retry-After`: the store cannot serve now.
    Unavailable,
}

/// What a reply says while the store cannot serve (both dialects).
pub const UNAVAILABLE: &str = "Service temporarily unavailable, try again later.";
/// The `Retry-After` of such a reply, seconds.
pub const UNAVAILABLE_RETRY: u64 = 5;

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
            EnsimsError::Unavailable => {
                let mut response = fail(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE);
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(UNAVAILABLE_RETRY));
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
            E::Missing(_) | E::Policy(_) => EnsimsError::bad_request(e.to_string()),
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
            E::Forbidden => EnsimsError::new(StatusCode::FORBIDDEN, "Forbidden."),
            E::JessRejected => EnsimsError::JessRejected,
            E::Throttled(seconds) => EnsimsError::Throttled(seconds),
            E::Stale => EnsimsError::new(
                StatusCode::PRECONDITION_FAILED,
                "The account was changed since it was read; read it again.",
            ),
            E::Unavailable(cause) => {
                tracing::warn!(%cause, "request refused: the store is unavailable");
                EnsimsError::Unavailable
            }
            E::MailOff | E::MailFailed => EnsimsError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Email could not be sent.",
            ),
            E::ResetInvalid => EnsimsError::bad_request("Reset link is invalid or has expired."),
            E::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                EnsimsError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
            }
        }
    }
}

pub(super) type Reply = Result<Response, EnsimsError>;

#[derive(Serialize)]
pub(super) struct Status<'a> {
    pub(super) ok: bool,
    pub(super) status: &'a str,
}

#[derive(Serialize)]
pub(super) struct WithData<'a, T: Serialize> {
    pub(super) ok: bool,
    pub(super) status: &'a str,
    pub(super) data: Option<T>,
}

#[derive(Serialize)]
pub(super) struct AuthReply<'a> {
    pub(super) ok: bool,
    pub(super) status: &'a str,
    pub(super) jwt: &'a str,
    pub(super) user: Option<&'a str>,
    pub(super) role: Option<&'a str>,
    pub(super) email: Option<&'a str>,
}

#[derive(Serialize)]
pub(super) struct UpdateReply {
    pub(super) ok: bool,
    pub(super) status: &'static str,
    pub(super) session: Option<()>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Info {
    pub(super) title: &'static str,
    pub(super) description: &'static str,
    pub(super) major: u32,
    pub(super) minor: u32,
    pub(super) revision: u32,
    pub(super) release: &'static str,
    pub(super) update: u32,
    pub(super) notice: &'static str,
}

/// The account object: every [`TextField`] in its order with `email` after `company` (the
/// published order), then the JESS fields; the JESS secret reads as `"hidden"`.
pub struct AccountView<'a>(&'a Account);

impl<'a> AccountView<'a> {
    /// The wire view of an account.
    pub fn of(a: &'a Account) -> AccountView<'a> {
        AccountView(a)
    }
}

impl Serialize for AccountView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let a = self.0;
        let mut map = s.serialize_map(Some(TextField::COUNT + 4))?;
        for field in TextField::ALL {
            map.serialize_entry(field.name(), &a.profile.get(field))?;
            if field == TextField::Company {
                map.serialize_entry("email", &a.email)?;
            }
        }
        map.serialize_entry("use_jess", &a.profile.use_jess)?;
        map.serialize_entry("jess_user", &a.profile.jess_user)?;
        map.serialize_entry("jess_pwd", &a.has_jess_secret.then_some("hidden"))?;
        map.end()
    }
}
