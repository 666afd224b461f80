//! `finance-ledger`: the general ledger posted from the topics, one entry per event that
//! moves money, by the rules in `rules`. An event type without a rule is an error, so it
//! reaches the DLQ after its retries instead of vanishing from the books. Tax documents
//! also go to the GST register (`gst`), in the same transaction.

use bazaar_platform::{
    consumer::{ConsumedEvent, Projection, ProjectionError},
    db,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    chart, gst,
    journal::{self, NewEntry, NewLine},
    rules::{self, Posting, Rule},
};

/// The projection's consumer group and name in `processed_events`.
pub const NAME: &str = "finance-ledger";

/// The domains whose topics it reads.
pub const DOMAINS: [&str; 4] = ["sales", "inventory", "purchase", "partners"];

/// Posts the business events to the journal.
pub struct FinanceLedger {
    topics: Vec<String>,
}

impl Default for FinanceLedger {
    fn default() -> Self {
        Self::reading(DOMAINS.map(|d| format!("{d}.events.v1")).to_vec())
    }
}

impl FinanceLedger {
    /// The projection on other topics than the usual ones (tests use their own).
    pub fn reading(topics: Vec<String>) -> Self {
        Self { topics }
    }
}

/// `sales.invoice.voided`, as finance reads it.
#[derive(Deserialize)]
struct Voided {
    invoice_number: String,
    reason: String,
    voided_at: i64,
}

impl Projection for FinanceLedger {
    fn name(&self) -> &str {
        NAME
    }

    fn topics(&self) -> Vec<String> {
        self.topics.clone()
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> Result<(), ProjectionError> {
        let event_type = event.cloud.event_type.as_str();
        let rule =
            rules::rule(event_type).ok_or_else(|| format!("no posting rule for {event_type}"))?;
        let posting = match rule {
            Rule::Nothing(_) => return Ok(()),
            Rule::Reverse => None,
            Rule::Post => match event_type {
                "sales.invoice.issued" => Some(rules::invoice_issued(&event.payload_as()?)?),
                "sales.return.processed" => Some(rules::return_processed(&event.payload_as()?)?),
                "inventory.stock.moved" => rules::stock_moved(&event.payload_as()?)?,
                "inventory.stock.adjusted" => rules::stock_adjusted(&event.payload_as()?)?,
                "purchase.invoice.recorded" => Some(rules::purchase_invoice(&event.payload_as()?)?),
                "purchase.return.processed" => Some(rules::purchase_return(&event.payload_as()?)?),
                "partners.payment.received" => Some(rules::payment_received(&event.payload_as()?)?),
                "partners.payment.made" => Some(rules::payment_made(&event.payload_as()?)?),
                other => return Err(format!("{other} is listed to post but has no rule").into()),
            },
        };
        let tenant = event.cloud.tenant;
        db::set_tenant(tx, tenant).await?;
        chart::ensure(tx, tenant).await?;
        let entry = match posting {
            Some(posting) => {
                let codes = journal::role_codes(tx, tenant).await?;
                entry_for(event, &posting, journal::lines_of(&posting, &codes))
            }
            None if rule == Rule::Reverse => {
                let voided: Voided = event.payload_as()?;
                reversal(tx, tenant, event, &voided).await?
            }
            None => return Ok(()),
        };
        let mut entry = entry;
        entry.date = journal::open_date(tx, tenant, entry.date).await?;
        journal::post(tx, tenant, &entry).await?;
        gst::register(tx, tenant, event).await
    }
}

/// The entry for `event`, its id derived from the event's, so a replay or a rebuild
/// stores the very same entry.
fn entry_for(event: &ConsumedEvent, posting: &Posting, lines: Vec<NewLine>) -> NewEntry {
    NewEntry {
        id: Uuid::new_v5(&event.cloud.id, NAME.as_bytes()),
        date: posting.date,
        narration: posting.narration.clone(),
        document: posting.document.clone(),
        currency: posting.currency.clone(),
        lines,
        source: event.cloud.event_type.clone(),
        source_event_id: Some(event.cloud.id),
        reverses: None,
        posted_by: None,
    }
}

/// A void reverses the invoice's entry line for line. The invoice's event comes first:
/// both are keyed by the invoice on the sales topic.
async fn reversal(
    tx: &mut PgConnection,
    tenant: Uuid,
    event: &ConsumedEvent,
    voided: &Voided,
) -> Result<NewEntry, ProjectionError> {
    let original: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT id, currency FROM journal_entries WHERE tenant_id = $1 AND source = 'sales.invoice.issued' \
         AND document = $2 AND reverses IS NULL",
    )
    .bind(tenant)
    .bind(&voided.invoice_number)
    .fetch_optional(&mut *tx)
    .await?;
    let (original, currency) = original
        .ok_or_else(|| format!("invoice {} has no entry to reverse", voided.invoice_number))?;
    let lines: Vec<(String, Option<Uuid>, i64, i64)> = sqlx::query_as(
        "SELECT account_code, store_id, credit_minor, debit_minor FROM journal_lines \
         WHERE tenant_id = $1 AND entry_id = $2 ORDER BY line_no",
    )
    .bind(tenant)
    .bind(original)
    .fetch_all(&mut *tx)
    .await?;
    let date = DateTime::<Utc>::from_timestamp_millis(voided.voided_at)
        .unwrap_or_default()
        .date_naive();
    Ok(NewEntry {
        id: Uuid::new_v5(&event.cloud.id, NAME.as_bytes()),
        date,
        narration: format!(
            "Void of invoice {}: {}",
            voided.invoice_number, voided.reason
        ),
        document: Some(voided.invoice_number.clone()),
        currency,
        lines: lines
            .into_iter()
            .map(|(account_code, store, debit, credit)| NewLine {
                account_code,
                store,
                debit,
                credit,
            })
            .collect(),
        source: event.cloud.event_type.clone(),
        source_event_id: Some(event.cloud.id),
        reverses: Some(original),
        posted_by: None,
    })
}
