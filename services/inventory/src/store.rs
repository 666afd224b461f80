//! Inventory's queries other than the ledger's: products, locations, reports.

use bazaar_platform::db::EVENT_TIME as AT;
use bazaar_platform::ids::{LocationId, ProductId};
use bazaar_schemas::events;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ledger::Product;

/// Product facts from catalog's events.
#[derive(Debug, Clone)]
pub struct ProductFacts {
    /// The product.
    pub id: Uuid,
    /// Its SKU.
    pub sku: String,
    /// Decimal places of its unit.
    pub unit_decimals: i16,
    /// Its prices' currency, also its costs'.
    pub currency: String,
    /// Its reorder level.
    pub reorder_level: Option<Decimal>,
}

/// Records a product catalog created; a redelivered event changes nothing.
pub async fn upsert_product(
    tx: &mut PgConnection,
    tenant: Uuid,
    facts: &ProductFacts,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO products (tenant_id, id, sku, unit_decimals, currency, reorder_level) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant_id, id) DO UPDATE SET sku = EXCLUDED.sku, \
           unit_decimals = EXCLUDED.unit_decimals, currency = EXCLUDED.currency, \
           reorder_level = EXCLUDED.reorder_level",
    )
    .bind(tenant)
    .bind(facts.id)
    .bind(&facts.sku)
    .bind(facts.unit_decimals)
    .bind(&facts.currency)
    .bind(facts.reorder_level)
    .execute(tx)
    .await?;
    Ok(())
}

/// A product's new reorder level.
pub async fn set_reorder_level(
    tx: &mut PgConnection,
    tenant: Uuid,
    product: Uuid,
    level: Option<Decimal>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE products SET reorder_level = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(product)
        .bind(level)
        .execute(tx)
        .await?;
    Ok(())
}

/// Marks a product archived.
pub async fn archive_product(
    tx: &mut PgConnection,
    tenant: Uuid,
    product: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE products SET archived = true WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(product)
        .execute(tx)
        .await?;
    Ok(())
}

const PRODUCT: &str =
    "SELECT id, sku, unit_decimals, currency, reorder_level, archived FROM products";

