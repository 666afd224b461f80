//! Partners' own tables as a projection of its own events: what `bazaar replay partners`
//! folds from `partners.events.v1` into fresh tables, through the same SQL the handlers
//! write with, to show the live tables are what the events say.
//!
//! It never runs live: the handlers write these tables in the transaction that raises
//! the events. Not among them: `vendor_bank_accounts` (account numbers never travel on
//! the topics in full), `loyalty_rules` (a tenant's setting, changed by no event), and
//! the ledgers and points, which `partner-ledgers` rebuilds from every service's topics.

use bazaar_platform::{
    consumer::{unhandled, ConsumedEvent, ProjectionError},
    service::{DocumentFold, Documents},
};
use bazaar_schemas::{events::partners as facts, Event as _};
use sqlx::PgConnection;

use crate::store;

/// The tables of customers, vendors and payments.
pub type PartnersDocuments = Documents<PartnersFold>;

/// How partners's events write its tables.
pub struct PartnersFold;

impl DocumentFold for PartnersFold {
    const NAME: &'static str = "partners-documents";
    const TOPIC: &'static str = "partners.events.v1";
    const TABLES: &'static [&'static str] = &["customers", "vendors", "payments"];
    const EVENT_TYPES: &'static [&'static str] = &[
        facts::CustomerCreated::TYPE,
        facts::CustomerUpdated::TYPE,
        facts::VendorCreated::TYPE,
        facts::VendorUpdated::TYPE,
        facts::PaymentReceived::TYPE,
        facts::PaymentMade::TYPE,
    ];

    async fn apply(tx: &mut PgConnection, event: &ConsumedEvent) -> Result<(), ProjectionError> {
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
            _ => return Err(unhandled(Self::NAME, event)),
        }
        Ok(())
    }
}
