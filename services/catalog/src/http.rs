//! Catalog's HTTP API: categories, products, prices, barcodes and the POS lookup.

use bazaar_platform::http::{PlatformCode, ProblemCode};
use bazaar_schemas::events;
use std::collections::BTreeMap;

use axum::{
    http::StatusCode,
    routing::{get, patch, post, put},
    Router,
};
use bazaar_platform::{
    auth::{self, Principal, Role},
    db,
    http::{idempotency, ApiError, FieldViolation, Json, Page, Path, Query},
    money::Money,
    text::Text,
    ServiceContext,
};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::Code;
use crate::{
    domain::{self, BarcodeKind, Unit},
    import::{self, ImportReport, Importer, Mode, RowError},
    store::{self, Category, ProductFilter, ProductRow},
};

/// Who may change the catalog and its prices.
const MERCHANDISERS: &[Role] = &[Role::Owner, Role::Admin];
/// Who may read it.
const ANYONE: &[Role] = Role::ALL;
/// Who may take the whole catalog away in one file: the back office, not the tills (a
/// till looks products up one at a time).
const EXPORTERS: &[Role] = &[
    Role::Owner,
    Role::Admin,
    Role::StoreManager,
    Role::Accountant,
];

/// Catalog's routes; each names the roles it admits.
pub fn router(ctx: ServiceContext) -> Router {
    let pool = ctx.pool;
    let v = &ctx.verifier;
    let create = |route| idempotency::creating(route, &pool, v, MERCHANDISERS);
    Router::new()
        .route(
            "/api/v1/categories",
            get(list_categories)
                .route_layer(auth::allow(v, ANYONE))
                .merge(create(post(create_category))),
        )
        .route(
            "/api/v1/products",
            get(list_products)
                .route_layer(auth::allow(v, ANYONE))
                .merge(create(post(create_product))),
        )
        .route(
            "/api/v1/products/bulk-import",
            post(bulk_import).route_layer(auth::allow(v, MERCHANDISERS)),
        )
        .route(
            "/api/v1/products/export",
            get(export_products).route_layer(auth::allow(v, EXPORTERS)),
        )
        .route(
            "/api/v1/products/{id}",
            get(get_product)
                .route_layer(auth::allow(v, ANYONE))
                .merge(patch(update_product).route_layer(auth::allow(v, MERCHANDISERS))),
        )
        .route(
            "/api/v1/products/{id}/price",
            put(change_price).route_layer(auth::allow(v, MERCHANDISERS)),
        )
        .route(
            "/api/v1/products/{id}/archive",
            post(archive_product).route_layer(auth::allow(v, MERCHANDISERS)),
        )
        .route(
            "/api/v1/products/{id}/barcodes",
            create(post(assign_barcode)),
        )
        .route(
            "/api/v1/barcodes/{code}",
            get(lookup_barcode).route_layer(auth::allow(v, ANYONE)),
        )
        .with_state(pool.clone())
}

/// Catalog's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(list_categories, create_category, list_products, create_product, get_product,
          update_product, change_price, archive_product, assign_barcode, lookup_barcode,
          bulk_import, export_products),
    components(schemas(Product, NewProduct, ProductChange, PriceChange, NewCategory, Category,
                        NewBarcode, ImportReport, RowError, Mode)),
    tags((name = "catalog", description = "Products, categories, prices and barcodes"))
)]
pub struct CatalogApi;

fn not_found(id: Uuid) -> ApiError {
    ApiError::not_found(format!("no product {id}"))
}

