//! Purchase orders' SQL: the order loaded as its decisions need it, its events written to
//! the tables and the outbox in the caller's transaction, and the order as the API shows
//! it. Every table row an order owns is written here from one of its events.

use bazaar_platform::{
    money::{Currency, Money},
    outbox::{self, OutboxError},
};
use bazaar_schemas::events::purchase::{GoodsReceived, PurchaseOrderCreated};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    domain::purchase_order::{Event, Line, OrderError, PurchaseOrder, Status},
    SERVICE,
};

/// Loading or saving an order failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// The database refused.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// An event did not fit its schema.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// A stored order does not read.
    #[error(transparent)]
    Corrupt(#[from] OrderError),
}

#[derive(sqlx::FromRow)]
struct Head {
    tenant_id: Uuid,
    number: String,
    vendor_id: Uuid,
    location_id: Uuid,
    currency: String,
    status: String,
    total_minor: i64,
}

#[derive(sqlx::FromRow)]
struct LineRow {
    line_no: i32,
    product_id: Uuid,
    sku: String,
    unit_decimals: i16,
    quantity: Decimal,
    unit_price_minor: i64,
    received: Decimal,
    rejected: Decimal,
}

/// The order `id`, locked for the caller's transaction when `lock`.
pub(crate) async fn load(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<PurchaseOrder>, StoreError> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let Some(head): Option<Head> = sqlx::query_as(&format!(
        "SELECT tenant_id, number, vendor_id, location_id, currency, status, total_minor \
         FROM purchase_orders WHERE tenant_id = $1 AND id = $2{lock}"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let lines: Vec<LineRow> = sqlx::query_as(
        "SELECT l.line_no, l.product_id, p.sku, p.unit_decimals, l.quantity, l.unit_price_minor, \
         l.quantity_received AS received, l.quantity_rejected AS rejected \
         FROM po_lines l JOIN products p ON p.tenant_id = l.tenant_id AND p.id = l.product_id \
         WHERE l.tenant_id = $1 AND l.po_id = $2 ORDER BY l.line_no",
    )
    .bind(tenant)
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Some(PurchaseOrder {
        tenant_id: head.tenant_id,
        id,
        number: head.number,
        vendor_id: head.vendor_id,
        location_id: head.location_id,
        currency: head.currency,
        total_minor: head.total_minor,
        status: Status::parse(&head.status)?,
        lines: lines
            .into_iter()
            .map(|l| Line {
                line_no: l.line_no,
                product_id: l.product_id,
                sku: l.sku,
                unit_decimals: l.unit_decimals.max(0) as u32,
                quantity: l.quantity,
                unit_price_minor: l.unit_price_minor,
                received: l.received,
                rejected: l.rejected,
            })
            .collect(),
    }))
}

fn at(millis: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| OrderError::Corrupt(format!("{millis} is not a time")).into())
}

fn date(text: &str) -> Result<NaiveDate, StoreError> {
    text.parse()
        .map_err(|_| OrderError::Corrupt(format!("{text:?} is not a date")).into())
}

fn decimal(text: &str) -> Result<Decimal, StoreError> {
    text.parse()
        .map_err(|_| OrderError::Corrupt(format!("{text:?} is not a decimal")).into())
}

/// Writes `events` of `order` (its state after them) to the tables and the outbox, in
/// the caller's transaction, which holds the order's lock.
pub(crate) async fn save(
    tx: &mut PgConnection,
    order: &PurchaseOrder,
    events: &[Event],
) -> Result<(), StoreError> {
    let subject = order.id.to_string();
    for event in events {
        match event {
            Event::Created(created) => {
                insert(tx, created).await?;
                outbox::append_event(tx, SERVICE, order.tenant_id, &subject, created).await?;
            }
            Event::Approved(approved) => {
                sqlx::query(
                    "UPDATE purchase_orders SET status = 'approved', approved_by = $3, \
                     approved_at = $4 WHERE tenant_id = $1 AND id = $2",
                )
                .bind(order.tenant_id)
                .bind(order.id)
                .bind(approved.approved_by)
                .bind(at(approved.approved_at)?)
                .execute(&mut *tx)
                .await?;
                outbox::append_event(tx, SERVICE, order.tenant_id, &subject, approved).await?;
            }
            Event::Cancelled(cancelled) => {
                finish(tx, order, &cancelled.reason).await?;
                outbox::append_event(tx, SERVICE, order.tenant_id, &subject, cancelled).await?;
            }
            Event::Closed(closed) => {
                finish(tx, order, &closed.reason).await?;
                outbox::append_event(tx, SERVICE, order.tenant_id, &subject, closed).await?;
            }
            Event::Received(goods) => {
                receive(tx, order, goods).await?;
                outbox::append_event(tx, SERVICE, order.tenant_id, &subject, goods).await?;
            }
        }
    }
    Ok(())
}

