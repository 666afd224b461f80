//! Returns to vendors' SQL: the receipt goods go back against, what of it can still go
//! back, and the debit note, written from its event.

use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

/// Receipt `grn`, locked: (vendor, location, place of supply, the vendor's state, the
/// order's currency, the order).
pub(crate) async fn lock_receipt(
    tx: &mut PgConnection,
    tenant: Uuid,
    grn: Uuid,
) -> Result<Option<(Uuid, Uuid, String, String, String, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT g.vendor_id, g.location_id, o.place_of_supply, v.state_code, o.currency, o.id FROM grns g \
         JOIN purchase_orders o ON o.id = g.po_id JOIN vendors v ON v.tenant_id = g.tenant_id AND v.id = g.vendor_id \
         WHERE g.tenant_id = $1 AND g.id = $2 FOR UPDATE OF g",
    )
    .bind(tenant)
    .bind(grn)
    .fetch_optional(tx)
    .await
}

/// What of `product` on receipt `grn` can still go back: (line, quantity, batch, unit cost).
pub(crate) async fn returnable(
    tx: &mut PgConnection,
    grn: Uuid,
    product: Uuid,
) -> Result<Option<(i32, Decimal, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT line_no, quantity_received - quantity_returned, batch, unit_cost_minor FROM grn_lines \
         WHERE grn_id = $1 AND product_id = $2",
    )
    .bind(grn)
    .bind(product)
    .fetch_optional(tx)
    .await
}

/// The debit note `processed` describes, and what of each receipt line went back.
pub(crate) async fn record(
    tx: &mut PgConnection,
    processed: &bazaar_schemas::events::purchase::PurchaseReturnProcessed,
) -> Result<(), sqlx::Error> {
    let returned_at =
        chrono::DateTime::from_timestamp_millis(processed.returned_at).ok_or_else(|| {
            sqlx::Error::Decode(format!("{} is not a time", processed.returned_at).into())
        })?;
    sqlx::query(
        "INSERT INTO purchase_returns (id, tenant_id, number, grn_id, vendor_id, reason, total_minor, \
         returned_by, returned_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(processed.return_id)
    .bind(processed.tenant_id)
    .bind(&processed.debit_note_number)
    .bind(processed.grn_id)
    .bind(processed.vendor_id)
    .bind(&processed.reason)
    .bind(processed.total_minor)
    .bind(processed.returned_by)
    .bind(returned_at)
    .execute(&mut *tx)
    .await?;
    // A receipt has one line per product.
    for line in &processed.lines {
        sqlx::query(
            "UPDATE grn_lines SET quantity_returned = quantity_returned + $3::numeric \
             WHERE tenant_id = $4 AND grn_id = $1 AND product_id = $2",
        )
        .bind(processed.grn_id)
        .bind(line.product_id)
        .bind(&line.quantity)
        .bind(processed.tenant_id)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
