//! The scheduled expiry scan (`bazaar inventory expiry-scan`): raises
//! `inventory.batch.expiring` for each batch with stock that expires within the window,
//! once per batch per day however often the scan runs.

use bazaar_schemas::events;
use chrono::{Duration, NaiveDate};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    ledger::{self, decimal_text, item_key, LedgerError},
    store,
};

/// Scans every tenant for batches expiring within `days` of `today` and raises an alert
/// for each one not yet alerted today. Returns how many it raised.
pub async fn raise_expiry_alerts(
    pool: &PgPool,
    today: NaiveDate,
    days: u32,
) -> Result<usize, LedgerError> {
    let tenants: Vec<Uuid> = sqlx::query_scalar("SELECT tenant_id FROM tenants")
        .fetch_all(pool)
        .await?;
    let until = today + Duration::days(i64::from(days));
    let mut raised = 0;
    for tenant in tenants {
        let mut tx = bazaar_platform::db::begin_for_tenant(pool, tenant).await?;
        let locations: Vec<Uuid> = store::locations(&mut tx, tenant, i64::MAX, 0)
            .await?
            .into_iter()
            .map(|l| l.id.uuid())
            .collect();
        for batch in store::expiring(&mut tx, tenant, &locations, until, i64::MAX, 0).await? {
            let Some(expiry) = batch.expiry_date else {
                continue;
            };
            let first_today = sqlx::query(
                "INSERT INTO expiry_alerts (tenant_id, location_id, product_id, batch, alerted_on) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(tenant)
            .bind(batch.location_id)
            .bind(batch.product_id)
            .bind(&batch.batch)
            .bind(today)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !first_today {
                continue;
            }
            let alert = events::inventory::BatchExpiring {
                tenant_id: tenant,
                location_id: batch.location_id,
                product_id: batch.product_id,
                sku: batch.sku.clone(),
                batch: batch.batch.clone(),
                expiry_date: expiry.to_string(),
                on_hand: decimal_text(batch.on_hand),
                days_left: i32::try_from((expiry - today).num_days()).unwrap_or(i32::MIN),
                detected_at: bazaar_schemas::now_millis(),
            };
            let key = item_key(batch.location_id.into(), batch.product_id.into());
            ledger::event(&mut tx, tenant, &key, &alert).await?;
            raised += 1;
        }
        tx.commit().await?;
    }
    Ok(raised)
}
