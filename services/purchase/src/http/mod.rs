//! Purchase's HTTP API: purchase orders and their approval, goods receipts, vendor
//! invoices with the three-way match, returns to vendors, vendor prices and reorder
//! suggestions.

use crate::Code;
use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post, put},
    Router,
};
use bazaar_platform::http::PlatformCode;
use bazaar_platform::{
    auth::{self, Principal, Role},
    db,
    http::{idempotency, ApiError, Invalid, Json, Page, Path, Query},
    money::{self, Money, Quantity, Sign},
    outbox, ServiceContext,
};
use bazaar_schemas::events;
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

mod orders;

use crate::{
    domain::{self, Mismatch},
    store, SERVICE,
};
use orders::{
    __path_approve_order, __path_cancel_order, __path_close_order, __path_create_order,
    __path_get_order, __path_list_orders, __path_receive_goods, approve_order, cancel_order,
    close_order, create_order, get_order, list_orders, receive_goods, Grn, NewOrder, NewOrderLine,
    Reason, Receipt, ReceiptLine,
};
use store::{
    purchase_order::{Order, OrderLine},
    vendor_invoice::{InvoiceRow, RecordedLine},
    VendorPrice,
};

/// Who orders and receives goods.
const BUYERS: &[Role] = &[Role::Owner, Role::Admin, Role::StoreManager];
/// Who approves orders, held invoices and contracted prices.
const APPROVERS: &[Role] = &[Role::Owner, Role::Admin];
/// Who records vendor invoices.
const ACCOUNTS: &[Role] = &[Role::Owner, Role::Admin, Role::Accountant];
/// Who reads purchasing.
const READERS: &[Role] = &[
    Role::Owner,
    Role::Admin,
    Role::StoreManager,
    Role::Accountant,
];

/// Purchase's routes; each names the roles it admits.
pub fn router(ctx: ServiceContext) -> Router {
    let pool = ctx.pool;
    let v = &ctx.verifier;
    let create = |route, roles| idempotency::creating(route, &pool, v, roles);
    Router::new()
        .route(
            "/api/v1/purchase-orders",
            get(list_orders)
                .route_layer(auth::allow(v, READERS))
                .merge(create(post(create_order), BUYERS)),
        )
        .route(
            "/api/v1/purchase-orders/{id}",
            get(get_order).route_layer(auth::allow(v, READERS)),
        )
        .route(
            "/api/v1/purchase-orders/{id}/approve",
            post(approve_order).route_layer(auth::allow(v, APPROVERS)),
        )
        .route(
            "/api/v1/purchase-orders/{id}/cancel",
            post(cancel_order).route_layer(auth::allow(v, BUYERS)),
        )
        .route(
            "/api/v1/purchase-orders/{id}/close",
            post(close_order).route_layer(auth::allow(v, BUYERS)),
        )
        .route(
            "/api/v1/purchase-orders/{id}/grns",
            create(post(receive_goods), BUYERS),
        )
        .route(
            "/api/v1/purchase-invoices",
            create(post(record_invoice), ACCOUNTS),
        )
        .route(
            "/api/v1/purchase-invoices/{id}",
            get(get_invoice).route_layer(auth::allow(v, READERS)),
        )
        .route(
            "/api/v1/purchase-invoices/{id}/approve",
            post(approve_invoice).route_layer(auth::allow(v, APPROVERS)),
        )
        .route(
            "/api/v1/purchase-returns",
            create(post(return_goods), BUYERS),
        )
        .route(
            "/api/v1/purchases/vendor-pricing",
            get(vendor_pricing)
                .route_layer(auth::allow(v, READERS))
                .merge(put(set_vendor_price).route_layer(auth::allow(v, APPROVERS))),
        )
        .route(
            "/api/v1/purchases/reorder-suggestions",
            get(reorder_suggestions).route_layer(auth::allow(v, READERS)),
        )
        .with_state(pool.clone())
}

