//! Catalog's SQL. Every function runs in the caller's transaction, begun for the tenant.

use bazaar_platform::db::EVENT_TIME as AT;
use bazaar_platform::{
    money::{Currency, Money},
    outbox::{self, OutboxError},
};
use bazaar_schemas::events::catalog::{
    BarcodeAssigned, CategoryCreated, PriceChanged, ProductArchived, ProductCreated, ProductUpdated,
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

/// The service name: `ce_source` of its events and the name of its database.
pub const SERVICE: &str = "catalog";

/// A product row with its barcodes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ProductRow {
    pub(crate) id: Uuid,
    pub(crate) tenant_id: Uuid,
    pub(crate) sku: String,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) brand: Option<String>,
    pub(crate) category_id: Option<Uuid>,
    pub(crate) variant_of: Option<Uuid>,
    pub(crate) attributes: sqlx::types::Json<std::collections::BTreeMap<String, String>>,
    pub(crate) unit: String,
    pub(crate) unit_decimals: i16,
    pub(crate) hsn_code: Option<String>,
    pub(crate) gst_rate_bp: i32,
    pub(crate) cess_rate_bp: i32,
    pub(crate) currency: Currency,
    pub(crate) mrp_minor: i64,
    pub(crate) selling_price_minor: i64,
    pub(crate) tax_inclusive: bool,
    pub(crate) reorder_level: Option<Decimal>,
    pub(crate) archived_at: Option<DateTime<Utc>>,
    pub(crate) version: i32,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) barcodes: Vec<String>,
    /// The category's path, `Staples / Rice`.
    pub(crate) category_path: Option<String>,
}

impl ProductRow {
    pub(crate) fn money(&self, minor: i64) -> Money {
        Money::new(minor, self.currency)
    }
}

/// Every column of a product plus its barcodes, from `products p`.
const PRODUCT: &str = "p.id, p.tenant_id, p.sku, p.name, p.description, p.brand, p.category_id, \
    p.variant_of, p.attributes, p.unit, p.unit_decimals, p.hsn_code, p.gst_rate_bp, \
    p.cess_rate_bp, p.currency, p.mrp_minor, p.selling_price_minor, p.tax_inclusive, \
    p.reorder_level, p.archived_at, p.version, p.created_at, p.updated_at, \
    ARRAY(SELECT b.code FROM barcodes b WHERE b.tenant_id = p.tenant_id AND b.product_id = p.id \
          ORDER BY b.code) AS barcodes, \
    (SELECT c.path FROM categories c WHERE c.id = p.category_id) AS category_path";

