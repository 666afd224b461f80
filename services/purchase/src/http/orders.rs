//! Purchase orders and goods receipts over HTTP: each handler extracts, asks the order
//! (`domain::purchase_order`), saves what it decided (`store::purchase_order`), commits and
//! answers.

use axum::{extract::State, http::StatusCode};
use bazaar_platform::http::PlatformCode;
use bazaar_platform::{
    auth::Principal,
    db,
    http::{ApiError, Invalid, Json, Page, Path, Query},
};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{product, quantity, unknown_location, vendor};
use crate::Code;
use crate::{
    domain::{
        self,
        purchase_order::{self, Command, Delivery, Draft, DraftLine, OrderError, PurchaseOrder},
    },
    store::{
        self,
        purchase_order::{Order, StoreError},
    },
};

impl From<OrderError> for ApiError {
    fn from(err: OrderError) -> Self {
        match err {
            OrderError::WrongStatus { .. } => ApiError::new(err.code(), err.to_string()),
            OrderError::Invalid(invalid) => invalid.into(),
            OrderError::Corrupt(_) => ApiError::internal(err),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Database(err) => err.into(),
            StoreError::Outbox(err) => err.into(),
            StoreError::Corrupt(err) => err.into(),
        }
    }
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::not_found(format!("no purchase order {id}"))
}

/// The order `id` as its decisions need it, locked, if `principal` reaches it: another
/// store's order is not found, like another tenant's.
async fn reachable(
    tx: &mut PgConnection,
    principal: &Principal,
    id: Uuid,
) -> Result<PurchaseOrder, ApiError> {
    let order = store::purchase_order::load(tx, principal.tenant, id, true)
        .await?
        .ok_or_else(|| not_found(id))?;
    if store::store_scope(principal).is_some()
        && !store::reaches_location(tx, principal, order.location_id).await?
    {
        return Err(not_found(id));
    }
    Ok(order)
}

/// The order `id` as the API shows it, if `principal` reaches it.
pub(super) async fn shown(
    tx: &mut PgConnection,
    principal: &Principal,
    id: Uuid,
) -> Result<Order, ApiError> {
    let order = store::purchase_order::view(tx, principal.tenant, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    if store::store_scope(principal).is_some()
        && !store::reaches_location(tx, principal, order.location_id).await?
    {
        return Err(not_found(id));
    }
    Ok(order)
}

/// Decides `command` for the order `id`, saves what it raised and answers with the order
/// afterwards.
async fn decided(
    pool: &PgPool,
    principal: &Principal,
    id: Uuid,
    command: Command,
) -> Result<Json<Order>, ApiError> {
    let mut tx = db::begin_for_tenant(pool, principal.tenant).await?;
    let mut order = reachable(&mut tx, principal, id).await?;
    let events = order.decide(command)?;
    for event in &events {
        order.apply(event)?;
    }
    store::purchase_order::save(&mut tx, &order, &events).await?;
    let shown = shown(&mut tx, principal, id).await?;
    tx.commit().await?;
    Ok(Json(shown))
}

/// A purchase order to draft.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOrder {
    vendor_id: Uuid,
    /// The inventory location the goods go to.
    location_id: Uuid,
    /// GST state code of that location.
    place_of_supply: String,
    expected_on: Option<NaiveDate>,
    lines: Vec<NewOrderLine>,
}

/// One product to order.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOrderLine {
    product_id: Option<Uuid>,
    sku: Option<String>,
    quantity: String,
    /// Before GST; default: the vendor's contracted price, else the last price paid.
    unit_price_minor: Option<i64>,
}

/// Drafts a purchase order. Owner, admin or store manager. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/purchase-orders", tag = "purchase", request_body = NewOrder,
    security(("bearer" = [])),
    responses((status = 201, body = Order),
              (status = 404, description = "`unknown_vendor`, `unknown_product`, `unknown_location` (not a location of a store the caller runs)"),
              (status = 409, description = "`product_archived`"),
              (status = 422, description = "`no_lines`, `invalid_quantity`, `price_required`, \
                 `invalid_state_code`, `duplicate_line`, `product_required`")))]
