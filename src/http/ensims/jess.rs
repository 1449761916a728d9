//! The JESS calls (`/jess_web/api/info` and `/session`), in the ENSIMS conventions.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;

use super::extractors::{EnsimsJson, Session};
use super::EnsimsError;
use crate::domain::Dialect;
use crate::http::extract::ClientAddr;
use crate::http::AppState;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JessInfo {
    title: &'static str,
    description: &'static str,
    major: u32,
    minor: u32,
    revision: u32,
    release: &'static str,
    update: u32,
    notice: &'static str,
}

/// `GET /jess_web/api/info`: the JESS client calls it first and exits on a non-2xx reply.
pub async fn info() -> Response {
    Json(JessInfo {
        title: "JESS Web API",
        description: "Roster: the JESS session calls of the ENSIMS web service (the JESS credential is kept per account; no JESS server runs here).",
        major: 1,
        minor: 0,
        revision: 0,
        release: env!("CARGO_PKG_VERSION"),
        update: 0,
        notice: "Roster is free software. Sessions are kept in the session_token cookie.",
    })
    .into_response()
}

#[derive(Serialize)]
struct JessReply {
    ok: bool,
    status: &'static str,
    data: Option<()>,
}

/// `POST /jess_web/api/session`: store the JESS credential.
pub async fn link(
    State(state): State<AppState>,
    Session(ctx): Session,
    addr: ClientAddr,
    EnsimsJson(body): EnsimsJson,
) -> Result<Response, EnsimsError> {
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
    let (user, secret) = (field("jessUser"), field("jessPwd"));
    let actor = addr.actor(Dialect::Ensims);
    state.accounts.link_jess(&ctx, user, secret, &actor).await?;
    Ok(Json(JessReply {
        ok: true,
        status: "New JESS session key is assigned.",
        data: None,
    })
    .into_response())
}

/// `GET /jess_web/api/session`: whether a JESS link exists.
pub async fn status(
    State(state): State<AppState>,
    Session(ctx): Session,
) -> Result<Response, EnsimsError> {
    let reply = if state.accounts.has_jess_link(&ctx).await? {
        JessReply {
            ok: true,
            status: "JESS session key is valid.",
            data: None,
        }
    } else {
        JessReply {
            ok: false,
            status: "No JESS session key is assigned.",
            data: None,
        }
    };
    Ok(Json(reply).into_response())
}
