//! The consumer runners: `ConsumerRunner`, the Kafka consumer loop every projection uses
//! (one PostgreSQL transaction per event), and `BatchRunner` for sinks that store events
//! in batches (analytics). The rules below are the projection runner's. The batch runner
//! shares its consumer setup and dead letters, stores offsets only after the sink has
//! stored the whole batch, and retries a batch until it is stored; the sink makes a
//! redelivered batch harmless.
//!
//! - One consumer group per projection. An offset is stored only after the projection's
//!   transaction committed (`enable.auto.offset.store=false`); the stored offsets are
//!   committed in the background and once more on shutdown.
//! - `processed_events(consumer, event_id)` is written in the same transaction as the
//!   projection's change, so a redelivered event changes nothing.
//! - A projection error is retried with exponential backoff; after the last attempt the
//!   message goes to `<topic>.dlq` with headers naming the consumer, the error and the
//!   original partition and offset, and the consumer moves on. A message that cannot be
//!   decoded goes there at once: retrying cannot fix it. Database or broker outages are
//!   retried until they end, never dead-lettered.

use std::{future::Future, time::Duration};

use bazaar_schemas::{AvroValue, Catalogue, CloudEvent, EventSchema};
use rdkafka::{
    consumer::{CommitMode, Consumer, StreamConsumer},
    message::{BorrowedMessage, Header, Headers, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
    Message,
};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::{kafka, Settings};

/// A projection error; boxed so projections can return their own error types.
pub type ProjectionError = Box<dyn std::error::Error + Send + Sync>;

/// One consumed, decoded event.
#[derive(Debug)]
pub struct ConsumedEvent {
    /// Its CloudEvents attributes.
    pub cloud: CloudEvent,
    /// Its schema in this binary's catalogue.
    pub schema: &'static EventSchema,
    /// Its payload.
    pub payload: AvroValue,
    /// Where it was read from.
    pub topic: String,
    /// Partition it was read from.
    pub partition: i32,
    /// Offset it was read from.
    pub offset: i64,
}

impl ConsumedEvent {
    /// The payload as a Rust type.
    pub fn payload_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, ProjectionError> {
        Ok(bazaar_schemas::from_value(&self.payload)?)
    }
}

/// Something built from events, in the consuming service's database.
pub trait Projection: Send + Sync + 'static {
    /// The consumer group, and the consumer's name in `processed_events`.
    fn name(&self) -> &str;

    /// The topics it reads.
    fn topics(&self) -> Vec<String>;

    /// False for a live feed that only passes events on: it is applied without being
    /// recorded in `processed_events`, and its group starts at the latest offset.
    fn exactly_once(&self) -> bool {
        true
    }

    /// Applies one event inside `tx`, the transaction that also records it as processed.
    fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send;
}

/// The runner could not start or lost its consumer.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// Creating or subscribing the consumer, or the DLQ producer, failed.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

/// How often and how patiently a failing event is retried before it is dead-lettered.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts before the DLQ, at least 1.
    pub attempts: u32,
    /// Wait after the first failure; doubles after each, up to 30 s.
    pub backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 5,
            backoff: Duration::from_millis(200),
        }
    }
}

impl Retry {
    fn wait(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1));
        self.backoff
            .saturating_mul(factor)
            .min(Duration::from_secs(30))
    }
}

/// Runs one projection.
pub struct ConsumerRunner<P> {
    projection: P,
    pool: PgPool,
    settings: Settings,
    group: String,
    retry: Retry,
}

enum Outcome {
    Applied,
    Duplicate,
}

impl<P: Projection> ConsumerRunner<P> {
    /// A runner for `projection`, writing through `pool`.
    pub fn new(settings: &Settings, pool: PgPool, projection: P) -> Self {
        Self {
            group: projection.name().to_owned(),
            projection,
            pool,
            settings: settings.clone(),
            retry: Retry::default(),
        }
    }

