//! Kafka clients configured one way for every component.

use std::{sync::Arc, time::Duration};

use rdkafka::{
    admin::AdminClient, client::DefaultClientContext, config::ClientConfig, error::KafkaError,
    producer::FutureProducer,
};

use crate::config::Settings;

/// Base configuration: the brokers and a client id that names the process in broker logs.
pub fn client_config(settings: &Settings, client_id: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.kafka_brokers)
        .set("client.id", client_id);
    config
}

/// A producer that neither loses nor reorders what the broker acknowledged:
/// idempotent, `acks=all`, batching with a short linger.
pub fn producer(settings: &Settings, client_id: &str) -> Result<FutureProducer, KafkaError> {
    client_config(settings, client_id)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("compression.type", "lz4")
        .set("message.timeout.ms", "30000")
        .create()
}

/// An admin client, for topic management.
pub fn admin(
    settings: &Settings,
    client_id: &str,
) -> Result<AdminClient<DefaultClientContext>, KafkaError> {
    client_config(settings, client_id).create()
}

/// Asks the cluster for its metadata; answers `/readyz`.
#[derive(Clone)]
pub struct KafkaProbe {
    admin: Arc<AdminClient<DefaultClientContext>>,
}

impl KafkaProbe {
    /// A probe against the configured brokers.
    pub fn new(settings: &Settings) -> Result<Self, KafkaError> {
        Ok(Self {
            admin: Arc::new(admin(settings, "bazaar-readiness")?),
        })
    }

    /// Ok when a broker answered a metadata request within `timeout`.
    pub async fn check(&self, timeout: Duration) -> Result<(), String> {
        let admin = self.admin.clone();
        // librdkafka's metadata call blocks its thread.
        tokio::task::spawn_blocking(move || admin.inner().fetch_metadata(None, timeout))
            .await
            .map_err(|err| err.to_string())?
            .map(|_| ())
            .map_err(|err| err.to_string())
    }
}
