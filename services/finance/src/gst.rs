//! GST: the register of tax documents kept from the topics, and the returns read from it
//! for one GSTIN and one month: GSTR-1 (outward supplies by section, and the HSN summary)
//! and GSTR-3B (tables 3.1 and 4, and the tax to pay after setting off the credit).
//!
//! A GSTIN is a state's registration: outward documents belong to the GSTIN of the store
//! that issued them; inward ones to the GSTIN of the state the goods were delivered to
//! (the first two digits of a GSTIN are its state code).

use bazaar_schemas::{events, Event as _};
use std::collections::BTreeMap;

use bazaar_platform::consumer::{ConsumedEvent, ProjectionError};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::rules::{day, Taxed};

/// The B2C large limit since August 2024 (notification 12/2024): ₹1,00,000.
#[allow(clippy::inconsistent_digit_grouping)] // rupees_paise
pub const B2CL_THRESHOLD_MINOR: i64 = 1_00_000_00;

// ---- The register, kept by finance-ledger ----

/// One line of a tax document, as the register keeps it.
struct RegisterLine {
    /// 0 on vendors' documents, whose lines are numbered in order.
    line_no: i32,
    hsn_code: Option<String>,
    quantity: String,
    gst_rate_bp: i32,
    taxable_minor: i64,
    cgst_minor: i64,
    sgst_minor: i64,
    igst_minor: i64,
    cess_minor: i64,
}

impl RegisterLine {
    fn of<L: Taxed>(
        line: &L,
        line_no: i32,
        hsn_code: Option<String>,
        quantity: &str,
        gst_rate_bp: i32,
    ) -> Self {
        let t = line.taxes();
        RegisterLine {
            line_no,
            hsn_code,
            quantity: quantity.to_owned(),
            gst_rate_bp,
            taxable_minor: t.taxable_minor,
            cgst_minor: t.cgst_minor,
            sgst_minor: t.sgst_minor,
            igst_minor: t.igst_minor,
            cess_minor: t.cess_minor,
        }
    }
}

/// An invoice's GSTIN, state, buyer's GSTIN and place of supply, as registered.
type InvoiceParties = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A document to record.
struct Document<'a> {
    id: Uuid,
    kind: &'static str,
    number: &'a str,
    date: NaiveDate,
    gstin: Option<&'a str>,
    state_code: Option<&'a str>,
    counterparty_gstin: Option<&'a str>,
    place_of_supply: Option<&'a str>,
    original_id: Option<Uuid>,
    value_minor: i64,
    lines: &'a [RegisterLine],
}

