//! `partner-ledgers`: what customers owe and what is owed to vendors, from the topics.
//! A credit sale and a purchase invoice increase it; a return on credit, a void, a
//! purchase return and a payment decrease it. Points are earned on every invoice with a customer.

use bazaar_platform::money::checked_sum;
use bazaar_platform::{
    consumer::{unhandled, ConsumedEvent, Projection, ProjectionError},
    outbox,
};
use bazaar_schemas::events::sales::InvoiceIssued;
use bazaar_schemas::{events, Event as _};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::SERVICE;

/// The projection's consumer group and name in `processed_events`.
pub const NAME: &str = "partner-ledgers";

/// The tables the projection owns: a rebuild replaces them.
pub const TABLES: [&str; 2] = ["ledger_entries", "loyalty_entries"];

/// Builds the partner ledgers and loyalty points.
pub struct PartnerLedgers {
    topics: Vec<String>,
}

impl Default for PartnerLedgers {
    fn default() -> Self {
        Self::reading(
            [
                "sales.events.v1",
                "purchase.events.v1",
                "partners.events.v1",
            ]
            .map(str::to_owned)
            .to_vec(),
        )
    }
}

impl PartnerLedgers {
    /// The projection on other topics than the usual ones (tests use their own).
    pub fn reading(topics: Vec<String>) -> Self {
        Self { topics }
    }
}

impl bazaar_platform::service::TableProjection for PartnerLedgers {
    const TABLES: &'static [&'static str] = &TABLES;
}

impl Projection for PartnerLedgers {
    fn name(&self) -> &str {
        NAME
    }

    fn topics(&self) -> Vec<String> {
        self.topics.clone()
    }

    fn event_types(&self) -> &[&'static str] {
        &[
            InvoiceIssued::TYPE,
            events::sales::InvoiceVoided::TYPE,
            events::sales::ReturnProcessed::TYPE,
            events::purchase::PurchaseInvoiceRecorded::TYPE,
            events::purchase::PurchaseReturnProcessed::TYPE,
            events::partners::PaymentReceived::TYPE,
            events::partners::PaymentMade::TYPE,
            events::partners::LoyaltyRedeemed::TYPE,
        ]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> Result<(), ProjectionError> {
        match event.cloud.event_type.as_str() {
            InvoiceIssued::TYPE => invoice(tx, event, event.payload()?).await,
            events::sales::InvoiceVoided::TYPE => {
                let v: events::sales::InvoiceVoided = event.payload()?;
                let Some(customer) = v.customer_id else {
                    return Ok(());
                };
                let on_credit = checked_sum(
                    v.payments
                        .iter()
                        .filter(|p| p.mode == "credit")
                        .map(|p| p.amount_minor),
                )?;
                let date = day(v.voided_at)?;
                let entry = Entry::customer(
                    customer,
                    "void",
                    v.invoice_id,
                    Some(&v.invoice_number),
                    date,
                    date,
                    -on_credit,
                    &v.currency,
                );
                entry.write(tx, event).await?;
                // The points the invoice earned go too.
                sqlx::query(
                    "INSERT INTO loyalty_entries (id, tenant_id, customer_id, points, reason, reference, created_at) \
                     SELECT $1, tenant_id, customer_id, -points, 'reversed', reference, $3 FROM loyalty_entries \
                     WHERE tenant_id = $2 AND reason = 'earned' AND reference = $4 ON CONFLICT (id) DO NOTHING",
                )
                .bind(Uuid::new_v5(&event.cloud.id, b"loyalty"))
                .bind(event.cloud.tenant)
                .bind(instant(v.voided_at)?)
                .bind(v.invoice_id.to_string())
                .execute(tx)
                .await?;
                Ok(())
            }
            events::sales::ReturnProcessed::TYPE => {
                let r: events::sales::ReturnProcessed = event.payload()?;
                match r.customer_id.filter(|_| r.refund_mode == "credit") {
                    Some(customer) => {
                        let date = day(r.processed_at)?;
                        let entry = Entry::customer(
                            customer,
                            "return",
                            r.return_id,
                            Some(&r.credit_note_number),
                            date,
                            date,
                            -r.total_minor,
                            &r.currency,
                        );
                        entry.write(tx, event).await
                    }
                    None => Ok(()), // refunded in cash or card: nothing owed changes
                }
            }
            events::purchase::PurchaseInvoiceRecorded::TYPE => {
                let i: events::purchase::PurchaseInvoiceRecorded = event.payload()?;
                let entry = Entry {
                    kind: "vendor",
                    partner: i.vendor_id,
                    document_type: "purchase_invoice",
                    document_id: i.invoice_id.to_string(),
                    number: Some(&i.vendor_invoice_number),
                    date: i.invoice_date.parse()?,
                    due: i.due_date.parse()?,
                    amount: i.total_minor,
                    currency: &i.currency,
                };
                entry.write(tx, event).await
            }
            events::purchase::PurchaseReturnProcessed::TYPE => {
                let r: events::purchase::PurchaseReturnProcessed = event.payload()?;
                let date = day(r.returned_at)?;
                let entry = Entry {
                    kind: "vendor",
                    partner: r.vendor_id,
                    document_type: "purchase_return",
                    document_id: r.return_id.to_string(),
                    number: Some(&r.debit_note_number),
                    date,
                    due: date,
                    amount: -r.total_minor,
                    currency: &r.currency,
                };
                entry.write(tx, event).await
            }
            events::partners::PaymentReceived::TYPE | events::partners::PaymentMade::TYPE => {
                let p: events::partners::PaymentReceived =
                    event.payload_into::<events::partners::PaymentMade, _>()?;
                let date: NaiveDate = p.paid_on.parse()?;
                let entry = Entry {
                    kind: if event.is::<events::partners::PaymentReceived>() {
                        "customer"
                    } else {
                        "vendor"
                    },
                    partner: p.partner_id,
                    document_type: "payment",
                    document_id: p.payment_id.to_string(),
                    number: p.reference.as_deref(),
                    date,
                    due: date,
                    amount: -p.amount_minor,
                    currency: &p.currency,
                };
                entry.write(tx, event).await
            }
            events::partners::LoyaltyRedeemed::TYPE => {
                // The API wrote it when the points were spent; a rebuild writes it here.
                let r: events::partners::LoyaltyRedeemed = event.payload()?;
                Ok(crate::store::record_redemption(tx, &r).await?)
            }
            _ => Err(unhandled(NAME, event)),
        }
    }
}

/// An event's timestamp-millis as a database timestamp.
pub(crate) fn instant(millis: i64) -> Result<DateTime<Utc>, ProjectionError> {
    Ok(DateTime::<Utc>::from_timestamp_millis(millis).ok_or("timestamp out of range")?)
}

fn day(millis: i64) -> Result<NaiveDate, ProjectionError> {
    Ok(instant(millis)?.date_naive())
}

/// One ledger entry to write.
struct Entry<'a> {
    kind: &'static str,
    partner: Uuid,
    document_type: &'static str,
    document_id: String,
    number: Option<&'a str>,
    date: NaiveDate,
    due: NaiveDate,
    amount: i64,
    currency: &'a str,
}

