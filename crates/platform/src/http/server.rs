//! The HTTP/1.1 server every process runs. A client holds a connection, a task and a file
//! descriptor for as long as the server lets it, so nothing here waits on a client
//! without a bound: the head of each request (and the wait for the next one on a kept
//! connection) has a deadline, the body has one (see `body`), and connections beyond a
//! limit wait in the listen backlog instead of being served.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{ConnectInfo, Request},
    middleware, Router,
};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

use super::{body, ClientIp, TrustedProxies};

/// How long a client may take over each stage of a request, and how many may connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// For a request's head, and for the next request on a kept-alive connection.
    pub header_timeout: Duration,
    /// For a request's body, from when its head arrived.
    pub body_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

/// What the server needs besides the routes: its limits, and whose `X-Forwarded-For` it
/// believes.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How long it waits on a client, and for how many.
    pub limits: HttpLimits,
    /// The load balancers in front of it.
    pub trusted_proxies: TrustedProxies,
}

/// Serves `app` on the configured address, with the configured limits and proxies, until
/// `shutdown` is cancelled, then lets in-flight requests finish for up to the grace.
pub async fn serve(
    settings: &crate::Settings,
    app: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(settings.http_addr).await?;
    serve_on(
        listener,
        app,
        shutdown,
        settings.shutdown_grace,
        settings.http_server.clone(),
    )
    .await
}

/// [`serve`] on a listener already bound (a test's port 0).
pub async fn serve_on(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    grace: Duration,
    options: ServerOptions,
) -> std::io::Result<()> {
    let ServerOptions {
        limits,
        trusted_proxies,
    } = options;
    tracing::info!(addr = %listener.local_addr()?, "http server listening");
    let app = app.layer(middleware::from_fn_with_state(
        limits.body_timeout,
        body::guard,
    ));
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    loop {
        if permits.available_permits() == 0 {
            tracing::warn!(
                limit = limits.max_connections,
                "connection limit reached; new connections wait to be accepted"
            );
        }
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: wait for some to be freed.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let trusted_proxies = trusted_proxies.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            let client = trusted_proxies.client(peer.ip(), request.headers());
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(ClientIp(client));
            app.clone().oneshot(request.map(Body::new))
        });
        let connection = http1
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = ended {
                tracing::debug!(%peer, %error, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    connections.close();
    tokio::select! {
        () = connections.wait() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!(grace_secs = grace.as_secs(), "in-flight requests outlived the grace period");
        }
    }
    Ok(())
}
