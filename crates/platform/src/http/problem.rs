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
    /// Stable machine-readable code: one of `PlatformProblemCode` or of the answering
    /// service's `<Service>ProblemCode` schema; each operation lists those it answers.
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

/// A stable problem code and the status it is always answered with. Made only by
/// [`problem_codes!`](crate::problem_codes), so every code a service can answer is in its
/// one list, which documents it in OpenAPI and is checked against the operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemCode {
    status: StatusCode,
    code: &'static str,
    meaning: &'static str,
}

impl ProblemCode {
    /// Used by [`problem_codes!`](crate::problem_codes) only.
    #[doc(hidden)]
    pub const fn declared(status: StatusCode, code: &'static str, meaning: &'static str) -> Self {
        Self {
            status,
            code,
            meaning,
        }
    }

    /// The code clients match on.
    pub const fn as_str(&self) -> &'static str {
        self.code
    }

    /// The status every answer with this code has.
    pub const fn status(&self) -> StatusCode {
        self.status
    }

    /// What it means, from the declaration's doc comment.
    pub fn meaning(&self) -> &'static str {
        self.meaning.trim()
    }
}

impl PartialEq<&str> for ProblemCode {
    fn eq(&self, other: &&str) -> bool {
        self.code == *other
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code)
    }
}

/// Declares the problem codes a crate answers with: an enum whose variants each name a
/// status and a code, with a one-line doc comment saying what the code means.
#[macro_export]
macro_rules! problem_codes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( #[doc = $doc:literal] $variant:ident = ($status:ident, $code:literal), )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $( #[doc = $doc] $variant, )*
        }

        impl $name {
            /// Every code declared, in declaration order.
            pub const ALL: &'static [$crate::http::ProblemCode] = &[
                $( $crate::http::ProblemCode::declared(
                    $crate::http::StatusCode::$status, $code, $doc), )*
            ];

            /// The code and its status.
            pub const fn problem(self) -> $crate::http::ProblemCode {
                match self {
                    $( Self::$variant => $crate::http::ProblemCode::declared(
                        $crate::http::StatusCode::$status, $code, $doc), )*
                }
            }

            /// The code clients match on.
            pub const fn as_str(self) -> &'static str {
                self.problem().as_str()
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl From<$name> for $crate::http::ProblemCode {
            fn from(code: $name) -> Self {
                code.problem()
            }
        }
    };
}

/// A rule one request field broke: answered with its code's status (422) and the field
/// named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    /// The offending field, as the API names it (`lines[2].quantity`).
    pub field: String,
    /// The stable problem code.
    pub code: &'static str,
    /// What is wrong, for a person.
    pub message: String,
    problem: ProblemCode,
}

impl Invalid {
    /// `field` broke the rule `code`.
    pub fn new(
        field: impl Into<String>,
        code: impl Into<ProblemCode>,
        message: impl Into<String>,
    ) -> Self {
        let problem = code.into();
        Self {
            field: field.into(),
            code: problem.as_str(),
            message: message.into(),
            problem,
        }
    }

    /// The code and its status.
    pub fn problem(&self) -> ProblemCode {
        self.problem
    }

    /// The same rule, found in the element of a list: `lines[2].quantity`.
    pub fn at(mut self, prefix: &str) -> Self {
        self.field = format!("{prefix}.{}", self.field);
        self
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        ApiError::new(invalid.problem, invalid.to_string()).with_violations(vec![FieldViolation {
            field: invalid.field,
            message: invalid.message,
        }])
    }
}

impl From<crate::money::CorruptCurrency> for ApiError {
    fn from(corrupt: crate::money::CorruptCurrency) -> Self {
        ApiError::internal(corrupt)
    }
}

