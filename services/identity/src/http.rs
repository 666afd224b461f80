//! Identity's HTTP API: login, refresh, logout, the JWKS, stores and users.

use bazaar_schemas::events::audit::{
    LoginFailed, RefreshTokenReused, RoleChanged, UserAccessChanged,
};
use std::net::IpAddr;

use axum::{
    extract::{FromRequest, Request, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post, put},
    Router,
};
use bazaar_platform::{
    auth::{self, Claims, Principal, Role, Stores},
    db,
    http::{client_ip, idempotency, ApiError, Json, Page, Path, Query},
    ServiceContext,
};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::Code;
use crate::{
    domain::{
        check_password, may_assign, may_manage, Assignment, Email, RefreshToken, Rejection,
        ACCESS_TOKEN_TTL, IP_FAILURE_LIMIT, REFRESH_TOKEN_TTL,
    },
    keys, password,
    store::{self, Store, UserRow},
};

/// Who may manage users and stores.
const MANAGERS: &[Role] = &[Role::Owner, Role::Admin];
/// Every role.
const ANYONE: &[Role] = Role::ALL;

#[derive(Clone)]
struct Identity {
    pool: PgPool,
    issuer: String,
    audience: String,
}

/// Identity's routes. Login, refresh, logout and the JWKS are public; everything else
/// needs a token with the roles named next to the route.
pub fn router(ctx: ServiceContext) -> Router {
    let pool = ctx.pool.clone();
    let verifier = &ctx.verifier;
    let state = Identity {
        pool: ctx.pool,
        issuer: ctx.settings.token_issuer,
        audience: ctx.settings.token_audience,
    };
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/password", post(change_password))
        .route(
            "/api/v1/auth/me",
            get(me).route_layer(auth::allow(verifier, ANYONE)),
        )
        .route(
            "/api/v1/stores",
            get(list_stores)
                .route_layer(auth::allow(verifier, ANYONE))
                .merge(idempotency::creating(
                    post(create_store),
                    &pool,
                    verifier,
                    MANAGERS,
                )),
        )
        .route(
            "/api/v1/users",
            get(list_users)
                .route_layer(auth::allow(verifier, MANAGERS))
                .merge(idempotency::creating(
                    post(create_user),
                    &pool,
                    verifier,
                    MANAGERS,
                )),
        )
        .route(
            "/api/v1/users/{id}",
            get(get_user).route_layer(auth::allow(verifier, MANAGERS)),
        )
        .route(
            "/api/v1/users/{id}/roles",
            put(change_roles).route_layer(auth::allow(verifier, MANAGERS)),
        )
        .route(
            "/api/v1/users/{id}/deactivate",
            post(deactivate_user).route_layer(auth::allow(verifier, MANAGERS)),
        )
        .route(
            "/api/v1/users/{id}/reactivate",
            post(reactivate_user).route_layer(auth::allow(verifier, MANAGERS)),
        )
        .route(
            "/api/v1/users/{id}/password",
            post(reset_password).route_layer(auth::allow(verifier, MANAGERS)),
        )
        .with_state(state)
}

/// Identity's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(jwks, login, refresh, logout, change_password, me, list_stores, create_store,
          list_users, create_user, get_user, change_roles, deactivate_user, reactivate_user,
          reset_password),
    components(schemas(Login, Tokens, RefreshRequest, User, NewUser, RoleChange, NewStore, Store, Me)),
    tags((name = "identity", description = "Login, tokens, users, roles and stores"))
)]
pub struct IdentityApi;

/// The public keys that verify access tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "identity",
    responses((status = 200, description = "A JWK set (Ed25519 keys, `kid` each)")))]
async fn jwks(State(identity): State<Identity>) -> Result<Response, ApiError> {
    let set = keys::jwks(&identity.pool).await?;
    Ok((
        // Verifiers refresh on an unknown kid anyway; a short cache spares identity.
        [(header::CACHE_CONTROL, "public, max-age=60")],
        axum::Json(set),
    )
        .into_response())
}

