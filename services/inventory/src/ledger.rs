//! The stock ledger. Every change of stock is a movement; stock levels and batches are
//! its fold, updated in the same transaction, and every movement is published as
//! `inventory.stock.moved` so the fold can be rebuilt from the topic.

use bazaar_platform::ids::{LocationId, ProductId};
use bazaar_schemas::events;
use std::collections::HashMap;

use bazaar_platform::outbox::{self, OutboxError};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{self, BatchStock};

/// Inventory's database name and `ce_source`.
pub const SERVICE: &str = "inventory";

/// A ledger read or write failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// An event could not be written to the outbox.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// What kind of movement changed stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Goods received from a vendor (or opening stock).
    Receipt,
    /// Sold on an invoice.
    Sale,
    /// Returned by a customer.
    Return,
    /// Adjusted with a reason code.
    Adjustment,
    /// Dispatched to another location.
    TransferOut,
    /// Received from another location.
    TransferIn,
    /// A count found more or less than the books.
    CountCorrection,
    /// Sent back to the vendor.
    PurchaseReturn,
}

impl Kind {
    /// The kind's code in the ledger and in events.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Receipt => "receipt",
            Kind::Sale => "sale",
            Kind::Return => "return",
            Kind::Adjustment => "adjustment",
            Kind::TransferOut => "transfer_out",
            Kind::TransferIn => "transfer_in",
            Kind::CountCorrection => "count_correction",
            Kind::PurchaseReturn => "purchase_return",
        }
    }
}

/// A product as inventory knows it, from catalog's events.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Product {
    /// The product.
    pub id: ProductId,
    /// Its SKU.
    pub sku: String,
    /// Decimal places its unit allows.
    pub unit_decimals: i16,
    /// The currency of its costs.
    pub currency: String,
    /// Available stock below this raises `inventory.low_stock`.
    pub reorder_level: Option<Decimal>,
    /// Archived products are no longer received or sold.
    pub archived: bool,
}

pub use crate::domain::Level;

/// One movement to record.
#[derive(Debug)]
pub struct Movement<'a> {
    /// Its id: random for commands, derived from the event for consumed events.
    pub id: Uuid,
    /// Where.
    pub location: LocationId,
    /// What.
    pub product: &'a Product,
    /// Which batch; empty for unbatched stock.
    pub batch: &'a str,
    /// The batch's expiry date.
    pub expiry: Option<NaiveDate>,
    /// Why.
    pub kind: Kind,
    /// Signed: positive in, negative out.
    pub quantity: Decimal,
    /// Cost per unit; `None` moves it at the current moving average.
    pub unit_cost: Option<Decimal>,
    /// Reason code or note.
    pub reason: Option<&'a str>,
    /// The document that caused it: (type, id).
    pub reference: (&'a str, String),
    /// The user, when a person did it.
    pub recorded_by: Option<Uuid>,
}

/// One movement as the fold applies it: what `inventory.stock.moved` carries.
#[derive(Debug, Clone)]
pub struct Fold<'a> {
    /// Where.
    pub location: LocationId,
    /// What.
    pub product: ProductId,
    /// Which batch.
    pub batch: &'a str,
    /// The batch's expiry date.
    pub expiry: Option<NaiveDate>,
    /// Signed quantity.
    pub quantity: Decimal,
    /// Cost per unit.
    pub unit_cost: Decimal,
    /// Ledger position.
    pub seq: i64,
    /// When.
    pub at: DateTime<Utc>,
}

/// Stock after a movement.
#[derive(Debug, Clone, Copy)]
pub struct Recorded {
    /// The unit cost the movement carried.
    pub unit_cost: Decimal,
    /// The movement's exact change in book value (see [`Level::moved`]): what the books
    /// post, which may differ from quantity times cost by a remainder or a revaluation.
    pub value: i64,
    /// The item's level after it (on hand over all batches, value and average cost).
    pub after: Level,
}

/// The message key of a location's stock of a product: its events stay in order.
pub fn item_key(location: LocationId, product: ProductId) -> String {
    format!("{location}/{product}")
}

/// Quantities and costs as events and the API show them: no trailing zeros.
pub fn decimal_text(value: Decimal) -> String {
    value.normalize().to_string()
}

