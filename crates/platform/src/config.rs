//! Configuration from environment variables.
//!
//! Every variable has a default that matches the local infrastructure started by
//! `./dev infra up`, so a developer sets nothing. A malformed value stops the process at
//! start-up with an error naming the variable and what it expects.

use std::{net::SocketAddr, str::FromStr, time::Duration};

use sqlx::postgres::PgConnectOptions;

/// A configuration value that cannot be used; names the variable and what it expects.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A variable without a default is not set.
    #[error("{variable} is not set; expected {expected}")]
    Missing {
        variable: &'static str,
        expected: &'static str,
    },
    /// A variable is set to a value that cannot be parsed.
    #[error("{variable}={value:?} is invalid; expected {expected}")]
    Invalid {
        variable: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for collectors.
    Json,
    /// Human-readable lines, for a terminal.
    Pretty,
}

/// Settings every Bazaar process reads at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// PostgreSQL server as the role that owns the tables: migrations, the relay and
    /// projections connect with it. Each service uses its own database on the server.
    pub database: PgConnectOptions,
    /// The same server as the role request handlers connect with: it owns nothing, so
    /// row-level security applies to it.
    pub app_database: PgConnectOptions,
    /// Connections per service pool.
    pub db_max_connections: u32,
    /// Kafka bootstrap servers, comma separated.
    pub kafka_brokers: String,
    /// ClickHouse HTTP endpoint.
    pub clickhouse_url: String,
    /// The ClickHouse database analytics writes and the dashboards read.
    pub clickhouse_database: String,
    /// Address the HTTP server listens on.
    pub http_addr: SocketAddr,
    /// How long the HTTP server waits on a client, for how many, and whose
    /// `X-Forwarded-For` it believes.
    pub http_server: crate::http::ServerOptions,
    /// `tracing` filter directives, e.g. `info,sqlx=warn`.
    pub log_filter: String,
    /// Log line format.
    pub log_format: LogFormat,
    /// OTLP/gRPC collector; traces are exported only when set.
    pub otlp_endpoint: Option<String>,
    /// How long in-flight work may take to finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// Outbox rows the relay reads and publishes per pass.
    pub relay_batch_size: i64,
    /// How long a relay's lease lasts without renewal; a standby takes over after it.
    pub relay_lease: Duration,
    /// How often an idle relay polls when no NOTIFY arrives.
    pub relay_poll: Duration,
    /// How long a relay woken by a NOTIFY waits for more commits before its pass.
    pub relay_linger: Duration,
    /// `iss` of access tokens: identity writes it, every service checks it.
    pub token_issuer: String,
    /// `aud` of access tokens.
    pub token_audience: String,
    /// Where services fetch identity's token signing keys.
    pub jwks_url: String,
    /// Inventory's API, for the answers sales cannot wait for (stock reservations).
    pub inventory_url: String,
    /// Partners' API, for credit checks at the till.
    pub partners_url: String,
    /// The topics the live POS feed follows for invoices and low-stock alerts.
    pub pos_live_topics: Vec<String>,
}