    /// Uses another consumer group (a rebuild reads from the start in a new group).
    pub fn with_group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = Retry {
            attempts: retry.attempts.max(1),
            ..retry
        };
        self
    }

    /// Consumes until `shutdown`, then commits the stored offsets.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ConsumerError> {
        let consumer =
            stream_consumer(&self.settings, &self.group, self.projection.exactly_once())?;
        let topics = self.projection.topics();
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        let dead_letters = kafka::producer(&self.settings, &format!("{}-dlq", self.group))?;
        tracing::info!(consumer = %self.group, ?topics, "consumer started");

        loop {
            let message = tokio::select! {
                message = consumer.recv() => message,
                () = shutdown.cancelled() => break,
            };
            let message = match message {
                Ok(message) => message,
                Err(err) => {
                    tracing::warn!(consumer = %self.group, error = %err, "kafka consume error");
                    continue;
                }
            };
            if !self.handle(&message, &dead_letters, &shutdown).await {
                break; // shut down mid-retry: the offset stays unstored, the event comes back
            }
            // Only now: the projection's transaction (or the dead letter) is durable.
            if let Err(err) = consumer.store_offset_from_message(&message) {
                tracing::warn!(consumer = %self.group, error = %err, "cannot store offset");
            }
        }
        if let Err(err) = consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::warn!(consumer = %self.group, error = %err, "final offset commit failed");
        }
        tracing::info!(consumer = %self.group, "consumer stopped");
        Ok(())
    }

    /// Applies or dead-letters one message. False when shutdown interrupted it.
    async fn handle(
        &self,
        message: &BorrowedMessage<'_>,
        dead_letters: &FutureProducer,
        shutdown: &CancellationToken,
    ) -> bool {
        let event = match decode(message) {
            Ok(event) => event,
            Err(reason) => {
                return dead_letter(&self.group, message, &reason, 0, dead_letters, shutdown).await
            }
        };
        let mut failures = 0;
        loop {
            match self.apply_once(&event).await {
                Ok(Outcome::Applied) => return true,
                Ok(Outcome::Duplicate) => {
                    tracing::debug!(consumer = %self.group, event_id = %event.cloud.id, "already processed");
                    return true;
                }
                Err(Failure::Projection(err)) => {
                    failures += 1;
                    if failures >= self.retry.attempts {
                        let reason = err.to_string();
                        return dead_letter(
                            &self.group,
                            message,
                            &reason,
                            failures,
                            dead_letters,
                            shutdown,
                        )
                        .await;
                    }
                    tracing::warn!(consumer = %self.group, event_id = %event.cloud.id, attempt = failures, error = %err, "projection failed; retrying");
                }
                Err(Failure::Database(err)) => {
                    // An outage, not this event's fault: wait it out.
                    failures = failures.max(1);
                    tracing::warn!(consumer = %self.group, error = %err, "database unavailable; retrying");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.retry.wait(failures)) => {}
                () = shutdown.cancelled() => return false,
            }
        }
    }

    async fn apply_once(&self, event: &ConsumedEvent) -> Result<Outcome, Failure> {
        Ok(if apply(&self.pool, &self.projection, event).await? {
            Outcome::Applied
        } else {
            Outcome::Duplicate
        })
    }
}

/// A consumer in `group` whose offsets are stored by hand, after the work is durable, and
/// committed in the background.
fn stream_consumer(
    settings: &Settings,
    group: &str,
    from_earliest: bool,
) -> Result<StreamConsumer, ConsumerError> {
    Ok(kafka::client_config(settings, group)
        .set("group.id", group)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set(
            "auto.offset.reset",
            if from_earliest { "earliest" } else { "latest" },
        )
        .create()?)
}

/// Something that stores events in batches rather than a transaction each: an analytics
/// store. It must make a retried batch harmless; the runner retries a failed batch until
/// it is stored (an outage is waited out, never dead-lettered).
pub trait BatchSink: Send + Sync + 'static {
    /// The consumer group.
    fn name(&self) -> &str;

    /// The topics it reads.
    fn topics(&self) -> Vec<String>;

    /// Stores `events`, decoded, in the order they were read per partition.
    fn write(
        &self,
        events: &[ConsumedEvent],
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send;
}

/// How big a batch grows and how long it waits before it is written.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// Written once this many events are in hand.
    pub max_events: usize,
    /// Written this long after its first event arrived, however few.
    pub max_wait: Duration,
}

/// Runs one batch sink: reads, decodes (an undecodable message is dead-lettered), hands
/// the batch to the sink, and only then stores the offsets. The next batch is read while
/// one is being written; at most one is in flight, so offsets are stored in order.
pub struct BatchRunner<S> {
    sink: S,
    settings: Settings,
    group: String,
    batching: Batching,
    retry: Retry,
}

