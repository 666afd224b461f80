//! Partners' SQL for customers and vendors: loaded, written, listed. What a handler
//! decides about them is in `http.rs`; what they owe is in `ledgers.rs`.

use bazaar_platform::db::EVENT_TIME as AT;
use bazaar_platform::money::Money;
use bazaar_schemas::events::partners::{
    CustomerUpdated, LoyaltyRedeemed, PaymentReceived, VendorUpdated,
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    domain::Address,
    http::{LoyaltyRule, DEFAULT_RULE},
};

/// A customer.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub(crate) struct Customer {
    /// The customer.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// E.164 phone, unique in the tenant.
    pub phone: String,
    /// Email.
    pub email: Option<String>,
    /// GSTIN of a business customer.
    pub gstin: Option<String>,
    /// Billing address.
    #[sqlx(json(nullable))]
    pub billing_address: Option<Address>,
    /// Shipping address.
    #[sqlx(json(nullable))]
    pub shipping_address: Option<Address>,
    /// Group, e.g. `wholesale`.
    pub customer_group: Option<String>,
    /// Credit limit (0: no credit).
    #[sqlx(skip)]
    #[schema(value_type = Object)]
    pub credit_limit: Option<Money>,
    #[serde(skip)]
    #[schema(ignore)]
    pub credit_limit_minor: i64,
    #[serde(skip)]
    #[schema(ignore)]
    pub currency: String,
    /// Days to pay a credit sale.
    pub payment_terms_days: i32,
    /// Grows with every change.
    pub version: i32,
}

const CUSTOMER: &str = "SELECT id, name, phone, email, gstin, billing_address, shipping_address, \
    customer_group, credit_limit_minor, currency, payment_terms_days, version FROM customers";

/// The customer `id`, locked for the caller's transaction when `lock`.
pub(crate) async fn customer(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<Customer>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!(
        "{CUSTOMER} WHERE tenant_id = $1 AND id = $2{lock}"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Writes a customer as its event says: adds it (`insert`, from `.created`) or rewrites
/// it; `false` when its phone is another customer's.
pub(crate) async fn customer_written(
    tx: &mut PgConnection,
    c: &CustomerUpdated,
    insert: bool,
) -> Result<bool, sqlx::Error> {
    let sql = if insert {
        format!(
            "INSERT INTO customers (id, tenant_id, name, phone, email, gstin, billing_address, \
             shipping_address, customer_group, currency, credit_limit_minor, payment_terms_days, \
             version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, {AT} $14, {AT} $14) \
             ON CONFLICT DO NOTHING"
        )
    } else {
        format!(
            "UPDATE customers SET name = $3, phone = $4, email = $5, gstin = $6, \
             billing_address = $7, shipping_address = $8, customer_group = $9, currency = $10, \
             credit_limit_minor = $11, payment_terms_days = $12, version = $13, \
             updated_at = {AT} $14 WHERE id = $1 AND tenant_id = $2"
        )
    };
    let written = sqlx::query(&sql)
        .bind(c.customer_id)
        .bind(c.tenant_id)
        .bind(&c.name)
        .bind(&c.phone)
        .bind(&c.email)
        .bind(&c.gstin)
        .bind(c.billing_address.as_ref().map(sqlx::types::Json))
        .bind(c.shipping_address.as_ref().map(sqlx::types::Json))
        .bind(&c.customer_group)
        .bind(&c.currency)
        .bind(c.credit_limit_minor)
        .bind(c.payment_terms_days)
        .bind(c.version)
        .bind(c.recorded_at)
        .execute(tx)
        .await;
    match written {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        other => other.map(|done| done.rows_affected() == 1),
    }
}

/// Customers with phone `phone` and a name containing the `LIKE` pattern `name`, by name.
pub(crate) async fn customers(
    tx: &mut PgConnection,
    tenant: Uuid,
    phone: Option<String>,
    name: Option<String>,
    (limit, offset): (i64, i64),
) -> Result<Vec<Customer>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{CUSTOMER} WHERE tenant_id = $1 AND ($2::text IS NULL OR phone = $2) \
         AND ($3::text IS NULL OR lower(name) LIKE $3) ORDER BY lower(name), id LIMIT $4 OFFSET $5"
    ))
    .bind(tenant)
    .bind(phone)
    .bind(name)
    .bind(limit)
    .bind(offset)
    .fetch_all(tx)
    .await
}

/// A vendor's contact person.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Contact {
    /// Name.
    pub name: String,
    /// Phone, E.164.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
}

#[derive(sqlx::FromRow)]
/// A vendor as stored, bank details unmasked.
pub(crate) struct VendorRow {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) gstin: Option<String>,
    pub(crate) state_code: String,
    pub(crate) contacts: sqlx::types::Json<Vec<Contact>>,
    pub(crate) payment_terms_days: i32,
    pub(crate) currency: String,
    pub(crate) bank_account_number: Option<String>,
    pub(crate) bank_ifsc: Option<String>,
    pub(crate) bank_name: Option<String>,
    pub(crate) version: i32,
}

