//! Analytics: the ClickHouse schema (`analytics/clickhouse/`, applied by
//! `bazaar analytics migrate`) and the ingest of every topic into it
//! (`bazaar consume analytics-clickhouse`). The SQL runs on Debian's ClickHouse 18.16 and
//! on current releases: no DateTime64, no window functions, no LowCardinality.

pub mod ingest;
pub mod migrate;
pub mod queries;

/// Why analytics could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// ClickHouse refused or did not answer.
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// A database name that is not a plain identifier.
    #[error("{0:?} is not a database name: letters, digits and _ only")]
    DatabaseName(String),
}

/// `name` if it can be spliced into DDL: ClickHouse takes no parameters there.
pub(crate) fn identifier(name: &str) -> Result<&str, AnalyticsError> {
    bazaar_platform::clickhouse::database_name(name)
        .ok_or_else(|| AnalyticsError::DatabaseName(name.to_owned()))
}
