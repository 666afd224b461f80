//! The Avro event catalogue.
//!
//! Every event type and version has one file, `avro/<event type>.v<N>.avsc` (for example
//! `catalog.product.created.v1.avsc`). Payloads travel in Avro single-object encoding:
//! `C3 01`, the 8-byte CRC-64-AVRO (Rabin) fingerprint of the schema's Parsing Canonical
//! Form little-endian, then the datum, so any consumer holding these files and a standard
//! Avro library can decode any message. Metadata travels in CloudEvents 1.0 Kafka headers
//! (binary mode), see [`CloudEvent`].

pub mod canonical;
mod cloudevent;

use std::{collections::HashMap, fmt, path::Path, sync::OnceLock};

use apache_avro::{rabin::Rabin, schema_compatibility::SchemaCompatibility, types::Value, Schema};
use serde::{de::DeserializeOwned, Serialize};

pub use apache_avro::{from_value, types::Value as AvroValue};
pub use cloudevent::{CloudEvent, HeaderError, CONTENT_TYPE, SPEC_VERSION};

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// One Rust type per event type and version, generated from `avro/*.avsc` at build time
/// (`<Record>V<N>`, and `<Record>` for the newest version, the one writers write).
pub mod events {
    include!(concat!(env!("OUT_DIR"), "/events.rs"));

    // Event types that carry the same facts: a creation and its updates, a payment either
    // way. One reader or writer serves both; a field added to one schema and not the
    // other fails to compile here.
    // Fields after `;` hold nested records, converted with them.
    macro_rules! same_facts {
        ($a:ty, $b:ty, { $($field:ident),* $(,)? $(; $($nested:ident),* $(,)?)? }) => {
            impl From<$a> for $b {
                fn from(x: $a) -> Self {
                    Self {
                        $($field: x.$field,)*
                        $($($nested: crate::Nested::convert(x.$nested),)*)?
                    }
                }
            }
            impl From<$b> for $a {
                fn from(x: $b) -> Self {
                    Self {
                        $($field: x.$field,)*
                        $($($nested: crate::Nested::convert(x.$nested),)*)?
                    }
                }
            }
        };
    }

    same_facts!(partners::CustomerCreated, partners::CustomerUpdated, {
        tenant_id, customer_id, name, phone, email, gstin, billing_state_code,
        shipping_state_code, customer_group, currency, credit_limit_minor,
        payment_terms_days, version, recorded_at; billing_address, shipping_address,
    });
    same_facts!(partners::CustomerCreatedAddress, partners::CustomerUpdatedAddress, {
        line1, line2, city, state_code, pincode,
    });
    same_facts!(partners::VendorCreated, partners::VendorUpdated, {
        tenant_id, vendor_id, name, gstin, state_code, payment_terms_days, currency,
        bank_account_masked, bank_ifsc, bank_name, version, recorded_at; contacts,
    });
    same_facts!(partners::VendorCreatedContact, partners::VendorUpdatedContact, {
        name, phone, email,
    });
    same_facts!(purchase::PurchaseInvoiceHeld, purchase::PurchaseInvoiceRecorded, {
        tenant_id, invoice_id, vendor_id, vendor_invoice_number, place_of_supply,
        invoice_date, due_date, grn_ids, currency, taxable_minor, tax_minor, total_minor,
        status, recorded_by, approved_by, recorded_at; lines, mismatches, allocations,
    });
    same_facts!(
        purchase::PurchaseInvoiceHeldPurchaseInvoiceLine,
        purchase::PurchaseInvoiceRecordedPurchaseInvoiceLine,
        {
            product_id, sku, quantity, unit_price_minor, taxable_minor, gst_rate_bp,
            cgst_minor, sgst_minor, igst_minor, cess_minor, total_minor, received_value_minor,
        }
    );
    same_facts!(
        purchase::PurchaseInvoiceHeldMismatch,
        purchase::PurchaseInvoiceRecordedMismatch,
        { sku, code, message }
    );
    same_facts!(
        purchase::PurchaseInvoiceHeldAllocation,
        purchase::PurchaseInvoiceRecordedAllocation,
        { grn_id, line_no, quantity }
    );
    same_facts!(partners::PaymentReceived, partners::PaymentMade, {
        tenant_id, payment_id, partner_id, amount_minor, currency, mode, reference,
        paid_on, recorded_by, recorded_at,
    });
}