/// Purchase's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(list_orders, create_order, get_order, approve_order, cancel_order, close_order,
          receive_goods, record_invoice, get_invoice, approve_invoice, return_goods,
          vendor_pricing, set_vendor_price, reorder_suggestions),
    components(schemas(Order, OrderLine, NewOrder, NewOrderLine, Receipt, ReceiptLine, Grn,
                       NewInvoice, NewInvoiceLine, Invoice, Mismatch, NewReturn, NewReturnLine,
                       Return, VendorPrice, NewVendorPrice, Suggestion, Reason)),
    tags((name = "purchase", description = "Orders, receipts, vendor invoices and returns"))
)]
pub struct PurchaseApi;

fn text(value: Decimal) -> String {
    value.normalize().to_string()
}

async fn event<E: bazaar_schemas::Event>(
    tx: &mut PgConnection,
    tenant: Uuid,
    key: Uuid,
    event: &E,
) -> Result<(), ApiError> {
    outbox::append_event(tx, SERVICE, tenant, &key.to_string(), event).await?;
    Ok(())
}

fn quantity(field: &str, raw: &str, decimals: i16) -> Result<Decimal, ApiError> {
    Ok(Quantity::field(field, raw, decimals.max(0) as u32, Sign::Positive)?.value())
}

/// The product with id `id` or SKU `sku` (exactly one of them): 404 `unknown_product`
/// naming `field` when there is none.
async fn product(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Option<Uuid>,
    sku: Option<&str>,
    field: &str,
) -> Result<store::Product, ApiError> {
    let found = store::product(tx, tenant, id, sku).await?;
    if id.is_some() == sku.is_some() {
        return Err(Invalid::new(
            field,
            Code::ProductRequired,
            "give either product_id or sku",
        )
        .into());
    }
    found.ok_or_else(|| {
        ApiError::new(
            Code::UnknownProduct,
            format!(
                "{field}: no product {}",
                id.map_or_else(|| sku.unwrap_or("").to_owned(), |i| i.to_string())
            ),
        )
    })
}

/// A document line's product (by id or SKU) and its quantity, read in the product's unit;
/// errors name the line `field`.
async fn product_quantity(
    tx: &mut PgConnection,
    tenant: Uuid,
    (id, sku): (Option<Uuid>, Option<&str>),
    raw: &str,
    field: &str,
) -> Result<(store::Product, Decimal), ApiError> {
    let product = product(tx, tenant, id, sku, field).await?;
    let q = quantity(&format!("{field}.quantity"), raw, product.unit_decimals)?;
    Ok((product, q))
}

/// The vendor `id`: 404 `unknown_vendor` when there is none.
async fn vendor(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<store::VendorRow, ApiError> {
    store::vendor(tx, tenant, id)
        .await?
        .ok_or_else(|| ApiError::new(Code::UnknownVendor, format!("no vendor {id}")))
}

/// 404 `unknown_location`: another store's or tenant's location is not told apart from
/// no location.
fn unknown_location(id: Uuid) -> ApiError {
    ApiError::new(
        Code::UnknownLocation,
        format!("no location {id} in your reach"),
    )
}

// ---------------------------------------------------------------- vendor invoices

/// A vendor's invoice, against one or more receipts.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewInvoice {
    vendor_id: Uuid,
    /// Unique per vendor.
    vendor_invoice_number: String,
    invoice_date: NaiveDate,
    grn_ids: Vec<Uuid>,
    lines: Vec<NewInvoiceLine>,
    /// The total printed on the invoice; a difference over ₹1 from the lines holds it.
    total_minor: Option<i64>,
}

/// One invoiced product.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewInvoiceLine {
    product_id: Option<Uuid>,
    sku: Option<String>,
    quantity: String,
    /// Before GST.
    unit_price_minor: i64,
}