/// Records the tax document `event` carries, if it carries one, in the caller's
/// transaction (the one posting the same event).
pub async fn register(
    tx: &mut PgConnection,
    tenant: Uuid,
    event: &ConsumedEvent,
) -> Result<(), ProjectionError> {
    match event.cloud.event_type.as_str() {
        events::sales::InvoiceIssued::TYPE => {
            let i: events::sales::InvoiceIssued = event.payload()?;
            let lines: Vec<RegisterLine> = i
                .lines
                .iter()
                .map(|l| {
                    RegisterLine::of(l, l.line_no, l.hsn_code.clone(), &l.quantity, l.gst_rate_bp)
                })
                .collect();
            record(
                tx,
                tenant,
                event.cloud.id,
                Document {
                    id: i.invoice_id,
                    kind: "invoice",
                    number: &i.invoice_number,
                    date: day(i.issued_at),
                    gstin: i.supplier_gstin.as_deref(),
                    state_code: i.supplier_state.as_deref(),
                    counterparty_gstin: i.customer_gstin.as_deref(),
                    place_of_supply: Some(&i.place_of_supply),
                    original_id: None,
                    value_minor: i.total_minor,
                    lines: &lines,
                },
            )
            .await
        }
        events::sales::ReturnProcessed::TYPE => {
            let c: events::sales::ReturnProcessed = event.payload()?;
            // The credit note is reported where its invoice was: same GSTIN, buyer and
            // place of supply, and each line's HSN code from the invoice's line.
            let invoice: Option<InvoiceParties> = sqlx::query_as(
                "SELECT gstin, state_code, counterparty_gstin, place_of_supply FROM gst_documents \
                     WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(c.invoice_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((gstin, state, buyer, place)) = invoice else {
                // Keyed by invoice, the return cannot overtake its invoice; an invoice
                // from before the register existed has nothing to be reported against.
                tracing::warn!(invoice = %c.invoice_id, note = c.credit_note_number,
                    "credit note for an invoice not in the GST register: left out of the returns");
                return Ok(());
            };
            let hsn: BTreeMap<i32, Option<String>> = sqlx::query_as::<_, (i32, Option<String>)>(
                "SELECT line_no, hsn_code FROM gst_document_lines WHERE tenant_id = $1 AND document_id = $2",
            )
            .bind(tenant)
            .bind(c.invoice_id)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
            let lines: Vec<RegisterLine> = c
                .lines
                .iter()
                .map(|l| {
                    let code = hsn.get(&l.line_no).cloned().flatten();
                    RegisterLine::of(l, l.line_no, code, &l.quantity, l.gst_rate_bp)
                })
                .collect();
            record(
                tx,
                tenant,
                event.cloud.id,
                Document {
                    id: c.return_id,
                    kind: "credit_note",
                    number: &c.credit_note_number,
                    date: day(c.processed_at),
                    gstin: gstin.as_deref(),
                    state_code: state.as_deref(),
                    counterparty_gstin: buyer.as_deref(),
                    place_of_supply: place.as_deref(),
                    original_id: Some(c.invoice_id),
                    value_minor: c.total_minor,
                    lines: &lines,
                },
            )
            .await
        }
        events::sales::InvoiceVoided::TYPE => {
            let v: events::sales::InvoiceVoided = event.payload()?;
            sqlx::query(
                "UPDATE gst_documents SET cancelled = true WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(v.invoice_id)
            .execute(&mut *tx)
            .await?;
            Ok(())
        }
        events::purchase::PurchaseInvoiceRecorded::TYPE => {
            let i: events::purchase::PurchaseInvoiceRecorded = event.payload()?;
            let lines: Vec<RegisterLine> = i
                .lines
                .iter()
                .map(|l| RegisterLine::of(l, 0, None, &l.quantity, l.gst_rate_bp))
                .collect();
            let date = i
                .invoice_date
                .parse()
                .map_err(|_| format!("invoice_date {:?} is not a date", i.invoice_date))?;
            record(
                tx,
                tenant,
                event.cloud.id,
                Document {
                    id: i.invoice_id,
                    kind: "purchase_invoice",
                    number: &i.vendor_invoice_number,
                    date,
                    gstin: None,
                    state_code: i.place_of_supply.as_deref(),
                    counterparty_gstin: None,
                    place_of_supply: i.place_of_supply.as_deref(),
                    original_id: None,
                    value_minor: i.total_minor,
                    lines: &lines,
                },
            )
            .await
        }
        events::purchase::PurchaseReturnProcessed::TYPE => {
            let d: events::purchase::PurchaseReturnProcessed = event.payload()?;
            let lines: Vec<RegisterLine> = d
                .lines
                .iter()
                .map(|l| RegisterLine::of(l, 0, None, &l.quantity, l.gst_rate_bp))
                .collect();
            record(
                tx,
                tenant,
                event.cloud.id,
                Document {
                    id: d.return_id,
                    kind: "debit_note",
                    number: &d.debit_note_number,
                    date: day(d.returned_at),
                    gstin: None,
                    state_code: d.place_of_supply.as_deref(),
                    counterparty_gstin: None,
                    place_of_supply: d.place_of_supply.as_deref(),
                    original_id: None,
                    value_minor: d.total_minor,
                    lines: &lines,
                },
            )
            .await
        }
        _ => Ok(()),
    }
}

async fn record(
    tx: &mut PgConnection,
    tenant: Uuid,
    event_id: Uuid,
    d: Document<'_>,
) -> Result<(), ProjectionError> {
    let mut quantities: Vec<Decimal> = Vec::with_capacity(d.lines.len());
    for line in d.lines {
        quantities.push(
            line.quantity
                .parse()
                .map_err(|_| format!("quantity {:?} is not a decimal", line.quantity))?,
        );
    }
    let column = |f: fn(&RegisterLine) -> i64| d.lines.iter().map(f).collect::<Vec<i64>>();
    let numbers: Vec<i32> = (1..)
        .zip(d.lines)
        .map(|(n, line)| if line.line_no > 0 { line.line_no } else { n })
        .collect();
    let hsn: Vec<Option<&str>> = d.lines.iter().map(|l| l.hsn_code.as_deref()).collect();
    let rates: Vec<i32> = d.lines.iter().map(|l| l.gst_rate_bp).collect();
    // The document and its lines in one statement; neither when it is registered already.
    sqlx::query(
        "WITH document AS ( \
           INSERT INTO gst_documents (tenant_id, id, kind, number, document_date, gstin, state_code, \
           counterparty_gstin, place_of_supply, original_id, value_minor, source_event_id) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING RETURNING id) \
         INSERT INTO gst_document_lines (tenant_id, document_id, line_no, hsn_code, rate_bp, quantity, \
           taxable_minor, cgst_minor, sgst_minor, igst_minor, cess_minor) \
         SELECT $1, document.id, l.* FROM document, UNNEST($13::int4[], $14::text[], $15::int4[], \
           $16::numeric[], $17::int8[], $18::int8[], $19::int8[], $20::int8[], $21::int8[]) AS l",
    )
    .bind(tenant)
    .bind(d.id)
    .bind(d.kind)
    .bind(d.number)
    .bind(d.date)
    .bind(d.gstin)
    .bind(d.state_code)
    .bind(d.counterparty_gstin)
    .bind(d.place_of_supply)
    .bind(d.original_id)
    .bind(d.value_minor)
    .bind(event_id)
    .bind(&numbers)
    .bind(&hsn)
    .bind(&rates)
    .bind(&quantities)
    .bind(column(|l| l.taxable_minor))
    .bind(column(|l| l.cgst_minor))
    .bind(column(|l| l.sgst_minor))
    .bind(column(|l| l.igst_minor))
    .bind(column(|l| l.cess_minor))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

// ---- The returns ----

/// Taxable value and the four taxes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tax {
    /// Value the tax is charged on.
    pub taxable_minor: i64,
    /// Integrated tax.
    pub igst_minor: i64,
    /// Central tax.
    pub cgst_minor: i64,
    /// State tax.
    pub sgst_minor: i64,
    /// Compensation cess.
    pub cess_minor: i64,
}

impl Tax {
    fn add(&mut self, other: &Tax, sign: i64) {
        self.taxable_minor += sign * other.taxable_minor;
        self.igst_minor += sign * other.igst_minor;
        self.cgst_minor += sign * other.cgst_minor;
        self.sgst_minor += sign * other.sgst_minor;
        self.cess_minor += sign * other.cess_minor;
    }

    fn taxes(&self) -> i64 {
        self.igst_minor + self.cgst_minor + self.sgst_minor + self.cess_minor
    }
}

/// A document line as the returns read it.
#[derive(Debug, Clone, PartialEq)]
pub struct DocLine {
    /// HSN code; `None` when the product had none.
    pub hsn_code: Option<String>,
    /// GST rate in basis points.
    pub rate_bp: i32,
    /// Quantity in the product's unit.
    pub quantity: Decimal,
    /// Its value and taxes.
    pub tax: Tax,
}

/// An outward document (an invoice or a credit note) as the returns read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outward {
    /// A credit note, not an invoice.
    pub credit_note: bool,
    /// Its number.
    pub number: String,
    /// Its date.
    pub date: NaiveDate,
    /// The buyer's GSTIN (a credit note's: its invoice's buyer).
    pub buyer_gstin: Option<String>,
    /// GST state code the supply went to.
    pub place_of_supply: String,
    /// The document's total.
    pub value_minor: i64,
    /// Voided.
    pub cancelled: bool,
    /// A credit note's invoice: number, date and total.
    pub original: Option<(String, NaiveDate, i64)>,
    /// Its lines.
    pub lines: Vec<DocLine>,
}

