//! `bazaar outbox parked|retry`: the rows the relay set aside because the broker refuses
//! them, and sending them again once the cause is fixed.

use bazaar_platform::{db, outbox, Settings};

use crate::services;

/// Prints the parked rows of `databases` (every service's when empty).
pub(crate) async fn list(settings: &Settings, mut databases: Vec<String>) -> anyhow::Result<()> {
    if databases.is_empty() {
        databases = services::ALL.iter().map(|s| s.name.to_owned()).collect();
    }
    println!("database\tid\tevent_id\tevent_type\ttenant\tbytes\tparked_at\treason");
    let mut total = 0;
    for database in &databases {
        let pool = db::pool(settings, database).await?;
        for row in outbox::parked(&pool).await? {
            total += 1;
            println!(
                "{database}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                row.id,
                row.event_id,
                row.event_type,
                row.tenant_id,
                row.bytes,
                row.parked_at.to_rfc3339(),
                row.reason
            );
        }
    }
    eprintln!("{total} parked");
    Ok(())
}

/// Returns parked rows of `database` to the relay: `ids`, or every one with `all`.
pub(crate) async fn retry(
    settings: &Settings,
    database: &str,
    ids: Vec<i64>,
    all: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        all || !ids.is_empty(),
        "name the parked rows to retry by id, or pass --all"
    );
    let pool = db::pool(settings, database).await?;
    let retried = outbox::retry_parked(&pool, (!all).then_some(ids.as_slice())).await?;
    println!("{retried} parked rows of {database} returned to the relay");
    Ok(())
}
