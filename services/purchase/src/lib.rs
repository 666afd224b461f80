//! Purchase: purchase orders and their approval, goods receipts against them, vendor
//! invoices matched three ways, returns to vendors, vendor prices and reorder
//! suggestions; events on `purchase.events.v1`. What purchase knows of vendors, products
//! and stock comes from the topics (`bazaar consume purchase-references`).

pub mod documents;
pub mod domain;
mod http;
mod problems;
pub mod references;
mod store;

pub use http::{router, PurchaseApi};
pub use problems::Code;

/// Purchase's database name and `ce_source`.
pub const SERVICE: &str = "purchase";

/// Purchase's own tables (`migrations/purchase/`).
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("../../migrations/purchase")
}

/// Purchase's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <PurchaseApi as utoipa::OpenApi>::openapi()
}

/// Purchase as the `bazaar` binary runs it.
pub const DESCRIPTOR: bazaar_platform::service::Service = bazaar_platform::service::Service {
    name: SERVICE,
    migrator,
    router,
    openapi,
    problems: Code::ALL,
    consumers: &[bazaar_platform::service::Consumer {
        name: references::NAME,
        run: bazaar_platform::service::run::<references::PurchaseReferences>,
        rebuild: bazaar_platform::service::Rebuild::REFERENCE_COPIES,
    }],
    replay: Some(bazaar_platform::service::replay_tables::<documents::PurchaseDocuments>),
};
