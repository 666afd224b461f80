//! Catalog's SQL. Every function runs in the caller's transaction, begun for the tenant.

use bazaar_platform::{
    money::{Currency, Money},
    outbox::{self, OutboxError},
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

/// A product from a bulk import (no variants: those are created one by one).
pub(crate) struct ImportedProduct<'a> {
    pub(crate) id: Uuid,
    pub(crate) sku: &'a str,
    pub(crate) name: &'a str,
    pub(crate) description: Option<&'a str>,
    pub(crate) brand: Option<&'a str>,
    pub(crate) category_id: Option<Uuid>,
    pub(crate) unit: &'a str,
    pub(crate) unit_decimals: i16,
    pub(crate) hsn_code: Option<&'a str>,
    pub(crate) gst_rate_bp: i32,
    pub(crate) cess_rate_bp: i32,
    pub(crate) currency: &'a str,
    pub(crate) mrp_minor: i64,
    pub(crate) selling_price_minor: i64,
    pub(crate) tax_inclusive: bool,
    pub(crate) reorder_level: Option<Decimal>,
}

/// Inserts many products in one statement.
pub(crate) async fn insert_products(
    tx: &mut PgConnection,
    tenant: Uuid,
    rows: &[ImportedProduct<'_>],
) -> sqlx::Result<()> {
    fn column<T, U>(rows: &[T], f: impl Fn(&T) -> U) -> Vec<U> {
        rows.iter().map(f).collect()
    }
    sqlx::query(
        "INSERT INTO products (id, tenant_id, sku, name, description, brand, category_id, unit, \
             unit_decimals, hsn_code, gst_rate_bp, cess_rate_bp, currency, mrp_minor, \
             selling_price_minor, tax_inclusive, reorder_level) \
         SELECT u.id, $1, u.sku, u.name, u.description, u.brand, u.category_id, u.unit, \
             u.unit_decimals, u.hsn_code, u.gst_rate_bp, u.cess_rate_bp, u.currency, u.mrp_minor, \
             u.selling_price_minor, u.tax_inclusive, u.reorder_level \
         FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[], \
             $8::text[], $9::int2[], $10::text[], $11::int4[], $12::int4[], $13::text[], \
             $14::int8[], $15::int8[], $16::bool[], $17::numeric[]) \
           AS u(id, sku, name, description, brand, category_id, unit, unit_decimals, hsn_code, \
                gst_rate_bp, cess_rate_bp, currency, mrp_minor, selling_price_minor, \
                tax_inclusive, reorder_level)",
    )
    .bind(tenant)
    .bind(column(rows, |r| r.id))
    .bind(column(rows, |r| r.sku))
    .bind(column(rows, |r| r.name))
    .bind(column(rows, |r| r.description))
    .bind(column(rows, |r| r.brand))
    .bind(column(rows, |r| r.category_id))
    .bind(column(rows, |r| r.unit))
    .bind(column(rows, |r| r.unit_decimals))
    .bind(column(rows, |r| r.hsn_code))
    .bind(column(rows, |r| r.gst_rate_bp))
    .bind(column(rows, |r| r.cess_rate_bp))
    .bind(column(rows, |r| r.currency))
    .bind(column(rows, |r| r.mrp_minor))
    .bind(column(rows, |r| r.selling_price_minor))
    .bind(column(rows, |r| r.tax_inclusive))
    .bind(column(rows, |r| r.reorder_level))
    .execute(tx)
    .await?;
    Ok(())
}

/// Attaches many barcodes in one statement; the caller has checked none is in use.
pub(crate) async fn insert_barcodes(
    tx: &mut PgConnection,
    tenant: Uuid,
    barcodes: &[(Uuid, &str, crate::domain::BarcodeKind)],
) -> sqlx::Result<()> {
    let products: Vec<Uuid> = barcodes.iter().map(|b| b.0).collect();
    let codes: Vec<&str> = barcodes.iter().map(|b| b.1).collect();
    let kinds: Vec<&str> = barcodes.iter().map(|b| b.2.code()).collect();
    sqlx::query(
        "INSERT INTO barcodes (tenant_id, code, product_id, kind) \
         SELECT $1, u.code, u.product_id, u.kind \
         FROM UNNEST($2::text[], $3::uuid[], $4::text[]) AS u(code, product_id, kind)",
    )
    .bind(tenant)
    .bind(codes)
    .bind(products)
    .bind(kinds)
    .execute(tx)
    .await?;
    Ok(())
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

/// A product to insert, already checked.
pub(crate) struct NewProductRow<'a> {
    pub(crate) sku: &'a str,
    pub(crate) name: &'a str,
    pub(crate) description: Option<&'a str>,
    pub(crate) brand: Option<&'a str>,
    pub(crate) category_id: Option<Uuid>,
    pub(crate) variant_of: Option<Uuid>,
    pub(crate) attributes: &'a std::collections::BTreeMap<String, String>,
    pub(crate) unit: &'a str,
    pub(crate) unit_decimals: i16,
    pub(crate) hsn_code: Option<&'a str>,
    pub(crate) gst_rate_bp: i32,
    pub(crate) cess_rate_bp: i32,
    pub(crate) currency: &'a str,
    pub(crate) mrp_minor: i64,
    pub(crate) selling_price_minor: i64,
    pub(crate) tax_inclusive: bool,
    pub(crate) reorder_level: Option<Decimal>,
}

/// Inserts a product; `None` when the SKU is taken.
pub(crate) async fn insert_product(
    tx: &mut PgConnection,
    tenant: Uuid,
    p: &NewProductRow<'_>,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "INSERT INTO products (id, tenant_id, sku, name, description, brand, category_id, \
             variant_of, attributes, unit, unit_decimals, hsn_code, gst_rate_bp, cess_rate_bp, \
             currency, mrp_minor, selling_price_minor, tax_inclusive, reorder_level) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
         ON CONFLICT (tenant_id, sku) DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(p.sku)
    .bind(p.name)
    .bind(p.description)
    .bind(p.brand)
    .bind(p.category_id)
    .bind(p.variant_of)
    .bind(sqlx::types::Json(p.attributes))
    .bind(p.unit)
    .bind(p.unit_decimals)
    .bind(p.hsn_code)
    .bind(p.gst_rate_bp)
    .bind(p.cess_rate_bp)
    .bind(p.currency)
    .bind(p.mrp_minor)
    .bind(p.selling_price_minor)
    .bind(p.tax_inclusive)
    .bind(p.reorder_level)
    .fetch_optional(tx)
    .await
}

/// Writes a product's descriptive fields and bumps its version.
pub(crate) async fn update_product(tx: &mut PgConnection, p: &ProductRow) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE products SET name = $3, description = $4, brand = $5, category_id = $6, \
             hsn_code = $7, gst_rate_bp = $8, cess_rate_bp = $9, tax_inclusive = $10, \
             reorder_level = $11, version = version + 1, updated_at = now() \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(p.tenant_id)
    .bind(p.id)
    .bind(&p.name)
    .bind(&p.description)
    .bind(&p.brand)
    .bind(p.category_id)
    .bind(&p.hsn_code)
    .bind(p.gst_rate_bp)
    .bind(p.cess_rate_bp)
    .bind(p.tax_inclusive)
    .bind(p.reorder_level)
    .execute(tx)
    .await
    .map(drop)
}

