use std::{collections::HashMap, path::Path};

use bazaar_schemas::{AvroValue, Catalogue, CloudEvent, HeaderError, SchemaError};
use rdkafka::message::{Header, OwnedHeaders};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

fn avro_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/avro"))
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct ProductCreated {
    tenant_id: Uuid,
    product_id: Uuid,
    sku: String,
    name: String,
    description: Option<String>,
    brand: Option<String>,
    category_id: Option<Uuid>,
    variant_of: Option<Uuid>,
    attributes: HashMap<String, String>,
    unit: String,
    unit_decimals: i32,
    hsn_code: Option<String>,
    gst_rate_bp: i32,
    cess_rate_bp: i32,
    currency: String,
    mrp_minor: i64,
    selling_price_minor: i64,
    tax_inclusive: bool,
    reorder_level: Option<String>,
    created_at: i64,
}

fn product() -> ProductCreated {
    ProductCreated {
        tenant_id: Uuid::new_v4(),
        product_id: Uuid::new_v4(),
        sku: "TEA-250".into(),
        name: "Assam tea 250 g".into(),
        description: None,
        brand: Some("Brahmaputra".into()),
        category_id: Some(Uuid::new_v4()),
        variant_of: None,
        attributes: HashMap::from([("pack".into(), "250 g".into())]),
        unit: "piece".into(),
        unit_decimals: 0,
        hsn_code: Some("0902".into()),
        gst_rate_bp: 500,
        cess_rate_bp: 0,
        currency: "INR".into(),
        mrp_minor: 18_000,
        selling_price_minor: 16_500,
        tax_inclusive: true,
        reorder_level: Some("24".into()),
        created_at: 1_790_000_000_000,
    }
}

fn record(name: &str, extra_fields: &str) -> String {
    format!(
        r#"{{"type":"record","name":"{name}","namespace":"bazaar.test","fields":[
            {{"name":"id","type":"string"}}{extra_fields}]}}"#
    )
}

#[test]
fn every_schema_file_parses_and_has_a_unique_fingerprint() {
    let from_dir = Catalogue::from_dir(avro_dir()).expect("schemas/avro is a valid catalogue");
    let files = std::fs::read_dir(avro_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "avsc")
        })
        .count();
    assert!(files > 0);
    assert_eq!(from_dir.iter().count(), files);
    assert_eq!(
        Catalogue::embedded().iter().count(),
        files,
        "the binary embeds every file"
    );
}

#[test]
fn every_version_is_backward_compatible_with_the_one_before_it() {
    Catalogue::from_dir(avro_dir())
        .unwrap()
        .check_compatibility()
        .expect("each version reads the previous version's data");
}

