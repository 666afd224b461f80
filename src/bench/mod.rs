//! `bazaar bench relay`: figures for the relay on this machine, printed, never asserted.
//!
//! 1. Backlog drain: N committed outbox rows of about 500 bytes, then the relay starts;
//!    events per second until every row is acknowledged and marked.
//! 2. The same backlog through a naive relay (one awaited send and one UPDATE per row, as
//!    many outbox libraries do) on a smaller backlog, and the ratio.
//! 3. Steady state: concurrent writers commit a fixed rate of events while the relay
//!    runs; a consumer measures commit-to-consumed latency, an upper bound on
//!    commit-to-ack.

use bazaar_schemas::{events, Event as _};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use bazaar_outbox_worker::{Relay, RelayMetrics};
use bazaar_platform::{
    db,
    http::HttpMetrics,
    kafka,
    outbox::{self, NewEvent},
    Settings,
};
use bazaar_schemas::{Catalogue, CloudEvent};
use rdkafka::{
    admin::{AdminOptions, NewTopic, TopicReplication},
    consumer::{Consumer, StreamConsumer},
    message::{Header, OwnedHeaders},
    producer::FutureRecord,
    Message,
};
use sqlx::{migrate::Migrator, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub(crate) mod analytics;
pub(crate) mod barcode;
pub(crate) mod import;
pub(crate) mod pos;

/// `bazaar bench ...`: figures printed, never asserted.
#[derive(clap::Subcommand)]
pub(crate) enum BenchCommand {
    /// The outbox relay: backlog drain, steady-state latency, and a naive relay.
    Relay(RelayBench),
    /// Barcode lookups (the POS scan) over HTTP against a running Bazaar.
    Barcode(barcode::BarcodeBench),
    /// Catalog CSV import of N products (default 100,000) into a fresh tenant of a
    /// running Bazaar, then the same file again.
    CatalogImport(import::ImportBench),
    /// POS checkouts at fixed rates against a running mesh (./dev up).
    Pos(pos::PosBench),
    /// The ClickHouse ingest: a backlog's events/s and rows/s, then acknowledged-to-visible
    /// freshness at a steady rate.
    Analytics(analytics::AnalyticsBench),
}

/// Runs the benchmark `command` asks for.
pub(crate) async fn run(settings: &Settings, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Relay(options) => relay(settings, options).await,
        BenchCommand::Barcode(options) => barcode::barcode(options).await,
        BenchCommand::CatalogImport(options) => import::catalog_import(settings, options).await,
        BenchCommand::Pos(options) => pos::pos(settings, options).await,
        BenchCommand::Analytics(options) => analytics::analytics(settings, options).await,
    }
}

/// What `bazaar bench relay` measures.
#[derive(Debug, clap::Args)]
pub(crate) struct RelayBench {
    /// Rows in the backlog the relay drains.
    #[arg(long, default_value_t = 200_000)]
    backlog: i64,
    /// Rows in the backlog the naive relay drains (it is slow).
    #[arg(long, default_value_t = 5_000)]
    naive_backlog: i64,
    /// Events per second the steady-state writers commit.
    #[arg(long, default_value_t = 2_000)]
    rate: u32,
    /// Seconds of steady state.
    #[arg(long, default_value_t = 15)]
    seconds: u32,
    /// Partitions of the benchmark topic.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
}

const AGGREGATES: i64 = 1_000;

pub(crate) async fn relay(settings: &Settings, bench: RelayBench) -> anyhow::Result<()> {
    let run = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let topic = format!("bench_{run}.events.v1");
    create_topic(settings, &topic, bench.partitions).await?;
    let payload = sample_payload()?;
    out!(
        "relay benchmark: {} cores, payload {} bytes, topic {topic} ({} partitions), batch {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        payload.len(),
        bench.partitions,
        settings.relay_batch_size,
    );

    let (name, pool) = database(settings, &format!("bench_relay_{run}")).await?;
    fill_backlog(&pool, &topic, &payload, bench.backlog).await?;
    let started = Instant::now();
    let relay = start_relay(settings, &name, &pool);
    wait_drained(&pool).await?;
    let drain = started.elapsed();
    let relay_rate = bench.backlog as f64 / drain.as_secs_f64();
    out!(
        "backlog drain:  {} events in {:.2} s = {:.0} events/s",
        bench.backlog,
        drain.as_secs_f64(),
        relay_rate
    );

    let latencies = steady_state(settings, &pool, &topic, bench.rate, bench.seconds).await?;
    relay.cancel();
    report_latency(bench.rate, bench.seconds, latencies);

    let (_, naive_pool) = database(settings, &format!("bench_naive_{run}")).await?;
    fill_backlog(&naive_pool, &topic, &payload, bench.naive_backlog).await?;
    let naive = naive_relay(settings, &naive_pool).await?;
    let naive_rate = bench.naive_backlog as f64 / naive.as_secs_f64();
    out!(
        "naive relay:    {} events in {:.2} s = {:.0} events/s (one awaited send + UPDATE per row)",
        bench.naive_backlog,
        naive.as_secs_f64(),
        naive_rate
    );
    out!("ratio:          {:.1}x", relay_rate / naive_rate);
    Ok(())
}

