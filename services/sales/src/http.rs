//! Sales' HTTP API: store settings and the POS's tax invoices.

use bazaar_schemas::events;
use std::sync::Arc;

use axum::{
    extract::{FromRef, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
    Router,
};
use bazaar_gst::{Rates, Supply};
use bazaar_platform::{
    auth::{self, Principal, Role},
    db, gst,
    http::{idempotency, ApiError, Invalid, Json, Path, Query},
    money::{self, Currency, Money, Quantity, Sign},
    outbox, stores,
    text::Text,
    ServiceContext,
};
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::Code;
use crate::{
    domain::{self, DiscountLimit, ExceptionKind, LineInput, Payment},
    mesh::Mesh,
    store::{self, Product},
    SERVICE,
};
use bazaar_platform::http::PlatformCode;

/// Who sells.
const SELLERS: &[Role] = &[Role::Owner, Role::Admin, Role::StoreManager, Role::Cashier];
/// Who may sell below or above the catalog price.
const PRICE_SETTERS: &[Role] = &[Role::Owner, Role::Admin, Role::StoreManager];
/// Who sets stores up.
const ADMINS: &[Role] = &[Role::Owner, Role::Admin];

/// What sales' handlers share.
#[derive(Clone)]
pub(crate) struct Sales {
    pub(crate) pool: PgPool,
    mesh: Arc<Mesh>,
    pub(crate) feed: crate::live::LiveFeed,
    /// Checks the approval token a manager gives a sale beyond the cashier's authority.
    verifier: Arc<auth::Verifier>,
}

impl FromRef<Sales> for PgPool {
    fn from_ref(sales: &Sales) -> PgPool {
        sales.pool.clone()
    }
}

/// Sales' routes; each names the roles it admits.
pub fn router(ctx: ServiceContext) -> Router {
    let state = Sales {
        pool: ctx.pool.clone(),
        mesh: Arc::new(Mesh::new(&ctx.settings)),
        // The live feed follows the topics for as long as the process runs.
        feed: crate::live::LiveFeed::start(&ctx.settings, ctx.pool.clone(), ctx.shutdown.clone()),
        verifier: ctx.verifier.clone(),
    };
    let v = &ctx.verifier;
    Router::new()
        .route(
            "/api/v1/pos/stores/{id}",
            get(get_store)
                .route_layer(auth::allow(v, SELLERS))
                .merge(axum::routing::put(put_store).route_layer(auth::allow(v, ADMINS))),
        )
        .route(
            "/api/v1/pos/invoices",
            get(list_invoices)
                .route_layer(auth::allow(v, SELLERS))
                .merge(idempotency::creating(
                    post(issue_invoice),
                    &ctx.pool,
                    v,
                    SELLERS,
                )),
        )
        .route(
            "/api/v1/pos/quote",
            post(quote).route_layer(auth::allow(v, SELLERS)),
        )
        .route(
            "/api/v1/pos/sync",
            post(sync_offline).route_layer(auth::allow(v, SELLERS)),
        )
        .route(
            "/api/v1/pos/invoices/{id}",
            get(get_invoice).route_layer(auth::allow(v, SELLERS)),
        )
        .merge(crate::returns::routes(v, &state))
        .merge(crate::held::routes(v, &state))
        .merge(crate::policy::routes(v, &state))
        .merge(crate::live::routes(v))
        .with_state(state)
}

/// Sales' part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(get_store, put_store, quote, issue_invoice, sync_offline, get_invoice, list_invoices,
          crate::returns::void_invoice, crate::returns::process_return, crate::held::hold_bill,
          crate::held::held_bills, crate::held::resume_bill, crate::held::discard_bill,
          crate::held::close_day, crate::live::watch, crate::policy::get_policy,
          crate::policy::put_policy, crate::policy::list_exceptions),
    components(schemas(Store, NewQuote, Quote, NewInvoice, NewLine, NewPayment, Offline, Invoice, InvoiceLine,
                       InvoicePayment, SyncBatch, Synced, crate::returns::VoidReason,
                       crate::returns::NewReturn, crate::returns::ReturnLine,
                       crate::returns::CreditNote, crate::held::NewHeldBill, crate::held::HeldBill,
                       crate::held::DayClose, crate::held::ZReport, crate::policy::RoleLimit,
                       crate::policy::NewRoleLimit, crate::policy::SaleException, DiscountLimit)),
    tags((name = "sales", description = "The POS: tax invoices with GST"))
)]
pub struct SalesApi;

/// 404 for a store out of the caller's reach: another's looks like none at all.
pub(crate) fn reachable(principal: &Principal, store: Uuid) -> Result<(), ApiError> {
    if principal.reaches_store(store) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no store {store}")))
    }
}

// ---------------------------------------------------------------- stores

/// What a store's invoices need.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
#[schema(as = PosStore)]
pub(crate) struct Store {
    /// 1 to 4 capitals or digits, the start of its invoice numbers.
    code: String,
    /// Its GST state code.
    state_code: String,
    /// Its GSTIN (the state's registration).
    gstin: Option<String>,
    /// The inventory location it sells from.
    location_id: Uuid,
}

/// A store's invoicing settings.
#[utoipa::path(get, path = "/api/v1/pos/stores/{id}", tag = "sales", security(("bearer" = [])),
    responses((status = 200, body = Store), (status = 404, description = "`not_found`, `unknown_store`")))]