/// A nested record, or an optional one or a list of them, as the same facts in another
/// event's type (see `same_facts!`).
pub(crate) trait Nested<T> {
    fn convert(self) -> T;
}

impl<A: Into<B>, B> Nested<Option<B>> for Option<A> {
    fn convert(self) -> Option<B> {
        self.map(Into::into)
    }
}

impl<A: Into<B>, B> Nested<Vec<B>> for Vec<A> {
    fn convert(self) -> Vec<B> {
        self.into_iter().map(Into::into).collect()
    }
}

/// Checks one generated type against the catalogue (see [`Catalogue::check_types`]).
pub(crate) type TypeCheck = fn(&Catalogue) -> Result<(), String>;

/// The sample of `T`'s schema read into `T` and written back: the same bytes, or why not.
pub(crate) fn check_type<T: Event>(catalogue: &Catalogue) -> Result<(), String> {
    let schema = catalogue
        .get(T::TYPE, T::VERSION)
        .map_err(|e| e.to_string())?;
    let written = schema.encode(&schema.sample()).map_err(|e| e.to_string())?;
    let (_, value) = catalogue.decode(&written).map_err(|e| e.to_string())?;
    let typed: T = from_value(&value).map_err(|e| format!("reading into the type: {e}"))?;
    let again = schema
        .encode(&typed)
        .map_err(|e| format!("writing the type: {e}"))?;
    if again == written {
        Ok(())
    } else {
        Err("the type writes other bytes than it read".to_owned())
    }
}

/// An event payload type: its event type and version name its schema file, so writers and
/// readers name an event by its type, never by a string.
pub trait Event: Serialize + DeserializeOwned {
    /// `<domain>.<entity>.<action>`, the CloudEvents `ce_type`.
    const TYPE: &'static str;
    /// Its version within the topic's major version.
    const VERSION: u32;
}

/// The plainest `E` its schema admits (see [`EventSchema::sample`]): tests start from it
/// and set the fields they mean, so a field added to the schema does not break them.
pub fn sample<E: Event>() -> E {
    let schema = Catalogue::embedded()
        .get(E::TYPE, E::VERSION)
        .expect("a generated type has its schema");
    serde_json::from_value(schema.sample()).expect("a schema's sample reads into its type")
}

/// Now, as events carry time (`timestamp-millis`: milliseconds since the epoch, UTC).
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The two marker bytes that open every single-object encoded payload.
const MAGIC: [u8; 2] = [0xC3, 0x01];
const HEADER_LEN: usize = 10;

/// A schema file or payload that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The file name is not `<domain>.<entity>.<action>.v<N>.avsc`.
    #[error(
        "{file}: name must be <event type>.v<version>.avsc, e.g. catalog.product.created.v1.avsc"
    )]
    FileName {
        /// The file.
        file: String,
    },
    /// The file's JSON has no Parsing Canonical Form.
    #[error("{file}: {source}")]
    Canonical {
        /// The file.
        file: String,
        /// What is wrong.
        source: canonical::CanonicalError,
    },
    /// The file is not a valid Avro schema.
    #[error("{file}: {source}")]
    Parse {
        /// The file.
        file: String,
        /// The parser's error.
        source: Box<apache_avro::Error>,
    },
    /// The file could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An event schema must be a named record.
    #[error("{file}: the top-level type must be a record")]
    NotARecord {
        /// The file.
        file: String,
    },
    /// Two files have the same fingerprint, so a payload could not tell them apart.
    #[error("{first} and {second} have the same fingerprint")]
    DuplicateFingerprint {
        /// One file.
        first: String,
        /// The other.
        second: String,
    },
    /// A version cannot read data written with the version before it.
    #[error("{event_type} v{version} cannot read v{previous} data: {reason}")]
    Incompatible {
        /// The event type.
        event_type: String,
        /// The newer version.
        version: u32,
        /// The version before it.
        previous: u32,
        /// What the compatibility check found.
        reason: String,
    },
    /// No schema of that event type and version is in the catalogue.
    #[error("no schema for {event_type} v{version}")]
    UnknownEvent {
        /// The event type.
        event_type: String,
        /// The version.
        version: u32,
    },
    /// The payload is not single-object encoded.
    #[error("payload is not Avro single-object encoding (too short or wrong marker)")]
    NotSingleObject,
    /// No schema in the catalogue has the payload's fingerprint.
    #[error("no schema has fingerprint {0}")]
    UnknownFingerprint(String),
    /// The value does not fit the schema, or the datum does not decode.
    #[error("{event_type} v{version}: {source}")]
    Datum {
        /// The event type.
        event_type: String,
        /// The version.
        version: u32,
        /// Avro's error.
        source: Box<apache_avro::Error>,
    },
    /// Bytes remain after the datum: the payload is corrupt or mislabelled.
    #[error("{event_type} v{version}: {extra} bytes after the datum")]
    TrailingBytes {
        /// The event type.
        event_type: String,
        /// The version.
        version: u32,
        /// How many bytes were left.
        extra: usize,
    },
}