/// A topic for a benchmark run.
pub(crate) async fn create_topic(
    settings: &Settings,
    topic: &str,
    partitions: i32,
) -> anyhow::Result<()> {
    let admin = kafka::admin(settings, "bazaar-bench")?;
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await?;
    for result in results {
        result.map_err(|(name, code)| anyhow::anyhow!("cannot create {name}: {code}"))?;
    }
    Ok(())
}

async fn database(settings: &Settings, name: &str) -> anyhow::Result<(String, PgPool)> {
    let pool = db::prepare(settings, name, Migrator::DEFAULT).await?;
    Ok((name.to_owned(), pool))
}

/// A real `catalog.product.created` payload padded to about 500 bytes.
fn sample_payload() -> anyhow::Result<Vec<u8>> {
    let schema = Catalogue::embedded().get(events::catalog::ProductCreated::TYPE, 1)?;
    Ok(schema.encode(&serde_json::json!({
        "tenant_id": Uuid::new_v4(), "product_id": Uuid::new_v4(), "sku": "BENCH-0001",
        "name": "Basmati rice, aged, long grain, 5 kg bag",
        "description": "x".repeat(260), "brand": "Bench Foods", "category_id": Uuid::new_v4(),
        "variant_of": null, "attributes": {"pack": "5 kg", "grade": "premium"},
        "unit": "piece", "unit_decimals": 0, "hsn_code": "1006", "gst_rate_bp": 500,
        "cess_rate_bp": 0, "currency": "INR", "mrp_minor": 89_900, "selling_price_minor": 84_900,
        "tax_inclusive": true, "reorder_level": "20", "created_at": 1_790_000_000_000_i64,
    }))?)
}

/// Commits `rows` outbox rows with real CloudEvents headers, in chunks.
async fn fill_backlog(pool: &PgPool, topic: &str, payload: &[u8], rows: i64) -> anyhow::Result<()> {
    let started = Instant::now();
    let chunk = 20_000;
    let mut done = 0;
    while done < rows {
        let n = chunk.min(rows - done);
        sqlx::query(
            "INSERT INTO outbox (event_id, topic, key, event_type, dataschema, payload, headers, tenant_id) \
             SELECT e.id, $1, e.key, 'catalog.product.created', 'catalog.product.created.v1', $2, \
                    jsonb_build_object('ce_id', e.id, 'ce_type', 'catalog.product.created', \
                      'ce_source', 'bench', 'ce_specversion', '1.0', \
                      'ce_time', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
                      'ce_subject', e.key, 'ce_dataschema', 'catalog.product.created.v1', \
                      'ce_tenant', '00000000-0000-0000-0000-000000000000', \
                      'content-type', 'application/avro'), \
                    '00000000-0000-0000-0000-000000000000' \
             FROM (SELECT gen_random_uuid() AS id, 'aggregate-' || (i % $4) AS key \
                   FROM generate_series($3::bigint, $3::bigint + $5 - 1) AS i) AS e",
        )
        .bind(topic)
        .bind(payload)
        .bind(done)
        .bind(AGGREGATES)
        .bind(n)
        .execute(pool)
        .await
        .context("filling the backlog")?;
        done += n;
    }
    out!(
        "backlog:        {rows} rows committed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn start_relay(settings: &Settings, name: &str, pool: &PgPool) -> CancellationToken {
    let relay = Relay::new(
        name,
        pool.clone(),
        settings.clone(),
        RelayMetrics::new(HttpMetrics::new().registry()),
    );
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    tokio::spawn(async move { relay.run(token).await });
    shutdown
}

