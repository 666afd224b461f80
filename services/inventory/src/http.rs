//! Inventory's HTTP API: locations, stock, the ledger, adjustments, transfers,
//! reservations, counts and the alert reports.

use bazaar_platform::ids::ProductId;
use bazaar_schemas::events;
use std::collections::BTreeMap;

use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Router,
};
use bazaar_platform::{
    auth::{self, Principal, Role, Stores},
    db,
    http::{idempotency, ApiError, Invalid, Json, Page, Path, Query},
    money::{Currency, Money},
    outbox, stores,
};
use chrono::{Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::Code;
use crate::{
    domain::{
        self,
        transfer::{self, Arrival, Refusal, Status as TransferStatus},
        Reason,
    },
    ledger::{self, decimal_text, item_key, Kind, LedgerError, Movement, Product},
    store::{self, Location, MovementRow, NewLocation, Transfer, TransferLineView},
};
use bazaar_platform::http::PlatformCode;

/// Who sets up locations.
const ADMINS: &[Role] = &[Role::Owner, Role::Admin];
/// Who moves stock by hand: adjustments, transfers, counts.
const STOCK_KEEPERS: &[Role] = &[Role::Owner, Role::Admin, Role::StoreManager];
/// Who holds stock for a sale.
const SELLERS: &[Role] = &[Role::Owner, Role::Admin, Role::StoreManager, Role::Cashier];
/// Who reads stock.
const ANYONE: &[Role] = Role::ALL;

/// Inventory's routes; each names the roles it admits.
pub fn router(ctx: bazaar_platform::ServiceContext) -> Router {
    let pool = ctx.pool;
    let v = &ctx.verifier;
    let create = |route, roles| idempotency::creating(route, &pool, v, roles);
    Router::new()
        .route(
            "/api/v1/inventory/locations",
            get(list_locations)
                .route_layer(auth::allow(v, ANYONE))
                .merge(create(post(create_location), ADMINS)),
        )
        .route(
            "/api/v1/inventory/stock",
            get(list_stock).route_layer(auth::allow(v, ANYONE)),
        )
        .route(
            "/api/v1/inventory/movements",
            get(list_movements).route_layer(auth::allow(v, ANYONE)),
        )
        .route(
            "/api/v1/inventory/adjust",
            create(post(adjust), STOCK_KEEPERS),
        )
        .route(
            "/api/v1/inventory/transfer",
            create(post(dispatch_transfer), STOCK_KEEPERS),
        )
        .route(
            "/api/v1/inventory/transfers/{id}",
            get(get_transfer).route_layer(auth::allow(v, ANYONE)),
        )
        .route(
            "/api/v1/inventory/transfers/{id}/receive",
            create(post(receive_transfer), STOCK_KEEPERS),
        )
        .route(
            "/api/v1/inventory/reservations",
            create(post(reserve), SELLERS),
        )
        .route(
            "/api/v1/inventory/reservations/{id}/release",
            post(release_reservation).route_layer(auth::allow(v, SELLERS)),
        )
        .route(
            "/api/v1/inventory/reconcile",
            create(post(reconcile), STOCK_KEEPERS),
        )
        .route(
            "/api/v1/inventory/expiry-alerts",
            get(expiry_alerts).route_layer(auth::allow(v, ANYONE)),
        )
        .route(
            "/api/v1/inventory/dead-stock",
            get(dead_stock).route_layer(auth::allow(v, ANYONE)),
        )
        .with_state(pool.clone())
}

/// Inventory's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(list_locations, create_location, list_stock, list_movements, adjust,
          dispatch_transfer, get_transfer, receive_transfer, reserve, release_reservation,
          reconcile, expiry_alerts, dead_stock),
    components(schemas(Location, NewLocationBody, StockItem, BatchItem, MovementRow,
                        Adjustment, AdjustmentDone, NewTransfer, TransferLineBody, Transfer,
                        TransferLineView, Receipt, ReceiptLine, NewReservation, ReservationLine,
                        Reservation, Count, CountLine, Counted, CountedLine, ExpiringBatch,
                        DeadStock)),
    tags((name = "inventory", description = "Stock per location and batch, and what moves it"))
)]
pub struct InventoryApi;

impl From<LedgerError> for ApiError {
    fn from(err: LedgerError) -> Self {
        ApiError::internal(err)
    }
}

type Tx = Transaction<'static, Postgres>;

fn unknown_location(id: Uuid, field: &str) -> ApiError {
    ApiError::new(Code::UnknownLocation, format!("{field}: no location {id}"))
}

/// True when the user may see and move the location's stock: a store in their list, or
/// any location for users of every store.
fn reaches(principal: &Principal, location: &Location) -> bool {
    match location.store_id {
        Some(store) => principal.reaches_store(store),
        None => matches!(principal.stores, Stores::All(_)),
    }
}

/// A location the user reaches; others answer 404 as if they did not exist.
async fn reachable(
    tx: &mut PgConnection,
    principal: &Principal,
    id: Uuid,
    field: &str,
) -> Result<Location, ApiError> {
    store::location(tx, principal.tenant, id)
        .await?
        .filter(|l| reaches(principal, l))
        .ok_or_else(|| unknown_location(id, field))
}

/// The locations a report covers: the one asked for, or every one the user reaches.
async fn report_scope(
    tx: &mut PgConnection,
    principal: &Principal,
    location: Option<Uuid>,
) -> Result<Vec<Uuid>, ApiError> {
    if let Some(id) = location {
        return Ok(vec![reachable(tx, principal, id, "location_id")
            .await?
            .id
            .uuid()]);
    }
    Ok(store::locations(tx, principal.tenant, i64::MAX, 0)
        .await?
        .into_iter()
        .filter(|l| reaches(principal, l))
        .map(|l| l.id.uuid())
        .collect())
}

/// The product a line names by `product_id` or `sku` (exactly one).
async fn resolve(
    tx: &mut PgConnection,
    tenant: Uuid,
    product_id: Option<Uuid>,
    sku: Option<&str>,
    field: &str,
) -> Result<Product, ApiError> {
    let found = match (product_id, sku) {
        (Some(id), None) => store::product(tx, tenant, id).await?,
        (None, Some(sku)) => store::product_by_sku(tx, tenant, sku.trim()).await?,
        _ => None,
    };
    identified(found, product_id, sku, field)
}

/// The product a line named by `product_id` or `sku`, exactly one of them, if found.
fn identified(
    found: Option<Product>,
    product_id: Option<Uuid>,
    sku: Option<&str>,
    field: &str,
) -> Result<Product, ApiError> {
    if product_id.is_some() == sku.is_some() {
        return Err(Invalid::new(
            field,
            Code::ProductRequired,
            "give either product_id or sku",
        )
        .into());
    }
    found.ok_or_else(|| {
        let named = product_id.map_or_else(
            || format!("SKU {:?}", sku.unwrap_or("")),
            |id| id.to_string(),
        );
        ApiError::new(Code::UnknownProduct, format!("{field}: no product {named}"))
    })
}