async fn get_store(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Store>, ApiError> {
    reachable(&principal, id)?;
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let store = store(&mut tx, principal.tenant, id).await?;
    tx.commit().await?;
    Ok(Json(store))
}

/// A store's invoicing settings; 404 `unknown_store` for an id that is not the tenant's.
pub(crate) async fn store(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Store, ApiError> {
    crate::store::settings(tx, tenant, id)
        .await?
        // Another tenant's store and an unknown id look alike: neither is the caller's.
        .ok_or_else(|| {
            ApiError::new(
                PlatformCode::UnknownStore,
                format!("no store {id} with invoicing settings (PUT /api/v1/pos/stores/{id})"),
            )
        })
}

/// Sets a store's invoicing settings. Owner or admin; the id is one of the tenant's
/// stores (as identity announced them) within the caller's reach, else 404
/// `unknown_store`.
#[utoipa::path(put, path = "/api/v1/pos/stores/{id}", tag = "sales", request_body = Store,
    security(("bearer" = [])),
    responses((status = 200, body = Store), (status = 409, description = "`store_code_taken`"),
              (status = 404, description = "`unknown_store`"),
              (status = 422, description = "`invalid_code`, `invalid_state_code`, `invalid_gstin`, \
                 `invalid_gstin_check_character`, `gstin_state_mismatch`")))]
async fn put_store(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<Store>,
) -> Result<Json<Store>, ApiError> {
    let code = body.code.trim();
    if !(1..=4).contains(&code.len())
        || !code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(Invalid::new("code", Code::InvalidCode, "1 to 4 capitals or digits").into());
    }
    let state = gst::state_code("state_code", &body.state_code)?;
    // A store's GSTIN is printed on its invoices and decides which return they go in:
    // it must be a real one, of the store's state.
    let gstin = body
        .gstin
        .as_deref()
        .map(|g| gst::gstin("gstin", g))
        .transpose()?;
    if gstin.as_ref().is_some_and(|g| g[..2] != state) {
        return Err(Invalid::new(
            "gstin",
            Code::GstinStateMismatch,
            format!("a store in state {state} is registered under a GSTIN starting {state}"),
        )
        .into());
    }
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    // Another tenant's store, or one this admin does not run, is not found: settings for
    // it would tag this tenant's invoices and books with a store that is not its own.
    stores::require(&mut tx, &principal, id, "id").await?;
    let settings = (code, state.as_str(), gstin.as_deref(), body.location_id);
    if !crate::store::put_settings(&mut tx, principal.tenant, id, settings).await? {
        return Err(ApiError::new(
            Code::StoreCodeTaken,
            format!("another store uses the code {code}"),
        ));
    }
    let saved = store(&mut tx, principal.tenant, id).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

// ---------------------------------------------------------------- invoices

/// A sale at the till.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewPosInvoice)]
pub(crate) struct NewInvoice {
    /// The terminal's own id for the invoice: sending it again returns the same invoice.
    id: Uuid,
    store_id: Uuid,
    /// 1 to 4 capitals or digits.
    terminal_id: String,
    customer_id: Option<Uuid>,
    lines: Vec<NewLine>,
    #[serde(default)]
    bill_discount_minor: i64,
    /// Round the total to the rupee with a round-off line (default true).
    round_off: Option<bool>,
    payments: Vec<NewPayment>,
    /// Only for `/api/v1/pos/sync`: the number and time the offline terminal gave it.
    offline: Option<Offline>,
}

/// How an offline terminal numbered and timed an invoice.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Offline {
    /// The terminal's offline series number, at most 16 characters.
    number: String,
    issued_at: chrono::DateTime<Utc>,
}

/// One line: a product by id, SKU or barcode.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewLine {
    product_id: Option<Uuid>,
    sku: Option<Text<{ crate::CODE_MAX }>>,
    barcode: Option<Text<{ crate::CODE_MAX }>>,
    quantity: Text<{ crate::QUANTITY_MAX }>,
    /// Overrides the catalog price; store managers and above only.
    unit_price_minor: Option<i64>,
    #[serde(default)]
    discount_minor: i64,
    salesperson_id: Option<Uuid>,
}

/// One payment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPayment {
    /// cash, card, upi, credit or loyalty.
    mode: String,
    amount_minor: i64,
    /// Cash handed over, for mode cash only; the change is returned.
    tendered_minor: Option<i64>,
    /// Card slip or UPI reference.
    reference: Option<Text<{ crate::CODE_MAX }>>,
    /// For mode loyalty: the points to spend; their value must be the amount.
    points: Option<i64>,
}

/// An issued tax invoice.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = PosInvoice)]
pub(crate) struct Invoice {
    pub(crate) id: Uuid,
    /// Gap-free per store, terminal and financial year.
    pub(crate) number: String,
    pub(crate) store_id: Uuid,
    pub(crate) terminal_id: String,
    pub(crate) customer_id: Option<Uuid>,
    pub(crate) place_of_supply: String,
    /// The store's GSTIN, as printed on the invoice.
    pub(crate) supplier_gstin: Option<String>,
    /// The buyer's GSTIN: present makes it a B2B invoice.
    pub(crate) customer_gstin: Option<String>,
    pub(crate) status: String,
    pub(crate) lines: Vec<InvoiceLine>,
    pub(crate) payments: Vec<InvoicePayment>,
    #[schema(value_type = Object)]
    pub(crate) subtotal: Money,
    #[schema(value_type = Object)]
    pub(crate) discount: Money,
    #[schema(value_type = Object)]
    pub(crate) taxable: Money,
    #[schema(value_type = Object)]
    pub(crate) tax: Money,
    #[schema(value_type = Object)]
    pub(crate) round_off: Money,
    #[schema(value_type = Object)]
    pub(crate) total: Money,
    /// Cash to hand back.
    #[schema(value_type = Object)]
    pub(crate) change_due: Money,
    pub(crate) issued_at: chrono::DateTime<Utc>,
    /// How many ways it went beyond the catalog price or the seller's discount policy
    /// (`GET /api/v1/pos/exceptions` lists them); 0 for an ordinary sale.
    #[serde(default)]
    pub(crate) exceptions: i32,
    /// Whose authority covered those exceptions; absent for an offline sale nobody
    /// approved.
    #[serde(default)]
    pub(crate) approved_by: Option<Uuid>,
}

