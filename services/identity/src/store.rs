//! Identity's SQL. Every function runs inside the caller's transaction, which was begun
//! for the tenant (`db::begin_for_tenant`) wherever a tenant table is touched.

use bazaar_platform::{
    auth::{Principal, Role},
    outbox::{self, OutboxError},
};
use bazaar_schemas::events;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{
    lockout, parse_role, Assignment, Email, RefreshToken, IP_WINDOW, REFRESH_TOKEN_TTL,
};

/// The service name: `ce_source` of its events and the name of its database.
pub const SERVICE: &str = "identity";

/// A user as identity stores it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct UserRow {
    /// The user.
    pub(crate) id: Uuid,
    /// The tenant.
    pub(crate) tenant_id: Uuid,
    /// Lowercased.
    pub(crate) email: String,
    /// Display name.
    pub(crate) name: String,
    /// argon2id PHC string.
    pub(crate) password_hash: String,
    /// Role names.
    pub(crate) roles: Vec<String>,
    /// `None`: every store.
    pub(crate) store_ids: Option<Vec<Uuid>>,
    /// Disabled users cannot log in or refresh.
    pub(crate) active: bool,
    /// Set when an admin set the password: the user changes it before any token.
    pub(crate) must_change_password: bool,
    /// Consecutive failed logins.
    pub(crate) failed_logins: i32,
    /// Set while locked out.
    pub(crate) locked_until: Option<DateTime<Utc>>,
    /// When created.
    pub(crate) created_at: DateTime<Utc>,
}

impl UserRow {
    /// The roles, ignoring any name this version does not know.
    pub(crate) fn roles(&self) -> Vec<Role> {
        self.roles.iter().filter_map(|r| parse_role(r)).collect()
    }
}

const USER_COLUMNS: &str = "id, tenant_id, email, name, password_hash, roles, store_ids, \
                            active, must_change_password, failed_logins, locked_until, created_at";

/// The tenant with this slug.
pub(crate) async fn tenant_by_slug(
    tx: &mut PgConnection,
    slug: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1")
        .bind(slug)
        .fetch_optional(tx)
        .await
}

/// The user with `email`, locked for update.
pub(crate) async fn user_by_email(
    tx: &mut PgConnection,
    email: &Email,
) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = current_tenant() AND email = $1 FOR UPDATE"
    ))
    .bind(email.as_str())
    .fetch_optional(tx)
    .await
}

/// The user `id` of `tenant`, locked for update when `lock`.
pub(crate) async fn user(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    lock: bool,
) -> sqlx::Result<Option<UserRow>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2{lock}"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// A page of the tenant's users, by email.
pub(crate) async fn users(
    tx: &mut PgConnection,
    tenant: Uuid,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<UserRow>> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 ORDER BY email LIMIT $2 OFFSET $3"
    ))
    .bind(tenant)
    .bind(limit)
    .bind(offset)
    .fetch_all(tx)
    .await
}

/// A new user, or `None` when the email is taken in the tenant.
pub(crate) async fn insert_user(
    tx: &mut PgConnection,
    tenant: Uuid,
    email: &Email,
    name: &str,
    password_hash: &str,
    assignment: &Assignment,
) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(&format!(
        "INSERT INTO users (id, tenant_id, email, name, password_hash, roles, store_ids) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, email) DO NOTHING \
         RETURNING {USER_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(email.as_str())
    .bind(name)
    .bind(password_hash)
    .bind(role_names(&assignment.roles))
    .bind(&assignment.stores)
    .fetch_optional(tx)
    .await
}

/// Replaces a user's roles and stores.
pub(crate) async fn assign(
    tx: &mut PgConnection,
    tenant: Uuid,
    user: Uuid,
    assignment: &Assignment,
) -> sqlx::Result<UserRow> {
    sqlx::query_as(&format!(
        "UPDATE users SET roles = $3, store_ids = $4, updated_at = now() \
         WHERE tenant_id = $1 AND id = $2 RETURNING {USER_COLUMNS}"
    ))
    .bind(tenant)
    .bind(user)
    .bind(role_names(&assignment.roles))
    .bind(&assignment.stores)
    .fetch_one(tx)
    .await
}

/// The ids among `stores` that are not the tenant's.
pub(crate) async fn unknown_stores(
    tx: &mut PgConnection,
    tenant: Uuid,
    stores: &[Uuid],
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM unnest($2::uuid[]) AS wanted (id) \
         WHERE NOT EXISTS (SELECT FROM stores s WHERE s.tenant_id = $1 AND s.id = wanted.id)",
    )
    .bind(tenant)
    .bind(stores)
    .fetch_all(tx)
    .await
}

