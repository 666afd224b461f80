//! `bazaar consume <projection> --from-earliest --rebuild` for a projection whose tables
//! are built from its topics alone: the projection runs again from the first offset into
//! fresh tables, which are compared with the live ones and swapped in.
//!
//! 1. Fresh copies of the projection's tables (and a throwaway `outbox`, so events the
//!    projection emits are not emitted twice) are made in a schema of their own, under
//!    the same row-level security and grants. Their triggers and foreign keys are copied
//!    from the live tables just before the swap, so the rows are checked by them and the
//!    tables swapped in guard their rows as the old ones did.
//! 2. The projection runs in a new consumer group with that schema first on its
//!    `search_path`, so it writes there and still reads the service's other tables.
//! 3. Once the group has reached the topics' high watermarks, the live tables are
//!    locked against the live consumer, the group catches up with what arrived
//!    meanwhile, and stops. The tables are compared and swapped in one transaction.
//!
//! The live consumer, blocked by the lock, applies its next event to the new tables
//! afterwards. Projections write with ids derived from the event and ignore conflicts,
//! so an event both applied is there once.

use std::time::{Duration, Instant};

use rdkafka::{
    consumer::{BaseConsumer, Consumer},
    TopicPartitionList,
};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    consumer::{ConsumedEvent, ConsumerError, ConsumerRunner, Projection, ProjectionError},
    kafka, Settings,
};

/// A rebuild failed; the live tables are untouched.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Kafka failed.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The consumer could not start.
    #[error(transparent)]
    Consumer(#[from] ConsumerError),
    /// The group did not reach the topics' ends in time.
    #[error("not caught up after {0:?}: {1}")]
    Behind(Duration, String),
}

/// What a rebuild found.
#[derive(Debug)]
pub struct Rebuilt {
    /// Rows per table in the rebuilt tables.
    pub rows: Vec<(String, i64)>,
    /// Tables whose rows differed from the live ones, with the counts.
    pub differences: Vec<String>,
}

/// The projection, writing into the rebuild's schema under another consumer name.
struct Rebuilding<P> {
    inner: P,
    group: String,
    schema: String,
}

impl<P: Projection> Projection for Rebuilding<P> {
    fn name(&self) -> &str {
        &self.group
    }

    fn topics(&self) -> Vec<String> {
        self.inner.topics()
    }

    fn event_types(&self) -> &[&'static str] {
        self.inner.event_types()
    }

    fn shares_transactions(&self) -> bool {
        self.inner.shares_transactions()
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> Result<(), ProjectionError> {
        sqlx::query(&format!("SET LOCAL search_path TO {}, public", self.schema))
            .execute(&mut *tx)
            .await?;
        self.inner.apply(tx, event).await
    }
}

/// Rebuilds `projection`'s `tables` from the earliest offsets of its topics and swaps
/// them in. `patience` bounds each wait for the group to reach the topics' ends.
pub async fn rebuild<P: Projection>(
    settings: &Settings,
    pool: &PgPool,
    projection: P,
    tables: &[&str],
    patience: Duration,
) -> Result<Rebuilt, RebuildError> {
    rebuild_into(settings, pool, projection, tables, patience, true).await
}

/// Folds `projection`'s topics from the earliest offsets into fresh copies of `tables`
/// and compares them with the live ones, which stay: the proof that a service's tables
/// are what its own events say.
pub async fn replay<P: Projection>(
    settings: &Settings,
    pool: &PgPool,
    projection: P,
    tables: &[&str],
    patience: Duration,
) -> Result<Rebuilt, RebuildError> {
    rebuild_into(settings, pool, projection, tables, patience, false).await
}

async fn rebuild_into<P: Projection>(
    settings: &Settings,
    pool: &PgPool,
    projection: P,
    tables: &[&str],
    patience: Duration,
    swap: bool,
) -> Result<Rebuilt, RebuildError> {
    let live = projection.name().to_owned();
    let schema = format!("rebuild_{}", live.replace('-', "_"));
    let retired = format!("retired_{}", live.replace('-', "_"));
    let mut ddl = format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; \
         GRANT USAGE ON SCHEMA {schema} TO bazaar_app; \
         CREATE TABLE {schema}.outbox (LIKE public.outbox INCLUDING DEFAULTS INCLUDING IDENTITY);"
    );
    for table in tables {
        let granted: Option<String> = sqlx::query_scalar(
            "SELECT string_agg(privilege_type, ', ') FROM information_schema.role_table_grants \
             WHERE table_schema = 'public' AND table_name = $1 AND grantee = 'bazaar_app'",
        )
        .bind(table)
        .fetch_one(pool)
        .await?;
        ddl.push_str(&format!(
            "CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL); \
             SELECT isolate_tenants('{schema}.{table}');"
        ));
        if let Some(granted) = granted {
            ddl.push_str(&format!(
                "GRANT {granted} ON {schema}.{table} TO bazaar_app;"
            ));
        }
    }
    sqlx::raw_sql(&ddl).execute(pool).await?;

