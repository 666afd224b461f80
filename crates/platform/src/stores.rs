//! The tenant's stores as identity announced them (`identity.store.opened`). A service
//! that takes a store id from a request keeps a copy in its own `known_stores` table, fed
//! by one of its projections, and checks every such id against it where the id enters:
//! another tenant's store and an id nobody opened look alike, and neither may tag this
//! tenant's documents or books.

use bazaar_schemas::{events, Event as _};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::http::PlatformCode;
use crate::{
    auth::Principal,
    consumer::{ConsumedEvent, ProjectionError},
    http::ApiError,
};

/// The event type that announces a store.
pub const OPENED: &str = events::identity::StoreOpened::TYPE;

/// Records the store `event` (an [`OPENED`]) announces; applying it twice changes nothing.
pub async fn record_opened(
    tx: &mut PgConnection,
    event: &ConsumedEvent,
) -> Result<(), ProjectionError> {
    let opened: events::identity::StoreOpened = event.payload()?;
    sqlx::query(
        "INSERT INTO known_stores (tenant_id, id, code) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, id) DO NOTHING",
    )
    .bind(event.cloud.tenant)
    .bind(opened.store_id)
    .bind(opened.code)
    .execute(tx)
    .await?;
    Ok(())
}

/// Whether `store` is one of `tenant`'s stores.
pub async fn is_known(tx: &mut PgConnection, tenant: Uuid, store: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT FROM known_stores WHERE tenant_id = $1 AND id = $2)")
        .bind(tenant)
        .bind(store)
        .fetch_one(tx)
        .await
}

/// Refuses `store` (named by `field`) with 404 `unknown_store` unless it is one of the
/// caller's tenant's stores and within the caller's reach.
pub async fn require(
    tx: &mut PgConnection,
    principal: &Principal,
    store: Uuid,
    field: &str,
) -> Result<(), ApiError> {
    if principal.reaches_store(store) && is_known(tx, principal.tenant, store).await? {
        return Ok(());
    }
    Err(unknown(store, field))
}

/// 404 `unknown_store` for `store`, named by `field`.
pub fn unknown(store: Uuid, field: &str) -> ApiError {
    ApiError::new(
        PlatformCode::UnknownStore,
        format!("{field}: no store {store} in this tenant within your reach"),
    )
}