/// A product as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Product {
    /// The product.
    pub id: Uuid,
    /// Unique in the tenant.
    pub sku: String,
    /// Display name.
    pub name: String,
    /// Longer text.
    pub description: Option<String>,
    /// Brand.
    pub brand: Option<String>,
    /// Category.
    pub category_id: Option<Uuid>,
    /// The parent product when this is a variant.
    pub variant_of: Option<Uuid>,
    /// Variant attributes, e.g. `{"size": "L", "colour": "red"}`.
    pub attributes: BTreeMap<String, String>,
    /// `piece`, `kg`, `g`, `litre`, `ml`, `metre` or `pack`.
    pub unit: String,
    /// Decimal places a quantity of the unit may have.
    pub unit_decimals: i16,
    /// HSN code (4, 6 or 8 digits).
    pub hsn_code: Option<String>,
    /// GST rate in percent: `0`, `5`, `12`, `18` or `28`.
    pub gst_rate: String,
    /// Compensation cess in percent.
    pub cess_rate: String,
    /// Maximum retail price.
    #[schema(value_type = Object)]
    pub mrp: Money,
    /// Default selling price, at most the MRP.
    #[schema(value_type = Object)]
    pub selling_price: Money,
    /// Whether prices include GST.
    pub tax_inclusive: bool,
    /// Decimal quantity below which stock is low.
    pub reorder_level: Option<String>,
    /// `active` or `archived`.
    pub status: String,
    /// Its barcodes.
    pub barcodes: Vec<String>,
    /// Grows with every change.
    pub version: i32,
    /// When created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When last changed.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

fn percent(bp: i32) -> String {
    if bp % 100 == 0 {
        (bp / 100).to_string()
    } else {
        format!("{}.{:02}", bp / 100, bp % 100)
    }
}

impl From<ProductRow> for Product {
    fn from(row: ProductRow) -> Self {
        Self {
            mrp: row.money(row.mrp_minor),
            selling_price: row.money(row.selling_price_minor),
            id: row.id,
            sku: row.sku,
            name: row.name,
            description: row.description,
            brand: row.brand,
            category_id: row.category_id,
            variant_of: row.variant_of,
            attributes: row.attributes.0,
            unit: row.unit,
            unit_decimals: row.unit_decimals,
            hsn_code: row.hsn_code,
            gst_rate: percent(row.gst_rate_bp),
            cess_rate: percent(row.cess_rate_bp),
            tax_inclusive: row.tax_inclusive,
            reorder_level: row.reorder_level.map(|q| q.normalize().to_string()),
            status: if row.archived_at.is_some() {
                "archived"
            } else {
                "active"
            }
            .to_owned(),
            barcodes: row.barcodes,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A new product (or a variant of one).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewProduct {
    sku: String,
    name: String,
    description: Option<Text<{ domain::DESCRIPTION_MAX }>>,
    brand: Option<Text<{ domain::BRAND_MAX }>>,
    category_id: Option<Uuid>,
    /// The parent product; a variant needs `attributes`.
    variant_of: Option<Uuid>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    unit: String,
    hsn_code: Option<String>,
    /// Percent as a string: `"18"`.
    gst_rate: String,
    /// Percent as a string, default `"0"`.
    cess_rate: Option<String>,
    #[schema(value_type = Object)]
    mrp: Money,
    #[schema(value_type = Object)]
    selling_price: Money,
    tax_inclusive: bool,
    /// Decimal string in the unit.
    reorder_level: Option<String>,
    /// Existing EAN-13 or UPC-A codes to attach.
    #[serde(default)]
    barcodes: Vec<String>,
}

/// The tenant's products: `q` (name contains, any case), `sku`, `barcode`, `category`,
/// `brand`, `status` (`active` (default), `archived`, `all`), `sort` (`name`, `-name`,
/// `sku`, `-sku`, `created_at`, `-created_at`).
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct ProductQuery {
    q: Option<String>,
    sku: Option<String>,
    barcode: Option<String>,
    category: Option<Uuid>,
    brand: Option<String>,
    status: Option<String>,
    sort: Option<String>,
}

/// Searches and lists products.
#[utoipa::path(get, path = "/api/v1/products", tag = "catalog", params(ProductQuery, Page),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Product>),
              (status = 400, description = "`invalid_query`")))]
