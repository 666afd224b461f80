//! `bazaar`: one binary, many roles. The container image is the same for every
//! deployment; only the arguments differ.

/// Prints a line of command output. A closed pipe (`bazaar config | head -2`) ends the
/// command quietly, where `println!` would panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(err) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if err.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

mod bench;
mod bench_analytics;
mod bench_barcode;
mod bench_import;
mod bench_pos;
mod catalog_file;
mod client;
mod demo;
mod demo_day;
mod dlq;
mod parked;
mod services;
mod topics;

use std::{path::PathBuf, process::ExitCode};

use axum::Router;
use bazaar_outbox_worker::{Relay, RelayMetrics};
use bazaar_platform::{
    config::VARIABLES,
    consumer::ConsumerMetrics,
    db,
    http::{self, HttpMetrics, Readiness},
    kafka::KafkaProbe,
    service::Rebuild,
    shutdown, telemetry, ServiceContext, Settings,
};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bazaar", version, about = "Bazaar retail ERP")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API of some services, or of all of them in one process.
    Serve {
        /// Services to serve, e.g. `catalog inventory`.
        services: Vec<String>,
        /// Serve every service.
        #[arg(long, conflicts_with = "services")]
        all: bool,
    },
    /// Create each service's database if missing and apply its migrations.
    Migrate {
        /// Services to migrate.
        services: Vec<String>,
        /// Migrate every service.
        #[arg(long, conflicts_with = "services")]
        all: bool,
    },
    /// Publish the outbox of service databases to Kafka (one active relay per database;
    /// more stand by).
    Relay {
        /// Databases to relay; every service's database if none is named.
        #[arg(long = "database")]
        databases: Vec<String>,
    },
    /// Build a projection from the topics until stopped: `inventory-snapshots`,
    /// `partner-ledgers`, `purchase-references`, `sales-references`, `finance-ledger`,
    /// `analytics-clickhouse`.
    Consume {
        /// The projection (its consumer group).
        projection: String,
        /// With --rebuild: read the projection's source from the first offset.
        #[arg(long, requires = "rebuild")]
        from_earliest: bool,
        /// Rebuild the projection into fresh tables from the earliest offset, report
        /// where they differ from the live ones, swap them in, and exit.
        #[arg(long, requires = "from_earliest")]
        rebuild: bool,
        /// How long a rebuild waits for the topic to deliver the ledger's last movement.
        #[arg(long, default_value_t = 300)]
        patience_secs: u64,
    },
    /// Fold a service's own events from the first offset into fresh copies of the tables
    /// they describe, report where they differ from the live ones (which stay), and exit
    /// non-zero if they do.
    Replay {
        /// The service, e.g. `purchase`.
        service: String,
        /// How long to wait for the topic to deliver its last event.
        #[arg(long, default_value_t = 300)]
        patience_secs: u64,
    },
    /// Kafka topics.
    Topics {
        #[command(subcommand)]
        command: TopicsCommand,
    },
    /// Outbox rows the relay parked because the broker refuses them.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Dead letters: events a projection could not apply.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Tenants, owners and token signing keys.
    Identity {
        #[command(subcommand)]
        command: IdentityCommand,
    },
    /// The catalog as CSV, through a running Bazaar.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Inventory's scheduled jobs.
    Inventory {
        #[command(subcommand)]
        command: InventoryCommand,
    },
    /// The ClickHouse analytics store.
    Analytics {
        #[command(subcommand)]
        command: AnalyticsCommand,
    },
    /// Seed the demo tenant (stores, owner) unless it exists, and print its login.
    Demo {
        #[command(subcommand)]
        command: Option<DemoCommand>,
    },
    /// Print the configuration variables, their values and what they expect.
    Config,
    /// Print the services this binary runs, one per line.
    Services,
    /// The Avro event catalogue.
    Schemas {
        #[command(subcommand)]
        command: SchemasCommand,
    },
    /// Measure throughput and latency; prints figures.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum SchemasCommand {
    /// Print every event schema: its file, its CRC-64-AVRO fingerprint as written on the
    /// wire (the 8 bytes after `C3 01`, in hex) and its topic, one per line.
    List,
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Create or update products from a CSV file, matched by SKU (the columns of
    /// `export`). Any bad row and nothing is imported, unless --partial.
    Import {
        file: PathBuf,
        /// Import the good rows and report the bad ones.
        #[arg(long)]
        partial: bool,
        #[command(flatten)]
        login: client::Login,
    },
    /// Write every active product as CSV, to --out or stdout.
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        login: client::Login,
    },
}

