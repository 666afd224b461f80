//! `finance-ledger`: the general ledger posted from the topics, one entry per event that
//! moves money, by the rules in `rules`. An event type without a rule is an error, so it
//! reaches the DLQ after its retries instead of vanishing from the books. Tax documents
//! also go to the GST register (`gst`), in the same transaction.

use bazaar_schemas::{events, Event as _};
use std::collections::HashMap;

use bazaar_platform::{
    consumer::{ConsumedEvent, Projection, ProjectionError},
    stores,
};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    chart::{self, Role},
    gst,
    journal::{self, NewEntry, NewLine},
    rules::{self, Posting, Rule},
};

/// The projection's consumer group and name in `processed_events`.
pub const NAME: &str = "finance-ledger";

/// The domains whose topics it reads: finance's own for the manual entries, identity's
/// for the stores.
pub const DOMAINS: [&str; 6] = [
    "sales",
    "inventory",
    "purchase",
    "partners",
    "finance",
    "identity",
];

/// The tables it builds: what `bazaar consume finance-ledger --from-earliest --rebuild`
/// rebuilds. The chart of accounts and the closed months are not built from events.
pub const TABLES: [&str; 5] = [
    "journal_entries",
    "journal_lines",
    "gst_documents",
    "gst_document_lines",
    "known_stores",
];

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

impl bazaar_platform::service::TableProjection for FinanceLedger {
    const TABLES: &'static [&'static str] = &TABLES;
}

impl Projection for FinanceLedger {
    fn name(&self) -> &str {
        NAME
    }

    fn topics(&self) -> Vec<String> {
        self.topics.clone()
    }

    /// Every type with a rule that posts or records. A type without a rule is
    /// handled too: `apply` dead-letters it rather than let it pass.
    fn event_types(&self) -> &[&'static str] {
        static TYPES: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
            rules::RULES
                .iter()
                .filter(|(_, rule)| !matches!(rule, Rule::Nothing(_)))
                .map(|(event_type, _)| *event_type)
                .collect()
        });
        &TYPES
    }

    fn handles(&self, event_type: &str) -> bool {
        !matches!(rules::rule(event_type), Some(Rule::Nothing(_)))
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> Result<(), ProjectionError> {
        post(tx, event, &mut None).await
    }

    /// The chart's codes are read once for a poll's events: posting cannot change them.
    async fn apply_all(
        &self,
        tx: &mut PgConnection,
        events: &[&ConsumedEvent],
    ) -> Result<(), ProjectionError> {
        let mut codes = None;
        for event in events {
            post(tx, event, &mut codes)
                .instrument(event.span(NAME))
                .await?;
        }
        Ok(())
    }
}

/// A tenant's account code for each role, once read.
type Codes = Option<(Uuid, HashMap<Role, String>)>;

