//! `bazaar inventory expiry-scan`: the daily expiry alerts.

use bazaar_platform::{db, Settings};
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum InventoryCommand {
    /// Raise inventory.batch.expiring for every batch with stock that expires within
    /// --days (once per batch per day). Run it daily.
    ExpiryScan {
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
    },
}

pub(super) async fn run(settings: &Settings, command: InventoryCommand) -> anyhow::Result<()> {
    let InventoryCommand::ExpiryScan { days } = command;
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
