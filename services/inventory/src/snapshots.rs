//! `inventory-snapshots`: what other services' events do to stock. Catalog tells which
//! products exist, and identity which stores a location may be for; a sale consumes its
//! reservation and takes stock out (an issued invoice is a fact, so stock may go
//! negative and raise `inventory.negative_stock`); a return (or a void) puts stock back;
//! a goods receipt brings stock in at its cost, and a return to the vendor takes it out
//! again.

use bazaar_platform::ids::ProductId;
use bazaar_schemas::{events, Event as _};
use std::collections::HashMap;

use bazaar_platform::{
    consumer::{unhandled, ConsumedEvent, Projection, ProjectionError},
    stores,
};
use bazaar_schemas::events::{
    purchase::GoodsReceived,
    sales::{InvoiceIssued, InvoiceIssuedInvoiceLine},
};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    domain::{self, BatchStock},
    ledger::{self, Kind, Level, Movement, Product},
    store::{self, ProductFacts},
};

/// The projection's consumer group and name in `processed_events`.
pub const NAME: &str = "inventory-snapshots";

/// Applies catalog, sales and purchase events to inventory.
pub struct InventorySnapshots {
    topics: Vec<String>,
}

impl Default for InventorySnapshots {
    fn default() -> Self {
        Self::reading(
            [
                "catalog.events.v1",
                "sales.events.v1",
                "purchase.events.v1",
                "identity.events.v1",
            ]
            .map(str::to_owned)
            .to_vec(),
        )
    }
}

impl InventorySnapshots {
    /// The projection on other topics than the usual ones (tests use their own).
    pub fn reading(topics: Vec<String>) -> Self {
        Self { topics }
    }
}

impl Projection for InventorySnapshots {
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
            InvoiceIssued::TYPE,
            events::sales::ReturnProcessed::TYPE,
            events::sales::InvoiceVoided::TYPE,
            events::purchase::GoodsReceived::TYPE,
            events::purchase::PurchaseReturnProcessed::TYPE,
            stores::OPENED,
        ]
    }

    /// A poll's events share a transaction: their items are all locked first, in
    /// location then product order, so they keep to the order reservations lock in.
    fn shares_transactions(&self) -> bool {
        true
    }

    /// A few at a time: tills reserving the same items wait while they are locked (a
    /// whole poll at a time halved the tills' checkouts per second in `bench pos`).
    fn events_per_transaction(&self) -> usize {
        4
    }

    async fn apply_all(
        &self,
        tx: &mut PgConnection,
        events: &[&ConsumedEvent],
    ) -> Result<(), ProjectionError> {
        lock_poll(tx, events).await?;
        for event in events {
            self.apply(tx, event).instrument(event.span(NAME)).await?;
        }
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> Result<(), ProjectionError> {
        let tenant = event.cloud.tenant;
        let kind = event.cloud.event_type.as_str();
        // A sale locks its items itself, as it reads their levels; the other documents'
        // lines lock one at a time, so their items are locked together first.
        if kind != InvoiceIssued::TYPE {
            lock_poll(tx, &[event]).await?;
        }
        match kind {
            stores::OPENED => stores::record_opened(tx, event).await?,
            events::catalog::ProductCreated::TYPE => {
                let created: events::catalog::ProductCreated = event.payload()?;
                let facts = ProductFacts {
                    id: created.product_id,
                    sku: created.sku,
                    unit_decimals: i16::try_from(created.unit_decimals)?,
                    currency: created.currency,
                    reorder_level: created
                        .reorder_level
                        .as_deref()
                        .map(str::parse)
                        .transpose()?,
                };
                store::upsert_product(tx, tenant, &facts).await?;
                store::register_tenant(tx, tenant).await?;
            }
            events::catalog::ProductUpdated::TYPE => {
                let updated: events::catalog::ProductUpdated = event.payload()?;
                let level = updated
                    .reorder_level
                    .as_deref()
                    .map(str::parse)
                    .transpose()?;
                store::set_reorder_level(tx, tenant, updated.product_id, level).await?;
            }
            events::catalog::ProductArchived::TYPE => {
                let archived: events::catalog::ProductArchived = event.payload()?;
                store::archive_product(tx, tenant, archived.product_id).await?;
            }
            InvoiceIssued::TYPE => sale(tx, event, event.payload()?).await?,
            events::sales::ReturnProcessed::TYPE => {
                sales_return(tx, event, event.payload()?).await?
            }
            events::sales::InvoiceVoided::TYPE => voided(tx, event, event.payload()?).await?,
            events::purchase::GoodsReceived::TYPE => {
                goods_received(tx, event, event.payload()?).await?
            }
            events::purchase::PurchaseReturnProcessed::TYPE => {
                returned_to_vendor(tx, event, event.payload()?).await?
            }
            // Held bills, day closes, purchase orders...: not stock.
            _ => return Err(unhandled(NAME, event)),
        }
        Ok(())
    }
}

