//! Every way a request can be wrong gets problem+json with a stable code.

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
    routing::{get, post},
    Router,
};
use bazaar_platform::{
    http::{self, ApiError, HttpMetrics, Json, Path, Problem, Query, Readiness},
    money::{Money, Quantity},
    text::Text,
};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;
use uuid::Uuid;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct NewLine {
    sku: Text<16>,
    price: Money,
    quantity: Quantity,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    limit: u32,
}

async fn add_line(Json(line): Json<NewLine>) -> Json<NewLine> {
    Json(line)
}

async fn get_line(Path(_id): Path<Uuid>, Query(page): Query<Page>) -> Result<String, ApiError> {
    if page.limit == 13 {
        return Err(ApiError::internal("connection reset by peer at 10.0.0.7"));
    }
    Ok(page.limit.to_string())
}

fn app(metrics: HttpMetrics) -> Router {
    let api = Router::new()
        .route("/api/v1/lines", post(add_line))
        .route("/api/v1/lines/{id}", get(get_line))
        .route(
            "/api/v1/whoami",
            get(|request: axum::extract::Request| async move {
                http::client_ip(request.extensions())
                    .map(|ip| ip.to_string())
                    .unwrap_or_default()
            }),
        );
    http::app(api, http::openapi([]), Readiness::new(), metrics)
}

async fn send(request: Request<Body>) -> (StatusCode, Option<String>, Vec<u8>) {
    let response = app(HttpMetrics::new()).oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, content_type, body)
}

