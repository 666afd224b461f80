//! The consumer runners: `ConsumerRunner`, the Kafka consumer loop every projection uses,
//! and `BatchRunner` for sinks that store events in batches (analytics). The rules below
//! are the projection runner's. The batch runner shares its consumer setup and dead
//! letters, stores offsets only after the sink has stored the whole batch, and retries a
//! batch until it is stored; the sink makes a redelivered batch harmless.
//!
//! - One consumer group per projection. An offset is stored only after the projection's
//!   transaction committed (`enable.auto.offset.store=false`); the stored offsets are
//!   committed in the background and once more on shutdown.
//! - `processed_events(consumer, event_id)` is written in the same transaction as the
//!   projection's change, so a redelivered event changes nothing.
//! - The events one poll brings (what the last fetch left queued, never waited for) are
//!   applied in one transaction, saving each its own round trips. When that fails they
//!   are applied one by one, so a bad event is retried and dead-lettered alone. A
//!   projection whose locks could deadlock with request handlers applies one at a time,
//!   or takes its locks for all the events first (`apply_all`); one whose locks make
//!   handlers wait takes a few events at a time (`events_per_transaction`).
//! - A projection error is retried with exponential backoff; after the last attempt the
//!   message goes to `<topic>.dlq` with headers naming the consumer, the error and the
//!   original partition and offset, and the consumer moves on. A message that cannot be
//!   decoded goes there at once: retrying cannot fix it. Database or broker outages are
//!   retried until they end, never dead-lettered.
//! - Every consumer reports, through librdkafka's statistics, how many messages of each
//!   partition it has not stored yet (`consumer_lag_messages`), and counts what it
//!   dead-letters (`consumer_dead_letters_total`).

use std::{future::Future, time::Duration};

use bazaar_schemas::{AvroValue, Catalogue, CloudEvent, EventSchema};
use futures::FutureExt;
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use rdkafka::{
    consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer},
    message::{BorrowedMessage, Header, Headers, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
    ClientContext, Message, Offset, Statistics, TopicPartitionList,
};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{db, kafka, Settings};

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
    /// The span `consumer` applies this event in: a child of the span that wrote it.
    pub fn span(&self, consumer: &str) -> tracing::Span {
        crate::telemetry::process_span(
            consumer,
            &self.topic,
            &self.cloud.event_type,
            self.cloud.traceparent.as_deref(),
        )
    }

    /// Whether this is an event of type `E` (any version: each reads the one before).
    pub fn is<E: bazaar_schemas::Event>(&self) -> bool {
        self.cloud.event_type == E::TYPE
    }

    /// The payload as its generated type `E`, read as `E`'s version: a payload written
    /// with an older version is resolved to it (fields added since take their defaults).
    pub fn payload<E: bazaar_schemas::Event>(&self) -> Result<E, ProjectionError> {
        if !self.is::<E>() {
            return Err(format!("{} is not a {}", self.cloud.event_type, E::TYPE).into());
        }
        let reader = Catalogue::embedded().get(E::TYPE, E::VERSION)?;
        if self.schema.version == E::VERSION {
            return Ok(bazaar_schemas::from_value(&self.payload)?);
        }
        let resolved = self.payload.clone().resolve(&reader.schema)?;
        Ok(bazaar_schemas::from_value(&resolved)?)
    }

    /// The payload of an event that is an `A` or a `B`, as a `B`: one reader for a
    /// creation and its updates, which carry the same facts.
    pub fn payload_into<A, B>(&self) -> Result<B, ProjectionError>
    where
        A: bazaar_schemas::Event + Into<B>,
        B: bazaar_schemas::Event,
    {
        if self.is::<A>() {
            Ok(self.payload::<A>()?.into())
        } else {
            self.payload::<B>()
        }
    }

    /// The payload as JSON, whatever its type: for a reader that keeps every event whole
    /// (the analytics event log). A reader of a known type uses [`ConsumedEvent::payload`].
    pub fn json(&self) -> Result<serde_json::Value, ProjectionError> {
        Ok(bazaar_schemas::from_value(&self.payload)?)
    }
}

/// An event of a type the projection claims in [`Projection::event_types`] that its
/// `apply` has no arm for: an error, so the event is dead-lettered instead of recorded as
/// processed and lost. `testing::claimed_types_are_applied` finds these before they ship.
#[derive(Debug, thiserror::Error)]
#[error("{projection} claims {event_type} but does not apply it")]
pub struct Unhandled {
    /// The projection.
    pub projection: String,
    /// The event type.
    pub event_type: String,
}

