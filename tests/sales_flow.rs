//! A sale across the mesh, over real Kafka: the product (catalog) and the customer
//! (partners) reach the till from the topic; a credit sale reserves stock over HTTP and
//! issues its invoice; the invoice's event takes the stock down in inventory and puts
//! the sale and its loyalty points on the customer's ledger in partners. An offline sale of
//! more than the store had is taken and drives stock below zero.

// Amounts in paise are written rupees_paise (118_00 is ₹118.00).
#![allow(clippy::inconsistent_digit_grouping)]

mod support;

use axum::http::Method;
use bazaar_inventory::snapshots::InventorySnapshots;
use bazaar_partners::ledgers::PartnerLedgers;
use bazaar_platform::{
    consumer::{ConsumerRunner, Projection},
    testing::{send, Reply, TestIssuer, TestService},
    Settings,
};
use bazaar_sales::references::SalesReferences;
use serde_json::{json, Value};
use support::mesh::{relay_outbox_to, settings, topic, until};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

async fn call(service: &TestService, method: Method, path: &str, body: Option<Value>) -> Reply {
    send(&service.app, method, path, Some(&service.admin), body, &[]).await
}

async fn ok(service: &TestService, method: Method, path: &str, body: Value) -> Value {
    let reply = call(service, method, path, Some(body)).await;
    assert!(reply.status.is_success(), "{path}: {}", reply.body);
    reply.body
}

fn run<P: Projection>(projection: P, service: &TestService, stop: &CancellationToken) {
    let runner = ConsumerRunner::new(&settings(), service.owner.clone(), projection)
        .with_group(format!("test-{}", Uuid::new_v4().simple()));
    tokio::spawn(runner.run(stop.clone()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credit_sale_reaches_inventory_and_the_customer_s_ledger() {
    let (issuer, tenant) = (TestIssuer::new(), Uuid::new_v4());
    let start =
        |name, migrator, router| TestService::start_for(name, migrator, router, &issuer, tenant);
    let catalog = start(
        "catalog",
        bazaar_catalog::migrator(),
        bazaar_catalog::router,
    )
    .await;
    let inventory = start(
        "inventory",
        bazaar_inventory::migrator(),
        bazaar_inventory::router,
    )
    .await;
    let partners = start(
        "partners",
        bazaar_partners::migrator(),
        bazaar_partners::router,
    )
    .await;
    let mut config = Settings::from_env().unwrap();
    config.inventory_url = inventory.listen().await;
    config.partners_url = partners.listen().await;
    let sales = TestService::start_with(
        "sales",
        bazaar_sales::migrator(),
        bazaar_sales::router,
        &issuer,
        tenant,
        config,
    )
    .await;
    let events = topic(3).await;

    let soap = ok(
        &catalog,
        Method::POST,
        "/api/v1/products",
        json!({"sku": "SOAP-1", "name": "Neem soap",
        "unit": "piece", "gst_rate": "18", "mrp": {"amount_minor": 118_00, "currency": "INR"},
        "selling_price": {"amount_minor": 118_00, "currency": "INR"}, "tax_inclusive": true,
        "barcodes": ["8901030865275"]}),
    )
    .await;
    let customer = ok(
        &partners,
        Method::POST,
        "/api/v1/customers",
        json!({"name": "Asha", "phone": "9845012345",
        "credit_limit": {"amount_minor": 1_000_00, "currency": "INR"}, "payment_terms_days": 15}),
    )
    .await;
    let store_id = Uuid::new_v4();
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
    relay_outbox_to(&catalog.database, &catalog.owner, &events).await;
    relay_outbox_to(&partners.database, &partners.owner, &events).await;

    let stop = CancellationToken::new();
    run(
        InventorySnapshots::reading(vec![events.clone()]),
        &inventory,
        &stop,
    );
    run(
        PartnerLedgers::reading(vec![events.clone()]),
        &partners,
        &stop,
    );
    run(
        SalesReferences::reading(vec![events.clone()]),
        &sales,
        &stop,
    );

    // Opening stock once inventory knows the product from catalog's event.
    let stock = json!({"location_id": location["id"], "product_id": soap["id"], "quantity": "10",
        "reason": "opening_stock", "unit_cost": {"amount_minor": 60_00, "currency": "INR"}});
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

    // Three soaps on credit, scanned by barcode, once the till knows the product and
    // the customer.
    let sale = json!({"id": Uuid::new_v4(), "store_id": store_id, "terminal_id": "T1", "customer_id": customer["id"],
        "lines": [{"barcode": "8901030865275", "quantity": "3"}],
        "payments": [{"mode": "credit", "amount_minor": 354_00}]});
    let mut invoice = Value::Null;
    until("the till knows the product and the customer", async || {
        let reply = call(
            &sales,
            Method::POST,
            "/api/v1/pos/invoices",
            Some(sale.clone()),
        )
        .await;
        invoice = reply.body;
        reply.status.is_success()
    })
    .await;
    assert_eq!(invoice["total"]["amount_minor"], 354_00);
    relay_outbox_to(&sales.database, &sales.owner, &events).await;

    // Inventory: the reservation consumed, the stock down.
    let stock_path = format!(
        "/api/v1/inventory/stock?product_id={}",
        soap["id"].as_str().unwrap()
    );
    until("the stock goes down", async || {
        call(&inventory, Method::GET, &stock_path, None).await.body[0]["on_hand"] == "7"
    })
    .await;
    assert_eq!(
        call(&inventory, Method::GET, &stock_path, None).await.body[0]["reserved"],
        "0"
    );

    // Partners: the credit sale on the ledger, due in 15 days, and 3 points for ₹354.
    let customer_id = customer["id"].as_str().unwrap();
    until("the ledger", async || {
        let ledger = call(
            &partners,
            Method::GET,
            &format!("/api/v1/customers/{customer_id}/ledger"),
            None,
        )
        .await
        .body;
        ledger["balance"]["amount_minor"] == 354_00
    })
    .await;
    let ledger = call(
        &partners,
        Method::GET,
        &format!("/api/v1/customers/{customer_id}/ledger"),
        None,
    )
    .await
    .body;
    assert_eq!(ledger["entries"][0]["document_number"], invoice["number"]);
    let points = call(
        &partners,
        Method::GET,
        &format!("/api/v1/customers/{customer_id}/loyalty"),
        None,
    )
    .await
    .body;
    assert_eq!(points["points"], 3);
    stop.cancel();
}