/// A product by id.
pub async fn product(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<Product>, sqlx::Error> {
    sqlx::query_as(&format!("{PRODUCT} WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// Products by id; ids inventory does not know are missing from the answer.
pub async fn products(
    tx: &mut PgConnection,
    tenant: Uuid,
    ids: &[ProductId],
) -> Result<Vec<Product>, sqlx::Error> {
    sqlx::query_as(&format!("{PRODUCT} WHERE tenant_id = $1 AND id = ANY($2)"))
        .bind(tenant)
        .bind(ids)
        .fetch_all(tx)
        .await
}

/// The product each line names by id or by SKU, in line order: `None` where it names
/// none inventory knows. One statement for the whole list.
pub async fn products_named(
    tx: &mut PgConnection,
    tenant: Uuid,
    ids: &[Option<Uuid>],
    skus: &[Option<&str>],
) -> Result<Vec<Option<Product>>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Named {
        line: i64,
        #[sqlx(flatten)]
        product: Product,
    }
    let rows: Vec<Named> = sqlx::query_as(
        "SELECT l.line, p.id, p.sku, p.unit_decimals, p.currency, p.reorder_level, p.archived \
         FROM UNNEST($2::uuid[], $3::text[]) WITH ORDINALITY AS l(id, sku, line) \
         JOIN products p ON p.tenant_id = $1 AND p.id = coalesce(l.id, \
             (SELECT s.id FROM products s WHERE s.tenant_id = $1 AND s.sku = l.sku))",
    )
    .bind(tenant)
    .bind(ids)
    .bind(skus)
    .fetch_all(tx)
    .await?;
    let mut named: Vec<Option<Product>> = ids.iter().map(|_| None).collect();
    for row in rows {
        if let Some(slot) = usize::try_from(row.line - 1)
            .ok()
            .and_then(|i| named.get_mut(i))
        {
            *slot = Some(row.product);
        }
    }
    Ok(named)
}

/// A product by SKU.
pub async fn product_by_sku(
    tx: &mut PgConnection,
    tenant: Uuid,
    sku: &str,
) -> Result<Option<Product>, sqlx::Error> {
    sqlx::query_as(&format!("{PRODUCT} WHERE tenant_id = $1 AND sku = $2"))
        .bind(tenant)
        .bind(sku)
        .fetch_optional(tx)
        .await
}

/// A store or warehouse.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Location {
    /// The location.
    #[schema(value_type = Uuid)]
    pub id: LocationId,
    /// Short code, e.g. `BLR-01` or `WH-SOUTH`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// `store` or `warehouse`.
    pub kind: String,
    /// The identity store a store location is.
    pub store_id: Option<Uuid>,
    /// Whether sales and adjustments may take stock below zero here.
    pub allows_negative_stock: bool,
    /// When created.
    pub created_at: DateTime<Utc>,
}

const LOCATION: &str =
    "SELECT id, code, name, kind, store_id, allows_negative_stock, created_at FROM locations";

/// A new location.
pub struct NewLocation<'a> {
    /// Its code.
    pub code: &'a str,
    /// Its name.
    pub name: &'a str,
    /// `store` or `warehouse`.
    pub kind: &'a str,
    /// For a store: identity's store id.
    pub store_id: Option<Uuid>,
    /// Negative stock allowed.
    pub allows_negative_stock: bool,
}

/// Adds a location and announces it (`inventory.location.added`); `None` when its code or
/// store is taken.
pub async fn insert_location(
    tx: &mut PgConnection,
    tenant: Uuid,
    new: &NewLocation<'_>,
) -> Result<Option<Location>, bazaar_platform::outbox::OutboxError> {
    let added = events::inventory::LocationAdded {
        tenant_id: tenant,
        location_id: Uuid::now_v7(),
        code: new.code.to_owned(),
        name: new.name.to_owned(),
        kind: new.kind.to_owned(),
        store_id: new.store_id,
        allows_negative_stock: new.allows_negative_stock,
        added_at: bazaar_schemas::now_millis(),
    };
    let location = location_added(tx, &added).await?;
    if location.is_some() {
        let subject = added.location_id.to_string();
        bazaar_platform::outbox::append_event(tx, crate::SERVICE, tenant, &subject, &added).await?;
    }
    Ok(location)
}

/// Writes a location as `inventory.location.added` says; `None` when its code or store is
/// taken.
pub(crate) async fn location_added(
    tx: &mut PgConnection,
    added: &events::inventory::LocationAdded,
) -> Result<Option<Location>, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO locations (id, tenant_id, code, name, kind, store_id, allows_negative_stock, \
             created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, {AT} $8) ON CONFLICT DO NOTHING \
         RETURNING id, code, name, kind, store_id, allows_negative_stock, created_at"
    ))
    .bind(added.location_id)
    .bind(added.tenant_id)
    .bind(&added.code)
    .bind(&added.name)
    .bind(&added.kind)
    .bind(added.store_id)
    .bind(added.allows_negative_stock)
    .bind(added.added_at)
    .fetch_optional(tx)
    .await
}

/// Notes that `tenant` keeps stock, for jobs that visit every tenant.
pub async fn register_tenant(tx: &mut PgConnection, tenant: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(tenant)
        .execute(tx)
        .await?;
    Ok(())
}

/// The tenant's locations, by code.
pub async fn locations(
    tx: &mut PgConnection,
    tenant: Uuid,
    limit: i64,
    offset: i64,
) -> Result<Vec<Location>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{LOCATION} WHERE tenant_id = $1 ORDER BY code LIMIT $2 OFFSET $3"
    ))
    .bind(tenant)
    .bind(limit)
    .bind(offset)
    .fetch_all(tx)
    .await
}