/// A login request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Login {
    /// The tenant's slug, e.g. `demo`.
    tenant: String,
    email: String,
    password: String,
}

/// Tokens issued at login and refresh.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Tokens {
    /// JWT (EdDSA), sent as `Authorization: Bearer ...`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token lives (900).
    pub expires_in: u64,
    /// Opaque; exchange it at `/api/v1/auth/refresh` before it expires. Single use.
    pub refresh_token: String,
    /// Seconds the refresh token lives (7 days).
    pub refresh_expires_in: u64,
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        Code::InvalidCredentials,
        "the tenant, email or password is wrong",
    )
}

/// Logs in with a password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "identity", request_body = Login,
    responses(
        (status = 200, body = Tokens),
        (status = 401, description = "`invalid_credentials`"),
        (status = 403, description = "`password_change_required`: an admin set the password; \
                                      choose a new one at POST /api/v1/auth/password"),
        (status = 429, description = "`login_locked` (the user) or `too_many_login_attempts` \
                                      (the address); see Retry-After"),
        (status = 503, description = "`no_signing_key`: run bazaar identity rotate-key; \
                                      `busy`: every core is checking passwords, see Retry-After"),
    ))]
async fn login(
    State(identity): State<Identity>,
    request: Request,
) -> Result<Json<Tokens>, ApiError> {
    let ip = client_ip(request.extensions()).map(|ip: IpAddr| ip.to_string());
    let Json(login) = Json::<Login>::from_request(request, &()).await?;
    let Authenticated {
        signer,
        mut tx,
        user,
    } = authenticate(&identity, ip, &login).await?;
    store::record_success(&mut tx, user.id).await?;
    if user.must_change_password {
        tx.commit().await?;
        return Err(ApiError::new(
            Code::PasswordChangeRequired,
            "an admin set this password: choose a new one at POST /api/v1/auth/password",
        ));
    }
    let tokens = issue(&identity, &signer, &mut tx, &user, Uuid::now_v7()).await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, tenant = %user.tenant_id, "logged in");
    Ok(Json(tokens))
}

/// A user whose password was checked, with the transaction that checked it.
struct Authenticated {
    signer: keys::Signer,
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    user: UserRow,
}