/// Records a failed password, locking the user out once the failures exceed the free
/// ones; returns the consecutive failures.
pub(crate) async fn record_failure(tx: &mut PgConnection, user: Uuid) -> sqlx::Result<i32> {
    let failures: i32 = sqlx::query_scalar(
        "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins",
    )
    .bind(user)
    .fetch_one(&mut *tx)
    .await?;
    if let Some(lockout) = lockout(failures) {
        sqlx::query(
            "UPDATE users SET locked_until = now() + make_interval(secs => $2) WHERE id = $1",
        )
        .bind(user)
        .bind(lockout.as_secs_f64())
        .execute(&mut *tx)
        .await?;
    }
    Ok(failures)
}

/// When a login to `email`, which no user of the tenant has, is locked out: as a user's
/// would be after the same failures.
pub(crate) async fn unknown_address_locked_until(
    tx: &mut PgConnection,
    tenant: Uuid,
    email: &Email,
) -> sqlx::Result<Option<chrono::DateTime<chrono::Utc>>> {
    let until: Option<Option<chrono::DateTime<chrono::Utc>>> = sqlx::query_scalar(
        "SELECT locked_until FROM unknown_login_failures WHERE tenant_id = $1 AND email = $2",
    )
    .bind(tenant)
    .bind(email.as_str())
    .fetch_optional(tx)
    .await?;
    Ok(until.flatten())
}

/// Records a failed login to an address no user has, locking it out by the same rule as
/// a user ([`record_failure`]); returns the consecutive failures.
pub(crate) async fn record_unknown_failure(
    tx: &mut PgConnection,
    tenant: Uuid,
    email: &Email,
) -> sqlx::Result<i32> {
    let failures: i32 = sqlx::query_scalar(
        "INSERT INTO unknown_login_failures AS f (tenant_id, email, failed_logins) VALUES ($1, $2, 1) \
         ON CONFLICT (tenant_id, email) DO UPDATE SET failed_logins = f.failed_logins + 1 \
         RETURNING failed_logins",
    )
    .bind(tenant)
    .bind(email.as_str())
    .fetch_one(&mut *tx)
    .await?;
    if let Some(lockout) = lockout(failures) {
        sqlx::query(
            "UPDATE unknown_login_failures SET locked_until = now() + make_interval(secs => $3) \
             WHERE tenant_id = $1 AND email = $2",
        )
        .bind(tenant)
        .bind(email.as_str())
        .bind(lockout.as_secs_f64())
        .execute(&mut *tx)
        .await?;
    }
    Ok(failures)
}

/// Clears the failure count after a successful login.
pub(crate) async fn record_success(tx: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(user)
        .execute(tx)
        .await
        .map(drop)
}

/// Counts a failed login from `ip`; returns the failures in its current window.
pub(crate) async fn record_ip_failure(tx: &mut PgConnection, ip: &str) -> sqlx::Result<i32> {
    sqlx::query_scalar(
        "INSERT INTO login_failures_by_ip AS f (ip, window_start, failures) VALUES ($1, now(), 1) \
         ON CONFLICT (ip) DO UPDATE SET \
             failures = CASE WHEN f.window_start < now() - make_interval(secs => $2) \
                             THEN 1 ELSE f.failures + 1 END, \
             window_start = CASE WHEN f.window_start < now() - make_interval(secs => $2) \
                                 THEN now() ELSE f.window_start END \
         RETURNING failures",
    )
    .bind(ip)
    .bind(IP_WINDOW.as_secs_f64())
    .fetch_one(tx)
    .await
}

/// Seconds until `ip` may try again, when it has used up its failures.
pub(crate) async fn ip_blocked_for(
    tx: &mut PgConnection,
    ip: &str,
    limit: i32,
) -> sqlx::Result<Option<u64>> {
    let remaining: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM window_start + make_interval(secs => $2) - now())::float8 \
         FROM login_failures_by_ip \
         WHERE ip = $1 AND failures >= $3 AND window_start + make_interval(secs => $2) > now()",
    )
    .bind(ip)
    .bind(IP_WINDOW.as_secs_f64())
    .bind(limit)
    .fetch_optional(tx)
    .await?;
    Ok(remaining.map(|secs| secs.ceil().max(1.0) as u64))
}

/// A refresh token as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RefreshRow {
    /// The family every rotation of one login shares.
    pub(crate) family_id: Uuid,
    /// Whose.
    pub(crate) user_id: Uuid,
    /// When it stops working.
    pub(crate) expires_at: DateTime<Utc>,
    /// Set once it was exchanged.
    pub(crate) used_at: Option<DateTime<Utc>>,
    /// Set when its family was revoked.
    pub(crate) revoked_at: Option<DateTime<Utc>>,
}

/// Stores a new refresh token of `family` (a new family for a login).
pub(crate) async fn insert_refresh(
    tx: &mut PgConnection,
    token: &RefreshToken,
    family: Uuid,
    user: Uuid,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, tenant_id, family_id, user_id, expires_at) \
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
    )
    .bind(token.hash())
    .bind(token.tenant)
    .bind(family)
    .bind(user)
    .bind(REFRESH_TOKEN_TTL.as_secs_f64())
    .execute(tx)
    .await
    .map(drop)
}