/// A location by id.
pub async fn location(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<Location>, sqlx::Error> {
    sqlx::query_as(&format!("{LOCATION} WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// The store location of identity's store `store`.
pub async fn location_of_store(
    tx: &mut PgConnection,
    tenant: Uuid,
    store: Uuid,
) -> Result<Option<Location>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{LOCATION} WHERE tenant_id = $1 AND store_id = $2"
    ))
    .bind(tenant)
    .bind(store)
    .fetch_optional(tx)
    .await
}

/// One row of the stock report.
#[derive(Debug, sqlx::FromRow)]
pub struct StockRow {
    pub location_id: Uuid,
    pub product_id: Uuid,
    pub sku: String,
    pub on_hand: Decimal,
    pub reserved: Decimal,
    pub average_cost_minor: Decimal,
    pub value_minor: i64,
    pub currency: bazaar_platform::money::Currency,
    pub reorder_level: Option<Decimal>,
    pub last_moved_at: DateTime<Utc>,
}

/// Stock per location and product, with what live reservations hold.
pub async fn stock(
    tx: &mut PgConnection,
    tenant: Uuid,
    locations: &[Uuid],
    product: Option<ProductId>,
    limit: i64,
    offset: i64,
) -> Result<Vec<StockRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.location_id, s.product_id, p.sku, s.on_hand, \
           coalesce((SELECT sum(l.quantity) FROM reservation_lines l \
                     WHERE l.tenant_id = s.tenant_id AND l.location_id = s.location_id \
                       AND l.product_id = s.product_id AND l.open \
                       AND l.expires_at > now()), 0) AS reserved, \
           s.average_cost_minor, s.value_minor, p.currency, p.reorder_level, s.last_moved_at \
         FROM stock_levels s JOIN products p ON p.tenant_id = s.tenant_id AND p.id = s.product_id \
         WHERE s.tenant_id = $1 AND s.location_id = ANY($2) AND ($3::uuid IS NULL OR s.product_id = $3) \
           AND s.last_movement_seq > 0 \
         ORDER BY p.sku, s.location_id LIMIT $4 OFFSET $5",
    )
    .bind(tenant)
    .bind(locations)
    .bind(product)
    .bind(limit)
    .bind(offset)
    .fetch_all(tx)
    .await
}

/// A batch with stock, for the stock report and the expiry alerts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BatchRow {
    pub location_id: Uuid,
    pub product_id: Uuid,
    pub sku: String,
    pub batch: String,
    pub expiry_date: Option<NaiveDate>,
    pub on_hand: Decimal,
}

/// Batches with stock of `products` at `locations`.
pub async fn batches_of(
    tx: &mut PgConnection,
    tenant: Uuid,
    locations: &[Uuid],
    products: &[Uuid],
) -> Result<Vec<BatchRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT b.location_id, b.product_id, p.sku, b.batch, b.expiry_date, b.on_hand \
         FROM stock_batches b JOIN products p ON p.tenant_id = b.tenant_id AND p.id = b.product_id \
         WHERE b.tenant_id = $1 AND b.location_id = ANY($2) AND b.product_id = ANY($3) \
           AND b.on_hand <> 0 ORDER BY b.expiry_date NULLS LAST, b.batch",
    )
    .bind(tenant)
    .bind(locations)
    .bind(products)
    .fetch_all(tx)
    .await
}

/// Batches with stock expiring on or before `until`, soonest first.
pub async fn expiring(
    tx: &mut PgConnection,
    tenant: Uuid,
    locations: &[Uuid],
    until: NaiveDate,
    limit: i64,
    offset: i64,
) -> Result<Vec<BatchRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT b.location_id, b.product_id, p.sku, b.batch, b.expiry_date, b.on_hand \
         FROM stock_batches b JOIN products p ON p.tenant_id = b.tenant_id AND p.id = b.product_id \
         WHERE b.tenant_id = $1 AND b.location_id = ANY($2) AND b.expiry_date <= $3 \
           AND b.on_hand > 0 ORDER BY b.expiry_date, p.sku, b.batch LIMIT $4 OFFSET $5",
    )
    .bind(tenant)
    .bind(locations)
    .bind(until)
    .bind(limit)
    .bind(offset)
    .fetch_all(tx)
    .await
}

