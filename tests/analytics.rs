//! Analytics over real Kafka into real ClickHouse (Debian's 18.16): a day's events
//! become raw events, facts and rollups with the numbers worked out by hand; a table that
//! cannot be written holds the batch back without losing or doubling anything; the whole
//! topic delivered again changes no number; and every dashboard panel's query, expanded
//! as the Grafana plugin expands it, returns the figures worked out by hand.

// Amounts in paise are written rupees_paise (118_00 is ₹118.00).
#![allow(clippy::inconsistent_digit_grouping)]

mod support;

use std::time::Duration;

use bazaar_analytics::{
    ingest::AnalyticsIngest,
    migrate,
    queries::{self, View},
};
use bazaar_platform::{
    clickhouse::{self, Client},
    consumer::{BatchRunner, Batching},
    rebuild,
};
use serde_json::{json, Value};
use support::mesh::{publish, settings, topic, until};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// 2026-11-18, 11:06 UTC.
const DAY: i64 = 1_795_000_000_000;

/// Runs the ingest in a new consumer group; returns the group.
fn run(client: &Client, topic: &str, stop: &CancellationToken) -> String {
    let ingest = AnalyticsIngest::new(client.clone(), vec![topic.to_owned()]);
    // Long enough for the day on the topic to come in one batch.
    let batching = Batching {
        max_events: 50_000,
        max_wait: Duration::from_secs(2),
    };
    let group = format!("test-{}", Uuid::new_v4().simple());
    let runner = BatchRunner::new(&settings(), ingest, batching).with_group(group.clone());
    tokio::spawn(runner.run(stop.clone()));
    group
}

async fn number(client: &Client, sql: &str) -> i64 {
    client.query(sql).fetch_one::<i64>().await.unwrap()
}