const VENDOR: &str = "SELECT v.id, v.name, v.gstin, v.state_code, v.contacts, \
    v.payment_terms_days, v.currency, b.account_number AS bank_account_number, v.bank_ifsc, \
    v.bank_name, v.version \
    FROM vendors v LEFT JOIN vendor_bank_accounts b ON b.vendor_id = v.id";

/// The vendor `id`, locked for the caller's transaction when `lock`.
pub(crate) async fn vendor(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<VendorRow>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE OF v" } else { "" };
    sqlx::query_as(&format!(
        "{VENDOR} WHERE v.tenant_id = $1 AND v.id = $2{lock}"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Writes a vendor as its event says: adds it (`insert`, from `.created`) or rewrites
/// it; `false` when its GSTIN is another vendor's.
pub(crate) async fn vendor_written(
    tx: &mut PgConnection,
    v: &VendorUpdated,
    insert: bool,
) -> Result<bool, sqlx::Error> {
    let sql = if insert {
        format!(
            "INSERT INTO vendors (id, tenant_id, name, gstin, state_code, contacts, \
             payment_terms_days, currency, bank_ifsc, bank_name, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, {AT} $12, {AT} $12) \
             ON CONFLICT DO NOTHING"
        )
    } else {
        format!(
            "UPDATE vendors SET name = $3, gstin = $4, state_code = $5, contacts = $6, \
             payment_terms_days = $7, currency = $8, bank_ifsc = $9, bank_name = $10, \
             version = $11, updated_at = {AT} $12 WHERE id = $1 AND tenant_id = $2"
        )
    };
    let written = sqlx::query(&sql)
        .bind(v.vendor_id)
        .bind(v.tenant_id)
        .bind(&v.name)
        .bind(&v.gstin)
        .bind(&v.state_code)
        .bind(sqlx::types::Json(&v.contacts))
        .bind(v.payment_terms_days)
        .bind(&v.currency)
        .bind(&v.bank_ifsc)
        .bind(&v.bank_name)
        .bind(v.version)
        .bind(v.recorded_at)
        .execute(tx)
        .await;
    match written {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        other => other.map(|done| done.rows_affected() == 1),
    }
}

/// Keeps (or, with `None`, forgets) a vendor's bank account number: the one vendor detail
/// the topics never carry in full.
pub(crate) async fn vendor_bank_account(
    tx: &mut PgConnection,
    tenant: Uuid,
    vendor: Uuid,
    number: Option<&str>,
) -> Result<(), sqlx::Error> {
    match number {
        Some(number) => sqlx::query(
            "INSERT INTO vendor_bank_accounts (tenant_id, vendor_id, account_number) \
             VALUES ($1, $2, $3) ON CONFLICT (vendor_id) DO UPDATE SET account_number = $3",
        )
        .bind(tenant)
        .bind(vendor)
        .bind(number),
        None => {
            sqlx::query("DELETE FROM vendor_bank_accounts WHERE tenant_id = $1 AND vendor_id = $2")
                .bind(tenant)
                .bind(vendor)
        }
    }
    .execute(tx)
    .await
    .map(drop)
}

/// The tenant's vendors by name, a page of them.
pub(crate) async fn vendors(
    tx: &mut PgConnection,
    tenant: Uuid,
    (limit, offset): (i64, i64),
) -> Result<Vec<VendorRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{VENDOR} WHERE v.tenant_id = $1 ORDER BY lower(v.name), v.id LIMIT $2 OFFSET $3"
    ))
    .bind(tenant)
    .bind(limit)
    .bind(offset)
    .fetch_all(tx)
    .await
}

