//! Partners' HTTP API: customers, vendors, payments, loyalty, credit checks and the
//! partner ledgers.

use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Router,
};
use bazaar_platform::http::PlatformCode;
use bazaar_platform::{
    auth::{self, Principal, Role},
    db,
    http::{idempotency, ApiError, Invalid, Json, Page, Path, Query},
    money::{self, Currency, Money},
    outbox, ServiceContext,
};
use bazaar_schemas::events;
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::Code;
use crate::{
    domain::{self, Address, Ageing},
    store::{self, Contact, Customer, VendorRow},
    SERVICE,
};

/// Who keeps customers: the back office and the tills.
const SELLERS: &[Role] = &[Role::Owner, Role::Admin, Role::StoreManager, Role::Cashier];
/// Who keeps vendors and pays them.
const BUYERS: &[Role] = &[Role::Owner, Role::Admin, Role::Accountant];
/// Who reads what customers owe.
const RECEIVABLES: &[Role] = &[
    Role::Owner,
    Role::Admin,
    Role::Accountant,
    Role::StoreManager,
];
/// Who sets the loyalty rule.
const ADMINS: &[Role] = &[Role::Owner, Role::Admin];
/// Who gives customers credit: a limit and payment terms are a decision for the books,
/// not for the till that then sells against them.
const CREDIT_SETTERS: &[Role] = &[Role::Owner, Role::Admin, Role::Accountant];
/// Who changes a customer's details: the tills, and the accountant who gives credit.
const CUSTOMER_EDITORS: &[Role] = &[
    Role::Owner,
    Role::Admin,
    Role::StoreManager,
    Role::Cashier,
    Role::Accountant,
];

/// Partners' routes; each names the roles it admits.
pub fn router(ctx: ServiceContext) -> Router {
    let pool = ctx.pool;
    let v = &ctx.verifier;
    let create = |route, roles| idempotency::creating(route, &pool, v, roles);
    Router::new()
        .route(
            "/api/v1/customers",
            get(list_customers)
                .route_layer(auth::allow(v, SELLERS))
                .merge(create(post(create_customer), SELLERS)),
        )
        .route(
            "/api/v1/customers/dues",
            get(customer_dues).route_layer(auth::allow(v, RECEIVABLES)),
        )
        .route(
            "/api/v1/customers/{id}",
            get(get_customer)
                .route_layer(auth::allow(v, SELLERS))
                .merge(
                    axum::routing::patch(update_customer)
                        .route_layer(auth::allow(v, CUSTOMER_EDITORS)),
                ),
        )
        .route(
            "/api/v1/customers/{id}/payments",
            create(post(receive_payment), SELLERS),
        )
        .route(
            "/api/v1/customers/{id}/ledger",
            get(customer_ledger).route_layer(auth::allow(v, RECEIVABLES)),
        )
        .route(
            "/api/v1/customers/{id}/credit-check",
            post(credit_check).route_layer(auth::allow(v, SELLERS)),
        )
        .route(
            "/api/v1/customers/{id}/loyalty",
            get(loyalty_balance).route_layer(auth::allow(v, SELLERS)),
        )
        .route(
            "/api/v1/customers/{id}/loyalty/redeem",
            create(post(redeem_points), SELLERS),
        )
        .route(
            "/api/v1/vendors",
            get(list_vendors)
                .route_layer(auth::allow(v, BUYERS))
                .merge(create(post(create_vendor), BUYERS)),
        )
        .route(
            "/api/v1/vendors/{id}",
            get(get_vendor)
                .route_layer(auth::allow(v, BUYERS))
                .merge(axum::routing::patch(update_vendor).route_layer(auth::allow(v, BUYERS))),
        )
        .route(
            "/api/v1/vendors/{id}/payments",
            create(post(make_payment), BUYERS),
        )
        .route(
            "/api/v1/vendors/{id}/ledger",
            get(vendor_ledger).route_layer(auth::allow(v, BUYERS)),
        )
        .route(
            "/api/v1/loyalty/rule",
            get(get_loyalty_rule)
                .route_layer(auth::allow(v, SELLERS))
                .merge(axum::routing::put(set_loyalty_rule).route_layer(auth::allow(v, ADMINS))),
        )
        .with_state(pool.clone())
}

/// Partners' part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(list_customers, create_customer, get_customer, update_customer, receive_payment,
          customer_ledger, customer_dues, credit_check, loyalty_balance, redeem_points,
          list_vendors, create_vendor, get_vendor, update_vendor, make_payment, vendor_ledger,
          get_loyalty_rule, set_loyalty_rule),
    components(schemas(Customer, CustomerBody, Vendor, VendorBody, Contact, Bank, Address,
                       Payment, PaymentBody, Ledger, LedgerEntry, Ageing, Due, CreditCheck,
                       CreditAnswer, Loyalty, Redemption, RedemptionBody, LoyaltyRule)),
    tags((name = "partners", description = "Customers, vendors, payments, loyalty and ledgers"))
)]
pub struct PartnersApi;

async fn event<E: bazaar_schemas::Event>(
    tx: &mut PgConnection,
    tenant: Uuid,
    subject: Uuid,
    event: &E,
) -> Result<Uuid, ApiError> {
    Ok(outbox::append_event(tx, SERVICE, tenant, &subject.to_string(), event).await?)
}

fn not_found(kind: &str, id: Uuid) -> ApiError {
    ApiError::not_found(format!("no {kind} {id}"))
}