impl<'a> Entry<'a> {
    #[allow(clippy::too_many_arguments)]
    fn customer(
        customer: Uuid,
        document_type: &'static str,
        document: Uuid,
        number: Option<&'a str>,
        date: NaiveDate,
        due: NaiveDate,
        amount: i64,
        currency: &'a str,
    ) -> Self {
        Self {
            kind: "customer",
            partner: customer,
            document_type,
            document_id: document.to_string(),
            number,
            date,
            due,
            amount,
            currency,
        }
    }

    async fn write(
        self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> Result<(), ProjectionError> {
        if self.amount == 0 {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO ledger_entries (id, tenant_id, partner_kind, partner_id, document_type, \
             document_id, document_number, entry_date, due_date, amount_minor, currency, source_event_id, \
             recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING",
        )
        .bind(Uuid::new_v5(&event.cloud.id, b"ledger"))
        .bind(event.cloud.tenant)
        .bind(self.kind)
        .bind(self.partner)
        .bind(self.document_type)
        .bind(self.document_id)
        .bind(self.number)
        .bind(self.date)
        .bind(self.due)
        .bind(self.amount)
        .bind(self.currency)
        .bind(event.cloud.id)
        .bind(event.cloud.time)
        .execute(tx)
        .await?;
        Ok(())
    }
}

/// A credit sale goes on the customer's ledger, due after their payment terms; every
/// invoice with a customer earns points on what was not paid with points.
async fn invoice(
    tx: &mut PgConnection,
    event: &ConsumedEvent,
    invoice: InvoiceIssued,
) -> Result<(), ProjectionError> {
    let Some(customer) = invoice.customer_id else {
        return Ok(());
    };
    let tenant = event.cloud.tenant;
    let terms: i32 = sqlx::query_scalar(
        "SELECT payment_terms_days FROM customers WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(customer)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| format!("customer {customer} is not in partners"))?;
    let date = day(invoice.issued_at)?;
    let on_credit = checked_sum(
        invoice
            .payments
            .iter()
            .filter(|p| p.mode == "credit")
            .map(|p| p.amount_minor),
    )?;
    let due = date + Duration::days(i64::from(terms));
    let entry = Entry::customer(
        customer,
        "invoice",
        invoice.invoice_id,
        Some(&invoice.invoice_number),
        date,
        due,
        on_credit,
        &invoice.currency,
    );
    entry.write(tx, event).await?;

    let by_points = checked_sum(
        invoice
            .payments
            .iter()
            .filter(|p| p.mode == "loyalty")
            .map(|p| p.amount_minor),
    )?;
    let rule = crate::store::loyalty_rule(tx, tenant).await?;
    let points = (invoice.total_minor - by_points).max(0) / rule.spend_minor_per_point;
    if points == 0 {
        return Ok(());
    }
    let earned_now = sqlx::query(
        "INSERT INTO loyalty_entries (id, tenant_id, customer_id, points, reason, reference, created_at) \
         VALUES ($1, $2, $3, $4, 'earned', $5, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(Uuid::new_v5(&event.cloud.id, b"loyalty"))
    .bind(tenant)
    .bind(customer)
    .bind(points)
    .bind(invoice.invoice_id.to_string())
    .bind(instant(invoice.issued_at)?)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !earned_now {
        return Ok(()); // applied before (a rebuild swapped in while this event was in flight)
    }
    let earned = events::partners::LoyaltyEarned {
        tenant_id: tenant,
        customer_id: customer,
        invoice_id: invoice.invoice_id,
        points,
        balance: crate::store::points(tx, tenant, customer).await?,
        earned_at: invoice.issued_at,
    };
    outbox::append_event(tx, SERVICE, tenant, &customer.to_string(), &earned).await?;
    Ok(())
}
