//! The relay's guarantees under faults, against real PostgreSQL and Kafka: every
//! committed event reaches Kafka, at least once, in commit order per aggregate.

use std::{
    collections::{HashMap, HashSet},
    process::{Child, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::support::{
    bazaar, free_port, get,
    mesh::{
        self, consume, consume_from, database, outbox_ids, topic, topic_on, wait_published, write,
    },
    PrivateBroker,
};
use bazaar_outbox_worker::{Relay, RelayMetrics};
use bazaar_platform::{http::HttpMetrics, outbox, Settings};
use bazaar_schemas::{
    events::{catalog::BarcodeAssigned, inventory::ReservationReleased},
    Event as _,
};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const PATIENCE: Duration = Duration::from_secs(60);

fn fast_settings() -> Settings {
    let mut settings = mesh::settings();
    settings.relay_lease = Duration::from_millis(1000);
    settings.relay_poll = Duration::from_millis(100);
    settings
}

/// A relay in this process; stopped when the token is cancelled.
fn start_relay(name: &str, pool: &PgPool) -> CancellationToken {
    start_relay_with(name, pool, fast_settings())
}

fn start_relay_with(name: &str, pool: &PgPool, settings: Settings) -> CancellationToken {
    let relay = Relay::new(
        name,
        pool.clone(),
        settings,
        RelayMetrics::new(HttpMetrics::new().registry()),
    );
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    tokio::spawn(async move { relay.run(token).await });
    shutdown
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_that_commits_late_is_published_not_skipped() {
    let (name, pool) = database().await;
    let topic = topic(1).await;
    let relay = start_relay(&name, &pool);

    // A writes first and stays open; B writes and commits after it.
    let mut a = pool.begin().await.unwrap();
    let a_id = mesh::append(&mut a, &topic, "aggregate-a").await;
    let b_id = write(&pool, &topic, "aggregate-b").await;

    // B is newer than a running transaction: the relay must hold it back, or a
    // relay tracking "the last id published" would move past A for good.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b_published: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT published_at FROM outbox WHERE event_id = $1")
            .bind(b_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(b_published, None, "B may not be published while A is open");

    a.commit().await.unwrap();
    let received = consume(&topic, 2, PATIENCE).await;
    let ids: Vec<Uuid> = received.iter().map(|r| r.event_id).collect();
    assert_eq!(ids, vec![a_id, b_id], "published in transaction order");
    wait_published(&pool, PATIENCE).await;
    relay.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn events_appended_together_keep_the_order_they_were_pushed_in() {
    let (_, pool) = database().await;
    let tenant = Uuid::new_v4();
    let mut tx = pool.begin().await.unwrap();
    outbox::Events::new("test").append(&mut tx).await.unwrap();
    let released = |reservation: Uuid| ReservationReleased {
        tenant_id: tenant,
        reservation_id: reservation,
        outcome: "consumed".into(),
        ..bazaar_schemas::sample()
    };
    let assigned = BarcodeAssigned {
        tenant_id: tenant,
        barcode: "8901030865275".into(),
        kind: "ean13".into(),
        ..bazaar_schemas::sample()
    };
    let (first, third) = (Uuid::new_v4(), Uuid::new_v4());
    let mut events = outbox::Events::new("test");
    let mut expected = Vec::new();
    let mut pushed = |id: Uuid, event_type: &str, key: &str| {
        let topic = format!("{}.events.v1", event_type.split('.').next().unwrap());
        expected.push((id, topic, event_type.to_owned(), key.to_owned(), tenant));
    };
    let key = first.to_string();
    let id = events.push(tenant, &key, &released(first)).unwrap();
    pushed(id, ReservationReleased::TYPE, &key);
    let id = events.push(tenant, "product-2", &assigned).unwrap();
    pushed(id, BarcodeAssigned::TYPE, "product-2");
    let key = third.to_string();
    let id = events.push(tenant, &key, &released(third)).unwrap();
    pushed(id, ReservationReleased::TYPE, &key);
    events.append(&mut tx).await.unwrap();
    tx.commit().await.unwrap();

    let rows: Vec<(Uuid, String, String, String, Uuid)> = sqlx::query_as(
        "SELECT event_id, topic, event_type, key, tenant_id FROM outbox ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows, expected,
        "one row per event, in the order pushed; none for the empty batch"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolled_back_event_neither_stalls_nor_leaks() {
    let (name, pool) = database().await;
    let topic = topic(1).await;
    let relay = start_relay(&name, &pool);

    let mut rolled_back = pool.begin().await.unwrap();
    mesh::append(&mut rolled_back, &topic, "aggregate-a").await;
    rolled_back.rollback().await.unwrap();
    let kept = write(&pool, &topic, "aggregate-b").await;

    let received = consume(&topic, 1, PATIENCE).await;
    assert_eq!(received[0].event_id, kept);
    wait_published(&pool, PATIENCE).await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    relay.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_the_broker_refuses_is_parked_and_the_rows_after_it_are_published() {
    let (name, pool) = database().await;
    let topic = topic(1).await;
    let before = write(&pool, &topic, "before").await;
    // 2 MB: over the producer's and the broker's message size limit of 1 MB.
    let oversized = mesh::write_described(&pool, &topic, "oversized", &"x".repeat(2_000_000)).await;
    let after = write(&pool, &topic, "after").await;
    let relay = start_relay(&name, &pool);

    let received: HashSet<Uuid> = consume(&topic, 2, PATIENCE)
        .await
        .into_iter()
        .map(|r| r.event_id)
        .collect();
    assert_eq!(received, HashSet::from([before, after]));
    let parked = wait_parked(&pool, 1).await;
    assert_eq!(parked[0].event_id, oversized);
    assert_eq!(parked[0].event_type, "catalog.product.created");
    assert!(parked[0].bytes > 2_000_000);
    assert!(
        parked[0].reason.contains("size too large"),
        "{}",
        parked[0].reason
    );
    let first_parked_at = parked[0].parked_at;

    // The operator sees it, and sends it again (refused again, so parked again).
    let listed = crate::support::run_ok(bazaar().args(["outbox", "parked", "--database", &name]));
    assert!(listed.contains(&oversized.to_string()), "{listed}");
    let retried = crate::support::run_ok(bazaar().args([
        "outbox",
        "retry",
        "--database",
        &name,
        &parked[0].id.to_string(),
    ]));
    assert!(retried.starts_with("1 parked rows"), "{retried}");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let again = outbox::parked(&pool).await.unwrap();
        if again
            .first()
            .is_some_and(|row| row.parked_at > first_parked_at)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the retried row was not sent again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Later events still flow.
    let later = write(&pool, &topic, "later").await;
    let received = consume(&topic, 3, PATIENCE).await;
    assert!(received.iter().any(|r| r.event_id == later));
    relay.cancel();
}

/// One relay process serves every database with one set of metrics (`bazaar relay`): each
/// database's backlog gauge follows its own outbox, the idle ones too. A throttle shared by
/// all of them left all but the first database's gauge unread.
#[tokio::test(flavor = "multi_thread")]
async fn every_database_s_backlog_gauge_follows_its_own_outbox() {
    let http = HttpMetrics::new();
    let metrics = RelayMetrics::new(http.registry());
    let topic = topic(1).await;
    let mut names = Vec::new();
    let mut stops = Vec::new();
    // As many databases as Bazaar's services: a shared throttle reads one a second.
    for _ in 0..7 {
        let (name, pool) = database().await;
        for n in 0..2 {
            write(&pool, &topic, &format!("event {n}")).await;
        }
        let relay = Relay::new(&name, pool, fast_settings(), metrics.clone());
        let stop = CancellationToken::new();
        tokio::spawn({
            let stop = stop.clone();
            async move { relay.run(stop).await }
        });
        names.push(name);
        stops.push(stop);
    }
    consume(&topic, 14, PATIENCE).await;
    // A gauge is read at most once a second per database; five of those and it must show
    // the drained outbox (with one throttle for all, the seventh needed seven seconds at
    // best, and under `bazaar relay` some were never read).
    let fresh = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = http.render();
        let drained = names.iter().all(|name| {
            text.lines()
                .any(|line| line == format!("outbox_unpublished_rows{{database=\"{name}\"}} 0"))
        });
        if drained {
            break;
        }
        assert!(
            tokio::time::Instant::now() < fresh,
            "stale backlog gauges:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stops.iter().for_each(CancellationToken::cancel);
}

/// Waits until `count` rows are parked, and returns them.
async fn wait_parked(pool: &PgPool, count: usize) -> Vec<outbox::ParkedRow> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let parked = outbox::parked(pool).await.unwrap();
        if parked.len() >= count {
            return parked;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {count} rows parked",
            parked.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_aggregates_events_arrive_in_commit_order_under_concurrent_writers() {
    let (name, pool) = database().await;
    let topic = topic(3).await;
    sqlx::query("CREATE TABLE aggregate (id TEXT PRIMARY KEY, version INT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let keys: Vec<String> = (0..4).map(|k| format!("aggregate-{k}")).collect();
    for key in &keys {
        sqlx::query("INSERT INTO aggregate VALUES ($1, 0)")
            .bind(key)
            .execute(&pool)
            .await
            .unwrap();
    }
    let relay = start_relay(&name, &pool);

    // Each transaction bumps its aggregate's version under the row lock, as a service
    // does, so the version is the commit order of that aggregate's events.
    let versions = Arc::new(Mutex::new(HashMap::new()));
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let (pool, topic, keys, versions) = (pool.clone(), topic.clone(), keys.clone(), versions.clone());
            tokio::spawn(async move {
                for i in 0..40 {
                    let key = &keys[(writer + i) % keys.len()];
                    let mut tx = pool.begin().await.unwrap();
                    let version: i32 =
                        sqlx::query_scalar("UPDATE aggregate SET version = version + 1 WHERE id = $1 RETURNING version")
                            .bind(key)
                            .fetch_one(&mut *tx)
                            .await
                            .unwrap();
                    let id = mesh::append(&mut tx, &topic, key).await;
                    tx.commit().await.unwrap();
                    versions.lock().unwrap().insert(id, version);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }

    let received = consume(&topic, 320, PATIENCE).await;
    let versions = versions.lock().unwrap();
    let mut seen = HashSet::new();
    let mut last: HashMap<&str, i32> = HashMap::new();
    for message in &received {
        if !seen.insert(message.event_id) {
            continue; // a duplicate: at-least-once
        }
        let version = versions[&message.event_id];
        let previous = last.insert(&message.key, version).unwrap_or(0);
        assert_eq!(version, previous + 1, "{} out of order", message.key);
    }
    assert_eq!(last.values().sum::<i32>(), 320);
    relay.cancel();
}

/// A `bazaar relay` process with a one-second lease.
struct RelayProcess {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl RelayProcess {
    fn start(database: &str) -> Self {
        let port = free_port();
        let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("relay-{database}-{port}.log"));
        let child = bazaar()
            .args(["relay", "--database", database])
            .env("BAZAAR_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("BAZAAR_RELAY_LEASE_MS", "1000")
            .env("BAZAAR_RELAY_POLL_MS", "100")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self { child, port, log }
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn kill(mut self) {
        self.signal("-KILL");
        self.child.wait().unwrap();
    }

    /// True once this relay reports that it holds the lease.
    fn is_active(&self) -> bool {
        get(self.port, "/metrics").is_some_and(|(_, body)| {
            body.lines()
                .any(|l| l.starts_with("relay_active{") && l.ends_with(" 1"))
        })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_killed_repeatedly_loses_nothing_and_duplicates_keep_their_id() {
    let (name, pool) = database().await;
    let topic = topic(3).await;
    let writing = {
        let (pool, topic) = (pool.clone(), topic.clone());
        tokio::spawn(async move {
            for i in 0..1500 {
                write(&pool, &topic, &format!("aggregate-{}", i % 10)).await;
                if i % 100 == 0 {
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
            }
        })
    };
    for round in 0..6 {
        let relay = RelayProcess::start(&name);
        tokio::time::sleep(Duration::from_millis(400 + 150 * round)).await;
        relay.kill();
    }
    writing.await.unwrap();
    let last = RelayProcess::start(&name);
    wait_published(&pool, PATIENCE).await;

    let expected = outbox_ids(&pool).await;
    let total: usize = expected.values().map(Vec::len).sum();
    assert_eq!(total, 1500);
    let received = consume(&topic, total, PATIENCE).await;
    let arrived: HashSet<Uuid> = received.iter().map(|r| r.event_id).collect();
    for ids in expected.values() {
        assert!(
            ids.iter().all(|id| arrived.contains(id)),
            "an event is missing from the topic"
        );
    }
    // Duplicates are re-sends of the same row: the same ce_id, never a new one.
    assert_eq!(arrived.len(), total);
    drop(last);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standby_takes_over_and_a_paused_relay_cannot_mark_rows() {
    let (name, pool) = database().await;
    let topic = topic(1).await;
    let first = RelayProcess::start(&name);
    let second = RelayProcess::start(&name);
    wait_until("one relay is active", || {
        first.is_active() || second.is_active()
    })
    .await;
    let (active, standby) = if first.is_active() {
        (first, second)
    } else {
        (second, first)
    };
    assert!(!standby.is_active(), "exactly one relay is active");

    // The active relay dies; the standby takes over within the lease.
    active.kill();
    let before = write(&pool, &topic, "aggregate-a").await;
    wait_until("the standby takes over", || standby.is_active()).await;
    wait_published(&pool, PATIENCE).await;

    // The new active relay is paused past its lease; a third one takes over.
    let third = RelayProcess::start(&name);
    standby.signal("-STOP");
    let during = write(&pool, &topic, "aggregate-a").await;
    wait_until("the third relay takes over", || third.is_active()).await;
    wait_published(&pool, PATIENCE).await;
    standby.signal("-CONT");
    wait_until("the paused relay learns it lost the lease", || {
        standby.log().contains("relay lost its lease")
    })
    .await;
    assert!(third.is_active());
    let after = write(&pool, &topic, "aggregate-a").await;
    wait_published(&pool, PATIENCE).await;

    let received = consume(&topic, 3, PATIENCE).await;
    let mut order: Vec<Uuid> = Vec::new();
    for r in received {
        if !order.contains(&r.event_id) {
            order.push(r.event_id);
        }
    }
    assert_eq!(order, vec![before, during, after]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_restart_during_publishing_loses_nothing() {
    let mut broker = PrivateBroker::start();
    let mut settings = fast_settings();
    settings.kafka_brokers = broker.address();
    let topic = topic_on(&settings, 3).await;
    let (name, pool) = database().await;
    let relay = start_relay_with(&name, &pool, settings.clone());

    let writing = {
        let (pool, topic) = (pool.clone(), topic.clone());
        tokio::spawn(async move {
            for i in 0..600 {
                write(&pool, &topic, &format!("aggregate-{}", i % 7)).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    tokio::task::block_in_place(|| broker.stop());
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| broker.resume());
    writing.await.unwrap();
    wait_published(&pool, Duration::from_secs(120)).await;

    let expected = outbox_ids(&pool).await;
    let received = consume_from(&settings, &topic, 600, PATIENCE).await;
    let arrived: HashSet<Uuid> = received.iter().map(|r| r.event_id).collect();
    assert!(expected.values().flatten().all(|id| arrived.contains(id)));
    // Per aggregate, the first arrival of each event follows the outbox order.
    let mut first_seen: HashMap<String, Vec<Uuid>> = HashMap::new();
    let mut seen = HashSet::new();
    for r in received {
        if seen.insert(r.event_id) {
            first_seen.entry(r.key).or_default().push(r.event_id);
        }
    }
    assert_eq!(first_seen, expected);
    relay.cancel();
}