/// One invoice line.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub(crate) struct InvoiceLine {
    pub(crate) line_no: i32,
    pub(crate) product_id: Uuid,
    pub(crate) sku: String,
    pub(crate) quantity: String,
    pub(crate) unit_price_minor: i64,
    pub(crate) discount_minor: i64,
    pub(crate) taxable_minor: i64,
    pub(crate) gst_rate_bp: i32,
    pub(crate) cgst_minor: i64,
    pub(crate) sgst_minor: i64,
    pub(crate) igst_minor: i64,
    pub(crate) cess_minor: i64,
    pub(crate) total_minor: i64,
    pub(crate) salesperson_id: Option<Uuid>,
    /// Returned so far.
    pub(crate) quantity_returned: String,
    /// HSN code of the product at the time of sale.
    pub(crate) hsn_code: Option<String>,
}

/// One invoice payment.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub(crate) struct InvoicePayment {
    pub(crate) mode: String,
    pub(crate) amount_minor: i64,
    pub(crate) tendered_minor: Option<i64>,
    pub(crate) reference: Option<String>,
}

/// The product each line names by id, SKU or barcode, in line order, read with one
/// statement; a line's error (none named, or none found, or archived) in its place.
async fn products(
    tx: &mut PgConnection,
    tenant: Uuid,
    lines: &[NewLine],
) -> Result<Vec<Result<Product, ApiError>>, ApiError> {
    let ids: Vec<Option<Uuid>> = lines.iter().map(|l| l.product_id).collect();
    let skus: Vec<Option<&str>> = lines
        .iter()
        .map(|l| l.sku.as_deref().map(str::trim))
        .collect();
    let codes: Vec<Option<&str>> = lines
        .iter()
        .map(|l| l.barcode.as_deref().map(str::trim))
        .collect();
    let keys = store::LineKeys {
        ids: &ids,
        skus: &skus,
        codes: &codes,
    };
    let found = store::line_products(tx, tenant, keys).await?;
    Ok(lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let field = format!("lines[{index}]");
            let named = match (line.product_id, skus[index], codes[index]) {
                (Some(id), None, None) => id.to_string(),
                (None, Some(sku), None) => format!("SKU {sku}"),
                (None, None, Some(code)) => format!("barcode {code}"),
                _ => {
                    return Err(Invalid::new(
                        field,
                        Code::ProductRequired,
                        "give one of product_id, sku or barcode",
                    )
                    .into())
                }
            };
            let Some(found) = found.iter().find(|f| f.line == index as i64 + 1) else {
                return Err(match codes[index] {
                    Some(code) => ApiError::new(
                        Code::UnknownBarcode,
                        format!("{field}: no product has the barcode {code}"),
                    ),
                    None => {
                        ApiError::new(Code::UnknownProduct, format!("{field}: no product {named}"))
                    }
                });
            };
            if found.product.archived {
                return Err(ApiError::new(
                    Code::ProductArchived,
                    format!("{} is no longer sold", found.product.sku),
                ));
            }
            Ok(found.product.clone())
        })
        .collect())
}

/// An invoice line as `sales.invoice.issued` carries it.
fn issued_line(l: &InvoiceLine) -> events::sales::InvoiceIssuedInvoiceLine {
    events::sales::InvoiceIssuedInvoiceLine {
        line_no: l.line_no,
        product_id: l.product_id,
        sku: l.sku.clone(),
        quantity: l.quantity.clone(),
        unit_price_minor: l.unit_price_minor,
        discount_minor: l.discount_minor,
        taxable_minor: l.taxable_minor,
        gst_rate_bp: l.gst_rate_bp,
        cgst_minor: l.cgst_minor,
        sgst_minor: l.sgst_minor,
        igst_minor: l.igst_minor,
        cess_minor: l.cess_minor,
        total_minor: l.total_minor,
        salesperson_id: l.salesperson_id,
        hsn_code: l.hsn_code.clone(),
    }
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Issues a tax invoice: prices from the catalog (an override needs a store manager),
/// discounts before tax within the seller's discount policy (beyond it, a manager's
/// access token in `Approval-Token` approves it, and it is audited), GST per line (CGST + SGST, or IGST when the customer takes the
/// goods to another state), round-off to the rupee; payments must pay the total exactly;
/// a credit sale must fit the customer's credit. Stock is reserved in inventory before
/// the invoice commits (409 `insufficient_stock` naming the SKU) and consumed by the
/// invoice's event. Numbers are gap-free per store, terminal and financial year. The
/// client's `id` makes a resent invoice return the first one. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/pos/invoices", tag = "sales", request_body = NewInvoice,
    security(("bearer" = [])),
    responses((status = 201, body = Invoice), (status = 200, body = Invoice, description = "sent before"),
              (status = 403, description = "`price_override_forbidden`, `discount_beyond_policy` (a manager's \
                 access token as the Approval-Token header approves it), `invalid_approval`, `approval_insufficient`"),
              (status = 404, description = "`unknown_product`, `unknown_barcode`, `unknown_customer`, \
                 `unknown_store`, `not_found` (a store out of the caller's reach)"),
              (status = 409, description = "`insufficient_stock`, `credit_limit_exceeded`, \
                 `insufficient_points`, `store_not_configured` (its location unknown to inventory), \
                 `product_archived`, `day_closed`"),
              (status = 422, description = "`payments_do_not_match_total`, `invalid_quantity`, \
                 `invalid_discount`, `reference_required`, `customer_required`, `no_lines`, \
                 `no_payments`, `too_many_payments`, `unknown_payment_mode`, `tendered_short`, \
                 `tendered_not_cash`, `points_required`, `loyalty_value_mismatch`, \
                 `negative_price`, `invalid_text`, `offline_invoice` (offline sales go to \
                 POST /api/v1/pos/sync)"),
              (status = 502, description = "`inventory_refused`, `partners_refused`: a service the \
                 sale needs answered with an error"),
              (status = 503, description = "`dependency_unavailable`: a service the sale needs did \
                 not answer; retry or sell offline")))]