fn not_archived(product: &Product) -> Result<(), ApiError> {
    if product.archived {
        return Err(ApiError::new(
            Code::ProductArchived,
            format!(
                "{} is archived: it is no longer received or sold",
                product.sku
            ),
        ));
    }
    Ok(())
}

fn insufficient(product: &Product, available: Decimal, wanted: Decimal) -> ApiError {
    ApiError::new(
        Code::InsufficientStock,
        format!(
            "{}: {} available, {} wanted",
            product.sku,
            decimal_text(available),
            decimal_text(wanted)
        ),
    )
}

/// What taking `quantity` out takes, batch by batch: from `batch` when one is named,
/// otherwise first-expiry-first-out. Refused (409 `insufficient_stock`) beyond what is
/// available, on hand less live reservations, unless `allow_negative`.
async fn take_out(
    tx: &mut PgConnection,
    tenant: Uuid,
    location: &Location,
    product: &Product,
    batch: &str,
    quantity: Decimal,
    allow_negative: bool,
) -> Result<Vec<domain::BatchStock>, ApiError> {
    let level = ledger::lock_level(tx, tenant, location.id, product.id).await?;
    let held = ledger::reserved(tx, tenant, location.id, product.id, None).await?;
    let mut stock = ledger::batches(tx, tenant, location.id, product.id).await?;
    if !batch.is_empty() {
        stock.retain(|b| b.batch == batch);
        let in_batch = stock.first().map_or(Decimal::ZERO, |b| b.on_hand);
        if in_batch < quantity && !allow_negative {
            return Err(insufficient(product, in_batch, quantity));
        }
    }
    if level.on_hand - held < quantity && !allow_negative {
        return Err(insufficient(product, level.on_hand - held, quantity));
    }
    Ok(if batch.is_empty() {
        domain::draw(&stock, quantity)
    } else {
        vec![domain::BatchStock {
            batch: batch.to_owned(),
            expiry: stock.first().and_then(|b| b.expiry),
            on_hand: quantity,
        }]
    })
}

fn currency_of(product: &Product) -> Result<Currency, ApiError> {
    Currency::from_code(&product.currency).map_err(ApiError::internal)
}

/// The unit cost a request states, in the product's currency.
fn stated_cost(
    product: &Product,
    cost: Option<Money>,
    field: &str,
) -> Result<Option<Decimal>, ApiError> {
    let Some(cost) = cost else { return Ok(None) };
    if cost.currency.code() != product.currency {
        return Err(Invalid::new(
            field,
            PlatformCode::CurrencyMismatch,
            format!("{} is costed in {}", product.sku, product.currency),
        )
        .into());
    }
    if cost.amount_minor < 0 {
        return Err(Invalid::new(field, Code::NegativeCost, "cannot be negative").into());
    }
    bazaar_platform::money::amount_field(field, cost.amount_minor)?;
    Ok(Some(Decimal::from(cost.amount_minor)))
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

// ---------------------------------------------------------------- locations

/// A new location.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewLocationBody {
    /// 1 to 16 capitals, digits, `-` or `_`.
    code: String,
    name: String,
    /// `store` or `warehouse`.
    kind: String,
    /// For a store: the id identity gave the store.
    store_id: Option<Uuid>,
    #[serde(default)]
    allows_negative_stock: bool,
}

/// The locations the user reaches.
#[utoipa::path(get, path = "/api/v1/inventory/locations", tag = "inventory", params(Page),
    security(("bearer" = [])), responses((status = 200, body = Vec<Location>)))]
async fn list_locations(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(page): Query<Page>,
) -> Result<Json<Vec<Location>>, ApiError> {
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let locations = store::locations(&mut tx, principal.tenant, page.limit(), page.offset())
        .await?
        .into_iter()
        .filter(|l| reaches(&principal, l))
        .collect();
    tx.commit().await?;
    Ok(Json(locations))
}

/// Adds a store or warehouse. Owner or admin; a store location names one of the tenant's
/// stores within the caller's reach (else 404 `unknown_store`), a warehouse needs access
/// to every store. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/inventory/locations", tag = "inventory",
    request_body = NewLocationBody, security(("bearer" = [])),
    responses((status = 201, body = Location),
              (status = 403, description = "`reach_beyond_own` (a warehouse, by a user of some stores)"),
              (status = 404, description = "`unknown_store`"),
              (status = 409, description = "`location_exists` (code or store taken)"),
              (status = 422, description = "`invalid_code`, `invalid_kind`, `store_id_required`, `invalid_text`, `store_id_not_allowed`")))]
async fn create_location(
    State(pool): State<PgPool>,
    principal: Principal,
    Json(new): Json<NewLocationBody>,
) -> Result<(StatusCode, Json<Location>), ApiError> {
    let code = new.code.trim();
    let code_ok = (1..=16).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !code.starts_with(['-', '_']);
    if !code_ok {
        return Err(Invalid::new(
            "code",
            Code::InvalidCode,
            "1 to 16 capitals, digits, - or _",
        )
        .into());
    }
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Invalid::new("name", Code::InvalidText, "1 to 100 characters").into());
    }
    match (new.kind.as_str(), new.store_id) {
        ("store", None) => {
            return Err(Invalid::new(
                "store_id",
                Code::StoreIdRequired,
                "a store location names its store",
            )
            .into())
        }
        ("warehouse", Some(_)) => {
            return Err(Invalid::new(
                "store_id",
                Code::StoreIdNotAllowed,
                "a warehouse is not a store",
            )
            .into())
        }
        ("store" | "warehouse", _) => {}
        (other, _) => {
            return Err(Invalid::new(
                "kind",
                Code::InvalidKind,
                format!("{other:?}: use store or warehouse"),
            )
            .into())
        }
    }
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    match new.store_id {
        Some(store) => stores::require(&mut tx, &principal, store, "store_id").await?,
        // A warehouse serves every store: only a user of every store adds one, as they
        // alone would see it afterwards.
        None if !matches!(principal.stores, Stores::All(_)) => {
            return Err(ApiError::new(
                Code::ReachBeyondOwn,
                "a warehouse serves every store: adding one needs access to every store",
            ))
        }
        None => {}
    }
    let location = store::insert_location(
        &mut tx,
        principal.tenant,
        &NewLocation {
            code,
            name,
            kind: &new.kind,
            store_id: new.store_id,
            allows_negative_stock: new.allows_negative_stock,
        },
    )
    .await?
    .ok_or_else(|| {
        ApiError::new(
            Code::LocationExists,
            format!("location {code} (or its store) exists"),
        )
    })?;
    store::register_tenant(&mut tx, principal.tenant).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(location)))
}

// ---------------------------------------------------------------- stock