async fn list_products(
    axum::extract::State(pool): axum::extract::State<PgPool>,
    principal: Principal,
    Query(query): Query<ProductQuery>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<Product>>, ApiError> {
    let bad_query = |detail: String| ApiError::new(PlatformCode::InvalidQuery, detail);
    let order_by = match query.sort.as_deref().unwrap_or("name") {
        "name" => "lower(p.name)",
        "-name" => "lower(p.name) DESC",
        "sku" => "p.sku",
        "-sku" => "p.sku DESC",
        "created_at" => "p.created_at",
        "-created_at" => "p.created_at DESC",
        other => {
            return Err(bad_query(format!(
                "sort {other:?}: use name, sku or created_at, with - for descending"
            )))
        }
    };
    let archived = match query.status.as_deref().unwrap_or("active") {
        "active" => Some(false),
        "archived" => Some(true),
        "all" => None,
        other => {
            return Err(bad_query(format!(
                "status {other:?}: use active, archived or all"
            )))
        }
    };
    let filter = ProductFilter {
        q: query.q.filter(|q| !q.trim().is_empty()),
        sku: query.sku,
        barcode: query.barcode,
        category: query.category,
        brand: query.brand,
        archived,
        order_by,
    };
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let rows = store::products(
        &mut tx,
        principal.tenant,
        &filter,
        page.limit(),
        page.offset(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(rows.into_iter().map(Product::from).collect()))
}

/// Adds a product. Owner or admin. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/products", tag = "catalog", request_body = NewProduct,
    security(("bearer" = [])),
    responses(
        (status = 201, body = Product),
        (status = 404, description = "`unknown_category`, `unknown_product` (variant_of)"),
        (status = 409, description = "`sku_taken`, `barcode_taken`"),
        (status = 422, description = "`invalid_sku`, `unknown_unit`, `invalid_gst_rate`, \
            `price_above_mrp`, `invalid_barcode`, `invalid_barcode_check_digit`, `invalid_text`, \
            `invalid_hsn_code`, `invalid_cess_rate`, `nested_variant` (a variant of a variant), \
            `variant_without_attributes`"),
    ))]
async fn create_product(
    axum::extract::State(pool): axum::extract::State<PgPool>,
    principal: Principal,
    Json(new): Json<NewProduct>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let sku = domain::sku(&new.sku)?;
    let name = domain::text("name", &new.name, 200)?;
    let unit = Unit::parse(new.unit.trim())?;
    let hsn = new.hsn_code.as_deref().map(domain::hsn).transpose()?;
    let gst = domain::gst_rate_bp(&new.gst_rate)?;
    let cess = domain::cess_rate_bp(new.cess_rate.as_deref().unwrap_or("0"))?;
    let (currency, mrp, selling) = domain::prices(new.mrp, new.selling_price)?;
    let reorder = new
        .reorder_level
        .as_deref()
        .map(|r| domain::reorder_level(r, unit))
        .transpose()?;
    let barcodes: Vec<(String, BarcodeKind)> = new
        .barcodes
        .iter()
        .map(|b| domain::barcode(b))
        .collect::<Result<_, _>>()?;
    if new.variant_of.is_some() && new.attributes.is_empty() {
        return Err(ApiError::new(
            Code::VariantWithoutAttributes,
            "a variant needs attributes such as {\"size\": \"L\"}",
        ));
    }
    let description = new
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let brand = new
        .brand
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty());

    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    if let Some(category) = new.category_id {
        check_category(&mut tx, tenant, category).await?;
    }
    if let Some(parent) = new.variant_of {
        let parent = store::product(&mut tx, tenant, parent, false)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    Code::UnknownProduct,
                    format!("no product {parent} to be a variant of"),
                )
                .with_violations(vec![FieldViolation {
                    field: "variant_of".to_owned(),
                    message: "unknown product".to_owned(),
                }])
            })?;
        if parent.variant_of.is_some() {
            return Err(ApiError::new(
                Code::NestedVariant,
                "a variant cannot have variants; use the parent product",
            ));
        }
    }
    let created = events::catalog::ProductCreated {
        tenant_id: tenant,
        product_id: Uuid::now_v7(),
        sku: sku.clone(),
        name: name.clone(),
        description: description.map(str::to_owned),
        brand: brand.map(str::to_owned),
        category_id: new.category_id,
        variant_of: new.variant_of,
        attributes: new.attributes.clone().into_iter().collect(),
        unit: unit.code().to_owned(),
        unit_decimals: unit.decimals() as i32,
        hsn_code: hsn.clone(),
        gst_rate_bp: gst,
        cess_rate_bp: cess,
        currency: currency.code().to_owned(),
        mrp_minor: mrp,
        selling_price_minor: selling,
        tax_inclusive: new.tax_inclusive,
        reorder_level: reorder.map(|q| q.to_string()),
        created_at: bazaar_schemas::now_millis(),
    };
    if store::products_created(&mut tx, &[&created]).await? == 0 {
        return Err(ApiError::new(Code::SkuTaken, format!("SKU {sku} exists")));
    }
    let id = created.product_id;
    store::event(&mut tx, tenant, id, &created).await?;
    for (code, kind) in &barcodes {
        attach(&mut tx, tenant, id, code, *kind).await?;
    }
    Ok((StatusCode::CREATED, Json(committed(tx, tenant, id).await?)))
}