async fn issue_invoice(
    State(sales): State<Sales>,
    principal: Principal,
    headers: HeaderMap,
    Json(body): Json<NewInvoice>,
) -> Result<(StatusCode, Json<Invoice>), ApiError> {
    if body.offline.is_some() {
        return Err(Invalid::new(
            "offline",
            Code::OfflineInvoice,
            "offline invoices are sent to /api/v1/pos/sync",
        )
        .into());
    }
    let priced = match price_invoice(&sales.pool, &principal, &body, Pricing::Online).await? {
        Priced::Before(existing) => return Ok((StatusCode::OK, Json(*existing))),
        Priced::New(priced) => priced,
    };
    let approved_by = authorise(&sales, &headers, &principal, &body, &priced).await?;

    // The answers the sale waits for: credit, then stock.
    let token = bearer(&headers);
    let currency = priced.currency;
    let on_credit = money::sum_field(
        "payments",
        priced
            .payments
            .iter()
            .filter(|p| p.mode == "credit")
            .map(|p| p.amount),
    )?;
    if let (Some(customer), true) = (body.customer_id, on_credit > 0) {
        if !sales
            .mesh
            .credit_allows(&token, customer, Money::new(on_credit, currency))
            .await?
        {
            return Err(ApiError::new(
                Code::CreditLimitExceeded,
                format!("{on_credit} on credit does not fit the customer's limit (minor units)"),
            ));
        }
    }
    let mut wanted: Vec<(Uuid, Decimal)> = Vec::new();
    for (product, input) in priced.products.iter().zip(&priced.inputs) {
        match wanted.iter_mut().find(|(id, _)| *id == product.id) {
            Some((_, q)) => *q += input.quantity,
            None => wanted.push((product.id, input.quantity)),
        }
    }
    let wanted: Vec<(Uuid, String)> = wanted
        .into_iter()
        .map(|(id, q)| (id, q.normalize().to_string()))
        .collect();
    let reservation = sales
        .mesh
        .reserve(&token, priced.store.location_id, body.id, &wanted)
        .await?;

    // Points last: they are the one step that cannot be taken back.
    if let Some(customer) = body.customer_id {
        for payment in priced.payments.iter().filter(|p| p.mode == "loyalty") {
            let points = payment.points.unwrap_or_default();
            let spent = sales
                .mesh
                .redeem(&token, customer, points, body.id, payment.amount)
                .await;
            if let Err(err) = spent {
                sales.mesh.release(&token, reservation).await;
                return Err(err);
            }
        }
    }

    match record(
        &sales.pool,
        &principal,
        &body,
        &priced,
        Some(reservation),
        approved_by,
    )
    .await
    {
        Ok(mut invoice) => {
            invoice.change_due = Money::new(priced.change, currency);
            Ok((StatusCode::CREATED, Json(invoice)))
        }
        Err(err) => {
            sales.mesh.release(&token, reservation).await;
            Err(err)
        }
    }
}

/// An invoice checked and priced, ready to record.
struct Draft {
    /// What each line's price could have been: the catalog's, now or (offline) when sold.
    catalog_prices: Vec<i64>,
    /// Where the sale goes beyond the catalog and the seller's own discount policy.
    exceptions: Vec<domain::Exception>,
    terminal: String,
    store: Store,
    place: String,
    customer_gstin: Option<String>,
    products: Vec<Product>,
    inputs: Vec<LineInput>,
    bill: domain::Bill,
    payments: Vec<Payment>,
    change: i64,
    currency: Currency,
}

enum Priced {
    /// Sent before: the invoice as it was issued.
    Before(Box<Invoice>),
    /// Not issued yet.
    New(Box<Draft>),
}

/// A basket to price before the customer pays.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewQuote {
    store_id: Uuid,
    /// 1 to 4 capitals or digits.
    terminal_id: String,
    /// Decides the place of supply, as on the invoice.
    customer_id: Option<Uuid>,
    lines: Vec<NewLine>,
    #[serde(default)]
    bill_discount_minor: i64,
    /// Round the total to the rupee with a round-off line (default true).
    round_off: Option<bool>,
}

/// A priced basket: every line's GST and the total to collect, exactly as the invoice
/// will have them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Quote {
    currency: String,
    place_of_supply: String,
    lines: Vec<InvoiceLine>,
    subtotal_minor: i64,
    discount_minor: i64,
    taxable_minor: i64,
    tax_minor: i64,
    round_off_minor: i64,
    total_minor: i64,
}

/// Prices a basket with the invoice's rules (catalog prices, discounts, GST, round-off)
/// and writes nothing: what the till shows before the customer pays.
#[utoipa::path(post, path = "/api/v1/pos/quote", tag = "sales", request_body = NewQuote,
    security(("bearer" = [])),
    responses((status = 200, body = Quote),
              (status = 404, description = "`unknown_product`, `unknown_customer`, `not_found`"),
              (status = 422, description = "`invalid_quantity`, `no_lines`, ...")))]
async fn quote(
    State(sales): State<Sales>,
    principal: Principal,
    Json(body): Json<NewQuote>,
) -> Result<Json<Quote>, ApiError> {
    let basket = NewInvoice {
        id: Uuid::nil(),
        store_id: body.store_id,
        terminal_id: body.terminal_id,
        customer_id: body.customer_id,
        lines: body.lines,
        bill_discount_minor: body.bill_discount_minor,
        round_off: body.round_off,
        payments: Vec::new(),
        offline: None,
    };
    let Priced::New(draft) =
        price_invoice(&sales.pool, &principal, &basket, Pricing::Quote).await?
    else {
        return Err(ApiError::internal("no invoice has the nil id"));
    };
    let bill = &draft.bill;
    Ok(Json(Quote {
        currency: draft.currency.code().to_owned(),
        place_of_supply: draft.place.clone(),
        lines: priced_lines(&draft, &basket.lines),
        subtotal_minor: bill.subtotal,
        discount_minor: bill.discount,
        taxable_minor: bill.taxable,
        tax_minor: bill.tax,
        round_off_minor: bill.round_off,
        total_minor: bill.total,
    }))
}