/// Sets a product's prices and bumps its version.
pub(crate) async fn set_prices(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    mrp_minor: i64,
    selling_minor: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE products SET mrp_minor = $3, selling_price_minor = $4, version = version + 1, \
             updated_at = now() WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .bind(mrp_minor)
    .bind(selling_minor)
    .execute(tx)
    .await
    .map(drop)
}

/// Archives a product.
pub(crate) async fn archive(tx: &mut PgConnection, tenant: Uuid, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE products SET archived_at = now(), version = version + 1, updated_at = now() \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .execute(tx)
    .await
    .map(drop)
}

/// Attaches a barcode; `false` when the tenant already uses it.
pub(crate) async fn insert_barcode(
    tx: &mut PgConnection,
    tenant: Uuid,
    code: &str,
    product: Uuid,
    kind: &str,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO barcodes (tenant_id, code, product_id, kind) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, code) DO NOTHING",
    )
    .bind(tenant)
    .bind(code)
    .bind(product)
    .bind(kind)
    .execute(tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
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

/// Inserts a category; `None` when its parent already has a child of that name.
pub(crate) async fn insert_category(
    tx: &mut PgConnection,
    tenant: Uuid,
    parent: Option<Uuid>,
    name: &str,
    path: &str,
) -> sqlx::Result<Option<Category>> {
    sqlx::query_as(
        "INSERT INTO categories (id, tenant_id, parent_id, name, path) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id, coalesce(parent_id, '00000000-0000-0000-0000-000000000000'), \
                      lower(name)) DO NOTHING \
         RETURNING id, parent_id, name, path, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(parent)
    .bind(name)
    .bind(path)
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

/// Appends `event` about `subject`, keyed by it.
pub(crate) async fn event<E: bazaar_schemas::Event>(
    tx: &mut PgConnection,
    tenant: Uuid,
    subject: Uuid,
    event: &E,
) -> Result<Uuid, OutboxError> {
    outbox::append_event(tx, SERVICE, tenant, &subject.to_string(), event).await
}