#[derive(Subcommand)]
enum InventoryCommand {
    /// Raise inventory.batch.expiring for every batch with stock that expires within
    /// --days (once per batch per day). Run it daily.
    ExpiryScan {
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
    },
}

#[derive(Subcommand)]
enum AnalyticsCommand {
    /// Create the ClickHouse database (BAZAAR_CLICKHOUSE_DATABASE) if missing and apply
    /// the migrations of analytics/clickhouse/ it has not had.
    Migrate,
    /// Run a dashboard panel's query and print its table, for people without Grafana.
    Query {
        /// `<dashboard>.<panel>`, e.g. `sales.revenue`; see --list.
        #[arg(required_unless_present = "list")]
        name: Option<String>,
        /// List the queries and exit.
        #[arg(long)]
        list: bool,
        /// The tenant (`$tenant`).
        #[arg(long, required_unless_present = "list")]
        tenant: Option<uuid::Uuid>,
        /// One store (`$store`); every store when left out.
        #[arg(long)]
        store: Option<uuid::Uuid>,
        /// First day of the range (UTC); default: 7 days before --to.
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last day of the range (UTC); default: today.
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
    },
}

#[derive(Subcommand)]
enum IdentityCommand {
    /// Create a tenant (a retail chain), its stores and its owner, and the first token
    /// signing key if there is none.
    Bootstrap {
        /// What users type at login: lowercase letters, digits and dashes.
        #[arg(long)]
        slug: String,
        /// The chain's display name.
        #[arg(long)]
        name: String,
        /// The owner's email.
        #[arg(long)]
        email: String,
        /// The owner's password (10 to 128 characters).
        #[arg(long, env = "BAZAAR_BOOTSTRAP_PASSWORD", hide_env_values = true)]
        password: String,
        /// A store to open, as CODE=Name; repeat for more.
        #[arg(long = "store", value_parser = parse_store)]
        stores: Vec<(String, String)>,
    },
    /// Add a token signing key; it signs after --publish-delay-secs, and keys whose
    /// tokens have all expired are retired. Run it on a schedule (e.g. monthly).
    RotateKey {
        /// How long the new key is published before it signs; longer than the
        /// verifiers' key refresh cooldown (30 s).
        #[arg(long, default_value_t = 60)]
        publish_delay_secs: u64,
    },
}

fn parse_store(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((code, name)) if !code.trim().is_empty() && !name.trim().is_empty() => {
            Ok((code.trim().to_owned(), name.trim().to_owned()))
        }
        _ => Err(format!("{value:?} is not CODE=Name")),
    }
}

