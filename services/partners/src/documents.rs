//! Partners' own tables as a projection of its own events: what `bazaar replay partners`
//! folds from `partners.events.v1` into fresh tables, through the same SQL the handlers
//! write with, to show the live tables are what the events say.
//!
//! It never runs live: the handlers write these tables in the transaction that raises
//! the events. Not among them: `vendor_bank_accounts` (account numbers never travel on
//! the topics in full), `loyalty_rules` (a tenant's setting, changed by no event), and
//! the ledgers and points, which `partner-ledgers` rebuilds from every service's topics.

use bazaar_platform::consumer::{unhandled, ConsumedEvent, Projection, ProjectionError};
use bazaar_schemas::{events::partners as facts, Event as _};
use sqlx::PgConnection;

use crate::store;

/// Its name in `processed_events` and the replay's schema.
pub const NAME: &str = "partners-documents";

/// The tables of customers, vendors and payments.
pub struct PartnersDocuments {
    topics: Vec<String>,
}

impl Default for PartnersDocuments {
    fn default() -> Self {
        Self {
            topics: vec!["partners.events.v1".to_owned()],
        }
    }
}

impl PartnersDocuments {
    /// The projection on other topics than the usual one (tests use their own).
    pub fn reading(topics: Vec<String>) -> Self {
        Self { topics }
    }
}

impl bazaar_platform::service::TableProjection for PartnersDocuments {
    const TABLES: &'static [&'static str] = &["customers", "vendors", "payments"];
}

impl Projection for PartnersDocuments {
    fn name(&self) -> &str {
        NAME
    }

    fn topics(&self) -> Vec<String> {
        self.topics.clone()
    }

    fn event_types(&self) -> &[&'static str] {
        &[
            facts::CustomerCreated::TYPE,
            facts::CustomerUpdated::TYPE,
            facts::VendorCreated::TYPE,
            facts::VendorUpdated::TYPE,
            facts::PaymentReceived::TYPE,
            facts::PaymentMade::TYPE,
        ]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> Result<(), ProjectionError> {
        // A conflict the handler would have refused cannot be in the history; were it
        // there, the row left out shows as a difference.
        match event.cloud.event_type.as_str() {
            facts::CustomerCreated::TYPE | facts::CustomerUpdated::TYPE => {
                let customer = event.payload_into::<facts::CustomerCreated, _>()?;
                let created = event.is::<facts::CustomerCreated>();
                store::customer_written(tx, &customer, created).await?;
            }
            facts::VendorCreated::TYPE | facts::VendorUpdated::TYPE => {
                let vendor = event.payload_into::<facts::VendorCreated, _>()?;
                let created = event.is::<facts::VendorCreated>();
                store::vendor_written(tx, &vendor, created).await?;
            }
            facts::PaymentReceived::TYPE | facts::PaymentMade::TYPE => {
                let paid = event.payload_into::<facts::PaymentMade, _>()?;
                let kind = if event.is::<facts::PaymentMade>() {
                    "vendor"
                } else {
                    "customer"
                };
                store::insert_payment(tx, kind, &paid).await?;
            }
            _ => return Err(unhandled(NAME, event)),
        }
        Ok(())
    }
}