/// A movement id derived from the event, so applying an event twice (even past
/// `processed_events`, e.g. after a rebuild) cannot record its movements twice.
fn movement_id(event: &ConsumedEvent, part: &str) -> Uuid {
    Uuid::new_v5(&event.cloud.id, part.as_bytes())
}

async fn product(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Product, ProjectionError> {
    store::product(tx, tenant, id)
        .await?
        .ok_or_else(|| format!("product {id} is not in inventory's catalog").into())
}

async fn store_location(
    tx: &mut PgConnection,
    tenant: Uuid,
    store: Uuid,
) -> Result<Uuid, ProjectionError> {
    Ok((store::location_of_store(tx, tenant, store)
        .await?
        .ok_or_else(|| format!("store {store} has no inventory location"))?
        .id)
        .into())
}

/// Where an event moves stock: a store's location, or a location it names.
enum At {
    Store(Uuid),
    Location(Uuid),
}

/// Locks the stock `events` (one tenant's) move, before any is applied: location by
/// location and product by product, one statement per location, the order every writer
/// keeps. Locked as they come (one event after another, or a document line by line), a
/// lower item could be taken after a higher one and deadlock with a till.
async fn lock_poll(
    tx: &mut PgConnection,
    events: &[&ConsumedEvent],
) -> Result<(), ProjectionError> {
    let Some(tenant) = events.first().map(|e| e.cloud.tenant) else {
        return Ok(());
    };
    let mut stores: HashMap<Uuid, Uuid> = HashMap::new();
    let mut items: std::collections::BTreeMap<Uuid, Vec<ProductId>> = Default::default();
    for event in events {
        let (at, moved): (At, Vec<Uuid>) = match event.cloud.event_type.as_str() {
            InvoiceIssued::TYPE => {
                let sale: InvoiceIssued = event.payload()?;
                (
                    At::Store(sale.store_id),
                    sale.lines.iter().map(|l| l.product_id).collect(),
                )
            }
            events::sales::InvoiceVoided::TYPE => {
                let void: events::sales::InvoiceVoided = event.payload()?;
                (
                    At::Store(void.store_id),
                    void.lines.iter().map(|l| l.product_id).collect(),
                )
            }
            events::sales::ReturnProcessed::TYPE => {
                let back: events::sales::ReturnProcessed = event.payload()?;
                let restocked = back.lines.iter().filter(|l| l.restock);
                (
                    At::Store(back.store_id),
                    restocked.map(|l| l.product_id).collect(),
                )
            }
            events::purchase::GoodsReceived::TYPE => {
                let grn: GoodsReceived = event.payload()?;
                (At::Location(grn.location_id), received(&grn).collect())
            }
            events::purchase::PurchaseReturnProcessed::TYPE => {
                let back: events::purchase::PurchaseReturnProcessed = event.payload()?;
                let items = back.lines.iter().map(|l| l.product_id);
                (At::Location(back.location_id), items.collect())
            }
            _ => continue, // catalog's: no stock
        };
        let location = match at {
            At::Location(location) => location,
            At::Store(store) => match stores.get(&store) {
                Some(location) => *location,
                None => {
                    let location = store_location(tx, tenant, store).await?;
                    stores.insert(store, location);
                    location
                }
            },
        };
        items
            .entry(location)
            .or_default()
            .extend(moved.into_iter().map(ProductId::from));
    }
    for (location, products) in items {
        ledger::lock_levels(tx, tenant, location.into(), &products).await?;
    }
    Ok(())
}

/// The items a goods receipt brings in: a line rejected whole moves nothing, and gets no
/// stock row.
fn received(grn: &GoodsReceived) -> impl Iterator<Item = Uuid> + '_ {
    grn.lines
        .iter()
        .filter(|l| {
            l.quantity_received
                .trim()
                .parse::<Decimal>()
                .is_ok_and(|q| q > Decimal::ZERO)
        })
        .map(|l| l.product_id)
}

fn quantity(text: &str) -> Result<Decimal, ProjectionError> {
    let value: Decimal = text.trim().parse()?;
    if value <= Decimal::ZERO {
        return Err(format!("quantity {text:?} is not positive").into());
    }
    Ok(value)
}

