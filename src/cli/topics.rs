//! `bazaar topics apply`: makes the Kafka cluster hold every topic of `topics/topics.toml`.
//!
//! Missing topics (and their dead-letter topics) are created; existing topics whose
//! partitions or settings differ are reported, never changed: shrinking partitions is
//! impossible and growing them reshuffles keys, so that is a deliberate operator act.

use std::{collections::BTreeMap, fmt, path::Path, time::Duration};

use anyhow::{bail, Context};
use bazaar_platform::{kafka, Settings};
use rdkafka::{
    admin::{AdminOptions, NewTopic, ResourceSpecifier, TopicReplication},
    types::RDKafkaErrorCode,
};
use serde::Deserialize;
use toml::Spanned;

const TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicsFile {
    defaults: Defaults,
    #[serde(rename = "topic")]
    topics: Vec<TopicEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    partitions: Spanned<i32>,
    replication_factor: Spanned<i32>,
    retention_ms: i64,
    cleanup_policy: CleanupPolicy,
    dlq_partitions: Spanned<i32>,
    dlq_retention_ms: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicEntry {
    name: Spanned<String>,
    partitions: Option<Spanned<i32>>,
    retention_ms: Option<i64>,
    cleanup_policy: Option<CleanupPolicy>,
    /// What the message key is; documentation for producers and integrators.
    #[allow(dead_code)]
    key: String,
    events: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum CleanupPolicy {
    Delete,
    Compact,
}

impl CleanupPolicy {
    fn as_str(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
        }
    }
}

/// One topic as the cluster should have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicSpec {
    pub(crate) name: String,
    pub(crate) partitions: i32,
    pub(crate) replication_factor: i32,
    pub(crate) config: BTreeMap<&'static str, String>,
    /// Event types carried; empty for dead-letter topics.
    pub(crate) events: Vec<String>,
}

/// Reads and validates a topics file; errors name the file, the line and the field.
pub(crate) fn load(path: &Path) -> anyhow::Result<Vec<TopicSpec>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    parse(&text).map_err(|err| anyhow::anyhow!("{}:{err}", path.display()))
}

fn parse(text: &str) -> Result<Vec<TopicSpec>, String> {
    let file: TopicsFile = toml::from_str(text).map_err(|err| {
        let line = err
            .span()
            .map(|span| line_of(text, span.start))
            .unwrap_or(0);
        format!("{line}: {}", err.message())
    })?;
    let at = |span: std::ops::Range<usize>| line_of(text, span.start);
    let d = &file.defaults;
    for (field, value) in [
        ("defaults.partitions", &d.partitions),
        ("defaults.replication_factor", &d.replication_factor),
        ("defaults.dlq_partitions", &d.dlq_partitions),
    ] {
        if *value.get_ref() < 1 {
            return Err(format!(
                "{}: field {field}: must be at least 1",
                at(value.span())
            ));
        }
    }
    let mut specs = Vec::new();
    let mut seen_events = BTreeMap::new();
    for topic in &file.topics {
        let name = topic.name.get_ref();
        let line = at(topic.name.span());
        let Some(domain) = topic_domain(name) else {
            return Err(format!(
                "{line}: topic {name:?}: field name: must be <domain>.events.v<major>, e.g. sales.events.v1"
            ));
        };
        if specs.iter().any(|s: &TopicSpec| &s.name == name) {
            return Err(format!("{line}: topic {name:?}: field name: listed twice"));
        }
        let partitions = topic.partitions.as_ref().unwrap_or(&d.partitions);
        if *partitions.get_ref() < 1 {
            return Err(format!(
                "{}: topic {name:?}: field partitions: must be at least 1",
                at(partitions.span())
            ));
        }
        let mut events = Vec::new();
        for event in &topic.events {
            let event_line = at(event.span());
            let event = event.get_ref();
            let name_part = event
                .strip_prefix(domain)
                .and_then(|rest| rest.strip_prefix('.'));
            if !name_part.is_some_and(|rest| rest.split('.').all(|s| !s.is_empty())) {
                return Err(format!(
                    "{event_line}: topic {name:?}: field events: {event:?} must start with \"{domain}.\""
                ));
            }
            if let Some(other) = seen_events.insert(event.clone(), name.clone()) {
                return Err(format!(
                    "{event_line}: topic {name:?}: field events: {event:?} is already carried by {other:?}"
                ));
            }
            events.push(event.clone());
        }
        let policy = topic.cleanup_policy.unwrap_or(d.cleanup_policy);
        specs.push(TopicSpec {
            name: name.clone(),
            partitions: *partitions.get_ref(),
            replication_factor: *d.replication_factor.get_ref(),
            config: BTreeMap::from([
                (
                    "retention.ms",
                    topic.retention_ms.unwrap_or(d.retention_ms).to_string(),
                ),
                ("cleanup.policy", policy.as_str().to_owned()),
            ]),
            events,
        });
        specs.push(TopicSpec {
            name: format!("{name}.dlq"),
            partitions: *d.dlq_partitions.get_ref(),
            replication_factor: *d.replication_factor.get_ref(),
            config: BTreeMap::from([
                ("retention.ms", d.dlq_retention_ms.to_string()),
                ("cleanup.policy", "delete".to_owned()),
            ]),
            events: Vec::new(),
        });
    }
    Ok(specs)
}