/// [`Unhandled`] for `event`, as `apply`'s last match arm answers.
pub fn unhandled(projection: &str, event: &ConsumedEvent) -> ProjectionError {
    Box::new(Unhandled {
        projection: projection.to_owned(),
        event_type: event.cloud.event_type.clone(),
    })
}

/// Something built from events, in the consuming service's database.
pub trait Projection: Send + Sync + 'static {
    /// The consumer group, and the consumer's name in `processed_events`.
    fn name(&self) -> &str;

    /// The topics it reads.
    fn topics(&self) -> Vec<String>;

    /// False for a live feed that only passes events on: it is applied without being
    /// recorded in `processed_events`, and every process running it reads every partition
    /// from the latest offset, in no consumer group (a group would share the partitions
    /// out among the processes, and leave a group behind per process started).
    fn exactly_once(&self) -> bool {
        true
    }

    /// The event types `apply` applies, one match arm each, ending in
    /// [`unhandled`]. The others are passed over unread and without a transaction: a
    /// checkout's dozen events cost a projection that uses one of them one transaction,
    /// not twelve.
    fn event_types(&self) -> &[&'static str];

    /// Whether an event of this type can change the projection: one of [`Self::event_types`].
    fn handles(&self, event_type: &str) -> bool {
        self.event_types().contains(&event_type)
    }

    /// Whether the events one poll brings may be applied in one transaction. Say no when
    /// `apply` locks rows that request handlers lock too, unless `apply_all` locks them
    /// all first in the handlers' order: one event after another, the locks cannot
    /// follow it, and the two could deadlock.
    fn shares_transactions(&self) -> bool {
        true
    }

    /// Applies one event inside `tx`, the transaction that also records it as processed,
    /// with the event's tenant already set for it (row-level security sees that tenant).
    fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send;

    /// The most events applied in one transaction when the projection shares them: fewer
    /// keep the locks they take short, for request handlers that wait on the same rows.
    fn events_per_transaction(&self) -> usize {
        POLL_LIMIT
    }

    /// Applies events of one tenant, in order, inside one `tx`: what a poll brought, when
    /// the projection shares transactions. One by one unless the projection can write
    /// several with one statement.
    fn apply_all(
        &self,
        tx: &mut PgConnection,
        events: &[&ConsumedEvent],
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send {
        async move {
            for event in events {
                self.apply(tx, event)
                    .instrument(event.span(self.name()))
                    .await?;
            }
            Ok(())
        }
    }
}

/// The runner could not start or lost its consumer.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// Creating or subscribing the consumer, or the DLQ producer, failed.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// A live feed could not be given its partitions.
    #[error("assigning the partitions: {0}")]
    Assignment(String),
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

/// What consumers export on `/metrics`: how far each partition is behind, and what was
/// dead-lettered.
#[derive(Clone)]
pub struct ConsumerMetrics {
    lag: IntGaugeVec,
    dead_letters: IntCounterVec,
}

impl ConsumerMetrics {
    /// Registers the consumer metrics on `registry`.
    pub fn new(registry: &Registry) -> Self {
        let lag = IntGaugeVec::new(
            Opts::new(
                "consumer_lag_messages",
                "Messages on the partition the consumer has not stored yet (refreshed every 5 s)",
            ),
            &["group", "topic", "partition"],
        )
        .expect("valid metric definition");
        let dead_letters = IntCounterVec::new(
            Opts::new(
                "consumer_dead_letters_total",
                "Messages the consumer gave up on and sent to <topic>.dlq",
            ),
            &["group", "topic"],
        )
        .expect("valid metric definition");
        registry
            .register(Box::new(lag.clone()))
            .expect("registered once");
        registry
            .register(Box::new(dead_letters.clone()))
            .expect("registered once");
        Self { lag, dead_letters }
    }
}

impl Default for ConsumerMetrics {
    /// Metrics nobody reads: for a runner whose process exports none.
    fn default() -> Self {
        Self::new(&Registry::new())
    }
}

/// The most messages of one poll a projection runner applies together.
const POLL_LIMIT: usize = 200;

/// How often librdkafka reports the consumer's statistics, the lag among them.
const STATISTICS_INTERVAL: Duration = Duration::from_secs(5);

/// The consumers' librdkafka context: turns its statistics into the lag gauges.
pub struct LagReport {
    group: String,
    metrics: ConsumerMetrics,
    /// Per assigned partition: the end of the log as last seen, and where the group has
    /// stored (or committed) its place.
    partitions: std::sync::Mutex<std::collections::HashMap<(String, i32), (i64, i64)>>,
}

impl LagReport {
    /// Records what is known of a partition and sets its lag. `end` only moves forward:
    /// a paused partition's statistics repeat the end seen before the pause.
    fn update(&self, topic: &str, partition: i32, end: i64, position: Option<i64>) {
        let mut partitions = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        let known = partitions
            .entry((topic.to_owned(), partition))
            .or_insert((end, -1));
        known.0 = known.0.max(end);
        if let Some(position) = position.filter(|p| *p >= 0) {
            known.1 = position;
        }
        let partition = partition.to_string();
        let labels = [self.group.as_str(), topic, partition.as_str()];
        if known.1 >= 0 {
            self.metrics
                .lag
                .with_label_values(&labels)
                .set((known.0 - known.1).max(0));
        }
    }

    fn forget(&self, topic: &str, partition: i32) {
        let mut partitions = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        partitions.remove(&(topic.to_owned(), partition));
        let partition = partition.to_string();
        let _ =
            self.metrics
                .lag
                .remove_label_values(&[self.group.as_str(), topic, partition.as_str()]);
    }

    fn known(&self) -> Vec<(String, i32)> {
        let partitions = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        partitions.keys().cloned().collect()
    }
}

impl ClientContext for LagReport {
    fn stats(&self, statistics: Statistics) {
        for topic in statistics.topics.values() {
            for (id, partition) in &topic.partitions {
                if *id < 0 {
                    continue; // librdkafka's internal "unassigned" partition
                }
                if partition.fetch_state != "active" {
                    // Revoked: no figure rather than a stale one.
                    self.forget(&topic.topic, *id);
                    continue;
                }
                // Stored offsets run ahead of the committed ones between commits.
                let position = if partition.stored_offset >= 0 {
                    partition.stored_offset
                } else {
                    partition.committed_offset
                };
                self.update(&topic.topic, *id, partition.hi_offset, Some(position));
            }
        }
    }
}

/// Asks the brokers for the end of every partition the consumer knows, and updates its
/// lag: while a runner holds its partitions paused, librdkafka fetches nothing and its
/// statistics repeat the end seen before the pause. Blocking: run it off the runtime.
fn refresh_lag(consumer: &Reader) {
    let report = consumer.context();
    for (topic, partition) in report.known() {
        if let Ok((_, end)) = consumer.fetch_watermarks(&topic, partition, Duration::from_secs(2)) {
            report.update(&topic, partition, end, None);
        }
    }
}

impl ConsumerContext for LagReport {}

/// The Kafka consumer every runner uses.
type Reader = StreamConsumer<LagReport>;

/// Every partition of `topics`, at its end: a live feed's assignment. Partitions added to
/// a topic later are read after the process restarts.
fn every_partition_from_the_end(
    consumer: &Reader,
    topics: &[String],
) -> Result<TopicPartitionList, ConsumerError> {
    let mut assignment = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
        let partitions = metadata
            .topics()
            .first()
            .map(|t| t.partitions().len())
            .unwrap_or_default();
        if partitions == 0 {
            return Err(ConsumerError::Assignment(format!(
                "topic {topic} has no partitions"
            )));
        }
        for partition in 0..partitions {
            let partition = i32::try_from(partition).unwrap_or(i32::MAX);
            assignment.add_partition_offset(topic, partition, Offset::End)?;
        }
    }
    Ok(assignment)
}