/// A recorded vendor invoice.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Invoice {
    id: Uuid,
    vendor_id: Uuid,
    vendor_invoice_number: String,
    invoice_date: NaiveDate,
    due_date: NaiveDate,
    /// matched, held (awaiting approval) or approved.
    status: String,
    mismatches: Vec<Mismatch>,
    #[schema(value_type = Object)]
    taxable: Money,
    #[schema(value_type = Object)]
    tax: Money,
    #[schema(value_type = Object)]
    total: Money,
}

/// Records a vendor invoice against receipts with the three-way match: each line's
/// price against the order (1 % tolerance), its quantity against what was received and
/// not yet invoiced, and the printed total against the lines (₹1). A match is booked at
/// once (`purchase.invoice.recorded`, which puts it on the vendor's ledger); a mismatch
/// is held for an approver. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/purchase-invoices", tag = "purchase",
    request_body = NewInvoice, security(("bearer" = [])),
    responses((status = 201, body = Invoice),
              (status = 404, description = "`unknown_vendor`, `unknown_grn`, `unknown_product`"),
              (status = 409, description = "`duplicate_vendor_invoice`"),
              (status = 422, description = "`no_lines`, `no_grns`, `not_received`, \
                 `invalid_quantity`, `invalid_text`, `product_required`")))]
