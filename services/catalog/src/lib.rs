//! Catalog: a tenant's category tree, products and their variants, units, GST rates,
//! prices and barcodes; events on `catalog.events.v1`.

pub mod documents;
pub mod domain;
mod http;
pub mod import;
mod problems;
mod store;

pub use http::{router, CatalogApi, Product};
pub use problems::Code;
pub use store::{Category, SERVICE};

/// Catalog's own tables (`migrations/catalog/`).
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("../../migrations/catalog")
}

/// Catalog's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <CatalogApi as utoipa::OpenApi>::openapi()
}

/// Catalog as the `bazaar` binary runs it.
pub const DESCRIPTOR: bazaar_platform::service::Service = bazaar_platform::service::Service {
    name: SERVICE,
    migrator,
    router,
    openapi,
    problems: Code::ALL,
    consumers: &[],
    replay: Some(bazaar_platform::service::replay_tables::<documents::CatalogDocuments>),
};
