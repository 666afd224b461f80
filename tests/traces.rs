//! One checkout is one trace, read back from a real Jaeger: the sale's HTTP request, the
//! reservation sales asks inventory for, the relay publishing the invoice, and inventory's
//! and finance's consumers applying it, under one trace id. Alone in its binary: it
//! installs the process's tracing subscriber, exporting over OTLP.

#[path = "e2e/support/mod.rs"]
mod support;

use std::{collections::HashSet, time::Duration};

use axum::http::Method;
use bazaar_finance::ledger::FinanceLedger;
use bazaar_inventory::snapshots::InventorySnapshots;
use bazaar_platform::{db, Settings};
use bazaar_sales::references::SalesReferences;
use serde_json::{json, Value};
use support::mesh::{call, ok, relay_outbox_to, run, store_opened, topic, until, Tenant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn one_checkout_is_one_trace_across_http_and_kafka() {
    let query =
        std::env::var("BAZAAR_JAEGER_QUERY").expect("BAZAAR_JAEGER_QUERY (./dev test sets it)");
    let mut traced = Settings::from_env().unwrap();
    traced.otlp_endpoint =
        Some(std::env::var("BAZAAR_JAEGER_OTLP").expect("BAZAAR_JAEGER_OTLP (./dev test sets it)"));
    traced.log_filter = "warn,bazaar_platform=info,bazaar_outbox_worker=info".to_owned();
    // A service name of its own: this test's traces are the only ones under it.
    let process = format!("bazaar-trace-test-{}", Uuid::new_v4().simple());
    let telemetry = bazaar_platform::telemetry::init(&traced, &process).unwrap();

    let t = Tenant::new();
    let catalog = t.start(&bazaar_catalog::DESCRIPTOR).await;
    let inventory = t.start(&bazaar_inventory::DESCRIPTOR).await;
    let partners = t.start(&bazaar_partners::DESCRIPTOR).await;
    let finance = t.start(&bazaar_finance::DESCRIPTOR).await;
    let (products, events) = (topic(3).await, topic(3).await);
    let sales = t
        .sales(&inventory, &partners, Some(vec![events.clone()]))
        .await;

    let soap = ok(
        &catalog,
        Method::POST,
        "/api/v1/products",
        json!({"sku": "SOAP-1",
        "name": "Neem soap", "unit": "piece", "gst_rate": "18",
        "mrp": {"amount_minor": 11_800, "currency": "INR"},
        "selling_price": {"amount_minor": 11_800, "currency": "INR"}, "tax_inclusive": true}),
    )
    .await;
    let store_id = Uuid::new_v4();
    store_opened(&inventory, &InventorySnapshots::default(), store_id).await;
    store_opened(&sales, &SalesReferences::default(), store_id).await;
    store_opened(&finance, &FinanceLedger::default(), store_id).await;
    let location = ok(
        &inventory,
        Method::POST,
        "/api/v1/inventory/locations",
        json!({"code": "BLR-01", "name": "Indiranagar", "kind": "store", "store_id": store_id}),
    )
    .await;
    ok(
        &sales,
        Method::PUT,
        &format!("/api/v1/pos/stores/{store_id}"),
        json!({"code": "BLR1", "state_code": "29", "gstin": null, "location_id": location["id"]}),
    )
    .await;
    relay_outbox_to(&catalog.database, &catalog.owner, &products).await;
    let stop = CancellationToken::new();
    run(
        InventorySnapshots::reading(vec![products.clone(), events.clone()]),
        &inventory,
        &stop,
    );
    run(
        SalesReferences::reading(vec![products.clone(), events.clone()]),
        &sales,
        &stop,
    );
    run(
        FinanceLedger::reading(vec![events.clone()]),
        &finance,
        &stop,
    );
    let stock = json!({"location_id": location["id"], "product_id": soap["id"], "quantity": "10",
        "reason": "opening_stock", "unit_cost": {"amount_minor": 6_000, "currency": "INR"}});
    until("inventory knows the product", async || {
        call(
            &inventory,
            Method::POST,
            "/api/v1/inventory/adjust",
            Some(stock.clone()),
        )
        .await
        .status
        .is_success()
    })
    .await;

    // The checkout, over HTTP as a till sends it.
    let till = reqwest::Client::new();
    let url = format!("{}/api/v1/pos/invoices", sales.listen().await);
    let sale = json!({"id": Uuid::new_v4(), "store_id": store_id, "terminal_id": "T1",
        "customer_id": null, "lines": [{"product_id": soap["id"], "quantity": "1"}],
        "payments": [{"mode": "cash", "amount_minor": 11_800}]});
    until("the till knows the product", async || {
        till.post(&url)
            .bearer_auth(&sales.admin)
            .json(&sale)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    relay_outbox_to(&sales.database, &sales.owner, &events).await;
    let stock_path = format!(
        "/api/v1/inventory/stock?product_id={}",
        soap["id"].as_str().unwrap()
    );
    until("inventory applies the invoice", async || {
        call(&inventory, Method::GET, &stock_path, None).await.body[0]["on_hand"] == "9"
    })
    .await;
    until("finance posts the invoice", async || {
        let mut tx = db::begin_for_tenant(&finance.owner, t.id).await.unwrap();
        let posted: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM journal_entries WHERE source = 'sales.invoice.issued'",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        posted == 1
    })
    .await;
    stop.cancel();
    // Everything recorded so far goes to Jaeger now.
    telemetry.shutdown();

    // The trace of the one request that placed the sale.
    let jaeger = reqwest::Client::new();
    let mut trace = Value::Null;
    for _ in 0..100 {
        let found: Value = jaeger
            .get(format!("{query}/api/traces"))
            .query(&[
                ("service", process.as_str()),
                ("limit", "200"),
                ("lookback", "1h"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // The till's first tries, before sales knew the product, were refused and are
        // traces of their own: the sale's is the one of them that went furthest.
        if let Some(t) = found["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| {
                spans(t).iter().any(|s| {
                    tag(s, "path").as_deref() == Some("/api/v1/pos/invoices")
                        && tag(s, "method").as_deref() == Some("POST")
                })
            })
            .max_by_key(|t| spans(t).len())
        {
            trace = t.clone();
            let names = operations(&trace);
            if ["inventory-snapshots", "finance-ledger"]
                .iter()
                .all(|group| names.contains(&format!("process sales.invoice.issued by {group}")))
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!trace.is_null(), "Jaeger has no trace of the checkout");
    let names = operations(&trace);
    for expected in [
        "POST /api/v1/pos/invoices".to_owned(),
        "POST /api/v1/inventory/reservations".to_owned(),
        format!("publish {events}"),
        "process sales.invoice.issued by inventory-snapshots".to_owned(),
        "process sales.invoice.issued by finance-ledger".to_owned(),
    ] {
        assert!(
            names.contains(&expected),
            "{expected} is not in the checkout's trace: {names:?}"
        );
    }
}

fn spans(trace: &Value) -> Vec<Value> {
    trace["spans"].as_array().cloned().unwrap_or_default()
}

fn tag(span: &Value, key: &str) -> Option<String> {
    span["tags"]
        .as_array()?
        .iter()
        .find(|t| t["key"] == key)
        .and_then(|t| t["value"].as_str().map(str::to_owned))
}

/// Each span of the trace as a person reads it in Jaeger: HTTP spans by method and path,
/// consumers' by what they applied and which consumer did.
fn operations(trace: &Value) -> HashSet<String> {
    spans(trace)
        .iter()
        .map(|span| {
            let name = span["operationName"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            match (
                tag(span, "method"),
                tag(span, "path"),
                tag(span, "messaging.consumer.group.name"),
            ) {
                (Some(method), Some(path), _) => format!("{method} {path}"),
                (_, _, Some(group)) => format!("{name} by {group}"),
                _ => name,
            }
        })
        .collect()
}