pub(super) async fn create_order(
    State(pool): State<PgPool>,
    principal: Principal,
    Json(body): Json<NewOrder>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    bazaar_platform::http::line_count("lines", body.lines.len())?;
    let place = body.place_of_supply.trim();
    if place.len() != 2
        || !place.bytes().all(|b| b.is_ascii_digit())
        || !("01".."39").contains(&place) && place != "97"
    {
        return Err(Invalid::new(
            "place_of_supply",
            PlatformCode::InvalidStateCode,
            "a GST state code, 01 to 38 or 97",
        )
        .into());
    }
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    // Another store's or tenant's location is not told apart from no location.
    if !store::reaches_location(&mut tx, &principal, body.location_id).await? {
        return Err(unknown_location(body.location_id));
    }
    let vendor = vendor(&mut tx, tenant, body.vendor_id).await?;
    let intra = vendor.state_code == place;
    let mut lines: Vec<DraftLine> = Vec::with_capacity(body.lines.len());
    let mut places: Vec<(Uuid, u32)> = Vec::with_capacity(body.lines.len());
    for (index, line) in body.lines.iter().enumerate() {
        let field = format!("lines[{index}]");
        let product = product(
            &mut tx,
            tenant,
            line.product_id,
            line.sku.as_deref(),
            &field,
        )
        .await?;
        if product.archived {
            return Err(ApiError::new(
                Code::ProductArchived,
                format!("{} is archived", product.sku),
            ));
        }
        if lines.iter().any(|l| l.product_id == product.id) {
            return Err(Invalid::new(
                field,
                Code::DuplicateLine,
                format!("{} is on two lines", product.sku),
            )
            .into());
        }
        let quantity = quantity(
            &format!("{field}.quantity"),
            &line.quantity,
            product.unit_decimals,
        )?;
        let price = match line.unit_price_minor {
            Some(p) if p < 0 => {
                return Err(Invalid::new(
                    format!("{field}.unit_price_minor"),
                    Code::NegativePrice,
                    "cannot be negative",
                )
                .into())
            }
            Some(p) => p,
            None => store::default_price(&mut tx, tenant, vendor.id, product.id)
                .await?
                .ok_or_else(|| {
                    Invalid::new(
                        format!("{field}.unit_price_minor"),
                        Code::PriceRequired,
                        format!("no contracted or earlier price for {}", product.sku),
                    )
                })?,
        };
        let tax = domain::line_tax(
            &field,
            quantity,
            price,
            product.gst_rate_bp,
            product.cess_rate_bp,
            intra,
        )?;
        places.push((product.id, product.unit_decimals.max(0) as u32));
        lines.push(DraftLine {
            product_id: product.id,
            sku: product.sku,
            quantity,
            unit_price_minor: price,
            gst_rate_bp: product.gst_rate_bp,
            cess_rate_bp: product.cess_rate_bp,
            tax,
        });
    }
    let id = Uuid::now_v7();
    let created = purchase_order::create(Draft {
        tenant_id: tenant,
        id,
        number: store::next_number(&mut tx, tenant, "PO").await?,
        vendor_id: vendor.id,
        location_id: body.location_id,
        place_of_supply: place.to_owned(),
        currency: vendor.currency,
        expected_on: body.expected_on,
        lines,
        by: principal.user,
        at: bazaar_schemas::now_millis(),
    })?;
    let purchase_order::Event::Created(facts) = &created else {
        unreachable!("create raises purchase.po.created")
    };
    let order = PurchaseOrder::created(facts, |product| {
        places.iter().find(|p| p.0 == product).map_or(0, |p| p.1)
    })?;
    store::purchase_order::save(&mut tx, &order, &[created]).await?;
    let shown = shown(&mut tx, &principal, id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(shown)))
}

/// One purchase order with its lines.
#[utoipa::path(get, path = "/api/v1/purchase-orders/{id}", tag = "purchase",
    security(("bearer" = [])),
    responses((status = 200, body = Order), (status = 404, description = "`not_found`")))]
pub(super) async fn get_order(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Order>, ApiError> {
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let found = shown(&mut tx, &principal, id).await?;
    tx.commit().await?;
    Ok(Json(found))
}

/// `status` and `vendor_id` filters.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct OrderQuery {
    status: Option<String>,
    vendor_id: Option<Uuid>,
}

/// Purchase orders, newest first.
#[utoipa::path(get, path = "/api/v1/purchase-orders", tag = "purchase",
    params(OrderQuery, Page), security(("bearer" = [])),
    responses((status = 200, body = Vec<Order>)))]
pub(super) async fn list_orders(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(query): Query<OrderQuery>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<Order>>, ApiError> {
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let ids = store::purchase_order::list(
        &mut tx,
        principal.tenant,
        query.status.as_deref(),
        query.vendor_id,
        store::store_scope(&principal),
        page.limit(),
        page.offset(),
    )
    .await?;
    let mut orders = Vec::with_capacity(ids.len());
    for id in ids {
        orders.push(shown(&mut tx, &principal, id).await?);
    }
    tx.commit().await?;
    Ok(Json(orders))
}

/// Why an order was cancelled or closed.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reason {
    reason: String,
}

