//! Inventory: stores and warehouses, stock per location, product and batch, the stock
//! ledger it is folded from, reservations, transfers, counts and stock alerts; events on
//! `inventory.events.v1`. Sales, purchases and catalog changes arrive as events
//! (`bazaar consume inventory-snapshots`).

pub mod alerts;
pub mod documents;
pub mod domain;
mod http;
pub mod ledger;
mod problems;
pub mod rebuild;
pub mod snapshots;
pub mod store;

pub use http::{router, InventoryApi};
pub use ledger::SERVICE;
pub use problems::Code;

/// Inventory's own tables (`migrations/inventory/`).
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("../../migrations/inventory")
}

/// Inventory's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <InventoryApi as utoipa::OpenApi>::openapi()
}

/// Inventory as the `bazaar` binary runs it.
pub const DESCRIPTOR: bazaar_platform::service::Service = bazaar_platform::service::Service {
    name: SERVICE,
    migrator,
    router,
    openapi,
    problems: Code::ALL,
    consumers: &[bazaar_platform::service::Consumer {
        name: snapshots::NAME,
        run: bazaar_platform::service::run::<snapshots::InventorySnapshots>,
        rebuild: bazaar_platform::service::Rebuild::From(rebuild::rebuild_from_topic),
    }],
    replay: Some(bazaar_platform::service::replay_tables::<documents::InventoryDocuments>),
};
