//! Sales' SQL for the terminal's day, the discount policy, the prices in force and the
//! exceptions of sales beyond them. Handlers call these and keep no SQL of their own for
//! them.

use bazaar_platform::db::EVENT_TIME as AT;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use bazaar_platform::auth::Role;

use crate::{domain::DiscountLimit, policy::SaleException};

/// The store whose inventory location is `location`; `None` for a warehouse.
pub(crate) async fn store_at(
    tx: &mut PgConnection,
    tenant: Uuid,
    location: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM stores WHERE tenant_id = $1 AND location_id = $2")
        .bind(tenant)
        .bind(location)
        .fetch_optional(tx)
        .await
}

/// Takes the next serial of a terminal's series for `year`, locking the series row until
/// commit; `None` when the terminal's day `today` is closed. ON CONFLICT locks the row and
/// only then checks the close, so a sale that waited for a close in flight sees it.
pub(crate) async fn take_serial(
    tx: &mut PgConnection,
    tenant: Uuid,
    store: Uuid,
    terminal: &str,
    year: i32,
    today: NaiveDate,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO invoice_series (tenant_id, store_id, terminal_id, financial_year, last_number) \
         VALUES ($1, $2, $3, $4, 1) \
         ON CONFLICT (tenant_id, store_id, terminal_id, financial_year) \
         DO UPDATE SET last_number = invoice_series.last_number + 1 \
         WHERE invoice_series.closed_day IS NULL OR invoice_series.closed_day < $5 \
         RETURNING last_number",
    )
    .bind(tenant)
    .bind(store)
    .bind(terminal)
    .bind(year)
    .bind(today)
    .fetch_optional(tx)
    .await
}

/// Locks a terminal's series row as a sale does, without taking a number; false when its
/// day `today` is closed.
pub(crate) async fn hold_open_day(
    tx: &mut PgConnection,
    tenant: Uuid,
    store: Uuid,
    terminal: &str,
    year: i32,
    today: NaiveDate,
) -> Result<bool, sqlx::Error> {
    let open: Option<i32> = sqlx::query_scalar(
        "INSERT INTO invoice_series (tenant_id, store_id, terminal_id, financial_year, last_number) \
         VALUES ($1, $2, $3, $4, 0) \
         ON CONFLICT (tenant_id, store_id, terminal_id, financial_year) \
         DO UPDATE SET last_number = invoice_series.last_number \
         WHERE invoice_series.closed_day IS NULL OR invoice_series.closed_day < $5 \
         RETURNING 1",
    )
    .bind(tenant)
    .bind(store)
    .bind(terminal)
    .bind(year)
    .bind(today)
    .fetch_optional(tx)
    .await?;
    Ok(open.is_some())
}

/// Marks a terminal's `day` closed on its series row, first thing in the close: sales in
/// flight finish before the report reads them, and every later one finds the day closed.
pub(crate) async fn close_terminal_day(
    tx: &mut PgConnection,
    tenant: Uuid,
    store: Uuid,
    terminal: &str,
    year: i32,
    day: NaiveDate,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO invoice_series (tenant_id, store_id, terminal_id, financial_year, last_number, closed_day) \
         VALUES ($1, $2, $3, $4, 0, $5) \
         ON CONFLICT (tenant_id, store_id, terminal_id, financial_year) \
         DO UPDATE SET closed_day = greatest(invoice_series.closed_day, $5)",
    )
    .bind(tenant)
    .bind(store)
    .bind(terminal)
    .bind(year)
    .bind(day)
    .execute(tx)
    .await?;
    Ok(())
}