/// Tax at one rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RateItem {
    /// GST rate in basis points.
    pub rate_bp: i32,
    /// Value and taxes at that rate.
    #[serde(flatten)]
    pub tax: Tax,
}

/// A B2B invoice, or a B2C large one (without a buyer's GSTIN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InvoiceEntry {
    /// The buyer's GSTIN; absent in B2C large.
    pub customer_gstin: Option<String>,
    /// Its number.
    pub invoice_number: String,
    /// Its date.
    pub invoice_date: NaiveDate,
    /// Its total.
    pub invoice_value_minor: i64,
    /// State code.
    pub place_of_supply: String,
    /// By rate.
    pub items: Vec<RateItem>,
}

/// A credit note in CDNR (registered buyer) or CDNUR (B2C large).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NoteEntry {
    /// The buyer's GSTIN; absent in CDNUR.
    pub customer_gstin: Option<String>,
    /// Its number.
    pub note_number: String,
    /// Its date.
    pub note_date: NaiveDate,
    /// `C`: every note Bazaar issues is a credit note.
    pub note_type: String,
    /// The invoice it credits.
    pub invoice_number: String,
    /// That invoice's date.
    pub invoice_date: NaiveDate,
    /// Its total.
    pub note_value_minor: i64,
    /// State code.
    pub place_of_supply: String,
    /// By rate.
    pub items: Vec<RateItem>,
}

/// B2C small supplies summed by place of supply and rate, net of their credit notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct B2csRow {
    /// State code.
    pub place_of_supply: String,
    /// `intra` (CGST and SGST) or `inter` (IGST).
    pub supply_type: String,
    /// GST rate in basis points.
    pub rate_bp: i32,
    /// Net value and taxes.
    #[serde(flatten)]
    pub tax: Tax,
}

/// One HSN code at one rate, net of credit notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HsnRow {
    /// The code; empty for products that have none (fix them in the catalog).
    pub hsn_code: String,
    /// GST rate in basis points.
    pub rate_bp: i32,
    /// Net quantity, in the products' units.
    pub quantity: String,
    /// Taxable value plus taxes.
    pub total_value_minor: i64,
    /// Net value and taxes.
    #[serde(flatten)]
    pub tax: Tax,
}

/// How many documents the month issued.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DocumentCounts {
    /// Invoices issued, cancelled ones included.
    pub invoices: i64,
    /// Of those, voided.
    pub cancelled: i64,
    /// Credit notes.
    pub credit_notes: i64,
}

/// GSTR-1: a GSTIN's outward supplies of a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Gstr1 {
    /// The registration.
    pub gstin: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Invoices to buyers with a GSTIN, by invoice.
    pub b2b: Vec<InvoiceEntry>,
    /// Inter-state invoices to buyers without one above the threshold.
    pub b2cl: Vec<InvoiceEntry>,
    /// The threshold applied, in minor units.
    pub b2cl_threshold_minor: i64,
    /// Every other sale to buyers without a GSTIN.
    pub b2cs: Vec<B2csRow>,
    /// Credit notes to buyers with a GSTIN.
    pub cdnr: Vec<NoteEntry>,
    /// Credit notes against B2C large invoices.
    pub cdnur: Vec<NoteEntry>,
    /// The HSN summary.
    pub hsn: Vec<HsnRow>,
    /// Document counts.
    pub documents: DocumentCounts,
}

