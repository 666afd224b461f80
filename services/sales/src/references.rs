//! `sales-references`: what the till needs to know of other services, from their topics:
//! products with their prices, GST and barcodes (catalog), and customers with the state
//! their goods go to (partners), and the tenant's stores (identity).

use bazaar_platform::{
    consumer::{unhandled, ConsumedEvent, Projection, ProjectionError},
    stores,
};
use bazaar_schemas::{events, Event as _};
use sqlx::PgConnection;
use uuid::Uuid;

/// The projection's consumer group and name in `processed_events`.
pub const NAME: &str = "sales-references";

/// Keeps sales' copies of products and customers.
pub struct SalesReferences {
    topics: Vec<String>,
}

impl Default for SalesReferences {
    fn default() -> Self {
        Self::reading(
            [
                "catalog.events.v1",
                "partners.events.v1",
                "identity.events.v1",
            ]
            .map(str::to_owned)
            .to_vec(),
        )
    }
}

impl SalesReferences {
    /// The projection on other topics than the usual ones (tests use their own).
    pub fn reading(topics: Vec<String>) -> Self {
        Self { topics }
    }
}

impl Projection for SalesReferences {
    fn name(&self) -> &str {
        NAME
    }

    fn topics(&self) -> Vec<String> {
        self.topics.clone()
    }

    fn event_types(&self) -> &[&'static str] {
        &[
            events::catalog::ProductCreated::TYPE,
            events::catalog::ProductUpdated::TYPE,
            events::catalog::PriceChanged::TYPE,
            events::catalog::ProductArchived::TYPE,
            events::catalog::BarcodeAssigned::TYPE,
            events::partners::CustomerCreated::TYPE,
            events::partners::CustomerUpdated::TYPE,
            stores::OPENED,
        ]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> Result<(), ProjectionError> {
        let tenant = event.cloud.tenant;
        match event.cloud.event_type.as_str() {
            stores::OPENED => stores::record_opened(tx, event).await?,
            events::catalog::ProductCreated::TYPE => {
                let p: events::catalog::ProductCreated = event.payload()?;
                sqlx::query(
                    "INSERT INTO products (tenant_id, id, sku, name, unit_decimals, hsn_code, gst_rate_bp, \
                     cess_rate_bp, currency, mrp_minor, selling_price_minor, tax_inclusive) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (tenant_id, id) DO NOTHING",
                )
                .bind(tenant)
                .bind(p.product_id)
                .bind(p.sku)
                .bind(p.name)
                .bind(i16::try_from(p.unit_decimals)?)
                .bind(p.hsn_code)
                .bind(p.gst_rate_bp)
                .bind(p.cess_rate_bp)
                .bind(p.currency)
                .bind(p.mrp_minor)
                .bind(p.selling_price_minor)
                .bind(p.tax_inclusive)
                .execute(&mut *tx)
                .await?;
                price_from(
                    tx,
                    tenant,
                    p.product_id,
                    p.created_at,
                    p.selling_price_minor,
                )
                .await?;
            }
            events::catalog::ProductUpdated::TYPE => {
                let p: events::catalog::ProductUpdated = event.payload()?;
                sqlx::query(
                    "UPDATE products SET name = $3, hsn_code = $4, gst_rate_bp = $5, cess_rate_bp = $6, \
                     tax_inclusive = $7 WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant)
                .bind(p.product_id)
                .bind(p.name)
                .bind(p.hsn_code)
                .bind(p.gst_rate_bp)
                .bind(p.cess_rate_bp)
                .bind(p.tax_inclusive)
                .execute(tx)
                .await?;
            }
            events::catalog::PriceChanged::TYPE => {
                let p: events::catalog::PriceChanged = event.payload()?;
                sqlx::query(
                    "UPDATE products SET mrp_minor = $3, selling_price_minor = $4 WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant)
                .bind(p.product_id)
                .bind(p.mrp_minor)
                .bind(p.selling_price_minor)
                .execute(&mut *tx)
                .await?;
                price_from(
                    tx,
                    tenant,
                    p.product_id,
                    p.changed_at,
                    p.selling_price_minor,
                )
                .await?;
            }
            events::catalog::ProductArchived::TYPE => {
                let p: events::catalog::ProductArchived = event.payload()?;
                sqlx::query("UPDATE products SET archived = true WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant)
                    .bind(p.product_id)
                    .execute(tx)
                    .await?;
            }
            events::catalog::BarcodeAssigned::TYPE => {
                let b: events::catalog::BarcodeAssigned = event.payload()?;
                sqlx::query(
                    "INSERT INTO barcodes (tenant_id, code, product_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(tenant)
                .bind(b.barcode)
                .bind(b.product_id)
                .execute(tx)
                .await?;
            }
            events::partners::CustomerCreated::TYPE | events::partners::CustomerUpdated::TYPE => {
                let c: events::partners::CustomerUpdated =
                    event.payload_into::<events::partners::CustomerCreated, _>()?;
                let state = c.shipping_state_code.or(c.billing_state_code);
                sqlx::query(
                    "INSERT INTO customers (tenant_id, id, name, gstin, state_code) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (tenant_id, id) DO UPDATE SET name = $3, gstin = $4, state_code = $5",
                )
                .bind(tenant)
                .bind(c.customer_id)
                .bind(c.name)
                .bind(c.gstin)
                .bind(state)
                .execute(tx)
                .await?;
            }
            _ => return Err(unhandled(NAME, event)),
        }
        Ok(())
    }
}

/// Records the selling price in force from `millis`: an offline sale is checked against
/// the price its terminal could have known when it sold.
async fn price_from(
    tx: &mut PgConnection,
    tenant: Uuid,
    product: Uuid,
    millis: i64,
    selling_price_minor: i64,
) -> Result<(), ProjectionError> {
    let valid_from = chrono::DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| format!("{millis} is not a time"))?;
    sqlx::query(
        "INSERT INTO product_prices (tenant_id, product_id, valid_from, selling_price_minor) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(product)
    .bind(valid_from)
    .bind(selling_price_minor)
    .execute(tx)
    .await?;
    Ok(())
}