/// Posts `event` by its rule, reading the tenant's codes into `codes` unless they are
/// there already.
async fn post(
    tx: &mut PgConnection,
    event: &ConsumedEvent,
    codes: &mut Codes,
) -> Result<(), ProjectionError> {
    let event_type = event.cloud.event_type.as_str();
    let rule =
        rules::rule(event_type).ok_or_else(|| format!("no posting rule for {event_type}"))?;
    let posting = match rule {
        Rule::Nothing(_) => return Ok(()),
        Rule::Record if event_type == stores::OPENED => {
            return stores::record_opened(tx, event).await
        }
        Rule::Record => {
            return Err(format!("{event_type} is listed to record but is not kept").into())
        }
        Rule::Reverse => None,
        Rule::Post => match event_type {
            events::sales::InvoiceIssued::TYPE => Some(rules::invoice_issued(&event.payload()?)?),
            events::sales::ReturnProcessed::TYPE => {
                Some(rules::return_processed(&event.payload()?)?)
            }
            events::inventory::StockMoved::TYPE => rules::stock_moved(&event.payload()?)?,
            events::inventory::SaleCosted::TYPE => rules::sale_costed(&event.payload()?)?,
            events::inventory::StockAdjusted::TYPE => rules::stock_adjusted(&event.payload()?)?,
            events::purchase::PurchaseInvoiceRecorded::TYPE => {
                Some(rules::purchase_invoice(&event.payload()?)?)
            }
            events::purchase::PurchaseReturnProcessed::TYPE => {
                Some(rules::purchase_return(&event.payload()?)?)
            }
            events::partners::PaymentReceived::TYPE => {
                Some(rules::payment_received(&event.payload()?)?)
            }
            events::partners::PaymentMade::TYPE => Some(rules::payment_made(&event.payload()?)?),
            events::finance::EntryPosted::TYPE => {
                return restate_manual(tx, event.cloud.tenant, &event.payload()?).await
            }
            other => return Err(format!("{other} is listed to post but has no rule").into()),
        },
    };
    if posting.is_none() && rule != Rule::Reverse {
        return Ok(()); // nothing to post, nothing to read
    }
    let tenant = event.cloud.tenant;
    let mut entry = match posting {
        Some(posting) => {
            let codes = match codes {
                Some((of, codes)) if *of == tenant => codes,
                _ => {
                    &codes
                        .insert((tenant, chart::role_codes(tx, tenant).await?))
                        .1
                }
            };
            entry_for(event, &posting, journal::lines_of(&posting, codes))
        }
        None => {
            let voided: events::sales::InvoiceVoided = event.payload()?;
            reversal(tx, tenant, event, &voided).await?
        }
    };
    (entry.date, entry.posted_at) = journal::placement(tx, tenant, entry.id, entry.date).await?;
    journal::record(tx, tenant, &entry).await?;
    gst::register(tx, tenant, event).await
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
        posted_at: None,
    }
}

/// A manual entry, from its `finance.entry.posted`: already in the journal when the
/// ledger runs live, stored again (as first posted) when a rebuild replays the topic.
async fn restate_manual(
    tx: &mut PgConnection,
    tenant: Uuid,
    posted: &events::finance::EntryPosted,
) -> Result<(), ProjectionError> {
    if posted.source != "manual" {
        return Ok(());
    }
    let present: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM journal_entries WHERE tenant_id = $1 AND id = $2)",
    )
    .bind(tenant)
    .bind(posted.entry_id)
    .fetch_one(&mut *tx)
    .await?;
    if present {
        return Ok(());
    }
    let first = journal::posted_before(tx, tenant, posted.entry_id).await?;
    let entry = NewEntry {
        id: posted.entry_id,
        date: match first {
            Some((date, _)) => date,
            None => posted
                .posting_date
                .parse()
                .map_err(|_| format!("posting_date {:?} is not a date", posted.posting_date))?,
        },
        narration: posted.narration.clone(),
        document: posted.document.clone(),
        currency: posted.currency.clone(),
        lines: posted
            .lines
            .iter()
            .map(|l| NewLine {
                account_code: l.account_code.clone(),
                store: l.store_id,
                debit: l.debit_minor,
                credit: l.credit_minor,
            })
            .collect(),
        source: posted.source.clone(),
        source_event_id: None,
        reverses: posted.reverses,
        posted_by: posted.posted_by,
        posted_at: Some(first.map_or_else(
            || DateTime::<Utc>::from_timestamp_millis(posted.posted_at).unwrap_or_default(),
            |(_, at)| at,
        )),
    };
    chart::ensure(tx, tenant).await?;
    journal::post(tx, tenant, &entry).await?;
    Ok(())
}

/// A void reverses the invoice's entry line for line. The invoice's event comes first:
/// both are keyed by the invoice on the sales topic.
async fn reversal(
    tx: &mut PgConnection,
    tenant: Uuid,
    event: &ConsumedEvent,
    voided: &events::sales::InvoiceVoided,
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
        posted_at: None,
    })
}
