//! Vendor invoices' SQL: the receipts an invoice bills, what of them is not yet billed,
//! the invoice and its lines, its approval.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

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
        "SELECT l.grn_id, l.line_no, l.quantity_received - l.quantity_invoiced, l.unit_cost_minor \
         FROM grn_lines l JOIN grns g ON g.id = l.grn_id WHERE l.tenant_id = $1 AND l.grn_id = ANY($2) \
           AND l.product_id = $3 ORDER BY g.received_at, l.line_no",
    )
    .bind(tenant)
    .bind(grns)
    .bind(product)
    .fetch_all(tx)
    .await
}

/// `quantity` of a receipt's line (`(grn, line_no)`) is billed.
pub(crate) async fn invoice_from_receipt(
    tx: &mut PgConnection,
    (grn, line_no): (Uuid, i32),
    quantity: Decimal,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE grn_lines SET quantity_invoiced = quantity_invoiced + $3 \
         WHERE grn_id = $1 AND line_no = $2",
    )
    .bind(grn)
    .bind(line_no)
    .bind(quantity)
    .execute(tx)
    .await?;
    Ok(())
}

/// A vendor's invoice as it is recorded.
pub(crate) struct NewInvoice<'a> {
    pub(crate) id: Uuid,
    pub(crate) vendor_id: Uuid,
    pub(crate) number: &'a str,
    pub(crate) invoice_date: NaiveDate,
    pub(crate) due_date: NaiveDate,
    pub(crate) grn_ids: &'a [Uuid],
    pub(crate) currency: &'a str,
    pub(crate) taxable_minor: i64,
    pub(crate) total_minor: i64,
    /// `matched` or `held`.
    pub(crate) status: &'a str,
    pub(crate) mismatches: &'a [Mismatch],
    pub(crate) recorded_by: Uuid,
}

/// Records `invoice` and its lines; `false`, nothing written, when the vendor's number is
/// recorded already.
pub(crate) async fn insert(
    tx: &mut PgConnection,
    tenant: Uuid,
    invoice: &NewInvoice<'_>,
    lines: &[RecordedLine],
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO purchase_invoices (id, tenant_id, vendor_id, vendor_invoice_number, invoice_date, \
         due_date, grn_ids, currency, taxable_minor, tax_minor, total_minor, status, mismatches, recorded_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING",
    )
    .bind(invoice.id)
    .bind(tenant)
    .bind(invoice.vendor_id)
    .bind(invoice.number)
    .bind(invoice.invoice_date)
    .bind(invoice.due_date)
    .bind(invoice.grn_ids)
    .bind(invoice.currency)
    .bind(invoice.taxable_minor)
    // Both are checked sums of the same lines, the total over the taxable value.
    .bind(invoice.total_minor - invoice.taxable_minor)
    .bind(invoice.total_minor)
    .bind(invoice.status)
    .bind(sqlx::types::Json(invoice.mismatches))
    .bind(invoice.recorded_by)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    for (line_no, line) in (1..).zip(lines) {
        sqlx::query(
            "INSERT INTO invoice_lines (invoice_id, line_no, tenant_id, product_id, quantity, unit_price_minor, \
             taxable_minor, gst_rate_bp, cgst_minor, sgst_minor, igst_minor, cess_minor, total_minor, \
             received_value_minor) VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(invoice.id)
        .bind(line_no)
        .bind(tenant)
        .bind(line.product_id)
        .bind(&line.quantity)
        .bind(line.unit_price_minor)
        .bind(line.taxable_minor)
        .bind(line.gst_rate_bp)
        .bind(line.cgst_minor)
        .bind(line.sgst_minor)
        .bind(line.igst_minor)
        .bind(line.cess_minor)
        .bind(line.total_minor)
        .bind(line.received_value_minor)
        .execute(&mut *tx)
        .await?;
    }
    Ok(true)
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
         currency, taxable_minor, tax_minor, total_minor FROM purchase_invoices WHERE tenant_id = $1 AND id = $2",
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