/// Stock on hand that has not moved since `since`, oldest first.
pub async fn dead_stock(
    tx: &mut PgConnection,
    tenant: Uuid,
    locations: &[Uuid],
    since: DateTime<Utc>,
    limit: i64,
    offset: i64,
) -> Result<Vec<StockRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.location_id, s.product_id, p.sku, s.on_hand, 0::numeric AS reserved, \
           s.average_cost_minor, s.value_minor, p.currency, p.reorder_level, s.last_moved_at \
         FROM stock_levels s JOIN products p ON p.tenant_id = s.tenant_id AND p.id = s.product_id \
         WHERE s.tenant_id = $1 AND s.location_id = ANY($2) AND s.on_hand > 0 \
           AND s.last_moved_at < $3 \
         ORDER BY s.last_moved_at, p.sku LIMIT $4 OFFSET $5",
    )
    .bind(tenant)
    .bind(locations)
    .bind(since)
    .bind(limit)
    .bind(offset)
    .fetch_all(tx)
    .await
}

/// One ledger row.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct MovementRow {
    /// The movement.
    pub id: Uuid,
    /// Ledger position.
    pub seq: i64,
    /// Where.
    pub location_id: Uuid,
    /// What.
    pub product_id: Uuid,
    /// Batch; empty for unbatched stock.
    pub batch: String,
    /// Its expiry.
    pub expiry_date: Option<NaiveDate>,
    /// receipt, sale, return, adjustment, transfer_out, transfer_in, count_correction.
    pub kind: String,
    /// Signed quantity.
    #[schema(value_type = String)]
    #[serde(serialize_with = "as_text")]
    pub quantity: Decimal,
    /// Unit cost in minor units.
    #[schema(value_type = String)]
    #[serde(serialize_with = "as_text")]
    pub unit_cost_minor: Decimal,
    /// Reason code.
    pub reason: Option<String>,
    /// The causing document's type.
    pub reference_type: Option<String>,
    /// The causing document's id.
    pub reference_id: Option<String>,
    /// Who, when a person.
    pub recorded_by: Option<Uuid>,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

fn as_text<S: serde::Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&value.normalize())
}

/// The ledger of some locations, newest first.
pub async fn movements(
    tx: &mut PgConnection,
    tenant: Uuid,
    locations: &[Uuid],
    product: Option<ProductId>,
    limit: i64,
    offset: i64,
) -> Result<Vec<MovementRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, seq, location_id, product_id, batch, expiry_date, kind, quantity, \
           unit_cost_minor, reason, reference_type, reference_id, recorded_by, recorded_at \
         FROM stock_movements WHERE tenant_id = $1 AND location_id = ANY($2) \
           AND ($3::uuid IS NULL OR product_id = $3) ORDER BY seq DESC LIMIT $4 OFFSET $5",
    )
    .bind(tenant)
    .bind(locations)
    .bind(product)
    .bind(limit)
    .bind(offset)
    .fetch_all(tx)
    .await
}

/// A transfer and its lines.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct Transfer {
    /// The transfer.
    pub id: Uuid,
    /// From.
    pub from_location_id: Uuid,
    /// To.
    pub to_location_id: Uuid,
    /// `in_transit`, `received` (all arrived) or `closed` (closed short).
    pub status: String,
    /// The sender's reference.
    pub reference: Option<String>,
    /// Per product and batch.
    pub lines: Vec<TransferLineView>,
}

/// One product and batch of a transfer.
#[derive(Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub(crate) struct TransferLineView {
    /// What.
    pub product_id: Uuid,
    /// Its SKU.
    pub sku: String,
    /// Which batch.
    pub batch: String,
    /// Sent.
    pub dispatched: String,
    /// Arrived so far.
    pub received: String,
    /// What never arrived, once the transfer closed.
    pub shortfall: Option<String>,
}

/// Transfer `id` with its lines.
pub(crate) async fn transfer(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<Transfer>, sqlx::Error> {
    let Some((from, to, status, reference)): Option<(Uuid, Uuid, String, Option<String>)> = sqlx::query_as(
        "SELECT from_location, to_location, status, reference FROM transfers WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let rows: Vec<(Uuid, String, String, Decimal, Decimal, Option<Decimal>)> = sqlx::query_as(
        "SELECT l.product_id, p.sku, l.batch, l.quantity_dispatched, l.quantity_received, l.shortfall \
         FROM transfer_lines l JOIN products p ON p.tenant_id = l.tenant_id AND p.id = l.product_id \
         WHERE l.tenant_id = $1 AND l.transfer_id = $2 ORDER BY p.sku, l.batch",
    )
    .bind(tenant)
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Some(Transfer {
        id,
        from_location_id: from,
        to_location_id: to,
        status,
        reference,
        lines: rows
            .into_iter()
            .map(
                |(product_id, sku, batch, dispatched, received, shortfall)| TransferLineView {
                    product_id,
                    sku,
                    batch,
                    dispatched: crate::ledger::decimal_text(dispatched),
                    received: crate::ledger::decimal_text(received),
                    shortfall: shortfall.map(crate::ledger::decimal_text),
                },
            )
            .collect(),
    }))
}

