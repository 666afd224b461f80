//! Inventory's projection over real Kafka: sales and goods receipts arrive as events and
//! move stock once however often they are delivered; then the stock snapshot is rebuilt
//! from the earliest offset of the service's own topic and equals the live one.

use std::time::Duration;

use crate::support::mesh::{publish, relay_outbox_to, settings, topic, until};
use axum::http::{Method, StatusCode};
use bazaar_inventory::{rebuild, snapshots::InventorySnapshots};
use bazaar_platform::{
    auth::Role,
    consumer::ConsumerRunner,
    db,
    testing::{send, store_opened, TestIssuer},
    ServiceContext,
};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn events_move_stock_once_and_the_snapshot_rebuilds_from_the_topic() {
    let settings = settings();
    let name = format!("test_inventory_{}", Uuid::new_v4().simple());
    let owner = db::prepare(&settings, &name, bazaar_inventory::migrator())
        .await
        .unwrap();
    let issuer = TestIssuer::new();
    let app = bazaar_inventory::router(ServiceContext {
        pool: db::app_pool(&settings, &name).await.unwrap(),
        verifier: issuer.verifier(),
        settings: settings.clone(),
        shutdown: CancellationToken::new(),
    });
    let tenant = Uuid::new_v4();
    let admin = issuer.token(tenant, &[Role::Admin]);
    let post = |path: &'static str, body: Value| {
        let (app, admin) = (app.clone(), admin.clone());
        async move {
            let reply = send(&app, Method::POST, path, Some(&admin), Some(body), &[]).await;
            assert!(reply.status.is_success(), "{path}: {}", reply.body);
            reply.body
        }
    };
    let stock = || {
        let (app, admin) = (app.clone(), admin.clone());
        async move {
            let reply = send(
                &app,
                Method::GET,
                "/api/v1/inventory/stock",
                Some(&admin),
                None,
                &[],
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK);
            reply.body
        }
    };

    // Catalog's, sales' and purchase's events, on this test's own topic.
    let upstream = topic(3).await;
    let store_id = Uuid::new_v4();
    store_opened(&owner, &InventorySnapshots::default(), tenant, store_id).await;
    let store = post(
        "/api/v1/inventory/locations",
        json!({"code": "BLR-01", "name": "Indiranagar", "kind": "store", "store_id": store_id}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .parse::<Uuid>()
        .unwrap();
    let (tea, grn, invoice) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    publish(
        &upstream,
        "catalog.product.created",
        tenant,
        Uuid::new_v4(),
        &json!({
        "tenant_id": tenant, "product_id": tea, "sku": "TEA-250", "name": "Assam tea 250 g",
        "description": null, "brand": null, "category_id": null, "variant_of": null,
        "attributes": {}, "unit": "piece", "unit_decimals": 0, "hsn_code": "0902",
        "gst_rate_bp": 500, "cess_rate_bp": 0, "currency": "INR", "mrp_minor": 18_000,
        "selling_price_minor": 16_500, "tax_inclusive": true, "reorder_level": "5",
        "created_at": 1_790_000_000_000_i64}),
    )
    .await;
    let received = json!({
        "tenant_id": tenant, "grn_id": grn, "grn_number": "GRN-1", "purchase_order_id": Uuid::new_v4(),
        "vendor_id": Uuid::new_v4(), "location_id": store, "currency": "INR",
        "lines": [{"product_id": tea, "sku": "TEA-250", "quantity_received": "23", "quantity_rejected": "1",
                   "rejection_reason": "torn", "batch": "T-1", "expiry_date": "2099-01-01", "unit_cost_minor": 12_000},
                  {"product_id": tea, "sku": "TEA-250", "quantity_received": "1", "quantity_rejected": "0",
                   "rejection_reason": null, "batch": "T-0", "expiry_date": "2098-01-01", "unit_cost_minor": 12_000}],
        "received_by": Uuid::new_v4(), "received_at": 1_790_000_000_000_i64});
    let grn_event = Uuid::new_v4();
    let tax = json!({"taxable_minor": 31_429, "gst_rate_bp": 500, "cgst_minor": 786, "sgst_minor": 785,
                     "igst_minor": 0, "cess_minor": 0, "total_minor": 33_000});
    // Two lines of the same tea: the second draws from what the first left.
    let lines: Vec<Value> = (1..=2)
        .map(|line_no| {
            let mut line = json!({"line_no": line_no, "product_id": tea, "sku": "TEA-250", "quantity": "1",
                                  "unit_price_minor": 16_500, "discount_minor": 0, "salesperson_id": null});
            line.as_object_mut()
                .unwrap()
                .extend(tax.as_object().unwrap().clone());
            line
        })
        .collect();
    let sale = json!({
        "tenant_id": tenant, "invoice_id": invoice, "invoice_number": "BLR01T1-000001", "store_id": store_id,
        "terminal_id": "T1", "cashier_id": Uuid::new_v4(), "customer_id": null, "reservation_id": null,
        "offline": false, "currency": "INR", "place_of_supply": "29", "lines": lines,
        "payments": [{"mode": "cash", "amount_minor": 33_000, "reference": null}],
        "subtotal_minor": 31_429, "discount_minor": 0, "tax_minor": 1_571, "round_off_minor": 0,
        "total_minor": 33_000, "issued_at": 1_790_000_000_000_i64});
    let sale_event = Uuid::new_v4();
    publish(
        &upstream,
        "purchase.grn.received",
        tenant,
        grn_event,
        &received,
    )
    .await;
    publish(&upstream, "sales.invoice.issued", tenant, sale_event, &sale).await;
    // Delivered again (a relay retry, a consumer crash before its offset commit).
    publish(
        &upstream,
        "purchase.grn.received",
        tenant,
        grn_event,
        &received,
    )
    .await;
    publish(&upstream, "sales.invoice.issued", tenant, sale_event, &sale).await;

    let stop = CancellationToken::new();
    let runner = ConsumerRunner::new(
        &settings,
        owner.clone(),
        InventorySnapshots::reading(vec![upstream.clone()]),
    )
    .with_group(format!("test-{}", Uuid::new_v4().simple()));
    let consumer = tokio::spawn(runner.run(stop.clone()));
    until("four events processed", async || {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM processed_events")
            .fetch_one(&owner)
            .await
            .unwrap();
        n == 1 + 3 // the store, announced before the topic's events
    })
    .await;
    // Give the two duplicates their chance to (not) apply.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    consumer.await.unwrap().unwrap();
    let item = &stock().await[0];
    assert_eq!(
        item["on_hand"], "22",
        "24 received, 2 sold, each once: {item}"
    );
    assert_eq!(item["average_cost_minor"], "12000");
    let batch = |name: &str| {
        item["batches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["batch"] == name)
            .map(|b| b["on_hand"].clone())
    };
    assert_eq!(
        (batch("T-0"), batch("T-1")),
        (None, Some(json!("22"))),
        "the first line empties T-0 (first expiry first out), the second takes from T-1: {item}"
    );

    // More stock changes through the API, then the whole ledger goes to Kafka.
    post(
        "/api/v1/inventory/adjust",
        json!({"location_id": store, "product_id": tea, "quantity": "10", "reason": "found",
                "unit_cost": {"amount_minor": 15_000, "currency": "INR"}}),
    )
    .await;
    post(
        "/api/v1/inventory/adjust",
        json!({"location_id": store, "sku": "TEA-250", "quantity": "3", "reason": "damage"}),
    )
    .await;
    let before = stock().await;
    assert_eq!(before[0]["on_hand"], "29");
    assert_eq!(
        before[0]["average_cost_minor"], "12937.5",
        "22 at 120.00 and 10 at 150.00"
    );

    // This test's own topic, not the shared inventory.events.v1, so tests running in
    // parallel never fold each other's movements.
    let own = topic(3).await;
    relay_outbox_to(&name, &owner, &own).await;

    let rebuilt = rebuild::rebuild(&settings, &owner, &own, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(rebuilt.items, 1);
    assert!(rebuilt.differences.is_empty(), "{:?}", rebuilt.differences);
    // The rebuilt tables are live now, under the same tenant wall and grants.
    assert_eq!(stock().await, before);

    // A snapshot that drifted from its ledger is found and repaired by the next rebuild.
    let mut tx = db::begin_for_tenant(&owner, tenant).await.unwrap();
    sqlx::query("UPDATE stock_levels SET on_hand = on_hand + 5")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let repaired = rebuild::rebuild(&settings, &owner, &own, Duration::from_secs(60))
        .await
        .unwrap();
    let found = &repaired.differences;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("on hand 34 live, 29 rebuilt"),
        "{found:?}"
    );
    assert_eq!(stock().await, before);
    post(
        "/api/v1/inventory/adjust",
        json!({"location_id": store, "sku": "TEA-250", "quantity": "1", "reason": "theft"}),
    )
    .await;
    assert_eq!(stock().await[0]["on_hand"], "28");
    let stranger = issuer.token(Uuid::new_v4(), &[Role::Owner]);
    let theirs = send(
        &app,
        Method::GET,
        "/api/v1/inventory/stock",
        Some(&stranger),
        None,
        &[],
    )
    .await;
    assert_eq!(theirs.body, json!([]));
}