/// An error answered as problem+json. Build it from a declared [`ProblemCode`]: the code
/// is part of the API contract and must not change once published.
#[derive(Debug)]
pub struct ApiError {
    problem: ProblemCode,
    detail: String,
    errors: Vec<FieldViolation>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a declared code, answered with that code's status.
    pub fn new(code: impl Into<ProblemCode>, detail: impl Into<String>) -> Self {
        Self {
            problem: code.into(),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// 404: the resource does not exist (or belongs to another tenant).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(PlatformCode::NotFound, detail)
    }

    /// 500: logs the cause and answers without it, so internals never leak.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            PlatformCode::Internal,
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
        self.problem.status()
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.problem.as_str()
    }

    /// The body clients receive.
    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:bazaar:problem:{}", self.code()),
            title: self
                .status()
                .canonical_reason()
                .unwrap_or("Error")
                .to_owned(),
            status: self.status().as_u16(),
            detail: self.detail.clone(),
            code: self.code().to_owned(),
            errors: self.errors.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status().as_u16(),
            self.code(),
            self.detail
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (self.status(), body).into_response();
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
                "23505" => Self::new(
                    PlatformCode::AlreadyExists,
                    "a record with this id or key already exists",
                ),
                "23503" => Self::new(
                    PlatformCode::UnknownReference,
                    "the request refers to something that does not exist",
                ),
                "23514" => Self::new(
                    PlatformCode::InvalidValue,
                    "a value is outside what the record allows",
                ),
                "22001" => Self::new(PlatformCode::TooLong, "a text is longer than allowed"),
                "22003" => Self::new(
                    PlatformCode::OutOfRange,
                    "a number is outside the range allowed",
                ),
                "40001" | "40P01" => Self::new(
                    PlatformCode::Contention,
                    "the request collided with a concurrent one; retry it",
                )
                .with_retry_after(1),
                _ => return None,
            };
            tracing::warn!(
                code = answer.code(),
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
                PlatformCode::MalformedJson,
                format!("the body is not valid JSON: {}", root_cause(&err)),
            ),
            JsonRejection::JsonDataError(err) => {
                let violation = field_violation(&err);
                if let Some(bound) = violation.message.strip_prefix(crate::text::TOO_LONG) {
                    return Invalid::new(violation.field, PlatformCode::TooLong, bound.to_owned())
                        .into();
                }
                Self::new(
                    PlatformCode::InvalidBody,
                    format!(
                        "the body does not match the expected shape: {}",
                        violation.message
                    ),
                )
                .with_violations(vec![violation])
            }
            JsonRejection::MissingJsonContentType(_) => Self::new(
                PlatformCode::UnsupportedMediaType,
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
            PlatformCode::PayloadTooLarge,
            "the body is larger than allowed",
        )
    } else {
        ApiError::new(PlatformCode::UnreadableBody, text)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(
            PlatformCode::InvalidQuery,
            format!("invalid query string: {}", root_cause(&rejection)),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(
            PlatformCode::InvalidPath,
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

crate::problem_codes! {
    /// The codes the platform answers with on every service's routes.
    pub enum PlatformCode {
        /// No such resource in the caller's tenant.
        NotFound = (NOT_FOUND, "not_found"),
        /// A server fault, logged with its cause; the answer never holds it.
        Internal = (INTERNAL_SERVER_ERROR, "internal"),
        /// No valid bearer access token came with the request.
        Unauthenticated = (UNAUTHORIZED, "unauthenticated"),
        /// The caller's roles do not admit the action.
        Forbidden = (FORBIDDEN, "forbidden"),
        /// A store id outside the tenant or outside the caller's reach.
        UnknownStore = (NOT_FOUND, "unknown_store"),
        /// A sum or product past what an amount holds.
        AmountOutOfRange = (UNPROCESSABLE_ENTITY, "amount_out_of_range"),
        /// A quantity past the largest a document line holds.
        QuantityTooLarge = (UNPROCESSABLE_ENTITY, "quantity_too_large"),
        /// Amounts in two currencies where one is required.
        CurrencyMismatch = (UNPROCESSABLE_ENTITY, "currency_mismatch"),
        /// Not an ISO 4217 code Bazaar knows.
        UnknownCurrency = (UNPROCESSABLE_ENTITY, "unknown_currency"),
        /// More decimal places than the unit or currency allows.
        TooManyDecimals = (UNPROCESSABLE_ENTITY, "too_many_decimals"),
        /// An amount below zero where only zero or more is allowed.
        NegativeAmount = (UNPROCESSABLE_ENTITY, "negative_amount"),
        /// An amount past the largest the books hold.
        AmountTooLarge = (UNPROCESSABLE_ENTITY, "amount_too_large"),
        /// A quantity that does not read as a positive decimal in its unit's scale.
        InvalidQuantity = (UNPROCESSABLE_ENTITY, "invalid_quantity"),
        /// Not a GST state code (01 to 38, or 97).
        InvalidStateCode = (UNPROCESSABLE_ENTITY, "invalid_state_code"),
        /// Not 15 characters of state code, PAN, entity number, Z and check character.
        InvalidGstin = (UNPROCESSABLE_ENTITY, "invalid_gstin"),
        /// The GSTIN's last character does not match the others.
        InvalidGstinCheckCharacter = (UNPROCESSABLE_ENTITY, "invalid_gstin_check_character"),
        /// The request body did not arrive in time.
        BodyTimeout = (REQUEST_TIMEOUT, "body_timeout"),
        /// A dependency did not answer the readiness check.
        NotReady = (SERVICE_UNAVAILABLE, "not_ready"),
        /// The path exists, but not with this method.
        MethodNotAllowed = (METHOD_NOT_ALLOWED, "method_not_allowed"),
        /// A document needs at least one line.
        NoLines = (UNPROCESSABLE_ENTITY, "no_lines"),
        /// More lines than one document may hold.
        TooManyLines = (UNPROCESSABLE_ENTITY, "too_many_lines"),
        /// The body is not `application/json`.
        UnsupportedMediaType = (UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        /// A body field holds a control character (tab, line feed and carriage return excepted).
        InvalidCharacter = (UNPROCESSABLE_ENTITY, "invalid_character"),
        /// A path, query or header holds a control character.
        InvalidCharacterOutsideBody = (BAD_REQUEST, "invalid_character"),
        /// A text longer than its field allows.
        TooLong = (UNPROCESSABLE_ENTITY, "too_long"),
        /// A list longer than a request may carry.
        TooManyItems = (UNPROCESSABLE_ENTITY, "too_many_items"),
        /// The body is larger than allowed.
        PayloadTooLarge = (PAYLOAD_TOO_LARGE, "payload_too_large"),
        /// The body could not be read.
        UnreadableBody = (BAD_REQUEST, "unreadable_body"),
        /// The body is not valid JSON.
        MalformedJson = (BAD_REQUEST, "malformed_json"),
        /// The JSON does not match the operation's request schema.
        InvalidBody = (UNPROCESSABLE_ENTITY, "invalid_body"),
        /// The query string does not match the operation's parameters.
        InvalidQuery = (BAD_REQUEST, "invalid_query"),
        /// A path parameter does not read (an id that is not a UUID).
        InvalidPath = (BAD_REQUEST, "invalid_path"),
        /// A record with this id or key already exists.
        AlreadyExists = (CONFLICT, "already_exists"),
        /// The request refers to something that does not exist.
        UnknownReference = (UNPROCESSABLE_ENTITY, "unknown_reference"),
        /// A value outside what the record allows.
        InvalidValue = (UNPROCESSABLE_ENTITY, "invalid_value"),
        /// A number outside the range its column holds.
        OutOfRange = (UNPROCESSABLE_ENTITY, "out_of_range"),
        /// The request collided with a concurrent one; retry after `Retry-After`.
        Contention = (SERVICE_UNAVAILABLE, "contention"),
        /// The same `Idempotency-Key` is still being answered.
        IdempotencyRequestInProgress = (CONFLICT, "idempotency_request_in_progress"),
        /// The `Idempotency-Key` came before with a different request.
        IdempotencyKeyReused = (UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
        /// An `Idempotency-Key` that is not 1 to 255 visible ASCII characters.
        InvalidIdempotencyKey = (BAD_REQUEST, "invalid_idempotency_key"),
    }
}