/// Opens transfer `id` from one location to another, in transit.
pub(crate) async fn insert_transfer(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    (from, to): (Uuid, Uuid),
    reference: Option<&str>,
    (by, at): (Uuid, i64),
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO transfers (id, tenant_id, from_location, to_location, status, reference, \
             dispatched_by, dispatched_at) \
         VALUES ($1, $2, $3, $4, 'in_transit', $5, $6, {AT} $7)"
    ))
    .bind(id)
    .bind(tenant)
    .bind(from)
    .bind(to)
    .bind(reference)
    .bind(by)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// One product and batch dispatched on a transfer, at the cost it left at.
pub(crate) struct DispatchedLine<'a> {
    pub(crate) product: Uuid,
    pub(crate) batch: &'a str,
    pub(crate) expiry: Option<NaiveDate>,
    pub(crate) unit_cost: Decimal,
    pub(crate) quantity: Decimal,
}

/// Adds a dispatched line to transfer `id`.
pub(crate) async fn insert_transfer_line(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    line: DispatchedLine<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO transfer_lines (transfer_id, tenant_id, product_id, batch, expiry_date, \
         unit_cost_minor, quantity_dispatched) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(tenant)
    .bind(line.product)
    .bind(line.batch)
    .bind(line.expiry)
    .bind(line.unit_cost)
    .bind(line.quantity)
    .execute(tx)
    .await?;
    Ok(())
}

/// Transfer `id`'s locations and status, locked for the caller's transaction.
pub(crate) async fn lock_transfer(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<(Uuid, Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT from_location, to_location, status FROM transfers \
         WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Transfer `id`'s lines, as receiving it decides on them.
pub(crate) async fn transfer_lines(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Vec<crate::domain::transfer::Line>, sqlx::Error> {
    let rows: Vec<(Uuid, String, Option<NaiveDate>, Decimal, Decimal, Decimal)> = sqlx::query_as(
        "SELECT product_id, batch, expiry_date, unit_cost_minor, quantity_dispatched, \
         quantity_received FROM transfer_lines WHERE tenant_id = $1 AND transfer_id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_all(tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(product, batch, expiry, unit_cost, dispatched, received)| {
                crate::domain::transfer::Line {
                    product,
                    batch,
                    expiry,
                    unit_cost,
                    dispatched,
                    received,
                }
            },
        )
        .collect())
}

/// `quantity` more of a product's batch arrived on transfer `id`.
pub(crate) async fn receive_transfer_line(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    (product, batch): (ProductId, &str),
    quantity: Decimal,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE transfer_lines SET quantity_received = quantity_received + $5 \
         WHERE tenant_id = $1 AND transfer_id = $2 AND product_id = $3 AND batch = $4",
    )
    .bind(tenant)
    .bind(id)
    .bind(product)
    .bind(batch)
    .bind(quantity)
    .execute(tx)
    .await?;
    Ok(())
}

/// Ends transfer `id` as `status` (`received` or `closed`) at `at` (ms), what never
/// arrived recorded.
pub(crate) async fn finish_transfer(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    (status, at): (&str, i64),
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE transfer_lines SET shortfall = quantity_dispatched - quantity_received \
         WHERE tenant_id = $1 AND transfer_id = $2",
    )
    .bind(tenant)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!(
        "UPDATE transfers SET status = $3, closed_at = {AT} $4 WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .bind(status)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// A hold on stock a till is about to sell.
pub(crate) struct NewHold<'a> {
    pub(crate) id: Uuid,
    pub(crate) location: Uuid,
    pub(crate) reference: Option<&'a str>,
    /// How long it holds, from the database's clock.
    pub(crate) ttl_secs: f64,
    pub(crate) by: Uuid,
}