/// Reads the product as the transaction left it, then commits: what a write answers.
async fn committed(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    tenant: Uuid,
    id: Uuid,
) -> Result<Product, ApiError> {
    let product = store::product(&mut tx, tenant, id, false)
        .await?
        .ok_or_else(|| not_found(id))?;
    tx.commit().await?;
    Ok(product.into())
}

async fn check_category(
    tx: &mut PgConnection,
    tenant: Uuid,
    category: Uuid,
) -> Result<String, ApiError> {
    store::category_path(tx, tenant, category)
        .await?
        .ok_or_else(|| ApiError::new(Code::UnknownCategory, format!("no category {category}")))
}

/// Attaches a barcode and records the event; 409 when the tenant already uses it.
async fn attach(
    tx: &mut PgConnection,
    tenant: Uuid,
    product: Uuid,
    code: &str,
    kind: BarcodeKind,
) -> Result<(), ApiError> {
    let event = events::catalog::BarcodeAssigned {
        tenant_id: tenant,
        product_id: product,
        barcode: code.to_owned(),
        kind: kind.code().to_owned(),
        assigned_at: bazaar_schemas::now_millis(),
    };
    if store::barcodes_assigned(tx, &[&event]).await? == 0 {
        return Err(ApiError::new(
            Code::BarcodeTaken,
            format!("barcode {code} already identifies a product"),
        ));
    }
    store::event(tx, tenant, product, &event).await?;
    Ok(())
}

/// One product.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "catalog",
    security(("bearer" = [])),
    responses((status = 200, body = Product), (status = 404, description = "`not_found`")))]
async fn get_product(
    axum::extract::State(pool): axum::extract::State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Product>, ApiError> {
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let product = store::product(&mut tx, principal.tenant, id, false)
        .await?
        .ok_or_else(|| not_found(id))?;
    tx.commit().await?;
    Ok(Json(product.into()))
}

/// Descriptive fields to change; absent fields stay as they are. Prices change through
/// `PUT /products/{id}/price`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProductChange {
    name: Option<String>,
    /// An empty string clears it.
    description: Option<Text<{ domain::DESCRIPTION_MAX }>>,
    /// An empty string clears it.
    brand: Option<Text<{ domain::BRAND_MAX }>>,
    category_id: Option<Uuid>,
    hsn_code: Option<String>,
    gst_rate: Option<String>,
    cess_rate: Option<String>,
    tax_inclusive: Option<bool>,
    reorder_level: Option<String>,
}

