//! PostgreSQL: one database per service, created if missing, migrated at start-up with
//! the platform's tables (`migrations/platform/`: outbox, relay lease, processed events)
//! and then the service's own (`migrations/<service>/`).

use std::time::Duration;

use sqlx::{
    migrate::Migrator,
    pool::MaybePoolConnection,
    postgres::{PgConnectOptions, PgPoolOptions},
    Acquire, Connection, PgConnection, PgPool, Postgres, Transaction,
};
use uuid::Uuid;

use crate::config::Settings;

/// A database could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The name is not a plain lowercase identifier.
    #[error("database name {0:?} must be lowercase letters, digits and underscores")]
    InvalidName(String),
    /// The server refused or did not answer.
    #[error("database {database}: cannot connect: {source}")]
    Connect {
        /// Which database.
        database: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// `CREATE DATABASE` failed.
    #[error("database {database}: cannot create: {source}")]
    Create {
        /// Which database.
        database: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("database {database}: migration failed: {source}")]
    Migrate {
        /// Which database.
        database: String,
        /// The migrator's error.
        source: sqlx::migrate::MigrateError,
    },
}

/// SQL for an event's time (`timestamp-millis`, bound after it) as a `timestamptz`, exact
/// to the millisecond: a row written live and again from its event then hold the same
/// time. `format!("... {EVENT_TIME} $5")`.
pub const EVENT_TIME: &str = "'epoch'::timestamptz + interval '1 millisecond' *";

/// The tables every service database has. Its versions are small integers; services
/// use timestamps, so the two sets never collide.
pub fn platform_migrator() -> Migrator {
    sqlx::migrate!("../../migrations/platform")
}

/// Creates `database` if missing, opens a pool on it and applies the platform's
/// migrations, then `service` (pass `sqlx::migrate!("../../migrations/<service>")`).
pub async fn prepare(
    settings: &Settings,
    database: &str,
    service: Migrator,
) -> Result<PgPool, DbError> {
    create_database(&settings.database, database).await?;
    let pool = pool(settings, database).await?;
    for mut migrator in [platform_migrator(), service] {
        // Each set sees the other's applied versions in the same _sqlx_migrations table.
        migrator.set_ignore_missing(true);
        migrator
            .run(&pool)
            .await
            .map_err(|source| DbError::Migrate {
                database: database.to_owned(),
                source,
            })?;
    }
    Ok(pool)
}

/// A pool on an existing database, as the role that owns the tables.
pub async fn pool(settings: &Settings, database: &str) -> Result<PgPool, DbError> {
    connect(settings, settings.database_for(database)).await
}

/// A pool on an existing database as the role request handlers use (see
/// [`Settings::app_database`]): row-level security applies to it.
pub async fn app_pool(settings: &Settings, database: &str) -> Result<PgPool, DbError> {
    connect(settings, settings.app_database_for(database)).await
}

async fn connect(settings: &Settings, options: PgConnectOptions) -> Result<PgPool, DbError> {
    let database = options.get_database().unwrap_or_default().to_owned();
    PgPoolOptions::new()
        .max_connections(settings.db_max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|source| DbError::Connect { database, source })
}

/// Begins a transaction that sees and writes only `tenant`'s rows of the tables under
/// row-level security. The setting ends with the transaction, so a pooled connection
/// never carries one tenant into another's request.
///
/// `BEGIN` and the setting go in one simple-protocol message, one round trip: every
/// request pays for it. A formatted UUID is only hex digits and dashes, so inlining it
/// is safe.
pub async fn begin_for_tenant<'c, A>(
    conn: A,
    tenant: Uuid,
) -> Result<Transaction<'c, Postgres>, sqlx::Error>
where
    A: Acquire<'c, Database = Postgres>,
    A::Connection: Into<MaybePoolConnection<'c, Postgres>>,
{
    begin_with(conn, tenant, "").await
}

/// [`begin_for_tenant`] for the till's hot path, whose statements are of fixed shape:
/// each is planned once, not re-planned at every execution as PostgreSQL does with
/// their arrays and row security (see `Settings::planning_once`, which the consumers
/// use for all their statements).
pub async fn begin_for_tenant_planned_once<'c, A>(
    conn: A,
    tenant: Uuid,
) -> Result<Transaction<'c, Postgres>, sqlx::Error>
where
    A: Acquire<'c, Database = Postgres>,
    A::Connection: Into<MaybePoolConnection<'c, Postgres>>,
{
    begin_with(
        conn,
        tenant,
        "; SET LOCAL plan_cache_mode = force_generic_plan",
    )
    .await
}

async fn begin_with<'c, A>(
    conn: A,
    tenant: Uuid,
    then: &str,
) -> Result<Transaction<'c, Postgres>, sqlx::Error>
where
    A: Acquire<'c, Database = Postgres>,
    A::Connection: Into<MaybePoolConnection<'c, Postgres>>,
{
    let conn = conn.acquire().await?;
    let begin = format!("BEGIN; SELECT set_config('bazaar.tenant', '{tenant}', true){then}");
    Transaction::begin(conn, Some(begin.into())).await
}

/// Scopes the rest of the current transaction to `tenant`: what a projection does per
/// event, since one consumer applies every tenant's events.
pub async fn set_tenant(tx: &mut PgConnection, tenant: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('bazaar.tenant', $1, true)")
        .bind(tenant.to_string())
        .execute(tx)
        .await?;
    Ok(())
}

/// Creates `database` on the server of `server` unless it exists. Safe to race: two
/// processes creating the same database both succeed.
pub async fn create_database(server: &PgConnectOptions, database: &str) -> Result<(), DbError> {
    if database.is_empty()
        || database.len() > 63
        || !database
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(DbError::InvalidName(database.to_owned()));
    }
    let mut conn = PgConnection::connect_with(&server.clone().database("postgres"))
        .await
        .map_err(|source| DbError::Connect {
            database: "postgres".to_owned(),
            source,
        })?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)")
            .bind(database)
            .fetch_one(&mut conn)
            .await
            .map_err(|source| DbError::Connect {
                database: "postgres".to_owned(),
                source,
            })?;
    if !exists {
        // The name was checked above; identifiers cannot be bound as parameters.
        let created = sqlx::query(&format!(r#"CREATE DATABASE "{database}""#))
            .execute(&mut conn)
            .await;
        match created {
            Ok(_) => tracing::info!(database, "created database"),
            // 42P04 duplicate_database, 23505 unique_violation: another process won the race.
            Err(sqlx::Error::Database(err))
                if matches!(err.code().as_deref(), Some("42P04") | Some("23505")) => {}
            Err(source) => {
                return Err(DbError::Create {
                    database: database.to_owned(),
                    source,
                })
            }
        }
    }
    let _ = conn.close().await;
    Ok(())
}