#[test]
fn a_new_field_without_a_default_is_reported_as_breaking() {
    let catalogue = Catalogue::from_files([
        ("test.thing.done.v1.avsc".into(), record("ThingDone", "")),
        (
            "test.thing.done.v2.avsc".into(),
            record("ThingDone", r#",{"name":"qty","type":"string"}"#),
        ),
    ])
    .unwrap();
    match catalogue.check_compatibility() {
        Err(SchemaError::Incompatible {
            event_type,
            version: 2,
            previous: 1,
            ..
        }) => assert_eq!(event_type, "test.thing.done"),
        other => panic!("expected an incompatibility, got {other:?}"),
    }
}

#[test]
fn a_new_field_with_a_default_is_compatible_and_versions_sort_numerically() {
    let catalogue = Catalogue::from_files([
        (
            "test.thing.done.v10.avsc".into(),
            record(
                "ThingDone",
                r#",{"name":"a","type":"int","default":0},{"name":"b","type":"int","default":0}"#,
            ),
        ),
        (
            "test.thing.done.v9.avsc".into(),
            record("ThingDone", r#",{"name":"a","type":"int","default":0}"#),
        ),
    ])
    .unwrap();
    let versions: Vec<u32> = catalogue.iter().map(|s| s.version).collect();
    assert_eq!(versions, vec![9, 10]);
    catalogue.check_compatibility().unwrap();
    // Producers write the newest version.
    assert_eq!(catalogue.current("test.thing.done").unwrap().version, 10);
    assert!(catalogue.current("test.thing.undone").is_err());
}

#[test]
fn renaming_the_record_is_breaking() {
    let catalogue = Catalogue::from_files([
        ("test.thing.done.v1.avsc".into(), record("ThingDone", "")),
        (
            "test.thing.done.v2.avsc".into(),
            record("ThingFinished", ""),
        ),
    ])
    .unwrap();
    assert!(matches!(
        catalogue.check_compatibility(),
        Err(SchemaError::Incompatible { .. })
    ));
}

#[test]
fn file_names_must_say_event_type_and_version() {
    for bad in [
        "thing.avsc",
        "test.thing.v0.avsc",
        "Test.Thing.v1.avsc",
        "x.v1.avsc",
        "test..x.v1.avsc",
    ] {
        let result = Catalogue::from_files([(bad.to_string(), record("X", ""))]);
        assert!(
            matches!(result, Err(SchemaError::FileName { .. })),
            "{bad} was accepted"
        );
    }
}

#[test]
fn identical_schemas_under_two_names_are_refused() {
    let result = Catalogue::from_files([
        ("test.a.done.v1.avsc".into(), record("Same", "")),
        ("test.b.done.v1.avsc".into(), record("Same", "")),
    ]);
    assert!(matches!(
        result,
        Err(SchemaError::DuplicateFingerprint { .. })
    ));
}

#[test]
fn a_payload_round_trips_through_single_object_encoding() {
    let catalogue = Catalogue::embedded();
    let schema = catalogue.get("catalog.product.created", 1).unwrap();
    let product = product();
    let message = schema.encode(&product).unwrap();
    assert_eq!(&message[..2], &[0xC3, 0x01]);
    assert_eq!(&message[2..10], &schema.fingerprint);

    let (decoded_schema, decoded) = catalogue.decode_as::<ProductCreated>(&message).unwrap();
    assert_eq!(decoded_schema.dataschema(), "catalog.product.created.v1");
    assert_eq!(decoded, product);
}

/// The specification's Parsing Canonical Form and fingerprint, as Java's
/// `SchemaNormalization` and Python's fastavro compute them for the same file.
#[test]
fn messages_carry_the_fingerprint_the_avro_specification_defines() {
    let catalogue = Catalogue::embedded();
    let schema = catalogue.get("catalog.product.created", 1).unwrap();
    assert!(schema.canonical_form.starts_with(
        r#"{"name":"bazaar.catalog.ProductCreated","type":"record","fields":[{"name":"tenant_id","type":"string"},"#
    ));
    assert_eq!(
        u64::from_le_bytes(schema.fingerprint),
        0x811a_d082_8710_2a66
    );
    let message = schema.encode(&product()).unwrap();
    assert_eq!(
        &message[2..10],
        &[0x66, 0x2a, 0x10, 0x87, 0x82, 0xd0, 0x1a, 0x81]
    );
}

/// Topics written before the fingerprints followed the specification still decode, so
/// consumers and rebuilds read them.
#[test]
fn messages_written_with_the_earlier_fingerprints_still_decode() {
    let catalogue = Catalogue::embedded();
    let schema = catalogue.get("catalog.product.created", 1).unwrap();
    assert_eq!(
        schema.legacy_fingerprint,
        [0xae, 0xaf, 0x89, 0xa6, 0x95, 0x05, 0x5c, 0xab]
    );
    let mut message = schema.encode(&product()).unwrap();
    message[2..10].copy_from_slice(&schema.legacy_fingerprint);
    let (decoded_schema, decoded) = catalogue.decode_as::<ProductCreated>(&message).unwrap();
    assert_eq!(decoded_schema.dataschema(), "catalog.product.created.v1");
    assert_eq!(decoded.sku, "TEA-250");
}

#[test]
fn a_value_that_does_not_fit_the_schema_is_refused() {
    let schema = Catalogue::embedded()
        .get("catalog.product.created", 1)
        .unwrap();
    let result = schema.encode_value(AvroValue::Record(vec![("sku".into(), AvroValue::Int(1))]));
    assert!(matches!(result, Err(SchemaError::Datum { .. })));
}

#[test]
fn garbage_payloads_are_errors_not_panics() {
    let catalogue = Catalogue::embedded();
    let schema = catalogue.get("catalog.product.created", 1).unwrap();
    let message = schema.encode(&product()).unwrap();

    assert!(matches!(
        catalogue.decode(b"{}"),
        Err(SchemaError::NotSingleObject)
    ));
    let mut unknown = message.clone();
    unknown[2] ^= 0xFF;
    assert!(matches!(
        catalogue.decode(&unknown),
        Err(SchemaError::UnknownFingerprint(_))
    ));
    assert!(matches!(
        catalogue.decode(&message[..message.len() - 3]),
        Err(SchemaError::Datum { .. })
    ));
    let mut longer = message.clone();
    longer.push(0);
    assert!(matches!(
        catalogue.decode(&longer),
        Err(SchemaError::TrailingBytes { extra: 1, .. })
    ));
}

#[test]
fn cloudevent_headers_round_trip() {
    let schema = Catalogue::embedded()
        .get("catalog.product.created", 1)
        .unwrap();
    let mut event = CloudEvent::new(schema, "catalog", "a-product", Uuid::new_v4());
    event.traceparent = Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
    // Headers carry milliseconds.
    event.time = chrono::DateTime::from_timestamp_millis(event.time.timestamp_millis()).unwrap();
    let headers = event.to_kafka_headers();
    assert_eq!(CloudEvent::from_kafka_headers(&headers).unwrap(), event);
}

#[test]
fn headers_that_are_not_a_cloudevent_are_named_in_the_error() {
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: "ce_specversion",
            value: Some("1.0"),
        })
        .insert(Header {
            key: "content-type",
            value: Some("application/avro"),
        });
    assert_eq!(
        CloudEvent::from_kafka_headers(&headers),
        Err(HeaderError::Missing("ce_id"))
    );

    let headers = OwnedHeaders::new().insert(Header {
        key: "ce_specversion",
        value: Some("0.3"),
    });
    assert!(matches!(
        CloudEvent::from_kafka_headers(&headers),
        Err(HeaderError::Invalid {
            header: "ce_specversion",
            ..
        })
    ));
}

