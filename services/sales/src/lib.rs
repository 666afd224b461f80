//! Sales: the POS's tax invoices with GST, numbered gap-free per store, terminal and
//! financial year, paid exactly, with stock reserved in inventory and credit checked with
//! partners before they commit; held bills, returns, voids and the day close; a live
//! WebSocket per store (`/ws/pos`); events on `sales.events.v1`. What the till knows of
//! products and customers comes from the topics (`bazaar consume sales-references`).

pub mod documents;
pub mod domain;
mod held;
mod http;
mod live;
mod mesh;
mod policy;
mod problems;
pub mod references;
mod returns;
mod store;

/// The longest SKU, barcode or payment reference a till may send, in characters.
pub(crate) const CODE_MAX: usize = 64;
/// The longest quantity a till may send, in characters (`"12345.678"` is nine).
pub(crate) const QUANTITY_MAX: usize = 24;

pub use http::{router, SalesApi};
pub use problems::Code;

/// Sales' database name and `ce_source`.
pub const SERVICE: &str = "sales";

/// Sales' own tables (`migrations/sales/`).
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("../../migrations/sales")
}

/// Sales' part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <SalesApi as utoipa::OpenApi>::openapi()
}

/// Sales as the `bazaar` binary runs it.
pub const DESCRIPTOR: bazaar_platform::service::Service = bazaar_platform::service::Service {
    name: SERVICE,
    migrator,
    router,
    openapi,
    problems: Code::ALL,
    consumers: &[bazaar_platform::service::Consumer {
        name: references::NAME,
        run: bazaar_platform::service::run::<references::SalesReferences>,
        rebuild: bazaar_platform::service::Rebuild::REFERENCE_COPIES,
    }],
    replay: Some(bazaar_platform::service::replay_tables::<documents::SalesDocuments>),
};