/// Why a basket is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pricing {
    /// A sale at the till now: its payments must cover the total.
    Online,
    /// A sale an offline terminal made: the prices it charged stand, whoever the cashier
    /// was, because the sale has happened.
    Offline,
    /// The total shown before the customer pays: no payments yet.
    Quote,
}

/// Checks and prices an invoice without holding anything.
async fn price_invoice(
    pool: &PgPool,
    principal: &Principal,
    body: &NewInvoice,
    pricing: Pricing,
) -> Result<Priced, ApiError> {
    reachable(principal, body.store_id)?;
    let terminal = domain::terminal("terminal_id", &body.terminal_id)?;
    bazaar_platform::http::line_count("lines", body.lines.len())?;
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant_planned_once(pool, tenant).await?;
    if let Some(existing) = invoice(&mut tx, tenant, body.id).await? {
        return Ok(Priced::Before(Box::new(existing)));
    }
    let store = store(&mut tx, tenant, body.store_id).await?;
    let customer: Option<(Option<String>, Option<String>)> = match body.customer_id {
        Some(customer) => Some(
            crate::store::customer_tax_facts(&mut tx, tenant, customer)
                .await?
                .ok_or_else(|| {
                    ApiError::new(Code::UnknownCustomer, format!("no customer {customer}"))
                })?,
        ),
        None => None,
    };
    let (customer_state, customer_gstin) = customer.unwrap_or_default();
    let place = customer_state.unwrap_or_else(|| store.state_code.clone());
    let supply = Supply::between(&store.state_code, &place);
    let found = products(&mut tx, tenant, &body.lines).await?;
    let mut products = Vec::new();
    let mut inputs = Vec::new();
    for ((index, line), product) in body.lines.iter().enumerate().zip(found) {
        let field = format!("lines[{index}]");
        let product = product?;
        let quantity = Quantity::field(
            &format!("{field}.quantity"),
            &line.quantity,
            product.unit_decimals.max(0) as u32,
            Sign::Positive,
        )?
        .value();
        let unit_price = match line.unit_price_minor {
            Some(price) if price < 0 => {
                return Err(Invalid::new(
                    format!("{field}.unit_price_minor"),
                    Code::NegativePrice,
                    "cannot be negative",
                )
                .into())
            }
            Some(price) => price,
            None => product.selling_price_minor,
        };
        inputs.push(LineInput {
            quantity,
            unit_price,
            discount: line.discount_minor,
            rates: Rates {
                gst_bp: product.gst_rate_bp.max(0) as u32,
                cess_bp: product.cess_rate_bp.max(0) as u32,
            },
            inclusive: product.tax_inclusive,
        });
        products.push(product);
    }
    let catalog_prices = match (&body.offline, pricing) {
        (Some(offline), Pricing::Offline) => {
            prices_in_force(&mut tx, tenant, &products, offline.issued_at).await?
        }
        _ => products.iter().map(|p| p.selling_price_minor).collect(),
    };
    // Without a discount no policy can be exceeded: the checkout reads none.
    let discounted =
        body.bill_discount_minor != 0 || body.lines.iter().any(|l| l.discount_minor != 0);
    let limit = match pricing {
        Pricing::Quote => None,
        _ if !discounted => Some(DiscountLimit::NONE),
        _ => Some(store::discount_limit(&mut tx, tenant, body.store_id, &principal.roles).await?),
    };
    tx.commit().await?;
    let currency = products[0].currency;
    let bill = domain::price(
        &inputs,
        body.bill_discount_minor,
        supply,
        body.round_off.unwrap_or(true),
    )?;
    let payments: Vec<Payment> = body
        .payments
        .iter()
        .map(|p| Payment {
            mode: p.mode.trim().to_owned(),
            amount: p.amount_minor,
            tendered: p.tendered_minor,
            reference: p
                .reference
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
            points: p.points,
        })
        .collect();
    let change = match pricing {
        Pricing::Quote => 0,
        _ => domain::check_payments(&payments, bill.total, body.customer_id.is_some())?,
    };
    if pricing == Pricing::Offline && payments.iter().any(|p| p.mode == "loyalty") {
        return Err(Invalid::new(
            "payments",
            Code::LoyaltyOffline,
            "points are spent online only",
        )
        .into());
    }
    let exceptions = limit.map_or_else(Vec::new, |limit| {
        domain::exceptions(
            &inputs,
            &catalog_prices,
            body.bill_discount_minor,
            &bill,
            limit,
        )
    });
    Ok(Priced::New(Box::new(Draft {
        catalog_prices,
        exceptions,
        terminal,
        store,
        place,
        customer_gstin,
        products,
        inputs,
        bill,
        payments,
        change,
        currency,
    })))
}

/// A batch of invoices a terminal made while offline.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SyncBatch {
    invoices: Vec<NewInvoice>,
}

/// What became of one synced invoice.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Synced {
    id: Uuid,
    /// accepted, duplicate (sent before) or rejected.
    status: String,
    number: Option<String>,
    /// Why it was rejected: the problem code and detail.
    code: Option<String>,
    detail: Option<String>,
}

/// Takes the invoices a terminal made while offline, each under its own id, offline
/// number and time. Each is accepted once (a resent batch creates nothing new) and is
/// accepted even if stock is now short: the sale happened, and inventory raises
/// `inventory.negative_stock`. The answer says, per invoice, accepted, duplicate or
/// rejected with the reason; one invoice's rejection does not stop the others.
#[utoipa::path(post, path = "/api/v1/pos/sync", tag = "sales", request_body = SyncBatch,
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Synced>),
              (status = 409, description = "`invoice_conflict` (in an invoice's entry: its client id \
                 was synced before with a different body)"),
              (status = 422, description = "`empty_batch`, `batch_too_large`; in an invoice's entry, \
                 besides the rules of POST /api/v1/pos/invoices: `offline_required`, \
                 `future_date`, `invalid_number`, `loyalty_offline`")))]
