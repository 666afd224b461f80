//! Who may give what away: the discount policy per role, tenant and store, and the list
//! of sales that went beyond it (approved at the till, or offline and taken anyway).

use axum::{extract::State, routing::get, Router};
use bazaar_platform::{
    auth::{self, Principal, Role, Verifier},
    db,
    http::{ApiError, Invalid, Json, Page, Query},
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::Code;
use crate::{
    domain::DiscountLimit,
    http::{reachable, Sales},
    store,
};

/// Who sets the policy.
const POLICY_SETTERS: &[Role] = &[Role::Owner, Role::Admin];
/// Who reads the policy and reviews the exceptions.
const MANAGERS: &[Role] = &[Role::Owner, Role::Admin, Role::StoreManager];
/// The roles that sell, and so have a discount limit.
const SELLING_ROLES: [Role; 4] = [Role::Owner, Role::Admin, Role::StoreManager, Role::Cashier];

pub(crate) fn routes(v: &Arc<Verifier>, _: &Sales) -> Router<Sales> {
    Router::new()
        .route(
            "/api/v1/pos/discount-policy",
            get(get_policy)
                .route_layer(auth::allow(v, MANAGERS))
                .merge(axum::routing::put(put_policy).route_layer(auth::allow(v, POLICY_SETTERS))),
        )
        .route(
            "/api/v1/pos/exceptions",
            get(list_exceptions).route_layer(auth::allow(v, MANAGERS)),
        )
}

/// The store whose policy is meant; absent for the tenant's.
#[derive(Deserialize, IntoParams)]
pub(crate) struct PolicyScope {
    store_id: Option<Uuid>,
}

/// One role's limit where it applies.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct RoleLimit {
    /// owner, admin, store_manager or cashier.
    role: String,
    #[serde(flatten)]
    limit: DiscountLimit,
}

/// Each selling role's discount limit at a store (its own, else the tenant's, else the
/// built-in one), or the tenant's when no store is named. Store managers and above.
#[utoipa::path(get, path = "/api/v1/pos/discount-policy", tag = "sales", params(PolicyScope),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<RoleLimit>), (status = 404, description = "`not_found` (a store out of reach)")))]
async fn get_policy(
    State(sales): State<Sales>,
    principal: Principal,
    Query(scope): Query<PolicyScope>,
) -> Result<Json<Vec<RoleLimit>>, ApiError> {
    if let Some(store) = scope.store_id {
        reachable(&principal, store)?;
    }
    let mut tx = db::begin_for_tenant(&sales.pool, principal.tenant).await?;
    // The nil store has no policy of its own, so it reads the tenant's.
    let store = scope.store_id.unwrap_or_default();
    let mut limits = Vec::new();
    for role in SELLING_ROLES {
        limits.push(RoleLimit {
            role: role.code().to_owned(),
            limit: store::discount_limit(&mut tx, principal.tenant, store, &[role]).await?,
        });
    }
    tx.commit().await?;
    Ok(Json(limits))
}

/// A role's limit to set, for the tenant or one store.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRoleLimit {
    /// Absent: the tenant's policy, for stores without their own.
    store_id: Option<Uuid>,
    /// owner, admin, store_manager or cashier.
    role: Role,
    #[serde(flatten)]
    limit: DiscountLimit,
}

/// Sets one role's discount limit for the tenant or a store: basis points of what the
/// discount comes off (0 to 10000) and optional amounts (0 to 10,000,000,000,000 minor
/// units), per line and per bill. Owner or admin.
#[utoipa::path(put, path = "/api/v1/pos/discount-policy", tag = "sales", request_body = NewRoleLimit,
    security(("bearer" = [])),
    responses((status = 200, body = RoleLimit), (status = 404, description = "`not_found` (a store out of reach)"),
              (status = 422, description = "`invalid_role`, `invalid_share`, `amount_too_large`, `negative_amount`")))]
async fn put_policy(
    State(sales): State<Sales>,
    principal: Principal,
    Json(body): Json<NewRoleLimit>,
) -> Result<Json<RoleLimit>, ApiError> {
    if let Some(store) = body.store_id {
        reachable(&principal, store)?;
    }
    if !SELLING_ROLES.contains(&body.role) {
        return Err(Invalid::new(
            "role",
            Code::InvalidRole,
            "owner, admin, store_manager or cashier",
        )
        .into());
    }
    let limit = body.limit;
    for (field, bp) in [("line_bp", limit.line_bp), ("bill_bp", limit.bill_bp)] {
        if bp > 10_000 {
            return Err(Invalid::new(field, Code::InvalidShare, "0 to 10000 basis points").into());
        }
    }
    for (field, amount) in [
        ("line_minor", limit.line_minor),
        ("bill_minor", limit.bill_minor),
    ] {
        if let Some(amount) = amount {
            bazaar_platform::money::amount_field(field, amount)?;
        }
    }
    let mut tx = db::begin_for_tenant(&sales.pool, principal.tenant).await?;
    store::save_limit(
        &mut tx,
        principal.tenant,
        body.store_id,
        body.role,
        limit,
        principal.user,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(RoleLimit {
        role: body.role.code().to_owned(),
        limit,
    }))
}

/// Which exceptions to list.
#[derive(Deserialize, IntoParams)]
pub(crate) struct ExceptionQuery {
    store_id: Uuid,
    /// First day, default today.
    from: Option<NaiveDate>,
    /// Last day, default `from`.
    to: Option<NaiveDate>,
}

/// One way a sale went beyond the catalog price or the seller's policy.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub(crate) struct SaleException {
    invoice_id: Uuid,
    invoice_number: String,
    terminal_id: String,
    cashier_id: Uuid,
    issued_at: DateTime<Utc>,
    /// Sent by a terminal that was offline: taken whatever it went beyond.
    offline: bool,
    /// Whose authority covered it; absent when nobody approved it (offline).
    approved_by: Option<Uuid>,
    /// The invoice field: `lines[2].unit_price_minor`, `bill_discount_minor`.
    field: String,
    /// price_deviation, line_discount or bill_discount.
    kind: String,
    /// The catalog's unit price, or the most discount the policy allowed.
    allowed_minor: i64,
    given_minor: i64,
    /// What the customer got beyond it; negative for a price above the catalog's.
    amount_minor: i64,
    currency: String,
}

/// A store's sales beyond the catalog price or the discount policy, over days: for a
/// manager to review (offline sales nobody approved first). Store managers and above.
#[utoipa::path(get, path = "/api/v1/pos/exceptions", tag = "sales", params(ExceptionQuery, Page),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<SaleException>), (status = 404, description = "`not_found` (a store out of reach)"),
              (status = 422, description = "`invalid_range`")))]
async fn list_exceptions(
    State(sales): State<Sales>,
    principal: Principal,
    Query(query): Query<ExceptionQuery>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<SaleException>>, ApiError> {
    reachable(&principal, query.store_id)?;
    let from = query.from.unwrap_or_else(|| Utc::now().date_naive());
    let to = query.to.unwrap_or(from);
    if to < from || (to - from).num_days() > 366 {
        return Err(Invalid::new("to", Code::InvalidRange, "from `from`, at most a year").into());
    }
    let mut tx = db::begin_for_tenant(&sales.pool, principal.tenant).await?;
    let found = store::exceptions_of_store(
        &mut tx,
        principal.tenant,
        query.store_id,
        (from, to),
        page.limit(),
        page.offset(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(found))
}
