//! Extractors whose rejections are problem+json (see [`ApiError`]). Handlers use these
//! instead of axum's own, so bad JSON, unknown fields and wrong types never produce a
//! bare text body.

use axum::{
    extract::FromRequest,
    response::{IntoResponse, Response},
};

use super::ApiError;

/// A JSON body; rejections become 400 `malformed_json`, 422 `invalid_body`, 415
/// `unsupported_media_type` or 413 `payload_too_large`. As a response, plain JSON.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A query string; rejections become 400 `invalid_query`.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// Path parameters; rejections become 400 `invalid_path`.
#[derive(Debug, Clone, Copy, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);