async fn sync_offline(
    State(sales): State<Sales>,
    principal: Principal,
    Json(batch): Json<SyncBatch>,
) -> Result<Json<Vec<Synced>>, ApiError> {
    if batch.invoices.is_empty() {
        return Err(Invalid::new("invoices", Code::EmptyBatch, "nothing to sync").into());
    }
    if batch.invoices.len() > 500 {
        return Err(Invalid::new(
            "invoices",
            Code::BatchTooLarge,
            "at most 500 invoices a batch",
        )
        .into());
    }
    let mut results = Vec::with_capacity(batch.invoices.len());
    for body in &batch.invoices {
        let result = sync_one(&sales.pool, &principal, body).await;
        results.push(match result {
            Ok((status, number)) => Synced {
                id: body.id,
                status: status.to_owned(),
                number: Some(number),
                code: None,
                detail: None,
            },
            Err(err) => Synced {
                id: body.id,
                status: "rejected".to_owned(),
                number: None,
                code: Some(err.code().to_owned()),
                detail: Some(err.problem().detail),
            },
        });
    }
    Ok(Json(results))
}

async fn sync_one(
    pool: &PgPool,
    principal: &Principal,
    body: &NewInvoice,
) -> Result<(&'static str, String), ApiError> {
    let offline = body.offline.as_ref().ok_or_else(|| {
        Invalid::new(
            "offline",
            Code::OfflineRequired,
            "an offline invoice carries its offline number and time",
        )
    })?;
    let number = offline.number.trim();
    if number.is_empty()
        || number.len() > 16
        || !number
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'/')
    {
        return Err(Invalid::new(
            "offline.number",
            Code::InvalidNumber,
            "1 to 16 letters, digits, - or /",
        )
        .into());
    }
    if offline.issued_at > Utc::now() + chrono::Duration::minutes(5) {
        return Err(Invalid::new(
            "offline.issued_at",
            Code::FutureDate,
            "an offline sale cannot be in the future",
        )
        .into());
    }
    match price_invoice(pool, principal, body, Pricing::Offline).await? {
        Priced::Before(existing) => Ok(("duplicate", existing.number)),
        Priced::New(draft) => {
            // Taken whatever it went beyond: the sale happened. Its exceptions are kept
            // for managers, approved by nobody.
            let invoice = record(pool, principal, body, &draft, None, None).await?;
            Ok(("accepted", invoice.number))
        }
    }
}

/// Writes the invoice and its event: online with the next number of its series (and the
/// stock `reservation` it holds), offline with the number and time the terminal gave it.
async fn record(
    pool: &PgPool,
    principal: &Principal,
    body: &NewInvoice,
    draft: &Draft,
    reservation: Option<Uuid>,
    approved_by: Option<Uuid>,
) -> Result<Invoice, ApiError> {
    let Draft {
        terminal,
        store,
        place,
        customer_gstin,
        bill,
        payments,
        currency,
        ..
    } = draft;
    let (terminal, place, currency) = (terminal.as_str(), place.as_str(), currency.code());
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant_planned_once(pool, tenant).await?;
    let number = match &body.offline {
        Some(offline) => offline.number.trim().to_owned(),
        None => next_number(&mut tx, tenant, body.store_id, terminal, &store.code).await?,
    };
    // Milliseconds, as the event carries it: the answer matches a later read.
    let issued_at = body
        .offline
        .as_ref()
        .map_or_else(Utc::now, |o| o.issued_at)
        .trunc_subsecs(3);
    let invoice = as_recorded(body, draft, number.clone(), issued_at, approved_by);
    let issued = events::sales::InvoiceIssued {
        tenant_id: tenant,
        invoice_id: body.id,
        invoice_number: number.clone(),
        store_id: body.store_id,
        terminal_id: terminal.to_owned(),
        cashier_id: principal.user,
        customer_id: body.customer_id,
        reservation_id: reservation,
        offline: body.offline.is_some(),
        currency: currency.to_owned(),
        place_of_supply: place.to_owned(),
        supplier_gstin: store.gstin.clone(),
        supplier_state: Some(store.state_code.clone()),
        customer_gstin: customer_gstin.clone(),
        lines: invoice.lines.iter().map(issued_line).collect(),
        payments: payments
            .iter()
            .map(|p| events::sales::InvoiceIssuedPayment {
                mode: p.mode.clone(),
                amount_minor: p.amount,
                reference: p.reference.clone(),
                tendered_minor: p.tendered,
                points: p.points,
            })
            .collect(),
        subtotal_minor: bill.subtotal,
        discount_minor: bill.discount,
        taxable_minor: bill.taxable,
        tax_minor: bill.tax,
        round_off_minor: bill.round_off,
        total_minor: bill.total,
        approved_by,
        exceptions: draft
            .exceptions
            .iter()
            .map(|e| events::sales::InvoiceIssuedException {
                field: e.field.clone(),
                kind: e.kind.code().to_owned(),
                allowed_minor: e.allowed,
                given_minor: e.given,
                amount_minor: e.amount,
            })
            .collect(),
        issued_at: invoice.issued_at.timestamp_millis(),
    };
    // The head, its lines, payments and exceptions in one statement; none of them when
    // the id or the number is taken. The series row stays locked until commit.
    if !crate::store::invoice_issued(&mut tx, &issued).await? {
        // The same id issued by a concurrent request, or an offline number already used.
        return Err(ApiError::new(
            Code::InvoiceConflict,
            format!("invoice {} or number {number} is taken", body.id),
        ));
    }
    outbox::append_event(&mut tx, SERVICE, tenant, &body.id.to_string(), &issued).await?;
    if !draft.exceptions.is_empty() {
        record_exceptions(&mut tx, principal, body, draft, &number, approved_by).await?;
    }
    tx.commit().await?;
    Ok(invoice)
}