/// Writes `hold` and its lines (products and quantities); returns when it was made and
/// when it expires, on the database's clock (which the holds' sums read expiry by) to the
/// millisecond, as its event carries them.
pub(crate) async fn insert_reservation(
    tx: &mut PgConnection,
    tenant: Uuid,
    hold: &NewHold<'_>,
    (products, quantities): (&[ProductId], &[Decimal]),
) -> Result<(DateTime<Utc>, DateTime<Utc>), sqlx::Error> {
    sqlx::query_as(
        "WITH reservation AS ( \
           INSERT INTO reservations (id, tenant_id, location_id, reference, status, expires_at, \
               created_by, created_at) \
           SELECT $1, $2, $3, $4, 'active', made + make_interval(secs => $5), $6, made \
           FROM (SELECT date_trunc('milliseconds', now()) AS made) AS clock \
           RETURNING created_at, expires_at), \
         lines AS ( \
           INSERT INTO reservation_lines (reservation_id, tenant_id, location_id, expires_at, product_id, quantity) \
           SELECT $1, $2, $3, r.expires_at, l.product, l.quantity \
           FROM reservation r, UNNEST($7::uuid[], $8::numeric[]) AS l (product, quantity)) \
         SELECT created_at, expires_at FROM reservation",
    )
    .bind(hold.id)
    .bind(tenant)
    .bind(hold.location)
    .bind(hold.reference)
    .bind(hold.ttl_secs)
    .bind(hold.by)
    .bind(products)
    .bind(quantities)
    .fetch_one(tx)
    .await
}

/// Reservation `id`'s location, status and reference, locked for the caller's transaction.
pub(crate) async fn lock_reservation(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<(Uuid, String, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT location_id, status, reference FROM reservations \
         WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Ends reservation `id` as `outcome` at `at` (ms) and frees its lines; `false`, nothing
/// written, when it was not active.
pub(crate) async fn close_reservation(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    (outcome, at): (&str, i64),
) -> Result<bool, sqlx::Error> {
    let closed: i64 = sqlx::query_scalar(&format!(
        "WITH closed AS ( \
           UPDATE reservations SET status = $3, closed_at = {AT} $4 \
           WHERE tenant_id = $1 AND id = $2 AND status = 'active' RETURNING id), \
         lines AS ( \
           UPDATE reservation_lines SET open = false \
           WHERE tenant_id = $1 AND reservation_id IN (SELECT id FROM closed)) \
         SELECT count(*) FROM closed"
    ))
    .bind(tenant)
    .bind(id)
    .bind(outcome)
    .bind(at)
    .fetch_one(tx)
    .await?;
    Ok(closed == 1)
}

/// A decimal an event carries as text (a quantity, a cost); an unreadable one is a
/// corrupt event, refused as a database decode error would be.
fn decimal(field: &str, text: &str) -> Result<Decimal, sqlx::Error> {
    text.parse()
        .map_err(|e| sqlx::Error::Decode(format!("{field} {text:?}: {e}").into()))
}

/// Writes a movement of the ledger again from its `inventory.stock.moved`, at the place
/// (`seq`) and time the ledger gave it: what `bazaar replay inventory` folds.
pub(crate) async fn movement_replayed(
    tx: &mut PgConnection,
    moved: &events::inventory::StockMoved,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO stock_movements (id, seq, tenant_id, location_id, product_id, batch, \
             expiry_date, kind, quantity, unit_cost_minor, reason, reference_type, reference_id, \
             recorded_by, value_minor, recorded_at) OVERRIDING SYSTEM VALUE \
         VALUES ($1, $2, $3, $4, $5, $6, $7::date, $8, $9, $10, $11, $12, $13, $14, $15, {AT} $16)"
    ))
    .bind(moved.movement_id)
    .bind(moved.seq)
    .bind(moved.tenant_id)
    .bind(moved.location_id)
    .bind(moved.product_id)
    .bind(&moved.batch)
    .bind(&moved.expiry_date)
    .bind(&moved.kind)
    .bind(decimal("quantity", &moved.quantity)?)
    .bind(decimal("unit_cost_minor", &moved.unit_cost_minor)?)
    .bind(&moved.reason)
    .bind(&moved.reference_type)
    .bind(&moved.reference_id)
    .bind(moved.recorded_by)
    .bind(moved.value_minor)
    .bind(moved.recorded_at)
    .execute(tx)
    .await
    .map(drop)
}

