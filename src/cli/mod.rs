//! The command line: every command and its arguments, and which module runs it. One
//! module per command group; the mesh's long-running roles are in `mesh`.

mod analytics;
mod catalog;
pub(crate) mod catalog_file;
mod config;
mod dlq;
mod identity;
mod inventory;
mod mesh;
mod outbox;
mod parked;
mod topics;

use bazaar_platform::{telemetry, Settings};
use clap::{Parser, Subcommand};

use crate::{bench, demo, services};

#[derive(Parser)]
#[command(name = "bazaar", version, about = "Bazaar retail ERP")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
        command: topics::TopicsCommand,
    },
    /// Outbox rows the relay parked because the broker refuses them.
    Outbox {
        #[command(subcommand)]
        command: outbox::OutboxCommand,
    },
    /// Dead letters: events a projection could not apply.
    Dlq {
        #[command(subcommand)]
        command: outbox::DlqCommand,
    },
    /// Tenants, owners and token signing keys.
    Identity {
        #[command(subcommand)]
        command: identity::IdentityCommand,
    },
    /// The catalog as CSV, through a running Bazaar.
    Catalog {
        #[command(subcommand)]
        command: catalog::CatalogCommand,
    },
    /// Inventory's scheduled jobs.
    Inventory {
        #[command(subcommand)]
        command: inventory::InventoryCommand,
    },
    /// The ClickHouse analytics store.
    Analytics {
        #[command(subcommand)]
        command: analytics::AnalyticsCommand,
    },
    /// Seed the demo tenant (stores, owner) unless it exists, and print its login.
    Demo {
        #[command(subcommand)]
        command: Option<demo::DemoCommand>,
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
        command: bench::BenchCommand,
    },
}

#[derive(Subcommand)]
pub(crate) enum SchemasCommand {
    /// Print every event schema: its file, its CRC-64-AVRO fingerprint as written on the
    /// wire (the 8 bytes after `C3 01`, in hex) and its topic, one per line.
    List,
}

/// Runs `command` with `settings`, telemetry around it.
pub(crate) async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    let settings = match &command {
        Command::Serve { .. } => settings.connecting_as("bazaar serve"),
        Command::Relay { .. } => settings.connecting_as("bazaar relay").planning_once(),
        Command::Consume { projection, .. } => settings
            .connecting_as(&format!("bazaar consume {projection}"))
            .planning_once(),
        _ => settings.connecting_as("bazaar"),
    };
    let telemetry = telemetry::init(&settings, "bazaar")?;
    let settings = &settings;
    let result = match command {
        Command::Serve { services, all } => {
            mesh::serve(settings, &services::select(&services, all)?).await
        }
        Command::Migrate { services, all } => {
            mesh::migrate(settings, &services::select(&services, all)?).await
        }
        Command::Relay { databases } => mesh::relay(settings, databases).await,
        Command::Consume {
            projection,
            rebuild,
            patience_secs,
            ..
        } => mesh::consume(settings, &projection, rebuild.then_some(patience_secs)).await,
        Command::Replay {
            service,
            patience_secs,
        } => mesh::replay(settings, &service, patience_secs).await,
        Command::Topics {
            command:
                topics::TopicsCommand::Apply {
                    file,
                    replication_factor,
                },
        } => topics::run(settings, &file, replication_factor).await,
        Command::Outbox { command } => outbox::outbox(settings, command).await,
        Command::Dlq { command } => outbox::dlq(settings, command).await,
        Command::Bench { command } => bench::run(settings, command).await,
        Command::Identity { command } => identity::run(settings, command).await,
        Command::Catalog { command } => catalog::run(command).await,
        Command::Inventory { command } => inventory::run(settings, command).await,
        Command::Analytics { command } => analytics::run(settings, command).await,
        Command::Demo { command: None } => demo::seed(settings).await,
        Command::Demo {
            command: Some(demo::DemoCommand::Day(options)),
        } => demo::day::day(options).await,
        Command::Config => {
            // Reaching here means every value parsed.
            config::print_config();
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
