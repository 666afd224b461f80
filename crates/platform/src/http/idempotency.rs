//! `Idempotency-Key` for every POST that creates something.
//!
//! The first request with a key claims it (a committed row, so a concurrent duplicate
//! waits on the unique index and then sees the claim: 409
//! `idempotency_request_in_progress`). Its response is stored and replayed to every
//! retry, with `Idempotent-Replayed: true`. The same key on a different request (method,
//! path or body) is refused with 422 `idempotency_key_reused`. Keys are scoped per
//! tenant and forgotten after a day. A request without the header is not deduplicated.
//!
//! A response with a 5xx status releases the claim so the retry can run. If the process
//! dies between the handler's commit and storing its response, the claim stays in
//! flight and retries get 409 until it expires: never a second effect.
//!
//! The layer must run for an admitted caller, inside the route's [`crate::auth::allow`]
//! layer: [`creating`] puts both on a route in that order.

use std::{future::Future, pin::Pin};

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sqlx::PgPool;

use super::PlatformCode;
use super::{ApiError, BODY_LIMIT};
use crate::{auth::Principal, db};

/// The request header carrying the key.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a response replayed from an earlier request.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Response headers worth replaying besides the body.
const KEPT_HEADERS: [HeaderName; 2] = [header::CONTENT_TYPE, header::LOCATION];

type Claimed = Pin<Box<dyn Future<Output = Response> + Send>>;

/// The layer [`layer`] returns.
pub type IdempotencyLayer = axum::middleware::FromFnLayer<
    fn(State<PgPool>, Request, Next) -> Claimed,
    PgPool,
    (State<PgPool>, Request),
>;

/// A route that creates something: admits callers with one of `roles` (see
/// [`crate::auth::allow`]), then deduplicates their requests by `Idempotency-Key`.
pub fn creating<S: Clone + Send + Sync + 'static>(
    route: axum::routing::MethodRouter<S>,
    pool: &PgPool,
    verifier: &std::sync::Arc<crate::auth::Verifier>,
    roles: &'static [crate::auth::Role],
) -> axum::routing::MethodRouter<S> {
    // The last layer added runs first: the gate, then the key.
    route
        .route_layer(layer(pool))
        .route_layer(crate::auth::allow(verifier, roles))
}

/// Deduplicates requests by their `Idempotency-Key`, storing responses in `pool`'s
/// `idempotency_keys` table.
pub fn layer(pool: &PgPool) -> IdempotencyLayer {
    axum::middleware::from_fn_with_state(
        pool.clone(),
        |State(pool): State<PgPool>, request: Request, next: Next| {
            Box::pin(async move {
                match deduplicate(pool, request, next).await {
                    Ok(response) => response,
                    Err(err) => err.into_response(),
                }
            }) as Claimed
        },
    )
}

async fn deduplicate(pool: PgPool, request: Request, next: Next) -> Result<Response, ApiError> {
    let Some(key) = request.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(next.run(request).await);
    };
    let key = key
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::new(
                PlatformCode::InvalidIdempotencyKey,
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
        })?
        .to_owned();
    let tenant = request
        .extensions()
        .get::<Principal>()
        .map(|p| p.tenant)
        .ok_or_else(|| ApiError::internal("idempotency layer outside an auth::allow layer"))?;

    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        ApiError::new(
            PlatformCode::PayloadTooLarge,
            format!("the body exceeds {BODY_LIMIT} bytes"),
        )
    })?;
    let fingerprint = fingerprint(parts.method.as_str(), parts.uri.path(), &body);

    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let claimed: Option<bool> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (tenant_id, key, fingerprint) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, key) DO UPDATE \
             SET fingerprint = EXCLUDED.fingerprint, created_at = now(), \
                 response_status = NULL, response_headers = NULL, response_body = NULL \
             WHERE idempotency_keys.created_at < now() - interval '1 day' \
         RETURNING true",
    )
    .bind(tenant)
    .bind(&key)
    .bind(&fingerprint)
    .fetch_optional(&mut *tx)
    .await?;
    if claimed.is_none() {
        let (stored, status, headers, body): (
            Vec<u8>,
            Option<i16>,
            Option<serde_json::Value>,
            Option<Vec<u8>>,
        ) = sqlx::query_as(
            "SELECT fingerprint, response_status, response_headers, response_body \
             FROM idempotency_keys WHERE tenant_id = $1 AND key = $2",
        )
        .bind(tenant)
        .bind(&key)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        if stored != fingerprint {
            return Err(ApiError::new(
                PlatformCode::IdempotencyKeyReused,
                "this Idempotency-Key was used for a different request",
            ));
        }
        return match status {
            Some(status) => Ok(replay(status, headers, body.unwrap_or_default())),
            None => Err(ApiError::new(
                PlatformCode::IdempotencyRequestInProgress,
                "a request with this Idempotency-Key is still being processed",
            )),
        };
    }
    tx.commit().await?;

    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(err) => {
            release(&pool, tenant, &key).await;
            return Err(ApiError::internal(format!("reading the response: {err}")));
        }
    };
    if parts.status.is_server_error() {
        release(&pool, tenant, &key).await;
    } else {
        let mut tx = db::begin_for_tenant(&pool, tenant).await?;
        sqlx::query(
            "UPDATE idempotency_keys \
             SET response_status = $3, response_headers = $4, response_body = $5 \
             WHERE tenant_id = $1 AND key = $2",
        )
        .bind(tenant)
        .bind(&key)
        .bind(parts.status.as_u16() as i16)
        .bind(kept_headers(&parts.headers))
        .bind(body.as_ref())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// Lets a retry run the request again after a server fault.
async fn release(pool: &PgPool, tenant: uuid::Uuid, key: &str) {
    let released = async {
        let mut tx = db::begin_for_tenant(pool, tenant).await?;
        sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2")
            .bind(tenant)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    };
    if let Err(err) = released.await {
        tracing::error!(error = %err, key, "cannot release an idempotency key; retries get 409 until it expires");
    }
}

fn fingerprint(method: &str, path: &str, body: &Bytes) -> Vec<u8> {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [
        method.as_bytes(),
        b" ",
        path.as_bytes(),
        b"\n",
        body.as_ref(),
    ] {
        digest.update(part);
    }
    digest.finish().as_ref().to_vec()
}

fn kept_headers(headers: &HeaderMap) -> serde_json::Value {
    KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(name)?.to_str().ok()?;
            Some((name.as_str().to_owned(), value.into()))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn replay(status: i16, headers: Option<serde_json::Value>, body: Vec<u8>) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    if let Some(serde_json::Value::Object(headers)) = headers {
        for (name, value) in headers {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::try_from(name),
                value.as_str().map(HeaderValue::from_str),
            ) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    response
        .headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
