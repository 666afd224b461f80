//! A service's own tables are a cache of its own events: `bazaar replay <service>` folds
//! the service's topic from the first offset into fresh tables, through the same SQL the
//! handlers write with, and finds them equal to the live ones; a live row changed behind
//! the events' back is found.

use crate::support::mesh::{call, ok, relay_outbox_to, replay, store_opened, topic, Tenant};
use axum::http::Method;
use bazaar_catalog::documents::CatalogFold;
use bazaar_inventory::{documents::InventoryFold, snapshots::InventorySnapshots};
use bazaar_partners::documents::PartnersFold;
use bazaar_platform::{consumer, db, http::call_with, service::DocumentFold, testing::TestService};
use bazaar_sales::{documents::SalesFold, references::SalesReferences};
use serde_json::{json, Value};
use std::collections::HashMap;
use uuid::Uuid;

/// Relays `service`'s outbox to a topic of its own and replays it with `F`: no table
/// differs and each holds the rows `expected`. Then a live row changed by `drift` (SQL
/// under the service's tenant) is found in `drifted` and nowhere else.
async fn replays_and_finds_drift<F: DocumentFold>(
    service: &TestService,
    expected: &[(&str, i64)],
    drift: &str,
    drifted: &str,
) {
    let events = topic(3).await;
    relay_outbox_to(&service.database, &service.owner, &events).await;
    let replayed = replay::<F>(service, &events).await;
    assert!(
        replayed.differences.is_empty(),
        "{:?}",
        replayed.differences
    );
    let rows: HashMap<String, i64> = replayed.rows.into_iter().collect();
    let expected: HashMap<String, i64> = expected
        .iter()
        .map(|(table, n)| ((*table).to_owned(), *n))
        .collect();
    assert_eq!(rows, expected);

    let mut tx = db::begin_for_tenant(&service.owner, service.tenant)
        .await
        .unwrap();
    sqlx::query(drift).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let found = replay::<F>(service, &events).await;
    assert_eq!(
        found.differences,
        vec![format!(
            "{drifted}: 1 rows only in the live table, 1 only in the rebuilt one"
        )]
    );
}

fn inr(minor: i64) -> Value {
    json!({"amount_minor": minor, "currency": "INR"})
}

/// A catalog's week: a category tree, products with barcodes and a variant, a product
/// described again, repriced and archived, a barcode generated, and a file imported
/// that creates and updates products and categories.
#[tokio::test(flavor = "multi_thread")]
async fn catalog_replays_from_its_events_to_the_same_rows() {
    let t = Tenant::new();
    let catalog = t.start(&bazaar_catalog::DESCRIPTOR).await;
    let post = async |path: &str, body: Value| ok(&catalog, Method::POST, path, body).await;

    let staples = post("/api/v1/categories", json!({"name": "Staples"})).await;
    let rice = post(
        "/api/v1/categories",
        json!({"name": "Rice", "parent_id": staples["id"]}),
    )
    .await;
    let basmati = post(
        "/api/v1/products",
        json!({"sku": "RICE-5", "name": "Basmati 5 kg", "unit": "kg", "hsn_code": "1006",
            "gst_rate": "5", "mrp": inr(650_00), "selling_price": inr(599_50),
            "tax_inclusive": true, "category_id": rice["id"], "reorder_level": "10.5",
            "barcodes": ["8901030865275"]}),
    )
    .await;
    let shirt = post(
        "/api/v1/products",
        json!({"sku": "SHIRT", "name": "Shirt", "unit": "piece", "gst_rate": "12",
            "mrp": inr(999_00), "selling_price": inr(999_00), "tax_inclusive": true}),
    )
    .await;
    post(
        "/api/v1/products",
        json!({"sku": "SHIRT-L", "name": "Shirt, large", "unit": "piece", "gst_rate": "12",
            "mrp": inr(999_00), "selling_price": inr(999_00), "tax_inclusive": true,
            "variant_of": shirt["id"], "attributes": {"size": "L"}}),
    )
    .await;
    let basmati = basmati["id"].as_str().unwrap();
    ok(
        &catalog,
        Method::PATCH,
        &format!("/api/v1/products/{basmati}"),
        json!({"name": "Basmati rice 5 kg", "brand": "India Gate", "reorder_level": "12"}),
    )
    .await;
    ok(
        &catalog,
        Method::PUT,
        &format!("/api/v1/products/{basmati}/price"),
        json!({"mrp": inr(660_00), "selling_price": inr(610_00)}),
    )
    .await;
    post(&format!("/api/v1/products/{basmati}/barcodes"), json!({})).await;
    let shirt = shirt["id"].as_str().unwrap();
    post(&format!("/api/v1/products/{shirt}/archive"), json!(null)).await;
    let csv = "sku,name,brand,category,unit,hsn_code,gst_rate,mrp,selling_price,reorder_level,barcodes\n\
        RICE-5,Basmati rice 5 kg,India Gate,Staples / Rice,kg,1006,5,660.00,605.00,12,8901030865275\n\
        TEA-250,Assam tea 250 g,Brahmaputra,Beverages / Tea,piece,0902,5,180,165,24,036000291452\n";
    let imported = call_with(
        &catalog.app,
        Method::POST,
        "/api/v1/products/bulk-import?mode=all-or-nothing",
        Some(&catalog.admin),
        Some(("text/csv", csv.as_bytes().to_vec())),
        &[],
        std::net::IpAddr::from([10, 0, 0, 1]),
    )
    .await;
    assert!(imported.status.is_success(), "{}", imported.body);
    assert_eq!(
        (
            imported.body["created"].as_u64(),
            imported.body["updated"].as_u64()
        ),
        (Some(1), Some(1))
    );

    let expected = [("categories", 4), ("products", 4), ("barcodes", 3)];

    // A price set behind the events' back is found, and the live row stays.
    replays_and_finds_drift::<CatalogFold>(
        &catalog,
        &expected,
        "UPDATE products SET selling_price_minor = 1 WHERE sku = 'TEA-250'",
        "products",
    )
    .await;
    let tea = call(&catalog, Method::GET, "/api/v1/products?sku=TEA-250", None).await;
    assert_eq!(tea.body[0]["selling_price"]["amount_minor"], 1);
}