/// The customer `id`: 404 when there is none.
async fn customer(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Customer, ApiError> {
    store::customer(tx, tenant, id, lock)
        .await?
        .ok_or_else(|| not_found("customer", id))
}

/// The vendor `id`: 404 when there is none.
async fn vendor(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<VendorRow, ApiError> {
    store::vendor(tx, tenant, id, lock)
        .await?
        .ok_or_else(|| not_found("vendor", id))
}

/// Adds (`insert`) or rewrites vendor `v` and returns its event: 409 `gstin_taken` when
/// another vendor has its GSTIN.
async fn write_vendor(
    tx: &mut PgConnection,
    tenant: Uuid,
    v: &VendorRow,
    insert: bool,
) -> Result<events::partners::VendorUpdated, ApiError> {
    let written = vendor_event(tenant, v);
    if !store::vendor_written(tx, &written, insert).await? {
        return Err(ApiError::new(
            Code::GstinTaken,
            format!(
                "another vendor has the GSTIN {}",
                v.gstin.as_deref().unwrap_or_default()
            ),
        ));
    }
    store::vendor_bank_account(tx, tenant, v.id, v.bank_account_number.as_deref()).await?;
    Ok(written)
}

// ---------------------------------------------------------------- customers

fn shown(mut customer: Customer) -> Result<Customer, ApiError> {
    customer.credit_limit = Some(Money::new(
        customer.credit_limit_minor,
        money::stored_currency(&customer.currency)?,
    ));
    Ok(customer)
}

/// A new customer, or (for PATCH) the fields to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CustomerBody {
    name: Option<String>,
    /// A 10-digit mobile number or +<country code><number>.
    phone: Option<String>,
    email: Option<String>,
    gstin: Option<String>,
    billing_address: Option<Address>,
    shipping_address: Option<Address>,
    customer_group: Option<String>,
    #[schema(value_type = Option<Object>)]
    credit_limit: Option<Money>,
    payment_terms_days: Option<i32>,
}

fn address(a: &Address) -> events::partners::CustomerUpdatedAddress {
    events::partners::CustomerUpdatedAddress {
        line1: a.line1.clone(),
        line2: a.line2.clone(),
        city: a.city.clone(),
        state_code: a.state_code.clone(),
        pincode: a.pincode.clone(),
    }
}

/// `partners.customer.updated`, and the same facts as `.created`.
fn customer_event(tenant: Uuid, c: &Customer) -> events::partners::CustomerUpdated {
    events::partners::CustomerUpdated {
        tenant_id: tenant,
        customer_id: c.id,
        name: c.name.clone(),
        phone: c.phone.clone(),
        email: c.email.clone(),
        gstin: c.gstin.clone(),
        billing_state_code: c.billing_address.as_ref().map(|a| a.state_code.clone()),
        shipping_state_code: c.shipping_address.as_ref().map(|a| a.state_code.clone()),
        billing_address: c.billing_address.as_ref().map(address),
        shipping_address: c.shipping_address.as_ref().map(address),
        customer_group: c.customer_group.clone(),
        currency: c.currency.clone(),
        credit_limit_minor: c.credit_limit_minor,
        payment_terms_days: c.payment_terms_days,
        version: c.version,
        recorded_at: bazaar_schemas::now_millis(),
    }
}

/// Refuses (403 `credit_terms_reserved`) a change of `before`'s credit limit or payment
/// terms by anyone but an owner, admin or accountant, and audits every change that is
/// made, in `tx`. `before` is `(limit, terms)`: zero for a new customer.
async fn credit_terms_changed(
    tx: &mut PgConnection,
    principal: &Principal,
    before: (i64, i32),
    after: &Customer,
) -> Result<(), ApiError> {
    if before == (after.credit_limit_minor, after.payment_terms_days) {
        return Ok(());
    }
    if !principal.has_any(CREDIT_SETTERS) {
        return Err(ApiError::new(
            Code::CreditTermsReserved,
            "a customer's credit limit and payment terms are set by an owner, admin or accountant",
        ));
    }
    let changed = events::audit::CreditTermsChanged {
        tenant_id: principal.tenant,
        customer_id: after.id,
        currency: after.currency.clone(),
        credit_limit_minor_before: before.0,
        credit_limit_minor: after.credit_limit_minor,
        payment_terms_days_before: before.1,
        payment_terms_days: after.payment_terms_days,
        changed_by: principal.user,
        changed_at: bazaar_schemas::now_millis(),
    };
    // Audit events are keyed by tenant, like every audit event.
    let key = principal.tenant.to_string();
    outbox::append_event(tx, SERVICE, principal.tenant, &key, &changed).await?;
    Ok(())
}

/// Applies `body` to `customer`, checking every field it sets.
fn apply_customer(customer: &mut Customer, body: CustomerBody) -> Result<(), ApiError> {
    if let Some(name) = body.name {
        customer.name = domain::text("name", &name, 200)?;
    }
    if let Some(phone) = body.phone {
        customer.phone = domain::phone("phone", &phone)?;
    }
    if let Some(email) = body.email {
        customer.email = Some(email)
            .filter(|e| !e.trim().is_empty())
            .map(|e| domain::email("email", &e))
            .transpose()?;
    }
    if let Some(gstin) = body.gstin {
        customer.gstin = Some(gstin)
            .filter(|g| !g.trim().is_empty())
            .map(|g| domain::gstin("gstin", &g))
            .transpose()?;
    }
    if let Some(address) = body.billing_address {
        customer.billing_address = Some(address.checked("billing_address")?);
    }
    if let Some(address) = body.shipping_address {
        customer.shipping_address = Some(address.checked("shipping_address")?);
    }
    if let Some(group) = body.customer_group {
        customer.customer_group = Some(group.trim().to_owned()).filter(|g| !g.is_empty());
    }
    if let Some(limit) = body.credit_limit {
        if limit.amount_minor < 0 {
            return Err(Invalid::new(
                "credit_limit",
                PlatformCode::NegativeAmount,
                "cannot be negative",
            )
            .into());
        }
        bazaar_platform::money::amount_field("credit_limit", limit.amount_minor)?;
        customer.currency = limit.currency.code().to_owned();
        customer.credit_limit_minor = limit.amount_minor;
    }
    if let Some(days) = body.payment_terms_days {
        customer.payment_terms_days = domain::payment_terms("payment_terms_days", days)?;
    }
    // A business customer's GSTIN names its state; an address in another state is a
    // typo that would put the wrong tax on every invoice.
    if let (Some(gstin), Some(address)) = (&customer.gstin, &customer.billing_address) {
        if gstin[..2] != address.state_code {
            return Err(Invalid::new(
                "billing_address.state_code",
                Code::StateMismatch,
                format!("the GSTIN is registered in state {}", &gstin[..2]),
            )
            .into());
        }
    }
    Ok(())
}

fn phone_taken(phone: &str) -> ApiError {
    ApiError::new(
        Code::PhoneTaken,
        format!("another customer has the phone {phone}"),
    )
}

/// Adds a customer. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/customers", tag = "partners", request_body = CustomerBody,
    security(("bearer" = [])),
    responses((status = 201, body = Customer),
              (status = 403, description = "`credit_terms_reserved` (credit is an owner's, admin's or accountant's to give)"),
              (status = 409, description = "`phone_taken`"),
              (status = 422, description = "`invalid_phone`, `invalid_gstin`, \
                 `invalid_gstin_check_character`, `invalid_state_code`, `invalid_pincode`, \
                 `state_mismatch`, `invalid_email`, ..., `required`, `invalid_text`, `invalid_payment_terms`")))]