async fn record_invoice(
    State(pool): State<PgPool>,
    principal: Principal,
    Json(body): Json<NewInvoice>,
) -> Result<(StatusCode, Json<Invoice>), ApiError> {
    let number = body.vendor_invoice_number.trim();
    if number.is_empty() || number.len() > 32 {
        return Err(Invalid::new(
            "vendor_invoice_number",
            Code::InvalidText,
            "1 to 32 characters",
        )
        .into());
    }
    bazaar_platform::http::line_count("lines", body.lines.len())?;
    if body.grn_ids.is_empty() {
        return Err(Invalid::new(
            "grn_ids",
            Code::NoGrns,
            "an invoice is matched to the receipts it bills",
        )
        .into());
    }
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let vendor = vendor(&mut tx, tenant, body.vendor_id).await?;
    // The receipts, locked: two invoices cannot bill the same goods.
    let grns =
        store::vendor_invoice::lock_receipts(&mut tx, tenant, vendor.id, &body.grn_ids).await?;
    let missing = body
        .grn_ids
        .iter()
        .find(|id| !grns.iter().any(|g| g.0 == **id));
    // Another store's receipt is not found, like another vendor's.
    let missing = match missing {
        Some(id) => Some(id.to_string()),
        None if !store::reaches_receipts(&mut tx, &principal, &body.grn_ids).await? => {
            Some("of another store".to_owned())
        }
        None => None,
    };
    if let Some(missing) = missing {
        return Err(ApiError::new(
            Code::UnknownGrn,
            format!("no receipt {missing} from this vendor"),
        ));
    }
    let intra = grns[0].2 == vendor.state_code;
    let id = Uuid::now_v7();
    let mut mismatches = Vec::new();
    let mut lines: Vec<RecordedLine> = Vec::new();
    let mut billed: Vec<(Uuid, i32, Decimal)> = Vec::new();
    for (index, line) in body.lines.iter().enumerate() {
        let field = format!("lines[{index}]");
        let (product, q) = product_quantity(
            &mut tx,
            tenant,
            (line.product_id, line.sku.as_deref()),
            &line.quantity,
            &field,
        )
        .await?;
        if line.unit_price_minor < 0 {
            return Err(Invalid::new(
                format!("{field}.unit_price_minor"),
                Code::NegativePrice,
                "cannot be negative",
            )
            .into());
        }
        // What these receipts brought of the product and is not yet billed, oldest first.
        let open =
            store::vendor_invoice::uninvoiced(&mut tx, tenant, &body.grn_ids, product.id).await?;
        if open.is_empty() {
            return Err(Invalid::new(
                field,
                Code::NotReceived,
                format!("{} is not on these receipts", product.sku),
            )
            .into());
        }
        let uninvoiced: Decimal = open.iter().map(|o| o.2).sum::<Decimal>()
            - billed
                .iter()
                .filter(|(g, l, _)| open.iter().any(|o| (&o.0, &o.1) == (g, l)))
                .map(|b| b.2)
                .sum::<Decimal>();
        mismatches.extend(domain::match_line(
            &product.sku,
            q,
            line.unit_price_minor,
            open[0].3,
            uninvoiced,
        ));
        let mut left = q;
        let mut received_value = 0i64;
        for (grn, line_no, available, unit_cost) in &open {
            // What earlier lines of this invoice took of the receipt line is not free.
            let taken: Decimal = billed
                .iter()
                .filter(|(g, l, _)| (g, l) == (grn, line_no))
                .map(|b| b.2)
                .sum();
            let take = left.min(*available - taken);
            if take <= Decimal::ZERO {
                continue;
            }
            left -= take;
            let value = money::value_minor(take, Decimal::from(*unit_cost));
            received_value =
                money::sum_field(&format!("{field}.quantity"), [received_value, value])?;
            billed.push((*grn, *line_no, take));
        }
        let tax = domain::line_tax(
            &field,
            q,
            line.unit_price_minor,
            product.gst_rate_bp,
            product.cess_rate_bp,
            intra,
        )?;
        lines.push(RecordedLine {
            product_id: product.id,
            sku: product.sku,
            quantity: text(q),
            unit_price_minor: line.unit_price_minor,
            taxable_minor: tax.taxable,
            gst_rate_bp: product.gst_rate_bp,
            cgst_minor: tax.cgst,
            sgst_minor: tax.sgst,
            igst_minor: tax.igst,
            cess_minor: tax.cess,
            total_minor: tax.total(),
            received_value_minor: Some(received_value),
        });
    }
    let taxable = money::sum_field("lines", lines.iter().map(|l| l.taxable_minor))?;
    let total = money::sum_field("lines", lines.iter().map(|l| l.total_minor))?;
    if let Some(printed) = body.total_minor {
        if printed.abs_diff(total) > 100 {
            mismatches.push(Mismatch {
                sku: String::new(),
                code: "total_differs".to_owned(),
                message: format!("printed {printed}, lines add up to {total} (minor units)"),
            });
        }
    }
    let status = if mismatches.is_empty() {
        "matched"
    } else {
        "held"
    };
    let due = body.invoice_date + Duration::days(i64::from(vendor.payment_terms_days));
    // The state the goods were delivered to decides whose GSTIN takes the credit.
    let place_of_supply =
        store::vendor_invoice::place_of_supply(&mut tx, tenant, &body.grn_ids).await?;
    let recorded = events::purchase::PurchaseInvoiceRecorded {
        tenant_id: tenant,
        invoice_id: id,
        vendor_id: vendor.id,
        vendor_invoice_number: number.to_owned(),
        place_of_supply,
        invoice_date: body.invoice_date.to_string(),
        due_date: due.to_string(),
        grn_ids: body.grn_ids.clone(),
        currency: vendor.currency.clone(),
        lines: lines.into_iter().map(RecordedLine::into_event).collect(),
        taxable_minor: taxable,
        // Both are checked sums of the same lines, the total over the taxable value.
        tax_minor: total
            .checked_sub(taxable)
            .ok_or_else(|| ApiError::internal("the lines' total is below their taxable value"))?,
        total_minor: total,
        status: status.to_owned(),
        mismatches: mismatches.iter().map(mismatch_fact).collect(),
        allocations: billed
            .iter()
            .map(|(grn_id, line_no, quantity)| {
                events::purchase::PurchaseInvoiceRecordedAllocation {
                    grn_id: *grn_id,
                    line_no: *line_no,
                    quantity: text(*quantity),
                }
            })
            .collect(),
        recorded_by: Some(principal.user),
        approved_by: None,
        recorded_at: bazaar_schemas::now_millis(),
    };
    if !store::vendor_invoice::invoice_written(&mut tx, &recorded).await? {
        return Err(ApiError::new(
            Code::DuplicateVendorInvoice,
            format!("invoice {number} of this vendor is already recorded"),
        ));
    }
    // Payable at once when it matched; a held one waits for approval, told as such.
    if status == "matched" {
        event(&mut tx, tenant, vendor.id, &recorded).await?;
    } else {
        let held = events::purchase::PurchaseInvoiceHeld::from(recorded);
        event(&mut tx, tenant, vendor.id, &held).await?;
    }
    let recorded = invoice(&mut tx, &principal, id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(recorded)))
}