/// A location's stock of one product.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct StockItem {
    /// Where.
    pub location_id: Uuid,
    /// What.
    pub product_id: Uuid,
    /// Its SKU.
    pub sku: String,
    /// On hand, all batches.
    pub on_hand: String,
    /// Held by live reservations.
    pub reserved: String,
    /// On hand less reserved.
    pub available: String,
    /// Moving-average unit cost, minor units with four decimals.
    pub average_cost_minor: String,
    /// On hand at the average cost.
    #[schema(value_type = Object)]
    pub stock_value: Money,
    /// The product's reorder level.
    pub reorder_level: Option<String>,
    /// Available is below the reorder level.
    pub low_stock: bool,
    /// By batch, soonest expiry first.
    pub batches: Vec<BatchItem>,
}

/// One batch's stock.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct BatchItem {
    /// Batch number; empty for unbatched stock.
    pub batch: String,
    /// Its expiry date.
    pub expiry_date: Option<NaiveDate>,
    /// On hand.
    pub on_hand: String,
}

/// Filters of the stock report.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct StockQuery {
    location_id: Option<Uuid>,
    product_id: Option<Uuid>,
    sku: Option<String>,
}

/// Stock per location and product, with batches. A store manager sees their stores.
#[utoipa::path(get, path = "/api/v1/inventory/stock", tag = "inventory",
    params(StockQuery, Page), security(("bearer" = [])),
    responses((status = 200, body = Vec<StockItem>),
              (status = 404, description = "`unknown_location`, `unknown_product`")))]
async fn list_stock(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(query): Query<StockQuery>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<StockItem>>, ApiError> {
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let scope = report_scope(&mut tx, &principal, query.location_id).await?;
    let product = match (query.product_id, query.sku.as_deref()) {
        (None, None) => None,
        (id, sku) => Some(resolve(&mut tx, tenant, id, sku, "query").await?.id),
    };
    let rows = store::stock(
        &mut tx,
        tenant,
        &scope,
        product,
        page.limit(),
        page.offset(),
    )
    .await?;
    let products: Vec<Uuid> = rows.iter().map(|r| r.product_id).collect();
    let mut batches: BTreeMap<(Uuid, Uuid), Vec<BatchItem>> = BTreeMap::new();
    for b in store::batches_of(&mut tx, tenant, &scope, &products).await? {
        batches
            .entry((b.location_id, b.product_id))
            .or_default()
            .push(BatchItem {
                batch: b.batch,
                expiry_date: b.expiry_date,
                on_hand: decimal_text(b.on_hand),
            });
    }
    tx.commit().await?;
    let items = rows
        .into_iter()
        .map(|r| {
            let available = r.on_hand - r.reserved;
            let currency = r.currency;
            StockItem {
                batches: batches
                    .remove(&(r.location_id, r.product_id))
                    .unwrap_or_default(),
                location_id: r.location_id,
                product_id: r.product_id,
                on_hand: decimal_text(r.on_hand),
                reserved: decimal_text(r.reserved),
                available: decimal_text(available),
                average_cost_minor: decimal_text(r.average_cost_minor),
                stock_value: Money::new(r.value_minor, currency),
                low_stock: r.reorder_level.is_some_and(|level| available < level),
                reorder_level: r.reorder_level.map(decimal_text),
                sku: r.sku,
            }
        })
        .collect();
    Ok(Json(items))
}

/// Filters of the ledger.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct MovementQuery {
    location_id: Option<Uuid>,
    product_id: Option<Uuid>,
}

/// The stock ledger, newest first.
#[utoipa::path(get, path = "/api/v1/inventory/movements", tag = "inventory",
    params(MovementQuery, Page), security(("bearer" = [])),
    responses((status = 200, body = Vec<MovementRow>),
              (status = 404, description = "`unknown_location`")))]
async fn list_movements(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(query): Query<MovementQuery>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<MovementRow>>, ApiError> {
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let scope = report_scope(&mut tx, &principal, query.location_id).await?;
    let rows = store::movements(
        &mut tx,
        principal.tenant,
        &scope,
        query.product_id.map(ProductId::from),
        page.limit(),
        page.offset(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(rows))
}

// ---------------------------------------------------------------- adjustments

/// An adjustment of one product's stock at a location.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Adjustment {
    location_id: Uuid,
    product_id: Option<Uuid>,
    sku: Option<String>,
    /// Positive; the reason says which way: `damage`, `theft`, `expiry_write_off` remove
    /// stock, `found` and `opening_stock` add it.
    quantity: String,
    reason: String,
    /// The batch to adjust; removals without one draw first-expiry first-out.
    batch: Option<String>,
    /// For stock coming in with a batch.
    expiry_date: Option<NaiveDate>,
    /// Cost per unit of stock coming in; required for `opening_stock`, `found` defaults
    /// to the moving average.
    #[schema(value_type = Option<Object>)]
    unit_cost: Option<Money>,
    note: Option<String>,
}

/// What an adjustment did.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct AdjustmentDone {
    /// The adjustment (the reference of its movements).
    pub adjustment_id: Uuid,
    /// Its movements, one per batch.
    pub movements: Vec<Uuid>,
    /// On hand afterwards.
    pub on_hand: String,
    /// Value at cost, signed.
    #[schema(value_type = Object)]
    pub value: Money,
}

/// Adjusts stock with a reason code. Removals cannot exceed available stock unless the
/// location allows negative stock; write-offs are audited. Owner, admin or the store's
/// manager. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/inventory/adjust", tag = "inventory",
    request_body = Adjustment, security(("bearer" = [])),
    responses((status = 201, body = AdjustmentDone),
              (status = 404, description = "`unknown_location`, `unknown_product`"),
              (status = 409, description = "`insufficient_stock`, `product_archived`"),
              (status = 422, description = "`invalid_quantity`, `too_many_decimals`, \
                  `unknown_reason`, `batch_expired`, `unit_cost_required`, `currency_mismatch`, `invalid_batch`, `negative_cost`, `product_required`")))]