/// Polls for the last unpublished row. EXISTS stops at the first index entry; a
/// count(*) over the backlog every few milliseconds would slow the relay it measures.
async fn wait_drained(pool: &PgPool) -> anyhow::Result<()> {
    loop {
        let pending: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL AND parked_at IS NULL)",
        )
        .fetch_one(pool)
        .await?;
        if !pending {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writers commit `rate` events per second for `seconds`; returns each event's
/// commit-to-consumed latency.
async fn steady_state(
    settings: &Settings,
    pool: &PgPool,
    topic: &str,
    rate: u32,
    seconds: u32,
) -> anyhow::Result<Vec<Duration>> {
    let committed: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::default();
    let consumer: StreamConsumer = kafka::client_config(settings, "bazaar-bench")
        .set("group.id", format!("bench-{}", Uuid::new_v4()))
        .set("auto.offset.reset", "latest")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "5")
        .create()?;
    consumer.subscribe(&[topic])?;
    // Wait for the partition assignment, so no event is produced before we listen.
    while consumer.assignment()?.count() == 0 {
        let _ = tokio::time::timeout(Duration::from_millis(100), consumer.recv()).await;
    }

    let total = u64::from(rate) * u64::from(seconds);
    let writers = 8u32;
    let sample: events::catalog::ProductCreated =
        bazaar_schemas::from_value(&Catalogue::embedded().decode(&sample_payload()?)?.1)?;
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let (pool, topic, committed, sample) = (
            pool.clone(),
            topic.to_owned(),
            committed.clone(),
            sample.clone(),
        );
        let mut tick = tokio::time::interval(Duration::from_secs_f64(
            f64::from(writers) / f64::from(rate),
        ));
        tasks.push(tokio::spawn(async move {
            for i in 0..total / u64::from(writers) {
                tick.tick().await;
                let key = format!(
                    "aggregate-{}",
                    (u64::from(writer) + i * u64::from(writers)) % AGGREGATES as u64
                );
                let mut tx = pool.begin().await?;
                let id = outbox::append(
                    &mut tx,
                    NewEvent {
                        topic: &topic,
                        source: "bench",
                        tenant: Uuid::nil(),
                        subject: &key,
                        event: &sample,
                    },
                )
                .await?;
                tx.commit().await?;
                committed
                    .lock()
                    .expect("not poisoned")
                    .insert(id, Instant::now());
            }
            anyhow::Ok(())
        }));
    }

    let expected = (total / u64::from(writers)) * u64::from(writers);
    let mut latencies = Vec::with_capacity(expected as usize);
    let mut early: HashMap<Uuid, Instant> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(u64::from(seconds) + 60);
    while (latencies.len() as u64) < expected && Instant::now() < deadline {
        let Ok(message) = tokio::time::timeout(Duration::from_secs(1), consumer.recv()).await
        else {
            continue;
        };
        let received = Instant::now();
        let message = message?;
        let id = CloudEvent::from_kafka_headers(message.headers().context("headers")?)?.id;
        // The consumer can see an event before its writer recorded the commit instant.
        match committed.lock().expect("not poisoned").get(&id) {
            Some(at) => latencies.push(received.saturating_duration_since(*at)),
            None => {
                early.insert(id, received);
            }
        }
    }
    for task in tasks {
        task.await??;
    }
    let committed = committed.lock().expect("not poisoned");
    for (id, received) in early {
        if let Some(at) = committed.get(&id) {
            latencies.push(received.saturating_duration_since(*at));
        }
    }
    Ok(latencies)
}

/// The `q` quantile of sorted `latencies` in milliseconds (0 when there are none).
pub(crate) fn quantile_ms(latencies: &[Duration], q: f64) -> f64 {
    let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
    latencies
        .get(index)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn report_latency(rate: u32, seconds: u32, mut latencies: Vec<Duration>) {
    latencies.sort();
    let at = |q: f64| quantile_ms(&latencies, q);
    out!(
        "steady state:   {rate} events/s for {seconds} s, {} events; commit-to-consumed latency \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

#[derive(sqlx::FromRow)]
struct NaiveRow {
    id: i64,
    topic: String,
    key: String,
    payload: Vec<u8>,
    headers: sqlx::types::Json<HashMap<String, String>>,
}

/// The baseline: one awaited send and one UPDATE per row, in id order.
async fn naive_relay(settings: &Settings, pool: &PgPool) -> anyhow::Result<Duration> {
    let producer = kafka::producer(settings, "bazaar-bench-naive")?;
    let started = Instant::now();
    loop {
        let rows: Vec<NaiveRow> = sqlx::query_as(
            "SELECT id, topic, key, payload, headers FROM outbox \
             WHERE published_at IS NULL AND parked_at IS NULL ORDER BY id LIMIT 100",
        )
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            return Ok(started.elapsed());
        }
        for NaiveRow {
            id,
            topic,
            key,
            payload,
            headers,
        } in rows
        {
            let headers = headers.iter().fold(OwnedHeaders::new(), |h, (k, v)| {
                h.insert(Header {
                    key: k,
                    value: Some(v),
                })
            });
            let record = FutureRecord::to(&topic)
                .key(&key)
                .payload(&payload)
                .headers(headers);
            producer
                .send(record, Duration::from_secs(10))
                .await
                .map_err(|(e, _)| e)?;
            sqlx::query("UPDATE outbox SET published_at = now() WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
        }
    }
}