/// The widest discount limit of `roles` at `store`: a store's own policy for a role, else
/// the tenant's, else the built-in one.
pub(crate) async fn discount_limit(
    tx: &mut PgConnection,
    tenant: Uuid,
    store: Uuid,
    roles: &[Role],
) -> Result<DiscountLimit, sqlx::Error> {
    let codes: Vec<&str> = roles.iter().map(|r| r.code()).collect();
    let rows: Vec<PolicyRow> = sqlx::query_as(
        "SELECT role, store_id, line_bp, line_minor, bill_bp, bill_minor FROM discount_policies \
         WHERE tenant_id = $1 AND (store_id = $2 OR store_id IS NULL) AND role = ANY($3)",
    )
    .bind(tenant)
    .bind(store)
    .bind(&codes)
    .fetch_all(&mut *tx)
    .await?;
    let limit_of = |role: Role| {
        let code = role.code();
        let row = rows
            .iter()
            .filter(|r| r.role == code)
            .max_by_key(|r| r.store_id.is_some());
        row.map_or_else(
            || DiscountLimit::built_in(role),
            |r| DiscountLimit {
                line_bp: r.line_bp.max(0) as u32,
                line_minor: r.line_minor,
                bill_bp: r.bill_bp.max(0) as u32,
                bill_minor: r.bill_minor,
            },
        )
    };
    Ok(roles
        .iter()
        .map(|r| limit_of(*r))
        .reduce(DiscountLimit::widest)
        .unwrap_or(DiscountLimit::NONE))
}

/// A role's policy row, the tenant's (no store) or a store's.
#[derive(sqlx::FromRow)]
struct PolicyRow {
    role: String,
    store_id: Option<Uuid>,
    line_bp: i32,
    line_minor: Option<i64>,
    bill_bp: i32,
    bill_minor: Option<i64>,
}

pub(crate) async fn save_limit(
    tx: &mut PgConnection,
    tenant: Uuid,
    store: Option<Uuid>,
    role: Role,
    limit: DiscountLimit,
    by: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO discount_policies (tenant_id, store_id, role, line_bp, line_minor, bill_bp, bill_minor, set_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (tenant_id, coalesce(store_id, '00000000-0000-0000-0000-000000000000'), role) \
         DO UPDATE SET line_bp = $4, line_minor = $5, bill_bp = $6, bill_minor = $7, set_by = $8, set_at = now()",
    )
    .bind(tenant)
    .bind(store)
    .bind(role.code())
    .bind(limit.line_bp as i32)
    .bind(limit.line_minor)
    .bind(limit.bill_bp as i32)
    .bind(limit.bill_minor)
    .bind(by)
    .execute(tx)
    .await?;
    Ok(())
}

/// Each product's selling price in force at `at`, in `products`' order, as the
/// sales-references projection recorded catalog's prices; before the first price it knows
/// of, the first; `None` for a product with no history.
pub(crate) async fn prices_in_force(
    tx: &mut PgConnection,
    tenant: Uuid,
    products: &[Uuid],
    at: DateTime<Utc>,
) -> Result<Vec<Option<i64>>, sqlx::Error> {
    let known: Vec<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT l.n, coalesce( \
           (SELECT selling_price_minor FROM product_prices WHERE tenant_id = $1 AND product_id = l.id \
              AND valid_from <= $3 ORDER BY valid_from DESC LIMIT 1), \
           (SELECT selling_price_minor FROM product_prices WHERE tenant_id = $1 AND product_id = l.id \
              ORDER BY valid_from LIMIT 1)) \
         FROM UNNEST($2::uuid[]) WITH ORDINALITY AS l (id, n)",
    )
    .bind(tenant)
    .bind(products)
    .bind(at)
    .fetch_all(tx)
    .await?;
    Ok((1..=products.len() as i64)
        .map(|n| {
            known
                .iter()
                .find(|(line, _)| *line == n)
                .and_then(|(_, price)| *price)
        })
        .collect())
}

/// A store's exceptions of sales issued in `days` (first and last), unapproved first.
pub(crate) async fn exceptions_of_store(
    tx: &mut PgConnection,
    tenant: Uuid,
    store: Uuid,
    days: (NaiveDate, NaiveDate),
    limit: i64,
    offset: i64,
) -> Result<Vec<SaleException>, sqlx::Error> {
    sqlx::query_as(
        "SELECT i.id AS invoice_id, i.number AS invoice_number, i.terminal_id, i.cashier_id, i.issued_at, \
         i.offline, e.approved_by, e.field, e.kind, e.allowed_minor, \
         e.given_minor, e.amount_minor, i.currency \
         FROM invoice_exceptions e JOIN invoices i ON i.id = e.invoice_id \
         WHERE e.tenant_id = $1 AND i.store_id = $2 AND i.issued_at >= $3::date AND i.issued_at < $4::date + 1 \
         ORDER BY e.approved_by IS NOT NULL, i.issued_at, i.number, e.seq LIMIT $5 OFFSET $6",
    )
    .bind(tenant)
    .bind(store)
    .bind(days.0)
    .bind(days.1)
    .bind(limit)
    .bind(offset)
    .fetch_all(tx)
    .await
}