/// A mismatch as the invoice's events carry it.
fn mismatch_fact(m: &Mismatch) -> events::purchase::PurchaseInvoiceRecordedMismatch {
    events::purchase::PurchaseInvoiceRecordedMismatch {
        sku: m.sku.clone(),
        code: m.code.clone(),
        message: m.message.clone(),
    }
}

/// Emits `purchase.invoice.recorded` for a held invoice `by` someone approved: now payable.
async fn announce_approval(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    by: Uuid,
) -> Result<(), ApiError> {
    let row = invoice_row(&mut *tx, tenant, id).await?;
    let lines = store::vendor_invoice::lines(&mut *tx, tenant, id).await?;
    let place_of_supply =
        store::vendor_invoice::place_of_supply(&mut *tx, tenant, &row.grn_ids).await?;
    let recorded = events::purchase::PurchaseInvoiceRecorded {
        tenant_id: tenant,
        invoice_id: id,
        vendor_id: row.vendor_id,
        vendor_invoice_number: row.vendor_invoice_number.clone(),
        place_of_supply,
        invoice_date: row.invoice_date.to_string(),
        due_date: row.due_date.to_string(),
        grn_ids: row.grn_ids.to_vec(),
        currency: row.currency.clone(),
        lines: lines.into_iter().map(RecordedLine::into_event).collect(),
        taxable_minor: row.taxable_minor,
        tax_minor: row.tax_minor,
        total_minor: row.total_minor,
        status: row.status.clone(),
        mismatches: row.mismatches.0.iter().map(mismatch_fact).collect(),
        allocations: store::vendor_invoice::allocations(&mut *tx, tenant, id).await?,
        recorded_by: Some(row.recorded_by),
        approved_by: Some(by),
        recorded_at: bazaar_schemas::now_millis(),
    };
    event(tx, tenant, row.vendor_id, &recorded).await
}

async fn invoice_row(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<InvoiceRow, ApiError> {
    store::vendor_invoice::row(tx, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no purchase invoice {id}")))
}

/// A vendor invoice within `principal`'s reach: one billing another store's goods is not
/// found, like another tenant's.
async fn invoice(
    tx: &mut PgConnection,
    principal: &Principal,
    id: Uuid,
) -> Result<Invoice, ApiError> {
    let row = invoice_row(tx, principal.tenant, id).await?;
    if !store::reaches_receipts(tx, principal, &row.grn_ids).await? {
        return Err(ApiError::not_found(format!("no purchase invoice {id}")));
    }
    let c = money::stored_currency(&row.currency)?;
    Ok(Invoice {
        id,
        vendor_id: row.vendor_id,
        vendor_invoice_number: row.vendor_invoice_number,
        invoice_date: row.invoice_date,
        due_date: row.due_date,
        status: row.status,
        mismatches: row.mismatches.0,
        taxable: Money::new(row.taxable_minor, c),
        tax: Money::new(row.tax_minor, c),
        total: Money::new(row.total_minor, c),
    })
}

/// One vendor invoice, with what did not match.
#[utoipa::path(get, path = "/api/v1/purchase-invoices/{id}", tag = "purchase",
    security(("bearer" = [])),
    responses((status = 200, body = Invoice), (status = 404, description = "`not_found`")))]
