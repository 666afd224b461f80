//! After the sale: same-day voids by a manager, and returns against an invoice with a
//! credit note of their own series.

use axum::{extract::State, http::StatusCode, routing::post, Router};
use bazaar_gst::LineTax;
use bazaar_platform::{
    auth::{self, Principal, Role, Verifier},
    db,
    http::{idempotency, ApiError, Invalid, Json, Path},
    money::{self, Money, Quantity, Sign},
    outbox,
};
use bazaar_schemas::events;
use chrono::Utc;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Code;
use crate::{
    domain,
    http::{invoice, reachable, Invoice, Sales},
    SERVICE,
};

/// Who voids an invoice: never the cashier who rang it up.
const MANAGERS: &[Role] = &[Role::Owner, Role::Admin, Role::StoreManager];
/// Who takes returns.
const SELLERS: &[Role] = &[Role::Owner, Role::Admin, Role::StoreManager, Role::Cashier];

/// Voids and returns.
pub(crate) fn routes(verifier: &std::sync::Arc<Verifier>, sales: &Sales) -> Router<Sales> {
    Router::new()
        .route(
            "/api/v1/pos/invoices/{id}/void",
            post(void_invoice).route_layer(auth::allow(verifier, MANAGERS)),
        )
        .route(
            "/api/v1/pos/returns",
            idempotency::creating(post(process_return), &sales.pool, verifier, SELLERS),
        )
}

/// Why an invoice is voided.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VoidReason {
    reason: String,
}

fn text(field: &str, raw: &str) -> Result<String, Invalid> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > 500 {
        return Err(Invalid::new(
            field,
            Code::InvalidText,
            "1 to 500 characters",
        ));
    }
    Ok(t.to_owned())
}

/// Voids an invoice the day it was issued, nothing returned against it: stock goes back
/// and any credit is reversed, from `sales.invoice.voided`. A store manager or above.
#[utoipa::path(post, path = "/api/v1/pos/invoices/{id}/void", tag = "sales",
    request_body = VoidReason, security(("bearer" = [])),
    responses((status = 200, body = Invoice), (status = 403, description = "`forbidden` (a cashier)"),
              (status = 404, description = "`not_found`"),
              (status = 409, description = "`already_voided`, `not_today`, `has_returns`")))]
pub(crate) async fn void_invoice(
    State(sales): State<Sales>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<VoidReason>,
) -> Result<Json<Invoice>, ApiError> {
    let reason = text("reason", &body.reason)?;
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&sales.pool, tenant).await?;
    let (status, issued_on) = crate::store::lock_invoice(&mut tx, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no invoice {id}")))?;
    let current = invoice(&mut tx, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no invoice {id}")))?;
    reachable(&principal, current.store_id)?;
    if status == "voided" {
        return Err(ApiError::new(
            Code::AlreadyVoided,
            format!("invoice {} is voided", current.number),
        ));
    }
    if issued_on != Utc::now().date_naive() {
        return Err(ApiError::new(
            Code::NotToday,
            format!(
                "invoice {} was issued on {issued_on}: return it instead",
                current.number
            ),
        ));
    }
    // The invoice's own terminal: a void after its Z report would change a final report.
    crate::http::lock_open_day(&mut tx, tenant, current.store_id, &current.terminal_id).await?;
    if current.lines.iter().any(|l| l.quantity_returned != "0") {
        return Err(ApiError::new(
            Code::HasReturns,
            format!(
                "goods of invoice {} were returned: return the rest",
                current.number
            ),
        ));
    }
    let currency = current.total.currency.code();
    let voided = events::sales::InvoiceVoided {
        tenant_id: tenant,
        invoice_id: id,
        invoice_number: current.number.clone(),
        store_id: current.store_id,
        customer_id: current.customer_id,
        currency: currency.to_owned(),
        lines: current
            .lines
            .iter()
            .map(|l| events::sales::InvoiceVoidedVoidedLine {
                line_no: l.line_no,
                product_id: l.product_id,
                sku: l.sku.clone(),
                quantity: l.quantity.clone(),
                total_minor: l.total_minor,
            })
            .collect(),
        payments: current
            .payments
            .iter()
            .map(|p| events::sales::InvoiceVoidedVoidedPayment {
                mode: p.mode.clone(),
                amount_minor: p.amount_minor,
            })
            .collect(),
        total_minor: current.total.amount_minor,
        reason: reason.clone(),
        voided_by: principal.user,
        voided_at: bazaar_schemas::now_millis(),
    };
    crate::store::invoice_voided(&mut tx, &voided).await?;
    outbox::append_event(&mut tx, SERVICE, tenant, &id.to_string(), &voided).await?;
    let after = invoice(&mut tx, tenant, id)
        .await?
        .ok_or_else(|| ApiError::internal("the invoice vanished"))?;
    tx.commit().await?;
    Ok(Json(after))
}

/// Goods coming back against an invoice.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewPosReturn)]
pub(crate) struct NewReturn {
    /// The terminal's own id for the return.
    id: Uuid,
    invoice_id: Uuid,
    terminal_id: String,
    lines: Vec<ReturnLine>,
    /// cash, card, upi, credit (back onto the customer's account) or store_credit.
    refund_mode: String,
    reason: String,
}

/// One invoice line coming back, in part or whole.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReturnLine {
    line_no: i32,
    quantity: String,
    /// False when the goods cannot be sold again (they are not put back in stock).
    #[serde(default = "yes")]
    restock: bool,
}