fn by_rate(lines: &[DocLine]) -> Vec<RateItem> {
    let mut rates: BTreeMap<i32, Tax> = BTreeMap::new();
    for line in lines {
        rates.entry(line.rate_bp).or_default().add(&line.tax, 1);
    }
    rates
        .into_iter()
        .map(|(rate_bp, tax)| RateItem { rate_bp, tax })
        .collect()
}

/// Which section an invoice (or its credit note) belongs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    B2b,
    B2cl,
    B2cs,
}

fn section(buyer: Option<&str>, place: &str, state: &str, value: i64, threshold: i64) -> Section {
    match buyer {
        Some(_) => Section::B2b,
        None if place != state && value > threshold => Section::B2cl,
        None => Section::B2cs,
    }
}

/// GSTR-1 for the documents of `gstin` in a month (`state` is the GSTIN's state).
pub fn gstr1(gstin: &str, month: &str, documents: &[Outward], b2cl_threshold_minor: i64) -> Gstr1 {
    let state = gstin.get(..2).unwrap_or_default();
    let mut report = Gstr1 {
        gstin: gstin.to_owned(),
        month: month.to_owned(),
        b2b: Vec::new(),
        b2cl: Vec::new(),
        b2cl_threshold_minor,
        b2cs: Vec::new(),
        cdnr: Vec::new(),
        cdnur: Vec::new(),
        hsn: Vec::new(),
        documents: DocumentCounts::default(),
    };
    let mut b2cs: BTreeMap<(String, i32), Tax> = BTreeMap::new();
    let mut hsn: BTreeMap<(String, i32), (Decimal, Tax)> = BTreeMap::new();
    for d in documents {
        if d.credit_note {
            report.documents.credit_notes += 1;
        } else {
            report.documents.invoices += 1;
            if d.cancelled {
                report.documents.cancelled += 1;
                continue;
            }
        }
        let sign = if d.credit_note { -1 } else { 1 };
        // A credit note goes where its invoice went.
        let (invoice_number, invoice_date, invoice_value) = match &d.original {
            Some(original) => original.clone(),
            None => (d.number.clone(), d.date, d.value_minor),
        };
        let place = &d.place_of_supply;
        match section(
            d.buyer_gstin.as_deref(),
            place,
            state,
            invoice_value,
            b2cl_threshold_minor,
        ) {
            Section::B2cs => {
                for line in &d.lines {
                    b2cs.entry((place.clone(), line.rate_bp))
                        .or_default()
                        .add(&line.tax, sign);
                }
            }
            class if d.credit_note => {
                let note = NoteEntry {
                    customer_gstin: d.buyer_gstin.clone(),
                    note_number: d.number.clone(),
                    note_date: d.date,
                    note_type: "C".to_owned(),
                    invoice_number,
                    invoice_date,
                    note_value_minor: d.value_minor,
                    place_of_supply: place.clone(),
                    items: by_rate(&d.lines),
                };
                match class {
                    Section::B2b => report.cdnr.push(note),
                    _ => report.cdnur.push(note),
                }
            }
            class => {
                let invoice = InvoiceEntry {
                    customer_gstin: d.buyer_gstin.clone(),
                    invoice_number: d.number.clone(),
                    invoice_date: d.date,
                    invoice_value_minor: d.value_minor,
                    place_of_supply: place.clone(),
                    items: by_rate(&d.lines),
                };
                match class {
                    Section::B2b => report.b2b.push(invoice),
                    _ => report.b2cl.push(invoice),
                }
            }
        }
        for line in &d.lines {
            let code = line.hsn_code.clone().unwrap_or_default();
            let (quantity, tax) = hsn.entry((code, line.rate_bp)).or_default();
            *quantity += Decimal::from(sign) * line.quantity;
            tax.add(&line.tax, sign);
        }
    }
    report.b2cs = b2cs
        .into_iter()
        .map(|((place_of_supply, rate_bp), tax)| B2csRow {
            supply_type: if place_of_supply == state {
                "intra"
            } else {
                "inter"
            }
            .to_owned(),
            place_of_supply,
            rate_bp,
            tax,
        })
        .collect();
    report.hsn = hsn
        .into_iter()
        .map(|((hsn_code, rate_bp), (quantity, tax))| HsnRow {
            hsn_code,
            rate_bp,
            quantity: quantity.normalize().to_string(),
            total_value_minor: tax.taxable_minor + tax.taxes(),
            tax,
        })
        .collect();
    report
}

/// Tax liability or credit by head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Heads {
    /// Integrated tax.
    pub igst_minor: i64,
    /// Central tax.
    pub cgst_minor: i64,
    /// State tax.
    pub sgst_minor: i64,
    /// Compensation cess.
    pub cess_minor: i64,
}

