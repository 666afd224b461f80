//! Purchase's own documents as a projection of its own events: what `bazaar replay
//! purchase` folds from `purchase.events.v1` into fresh tables, through the same `apply`
//! and the same SQL the handlers use, to show the live tables are what the events say.
//!
//! It never runs live: the handlers write these tables in the transaction that raises
//! the events. Not among them: `document_series` (the numbers' allocator),
//! `vendor_prices` (a tenant's setting no event changes), and the copies of other
//! services' facts (`vendors`, `products`, `stock_positions`, `daily_sales`,
//! `known_locations`).

use bazaar_platform::{
    consumer::{unhandled, ConsumedEvent, ProjectionError},
    service::{DocumentFold, Documents},
};
use bazaar_schemas::{events::purchase as facts, Event as _};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    domain::purchase_order::{Event, PurchaseOrder},
    store::{purchase_order as orders, purchase_return as returns, vendor_invoice as invoices},
};

/// The tables of purchase orders, goods receipts, vendor invoices and returns.
pub type PurchaseDocuments = Documents<PurchaseFold>;

/// How purchase's events write its tables.
pub struct PurchaseFold;

impl DocumentFold for PurchaseFold {
    const NAME: &'static str = "purchase-documents";
    const TOPIC: &'static str = "purchase.events.v1";
    const TABLES: &'static [&'static str] = &[
        "purchase_orders",
        "po_lines",
        "grns",
        "grn_lines",
        "purchase_invoices",
        "invoice_lines",
        "invoice_allocations",
        "purchase_returns",
    ];
    const EVENT_TYPES: &'static [&'static str] = &[
        facts::PurchaseOrderCreated::TYPE,
        facts::PurchaseOrderApproved::TYPE,
        facts::PurchaseOrderCancelled::TYPE,
        facts::PurchaseOrderClosed::TYPE,
        facts::GoodsReceived::TYPE,
        facts::PurchaseInvoiceHeld::TYPE,
        facts::PurchaseInvoiceRecorded::TYPE,
        facts::PurchaseReturnProcessed::TYPE,
    ];

    async fn apply(tx: &mut PgConnection, event: &ConsumedEvent) -> Result<(), ProjectionError> {
        let tenant = event.cloud.tenant;
        let (order, event) = match event.cloud.event_type.as_str() {
            facts::PurchaseInvoiceHeld::TYPE | facts::PurchaseInvoiceRecorded::TYPE => {
                let recorded: facts::PurchaseInvoiceRecorded =
                    event.payload_into::<facts::PurchaseInvoiceHeld, _>()?;
                // An approval of a held invoice; any other is the invoice written whole.
                match recorded.approved_by {
                    Some(by) => invoices::approve(tx, tenant, recorded.invoice_id, by).await?,
                    None => invoices::invoice_written(tx, &recorded).await?,
                };
                return Ok(());
            }
            facts::PurchaseReturnProcessed::TYPE => {
                return Ok(returns::record(tx, &event.payload()?).await?);
            }
            facts::PurchaseOrderCreated::TYPE => {
                let created: facts::PurchaseOrderCreated = event.payload()?;
                // Places only matter to the checks of a receipt, which replays do not make.
                let order = PurchaseOrder::created(&created, |_| 0)?;
                return Ok(orders::save(tx, &order, &[Event::Created(created)]).await?);
            }
            facts::PurchaseOrderApproved::TYPE => {
                let e: facts::PurchaseOrderApproved = event.payload()?;
                (e.po_id, Event::Approved(e))
            }
            facts::PurchaseOrderCancelled::TYPE => {
                let e: facts::PurchaseOrderCancelled = event.payload()?;
                (e.po_id, Event::Cancelled(e))
            }
            facts::PurchaseOrderClosed::TYPE => {
                let e: facts::PurchaseOrderClosed = event.payload()?;
                (e.po_id, Event::Closed(e))
            }
            facts::GoodsReceived::TYPE => {
                let e: facts::GoodsReceived = event.payload()?;
                (e.purchase_order_id, Event::Received(e))
            }
            _ => return Err(unhandled(Self::NAME, event)),
        };
        let mut state = load(tx, tenant, order).await?;
        state.apply(&event)?;
        Ok(orders::save(tx, &state, &[event]).await?)
    }
}

async fn load(
    tx: &mut PgConnection,
    tenant: Uuid,
    order: Uuid,
) -> Result<PurchaseOrder, ProjectionError> {
    orders::load(tx, tenant, order, true).await?.ok_or_else(|| {
        format!("an event of purchase order {order}, which was never created").into()
    })
}
