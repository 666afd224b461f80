//! CloudEvents 1.0 in Kafka binary mode: the attributes travel as `ce_*` headers, the
//! Avro payload is the message value.

use chrono::{DateTime, SecondsFormat, Utc};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use uuid::Uuid;

use crate::EventSchema;

/// The CloudEvents version written and accepted.
pub const SPEC_VERSION: &str = "1.0";
/// The `content-type` header of every Bazaar event.
pub const CONTENT_TYPE: &str = "application/avro";

/// The metadata of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudEvent {
    /// `ce_id`: unique per event; consumers deduplicate on it.
    pub id: Uuid,
    /// `ce_type`, e.g. `sales.invoice.issued`.
    pub event_type: String,
    /// `ce_source`: the service that wrote it.
    pub source: String,
    /// `ce_time`: when the change happened.
    pub time: DateTime<Utc>,
    /// `ce_subject`: the aggregate id, also the message key.
    pub subject: String,
    /// `ce_dataschema`: schema name and version, e.g. `sales.invoice.issued.v1`.
    pub dataschema: String,
    /// `ce_tenant`: the retail chain the event belongs to.
    pub tenant: Uuid,
    /// `traceparent`: W3C trace context of the request that caused it.
    pub traceparent: Option<String>,
}

/// Kafka headers that are not a valid Bazaar CloudEvent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    /// A required header is absent.
    #[error("header {0} is missing")]
    Missing(&'static str),
    /// A header's value is not what the spec requires.
    #[error("header {header} has invalid value {value:?}: {expected}")]
    Invalid {
        /// The header.
        header: &'static str,
        /// Its value, lossily decoded.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
}

impl CloudEvent {
    /// A new event of `schema` about `subject`, with a fresh time-ordered id.
    pub fn new(schema: &EventSchema, source: &str, subject: &str, tenant: Uuid) -> Self {
        Self {
            id: Uuid::now_v7(),
            event_type: schema.event_type.clone(),
            source: source.to_owned(),
            time: Utc::now(),
            subject: subject.to_owned(),
            dataschema: schema.dataschema(),
            tenant,
            traceparent: None,
        }
    }

    /// Every header as (name, value), in the order they are written.
    pub fn header_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("ce_id", self.id.to_string()),
            ("ce_type", self.event_type.clone()),
            ("ce_source", self.source.clone()),
            ("ce_specversion", SPEC_VERSION.to_owned()),
            (
                "ce_time",
                self.time.to_rfc3339_opts(SecondsFormat::Millis, true),
            ),
            ("ce_subject", self.subject.clone()),
            ("ce_dataschema", self.dataschema.clone()),
            ("ce_tenant", self.tenant.to_string()),
            ("content-type", CONTENT_TYPE.to_owned()),
        ];
        if let Some(traceparent) = &self.traceparent {
            pairs.push(("traceparent", traceparent.clone()));
        }
        pairs
    }

    /// The headers of the Kafka message.
    pub fn to_kafka_headers(&self) -> OwnedHeaders {
        self.header_pairs().iter().fold(
            OwnedHeaders::new_with_capacity(10),
            |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: Some(value),
                })
            },
        )
    }

    /// Reads and validates the headers of a consumed message.
    pub fn from_kafka_headers<H: Headers>(headers: &H) -> Result<Self, HeaderError> {
        let get = |name: &'static str| -> Result<String, HeaderError> {
            headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .ok_or(HeaderError::Missing(name))
        };
        let invalid = |header, value: String, expected| HeaderError::Invalid {
            header,
            value,
            expected,
        };
        let specversion = get("ce_specversion")?;
        if specversion != SPEC_VERSION {
            return Err(invalid("ce_specversion", specversion, "1.0"));
        }
        let content_type = get("content-type")?;
        if content_type != CONTENT_TYPE {
            return Err(invalid("content-type", content_type, "application/avro"));
        }
        let id = get("ce_id")?;
        let time = get("ce_time")?;
        let tenant = get("ce_tenant")?;
        Ok(Self {
            id: Uuid::parse_str(&id).map_err(|_| invalid("ce_id", id, "a UUID"))?,
            event_type: get("ce_type")?,
            source: get("ce_source")?,
            time: DateTime::parse_from_rfc3339(&time)
                .map_err(|_| invalid("ce_time", time, "an RFC 3339 timestamp"))?
                .with_timezone(&Utc),
            subject: get("ce_subject")?,
            dataschema: get("ce_dataschema")?,
            tenant: Uuid::parse_str(&tenant).map_err(|_| invalid("ce_tenant", tenant, "a UUID"))?,
            traceparent: get("traceparent").ok(),
        })
    }
}
