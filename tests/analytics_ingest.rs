//! The analytics ingest over real Kafka into real ClickHouse (Debian's 18.16): a day's
//! events become raw events, facts and rollups with the numbers worked out by hand; a
//! table that cannot be written holds the batch back without losing or doubling
//! anything; and the whole topic delivered again changes no number.

// Amounts in paise are written rupees_paise (118_00 is ₹118.00).
#![allow(clippy::inconsistent_digit_grouping)]

mod support;

use std::time::Duration;

use bazaar_analytics::{ingest::AnalyticsIngest, migrate};
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

#[tokio::test(flavor = "multi_thread")]
async fn a_day_of_events_becomes_facts_and_rollups_once() {
    let database = format!("test_{}", Uuid::new_v4().simple());
    assert_eq!(
        migrate::migrate(&settings(), &database).await.unwrap(),
        [1, 2, 3]
    );
    assert!(migrate::migrate(&settings(), &database)
        .await
        .unwrap()
        .is_empty());
    let client = clickhouse::client(&settings(), &database);
    let events = topic(1).await;
    let (tenant, store, location) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (soap, rice) = (Uuid::new_v4(), Uuid::new_v4());

    // The store's sales: two invoices (soap at 18 %, rice at 5 %), a soap returned, the
    // stock movements at cost, a vendor's invoice and a journal entry.
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
    let moved = |product: Uuid, kind: &str, quantity: &str, cost: &str| {
        json!({"tenant_id": tenant, "movement_id": Uuid::new_v4(), "seq": 1, "location_id": location,
            "store_id": store, "product_id": product, "sku": "X", "batch": "", "expiry_date": null, "kind": kind,
            "quantity": quantity, "unit_cost_minor": cost, "currency": "INR", "on_hand_after": "0",
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
    let day: Vec<(&str, Value)> = vec![
        (
            "catalog.category.created",
            json!({"tenant_id": tenant, "category_id": Uuid::new_v4(),
            "parent_id": null, "name": "Staples", "path": "Staples", "created_at": DAY}),
        ),
        (
            "inventory.stock.moved",
            moved(soap, "receipt", "20", "6000"),
        ),
        (
            "inventory.stock.moved",
            moved(rice, "receipt", "50", "4000"),
        ),
        ("sales.invoice.issued", first.clone()),
        ("inventory.stock.moved", moved(soap, "sale", "-2", "6000")),
        ("inventory.stock.moved", moved(rice, "sale", "-1.5", "4000")),
        (
            "sales.invoice.issued",
            invoice(
                "BLR1T126000002",
                json!([line(1, soap, "SOAP-1", "1", 100_00, 9_00)]),
                "upi",
                118_00,
            ),
        ),
        ("inventory.stock.moved", moved(soap, "sale", "-1", "6000")),
        (
            "sales.return.processed",
            json!({"tenant_id": tenant, "return_id": Uuid::new_v4(),
            "credit_note_number": "BLR1C26000001", "invoice_id": first["invoice_id"], "store_id": store,
            "customer_id": null, "currency": "INR", "lines": [{"line_no": 1, "product_id": soap, "sku": "SOAP-1",
            "quantity": "1", "restock": true, "taxable_minor": 100_00, "gst_rate_bp": 1800, "cgst_minor": 9_00,
            "sgst_minor": 9_00, "igst_minor": 0, "cess_minor": 0, "total_minor": 118_00}], "refund_mode": "cash",
            "total_minor": 118_00, "processed_by": Uuid::new_v4(), "processed_at": DAY}),
        ),
        ("inventory.stock.moved", moved(soap, "return", "1", "6000")),
        (
            "purchase.invoice.recorded",
            json!({"tenant_id": tenant, "invoice_id": Uuid::new_v4(),
            "vendor_id": Uuid::new_v4(), "vendor_invoice_number": "M/1", "place_of_supply": "29",
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

    // Stock movements cannot be written at first: the batch (the whole day, waiting on
    // the topic) is retried, nothing is lost, and the tables written before the failure
    // are not written twice.
    client
        .query("DETACH TABLE stock_movements")
        .execute()
        .await
        .unwrap();
    for (event_type, payload) in &day {
        publish(&events, event_type, tenant, Uuid::new_v4(), payload).await;
    }
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
        number(&client, "SELECT toInt64(count()) FROM stock_movements").await == 6
            && number(&client, "SELECT toInt64(count()) FROM journal_lines").await == 2
    })
    .await;
    stop.cancel();

    let expected = [
        ("SELECT toInt64(count()) FROM events FINAL", 12),
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
        // Stock: 18 soaps at ₹60 and 48.5 kg of rice at ₹40.
        (
            "SELECT toInt64(sum(value_minor)) FROM stock_by_store_sku",
            18 * 60_00 + 1_940_00,
        ),
        (
            "SELECT toInt64(sum(quantity_milli)) FROM stock_by_store_sku",
            18_000 + 48_500,
        ),
        ("SELECT toInt64(sum(tax_minor)) FROM purchase_lines", 100_00),
        (
            "SELECT toInt64(sum(debit_minor)) FROM journal_lines",
            5_000_00,
        ),
        ("SELECT toInt64(count()) FROM categories", 1),
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
    let payment_modes: Vec<String> = client
        .query("SELECT DISTINCT payment_mode FROM sales_lines ORDER BY payment_mode")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(payment_modes, ["cash", "upi"]);

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
        12,
        "not even a raw event twice"
    );

    clickhouse::client(&settings(), "default")
        .query(&format!("DROP DATABASE {database}"))
        .execute()
        .await
        .unwrap();
}
