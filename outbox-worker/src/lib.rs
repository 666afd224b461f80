//! The relay: publishes each service database's outbox to Kafka, in order, at least once.
//!
//! - Rows are published in `id` order. Services append an aggregate's events while
//!   holding its row lock, so for one aggregate the id order is the commit order. (The
//!   xid order is not: a transaction takes its xid before it queues for the lock.)
//! - Only the settled prefix of that order is published: rows whose transaction is older
//!   than every transaction still running (`xid < pg_snapshot_xmin(...)`), up to the
//!   first row that is not. Filtering row by row would let an aggregate's later event
//!   overtake an earlier one whose transaction is merely newer than some unrelated
//!   running one.
//! - Rows are selected by `published_at IS NULL`, never by "after the last id
//!   published", so a transaction that commits late is never skipped.
//! - A whole batch is handed to the idempotent producer at once; rows are marked
//!   published only after the broker acknowledged them, and only up to the first
//!   failure, so a failed row and everything after it is sent again next pass.
//! - A row the broker or the producer refuses for good (too large, invalid) is parked:
//!   set aside with the reason, logged and counted, and publishing goes on with the rows
//!   after it, so one bad event cannot hold back every tenant's. Its aggregate's later
//!   events are published meanwhile; `bazaar outbox retry` sends it again once the cause
//!   is fixed.
//! - One relay per database is active: the holder of an unexpired lease. Marking rows
//!   checks the lease's fencing token in the same transaction, so a relay that was paused
//!   past its lease cannot mark anything; it only produces duplicates, which consumers
//!   drop by event id.

mod metrics;

use std::time::{Duration, Instant};

use bazaar_platform::{kafka, Settings};
use futures::FutureExt;
use rdkafka::{
    error::KafkaError,
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord, Producer},
    types::RDKafkaErrorCode,
};
use sqlx::{postgres::PgListener, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use metrics::RelayMetrics;

const PARTITION_UPKEEP: Duration = Duration::from_secs(3600);
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
const PRODUCER_RETRY: Duration = Duration::from_secs(1);

/// Why a relay pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Another relay holds the lease now; this one must stand by.
    #[error("the relay lost its lease")]
    LeaseLost,
    /// The database refused or went away.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The producer failed in a way that needs a new producer.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
}

