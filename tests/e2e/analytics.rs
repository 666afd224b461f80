//! Analytics over real Kafka into real ClickHouse (Debian's 18.16): a day's events
//! become raw events, facts and rollups with the numbers worked out by hand; a table that
//! cannot be written holds the batch back without losing or doubling anything; the whole
//! topic delivered again changes no number, nor does an event a relay published twice;
//! a ClickHouse server stopped and started during ingest loses nothing while the lag
//! metric shows what waits; and every dashboard panel's query, expanded as the Grafana
//! plugin expands it, returns the figures worked out by hand.

use std::time::Duration;

use crate::support::{
    analytics_day::{alert_panels, day, on_the_day, panels_on_the_day, rows, Day},
    mesh::{produce_raw, publish, run_ingest, settings, topic, until},
    PrivateClickHouse,
};
use bazaar_analytics::{
    ingest::{self},
    migrate,
    queries::{self, View},
};
use bazaar_platform::{
    clickhouse::{self, Client},
    consumer::{Batch, ConsumerMetrics, DeadLetter},
    http::HttpMetrics,
    rebuild, testing, Settings,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Runs the ingest of `topic` and its dead letters in a new consumer group; returns the
/// group. The wait is long enough for the day on the topic to come in one batch.
fn run(client: &Client, topic: &str, stop: &CancellationToken) -> String {
    let topics = vec![topic.to_owned(), format!("{topic}.dlq")];
    run_ingest(
        client,
        topics,
        Duration::from_secs(2),
        stop,
        ConsumerMetrics::default(),
    )
}

async fn number(client: &Client, sql: &str) -> i64 {
    client.query(sql).fetch_one::<i64>().await.unwrap()
}

/// A migrated database of its own, and a topic holding `day`.
async fn database_with(day: &Day) -> (String, Client, String) {
    let database = format!("test_{}", Uuid::new_v4().simple());
    migrate::migrate(&settings(), &database).await.unwrap();
    let client = clickhouse::client(&settings(), &database);
    let events = topic(1).await;
    for (event_type, payload) in &day.events {
        publish(&events, event_type, day.tenant, Uuid::new_v4(), payload).await;
    }
    (database, client, events)
}

/// Reads all of `topic` once more, in a new consumer group, as after a crash before the
/// offsets were committed.
async fn read_again(client: &Client, topic: &str) {
    let again = CancellationToken::new();
    let group = run(client, topic, &again);
    rebuild::wait_for_group(
        &settings(),
        &group,
        &[topic.to_owned()],
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    again.cancel();
}

/// What the tables and rollups hold once the day is in, worked out by hand.
fn day_numbers() -> [(&'static str, i64); 11] {
    [
        ("SELECT toInt64(count()) FROM events FINAL", 20),
        // Revenue: 200 + 90 + 100 net of tax; tax 36 + 4.50 + 18.
        (
            "SELECT toInt64(sum(net_minor)) FROM sales_by_store_day",
            390_00,
        ),
        (
            "SELECT toInt64(sum(tax_minor)) FROM sales_by_store_hour",
            58_50,
        ),
        ("SELECT toInt64(sum(lines)) FROM sales_by_store_day", 3),
        (
            "SELECT toInt64(sum(quantity_milli)) FROM sales_by_sku_day",
            4_500,
        ),
        ("SELECT toInt64(sum(net_minor)) FROM return_lines", 100_00),
        // Stock: 17 soaps at ₹60, 48.5 kg of rice at ₹40 and 10 oils at ₹100.
        (
            "SELECT toInt64(sum(value_minor)) FROM stock_by_store_sku",
            17 * 60_00 + 1_940_00 + 10 * 100_00,
        ),
        (
            "SELECT toInt64(sum(quantity_milli)) FROM stock_by_store_sku",
            17_000 + 48_500 + 10_000,
        ),
        ("SELECT toInt64(sum(tax_minor)) FROM purchase_lines", 100_00),
        (
            "SELECT toInt64(sum(debit_minor)) FROM journal_lines",
            5_000_00,
        ),
        ("SELECT toInt64(count()) FROM categories", 2),
    ]
}

/// Each of `day_numbers`, read from `client`'s database.
async fn read_numbers(client: &Client) -> Vec<i64> {
    let mut numbers = Vec::new();
    for (sql, _) in day_numbers() {
        numbers.push(number(client, sql).await);
    }
    numbers
}

async fn drop_database(database: &str) {
    clickhouse::client(&settings(), "default")
        .query(&format!("DROP DATABASE {database}"))
        .execute()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_day_of_events_becomes_facts_and_rollups_once() {
    let day = day();
    let (database, client, events) = database_with(&day).await;
    assert!(
        migrate::migrate(&settings(), &database)
            .await
            .unwrap()
            .is_empty(),
        "applying the migrations twice changes nothing"
    );

    // Stock movements cannot be written at first: the batch (the whole day, waiting on
    // the topic) is retried, nothing is lost, and the tables written before the failure
    // are not written twice.
    client
        .query("DETACH TABLE stock_movements")
        .execute()
        .await
        .unwrap();
    let stop = CancellationToken::new();
    run(&client, &events, &stop);
    until("the tables before it are written", async || {
        number(&client, "SELECT toInt64(count()) FROM sales_lines").await == 3
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await; // a few retries
    client
        .query("ATTACH TABLE stock_movements")
        .execute()
        .await
        .unwrap();
    until("every table is written", async || {
        ingest::events_stored(&client).await.unwrap_or(0) == 20
    })
    .await;
    stop.cancel();

    let expected = day_numbers();
    let want: Vec<i64> = expected.iter().map(|e| e.1).collect();
    assert_eq!(read_numbers(&client).await, want);

    // The whole topic again, as after a crash before the offsets were committed: every
    // event is read and skipped, and no number moves.
    read_again(&client, &events).await;
    assert_eq!(read_numbers(&client).await, want);
    assert_eq!(
        number(&client, "SELECT toInt64(count()) FROM events").await,
        20,
        "not even a raw event twice"
    );
    drop_database(&database).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_dashboard_panel_shows_the_day_worked_out_by_hand() {
    let day = day();
    let (database, client, events) = database_with(&day).await;
    // A message no service could have written: the ingest dead-letters it, then reads it
    // back from the dead-letter topic.
    produce_raw(&events, "junk", b"not avro", None).await;
    let stop = CancellationToken::new();
    let group = run(&client, &events, &stop);
    // The day, and the junk as a dead letter (never as an event).
    until("the day and the dead letter are ingested", async || {
        ingest::events_stored(&client).await.unwrap_or(0) == 20 + 1
    })
    .await;
    stop.cancel();

    let expected = panels_on_the_day(&day);
    let on_the_day = on_the_day(&day);
    let url = settings().clickhouse_url;
    for (name, want) in &expected {
        let sql = queries::expand(&queries::panel(name).unwrap().sql, &on_the_day).unwrap();
        let table = queries::run(&url, &database, &sql).await.unwrap();
        assert_eq!(&table.rows, want, "{name}: {sql}");
    }
    // By hour: one hour, its revenue (the time column prints in the server's zone).
    let by_hour = queries::expand(
        &queries::panel("sales.revenue-by-hour").unwrap().sql,
        &on_the_day,
    )
    .unwrap();
    let table = queries::run(&url, &database, &by_hour).await.unwrap();
    assert_eq!(table.rows.len(), 1);
    assert_eq!(table.rows[0][1], "39000");
    // One store picked: its figures; another store: none.
    let other = View {
        store: Some(Uuid::new_v4()),
        ..on_the_day
    };
    let revenue = queries::expand(&queries::panel("sales.revenue").unwrap().sql, &other).unwrap();
    assert_eq!(
        queries::run(&url, &database, &revenue).await.unwrap().rows,
        rows(&[&["0"]])
    );
    let mine = View {
        store: Some(day.store),
        ..on_the_day
    };
    let revenue = queries::expand(&queries::panel("sales.revenue").unwrap().sql, &mine).unwrap();
    assert_eq!(
        queries::run(&url, &database, &revenue).await.unwrap().rows,
        rows(&[&["39000"]])
    );

    // The pipeline's panels read when events arrived: now.
    let now = chrono::Utc::now();
    let today = View {
        from: now - chrono::Duration::hours(1),
        to: now + chrono::Duration::hours(1),
        ..on_the_day
    };
    let per_minute = queries::expand(
        &queries::panel("pipeline.events-per-topic-per-minute")
            .unwrap()
            .sql,
        &today,
    )
    .unwrap();
    let table = queries::run(&url, &database, &per_minute).await.unwrap();
    let total: i64 = table
        .rows
        .iter()
        .map(|r| r[2].parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, 20);
    let by_type = queries::expand(
        &queries::panel("pipeline.events-by-type").unwrap().sql,
        &today,
    )
    .unwrap();
    let table = queries::run(&url, &database, &by_type).await.unwrap();
    let moved = table
        .rows
        .iter()
        .find(|r| r[0] == "inventory.stock.moved")
        .unwrap();
    assert_eq!(moved[1], "8");
    let last = queries::expand(
        &queries::panel("pipeline.last-event-per-topic").unwrap().sql,
        &today,
    )
    .unwrap();
    let table = queries::run(&url, &database, &last).await.unwrap();
    assert_eq!(table.rows.len(), 1);
    assert_eq!(table.rows[0][0], events);
    // The delay from an event's time (its publishing, here) to its storing: one topic,
    // never negative. How long it is depends on the machine.
    let delay = queries::expand(
        &queries::panel("pipeline.ingest-delay-per-topic")
            .unwrap()
            .sql,
        &today,
    )
    .unwrap();
    let table = queries::run(&url, &database, &delay).await.unwrap();
    assert!(!table.rows.is_empty());
    for row in &table.rows {
        assert_eq!(row[1], events);
        assert!(row[2].parse::<i64>().unwrap() >= 0, "{row:?}");
    }
    let dead = queries::expand(
        &queries::panel("pipeline.dead-letters-per-topic-and-consumer")
            .unwrap()
            .sql,
        &today,
    )
    .unwrap();
    let table = queries::run(&url, &database, &dead).await.unwrap();
    assert_eq!(table.rows.len(), 1);
    assert_eq!(table.rows[0][..3], [events.clone(), group, "1".to_owned()]);
    // So do the alerts: when inventory raised them.
    for (name, want) in alert_panels() {
        let sql = queries::expand(&queries::panel(name).unwrap().sql, &today).unwrap();
        assert_eq!(
            queries::run(&url, &database, &sql).await.unwrap().rows,
            want,
            "{name}"
        );
    }

    // Every panel is covered above.
    let covered = expected.len() + 1 + 5 + 2;
    assert_eq!(queries::panels().unwrap().len(), covered);
    drop_database(&database).await;
}

/// The same migrations and panels on the current ClickHouse engine, in process (chdb, which
/// `./dev test` installs): the SQL must run on both, and show the same figures.
#[test]
fn migrations_and_every_panel_run_on_the_current_engine() {
    let python = std::env::var("BAZAAR_CHDB_PYTHON")
        .expect("BAZAAR_CHDB_PYTHON names a Python with chdb; ./dev test installs it");
    let day = day();
    let events: Vec<_> = day
        .events
        .iter()
        .map(|(event_type, payload)| testing::event(event_type, day.tenant, payload))
        .collect();
    let now = chrono::Utc::now();
    let dead_letter = DeadLetter {
        consumer: "finance-ledger".to_owned(),
        error: "no account for this tax".to_owned(),
        attempts: 5,
        original_topic: "sales.events.v1".to_owned(),
        original_partition: 2,
        original_offset: 41,
        event_id: Uuid::new_v4().to_string(),
        event_type: "sales.invoice.issued".to_owned(),
        tenant: day.tenant.to_string(),
        dead_lettered_at: now,
        topic: "sales.events.v1.dlq".to_owned(),
        partition: 0,
        offset: 0,
    };
    let batch = Batch {
        events,
        dead_letters: vec![dead_letter],
    };
    let mut statements: Vec<String> = migrate::MIGRATIONS
        .iter()
        .flat_map(|(_, _, sql)| migrate::statements(sql))
        .collect();
    statements.extend(ingest::insert_statements(&batch).unwrap());

    let on_the_day = on_the_day(&day);
    let today = View {
        from: now - chrono::Duration::hours(1),
        to: now + chrono::Duration::hours(1),
        ..on_the_day
    };
    let expand = |name: &str, view: &View| {
        queries::expand(&queries::panel(name).unwrap().sql, view).unwrap()
    };
    let mut sql = serde_json::Map::new();
    let mut expected = panels_on_the_day(&day);
    for (name, _) in &expected {
        sql.insert((*name).to_owned(), expand(name, &on_the_day).into());
    }
    for (name, want) in alert_panels() {
        sql.insert(name.to_owned(), expand(name, &today).into());
        expected.push((name, want));
    }
    for name in [
        "sales.revenue-by-hour",
        "pipeline.events-per-topic-per-minute",
        "pipeline.events-by-type",
        "pipeline.last-event-per-topic",
        "pipeline.ingest-delay-per-topic",
        "pipeline.dead-letters-per-topic-and-consumer",
    ] {
        let view = if name.starts_with("sales") {
            &on_the_day
        } else {
            &today
        };
        sql.insert(name.to_owned(), expand(name, view).into());
    }
    assert_eq!(sql.len(), queries::panels().unwrap().len(), "every panel");

    let request = serde_json::json!({"statements": statements, "queries": sql});
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/analytics/chdb/run.py");
    let mut child = std::process::Command::new(&python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    serde_json::to_writer(child.stdin.take().unwrap(), &request).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: std::collections::HashMap<String, String> =
        serde_json::from_slice(&output.stdout).unwrap();
    let rows = |name: &str| -> Vec<Vec<String>> {
        results[name]
            .lines()
            .skip(1)
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect()
    };
    for (name, want) in &expected {
        assert_eq!(&rows(name), want, "{name} on the current engine");
    }
    assert_eq!(rows("sales.revenue-by-hour")[0][1], "39000");
    let per_minute: i64 = rows("pipeline.events-per-topic-per-minute")
        .iter()
        .map(|r| r[2].parse::<i64>().unwrap())
        .sum();
    assert_eq!(per_minute, 20);
    assert!(rows("pipeline.events-by-type")
        .contains(&vec!["inventory.stock.moved".to_owned(), "8".to_owned()]));
    // catalog, inventory, sales, purchase and finance.
    assert_eq!(rows("pipeline.last-event-per-topic").len(), 5);
    let delays = rows("pipeline.ingest-delay-per-topic");
    assert!(delays.len() >= 5, "{delays:?}");
    assert_eq!(
        rows("pipeline.dead-letters-per-topic-and-consumer")[0][..3],
        ["sales.events.v1", "finance-ledger", "1"]
    );
}

/// The lag `metrics` export for `group` on partition 0 of `topic`, once reported.
fn lag(metrics: &HttpMetrics, group: &str, topic: &str) -> Option<i64> {
    let series =
        format!("consumer_lag_messages{{group=\"{group}\",partition=\"0\",topic=\"{topic}\"}} ");
    metrics
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(&series)?.parse().ok())
}

/// Waits up to two minutes for `check`: long enough for the ingest's backoff after an
/// outage (up to 30 s between attempts) and a ClickHouse restart.
async fn after_outage(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..1_200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A ClickHouse server of the test's own is stopped while events keep arriving and then
/// started again: the ingest waits, the lag it exports counts what waits, and once the
/// server is back every number is the day's, none twice.
#[tokio::test(flavor = "multi_thread")]
async fn clickhouse_stopped_and_started_during_ingest_loses_nothing() {
    let mut server = PrivateClickHouse::start();
    let settings = Settings {
        clickhouse_url: server.url(),
        ..settings()
    };
    migrate::migrate(&settings, "bazaar").await.unwrap();
    let client = clickhouse::client(&settings, "bazaar");
    let day = day();
    let (before, during) = day.events.split_at(12);
    let events = topic(1).await;
    for (event_type, payload) in before {
        publish(&events, event_type, day.tenant, Uuid::new_v4(), payload).await;
    }
    let metrics = HttpMetrics::new();
    let stop = CancellationToken::new();
    let group = run_ingest(
        &client,
        vec![events.clone()],
        Duration::from_millis(200),
        &stop,
        ConsumerMetrics::new(metrics.registry()),
    );
    until("the first events are stored", async || {
        ingest::events_stored(&client).await.unwrap_or(0) == 12
    })
    .await;

    server.stop();
    for (event_type, payload) in during {
        publish(&events, event_type, day.tenant, Uuid::new_v4(), payload).await;
    }
    // librdkafka reports every 5 s: the events published while the server is down wait.
    until("the lag counts the events waiting", async || {
        lag(&metrics, &group, &events) == Some(during.len() as i64)
    })
    .await;

    server.resume();
    after_outage("every event is stored", async || {
        ingest::events_stored(&client).await.unwrap_or(0) == 20
    })
    .await;
    until("the lag is back to none", async || {
        lag(&metrics, &group, &events) == Some(0)
    })
    .await;
    stop.cancel();
    let want: Vec<i64> = day_numbers().iter().map(|e| e.1).collect();
    assert_eq!(read_numbers(&client).await, want);
    assert_eq!(
        number(&client, "SELECT toInt64(count()) FROM events").await,
        20,
        "not even a raw event twice"
    );
}

/// A relay that crashed before marking its rows published publishes them again, at new
/// offsets, with the same event ids: in the batch of the first copy or a later one, and
/// to an ingest started afresh, the event is stored once.
#[tokio::test(flavor = "multi_thread")]
async fn an_event_a_relay_published_twice_is_stored_once() {
    let day = day();
    let (_, invoice) = day
        .events
        .iter()
        .find(|(event_type, _)| *event_type == "sales.invoice.issued")
        .unwrap();
    // Its lines' taxable values, as the invoice states them.
    let lines = invoice["lines"].as_array().unwrap();
    let net: i64 = lines
        .iter()
        .map(|l| l["taxable_minor"].as_i64().unwrap())
        .sum();
    let database = format!("test_{}", Uuid::new_v4().simple());
    migrate::migrate(&settings(), &database).await.unwrap();
    let client = clickhouse::client(&settings(), &database);
    let events = topic(1).await;
    let id = Uuid::new_v4();
    let tenant = day.tenant;
    let publish_invoice =
        async || publish(&events, "sales.invoice.issued", tenant, id, invoice).await;
    publish_invoice().await;
    publish_invoice().await;
    let stop = CancellationToken::new();
    run(&client, &events, &stop);
    let stored = async |messages: u64| {
        until("the copies are read", async || {
            ingest::events_stored(&client).await.unwrap_or(0) == messages
        })
        .await
    };
    stored(2).await;
    publish_invoice().await;
    stored(3).await;
    stop.cancel();
    read_again(&client, &events).await;

    assert_eq!(
        number(&client, "SELECT toInt64(count()) FROM events").await,
        1
    );
    assert_eq!(
        number(
            &client,
            "SELECT toInt64(sum(lines)) FROM sales_by_store_day"
        )
        .await,
        lines.len() as i64
    );
    assert_eq!(
        number(
            &client,
            "SELECT toInt64(sum(net_minor)) FROM sales_by_store_day"
        )
        .await,
        net
    );
    drop_database(&database).await;
}