/// The currency a `kind` (`customer` or `vendor`) is billed in, locked when `lock`: the
/// partner's row is what serialises its payments.
pub(crate) async fn billed_in(
    tx: &mut PgConnection,
    tenant: Uuid,
    kind: &'static str,
    id: Uuid,
    lock: bool,
) -> Result<Option<String>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_scalar(&format!(
        "SELECT currency FROM {kind}s WHERE tenant_id = $1 AND id = $2{lock}"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Records a payment with a `kind` (`customer` or `vendor`) as its event says; a payment
/// made is the same facts (see `same_facts!`).
pub(crate) async fn insert_payment(
    tx: &mut PgConnection,
    kind: &'static str,
    paid: &PaymentReceived,
) -> Result<(), sqlx::Error> {
    let paid_on: NaiveDate = paid
        .paid_on
        .parse()
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    sqlx::query(&format!(
        "INSERT INTO payments (id, tenant_id, partner_kind, partner_id, amount_minor, currency, \
         mode, reference, paid_on, recorded_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, {AT} $11)",
    ))
    .bind(paid.payment_id)
    .bind(paid.tenant_id)
    .bind(kind)
    .bind(paid.partner_id)
    .bind(paid.amount_minor)
    .bind(&paid.currency)
    .bind(&paid.mode)
    .bind(&paid.reference)
    .bind(paid_on)
    .bind(paid.recorded_by)
    .bind(paid.recorded_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// A partner's ledger: (date, due date, document type, number, signed amount), oldest first.
pub(crate) async fn ledger_entries(
    tx: &mut PgConnection,
    tenant: Uuid,
    kind: &'static str,
    id: Uuid,
) -> Result<Vec<(NaiveDate, NaiveDate, String, Option<String>, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT entry_date, due_date, document_type, document_number, amount_minor FROM ledger_entries \
         WHERE tenant_id = $1 AND partner_kind = $2 AND partner_id = $3 \
         ORDER BY entry_date, recorded_at, id",
    )
    .bind(tenant)
    .bind(kind)
    .bind(id)
    .fetch_all(tx)
    .await
}

/// Customers who owe: (id, name, phone, currency, balance, overdue), most owed first.
pub(crate) async fn owing(
    tx: &mut PgConnection,
    tenant: Uuid,
    (limit, offset): (i64, i64),
) -> Result<Vec<(Uuid, String, String, String, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id, c.name, c.phone, c.currency, sum(e.amount_minor)::int8, \
           greatest(sum(e.amount_minor) FILTER (WHERE e.due_date < current_date OR e.amount_minor < 0), 0)::int8 \
         FROM ledger_entries e JOIN customers c ON c.tenant_id = e.tenant_id AND c.id = e.partner_id \
         WHERE e.tenant_id = $1 AND e.partner_kind = 'customer' \
         GROUP BY c.id HAVING sum(e.amount_minor) > 0 \
         ORDER BY sum(e.amount_minor) DESC, c.id LIMIT $2 OFFSET $3",
    )
    .bind(tenant)
    .bind(limit)
    .bind(offset)
    .fetch_all(tx)
    .await
}

/// The ledger entries of `customers`: (customer, date, signed amount).
pub(crate) async fn dated_entries(
    tx: &mut PgConnection,
    tenant: Uuid,
    customers: &[Uuid],
) -> Result<Vec<(Uuid, NaiveDate, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT partner_id, entry_date, amount_minor FROM ledger_entries \
         WHERE tenant_id = $1 AND partner_kind = 'customer' AND partner_id = ANY($2)",
    )
    .bind(tenant)
    .bind(customers)
    .fetch_all(tx)
    .await
}

/// What customer `id` owes now.
pub(crate) async fn customer_balance(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(amount_minor), 0)::int8 FROM ledger_entries \
         WHERE tenant_id = $1 AND partner_kind = 'customer' AND partner_id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_one(tx)
    .await
}

/// The tenant's loyalty rule.
pub(crate) async fn loyalty_rule(
    tx: &mut PgConnection,
    tenant: Uuid,
) -> Result<LoyaltyRule, sqlx::Error> {
    let rule: Option<(i64, i64)> = sqlx::query_as(
        "SELECT spend_minor_per_point, point_value_minor FROM loyalty_rules WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_optional(tx)
    .await?;
    Ok(rule.map_or(DEFAULT_RULE, |(spend, value)| LoyaltyRule {
        spend_minor_per_point: spend,
        point_value_minor: value,
    }))
}

pub(crate) async fn points(
    tx: &mut PgConnection,
    tenant: Uuid,
    customer: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(points), 0)::int8 FROM loyalty_entries WHERE tenant_id = $1 AND customer_id = $2",
    )
    .bind(tenant)
    .bind(customer)
    .fetch_one(tx)
    .await
}

/// Sets the tenant's loyalty rule.
pub(crate) async fn set_loyalty_rule(
    tx: &mut PgConnection,
    tenant: Uuid,
    rule: &LoyaltyRule,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO loyalty_rules (tenant_id, spend_minor_per_point, point_value_minor) \
         VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET spend_minor_per_point = $2, point_value_minor = $3",
    )
    .bind(tenant)
    .bind(rule.spend_minor_per_point)
    .bind(rule.point_value_minor)
    .execute(tx)
    .await?;
    Ok(())
}

/// The loyalty entry a redemption is, as its event says; a redemption recorded before (a
/// rebuild replaying it) is left as it is.
pub(crate) async fn record_redemption(
    tx: &mut PgConnection,
    redeemed: &LoyaltyRedeemed,
) -> Result<(), sqlx::Error> {
    let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(redeemed.redeemed_at)
        .ok_or_else(|| {
            sqlx::Error::Decode(format!("{} is not a time", redeemed.redeemed_at).into())
        })?;
    sqlx::query(
        "INSERT INTO loyalty_entries (id, tenant_id, customer_id, points, reason, reference, created_at) \
         VALUES ($1, $2, $3, $4, 'redeemed', $5, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(redeemed.redemption_id)
    .bind(redeemed.tenant_id)
    .bind(redeemed.customer_id)
    .bind(-redeemed.points)
    .bind(&redeemed.reference)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}