async fn create_customer(
    State(pool): State<PgPool>,
    principal: Principal,
    Json(body): Json<CustomerBody>,
) -> Result<(StatusCode, Json<Customer>), ApiError> {
    let name = body
        .name
        .clone()
        .ok_or_else(|| Invalid::new("name", Code::Required, "a customer has a name"))?;
    let phone = body
        .phone
        .clone()
        .ok_or_else(|| Invalid::new("phone", Code::Required, "a customer has a phone number"))?;
    let mut customer = Customer {
        id: Uuid::now_v7(),
        name,
        phone,
        email: None,
        gstin: None,
        billing_address: None,
        shipping_address: None,
        customer_group: None,
        credit_limit: None,
        credit_limit_minor: 0,
        currency: Currency::INR.code().to_owned(),
        payment_terms_days: 0,
        version: 1,
    };
    apply_customer(&mut customer, body)?;
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let created = customer_event(tenant, &customer);
    if !store::customer_written(&mut tx, &created, true).await? {
        return Err(phone_taken(&customer.phone));
    }
    credit_terms_changed(&mut tx, &principal, (0, 0), &customer).await?;
    let created = events::partners::CustomerCreated::from(created);
    event(&mut tx, tenant, customer.id, &created).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(shown(customer)?)))
}

/// Changes a customer's details; absent fields stay.
#[utoipa::path(patch, path = "/api/v1/customers/{id}", tag = "partners",
    request_body = CustomerBody, security(("bearer" = [])),
    responses((status = 200, body = Customer), (status = 404, description = "`not_found`"),
              (status = 403, description = "`credit_terms_reserved` (credit is an owner's, admin's or accountant's to give)"),
              (status = 409, description = "`phone_taken`"),
              (status = 422, description = "a field breaks a rule, `invalid_text`, `invalid_payment_terms`")))]
async fn update_customer(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<CustomerBody>,
) -> Result<Json<Customer>, ApiError> {
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let mut customer = customer(&mut tx, tenant, id, true).await?;
    if body
        .credit_limit
        .as_ref()
        .is_some_and(|l| l.currency.code() != customer.currency)
    {
        return Err(Invalid::new(
            "credit_limit",
            PlatformCode::CurrencyMismatch,
            format!("the customer is billed in {}", customer.currency),
        )
        .into());
    }
    let terms_before = (customer.credit_limit_minor, customer.payment_terms_days);
    apply_customer(&mut customer, body)?;
    credit_terms_changed(&mut tx, &principal, terms_before, &customer).await?;
    customer.version += 1;
    let changed = customer_event(tenant, &customer);
    if !store::customer_written(&mut tx, &changed, false).await? {
        return Err(phone_taken(&customer.phone));
    }
    event(&mut tx, tenant, id, &changed).await?;
    tx.commit().await?;
    Ok(Json(shown(customer)?))
}

/// One customer.
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "partners",
    security(("bearer" = [])),
    responses((status = 200, body = Customer), (status = 404, description = "`not_found`")))]
