//! Purchase's SQL: what every document needs (numbers, the products, vendors and
//! locations purchase knows from the topics, who reaches what), and one module per
//! aggregate that loads and saves it.

pub(crate) mod purchase_order;

use bazaar_platform::auth::{Principal, Stores};
use sqlx::PgConnection;
use uuid::Uuid;

/// The next number of a tenant's `series`: `PO-000001`.
pub(crate) async fn next_number(
    tx: &mut PgConnection,
    tenant: Uuid,
    series: &str,
) -> Result<String, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "INSERT INTO document_series (tenant_id, series, next) VALUES ($1, $2, 2) \
         ON CONFLICT (tenant_id, series) DO UPDATE SET next = document_series.next + 1 \
         RETURNING next - 1",
    )
    .bind(tenant)
    .bind(series)
    .fetch_one(tx)
    .await?;
    Ok(format!("{series}-{n:06}"))
}

/// A product as purchase knows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Product {
    pub(crate) id: Uuid,
    pub(crate) sku: String,
    pub(crate) unit_decimals: i16,
    pub(crate) gst_rate_bp: i32,
    pub(crate) cess_rate_bp: i32,
    pub(crate) archived: bool,
}

/// The product with id `id` or SKU `sku`.
pub(crate) async fn product(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Option<Uuid>,
    sku: Option<&str>,
) -> Result<Option<Product>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, sku, unit_decimals, gst_rate_bp, cess_rate_bp, archived FROM products \
         WHERE tenant_id = $1 AND (id = $2 OR sku = $3)",
    )
    .bind(tenant)
    .bind(id)
    .bind(sku.map(str::trim))
    .fetch_optional(tx)
    .await
}

/// A vendor as purchase knows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct VendorRow {
    pub(crate) id: Uuid,
    pub(crate) state_code: String,
    pub(crate) payment_terms_days: i32,
    pub(crate) currency: String,
}

/// The vendor `id`.
pub(crate) async fn vendor(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<VendorRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, state_code, payment_terms_days, currency FROM vendors \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Whether `principal` reaches `location`: a location inventory announced, of a store they
/// run (a warehouse only for users of every store).
pub(crate) async fn reaches_location(
    tx: &mut PgConnection,
    principal: &Principal,
    location: Uuid,
) -> Result<bool, sqlx::Error> {
    let known: Option<Option<Uuid>> =
        sqlx::query_scalar("SELECT store_id FROM known_locations WHERE tenant_id = $1 AND id = $2")
            .bind(principal.tenant)
            .bind(location)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(match known {
        None => false,
        Some(Some(store)) => principal.reaches_store(store),
        Some(None) => matches!(principal.stores, Stores::All(_)),
    })
}

/// Whether `principal` reaches every one of the receipts `grns`: each one's location is
/// one of their stores (a user of every store reaches all). A vendor invoice or return is
/// within reach when all the goods it bills or sends back are.
pub(crate) async fn reaches_receipts(
    tx: &mut PgConnection,
    principal: &Principal,
    grns: &[Uuid],
) -> Result<bool, sqlx::Error> {
    let Some(stores) = store_scope(principal) else {
        return Ok(true);
    };
    sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT FROM grns g LEFT JOIN known_locations k \
           ON k.tenant_id = g.tenant_id AND k.id = g.location_id \
         WHERE g.tenant_id = $1 AND g.id = ANY($2) \
           AND (k.store_id IS NULL OR NOT k.store_id = ANY($3)))",
    )
    .bind(principal.tenant)
    .bind(grns)
    .bind(stores)
    .fetch_one(tx)
    .await
}

/// The stores a store-scoped principal runs; `None` for users of every store.
pub(crate) fn store_scope(principal: &Principal) -> Option<Vec<Uuid>> {
    match &principal.stores {
        Stores::All(_) => None,
        Stores::Only(stores) => Some(stores.clone()),
    }
}

/// The price to order at when none is given: contracted (still valid), else the last
/// price paid to this vendor.
pub(crate) async fn default_price(
    tx: &mut PgConnection,
    tenant: Uuid,
    vendor: Uuid,
    product: Uuid,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce( \
           (SELECT unit_price_minor FROM vendor_prices WHERE tenant_id = $1 AND vendor_id = $2 \
              AND product_id = $3 AND (valid_until IS NULL OR valid_until >= current_date)), \
           (SELECT l.unit_cost_minor FROM grn_lines l JOIN grns g ON g.id = l.grn_id \
              WHERE l.tenant_id = $1 AND g.vendor_id = $2 AND l.product_id = $3 \
              ORDER BY g.received_at DESC LIMIT 1))",
    )
    .bind(tenant)
    .bind(vendor)
    .bind(product)
    .fetch_one(tx)
    .await
}
