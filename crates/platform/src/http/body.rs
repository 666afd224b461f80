//! A request refused before its body was read (a bad token, an unknown route, the wrong
//! content type) leaves that body on the connection. The server cannot find the next
//! request behind it and drops the connection, and a client that already sent its next
//! request on it sees "server disconnected". Such a response says `Connection: close`,
//! so clients open a new connection instead of losing a request.

use std::{
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{Context, Poll},
};

use axum::{
    body::{Body, Bytes},
    extract::Request,
    http::{header, HeaderValue},
    middleware::Next,
    response::Response,
};
use http_body::{Frame, SizeHint};

/// Marks the response `Connection: close` when the request's body was not read to its
/// end.
pub(super) async fn close_if_unread(request: Request, next: Next) -> Response {
    let empty = http_body::Body::is_end_stream(request.body());
    if empty {
        return next.run(request).await;
    }
    let read = Arc::new(AtomicBool::new(false));
    let (parts, body) = request.into_parts();
    let tracked = Tracked {
        inner: body,
        read: read.clone(),
    };
    let mut response = next
        .run(Request::from_parts(parts, Body::new(tracked)))
        .await;
    if !read.load(Ordering::Acquire) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A request body that records when it has been read to its end.
struct Tracked {
    inner: Body,
    read: Arc<AtomicBool>,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.read.store(true, Ordering::Release);
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