/// Who covers a sale's exceptions, if it has any: the seller for what their own roles
/// allow (a store manager's own price), else the manager whose access token the till
/// sends as `Approval-Token` (403 `price_override_forbidden` or
/// `discount_beyond_policy` without one; `invalid_approval` for a token that is not a
/// user of the tenant reaching the store; `approval_insufficient` when their authority
/// does not cover it either).
async fn authorise(
    sales: &Sales,
    headers: &HeaderMap,
    principal: &Principal,
    body: &NewInvoice,
    draft: &Draft,
) -> Result<Option<Uuid>, ApiError> {
    let beyond_own = |who: &Principal, exceptions: &[domain::Exception]| -> Vec<String> {
        exceptions
            .iter()
            .filter(|e| e.kind != ExceptionKind::PriceDeviation || !who.has_any(PRICE_SETTERS))
            .map(|e| format!("{} ({} given, {} allowed)", e.field, e.given, e.allowed))
            .collect()
    };
    if draft.exceptions.is_empty() {
        return Ok(None);
    }
    let needed = beyond_own(principal, &draft.exceptions);
    if needed.is_empty() {
        return Ok(Some(principal.user));
    }
    let Some(token) = headers
        .get(APPROVAL_TOKEN)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        let code =
            if draft.exceptions.iter().any(|e| {
                e.kind == ExceptionKind::PriceDeviation && !principal.has_any(PRICE_SETTERS)
            }) {
                Code::PriceOverrideForbidden
            } else {
                Code::DiscountBeyondPolicy
            };
        return Err(ApiError::new(
            code,
            format!(
                "beyond the seller's authority, a manager's {APPROVAL_TOKEN} approves it: {}",
                needed.join(", ")
            ),
        ));
    };
    let invalid = || {
        ApiError::new(
            Code::InvalidApproval,
            format!("{APPROVAL_TOKEN} is not a valid token of a user of this tenant and store"),
        )
    };
    let approver = sales.verifier.verify(token).await.map_err(|_| invalid())?;
    if approver.tenant != principal.tenant || !approver.reaches_store(body.store_id) {
        return Err(invalid());
    }
    let mut tx = db::begin_for_tenant(&sales.pool, principal.tenant).await?;
    let limit =
        store::discount_limit(&mut tx, principal.tenant, body.store_id, &approver.roles).await?;
    tx.commit().await?;
    let theirs = domain::exceptions(
        &draft.inputs,
        &draft.catalog_prices,
        body.bill_discount_minor,
        &draft.bill,
        limit,
    );
    let still = beyond_own(&approver, &theirs);
    if !still.is_empty() {
        return Err(ApiError::new(
            Code::ApprovalInsufficient,
            format!("beyond the approver's authority too: {}", still.join(", ")),
        ));
    }
    Ok(Some(approver.user))
}

/// The header a till sends a manager's access token in, to approve a sale beyond the
/// cashier's authority.
pub(crate) const APPROVAL_TOKEN: &str = "approval-token";

/// Keeps a sale's exceptions for managers and audits them, in the invoice's transaction.
async fn record_exceptions(
    tx: &mut PgConnection,
    principal: &Principal,
    body: &NewInvoice,
    draft: &Draft,
    number: &str,
    approved_by: Option<Uuid>,
) -> Result<(), ApiError> {
    let exceptions = &draft.exceptions;
    let audited = events::audit::SaleBeyondPolicy {
        tenant_id: principal.tenant,
        invoice_id: body.id,
        invoice_number: number.to_owned(),
        store_id: body.store_id,
        terminal_id: draft.terminal.clone(),
        cashier_id: principal.user,
        offline: body.offline.is_some(),
        approved_by,
        currency: draft.currency.code().to_owned(),
        exceptions: exceptions
            .iter()
            .map(|e| events::audit::SaleBeyondPolicySaleException {
                field: e.field.clone(),
                kind: e.kind.code().to_owned(),
                allowed_minor: e.allowed,
                given_minor: e.given,
                amount_minor: e.amount,
            })
            .collect(),
        recorded_at: bazaar_schemas::now_millis(),
    };
    // Audit events are keyed by tenant, like every audit event.
    let key = principal.tenant.to_string();
    outbox::append_event(tx, SERVICE, principal.tenant, &key, &audited).await?;
    Ok(())
}

/// Each product's selling price in force at `at`: what an offline terminal could have
/// known. With no history, today's.
async fn prices_in_force(
    tx: &mut PgConnection,
    tenant: Uuid,
    products: &[Product],
    at: DateTime<Utc>,
) -> Result<Vec<i64>, ApiError> {
    let ids: Vec<Uuid> = products.iter().map(|p| p.id).collect();
    let known = store::prices_in_force(tx, tenant, &ids, at).await?;
    Ok(products
        .iter()
        .zip(known)
        .map(|(product, price)| price.unwrap_or(product.selling_price_minor))
        .collect())
}

/// The invoice exactly as `record` writes it, without reading it back.
fn as_recorded(
    body: &NewInvoice,
    draft: &Draft,
    number: String,
    issued_at: DateTime<Utc>,
    approved_by: Option<Uuid>,
) -> Invoice {
    let c = draft.currency;
    let lines = priced_lines(draft, &body.lines);
    let payments: Vec<InvoicePayment> = draft
        .payments
        .iter()
        .map(|p| InvoicePayment {
            mode: p.mode.clone(),
            amount_minor: p.amount,
            tendered_minor: p.tendered,
            reference: p.reference.clone(),
        })
        .collect();
    let bill = &draft.bill;
    Invoice {
        id: body.id,
        number,
        store_id: body.store_id,
        terminal_id: draft.terminal.clone(),
        customer_id: body.customer_id,
        place_of_supply: draft.place.clone(),
        supplier_gstin: draft.store.gstin.clone(),
        customer_gstin: draft.customer_gstin.clone(),
        status: "issued".to_owned(),
        lines,
        change_due: Money::new(change_due(&payments), c),
        payments,
        subtotal: Money::new(bill.subtotal, c),
        discount: Money::new(bill.discount, c),
        taxable: Money::new(bill.taxable, c),
        tax: Money::new(bill.tax, c),
        round_off: Money::new(bill.round_off, c),
        total: Money::new(bill.total, c),
        exceptions: draft.exceptions.len() as i32,
        approved_by,
        issued_at,
    }
}