/// Parks a bill at a terminal as its `sales.bill.held` says.
pub(crate) async fn bill_held(
    tx: &mut PgConnection,
    held: &bazaar_schemas::events::sales::BillHeld,
) -> Result<crate::held::HeldBill, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO held_bills (id, tenant_id, store_id, terminal_id, customer_id, note, lines, \
             status, held_by, held_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'held', $8, {AT} $9) \
         RETURNING id, store_id, terminal_id, customer_id, note, lines, status, held_at"
    ))
    .bind(held.bill_id)
    .bind(held.tenant_id)
    .bind(held.store_id)
    .bind(&held.terminal_id)
    .bind(held.customer_id)
    .bind(&held.note)
    .bind(sqlx::types::Json(&held.lines))
    .bind(held.held_by)
    .bind(held.held_at)
    .fetch_one(tx)
    .await
}

/// The bills held at a terminal (`(store, terminal)`), oldest first.
pub(crate) async fn held_bills(
    tx: &mut PgConnection,
    tenant: Uuid,
    (store, terminal): (Uuid, &str),
) -> Result<Vec<crate::held::HeldBill>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, store_id, terminal_id, customer_id, note, lines, status, held_at FROM held_bills \
         WHERE tenant_id = $1 AND store_id = $2 AND terminal_id = $3 AND status = 'held' ORDER BY held_at",
    )
    .bind(tenant)
    .bind(store)
    .bind(terminal)
    .fetch_all(tx)
    .await
}

/// Ends held bill `id` as `to` (`resumed` or `discarded`); none if it is not held.
pub(crate) async fn end_held_bill(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    to: &str,
) -> Result<Option<crate::held::HeldBill>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE held_bills SET status = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'held' \
         RETURNING id, store_id, terminal_id, customer_id, note, lines, status, held_at",
    )
    .bind(tenant)
    .bind(id)
    .bind(to)
    .fetch_optional(tx)
    .await
}

/// A terminal's day as its Z report sums it.
pub(crate) struct DayFigures {
    /// Issued invoices.
    pub(crate) count: i64,
    /// The first and last of their numbers.
    pub(crate) first: Option<String>,
    pub(crate) last: Option<String>,
    /// Their currency; none on a day without invoices.
    pub(crate) currency: Option<String>,
    /// What they total.
    pub(crate) total: Option<i64>,
    /// Per payment mode: taken, and change given.
    pub(crate) modes: Vec<(String, i64, i64)>,
    /// Taxable value per GST rate (basis points).
    pub(crate) rates: Vec<(i32, i64)>,
    /// Refunded by returns, and of that in cash.
    pub(crate) returns: i64,
    pub(crate) cash_refunds: i64,
    /// Sales beyond the price or discount policy, and what they gave away.
    pub(crate) exceptions_count: i64,
    pub(crate) exceptions_minor: i64,
}

