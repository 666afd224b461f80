//! Finance: each tenant's chart of accounts, the double-entry journal posted from the
//! business events (`bazaar consume finance-ledger`) and by accountants, closed months,
//! and the reports; events on `finance.events.v1`.

pub mod chart;
pub mod gst;
mod http;
pub mod journal;
pub mod ledger;
mod problems;
pub mod rules;
mod store;

pub use http::{router, FinanceApi};
pub use problems::Code;

/// Finance's database name and `ce_source`.
pub const SERVICE: &str = "finance";

/// Finance's own tables (`migrations/finance/`).
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("../../migrations/finance")
}

/// Finance's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <FinanceApi as utoipa::OpenApi>::openapi()
}

/// Finance as the `bazaar` binary runs it.
pub const DESCRIPTOR: bazaar_platform::service::Service = bazaar_platform::service::Service {
    name: SERVICE,
    migrator,
    router,
    openapi,
    problems: Code::ALL,
    consumers: &[bazaar_platform::service::Consumer {
        name: ledger::NAME,
        run: bazaar_platform::service::run::<ledger::FinanceLedger>,
        rebuild: bazaar_platform::service::Rebuild::From(
            bazaar_platform::service::rebuild_tables::<ledger::FinanceLedger>,
        ),
    }],
    // Manual entries are on finance's own topic with the entries posted from the other
    // services' events: its journal replays from the topics as a whole.
    replay: Some(bazaar_platform::service::replay_tables::<ledger::FinanceLedger>),
};