/// `catalog.product.updated` for `row` as it is about to be written (its version bumped).
pub(crate) fn product_updated(row: &ProductRow) -> events::catalog::ProductUpdated {
    events::catalog::ProductUpdated {
        tenant_id: row.tenant_id,
        product_id: row.id,
        sku: row.sku.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
        brand: row.brand.clone(),
        category_id: row.category_id,
        hsn_code: row.hsn_code.clone(),
        gst_rate_bp: row.gst_rate_bp,
        cess_rate_bp: row.cess_rate_bp,
        tax_inclusive: row.tax_inclusive,
        reorder_level: row.reorder_level.map(|q| q.normalize().to_string()),
        version: row.version + 1,
        updated_at: bazaar_schemas::now_millis(),
    }
}

/// Changes a product's descriptive fields. Owner or admin.
#[utoipa::path(patch, path = "/api/v1/products/{id}", tag = "catalog",
    request_body = ProductChange, security(("bearer" = [])),
    responses((status = 200, body = Product), (status = 404, description = "`not_found`"),
              (status = 409, description = "`product_archived`"),
              (status = 422, description = "`invalid_text`, `invalid_hsn_code`, or another of \
                 creation's rules")))]
async fn update_product(
    axum::extract::State(pool): axum::extract::State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(change): Json<ProductChange>,
) -> Result<Json<Product>, ApiError> {
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let mut row = store::product(&mut tx, tenant, id, true)
        .await?
        .ok_or_else(|| not_found(id))?;
    if row.archived_at.is_some() {
        return Err(ApiError::new(
            Code::ProductArchived,
            format!("product {id} is archived"),
        ));
    }
    let unit = Unit::parse(&row.unit)?;
    if let Some(name) = &change.name {
        row.name = domain::text("name", name, 200)?;
    }
    if let Some(description) = change.description {
        row.description = Some(description.trim().to_owned()).filter(|d| !d.is_empty());
    }
    if let Some(brand) = change.brand {
        row.brand = Some(brand.trim().to_owned()).filter(|b| !b.is_empty());
    }
    if let Some(category) = change.category_id {
        check_category(&mut tx, tenant, category).await?;
        row.category_id = Some(category);
    }
    if let Some(hsn) = &change.hsn_code {
        row.hsn_code = Some(domain::hsn(hsn)?);
    }
    if let Some(gst) = &change.gst_rate {
        row.gst_rate_bp = domain::gst_rate_bp(gst)?;
    }
    if let Some(cess) = &change.cess_rate {
        row.cess_rate_bp = domain::cess_rate_bp(cess)?;
    }
    if let Some(inclusive) = change.tax_inclusive {
        row.tax_inclusive = inclusive;
    }
    if let Some(level) = &change.reorder_level {
        row.reorder_level = Some(domain::reorder_level(level, unit)?.value());
    }
    let event = product_updated(&row);
    store::product_updated(&mut tx, &event).await?;
    store::event(&mut tx, tenant, id, &event).await?;
    Ok(Json(committed(tx, tenant, id).await?))
}

/// New prices.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriceChange {
    #[schema(value_type = Object)]
    mrp: Money,
    #[schema(value_type = Object)]
    selling_price: Money,
}

/// Changes a product's MRP and selling price. Owner or admin; audited.
#[utoipa::path(put, path = "/api/v1/products/{id}/price", tag = "catalog",
    request_body = PriceChange, security(("bearer" = [])),
    responses((status = 200, body = Product), (status = 403, description = "`forbidden`"),
              (status = 404, description = "`not_found`"),
              (status = 422, description = "`price_above_mrp`, `currency_mismatch`, \
                                            `negative_price`")))]
