//! The outbox writer: an event is stored in the same transaction as the state change
//! that caused it, so it is published if and only if the change committed.

use bazaar_schemas::{Catalogue, CloudEvent, EventSchema, SchemaError};
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

/// One event to append to a topic of the caller's choosing: what benchmarks and tests
/// use to keep their own topics. Services use [`append_event`] or [`Events`].
pub struct NewEvent<'a, E> {
    /// Kafka topic, normally [`topic_for`] of the schema.
    pub topic: &'a str,
    /// The service writing it (`ce_source`).
    pub source: &'a str,
    /// The tenant it belongs to.
    pub tenant: Uuid,
    /// The aggregate id: the message key and `ce_subject`.
    pub subject: &'a str,
    /// The event, encoded with the schema of its type and version.
    pub event: &'a E,
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
pub async fn append<E: bazaar_schemas::Event>(
    tx: &mut PgConnection,
    event: NewEvent<'_, E>,
) -> Result<Uuid, OutboxError> {
    let schema = Catalogue::embedded().get(E::TYPE, E::VERSION)?;
    let payload = schema.encode(event.event)?;
    let mut cloud = CloudEvent::new(schema, event.source, event.subject, event.tenant);
    cloud.traceparent = crate::telemetry::traceparent(&tracing::Span::current());
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
    .bind(headers(&cloud))
    .bind(event.tenant)
    .bind(cloud.time)
    .execute(tx)
    .await?;
    Ok(cloud.id)
}

/// Appends many events of one type in one statement: what a bulk import writes. Each
/// item is (tenant, subject, event); ids come back in order.
pub async fn append_all_events<E: bazaar_schemas::Event>(
    tx: &mut PgConnection,
    source: &str,
    events: &[(Uuid, String, E)],
) -> Result<Vec<Uuid>, OutboxError> {
    let mut batch = Events::new(source);
    for (tenant, subject, event) in events {
        batch.push(*tenant, subject, event)?;
    }
    let ids = batch.ids.clone();
    batch.append(tx).await?;
    Ok(ids)
}

/// An event's Kafka headers as the outbox keeps them, a JSON object.
fn headers(cloud: &CloudEvent) -> serde_json::Value {
    cloud
        .header_pairs()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), serde_json::Value::from(value)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Events of any types gathered by one transaction and appended with one statement, in
/// the order they were pushed: a writer that raises several events pays one round trip.
pub struct Events {
    source: String,
    traceparent: Option<String>,
    ids: Vec<Uuid>,
    topics: Vec<String>,
    keys: Vec<String>,
    types: Vec<String>,
    dataschemas: Vec<String>,
    payloads: Vec<Vec<u8>>,
    headers: Vec<serde_json::Value>,
    tenants: Vec<Uuid>,
    times: Vec<chrono::DateTime<chrono::Utc>>,
}

impl Events {
    /// None yet, from service `source` (`ce_source`), in the current span's trace.
    pub fn new(source: &str) -> Self {
        Events {
            source: source.to_owned(),
            traceparent: crate::telemetry::traceparent(&tracing::Span::current()),
            ids: Vec::new(),
            topics: Vec::new(),
            keys: Vec::new(),
            types: Vec::new(),
            dataschemas: Vec::new(),
            payloads: Vec::new(),
            headers: Vec::new(),
            tenants: Vec::new(),
            times: Vec::new(),
        }
    }

    /// Encodes `event` with the schema its type names (`E::TYPE` at `E::VERSION`), keyed
    /// by `subject`, and returns its event id. Nothing is written until [`Events::append`].
    pub fn push<E: bazaar_schemas::Event>(
        &mut self,
        tenant: Uuid,
        subject: &str,
        event: &E,
    ) -> Result<Uuid, OutboxError> {
        let schema = Catalogue::embedded().get(E::TYPE, E::VERSION)?;
        let payload = schema.encode(event)?;
        let mut cloud = CloudEvent::new(schema, &self.source, subject, tenant);
        cloud.traceparent.clone_from(&self.traceparent);
        self.ids.push(cloud.id);
        self.topics.push(topic_for(schema));
        self.keys.push(subject.to_owned());
        self.types.push(cloud.event_type.clone());
        self.dataschemas.push(cloud.dataschema.clone());
        self.payloads.push(payload);
        self.headers.push(headers(&cloud));
        self.tenants.push(tenant);
        self.times.push(cloud.time);
        Ok(cloud.id)
    }

    /// Writes them all in the caller's transaction with one statement, under the same
    /// lock rule as [`append`]. With none, it makes no round trip.
    pub async fn append(self, tx: &mut PgConnection) -> Result<(), OutboxError> {
        if self.ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO outbox (event_id, topic, key, event_type, dataschema, payload, headers, tenant_id, created_at) \
             SELECT e.id, e.topic, e.key, e.type, e.dataschema, e.payload, e.headers, e.tenant, e.at \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::jsonb[], \
               $8::uuid[], $9::timestamptz[]) \
               WITH ORDINALITY AS e(id, topic, key, type, dataschema, payload, headers, tenant, at, n) \
             ORDER BY e.n",
        )
        .bind(&self.ids)
        .bind(&self.topics)
        .bind(&self.keys)
        .bind(&self.types)
        .bind(&self.dataschemas)
        .bind(&self.payloads)
        .bind(&self.headers)
        .bind(&self.tenants)
        .bind(&self.times)
        .execute(tx)
        .await?;
        Ok(())
    }
}

/// Appends one typed event in the caller's transaction, keyed by `subject`: the usual
/// case, a batch of one [`Events`].
pub async fn append_event<E: bazaar_schemas::Event>(
    tx: &mut PgConnection,
    source: &str,
    tenant: Uuid,
    subject: &str,
    event: &E,
) -> Result<Uuid, OutboxError> {
    let mut events = Events::new(source);
    let id = events.push(tenant, subject, event)?;
    events.append(tx).await?;
    Ok(id)
}

/// An outbox row the broker refused for good, set aside so later rows are published.
#[derive(Debug, sqlx::FromRow)]
pub struct ParkedRow {
    /// The row's position in the outbox.
    pub id: i64,
    /// Its CloudEvents id.
    pub event_id: Uuid,
    /// Its event type, e.g. `sales.held_bill.saved`.
    pub event_type: String,
    /// The tenant whose event it is.
    pub tenant_id: Uuid,
    /// The encoded payload's size in bytes.
    pub bytes: i32,
    /// What the broker or the producer said.
    pub reason: String,
    /// When it was parked.
    pub parked_at: chrono::DateTime<chrono::Utc>,
}

/// The parked rows of one service database, oldest first.
pub async fn parked(pool: &sqlx::PgPool) -> Result<Vec<ParkedRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, event_id, event_type, tenant_id, octet_length(payload) AS bytes, \
                coalesce(parked_reason, '') AS reason, parked_at \
         FROM outbox WHERE published_at IS NULL AND parked_at IS NOT NULL ORDER BY id",
    )
    .fetch_all(pool)
    .await
}

/// Returns parked rows (`ids`, or all of them when `None`) to the relay, which sends them
/// again; returns how many.
pub async fn retry_parked(pool: &sqlx::PgPool, ids: Option<&[i64]>) -> Result<u64, sqlx::Error> {
    let retried = sqlx::query(
        "UPDATE outbox SET parked_at = NULL, parked_reason = NULL \
         WHERE published_at IS NULL AND parked_at IS NOT NULL \
           AND ($1::int8[] IS NULL OR id = ANY($1))",
    )
    .bind(ids)
    .execute(pool)
    .await?;
    Ok(retried.rows_affected())
}
