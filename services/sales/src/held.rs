//! The terminal's day: bills held and resumed, and the day close (Z report) that ends the
//! day's held bills.

use bazaar_schemas::events;
use std::collections::BTreeMap;

use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Router,
};
use bazaar_platform::{
    auth::{self, Principal, Role, Verifier},
    db,
    http::{ApiError, Invalid, Json, Path, Query},
    money::{Currency, Quantity, Sign},
    outbox,
    text::Text,
};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Code;
use crate::{
    domain,
    http::{reachable, Sales},
    SERVICE,
};

/// Who works a till.
const SELLERS: &[Role] = &[Role::Owner, Role::Admin, Role::StoreManager, Role::Cashier];

/// Held bills and the day close.
pub(crate) fn routes(verifier: &std::sync::Arc<Verifier>, _: &Sales) -> Router<Sales> {
    Router::new()
        .route(
            "/api/v1/pos/held-bills",
            get(held_bills)
                .post(hold_bill)
                .route_layer(auth::allow(verifier, SELLERS)),
        )
        .route(
            "/api/v1/pos/held-bills/{id}/resume",
            post(resume_bill).route_layer(auth::allow(verifier, SELLERS)),
        )
        .route(
            "/api/v1/pos/held-bills/{id}",
            axum::routing::delete(discard_bill).route_layer(auth::allow(verifier, SELLERS)),
        )
        .route(
            "/api/v1/pos/day-close",
            post(close_day).route_layer(auth::allow(verifier, SELLERS)),
        )
}

/// A bill to park.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewHeldBill {
    store_id: Uuid,
    terminal_id: String,
    customer_id: Option<Uuid>,
    note: Option<String>,
    /// The lines as the till had them: product_id, sku or barcode, and quantity.
    #[schema(value_type = Vec<Object>)]
    lines: Vec<HeldLine>,
}

/// One held line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeldLine {
    product_id: Option<Uuid>,
    sku: Option<Text<{ crate::CODE_MAX }>>,
    barcode: Option<Text<{ crate::CODE_MAX }>>,
    quantity: Text<{ crate::QUANTITY_MAX }>,
}

/// A held bill.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub(crate) struct HeldBill {
    id: Uuid,
    store_id: Uuid,
    terminal_id: String,
    customer_id: Option<Uuid>,
    note: Option<String>,
    #[schema(value_type = Vec<Object>)]
    lines: sqlx::types::Json<Vec<HeldLine>>,
    /// held, resumed, discarded or expired.
    status: String,
    held_at: chrono::DateTime<Utc>,
}

/// Parks a bill at a terminal (the customer went back for milk).
#[utoipa::path(post, path = "/api/v1/pos/held-bills", tag = "sales", request_body = NewHeldBill,
    security(("bearer" = [])),
    responses((status = 201, body = HeldBill), (status = 422, description = "`no_lines`, `invalid_terminal`, `product_required`, `invalid_text`")))]
