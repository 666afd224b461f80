//! Plumbing every Bazaar service shares, and no business rules: configuration,
//! telemetry, PostgreSQL pools and migrations, the HTTP error type and server, Kafka and
//! ClickHouse clients, graceful shutdown, and money/quantity types.

pub mod auth;
pub mod clickhouse;
pub mod config;
pub mod consumer;
pub mod db;
pub mod gst;
pub mod http;
pub mod ids;
pub mod kafka;
pub mod money;
pub mod outbox;
pub mod rebuild;
pub mod service;
pub mod shutdown;
pub mod stores;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;

pub use config::Settings;
pub use service::ServiceContext;
