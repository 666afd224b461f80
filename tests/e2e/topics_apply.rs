//! `bazaar topics apply` against the real broker.

use std::time::Duration;

use crate::support::{bazaar, run_ok, TempFile};
use bazaar_platform::{kafka, Settings};
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use uuid::Uuid;

fn topics_file(domain: &str) -> TempFile {
    let text = format!(
        r#"
[defaults]
partitions = 2
replication_factor = 1
retention_ms = -1
cleanup_policy = "delete"
dlq_partitions = 1
dlq_retention_ms = 86400000

[[topic]]
name = "{domain}.events.v1"
key = "thing id"
events = ["{domain}.thing.done"]
"#
    );
    TempFile::with(&format!("{domain}.toml"), &text)
}

async fn delete(topics: &[&str]) {
    let admin = kafka::admin(&Settings::from_env().unwrap(), "test-admin").unwrap();
    let _ = admin.delete_topics(topics, &AdminOptions::new()).await;
}

#[tokio::test]
async fn applying_twice_creates_once_then_reports_no_change() {
    let domain = format!("test_{}", Uuid::new_v4().simple());
    let file = topics_file(&domain);
    let apply = || run_ok(bazaar().args(["topics", "apply", "--file"]).arg(&file.0));

    let first = apply();
    assert!(first.contains(&format!("{domain}.events.v1")), "{first}");
    assert!(
        first
            .trim_end()
            .ends_with("2 created, 0 unchanged, 0 drifted"),
        "{first}"
    );

    let second = apply();
    assert!(
        second
            .trim_end()
            .ends_with("0 created, 2 unchanged, 0 drifted"),
        "{second}"
    );

    delete(&[
        &format!("{domain}.events.v1"),
        &format!("{domain}.events.v1.dlq"),
    ])
    .await;
}

#[tokio::test]
async fn a_topic_that_drifted_is_reported_and_left_alone() {
    let domain = format!("test_{}", Uuid::new_v4().simple());
    let topic = format!("{domain}.events.v1");
    let admin = kafka::admin(&Settings::from_env().unwrap(), "test-admin").unwrap();
    // Someone created it by hand with other settings.
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, 5, TopicReplication::Fixed(1)).set("retention.ms", "3600000")],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .unwrap();
    assert!(created[0].is_ok());
    let file = topics_file(&domain);

    let output = run_ok(bazaar().args(["topics", "apply", "--file"]).arg(&file.0));
    let line = output
        .lines()
        .find(|l| l.starts_with(&format!("{topic} ")))
        .unwrap();
    assert!(line.contains("DRIFT"), "{output}");
    assert!(line.contains("partitions=5 (expected 2)"), "{line}");
    assert!(
        line.contains("retention.ms=3600000 (expected -1)"),
        "{line}"
    );
    assert!(
        output
            .trim_end()
            .ends_with("1 created, 0 unchanged, 1 drifted"),
        "{output}"
    );

    let metadata = admin
        .inner()
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        metadata.topics()[0].partitions().len(),
        5,
        "apply must not change it"
    );

    delete(&[&topic, &format!("{topic}.dlq")]).await;
}

#[test]
fn an_invalid_topics_file_is_an_error_naming_file_line_and_field() {
    let domain = format!("test_{}", Uuid::new_v4().simple());
    let file = TempFile::with(
        &format!("{domain}-bad.toml"),
        "[defaults]\npartitions = 0\nreplication_factor = 1\nretention_ms = -1\n\
         cleanup_policy = \"delete\"\ndlq_partitions = 1\ndlq_retention_ms = 1\n\
         [[topic]]\nname = \"sales.events.v1\"\nkey = \"x\"\nevents = []\n",
    );
    let output = bazaar()
        .args(["topics", "apply", "--file"])
        .arg(&file.0)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:2: field defaults.partitions: must be at least 1",
            file.0.display()
        )),
        "{stderr}"
    );
}