/// Appends an inventory event to the outbox, keyed by `key`.
pub async fn event<E: bazaar_schemas::Event>(
    tx: &mut PgConnection,
    tenant: Uuid,
    key: &str,
    event: &E,
) -> Result<Uuid, OutboxError> {
    outbox::append_event(tx, SERVICE, tenant, key, event).await
}

/// A batch for the events of one transaction, appended with one statement.
pub fn events() -> outbox::Events {
    outbox::Events::new(SERVICE)
}

/// Locks a location's stock of a product, creating it empty. Every writer of that
/// stock takes this lock first, so an availability check and the write it allows
/// cannot interleave with another's.
pub async fn lock_level(
    tx: &mut PgConnection,
    tenant: Uuid,
    location: LocationId,
    product: ProductId,
) -> Result<Level, sqlx::Error> {
    lock_levels(tx, tenant, location, &[product])
        .await?
        .pop()
        .map(|(_, level)| level)
        .ok_or(sqlx::Error::RowNotFound)
}

/// Locks several products' levels at one location, creating the missing ones, in product
/// id order (the order every multi-product writer uses, so two carts never deadlock).
/// The levels come back in that order.
pub async fn lock_levels(
    tx: &mut PgConnection,
    tenant: Uuid,
    location: LocationId,
    products: &[ProductId],
) -> Result<Vec<(ProductId, Level)>, sqlx::Error> {
    let mut products = products.to_vec();
    products.sort();
    products.dedup();
    // One statement creates or locks each row, in the array's (sorted) order. Locking the
    // rows that exist first and creating the others after broke that order: two carts
    // with the same new item each waited for the other's row.
    let mut rows: Vec<(ProductId, Decimal, Decimal, i64)> = sqlx::query_as(
        "INSERT INTO stock_levels (tenant_id, location_id, product_id, last_movement_seq, last_moved_at) \
         SELECT $1, $2, item.product, 0, now() \
         FROM UNNEST($3::uuid[]) WITH ORDINALITY AS item (product, n) ORDER BY item.n \
         ON CONFLICT (tenant_id, location_id, product_id) DO UPDATE SET product_id = EXCLUDED.product_id \
         RETURNING product_id, on_hand, average_cost_minor, value_minor",
    )
    .bind(tenant)
    .bind(location)
    .bind(&products)
    .fetch_all(&mut *tx)
    .await?;
    rows.sort_by_key(|row| row.0);
    Ok(rows
        .into_iter()
        .map(|(product, on_hand, average_cost, value)| {
            (
                product,
                Level {
                    on_hand,
                    value,
                    average_cost,
                },
            )
        })
        .collect())
}

/// [`reserved`] for several products of one location, in one query.
pub async fn reserved_many(
    tx: &mut PgConnection,
    tenant: Uuid,
    location: LocationId,
    products: &[ProductId],
) -> Result<Vec<(ProductId, Decimal)>, sqlx::Error> {
    sqlx::query_as(
        // One index probe per product, as in `lock_levels`.
        "SELECT product, coalesce((SELECT sum(quantity) FROM reservation_lines \
           WHERE tenant_id = $1 AND location_id = $2 AND product_id = product AND open \
             AND expires_at > now()), 0) \
         FROM UNNEST($3::uuid[]) AS product",
    )
    .bind(tenant)
    .bind(location)
    .bind(products)
    .fetch_all(tx)
    .await
}

/// Stock held by live reservations (other than `except`).
pub async fn reserved(
    tx: &mut PgConnection,
    tenant: Uuid,
    location: LocationId,
    product: ProductId,
    except: Option<Uuid>,
) -> Result<Decimal, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(quantity), 0) FROM reservation_lines \
         WHERE tenant_id = $1 AND location_id = $2 AND product_id = $3 AND open \
           AND expires_at > now() AND reservation_id IS DISTINCT FROM $4",
    )
    .bind(tenant)
    .bind(location)
    .bind(product)
    .bind(except)
    .fetch_one(tx)
    .await
}