impl From<Tax> for Heads {
    fn from(t: Tax) -> Self {
        Heads {
            igst_minor: t.igst_minor,
            cgst_minor: t.cgst_minor,
            sgst_minor: t.sgst_minor,
            cess_minor: t.cess_minor,
        }
    }
}

/// How the month's tax is paid: from the credit, head by head, and the rest in cash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SetOff {
    /// Tax due on outward supplies by head, with credit reversed beyond the month's
    /// credit added.
    pub liability: Heads,
    /// Paid from IGST credit, by the head it paid.
    pub paid_from_igst_credit: Heads,
    /// Paid from CGST credit.
    pub paid_from_cgst_credit: Heads,
    /// Paid from SGST credit.
    pub paid_from_sgst_credit: Heads,
    /// Paid from cess credit.
    pub paid_from_cess_credit: Heads,
    /// Net tax payable in cash.
    pub payable_in_cash: Heads,
    /// Credit left for next month.
    pub credit_carried_forward: Heads,
}

/// Sets the credit off against the liability in the order the law sets (section 49 and
/// rule 88A): IGST credit first, on IGST then on CGST and SGST; then CGST credit on CGST
/// then IGST, SGST credit on SGST then IGST (never CGST on SGST or the reverse); cess
/// only on cess. Where the law leaves a choice (how IGST credit splits between CGST and
/// SGST), it is split to leave the least cash to pay. A negative credit (reversals above
/// the month's credit) is tax to pay.
pub fn set_off(liability: Heads, credit: Heads) -> SetOff {
    let mut due = liability;
    let [mut igst, mut cgst, mut sgst, mut cess] = [
        (credit.igst_minor, &mut due.igst_minor),
        (credit.cgst_minor, &mut due.cgst_minor),
        (credit.sgst_minor, &mut due.sgst_minor),
        (credit.cess_minor, &mut due.cess_minor),
    ]
    .map(|(credit, due)| {
        if credit < 0 {
            *due -= credit;
        }
        credit.max(0)
    });
    let mut out = SetOff {
        liability: due,
        ..SetOff::default()
    };

    let i = &mut out.paid_from_igst_credit;
    i.igst_minor = pay(&mut due.igst_minor, &mut igst);
    // IGST credit covers first what CGST and SGST credit cannot, then the rest of those
    // heads: the law has it used up before theirs.
    let mut short_c = (due.cgst_minor - cgst).max(0);
    let mut short_s = (due.sgst_minor - sgst).max(0);
    i.cgst_minor = pay(&mut short_c, &mut igst);
    i.sgst_minor = pay(&mut short_s, &mut igst);
    due.cgst_minor -= i.cgst_minor;
    due.sgst_minor -= i.sgst_minor;
    i.cgst_minor += pay(&mut due.cgst_minor, &mut igst);
    i.sgst_minor += pay(&mut due.sgst_minor, &mut igst);

    let c = &mut out.paid_from_cgst_credit;
    c.cgst_minor = pay(&mut due.cgst_minor, &mut cgst);
    c.igst_minor = pay(&mut due.igst_minor, &mut cgst);
    let s = &mut out.paid_from_sgst_credit;
    s.sgst_minor = pay(&mut due.sgst_minor, &mut sgst);
    s.igst_minor = pay(&mut due.igst_minor, &mut sgst);
    out.paid_from_cess_credit.cess_minor = pay(&mut due.cess_minor, &mut cess);

    out.payable_in_cash = due;
    out.credit_carried_forward = Heads {
        igst_minor: igst,
        cgst_minor: cgst,
        sgst_minor: sgst,
        cess_minor: cess,
    };
    out
}

/// Pays what it can of `due` from `credit`; returns how much.
fn pay(due: &mut i64, credit: &mut i64) -> i64 {
    let paid = (*due).min(*credit).max(0);
    *due -= paid;
    *credit -= paid;
    paid
}

/// An inward document as GSTR-3B reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Inward {
    /// A debit note (goods returned), which reverses credit.
    pub debit_note: bool,
    /// Its taxes.
    pub tax: Tax,
}

/// GSTR-3B: a GSTIN's summary return of a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Gstr3b {
    /// The registration.
    pub gstin: String,
    /// `YYYY-MM`.
    pub month: String,
    /// 3.1(a): outward taxable supplies (not zero rated, nil rated or exempted), net of
    /// credit notes.
    pub outward_taxable: Tax,
    /// 3.1(c): nil rated and exempted supplies.
    pub outward_nil_rated_minor: i64,
    /// 4(A)(5): all other input tax credit.
    pub itc_available: Heads,
    /// 4(B)(2): credit reversed (goods returned to vendors).
    pub itc_reversed: Heads,
    /// 4(C): net credit, (A) less (B).
    pub itc_net: Heads,
    /// 6.1: the tax paid from the credit and in cash.
    pub payment: SetOff,
}

