//! The mesh's long-running roles and their maintenance: `serve`, `migrate`, `relay`,
//! `consume` (and its rebuild) and `replay`.

use axum::Router;
use bazaar_outbox_worker::{Relay, RelayMetrics};
use bazaar_platform::{
    consumer::ConsumerMetrics,
    db,
    http::{self, HttpMetrics, Readiness},
    kafka::KafkaProbe,
    service::Rebuild,
    shutdown, ServiceContext, Settings,
};

use crate::services;

pub(super) async fn serve(
    settings: &Settings,
    selected: &[&services::Service],
) -> anyhow::Result<()> {
    let shutdown = shutdown::on_signal();
    let mut readiness = Readiness::new().kafka(KafkaProbe::new(settings)?);
    let mut api = Router::new();
    let mut documents = Vec::new();
    let verifier = ServiceContext::verifier(settings);
    for service in selected {
        db::prepare(settings, service.name, (service.migrator)())
            .await?
            .close()
            .await;
        let pool = db::app_pool(settings, service.name).await?;
        readiness = readiness.database(service.name, pool.clone());
        api = api.merge((service.router)(ServiceContext {
            pool,
            verifier: verifier.clone(),
            settings: settings.clone(),
            shutdown: shutdown.clone(),
        }));
        documents.push(service.document());
    }
    if selected.is_empty() {
        // Nothing of our own to serve yet; readiness still proves the server answers.
        readiness = readiness.database("postgres", db::pool(settings, "postgres").await?);
    }
    let app = http::app(api, http::openapi(documents), readiness, HttpMetrics::new());
    http::serve(settings, app, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

pub(super) async fn migrate(
    settings: &Settings,
    selected: &[&services::Service],
) -> anyhow::Result<()> {
    if selected.is_empty() {
        out!("no services to migrate");
    }
    for service in selected {
        db::prepare(settings, service.name, (service.migrator)())
            .await?
            .close()
            .await;
        out!("migrated {}", service.name);
    }
    Ok(())
}

pub(super) async fn relay(settings: &Settings, mut databases: Vec<String>) -> anyhow::Result<()> {
    if databases.is_empty() {
        databases = services::ALL.iter().map(|s| s.name.to_owned()).collect();
    }
    anyhow::ensure!(
        !databases.is_empty(),
        "no database to relay: no service exists yet; name one with --database"
    );
    let shutdown = shutdown::on_signal();
    let metrics = HttpMetrics::new();
    let relay_metrics = RelayMetrics::new(metrics.registry());
    let mut readiness = Readiness::new().kafka(KafkaProbe::new(settings)?);
    let mut relays = tokio::task::JoinSet::new();
    for database in &databases {
        let pool = db::pool(settings, database).await?;
        readiness = readiness.database(database.clone(), pool.clone());
        let relay = Relay::new(database, pool, settings.clone(), relay_metrics.clone());
        let shutdown = shutdown.clone();
        relays.spawn(async move { relay.run(shutdown).await });
    }
    let app = http::app(Router::new(), http::openapi([]), readiness, metrics);
    http::serve(settings, app, shutdown).await?;
    // Each relay flushes its producer and releases its lease.
    while relays.join_next().await.is_some() {}
    tracing::info!("relay stopped");
    Ok(())
}

/// Runs a projection, or rebuilds it when `rebuild` gives the patience in seconds.
pub(super) async fn consume(
    settings: &Settings,
    projection: &str,
    rebuild: Option<u64>,
) -> anyhow::Result<()> {
    let patience = rebuild.map(std::time::Duration::from_secs);
    if projection == bazaar_analytics::ingest::NAME {
        use bazaar_analytics::ingest::{AnalyticsIngest, TOPICS};
        use bazaar_platform::consumer::{BatchRunner, Batching};
        anyhow::ensure!(
            patience.is_none(),
            "{projection} is rebuilt by dropping the database and reading from the start"
        );
        let database = &settings.clickhouse_database;
        bazaar_analytics::migrate::migrate(settings, database).await?;
        let client = bazaar_platform::clickhouse::client(settings, database);
        let ingest = AnalyticsIngest::new(client, vec![TOPICS.to_owned()]);
        let batching = Batching {
            max_events: 50_000,
            max_wait: std::time::Duration::from_secs(1),
        };
        let runner = BatchRunner::new(settings, ingest, batching);
        return serve_consumer(settings, None, |m, stop| runner.with_metrics(m).run(stop)).await;
    }
    let (service, consumer) = services::consumer(projection).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown projection {projection:?}; known projections: {}",
            services::consumer_names().join(", ")
        )
    })?;
    let pool = db::prepare(settings, service.name, (service.migrator)()).await?;
    match (patience, &consumer.rebuild) {
        (None, _) => {
            serve_consumer(settings, Some((service.name, pool.clone())), |m, stop| {
                (consumer.run)(settings, pool, m, stop)
            })
            .await
        }
        (Some(_), Rebuild::Never(why)) => anyhow::bail!("{projection} {why}"),
        (Some(patience), Rebuild::From(rebuild)) => {
            let rebuilt = rebuild(settings, &pool, patience).await?;
            for (table, rows) in &rebuilt.rows {
                out!("rebuilt {table}: {rows} rows, swapped in");
            }
            report_differences(&rebuilt.differences);
            Ok(())
        }
    }
}

