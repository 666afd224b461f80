//! The partner ledgers over real Kafka: credit sales and purchase invoices from the
//! topics, payments from partners' own outbox, each delivered twice and applied once;
//! then the ledgers are rebuilt from the earliest offset, equal the live ones, and a
//! drifted ledger is repaired.

// Amounts in paise are written rupees_paise (5_000_00 is ₹5,000.00).

use std::time::Duration;

use crate::support::mesh::{publish, relay_outbox_to, settings, topic, until};
use axum::http::Method;
use bazaar_partners::ledgers::{self, PartnerLedgers};
use bazaar_platform::{
    consumer::ConsumerRunner,
    db, rebuild,
    testing::{send, TestService},
};
use chrono::Utc;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

fn inr(minor: i64) -> Value {
    json!({"amount_minor": minor, "currency": "INR"})
}

#[tokio::test(flavor = "multi_thread")]
async fn ledgers_from_the_topics_rebuild_to_the_same_balances() {
    let settings = settings();
    let p = TestService::start(
        "partners",
        bazaar_partners::migrator(),
        bazaar_partners::router,
    )
    .await;
    let call = |method: Method, path: String, body: Option<Value>| {
        let (app, admin) = (p.app.clone(), p.admin.clone());
        async move {
            let reply = send(&app, method, &path, Some(&admin), body, &[]).await;
            assert!(reply.status.is_success(), "{path}: {}", reply.body);
            reply.body
        }
    };
    let customer = call(
        Method::POST,
        "/api/v1/customers".into(),
        Some(json!({"name": "Asha", "phone": "9845012345", "credit_limit": inr(50_000_00)})),
    )
    .await;
    let vendor = call(
        Method::POST,
        "/api/v1/vendors".into(),
        Some(json!({"name": "Mills", "state_code": "29"})),
    )
    .await;
    let (customer, vendor) = (
        customer["id"].as_str().unwrap().to_owned(),
        vendor["id"].as_str().unwrap().to_owned(),
    );
    call(
        Method::POST,
        format!("/api/v1/customers/{customer}/payments"),
        Some(json!({"amount": inr(1_000_00), "mode": "cash"})),
    )
    .await;
    call(
        Method::POST,
        format!("/api/v1/vendors/{vendor}/payments"),
        Some(json!({"amount": inr(20_000_00), "mode": "bank_transfer"})),
    )
    .await;

    // The test's own topic carries everything: partners' outbox and upstream events.
    let events = topic(3).await;
    relay_outbox_to(&p.database, &p.owner, &events).await;
    let now = Utc::now().timestamp_millis();
    let today = Utc::now().date_naive().to_string();
    let sale = json!({
        "tenant_id": p.tenant, "invoice_id": Uuid::new_v4(), "invoice_number": "BLR01T1-000007",
        "store_id": Uuid::new_v4(), "terminal_id": "T1", "cashier_id": Uuid::new_v4(),
        "customer_id": customer, "reservation_id": null, "offline": false, "currency": "INR",
        "place_of_supply": "29", "lines": [],
        "payments": [{"mode": "credit", "amount_minor": 4_500_00, "reference": null}],
        "subtotal_minor": 4_500_00, "discount_minor": 0, "tax_minor": 0, "round_off_minor": 0,
        "total_minor": 4_500_00, "issued_at": now});
    let invoice = json!({"tenant_id": p.tenant, "invoice_id": Uuid::new_v4(), "vendor_id": vendor,
        "vendor_invoice_number": "KRM/118", "invoice_date": today, "due_date": today,
        "grn_ids": [], "currency": "INR", "lines": [], "taxable_minor": 50_000_00, "tax_minor": 0,
        "total_minor": 50_000_00, "status": "matched", "recorded_at": now});
    let (sale_id, invoice_id) = (Uuid::new_v4(), Uuid::new_v4());
    for _ in 0..2 {
        publish(&events, "sales.invoice.issued", p.tenant, sale_id, &sale).await;
        publish(
            &events,
            "purchase.invoice.recorded",
            p.tenant,
            invoice_id,
            &invoice,
        )
        .await;
    }

    let stop = CancellationToken::new();
    let live = ConsumerRunner::new(
        &settings,
        p.owner.clone(),
        PartnerLedgers::reading(vec![events.clone()]),
    )
    .with_group(format!("test-{}", Uuid::new_v4().simple()));
    let running = tokio::spawn(live.run(stop.clone()));
    let ledger = |kind: &'static str, id: String| {
        call(Method::GET, format!("/api/v1/{kind}/{id}/ledger"), None)
    };
    until("the ledgers", async || {
        let c = ledger("customers", customer.clone()).await;
        let v = ledger("vendors", vendor.clone()).await;
        c["entries"].as_array().unwrap().len() == 2 && v["entries"].as_array().unwrap().len() == 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await; // the duplicates' chance to (not) apply
    stop.cancel();
    running.await.unwrap().unwrap();
    let customer_before = ledger("customers", customer.clone()).await;
    let vendor_before = ledger("vendors", vendor.clone()).await;
    assert_eq!(
        customer_before["balance"],
        inr(3_500_00),
        "{customer_before}"
    );
    assert_eq!(vendor_before["balance"], inr(30_000_00), "{vendor_before}");

    // The loyalty event the projection emitted goes to the topic too, like in production.
    relay_outbox_to(&p.database, &p.owner, &events).await;
    let rebuild = || {
        rebuild::rebuild(
            &settings,
            &p.owner,
            PartnerLedgers::reading(vec![events.clone()]),
            &ledgers::TABLES,
            Duration::from_secs(60),
        )
    };
    let rebuilt = rebuild().await.unwrap();
    assert!(rebuilt.differences.is_empty(), "{:?}", rebuilt.differences);
    assert_eq!(
        rebuilt.rows,
        [
            ("ledger_entries".to_owned(), 4),
            ("loyalty_entries".to_owned(), 1)
        ]
    );
    assert_eq!(ledger("customers", customer.clone()).await, customer_before);
    assert_eq!(ledger("vendors", vendor.clone()).await, vendor_before);
    let emitted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE event_type = 'partners.loyalty.earned'",
    )
    .fetch_one(&p.owner)
    .await
    .unwrap();
    assert_eq!(
        emitted, 1,
        "the rebuild re-derived the points without announcing them again"
    );

    // A ledger that drifted from its events is found and repaired.
    let mut tx = db::begin_for_tenant(&p.owner, p.tenant).await.unwrap();
    sqlx::query("DELETE FROM ledger_entries WHERE document_type = 'payment'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let repaired = rebuild().await.unwrap();
    assert_eq!(
        repaired.differences,
        ["ledger_entries: 0 rows only in the live table, 2 only in the rebuilt one"]
    );
    assert_eq!(ledger("customers", customer.clone()).await, customer_before);
}