async fn get_customer(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Customer>, ApiError> {
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let found = customer(&mut tx, principal.tenant, id, false).await?;
    tx.commit().await?;
    Ok(Json(shown(found)?))
}

/// `phone` (any spelling of the number: the POS lookup) or `q` (name contains).
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct CustomerQuery {
    phone: Option<String>,
    q: Option<String>,
}

/// Finds customers by phone or name.
#[utoipa::path(get, path = "/api/v1/customers", tag = "partners",
    params(CustomerQuery, Page), security(("bearer" = [])),
    responses((status = 200, body = Vec<Customer>)))]
async fn list_customers(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(query): Query<CustomerQuery>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<Customer>>, ApiError> {
    let phone = query
        .phone
        .as_deref()
        .map(|p| domain::phone("phone", p))
        .transpose()?;
    let q = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| format!("%{}%", q.to_lowercase().replace(['%', '_'], "")));
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let rows = store::customers(
        &mut tx,
        principal.tenant,
        phone,
        q,
        (page.limit(), page.offset()),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(rows.into_iter().map(shown).collect::<Result<_, _>>()?))
}

// ---------------------------------------------------------------- payments

/// A payment, as recorded.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Payment {
    /// The payment.
    pub id: Uuid,
    /// Who paid or was paid.
    pub partner_id: Uuid,
    /// How much.
    #[schema(value_type = Object)]
    pub amount: Money,
    /// cash, card, upi, bank_transfer or cheque.
    pub mode: String,
    /// Cheque number, UTR...
    pub reference: Option<String>,
    /// The day it was paid.
    pub paid_on: NaiveDate,
}

/// A payment to record.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PaymentBody {
    #[schema(value_type = Object)]
    amount: Money,
    mode: String,
    reference: Option<String>,
    /// Default: today.
    paid_on: Option<NaiveDate>,
}

/// Whom a payment is with.
enum PartnerId {
    CustomerId(Uuid),
    VendorId(Uuid),
}

async fn record_payment(
    pool: &PgPool,
    principal: &Principal,
    partner: PartnerId,
    body: PaymentBody,
) -> Result<(StatusCode, Json<Payment>), ApiError> {
    if body.amount.amount_minor <= 0 {
        return Err(
            Invalid::new("amount", Code::InvalidAmount, "must be greater than zero").into(),
        );
    }
    bazaar_platform::money::amount_field("amount", body.amount.amount_minor)?;
    let mode = domain::payment_mode(body.mode.trim())?;
    let today = Utc::now().date_naive();
    let paid_on = body.paid_on.unwrap_or(today);
    if paid_on > today {
        return Err(Invalid::new(
            "paid_on",
            Code::FutureDate,
            "a payment cannot be recorded before it is made",
        )
        .into());
    }
    let reference = body
        .reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(pool, tenant).await?;
    let (kind, id) = match partner {
        PartnerId::CustomerId(id) => ("customer", id),
        PartnerId::VendorId(id) => ("vendor", id),
    };
    let billed_in = store::billed_in(&mut tx, tenant, kind, id, true)
        .await?
        .ok_or_else(|| not_found(kind, id))?;
    if body.amount.currency != money::stored_currency(&billed_in)? {
        return Err(Invalid::new(
            "amount",
            PlatformCode::CurrencyMismatch,
            format!("the {kind} is billed in {billed_in}"),
        )
        .into());
    }
    let payment_id = Uuid::now_v7();
    let paid = events::partners::PaymentReceived {
        tenant_id: tenant,
        payment_id,
        partner_id: id,
        amount_minor: body.amount.amount_minor,
        currency: billed_in.clone(),
        mode: mode.to_owned(),
        reference: reference.map(str::to_owned),
        paid_on: paid_on.to_string(),
        recorded_by: principal.user,
        recorded_at: bazaar_schemas::now_millis(),
    };
    store::insert_payment(&mut tx, kind, &paid).await?;
    match partner {
        PartnerId::CustomerId(_) => event(&mut tx, tenant, id, &paid).await?,
        PartnerId::VendorId(_) => {
            let made = events::partners::PaymentMade::from(paid);
            event(&mut tx, tenant, id, &made).await?
        }
    };
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Payment {
            id: payment_id,
            partner_id: id,
            amount: body.amount,
            mode: mode.to_owned(),
            reference: reference.map(str::to_owned),
            paid_on,
        }),
    ))
}

/// Records a payment received from a customer; the ledger shows it once
/// `partner-ledgers` has applied its event. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/customers/{id}/payments", tag = "partners",
    request_body = PaymentBody, security(("bearer" = [])),
    responses((status = 201, body = Payment), (status = 404, description = "`not_found`"),
              (status = 422, description = "`invalid_amount`, `unknown_payment_mode`, \
                 `currency_mismatch`, `future_date`")))]
async fn receive_payment(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<PaymentBody>,
) -> Result<(StatusCode, Json<Payment>), ApiError> {
    record_payment(&pool, &principal, PartnerId::CustomerId(id), body).await
}

/// Records a payment made to a vendor. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/vendors/{id}/payments", tag = "partners",
    request_body = PaymentBody, security(("bearer" = [])),
    responses((status = 201, body = Payment), (status = 404, description = "`not_found`"),
              (status = 422, description = "`invalid_amount`, `unknown_payment_mode`, \
                 `currency_mismatch`, `future_date`")))]
async fn make_payment(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<PaymentBody>,
) -> Result<(StatusCode, Json<Payment>), ApiError> {
    record_payment(&pool, &principal, PartnerId::VendorId(id), body).await
}

