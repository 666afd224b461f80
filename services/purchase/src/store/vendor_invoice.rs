//! Vendor invoices' SQL: the receipts an invoice bills, what of them is not yet billed,
//! the invoice and its lines, its approval.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use bazaar_platform::db::EVENT_TIME;
use bazaar_schemas::events;

use crate::domain::Mismatch;

/// A vendor invoice's line as stored, and as its event carries it.
#[derive(sqlx::FromRow)]
pub(crate) struct RecordedLine {
    pub(crate) product_id: Uuid,
    pub(crate) sku: String,
    pub(crate) quantity: String,
    pub(crate) unit_price_minor: i64,
    pub(crate) taxable_minor: i64,
    pub(crate) gst_rate_bp: i32,
    pub(crate) cgst_minor: i64,
    pub(crate) sgst_minor: i64,
    pub(crate) igst_minor: i64,
    pub(crate) cess_minor: i64,
    pub(crate) total_minor: i64,
    /// The invoiced quantity at the receipts' cost.
    pub(crate) received_value_minor: Option<i64>,
}

impl RecordedLine {
    pub(crate) fn into_event(self) -> events::purchase::PurchaseInvoiceRecordedPurchaseInvoiceLine {
        events::purchase::PurchaseInvoiceRecordedPurchaseInvoiceLine {
            product_id: self.product_id,
            sku: self.sku,
            quantity: self.quantity,
            unit_price_minor: self.unit_price_minor,
            taxable_minor: self.taxable_minor,
            gst_rate_bp: self.gst_rate_bp,
            cgst_minor: self.cgst_minor,
            sgst_minor: self.sgst_minor,
            igst_minor: self.igst_minor,
            cess_minor: self.cess_minor,
            total_minor: self.total_minor,
            received_value_minor: self.received_value_minor,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct InvoiceRow {
    pub(crate) vendor_id: Uuid,
    pub(crate) vendor_invoice_number: String,
    pub(crate) invoice_date: NaiveDate,
    pub(crate) due_date: NaiveDate,
    pub(crate) grn_ids: Vec<Uuid>,
    pub(crate) status: String,
    pub(crate) mismatches: sqlx::types::Json<Vec<Mismatch>>,
    pub(crate) currency: String,
    pub(crate) taxable_minor: i64,
    pub(crate) tax_minor: i64,
    pub(crate) total_minor: i64,
    pub(crate) recorded_by: Uuid,
}

/// `grns` of `vendor`, locked so two invoices cannot bill the same goods: (receipt,
/// order, place of supply).
pub(crate) async fn lock_receipts(
    tx: &mut PgConnection,
    tenant: Uuid,
    vendor: Uuid,
    grns: &[Uuid],
) -> Result<Vec<(Uuid, Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT g.id, g.po_id, o.place_of_supply FROM grns g JOIN purchase_orders o ON o.id = g.po_id \
         WHERE g.tenant_id = $1 AND g.vendor_id = $2 AND g.id = ANY($3) FOR UPDATE OF g",
    )
    .bind(tenant)
    .bind(vendor)
    .bind(grns)
    .fetch_all(tx)
    .await
}

/// What `grns` brought of `product` and is not yet billed, oldest first: (receipt, line,
/// quantity, unit cost).
pub(crate) async fn uninvoiced(
    tx: &mut PgConnection,
    tenant: Uuid,
    grns: &[Uuid],
    product: Uuid,
) -> Result<Vec<(Uuid, i32, Decimal, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.grn_id, l.line_no, l.quantity_received - coalesce( \
             (SELECT sum(a.quantity) FROM invoice_allocations a \
              WHERE a.tenant_id = l.tenant_id AND a.grn_id = l.grn_id AND a.line_no = l.line_no), 0), \
           l.unit_cost_minor \
         FROM grn_lines l JOIN grns g ON g.id = l.grn_id WHERE l.tenant_id = $1 AND l.grn_id = ANY($2) \
           AND l.product_id = $3 ORDER BY g.received_at, l.line_no",
    )
    .bind(tenant)
    .bind(grns)
    .bind(product)
    .fetch_all(tx)
    .await
}

/// Records an invoice as its event says (`purchase.invoice.recorded`, or `.held` as the
/// same facts): its head, lines and what it bills of each receipt line; `false`, nothing
/// written, when the vendor's number is recorded already.
pub(crate) async fn invoice_written(
    tx: &mut PgConnection,
    recorded: &events::purchase::PurchaseInvoiceRecorded,
) -> Result<bool, sqlx::Error> {
    let mismatches: Vec<Mismatch> = recorded
        .mismatches
        .iter()
        .map(|m| Mismatch {
            sku: m.sku.clone(),
            code: m.code.clone(),
            message: m.message.clone(),
        })
        .collect();
    let date = |text: &str| {
        text.parse::<NaiveDate>()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))
    };
    let inserted = sqlx::query(&format!(
        "INSERT INTO purchase_invoices (id, tenant_id, vendor_id, vendor_invoice_number, invoice_date, \
         due_date, grn_ids, currency, taxable_minor, tax_minor, total_minor, status, mismatches, recorded_by, \
         approved_by, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, {EVENT_TIME} $16) \
         ON CONFLICT DO NOTHING"
    ))
    .bind(recorded.invoice_id)
    .bind(recorded.tenant_id)
    .bind(recorded.vendor_id)
    .bind(&recorded.vendor_invoice_number)
    .bind(date(&recorded.invoice_date)?)
    .bind(date(&recorded.due_date)?)
    .bind(&recorded.grn_ids)
    .bind(&recorded.currency)
    .bind(recorded.taxable_minor)
    .bind(recorded.tax_minor)
    .bind(recorded.total_minor)
    .bind(&recorded.status)
    .bind(sqlx::types::Json(&mismatches))
    .bind(recorded.recorded_by)
    .bind(recorded.approved_by)
    .bind(recorded.recorded_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    let lines = &recorded.lines;
    sqlx::query(
        "INSERT INTO invoice_lines (invoice_id, line_no, tenant_id, product_id, quantity, unit_price_minor, \
         taxable_minor, gst_rate_bp, cgst_minor, sgst_minor, igst_minor, cess_minor, total_minor, \
         received_value_minor) \
         SELECT $1, l.line_no, $2, l.product_id, l.quantity::numeric, l.unit_price_minor, l.taxable_minor, \
             l.gst_rate_bp, l.cgst_minor, l.sgst_minor, l.igst_minor, l.cess_minor, l.total_minor, \
             l.received_value_minor \
         FROM UNNEST($3::int4[], $4::uuid[], $5::text[], $6::int8[], $7::int8[], $8::int4[], $9::int8[], \
             $10::int8[], $11::int8[], $12::int8[], $13::int8[], $14::int8[]) \
           AS l (line_no, product_id, quantity, unit_price_minor, taxable_minor, gst_rate_bp, cgst_minor, \
                 sgst_minor, igst_minor, cess_minor, total_minor, received_value_minor)",
    )
    .bind(recorded.invoice_id)
    .bind(recorded.tenant_id)
    .bind((1..=lines.len() as i32).collect::<Vec<i32>>())
    .bind(lines.iter().map(|l| l.product_id).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.quantity.as_str()).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.unit_price_minor).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.taxable_minor).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.gst_rate_bp).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.cgst_minor).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.sgst_minor).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.igst_minor).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.cess_minor).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.total_minor).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.received_value_minor).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    let billed = &recorded.allocations;
    sqlx::query(
        "INSERT INTO invoice_allocations (tenant_id, invoice_id, grn_id, line_no, quantity) \
         SELECT $1, $2, a.grn_id, a.line_no, a.quantity::numeric \
         FROM UNNEST($3::uuid[], $4::int4[], $5::text[]) AS a (grn_id, line_no, quantity)",
    )
    .bind(recorded.tenant_id)
    .bind(recorded.invoice_id)
    .bind(billed.iter().map(|a| a.grn_id).collect::<Vec<_>>())
    .bind(billed.iter().map(|a| a.line_no).collect::<Vec<_>>())
    .bind(
        billed
            .iter()
            .map(|a| a.quantity.as_str())
            .collect::<Vec<_>>(),
    )
    .execute(tx)
    .await?;
    Ok(true)
}