pub(crate) async fn hold_bill(
    State(sales): State<Sales>,
    principal: Principal,
    Json(body): Json<NewHeldBill>,
) -> Result<(StatusCode, Json<HeldBill>), ApiError> {
    reachable(&principal, body.store_id)?;
    let terminal = domain::terminal("terminal_id", &body.terminal_id)?;
    bazaar_platform::http::line_count("lines", body.lines.len())?;
    // The unit's own places are checked when the bill is issued; here the quantity is
    // held to the grammar and the most places any unit has.
    for (index, line) in body.lines.iter().enumerate() {
        Quantity::field(
            &format!("lines[{index}].quantity"),
            &line.quantity,
            3,
            Sign::Positive,
        )?;
    }
    if let Some((index, _)) = body.lines.iter().enumerate().find(|(_, l)| {
        [l.product_id.is_some(), l.sku.is_some(), l.barcode.is_some()]
            .iter()
            .filter(|b| **b)
            .count()
            != 1
    }) {
        return Err(Invalid::new(
            format!("lines[{index}]"),
            Code::ProductRequired,
            "one of product_id, sku or barcode",
        )
        .into());
    }
    let tenant = principal.tenant;
    let id = Uuid::now_v7();
    let mut tx = db::begin_for_tenant(&sales.pool, tenant).await?;
    crate::http::lock_open_day(&mut tx, tenant, body.store_id, &terminal).await?;
    let note = body.note.as_deref().map(str::trim);
    let held = events::sales::BillHeld {
        tenant_id: tenant,
        bill_id: id,
        store_id: body.store_id,
        terminal_id: terminal.clone(),
        customer_id: body.customer_id,
        note: note.map(str::to_owned),
        lines: body
            .lines
            .iter()
            .map(|l| events::sales::BillHeldHeldLine {
                product_id: l.product_id,
                sku: l.sku.as_deref().map(str::to_owned),
                barcode: l.barcode.as_deref().map(str::to_owned),
                quantity: l.quantity.as_str().to_owned(),
            })
            .collect(),
        held_by: principal.user,
        held_at: bazaar_schemas::now_millis(),
    };
    let bill = crate::store::bill_held(&mut tx, &held).await?;
    outbox::append_event(&mut tx, SERVICE, tenant, &id.to_string(), &held).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(bill)))
}

/// A terminal.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct TerminalQuery {
    store_id: Uuid,
    terminal_id: String,
}

/// The bills held at a terminal, oldest first.
#[utoipa::path(get, path = "/api/v1/pos/held-bills", tag = "sales", params(TerminalQuery),
    security(("bearer" = [])), responses((status = 200, body = Vec<HeldBill>)))]
pub(crate) async fn held_bills(
    State(sales): State<Sales>,
    principal: Principal,
    Query(query): Query<TerminalQuery>,
) -> Result<Json<Vec<HeldBill>>, ApiError> {
    reachable(&principal, query.store_id)?;
    let mut tx = db::begin_for_tenant(&sales.pool, principal.tenant).await?;
    let place = (query.store_id, query.terminal_id.trim());
    let bills = crate::store::held_bills(&mut tx, principal.tenant, place).await?;
    tx.commit().await?;
    Ok(Json(bills))
}

async fn end_bill(
    sales: &Sales,
    principal: &Principal,
    id: Uuid,
    to: &str,
) -> Result<HeldBill, ApiError> {
    let mut tx = db::begin_for_tenant(&sales.pool, principal.tenant).await?;
    let bill = crate::store::end_held_bill(&mut tx, principal.tenant, id, to).await?;
    let bill = bill
        .filter(|b| principal.reaches_store(b.store_id))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no held bill {id} (resumed, discarded or expired bills are gone)"
            ))
        })?;
    let closed = events::sales::BillClosed {
        tenant_id: principal.tenant,
        bill_id: id,
        store_id: bill.store_id,
        terminal_id: bill.terminal_id.clone(),
        status: to.to_owned(),
        closed_by: principal.user,
        closed_at: bazaar_schemas::now_millis(),
    };
    outbox::append_event(&mut tx, SERVICE, principal.tenant, &id.to_string(), &closed).await?;
    tx.commit().await?;
    Ok(bill)
}

/// Takes a held bill back to the till: its lines, to be issued as an invoice.
#[utoipa::path(post, path = "/api/v1/pos/held-bills/{id}/resume", tag = "sales",
    security(("bearer" = [])),
    responses((status = 200, body = HeldBill), (status = 404, description = "`not_found`")))]
pub(crate) async fn resume_bill(
    State(sales): State<Sales>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<HeldBill>, ApiError> {
    Ok(Json(end_bill(&sales, &principal, id, "resumed").await?))
}

/// Discards a held bill.
#[utoipa::path(delete, path = "/api/v1/pos/held-bills/{id}", tag = "sales",
    security(("bearer" = [])),
    responses((status = 204, description = "discarded"), (status = 404, description = "`not_found`")))]
