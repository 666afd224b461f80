//! The purchase cycle across the mesh, over real Kafka: a product (catalog) and a vendor
//! (partners) reach purchase; an order is approved and received in two deliveries,
//! invoiced and partly returned; inventory ends with the right stock and partners with
//! the right vendor balance, and the topic carries the right events.

// Amounts in paise are written rupees_paise (45_50 is ₹45.50).

use std::collections::HashMap;

use crate::support::mesh::{
    call, ok, read_with_headers, relay_outbox_to, replay, run, topic, until, Tenant,
};
use axum::http::Method;
use bazaar_inventory::snapshots::InventorySnapshots;
use bazaar_partners::ledgers::PartnerLedgers;
use bazaar_platform::db;
use bazaar_platform::testing::TestService;
use bazaar_purchase::{documents::PurchaseFold, references::PurchaseReferences};
use chrono::Utc;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Catalog, inventory, partners and purchase of one tenant over a topic of their own,
/// with a product, a vendor and a warehouse purchase has learnt of from it; the
/// projections run until `stop`.
struct Mesh {
    inventory: TestService,
    partners: TestService,
    purchase: TestService,
    events: String,
    rice: Value,
    vendor: Value,
    warehouse: Value,
    stop: CancellationToken,
}

async fn mesh() -> Mesh {
    let t = Tenant::new();
    let catalog = t.start(&bazaar_catalog::DESCRIPTOR).await;
    let inventory = t.start(&bazaar_inventory::DESCRIPTOR).await;
    let partners = t.start(&bazaar_partners::DESCRIPTOR).await;
    let purchase = t.start(&bazaar_purchase::DESCRIPTOR).await;
    let events = topic(3).await;
    let rice = ok(
        &catalog,
        Method::POST,
        "/api/v1/products",
        json!({"sku": "RICE-25", "name": "Rice 25 kg",
        "unit": "kg", "gst_rate": "5", "mrp": {"amount_minor": 60_00, "currency": "INR"},
        "selling_price": {"amount_minor": 55_00, "currency": "INR"}, "tax_inclusive": true}),
    )
    .await;
    let vendor = ok(
        &partners,
        Method::POST,
        "/api/v1/vendors",
        json!({"name": "Mills", "state_code": "29",
        "payment_terms_days": 30}),
    )
    .await;
    let warehouse = ok(
        &inventory,
        Method::POST,
        "/api/v1/inventory/locations",
        json!({"code": "WH-1", "name": "Warehouse", "kind": "warehouse"}),
    )
    .await;
    let (rice, vendor, warehouse) = (
        rice["id"].clone(),
        vendor["id"].clone(),
        warehouse["id"].clone(),
    );
    relay_outbox_to(&catalog.database, &catalog.owner, &events).await;
    relay_outbox_to(&partners.database, &partners.owner, &events).await;
    relay_outbox_to(&inventory.database, &inventory.owner, &events).await;

    let stop = CancellationToken::new();
    let topics = || vec![events.clone()];
    run(InventorySnapshots::reading(topics()), &inventory, &stop);
    run(PartnerLedgers::reading(topics()), &partners, &stop);
    run(PurchaseReferences::reading(topics()), &purchase, &stop);
    Mesh {
        inventory,
        partners,
        purchase,
        events,
        rice,
        vendor,
        warehouse,
        stop,
    }
}

