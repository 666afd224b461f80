//! `bazaar consume inventory-snapshots --from-earliest --rebuild`: stock levels and
//! batches rebuilt from every `inventory.stock.moved` since the first offset, into fresh
//! tables that are compared with the live ones and then swapped in.
//!
//! The fold is the live one (`ledger::apply`), run against tables in another schema.
//! The swap happens under a lock that stops stock writers, and only once every movement
//! of every tenant's ledger has been folded (counted, not just the latest: the topic's
//! partitions arrive at their own pace), so nothing recorded during the rebuild is lost.

use bazaar_schemas::{events, Event as _};
use std::time::{Duration, Instant};

use bazaar_platform::{
    consumer::{unhandled, ConsumedEvent, ConsumerRunner, Projection, ProjectionError},
    db,
    rebuild::{wait_for_group, RebuildError},
    Settings,
};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::ledger::{self, Fold};

/// Where the fresh tables are built.
const SCHEMA: &str = "snapshot_rebuild";
/// Where the replaced tables are kept until the next rebuild, for inspection.
const RETIRED: &str = "snapshot_retired";
/// The tables the projection owns.
const TABLES: [&str; 2] = ["stock_levels", "stock_batches"];

/// What a rebuild found and did.
#[derive(Debug)]
pub struct Rebuilt {
    /// Stock items (location and product) rebuilt.
    pub items: i64,
    /// Items or batches whose rebuilt stock or cost differed from the live one.
    pub differences: Vec<String>,
}

/// [`rebuild`] from `inventory.events.v1`, reported as the platform reports a rebuild:
/// what `bazaar consume inventory-snapshots --from-earliest --rebuild` runs.
pub fn rebuild_from_topic<'a>(
    settings: &'a Settings,
    pool: &'a PgPool,
    patience: Duration,
) -> bazaar_platform::service::LocalBoxFuture<
    'a,
    Result<bazaar_platform::rebuild::Rebuilt, RebuildError>,
> {
    Box::pin(async move {
        let rebuilt = rebuild(settings, pool, "inventory.events.v1", patience).await?;
        Ok(bazaar_platform::rebuild::Rebuilt {
            rows: vec![("stock items".to_owned(), rebuilt.items)],
            differences: rebuilt.differences,
        })
    })
}

/// Folds `inventory.stock.moved` into the tables of [`SCHEMA`].
struct StockFold {
    name: String,
    topic: String,
}

impl Projection for StockFold {
    fn name(&self) -> &str {
        &self.name
    }

    fn topics(&self) -> Vec<String> {
        vec![self.topic.clone()]
    }

