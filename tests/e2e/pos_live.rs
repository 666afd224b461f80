//! The live POS WebSocket over real Kafka: a store's screen receives its invoices as
//! their events reach the topic, and a user who does not reach the store is refused.

use std::time::Duration;

use crate::support::mesh::{publish, settings, topic};
use bazaar_platform::{
    auth::{Role, Stores},
    testing::{send, TestIssuer, TestService},
};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn a_store_s_screen_receives_its_invoices_as_they_are_issued() {
    let before = live_feed_groups().await;
    // The feed follows a topic of this test's own: its invoice is nobody else's event.
    let events = topic(6).await;
    let mut config = settings();
    config.pos_live_topics = vec![events.clone()];
    let (issuer, tenant) = (TestIssuer::new(), Uuid::new_v4());
    let sales = TestService::start_with(
        "sales",
        bazaar_sales::migrator(),
        bazaar_sales::router,
        &issuer,
        tenant,
        config,
    )
    .await;
    let store = Uuid::new_v4();
    crate::support::mesh::store_opened(
        &sales,
        &bazaar_sales::references::SalesReferences::default(),
        store,
    )
    .await;
    let reply = send(&sales.app, axum::http::Method::PUT, &format!("/api/v1/pos/stores/{store}"), Some(&sales.admin),
        Some(json!({"code": "BLR1", "state_code": "29", "gstin": null, "location_id": Uuid::new_v4()})), &[]).await;
    assert!(reply.status.is_success(), "{}", reply.body);
    let base = sales.listen().await.replace("http://", "ws://");

    let connect = |store: Uuid, token: String| {
        let mut request = format!("{base}/ws/pos?store_id={store}")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    let cashier = issuer.token_for(tenant, &[Role::Cashier], Stores::Only(vec![store]));
    let elsewhere = connect(Uuid::new_v4(), cashier.clone()).await;
    assert!(elsewhere.is_err(), "another store's screen is refused");
    // An every-store owner naming a store the tenant does not have: 404, not a socket.
    let owner = issuer.token(tenant, &[Role::Owner]);
    match connect(Uuid::new_v4(), owner).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 404)
        }
        other => panic!("a socket for no store: {:?}", other.map(|_| ())),
    }
    let (mut socket, _) = connect(store, cashier).await.expect("the socket opens");

    // The feed starts at the latest offset once it joins: publish until the screen hears.
    let number = format!("BLR1T126{:06}", rand_serial());
    let issued = json!({"tenant_id": tenant, "invoice_id": Uuid::new_v4(), "invoice_number": number,
        "store_id": store, "terminal_id": "T1", "cashier_id": Uuid::new_v4(), "customer_id": null,
        "reservation_id": null, "offline": false, "currency": "INR", "place_of_supply": "29", "lines": [],
        "payments": [{"mode": "cash", "amount_minor": 118_00, "reference": null}], "subtotal_minor": 118_00,
        "discount_minor": 0, "tax_minor": 0, "round_off_minor": 0, "total_minor": 118_00, "issued_at": 0});
    let mut heard: Option<Value> = None;
    for _ in 0..40 {
        publish(
            &events,
            "sales.invoice.issued",
            tenant,
            Uuid::new_v4(),
            &issued,
        )
        .await;
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_millis(750), socket.next()).await
        {
            heard = Some(serde_json::from_str(&text).unwrap());
            break;
        }
    }
    let message = heard.expect("the screen hears the invoice");
    assert_eq!(message["type"], "invoice.issued");
    assert_eq!(message["number"], number.as_str());
    assert_eq!(message["total"]["amount_minor"], 118_00);

    // Each serving process reads every partition itself, in no consumer group: none is
    // left on the broker per process started.
    let after = live_feed_groups().await;
    let new: Vec<_> = after.difference(&before).collect();
    assert!(
        new.is_empty(),
        "the live feed left groups on the broker: {new:?}"
    );
}

/// The consumer groups on the broker that a live POS feed could have made.
async fn live_feed_groups() -> std::collections::HashSet<String> {
    use rdkafka::consumer::Consumer;
    let broker: rdkafka::consumer::BaseConsumer =
        bazaar_platform::kafka::client_config(&settings(), "test-groups")
            .create()
            .unwrap();
    tokio::task::spawn_blocking(move || {
        let list = broker
            .fetch_group_list(None, Duration::from_secs(10))
            .unwrap();
        list.groups()
            .iter()
            .map(|g| g.name().to_owned())
            .filter(|name| name.starts_with("pos-live"))
            .collect()
    })
    .await
    .unwrap()
}

fn rand_serial() -> u32 {
    Uuid::new_v4().as_u128() as u32 % 1_000_000
}
