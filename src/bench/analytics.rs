//! `bazaar bench analytics`: figures for the ClickHouse ingest on this machine, printed,
//! never asserted.
//!
//! 1. Backlog: N events (invoices of three lines and stock movements, half each) are on
//!    a fresh topic before the ingest starts; events/s and rows/s (raw events plus facts)
//!    until every table has caught up with every partition.
//! 2. Freshness: events are produced at a fixed rate while the ingest runs with its
//!    production batching (50,000 events or one second); a poller watches ClickHouse and
//!    the time from the broker's acknowledgement to the event being counted there is
//!    reported as p50/p99. The relay's own latency (outbox commit to Kafka) is measured
//!    by `bazaar bench relay`.

use bazaar_schemas::{events, Event as _};
use std::time::{Duration, Instant};

use anyhow::Context;
use bazaar_analytics::{
    ingest::{self, AnalyticsIngest},
    migrate,
};
use bazaar_platform::{
    clickhouse::{self, Client},
    consumer::{BatchRunner, Batching},
    kafka, Settings,
};
use bazaar_schemas::{Catalogue, CloudEvent, EventSchema};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::bench::{create_topic, quantile_ms};

/// What `bazaar bench analytics` measures.
#[derive(Debug, clap::Args)]
pub(crate) struct AnalyticsBench {
    /// Events in the backlog.
    #[arg(long, default_value_t = 1_000_000)]
    backlog: u64,
    /// Events per second during the freshness run.
    #[arg(long, default_value_t = 2_000)]
    rate: u32,
    /// Seconds of the freshness run.
    #[arg(long, default_value_t = 20)]
    seconds: u32,
    /// Partitions of the benchmark topics.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
}

/// The production batching.
const BATCHING: Batching = Batching {
    max_events: 50_000,
    max_wait: Duration::from_secs(1),
};

pub(crate) async fn analytics(settings: &Settings, bench: AnalyticsBench) -> anyhow::Result<()> {
    let run = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let database = format!("bench_{run}");
    migrate::migrate(settings, &database).await?;
    let client = clickhouse::client(settings, &database);
    let producer = kafka::producer(settings, "bazaar-bench-analytics")?;
    let samples = Samples::new()?;
    out!(
        "analytics benchmark: {} cores, database {database}, {} partitions, batches of {} or {:?}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        bench.partitions,
        BATCHING.max_events,
        BATCHING.max_wait,
    );

    // 1. The backlog.
    let backlog = format!("bench_{run}_backlog.events.v1");
    create_topic(settings, &backlog, bench.partitions).await?;
    let started = Instant::now();
    let mut pending = Vec::with_capacity(10_000);
    for n in 0..bench.backlog {
        pending.push(samples.send(&producer, &backlog, n));
        if pending.len() == 10_000 {
            for sent in pending.drain(..) {
                sent.await?;
            }
        }
    }
    for sent in pending {
        sent.await?;
    }
    out!(
        "backlog:        {} events produced in {:.1} s",
        bench.backlog,
        started.elapsed().as_secs_f64()
    );
    let stop = CancellationToken::new();
    let started = Instant::now();
    start(settings, &client, &backlog, &stop);
    wait_for(&client, bench.backlog).await?;
    let took = started.elapsed().as_secs_f64();
    stop.cancel();
    // Rows inserted: each invoice is an event and three sales lines, each movement an
    // event and a stock row. (Counting them in ClickHouse would not do: the samples share
    // their keys, so ReplacingMergeTree merges them away.)
    let invoices = bench.backlog.div_ceil(2);
    let rows = invoices * 4 + (bench.backlog - invoices) * 2;
    out!(
        "ingest:         {} events ({rows} rows with their facts) in {took:.1} s = {:.0} events/s, \
         {:.0} rows/s",
        bench.backlog,
        bench.backlog as f64 / took,
        rows as f64 / took
    );

    // 2. Freshness at a steady rate.
    let steady = format!("bench_{run}_steady.events.v1");
    create_topic(settings, &steady, bench.partitions).await?;
    let stop = CancellationToken::new();
    start(settings, &client, &steady, &stop);
    let total = u64::from(bench.rate) * u64::from(bench.seconds);
    let watcher = {
        let (client, steady) = (client.clone(), steady.clone());
        tokio::spawn(async move { watch(&client, &steady, total).await })
    };
    // Ticks of 10 ms: (cumulative events, when the last of them was acknowledged).
    let per_tick = (u64::from(bench.rate) / 100).max(1);
    let mut acknowledged: Vec<(u64, Instant)> = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    let mut sent = 0;
    while sent < total {
        ticker.tick().await;
        let mut tick = Vec::new();
        for _ in 0..per_tick.min(total - sent) {
            tick.push(samples.send(&producer, &steady, sent));
            sent += 1;
        }
        for acked in tick {
            acked.await?;
        }
        acknowledged.push((sent, Instant::now()));
    }
    let seen = watcher.await??;
    stop.cancel();
    let mut latencies: Vec<Duration> = acknowledged
        .iter()
        .filter_map(|(count, at)| {
            seen.iter()
                .find(|(visible, _)| visible >= count)
                .map(|(_, when)| when.saturating_duration_since(*at))
        })
        .collect();
    latencies.sort();
    let at = |q: f64| quantile_ms(&latencies, q);
    out!(
        "freshness:      {} events/s for {} s; acknowledged-to-visible p50 {:.0} ms, p99 {:.0} ms, \
         max {:.0} ms (polled every 50 ms)",
        bench.rate,
        bench.seconds,
        at(0.5),
        at(0.99),
        at(1.0)
    );
    clickhouse::client(settings, "default")
        .query(&format!("DROP DATABASE {database}"))
        .execute()
        .await?;
    Ok(())
}