/// Runs one projection.
pub struct ConsumerRunner<P> {
    projection: P,
    pool: PgPool,
    settings: Settings,
    group: String,
    retry: Retry,
    metrics: ConsumerMetrics,
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
            metrics: ConsumerMetrics::default(),
        }
    }

    /// Reports lag and dead letters on `metrics`.
    pub fn with_metrics(mut self, metrics: ConsumerMetrics) -> Self {
        self.metrics = metrics;
        self
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
        let consumer = std::sync::Arc::new(stream_consumer(
            &self.settings,
            &self.group,
            self.projection.exactly_once(),
            &self.metrics,
        )?);
        let topics = self.projection.topics();
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        let live = !self.projection.exactly_once();
        if live {
            let (reader, topics) = (
                consumer.clone(),
                topics.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>(),
            );
            // The metadata call blocks its thread.
            let assignment =
                tokio::task::spawn_blocking(move || every_partition_from_the_end(&reader, &topics))
                    .await
                    .map_err(|err| ConsumerError::Assignment(err.to_string()))??;
            consumer.assign(&assignment)?;
        } else {
            consumer.subscribe(&topics)?;
        }
        let dead_letters = kafka::producer(&self.settings, &format!("{}-dlq", self.group))?;
        tracing::info!(consumer = %self.group, ?topics, "consumer started");

        let mut messages = Vec::with_capacity(POLL_LIMIT);
        loop {
            let message = tokio::select! {
                message = consumer.recv() => message,
                () = shutdown.cancelled() => break,
            };
            self.keep(message, &mut messages);
            // What the same fetch brought is applied with it; nothing is waited for.
            while messages.len() < POLL_LIMIT {
                match consumer.recv().now_or_never() {
                    Some(message) => self.keep(message, &mut messages),
                    None => break,
                }
            }
            if !self.handle(&messages, &dead_letters, &shutdown).await {
                break; // shut down mid-retry: the offsets stay unstored, the events come back
            }
            // Only now: the projection's transactions (or the dead letters) are durable.
            for message in messages.drain(..) {
                if let Err(err) = consumer.store_offset_from_message(&message) {
                    tracing::warn!(consumer = %self.group, error = %err, "cannot store offset");
                }
            }
        }
        if live {
            // Nothing to commit: the next process starts from the end again.
        } else if let Err(err) = consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::warn!(consumer = %self.group, error = %err, "final offset commit failed");
        }
        tracing::info!(consumer = %self.group, "consumer stopped");
        Ok(())
    }

    /// Adds a message read to the poll's, or logs why there is none.
    fn keep<'m>(
        &self,
        message: Result<BorrowedMessage<'m>, rdkafka::error::KafkaError>,
        messages: &mut Vec<BorrowedMessage<'m>>,
    ) {
        match message {
            Ok(message) => messages.push(message),
            Err(err) => {
                tracing::warn!(consumer = %self.group, error = %err, "kafka consume error")
            }
        }
    }

    /// Applies or dead-letters the messages of one poll: a transaction per tenant when the
    /// projection allows it, and one by one when that fails, so one bad event costs the
    /// others nothing. False when shutdown interrupted it.
    async fn handle(
        &self,
        messages: &[BorrowedMessage<'_>],
        dead_letters: &FutureProducer,
        shutdown: &CancellationToken,
    ) -> bool {
        let mut events = Vec::with_capacity(messages.len());
        for message in messages {
            match decode(message, |t| self.projection.handles(t)) {
                Ok(Some(event)) => events.push((message, event)),
                Ok(None) => {}
                Err(reason) => {
                    let (group, metrics) = (&self.group, &self.metrics);
                    if !dead_letter(group, message, &reason, 0, dead_letters, metrics, shutdown)
                        .await
                    {
                        return false;
                    }
                }
            }
        }
        let together = self.projection.exactly_once() && self.projection.shares_transactions();
        // One transaction per tenant: the tenant is set per transaction, and what runs at
        // commit (deferred checks) sees only the one set last.
        let mut tenants: Vec<uuid::Uuid> = Vec::new();
        for (_, event) in &events {
            if !tenants.contains(&event.cloud.tenant) {
                tenants.push(event.cloud.tenant);
            }
        }
        let per_transaction = self.projection.events_per_transaction().max(1);
        for tenant in tenants {
            let of_tenant: Vec<_> = events
                .iter()
                .filter(|(_, event)| event.cloud.tenant == tenant)
                .collect();
            for some in of_tenant.chunks(per_transaction) {
                if together && some.len() > 1 {
                    let batch = some.iter().map(|(_, event)| event);
                    match apply_poll(&self.pool, &self.projection, tenant, batch).await {
                        Ok(()) => continue,
                        Err(err) => {
                            tracing::debug!(consumer = %self.group, events = some.len(), error = %err, "a poll's events failed together; applying them one by one")
                        }
                    }
                }
                for (message, event) in some {
                    if !self.settle(message, event, dead_letters, shutdown).await {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Applies one event, retrying, or dead-letters it. False when shutdown interrupted it.
    async fn settle(
        &self,
        message: &BorrowedMessage<'_>,
        event: &ConsumedEvent,
        dead_letters: &FutureProducer,
        shutdown: &CancellationToken,
    ) -> bool {
        let mut failures = 0;
        loop {
            match self.apply_once(event).await {
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
                            &self.metrics,
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
/// committed in the background; or, for a live feed (not `exactly_once`), one that starts
/// at the end and commits nothing.
fn stream_consumer(
    settings: &Settings,
    group: &str,
    exactly_once: bool,
    metrics: &ConsumerMetrics,
) -> Result<Reader, ConsumerError> {
    let context = LagReport {
        group: group.to_owned(),
        metrics: metrics.clone(),
        partitions: Default::default(),
    };
    Ok(kafka::client_config(settings, group)
        .set("group.id", group)
        .set(
            "statistics.interval.ms",
            STATISTICS_INTERVAL.as_millis().to_string(),
        )
        // A live feed commits nothing: it is in no group (see `Projection::exactly_once`).
        .set("enable.auto.commit", exactly_once.to_string())
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set(
            "auto.offset.reset",
            if exactly_once { "earliest" } else { "latest" },
        )
        .create_with_context(context)?)
}

/// Something that stores events in batches rather than a transaction each: an analytics
/// store. It must make a retried batch harmless; the runner retries a failed batch until
/// it is stored (an outage is waited out, never dead-lettered).
pub trait BatchSink: Send + Sync + 'static {
    /// The consumer group.
    fn name(&self) -> &str;

    /// The topics it reads.
    fn topics(&self) -> Vec<String>;

    /// Stores `batch`, in the order it was read per partition.
    fn write(&self, batch: &Batch) -> impl Future<Output = Result<(), ProjectionError>> + Send;
}

/// What a batch sink is handed: the events read, decoded, and the dead letters read from
/// `<topic>.dlq` topics (a sink that subscribes to them), described by their headers.
#[derive(Debug, Default)]
pub struct Batch {
    /// Events, in the order read per partition.
    pub events: Vec<ConsumedEvent>,
    /// Dead letters, in the order read per partition.
    pub dead_letters: Vec<DeadLetter>,
}

impl Batch {
    fn len(&self) -> usize {
        self.events.len() + self.dead_letters.len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A message of a `<topic>.dlq` topic, as its headers tell it. The payload is not decoded:
/// it may be the reason the message is there. Fields a header did not carry are empty.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The consumer group that gave up on it.
    pub consumer: String,
    /// Why.
    pub error: String,
    /// How many times it was tried (0: it could not be decoded).
    pub attempts: u32,
    /// Where it was first published.
    pub original_topic: String,
    /// Its partition there.
    pub original_partition: i32,
    /// Its offset there.
    pub original_offset: i64,
    /// Its CloudEvents id, type and tenant, when its headers had them.
    pub event_id: String,
    /// Its event type.
    pub event_type: String,
    /// Its tenant.
    pub tenant: String,
    /// When it was dead-lettered (the dead letter's timestamp).
    pub dead_lettered_at: chrono::DateTime<chrono::Utc>,
    /// The dead-letter topic it was read from.
    pub topic: String,
    /// Its partition in that topic.
    pub partition: i32,
    /// Its offset in that topic.
    pub offset: i64,
}

impl DeadLetter {
    fn read(message: &BorrowedMessage<'_>) -> Self {
        let header = |name: &str| -> String {
            message
                .headers()
                .and_then(|headers| headers.iter().find(|h| h.key == name).and_then(|h| h.value))
                .map(|value| String::from_utf8_lossy(value).into_owned())
                .unwrap_or_default()
        };
        let millis = message.timestamp().to_millis().unwrap_or_default();
        Self {
            consumer: header("dlq_consumer"),
            error: header("dlq_error"),
            attempts: header("dlq_attempts").parse().unwrap_or_default(),
            original_topic: header("dlq_topic"),
            original_partition: header("dlq_partition").parse().unwrap_or(-1),
            original_offset: header("dlq_offset").parse().unwrap_or(-1),
            event_id: header("ce_id"),
            event_type: header("ce_type"),
            tenant: header("ce_tenant"),
            dead_lettered_at: chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default(),
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
        }
    }
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
    sink: std::sync::Arc<S>,
    settings: Settings,
    group: String,
    batching: Batching,
    retry: Retry,
    metrics: ConsumerMetrics,
}

impl<S: BatchSink> BatchRunner<S> {
    /// A runner for `sink`.
    pub fn new(settings: &Settings, sink: S, batching: Batching) -> Self {
        Self {
            group: sink.name().to_owned(),
            sink: std::sync::Arc::new(sink),
            settings: settings.clone(),
            batching,
            retry: Retry::default(),
            metrics: ConsumerMetrics::default(),
        }
    }

    /// Reports lag and dead letters on `metrics`.
    pub fn with_metrics(mut self, metrics: ConsumerMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Uses another consumer group.
    pub fn with_group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Consumes until `shutdown`, then commits the stored offsets.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ConsumerError> {
        let consumer = std::sync::Arc::new(stream_consumer(
            &self.settings,
            &self.group,
            true,
            &self.metrics,
        )?);
        let topics = self.sink.topics();
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        let dead_letters = kafka::producer(&self.settings, &format!("{}-dlq", self.group))?;
        tracing::info!(consumer = %self.group, ?topics, "batch consumer started");
        let sink = self.sink.clone();
        let mut batch = Batch {
            events: Vec::with_capacity(self.batching.max_events),
            dead_letters: Vec::new(),
        };
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
                if !self
                    .take(message, &mut batch, &mut read, &dead_letters, &shutdown)
                    .await
                {
                    break 'run;
                }
                deadline.get_or_insert(tokio::time::Instant::now() + self.batching.max_wait);
            }
            // Offsets are stored in order: the batch before must be in first. Meanwhile
            // the consumer is polled with its partitions paused: librdkafka reports its
            // statistics (the lag) and keeps its place in the group only while polled,
            // and a ClickHouse outage can hold a batch for minutes.
            if writing.is_some() {
                let assignment = consumer.assignment().ok();
                if let Some(assignment) = &assignment {
                    let _ = consumer.pause(assignment);
                }
                let mut refresh = tokio::time::interval(STATISTICS_INTERVAL);
                let mut refreshing: Option<tokio::task::JoinHandle<()>> = None;
                let stored = loop {
                    tokio::select! {
                        stored = written(&mut writing) => break stored,
                        _ = refresh.tick() => {
                            if refreshing.as_ref().is_none_or(|task| task.is_finished()) {
                                let consumer = consumer.clone();
                                refreshing = Some(tokio::task::spawn_blocking(move || {
                                    refresh_lag(&consumer);
                                }));
                            }
                        }
                        // Fetched before the pause took hold: it joins the next batch.
                        message = consumer.recv() => {
                            if !self.take(message, &mut batch, &mut read, &dead_letters, &shutdown).await {
                                break 'run;
                            }
                        }
                    }
                };
                if let Some(assignment) = &assignment {
                    let _ = consumer.resume(assignment);
                }
                let Some((_, its_read)) = writing.take() else {
                    continue;
                };
                if !stored {
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

impl<S: BatchSink> BatchRunner<S> {
    /// Adds a message read to `batch` (an undecodable one is dead-lettered instead) and
    /// records it as read. False when shutdown interrupted a dead letter.
    async fn take(
        &self,
        message: Result<BorrowedMessage<'_>, rdkafka::error::KafkaError>,
        batch: &mut Batch,
        read: &mut Positions,
        dead_letters: &FutureProducer,
        shutdown: &CancellationToken,
    ) -> bool {
        let message = match message {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!(consumer = %self.group, error = %err, "kafka consume error");
                return true;
            }
        };
        if message.topic().ends_with(DEAD_LETTERS) {
            batch.dead_letters.push(DeadLetter::read(&message));
        } else {
            match decode(&message, |_| true) {
                Ok(event) => batch.events.extend(event),
                Err(reason) => {
                    let (group, metrics) = (&self.group, &self.metrics);
                    if !dead_letter(group, &message, &reason, 0, dead_letters, metrics, shutdown)
                        .await
                    {
                        return false;
                    }
                }
            }
        }
        let (topic, partition) = (message.topic(), message.partition());
        match read.iter_mut().find(|r| r.0 == topic && r.1 == partition) {
            Some(position) => position.2 = message.offset(),
            None => read.push((topic.to_owned(), partition, message.offset())),
        }
        true
    }
}

/// Writes `batch` through `sink`, retrying until they are stored (true) or `shutdown`
/// (false: the batch is unstored and so must its offsets stay).
async fn write_batch<S: BatchSink>(
    sink: std::sync::Arc<S>,
    batch: Batch,
    retry: Retry,
    group: String,
    shutdown: CancellationToken,
) -> bool {
    let mut failures = 0;
    loop {
        match sink.write(&batch).await {
            Ok(()) => return true,
            Err(err) => {
                failures += 1;
                tracing::warn!(consumer = %group, messages = batch.len(), attempt = failures, error = %err, "batch not stored; retrying");
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

fn store_offsets(consumer: &Reader, group: &str, read: Positions) {
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

/// What a dead-letter topic's name ends with: `<topic>.dlq`.
pub const DEAD_LETTERS: &str = ".dlq";

/// Publishes the message to `<topic>.dlq`, retrying until the broker has it: a dead
/// letter is never dropped. False when shutdown interrupted it.
async fn dead_letter(
    group: &str,
    message: &BorrowedMessage<'_>,
    reason: &str,
    attempts: u32,
    producer: &FutureProducer,
    metrics: &ConsumerMetrics,
    shutdown: &CancellationToken,
) -> bool {
    let dlq_topic = format!("{}{DEAD_LETTERS}", message.topic());
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
            Ok(_) => {
                metrics
                    .dead_letters
                    .with_label_values(&[group, message.topic()])
                    .inc();
                return true;
            }
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
    if !projection.handles(&event.cloud.event_type) {
        return Ok(true);
    }
    if !projection.exactly_once() {
        let mut tx = db::begin_for_tenant(pool, event.cloud.tenant).await?;
        projection
            .apply(&mut tx, event)
            .instrument(event.span(projection.name()))
            .await
            .map_err(Failure::Projection)?;
        tx.commit().await?;
        return Ok(true);
    }
    let mut tx = pool.begin().await?;
    // The event's tenant is set in the same round trip, for the projection's statements.
    let fresh = sqlx::query(
        "INSERT INTO processed_events (consumer, event_id) SELECT $1, $2 \
         WHERE set_config('bazaar.tenant', $3, true) IS NOT NULL ON CONFLICT DO NOTHING",
    )
    .bind(projection.name())
    .bind(event.cloud.id)
    .bind(event.cloud.tenant.to_string())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(false);
    }
    projection
        .apply(&mut tx, event)
        .instrument(event.span(projection.name()))
        .await
        .map_err(Failure::Projection)?;
    tx.commit().await?;
    Ok(true)
}

/// Applies events of `tenant` in one transaction with their `processed_events` rows, in
/// order, each once: those already processed (and repeats within `events`) are passed over.
/// What the runner does with a poll's events, and what tests use to feed several at once.
pub async fn apply_poll<'e, P: Projection>(
    pool: &PgPool,
    projection: &P,
    tenant: uuid::Uuid,
    events: impl Iterator<Item = &'e ConsumedEvent> + Clone,
) -> Result<(), Failure> {
    let mut tx = pool.begin().await?;
    let ids: Vec<uuid::Uuid> = events.clone().map(|event| event.cloud.id).collect();
    let mut fresh: std::collections::HashSet<uuid::Uuid> = sqlx::query_scalar(
        "INSERT INTO processed_events (consumer, event_id) SELECT $1, * FROM UNNEST($2::uuid[]) \
         WHERE set_config('bazaar.tenant', $3, true) IS NOT NULL \
         ON CONFLICT DO NOTHING RETURNING event_id",
    )
    .bind(projection.name())
    .bind(&ids)
    .bind(tenant.to_string())
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let events: Vec<&ConsumedEvent> = events
        .filter(|event| fresh.remove(&event.cloud.id))
        .collect();
    projection
        .apply_all(&mut tx, &events)
        .await
        .map_err(Failure::Projection)?;
    tx.commit().await?;
    Ok(())
}

/// Headers and payload into an event, or why not; `None` when `wanted` passes over its
/// type, before the payload is decoded.
fn decode(
    message: &BorrowedMessage<'_>,
    wanted: impl Fn(&str) -> bool,
) -> Result<Option<ConsumedEvent>, String> {
    let headers = message.headers().ok_or("the message has no headers")?;
    let cloud = CloudEvent::from_kafka_headers(headers).map_err(|e| e.to_string())?;
    if !wanted(&cloud.event_type) {
        return Ok(None);
    }
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
    Ok(Some(ConsumedEvent {
        cloud,
        schema,
        payload: value,
        topic: message.topic().to_owned(),
        partition: message.partition(),
        offset: message.offset(),
    }))
}
