//! Catalog's own tables as a projection of its own events: what `bazaar replay catalog`
//! folds from `catalog.events.v1` into fresh tables, through the same SQL the handlers
//! write with, to show the live tables are what the events say.
//!
//! It never runs live: the handlers write these tables in the transaction that raises
//! the events. `barcode_series` is not among them: it is the allocator of generated
//! barcodes' item numbers, like a document-number sequence, and no event is about it.

use bazaar_platform::{
    consumer::{unhandled, ConsumedEvent, ProjectionError},
    service::{DocumentFold, Documents},
};
use bazaar_schemas::{events::catalog as facts, Event as _};
use sqlx::PgConnection;

use crate::store;

/// The tables of categories, products and barcodes.
pub type CatalogDocuments = Documents<CatalogFold>;

/// How catalog's events write its tables.
pub struct CatalogFold;

impl DocumentFold for CatalogFold {
    const NAME: &'static str = "catalog-documents";
    const TOPIC: &'static str = "catalog.events.v1";
    const TABLES: &'static [&'static str] = &["categories", "products", "barcodes"];
    const EVENT_TYPES: &'static [&'static str] = &[
        facts::CategoryCreated::TYPE,
        facts::ProductCreated::TYPE,
        facts::ProductUpdated::TYPE,
        facts::PriceChanged::TYPE,
        facts::ProductArchived::TYPE,
        facts::BarcodeAssigned::TYPE,
    ];

    async fn apply(tx: &mut PgConnection, event: &ConsumedEvent) -> Result<(), ProjectionError> {
        // A conflict the handler would have refused cannot be in the history; were it
        // there, the row left out shows as a difference.
        match event.cloud.event_type.as_str() {
            facts::CategoryCreated::TYPE => {
                store::category_created(tx, &event.payload()?).await?;
            }
            facts::ProductCreated::TYPE => {
                store::products_created(tx, &[&event.payload()?]).await?;
            }
            facts::ProductUpdated::TYPE => store::product_updated(tx, &event.payload()?).await?,
            facts::PriceChanged::TYPE => store::price_changed(tx, &event.payload()?).await?,
            facts::ProductArchived::TYPE => store::product_archived(tx, &event.payload()?).await?,
            facts::BarcodeAssigned::TYPE => {
                store::barcodes_assigned(tx, &[&event.payload()?]).await?;
            }
            _ => return Err(unhandled(Self::NAME, event)),
        }
        Ok(())
    }
}
