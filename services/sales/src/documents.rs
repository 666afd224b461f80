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

use bazaar_platform::consumer::{unhandled, ConsumedEvent, Projection, ProjectionError};
use bazaar_schemas::{events::sales as facts, Event as _};
use sqlx::PgConnection;

use crate::store;

/// Its name in `processed_events` and the replay's schema.
pub const NAME: &str = "sales-documents";

/// Invoices, returns, held bills and Z reports.
pub struct SalesDocuments {
    topics: Vec<String>,
}

impl Default for SalesDocuments {
    fn default() -> Self {
        Self {
            topics: vec!["sales.events.v1".to_owned()],
        }
    }
}

impl SalesDocuments {
    /// The projection on other topics than the usual one (tests use their own).
    pub fn reading(topics: Vec<String>) -> Self {
        Self { topics }
    }
}

impl bazaar_platform::service::TableProjection for SalesDocuments {
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
}

impl Projection for SalesDocuments {
    fn name(&self) -> &str {
        NAME
    }

    fn topics(&self) -> Vec<String> {
        self.topics.clone()
    }

    fn event_types(&self) -> &[&'static str] {
        &[
            facts::InvoiceIssued::TYPE,
            facts::InvoiceVoided::TYPE,
            facts::ReturnProcessed::TYPE,
            facts::BillHeld::TYPE,
            facts::BillClosed::TYPE,
            facts::DayClosed::TYPE,
        ]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> Result<(), ProjectionError> {
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
            _ => return Err(unhandled(NAME, event)),
        }
        Ok(())
    }
}