    let topics = projection.topics();
    let group = format!("{live}-rebuild-{}", Uuid::now_v7().simple());
    let rebuilding = Rebuilding {
        inner: projection,
        group: group.clone(),
        schema: schema.clone(),
    };
    let stop = CancellationToken::new();
    let runner = ConsumerRunner::new(settings, pool.clone(), rebuilding).with_group(group.clone());
    let consumer = tokio::spawn(runner.run(stop.clone()));

    let outcome = async {
        wait_for_group(settings, &group, &topics, patience).await?;
        let mut tx = pool.begin().await?;
        let locked: Vec<String> = tables.iter().map(|t| format!("public.{t}")).collect();
        sqlx::query(&format!(
            "LOCK TABLE {} IN EXCLUSIVE MODE",
            locked.join(", ")
        ))
        .execute(&mut *tx)
        .await?;
        wait_for_group(settings, &group, &topics, patience).await?;
        Ok::<_, RebuildError>(tx)
    }
    .await;
    stop.cancel();
    let _ = consumer.await;
    let mut tx = outcome?;
    copy_guards(&mut tx, tables, &schema).await?;

    let mut rows = Vec::new();
    let mut differences = Vec::new();
    for table in tables {
        // Inside this transaction only (ALTER TABLE holds its lock to the end): the owner
        // reads every tenant's rows to compare them.
        let (only_live, only_rebuilt, count): (i64, i64, i64) = {
            sqlx::raw_sql(&format!(
                "ALTER TABLE public.{table} NO FORCE ROW LEVEL SECURITY; \
                 ALTER TABLE {schema}.{table} NO FORCE ROW LEVEL SECURITY;"
            ))
            .execute(&mut *tx)
            .await?;
            let counts = sqlx::query_as(&format!(
                "SELECT (SELECT count(*) FROM (SELECT * FROM public.{table} EXCEPT ALL \
                                               SELECT * FROM {schema}.{table}) d), \
                        (SELECT count(*) FROM (SELECT * FROM {schema}.{table} EXCEPT ALL \
                                               SELECT * FROM public.{table}) d), \
                        (SELECT count(*) FROM {schema}.{table})"
            ))
            .fetch_one(&mut *tx)
            .await?;
            sqlx::raw_sql(&format!(
                "ALTER TABLE public.{table} FORCE ROW LEVEL SECURITY; \
                 ALTER TABLE {schema}.{table} FORCE ROW LEVEL SECURITY;"
            ))
            .execute(&mut *tx)
            .await?;
            counts
        };
        rows.push(((*table).to_owned(), count));
        if only_live > 0 || only_rebuilt > 0 {
            differences.push(format!(
                "{table}: {only_live} rows only in the live table, {only_rebuilt} only in the rebuilt one"
            ));
        }
    }
    let mut ddl = String::new();
    if swap {
        ddl.push_str(&format!(
            "DROP SCHEMA IF EXISTS {retired} CASCADE; CREATE SCHEMA {retired};"
        ));
        for table in tables {
            ddl.push_str(&format!(
                "ALTER TABLE public.{table} SET SCHEMA {retired}; \
                 ALTER TABLE {schema}.{table} SET SCHEMA public;"
            ));
        }
    }
    ddl.push_str(&format!("DROP SCHEMA {schema} CASCADE;"));
    sqlx::raw_sql(&ddl).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM processed_events WHERE consumer = $1")
        .bind(&group)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Rebuilt { rows, differences })
}