// ---------------------------------------------------------------- ledgers

/// A partner's ledger: balance, ageing and entries with a running balance.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Ledger {
    /// The customer or vendor.
    pub partner_id: Uuid,
    /// What the customer owes us, or we owe the vendor (negative: an advance).
    #[schema(value_type = Object)]
    pub balance: Money,
    /// The balance by age.
    pub ageing: Ageing,
    /// Oldest first.
    pub entries: Vec<LedgerEntry>,
}

/// One ledger entry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct LedgerEntry {
    /// Its date.
    pub date: NaiveDate,
    /// When it falls due.
    pub due_date: NaiveDate,
    /// invoice, return, payment, purchase_invoice, purchase_return.
    pub document_type: String,
    /// The document's number, when it has one.
    pub document_number: Option<String>,
    /// Increases what is owed.
    pub debit_minor: i64,
    /// Decreases what is owed.
    pub credit_minor: i64,
    /// The balance after this entry.
    pub balance_minor: i64,
}

async fn ledger(
    pool: &PgPool,
    principal: &Principal,
    kind: &'static str,
    id: Uuid,
) -> Result<Json<Ledger>, ApiError> {
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(pool, tenant).await?;
    let billed_in = store::billed_in(&mut tx, tenant, kind, id, false)
        .await?
        .ok_or_else(|| not_found(kind, id))?;
    let rows = store::ledger_entries(&mut tx, tenant, kind, id).await?;
    tx.commit().await?;
    let mut balance = 0i64;
    let entries = rows
        .iter()
        .map(|(date, due, document_type, number, amount)| {
            let too_large = || ApiError::internal("a partner's balance does not fit");
            balance = money::checked_sum([balance, *amount]).map_err(|_| too_large())?;
            let credit = amount.checked_neg().ok_or_else(too_large)?;
            Ok(LedgerEntry {
                date: *date,
                due_date: *due,
                document_type: document_type.clone(),
                document_number: number.clone(),
                debit_minor: (*amount).max(0),
                credit_minor: credit.max(0),
                balance_minor: balance,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let dated: Vec<(NaiveDate, i64)> = rows
        .iter()
        .map(|(date, _, _, _, amount)| (*date, *amount))
        .collect();
    Ok(Json(Ledger {
        partner_id: id,
        balance: Money::new(balance, money::stored_currency(&billed_in)?),
        ageing: domain::ageing(&dated, Utc::now().date_naive()),
        entries,
    }))
}

/// A customer's ledger: credit sales, returns and payments, with ageing.
#[utoipa::path(get, path = "/api/v1/customers/{id}/ledger", tag = "partners",
    security(("bearer" = [])),
    responses((status = 200, body = Ledger), (status = 404, description = "`not_found`")))]
async fn customer_ledger(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Ledger>, ApiError> {
    ledger(&pool, &principal, "customer", id).await
}

/// A vendor's ledger: purchase invoices, returns and payments, with ageing.
#[utoipa::path(get, path = "/api/v1/vendors/{id}/ledger", tag = "partners",
    security(("bearer" = [])),
    responses((status = 200, body = Ledger), (status = 404, description = "`not_found`")))]
async fn vendor_ledger(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Ledger>, ApiError> {
    ledger(&pool, &principal, "vendor", id).await
}

/// A customer who owes something.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Due {
    /// The customer.
    pub customer_id: Uuid,
    /// Name.
    pub name: String,
    /// Phone.
    pub phone: String,
    /// What they owe.
    #[schema(value_type = Object)]
    pub balance: Money,
    /// Of which overdue (past the due date).
    #[schema(value_type = Object)]
    pub overdue: Money,
    /// The balance by age.
    pub ageing: Ageing,
}

/// Customers who owe money, largest balance first.
#[utoipa::path(get, path = "/api/v1/customers/dues", tag = "partners", params(Page),
    security(("bearer" = [])), responses((status = 200, body = Vec<Due>)))]
async fn customer_dues(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(page): Query<Page>,
) -> Result<Json<Vec<Due>>, ApiError> {
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let owing = store::owing(&mut tx, tenant, (page.limit(), page.offset())).await?;
    let ids: Vec<Uuid> = owing.iter().map(|o| o.0).collect();
    let entries = store::dated_entries(&mut tx, tenant, &ids).await?;
    tx.commit().await?;
    let today = Utc::now().date_naive();
    Ok(Json(
        owing
            .into_iter()
            .map(|(id, name, phone, code, balance, overdue)| {
                let dated: Vec<(NaiveDate, i64)> = entries
                    .iter()
                    .filter(|e| e.0 == id)
                    .map(|e| (e.1, e.2))
                    .collect();
                let currency = money::stored_currency(&code)?;
                Ok(Due {
                    customer_id: id,
                    name,
                    phone,
                    balance: Money::new(balance, currency),
                    overdue: Money::new(overdue.min(balance), currency),
                    ageing: domain::ageing(&dated, today),
                })
            })
            .collect::<Result<_, ApiError>>()?,
    ))
}

/// An amount a customer wants on credit.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreditCheck {
    #[schema(value_type = Object)]
    amount: Money,
}

/// Whether it fits.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct CreditAnswer {
    /// The amount fits the limit.
    pub allowed: bool,
    /// The customer's limit.
    #[schema(value_type = Object)]
    pub credit_limit: Money,
    /// What they owe now.
    #[schema(value_type = Object)]
    pub balance: Money,
    /// What is left of the limit.
    #[schema(value_type = Object)]
    pub available: Money,
}