/// Everything a login checks before it issues tokens: the address throttle, the tenant,
/// the user's lockout, the password, that the user is active. Failures are counted and
/// audited here.
async fn authenticate(
    identity: &Identity,
    ip: Option<String>,
    login: &Login,
) -> Result<Authenticated, ApiError> {
    let pool = &identity.pool;

    if let Some(ip) = &ip {
        let mut conn = pool.acquire().await?;
        if let Some(wait) = store::ip_blocked_for(&mut conn, ip, IP_FAILURE_LIMIT).await? {
            tracing::warn!(ip, "login refused: too many failures from this address");
            return Err(ApiError::new(
                Code::TooManyLoginAttempts,
                "too many failed logins from this address; try again later",
            )
            .with_retry_after(wait));
        }
    }
    let email = Email::parse(&login.email).ok();
    let tenant = {
        let mut conn = pool.acquire().await?;
        store::tenant_by_slug(&mut conn, &login.tenant.trim().to_lowercase()).await?
    };
    let (Some(tenant), Some(email)) = (tenant, email) else {
        record_ip_failure(pool, ip.as_deref()).await?;
        password::pretend_to_verify().await;
        return Err(invalid_credentials());
    };
    let signer = keys::signer(pool).await?.ok_or_else(|| {
        ApiError::new(
            Code::NoSigningKey,
            "identity has no token signing key yet; an operator runs `bazaar identity rotate-key`",
        )
    })?;

    let mut tx = db::begin_for_tenant(pool, tenant).await?;
    let failed = |user: Option<&UserRow>, reason: &'static str, failed_attempts: i32| LoginFailed {
        tenant_id: tenant,
        user_id: user.map(|u| u.id),
        email: email.as_str().to_owned(),
        ip: ip.clone(),
        reason: reason.to_owned(),
        failed_attempts,
        at: bazaar_schemas::now_millis(),
    };
    let Some(user) = store::user_by_email(&mut tx, &email).await? else {
        // An address nobody has is counted and locked out like a user's, so the lockout
        // says nothing about which addresses are real.
        if let Some(until) = store::unknown_address_locked_until(&mut tx, tenant, &email)
            .await?
            .filter(|until| *until > chrono::Utc::now())
        {
            store::audit(&mut tx, tenant, &failed(None, "locked", 0)).await?;
            tx.commit().await?;
            return Err(login_locked(until));
        }
        let failures = store::record_unknown_failure(&mut tx, tenant, &email).await?;
        store::audit(&mut tx, tenant, &failed(None, "unknown_user", failures)).await?;
        if let Some(ip) = &ip {
            store::record_ip_failure(&mut tx, ip).await?;
        }
        tx.commit().await?;
        password::pretend_to_verify().await;
        return Err(invalid_credentials());
    };
    if let Some(until) = user
        .locked_until
        .filter(|until| *until > chrono::Utc::now())
    {
        let event = failed(Some(&user), "locked", user.failed_logins);
        store::audit(&mut tx, tenant, &event).await?;
        tx.commit().await?;
        return Err(login_locked(until));
    }
    // No connection is held while the hash waits for a core: a burst of logins must not
    // take the pool from every other request.
    tx.commit().await?;
    let matches = password::verify(&login.password, &user.password_hash).await?;
    let mut tx = db::begin_for_tenant(pool, tenant).await?;
    if !matches {
        let failures = store::record_failure(&mut tx, user.id).await?;
        let event = failed(Some(&user), "wrong_password", failures);
        store::audit(&mut tx, tenant, &event).await?;
        if let Some(ip) = &ip {
            store::record_ip_failure(&mut tx, ip).await?;
        }
        tx.commit().await?;
        return Err(invalid_credentials());
    }
    if !user.active {
        store::audit(&mut tx, tenant, &failed(Some(&user), "disabled", 0)).await?;
        tx.commit().await?;
        return Err(invalid_credentials());
    }
    Ok(Authenticated { signer, tx, user })
}

/// A password change by its user: the current password, and the new one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    /// The tenant's slug.
    tenant: String,
    email: String,
    /// The current password (the one an admin set, after a reset).
    password: String,
    /// 10 to 128 characters, not the current one.
    new_password: String,
}

/// Changes one's own password, as a user must after an admin set it; every other login
/// of the user ends. Answers like a login, with tokens.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "identity",
    request_body = PasswordChange,
    responses(
        (status = 200, body = Tokens),
        (status = 401, description = "`invalid_credentials`"),
        (status = 422, description = "`weak_password`, `same_password`"),
        (status = 429, description = "`login_locked` or `too_many_login_attempts`; see Retry-After"),
        (status = 503, description = "`busy`: see Retry-After"),
    ))]
async fn change_password(
    State(identity): State<Identity>,
    request: Request,
) -> Result<Json<Tokens>, ApiError> {
    let ip = client_ip(request.extensions()).map(|ip: IpAddr| ip.to_string());
    let Json(change) = Json::<PasswordChange>::from_request(request, &()).await?;
    check_password(&change.new_password).map_err(rejected)?;
    if change.new_password == change.password {
        return Err(ApiError::new(
            Code::SamePassword,
            "the new password must differ from the current one",
        ));
    }
    let login = Login {
        tenant: change.tenant,
        email: change.email,
        password: change.password,
    };
    let Authenticated { signer, tx, user } = authenticate(&identity, ip, &login).await?;
    // As in a login, no connection is held while the new hash waits for a core; the user
    // is read again after it, and an account changed meanwhile (deactivated, reset or
    // changed by another request) no longer answers to the password that was checked.
    tx.commit().await?;
    let hash = password::hash(change.new_password).await?;
    let mut tx = db::begin_for_tenant(&identity.pool, user.tenant_id).await?;
    let current = store::user(&mut tx, user.tenant_id, user.id, true).await?;
    if !current.is_some_and(|c| c.active && c.password_hash == user.password_hash) {
        return Err(invalid_credentials());
    }
    let user = store::set_password(&mut tx, user.id, &hash, false).await?;
    let revoked = store::revoke_user(&mut tx, user.id).await?;
    let event = UserAccessChanged {
        tenant_id: user.tenant_id,
        actor_id: user.id,
        user_id: user.id,
        change: "password_changed".to_owned(),
        reason: None,
        sessions_revoked: revoked,
        at: bazaar_schemas::now_millis(),
    };
    store::audit(&mut tx, user.tenant_id, &event).await?;
    let tokens = issue(&identity, &signer, &mut tx, &user, Uuid::now_v7()).await?;
    tx.commit().await?;
    Ok(Json(tokens))
}

