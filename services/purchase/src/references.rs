//! `purchase-references`: what purchase knows of other services, from their topics:
//! vendors (partners), products with their GST and reorder levels (catalog), and stock
//! on hand and daily sales per location (inventory), for reorder suggestions.

use bazaar_platform::consumer::{ConsumedEvent, Projection, ProjectionError};
use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// The projection's consumer group and name in `processed_events`.
pub const NAME: &str = "purchase-references";

/// Keeps purchase's copies of vendors, products and stock positions.
pub struct PurchaseReferences {
    topics: Vec<String>,
}

impl Default for PurchaseReferences {
    fn default() -> Self {
        Self::reading(
            [
                "catalog.events.v1",
                "partners.events.v1",
                "inventory.events.v1",
            ]
            .map(str::to_owned)
            .to_vec(),
        )
    }
}

impl PurchaseReferences {
    /// The projection on other topics than the usual ones (tests use their own).
    pub fn reading(topics: Vec<String>) -> Self {
        Self { topics }
    }
}

#[derive(Deserialize)]
struct ProductCreated {
    product_id: Uuid,
    sku: String,
    name: String,
    unit_decimals: i32,
    gst_rate_bp: i32,
    cess_rate_bp: i32,
    reorder_level: Option<String>,
}

#[derive(Deserialize)]
struct ProductUpdated {
    product_id: Uuid,
    name: String,
    gst_rate_bp: i32,
    cess_rate_bp: i32,
    reorder_level: Option<String>,
}

#[derive(Deserialize)]
struct ProductArchived {
    product_id: Uuid,
}

#[derive(Deserialize)]
struct Vendor {
    vendor_id: Uuid,
    name: String,
    state_code: String,
    payment_terms_days: i32,
    currency: String,
}

#[derive(Deserialize)]
struct StockMoved {
    seq: i64,
    location_id: Uuid,
    product_id: Uuid,
    kind: String,
    quantity: String,
    on_hand_after: String,
    recorded_at: i64,
}

impl Projection for PurchaseReferences {
    fn name(&self) -> &str {
        NAME
    }

    fn topics(&self) -> Vec<String> {
        self.topics.clone()
    }

    fn handles(&self, event_type: &str) -> bool {
        matches!(
            event_type,
            "catalog.product.created"
                | "catalog.product.updated"
                | "catalog.product.archived"
                | "partners.vendor.created"
                | "partners.vendor.updated"
                | "inventory.stock.moved"
        )
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> Result<(), ProjectionError> {
        let tenant = event.cloud.tenant;
        match event.cloud.event_type.as_str() {
            "catalog.product.created" => {
                let p: ProductCreated = event.payload_as()?;
                let level: Option<Decimal> =
                    p.reorder_level.as_deref().map(str::parse).transpose()?;
                sqlx::query(
                    "INSERT INTO products (tenant_id, id, sku, name, unit_decimals, gst_rate_bp, \
                     cess_rate_bp, reorder_level) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (tenant_id, id) DO NOTHING",
                )
                .bind(tenant)
                .bind(p.product_id)
                .bind(p.sku)
                .bind(p.name)
                .bind(i16::try_from(p.unit_decimals)?)
                .bind(p.gst_rate_bp)
                .bind(p.cess_rate_bp)
                .bind(level)
                .execute(tx)
                .await?;
            }
            "catalog.product.updated" => {
                let p: ProductUpdated = event.payload_as()?;
                let level: Option<Decimal> =
                    p.reorder_level.as_deref().map(str::parse).transpose()?;
                sqlx::query(
                    "UPDATE products SET name = $3, gst_rate_bp = $4, cess_rate_bp = $5, \
                     reorder_level = $6 WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant)
                .bind(p.product_id)
                .bind(p.name)
                .bind(p.gst_rate_bp)
                .bind(p.cess_rate_bp)
                .bind(level)
                .execute(tx)
                .await?;
            }
            "catalog.product.archived" => {
                let p: ProductArchived = event.payload_as()?;
                sqlx::query("UPDATE products SET archived = true WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant)
                    .bind(p.product_id)
                    .execute(tx)
                    .await?;
            }
            "partners.vendor.created" | "partners.vendor.updated" => {
                let v: Vendor = event.payload_as()?;
                sqlx::query(
                    "INSERT INTO vendors (tenant_id, id, name, state_code, payment_terms_days, currency) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, id) DO UPDATE \
                     SET name = $3, state_code = $4, payment_terms_days = $5, currency = $6",
                )
                .bind(tenant)
                .bind(v.vendor_id)
                .bind(v.name)
                .bind(v.state_code)
                .bind(v.payment_terms_days)
                .bind(v.currency)
                .execute(tx)
                .await?;
            }
            "inventory.stock.moved" => {
                let m: StockMoved = event.payload_as()?;
                let on_hand: Decimal = m.on_hand_after.parse()?;
                // Movements of an item arrive in ledger order; the seq guard keeps a
                // redelivered older one from winding the position back. A sale also adds
                // to the day's sales, in the same statement.
                let sold: Option<(NaiveDate, Decimal)> = if m.kind == "sale" {
                    let day = DateTime::from_timestamp_millis(m.recorded_at)
                        .ok_or("recorded_at out of range")?
                        .date_naive();
                    Some((day, -m.quantity.parse::<Decimal>()?))
                } else {
                    None
                };
                sqlx::query(
                    "WITH position AS ( \
                       INSERT INTO stock_positions (tenant_id, location_id, product_id, on_hand, last_seq) \
                       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, location_id, product_id) \
                       DO UPDATE SET on_hand = $4, last_seq = $5 WHERE stock_positions.last_seq < $5) \
                     INSERT INTO daily_sales (tenant_id, location_id, product_id, day, quantity) \
                     SELECT $1, $2, $3, $6::date, $7::numeric WHERE $7::numeric IS NOT NULL \
                     ON CONFLICT (tenant_id, location_id, product_id, day) \
                     DO UPDATE SET quantity = daily_sales.quantity + EXCLUDED.quantity",
                )
                .bind(tenant)
                .bind(m.location_id)
                .bind(m.product_id)
                .bind(on_hand)
                .bind(m.seq)
                .bind(sold.map(|(day, _)| day))
                .bind(sold.map(|(_, quantity)| quantity))
                .execute(tx)
                .await?;
            }
            _ => {}
        }
        Ok(())
    }
}