impl<S: BatchSink> BatchRunner<S> {
    /// A runner for `sink`.
    pub fn new(settings: &Settings, sink: S, batching: Batching) -> Self {
        Self {
            group: sink.name().to_owned(),
            sink,
            settings: settings.clone(),
            batching,
            retry: Retry::default(),
        }
    }

    /// Uses another consumer group.
    pub fn with_group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Consumes until `shutdown`, then commits the stored offsets.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ConsumerError> {
        let consumer = stream_consumer(&self.settings, &self.group, true)?;
        let topics = self.sink.topics();
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        let dead_letters = kafka::producer(&self.settings, &format!("{}-dlq", self.group))?;
        tracing::info!(consumer = %self.group, ?topics, "batch consumer started");
        let sink = std::sync::Arc::new(self.sink);
        let mut batch: Vec<ConsumedEvent> = Vec::with_capacity(self.batching.max_events);
        // The last offset handled per partition (stored, dead-lettered or in the batch);
        // storing it commits the one after.
        let mut read: Positions = Vec::new();
        // The batch being written while the next one is read, and what it read.
        let mut writing: InFlight = None;
        'run: loop {
            // Counted from the batch's first message, not from an idle wait.
            let mut deadline = None;
            while batch.len() < self.batching.max_events {
                let message = tokio::select! {
                    message = consumer.recv() => message,
                    () = sleep_until(deadline) => break,
                    () = shutdown.cancelled() => break 'run,
                    // The batch in flight is stored: its offsets are, at once, even if
                    // nothing more arrives.
                    stored = written(&mut writing), if writing.is_some() => {
                        let Some((_, its_read)) = writing.take() else { continue };
                        if !stored {
                            break 'run;
                        }
                        store_offsets(&consumer, &self.group, its_read);
                        continue;
                    }
                };
                let message = match message {
                    Ok(message) => message,
                    Err(err) => {
                        tracing::warn!(consumer = %self.group, error = %err, "kafka consume error");
                        continue;
                    }
                };
                match decode(&message) {
                    Ok(event) => batch.push(event),
                    Err(reason) => {
                        if !dead_letter(&self.group, &message, &reason, 0, &dead_letters, &shutdown)
                            .await
                        {
                            break 'run;
                        }
                    }
                }
                deadline.get_or_insert(tokio::time::Instant::now() + self.batching.max_wait);
                let (topic, partition) = (message.topic(), message.partition());
                match read.iter_mut().find(|r| r.0 == topic && r.1 == partition) {
                    Some(position) => position.2 = message.offset(),
                    None => read.push((topic.to_owned(), partition, message.offset())),
                }
            }
            // Offsets are stored in order: the batch before must be in first.
            if let Some((task, its_read)) = writing.take() {
                if !task.await.unwrap_or(false) {
                    break 'run; // shut down mid-retry: its offsets stay unstored
                }
                store_offsets(&consumer, &self.group, its_read);
            }
            if batch.is_empty() {
                store_offsets(&consumer, &self.group, std::mem::take(&mut read));
                continue;
            }
            let task = tokio::spawn(write_batch(
                sink.clone(),
                std::mem::take(&mut batch),
                self.retry,
                self.group.clone(),
                shutdown.clone(),
            ));
            writing = Some((task, std::mem::take(&mut read)));
        }
        if let Some((task, its_read)) = writing {
            if task.await.unwrap_or(false) {
                store_offsets(&consumer, &self.group, its_read);
            }
        }
        if let Err(err) = consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::warn!(consumer = %self.group, error = %err, "final offset commit failed");
        }
        tracing::info!(consumer = %self.group, "batch consumer stopped");
        Ok(())
    }
}

/// Writes `events` through `sink`, retrying until they are stored (true) or `shutdown`
/// (false: the batch is unstored and so must its offsets stay).
async fn write_batch<S: BatchSink>(
    sink: std::sync::Arc<S>,
    events: Vec<ConsumedEvent>,
    retry: Retry,
    group: String,
    shutdown: CancellationToken,
) -> bool {
    let mut failures = 0;
    loop {
        match sink.write(&events).await {
            Ok(()) => return true,
            Err(err) => {
                failures += 1;
                tracing::warn!(consumer = %group, events = events.len(), attempt = failures, error = %err, "batch not stored; retrying");
                tokio::select! {
                    () = tokio::time::sleep(retry.wait(failures)) => {}
                    () = shutdown.cancelled() => return false,
                }
            }
        }
    }
}