/// GSTR-3B from the month's outward documents and inward ones of the GSTIN's state.
pub fn gstr3b(gstin: &str, month: &str, outward: &[Outward], inward: &[Inward]) -> Gstr3b {
    let mut taxable = Tax::default();
    let mut nil = 0;
    for d in outward.iter().filter(|d| !d.cancelled) {
        let sign = if d.credit_note { -1 } else { 1 };
        for line in &d.lines {
            if line.rate_bp == 0 && line.tax.taxes() == 0 {
                nil += sign * line.tax.taxable_minor;
            } else {
                taxable.add(&line.tax, sign);
            }
        }
    }
    let (mut available, mut reversed) = (Tax::default(), Tax::default());
    for d in inward {
        if d.debit_note {
            reversed.add(&d.tax, 1);
        } else {
            available.add(&d.tax, 1);
        }
    }
    let mut net = available;
    net.add(&reversed, -1);
    Gstr3b {
        gstin: gstin.to_owned(),
        month: month.to_owned(),
        outward_taxable: taxable,
        outward_nil_rated_minor: nil,
        itc_available: available.into(),
        itc_reversed: reversed.into(),
        itc_net: net.into(),
        payment: set_off(taxable.into(), net.into()),
    }
}

// ---- Reading the register ----

#[derive(sqlx::FromRow)]
struct OutwardRow {
    id: Uuid,
    kind: String,
    number: String,
    document_date: NaiveDate,
    counterparty_gstin: Option<String>,
    place_of_supply: Option<String>,
    value_minor: i64,
    cancelled: bool,
    original_number: Option<String>,
    original_date: Option<NaiveDate>,
    original_value: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct LineRow {
    document_id: Uuid,
    hsn_code: Option<String>,
    rate_bp: i32,
    quantity: Decimal,
    taxable_minor: i64,
    cgst_minor: i64,
    sgst_minor: i64,
    igst_minor: i64,
    cess_minor: i64,
}

impl LineRow {
    fn tax(&self) -> Tax {
        Tax {
            taxable_minor: self.taxable_minor,
            igst_minor: self.igst_minor,
            cgst_minor: self.cgst_minor,
            sgst_minor: self.sgst_minor,
            cess_minor: self.cess_minor,
        }
    }
}

async fn lines_of(
    tx: &mut PgConnection,
    tenant: Uuid,
    ids: &[Uuid],
) -> Result<BTreeMap<Uuid, Vec<LineRow>>, sqlx::Error> {
    let rows: Vec<LineRow> = sqlx::query_as(
        "SELECT document_id, hsn_code, rate_bp, quantity, taxable_minor, cgst_minor, sgst_minor, igst_minor, \
         cess_minor FROM gst_document_lines WHERE tenant_id = $1 AND document_id = ANY($2) \
         ORDER BY document_id, line_no",
    )
    .bind(tenant)
    .bind(ids)
    .fetch_all(tx)
    .await?;
    let mut by_document: BTreeMap<Uuid, Vec<LineRow>> = BTreeMap::new();
    for row in rows {
        by_document.entry(row.document_id).or_default().push(row);
    }
    Ok(by_document)
}

/// The invoices and credit notes `gstin` issued between `from` and `to`.
pub async fn outward(
    tx: &mut PgConnection,
    tenant: Uuid,
    gstin: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Outward>, sqlx::Error> {
    let rows: Vec<OutwardRow> = sqlx::query_as(
        "SELECT d.id, d.kind, d.number, d.document_date, d.counterparty_gstin, d.place_of_supply, d.value_minor, \
         d.cancelled, o.number AS original_number, o.document_date AS original_date, o.value_minor AS original_value \
         FROM gst_documents d LEFT JOIN gst_documents o ON o.tenant_id = d.tenant_id AND o.id = d.original_id \
         WHERE d.tenant_id = $1 AND d.gstin = $2 AND d.kind IN ('invoice', 'credit_note') \
         AND d.document_date BETWEEN $3 AND $4 ORDER BY d.document_date, d.number",
    )
    .bind(tenant)
    .bind(gstin)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut lines = lines_of(tx, tenant, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| Outward {
            credit_note: r.kind == "credit_note",
            lines: lines
                .remove(&r.id)
                .unwrap_or_default()
                .into_iter()
                .map(|l| DocLine {
                    tax: l.tax(),
                    hsn_code: l.hsn_code,
                    rate_bp: l.rate_bp,
                    quantity: l.quantity,
                })
                .collect(),
            number: r.number,
            date: r.document_date,
            buyer_gstin: r.counterparty_gstin,
            place_of_supply: r
                .place_of_supply
                .unwrap_or_else(|| gstin.get(..2).unwrap_or_default().to_owned()),
            value_minor: r.value_minor,
            cancelled: r.cancelled,
            original: match (r.original_number, r.original_date, r.original_value) {
                (Some(n), Some(d), Some(v)) => Some((n, d, v)),
                _ => None,
            },
        })
        .collect())
}

/// The vendor invoices and debit notes of goods delivered to `state` between `from`
/// and `to`.
pub async fn inward(
    tx: &mut PgConnection,
    tenant: Uuid,
    state: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Inward>, sqlx::Error> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, kind FROM gst_documents WHERE tenant_id = $1 AND state_code = $2 \
         AND kind IN ('purchase_invoice', 'debit_note') AND document_date BETWEEN $3 AND $4",
    )
    .bind(tenant)
    .bind(state)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let lines = lines_of(tx, tenant, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|(id, kind)| {
            let mut tax = Tax::default();
            for line in lines.get(&id).into_iter().flatten() {
                tax.add(&line.tax(), 1);
            }
            Inward {
                debit_note: kind == "debit_note",
                tax,
            }
        })
        .collect())
}