/// A draft's lines as the invoice (and the quote before it) shows them.
fn priced_lines(draft: &Draft, lines: &[NewLine]) -> Vec<InvoiceLine> {
    draft
        .products
        .iter()
        .zip(&draft.inputs)
        .zip(&draft.bill.lines)
        .zip(lines)
        .enumerate()
        .map(|(index, (((product, input), priced), line))| InvoiceLine {
            line_no: index as i32 + 1,
            product_id: product.id,
            sku: product.sku.clone(),
            quantity: input.quantity.normalize().to_string(),
            unit_price_minor: input.unit_price,
            discount_minor: priced.discount,
            taxable_minor: priced.tax.taxable,
            gst_rate_bp: product.gst_rate_bp,
            cgst_minor: priced.tax.cgst,
            sgst_minor: priced.tax.sgst,
            igst_minor: priced.tax.igst,
            cess_minor: priced.tax.cess,
            total_minor: priced.tax.total(),
            salesperson_id: line.salesperson_id,
            quantity_returned: "0".to_owned(),
            hsn_code: product.hsn_code.clone(),
        })
        .collect()
}

/// Cash handed back: what was tendered over what it paid.
fn change_due(payments: &[InvoicePayment]) -> i64 {
    payments
        .iter()
        .filter(|p| p.mode == "cash")
        .filter_map(|p| p.tendered_minor.map(|t| t - p.amount_minor))
        .sum::<i64>()
        .max(0)
}

/// The next number of a store's terminal's series this financial year. The series row is
/// the lock: one checkout at a time per terminal takes a number, and a rolled-back
/// checkout gives its number back. A terminal whose day is closed gives none (409
/// `day_closed`): its Z report is final.
async fn next_number(
    tx: &mut PgConnection,
    tenant: Uuid,
    store: Uuid,
    terminal: &str,
    store_code: &str,
) -> Result<String, ApiError> {
    let today = Utc::now().date_naive();
    let year = domain::financial_year(today);
    let serial = store::take_serial(tx, tenant, store, terminal, year, today)
        .await?
        .ok_or_else(|| day_closed(terminal, today))?;
    Ok(domain::invoice_number(store_code, terminal, year, serial))
}

/// Holds the terminal's series row until commit and refuses (409 `day_closed`) when its
/// day is closed: returns, voids and held bills take the same lock as a sale, so none
/// slips past a Z report in flight.
pub(crate) async fn lock_open_day(
    tx: &mut PgConnection,
    tenant: Uuid,
    store: Uuid,
    terminal: &str,
) -> Result<(), ApiError> {
    let today = Utc::now().date_naive();
    let year = domain::financial_year(today);
    if store::hold_open_day(tx, tenant, store, terminal, year, today).await? {
        Ok(())
    } else {
        Err(day_closed(terminal, today))
    }
}

fn day_closed(terminal: &str, day: NaiveDate) -> ApiError {
    ApiError::new(
        Code::DayClosed,
        format!("terminal {terminal}'s day {day} is closed (Z report taken); it takes no more sales, returns, voids or held bills today"),
    )
}

pub(crate) async fn invoice(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<Invoice>, ApiError> {
    let Some((head, lines, payments)) = crate::store::invoice(tx, tenant, id).await? else {
        return Ok(None);
    };
    let c = head.currency;
    let change = change_due(&payments);
    Ok(Some(Invoice {
        id,
        number: head.number,
        store_id: head.store_id,
        terminal_id: head.terminal_id,
        customer_id: head.customer_id,
        place_of_supply: head.place_of_supply,
        supplier_gstin: head.supplier_gstin,
        customer_gstin: head.customer_gstin,
        status: head.status,
        lines,
        payments,
        subtotal: Money::new(head.subtotal_minor, c),
        discount: Money::new(head.discount_minor, c),
        taxable: Money::new(head.taxable_minor, c),
        tax: Money::new(head.tax_minor, c),
        round_off: Money::new(head.round_off_minor, c),
        total: Money::new(head.total_minor, c),
        change_due: Money::new(change, c),
        issued_at: head.issued_at,
        exceptions: head.exceptions,
        approved_by: head.approved_by,
    }))
}

/// One invoice.
#[utoipa::path(get, path = "/api/v1/pos/invoices/{id}", tag = "sales", security(("bearer" = [])),
    responses((status = 200, body = Invoice), (status = 404, description = "`not_found`")))]
async fn get_invoice(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Invoice>, ApiError> {
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let found = invoice(&mut tx, principal.tenant, id)
        .await?
        .filter(|i| principal.reaches_store(i.store_id))
        .ok_or_else(|| ApiError::not_found(format!("no invoice {id}")))?;
    tx.commit().await?;
    Ok(Json(found))
}

/// A terminal's invoices of a day.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct TerminalDay {
    store_id: Uuid,
    terminal_id: String,
    /// Default: today.
    date: Option<NaiveDate>,
}

/// A terminal's invoices of a day, in number order.
#[utoipa::path(get, path = "/api/v1/pos/invoices", tag = "sales", params(TerminalDay),
    security(("bearer" = [])), responses((status = 200, body = Vec<Invoice>)))]
async fn list_invoices(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(query): Query<TerminalDay>,
) -> Result<Json<Vec<Invoice>>, ApiError> {
    reachable(&principal, query.store_id)?;
    let day = query.date.unwrap_or_else(|| Utc::now().date_naive());
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let place = (query.store_id, query.terminal_id.trim());
    let ids = crate::store::invoice_ids(&mut tx, principal.tenant, place, day).await?;
    let mut invoices = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(found) = invoice(&mut tx, principal.tenant, id).await? {
            invoices.push(found);
        }
    }
    tx.commit().await?;
    Ok(Json(invoices))
}
