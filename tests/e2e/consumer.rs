//! The consumer runner against real Kafka and PostgreSQL: exactly-once effects from
//! at-least-once delivery, and bad events set aside without stopping the projection.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU32, Ordering},
        Arc,
    },
    time::Duration,
};

use crate::support::{
    bazaar,
    mesh::{
        database, produce, produce_for, produce_raw, read_with_headers, settings, topic,
        wait_committed,
    },
    run_ok,
};
use bazaar_platform::consumer::{
    ConsumedEvent, ConsumerRunner, Projection, ProjectionError, Retry,
};
use bazaar_schemas::{Catalogue, CloudEvent};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Counts events per aggregate. Keys starting with `poison` fail until `fixed`; the
/// key `flaky` fails twice, then works.
struct EventCounts {
    topic: String,
    flaky_failures: Arc<AtomicU32>,
    fixed: Arc<AtomicBool>,
    per_transaction: usize,
}

impl Projection for EventCounts {
    fn name(&self) -> &str {
        "event-counts"
    }

    fn topics(&self) -> Vec<String> {
        vec![self.topic.clone()]
    }

    fn event_types(&self) -> &[&'static str] {
        &[
            "catalog.product.created",
            "catalog.product.updated",
            "catalog.category.created",
            "catalog.barcode.assigned",
            "catalog.price.changed",
        ]
    }