async fn sale(
    tx: &mut PgConnection,
    event: &ConsumedEvent,
    invoice: InvoiceIssued,
) -> Result<(), ProjectionError> {
    let tenant = event.cloud.tenant;
    let location = store_location(tx, tenant, invoice.store_id).await?;
    // The sale's events, appended together at the end.
    let mut events = ledger::events();
    // An expired or released hold does not stop the sale: the invoice is issued.
    if let Some(reservation) = invoice.reservation_id {
        let reference = invoice.invoice_id.to_string();
        crate::http::close_reservation(
            tx,
            tenant,
            reservation,
            location,
            "consumed",
            Some(&reference),
            &mut events,
        )
        .await?;
    }
    // The invoice's items are read and locked together, in product order as every
    // writer locks them, and each line then costs only its own writes.
    let mut lines: Vec<&InvoiceIssuedInvoiceLine> = invoice.lines.iter().collect();
    lines.sort_by_key(|l| (l.product_id, l.line_no));
    let mut items: Vec<ProductId> = lines.iter().map(|l| l.product_id.into()).collect();
    items.dedup();
    let products: HashMap<ProductId, Product> = store::products(tx, tenant, &items)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let mut levels: HashMap<ProductId, Level> =
        ledger::lock_levels(tx, tenant, location.into(), &items)
            .await?
            .into_iter()
            .collect();
    let held: HashMap<ProductId, Decimal> =
        ledger::reserved_many(tx, tenant, location.into(), &items)
            .await?
            .into_iter()
            .collect();
    let mut stock = ledger::batches_of(tx, tenant, location.into(), &items).await?;
    let reference = invoice.invoice_id.to_string();
    // What each line draws from which batch; a later line of an item draws from what
    // the earlier left.
    let mut draws = Vec::new();
    for line in lines {
        let product = products
            .get(&line.product_id.into())
            .ok_or_else(|| format!("product {} is not in inventory's catalog", line.product_id))?;
        let wanted = quantity(&line.quantity)?;
        let batches = stock.entry(product.id).or_default();
        for take in domain::draw(batches, wanted) {
            match batches.iter_mut().find(|b| b.batch == take.batch) {
                Some(batch) => batch.on_hand -= take.on_hand,
                None => batches.push(BatchStock {
                    on_hand: -take.on_hand,
                    ..take.clone()
                }),
            }
            draws.push((line.line_no, product, take));
        }
    }
    let movements: Vec<Movement<'_>> = draws
        .iter()
        .map(|(line_no, product, take)| Movement {
            id: movement_id(event, &format!("{line_no}/{}", take.batch)),
            location: location.into(),
            product,
            batch: &take.batch,
            expiry: take.expiry,
            kind: Kind::Sale,
            quantity: -take.on_hand,
            unit_cost: None,
            reason: None,
            reference: ("sales.invoice", reference.clone()),
            recorded_by: None,
        })
        .collect();
    for movement in &movements {
        if !levels.contains_key(&movement.product.id) {
            return Err(format!("no stock level locked for {}", movement.product.sku).into());
        }
    }
    let Some(first) = movements.first() else {
        events.append(tx).await?;
        return Ok(());
    };
    // The books post a sale's cost once, from one event for the invoice, not once per
    // movement: the movements name that event, and their own cost is not posted.
    let costed = events::inventory::SaleCosted::TYPE;
    let recorded = ledger::record_all_locked(
        tx,
        tenant,
        &movements,
        &mut levels,
        &held,
        Some(costed),
        &mut events,
    )
    .await?;
    let lines: Vec<events::inventory::SaleCostedCostedMovement> = movements
        .iter()
        .zip(&recorded)
        .map(
            |(movement, recorded)| events::inventory::SaleCostedCostedMovement {
                movement_id: movement.id,
                product_id: movement.product.id.into(),
                sku: movement.product.sku.clone(),
                batch: movement.batch.to_string(),
                quantity: ledger::decimal_text(-movement.quantity),
                unit_cost_minor: ledger::decimal_text(recorded.unit_cost),
                value_minor: -recorded.value,
            },
        )
        .collect();
    let sale = events::inventory::SaleCosted {
        tenant_id: tenant,
        invoice_id: invoice.invoice_id,
        invoice_number: invoice.invoice_number.clone(),
        location_id: location,
        store_id: Some(invoice.store_id),
        currency: first.product.currency.clone(),
        cost_minor: lines.iter().map(|l| l.value_minor).sum(),
        lines,
        costed_at: bazaar_schemas::now_millis(),
    };
    events.push(tenant, &reference, &sale)?;
    events.append(tx).await?;
    Ok(())
}

