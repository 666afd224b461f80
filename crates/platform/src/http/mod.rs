//! What every Bazaar HTTP server has around a service's routes: problem+json errors,
//! `/healthz`, `/readyz`, Prometheus `/metrics`, the OpenAPI document at
//! `/api/v1/openapi.json`, W3C trace context, and graceful shutdown.

mod body;
mod client;
mod extract;
pub mod idempotency;
mod local;
mod metrics;
mod page;
mod problem;
mod readiness;
mod server;

use std::sync::Arc;

use axum::{
    extract::{DefaultBodyLimit, Request, State},
    http::header,
    middleware,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

pub use axum::http::StatusCode;
pub use client::{client_ip, ClientIp, TrustedProxies};
pub use extract::{holds_control, Json, Path, Query, MAX_ITEMS, MAX_TEXT};
pub use local::{call, call_with, LocalReply};
pub use metrics::HttpMetrics;
pub use page::{Page, MAX_LIMIT};
pub use problem::{
    ApiError, FieldViolation, Invalid, PlatformCode, Problem, ProblemCode, PROBLEM_JSON,
};
pub use readiness::{Readiness, ReadinessReport};
pub use server::{serve, serve_on, HttpLimits, ServerOptions};

/// Liveness and readiness probes, metrics and the platform's shared schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bazaar API",
        description = "Retail ERP for store chains. Every error is an RFC 9457 \
                       application/problem+json body with a stable `code`.",
    ),
    paths(healthz, readyz::readyz, metrics_text),
    components(schemas(Problem, FieldViolation, ReadinessReport)),
    tags((name = "operations", description = "Health, readiness and metrics"))
)]
struct PlatformApi;

/// The OpenAPI 3.1 document: the platform's endpoints plus every service's.
pub fn openapi(
    services: impl IntoIterator<Item = utoipa::openapi::OpenApi>,
) -> utoipa::openapi::OpenApi {
    let mut document = PlatformApi::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    document_problems(&mut document, "PlatformProblemCode", PlatformCode::ALL);
    for service in services {
        document.merge(service);
    }
    complete(&mut document);
    document
}

/// Adds `codes` to `document` as the string enum `schema`, its description listing each
/// code's status and meaning: generated from the declaration, never typed twice.
pub fn document_problems(
    document: &mut utoipa::openapi::OpenApi,
    schema: &str,
    codes: &[ProblemCode],
) {
    use utoipa::openapi::{schema::Type, ObjectBuilder};
    let mut values: Vec<&str> = Vec::new();
    let mut meanings = String::new();
    for code in codes {
        if !values.contains(&code.as_str()) {
            values.push(code.as_str());
        }
        meanings.push_str(&format!(
            "- `{}` ({}): {}\n",
            code.as_str(),
            code.status().as_u16(),
            code.meaning()
        ));
    }
    let object = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(meanings));
    document
        .components
        .get_or_insert_with(Default::default)
        .schemas
        .insert(schema.to_owned(), object.into());
}

/// Documents what the platform answers on every route, so a client generated from the
/// document knows every status it can get: the `bearer` scheme routes name, and on each
/// operation the problem+json answers of the extractors, the auth gate, the body guard
/// and the database mapping that its handler did not list itself.
fn complete(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{
        security::{Http, HttpAuthScheme, SecurityScheme},
        ContentBuilder, Ref, RefOr, ResponseBuilder,
    };
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in document.paths.paths.iter_mut() {
        let in_path = path.contains('{');
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let with_body = operation.request_body.is_some();
            let with_query = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let mut answers: Vec<(&str, &str)> = vec![
                ("500", "`internal`: logged, never explained"),
                ("503", "`contention`: retry (see Retry-After)"),
            ];
            if with_body || with_query || in_path {
                answers.push((
                    "400",
                    "`malformed_json`, `invalid_query`, `invalid_path`, `invalid_character`",
                ));
            }
            if with_query && !with_body {
                answers.push((
                    "422",
                    "a query value the route refuses, its field named in the errors list",
                ));
            }
            if secured {
                answers.push((
                    "401",
                    "`unauthenticated`: no, expired or forged bearer token",
                ));
                answers.push((
                    "403",
                    "`forbidden`: a role or store the token does not have",
                ));
            }
            if in_path || secured {
                answers.push((
                    "404",
                    "`not_found`: not this tenant's, or beyond the caller's reach",
                ));
            }
            if with_body {
                answers.extend([
                    ("408", "`body_timeout`"),
                    ("409", "`already_exists`"),
                    ("413", "`payload_too_large`"),
                    ("415", "`unsupported_media_type`"),
                    (
                        "422",
                        "`invalid_body`, `too_long`, `too_many_items`, `invalid_character`, \
                         `unknown_reference`, `invalid_value`, `out_of_range`",
                    ),
                ]);
            }
            for (status, description) in answers {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem(description));
            }
        }
    }
}

