//! Inventory's own documents and its stock ledger as a projection of its own events: what
//! `bazaar replay inventory` folds from `inventory.events.v1` into fresh tables to show
//! the live tables are what the events say. Transfers and holds are written through the
//! same store functions the handlers use; a ledger row and a hold, whose place and time
//! the database gives live, are written from the place and time their events carry.
//!
//! It never runs live: the handlers write these tables in the transaction that raises
//! the events. Adjustments, counts and sales' costs are in the ledger's movements (their
//! own events tell the same movements again, for their readers). Not among them: `stock_levels` and `stock_batches`, a fold of the ledger
//! that `inventory-snapshots` rebuilds; `products` and `known_stores`, copies of other
//! services' facts; `expiry_alerts` and `tenants`, bookkeeping of the jobs.

use bazaar_platform::{
    consumer::{unhandled, ConsumedEvent, ProjectionError},
    service::{DocumentFold, Documents},
};
use bazaar_schemas::{events::inventory as facts, Event as _};
use sqlx::PgConnection;

use crate::store;

/// Locations, the stock ledger, transfers and reservations.
pub type InventoryDocuments = Documents<InventoryFold>;

/// How inventory's events write its tables.
pub struct InventoryFold;

impl DocumentFold for InventoryFold {
    const NAME: &'static str = "inventory-documents";
    const TOPIC: &'static str = "inventory.events.v1";
    const TABLES: &'static [&'static str] = &[
        "locations",
        "stock_movements",
        "transfers",
        "transfer_lines",
        "reservations",
        "reservation_lines",
    ];
    const EVENT_TYPES: &'static [&'static str] = &[
        facts::LocationAdded::TYPE,
        facts::StockMoved::TYPE,
        facts::StockTransferred::TYPE,
        facts::TransferReceived::TYPE,
        facts::ReservationCreated::TYPE,
        facts::ReservationReleased::TYPE,
    ];

    async fn apply(tx: &mut PgConnection, event: &ConsumedEvent) -> Result<(), ProjectionError> {
        match event.cloud.event_type.as_str() {
            facts::LocationAdded::TYPE => {
                store::location_added(tx, &event.payload()?).await?;
            }
            facts::StockMoved::TYPE => store::movement_replayed(tx, &event.payload()?).await?,
            facts::StockTransferred::TYPE => {
                store::transfer_replayed(tx, &event.payload()?).await?
            }
            facts::TransferReceived::TYPE => store::receipt_replayed(tx, &event.payload()?).await?,
            facts::ReservationCreated::TYPE => {
                store::reservation_replayed(tx, &event.payload()?).await?
            }
            facts::ReservationReleased::TYPE => {
                store::release_replayed(tx, &event.payload()?).await?
            }
            _ => return Err(unhandled(Self::NAME, event)),
        }
        Ok(())
    }
}