/// One event type at one version.
#[derive(Debug, Clone)]
pub struct EventSchema {
    /// `<domain>.<entity>.<action>`, also the CloudEvents `ce_type`.
    pub event_type: String,
    /// Version within the topic's major version; only backward-compatible changes.
    pub version: u32,
    /// The parsed schema.
    pub schema: Schema,
    /// CRC-64-AVRO of the Parsing Canonical Form, little-endian: what is written.
    pub fingerprint: [u8; 8],
    /// The fingerprint Bazaar wrote before it followed the specification (apache-avro's
    /// canonical form keeps logical types' `{"type": ...}`): still read, so topics written
    /// so far decode and rebuild.
    pub legacy_fingerprint: [u8; 8],
    /// The Parsing Canonical Form the fingerprint is of.
    pub canonical_form: String,
}

impl EventSchema {
    /// The CloudEvents `ce_dataschema` value, e.g. `catalog.product.created.v1`.
    pub fn dataschema(&self) -> String {
        format!("{}.v{}", self.event_type, self.version)
    }

    /// The domain (and topic prefix): `catalog` for `catalog.product.created`.
    pub fn domain(&self) -> &str {
        self.event_type.split('.').next().unwrap_or_default()
    }

    /// `payload` as a single-object encoded message.
    pub fn encode<T: Serialize>(&self, payload: &T) -> Result<Vec<u8>, SchemaError> {
        let value = apache_avro::to_value(payload).map_err(|e| self.datum_error(e))?;
        self.encode_value(value)
    }

    /// An Avro value as a single-object encoded message.
    pub fn encode_value(&self, value: Value) -> Result<Vec<u8>, SchemaError> {
        let value = value
            .resolve(&self.schema)
            .map_err(|e| self.datum_error(e))?;
        let datum =
            apache_avro::to_avro_datum(&self.schema, value).map_err(|e| self.datum_error(e))?;
        let mut message = Vec::with_capacity(HEADER_LEN + datum.len());
        message.extend_from_slice(&MAGIC);
        message.extend_from_slice(&self.fingerprint);
        message.extend_from_slice(&datum);
        Ok(message)
    }

    /// A payload that fits the schema, every field at its plainest (nulls, zeros, empty
    /// lists, the first symbol, a fresh uuid): for tests that must feed every type.
    pub fn sample(&self) -> serde_json::Value {
        plainest(&self.schema, &mut HashMap::new())
    }

    fn datum_error(&self, source: apache_avro::Error) -> SchemaError {
        SchemaError::Datum {
            event_type: self.event_type.clone(),
            version: self.version,
            source: Box::new(source),
        }
    }
}

/// Every event schema, indexed by type and version and by fingerprint.
#[derive(Debug, Clone)]
pub struct Catalogue {
    schemas: Vec<EventSchema>,
    by_fingerprint: HashMap<[u8; 8], usize>,
}