async fn adjust(
    State(pool): State<PgPool>,
    principal: Principal,
    Json(body): Json<Adjustment>,
) -> Result<(StatusCode, Json<AdjustmentDone>), ApiError> {
    let reason = Reason::parse(body.reason.trim())?;
    let batch = domain::batch("batch", body.batch.as_deref())?;
    let note = body
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let location = reachable(&mut tx, &principal, body.location_id, "location_id").await?;
    let product = resolve(
        &mut tx,
        tenant,
        body.product_id,
        body.sku.as_deref(),
        "product",
    )
    .await?;
    let quantity = domain::quantity("quantity", &body.quantity, product.unit_decimals as u32)?;
    let cost = stated_cost(&product, body.unit_cost, "unit_cost")?;
    let level = ledger::lock_level(&mut tx, tenant, location.id, product.id).await?;
    let id = Uuid::now_v7();
    let reference = || ("adjustment", id.to_string());

    let mut movements = Vec::new();
    let mut on_hand = level.on_hand;
    let mut value = 0i64;
    if reason.removes_stock() {
        let taken = take_out(
            &mut tx,
            tenant,
            &location,
            &product,
            &batch,
            quantity,
            location.allows_negative_stock,
        )
        .await?;
        for take in taken {
            let movement_id = Uuid::now_v7();
            let recorded = ledger::record(
                &mut tx,
                tenant,
                Movement {
                    id: movement_id,
                    location: location.id,
                    product: &product,
                    batch: &take.batch,
                    expiry: take.expiry,
                    kind: Kind::Adjustment,
                    quantity: -take.on_hand,
                    unit_cost: None,
                    reason: Some(reason.code()),
                    reference: reference(),
                    recorded_by: Some(principal.user),
                },
            )
            .await?;
            value += recorded.value;
            on_hand = recorded.after.on_hand;
            movements.push(movement_id);
        }
    } else {
        not_archived(&product)?;
        domain::receivable_expiry("expiry_date", body.expiry_date, today())?;
        if cost.is_none() && reason == Reason::OpeningStock {
            return Err(Invalid::new(
                "unit_cost",
                Code::UnitCostRequired,
                "opening stock states its cost",
            )
            .into());
        }
        let movement_id = Uuid::now_v7();
        let recorded = ledger::record(
            &mut tx,
            tenant,
            Movement {
                id: movement_id,
                location: location.id,
                product: &product,
                batch: &batch,
                expiry: body.expiry_date,
                kind: if reason == Reason::OpeningStock {
                    Kind::Receipt
                } else {
                    Kind::Adjustment
                },
                quantity,
                unit_cost: cost,
                reason: Some(reason.code()),
                reference: reference(),
                recorded_by: Some(principal.user),
            },
        )
        .await?;
        value = recorded.value;
        on_hand = recorded.after.on_hand;
        movements.push(movement_id);
    }

    let signed = if reason.removes_stock() {
        -quantity
    } else {
        quantity
    };
    let unit_cost = if quantity.is_zero() {
        Decimal::ZERO
    } else {
        Decimal::from(value.abs()) / quantity
    };
    let adjusted = events::inventory::StockAdjusted {
        tenant_id: tenant,
        adjustment_id: id,
        location_id: location.id.into(),
        store_id: location.store_id,
        product_id: product.id.into(),
        sku: product.sku.clone(),
        reason: reason.code().to_string(),
        quantity: decimal_text(signed),
        unit_cost_minor: decimal_text(unit_cost.round_dp(domain::COST_DECIMALS)),
        currency: product.currency.clone(),
        value_minor: value,
        note: note.map(str::to_owned),
        adjusted_by: principal.user,
        adjusted_at: bazaar_schemas::now_millis(),
    };
    let key = item_key(location.id, product.id);
    ledger::event(&mut tx, tenant, &key, &adjusted).await?;
    if reason.removes_stock() {
        let written_off = events::audit::StockWrittenOff {
            tenant_id: tenant,
            adjustment_id: id,
            location_id: location.id.into(),
            product_id: product.id.into(),
            sku: product.sku.clone(),
            reason: reason.code().to_string(),
            quantity: decimal_text(quantity),
            value_minor: value
                .checked_neg()
                .ok_or_else(|| ApiError::internal("a write-off's value does not fit"))?,
            currency: product.currency.clone(),
            note: note.map(str::to_owned),
            written_off_by: principal.user,
            written_off_at: bazaar_schemas::now_millis(),
        };
        // Audit events are keyed by tenant, like every audit event.
        ledger::event(&mut tx, tenant, &tenant.to_string(), &written_off).await?;
    }
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(AdjustmentDone {
            adjustment_id: id,
            movements,
            on_hand: decimal_text(on_hand),
            value: Money::new(value, currency_of(&product)?),
        }),
    ))
}

// ---------------------------------------------------------------- transfers

/// Stock to send from one location to another.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTransfer {
    from_location_id: Uuid,
    to_location_id: Uuid,
    reference: Option<String>,
    lines: Vec<TransferLineBody>,
}

/// One product to send.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransferLineBody {
    product_id: Option<Uuid>,
    sku: Option<String>,
    quantity: String,
    /// Send this batch; without one, batches go first-expiry first-out.
    batch: Option<String>,
}

/// Dispatches stock to another location: it leaves the source now and is in transit
/// until received. Owner, admin or the manager of both stores. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/inventory/transfer", tag = "inventory",
    request_body = NewTransfer, security(("bearer" = [])),
    responses((status = 201, body = Transfer),
              (status = 404, description = "`unknown_location`, `unknown_product`"),
              (status = 409, description = "`insufficient_stock`, `product_archived`"),
              (status = 422, description = "`same_location`, `no_lines`, `duplicate_line`, \
                  `invalid_quantity`, `too_many_decimals`, `invalid_batch`, `product_required`")))]
async fn dispatch_transfer(
    State(pool): State<PgPool>,
    principal: Principal,
    Json(body): Json<NewTransfer>,
) -> Result<(StatusCode, Json<Transfer>), ApiError> {
    if body.from_location_id == body.to_location_id {
        return Err(Invalid::new(
            "to_location_id",
            Code::SameLocation,
            "a transfer goes to another location",
        )
        .into());
    }
    bazaar_platform::http::line_count("lines", body.lines.len())?;
    let reference = body
        .reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let from = reachable(
        &mut tx,
        &principal,
        body.from_location_id,
        "from_location_id",
    )
    .await?;
    let to = reachable(&mut tx, &principal, body.to_location_id, "to_location_id").await?;
    let lines = resolve_lines(
        &mut tx,
        tenant,
        body.lines
            .iter()
            .map(|l| (l.product_id, l.sku.as_deref(), l.quantity.as_str())),
        false,
    )
    .await?;
    let mut lines: Vec<(Product, Decimal, String)> = lines
        .into_iter()
        .zip(&body.lines)
        .enumerate()
        .map(|(index, ((product, quantity), line))| {
            let batch = domain::batch(&format!("lines[{index}].batch"), line.batch.as_deref())?;
            Ok((product, quantity, batch))
        })
        .collect::<Result<_, Invalid>>()?;
    // One lock order for every multi-product writer, so two transfers never deadlock.
    lines.sort_by_key(|(product, ..)| product.id);
    let id = Uuid::now_v7();
    let dispatched_at = bazaar_schemas::now_millis();
    store::insert_transfer(
        &mut tx,
        tenant,
        id,
        (from.id.into(), to.id.into()),
        reference,
        (principal.user, dispatched_at),
    )
    .await?;
    let mut sent = Vec::new();
    for (product, quantity, batch) in &lines {
        not_archived(product)?;
        // Stock in transit cannot be negative: a transfer never borrows.
        let taken = take_out(&mut tx, tenant, &from, product, batch, *quantity, false).await?;
        for take in taken {
            let recorded = ledger::record(
                &mut tx,
                tenant,
                Movement {
                    id: Uuid::now_v7(),
                    location: from.id,
                    product,
                    batch: &take.batch,
                    expiry: take.expiry,
                    kind: Kind::TransferOut,
                    quantity: -take.on_hand,
                    unit_cost: None,
                    reason: None,
                    reference: ("transfer", id.to_string()),
                    recorded_by: Some(principal.user),
                },
            )
            .await?;
            let line = store::DispatchedLine {
                product: product.id.into(),
                batch: &take.batch,
                expiry: take.expiry,
                unit_cost: recorded.unit_cost,
                quantity: take.on_hand,
            };
            store::insert_transfer_line(&mut tx, tenant, id, line).await?;
            sent.push(events::inventory::StockTransferredTransferLine {
                product_id: product.id.into(),
                sku: product.sku.clone(),
                batch: take.batch,
                expiry_date: take.expiry.map(|d| d.to_string()),
                quantity: decimal_text(take.on_hand),
                unit_cost_minor: decimal_text(recorded.unit_cost),
            });
        }
    }
    let event = events::inventory::StockTransferred {
        tenant_id: tenant,
        transfer_id: id,
        from_location_id: from.id.into(),
        to_location_id: to.id.into(),
        reference: reference.map(str::to_owned),
        lines: sent,
        dispatched_by: principal.user,
        dispatched_at,
    };
    ledger::event(&mut tx, tenant, &id.to_string(), &event).await?;
    let transfer = store::transfer(&mut tx, tenant, id)
        .await?
        .ok_or_else(|| ApiError::internal("transfer vanished"))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(transfer)))
}

