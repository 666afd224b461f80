//! End-to-end tests across the services, over real PostgreSQL, Kafka and ClickHouse, in
//! one binary: linked once, with one way to start a tenant's services (`support::mesh`).
//! Each test makes its own databases, topics and consumer groups, so they run in
//! parallel. `tests/traces.rs` stays apart: it installs the process's tracing subscriber.

// Amounts in paise are written rupees_paise (118_00 is ₹118.00).
#![allow(clippy::inconsistent_digit_grouping)]

mod support;

mod analytics;
mod books_agree;
mod consumer;
mod inventory_snapshots;
mod kafka_roundtrip;
mod partner_ledgers;
mod pos_live;
mod purchase_flow;
mod relay;
mod replay;
mod sales_flow;
mod serve;
mod stock_books;
mod topics_apply;
