//! One event through a real Kafka broker, decoded the way an integration outside Bazaar
//! would: with the `.avsc` files and nothing else.

use std::{path::Path, time::Duration};

use bazaar_platform::{kafka, Settings};
use bazaar_schemas::{AvroValue, Catalogue, CloudEvent};
use rdkafka::{
    admin::{AdminOptions, NewTopic, TopicReplication},
    producer::FutureRecord,
    Message,
};
use serde_json::json;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn an_event_produced_with_cloudevent_headers_decodes_with_only_the_schema_files() {
    let settings = Settings::from_env().unwrap();
    let topic = format!("test_{}.events.v1", Uuid::new_v4().simple());
    let admin = kafka::admin(&settings, "test-admin").unwrap();
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .unwrap();
    assert!(created[0].is_ok(), "{created:?}");

    // The producer side uses the catalogue compiled into the binary.
    let schema = Catalogue::embedded()
        .get("catalog.product.created", 1)
        .unwrap();
    let tenant = Uuid::new_v4();
    let product_id = Uuid::new_v4();
    let payload = json!({
        "tenant_id": tenant, "product_id": product_id, "sku": "RICE-5KG",
        "name": "Sona masoori rice 5 kg", "description": null, "brand": null,
        "category_id": null, "variant_of": null, "attributes": {},
        "unit": "piece", "unit_decimals": 0, "hsn_code": "1006",
        "gst_rate_bp": 500, "cess_rate_bp": 0, "currency": "INR",
        "mrp_minor": 52_000, "selling_price_minor": 49_900, "tax_inclusive": true,
        "reorder_level": "10", "created_at": 1_790_000_000_000_i64,
    });
    let value = schema.encode(&payload).unwrap();
    let mut event = CloudEvent::new(schema, "catalog", &product_id.to_string(), tenant);
    event.traceparent = Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
    let producer = kafka::producer(&settings, "test-producer").unwrap();
    producer
        .send(
            FutureRecord::to(&topic)
                .key(&event.subject)
                .payload(&value)
                .headers(event.to_kafka_headers()),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(err, _)| err)
        .unwrap();

    let consumer = crate::support::mesh::reader(&settings, &topic);
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("the event arrives")
        .unwrap();

    // The consumer side: only the files.
    let files = Catalogue::from_dir(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/avro"
    )))
    .unwrap();
    let headers = CloudEvent::from_kafka_headers(message.headers().expect("headers")).unwrap();
    assert_eq!(headers.id, event.id);
    assert_eq!(headers.event_type, "catalog.product.created");
    assert_eq!(headers.dataschema, "catalog.product.created.v1");
    assert_eq!(headers.tenant, tenant);
    assert_eq!(headers.traceparent, event.traceparent);
    assert_eq!(message.key(), Some(product_id.to_string().as_bytes()));

    let (decoded_schema, decoded) = files.decode(message.payload().unwrap()).unwrap();
    assert_eq!(decoded_schema.dataschema(), headers.dataschema);
    let AvroValue::Record(fields) = decoded else {
        panic!("a record")
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(field("sku"), AvroValue::String("RICE-5KG".into()));
    assert_eq!(field("product_id"), AvroValue::Uuid(product_id));
    assert_eq!(field("selling_price_minor"), AvroValue::Long(49_900));

    admin
        .delete_topics(&[&topic], &AdminOptions::new())
        .await
        .unwrap();
}