/// The last offset handled per topic and partition.
type Positions = Vec<(String, i32, i64)>;

/// A batch being written (true once stored) and the positions it covers.
type InFlight = Option<(tokio::task::JoinHandle<bool>, Positions)>;

/// Whether the batch in flight was stored, once its write ends.
async fn written(writing: &mut InFlight) -> bool {
    match writing {
        Some((task, _)) => task.await.unwrap_or(false),
        None => std::future::pending().await,
    }
}

fn store_offsets(consumer: &StreamConsumer, group: &str, read: Positions) {
    for (topic, partition, offset) in read {
        if let Err(err) = consumer.store_offset(&topic, partition, offset) {
            tracing::warn!(consumer = %group, error = %err, "cannot store offset");
        }
    }
}

/// Until `deadline`, or for ever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Publishes the message to `<topic>.dlq`, retrying until the broker has it: a dead
/// letter is never dropped. False when shutdown interrupted it.
async fn dead_letter(
    group: &str,
    message: &BorrowedMessage<'_>,
    reason: &str,
    attempts: u32,
    producer: &FutureProducer,
    shutdown: &CancellationToken,
) -> bool {
    let dlq_topic = format!("{}.dlq", message.topic());
    tracing::error!(consumer = %group, topic = message.topic(), partition = message.partition(), offset = message.offset(), error = reason, "dead-lettering a message");
    let mut headers = OwnedHeaders::new();
    if let Some(original) = message.headers() {
        for header in original.iter() {
            headers = headers.insert(Header {
                key: header.key,
                value: header.value,
            });
        }
    }
    let (partition, offset, attempts) = (
        message.partition().to_string(),
        message.offset().to_string(),
        attempts.to_string(),
    );
    for (key, value) in [
        ("dlq_consumer", group),
        ("dlq_error", reason),
        ("dlq_topic", message.topic()),
        ("dlq_partition", &partition),
        ("dlq_offset", &offset),
        ("dlq_attempts", &attempts),
    ] {
        headers = headers.insert(Header {
            key,
            value: Some(value),
        });
    }
    loop {
        let mut record = FutureRecord::to(&dlq_topic).headers(headers.clone());
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        match producer.send(record, Duration::from_secs(10)).await {
            Ok(_) => return true,
            Err((err, _)) => {
                tracing::error!(consumer = %group, topic = %dlq_topic, error = %err, "cannot publish dead letter; retrying")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = shutdown.cancelled() => return false,
        }
    }
}

/// Applying an event failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The projection refused it (retried, then dead-lettered).
    #[error("projection: {0}")]
    Projection(ProjectionError),
    /// The database is unavailable (retried until it is back).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Applies one event exactly once: in one transaction with its `processed_events` row.
/// False when the projection had already applied it. What the runner does per message,
/// and what tests use to feed a projection without Kafka.
pub async fn apply<P: Projection>(
    pool: &PgPool,
    projection: &P,
    event: &ConsumedEvent,
) -> Result<bool, Failure> {
    let mut tx = pool.begin().await?;
    if !projection.exactly_once() {
        projection
            .apply(&mut tx, event)
            .await
            .map_err(Failure::Projection)?;
        tx.commit().await?;
        return Ok(true);
    }
    let fresh = sqlx::query(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(projection.name())
    .bind(event.cloud.id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(false);
    }
    projection
        .apply(&mut tx, event)
        .await
        .map_err(Failure::Projection)?;
    tx.commit().await?;
    Ok(true)
}

/// Headers and payload into an event, or why not.
fn decode(message: &BorrowedMessage<'_>) -> Result<ConsumedEvent, String> {
    let headers = message.headers().ok_or("the message has no headers")?;
    let cloud = CloudEvent::from_kafka_headers(headers).map_err(|e| e.to_string())?;
    let payload = message.payload().ok_or("the message has no payload")?;
    let (schema, value) = Catalogue::embedded()
        .decode(payload)
        .map_err(|e| e.to_string())?;
    if schema.dataschema() != cloud.dataschema {
        return Err(format!(
            "ce_dataschema says {} but the payload is {}",
            cloud.dataschema,
            schema.dataschema()
        ));
    }
    Ok(ConsumedEvent {
        cloud,
        schema,
        payload: value,
        topic: message.topic().to_owned(),
        partition: message.partition(),
        offset: message.offset(),
    })
}