fn post_json(body: &str) -> Request<Body> {
    Request::post("/api/v1/lines")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

async fn problem(request: Request<Body>) -> Problem {
    let (status, content_type, body) = send(request).await;
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let problem: Problem = serde_json::from_slice(&body).expect("a problem+json body");
    assert_eq!(problem.status, status.as_u16());
    assert_eq!(
        problem.problem_type,
        format!("urn:bazaar:problem:{}", problem.code)
    );
    problem
}

const GOOD: &str =
    r#"{"sku":"TEA-250","price":{"amount_minor":16500,"currency":"INR"},"quantity":"2"}"#;

#[tokio::test]
async fn a_valid_body_is_accepted() {
    let (status, _, body) = send(post_json(GOOD)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn malformed_json_is_400_malformed_json() {
    let problem = problem(post_json(r#"{"sku": "#)).await;
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (400, "malformed_json")
    );
}

#[tokio::test]
async fn an_unknown_field_is_422_invalid_body_naming_it() {
    let body = GOOD.replace(r#""sku""#, r#""discount":5,"sku""#);
    let problem = problem(post_json(&body)).await;
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (422, "invalid_body")
    );
    assert!(
        problem.errors[0]
            .message
            .contains("unknown field `discount`"),
        "{problem:?}"
    );
}

#[tokio::test]
async fn a_wrong_type_is_422_with_the_field_path() {
    // A float quantity: refused, floats lose precision.
    let body = GOOD.replace(r#""quantity":"2""#, r#""quantity":2.5"#);
    let problem = problem(post_json(&body)).await;
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (422, "invalid_body")
    );
    assert_eq!(problem.errors[0].field, "quantity");

    let body = GOOD.replace("16500", "\"16500\"");
    let problem = self::problem(post_json(&body)).await;
    assert_eq!(problem.errors[0].field, "price.amount_minor");
}

#[tokio::test]
async fn a_missing_field_is_422() {
    let problem = problem(post_json(r#"{"sku":"TEA-250"}"#)).await;
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (422, "invalid_body")
    );
    assert!(problem.detail.contains("missing field"), "{problem:?}");
}

#[tokio::test]
async fn a_body_without_json_content_type_is_415() {
    let request = Request::post("/api/v1/lines")
        .body(Body::from(GOOD))
        .unwrap();
    let problem = problem(request).await;
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (415, "unsupported_media_type")
    );
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let huge = format!(r#"{{"sku":"{}"}}"#, "x".repeat(3 * 1024 * 1024));
    let problem = problem(post_json(&huge)).await;
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (413, "payload_too_large")
    );
}

#[tokio::test]
async fn a_bad_path_parameter_is_400_invalid_path() {
    let request = Request::get("/api/v1/lines/not-a-uuid?limit=1")
        .body(Body::empty())
        .unwrap();
    let problem = problem(request).await;
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (400, "invalid_path")
    );
}

#[tokio::test]
async fn a_bad_query_string_is_400_invalid_query() {
    let uri = format!("/api/v1/lines/{}?limit=many", Uuid::new_v4());
    let problem = problem(Request::get(uri).body(Body::empty()).unwrap()).await;
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (400, "invalid_query")
    );
}

#[tokio::test]
async fn an_unknown_route_is_404_and_a_wrong_method_405() {
    let problem = self::problem(Request::get("/api/v1/nothing").body(Body::empty()).unwrap()).await;
    assert_eq!((problem.status, problem.code.as_str()), (404, "not_found"));
    let problem = self::problem(
        Request::delete("/api/v1/lines")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (405, "method_not_allowed")
    );
}

#[tokio::test]
async fn an_internal_error_is_500_without_its_cause() {
    let uri = format!("/api/v1/lines/{}?limit=13", Uuid::new_v4());
    let (status, _, body) = send(Request::get(uri.as_str()).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let text = String::from_utf8(body).unwrap();
    assert!(!text.contains("10.0.0.7"), "the cause leaked: {text}");
    let problem = self::problem(Request::get(uri).body(Body::empty()).unwrap()).await;
    assert_eq!(problem.code, "internal");
}

#[tokio::test]
async fn metrics_count_requests_per_route_template() {
    let metrics = HttpMetrics::new();
    let app = app(metrics.clone());
    for _ in 0..3 {
        let uri = format!("/api/v1/lines/{}?limit=1", Uuid::new_v4());
        app.clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
    }
    let response = app
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains(
            r#"http_requests_total{method="GET",route="/api/v1/lines/{id}",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"http_request_duration_seconds_count{method="GET",route="/api/v1/lines/{id}"} 3"#
    ));
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_describes_problems() {
    let (status, _, body) = send(
        Request::get("/api/v1/openapi.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let document: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(document["paths"]["/readyz"]["get"]["responses"]["503"].is_object());
    assert!(document["components"]["schemas"]["Problem"]["properties"]["code"].is_object());
}

#[tokio::test]
async fn healthz_answers_without_dependencies() {
    let (status, _, body) = send(Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, b"ok".as_slice())
    );
}

#[tokio::test]
async fn a_control_character_in_any_text_is_refused_before_the_handler() {
    // A NUL in a body became a 500 (PostgreSQL refuses it in text); an ESC sequence
    // would reach logs and receipt printers.
    for (body, field) in [
        (
            r#"{"sku":"TEA\u0000250","price":{"amount_minor":1,"currency":"INR"},"quantity":"2"}"#,
            "sku",
        ),
        (
            r#"{"sku":"TEA-250","price":{"amount_minor":1,"currency":"INR\u001b"},"quantity":"2"}"#,
            "price.currency",
        ),
    ] {
        let refused = problem(post_json(body)).await;
        assert_eq!(
            (
                refused.status,
                refused.code.as_str(),
                refused.errors[0].field.as_str()
            ),
            (422, "invalid_character", field),
            "{body}"
        );
    }
    // An escaped backslash before "u0000" is text, and so are tabs and line feeds.
    let (status, _, _) = send(post_json(
        r#"{"sku":"TEA\\u0000\t250\n","price":{"amount_minor":1,"currency":"INR"},"quantity":"2"}"#,
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    // In a query string or a path: 400.
    for uri in [
        format!("/api/v1/lines/{}?limit=%00", Uuid::new_v4()),
        "/api/v1/lines/%00?limit=5".to_owned(),
    ] {
        let refused = problem(Request::get(uri.as_str()).body(Body::empty()).unwrap()).await;
        assert_eq!(
            (refused.status, refused.code.as_str()),
            (400, "invalid_character"),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn no_text_or_list_is_unbounded() {
    // A field's own bound, in characters (not bytes), named in the OpenAPI document too.
    let sku = |sku: &str| {
        format!(r#"{{"sku":"{sku}","price":{{"amount_minor":1,"currency":"INR"}},"quantity":"2"}}"#)
    };
    let (status, _, _) = send(post_json(&sku(&"च".repeat(16)))).await;
    assert_eq!(status, StatusCode::OK);
    let refused = problem(post_json(&sku(&"x".repeat(17)))).await;
    assert_eq!(
        (
            refused.status,
            refused.code.as_str(),
            refused.errors[0].field.as_str()
        ),
        (422, "too_long", "sku")
    );
    assert_eq!(refused.errors[0].message, "at most 16 characters");
    // Every other text of every body: at most MAX_TEXT, whatever field it is in.
    let long = "x".repeat(http::MAX_TEXT + 1);
    let refused = problem(post_json(&format!(
        r#"{{"sku":"TEA","price":{{"amount_minor":1,"currency":"{long}"}},"quantity":"2"}}"#
    )))
    .await;
    assert_eq!(
        (
            refused.status,
            refused.code.as_str(),
            refused.errors[0].field.as_str()
        ),
        (422, "too_long", "price.currency")
    );
    // And no list, even one the handler would refuse as an unknown field, is endless.
    let items = vec!["1"; http::MAX_ITEMS + 1].join(",");
    let refused = problem(post_json(&format!(r#"{{"sku":"TEA","extra":[{items}]}}"#))).await;
    assert_eq!(
        (
            refused.status,
            refused.code.as_str(),
            refused.errors[0].field.as_str()
        ),
        (422, "too_many_items", "extra")
    );
    let document = serde_json::to_string(&<Text<16> as utoipa::PartialSchema>::schema()).unwrap();
    assert!(document.contains(r#""maxLength":16"#), "{document}");
}

#[tokio::test]
async fn made_up_methods_add_no_metric_series() {
    // Without a token, anyone could grow /metrics by a series per method they invent.
    let metrics = HttpMetrics::new();
    let app = app(metrics.clone());
    for n in 0..20 {
        let method = axum::http::Method::from_bytes(format!("SECPROBE{n}").as_bytes()).unwrap();
        let request = Request::builder()
            .method(method)
            .uri("/healthz")
            .body(Body::empty())
            .unwrap();
        app.clone().oneshot(request).await.unwrap();
    }
    let text = metrics.render();
    assert!(!text.contains("SECPROBE"), "{text}");
    let series = text
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .count();
    assert_eq!(series, 1, "one series for all of them: {text}");
    assert!(
        text.contains(r#"method="other",route="/healthz""#),
        "{text}"
    );
}

/// Sends raw HTTP/1.1 `request` on `stream` and reads one response: its head, lowercased,
/// and its body.
async fn exchange(stream: &mut tokio::net::TcpStream, request: &[u8]) -> (String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request).await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "the server closed the connection without answering");
        received.extend_from_slice(&buffer[..n]);
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = received[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0);
        body.extend_from_slice(&buffer[..n]);
    }
    (head, body)
}

/// Serves the test app on a loopback port with `limits` until the test ends.
async fn listen(limits: http::HttpLimits) -> std::net::SocketAddr {
    listen_behind(limits, http::TrustedProxies::default()).await
}

async fn listen_behind(
    limits: http::HttpLimits,
    trusted_proxies: http::TrustedProxies,
) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(http::serve_on(
        listener,
        app(HttpMetrics::new()),
        tokio_util::sync::CancellationToken::new(),
        std::time::Duration::ZERO,
        http::ServerOptions {
            limits,
            trusted_proxies,
        },
    ));
    addr
}

const PATIENT: http::HttpLimits = http::HttpLimits {
    header_timeout: std::time::Duration::from_secs(60),
    body_timeout: std::time::Duration::from_secs(60),
    max_connections: 100,
};

/// Waits up to 10 s for the server to end the connection, and returns what it sent
/// first; fails if the connection is still open then.
async fn ended(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut received),
    )
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    received
}

#[tokio::test]
async fn x_forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    let whoami =
        b"GET /api/v1/whoami HTTP/1.1\r\nhost: test\r\nx-forwarded-for: 203.0.113.9\r\n\r\n";
    let direct = listen(PATIENT).await;
    let mut stream = tokio::net::TcpStream::connect(direct).await.unwrap();
    let (_, body) = exchange(&mut stream, whoami).await;
    assert_eq!(body, b"127.0.0.1", "a header anyone can write is ignored");
    let proxied = listen_behind(PATIENT, http::TrustedProxies::parse("127.0.0.0/8").unwrap()).await;
    let mut stream = tokio::net::TcpStream::connect(proxied).await.unwrap();
    let (_, body) = exchange(&mut stream, whoami).await;
    assert_eq!(body, b"203.0.113.9");
}

#[tokio::test]
async fn a_client_slow_with_its_head_or_idle_between_requests_is_disconnected() {
    use tokio::io::AsyncWriteExt;
    let addr = listen(http::HttpLimits {
        header_timeout: std::time::Duration::from_millis(300),
        ..PATIENT
    })
    .await;
    // Connected and silent.
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    ended(&mut silent).await;
    // Half a head, then nothing (slowloris).
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: te")
        .await
        .unwrap();
    ended(&mut slow).await;
    // A kept-alive connection is served, then closed when no next request comes.
    let mut kept = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (head, _) = exchange(&mut kept, b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(ended(&mut kept).await.is_empty());
}

#[tokio::test]
async fn a_body_sent_too_slowly_is_answered_408_and_the_connection_closed() {
    use tokio::io::AsyncWriteExt;
    let addr = listen(http::HttpLimits {
        body_timeout: std::time::Duration::from_millis(300),
        ..PATIENT
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /api/v1/lines HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
              content-length: 100\r\n\r\n{\"sku\":",
        )
        .await
        .unwrap();
    let answer = String::from_utf8(ended(&mut stream).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.to_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(answer.contains(r#""code":"body_timeout""#), "{answer}");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_is_freed() {
    use tokio::io::AsyncReadExt;
    let addr = listen(http::HttpLimits {
        max_connections: 2,
        ..PATIENT
    })
    .await;
    let first = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _second = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The kernel completes the handshake; the server does not serve the request.
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    {
        use tokio::io::AsyncWriteExt;
        third
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .unwrap();
    }
    let mut buffer = [0_u8; 64];
    let early = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        third.read(&mut buffer),
    )
    .await;
    assert!(
        early.is_err(),
        "a third connection was served beyond a limit of two"
    );
    drop(first);
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), third.read(&mut buffer))
        .await
        .expect("served once a connection was freed")
        .unwrap();
    assert!(buffer[..n].starts_with(b"HTTP/1.1 200"));
}

#[tokio::test]
async fn a_request_refused_before_its_body_was_read_closes_its_connection_and_says_so() {
    let addr = listen(PATIENT).await;
    let post = |path: &str, content_type: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    let big = format!(r#"{{"padding":"{}"}}"#, "x".repeat(64 * 1024));
    // Refused unread: no route, and the wrong content type. Each says it closes.
    for (request, status) in [
        (post("/api/v1/nowhere", "application/json", &big), "404"),
        (post("/api/v1/lines", "text/plain", &big), "415"),
    ] {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (head, _) = exchange(&mut stream, &request).await;
        assert!(head.starts_with(&format!("http/1.1 {status}")), "{head}");
        assert!(head.contains("connection: close"), "{head}");
    }
    // A body that was read keeps the connection for the next request.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (head, _) = exchange(
        &mut stream,
        &post("/api/v1/lines", "application/json", GOOD),
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
    let (head, body) = exchange(&mut stream, b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, b"ok");
}
