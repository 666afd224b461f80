//! `purchase-references`: what purchase knows of other services, from their topics:
//! vendors (partners), products with their GST and reorder levels (catalog), and stock
//! on hand and daily sales per location (inventory), for reorder suggestions, and the
//! locations themselves with their stores (inventory), for the orders' store scope.

use bazaar_platform::consumer::{unhandled, ConsumedEvent, Projection, ProjectionError};
use bazaar_schemas::{events, Event as _};
use chrono::DateTime;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use tracing::Instrument;
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

impl Projection for PurchaseReferences {
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
            events::catalog::ProductArchived::TYPE,
            events::partners::VendorCreated::TYPE,
            events::partners::VendorUpdated::TYPE,
            events::inventory::StockMoved::TYPE,
            events::inventory::LocationAdded::TYPE,
        ]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> Result<(), ProjectionError> {
        let tenant = event.cloud.tenant;
        match event.cloud.event_type.as_str() {
            events::inventory::LocationAdded::TYPE => {
                let added: events::inventory::LocationAdded = event.payload()?;
                sqlx::query(
                    "INSERT INTO known_locations (tenant_id, id, store_id) VALUES ($1, $2, $3) \
                     ON CONFLICT (tenant_id, id) DO NOTHING",
                )
                .bind(tenant)
                .bind(added.location_id)
                .bind(added.store_id)
                .execute(&mut *tx)
                .await?;
            }
            events::catalog::ProductCreated::TYPE => {
                let p: events::catalog::ProductCreated = event.payload()?;
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
            events::catalog::ProductUpdated::TYPE => {
                let p: events::catalog::ProductUpdated = event.payload()?;
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
            events::catalog::ProductArchived::TYPE => {
                let p: events::catalog::ProductArchived = event.payload()?;
                sqlx::query("UPDATE products SET archived = true WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant)
                    .bind(p.product_id)
                    .execute(tx)
                    .await?;
            }
            events::partners::VendorCreated::TYPE | events::partners::VendorUpdated::TYPE => {
                let v: events::partners::VendorUpdated =
                    event.payload_into::<events::partners::VendorCreated, _>()?;
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
            events::inventory::StockMoved::TYPE => record_moves(tx, tenant, &[event]).await?,
            _ => return Err(unhandled(NAME, event)),
        }
        Ok(())
    }

    /// A poll's stock movements go in one statement; the other events one by one.
    /// Positions and daily sales depend on movements alone, so the order between the
    /// two kinds does not matter.
    async fn apply_all(
        &self,
        tx: &mut PgConnection,
        events: &[&ConsumedEvent],
    ) -> Result<(), ProjectionError> {
        let (moves, others): (Vec<&ConsumedEvent>, Vec<&ConsumedEvent>) = events
            .iter()
            .partition(|e| e.cloud.event_type == events::inventory::StockMoved::TYPE);
        for event in others {
            self.apply(tx, event).instrument(event.span(NAME)).await?;
        }
        if let Some(first) = moves.first() {
            record_moves(tx, first.cloud.tenant, &moves).await?;
        }
        Ok(())
    }
}

/// Stock positions and daily sales from movements of one tenant, in one statement.
/// Movements of an item arrive in ledger order; the seq guard keeps a redelivered older
/// one from winding the position back, and of several of an item the latest counts.
/// Sales add to their day's sales.
async fn record_moves(
    tx: &mut PgConnection,
    tenant: Uuid,
    events: &[&ConsumedEvent],
) -> Result<(), ProjectionError> {
    let count = events.len();
    let (mut locations, mut products, mut on_hand, mut seqs, mut days, mut sold) = (
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
    );
    for event in events {
        let m: events::inventory::StockMoved = event.payload()?;
        let (day, quantity) = if m.kind == "sale" {
            let day = DateTime::from_timestamp_millis(m.recorded_at)
                .ok_or("recorded_at out of range")?
                .date_naive();
            (Some(day), Some(-m.quantity.parse::<Decimal>()?))
        } else {
            (None, None)
        };
        locations.push(m.location_id);
        products.push(m.product_id);
        on_hand.push(m.on_hand_after.parse::<Decimal>()?);
        seqs.push(m.seq);
        days.push(day);
        sold.push(quantity);
    }
    sqlx::query(
        "WITH moved AS ( \
           SELECT * FROM UNNEST($2::uuid[], $3::uuid[], $4::numeric[], $5::int8[], $6::date[], \
             $7::numeric[]) AS m (location, product, on_hand, seq, day, sold)), \
         position AS ( \
           INSERT INTO stock_positions (tenant_id, location_id, product_id, on_hand, last_seq) \
           SELECT DISTINCT ON (location, product) $1, location, product, on_hand, seq \
           FROM moved ORDER BY location, product, seq DESC \
           ON CONFLICT (tenant_id, location_id, product_id) \
           DO UPDATE SET on_hand = EXCLUDED.on_hand, last_seq = EXCLUDED.last_seq \
           WHERE stock_positions.last_seq < EXCLUDED.last_seq) \
         INSERT INTO daily_sales (tenant_id, location_id, product_id, day, quantity) \
         SELECT $1, location, product, day, sum(sold) FROM moved WHERE sold IS NOT NULL \
         GROUP BY location, product, day \
         ON CONFLICT (tenant_id, location_id, product_id, day) \
         DO UPDATE SET quantity = daily_sales.quantity + EXCLUDED.quantity",
    )
    .bind(tenant)
    .bind(&locations)
    .bind(&products)
    .bind(&on_hand)
    .bind(&seqs)
    .bind(&days)
    .bind(&sold)
    .execute(tx)
    .await?;
    Ok(())
}