/// Answers whether an amount fits the customer's credit limit given the ledger balance
/// (the POS asks before a credit sale). Writes nothing.
#[utoipa::path(post, path = "/api/v1/customers/{id}/credit-check", tag = "partners",
    request_body = CreditCheck, security(("bearer" = [])),
    responses((status = 200, body = CreditAnswer), (status = 404, description = "`not_found`"),
              (status = 422, description = "`invalid_amount`, `currency_mismatch`")))]
async fn credit_check(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(check): Json<CreditCheck>,
) -> Result<Json<CreditAnswer>, ApiError> {
    if check.amount.amount_minor <= 0 {
        return Err(
            Invalid::new("amount", Code::InvalidAmount, "must be greater than zero").into(),
        );
    }
    bazaar_platform::money::amount_field("amount", check.amount.amount_minor)?;
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let customer = customer(&mut tx, tenant, id, false).await?;
    let currency = money::stored_currency(&customer.currency)?;
    if check.amount.currency != currency {
        return Err(Invalid::new(
            "amount",
            PlatformCode::CurrencyMismatch,
            format!("the customer is billed in {}", currency.code()),
        )
        .into());
    }
    let balance = store::customer_balance(&mut tx, tenant, id).await?;
    tx.commit().await?;
    let available = customer
        .credit_limit_minor
        .checked_sub(balance)
        .ok_or_else(|| ApiError::internal("a customer's balance does not fit"))?;
    let money = |minor| Money::new(minor, currency);
    Ok(Json(CreditAnswer {
        allowed: check.amount.amount_minor <= available,
        credit_limit: money(customer.credit_limit_minor),
        balance: money(balance),
        available: money(available.max(0)),
    }))
}

// ---------------------------------------------------------------- loyalty

/// How points are earned and what they are worth.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoyaltyRule {
    /// Spend (minor units of the invoice) per point earned: 10000 = a point per ₹100.
    pub spend_minor_per_point: i64,
    /// What a point pays at the till, in minor units: 100 = ₹1.
    pub point_value_minor: i64,
}

/// The rule when a tenant has not set one: a point per ₹100, worth ₹1.
pub const DEFAULT_RULE: LoyaltyRule = LoyaltyRule {
    spend_minor_per_point: 10_000,
    point_value_minor: 100,
};

/// The tenant's loyalty rule.
#[utoipa::path(get, path = "/api/v1/loyalty/rule", tag = "partners",
    security(("bearer" = [])), responses((status = 200, body = LoyaltyRule)))]
async fn get_loyalty_rule(
    State(pool): State<PgPool>,
    principal: Principal,
) -> Result<Json<LoyaltyRule>, ApiError> {
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let rule = store::loyalty_rule(&mut tx, principal.tenant).await?;
    tx.commit().await?;
    Ok(Json(rule))
}

/// Sets how points are earned and what they are worth. Owner or admin.
#[utoipa::path(put, path = "/api/v1/loyalty/rule", tag = "partners", request_body = LoyaltyRule,
    security(("bearer" = [])),
    responses((status = 200, body = LoyaltyRule), (status = 422, description = "`invalid_rule`")))]
async fn set_loyalty_rule(
    State(pool): State<PgPool>,
    principal: Principal,
    Json(rule): Json<LoyaltyRule>,
) -> Result<Json<LoyaltyRule>, ApiError> {
    if rule.spend_minor_per_point <= 0 || rule.point_value_minor <= 0 {
        return Err(Invalid::new(
            "spend_minor_per_point",
            Code::InvalidRule,
            "both figures must be greater than zero",
        )
        .into());
    }
    bazaar_platform::money::amount_field("spend_minor_per_point", rule.spend_minor_per_point)?;
    bazaar_platform::money::amount_field("point_value_minor", rule.point_value_minor)?;
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    store::set_loyalty_rule(&mut tx, principal.tenant, &rule).await?;
    tx.commit().await?;
    Ok(Json(rule))
}

/// A customer's points.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Loyalty {
    /// The customer.
    pub customer_id: Uuid,
    /// Points to spend.
    pub points: i64,
    /// What they pay at the till.
    #[schema(value_type = Object)]
    pub value: Money,
}

/// A customer's points and what they are worth.
#[utoipa::path(get, path = "/api/v1/customers/{id}/loyalty", tag = "partners",
    security(("bearer" = [])),
    responses((status = 200, body = Loyalty), (status = 404, description = "`not_found`")))]
async fn loyalty_balance(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Loyalty>, ApiError> {
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let customer = customer(&mut tx, tenant, id, false).await?;
    let points = store::points(&mut tx, tenant, id).await?;
    let rule = store::loyalty_rule(&mut tx, tenant).await?;
    tx.commit().await?;
    Ok(Json(Loyalty {
        customer_id: id,
        points,
        value: Money::new(
            points.saturating_mul(rule.point_value_minor),
            money::stored_currency(&customer.currency)?,
        ),
    }))
}

/// Points to spend.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedemptionBody {
    points: i64,
    /// The sale they pay for.
    reference: Option<String>,
}

/// A redemption.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Redemption {
    /// The redemption.
    pub id: Uuid,
    /// Points spent.
    pub points: i64,
    /// What they paid.
    #[schema(value_type = Object)]
    pub value: Money,
    /// Points left.
    pub balance: i64,
}