async fn get_invoice(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Invoice>, ApiError> {
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let found = invoice(&mut tx, &principal, id).await?;
    tx.commit().await?;
    Ok(Json(found))
}

/// Approves a held invoice: it is booked as it stands. Owner or admin.
#[utoipa::path(post, path = "/api/v1/purchase-invoices/{id}/approve", tag = "purchase",
    security(("bearer" = [])),
    responses((status = 200, body = Invoice), (status = 404, description = "`not_found`"),
              (status = 409, description = "`invoice_not_held`")))]
async fn approve_invoice(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Invoice>, ApiError> {
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    // Within reach first: another store's invoice is not found, not approved.
    invoice(&mut tx, &principal, id).await?;
    let approved = store::vendor_invoice::approve(&mut tx, tenant, id, principal.user).await?;
    if !approved {
        let current = invoice(&mut tx, &principal, id).await?;
        return Err(ApiError::new(
            Code::InvoiceNotHeld,
            format!(
                "invoice {} is {}",
                current.vendor_invoice_number, current.status
            ),
        ));
    }
    announce_approval(&mut tx, tenant, id, principal.user).await?;
    let approved = invoice(&mut tx, &principal, id).await?;
    tx.commit().await?;
    Ok(Json(approved))
}

// ---------------------------------------------------------------- returns

/// Goods to send back against a receipt.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewReturn {
    grn_id: Uuid,
    reason: String,
    lines: Vec<NewReturnLine>,
}

/// One product to send back.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewReturnLine {
    product_id: Option<Uuid>,
    sku: Option<String>,
    quantity: String,
}

/// A debit note.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Return {
    id: Uuid,
    number: String,
    grn_id: Uuid,
    #[schema(value_type = Object)]
    total: Money,
}

/// Sends goods back to the vendor against a receipt (a debit note): never more than
/// was received and not already returned. Stock leaves through inventory and the
/// vendor's ledger is reduced, both from `purchase.return.processed`. Honors
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/purchase-returns", tag = "purchase",
    request_body = NewReturn, security(("bearer" = [])),
    responses((status = 201, body = Return),
              (status = 404, description = "`unknown_grn`, `unknown_product`"),
              (status = 422, description = "`return_above_received`, `not_received`, \
                 `invalid_quantity`, `no_lines`, `invalid_text`, `product_required`")))]
