//! What a service's router is built from.

use std::sync::Arc;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{auth::Verifier, config::Settings};

/// Everything a service needs to serve requests.
#[derive(Clone)]
pub struct ServiceContext {
    /// The service's database, as the role under row-level security.
    pub pool: PgPool,
    /// Verifies the callers' access tokens.
    pub verifier: Arc<Verifier>,
    /// The process's settings.
    pub settings: Settings,
    /// Cancelled when the process stops: what a router starts in the background (the live
    /// POS feed) ends with it.
    pub shutdown: CancellationToken,
}

impl ServiceContext {
    /// A verifier of the tokens identity issues, with keys from `settings.jwks_url`.
    pub fn verifier(settings: &Settings) -> Arc<Verifier> {
        Arc::new(Verifier::new(
            &settings.token_issuer,
            &settings.token_audience,
            crate::auth::JwksUrl::new(&settings.jwks_url),
        ))
    }
}

/// A bounded context as the `bazaar` binary runs it: each service crate exports one, and
/// `serve`, `migrate`, `relay` and `consume` iterate them instead of naming services.
pub struct Service {
    /// Also the name of its database and of `migrations/<name>/`.
    pub name: &'static str,
    /// `sqlx::migrate!("../../migrations/<name>")`.
    pub migrator: fn() -> sqlx::migrate::Migrator,
    /// Its routes, each naming the roles it admits.
    pub router: fn(ServiceContext) -> axum::Router,
    /// Its part of the OpenAPI document.
    pub openapi: fn() -> utoipa::openapi::OpenApi,
    /// Every problem code its routes answer with besides the platform's: its `Code::ALL`.
    pub problems: &'static [crate::http::ProblemCode],
    /// The projections it builds from the topics in its database.
    pub consumers: &'static [Consumer],
    /// `bazaar replay <name>`: its own events folded again into fresh copies of the tables
    /// they describe and compared with the live ones; `None` while none of its tables is
    /// derived from its events.
    pub replay: Option<RebuildFromTopics>,
}

impl Service {
    /// Its part of the OpenAPI document, with its problem codes as the schema
    /// `<Name>ProblemCode`, so a client has them as an enum.
    pub fn document(&self) -> utoipa::openapi::OpenApi {
        let mut document = (self.openapi)();
        let mut name: Vec<char> = self.name.chars().collect();
        name[0] = name[0].to_ascii_uppercase();
        crate::http::document_problems(
            &mut document,
            &format!("{}ProblemCode", name.into_iter().collect::<String>()),
            self.problems,
        );
        document
    }
}

/// A projection as `bazaar consume <name>` runs and rebuilds it.
pub struct Consumer {
    /// Its consumer group, its name in `processed_events` and on the command line.
    pub name: &'static str,
    /// Runs it live on the service's pool until the token is cancelled ([`run`]).
    pub run: RunConsumer,
    /// What `--from-earliest --rebuild` does.
    pub rebuild: Rebuild,
}

/// How a projection is rebuilt from the earliest offsets.
pub enum Rebuild {
    /// Into fresh tables that are compared with the live ones and swapped in: the rows
    /// per table, and the differences found.
    From(RebuildFromTopics),
    /// It is not rebuilt, for the reason given.
    Never(&'static str),
}

impl Rebuild {
    /// A projection that keeps copies of other services' facts (a references consumer).
    pub const REFERENCE_COPIES: Rebuild =
        Rebuild::Never("keeps copies of other services' facts; it has nothing to rebuild");
}

/// How a [`Consumer`] runs: on the settings and pool given, reporting on the metrics,
/// until the token is cancelled.
pub type RunConsumer = fn(
    &Settings,
    PgPool,
    crate::consumer::ConsumerMetrics,
    CancellationToken,
) -> BoxFuture<'static, Result<(), crate::consumer::ConsumerError>>;

/// How [`Rebuild::From`] rebuilds: from the earliest offsets, waiting at most the
/// duration for the topics' ends.
pub type RebuildFromTopics =
    for<'a> fn(
        &'a Settings,
        &'a PgPool,
        std::time::Duration,
    )
        -> LocalBoxFuture<'a, Result<crate::rebuild::Rebuilt, crate::rebuild::RebuildError>>;