/// The GSTINs the tenant has issued invoices under.
pub async fn gstins(tx: &mut PgConnection, tenant: Uuid) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT gstin FROM gst_documents WHERE tenant_id = $1 AND gstin IS NOT NULL ORDER BY gstin",
    )
    .bind(tenant)
    .fetch_all(tx)
    .await
}

#[cfg(test)]
mod tests {
    // Amounts in paise are written rupees_paise.
    #![allow(clippy::inconsistent_digit_grouping)]

    use super::*;

    fn heads(igst: i64, cgst: i64, sgst: i64, cess: i64) -> Heads {
        Heads {
            igst_minor: igst,
            cgst_minor: cgst,
            sgst_minor: sgst,
            cess_minor: cess,
        }
    }

    #[test]
    fn igst_credit_goes_first_and_covers_what_cgst_and_sgst_credit_cannot() {
        // Liability: IGST 1,000, CGST 600, SGST 600. Credit: IGST 1,500, CGST 100,
        // SGST 400. IGST credit pays IGST 1,000; its 500 left go to the shortfalls,
        // CGST 500 (600 - 100) first. CGST credit 100 pays CGST's last 100; SGST credit
        // pays SGST 400 and 200 is paid in cash.
        let out = set_off(
            heads(1_000_00, 600_00, 600_00, 0),
            heads(1_500_00, 100_00, 400_00, 0),
        );
        assert_eq!(out.paid_from_igst_credit, heads(1_000_00, 500_00, 0, 0));
        assert_eq!(out.paid_from_cgst_credit, heads(0, 100_00, 0, 0));
        assert_eq!(out.paid_from_sgst_credit, heads(0, 0, 400_00, 0));
        assert_eq!(out.payable_in_cash, heads(0, 0, 200_00, 0));
        assert_eq!(out.credit_carried_forward, heads(0, 0, 0, 0));
    }

    #[test]
    fn cgst_credit_never_pays_sgst_and_surplus_is_carried_forward() {
        // Liability: CGST 300, SGST 300, cess 50. Credit: CGST 900, cess 20.
        let out = set_off(heads(0, 300_00, 300_00, 50_00), heads(0, 900_00, 0, 20_00));
        assert_eq!(out.paid_from_cgst_credit, heads(0, 300_00, 0, 0));
        assert_eq!(out.paid_from_cess_credit, heads(0, 0, 0, 20_00));
        assert_eq!(out.payable_in_cash, heads(0, 0, 300_00, 30_00));
        assert_eq!(out.credit_carried_forward, heads(0, 600_00, 0, 0));
    }

    #[test]
    fn cgst_and_sgst_credit_pay_igst_after_their_own_heads() {
        // Liability: IGST 1,000, CGST 100, SGST 100. Credit: IGST 200, CGST 500, SGST 500.
        // IGST credit 200 on IGST. CGST 100 on CGST, 400 on IGST; SGST 100 on SGST,
        // 400 on IGST. 100 carried in SGST.
        let out = set_off(
            heads(1_000_00, 100_00, 100_00, 0),
            heads(200_00, 500_00, 500_00, 0),
        );
        assert_eq!(out.paid_from_igst_credit, heads(200_00, 0, 0, 0));
        assert_eq!(out.paid_from_cgst_credit, heads(400_00, 100_00, 0, 0));
        assert_eq!(out.paid_from_sgst_credit, heads(400_00, 0, 100_00, 0));
        assert_eq!(out.payable_in_cash, heads(0, 0, 0, 0));
        assert_eq!(out.credit_carried_forward, heads(0, 0, 0, 0));
        // Surplus IGST credit is used on CGST and SGST even where their own credit
        // would do, because the law says IGST goes first.
        let out = set_off(
            heads(0, 100_00, 100_00, 0),
            heads(300_00, 100_00, 100_00, 0),
        );
        assert_eq!(out.paid_from_igst_credit, heads(0, 100_00, 100_00, 0));
        assert_eq!(out.credit_carried_forward, heads(100_00, 100_00, 100_00, 0));
    }

    #[test]
    fn reversals_above_the_credit_are_tax_to_pay() {
        let out = set_off(heads(0, 0, 0, 0), heads(-50_00, 0, 0, 0));
        assert_eq!(out.liability, heads(50_00, 0, 0, 0));
        assert_eq!(out.payable_in_cash, heads(50_00, 0, 0, 0));
    }