/// Resolves request lines to products and quantities; a product twice is refused.
async fn resolve_lines<'a>(
    tx: &mut PgConnection,
    tenant: Uuid,
    lines: impl Iterator<Item = (Option<Uuid>, Option<&'a str>, &'a str)>,
    zero_allowed: bool,
) -> Result<Vec<(Product, Decimal)>, ApiError> {
    let lines: Vec<_> = lines.collect();
    let ids: Vec<Option<Uuid>> = lines.iter().map(|(id, ..)| *id).collect();
    let skus: Vec<Option<&str>> = lines.iter().map(|(_, sku, _)| sku.map(str::trim)).collect();
    let found = store::products_named(tx, tenant, &ids, &skus).await?;
    let mut resolved: Vec<(Product, Decimal)> = Vec::new();
    for (index, ((id, sku, quantity), found)) in lines.into_iter().zip(found).enumerate() {
        let field = format!("lines[{index}]");
        let product = identified(found, id, sku, &field)?;
        let field = format!("{field}.quantity");
        let decimals = product.unit_decimals as u32;
        let quantity = if zero_allowed {
            domain::counted_quantity(&field, quantity, decimals)?
        } else {
            domain::quantity(&field, quantity, decimals)?
        };
        if resolved.iter().any(|(p, _)| p.id == product.id) {
            return Err(Invalid::new(
                format!("lines[{index}]"),
                Code::DuplicateLine,
                format!("{} is on two lines", product.sku),
            )
            .into());
        }
        resolved.push((product, quantity));
    }
    Ok(resolved)
}

/// A transfer seen from either end.
#[utoipa::path(get, path = "/api/v1/inventory/transfers/{id}", tag = "inventory",
    security(("bearer" = [])),
    responses((status = 200, body = Transfer), (status = 404, description = "`not_found`")))]
async fn get_transfer(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Transfer>, ApiError> {
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let found = visible_transfer(&mut tx, &principal, id).await?;
    tx.commit().await?;
    Ok(Json(found))
}

/// A transfer the user reaches at one end or the other.
async fn visible_transfer(
    tx: &mut PgConnection,
    principal: &Principal,
    id: Uuid,
) -> Result<Transfer, ApiError> {
    let missing = || ApiError::not_found(format!("no transfer {id}"));
    let found = store::transfer(tx, principal.tenant, id)
        .await?
        .ok_or_else(missing)?;
    for end in [found.from_location_id, found.to_location_id] {
        if let Some(location) = store::location(tx, principal.tenant, end).await? {
            if reaches(principal, &location) {
                return Ok(found);
            }
        }
    }
    Err(missing())
}

/// What arrived of a transfer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TransferReceipt)]
pub(crate) struct Receipt {
    lines: Vec<ReceiptLine>,
    /// Close the transfer: whatever has not arrived is recorded as its shortfall.
    #[serde(default)]
    close: bool,
}

/// One product (and batch) that arrived.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TransferReceiptLine)]
pub(crate) struct ReceiptLine {
    product_id: Option<Uuid>,
    sku: Option<String>,
    batch: Option<String>,
    quantity: String,
}

/// A receipt the transfer refuses, as the API answers it.
fn refused(id: Uuid, refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Finished(status) => ApiError::new(
            Code::TransferClosed,
            format!("transfer {id} is {}", status.code()),
        ),
        Refusal::NotOnTransfer(field, sku) => Invalid::new(
            field,
            Code::NotOnTransfer,
            format!("{sku} was not sent on this transfer"),
        )
        .into(),
        Refusal::OverReceipt(field, sku, outstanding, asked) => Invalid::new(
            field,
            Code::OverReceipt,
            format!(
                "{sku}: {} outstanding, {} received",
                decimal_text(outstanding),
                decimal_text(asked)
            ),
        )
        .into(),
        Refusal::Corrupt(what) => ApiError::internal(format!("transfer {id}: {what}")),
    }
}

/// Receives a transfer at its destination, all at once or in parts; with `close`, what
/// never arrived is recorded as the shortfall. The destination's manager, owner or
/// admin. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/inventory/transfers/{id}/receive", tag = "inventory",
    request_body = Receipt, security(("bearer" = [])),
    responses((status = 201, body = Transfer), (status = 404, description = "`not_found`"),
              (status = 409, description = "`transfer_closed`"),
              (status = 422, description = "`over_receipt`, `not_on_transfer`, `invalid_quantity`, `invalid_batch`, `product_required`")))]