/// A location's batches of a product.
pub async fn batches(
    tx: &mut PgConnection,
    tenant: Uuid,
    location: LocationId,
    product: ProductId,
) -> Result<Vec<BatchStock>, sqlx::Error> {
    Ok(batches_of(tx, tenant, location, &[product])
        .await?
        .remove(&product)
        .unwrap_or_default())
}

/// A location's batches of several products, by product (a product without batches is
/// missing).
pub async fn batches_of(
    tx: &mut PgConnection,
    tenant: Uuid,
    location: LocationId,
    products: &[ProductId],
) -> Result<HashMap<ProductId, Vec<BatchStock>>, sqlx::Error> {
    let rows: Vec<(ProductId, String, Option<NaiveDate>, Decimal)> = sqlx::query_as(
        // One index probe per product, as in `lock_levels`.
        "SELECT b.product_id, b.batch, b.expiry_date, b.on_hand \
         FROM UNNEST($3::uuid[]) AS item (product), \
         LATERAL (SELECT product_id, batch, expiry_date, on_hand FROM stock_batches \
                  WHERE tenant_id = $1 AND location_id = $2 AND product_id = item.product) b",
    )
    .bind(tenant)
    .bind(location)
    .bind(products)
    .fetch_all(tx)
    .await?;
    let mut batches: HashMap<ProductId, Vec<BatchStock>> = HashMap::new();
    for (product, batch, expiry, on_hand) in rows {
        batches.entry(product).or_default().push(BatchStock {
            batch,
            expiry,
            on_hand,
        });
    }
    Ok(batches)
}

/// Records a movement: the ledger row, the fold into stock, `inventory.stock.moved`,
/// and the alerts it raises (stock falling below zero, low stock).
pub async fn record(
    tx: &mut PgConnection,
    tenant: Uuid,
    movement: Movement<'_>,
) -> Result<Recorded, LedgerError> {
    let (location, product) = (movement.location, movement.product.id);
    let level = lock_level(tx, tenant, location, product).await?;
    let held = if movement.quantity < Decimal::ZERO {
        reserved(tx, tenant, location, product, None).await?
    } else {
        Decimal::ZERO
    };
    record_locked(tx, tenant, movement, level, held).await
}

/// [`record`] for a caller that already holds the item's lock and knows its `level` and
/// what live reservations `held` of it (used only when stock leaves).
pub async fn record_locked(
    tx: &mut PgConnection,
    tenant: Uuid,
    movement: Movement<'_>,
    level: Level,
    held: Decimal,
) -> Result<Recorded, LedgerError> {
    let product = movement.product.id;
    let mut levels = HashMap::from([(product, level)]);
    let held = HashMap::from([(product, held)]);
    let mut events = events();
    let mut recorded = record_all_locked(
        tx,
        tenant,
        &[movement],
        &mut levels,
        &held,
        None,
        &mut events,
    )
    .await?;
    events.append(tx).await?;
    recorded
        .pop()
        .ok_or(LedgerError::Database(sqlx::Error::RowNotFound))
}