async fn insert(tx: &mut PgConnection, created: &PurchaseOrderCreated) -> Result<(), StoreError> {
    let expected_on = created.expected_on.as_deref().map(date).transpose()?;
    sqlx::query(
        "INSERT INTO purchase_orders (id, tenant_id, number, vendor_id, location_id, place_of_supply, \
         currency, status, expected_on, taxable_minor, tax_minor, total_minor, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', $8, $9, $10, $11, $12, $13)",
    )
    .bind(created.po_id)
    .bind(created.tenant_id)
    .bind(&created.po_number)
    .bind(created.vendor_id)
    .bind(created.location_id)
    .bind(&created.place_of_supply)
    .bind(&created.currency)
    .bind(expected_on)
    .bind(created.taxable_minor)
    .bind(created.tax_minor)
    .bind(created.total_minor)
    .bind(created.created_by)
    .bind(at(created.created_at)?)
    .execute(&mut *tx)
    .await?;
    let quantities: Vec<Decimal> = created
        .lines
        .iter()
        .map(|l| decimal(&l.quantity))
        .collect::<Result<_, _>>()?;
    let column =
        |f: fn(&bazaar_schemas::events::purchase::PurchaseOrderCreatedOrderLine) -> i64| {
            created.lines.iter().map(f).collect::<Vec<i64>>()
        };
    sqlx::query(
        "INSERT INTO po_lines (po_id, line_no, tenant_id, product_id, quantity, unit_price_minor, \
         gst_rate_bp, cess_rate_bp, taxable_minor, tax_minor) \
         SELECT $1, l.line_no, $2, l.product_id, l.quantity, l.price, l.gst, l.cess, l.taxable, l.tax \
         FROM UNNEST($3::int4[], $4::uuid[], $5::numeric[], $6::int8[], $7::int4[], $8::int4[], \
           $9::int8[], $10::int8[]) AS l(line_no, product_id, quantity, price, gst, cess, taxable, tax)",
    )
    .bind(created.po_id)
    .bind(created.tenant_id)
    .bind(created.lines.iter().map(|l| l.line_no).collect::<Vec<_>>())
    .bind(created.lines.iter().map(|l| l.product_id).collect::<Vec<_>>())
    .bind(quantities)
    .bind(column(|l| l.unit_price_minor))
    .bind(created.lines.iter().map(|l| l.gst_rate_bp).collect::<Vec<_>>())
    .bind(created.lines.iter().map(|l| l.cess_rate_bp).collect::<Vec<_>>())
    .bind(column(|l| l.taxable_minor))
    .bind(column(|l| l.tax_minor))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A cancelled or closed order: its status and why.
async fn finish(
    tx: &mut PgConnection,
    order: &PurchaseOrder,
    reason: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE purchase_orders SET status = $3, closed_reason = $4 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(order.tenant_id)
    .bind(order.id)
    .bind(order.status.code())
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A goods receipt note and its lines, and the order's lines and status after it.
async fn receive(
    tx: &mut PgConnection,
    order: &PurchaseOrder,
    goods: &GoodsReceived,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO grns (id, tenant_id, number, po_id, vendor_id, location_id, received_by, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(goods.grn_id)
    .bind(order.tenant_id)
    .bind(&goods.grn_number)
    .bind(order.id)
    .bind(goods.vendor_id)
    .bind(goods.location_id)
    .bind(goods.received_by)
    .bind(at(goods.received_at)?)
    .execute(&mut *tx)
    .await?;
    for received in &goods.lines {
        let line = order.line_of(received.product_id).ok_or_else(|| {
            OrderError::Corrupt(format!("{} is not on {}", received.sku, order.number))
        })?;
        let expiry = received.expiry_date.as_deref().map(date).transpose()?;
        sqlx::query(
            "INSERT INTO grn_lines (grn_id, line_no, tenant_id, product_id, quantity_received, \
             quantity_rejected, rejection_reason, batch, expiry_date, unit_cost_minor) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(goods.grn_id)
        .bind(line.line_no)
        .bind(order.tenant_id)
        .bind(received.product_id)
        .bind(decimal(&received.quantity_received)?)
        .bind(decimal(&received.quantity_rejected)?)
        .bind(&received.rejection_reason)
        .bind(&received.batch)
        .bind(expiry)
        .bind(received.unit_cost_minor)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE po_lines SET quantity_received = $4, quantity_rejected = $5 \
             WHERE tenant_id = $1 AND po_id = $2 AND line_no = $3",
        )
        .bind(order.tenant_id)
        .bind(order.id)
        .bind(line.line_no)
        .bind(line.received)
        .bind(line.rejected)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE purchase_orders SET status = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(order.tenant_id)
        .bind(order.id)
        .bind(order.status.code())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A purchase order as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Order {
    id: Uuid,
    number: String,
    vendor_id: Uuid,
    pub(crate) location_id: Uuid,
    place_of_supply: String,
    /// draft, approved, partially_received, received, closed, cancelled.
    status: String,
    expected_on: Option<NaiveDate>,
    #[schema(value_type = Object)]
    taxable: Money,
    #[schema(value_type = Object)]
    tax: Money,
    #[schema(value_type = Object)]
    total: Money,
    lines: Vec<OrderLine>,
}

/// One line of an order, with what has been received against it.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub(crate) struct OrderLine {
    line_no: i32,
    product_id: Uuid,
    sku: String,
    quantity: String,
    unit_price_minor: i64,
    gst_rate_bp: i32,
    taxable_minor: i64,
    tax_minor: i64,
    received: String,
    rejected: String,
}

#[derive(sqlx::FromRow)]
struct ViewHead {
    number: String,
    vendor_id: Uuid,
    location_id: Uuid,
    place_of_supply: String,
    currency: Currency,
    status: String,
    expected_on: Option<NaiveDate>,
    taxable_minor: i64,
    tax_minor: i64,
    total_minor: i64,
}

/// The order `id` as the API shows it.
pub(crate) async fn view(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<Order>, StoreError> {
    let Some(head): Option<ViewHead> = sqlx::query_as(
        "SELECT number, vendor_id, location_id, place_of_supply, currency, status, expected_on, \
         taxable_minor, tax_minor, total_minor FROM purchase_orders WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let lines: Vec<OrderLine> = sqlx::query_as(
        "SELECT l.line_no, l.product_id, p.sku, trim_scale(l.quantity)::text AS quantity, \
         l.unit_price_minor, l.gst_rate_bp, l.taxable_minor, l.tax_minor, \
         trim_scale(l.quantity_received)::text AS received, trim_scale(l.quantity_rejected)::text AS rejected \
         FROM po_lines l JOIN products p ON p.tenant_id = l.tenant_id AND p.id = l.product_id \
         WHERE l.tenant_id = $1 AND l.po_id = $2 ORDER BY l.line_no",
    )
    .bind(tenant)
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let currency = head.currency;
    Ok(Some(Order {
        id,
        number: head.number,
        vendor_id: head.vendor_id,
        location_id: head.location_id,
        place_of_supply: head.place_of_supply,
        status: head.status,
        expected_on: head.expected_on,
        taxable: Money::new(head.taxable_minor, currency),
        tax: Money::new(head.tax_minor, currency),
        total: Money::new(head.total_minor, currency),
        lines,
    }))
}

/// Orders matching the filters, newest first; `stores` keeps a store-scoped caller's.
pub(crate) async fn list(
    tx: &mut PgConnection,
    tenant: Uuid,
    status: Option<&str>,
    vendor: Option<Uuid>,
    stores: Option<Vec<Uuid>>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM purchase_orders WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2) \
         AND ($3::uuid IS NULL OR vendor_id = $3) \
         AND ($6::uuid[] IS NULL OR location_id IN \
              (SELECT id FROM known_locations WHERE tenant_id = $1 AND store_id = ANY($6))) \
         ORDER BY created_at DESC, id LIMIT $4 OFFSET $5",
    )
    .bind(tenant)
    .bind(status)
    .bind(vendor)
    .bind(limit)
    .bind(offset)
    .bind(stores)
    .fetch_all(tx)
    .await
}
