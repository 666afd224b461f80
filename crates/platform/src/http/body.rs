//! What the server does about a request's body, whatever route it reached.
//!
//! A body sent too slowly holds a connection and a task for as long as the client likes:
//! it gets a deadline, and a request whose body misses it is answered 408 `body_timeout`.
//!
//! A request refused before its body was read (a bad token, an unknown route, the wrong
//! content type) leaves that body on the connection. The server cannot find the next
//! request behind it and drops the connection, and a client that already sent its next
//! request on it sees "server disconnected". Such a response says `Connection: close`,
//! so clients open a new connection instead of losing a request.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicU8, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{header, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http_body::{Frame, SizeHint};

use super::ApiError;
use super::PlatformCode;

/// The body is still being read.
const READING: u8 = 0;
/// The body was read to its end.
const READ: u8 = 1;
/// The deadline passed first.
const TIMED_OUT: u8 = 2;

/// Gives the body `deadline` to arrive, and marks the response `Connection: close` when
/// the body was not read to its end.
pub(super) async fn guard(
    State(deadline): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    if http_body::Body::is_end_stream(request.body()) {
        return next.run(request).await;
    }
    let state = Arc::new(AtomicU8::new(READING));
    let (parts, body) = request.into_parts();
    let timed = Timed {
        inner: body,
        deadline: Box::pin(tokio::time::sleep(deadline)),
        state: state.clone(),
    };
    let mut response = next.run(Request::from_parts(parts, Body::new(timed))).await;
    match state.load(Ordering::Acquire) {
        READ => {}
        TIMED_OUT => {
            response = ApiError::new(
                PlatformCode::BodyTimeout,
                format!(
                    "the request body did not arrive within {} s",
                    deadline.as_secs_f64()
                ),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        _ => {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    response
}

/// A request body that fails once its deadline passes, and records how it ended.
struct Timed {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    state: Arc<AtomicU8>,
}

impl http_body::Body for Timed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.state.store(READ, Ordering::Release);
            return polled;
        }
        if polled.is_pending() && self.deadline.as_mut().poll(cx).is_ready() {
            self.state.store(TIMED_OUT, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new("request body timed out"))));
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