pub(crate) async fn discard_bill(
    State(sales): State<Sales>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    end_bill(&sales, &principal, id, "discarded").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A terminal's day to close, and the cash in its drawer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DayClose {
    store_id: Uuid,
    terminal_id: String,
    /// Default: today.
    day: Option<NaiveDate>,
    counted_cash_minor: i64,
}

/// The Z report.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct ZReport {
    store_id: Uuid,
    terminal_id: String,
    day: NaiveDate,
    invoice_count: i32,
    first_number: Option<String>,
    last_number: Option<String>,
    currency: String,
    /// Minor units per payment mode.
    by_payment_mode: BTreeMap<String, i64>,
    /// Taxable value per GST rate (basis points).
    by_tax_rate: BTreeMap<String, i64>,
    sales_minor: i64,
    returns_minor: i64,
    /// Cash taken less change given and cash refunded.
    expected_cash_minor: i64,
    counted_cash_minor: i64,
    /// Counted less expected: negative is a shortage.
    cash_difference_minor: i64,
    held_bills_expired: i32,
    /// The day's sales beyond the catalog price or the discount policy (approved at the
    /// till, or offline and taken anyway): how many, and what they gave away.
    #[serde(default)]
    exceptions_count: i32,
    #[serde(default)]
    exceptions_minor: i64,
}

/// Closes a terminal's day: invoice count and first and last numbers, totals by payment
/// mode and tax rate, returns, expected against counted cash; the day's held bills
/// expire. Closing a day twice is refused.
#[utoipa::path(post, path = "/api/v1/pos/day-close", tag = "sales", request_body = DayClose,
    security(("bearer" = [])),
    responses((status = 201, body = ZReport), (status = 409, description = "`day_closed`"),
              (status = 422, description = "`invalid_terminal`, `invalid_amount`, `future_day`")))]
