//! Partners: customers and vendors, payments, loyalty points and credit limits; events on
//! `partners.events.v1`. The partner ledgers are built from the topics
//! (`bazaar consume partner-ledgers`).

pub mod documents;
pub mod domain;
mod http;
pub mod ledgers;
mod problems;
mod store;

pub use http::{router, LoyaltyRule, PartnersApi, DEFAULT_RULE};
pub use problems::Code;

/// Partners' database name and `ce_source`.
pub const SERVICE: &str = "partners";

/// Partners' own tables (`migrations/partners/`).
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("../../migrations/partners")
}

/// Partners' part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <PartnersApi as utoipa::OpenApi>::openapi()
}

/// Partners as the `bazaar` binary runs it.
pub const DESCRIPTOR: bazaar_platform::service::Service = bazaar_platform::service::Service {
    name: SERVICE,
    migrator,
    router,
    openapi,
    problems: Code::ALL,
    consumers: &[bazaar_platform::service::Consumer {
        name: ledgers::NAME,
        run: bazaar_platform::service::run::<ledgers::PartnerLedgers>,
        rebuild: bazaar_platform::service::Rebuild::From(
            bazaar_platform::service::rebuild_tables::<ledgers::PartnerLedgers>,
        ),
    }],
    replay: Some(bazaar_platform::service::replay_tables::<documents::PartnersDocuments>),
};