/// 429 `login_locked` until `until`, the same for a user and for an address nobody has.
fn login_locked(until: chrono::DateTime<chrono::Utc>) -> ApiError {
    let wait = (until - chrono::Utc::now()).num_seconds().max(1) as u64;
    ApiError::new(
        Code::LoginLocked,
        "too many failed logins for this user; try again later",
    )
    .with_retry_after(wait)
}

/// A refresh or logout request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

fn invalid_refresh_token() -> ApiError {
    ApiError::new(
        Code::InvalidRefreshToken,
        "the refresh token is unknown, expired or revoked; log in again",
    )
}

/// Exchanges a refresh token for new tokens. The old one stops working; presenting it
/// again revokes every token of its login (theft detection).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "identity",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = Tokens),
        (status = 401, description = "`invalid_refresh_token`, or `refresh_token_reused` \
                                      (the token was used before: its login is revoked)"),
    ))]
async fn refresh(
    State(identity): State<Identity>,
    request: Request,
) -> Result<Json<Tokens>, ApiError> {
    let ip = client_ip(request.extensions()).map(|ip| ip.to_string());
    let Json(body) = Json::<RefreshRequest>::from_request(request, &()).await?;
    let token = RefreshToken::parse(&body.refresh_token).ok_or_else(invalid_refresh_token)?;
    let pool = &identity.pool;
    let signer = keys::signer(pool)
        .await?
        .ok_or_else(|| ApiError::internal("no signing key, yet a refresh token exists"))?;
    let mut tx = db::begin_for_tenant(pool, token.tenant).await?;
    let stored = store::refresh_token(&mut tx, &token)
        .await?
        .ok_or_else(invalid_refresh_token)?;
    if stored.revoked_at.is_some() || stored.expires_at <= chrono::Utc::now() {
        return Err(invalid_refresh_token());
    }
    if stored.used_at.is_some() {
        store::revoke_family(&mut tx, stored.family_id).await?;
        let event = RefreshTokenReused {
            tenant_id: token.tenant,
            user_id: stored.user_id,
            family_id: stored.family_id,
            ip,
            at: bazaar_schemas::now_millis(),
        };
        store::audit(&mut tx, token.tenant, &event).await?;
        tx.commit().await?;
        tracing::warn!(user = %stored.user_id, family = %stored.family_id,
            "refresh token reused: its family is revoked");
        return Err(ApiError::new(
            Code::RefreshTokenReused,
            "this refresh token was already used; every session of this login is revoked",
        ));
    }
    let user = store::user(&mut tx, token.tenant, stored.user_id, false)
        .await?
        .filter(|user| user.active);
    let Some(user) = user else {
        store::revoke_family(&mut tx, stored.family_id).await?;
        tx.commit().await?;
        return Err(invalid_refresh_token());
    };
    store::use_refresh(&mut tx, &token).await?;
    let tokens = issue(&identity, &signer, &mut tx, &user, stored.family_id).await?;
    tx.commit().await?;
    Ok(Json(tokens))
}

/// Ends a login: every refresh token of it stops working. Access tokens already issued
/// live out their 15 minutes.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "identity",
    request_body = RefreshRequest,
    responses((status = 204, description = "Logged out (also when it already was)"),
              (status = 401, description = "`invalid_refresh_token`: not a Bazaar token")))]