/// A product of the tenant, locked for update when `lock`.
pub(crate) async fn product(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    lock: bool,
) -> sqlx::Result<Option<ProductRow>> {
    let lock = if lock { " FOR UPDATE OF p" } else { "" };
    sqlx::query_as(&format!(
        "SELECT {PRODUCT} FROM products p WHERE p.tenant_id = $1 AND p.id = $2{lock}"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// The tenant's products with these SKUs.
pub(crate) async fn products_by_sku(
    tx: &mut PgConnection,
    tenant: Uuid,
    skus: &[String],
) -> sqlx::Result<Vec<ProductRow>> {
    sqlx::query_as(&format!(
        // Driven from the list, one index probe per SKU: a bulk import grows the table
        // faster than its statistics, and a plan from stale ones would scan it per row.
        "SELECT {PRODUCT} FROM unnest($2::text[]) AS wanted(sku) \
         CROSS JOIN LATERAL (SELECT * FROM products q WHERE q.tenant_id = $1 \
                             AND q.sku = wanted.sku FOR UPDATE) AS p"
    ))
    .bind(tenant)
    .bind(skus)
    .fetch_all(tx)
    .await
}

/// A page of the tenant's active products in SKU order, after `after`: what export
/// streams.
pub(crate) async fn products_after(
    tx: &mut PgConnection,
    tenant: Uuid,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<ProductRow>> {
    sqlx::query_as(&format!(
        "SELECT {PRODUCT} FROM products p WHERE p.tenant_id = $1 AND p.sku > $2 \
         AND p.archived_at IS NULL ORDER BY p.sku LIMIT $3"
    ))
    .bind(tenant)
    .bind(after)
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// Which SKU each of these barcodes identifies, for those in use.
pub(crate) async fn barcode_owners(
    tx: &mut PgConnection,
    tenant: Uuid,
    codes: &[String],
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        // One index probe per code, whatever the statistics say (see products_by_sku).
        "SELECT b.code, p.sku FROM unnest($2::text[]) AS wanted(code) \
         CROSS JOIN LATERAL (SELECT code, product_id FROM barcodes \
                             WHERE tenant_id = $1 AND code = wanted.code) AS b \
         CROSS JOIN LATERAL (SELECT sku FROM products WHERE id = b.product_id) AS p",
    )
    .bind(tenant)
    .bind(codes)
    .fetch_all(tx)
    .await
}

/// The product a barcode identifies: the POS's hot path, one primary-key probe.
pub(crate) async fn product_by_barcode(
    tx: &mut PgConnection,
    tenant: Uuid,
    code: &str,
) -> sqlx::Result<Option<ProductRow>> {
    sqlx::query_as(&format!(
        "SELECT {PRODUCT} FROM barcodes hit JOIN products p ON p.id = hit.product_id \
         WHERE hit.tenant_id = $1 AND hit.code = $2"
    ))
    .bind(tenant)
    .bind(code)
    .fetch_optional(tx)
    .await
}

/// What a product list is filtered and sorted by.
#[derive(Debug, Default)]
pub(crate) struct ProductFilter {
    pub(crate) q: Option<String>,
    pub(crate) sku: Option<String>,
    pub(crate) barcode: Option<String>,
    pub(crate) category: Option<Uuid>,
    pub(crate) brand: Option<String>,
    pub(crate) archived: Option<bool>,
    /// A column and direction, already checked against the allowed list.
    pub(crate) order_by: &'static str,
}

/// A page of the tenant's products.
pub(crate) async fn products(
    tx: &mut PgConnection,
    tenant: Uuid,
    filter: &ProductFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<ProductRow>> {
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {PRODUCT} FROM products p WHERE p.tenant_id = "
    ));
    query.push_bind(tenant);
    if let Some(q) = &filter.q {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query
            .push(" AND lower(p.name) LIKE ")
            .push_bind(format!("%{}%", escaped.to_lowercase()));
    }
    if let Some(sku) = &filter.sku {
        query.push(" AND p.sku = ").push_bind(sku.clone());
    }
    if let Some(code) = &filter.barcode {
        query
            .push(
                " AND EXISTS (SELECT FROM barcodes b WHERE b.tenant_id = p.tenant_id AND b.code = ",
            )
            .push_bind(code.clone())
            .push(" AND b.product_id = p.id)");
    }
    if let Some(category) = filter.category {
        query.push(" AND p.category_id = ").push_bind(category);
    }
    if let Some(brand) = &filter.brand {
        query
            .push(" AND lower(p.brand) = ")
            .push_bind(brand.to_lowercase());
    }
    match filter.archived {
        Some(true) => query.push(" AND p.archived_at IS NOT NULL"),
        Some(false) => query.push(" AND p.archived_at IS NULL"),
        None => &mut query,
    };
    query
        .push(" ORDER BY ")
        .push(filter.order_by)
        .push(", p.id LIMIT ")
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset);
    query.build_query_as().fetch_all(tx).await
}

/// The tenant's barcode prefix and its next item number, which this call takes.
pub(crate) async fn next_generated_item(
    tx: &mut PgConnection,
    tenant: Uuid,
) -> sqlx::Result<(String, i64)> {
    sqlx::query_as(
        "INSERT INTO barcode_series AS s (tenant_id, prefix, next_item) VALUES ($1, '200', 2) \
         ON CONFLICT (tenant_id) DO UPDATE SET next_item = s.next_item + 1 \
         RETURNING prefix, next_item - 1",
    )
    .bind(tenant)
    .fetch_one(tx)
    .await
}

/// A category.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Category {
    /// The category.
    pub id: Uuid,
    /// Its parent; `null` at the root.
    pub parent_id: Option<Uuid>,
    /// Its name.
    pub name: String,
    /// Names from the root, joined by ` / `.
    pub path: String,
    /// When created.
    pub created_at: DateTime<Utc>,
}

/// The path of a category, or `None` when it is not the tenant's.
pub(crate) async fn category_path(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT path FROM categories WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// The tenant's categories, by path.
pub(crate) async fn categories(
    tx: &mut PgConnection,
    tenant: Uuid,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Category>> {
    sqlx::query_as(
        "SELECT id, parent_id, name, path, created_at FROM categories WHERE tenant_id = $1 \
         ORDER BY lower(path) LIMIT $2 OFFSET $3",
    )
    .bind(tenant)
    .bind(limit)
    .bind(offset)
    .fetch_all(tx)
    .await
}

/// Writes products as their `catalog.product.created` events say, in one statement; how
/// many were new. A taken SKU or id is skipped: the caller decides what that means.
pub(crate) async fn products_created(
    tx: &mut PgConnection,
    created: &[&ProductCreated],
) -> sqlx::Result<u64> {
    fn column<'a, U>(rows: &[&'a ProductCreated], f: impl Fn(&'a ProductCreated) -> U) -> Vec<U> {
        rows.iter().map(|r| f(r)).collect()
    }
    let inserted = sqlx::query(&format!(
        "INSERT INTO products (id, tenant_id, sku, name, description, brand, category_id, \
             variant_of, attributes, unit, unit_decimals, hsn_code, gst_rate_bp, cess_rate_bp, \
             currency, mrp_minor, selling_price_minor, tax_inclusive, reorder_level, \
             created_at, updated_at) \
         SELECT u.id, u.tenant_id, u.sku, u.name, u.description, u.brand, u.category_id, \
             u.variant_of, u.attributes, u.unit, u.unit_decimals, u.hsn_code, u.gst_rate_bp, \
             u.cess_rate_bp, u.currency, u.mrp_minor, u.selling_price_minor, u.tax_inclusive, \
             u.reorder_level::numeric, {AT} u.at, {AT} u.at \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::uuid[], $8::uuid[], $9::jsonb[], $10::text[], $11::int2[], $12::text[], \
             $13::int4[], $14::int4[], $15::text[], $16::int8[], $17::int8[], $18::bool[], \
             $19::text[], $20::int8[]) \
           AS u(id, tenant_id, sku, name, description, brand, category_id, variant_of, \
                attributes, unit, unit_decimals, hsn_code, gst_rate_bp, cess_rate_bp, currency, \
                mrp_minor, selling_price_minor, tax_inclusive, reorder_level, at) \
         ON CONFLICT DO NOTHING"
    ))
    .bind(column(created, |r| r.product_id))
    .bind(column(created, |r| r.tenant_id))
    .bind(column(created, |r| &r.sku))
    .bind(column(created, |r| &r.name))
    .bind(column(created, |r| &r.description))
    .bind(column(created, |r| &r.brand))
    .bind(column(created, |r| r.category_id))
    .bind(column(created, |r| r.variant_of))
    .bind(column(created, |r| sqlx::types::Json(&r.attributes)))
    .bind(column(created, |r| &r.unit))
    .bind(column(created, |r| r.unit_decimals as i16))
    .bind(column(created, |r| &r.hsn_code))
    .bind(column(created, |r| r.gst_rate_bp))
    .bind(column(created, |r| r.cess_rate_bp))
    .bind(column(created, |r| &r.currency))
    .bind(column(created, |r| r.mrp_minor))
    .bind(column(created, |r| r.selling_price_minor))
    .bind(column(created, |r| r.tax_inclusive))
    .bind(column(created, |r| &r.reorder_level))
    .bind(column(created, |r| r.created_at))
    .execute(tx)
    .await?;
    Ok(inserted.rows_affected())
}

/// Writes a product's descriptive fields and version as `catalog.product.updated` says.
pub(crate) async fn product_updated(
    tx: &mut PgConnection,
    updated: &ProductUpdated,
) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "UPDATE products SET name = $3, description = $4, brand = $5, category_id = $6, \
             hsn_code = $7, gst_rate_bp = $8, cess_rate_bp = $9, tax_inclusive = $10, \
             reorder_level = $11::numeric, version = $12, updated_at = {AT} $13 \
         WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(updated.tenant_id)
    .bind(updated.product_id)
    .bind(&updated.name)
    .bind(&updated.description)
    .bind(&updated.brand)
    .bind(updated.category_id)
    .bind(&updated.hsn_code)
    .bind(updated.gst_rate_bp)
    .bind(updated.cess_rate_bp)
    .bind(updated.tax_inclusive)
    .bind(&updated.reorder_level)
    .bind(updated.version)
    .bind(updated.updated_at)
    .execute(tx)
    .await
    .map(drop)
}

/// Sets a product's prices as `catalog.price.changed` says and bumps its version.
pub(crate) async fn price_changed(
    tx: &mut PgConnection,
    changed: &PriceChanged,
) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "UPDATE products SET mrp_minor = $3, selling_price_minor = $4, version = version + 1, \
             updated_at = {AT} $5 WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(changed.tenant_id)
    .bind(changed.product_id)
    .bind(changed.mrp_minor)
    .bind(changed.selling_price_minor)
    .bind(changed.changed_at)
    .execute(tx)
    .await
    .map(drop)
}