/// `sales.events.v1` -> `sales`.
fn topic_domain(name: &str) -> Option<&str> {
    let (domain, version) = name.split_once(".events.v")?;
    let valid_domain = !domain.is_empty()
        && domain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let valid_version = !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit());
    (valid_domain && valid_version).then_some(domain)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// What `apply` did to one topic.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Created,
    Unchanged,
    /// Exists with other settings: each entry is `(setting, actual, expected)`.
    Drifted(Vec<(String, String, String)>),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Created => f.write_str("created"),
            Outcome::Unchanged => f.write_str("unchanged"),
            Outcome::Drifted(diffs) => {
                f.write_str("DRIFT")?;
                for (setting, actual, expected) in diffs {
                    write!(f, " {setting}={actual} (expected {expected})")?;
                }
                Ok(())
            }
        }
    }
}

/// Creates what is missing and compares what exists.
pub(crate) async fn apply(
    settings: &Settings,
    specs: &[TopicSpec],
) -> anyhow::Result<Vec<(String, Outcome)>> {
    let admin = kafka::admin(settings, "bazaar-topics")?;
    let options = AdminOptions::new()
        .operation_timeout(Some(TIMEOUT))
        .request_timeout(Some(TIMEOUT));

    let existing = {
        let metadata = tokio::task::block_in_place(|| admin.inner().fetch_metadata(None, TIMEOUT))
            .context("cannot read the cluster's topics")?;
        metadata
            .topics()
            .iter()
            .map(|t| {
                let replicas = t
                    .partitions()
                    .first()
                    .map_or(0, |p| p.replicas().len() as i32);
                (t.name().to_owned(), (t.partitions().len() as i32, replicas))
            })
            .collect::<BTreeMap<_, _>>()
    };

    let missing: Vec<&TopicSpec> = specs
        .iter()
        .filter(|s| !existing.contains_key(&s.name))
        .collect();
    let new_topics: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|spec| {
            spec.config.iter().fold(
                NewTopic::new(
                    &spec.name,
                    spec.partitions,
                    TopicReplication::Fixed(spec.replication_factor),
                ),
                |topic, (key, value)| topic.set(key, value),
            )
        })
        .collect();
    let mut outcomes = BTreeMap::new();
    if !new_topics.is_empty() {
        for result in admin.create_topics(&new_topics, &options).await? {
            match result {
                Ok(name) => {
                    outcomes.insert(name, Outcome::Created);
                }
                // Another `apply` created it meanwhile; compare it like any existing one.
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => bail!("cannot create topic {name}: {code}"),
            }
        }
    }

    let to_compare: Vec<&TopicSpec> = specs
        .iter()
        .filter(|s| !outcomes.contains_key(&s.name))
        .collect();
    if !to_compare.is_empty() {
        let resources: Vec<ResourceSpecifier<'_>> = to_compare
            .iter()
            .map(|s| ResourceSpecifier::Topic(&s.name))
            .collect();
        let described = admin.describe_configs(&resources, &options).await?;
        for (spec, result) in to_compare.iter().zip(described) {
            let resource = result
                .map_err(|code| anyhow::anyhow!("cannot describe topic {}: {code}", spec.name))?;
            let mut diffs = Vec::new();
            if let Some(&(partitions, replicas)) = existing.get(&spec.name) {
                if partitions != spec.partitions {
                    diffs.push((
                        "partitions".into(),
                        partitions.to_string(),
                        spec.partitions.to_string(),
                    ));
                }
                if replicas != spec.replication_factor {
                    diffs.push((
                        "replication_factor".into(),
                        replicas.to_string(),
                        spec.replication_factor.to_string(),
                    ));
                }
            }
            for (key, expected) in &spec.config {
                let actual = resource
                    .get(key)
                    .and_then(|e| e.value.clone())
                    .unwrap_or_default();
                if &actual != expected {
                    diffs.push((key.to_string(), actual, expected.clone()));
                }
            }
            let outcome = if diffs.is_empty() {
                Outcome::Unchanged
            } else {
                Outcome::Drifted(diffs)
            };
            outcomes.insert(spec.name.clone(), outcome);
        }
    }
    Ok(specs
        .iter()
        .filter_map(|s| outcomes.remove_entry(&s.name))
        .collect())
}

