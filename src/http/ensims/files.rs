//! The files API (`/users/api/files[/<path>]`): list, download, multipart upload, delete.
//! Transport only: the rules are in `accounts::files`.

use axum::body::Body;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::Serialize;

use super::wire::{fail, EnsimsError};
use super::Session;
use crate::accounts::files::{Download, Found, Node, Upload};
use crate::accounts::{FileError, SessionCtx};
use crate::domain::Dialect;
use crate::http::extract::ClientAddr;
use crate::http::AppState;

type Reply = Result<Response, EnsimsError>;
type Wildcard = Result<Path<String>, PathRejection>;

/// `GET /users/api/files` and `/users/api/files/`: the root folder's tree.
pub async fn list_root(State(state): State<AppState>, Session(ctx): Session) -> Reply {
    find(&state, &ctx, "").await
}

/// `GET /users/api/files/<path>`: a folder's tree or a file's bytes.
pub async fn get(State(state): State<AppState>, Session(ctx): Session, path: Wildcard) -> Reply {
    find(&state, &ctx, &wildcard(path)?).await
}

/// `POST /users/api/files` and `/users/api/files/`: upload into the root.
pub async fn upload_root(
    State(state): State<AppState>,
    Session(ctx): Session,
    addr: ClientAddr,
    form: Result<Multipart, MultipartRejection>,
) -> Reply {
    upload(&state, &ctx, addr, "", form).await
}

/// `POST /users/api/files/<folder>`: upload into a folder (created if missing).
pub async fn upload_into(
    State(state): State<AppState>,
    Session(ctx): Session,
    addr: ClientAddr,
    path: Wildcard,
    form: Result<Multipart, MultipartRejection>,
) -> Reply {
    upload(&state, &ctx, addr, &wildcard(path)?, form).await
}

/// `DELETE /users/api/files/<path>`: a file, or a folder with everything in it.
pub async fn delete(
    State(state): State<AppState>,
    Session(ctx): Session,
    addr: ClientAddr,
    path: Wildcard,
) -> Reply {
    let raw = wildcard(path)?;
    let actor = addr.actor(Dialect::Ensims);
    match state.files.delete(&ctx, &raw, &actor).await {
        Ok(()) => Ok(Json(Status {
            ok: true,
            status: format!("{raw} has been deleted"),
        })
        .into_response()),
        Err(FileError::NotFound(_)) => Ok(fail(
            StatusCode::OK,
            &format!("{raw} is not found or cannot be deleted"),
        )),
        Err(e) => Err(refusal(e)),
    }
}

#[derive(Serialize)]
struct Status {
    ok: bool,
    status: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Uploaded {
    ok: bool,
    status: &'static str,
    file_handle: String,
    callback: String,
}

/// A node of the recorded tree shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TreeNode {
    file_name: String,
    name: String,
    open: bool,
    nocheck: bool,
    file_size: i64,
    children: Vec<TreeNode>,
}

impl TreeNode {
    fn of(node: Node, root: bool) -> TreeNode {
        let name = if node.folder {
            node.name.clone()
        } else {
            format!("{} ({})", node.name, size_text(node.size))
        };
        TreeNode {
            file_name: node.name,
            name,
            open: root,
            nocheck: node.folder,
            file_size: node.size,
            children: node
                .children
                .into_iter()
                .map(|c| TreeNode::of(c, false))
                .collect(),
        }
    }
}