/// Archives a product as `catalog.product.archived` says and bumps its version.
pub(crate) async fn product_archived(
    tx: &mut PgConnection,
    archived: &ProductArchived,
) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "UPDATE products SET archived_at = {AT} $3, version = version + 1, \
             updated_at = {AT} $3 WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(archived.tenant_id)
    .bind(archived.product_id)
    .bind(archived.archived_at)
    .execute(tx)
    .await
    .map(drop)
}

/// Attaches barcodes as their `catalog.barcode.assigned` events say, in one statement;
/// how many were new (a code the tenant already uses is skipped).
pub(crate) async fn barcodes_assigned(
    tx: &mut PgConnection,
    assigned: &[&BarcodeAssigned],
) -> sqlx::Result<u64> {
    let inserted = sqlx::query(&format!(
        "INSERT INTO barcodes (tenant_id, code, product_id, kind, assigned_at) \
         SELECT u.tenant_id, u.code, u.product_id, u.kind, {AT} u.at \
         FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::int8[]) \
           AS u(tenant_id, code, product_id, kind, at) \
         ON CONFLICT DO NOTHING"
    ))
    .bind(assigned.iter().map(|b| b.tenant_id).collect::<Vec<_>>())
    .bind(assigned.iter().map(|b| &b.barcode).collect::<Vec<_>>())
    .bind(assigned.iter().map(|b| b.product_id).collect::<Vec<_>>())
    .bind(assigned.iter().map(|b| &b.kind).collect::<Vec<_>>())
    .bind(assigned.iter().map(|b| b.assigned_at).collect::<Vec<_>>())
    .execute(tx)
    .await?;
    Ok(inserted.rows_affected())
}

/// Writes a category as `catalog.category.created` says; `None` when its parent already
/// has a child of that name.
pub(crate) async fn category_created(
    tx: &mut PgConnection,
    created: &CategoryCreated,
) -> sqlx::Result<Option<Category>> {
    sqlx::query_as(&format!(
        "INSERT INTO categories (id, tenant_id, parent_id, name, path, created_at) \
         VALUES ($1, $2, $3, $4, $5, {AT} $6) \
         ON CONFLICT DO NOTHING \
         RETURNING id, parent_id, name, path, created_at"
    ))
    .bind(created.category_id)
    .bind(created.tenant_id)
    .bind(created.parent_id)
    .bind(&created.name)
    .bind(&created.path)
    .bind(created.created_at)
    .fetch_optional(tx)
    .await
}

/// Appends `event` about `subject`, keyed by it.
pub(crate) async fn event<E: bazaar_schemas::Event>(
    tx: &mut PgConnection,
    tenant: Uuid,
    subject: Uuid,
    event: &E,
) -> Result<Uuid, OutboxError> {
    outbox::append_event(tx, SERVICE, tenant, &subject.to_string(), event).await
}
