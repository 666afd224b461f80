//! Sales' SQL for the terminal's day, the discount policy, the prices in force and the
//! exceptions of sales beyond them. Handlers call these and keep no SQL of their own for
//! them.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use bazaar_platform::auth::Role;

use crate::{
    domain::{DiscountLimit, Exception},
    policy::SaleException,
};

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

/// Keeps an invoice's exceptions, with whose authority covered them.
pub(crate) async fn insert_exceptions(
    tx: &mut PgConnection,
    tenant: Uuid,
    invoice: Uuid,
    approved_by: Option<Uuid>,
    exceptions: &[Exception],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO invoice_exceptions (tenant_id, invoice_id, seq, field, kind, allowed_minor, \
         given_minor, amount_minor, approved_by) \
         SELECT $1, $2, e.seq, e.field, e.kind, e.allowed, e.given, e.amount, $3 \
         FROM UNNEST($4::int4[], $5::text[], $6::text[], $7::int8[], $8::int8[], $9::int8[]) \
           AS e (seq, field, kind, allowed, given, amount)",
    )
    .bind(tenant)
    .bind(invoice)
    .bind(approved_by)
    .bind((1..=exceptions.len() as i32).collect::<Vec<i32>>())
    .bind(
        exceptions
            .iter()
            .map(|e| e.field.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(exceptions.iter().map(|e| e.kind.code()).collect::<Vec<_>>())
    .bind(exceptions.iter().map(|e| e.allowed).collect::<Vec<_>>())
    .bind(exceptions.iter().map(|e| e.given).collect::<Vec<_>>())
    .bind(exceptions.iter().map(|e| e.amount).collect::<Vec<_>>())
    .execute(tx)
    .await?;
    Ok(())
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