fn yes() -> bool {
    true
}

/// A processed return: its credit note.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct CreditNote {
    id: Uuid,
    /// `<store code>C<yy><serial>`, its own series per store and financial year.
    number: String,
    invoice_id: Uuid,
    refund_mode: String,
    #[schema(value_type = Object)]
    total: Money,
}

async fn next_credit_note(
    tx: &mut PgConnection,
    tenant: Uuid,
    store: Uuid,
    code: &str,
) -> Result<String, ApiError> {
    let year = domain::financial_year(Utc::now().date_naive());
    let serial = crate::store::next_credit_note_serial(tx, tenant, store, year).await?;
    Ok(domain::credit_note_number(code, year, serial))
}

/// Takes goods back against an invoice, whole or in part, never more than was sold and
/// not yet returned: a credit note of the store's series, refunded by the original mode
/// or as store credit. Stock comes back (unless `restock` is false) and a credit refund
/// lowers the customer's balance, from `sales.return.processed`. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/pos/returns", tag = "sales", request_body = NewReturn,
    security(("bearer" = [])),
    responses((status = 201, body = CreditNote), (status = 200, body = CreditNote, description = "sent before"),
              (status = 404, description = "`not_found`"),
              (status = 409, description = "`invoice_voided`"),
              (status = 422, description = "`return_above_sold`, `unknown_line`, `invalid_quantity`, \
                 `unknown_refund_mode`, `customer_required`, `no_lines`, `duplicate_line`")))]