/// Spends a customer's points (at the POS); never more than they have (409
/// `insufficient_points`). Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/customers/{id}/loyalty/redeem", tag = "partners",
    request_body = RedemptionBody, security(("bearer" = [])),
    responses((status = 201, body = Redemption), (status = 404, description = "`not_found`"),
              (status = 409, description = "`insufficient_points`"),
              (status = 422, description = "`invalid_points`")))]
async fn redeem_points(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<RedemptionBody>,
) -> Result<(StatusCode, Json<Redemption>), ApiError> {
    if body.points <= 0 {
        return Err(
            Invalid::new("points", Code::InvalidPoints, "must be greater than zero").into(),
        );
    }
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    // The customer's row lock serializes redemptions, so two tills cannot spend the
    // same points.
    let customer = customer(&mut tx, tenant, id, true).await?;
    let held = store::points(&mut tx, tenant, id).await?;
    if body.points > held {
        return Err(ApiError::new(
            Code::InsufficientPoints,
            format!("{held} points to spend, {} asked", body.points),
        ));
    }
    let rule = store::loyalty_rule(&mut tx, tenant).await?;
    let redemption = Uuid::now_v7();
    let reference = body
        .reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    // The entry carries the event's own time, so a rebuild from the event writes the
    // very same row.
    let redeemed_at = bazaar_schemas::now_millis();

    let value = body.points.saturating_mul(rule.point_value_minor);
    let redeemed = events::partners::LoyaltyRedeemed {
        tenant_id: tenant,
        redemption_id: redemption,
        customer_id: id,
        points: body.points,
        value_minor: value,
        currency: customer.currency.clone(),
        reference: reference.map(str::to_owned),
        balance: held - body.points,
        redeemed_by: principal.user,
        redeemed_at,
    };
    store::record_redemption(&mut tx, &redeemed).await?;
    event(&mut tx, tenant, id, &redeemed).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Redemption {
            id: redemption,
            points: body.points,
            value: Money::new(value, money::stored_currency(&customer.currency)?),
            balance: held - body.points,
        }),
    ))
}

// ---------------------------------------------------------------- vendors

/// A vendor; bank details masked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Vendor {
    /// The vendor.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// GSTIN.
    pub gstin: Option<String>,
    /// GST state code.
    pub state_code: String,
    /// People to call.
    pub contacts: Vec<Contact>,
    /// Days to pay an invoice.
    pub payment_terms_days: i32,
    /// Invoicing currency.
    pub currency: String,
    /// Bank details, the account number masked.
    pub bank: Option<Bank>,
    /// Grows with every change.
    pub version: i32,
}

/// Bank details (in responses the account number is masked).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Bank {
    /// Account number.
    pub account_number: String,
    /// IFSC.
    pub ifsc: String,
    /// Bank's name.
    pub bank_name: Option<String>,
}

/// A new vendor, or (for PATCH) the fields to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VendorBody {
    name: Option<String>,
    gstin: Option<String>,
    /// Required without a GSTIN (which names the state).
    state_code: Option<String>,
    contacts: Option<Vec<Contact>>,
    payment_terms_days: Option<i32>,
    currency: Option<String>,
    bank: Option<Bank>,
}

impl VendorRow {
    fn shown(self) -> Vendor {
        Vendor {
            bank: match (self.bank_account_number, self.bank_ifsc) {
                (Some(number), Some(ifsc)) => Some(Bank {
                    account_number: domain::masked(&number),
                    ifsc,
                    bank_name: self.bank_name,
                }),
                _ => None,
            },
            id: self.id,
            name: self.name,
            gstin: self.gstin,
            state_code: self.state_code,
            contacts: self.contacts.0,
            payment_terms_days: self.payment_terms_days,
            currency: self.currency,
            version: self.version,
        }
    }
}

fn apply_vendor(vendor: &mut VendorRow, body: VendorBody) -> Result<(), ApiError> {
    if let Some(name) = body.name {
        vendor.name = domain::text("name", &name, 200)?;
    }
    if let Some(gstin) = body.gstin {
        vendor.gstin = Some(gstin)
            .filter(|g| !g.trim().is_empty())
            .map(|g| domain::gstin("gstin", &g))
            .transpose()?;
    }
    if let Some(state) = body.state_code {
        vendor.state_code = domain::state_code("state_code", &state)?;
    } else if let Some(gstin) = &vendor.gstin {
        if vendor.state_code.is_empty() {
            vendor.state_code = gstin[..2].to_owned();
        }
    }
    if vendor.state_code.is_empty() {
        return Err(Invalid::new(
            "state_code",
            Code::Required,
            "a vendor without a GSTIN names its state",
        )
        .into());
    }
    if let Some(gstin) = &vendor.gstin {
        if gstin[..2] != vendor.state_code {
            return Err(Invalid::new(
                "state_code",
                Code::StateMismatch,
                format!("the GSTIN is registered in state {}", &gstin[..2]),
            )
            .into());
        }
    }
    if let Some(contacts) = body.contacts {
        vendor.contacts = sqlx::types::Json(
            contacts
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    let field = format!("contacts[{i}]");
                    Ok(Contact {
                        name: domain::text(&format!("{field}.name"), &c.name, 200)?,
                        phone: c
                            .phone
                            .map(|p| domain::phone(&format!("{field}.phone"), &p))
                            .transpose()?,
                        email: c
                            .email
                            .map(|e| domain::email(&format!("{field}.email"), &e))
                            .transpose()?,
                    })
                })
                .collect::<Result<_, Invalid>>()?,
        );
    }
    if let Some(days) = body.payment_terms_days {
        vendor.payment_terms_days = domain::payment_terms("payment_terms_days", days)?;
    }
    if let Some(code) = body.currency {
        vendor.currency = Currency::from_code(code.trim())
            .map_err(|e| Invalid::new("currency", PlatformCode::UnknownCurrency, e.to_string()))?
            .code()
            .to_owned();
    }
    if let Some(bank) = body.bank {
        let (number, ifsc) = domain::bank_account(&bank.account_number, &bank.ifsc)?;
        vendor.bank_account_number = Some(number);
        vendor.bank_ifsc = Some(ifsc);
        vendor.bank_name = bank
            .bank_name
            .map(|b| b.trim().to_owned())
            .filter(|b| !b.is_empty());
    }
    Ok(())
}