async fn change_price(
    axum::extract::State(pool): axum::extract::State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(change): Json<PriceChange>,
) -> Result<Json<Product>, ApiError> {
    let (currency, mrp, selling) = domain::prices(change.mrp, change.selling_price)?;
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let before = store::product(&mut tx, tenant, id, true)
        .await?
        .ok_or_else(|| not_found(id))?;
    if currency != before.currency {
        return Err(ApiError::new(
            PlatformCode::CurrencyMismatch,
            format!("the product is priced in {}", before.currency),
        ));
    }
    let changed = events::catalog::PriceChanged {
        tenant_id: tenant,
        product_id: id,
        sku: before.sku.clone(),
        currency: before.currency.code().to_owned(),
        mrp_minor_before: before.mrp_minor,
        mrp_minor: mrp,
        selling_price_minor_before: before.selling_price_minor,
        selling_price_minor: selling,
        changed_by: principal.user,
        changed_at: bazaar_schemas::now_millis(),
    };
    store::price_changed(&mut tx, &changed).await?;
    store::event(&mut tx, tenant, id, &changed).await?;
    // Audit events are keyed by tenant, like every audit event.
    store::event(&mut tx, tenant, tenant, &domain::price_audited(&changed)).await?;
    Ok(Json(committed(tx, tenant, id).await?))
}

/// Archives a product: it can no longer be sold or received. Owner or admin.
#[utoipa::path(post, path = "/api/v1/products/{id}/archive", tag = "catalog",
    security(("bearer" = [])),
    responses((status = 200, body = Product), (status = 404, description = "`not_found`")))]
async fn archive_product(
    axum::extract::State(pool): axum::extract::State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Product>, ApiError> {
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let row = store::product(&mut tx, tenant, id, true)
        .await?
        .ok_or_else(|| not_found(id))?;
    // Archiving twice changes nothing and says so with the same answer.
    if row.archived_at.is_none() {
        let event = events::catalog::ProductArchived {
            tenant_id: tenant,
            product_id: id,
            sku: row.sku.clone(),
            archived_by: principal.user,
            archived_at: bazaar_schemas::now_millis(),
        };
        store::product_archived(&mut tx, &event).await?;
        store::event(&mut tx, tenant, id, &event).await?;
    }
    Ok(Json(committed(tx, tenant, id).await?))
}

/// A barcode to attach; without `code`, an EAN-13 is generated from the tenant's prefix.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewBarcode {
    code: Option<String>,
}

/// Attaches an existing EAN-13/UPC-A barcode to a product, or generates one. Owner or
/// admin. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/products/{id}/barcodes", tag = "catalog",
    request_body = NewBarcode, security(("bearer" = [])),
    responses((status = 201, body = Product), (status = 404, description = "`not_found`"),
              (status = 409, description = "`barcode_taken`, `barcode_series_exhausted` (the \
                 tenant's EAN prefix has no numbers left)"),
              (status = 422, description = "`invalid_barcode`, `invalid_barcode_check_digit`")))]
async fn assign_barcode(
    axum::extract::State(pool): axum::extract::State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(new): Json<NewBarcode>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let given = new.code.as_deref().map(domain::barcode).transpose()?;
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    store::product(&mut tx, tenant, id, true)
        .await?
        .ok_or_else(|| not_found(id))?;
    let (code, kind) = match given {
        Some(given) => given,
        None => {
            let (prefix, item) = store::next_generated_item(&mut tx, tenant).await?;
            let code = domain::generate_ean13(&prefix, item).ok_or_else(|| {
                ApiError::new(
                    Code::BarcodeSeriesExhausted,
                    format!("every item number under prefix {prefix} is used"),
                )
            })?;
            (code, BarcodeKind::Generated)
        }
    };
    attach(&mut tx, tenant, id, &code, kind).await?;
    Ok((StatusCode::CREATED, Json(committed(tx, tenant, id).await?)))
}

/// The product a scanned barcode identifies: the POS's hot path.
#[utoipa::path(get, path = "/api/v1/barcodes/{code}", tag = "catalog",
    security(("bearer" = [])),
    responses((status = 200, body = Product), (status = 404, description = "`not_found`")))]
async fn lookup_barcode(
    axum::extract::State(pool): axum::extract::State<PgPool>,
    principal: Principal,
    Path(code): Path<String>,
) -> Result<Json<Product>, ApiError> {
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let product = store::product_by_barcode(&mut tx, principal.tenant, code.trim())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no product with barcode {code}")))?;
    tx.commit().await?;
    Ok(Json(product.into()))
}

/// A new category.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCategory {
    name: String,
    /// The parent category; absent for a root.
    parent_id: Option<Uuid>,
}