/// The relay of one service database.
pub struct Relay {
    database: String,
    pool: PgPool,
    settings: Settings,
    metrics: RelayMetrics,
    /// Identifies this relay in the lease table.
    holder: Uuid,
    /// The batch query, with the batch size as a literal so every plan knows it.
    fetch_sql: String,
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: i64,
    event_type: String,
    tenant_id: Uuid,
    topic: String,
    key: String,
    payload: Vec<u8>,
    headers: sqlx::types::Json<serde_json::Map<String, serde_json::Value>>,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl Relay {
    /// A relay for `database`, reached through `pool`.
    pub fn new(database: &str, pool: PgPool, settings: Settings, metrics: RelayMetrics) -> Self {
        Self {
            database: database.to_owned(),
            pool,
            holder: Uuid::new_v4(),
            // The settled prefix: the rows before the first unsettled one, which the
            // subquery finds walking the unpublished rows from the oldest. Under load most
            // of the unpublished rows are not settled yet; they are left unread rather
            // than read with their payloads and dropped, pass after pass.
            fetch_sql: format!(
                "SELECT id, event_type, tenant_id, topic, key, payload, headers, created_at \
                 FROM outbox WHERE published_at IS NULL AND parked_at IS NULL AND id < coalesce( \
                     (SELECT min(id) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL \
                        AND xid >= pg_snapshot_xmin(pg_current_snapshot())), {}) \
                 ORDER BY id LIMIT {}",
                i64::MAX,
                settings.relay_batch_size
            ),
            settings,
            metrics,
        }
    }

    /// Stands by until it holds the lease, then publishes until shutdown or until the
    /// lease is lost (then stands by again). Returns only on shutdown.
    pub async fn run(&self, shutdown: CancellationToken) {
        let standby_wait = self.settings.relay_lease / 3;
        while !shutdown.is_cancelled() {
            match self.acquire_lease().await {
                Ok(Some(token)) => {
                    tracing::info!(database = %self.database, token, "relay holds the lease; publishing");
                    self.metrics.set_active(&self.database, true);
                    let result = self.lead(token, &shutdown).await;
                    self.metrics.set_active(&self.database, false);
                    match result {
                        Ok(()) => break,
                        Err(RelayError::LeaseLost) => {
                            tracing::warn!(database = %self.database, token, "relay lost its lease; standing by")
                        }
                        Err(err) => {
                            tracing::error!(database = %self.database, error = %err, "relay pass failed; retrying")
                        }
                    }
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::error!(database = %self.database, error = %err, "cannot read the relay lease")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(standby_wait) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }

    /// Publishes while holding the lease with `token`.
    async fn lead(&self, token: i64, shutdown: &CancellationToken) -> Result<(), RelayError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen("outbox").await?;
        // The batch query's own connection, out of the pool, with sorting off for good:
        // until autovacuum has analyzed a backlog that grew fast (a relay back from an
        // outage), the planner under-estimates it and sorts all of it, on disk, to return
        // the first rows, while the partial index already yields them in id order. Set
        // once, not per pass: a pass that finds nothing settled is one statement.
        let mut reader = self.pool.acquire().await?.detach();
        sqlx::query("SET enable_sort = off")
            .execute(&mut reader)
            .await?;
        let mut producer =
            kafka::producer(&self.settings, &format!("bazaar-relay-{}", self.database))?;
        let renew_every = self.settings.relay_lease / 3;
        let mut renewed = Instant::now();
        let mut upkeep: Option<Instant> = None;
        loop {
            if shutdown.is_cancelled() {
                // Delivery of what was sent is awaited per batch; nothing is pending here.
                let _ = producer.flush(FLUSH_TIMEOUT);
                self.release_lease().await?;
                return Ok(());
            }
            if renewed.elapsed() >= renew_every {
                if self.acquire_lease().await? != Some(token) {
                    return Err(RelayError::LeaseLost);
                }
                renewed = Instant::now();
            }
            if upkeep.is_none_or(|at| at.elapsed() >= PARTITION_UPKEEP) {
                sqlx::query("SELECT outbox_ensure_partitions(3)")
                    .execute(&self.pool)
                    .await?;
                upkeep = Some(Instant::now());
            }
            let published = match self.publish_batch(&mut reader, &producer, token).await {
                Ok(published) => published,
                Err(RelayError::Kafka(err)) => {
                    // Start over with a new producer, from the first unpublished row
                    // (nothing after a failure was marked), after a pause: a row the broker
                    // refuses outright would otherwise spin this loop.
                    tracing::error!(database = %self.database, error = %err, "rebuilding the producer");
                    tokio::select! {
                        () = tokio::time::sleep(PRODUCER_RETRY) => {}
                        () = shutdown.cancelled() => {}
                    }
                    producer = kafka::producer(
                        &self.settings,
                        &format!("bazaar-relay-{}", self.database),
                    )?;
                    continue;
                }
                Err(err) => return Err(err),
            };
            self.metrics
                .refresh_backlog(&self.database, &self.pool)
                .await;
            if published as i64 == self.settings.relay_batch_size {
                continue;
            }
            tokio::select! {
                notification = listener.recv() => match notification {
                    Ok(_) => self.gather(&mut listener, shutdown).await,
                    Err(err) => {
                        tracing::warn!(database = %self.database, error = %err, "outbox listener failed; polling");
                    }
                },
                () = tokio::time::sleep(self.settings.relay_poll) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }

    /// Waits the linger after a commit's NOTIFY, then takes the NOTIFYs of the commits
    /// that came meanwhile: the next pass reads them all. Under load a pass per commit
    /// mostly finds an older transaction still running and publishes nothing.
    async fn gather(&self, listener: &mut PgListener, shutdown: &CancellationToken) {
        tokio::select! {
            () = tokio::time::sleep(self.settings.relay_linger) => {}
            () = shutdown.cancelled() => return,
        }
        while let Some(Ok(_)) = listener.recv().now_or_never() {}
    }

    /// One pass: read a batch, send it all, await the acknowledgements, mark the
    /// acknowledged prefix. Returns how many rows were marked published.
    async fn publish_batch(
        &self,
        reader: &mut PgConnection,
        producer: &FutureProducer,
        token: i64,
    ) -> Result<usize, RelayError> {
        let started = Instant::now();
        let rows: Vec<OutboxRow> = sqlx::query_as(&self.fetch_sql)
            .fetch_all(&mut *reader)
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }

        let fetched = started.elapsed();
        // Per row, in order: its delivery, or why it was refused before sending.
        let mut deliveries = Vec::with_capacity(rows.len());
        // A span per traced row, from its send until the broker acknowledges it: the
        // relay's step in the trace of the request that wrote the row.
        let mut publishing = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(traceparent) = row.headers.get("traceparent").and_then(|v| v.as_str()) {
                publishing.push(bazaar_platform::telemetry::publish_span(
                    &row.topic,
                    &row.event_type,
                    Some(traceparent),
                ));
            }
            let mut record = FutureRecord::to(&row.topic)
                .key(&row.key)
                .payload(&row.payload)
                .headers(kafka_headers(&row.headers));
            loop {
                match producer.send_result(record) {
                    Ok(delivery) => {
                        deliveries.push(Ok(delivery));
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                        record = returned;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Err((err, _)) if refused_for_good(&err) => {
                        deliveries.push(Err(err));
                        break;
                    }
                    Err((err, _)) => return Err(err.into()),
                }
            }
        }

        let sent = started.elapsed();
        let mut acknowledged = Vec::with_capacity(rows.len());
        let mut parked = Vec::new();
        for (row, delivery) in rows.iter().zip(deliveries) {
            let refused = match delivery {
                Err(refused) => refused,
                Ok(delivery) => match delivery.await {
                    Ok(Ok(_)) => {
                        acknowledged.push(row);
                        continue;
                    }
                    Ok(Err((err, _))) if refused_for_good(&err) => err,
                    Ok(Err((err, _))) => {
                        tracing::warn!(database = %self.database, error = %err, "delivery failed; the row is sent again next pass");
                        break;
                    }
                    Err(_) => break,
                },
            };
            tracing::error!(
                database = %self.database,
                outbox_id = row.id,
                event_type = %row.event_type,
                tenant = %row.tenant_id,
                bytes = row.payload.len(),
                reason = %refused,
                "outbox row parked: the broker refuses it; later rows go on. Fix the cause, then `bazaar outbox retry`"
            );
            parked.push((row, refused.to_string()));
        }
        drop(publishing);
        let handled = acknowledged.len() + parked.len();
        let acked_at = started.elapsed();
        if handled > 0 {
            self.settle(&acknowledged, &parked, token).await?;
            self.metrics.published(&self.database, acknowledged.len());
            self.metrics.parked(&self.database, parked.len());
        }
        tracing::debug!(
            database = %self.database,
            rows = rows.len(),
            acknowledged = acknowledged.len(),
            parked = parked.len(),
            fetch_ms = fetched.as_millis() as u64,
            send_ms = (sent - fetched).as_millis() as u64,
            ack_ms = (acked_at - sent).as_millis() as u64,
            mark_ms = (started.elapsed() - acked_at).as_millis() as u64,
            "relay pass"
        );
        if handled < rows.len() {
            if let Some((code, reason)) = producer.client().fatal_error() {
                tracing::error!(database = %self.database, %reason, "fatal producer error");
                return Err(KafkaError::MessageProduction(code).into());
            }
        }
        Ok(handled)
    }

    /// Marks rows published and parks the refused ones, if this relay still holds the
    /// lease with `token`.
    async fn settle(
        &self,
        rows: &[&OutboxRow],
        parked: &[(&OutboxRow, String)],
        token: i64,
    ) -> Result<(), RelayError> {
        let mut tx = self.pool.begin().await?;
        // FOR SHARE: a takeover waits until this commits, so no mark lands after it.
        let held: Option<i64> = sqlx::query_scalar(
            "SELECT fencing_token FROM relay_lease \
             WHERE name = 'outbox' AND holder = $1 AND fencing_token = $2 AND expires_at > now() \
             FOR SHARE",
        )
        .bind(self.holder)
        .bind(token)
        .fetch_optional(&mut *tx)
        .await?;
        if held.is_none() {
            return Err(RelayError::LeaseLost);
        }
        if !rows.is_empty() {
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            // The rows' time span names the partitions they are in (one, except across a
            // month's end); only those partitions' primary keys are probed, per id.
            let first = rows.iter().map(|r| r.created_at).min();
            let last = rows.iter().map(|r| r.created_at).max();
            sqlx::query(
                "UPDATE outbox SET published_at = now() \
                 WHERE id = ANY($1) AND created_at BETWEEN $2 AND $3 AND published_at IS NULL",
            )
            .bind(&ids)
            .bind(first)
            .bind(last)
            .execute(&mut *tx)
            .await?;
        }
        for (row, reason) in parked {
            sqlx::query(
                "UPDATE outbox SET parked_at = now(), parked_reason = $3 \
                 WHERE id = $1 AND created_at = $2 AND published_at IS NULL",
            )
            .bind(row.id)
            .bind(row.created_at)
            .bind(reason)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes or renews the lease; returns the fencing token if this relay holds it.
    async fn acquire_lease(&self) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "UPDATE relay_lease SET \
               fencing_token = CASE WHEN holder = $1 AND expires_at > now() \
                                    THEN fencing_token ELSE fencing_token + 1 END, \
               holder = $1, \
               expires_at = now() + make_interval(secs => $2) \
             WHERE name = 'outbox' AND (holder = $1 OR expires_at <= now()) \
             RETURNING fencing_token",
        )
        .bind(self.holder)
        .bind(self.settings.relay_lease.as_secs_f64())
        .fetch_optional(&self.pool)
        .await
    }

    /// Ends the lease now, so a standby need not wait for it to expire.
    async fn release_lease(&self) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE relay_lease SET expires_at = now() WHERE name = 'outbox' AND holder = $1",
        )
        .bind(self.holder)
        .execute(&self.pool)
        .await?;
        tracing::info!(database = %self.database, "relay released its lease");
        Ok(())
    }
}

/// Whether the broker (or the producer's own checks) refuses this message however often
/// it is sent: it is too large or malformed, or a policy forbids it.
fn refused_for_good(err: &KafkaError) -> bool {
    matches!(
        err.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::PolicyViolation
                | RDKafkaErrorCode::BadMessage
        )
    )
}

fn kafka_headers(headers: &serde_json::Map<String, serde_json::Value>) -> OwnedHeaders {
    headers.iter().fold(
        OwnedHeaders::new_with_capacity(headers.len()),
        |acc, (key, value)| {
            acc.insert(Header {
                key,
                value: value.as_str(),
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use bazaar_platform::{db, http::HttpMetrics};
    use sqlx::migrate::Migrator;

    use super::*;

    async fn relay_pair() -> (Relay, Relay, PgPool) {
        let mut settings = Settings::from_env().unwrap();
        settings.relay_lease = Duration::from_millis(500);
        let name = format!("test_{}", Uuid::new_v4().simple());
        let pool = db::prepare(&settings, &name, Migrator::DEFAULT)
            .await
            .unwrap();
        let metrics = RelayMetrics::new(HttpMetrics::new().registry());
        let relay = |_| Relay::new(&name, pool.clone(), settings.clone(), metrics.clone());
        (relay(1), relay(2), pool)
    }

    async fn insert_row(pool: &PgPool) {
        sqlx::query(
            "INSERT INTO outbox (event_id, topic, key, event_type, dataschema, payload, headers, tenant_id) \
             VALUES (gen_random_uuid(), 't', 'k', 'x.y.z', 'x.y.z.v1', '\\x00', '{}', gen_random_uuid())",
        )
        .execute(pool)
        .await
        .unwrap();
    }

    async fn unpublished_rows(pool: &PgPool) -> Vec<OutboxRow> {
        sqlx::query_as(
            "SELECT id, event_type, tenant_id, topic, key, payload, headers, created_at \
             FROM outbox WHERE published_at IS NULL",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn only_one_relay_holds_the_lease_until_it_expires() {
        let (first, second, _pool) = relay_pair().await;
        let token = first
            .acquire_lease()
            .await
            .unwrap()
            .expect("a free lease is taken");
        assert_eq!(
            second.acquire_lease().await.unwrap(),
            None,
            "held by the first"
        );
        assert_eq!(
            first.acquire_lease().await.unwrap(),
            Some(token),
            "renewal keeps the token"
        );
        tokio::time::sleep(Duration::from_millis(600)).await;
        let taken = second
            .acquire_lease()
            .await
            .unwrap()
            .expect("an expired lease is taken");
        assert!(taken > token, "a new holder gets a larger fencing token");
    }

    #[tokio::test]
    async fn a_relay_whose_lease_was_taken_over_cannot_mark_rows() {
        let (first, second, pool) = relay_pair().await;
        let stale = first.acquire_lease().await.unwrap().unwrap();
        insert_row(&pool).await;
        let rows = unpublished_rows(&pool).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        let current = second.acquire_lease().await.unwrap().unwrap();

        let rows: Vec<&OutboxRow> = rows.iter().collect();
        let err = first.settle(&rows, &[], stale).await.unwrap_err();
        assert!(matches!(err, RelayError::LeaseLost), "{err}");
        assert_eq!(unpublished_rows(&pool).await.len(), 1, "nothing was marked");

        second.settle(&rows, &[], current).await.unwrap();
        assert!(unpublished_rows(&pool).await.is_empty());
    }

    #[tokio::test]
    async fn a_batch_across_a_months_end_is_marked_in_both_partitions() {
        let (relay, _, pool) = relay_pair().await;
        let token = relay.acquire_lease().await.unwrap().unwrap();
        for at in [
            "now()",
            "date_trunc('month', now()) + interval '1 month' + interval '1 second'",
        ] {
            sqlx::query(&format!(
                "INSERT INTO outbox (event_id, topic, key, event_type, dataschema, payload, headers, \
                 tenant_id, created_at) VALUES (gen_random_uuid(), 't', 'k', 'x.y.z', 'x.y.z.v1', \
                 '\\x00', '{{}}', gen_random_uuid(), {at})"
            ))
            .execute(&pool)
            .await
            .unwrap();
        }
        let partitions: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT tableoid) FROM outbox WHERE published_at IS NULL",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(partitions, 2, "this month's and the next");

        let rows = unpublished_rows(&pool).await;
        relay
            .settle(&rows.iter().collect::<Vec<_>>(), &[], token)
            .await
            .unwrap();
        assert!(unpublished_rows(&pool).await.is_empty());
    }

    #[tokio::test]
    async fn a_released_lease_is_free_at_once() {
        let (first, second, _pool) = relay_pair().await;
        first.acquire_lease().await.unwrap().unwrap();
        first.release_lease().await.unwrap();
        assert!(second.acquire_lease().await.unwrap().is_some());
    }
}
