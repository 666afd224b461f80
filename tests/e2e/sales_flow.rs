//! A sale across the mesh, over real Kafka: the product (catalog) and the customer
//! (partners) reach the till from the topic; a credit sale reserves stock over HTTP and
//! issues its invoice; the invoice's event takes the stock down in inventory, puts the
//! sale and its loyalty points on the customer's ledger in partners, and reaches the
//! store's live POS WebSocket, followed by inventory's low-stock alert.

use axum::http::Method;
use bazaar_inventory::snapshots::InventorySnapshots;
use bazaar_partners::ledgers::PartnerLedgers;
use std::time::Duration;

use crate::support::mesh::{
    call, ok, publish, relay_outbox_to, run, store_opened, topic, until, Tenant,
};
use bazaar_platform::{
    auth::{Role, Stores},
    testing::{TestIssuer, TestService},
};
use bazaar_sales::references::SalesReferences;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn a_credit_sale_reaches_inventory_the_customer_s_ledger_and_the_store_s_screen() {
    let t = Tenant::new();
    let (issuer, tenant) = (&t.issuer, t.id);
    let catalog = t.start(&bazaar_catalog::DESCRIPTOR).await;
    let inventory = t.start(&bazaar_inventory::DESCRIPTOR).await;
    let partners = t.start(&bazaar_partners::DESCRIPTOR).await;
    let events = topic(3).await;
    let sales = t
        .sales(&inventory, &partners, Some(vec![events.clone()]))
        .await;

    let soap = ok(
        &catalog,
        Method::POST,
        "/api/v1/products",
        json!({"sku": "SOAP-1", "name": "Neem soap",
        "unit": "piece", "gst_rate": "18", "mrp": {"amount_minor": 118_00, "currency": "INR"},
        "selling_price": {"amount_minor": 118_00, "currency": "INR"}, "tax_inclusive": true,
        "reorder_level": "8", "barcodes": ["8901030865275"]}),
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
    store_opened(&inventory, &InventorySnapshots::default(), store_id).await;
    let location = ok(
        &inventory,
        Method::POST,
        "/api/v1/inventory/locations",
        json!({"code": "BLR-01", "name": "Indiranagar", "kind": "store", "store_id": store_id}),
    )
    .await;
    store_opened(&sales, &SalesReferences::default(), store_id).await;
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

    let screen = store_screen(&sales, issuer, tenant, store_id).await;
    let mut screen = live(screen, &events, tenant, location["id"].as_str().unwrap()).await;

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

    // The store's screen: the invoice, then the alert as 7 left fell below the
    // reorder level of 8.
    relay_outbox_to(&inventory.database, &inventory.owner, &events).await;
    let number = invoice["number"].as_str().unwrap();
    let (mut issued, mut low) = (false, false);
    while !(issued && low) {
        let message = hear(&mut screen, Duration::from_secs(15))
            .await
            .expect("the invoice and the alert on the store's screen");
        issued |= message["type"] == "invoice.issued" && message["number"] == number;
        low |= message["type"] == "low_stock"
            && message["sku"] == "SOAP-1"
            && message["available"] == "7"
            && message["reorder_level"] == "8";
    }
    stop.cancel();
}

type Screen =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A cashier's live POS WebSocket for `store`.
async fn store_screen(
    sales: &TestService,
    issuer: &TestIssuer,
    tenant: Uuid,
    store: Uuid,
) -> Screen {
    let base = sales.listen().await.replace("http://", "ws://");
    let mut request = format!("{base}/ws/pos?store_id={store}")
        .into_client_request()
        .unwrap();
    let cashier = issuer.token_for(tenant, &[Role::Cashier], Stores::Only(vec![store]));
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {cashier}").parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The feed follows the topic from the latest offset once it has joined its group, so
/// alerts on a product that does not exist are sent until the screen hears one; what the
/// test publishes after that is sure to reach it.
async fn live(mut screen: Screen, topic: &str, tenant: Uuid, location: &str) -> Screen {
    let probe = json!({"tenant_id": tenant, "location_id": location, "product_id": Uuid::new_v4(),
        "sku": "PROBE", "available": "0", "reorder_level": "1", "detected_at": 0});
    for _ in 0..40 {
        publish(topic, "inventory.low_stock", tenant, Uuid::new_v4(), &probe).await;
        if hear(&mut screen, Duration::from_millis(750))
            .await
            .is_some()
        {
            return screen;
        }
    }
    panic!("the store's screen never heard the feed");
}

/// The screen's next message, if one comes within `wait`.
async fn hear(screen: &mut Screen, wait: Duration) -> Option<Value> {
    loop {
        match tokio::time::timeout(wait, screen.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return serde_json::from_str(&text).ok(),
            Ok(Some(Ok(_))) => {}
            _ => return None,
        }
    }
}