/// Approves a draft order: goods may now be received against it. Owner or admin.
#[utoipa::path(post, path = "/api/v1/purchase-orders/{id}/approve", tag = "purchase",
    security(("bearer" = [])),
    responses((status = 200, body = Order), (status = 403, description = "`forbidden`"),
              (status = 404, description = "`not_found`"),
              (status = 409, description = "`invalid_po_status`")))]
pub(super) async fn approve_order(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Order>, ApiError> {
    let approve = Command::Approve {
        by: principal.user,
        at: bazaar_schemas::now_millis(),
    };
    decided(&pool, &principal, id, approve).await
}

/// Cancels an order nothing has been received against.
#[utoipa::path(post, path = "/api/v1/purchase-orders/{id}/cancel", tag = "purchase",
    request_body = Reason, security(("bearer" = [])),
    responses((status = 200, body = Order), (status = 404, description = "`not_found`"),
              (status = 409, description = "`invalid_po_status`"),
              (status = 422, description = "`invalid_text`")))]
pub(super) async fn cancel_order(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<Reason>,
) -> Result<Json<Order>, ApiError> {
    let cancel = Command::Cancel {
        reason: body.reason,
        by: principal.user,
        at: bazaar_schemas::now_millis(),
    };
    decided(&pool, &principal, id, cancel).await
}

/// Closes a partially received order: the rest will not come.
#[utoipa::path(post, path = "/api/v1/purchase-orders/{id}/close", tag = "purchase",
    request_body = Reason, security(("bearer" = [])),
    responses((status = 200, body = Order), (status = 404, description = "`not_found`"),
              (status = 409, description = "`invalid_po_status`"),
              (status = 422, description = "`invalid_text`")))]
pub(super) async fn close_order(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<Reason>,
) -> Result<Json<Order>, ApiError> {
    let close = Command::Close {
        reason: body.reason,
        by: principal.user,
        at: bazaar_schemas::now_millis(),
    };
    decided(&pool, &principal, id, close).await
}

/// What arrived against an order.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Receipt {
    lines: Vec<ReceiptLine>,
}

/// One order line's delivery.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReceiptLine {
    line_no: i32,
    /// Accepted into stock.
    quantity_received: String,
    /// Refused at the door; needs a reason.
    quantity_rejected: Option<String>,
    rejection_reason: Option<String>,
    batch: Option<String>,
    expiry_date: Option<NaiveDate>,
}

/// A goods receipt note.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Grn {
    id: Uuid,
    number: String,
    po_id: Uuid,
    /// The order's status after this receipt.
    po_status: String,
}

/// Receives goods against an approved order: accepted quantities go into stock (through
/// inventory, from `purchase.grn.received`) at the order's price; more than 5 % over the
/// order is refused. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/purchase-orders/{id}/grns", tag = "purchase",
    request_body = Receipt, security(("bearer" = [])),
    responses((status = 201, body = Grn), (status = 404, description = "`not_found`"),
              (status = 409, description = "`invalid_po_status` (draft, cancelled, closed...)"),
              (status = 422, description = "`over_receipt`, `unknown_line`, `invalid_quantity`, \
                 `rejection_reason_required`, `batch_expired`, `no_lines`")))]
pub(super) async fn receive_goods(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<Receipt>,
) -> Result<(StatusCode, Json<Grn>), ApiError> {
    bazaar_platform::http::line_count("lines", body.lines.len())?;
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let mut order = reachable(&mut tx, &principal, id).await?;
    let grn = Uuid::now_v7();
    let number = store::next_number(&mut tx, principal.tenant, "GRN").await?;
    let receipt = purchase_order::Receipt {
        grn_id: grn,
        grn_number: number.clone(),
        today: Utc::now().date_naive(),
        lines: body
            .lines
            .into_iter()
            .map(|l| Delivery {
                line_no: l.line_no,
                quantity_received: l.quantity_received,
                quantity_rejected: l.quantity_rejected,
                rejection_reason: l.rejection_reason,
                batch: l.batch.unwrap_or_default(),
                expiry_date: l.expiry_date,
            })
            .collect(),
        by: principal.user,
        at: bazaar_schemas::now_millis(),
    };
    let events = order.decide(Command::Receive(receipt))?;
    for event in &events {
        order.apply(event)?;
    }
    store::purchase_order::save(&mut tx, &order, &events).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Grn {
            id: grn,
            number,
            po_id: id,
            po_status: order.status.code().to_owned(),
        }),
    ))
}