/// What a terminal (`(store, terminal)`) issued, took and refunded on `day`.
pub(crate) async fn day_figures(
    tx: &mut PgConnection,
    tenant: Uuid,
    (store, terminal): (Uuid, &str),
    day: NaiveDate,
) -> Result<DayFigures, sqlx::Error> {
    let span = "issued_at >= $4::date AND issued_at < $4::date + 1";
    let (count, first, last, currency, total): (i64, Option<String>, Option<String>, Option<String>, Option<i64>) =
        sqlx::query_as(&format!(
            "SELECT count(*), min(number), max(number), min(currency), sum(total_minor)::int8 FROM invoices \
             WHERE tenant_id = $1 AND store_id = $2 AND terminal_id = $3 AND status = 'issued' AND {span}"
        ))
        .bind(tenant)
        .bind(store)
        .bind(terminal)
        .bind(day)
        .fetch_one(&mut *tx)
        .await?;
    let modes = sqlx::query_as(&format!(
        "SELECT p.mode, sum(p.amount_minor)::int8, coalesce(sum(p.tendered_minor - p.amount_minor), 0)::int8 \
         FROM invoice_payments p JOIN invoices i ON i.id = p.invoice_id \
         WHERE i.tenant_id = $1 AND i.store_id = $2 AND i.terminal_id = $3 AND i.status = 'issued' AND i.{span} \
         GROUP BY p.mode"
    ))
    .bind(tenant)
    .bind(store)
    .bind(terminal)
    .bind(day)
    .fetch_all(&mut *tx)
    .await?;
    let rates = sqlx::query_as(&format!(
        "SELECT l.gst_rate_bp, sum(l.taxable_minor)::int8 FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id \
         WHERE i.tenant_id = $1 AND i.store_id = $2 AND i.terminal_id = $3 AND i.status = 'issued' AND i.{span} \
         GROUP BY l.gst_rate_bp"
    ))
    .bind(tenant)
    .bind(store)
    .bind(terminal)
    .bind(day)
    .fetch_all(&mut *tx)
    .await?;
    let (returns, cash_refunds): (i64, i64) = sqlx::query_as(
        "SELECT coalesce(sum(total_minor), 0)::int8, coalesce(sum(total_minor) FILTER (WHERE refund_mode = 'cash'), 0)::int8 \
         FROM sales_returns WHERE tenant_id = $1 AND store_id = $2 AND terminal_id = $3 \
         AND processed_at >= $4::date AND processed_at < $4::date + 1",
    )
    .bind(tenant)
    .bind(store)
    .bind(terminal)
    .bind(day)
    .fetch_one(&mut *tx)
    .await?;
    let (exceptions_count, exceptions_minor): (i64, i64) = sqlx::query_as(&format!(
        "SELECT count(*), coalesce(sum(e.amount_minor), 0)::int8 FROM invoice_exceptions e \
         JOIN invoices i ON i.id = e.invoice_id \
         WHERE i.tenant_id = $1 AND i.store_id = $2 AND i.terminal_id = $3 AND i.status = 'issued' AND i.{span}"
    ))
    .bind(tenant)
    .bind(store)
    .bind(terminal)
    .bind(day)
    .fetch_one(&mut *tx)
    .await?;
    Ok(DayFigures {
        count,
        first,
        last,
        currency,
        total,
        modes,
        rates,
        returns,
        cash_refunds,
        exceptions_count,
        exceptions_minor,
    })
}

/// Expires the bills still held at a terminal when its `day` closes; which.
pub(crate) async fn expire_held_bills(
    tx: &mut PgConnection,
    tenant: Uuid,
    (store, terminal): (Uuid, &str),
    day: NaiveDate,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE held_bills SET status = 'expired' WHERE tenant_id = $1 AND store_id = $2 AND terminal_id = $3 \
         AND status = 'held' AND held_at < $4::date + 1 RETURNING id",
    )
    .bind(tenant)
    .bind(store)
    .bind(terminal)
    .bind(day)
    .fetch_all(tx)
    .await
}

