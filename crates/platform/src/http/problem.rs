//! The one HTTP error type: RFC 9457 `application/problem+json` with a stable `code`.
//!
//! Handlers return `Result<_, ApiError>`; extractor rejections are converted into it, so
//! a client never sees a bare text body. Server faults are logged with their cause and
//! answered with an opaque 500.

use axum::{
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details body, as clients receive it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema, PartialEq, Eq)]
pub struct Problem {
    /// A URI naming the problem type: `urn:bazaar:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the problem type (the HTTP reason phrase).
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for a person.
    pub detail: String,
    /// Stable machine-readable code. Platform codes: `malformed_json`, `invalid_body`,
    /// `unsupported_media_type`, `payload_too_large`, `unreadable_body`, `invalid_query`,
    /// `invalid_path`, `not_found`, `method_not_allowed`, `not_ready`, `internal`.
    /// Each service documents its own codes on its operations.
    pub code: String,
    /// The offending fields, when the problem is about the request's content.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldViolation>,
}

/// One invalid field in a request.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path to the field, e.g. `lines[2].quantity`; empty for the whole body.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// A rule one request field broke: answered as 422 with the field named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    /// The offending field, as the API names it (`lines[2].quantity`).
    pub field: String,
    /// The stable problem code.
    pub code: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

impl Invalid {
    /// `field` broke the rule `code`.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// The same rule, found in the element of a list: `lines[2].quantity`.
    pub fn at(mut self, prefix: &str) -> Self {
        self.field = format!("{prefix}.{}", self.field);
        self
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        ApiError::unprocessable(invalid.code, invalid.to_string()).with_violations(vec![
            FieldViolation {
                field: invalid.field,
                message: invalid.message,
            },
        ])
    }
}

impl From<crate::money::CorruptCurrency> for ApiError {
    fn from(corrupt: crate::money::CorruptCurrency) -> Self {
        ApiError::internal(corrupt)
    }
}

/// An error answered as problem+json. Build it with the constructors; `code` is part of
/// the API contract and must not change once published.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldViolation>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// A client error with a stable code.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        debug_assert!(status.is_client_error() || status.is_server_error());
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// 404: the resource does not exist (or belongs to another tenant).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 409: the request conflicts with current state.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 422: well-formed but breaks a rule.
    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 500: logs the cause and answers without it, so internals never leak.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; it has been logged",
        )
    }

    /// Tells the client when to try again (`Retry-After`, whole seconds).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Adds the offending fields.
    pub fn with_violations(mut self, errors: Vec<FieldViolation>) -> Self {
        self.errors = errors;
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The body clients receive.
    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:bazaar:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            errors: self.errors.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A database failure the handler did not turn into a domain error is a server fault.
/// A constraint the request broke is the client's mistake: its class is a 4xx, so a
/// handler that did not foresee it (an id another request took a moment ago, a number
/// past a column's range) never answers 500. The constraint is logged, never sent.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        let refused = err.as_database_error().and_then(|db| {
            let answer = match db.code().as_deref()? {
                "23505" => Self::conflict(
                    "already_exists",
                    "a record with this id or key already exists",
                ),
                "23503" => Self::unprocessable(
                    "unknown_reference",
                    "the request refers to something that does not exist",
                ),
                "23514" => Self::unprocessable(
                    "invalid_value",
                    "a value is outside what the record allows",
                ),
                "22001" => Self::unprocessable("too_long", "a text is longer than allowed"),
                "22003" => {
                    Self::unprocessable("out_of_range", "a number is outside the range allowed")
                }
                "40001" | "40P01" => Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "contention",
                    "the request collided with a concurrent one; retry it",
                )
                .with_retry_after(1),
                _ => return None,
            };
            tracing::warn!(
                code = answer.code,
                constraint = db.constraint().unwrap_or_default(),
                error = %db,
                "database refused the request"
            );
            Some(answer)
        });
        refused.unwrap_or_else(|| Self::internal(err))
    }
}

impl From<crate::outbox::OutboxError> for ApiError {
    fn from(err: crate::outbox::OutboxError) -> Self {
        Self::internal(err)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonSyntaxError(err) => Self::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the body is not valid JSON: {}", root_cause(&err)),
            ),
            JsonRejection::JsonDataError(err) => {
                let violation = field_violation(&err);
                if let Some(bound) = violation.message.strip_prefix(crate::text::TOO_LONG) {
                    return Invalid::new(violation.field, "too_long", bound.to_owned()).into();
                }
                Self::unprocessable(
                    "invalid_body",
                    format!(
                        "the body does not match the expected shape: {}",
                        violation.message
                    ),
                )
                .with_violations(vec![violation])
            }
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a body with content-type application/json",
            ),
            JsonRejection::BytesRejection(err) => body_unreadable(err.status(), err.body_text()),
            other => body_unreadable(other.status(), other.body_text()),
        }
    }
}

/// 413 `payload_too_large`, or 400 `unreadable_body` for a body that could not be read.
pub(super) fn body_unreadable(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            status,
            "payload_too_large",
            "the body is larger than allowed",
        )
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, "unreadable_body", text)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("invalid query string: {}", root_cause(&rejection)),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_path",
            format!("invalid path parameter: {}", root_cause(&rejection)),
        )
    }
}

/// The innermost message: axum's outer messages repeat the rejection's name.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// The JSON path and serde's message for a body that parsed but did not fit the type.
fn field_violation(err: &(dyn std::error::Error + 'static)) -> FieldViolation {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(located) = e.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>() {
            let path = located.path().to_string();
            return FieldViolation {
                field: if path == "." { String::new() } else { path },
                message: strip_position(&located.inner().to_string()),
            };
        }
        current = e.source();
    }
    FieldViolation {
        field: String::new(),
        message: strip_position(&root_cause(err)),
    }
}

/// serde_json appends " at line 1 column 42"; the field path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}