/// `bazaar topics ...`.
#[derive(clap::Subcommand)]
pub(crate) enum TopicsCommand {
    /// Create missing topics and report (without changing) topics that drifted.
    Apply {
        /// The topics file.
        #[arg(long, default_value = "topics/topics.toml")]
        file: std::path::PathBuf,
        /// Overrides the file's replication factor (e.g. 3 on a production cluster).
        #[arg(long)]
        replication_factor: Option<i32>,
    },
}

/// `bazaar topics apply`.
pub(super) async fn run(
    settings: &Settings,
    file: &std::path::Path,
    replication_factor: Option<i32>,
) -> anyhow::Result<()> {
    let mut specs = load(file)?;
    if let Some(factor) = replication_factor {
        anyhow::ensure!(factor >= 1, "--replication-factor must be at least 1");
        specs.iter_mut().for_each(|s| s.replication_factor = factor);
    }
    let outcomes = apply(settings, &specs).await?;
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
    for (name, outcome) in &outcomes {
        out!("{name:<32} {outcome}");
    }
    out!(
        "{} created, {} unchanged, {} drifted",
        count(|o| matches!(o, Outcome::Created)),
        count(|o| matches!(o, Outcome::Unchanged)),
        count(|o| matches!(o, Outcome::Drifted(_))),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "[defaults]\npartitions = 3\nreplication_factor = 1\nretention_ms = -1\n\
                          cleanup_policy = \"delete\"\ndlq_partitions = 1\ndlq_retention_ms = 1000\n";

    #[test]
    fn the_repository_topics_file_is_valid_and_carries_every_schema() {
        let specs = load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/topics/topics.toml"
        )))
        .unwrap();
        assert!(specs.iter().any(|s| s.name == "sales.events.v1"));
        assert!(specs.iter().any(|s| s.name == "sales.events.v1.dlq"));
        for schema in bazaar_schemas::Catalogue::embedded().iter() {
            assert!(
                specs.iter().any(|s| s.events.contains(&schema.event_type)),
                "{} has a schema but no topic lists it",
                schema.event_type
            );
        }
    }

    #[test]
    fn an_unknown_field_names_its_line() {
        let text = format!("{HEADER}[[topic]]\nname = \"sales.events.v1\"\npartitons = 6\nkey = \"x\"\nevents = []\n");
        let err = parse(&text).unwrap_err();
        assert!(err.starts_with("10: unknown field `partitons`"), "{err}");
    }

    #[test]
    fn a_bad_topic_name_names_its_line_and_field() {
        let text =
            format!("{HEADER}[[topic]]\nname = \"sales-events\"\nkey = \"x\"\nevents = []\n");
        let err = parse(&text).unwrap_err();
        assert!(
            err.starts_with("9: topic \"sales-events\": field name:"),
            "{err}"
        );
    }

    #[test]
    fn an_event_of_another_domain_is_refused() {
        let text = format!(
            "{HEADER}[[topic]]\nname = \"sales.events.v1\"\nkey = \"x\"\nevents = [\n  \"catalog.product.created\",\n]\n"
        );
        let err = parse(&text).unwrap_err();
        assert!(
            err.starts_with("12: topic \"sales.events.v1\": field events:"),
            "{err}"
        );
    }

    #[test]
    fn zero_partitions_are_refused() {
        let text = format!("{HEADER}[[topic]]\nname = \"sales.events.v1\"\npartitions = 0\nkey = \"x\"\nevents = []\n");
        let err = parse(&text).unwrap_err();
        assert!(
            err.starts_with("10: topic \"sales.events.v1\": field partitions"),
            "{err}"
        );
    }

    #[test]
    fn every_topic_gets_a_dead_letter_topic() {
        let text = format!("{HEADER}[[topic]]\nname = \"sales.events.v1\"\nkey = \"x\"\nevents = [\"sales.invoice.issued\"]\n");
        let specs = parse(&text).unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[1].name, "sales.events.v1.dlq");
        assert_eq!(specs[1].partitions, 1);
        assert_eq!(specs[1].config["retention.ms"], "1000");
    }
}