#[derive(Subcommand)]
enum DlqCommand {
    /// Print the dead letters of a topic (`sales.events.v1` or `sales.events.v1.dlq`).
    List { topic: String },
    /// Re-publish, once, the dead letters of a topic to the topic they came from.
    Replay { topic: String },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// List the parked rows of every service database, or of those named.
    Parked {
        #[arg(long = "database")]
        databases: Vec<String>,
    },
    /// Send parked rows again once their cause is fixed: the ids given, or all.
    Retry {
        /// The service database, e.g. `sales`.
        #[arg(long)]
        database: String,
        /// Outbox row ids, as `bazaar outbox parked` lists them.
        ids: Vec<i64>,
        /// Every parked row of the database.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
}

#[derive(Subcommand)]
enum DemoCommand {
    /// A cashier's full day at a demo till over the API of a running mesh (./dev up):
    /// sales, held bills, a credit sale, a return, an offline batch and the day close.
    Day(demo_day::Day),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The outbox relay: backlog drain, steady-state latency, and a naive relay.
    Relay(bench::RelayBench),
    /// Barcode lookups (the POS scan) over HTTP against a running Bazaar.
    Barcode(bench_barcode::BarcodeBench),
    /// Catalog CSV import of N products (default 100,000) into a fresh tenant of a
    /// running Bazaar, then the same file again.
    CatalogImport(bench_import::ImportBench),
    /// POS checkouts at fixed rates against a running mesh (./dev up).
    Pos(bench_pos::PosBench),
    /// The ClickHouse ingest: a backlog's events/s and rows/s, then acknowledged-to-visible
    /// freshness at a steady rate.
    Analytics(bench_analytics::AnalyticsBench),
}

#[derive(Subcommand)]
enum TopicsCommand {
    /// Create missing topics and report (without changing) topics that drifted.
    Apply {
        /// The topics file.
        #[arg(long, default_value = "topics/topics.toml")]
        file: PathBuf,
        /// Overrides the file's replication factor (e.g. 3 on a production cluster).
        #[arg(long)]
        replication_factor: Option<i32>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("bazaar: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let result = runtime.block_on(run(cli.command, settings));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bazaar: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    let settings = match &command {
        Command::Serve { .. } => settings.connecting_as("bazaar serve"),
        Command::Relay { .. } => settings.connecting_as("bazaar relay").planning_once(),
        Command::Consume { projection, .. } => settings
            .connecting_as(&format!("bazaar consume {projection}"))
            .planning_once(),
        _ => settings.connecting_as("bazaar"),
    };
    let telemetry = telemetry::init(&settings, "bazaar")?;
    let result = match command {
        Command::Serve { services, all } => {
            serve(&settings, &services::select(&services, all)?).await
        }
        Command::Migrate { services, all } => {
            migrate(&settings, &services::select(&services, all)?).await
        }
        Command::Relay { databases } => relay(&settings, databases).await,
        Command::Consume {
            projection,
            rebuild,
            patience_secs,
            ..
        } => consume(&settings, &projection, rebuild.then_some(patience_secs)).await,
        Command::Replay {
            service,
            patience_secs,
        } => replay(&settings, &service, patience_secs).await,
        Command::Topics {
            command:
                TopicsCommand::Apply {
                    file,
                    replication_factor,
                },
        } => apply_topics(&settings, &file, replication_factor).await,
        Command::Outbox {
            command: OutboxCommand::Parked { databases },
        } => parked::list(&settings, databases).await,
        Command::Outbox {
            command: OutboxCommand::Retry { database, ids, all },
        } => parked::retry(&settings, &database, ids, all).await,
        Command::Dlq {
            command: DlqCommand::List { topic },
        } => dlq::list(&settings, &topic).await,
        Command::Dlq {
            command: DlqCommand::Replay { topic },
        } => dlq::replay(&settings, &topic).await,
        Command::Bench {
            command: BenchCommand::Relay(options),
        } => bench::relay(&settings, options).await,
        Command::Bench {
            command: BenchCommand::Barcode(options),
        } => bench_barcode::barcode(options).await,
        Command::Bench {
            command: BenchCommand::CatalogImport(options),
        } => bench_import::catalog_import(&settings, options).await,
        Command::Bench {
            command: BenchCommand::Pos(options),
        } => bench_pos::pos(&settings, options).await,
        Command::Bench {
            command: BenchCommand::Analytics(options),
        } => bench_analytics::analytics(&settings, options).await,
        Command::Identity { command } => identity(&settings, command).await,
        Command::Catalog { command } => catalog(command).await,
        Command::Inventory {
            command: InventoryCommand::ExpiryScan { days },
        } => expiry_scan(&settings, days).await,
        Command::Analytics {
            command: AnalyticsCommand::Migrate,
        } => {
            let database = &settings.clickhouse_database;
            let applied = bazaar_analytics::migrate::migrate(&settings, database).await?;
            out!("analytics: {database} migrated; applied now: {applied:?}");
            Ok(())
        }
        Command::Analytics {
            command:
                AnalyticsCommand::Query {
                    name,
                    list,
                    tenant,
                    store,
                    from,
                    to,
                },
        } => analytics_query(&settings, name, list, tenant, store, from, to).await,
        Command::Demo { command: None } => demo::seed(&settings).await,
        Command::Demo {
            command: Some(DemoCommand::Day(options)),
        } => demo_day::day(options).await,
        Command::Config => {
            // Reaching here means every value parsed.
            print_config();
            Ok(())
        }
        Command::Services => {
            services::ALL.iter().for_each(|s| out!("{}", s.name));
            Ok(())
        }
        Command::Schemas {
            command: SchemasCommand::List,
        } => {
            for schema in bazaar_schemas::Catalogue::embedded().iter() {
                out!(
                    "{}.avsc {} {}.events.v1",
                    schema.dataschema(),
                    bazaar_schemas::hex(&schema.fingerprint),
                    schema.domain()
                );
            }
            Ok(())
        }
    };
    telemetry.shutdown();
    result
}

async fn serve(settings: &Settings, selected: &[&services::Service]) -> anyhow::Result<()> {
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
        documents.push((service.openapi)());
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

async fn relay(settings: &Settings, mut databases: Vec<String>) -> anyhow::Result<()> {
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

/// `bazaar analytics query`.
async fn analytics_query(
    settings: &Settings,
    name: Option<String>,
    list: bool,
    tenant: Option<uuid::Uuid>,
    store: Option<uuid::Uuid>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
) -> anyhow::Result<()> {
    use bazaar_analytics::queries;
    if list {
        for panel in queries::panels()? {
            out!("{:<45} {}", panel.name, panel.title);
        }
        return Ok(());
    }
    let (Some(name), Some(tenant)) = (name, tenant) else {
        anyhow::bail!("name a query and --tenant, or ask for --list");
    };
    let to = to.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let from = from.unwrap_or(to - chrono::Duration::days(7));
    anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    let view = queries::View {
        from: from.and_time(chrono::NaiveTime::MIN).and_utc(),
        to: to.and_hms_opt(23, 59, 59).unwrap_or_default().and_utc(),
        tenant,
        store,
    };
    let panel = queries::panel(&name)?;
    let sql = queries::expand(&panel.sql, &view)?;
    let table = queries::run(
        &settings.clickhouse_url,
        &settings.clickhouse_database,
        &sql,
    )
    .await?;
    out!("{} ({from} to {to})\n{table}", panel.title);
    Ok(())
}

/// Runs a projection, or rebuilds it when `rebuild` gives the patience in seconds.
async fn consume(
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
async fn replay(settings: &Settings, service: &str, patience_secs: u64) -> anyhow::Result<()> {
    let service = services::select(&[service.to_owned()], false)?[0];
    let replay = service.replay.ok_or_else(|| {
        anyhow::anyhow!(
            "{}'s documents are not all derived from its events yet",
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

async fn catalog(command: CatalogCommand) -> anyhow::Result<()> {
    match command {
        CatalogCommand::Import {
            file,
            partial,
            login,
        } => {
            let client = client::Client::login(&login, 1).await?;
            let imported = catalog_file::import(&client, &file, partial, true).await?;
            let report = &imported.report;
            out!(
                "{}: {} rows in {:.1} s: {} created, {} updated, {} unchanged, {} rejected",
                file.display(),
                report["rows"],
                imported.elapsed.as_secs_f64(),
                report["created"],
                report["updated"],
                report["unchanged"],
                report["rejected"]
            );
            for error in report["errors"].as_array().into_iter().flatten() {
                out!(
                    "{}: line {}, column {}: {}: {}",
                    file.display(),
                    error["line"],
                    error["column"].as_str().unwrap_or(""),
                    error["code"].as_str().unwrap_or(""),
                    error["message"].as_str().unwrap_or("")
                );
            }
            anyhow::ensure!(
                report["rejected"].as_u64() == Some(0),
                "{} rows were left out",
                report["rejected"]
            );
        }
        CatalogCommand::Export { out, login } => {
            let client = client::Client::login(&login, 1).await?;
            let written = catalog_file::export(&client, out.as_deref()).await?;
            if let Some(path) = out {
                out!("{}: {written} bytes", path.display());
            }
        }
    }
    Ok(())
}

async fn expiry_scan(settings: &Settings, days: u32) -> anyhow::Result<()> {
    let pool = db::prepare(
        settings,
        bazaar_inventory::SERVICE,
        bazaar_inventory::migrator(),
    )
    .await?;
    let today = chrono::Utc::now().date_naive();
    let raised = bazaar_inventory::alerts::raise_expiry_alerts(&pool, today, days).await?;
    out!("{raised} expiring batches alerted (within {days} days of {today})");
    Ok(())
}

async fn identity(settings: &Settings, command: IdentityCommand) -> anyhow::Result<()> {
    let pool = db::prepare(
        settings,
        bazaar_identity::SERVICE,
        bazaar_identity::migrator(),
    )
    .await?;
    match command {
        IdentityCommand::Bootstrap {
            slug,
            name,
            email,
            password,
            stores,
        } => {
            let request = bazaar_identity::Bootstrap {
                slug: slug.clone(),
                name,
                email: email.clone(),
                password,
                stores: stores.clone(),
            };
            let created = bazaar_identity::bootstrap(&pool, request).await?;
            out!("tenant {slug} created: {}", created.tenant);
            out!("owner  {email}: {}", created.owner);
            for ((code, _), id) in stores.iter().zip(&created.stores) {
                out!("store  {code}: {id}");
            }
        }
        IdentityCommand::RotateKey { publish_delay_secs } => {
            let rotation = bazaar_identity::keys::rotate(
                &pool,
                std::time::Duration::from_secs(publish_delay_secs),
            )
            .await?;
            out!(
                "key {} published; it signs from {}",
                rotation.kid,
                rotation.signs_from.to_rfc3339()
            );
            for kid in rotation.retired {
                out!("key {kid} retired");
            }
        }
    }
    pool.close().await;
    Ok(())
}

async fn migrate(settings: &Settings, selected: &[&services::Service]) -> anyhow::Result<()> {
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

async fn apply_topics(
    settings: &Settings,
    file: &std::path::Path,
    replication_factor: Option<i32>,
) -> anyhow::Result<()> {
    let mut specs = topics::load(file)?;
    if let Some(factor) = replication_factor {
        anyhow::ensure!(factor >= 1, "--replication-factor must be at least 1");
        specs.iter_mut().for_each(|s| s.replication_factor = factor);
    }
    let outcomes = topics::apply(settings, &specs).await?;
    let count = |f: fn(&topics::Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
    for (name, outcome) in &outcomes {
        out!("{name:<32} {outcome}");
    }
    out!(
        "{} created, {} unchanged, {} drifted",
        count(|o| matches!(o, topics::Outcome::Created)),
        count(|o| matches!(o, topics::Outcome::Unchanged)),
        count(|o| matches!(o, topics::Outcome::Drifted(_))),
    );
    Ok(())
}

fn print_config() {
    for (variable, default, expected) in VARIABLES {
        let value = std::env::var(variable).ok().filter(|v| !v.is_empty());
        let shown = match (&value, default) {
            (Some(v), _) => redact(v),
            (None, Some(d)) => format!("{d} (default)"),
            (None, None) => "(unset)".to_owned(),
        };
        out!("{variable:<30} {shown}\n{:<30} {expected}", "");
    }
}

/// Hides the password of a URL.
fn redact(value: &str) -> String {
    match (value.find("://"), value.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &value[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &value[..scheme + 3], &value[at..]),
                None => value.to_owned(),
            }
        }
        _ => value.to_owned(),
    }
}
