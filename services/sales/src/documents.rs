//! Sales' own documents as a projection of its own events: what `bazaar replay sales`
//! folds from `sales.events.v1` into fresh tables, through the same SQL the handlers
//! write with, to show the live tables are what the events say.
//!
//! It never runs live: the handlers write these tables in the transaction that raises
//! the events. Not among them: `invoice_series` and `credit_note_series`, the allocators
//! of gap-free numbers (with each terminal's last closed day, which the Z reports in
//! `day_closes` record); `discount_policies`, a tenant's setting no event changes; and
//! the copies of other services' facts (`stores`, `products`, `product_prices`,
//! `barcodes`, `customers`, `known_stores`).

use bazaar_platform::{
    consumer::{unhandled, ConsumedEvent, ProjectionError},
    service::{DocumentFold, Documents},
};
use bazaar_schemas::{events::sales as facts, Event as _};
use sqlx::PgConnection;

use crate::store;

/// Invoices, returns, held bills and Z reports.
pub type SalesDocuments = Documents<SalesFold>;

/// How sales's events write its tables.
pub struct SalesFold;

impl DocumentFold for SalesFold {
    const NAME: &'static str = "sales-documents";
    const TOPIC: &'static str = "sales.events.v1";
    const TABLES: &'static [&'static str] = &[
        "invoices",
        "invoice_lines",
        "invoice_payments",
        "invoice_exceptions",
        "sales_returns",
        "sales_return_lines",
        "held_bills",
        "day_closes",
    ];
    const EVENT_TYPES: &'static [&'static str] = &[
        facts::InvoiceIssued::TYPE,
        facts::InvoiceVoided::TYPE,
        facts::ReturnProcessed::TYPE,
        facts::BillHeld::TYPE,
        facts::BillClosed::TYPE,
        facts::DayClosed::TYPE,
    ];

    async fn apply(tx: &mut PgConnection, event: &ConsumedEvent) -> Result<(), ProjectionError> {
        match event.cloud.event_type.as_str() {
            facts::InvoiceIssued::TYPE => {
                store::invoice_issued(tx, &event.payload()?).await?;
            }
            facts::InvoiceVoided::TYPE => store::invoice_voided(tx, &event.payload()?).await?,
            facts::ReturnProcessed::TYPE => store::record_return(tx, &event.payload()?).await?,
            facts::BillHeld::TYPE => {
                store::bill_held(tx, &event.payload()?).await?;
            }
            facts::BillClosed::TYPE => {
                let closed: facts::BillClosed = event.payload()?;
                store::end_held_bill(tx, closed.tenant_id, closed.bill_id, &closed.status).await?;
            }
            facts::DayClosed::TYPE => {
                let closed: facts::DayClosed = event.payload()?;
                let (day, report) = crate::held::report_of(&closed)
                    .map_err(|e| format!("sales.day.closed with day {:?}: {e}", closed.day))?;
                let terminal = (closed.store_id, closed.terminal_id.as_str());
                let closer = (closed.closed_by, closed.closed_at);
                store::record_day_close(tx, closed.tenant_id, terminal, day, &report, closer)
                    .await?;
            }
            _ => return Err(unhandled(Self::NAME, event)),
        }
        Ok(())
    }
}