/// What invoice `id` bills of each receipt line, as its event carries it.
pub(crate) async fn allocations(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Vec<events::purchase::PurchaseInvoiceRecordedAllocation>, sqlx::Error> {
    let rows: Vec<(Uuid, i32, String)> = sqlx::query_as(
        "SELECT grn_id, line_no, trim_scale(quantity)::text FROM invoice_allocations \
         WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY grn_id, line_no",
    )
    .bind(tenant)
    .bind(id)
    .fetch_all(tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(grn_id, line_no, quantity)| events::purchase::PurchaseInvoiceRecordedAllocation {
                grn_id,
                line_no,
                quantity,
            },
        )
        .collect())
}

/// Invoice `id`'s lines, in order.
pub(crate) async fn lines(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Vec<RecordedLine>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.product_id, p.sku, trim_scale(l.quantity)::text AS quantity, l.unit_price_minor, \
         l.taxable_minor, l.gst_rate_bp, l.cgst_minor, l.sgst_minor, l.igst_minor, l.cess_minor, l.total_minor, \
         l.received_value_minor FROM invoice_lines l JOIN products p ON p.tenant_id = l.tenant_id AND p.id = l.product_id \
         WHERE l.tenant_id = $1 AND l.invoice_id = $2 ORDER BY l.line_no",
    )
    .bind(tenant)
    .bind(id)
    .fetch_all(tx)
    .await
}

/// The state the goods of `grns` were delivered to (the first receipt's order's): whose
/// GSTIN takes the credit.
pub(crate) async fn place_of_supply(
    tx: &mut PgConnection,
    tenant: Uuid,
    grns: &[Uuid],
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT o.place_of_supply FROM grns g JOIN purchase_orders o ON o.id = g.po_id \
         WHERE g.tenant_id = $1 AND g.id = ANY($2) ORDER BY g.received_at LIMIT 1",
    )
    .bind(tenant)
    .bind(grns)
    .fetch_optional(tx)
    .await
}

/// Invoice `id`.
pub(crate) async fn row(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<InvoiceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT vendor_id, vendor_invoice_number, invoice_date, due_date, grn_ids, status, mismatches, \
         currency, taxable_minor, tax_minor, total_minor, recorded_by FROM purchase_invoices \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Approves held invoice `id`; `false` when it is not held.
pub(crate) async fn approve(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    by: Uuid,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE purchase_invoices SET status = 'approved', approved_by = $3 \
         WHERE tenant_id = $1 AND id = $2 AND status = 'held'",
    )
    .bind(tenant)
    .bind(id)
    .bind(by)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(updated == 1)
}