/// The largest request body a route takes unless it sets its own limit (a CSV import
/// does).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The most lines one document (an invoice, a return, an order, a receipt, a journal
/// entry) takes: a long supermarket bill is a few hundred.
pub const MAX_LINES: usize = 500;

/// Refuses a document's list of lines that is empty (`no_lines`) or longer than
/// [`MAX_LINES`] (`too_many_lines`), before any work is done for it.
pub fn line_count(field: &str, count: usize) -> Result<(), Invalid> {
    if count == 0 {
        Err(Invalid::new(
            field,
            PlatformCode::NoLines,
            "at least one line",
        ))
    } else if count > MAX_LINES {
        Err(Invalid::new(
            field,
            PlatformCode::TooManyLines,
            format!("at most {MAX_LINES} lines"),
        ))
    } else {
        Ok(())
    }
}

/// Wraps a service router (already given its state) with everything above.
pub fn app(
    api: Router,
    openapi: utoipa::openapi::OpenApi,
    readiness: Readiness,
    metrics: HttpMetrics,
) -> Router {
    let openapi = Arc::new(openapi);
    Router::new()
        .merge(api)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::readyz).with_state(readiness))
        .route("/metrics", get(metrics_text).with_state(metrics.clone()))
        .route(
            "/api/v1/openapi.json",
            get(move || async move { axum::Json(openapi.as_ref().clone()) }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // After every route is added: route_layer sees the matched route template.
        .route_layer(middleware::from_fn_with_state(metrics, metrics::track))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TraceLayer::new_for_http().make_span_with(http_span))
}

fn http_span(request: &Request) -> tracing::Span {
    let span = tracing::info_span!(
        "http_request",
        method = %request.method(),
        path = %request.uri().path(),
    );
    if let Some(traceparent) = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
    {
        crate::telemetry::set_parent_from_traceparent(&span, traceparent);
    }
    span
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = String, example = "ok")))]
async fn healthz() -> &'static str {
    "ok"
}

mod readyz {
    use super::*;

    /// Every database and Kafka answer.
    #[utoipa::path(get, path = "/readyz", tag = "operations", responses(
        (status = 200, description = "Ready", body = ReadinessReport),
        (status = 503, description = "A dependency does not answer (code `not_ready`)",
         body = Problem, content_type = "application/problem+json"),
    ))]
    pub(super) async fn readyz(State(readiness): State<Readiness>) -> Response {
        let report = readiness.check().await;
        if report.ready {
            axum::Json(report).into_response()
        } else {
            let failed: Vec<FieldViolation> = report
                .checks
                .iter()
                .filter_map(|check| {
                    check.error.as_ref().map(|error| FieldViolation {
                        field: check.name.clone(),
                        message: error.clone(),
                    })
                })
                .collect();
            let names: Vec<&str> = failed.iter().map(|f| f.field.as_str()).collect();
            ApiError::new(
                PlatformCode::NotReady,
                format!("not ready: {} did not answer", names.join(", ")),
            )
            .with_violations(failed)
            .into_response()
        }
    }
}

/// Prometheus text exposition: HTTP request counts and latency per route, and every
/// other metric the process registered.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String)))]
async fn metrics_text(State(metrics): State<HttpMetrics>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
        .into_response()
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!("no route for {}", request.uri().path()))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        PlatformCode::MethodNotAllowed,
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}
