//! `bazaar dlq list|replay <topic>`: inspect and re-publish dead letters.
//!
//! A replayed message goes back to its original topic with its original headers, so it
//! keeps its `ce_id`: projections that already applied it drop it, the one that failed
//! applies it. Replay progress is the committed offset of the `bazaar-dlq-replay` group,
//! so each dead letter is replayed once.

use std::time::Duration;

use anyhow::Context;
use bazaar_platform::{kafka, Settings};
use rdkafka::{
    consumer::{BaseConsumer, CommitMode, Consumer},
    message::{Header, Headers, OwnedHeaders},
    producer::FutureRecord,
    Message, Offset, TopicPartitionList,
};

const TIMEOUT: Duration = Duration::from_secs(10);
const REPLAY_GROUP: &str = "bazaar-dlq-replay";

/// One dead letter as read from `<topic>.dlq`.
struct DeadLetter {
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    headers: Vec<(String, Vec<u8>)>,
}

impl DeadLetter {
    fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
            .unwrap_or_else(|| "-".to_owned())
    }
}

fn dlq_topic(topic: &str) -> String {
    if topic.ends_with(".dlq") {
        topic.to_owned()
    } else {
        format!("{topic}.dlq")
    }
}

/// Prints every dead letter of `topic`.
pub(crate) async fn list(settings: &Settings, topic: &str) -> anyhow::Result<()> {
    let dlq = dlq_topic(topic);
    let settings = settings.clone();
    let letters = tokio::task::spawn_blocking(move || read(&settings, &dlq, None)).await??;
    for letter in &letters {
        out!(
            "{}:{}  {}  {}  consumer={} attempts={} from={}:{}/{}\n    error: {}",
            letter.partition,
            letter.offset,
            letter.header("ce_type"),
            letter.header("ce_id"),
            letter.header("dlq_consumer"),
            letter.header("dlq_attempts"),
            letter.header("dlq_topic"),
            letter.header("dlq_partition"),
            letter.header("dlq_offset"),
            letter.header("dlq_error"),
        );
    }
    out!("{} dead letters", letters.len());
    Ok(())
}

/// Re-publishes the dead letters of `topic` not replayed before.
pub(crate) async fn replay(settings: &Settings, topic: &str) -> anyhow::Result<()> {
    let dlq = dlq_topic(topic);
    let (reader_settings, reader_topic) = (settings.clone(), dlq.clone());
    let (letters, consumer) = tokio::task::spawn_blocking(move || {
        let consumer = replay_consumer(&reader_settings)?;
        let letters = read(&reader_settings, &reader_topic, Some(&consumer))?;
        anyhow::Ok((letters, consumer))
    })
    .await??;
    let producer = kafka::producer(settings, "bazaar-dlq-replay")?;
    let mut done = TopicPartitionList::new();
    for letter in &letters {
        let original = letter.header("dlq_topic");
        anyhow::ensure!(
            original != "-",
            "{dlq}:{}:{} has no dlq_topic header; not a Bazaar dead letter",
            letter.partition,
            letter.offset
        );
        let headers = letter
            .headers
            .iter()
            .filter(|(key, _)| !key.starts_with("dlq_"))
            .fold(OwnedHeaders::new(), |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: Some(value),
                })
            });
        let mut record = FutureRecord::to(&original).headers(headers);
        if let Some(key) = &letter.key {
            record = record.key(key);
        }
        if let Some(payload) = &letter.payload {
            record = record.payload(payload);
        }
        producer
            .send(record, TIMEOUT)
            .await
            .map_err(|(err, _)| err)
            .with_context(|| format!("replaying {dlq}:{}:{}", letter.partition, letter.offset))?;
        done.add_partition_offset(&dlq, letter.partition, Offset::Offset(letter.offset + 1))?;
        out!(
            "replayed {dlq}:{}:{} ({} {}) to {original}",
            letter.partition,
            letter.offset,
            letter.header("ce_type"),
            letter.header("ce_id")
        );
    }
    if done.count() > 0 {
        tokio::task::spawn_blocking(move || consumer.commit(&done, CommitMode::Sync)).await??;
    }
    out!("{} dead letters replayed", letters.len());
    Ok(())
}

/// The group's committed offset. Retried: a broker answers NotCoordinator while the
/// group's coordinator is loading or moving.
fn committed(
    consumer: &BaseConsumer,
    topic: &str,
    partition: i32,
) -> anyhow::Result<Option<Offset>> {
    let mut wanted = TopicPartitionList::new();
    wanted.add_partition(topic, partition);
    let mut attempt = 0;
    loop {
        match consumer.committed_offsets(wanted.clone(), TIMEOUT) {
            Ok(list) => return Ok(list.find_partition(topic, partition).map(|p| p.offset())),
            Err(err) if attempt < 10 => {
                attempt += 1;
                tracing::warn!(%topic, partition, error = %err, "reading the replay offset; retrying");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(err) => return Err(err).context("reading the replay offset"),
        }
    }
}

fn replay_consumer(settings: &Settings) -> anyhow::Result<BaseConsumer> {
    Ok(kafka::client_config(settings, REPLAY_GROUP)
        .set("group.id", REPLAY_GROUP)
        .set("enable.auto.commit", "false")
        .create()?)
}

/// Reads `topic` up to its current end: from the start, or from `group`'s committed
/// offsets when given.
fn read(
    settings: &Settings,
    topic: &str,
    group: Option<&BaseConsumer>,
) -> anyhow::Result<Vec<DeadLetter>> {
    let standalone;
    let consumer = match group {
        Some(consumer) => consumer,
        None => {
            standalone = kafka::client_config(settings, "bazaar-dlq")
                .set("group.id", "bazaar-dlq-list")
                .set("enable.auto.commit", "false")
                .create::<BaseConsumer>()?;
            &standalone
        }
    };
    let metadata = consumer.fetch_metadata(Some(topic), TIMEOUT)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    anyhow::ensure!(!partitions.is_empty(), "topic {topic} does not exist");

    let mut assignment = TopicPartitionList::new();
    let mut ends = Vec::new();
    for &partition in &partitions {
        let (low, high) = consumer.fetch_watermarks(topic, partition, TIMEOUT)?;
        let start = match group {
            Some(consumer) => match committed(consumer, topic, partition)? {
                Some(Offset::Offset(committed)) => committed.max(low),
                _ => low,
            },
            None => low,
        };
        if start < high {
            assignment.add_partition_offset(topic, partition, Offset::Offset(start))?;
            ends.push((partition, high));
        }
    }
    let mut letters = Vec::new();
    if ends.is_empty() {
        return Ok(letters);
    }
    consumer.assign(&assignment)?;
    let wanted: i64 = ends
        .iter()
        .map(|(p, high)| {
            let start = match assignment.find_partition(topic, *p).map(|e| e.offset()) {
                Some(Offset::Offset(start)) => start,
                _ => 0,
            };
            high - start
        })
        .sum();
    while (letters.len() as i64) < wanted {
        let message = consumer
            .poll(TIMEOUT)
            .with_context(|| format!("{topic}: no message within {TIMEOUT:?}"))??;
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                    .collect()
            })
            .unwrap_or_default();
        letters.push(DeadLetter {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers,
        });
    }
    letters.sort_by_key(|l| (l.partition, l.offset));
    Ok(letters)
}