/// Tests feed every event type a sample: each one must fit its own schema.
#[test]
fn every_schema_has_a_sample_that_fits_it() {
    let catalogue = Catalogue::embedded();
    for schema in catalogue.iter() {
        let message = schema
            .encode(&schema.sample())
            .unwrap_or_else(|e| panic!("{}: {e}", schema.dataschema()));
        assert_eq!(
            catalogue.decode(&message).unwrap().0.dataschema(),
            schema.dataschema()
        );
    }
}

/// Each schema has its Rust type, and the type holds exactly what the schema does.
#[test]
fn every_schema_has_a_generated_type_that_reads_and_writes_it_unchanged() {
    let errors = Catalogue::embedded().check_types();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// A reader of the newest type reads a payload written with an older version: the value is
/// resolved to the newer schema (fields added since take their defaults), as
/// `ConsumedEvent::payload` does.
#[test]
fn an_older_payload_reads_into_the_newest_type() {
    use bazaar_schemas::{events::sales::InvoiceIssued, Event};
    let catalogue = Catalogue::embedded();
    let v1 = catalogue.get(InvoiceIssued::TYPE, 1).unwrap();
    let newest = catalogue
        .get(InvoiceIssued::TYPE, InvoiceIssued::VERSION)
        .unwrap();
    assert!(newest.version > 1, "the test needs a newer version than 1");
    let written = v1.encode(&v1.sample()).unwrap();
    let (schema, value) = catalogue.decode(&written).unwrap();
    assert_eq!(schema.version, 1);
    let resolved = value.resolve(&newest.schema).unwrap();
    let invoice: InvoiceIssued = bazaar_schemas::from_value(&resolved).unwrap();
    assert_eq!(invoice.supplier_gstin, None);
}