impl Catalogue {
    /// The catalogue compiled into this binary from `schemas/avro/`.
    pub fn embedded() -> &'static Catalogue {
        static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
        CATALOGUE.get_or_init(|| {
            Catalogue::from_files(EMBEDDED.iter().map(|(f, t)| (f.to_string(), t.to_string())))
                .expect("the embedded catalogue is checked by the schemas tests")
        })
    }

    /// Loads every `.avsc` in `dir`: what an integration outside Bazaar would do.
    pub fn from_dir(dir: &Path) -> Result<Catalogue, SchemaError> {
        let io = |source| SchemaError::Io {
            file: dir.display().to_string(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|ext| ext == "avsc") {
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let text = std::fs::read_to_string(&path).map_err(|source| SchemaError::Io {
                    file: name.clone(),
                    source,
                })?;
                files.push((name, text));
            }
        }
        Catalogue::from_files(files)
    }

    /// Parses `(file name, schema text)` pairs and checks names and fingerprints.
    pub fn from_files(
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Catalogue, SchemaError> {
        let mut parsed = Vec::new();
        for (file, text) in files {
            let (event_type, version) = parse_file_name(&file)?;
            let schema = Schema::parse_str(&text).map_err(|source| SchemaError::Parse {
                file: file.clone(),
                source: Box::new(source),
            })?;
            if !matches!(schema, Schema::Record(_)) {
                return Err(SchemaError::NotARecord { file });
            }
            let canonical_form = canonical::parsing_canonical_form(&text).map_err(|source| {
                SchemaError::Canonical {
                    file: file.clone(),
                    source,
                }
            })?;
            let legacy_fingerprint: [u8; 8] = schema
                .fingerprint::<Rabin>()
                .bytes
                .try_into()
                .expect("Rabin fingerprints are 8 bytes");
            let event = EventSchema {
                event_type,
                version,
                schema,
                fingerprint: canonical::crc64_avro(canonical_form.as_bytes()),
                legacy_fingerprint,
                canonical_form,
            };
            parsed.push((event, file));
        }
        // By type, then numerically by version (v10 after v9), as check_compatibility needs.
        parsed
            .sort_by(|(a, _), (b, _)| (&a.event_type, a.version).cmp(&(&b.event_type, b.version)));
        let (schemas, names): (Vec<EventSchema>, Vec<String>) = parsed.into_iter().unzip();
        let mut by_fingerprint = HashMap::new();
        for (index, schema) in schemas.iter().enumerate() {
            let mut fingerprints = vec![schema.fingerprint];
            // A schema without logical types had the same fingerprint before.
            if schema.legacy_fingerprint != schema.fingerprint {
                fingerprints.push(schema.legacy_fingerprint);
            }
            for fingerprint in fingerprints {
                if let Some(first) = by_fingerprint.insert(fingerprint, index) {
                    return Err(SchemaError::DuplicateFingerprint {
                        first: names[first].clone(),
                        second: names[index].clone(),
                    });
                }
            }
        }
        Ok(Catalogue {
            schemas,
            by_fingerprint,
        })
    }

    /// Every schema, ordered by event type then version.
    pub fn iter(&self) -> impl Iterator<Item = &EventSchema> {
        self.schemas.iter()
    }

    /// One event type at one version.
    pub fn get(&self, event_type: &str, version: u32) -> Result<&EventSchema, SchemaError> {
        self.schemas
            .iter()
            .find(|s| s.event_type == event_type && s.version == version)
            .ok_or_else(|| SchemaError::UnknownEvent {
                event_type: event_type.to_owned(),
                version,
            })
    }

    /// The newest version of an event type: the one producers write. Readers take any
    /// version, since each is backward compatible with the one before it.
    pub fn current(&self, event_type: &str) -> Result<&EventSchema, SchemaError> {
        self.schemas
            .iter()
            .rev()
            .find(|s| s.event_type == event_type)
            .ok_or_else(|| SchemaError::UnknownEvent {
                event_type: event_type.to_owned(),
                version: 1,
            })
    }

    /// Decodes a single-object encoded payload with the schema it names (by its
    /// fingerprint, or the legacy one written before).
    pub fn decode(&self, message: &[u8]) -> Result<(&EventSchema, Value), SchemaError> {
        if message.len() < HEADER_LEN || message[..2] != MAGIC {
            return Err(SchemaError::NotSingleObject);
        }
        let fingerprint: [u8; 8] = message[2..HEADER_LEN].try_into().expect("8 bytes");
        let schema = self
            .by_fingerprint
            .get(&fingerprint)
            .map(|&index| &self.schemas[index])
            .ok_or_else(|| SchemaError::UnknownFingerprint(hex(&fingerprint)))?;
        let mut datum = &message[HEADER_LEN..];
        let value = apache_avro::from_avro_datum(&schema.schema, &mut datum, None)
            .map_err(|e| schema.datum_error(e))?;
        if !datum.is_empty() {
            return Err(SchemaError::TrailingBytes {
                event_type: schema.event_type.clone(),
                version: schema.version,
                extra: datum.len(),
            });
        }
        Ok((schema, value))
    }

    /// Decodes a payload into a Rust type.
    pub fn decode_as<T: DeserializeOwned>(
        &self,
        message: &[u8],
    ) -> Result<(&EventSchema, T), SchemaError> {
        let (schema, value) = self.decode(message)?;
        let payload = apache_avro::from_value(&value).map_err(|e| schema.datum_error(e))?;
        Ok((schema, payload))
    }

    /// Checks every generated type against its schema, and that every schema has one:
    /// the errors, by event type and version.
    pub fn check_types(&self) -> Vec<String> {
        let mut errors: Vec<String> = events::ALL
            .iter()
            .filter_map(|(event_type, version, check)| {
                check(self)
                    .err()
                    .map(|e| format!("{event_type} v{version}: {e}"))
            })
            .collect();
        for schema in self.iter() {
            if !events::ALL
                .iter()
                .any(|(t, v, _)| *t == schema.event_type && *v == schema.version)
            {
                errors.push(format!("{}: no generated type", schema.dataschema()));
            }
        }
        errors
    }

    /// Checks that each version of every event type can read data written with the
    /// version before it, and keeps the record's full name (which Avro resolution
    /// matches on).
    pub fn check_compatibility(&self) -> Result<(), SchemaError> {
        for pair in self.schemas.windows(2) {
            let (previous, current) = (&pair[0], &pair[1]);
            if previous.event_type != current.event_type {
                continue;
            }
            let incompatible = |reason: String| SchemaError::Incompatible {
                event_type: current.event_type.clone(),
                version: current.version,
                previous: previous.version,
                reason,
            };
            if previous.schema.name() != current.schema.name() {
                return Err(incompatible("the record was renamed".to_owned()));
            }
            SchemaCompatibility::can_read(&previous.schema, &current.schema)
                .map_err(|e| incompatible(e.to_string()))?;
        }
        Ok(())
    }
}

