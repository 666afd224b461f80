//! Purchase's own documents as a projection of its own events: what `bazaar replay
//! purchase` folds from `purchase.events.v1` into fresh tables, through the same `apply`
//! and the same SQL the handlers use, to show the live tables are what the events say.
//!
//! It never runs live: the handlers write these tables in the transaction that raises
//! the events.

use bazaar_platform::{
    consumer::{unhandled, ConsumedEvent, ProjectionError},
    service::{DocumentFold, Documents},
};
use bazaar_schemas::{events::purchase as facts, Event as _};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    domain::purchase_order::{Event, PurchaseOrder},
    store::purchase_order as orders,
};

/// The tables of purchase orders and goods receipts.
pub type PurchaseDocuments = Documents<PurchaseFold>;

/// How purchase's events write its tables.
pub struct PurchaseFold;

impl DocumentFold for PurchaseFold {
    const NAME: &'static str = "purchase-documents";
    const TOPIC: &'static str = "purchase.events.v1";
    const TABLES: &'static [&'static str] = &["purchase_orders", "po_lines", "grns", "grn_lines"];
    const EVENT_TYPES: &'static [&'static str] = &[
        facts::PurchaseOrderCreated::TYPE,
        facts::PurchaseOrderApproved::TYPE,
        facts::PurchaseOrderCancelled::TYPE,
        facts::PurchaseOrderClosed::TYPE,
        facts::GoodsReceived::TYPE,
    ];

    async fn apply(tx: &mut PgConnection, event: &ConsumedEvent) -> Result<(), ProjectionError> {
        let tenant = event.cloud.tenant;
        let (order, event) = match event.cloud.event_type.as_str() {
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