async fn receive_transfer(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<Receipt>,
) -> Result<(StatusCode, Json<Transfer>), ApiError> {
    if !body.close || !body.lines.is_empty() {
        bazaar_platform::http::line_count("lines", body.lines.len())?;
    }
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let missing = || ApiError::not_found(format!("no transfer {id}"));
    let (from, to, status) = store::lock_transfer(&mut tx, tenant, id)
        .await?
        .ok_or_else(missing)?;
    // Receiving is the destination's business.
    let destination = store::location(&mut tx, tenant, to)
        .await?
        .filter(|l| reaches(&principal, l))
        .ok_or_else(missing)?;
    let transfer = transfer::Transfer {
        status: TransferStatus::parse(&status).map_err(|r| refused(id, r))?,
        lines: store::transfer_lines(&mut tx, tenant, id).await?,
    };
    if transfer.status != TransferStatus::InTransit {
        return Err(refused(id, Refusal::Finished(transfer.status)));
    }
    let mut products = Vec::new();
    let mut arrivals = Vec::new();
    for (index, line) in body.lines.iter().enumerate() {
        let field = format!("lines[{index}]");
        let product = resolve(
            &mut tx,
            tenant,
            line.product_id,
            line.sku.as_deref(),
            &field,
        )
        .await?;
        let quantity = domain::quantity(
            &format!("{field}.quantity"),
            &line.quantity,
            product.unit_decimals as u32,
        )?;
        let batch = line
            .batch
            .as_deref()
            .map(|b| domain::batch(&format!("{field}.batch"), Some(b)))
            .transpose()?;
        arrivals.push(Arrival {
            field,
            product: product.id.into(),
            sku: product.sku.clone(),
            batch,
            quantity,
        });
        products.push(product);
    }
    let receipt = transfer
        .receive(&arrivals, body.close)
        .map_err(|r| refused(id, r))?;
    let mut received = Vec::new();
    for taken in receipt.taken {
        let product = products
            .iter()
            .find(|p| p.id == taken.product.into())
            .ok_or_else(|| ApiError::internal("a received product was not asked for"))?;
        ledger::record(
            &mut tx,
            tenant,
            Movement {
                id: Uuid::now_v7(),
                location: destination.id,
                product,
                batch: &taken.batch,
                expiry: taken.expiry,
                kind: Kind::TransferIn,
                quantity: taken.quantity,
                unit_cost: Some(taken.unit_cost),
                reason: None,
                reference: ("transfer", id.to_string()),
                recorded_by: Some(principal.user),
            },
        )
        .await?;
        let line = (product.id, taken.batch.as_str());
        store::receive_transfer_line(&mut tx, tenant, id, line, taken.quantity).await?;
        received.push((product.id, product.sku.clone(), taken.batch, taken.quantity));
    }
    let status = receipt.status.code();
    let received_at = bazaar_schemas::now_millis();
    if status != "in_transit" {
        store::finish_transfer(&mut tx, tenant, id, (status, received_at)).await?;
    }
    let after = store::transfer(&mut tx, tenant, id)
        .await?
        .ok_or_else(missing)?;
    let mut lines: Vec<events::inventory::TransferReceivedReceivedLine> = received
        .into_iter()
        .map(|(product_id, sku, batch, quantity)| {
            let view = after
                .lines
                .iter()
                .find(|l| l.product_id == product_id.uuid() && l.batch == batch);
            events::inventory::TransferReceivedReceivedLine {
                product_id: product_id.into(),
                sku,
                received_total: view.map_or_else(String::new, |v| v.received.clone()),
                dispatched: view.map_or_else(String::new, |v| v.dispatched.clone()),
                shortfall: view.and_then(|v| v.shortfall.clone()),
                batch,
                quantity: decimal_text(quantity),
            }
        })
        .collect();
    if status == "closed" {
        // The short lines belong in the event even when nothing of them arrived now.
        for view in after
            .lines
            .iter()
            .filter(|v| v.shortfall.as_deref().is_some_and(|s| s != "0"))
        {
            if !lines
                .iter()
                .any(|l| l.product_id == view.product_id && l.batch == view.batch)
            {
                lines.push(events::inventory::TransferReceivedReceivedLine {
                    product_id: view.product_id,
                    sku: view.sku.clone(),
                    batch: view.batch.clone(),
                    quantity: "0".to_owned(),
                    received_total: view.received.clone(),
                    dispatched: view.dispatched.clone(),
                    shortfall: view.shortfall.clone(),
                });
            }
        }
    }
    let event = events::inventory::TransferReceived {
        tenant_id: tenant,
        transfer_id: id,
        from_location_id: from,
        to_location_id: to,
        lines,
        status: status.to_owned(),
        received_by: principal.user,
        received_at,
    };
    ledger::event(&mut tx, tenant, &id.to_string(), &event).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(after)))
}

// ---------------------------------------------------------------- reservations

/// Stock to hold for a sale in progress.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewReservation {
    location_id: Uuid,
    /// The sale's reference (e.g. the POS invoice id).
    reference: Option<String>,
    lines: Vec<ReservationLine>,
    /// Seconds until the hold lapses: 1 to 86,400, default 900.
    ttl_seconds: Option<u32>,
}

/// One product to hold.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReservationLine {
    product_id: Option<Uuid>,
    sku: Option<String>,
    quantity: String,
}

/// A reservation.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct Reservation {
    /// The reservation.
    pub id: Uuid,
    /// Where the stock is held.
    pub location_id: Uuid,
    /// `active`, `consumed` or `released`.
    pub status: String,
    /// When the hold lapses.
    pub expires_at: chrono::DateTime<Utc>,
    /// Product and quantity held.
    pub lines: BTreeMap<Uuid, String>,
}

/// Holds stock for a sale: every line fits in available stock, or nothing is held
/// (409 `insufficient_stock` naming the SKU). Holds lapse after `ttl_seconds`. Honors
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/inventory/reservations", tag = "inventory",
    request_body = NewReservation, security(("bearer" = [])),
    responses((status = 201, body = Reservation),
              (status = 404, description = "`unknown_location`, `unknown_product`"),
              (status = 409, description = "`insufficient_stock`, `product_archived`"),
              (status = 422, description = "`no_lines`, `duplicate_line`, `invalid_quantity`, \
                  `too_many_decimals`, `invalid_ttl`")))]
