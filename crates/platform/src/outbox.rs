//! The outbox writer: an event is stored in the same transaction as the state change
//! that caused it, so it is published if and only if the change committed.

use bazaar_schemas::{Catalogue, CloudEvent, EventSchema, SchemaError};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// An event could not be written to the outbox.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The payload does not fit its schema.
    #[error(transparent)]
    Encode(#[from] SchemaError),
    /// The insert failed; the caller's transaction should roll back.
    #[error("outbox insert: {0}")]
    Database(#[from] sqlx::Error),
}

/// One event to append.
pub struct NewEvent<'a, T> {
    /// Kafka topic, normally [`topic_for`] of the schema.
    pub topic: &'a str,
    /// Its type and version.
    pub schema: &'a EventSchema,
    /// The service writing it (`ce_source`).
    pub source: &'a str,
    /// The tenant it belongs to.
    pub tenant: Uuid,
    /// The aggregate id: the message key and `ce_subject`.
    pub subject: &'a str,
    /// The payload, encoded with `schema`.
    pub payload: &'a T,
}

/// The topic of a schema's domain: `sales.invoice.issued` goes to `sales.events.v1`.
pub fn topic_for(schema: &EventSchema) -> String {
    format!("{}.events.v1", schema.domain())
}

/// Appends `event` inside the caller's transaction and returns its event id. The
/// current span's trace context travels with it.
///
/// Call it while holding the aggregate's row lock (`SELECT ... FOR UPDATE` or the
/// `UPDATE` of its state row): the relay publishes in insertion order, which is then
/// the commit order of that aggregate's events.
pub async fn append<T: Serialize>(
    tx: &mut PgConnection,
    event: NewEvent<'_, T>,
) -> Result<Uuid, OutboxError> {
    let payload = event.schema.encode(event.payload)?;
    let mut cloud = CloudEvent::new(event.schema, event.source, event.subject, event.tenant);
    cloud.traceparent = crate::telemetry::traceparent(&tracing::Span::current());
    let headers: serde_json::Map<String, serde_json::Value> = cloud
        .header_pairs()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.into()))
        .collect();
    sqlx::query(
        "INSERT INTO outbox (event_id, topic, key, event_type, dataschema, payload, headers, tenant_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(cloud.id)
    .bind(event.topic)
    .bind(event.subject)
    .bind(&cloud.event_type)
    .bind(&cloud.dataschema)
    .bind(payload)
    .bind(serde_json::Value::Object(headers))
    .bind(event.tenant)
    .bind(cloud.time)
    .execute(tx)
    .await?;
    Ok(cloud.id)
}

/// Appends many events of the current version of `event_type` in one statement: what a bulk
/// import writes. Each item is (tenant, subject, payload); ids come back in order.
pub async fn append_all_current<T: Serialize>(
    tx: &mut PgConnection,
    source: &str,
    event_type: &str,
    events: &[(Uuid, String, T)],
) -> Result<Vec<Uuid>, OutboxError> {
    let schema = Catalogue::embedded().current(event_type)?;
    let topic = topic_for(schema);
    let span = tracing::Span::current();
    let traceparent = crate::telemetry::traceparent(&span);
    let count = events.len();
    let (mut ids, mut keys, mut payloads, mut headers, mut tenants, mut times) = (
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
    );
    for (tenant, subject, payload) in events {
        let mut cloud = CloudEvent::new(schema, source, subject, *tenant);
        cloud.traceparent.clone_from(&traceparent);
        payloads.push(schema.encode(payload)?);
        let pairs: serde_json::Map<String, serde_json::Value> = cloud
            .header_pairs()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.into()))
            .collect();
        headers.push(serde_json::Value::Object(pairs));
        ids.push(cloud.id);
        keys.push(subject.clone());
        tenants.push(*tenant);
        times.push(cloud.time);
    }
    sqlx::query(
        "INSERT INTO outbox (event_id, topic, key, event_type, dataschema, payload, headers, tenant_id, created_at) \
         SELECT e.id, $2, e.key, $3, $4, e.payload, e.headers, e.tenant, e.at \
         FROM UNNEST($1::uuid[], $5::text[], $6::bytea[], $7::jsonb[], $8::uuid[], $9::timestamptz[]) \
           WITH ORDINALITY AS e(id, key, payload, headers, tenant, at, n) ORDER BY e.n",
    )
    .bind(&ids)
    .bind(&topic)
    .bind(&schema.event_type)
    .bind(schema.dataschema())
    .bind(&keys)
    .bind(&payloads)
    .bind(&headers)
    .bind(&tenants)
    .bind(&times)
    .execute(tx)
    .await?;
    Ok(ids)
}

/// Appends the current version of `event_type` to its domain's topic, keyed by `subject`: the
/// usual case of [`append`].
pub async fn append_current<T: Serialize>(
    tx: &mut PgConnection,
    source: &str,
    event_type: &str,
    tenant: Uuid,
    subject: &str,
    payload: &T,
) -> Result<Uuid, OutboxError> {
    let schema = Catalogue::embedded().current(event_type)?;
    let topic = topic_for(schema);
    append(
        tx,
        NewEvent {
            topic: &topic,
            schema,
            source,
            tenant,
            subject,
            payload,
        },
    )
    .await
}