async fn logout(
    State(identity): State<Identity>,
    Json(body): Json<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    let token = RefreshToken::parse(&body.refresh_token).ok_or_else(invalid_refresh_token)?;
    let mut tx = db::begin_for_tenant(&identity.pool, token.tenant).await?;
    if let Some(stored) = store::refresh_token(&mut tx, &token).await? {
        store::revoke_family(&mut tx, stored.family_id).await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller, as its token says.
#[derive(Serialize, ToSchema)]
struct Me {
    user: Uuid,
    tenant: Uuid,
    /// `"all"` or store ids.
    stores: Stores,
    #[schema(value_type = Vec<String>)]
    roles: Vec<Role>,
}

/// Who the bearer token belongs to.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, description = "`unauthenticated`")))]
async fn me(principal: Principal) -> Json<Me> {
    Json(Me {
        user: principal.user,
        tenant: principal.tenant,
        stores: principal.stores,
        roles: principal.roles,
    })
}

/// A new store.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewStore {
    /// Short code, unique in the tenant, e.g. `BLR-01` (1 to 32 characters).
    code: String,
    name: String,
}

/// The stores the caller reaches.
#[utoipa::path(get, path = "/api/v1/stores", tag = "identity", params(Page),
    security(("bearer" = [])), responses((status = 200, body = Vec<Store>)))]
async fn list_stores(
    State(identity): State<Identity>,
    principal: Principal,
    Query(page): Query<Page>,
) -> Result<Json<Vec<Store>>, ApiError> {
    let mut tx = db::begin_for_tenant(&identity.pool, principal.tenant).await?;
    let stores = store::stores(&mut tx, &principal, page.limit(), page.offset()).await?;
    tx.commit().await?;
    Ok(Json(stores))
}

/// Opens a store. Owner or admin. Honors `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/stores", tag = "identity", request_body = NewStore,
    security(("bearer" = [])),
    responses((status = 201, body = Store),
              (status = 409, description = "`store_code_taken`"),
              (status = 422, description = "`invalid_store`")))]
async fn create_store(
    State(identity): State<Identity>,
    principal: Principal,
    Json(new): Json<NewStore>,
) -> Result<(StatusCode, Json<Store>), ApiError> {
    let code = new.code.trim();
    let name = new.name.trim();
    if code.is_empty() || code.len() > 32 || name.is_empty() || name.len() > 200 {
        return Err(ApiError::new(
            Code::InvalidStore,
            "code must be 1 to 32 characters and name 1 to 200",
        ));
    }
    let mut tx = db::begin_for_tenant(&identity.pool, principal.tenant).await?;
    let store = store::insert_store(&mut tx, principal.tenant, code, name)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                Code::StoreCodeTaken,
                format!("a store with code {code:?} exists"),
            )
        })?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(store)))
}

/// A user, as the API shows it (never the password hash).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct User {
    /// The user.
    pub id: Uuid,
    /// Lowercased; unique in the tenant.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `owner`, `admin`, `store_manager`, `cashier`, `accountant`, `hr`.
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<Role>,
    /// `"all"` or the store ids the roles apply to.
    pub stores: Stores,
    /// Deactivated users cannot log in or refresh.
    pub active: bool,
    /// An admin set the password; the user must change it before logging in.
    pub password_change_required: bool,
    /// When created.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        let roles = row.roles();
        Self {
            id: row.id,
            email: row.email,
            name: row.name,
            roles,
            stores: match row.store_ids {
                None => Stores::All(auth::AllStores::All),
                Some(ids) => Stores::Only(ids),
            },
            active: row.active,
            password_change_required: row.must_change_password,
            created_at: row.created_at,
        }
    }
}

/// A new user. Unknown fields (`tenant_id`, `role`, ...) are refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewUser {
    email: String,
    name: String,
    /// 10 to 128 characters.
    password: String,
    #[schema(value_type = Vec<String>)]
    roles: Vec<Role>,
    /// `"all"` or a list of store ids.
    stores: Stores,
}