/// Every variable, its default and what it expects: the README's configuration table
/// is generated from the same facts, and `bazaar config` prints them.
pub const VARIABLES: &[(&str, Option<&str>, &str)] = &[
    (
        "BAZAAR_DATABASE_URL",
        Some("postgres://bazaar:bazaar@127.0.0.1:54320"),
        "a postgres:// URL of the server; the database name is chosen per service",
    ),
    (
        "BAZAAR_APP_DATABASE_URL",
        Some("postgres://bazaar_app:bazaar_app@127.0.0.1:54320"),
        "a postgres:// URL for request handlers: a role that owns no table (row-level security applies)",
    ),
    (
        "BAZAAR_DB_MAX_CONNECTIONS",
        Some("10"),
        "connections per service pool, 1 to 1000",
    ),
    (
        "BAZAAR_KAFKA_BROKERS",
        Some("127.0.0.1:9092"),
        "comma-separated host:port list",
    ),
    (
        "BAZAAR_CLICKHOUSE_URL",
        Some("http://127.0.0.1:8123"),
        "an http:// or https:// URL",
    ),
    (
        "BAZAAR_CLICKHOUSE_DATABASE",
        Some("bazaar"),
        "letters, digits and _, not starting with a digit",
    ),
    (
        "BAZAAR_HTTP_ADDR",
        Some("127.0.0.1:8080"),
        "a socket address such as 0.0.0.0:8080",
    ),
    (
        "BAZAAR_HTTP_HEADER_TIMEOUT_MS",
        Some("15000"),
        "milliseconds a client may take to send a request's head, or to start its next request on a kept-alive connection, 100 to 600000",
    ),
    (
        "BAZAAR_HTTP_BODY_TIMEOUT_MS",
        Some("30000"),
        "milliseconds a client may take to send a request's body, 100 to 600000",
    ),
    (
        "BAZAAR_HTTP_MAX_CONNECTIONS",
        Some("1000"),
        "HTTP connections served at once (more wait to be accepted), 1 to 100000",
    ),
    (
        "BAZAAR_TRUSTED_PROXIES",
        None,
        "comma-separated addresses or networks (10.0.0.0/8) of load balancers whose X-Forwarded-For names the client (unset: none)",
    ),
    (
        "BAZAAR_LOG",
        Some("info"),
        "tracing filter directives such as info,sqlx=warn",
    ),
    ("BAZAAR_LOG_FORMAT", Some("json"), "json or pretty"),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        None,
        "an http:// URL of an OTLP/gRPC collector (unset: no export)",
    ),
    (
        "BAZAAR_SHUTDOWN_GRACE_SECS",
        Some("30"),
        "whole seconds, 1 to 3600",
    ),
    (
        "BAZAAR_RELAY_BATCH_SIZE",
        Some("5000"),
        "outbox rows per relay pass, 1 to 100000",
    ),
    (
        "BAZAAR_RELAY_LEASE_MS",
        Some("10000"),
        "relay lease in milliseconds, 500 to 600000",
    ),
    (
        "BAZAAR_RELAY_POLL_MS",
        Some("500"),
        "idle relay poll interval in milliseconds, 10 to 60000",
    ),
    (
        "BAZAAR_RELAY_LINGER_MS",
        Some("5"),
        "relay wait after a NOTIFY in milliseconds, 0 to 1000",
    ),
    (
        "BAZAAR_TOKEN_ISSUER",
        Some("bazaar-identity"),
        "the iss of access tokens, the same in every service",
    ),
    (
        "BAZAAR_TOKEN_AUDIENCE",
        Some("bazaar"),
        "the aud of access tokens, the same in every service",
    ),
    (
        "BAZAAR_JWKS_URL",
        None,
        "an http:// URL of identity's /.well-known/jwks.json (unset: this process's own BAZAAR_HTTP_ADDR)",
    ),
    (
        "BAZAAR_INVENTORY_URL",
        None,
        "an http:// URL of inventory's API, which sales calls to reserve stock (unset: this process's own BAZAAR_HTTP_ADDR)",
    ),
    (
        "BAZAAR_PARTNERS_URL",
        None,
        "an http:// URL of partners' API, which sales calls for credit checks (unset: this process's own BAZAAR_HTTP_ADDR)",
    ),
    (
        "BAZAAR_POS_LIVE_TOPICS",
        Some("sales.events.v1,inventory.events.v1"),
        "comma-separated topics the live POS WebSocket follows for invoices and low-stock alerts",
    ),
];

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Names this process's database connections, so `pg_stat_activity` (and the
    /// server's log) tell the services, the relay and each consumer apart.
    pub fn connecting_as(mut self, name: &str) -> Self {
        self.database = self.database.application_name(name);
        self.app_database = self.app_database.application_name(name);
        self
    }

    /// Plans each prepared statement once, for processes whose statements are all of
    /// fixed shape (the consumers, the relay). PostgreSQL otherwise re-plans their
    /// array and row-security statements at every execution: a quarter of their
    /// database CPU (`bazaar bench pos`). Not for the services, whose optional list
    /// filters (`$2 IS NULL OR phone = $2`) need a plan per value to use their indexes.
    pub fn planning_once(mut self) -> Self {
        let generic = [("plan_cache_mode", "force_generic_plan")];
        self.database = self.database.options(generic);
        self.app_database = self.app_database.options(generic);
        self
    }

    /// Reads variables through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(&lookup);
        let postgres_url = |v: &str| {
            (v.starts_with("postgres://") || v.starts_with("postgresql://"))
                .then(|| PgConnectOptions::from_str(v).ok())
                .flatten()
        };
        let http_addr: SocketAddr = vars.parse("BAZAAR_HTTP_ADDR", |v| v.parse().ok())?;
        Ok(Self {
            database: vars.parse("BAZAAR_DATABASE_URL", postgres_url)?,
            app_database: vars.parse("BAZAAR_APP_DATABASE_URL", postgres_url)?,
            db_max_connections: vars.parse("BAZAAR_DB_MAX_CONNECTIONS", |v| {
                v.parse().ok().filter(|n| (1..=1000).contains(n))
            })?,
            kafka_brokers: vars.parse("BAZAAR_KAFKA_BROKERS", |v| {
                v.split(',')
                    .all(|broker| match broker.trim().rsplit_once(':') {
                        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
                        None => false,
                    })
                    .then(|| v.to_owned())
            })?,
            clickhouse_url: vars.parse("BAZAAR_CLICKHOUSE_URL", http_url)?,
            clickhouse_database: vars.parse("BAZAAR_CLICKHOUSE_DATABASE", |v| {
                crate::clickhouse::database_name(v).map(str::to_owned)
            })?,
            http_addr,
            http_server: crate::http::ServerOptions {
                limits: crate::http::HttpLimits {
                    header_timeout: vars.parse("BAZAAR_HTTP_HEADER_TIMEOUT_MS", |v| {
                        millis(v, 100..=600_000)
                    })?,
                    body_timeout: vars
                        .parse("BAZAAR_HTTP_BODY_TIMEOUT_MS", |v| millis(v, 100..=600_000))?,
                    max_connections: vars.parse("BAZAAR_HTTP_MAX_CONNECTIONS", |v| {
                        v.parse().ok().filter(|n| (1..=100_000).contains(n))
                    })?,
                },
                trusted_proxies: vars
                    .optional("BAZAAR_TRUSTED_PROXIES", crate::http::TrustedProxies::parse)?
                    .unwrap_or_default(),
            },
            log_filter: vars.parse("BAZAAR_LOG", |v| {
                tracing_subscriber::EnvFilter::try_new(v)
                    .ok()
                    .map(|_| v.to_owned())
            })?,
            log_format: vars.parse("BAZAAR_LOG_FORMAT", |v| match v {
                "json" => Some(LogFormat::Json),
                "pretty" => Some(LogFormat::Pretty),
                _ => None,
            })?,
            otlp_endpoint: vars.optional("OTEL_EXPORTER_OTLP_ENDPOINT", http_url)?,
            shutdown_grace: vars.parse("BAZAAR_SHUTDOWN_GRACE_SECS", |v| {
                v.parse()
                    .ok()
                    .filter(|n| (1..=3600).contains(n))
                    .map(Duration::from_secs)
            })?,
            relay_batch_size: vars.parse("BAZAAR_RELAY_BATCH_SIZE", |v| {
                v.parse().ok().filter(|n| (1..=100_000).contains(n))
            })?,
            relay_lease: vars.parse("BAZAAR_RELAY_LEASE_MS", |v| millis(v, 500..=600_000))?,
            relay_poll: vars.parse("BAZAAR_RELAY_POLL_MS", |v| millis(v, 10..=60_000))?,
            relay_linger: vars.parse("BAZAAR_RELAY_LINGER_MS", |v| millis(v, 0..=1000))?,
            token_issuer: vars.parse("BAZAAR_TOKEN_ISSUER", non_blank)?,
            token_audience: vars.parse("BAZAAR_TOKEN_AUDIENCE", non_blank)?,
            jwks_url: vars
                .optional("BAZAAR_JWKS_URL", http_url)?
                .unwrap_or_else(|| format!("{}/.well-known/jwks.json", own_url(http_addr))),
            inventory_url: vars
                .optional("BAZAAR_INVENTORY_URL", http_url)?
                .unwrap_or_else(|| own_url(http_addr)),
            partners_url: vars
                .optional("BAZAAR_PARTNERS_URL", http_url)?
                .unwrap_or_else(|| own_url(http_addr)),
            pos_live_topics: vars.parse("BAZAAR_POS_LIVE_TOPICS", |v| {
                let topics: Vec<String> = v.split(',').map(|t| t.trim().to_owned()).collect();
                topics.iter().all(|t| !t.is_empty()).then_some(topics)
            })?,
        })
    }

    /// The settings of the local infrastructure, ignoring the environment.
    pub fn local_defaults() -> Self {
        Self::from_lookup(|_| None).expect("the documented defaults parse")
    }

    /// Connection options for one service's database on the configured server.
    pub fn database_for(&self, database: &str) -> PgConnectOptions {
        self.database.clone().database(database)
    }

    /// The same database, as the role request handlers use.
    pub fn app_database_for(&self, database: &str) -> PgConnectOptions {
        self.app_database.clone().database(database)
    }
}