/// A size as the listing shows it: decimal units, 2 decimals below 100, 1 from 100.
pub fn size_text(bytes: i64) -> String {
    let bytes = bytes as f64;
    let (value, unit) = if bytes < 1e6 {
        (bytes / 1e3, "KB")
    } else if bytes < 1e9 {
        (bytes / 1e6, "MB")
    } else {
        (bytes / 1e9, "GB")
    };
    if value < 100.0 {
        format!("{value:.2} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

fn wildcard(path: Wildcard) -> Result<String, EnsimsError> {
    path.map(|Path(p)| p)
        .map_err(|_| EnsimsError::bad_request("Invalid path."))
}

async fn find(state: &AppState, ctx: &SessionCtx, raw: &str) -> Reply {
    match state.files.find(ctx, raw).await.map_err(refusal)? {
        Found::Folder(node) => Ok(Json(TreeNode::of(node, true)).into_response()),
        Found::File(download) => Ok(stream(download)),
    }
}

fn stream(download: Download) -> Response {
    let content_type = content_type(&download.name);
    let disposition = disposition(&download.name);
    let size = download.size;
    let body = Body::from_stream(download.chunks().map(|chunk| {
        chunk.map_err(|e| {
            tracing::warn!(cause = %e, "a download was cut short");
            std::io::Error::other("the file could not be read")
        })
    }));
    (
        [
            (CONTENT_TYPE, content_type.to_owned()),
            (CONTENT_DISPOSITION, disposition),
            (CONTENT_LENGTH, size.to_string()),
        ],
        body,
    )
        .into_response()
}

/// `attachment` with the name quoted when plain ASCII, else in RFC 5987 form.
fn disposition(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ');
    if plain {
        return format!("attachment; filename=\"{name}\"");
    }
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename*=UTF-8''{encoded}")
}

fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("txt" | "ini" | "idf" | "imf" | "epw" | "csv" | "log" | "md") => {
            "text/plain; charset=utf-8"
        }
        Some("htm" | "html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("pdf") => "application/pdf",
        Some("zip") => "application/zip",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

async fn upload(
    state: &AppState,
    ctx: &SessionCtx,
    addr: ClientAddr,
    raw: &str,
    form: Result<Multipart, MultipartRejection>,
) -> Reply {
    let actor = addr.actor(Dialect::Ensims);
    let mut upload = state
        .files
        .upload(ctx, raw, &actor)
        .await
        .map_err(refusal)?;
    let mut form = form.map_err(|_| {
        EnsimsError::bad_request("The body must be multipart/form-data with parts named 'file'.")
    })?;
    receive(&mut upload, &mut form).await?;
    let handle = upload.commit().await.map_err(refusal)?;
    Ok(Json(Uploaded {
        ok: true,
        status: "File(s) uploaded successfully",
        callback: format!("/users/api/files/{handle}"),
        file_handle: handle,
    })
    .into_response())
}

/// Streams every part named `file` into the upload; other parts are skipped.
async fn receive(upload: &mut Upload, form: &mut Multipart) -> Result<(), EnsimsError> {
    while let Some(mut field) = form.next_field().await.map_err(broken)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or_default().to_owned();
        let mut part = upload.part(&name).await.map_err(refusal)?;
        while let Some(chunk) = field.chunk().await.map_err(broken)? {
            upload.write(&mut part, &chunk).await.map_err(refusal)?;
        }
        upload.finish(part).await.map_err(refusal)?;
    }
    Ok(())
}

/// A body that stopped making sense, or passed the upload limit.
#[allow(clippy::needless_pass_by_value)] // used as `map_err(broken)`
fn broken(e: MultipartError) -> EnsimsError {
    match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => refusal(FileError::TooLarge),
        _ => EnsimsError::bad_request(format!("Malformed multipart body: {}", e.body_text())),
    }
}

fn refusal(e: FileError) -> EnsimsError {
    let status = match &e {
        FileError::BadPath(_) | FileError::BadZip(_) | FileError::BadRequest(_) => {
            StatusCode::BAD_REQUEST
        }
        FileError::NotFound(_) => StatusCode::NOT_FOUND,
        FileError::OverQuota | FileError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        FileError::Conflict(_) => StatusCode::CONFLICT,
        FileError::Account(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    match e {
        FileError::Account(e) => e.into(),
        other => EnsimsError::new(status, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::size_text;

    #[test]
    fn sizes_are_shown_in_decimal_units_as_recorded() {
        assert_eq!(size_text(167), "0.17 KB");
        assert_eq!(size_text(4840), "4.84 KB");
        assert_eq!(size_text(223_900), "223.9 KB");
        assert_eq!(size_text(1_440_000), "1.44 MB");
        assert_eq!(size_text(0), "0.00 KB");
        assert_eq!(size_text(999_000_000), "999.0 MB");
        assert_eq!(size_text(2_500_000_000), "2.50 GB");
    }
}