/// New roles and stores for a user.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RoleChange {
    #[schema(value_type = Vec<String>)]
    roles: Vec<Role>,
    /// `"all"` or a list of store ids.
    stores: Stores,
}

fn rejected(rejection: Rejection) -> ApiError {
    ApiError::new(rejection.code(), rejection.to_string())
}

/// The tenant's users, by email. Owner or admin.
#[utoipa::path(get, path = "/api/v1/users", tag = "identity", params(Page),
    security(("bearer" = [])), responses((status = 200, body = Vec<User>)))]
async fn list_users(
    State(identity): State<Identity>,
    principal: Principal,
    Query(page): Query<Page>,
) -> Result<Json<Vec<User>>, ApiError> {
    let mut tx = db::begin_for_tenant(&identity.pool, principal.tenant).await?;
    let users = store::users(&mut tx, principal.tenant, page.limit(), page.offset()).await?;
    tx.commit().await?;
    Ok(Json(users.into_iter().map(User::from).collect()))
}

/// One user of the tenant. Owner or admin.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 404, description = "`not_found`")))]
async fn get_user(
    State(identity): State<Identity>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<User>, ApiError> {
    let mut tx = db::begin_for_tenant(&identity.pool, principal.tenant).await?;
    let user = store::user(&mut tx, principal.tenant, id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user {id}")))?;
    tx.commit().await?;
    Ok(Json(user.into()))
}

/// Adds a user. Owner or admin; only an owner may create an owner. Honors
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/users", tag = "identity", request_body = NewUser,
    security(("bearer" = [])),
    responses(
        (status = 201, body = User),
        (status = 403, description = "`owner_role_reserved`"),
        (status = 409, description = "`email_taken`"),
        (status = 422, description = "`invalid_email`, `weak_password`, `no_roles`, \
                                      `no_stores`, `unknown_store`, `invalid_name`, `invalid_body`"),
    ))]
async fn create_user(
    State(identity): State<Identity>,
    principal: Principal,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let email = Email::parse(&new.email).map_err(rejected)?;
    check_password(&new.password).map_err(rejected)?;
    let assignment = Assignment::new(new.roles, new.stores).map_err(rejected)?;
    // The user has no id yet; nil is nobody's, so the own-roles rule cannot match.
    may_assign(&principal, Uuid::nil(), &[], &assignment).map_err(rejected)?;
    let name = new.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::new(
            Code::InvalidName,
            "name must be 1 to 200 characters",
        ));
    }
    let hash = password::hash(new.password).await?;
    let mut tx = db::begin_for_tenant(&identity.pool, principal.tenant).await?;
    check_stores(&mut tx, principal.tenant, &assignment).await?;
    let user = store::insert_user(&mut tx, principal.tenant, &email, name, &hash, &assignment)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                Code::EmailTaken,
                format!("a user with email {} exists", email.as_str()),
            )
        })?;
    let event = role_changed(Some(principal.user), &user, &[], None, &assignment);
    store::audit(&mut tx, principal.tenant, &event).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Replaces a user's roles and stores. Owner or admin; only an owner may grant, revoke
/// or change the owner role; nobody changes their own. The user's next refresh carries
/// the new roles.
#[utoipa::path(put, path = "/api/v1/users/{id}/roles", tag = "identity",
    request_body = RoleChange, security(("bearer" = [])),
    responses(
        (status = 200, body = User),
        (status = 403, description = "`owner_role_reserved`, `own_roles`"),
        (status = 404, description = "`not_found`"),
        (status = 422, description = "`no_roles`, `no_stores`, `unknown_store`"),
    ))]
