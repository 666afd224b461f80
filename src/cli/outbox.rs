//! `bazaar outbox parked|retry` and `bazaar dlq list|replay`: what the relay and the
//! consumers set aside, and sending it again.

use bazaar_platform::Settings;
use clap::Subcommand;

use super::{dlq, parked};

#[derive(Subcommand)]
pub(crate) enum OutboxCommand {
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
pub(crate) enum DlqCommand {
    /// Print the dead letters of a topic (`sales.events.v1` or `sales.events.v1.dlq`).
    List { topic: String },
    /// Re-publish, once, the dead letters of a topic to the topic they came from.
    Replay { topic: String },
}

/// `bazaar outbox ...`.
pub(super) async fn outbox(settings: &Settings, command: OutboxCommand) -> anyhow::Result<()> {
    match command {
        OutboxCommand::Parked { databases } => parked::list(settings, databases).await,
        OutboxCommand::Retry { database, ids, all } => {
            parked::retry(settings, &database, ids, all).await
        }
    }
}

/// `bazaar dlq ...`.
pub(super) async fn dlq(settings: &Settings, command: DlqCommand) -> anyhow::Result<()> {
    match command {
        DlqCommand::List { topic } => dlq::list(settings, &topic).await,
        DlqCommand::Replay { topic } => dlq::replay(settings, &topic).await,
    }
}