pub(crate) async fn close_day(
    State(sales): State<Sales>,
    principal: Principal,
    Json(body): Json<DayClose>,
) -> Result<(StatusCode, Json<ZReport>), ApiError> {
    reachable(&principal, body.store_id)?;
    let terminal = domain::terminal("terminal_id", &body.terminal_id)?;
    if body.counted_cash_minor < 0 {
        return Err(Invalid::new(
            "counted_cash_minor",
            Code::InvalidAmount,
            "cannot be negative",
        )
        .into());
    }
    bazaar_platform::money::amount_field("counted_cash_minor", body.counted_cash_minor)?;
    let today = Utc::now().date_naive();
    let day = body.day.unwrap_or(today);
    if day > today {
        return Err(
            Invalid::new("day", Code::FutureDay, "a day is closed once it has begun").into(),
        );
    }
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&sales.pool, tenant).await?;
    // The terminal's series row first: sales in flight finish before the report reads
    // them, and every sale, return, void or held bill after it finds the day closed.
    let year = domain::financial_year(day);
    crate::store::close_terminal_day(&mut tx, tenant, body.store_id, &terminal, year, day).await?;
    let place = (body.store_id, terminal.as_str());
    let figures = crate::store::day_figures(&mut tx, tenant, place, day).await?;
    let expired = crate::store::expire_held_bills(&mut tx, tenant, place, day).await?;
    let crate::store::DayFigures {
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
    } = figures;
    let cash = modes.iter().find(|m| m.0 == "cash").map_or(0, |m| m.1);
    let too_large = || ApiError::internal("the day's cash does not fit");
    let expected = cash.checked_sub(cash_refunds).ok_or_else(too_large)?;
    let report = ZReport {
        store_id: body.store_id,
        terminal_id: terminal.clone(),
        day,
        invoice_count: count as i32,
        first_number: first,
        last_number: last,
        currency: currency.unwrap_or_else(|| Currency::INR.code().to_owned()),
        by_payment_mode: modes
            .iter()
            .map(|(mode, amount, _)| (mode.clone(), *amount))
            .collect(),
        by_tax_rate: rates
            .iter()
            .map(|(rate, taxable)| (rate.to_string(), *taxable))
            .collect(),
        sales_minor: total.unwrap_or(0),
        returns_minor: returns,
        expected_cash_minor: expected,
        counted_cash_minor: body.counted_cash_minor,
        cash_difference_minor: body
            .counted_cash_minor
            .checked_sub(expected)
            .ok_or_else(too_large)?,
        held_bills_expired: expired.len() as i32,
        exceptions_count: exceptions_count as i32,
        exceptions_minor,
    };
    let closed_at = bazaar_schemas::now_millis();
    let closer = (principal.user, closed_at);
    if !crate::store::record_day_close(&mut tx, tenant, place, day, &report, closer).await? {
        return Err(ApiError::new(
            Code::DayClosed,
            format!("terminal {terminal}'s {day} is already closed"),
        ));
    }
    // `sales.day.closed`: the report, with who closed the day and when.
    let closed = events::sales::DayClosed {
        tenant_id: tenant,
        store_id: report.store_id,
        terminal_id: report.terminal_id.clone(),
        day: day.to_string(),
        invoice_count: report.invoice_count,
        first_number: report.first_number.clone(),
        last_number: report.last_number.clone(),
        currency: report.currency.clone(),
        by_payment_mode: report.by_payment_mode.clone().into_iter().collect(),
        by_tax_rate: report.by_tax_rate.clone().into_iter().collect(),
        sales_minor: report.sales_minor,
        returns_minor: report.returns_minor,
        expected_cash_minor: report.expected_cash_minor,
        counted_cash_minor: report.counted_cash_minor,
        cash_difference_minor: report.cash_difference_minor,
        held_bills_expired: report.held_bills_expired,
        exceptions_count: report.exceptions_count,
        exceptions_minor: report.exceptions_minor,
        closed_by: principal.user,
        closed_at,
    };
    let key = format!("{}/{terminal}/{day}", body.store_id);
    outbox::append_event(&mut tx, SERVICE, tenant, &key, &closed).await?;
    // Each bill the day's close expired, on its own key after its holding.
    for bill in expired {
        let expired = events::sales::BillClosed {
            tenant_id: tenant,
            bill_id: bill,
            store_id: body.store_id,
            terminal_id: terminal.clone(),
            status: "expired".to_owned(),
            closed_by: principal.user,
            closed_at,
        };
        outbox::append_event(&mut tx, SERVICE, tenant, &bill.to_string(), &expired).await?;
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(report)))
}

/// The Z report a `sales.day.closed` carries, as `day_closes` keeps it.
pub(crate) fn report_of(
    closed: &events::sales::DayClosed,
) -> Result<(NaiveDate, ZReport), chrono::ParseError> {
    let day: NaiveDate = closed.day.parse()?;
    Ok((
        day,
        ZReport {
            store_id: closed.store_id,
            terminal_id: closed.terminal_id.clone(),
            day,
            invoice_count: closed.invoice_count,
            first_number: closed.first_number.clone(),
            last_number: closed.last_number.clone(),
            currency: closed.currency.clone(),
            by_payment_mode: closed.by_payment_mode.clone().into_iter().collect(),
            by_tax_rate: closed.by_tax_rate.clone().into_iter().collect(),
            sales_minor: closed.sales_minor,
            returns_minor: closed.returns_minor,
            expected_cash_minor: closed.expected_cash_minor,
            counted_cash_minor: closed.counted_cash_minor,
            cash_difference_minor: closed.cash_difference_minor,
            held_bills_expired: closed.held_bills_expired,
            exceptions_count: closed.exceptions_count,
            exceptions_minor: closed.exceptions_minor,
        },
    ))
}