/// Records `movements` at one location, in order, with one statement for each table
/// whatever their number: the ledger rows, the items' levels and batches, and their
/// `inventory.stock.moved` events, pushed to `events` with the alerts they raise for the
/// caller to append. The caller holds the items' locks and passes their `levels`
/// (updated here to the levels after) and what live reservations `held` of each.
/// `costed_by` names the event that carries their costs together, when the caller
/// publishes one.
pub async fn record_all_locked(
    tx: &mut PgConnection,
    tenant: Uuid,
    movements: &[Movement<'_>],
    levels: &mut HashMap<ProductId, Level>,
    held: &HashMap<ProductId, Decimal>,
    costed_by: Option<&str>,
    events: &mut outbox::Events,
) -> Result<Vec<Recorded>, LedgerError> {
    // The fold first, in order: a later movement of an item starts from the earlier's level.
    let mut steps: Vec<(Level, Recorded)> = Vec::with_capacity(movements.len());
    for movement in movements {
        let product = movement.product.id;
        let before = levels
            .get(&product)
            .copied()
            .ok_or(LedgerError::Database(sqlx::Error::RowNotFound))?;
        let unit_cost = movement.unit_cost.unwrap_or(before.average_cost);
        let (after, value) = before.moved(movement.quantity, unit_cost);
        levels.insert(product, after);
        steps.push((
            before,
            Recorded {
                unit_cost,
                value,
                after,
            },
        ));
    }

    let rows: Vec<(Uuid, i64, DateTime<Utc>, Option<Uuid>)> = sqlx::query_as(
        // To the millisecond, as the events carry the time.
        "INSERT INTO stock_movements (id, tenant_id, location_id, product_id, batch, expiry_date, \
         kind, quantity, unit_cost_minor, reason, reference_type, reference_id, recorded_by, \
         value_minor, recorded_at) \
         SELECT m.id, $1, m.location, m.product, m.batch, m.expiry, m.kind, m.quantity, m.cost, \
                m.reason, m.ref_type, m.ref_id, m.by, m.value, date_trunc('milliseconds', now()) \
         FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::date[], $7::text[], \
                     $8::numeric[], $9::numeric[], $10::text[], $11::text[], $12::text[], $13::uuid[], \
                     $14::int8[]) \
           WITH ORDINALITY AS m(id, location, product, batch, expiry, kind, quantity, cost, reason, \
                                ref_type, ref_id, by, value, n) \
         ORDER BY m.n \
         RETURNING id, seq, recorded_at, \
           (SELECT store_id FROM locations WHERE tenant_id = $1 AND id = location_id)",
    )
    .bind(tenant)
    .bind(movements.iter().map(|m| m.id).collect::<Vec<_>>())
    .bind(movements.iter().map(|m| m.location).collect::<Vec<_>>())
    .bind(movements.iter().map(|m| m.product.id).collect::<Vec<_>>())
    .bind(movements.iter().map(|m| m.batch).collect::<Vec<_>>())
    .bind(movements.iter().map(|m| m.expiry).collect::<Vec<_>>())
    .bind(movements.iter().map(|m| m.kind.code()).collect::<Vec<_>>())
    .bind(movements.iter().map(|m| m.quantity).collect::<Vec<_>>())
    .bind(steps.iter().map(|(_, r)| r.unit_cost).collect::<Vec<_>>())
    .bind(movements.iter().map(|m| m.reason).collect::<Vec<_>>())
    .bind(movements.iter().map(|m| m.reference.0).collect::<Vec<_>>())
    .bind(movements.iter().map(|m| m.reference.1.as_str()).collect::<Vec<_>>())
    .bind(movements.iter().map(|m| m.recorded_by).collect::<Vec<_>>())
    .bind(steps.iter().map(|(_, r)| r.value).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;
    let written: HashMap<Uuid, (i64, DateTime<Utc>, Option<Uuid>)> = rows
        .into_iter()
        .map(|(id, seq, at, store)| (id, (seq, at, store)))
        .collect();
    let written = |m: &Movement<'_>| {
        written
            .get(&m.id)
            .copied()
            .ok_or(LedgerError::Database(sqlx::Error::RowNotFound))
    };

    // Each item's level as its last movement left it; each batch moved by the sum.
    let mut items: Vec<(Uuid, Uuid, Level, i64, DateTime<Utc>)> = Vec::new();
    let mut batches: Vec<(LocationId, ProductId, &str, Option<NaiveDate>, Decimal)> = Vec::new();
    for (movement, (_, recorded)) in movements.iter().zip(&steps) {
        let (seq, at, _) = written(movement)?;
        let (location, product) = (movement.location, movement.product.id);
        match items
            .iter_mut()
            .find(|i| (i.0, i.1) == (location.into(), product.into()))
        {
            Some(item) => *item = (location.into(), product.into(), recorded.after, seq, at),
            None => items.push((location.into(), product.into(), recorded.after, seq, at)),
        }
        match batches
            .iter_mut()
            .find(|b| (b.0, b.1, b.2) == (location, product, movement.batch))
        {
            Some(batch) => {
                batch.3 = batch.3.or(movement.expiry);
                batch.4 += movement.quantity;
            }
            None => batches.push((
                location,
                product,
                movement.batch,
                movement.expiry,
                movement.quantity,
            )),
        }
    }
    sqlx::query(
        "UPDATE stock_levels s SET on_hand = u.on_hand, average_cost_minor = u.cost, \
         value_minor = u.value, last_movement_seq = u.seq, last_moved_at = u.at \
         FROM UNNEST($2::uuid[], $3::uuid[], $4::numeric[], $5::numeric[], $6::int8[], $7::timestamptz[], \
                     $8::int8[]) \
           AS u(location, product, on_hand, cost, seq, at, value) \
         WHERE s.tenant_id = $1 AND s.location_id = u.location AND s.product_id = u.product",
    )
    .bind(tenant)
    .bind(items.iter().map(|i| i.0).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.1).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.2.on_hand).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.2.average_cost).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.3).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.4).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.2.value).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    add_to_batches(tx, tenant, &batches).await?;

    for (movement, (_, recorded)) in movements.iter().zip(&steps) {
        let (seq, at, store) = written(movement)?;
        let product = movement.product;
        let key = item_key(movement.location, product.id);
        events.push(
            tenant,
            &key,
            &events::inventory::StockMoved {
                tenant_id: tenant,
                movement_id: movement.id,
                seq,
                location_id: movement.location.into(),
                store_id: store,
                product_id: product.id.into(),
                sku: product.sku.clone(),
                batch: movement.batch.to_owned(),
                expiry_date: movement.expiry.map(|d| d.to_string()),
                kind: movement.kind.code().to_owned(),
                quantity: decimal_text(movement.quantity),
                unit_cost_minor: decimal_text(recorded.unit_cost),
                currency: product.currency.clone(),
                on_hand_after: decimal_text(recorded.after.on_hand),
                average_cost_after_minor: decimal_text(recorded.after.average_cost),
                value_minor: Some(recorded.value),
                reason: movement.reason.map(str::to_owned),
                reference_type: Some(movement.reference.0.to_owned()),
                reference_id: Some(movement.reference.1.clone()),
                recorded_by: movement.recorded_by,
                costed_by: costed_by.map(str::to_owned),
                recorded_at: at.timestamp_millis(),
            },
        )?;
    }

    // After the movements, so an item's alert follows its movements on its key.
    for (movement, (before, recorded)) in movements.iter().zip(&steps) {
        let (product, after) = (movement.product, recorded.after);
        let key = item_key(movement.location, product.id);
        // Once per crossing below zero, as low stock is: every further sale of an item
        // already short would otherwise raise it again.
        if after.on_hand < Decimal::ZERO && before.on_hand >= Decimal::ZERO {
            let (_, at, _) = written(movement)?;
            let negative = events::inventory::NegativeStock {
                tenant_id: tenant,
                location_id: movement.location.into(),
                product_id: product.id.into(),
                sku: product.sku.clone(),
                on_hand: decimal_text(after.on_hand),
                movement_id: movement.id,
                detected_at: at.timestamp_millis(),
            };
            events.push(tenant, &key, &negative)?;
        }
        if movement.quantity < Decimal::ZERO {
            let held = held.get(&product.id).copied().unwrap_or_default();
            let (before, after) = (before.on_hand - held, after.on_hand - held);
            alert_if_low(events, tenant, movement.location, product, before, after)?;
        }
    }
    Ok(steps.into_iter().map(|(_, recorded)| recorded).collect())
}