    fn event_types(&self) -> &[&'static str] {
        &[events::inventory::StockMoved::TYPE]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> Result<(), ProjectionError> {
        if event.cloud.event_type != events::inventory::StockMoved::TYPE {
            return Err(unhandled(&self.name, event));
        }
        let moved: events::inventory::StockMoved = event.payload()?;
        // Only the fresh tables: if they are gone, fail rather than touch live stock.
        sqlx::query(&format!("SET LOCAL search_path TO {SCHEMA}"))
            .execute(&mut *tx)
            .await?;
        let expiry: Option<NaiveDate> = moved.expiry_date.as_deref().map(str::parse).transpose()?;
        let fold = Fold {
            location: moved.location_id.into(),
            product: moved.product_id.into(),
            batch: &moved.batch,
            expiry,
            quantity: moved.quantity.parse()?,
            unit_cost: moved.unit_cost_minor.parse()?,
            seq: moved.seq,
            at: DateTime::<Utc>::from_timestamp_millis(moved.recorded_at)
                .ok_or("recorded_at out of range")?,
        };
        ledger::apply(tx, event.cloud.tenant, &fold).await?;
        sqlx::query("INSERT INTO folded (tenant_id, seq) VALUES ($1, $2)")
            .bind(event.cloud.tenant)
            .bind(moved.seq)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

/// Rebuilds stock from `topic` (`inventory.events.v1`) and swaps it in. `patience` bounds
/// the wait for the topic to deliver every movement of the ledger.
pub async fn rebuild(
    settings: &Settings,
    pool: &PgPool,
    topic: &str,
    patience: Duration,
) -> Result<Rebuilt, RebuildError> {
    let mut ddl = format!(
        "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}; \
         GRANT USAGE ON SCHEMA {SCHEMA} TO bazaar_app;"
    );
    for table in TABLES {
        ddl.push_str(&format!(
            "CREATE TABLE {SCHEMA}.{table} (LIKE public.{table} INCLUDING ALL); \
             ALTER TABLE {SCHEMA}.{table} ADD FOREIGN KEY (location_id) REFERENCES public.locations (id); \
             SELECT isolate_tenants('{SCHEMA}.{table}'); \
             GRANT SELECT, INSERT, UPDATE, DELETE ON {SCHEMA}.{table} TO bazaar_app;"
        ));
    }
    // The movements folded so far, to know when every one is.
    ddl.push_str(&format!(
        "CREATE TABLE {SCHEMA}.folded (tenant_id UUID NOT NULL, seq BIGINT PRIMARY KEY); \
         SELECT isolate_tenants('{SCHEMA}.folded');"
    ));
    sqlx::raw_sql(&ddl).execute(pool).await?;

    let group = format!(
        "{}-rebuild-{}",
        crate::snapshots::NAME,
        Uuid::now_v7().simple()
    );
    let fold = StockFold {
        name: group.clone(),
        topic: topic.to_owned(),
    };
    let stop = CancellationToken::new();
    let runner = ConsumerRunner::new(settings, pool.clone(), fold).with_group(group.clone());
    let consumer = tokio::spawn(runner.run(stop.clone()));

    // Catch up without blocking anyone. Then lock stock writers out and give the topic a
    // moment to deliver every movement they recorded. A writer blocked by the lock may
    // hold back the relay (it publishes only below the oldest running transaction), so
    // when the moment passes the lock is let go and taken again later.
    let topics = [topic.to_owned()];
    let outcome = async {
        wait_for_group(settings, &group, &topics, patience).await?;
        let deadline = Instant::now() + patience;
        loop {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "LOCK TABLE public.stock_levels, public.stock_batches, public.stock_movements \
                 IN EXCLUSIVE MODE",
            )
            .execute(&mut *tx)
            .await?;
            let moment = Instant::now() + Duration::from_secs(2);
            loop {
                match behind(&mut tx).await? {
                    None => return Ok::<_, RebuildError>(tx),
                    Some(_) if Instant::now() < moment => {
                        tokio::time::sleep(Duration::from_millis(100)).await
                    }
                    Some(why) if Instant::now() > deadline => {
                        return Err(RebuildError::Behind(patience, why))
                    }
                    Some(_) => break,
                }
            }
            tx.rollback().await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    .await;
    stop.cancel();
    let _ = consumer.await;
    let mut tx = outcome?;

    let mut differences = Vec::new();
    let mut items = 0;
    for tenant in tenants(&mut tx).await? {
        db::set_tenant(&mut tx, tenant).await?;
        items +=
            sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {SCHEMA}.stock_levels"))
                .fetch_one(&mut *tx)
                .await?;
        differences.extend(compare(&mut tx).await?);
    }
    let mut swap = format!("DROP SCHEMA IF EXISTS {RETIRED} CASCADE; CREATE SCHEMA {RETIRED};");
    for table in TABLES {
        swap.push_str(&format!(
            "ALTER TABLE public.{table} SET SCHEMA {RETIRED}; \
             ALTER TABLE {SCHEMA}.{table} SET SCHEMA public;"
        ));
    }
    swap.push_str(&format!("DROP SCHEMA {SCHEMA} CASCADE;"));
    sqlx::raw_sql(&swap).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM processed_events WHERE consumer = $1")
        .bind(&group)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Rebuilt { items, differences })
}

/// Which tenant's ledger has movements the rebuild has not folded yet, if any.
async fn behind(tx: &mut PgConnection) -> Result<Option<String>, sqlx::Error> {
    for tenant in tenants(tx).await? {
        db::set_tenant(tx, tenant).await?;
        let (ledger, folded): (i64, i64) = sqlx::query_as(&format!(
            "SELECT (SELECT count(*) FROM public.stock_movements), \
                    (SELECT count(*) FROM {SCHEMA}.folded)"
        ))
        .fetch_one(&mut *tx)
        .await?;
        if folded < ledger {
            return Ok(Some(format!(
                "tenant {tenant}: {folded} of {ledger} movements folded; is the relay running?"
            )));
        }
    }
    Ok(None)
}

async fn tenants(conn: &mut PgConnection) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT tenant_id FROM tenants ORDER BY tenant_id")
        .fetch_all(conn)
        .await
}

/// The current tenant's items and batches whose rebuilt and live stock differ.
async fn compare(tx: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT format('%s/%s: on hand %s live, %s rebuilt; cost %s live, %s rebuilt; \
                value %s live, %s rebuilt', \
                location_id, product_id, trim_scale(l.on_hand), trim_scale(r.on_hand), \
                trim_scale(l.average_cost_minor), trim_scale(r.average_cost_minor), \
                l.value_minor, r.value_minor) \
         FROM (SELECT * FROM public.stock_levels WHERE last_movement_seq > 0) l \
         FULL JOIN {SCHEMA}.stock_levels r USING (tenant_id, location_id, product_id) \
         WHERE l.on_hand IS DISTINCT FROM r.on_hand \
            OR l.average_cost_minor IS DISTINCT FROM r.average_cost_minor \
            OR l.value_minor IS DISTINCT FROM r.value_minor \
         UNION ALL \
         SELECT format('%s/%s batch %L: %s live, %s rebuilt', location_id, product_id, batch, \
                trim_scale(l.on_hand), trim_scale(r.on_hand)) \
         FROM public.stock_batches l FULL JOIN {SCHEMA}.stock_batches r \
           USING (tenant_id, location_id, product_id, batch) \
         WHERE l.on_hand IS DISTINCT FROM r.on_hand"
    ))
    .fetch_all(tx)
    .await
}
