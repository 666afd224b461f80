//! Extractors whose rejections are problem+json (see [`ApiError`]). Handlers use these
//! instead of axum's own, so bad JSON, unknown fields and wrong types never produce a
//! bare text body, and no control character (a NUL that PostgreSQL refuses, an escape
//! sequence bound for a log or a till's printer) reaches a handler as text. No text and
//! no list of any body is unbounded either: whatever a handler copies into an event has
//! a size the broker takes.

use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::request::Parts,
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;

use super::PlatformCode;
use super::{problem::body_unreadable, ApiError, Invalid};

/// The longest text any JSON body may hold, in characters; fields with a tighter bound
/// say so with [`crate::text::Text`].
pub const MAX_TEXT: usize = 2_000;
/// The most items of any list or object in a JSON body; documents' lines are held to
/// [`super::MAX_LINES`] by their handlers.
pub const MAX_ITEMS: usize = 1_000;

/// A JSON body; rejections become 400 `malformed_json`, 422 `invalid_body`, 415
/// `unsupported_media_type`, 413 `payload_too_large`, or 422 `invalid_character` naming
/// the field whose text holds a control character (tab, line feed and carriage return
/// excepted), `too_long` naming text over [`MAX_TEXT`] characters or `too_many_items` a
/// list over [`MAX_ITEMS`]. As a response, plain JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::new(
                PlatformCode::UnsupportedMediaType,
                "expected a body with content-type application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| body_unreadable(r.status(), r.body_text()))?;
        // Valid JSON carries a control character only as a \u escape, and a body no longer
        // than MAX_TEXT holds no text or list too long: only other bodies are walked.
        if escapes_a_control(&bytes) || bytes.len() > MAX_TEXT {
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                if let Some(invalid) = out_of_bounds(&value, String::new()) {
                    return Err(invalid.into());
                }
            }
        }
        axum::Json::<T>::from_bytes(&bytes)
            .map(|axum::Json(inner)| Json(inner))
            .map_err(ApiError::from)
    }
}

/// `application/json` or any `application/*+json`, as axum's own extractor takes.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether a JSON text holds a `\u` escape of a control character in a string.
fn escapes_a_control(body: &[u8]) -> bool {
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'\\' {
            i += 1;
            continue;
        }
        if body.get(i + 1) == Some(&b'u') {
            let code = body
                .get(i + 2..i + 6)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .and_then(char::from_u32);
            if code.is_some_and(is_control) {
                return true;
            }
        }
        // Skip the escaped character, so "\\u0000" (a backslash, then text) is not one.
        i += 2;
    }
    false
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A query string; rejections become 400 `invalid_query`, or 400 `invalid_character`
/// when a decoded value holds a control character.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        refuse_controls("query string", parts.uri.query().unwrap_or_default())?;
        let axum::extract::Query(inner) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(inner))
    }
}

/// Path parameters; rejections become 400 `invalid_path`, or 400 `invalid_character`
/// when a decoded segment holds a control character.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        refuse_controls("path", parts.uri.path())?;
        let axum::extract::Path(inner) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Path(inner))
    }
}

/// A control character other than the three whitespace ones text may hold.
fn is_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Whether `text` holds a character no text field takes (a control character other than
/// tab, line feed and carriage return): for text that arrives outside these extractors,
/// such as a CSV file's cells.
pub fn holds_control(text: &str) -> bool {
    text.chars().any(is_control)
}

/// The path (`lines[2].sku`) of the first string, or object key, holding a control
/// character.
/// The first text in a JSON body that holds a control character (`invalid_character`) or
/// is longer than [`MAX_TEXT`] (`too_long`), or list longer than [`MAX_ITEMS`]
/// (`too_many_items`), named by its path.
fn out_of_bounds(value: &serde_json::Value, at: String) -> Option<Invalid> {
    use serde_json::Value;
    match value {
        Value::String(text) => text_fault(text, at),
        Value::Array(items) if items.len() > MAX_ITEMS => Some(too_many_items(at)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| out_of_bounds(item, format!("{at}[{index}]"))),
        Value::Object(fields) if fields.len() > MAX_ITEMS => Some(too_many_items(at)),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let here = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            text_fault(key, here.clone()).or_else(|| out_of_bounds(item, here))
        }),
        _ => None,
    }
}

fn text_fault(text: &str, at: String) -> Option<Invalid> {
    if holds_control(text) {
        Some(Invalid::new(
            at,
            PlatformCode::InvalidCharacter,
            "control characters are not text (tab, line feed and carriage return excepted)",
        ))
    } else if text.chars().count() > MAX_TEXT {
        Some(Invalid::new(
            at,
            PlatformCode::TooLong,
            format!("at most {MAX_TEXT} characters"),
        ))
    } else {
        None
    }
}

fn too_many_items(at: String) -> Invalid {
    Invalid::new(
        at,
        PlatformCode::TooManyItems,
        format!("at most {MAX_ITEMS} items"),
    )
}

/// 400 `invalid_character` when the percent-decoded `raw` holds a control character.
fn refuse_controls(what: &str, raw: &str) -> Result<(), ApiError> {
    let decoded = percent_decoded(raw);
    if holds_control(&decoded) {
        return Err(ApiError::new(
            PlatformCode::InvalidCharacterOutsideBody,
            format!("the {what} holds a control character"),
        ));
    }
    Ok(())
}

/// `raw` with `%XX` decoded (and `+` left alone: it is a space, never a control).
fn percent_decoded(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push(((hex(h).unwrap_or(0) << 4) | hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_with_their_field() {
        let body = serde_json::json!({"tenant": "a\u{0}b", "lines": [{"sku": "ok"}, {"sku": "x\u{1b}[31m"}]});
        let found = out_of_bounds(&body, String::new()).unwrap();
        assert_eq!(
            (found.field.as_str(), found.code),
            ("lines[1].sku", "invalid_character")
        );
        let fine = serde_json::json!({"note": "two\nlines\twith tabs\r\n", "n": 1});
        assert!(escapes_a_control(br#"{"tenant":"a\u0000b"}"#));
        assert!(escapes_a_control(br#"{"t":"\u001B[31m"}"#));
        assert!(!escapes_a_control(
            br#"{"t":"\\u0000 is text","n":"\u00e9\n"}"#
        ));
        assert!(out_of_bounds(&fine, String::new()).is_none());
        assert!(refuse_controls("query string", "q=%00").is_err());
        assert!(refuse_controls("query string", "q=a%20b&limit=5").is_ok());
        assert!(refuse_controls("path", "/api/v1/x/%7F").is_err());
    }
}