/// Partners' week: customers with addresses, changed and given credit; vendors with
/// contacts and bank details, changed; payments each way.
#[tokio::test(flavor = "multi_thread")]
async fn partners_replay_from_their_events_to_the_same_rows() {
    let t = Tenant::new();
    let partners = t.start(&bazaar_partners::DESCRIPTOR).await;
    let post = async |path: &str, body: Value| ok(&partners, Method::POST, path, body).await;
    let patch = async |path: &str, body: Value| ok(&partners, Method::PATCH, path, body).await;
    let address = |state: &str, line2: Option<&str>| {
        json!({"line1": "12 MG Road", "line2": line2, "city": "Bengaluru", "state_code": state,
            "pincode": "560001"})
    };

    let shop = post(
        "/api/v1/customers",
        json!({"name": "Corner Shop", "phone": "9845012345", "email": "shop@example.com",
            "billing_address": address("29", Some("Near the temple")),
            "shipping_address": address("29", None), "customer_group": "wholesale",
            "credit_limit": inr(5_000_00), "payment_terms_days": 30}),
    )
    .await;
    let shop = shop["id"].as_str().unwrap();
    post(
        "/api/v1/customers",
        json!({"name": "Walk-in", "phone": "9845012346"}),
    )
    .await;
    patch(
        &format!("/api/v1/customers/{shop}"),
        json!({"shipping_address": address("29", Some("Back gate")), "payment_terms_days": 45}),
    )
    .await;
    let mills = post(
        "/api/v1/vendors",
        json!({"name": "Karnataka Rice Mills", "gstin": "27AAPFU0939F1ZV",
            "contacts": [{"name": "Ravi", "phone": "9876543210"}], "payment_terms_days": 45,
            "bank": {"account_number": "50100123456789", "ifsc": "hdfc0001234", "bank_name": "HDFC"}}),
    )
    .await;
    let mills = mills["id"].as_str().unwrap();
    post(
        "/api/v1/vendors",
        json!({"name": "Local Dairy", "state_code": "29"}),
    )
    .await;
    patch(
        &format!("/api/v1/vendors/{mills}"),
        json!({"contacts": [{"name": "Ravi", "phone": "9876543210"},
            {"name": "Accounts", "email": "accounts@mills.example"}],
            "bank": {"account_number": "50100987654321", "ifsc": "ICIC0001234"}}),
    )
    .await;
    post(
        &format!("/api/v1/customers/{shop}/payments"),
        json!({"amount": inr(2_000_00), "mode": "upi", "reference": "UTR123"}),
    )
    .await;
    post(
        &format!("/api/v1/vendors/{mills}/payments"),
        json!({"amount": inr(10_000_00), "mode": "bank_transfer", "paid_on": "2026-12-01"}),
    )
    .await;

    let expected = [("customers", 2), ("vendors", 2), ("payments", 2)];
    // The account number stays off the topic and in the service.
    let vendor = call(
        &partners,
        Method::GET,
        &format!("/api/v1/vendors/{mills}"),
        None,
    )
    .await;
    assert_eq!(vendor.body["bank"]["account_number"], "XXXXXXXXXX4321");
    assert_eq!(vendor.body["bank"]["ifsc"], "ICIC0001234");

    // A credit limit raised behind the events' back is found.
    replays_and_finds_drift::<PartnersFold>(
        &partners,
        &expected,
        "UPDATE customers SET credit_limit_minor = 9999900 WHERE phone = '+919845012345'",
        "customers",
    )
    .await;
}

