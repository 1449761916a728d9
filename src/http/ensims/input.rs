//! Reading ENSIMS input: JSON objects, credentials, the profile fields, `If-Match`.

use axum::http::header::IF_MATCH;
use axum::http::HeaderMap;
use serde_json::{Map, Value};

use super::wire::EnsimsError;
use crate::accounts;
use crate::domain::{ProfileInput, TextField};

/// The version `If-Match` names: `None` without the header or with `*`; a value that names
/// no version can match nothing, so it is refused like a stale one.
pub(super) fn if_match(headers: &HeaderMap) -> Result<Option<i64>, EnsimsError> {
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

pub(super) fn object(body: &Value) -> Result<&Map<String, Value>, EnsimsError> {
    body.as_object()
        .ok_or_else(|| EnsimsError::bad_request("Request body must be a JSON object."))
}

/// The account object. The GET shape `{"data":{...}}` is accepted too, with account fields
/// set at its top level (clients edit the GET reply and post it back): `data` applies first,
/// then the top-level fields win over it. A top-level null is ignored like any null, so it
/// does not hide the value inside `data`.
pub(super) fn unwrap_data(body: &Value) -> Result<Map<String, Value>, EnsimsError> {
    let outer = object(body)?;
    let Some(Value::Object(inner)) = outer.get("data") else {
        return Ok(outer.clone());
    };
    let mut merged = inner.clone();
    for (name, value) in outer {
        if name != "data" && !value.is_null() {
            merged.insert(name.clone(), value.clone());
        }
    }
    Ok(merged)
}

pub(super) fn required_str<'a>(
    object: &'a Map<String, Value>,
    field: &str,
) -> Result<&'a str, EnsimsError> {
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

pub(super) fn credential(body: &Value) -> Result<(&str, &str), EnsimsError> {
    let object = object(body)?;
    Ok((
        required_str(object, "email")?,
        required_str(object, "password")?,
    ))
}

/// Type-checks the updatable fields: omitted or null is ignored, unknown fields and the
/// JESS fields (set only through the JESS call) are ignored.
pub(super) fn profile_input(object: &Map<String, Value>) -> Result<ProfileInput, EnsimsError> {
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
