//! The action table and the published codes: `C<action digit><01|04>00<nn>`, their wording
//! (which differs between actions) and their HTTP statuses.

use axum::http::header::{ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::accounts;
use crate::domain::UniqueField;
use crate::http::ensims::{UNAVAILABLE, UNAVAILABLE_RETRY};

/// The actions served, with their code digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    CreateUser,
    UpdateUser,
    ChangePassword,
    DeleteUser,
    GetUsers,
    GetAudit,
}

impl Action {
    pub(super) fn parse(name: &str) -> Option<Action> {
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

    pub(super) fn name(self) -> &'static str {
        match self {
            Action::CreateUser => "createUser",
            Action::UpdateUser => "updateUser",
            Action::ChangePassword => "changePassword",
            Action::DeleteUser => "deleteUser",
            Action::GetUsers => "getUsers",
            Action::GetAudit => "getAudit",
        }
    }

    pub(super) fn digit(self) -> u8 {
        match self {
            Action::CreateUser => 1,
            Action::UpdateUser => 2,
            Action::ChangePassword => 3,
            Action::DeleteUser => 4,
            Action::GetUsers => 5,
            Action::GetAudit => 7,
        }
    }

    pub(super) fn read_only(self) -> bool {
        matches!(self, Action::GetUsers | Action::GetAudit)
    }
}

/// What went wrong, before it is spelled in an action's code and wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fault {
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
    Unavailable,
    Internal,
}

impl Fault {
    pub(super) fn suffix(&self) -> &'static str {
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
            Fault::Unavailable => "050003",
            Fault::Internal => "050000",
        }
    }

    pub(super) fn status(&self) -> StatusCode {
        match self {
            Fault::Method(_) => StatusCode::METHOD_NOT_ALLOWED,
            Fault::AuthFailed | Fault::NotAdmin => StatusCode::UNAUTHORIZED,
            Fault::NoSuchUser => StatusCode::NOT_FOUND,
            Fault::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Fault::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Fault::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The published wording, including its differences between actions.
    pub(super) fn message(&self, action: Action) -> String {
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
            Fault::Unavailable => UNAVAILABLE.into(),
            Fault::Internal => "Internal server error.".into(),
        }
    }

    pub(super) fn code(&self, action: Action) -> String {
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
            E::Forbidden => Fault::NotAdmin,
            E::BadCredentials | E::Unauthorized | E::SessionMismatch => Fault::AuthFailed,
            E::JessRejected => Fault::BadJson,
            E::Throttled(seconds) => Fault::Throttled(seconds),
            E::Stale | E::MailOff | E::MailFailed | E::ResetInvalid => Fault::Internal,
            E::Unavailable(cause) => {
                tracing::warn!(%cause, "request refused: the store is unavailable");
                Fault::Unavailable
            }
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
pub(super) fn error(status: StatusCode, code: &str, message: &str) -> Response {
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
pub(super) struct Failure(pub(super) Action, pub(super) Fault);

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
            Fault::Unavailable => {
                headers.insert(RETRY_AFTER, UNAVAILABLE_RETRY.into());
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

pub(super) type Reply = Result<Response, Fault>;