/// Gives the rebuilt tables the live tables' triggers and foreign keys (a foreign key to
/// another rebuilt table points at the rebuilt one). Adding a foreign key checks the
/// rows already there, so a rebuild that broke one fails here and swaps nothing.
async fn copy_guards(
    tx: &mut PgConnection,
    tables: &[&str],
    schema: &str,
) -> Result<(), RebuildError> {
    let retarget = |definition: &str, keyword: &str| {
        let mut definition = definition.to_owned();
        for table in tables {
            for from in [
                format!("{keyword} public.{table}"),
                format!("{keyword} {table}"),
            ] {
                for end in [" ", "("] {
                    definition = definition.replace(
                        &format!("{from}{end}"),
                        &format!("{keyword} {schema}.{table}{end}"),
                    );
                }
            }
        }
        definition
    };
    for table in tables {
        let triggers: Vec<String> = sqlx::query_scalar(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger \
             WHERE tgrelid = ('public.' || $1)::regclass AND NOT tgisinternal",
        )
        .bind(table)
        .fetch_all(&mut *tx)
        .await?;
        for trigger in triggers {
            sqlx::raw_sql(&retarget(&trigger, "ON"))
                .execute(&mut *tx)
                .await?;
        }
        let keys: Vec<(String, String)> = sqlx::query_as(
            "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE conrelid = ('public.' || $1)::regclass AND contype = 'f'",
        )
        .bind(table)
        .fetch_all(&mut *tx)
        .await?;
        for (name, definition) in keys {
            let definition = retarget(&definition, "REFERENCES");
            sqlx::raw_sql(&format!(
                "ALTER TABLE {schema}.{table} ADD CONSTRAINT {name} {definition}"
            ))
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// Waits until `group` has committed, on every partition of `topics`, the offset after
/// the partition's last message as it is now.
pub async fn wait_for_group(
    settings: &Settings,
    group: &str,
    topics: &[String],
    patience: Duration,
) -> Result<(), RebuildError> {
    let offsets: BaseConsumer = kafka::client_config(settings, group)
        .set("group.id", group)
        .create()?;
    let timeout = Duration::from_secs(10);
    let mut ends = Vec::new();
    for topic in topics {
        let metadata = offsets.fetch_metadata(Some(topic), timeout)?;
        for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
            let (_, high) = offsets.fetch_watermarks(topic, partition.id(), timeout)?;
            ends.push((topic.clone(), partition.id(), high));
        }
    }
    let started = Instant::now();
    loop {
        let mut wanted = TopicPartitionList::new();
        for (topic, partition, _) in &ends {
            wanted.add_partition(topic, *partition);
        }
        let committed = offsets.committed_offsets(wanted, timeout)?;
        let behind = ends.iter().find(|(topic, partition, high)| {
            let at = committed
                .find_partition(topic, *partition)
                .and_then(|p| p.offset().to_raw())
                .unwrap_or(-1)
                .max(0);
            at < *high
        });
        match behind {
            None => return Ok(()),
            Some((topic, partition, high)) if started.elapsed() > patience => {
                return Err(RebuildError::Behind(
                    patience,
                    format!("{topic} partition {partition} has {high} messages"),
                ))
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