/// [`EventSchema::sample`] of `schema`; `named` holds the records met so far, for the
/// references to them.
fn plainest(schema: &Schema, named: &mut HashMap<String, Schema>) -> serde_json::Value {
    use serde_json::{json, Value as Json};
    match schema {
        Schema::Null => Json::Null,
        Schema::Boolean => json!(false),
        Schema::Int | Schema::Long | Schema::Date | Schema::TimeMillis | Schema::TimeMicros => {
            json!(0)
        }
        Schema::TimestampMillis | Schema::TimestampMicros | Schema::TimestampNanos => json!(0),
        Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => json!(0),
        Schema::Float | Schema::Double => json!(0.0),
        Schema::String => json!("0"),
        Schema::Uuid => json!(uuid::Uuid::new_v4()),
        Schema::Array(_) => json!([]),
        Schema::Map(_) => json!({}),
        Schema::Union(union) => {
            let variants = union.variants();
            match variants.iter().find(|v| matches!(v, Schema::Null)) {
                Some(_) => Json::Null,
                None => variants.first().map_or(Json::Null, |v| plainest(v, named)),
            }
        }
        Schema::Record(record) => {
            named.insert(record.name.fullname(None), schema.clone());
            Json::Object(
                record
                    .fields
                    .iter()
                    .map(|field| (field.name.clone(), plainest(&field.schema, named)))
                    .collect(),
            )
        }
        Schema::Enum(enumeration) => json!(enumeration.symbols.first()),
        Schema::Ref { name } => match named.get(&name.fullname(None)).cloned() {
            Some(record) => plainest(&record, named),
            None => Json::Null,
        },
        Schema::Bytes
        | Schema::Fixed(_)
        | Schema::Decimal(_)
        | Schema::BigDecimal
        | Schema::Duration => Json::Null,
    }
}

/// `catalog.product.created.v1.avsc` -> (`catalog.product.created`, 1).
fn parse_file_name(file: &str) -> Result<(String, u32), SchemaError> {
    let bad = || SchemaError::FileName {
        file: file.to_owned(),
    };
    let stem = file.strip_suffix(".avsc").ok_or_else(bad)?;
    let (event_type, version) = stem.rsplit_once(".v").ok_or_else(bad)?;
    let version: u32 = version.parse().ok().filter(|v| *v >= 1).ok_or_else(bad)?;
    let segments: Vec<&str> = event_type.split('.').collect();
    let valid_segment = |s: &&str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    if segments.len() < 2 || !segments.iter().all(valid_segment) {
        return Err(bad());
    }
    Ok((event_type.to_owned(), version))
}

/// `bytes` as lowercase hex, as fingerprints are shown.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Display for EventSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} v{} ({})",
            self.event_type,
            self.version,
            hex(&self.fingerprint)
        )
    }
}