    fn events_per_transaction(&self) -> usize {
        self.per_transaction
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> Result<(), ProjectionError> {
        let key = &event.cloud.subject;
        if key.starts_with("poison") && !self.fixed.load(Ordering::SeqCst) {
            return Err(format!("no price list for {key}").into());
        }
        if key == "flaky" && self.flaky_failures.fetch_add(1, Ordering::SeqCst) < 2 {
            return Err("deadlock detected (simulated)".into());
        }
        let sku: String = match event.json()?.get("sku") {
            Some(serde_json::Value::String(sku)) => sku.clone(),
            _ => return Err("payload without sku".into()),
        };
        assert_eq!(&sku, key);
        sqlx::query(
            "INSERT INTO event_counts (key, n) VALUES ($1, 1) \
             ON CONFLICT (key) DO UPDATE SET n = event_counts.n + 1",
        )
        .bind(key)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO applied_in (xid, tenant) VALUES (pg_current_xact_id()::text, $1)")
            .bind(event.cloud.tenant)
            .execute(tx)
            .await?;
        Ok(())
    }
}

async fn setup() -> (PgPool, String) {
    let (_, pool) = database().await;
    sqlx::raw_sql(
        "CREATE TABLE event_counts (key TEXT PRIMARY KEY, n INT NOT NULL); \
         CREATE TABLE applied_in (xid TEXT NOT NULL, tenant UUID NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    (pool, topic(1).await)
}

fn run(pool: &PgPool, topic: &str, group: &str) -> CancellationToken {
    run_fixable(pool, topic, group, Arc::new(AtomicBool::new(false)), 200)
}

fn run_fixable(
    pool: &PgPool,
    topic: &str,
    group: &str,
    fixed: Arc<AtomicBool>,
    per_transaction: usize,
) -> CancellationToken {
    let projection = EventCounts {
        topic: topic.to_owned(),
        flaky_failures: Arc::new(AtomicU32::new(0)),
        fixed,
        per_transaction,
    };
    let runner = ConsumerRunner::new(&settings(), pool.clone(), projection)
        .with_group(group)
        .with_retry(Retry {
            attempts: 3,
            backoff: Duration::from_millis(20),
        });
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    tokio::spawn(async move { runner.run(token).await.unwrap() });
    shutdown
}

async fn counts(pool: &PgPool) -> Vec<(String, i32)> {
    sqlx::query_as("SELECT key, n FROM event_counts ORDER BY key")
        .fetch_all(pool)
        .await
        .unwrap()
}

fn group() -> String {
    format!("test-{}", Uuid::new_v4())
}

#[tokio::test(flavor = "multi_thread")]
async fn events_redelivered_after_lost_offsets_change_nothing() {
    let (pool, topic) = setup().await;
    for i in 0..10 {
        produce(&topic, &format!("sku-{}", i % 3)).await;
    }
    let first = group();
    let consumer = run(&pool, &topic, &first);
    wait_committed(&first, &topic, 10).await;
    consumer.cancel();
    let before = counts(&pool).await;
    assert_eq!(before.iter().map(|(_, n)| n).sum::<i32>(), 10);

    // As if the consumer died after its commits but before its offsets were committed:
    // another group starts from the beginning and sees every event again.
    let second = group();
    let consumer = run(&pool, &topic, &second);
    wait_committed(&second, &topic, 10).await;
    consumer.cancel();
    assert_eq!(
        counts(&pool).await,
        before,
        "redelivery changed the projection"
    );
    let processed: i64 = sqlx::query_scalar("SELECT count(*) FROM processed_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(processed, 10);
}

/// The transactions events were applied in.
async fn transactions(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(DISTINCT xid) FROM applied_in")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Transactions that applied the events of more than one tenant.
async fn mixed_transactions(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT xid FROM applied_in GROUP BY xid \
         HAVING count(DISTINCT tenant) > 1) AS mixed",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A tenant's events of one poll share a transaction, and no transaction holds two
/// tenants': the tenant is set per transaction, and checks deferred to commit (the
/// ledger's balance) see only the tenant set last.
#[tokio::test(flavor = "multi_thread")]
async fn the_events_of_one_poll_share_a_transaction_per_tenant() {
    let (pool, topic) = setup().await;
    let tenants = [Uuid::nil(), Uuid::new_v4()];
    for i in 0..30 {
        produce_for(&topic, &format!("sku-{}", i % 4), tenants[i % 2]).await;
    }
    let group = group();
    let consumer = run(&pool, &topic, &group);
    wait_committed(&group, &topic, 30).await;
    consumer.cancel();

    let applied = counts(&pool).await;
    assert_eq!(applied.iter().map(|(_, n)| n).sum::<i32>(), 30);
    let shared = transactions(&pool).await;
    assert!(
        shared < 30,
        "30 events waiting when the consumer started took {shared} transactions"
    );
    assert_eq!(mixed_transactions(&pool).await, 0);
}

/// A projection that asks for short transactions gets a poll's events a few at a time,
/// still together.
#[tokio::test(flavor = "multi_thread")]
async fn a_projection_bounds_the_events_of_its_transactions() {
    let (pool, topic) = setup().await;
    for i in 0..30 {
        produce(&topic, &format!("sku-{}", i % 4)).await;
    }
    let group = group();
    let consumer = run_fixable(&pool, &topic, &group, Arc::new(AtomicBool::new(false)), 4);
    wait_committed(&group, &topic, 30).await;
    consumer.cancel();

    let applied = counts(&pool).await;
    assert_eq!(applied.iter().map(|(_, n)| n).sum::<i32>(), 30);
    let sizes: Vec<i64> =
        sqlx::query_scalar("SELECT count(*) FROM applied_in GROUP BY xid ORDER BY 1 DESC")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(sizes[0] <= 4, "a transaction applied {} events", sizes[0]);
    assert!(
        sizes[0] > 1,
        "no two events shared a transaction: {sizes:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undecodable_message_goes_to_the_dlq_and_the_consumer_goes_on() {
    let (pool, topic) = setup().await;
    produce_raw(&topic, "sku-x", b"not avro at all", None).await;
    produce(&topic, "sku-1").await;
    let group = group();
    let consumer = run(&pool, &topic, &group);
    wait_committed(&group, &topic, 2).await;
    consumer.cancel();

    assert_eq!(counts(&pool).await, vec![("sku-1".to_owned(), 1)]);
    let dead = read_with_headers(&format!("{topic}.dlq"), 1).await;
    assert_eq!(dead[0]["dlq_consumer"], group);
    assert_eq!(dead[0]["dlq_topic"], topic);
    assert_eq!(dead[0]["dlq_partition"], "0");
    assert_eq!(dead[0]["dlq_offset"], "0");
    assert_eq!(
        dead[0]["dlq_attempts"], "0",
        "not retried: retrying cannot fix it"
    );
    assert!(dead[0]["dlq_error"].contains("no headers"), "{:?}", dead[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn events_of_a_type_the_projection_passes_over_are_not_read_or_recorded() {
    let (pool, topic) = setup().await;
    let schema = Catalogue::embedded()
        .get("catalog.product.archived", 1)
        .unwrap();
    let archived = CloudEvent::new(schema, "test", "sku-1", Uuid::nil());
    // Not even its payload is read: this one would be a dead letter if it were.
    produce_raw(
        &topic,
        "sku-1",
        b"unread",
        Some(archived.to_kafka_headers()),
    )
    .await;
    produce(&topic, "sku-1").await;
    produce_raw(&topic, "sku-x", b"not avro at all", None).await;
    let group = group();
    let consumer = run(&pool, &topic, &group);
    wait_committed(&group, &topic, 3).await;
    consumer.cancel();

    assert_eq!(counts(&pool).await, vec![("sku-1".to_owned(), 1)]);
    let processed: i64 = sqlx::query_scalar("SELECT count(*) FROM processed_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(processed, 1, "only the event applied is recorded");
    let dead = read_with_headers(&format!("{topic}.dlq"), 1).await;
    assert_eq!(
        dead[0]["dlq_offset"], "2",
        "the first dead letter is the headerless message, not the passed-over one"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_projection_is_retried_then_dead_lettered_and_a_flaky_one_recovers() {
    let (pool, topic) = setup().await;
    let poison = produce(&topic, "poison-1").await;
    produce(&topic, "flaky").await;
    produce(&topic, "sku-2").await;
    let group = group();
    let consumer = run(&pool, &topic, &group);
    wait_committed(&group, &topic, 3).await;
    consumer.cancel();

    assert_eq!(
        counts(&pool).await,
        vec![("flaky".to_owned(), 1), ("sku-2".to_owned(), 1)],
        "the flaky event applied once, after its retries"
    );
    let dead = read_with_headers(&format!("{topic}.dlq"), 1).await;
    assert_eq!(
        dead[0]["ce_id"],
        poison.to_string(),
        "original headers are kept"
    );
    assert_eq!(dead[0]["dlq_attempts"], "3");
    assert_eq!(dead[0]["dlq_error"], "no price list for poison-1");
    let processed: Vec<String> = sqlx::query_scalar("SELECT consumer FROM processed_events")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        processed.len(),
        2,
        "the dead-lettered event is not recorded as processed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_are_listed_and_replayed_once_after_the_cause_is_fixed() {
    let (pool, topic) = setup().await;
    let poison = produce(&topic, "poison-7").await;
    produce(&topic, "sku-2").await;
    let group = group();
    let fixed = Arc::new(AtomicBool::new(false));
    let consumer = run_fixable(&pool, &topic, &group, fixed.clone(), 200);
    wait_committed(&group, &topic, 2).await;

    let listed = run_ok(bazaar().args(["dlq", "list", &topic]));
    assert!(listed.contains(&poison.to_string()), "{listed}");
    assert!(listed.contains("no price list for poison-7"), "{listed}");
    assert!(
        listed.contains(&format!("consumer={group} attempts=3 from={topic}:0/0")),
        "{listed}"
    );
    assert!(listed.trim_end().ends_with("1 dead letters"), "{listed}");

    // The price list arrives; the operator replays.
    fixed.store(true, Ordering::SeqCst);
    let replayed = run_ok(bazaar().args(["dlq", "replay", &topic]));
    assert!(
        replayed.trim_end().ends_with("1 dead letters replayed"),
        "{replayed}"
    );
    wait_committed(&group, &topic, 3).await;
    assert_eq!(
        counts(&pool).await,
        vec![("poison-7".to_owned(), 1), ("sku-2".to_owned(), 1)]
    );

    let again = run_ok(bazaar().args(["dlq", "replay", &topic]));
    assert!(
        again.trim_end().ends_with("0 dead letters replayed"),
        "{again}"
    );
    consumer.cancel();
}