/// This process's own API: `serve --all` verifies the tokens it signs itself and calls
/// its own services; on loopback when it listens on every interface.
fn own_url(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        ip if ip.is_ipv6() => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}", addr.port())
}

fn non_blank(v: &str) -> Option<String> {
    (!v.trim().is_empty()).then(|| v.to_owned())
}

fn millis(v: &str, range: std::ops::RangeInclusive<u64>) -> Option<Duration> {
    v.parse()
        .ok()
        .filter(|n| range.contains(n))
        .map(Duration::from_millis)
}

fn http_url(v: &str) -> Option<String> {
    let rest = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"))?;
    (!rest.is_empty() && !rest.contains(char::is_whitespace)).then(|| v.to_owned())
}

struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    fn spec(name: &str) -> (&'static str, Option<&'static str>, &'static str) {
        *VARIABLES
            .iter()
            .find(|(variable, _, _)| *variable == name)
            .expect("every variable read is listed in VARIABLES")
    }

    fn optional<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        let (variable, default, expected) = Self::spec(name);
        let Some(value) = (self.0)(variable)
            .filter(|v| !v.is_empty())
            .or(default.map(str::to_owned))
        else {
            return Ok(None);
        };
        parse(value.trim()).map(Some).ok_or(ConfigError::Invalid {
            variable,
            value,
            expected,
        })
    }

    fn parse<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, ConfigError> {
        let (variable, _, expected) = Self::spec(name);
        self.optional(name, parse)?
            .ok_or(ConfigError::Missing { variable, expected })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_match_the_local_infrastructure() {
        let settings = with(&[]).unwrap();
        assert_eq!(settings.kafka_brokers, "127.0.0.1:9092");
        assert_eq!(settings.database.get_port(), 54320);
        assert_eq!(settings.http_addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(settings.log_format, LogFormat::Json);
        assert_eq!(settings.otlp_endpoint, None);
        assert_eq!(
            settings.database_for("catalog").get_database(),
            Some("catalog")
        );
    }

    #[test]
    fn malformed_number_names_the_variable_and_the_expectation() {
        let err = with(&[("BAZAAR_DB_MAX_CONNECTIONS", "lots")]).unwrap_err();
        assert_eq!(
            err,
            ConfigError::Invalid {
                variable: "BAZAAR_DB_MAX_CONNECTIONS",
                value: "lots".into(),
                expected: "connections per service pool, 1 to 1000",
            }
        );
        assert!(err
            .to_string()
            .starts_with("BAZAAR_DB_MAX_CONNECTIONS=\"lots\" is invalid"));
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        for (variable, value) in [
            ("BAZAAR_DB_MAX_CONNECTIONS", "0"),
            ("BAZAAR_SHUTDOWN_GRACE_SECS", "-1"),
            ("BAZAAR_HTTP_ADDR", "localhost"),
            ("BAZAAR_KAFKA_BROKERS", "127.0.0.1"),
            ("BAZAAR_KAFKA_BROKERS", "a:1,:2"),
            ("BAZAAR_DATABASE_URL", "mysql://x@y/z"),
            ("BAZAAR_CLICKHOUSE_URL", "127.0.0.1:8123"),
            ("BAZAAR_LOG_FORMAT", "xml"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
        ] {
            match with(&[(variable, value)]) {
                Err(ConfigError::Invalid {
                    variable: named, ..
                }) => assert_eq!(named, variable),
                other => panic!("{variable}={value} gave {other:?}"),
            }
        }
    }

    #[test]
    fn otlp_export_is_enabled_only_when_the_endpoint_is_set() {
        let settings = with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")]).unwrap();
        assert_eq!(
            settings.otlp_endpoint.as_deref(),
            Some("http://127.0.0.1:4317")
        );
    }

    #[test]
    fn services_verify_tokens_against_their_own_jwks_unless_told_otherwise() {
        let settings = with(&[("BAZAAR_HTTP_ADDR", "0.0.0.0:9000")]).unwrap();
        assert_eq!(
            settings.jwks_url,
            "http://127.0.0.1:9000/.well-known/jwks.json"
        );
        let settings = with(&[(
            "BAZAAR_JWKS_URL",
            "http://identity:8080/.well-known/jwks.json",
        )])
        .unwrap();
        assert_eq!(
            settings.jwks_url,
            "http://identity:8080/.well-known/jwks.json"
        );
        assert_eq!(settings.app_database.get_username(), "bazaar_app");
        let err = with(&[("BAZAAR_TOKEN_ISSUER", "  ")]).unwrap_err();
        assert!(err.to_string().starts_with("BAZAAR_TOKEN_ISSUER="), "{err}");
    }

    #[test]
    fn an_empty_variable_counts_as_unset() {
        let settings = with(&[("BAZAAR_KAFKA_BROKERS", "")]).unwrap();
        assert_eq!(settings.kafka_brokers, "127.0.0.1:9092");
    }
}
