//! Identity: tenants (retail chains), stores, users and their roles; password login
//! with lockout; EdDSA access tokens and rotating refresh tokens; the JWKS every other
//! service verifies tokens with; audit events on `audit.events.v1`.

pub mod domain;
mod http;
pub mod keys;
mod password;
mod problems;
mod store;

use bazaar_platform::{auth::Role, db};
use sqlx::{migrate::Migrator, PgPool};
use uuid::Uuid;

pub use http::{router, IdentityApi, Tokens, User};
pub use problems::Code;
pub use store::SERVICE;

/// Identity's own tables (`migrations/identity/`).
pub fn migrator() -> Migrator {
    sqlx::migrate!("../../migrations/identity")
}

/// Identity's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <IdentityApi as utoipa::OpenApi>::openapi()
}

/// The first tenant of a deployment and its owner.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// URL-safe name users type at login, e.g. `demo`.
    pub slug: String,
    /// Display name of the chain.
    pub name: String,
    /// The owner's email.
    pub email: String,
    /// The owner's password.
    pub password: String,
    /// Stores to open, as (code, name).
    pub stores: Vec<(String, String)>,
}

/// What bootstrapping created.
#[derive(Debug, Clone)]
pub struct Bootstrapped {
    /// The tenant.
    pub tenant: Uuid,
    /// The owner.
    pub owner: Uuid,
    /// The stores, in the order asked.
    pub stores: Vec<Uuid>,
}

/// Bootstrapping refused.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The slug is taken.
    #[error("tenant {0:?} already exists")]
    TenantExists(String),
    /// A value breaks a rule.
    #[error("{field}: {message}")]
    Invalid {
        /// Which value.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Hashing or the audit event failed.
    #[error("{0}")]
    Internal(String),
}

/// Creates a tenant, its stores and its owner, and the first signing key if there is
/// none. Runs as the owning role (it writes signing keys); `owner` is that pool.
pub async fn bootstrap(owner: &PgPool, request: Bootstrap) -> Result<Bootstrapped, BootstrapError> {
    let invalid = |field, message: String| BootstrapError::Invalid { field, message };
    let slug = request.slug.trim().to_lowercase();
    let valid_slug = (2..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-');
    if !valid_slug {
        return Err(invalid(
            "slug",
            "2 to 63 lowercase letters, digits and dashes".into(),
        ));
    }
    let email =
        domain::Email::parse(&request.email).map_err(|e| invalid("email", e.to_string()))?;
    domain::check_password(&request.password).map_err(|e| invalid("password", e.to_string()))?;
    let assignment = domain::Assignment::new(
        vec![Role::Owner],
        bazaar_platform::auth::Stores::All(bazaar_platform::auth::AllStores::All),
    )
    .map_err(|e| invalid("roles", e.to_string()))?;
    let hash = password::hash(request.password)
        .await
        .map_err(|e| BootstrapError::Internal(e.to_string()))?;

    keys::ensure(owner).await?;
    let tenant = Uuid::now_v7();
    let mut tx = db::begin_for_tenant(owner, tenant).await?;
    let inserted = sqlx::query(
        "INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3) ON CONFLICT (slug) DO NOTHING",
    )
    .bind(tenant)
    .bind(&slug)
    .bind(request.name.trim())
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(BootstrapError::TenantExists(slug));
    }
    let mut stores = Vec::new();
    for (code, name) in &request.stores {
        let store = store::insert_store(&mut tx, tenant, code, name)
            .await
            .map_err(|e| BootstrapError::Internal(e.to_string()))?
            .ok_or_else(|| invalid("stores", format!("store code {code:?} given twice")))?;
        stores.push(store.id);
    }
    let user = store::insert_user(&mut tx, tenant, &email, "Owner", &hash, &assignment)
        .await?
        .ok_or_else(|| BootstrapError::Internal("a new tenant already has users".into()))?;
    let event = http::role_changed(None, &user, &[], None, &assignment);
    store::audit(&mut tx, tenant, &event)
        .await
        .map_err(|e| BootstrapError::Internal(e.to_string()))?;
    tx.commit().await?;
    Ok(Bootstrapped {
        tenant,
        owner: user.id,
        stores,
    })
}

/// Identity as the `bazaar` binary runs it.
pub const DESCRIPTOR: bazaar_platform::service::Service = bazaar_platform::service::Service {
    name: SERVICE,
    migrator,
    router,
    openapi,
    problems: Code::ALL,
    consumers: &[],
    replay: None,
};
