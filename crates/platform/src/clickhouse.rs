//! The ClickHouse client, set up to work with Debian's ClickHouse 18.16 as well as
//! current releases: no compression (the crate's LZ4 framing is newer than 18.16).

use crate::config::Settings;

// Re-exported so `#[derive(clickhouse::Row)]` resolves with this module imported as
// `clickhouse`.
pub use ::clickhouse::{Client, Row};

/// A client for the configured ClickHouse, on `database`.
pub fn client(settings: &Settings, database: &str) -> Client {
    Client::default()
        .with_url(&settings.clickhouse_url)
        .with_database(database)
        .with_compression(::clickhouse::Compression::None)
}

/// `name` if it is a plain database name (letters, digits and `_`, not starting with a
/// digit): ClickHouse takes no parameters in DDL, so names are spliced only once checked.
pub fn database_name(name: &str) -> Option<&str> {
    let plain = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    plain.then_some(name)
}