/// Runs a consumer until a signal, serving `/readyz` (Kafka and its database) and
/// `/metrics` (its lag and dead letters) on BAZAAR_HTTP_ADDR meanwhile.
async fn serve_consumer<F, Running>(
    settings: &Settings,
    database: Option<(&str, sqlx::PgPool)>,
    run: F,
) -> anyhow::Result<()>
where
    F: FnOnce(ConsumerMetrics, tokio_util::sync::CancellationToken) -> Running,
    Running: std::future::Future<Output = Result<(), bazaar_platform::consumer::ConsumerError>>,
{
    let shutdown = shutdown::on_signal();
    let metrics = HttpMetrics::new();
    let consumer_metrics = ConsumerMetrics::new(metrics.registry());
    let mut readiness = Readiness::new().kafka(KafkaProbe::new(settings)?);
    if let Some((name, pool)) = database {
        readiness = readiness.database(name, pool);
    }
    let app = http::app(Router::new(), http::openapi([]), readiness, metrics);
    let server = {
        let (settings, shutdown) = (settings.clone(), shutdown.clone());
        tokio::spawn(async move { http::serve(&settings, app, shutdown).await })
    };
    let consumed = run(consumer_metrics, shutdown.clone()).await;
    shutdown.cancel();
    server.await??;
    Ok(consumed?)
}

/// `bazaar replay <service>`.
pub(super) async fn replay(
    settings: &Settings,
    service: &str,
    patience_secs: u64,
) -> anyhow::Result<()> {
    let service = services::select(&[service.to_owned()], false)?[0];
    let replay = service.replay.ok_or_else(|| {
        anyhow::anyhow!(
            "{} has no replay yet: none of its tables is derived from its events",
            service.name
        )
    })?;
    let pool = db::prepare(settings, service.name, (service.migrator)()).await?;
    let patience = std::time::Duration::from_secs(patience_secs);
    let replayed = replay(settings, &pool, patience).await?;
    for (table, rows) in &replayed.rows {
        out!("replayed {table}: {rows} rows");
    }
    report_differences(&replayed.differences);
    anyhow::ensure!(
        replayed.differences.is_empty(),
        "{}'s tables are not what its events say",
        service.name
    );
    Ok(())
}

fn report_differences(differences: &[String]) {
    for difference in differences {
        out!("differed: {difference}");
    }
    out!("{} differences from the live tables", differences.len());
}