async fn change_roles(
    State(identity): State<Identity>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(change): Json<RoleChange>,
) -> Result<Json<User>, ApiError> {
    let assignment = Assignment::new(change.roles, change.stores).map_err(rejected)?;
    let mut tx = db::begin_for_tenant(&identity.pool, principal.tenant).await?;
    let before = store::user(&mut tx, principal.tenant, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user {id}")))?;
    may_assign(&principal, id, &before.roles(), &assignment).map_err(rejected)?;
    check_stores(&mut tx, principal.tenant, &assignment).await?;
    let after = store::assign(&mut tx, principal.tenant, id, &assignment).await?;
    let event = role_changed(
        Some(principal.user),
        &after,
        &before.roles,
        before.store_ids.clone(),
        &assignment,
    );
    store::audit(&mut tx, principal.tenant, &event).await?;
    tx.commit().await?;
    Ok(Json(after.into()))
}

/// Why an account is being deactivated or reset.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AccessChange {
    /// For the audit trail: "left the company", "lost the till card".
    reason: Option<String>,
}

/// A password an admin sets for a user, who must change it at their next login.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordReset {
    /// 10 to 128 characters.
    password: String,
    /// For the audit trail.
    reason: Option<String>,
}

/// Ends a user's access at once: no login, no refresh; every login they had ends at its
/// next refresh (an access token already issued lives out its 15 minutes). Owner or admin,
/// for users within their own reach; never oneself.
#[utoipa::path(post, path = "/api/v1/users/{id}/deactivate", tag = "identity",
    request_body = AccessChange, security(("bearer" = [])),
    responses(
        (status = 200, body = User),
        (status = 403, description = "`own_account`, `owner_role_reserved`, `reach_beyond_own`"),
        (status = 404, description = "`not_found`"),
    ))]
async fn deactivate_user(
    State(identity): State<Identity>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(change): Json<AccessChange>,
) -> Result<Json<User>, ApiError> {
    set_access(&identity, &principal, id, false, change.reason.as_deref()).await
}

/// Gives a deactivated user their access back. Owner or admin, within their reach.
#[utoipa::path(post, path = "/api/v1/users/{id}/reactivate", tag = "identity",
    request_body = AccessChange, security(("bearer" = [])),
    responses(
        (status = 200, body = User),
        (status = 403, description = "`own_account`, `owner_role_reserved`, `reach_beyond_own`"),
        (status = 404, description = "`not_found`"),
    ))]
async fn reactivate_user(
    State(identity): State<Identity>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(change): Json<AccessChange>,
) -> Result<Json<User>, ApiError> {
    set_access(&identity, &principal, id, true, change.reason.as_deref()).await
}

/// The user `id`, locked, if `principal` may manage their access.
async fn managed_user(
    tx: &mut PgConnection,
    principal: &Principal,
    id: Uuid,
) -> Result<UserRow, ApiError> {
    let user = store::user(tx, principal.tenant, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user {id}")))?;
    let current = Assignment {
        roles: user.roles(),
        stores: user.store_ids.clone(),
    };
    may_manage(principal, id, &current).map_err(rejected)?;
    Ok(user)
}

async fn set_access(
    identity: &Identity,
    principal: &Principal,
    id: Uuid,
    active: bool,
    reason: Option<&str>,
) -> Result<Json<User>, ApiError> {
    let mut tx = db::begin_for_tenant(&identity.pool, principal.tenant).await?;
    let before = managed_user(&mut tx, principal, id).await?;
    if before.active == active {
        tx.commit().await?;
        return Ok(Json(before.into()));
    }
    let user = store::set_active(&mut tx, id, active).await?;
    let revoked = if active {
        0
    } else {
        store::revoke_user(&mut tx, id).await?
    };
    let event = UserAccessChanged {
        tenant_id: principal.tenant,
        actor_id: principal.user,
        user_id: id,
        change: if active { "reactivated" } else { "deactivated" }.to_owned(),
        reason: reason.map(str::to_owned),
        sessions_revoked: revoked,
        at: bazaar_schemas::now_millis(),
    };
    store::audit(&mut tx, principal.tenant, &event).await?;
    tx.commit().await?;
    Ok(Json(user.into()))
}

/// Sets a user's password (they forgot it, or it leaked): every login they had ends, and
/// they must choose a new password before they get a token. Owner or admin, within their
/// reach; never oneself.
#[utoipa::path(post, path = "/api/v1/users/{id}/password", tag = "identity",
    request_body = PasswordReset, security(("bearer" = [])),
    responses(
        (status = 200, body = User),
        (status = 403, description = "`own_account`, `owner_role_reserved`, `reach_beyond_own`"),
        (status = 404, description = "`not_found`"),
        (status = 422, description = "`weak_password`"),
    ))]