async fn sales_return(
    tx: &mut PgConnection,
    event: &ConsumedEvent,
    returned: events::sales::ReturnProcessed,
) -> Result<(), ProjectionError> {
    let tenant = event.cloud.tenant;
    let location = store_location(tx, tenant, returned.store_id).await?;
    for line in returned.lines.iter().filter(|l| l.restock) {
        let product = product(tx, tenant, line.product_id).await?;
        let unit_cost = ledger::issued_cost(tx, tenant, returned.invoice_id, product.id).await?;
        ledger::record(
            tx,
            tenant,
            Movement {
                id: movement_id(event, &line.line_no.to_string()),
                location: location.into(),
                product: &product,
                batch: "",
                expiry: None,
                kind: Kind::Return,
                quantity: quantity(&line.quantity)?,
                unit_cost,
                reason: None,
                reference: ("sales.return", returned.return_id.to_string()),
                recorded_by: None,
            },
        )
        .await?;
    }
    Ok(())
}

async fn goods_received(
    tx: &mut PgConnection,
    event: &ConsumedEvent,
    grn: GoodsReceived,
) -> Result<(), ProjectionError> {
    let tenant = event.cloud.tenant;
    store::location(tx, tenant, grn.location_id)
        .await?
        .ok_or_else(|| format!("no location {}", grn.location_id))?;
    for (index, line) in grn.lines.iter().enumerate() {
        let received: Decimal = line.quantity_received.trim().parse()?;
        if received <= Decimal::ZERO {
            continue; // all of it rejected
        }
        let product = product(tx, tenant, line.product_id).await?;
        let expiry: Option<NaiveDate> = line.expiry_date.as_deref().map(str::parse).transpose()?;
        ledger::record(
            tx,
            tenant,
            Movement {
                id: movement_id(event, &index.to_string()),
                location: grn.location_id.into(),
                product: &product,
                batch: line.batch.trim(),
                expiry,
                kind: Kind::Receipt,
                quantity: received,
                unit_cost: Some(Decimal::from(line.unit_cost_minor)),
                reason: None,
                reference: ("purchase.grn", grn.grn_id.to_string()),
                recorded_by: None,
            },
        )
        .await?;
    }
    Ok(())
}

/// Goods sent back to a vendor leave the batch they came in, at the cost they came in at
/// (what the vendor credits, and what finance takes off goods received not invoiced),
/// whichever of the receipt and the return inventory applies first; the return is a
/// fact, so stock may go negative.
async fn returned_to_vendor(
    tx: &mut PgConnection,
    event: &ConsumedEvent,
    returned: events::purchase::PurchaseReturnProcessed,
) -> Result<(), ProjectionError> {
    let tenant = event.cloud.tenant;
    for (index, line) in returned.lines.iter().enumerate() {
        let product = product(tx, tenant, line.product_id).await?;
        let expiry = ledger::batches(tx, tenant, returned.location_id.into(), product.id)
            .await?
            .into_iter()
            .find(|b| b.batch == line.batch)
            .and_then(|b| b.expiry);
        ledger::record(
            tx,
            tenant,
            Movement {
                id: movement_id(event, &index.to_string()),
                location: returned.location_id.into(),
                product: &product,
                batch: line.batch.trim(),
                expiry,
                kind: Kind::PurchaseReturn,
                quantity: -quantity(&line.quantity)?,
                unit_cost: Some(Decimal::from(line.unit_cost_minor)),
                reason: None,
                reference: ("purchase.return", returned.return_id.to_string()),
                recorded_by: None,
            },
        )
        .await?;
    }
    Ok(())
}

/// A voided invoice never happened: its goods go back on the shelf.
async fn voided(
    tx: &mut PgConnection,
    event: &ConsumedEvent,
    voided: events::sales::InvoiceVoided,
) -> Result<(), ProjectionError> {
    let tenant = event.cloud.tenant;
    let location = store_location(tx, tenant, voided.store_id).await?;
    for line in &voided.lines {
        let product = product(tx, tenant, line.product_id).await?;
        let unit_cost = ledger::issued_cost(tx, tenant, voided.invoice_id, product.id).await?;
        ledger::record(
            tx,
            tenant,
            Movement {
                id: movement_id(event, &line.line_no.to_string()),
                location: location.into(),
                product: &product,
                batch: "",
                expiry: None,
                kind: Kind::Return,
                quantity: quantity(&line.quantity)?,
                unit_cost,
                reason: Some("void"),
                reference: ("sales.void", voided.invoice_id.to_string()),
                recorded_by: None,
            },
        )
        .await?;
    }
    Ok(())
}
