//! Requests to a router inside the process: the demo seeder drives the services through
//! their own APIs (rules, events and all) this way, and tests do the same.

use std::net::{IpAddr, SocketAddr};

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{header, HeaderMap, Method, Request, StatusCode},
    Router,
};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A response from [`call`].
#[derive(Debug)]
pub struct LocalReply {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its JSON body; a text body (CSV) as a string; `Null` when there is none.
    pub body: serde_json::Value,
}

impl LocalReply {
    /// The problem code of an error reply, or "".
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// Sends one request to `app` as if from `peer`: a bearer `token`, a JSON `body` and
/// extra `headers`.
pub async fn call(
    app: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
    headers: &[(&str, &str)],
    peer: IpAddr,
) -> LocalReply {
    let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
    call_with(app, method, path, token, body, headers, peer).await
}

/// [`call`] with a body of any media type: `(content type, bytes)`.
pub async fn call_with(
    app: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
    headers: &[(&str, &str)],
    peer: IpAddr,
) -> LocalReply {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match body {
        Some((content_type, bytes)) => {
            request = request.header(header::CONTENT_TYPE, content_type);
            Body::from(bytes)
        }
        None => Body::empty(),
    };
    let mut request = match request.body(body) {
        Ok(request) => request,
        Err(err) => {
            return LocalReply {
                status: StatusCode::BAD_REQUEST,
                headers: HeaderMap::new(),
                body: serde_json::Value::String(err.to_string()),
            }
        }
    };
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(peer, 40000)));
    let Ok(response) = app.clone().oneshot(request).await;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) if !text.is_empty() => serde_json::Value::String(text),
            _ => serde_json::Value::Null,
        }
    });
    LocalReply {
        status,
        headers,
        body,
    }
}