async fn reset_password(
    State(identity): State<Identity>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(reset): Json<PasswordReset>,
) -> Result<Json<User>, ApiError> {
    check_password(&reset.password).map_err(rejected)?;
    {
        // Refuse before spending a hash on it.
        let mut tx = db::begin_for_tenant(&identity.pool, principal.tenant).await?;
        managed_user(&mut tx, &principal, id).await?;
    }
    let hash = password::hash(reset.password).await?;
    let mut tx = db::begin_for_tenant(&identity.pool, principal.tenant).await?;
    managed_user(&mut tx, &principal, id).await?;
    let user = store::set_password(&mut tx, id, &hash, true).await?;
    let revoked = store::revoke_user(&mut tx, id).await?;
    let event = UserAccessChanged {
        tenant_id: principal.tenant,
        actor_id: principal.user,
        user_id: id,
        change: "password_reset".to_owned(),
        reason: reset.reason.clone(),
        sessions_revoked: revoked,
        at: bazaar_schemas::now_millis(),
    };
    store::audit(&mut tx, principal.tenant, &event).await?;
    tx.commit().await?;
    Ok(Json(user.into()))
}

async fn check_stores(
    tx: &mut PgConnection,
    tenant: Uuid,
    assignment: &Assignment,
) -> Result<(), ApiError> {
    let Some(stores) = &assignment.stores else {
        return Ok(());
    };
    let unknown = store::unknown_stores(tx, tenant, stores).await?;
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::UnknownStore,
            format!("no such store in this tenant: {unknown:?}"),
        ))
    }
}

pub(crate) fn role_changed(
    actor: Option<Uuid>,
    user: &UserRow,
    roles_before: &[String],
    stores_before: Option<Vec<Uuid>>,
    after: &Assignment,
) -> RoleChanged {
    RoleChanged {
        tenant_id: user.tenant_id,
        actor_id: actor,
        user_id: user.id,
        roles_before: roles_before.to_vec(),
        roles_after: after.roles.iter().map(|r| r.code().to_owned()).collect(),
        stores_before,
        stores_after: after.stores.clone(),
        at: bazaar_schemas::now_millis(),
    }
}

/// Signs an access token for `user` and stores a new refresh token of `family`.
async fn issue(
    identity: &Identity,
    signer: &keys::Signer,
    tx: &mut PgConnection,
    user: &UserRow,
    family: Uuid,
) -> Result<Tokens, ApiError> {
    let refresh = RefreshToken::generate(user.tenant_id);
    store::insert_refresh(tx, &refresh, family, user.id).await?;
    let now = chrono::Utc::now().timestamp();
    let assignment = Assignment {
        roles: user.roles(),
        stores: user.store_ids.clone(),
    };
    let claims = Claims {
        sub: user.id,
        tenant: user.tenant_id,
        stores: assignment.stores_claim(),
        roles: assignment.roles,
        iss: identity.issuer.clone(),
        aud: identity.audience.clone(),
        exp: now + ACCESS_TOKEN_TTL.as_secs() as i64,
        nbf: now,
        iat: now,
        jti: Uuid::new_v4(),
    };
    let access_token = signer.sign(&claims).map_err(ApiError::internal)?;
    Ok(Tokens {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: ACCESS_TOKEN_TTL.as_secs(),
        refresh_token: refresh.as_str().to_owned(),
        refresh_expires_in: REFRESH_TOKEN_TTL.as_secs(),
    })
}

async fn record_ip_failure(pool: &PgPool, ip: Option<&str>) -> Result<(), ApiError> {
    if let Some(ip) = ip {
        let mut conn = pool.acquire().await?;
        store::record_ip_failure(&mut conn, ip).await?;
    }
    Ok(())
}