/// Keeps a terminal's Z report for `day`, closed `(by, at)` (ms); `false` when the day
/// was closed already.
pub(crate) async fn record_day_close(
    tx: &mut PgConnection,
    tenant: Uuid,
    (store, terminal): (Uuid, &str),
    day: NaiveDate,
    report: &crate::held::ZReport,
    (by, at): (Uuid, i64),
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(&format!(
        "INSERT INTO day_closes (tenant_id, store_id, terminal_id, day, report, closed_by, closed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, {AT} $7) ON CONFLICT DO NOTHING"
    ))
    .bind(tenant)
    .bind(store)
    .bind(terminal)
    .bind(day)
    .bind(sqlx::types::Json(report))
    .bind(by)
    .bind(at)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Invoice `id`'s status and the day it was issued, locked for the caller's transaction.
pub(crate) async fn lock_invoice(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<(String, NaiveDate)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT status, issued_at::date FROM invoices WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Voids an invoice as its `sales.invoice.voided` says: by whom, when and why.
pub(crate) async fn invoice_voided(
    tx: &mut PgConnection,
    voided: &bazaar_schemas::events::sales::InvoiceVoided,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE invoices SET status = 'voided', voided_by = $3, voided_at = {AT} $5, \
             void_reason = $4 \
         WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(voided.tenant_id)
    .bind(voided.invoice_id)
    .bind(voided.voided_by)
    .bind(&voided.reason)
    .bind(voided.voided_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// The next serial of a store's credit notes in financial year `year`, gap-free.
pub(crate) async fn next_credit_note_serial(
    tx: &mut PgConnection,
    tenant: Uuid,
    store: Uuid,
    year: i32,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO credit_note_series (tenant_id, store_id, financial_year, last_number) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (tenant_id, store_id, financial_year) DO UPDATE \
         SET last_number = credit_note_series.last_number + 1 RETURNING last_number",
    )
    .bind(tenant)
    .bind(store)
    .bind(year)
    .fetch_one(tx)
    .await
}

/// Return `id` if it was processed: (number, invoice, refund mode, total, currency).
pub(crate) async fn credit_note(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<(String, Uuid, String, i64, bazaar_platform::money::Currency)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.number, r.invoice_id, r.refund_mode, r.total_minor, i.currency FROM sales_returns r \
         JOIN invoices i ON i.id = r.invoice_id WHERE r.tenant_id = $1 AND r.id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Store `id`'s code, which its document numbers begin with.
pub(crate) async fn store_code(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT code FROM stores WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .fetch_one(tx)
        .await
}

/// Each of `products`' places, as its unit allows.
pub(crate) async fn unit_decimals(
    tx: &mut PgConnection,
    tenant: Uuid,
    products: &[Uuid],
) -> Result<Vec<(Uuid, i16)>, sqlx::Error> {
    sqlx::query_as("SELECT id, unit_decimals FROM products WHERE tenant_id = $1 AND id = ANY($2)")
        .bind(tenant)
        .bind(products)
        .fetch_all(tx)
        .await
}

/// What earlier returns of invoice `invoice` gave back per line: (line, taxable, CGST,
/// SGST, IGST, cess).
pub(crate) async fn given_back(
    tx: &mut PgConnection,
    tenant: Uuid,
    invoice: Uuid,
) -> Result<Vec<(i32, i64, i64, i64, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.line_no, sum(l.taxable_minor)::int8, sum(l.cgst_minor)::int8, sum(l.sgst_minor)::int8, \
         sum(l.igst_minor)::int8, sum(l.cess_minor)::int8 FROM sales_return_lines l \
         JOIN sales_returns r ON r.id = l.return_id WHERE r.tenant_id = $1 AND r.invoice_id = $2 \
         GROUP BY l.line_no",
    )
    .bind(tenant)
    .bind(invoice)
    .fetch_all(tx)
    .await
}

/// `quantity` more of invoice `invoice`'s line `line_no` came back.
pub(crate) async fn add_returned(
    tx: &mut PgConnection,
    invoice: Uuid,
    line_no: i32,
    quantity: rust_decimal::Decimal,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE invoice_lines SET quantity_returned = quantity_returned + $3 \
         WHERE invoice_id = $1 AND line_no = $2",
    )
    .bind(invoice)
    .bind(line_no)
    .bind(quantity)
    .execute(tx)
    .await?;
    Ok(())
}

/// The credit note `processed` describes, and what came back of each invoice line.
pub(crate) async fn record_return(
    tx: &mut PgConnection,
    processed: &bazaar_schemas::events::sales::ReturnProcessed,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO sales_returns (id, tenant_id, number, invoice_id, store_id, terminal_id, refund_mode, reason, \
         total_minor, processed_by, processed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, {AT} $11)"
    ))
    .bind(processed.return_id)
    .bind(processed.tenant_id)
    .bind(&processed.credit_note_number)
    .bind(processed.invoice_id)
    .bind(processed.store_id)
    .bind(&processed.terminal_id)
    .bind(&processed.refund_mode)
    .bind(&processed.reason)
    .bind(processed.total_minor)
    .bind(processed.processed_by)
    .bind(processed.processed_at)
    .execute(&mut *tx)
    .await?;
    for line in &processed.lines {
        sqlx::query(
            "INSERT INTO sales_return_lines (return_id, line_no, tenant_id, quantity, restock, taxable_minor, \
             cgst_minor, sgst_minor, igst_minor, cess_minor, total_minor) \
             VALUES ($1, $2, $3, $4::numeric, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(processed.return_id)
        .bind(line.line_no)
        .bind(processed.tenant_id)
        .bind(&line.quantity)
        .bind(line.restock)
        .bind(line.taxable_minor)
        .bind(line.cgst_minor)
        .bind(line.sgst_minor)
        .bind(line.igst_minor)
        .bind(line.cess_minor)
        .bind(line.total_minor)
        .execute(&mut *tx)
        .await?;
        let quantity = line
            .quantity
            .parse()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        add_returned(tx, processed.invoice_id, line.line_no, quantity).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Product {
    pub(crate) id: Uuid,
    pub(crate) sku: String,
    pub(crate) unit_decimals: i16,
    pub(crate) hsn_code: Option<String>,
    pub(crate) gst_rate_bp: i32,
    pub(crate) cess_rate_bp: i32,
    pub(crate) currency: bazaar_platform::money::Currency,
    pub(crate) selling_price_minor: i64,
    pub(crate) tax_inclusive: bool,
    pub(crate) archived: bool,
}

/// A product found for an invoice line, by its line's number from 1.
#[derive(sqlx::FromRow)]
pub(crate) struct LineProduct {
    pub(crate) line: i64,
    #[sqlx(flatten)]
    pub(crate) product: Product,
}

#[derive(sqlx::FromRow)]
pub(crate) struct InvoiceHead {
    pub(crate) number: String,
    pub(crate) store_id: Uuid,
    pub(crate) terminal_id: String,
    pub(crate) customer_id: Option<Uuid>,
    pub(crate) place_of_supply: String,
    pub(crate) supplier_gstin: Option<String>,
    pub(crate) customer_gstin: Option<String>,
    pub(crate) status: String,
    pub(crate) currency: bazaar_platform::money::Currency,
    pub(crate) subtotal_minor: i64,
    pub(crate) discount_minor: i64,
    pub(crate) taxable_minor: i64,
    pub(crate) tax_minor: i64,
    pub(crate) round_off_minor: i64,
    pub(crate) total_minor: i64,
    pub(crate) issued_at: chrono::DateTime<Utc>,
    pub(crate) exceptions: i32,
    pub(crate) approved_by: Option<Uuid>,
}

/// Store `id`'s invoicing settings.
pub(crate) async fn settings(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<crate::http::Store>, sqlx::Error> {
    sqlx::query_as(
        "SELECT code, state_code, gstin, location_id FROM stores WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Sets store `id`'s invoicing settings (code, state, GSTIN, location); `false` when
/// another store has the code.
pub(crate) async fn put_settings(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    (code, state, gstin, location): (&str, &str, Option<&str>, Uuid),
) -> Result<bool, sqlx::Error> {
    let written = sqlx::query(
        "INSERT INTO stores (tenant_id, id, code, state_code, gstin, location_id) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant_id, id) DO UPDATE SET code = $3, state_code = $4, gstin = $5, location_id = $6",
    )
    .bind(tenant)
    .bind(id)
    .bind(code)
    .bind(state)
    .bind(gstin)
    .bind(location)
    .execute(tx)
    .await;
    match written {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        other => other.map(|_| true),
    }
}

/// How each line of a bill names its product: by id, SKU or barcode, one of each per line.
pub(crate) struct LineKeys<'a> {
    pub(crate) ids: &'a [Option<Uuid>],
    pub(crate) skus: &'a [Option<&'a str>],
    pub(crate) codes: &'a [Option<&'a str>],
}

/// The products `keys` name, each with its line's number from 1.
pub(crate) async fn line_products(
    tx: &mut PgConnection,
    tenant: Uuid,
    keys: LineKeys<'_>,
) -> Result<Vec<LineProduct>, sqlx::Error> {
    let LineKeys { ids, skus, codes } = keys;
    sqlx::query_as(
        "SELECT l.line, p.id, p.sku, p.unit_decimals, p.hsn_code, p.gst_rate_bp, p.cess_rate_bp, p.currency, \
         p.selling_price_minor, p.tax_inclusive, p.archived \
         FROM UNNEST($2::uuid[], $3::text[], $4::text[]) WITH ORDINALITY AS l(id, sku, code, line) \
         JOIN products p ON p.tenant_id = $1 AND p.id = coalesce(l.id, \
             (SELECT s.id FROM products s WHERE s.tenant_id = $1 AND s.sku = l.sku), \
             (SELECT b.product_id FROM barcodes b WHERE b.tenant_id = $1 AND b.code = l.code))",
    )
    .bind(tenant)
    .bind(ids)
    .bind(skus)
    .bind(codes)
    .fetch_all(tx)
    .await
}

/// A customer's state and GSTIN: what decides an invoice's place of supply.
pub(crate) async fn customer_tax_facts(
    tx: &mut PgConnection,
    tenant: Uuid,
    customer: Uuid,
) -> Result<Option<(Option<String>, Option<String>)>, sqlx::Error> {
    sqlx::query_as("SELECT state_code, gstin FROM customers WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(customer)
        .fetch_optional(tx)
        .await
}

/// Writes an invoice as its `sales.invoice.issued` says: its head, lines, payments and
/// exceptions, in one statement; `false`, nothing written, when its id or number is
/// taken.
pub(crate) async fn invoice_issued(
    tx: &mut PgConnection,
    issued: &bazaar_schemas::events::sales::InvoiceIssued,
) -> Result<bool, sqlx::Error> {
    let (lines, payments, exceptions) = (&issued.lines, &issued.payments, &issued.exceptions);
    fn column<'a, T, U>(rows: &'a [T], f: impl Fn(&'a T) -> U) -> Vec<U> {
        rows.iter().map(f).collect()
    }
    let numbered = |n: usize| (1..=n as i32).collect::<Vec<i32>>();
    let inserted: i64 = sqlx::query_scalar(&format!(
        "WITH invoice AS ( \
           INSERT INTO invoices (id, tenant_id, number, store_id, terminal_id, cashier_id, customer_id, \
           reservation_id, place_of_supply, currency, subtotal_minor, discount_minor, taxable_minor, tax_minor, \
           round_off_minor, total_minor, status, issued_at, supplier_gstin, supplier_state, customer_gstin, \
           exceptions, approved_by, offline) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'issued', {AT} $17, \
           $18, $19, $20, $41, $42, $43) \
           ON CONFLICT DO NOTHING RETURNING id), \
         lines AS ( \
           INSERT INTO invoice_lines (invoice_id, line_no, tenant_id, product_id, quantity, unit_price_minor, \
           discount_minor, taxable_minor, gst_rate_bp, cgst_minor, sgst_minor, igst_minor, cess_minor, \
           total_minor, salesperson_id, hsn_code) \
           SELECT invoice.id, line_no, $2, product_id, quantity::numeric, unit_price_minor, discount_minor, \
           taxable_minor, gst_rate_bp, cgst_minor, sgst_minor, igst_minor, cess_minor, total_minor, \
           salesperson_id, hsn_code \
           FROM invoice, UNNEST($21::int4[], $22::uuid[], $23::text[], $24::int8[], $25::int8[], \
           $26::int8[], $27::int4[], $28::int8[], $29::int8[], $30::int8[], $31::int8[], $32::int8[], \
           $33::uuid[], $34::text[]) \
           AS l (line_no, product_id, quantity, unit_price_minor, discount_minor, taxable_minor, gst_rate_bp, \
           cgst_minor, sgst_minor, igst_minor, cess_minor, total_minor, salesperson_id, hsn_code)), \
         payments AS ( \
           INSERT INTO invoice_payments (invoice_id, payment_no, tenant_id, mode, amount_minor, tendered_minor, \
           reference, points) \
           SELECT invoice.id, payment_no, $2, mode, amount_minor, tendered_minor, reference, points \
           FROM invoice, UNNEST($35::int4[], $36::text[], $37::int8[], $38::int8[], $39::text[], $40::int8[]) \
           AS p (payment_no, mode, amount_minor, tendered_minor, reference, points)), \
         exceptions AS ( \
           INSERT INTO invoice_exceptions (tenant_id, invoice_id, seq, field, kind, allowed_minor, \
           given_minor, amount_minor, approved_by) \
           SELECT $2, invoice.id, e.seq, e.field, e.kind, e.allowed, e.given, e.amount, $42 \
           FROM invoice, UNNEST($44::int4[], $45::text[], $46::text[], $47::int8[], $48::int8[], $49::int8[]) \
           AS e (seq, field, kind, allowed, given, amount)) \
         SELECT count(*) FROM invoice"
    ))
    .bind(issued.invoice_id)
    .bind(issued.tenant_id)
    .bind(&issued.invoice_number)
    .bind(issued.store_id)
    .bind(&issued.terminal_id)
    .bind(issued.cashier_id)
    .bind(issued.customer_id)
    .bind(issued.reservation_id)
    .bind(&issued.place_of_supply)
    .bind(&issued.currency)
    .bind(issued.subtotal_minor)
    .bind(issued.discount_minor)
    .bind(issued.taxable_minor)
    .bind(issued.tax_minor)
    .bind(issued.round_off_minor)
    .bind(issued.total_minor)
    .bind(issued.issued_at)
    .bind(&issued.supplier_gstin)
    .bind(&issued.supplier_state)
    .bind(&issued.customer_gstin)
    .bind(column(lines, |l| l.line_no))
    .bind(column(lines, |l| l.product_id))
    .bind(column(lines, |l| l.quantity.as_str()))
    .bind(column(lines, |l| l.unit_price_minor))
    .bind(column(lines, |l| l.discount_minor))
    .bind(column(lines, |l| l.taxable_minor))
    .bind(column(lines, |l| l.gst_rate_bp))
    .bind(column(lines, |l| l.cgst_minor))
    .bind(column(lines, |l| l.sgst_minor))
    .bind(column(lines, |l| l.igst_minor))
    .bind(column(lines, |l| l.cess_minor))
    .bind(column(lines, |l| l.total_minor))
    .bind(column(lines, |l| l.salesperson_id))
    .bind(column(lines, |l| l.hsn_code.as_deref()))
    .bind(numbered(payments.len()))
    .bind(column(payments, |p| p.mode.as_str()))
    .bind(column(payments, |p| p.amount_minor))
    .bind(column(payments, |p| p.tendered_minor))
    .bind(column(payments, |p| p.reference.as_deref()))
    .bind(column(payments, |p| p.points))
    .bind(i32::try_from(exceptions.len()).unwrap_or(i32::MAX))
    .bind(issued.approved_by)
    .bind(issued.offline)
    .bind(numbered(exceptions.len()))
    .bind(column(exceptions, |e| e.field.as_str()))
    .bind(column(exceptions, |e| e.kind.as_str()))
    .bind(column(exceptions, |e| e.allowed_minor))
    .bind(column(exceptions, |e| e.given_minor))
    .bind(column(exceptions, |e| e.amount_minor))
    .fetch_one(tx)
    .await?;
    Ok(inserted == 1)
}

/// Invoice `id`: its head, lines and payments.
pub(crate) async fn invoice(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<
    Option<(
        InvoiceHead,
        Vec<crate::http::InvoiceLine>,
        Vec<crate::http::InvoicePayment>,
    )>,
    sqlx::Error,
> {
    let head: Option<InvoiceHead> = sqlx::query_as(
        "SELECT number, store_id, terminal_id, customer_id, place_of_supply, supplier_gstin, customer_gstin, status, \
         currency, subtotal_minor, \
         discount_minor, taxable_minor, tax_minor, round_off_minor, total_minor, issued_at, exceptions, \
         approved_by FROM invoices WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(head) = head else { return Ok(None) };
    let lines = sqlx::query_as(
        "SELECT l.line_no, l.product_id, p.sku, trim_scale(l.quantity)::text AS quantity, l.unit_price_minor, \
         l.discount_minor, l.taxable_minor, l.gst_rate_bp, l.cgst_minor, l.sgst_minor, l.igst_minor, l.cess_minor, \
         l.total_minor, l.salesperson_id, trim_scale(l.quantity_returned)::text AS quantity_returned, l.hsn_code \
         FROM invoice_lines l \
         JOIN products p ON p.tenant_id = l.tenant_id AND p.id = l.product_id \
         WHERE l.tenant_id = $1 AND l.invoice_id = $2 ORDER BY l.line_no",
    )
    .bind(tenant)
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let payments = sqlx::query_as(
        "SELECT mode, amount_minor, tendered_minor, reference FROM invoice_payments \
         WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY payment_no",
    )
    .bind(tenant)
    .bind(id)
    .fetch_all(tx)
    .await?;
    Ok(Some((head, lines, payments)))
}

/// A terminal's (`(store, terminal)`) invoices of `day`, by number.
pub(crate) async fn invoice_ids(
    tx: &mut PgConnection,
    tenant: Uuid,
    (store, terminal): (Uuid, &str),
    day: NaiveDate,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM invoices WHERE tenant_id = $1 AND store_id = $2 AND terminal_id = $3 \
         AND issued_at >= $4::date AND issued_at < $4::date + 1 ORDER BY number",
    )
    .bind(tenant)
    .bind(store)
    .bind(terminal)
    .bind(day)
    .fetch_all(tx)
    .await
}