/// Raises `inventory.low_stock` when available stock crosses below the reorder level
/// (once per crossing, not on every sale below it).
pub fn alert_if_low(
    events: &mut outbox::Events,
    tenant: Uuid,
    location: LocationId,
    product: &Product,
    available_before: Decimal,
    available_after: Decimal,
) -> Result<(), OutboxError> {
    let Some(level) = product.reorder_level else {
        return Ok(());
    };
    if available_before >= level && available_after < level {
        let low = events::inventory::LowStock {
            tenant_id: tenant,
            location_id: location.into(),
            product_id: product.id.into(),
            sku: product.sku.clone(),
            available: decimal_text(available_after),
            reorder_level: decimal_text(level),
            detected_at: bazaar_schemas::now_millis(),
        };
        let key = item_key(location, product.id);
        events.push(tenant, &key, &low)?;
    }
    Ok(())
}

/// The unit cost at which `invoice`'s goods of `product` left: its sale movements'
/// quantity-weighted cost, to the ledger's four places. Goods coming back (a return, a
/// void) come back at it, and cost of goods sold is reversed at it, as they left; not at
/// today's average. `None` when inventory has not folded the sale yet (its event can
/// arrive after the return's): then the current average is all there is.
pub async fn issued_cost(
    tx: &mut PgConnection,
    tenant: Uuid,
    invoice: Uuid,
    product: ProductId,
) -> Result<Option<Decimal>, sqlx::Error> {
    let cost: Option<Decimal> = sqlx::query_scalar(
        "SELECT sum(quantity * unit_cost_minor) / nullif(sum(quantity), 0) FROM stock_movements \
         WHERE tenant_id = $1 AND reference_type = 'sales.invoice' AND reference_id = $2 \
           AND product_id = $3 AND kind = 'sale'",
    )
    .bind(tenant)
    .bind(invoice.to_string())
    .bind(product)
    .fetch_one(tx)
    .await?;
    Ok(cost.map(|c| {
        c.round_dp_with_strategy(
            domain::COST_DECIMALS,
            rust_decimal::RoundingStrategy::MidpointAwayFromZero,
        )
    }))
}

