//! `/readyz`: the process can do its work only when its databases and Kafka answer.

use std::time::Duration;

use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::kafka::KafkaProbe;

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// What `/readyz` checks. Cheap to clone.
#[derive(Clone, Default)]
pub struct Readiness {
    databases: Vec<(String, PgPool)>,
    kafka: Option<KafkaProbe>,
}

/// The result of every readiness check.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessReport {
    /// True when every check passed.
    pub ready: bool,
    /// One entry per dependency.
    pub checks: Vec<ReadinessCheck>,
}

/// One dependency's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessCheck {
    /// `database:<name>` or `kafka`.
    pub name: String,
    /// Why it failed; absent when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Readiness {
    /// Nothing to check yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also require `pool` to answer.
    pub fn database(mut self, name: impl Into<String>, pool: PgPool) -> Self {
        self.databases.push((name.into(), pool));
        self
    }

    /// Also require the Kafka cluster to answer.
    pub fn kafka(mut self, probe: KafkaProbe) -> Self {
        self.kafka = Some(probe);
        self
    }

    /// Runs every check concurrently, each bounded by a timeout.
    pub async fn check(&self) -> ReadinessReport {
        let databases = self.databases.iter().map(|(name, pool)| async move {
            let result = tokio::time::timeout(
                CHECK_TIMEOUT,
                sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(pool),
            )
            .await;
            let error = match result {
                Ok(Ok(_)) => None,
                Ok(Err(err)) => Some(err.to_string()),
                Err(_) => Some(format!("no answer within {CHECK_TIMEOUT:?}")),
            };
            ReadinessCheck {
                name: format!("database:{name}"),
                error,
            }
        });
        let mut checks = futures::future::join_all(databases).await;
        if let Some(kafka) = &self.kafka {
            checks.push(ReadinessCheck {
                name: "kafka".to_owned(),
                error: kafka.check(CHECK_TIMEOUT).await.err(),
            });
        }
        ReadinessReport {
            ready: checks.iter().all(|c| c.error.is_none()),
            checks,
        }
    }
}