/// A store's day of events, as the services publish them.
struct Day {
    tenant: Uuid,
    store: Uuid,
    vendor: Uuid,
    oil: Uuid,
    events: Vec<(&'static str, Value)>,
}

/// Soap (₹60 cost, personal care) and rice (₹40, staples) received and sold over two
/// invoices, one soap returned and one damaged, oil (₹100) received and never sold, a
/// vendor's invoice, a manual journal entry, a low-stock and an expiry alert.
fn day() -> Day {
    let (tenant, store, location, vendor) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let (soap, rice, oil) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (care, staples) = (Uuid::new_v4(), Uuid::new_v4());
    let category = |id: Uuid, name: &str| {
        json!({"tenant_id": tenant, "category_id": id, "parent_id": null, "name": name, "path": name,
            "created_at": DAY})
    };
    let product = |id: Uuid, sku: &str, category: Uuid| {
        json!({"tenant_id": tenant, "product_id": id, "sku": sku, "name": sku, "description": null,
            "brand": null, "category_id": category, "variant_of": null, "attributes": {}, "unit": "piece",
            "unit_decimals": 0, "hsn_code": null, "gst_rate_bp": 1800, "cess_rate_bp": 0, "currency": "INR",
            "mrp_minor": 1, "selling_price_minor": 1, "tax_inclusive": true, "reorder_level": null,
            "created_at": DAY})
    };
    let line = |n: i32, product: Uuid, sku: &str, quantity: &str, taxable: i64, half: i64| {
        json!({"line_no": n, "product_id": product, "sku": sku, "quantity": quantity, "unit_price_minor": 0,
            "discount_minor": 0, "taxable_minor": taxable, "gst_rate_bp": 0, "cgst_minor": half,
            "sgst_minor": half, "igst_minor": 0, "cess_minor": 0, "total_minor": taxable + 2 * half,
            "salesperson_id": null, "hsn_code": null})
    };
    let invoice = |number: &str, lines: Value, mode: &str, total: i64| {
        json!({"tenant_id": tenant, "invoice_id": Uuid::new_v4(), "invoice_number": number, "store_id": store,
            "terminal_id": "T1", "cashier_id": Uuid::new_v4(), "customer_id": null, "reservation_id": null,
            "offline": false, "currency": "INR", "place_of_supply": "29", "supplier_gstin": null,
            "supplier_state": "29", "customer_gstin": null, "lines": lines,
            "payments": [{"mode": mode, "amount_minor": total, "reference": null}], "subtotal_minor": total,
            "discount_minor": 0, "tax_minor": 0, "round_off_minor": 0, "total_minor": total, "issued_at": DAY})
    };
    let moved = |product: Uuid, sku: &str, kind: &str, quantity: &str, cost: &str| {
        json!({"tenant_id": tenant, "movement_id": Uuid::new_v4(), "seq": 1, "location_id": location,
            "store_id": store, "product_id": product, "sku": sku, "batch": "", "expiry_date": null,
            "kind": kind, "quantity": quantity, "unit_cost_minor": cost, "currency": "INR", "on_hand_after": "0",
            "average_cost_after_minor": cost, "reason": null, "reference_type": null, "reference_id": null,
            "recorded_by": null, "recorded_at": DAY})
    };
    let first = invoice(
        "BLR1T126000001",
        json!([
            line(1, soap, "SOAP-1", "2", 200_00, 18_00),
            line(2, rice, "RICE-1", "1.5", 90_00, 2_25)
        ]),
        "cash",
        334_50,
    );
    let events = vec![
        ("catalog.category.created", category(care, "Personal care")),
        ("catalog.category.created", category(staples, "Staples")),
        ("catalog.product.created", product(soap, "SOAP-1", care)),
        ("catalog.product.created", product(rice, "RICE-1", staples)),
        ("catalog.product.created", product(oil, "OIL-1", staples)),
        (
            "inventory.stock.moved",
            moved(soap, "SOAP-1", "receipt", "20", "6000"),
        ),
        (
            "inventory.stock.moved",
            moved(rice, "RICE-1", "receipt", "50", "4000"),
        ),
        (
            "inventory.stock.moved",
            moved(oil, "OIL-1", "receipt", "10", "10000"),
        ),
        ("sales.invoice.issued", first.clone()),
        (
            "inventory.stock.moved",
            moved(soap, "SOAP-1", "sale", "-2", "6000"),
        ),
        (
            "inventory.stock.moved",
            moved(rice, "RICE-1", "sale", "-1.5", "4000"),
        ),
        (
            "sales.invoice.issued",
            invoice(
                "BLR1T126000002",
                json!([line(1, soap, "SOAP-1", "1", 100_00, 9_00)]),
                "upi",
                118_00,
            ),
        ),
        (
            "inventory.stock.moved",
            moved(soap, "SOAP-1", "sale", "-1", "6000"),
        ),
        (
            "sales.return.processed",
            json!({"tenant_id": tenant, "return_id": Uuid::new_v4(),
            "credit_note_number": "BLR1C26000001", "invoice_id": first["invoice_id"], "store_id": store,
            "customer_id": null, "currency": "INR", "lines": [{"line_no": 1, "product_id": soap, "sku": "SOAP-1",
            "quantity": "1", "restock": true, "taxable_minor": 100_00, "gst_rate_bp": 1800, "cgst_minor": 9_00,
            "sgst_minor": 9_00, "igst_minor": 0, "cess_minor": 0, "total_minor": 118_00}], "refund_mode": "cash",
            "total_minor": 118_00, "processed_by": Uuid::new_v4(), "processed_at": DAY}),
        ),
        (
            "inventory.stock.moved",
            moved(soap, "SOAP-1", "return", "1", "6000"),
        ),
        (
            "inventory.stock.moved",
            moved(soap, "SOAP-1", "adjustment", "-1", "6000"),
        ),
        (
            "inventory.low_stock",
            json!({"tenant_id": tenant, "location_id": location, "product_id": soap,
            "sku": "SOAP-1", "available": "17", "reorder_level": "18", "detected_at": DAY}),
        ),
        (
            "inventory.batch.expiring",
            json!({"tenant_id": tenant, "location_id": location, "product_id": rice,
            "sku": "RICE-1", "batch": "R-7", "expiry_date": "2026-11-25", "on_hand": "48.5", "days_left": 7,
            "detected_at": DAY}),
        ),
        (
            "purchase.invoice.recorded",
            json!({"tenant_id": tenant, "invoice_id": Uuid::new_v4(),
            "vendor_id": vendor, "vendor_invoice_number": "M/1", "place_of_supply": "29",
            "invoice_date": "2026-11-18", "due_date": "2026-12-18", "grn_ids": [], "currency": "INR",
            "lines": [{"product_id": rice, "sku": "RICE-1", "quantity": "50", "unit_price_minor": 40_00,
            "taxable_minor": 2_000_00, "gst_rate_bp": 500, "cgst_minor": 50_00, "sgst_minor": 50_00,
            "igst_minor": 0, "cess_minor": 0, "total_minor": 2_100_00, "received_value_minor": 2_000_00}],
            "taxable_minor": 2_000_00, "tax_minor": 100_00, "total_minor": 2_100_00, "status": "matched",
            "recorded_at": DAY}),
        ),
        (
            "finance.entry.posted",
            json!({"tenant_id": tenant, "entry_id": Uuid::new_v4(),
            "posting_date": "2026-11-18", "narration": "Capital", "source": "manual", "source_event_id": null,
            "document": null, "currency": "INR", "reverses": null, "lines": [
            {"account_code": "1010", "store_id": null, "debit_minor": 5_000_00, "credit_minor": 0},
            {"account_code": "3000", "store_id": null, "debit_minor": 0, "credit_minor": 5_000_00}],
            "posted_by": null, "posted_at": DAY}),
        ),
    ];
    Day {
        tenant,
        store,
        vendor,
        oil,
        events,
    }
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
        number(&client, "SELECT toInt64(count()) FROM stock_movements").await == 8
            && number(&client, "SELECT toInt64(count()) FROM journal_lines").await == 2
    })
    .await;
    stop.cancel();

    let expected = [
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
    ];
    let read = async || {
        let mut numbers = Vec::new();
        for (sql, _) in &expected {
            numbers.push(number(&client, sql).await);
        }
        numbers
    };
    let want: Vec<i64> = expected.iter().map(|e| e.1).collect();
    assert_eq!(read().await, want);

    // The whole topic again, as after a crash before the offsets were committed: every
    // event is read and skipped, and no number moves.
    let again = CancellationToken::new();
    let group = run(&client, &events, &again);
    rebuild::wait_for_group(
        &settings(),
        &group,
        std::slice::from_ref(&events),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    again.cancel();
    assert_eq!(read().await, want);
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
    let stop = CancellationToken::new();
    run(&client, &events, &stop);
    until("the day is ingested", async || {
        number(&client, "SELECT toInt64(count()) FROM journal_lines").await == 2
    })
    .await;
    stop.cancel();

    let (store, vendor, oil) = (
        day.store.to_string(),
        day.vendor.to_string(),
        day.oil.to_string(),
    );
    let rows = |rows: &[&[&str]]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.iter().map(|v| (*v).to_owned()).collect())
            .collect()
    };
    // Every panel, with what it must show for 18 November. A panel added without its
    // figures here fails the test.
    let expected: Vec<(&str, Vec<Vec<String>>)> = vec![
        ("sales.revenue", rows(&[&["39000"]])),
        ("sales.invoices", rows(&[&["2"]])),
        ("sales.average-basket", rows(&[&["19500"]])),
        (
            "sales.revenue-by-day-and-store",
            rows(&[&["2026-11-18", &store, "39000", "5850"]]),
        ),
        (
            "sales.top-skus",
            rows(&[&["SOAP-1", "3000", "30000"], &["RICE-1", "1500", "9000"]]),
        ),
        (
            "sales.top-categories",
            rows(&[&["Personal care", "30000"], &["Staples", "9000"]]),
        ),
        (
            "sales.payment-modes",
            rows(&[&["cash", "1", "29000"], &["upi", "1", "10000"]]),
        ),
        // ₹100 returned of ₹390 sold: 25.64 %.
        ("sales.returns-rate", rows(&[&["2564"]])),
        // ₹390 - ₹100 returned, less the cost sold (₹120 + ₹60 + ₹60) plus the cost back (₹60).
        ("sales.margin", rows(&[&["11000"]])),
        (
            "inventory.stock-value-by-store",
            rows(&[&[&store, "75500", "396000"]]),
        ),
        ("inventory.shrinkage", rows(&[&["6000"]])),
        ("inventory.dead-stock", rows(&[&[&oil, "10000", "100000"]])),
        (
            "purchasing-finance.purchases-by-vendor",
            rows(&[&[&vendor, "200000", "10000"]]),
        ),
        // Output: 58.50 less the 18 returned; input: the rice's 100.
        (
            "purchasing-finance.gst-output-vs-input-by-month",
            rows(&[&["2026-11-01", "4050", "10000"]]),
        ),
        (
            "purchasing-finance.journal-by-account",
            rows(&[&["1010", "500000", "0"], &["3000", "0", "500000"]]),
        ),
    ];
    let on_the_day = View {
        from: "2026-11-18T00:00:00Z".parse().unwrap(),
        to: "2026-11-18T23:59:59Z".parse().unwrap(),
        tenant: day.tenant,
        store: None,
    };
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
    // So do the alerts: when inventory raised them.
    for (name, want) in [
        ("inventory.low-stock-alerts", rows(&[&["SOAP-1", "1"]])),
        (
            "inventory.expiring-batches",
            rows(&[&["RICE-1", "R-7", "2026-11-25"]]),
        ),
    ] {
        let sql = queries::expand(&queries::panel(name).unwrap().sql, &today).unwrap();
        assert_eq!(
            queries::run(&url, &database, &sql).await.unwrap().rows,
            want,
            "{name}"
        );
    }

    // Every panel is covered above.
    let covered = expected.len() + 1 + 3 + 2;
    assert_eq!(queries::panels().unwrap().len(), covered);
    drop_database(&database).await;
}