async fn reserve(
    State(pool): State<PgPool>,
    principal: Principal,
    Json(body): Json<NewReservation>,
) -> Result<(StatusCode, Json<Reservation>), ApiError> {
    bazaar_platform::http::line_count("lines", body.lines.len())?;
    let ttl = body.ttl_seconds.unwrap_or(900);
    if !(1..=86_400).contains(&ttl) {
        return Err(Invalid::new("ttl_seconds", Code::InvalidTtl, "1 to 86400 seconds").into());
    }
    let reference = body
        .reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let tenant = principal.tenant;
    let mut tx: Tx = db::begin_for_tenant_planned_once(&pool, tenant).await?;
    let location = reachable(&mut tx, &principal, body.location_id, "location_id").await?;
    let mut lines = resolve_lines(
        &mut tx,
        tenant,
        body.lines
            .iter()
            .map(|l| (l.product_id, l.sku.as_deref(), l.quantity.as_str())),
        false,
    )
    .await?;
    // One lock order for every multi-product writer, so two carts never deadlock.
    lines.sort_by_key(|(p, _)| p.id);
    for (product, _) in &lines {
        not_archived(product)?;
    }
    let id = Uuid::now_v7();
    let ids: Vec<ProductId> = lines.iter().map(|(p, _)| p.id).collect();
    let quantities: Vec<Decimal> = lines.iter().map(|(_, q)| *q).collect();
    // Everything that does not depend on the stock is written before the stock is
    // locked, so other tills selling these items wait only for the check itself. The
    // hold's own lines count in what is held below, and are taken off again. Expiry is
    // on the database's clock, which the holds' sums read it by: within this
    // transaction the hold is live.
    let hold = store::NewHold {
        id,
        location: location.id.into(),
        reference,
        ttl_secs: f64::from(ttl),
        by: principal.user,
    };
    let (created_at, expires_at) =
        store::insert_reservation(&mut tx, tenant, &hold, (&ids, &quantities)).await?;
    let event = events::inventory::ReservationCreated {
        tenant_id: tenant,
        reservation_id: id,
        location_id: location.id.into(),
        reference: reference.map(str::to_owned),
        lines: lines
            .iter()
            .map(|(p, q)| events::inventory::ReservationCreatedReservedLine {
                product_id: p.id.into(),
                sku: p.sku.clone(),
                quantity: decimal_text(*q),
            })
            .collect(),
        expires_at: expires_at.timestamp_millis(),
        created_by: principal.user,
        created_at: created_at.timestamp_millis(),
    };
    ledger::event(&mut tx, tenant, &id.to_string(), &event).await?;
    let levels = ledger::lock_levels(&mut tx, tenant, location.id, &ids).await?;
    if levels.len() != lines.len() {
        return Err(ApiError::internal("a stock level vanished under its lock"));
    }
    let held = ledger::reserved_many(&mut tx, tenant, location.id, &ids).await?;
    let mut alerts = ledger::events();
    for ((product, quantity), (id, level)) in lines.iter().zip(&levels) {
        let held = held
            .iter()
            .find(|(p, _)| p == id)
            .map_or(Decimal::ZERO, |h| h.1)
            - quantity;
        let available = level.on_hand - held;
        if available < *quantity && !location.allows_negative_stock {
            return Err(insufficient(
                product,
                available.max(Decimal::ZERO),
                *quantity,
            ));
        }
        ledger::alert_if_low(
            &mut alerts,
            tenant,
            location.id,
            product,
            available,
            available - quantity,
        )?;
    }
    alerts.append(&mut tx).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Reservation {
            id,
            location_id: location.id.into(),
            status: "active".to_owned(),
            expires_at,
            lines: lines
                .iter()
                .map(|(p, q)| (p.id.uuid(), decimal_text(*q)))
                .collect(),
        }),
    ))
}

/// Releases a reservation: its stock is available again. Releasing twice is harmless.
#[utoipa::path(post, path = "/api/v1/inventory/reservations/{id}/release", tag = "inventory",
    security(("bearer" = [])),
    responses((status = 204, description = "released"), (status = 404, description = "`not_found`"),
              (status = 409, description = "`reservation_consumed`")))]
async fn release_reservation(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let missing = || ApiError::not_found(format!("no reservation {id}"));
    let (location, status, reference) = store::lock_reservation(&mut tx, tenant, id)
        .await?
        .ok_or_else(missing)?;
    reachable(&mut tx, &principal, location, "id")
        .await
        .map_err(|_| missing())?;
    match status.as_str() {
        "consumed" => {
            return Err(ApiError::new(
                Code::ReservationConsumed,
                format!("reservation {id} was sold"),
            ))
        }
        "released" => return Ok(StatusCode::NO_CONTENT),
        _ => {}
    }
    let mut events = ledger::events();
    close_reservation(
        &mut tx,
        tenant,
        id,
        location,
        "released",
        reference.as_deref(),
        &mut events,
    )
    .await?;
    events.append(&mut tx).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends an active reservation as `released` or `consumed`, its event pushed to `events`.
/// False, and nothing written, when it was not active: two closers of one hold close it
/// once.
pub(crate) async fn close_reservation(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    location: Uuid,
    outcome: &str,
    reference: Option<&str>,
    events: &mut outbox::Events,
) -> Result<bool, LedgerError> {
    let released_at = bazaar_schemas::now_millis();
    if !store::close_reservation(tx, tenant, id, (outcome, released_at)).await? {
        return Ok(false);
    }
    let event = events::inventory::ReservationReleased {
        tenant_id: tenant,
        reservation_id: id,
        location_id: location,
        outcome: outcome.to_owned(),
        reference: reference.map(str::to_owned),
        released_at,
    };
    events.push(tenant, &id.to_string(), &event)?;
    Ok(true)
}

// ---------------------------------------------------------------- counts

/// A stock count at one location.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Count {
    location_id: Uuid,
    lines: Vec<CountLine>,
}

/// One product (or one batch of it) counted.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CountLine {
    product_id: Option<Uuid>,
    sku: Option<String>,
    /// Count one batch; without it the count is of every batch together.
    batch: Option<String>,
    /// What is on the shelf (zero allowed).
    counted: String,
}

/// A reconciled count.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct Counted {
    /// The count (the reference of its movements).
    pub count_id: Uuid,
    /// Per line.
    pub lines: Vec<CountedLine>,
    /// Value of all differences at cost, signed.
    #[schema(value_type = Object)]
    pub value_difference: Money,
}

/// One counted line.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct CountedLine {
    /// What.
    pub product_id: Uuid,
    /// Its SKU.
    pub sku: String,
    /// The batch counted; empty for all.
    pub batch: String,
    /// The books said.
    pub book: String,
    /// The shelf said.
    pub counted: String,
    /// counted - book.
    pub difference: String,
}

/// Reconciles counted quantities against the books: each difference becomes a
/// count-correction movement at the moving-average cost. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/inventory/reconcile", tag = "inventory",
    request_body = Count, security(("bearer" = [])),
    responses((status = 201, body = Counted),
              (status = 404, description = "`unknown_location`, `unknown_product`"),
              (status = 422, description = "`no_lines`, `duplicate_line`, `invalid_quantity`, \
                  `too_many_decimals`, `mixed_currencies`, `invalid_batch`, `product_required`")))]
