//! `bazaar analytics migrate`: the ordered migrations of `analytics/clickhouse/`, each
//! applied once and recorded in `schema_migrations`.

use bazaar_platform::{clickhouse, Settings};

use crate::{identifier, AnalyticsError};

/// Every migration: version, name and SQL (statements separated by `;`).
pub const MIGRATIONS: &[(u32, &str, &str)] = &[
    (1, "events", include_str!("../clickhouse/0001_events.sql")),
    (2, "facts", include_str!("../clickhouse/0002_facts.sql")),
    (3, "rollups", include_str!("../clickhouse/0003_rollups.sql")),
    (4, "sources", include_str!("../clickhouse/0004_sources.sql")),
];

/// The statements of a migration, comments dropped.
pub fn statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Creates `database` if missing and applies the migrations it has not had. Returns the
/// versions applied now: none the second time.
pub async fn migrate(settings: &Settings, database: &str) -> Result<Vec<u32>, AnalyticsError> {
    let database = identifier(database)?;
    clickhouse::client(settings, "default")
        .query(&format!("CREATE DATABASE IF NOT EXISTS {database}"))
        .execute()
        .await?;
    let db = clickhouse::client(settings, database);
    db.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime) \
         ENGINE = MergeTree() ORDER BY version",
    )
    .execute()
    .await?;
    let applied: Vec<u32> = db
        .query("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all()
        .await?;
    let mut now_applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        for statement in statements(sql) {
            db.query(&statement).execute().await?;
        }
        db.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, now())")
            .bind(*version)
            .bind(*name)
            .execute()
            .await?;
        tracing::info!(version, name, database, "analytics migration applied");
        now_applied.push(*version);
    }
    Ok(now_applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_split_into_statements() {
        let versions: Vec<u32> = MIGRATIONS.iter().map(|m| m.0).collect();
        assert_eq!(versions, (1..=MIGRATIONS.len() as u32).collect::<Vec<_>>());
        let events = statements(MIGRATIONS[0].2);
        assert_eq!(events.len(), 2);
        assert!(events[0].starts_with("CREATE TABLE IF NOT EXISTS events"));
    }

    #[test]
    fn no_sql_the_old_engine_lacks() {
        for (_, name, sql) in MIGRATIONS {
            for banned in ["DateTime64", "LowCardinality", " OVER (", "OVER("] {
                assert!(!sql.contains(banned), "{name} uses {banned}");
            }
        }
    }
}