/// Drafts an order of `quantity` rice once purchase has learnt of the vendor, the product
/// and the warehouse from the topic.
async fn order(m: &Mesh, quantity: &str) -> String {
    let order_body = json!({"vendor_id": m.vendor, "location_id": m.warehouse, "place_of_supply": "29",
        "lines": [{"product_id": m.rice, "quantity": quantity, "unit_price_minor": 45_00}]});
    let mut order = Value::Null;
    until(
        "purchase knows the vendor, the product and the warehouse",
        async || {
            let reply = call(
                &m.purchase,
                Method::POST,
                "/api/v1/purchase-orders",
                Some(order_body.clone()),
            )
            .await;
            order = reply.body;
            reply.status.is_success()
        },
    )
    .await;
    order["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn order_to_return_ends_with_the_right_stock_ledger_and_events() {
    let m = mesh().await;
    let (inventory, partners, purchase, events) =
        (&m.inventory, &m.partners, &m.purchase, &m.events);
    let (rice, vendor, warehouse) = (&m.rice, &m.vendor, &m.warehouse);

    // Purchase learns of the vendor and the product from the topic.
    let po = order(&m, "100").await;
    ok(
        purchase,
        Method::POST,
        &format!("/api/v1/purchase-orders/{po}/approve"),
        json!(null),
    )
    .await;
    let grns = format!("/api/v1/purchase-orders/{po}/grns");
    let first = ok(
        purchase,
        Method::POST,
        &grns,
        json!({"lines": [{"line_no": 1, "quantity_received": "60",
        "batch": "R-1", "expiry_date": "2027-12-31"}]}),
    )
    .await;
    let second = ok(
        purchase,
        Method::POST,
        &grns,
        json!({"lines": [{"line_no": 1, "quantity_received": "40",
        "batch": "R-2"}]}),
    )
    .await;
    assert_eq!(second["po_status"], "received");
    let invoice = ok(purchase, Method::POST, "/api/v1/purchase-invoices", json!({"vendor_id": vendor,
        "vendor_invoice_number": "M/1", "invoice_date": Utc::now().date_naive(),
        "grn_ids": [first["id"], second["id"]], "lines": [{"product_id": rice, "quantity": "100", "unit_price_minor": 45_00}]})).await;
    assert_eq!(invoice["status"], "matched");
    assert_eq!(invoice["total"]["amount_minor"], 4_725_00, "₹4,500 + 5 %");
    let back = ok(
        purchase,
        Method::POST,
        "/api/v1/purchase-returns",
        json!({"grn_id": first["id"],
        "reason": "damp", "lines": [{"product_id": rice, "quantity": "5"}]}),
    )
    .await;
    assert_eq!(back["total"]["amount_minor"], 236_26, "₹225 + 2 x ₹5.63");
    relay_outbox_to(&purchase.database, &purchase.owner, events).await;

    // Inventory: 60 + 40 in, 5 back to the vendor from the first batch.
    let stock_path = format!(
        "/api/v1/inventory/stock?location_id={}",
        warehouse.as_str().unwrap()
    );
    until(
        "inventory applies the receipts and the return",
        async || {
            let stock = call(inventory, Method::GET, &stock_path, None).await.body;
            stock[0]["on_hand"] == "95"
        },
    )
    .await;
    let stock = call(inventory, Method::GET, &stock_path, None).await.body;
    let batches: HashMap<&str, &str> = stock[0]["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["batch"].as_str().unwrap(), b["on_hand"].as_str().unwrap()))
        .collect();
    assert_eq!(batches, HashMap::from([("R-1", "55"), ("R-2", "40")]));
    assert_eq!(stock[0]["average_cost_minor"], "4500");

    // Partners: the invoice less the return.
    let ledger_path = format!("/api/v1/vendors/{}/ledger", vendor.as_str().unwrap());
    until("the vendor ledger", async || {
        let ledger = call(partners, Method::GET, &ledger_path, None).await.body;
        ledger["entries"].as_array().is_some_and(|e| e.len() == 2)
    })
    .await;
    let ledger = call(partners, Method::GET, &ledger_path, None).await.body;
    assert_eq!(ledger["balance"]["amount_minor"], 4_725_00 - 236_26);
    m.stop.cancel();

    // The topic: catalog's, partners' and inventory's facts, then purchase's whole cycle.
    // The product, the vendor, the warehouse, and the order created, approved, received
    // twice, invoiced and returned against.
    let count = 1 + 1 + 1 + 6;
    let messages = read_with_headers(events, count).await;
    let mut types: HashMap<String, usize> = HashMap::new();
    for message in &messages {
        *types.entry(message["ce_type"].clone()).or_default() += 1;
    }
    for (event_type, expected) in [
        ("inventory.location.added", 1),
        ("purchase.po.created", 1),
        ("purchase.po.approved", 1),
        ("purchase.grn.received", 2),
        ("purchase.invoice.recorded", 1),
        ("purchase.return.processed", 1),
    ] {
        assert_eq!(
            types.get(event_type).copied().unwrap_or(0),
            expected,
            "{event_type}: {types:?}"
        );
    }
}

/// Purchase orders, goods receipts, vendor invoices and returns are what purchase's own
/// events say: folded again from the topic into fresh tables, they equal the live ones,
/// and a live row that drifted from its events is found.
#[tokio::test(flavor = "multi_thread")]
async fn purchase_documents_replay_from_their_events_to_the_same_rows() {
    let m = mesh().await;
    let purchase = &m.purchase;
    let post = async |path: String, body: Value| ok(purchase, Method::POST, &path, body).await;
    // Received in two deliveries; received in part and closed; cancelled; left a draft.
    let received = order(&m, "100").await;
    let closed = order(&m, "50").await;
    let cancelled = order(&m, "10").await;
    order(&m, "5").await;
    for po in [&received, &closed] {
        post(format!("/api/v1/purchase-orders/{po}/approve"), json!(null)).await;
    }
    let grn = |po: &str, quantity: &str, batch: &str| {
        (
            format!("/api/v1/purchase-orders/{po}/grns"),
            json!({"lines": [{"line_no": 1, "quantity_received": quantity, "batch": batch,
                "quantity_rejected": "1", "rejection_reason": "torn bag", "expiry_date": "2027-12-31"}]}),
        )
    };
    let mut receipts = Vec::new();
    for (path, body) in [
        grn(&received, "60", "R-1"),
        grn(&received, "40", "R-2"),
        grn(&closed, "20", "R-3"),
    ] {
        receipts.push(post(path, body).await["id"].clone());
    }
    // The first delivery billed at the order's price (matched), the second above it
    // (held, then approved); part of the third sent back.
    let bill = |number: &str, grn: &Value, quantity: &str, price: i64| {
        json!({"vendor_id": m.vendor, "vendor_invoice_number": number,
            "invoice_date": chrono::Utc::now().date_naive(), "grn_ids": [grn],
            "lines": [{"product_id": m.rice, "quantity": quantity, "unit_price_minor": price}]})
    };
    let matched = post(
        "/api/v1/purchase-invoices".to_owned(),
        bill("KRM/1", &receipts[0], "60", 45_00),
    )
    .await;
    assert_eq!(matched["status"], "matched", "{matched}");
    let held = post(
        "/api/v1/purchase-invoices".to_owned(),
        bill("KRM/2", &receipts[1], "40", 52_00),
    )
    .await;
    assert_eq!(held["status"], "held", "{held}");
    post(
        format!(
            "/api/v1/purchase-invoices/{}/approve",
            held["id"].as_str().unwrap()
        ),
        json!(null),
    )
    .await;
    post(
        "/api/v1/purchase-returns".to_owned(),
        json!({"grn_id": receipts[2], "reason": "weevils",
            "lines": [{"product_id": m.rice, "quantity": "5"}]}),
    )
    .await;
    post(
        format!("/api/v1/purchase-orders/{closed}/close"),
        json!({"reason": "the rest is not coming"}),
    )
    .await;
    post(
        format!("/api/v1/purchase-orders/{cancelled}/cancel"),
        json!({"reason": "ordered twice"}),
    )
    .await;
    m.stop.cancel();
    relay_outbox_to(&purchase.database, &purchase.owner, &m.events).await;

    let replayed = replay::<PurchaseFold>(purchase, &m.events).await;
    assert!(
        replayed.differences.is_empty(),
        "{:?}",
        replayed.differences
    );
    let rows: HashMap<String, i64> = replayed.rows.into_iter().collect();
    assert_eq!(
        rows,
        HashMap::from([
            ("purchase_orders".to_owned(), 4),
            ("po_lines".to_owned(), 4),
            ("grns".to_owned(), 3),
            ("grn_lines".to_owned(), 3),
            ("purchase_invoices".to_owned(), 2),
            ("invoice_lines".to_owned(), 2),
            ("invoice_allocations".to_owned(), 2),
            ("purchase_returns".to_owned(), 1),
        ])
    );

    // A receipt recorded behind the events' back is found, and the live rows stay.
    let mut tx = db::begin_for_tenant(&purchase.owner, purchase.tenant)
        .await
        .unwrap();
    sqlx::query("UPDATE po_lines SET quantity_received = quantity_received + 1 WHERE po_id = $1")
        .bind(Uuid::parse_str(&closed).unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let drifted = replay::<PurchaseFold>(purchase, &m.events).await;
    assert_eq!(
        drifted.differences,
        vec!["po_lines: 1 rows only in the live table, 1 only in the rebuilt one".to_owned()]
    );
    let order = call(
        purchase,
        Method::GET,
        &format!("/api/v1/purchase-orders/{closed}"),
        None,
    )
    .await;
    assert_eq!(order.body["lines"][0]["received"], "21");
}
