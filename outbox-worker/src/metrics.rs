//! Relay metrics, per service database.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use sqlx::PgPool;

const BACKLOG_REFRESH: Duration = Duration::from_secs(1);

/// Backlog, age of the oldest unpublished row, published events and leadership.
#[derive(Clone)]
pub struct RelayMetrics {
    unpublished: IntGaugeVec,
    parked_rows: IntGaugeVec,
    oldest_age: IntGaugeVec,
    published: IntCounterVec,
    parked: IntCounterVec,
    active: IntGaugeVec,
    /// When each database's backlog was last read: one relay process serves every
    /// database, and a throttle shared by all of them left the idle ones' gauges stale.
    last_refresh: Arc<Mutex<HashMap<String, Instant>>>,
}

impl RelayMetrics {
    /// Registers the relay metrics on `registry`.
    pub fn new(registry: &Registry) -> Self {
        let gauge = |name: &str, help: &str| {
            let gauge =
                IntGaugeVec::new(Opts::new(name, help), &["database"]).expect("valid metric");
            registry
                .register(Box::new(gauge.clone()))
                .expect("registered once");
            gauge
        };
        let published = IntCounterVec::new(
            Opts::new(
                "outbox_events_published_total",
                "Outbox rows acknowledged by Kafka and marked published",
            ),
            &["database"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(published.clone()))
            .expect("registered once");
        let parked = IntCounterVec::new(
            Opts::new(
                "outbox_events_parked_total",
                "Outbox rows the broker refused for good, set aside for `bazaar outbox retry`",
            ),
            &["database"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(parked.clone()))
            .expect("registered once");
        Self {
            parked,
            parked_rows: gauge(
                "outbox_parked_rows",
                "Outbox rows parked and not yet retried: alert when above zero",
            ),
            unpublished: gauge("outbox_unpublished_rows", "Outbox rows not yet published"),
            oldest_age: gauge(
                "outbox_oldest_unpublished_age_seconds",
                "Age of the oldest unpublished outbox row",
            ),
            published,
            active: gauge(
                "relay_active",
                "1 while this relay holds the database's lease",
            ),
            last_refresh: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub(crate) fn set_active(&self, database: &str, active: bool) {
        self.active
            .with_label_values(&[database])
            .set(i64::from(active));
    }

    pub(crate) fn published(&self, database: &str, count: usize) {
        self.published
            .with_label_values(&[database])
            .inc_by(count as u64);
    }

    pub(crate) fn parked(&self, database: &str, count: usize) {
        self.parked
            .with_label_values(&[database])
            .inc_by(count as u64);
    }

    /// Re-reads `database`'s backlog at most once a second; it is a count over the
    /// unpublished rows' index, too costly for every pass of a busy relay.
    pub(crate) async fn refresh_backlog(&self, database: &str, pool: &PgPool) {
        {
            let mut last = self.last_refresh.lock().expect("not poisoned");
            if last
                .get(database)
                .is_some_and(|at| at.elapsed() < BACKLOG_REFRESH)
            {
                return;
            }
            last.insert(database.to_owned(), Instant::now());
        }
        let backlog: Result<(i64, Option<f64>, i64), _> = sqlx::query_as(
            // Each part matches a partial index; the outbox also holds the history.
            "SELECT count(*), extract(epoch FROM now() - min(created_at))::float8, \
                    (SELECT count(*) FROM outbox \
                     WHERE published_at IS NULL AND parked_at IS NOT NULL) \
             FROM outbox WHERE published_at IS NULL AND parked_at IS NULL",
        )
        .fetch_one(pool)
        .await;
        match backlog {
            Ok((rows, age, parked)) => {
                self.unpublished.with_label_values(&[database]).set(rows);
                self.parked_rows.with_label_values(&[database]).set(parked);
                self.oldest_age
                    .with_label_values(&[database])
                    .set(age.unwrap_or(0.0).max(0.0) as i64);
            }
            Err(err) => tracing::warn!(database, error = %err, "cannot read the outbox backlog"),
        }
    }
}