/// Boxed so a [`Consumer`] can hold it as a plain function pointer.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// [`BoxFuture`] for what runs on the caller's task: a rebuild is awaited, never spawned
/// (sqlx's futures are `Send` only for each lifetime, not for every one a pointer names).
pub type LocalBoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>;

/// [`Consumer::run`] for a projection built with `Default`.
pub fn run<P: crate::consumer::Projection + Default>(
    settings: &Settings,
    pool: PgPool,
    metrics: crate::consumer::ConsumerMetrics,
    stop: CancellationToken,
) -> BoxFuture<'static, Result<(), crate::consumer::ConsumerError>> {
    let runner =
        crate::consumer::ConsumerRunner::new(settings, pool, P::default()).with_metrics(metrics);
    Box::pin(runner.run(stop))
}

/// [`Service::replay`] for a [`TableProjection`] of a service's own events.
pub fn replay_tables<'a, P: TableProjection>(
    settings: &'a Settings,
    pool: &'a PgPool,
    patience: std::time::Duration,
) -> LocalBoxFuture<'a, Result<crate::rebuild::Rebuilt, crate::rebuild::RebuildError>> {
    Box::pin(crate::rebuild::replay(
        settings,
        pool,
        P::default(),
        P::TABLES,
        patience,
    ))
}

/// A projection whose whole state is its `TABLES`: rebuilt into fresh copies of them.
pub trait TableProjection: crate::consumer::Projection + Default {
    /// The tables it builds.
    const TABLES: &'static [&'static str];
}

/// [`Rebuild::From`] for a [`TableProjection`].
pub fn rebuild_tables<'a, P: TableProjection>(
    settings: &'a Settings,
    pool: &'a PgPool,
    patience: std::time::Duration,
) -> LocalBoxFuture<'a, Result<crate::rebuild::Rebuilt, crate::rebuild::RebuildError>> {
    Box::pin(crate::rebuild::rebuild(
        settings,
        pool,
        P::default(),
        P::TABLES,
        patience,
    ))
}

/// A service's own tables as a fold of its own events: what `bazaar replay <service>`
/// runs as a [`Documents`]. It never runs live: the handlers write the same rows in the
/// transaction that raises the events.
pub trait DocumentFold: Send + Sync + 'static {
    /// Its name in `processed_events` and the replay's schema.
    const NAME: &'static str;
    /// The service's own topic.
    const TOPIC: &'static str;
    /// The tables the events describe.
    const TABLES: &'static [&'static str];
    /// The event types that write them.
    const EVENT_TYPES: &'static [&'static str];

    /// Writes what `event` says into the tables, with the handlers' own SQL where it can.
    fn apply(
        tx: &mut sqlx::PgConnection,
        event: &crate::consumer::ConsumedEvent,
    ) -> impl std::future::Future<Output = Result<(), crate::consumer::ProjectionError>> + Send;
}

/// The [`Projection`](crate::consumer::Projection) of a [`DocumentFold`].
pub struct Documents<D> {
    topics: Vec<String>,
    fold: std::marker::PhantomData<fn() -> D>,
}

impl<D: DocumentFold> Default for Documents<D> {
    fn default() -> Self {
        Self::reading(vec![D::TOPIC.to_owned()])
    }
}

impl<D: DocumentFold> Documents<D> {
    /// The fold over other topics than the service's own (tests use their own).
    pub fn reading(topics: Vec<String>) -> Self {
        Self {
            topics,
            fold: std::marker::PhantomData,
        }
    }
}

impl<D: DocumentFold> crate::consumer::Projection for Documents<D> {
    fn name(&self) -> &str {
        D::NAME
    }

    fn topics(&self) -> Vec<String> {
        self.topics.clone()
    }

    fn event_types(&self) -> &[&'static str] {
        D::EVENT_TYPES
    }

    fn apply(
        &self,
        tx: &mut sqlx::PgConnection,
        event: &crate::consumer::ConsumedEvent,
    ) -> impl std::future::Future<Output = Result<(), crate::consumer::ProjectionError>> + Send
    {
        D::apply(tx, event)
    }
}

impl<D: DocumentFold> TableProjection for Documents<D> {
    const TABLES: &'static [&'static str] = D::TABLES;
}