/// Inventory's week: a warehouse and a store (which may sell below zero), opening stock
/// in batches, a write-off, a transfer received in part and closed short, another
/// received whole, a count, holds released and left to lapse.
#[tokio::test(flavor = "multi_thread")]
async fn inventory_replays_from_its_events_to_the_same_rows() {
    let t = Tenant::new();
    let inventory = t.start(&bazaar_inventory::DESCRIPTOR).await;
    let post = async |path: &str, body: Value| ok(&inventory, Method::POST, path, body).await;
    let products = [("RICE-1", 3), ("SOAP-1", 0)].map(|(sku, decimals)| {
        let facts = bazaar_inventory::store::ProductFacts {
            id: Uuid::now_v7(),
            sku: sku.to_owned(),
            unit_decimals: decimals,
            currency: "INR".to_owned(),
            reorder_level: None,
        };
        (facts.id, facts)
    });
    let mut tx = db::begin_for_tenant(&inventory.owner, inventory.tenant)
        .await
        .unwrap();
    for (_, facts) in &products {
        bazaar_inventory::store::upsert_product(&mut tx, inventory.tenant, facts)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let [(rice, _), (soap, _)] = &products;
    let shop = Uuid::new_v4();
    store_opened(&inventory, &InventorySnapshots::default(), shop).await;

    let warehouse = post(
        "/api/v1/inventory/locations",
        json!({"code": "WH-1", "name": "Warehouse", "kind": "warehouse"}),
    )
    .await["id"]
        .clone();
    let store = post(
        "/api/v1/inventory/locations",
        json!({"code": "BLR-01", "name": "Store", "kind": "store", "store_id": shop,
            "allows_negative_stock": true}),
    )
    .await["id"]
        .clone();
    for (product, quantity, cost, batch, expiry) in [
        (rice, "30.5", 40_00, "R-OLD", "2027-01-31"),
        (rice, "40", 45_00, "R-NEW", "2027-06-30"),
        (soap, "100", 25_00, "", ""),
    ] {
        let mut body = json!({"location_id": warehouse, "product_id": product, "quantity": quantity,
            "reason": "opening_stock", "unit_cost": inr(cost)});
        if !batch.is_empty() {
            body["batch"] = json!(batch);
            body["expiry_date"] = json!(expiry);
        }
        post("/api/v1/inventory/adjust", body).await;
    }
    post(
        "/api/v1/inventory/adjust",
        json!({"location_id": warehouse, "sku": "SOAP-1", "quantity": "4", "reason": "damage",
            "note": "crushed pallet"}),
    )
    .await;
    let short = post(
        "/api/v1/inventory/transfer",
        json!({"from_location_id": warehouse, "to_location_id": store, "reference": "TR-1",
            "lines": [{"product_id": rice, "quantity": "35"}, {"sku": "SOAP-1", "quantity": "20"}]}),
    )
    .await["id"]
        .clone();
    let receive = |transfer: &Value| {
        format!(
            "/api/v1/inventory/transfers/{}/receive",
            transfer.as_str().unwrap()
        )
    };
    post(
        &receive(&short),
        json!({"lines": [{"product_id": rice, "quantity": "32.5"}]}),
    )
    .await;
    post(
        &receive(&short),
        json!({"lines": [{"sku": "SOAP-1", "quantity": "18"}], "close": true}),
    )
    .await;
    let whole = post(
        "/api/v1/inventory/transfer",
        json!({"from_location_id": warehouse, "to_location_id": store,
            "lines": [{"sku": "SOAP-1", "quantity": "10"}]}),
    )
    .await["id"]
        .clone();
    post(
        &receive(&whole),
        json!({"lines": [{"sku": "SOAP-1", "quantity": "10"}]}),
    )
    .await;
    post(
        "/api/v1/inventory/reconcile",
        json!({"location_id": store, "lines": [{"product_id": rice, "counted": "30"},
            {"sku": "SOAP-1", "counted": "27"}]}),
    )
    .await;
    let hold = |quantity: &str, ttl: u32| {
        json!({"location_id": store, "reference": "POS-1", "ttl_seconds": ttl,
            "lines": [{"sku": "SOAP-1", "quantity": quantity}, {"product_id": rice, "quantity": "1.25"}]})
    };
    let released = post("/api/v1/inventory/reservations", hold("2", 900)).await;
    post(
        &format!(
            "/api/v1/inventory/reservations/{}/release",
            released["id"].as_str().unwrap()
        ),
        json!(null),
    )
    .await;
    post("/api/v1/inventory/reservations", hold("1", 1)).await;

    let expected = [
        ("locations", 2),
        // 3 opening, 1 write-off; on the transfers 3 + 1 out and 3 + 1 in (the rice
        // left and arrived from two batches); 2 counted.
        ("stock_movements", 14),
        ("transfers", 2),
        ("transfer_lines", 4),
        ("reservations", 2),
        ("reservation_lines", 4),
    ];

    // A hold closed behind the events' back is found.
    replays_and_finds_drift::<InventoryFold>(
        &inventory,
        &expected,
        "UPDATE reservations SET status = 'consumed' WHERE status = 'active'",
        "reservations",
    )
    .await;
}

/// A till's day: a cash sale with change, a sale below the catalog's price on the
/// admin's authority, one voided, part of the first returned, bills held and resumed,
/// discarded and left to expire, and the day closed with its Z report.
#[tokio::test(flavor = "multi_thread")]
async fn sales_replay_from_their_events_to_the_same_rows() {
    let t = Tenant::new();
    let inventory = t.start(&bazaar_inventory::DESCRIPTOR).await;
    let partners = t.start(&bazaar_partners::DESCRIPTOR).await;
    let sales = t.sales(&inventory, &partners, None).await;
    let (tenant, store, soap) = (t.id, Uuid::new_v4(), Uuid::now_v7());
    store_opened(&inventory, &InventorySnapshots::default(), store).await;
    let location = ok(
        &inventory,
        Method::POST,
        "/api/v1/inventory/locations",
        json!({"code": "BLR-01", "name": "Indiranagar", "kind": "store", "store_id": store}),
    )
    .await;
    let mut tx = db::begin_for_tenant(&inventory.owner, tenant)
        .await
        .unwrap();
    let facts = bazaar_inventory::store::ProductFacts {
        id: soap,
        sku: "SOAP-1".to_owned(),
        unit_decimals: 0,
        currency: "INR".to_owned(),
        reorder_level: None,
    };
    bazaar_inventory::store::upsert_product(&mut tx, tenant, &facts)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    ok(
        &inventory,
        Method::POST,
        "/api/v1/inventory/adjust",
        json!({"location_id": location["id"], "product_id": soap, "quantity": "50",
            "reason": "opening_stock", "unit_cost": inr(50_00)}),
    )
    .await;
    let feed = async |event_type: &str, payload: Value| {
        let event = bazaar_platform::testing::event(event_type, tenant, &payload);
        assert!(
            consumer::apply(&sales.owner, &SalesReferences::default(), &event)
                .await
                .unwrap()
        );
    };
    feed(
        "catalog.product.created",
        json!({"tenant_id": tenant, "product_id": soap, "sku": "SOAP-1", "name": "Neem soap",
            "description": null, "brand": null, "category_id": null, "variant_of": null,
            "attributes": {}, "unit": "piece", "unit_decimals": 0, "hsn_code": "3401",
            "gst_rate_bp": 1800, "cess_rate_bp": 0, "currency": "INR", "mrp_minor": 118_00,
            "selling_price_minor": 118_00, "tax_inclusive": true, "reorder_level": null,
            "created_at": 0}),
    )
    .await;
    feed(
        "identity.store.opened",
        json!({"tenant_id": tenant, "store_id": store, "code": "BLR-01", "name": "Indiranagar",
            "opened_at": 0}),
    )
    .await;
    ok(
        &sales,
        Method::PUT,
        &format!("/api/v1/pos/stores/{store}"),
        json!({"code": "BLR1", "state_code": "29", "gstin": "29AAGCB7383J1Z4",
            "location_id": location["id"]}),
    )
    .await;
    let post = async |path: &str, body: Value| ok(&sales, Method::POST, path, body).await;
    let sale = |quantity: &str, price: Option<i64>, payments: Value| {
        let mut line = json!({"product_id": soap, "quantity": quantity});
        if let Some(price) = price {
            line["unit_price_minor"] = json!(price);
        }
        json!({"id": Uuid::new_v4(), "store_id": store, "terminal_id": "T1", "lines": [line],
            "payments": payments})
    };

    let change = post(
        "/api/v1/pos/invoices",
        sale(
            "2",
            None,
            json!([{"mode": "cash", "amount_minor": 236_00, "tendered_minor": 300_00}]),
        ),
    )
    .await;
    let below = post(
        "/api/v1/pos/invoices",
        sale(
            "1",
            Some(100_00),
            json!([{"mode": "upi", "amount_minor": 100_00, "reference": "UTR9"}]),
        ),
    )
    .await;
    assert_eq!(below["exceptions"], 1, "{below}");
    let twice = post(
        "/api/v1/pos/invoices",
        sale(
            "1",
            None,
            json!([{"mode": "card", "amount_minor": 118_00, "reference": "SLIP-7"}]),
        ),
    )
    .await;
    post(
        &format!(
            "/api/v1/pos/invoices/{}/void",
            twice["id"].as_str().unwrap()
        ),
        json!({"reason": "rang up twice"}),
    )
    .await;
    post(
        "/api/v1/pos/returns",
        json!({"id": Uuid::new_v4(), "invoice_id": change["id"], "terminal_id": "T1",
            "lines": [{"line_no": 1, "quantity": "1"}], "refund_mode": "cash",
            "reason": "changed mind"}),
    )
    .await;
    let hold = |note: &str| {
        json!({"store_id": store, "terminal_id": "T1", "note": note,
            "lines": [{"sku": "SOAP-1", "quantity": "2"}, {"product_id": soap, "quantity": "1"}]})
    };
    let resumed = post("/api/v1/pos/held-bills", hold("back for milk")).await;
    let discarded = post("/api/v1/pos/held-bills", hold("walked out")).await;
    post("/api/v1/pos/held-bills", hold("never came back")).await;
    post(
        &format!(
            "/api/v1/pos/held-bills/{}/resume",
            resumed["id"].as_str().unwrap()
        ),
        json!(null),
    )
    .await;
    let discard = call(
        &sales,
        Method::DELETE,
        &format!(
            "/api/v1/pos/held-bills/{}",
            discarded["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert!(discard.status.is_success(), "{}", discard.body);
    let z = post(
        "/api/v1/pos/day-close",
        json!({"store_id": store, "terminal_id": "T1", "counted_cash_minor": 182_00}),
    )
    .await;
    assert_eq!(z["held_bills_expired"], 1, "{z}");

    let expected = [
        ("invoices", 3),
        ("invoice_lines", 3),
        ("invoice_payments", 3),
        ("invoice_exceptions", 1),
        ("sales_returns", 1),
        ("sales_return_lines", 1),
        ("held_bills", 3),
        ("day_closes", 1),
    ];

    // Change given that the events never saw is found.
    replays_and_finds_drift::<SalesFold>(
        &sales,
        &expected,
        "UPDATE invoice_payments SET tendered_minor = 50000 WHERE mode = 'cash'",
        "invoice_payments",
    )
    .await;
}