async fn return_goods(
    State(pool): State<PgPool>,
    principal: Principal,
    Json(body): Json<NewReturn>,
) -> Result<(StatusCode, Json<Return>), ApiError> {
    let reason = body.reason.trim();
    if reason.is_empty() || reason.len() > 500 {
        return Err(Invalid::new("reason", Code::InvalidText, "1 to 500 characters").into());
    }
    bazaar_platform::http::line_count("lines", body.lines.len())?;
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let grn = store::purchase_return::lock_receipt(&mut tx, tenant, body.grn_id).await?;
    let unknown = || ApiError::new(Code::UnknownGrn, format!("no receipt {}", body.grn_id));
    let (vendor_id, location_id, place, vendor_state, code, order) = grn.ok_or_else(unknown)?;
    if !store::reaches_receipts(&mut tx, &principal, &[body.grn_id]).await? {
        return Err(unknown());
    }
    let intra = place == vendor_state;
    let id = Uuid::now_v7();
    let number = store::next_number(&mut tx, tenant, "DN").await?;
    let mut lines = Vec::new();
    let mut sent: Vec<(Uuid, Decimal)> = Vec::new();
    for (index, line) in body.lines.iter().enumerate() {
        let field = format!("lines[{index}]");
        let (product, q) = product_quantity(
            &mut tx,
            tenant,
            (line.product_id, line.sku.as_deref()),
            &line.quantity,
            &field,
        )
        .await?;
        let received = store::purchase_return::returnable(&mut tx, body.grn_id, product.id).await?;
        let (_, returnable, batch, cost) = received.ok_or_else(|| {
            Invalid::new(
                field.clone(),
                Code::NotReceived,
                format!("{} is not on this receipt", product.sku),
            )
        })?;
        // What earlier lines of this return send back of the product is not returnable.
        let returnable = returnable
            - sent
                .iter()
                .filter(|(p, _)| *p == product.id)
                .map(|(_, q)| *q)
                .sum::<Decimal>();
        if q > returnable {
            return Err(Invalid::new(
                format!("{field}.quantity"),
                Code::ReturnAboveReceived,
                format!(
                    "{}: {} can still be returned, {} asked",
                    product.sku,
                    text(returnable),
                    text(q)
                ),
            )
            .into());
        }
        sent.push((product.id, q));
        let tax = domain::line_tax(
            &field,
            q,
            cost,
            product.gst_rate_bp,
            product.cess_rate_bp,
            intra,
        )?;
        lines.push(
            events::purchase::PurchaseReturnProcessedPurchaseReturnLine {
                product_id: product.id,
                sku: product.sku,
                quantity: text(q),
                batch,
                unit_cost_minor: cost,
                taxable_minor: tax.taxable,
                gst_rate_bp: product.gst_rate_bp,
                cgst_minor: tax.cgst,
                sgst_minor: tax.sgst,
                igst_minor: tax.igst,
                cess_minor: tax.cess,
                total_minor: tax.total(),
            },
        );
    }
    let total = money::sum_field("lines", lines.iter().map(|l| l.total_minor))?;
    let processed = events::purchase::PurchaseReturnProcessed {
        tenant_id: tenant,
        return_id: id,
        debit_note_number: number.clone(),
        grn_id: body.grn_id,
        vendor_id,
        location_id,
        place_of_supply: Some(place.clone()),
        currency: code.clone(),
        lines,
        total_minor: total,
        reason: reason.to_owned(),
        returned_by: principal.user,
        returned_at: bazaar_schemas::now_millis(),
    };
    store::purchase_return::record(&mut tx, &processed).await?;
    // Keyed by the order, as the topic is: after the receipt it sends goods back from.
    event(&mut tx, tenant, order, &processed).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Return {
            id,
            number,
            grn_id: body.grn_id,
            total: Money::new(total, money::stored_currency(&code)?),
        }),
    ))
}

// ---------------------------------------------------------------- vendor pricing

/// `vendor_id` and/or `product_id`.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct PricingQuery {
    vendor_id: Option<Uuid>,
    product_id: Option<Uuid>,
}

/// Contracted and last purchase prices per vendor and product.
#[utoipa::path(get, path = "/api/v1/purchases/vendor-pricing", tag = "purchase",
    params(PricingQuery, Page), security(("bearer" = [])),
    responses((status = 200, body = Vec<VendorPrice>)))]
async fn vendor_pricing(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(query): Query<PricingQuery>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<VendorPrice>>, ApiError> {
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let filter = (query.vendor_id, query.product_id);
    let rows = store::vendor_prices(
        &mut tx,
        principal.tenant,
        filter,
        (page.limit(), page.offset()),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// A contracted price.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewVendorPrice {
    vendor_id: Uuid,
    product_id: Option<Uuid>,
    sku: Option<String>,
    /// Before GST, in the vendor's currency.
    #[schema(value_type = Object)]
    unit_price: Money,
    valid_until: Option<NaiveDate>,
}

/// Sets a vendor's contracted price for a product. Owner or admin.
#[utoipa::path(put, path = "/api/v1/purchases/vendor-pricing", tag = "purchase",
    request_body = NewVendorPrice, security(("bearer" = [])),
    responses((status = 200, body = Vec<VendorPrice>),
              (status = 404, description = "`unknown_vendor`, `unknown_product`, `unknown_location` (not a location of a store the caller runs)"),
              (status = 422, description = "`negative_price`, `currency_mismatch`, `product_required`")))]