/// The tenant's category tree, by path.
#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog", params(Page),
    security(("bearer" = [])), responses((status = 200, body = Vec<Category>)))]
async fn list_categories(
    axum::extract::State(pool): axum::extract::State<PgPool>,
    principal: Principal,
    Query(page): Query<Page>,
) -> Result<Json<Vec<Category>>, ApiError> {
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let categories =
        store::categories(&mut tx, principal.tenant, page.limit(), page.offset()).await?;
    tx.commit().await?;
    Ok(Json(categories))
}

/// Adds a category under a parent (or at the root). Owner or admin. Honors
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/categories", tag = "catalog", request_body = NewCategory,
    security(("bearer" = [])),
    responses((status = 201, body = Category),
              (status = 404, description = "`unknown_category` (the parent)"),
              (status = 409, description = "`category_exists`"),
              (status = 422, description = "`invalid_text` (the name)")))]
async fn create_category(
    axum::extract::State(pool): axum::extract::State<PgPool>,
    principal: Principal,
    Json(new): Json<NewCategory>,
) -> Result<(StatusCode, Json<Category>), ApiError> {
    let name = domain::text("name", &new.name, 100)?;
    if name.contains(" / ") {
        return Err(ApiError::new(
            Code::InvalidText,
            "a category name cannot contain \" / \"",
        ));
    }
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let path = match new.parent_id {
        Some(parent) => format!(
            "{} / {name}",
            check_category(&mut tx, tenant, parent).await?
        ),
        None => name.clone(),
    };
    let event = events::catalog::CategoryCreated {
        tenant_id: tenant,
        category_id: Uuid::now_v7(),
        parent_id: new.parent_id,
        name,
        path,
        created_at: bazaar_schemas::now_millis(),
    };
    let category = store::category_created(&mut tx, &event)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                Code::CategoryExists,
                format!("category {:?} exists", event.path),
            )
        })?;
    store::event(&mut tx, tenant, category.id, &event).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(category)))
}

/// The largest file a bulk import reads: about a million rows.
const MAX_IMPORT_BYTES: u64 = 256 * 1024 * 1024;

/// How a bulk import treats bad rows.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct ImportQuery {
    /// `all-or-nothing` (default): any bad row and nothing is written. `partial`: good
    /// rows are written and bad ones reported.
    mode: Option<Mode>,
}

fn import_problem(code: impl Into<ProblemCode>, detail: String, errors: &[RowError]) -> ApiError {
    ApiError::new(code, detail).with_violations(
        errors
            .iter()
            .map(|e| FieldViolation {
                field: if e.column.is_empty() {
                    format!("line {}", e.line)
                } else {
                    format!("line {}, column {}", e.line, e.column)
                },
                message: format!("{}: {}", e.code, e.message),
            })
            .collect(),
    )
}

/// Creates or updates products from a CSV file (`text/csv` body, columns as
/// `GET /api/v1/products/export` writes them), matched by SKU. The file is streamed;
/// re-importing it changes nothing. Owner or admin.
#[utoipa::path(post, path = "/api/v1/products/bulk-import", tag = "catalog",
    params(ImportQuery), request_body(content = String, content_type = "text/csv"),
    security(("bearer" = [])),
    responses((status = 200, body = ImportReport, description = "written; in `partial` mode \
                 `errors` lists the rows left out"),
              (status = 400, description = "`unreadable_body`"),
              (status = 409, description = "`concurrent_import` (retry the file)"),
              (status = 413, description = "`payload_too_large` (over 256 MiB)"),
              (status = 422, description = "`invalid_header`, `empty_file`, `import_rejected` \
                 (all-or-nothing: every bad cell as line N, column C, with its rule: `required`, \
                 `invalid_price`, `invalid_boolean` or one of product creation's)")))]