async fn reconcile(
    State(pool): State<PgPool>,
    principal: Principal,
    Json(body): Json<Count>,
) -> Result<(StatusCode, Json<Counted>), ApiError> {
    bazaar_platform::http::line_count("lines", body.lines.len())?;
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let location = reachable(&mut tx, &principal, body.location_id, "location_id").await?;
    let mut seen = Vec::new();
    let mut counted_lines = Vec::new();
    for (index, line) in body.lines.iter().enumerate() {
        let field = format!("lines[{index}]");
        let product = resolve(
            &mut tx,
            tenant,
            line.product_id,
            line.sku.as_deref(),
            &field,
        )
        .await?;
        let counted = domain::counted_quantity(
            &format!("{field}.counted"),
            &line.counted,
            product.unit_decimals as u32,
        )?;
        let batch = domain::batch(&format!("{field}.batch"), line.batch.as_deref())?;
        let whole = line.batch.is_none();
        if seen.contains(&(product.id, batch.clone(), whole)) {
            return Err(Invalid::new(
                field,
                Code::DuplicateLine,
                format!("{} is counted twice", product.sku),
            )
            .into());
        }
        seen.push((product.id, batch.clone(), whole));
        counted_lines.push((product, batch, whole, counted));
    }
    let currencies: std::collections::BTreeSet<&str> = counted_lines
        .iter()
        .map(|(p, ..)| p.currency.as_str())
        .collect();
    if currencies.len() > 1 {
        return Err(Invalid::new(
            "lines",
            Code::MixedCurrencies,
            "count products of one currency at a time",
        )
        .into());
    }
    counted_lines.sort_by_key(|(p, b, ..)| (p.id, b.clone()));
    let id = Uuid::now_v7();
    let mut result = Vec::new();
    let mut event_lines = Vec::new();
    let mut value = 0i64;
    for (product, batch, whole, counted) in &counted_lines {
        let level = ledger::lock_level(&mut tx, tenant, location.id, product.id).await?;
        let stock = ledger::batches(&mut tx, tenant, location.id, product.id).await?;
        let book = if *whole {
            level.on_hand
        } else {
            stock
                .iter()
                .find(|b| &b.batch == batch)
                .map_or(Decimal::ZERO, |b| b.on_hand)
        };
        let difference = counted - book;
        let corrections = if difference > Decimal::ZERO {
            let expiry = stock
                .iter()
                .find(|b| &b.batch == batch)
                .and_then(|b| b.expiry);
            vec![domain::BatchStock {
                batch: batch.clone(),
                expiry,
                on_hand: difference,
            }]
        } else if difference < Decimal::ZERO && *whole {
            domain::draw(&stock, -difference)
                .into_iter()
                .map(|b| domain::BatchStock {
                    on_hand: -b.on_hand,
                    ..b
                })
                .collect()
        } else if difference < Decimal::ZERO {
            let expiry = stock
                .iter()
                .find(|b| &b.batch == batch)
                .and_then(|b| b.expiry);
            vec![domain::BatchStock {
                batch: batch.clone(),
                expiry,
                on_hand: difference,
            }]
        } else {
            Vec::new()
        };
        for correction in corrections {
            let recorded = ledger::record(
                &mut tx,
                tenant,
                Movement {
                    id: Uuid::now_v7(),
                    location: location.id,
                    product,
                    batch: &correction.batch,
                    expiry: correction.expiry,
                    kind: Kind::CountCorrection,
                    quantity: correction.on_hand,
                    unit_cost: None,
                    reason: Some("count"),
                    reference: ("count", id.to_string()),
                    recorded_by: Some(principal.user),
                },
            )
            .await?;
            value += recorded.value;
        }
        event_lines.push(events::inventory::CountReconciledCountedLine {
            product_id: product.id.into(),
            sku: product.sku.clone(),
            batch: batch.clone(),
            book: decimal_text(book),
            counted: decimal_text(*counted),
            difference: decimal_text(difference),
            unit_cost_minor: decimal_text(level.average_cost),
        });
        result.push(CountedLine {
            product_id: product.id.into(),
            sku: product.sku.clone(),
            batch: batch.clone(),
            book: decimal_text(book),
            counted: decimal_text(*counted),
            difference: decimal_text(difference),
        });
    }
    let currency = currency_of(&counted_lines[0].0)?;
    let event = events::inventory::CountReconciled {
        tenant_id: tenant,
        count_id: id,
        location_id: location.id.into(),
        lines: event_lines,
        currency: currency.code().to_string(),
        value_difference_minor: value,
        counted_by: principal.user,
        counted_at: bazaar_schemas::now_millis(),
    };
    ledger::event(&mut tx, tenant, &id.to_string(), &event).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Counted {
            count_id: id,
            lines: result,
            value_difference: Money::new(value, currency),
        }),
    ))
}

// ---------------------------------------------------------------- alert reports

/// Which locations and how many days ahead (or back).
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct WindowQuery {
    location_id: Option<Uuid>,
    /// Expiry alerts: days ahead (default 30). Dead stock: days without movement
    /// (default 90). 1 to 3650.
    days: Option<u32>,
}

impl WindowQuery {
    fn days(&self, default: u32) -> Result<u32, ApiError> {
        let days = self.days.unwrap_or(default);
        if !(1..=3650).contains(&days) {
            return Err(ApiError::new(PlatformCode::InvalidQuery, "days: 1 to 3650"));
        }
        Ok(days)
    }
}

/// One batch expiring soon (or expired) with stock on hand.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct ExpiringBatch {
    /// Where.
    pub location_id: Uuid,
    /// What.
    pub product_id: Uuid,
    /// Its SKU.
    pub sku: String,
    /// The batch.
    pub batch: String,
    /// Its expiry date.
    pub expiry_date: NaiveDate,
    /// Days left; negative once expired.
    pub days_left: i64,
    /// On hand.
    pub on_hand: String,
}

/// Batches with stock that expire within `days` (or already have), soonest first.
#[utoipa::path(get, path = "/api/v1/inventory/expiry-alerts", tag = "inventory",
    params(WindowQuery, Page), security(("bearer" = [])),
    responses((status = 200, body = Vec<ExpiringBatch>)))]
async fn expiry_alerts(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(query): Query<WindowQuery>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<ExpiringBatch>>, ApiError> {
    let days = query.days(30)?;
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let scope = report_scope(&mut tx, &principal, query.location_id).await?;
    let today = today();
    let until = today + Duration::days(i64::from(days));
    let rows = store::expiring(
        &mut tx,
        principal.tenant,
        &scope,
        until,
        page.limit(),
        page.offset(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(
        rows.into_iter()
            .filter_map(|b| {
                let expiry = b.expiry_date?;
                Some(ExpiringBatch {
                    location_id: b.location_id,
                    product_id: b.product_id,
                    sku: b.sku,
                    batch: b.batch,
                    expiry_date: expiry,
                    days_left: (expiry - today).num_days(),
                    on_hand: decimal_text(b.on_hand),
                })
            })
            .collect(),
    ))
}

/// Stock that has not moved for a while.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct DeadStock {
    /// Where.
    pub location_id: Uuid,
    /// What.
    pub product_id: Uuid,
    /// Its SKU.
    pub sku: String,
    /// On hand.
    pub on_hand: String,
    /// Tied up at cost.
    #[schema(value_type = Object)]
    pub stock_value: Money,
    /// The last movement.
    pub last_moved_at: chrono::DateTime<Utc>,
}

/// Stock on hand with no movement for `days` (default 90), longest idle first.
#[utoipa::path(get, path = "/api/v1/inventory/dead-stock", tag = "inventory",
    params(WindowQuery, Page), security(("bearer" = [])),
    responses((status = 200, body = Vec<DeadStock>)))]
async fn dead_stock(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(query): Query<WindowQuery>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<DeadStock>>, ApiError> {
    let days = query.days(90)?;
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let scope = report_scope(&mut tx, &principal, query.location_id).await?;
    let since = Utc::now() - Duration::days(i64::from(days));
    let rows = store::dead_stock(
        &mut tx,
        principal.tenant,
        &scope,
        since,
        page.limit(),
        page.offset(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| DeadStock {
                stock_value: Money::new(r.value_minor, r.currency),
                location_id: r.location_id,
                product_id: r.product_id,
                sku: r.sku,
                on_hand: decimal_text(r.on_hand),
                last_moved_at: r.last_moved_at,
            })
            .collect(),
    ))
}