pub(crate) async fn process_return(
    State(sales): State<Sales>,
    principal: Principal,
    Json(body): Json<NewReturn>,
) -> Result<(StatusCode, Json<CreditNote>), ApiError> {
    let reason = text("reason", &body.reason)?;
    let terminal = domain::terminal("terminal_id", &body.terminal_id)?;
    let refund_mode = body.refund_mode.trim();
    if !["cash", "card", "upi", "credit", "store_credit"].contains(&refund_mode) {
        return Err(Invalid::new(
            "refund_mode",
            Code::UnknownRefundMode,
            "cash, card, upi, credit or store_credit",
        )
        .into());
    }
    bazaar_platform::http::line_count("lines", body.lines.len())?;
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&sales.pool, tenant).await?;
    if let Some((number, invoice_id, mode, total, code)) =
        crate::store::credit_note(&mut tx, tenant, body.id).await?
    {
        return Ok((
            StatusCode::OK,
            Json(CreditNote {
                id: body.id,
                number,
                invoice_id,
                refund_mode: mode,
                total: Money::new(total, code),
            }),
        ));
    }
    let (status, _) = crate::store::lock_invoice(&mut tx, tenant, body.invoice_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no invoice {}", body.invoice_id)))?;
    let sold = invoice(&mut tx, tenant, body.invoice_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no invoice"))?;
    reachable(&principal, sold.store_id)?;
    if status == "voided" {
        return Err(ApiError::new(
            Code::InvoiceVoided,
            format!("invoice {} is voided", sold.number),
        ));
    }
    if refund_mode == "credit" && sold.customer_id.is_none() {
        return Err(Invalid::new(
            "refund_mode",
            Code::CustomerRequired,
            "a refund on credit goes to the invoice's customer",
        )
        .into());
    }
    let store_code = crate::store::store_code(&mut tx, tenant, sold.store_id).await?;
    crate::http::lock_open_day(&mut tx, tenant, sold.store_id, &terminal).await?;
    let id = body.id;
    let number = next_credit_note(&mut tx, tenant, sold.store_id, &store_code).await?;
    // A return is in the product's unit: half a piece cannot come back.
    let sold_ids: Vec<Uuid> = sold.lines.iter().map(|l| l.product_id).collect();
    let decimals = crate::store::unit_decimals(&mut tx, tenant, &sold_ids).await?;
    // What earlier returns of each line actually gave back: the last return takes the
    // rest of each tax, so a line returned in parts refunds exactly what it charged.
    let given_back: Vec<(i32, LineTax)> =
        crate::store::given_back(&mut tx, tenant, body.invoice_id)
            .await?
            .into_iter()
            .map(|(line_no, taxable, cgst, sgst, igst, cess)| {
                (
                    line_no,
                    LineTax {
                        taxable,
                        cgst,
                        sgst,
                        igst,
                        cess,
                    },
                )
            })
            .collect();
    let mut returned = Vec::new();
    let mut seen = Vec::new();
    for (index, line) in body.lines.iter().enumerate() {
        let field = format!("lines[{index}]");
        let original = sold
            .lines
            .iter()
            .find(|l| l.line_no == line.line_no)
            .ok_or_else(|| {
                Invalid::new(
                    format!("{field}.line_no"),
                    Code::UnknownLine,
                    format!("the invoice has no line {}", line.line_no),
                )
            })?;
        if seen.contains(&line.line_no) {
            return Err(Invalid::new(
                field,
                Code::DuplicateLine,
                format!("line {} twice", line.line_no),
            )
            .into());
        }
        seen.push(line.line_no);
        let unit_decimals = decimals
            .iter()
            .find(|(id, _)| *id == original.product_id)
            .map_or(0, |(_, places)| (*places).max(0) as u32);
        let quantity = Quantity::field(
            &format!("{field}.quantity"),
            &line.quantity,
            unit_decimals,
            Sign::Positive,
        )?
        .value();
        // Written by this service as decimals: unreadable is a fault, never zero.
        let sold_quantity: Decimal = original.quantity.parse().map_err(ApiError::internal)?;
        let already: Decimal = original
            .quantity_returned
            .parse()
            .map_err(ApiError::internal)?;
        if already + quantity > sold_quantity {
            return Err(Invalid::new(
                format!("{field}.quantity"),
                Code::ReturnAboveSold,
                format!(
                    "{}: {sold_quantity} sold, {already} returned before, {quantity} now",
                    original.sku
                ),
            )
            .into());
        }
        let line_tax = LineTax {
            taxable: original.taxable_minor,
            cgst: original.cgst_minor,
            sgst: original.sgst_minor,
            igst: original.igst_minor,
            cess: original.cess_minor,
        };
        let back = given_back
            .iter()
            .find(|(line_no, _)| *line_no == line.line_no)
            .map(|(_, back)| *back)
            .unwrap_or_default();
        let part = domain::return_of(line_tax, sold_quantity, already, back, quantity);
        returned.push(events::sales::ReturnProcessedReturnLine {
            line_no: line.line_no,
            product_id: original.product_id,
            sku: original.sku.clone(),
            quantity: quantity.normalize().to_string(),
            restock: line.restock,
            taxable_minor: part.taxable,
            gst_rate_bp: original.gst_rate_bp,
            cgst_minor: part.cgst,
            sgst_minor: part.sgst,
            igst_minor: part.igst,
            cess_minor: part.cess,
            total_minor: part.total(),
        });
    }
    let total = money::sum_field("lines", returned.iter().map(|l| l.total_minor))?;
    let currency = sold.total.currency;
    let processed = events::sales::ReturnProcessed {
        tenant_id: tenant,
        return_id: id,
        credit_note_number: number.clone(),
        invoice_id: body.invoice_id,
        store_id: sold.store_id,
        terminal_id: terminal.clone(),
        customer_id: sold.customer_id,
        currency: currency.code().to_owned(),
        lines: returned,
        refund_mode: refund_mode.to_owned(),
        reason: reason.clone(),
        total_minor: total,
        processed_by: principal.user,
        processed_at: bazaar_schemas::now_millis(),
    };
    crate::store::record_return(&mut tx, &processed).await?;
    outbox::append_event(
        &mut tx,
        SERVICE,
        tenant,
        &body.invoice_id.to_string(),
        &processed,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreditNote {
            id,
            number,
            invoice_id: body.invoice_id,
            refund_mode: refund_mode.to_owned(),
            total: Money::new(total, currency),
        }),
    ))
}