/// Folds one movement into stock levels and batches. The live path and a rebuild from
/// `inventory.stock.moved` both come through here, so they cannot disagree.
pub async fn apply(
    tx: &mut PgConnection,
    tenant: Uuid,
    fold: &Fold<'_>,
) -> Result<Level, sqlx::Error> {
    let level = lock_level(tx, tenant, fold.location, fold.product).await?;
    apply_locked(tx, tenant, fold, level).await
}

/// [`apply`] for a caller that already holds the item's lock and read its `level`.
async fn apply_locked(
    tx: &mut PgConnection,
    tenant: Uuid,
    fold: &Fold<'_>,
    level: Level,
) -> Result<Level, sqlx::Error> {
    // The value follows from the level and the movement, so a rebuild from the events
    // reaches the live value without reading it from them.
    let (after, _) = level.moved(fold.quantity, fold.unit_cost);
    sqlx::query(
        "UPDATE stock_levels SET on_hand = $4, average_cost_minor = $5, last_movement_seq = $6, \
         last_moved_at = $7, value_minor = $8 WHERE tenant_id = $1 AND location_id = $2 AND product_id = $3",
    )
    .bind(tenant)
    .bind(fold.location)
    .bind(fold.product)
    .bind(after.on_hand)
    .bind(after.average_cost)
    .bind(fold.seq)
    .bind(fold.at)
    .bind(after.value)
    .execute(&mut *tx)
    .await?;
    let batch = (
        fold.location,
        fold.product,
        fold.batch,
        fold.expiry,
        fold.quantity,
    );
    add_to_batches(tx, tenant, &[batch]).await?;
    Ok(after)
}

/// Moves each (location, product, batch, expiry, quantity) batch by its quantity, creating
/// the batches not seen before. One row per batch: a statement cannot update a row twice.
async fn add_to_batches(
    tx: &mut PgConnection,
    tenant: Uuid,
    batches: &[(LocationId, ProductId, &str, Option<NaiveDate>, Decimal)],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO stock_batches (tenant_id, location_id, product_id, batch, expiry_date, on_hand) \
         SELECT $1, * FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::date[], $6::numeric[]) \
         ON CONFLICT (tenant_id, location_id, product_id, batch) DO UPDATE \
         SET on_hand = stock_batches.on_hand + EXCLUDED.on_hand, \
             expiry_date = coalesce(stock_batches.expiry_date, EXCLUDED.expiry_date)",
    )
    .bind(tenant)
    .bind(batches.iter().map(|b| b.0).collect::<Vec<_>>())
    .bind(batches.iter().map(|b| b.1).collect::<Vec<_>>())
    .bind(batches.iter().map(|b| b.2).collect::<Vec<_>>())
    .bind(batches.iter().map(|b| b.3).collect::<Vec<_>>())
    .bind(batches.iter().map(|b| b.4).collect::<Vec<_>>())
    .execute(tx)
    .await?;
    Ok(())
}
