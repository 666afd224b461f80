//! Purchase's SQL: what every document needs (numbers, the products, vendors and
//! locations purchase knows from the topics, who reaches what), and one module per
//! aggregate that loads and saves it.

pub(crate) mod purchase_order;
pub(crate) mod purchase_return;
pub(crate) mod vendor_invoice;

use bazaar_platform::auth::{Principal, Stores};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
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

/// What a vendor charges for a product.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub(crate) struct VendorPrice {
    pub(crate) vendor_id: Uuid,
    pub(crate) product_id: Uuid,
    pub(crate) sku: String,
    /// Agreed price, before GST.
    pub(crate) contracted_price_minor: Option<i64>,
    /// Until when the agreement holds.
    pub(crate) valid_until: Option<NaiveDate>,
    /// The price of the latest receipt.
    pub(crate) last_price_minor: Option<i64>,
    /// When that was.
    pub(crate) last_received_on: Option<NaiveDate>,
}

/// Contracted and last-paid prices per vendor and product (of `vendor` and `product` only,
/// if named), by SKU.
pub(crate) async fn vendor_prices(
    tx: &mut PgConnection,
    tenant: Uuid,
    (vendor, product): (Option<Uuid>, Option<Uuid>),
    (limit, offset): (i64, i64),
) -> Result<Vec<VendorPrice>, sqlx::Error> {
    sqlx::query_as(
        "WITH last AS ( \
           SELECT DISTINCT ON (g.vendor_id, l.product_id) g.vendor_id, l.product_id, \
             l.unit_cost_minor, g.received_at::date AS received_on \
           FROM grn_lines l JOIN grns g ON g.id = l.grn_id WHERE l.tenant_id = $1 \
           ORDER BY g.vendor_id, l.product_id, g.received_at DESC), \
         pairs AS ( \
           SELECT vendor_id, product_id FROM vendor_prices WHERE tenant_id = $1 \
           UNION SELECT vendor_id, product_id FROM last) \
         SELECT pairs.vendor_id, pairs.product_id, p.sku, vp.unit_price_minor AS contracted_price_minor, \
           vp.valid_until, last.unit_cost_minor AS last_price_minor, last.received_on AS last_received_on \
         FROM pairs JOIN products p ON p.tenant_id = $1 AND p.id = pairs.product_id \
         LEFT JOIN vendor_prices vp ON vp.tenant_id = $1 AND vp.vendor_id = pairs.vendor_id AND vp.product_id = pairs.product_id \
         LEFT JOIN last ON last.vendor_id = pairs.vendor_id AND last.product_id = pairs.product_id \
         WHERE ($2::uuid IS NULL OR pairs.vendor_id = $2) AND ($3::uuid IS NULL OR pairs.product_id = $3) \
         ORDER BY p.sku, pairs.vendor_id LIMIT $4 OFFSET $5",
    )
    .bind(tenant)
    .bind(vendor)
    .bind(product)
    .bind(limit)
    .bind(offset)
    .fetch_all(tx)
    .await
}

/// Sets a vendor's contracted price for a product (`(vendor, product)`): the price and
/// until when it holds.
pub(crate) async fn set_vendor_price(
    tx: &mut PgConnection,
    tenant: Uuid,
    (vendor, product): (Uuid, Uuid),
    (price, valid_until): (i64, Option<NaiveDate>),
    by: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO vendor_prices (tenant_id, vendor_id, product_id, unit_price_minor, valid_until, set_by) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, vendor_id, product_id) DO UPDATE \
         SET unit_price_minor = $4, valid_until = $5, set_by = $6, set_at = now()",
    )
    .bind(tenant)
    .bind(vendor)
    .bind(product)
    .bind(price)
    .bind(valid_until)
    .bind(by)
    .execute(tx)
    .await?;
    Ok(())
}

/// The products below their reorder level at `location`: (product, SKU, places, on hand,
/// level, daily sales over the last 30 days).
pub(crate) async fn below_reorder_level(
    tx: &mut PgConnection,
    tenant: Uuid,
    location: Uuid,
) -> Result<Vec<(Uuid, String, i16, Decimal, Decimal, Decimal)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.id, p.sku, p.unit_decimals, s.on_hand, p.reorder_level, \
           coalesce((SELECT sum(d.quantity) FROM daily_sales d WHERE d.tenant_id = $1 \
             AND d.location_id = $2 AND d.product_id = p.id AND d.day > current_date - 30), 0) / 30 \
         FROM stock_positions s JOIN products p ON p.tenant_id = s.tenant_id AND p.id = s.product_id \
         WHERE s.tenant_id = $1 AND s.location_id = $2 AND p.reorder_level IS NOT NULL \
           AND NOT p.archived AND s.on_hand < p.reorder_level ORDER BY p.sku",
    )
    .bind(tenant)
    .bind(location)
    .fetch_all(tx)
    .await
}

/// The cheapest recent (90 days) or contracted offer for `product`: (vendor, price).
pub(crate) async fn best_offer(
    tx: &mut PgConnection,
    tenant: Uuid,
    product: Uuid,
) -> Result<Option<(Uuid, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT vendor_id, price FROM ( \
           SELECT g.vendor_id, l.unit_cost_minor AS price FROM grn_lines l JOIN grns g ON g.id = l.grn_id \
           WHERE l.tenant_id = $1 AND l.product_id = $2 AND g.received_at > now() - interval '90 days' \
           UNION ALL SELECT vendor_id, unit_price_minor FROM vendor_prices WHERE tenant_id = $1 \
           AND product_id = $2 AND (valid_until IS NULL OR valid_until >= current_date)) offers \
         ORDER BY price, vendor_id LIMIT 1",
    )
    .bind(tenant)
    .bind(product)
    .fetch_optional(tx)
    .await
}