fn start(settings: &Settings, client: &Client, topic: &str, stop: &CancellationToken) {
    let ingest = AnalyticsIngest::new(client.clone(), vec![topic.to_owned()]);
    let runner = BatchRunner::new(settings, ingest, BATCHING)
        .with_group(format!("bench-{}", Uuid::new_v4().simple()));
    tokio::spawn(runner.run(stop.clone()));
}

/// Waits until the ingest has stored `events` in every table.
async fn wait_for(client: &Client, events: u64) -> anyhow::Result<()> {
    while ingest::events_stored(client).await? < events {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Counts `topic`'s events in ClickHouse every 50 ms until `total` are there.
async fn watch(client: &Client, topic: &str, total: u64) -> anyhow::Result<Vec<(u64, Instant)>> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let count: u64 = client
            .query("SELECT count() FROM events WHERE topic = ?")
            .bind(topic)
            .fetch_one()
            .await?;
        seen.push((count, Instant::now()));
        if count >= total {
            return Ok(seen);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {count} of {total} events arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A three-line invoice and a stock movement, encoded once and sent with fresh ids.
struct Samples {
    tenant: Uuid,
    invoice: (&'static EventSchema, Vec<u8>),
    movement: (&'static EventSchema, Vec<u8>),
}

impl Samples {
    fn new() -> anyhow::Result<Self> {
        let tenant = Uuid::new_v4();
        let catalogue = Catalogue::embedded();
        let line = |n: i32| {
            serde_json::json!({"line_no": n, "product_id": Uuid::new_v4(), "sku": format!("SKU-{n}"),
                "quantity": "2", "unit_price_minor": 11_800, "discount_minor": 0, "taxable_minor": 20_000,
                "gst_rate_bp": 1800, "cgst_minor": 1_800, "sgst_minor": 1_800, "igst_minor": 0,
                "cess_minor": 0, "total_minor": 23_600, "salesperson_id": null, "hsn_code": "3401"})
        };
        let invoice = catalogue.current(events::sales::InvoiceIssued::TYPE)?;
        let invoice_bytes = invoice.encode(&serde_json::json!({"tenant_id": tenant,
            "invoice_id": Uuid::new_v4(), "invoice_number": "BNCHT126000001", "store_id": Uuid::new_v4(),
            "terminal_id": "T1", "cashier_id": Uuid::new_v4(), "customer_id": null, "reservation_id": null,
            "offline": false, "currency": "INR", "place_of_supply": "29", "supplier_gstin": null,
            "supplier_state": "29", "customer_gstin": null, "lines": [line(1), line(2), line(3)],
            "payments": [{"mode": "cash", "amount_minor": 70_800, "reference": null}],
            "subtotal_minor": 70_800, "discount_minor": 0, "tax_minor": 10_800, "round_off_minor": 0,
            "total_minor": 70_800, "issued_at": 1_795_000_000_000_i64}))?;
        let movement = catalogue.current(events::inventory::StockMoved::TYPE)?;
        let movement_bytes = movement.encode(&serde_json::json!({"tenant_id": tenant,
            "movement_id": Uuid::new_v4(), "seq": 1, "location_id": Uuid::new_v4(), "store_id": null,
            "product_id": Uuid::new_v4(), "sku": "SKU-1", "batch": "", "expiry_date": null, "kind": "sale",
            "quantity": "-2", "unit_cost_minor": "6000", "currency": "INR", "on_hand_after": "10",
            "average_cost_after_minor": "6000", "reason": null, "reference_type": "sales.invoice",
            "reference_id": null, "recorded_by": null, "recorded_at": 1_795_000_000_000_i64}))
        .context("encoding the sample movement")?;
        Ok(Self {
            tenant,
            invoice: (invoice, invoice_bytes),
            movement: (movement, movement_bytes),
        })
    }

    /// Sends event `n` (even: an invoice, odd: a movement) with a fresh event id.
    fn send(
        &self,
        producer: &FutureProducer,
        topic: &str,
        n: u64,
    ) -> impl std::future::Future<Output = anyhow::Result<()>> + use<> {
        let (schema, payload) = if n % 2 == 0 {
            (self.invoice.0, &self.invoice.1)
        } else {
            (self.movement.0, &self.movement.1)
        };
        let key = format!("k{}", n % 1_000);
        let headers = CloudEvent::new(schema, "bench", &key, self.tenant).to_kafka_headers();
        let record = FutureRecord::to(topic)
            .key(&key)
            .payload(payload)
            .headers(headers);
        let delivery = producer.send_result(record).map_err(|(err, _)| err);
        async move {
            match delivery?.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((err, _))) => Err(err.into()),
                Err(_) => Err(anyhow::anyhow!("the producer went away")),
            }
        }
    }
}
