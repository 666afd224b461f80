//! Purchase's own documents as a projection of its own events: what `bazaar replay
//! purchase` folds from `purchase.events.v1` into fresh tables, through the same `apply`
//! and the same SQL the handlers use, to show the live tables are what the events say.
//!
//! It never runs live: the handlers write these tables in the transaction that raises
//! the events.

use bazaar_platform::consumer::{unhandled, ConsumedEvent, Projection, ProjectionError};
use bazaar_schemas::{events::purchase as facts, Event as _};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    domain::purchase_order::{Event, PurchaseOrder},
    store::purchase_order as orders,
};

/// Its name in `processed_events` and the replay's schema.
pub const NAME: &str = "purchase-documents";

/// The tables of purchase orders and goods receipts.
pub struct PurchaseDocuments {
    topics: Vec<String>,
}

impl Default for PurchaseDocuments {
    fn default() -> Self {
        Self {
            topics: vec!["purchase.events.v1".to_owned()],
        }
    }
}

impl PurchaseDocuments {
    /// The projection on other topics than the usual one (tests use their own).
    pub fn reading(topics: Vec<String>) -> Self {
        Self { topics }
    }
}

impl bazaar_platform::service::TableProjection for PurchaseDocuments {
    const TABLES: &'static [&'static str] = &["purchase_orders", "po_lines", "grns", "grn_lines"];
}

impl Projection for PurchaseDocuments {
    fn name(&self) -> &str {
        NAME
    }

    fn topics(&self) -> Vec<String> {
        self.topics.clone()
    }

    fn event_types(&self) -> &[&'static str] {
        &[
            facts::PurchaseOrderCreated::TYPE,
            facts::PurchaseOrderApproved::TYPE,
            facts::PurchaseOrderCancelled::TYPE,
            facts::PurchaseOrderClosed::TYPE,
            facts::GoodsReceived::TYPE,
        ]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> Result<(), ProjectionError> {
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
            _ => return Err(unhandled(NAME, event)),
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