/// `partners.vendor.updated`, and the same facts as `.created`.
fn vendor_event(tenant: Uuid, v: &VendorRow) -> events::partners::VendorUpdated {
    events::partners::VendorUpdated {
        tenant_id: tenant,
        vendor_id: v.id,
        name: v.name.clone(),
        gstin: v.gstin.clone(),
        state_code: v.state_code.clone(),
        payment_terms_days: v.payment_terms_days,
        currency: v.currency.clone(),
        bank_account_masked: v.bank_account_number.as_deref().map(domain::masked),
        bank_ifsc: v.bank_ifsc.clone(),
        bank_name: v.bank_name.clone(),
        contacts: v
            .contacts
            .iter()
            .map(|c| events::partners::VendorUpdatedContact {
                name: c.name.clone(),
                phone: c.phone.clone(),
                email: c.email.clone(),
            })
            .collect(),
        version: v.version,
        recorded_at: bazaar_schemas::now_millis(),
    }
}

/// Adds a vendor. Owner, admin or accountant. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/vendors", tag = "partners", request_body = VendorBody,
    security(("bearer" = [])),
    responses((status = 201, body = Vendor), (status = 409, description = "`gstin_taken`"),
              (status = 422, description = "`invalid_gstin`, `invalid_gstin_check_character`, \
                 `state_mismatch`, `invalid_account_number`, `invalid_ifsc`, ..., `required`, `invalid_text`, `invalid_payment_terms`")))]
async fn create_vendor(
    State(pool): State<PgPool>,
    principal: Principal,
    Json(body): Json<VendorBody>,
) -> Result<(StatusCode, Json<Vendor>), ApiError> {
    if body.name.is_none() {
        return Err(Invalid::new("name", Code::Required, "a vendor has a name").into());
    }
    let mut vendor = VendorRow {
        id: Uuid::now_v7(),
        name: String::new(),
        gstin: None,
        state_code: String::new(),
        contacts: sqlx::types::Json(Vec::new()),
        payment_terms_days: 30,
        currency: Currency::INR.code().to_owned(),
        bank_account_number: None,
        bank_ifsc: None,
        bank_name: None,
        version: 1,
    };
    apply_vendor(&mut vendor, body)?;
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let created =
        events::partners::VendorCreated::from(write_vendor(&mut tx, tenant, &vendor, true).await?);
    event(&mut tx, tenant, vendor.id, &created).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(vendor.shown())))
}

/// Changes a vendor's details; absent fields stay.
#[utoipa::path(patch, path = "/api/v1/vendors/{id}", tag = "partners", request_body = VendorBody,
    security(("bearer" = [])),
    responses((status = 200, body = Vendor), (status = 404, description = "`not_found`"),
              (status = 409, description = "`gstin_taken`"),
              (status = 422, description = "a field breaks a rule, `required`, `invalid_text`, `invalid_payment_terms`")))]
async fn update_vendor(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<VendorBody>,
) -> Result<Json<Vendor>, ApiError> {
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    let mut row = vendor(&mut tx, tenant, id, true).await?;
    apply_vendor(&mut row, body)?;
    row.version += 1;
    let changed = write_vendor(&mut tx, tenant, &row, false).await?;
    event(&mut tx, tenant, id, &changed).await?;
    tx.commit().await?;
    Ok(Json(row.shown()))
}

/// One vendor.
#[utoipa::path(get, path = "/api/v1/vendors/{id}", tag = "partners", security(("bearer" = [])),
    responses((status = 200, body = Vendor), (status = 404, description = "`not_found`")))]
async fn get_vendor(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Vendor>, ApiError> {
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let row = vendor(&mut tx, principal.tenant, id, false).await?;
    tx.commit().await?;
    Ok(Json(row.shown()))
}

/// The tenant's vendors by name.
#[utoipa::path(get, path = "/api/v1/vendors", tag = "partners", params(Page),
    security(("bearer" = [])), responses((status = 200, body = Vec<Vendor>)))]
async fn list_vendors(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(page): Query<Page>,
) -> Result<Json<Vec<Vendor>>, ApiError> {
    let mut tx = db::begin_for_tenant(&pool, principal.tenant).await?;
    let rows = store::vendors(&mut tx, principal.tenant, (page.limit(), page.offset())).await?;
    tx.commit().await?;
    Ok(Json(rows.into_iter().map(VendorRow::shown).collect()))
}