async fn bulk_import(
    axum::extract::State(pool): axum::extract::State<PgPool>,
    principal: Principal,
    Query(query): Query<ImportQuery>,
    body: axum::body::Body,
) -> Result<Json<ImportReport>, ApiError> {
    use futures::TryStreamExt;
    let mode = query.mode.unwrap_or(Mode::AllOrNothing);
    let mut read = 0u64;
    let stream = body
        .into_data_stream()
        .map_err(std::io::Error::other)
        .and_then(move |bytes| {
            read += bytes.len() as u64;
            futures::future::ready(if read > MAX_IMPORT_BYTES {
                Err(std::io::Error::new(
                    std::io::ErrorKind::FileTooLarge,
                    "the file is over 256 MiB",
                ))
            } else {
                Ok(bytes)
            })
        });
    let input = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let (sender, mut chunks) = tokio::sync::mpsc::channel(4);
    let reader = tokio::task::spawn_blocking(move || import::read(input, sender));

    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let mut importer = Importer::new(&mut tx, tenant, principal.user).await?;
    while let Some(chunk) = chunks.recv().await {
        importer.chunk(&mut tx, chunk).await?;
    }
    match reader.await.map_err(ApiError::internal)? {
        Ok(()) => {}
        Err(unreadable) if unreadable.message.contains("over 256 MiB") => {
            return Err(ApiError::new(
                PlatformCode::PayloadTooLarge,
                unreadable.message,
            ))
        }
        Err(unreadable) if unreadable.code == "unreadable_body" => {
            return Err(import_problem(
                PlatformCode::UnreadableBody,
                unreadable.message.clone(),
                &[unreadable],
            ))
        }
        Err(header) => {
            return Err(import_problem(
                Code::InvalidHeader,
                header.message.clone(),
                &[header],
            ))
        }
    }
    let report = importer.finish();
    if report.rows == 0 {
        return Err(ApiError::new(
            Code::EmptyFile,
            "the file has a header but no rows",
        ));
    }
    if report.rejected > 0 && mode == Mode::AllOrNothing {
        // Dropping the transaction rolls it back: nothing of the file is kept.
        return Err(import_problem(
            Code::ImportRejected,
            format!("{} of {} rows are bad; nothing was imported (use ?mode=partial to import the good ones)", report.rejected, report.rows),
            &report.errors,
        ));
    }
    tx.commit().await?;
    Ok(Json(report))
}

/// The tenant's active products as CSV, in SKU order: the format bulk import reads.
/// Owners, admins, store managers and accountants.
#[utoipa::path(get, path = "/api/v1/products/export", tag = "catalog",
    security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 403, description = "`forbidden`: cashiers and HR do not export")))]
async fn export_products(
    axum::extract::State(pool): axum::extract::State<PgPool>,
    principal: Principal,
) -> axum::response::Response {
    use axum::{http::header, response::IntoResponse};
    const PAGE: i64 = 1_000;
    let tenant = principal.tenant;
    let header_line = csv_line(&import::COLUMNS.map(str::to_owned));
    let pages = futures::stream::try_unfold(Some(String::new()), move |after| {
        let pool = pool.clone();
        async move {
            let Some(after) = after else { return Ok(None) };
            let mut tx = db::begin_for_tenant(&pool, tenant).await?;
            let rows = store::products_after(&mut tx, tenant, &after, PAGE).await?;
            tx.commit().await?;
            let next = (rows.len() as i64 == PAGE)
                .then(|| rows.last().map(|r| r.sku.clone()))
                .flatten();
            let mut bytes = Vec::new();
            for row in &rows {
                bytes.extend(csv_line(&import::record(row)));
            }
            Ok::<_, sqlx::Error>(Some((axum::body::Bytes::from(bytes), next)))
        }
    });
    let first = Ok::<_, sqlx::Error>(axum::body::Bytes::from(header_line));
    let body =
        futures::StreamExt::chain(futures::stream::once(futures::future::ready(first)), pages);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"products.csv\"",
            ),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

fn csv_line(fields: &[String]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = writer.write_record(fields.iter().map(|f| import::defused(f).into_owned()));
    writer.into_inner().unwrap_or_default()
}