async fn set_vendor_price(
    State(pool): State<PgPool>,
    principal: Principal,
    Json(body): Json<NewVendorPrice>,
) -> Result<Json<Vec<VendorPrice>>, ApiError> {
    if body.unit_price.amount_minor < 0 {
        return Err(Invalid::new("unit_price", Code::NegativePrice, "cannot be negative").into());
    }
    money::amount_field("unit_price", body.unit_price.amount_minor)?;
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let vendor = vendor(&mut tx, tenant, body.vendor_id).await?;
    if body.unit_price.currency.code() != vendor.currency {
        return Err(Invalid::new(
            "unit_price",
            PlatformCode::CurrencyMismatch,
            format!("the vendor invoices in {}", vendor.currency),
        )
        .into());
    }
    let product = product(
        &mut tx,
        tenant,
        body.product_id,
        body.sku.as_deref(),
        "product",
    )
    .await?;
    let price = (body.unit_price.amount_minor, body.valid_until);
    store::set_vendor_price(
        &mut tx,
        tenant,
        (vendor.id, product.id),
        price,
        principal.user,
    )
    .await?;
    tx.commit().await?;
    vendor_pricing(
        State(pool),
        principal,
        Query(PricingQuery {
            vendor_id: Some(vendor.id),
            product_id: Some(product.id),
        }),
        Query(Page::default()),
    )
    .await
}

// ---------------------------------------------------------------- reorder suggestions

/// Where, and how many days of sales to cover.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct ReorderQuery {
    location_id: Uuid,
    /// Days of recent sales to order for (default 30, 1 to 180).
    cover_days: Option<u32>,
}

/// A product to reorder.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Suggestion {
    product_id: Uuid,
    sku: String,
    on_hand: String,
    reorder_level: String,
    /// Average daily sales over the last 30 days.
    daily_sales: String,
    suggested_quantity: String,
    /// The vendor with the best recent (90 days) or contracted price.
    vendor_id: Option<Uuid>,
    unit_price_minor: Option<i64>,
}

/// Products at a location below their reorder level, with how much to order (recent
/// sales velocity over `cover_days`, at least back to twice the level) and the vendor
/// with the best recent price.
#[utoipa::path(get, path = "/api/v1/purchases/reorder-suggestions", tag = "purchase",
    params(ReorderQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Suggestion>), (status = 400, description = "`invalid_query`"),
              (status = 404, description = "`unknown_location` (not a location of a store the caller runs)")))]
async fn reorder_suggestions(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(query): Query<ReorderQuery>,
) -> Result<Json<Vec<Suggestion>>, ApiError> {
    let cover = query.cover_days.unwrap_or(30);
    if !(1..=180).contains(&cover) {
        return Err(ApiError::new(
            PlatformCode::InvalidQuery,
            "cover_days: 1 to 180",
        ));
    }
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    if !store::reaches_location(&mut tx, &principal, query.location_id).await? {
        return Err(unknown_location(query.location_id));
    }
    let low = store::below_reorder_level(&mut tx, tenant, query.location_id).await?;
    let mut suggestions = Vec::new();
    for (product, sku, decimals, on_hand, level, daily) in low {
        let best = store::best_offer(&mut tx, tenant, product).await?;
        let quantity =
            domain::suggested_quantity(on_hand, level, daily, cover, decimals.max(0) as u32);
        suggestions.push(Suggestion {
            product_id: product,
            sku,
            on_hand: text(on_hand),
            reorder_level: text(level),
            daily_sales: text(daily.round_dp(3)),
            suggested_quantity: text(quantity),
            vendor_id: best.map(|b| b.0),
            unit_price_minor: best.map(|b| b.1),
        });
    }
    tx.commit().await?;
    Ok(Json(suggestions))
}