    fn line(hsn: &str, rate_bp: i32, quantity: i64, taxable: i64, igst: i64, half: i64) -> DocLine {
        DocLine {
            hsn_code: Some(hsn.to_owned()),
            rate_bp,
            quantity: Decimal::from(quantity),
            tax: Tax {
                taxable_minor: taxable,
                igst_minor: igst,
                cgst_minor: half,
                sgst_minor: half,
                cess_minor: 0,
            },
        }
    }

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn invoice(number: &str, buyer: Option<&str>, place: &str, lines: Vec<DocLine>) -> Outward {
        let value = lines
            .iter()
            .map(|l| l.tax.taxable_minor + l.tax.taxes())
            .sum();
        Outward {
            credit_note: false,
            number: number.to_owned(),
            date: date(5),
            buyer_gstin: buyer.map(str::to_owned),
            place_of_supply: place.to_owned(),
            value_minor: value,
            cancelled: false,
            original: None,
            lines,
        }
    }

    fn note(number: &str, of: &Outward, lines: Vec<DocLine>) -> Outward {
        let mut note = invoice(
            number,
            of.buyer_gstin.as_deref(),
            &of.place_of_supply,
            lines,
        );
        note.credit_note = true;
        note.date = date(20);
        note.original = Some((of.number.clone(), of.date, of.value_minor));
        note
    }

    #[test]
    fn gstr1_sorts_each_document_into_its_section() {
        let b2b = invoice(
            "A1",
            Some("29AAACR5055K1Z5"),
            "29",
            vec![line("3401", 1800, 10, 1_000_00, 0, 90_00)],
        );
        // Inter-state, no GSTIN, ₹1,18,000: large.
        let large = invoice(
            "A2",
            None,
            "27",
            vec![line("8516", 1800, 1, 1_00_000_00, 18_000_00, 0)],
        );
        // Inter-state, no GSTIN, ₹1,050: small.
        let small_inter = invoice(
            "A3",
            None,
            "27",
            vec![line("1006", 500, 10, 1_000_00, 50_00, 0)],
        );
        let small = invoice(
            "A4",
            None,
            "29",
            vec![
                line("1006", 500, 4, 400_00, 0, 10_00),
                line("3401", 1800, 2, 200_00, 0, 18_00),
            ],
        );
        let mut voided = invoice(
            "A5",
            None,
            "29",
            vec![line("3401", 1800, 1, 100_00, 0, 9_00)],
        );
        voided.cancelled = true;
        let b2b_note = note("C1", &b2b, vec![line("3401", 1800, 1, 100_00, 0, 9_00)]);
        let large_note = note(
            "C2",
            &large,
            vec![line("8516", 1800, 1, 1_00_000_00, 18_000_00, 0)],
        );
        let small_note = note("C3", &small, vec![line("1006", 500, 1, 100_00, 0, 2_50)]);
        let report = gstr1(
            "29AAGCB7383J1Z4",
            "2026-11",
            &[
                b2b,
                large,
                small_inter,
                small,
                voided,
                b2b_note,
                large_note,
                small_note,
            ],
            B2CL_THRESHOLD_MINOR,
        );
        let b2b: Vec<&str> = report
            .b2b
            .iter()
            .map(|i| i.invoice_number.as_str())
            .collect();
        let b2cl: Vec<&str> = report
            .b2cl
            .iter()
            .map(|i| i.invoice_number.as_str())
            .collect();
        assert_eq!((b2b, b2cl), (vec!["A1"], vec!["A2"]));
        assert_eq!(report.cdnr.len(), 1);
        assert_eq!(report.cdnr[0].invoice_number, "A1");
        assert_eq!(report.cdnur[0].note_number, "C2");
        let tax = |taxable, igst, half| Tax {
            taxable_minor: taxable,
            igst_minor: igst,
            cgst_minor: half,
            sgst_minor: half,
            cess_minor: 0,
        };
        // B2C small: 5 % in Karnataka is 400 less the 100 returned.
        let rows: Vec<(&str, &str, i32, Tax)> = report
            .b2cs
            .iter()
            .map(|r| {
                (
                    r.place_of_supply.as_str(),
                    r.supply_type.as_str(),
                    r.rate_bp,
                    r.tax,
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                ("27", "inter", 500, tax(1_000_00, 50_00, 0)),
                ("29", "intra", 500, tax(300_00, 0, 7_50)),
                ("29", "intra", 1800, tax(200_00, 0, 18_00)),
            ]
        );
        // HSN: rice 10 + 4 - 1; soap 10 + 2 - 1; the heater sold and returned.
        let hsn: Vec<(&str, &str, i64)> = report
            .hsn
            .iter()
            .map(|r| {
                (
                    r.hsn_code.as_str(),
                    r.quantity.as_str(),
                    r.total_value_minor,
                )
            })
            .collect();
        assert_eq!(
            hsn,
            vec![
                ("1006", "13", 1_050_00 + 420_00 - 105_00),
                ("3401", "11", 1_180_00 + 236_00 - 118_00),
                ("8516", "0", 0),
            ]
        );
        assert_eq!(
            report.documents,
            DocumentCounts {
                invoices: 5,
                cancelled: 1,
                credit_notes: 3
            }
        );
    }
}