/// The stored token, locked so two uses of it are decided one after the other.
pub(crate) async fn refresh_token(
    tx: &mut PgConnection,
    token: &RefreshToken,
) -> sqlx::Result<Option<RefreshRow>> {
    sqlx::query_as(
        "SELECT family_id, user_id, expires_at, used_at, revoked_at FROM refresh_tokens \
         WHERE tenant_id = $1 AND token_hash = $2 FOR UPDATE",
    )
    .bind(token.tenant)
    .bind(token.hash())
    .fetch_optional(tx)
    .await
}

/// Marks a token exchanged.
pub(crate) async fn use_refresh(tx: &mut PgConnection, token: &RefreshToken) -> sqlx::Result<()> {
    sqlx::query("UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1")
        .bind(token.hash())
        .execute(tx)
        .await
        .map(drop)
}

/// Revokes every token of a family.
pub(crate) async fn revoke_family(tx: &mut PgConnection, family: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .execute(tx)
    .await
    .map(drop)
}

/// Revokes every refresh token of `user`: each of their logins ends at its next refresh.
/// Returns how many logins (families) were live.
pub(crate) async fn revoke_user(tx: &mut PgConnection, user: Uuid) -> sqlx::Result<i32> {
    let families: i64 = sqlx::query_scalar(
        "WITH revoked AS (UPDATE refresh_tokens SET revoked_at = now() \
           WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() RETURNING family_id) \
         SELECT count(DISTINCT family_id) FROM revoked",
    )
    .bind(user)
    .fetch_one(tx)
    .await?;
    Ok(i32::try_from(families).unwrap_or(i32::MAX))
}

/// Activates or deactivates a user; returns the row after.
pub(crate) async fn set_active(
    tx: &mut PgConnection,
    user: Uuid,
    active: bool,
) -> sqlx::Result<UserRow> {
    sqlx::query_as(&format!(
        "UPDATE users SET active = $2, \
           deactivated_at = CASE WHEN $2 THEN NULL ELSE now() END, updated_at = now() \
         WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind(user)
    .bind(active)
    .fetch_one(tx)
    .await
}

/// Sets a new password hash; `must_change` when an admin chose it. Clears a lockout.
pub(crate) async fn set_password(
    tx: &mut PgConnection,
    user: Uuid,
    hash: &str,
    must_change: bool,
) -> sqlx::Result<UserRow> {
    sqlx::query_as(&format!(
        "UPDATE users SET password_hash = $2, must_change_password = $3, failed_logins = 0, \
           locked_until = NULL, updated_at = now() \
         WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind(user)
    .bind(hash)
    .bind(must_change)
    .fetch_one(tx)
    .await
}

/// A store.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub(crate) struct Store {
    /// The store.
    pub(crate) id: Uuid,
    /// Short code, unique in the tenant (e.g. `BLR-01`).
    pub(crate) code: String,
    /// Display name.
    pub(crate) name: String,
    /// When created.
    pub(crate) created_at: DateTime<Utc>,
}

/// A new store, or `None` when its code is taken.
pub(crate) async fn insert_store(
    tx: &mut PgConnection,
    tenant: Uuid,
    code: &str,
    name: &str,
) -> Result<Option<Store>, OutboxError> {
    let store: Option<Store> = sqlx::query_as(
        "INSERT INTO stores (id, tenant_id, code, name) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, code) DO NOTHING RETURNING id, code, name, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(code)
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(store) = &store {
        let opened = events::identity::StoreOpened {
            tenant_id: tenant,
            store_id: store.id,
            code: store.code.clone(),
            name: store.name.clone(),
            opened_at: store.created_at.timestamp_millis(),
        };
        outbox::append_event(tx, SERVICE, tenant, &store.id.to_string(), &opened).await?;
    }
    Ok(store)
}

/// The stores `principal` reaches, by code.
pub(crate) async fn stores(
    tx: &mut PgConnection,
    principal: &Principal,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Store>> {
    let only: Option<Vec<Uuid>> = match &principal.stores {
        bazaar_platform::auth::Stores::All(_) => None,
        bazaar_platform::auth::Stores::Only(ids) => Some(ids.clone()),
    };
    sqlx::query_as(
        "SELECT id, code, name, created_at FROM stores \
         WHERE tenant_id = $1 AND ($2::uuid[] IS NULL OR id = ANY($2)) \
         ORDER BY code LIMIT $3 OFFSET $4",
    )
    .bind(principal.tenant)
    .bind(only)
    .bind(limit)
    .bind(offset)
    .fetch_all(tx)
    .await
}

fn role_names(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.code()).collect()
}

/// Appends an audit event for `tenant`, keyed by the tenant like every audit event.
pub(crate) async fn audit<E: bazaar_schemas::Event>(
    tx: &mut PgConnection,
    tenant: Uuid,
    event: &E,
) -> Result<Uuid, OutboxError> {
    outbox::append_event(tx, SERVICE, tenant, &tenant.to_string(), event).await
}