/// Writes a transfer and its lines again from its `inventory.stock.transferred`.
pub(crate) async fn transfer_replayed(
    tx: &mut PgConnection,
    sent: &events::inventory::StockTransferred,
) -> Result<(), sqlx::Error> {
    let tenant = sent.tenant_id;
    insert_transfer(
        tx,
        tenant,
        sent.transfer_id,
        (sent.from_location_id, sent.to_location_id),
        sent.reference.as_deref(),
        (sent.dispatched_by, sent.dispatched_at),
    )
    .await?;
    for line in &sent.lines {
        let expiry = line
            .expiry_date
            .as_deref()
            .map(|d| d.parse::<NaiveDate>())
            .transpose()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        let line = DispatchedLine {
            product: line.product_id,
            batch: &line.batch,
            expiry,
            unit_cost: decimal("unit_cost_minor", &line.unit_cost_minor)?,
            quantity: decimal("quantity", &line.quantity)?,
        };
        insert_transfer_line(tx, tenant, sent.transfer_id, line).await?;
    }
    Ok(())
}

/// Writes what arrived on a transfer again from its `inventory.stock.transfer_received`,
/// and its end when the event ended it.
pub(crate) async fn receipt_replayed(
    tx: &mut PgConnection,
    received: &events::inventory::TransferReceived,
) -> Result<(), sqlx::Error> {
    let (tenant, id) = (received.tenant_id, received.transfer_id);
    for line in &received.lines {
        let quantity = decimal("quantity", &line.quantity)?;
        receive_transfer_line(
            tx,
            tenant,
            id,
            (line.product_id.into(), &line.batch),
            quantity,
        )
        .await?;
    }
    if received.status != "in_transit" {
        finish_transfer(tx, tenant, id, (&received.status, received.received_at)).await?;
    }
    Ok(())
}

/// Writes a hold and its lines again from its `inventory.reservation.created`.
pub(crate) async fn reservation_replayed(
    tx: &mut PgConnection,
    held: &events::inventory::ReservationCreated,
) -> Result<(), sqlx::Error> {
    let products: Vec<Uuid> = held.lines.iter().map(|l| l.product_id).collect();
    let quantities = held
        .lines
        .iter()
        .map(|l| decimal("quantity", &l.quantity))
        .collect::<Result<Vec<_>, _>>()?;
    sqlx::query(&format!(
        "WITH reservation AS ( \
           INSERT INTO reservations (id, tenant_id, location_id, reference, status, expires_at, \
               created_by, created_at) \
           VALUES ($1, $2, $3, $4, 'active', {AT} $5, $6, {AT} $7) RETURNING expires_at) \
         INSERT INTO reservation_lines (reservation_id, tenant_id, location_id, expires_at, \
             product_id, quantity) \
         SELECT $1, $2, $3, r.expires_at, l.product, l.quantity \
         FROM reservation r, UNNEST($8::uuid[], $9::numeric[]) AS l (product, quantity)"
    ))
    .bind(held.reservation_id)
    .bind(held.tenant_id)
    .bind(held.location_id)
    .bind(&held.reference)
    .bind(held.expires_at)
    .bind(held.created_by)
    .bind(held.created_at)
    .bind(products)
    .bind(quantities)
    .execute(tx)
    .await
    .map(drop)
}

/// Ends a hold again from its `inventory.reservation.released`.
pub(crate) async fn release_replayed(
    tx: &mut PgConnection,
    released: &events::inventory::ReservationReleased,
) -> Result<(), sqlx::Error> {
    let outcome = (released.outcome.as_str(), released.released_at);
    close_reservation(tx, released.tenant_id, released.reservation_id, outcome).await?;
    Ok(())
}
